-- 0049: drafts kept on the server (the `set_draft` and `drafts` requests, the `draft` event,
-- /api/me/drafts).
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- A user's half-typed message, one per room or conversation and per thread of it (Zulip's
-- drafts, Slack's and Mattermost's synced drafts): `thread` is the msg_id of the thread's
-- root, 0 for the room's own box (a key column cannot be NULL). `updated_at` is when it was
-- last stored: a page merging its own copy keeps the newer one, and clearing a draft when its
-- user sends in its room clears only one stored before that message (chatd/drafts.py).
--
-- The foreign key to the membership is what drops a draft when its user leaves the room, is
-- kicked or banned from it, or the room is deleted: with the membership, in the statement
-- that removes it, whichever does. A draft of a non-member cannot be stored. The primary key
-- serves the cascade (user_id, room_id first) and the user's list.
CREATE TABLE drafts (
    user_id    bigint      NOT NULL,
    room_id    bigint      NOT NULL,
    thread     bigint      NOT NULL DEFAULT 0,
    text       text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (user_id, room_id, thread),
    FOREIGN KEY (room_id, user_id) REFERENCES memberships (room_id, user_id) ON DELETE CASCADE
);
