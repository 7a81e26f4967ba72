"""A user's drafts (migration 0049): the half-typed message of each room and thread of
theirs, kept on the server so that every device of theirs has it.

Asyncio side of the matching :class:`chatd.storage.postgres.PostgresStorage` methods: each
function here takes the pool and runs one statement, or one short transaction, on it.

Storing a draft the user has no draft of yet counts their drafts under the lock of their row
(``FOR NO KEY UPDATE``, which leaves the row's key, and every foreign key to it, free): two
devices storing new drafts at once take turns, and the second one counts the first one's.
Replacing or deleting a draft takes no lock (it cannot pass the limit). The membership is
checked by the foreign key (a draft of a room the user left cannot be stored) and, for a clear
refusal, read in the same statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chatd.errors import ChatError
from chatd.protocol import codes
from chatd.protocol.names import is_conversation
from chatd.storage.base import StoredDraft
from chatd.storage.sql import ms as _ms
from chatd.storage.sql import ts as _ts

__all__ = ["clear_sent_drafts", "draft_keys", "drafts", "set_draft"]

_SQL_DRAFTS = f"""
SELECT r.name AS room, d.thread, d.text, {_ms("d.updated_at")} AS updated_at
FROM drafts d JOIN rooms r ON r.id = d.room_id
WHERE d.user_id = $1
ORDER BY d.updated_at DESC, r.name, d.thread
"""
_SQL_LOCK_USER = "SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE"
_SQL_COUNT_DRAFTS = "SELECT count(*) FROM drafts WHERE user_id = $1"
# Room $1 of member $2: its id (NULL: no such room), whether $2 is a member, whether $2 has
# a draft of thread $3 of it.
_SQL_DRAFT_PLACE = """
WITH r AS (SELECT id FROM rooms WHERE name = $1)
SELECT (SELECT id FROM r) AS room_id,
       EXISTS (SELECT 1 FROM memberships m JOIN r ON m.room_id = r.id
               WHERE m.user_id = $2) AS member,
       EXISTS (SELECT 1 FROM drafts d JOIN r ON d.room_id = r.id
               WHERE d.user_id = $2 AND d.thread = $3) AS has
"""
# Store text $4 as draft ($1 user, $2 room id, $3 thread), unless it is stored already.
_SQL_UPSERT_DRAFT = f"""
INSERT INTO drafts AS d (user_id, room_id, thread, text) VALUES ($1, $2, $3, $4)
ON CONFLICT (user_id, room_id, thread) DO UPDATE
    SET text = EXCLUDED.text, updated_at = clock_timestamp()
    WHERE d.text IS DISTINCT FROM EXCLUDED.text
RETURNING {_ms("d.updated_at")} AS updated_at
"""
_SQL_DELETE_DRAFT = f"""
DELETE FROM drafts d USING rooms r
WHERE r.name = $1 AND d.room_id = r.id AND d.user_id = $2 AND d.thread = $3
RETURNING {_ms("clock_timestamp()")} AS updated_at
"""
_SQL_DRAFT_KEYS = """
SELECT lower(u.name) AS user, r.name AS room, d.thread
FROM users u JOIN drafts d ON d.user_id = u.id JOIN rooms r ON r.id = d.room_id
WHERE lower(u.name) = ANY($1::text[])
"""
# The drafts sent: user $1[i]'s draft of room $2[i], thread $3[i], stored no later than the
# message's ts $4[i] (ms: the draft's time rounded down may equal it).
_SQL_CLEAR_SENT = f"""
WITH sent AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])
        AS s(user_name, room, thread, ts)
)
DELETE FROM drafts d
USING sent s, users u, rooms r
WHERE lower(u.name) = lower(s.user_name) AND r.name = s.room
  AND d.user_id = u.id AND d.room_id = r.id AND d.thread = s.thread
  AND d.updated_at < {_ts("s.ts")} + interval '1 millisecond'
RETURNING u.name AS user, r.name AS room, d.thread, s.ts
"""


def _thread(value: int) -> int | None:
    return value or None


async def drafts(pool: Any, user_id: int) -> list[StoredDraft]:
    rows = await pool.fetch(_SQL_DRAFTS, user_id)
    return [StoredDraft(room=row["room"], thread=_thread(row["thread"]), text=row["text"],
                        updated_at=row["updated_at"]) for row in rows]


async def set_draft(pool: Any, user_id: int, room: str, thread: int | None, text: str,
                    most: int) -> StoredDraft | None:
    key = thread or 0
    if not text:
        row = await pool.fetchrow(_SQL_DELETE_DRAFT, room, user_id, key)
        if row is None:
            return None
        return StoredDraft(room=room, thread=thread, text="", updated_at=row["updated_at"])
    async with pool.acquire() as conn, conn.transaction():
        place = await conn.fetchrow(_SQL_DRAFT_PLACE, room, user_id, key)
        if place["room_id"] is None:
            what = "conversation" if is_conversation(room) else "room"
            raise ChatError(codes.NOT_FOUND, f"there is no {what} {room!r}")
        if not place["member"]:
            raise ChatError(codes.FORBIDDEN, f"you are not a member of {room!r}")
        if not place["has"]:
            await conn.execute(_SQL_LOCK_USER, user_id)
            # counted again after the lock: a new statement sees what the other committed
            count = await conn.fetchval(_SQL_COUNT_DRAFTS, user_id)
            if count >= most:
                raise ChatError(codes.TOO_MANY_DRAFTS,
                                f"you have {most} drafts already (limits.drafts_per_user): "
                                "send or delete some first")
        stored = await conn.fetchval(_SQL_UPSERT_DRAFT, user_id, place["room_id"], key, text)
    if stored is None:
        return None
    return StoredDraft(room=room, thread=thread, text=text, updated_at=stored)


async def draft_keys(pool: Any, users: Sequence[str]) -> dict[str, set[tuple[str, int]]]:
    names = sorted({user.lower() for user in users})
    keys: dict[str, set[tuple[str, int]]] = {name: set() for name in names}
    for row in await pool.fetch(_SQL_DRAFT_KEYS, names):
        keys[row["user"]].add((row["room"], row["thread"]))
    return keys


async def clear_sent_drafts(pool: Any, sent: Sequence[tuple[str, str, int, int]]
                            ) -> list[tuple[str, StoredDraft]]:
    if not sent:
        return []
    users, rooms, threads, stamps = (list(column) for column in zip(*sent, strict=True))
    rows = await pool.fetch(_SQL_CLEAR_SENT, users, rooms, threads, stamps)
    return [(row["user"], StoredDraft(room=row["room"], thread=_thread(row["thread"]),
                                      text="", updated_at=row["ts"])) for row in rows]
