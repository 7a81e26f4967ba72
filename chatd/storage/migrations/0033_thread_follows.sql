-- 0033: followed threads (the `follow_thread`, `read_thread` and `threads` requests, the
-- `thread_state` event, the welcome's `threads_unread`).
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- One row per (user, thread root) the user follows or has read. following: true (they
-- follow it), false (they unfollowed it by hand: being named or the root's authorship no
-- longer makes them follow it; replying or following by hand does), NULL (no decision: a row
-- only for read_seq, made by read_thread). read_seq: the seq of the last reply they have
-- read (their own replies count as read). last_at and last_seq: the thread's latest reply's
-- time and seq (the root's time and 0 before any reply), copied here by the statement that
-- inserts a reply (chatd/storage/postgres.py, _SQL_APPEND_INSERT_THREAD, under the room's
-- lock) so that a user's list is a walk of one index, latest reply first, and the hello's
-- unread probe reads no message of a thread with nothing new. Only the thread variant of
-- the append writes here: a plain message's statements are as they were.
CREATE TABLE thread_follows (
    user_id   bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    root_id   bigint      NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    room_id   bigint      NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    following boolean,
    read_seq  bigint      NOT NULL DEFAULT 0,
    last_at   timestamptz NOT NULL,
    last_seq  bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, root_id)
);

-- The `threads` page (and the hello's probe): a user's followed threads, latest reply first,
-- the root's id breaking ties (the page's cursor is (last_at, root_id)).
CREATE INDEX thread_follows_page_idx ON thread_follows (user_id, last_at DESC, root_id DESC)
    WHERE following;
-- A thread's rows: the followers a reply's append reads (and the rows whose last_at it
-- moves); a message purged takes its rows by this key too.
CREATE INDEX thread_follows_root_idx ON thread_follows (root_id, user_id);

-- A thread reply's mention rows say which are the follower mentions (the reply mentions the
-- thread's followers) rather than the text's own @names: `threads` counts only the latter
-- as a thread's `mentions`. A constant default: nothing is rewritten, and the statements
-- that insert other messages' rows are unchanged.
ALTER TABLE mentions ADD COLUMN IF NOT EXISTS by_follow boolean NOT NULL DEFAULT false;

-- The threads that exist: their roots' authors and repliers follow them, read up to their
-- latest reply (nothing unread at the upgrade).
INSERT INTO thread_follows (user_id, root_id, room_id, following, read_seq, last_at, last_seq)
SELECT w.user_id, t.id, t.room_id, true, l.seq, date_trunc('milliseconds', l.at), l.seq
FROM messages t
JOIN LATERAL (
    SELECT max(y.seq) AS seq, max(y.created_at) AS at
    FROM messages y WHERE y.room_id = t.room_id AND y.thread_root = t.id
) l ON l.seq IS NOT NULL
JOIN LATERAL (
    SELECT t.sender_id AS user_id
    UNION
    SELECT y.sender_id FROM messages y WHERE y.room_id = t.room_id AND y.thread_root = t.id
) w ON true
WHERE t.reply_count > 0
ON CONFLICT DO NOTHING;
