"""Changes to a room (edits, deletions, reactions, link previews, its topic, and moderating
its members) as entries of the room's log; and who may make each, decided here and nowhere
else.

Asyncio side of :meth:`chatd.storage.postgres.PostgresStorage.append_messages`: one
transaction per batch of changes, on one pooled connection.

Theory of operation. A change is checked against the message as it is, and two changes to one
message may come from two nodes at once; so the transaction first locks the rooms involved
(in id order, ``FOR NO KEY UPDATE``, as appending messages does: the same lock, so messages
and changes of a room take their seqs from ``rooms.last_seq`` one transaction at a time, and
two nodes cannot deadlock). Under that lock it reads what the changes touch (the messages,
the actors and the members moderated, the reactions, the names an edit mentions), decides each
change in batch order in Python, against the state the changes before it in the batch left,
and writes the result in one statement whatever the batch's size (the entries, the rooms' new
``last_seq``, whose trigger tells the other nodes, the messages' new state, the reactions),
plus one for each rare kind of change it holds (a topic, a deletion, mentions to change,
moderation, the audit log): about five round trips a batch. A change that changes nothing
takes no seq and writes nothing.

Deleting a message removes its words: the row's text and search words, the text of its
earlier edits (kept in ``changes`` until then, as the log entries that carried them), its
mentions and reactions; and its pin, with no entry of its own (the ``deleted`` entry says
it), the room's count of pins (``rooms.pins``, written with its ``last_seq``) one less.
Editing one leaves its search words to be indexed again (chatd/indexer.py), and keeps the
text the edit replaced on the edit's own entry (``changes.replaced``, migration 0045; written
by :data:`_SQL_WRITE_EDITS`, the batch statement's variant run only by a batch that edits), so
that every version of a message is known (``Storage.edit_history``); a deletion empties those
with the rest of its words.

Who may (:func:`_refusal`, :func:`_moderation_refusal`; docs/protocol.md says the same):

- edit a message: its author;
- delete one: its author, or whoever *moderates* the room;
- react: a member;
- pin and unpin: a member (as in Slack and Mattermost), up to the limit the change carries
  (``limits.pins_per_room``) pinned at once;
- vote on a poll: a member, while it is open (migration 0036); close it: its author, or
  whoever moderates the room;
- remove a message's link preview: its author, or whoever moderates the room (the server
  makes previews: chatd.previews);
- set the topic, ban, unban, kick: whoever moderates the room;
- set a role (hand the room over with ``owner``): the owner, or an administrator;
- archive or unarchive a room: its owner, or an administrator (never a conversation);
- purge a user's recent messages from a room: whoever moderates it, or, in a 1:1
  conversation, an administrator (deactivating an account with its messages); and the
  operator, from the command line (:data:`~chatd.storage.COMMAND_LINE`).

A purge (kind ``"purge"``: a ban with ``delete_messages``, a deactivation with it) finds,
under the room's lock, the messages its target sent to the room in the last ``within``
seconds and not deleted yet, newest first, at most ``limit``, and deletes each exactly as a
``delete`` by the purger would: one ``deleted`` entry per message, with a seq of the room's
log, so members and resumes learn each once. Its outcome carries the entries
(``Appended.entries``), which the committer publishes; the audit log gets one ``purge`` row
with their count, not one per message. A purge from the command line has no account to name:
its entries name the messages' author as ``by`` (``changes.actor_id`` is never null), and its
audit row has no actor, as every command-line action's.

While a room is archived (``rooms.archived``, read under the lock) it is read-only: edits,
reactions, pins, votes, closing a poll and a new topic are refused with ``archived``;
deleting messages and moderating members still work.

Whoever moderates a room is its owner (``rooms.owner_id``, member or not), its moderators
(``memberships.role``), and every server administrator (``users.admin``, read here, in the
transaction: never from a session's copy); nobody moderates a 1:1 conversation. Banning and
kicking also need to outrank the target (administrator > owner > moderator > member): a
moderator cannot remove another, an owner cannot remove an administrator. Nobody bans or
kicks themselves (``leave``), nor the room's owner: the owner's role changes only when the
room is handed over (``set_role`` with ``owner`` to another member; the old owner becomes a
moderator), so a room always has its owner, and a room whose owner is deactivated is still
moderated by its moderators and the administrators.

A ban removes a member at once and keeps them out: ``join_room`` and ``invite`` check it.
A join racing a ban must not slip in between the ban's read of the memberships and its
commit, so a batch that bans takes an exclusive advisory lock per room (:data:`BANS_LOCK`
plus the room's id) after the room's lock, and a join or an invitation takes it shared around
its check and its insert: one waits for the other's commit, and either the join comes first
(and the ban removes the new member) or it sees the ban.

Every moderation change, a deletion of someone else's message and a topic is also a row of
``audit_log``, written in the same transaction.

A link preview (migration 0026) is made by the server after it fetched the page of a
message's first link (chatd.previews), as a change of kind ``"preview"`` naming the link it
was made for. It is stored only while that link is still the text's first (an edit may have
changed it meanwhile: then the edit's own preview follows) and no preview was decided for it
yet (``messages.preview_url``): so one removed by its author (``"unpreview"``) stays
removed until an edit changes the link. Its picture, when it has one, becomes a row of
``files`` (``preview``), the old one's row marked deleted; the message's preview and the
entry's are written with the file's id. Both take two more statements, only in a batch that
stores a preview. A deletion takes the preview away with the words: from the message and
from its preview entries.

A poll (migration 0036) is read under the lock only for a batch that votes on one or closes
one (:data:`_SQL_POLLS`): its options' count, whether it takes several, whether it is closed,
and the choices of the batch's voters. A vote is the voter's whole choice (sorted indexes;
none: the vote taken back), stored as one row per voter with the seq of the entry that set it
(a client replaces the voter's choice with the entry's); the same choice again stores
nothing. Those writes (the votes, the entries' choices, the closing) are one more statement,
only in a batch that has them; a deletion takes the poll and its votes with the words.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from chatd.errors import ChatError
from chatd.protocol import codes
from chatd.protocol.markup import first_link, mention_candidates
from chatd.storage.base import (
    COMMAND_LINE,
    MAX_REACTIONS,
    MODERATION_KINDS,
    PURGE_MAX,
    Appended,
    Message,
    NewChange,
    Preview,
    PreviewImage,
)
from chatd.storage.sql import ms as _ms
from chatd.storage.sql import ts as _ts

__all__ = ["BANS_LOCK", "apply_changes", "outranks", "preview_from_json", "preview_json"]

#: The advisory lock (``pg_advisory_xact_lock``, one bigint) of a room's bans is this plus
#: the room's id: a ban takes it exclusive, a join or an invitation shared ("ban" in ASCII,
#: shifted past any room id chatd will see, and far from the migrations' key).
BANS_LOCK = 0x62_61_6E << 40

#: Where a role ranks when banning and kicking: one must outrank the target.
_RANKS = {"member": 0, "moderator": 1, "owner": 2}
_ADMIN_RANK = 3


_SQL_LOCK_ROOMS = """
SELECT id, name, kind, owner_id, last_seq, topic, archived, pins FROM rooms
WHERE name = ANY ($1::text[]) AND deleted_at IS NULL
ORDER BY id FOR NO KEY UPDATE
"""
# Taken by a batch that bans, after the rooms' locks (see the module's docstring).
_SQL_LOCK_BANS = f"""
SELECT pg_advisory_xact_lock({BANS_LOCK} + id) FROM unnest($1::bigint[]) AS id ORDER BY id
"""
# Taken after the locks, so that an entry's ts follows its seq within a room.
_SQL_NOW = f"SELECT {_ms('clock_timestamp()')}"
# The messages the batch changes, and the reactions of those it reacts to ($2), in the order
# a message object lists them (as arrays: decoding them costs less than JSON); whether each is
# pinned (only a message changed before can be: its rev is set).
_SQL_MESSAGES = """
SELECT m.id, m.room_id, m.seq, m.sender_id, m.text, m.rev, m.deleted_at IS NOT NULL AS deleted,
       m.mentions, x.emojis, x.users, x.sinces, m.preview, m.preview_url,
       m.rev IS NOT NULL AND EXISTS (SELECT 1 FROM pins p WHERE p.message_id = m.id) AS pinned
