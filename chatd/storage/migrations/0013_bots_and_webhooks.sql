-- 0013: bot accounts and their API tokens, incoming webhooks, and a room's outgoing webhook.
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.

-- A bot is a user that authenticates with API tokens only: log-in refuses it whatever its
-- password_hash holds (made '' for a bot, which verifies nothing). owner_id: the user who
-- made it and manages its tokens (NULL once that user is gone: then only an admin can).
ALTER TABLE users ADD COLUMN bot boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN owner_id bigint REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX users_owner_idx ON users (owner_id) WHERE owner_id IS NOT NULL;

-- A bot's long-lived API token. Only the SHA-256 of the token is kept (the token is a
-- 32-byte random secret: a hash without salt or stretching is enough, nothing can be
-- guessed), so a copy of the database authenticates nobody; the token itself is shown once,
-- when it is made. name: a label for people. last_used_at: to the minute (storage updates
-- it at most once a minute per token). revoked_at: set once, never cleared.
CREATE TABLE bot_tokens (
    id            bigserial   PRIMARY KEY,
    user_id       bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          text        NOT NULL,
    hash          bytea       NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX bot_tokens_user_idx ON bot_tokens (user_id);

-- A revoked bot token ends the sessions it opened on every node, as a log-out does: the
-- channel and payload of migration 0004 ('<application_name> jti <jti>'), with the jti
-- 'bot:<id>' that such a session carries.
CREATE FUNCTION chatd_notify_revoked_bot_token() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(
        'chatd_revocations',
        current_setting('application_name') || ' jti bot:' || NEW.id
    );
    RETURN NULL;
END
$$;

CREATE TRIGGER bot_tokens_notify_revoked
    AFTER UPDATE OF revoked_at ON bot_tokens
    FOR EACH ROW
    WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION chatd_notify_revoked_bot_token();

-- An incoming webhook: POST /api/hooks/<secret> posts into room_id as bot_id. Only the
-- SHA-256 of the secret is kept (it is the URL's last part, a 32-byte random secret, shown
-- once). creator_id: the member who made it (they, the room's owner and admins manage it).
CREATE TABLE hooks (
    id            bigserial   PRIMARY KEY,
    room_id       bigint      NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    bot_id        bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    creator_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash          bytea       NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz
);
CREATE INDEX hooks_room_idx ON hooks (room_id);

-- A room's outgoing webhook (at most one): its new messages are POSTed to url, signed with
-- HMAC-SHA256 under secret. The secret signs, so it is kept as it is (whoever reads the
-- database can forge deliveries to the room's receiver, not log in anywhere).
CREATE TABLE room_webhooks (
    room_id     bigint      PRIMARY KEY REFERENCES rooms (id) ON DELETE CASCADE,
    url         text        NOT NULL,
    secret      text        NOT NULL,
    set_by      bigint      REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
