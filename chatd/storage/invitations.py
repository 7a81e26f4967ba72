"""Invitation links (migration 0044): made, listed, revoked, looked at, and registered with.

Asyncio side of the matching :class:`chatd.storage.postgres.PostgresStorage` methods: each
function here takes the pool and runs one statement, or one short transaction, on it.

An invitation is found by the SHA-256 of its token (the unique index on ``hash``): the token
itself is never stored. Registering with one is one transaction: the use is taken by an
``UPDATE … WHERE uses < max_uses`` that locks the invitation's row, so a second registration
racing for the last use waits for the first and then finds none left (PostgreSQL re-checks
the condition on the row as the first left it); the account, its memberships of the
invitation's rooms and the record of the use are written in the same transaction, so a
registration that fails after taking the use (a name taken meanwhile) gives it back by
rolling back.

Making and revoking one are recorded in the audit log (``create_invitation``,
``revoke_invitation``: who, when, the invitation's id, its uses and rooms; never its token,
which storage never has) in the transaction of the action itself, as every audited action
is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from chatd.errors import ChatError
from chatd.protocol import codes
from chatd.storage.base import Invitation, InvitedUser, User, invitation_refusal
from chatd.storage.sql import ms as _ms

__all__ = ["create_invitation", "invitation_by_hash", "invitations", "register_invited",
           "revoke_invitation"]


#: Past every id (a bigint): ``before`` of the first page.
_MAX_ID = 2**63 - 1

_COLUMNS = f"""i.id, i.creator_id, i.max_uses, i.uses, {_ms("i.created_at")} AS created_at,
       {_ms("i.expires_at")} AS expires_at, {_ms("i.revoked_at")} AS revoked_at,
       i.expires_at <= now() AS expired,
       (SELECT c.name FROM users c WHERE c.id = i.creator_id) AS by,
       coalesce((SELECT array_agg(r.name ORDER BY r.name) FROM invitation_rooms ir
                 JOIN rooms r ON r.id = ir.room_id
                 WHERE ir.invitation_id = i.id AND r.deleted_at IS NULL),
                '{{}}') AS rooms,
       coalesce((SELECT array_agg(u.name ORDER BY x.used_at, u.id) FROM invitation_uses x
                 JOIN users u ON u.id = x.user_id WHERE x.invitation_id = i.id),
                '{{}}') AS used_by"""

# A page of invitations, newest first: of one maker ($1; invitations_creator_idx), or
# everyone's ($1 NULL; the primary key), ids below $2, at most $3.
_SQL_LIST = f"""
SELECT {_COLUMNS} FROM invitations i
WHERE ($1::bigint IS NULL OR i.creator_id = $1) AND i.id < $2
ORDER BY i.id DESC LIMIT $3
"""
_SQL_ONE = f"SELECT {_COLUMNS} FROM invitations i WHERE i.id = $1"
_SQL_BY_HASH = f"SELECT {_COLUMNS} FROM invitations i WHERE i.hash = $1"

# The rooms named ($1), with whether $2 (NULL: nobody) is a member of each; rooms of the
# invitation must be rooms (not conversations), exist and not be archived.
_SQL_ROOMS = """
SELECT r.id, r.name, r.kind, r.archived,
       EXISTS (SELECT 1 FROM memberships m WHERE m.room_id = r.id AND m.user_id = $2) AS member
FROM rooms r WHERE r.name = ANY ($1::text[]) AND r.deleted_at IS NULL
"""
_SQL_CREATE = """
INSERT INTO invitations (hash, creator_id, expires_at, max_uses)
VALUES ($1, $2, timestamptz 'epoch' + $3::bigint * interval '1 millisecond', $4)
RETURNING id
"""
_SQL_ADD_ROOMS = """
INSERT INTO invitation_rooms (invitation_id, room_id) SELECT $1, unnest($2::bigint[])
"""
# Revoked ($1) by $2 (NULL: the command line), and audited, only when it was not already:
# the maker is the entry's target.
_SQL_REVOKE = """
WITH revoked AS (
    UPDATE invitations SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL
    RETURNING id, creator_id, uses, max_uses
)
INSERT INTO audit_log (actor_id, action, target_id, details)
SELECT $2::bigint, 'revoke_invitation', creator_id,
       jsonb_build_object('invitation', id, 'uses', uses, 'max_uses', max_uses)
