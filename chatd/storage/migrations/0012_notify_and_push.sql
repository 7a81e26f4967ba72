-- 0012: notification levels per membership, and the Web Push subscriptions of users.
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.

-- A member's notification level for the room: 'all' (every message), 'mentions' (mentions,
-- and every message of a 1:1 conversation), 'none'. NULL until the member sets one: the
-- default of the room's kind ('all' for a conversation, 'mentions' for a room,
-- chatd.protocol.default_notify). A column of the membership, so that listing a user's rooms
-- reads it with the row it reads anyway. Leaving a room forgets it with the membership.
ALTER TABLE memberships ADD COLUMN notify text CHECK (notify IN ('all', 'mentions', 'none'));

-- The members of a room who want every message pushed: found per message without walking
-- the room's other members (nearly all of them, at the default 'mentions').
CREATE INDEX memberships_notify_all_idx ON memberships (room_id) WHERE notify = 'all';

-- A browser's push subscription (the Push API's PushSubscription): where the browser's push
-- service takes pushes for it (endpoint, a capability URL, unique to that browser and
-- origin), and the keys a push is encrypted to (p256dh: an uncompressed P-256 point, auth: 16
-- bytes; both base64url, as the browser gives them). An endpoint belongs to one user at a
-- time: the last who subscribed with it (someone else logging in on the same browser takes it
-- over). created_at orders a user's subscriptions, to keep the newest few.
CREATE TABLE push_subscriptions (
    endpoint    text        PRIMARY KEY,
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    p256dh      text        NOT NULL,
    auth        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX push_subscriptions_user_idx ON push_subscriptions (user_id, created_at);

-- A level set on one node reaches the user's connections on every node: channel
-- 'chatd_levels', payload '<application_name> <room> <level> <user>' (the name goes last: the
-- rest of the payload). Only when the level changes.
CREATE FUNCTION chatd_notify_level() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(
        'chatd_levels',
        current_setting('application_name') || ' '
            || (SELECT name FROM rooms WHERE id = NEW.room_id) || ' '
            || NEW.notify || ' '
            || (SELECT name FROM users WHERE id = NEW.user_id)
    );
    RETURN NULL;
END
$$;

CREATE TRIGGER memberships_notify_level
    AFTER UPDATE OF notify ON memberships
    FOR EACH ROW
    WHEN (NEW.notify IS NOT NULL AND NEW.notify IS DISTINCT FROM OLD.notify)
    EXECUTE FUNCTION chatd_notify_level();
