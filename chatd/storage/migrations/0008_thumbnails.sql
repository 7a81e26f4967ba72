-- 0008: image sizes and thumbnails of uploaded files.
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- An upload that decodes as a PNG, JPEG, GIF or WebP image (chatd/thumbnails.py) has its size
-- (width, height, after its EXIF orientation) and a thumbnail: WebP bytes stored like a file's,
-- by their SHA-256 (thumb_sha256), of thumb_width x thumb_height pixels. All NULL for any
-- other file, and for the files uploaded before this migration. A thumbnail's bytes are kept
-- while its file is, and collected with the file's (chatd/files.py collect): for a deleted
-- row, thumb_sha256 is set back to NULL once its bytes are gone, and the row is forgotten
-- once both are.
ALTER TABLE files
    ADD COLUMN width        integer CHECK (width > 0),
    ADD COLUMN height       integer CHECK (height > 0),
    ADD COLUMN thumb_sha256 text    CHECK (thumb_sha256 ~ '^[0-9a-f]{64}$'),
    ADD COLUMN thumb_width  integer CHECK (thumb_width > 0),
    ADD COLUMN thumb_height integer CHECK (thumb_height > 0);

-- Whether any kept row still refers to some bytes as its thumbnail.
CREATE INDEX files_thumb_sha256_idx ON files (thumb_sha256)
    WHERE deleted_at IS NULL AND thumb_sha256 IS NOT NULL;
-- The thumbnails of deleted messages' files, until their bytes are collected.
CREATE INDEX files_dead_thumb_idx ON files (thumb_sha256)
    WHERE deleted_at IS NOT NULL AND thumb_sha256 IS NOT NULL;