FROM messages m LEFT JOIN LATERAL (
    SELECT array_agg(x.emoji ORDER BY x.since, x.seq) AS emojis,
           array_agg(x.user_id ORDER BY x.since, x.seq) AS users,
           array_agg(x.since ORDER BY x.since, x.seq) AS sinces
    FROM reactions x WHERE x.message_id = m.id AND m.id = ANY ($2::bigint[])
) x ON true
WHERE m.id = ANY ($1::bigint[])
"""
# The messages a purge deletes: those user $2 (a lower-cased name) sent to room $1 since $3
# (ms) and not deleted yet, newest first, $4 at most (by the index on (sender_id, nonce)).
_SQL_PURGED = f"""
SELECT m.id FROM messages m
WHERE m.sender_id = (SELECT id FROM users WHERE lower(name) = $2 LIMIT 1)
  AND m.room_id = $1 AND m.deleted_at IS NULL AND m.created_at >= {_ts("$3")}
ORDER BY m.seq DESC LIMIT $4
"""
# The users acting in rooms (and a room's owner, when its roles change): their name, whether
# they are an administrator, and their role in the room (NULL: not a member). Each a probe by
# key (the LATERALs with LIMIT 1 keep the planner from hashing whole tables).
_SQL_PEOPLE = """
SELECT v.room_id, v.user_id AS id, u.name, u.admin, m.role
FROM unnest($1::bigint[], $2::bigint[]) AS v(room_id, user_id)
CROSS JOIN LATERAL (SELECT name, admin FROM users WHERE id = v.user_id LIMIT 1) u
LEFT JOIN LATERAL (
    SELECT role FROM memberships WHERE room_id = v.room_id AND user_id = v.user_id LIMIT 1
) m ON true
"""
# The users a moderation change names ($2: lower-cased names, in rooms $1), with their role
# and their ban in force, if any.
_SQL_TARGETS = f"""
SELECT v.room_id, u.id, u.name, u.admin, m.role, b.reason, b.banned,
       {_ms("b.expires_at")} AS expires_at
FROM unnest($1::bigint[], $2::text[]) AS v(room_id, key)
CROSS JOIN LATERAL (SELECT id, name, admin FROM users WHERE lower(name) = v.key LIMIT 1) u
LEFT JOIN LATERAL (
    SELECT role FROM memberships WHERE room_id = v.room_id AND user_id = u.id LIMIT 1
) m ON true
LEFT JOIN LATERAL (
    SELECT true AS banned, reason, expires_at FROM bans
    WHERE room_id = v.room_id AND user_id = u.id
      AND (expires_at IS NULL OR expires_at > now())
    LIMIT 1
) b ON true
"""
# The members of rooms $1 whose lower-cased name is in $2: whom an edit's text may mention.
_SQL_MENTIONABLE = """
SELECT um.room_id, lower(u.name) AS key, u.id, u.name
FROM users u JOIN memberships um ON um.user_id = u.id
WHERE um.room_id = ANY ($1::bigint[]) AND lower(u.name) = ANY ($2::text[])
"""
# What every batch writes, in one statement (one round trip): the entries ($1-$9, at $10 ms,
# with $28-$29 for moderation's), the rooms' new last_seq ($11-$12), the messages' new rev
# ($13-$14) and, for those edited or deleted, their text, words and mentions ($15-$19), the
# reactions put ($20-$24) and taken back ($25-$27). An edit leaves the message's words to the
# indexer (NULL: not indexed, found by no word until the indexer has run, so never by a word
# the edit took away); a deletion empties them for good (migration 0011). Each part is a
# data-modifying CTE over arrays of its own, empty when the batch has none of it; no two parts
# touch the same row. A reaction put again by the same user takes its new place (seq, since).
# The rooms' pins ($30) go with their last_seq: every change to them moves it.
# A batch that edits a message runs the variant with the entries' replaced text ($31, NULL
# but for edits; migration 0045), so that every version of a message is known; a batch of
# reactions, pins or votes runs the plain one, as it did before there was a variant. Both
# come from the one text below, the variant's column in its slots, so they cannot drift.


def _write_statement(*, edits: bool) -> str:
    """The batch's write statement: with ``edits``, the entries' ``replaced`` column too."""
    replaced, replaced_in = (", replaced", ", $31::text[]") if edits else ("", "")
    return f"""
WITH entries AS (
    INSERT INTO changes (room_id, seq, message_id, actor_id, kind, text, mentions, emoji,
                         reaction_on, created_at, target_id, expires_at{replaced})
    SELECT room_id, seq, message_id, actor_id, kind, text,
           CASE WHEN kind = 'edited' THEN string_to_array(mentions, ' ') END, emoji,
           reaction_on, {_ts("$10")}, target_id, {_ts("expires_at")}{replaced}
    FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[],
                $6::text[], $7::text[], $8::text[], $9::boolean[], $28::bigint[],
                $29::bigint[]{replaced_in})
        AS v(room_id, seq, message_id, actor_id, kind, text, mentions, emoji, reaction_on,
             target_id, expires_at{replaced})
), bumped AS (
    UPDATE rooms r SET last_seq = v.last_seq, pins = v.pins
    FROM unnest($11::bigint[], $12::bigint[], $30::integer[]) AS v(id, last_seq, pins)
    WHERE r.id = v.id
), touched AS (
    UPDATE messages m SET
        rev = v.rev, text = coalesce(w.text, m.text),
        words = CASE WHEN w.deleted THEN ''::tsvector WHEN w.edited THEN NULL
                     ELSE m.words END,
        mentions = coalesce(string_to_array(w.mentions, ' '), m.mentions),
        edited_at = CASE WHEN w.edited THEN {_ts("$10")} ELSE m.edited_at END,
        deleted_at = CASE WHEN w.deleted THEN {_ts("$10")} ELSE m.deleted_at END
    FROM unnest($13::bigint[], $14::bigint[]) AS v(id, rev)
        LEFT JOIN unnest($15::bigint[], $16::text[], $17::boolean[], $18::boolean[],
                         $19::text[]) AS w(id, text, edited, deleted, mentions)
        ON w.id = v.id
    WHERE m.id = v.id
), put AS (
    INSERT INTO reactions (message_id, emoji, user_id, seq, since, created_at)
    SELECT message_id, emoji, user_id, seq, since, {_ts("$10")}
    FROM unnest($20::bigint[], $21::text[], $22::bigint[], $23::bigint[], $24::bigint[])
        AS v(message_id, emoji, user_id, seq, since)
    ON CONFLICT (message_id, emoji, user_id)
        DO UPDATE SET seq = EXCLUDED.seq, since = EXCLUDED.since
), taken AS (
    DELETE FROM reactions x
    USING unnest($25::bigint[], $26::text[], $27::bigint[]) AS v(m, e, u)
    WHERE x.message_id = v.m AND x.emoji = v.e AND x.user_id = v.u
)
SELECT 1
"""


_SQL_WRITE = _write_statement(edits=False)
_SQL_WRITE_EDITS = _write_statement(edits=True)

_SQL_ARCHIVED = """
UPDATE rooms r SET archived = v.archived
FROM unnest($1::bigint[], $2::boolean[]) AS v(id, archived) WHERE r.id = v.id
"""
_SQL_TOPIC = """
UPDATE rooms r SET topic = v.topic
FROM unnest($1::bigint[], $2::text[]) AS v(id, topic) WHERE r.id = v.id
"""
# A deleted message's reactions, pin, poll (with its votes) and has:link row (migration
# 0050) go, its edits' words (the new
# and the replaced: migration 0045) and a
# forward's forwarded text (migration 0039) go, and
# its files are no longer served nor counted against their uploader's quota (the bytes stay on
# disk while another kept row refers to them).
_SQL_FORGET = """
WITH gone AS (
    DELETE FROM reactions WHERE message_id = ANY ($1::bigint[])
), unpinned AS (
    DELETE FROM pins WHERE message_id = ANY ($1::bigint[])
), unpolled AS (
    DELETE FROM polls WHERE message_id = ANY ($1::bigint[])
), unlinked AS (
    DELETE FROM message_links WHERE message_id = ANY ($1::bigint[])
), files_gone AS (
    UPDATE files SET deleted_at = now()
    WHERE message_id = ANY ($1::bigint[]) AND deleted_at IS NULL
), unforwarded AS (
    UPDATE messages SET forwarded = NULL
    WHERE id = ANY ($1::bigint[]) AND forwarded IS NOT NULL
)
UPDATE changes SET text = '', mentions = NULL, replaced = NULL
WHERE message_id = ANY ($1::bigint[]) AND kind = 'edited'
"""
# The pins a batch put ($1-$4, at $5 ms; one pinned again takes its new seq) and took back
# ($6), each message's last word (migration 0024).
_SQL_PINS = f"""
WITH put AS (
    INSERT INTO pins (message_id, room_id, seq, by_id, created_at)
    SELECT message_id, room_id, seq, by_id, {_ts("$5")}
    FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[])
        AS v(message_id, room_id, seq, by_id)
    ON CONFLICT (message_id) DO UPDATE
    SET seq = EXCLUDED.seq, by_id = EXCLUDED.by_id, created_at = EXCLUDED.created_at
)
DELETE FROM pins WHERE message_id = ANY ($6::bigint[])
"""
# The polls a batch votes on or closes ($1), and the choices of its voters ($2, $3: (poll,
# voter) pairs), read under the rooms' lock (migration 0036).
_SQL_POLLS = """
SELECT p.message_id, cardinality(p.options) AS options, p.multiple, p.closed_seq IS NOT NULL
       AS closed, (
           SELECT json_agg(json_build_array(v.user_id, v.options))
           FROM poll_votes v JOIN unnest($2::bigint[], $3::bigint[]) AS w(message_id, user_id)
               ON v.message_id = w.message_id AND v.user_id = w.user_id
           WHERE v.message_id = p.message_id
       ) AS votes
