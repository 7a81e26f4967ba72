"""PostgreSQL storage: the :class:`~chatd.storage.base.Storage` interface on asyncpg.

Theory of operation
-------------------
asyncpg runs on a private asyncio loop, driven from trio's thread (``chatd/storage/bridge.py``).
Every public method of :class:`PostgresStorage` is one crossing of that bridge: the trio side
calls ``self._run(self._do_x, ...)``, the ``_do_x`` coroutine runs on the loop, takes a pooled
connection, runs its statements and returns dataclasses. Crossings cost, so each method does its
whole job in one crossing and as few round trips to the server as its SQL allows.

Refusals come back as :class:`ChatError`; anything the database or the network throws becomes
:class:`StorageUnavailable` at the crossing, so that nothing above this package sees asyncpg.

A database that does not answer must not hang anyone. Every statement is bounded twice by
``[database] statement_timeout``: by the server (``statement_timeout``, which also ends lock
waits) and by asyncpg (``command_timeout``, for a server that does not answer at all: stopped,
or cut off); connecting is bounded by ``[database] connect_timeout``. A call that times out or
whose trio caller is cancelled (the bridge returns to the caller at once) terminates its
connection instead of waiting for the server to acknowledge a cancel request, so the
connection goes back to the pool at once (as a slot that reconnects when next used). A commit
whose outcome is unknown (a timeout after the statement was sent) is reported as unavailable,
never as stored; the client resends with the same nonce, and the (sender, nonce) key stores it
once either way. The group committer settles such commits all the same, off the send path
(:meth:`PostgresStorage.messages_by_nonce`, after the lost connection's backend is done).
Migrations run on a connection of their own, without the statement timeout.

While the storage is open, a watcher task (:meth:`PostgresStorage.watch`) probes the database
every ``PROBE_INTERVAL`` seconds and restarts the embedded server when its postmaster has died
(with a growing delay between failed attempts, each logged). If the embedded database has
not answered for ``[database] watchdog_grace`` seconds all the same, :meth:`database_lost`
turns true, the daemon stops feeding systemd's watchdog, and systemd restarts it.

Appending (the hot path) is two statements for a whole batch:

1. one read resolves every message's room, the sender's membership and name, and any message
   already stored under the same (sender, nonce);
2. one statement, hence one transaction, locks the involved rooms in id order (``FOR NO KEY
   UPDATE``: two nodes batching the same rooms cannot deadlock), bumps each room's ``last_seq``
   by its number of new messages and inserts them all from ``unnest`` arrays. The room row lock
   is held until commit, so per room the commit order is the seq order, across every node
   sharing the database: a reader who sees seq N committed will never see a smaller seq appear.

If another node stored the same (sender, nonce) between the two statements, the insert fails on
the unique constraint, nothing is committed, and the batch is retried from step 1, where that
message now shows up as a duplicate.

A batch of up to ``ONE_TRIP_MAX`` plain messages (everyday load) runs both steps in one call
of the SQL function ``chatd_append`` (migration 0020): one round trip and one transaction, and
step 1's plan kept by the connection instead of made again for every batch. A lone plain
message, the most common batch of all, takes one statement of its own instead
(``_SQL_APPEND_LONE``), cheaper still. A statement the
client gave up on (a timeout) may then have stored its messages all the same, as an insert
could before: the resend is their duplicate.

Rooms and conversations share the ``rooms`` table. A 1:1 conversation is a room of kind ``dm``,
private, without owner, named by :func:`chatd.protocol.names.dm_room_name`, with both users as
members; a group conversation (migration 0034) is the same of kind ``group``, named by
:func:`chatd.protocol.names.group_room_name`, with its 3 to 8 people as members. Either is
created only by :meth:`PostgresStorage.direct_room`, never by joining, and nobody
leaves it, is invited into it or is kicked from it. Creating one races when two start
talking at once: each side inserts the room (with all its memberships, in the same statement)
``ON CONFLICT (name) DO NOTHING``; the loser's insert waits for the winner's commit and does
nothing, and the loser then reads the winner's room in a fresh statement (a statement cannot
see a row committed after its own snapshot was taken). Private rooms, conversations alike, are
visible (history, members, read markers) to their members only.

A membership carries the member's read marker (``read_seq``). Unread counts are computed when
rooms are listed, not kept up to date as messages arrive, which would put a write per member on
the hot path. A room's log is dense (every seq up to ``last_seq`` is a message or a change),
so the entries after a marker are ``last_seq - read_seq``; the unread messages are those but
the changes, the reader's own messages and the deleted ones, each counted by a short walk of
an index that holds only them (migration 0016), at most ``UNREAD_CAP`` in all: a room with a
million unread messages lists as fast as one with ten. (The user's own messages after the
marker are not counted: sending does not move the marker.) When one of those walks is long,
the count walks the messages from the marker instead, stopped after ``UNREAD_CAP`` of
others'. A listing counts only the rooms it returns (a page of the overview counts its page),
and a room read to its end costs nothing.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import datetime
import functools
import json
import logging
import re
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar, TypeVarTuple, Unpack

import asyncpg
import trio

from chatd.config import Config
from chatd.errors import ChatError
from chatd.protocol import codes
from chatd.protocol.names import GROUP_MAX, conversation_name, is_conversation
from chatd.search import SearchQuery
from chatd.sections import SectionList, sections_from_json
from chatd.storage import bots, exports
from chatd.storage import drafts as user_drafts
from chatd.storage import email as mail
from chatd.storage import invitations as invites
from chatd.storage import limits as shared_limits
from chatd.storage import room_links as links
from chatd.storage import sections as sidebar
from chatd.storage import user_groups as groups
from chatd.storage.alerts import alerted
from chatd.storage.base import (
    EDIT_VERSIONS_MAX,
    NO_CUSTOM_STATUS,
    THREAD_USERS,
    THREADS_UNREAD_CAP,
    UNREAD_CAP,
    AdminRoom,
    Appended,
    AuditEntry,
    Badges,
    Ban,
    Bot,
    BotToken,
    Change,
    CommitNotice,
    Conversation,
    Credentials,
    CustomEmoji,
    CustomStatus,
    DatabaseFigures,
    DndNotice,
    EditHistory,
    EditVersion,
    EmailBatch,
    EmailSettings,
    EmailTarget,
    ExportedFile,
    ExportState,
    FavouriteMark,
    FileInfo,
    FollowedThread,
    Forwarded,
    GroupScope,
    Hook,
    HookTarget,
    ImageFacts,
    Invitation,
    InvitedUser,
    Joined,
    LinkedRoom,
    ListeningNotice,
    MarkedRead,
    Member,
    MemberPage,
    MembershipNotice,
    Message,
    NewChange,
    NewEntry,
    NewMessage,
    NewPoll,
    NodeSeen,
    NodesSeen,
    NotifyNotice,
    Page,
    Poll,
    PollOption,
    PresenceAudience,
    PresenceNotice,
    Profile,
    ProfileNotice,
    PushSubscription,
    PushTarget,
    ReadMarker,
    ReadMove,
    ReadPosition,
    Receipts,
    Reminder,
    ReminderNotice,
    ResetTarget,
    RevocationNotice,
    Room,
    RoomDeletedNotice,
    RoomLink,
    RoomWebhook,
    SavedItem,
    ScheduledItem,
    ScheduledWork,
    SearchPage,
    SectionsChange,
    SessionRooms,
    SessionStart,
    Storage,
    StorageStatistics,
    StorageUnavailable,
    StoredDraft,
    StoredFile,
    TargetsNotice,
    ThreadPage,
    ThreadState,
    User,
    UserEventNotice,
    UserGroup,
    UserGroupChange,
    WebhookTargets,
)
from chatd.storage.bridge import AsyncioBridge, BridgeClosed
from chatd.storage.changes import BANS_LOCK, apply_changes, preview_from_json
from chatd.storage.embedded import EmbeddedPostgres, start_embedded
from chatd.storage.migrations import apply_migrations
from chatd.storage.search import LINK_PATTERN, find_ids
from chatd.storage.sql import moderates
from chatd.storage.sql import ms as _ms
from chatd.storage.sql import ts as _ts
from chatd.storage.sql import words_of as _words_of

__all__ = ["PostgresStorage", "migrate", "open_storage", "parse_presence",
           "presence_payloads"]

log = logging.getLogger("chatd.storage")

T = TypeVar("T")
PosArgsT = TypeVarTuple("PosArgsT")

# Seconds to wait for a new connection where no config says (``chatd migrate``, backups).
CONNECT_TIMEOUT = 10.0
# Seconds between probes of the database by the watcher task.
PROBE_INTERVAL = 1.0
# Delays between attempts at restarting a dead embedded server: doubled after each failure.
RESTART_DELAY_MIN = 0.5
RESTART_DELAY_MAX = 30.0
# Seconds to wait for the pool to close gracefully before its connections are cut.
CLOSE_TIMEOUT = 5.0
# Attempts at a batch that keeps losing a (sender, nonce) race to another node.
APPEND_ATTEMPTS = 3
# Connections lost in the middle of an append remembered at most (see _TerminatingPool.lost).
LOST_MAX = 64
# The NOTIFY channel of commits (migration 0003), and how soon to listen again after a loss.
COMMIT_CHANNEL = "chatd_commits"
MEMBERS_CHANNEL = "chatd_members"
REVOCATIONS_CHANNEL = "chatd_revocations"  # migration 0004
ROOMS_CHANNEL = "chatd_rooms"  # migration 0015: '<node> <room> <by>', a room deleted
LEVELS_CHANNEL = "chatd_levels"  # migration 0012
PRESENCE_CHANNEL = "chatd_presence"  # migration 0017
TARGETS_CHANNEL = "chatd_targets"  # migration 0021: '<node> <table>'
#: '<node> <user> <frame>', a frame for a user's connections on the other nodes
#: (PostgresStorage.tell_elsewhere: sent by the daemon itself, no trigger).
USER_EVENTS_CHANNEL = "chatd_user_events"
#: '<node> <room> <msg_id> <remind_at ms> <user>', a reminder claimed (migration 0030; sent
#: by the claiming statement, _SQL_CLAIM_REMINDERS).
REMINDERS_CHANNEL = "chatd_reminders"
DND_CHANNEL = "chatd_dnd"  # migration 0023: '<node> <until ms|-> <user>'
PROFILES_CHANNEL = "chatd_profiles"  # migration 0025: '<node> <user> <profile JSON>'
#: The tables whose rows are outgoing targets (migration 0021), each probed by any_targets;
#: and "email", the users with missed-message emails on (migration 0046: its notices, and
#: any_email_targets).
TARGET_TABLES = ("room_webhooks", "push_subscriptions")
TARGET_NOTICES = (*TARGET_TABLES, "email")
# A notice's payload must stay under 8,000 bytes: presence notices are split past this.
NOTICE_BYTES = 7000
LISTEN_RETRY_MIN = 0.5
LISTEN_RETRY_MAX = 30.0

_MAX_SEQ = 2**63 - 1
#: The latest time a cursor in ms may say (the last ms of the year 9999): PostgreSQL's
#: timestamptz ends long before the largest bigint.
MAX_TS = 253_402_300_799_999

# Errors that mean "the database failed or cannot be reached": they become StorageUnavailable.
_UNAVAILABLE = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,  # includes ConnectionError and (since 3.11) asyncio.TimeoutError
    BridgeClosed,
)


# A custom status of user row {u} in force (migration 0025): none past its time.
_STATUS_LIVE = "({u}.status_until IS NULL OR {u}.status_until > now())"
# The profile of user row {u} (migrations 0025, 0028): the columns _profile reads.
_PROFILE_COLUMNS = """{u}.display_name, {u}.avatar,
CASE WHEN {live} THEN {u}.status_emoji END AS status_emoji,
CASE WHEN {live} THEN {u}.status_text END AS status_text,
CASE WHEN {live} THEN {until} END AS status_until"""


def _profile_columns(alias: str) -> str:
    return _PROFILE_COLUMNS.format(u=alias, live=_STATUS_LIVE.format(u=alias),
                                   until=_ms(f"{alias}.status_until"))


# dnd_until only while it is ahead (migration 0023): a pause that ended is no pause.
_USER_COLUMNS = (f"u.id, u.name, {_ms('u.created_at')} AS created_at, u.admin, "
                 f"{_ms('u.deactivated_at')} AS deactivated_at, u.bot, "
                 f"CASE WHEN u.dnd_until > now() THEN {_ms('u.dnd_until')} END AS dnd_until, "
                 "u.read_receipts, " + _profile_columns("u"))
# pins: a column kept by the pins' transactions (migration 0024), so that listing many rooms
# costs no count of their pins.
_ROOM_COLUMNS = ("r.id, r.name, r.kind, r.private, r.topic, o.name AS owner, r.last_seq, "
                 "r.archived, r.pins")

# A ban of user {user} from room {room} that is in force (migration 0014).
_BANNED = """EXISTS (
    SELECT 1 FROM bans bn WHERE bn.room_id = {room} AND bn.user_id = {user}
      AND (bn.expires_at IS NULL OR bn.expires_at > now())
)"""

# Who may read a room r and list its members: anyone not banned from it for a public room,
# members otherwise (a banned user is no member: the ban ended that).
_READABLE = """
((NOT r.private AND r.kind = 'room' AND NOT """ + _BANNED.format(room="r.id", user="{user}") + """)
 OR EXISTS (
    SELECT 1 FROM memberships rm WHERE rm.room_id = r.id AND rm.user_id = {user}
))
"""

# A member's role in room r from their membership m: the owner is the room's.
_ROLE = "CASE WHEN r.owner_id = m.user_id THEN 'owner' ELSE m.role END"

# The other member of conversation r, as user {me} sees it (themselves only in a conversation
# with oneself); no row for a room. Joined LATERAL as "peer". And the other members of a group
# conversation (migration 0034), as registered, sorted ignoring case: "peers" (NULL names
# for any other kind; the kind tests are one-time filters: a room reads no membership here).
_PEER_JOIN = """
LEFT JOIN LATERAL (
    SELECT pu.name FROM memberships pm JOIN users pu ON pu.id = pm.user_id
    WHERE r.kind = 'dm' AND pm.room_id = r.id
    ORDER BY pm.user_id = {me}
    LIMIT 1
) peer ON true
LEFT JOIN LATERAL (
    SELECT array_agg(gu.name ORDER BY lower(gu.name) COLLATE "C") AS names
    FROM memberships gm JOIN users gu ON gu.id = gm.user_id
    WHERE r.kind = 'group' AND gm.room_id = r.id AND gm.user_id <> {me}
) peers ON true
"""

# The quote of message q (sender qu) in a reply: who wrote it and how it begins, or that it
# is gone. JSON text, read with json.loads.
_QUOTE = """
CASE WHEN q.deleted_at IS NOT NULL THEN json_build_object('deleted', true)::text
     ELSE json_build_object('from', qu.name, 'text', left(q.text, 200))::text END
"""


def _favourite_at(m: str) -> str:
    """SQL: membership ``m``'s favourite mark (migration 0038) as ms, named favourite_at."""
    return f"{_ms(m + '.favourite_at')} AS favourite_at"


# A member's view of room r from their membership m (NULL for a room they are not in: then
# member is false, the counts 0). The unread counts are functions of migration 0016, which
# says how they stay bounded: the messages after the marker are the entries after it
# (last_seq - read_seq: the log is dense) but the changes, the reader's own messages and the
# deleted ones, each a short walk of an index of its own (falling back to a walk of the
# messages from the marker, stopped at UNREAD_CAP, when one of those is long); the unread
# mentions walk the member's own rows of ``mentions`` (migration 0006, its primary key) from
# the marker, stopped at UNREAD_CAP. A room the member has read to its end (last_seq is the
# room's latest entry) skips both.
# The notification level is a column of the membership (migration 0012): no lookup of its own;
# so is hidden_seq, where the member closed a conversation (migration 0037), and favourite_at,
# when they marked it a favourite (migration 0038; in ms, as JSON carries it in the hello),
# and section, the user's section it is in (migration 0041).
_MEMBER_COLUMNS = f"""
m.user_id IS NOT NULL AS member, coalesce(m.read_seq, 0) AS read_seq, m.notify,
m.hidden_seq, {_favourite_at("m")}, m.section, {_ROLE} AS role, peer.name AS peer,
peers.names AS peers,
CASE WHEN r.last_seq > m.read_seq
     THEN chatd_unread_messages(r.id, m.read_seq, r.last_seq, m.user_id, {UNREAD_CAP})
     ELSE 0 END
    AS unread,
CASE WHEN r.last_seq > m.read_seq
     THEN chatd_unread_mentions(r.id, m.read_seq, m.user_id, {UNREAD_CAP}) ELSE 0 END
    AS mentions
"""

# The rooms and conversations user $1 is in, with their view of each.
_SQL_MY_ROOMS = f"""
SELECT {_ROOM_COLUMNS}, {_MEMBER_COLUMNS}
FROM memberships m JOIN rooms r ON r.id = m.room_id LEFT JOIN users o ON o.id = r.owner_id
{_PEER_JOIN.format(me="m.user_id")}
WHERE m.user_id = $1
"""

# By index however many contacts and users there are: the names the user's contact rows
# keep (migration 0018), one index-only walk of contacts_user_name_idx, in the order of the
# contacts op (lower case, code point order: as Python's str.lower sorts the names, which are
# ASCII). Before 0018 the names were one lookup of users_pkey per contact (6 ms at 10,000),
# then a sort.
_CONTACT_NAMES = """
SELECT c.name FROM contacts c WHERE c.user_id = $1 ORDER BY lower(c.name) COLLATE "C"
"""
_SQL_CONTACTS = _CONTACT_NAMES

# A page of user $1's contacts after $2 (lower case), $3 at most: the walk of
# contacts_user_name_idx from the cursor, the page's own rows (migration 0018).
_SQL_CONTACT_PAGE = """
SELECT c.name FROM contacts c
WHERE c.user_id = $1 AND lower(c.name) COLLATE "C" > $2
ORDER BY lower(c.name) COLLATE "C"
LIMIT $3
"""

# The same page with each contact's profile (migration 0025): the page's rows, then one
# probe of users_pkey each (the page's cost, never all the contacts' nor all the users': the
# LATERAL with its LIMIT keeps it a probe per row, where a join may hash every user).
_SQL_CONTACT_PROFILES = f"""
SELECT c.name, p.*
FROM contacts c CROSS JOIN LATERAL (
    SELECT {_profile_columns("u")}, u.deactivated_at IS NOT NULL AS deactivated
    FROM users u WHERE u.id = c.contact_id
    LIMIT 1
) p
WHERE c.user_id = $1 AND lower(c.name) COLLATE "C" > $2
ORDER BY lower(c.name) COLLATE "C"
LIMIT $3
"""

# The light read of a hello's rooms (PostgresStorage.session_rooms): each room's name and
# last_seq, no counts; memberships_user_id_idx, each room by its primary key.
_SQL_ROOM_HEADS = """
SELECT r.name, r.last_seq FROM memberships m JOIN rooms r ON r.id = m.room_id
WHERE m.user_id = $1
"""

# What a hello subscribes to before it reads the rooms in full: the names of user $1's rooms
# and of their contacts, in one statement (two index walks: memberships_user_id_idx, each
# room by id; contacts_user_name_idx, index-only).
_SQL_ROOM_AND_CONTACT_NAMES = f"""
SELECT ARRAY(
    SELECT r.name FROM memberships m JOIN rooms r ON r.id = m.room_id WHERE m.user_id = $1
) AS rooms, ARRAY({_CONTACT_NAMES}) AS contacts
"""


# A new user; made an administrator ($3) from the command line, which the audit log says.
_SQL_CREATE_USER = f"""
WITH u AS (
    INSERT INTO users AS u (name, password_hash, admin) VALUES ($1, $2, $3)
    ON CONFLICT ((lower(name))) DO NOTHING
    RETURNING {_USER_COLUMNS}
), audited AS (
    INSERT INTO audit_log (action, target_id, details)
    SELECT 'admin', id, '{{"admin": true}}' FROM u WHERE u.admin
)
SELECT * FROM u
"""

# The audit log's row for an action on a user (the row of CTE "u"), by $1 (NULL: the command
# line), with its details ($2, JSON), if the CTE "changed" has a row.
_AUDIT_USER = """
, audited AS (
    INSERT INTO audit_log (actor_id, action, target_id, details)
    SELECT $1::bigint, {action}, u.id, $2::jsonb FROM u WHERE EXISTS (SELECT 1 FROM changed)
)
"""

_SQL_SET_PASSWORD = f"""
WITH u AS (
    UPDATE users u SET password_hash = $4,
        tokens_valid_after = greatest(tokens_valid_after, {_ts("$5")})
    WHERE lower(u.name) = lower($3)
    RETURNING {_USER_COLUMNS}
), changed AS (SELECT 1 FROM u){_AUDIT_USER.format(action="'set_password'")}
SELECT * FROM u
"""

_SQL_LIST_USERS = f"""
SELECT {_USER_COLUMNS} FROM users u ORDER BY lower(u.name)
"""

# A page of users by lower(name) (the unique index's order), whose name holds $1 (lower
# case), after $2, at most $3. A search walks the index from $2 and checks each name it meets.
_SQL_FIND_USERS = f"""
SELECT {_USER_COLUMNS} FROM users u
WHERE lower(u.name) > $2 AND strpos(lower(u.name), $1) > 0
ORDER BY lower(u.name)
LIMIT $3
"""

_SQL_SET_ADMIN = f"""
WITH old AS (
    SELECT id, admin FROM users WHERE lower(name) = lower($3) FOR UPDATE
), u AS (
    UPDATE users u SET admin = $4 FROM old WHERE u.id = old.id
    RETURNING {_USER_COLUMNS}
), changed AS (
    SELECT 1 FROM old WHERE old.admin <> $4
){_AUDIT_USER.format(action="'admin'")}
SELECT * FROM u
"""

# Deactivating also revokes every token (the trigger of migration 0004 tells every node) and
# forgets the push subscriptions; reactivating changes deactivated_at alone.
_SQL_SET_DEACTIVATED = f"""
WITH old AS (
    SELECT id, deactivated_at IS NOT NULL AS deactivated FROM users
    WHERE lower(name) = lower($3) FOR UPDATE
), u AS (
    UPDATE users u SET
        deactivated_at = CASE WHEN NOT $4 THEN NULL
                              ELSE coalesce(u.deactivated_at, {_ts("$5")}) END,
        tokens_valid_after = CASE WHEN $4 AND NOT old.deactivated
                                  THEN greatest(u.tokens_valid_after, {_ts("$5")})
                                  ELSE u.tokens_valid_after END
    FROM old WHERE u.id = old.id
    RETURNING {_USER_COLUMNS}
), changed AS (
    SELECT 1 FROM old WHERE old.deactivated <> $4
), unsubscribed AS (
    DELETE FROM push_subscriptions s USING old WHERE $4 AND s.user_id = old.id
){_AUDIT_USER.format(action="CASE WHEN $4 THEN 'deactivate' ELSE 'reactivate' END")}
SELECT * FROM u
"""

# Rooms for administrators: a page by name (code point order), with the owner and the number
# of members (an index-only count per room of the page).
_SQL_ADMIN_ROOMS = f"""
SELECT r.name, r.private, r.topic, o.name AS owner, r.archived,
       coalesce(o.deactivated_at IS NOT NULL, false) AS owner_deactivated, r.last_seq,
       {_ms("r.created_at")} AS created_at,
       (SELECT count(*) FROM memberships m WHERE m.room_id = r.id) AS members
FROM rooms r LEFT JOIN users o ON o.id = r.owner_id
WHERE r.kind = 'room' AND r.deleted_at IS NULL AND r.name COLLATE "C" > $2
  AND strpos(r.name, $1) > 0
ORDER BY r.name COLLATE "C"
LIMIT $3
"""

# Whether user $2 moderates room $1 (its owner, a moderator, an administrator; never in a
# conversation): one row when the room exists. The rule of chatd.storage.changes, for reads.
_MODERATES = f"""
SELECT r.id,
       {moderates("$2")} AS moderates
FROM rooms r WHERE r.name = $1
"""

_SQL_BANS = f"""
SELECT u.name AS user, by_.name AS by, b.reason, {_ms("b.created_at")} AS ts,
       {_ms("b.expires_at")} AS expires_at
FROM bans b JOIN users u ON u.id = b.user_id LEFT JOIN users by_ ON by_.id = b.by_id
WHERE b.room_id = $1 AND (b.expires_at IS NULL OR b.expires_at > now())
ORDER BY b.created_at DESC, u.name
"""

# The rooms where user $1 (lower-cased) has messages sent since $2 (ms) and not deleted (by
# the index on (sender_id, nonce)): where a deactivation with delete_messages purges.
_SQL_ROOMS_WRITTEN_IN = f"""
SELECT r.name FROM rooms r
WHERE r.deleted_at IS NULL AND r.id IN (
    SELECT m.room_id FROM messages m
    WHERE m.sender_id = (SELECT id FROM users WHERE lower(name) = $1 LIMIT 1)
      AND m.deleted_at IS NULL AND m.created_at >= {_ts("$2")})
ORDER BY r.name
"""
# A page of the audit log, newest first: all of it, or room $1's (NULL: all), ids below $2.
_SQL_AUDIT_LOG = f"""
SELECT l.id, {_ms("l.at")} AS ts, a.name AS actor, l.action, t.name AS target,
       coalesce(r.name, l.room_name) AS room, l.reason, l.details::text AS details
FROM audit_log l
LEFT JOIN users a ON a.id = l.actor_id LEFT JOIN users t ON t.id = l.target_id
LEFT JOIN rooms r ON r.id = l.room_id
WHERE ($1::bigint IS NULL OR l.room_id = $1) AND l.id < $2
ORDER BY l.id DESC
LIMIT $3
"""

_SQL_ROOM_ID = "SELECT id FROM rooms WHERE name = $1 AND deleted_at IS NULL"

# What chatd stats shows: counts of one snapshot (the tables are small but messages, whose
# count is a walk of its smallest index), and the nodes alive with their users online.
_SQL_FIGURES = f"""
SELECT pg_database_size(current_database()) AS database_bytes,
       u.users, u.admins, u.deactivated, u.bots, r.rooms, r.archived, r.conversations,
       (SELECT count(*) FROM messages) AS messages, f.files, f.file_bytes,
       ARRAY(SELECT n.name FROM nodes n ORDER BY n.name) AS node_names,
       ARRAY(SELECT {_ms("n.seen_at")} FROM nodes n ORDER BY n.name) AS node_seen,
       ARRAY(SELECT (SELECT count(*) FROM node_presence p WHERE p.node = n.name)
             FROM nodes n ORDER BY n.name) AS node_online
FROM (SELECT count(*) FILTER (WHERE NOT bot) AS users, count(*) FILTER (WHERE admin) AS admins,
             count(*) FILTER (WHERE deactivated_at IS NOT NULL) AS deactivated,
             count(*) FILTER (WHERE bot) AS bots FROM users) u,
     (SELECT count(*) FILTER (WHERE kind = 'room') AS rooms,
             count(*) FILTER (WHERE kind = 'room' AND archived) AS archived,
             count(*) FILTER (WHERE kind <> 'room') AS conversations
      FROM rooms WHERE deleted_at IS NULL) r,
     (SELECT count(*) AS files, coalesce(sum(size), 0) AS file_bytes
      FROM files WHERE deleted_at IS NULL) f
"""

_SQL_GET_CREDENTIALS = f"""
SELECT {_USER_COLUMNS}, u.password_hash FROM users u WHERE lower(u.name) = lower($1)
"""

# The user's sections (migration 0041) and keywords (0047) with the token's check: what a
# session starts with.
_SQL_CHECK_TOKEN = f"""
SELECT {_USER_COLUMNS}, u.sections, u.keywords FROM users u
WHERE u.id = $1 AND u.deactivated_at IS NULL
  AND (u.tokens_valid_after IS NULL OR u.tokens_valid_after <= {_ts("$3")})
  AND NOT EXISTS (SELECT 1 FROM revoked_tokens t WHERE t.jti = $2)
"""

# A hello's first read, one statement (one round trip, one snapshot): the token's check
# (_SQL_CHECK_TOKEN: no row if it fails); the names of the user's rooms with each one's
# last_seq (the heads, in the order of the names: what a paged hello subscribes to and starts
# each room's live messages after, read once); the first $4 of their contacts by name
# (NULL: all): a paged hello reads the page it shows and one more (the presence tracker looks
# up a user's watchers at their transitions, chatd.presence); and the first $5 of their rooms
# by name (NULL: all) in full, as _SQL_USER_ROOMS and a joined page of _SQL_ROOMS_OVERVIEW
# read them, as JSON (the page is chosen on names alone, then only its rooms are counted): the
# welcome's rooms, which the hello takes as they are unless something changed them before
# its connection was subscribed (chatd.actions.session).
# The counts a client shows without a request, of user u (a hello's, GET /api/me's): saved
# messages reminded (of rooms they may read; saved_reminded_idx), scheduled messages and of
# them failed (scheduled_user_idx, migration 0032).
_BADGES = f"""(SELECT count(*) FROM saved sv JOIN rooms r ON r.id = sv.room_id
        WHERE sv.user_id = u.id AND sv.reminded AND {_READABLE.format(user="u.id")}
       ) AS reminders_due,
       (SELECT count(*) FROM scheduled sd WHERE sd.user_id = u.id) AS scheduled_count,
       (SELECT count(*) FROM scheduled sd WHERE sd.user_id = u.id AND sd.state = 'failed')
           AS scheduled_failed"""
_SQL_BADGES = f"SELECT {_BADGES} FROM users u WHERE u.id = $1"
_SQL_OPEN_SESSION = f"""
SELECT {_USER_COLUMNS}, u.sections, u.keywords, h.rooms, h.last_seqs,
       ARRAY(SELECT c.name FROM contacts c WHERE c.user_id = u.id
             ORDER BY lower(c.name) COLLATE "C" LIMIT $4) AS contacts,
       (SELECT json_agg(p ORDER BY p.name COLLATE "C") FROM (
            SELECT {_ROOM_COLUMNS}, {_MEMBER_COLUMNS}
            FROM (SELECT pm.room_id FROM memberships pm JOIN rooms pr ON pr.id = pm.room_id
                  WHERE pm.user_id = u.id ORDER BY pr.name COLLATE "C" LIMIT $5) page
            JOIN memberships m ON m.room_id = page.room_id AND m.user_id = u.id
            JOIN rooms r ON r.id = m.room_id LEFT JOIN users o ON o.id = r.owner_id
            {_PEER_JOIN.format(me="u.id")}
       ) p) AS page,
       {_BADGES},
       (SELECT count(*) FROM (
            -- migration 0033: a walk of the user's followed threads; only those with a reply
            -- past what they read look at their replies (a probe each), the first
            -- THREADS_UNREAD_CAP found end it
            SELECT 1 FROM thread_follows tf
            JOIN memberships tm ON tm.room_id = tf.room_id AND tm.user_id = u.id
            WHERE tf.user_id = u.id AND tf.following AND tf.last_seq > tf.read_seq
              AND EXISTS (
                  SELECT 1 FROM messages y
                  WHERE y.room_id = tf.room_id AND y.thread_root = tf.root_id
                    AND y.seq > tf.read_seq AND y.sender_id <> u.id AND y.deleted_at IS NULL)
            LIMIT {THREADS_UNREAD_CAP}
       ) tu) AS threads_unread
FROM users u CROSS JOIN LATERAL (
    SELECT coalesce(array_agg(r.name), '{{}}') AS rooms,
           coalesce(array_agg(r.last_seq), '{{}}') AS last_seqs
    FROM memberships m JOIN rooms r ON r.id = m.room_id WHERE m.user_id = u.id
) h
WHERE u.id = $1 AND u.deactivated_at IS NULL
  AND (u.tokens_valid_after IS NULL OR u.tokens_valid_after <= {_ts("$3")})
  AND NOT EXISTS (SELECT 1 FROM revoked_tokens t WHERE t.jti = $2)
"""

_SQL_REVOKE_TOKEN = f"""
INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, {_ts("$2")})
ON CONFLICT (jti) DO UPDATE
SET expires_at = greatest(revoked_tokens.expires_at, EXCLUDED.expires_at)
"""

# A revoked token past its expiry is refused as expired anyway: its row can go.
_SQL_PURGE_REVOKED = "DELETE FROM revoked_tokens WHERE expires_at < now() - interval '1 minute'"

_SQL_REVOKE_ALL = f"""
UPDATE users SET tokens_valid_after = greatest(tokens_valid_after, {_ts("$2")}) WHERE id = $1
"""

# "By name" is by code point (COLLATE "C"), as Python sorts: the database's own collation may
# ignore punctuation such as the "@" that starts every conversation's name.
_SQL_USER_ROOMS = f"""
{_SQL_MY_ROOMS}
ORDER BY r.name COLLATE "C"
"""

# A page of the overview: the user's rooms, then the public rooms they are not in, whose name
# holds $3 ('' holds in every name), after $2 by name ('' is before every name), $4 at most
# (NULL: all); $5: the user's rooms only.
#
# Keyset paging: each half walks names in order from $2 and stops at $4 rows, and the page is
# the first $4 of the two. The public half walks rooms_public_name_c_idx (migration 0005), so a
# page costs its own size however many public rooms exist. The user's half reads their own
# memberships (a user's own list). The search is a substring match (strpos, so "_" is no
# wildcard) checked on the rows the walk meets: no btree can seek a substring (a trigram index
# could, at the price of an extension), so a query that matches few names walks more of the
# index before its page is full; it is still one index walk in name order, at most every
# public room's name once, without a sort, and the page's LIMIT ends it as soon as it is full.
# Measured (the test machine, embedded PostgreSQL): a page of 100 of 100,000 public rooms in
# 0.2 ms; a search that matches nothing, the worst case, walks them all in 13 ms.
# The page is chosen on names alone; only then are its rooms read with the user's view of
# each (the unread counts): a user in 1,000 rooms pays for the page's counts, not for all.
# "Not a member" is a probe of memberships_pkey per public room walked (OFFSET 0 keeps the
# NOT EXISTS a subplan): as a join, the generic plan that a pooled connection switches to
# after five runs (it takes a user's memberships for one row) was a nested loop over every
# membership of the user for every public room: 1,000 x 1,000 rows, 15-130 ms at 1,000 rooms.
_SQL_ROOMS_OVERVIEW = f"""
WITH page AS (
    SELECT * FROM (
        (
            SELECT r.id, r.name FROM memberships m JOIN rooms r ON r.id = m.room_id
            WHERE m.user_id = $1 AND r.name COLLATE "C" > $2 AND strpos(r.name, $3) > 0
            ORDER BY r.name COLLATE "C"
            LIMIT $4
        )
        UNION ALL
        (
            SELECT r.id, r.name FROM rooms r
            WHERE NOT $5 AND NOT r.private AND r.kind = 'room'
              AND r.name COLLATE "C" > $2 AND strpos(r.name, $3) > 0
              AND NOT EXISTS (SELECT 1 FROM memberships m
                              WHERE m.room_id = r.id AND m.user_id = $1 OFFSET 0)
            ORDER BY r.name COLLATE "C"
            LIMIT $4
        )
    ) AS both_halves
    ORDER BY name COLLATE "C"
    LIMIT $4
)
SELECT {_ROOM_COLUMNS}, {_MEMBER_COLUMNS}
FROM page JOIN rooms r ON r.id = page.id LEFT JOIN users o ON o.id = r.owner_id
LEFT JOIN memberships m ON m.room_id = r.id AND m.user_id = $1
{_PEER_JOIN.format(me="$1")}
ORDER BY r.name COLLATE "C"
"""

# The room and its owner's membership in one statement, so neither exists without the other.
_SQL_CREATE_ROOM = f"""
WITH r AS (
    INSERT INTO rooms (name, private, topic, owner_id) VALUES ($1, $2, $3, $4)
    ON CONFLICT (name) DO NOTHING
    RETURNING *
), member AS (
    INSERT INTO memberships (room_id, user_id) SELECT id, owner_id FROM r
)
SELECT {_ROOM_COLUMNS} FROM r LEFT JOIN users o ON o.id = r.owner_id
"""

# Joins a public room the user is not in yet, unless they are banned from it; reports what it
# found and did, with the notification level and the role of a member who was one already.
# Run after the room's bans lock was taken shared (see _SQL_LOCK_BANS_SHARED).
_SQL_JOIN_ROOM = f"""
WITH r AS (
    SELECT {_ROOM_COLUMNS}, peer.name AS peer, peers.names AS peers,
           me.user_id IS NOT NULL AS was_member, me.notify, {_favourite_at("me")}, me.section,
           CASE WHEN r.owner_id = $2 THEN 'owner' ELSE coalesce(me.role, 'member') END AS role,
           {_BANNED.format(room="r.id", user="$2")} AS banned
    FROM rooms r LEFT JOIN users o ON o.id = r.owner_id
    LEFT JOIN memberships me ON me.room_id = r.id AND me.user_id = $2
    {_PEER_JOIN.format(me="$2")}
    WHERE r.name = $1
), joined AS (
    INSERT INTO memberships (room_id, user_id)
    SELECT id, $2 FROM r
    WHERE NOT private AND kind = 'room' AND NOT was_member AND NOT banned AND NOT archived
    ON CONFLICT DO NOTHING
    RETURNING room_id
)
SELECT r.*, EXISTS (SELECT 1 FROM joined) AS newly_joined FROM r
"""

# A join or an invitation takes the room's bans lock shared, in its transaction, before the
# statement that checks the bans and inserts the membership: a ban (which takes it exclusive)
# then commits either before that statement's snapshot (which sees it) or after the
# membership's commit (and removes it). chatd.storage.changes, the module's docstring.
_SQL_LOCK_BANS_SHARED = f"""
SELECT pg_advisory_xact_lock_shared({BANS_LOCK} + id) FROM rooms WHERE name = $1
"""

_SQL_IS_MEMBER = """
SELECT EXISTS (
    SELECT 1 FROM memberships m
    JOIN rooms r ON r.id = m.room_id JOIN users u ON u.id = m.user_id
    WHERE r.name = $1 AND lower(u.name) = lower($2)
)
"""

