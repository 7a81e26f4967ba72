"""Join links to one room (migration 0051): made, listed, revoked, looked at, and joined with.

Asyncio side of the matching :class:`chatd.storage.postgres.PostgresStorage` methods: each
function here takes the pool and runs one statement, or one short transaction, on it.

A link is found by the SHA-256 of its token (the unique index on ``hash``): the token itself
is never stored. Joining with one is one transaction, in the order a join keeps (chatd.storage
.changes, the module's docstring): the room's bans lock is taken shared first, so that a ban
committed meanwhile is either seen (the join is refused) or removes the new membership; then
the membership is inserted (nothing inserted: the person was a member already, and takes no
use); then a use is taken by an ``UPDATE … WHERE uses < max_uses`` that locks the link's row,
so a second join racing for the last use waits for the first and then finds none left; a join
that finds none raises, and the rollback takes the membership back. The use, and a
``join_link`` entry of the audit log (the room's: its moderators see it in ``audit``), are
written in the same transaction.

Who may make one is who may ``invite`` into the room (its members; :data:`_SQL_ROOM` reads
what that rule needs); who may list and revoke them: their maker, and those who moderate the
room (its owner and moderators, and server administrators). Making and revoking one are
audited in the room too.
"""

from __future__ import annotations

import json
from typing import Any

from chatd.errors import ChatError
from chatd.protocol import codes
from chatd.storage.base import LinkedRoom, RoomLink, room_link_refusal
from chatd.storage.changes import BANS_LOCK
from chatd.storage.sql import moderates
from chatd.storage.sql import ms as _ms

__all__ = ["create_room_link", "join_with_link", "look_at_room_link", "revoke_room_link",
           "room_links"]

#: Past every id (a bigint): ``before`` of the first page.
_MAX_ID = 2**63 - 1

_BANNED = """EXISTS (
    SELECT 1 FROM bans bn WHERE bn.room_id = {room} AND bn.user_id = {user}
      AND (bn.expires_at IS NULL OR bn.expires_at > now())
)"""

_COLUMNS = f"""l.id, l.room_id, l.creator_id, l.max_uses, l.uses,
       {_ms("l.created_at")} AS created_at, {_ms("l.expires_at")} AS expires_at,
       {_ms("l.revoked_at")} AS revoked_at, l.expires_at <= now() AS expired,
       (SELECT c.name FROM users c WHERE c.id = l.creator_id) AS by,
       (SELECT r.name FROM rooms r WHERE r.id = l.room_id) AS room"""

# Room $1 as user $2 sees it for its links: whether they are a member, moderate it (its owner,
# a moderator, a server administrator), and the room's state. No row: no such room.
_SQL_ROOM = f"""
SELECT r.id, r.kind, r.archived, r.deleted_at IS NOT NULL AS deleted,
       EXISTS (SELECT 1 FROM memberships m WHERE m.room_id = r.id AND m.user_id = $2) AS member,
       {moderates("$2")} AS moderates
FROM rooms r WHERE r.name = $1
"""
_SQL_CREATE = """
INSERT INTO room_links (hash, room_id, creator_id, expires_at, max_uses)
VALUES ($1, $2, $3, timestamptz 'epoch' + $4::bigint * interval '1 millisecond', $5)
RETURNING id
"""
_SQL_AUDIT = """
INSERT INTO audit_log (actor_id, action, target_id, room_id, details)
VALUES ($1, $2, $3, $4, $5::jsonb)
"""
_SQL_ONE = f"SELECT {_COLUMNS} FROM room_links l WHERE l.id = $1"
# A page of room $1's links, newest first: every one ($2 NULL) or those user $2 made, ids below
# $3, at most $4 (room_links_room_idx).
_SQL_LIST = f"""
SELECT {_COLUMNS} FROM room_links l
WHERE l.room_id = $1 AND ($2::bigint IS NULL OR l.creator_id = $2) AND l.id < $3
ORDER BY l.id DESC LIMIT $4
"""
# The link of token hash $1 with its room as user $2 would enter it.
_SQL_LOOK = f"""
SELECT {_COLUMNS}, r.kind, r.private, r.topic, r.archived, r.deleted_at IS NOT NULL AS deleted,
       (SELECT count(*) FROM memberships c WHERE c.room_id = r.id) AS members,
       EXISTS (SELECT 1 FROM memberships m WHERE m.room_id = r.id AND m.user_id = $2) AS member,
       {_BANNED.format(room="r.id", user="$2")} AS banned
FROM room_links l JOIN rooms r ON r.id = l.room_id WHERE l.hash = $1
"""
_SQL_LOCK_BANS_SHARED = f"SELECT pg_advisory_xact_lock_shared({BANS_LOCK} + $1::bigint)"
_SQL_JOIN = """
INSERT INTO memberships (room_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1
"""
# A use taken, if one is left: the row's lock makes a racing join wait, then see the uses this
# one left.
_SQL_TAKE_USE = """
UPDATE room_links SET uses = uses + 1
WHERE id = $1 AND revoked_at IS NULL AND expires_at > now() AND uses < max_uses
RETURNING id
"""
_SQL_RECORD_USE = "INSERT INTO room_link_uses (link_id, user_id) VALUES ($1, $2)"
_SQL_REVOKE = "UPDATE room_links SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL"


