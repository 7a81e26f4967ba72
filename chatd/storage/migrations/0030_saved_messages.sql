-- 0030: saved messages and their reminders (the `save` and `saved_items` requests).
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- A saved message is private to its user: a row here, no entry of the room's log. The
-- user's other connections hear of it from the node that saved it (chatd.actions.saved).

-- One row per message a user saved. saved_at orders a user's list (newest first) and is its
-- paging cursor: the saving statement makes it strictly increase per user (at least a
-- millisecond after the user's latest), so that two items never share a cursor. remind_at:
-- when to remind them (NULL: never); reminded: the reminder was sent (the item stays saved,
-- "overdue"), cleared by a new remind_at. The keys of the room and the message take the
-- rows with them when a deleted room's rows go, or a message is purged.
CREATE TABLE saved (
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    msg_id      bigint      NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    room_id     bigint      NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    saved_at    timestamptz NOT NULL,
    remind_at   timestamptz,
    reminded    boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (user_id, msg_id)
);

-- A user's list, newest first, by its cursor (and the count against limits.saved_per_user).
CREATE UNIQUE INDEX saved_user_saved_at_key ON saved (user_id, saved_at);
-- A message purged: its rows found by key.
CREATE INDEX saved_msg_id_idx ON saved (msg_id);
-- The reminders still to send, soonest first: what every node's reminder loop reads (the
-- next due time) and claims (FOR UPDATE SKIP LOCKED), small however many items are saved.
CREATE INDEX saved_due_idx ON saved (remind_at) WHERE NOT reminded AND remind_at IS NOT NULL;
-- The items reminded, by user: what a hello counts (the welcome's reminders_due), reading
-- only those rows, however many the user saved.
CREATE INDEX saved_reminded_idx ON saved (user_id) WHERE reminded;
