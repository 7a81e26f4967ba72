-- 0044: invitation links (`auth.registration = "invite"`, POST /api/invitations).
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- An invitation is a random token (secrets.token_urlsafe, 192 bits) given out as a link; the
-- server keeps only its SHA-256 (`hash`), as it keeps bot tokens: the token is a password
-- equivalent (it makes an account), so a copy of the database or a backup must not hold one
-- that works; a random 192-bit secret needs no salt or key stretching.
--
-- `uses` counts the registrations made with it, at most `max_uses` (the CHECK is the last
-- word: the registration's UPDATE takes a use only while uses < max_uses, under the row's
-- lock, so two registrations racing for the last use never both get it). `creator_id` NULL:
-- made on the command line (`chatd invite create`), or its maker's account is gone.
CREATE TABLE invitations (
    id          bigserial   PRIMARY KEY,
    hash        bytea       NOT NULL UNIQUE,
    creator_id  bigint      REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    max_uses    integer     NOT NULL CHECK (max_uses > 0),
    uses        integer     NOT NULL DEFAULT 0 CHECK (uses >= 0 AND uses <= max_uses),
    revoked_at  timestamptz
);
-- A member's own invitations, newest first (GET /api/invitations for one who is no admin).
CREATE INDEX invitations_creator_idx ON invitations (creator_id, id);

-- The rooms a new account joins when it registers with the invitation. A room deleted since
-- drops out with its row.
CREATE TABLE invitation_rooms (
    invitation_id  bigint  NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    room_id        bigint  NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    PRIMARY KEY (invitation_id, room_id)
);
CREATE INDEX invitation_rooms_room_idx ON invitation_rooms (room_id);

-- Who registered with which invitation (listed to its maker and the administrators).
CREATE TABLE invitation_uses (
    invitation_id  bigint      NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    user_id        bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    used_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (invitation_id, user_id)
);
CREATE UNIQUE INDEX invitation_uses_user_key ON invitation_uses (user_id);
