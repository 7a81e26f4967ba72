-- 0020: a batch of plain messages appended in one round trip, with plans kept per connection.
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- The group commit stored a batch with two statements (chatd/storage/postgres.py,
-- _append_once): one resolving each input (its room, whether the sender is a member, whether
-- the nonce is stored already), then one inserting the accepted ones. At everyday load a batch
-- is one message, and most of PostgreSQL's time for it went to planning the first statement
-- again at every call (benchmarks/README.md, "Everyday load, second pass": 0.37 ms of CPU
-- against 0.08 with its plan kept): its inputs are arrays whose length the planner reads from
-- the values, so it finds every fresh plan cheaper than the generic one and never keeps one.
-- This function runs the same two statements in one call (one round trip, one transaction),
-- the first one with a generic plan: planned once per connection, for arrays of any length,
-- and bound to the inputs' rows by key (rooms by name, memberships, users and messages by
-- their keys), whatever the batch's size.
--
-- It returns one row per input with what the first statement found (id NULL), and one row
-- per message stored (id set, with its sender and nonce: the caller knows which input that
-- is; a join back to the inputs here would be planned as a nested loop, as many comparisons
-- as the square of the batch). Of several inputs with the same sender and nonce, the first
-- one that may be stored is (the later ones are its duplicates); an input whose room was
-- archived or deleted between the two statements gets no stored row.
-- chatd calls it for batches of up to 3 plain messages (ONE_TRIP_MAX in
-- chatd/storage/postgres.py): larger batches share the planning of the two statements, and
-- cost less that way. Messages with a reply, mentions or files still take the two
-- statements (they need more lookups and columns).

CREATE TYPE chatd_append_row AS (
    idx bigint,        -- the input's position, from 1
    room_id bigint,    -- NULL: no such room
    member boolean,
    archived boolean,
    sender text,       -- the sender's name as registered
    e_id bigint,       -- the message stored before with this sender and nonce, if any
    e_room text,
    e_seq bigint,
    e_text text,
    e_ts bigint,       -- milliseconds since the epoch
    id bigint,         -- set on the rows of the messages stored by this call
    seq bigint,
    ts bigint,
    sender_id bigint,  -- the input's (on the rows of messages stored: the message's)
    nonce text,
    text text          -- the input's, kept for the insert (never returned)
);

CREATE FUNCTION chatd_append(user_ids bigint[], room_names text[], nonces text[],
                             texts text[])
