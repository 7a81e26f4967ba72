-- 0003: a notice for every commit, so that several chatd nodes can share one database.
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.

-- Appending bumps rooms.last_seq under the row lock; this trigger turns each bump into a
-- NOTIFY on channel 'chatd_commits', which PostgreSQL delivers when (and only if) the
-- transaction commits, in commit order. The payload is
--     '<application_name> <room> <last_seq before> <last_seq after>'
-- application_name identifies the node (chatd sets it per pool), so a node can skip its own
-- commits, which it has published already. Room names never contain a space.
CREATE FUNCTION chatd_notify_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(
        'chatd_commits',
        current_setting('application_name') || ' ' || NEW.name || ' '
            || OLD.last_seq || ' ' || NEW.last_seq
    );
    RETURN NULL;
END
$$;

CREATE TRIGGER rooms_notify_commit
    AFTER UPDATE OF last_seq ON rooms
    FOR EACH ROW WHEN (NEW.last_seq > OLD.last_seq)
    EXECUTE FUNCTION chatd_notify_commit();

-- Memberships change on one node and matter on all: who is in a room decides where its messages
-- go. Channel 'chatd_members', payload '<application_name> <+|-> <room> <user>'.
CREATE FUNCTION chatd_notify_membership() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    row_ memberships;
    sign text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        row_ := NEW;
        sign := '+';
    ELSE
        row_ := OLD;
        sign := '-';
    END IF;
    PERFORM pg_notify(
        'chatd_members',
        current_setting('application_name') || ' ' || sign || ' '
            || (SELECT name FROM rooms WHERE id = row_.room_id) || ' '
            || (SELECT name FROM users WHERE id = row_.user_id)
    );
    RETURN NULL;
END
$$;

CREATE TRIGGER memberships_notify
    AFTER INSERT OR DELETE ON memberships
    FOR EACH ROW EXECUTE FUNCTION chatd_notify_membership();
