-- 0028: profile pictures (chatd/actions/profile.py, chatd/http/avatars.py).
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.

-- A user's picture: the SHA-256 of its bytes (a 256x256 WebP the server made), NULL for
-- none. A column of the user's row, as the rest of the profile (migration 0025), so that
-- what reads the profile reads it at no extra statement. Its url is named by those bytes
-- (/api/avatars/<sha256>): a new picture is a new url, and the old one can be cached for
-- good.
ALTER TABLE users
    ADD COLUMN avatar text CONSTRAINT users_avatar_sha256 CHECK (avatar ~ '^[0-9a-f]{64}$');

-- The picture's bytes are a file of no room (room_id NULL, message_id NULL) marked avatar,
-- so that the collector (chatd/files.py) keeps them while the row is kept and removes them
-- once it is deleted, as any file's. Those rows are never served as files (the file routes
-- read files of rooms only), never expire as unattached uploads and do not count against
-- their uploader's quota. A new picture, or its removal, marks the old row deleted, in the
-- transaction that changes users.avatar.
ALTER TABLE files ADD COLUMN avatar boolean NOT NULL DEFAULT false;
ALTER TABLE files ADD CONSTRAINT files_avatar_roomless
    CHECK (NOT avatar OR (room_id IS NULL AND message_id IS NULL)) NOT VALID;
-- A user's kept picture, found when they change it.
CREATE INDEX files_avatar_idx ON files (uploader_id) WHERE avatar AND deleted_at IS NULL;

-- The other nodes hear of a new picture as of the rest of the profile (migration 0025's
-- channel 'chatd_profiles'): the JSON gains 'avatar' (the SHA-256 or null), and the trigger
-- fires on that column too. The function is replaced whole; the payload stays a few
-- hundred bytes.
CREATE OR REPLACE FUNCTION chatd_notify_profile() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(
        'chatd_profiles',
        current_setting('application_name') || ' ' || NEW.name || ' '
            || json_build_object(
                'display_name', NEW.display_name,
                'emoji', NEW.status_emoji,
                'text', NEW.status_text,
                'until', floor(extract(epoch FROM NEW.status_until) * 1000)::bigint,
                'avatar', NEW.avatar
            )::text
    );
    RETURN NULL;
END
$$;

DROP TRIGGER users_notify_profile ON users;
CREATE TRIGGER users_notify_profile
    AFTER UPDATE OF display_name, status_emoji, status_text, status_until, avatar ON users
    FOR EACH ROW
    WHEN (NEW.display_name IS DISTINCT FROM OLD.display_name
          OR NEW.status_emoji IS DISTINCT FROM OLD.status_emoji
          OR NEW.status_text IS DISTINCT FROM OLD.status_text
          OR NEW.status_until IS DISTINCT FROM OLD.status_until
          OR NEW.avatar IS DISTINCT FROM OLD.avatar)
    EXECUTE FUNCTION chatd_notify_profile();
