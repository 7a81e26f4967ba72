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
-- Building it locks out writes to messages for as long as it takes (seconds per million
-- messages); see docs/operations.md, "Upgrading".
CREATE INDEX messages_unread_idx ON messages (room_id, seq) INCLUDE (sender_id)
    WHERE deleted_at IS NULL;
