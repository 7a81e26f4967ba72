-- 0002: contacts, and the rules 1:1 conversations live by.
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.

-- A user's contacts: a one-way list (adding someone asks nothing of them). Nobody is their
-- own contact. contact_id has its own index so that deleting a user does not scan the table.
CREATE TABLE contacts (
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    contact_id  bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, contact_id),
    CONSTRAINT contacts_not_self_check CHECK (user_id <> contact_id)
);
CREATE INDEX contacts_contact_id_idx ON contacts (contact_id);

-- A 1:1 conversation (kind 'dm') is private and has no owner: nobody can invite a third person
-- in or kick the other one out. Its name is '@a:b' (chatd.protocol.names.dm_room_name), which no
-- room can take, since room names have neither '@' nor ':'.
ALTER TABLE rooms ADD CONSTRAINT rooms_dm_shape_check
    CHECK (kind <> 'dm' OR (private AND owner_id IS NULL AND name LIKE '@%'));

-- Unread counts and read markers need nothing new: counting walks messages (room_id, seq),
-- the index behind messages_room_seq_key, from the member's read_seq.

-- Listing public rooms should not walk every conversation: there can be far more of those
-- (one per pair of users who talked) than rooms.
CREATE INDEX rooms_public_name_idx ON rooms (name) WHERE NOT private AND kind = 'room';