FROM polls p WHERE p.message_id = ANY ($1::bigint[])
"""
# What a batch's votes and closings write: each (poll, voter)'s last choice ($1-$4: put, with
# the seq that set it, as JSON arrays; taken back: none), the 'voted' entries' choices
# ($5-$7), and the polls closed ($8-$10, at $11 ms).
_SQL_POLL_WRITE = f"""
WITH put AS (
    INSERT INTO poll_votes (message_id, user_id, options, seq)
    SELECT message_id, user_id,
           ARRAY(SELECT json_array_elements_text(options::json))::smallint[], seq
    FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[])
        AS v(message_id, user_id, options, seq)
    WHERE options <> '[]'
    ON CONFLICT (message_id, user_id) DO UPDATE
    SET options = EXCLUDED.options, seq = EXCLUDED.seq
), taken AS (
    DELETE FROM poll_votes x
    USING unnest($1::bigint[], $2::bigint[], $3::text[]) AS v(message_id, user_id, options)
    WHERE v.options = '[]' AND x.message_id = v.message_id AND x.user_id = v.user_id
), chosen AS (
    UPDATE changes c
    SET choice = ARRAY(SELECT json_array_elements_text(v.options::json))::smallint[]
    FROM unnest($5::bigint[], $6::bigint[], $7::text[]) AS v(room_id, seq, options)
    WHERE c.room_id = v.room_id AND c.seq = v.seq
)
UPDATE polls p SET closed_seq = v.seq, closed_by = v.by_id, closed_at = {_ts("$11")}
FROM unnest($8::bigint[], $9::bigint[], $10::bigint[]) AS v(message_id, seq, by_id)
WHERE p.message_id = v.message_id
"""
# A batch's previews (migration 0026), each message's last: first their pictures, the old ones
# marked deleted and the new ones added as files of the messages' rooms (uploaded by their
# authors), then the messages' previews and the entries', with the files' ids.
_SQL_PREVIEW_FILES = """
WITH gone AS (
    UPDATE files SET deleted_at = now()
    WHERE message_id = ANY ($1::bigint[]) AND preview AND deleted_at IS NULL
)
INSERT INTO files (sha256, size, name, content_type, uploader_id, room_id, message_id,
                   width, height, thumb_sha256, thumb_width, thumb_height, preview)
SELECT sha256, size, 'preview.webp', 'image/webp', uploader_id, room_id, message_id,
       width, height, sha256, width, height, true
FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[],
            $7::integer[], $8::integer[])
    AS v(message_id, room_id, uploader_id, sha256, size, width, height)
RETURNING id, message_id
"""
_SQL_PREVIEWS = """
WITH shown AS (
    UPDATE messages m SET preview = v.preview::jsonb, preview_url = v.url
    FROM unnest($1::bigint[], $2::text[], $3::text[]) AS v(id, preview, url)
    WHERE m.id = v.id
)
UPDATE changes c SET preview = v.preview::jsonb
FROM unnest($4::bigint[], $5::bigint[], $6::text[]) AS v(room_id, seq, preview)
WHERE c.room_id = v.room_id AND c.seq = v.seq
"""
# Deleted messages that had a preview decided lose it, and their preview entries theirs.
_SQL_FORGET_PREVIEWS = """
WITH shown AS (
    UPDATE messages SET preview = NULL, preview_url = NULL WHERE id = ANY ($1::bigint[])
)
UPDATE changes SET preview = NULL
WHERE message_id = ANY ($1::bigint[]) AND kind = 'preview' AND preview IS NOT NULL
"""
_SQL_MENTIONS_REMOVE = """
DELETE FROM mentions x USING unnest($1::bigint[], $2::bigint[]) AS v(room_id, seq)
WHERE x.room_id = v.room_id AND x.seq = v.seq
"""
# (by_follow, migration 0033: a thread reply's follower mention, not its text's)
_SQL_MENTIONS_ADD = """
INSERT INTO mentions (user_id, room_id, seq, by_follow)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::boolean[])
ON CONFLICT DO NOTHING
"""
# Moderation's writes, each only when the batch has some: roles, owners, bans put and lifted,
# memberships ended (after chatd.by names who ended them: the membership notice carries it,
# migration 0014), and the audit log's rows.
_SQL_ROLES = """
UPDATE memberships m SET role = v.role
FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS v(room_id, user_id, role)
WHERE m.room_id = v.room_id AND m.user_id = v.user_id
"""
_SQL_OWNERS = """
UPDATE rooms r SET owner_id = v.owner_id
FROM unnest($1::bigint[], $2::bigint[]) AS v(id, owner_id) WHERE r.id = v.id
"""
_SQL_BANS_PUT = f"""
INSERT INTO bans (room_id, user_id, by_id, reason, expires_at, created_at)
SELECT room_id, user_id, by_id, reason, {_ts("expires_at")}, {_ts("$6")}
FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[])
    AS v(room_id, user_id, by_id, reason, expires_at)
ON CONFLICT (room_id, user_id) DO UPDATE
SET by_id = EXCLUDED.by_id, reason = EXCLUDED.reason, expires_at = EXCLUDED.expires_at,
    created_at = EXCLUDED.created_at
"""
_SQL_BANS_LIFT = """
DELETE FROM bans b USING unnest($1::bigint[], $2::bigint[]) AS v(room_id, user_id)
WHERE b.room_id = v.room_id AND b.user_id = v.user_id
"""
_SQL_SET_BY = "SELECT set_config('chatd.by', $1, true)"
_SQL_REMOVE = """
DELETE FROM memberships m USING unnest($1::bigint[], $2::bigint[]) AS v(room_id, user_id)
WHERE m.room_id = v.room_id AND m.user_id = v.user_id
"""
_SQL_AUDIT = f"""
INSERT INTO audit_log (at, actor_id, action, target_id, room_id, reason, details)
SELECT {_ts("$1")}, actor_id, action, target_id, room_id, reason, details::jsonb
FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::text[])
    AS v(actor_id, action, target_id, room_id, reason, details)
"""


@dataclasses.dataclass(slots=True)
class _Target:
    """A message as the batch's changes leave it, so far."""

    id: int
    room_id: int
    seq: int
    sender_id: int
    text: str
    rev: int
    deleted: bool
    mentions: tuple[str, ...]
    mention_ids: tuple[int, ...] = ()
    follow_ids: tuple[int, ...] = ()  # of those, the followers its text does not name
    reactions: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    since: dict[str, int] = dataclasses.field(default_factory=dict)  # emoji -> seq put first
    pinned: bool = False
    pin: tuple[int, int] | None = None  # (seq, by) of the batch's pin, while it stands
    pin_changed: bool = False  # the batch pinned or unpinned it (not by deleting it)
    edited: bool = False
    deleted_now: bool = False
    touched: bool = False
    preview: Preview | None = None
    preview_url: str | None = None  # the link a preview was decided for (migration 0026)
    poll: _Poll | None = None  # read only for a batch that votes or closes (migration 0036)


