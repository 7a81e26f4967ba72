-- 0039: forwarded messages (the `forward` request).
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- A forward is an ordinary message of its target's log (its text is the forwarder's comment)
-- that also shows what it forwards: {from, ts, text, room, seq} as JSON (room and seq null
-- unless the source is a public room). Written only by the insert's forward variants
-- (chatd/storage/postgres.py, _with_forward), used only for batches that hold a forward;
-- every other message keeps NULL, and the plain append's statements are as they were. A
-- column with no default: adding it rewrites no row. Deleting the message sets it back to
-- NULL (chatd/storage/changes.py, _SQL_FORGET): the forwarded words go with the comment's.
-- The indexer (chatd/storage/postgres.py, _INDEX_WORDS) keeps the comment's words and the
-- forwarded text's together, so a search finds the forward by either.
ALTER TABLE messages ADD COLUMN forwarded jsonb;

-- Commit notices (migrations 0019, 0022, 0029, 0036) do not carry a forward: its forwarded
-- object is not among the fields a notice carries, so the other nodes read that range instead
-- (as they read any range a notice does not carry, and a poll's). The function as migration
-- 0036 left it, with one more condition on the row it reads already.
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
                       ) END,
                       CASE WHEN m.thread_root IS NOT NULL THEN
                           json_build_array(m.thread_root, m.broadcast)
                       END
                   ) ORDER BY m.seq)::text AS entries
            FROM messages m JOIN users u ON u.id = m.sender_id
            WHERE carry AND b.after - b.before <= 175
              AND m.room_id = b.id AND m.seq > b.before AND m.seq <= b.after
              AND m.rev IS NULL AND m.deleted_at IS NULL AND NOT m.poll
              AND m.forwarded IS NULL
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