# The memberships of the users named in $1 (names as the registry has them, any case): the
# rooms each is in now, for a node's check after it may have lost membership notices.
_SQL_MEMBERSHIPS_OF = """
SELECT r.name AS room, u.name AS "user"
FROM users u JOIN memberships m ON m.user_id = u.id JOIN rooms r ON r.id = m.room_id
WHERE lower(u.name) = ANY(SELECT lower(n) FROM unnest($1::text[]) AS n)
"""

# How many of the users named in $2 (any case) are members of room $1.
_SQL_COUNT_MEMBERS = """
SELECT count(*) FROM memberships m
JOIN rooms r ON r.id = m.room_id JOIN users u ON u.id = m.user_id
WHERE r.name = $1 AND lower(u.name) = ANY(SELECT lower(n) FROM unnest($2::text[]) AS n)
"""

# Whom a group mention by user $2 in room $1 reaches (GroupScope): the room's members, whether
# the user is one and moderates it (the rule of _MODERATES), and the members covered, the user
# aside:
# all of them ($3 true, @room) or those named in $4 (lower-cased; who is online, @here).
_SQL_GROUP_SCOPE = f"""
SELECT (SELECT count(*) FROM memberships m WHERE m.room_id = r.id) AS members,
       EXISTS (SELECT 1 FROM memberships m WHERE m.room_id = r.id AND m.user_id = $2)
           AS member,
       {moderates("$2")} AS moderates,
       ARRAY(SELECT m.user_id FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.room_id = r.id AND m.user_id <> $2
               AND ($3 OR lower(u.name) = ANY ($4::text[]))
             ORDER BY m.user_id) AS covered
FROM rooms r WHERE r.name = $1
"""

# A room created by joining it is public, owned by whoever joined first.
_SQL_CREATE_PUBLIC_ROOM = """
INSERT INTO rooms (name, owner_id) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING
"""

# kind is NULL when there is no such room; a conversation is never left.
_SQL_LEAVE_ROOM = """
WITH r AS (
    SELECT id, kind FROM rooms WHERE name = $1
), gone AS (
    DELETE FROM memberships m USING r
    WHERE m.room_id = r.id AND m.user_id = $2 AND r.kind = 'room'
    RETURNING 1
)
SELECT (SELECT kind FROM r) AS kind, EXISTS (SELECT 1 FROM gone) AS was_member
"""

# Direct rooms, step 1: the user ($1) and the others ($2, lower case); a row each found.
_SQL_DIRECT_USERS = """
SELECT id, name, id = $1 AS is_me FROM users
WHERE id = $1 OR lower(name) = ANY($2::text[])
"""

# Direct rooms, step 2: the conversation called $1 (of kind $3: 'dm' for one or two people,
# 'group' for three to eight), created with members $2 if it does not exist in this
# statement's snapshot. The room and its memberships are one statement, so nobody
# ever sees one without the other. No row at all when another session created the room after
# this snapshot was taken (the INSERT then waited for it and did nothing): step 3 reads it.
# NOT EXISTS keeps the common case (the conversation exists) from spending a rooms.id.
_SQL_DIRECT_ROOM = f"""
WITH found AS (
    SELECT * FROM rooms WHERE name = $1
), created AS (
    INSERT INTO rooms (name, kind, private)
    SELECT $1, $3, true WHERE NOT EXISTS (SELECT 1 FROM found)
    ON CONFLICT (name) DO NOTHING
    RETURNING *
), members AS (
    INSERT INTO memberships (room_id, user_id)
    SELECT c.id, u.id FROM created AS c, unnest($2::bigint[]) AS u(id)
    ON CONFLICT DO NOTHING
)
SELECT {_ROOM_COLUMNS}, r.created
FROM (
    SELECT *, false AS created FROM found UNION ALL SELECT *, true AS created FROM created
) AS r LEFT JOIN users o ON o.id = r.owner_id
"""

# Direct rooms, step 3 (only after losing the creation race): the room as it now is.
_SQL_ROOM_BY_NAME = f"""
SELECT {_ROOM_COLUMNS} FROM rooms r LEFT JOIN users o ON o.id = r.owner_id WHERE r.name = $1
"""

# One row per member (name NULL for a readable room without members); none for no such room.
# A server administrator may list the members of any room (not of a conversation).
# Who may list room r's members: who may read it, and server administrators in any room (not
# a conversation); the user is $2.
_MAY_LIST_MEMBERS = (_READABLE.format(user="$2") + """
    OR (r.kind = 'room' AND EXISTS (SELECT 1 FROM users a WHERE a.id = $2 AND a.admin))""")

# A page of a room's members (``who``), in two statements. The first: room $1 as user $2 may
# see it (none for no such room), with its members in all (an index-only count of its
# memberships) and the number of users (the planner's estimate, free to read).
_SQL_MEMBER_COUNT = f"""
WITH r AS MATERIALIZED (
    SELECT r.id, r.owner_id, {_MAY_LIST_MEMBERS} AS allowed
    FROM rooms r WHERE r.name = $1
)
SELECT r.id, r.owner_id, r.allowed,
       (SELECT count(*) FROM memberships c WHERE r.allowed AND c.room_id = r.id) AS count,
       (SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = 'users'::regclass)
           AS users
FROM r
"""

# The second: the members of room $1 (owned by $2) whose name (lower case) comes after $3, by
# lower-case name in code point order (as Python sorts), at most $4 (NULL: all). Two ways to
# the same rows, the cheaper chosen by PostgresStorage.member_page: a room with few members
# sorts its memberships (each member's user by id); a room whose members are many of the
# users walks users_name_lower_c_idx (migration 0016) in order from $3 and looks each
# user up among the room's memberships (by its primary key), until the page is full: the
# page's cost, not the room's. (The LATERAL with its LIMIT keeps the lookup a probe per user
# in name order, never a join that would read every membership first.)
_MEMBER_PAGE_COLUMNS = f"""u.name, CASE WHEN m.user_id = $2 THEN 'owner' ELSE m.role END AS role,
       u.deactivated_at IS NOT NULL AS deactivated, {_profile_columns("u")}"""
_SQL_MEMBER_PAGE_BY_ROOM = f"""
SELECT {_MEMBER_PAGE_COLUMNS}
FROM memberships m JOIN users u ON u.id = m.user_id
WHERE m.room_id = $1 AND lower(u.name) COLLATE "C" > $3
ORDER BY lower(u.name) COLLATE "C"
LIMIT $4
"""
_SQL_MEMBER_PAGE_BY_NAME = f"""
SELECT {_MEMBER_PAGE_COLUMNS}
FROM users u CROSS JOIN LATERAL (
    SELECT m.user_id, m.role FROM memberships m
    WHERE m.room_id = $1 AND m.user_id = u.id
    LIMIT 1
) m
WHERE lower(u.name) COLLATE "C" > $3
ORDER BY lower(u.name) COLLATE "C"
LIMIT $4
"""

# Invitation: checks and insert in one statement; always one row, NULLs for what is missing.
# Run after the room's bans lock was taken shared, as a join.
_SQL_INVITE = f"""
WITH r AS (
    SELECT r.id, r.kind, r.archived,
           EXISTS (SELECT 1 FROM memberships m WHERE m.room_id = r.id AND m.user_id = $2)
               AS member
    FROM rooms r WHERE r.name = $1
), u AS (
    SELECT u.id, u.name, {_BANNED.format(room="r.id", user="u.id")} AS banned
    FROM users u LEFT JOIN r ON true WHERE lower(u.name) = lower($3)
), added AS (
    INSERT INTO memberships (room_id, user_id)
    SELECT r.id, u.id FROM r, u
    WHERE r.member AND r.kind = 'room' AND NOT u.banned AND NOT r.archived
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT r.kind, r.member, r.archived, u.name AS invitee, u.banned,
       EXISTS (SELECT 1 FROM added) AS new
FROM (VALUES (1)) AS one (x) LEFT JOIN r ON true LEFT JOIN u ON true
"""

# Whom to tell that member $2's read marker of room k.room_id moved (the `seen` event,
# migration 0040): the other members' names, only when it moved in a conversation and $2
# shares their read receipts; NULL otherwise. CASE runs its subqueries only then, so a
# room's read reads nothing more than its marker (and a conversation's, at most 8 members).
_TELL_SEEN = """CASE WHEN k.moved AND k.kind <> 'room' THEN
    CASE WHEN (SELECT s.read_receipts FROM users s WHERE s.id = $2) THEN ARRAY(
        SELECT u.name FROM memberships o JOIN users u ON u.id = o.user_id
        WHERE o.room_id = k.room_id AND o.user_id <> $2) END
END AS tell"""

# The marker moves forward only and never past last_seq; read_seq is NULL for a non-member.
# The membership as it was ("was", the statement's snapshot: one more probe of the row the
# update finds) says whether it moved, and the room's kind whether to tell (_TELL_SEEN).
_SQL_MARK_READ = f"""
WITH r AS (
    SELECT id, kind, last_seq FROM rooms WHERE name = $1
), marked AS (
    UPDATE memberships m SET read_seq = greatest(m.read_seq, least($3::bigint, r.last_seq))
    FROM r JOIN memberships was ON was.room_id = r.id AND was.user_id = $2
    WHERE m.room_id = r.id AND m.user_id = $2
    RETURNING m.read_seq, m.read_seq > was.read_seq AS moved, r.id AS room_id, r.kind
)
SELECT EXISTS (SELECT 1 FROM r) AS found, k.read_seq, k.moved, {_TELL_SEEN}
FROM (SELECT 1) AS one LEFT JOIN marked k ON true
"""

# "Mark all as read": every membership of user $1 with entries past its marker moved to its
# room's last seq, in one statement (a user in a thousand rooms makes one trip, not a
# thousand): a walk of memberships_user_id_idx, each room read by its key. Subqueries, not a
# join: a join of a few hundred memberships with a table of tens of thousands of rooms is
# planned as a scan of every room (the cheaper guess for one user, and a cost that grows
# with the server, not with the user), where a subquery is a probe of rooms_pkey per
# membership, whatever the tables hold. The marker only moves forward: a membership moved
# further meanwhile (a read of another device's, past this statement's snapshot of the room)
# is re-read by the update's lock and left alone. Followed threads keep their own markers
# (thread_follows.read_seq): Slack's "Mark all messages as read" leaves the Threads view to
# its own.
# Every row returned moved; "tell" as _SQL_MARK_READ's, so that a conversation's other
# members see a "mark all as read" as they see a read (the `seen` event): read only for the
# conversations among the moved rows (at most 8 members each), nothing more for rooms.
_MARKED_ALL = f"""
SELECT k.name, k.read_seq, {_TELL_SEEN.replace("$2", "$1")}
FROM (SELECT *, true AS moved FROM marked) k
"""
_SQL_MARK_ALL_READ = f"""
WITH marked AS (
    UPDATE memberships m
    SET read_seq = (SELECT r.last_seq FROM rooms r WHERE r.id = m.room_id)
    WHERE m.user_id = $1
      AND m.read_seq < (SELECT r.last_seq FROM rooms r WHERE r.id = m.room_id)
    RETURNING m.room_id, m.read_seq,
              (SELECT r.name FROM rooms r WHERE r.id = m.room_id) AS name,
              (SELECT r.kind FROM rooms r WHERE r.id = m.room_id) AS kind
){_MARKED_ALL}"""
# The same for the rooms named in $2 only (the page's section, a filtered list): each found
# by its name's key, then its membership by the primary key.
_SQL_MARK_SOME_READ = f"""
WITH marked AS (
    UPDATE memberships m SET read_seq = r.last_seq
    FROM rooms r
    WHERE r.name = ANY ($2::text[]) AND m.room_id = r.id AND m.user_id = $1
      AND m.read_seq < r.last_seq
    RETURNING m.room_id, m.read_seq, r.name, r.kind
){_MARKED_ALL}"""

# A marker moved back ($3: the first seq to be unread; never forward, never below 0), with
# the room's counts from it, by the functions room objects count with (_MEMBER_COLUMNS); they
# read messages and mentions, not the membership this statement updates, so its snapshot
# serves. read_seq is NULL for a non-member, as above; "tell" as _SQL_MARK_READ's, when the
# marker moved back.
_SQL_MARK_UNREAD = f"""
WITH r AS (
    SELECT id, kind, last_seq FROM rooms WHERE name = $1
), marked AS (
    UPDATE memberships m SET read_seq = least(m.read_seq, greatest($3::bigint - 1, 0))
    FROM r JOIN memberships was ON was.room_id = r.id AND was.user_id = $2
    WHERE m.room_id = r.id AND m.user_id = $2
    RETURNING m.read_seq, m.read_seq < was.read_seq AS moved, r.id AS room_id, r.kind,
              r.last_seq
)
SELECT EXISTS (SELECT 1 FROM r) AS found, k.read_seq, k.last_seq, {_TELL_SEEN},
       CASE WHEN k.last_seq > k.read_seq
            THEN chatd_unread_messages(k.room_id, k.read_seq, k.last_seq, $2, {UNREAD_CAP})
            ELSE 0 END AS unread,
       CASE WHEN k.last_seq > k.read_seq
            THEN chatd_unread_mentions(k.room_id, k.read_seq, $2, {UNREAD_CAP})
            ELSE 0 END AS mentions
FROM (SELECT 1) AS one LEFT JOIN marked k ON true
"""

# Close ($3 true: hidden_seq = the room's last_seq now) or show ($3 false: NULL) a
# conversation for member $2. kind says a room from a conversation; member is NULL for a
# non-member (as the read marker's statement says).
_SQL_HIDE = """
WITH r AS (
    SELECT id, kind, last_seq FROM rooms WHERE name = $1
), marked AS (
    UPDATE memberships m SET hidden_seq = CASE WHEN $3::boolean THEN r.last_seq END
    FROM r WHERE m.room_id = r.id AND m.user_id = $2 AND r.kind <> 'room'
    RETURNING m.hidden_seq
)
SELECT EXISTS (SELECT 1 FROM r) AS found, (SELECT kind FROM r) AS kind,
       EXISTS (SELECT 1 FROM memberships m JOIN r ON m.room_id = r.id WHERE m.user_id = $2)
           AS member,
       EXISTS (SELECT 1 FROM marked) AS marked, (SELECT hidden_seq FROM marked) AS hidden_seq
"""

# Mark ($3 true) or unmark ($3 false) room $1 a favourite of member $2: only a membership
# whose mark differs is written (so a mark keeps the time it was first made, and setting
# what is set writes nothing); "member" and the mark as it was come from the statement's
# snapshot, the changed mark from the update.
_SQL_FAVOURITE = f"""
WITH r AS (
    SELECT id FROM rooms WHERE name = $1
), k AS (
    SELECT m.favourite_at FROM memberships m JOIN r ON m.room_id = r.id WHERE m.user_id = $2
), marked AS (
    UPDATE memberships m SET favourite_at = CASE WHEN $3::boolean THEN now() END
    FROM r WHERE m.room_id = r.id AND m.user_id = $2 AND (m.favourite_at IS NULL) = $3::boolean
    RETURNING m.favourite_at
)
SELECT EXISTS (SELECT 1 FROM r) AS found, EXISTS (SELECT 1 FROM k) AS member,
       EXISTS (SELECT 1 FROM marked) AS changed,
       (SELECT {_ms("marked.favourite_at")} FROM marked) AS marked_at,
       (SELECT {_ms("k.favourite_at")} FROM k) AS was_at
"""

# Like the read marker: notify is NULL for a non-member.
_SQL_SET_NOTIFY = """
WITH r AS (
    SELECT id FROM rooms WHERE name = $1
), set_ AS (
    UPDATE memberships m SET notify = $3 FROM r WHERE m.room_id = r.id AND m.user_id = $2
    RETURNING m.notify
)
SELECT EXISTS (SELECT 1 FROM r) AS found, (SELECT notify FROM set_) AS notify
"""

_SQL_SET_DND = f"UPDATE users SET dnd_until = {_ts('$2')} WHERE id = $1"

# Read receipts (migration 0040). Whether user $1 shares them, set to $2: written only when
# it differs (no row: it did not change). When it changed, a row for each conversation of
# the user's, with their marker and its other members (to tell them: the `seen` event), or
# one row of NULLs for a user in none. A walk of memberships_user_id_idx, each room by its
# key (subqueries, as _SQL_MARK_ALL_READ's, for the same reason); at most 8 members each.
_SQL_SET_READ_RECEIPTS = """
WITH set_ AS (
    UPDATE users SET read_receipts = $2 WHERE id = $1 AND read_receipts <> $2 RETURNING id
), k AS (
    SELECT m.room_id, m.read_seq,
           (SELECT r.name FROM rooms r WHERE r.id = m.room_id AND r.kind <> 'room') AS name
    FROM set_ JOIN memberships m ON m.user_id = set_.id
)
SELECT k.name, k.read_seq, ARRAY(
    SELECT u.name FROM memberships o JOIN users u ON u.id = o.user_id
    WHERE o.room_id = k.room_id AND o.user_id <> $1) AS tell
FROM set_ LEFT JOIN k ON k.name IS NOT NULL
"""

# Whether user $1 shares their read receipts, as last committed (a read's check after its
# seen was told: chatd/actions/receipts.py, tell_seen).
_SQL_SHARES_RECEIPTS = "SELECT read_receipts FROM users WHERE id = $1"

# Notification keywords (migration 0047): user $1's, and set to $2 (NULL for none): written
# only when they differ (a row: they changed).
_SQL_KEYWORDS = "SELECT keywords FROM users WHERE id = $1"
_SQL_SET_KEYWORDS = """
UPDATE users SET keywords = $2 WHERE id = $1 AND keywords IS DISTINCT FROM $2 RETURNING id
"""

# Who has read message $3 of room $1, as user $2 asks (Storage.receipts), in one statement:
# whether $2 may read the room (as history: no row for no such room), the message's seq
# (NULL: no such message in the room, or the room not readable), the readers counted (the
# members whose marker is at or past the seq, but the message's author, $2 and the users who
# do not share their receipts) and a page of their names: those whose lower case comes after
# $4, in code point order of the lower case, $5 at most. The room's memberships are reached
# by the primary key's room_id prefix and each member's user by its primary key: the
# database's work grows with the room's members (10,000: 18-35 ms on a busy two-core
# machine, tests/storage/test_receipts.py's room), the answer does not. No index on
# read_seq (migration 0040 says why).
_SQL_RECEIPTS = f"""
WITH r AS MATERIALIZED (
    SELECT r.id, {_READABLE.format(user="$2")} AS allowed FROM rooms r WHERE r.name = $1
), msg AS MATERIALIZED (
    SELECT m.seq, m.sender_id FROM r JOIN messages m ON m.id = $3 AND m.room_id = r.id
    WHERE r.allowed
), readers AS MATERIALIZED (
    SELECT u.name FROM msg
    JOIN memberships k ON k.room_id = (SELECT id FROM r) AND k.read_seq >= msg.seq
    JOIN users u ON u.id = k.user_id
    WHERE k.user_id <> msg.sender_id AND k.user_id <> $2 AND u.read_receipts
)
SELECT r.allowed, (SELECT seq FROM msg) AS seq, (SELECT count(*) FROM readers) AS count,
       ARRAY(SELECT name FROM readers WHERE lower(name) COLLATE "C" > $4
             ORDER BY lower(name) COLLATE "C" LIMIT $5) AS users
FROM r
"""

# Where the read marker of each other member of conversation $1 who shares their receipts
# is, as member $2 asks (Storage.read_positions): one row for the room (kind, whether $2 may
# read it), with a member's name and marker on it (NULL for a room, or none to tell of).
_SQL_READ_POSITIONS = f"""
WITH r AS MATERIALIZED (
    SELECT r.id, r.kind, {_READABLE.format(user="$2")} AS allowed FROM rooms r WHERE r.name = $1
)
SELECT r.kind, r.allowed, p.name, p.read_seq
FROM r LEFT JOIN LATERAL (
    SELECT u.name, k.read_seq FROM memberships k JOIN users u ON u.id = k.user_id
    WHERE k.room_id = r.id AND k.user_id <> $2 AND u.read_receipts
) p ON r.allowed AND r.kind <> 'room'
ORDER BY lower(p.name) COLLATE "C"
"""

# Set user $1's profile (migration 0025): the display name when $2 (to $3, NULL for none),
# the status when $4 (to emoji $5, text $6, until $7 ms; all NULL: none). What is kept is
# kept as others see it: a status past its time is cleared by any write. Returns the
# profile as stored and whether what others see changed (the row is locked first, so that
# two writes of one user compare with each other's results).
_SQL_SET_PROFILE = f"""
WITH old AS (
    SELECT u.id, u.display_name,
           CASE WHEN {_STATUS_LIVE.format(u="u")} THEN u.status_emoji END AS status_emoji,
           CASE WHEN {_STATUS_LIVE.format(u="u")} THEN u.status_text END AS status_text,
           CASE WHEN {_STATUS_LIVE.format(u="u")} THEN u.status_until END AS status_until
    FROM users u WHERE u.id = $1 FOR UPDATE
), u AS (
    UPDATE users u SET
        display_name = CASE WHEN $2 THEN $3::text ELSE old.display_name END,
        status_emoji = CASE WHEN $4 THEN $5::text ELSE old.status_emoji END,
        status_text = CASE WHEN $4 THEN $6::text ELSE old.status_text END,
        status_until = CASE WHEN $4 THEN {_ts('$7')} ELSE old.status_until END
    FROM old WHERE u.id = old.id
    RETURNING u.name, u.display_name, u.status_emoji, u.status_text, u.status_until,
              u.deactivated_at, u.avatar
)
SELECT u.name, u.display_name, u.avatar, u.status_emoji, u.status_text,
       {_ms("u.status_until")} AS status_until, u.deactivated_at IS NOT NULL AS deactivated,
       (old.display_name, old.status_emoji, old.status_text, old.status_until)
           IS DISTINCT FROM (u.display_name, u.status_emoji, u.status_text, u.status_until)
           AS changed
FROM u, old
"""

# The profiles of users $1 (lower case, each once), in that order: a probe of the unique
# index on lower(name) each (the LATERAL with its LIMIT keeps it a probe, never a hash of
# every user).
_SQL_PROFILES = f"""
SELECT p.*
FROM unnest($1::text[]) WITH ORDINALITY AS q(name, ord) CROSS JOIN LATERAL (
    SELECT u.name, {_profile_columns("u")}, u.deactivated_at IS NOT NULL AS deactivated
    FROM users u WHERE lower(u.name) = q.name
    LIMIT 1
) p
ORDER BY q.ord
"""

# -- push subscriptions ------------------------------------------------------------------------

# Subscriptions of one user queue on their row, so that together they keep within the limit.
_SQL_LOCK_SUBSCRIBER = "SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE"
_SQL_ADD_SUBSCRIPTION = """
INSERT INTO push_subscriptions AS s (endpoint, user_id, p256dh, auth) VALUES ($1, $2, $3, $4)
ON CONFLICT (endpoint) DO UPDATE
SET user_id = EXCLUDED.user_id, p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth,
    created_at = now()
"""
_SQL_TRIM_SUBSCRIPTIONS = """
DELETE FROM push_subscriptions WHERE endpoint IN (
    SELECT endpoint FROM push_subscriptions WHERE user_id = $1
    ORDER BY created_at DESC, endpoint OFFSET $2
)
"""
_SQL_REMOVE_SUBSCRIPTION = """
DELETE FROM push_subscriptions WHERE user_id = $1 AND endpoint = $2 RETURNING 1
"""
_SQL_FORGET_SUBSCRIPTION = "DELETE FROM push_subscriptions WHERE endpoint = $1 RETURNING 1"

# Who gets a push for each new message ($1 rooms, $2 seqs), with each of their subscriptions.
# Four walks, each from keys (the first two shared with the missed-message emails:
# chatd/storage/alerts.py; the fourth, the members with notification keywords, once per
# room of the batch, below): a conversation's members (two rows, eight at most in a group
# conversation); the message's rows of
# ``mentions`` (written with it, the sender aside) and those members' levels; the room's
# members at 'all' (memberships_notify_all_idx). A room's other members, at its default
# ('mentions'), cost nothing. Then each found user's subscriptions and name, by key: users
# without a subscription drop out there. The LATERALs with a LIMIT (far above what they can
# find) keep each a probe per row: as plain joins the planner scans and hashes the whole
# memberships, subscriptions and users tables to serve a handful of messages.
_SQL_PUSH_TARGETS = alerted(more="""
    UNION ALL
    SELECT b.room_id, b.room, b.seq, m.user_id, 'message'
    FROM b JOIN memberships m ON m.room_id = b.room_id AND m.notify = 'all'
    WHERE b.kind = 'room' AND m.user_id <> b.sender_id
    UNION ALL
    -- migration 0047: once per room of the batch, its members with keywords whose level is
    -- not 'none' (seq 0: every message of the batch there; the pusher matches them, the
    -- sender's own aside); from the users who have any (users_keywords_idx: nothing to walk
    -- when nobody has), a probe of the membership's primary key each
    SELECT br.room_id, br.room, 0, k.id, 'keyword'
    FROM (SELECT DISTINCT b.room_id, b.room, b.kind FROM b WHERE b.kind IN ('room', 'group')
         ) br
    CROSS JOIN LATERAL (
        SELECT ku.id FROM users ku
        WHERE ku.keywords IS NOT NULL AND EXISTS (
            SELECT 1 FROM memberships m
            WHERE m.room_id = br.room_id AND m.user_id = ku.id
              AND coalesce(m.notify, CASE br.kind WHEN 'room' THEN 'mentions' ELSE 'all' END)
                  <> 'none')
    ) k""") + """
SELECT t.room, t.seq, t.reason, u.name AS user, u.paused_until, u.keywords,
       s.endpoint, s.p256dh, s.auth
FROM t CROSS JOIN LATERAL (
    SELECT s.endpoint, s.p256dh, s.auth FROM push_subscriptions s
    WHERE s.user_id = t.user_id
    LIMIT 1000
) s CROSS JOIN LATERAL (
    -- the pause as stored (migration 0023): the pusher decides by its clock when it pushes;
    -- the keywords (migration 0047) only for a keyword's candidate
    SELECT u.name, floor(extract(epoch FROM u.dnd_until) * 1000)::bigint AS paused_until,
           CASE WHEN t.reason = 'keyword' THEN u.keywords END AS keywords
    FROM users u
    WHERE u.id = t.user_id LIMIT 1
) u
ORDER BY t.room, t.seq
"""


# The contact ($2, any case) with their profile (migration 0025) and, unless it is the user
# themselves, the row added (if new).
_SQL_ADD_CONTACT = f"""
WITH u AS (
    SELECT u.id, u.name, {_profile_columns("u")}, u.deactivated_at IS NOT NULL AS deactivated
    FROM users u WHERE lower(u.name) = lower($2)
), added AS (
    INSERT INTO contacts (user_id, contact_id) SELECT $1, id FROM u WHERE id <> $1
    ON CONFLICT DO NOTHING
)
SELECT * FROM u
"""

_SQL_REMOVE_CONTACT = """
DELETE FROM contacts c USING users u
WHERE c.user_id = $1 AND c.contact_id = u.id AND lower(u.name) = lower($2)
RETURNING u.name
"""

# A file as message objects carry it (a JSON array of these, read by _file_info).
_FILE_FIELDS = "f.id, f.name, f.size, f.content_type, f.width, f.height, f.thumb_sha256 IS NOT NULL"

# Step 1 of appending: one row per input, in input order. A reply's message (reply_to, $4)
# must be in the same room; its quote is taken here, as the message is at commit. Mention
# candidates ($5, space-separated lower-case names) are kept if they name a member, as
# registered. Files ($6, space-separated ids) are looked up among the sender's uploads to the
# room, with whether each is attached already and the scheduled item that holds it, if any
# (migration 0032: only that item's own send, nonce 'sched:<id>', may attach it). Each
# lookup is a probe of a key, and only for the rows that have them. A batch of plain
# messages (no reply, no "@", no file: the common case under load) runs the statement
# without those lookups (:data:`_SQL_APPEND_RESOLVE_PLAIN`),
# and its insert without their columns: what appending cost before messages had them; a small
# one, :data:`_SQL_APPEND_ONE_TRIP`.
_APPEND_RESOLVE = """
SELECT i.idx, r.id AS room_id, (m.user_id IS NOT NULL) AS member, r.archived,
       s.name AS sender,
       e.id AS e_id, er.name AS e_room, e.seq AS e_seq, e.text AS e_text,
       {e_ts} AS e_ts, {columns}
FROM unnest({arrays}) WITH ORDINALITY AS i({names}, idx)
LEFT JOIN rooms r ON r.name = i.room
LEFT JOIN memberships m ON m.room_id = r.id AND m.user_id = i.user_id
LEFT JOIN users s ON s.id = i.user_id
LEFT JOIN LATERAL (
    -- LIMIT 1 (the pair is unique anyway) keeps this a probe of the (sender_id, nonce) index
    -- per input row: as a plain join the planner hashes the whole messages table instead,
    -- which made every batch cost time in proportion to all the messages ever stored.
    SELECT e.id, e.room_id, e.seq, e.text, e.created_at FROM messages e
    WHERE e.sender_id = i.user_id AND e.nonce = i.nonce LIMIT 1
) e ON true
LEFT JOIN rooms er ON er.id = e.room_id
{joins}
ORDER BY i.idx
"""
_APPEND_RESOLVE_JOINS = f"""LEFT JOIN LATERAL (
    -- LIMIT 1 (q.id is the key anyway), as for the nonce: without it the planner may hash
    -- every message of the database to quote none (measured: 91 of 95 ms of a batch of 400
    -- sends at 20k messages; benchmarks/README.md, issue 13).
    SELECT q.id, {_QUOTE} AS quote
    FROM messages q JOIN users qu ON qu.id = q.sender_id
    WHERE i.reply_to IS NOT NULL AND q.id = i.reply_to AND q.room_id = r.id
    LIMIT 1
) q ON true
LEFT JOIN LATERAL (
    SELECT array_agg(u.name ORDER BY lower(u.name)) AS names
    FROM users u JOIN memberships um ON um.user_id = u.id AND um.room_id = r.id
    WHERE i.candidates <> '' AND lower(u.name) = ANY (string_to_array(i.candidates, ' '))
) mn ON true
LEFT JOIN LATERAL (
    SELECT json_agg(json_build_array({_FILE_FIELDS},
                                     f.message_id IS NOT NULL OR f.deleted_at IS NOT NULL,
                                     f.scheduled_id)
                    ORDER BY f.id) AS files
    FROM files f
    WHERE i.file_ids <> '' AND f.id = ANY (string_to_array(i.file_ids, ' ')::bigint[])
      AND f.uploader_id = i.user_id AND f.room_id = r.id
      AND (f.deleted_at IS NULL OR f.message_id IS NOT NULL)  -- an expired upload: not_found
) fl ON true"""
_SQL_APPEND_RESOLVE = _APPEND_RESOLVE.format(
    e_ts=_ms("e.created_at"),
    columns="q.id AS q_id, q.quote AS quote, mn.names AS mentions, fl.files",
    arrays="$1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[]",
    names="user_id, room, nonce, reply_to, candidates, file_ids",
    joins=_APPEND_RESOLVE_JOINS,
)
# The same for a batch with a thread reply ($7: the msg_id each names, NULL for none):
# its thread's root (the message named, or the root of the reply named), whether the root
# may take replies (not deleted), and the thread's followers (migration 0033: the users whose
# row of thread_follows says so, and the root's author unless theirs says otherwise) who are
# members still, the sender aside, whom the reply mentions; and those who unfollowed it by
# hand (lower-case), whom being named in a reply of the same batch does not make follow. A
# statement of its own, so that every other batch runs the one above, as it did before
# threads; run under the rooms' locks (_append_once), so that it reads the follows every
# reply committed before it wrote.
_SQL_APPEND_RESOLVE_THREAD = _APPEND_RESOLVE.format(
    e_ts=_ms("e.created_at"),
    columns="q.id AS q_id, q.quote AS quote, mn.names AS mentions, fl.files, "
            "th.id AS t_id, th.open AS t_open, fw.names AS followers, "
            "fw.unfollowed AS unfollowed",
    arrays="$1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], "
           "$7::bigint[]",
    names="user_id, room, nonce, reply_to, candidates, file_ids, thread",
    joins=_APPEND_RESOLVE_JOINS + """
LEFT JOIN LATERAL (
    SELECT t.id, t.sender_id, t.deleted_at IS NULL AS open
    FROM messages x JOIN messages t ON t.id = coalesce(x.thread_root, x.id)
    WHERE i.thread IS NOT NULL AND x.id = i.thread AND x.room_id = r.id
    LIMIT 1
) th ON true
LEFT JOIN LATERAL (
    SELECT array_agg(u.name ORDER BY lower(u.name)) FILTER (WHERE w.following) AS names,
           array_agg(lower(u.name)) FILTER (WHERE NOT w.following) AS unfollowed
    FROM (
        SELECT f.user_id, f.following FROM thread_follows f
        WHERE th.id IS NOT NULL AND f.root_id = th.id AND f.following IS NOT NULL
        UNION ALL
        SELECT th.sender_id, true
        WHERE th.id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM thread_follows a
            WHERE a.root_id = th.id AND a.user_id = th.sender_id AND a.following IS NOT NULL)
    ) w
    JOIN users u ON u.id = w.user_id
    JOIN memberships fm ON fm.user_id = w.user_id AND fm.room_id = r.id
    WHERE w.user_id <> i.user_id
) fw ON true""",
)
_SQL_APPEND_RESOLVE_PLAIN = _APPEND_RESOLVE.format(
    e_ts=_ms("e.created_at"),
    columns="NULL::bigint AS q_id, NULL::text AS quote, NULL::text[] AS mentions, "
            "NULL::text AS files",
    arrays="$1::bigint[], $2::text[], $3::text[]", names="user_id, room, nonce", joins="",
)
# A small batch of plain messages (everyday load: one or two at a time) is resolved and
# stored in one call instead, migration 0020's chatd_append: one round trip, and the first
# step's plan kept rather than made again at every call, which was most of what a lone send
# cost PostgreSQL. From :data:`ONE_TRIP_MAX` + 1 messages on, the two statements cost less per
# message (their planning is shared by the batch; the function's rows and sort are not:
# benchmarks/README.md, "Everyday load, second pass").
_SQL_APPEND_ONE_TRIP = (
    "SELECT * FROM chatd_append($1::bigint[], $2::text[], $3::text[], $4::text[])")
ONE_TRIP_MAX = 3
# A lone plain message (a batch of one: most commits at everyday load) is resolved and stored
# by one statement with scalar parameters, whose plan PostgreSQL keeps for the connection as
# for any prepared statement: the function's several statements cost PostgreSQL half as much
# again (benchmarks/README.md, "Everyday load, fourth pass"). One row: what the resolve finds
# (as a row of chatd_append's first part) and, when stored, the message's id, seq and ts. The
# UPDATE stores only what the resolve allowed (its snapshot) and the locked row still allows
# (archived or deleted since: no row, as chatd_append's); the commit notice's trigger fires at
# the statement's end, when the message is there to be carried (migration 0019).
_SQL_APPEND_LONE = f"""
WITH r AS (
    SELECT r.id, r.archived, m.user_id IS NOT NULL AS member
    FROM rooms r LEFT JOIN memberships m ON m.room_id = r.id AND m.user_id = $1
    WHERE r.name = $2
), e AS (
    -- LIMIT 1: a probe of the (sender_id, nonce) index, as in the batch's resolve.
    SELECT e.id, e.room_id, e.seq, e.text, e.created_at FROM messages e
    WHERE e.sender_id = $1 AND e.nonce = $3 LIMIT 1
), bumped AS (
    UPDATE rooms SET last_seq = rooms.last_seq + 1
    FROM r
    WHERE rooms.id = r.id AND r.member AND NOT r.archived AND NOT EXISTS (SELECT 1 FROM e)
      AND NOT rooms.archived AND rooms.deleted_at IS NULL
    RETURNING rooms.id, rooms.last_seq
), inserted AS (
    INSERT INTO messages (room_id, seq, sender_id, nonce, text, created_at)
    SELECT b.id, b.last_seq, $1, $3, $4, clock_timestamp() FROM bumped AS b
    RETURNING id, seq, created_at
)
SELECT 1::bigint AS idx, r.id AS room_id, r.member, r.archived, s.name AS sender,
       e.id AS e_id, er.name AS e_room, e.seq AS e_seq, e.text AS e_text,
       {_ms("e.created_at")} AS e_ts,
       ins.id, ins.seq, {_ms("ins.created_at")} AS ts, $1::bigint AS sender_id, $3::text AS nonce
FROM (SELECT 1) AS one
LEFT JOIN r ON true
LEFT JOIN users s ON s.id = $1
LEFT JOIN e ON true
LEFT JOIN rooms er ON er.id = e.room_id
LEFT JOIN inserted ins ON true
"""

# Step 2 of appending: lock rooms in id order, bump last_seq, insert; one atomic statement.
# Per room, the k-th new message (in input order) gets seq old_last_seq + k. clock_timestamp()
# rather than now(): taken after the lock, so ts follows seq within a room. The mentioned
# members (the sender aside) get their rows of ``mentions`` in the same statement. A batch that
# attaches files runs :data:`_SQL_APPEND_INSERT_FILES` instead, in a transaction of its own
# (see _append_once); a batch of plain messages :data:`_SQL_APPEND_INSERT_PLAIN`.
_APPEND_INSERT = """
WITH new AS (
    SELECT * FROM unnest({arrays})
        WITH ORDINALITY AS n(room_id, sender_id, nonce, text{names}, ord)
), counts AS (
    SELECT room_id, count(*) AS n FROM new GROUP BY room_id
), locked AS (
    -- Checked again on the row as locked: a room archived or deleted (a tombstone) since
    -- step 1 takes nothing (see _append_once).
    SELECT id FROM rooms
    WHERE id IN (SELECT room_id FROM counts) AND NOT archived AND deleted_at IS NULL
    ORDER BY id FOR NO KEY UPDATE
), bumped AS (
    UPDATE rooms AS r SET last_seq = r.last_seq + c.n
    FROM locked AS l JOIN counts AS c ON c.room_id = l.id
    WHERE r.id = l.id
    RETURNING r.id, r.last_seq - c.n AS base
), inserted AS (
    INSERT INTO messages (room_id, seq, sender_id, nonce, text, created_at{columns})
    SELECT new.room_id, b.base + row_number() OVER (PARTITION BY new.room_id ORDER BY new.ord),
           new.sender_id, new.nonce, new.text, clock_timestamp(){values}
    FROM new JOIN bumped AS b ON b.id = new.room_id
    ORDER BY new.room_id, new.ord
    RETURNING id, room_id, seq, sender_id, nonce, mentions, created_at{returning}
){more}"""
_NAMED_MENTIONS = """
    SELECT u.id, i.room_id, i.seq
    FROM inserted i CROSS JOIN LATERAL unnest(i.mentions) AS n(name)
    JOIN users u ON lower(u.name) = lower(n.name)
    WHERE u.id <> i.sender_id"""
