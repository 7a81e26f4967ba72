-- 0016: costs that stay flat as the data grows (issue 17).
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.

-- Unread counts (chatd/storage/postgres.py, _MEMBER_COLUMNS) count the others' messages after
-- a member's marker, at most UNREAD_CAP of them, by walking (room_id, seq) from the marker.
-- On messages_room_seq_key every entry of that walk costs a visit to the table (for the sender
-- and whether the message was deleted): 1,000 rooms with 999+ unread each made a thousand
-- random reads per room. This index holds what the count needs (the sender, and only
-- messages that are not deleted), so the walk is an index-only scan: a few pages per room.
-- Building it locks out writes to messages for as long as it takes (about a second per million
-- messages); IF NOT EXISTS lets an operator build it beforehand with CREATE INDEX CONCURRENTLY
-- (docs/operations.md, "Upgrading").
CREATE INDEX IF NOT EXISTS messages_unread_idx ON messages (room_id, seq) INCLUDE (sender_id)
    WHERE deleted_at IS NULL;

-- The two walks that count a member's unread messages and mentions in a room, at most cap_
-- of each. They are functions for one reason: the planner settings they run with. Inline,
-- the LIMIT is only a hint: when its estimate of the entries after a marker (a parameter:
-- it cannot know) comes near the cap, the planner prefers a bitmap scan, which collects every
-- entry after the marker (400,206 of them for one count, measured) and sorts them before the
-- LIMIT applies. Without bitmap scans, sequential scans or sorts, what is left is the walk of
-- the index in order, which the LIMIT ends: at most cap_ entries, whatever the room holds.
-- (A SET clause also keeps PostgreSQL from inlining the function; its plan is made once per
-- statement that calls it.)
CREATE FUNCTION chatd_unread_messages(room_ bigint, after_ bigint, reader_ bigint, cap_ int)
RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE
SET enable_bitmapscan = off SET enable_seqscan = off SET enable_sort = off
AS $$
    SELECT count(*) FROM (
        SELECT 1 FROM messages x
        WHERE x.room_id = room_ AND x.seq > after_ AND x.sender_id <> reader_
          AND x.deleted_at IS NULL
        ORDER BY x.room_id, x.seq
        LIMIT cap_
    ) AS capped
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
