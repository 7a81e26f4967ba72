-- 0010: a change entry costs what a message costs to store.
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- Measured per stored row (PostgreSQL backend CPU, batches of 400): a reaction's entry cost
-- about 1.8x a message's, most of it in what only guarded against bugs: three foreign-key
-- checks per row (each a lookup and a lock of the row it points to, with WAL), a serial key
-- nothing refers to, and an index of every entry by message that only deletion reads, for
-- edits. Without them the entry costs about what a message does.
--
-- The foreign keys go because one code path writes this table (chatd/storage/changes.py),
-- under the room's row lock, after reading the message and the actor's membership; rooms,
-- messages and users that a change names are never deleted (messages and their senders are
-- kept by messages' own keys; a deleted message stays as a tombstone).
ALTER TABLE changes
    DROP CONSTRAINT changes_room_id_fkey,
    DROP CONSTRAINT changes_message_id_fkey,
    DROP CONSTRAINT changes_actor_id_fkey,
    DROP COLUMN id;

-- Deleting a message empties the text of its edits: only edits are looked up by message.
DROP INDEX changes_message_id_idx;
CREATE INDEX changes_edits_idx ON changes (message_id) WHERE kind = 'edited';
