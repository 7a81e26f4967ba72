-- 0019: a commit notice carries the new messages themselves, when they fit, so that the
-- other nodes publish them without reading them back.
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.

-- Until now each node that heard of another's commit read the new entries of every room of
-- the notice back from the database (one statement per room, on every node). Now the notice
-- (still one per statement, hence one per group commit: migration 0017) is
--     '<application_name> [<item>,<item>...]'
-- a JSON array with one item per room whose last_seq grew:
--     ["<room>", <before>, <after>]                        the entries are to be read, or
--     ["<room>", <before>, <after>, [<message>, ...]]      every entry, as a read gives it:
--     [seq, msg_id, "<sender>", ts_ms, "<nonce>", "<text>", reply_to, "<quote>",
--      ["<mention>", ...], [[<file fields>], ...]]
-- (quote: the JSON text of a read's quote column, or null; the file fields: those of a
-- read's file_list, chatd/storage/postgres.py _FILE_FIELDS). A room's entries are carried
-- only when they are all new messages (a change, an edit or a reaction, is read), when some
-- other node is alive to use them (a row of ``nodes`` not this one's: one probe of a small
-- table), and while the payload stays under 7,000 bytes (PostgreSQL refuses 8,000): a room
-- that does not fit goes as its range, to be read as before. Only past 7,000 bytes of ranges
-- alone is a statement's notice split in several, as before.
-- The expressions of quote and file fields repeat the read's (chatd/storage/postgres.py
-- _QUOTE, _FILE_FIELDS, ts as integer milliseconds): tests/e2e/test_cluster.py checks that a
-- carried message and a read one are the same frame.
CREATE OR REPLACE FUNCTION chatd_notify_commits() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head text := current_setting('application_name');
    carry boolean := EXISTS (SELECT 1 FROM nodes WHERE name <> head);
    payload text := '';
    room record;
    item text;
BEGIN
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
