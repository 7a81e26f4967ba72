-- 0015: archiving a room (read-only until unarchived) and deleting one.
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.

-- An archived room is read-only: no message, edit, reaction, topic, new member or typing
-- until it is unarchived (chatd/storage/changes.py and the appending statements check it
-- under the room's lock). Archiving is an entry of the room's log ('archived', with
-- reaction_on saying which way), so members and resumes learn it in seq order.
ALTER TABLE rooms ADD COLUMN archived boolean NOT NULL DEFAULT false;

-- A deleted room first becomes a tombstone, in a short transaction that every send to it
-- waits on: renamed to '~<id>' (no room name can start with '~', so its name is free at
-- once), private, without members, its files no longer served, deleted_at set. Its rows are
-- then deleted in a second transaction nobody waits on (a room nobody can name); a tombstone
-- left by a crash between the two is purged at the next start (PostgresStorage).
ALTER TABLE rooms ADD COLUMN deleted_at timestamptz;
CREATE INDEX rooms_deleted_idx ON rooms (id) WHERE deleted_at IS NOT NULL;

ALTER TABLE changes DROP CONSTRAINT changes_kind_check;
ALTER TABLE changes
    ADD CONSTRAINT changes_kind_check CHECK (kind IN (
        'edited', 'deleted', 'reaction', 'topic', 'role', 'banned', 'unbanned', 'kicked',
        'archived'
    )) NOT VALID;

-- The audit log outlives the rooms it names: room_name keeps the name of a room once it is
-- deleted (room_id then goes NULL, by the foreign key of 0014). Readers show
-- coalesce(the room's name, room_name).
ALTER TABLE audit_log ADD COLUMN room_name text;

-- A deleted room's files: their rows stay, deleted (not served, not counted against a
-- quota), until the collector (chatd/files.py) removes their bytes and then them; they no
-- longer refer to the room. The index finds a room's files when it is deleted. The key is
-- added NOT VALID: the rows there were checked by the key it replaces, and a large table is
-- not scanned while every node waits on this migration; new rows are checked all the same.
ALTER TABLE files ALTER COLUMN room_id DROP NOT NULL;
ALTER TABLE files DROP CONSTRAINT files_room_id_fkey;
ALTER TABLE files
    ADD CONSTRAINT files_room_id_fkey FOREIGN KEY (room_id) REFERENCES rooms (id)
        ON DELETE SET NULL NOT VALID;
CREATE INDEX files_room_id_idx ON files (room_id) WHERE room_id IS NOT NULL;

-- Deleting a room's memberships says nothing to the other nodes one member at a time (they
-- get one notice on channel 'chatd_rooms' for the room, and tell its members
-- `room_deleted`): the transaction sets chatd.quiet, and this function then stays silent.
CREATE OR REPLACE FUNCTION chatd_notify_membership() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    row_ memberships;
    sign text;
    by_ text := coalesce(current_setting('chatd.by', true), '');
BEGIN
    IF coalesce(current_setting('chatd.quiet', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        row_ := NEW;
        sign := '+';
        by_ := '';
    ELSE
        row_ := OLD;
        sign := '-';
    END IF;
    PERFORM pg_notify(
        'chatd_members',
        current_setting('application_name') || ' ' || sign || ' '
            || (SELECT name FROM rooms WHERE id = row_.room_id) || ' '
            || (SELECT name FROM users WHERE id = row_.user_id)
            || CASE WHEN by_ <> '' THEN ' ' || by_ ELSE '' END
    );
    RETURN NULL;
END
$$;