@dataclasses.dataclass(slots=True)
class _Poll:
    """A poll as the batch's changes leave it, so far: how many options it has, whether it
    takes several, whether it is closed (and by which entry, and whom), and the choices of
    the batch's voters (sorted indexes; a voter with none is not there)."""

    options: int
    multiple: bool
    closed: bool
    choices: dict[int, tuple[int, ...]] = dataclasses.field(default_factory=dict)
    closing: tuple[int, int] | None = None  # (seq, by) of the batch's closing


@dataclasses.dataclass(slots=True)
class _Room:
    id: int
    name: str
    kind: str
    owner_id: int | None
    last_seq: int
    topic: str
    archived: bool = False
    pins: int = 0  # how many of its messages are pinned, as the batch leaves them
    bumped: bool = False
    topic_changed: bool = False
    archived_changed: bool = False
    owner_changed: bool = False


@dataclasses.dataclass(slots=True)
class _Person:
    """A user in one room, as the batch's changes leave them, so far. ``role`` is their
    membership's (``member`` for a non-member); ``member`` whether they are one."""

    id: int
    name: str
    admin: bool
    member: bool
    role: str = "member"
    banned: bool = False
    reason: str = ""
    expires_at: int | None = None
    banned_by: int | None = None
    role_changed: bool = False
    ban_changed: bool = False
    removed_by: str | None = None  # set when a change of the batch ended their membership


@dataclasses.dataclass(slots=True)
class _Entry:
    """An entry the batch writes: the log's ``message`` (the entry as clients get it), the
    message it changes (None for a topic or moderation), who made it and whom it is about."""

    message: Message
    target: _Target | None
    actor_id: int
    target_id: int | None = None
    replaced: str | None = None  # an edit's: the text it replaced (migration 0045)


@dataclasses.dataclass(frozen=True, slots=True)
class _Audit:
    """A row of the audit log."""

    actor_id: int | None  # None: the command line
    action: str
    room_id: int
    target_id: int | None = None
    reason: str = ""
    details: dict[str, Any] = dataclasses.field(default_factory=dict)


def _role(person: _Person, room: _Room) -> str | None:
    """The person's role in the room (None: not a member, nor its owner)."""
    if person.id == room.owner_id:
        return "owner"
    return person.role if person.member else None


def _moderates(person: _Person | None, room: _Room) -> bool:
    """Whether the person moderates the room: its owner, a moderator or an administrator;
    nobody moderates a conversation (1:1 or group)."""
    if person is None or room.kind != "room":
        return False
    return person.admin or _role(person, room) in ("owner", "moderator")


def _rank(person: _Person, room: _Room) -> int:
    return _ADMIN_RANK if person.admin else _RANKS.get(_role(person, room) or "member", 0)


def outranks(actor_admin: bool, actor_role: str | None, target_admin: bool,
             target_role: str | None) -> bool:
    """Whether an actor may ban or kick a target, by their standing in the room (a role of
    :data:`chatd.storage.ROLES`, None for a non-member): an administrator outranks every
    role, and an owner a moderator, who outranks a member. The rule of :func:`_rank`, for
    those who show it (docs, tests)."""
    def rank(admin: bool, role: str | None) -> int:
        return _ADMIN_RANK if admin else _RANKS.get(role or "member", 0)
    return rank(actor_admin, actor_role) > rank(target_admin, target_role)


async def apply_changes(conn: Any, batch: list[NewChange]) -> list[Appended | ChatError]:
    """Store a batch of changes in one transaction; one outcome per change, in order."""
    async with conn.transaction():
        return await _apply(conn, batch)


async def _apply(conn: Any, batch: list[NewChange]) -> list[Appended | ChatError]:
    rooms = {row["name"]: _Room(row["id"], row["name"], row["kind"], row["owner_id"],
                                row["last_seq"], row["topic"], row["archived"], row["pins"])
             for row in await conn.fetch(_SQL_LOCK_ROOMS, sorted({c.room for c in batch}))}
    banning = sorted({rooms[c.room].id for c in batch if c.kind == "banned" and c.room in rooms})
    if banning:
        await conn.execute(_SQL_LOCK_BANS, banning)
    now: int = await conn.fetchval(_SQL_NOW)
    # What each purge of the batch may delete (one more than its limit: whether more wait).
    purged: list[list[int]] = []
    for c in batch:
        if c.kind == "purge" and c.room in rooms:
            limit = max(0, min(c.limit, PURGE_MAX))
            purged.append([row["id"] for row in await conn.fetch(
                _SQL_PURGED, rooms[c.room].id, c.target.lower(), now - c.within * 1000,
                limit + 1)])
    targets: dict[int, _Target] = {}
    for row in await conn.fetch(_SQL_MESSAGES,
                                sorted({c.msg_id for c in batch if c.msg_id}
                                       | {i for ids in purged for i in ids}),
                                sorted({c.msg_id for c in batch if c.kind == "reaction"})):
        held = targets[row["id"]] = _Target(
            id=row["id"], room_id=row["room_id"], seq=row["seq"], sender_id=row["sender_id"],
            text=row["text"], rev=row["rev"] or row["seq"], deleted=row["deleted"],
            mentions=tuple(row["mentions"]), pinned=row["pinned"],
            preview=preview_from_json(row["preview"]), preview_url=row["preview_url"],
        )
        if row["emojis"] is not None:
            for emoji, user_id, since in zip(row["emojis"], row["users"], row["sinces"],
                                             strict=True):
                held.reactions.setdefault(emoji, []).append(user_id)
                held.since[emoji] = since
    polled = [c for c in batch if c.kind in _POLL_KINDS]
    if polled:
        await _read_polls(conn, polled, targets)
    people = await _read_people(conn, batch, rooms)
    candidates = sorted({name for c in batch if c.kind == "edited" for name in c.mentions}
                        | {name.lower() for c in batch if c.kind == "edited"
                           and (t := targets.get(c.msg_id)) is not None
                           for name in _unnamed(t)})
    mentionable: dict[tuple[int, str], tuple[int, str]] = {}
    if candidates:
        for row in await conn.fetch(_SQL_MENTIONABLE, sorted({r.id for r in rooms.values()}),
                                    candidates):
            mentionable[(row["room_id"], row["key"])] = (row["id"], row["name"])

    outcomes: list[Appended | ChatError] = []
    entries: list[_Entry] = []
    audit: list[_Audit] = []
    purges = iter(purged)
    for change in batch:
        room = rooms.get(change.room)
        if room is None:
            outcomes.append(ChatError(codes.NOT_FOUND, f"there is no room {change.room!r}"))
            continue
        actor = people.get((room.id, change.user_id))
        if change.kind == "archived":
            outcomes.append(_archive(change, room, actor, now, entries, audit))
            continue
        if room.archived and change.kind in _READ_ONLY:
            outcomes.append(ChatError(codes.ARCHIVED, f"{room.name!r} is archived"))
            continue
        if change.kind == "topic":
            outcomes.append(_set_topic(change, room, actor, now, entries, audit))
            continue
        if change.kind == "purge":
            target = people.get((room.id, _key(change.target)))
            outcomes.append(_purge(change, room, actor, target, next(purges), targets, now,
                                   entries, audit))
            continue
        if change.kind in MODERATION_KINDS:
            target = people.get((room.id, _key(change.target)))
            outcomes.append(_moderate(change, room, actor, target, people, now, entries, audit))
            continue
        message = targets.get(change.msg_id)
        if message is None or message.room_id != room.id:
            outcomes.append(ChatError(
                codes.NOT_FOUND, f"there is no message {change.msg_id} in {change.room!r}"))
            continue
        if change.kind in ("preview", "unpreview"):
            outcomes.append(_preview(change, message, room, actor, now, entries))
            continue
        if actor is None or not (actor.member or (change.kind in ("deleted", "poll_closed")
                                                  and _moderates(actor, room))):
            outcomes.append(ChatError(codes.FORBIDDEN, f"you are not a member of {room.name!r}"))
            continue
        refusal = _refusal(change, message, room, actor)
        if refusal is not None:
            outcomes.append(refusal)
            continue
        was_pinned = message.pinned
        before = message.text
        changed = _change(change, message, room, mentionable, room.last_seq + 1)
        if changed:
            room.last_seq += 1
            room.bumped = message.touched = True
            message.rev = room.last_seq
        # Unchanged, the entry stands at the message's rev: the last entry that did change it.
        entry = Message(room=room.name, seq=message.rev, msg_id=message.id, sender=actor.name,
                        text=change.text if change.kind == "edited" else "", ts=now, nonce="",
                        kind=change.kind, emoji=change.emoji,
                        # A deletion's: whether it took the message off the pins.
                        on=change.on if change.kind != "deleted" else changed and was_pinned,
                        mentions=message.mentions if changed and change.kind == "edited" else (),
                        choice=change.options)
        if changed:
            entries.append(_Entry(entry, message, change.user_id,
                                  replaced=before if change.kind == "edited" else None))
            if change.kind == "deleted" and change.user_id != message.sender_id:
                audit.append(_Audit(change.user_id, "delete", room.id, message.sender_id,
                                    details={"msg_id": message.id, "seq": message.seq}))
        outcomes.append(Appended(message=entry, duplicate=not changed))

    if entries:
        await _write(conn, rooms, targets, entries, now)
        await _write_previews(conn, entries, outcomes)
    if any(c.kind in MODERATION_KINDS for c in batch):
        await _write_moderation(conn, rooms, people, now)
    if audit:
        await conn.execute(_SQL_AUDIT, now, *_columns(
            [(a.actor_id, a.action, a.target_id, a.room_id, a.reason, json.dumps(a.details))
             for a in audit], 6))
    # The words of a message deleted in this batch leave its edits' entries too.
    gone = {target.id for target in targets.values() if target.deleted_now}
    if gone:
        outcomes = [
            Appended(message=dataclasses.replace(o.message, text="", mentions=()),
                     duplicate=False)
            if isinstance(o, Appended) and not o.duplicate and o.message.kind == "edited"
            and o.message.msg_id in gone else o
            for o in outcomes
        ]
    return outcomes