_APPEND_INSERT_EXTRAS = {
    "columns": ", reply_to, mentions, files",
    "values": """,
           new.reply_to, string_to_array(new.mentions, ' '),
           coalesce(cardinality(string_to_array(new.file_ids, ' ')), 0)""",
}
# The mentioned members' rows of ``mentions``: those the messages name; with a group mention
# (a statement of its own, below), also the members it covers.
_MENTIONED = f""", mentioned AS (
    INSERT INTO mentions (user_id, room_id, seq){_NAMED_MENTIONS}
)"""
_MENTIONED_GROUP = f""", mentioned AS (
    INSERT INTO mentions (user_id, room_id, seq){_NAMED_MENTIONS}
    UNION  -- a member both named and covered by the group: one row
    SELECT gm.user_id, i.room_id, i.seq
    FROM inserted i JOIN new ON new.sender_id = i.sender_id AND new.nonce = i.nonce
    JOIN memberships gm ON gm.room_id = i.room_id
        AND gm.user_id = ANY (string_to_array(new.grp, ' ')::bigint[])
    WHERE new.grp <> '' AND gm.user_id <> i.sender_id
)"""
# What the insert of a batch without files returns (``attached``: none).
_INSERTED = f"""
SELECT id, room_id, seq, {_ms("created_at")} AS ts, 0::bigint AS attached FROM inserted
"""
_SQL_APPEND_INSERT_HEAD = _APPEND_INSERT.format(
    returning="",
    arrays="$1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], "
           "$7::text[]",
    names=", reply_to, mentions, file_ids",
    more=_MENTIONED,
    **_APPEND_INSERT_EXTRAS,
)
# The same for a batch with a group mention (@room, @here: rare), whose members ($8: their ids,
# space-separated, per message) get rows too, if still members: a statement of its own, so
# that every other batch runs the one above, as it did before group mentions.
_SQL_APPEND_INSERT_GROUP_HEAD = _APPEND_INSERT.format(
    returning="",
    arrays="$1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], "
           "$7::text[], $8::text[]",
    names=", reply_to, mentions, file_ids, grp",
    more=_MENTIONED_GROUP,
    **_APPEND_INSERT_EXTRAS,
)
_SQL_APPEND_INSERT_PLAIN = _APPEND_INSERT.format(
    returning="",
    arrays="$1::bigint[], $2::bigint[], $3::text[], $4::text[]", names="", columns="",
    values="", more="",
) + _INSERTED
_SQL_APPEND_INSERT = _SQL_APPEND_INSERT_HEAD + _INSERTED
_SQL_APPEND_INSERT_GROUP = _SQL_APPEND_INSERT_GROUP_HEAD + _INSERTED
# The same, attaching each new message's files (still unattached, the sender's, in its room,
# not held by a scheduled item but the one this message is the send of); ``attached`` counts
# them, so that a file another commit attached (or an item reserved) meanwhile shows.
# (``_ATTACH``, the attaching, is shared with the threaded inserts' _ATTACHED_THREAD.)
_ATTACH = """, attached AS (
    UPDATE files f SET message_id = i.id
    FROM inserted i JOIN new ON new.sender_id = i.sender_id AND new.nonce = i.nonce
    WHERE new.file_ids <> '' AND f.id = ANY (string_to_array(new.file_ids, ' ')::bigint[])
      AND f.message_id IS NULL AND f.deleted_at IS NULL
      AND f.uploader_id = i.sender_id AND f.room_id = i.room_id
      AND (f.scheduled_id IS NULL OR new.nonce = 'sched:' || f.scheduled_id)
    RETURNING f.id
)
"""
_ATTACHED = _ATTACH + f"""\
SELECT id, room_id, seq, {_ms("created_at")} AS ts, (SELECT count(*) FROM attached) AS attached
FROM inserted
"""
_SQL_APPEND_INSERT_FILES = _SQL_APPEND_INSERT_HEAD + _ATTACHED
_SQL_APPEND_INSERT_FILES_GROUP = _SQL_APPEND_INSERT_GROUP_HEAD + _ATTACHED

# The same four for a batch with a thread reply (migration 0029): the replies' thread_root
# ($8, or $9 after a group's $8) and broadcast, and each root's summary written in the same
# statement, under the room's lock: its count, its latest reply's time, its latest repliers
# (newest first, at most 5) and its rev, the seq of its latest reply. The followers' mentions
# came with the candidates' (the resolve found them). Statements of their own, so that every
# other batch runs the ones above, as it did before threads.
_THREADED = f"""{{more}}, threaded AS (
    UPDATE messages AS t
    SET reply_count = t.reply_count + n.count, reply_last_at = n.last_at, rev = n.last_seq,
        reply_users = ARRAY(
            SELECT w.name FROM (
                SELECT u.name, -i.seq AS o
                FROM inserted i JOIN users u ON u.id = i.sender_id
                WHERE i.thread_root = t.id
                UNION ALL
                SELECT x.name, x.o FROM unnest(t.reply_users) WITH ORDINALITY AS x(name, o)
            ) w
            GROUP BY w.name ORDER BY min(w.o) LIMIT {THREAD_USERS})
    FROM (
        SELECT i.thread_root AS root, count(*) AS count, max(i.created_at) AS last_at,
               max(i.seq) AS last_seq
        FROM inserted i WHERE i.thread_root IS NOT NULL GROUP BY i.thread_root
    ) n
    WHERE t.id = n.root
)"""
# A thread reply's mention rows say which are the follower mentions (migration 0033:
# by_follow), not the text's own ($10, or $11 after a group's: the names the text mentions,
# per message, space-separated): the `threads` request counts the latter. A member both named
# (or covered by a group) and following: one row, not by_follow.
_MENTIONED_THREAD = """, mentioned AS (
    INSERT INTO mentions (user_id, room_id, seq, by_follow)
    SELECT m.user_id, m.room_id, m.seq, bool_and(m.by_follow) FROM (
        SELECT u.id AS user_id, i.room_id, i.seq,
               NOT lower(n.name) = ANY (string_to_array(lower(new.named), ' ')) AS by_follow
        FROM inserted i JOIN new ON new.sender_id = i.sender_id AND new.nonce = i.nonce
        CROSS JOIN LATERAL unnest(i.mentions) AS n(name)
        JOIN users u ON lower(u.name) = lower(n.name)
        WHERE u.id <> i.sender_id{group}
    ) m
    GROUP BY m.user_id, m.room_id, m.seq
)"""
_MENTIONED_THREAD_GROUP = """
        UNION ALL
        SELECT gm.user_id, i.room_id, i.seq, false
        FROM inserted i JOIN new ON new.sender_id = i.sender_id AND new.nonce = i.nonce
        JOIN memberships gm ON gm.room_id = i.room_id
            AND gm.user_id = ANY (string_to_array(new.grp, ' ')::bigint[])
        WHERE new.grp <> '' AND gm.user_id <> i.sender_id"""
# The follows a batch's replies make (migration 0033), in the same statement, under the
# room's lock: per (user, root), the replier follows (again, whatever they chose before) and
# has read up to their reply; the root's author (a member still) and the members the text
# names follow unless they unfollowed it by hand. Every row of the thread gets its latest
# reply's time and seq (the rows just written with them). ``held`` is each written row as
# the statement found it: the tail returns the rows whose `following` changed (for the
# thread_state events), as JSON [user, room_id, root, following, read_seq].
_FOLLOWS = """, follows AS (
    SELECT w.user_id, w.root, w.room_id, max(w.seq) AS read_seq
    FROM (
        SELECT i.sender_id AS user_id, i.thread_root AS root, i.room_id, i.seq
        FROM inserted i WHERE i.thread_root IS NOT NULL
        UNION ALL
        SELECT t.sender_id, i.thread_root, i.room_id, 0
        FROM inserted i JOIN messages t ON t.id = i.thread_root
        JOIN memberships am ON am.room_id = i.room_id AND am.user_id = t.sender_id
        WHERE i.thread_root IS NOT NULL
        UNION ALL
        SELECT u.id, i.thread_root, i.room_id, 0
        FROM inserted i JOIN new ON new.sender_id = i.sender_id AND new.nonce = i.nonce
        CROSS JOIN LATERAL unnest(string_to_array(new.named, ' ')) AS n(name)
        JOIN users u ON lower(u.name) = lower(n.name)
        WHERE i.thread_root IS NOT NULL
    ) w
    GROUP BY w.user_id, w.root, w.room_id
), latest AS (
    SELECT i.thread_root AS root, max(i.seq) AS seq,
           date_trunc('milliseconds', max(i.created_at)) AS at
    FROM inserted i WHERE i.thread_root IS NOT NULL GROUP BY i.thread_root
), held AS (
    SELECT f.user_id, f.root_id, f.following
    FROM follows w JOIN thread_follows f ON f.user_id = w.user_id AND f.root_id = w.root
), followed AS (
    -- (a reply's seq is at least 1: read_seq > 0 says "the replier")
    INSERT INTO thread_follows AS f (user_id, root_id, room_id, following, read_seq,
                                     last_at, last_seq)
    SELECT w.user_id, w.root, w.room_id, true, w.read_seq, l.at, l.seq
    FROM follows w JOIN latest l ON l.root = w.root
    ON CONFLICT (user_id, root_id) DO UPDATE
    SET following = CASE WHEN excluded.read_seq > 0 THEN true
                         ELSE coalesce(f.following, true) END,
        read_seq = greatest(f.read_seq, excluded.read_seq),
        last_at = excluded.last_at, last_seq = excluded.last_seq
    RETURNING f.user_id, f.root_id, f.room_id, f.following, f.read_seq
), moved AS (
    UPDATE thread_follows f SET last_at = l.at, last_seq = l.seq
    FROM latest l
    WHERE f.root_id = l.root
      AND NOT EXISTS (SELECT 1 FROM follows w WHERE w.user_id = f.user_id AND w.root = l.root)
)"""
_FOLLOWED = """(
    SELECT json_agg(json_build_array(u.name, c.room_id, c.root_id, c.following, c.read_seq))
    FROM followed c JOIN users u ON u.id = c.user_id
    LEFT JOIN held b ON b.user_id = c.user_id AND b.root_id = c.root_id
    WHERE coalesce(b.following, false) <> c.following
) AS followed"""
_THREAD_INSERT_EXTRAS = {
    "columns": _APPEND_INSERT_EXTRAS["columns"] + ", thread_root, broadcast",
    "values": _APPEND_INSERT_EXTRAS["values"] + ",\n           new.thread, new.broadcast",
    "returning": ", thread_root",
}
_SQL_APPEND_INSERT_THREAD_HEAD = _APPEND_INSERT.format(
    arrays="$1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], "
           "$7::text[], $8::bigint[], $9::boolean[], $10::text[]",
    names=", reply_to, mentions, file_ids, thread, broadcast, named",
    more=_THREADED.format(more=_MENTIONED_THREAD.format(group="")) + _FOLLOWS,
    **_THREAD_INSERT_EXTRAS,
)
_SQL_APPEND_INSERT_THREAD_GROUP_HEAD = _APPEND_INSERT.format(
    arrays="$1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], "
           "$7::text[], $8::text[], $9::bigint[], $10::boolean[], $11::text[]",
    names=", reply_to, mentions, file_ids, grp, thread, broadcast, named",
    more=_THREADED.format(more=_MENTIONED_THREAD.format(group=_MENTIONED_THREAD_GROUP))
    + _FOLLOWS,
    **_THREAD_INSERT_EXTRAS,
)
# What the insert of a batch with a thread reply returns: as the others' (_INSERTED,
# _ATTACHED), with the follows that changed (on every row: the tail is one statement).
_INSERTED_THREAD = f"""
SELECT id, room_id, seq, {_ms("created_at")} AS ts, 0::bigint AS attached, {_FOLLOWED}
FROM inserted
"""
_ATTACHED_THREAD = _ATTACH + f"""\
SELECT id, room_id, seq, {_ms("created_at")} AS ts, (SELECT count(*) FROM attached) AS attached,
       {_FOLLOWED}
FROM inserted
"""
_SQL_APPEND_INSERT_THREAD = _SQL_APPEND_INSERT_THREAD_HEAD + _INSERTED_THREAD
_SQL_APPEND_INSERT_THREAD_GROUP = _SQL_APPEND_INSERT_THREAD_GROUP_HEAD + _INSERTED_THREAD
_SQL_APPEND_INSERT_FILES_THREAD = _SQL_APPEND_INSERT_THREAD_HEAD + _ATTACHED_THREAD
_SQL_APPEND_INSERT_FILES_THREAD_GROUP = _SQL_APPEND_INSERT_THREAD_GROUP_HEAD + _ATTACHED_THREAD
# The insert of a batch by (grouped, threaded): without files, with files.
_INSERTS = {
    (False, False): _SQL_APPEND_INSERT, (True, False): _SQL_APPEND_INSERT_GROUP,
    (False, True): _SQL_APPEND_INSERT_THREAD, (True, True): _SQL_APPEND_INSERT_THREAD_GROUP,
}
_INSERTS_FILES = {
    (False, False): _SQL_APPEND_INSERT_FILES, (True, False): _SQL_APPEND_INSERT_FILES_GROUP,
    (False, True): _SQL_APPEND_INSERT_FILES_THREAD,
    (True, True): _SQL_APPEND_INSERT_FILES_THREAD_GROUP,
}

# The same eight for a batch with a poll (migration 0036: rare), each made from its head: one
# more array (the poll of each message as JSON {options, multiple}, '' for none), the
# message's poll flag in its row (so that the commit notice, at the statement's end, leaves
# it to be read: its options are not among a notice's fields), and the polls' rows, in the
# same statement. Statements of their own, so that every other batch runs the ones above,
# as it did before polls.
_POLLED = """, polled AS (
    INSERT INTO polls (message_id, room_id, options, multiple)
    SELECT i.id, i.room_id, ARRAY(SELECT json_array_elements_text(new.poll::json -> 'options')),
           (new.poll::json ->> 'multiple')::boolean
    FROM inserted i JOIN new ON new.sender_id = i.sender_id AND new.nonce = i.nonce
    WHERE new.poll <> ''
)"""


def _with_array(head: str, name: str, column: str, value: str) -> str:
    """An insert's ``head`` with one more array (text, called ``name`` in ``new``) and the
    messages' ``column`` written from ``value`` (an expression of ``new``): how the rare
    variants below (a poll, a forward) are made from the statements above."""
    arrays, rest = head.split(")\n        WITH ORDINALITY AS n(", 1)
    last = max(int(n) for n in re.findall(r"\$(\d+)::", arrays))
    names, rest = rest.split(", ord)", 1)
    made = (f"{arrays}, ${last + 1}::text[])\n        WITH ORDINALITY AS n({names}, {name}, ord)"
            + rest)
    for old, new in (
            ("INSERT INTO messages (room_id, seq, sender_id, nonce, text, ",
             f"INSERT INTO messages (room_id, seq, sender_id, nonce, text, {column}, "),
            ("new.sender_id, new.nonce, new.text, ",
             f"new.sender_id, new.nonce, new.text, {value}, ")):
        assert made.count(old) == 1, old
        made = made.replace(old, new)
    return made


def _with_poll(head: str) -> str:
    """The poll variant of an insert's ``head`` (see :data:`_POLLED`): its arrays and
    ``new``'s names one longer, the messages' ``poll`` column written, the polls' CTE after
    the rest."""
    return _with_array(head, "poll", "poll", "new.poll <> ''") + _POLLED


_POLL_INSERTS = {
    (False, False): _with_poll(_SQL_APPEND_INSERT_HEAD) + _INSERTED,
    (True, False): _with_poll(_SQL_APPEND_INSERT_GROUP_HEAD) + _INSERTED,
    (False, True): _with_poll(_SQL_APPEND_INSERT_THREAD_HEAD) + _INSERTED_THREAD,
    (True, True): _with_poll(_SQL_APPEND_INSERT_THREAD_GROUP_HEAD) + _INSERTED_THREAD,
}
_POLL_INSERTS_FILES = {
    (False, False): _with_poll(_SQL_APPEND_INSERT_HEAD) + _ATTACHED,
    (True, False): _with_poll(_SQL_APPEND_INSERT_GROUP_HEAD) + _ATTACHED,
    (False, True): _with_poll(_SQL_APPEND_INSERT_THREAD_HEAD) + _ATTACHED_THREAD,
    (True, True): _with_poll(_SQL_APPEND_INSERT_THREAD_GROUP_HEAD) + _ATTACHED_THREAD,
}

# The variants of the eight (and of the poll ones) for a batch with a forward (migration 0039:
# rare), made from their heads as the poll ones are: one more array (each message's forwarded
# object as JSON, '' for none), written to the messages' ``forwarded`` column (NULL for
# none). Statements of their own, made when first used: every batch without a forward runs
# the statements above, as it did before forwards.
def _with_forward(head: str) -> str:
    """The forward variant of an insert's ``head`` (plain, or a poll variant's)."""
    return _with_array(head, "fwd", "forwarded", "nullif(new.fwd, '')::jsonb")


_HEADS = {
    (False, False): _SQL_APPEND_INSERT_HEAD, (True, False): _SQL_APPEND_INSERT_GROUP_HEAD,
    (False, True): _SQL_APPEND_INSERT_THREAD_HEAD,
    (True, True): _SQL_APPEND_INSERT_THREAD_GROUP_HEAD,
}


@functools.cache
def _forward_insert(polled: bool, grouped: bool, threaded: bool, files: bool) -> str:
    """The insert of a batch with a forward (see :func:`_with_forward`), by what else the
    batch holds: a poll, a group mention, a thread reply, files."""
    head = _HEADS[grouped, threaded]
    head = _with_forward(_with_poll(head) if polled else head)
    if files:
        return head + (_ATTACHED_THREAD if threaded else _ATTACHED)
    return head + (_INSERTED_THREAD if threaded else _INSERTED)


# A message's thread (migration 0029), as _entry reads it: the root it replies in, whether it
# was broadcast, and a root's summary.
_THREAD_COLUMNS = f"""m.thread_root, m.broadcast, m.reply_count,
               {_ms("m.reply_last_at")} AS reply_last_ts, m.reply_users"""

# A page of room {room}'s log ({lo} < seq < {hi}, at most {limit} entries, by seq
# {direction}): a walk of the (room_id, seq) index of messages and one of changes, merged.
# A message is read as it is now; its reactions, its pin and its quote are looked up only
# for a message that may have them (rev set: a pin is a change too; reply_to set; files > 0),
# by key; its poll only for a poll's message (has_poll: messages.poll, migration 0036).
_MESSAGE_EXTRAS = """
       CASE WHEN e.kind = 'message' AND e.rev IS NOT NULL AND e.deleted_at IS NULL THEN (
           SELECT json_agg(json_build_array(g.emoji, g.users) ORDER BY g.first)
           FROM (
               SELECT x.emoji, array_agg(xu.name ORDER BY x.seq) AS users,
                      min(x.since) AS first
               FROM reactions x JOIN users xu ON xu.id = x.user_id
               WHERE x.message_id = e.msg_id
               GROUP BY x.emoji
           ) g
       ) END AS reactions,
       CASE WHEN e.reply_to IS NOT NULL THEN (
           SELECT {quote} FROM messages q JOIN users qu ON qu.id = q.sender_id
           WHERE q.id = e.reply_to
       ) END AS quote,
       CASE WHEN e.files > 0 AND e.deleted_at IS NULL THEN (
           SELECT json_agg(json_build_array({file_fields}) ORDER BY f.id)
           FROM files f WHERE f.message_id = e.msg_id AND NOT f.preview
       ) END AS file_list,
       CASE WHEN e.kind = 'message' AND e.rev IS NOT NULL AND e.deleted_at IS NULL THEN (
           SELECT json_build_array(pu.name, """ + _ms("p.created_at") + """, p.seq)
           FROM pins p JOIN users pu ON pu.id = p.by_id WHERE p.message_id = e.msg_id
       ) END AS pin,
       CASE WHEN e.has_poll AND e.deleted_at IS NULL THEN (
           SELECT json_build_array(p.options, p.multiple, cu.name, """ + _ms("p.closed_at") + """, (
               SELECT json_agg(json_build_array(vu.name, v.options) ORDER BY v.seq)
               FROM poll_votes v JOIN users vu ON vu.id = v.user_id
               WHERE v.message_id = p.message_id))
           FROM polls p LEFT JOIN users cu ON cu.id = p.closed_by WHERE p.message_id = e.msg_id
       ) END AS poll_state"""
_SQL_LOG_PAGE = """
SELECT e.*, a.name AS sender,""" + _MESSAGE_EXTRAS + """,
       CASE WHEN e.target_id IS NOT NULL THEN (
           SELECT t.name FROM users t WHERE t.id = e.target_id
       ) END AS target
FROM (
    (
        SELECT 'message' AS kind, m.seq, m.id AS msg_id, m.sender_id AS actor_id, m.text,
               {ts} AS ts, m.nonce, m.rev, m.edited_at, {edited_ts} AS edited_ts,
               m.deleted_at, m.reply_to, m.mentions, NULL::text AS emoji,
               NULL::boolean AS reaction_on, m.files, NULL::bigint AS target_id,
               NULL::bigint AS expires_at,
               CASE WHEN m.deleted_at IS NULL THEN m.preview::text END AS preview,
               {thread_columns}, m.poll AS has_poll, NULL::smallint[] AS choice,
               m.forwarded::text AS forwarded
        FROM messages m
        WHERE m.room_id = {room} AND m.seq > {lo} AND m.seq < {hi}
        ORDER BY m.seq {direction}
        LIMIT {limit}
    )
    UNION ALL
    (
        SELECT c.kind, c.seq, c.message_id, c.actor_id, coalesce(c.text, ''), {cts}, '',
               NULL, NULL, NULL, NULL, NULL, c.mentions, c.emoji, c.reaction_on, NULL,
               c.target_id, {cexp}, c.preview::text, NULL, NULL, NULL, NULL, NULL, false,
               c.choice, NULL
        FROM changes c
        WHERE c.room_id = {room} AND c.seq > {lo} AND c.seq < {hi}
        ORDER BY c.seq {direction}
        LIMIT {limit}
    )
    ORDER BY seq {direction}
    LIMIT {limit}
) e JOIN users a ON a.id = e.actor_id
ORDER BY e.seq {direction}
"""


# -- archiving and deleting rooms (migration 0015) -------------------------------------------

_SQL_ROOM_ARCHIVED = "SELECT archived FROM rooms WHERE name = $1"
# Which of rooms $1 are archived (false for a tombstone: a deleted room is not found).
_SQL_ROOMS_ARCHIVED = """
SELECT id, archived AND deleted_at IS NULL AS archived FROM rooms WHERE id = ANY ($1::bigint[])
"""

# Deleting a room, step 1 (one short transaction; PostgresStorage.delete_room): lock the
# room as appending does, but exclusively (FOR UPDATE: a send's lock waits for this commit,
# then finds a tombstone and takes nothing), after reading the actor ($1; none from the
# command line).
_SQL_DELETE_ACTOR = "SELECT name, admin FROM users WHERE id = $1"
_SQL_DELETE_LOCK = """
SELECT id, kind, last_seq FROM rooms WHERE name = $1 AND deleted_at IS NULL FOR UPDATE
"""
# Then, with chatd.quiet set (migration 0015: no membership notice per member), the
# memberships go, the files stop being served, the audit log keeps the room's name and
# records the deletion, the room becomes a tombstone whose name ('~' and its id) no room can
# have, and the other nodes are told (at commit).
_SQL_DELETE_TOMBSTONE = """
WITH members AS (
    DELETE FROM memberships WHERE room_id = $1
), files_gone AS (
    UPDATE files SET deleted_at = coalesce(deleted_at, now()) WHERE room_id = $1
), named AS (
    UPDATE audit_log SET room_name = $2 WHERE room_id = $1
), audited AS (
    INSERT INTO audit_log (actor_id, action, room_id, room_name, details)
    VALUES ($3, 'delete_room', $1, $2, $4::jsonb)
), tomb AS (
    UPDATE rooms SET name = '~' || id, private = true, archived = true, deleted_at = now()
    WHERE id = $1
)
SELECT pg_notify('chatd_rooms', current_setting('application_name') || ' ' || $2 || ' ' || $5)
"""
# Step 2, in transactions nobody waits on (a tombstone has no name anyone can give): its log
# in chunks of $2 entries, each a walk of a (room_id, seq) index, then the row itself, whose
# foreign keys take the rest (mentions, bans, hooks, webhook; files and the audit log keep
# their rows without it).
_SQL_TOMBSTONES = "SELECT id FROM rooms WHERE deleted_at IS NOT NULL ORDER BY id"
_SQL_PURGE_CHANGES = """
DELETE FROM changes WHERE room_id = $1 AND seq IN (
    SELECT seq FROM changes WHERE room_id = $1 ORDER BY seq LIMIT $2
)
"""
_SQL_PURGE_MESSAGES = """
WITH doomed AS (
    SELECT id FROM messages WHERE room_id = $1 ORDER BY seq LIMIT $2
), reactions_gone AS (
    DELETE FROM reactions x USING doomed d WHERE x.message_id = d.id
), unfiled AS (
    UPDATE files f SET message_id = NULL FROM doomed d WHERE f.message_id = d.id
)
SELECT array_agg(id) FROM doomed
"""
_SQL_PURGE_MESSAGE_ROWS = "DELETE FROM messages WHERE id = ANY ($1::bigint[])"
_SQL_PURGE_ROOM = "DELETE FROM rooms WHERE id = $1 AND deleted_at IS NOT NULL"
#: Entries of a deleted room's log deleted per transaction.
PURGE_CHUNK = 5000

# -- files ---------------------------------------------------------------------------------------

# Whether user $2 may upload to room $1 (members only, not while it is archived), and what
# their kept files hold.
_SQL_UPLOAD_ALLOWANCE = """
SELECT r.id, r.archived, EXISTS (
           SELECT 1 FROM memberships m WHERE m.room_id = r.id AND m.user_id = $2
       ) AS member,
       (SELECT coalesce(sum(size), 0) FROM files
        WHERE uploader_id = $2 AND deleted_at IS NULL AND NOT preview AND NOT avatar
              AND NOT emoji) AS used
FROM rooms r WHERE r.name = $1
"""
# Uploads of one user queue on their row (a lock that foreign-key checks do not take).
_SQL_LOCK_UPLOADER = "SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE"
# The head of the statements that add files (an upload, a forward's copies): ``r``, room $2
# if user $1 is a member of it and it is not archived (it may have been while an upload's
# body streamed); ``used``, the bytes of user $1's files that count against their quota.
_FILES_ROOM_AND_USED = """
WITH r AS (
    SELECT r.id FROM rooms r JOIN memberships m ON m.room_id = r.id AND m.user_id = $1
    WHERE r.name = $2 AND NOT r.archived
), used AS (
    SELECT coalesce(sum(size), 0) AS n FROM files
    WHERE uploader_id = $1 AND deleted_at IS NULL AND NOT preview AND NOT avatar AND NOT emoji
)"""
# The file, if user $1 is a member of room $2, the room is not archived and the file fits in
# quota $7; else no row.
_SQL_ADD_FILE = _FILES_ROOM_AND_USED + """
INSERT INTO files (sha256, size, name, content_type, uploader_id, room_id,
                   width, height, thumb_sha256, thumb_width, thumb_height)
SELECT $3::text, $4::bigint, $5::text, $6::text, $1::bigint, r.id,
       $8::integer, $9::integer, $10::text, $11::integer, $12::integer FROM r, used
WHERE used.n + $4::bigint <= $7::bigint
RETURNING id
"""
# Forwards (migration 0039): copies of files $3 (those not deleted, in id order) as user $1's
# unattached uploads to room $2, if they are a member, the room is not archived and all of
# them fit in quota $4 (else no row): new rows, the same bytes (content-addressed: none are
# copied), name, type and thumbnail.
_SQL_COPY_FILES = _FILES_ROOM_AND_USED + """, src AS (
    SELECT * FROM files
    WHERE id = ANY ($3::bigint[]) AND deleted_at IS NULL AND NOT preview AND NOT avatar
      AND NOT emoji
), adding AS (
    SELECT coalesce(sum(size), 0) AS n FROM src
)
INSERT INTO files (sha256, size, name, content_type, uploader_id, room_id,
                   width, height, thumb_sha256, thumb_width, thumb_height)
SELECT s.sha256, s.size, s.name, s.content_type, $1::bigint, r.id,
       s.width, s.height, s.thumb_sha256, s.thumb_width, s.thumb_height
FROM src s, r, used, adding
WHERE used.n + adding.n <= $4::bigint
ORDER BY s.id
RETURNING id
"""
_FILE_COLUMNS = """
SELECT f.id, f.name, f.size, f.content_type, f.sha256, f.uploader_id, f.message_id,
       f.width, f.height, f.thumb_sha256, r.name AS room
FROM files f JOIN rooms r ON r.id = f.room_id"""
_SQL_GET_FILE = f"""{_FILE_COLUMNS}
WHERE f.id = $1 AND f.deleted_at IS NULL AND (f.message_id IS NOT NULL OR f.uploader_id = $2)
  AND {_READABLE.format(user="$2")}
"""
# The same rule for the files of ids $1 (any number, as a batch of links asks).
_SQL_READABLE_FILES = f"""{_FILE_COLUMNS}
WHERE f.id = ANY ($1::bigint[]) AND f.deleted_at IS NULL
  AND (f.message_id IS NOT NULL OR f.uploader_id = $2) AND {_READABLE.format(user="$2")}
ORDER BY f.id
"""
# Uploads older than $1 seconds that no message attached become deleted files (see
# Storage.expire_uploads); the WHERE is checked again on each row as it is locked, so an attach
# that committed meanwhile keeps its file. All users' (the collect's sweep, by
# files_unattached_idx, at most $2), or one user's ($2, by files_uploader_idx: before their
# upload checks their quota).
_EXPIRED = "f.message_id IS NULL AND f.deleted_at IS NULL AND NOT f.avatar AND NOT f.emoji " \
    "AND f.scheduled_id IS NULL AND f.created_at < now() - make_interval(secs => $1)"
_SQL_EXPIRE_UPLOADS = f"""
UPDATE files f SET deleted_at = now()
WHERE f.id IN (SELECT f.id FROM files f WHERE {_EXPIRED} ORDER BY f.created_at LIMIT $2)
  AND {_EXPIRED}
"""
# A refused forward's copies (never a file attached since: a duplicate's own are its
# first's): deleted as an expired upload is.
_SQL_DISCARD_COPIES = """
UPDATE files f SET deleted_at = now()
WHERE f.id = ANY ($1::bigint[]) AND f.message_id IS NULL AND f.deleted_at IS NULL
"""
_SQL_EXPIRE_USER_UPLOADS = f"""
UPDATE files f SET deleted_at = now() WHERE f.uploader_id = $2 AND {_EXPIRED}
"""
_SQL_KEPT_FILE = f"""{_FILE_COLUMNS}
WHERE f.id = $1 AND f.deleted_at IS NULL
"""
# Bytes $1 are in use while a kept file has them as its content or its thumbnail (two probes
# of partial indexes).
_IN_USE = """(
    EXISTS (SELECT 1 FROM files k WHERE k.sha256 = {sha} AND k.deleted_at IS NULL)
    OR EXISTS (SELECT 1 FROM files k WHERE k.thumb_sha256 = {sha} AND k.deleted_at IS NULL
                                      AND k.thumb_sha256 IS NOT NULL)
)"""
_SQL_FILE_BYTES_IN_USE = f"SELECT {_IN_USE.format(sha='$1')}"
# Thumbnails first: a deleted row is forgotten once its content's bytes go and its thumbnail's
# are gone already, so that collecting thumbnails first lets one run finish both.
_SQL_DEAD_FILE_BYTES = f"""
SELECT sha256 FROM (
    SELECT d.thumb_sha256 AS sha256, 0 AS role FROM files d
    WHERE d.deleted_at IS NOT NULL AND d.thumb_sha256 IS NOT NULL
    UNION
    SELECT d.sha256, 1 FROM files d WHERE d.deleted_at IS NOT NULL
) dead
WHERE NOT {_IN_USE.format(sha="dead.sha256")}
GROUP BY sha256 ORDER BY min(role)
LIMIT $1
"""
# A user's picture (migration 0028): their kept avatar file marked deleted, the new one's
# row added ($2 SHA-256, $3 size; none when $2 is NULL) and users.avatar set, in one
# statement (so one transaction); the row is locked first, so that two changes of one user
# compare with each other's results. Returns the profile and whether the picture changed.
_SQL_SET_AVATAR = f"""
WITH old AS (
    SELECT u.id, u.avatar FROM users u WHERE u.id = $1 FOR UPDATE
), gone AS (
    UPDATE files f SET deleted_at = now() FROM old
    WHERE f.uploader_id = old.id AND f.avatar AND f.deleted_at IS NULL
), added AS (
    INSERT INTO files (sha256, size, name, content_type, uploader_id, room_id, avatar)
    SELECT $2::text, $3::bigint, 'avatar.webp', 'image/webp', old.id, NULL, true
    FROM old WHERE $2::text IS NOT NULL
), u AS (
    UPDATE users u SET avatar = $2::text FROM old WHERE u.id = old.id
    RETURNING u.*
)
SELECT u.name, {_profile_columns("u")}, u.deactivated_at IS NOT NULL AS deactivated,
       old.avatar IS DISTINCT FROM u.avatar AS changed
FROM u, old
"""
_SQL_AVATAR_EXISTS = """
SELECT EXISTS (SELECT 1 FROM files WHERE sha256 = $1 AND avatar AND deleted_at IS NULL)
"""
# Custom emoji (migration 0031). An emoji added: its row and its picture's file row (of no
# room, marked emoji) in one statement, the file's id taken first so that each row names the
# other's; nothing when the name $1 is taken (ON CONFLICT: a concurrent add of the same name
# waits for the first and then adds nothing).
_EMOJI_COLUMNS = """e.name, e.sha256, u.name AS by,
       floor(extract(epoch FROM e.created_at) * 1000)::bigint AS ts"""
_SQL_ADD_EMOJI = f"""
WITH e AS (
    INSERT INTO custom_emoji (name, sha256, creator_id, file_id)
    VALUES ($1, $2, $3, nextval(pg_get_serial_sequence('files', 'id')))
    ON CONFLICT (name) DO NOTHING
    RETURNING *
), f AS (
    INSERT INTO files (id, sha256, size, name, content_type, uploader_id, room_id, emoji)
    SELECT e.file_id, e.sha256, $4::bigint, e.name || '.webp', 'image/webp', e.creator_id,
           NULL, true
    FROM e
)
SELECT {_EMOJI_COLUMNS} FROM e JOIN users u ON u.id = e.creator_id
"""
# The emoji $1 removed by user $2 when they added it or $3 (an administrator); its file row
# marked deleted. ``found``: whether it existed (locked first, so that two removals agree).
_SQL_REMOVE_EMOJI = f"""
WITH old AS (
    SELECT * FROM custom_emoji WHERE name = $1 FOR UPDATE
), gone AS (
    DELETE FROM custom_emoji c USING old
    WHERE c.name = old.name AND (old.creator_id = $2 OR $3::boolean)
    RETURNING c.file_id
), f AS (
    UPDATE files SET deleted_at = now() FROM gone WHERE files.id = gone.file_id
)
SELECT {_EMOJI_COLUMNS}, EXISTS (SELECT 1 FROM gone) AS removed
FROM old e JOIN users u ON u.id = e.creator_id
"""
_SQL_CUSTOM_EMOJI = f"""
SELECT {_EMOJI_COLUMNS} FROM custom_emoji e JOIN users u ON u.id = e.creator_id ORDER BY e.name
"""
_SQL_CUSTOM_EMOJI_EXISTS = "SELECT EXISTS (SELECT 1 FROM custom_emoji WHERE name = $1)"
_SQL_EMOJI_IMAGE_EXISTS = """
SELECT EXISTS (SELECT 1 FROM files WHERE sha256 = $1 AND emoji AND deleted_at IS NULL)
"""
_SQL_FORGET_DEAD_THUMBNAILS = f"""
UPDATE files SET thumb_sha256 = NULL
WHERE thumb_sha256 = $1 AND deleted_at IS NOT NULL AND NOT {_IN_USE.format(sha="$1")}
"""
_SQL_FORGET_DEAD_FILES = f"""
DELETE FROM files d
WHERE d.sha256 = $1 AND d.deleted_at IS NOT NULL AND d.thumb_sha256 IS NULL
  AND NOT {_IN_USE.format(sha="$1")}
"""


def _log_page(room: str, direction: str, lo: str, hi: str, limit: str) -> str:
    return _SQL_LOG_PAGE.format(
        room=room, direction=direction, lo=lo, hi=hi, limit=limit, quote=_QUOTE,
        file_fields=_FILE_FIELDS,
        ts=_ms("m.created_at"), edited_ts=_ms("m.edited_at"), cts=_ms("c.created_at"),
        cexp=_ms("c.expires_at"), thread_columns=_THREAD_COLUMNS,
    )


# History: the room, whether the user may read it, its last_seq and one page of its log, in
# one statement (one snapshot). Newest-first for "latest"/"before", oldest-first for "after".
# $5 is limit + 1: the extra row tells whether there is more.
_SQL_HISTORY = """
WITH r AS (
    SELECT r.id, r.last_seq, {readable} AS allowed FROM rooms r WHERE r.name = $1
)
SELECT r.last_seq, r.allowed, p.*
FROM r LEFT JOIN LATERAL (
    {page}
) p ON r.allowed
"""
_SQL_HISTORY_NEWEST = _SQL_HISTORY.format(
    readable=_READABLE.format(user="$2"), page=_log_page("r.id", "DESC", "$3", "$4", "$5"),
)
_SQL_HISTORY_OLDEST = _SQL_HISTORY.format(
    readable=_READABLE.format(user="$2"), page=_log_page("r.id", "ASC", "$3", "$4", "$5"),
)

