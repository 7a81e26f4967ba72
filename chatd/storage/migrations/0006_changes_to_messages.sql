-- 0006: the room log holds every change (protocol v2): edits, deletions, reactions, replies
-- and mentions.
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- A room's log is its messages and its changes, merged by seq: both take their seq from the
-- one counter rooms.last_seq, under the room's row lock, so the two tables never share a seq
-- within a room and the log's order is commit order. A page of the log walks the (room_id,
-- seq) index of each table and merges them: its cost is its own size, however many changes a
-- room holds.

-- A message row shows the message as it is now (what join and history hand out), so reading
-- it never replays its changes. rev: the seq of the last change entry (NULL: none).
-- A deleted message keeps its row as a tombstone, its text emptied.
ALTER TABLE messages
    ADD COLUMN rev         bigint,
    ADD COLUMN edited_at   timestamptz,
    ADD COLUMN deleted_at  timestamptz,
    ADD COLUMN reply_to    bigint,
    ADD COLUMN mentions    text[] NOT NULL DEFAULT '{}';

-- The entries that change a message, or the room itself (a topic: no message_id). text and
-- mentions: an edit's (its text is emptied when the message is deleted: the words leave the
-- database), or the new topic; emoji and reaction_on: a reaction's.
CREATE TABLE changes (
    id           bigserial   PRIMARY KEY,
    room_id      bigint      NOT NULL REFERENCES rooms (id),
    seq          bigint      NOT NULL,
    message_id   bigint      REFERENCES messages (id),
    actor_id     bigint      NOT NULL REFERENCES users (id),
    kind         text        NOT NULL
                             CHECK (kind IN ('edited', 'deleted', 'reaction', 'topic')),
    text         text,
    mentions     text[],
    emoji        text,
    reaction_on  boolean,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT changes_room_seq_key UNIQUE (room_id, seq),
    CONSTRAINT changes_target_check CHECK ((kind = 'topic') = (message_id IS NULL))
);
CREATE INDEX changes_message_id_idx ON changes (message_id);

-- Who put which emoji on which message, now: the truth reactions are toggled against. seq:
-- the entry that put it; since: the entry that put the emoji when nobody had it on (the same
-- on all its rows). Message objects list emoji by since and their users by seq, an order a
-- client applying the entries one by one reproduces (docs/protocol.md).
CREATE TABLE reactions (
    message_id  bigint      NOT NULL REFERENCES messages (id),
    emoji       text        NOT NULL,
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    seq         bigint      NOT NULL,
    since       bigint      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, emoji, user_id)
);

-- Who is mentioned where: one row per mentioned member (the author aside) of a message that is
-- not deleted, at the message's seq. A member's unread mentions in a room are a walk of the
-- primary key from their read marker.
CREATE TABLE mentions (
    user_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    room_id  bigint NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq      bigint NOT NULL,
    PRIMARY KEY (user_id, room_id, seq)
);
CREATE INDEX mentions_room_seq_idx ON mentions (room_id, seq);