#: The kinds of change made to polls (migration 0036).
_POLL_KINDS = frozenset({"voted", "poll_closed"})


async def _read_polls(conn: Any, polled: list[NewChange], targets: dict[int, _Target]) -> None:
    """Give the messages that ``polled`` (votes and closings) change their polls, with the
    choices of those changes' voters."""
    voters = sorted({(c.msg_id, c.user_id) for c in polled if c.kind == "voted"})
    for row in await conn.fetch(_SQL_POLLS, sorted({c.msg_id for c in polled}),
                                [m for m, _ in voters], [u for _, u in voters]):
        target = targets.get(row["message_id"])
        if target is None:
            continue
        target.poll = _Poll(options=row["options"], multiple=row["multiple"],
                            closed=row["closed"])
        for user_id, options in json.loads(row["votes"]) if row["votes"] else ():
            target.poll.choices[user_id] = tuple(sorted(options))


def _key(name: str) -> str:
    """How a target's name is looked up: any case."""
    return "@" + name.lower()


async def _read_people(conn: Any, batch: list[NewChange], rooms: dict[str, _Room]
                       ) -> dict[tuple[int, int | str], _Person]:
    """The actors of the batch in their rooms, and the targets of its moderation changes,
    by ``(room id, user id)``; a target is also found by ``(room id, _key(name))``.
    One record per user and room, which the batch's changes then change as they go."""
    pairs = {(rooms[c.room].id, c.user_id) for c in batch if c.room in rooms}
    # The owner's role changes when the room is handed over: they are read too.
    pairs |= {(room.id, room.owner_id) for c in batch if c.kind == "role"
              and (room := rooms.get(c.room)) is not None and room.owner_id is not None}
    people: dict[tuple[int, int | str], _Person] = {}
    ordered = sorted(pairs)
    for row in await conn.fetch(_SQL_PEOPLE, [r for r, _ in ordered], [u for _, u in ordered]):
        person = _Person(id=row["id"], name=row["name"], admin=row["admin"],
                         member=row["role"] is not None, role=row["role"] or "member")
        people[(row["room_id"], row["id"])] = person
    named = sorted({(rooms[c.room].id, c.target.lower()) for c in batch
                    if (c.kind in MODERATION_KINDS or c.kind == "purge") and c.room in rooms})
    if named:
        for row in await conn.fetch(_SQL_TARGETS, [r for r, _ in named], [k for _, k in named]):
            key = (row["room_id"], row["id"])
            found = people.get(key)
            if found is None:
                found = people[key] = _Person(
                    id=row["id"], name=row["name"], admin=row["admin"],
                    member=row["role"] is not None, role=row["role"] or "member")
            person = found
            if row["banned"]:
                person.banned, person.reason = True, row["reason"]
                person.expires_at = row["expires_at"]
            people[(row["room_id"], _key(row["name"]))] = person
    return people


def _purge(change: NewChange, room: _Room, actor: _Person | None, target: _Person | None,
           found: list[int], messages: dict[int, _Target], now: int, entries: list[_Entry],
           audit: list[_Audit]) -> Appended | ChatError:
    """Delete what ``found`` lists (the target's recent messages, newest first, one more
    than the purge's limit when more wait) as ``actor``: one ``deleted`` entry each, as a
    ``delete`` makes; one audit row for them all. From the command line, the entries are
    the author's own and the audit row names no actor."""
    operator = change.user_id == COMMAND_LINE
    if not operator and (actor is None or not (
            _moderates(actor, room) or (room.kind != "room" and actor.admin))):
        return ChatError(codes.FORBIDDEN, f"only the owner or the moderators of {room.name!r} "
                         "can delete others' messages")
    if target is None:
        return ChatError(codes.NOT_FOUND, f"there is no user {change.target!r}")
    by = target if operator or actor is None else actor
    limit = max(0, min(change.limit, PURGE_MAX))
    stored: list[Message] = []
    for msg_id in found[:limit]:
        message = messages[msg_id]
        was_pinned = message.pinned
        if not _change(NewChange(user_id=by.id, room=room.name, msg_id=msg_id,
                                 kind="deleted"), message, room, {}, room.last_seq + 1):
            continue  # deleted by a change before it in the batch
        room.last_seq += 1
        room.bumped = message.touched = True
        message.rev = room.last_seq
        entry = Message(room=room.name, seq=room.last_seq, msg_id=msg_id, sender=by.name,
                        text="", ts=now, nonce="", kind="deleted", on=was_pinned)
        entries.append(_Entry(entry, message, by.id))
        stored.append(entry)
    more = len(found) > limit
    summary = Message(room=room.name, seq=room.last_seq, msg_id=0, sender=by.name,
                      text="", ts=now, nonce="", kind="purge", target=target.name)
    if stored:
        audit.append(_Audit(None if operator else by.id, "purge", room.id, target.id,
                            details={
                                "deleted": len(stored), "within": change.within,
                                "more": more, "seqs": [stored[0].seq, stored[-1].seq]}))
    return Appended(message=summary, duplicate=not stored, entries=tuple(stored), more=more)


def _set_topic(change: NewChange, room: _Room, actor: _Person | None, now: int,
               entries: list[_Entry], audit: list[_Audit]) -> Appended | ChatError:
    """A new topic for ``room``, by whoever moderates it (the room's last_seq when it is the
    same)."""
    if actor is None or not _moderates(actor, room):
        return ChatError(codes.FORBIDDEN,
                         "only the room's owner or its moderators can set its topic")
    entry = Message(room=room.name, seq=room.last_seq, msg_id=0, sender=actor.name,
                    text=change.text, ts=now, nonce="", kind="topic")
    if change.text == room.topic:
        return Appended(message=entry, duplicate=True)
    room.last_seq += 1
    room.bumped = room.topic_changed = True
    room.topic = change.text
    entry = dataclasses.replace(entry, seq=room.last_seq)
    entries.append(_Entry(entry, None, change.user_id))
    audit.append(_Audit(change.user_id, "set_topic", room.id, details={"topic": change.text}))
    return Appended(message=entry, duplicate=False)


#: What an archived room refuses (with ``archived``): anything that writes to it but
#: deleting messages and moderating members.
_READ_ONLY = frozenset({"edited", "reaction", "topic", "pinned", "preview", "voted",
                        "poll_closed"})


