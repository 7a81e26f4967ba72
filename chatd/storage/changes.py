"""Changes to messages (edits, deletions, reactions) as entries of the room's log.

Asyncio side of :meth:`chatd.storage.postgres.PostgresStorage.append_messages`: one
transaction per batch of changes, on one pooled connection.

Theory of operation. A change is checked against the message as it is, and two changes to one
message may come from two nodes at once; so the transaction first locks the rooms involved
(in id order, ``FOR NO KEY UPDATE``, as appending messages does: the same lock, so messages
and changes of a room take their seqs from ``rooms.last_seq`` one transaction at a time, and
two nodes cannot deadlock). Under that lock it reads what the changes touch (the messages,
the members, the reactions, the names an edit mentions), decides each change in batch order
in Python, against the state the changes before it in the batch left, and writes the result
in one statement whatever the batch's size (the entries, the rooms' new ``last_seq``, whose
trigger tells the other nodes, the messages' new state, the reactions), plus one for each rare
kind of change it holds (a topic, a deletion, mentions to change): about five round trips a
batch. A change that changes nothing takes no seq and writes nothing.

Deleting a message removes its words: the row's text and search words, the text of its
earlier edits (kept in ``changes`` until then, as the log entries that carried them), its
mentions and reactions. Editing one leaves its search words to be indexed again
(chatd/indexer.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from chatd.errors import ChatError
from chatd.protocol import codes
from chatd.storage.base import MAX_REACTIONS, Appended, Message, NewChange
from chatd.storage.sql import ms as _ms
from chatd.storage.sql import ts as _ts

__all__ = ["apply_changes"]


_SQL_LOCK_ROOMS = """
SELECT id, name, kind, owner_id, last_seq, topic FROM rooms WHERE name = ANY ($1::text[])
ORDER BY id FOR NO KEY UPDATE
"""
# Taken after the locks, so that an entry's ts follows its seq within a room.
_SQL_NOW = f"SELECT {_ms('clock_timestamp()')}"
# The messages the batch changes, and the reactions of those it reacts to ($2), in the order
# a message object lists them (as arrays: decoding them costs less than JSON).
_SQL_MESSAGES = """
SELECT m.id, m.room_id, m.seq, m.sender_id, m.text, m.rev, m.deleted_at IS NOT NULL AS deleted,
       m.mentions, x.emojis, x.users, x.sinces