def _link(row: Any) -> RoomLink:
    return RoomLink(id=row["id"], room=row["room"], by=row["by"], creator_id=row["creator_id"],
                    created_at=row["created_at"], expires_at=row["expires_at"],
                    max_uses=row["max_uses"], uses=row["uses"], revoked_at=row["revoked_at"],
                    expired=row["expired"])


def _check_room(room: str, row: Any) -> None:
    """Refuse a link to what is no room people may enter now."""
    if row is None or row["deleted"]:
        raise ChatError(codes.NOT_FOUND, f"there is no room {room!r}")
    if row["kind"] != "room":
        raise ChatError(codes.FORBIDDEN, "nobody can be invited into a conversation")
    if row["archived"]:
        raise ChatError(codes.ARCHIVED, f"{room!r} is archived: nobody joins it")


async def create_room_link(pool: Any, token_hash: bytes, user_id: int, room: str,
                           expires_at: int, max_uses: int) -> RoomLink:
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(_SQL_ROOM, room, user_id)
        _check_room(room, row)
        if not row["member"]:
            raise ChatError(codes.FORBIDDEN, f"you are not a member of {room!r}")
        link_id = await conn.fetchval(_SQL_CREATE, token_hash, row["id"], user_id, expires_at,
                                      max_uses)
        await conn.execute(_SQL_AUDIT, user_id, "create_room_link", None, row["id"],
                           json.dumps({"link": link_id, "max_uses": max_uses,
                                       "expires_at": expires_at}))
        return _link(await conn.fetchrow(_SQL_ONE, link_id))


async def room_links(pool: Any, user_id: int, room: str, before: int | None, limit: int
                     ) -> tuple[list[RoomLink], bool]:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read",
                                                        readonly=True):
        row = await conn.fetchrow(_SQL_ROOM, room, user_id)
        if row is None or row["deleted"]:
            raise ChatError(codes.NOT_FOUND, f"there is no room {room!r}")
        rows = await conn.fetch(_SQL_LIST, row["id"], None if row["moderates"] else user_id,
                                _MAX_ID if before is None else before, limit)
        return [_link(found) for found in rows], bool(row["moderates"])


async def revoke_room_link(pool: Any, link_id: int, user_id: int) -> RoomLink:
    async with pool.acquire() as conn, conn.transaction():
        found = await conn.fetchrow(_SQL_ONE + " FOR UPDATE OF l", link_id)
        allowed = found is not None and (
            found["creator_id"] == user_id
            or (await conn.fetchrow(_SQL_ROOM, found["room"], user_id))["moderates"])
        if not allowed:
            raise ChatError(codes.NOT_FOUND, f"you have no room link {link_id}")
        if found["revoked_at"] is None:
            await conn.execute(_SQL_REVOKE, link_id)
            await conn.execute(_SQL_AUDIT, user_id, "revoke_room_link", found["creator_id"],
                               found["room_id"], json.dumps({
                                   "link": link_id, "uses": found["uses"],
                                   "max_uses": found["max_uses"]}))
        return _link(await conn.fetchrow(_SQL_ONE, link_id))


def _linked(row: Any) -> LinkedRoom:
    return LinkedRoom(link=_link(row), private=row["private"], topic=row["topic"],
                      members=row["members"], member=row["member"], banned=row["banned"],
                      archived=row["archived"], gone=row["deleted"] or row["kind"] != "room")


async def look_at_room_link(pool: Any, token_hash: bytes, user_id: int) -> LinkedRoom | None:
    row = await pool.fetchrow(_SQL_LOOK, token_hash, user_id)
    return None if row is None else _linked(row)


async def join_with_link(pool: Any, token_hash: bytes, user_id: int
                         ) -> tuple[LinkedRoom, bool]:
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(_SQL_LOOK, token_hash, user_id)
        if row is None:
            raise room_link_refusal(None)
        await conn.execute(_SQL_LOCK_BANS_SHARED, row["room_id"])
        # read again under the lock: a ban committed before it is seen now
        linked = _linked(await conn.fetchrow(_SQL_LOOK, token_hash, user_id))
        link = linked.link
        if linked.gone:
            raise ChatError(codes.NOT_FOUND, "the room of this link is gone")
        if linked.banned:
            raise ChatError(codes.FORBIDDEN, f"you are banned from {link.room!r}")
        if linked.member:
            return linked, False
        if link.state != "valid":
            raise room_link_refusal(link)
        if linked.archived:
            raise ChatError(codes.ARCHIVED, f"{link.room!r} is archived: nobody joins it")
        if await conn.fetchval(_SQL_JOIN, row["room_id"], user_id) is None:
            return linked, False  # a join of theirs that raced this one made them a member
        if await conn.fetchval(_SQL_TAKE_USE, link.id) is None:
            # the last use went to a join that committed meanwhile: the rollback takes the
            # membership back
            raise room_link_refusal(_link(await conn.fetchrow(_SQL_ONE, link.id)))
        await conn.execute(_SQL_RECORD_USE, link.id, user_id)
        await conn.execute(_SQL_AUDIT, user_id, "join_link", link.creator_id, row["room_id"],
                           json.dumps({"link": link.id}))
        done = await conn.fetchrow(_SQL_LOOK, token_hash, user_id)
        return _linked(done), True