def _archive(change: NewChange, room: _Room, actor: _Person | None, now: int,
             entries: list[_Entry], audit: list[_Audit]) -> Appended | ChatError:
    """Archive (``change.on``) or unarchive ``room``, by its owner or an administrator (the
    room's last_seq, unchanged, when it already is so)."""
    if room.kind != "room":
        return ChatError(codes.FORBIDDEN, "a conversation cannot be archived")
    if actor is None or not (actor.admin or actor.id == room.owner_id):
        return ChatError(codes.FORBIDDEN,
                         f"only the owner of {room.name!r} or an administrator can archive it")
    entry = Message(room=room.name, seq=room.last_seq, msg_id=0, sender=actor.name, text="",
                    ts=now, nonce="", kind="archived", on=change.on)
    if room.archived == change.on:
        return Appended(message=entry, duplicate=True)
    room.last_seq += 1
    room.bumped = room.archived_changed = True
    room.archived = change.on
    entry = dataclasses.replace(entry, seq=room.last_seq)
    entries.append(_Entry(entry, None, change.user_id))
    audit.append(_Audit(change.user_id, "archive" if change.on else "unarchive", room.id,
                        details={"seq": entry.seq}))
    return Appended(message=entry, duplicate=False)


_VERBS = {"role": "set roles in", "banned": "ban from", "unbanned": "unban from",
          "kicked": "kick from"}


def _moderation_refusal(change: NewChange, room: _Room, actor: _Person | None,
                        target: _Person | None, now: int) -> ChatError | None:
    """Why ``actor`` may not make the moderation change to ``target``, if they may not."""
    verb = _VERBS[change.kind]
    if room.kind != "room":
        return ChatError(codes.FORBIDDEN, "nobody moderates a conversation")
    if actor is None or not _moderates(actor, room):
        return ChatError(codes.FORBIDDEN,
                         f"only the owner or the moderators of {room.name!r} can {verb} it")
    if change.kind == "role" and not (actor.admin or actor.id == room.owner_id):
        return ChatError(codes.FORBIDDEN, f"only the owner of {room.name!r} can set roles")
    if target is None:
        return ChatError(codes.NOT_FOUND, f"there is no user {change.target!r}")
    if change.kind == "role":
        if not target.member:
            return ChatError(codes.NOT_FOUND, f"{target.name} is not a member of {room.name!r}")
        if _role(target, room) == "owner" and change.text != "owner":
            return ChatError(codes.BAD_REQUEST,
                             "the owner stays the owner until they hand the room over: "
                             "set another member's role to owner")
        return None
    if change.kind == "unbanned":
        return None
    if target.id == actor.id:
        return ChatError(codes.BAD_REQUEST,
                         f"you cannot {verb.split()[0]} yourself; leave the room instead")
    if target.id == room.owner_id:
        return ChatError(codes.BAD_REQUEST,
                         f"the owner of {room.name!r} cannot be removed; hand the room over "
                         "first (set another member's role to owner)")
    if _rank(actor, room) <= _rank(target, room):
        return ChatError(codes.FORBIDDEN,
                         f"you cannot {verb.split()[0]} {target.name}: they moderate "
                         f"{room.name!r} as much as you do, or more")
    if change.kind == "banned" and change.expires_at is not None and change.expires_at <= now:
        return ChatError(codes.BAD_REQUEST, "the ban's end is in the past")
    return None


def _moderate(change: NewChange, room: _Room, actor: _Person | None, target: _Person | None,
              people: dict[tuple[int, int | str], _Person], now: int, entries: list[_Entry],
              audit: list[_Audit]) -> Appended | ChatError:
    """A role, a ban, an unban or a kick: its entry (at the room's last_seq when it changes
    nothing), and what it does to ``target``, kept in ``people`` until written."""
    refusal = _moderation_refusal(change, room, actor, target, now)
    if refusal is not None:
        return refusal
    assert actor is not None and target is not None
    entry = Message(room=room.name, seq=room.last_seq, msg_id=0, sender=actor.name, text="",
                    ts=now, nonce="", kind=change.kind, target=target.name)
    removed = False
    record = _Audit(actor.id, {"role": "set_role", "banned": "ban", "unbanned": "unban",
                               "kicked": "kick"}[change.kind], room.id, target.id)
    if change.kind == "role":
        was = _role(target, room)
        entry = dataclasses.replace(entry, text=change.text)
        if was == change.text:
            return Appended(message=entry, duplicate=True)
        if change.text == "owner":
            old = people.get((room.id, room.owner_id)) if room.owner_id is not None else None
            if old is not None and old.member:
                old.role, old.role_changed = "moderator", True
            room.owner_id, room.owner_changed = target.id, True
        else:
            target.role, target.role_changed = change.text, True
        record = dataclasses.replace(record, details={"role": change.text, "was": was})
    elif change.kind == "banned":
        entry = dataclasses.replace(entry, text=change.text, expires_at=change.expires_at)
        if target.banned and (target.reason, target.expires_at) == (change.text,
                                                                     change.expires_at):
            return Appended(message=entry, duplicate=True)
        target.banned, target.reason, target.expires_at = True, change.text, change.expires_at
        target.banned_by, target.ban_changed = actor.id, True
        removed = target.member
        record = dataclasses.replace(record, reason=change.text,
                                     details={"expires_at": change.expires_at})
    elif change.kind == "unbanned":
        if not target.banned:
            return Appended(message=entry, duplicate=True)
        target.banned, target.ban_changed = False, True
    else:  # kicked
        entry = dataclasses.replace(entry, text=change.text)
        if not target.member:
            return Appended(message=entry, duplicate=True)
        removed = True
        record = dataclasses.replace(record, reason=change.text)
    if removed:
        target.member, target.removed_by = False, actor.name
    room.last_seq += 1
    room.bumped = True
    entry = dataclasses.replace(entry, seq=room.last_seq)
    entries.append(_Entry(entry, None, actor.id, target.id))
    audit.append(dataclasses.replace(record, details={**record.details, "seq": entry.seq}))
    return Appended(message=entry, duplicate=False, removed=removed)


async def _write_moderation(conn: Any, rooms: dict[str, _Room],
                            people: dict[tuple[int, int | str], _Person], now: int) -> None:
    """Write what moderation did: roles, owners, bans, memberships ended."""
    persons = {(room_id, person.id): person for (room_id, _), person in people.items()}
    keyed = sorted(persons.items())
    roles = [(r, p.id, p.role) for (r, _), p in keyed if p.role_changed and p.member]
    if roles:
        await conn.execute(_SQL_ROLES, *_columns(roles, 3))
    owners = [(room.id, room.owner_id) for room in rooms.values() if room.owner_changed]
    if owners:
        await conn.execute(_SQL_OWNERS, *_columns(owners, 2))
    put = [(r, p.id, p.banned_by, p.reason, p.expires_at) for (r, _), p in keyed
           if p.ban_changed and p.banned]
    if put:
        await conn.execute(_SQL_BANS_PUT, *_columns(put, 5), now)
    lifted = [(r, p.id) for (r, _), p in keyed if p.ban_changed and not p.banned]
    if lifted:
        await conn.execute(_SQL_BANS_LIFT, *_columns(lifted, 2))
    by_actor: dict[str, list[tuple[int, int]]] = {}
    for (r, _), p in keyed:
        if p.removed_by is not None:
            by_actor.setdefault(p.removed_by, []).append((r, p.id))
    for name, removed in sorted(by_actor.items()):
        await conn.execute(_SQL_SET_BY, name)
        await conn.execute(_SQL_REMOVE, *_columns(removed, 2))
    if by_actor:
        await conn.execute(_SQL_SET_BY, "")


