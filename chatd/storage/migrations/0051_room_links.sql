-- 0051: join links to one room (chatd/actions/room_links.py), and reminders set for someone
-- else (chatd/actions/saved.py, `remind` with `user`).
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- A room link is a random token (secrets.token_urlsafe, 192 bits) given out as the page's
-- address with `#join=<token>`; the server keeps only its SHA-256 (`hash`), as it keeps
-- invitations' (migration 0044) and bot tokens: whoever holds the token enters the room,
-- private or not, so a copy of the database or a backup must not hold one that works. It
-- makes no account: it is for people who have one (docs/design.md says why).
--
-- `uses` counts the members it made, at most `max_uses` (the CHECK is the last word: a join
-- takes a use with an UPDATE ... WHERE uses < max_uses under the row's lock, so two joins
-- racing for the last use never both get it). A person who was already a member takes none.
-- `creator_id` NULL: its maker's account is gone (the link still works: revoke it to stop
-- it). A room deleted takes its links with it.
CREATE TABLE room_links (
    id          bigserial   PRIMARY KEY,
    hash        bytea       NOT NULL UNIQUE,
    room_id     bigint      NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    creator_id  bigint      REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    max_uses    integer     NOT NULL CHECK (max_uses > 0),
    uses        integer     NOT NULL DEFAULT 0 CHECK (uses >= 0 AND uses <= max_uses),
    revoked_at  timestamptz
);
-- A room's links, newest first (`room_links`).
CREATE INDEX room_links_room_idx ON room_links (room_id, id);

-- Who joined with which link (its maker and the room's moderators see the count; the audit
-- log has each join).
CREATE TABLE room_link_uses (
    link_id  bigint      NOT NULL REFERENCES room_links (id) ON DELETE CASCADE,
    user_id  bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    used_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (link_id, user_id)
);

-- A reminder set for someone else: the saved row is the reminded user's (theirs to change or
-- remove, reminded as their own), `set_by` who set it (NULL: they did, or the setter's
-- account is gone). The setter's list walks this index; a new nullable column rewrites no
-- row.
ALTER TABLE saved ADD COLUMN set_by bigint REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX saved_set_by_idx ON saved (set_by, msg_id) WHERE set_by IS NOT NULL;

-- Whether others may set reminders for the user (`set_remind_policy`); a constant default
-- rewrites no row.
ALTER TABLE users ADD COLUMN reminders_from_others boolean NOT NULL DEFAULT true;
