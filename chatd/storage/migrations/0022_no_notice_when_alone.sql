-- 0022: no commit notice while no other node is alive.
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- A node ignores its own commit notices, so a server of one node paid for each of its commits
-- a notice nobody used: the trigger's query over the transition tables, pg_notify, and the
-- global lock PostgreSQL takes at the commit of every transaction that notified. Measured
-- with benchmarks/sendpath.py at everyday load (a lone send every 10 ms, caches cold): that was
-- a third of PostgreSQL's CPU for the send and about half a millisecond of its wall time
-- (benchmarks/README.md, "Everyday load, fourth pass").
--
-- Now the trigger notifies only when the ``nodes`` table has a row other than this
-- connection's node (application_name), the same probe that already decided whether the
-- notice carries the messages (migration 0019). Any other process that commits (a second
-- node, a worker, an administration command run beside the daemon) sees the daemon's row and
-- notifies as before. What makes it safe for a node that starts while another runs alone
-- (whose transactions in flight checked ``nodes`` before the new row was there, and commit
-- without a notice): the new node registers, then listens, then waits for every transaction
-- in progress at that moment to end before it serves anyone (chatd.cluster.Nodes.run,
-- Storage.wait_for_writers), so whatever it serves either was committed before, or notifies.
CREATE OR REPLACE FUNCTION chatd_notify_commits() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head text := current_setting('application_name');
    carry boolean := EXISTS (SELECT 1 FROM nodes WHERE name <> head);
    payload text := '';
    room record;
    item text;
BEGIN
    IF NOT carry THEN
        RETURN NULL;  -- nobody else to tell (see above)
    END IF;
    -- One statement for every room of the commit.
    FOR room IN
        WITH bumped AS (
            SELECT n.id, n.name, o.last_seq AS before, n.last_seq AS after
            FROM new_rooms n JOIN old_rooms o ON o.id = n.id
            WHERE n.last_seq > o.last_seq
        )
        SELECT '[' || to_json(b.name)::text || ',' || b.before || ',' || b.after AS head_of,
               CASE WHEN c.found = b.after - b.before THEN c.entries END AS entries
        FROM bumped b LEFT JOIN LATERAL (
            -- Per room (LATERAL: a walk of messages' (room_id, seq) index each, whatever
            -- the planner guesses of a transition table), its new messages joined to their
            -- senders; ~40 bytes is the least a message takes: a room of more cannot fit.
            SELECT count(*) AS found, json_agg(json_build_array(
                       m.seq, m.id, u.name, floor(extract(epoch FROM m.created_at) * 1000)::bigint,
                       m.nonce, m.text, m.reply_to,
                       CASE WHEN m.reply_to IS NOT NULL THEN (
                           SELECT CASE WHEN q.deleted_at IS NOT NULL
                                       THEN json_build_object('deleted', true)::text
                                       ELSE json_build_object('from', qu.name,
                                                              'text', left(q.text, 200))::text
                                  END
                           FROM messages q JOIN users qu ON qu.id = q.sender_id
                           WHERE q.id = m.reply_to
                       ) END,
                       m.mentions,
                       CASE WHEN m.files > 0 THEN (
                           SELECT json_agg(json_build_array(
                               f.id, f.name, f.size, f.content_type, f.width, f.height,
                               f.thumb_sha256 IS NOT NULL) ORDER BY f.id)
                           FROM files f WHERE f.message_id = m.id
                       ) END
                   ) ORDER BY m.seq)::text AS entries
            FROM messages m JOIN users u ON u.id = m.sender_id
            WHERE carry AND b.after - b.before <= 175
              AND m.room_id = b.id AND m.seq > b.before AND m.seq <= b.after
              AND m.rev IS NULL AND m.deleted_at IS NULL
        ) c ON true
        ORDER BY b.id
    LOOP
        item := room.head_of || ']';
        IF room.entries IS NOT NULL
           AND octet_length(payload) + octet_length(item) + octet_length(room.entries) < 7000 THEN
            item := room.head_of || ',' || room.entries || ']';
        END IF;
        IF payload <> '' AND octet_length(payload) + octet_length(item) > 7000 THEN
            PERFORM pg_notify('chatd_commits', head || ' [' || payload || ']');
            payload := '';
        END IF;
        payload := payload || CASE WHEN payload = '' THEN '' ELSE ',' END || item;
    END LOOP;
    IF payload <> '' THEN
        PERFORM pg_notify('chatd_commits', head || ' [' || payload || ']');
    END IF;
    RETURN NULL;
END
$$;