FROM messages m LEFT JOIN LATERAL (
    SELECT array_agg(x.emoji ORDER BY x.since, x.seq) AS emojis,
           array_agg(x.user_id ORDER BY x.since, x.seq) AS users,
           array_agg(x.since ORDER BY x.since, x.seq) AS sinces
    FROM reactions x WHERE x.message_id = m.id AND m.id = ANY ($2::bigint[])
) x ON true
WHERE m.id = ANY ($1::bigint[])
"""
_SQL_MEMBERS = """
SELECT m.room_id, m.user_id, u.name FROM memberships m JOIN users u ON u.id = m.user_id
WHERE (m.room_id, m.user_id) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[]))
"""
# The members of rooms $1 whose lower-cased name is in $2: whom an edit's text may mention.
_SQL_MENTIONABLE = """
SELECT um.room_id, lower(u.name) AS key, u.id, u.name
FROM users u JOIN memberships um ON um.user_id = u.id
WHERE um.room_id = ANY ($1::bigint[]) AND lower(u.name) = ANY ($2::text[])
"""
# What every batch writes, in one statement (one round trip): the entries ($1-$9, at $10 ms),
# the rooms' new last_seq ($11-$12), the messages' new rev ($13-$14) and, for those edited or
# deleted, their text, words and mentions ($15-$19), the reactions put ($20-$24) and taken
# back ($25-$27). An edit leaves the message's words to the indexer (NULL: not indexed, found
# by no word until the indexer has run, so never by a word the edit took away); a deletion
# empties them for good (migration 0011). Each part is a data-modifying CTE over
# arrays of its own, empty when the batch has none of it; no two parts touch the same row. A
# reaction put again by the same user takes its new place (seq, since).
_SQL_WRITE = f"""
WITH entries AS (
    INSERT INTO changes (room_id, seq, message_id, actor_id, kind, text, mentions, emoji,
                         reaction_on, created_at)
    SELECT room_id, seq, message_id, actor_id, kind, text,
           CASE WHEN kind = 'edited' THEN string_to_array(mentions, ' ') END, emoji,
           reaction_on, {_ts("$10")}
    FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[],
                $6::text[], $7::text[], $8::text[], $9::boolean[])
        AS v(room_id, seq, message_id, actor_id, kind, text, mentions, emoji, reaction_on)
), bumped AS (
    UPDATE rooms r SET last_seq = v.last_seq
    FROM unnest($11::bigint[], $12::bigint[]) AS v(id, last_seq) WHERE r.id = v.id
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
_SQL_TOPIC = """
UPDATE rooms r SET topic = v.topic
FROM unnest($1::bigint[], $2::text[]) AS v(id, topic) WHERE r.id = v.id
"""
# A deleted message's reactions go, its edits' words go, and its files are no longer served
# nor counted against their uploader's quota (the bytes stay on disk while another kept row
# refers to them).
_SQL_FORGET = """
WITH gone AS (
    DELETE FROM reactions WHERE message_id = ANY ($1::bigint[])
), files_gone AS (
    UPDATE files SET deleted_at = now()
    WHERE message_id = ANY ($1::bigint[]) AND deleted_at IS NULL
)
UPDATE changes SET text = '', mentions = NULL
WHERE message_id = ANY ($1::bigint[]) AND kind = 'edited'
"""
_SQL_MENTIONS_REMOVE = """
DELETE FROM mentions x USING unnest($1::bigint[], $2::bigint[]) AS v(room_id, seq)
WHERE x.room_id = v.room_id AND x.seq = v.seq
"""
_SQL_MENTIONS_ADD = """
INSERT INTO mentions (user_id, room_id, seq)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[])
ON CONFLICT DO NOTHING
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
    reactions: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    since: dict[str, int] = dataclasses.field(default_factory=dict)  # emoji -> seq put first
    edited: bool = False
    deleted_now: bool = False
    touched: bool = False


@dataclasses.dataclass(slots=True)
class _Room:
    id: int
    name: str
    owner_id: int | None
    last_seq: int
    topic: str
    bumped: bool = False
    topic_changed: bool = False


async def apply_changes(conn: Any, batch: list[NewChange]) -> list[Appended | ChatError]:
    """Store a batch of changes in one transaction; one outcome per change, in order."""
    async with conn.transaction():
        return await _apply(conn, batch)


async def _apply(conn: Any, batch: list[NewChange]) -> list[Appended | ChatError]:
    rooms = {row["name"]: _Room(row["id"], row["name"], row["owner_id"], row["last_seq"],
                                row["topic"])
             for row in await conn.fetch(_SQL_LOCK_ROOMS, sorted({c.room for c in batch}))}
    now: int = await conn.fetchval(_SQL_NOW)
    targets: dict[int, _Target] = {}
    for row in await conn.fetch(_SQL_MESSAGES,
                                sorted({c.msg_id for c in batch if c.kind != "topic"}),
                                sorted({c.msg_id for c in batch if c.kind == "reaction"})):
        held = targets[row["id"]] = _Target(
            id=row["id"], room_id=row["room_id"], seq=row["seq"], sender_id=row["sender_id"],
            text=row["text"], rev=row["rev"] or row["seq"], deleted=row["deleted"],
            mentions=tuple(row["mentions"]),
        )
        if row["emojis"] is not None:
            for emoji, user_id, since in zip(row["emojis"], row["users"], row["sinces"],
                                             strict=True):
                held.reactions.setdefault(emoji, []).append(user_id)
                held.since[emoji] = since
    pairs = sorted({(rooms[c.room].id, c.user_id) for c in batch if c.room in rooms})
    members = {(row["room_id"], row["user_id"]): row["name"] for row in await conn.fetch(
        _SQL_MEMBERS, [room for room, _ in pairs], [user for _, user in pairs])}
    candidates = sorted({name for c in batch if c.kind == "edited" for name in c.mentions})
    mentionable: dict[tuple[int, str], tuple[int, str]] = {}
    if candidates:
        for row in await conn.fetch(_SQL_MENTIONABLE, sorted({r.id for r in rooms.values()}),
                                    candidates):
            mentionable[(row["room_id"], row["key"])] = (row["id"], row["name"])

    outcomes: list[Appended | ChatError] = []
    # (entry, its message (None for a topic), its actor)
    entries: list[tuple[Message, _Target | None, int]] = []
    for change in batch:
        room = rooms.get(change.room)
        target = targets.get(change.msg_id)
        actor = members.get((room.id, change.user_id)) if room is not None else None
        if room is None:
            outcomes.append(ChatError(codes.NOT_FOUND, f"there is no room {change.room!r}"))
            continue
        if change.kind == "topic":
            outcomes.append(_set_topic(change, room, actor, now, entries))
            continue
        if target is None or target.room_id != room.id:
            outcomes.append(ChatError(
                codes.NOT_FOUND, f"there is no message {change.msg_id} in {change.room!r}"))
            continue
        if actor is None:
            outcomes.append(ChatError(codes.FORBIDDEN, f"you are not a member of {room.name!r}"))
            continue
        refusal = _refusal(change, target, room)
        if refusal is not None:
            outcomes.append(refusal)
            continue
        changed = _change(change, target, mentionable, room.last_seq + 1)
        if changed:
            room.last_seq += 1
            room.bumped = target.touched = True
            target.rev = room.last_seq
        # Unchanged, the entry stands at the message's rev: the last entry that did change it.
        entry = Message(room=room.name, seq=target.rev, msg_id=target.id, sender=actor,
                        text=change.text if change.kind == "edited" else "", ts=now, nonce="",
                        kind=change.kind, emoji=change.emoji, on=change.on,
                        mentions=target.mentions if changed and change.kind == "edited" else ())
        if changed:
            entries.append((entry, target, change.user_id))
        outcomes.append(Appended(message=entry, duplicate=not changed))

    if entries:
        await _write(conn, rooms, targets, entries, now)
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


def _set_topic(change: NewChange, room: _Room, actor: str | None, now: int,
               entries: list[tuple[Message, _Target | None, int]]) -> Appended | ChatError:
    """A new topic for ``room``, by its owner (the room's last_seq when it is the same)."""
    if actor is None or change.user_id != room.owner_id:
        return ChatError(codes.FORBIDDEN, "only the room's owner can set its topic")
    entry = Message(room=room.name, seq=room.last_seq, msg_id=0, sender=actor,
                    text=change.text, ts=now, nonce="", kind="topic")
    if change.text == room.topic:
        return Appended(message=entry, duplicate=True)
    room.last_seq += 1
    room.bumped = room.topic_changed = True
    room.topic = change.text
    entry = dataclasses.replace(entry, seq=room.last_seq)
    entries.append((entry, None, change.user_id))
    return Appended(message=entry, duplicate=False)


def _refusal(change: NewChange, target: _Target, room: _Room) -> ChatError | None:
    """Why ``change`` may not be made to the message as it is now, if it may not."""
    if change.kind == "edited":
        if change.user_id != target.sender_id:
            return ChatError(codes.FORBIDDEN, "only its author can edit a message")
        if target.deleted:
            return ChatError(codes.NOT_FOUND, f"message {target.id} was deleted")
    elif change.kind == "deleted":
        if change.user_id not in (target.sender_id, room.owner_id):
            return ChatError(codes.FORBIDDEN,
                             "only its author or the room's owner can delete a message")
    elif change.kind == "reaction":
        if target.deleted:
            return ChatError(codes.NOT_FOUND, f"message {target.id} was deleted")
        if change.on and change.emoji not in target.reactions \
                and len(target.reactions) >= MAX_REACTIONS:
            return ChatError(codes.CONFLICT,
                             f"a message carries at most {MAX_REACTIONS} different emoji")
    return None


def _change(change: NewChange, target: _Target,
            mentionable: dict[tuple[int, str], tuple[int, str]], seq: int) -> bool:
    """Apply ``change`` to ``target``, as the entry ``seq`` if it changes anything; whether
    it does."""
    if change.kind == "edited":
        if change.text == target.text:
            return False
        found = sorted({mentionable[key] for name in change.mentions
                        if (key := (target.room_id, name)) in mentionable},
                       key=lambda pair: pair[1].lower())
        target.text = change.text
        target.mentions = tuple(name for _, name in found)
        target.mention_ids = tuple(uid for uid, _ in found if uid != target.sender_id)
        target.edited = True
        return True
    if change.kind == "deleted":
        if target.deleted:
            return False
        target.deleted = target.deleted_now = True
        target.text = ""
        target.mentions = target.mention_ids = ()
        target.reactions.clear()
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
                 entries: list[tuple[Message, _Target | None, int]], now: int) -> None:
    """Write what the batch did: one statement, and one more for each rare kind of change
    (a topic, a deletion, mentions to change)."""
    room_ids = {room.name: room.id for room in rooms.values()}
    bumped = [room for room in rooms.values() if room.bumped]
    touched = [t for t in targets.values() if t.touched]
    # Only edits and deletions rewrite a message's words; a reaction moves its rev alone.
    rewritten = [t for t in touched if t.edited or t.deleted_now]
    put, taken = _reactions(entries)
    await conn.execute(
        _SQL_WRITE,
        [room_ids[e.room] for e, _, _ in entries], [e.seq for e, _, _ in entries],
        [e.msg_id or None for e, _, _ in entries], [actor for _, _, actor in entries],
        [e.kind for e, _, _ in entries], [e.text if e.kind in ("edited", "topic") else None
                                          for e, _, _ in entries],
        [" ".join(e.mentions) for e, _, _ in entries],
        [e.emoji or None for e, _, _ in entries],
        [e.on if e.kind == "reaction" else None for e, _, _ in entries], now,
        [r.id for r in bumped], [r.last_seq for r in bumped],
        [t.id for t in touched], [t.rev for t in touched],
        [t.id for t in rewritten], [t.text for t in rewritten],
        [t.edited for t in rewritten], [t.deleted_now for t in rewritten],
        [" ".join(t.mentions) for t in rewritten],
        *_columns(put, 5), *_columns(taken, 3),
    )
    retitled = [room for room in rooms.values() if room.topic_changed]
    if retitled:
        await conn.execute(_SQL_TOPIC, [r.id for r in retitled], [r.topic for r in retitled])
    gone = [t.id for t in touched if t.deleted_now]
    if gone:
        await conn.execute(_SQL_FORGET, gone)
    if rewritten:
        await conn.execute(_SQL_MENTIONS_REMOVE, [t.room_id for t in rewritten],
                           [t.seq for t in rewritten])
        added = [(uid, t.room_id, t.seq) for t in rewritten if not t.deleted
                 for uid in t.mention_ids]
        if added:
            await conn.execute(_SQL_MENTIONS_ADD, *_columns(added, 3))


def _reactions(entries: list[tuple[Message, _Target | None, int]]
               ) -> tuple[list[tuple[int, str, int, int, int]], list[tuple[int, str, int]]]:
    """The reactions as the batch leaves them, per (message, emoji, user) the last word: those
    put (with the seq that put them and the emoji's since) and those taken back."""
    final: dict[tuple[int, str, int], tuple[Message, _Target]] = {}
    for entry, target, actor in entries:
        if target is not None and entry.kind == "reaction" and not target.deleted:
            final[(entry.msg_id, entry.emoji, actor)] = entry, target
    put = [(*key, entry.seq, target.since[entry.emoji])
           for key, (entry, target) in final.items() if entry.on]
    taken = [key for key, (entry, _) in final.items() if not entry.on]
    return put, taken


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows as ``width`` columns (lists), for ``unnest``; empty columns for no rows."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * width
