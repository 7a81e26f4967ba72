-- 0017: nodes that announce themselves, who is online on each, and one commit notice per
-- statement instead of one per room.
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.

-- Every running node keeps a row here and touches seen_at every [cluster] heartbeat_interval
-- seconds (database time, so the nodes' clocks need not agree). A row older than
-- [cluster] node_timeout is a dead node's: any node deletes it, which deletes its users'
-- presence with it (cascade) and tells the others ('<node> down' on chatd_presence).
CREATE TABLE nodes (
    name text PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT now(),
    seen_at timestamptz NOT NULL DEFAULT now()
);

-- The users with a connection on a node: a row from their first connection there to their
-- last. Written only on those transitions (never per message), so that a node starting, or
-- listening again after a loss, reads who is online elsewhere.
CREATE TABLE node_presence (
    node text NOT NULL REFERENCES nodes (name) ON DELETE CASCADE,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (node, user_id)
);
CREATE INDEX node_presence_user_idx ON node_presence (user_id);

-- Commits (migration 0003) told every node with one NOTIFY per room bumped: a batch of the
-- group commit over 200 rooms queued 200 notices. PostgreSQL serialises the commits of every
-- transaction that notifies (one global lock, taken once per transaction, held while its
-- notices are copied into the queue), so the work under that lock grows with the notices.
-- Now one statement (the committer's whole batch is one) sends one notice:
--     '<application_name> <room> <before> <after>[ <room> <before> <after>...]'
-- split into several only past 7,000 bytes (PostgreSQL refuses 8,000). Room names never
-- contain a space. A trigger with transition tables cannot name columns, so it fires for
-- every UPDATE of rooms, and notifies only when some last_seq grew.
DROP TRIGGER rooms_notify_commit ON rooms;
DROP FUNCTION chatd_notify_commit();

CREATE FUNCTION chatd_notify_commits() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head text := current_setting('application_name');
    payload text := '';
    item text;
BEGIN
    FOR item IN
        SELECT n.name || ' ' || o.last_seq || ' ' || n.last_seq
        FROM new_rooms n JOIN old_rooms o ON o.id = n.id
        WHERE n.last_seq > o.last_seq
        ORDER BY n.id
    LOOP
        IF length(payload) + length(item) > 7000 THEN
            PERFORM pg_notify('chatd_commits', head || payload);
            payload := '';
        END IF;
        payload := payload || ' ' || item;
    END LOOP;
    IF payload <> '' THEN
        PERFORM pg_notify('chatd_commits', head || payload);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER rooms_notify_commits
    AFTER UPDATE ON rooms
    REFERENCING OLD TABLE AS old_rooms NEW TABLE AS new_rooms
    FOR EACH STATEMENT EXECUTE FUNCTION chatd_notify_commits();