# A message (alias m) as an entry of its room's log, by the columns _entry reads: what every
# read of messages by key gives (the pins, found messages, messages by nonce), so that a
# column added to messages is read by all of them.
_MESSAGE_ENTRY = f"""'message' AS kind, m.seq, m.id AS msg_id, m.sender_id AS actor_id,
           m.text, {_ms("m.created_at")} AS ts, m.nonce, m.rev,
           {_ms("m.edited_at")} AS edited_ts, m.deleted_at, m.reply_to, m.mentions,
           NULL::text AS emoji, NULL::boolean AS reaction_on, m.files,
           CASE WHEN m.deleted_at IS NULL THEN m.preview::text END AS preview,
           {_THREAD_COLUMNS}, m.poll AS has_poll, m.forwarded::text AS forwarded"""

# The pins of room $1 (Storage.pins) for user $2, who must be a member: the room's last_seq,
# whether they may see them, and the messages pinned by an entry before $3, the most recently
# pinned first, $4 at most (limit + 1: the extra row tells whether there is more): a walk of
# pins_room_seq_key backwards (migration 0024), each message read by key as history reads it.
_SQL_PINS = f"""
WITH r AS (
    SELECT r.id, r.last_seq, EXISTS (
        SELECT 1 FROM memberships rm WHERE rm.room_id = r.id AND rm.user_id = $2
    ) AS allowed
    FROM rooms r WHERE r.name = $1
)
SELECT r.last_seq, r.allowed, e.*, a.name AS sender,{_MESSAGE_EXTRAS.format(
    quote=_QUOTE, file_fields=_FILE_FIELDS)}
FROM r LEFT JOIN LATERAL (
    SELECT {_MESSAGE_ENTRY}, p.seq AS pin_seq
    FROM pins p JOIN messages m ON m.id = p.message_id
    WHERE p.room_id = r.id AND p.seq < $3
    ORDER BY p.seq DESC
    LIMIT $4
) e ON r.allowed
LEFT JOIN users a ON a.id = e.actor_id
ORDER BY e.pin_seq DESC
"""

# A page of room $1's messages as they are now, seq > $2, $3 at most, for an export of a
# user's data (Storage.export_messages): a walk of messages_room_seq_key, each message read
# as history reads it; the _BY_SENDER variant only user $4's, a walk of
# messages_room_sender_idx (migration 0016): its cost is the user's messages, not the room's.
_SQL_EXPORT_MESSAGES = """
SELECT e.*, a.name AS sender,{extras}
FROM (
    SELECT {entry}
    FROM messages m
    WHERE m.room_id = (SELECT id FROM rooms WHERE name = $1) AND m.seq > $2 {sender}
    ORDER BY m.seq
    LIMIT $3
) e
LEFT JOIN users a ON a.id = e.actor_id
ORDER BY e.seq
"""
_SQL_EXPORT_MESSAGES_BY_SENDER = _SQL_EXPORT_MESSAGES.format(
    extras=_MESSAGE_EXTRAS.format(quote=_QUOTE, file_fields=_FILE_FIELDS), entry=_MESSAGE_ENTRY,
    sender="AND m.sender_id = $4")
_SQL_EXPORT_MESSAGES = _SQL_EXPORT_MESSAGES.format(
    extras=_MESSAGE_EXTRAS.format(quote=_QUOTE, file_fields=_FILE_FIELDS), entry=_MESSAGE_ENTRY,
    sender="")

# The thread of message $3 of room $1 (Storage.thread) for user $2, who must be a member: the
# room's last_seq, whether they may read it, the thread's root (the message, or the root of
# the reply it is; part 0) and its replies with seq < $4, the newest first, $5 at most
# (limit + 1: the extra row tells whether there is more; part 1): a walk of
# messages_thread_idx backwards (migration 0029), each message read as history reads it.
_SQL_THREAD = f"""
WITH r AS (
    SELECT r.id, r.last_seq, EXISTS (
        SELECT 1 FROM memberships rm WHERE rm.room_id = r.id AND rm.user_id = $2
    ) AS allowed
    FROM rooms r WHERE r.name = $1
), t AS (
    SELECT coalesce(x.thread_root, x.id) AS id
    FROM r JOIN messages x ON x.id = $3 AND x.room_id = r.id
    WHERE r.allowed
), f AS (
    -- The user's state of the thread (its row of thread_follows, one key): one row always.
    SELECT coalesce(bool_or(tf.following), false) AS following,
           coalesce(max(tf.read_seq), 0) AS read_seq
    FROM t JOIN thread_follows tf ON tf.user_id = $2 AND tf.root_id = t.id
)
SELECT r.last_seq, r.allowed, f.following AS thread_following, f.read_seq AS thread_read_seq,
       e.*, a.name AS sender,{_MESSAGE_EXTRAS.format(quote=_QUOTE, file_fields=_FILE_FIELDS)}
FROM r CROSS JOIN f LEFT JOIN LATERAL (
    SELECT 0 AS part, {_MESSAGE_ENTRY}
    FROM t JOIN messages m ON m.id = t.id
    UNION ALL (
        -- The root's id as a value (an InitPlan), so that the walk is planned on the index
        -- of the thread's own rows: joined, the planner walks the room's whole log instead.
        SELECT 1 AS part, {_MESSAGE_ENTRY}
        FROM messages m
        WHERE m.room_id = r.id AND m.thread_root = (SELECT t.id FROM t) AND m.seq < $4
        ORDER BY m.seq DESC
        LIMIT $5
    )
) e ON r.allowed
LEFT JOIN users a ON a.id = e.actor_id
ORDER BY e.part, e.seq DESC
"""

# A resume (Storage.resume_pages): rooms $2 (names) with the seqs $3 their client saw, in one
# statement: per room, its last_seq, whether user $1 may read it, and its entries after the
# seq seen, as a history "after" page of $4 (limit + 1) would give them: the same page, each
# room a walk of the (room_id, seq) indexes. A room the user may not read, or with more than
# $5 (limit) entries after the seq seen (the log is dense: last_seq tells, in the same
# snapshot), reads none: its page's LIMIT is 0, and a Limit node with nothing to return does
# not run what is under it (a condition in the join's ON would be checked only after the
# page was read, row by row). OFFSET 0 keeps the room's subquery whole, so that whether the
# user may read it is found once a room (flattened, it was found again for each LIMIT and
# each row). Ordered by the rooms' order in $2, then by seq; a room that does not exist has
# no row.
_RESUME_LIMIT = "(CASE WHEN r.allowed AND r.last_seq - q.after <= $5 THEN $4 ELSE 0 END)"
_SQL_RESUME = """
SELECT q.ord, r.last_seq, r.allowed, p.*
FROM unnest($2::text[], $3::bigint[]) WITH ORDINALITY AS q(name, after, ord)
JOIN LATERAL (
    SELECT r.id, r.last_seq, {readable} AS allowed FROM rooms r WHERE r.name = q.name
    OFFSET 0
) r ON true
LEFT JOIN LATERAL (
    {page}
) p ON true
ORDER BY q.ord, p.seq
""".format(readable=_READABLE.format(user="$1"),
           page=_log_page("r.id", "ASC", "q.after", str(_MAX_SEQ), _RESUME_LIMIT))

# -- search (chatd/storage/search.py finds the ids) ------------------------------------------

# What a search of user $1 covers: the largest message id, the user's rooms, the rooms named
# $2 with whether the user may read them, the senders named $3 (lower case), and how many
# operands PostgreSQL keeps of the positive ($4) and negative ($5) tsquery texts (0: nothing
# searchable in them).
_SQL_SEARCH_SCOPE = f"""
SELECT (SELECT coalesce(max(id), 0) FROM messages) AS top,
       (SELECT coalesce(array_agg(room_id), '{{}}') FROM memberships WHERE user_id = $1)
           AS mine,
       (SELECT json_agg(json_build_array(r.name, r.id, {_READABLE.format(user="$1")}))
        FROM rooms r WHERE r.name = ANY ($2::text[])) AS named,
       (SELECT json_agg(json_build_array(lower(u.name), u.id))
        FROM users u WHERE lower(u.name) = ANY ($3::text[])) AS senders,
       CASE WHEN $4 = '' THEN 0 ELSE numnode(to_tsquery('simple', $4)) END AS positive,
       CASE WHEN $5 = '' THEN 0 ELSE numnode(to_tsquery('simple', $5)) END AS negative
"""
# Indexing (chatd/indexer.py): fill in the words of messages not indexed yet (words NULL,
# migration 0011), in one statement per batch, and return how many. {pick} chooses the rows:
# those of ids $1 (the new and edited messages a commit of this node names), or a sweep's
# newest $1 through messages_unindexed_idx. FOR UPDATE SKIP LOCKED leaves the rows another
# indexer (another node's) is on: two never wait for each other nor index a message twice.
# The rows are then updated by key. Under READ COMMITTED a row edited since this statement's
# snapshot is updated as the edit left it (if its words are NULL again, with its new text):
# the words stored are always those of the text the row holds.
# One statement, committed on its own (no BEGIN, SET LOCAL, COMMIT: four round trips that
# were most of the indexer's cost at low load): set_config(..., true) lasts until the end of
# the statement's own transaction, whose commit then does not wait for the disk.
# A forward's words are its comment's and the forwarded text's (migration 0039); a poll's,
# its question's and its options' (migration 0036 keeps them in polls, written with the
# message, so they are there when the indexer comes; 0043 queued the polls indexed before).
_INDEXED_TEXT = "CASE WHEN forwarded IS NOT NULL " \
    "THEN text || ' ' || coalesce(forwarded ->> 'text', '') " \
    "WHEN poll THEN text || ' ' || coalesce((SELECT array_to_string(p.options, ' ') " \
    "FROM polls p WHERE p.message_id = messages.id), '') " \
    "ELSE text END"
# Search's has:link (migration 0050) is kept here too, off the send path: a message whose
# text has a web address (LINK_PATTERN, the regular expression has:link always meant) gets a
# row of message_links, and an edited one that no longer has one loses it (by the table's
# key; only an edited message can have a row already). Nothing is written for a message
# without a link.
_INDEX_WORDS = f"""
WITH indexed AS (
    UPDATE messages SET words = {_words_of(_INDEXED_TEXT)}
    WHERE id = ANY (ARRAY(
        SELECT id FROM messages WHERE {{pick}} FOR UPDATE SKIP LOCKED
    ))
    RETURNING id, room_id, text ~* '{LINK_PATTERN}' AS link, edited_at IS NOT NULL AS edited
), linked AS (
    INSERT INTO message_links (message_id, room_id)
    SELECT id, room_id FROM indexed WHERE link
    ON CONFLICT DO NOTHING
), unlinked AS (
    DELETE FROM message_links
    WHERE message_id = ANY (ARRAY(SELECT id FROM indexed WHERE edited AND NOT link))
)
SELECT (SELECT count(*) FROM indexed), set_config('synchronous_commit', 'off', true)
"""
_SQL_INDEX_WORDS_OF = _INDEX_WORDS.format(pick="id = ANY ($1::bigint[]) AND words IS NULL")
_SQL_INDEX_WORDS_SWEEP = _INDEX_WORDS.format(
    pick="words IS NULL ORDER BY id DESC LIMIT $1")
# Merge the GIN index's pending list into the index (see PostgresStorage._do_index_words).
_SQL_INDEX_MERGE = "SELECT gin_clean_pending_list('messages_words_idx'::regclass)"
# The messages waiting for the indexer, counted up to $1.
_SQL_INDEX_BACKLOG = """
SELECT count(*) FROM (SELECT 1 FROM messages WHERE words IS NULL LIMIT $1) w
"""
# The messages of ids $1 as message objects (as a page of history shows them), with their
# room, newest first.
_SQL_FOUND = f"""
SELECT e.*, a.name AS sender, r.name AS room,{_MESSAGE_EXTRAS.format(
    quote=_QUOTE, file_fields=_FILE_FIELDS)}
FROM (
    SELECT {_MESSAGE_ENTRY}, m.room_id
    FROM messages m WHERE m.id = ANY ($1::bigint[])
) e JOIN users a ON a.id = e.actor_id JOIN rooms r ON r.id = e.room_id
ORDER BY e.msg_id DESC
"""


# The message $3 of room $2 as a page of history shows it, if user $1 may read the room (as
# history decides), with whether the room is public (what a forward may tell of it).
_SQL_FORWARD_SOURCE = f"""
SELECT e.*, a.name AS sender, q.public,{_MESSAGE_EXTRAS.format(
    quote=_QUOTE, file_fields=_FILE_FIELDS)}
FROM (
    SELECT r.id, NOT r.private AND r.kind = 'room' AS public FROM rooms r
    WHERE r.name = $2 AND r.deleted_at IS NULL AND {_READABLE.format(user="$1")}
) q CROSS JOIN LATERAL (
    SELECT {_MESSAGE_ENTRY} FROM messages m WHERE m.id = $3 AND m.room_id = q.id
) e
JOIN users a ON a.id = e.actor_id
"""
# The bytes the files $1 that are not deleted hold (what a forward's copies would add).
_SQL_LIVE_FILES = """
SELECT coalesce(sum(size), 0) FROM files WHERE id = ANY ($1::bigint[]) AND deleted_at IS NULL
"""


# The edit history of message $3 of room $1 (Storage.edit_history) for user $2, who must be
# able to read the room (as history decides): whether they may, the message (its sender, seq,
# text, time, whether deleted), how many edits it has, its first edit and its newest $4 edits
# (seq, by, ts, text, replaced), through changes_edits_idx (migration 0045); and whether $2
# wrote it or is the room's owner or a moderator of it ([messages] edit_history "moderators").
_SQL_EDIT_HISTORY = f"""
WITH r AS (
    SELECT r.id, r.owner_id, {_READABLE.format(user="$2")} AS allowed FROM rooms r
    WHERE r.name = $1
), m AS (
    SELECT m.id, m.seq, m.text, {_ms("m.created_at")} AS ts, m.deleted_at IS NOT NULL AS deleted,
           u.name AS sender, m.sender_id = $2 AS mine
    FROM r JOIN messages m ON m.id = $3 AND m.room_id = r.id JOIN users u ON u.id = m.sender_id
    WHERE r.allowed
)
SELECT r.allowed, m.seq, m.text, m.ts, m.deleted, m.sender,
       m.mine OR r.owner_id = $2 OR EXISTS (
           SELECT 1 FROM memberships rm WHERE rm.room_id = r.id AND rm.user_id = $2
                                          AND rm.role = 'moderator') AS moderates,
       (SELECT count(*) FROM changes c WHERE c.message_id = m.id AND c.kind = 'edited')
           AS edits,
       (SELECT json_build_array(c.seq, a.name, {_ms("c.created_at")}, c.text, c.replaced)
        FROM changes c JOIN users a ON a.id = c.actor_id
        WHERE c.message_id = m.id AND c.kind = 'edited' ORDER BY c.seq LIMIT 1)::text AS first,
       (SELECT json_agg(json_build_array(x.seq, x.name, x.ts, x.text) ORDER BY x.seq)
        FROM (SELECT c.seq, a.name, {_ms("c.created_at")} AS ts, c.text
              FROM changes c JOIN users a ON a.id = c.actor_id
              WHERE c.message_id = m.id AND c.kind = 'edited' ORDER BY c.seq DESC LIMIT $4) x
       )::text AS newest
FROM r LEFT JOIN m ON true
"""


# -- saved messages (migration 0030; Storage.save, saved_items, the reminders) ------------------

# What a save of user $1 needs, under the lock of their row (_SQL_LOCK_SAVES): room $2 (no
# row: there is none) with whether they may read it, message $3 of it (NULL: not in it) and
# whether it is deleted, their item for it if any, and how many items they hold of rooms they
# may read (those they no longer see, and cannot remove, do not count against the limit).
_SQL_SAVE_CHECK = f"""
SELECT r.id AS room_id, {_READABLE.format(user="$1")} AS allowed,
       m.id AS msg_id, m.deleted_at IS NOT NULL AS deleted,
       {_ms("s.saved_at")} AS saved_ts, {_ms("s.remind_at")} AS remind_ts, s.reminded,
       (SELECT count(*) FROM saved c JOIN rooms r ON r.id = c.room_id
        WHERE c.user_id = $1 AND {_READABLE.format(user="$1")}) AS held
FROM rooms r
LEFT JOIN messages m ON m.id = $3 AND m.room_id = r.id
LEFT JOIN saved s ON s.user_id = $1 AND s.msg_id = m.id
WHERE r.name = $2
"""
# A user's saves one at a time (the count against the limit, the strictly increasing
# saved_at): their row, locked without its key, so that nothing referencing it waits.
_SQL_LOCK_SAVES = "SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE"
# A new item: saved now, or a millisecond after the user's latest (the cursor is unique).
_SQL_SAVE_INSERT = f"""
INSERT INTO saved (user_id, msg_id, room_id, saved_at, remind_at, set_by)
SELECT $1, $2, $3, greatest(date_trunc('milliseconds', now()),
                            max(p.saved_at) + interval '1 millisecond'), {_ts("$4")}, $5
FROM (SELECT max(saved_at) AS saved_at FROM saved WHERE user_id = $1) p
RETURNING {_ms("saved_at")} AS saved_ts
"""
_SQL_SAVE_REMIND = f"""
UPDATE saved SET remind_at = {_ts("$3")}, reminded = false, claimed_until = NULL
WHERE user_id = $1 AND msg_id = $2
"""
_SQL_UNSAVE = "DELETE FROM saved WHERE user_id = $1 AND msg_id = $2"
# A page of user $1's items saved before $2 (ms), newest first, $3 at most, of the rooms they
# may read, each message read by key as the pins are: a walk of saved_user_saved_at_key.
_SQL_SAVED_ITEMS = f"""
SELECT q.room, q.saved_ts, q.remind_ts, q.reminded, q.set_by_name, e.*,
       a.name AS sender,{_MESSAGE_EXTRAS.format(quote=_QUOTE, file_fields=_FILE_FIELDS)}
FROM (
    SELECT s.msg_id AS saved_msg, r.name AS room, s.saved_at, {_ms("s.saved_at")} AS saved_ts,
           {_ms("s.remind_at")} AS remind_ts, s.reminded,
           (SELECT b.name FROM users b WHERE b.id = s.set_by AND b.id <> $1) AS set_by_name
    FROM saved s JOIN rooms r ON r.id = s.room_id
    WHERE s.user_id = $1 AND s.saved_at < {_ts("$2")} AND {_READABLE.format(user="$1")}
    ORDER BY s.saved_at DESC
    LIMIT $3
) q CROSS JOIN LATERAL (
    SELECT {_MESSAGE_ENTRY} FROM messages m WHERE m.id = q.saved_msg
) e
JOIN users a ON a.id = e.actor_id
ORDER BY q.saved_at DESC
"""
# Whom user $1 would remind as $2 (any case): the account, whether it is deactivated, takes
# reminders from others (users.reminders_from_others, migration 0051), and shares a room or a
# conversation with $1 (any membership of both; the notes to self count for nobody else).
_SQL_REMINDER_TARGET = """
SELECT u.id, u.name, u.deactivated_at IS NOT NULL AS deactivated,
       u.reminders_from_others AS allowed,
       EXISTS (SELECT 1 FROM memberships a JOIN memberships b ON b.room_id = a.room_id
               WHERE a.user_id = $1 AND b.user_id = u.id) AS shares
FROM users u WHERE lower(u.name) = lower($2)
"""
# A page of the reminders user $1 set for others (saved rows of theirs with set_by $1),
# newest set first (by message: each is a new note), below message $2, $3 at most, with whom
# each is for, each message read by key as the saved list reads them (saved_set_by_idx).
_SQL_REMINDERS_SET = f"""
SELECT q.room, q.for_user, q.saved_ts, q.remind_ts, q.reminded, e.*,
       a.name AS sender,{_MESSAGE_EXTRAS.format(quote=_QUOTE, file_fields=_FILE_FIELDS)}
FROM (
    SELECT s.msg_id AS saved_msg, r.name AS room, u.name AS for_user,
           {_ms("s.saved_at")} AS saved_ts, {_ms("s.remind_at")} AS remind_ts, s.reminded
    FROM saved s JOIN rooms r ON r.id = s.room_id JOIN users u ON u.id = s.user_id
    WHERE s.set_by = $1 AND s.user_id <> $1 AND s.msg_id < $2
    ORDER BY s.msg_id DESC
    LIMIT $3
) q CROSS JOIN LATERAL (
    SELECT {_MESSAGE_ENTRY} FROM messages m WHERE m.id = q.saved_msg
) e
JOIN users a ON a.id = e.actor_id
ORDER BY q.saved_msg DESC
"""
# The reminder user $1 set for user $2 of message $3 removed, while it has not fired (under
# the lock of $2's row, as the claim's mark takes it: a claim that has not marked it finds
# no row and tells nothing).
_SQL_CANCEL_REMINDER = f"""
WITH gone AS (
    DELETE FROM saved s WHERE s.user_id = $2 AND s.msg_id = $3 AND s.set_by = $1
                          AND NOT s.reminded
    RETURNING s.room_id, s.saved_at, s.remind_at
)
SELECT r.name AS room, {_ms("g.saved_at")} AS saved_ts, {_ms("g.remind_at")} AS remind_ts,
       (SELECT name FROM users WHERE id = $2) AS for_user
FROM gone g JOIN rooms r ON r.id = g.room_id
"""
# Whether user $1 takes reminders from others, set to $2 first unless it is NULL.
_SQL_ALLOW_REMINDERS = """
UPDATE users SET reminders_from_others = coalesce($2::boolean, reminders_from_others)
WHERE id = $1 RETURNING reminders_from_others
"""
# A thread a user follows or reads (migration 0033): room $2 (locked FOR SHARE: a reply's
# append, which locks it FOR NO KEY UPDATE, waits, and reads the follow as committed),
# whether user $1 is a member, the thread's root (message $3, or the root of the reply $3),
# and the user's row of it.
_SQL_THREAD_TARGET = """
SELECT r.id AS room_id, r.last_seq, m.user_id IS NOT NULL AS member, t.id AS root,
       f.following, f.read_seq, (SELECT u.name FROM users u WHERE u.id = $1) AS name
FROM rooms r
LEFT JOIN memberships m ON m.room_id = r.id AND m.user_id = $1
LEFT JOIN messages x ON x.id = $3 AND x.room_id = r.id
LEFT JOIN messages t ON t.id = coalesce(x.thread_root, x.id)
LEFT JOIN thread_follows f ON f.user_id = $1 AND f.root_id = t.id
WHERE r.name = $2 AND r.deleted_at IS NULL
FOR SHARE OF r
"""
# User $1's row of the thread of root $2 in room $3: following $4 (NULL: as it was), read up
# to $5 (forward only); a new row with the thread's latest reply (the root's time before any).
_SQL_THREAD_UPSERT = """
INSERT INTO thread_follows AS f (user_id, root_id, room_id, following, read_seq, last_at,
                                 last_seq)
SELECT $1, t.id, $3, $4, $5, date_trunc('milliseconds', coalesce(l.at, t.created_at)),
       coalesce(l.seq, 0)
FROM messages t CROSS JOIN LATERAL (
    SELECT max(y.seq) AS seq, max(y.created_at) AS at
    FROM messages y WHERE y.room_id = $3 AND y.thread_root = t.id
) l
WHERE t.id = $2
ON CONFLICT (user_id, root_id) DO UPDATE
SET following = coalesce($4, f.following), read_seq = greatest(f.read_seq, excluded.read_seq)
RETURNING f.following, f.read_seq
"""
# A page of the threads user $1 follows, in the rooms they are a member of, before the cursor
# ($2 ms, $3 root id), latest reply first, $4 at most: a walk of thread_follows_page_idx;
# each root read by key, and its unread replies (those after read_seq, not the user's, not
# deleted) counted along messages_thread_idx, with those whose text names the user (a
# mention row not by_follow).
_SQL_THREADS = f"""
SELECT q.room, q.following, q.read_seq, q.last_ts, c.t_unread, c.t_mentions, e.*,
       a.name AS sender,{_MESSAGE_EXTRAS.format(quote=_QUOTE, file_fields=_FILE_FIELDS)}
FROM (
    SELECT f.root_id, f.room_id, r.name AS room, f.following, f.read_seq, f.last_at,
           {_ms("f.last_at")} AS last_ts
    FROM thread_follows f JOIN rooms r ON r.id = f.room_id
    JOIN memberships mb ON mb.room_id = f.room_id AND mb.user_id = $1
    WHERE f.user_id = $1 AND f.following AND (f.last_at, f.root_id) < ({_ts("$2")}, $3)
    ORDER BY f.last_at DESC, f.root_id DESC
    LIMIT $4
) q CROSS JOIN LATERAL (
    SELECT {_MESSAGE_ENTRY} FROM messages m WHERE m.id = q.root_id
) e CROSS JOIN LATERAL (
    SELECT count(*) AS t_unread, count(*) FILTER (WHERE EXISTS (
               SELECT 1 FROM mentions mn
               WHERE mn.user_id = $1 AND mn.room_id = y.room_id AND mn.seq = y.seq
                 AND NOT mn.by_follow)) AS t_mentions
    FROM messages y
    WHERE y.room_id = q.room_id AND y.thread_root = q.root_id AND y.seq > q.read_seq
      AND y.sender_id <> $1 AND y.deleted_at IS NULL
) c
JOIN users a ON a.id = e.actor_id
ORDER BY q.last_at DESC, q.root_id DESC
"""
# Claim the reminders due (the first $1 by time) for a lease of $2 seconds (claimed_until,
# migration 0032): rows another node's claim holds are skipped (FOR UPDATE SKIP LOCKED), and a
# row claimed since this statement's snapshot is looked at again by the lock (READ
# COMMITTED): claimed by then, it is not taken. The claimer marks it reminded while its
# claim holds (_SQL_REMINDED, by claimed_until: this claim's own) and only then tells its
# user; a claimer that died leaves it to the first node that looks after the lease. Each with
# its user's name, pause and push subscriptions, whether they may still read the room, and
# the claim (claimed_until).
_SQL_CLAIM_REMINDERS = f"""
WITH due AS (
    SELECT user_id, msg_id FROM saved
    WHERE NOT reminded AND remind_at IS NOT NULL AND remind_at <= now()
      AND (claimed_until IS NULL OR claimed_until <= now())
    ORDER BY remind_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE saved s SET claimed_until = now() + make_interval(secs => $2) FROM due
    WHERE s.user_id = due.user_id AND s.msg_id = due.msg_id
    RETURNING s.user_id, s.msg_id, s.room_id, s.remind_at, s.claimed_until
)
SELECT c.user_id, c.msg_id, {_ms("c.remind_at")} AS remind_ts, c.claimed_until, u.name AS user,
       {_ms("u.dnd_until")} AS paused_until, r.name AS room, x.allowed,
       (SELECT json_agg(json_build_array(p.endpoint, p.p256dh, p.auth))
        FROM push_subscriptions p WHERE p.user_id = c.user_id AND x.allowed) AS subscriptions
FROM claimed c JOIN users u ON u.id = c.user_id JOIN rooms r ON r.id = c.room_id
CROSS JOIN LATERAL (SELECT {_READABLE.format(user="c.user_id")} AS allowed) x
ORDER BY c.remind_at
"""
# A reminder claimed here (user $1, message $2, due at $3 ms, the claim $5: its claimed_until)
# marked reminded, only while this claim holds: not when a save changed it since (a new
# remind_at clears the claim), nor when the lease ran out and another node claimed it (a
# later claimed_until: that node tells it), under the lock of the user's row as their saves
# are (_SQL_LOCK_SAVES: one change of a user's saved rows at a time). A row: this claim
# marked it, and this node tells it. A claim whose lease ran out that nobody took yet still
# marks it: no other node has told it, and none will. Each claim of a row has a later
# claimed_until than the one before (it is taken only once that one is past), so equal means
# this claim. The other nodes hear of it on commit when its room is readable ('<node $4>
# <room> <msg_id> <remind_at> <user>' on chatd_reminders).
_SQL_REMINDED = f"""
WITH locked AS (
    SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE
), done AS (
    UPDATE saved s SET reminded = true, claimed_until = NULL
    FROM locked
    WHERE s.user_id = locked.id AND s.msg_id = $2 AND {_ms("s.remind_at")} = $3
      AND NOT s.reminded AND s.claimed_until = $5
    RETURNING s.user_id, s.msg_id, s.room_id, s.remind_at
)
SELECT CASE WHEN {_READABLE.format(user="d.user_id")} THEN pg_notify('{REMINDERS_CHANNEL}',
           $4 || ' ' || r.name || ' ' || d.msg_id || ' ' || {_ms("d.remind_at")} || ' '
           || u.name) END
FROM done d JOIN users u ON u.id = d.user_id JOIN rooms r ON r.id = d.room_id
"""
# Seconds until the next reminder to send is due, or its claim's lease ends (the first of
# saved_due_idx).
_SQL_NEXT_REMINDER = """
SELECT extract(epoch FROM min(greatest(remind_at, coalesce(claimed_until, remind_at)))
                          - now())::float8
FROM saved WHERE NOT reminded AND remind_at IS NOT NULL
"""
# Saved message $2 of user $1 (a name), as a message object with its room, if they may read it.
_SQL_REMINDED_MESSAGE = f"""
SELECT e.*, a.name AS sender, r.name AS room,{_MESSAGE_EXTRAS.format(
    quote=_QUOTE, file_fields=_FILE_FIELDS)}
FROM users u JOIN saved s ON s.user_id = u.id AND s.msg_id = $2
JOIN rooms r ON r.id = s.room_id
CROSS JOIN LATERAL (SELECT {_MESSAGE_ENTRY} FROM messages m WHERE m.id = s.msg_id) e
JOIN users a ON a.id = e.actor_id
WHERE lower(u.name) = lower($1) AND {_READABLE.format(user="u.id")}
"""

# The entries of room $1 with $2 < seq <= $3, oldest first ($4: their most, $3 - $2).
_SQL_MESSAGES_RANGE = f"""
WITH r AS (SELECT id FROM rooms WHERE name = $1)
SELECT p.* FROM r CROSS JOIN LATERAL (
    {_log_page("r.id", "ASC", "$2", "$3 + 1", "$4")}
) p
"""
# The same for several rooms at once (Storage.messages_ranges): rooms $1 (names), each with
# its range after $2 < seq <= $3; ordered by the ranges' order, then by seq. OFFSET 0 keeps
# each room's lookup whole, as in _SQL_RESUME.
_SQL_MESSAGES_RANGES = f"""
SELECT q.ord, p.*
FROM unnest($1::text[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS q(name, after, upto, ord)
JOIN LATERAL (SELECT id FROM rooms WHERE name = q.name OFFSET 0) r ON true
CROSS JOIN LATERAL (
    {_log_page("r.id", "ASC", "q.after", "q.upto + 1", "q.upto - q.after")}
) p
ORDER BY q.ord, p.seq
"""
# The messages stored under the keys (sender $1[i], nonce $2[i]) (Storage.messages_by_nonce),
# each as a page of its room's log shows it, with its room and its key's place in the arrays
# (ord); a key under which nothing is stored has no row. One probe of the (sender_id, nonce)
# index a key (messages_sender_nonce_key: a row at most).
_SQL_MESSAGES_BY_NONCE = f"""
SELECT q.ord, e.*, a.name AS sender, r.name AS room,{_MESSAGE_EXTRAS.format(
    quote=_QUOTE, file_fields=_FILE_FIELDS)}
FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS q(sender_id, nonce, ord)
CROSS JOIN LATERAL (
    SELECT {_MESSAGE_ENTRY}, m.room_id
    FROM messages m WHERE m.sender_id = q.sender_id AND m.nonce = q.nonce
) e
JOIN users a ON a.id = e.actor_id JOIN rooms r ON r.id = e.room_id
"""
# Which of the server backends $1 (the pids of connections lost in the middle of an append)
# are still in a transaction, or in a statement: any state but idle (NULL: a backend of
# another role, whose state this one may not see, which can only be a pid reused since).
_SQL_LOST_BUSY = """
SELECT array_agg(pid) FROM pg_stat_activity
WHERE pid = ANY ($1::int[]) AND state IS DISTINCT FROM 'idle'
"""
#: Seconds between two looks at the backends of lost connections (messages_by_nonce).
LOST_POLL = 0.01


def _file_info(fields: list[Any]) -> FileInfo:
    """A file from the JSON array of its :data:`_FILE_FIELDS`."""
    return FileInfo(id=fields[0], name=fields[1], size=fields[2], content_type=fields[3],
                    width=fields[4], height=fields[5], thumbnail=fields[6])


def _stored_file(row: Any) -> StoredFile:
    """A file from a row of :data:`_SQL_GET_FILE` (or a statement with its columns)."""
    return StoredFile(info=FileInfo(id=row["id"], name=row["name"], size=row["size"],
                                    content_type=row["content_type"], width=row["width"],
                                    height=row["height"],
                                    thumbnail=row["thumb_sha256"] is not None),
                      sha256=row["sha256"], room=row["room"], uploader_id=row["uploader_id"],
                      message_id=row["message_id"], thumb_sha256=row["thumb_sha256"])


def _entry(room: str, row: Any) -> Message:
    """An entry of ``room``'s log from a row of :data:`_SQL_LOG_PAGE`."""
    kind = row["kind"]
    preview = preview_from_json(row["preview"])
    previews = () if preview is None else (preview,)
    if kind != "message":
        return Message(room=room, seq=row["seq"], msg_id=row["msg_id"] or 0, sender=row["sender"],
                       text=row["text"], ts=row["ts"], nonce="", kind=kind,
                       mentions=tuple(row["mentions"] or ()), emoji=row["emoji"] or "",
                       on=bool(row["reaction_on"]), target=row["target"] or "",
                       expires_at=row["expires_at"], previews=previews,
                       choice=tuple(row["choice"] or ()))
    reactions = row["reactions"]
    quote = row["quote"]
    files = row["file_list"]
    return Message(
        room=room, seq=row["seq"], msg_id=row["msg_id"], sender=row["sender"],
        text=row["text"], ts=row["ts"], nonce=row["nonce"], rev=row["rev"] or 0,
        # A tombstone shows no edit time: a client that saw the deletion first could not
        # learn it, and nothing of the message is left to have been edited.
        edited_ts=row["edited_ts"] if row["deleted_at"] is None else None,
        deleted=row["deleted_at"] is not None,
        reactions=tuple((emoji, tuple(users)) for emoji, users in json.loads(reactions))
        if reactions else (),
        reply_to=row["reply_to"], quote=json.loads(quote) if quote else None,
        mentions=tuple(row["mentions"] or ()),
        files=tuple(map(_file_info, json.loads(files))) if files else (),
        **_pin(row["pin"]),
        previews=previews,
        **_thread(row),
        poll=_poll(row["poll_state"]),
        forwarded=None if (forwarded := row["forwarded"]) is None else _forwarded(forwarded),
    )


def _forwarded(stored: str) -> Forwarded:
    """A forward's ``forwarded`` column (JSON {from, ts, text, room, seq}) as a record."""
    obj = json.loads(stored)
    return Forwarded(sender=obj["from"], ts=obj["ts"], text=obj["text"], room=obj["room"],
                     seq=obj["seq"])


def _forwarded_json(forwarded: Forwarded | None) -> str:
    """A new message's forwarded object as the insert's forward variants take it: JSON, ''
    for none (the column's shape: what :func:`_forwarded` reads)."""
    if forwarded is None:
        return ""
    return json.dumps(forwarded.as_object(), ensure_ascii=False)


def _poll(state: str | None) -> Poll | None:
    """A message's poll from its ``poll_state`` column (JSON [options, multiple, closed_by,
    closed_ts, [[voter, options], ...] in the order they voted], or NULL: no poll)."""
    if state is None:
        return None
    options, multiple, closed_by, closed_ts, votes = json.loads(state)
    voters: list[list[str]] = [[] for _ in options]
    for name, chosen in votes or ():
        for index in chosen:
            if 0 <= index < len(voters):
                voters[index].append(name)
    return Poll(options=tuple(PollOption(text=text, voters=tuple(names))
                              for text, names in zip(options, voters, strict=True)),
                multiple=multiple, closed_by=closed_by, closed_ts=closed_ts or 0)


def _thread(row: Any) -> dict[str, Any]:
    """A message's thread fields from its :data:`_THREAD_COLUMNS` (none for most)."""
    fields: dict[str, Any] = {}
    if row["thread_root"] is not None:
        fields["thread"] = row["thread_root"]
        fields["broadcast"] = row["broadcast"]
    if row["reply_count"]:
        fields["reply_count"] = row["reply_count"]
        fields["reply_last_ts"] = row["reply_last_ts"] or 0
        fields["reply_users"] = tuple(row["reply_users"] or ())
    return fields


def _pin(pin: str | None) -> dict[str, Any]:
    """A message's ``pinned_*`` fields from its ``pin`` column (JSON [by, ts, seq], or NULL
    while it is not pinned)."""
    if pin is None:
        return {}
    by, ts, seq = json.loads(pin)
    return {"pinned_by": by, "pinned_ts": ts, "pinned_seq": seq}


async def _check_moderates(conn: Any, room: str, user_id: int, what: str) -> int:
    """Asyncio side: the id of ``room`` if the user moderates it (see :data:`_MODERATES`);
    else ChatError('not_found') or ChatError('forbidden'), saying they cannot do ``what``."""
    row = await conn.fetchrow(_MODERATES, room, user_id)
    if row is None:
        raise ChatError(codes.NOT_FOUND, f"there is no room {room!r}")
    if not row["moderates"]:
        raise ChatError(codes.FORBIDDEN,
                        f"only the owner or the moderators of {room!r} can {what}")
    return int(row["id"])


# Nodes and who is online on each (migration 0017; see chatd.cluster).
_SQL_HEARTBEAT = """
INSERT INTO nodes (name) VALUES ($1)
ON CONFLICT (name) DO UPDATE SET seen_at = now()
RETURNING (xmax = 0) AS created
"""

