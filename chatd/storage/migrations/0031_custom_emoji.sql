-- 0031: custom emoji (chatd/actions/emoji.py, chatd/http/emoji.py).
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.

-- A custom emoji is a name, server-wide (every user sees every one, as in Slack, Mattermost
-- and Zulip), and a picture the server made (a WebP that fits 128x128): its SHA-256, served
-- at /api/emoji/images/<sha256> as profile pictures are (migration 0028). creator_id: who
-- added it (they may remove it, as may a server administrator). file_id: the row of files
-- that keeps the bytes (below); removing the emoji marks it deleted, in the same statement.
CREATE TABLE custom_emoji (
    name        text        PRIMARY KEY CONSTRAINT custom_emoji_name
                                CHECK (name ~ '^[a-z0-9_+-]{1,32}$'),
    sha256      text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    creator_id  bigint      NOT NULL REFERENCES users (id),
    file_id     bigint      NOT NULL REFERENCES files (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The picture's bytes are a file of no room marked emoji, as a profile picture's are marked
-- avatar (migration 0028): the collector (chatd/files.py) keeps them while the row is kept
-- and removes them once it is deleted and nothing else has them. Never served as a file,
-- never expired as an unattached upload, not counted against the uploader's quota.
ALTER TABLE files ADD COLUMN emoji boolean NOT NULL DEFAULT false;
ALTER TABLE files ADD CONSTRAINT files_emoji_roomless
    CHECK (NOT emoji OR (room_id IS NULL AND message_id IS NULL)) NOT VALID;