def _refusal(change: NewChange, target: _Target, room: _Room, actor: _Person
             ) -> ChatError | None:
    """Why ``change`` may not be made to the message as it is now, if it may not."""
    if change.kind == "edited":
        if change.user_id != target.sender_id:
            return ChatError(codes.FORBIDDEN, "only its author can edit a message")
        if target.deleted:
            return ChatError(codes.NOT_FOUND, f"message {target.id} was deleted")
    elif change.kind == "deleted":
        if change.user_id != target.sender_id and not _moderates(actor, room):
            return ChatError(codes.FORBIDDEN, "only its author or the room's owner or "
                             "moderators can delete a message")
    elif change.kind == "reaction":
        if target.deleted:
            return ChatError(codes.NOT_FOUND, f"message {target.id} was deleted")
        if change.on and change.emoji not in target.reactions \
                and len(target.reactions) >= MAX_REACTIONS:
            return ChatError(codes.CONFLICT,
                             f"a message carries at most {MAX_REACTIONS} different emoji")
    elif change.kind == "pinned":
        if target.deleted:
            return ChatError(codes.NOT_FOUND, f"message {target.id} was deleted")
        if change.on and not target.pinned and room.pins >= change.limit:
            return ChatError(codes.TOO_MANY_PINS,
                             f"{room.name!r} has {room.pins} pinned messages, the most it may "
                             "have: unpin one first")
    elif change.kind in _POLL_KINDS:
        return _poll_refusal(change, target, room, actor)
    return None


def _poll_refusal(change: NewChange, target: _Target, room: _Room, actor: _Person
                  ) -> ChatError | None:
    """Why a vote or a closing of ``target``'s poll is refused, if it is."""
    if target.deleted:
        return ChatError(codes.NOT_FOUND, f"message {target.id} was deleted")
    poll = target.poll
    if poll is None:
        return ChatError(codes.BAD_REQUEST, f"message {target.id} is not a poll")
    if change.kind == "poll_closed":
        if change.user_id != target.sender_id and not _moderates(actor, room):
            return ChatError(codes.FORBIDDEN, "only its author or the room's owner or "
                             "moderators can close a poll")
        return None
    if poll.closed:
        return ChatError(codes.BAD_REQUEST, "the poll is closed")
    if any(index >= poll.options for index in change.options):
        return ChatError(codes.BAD_REQUEST,
                         f"the poll has {poll.options} options: 'options' are 0 to "
                         f"{poll.options - 1}")
    if not poll.multiple and len(change.options) > 1:
        return ChatError(codes.BAD_REQUEST,
                         "the poll takes one choice: 'options' holds at most one index")
    return None


def _unnamed(target: _Target) -> tuple[str, ...]:
    """The names ``target`` mentions that its text does not: a thread reply's followers
    (migration 0029), whom an edit of it mentions still; none for any other message (its
    mentions are the members its text names)."""
    if not target.mentions:
        return ()
    named = set(mention_candidates(target.text)) if "@" in target.text else set()
    # (a user group it mentions, stored as "@name", is its text's too: never a follower)
    return tuple(name for name in target.mentions
                 if name.lower() not in named and not name.startswith("@"))


def _change(change: NewChange, target: _Target, room: _Room,
            mentionable: dict[tuple[int, str], tuple[int, str]], seq: int) -> bool:
    """Apply ``change`` to ``target`` (a message of ``room``), as the entry ``seq`` if it
    changes anything; whether it does."""
    if change.kind == "edited":
        if change.text == target.text:
            return False
        followers = {name.lower() for name in _unnamed(target)}
        names = {*change.mentions, *followers}
        found = sorted({mentionable[key] for name in names
                        if (key := (target.room_id, name)) in mentionable},
                       key=lambda pair: pair[1].lower())
        target.text = change.text
        # the user groups the new text mentions after the names, as "@name"
        # (chatd.storage.split_mentions)
        target.mentions = (*(name for _, name in found),
                           *(f"@{group}" for group in change.user_groups))
        # A group mention's members (read by the action, chatd.actions.messages) too: the
        # rows stay at the message's seq, so an old message does not become unread.
        target.mention_ids = tuple(sorted(
            ({uid for uid, _ in found} | set(change.group)) - {target.sender_id}))
        followers -= set(change.mentions)
        target.follow_ids = tuple(uid for uid, name in found if name.lower() in followers
                                  and uid not in change.group)
        target.edited = True
        return True
    if change.kind == "deleted":
        if target.deleted:
            return False
        target.deleted = target.deleted_now = True
        target.text = ""
        target.mentions = target.mention_ids = ()
        target.reactions.clear()
        target.preview = None
        target.poll = None
        if target.pinned:
            # Off the pins with it: the deleted entry says so ("unpinned": its reaction_on is
            # true; its row goes with the words).
            target.pinned, target.pin = False, None
            room.pins -= 1
        return True
    if change.kind == "voted":
        assert target.poll is not None
        if target.poll.choices.get(change.user_id, ()) == change.options:
            return False
        if change.options:
            target.poll.choices[change.user_id] = change.options
        else:
            target.poll.choices.pop(change.user_id, None)
        return True
    if change.kind == "poll_closed":
        assert target.poll is not None
        if target.poll.closed:
            return False
        target.poll.closed, target.poll.closing = True, (seq, change.user_id)
        return True
    if change.kind == "pinned":
        if change.on == target.pinned:
            return False
        target.pinned, target.pin_changed = change.on, True
        target.pin = (seq, change.user_id) if change.on else None
        room.pins += 1 if change.on else -1
        return True
    users = target.reactions.get(change.emoji, [])
    if change.on == (change.user_id in users):
        return False
    if change.on:
        if change.emoji not in target.reactions:
            target.since[change.emoji] = seq  # put with nobody else on: it goes last
        target.reactions.setdefault(change.emoji, []).append(change.user_id)
    else:
        users.remove(change.user_id)
        if not users:
            del target.reactions[change.emoji]
            target.since.pop(change.emoji, None)
    return True


async def _write(conn: Any, rooms: dict[str, _Room], targets: dict[int, _Target],
                 entries: list[_Entry], now: int) -> None:
    """Write what the batch did: one statement, and one more for each rare kind of change
    (a topic, a deletion, mentions to change)."""
    room_ids = {room.name: room.id for room in rooms.values()}
    bumped = [room for room in rooms.values() if room.bumped]
    touched = [t for t in targets.values() if t.touched]
    # Only edits and deletions rewrite a message's words; a reaction moves its rev alone.
    rewritten = [t for t in touched if t.edited or t.deleted_now]
    put, taken = _reactions(entries)
    logged = [e.message for e in entries]
    # Only a batch that edits keeps replaced texts (one more array): reactions pay nothing.
    edits = [e.replaced for e in entries] if any(e.replaced is not None for e in entries) \
        else None
    await conn.execute(
        _SQL_WRITE if edits is None else _SQL_WRITE_EDITS,
        [room_ids[e.room] for e in logged], [e.seq for e in logged],
        [e.msg_id or None for e in logged], [e.actor_id for e in entries],
        [e.kind for e in logged],
        [e.text if e.kind in _TEXTS else None for e in logged],
        [" ".join(e.mentions) for e in logged],
        [e.emoji or None for e in logged],
        [e.on if e.kind in _WAYS else (e.on or None) if e.kind == "deleted" else None
         for e in logged], now,
        [r.id for r in bumped], [r.last_seq for r in bumped],
        [t.id for t in touched], [t.rev for t in touched],
        [t.id for t in rewritten], [t.text for t in rewritten],
        [t.edited for t in rewritten], [t.deleted_now for t in rewritten],
        [" ".join(t.mentions) for t in rewritten],
        *_columns(put, 5), *_columns(taken, 3),
        [e.target_id for e in entries], [e.message.expires_at for e in entries],
        [r.pins for r in bumped], *(() if edits is None else (edits,)),
    )
    pinned = [t for t in touched if t.pin_changed and not t.deleted]
    if pinned:
        pins_put = [(t.id, t.room_id, *t.pin) for t in pinned if t.pin is not None]
        await conn.execute(_SQL_PINS, *_columns(pins_put, 4), now,
                           [t.id for t in pinned if t.pin is None])
    if any(e.message.kind in _POLL_KINDS for e in entries):
        await _write_polls(conn, entries, now)
    archived = [room for room in rooms.values() if room.archived_changed]
    if archived:
        await conn.execute(_SQL_ARCHIVED, [r.id for r in archived],
                           [r.archived for r in archived])
    retitled = [room for room in rooms.values() if room.topic_changed]
    if retitled:
        await conn.execute(_SQL_TOPIC, [r.id for r in retitled], [r.topic for r in retitled])
    gone = [t.id for t in touched if t.deleted_now]
    if gone:
        await conn.execute(_SQL_FORGET, gone)
        previewed = [t.id for t in touched if t.deleted_now and t.preview_url is not None]
        if previewed:
            await conn.execute(_SQL_FORGET_PREVIEWS, previewed)
    if rewritten:
        await conn.execute(_SQL_MENTIONS_REMOVE, [t.room_id for t in rewritten],
                           [t.seq for t in rewritten])
        added = [(uid, t.room_id, t.seq, uid in t.follow_ids) for t in rewritten
                 if not t.deleted for uid in t.mention_ids]
        if added:
            await conn.execute(_SQL_MENTIONS_ADD, *_columns(added, 4))


