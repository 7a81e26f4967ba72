-- 0025: profiles: a display name and a custom status per user.
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.

-- Columns of the user's row, so that what already reads that row (a token's check, a
-- hello's first statement) reads them with it, at no extra statement; who and contacts read
-- them with the row of each member they list. A status is an emoji and a text ('' for none
-- of either, never both), whole or absent (both NULL); until status_until, or until cleared
-- (NULL). A status past its time is as good as none: readers compare status_until with the
-- clock, nothing has to run when it ends (as dnd_until, migration 0023); a write of the
-- profile clears it for good. The lengths are the protocol's (chatd.protocol.profiles),
-- checked here too so that no path can store more.
ALTER TABLE users
    ADD COLUMN display_name text
        CONSTRAINT users_display_name_length CHECK (char_length(display_name) BETWEEN 1 AND 64),
    ADD COLUMN status_emoji text
        CONSTRAINT users_status_emoji_length CHECK (char_length(status_emoji) <= 32),
    ADD COLUMN status_text text
        CONSTRAINT users_status_text_length CHECK (char_length(status_text) <= 100),
    ADD COLUMN status_until timestamptz,
    ADD CONSTRAINT users_status_whole CHECK (
        (status_emoji IS NULL) = (status_text IS NULL)
        AND (status_text IS NOT NULL OR status_until IS NULL)
        AND (status_emoji IS NULL OR status_emoji <> '' OR status_text <> '')
    );

-- A profile set on one node reaches the other nodes: channel 'chatd_profiles', payload
-- '<application_name> <user> <profile JSON>' ({display_name, emoji, text, until}, until in
-- ms since the epoch or null; names hold no space, the JSON is the rest). Only when a stored
-- value changed. At most a few hundred bytes: the lengths above bound it.
CREATE FUNCTION chatd_notify_profile() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(
        'chatd_profiles',
        current_setting('application_name') || ' ' || NEW.name || ' '
            || json_build_object(
                'display_name', NEW.display_name,
                'emoji', NEW.status_emoji,
                'text', NEW.status_text,
                'until', floor(extract(epoch FROM NEW.status_until) * 1000)::bigint
            )::text
    );
    RETURN NULL;
END
$$;

CREATE TRIGGER users_notify_profile
    AFTER UPDATE OF display_name, status_emoji, status_text, status_until ON users
    FOR EACH ROW
    WHEN (NEW.display_name IS DISTINCT FROM OLD.display_name
          OR NEW.status_emoji IS DISTINCT FROM OLD.status_emoji
          OR NEW.status_text IS DISTINCT FROM OLD.status_text
          OR NEW.status_until IS DISTINCT FROM OLD.status_until)
    EXECUTE FUNCTION chatd_notify_profile();
