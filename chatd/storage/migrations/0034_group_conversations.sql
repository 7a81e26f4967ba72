-- 0034: group conversations (docs/protocol.md, "Group conversations"): a conversation of 3 to
-- 8 people, room kind 'group', named '@' + its members' names in lower case, sorted, joined
-- by ':' (chatd.protocol.names.group_room_name). Created only by `dm` with all its members
-- in one statement (chatd/storage/postgres.py, _SQL_DIRECT_ROOM), as a 1:1 conversation is.
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- Both constraints are replaced NOT VALID, as 0014 and 0024 did with changes_kind_check: the
-- rows there pass the new ones (they are wider), so no table scan is needed at the upgrade.

-- 'group' joins the kinds of room.
ALTER TABLE rooms
    DROP CONSTRAINT rooms_kind_check,
    ADD CONSTRAINT rooms_kind_check CHECK (kind IN ('room', 'dm', 'group')) NOT VALID;

-- Every conversation, 1:1 or group, is private, has no owner, and is named '@...', which no
-- room can take (room names have neither '@' nor ':'): 0002's rule for kind 'dm', widened.
ALTER TABLE rooms
    DROP CONSTRAINT rooms_dm_shape_check,
    ADD CONSTRAINT rooms_conversation_shape_check
        CHECK (kind = 'room' OR (private AND owner_id IS NULL AND name LIKE '@%')) NOT VALID;
