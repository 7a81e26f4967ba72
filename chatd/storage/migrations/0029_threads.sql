-- 0029: threads (the `thread` request; `thread` and `broadcast` on send and dm).
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- A thread reply is a message of its room's log like any other (its seq from the room's
-- counter, under the room's lock), which names its root: thread_root, the msg_id of a
-- message of the same room that is no reply itself (a thread is one level). broadcast: the
-- reply was also sent to the room's timeline (Slack's "also send to the channel").
--
-- A root carries its thread's summary, so that reading a message (join, history, resume,
-- search, pins) shows it without counting: reply_count (replies ever posted, tombstones
-- included), reply_last_at (the latest reply's time), reply_users (up to 5 distinct latest
-- repliers' names, newest first; NULL for none). They are written by the statement that
-- inserts the replies (chatd/storage/postgres.py, _SQL_APPEND_INSERT_THREAD), under the
-- room's lock, which also sets the root's rev to its latest reply's seq: a root read after
-- a reply replaces the one a client held (docs/protocol.md, "Applying entries"). Constant
-- defaults: adding the columns rewrites nothing.
ALTER TABLE messages
    ADD COLUMN IF NOT EXISTS thread_root   bigint,
    ADD COLUMN IF NOT EXISTS broadcast     boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS reply_count   integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS reply_last_at timestamptz,
    ADD COLUMN IF NOT EXISTS reply_users   text[];

-- A thread's replies by seq (the `thread` request's pages, and its followers: the root's
-- author and everyone who replied). Partial: a message that is no reply (nearly all of them)
-- adds no entry to it, so the plain send path writes nothing more.
CREATE INDEX IF NOT EXISTS messages_thread_idx ON messages (room_id, thread_root, seq)
    WHERE thread_root IS NOT NULL;

-- Commit notices (migrations 0019, 0022) carry a new message's thread too: an eleventh field,
-- [thread_root, broadcast], NULL for a message that is no reply (a reader of the ten fields
-- before it reads a reply as a plain message).
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
