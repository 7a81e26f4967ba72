-- 0007: files uploaded to rooms, and the messages they are attached to.
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- The bytes live on disk under data_dir/files, named by their SHA-256 (several rows may share
-- one file); a row is what a user uploaded: its sanitised name (never used as a path), its
-- declared type, its uploader and room. message_id is NULL until a message of the uploader in
-- that room attaches it (once); deleted_at is set when that message is deleted, after which
-- the file is not served and no longer counts against the uploader's quota.
CREATE TABLE files (
    id            bigserial   PRIMARY KEY,
    sha256        text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size          bigint      NOT NULL CHECK (size >= 0),
    name          text        NOT NULL,
    content_type  text        NOT NULL,
    uploader_id   bigint      NOT NULL REFERENCES users (id),
    room_id       bigint      NOT NULL REFERENCES rooms (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    message_id    bigint      REFERENCES messages (id),
    deleted_at    timestamptz
);
-- A message's files, looked up only for messages that have any (messages.files > 0).
CREATE INDEX files_message_id_idx ON files (message_id) WHERE message_id IS NOT NULL;
-- An uploader's quota: the sum of their kept files.
CREATE INDEX files_uploader_idx ON files (uploader_id) WHERE deleted_at IS NULL;
-- Whether any kept row still refers to some bytes.
CREATE INDEX files_sha256_idx ON files (sha256) WHERE deleted_at IS NULL;
-- The rows of deleted messages' files, until their bytes are collected (chatd/files.py).
CREATE INDEX files_dead_idx ON files (sha256) WHERE deleted_at IS NOT NULL;

-- How many files a message carries: 0 for nearly all, so that reading a page of the log
-- looks files up only for the messages that have some.
ALTER TABLE messages ADD COLUMN files smallint NOT NULL DEFAULT 0;
