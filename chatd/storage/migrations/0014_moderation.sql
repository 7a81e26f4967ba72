-- 0014: roles, bans, server administrators, deactivated accounts, and the audit log.
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- Who may do what is decided in one place, chatd/storage/changes.py, under the room's lock:
-- moderation is a kind of change to a room, an entry of its log like a topic.

-- A server administrator may moderate every room (not conversations) and run the admin API.
-- A deactivated account keeps its name, its messages and its memberships, but cannot log in
-- and its tokens are refused (deactivating also moves tokens_valid_after, whose trigger of
-- migration 0004 ends its live sessions on every node).
ALTER TABLE users
    ADD COLUMN admin          boolean     NOT NULL DEFAULT false,
    ADD COLUMN deactivated_at timestamptz;

-- A member's role in the room. The owner is rooms.owner_id (kept where it was: a room has
-- exactly one, member or not); a member who is not the owner is a 'moderator' or a 'member'.
-- Handing ownership over makes the old owner a moderator.
ALTER TABLE memberships
    ADD COLUMN role text NOT NULL DEFAULT 'member' CHECK (role IN ('moderator', 'member'));

-- Who is banned from which room: they are not a member (the ban ended that), cannot join, be
-- invited, or read the room (public or not) while the ban holds: until it is lifted, or until
-- expires_at (NULL: for good). An expired row is inert; banning again replaces it. A ban may
-- name someone who is not a member (a spammer who left).
CREATE TABLE bans (
    room_id     bigint      NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    by_id       bigint      REFERENCES users (id) ON DELETE SET NULL,
    reason      text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    PRIMARY KEY (room_id, user_id)
);
-- Deleting a user (chatd never does) must not scan bans.
CREATE INDEX bans_user_id_idx ON bans (user_id);

-- Moderation is an entry of the room's log (so resume carries it, once, in seq order):
-- 'role' (text: the new role), 'banned' (text: the reason, expires_at), 'unbanned',
-- 'kicked'; target_id is the member it is about. The constraints are added NOT VALID: the
-- rows already there are of the older kinds and pass them, and a large log is not scanned
-- while every node waits on this migration; new rows are checked all the same.
ALTER TABLE changes
    ADD COLUMN target_id  bigint,
    ADD COLUMN expires_at timestamptz,
    DROP CONSTRAINT changes_kind_check,
    DROP CONSTRAINT changes_target_check;
ALTER TABLE changes
    ADD CONSTRAINT changes_kind_check CHECK (kind IN (
        'edited', 'deleted', 'reaction', 'topic', 'role', 'banned', 'unbanned', 'kicked'
    )) NOT VALID,
    ADD CONSTRAINT changes_target_check
        CHECK ((kind IN ('edited', 'deleted', 'reaction')) = (message_id IS NOT NULL)) NOT VALID,
    ADD CONSTRAINT changes_member_check
        CHECK ((kind IN ('role', 'banned', 'unbanned', 'kicked')) = (target_id IS NOT NULL))
        NOT VALID;

-- Every moderation and admin action: who (actor_id; NULL for the `chatd` command line),
-- what (action: set_role, ban, unban, kick, delete, set_topic, deactivate, reactivate,
-- set_password, admin), about whom (target_id), where (room_id), why (reason), and the rest
-- (details: the role, the message, the expiry...). Written in the transaction of the action
-- itself, so the log never shows an action that did not happen nor misses one that did.
-- Read newest first, by id: everything (admins), or one room's (its owner and moderators).
CREATE TABLE audit_log (
    id          bigserial   PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_id    bigint      REFERENCES users (id) ON DELETE SET NULL,
    action      text        NOT NULL,
    target_id   bigint      REFERENCES users (id) ON DELETE SET NULL,
    room_id     bigint      REFERENCES rooms (id) ON DELETE SET NULL,
    reason      text        NOT NULL DEFAULT '',
    details     jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_room_idx ON audit_log (room_id, id) WHERE room_id IS NOT NULL;

-- A removal by a moderator (a kick, a ban) names them in the membership notice, so that the
-- other nodes announce `left` with `by`, as the node that did it does. The transaction sets
-- chatd.by (set_config(..., true): for the transaction only) before it deletes the
-- membership. Payload '<application_name> <+|-> <room> <user>[ <by>]': an older node reads
-- only four-part payloads; upgrade every node (docs/operations.md, "Upgrading").
CREATE OR REPLACE FUNCTION chatd_notify_membership() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    row_ memberships;
    sign text;
    by_ text := coalesce(current_setting('chatd.by', true), '');
BEGIN
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