# The transactions of this database that hold an id (they wrote) and are in progress now, and
# those of them still in progress later (Storage.wait_for_writers; migration 0022).
# pg_stat_activity rather than a snapshot: a snapshot lists only the ids below the highest
# completed one.
_SQL_WRITERS_IN_PROGRESS = """
SELECT array_agg(backend_xid::text) FROM pg_stat_activity
WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() AND datname = current_database()
"""
_SQL_STILL_IN_PROGRESS = """
SELECT array_agg(backend_xid::text) FROM pg_stat_activity
WHERE backend_xid::text = ANY($1::text[])
"""
#: Seconds between two looks at the transactions a starting node waits for.
WRITERS_POLL = 0.01

# The 'down' notices name the dead node, so that every node but that one hears them (a node
# that was only stalled finds its row gone at its next heartbeat, and publishes again).
_SQL_SWEEP_NODES = """
WITH dead AS (
    DELETE FROM nodes WHERE name <> $1 AND seen_at < now() - make_interval(secs => $2)
    RETURNING name
), told AS (
    SELECT pg_notify('chatd_presence', name || ' down') FROM dead
)
SELECT (SELECT array_agg(name) FROM dead) AS dead,
       (SELECT count(*) FROM told) AS told,
       (SELECT count(*) FROM nodes WHERE name <> $1) - (SELECT count(*) FROM dead) AS others
"""

# The rows deleted and those inserted never overlap (a reset deletes only the users not in
# the new set), so the two parts of one statement cannot trip over each other. A node whose
# row is gone (others took it for dead) inserts nothing: its heartbeat puts the row back and
# it publishes everyone again. $2: users with some connection active here, $5: users whose
# connections here are all idle (migration 0027); a user of either row gets its idle set.
_SQL_PUBLISH_PRESENCE = """
WITH gone AS (
    DELETE FROM node_presence p USING users u
    WHERE p.node = $1 AND p.user_id = u.id
      AND (lower(u.name) = ANY($3::text[])
           OR ($4 AND NOT lower(u.name) = ANY($2::text[] || $5::text[])))
)
INSERT INTO node_presence (node, user_id, idle)
SELECT $1, u.id, lower(u.name) = ANY($5::text[]) FROM users u
WHERE lower(u.name) = ANY($2::text[] || $5::text[])
  AND EXISTS (SELECT 1 FROM nodes WHERE name = $1)
ON CONFLICT (node, user_id) DO UPDATE SET idle = EXCLUDED.idle
"""

_SQL_ONLINE_ELSEWHERE = """
SELECT p.node, u.name, p.idle FROM node_presence p JOIN users u ON u.id = p.user_id
WHERE p.node <> $1
"""

# The presence tracker's batch (PostgresStorage.presence_audience): for each of users $1
# (lower case; users_name_lower_key), who has them as a contact (contacts_contact_id_idx,
# each watcher's name by users_pkey), and for those of $2 (lower case) their rooms
# (memberships_user_id_idx, each room by id): a CASE runs its subquery only when it is true.
_SQL_PRESENCE_AUDIENCE = """
SELECT u.name,
       ARRAY(SELECT w.name FROM contacts c JOIN users w ON w.id = c.user_id
             WHERE c.contact_id = u.id) AS watchers,
       CASE WHEN lower(u.name) = ANY($2::text[]) THEN ARRAY(
           SELECT r.name FROM memberships m JOIN rooms r ON r.id = m.room_id
           WHERE m.user_id = u.id) END AS rooms
FROM users u
WHERE lower(u.name) = ANY($1::text[])
"""

_SQL_TELL_ELSEWHERE = f"SELECT pg_notify('{USER_EVENTS_CHANNEL}', $1)"
# Several notices in one trip (a ``read_all``'s events, more than one notice holds), in order.
_SQL_TELL_ELSEWHERE_MANY = f"""
SELECT pg_notify('{USER_EVENTS_CHANNEL}', p) FROM unnest($1::text[]) WITH ORDINALITY AS n (p, i)
ORDER BY i
"""

_SQL_LEAVE_CLUSTER = """
WITH gone AS (DELETE FROM nodes WHERE name = $1 RETURNING name)
SELECT pg_notify('chatd_presence', name || ' down') FROM gone
"""


# -- scheduled messages (migration 0032; Storage.schedule and the due loop's claims) ----------

# The items of a user ($1) or of ids ($1), each with its room's name and its reserved files.
_SCHEDULED_ITEMS = f"""
SELECT s.id, r.name AS room, s.text, s.thread, s.broadcast, s.reply_to,
       {_ms("s.send_at")} AS send_ts, {_ms("s.created")} AS created_ts, s.state,
       s.error::text AS error,
       (SELECT json_agg(json_build_array({_FILE_FIELDS}) ORDER BY f.id)
        FROM files f WHERE f.scheduled_id = s.id AND f.deleted_at IS NULL) AS files
FROM scheduled s JOIN rooms r ON r.id = s.room_id
WHERE {{where}}
ORDER BY s.send_at, s.id
"""
_SQL_SCHEDULED_OF_USER = _SCHEDULED_ITEMS.format(where="s.user_id = $1")
_SQL_SCHEDULED_BY_ID = _SCHEDULED_ITEMS.format(where="s.id = ANY ($1::bigint[])")
# The scheduled items to room $1 with their users' names, locked: a room deleted removes them
# (Storage.delete_room) in its transaction.
_SQL_DELETE_ROOM_SCHEDULED = """
SELECT s.id, u.name FROM scheduled s JOIN users u ON u.id = s.user_id
WHERE s.room_id = $1 ORDER BY s.id FOR UPDATE OF s
"""
_SQL_SCHEDULED_DELETE_MANY = "DELETE FROM scheduled WHERE id = ANY ($1::bigint[])"
# What a schedule of user $2 to room $1 needs, under the lock of their row: the room, whether
# they are in it and it is archived, and how many items they hold.
_SQL_SCHEDULE_CHECK = """
SELECT r.id, r.archived,
       EXISTS (SELECT 1 FROM memberships m WHERE m.room_id = r.id AND m.user_id = $2) AS member,
       (SELECT count(*) FROM scheduled s WHERE s.user_id = $2) AS held
FROM rooms r WHERE r.name = $1
"""
_SQL_SCHEDULE_INSERT = f"""
INSERT INTO scheduled (user_id, room_id, text, thread, broadcast, reply_to, send_at)
VALUES ($1, $2, $3, $4, $5, $6, {_ts("$7")})
RETURNING id
"""
# Reserve files $2 for item $1 of user $3 in room $4: their unattached uploads (not a
# picture, an emoji or a preview's) that no other item holds.
_SQL_RESERVE_FILES = """
UPDATE files f SET scheduled_id = $1
WHERE f.id = ANY ($2::bigint[]) AND f.uploader_id = $3 AND f.room_id = $4
  AND f.message_id IS NULL AND f.deleted_at IS NULL AND NOT f.avatar AND NOT f.emoji
  AND NOT f.preview AND (f.scheduled_id IS NULL OR f.scheduled_id = $1)
RETURNING f.id
"""
# Release the files of item $1 but those of ids $2: expired at once (see Storage.expire_uploads).
_SQL_RELEASE_FILES = """
UPDATE files SET scheduled_id = NULL, deleted_at = now()
WHERE scheduled_id = $1 AND message_id IS NULL AND NOT (id = ANY ($2::bigint[]))
"""
# Item $1 of user $2 to change or cancel, locked; claimed: it is being sent (a claim's lease
# holds, or its send has begun: migration 0048, whatever the lease).
_SQL_SCHEDULED_LOCK = """
SELECT s.room_id, s.text, s.claimed_until > now() OR s.sending AS claimed,
       (SELECT count(*) FROM files f WHERE f.scheduled_id = s.id AND f.deleted_at IS NULL)
           AS files
FROM scheduled s WHERE s.id = $1 AND s.user_id = $2
FOR UPDATE
"""
# A new text ($2, NULL: kept) and send_at ($3 ms, 0: now, NULL: kept; given, a failed item
# is pending again).
_SQL_SCHEDULED_EDIT = f"""
UPDATE scheduled SET
    text = coalesce($2, text),
    send_at = CASE WHEN $3::bigint IS NULL THEN send_at WHEN $3 = 0 THEN now()
                   ELSE {_ts("$3")} END,
    state = CASE WHEN $3::bigint IS NULL THEN state ELSE 'pending' END,
    error = CASE WHEN $3::bigint IS NULL THEN error END,
    claimed_until = NULL
WHERE id = $1
"""
_SQL_SCHEDULED_DELETE = "DELETE FROM scheduled WHERE id = $1"
# Claim the pending items due (the first $1 by time) for a lease of $2 seconds, skipping those
# another node's claim holds, with the user each is sent as, their pause and subscriptions.
_SQL_CLAIM_SCHEDULED = f"""
WITH due AS (
    SELECT id FROM scheduled
    WHERE state = 'pending' AND send_at <= now()
      AND (claimed_until IS NULL OR claimed_until <= now())
    ORDER BY send_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE scheduled s SET claimed_until = now() + make_interval(secs => $2) FROM due
    WHERE s.id = due.id
    RETURNING s.id, s.user_id, s.send_at, s.claimed_until
)
SELECT c.id AS item_id, c.claimed_until, {_USER_COLUMNS}, {_ms("u.dnd_until")} AS paused_until,
       (SELECT json_agg(json_build_array(p.endpoint, p.p256dh, p.auth))
        FROM push_subscriptions p WHERE p.user_id = c.user_id) AS subscriptions
FROM claimed c JOIN users u ON u.id = c.user_id
ORDER BY c.send_at, c.id
"""
# Seconds until the next pending item is due, or its claim's lease ends (scheduled_due_idx).
_SQL_NEXT_SCHEDULED = """
SELECT extract(epoch FROM min(greatest(send_at, coalesce(claimed_until, send_at))) - now())::float8
FROM scheduled WHERE state = 'pending'
"""
_SQL_SCHEDULED_FAILED = """
UPDATE scheduled SET state = 'failed', error = $2::jsonb, claimed_until = NULL, sending = false
WHERE id = $1
"""
# Item $1's send begins (migration 0048), only while claim $2 (its claimed_until) holds: a
# row, the claimer hands the message to the committer; none, it was cancelled, edited or
# claimed by another node since, and the claimer sends nothing. Each claim of a row has a
# later claimed_until than the one before, so equal means this claim.
_SQL_SCHEDULED_SENDING = """
UPDATE scheduled SET sending = true WHERE id = $1 AND claimed_until = $2 RETURNING id
"""


def _subscriptions(value: str | None) -> tuple[PushSubscription, ...]:
    """Push subscriptions from a JSON array of [endpoint, p256dh, auth]."""
    return tuple(PushSubscription(endpoint=e, p256dh=k, auth=a)
                 for e, k, a in json.loads(value or "[]"))


async def _scheduled_items(conn: Any, sql: str, key: Any) -> list[ScheduledItem]:
    """The scheduled items a :data:`_SCHEDULED_ITEMS` statement reads for ``key``."""
    return [ScheduledItem(
        id=row["id"], room=row["room"], text=row["text"], send_at=row["send_ts"],
        created=row["created_ts"], thread=row["thread"], broadcast=row["broadcast"],
        reply_to=row["reply_to"], state=row["state"],
        error=None if row["error"] is None else json.loads(row["error"]),
        files=tuple(FileInfo(id=f[0], name=f[1], size=f[2], content_type=f[3], width=f[4],
                             height=f[5], thumbnail=f[6])
                    for f in json.loads(row["files"] or "[]")),
    ) for row in await conn.fetch(sql, key)]


async def _reserve(conn: Any, item_id: int, files: Sequence[int], user_id: int,
                   room_id: int) -> None:
    """Reserve ``files`` for the item (see :data:`_SQL_RESERVE_FILES`).

    Raises:
        ChatError('not_found'): one is not the user's unattached upload to the room, or
            another item holds it (the transaction is rolled back).
    """
    if not files:
        return
    got = await conn.fetch(_SQL_RESERVE_FILES, item_id, list(files), user_id, room_id)
    if len(got) != len(files):
        missing = sorted(set(files) - {row["id"] for row in got})
        raise ChatError(codes.NOT_FOUND,
                        f"no unattached upload of yours to this room with id {missing[0]}")


async def _lock_scheduled(conn: Any, user_id: int, item_id: int) -> Any:
    """The user's item ``item_id`` locked for a change (:data:`_SQL_SCHEDULED_LOCK`).

    Raises:
        ChatError('not_found'): not theirs, gone, or being sent now.
    """
    row = await conn.fetchrow(_SQL_SCHEDULED_LOCK, item_id, user_id)
    if row is None or row["claimed"]:
        raise ChatError(codes.NOT_FOUND,
                        f"no scheduled message {item_id} of yours waits to be sent")
    return row


def _check_upload(room: str, row: Any) -> None:
    """Refuse an upload to ``room`` from a row of :data:`_SQL_UPLOAD_ALLOWANCE`."""
    if row is None:
        raise ChatError(codes.NOT_FOUND, f"there is no room {room!r}")
    if not row["member"]:
        raise ChatError(codes.FORBIDDEN, f"you are not a member of {room!r}")
    if row["archived"]:
        # Refused before the body streams: the file could never be attached to a message.
        raise ChatError(codes.ARCHIVED, f"{room!r} is archived")


def _parse_notice(channel: str, payload: str,
                  wanted: Callable[[str], bool] | None = None) -> list[Change]:
    """The notices a payload holds (see migrations 0003, 0004, 0012, 0015, 0017): none if it is not
    one of ours; several for a commit of several rooms (one notice per statement).
    ``wanted``: whether a room's carried entries are of use here (see :func:`_parse_commits`);
    None: every room's are."""
    if channel == REVOCATIONS_CHANNEL:
        return _listed(_parse_revocation(payload))
    if channel == LEVELS_CHANNEL:
        return _listed(_parse_level(payload))
    if channel == DND_CHANNEL:
        return _listed(_parse_dnd(payload))
    if channel == PROFILES_CHANNEL:
        return _listed(_parse_profile(payload))
    if channel == PRESENCE_CHANNEL:
        return _listed(parse_presence(payload))
    if channel == USER_EVENTS_CHANNEL:
        # '<node> <user> <frames>': names hold no space; the frames are the rest, one JSON
        # line each (user_event_payloads), handed on as they are
        node, _, rest = payload.partition(" ")
        user, _, data = rest.partition(" ")
        if not node or not user or not data.startswith("{"):
            return []
        return [UserEventNotice(node=node, user=user, data=data.encode() + b"\n")]
    if channel == REMINDERS_CHANNEL:
        return _listed(_parse_reminder(payload))
    if channel == TARGETS_CHANNEL:
        # '<node> <table>' (migration 0021)
        node, _, table = payload.partition(" ")
        return [TargetsNotice(node=node, table=table)] if table in TARGET_NOTICES else []
    if channel == ROOMS_CHANNEL:
        # '<node> <room> <by>' (migration 0015); <by> empty: the command line
        parts = payload.split(" ")
        if len(parts) != 3 or not parts[0] or not parts[1]:
            return []
        return [RoomDeletedNotice(node=parts[0], room=parts[1], by=parts[2])]
    parts = payload.split(" ")
    if channel == MEMBERS_CHANNEL:
        # '<node> <+|-> <room> <user>[ <by>]' (migrations 0003, 0014)
        if len(parts) not in (4, 5) or parts[1] not in ("+", "-"):
            return []
        return [MembershipNotice(node=parts[0], room=parts[2], user=parts[3],
                                 joined=parts[1] == "+",
                                 by=parts[4] if len(parts) == 5 and parts[4] else None)]
    if len(parts) > 1 and parts[1].startswith("["):
        # '<node> [<item>,...]' (migration 0019)
        return _parse_commits(parts[0], payload[len(parts[0]) + 1:], wanted)
    # '<node> <room> <before> <after>[ <room> <before> <after>...]' (migrations 0003, 0017)
    if len(parts) < 4 or (len(parts) - 1) % 3:
        return []
    try:
        return [CommitNotice(node=parts[0], room=parts[i], after=int(parts[i + 1]),
                             last_seq=int(parts[i + 2]))
                for i in range(1, len(parts), 3)]
    except ValueError:
        return []


def _parse_commits(node: str, items: str,
                   wanted: Callable[[str], bool] | None = None) -> list[Change]:
    """The commit notices of a JSON array of migration 0019's items (one per room):
    ``[room, before, after]``, or ``[room, before, after, [message, ...]]`` carrying every
    entry of the range (see :func:`_carried`). Entries that do not cover the range exactly,
    one per seq in order, are not used: the range is read instead. Anything else that is
    not of that shape: no notice at all (the connections repair the gap).

    A room for which ``wanted(room)`` is false (nobody here to tell, as the relay will find)
    gets its notice without building its entries, as a range: should a member come
    meanwhile, the relay reads that range, which is what a range always meant."""
    try:
        parsed = json.loads(items)
        if not isinstance(parsed, list):
            return []
        notices: list[Change] = []
        for item in parsed:
            room, after, last_seq = item[0], item[1], item[2]
            if not (isinstance(room, str) and room and type(after) is int
                    and type(last_seq) is int and len(item) in (3, 4)):
                return []
            entries = None
            if len(item) == 4 and isinstance(item[3], list) \
                    and (wanted is None or wanted(room)):
                entries = tuple(_carried(room, fields) for fields in item[3])
                if [m.seq for m in entries] != list(range(after + 1, last_seq + 1)):
                    entries = None
            notices.append(CommitNotice(node=node, room=room, after=after,
                                        last_seq=last_seq, entries=entries))
        return notices
    except (ValueError, TypeError, IndexError, KeyError, AttributeError):
        return []


def _carried(room: str, fields: list[Any]) -> Message:
    """A new message of ``room`` from the fields a commit notice carries it with (migration
    0019): as :func:`_entry` makes it from a read of it, which a new message gives with no
    edit, no reaction and no deletion."""
    seq, msg_id, sender, ts, nonce, text, reply_to, quote, mentions, files = fields[:10]
    # Migration 0029's eleventh field: [thread_root, broadcast] for a thread reply.
    thread = fields[10] if len(fields) > 10 else None
    for value, kind in ((seq, int), (msg_id, int), (sender, str), (ts, int), (nonce, str),
                        (text, str)):
        if type(value) is not kind:
            raise TypeError(f"a carried message's field is not {kind.__name__}: {value!r}")
    return Message(
        room=room, seq=seq, msg_id=msg_id, sender=sender, text=text, ts=ts, nonce=nonce,
        reply_to=reply_to, quote=json.loads(quote) if quote else None,
        mentions=tuple(mentions or ()),
        files=tuple(map(_file_info, files)) if files else (),
        thread=int(thread[0]) if thread else None, broadcast=bool(thread and thread[1]),
    )


def user_event_payloads(node: str, user: str, data: bytes) -> list[str]:
    """The payloads of channel ``chatd_user_events`` ('<node> <user> <frames>') that carry
    ``data``, one frame or several (one a line, as a connection's outbox takes them): as
    many frames a payload as fit under :data:`NOTICE_BYTES`, in order, so that a burst of
    events (a ``read_all``'s ``read`` per room) costs a few notices, not one per frame. A
    single frame too large for a notice is left out (logged)."""
    head = f"{node} {user} "
    payloads: list[str] = []
    current = ""
    for line in data.decode().split("\n"):
        if not line.strip():
            continue
        if len((head + line).encode()) > NOTICE_BYTES:
            log.warning("an event of %d bytes for %s's other nodes is too large for a notice; "
                        "not sent", len(line.encode()), user)
            continue
        if current and len((current + "\n" + line).encode()) > NOTICE_BYTES:
            payloads.append(current)
            current = ""
        current = current + "\n" + line if current else head + line
    if current:
        payloads.append(current)
    return payloads


def _listed(notice: Change | None) -> list[Change]:
    return [] if notice is None else [notice]


def presence_payloads(node: str, online: Sequence[str], offline: Sequence[str],
                      typing: Sequence[tuple[str, str]] = (), *,
                      reset: bool = False, idle: Sequence[str] = ()) -> list[str]:
    """The payloads of channel ``chatd_presence`` (migration 0017) that tell this much:
    ``'<node> <item> <item>...'``, each item ``+name`` (online here, some connection
    active), ``*name`` (online here, every connection idle: migration 0027), ``-name``
    (offline here), ``~room/name`` (typing), or ``=`` (forget what this node had: first
    item of the first payload only). Split under :data:`NOTICE_BYTES`; user names and
    room names hold neither a space nor a slash. ``'<node> down'`` (the node is gone) is sent by the
    database (:data:`_SQL_SWEEP_NODES`)."""
    items = (["="] if reset else []) + [f"+{u}" for u in online] + [f"*{u}" for u in idle]
    items += [f"-{u}" for u in offline]
    items += [f"~{room}/{user}" for room, user in typing]
    payloads: list[str] = []
    current = node
    for item in items:
        if len(current) + 1 + len(item) > NOTICE_BYTES and current != node:
            payloads.append(current)
            current = node
        current += " " + item
    if current != node or reset:
        payloads.append(current)
    return payloads


def parse_presence(payload: str) -> PresenceNotice | None:
    """A :class:`PresenceNotice` from a payload of :func:`presence_payloads` or a ``down``
    one; None if it is neither."""
    node, *items = payload.split(" ")
    if not node:
        return None
    if items == ["down"]:
        return PresenceNotice(node=node, down=True)
    online: list[str] = []
    idle: list[str] = []
    offline: list[str] = []
    typing: list[tuple[str, str]] = []
    reset = False
    for item in items:
        kind, name = item[:1], item[1:]
        if kind == "=" and not name:
            reset = True
        elif kind == "+" and name:
            online.append(name)
        elif kind == "*" and name:
            idle.append(name)
        elif kind == "-" and name:
            offline.append(name)
        elif kind == "~" and "/" in name:
            room, _, user = name.partition("/")
            if room and user:
                typing.append((room, user))
        else:
            return None
    return PresenceNotice(node=node, online=tuple(online), offline=tuple(offline),
                          typing=tuple(typing), reset=reset, idle=tuple(idle))


def _parse_level(payload: str) -> NotifyNotice | None:
    """'<node> <room> <level> <user>' (migration 0012); the user's name is the rest."""
    parts = payload.split(" ", 3)
    if len(parts) != 4 or not all(parts):
        return None
    return NotifyNotice(node=parts[0], room=parts[1], notify=parts[2], user=parts[3])


def _custom_emoji(row: Any) -> CustomEmoji:
    return CustomEmoji(name=row["name"], sha256=row["sha256"], by=row["by"], ts=int(row["ts"]))


def _parse_dnd(payload: str) -> DndNotice | None:
    """'<node> <until ms|-> <user>' (migration 0023); the user's name is the rest."""
    parts = payload.split(" ", 2)
    if len(parts) != 3 or not all(parts):
        return None
    if parts[1] == "-":
        return DndNotice(node=parts[0], user=parts[2], until=None)
    if not parts[1].isdigit():
        return None
    return DndNotice(node=parts[0], user=parts[2], until=int(parts[1]))


def _parse_reminder(payload: str) -> ReminderNotice | None:
    """'<node> <room> <msg_id> <remind_at ms> <user>' (migration 0030)."""
    parts = payload.split(" ", 4)
    if len(parts) != 5 or not all(parts) or not parts[2].isdigit() or not parts[3].isdigit():
        return None
    return ReminderNotice(node=parts[0], room=parts[1], msg_id=int(parts[2]),
                          remind_at=int(parts[3]), user=parts[4])


def _parse_profile(payload: str) -> ProfileNotice | None:
    """'<node> <user> <profile JSON>' (migration 0025); the JSON is the rest."""
    parts = payload.split(" ", 2)
    if len(parts) != 3 or not all(parts):
        return None
    try:
        fields = json.loads(parts[2])
        status = None
        if fields["text"] is not None:
            status = CustomStatus(emoji=str(fields["emoji"]), text=str(fields["text"]),
                                  until=None if fields["until"] is None
                                  else int(fields["until"]))
        display_name = fields["display_name"]
        avatar = fields.get("avatar")  # (absent from notices of nodes before 0028)
        profile = Profile(name=parts[1], custom_status=status,
                          display_name=None if display_name is None else str(display_name),
                          avatar=None if avatar is None else str(avatar))
    except (ValueError, TypeError, KeyError):
        return None
    return ProfileNotice(node=parts[0], user=parts[1], profile=profile)


def _parse_revocation(payload: str) -> RevocationNotice | None:
    node, _, rest = payload.partition(" ")
    kind, _, rest = rest.partition(" ")
    if kind == "jti" and rest:
        return RevocationNotice(node=node, jti=rest)
    if kind == "user":
        before, _, name = rest.partition(" ")
        if before.isdigit() and name:
            return RevocationNotice(node=node, user=name, before=int(before))
    return None


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _redact(dsn: str) -> str:
    """The DSN without its password, for error messages and logs."""
    try:
        parts = urllib.parse.urlsplit(dsn)
    except ValueError:
        return "<unparsable DSN>"
    if parts.password is None:
        return dsn
    netloc = parts.netloc.rsplit("@", 1)[-1]
    user = parts.username or ""
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def _user(row: Any) -> User:
    """A User from a row with the ``_USER_COLUMNS`` (and ``sections`` and ``keywords``, where
    a session starts: :data:`_SQL_CHECK_TOKEN`, :data:`_SQL_OPEN_SESSION`)."""
    sections = row.get("sections", False)
    keywords = row.get("keywords", False)
    return User(id=row["id"], name=row["name"], created_at=row["created_at"],
                admin=row["admin"], deactivated_at=row["deactivated_at"], bot=row["bot"],
                dnd_until=row["dnd_until"], read_receipts=row["read_receipts"],
                display_name=row["display_name"],
                custom_status=_custom_status(row), avatar=row["avatar"],
                sections=None if sections is False else sections_from_json(sections),
                keywords=None if keywords is False else tuple(keywords or ()))


def _custom_status(row: Any) -> CustomStatus | None:
    """The custom status of a row with the profile columns (:func:`_profile_columns`)."""
    if row["status_text"] is None:
        return None
    return CustomStatus(emoji=row["status_emoji"], text=row["status_text"],
                        until=row["status_until"])


def _profile(row: Any) -> Profile:
    """The profile of a row with ``name``, ``deactivated`` and the profile columns."""
    return Profile(name=row["name"], display_name=row["display_name"],
                   custom_status=_custom_status(row), avatar=row["avatar"],
                   deactivated=row["deactivated"])


def _named_user(row: Any, name: str) -> User:
    """The user a statement about ``name`` returned, or ``not_found`` when it found none."""
    if row is None:
        raise ChatError(codes.NOT_FOUND, f"no user called {name!r}")
    return _user(row)


def _room(row: Any, **view: Any) -> Room:
    """A Room from a row with the ``_ROOM_COLUMNS``; the asking user's view (``member``,
    ``read_seq``, ``unread``, ``mentions``, ``peer``, ``notify``, ``hidden_seq``,
    ``favourite_at``, ``section``) from the row where it has those columns, else from
    ``view``, else the defaults."""
    for key in ("member", "read_seq", "unread", "mentions", "peer", "notify", "role",
                "hidden_seq", "favourite_at", "section"):
        value = row.get(key)
        if value is not None:
            view[key] = value
    if row.get("peers") is not None:  # a group conversation's (a list from JSON rows)
        view["peers"] = tuple(row["peers"])
    return Room(
        id=row["id"],
        name=row["name"],
        kind=row["kind"],
        private=row["private"],
        topic=row["topic"],
        owner=row["owner"],
        last_seq=row["last_seq"],
        archived=bool(row.get("archived", False)),
        pins=row.get("pins") or 0,
        **view,
    )


#: What a row that a foreign key names is, by its table, as a refusal says it.
_GONE = {"users": "no such user", "rooms": "no such room", "messages": "no such message",
         "files": "no such file", "scheduled": "no such scheduled message"}
_REFERENCED = re.compile(r'is not present in table "([a-z_]+)"')


def _gone(detail: str | None) -> str:
    """The refusal of a foreign key violated, from PostgreSQL's detail (``Key (room_id)=(7)
    is not present in table "rooms".``): what is missing, never a guess at the wrong kind."""
    found = _REFERENCED.search(detail or "")
    return _GONE.get(found[1], "it no longer exists") if found else "it no longer exists"


