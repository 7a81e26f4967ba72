-- 0016: costs that stay flat as the data grows (issue 17).
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.

-- Unread counts (chatd/storage/postgres.py, _MEMBER_COLUMNS): how many messages by others,
-- not deleted, came after a member's read marker, at most UNREAD_CAP. They were a walk of
-- messages_room_seq_key from the marker, each entry a visit to the table (for the sender and
-- whether the message was deleted): 1,000 rooms with 999+ unread each cost a million visits.
--
-- A room's log is dense: every seq from 1 to rooms.last_seq is one entry, a message or a
-- change (migration 0006: both take their seq from last_seq, under the room's lock, and
-- neither is ever deleted). So the entries after a marker number last_seq - read_seq, and the
-- unread messages are those entries but the changes, the reader's own messages and the deleted
-- ones, which are few where people read: each a short walk of an index that holds only them.
-- When one of them is long (a room full of reactions, a reader who writes more than reads),
-- the count falls back to walking the messages from the marker, stopped at the cap.
CREATE INDEX IF NOT EXISTS messages_room_sender_idx ON messages (room_id, sender_id, seq)
    WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS messages_deleted_idx ON messages (room_id, seq)
    WHERE deleted_at IS NOT NULL;
-- (Building them locks out writes to messages for as long as it takes, about a second per
-- million messages; IF NOT EXISTS lets an operator build them beforehand with CREATE INDEX
-- CONCURRENTLY: docs/operations.md, "Upgrading".)

-- The count of a member's unread messages (reader_, marker after_) in room room_ whose last
-- entry is last_, at most cap_; and of their unread mentions. They are functions for the
-- planner settings they run with: inline, a LIMIT is only a hint, and when the planner's
-- estimate of the entries after a marker (a parameter: it cannot know) comes near it, it
-- prefers a bitmap scan, which collects every entry after the marker (400,206 of them for one
-- count, measured) and sorts them before the LIMIT applies. Without bitmap scans, sequential
-- scans or sorts, what is left is each index walked in order and stopped by its LIMIT.
-- (A SET clause also keeps PostgreSQL from inlining the function; its plan is made once per
-- statement that calls it.)
CREATE FUNCTION chatd_unread_messages(room_ bigint, after_ bigint, last_ bigint,
                                      reader_ bigint, cap_ int)
RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE
SET enable_bitmapscan = off SET enable_seqscan = off SET enable_sort = off
AS $$
    SELECT CASE
        WHEN own.n < 4 * cap_ AND gone.n < 4 * cap_ AND changed.n < 4 * cap_
        THEN least(cap_, greatest(0, last_ - after_ - own.n - gone.n - changed.n))
        ELSE (SELECT count(*) FROM (
            SELECT 1 FROM messages x
            WHERE x.room_id = room_ AND x.seq > after_ AND x.sender_id <> reader_
              AND x.deleted_at IS NULL
            ORDER BY x.room_id, x.seq
            LIMIT cap_
        ) AS capped)
    END
    FROM (SELECT count(*) AS n FROM (
              SELECT 1 FROM messages x
              WHERE x.room_id = room_ AND x.sender_id = reader_ AND x.seq > after_
                AND x.seq <= last_ AND x.deleted_at IS NULL
              ORDER BY x.room_id, x.sender_id, x.seq
              LIMIT 4 * cap_) AS w) AS own,
         (SELECT count(*) AS n FROM (
              SELECT 1 FROM messages x
              WHERE x.room_id = room_ AND x.seq > after_ AND x.seq <= last_
                AND x.deleted_at IS NOT NULL
              ORDER BY x.room_id, x.seq
              LIMIT 4 * cap_) AS w) AS gone,
         (SELECT count(*) AS n FROM (
              SELECT 1 FROM changes c
              WHERE c.room_id = room_ AND c.seq > after_ AND c.seq <= last_
              ORDER BY c.room_id, c.seq
              LIMIT 4 * cap_) AS w) AS changed
$$;

CREATE FUNCTION chatd_unread_mentions(room_ bigint, after_ bigint, reader_ bigint, cap_ int)
RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE
SET enable_bitmapscan = off SET enable_seqscan = off SET enable_sort = off
AS $$
    SELECT count(*) FROM (
        SELECT 1 FROM mentions mn
        WHERE mn.user_id = reader_ AND mn.room_id = room_ AND mn.seq > after_
        ORDER BY mn.user_id, mn.room_id, mn.seq
        LIMIT cap_
    ) AS capped
$$;

-- A page of a large room's members (who) walks the users by name, lower case, in code point
-- order (COLLATE "C", as Python sorts them and the clients expect; users_name_lower_key is in
-- the database's collation, which may order punctuation otherwise), and looks each one up
-- among the room's memberships until the page is full.
CREATE INDEX IF NOT EXISTS users_name_lower_c_idx ON users ((lower(name) COLLATE "C"));
