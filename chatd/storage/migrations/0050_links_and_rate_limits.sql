-- 0050: search's has:link through a small table of the messages with links, and the
-- password reset limits kept in the database (so that they hold across nodes and workers).
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- has:link tested each message's text (`text ~* 'https?://[^[:space:]]'`), which no index
-- answers: below search's small windows (chatd/storage/search.py) a rare link cost a read of
-- the rooms' whole history. A message with a link now has a row here, as one with files has
-- rows in `files` and a poll its row in `polls`, and has:link reads the rooms' rows by this
-- index. The indexer writes them (chatd/storage/postgres.py, _INDEX_WORDS), in the statement
-- that computes the words, after the commit: nothing is added to the send path's statement,
-- and nothing at all is written for a message without a link (an edited one that lost its
-- link loses its row when it is indexed again; a deleted one loses it with its words,
-- chatd/storage/changes.py). No foreign key on message_id, for the reason of migration 0024:
-- messages are never deleted while their room lives; the room's key takes the rows when a
-- deleted room's row goes.
CREATE TABLE message_links (
    message_id  bigint  PRIMARY KEY,
    room_id     bigint  NOT NULL REFERENCES rooms (id) ON DELETE CASCADE
);
CREATE INDEX message_links_room_idx ON message_links (room_id, message_id);
-- The messages indexed before this migration (those not indexed yet get their row from the
-- indexer, as new ones do): one read of every message's text, at the upgrade only.
INSERT INTO message_links (message_id, room_id)
SELECT id, room_id FROM messages
WHERE deleted_at IS NULL AND words IS NOT NULL AND text ~* 'https?://[^[:space:]]';

-- Token buckets that every node shares (chatd/storage/limits.py): `tokens` left at `at`,
-- refilled at the bucket's rate since. A key is kept as its SHA-256 (a reset's key is what
-- someone typed, a name or an address, or a client's IP address: none of it needs keeping).
-- A row whose bucket has refilled is worth nothing and is deleted by the next take of that
-- bucket.
CREATE TABLE rate_limits (
    bucket  text        NOT NULL,
    key     bytea       NOT NULL,
    tokens  float8      NOT NULL,
    at      timestamptz NOT NULL,
    PRIMARY KEY (bucket, key)
);
CREATE INDEX rate_limits_at_idx ON rate_limits (bucket, at);