RETURNS SETOF chatd_append_row
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    resolved chatd_append_row[];
    new_count bigint;    -- messages to store (an input repeating an earlier one's nonce aside)
    room_count bigint;   -- rooms they go to
    only_room bigint;    -- the room, when there is one
BEGIN
    SELECT array_agg(row(
               i.idx, r.id, m.user_id IS NOT NULL, r.archived, s.name,
               e.id, er.name, e.seq, e.text,
               floor(extract(epoch FROM e.created_at) * 1000)::bigint,
               NULL, NULL, NULL, i.user_id, i.nonce, i.text)::chatd_append_row ORDER BY i.idx)
    INTO resolved
    FROM unnest(user_ids, room_names, nonces, texts)
        WITH ORDINALITY AS i(user_id, room, nonce, text, idx)
    LEFT JOIN rooms r ON r.name = i.room
    LEFT JOIN memberships m ON m.room_id = r.id AND m.user_id = i.user_id
    LEFT JOIN users s ON s.id = i.user_id
    LEFT JOIN LATERAL (
        -- LIMIT 1: a probe of the (sender_id, nonce) index per input, never a hash of the
        -- whole messages table.
        SELECT e.id, e.room_id, e.seq, e.text, e.created_at FROM messages e
        WHERE e.sender_id = i.user_id AND e.nonce = i.nonce LIMIT 1
    ) e ON true
    LEFT JOIN rooms er ON er.id = e.room_id;

    RETURN QUERY
    SELECT x.idx, x.room_id, x.member, x.archived, x.sender, x.e_id, x.e_room, x.e_seq,
           x.e_text, x.e_ts, NULL::bigint, NULL::bigint, NULL::bigint, x.sender_id, x.nonce,
           NULL::text
    FROM unnest(resolved) AS x;

    SELECT count(DISTINCT (x.sender_id, x.nonce)), count(DISTINCT x.room_id), min(x.room_id)
    INTO new_count, room_count, only_room
    FROM unnest(resolved) AS x
    WHERE x.room_id IS NOT NULL AND x.member AND NOT x.archived AND x.e_id IS NULL;
    IF new_count = 0 THEN
        RETURN;
    END IF;

    IF room_count = 1 THEN
        -- One room (a lone send): bump it by key and insert, as the statement below does
        -- for many rooms, without its joins and sorts (most of what it cost for one
        -- message). One statement: the commit notice's trigger (statement-level, on rooms)
        -- fires at its end, when the messages are there to be carried (migration 0019); a
        -- statement of its own for the UPDATE would fire it before the INSERT, and the
        -- other nodes would have to read the messages back.
        RETURN QUERY
        WITH new AS (
            SELECT DISTINCT ON (x.sender_id, x.nonce) x.sender_id, x.nonce, x.text, x.idx
            FROM unnest(resolved) AS x
            WHERE x.room_id IS NOT NULL AND x.member AND NOT x.archived AND x.e_id IS NULL
            ORDER BY x.sender_id, x.nonce, x.idx
        ), bumped AS (
            -- Archived or deleted since the first step: no row, nothing stored.
            UPDATE rooms SET last_seq = last_seq + new_count
            WHERE id = only_room AND NOT archived AND deleted_at IS NULL
            RETURNING last_seq - new_count AS base
        ), inserted AS (
            INSERT INTO messages (room_id, seq, sender_id, nonce, text, created_at)
            SELECT only_room, b.base + row_number() OVER (ORDER BY new.idx), new.sender_id,
                   new.nonce, new.text, clock_timestamp()
            FROM new CROSS JOIN bumped AS b
            ORDER BY new.idx
            RETURNING messages.id, messages.room_id, messages.seq, messages.sender_id,
                      messages.nonce, messages.created_at
        )
        SELECT NULL::bigint, ins.room_id, NULL::boolean, NULL::boolean, NULL::text,
               NULL::bigint, NULL::text, NULL::bigint, NULL::text, NULL::bigint,
               ins.id, ins.seq, floor(extract(epoch FROM ins.created_at) * 1000)::bigint,
               ins.sender_id, ins.nonce, NULL::text
        FROM inserted AS ins;
        RETURN;
    END IF;

    -- The insert's inputs are a few at everyday load and up to a thousand under load: its
    -- plan is chosen for each call's (or kept, as PostgreSQL's plan cache decides), as it
    -- was when it was a statement of its own. Its planning is a small part of its cost.
    PERFORM set_config('plan_cache_mode', 'auto', true);

    -- As chatd/storage/postgres.py's _SQL_APPEND_INSERT_PLAIN: lock the rooms in id order,
    -- bump last_seq, insert; per room, the k-th new message (by input) gets old last_seq + k.
    RETURN QUERY
    WITH new AS (
        SELECT DISTINCT ON (x.sender_id, x.nonce)
               x.room_id, x.sender_id, x.nonce, x.text, x.idx AS ord
        FROM unnest(resolved) AS x
        WHERE x.room_id IS NOT NULL AND x.member AND NOT x.archived AND x.e_id IS NULL
        ORDER BY x.sender_id, x.nonce, x.idx
    ), counts AS (
        SELECT new.room_id, count(*) AS n FROM new GROUP BY new.room_id
    ), locked AS (
        -- Checked again on the row as locked: a room archived or deleted (a tombstone)
        -- since the first statement takes nothing.
        SELECT rooms.id FROM rooms
        WHERE rooms.id IN (SELECT counts.room_id FROM counts)
          AND NOT rooms.archived AND rooms.deleted_at IS NULL
        ORDER BY rooms.id FOR NO KEY UPDATE
    ), bumped AS (
        UPDATE rooms AS r SET last_seq = r.last_seq + c.n
        FROM locked AS l JOIN counts AS c ON c.room_id = l.id
        WHERE r.id = l.id
        RETURNING r.id, r.last_seq - c.n AS base
    ), inserted AS (
        INSERT INTO messages (room_id, seq, sender_id, nonce, text, created_at)
        SELECT new.room_id,
               b.base + row_number() OVER (PARTITION BY new.room_id ORDER BY new.ord),
               new.sender_id, new.nonce, new.text, clock_timestamp()
        FROM new JOIN bumped AS b ON b.id = new.room_id
        ORDER BY new.room_id, new.ord
        RETURNING messages.id, messages.room_id, messages.seq, messages.sender_id,
                  messages.nonce, messages.created_at
    )
    SELECT NULL::bigint, ins.room_id, NULL::boolean, NULL::boolean, NULL::text,
           NULL::bigint, NULL::text, NULL::bigint, NULL::text, NULL::bigint,
           ins.id, ins.seq, floor(extract(epoch FROM ins.created_at) * 1000)::bigint,
           ins.sender_id, ins.nonce, NULL::text
    FROM inserted AS ins;
END
$$;
