"""User groups (migration 0035): a named set of users, mentioned together as ``@name``.

Asyncio side of the matching :class:`chatd.storage.postgres.PostgresStorage` methods: each
function here takes the pool and runs one statement, or one short transaction, on it.

Who may change a group (its members, its creator, an administrator) is decided here, on the
group's row as locked (``FOR UPDATE``), so that a change and a deletion of one group take
turns. The server's count of groups is taken under an advisory lock of its own, so that two
creations at once cannot both pass ``limits.user_groups`` by one. That a group never takes a
user's name, nor a new account a group's, is the migration's triggers' work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chatd.errors import ChatError
from chatd.protocol import codes
from chatd.storage.base import UserGroup, UserGroupChange
from chatd.storage.sql import ms as _ms

__all__ = ["create_user_group", "delete_user_group", "edit_user_group", "user_group",
           "user_group_mentions", "user_group_names", "user_groups"]

_COLUMNS = f"""g.id, g.name, g.description, g.creator_id, {_ms("g.created_at")} AS ts,
       (SELECT c.name FROM users c WHERE c.id = g.creator_id) AS by,
       (SELECT count(*) FROM user_group_members n WHERE n.group_id = g.id) AS members"""

_SQL_LIST = f"""
SELECT {_COLUMNS},
       EXISTS (SELECT 1 FROM user_group_members y
               WHERE y.group_id = g.id AND y.user_id = $1) AS you
