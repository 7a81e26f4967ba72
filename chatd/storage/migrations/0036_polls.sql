-- 0036: polls (a message with options; the `vote` and `close_poll` requests; the `voted` and
-- `poll_closed` entries).
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- A poll is a message (its text is the question) with options. Every vote and the closing
-- are entries of the room's log ('voted', 'poll_closed'), decided and written by
-- chatd/storage/changes.py under the room's lock, so members and resumes learn them in seq
-- order, exactly once, as reactions.

-- Whether the message is a poll: set by the insert's poll variant (chatd/storage/postgres.py,
-- _POLL_INSERTS), used only for messages sent with a poll; every other message keeps the
-- default, and the plain append's statements are as they were. A read of a message looks its
-- poll up only when this says it has one. A constant default: adding it rewrites nothing.
ALTER TABLE messages ADD COLUMN poll boolean NOT NULL DEFAULT false;

-- A poll's options (2-10, in order), whether a voter may pick several, and its closing (the
-- entry's seq, who closed it, when). Written in the statement that inserts its message; goes
-- with the message's words when it is deleted (chatd/storage/changes.py, _SQL_FORGET) and
-- with its row when a deleted room's log is purged.
CREATE TABLE polls (
    message_id  bigint      PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    room_id     bigint      NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    options     text[]      NOT NULL CHECK (cardinality(options) BETWEEN 2 AND 10),
    multiple    boolean     NOT NULL DEFAULT false,
    closed_seq  bigint,
    closed_by   bigint      REFERENCES users (id),
    closed_at   timestamptz
);

-- Each voter's choice, now: one row per (poll, voter), the options (0-based indexes, sorted)
-- and the seq of the entry that set them. A message object lists each option's voters by that
-- seq, the order a client applying the entries one by one (each replacing its voter's whole
-- choice) reproduces. A vote taken back ([]) removes the row.
CREATE TABLE poll_votes (
    message_id  bigint      NOT NULL REFERENCES polls (message_id) ON DELETE CASCADE,
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    options     smallint[]  NOT NULL,
    seq         bigint      NOT NULL,
    PRIMARY KEY (message_id, user_id)
);

-- A 'voted' entry's choice (the voter's whole choice after it; NULL for every other kind).
ALTER TABLE changes ADD COLUMN choice smallint[];

-- The new kinds of entry, both naming a message; the lists read from the constraints as they
-- are and extended (as migration 0026 does), NOT VALID as before.
DO $$
DECLARE
    kinds text;
    message_kinds text;
BEGIN
    SELECT string_agg(quote_literal(k), ', ' ORDER BY k) INTO kinds FROM (
        SELECT (regexp_matches(pg_get_constraintdef(oid), '''([a-z_]+)''', 'g'))[1] AS k
        FROM pg_constraint
        WHERE conrelid = 'changes'::regclass AND conname = 'changes_kind_check'
        UNION SELECT 'voted' UNION SELECT 'poll_closed'
    ) found;
    SELECT string_agg(quote_literal(k), ', ' ORDER BY k) INTO message_kinds FROM (
        SELECT (regexp_matches(pg_get_constraintdef(oid), '''([a-z_]+)''', 'g'))[1] AS k
        FROM pg_constraint
        WHERE conrelid = 'changes'::regclass AND conname = 'changes_target_check'
        UNION SELECT 'voted' UNION SELECT 'poll_closed'
    ) found;
    EXECUTE 'ALTER TABLE changes DROP CONSTRAINT changes_kind_check, '
        || 'DROP CONSTRAINT changes_target_check';
    EXECUTE 'ALTER TABLE changes ADD CONSTRAINT changes_kind_check CHECK (kind IN ('
        || kinds || ')) NOT VALID, ADD CONSTRAINT changes_target_check CHECK ((kind IN ('
        || message_kinds || ')) = (message_id IS NOT NULL)) NOT VALID';
END
$$;

-- Commit notices (migrations 0019, 0022, 0029) do not carry a poll's message: its options are
-- not among the fields a notice carries, so the other nodes read that range instead (as they
-- read any range a notice does not carry). The function as migration 0029 left it, with one
-- more condition on the row it reads already.
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
