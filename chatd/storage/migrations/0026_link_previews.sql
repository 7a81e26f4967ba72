-- 0026: link previews (chatd/previews.py): a message's first link shown as a card.
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.

-- A message's preview as it is now ({url, title, description, site, image: {id, sha256,
-- size, width, height}}, NULL for none), and the link it was decided for (preview_url:
-- the first link of the text when the server last made, or a person removed, a preview;
-- '' for a text without one; NULL while nothing was decided). The server stores a preview
-- only for the text's first link as it is then, and only once per link: a preview removed
-- by its author stays removed until an edit changes the link. Both go with the message's
-- words when it is deleted (a tombstone shows no preview).
ALTER TABLE messages
    ADD COLUMN preview     jsonb,
    ADD COLUMN preview_url text;

-- Each change of a preview is an entry of the room's log ('preview', with message_id):
-- preview holds the new one, NULL when it was removed (or its message deleted since).
ALTER TABLE changes ADD COLUMN preview jsonb;
-- A deleted message's preview entries, found by its id (as its edits are).
CREATE INDEX changes_previews_idx ON changes (message_id) WHERE kind = 'preview';

-- A preview's picture is a WebP thumbnail stored as a file of the message's room
-- (uploader: the message's author; message_id: the message), so that it is served with the
-- same rules and signed links as attachments' thumbnails. preview marks those rows: they are
-- not among the message's attachments (messages.files does not count them) nor against the
-- author's quota. A new preview of the message, or its deletion, marks the old row deleted,
-- and its bytes are collected as any deleted file's.
ALTER TABLE files ADD COLUMN preview boolean NOT NULL DEFAULT false;

-- 'preview' joins the kinds of change, and those that name a message. The lists are read
-- from the constraints as they are and extended, rather than written out again here, so
-- that this migration keeps whatever kinds another one (of any number) added. NOT VALID as
-- before: the rows there passed the older lists, and a large log is not scanned while every
-- node waits on this migration.
DO $$
DECLARE
    kinds text;
    message_kinds text;
BEGIN
    SELECT string_agg(quote_literal(k), ', ' ORDER BY k) INTO kinds FROM (
        SELECT (regexp_matches(pg_get_constraintdef(oid), '''([a-z_]+)''', 'g'))[1] AS k
        FROM pg_constraint
        WHERE conrelid = 'changes'::regclass AND conname = 'changes_kind_check'
        UNION SELECT 'preview'
    ) found;
    SELECT string_agg(quote_literal(k), ', ' ORDER BY k) INTO message_kinds FROM (
        SELECT (regexp_matches(pg_get_constraintdef(oid), '''([a-z_]+)''', 'g'))[1] AS k
        FROM pg_constraint
        WHERE conrelid = 'changes'::regclass AND conname = 'changes_target_check'
        UNION SELECT 'preview'
    ) found;
    EXECUTE 'ALTER TABLE changes DROP CONSTRAINT changes_kind_check, '
        || 'DROP CONSTRAINT changes_target_check';
    EXECUTE 'ALTER TABLE changes ADD CONSTRAINT changes_kind_check CHECK (kind IN ('
        || kinds || ')) NOT VALID, ADD CONSTRAINT changes_target_check CHECK ((kind IN ('
        || message_kinds || ')) = (message_id IS NOT NULL)) NOT VALID';
END
$$;