FROM revoked
"""
_SQL_AUDIT_CREATE = """
INSERT INTO audit_log (actor_id, action, details) VALUES ($1, 'create_invitation', $2::jsonb)
"""

# A use taken, if one is left: the row's lock makes a racing registration wait, then see the
# uses this one left.
_SQL_TAKE_USE = """
UPDATE invitations SET uses = uses + 1
WHERE hash = $1 AND revoked_at IS NULL AND expires_at > now() AND uses < max_uses
RETURNING id, (SELECT name FROM users WHERE id = creator_id) AS by
"""
# The invitation's rooms that a new account joins now: those not archived nor deleted (a
# deleted room is a tombstone until purged, then leaves invitation_rooms with its row), by
# name.
_SQL_JOIN_ROOMS = """
WITH joined AS (
    INSERT INTO memberships (room_id, user_id)
    SELECT r.id, $2 FROM invitation_rooms ir JOIN rooms r ON r.id = ir.room_id
    WHERE ir.invitation_id = $1 AND r.kind = 'room' AND NOT r.archived
      AND r.deleted_at IS NULL
    ON CONFLICT DO NOTHING
    RETURNING room_id
)
SELECT r.name FROM joined j JOIN rooms r ON r.id = j.room_id ORDER BY r.name
"""
_SQL_RECORD_USE = "INSERT INTO invitation_uses (invitation_id, user_id) VALUES ($1, $2)"


def _invitation(row: Any) -> Invitation:
    return Invitation(id=row["id"], by=row["by"], creator_id=row["creator_id"],
                      created_at=row["created_at"], expires_at=row["expires_at"],
                      max_uses=row["max_uses"], uses=row["uses"], revoked_at=row["revoked_at"],
                      expired=row["expired"], rooms=tuple(row["rooms"]),
                      used_by=tuple(row["used_by"]))


async def create_invitation(pool: Any, token_hash: bytes, creator_id: int | None,
                            expires_at: int, max_uses: int, rooms: Sequence[str],
                            anywhere: bool) -> Invitation:
    async with pool.acquire() as conn, conn.transaction():
        found = {row["name"]: row for row in await conn.fetch(_SQL_ROOMS, list(rooms),
                                                               creator_id)}
        for name in rooms:
            row = found.get(name)
            if row is None:
                raise ChatError(codes.NOT_FOUND, f"there is no room {name!r}")
            if row["kind"] != "room":
                raise ChatError(codes.BAD_REQUEST, "nobody can be invited into a conversation")
            if row["archived"]:
                raise ChatError(codes.ARCHIVED, f"{name!r} is archived: nobody joins it")
            if not (anywhere or row["member"]):
                raise ChatError(codes.FORBIDDEN, f"you are not a member of {name!r}")
        invitation_id = await conn.fetchval(_SQL_CREATE, token_hash, creator_id, expires_at,
                                            max_uses)
        if found:
            await conn.execute(_SQL_ADD_ROOMS, invitation_id,
                               [row["id"] for row in found.values()])
        await conn.execute(_SQL_AUDIT_CREATE, creator_id, json.dumps({
            "invitation": invitation_id, "max_uses": max_uses, "expires_at": expires_at,
            "rooms": list(rooms)}))
        return _invitation(await conn.fetchrow(_SQL_ONE, invitation_id))


async def invitations(pool: Any, creator_id: int | None, before: int | None, limit: int
                      ) -> list[Invitation]:
    rows = await pool.fetch(_SQL_LIST, creator_id, _MAX_ID if before is None else before,
                            limit)
    return [_invitation(row) for row in rows]


async def revoke_invitation(pool: Any, invitation_id: int, user_id: int | None,
                            anyone: bool) -> Invitation:
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(_SQL_ONE, invitation_id)
        if row is None or not (anyone or row["creator_id"] == user_id):
            raise ChatError(codes.NOT_FOUND, f"you have no invitation {invitation_id}")
        await conn.execute(_SQL_REVOKE, invitation_id, user_id)
        return _invitation(await conn.fetchrow(_SQL_ONE, invitation_id))


async def invitation_by_hash(pool: Any, token_hash: bytes) -> Invitation | None:
    row = await pool.fetchrow(_SQL_BY_HASH, token_hash)
    return None if row is None else _invitation(row)


async def register_invited(pool: Any, name: str, password_hash: str, token_hash: bytes,
                           create_user_sql: str, to_user: Callable[[Any], User]
                           ) -> InvitedUser:
    async with pool.acquire() as conn, conn.transaction():
        taken = await conn.fetchrow(_SQL_TAKE_USE, token_hash)
        if taken is None:
            row = await conn.fetchrow(_SQL_BY_HASH, token_hash)
            raise invitation_refusal(None if row is None else _invitation(row))
        user_row = await conn.fetchrow(create_user_sql, name, password_hash, False)
        if user_row is None:
            raise ChatError(codes.CONFLICT, f"the name {name!r} is taken")
        user = to_user(user_row)
        rooms = [row["name"] for row in await conn.fetch(_SQL_JOIN_ROOMS, taken["id"], user.id)]
        await conn.execute(_SQL_RECORD_USE, taken["id"], user.id)
    return InvitedUser(user=user, rooms=tuple(rooms), by=taken["by"])
