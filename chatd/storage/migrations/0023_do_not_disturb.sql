-- 0023: "do not disturb": a user's notifications paused until a time, on every device.
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.

-- Until when the user's notifications are paused (NULL: they are not). A column of the
-- user's row, so that what already reads that row (a token's check, a hello's first
-- statement, the pusher's targets) reads it with it, at no extra statement. A time in the
-- past is as good as NULL: readers compare it with their clock (the pause ends by itself).
ALTER TABLE users ADD COLUMN dnd_until timestamptz;

-- A pause set on one node reaches the user's connections on every node: channel 'chatd_dnd',
-- payload '<application_name> <until> <user>', <until> in ms since the epoch or '-' when
-- resumed (the name goes last: the rest of the payload). Only when it changes.
CREATE FUNCTION chatd_notify_dnd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(
        'chatd_dnd',
        current_setting('application_name') || ' '
            || coalesce(floor(extract(epoch FROM NEW.dnd_until) * 1000)::bigint::text, '-')
            || ' ' || NEW.name
    );
    RETURN NULL;
END
$$;

CREATE TRIGGER users_notify_dnd
    AFTER UPDATE OF dnd_until ON users
    FOR EACH ROW
    WHEN (NEW.dnd_until IS DISTINCT FROM OLD.dnd_until)
    EXECUTE FUNCTION chatd_notify_dnd();