# The kinds of entry whose text is kept: an edit's words, a topic, a role, a reason.
_TEXTS = frozenset({"edited", "topic", "role", "banned", "kicked"})
# The kinds of entry that go one way or the other (reaction_on says which). A deletion's
# reaction_on is true when it took the message off the pins (NULL otherwise).
_WAYS = frozenset({"reaction", "archived", "pinned"})


async def _write_polls(conn: Any, entries: list[_Entry], now: int) -> None:
    """Write the batch's votes (each voter's last choice per poll) and closings, and the
    'voted' entries' choices (see :data:`_SQL_POLL_WRITE`)."""
    votes: dict[tuple[int, int], tuple[int, str]] = {}  # (poll, voter) -> (seq, options)
    chosen: list[tuple[int, int, str]] = []
    closed: list[tuple[int, int, int]] = []
    for e in entries:
        entry, target = e.message, e.target
        if target is None or entry.kind not in _POLL_KINDS:
            continue
        if entry.kind == "voted":
            options = json.dumps(list(entry.choice))
            chosen.append((target.room_id, entry.seq, options))
            if not target.deleted:
                votes[(target.id, e.actor_id)] = (entry.seq, options)
        elif not target.deleted:
            closed.append((target.id, entry.seq, e.actor_id))
    await conn.execute(
        _SQL_POLL_WRITE,
        *_columns([(m, u, options, seq) for (m, u), (seq, options) in votes.items()], 4),
        *_columns(chosen, 3), *_columns(closed, 3), now)


def preview_json(preview: Preview | None) -> str | None:
    """A preview as stored (``messages.preview``, ``changes.preview``): JSON text, or None."""
    if preview is None:
        return None
    obj: dict[str, Any] = {"url": preview.url, "title": preview.title,
                           "description": preview.description, "site": preview.site}
    if preview.image is not None:
        image = preview.image
        obj["image"] = {"id": image.file_id, "sha256": image.sha256, "size": image.size,
                        "width": image.width, "height": image.height}
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def preview_from_json(text: str | None) -> Preview | None:
    """A preview from its stored JSON text (None for none)."""
    if text is None:
        return None
    obj = json.loads(text)
    image = obj.get("image")
    return Preview(url=obj["url"], title=obj["title"], description=obj["description"],
                   site=obj["site"],
                   image=None if image is None else PreviewImage(
                       sha256=image["sha256"], size=image["size"], width=image["width"],
                       height=image["height"], file_id=image["id"]))


def _same_preview(a: Preview | None, b: Preview | None) -> bool:
    """Whether two previews show the same (a picture by its bytes, not by its file)."""
    if a is None or b is None:
        return a is b
    picture = (a.image.sha256 if a.image else None) == (b.image.sha256 if b.image else None)
    return picture and (a.url, a.title, a.description, a.site) == (
        b.url, b.title, b.description, b.site)


def _preview(change: NewChange, message: _Target, room: _Room, actor: _Person | None,
             now: int, entries: list[_Entry]) -> Appended | ChatError:
    """A preview made by the server (``"preview"``) or removed by a person (``"unpreview"``;
    see the module's docstring): its entry, at the message's rev when it changes nothing."""
    if message.deleted:
        return ChatError(codes.NOT_FOUND, f"message {message.id} was deleted")
    if change.kind == "unpreview":
        if actor is None or not (actor.member or _moderates(actor, room)):
            return ChatError(codes.FORBIDDEN, f"you are not a member of {room.name!r}")
        if change.user_id != message.sender_id and not _moderates(actor, room):
            return ChatError(codes.FORBIDDEN, "only its author or the room's owner or "
                             "moderators can remove a message's preview")
        new = None
        decided = first_link(message.text)
        stale = False
    else:
        new, decided = change.preview, change.url
        # Not for the text as it is now (edited since), or decided already for this link.
        stale = first_link(message.text) != change.url or message.preview_url == change.url
    entry = Message(room=room.name, seq=message.rev, msg_id=message.id,
                    sender=actor.name if actor is not None else "", text="", ts=now,
                    nonce="", kind="preview", previews=() if new is None else (new,))
    if stale or _same_preview(new, message.preview):
        return Appended(message=entry, duplicate=True)
    room.last_seq += 1
    room.bumped = message.touched = True
    message.rev = room.last_seq
    message.preview, message.preview_url = new, decided
    entry = dataclasses.replace(entry, seq=room.last_seq)
    entries.append(_Entry(entry, message, message.sender_id if actor is None else actor.id))
    return Appended(message=entry, duplicate=False)


async def _write_previews(conn: Any, entries: list[_Entry],
                          outcomes: list[Appended | ChatError]) -> None:
    """Write the batch's previews, if it stored any (see :data:`_SQL_PREVIEW_FILES`), and
    give their pictures' file ids to their entries and outcomes."""
    shown = [e for e in entries if e.message.kind == "preview"]
    if not shown:
        return
    last: dict[int, _Entry] = {e.message.msg_id: e for e in shown}
    # A message the batch deleted after its preview keeps none (its deletion was written
    # already): no picture, and nothing shown by the message or its entries.
    pictures = [(e.message.msg_id, e.target.room_id, e.target.sender_id, e.message.previews[0])
                for e in last.values() if e.target is not None and not e.target.deleted
                and e.message.previews and e.message.previews[0].image is not None]
    file_ids: dict[int, int] = {}
    rows = await conn.fetch(
        _SQL_PREVIEW_FILES, sorted(last),
        *_columns([(m, r, u, p.image.sha256, p.image.size, p.image.width, p.image.height)
                   for m, r, u, p in pictures if p.image is not None], 7))
    for row in rows:
        file_ids[row["message_id"]] = row["id"]
    fixed: dict[tuple[str, int], Message] = {}
    for e in shown:
        preview = e.message.previews[0] if e.message.previews else None
        if preview is not None and preview.image is not None:
            # Only the message's last preview of the batch keeps its picture's file.
            file_id = file_ids.get(e.message.msg_id) if last[e.message.msg_id] is e else None
            image = (dataclasses.replace(preview.image, file_id=file_id)
                     if file_id is not None else None)
            e.message = dataclasses.replace(
                e.message, previews=(dataclasses.replace(preview, image=image),))
        fixed[(e.message.room, e.message.seq)] = e.message
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, Appended) and not outcome.duplicate \
                and outcome.message.kind == "preview":
            outcomes[index] = dataclasses.replace(
                outcome, message=fixed[(outcome.message.room, outcome.message.seq)])
    def stored(e: _Entry) -> str | None:
        alive = e.target is not None and not e.target.deleted
        return preview_json(e.message.previews[0] if alive and e.message.previews else None)

    final = [e for e in last.values() if e.target is not None]
    await conn.execute(
        _SQL_PREVIEWS, [e.message.msg_id for e in final], [stored(e) for e in final],
        [None if e.target is None or e.target.deleted else e.target.preview_url
         for e in final],
        [e.target.room_id for e in shown if e.target is not None],
        [e.message.seq for e in shown if e.target is not None], [stored(e) for e in shown
                                                                 if e.target is not None])


def _reactions(entries: list[_Entry]
               ) -> tuple[list[tuple[int, str, int, int, int]], list[tuple[int, str, int]]]:
    """The reactions as the batch leaves them, per (message, emoji, user) the last word: those
    put (with the seq that put them and the emoji's since) and those taken back."""
    final: dict[tuple[int, str, int], tuple[Message, _Target]] = {}
    for e in entries:
        entry, target = e.message, e.target
        if target is not None and entry.kind == "reaction" and not target.deleted:
            final[(entry.msg_id, entry.emoji, e.actor_id)] = entry, target
    put = [(*key, entry.seq, target.since[entry.emoji])
           for key, (entry, target) in final.items() if entry.on]
    taken = [key for key, (entry, _) in final.items() if not entry.on]
    return put, taken


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows as ``width`` columns (lists), for ``unnest``; empty columns for no rows."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * width