FROM user_groups g ORDER BY g.name
"""
_SQL_ONE = f"SELECT {_COLUMNS} FROM user_groups g WHERE g.name = $1"
_SQL_LOCKED = f"SELECT {_COLUMNS} FROM user_groups g WHERE g.name = $1 FOR UPDATE"
_SQL_MEMBERS = """
SELECT u.name FROM user_group_members m JOIN users u ON u.id = m.user_id
WHERE m.group_id = $1 ORDER BY lower(u.name)
"""
# The users named ($1, lower case), for a change's member lists.
_SQL_USERS = "SELECT id, name FROM users WHERE lower(name) = ANY ($1::text[])"
# One creation at a time counts the groups (an advisory lock of its own).
_SQL_LOCK_COUNT = ("SELECT pg_advisory_xact_lock(hashtextextended('chatd user groups', 0)), "
                   "(SELECT count(*) FROM user_groups) AS n")
# Nothing when the name is taken: by a group (the unique index) or by a user (the trigger).
_SQL_CREATE = f"""
INSERT INTO user_groups AS g (name, description, creator_id) VALUES ($1, $2, $3)
ON CONFLICT (name) DO NOTHING
RETURNING {_COLUMNS}
"""
_SQL_ADD = """
INSERT INTO user_group_members (group_id, user_id) SELECT $1, unnest($2::bigint[])
ON CONFLICT DO NOTHING RETURNING user_id
"""
_SQL_REMOVE = """
DELETE FROM user_group_members WHERE group_id = $1 AND user_id = ANY ($2::bigint[])
RETURNING user_id
"""
_SQL_IS_MEMBER = """
SELECT EXISTS (SELECT 1 FROM user_group_members WHERE group_id = $1 AND user_id = $2)
"""
_SQL_DESCRIBE = "UPDATE user_groups SET description = $2 WHERE id = $1"
_SQL_COUNT = "SELECT count(*) FROM user_group_members WHERE group_id = $1"
_SQL_DELETE = "DELETE FROM user_groups WHERE id = $1"
# A text's user groups among its candidates ($3, lower case) and their members who are
# members of room $1 now and not deactivated, sender $2 aside: the unique index on the name,
# then each group's members by its primary key, each checked against the room's membership
# (its primary key) and the user's row.
_SQL_MENTIONS = """
SELECT g.name, array_remove(array_agg(m.user_id), NULL) AS covered
FROM user_groups g
LEFT JOIN LATERAL (
    SELECT gm.user_id FROM user_group_members gm
    JOIN memberships rm ON rm.user_id = gm.user_id
        AND rm.room_id = (SELECT id FROM rooms WHERE name = $1)
    JOIN users u ON u.id = gm.user_id AND u.deactivated_at IS NULL
    WHERE gm.group_id = g.id AND gm.user_id <> $2
) m ON true
WHERE g.name = ANY ($3::text[])
GROUP BY g.name
ORDER BY g.name
"""


def _group(row: Any, *, you: bool = False, members: int | None = None) -> UserGroup:
    return UserGroup(name=row["name"], description=row["description"],
                     members=int(row["members"]) if members is None else members,
                     by=row["by"], ts=row["ts"], you=you)


def _sorted(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted(names, key=str.lower))


async def user_group_mentions(pool: Any, room: str, user_id: int, candidates: Sequence[str]
                              ) -> tuple[tuple[str, ...], tuple[int, ...]]:
    rows = await pool.fetch(_SQL_MENTIONS, room, user_id, list(candidates))
    return (tuple(row["name"] for row in rows),
            tuple(sorted({uid for row in rows for uid in row["covered"]})))


async def user_group_names(pool: Any) -> list[str]:
    return [row["name"] for row in await pool.fetch("SELECT name FROM user_groups")]


async def user_groups(pool: Any, user_id: int) -> list[UserGroup]:
    return [_group(row, you=row["you"]) for row in await pool.fetch(_SQL_LIST, user_id)]


async def user_group(pool: Any, name: str) -> tuple[UserGroup, list[str]] | None:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read",
                                                        readonly=True):
        row = await conn.fetchrow(_SQL_ONE, name)
        if row is None:
            return None
        return _group(row), [r["name"] for r in await conn.fetch(_SQL_MEMBERS, row["id"])]


async def _users(conn: Any, names: Sequence[str]) -> dict[str, tuple[int, str]]:
    """The users ``names`` (any case) name, by lower-case name.

    Raises:
        ChatError('not_found'): naming the first that is nobody.
    """
    if not names:
        return {}
    found = {row["name"].lower(): (row["id"], row["name"])
             for row in await conn.fetch(_SQL_USERS, [n.lower() for n in names])}
    for name in names:
        if name.lower() not in found:
            raise ChatError(codes.NOT_FOUND, f"there is no user {name!r}")
    return found


def _too_many(max_members: int) -> ChatError:
    return ChatError(codes.BAD_REQUEST, f"a user group has at most {max_members} members "
                                        "(limits.user_group_members)")


async def create_user_group(pool: Any, name: str, description: str, creator_id: int,
                            members: Sequence[str], max_groups: int,
                            max_members: int) -> UserGroupChange:
    if len(members) > max_members:
        raise _too_many(max_members)
    async with pool.acquire() as conn, conn.transaction():
        count = await conn.fetchrow(_SQL_LOCK_COUNT)
        if count["n"] >= max_groups:
            raise ChatError(codes.BAD_REQUEST, f"the server has {max_groups} user groups, the "
                                               "most it may have (limits.user_groups)")
        found = await _users(conn, members)
        row = await conn.fetchrow(_SQL_CREATE, name, description, creator_id)
        if row is None:
            raise ChatError(codes.CONFLICT, f"the name {name!r} is taken (a user or a group "
                                            "has it)")
        if found:
            await conn.fetch(_SQL_ADD, row["id"], [uid for uid, _ in found.values()])
    return UserGroupChange(group=_group(row, members=len(found)),
                           added=_sorted([n for _, n in found.values()]))


async def _locked(conn: Any, name: str, user_id: int, admin: bool) -> Any:
    """Group ``name``'s row, locked, if ``user_id`` may change it.

    Raises:
        ChatError: 'not_found', 'forbidden'.
    """
    row = await conn.fetchrow(_SQL_LOCKED, name)
    if row is None:
        raise ChatError(codes.NOT_FOUND, f"there is no user group {name!r}")
    if not (admin or row["creator_id"] == user_id
            or await conn.fetchval(_SQL_IS_MEMBER, row["id"], user_id)):
        raise ChatError(codes.FORBIDDEN, "only a user group's members, its creator and "
                                         "server administrators may change it")
    return row


async def edit_user_group(pool: Any, name: str, user_id: int, admin: bool,
                          description: str | None, add: Sequence[str], remove: Sequence[str],
                          max_members: int) -> UserGroupChange:
    async with pool.acquire() as conn, conn.transaction():
        row = await _locked(conn, name, user_id, admin)
        adding = await _users(conn, add)
        removing = await _users(conn, remove)
        names = dict((*adding.values(), *removing.values()))
        if description is not None and description != row["description"]:
            await conn.execute(_SQL_DESCRIBE, row["id"], description)
        added = [r["user_id"] for r in await conn.fetch(
            _SQL_ADD, row["id"], [uid for uid, _ in adding.values()])] if adding else []
        removed = [r["user_id"] for r in await conn.fetch(
            _SQL_REMOVE, row["id"], [uid for uid, _ in removing.values()])] if removing else []
        members = int(await conn.fetchval(_SQL_COUNT, row["id"]))
        if added and members > max_members:
            raise _too_many(max_members)  # rolls the change back
        after = await conn.fetchrow(_SQL_ONE, name)
    return UserGroupChange(group=_group(after, members=members),
                           added=_sorted([names[uid] for uid in added]),
                           removed=_sorted([names[uid] for uid in removed]))


async def delete_user_group(pool: Any, name: str, user_id: int, admin: bool
                            ) -> UserGroupChange:
    async with pool.acquire() as conn, conn.transaction():
        row = await _locked(conn, name, user_id, admin)
        members = [r["name"] for r in await conn.fetch(_SQL_MEMBERS, row["id"])]
        await conn.execute(_SQL_DELETE, row["id"])
    return UserGroupChange(group=_group(row), removed=tuple(members))
