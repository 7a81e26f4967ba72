"""A user's own sidebar sections (migration 0041): the list on their row, and the section of
each of their memberships.

Asyncio side of the matching :class:`chatd.storage.postgres.PostgresStorage` methods: each
function here takes the pool and runs one statement, or one short transaction, on it.

Every change of the list reads it under the lock of the user's row (``FOR NO KEY UPDATE``,
which leaves the row's key, and so every foreign key to it, free), applies the rule of
:mod:`chatd.sections` to it and writes it back: two changes at once, from two devices, take
turns, and each one's rule sees the list the other left (two creations of "Work" at once make
one section and a ``conflict``). A deletion clears its memberships in the same transaction. A
move (:func:`set_section`) reads the list under a share lock, which waits for a deletion in
flight and lets other moves through: the section it puts a room into is then in the list as
committed, or the move is refused.
"""

from __future__ import annotations

from typing import Any

from chatd.errors import ChatError
from chatd.protocol import codes
from chatd.protocol.names import is_conversation
from chatd.sections import (
    SectionList,
    create,
    delete,
    edit,
    find,
    sections_from_json,
    sections_to_json,
)
from chatd.storage.base import SectionsChange

__all__ = ["create_section", "delete_section", "edit_section", "sections", "set_section"]

_SQL_SECTIONS = "SELECT sections FROM users WHERE id = $1"
_SQL_LOCKED = "SELECT sections FROM users WHERE id = $1 FOR NO KEY UPDATE"
_SQL_SHARED = "SELECT sections FROM users WHERE id = $1 FOR SHARE"
_SQL_WRITE = "UPDATE users SET sections = $2::jsonb WHERE id = $1"
_SQL_NEXT_ID = "SELECT nextval('section_ids')"
# A deleted section's rooms back in the default lists: the user's memberships (their index).
_SQL_RETURN_ROOMS = "UPDATE memberships SET section = NULL WHERE user_id = $1 AND section = $2"
# Room $1 into section $3 (NULL: none) for member $2, written only when it differs; "member"
# from the statement's snapshot.
_SQL_SET_SECTION = """
WITH r AS (
    SELECT id FROM rooms WHERE name = $1
), k AS (
    SELECT 1 FROM memberships m JOIN r ON m.room_id = r.id WHERE m.user_id = $2
), moved AS (
    UPDATE memberships m SET section = $3::bigint
    FROM r WHERE m.room_id = r.id AND m.user_id = $2 AND m.section IS DISTINCT FROM $3::bigint
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM r) AS found, EXISTS (SELECT 1 FROM k) AS member,
       EXISTS (SELECT 1 FROM moved) AS changed
"""


async def sections(pool: Any, user_id: int) -> SectionList:
    return sections_from_json(await pool.fetchval(_SQL_SECTIONS, user_id))


async def _locked(conn: Any, user_id: int) -> SectionList:
    return sections_from_json(await conn.fetchval(_SQL_LOCKED, user_id))


async def create_section(pool: Any, user_id: int, name: str, position: int | None,
                         most: int) -> SectionsChange:
    async with pool.acquire() as conn, conn.transaction():
        was = await _locked(conn, user_id)
        now = create(was, section_id=await conn.fetchval(_SQL_NEXT_ID), name=name,
                     position=position, most=most)
        await conn.execute(_SQL_WRITE, user_id, sections_to_json(now))
    made = next(s for s in now if s not in was)
    return SectionsChange(sections=now, section=made)


async def edit_section(pool: Any, user_id: int, section: int, name: str | None,
                       collapsed: bool | None, position: int | None) -> SectionsChange:
    async with pool.acquire() as conn, conn.transaction():
        was = await _locked(conn, user_id)
        now = edit(was, section, name=name, collapsed=collapsed, position=position)
        if now != was:
            await conn.execute(_SQL_WRITE, user_id, sections_to_json(now))
    return SectionsChange(sections=now, section=find(now, section), changed=now != was)


async def delete_section(pool: Any, user_id: int, section: int) -> SectionsChange:
    async with pool.acquire() as conn, conn.transaction():
        was = await _locked(conn, user_id)
        now = delete(was, section)
        await conn.execute(_SQL_WRITE, user_id, sections_to_json(now))
        await conn.execute(_SQL_RETURN_ROOMS, user_id, section)
    return SectionsChange(sections=now, section=find(was, section))


async def set_section(pool: Any, user_id: int, room: str, section: int | None) -> bool:
    async with pool.acquire() as conn, conn.transaction():
        if section is not None:
            listed = sections_from_json(await conn.fetchval(_SQL_SHARED, user_id))
            if find(listed, section) is None:
                raise ChatError(codes.NOT_FOUND, f"you have no section {section}")
        row = await conn.fetchrow(_SQL_SET_SECTION, room, user_id, section)
    if not row["found"]:
        what = "conversation" if is_conversation(room) else "room"
        raise ChatError(codes.NOT_FOUND, f"there is no {what} {room!r}")
    if not row["member"]:
        raise ChatError(codes.FORBIDDEN, f"you are not a member of {room!r}")
    return bool(row["changed"])