class PostgresStorage:
    """:class:`Storage` on PostgreSQL. Build it with :func:`open_storage`.

    It owns its bridge, its connection pool and, when there is one, the embedded server: all
    three are released by :meth:`aclose`.
    """

    def __init__(
        self, bridge: AsyncioBridge, pool: Any, *, embedded: EmbeddedPostgres | None = None,
        dsn: str = "", node: str = "chatd", config: Config | None = None,
    ) -> None:
        self._bridge = bridge
        database = (config or Config()).database
        # A quarter of the pool at most stays with the send path between its commits.
        self._pool = _TerminatingPool(
            pool, keep=min(database.commits_in_flight, database.pool_size // 4))
        self._embedded = embedded
        self._dsn = dsn
        self._node = node
        self._closed = False
        self._connect_timeout = database.connect_timeout
        self._probe_timeout = database.statement_timeout
        self._statement_timeout = database.statement_timeout
        self._grace = database.watchdog_grace
        # Written by the watcher task (trio thread), read by metrics from a worker thread:
        # plain attributes, each read or written whole.
        self._answered_at = time.monotonic()
        self._up = True
        self._restarts = 0
        self._merge_pending = True  # see _do_index_words

    @property
    def node(self) -> str:
        return self._node

    async def follow_changes(
        self,
        on_change: Callable[[Change], None],
        *,
        on_batch: Callable[[tuple[Change, ...]], None] | None = None,
        wanted: Callable[[str], bool] | None = None,
        on_lost: Callable[[], None] | None = None,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        own = self._node + " "

        def received(_conn: Any, _pid: int, channel: str, payload: str) -> None:
            # asyncpg's notification callback (on trio's thread, like everything of the
            # bridge's loop): parse, drop our own, hand the rest on in arrival order, a
            # payload's notices together when on_batch takes them.
            if channel == COMMIT_CHANNEL and payload.startswith(own):
                return  # ours: no need to parse the entries it may carry
            notices = tuple(
                notice for notice in _parse_notice(channel, payload, wanted)
                # (a removal here too may leave no target at all)
                if notice.node != self._node or isinstance(notice, TargetsNotice))
            if not notices:
                return
            if on_batch is not None:
                on_batch(notices)
                return
            for notice in notices:
                on_change(notice)

        started = False
        delay = LISTEN_RETRY_MIN
        while True:
            conn: Any = None
            try:
                conn = await self._run(_listen, self._dsn, received, self._connect_timeout)
                # After any notice already handed over: what follows it is complete.
                listening = ListeningNotice(node=self._node)
                if on_batch is not None:
                    on_batch((listening,))
                else:
                    on_change(listening)
                if not started:
                    task_status.started()
                    started = True
                elif delay > LISTEN_RETRY_MIN:
                    log.info("listening for other nodes' changes again")
                delay = LISTEN_RETRY_MIN
                await self._run(_until_lost, conn)
                log.warning("lost the connection that listens for other nodes' changes")
            except StorageUnavailable as exc:
                log.warning("cannot listen for other nodes' changes: %s", exc)
            finally:
                if on_lost is not None:
                    on_lost()
                if conn is not None:
                    with trio.CancelScope(shield=True), contextlib.suppress(Exception):
                        await self._run(_close_listener, conn)
            await trio.sleep(delay)
            delay = min(delay * 2, LISTEN_RETRY_MAX)

    async def heartbeat(self) -> bool:
        row = await self._run(self._pool.fetchrow, _SQL_HEARTBEAT, self._node)
        return bool(row["created"])

    async def wait_for_writers(self) -> None:
        xids = await self._run(self._pool.fetchval, _SQL_WRITERS_IN_PROGRESS)
        deadline = trio.current_time() + self._statement_timeout
        while xids and trio.current_time() < deadline:
            await trio.sleep(WRITERS_POLL)
            xids = await self._run(self._pool.fetchval, _SQL_STILL_IN_PROGRESS, xids)
        if xids:
            # Not chatd's (its statements end by then): a session left open in a transaction.
            log.warning("%d transactions were still in progress after %.0f s; serving anyway",
                        len(xids), self._statement_timeout)

    async def sweep_nodes(self, after: float) -> NodesSeen:
        row = await self._run(self._pool.fetchrow, _SQL_SWEEP_NODES, self._node, after)
        return NodesSeen(dead=tuple(row["dead"] or ()), others=int(row["others"]))

    async def publish_presence(self, online: Sequence[str], offline: Sequence[str],
                               typing: Sequence[tuple[str, str]] = (), *,
                               reset: bool = False, idle: Sequence[str] = ()) -> None:
        payloads = presence_payloads(self._node, online, offline, typing, reset=reset,
                                     idle=idle)
        await self._run(self._do_publish_presence, [u.lower() for u in online],
                        [u.lower() for u in offline], reset, [u.lower() for u in idle],
                        payloads)

    async def _do_publish_presence(self, online: list[str], offline: list[str], reset: bool,
                                   idle: list[str], payloads: list[str]) -> None:
        # One transaction: the rows and the notices are seen together or not at all, and
        # PostgreSQL's commit lock for notifying transactions is taken once.
        async with self._pool.acquire() as conn, conn.transaction():
            if online or offline or reset or idle:
                await conn.execute(_SQL_PUBLISH_PRESENCE, self._node, online, offline, reset,
                                   idle)
            for payload in payloads:
                await conn.execute("SELECT pg_notify($1, $2)", PRESENCE_CHANNEL, payload)

    async def online_elsewhere(self) -> dict[str, frozenset[str]]:
        return {node: frozenset(users)
                for node, users in (await self.presence_elsewhere()).items()}

    async def presence_elsewhere(self) -> dict[str, dict[str, bool]]:
        rows = await self._run(self._pool.fetch, _SQL_ONLINE_ELSEWHERE, self._node)
        found: dict[str, dict[str, bool]] = {}
        for row in rows:
            found.setdefault(row["node"], {})[row["name"]] = row["idle"]
        return found

    async def presence_audience(self, users: Sequence[str],
                                rooms_of: Sequence[str] = ()) -> PresenceAudience:
        if not users and not rooms_of:
            return PresenceAudience(watchers={}, rooms={})
        wanted = {u.lower() for u in rooms_of}
        rows = await self._run(self._pool.fetch, _SQL_PRESENCE_AUDIENCE,
                               sorted(wanted.union(u.lower() for u in users)), sorted(wanted))
        return PresenceAudience(
            watchers={row["name"]: frozenset(row["watchers"]) for row in rows
                      if row["watchers"]},
            rooms={row["name"]: frozenset(row["rooms"]) for row in rows if row["rooms"]})

    async def leave_cluster(self) -> None:
        await self._run(self._pool.execute, _SQL_LEAVE_CLUSTER, self._node)

    async def messages_range(self, room: str, *, after: int, upto: int) -> list[Message]:
        if upto <= after:
            return []
        rows = await self._run(self._pool.fetch, _SQL_MESSAGES_RANGE, room, after, upto,
                               upto - after)
        return [_entry(room, row) for row in rows]

    async def messages_ranges(self, ranges: Sequence[tuple[str, int, int]]
                              ) -> list[list[Message]]:
        wanted = [(index, range_) for index, range_ in enumerate(ranges)
                  if range_[2] > range_[1]]
        found: list[list[Message]] = [[] for _ in ranges]
        if not wanted:
            return found
        rows = await self._run(self._pool.fetch, _SQL_MESSAGES_RANGES,
                               [room for _, (room, _, _) in wanted],
                               [after for _, (_, after, _) in wanted],
                               [upto for _, (_, _, upto) in wanted])
        for row in rows:
            index, (room, _, _) = wanted[row["ord"] - 1]
            found[index].append(_entry(room, row))
        return found

    async def messages_by_nonce(self, keys: Sequence[tuple[int, str]]) -> list[Message | None]:
        await self._settle_lost()
        found: list[Message | None] = [None] * len(keys)
        if not keys:
            return found
        rows = await self._run(self._pool.fetch, _SQL_MESSAGES_BY_NONCE,
                               [user_id for user_id, _ in keys], [nonce for _, nonce in keys])
        for row in rows:
            found[row["ord"] - 1] = _entry(row["room"], row)
        return found

    async def _settle_lost(self) -> None:
        """Wait until the server backends of the connections lost in the middle of an append
        (:attr:`_TerminatingPool.lost`) are out of their transactions.

        Why that settles their outcome: the client going away does not stop a backend. One
        cut off while it waits for a room's lock, or while it commits, goes on, commits if it
        gets that far, and notices that nobody is there only when it writes its reply or
        reads the next command; then it exits. Once the backend is gone, or idle (out of any
        transaction, waiting for a command that will not come), its transaction has
        committed or rolled back for good, and a read sees which. The backend is not
        terminated instead (``pg_terminate_backend``): its pid may be another connection's
        by now, perhaps another program's (after a restart of the server: then it is gone,
        or someone else's and soon idle, or not ours to see, and waited for no longer than
        the bound below). Each statement of chatd's ends within ``statement_timeout`` (the
        server ends it, lock waits included), which bounds the wait; past it, the outcome is
        read all the same, with a warning (a COMMIT stuck on the disk, or the command still
        held up in a network that lost the connection)."""
        lost = self._pool.lost
        if not lost:
            return
        pids = sorted(lost)
        deadline = trio.current_time() + self._statement_timeout
        busy = await self._run(self._pool.fetchval, _SQL_LOST_BUSY, pids)
        while busy and trio.current_time() < deadline:
            await trio.sleep(LOST_POLL)
            busy = await self._run(self._pool.fetchval, _SQL_LOST_BUSY, busy)
        if busy:
            log.warning("%d connections lost in an append were still in a transaction after "
                        "%.0f s; reading their outcome anyway", len(busy),
                        self._statement_timeout)
        for pid in pids:
            lost.pop(pid, None)

    def statistics(self) -> StorageStatistics:
        # Read by the metrics, perhaps from a worker thread: two ints read outside the loop
        # are a harmless race (a metric may be one off), and need no crossing.
        size = self._pool.get_size()
        return StorageStatistics(
            pool_size=size,
            pool_in_use=size - self._pool.get_idle_size(),
            embedded=self._embedded is not None,
            embedded_up=self._embedded is not None and self._embedded.running,
            database_up=self._up,
            embedded_restarts=self._restarts,
        )

    def database_lost(self) -> bool:
        """See :meth:`Storage.database_lost`. Only for the embedded server, whose life is this
        daemon's: an external database is someone else's to bring back, and restarting chatd
        would only add a reconnection storm to its outage."""
        if self._embedded is None or self._grace <= 0:
            return False
        return time.monotonic() - self._answered_at > self._grace

    async def watch(self) -> None:
        """Probe the database every ``PROBE_INTERVAL`` s (for :meth:`database_lost` and the
        metrics) and restart the embedded server when its postmaster has died. Runs until
        cancelled; :func:`open_storage` runs it."""
        delay = RESTART_DELAY_MIN
        next_restart = 0.0
        while True:
            embedded = self._embedded
            if embedded is not None and time.monotonic() >= next_restart \
                    and not await trio.to_thread.run_sync(_is_running, embedded):
                log.warning("the embedded PostgreSQL in %s is not running: starting it again",
                            embedded.path)
                try:
                    await trio.to_thread.run_sync(embedded.restart)
                except StorageUnavailable as exc:
                    log.error("%s; next attempt in %.1f s", exc, delay)
                    next_restart = time.monotonic() + delay
                    delay = min(delay * 2, RESTART_DELAY_MAX)
                else:
                    self._restarts += 1
                    delay = RESTART_DELAY_MIN
                    log.warning("the embedded PostgreSQL in %s runs again", embedded.path)
            await self._probe()
            await trio.sleep(PROBE_INTERVAL)

    async def _probe(self) -> None:
        """One ping, bounded by the statement timeout; remembers whether it was answered."""
        answered = False
        with trio.move_on_after(self._probe_timeout):
            try:
                await self.ping()
                answered = True
            except StorageUnavailable:
                pass
        if answered:
            if not self._up:
                log.warning("the database answers again")
            self._answered_at = time.monotonic()
        elif self._up:
            log.warning("the database does not answer")
        self._up = answered

    # -- the crossing ------------------------------------------------------------------------

    async def _run(
        self, fn: Callable[[Unpack[PosArgsT]], Coroutine[Any, Any, T]], *args: *PosArgsT
    ) -> T:
        """Run ``fn(*args)`` on the storage loop; database failures become StorageUnavailable,
        but for the refusals of constraints that concurrent requests can meet: a foreign key
        violated is ``not_found``, a unique one ``conflict`` (two requests that each checked
        a name free, say; statements that expect it say ON CONFLICT, this is the net)."""
        if self._closed:
            raise StorageUnavailable("storage is closed")
        try:
            return await self._bridge.run(fn, *args)
        except asyncpg.ForeignKeyViolationError as exc:
            # What a concurrent request removed since this one looked it up: an account
            # purged, a room an administrator deleted, a message purged with it.
            raise ChatError(codes.NOT_FOUND, _gone(exc.detail)) from exc
        except asyncpg.UniqueViolationError as exc:
            log.info("a unique constraint refused a change: %s", exc.constraint_name)
            raise ChatError(codes.CONFLICT, "that exists already (a concurrent change made "
                                            "it); look again") from exc
        except _UNAVAILABLE as exc:
            raise StorageUnavailable(f"database error: {exc!r}") from exc

    # -- users and tokens --------------------------------------------------------------------

    async def ping(self) -> None:
        await self._run(self._pool.fetchval, "SELECT 1")

    async def create_user(self, name: str, password_hash: str, *, admin: bool = False) -> User:
        row = await self._run(self._pool.fetchrow, _SQL_CREATE_USER, name, password_hash,
                              admin)
        if row is None:
            raise ChatError(codes.CONFLICT, f"the name {name!r} is taken")
        return _user(row)

    async def set_password(self, name: str, password_hash: str, *,
                           actor_id: int | None = None) -> User:
        row = await self._run(self._pool.fetchrow, _SQL_SET_PASSWORD, actor_id, "{}", name,
                              password_hash, _now_ms())
        return _named_user(row, name)

    async def list_users(self) -> list[User]:
        rows = await self._run(self._pool.fetch, _SQL_LIST_USERS)
        return [_user(row) for row in rows]

    async def find_users(self, *, query: str = "", after: str = "", limit: int) -> list[User]:
        rows = await self._run(self._pool.fetch, _SQL_FIND_USERS, query.lower(), after.lower(),
                               limit)
        return [_user(row) for row in rows]

    async def set_admin(self, name: str, admin: bool, *, actor_id: int | None = None) -> User:
        row = await self._run(self._pool.fetchrow, _SQL_SET_ADMIN, actor_id,
                              json.dumps({"admin": admin}), name, admin)
        return _named_user(row, name)

    async def set_deactivated(self, name: str, deactivated: bool, *,
                              actor_id: int | None = None) -> User:
        row = await self._run(self._pool.fetchrow, _SQL_SET_DEACTIVATED, actor_id, "{}", name,
                              deactivated, _now_ms())
        return _named_user(row, name)

    async def admin_rooms(self, *, query: str = "", after: str = "", limit: int
                          ) -> list[AdminRoom]:
        rows = await self._run(self._pool.fetch, _SQL_ADMIN_ROOMS, query, after, limit)
        return [AdminRoom(name=row["name"], private=row["private"], topic=row["topic"],
                          owner=row["owner"], owner_deactivated=row["owner_deactivated"],
                          members=row["members"], last_seq=row["last_seq"],
                          created_at=row["created_at"], archived=row["archived"])
                for row in rows]

    async def room_archived(self, room: str) -> bool:
        return bool(await self._run(self._pool.fetchval, _SQL_ROOM_ARCHIVED, room))

    async def delete_room(self, user_id: int | None, room: str
                          ) -> list[tuple[str, ScheduledItem]]:
        """See :meth:`Storage.delete_room`: a tombstone and the room's scheduled items
        removed in one short transaction, then its rows, in chunks
        (:meth:`purge_deleted_rooms`)."""
        removed = await self._run(self._do_delete_room, user_id, room)
        await self.purge_deleted_rooms()
        return removed

    async def _do_delete_room(self, user_id: int | None, room: str
                              ) -> list[tuple[str, ScheduledItem]]:
        async with self._pool.acquire() as conn, conn.transaction():
            by = ""  # the command line: the notice's room_deleted names nobody
            if user_id is not None:
                actor = await conn.fetchrow(_SQL_DELETE_ACTOR, user_id)
                if actor is None or not actor["admin"]:
                    raise ChatError(codes.FORBIDDEN,
                                    "only server administrators can delete a room")
                by = actor["name"]
            row = await conn.fetchrow(_SQL_DELETE_LOCK, room)
            if row is None:
                raise ChatError(codes.NOT_FOUND, f"there is no room {room!r}")
            if row["kind"] != "room":
                raise ChatError(codes.BAD_REQUEST, "a 1:1 conversation cannot be deleted")
            # Its scheduled items go now (read before the tombstone renames the room), not
            # at the purge: none is claimed and refused meanwhile.
            owners = {r["id"]: r["name"] for r in await conn.fetch(
                _SQL_DELETE_ROOM_SCHEDULED, row["id"])}
            items = await _scheduled_items(conn, _SQL_SCHEDULED_BY_ID, list(owners))
            await conn.execute(_SQL_SCHEDULED_DELETE_MANY, list(owners))
            await conn.execute("SELECT set_config('chatd.quiet', 'on', true)")
            await conn.fetchval(_SQL_DELETE_TOMBSTONE, row["id"], room, user_id,
                                json.dumps({"last_seq": row["last_seq"]}), by)
            await conn.execute("SELECT set_config('chatd.quiet', '', true)")
        error = {"code": codes.NOT_FOUND, "message": f"the room #{room} was deleted"}
        return [(owners[item.id], dataclasses.replace(item, state="failed", error=error))
                for item in items]

    async def purge_deleted_rooms(self) -> int:
        """Delete the rows of every deleted room (their tombstones), in chunks of
        :data:`PURGE_CHUNK` entries per transaction; how many rooms were purged. Run after
        each deletion and once at start-up (a crash may have left a tombstone)."""
        return await self._run(self._do_purge)

    async def _do_purge(self) -> int:
        async with self._pool.acquire() as conn:
            rooms = [row["id"] for row in await conn.fetch(_SQL_TOMBSTONES)]
            for room_id in rooms:
                while (await conn.execute(_SQL_PURGE_CHANGES, room_id, PURGE_CHUNK)
                       != "DELETE 0"):
                    pass
                while True:
                    async with conn.transaction():
                        ids = await conn.fetchval(_SQL_PURGE_MESSAGES, room_id, PURGE_CHUNK)
                        if not ids:
                            break
                        await conn.execute(_SQL_PURGE_MESSAGE_ROWS, ids)
                await conn.execute(_SQL_PURGE_ROOM, room_id)
        return len(rooms)

    async def database_size(self) -> int:
        return int(await self._run(self._pool.fetchval,
                                   "SELECT pg_database_size(current_database())"))

    async def figures(self) -> DatabaseFigures:
        row = await self._run(self._pool.fetchrow, _SQL_FIGURES)
        nodes = tuple(NodeSeen(name=name, seen_at=seen, online=online) for name, seen, online
                      in zip(row["node_names"], row["node_seen"], row["node_online"],
                             strict=True))
        return DatabaseFigures(
            database_bytes=row["database_bytes"], users=row["users"], admins=row["admins"],
            deactivated=row["deactivated"], bots=row["bots"], rooms=row["rooms"],
            archived=row["archived"], conversations=row["conversations"],
            messages=row["messages"], files=row["files"], file_bytes=int(row["file_bytes"]),
            nodes=nodes)

    async def rooms_written_in(self, name: str, since: int) -> list[str]:
        rows = await self._run(self._pool.fetch, _SQL_ROOMS_WRITTEN_IN, name.lower(), since)
        return [row["name"] for row in rows]

    async def bans(self, user_id: int, room: str) -> list[Ban]:
        return await self._run(self._do_bans, user_id, room)

    async def _do_bans(self, user_id: int, room: str) -> list[Ban]:
        async with self._pool.acquire() as conn:
            room_id = await _check_moderates(conn, room, user_id, "see its bans")
            rows = await conn.fetch(_SQL_BANS, room_id)
        return [Ban(room=room, user=row["user"], by=row["by"], reason=row["reason"],
                    ts=row["ts"], expires_at=row["expires_at"]) for row in rows]

    async def audit_log(self, user_id: int | None, *, room: str | None = None,
                        before: int | None = None, limit: int) -> list[AuditEntry]:
        return await self._run(self._do_audit_log, user_id, room, before, limit)

    async def _do_audit_log(self, user_id: int | None, room: str | None, before: int | None,
                            limit: int) -> list[AuditEntry]:
        async with self._pool.acquire() as conn:
            room_id = None
            if room is not None and user_id is None:  # the command line reads any room's
                room_id = await conn.fetchval(_SQL_ROOM_ID, room)
                if room_id is None:
                    raise ChatError(codes.NOT_FOUND, f"there is no room {room!r}")
            elif room is not None and user_id is not None:
                room_id = await _check_moderates(conn, room, user_id, "read its audit log")
            elif user_id is not None and not await conn.fetchval(
                    "SELECT admin FROM users WHERE id = $1", user_id):
                raise ChatError(codes.FORBIDDEN, "only administrators can read the audit log")
            rows = await conn.fetch(_SQL_AUDIT_LOG, room_id,
                                    _MAX_SEQ if before is None else before, limit)
        return [AuditEntry(id=row["id"], ts=row["ts"], actor=row["actor"],
                           action=row["action"], target=row["target"], room=row["room"],
                           reason=row["reason"], details=json.loads(row["details"]))
                for row in rows]

    async def get_credentials(self, name: str) -> Credentials | None:
        row = await self._run(self._pool.fetchrow, _SQL_GET_CREDENTIALS, name)
        if row is None:
            return None
        return Credentials(user=_user(row), password_hash=row["password_hash"])

    async def check_token(self, user_id: int, jti: str, issued_at: int) -> User | None:
        """See :meth:`Storage.check_token`: ``issued_at`` must be in ms, not whole seconds."""
        row = await self._run(self._pool.fetchrow, _SQL_CHECK_TOKEN, user_id, jti, issued_at)
        return None if row is None else _user(row)

    async def open_session(self, user_id: int, jti: str, issued_at: int, *,
                           contacts_limit: int | None = None,
                           rooms_limit: int | None = None) -> SessionStart | None:
        return await self._run(self._do_open_session, user_id, jti, issued_at, contacts_limit,
                               rooms_limit)

    async def _do_open_session(self, user_id: int, jti: str, issued_at: int,
                               contacts_limit: int | None,
                               rooms_limit: int | None) -> SessionStart | None:
        """See :meth:`Storage.open_session`: one statement, one crossing of the bridge."""
        row = await self._pool.fetchrow(_SQL_OPEN_SESSION, user_id, jti, issued_at,
                                        contacts_limit, rooms_limit)
        if row is None:
            return None
        last_seqs = dict(zip(row["rooms"], row["last_seqs"], strict=True))
        page = row["page"]
        return SessionStart(user=_user(row), rooms=frozenset(last_seqs),
                            contacts=list(row["contacts"]), last_seqs=last_seqs,
                            page=[_room(room) for room in json.loads(page)] if page else [],
                            reminders_due=row["reminders_due"],
                            scheduled_count=row["scheduled_count"],
                            scheduled_failed=row["scheduled_failed"],
                            threads_unread=row["threads_unread"])

    async def revoke_token(self, jti: str, expires_at: int) -> None:
        await self._run(self._do_revoke_token, jti, expires_at)

    async def _do_revoke_token(self, jti: str, expires_at: int) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(_SQL_REVOKE_TOKEN, jti, expires_at)
            await conn.execute(_SQL_PURGE_REVOKED)

    async def revoke_all_tokens(self, user_id: int) -> None:
        """See :meth:`Storage.revoke_all_tokens`; "now" is this process's clock, in ms."""
        await self._run(self._pool.execute, _SQL_REVOKE_ALL, user_id, _now_ms())

    # -- bots and webhooks (chatd/storage/bots.py) ----------------------------------------------

    async def is_admin(self, user_id: int) -> bool:
        return await self._run(bots.is_admin, self._pool, user_id)

    async def create_bot(self, owner_id: int, name: str, *, token_name: str,
                         token_hash: bytes) -> Bot:
        return await self._run(bots.create_bot, self._pool, owner_id, name, token_name,
                               token_hash)

    async def bots(self, owner_id: int | None = None) -> list[Bot]:
        return await self._run(bots.bots, self._pool, owner_id)

    async def get_bot(self, name: str) -> Bot | None:
        return await self._run(bots.get_bot, self._pool, name)

    async def add_bot_token(self, bot_id: int, name: str, token_hash: bytes) -> BotToken:
        return await self._run(bots.add_bot_token, self._pool, bot_id, name, token_hash)

    async def revoke_bot_tokens(self, bot_id: int, token_id: int | None = None) -> list[int]:
        return await self._run(bots.revoke_bot_tokens, self._pool, bot_id, token_id)

    async def check_bot_token(self, token_hash: bytes) -> tuple[User, BotToken] | None:
        return await self._run(bots.check_bot_token, self._pool, token_hash)

    async def add_hook(self, creator_id: int, room: str, bot_id: int,
                       secret_hash: bytes) -> Hook:
        return await self._run(bots.add_hook, self._pool, creator_id, room, bot_id,
                               secret_hash)

    async def hooks(self, user_id: int, room: str, *, admin: bool = False) -> list[Hook]:
        return await self._run(bots.hooks, self._pool, user_id, room, admin)

    async def delete_hook(self, user_id: int, room: str, hook_id: int, *,
                          admin: bool = False) -> None:
        await self._run(bots.delete_hook, self._pool, user_id, room, hook_id, admin)

    async def find_hook(self, secret_hash: bytes) -> HookTarget | None:
        return await self._run(bots.find_hook, self._pool, secret_hash)

    async def set_room_webhook(self, user_id: int, room: str, url: str, secret: str, *,
                               admin: bool = False) -> RoomWebhook:
        return await self._run(bots.set_room_webhook, self._pool, user_id, room, url, secret,
                               admin)

    async def room_webhook(self, user_id: int, room: str, *,
                           admin: bool = False) -> RoomWebhook | None:
        return await self._run(bots.room_webhook, self._pool, user_id, room, admin)

    async def delete_room_webhook(self, user_id: int, room: str, *,
                                  admin: bool = False) -> bool:
        return await self._run(bots.delete_room_webhook, self._pool, user_id, room, admin)

    async def any_targets(self, table: str) -> bool:
        if table not in TARGET_TABLES:
            raise ValueError(f"not a table of outgoing targets: {table!r}")
        return bool(await self._run(self._pool.fetchval,
                                    f"SELECT EXISTS (SELECT 1 FROM {table})"))

    async def webhook_targets(self, rooms: Sequence[str],
                              senders: Sequence[str]) -> WebhookTargets:
        if not rooms:
            return WebhookTargets(webhooks={}, bots=frozenset())
        return await self._run(bots.webhook_targets, self._pool, rooms, senders)

    # -- rooms -------------------------------------------------------------------------------

    async def user_rooms(self, user_id: int) -> list[Room]:
        rows = await self._run(self._pool.fetch, _SQL_USER_ROOMS, user_id)
        return [_room(row) for row in rows]

    async def room_heads(self, user_id: int) -> dict[str, int]:
        rows = await self._run(self._pool.fetch, _SQL_ROOM_HEADS, user_id)
        return {row["name"]: row["last_seq"] for row in rows}

    async def session_rooms(self, user_id: int, limit: int | None) -> SessionRooms:
        return await self._run(self._do_session_rooms, user_id, limit)

    async def _do_session_rooms(self, user_id: int, limit: int | None) -> SessionRooms:
        """See :meth:`Storage.session_rooms`: without a limit one statement (the rooms in
        full), else two on one connection (the heads, then the page by name)."""
        if limit is None:
            rows = await self._pool.fetch(_SQL_USER_ROOMS, user_id)
            rooms = [_room(row) for row in rows]
            return SessionRooms(last_seqs={room.name: room.last_seq for room in rooms},
                                rooms=rooms)
        async with self._pool.acquire() as conn:
            heads = await conn.fetch(_SQL_ROOM_HEADS, user_id)
            rows = await conn.fetch(_SQL_ROOMS_OVERVIEW, user_id, "", "", limit, True)
        return SessionRooms(last_seqs={row["name"]: row["last_seq"] for row in heads},
                            rooms=[_room(row) for row in rows])

    async def is_member(self, room: str, user: str) -> bool:
        return bool(await self._run(self._pool.fetchval, _SQL_IS_MEMBER, room, user))

    async def count_members(self, room: str, users: Sequence[str]) -> int:
        return int(await self._run(self._pool.fetchval, _SQL_COUNT_MEMBERS, room, list(users)))

    async def group_scope(self, room: str, user_id: int, *, online: Sequence[str] | None
                          ) -> GroupScope | None:
        row = await self._run(self._pool.fetchrow, _SQL_GROUP_SCOPE, room, user_id,
                              online is None, [name.lower() for name in online or ()])
        if row is None:
            return None
        return GroupScope(members=row["members"], member=row["member"],
                          moderates=row["moderates"], covered=tuple(row["covered"]))

    # -- exports (chatd/storage/exports.py) ----------------------------------------------------

    async def start_export(self, user_id: int, *, per_hour: int, lease: float) -> ExportState:
        return await self._run(exports.start_export, self._pool, user_id, per_hour, lease)

    async def export_state(self, user_id: int, *, ready: bool = False) -> ExportState | None:
        return await self._run(exports.export_state, self._pool, user_id, ready)

    async def renew_export(self, export_id: int, *, lease: float, messages: int,
                           files: int) -> bool:
        return await self._run(exports.renew_export, self._pool, export_id, lease, messages,
                               files)

    async def finish_export(self, export_id: int, *, sha256: str, size: int, messages: int,
                            files: int, keep: float) -> ExportState | None:
        return await self._run(exports.finish_export, self._pool, export_id, sha256, size,
                               messages, files, keep)

    async def fail_export(self, export_id: int, error: str) -> None:
        await self._run(exports.fail_export, self._pool, export_id, error)

    async def expire_exports(self, *, limit: int, forget_after: float) -> list[str]:
        return await self._run(exports.expire_exports, self._pool, limit, forget_after)

    async def record_export(self, user_id: int, details: dict[str, Any]) -> None:
        await self._run(exports.record_export, self._pool, user_id, details)

    async def export_account(self, user_id: int) -> dict[str, Any]:
        return await self._run(exports.export_account, self._pool, user_id)

    async def export_rooms(self, user_id: int) -> list[dict[str, Any]]:
        return await self._run(exports.export_rooms, self._pool, user_id)

    async def sent_rooms(self, user_id: int) -> list[tuple[str, str]]:
        return await self._run(exports.sent_rooms, self._pool, user_id)

    async def export_messages(self, room: str, *, after: int, limit: int,
                              sender_id: int | None = None) -> list[Message]:
        """See :meth:`Storage.export_messages`: one statement."""
        if sender_id is None:
            rows = await self._run(self._pool.fetch, _SQL_EXPORT_MESSAGES, room, after, limit)
        else:
            rows = await self._run(self._pool.fetch, _SQL_EXPORT_MESSAGES_BY_SENDER, room,
                                   after, limit, sender_id)
        return [_entry(room, row) for row in rows]

    async def export_files(self, user_id: int, *, after: int, limit: int
                           ) -> list[ExportedFile]:
        return await self._run(exports.export_files, self._pool, user_id, after, limit)

    # -- drafts (chatd/storage/drafts.py) ----------------------------------------------------

    async def drafts(self, user_id: int) -> list[StoredDraft]:
        return await self._run(user_drafts.drafts, self._pool, user_id)

    async def set_draft(self, user_id: int, room: str, thread: int | None, text: str, *,
                        most: int) -> StoredDraft | None:
        return await self._run(user_drafts.set_draft, self._pool, user_id, room, thread,
                               text, most)

    async def draft_keys(self, users: Sequence[str]) -> dict[str, set[tuple[str, int]]]:
        return await self._run(user_drafts.draft_keys, self._pool, users)

    async def clear_sent_drafts(self, sent: Sequence[tuple[str, str, int, int]]
                                ) -> list[tuple[str, StoredDraft]]:
        return await self._run(user_drafts.clear_sent_drafts, self._pool, sent)

    # -- sections (chatd/storage/sections.py) ------------------------------------------------

    async def sections(self, user_id: int) -> SectionList:
        return await self._run(sidebar.sections, self._pool, user_id)

    async def create_section(self, user_id: int, name: str, position: int | None, *,
                             most: int) -> SectionsChange:
        return await self._run(sidebar.create_section, self._pool, user_id, name, position,
                               most)

    async def edit_section(self, user_id: int, section: int, *, name: str | None = None,
                           collapsed: bool | None = None,
                           position: int | None = None) -> SectionsChange:
        return await self._run(sidebar.edit_section, self._pool, user_id, section, name,
                               collapsed, position)

    async def delete_section(self, user_id: int, section: int) -> SectionsChange:
        return await self._run(sidebar.delete_section, self._pool, user_id, section)

    async def set_section(self, user_id: int, room: str, section: int | None) -> bool:
        return await self._run(sidebar.set_section, self._pool, user_id, room, section)

    # -- user groups (chatd/storage/user_groups.py) ------------------------------------------

    async def user_group_mentions(self, room: str, user_id: int, candidates: Sequence[str]
                                  ) -> tuple[tuple[str, ...], tuple[int, ...]]:
        return await self._run(groups.user_group_mentions, self._pool, room, user_id,
                               candidates)

    async def user_group_names(self) -> list[str]:
        return await self._run(groups.user_group_names, self._pool)

    async def user_groups(self, user_id: int) -> list[UserGroup]:
        return await self._run(groups.user_groups, self._pool, user_id)

    async def user_group(self, name: str) -> tuple[UserGroup, list[str]] | None:
        return await self._run(groups.user_group, self._pool, name)

    async def create_user_group(self, name: str, description: str, creator_id: int,
                                members: Sequence[str], *, max_groups: int,
                                max_members: int) -> UserGroupChange:
        return await self._run(groups.create_user_group, self._pool, name, description,
                               creator_id, members, max_groups, max_members)

    async def edit_user_group(self, name: str, user_id: int, *, admin: bool,
                              description: str | None, add: Sequence[str],
                              remove: Sequence[str], max_members: int) -> UserGroupChange:
        return await self._run(groups.edit_user_group, self._pool, name, user_id, admin,
                               description, add, remove, max_members)

    async def delete_user_group(self, name: str, user_id: int, *, admin: bool
                                ) -> UserGroupChange:
        return await self._run(groups.delete_user_group, self._pool, name, user_id, admin)

    # -- email (chatd/storage/email.py) -------------------------------------------------------

    async def email_settings(self, user_id: int) -> EmailSettings:
        return await self._run(mail.email_settings, self._pool, user_id)

    async def set_email(self, user_id: int, email: str, token_hash: bytes, *,
                        expires_at: int) -> EmailSettings:
        return await self._run(mail.set_email, self._pool, user_id, email, token_hash,
                               expires_at)

    async def remove_email(self, user_id: int) -> EmailSettings:
        return await self._run(mail.remove_email, self._pool, user_id)

    async def set_email_notify(self, user_id: int, on: bool) -> tuple[EmailSettings, bool]:
        return await self._run(mail.set_email_notify, self._pool, user_id, on)

    async def confirm_email(self, token_hash: bytes) -> tuple[str, int | None]:
        return await self._run(mail.confirm_email, self._pool, token_hash)

    async def store_email_token(self, user_id: int, purpose: str, token_hash: bytes, *,
                                expires_at: int, email: str | None = None) -> None:
        await self._run(mail.store_email_token, self._pool, user_id, purpose, token_hash,
                        expires_at, email)

    async def reset_target(self, target: str) -> ResetTarget | None:
        return await self._run(mail.reset_target, self._pool, target)

    async def reset_token_valid(self, token_hash: bytes) -> bool:
        return await self._run(mail.reset_token_valid, self._pool, token_hash)

    async def reset_password(self, token_hash: bytes, password_hash: str) -> User | None:
        return await self._run(self._do_reset_password, token_hash, password_hash)

    async def _do_reset_password(self, token_hash: bytes, password_hash: str) -> User | None:
        async with self._pool.acquire() as conn, conn.transaction():
            spent = await mail.spend_reset_token(conn, token_hash)
            if spent is None:
                return None
            user_id, name = spent
            row = await conn.fetchrow(_SQL_SET_PASSWORD, user_id, '{"by": "email"}', name,
                                      password_hash, _now_ms())
            return None if row is None else _user(row)

    async def any_email_targets(self) -> bool:
        return await self._run(mail.any_email_targets, self._pool)

    async def email_targets(self, entries: Sequence[tuple[str, int]]) -> list[EmailTarget]:
        if not entries:
            return []
        return await self._run(mail.email_targets, self._pool, entries)

    async def queue_emails(self, targets: Sequence[EmailTarget], *,
                           batch_seconds: float) -> tuple[int, int | None]:
        if not targets:
            return 0, None
        return await self._run(mail.queue_emails, self._pool, targets, batch_seconds)

    async def claim_email_batches(self, limit: int, lease: float) -> list[tuple[int, int]]:
        return await self._run(mail.claim_email_batches, self._pool, limit, lease)

    async def next_email_due(self) -> float | None:
        return await self._run(mail.next_email_due, self._pool)

    async def email_batch(self, user_id: int, attempts: int) -> EmailBatch | None:
        return await self._run(mail.email_batch, self._pool, user_id, attempts)

    async def email_batch_done(self, user_id: int, queued: Sequence[tuple[int, int]], *,
                               batch_seconds: float) -> None:
        await self._run(mail.email_batch_done, self._pool, user_id, queued, batch_seconds)

    async def email_batch_failed(self, user_id: int, retry_seconds: float) -> None:
        await self._run(mail.email_batch_failed, self._pool, user_id, retry_seconds)

    # -- limits every node shares (chatd/storage/limits.py) ----------------------------------

    async def take_shared_token(self, bucket: str, key: str, *, rate: float,
                                burst: float) -> float:
        return await self._run(shared_limits.take_shared_token, self._pool, bucket, key, rate,
                               burst)

    # -- invitations (chatd/storage/invitations.py) ------------------------------------------

    async def create_invitation(self, token_hash: bytes, creator_id: int | None, *,
                                expires_at: int, max_uses: int, rooms: Sequence[str],
                                anywhere: bool) -> Invitation:
        return await self._run(invites.create_invitation, self._pool, token_hash, creator_id,
                               expires_at, max_uses, rooms, anywhere)

    async def invitations(self, creator_id: int | None, *, before: int | None = None,
                          limit: int) -> list[Invitation]:
        return await self._run(invites.invitations, self._pool, creator_id, before, limit)

    async def revoke_invitation(self, invitation_id: int, user_id: int | None, *,
                                anyone: bool) -> Invitation:
        return await self._run(invites.revoke_invitation, self._pool, invitation_id, user_id,
                               anyone)

    async def invitation_by_hash(self, token_hash: bytes) -> Invitation | None:
        return await self._run(invites.invitation_by_hash, self._pool, token_hash)

    async def register_invited(self, name: str, password_hash: str, token_hash: bytes
                               ) -> InvitedUser:
        return await self._run(invites.register_invited, self._pool, name, password_hash,
                               token_hash, _SQL_CREATE_USER, _user)

    # -- room links (chatd/storage/room_links.py) --------------------------------------------

    async def create_room_link(self, token_hash: bytes, user_id: int, room: str, *,
                               expires_at: int, max_uses: int) -> RoomLink:
        return await self._run(links.create_room_link, self._pool, token_hash, user_id, room,
                               expires_at, max_uses)

    async def room_links(self, user_id: int, room: str, *, before: int | None = None,
                         limit: int) -> tuple[list[RoomLink], bool]:
        return await self._run(links.room_links, self._pool, user_id, room, before, limit)

    async def revoke_room_link(self, link_id: int, user_id: int) -> RoomLink:
        return await self._run(links.revoke_room_link, self._pool, link_id, user_id)

    async def look_at_room_link(self, token_hash: bytes, user_id: int) -> LinkedRoom | None:
        return await self._run(links.look_at_room_link, self._pool, token_hash, user_id)

    async def join_with_link(self, token_hash: bytes, user_id: int
                             ) -> tuple[LinkedRoom, bool]:
        return await self._run(links.join_with_link, self._pool, token_hash, user_id)

    async def memberships_of(self, users: Sequence[str]) -> set[tuple[str, str]]:
        rows = await self._run(self._pool.fetch, _SQL_MEMBERSHIPS_OF, list(users))
        return {(row["room"], row["user"]) for row in rows}

    async def rooms_overview(self, user_id: int, *, query: str = "", after: str = "",
                             limit: int | None = None, joined: bool = False) -> list[Room]:
        rows = await self._run(self._pool.fetch, _SQL_ROOMS_OVERVIEW, user_id, after, query,
                               limit, joined)
        return [_room(row) for row in rows]

    async def create_room(self, owner_id: int, name: str, *, private: bool, topic: str) -> Room:
        row = await self._run(self._pool.fetchrow, _SQL_CREATE_ROOM, name, private, topic, owner_id)
        if row is None:
            raise ChatError(codes.CONFLICT, f"a room called {name!r} exists")
        return _room(row, role="owner")

    async def join_room(self, user_id: int, name: str, *, create: bool = True) -> Joined:
        """See :meth:`Storage.join_room`. A room created by joining is owned by the joiner.
        The room comes with ``kind`` and, for a conversation, ``peer`` filled."""
        row, created = await self._run(self._do_join_room, user_id, name, create)
        if row is None:
            what = "conversation" if is_conversation(name) else "room"
            raise ChatError(codes.NOT_FOUND, f"there is no {what} {name!r}")
        if row["private"] and not row["was_member"]:
            what = "room" if row["kind"] == "room" else "conversation"
            raise ChatError(codes.FORBIDDEN, f"{what} {name!r} is private")
        if row["banned"] and not row["was_member"]:
            raise ChatError(codes.FORBIDDEN, f"you are banned from {name!r}")
        if row["archived"] and not row["was_member"]:
            raise ChatError(codes.ARCHIVED, f"{name!r} is archived: nobody joins it")
        return Joined(room=_room(row), newly_joined=row["newly_joined"], created=created)

    async def _do_join_room(self, user_id: int, name: str, create: bool) -> tuple[Any, bool]:
        async with self._pool.acquire() as conn:
            async with conn.transaction():
                await conn.execute(_SQL_LOCK_BANS_SHARED, name)
                row = await conn.fetchrow(_SQL_JOIN_ROOM, name, user_id)
            created = False
            if row is None and create and not is_conversation(name):
                # No such room yet: create it (or lose the race), then join. A room just made
                # has no bans; one made by another join meanwhile is joined as any other.
                status = await conn.execute(_SQL_CREATE_PUBLIC_ROOM, name, user_id)
                created = status == "INSERT 0 1"
                async with conn.transaction():
                    await conn.execute(_SQL_LOCK_BANS_SHARED, name)
                    row = await conn.fetchrow(_SQL_JOIN_ROOM, name, user_id)
            return row, created

    async def leave_room(self, user_id: int, name: str) -> bool:
        row = await self._run(self._pool.fetchrow, _SQL_LEAVE_ROOM, name, user_id)
        if row["kind"] is None:
            raise ChatError(codes.NOT_FOUND, f"there is no room {name!r}")
        if row["kind"] != "room":
            raise ChatError(codes.BAD_REQUEST, "a conversation cannot be left")
        return bool(row["was_member"])

    # -- conversations and membership ---------------------------------------------------------

    async def direct_room(self, user_id: int, peer: str | Sequence[str]) -> Conversation:
        """See :meth:`Storage.direct_room`. The room comes with ``kind`` and ``peer`` (1:1)
        or ``peers`` (group) filled.

        Two or three statements in one crossing: find the users (the conversation is named
        after all of them, and only the others' names are given), then find or create the
        room with every membership; if another session created it meanwhile (two first
        messages at once), read the winner's room."""
        others = [peer] if isinstance(peer, str) else list(peer)
        return await self._run(self._do_direct_room, user_id, others)

    async def _do_direct_room(self, user_id: int, others: list[str]) -> Conversation:
        wanted = {name.lower() for name in others}
        async with self._pool.acquire() as conn:
            users = await conn.fetch(_SQL_DIRECT_USERS, user_id, sorted(wanted))
            me = next((row for row in users if row["is_me"]), None)
            if me is None:
                raise ChatError(codes.NOT_FOUND, "no such user")
            found = {row["name"].lower(): row for row in users}
            missing = [name for name in others if name.lower() not in found]
            if missing:
                raise ChatError(codes.NOT_FOUND, f"there is no user {missing[0]!r}")
            people = {me["name"].lower()} | wanted
            if len(people) > GROUP_MAX:
                raise ChatError(codes.BAD_REQUEST,
                                f"a conversation has at most {GROUP_MAX} people")
            name = conversation_name(people)
            kind = "group" if len(people) > 2 else "dm"
            ids = sorted({found[person]["id"] for person in people})
            row = await conn.fetchrow(_SQL_DIRECT_ROOM, name, ids, kind)
            created = row is not None and row["created"]
            if row is None:  # lost the race to create it: the winner has committed by now
                row = await conn.fetchrow(_SQL_ROOM_BY_NAME, name)
            assert row is not None, "conversations are never deleted"
        peers = sorted((found[person]["name"] for person in people - {me["name"].lower()}),
                       key=str.lower)
        if kind == "group":
            return Conversation(room=_room(row, peers=tuple(peers)), peer=None,
                                peers=tuple(peers), created=created)
        other = peers[0] if peers else me["name"]
        return Conversation(room=_room(row, peer=other), peer=other, peers=(other,),
                            created=created)

    async def member_page(self, user_id: int, room: str, *, after: str = "",
                          limit: int | None = None) -> MemberPage:
        """See :meth:`Storage.member_page`. Two statements in one crossing: the room, its
        count and the number of users; then the page, the cheaper way (see
        ``_SQL_MEMBER_PAGE_BY_NAME``): by the users' names when walking them in order fills
        the page sooner than sorting the room's memberships would end, that is when ``limit``
        * users / members (the users walked, on average) is below the members."""
        return await self._run(self._do_member_page, user_id, room, after.lower(), limit)

    async def _do_member_page(self, user_id: int, room: str, after: str,
                              limit: int | None) -> MemberPage:
        async with self._pool.acquire() as conn:
            head = await conn.fetchrow(_SQL_MEMBER_COUNT, room, user_id)
            if head is None:
                raise ChatError(codes.NOT_FOUND, f"there is no room {room!r}")
            if not head["allowed"]:
                raise ChatError(codes.FORBIDDEN, f"room {room!r} is private, or you are "
                                "banned from it")
            count = int(head["count"])
            by_name = limit is not None and limit * max(head["users"], count) < count * count
            rows = await conn.fetch(
                _SQL_MEMBER_PAGE_BY_NAME if by_name else _SQL_MEMBER_PAGE_BY_ROOM,
                head["id"], head["owner_id"], after, limit)
        return MemberPage(members=[Member(name=row["name"], role=row["role"] or "member",
                                          deactivated=row["deactivated"],
                                          display_name=row["display_name"],
                                          custom_status=_custom_status(row),
                                          avatar=row["avatar"])
                                   for row in rows],
                          count=count)

    async def invite(self, user_id: int, room: str, invitee: str) -> tuple[str, bool]:
        row = await self._run(self._do_invite, room, user_id, invitee)
        if row["kind"] is None:
            raise ChatError(codes.NOT_FOUND, f"there is no room {room!r}")
        if not row["member"]:
            raise ChatError(codes.FORBIDDEN, f"you are not a member of {room!r}")
        if row["kind"] != "room":
            raise ChatError(codes.FORBIDDEN, "nobody can be invited into a conversation")
        if row["archived"]:
            raise ChatError(codes.ARCHIVED, f"{room!r} is archived: nobody joins it")
        if row["invitee"] is None:
            raise ChatError(codes.NOT_FOUND, f"there is no user {invitee!r}")
        if row["banned"]:
            raise ChatError(codes.FORBIDDEN, f"{row['invitee']} is banned from {room!r}")
        return row["invitee"], bool(row["new"])

    async def _do_invite(self, room: str, user_id: int, invitee: str) -> Any:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(_SQL_LOCK_BANS_SHARED, room)
            return await conn.fetchrow(_SQL_INVITE, room, user_id, invitee)

    # -- files -------------------------------------------------------------------------------

    async def upload_allowance(self, user_id: int, room: str, quota_bytes: int) -> int:
        row = await self._run(self._pool.fetchrow, _SQL_UPLOAD_ALLOWANCE, room, user_id)
        _check_upload(room, row)
        return quota_bytes - int(row["used"])

    async def add_file(self, user_id: int, room: str, *, sha256: str, size: int, name: str,
                       content_type: str, quota_bytes: int,
                       image: ImageFacts | None = None) -> StoredFile:
        file_id = await self._run(self._do_add_file, user_id, room, sha256, size, name,
                                  content_type, quota_bytes, image)
        return StoredFile(info=FileInfo(id=file_id, name=name, size=size,
                                        content_type=content_type,
                                        width=image.width if image else None,
                                        height=image.height if image else None,
                                        thumbnail=image is not None),
                          sha256=sha256, room=room, uploader_id=user_id,
                          thumb_sha256=image.thumb_sha256 if image else None)

    async def _do_add_file(self, user_id: int, room: str, sha256: str, size: int, name: str,
                           content_type: str, quota_bytes: int, image: ImageFacts | None
                           ) -> int:
        facts = ((image.width, image.height, image.thumb_sha256, image.thumb_width,
                  image.thumb_height) if image else (None,) * 5)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(_SQL_LOCK_UPLOADER, user_id)
            file_id = await conn.fetchval(_SQL_ADD_FILE, user_id, room, sha256, size, name,
                                          content_type, quota_bytes, *facts)
            if file_id is not None:
                return int(file_id)
            row = await conn.fetchrow(_SQL_UPLOAD_ALLOWANCE, room, user_id)
        _check_upload(room, row)
        raise ChatError(codes.TOO_LARGE, f"this file ({size} bytes) would take you past your "
                        f"quota of {quota_bytes} bytes of files; delete messages with files "
                        "to make room")

    async def copy_files(self, user_id: int, room: str, file_ids: Sequence[int],
                         quota_bytes: int) -> list[int]:
        return await self._run(self._do_copy_files, user_id, room, list(file_ids),
                               quota_bytes)

    async def _do_copy_files(self, user_id: int, room: str, file_ids: list[int],
                             quota_bytes: int) -> list[int]:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(_SQL_LOCK_UPLOADER, user_id)  # as uploads queue
            ids = await conn.fetch(_SQL_COPY_FILES, user_id, room, file_ids, quota_bytes)
            if ids or not file_ids:
                return sorted(row["id"] for row in ids)
            row = await conn.fetchrow(_SQL_UPLOAD_ALLOWANCE, room, user_id)
            live = await conn.fetchval(_SQL_LIVE_FILES, file_ids)
        _check_upload(room, row)
        if not live:
            return []  # the source's files were deleted meanwhile: nothing to copy
        raise ChatError(codes.QUOTA_EXCEEDED, f"its files ({live} bytes) would take you past your "
                        f"quota of {quota_bytes} bytes of files; delete messages with files "
                        "to make room")

    async def forward_source(self, user_id: int, room: str, msg_id: int
                             ) -> tuple[Message, bool]:
        row = None
        if 0 < msg_id <= _MAX_SEQ:
            row = await self._run(self._pool.fetchrow, _SQL_FORWARD_SOURCE, user_id, room,
                                  msg_id)
        if row is None:
            raise ChatError(codes.NOT_FOUND, f"there is no message {msg_id} in {room!r} "
                            "that you may read")
        return _entry(room, row), row["public"]

    async def get_file(self, user_id: int, file_id: int) -> StoredFile | None:
        if not 0 < file_id <= _MAX_SEQ:
            return None
        row = await self._run(self._pool.fetchrow, _SQL_GET_FILE, file_id, user_id)
        return None if row is None else _stored_file(row)

    async def readable_files(self, user_id: int, file_ids: Sequence[int]) -> list[StoredFile]:
        ids = sorted({i for i in file_ids if 0 < i <= _MAX_SEQ})
        if not ids:
            return []
        rows = await self._run(self._pool.fetch, _SQL_READABLE_FILES, ids, user_id)
        return [_stored_file(row) for row in rows]

    async def kept_file(self, file_id: int) -> StoredFile | None:
        if not 0 < file_id <= _MAX_SEQ:
            return None
        row = await self._run(self._pool.fetchrow, _SQL_KEPT_FILE, file_id)
        return None if row is None else _stored_file(row)

    async def expire_uploads(self, older_than: float, *, uploader_id: int | None = None,
                             limit: int = 10000) -> int:
        if uploader_id is None:
            status = await self._run(self._pool.execute, _SQL_EXPIRE_UPLOADS,
                                     float(older_than), limit)
        else:
            status = await self._run(self._pool.execute, _SQL_EXPIRE_USER_UPLOADS,
                                     float(older_than), uploader_id)
        return int(status.rsplit(" ", 1)[-1])

    async def file_bytes_in_use(self, sha256: str) -> bool:
        return bool(await self._run(self._pool.fetchval, _SQL_FILE_BYTES_IN_USE, sha256))

    async def dead_file_bytes(self, limit: int) -> list[str]:
        rows = await self._run(self._pool.fetch, _SQL_DEAD_FILE_BYTES, limit)
        return [row["sha256"] for row in rows]

    async def forget_dead_files(self, sha256: str) -> None:
        await self._run(self._do_forget_dead_files, sha256)

    async def _do_forget_dead_files(self, sha256: str) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(_SQL_FORGET_DEAD_THUMBNAILS, sha256)
            await conn.execute(_SQL_FORGET_DEAD_FILES, sha256)

    async def mark_read(self, user_id: int, room: str, seq: int) -> ReadMove:
        seq = max(0, min(seq, _MAX_SEQ))  # a bigint parameter; past either end means the end
        row = await self._run(self._pool.fetchrow, _SQL_MARK_READ, room, user_id, seq)
        if not row["found"]:
            raise ChatError(codes.NOT_FOUND, f"there is no room {room!r}")
        if row["read_seq"] is None:
            raise ChatError(codes.FORBIDDEN, f"you are not a member of {room!r}")
        return ReadMove(seq=int(row["read_seq"]), moved=row["moved"],
                        tell=tuple(row["tell"] or ()))

    async def mark_all_read(self, user_id: int, rooms: Sequence[str] | None = None
                            ) -> list[MarkedRead]:
        if rooms is None:
            rows = await self._run(self._pool.fetch, _SQL_MARK_ALL_READ, user_id)
        else:
            rows = await self._run(self._pool.fetch, _SQL_MARK_SOME_READ, user_id, list(rooms))
        return sorted(MarkedRead(room=str(row["name"]), seq=int(row["read_seq"]),
                                 tell=tuple(row["tell"] or ())) for row in rows)

    async def mark_unread(self, user_id: int, room: str, seq: int) -> ReadMarker:
        seq = max(0, min(seq, _MAX_SEQ))  # a bigint parameter
        row = await self._run(self._pool.fetchrow, _SQL_MARK_UNREAD, room, user_id, seq)
        if not row["found"]:
            raise ChatError(codes.NOT_FOUND, f"there is no room {room!r}")
        if row["read_seq"] is None:
            raise ChatError(codes.FORBIDDEN, f"you are not a member of {room!r}")
        return ReadMarker(seq=int(row["read_seq"]), last_seq=int(row["last_seq"]),
                          unread=int(row["unread"]), mentions=int(row["mentions"]),
                          tell=tuple(row["tell"] or ()))

    async def receipts(self, user_id: int, room: str, msg_id: int, *, after: str = "",
                       limit: int) -> Receipts:
        row = await self._run(self._pool.fetchrow, _SQL_RECEIPTS, room, user_id,
                              min(msg_id, _MAX_SEQ), after.lower(), limit)
        if row is None:
            raise ChatError(codes.NOT_FOUND, f"there is no room {room!r}")
        if not row["allowed"]:
            raise ChatError(codes.FORBIDDEN, f"room {room!r} is private")
        if row["seq"] is None:
            raise ChatError(codes.NOT_FOUND, f"there is no message {msg_id} in {room!r}")
        return Receipts(seq=int(row["seq"]), count=int(row["count"]), users=tuple(row["users"]))

    async def read_positions(self, user_id: int, room: str) -> list[ReadPosition]:
        rows = await self._run(self._pool.fetch, _SQL_READ_POSITIONS, room, user_id)
        if not rows:
            raise ChatError(codes.NOT_FOUND, f"there is no room {room!r}")
        if not rows[0]["allowed"]:
            raise ChatError(codes.FORBIDDEN, f"you are not a member of {room!r}")
        if rows[0]["kind"] == "room":
            raise ChatError(codes.BAD_REQUEST, "a room's read markers are not listed: ask "
                                               "who has read a message (msg_id)")
        return [ReadPosition(user=row["name"], seq=int(row["read_seq"]))
                for row in rows if row["name"] is not None]

    async def set_read_receipts(self, user_id: int, on: bool) -> list[MarkedRead] | None:
        rows = await self._run(self._pool.fetch, _SQL_SET_READ_RECEIPTS, user_id, on)
        if not rows:
            return None
        return sorted(MarkedRead(room=str(row["name"]), seq=int(row["read_seq"]),
                                 tell=tuple(row["tell"])) for row in rows
                      if row["name"] is not None)

    async def shares_read_receipts(self, user_id: int) -> bool:
        return bool(await self._run(self._pool.fetchval, _SQL_SHARES_RECEIPTS, user_id))

    async def keywords(self, user_id: int) -> tuple[str, ...]:
        return tuple(await self._run(self._pool.fetchval, _SQL_KEYWORDS, user_id) or ())

    async def set_keywords(self, user_id: int, keywords: Sequence[str]) -> bool:
        row = await self._run(self._pool.fetchrow, _SQL_SET_KEYWORDS, user_id,
                              list(keywords) or None)
        return row is not None

    async def hide(self, user_id: int, room: str, on: bool) -> int | None:
        row = await self._run(self._pool.fetchrow, _SQL_HIDE, room, user_id, on)
        if not row["found"]:
            raise ChatError(codes.NOT_FOUND, f"there is no room {room!r}")
        if not row["member"]:
            raise ChatError(codes.FORBIDDEN, f"you are not a member of {room!r}")
        if not row["marked"]:
            raise ChatError(codes.BAD_REQUEST, "only a conversation is closed; leave a room")
        return None if row["hidden_seq"] is None else int(row["hidden_seq"])

    async def favourite(self, user_id: int, room: str, on: bool) -> FavouriteMark:
        row = await self._run(self._pool.fetchrow, _SQL_FAVOURITE, room, user_id, on)
        if not row["found"]:
            what = "conversation" if is_conversation(room) else "room"
            raise ChatError(codes.NOT_FOUND, f"there is no {what} {room!r}")
        if not row["member"]:
            raise ChatError(codes.FORBIDDEN, f"you are not a member of {room!r}")
        if row["changed"]:
            return FavouriteMark(at=row["marked_at"], changed=True)
        # as it was; a mark made meanwhile by another request (which changed it) is one too
        return FavouriteMark(at=row["was_at"] if on else None, changed=False)

    # -- contacts ----------------------------------------------------------------------------

    async def tell_elsewhere(self, user: str, data: bytes) -> None:
        await self.tell_elsewhere_many(((user, data),))

    async def tell_elsewhere_many(self, events: Sequence[tuple[str, bytes]]) -> None:
        payloads = [payload for user, data in events
                    for payload in user_event_payloads(self._node, user, data)]
        if len(payloads) == 1:
            await self._run(self._pool.execute, _SQL_TELL_ELSEWHERE, payloads[0])
        elif payloads:
            await self._run(self._pool.execute, _SQL_TELL_ELSEWHERE_MANY, payloads)

    async def set_notify(self, user_id: int, room: str, notify: str) -> str:
        row = await self._run(self._pool.fetchrow, _SQL_SET_NOTIFY, room, user_id, notify)
        if not row["found"]:
            raise ChatError(codes.NOT_FOUND, f"there is no room {room!r}")
        if row["notify"] is None:
            raise ChatError(codes.FORBIDDEN, f"you are not a member of {room!r}")
        return str(row["notify"])

    async def set_dnd(self, user_id: int, until: int | None) -> None:
        await self._run(self._pool.execute, _SQL_SET_DND, user_id, until)

    async def set_profile(self, user_id: int, *, display_name: str | None = None,
                          custom_status: CustomStatus | None = None) -> tuple[Profile, bool]:
        status = None if custom_status == NO_CUSTOM_STATUS else custom_status
        row = await self._run(
            self._pool.fetchrow, _SQL_SET_PROFILE, user_id,
            display_name is not None, display_name or None,
            custom_status is not None, status and status.emoji, status and status.text,
            status and status.until)
        if row is None:
            raise ChatError(codes.NOT_FOUND, "no such user")
        return _profile(row), bool(row["changed"])

    async def set_avatar(self, user_id: int, avatar: tuple[str, int] | None
                         ) -> tuple[Profile, bool]:
        sha256, size = avatar if avatar is not None else (None, None)
        row = await self._run(self._pool.fetchrow, _SQL_SET_AVATAR, user_id, sha256, size)
        if row is None:
            raise ChatError(codes.NOT_FOUND, "no such user")
        return _profile(row), bool(row["changed"])

    async def avatar_exists(self, sha256: str) -> bool:
        return bool(await self._run(self._pool.fetchval, _SQL_AVATAR_EXISTS, sha256))

    async def add_custom_emoji(self, name: str, user_id: int, sha256: str, size: int
                               ) -> CustomEmoji:
        row = await self._run(self._pool.fetchrow, _SQL_ADD_EMOJI, name, sha256, user_id, size)
        if row is None:
            raise ChatError(codes.CONFLICT, f"there is a custom emoji :{name}: already")
        return _custom_emoji(row)

    async def remove_custom_emoji(self, name: str, user_id: int, *, admin: bool
                                  ) -> CustomEmoji:
        row = await self._run(self._pool.fetchrow, _SQL_REMOVE_EMOJI, name, user_id, admin)
        if row is None:
            raise ChatError(codes.NOT_FOUND, f"there is no custom emoji :{name}:")
        if not row["removed"]:
            raise ChatError(codes.FORBIDDEN, "only who added a custom emoji, or a server "
                                             "administrator, may remove it")
        return _custom_emoji(row)

    async def custom_emoji(self) -> list[CustomEmoji]:
        rows = await self._run(self._pool.fetch, _SQL_CUSTOM_EMOJI)
        return [_custom_emoji(row) for row in rows]

    async def custom_emoji_exists(self, name: str) -> bool:
        return bool(await self._run(self._pool.fetchval, _SQL_CUSTOM_EMOJI_EXISTS, name))

    async def emoji_image_exists(self, sha256: str) -> bool:
        return bool(await self._run(self._pool.fetchval, _SQL_EMOJI_IMAGE_EXISTS, sha256))

    async def profiles(self, names: Sequence[str]) -> list[Profile]:
        wanted = list(dict.fromkeys(name.lower() for name in names))
        if not wanted:
            return []
        rows = await self._run(self._pool.fetch, _SQL_PROFILES, wanted)
        return [_profile(row) for row in rows]

    # -- push subscriptions -------------------------------------------------------------------

    async def add_push_subscription(self, user_id: int, subscription: PushSubscription, *,
                                    keep: int) -> None:
        await self._run(self._do_add_push_subscription, user_id, subscription, keep)

    async def _do_add_push_subscription(self, user_id: int, subscription: PushSubscription,
                                        keep: int) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(_SQL_LOCK_SUBSCRIBER, user_id)
            await conn.execute(_SQL_ADD_SUBSCRIPTION, subscription.endpoint, user_id,
                               subscription.p256dh, subscription.auth)
            await conn.execute(_SQL_TRIM_SUBSCRIPTIONS, user_id, keep)

    async def remove_push_subscription(self, user_id: int, endpoint: str) -> bool:
        return bool(await self._run(self._pool.fetchval, _SQL_REMOVE_SUBSCRIPTION, user_id,
                                    endpoint))

    async def forget_push_subscription(self, endpoint: str) -> bool:
        return bool(await self._run(self._pool.fetchval, _SQL_FORGET_SUBSCRIPTION, endpoint))

    async def push_targets(self, entries: Sequence[tuple[str, int]]) -> list[PushTarget]:
        if not entries:
            return []
        rows = await self._run(self._pool.fetch, _SQL_PUSH_TARGETS,
                               [room for room, _ in entries], [seq for _, seq in entries])
        return [PushTarget(room=row["room"], seq=row["seq"], user=row["user"],
                           reason=row["reason"], paused_until=row["paused_until"],
                           subscription=PushSubscription(endpoint=row["endpoint"],
                                                         p256dh=row["p256dh"],
                                                         auth=row["auth"]),
                           keywords=tuple(row["keywords"] or ()))
                for row in rows]

    async def contacts(self, user_id: int) -> list[str]:
        rows = await self._run(self._pool.fetch, _SQL_CONTACTS, user_id)
        return [row["name"] for row in rows]

    async def contact_page(self, user_id: int, *, after: str = "", limit: int) -> list[str]:
        rows = await self._run(self._pool.fetch, _SQL_CONTACT_PAGE, user_id, after.lower(),
                               limit)
        return [row["name"] for row in rows]

    async def contact_profiles(self, user_id: int, *, after: str = "", limit: int
                               ) -> list[Profile]:
        rows = await self._run(self._pool.fetch, _SQL_CONTACT_PROFILES, user_id,
                               after.lower(), limit)
        return [_profile(row) for row in rows]

    async def room_and_contact_names(self, user_id: int) -> tuple[frozenset[str], list[str]]:
        row = await self._run(self._pool.fetchrow, _SQL_ROOM_AND_CONTACT_NAMES, user_id)
        return frozenset(row["rooms"]), list(row["contacts"])

    async def add_contact(self, user_id: int, name: str) -> str:
        return (await self.add_contact_profile(user_id, name)).name

    async def add_contact_profile(self, user_id: int, name: str) -> Profile:
        row = await self._run(self._pool.fetchrow, _SQL_ADD_CONTACT, user_id, name)
        if row is None:
            raise ChatError(codes.NOT_FOUND, f"there is no user {name!r}")
        if row["id"] == user_id:
            raise ChatError(codes.BAD_REQUEST, "you cannot be your own contact")
        return _profile(row)

    async def remove_contact(self, user_id: int, name: str) -> str | None:
        found: str | None = await self._run(
            self._pool.fetchval, _SQL_REMOVE_CONTACT, user_id, name
        )
        return found

    # -- messages ----------------------------------------------------------------------------

    async def append_messages(self, batch: Sequence[NewEntry]) -> list[Appended | ChatError]:
        if not batch:
            return []
        try:
            return await self._run(self._do_append, list(batch))
        except ChatError as exc:
            # Here a unique violation is a race the retries did not win (a nonce sent twice
            # at once, chatd.committer's _DATA_FAULTS): the batch is unavailable, to send
            # again, not a conflict of one request's (what _run makes of it elsewhere).
            if isinstance(exc.__cause__, asyncpg.UniqueViolationError):
                raise StorageUnavailable(f"database error: {exc.__cause__!r}"
                                         ) from exc.__cause__
            raise

    async def _do_append(self, batch: list[NewEntry]) -> list[Appended | ChatError]:
        """Messages first (two statements), then changes (one transaction): see
        :meth:`Storage.append_messages`. When the messages are stored but the changes fail,
        the messages' outcomes stand and the changes are answered ``unavailable``: what was
        committed must be acknowledged and published."""
        results: list[Appended | ChatError | None] = [None] * len(batch)
        messages = [(i, item) for i, item in enumerate(batch) if isinstance(item, NewMessage)]
        changes = [(i, item) for i, item in enumerate(batch) if isinstance(item, NewChange)]
        if messages:
            stored = await self._append_new_messages([item for _, item in messages])
            for (index, _), outcome in zip(messages, stored, strict=True):
                results[index] = outcome
        if changes:
            try:
                async with self._pool.acquire() as conn:
                    applied = await apply_changes(conn, [item for _, item in changes])
            except _UNAVAILABLE as exc:
                if not messages:
                    raise
                log.warning("changes failed after their batch's messages were stored: %s", exc)
                applied = [ChatError(codes.UNAVAILABLE,
                                     "the database is unavailable; resend later")] * len(changes)
            for (index, _), outcome in zip(changes, applied, strict=True):
                results[index] = outcome
        assert all(result is not None for result in results)
        return results  # type: ignore[return-value]

    async def _append_new_messages(self, batch: list[NewMessage]
                                   ) -> list[Appended | ChatError]:
        for attempt in range(1, APPEND_ATTEMPTS + 1):
            try:
                return await self._pool.run_kept(_append_once, batch)
            except asyncpg.UniqueViolationError as exc:
                if exc.constraint_name != "messages_sender_nonce_key" or attempt == APPEND_ATTEMPTS:
                    raise
                log.debug("append batch lost a nonce race (attempt %d), retrying", attempt)
            except _FilesRaced:
                if attempt == APPEND_ATTEMPTS:
                    raise StorageUnavailable("files kept being attached concurrently") from None
                log.debug("append batch lost a file race (attempt %d), retrying", attempt)
        raise AssertionError("unreachable")

    async def history(
        self,
        user_id: int,
        room: str,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int,
    ) -> Page:
        """See :meth:`Storage.history`. With both ``before`` and ``after``, the page holds
        messages between the two, the ones nearest to ``after`` (``more``: newer ones exist
        below ``before``)."""
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        newest_first = after is None
        rows = await self._run(
            self._pool.fetch,
            _SQL_HISTORY_NEWEST if newest_first else _SQL_HISTORY_OLDEST,
            room,
            user_id,
            0 if after is None else after,
            _MAX_SEQ if before is None else before,
            limit + 1,
        )
        if not rows:
            raise ChatError(codes.NOT_FOUND, f"there is no room {room!r}")
        if not rows[0]["allowed"]:
            raise ChatError(codes.FORBIDDEN, f"room {room!r} is private")
        messages = [_entry(room, row) for row in rows if row["seq"] is not None]
        more = len(messages) > limit
        del messages[limit:]
        if newest_first:
            messages.reverse()
        return Page(messages=messages, more=more, last_seq=rows[0]["last_seq"])

    # -- saved messages (migration 0030) -------------------------------------------------------

    async def save(self, user_id: int, room: str, msg_id: int, *, on: bool,
                   remind_at: int | None, limit: int,
                   set_by: int | None = None) -> tuple[SavedItem, bool]:
        """See :meth:`Storage.save`: one short transaction."""
        return await self._run(self._do_save, user_id, room, msg_id, on, remind_at, limit,
                               set_by)

    async def _do_save(self, user_id: int, room: str, msg_id: int, on: bool,
                       remind_at: int | None, limit: int, set_by: int | None
                       ) -> tuple[SavedItem, bool]:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(_SQL_LOCK_SAVES, user_id)
            row = await conn.fetchrow(_SQL_SAVE_CHECK, user_id, room, msg_id)
            if row is None:
                raise ChatError(codes.NOT_FOUND, f"there is no room {room!r}")
            if on and not row["allowed"]:
                raise ChatError(codes.FORBIDDEN, f"you cannot read {room!r}")
            if row["msg_id"] is None or (on and row["deleted"]):
                raise ChatError(codes.NOT_FOUND, f"there is no message {msg_id} in {room!r}")
            held = row["saved_ts"] is not None
            if not on:
                if held:
                    await conn.execute(_SQL_UNSAVE, user_id, msg_id)
                return SavedItem(room=room, msg_id=msg_id, ts=row["saved_ts"] or 0,
                                 remind_at=row["remind_ts"],
                                 reminded=bool(row["reminded"])), held
            if held:
                if row["remind_ts"] == remind_at:
                    return SavedItem(room=room, msg_id=msg_id, ts=row["saved_ts"],
                                     remind_at=remind_at, reminded=row["reminded"]), False
                await conn.execute(_SQL_SAVE_REMIND, user_id, msg_id, remind_at)
                return SavedItem(room=room, msg_id=msg_id, ts=row["saved_ts"],
                                 remind_at=remind_at), True
            if row["held"] >= limit:
                raise ChatError(codes.TOO_MANY_SAVED,
                                f"you have saved {limit} messages, the most one may keep; "
                                "remove some first")
            ts = await conn.fetchval(_SQL_SAVE_INSERT, user_id, msg_id, row["room_id"],
                                     remind_at, set_by)
        return SavedItem(room=room, msg_id=msg_id, ts=ts, remind_at=remind_at), True

    async def saved_items(self, user_id: int, *, before: int | None = None,
                          limit: int) -> tuple[list[SavedItem], bool]:
        """See :meth:`Storage.saved_items`: one statement."""
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        cursor = MAX_TS if before is None else min(before, MAX_TS)
        rows = await self._run(self._pool.fetch, _SQL_SAVED_ITEMS, user_id, cursor, limit + 1)
        items = [SavedItem(room=row["room"], msg_id=row["msg_id"], ts=row["saved_ts"],
                           remind_at=row["remind_ts"], reminded=row["reminded"],
                           message=_entry(row["room"], row), set_by=row["set_by_name"])
                 for row in rows]
        return items[:limit], len(items) > limit

    # -- reminders set for others (migration 0051) ---------------------------------------------

    async def reminder_target(self, user_id: int, name: str) -> tuple[int, str]:
        """See :meth:`Storage.reminder_target`: one statement."""
        row = await self._run(self._pool.fetchrow, _SQL_REMINDER_TARGET, user_id, name)
        if row is None or row["deactivated"]:
            raise ChatError(codes.NOT_FOUND, f"there is no user {name!r}")
        if not row["shares"]:
            raise ChatError(codes.FORBIDDEN, f"you share no room with {row['name']}: only "
                                             "people you talk with can be reminded")
        if not row["allowed"]:
            raise ChatError(codes.FORBIDDEN, f"{row['name']} takes no reminders from others")
        return row["id"], row["name"]

    async def reminders_set(self, user_id: int, *, before: int | None = None,
                            limit: int) -> tuple[list[SavedItem], bool]:
        """See :meth:`Storage.reminders_set`: one statement."""
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        rows = await self._run(self._pool.fetch, _SQL_REMINDERS_SET, user_id,
                               _MAX_SEQ if before is None else before, limit + 1)
        items = [SavedItem(room=row["room"], msg_id=row["msg_id"], ts=row["saved_ts"],
                           remind_at=row["remind_ts"], reminded=row["reminded"],
                           message=_entry(row["room"], row), user=row["for_user"])
                 for row in rows]
        return items[:limit], len(items) > limit

    async def cancel_reminder(self, user_id: int, name: str, msg_id: int) -> SavedItem:
        """See :meth:`Storage.cancel_reminder`: one short transaction."""
        return await self._run(self._do_cancel_reminder, user_id, name, msg_id)

    async def _do_cancel_reminder(self, user_id: int, name: str, msg_id: int) -> SavedItem:
        async with self._pool.acquire() as conn, conn.transaction():
            target = await conn.fetchval("SELECT id FROM users WHERE lower(name) = lower($1)",
                                         name)
            row = None
            if target is not None:
                await conn.execute(_SQL_LOCK_SAVES, target)
                row = await conn.fetchrow(_SQL_CANCEL_REMINDER, user_id, target, msg_id)
            if row is None:
                raise ChatError(codes.NOT_FOUND, f"you have no reminder for {name!r} of "
                                                 f"message {msg_id} waiting: it was reminded "
                                                 "or removed")
            return SavedItem(room=row["room"], msg_id=msg_id, ts=row["saved_ts"],
                             remind_at=row["remind_ts"], user=row["for_user"])

    async def allow_reminders(self, user_id: int, on: bool | None) -> bool:
        """See :meth:`Storage.allow_reminders`: one statement."""
        value = await self._run(self._pool.fetchval, _SQL_ALLOW_REMINDERS, user_id, on)
        if value is None:
            raise ChatError(codes.NOT_FOUND, "no such user")
        return bool(value)

    # -- followed threads (migration 0033) -------------------------------------------------

    async def follow_thread(self, user_id: int, room: str, msg_id: int, *,
                            on: bool) -> tuple[ThreadState, bool]:
        """See :meth:`Storage.follow_thread`: one short transaction."""
        return await self._run(self._do_thread_state, user_id, room, msg_id, on, None)

    async def read_thread(self, user_id: int, room: str, msg_id: int,
                          seq: int) -> tuple[ThreadState, bool]:
        """See :meth:`Storage.read_thread`: one short transaction."""
        return await self._run(self._do_thread_state, user_id, room, msg_id, None, seq)

    async def _do_thread_state(self, user_id: int, room: str, msg_id: int, on: bool | None,
                               seq: int | None) -> tuple[ThreadState, bool]:
        """Follow (``on``) or read (``seq``) a thread: the user's row, under the room's lock."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(_SQL_THREAD_TARGET, user_id, room, msg_id)
            if row is None:
                raise ChatError(codes.NOT_FOUND, f"there is no room {room!r}")
            if not row["member"]:
                raise ChatError(codes.FORBIDDEN, f"only the members of {room!r} follow its "
                                "threads")
            if row["root"] is None:
                raise ChatError(codes.NOT_FOUND, f"there is no message {msg_id} in {room!r}")
            name = row["name"]
            was = bool(row["following"])
            read = row["read_seq"] or 0
            if on is not None:
                # Unfollowing a thread not followed changes nothing the user sees, but is
                # written: being named in it later does not make them follow it.
                changed = on != was
                if row["following"] is on:
                    return ThreadState(user=name, room=room, msg_id=row["root"],
                                       following=was, read_seq=read), False
            else:
                assert seq is not None
                target = min(seq, row["last_seq"])
                changed = target > read
                if not changed:
                    return ThreadState(user=name, room=room, msg_id=row["root"],
                                       following=was, read_seq=read), False
            done = await conn.fetchrow(_SQL_THREAD_UPSERT, user_id, row["root"],
                                       row["room_id"], on, 0 if seq is None else target)
        return ThreadState(user=name, room=room, msg_id=row["root"],
                           following=bool(done["following"]),
                           read_seq=done["read_seq"]), changed

    async def threads(self, user_id: int, *, before: tuple[int, int] | None = None,
                      limit: int) -> tuple[list[FollowedThread], bool]:
        """See :meth:`Storage.threads`: one statement, one snapshot."""
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        at, root = (MAX_TS, _MAX_SEQ) if before is None else (min(before[0], MAX_TS), before[1])
        rows = await self._run(self._pool.fetch, _SQL_THREADS, user_id, at, root, limit + 1)
        found = [FollowedThread(room=row["room"], root=_entry(row["room"], row),
                                following=row["following"], read_seq=row["read_seq"],
                                last_ts=row["last_ts"], unread=row["t_unread"],
                                mentions=row["t_mentions"]) for row in rows]
        return found[:limit], len(found) > limit

    async def claim_reminders(self, limit: int, lease: float) -> list[Reminder]:
        """See :meth:`Storage.claim_reminders`: one statement claims, a second reads the
        messages."""
        return await self._run(self._do_claim_reminders, limit, lease)

    async def _do_claim_reminders(self, limit: int, lease: float) -> list[Reminder]:
        rows = await self._pool.fetch(_SQL_CLAIM_REMINDERS, limit, lease)
        if not rows:
            return []
        found = await self._pool.fetch(_SQL_FOUND, [row["msg_id"] for row in rows])
        messages = {row["msg_id"]: _entry(row["room"], row) for row in found}
        return [Reminder(
            user=row["user"], remind_at=row["remind_ts"], message=messages[row["msg_id"]],
            readable=row["allowed"], paused_until=row["paused_until"],
            subscriptions=_subscriptions(row["subscriptions"]), user_id=row["user_id"],
            claim=row["claimed_until"],
        ) for row in rows if row["msg_id"] in messages]

    async def reminded(self, reminder: Reminder) -> bool:
        row = await self._run(self._pool.fetchrow, _SQL_REMINDED, reminder.user_id,
                              reminder.message.msg_id, reminder.remind_at, self._node,
                              reminder.claim)
        return row is not None

    async def next_reminder(self) -> float | None:
        value = await self._run(self._pool.fetchval, _SQL_NEXT_REMINDER)
        return None if value is None else float(value)

    async def reminded_message(self, user: str, msg_id: int) -> Message | None:
        row = await self._run(self._pool.fetchrow, _SQL_REMINDED_MESSAGE, user, msg_id)
        return None if row is None else _entry(row["room"], row)

    # -- scheduled messages (migration 0032) ---------------------------------------------------

    async def badges(self, user_id: int) -> Badges:
        row = await self._run(self._pool.fetchrow, _SQL_BADGES, user_id)
        if row is None:
            raise ChatError(codes.NOT_FOUND, "no such user")
        return Badges(reminders_due=row["reminders_due"],
                      scheduled_count=row["scheduled_count"],
                      scheduled_failed=row["scheduled_failed"])

    async def schedule(self, user_id: int, room: str, *, text: str, files: Sequence[int],
                       thread: int | None, broadcast: bool, reply_to: int | None,
                       send_at: int, limit: int) -> ScheduledItem:
        """See :meth:`Storage.schedule`: one short transaction."""
        return await self._run(self._do_schedule, user_id, room, text, tuple(files), thread,
                               broadcast, reply_to, send_at, limit)

    async def _do_schedule(self, user_id: int, room: str, text: str, files: tuple[int, ...],
                           thread: int | None, broadcast: bool, reply_to: int | None,
                           send_at: int, limit: int) -> ScheduledItem:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(_SQL_LOCK_SAVES, user_id)
            row = await conn.fetchrow(_SQL_SCHEDULE_CHECK, room, user_id)
            _check_upload(room, row)
            if row["held"] >= limit:
                raise ChatError(codes.TOO_MANY_SCHEDULED,
                                f"you have {limit} scheduled messages, the most one may have "
                                "waiting; cancel some first")
            item_id = await conn.fetchval(_SQL_SCHEDULE_INSERT, user_id, row["id"], text,
                                          thread, broadcast, reply_to, send_at)
            await _reserve(conn, item_id, files, user_id, row["id"])
            return (await _scheduled_items(conn, _SQL_SCHEDULED_BY_ID, [item_id]))[0]

    async def scheduled_items(self, user_id: int) -> list[ScheduledItem]:
        return await self._run(_scheduled_items, self._pool, _SQL_SCHEDULED_OF_USER, user_id)

    async def edit_scheduled(self, user_id: int, item_id: int, *, text: str | None,
                             files: Sequence[int] | None, send_at: int | None
                             ) -> ScheduledItem:
        """See :meth:`Storage.edit_scheduled`: one short transaction."""
        return await self._run(self._do_edit_scheduled, user_id, item_id, text,
                               None if files is None else tuple(files), send_at)

    async def _do_edit_scheduled(self, user_id: int, item_id: int, text: str | None,
                                 files: tuple[int, ...] | None, send_at: int | None
                                 ) -> ScheduledItem:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await _lock_scheduled(conn, user_id, item_id)
            count = row["files"]
            if files is not None:
                await conn.execute(_SQL_RELEASE_FILES, item_id, list(files))
                await _reserve(conn, item_id, files, user_id, row["room_id"])
                count = len(files)
            if not (row["text"] if text is None else text).strip() and not count:
                raise ChatError(codes.BAD_REQUEST,
                                "a scheduled message needs a text or a file")
            await conn.execute(_SQL_SCHEDULED_EDIT, item_id, text, send_at)
            return (await _scheduled_items(conn, _SQL_SCHEDULED_BY_ID, [item_id]))[0]

    async def cancel_scheduled(self, user_id: int, item_id: int) -> ScheduledItem:
        """See :meth:`Storage.cancel_scheduled`: one short transaction."""
        return await self._run(self._do_cancel_scheduled, user_id, item_id)

    async def _do_cancel_scheduled(self, user_id: int, item_id: int) -> ScheduledItem:
        async with self._pool.acquire() as conn, conn.transaction():
            await _lock_scheduled(conn, user_id, item_id)
            item = (await _scheduled_items(conn, _SQL_SCHEDULED_BY_ID, [item_id]))[0]
            await conn.execute(_SQL_RELEASE_FILES, item_id, [])
            await conn.execute(_SQL_SCHEDULED_DELETE, item_id)
        return item

    async def claim_scheduled(self, limit: int, lease: float) -> list[ScheduledWork]:
        """See :meth:`Storage.claim_scheduled`: one statement claims, a second reads the
        items."""
        return await self._run(self._do_claim_scheduled, limit, lease)

    async def _do_claim_scheduled(self, limit: int, lease: float) -> list[ScheduledWork]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_SQL_CLAIM_SCHEDULED, limit, lease)
            if not rows:
                return []
            items = {item.id: item for item in await _scheduled_items(
                conn, _SQL_SCHEDULED_BY_ID, [row["item_id"] for row in rows])}
        return [ScheduledWork(item=items[row["item_id"]], user=_user(row),
                              claim=row["claimed_until"], paused_until=row["paused_until"],
                              subscriptions=_subscriptions(row["subscriptions"]))
                for row in rows if row["item_id"] in items]

    async def next_scheduled(self) -> float | None:
        value = await self._run(self._pool.fetchval, _SQL_NEXT_SCHEDULED)
        return None if value is None else float(value)

    async def scheduled_sending(self, work: ScheduledWork) -> bool:
        row = await self._run(self._pool.fetchrow, _SQL_SCHEDULED_SENDING, work.item.id,
                              work.claim)
        return row is not None

    async def scheduled_sent(self, item_id: int) -> None:
        await self._run(self._pool.execute, _SQL_SCHEDULED_DELETE, item_id)

    async def scheduled_failed(self, item_id: int, code: str, message: str
                               ) -> ScheduledItem | None:
        return await self._run(self._do_scheduled_failed, item_id, code, message)

    async def _do_scheduled_failed(self, item_id: int, code: str, message: str
                                   ) -> ScheduledItem | None:
        error = json.dumps({"code": code, "message": message})
        async with self._pool.acquire() as conn:
            await conn.execute(_SQL_SCHEDULED_FAILED, item_id, error)
            items = await _scheduled_items(conn, _SQL_SCHEDULED_BY_ID, [item_id])
        return items[0] if items else None

    async def pins(self, user_id: int, room: str, *, before: int | None = None,
                   limit: int) -> Page:
        """See :meth:`Storage.pins`: one statement, one snapshot."""
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        rows = await self._run(self._pool.fetch, _SQL_PINS, room, user_id,
                               _MAX_SEQ if before is None else before, limit + 1)
        if not rows:
            raise ChatError(codes.NOT_FOUND, f"there is no room {room!r}")
        if not rows[0]["allowed"]:
            raise ChatError(codes.FORBIDDEN, f"only the members of {room!r} see its pins")
        messages = [_entry(room, row) for row in rows if row["seq"] is not None]
        more = len(messages) > limit
        return Page(messages=messages[:limit], more=more, last_seq=rows[0]["last_seq"])

    async def thread(self, user_id: int, room: str, msg_id: int, *, before: int | None = None,
                     limit: int) -> ThreadPage:
        """See :meth:`Storage.thread`: one statement, one snapshot."""
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        rows = await self._run(self._pool.fetch, _SQL_THREAD, room, user_id, msg_id,
                               _MAX_SEQ if before is None else before, limit + 1)
        if not rows:
            raise ChatError(codes.NOT_FOUND, f"there is no room {room!r}")
        if not rows[0]["allowed"]:
            raise ChatError(codes.FORBIDDEN, f"only the members of {room!r} read its threads")
        if rows[0]["seq"] is None or rows[0]["part"] != 0:
            raise ChatError(codes.NOT_FOUND, f"there is no message {msg_id} in {room!r}")
        replies = [_entry(room, row) for row in rows[1:]]
        more = len(replies) > limit
        del replies[limit:]
        replies.reverse()
        return ThreadPage(root=_entry(room, rows[0]), messages=replies, more=more,
                          last_seq=rows[0]["last_seq"],
                          following=rows[0]["thread_following"],
                          read_seq=rows[0]["thread_read_seq"])

    async def edit_history(self, user_id: int, room: str, msg_id: int, *,
                           limit: int = EDIT_VERSIONS_MAX,
                           moderated: bool = False) -> EditHistory:
        """See :meth:`Storage.edit_history`: one statement, one snapshot."""
        if limit < 2:
            raise ValueError(f"limit must be >= 2, got {limit}")
        row = await self._run(self._pool.fetchrow, _SQL_EDIT_HISTORY, room, user_id, msg_id,
                              limit)
        if row is None:
            raise ChatError(codes.NOT_FOUND, f"there is no room {room!r}")
        if not row["allowed"]:
            raise ChatError(codes.FORBIDDEN, f"room {room!r} is private")
        if row["seq"] is None or row["deleted"]:
            raise ChatError(codes.NOT_FOUND, f"there is no message {msg_id} in {room!r}")
        if moderated and not row["moderates"]:
            raise ChatError(codes.FORBIDDEN, "on this server a message's edit history is shown "
                            "only to its author and the room's owner and moderators")
        if not row["edits"]:
            return EditHistory(versions=[EditVersion(text=row["text"], by=row["sender"],
                                                     ts=row["ts"], seq=row["seq"])],
                               original=True, omitted=0)
        seq, by, ts, text, replaced = json.loads(row["first"])
        # The first version known: the text the first edit replaced (the original, kept since
        # migration 0045), or else the first edit's own.
        original = replaced is not None
        first = (EditVersion(text=replaced, by=row["sender"], ts=row["ts"], seq=row["seq"])
                 if original else EditVersion(text=text, by=by, ts=ts, seq=seq))
        newest = [EditVersion(text=t, by=b, ts=at, seq=s)
                  for s, b, at, t in json.loads(row["newest"])]
        total = row["edits"] + (1 if original else 0)
        rest = [v for v in newest if v.seq != first.seq][-(limit - 1):]
        return EditHistory(versions=[first, *rest], original=original,
                           omitted=max(0, total - limit))

    async def resume_pages(self, user_id: int, seen: Mapping[str, int], *,
                           limit: int) -> dict[str, Page | ChatError]:
        """See :meth:`Storage.resume_pages`: one statement, one crossing."""
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        if not seen:
            return {}
        names = list(seen)
        afters = [seen[name] for name in names]
        rows = await self._run(self._pool.fetch, _SQL_RESUME, user_id, names, afters,
                               limit + 1, limit)
        pages: dict[str, Page | ChatError] = {
            name: ChatError(codes.NOT_FOUND, f"there is no room {name!r}") for name in names}
        by_room: dict[int, list[Any]] = {}
        for row in rows:
            by_room.setdefault(row["ord"], []).append(row)
        for ord_, room_rows in by_room.items():
            name = names[ord_ - 1]
            first = room_rows[0]
            if not first["allowed"]:
                pages[name] = ChatError(codes.FORBIDDEN, f"room {name!r} is private")
                continue
            last_seq = first["last_seq"]
            messages = [_entry(name, row) for row in room_rows if row["seq"] is not None]
            more = len(messages) > limit or last_seq - seen[name] > limit
            if more:
                messages = []
            pages[name] = Page(messages=messages, more=more, last_seq=last_seq)
        return pages

    async def search(self, user_id: int, query: SearchQuery, *, rooms: Sequence[str] = (),
                     before: int | None = None, limit: int) -> SearchPage:
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        return await self._run(self._do_search, user_id, query, tuple(rooms), before, limit)

    async def _do_search(self, user_id: int, query: SearchQuery, rooms: tuple[str, ...],
                         before: int | None, limit: int) -> SearchPage:
        """See :meth:`Storage.search`; the plan is chatd/storage/search.py's."""
        positive, negative = query.positive(), query.negative()
        senders = sorted({name.lower() for name in query.senders})
        async with self._pool.acquire() as conn, conn.transaction(
                isolation="repeatable_read", readonly=True):
            # Each statement planned with its own values: see chatd/storage/search.py.
            await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            scope = await conn.fetchrow(_SQL_SEARCH_SCOPE, user_id, list(rooms), senders,
                                        positive, negative)
            if positive and not scope["positive"] and not query.has_filters:
                raise ChatError(codes.BAD_REQUEST,
                                "the query has no words to search for: letters or digits, "
                                "or a filter such as from:NAME or in:ROOM")
            room_ids = _searched_rooms(rooms, scope)
            sender_ids = None
            if senders:
                known = dict(json.loads(scope["senders"]) if scope["senders"] else ())
                for name in query.senders:
                    if name.lower() not in known:
                        raise ChatError(codes.NOT_FOUND, f"there is no user called {name!r}")
                sender_ids = sorted(set(known.values()))
            ids = await find_ids(
                conn, rooms=room_ids, top=scope["top"], before=before,
                positive=positive if scope["positive"] else "",
                negative=negative if scope["negative"] else "", senders=sender_ids,
                after_time=_day_start(query.after, 1), before_time=_day_start(query.before),
                limit=limit + 1, has=query.has, is_=query.is_, not_has=query.not_has,
                not_is=query.not_is, user=user_id)
            rows = await conn.fetch(_SQL_FOUND, ids[:limit]) if ids and limit else []
        return SearchPage(messages=[_entry(row["room"], row) for row in rows],
                          more=len(ids) > limit)

    async def index_words(self, *, ids: Sequence[int] | None = None, limit: int = 0,
                          merge: bool = False) -> int:
        if ids is None and limit <= 0:
            raise ValueError(f"limit must be > 0, got {limit}")
        return await self._run(self._do_index_words, None if ids is None else list(ids),
                                limit, merge)

    async def _do_index_words(self, ids: list[int] | None, limit: int, merge: bool) -> int:
        """See :meth:`Storage.index_words`.

        The batch is one statement in its own transaction, committed without waiting for
        the WAL to reach the disk (``synchronous_commit = off``): the words can be computed
        again from the text, so a crash that loses the last batches (a fraction of a
        second's: the WAL writer, and any later durable commit, flush them) leaves those
        messages NULL, to be indexed again; and indexing never adds a wait for the disk.
        Rows stay locked only for the statement, so a change to a message being indexed
        waits that long at most.

        ``merge`` then moves the GIN index's pending list (what the batches added since)
        into the index, in a statement of its own that holds no row lock: otherwise the
        batch that fills the list would merge it while its rows are locked (up to a few
        hundred milliseconds at 512 kB on a busy machine), and every search reads the whole
        list. Merging takes ownership of the index (as VACUUM does); a role that does not
        own it leaves the merges to autovacuum and to the batches, logged once."""
        async with self._pool.acquire() as conn:
            if ids is None:
                indexed: int = await conn.fetchval(_SQL_INDEX_WORDS_SWEEP, limit)
            else:
                indexed = await conn.fetchval(_SQL_INDEX_WORDS_OF, ids)
            if merge and self._merge_pending:
                try:
                    async with conn.transaction():
                        await conn.execute("SET LOCAL synchronous_commit = off")
                        await conn.execute(_SQL_INDEX_MERGE)
                except asyncpg.InsufficientPrivilegeError as exc:
                    self._merge_pending = False
                    log.warning("cannot merge the search index's pending list (%s): "
                                "autovacuum and the indexer's batches will", exc)
        return indexed

    async def index_backlog(self, limit: int) -> int:
        return int(await self._run(self._pool.fetchval, _SQL_INDEX_BACKLOG, limit))

    # -- life cycle --------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the pool, the bridge and the embedded server, if any. Idempotent; finishes
        even when cancelled."""
        if self._closed:
            return
        self._closed = True
        with trio.CancelScope(shield=True):
            try:
                await self._bridge.run(self._pool.release_kept)
            except Exception:
                log.exception("giving the kept connections back failed")
            await _release(self._bridge, self._pool.pool, self._embedded)


def _searched_rooms(names: tuple[str, ...], scope: Any) -> list[int]:
    """The ids of the rooms a search covers: those ``names`` (each must exist and be
    readable), or the user's own; from a row of :data:`_SQL_SEARCH_SCOPE`."""
    if not names:
        return list(scope["mine"])
    named = {name: (room_id, readable) for name, room_id, readable
             in (json.loads(scope["named"]) if scope["named"] else ())}
    ids = []
    for name in names:
        if name not in named:
            raise ChatError(codes.NOT_FOUND, f"there is no room {name!r}")
        room_id, readable = named[name]
        if not readable:
            raise ChatError(codes.FORBIDDEN, f"room {name!r} is private")
        ids.append(room_id)
    return sorted(set(ids))


def _day_start(day: datetime.date | None, days_later: int = 0) -> datetime.datetime | None:
    """The start of ``day`` (plus ``days_later`` days) in UTC, or None."""
    if day is None:
        return None
    return datetime.datetime.combine(day + datetime.timedelta(days=days_later),
                                     datetime.time(), tzinfo=datetime.UTC)


class _FilesRaced(Exception):
    """A file the batch attaches was attached by another commit between the two statements
    of an append; the batch was rolled back, and is tried again."""


def _file_refusal(item: NewMessage, found_json: str | None, claimed: set[int]
                  ) -> ChatError | None:
    """Why ``item`` cannot attach its files (as the resolve step found them), or None."""
    found = {f[0]: (f[7], f[8]) for f in json.loads(found_json)} if found_json else {}
    for file_id in item.files:
        if file_id not in found:
            return ChatError(codes.NOT_FOUND,
                             f"there is no file {file_id} of yours in {item.room!r}")
        attached, held = found[file_id]
        if attached or file_id in claimed:
            return ChatError(codes.BAD_REQUEST, f"file {file_id} is attached already")
        if held is not None and item.nonce != f"sched:{held}":
            return ChatError(codes.BAD_REQUEST,
                             f"file {file_id} is held by a scheduled message")
    return None


# The rooms of a batch with a thread reply, locked (in id order, as the insert locks them)
# before anything is read: the thread's followers read after every earlier reply's follows
# (migration 0033) are committed, and none written before this batch's insert. Two first
# repliers on two nodes at once: the second reads the first as a follower.
_SQL_LOCK_ROOMS = """
SELECT id FROM rooms WHERE name = ANY ($1::text[]) ORDER BY id FOR NO KEY UPDATE
"""


async def _append_once(conn: Any, batch: list[NewMessage]) -> list[Appended | ChatError]:
    """One attempt at a batch (asyncio side); see the module docstring. A batch with a
    thread reply (rare) runs in a transaction that locks its rooms first (see
    :data:`_SQL_LOCK_ROOMS`); every other batch as before threads."""
    plain = not any(m.reply_to is not None or m.mentions or m.files or m.group
                    or m.user_groups or m.thread is not None or m.poll is not None
                    or m.forwarded is not None for m in batch)
    if plain:
        return await _append_resolved(conn, batch, plain, False)
    if not any(m.thread is not None for m in batch):
        results = await _append_resolved(conn, batch, False, False)
        await _discard_copies(conn, batch, results)
        return results
    async with conn.transaction():
        await conn.execute(_SQL_LOCK_ROOMS, sorted({m.room for m in batch}))
        results = await _append_resolved(conn, batch, False, True)
        await _discard_copies(conn, batch, results)
        return results


async def _discard_copies(conn: Any, batch: list[NewMessage],
                          results: list[Appended | ChatError]) -> None:
    """A forward's files are copies made for it alone (``copy_files``): when its append is
    refused (the room archived or left meanwhile) or repeats one stored already (a retry
    that raced its first), they are deleted at once, instead of counting against the
    forwarder's quota until ``files.unattached_seconds`` expires them. Only a batch with such
    a forward runs a statement more (after its own, on its connection)."""
    copies = [file for m, result in zip(batch, results, strict=True)
              if m.forwarded is not None and m.files
              and (isinstance(result, ChatError) or result.duplicate) for file in m.files]
    if copies:
        await conn.execute(_SQL_DISCARD_COPIES, copies)


async def _append_resolved(conn: Any, batch: list[NewMessage], plain: bool,
                           threaded: bool) -> list[Appended | ChatError]:
    """Resolve and insert ``batch`` (the body of :func:`_append_once`): ``plain``, none has
    a reply, a mention, a file, a group or a thread; ``threaded``, some is a thread reply."""
    keys = ([m.user_id for m in batch], [m.room for m in batch], [m.nonce for m in batch])
    # (sender, nonce) -> its stored row, when one call both resolved and stored (plain
    # messages)
    one_trip: dict[tuple[int, str], Any] | None = None
    if plain and len(batch) == 1:
        lone = batch[0]
        row = await conn.fetchrow(_SQL_APPEND_LONE, lone.user_id, lone.room, lone.nonce,
                                  lone.text)
        rows = [row]  # what was resolved and, if stored, what was stored: one row
        one_trip = {} if row["id"] is None else {(row["sender_id"], row["nonce"]): row}
    elif plain and len(batch) <= ONE_TRIP_MAX:
        rows = await conn.fetch(_SQL_APPEND_ONE_TRIP, *keys, [m.text for m in batch])
        one_trip = {(row["sender_id"], row["nonce"]): row
                    for row in rows if row["id"] is not None}
        rows = [row for row in rows if row["id"] is None]
    elif plain:
        rows = await conn.fetch(_SQL_APPEND_RESOLVE_PLAIN, *keys)
    else:
        # Thread replies (rare) need their roots and followers: a statement of their own.
        rows = await conn.fetch(
            _SQL_APPEND_RESOLVE_THREAD if threaded else _SQL_APPEND_RESOLVE, *keys,
            [m.reply_to for m in batch],
            [" ".join(m.mentions) for m in batch],
            [" ".join(map(str, m.files)) for m in batch],
            *([[m.thread for m in batch]] if threaded else []),
        )
    results: list[Appended | ChatError | None] = [None] * len(batch)
    first: dict[tuple[int, str], int] = {}  # (sender, nonce) -> index of the input storing it
    duplicates: list[tuple[int, int]] = []  # (index, index of the input it repeats)
    new: list[tuple[int, int, Any]] = []  # (index, room id, resolved row) to insert
    claimed: set[int] = set()  # files attached by the batch's new messages so far
    files: dict[int, tuple[FileInfo, ...]] = {}  # index -> its files, by id
    for row in rows:
        index = row["idx"] - 1
        item = batch[index]
        key = (item.user_id, item.nonce)
        if row["e_id"] is not None:
            message = Message(
                room=row["e_room"],
                seq=row["e_seq"],
                msg_id=row["e_id"],
                sender=row["sender"],
                text=row["e_text"],
                ts=row["e_ts"],
                nonce=item.nonce,
            )
            results[index] = Appended(message=message, duplicate=True)
        elif key in first:
            duplicates.append((index, first[key]))
        elif row["room_id"] is None:
            results[index] = ChatError(codes.NOT_FOUND, f"there is no room {item.room!r}")
        elif not row["member"]:
            results[index] = ChatError(codes.FORBIDDEN, f"you are not a member of {item.room!r}")
        elif row["archived"]:
            results[index] = ChatError(codes.ARCHIVED, f"{item.room!r} is archived")
        elif item.reply_to is not None and row["q_id"] is None:
            results[index] = ChatError(
                codes.NOT_FOUND, f"there is no message {item.reply_to} in {item.room!r}")
        elif item.thread is not None and row["t_id"] is None:
            results[index] = ChatError(
                codes.NOT_FOUND, f"there is no message {item.thread} in {item.room!r}")
        elif item.thread is not None and not row["t_open"]:
            results[index] = ChatError(
                codes.NOT_FOUND, f"the thread of message {item.thread} in {item.room!r} was "
                "deleted: it takes no new replies")
        elif item.files and (refusal := _file_refusal(item, row["files"], claimed)):
            results[index] = refusal
        else:
            if item.files:
                found = json.loads(row["files"])
                claimed.update(item.files)
                files[index] = tuple(map(_file_info, found))
            first[key] = index
            new.append((index, row["room_id"], row))

    if new:
        # (a batch with no thread reply calls nothing more than it did before threads)
        mentioned = _thread_mentions(batch, new) if threaded else {}
        if one_trip is not None:
            stored_rows = {index: one_trip[key] for key, index in first.items()
                           if key in one_trip}
        else:
            stored_rows = await _insert_resolved(conn, batch, new, claimed, mentioned)
        followed = _followed(batch, new, stored_rows) if threaded else {}
        vanished: dict[int, bool] | None = None
        for index, room_id, resolved in new:
            item = batch[index]
            row = stored_rows.get(index)
            if row is None:
                # Archived or deleted between the two statements (the lock waited for it).
                if vanished is None:
                    vanished = {row["id"]: row["archived"] for row in await conn.fetch(
                        _SQL_ROOMS_ARCHIVED, sorted({r for _, r, _ in new}))}
                results[index] = (
                    ChatError(codes.ARCHIVED, f"{item.room!r} is archived")
                    if vanished.get(room_id) else
                    ChatError(codes.NOT_FOUND, f"there is no room {item.room!r}"))
                continue
            message = Message(
                room=item.room,
                seq=row["seq"],
                msg_id=row["id"],
                sender=resolved["sender"],
                text=item.text,
                ts=row["ts"],
                nonce=item.nonce,
                reply_to=item.reply_to,
                quote=json.loads(quote) if (quote := resolved.get("quote")) else None,
                # (a plain message calls nothing more than it did before threads)
                mentions=_with_groups(tuple(resolved.get("mentions") or ())
                                      if item.thread is None else mentioned[index], item),
                files=files.get(index, ()),
                thread=None if item.thread is None else resolved["t_id"],
                broadcast=item.broadcast,
                poll=None if item.poll is None else Poll(
                    options=tuple(PollOption(text=text) for text in item.poll.options),
                    multiple=item.poll.multiple),
                forwarded=item.forwarded,
            )
            results[index] = (Appended(message=message, duplicate=False,
                                       followed=followed.get(index, ()))
                              if followed else Appended(message=message, duplicate=False))

    for index, original in duplicates:
        outcome = results[original]
        if isinstance(outcome, Appended):
            results[index] = Appended(message=outcome.message, duplicate=True)
        else:
            results[index] = outcome
    assert all(result is not None for result in results)
    return results  # type: ignore[return-value]


def _with_groups(names: Sequence[str], item: NewMessage) -> tuple[str, ...]:
    """A new message's ``mentions`` as stored: the members it names, then the user groups
    it mentions as ``@name`` (:func:`chatd.storage.split_mentions`); no user's name has an
    ``@``, so the statements that join the names to users find no group."""
    if not item.user_groups:
        return tuple(names)
    return (*names, *(f"@{group}" for group in item.user_groups))


def _thread_mentions(batch: list[NewMessage], new: list[tuple[int, int, Any]]
                     ) -> dict[int, tuple[str, ...]]:
    """The names each thread reply of ``new`` (index, room id, resolved row) mentions, by
    index: the members its text names and the thread's followers (the sender aside), by
    lower-case name. The followers as the resolve step read them, and those the batch's
    earlier replies in the same thread made (their repliers; the members they named, unless
    they unfollowed it by hand), as if each reply were stored alone in input order."""
    mentioned: dict[int, tuple[str, ...]] = {}
    made: dict[int, dict[str, str]] = {}  # root -> lower-case name -> name, followed since
    for index, _, row in new:
        item = batch[index]
        if item.thread is None:
            continue
        named = tuple(row["mentions"] or ())
        root = row["t_id"]
        since = made.setdefault(root, {})
        sender = row["sender"]
        followers = {*(row["followers"] or ()), *since.values()}
        mentioned[index] = tuple(sorted({*named, *(f for f in followers
                                                    if f.lower() != sender.lower())},
                                        key=str.lower))
        unfollowed = set(row["unfollowed"] or ())
        since.update({name.lower(): name for name in named if name.lower() not in unfollowed})
        since[sender.lower()] = sender
    return mentioned


def _followed(batch: list[NewMessage], new: list[tuple[int, int, Any]],
              stored: dict[int, Any]) -> dict[int, tuple[ThreadState, ...]]:
    """The follows the batch's thread replies changed, from the insert's rows
    (:data:`_FOLLOWED`), each given to the stored reply of its room that is latest in seq."""
    rows = [row for row in stored.values() if row.get("followed")]
    if not rows:
        return {}
    rooms = {room_id: batch[index].room for index, room_id, _ in new}
    latest: dict[int, int] = {}  # root -> index of its latest stored reply
    for index, _, resolved in new:
        row = stored.get(index)
        if row is None or batch[index].thread is None:
            continue
        root = resolved["t_id"]
        if root not in latest or stored[latest[root]]["seq"] < row["seq"]:
            latest[root] = index
    followed: dict[int, list[ThreadState]] = collections.defaultdict(list)
    for user, room_id, root, following, read_seq in json.loads(rows[0]["followed"]):
        followed[latest[root]].append(ThreadState(
            user=user, room=rooms[room_id], msg_id=root, following=following,
            read_seq=read_seq))
    return {index: tuple(states) for index, states in followed.items()}


async def _insert_resolved(conn: Any, batch: list[NewMessage], new: list[tuple[int, int, Any]],
                           claimed: set[int], mentioned: dict[int, tuple[str, ...]]
                           ) -> dict[int, Any]:
    """Step 2 of appending messages that are not all plain: insert the resolved ``new``
    (index, room id, resolved row); the stored row of each index stored (an index missing:
    its room was archived or deleted since step 1)."""
    arguments: tuple[list[Any], ...] = (
        [room_id for _, room_id, _ in new],
        [batch[index].user_id for index, _, _ in new],
        [batch[index].nonce for index, _, _ in new],
        [batch[index].text for index, _, _ in new],
        [batch[index].reply_to for index, _, _ in new],
        [" ".join(_with_groups(mentioned.get(index) or row["mentions"] or (), batch[index]))
         for index, _, row in new],
        [" ".join(map(str, batch[index].files)) for index, _, _ in new],
    )
    # Replies and mentions need the insert's columns for them; files their transaction; group
    # mentions and thread replies (rare) statements of their own, with their members' ids,
    # and their roots.
    grouped = any(batch[index].group for index, _, _ in new)
    if grouped:
        arguments += ([" ".join(map(str, batch[index].group)) for index, _, _ in new],)
    threaded = any(batch[index].thread is not None for index, _, _ in new)
    if threaded:
        arguments += (
            [None if batch[index].thread is None else row["t_id"] for index, _, row in new],
            [batch[index].broadcast for index, _, _ in new],
            # the text's own mentions (the others are the followers': by_follow)
            [" ".join(row["mentions"] or ()) for _, _, row in new],
        )
    # Polls (rare): the statements' poll variants, with the polls as JSON ('' for none).
    polled = any(batch[index].poll is not None for index, _, _ in new)
    if polled:
        arguments += ([_poll_json(batch[index].poll) for index, _, _ in new],)
    # Forwards (rare): the statements' forward variants, with the forwarded objects as JSON.
    forwarded = any(batch[index].forwarded is not None for index, _, _ in new)
    if forwarded:
        arguments += ([_forwarded_json(batch[index].forwarded) for index, _, _ in new],)
    extras = grouped or threaded or polled or forwarded or any(
        batch[index].reply_to is not None or row["mentions"] or batch[index].user_groups
        for index, _, row in new)
    if not claimed and not extras:
        inserted = await conn.fetch(_SQL_APPEND_INSERT_PLAIN, *arguments[:4])
    elif not claimed:
        inserted = await conn.fetch(
            _forward_insert(polled, grouped, threaded, False) if forwarded else
            (_POLL_INSERTS if polled else _INSERTS)[grouped, threaded], *arguments)
    else:
        async with conn.transaction():
            inserted = await conn.fetch(
                _forward_insert(polled, grouped, threaded, True) if forwarded else
                (_POLL_INSERTS_FILES if polled else _INSERTS_FILES)[grouped, threaded],
                *arguments)
            if inserted and inserted[0]["attached"] != len(claimed):
                raise _FilesRaced  # rolls the batch back; it is tried again
    # Per room, seqs were given in input order: match them up by sorting on seq.
    stored: dict[int, collections.deque[Any]] = collections.defaultdict(collections.deque)
    for row in sorted(inserted, key=lambda row: (row["room_id"], row["seq"])):
        stored[row["room_id"]].append(row)
    return {index: stored[room_id].popleft()
            for index, room_id, _ in new if stored[room_id]}


def _poll_json(poll: NewPoll | None) -> str:
    """A new message's poll as the insert's poll variants take it: JSON, '' for none."""
    if poll is None:
        return ""
    return json.dumps({"options": list(poll.options), "multiple": poll.multiple},
                      ensure_ascii=False)


# -- opening and closing ----------------------------------------------------------------------


def _is_running(embedded: EmbeddedPostgres) -> bool:
    return embedded.running


def _is_closed(conn: Any) -> bool:
    """Whether pool connection ``conn`` is closed (asyncpg detaches a proxy from a connection
    that closes, and gives that back to the pool itself: the proxy then raises)."""
    try:
        return bool(conn.is_closed())
    except asyncpg.InterfaceError:
        return True


class _TerminatingPool:
    """The asyncpg pool, with the methods the storage uses, whose connections are terminated
    rather than waited on when a call is cancelled or times out (see the module docstring).
    Asyncio side, but for the two size getters."""

    def __init__(self, pool: Any, keep: int = 0) -> None:
        self.pool = pool
        # Connections kept out of the pool between the appends (see run_kept), at most
        # `keep`: the rest of the pool always serves everything else.
        self._kept: list[Any] = []
        self._keep = keep
        # The server pid of each connection out of the pool with run_kept (kept, or in a
        # call), read once when it leaves the pool.
        self._pids: dict[Any, int] = {}
        # The server pids of the connections lost in the middle of an append, whose
        # transactions' outcome is unknown until their backends are done (see
        # PostgresStorage._settle_lost, which forgets them), oldest first. At most LOST_MAX:
        # a server that keeps dropping connections does not make it grow for ever.
        self.lost: dict[int, None] = {}

    def get_size(self) -> int:
        return int(self.pool.get_size())

    def get_idle_size(self) -> int:
        return int(self.pool.get_idle_size()) + len(self._kept)

    async def run_kept(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """``fn(conn, *args)`` on a connection that stays out of the pool between calls.

        The send path's own: a pool's acquire and release (a proxy object, a shielded task,
        an inactivity timer, a second round of the loop before the caller sees its result)
        were a tenth of the daemon's CPU per message at everyday load
        (benchmarks/README.md). At most ``keep`` connections are kept (the others go back
        to the pool): a pool of one keeps none, so that nothing else ever waits for one the
        send path sits on. A connection found closed (the server restarted, or ended its
        backend) goes back to the pool, which connects again. A call that fails gives its
        connection back to the pool, as :meth:`acquire` does (terminated if it was
        cancelled or timed out), so that what is kept is always between transactions.
        A call that ends with its connection closed (cut, timed out, cancelled) leaves the
        connection's server pid in :attr:`lost`: its transaction may yet commit. The pid is
        read once a connection, when it leaves the pool (nothing more per call while it is
        kept): a lost connection can no longer tell it (asyncpg detaches it at once)."""
        kept = self._kept
        conn = None
        while kept:
            conn = kept.pop()
            try:
                closed = conn.is_closed()
            except asyncpg.InterfaceError:  # closed, and given back to the pool by asyncpg
                del self._pids[conn]
                conn = None
                continue
            if not closed:
                break
            del self._pids[conn]
            await self.pool.release(conn)
            conn = None
        if conn is None:
            conn = await self.pool.acquire()
            self._pids[conn] = conn.get_server_pid()
        try:
            result = await fn(conn, *args)
        except BaseException as exc:
            if isinstance(exc, (asyncio.CancelledError, TimeoutError)):
                conn.terminate()
            pid = self._pids.pop(conn)
            if _is_closed(conn):  # lost in the middle: its backend may still be committing
                if len(self.lost) >= LOST_MAX:
                    del self.lost[next(iter(self.lost))]
                self.lost[pid] = None
            await self.pool.release(conn)
            raise
        if len(kept) < self._keep and not conn.is_in_transaction():  # (never in one, by design)
            kept.append(conn)
        else:
            del self._pids[conn]
            await self.pool.release(conn)
        return result

    async def release_kept(self) -> None:
        """Give the kept connections back, so that the pool can close."""
        while self._kept:
            conn = self._kept.pop()
            del self._pids[conn]
            await self.pool.release(conn)

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        """A pool connection for the block; terminated on the way out if the block was
        cancelled or timed out: the server may never answer that connection again."""
        conn = await self.pool.acquire()
        try:
            yield conn
        except (asyncio.CancelledError, TimeoutError):
            conn.terminate()
            raise
        finally:
            await self.pool.release(conn)

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        async with self.acquire() as conn:
            return await conn.fetch(query, *args)  # type: ignore[no-any-return]

    async def fetchrow(self, query: str, *args: Any) -> Any:
        async with self.acquire() as conn:
            return await conn.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        async with self.acquire() as conn:
            return await conn.fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> str:
        async with self.acquire() as conn:
            return await conn.execute(query, *args)  # type: ignore[no-any-return]


async def _no_session_state_to_reset(conn: Any) -> None:
    """Pool reset hook: nothing to do, on purpose.

    asyncpg's default reset sends ``RESET ALL; UNLISTEN *; ...`` each time a connection goes
    back to the pool: one more round trip per call, which at this bridge's call rates costs a
    third of the throughput. The pool still rolls back a transaction left open (asyncpg does
    that before calling this hook). That is enough because pooled connections never carry
    session state here: no SET, no LISTEN, no session-level advisory lock, no cursor outside a
    transaction. Code that needs such state must take a connection of its own (as LISTEN does
    anyway), or restore the default (``reset=None``).
    """


async def _create_pool(dsn: str, config: Config, node: str) -> Any:
    """Asyncio side. ``min_size=1``: connections open as load needs them, then stay.
    ``application_name`` names the node in the commit notices (migration 0003). Statements
    are bounded on both ends by ``[database] statement_timeout`` (see the module docstring)."""
    database = config.database
    return await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=database.pool_size,
        timeout=database.connect_timeout,
        command_timeout=database.statement_timeout,
        reset=_no_session_state_to_reset,
        server_settings={
            "application_name": node,
            "statement_timeout": str(round(database.statement_timeout * 1000)),
        },
    )


async def _listen(dsn: str, callback: Callable[..., None], connect_timeout: float) -> Any:
    """Asyncio side: a connection of its own (LISTEN is session state, which pooled
    connections must not hold) listening on the commit channel."""
    conn = await asyncpg.connect(dsn, timeout=connect_timeout, command_timeout=connect_timeout,
                                 server_settings={"application_name": "chatd-listener"})
    try:
        await conn.add_listener(COMMIT_CHANNEL, callback)
        await conn.add_listener(MEMBERS_CHANNEL, callback)
        await conn.add_listener(REVOCATIONS_CHANNEL, callback)
        await conn.add_listener(LEVELS_CHANNEL, callback)
        await conn.add_listener(DND_CHANNEL, callback)
        await conn.add_listener(PROFILES_CHANNEL, callback)
        await conn.add_listener(PRESENCE_CHANNEL, callback)
        await conn.add_listener(ROOMS_CHANNEL, callback)
        await conn.add_listener(TARGETS_CHANNEL, callback)
        await conn.add_listener(USER_EVENTS_CHANNEL, callback)
        await conn.add_listener(REMINDERS_CHANNEL, callback)
    except BaseException:
        conn.terminate()
        raise
    return conn


async def _until_lost(conn: Any) -> None:
    """Asyncio side: return when the listening connection is gone."""
    lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def terminated(_conn: Any) -> None:
        if not lost.done():
            lost.set_result(None)

    conn.add_termination_listener(terminated)
    if conn.is_closed():
        return
    await lost


async def _close_listener(conn: Any) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(conn.close(), CLOSE_TIMEOUT)
    conn.terminate()


async def _migrate_dsn(dsn: str, connect_timeout: float = CONNECT_TIMEOUT) -> list[int]:
    """Asyncio side: migrate on a connection of its own, without the pool's statement timeout
    (a migration may rewrite a large table)."""
    conn = await asyncpg.connect(dsn, timeout=connect_timeout)
    try:
        return await apply_migrations(conn)
    finally:
        await conn.close()


async def _close_pool(pool: Any) -> None:
    try:
        await asyncio.wait_for(pool.close(), CLOSE_TIMEOUT)
    except TimeoutError:
        log.warning("database connections still busy after %.0f s: cutting them", CLOSE_TIMEOUT)
        pool.terminate()


async def _release(
    bridge: AsyncioBridge | None, pool: Any, embedded: EmbeddedPostgres | None
) -> None:
    """Close what was opened, innermost first; a failure in one step does not skip the next."""
    if bridge is not None:
        if pool is not None:
            try:
                await bridge.run(_close_pool, pool)
            except Exception:
                log.exception("closing the database pool failed")
        await bridge.aclose()
    if embedded is not None:
        await embedded.aclose()


async def _start_server(config: Config) -> tuple[str, EmbeddedPostgres | None]:
    """The DSN to connect to: the configured one, or the embedded server's (started here)."""
    if config.database.dsn:
        return config.database.dsn, None
    embedded = await start_embedded(config.data_dir)
    return embedded.uri, embedded


def _unavailable(dsn: str, exc: BaseException) -> StorageUnavailable:
    return StorageUnavailable(f"cannot use PostgreSQL at {_redact(dsn)}: {exc!r}")


async def _connect(config: Config) -> PostgresStorage:
    """Start everything :func:`open_storage` needs; on failure release what was started."""
    bridge: AsyncioBridge | None = None
    pool: Any = None
    embedded: EmbeddedPostgres | None = None
    try:
        dsn, embedded = await _start_server(config)
        bridge = AsyncioBridge()
        try:
            node = f"chatd-{uuid.uuid4().hex[:12]}"
            applied = await bridge.run(_migrate_dsn, dsn, config.database.connect_timeout)
            pool = await bridge.run(_create_pool, dsn, config, node)
        except _UNAVAILABLE as exc:
            raise _unavailable(dsn, exc) from exc
        if applied:
            log.info("database schema migrated to version %d", applied[-1])
        return PostgresStorage(bridge, pool, embedded=embedded, dsn=dsn, node=node,
                               config=config)
    except BaseException:
        with trio.CancelScope(shield=True):
            await _release(bridge, pool, embedded)
        raise


async def _purge_at_start(storage: PostgresStorage) -> None:
    """Finish deleting the rooms a crash left as tombstones (nothing waits for it)."""
    try:
        purged = await storage.purge_deleted_rooms()
    except StorageUnavailable as exc:
        log.warning("cannot purge deleted rooms: %s", exc)
        return
    if purged:
        log.info("purged %d deleted room(s) left by an earlier run", purged)


@asynccontextmanager
async def open_storage(config: Config) -> AsyncIterator[Storage]:
    """The storage for ``config``, open for the duration of the block.

    With an empty ``database.dsn``, starts (or attaches to) the embedded PostgreSQL in
    ``<data_dir>/postgres``; otherwise connects to the DSN as given (any form asyncpg accepts,
    e.g. ``postgresql://chatd@/chatd?host=/run/postgresql``). Opens a pool of
    ``database.pool_size`` connections and applies pending migrations before yielding, and
    runs :meth:`PostgresStorage.watch` while open. On exit, even when cancelled, closes the
    pool, the storage's event loop and the embedded server.

    Raises:
        StorageUnavailable: the database cannot be started or reached, or migrating failed.
    """
    storage = await _connect(config)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(storage.watch)
            nursery.start_soon(_purge_at_start, storage)
            try:
                yield storage
            finally:
                nursery.cancel_scope.cancel()
    finally:
        await storage.aclose()


async def migrate(config: Config) -> list[int]:
    """Apply pending migrations to the configured database and return the versions applied
    (empty when up to date), for ``chatd migrate``. Safe while other nodes run or start.

    Raises:
        StorageUnavailable: the database cannot be started or reached, or migrating failed.
    """
    dsn, embedded = await _start_server(config)
    bridge: AsyncioBridge | None = None
    try:
        bridge = AsyncioBridge()
        try:
            return await bridge.run(_migrate_dsn, dsn)
        except _UNAVAILABLE as exc:
            raise _unavailable(dsn, exc) from exc
    finally:
        with trio.CancelScope(shield=True):
            await _release(bridge, None, embedded)
