-- 0009: uploads that no message attached in time expire.
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- An upload still unattached `files.unattached_seconds` after it was made is expired by
-- setting its deleted_at, as a deleted message's files are: it is no longer served nor
-- counted against its uploader's quota, no message can attach it, and collect
-- (chatd/files.py) removes its bytes once no kept file shares them. The sweep that finds
-- them (hourly, in collect) walks this index of the unattached uploads only, oldest first.
CREATE INDEX files_unattached_idx ON files (created_at)
    WHERE message_id IS NULL AND deleted_at IS NULL;
