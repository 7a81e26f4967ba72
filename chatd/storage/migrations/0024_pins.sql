-- 0024: pinned messages (the `pin` and `pins` requests).
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- A pin is a change to a room like a reaction: an entry of its log ('pinned', reaction_on
-- saying which way), decided and written by chatd/storage/changes.py under the room's lock,
-- so members and resumes learn it in seq order, exactly once.

-- The messages pinned now, one row each: seq is the entry that pinned it (the pins are
-- listed most recently pinned first, a walk of (room_id, seq) backwards), by_id who did.
-- A deleted message's row goes in the deletion's transaction. No foreign keys on message_id
-- and by_id, for the reason of migration 0010: one code path writes this table, under the
-- room's lock, after reading the message and the member; messages and users are never
-- deleted while their room lives. The room's key takes the rows when a deleted room's row
-- goes (chatd/storage/postgres.py, deleting rooms).
CREATE TABLE pins (
    message_id  bigint      PRIMARY KEY,
    room_id     bigint      NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq         bigint      NOT NULL,
    by_id       bigint      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pins_room_seq_key UNIQUE (room_id, seq)
);

-- How many messages of the room are pinned: room objects (welcome, rooms, GET /api/rooms)
-- carry it, and the hello's read stays flat in cost per room (issue 17, migration 0016) by
-- reading a column rather than counting. Kept by the statement that moves the room's
-- last_seq (every pin, unpin and deletion of a pinned message moves it). A constant default:
-- adding the column rewrites nothing.
ALTER TABLE rooms ADD COLUMN pins integer NOT NULL DEFAULT 0;

-- The new kind of entry (added NOT VALID as in 0014 and 0015: the rows there pass, and a large
-- log is not scanned while every node waits on this migration; new rows are checked).
ALTER TABLE changes
    DROP CONSTRAINT changes_kind_check,
    DROP CONSTRAINT changes_target_check;
ALTER TABLE changes
    ADD CONSTRAINT changes_kind_check CHECK (kind IN (
        'edited', 'deleted', 'reaction', 'topic', 'role', 'banned', 'unbanned', 'kicked',
        'archived', 'pinned'
    )) NOT VALID,
    ADD CONSTRAINT changes_target_check
        CHECK ((kind IN ('edited', 'deleted', 'reaction', 'pinned')) = (message_id IS NOT NULL))
        NOT VALID;
