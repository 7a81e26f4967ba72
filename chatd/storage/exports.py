"""A user's exports of their own data (migration 0052): the rows that say how each one goes,
and the reads an archive is made of that no other feature makes (chatd/export.py).

Asyncio side of the matching :class:`chatd.storage.postgres.PostgresStorage` methods: each
function here takes the pool and runs one statement, or one short transaction, on it.

Starting an export locks the user's row (``FOR NO KEY UPDATE``: nothing that refers to the
user waits for it), so two starts of one user, on two nodes, take turns: the second sees the
first's row and is refused ``conflict``, and both count the same rows of the last hour for the
rate limit. A running export whose lease ran out (its node died, or stopped without finishing
it) is marked failed first, in the same transaction: a dead node never blocks its user.

Every read of the archive's content is bounded: a page of ``limit`` rows after a key (the
user's files by id), or a list bounded by the user's own memberships.
"""

from __future__ import annotations

import json
from typing import Any

from chatd.errors import ChatError
from chatd.protocol import codes
from chatd.storage.base import ExportedFile, ExportState
from chatd.storage.sql import ms as _ms

__all__ = [
    "expire_exports",
    "export_account",
    "export_files",
    "export_rooms",
    "export_state",
    "fail_export",
    "finish_export",
    "record_export",
    "renew_export",
    "sent_rooms",
    "start_export",
]

#: What a running export whose lease ran out says it failed of.
INTERRUPTED = "interrupted: the server building it stopped; start it again"

_COLUMNS = f"""e.id, e.state, e.lease_until < now() AS lapsed, {_ms("e.started_at")} AS started_at,
       {_ms("e.finished_at")} AS finished_at, {_ms("e.expires_at")} AS expires_at, e.sha256,
       e.size, e.messages, e.files, e.error"""

_SQL_LOCK_USER = "SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE"
_SQL_FAIL_LAPSED = f"""
UPDATE exports SET state = 'failed', finished_at = now(), error = '{INTERRUPTED}'
WHERE user_id = $1 AND state = 'running' AND lease_until < now()
"""
_SQL_RUNNING = "SELECT id FROM exports WHERE user_id = $1 AND state = 'running'"
# The user's exports of the last hour: how many, and when the oldest of them leaves the hour.
_SQL_LAST_HOUR = """
SELECT count(*) AS started,
       extract(epoch FROM min(started_at) + interval '1 hour' - now())::float8 AS free_in
FROM exports WHERE user_id = $1 AND started_at > now() - interval '1 hour'
"""
_SQL_INSERT = f"""
INSERT INTO exports AS e (user_id, lease_until)
VALUES ($1, now() + $2::float8 * interval '1 second')
RETURNING {_COLUMNS}
"""
_SQL_AUDIT = """
INSERT INTO audit_log (actor_id, action, target_id, details)
VALUES ($1, 'export', $2, $3::jsonb)
"""
_SQL_LATEST = f"""
SELECT {_COLUMNS} FROM exports e WHERE e.user_id = $1 ORDER BY e.id DESC LIMIT 1
"""
# The newest export still there to download: while a newer one runs (or failed), the one
# made before it is the user's all the same until it expires.
_SQL_LATEST_READY = f"""
SELECT {_COLUMNS} FROM exports e
WHERE e.user_id = $1 AND e.state = 'ready' AND e.expires_at > now()
ORDER BY e.id DESC LIMIT 1
"""
_SQL_RENEW = """
UPDATE exports SET lease_until = now() + $2::float8 * interval '1 second', messages = $3,
                   files = $4
WHERE id = $1 AND state = 'running'
RETURNING id
"""
_SQL_FINISH = f"""
UPDATE exports e SET state = 'ready', finished_at = now(), sha256 = $2, size = $3,
                     messages = $4, files = $5,
                     expires_at = now() + $6::float8 * interval '1 second'
WHERE e.id = $1 AND e.state = 'running'
RETURNING {_COLUMNS}
"""
_SQL_FAIL = """
UPDATE exports SET state = 'failed', finished_at = now(), error = $2
WHERE id = $1 AND state = 'running'
"""
# The archives due to go: marked expired (their bytes then removed by the caller), at most
# $1 at once; rows long over are forgotten ($2 seconds after they started).
_SQL_EXPIRE = """
WITH due AS (
    SELECT id, sha256 FROM exports
    WHERE state = 'ready' AND expires_at <= now()
    ORDER BY expires_at LIMIT $1
    FOR UPDATE SKIP LOCKED
), gone AS (
    UPDATE exports e SET state = 'expired', sha256 = NULL FROM due WHERE e.id = due.id
)
SELECT sha256 FROM due
"""
_SQL_FORGET = """
DELETE FROM exports
WHERE state IN ('failed', 'expired') AND started_at < now() - $1::float8 * interval '1 second'
"""

# The account as the user sees it: profile, settings and address.
_SQL_ACCOUNT = f"""
SELECT u.name, u.display_name, u.status_emoji, u.status_text,
       {_ms("u.status_until")} AS status_until, u.avatar, u.admin, u.bot,
       {_ms("u.created_at")} AS created_at, {_ms("u.dnd_until")} AS dnd_until,
       u.read_receipts, u.keywords, u.sections, u.email, u.email_confirmed, u.email_notify
FROM users u WHERE u.id = $1
"""
# The rooms and conversations the user is a member of, by name, with their membership; the
# other members of a conversation (a few, by its shape).
_SQL_ROOMS = f"""
SELECT r.name, r.kind, r.private, r.topic, r.archived, o.name AS owner,
       {_ms("r.created_at")} AS created_at, {_ms("m.joined_at")} AS joined_at, m.read_seq,
       CASE WHEN r.owner_id = m.user_id THEN 'owner' ELSE m.role END AS role, m.notify,
       {_ms("m.favourite_at")} AS favourite_at, m.section, m.hidden_seq IS NOT NULL AS hidden,
       CASE WHEN r.kind <> 'room' THEN (
           SELECT array_agg(pu.name ORDER BY lower(pu.name))
           FROM memberships pm JOIN users pu ON pu.id = pm.user_id
           WHERE pm.room_id = r.id AND pm.user_id <> m.user_id
       ) END AS peers
FROM memberships m JOIN rooms r ON r.id = m.room_id
LEFT JOIN users o ON o.id = r.owner_id
WHERE m.user_id = $1 AND r.deleted_at IS NULL
ORDER BY r.name
"""
# The rooms and conversations the user ever sent a message in (a walk of their messages'
# (sender, nonce) key, once per export), with their kind, by name.
_SQL_SENT_ROOMS = """
SELECT r.name, r.kind FROM rooms r
WHERE r.deleted_at IS NULL
  AND r.id IN (SELECT DISTINCT room_id FROM messages WHERE sender_id = $1)
ORDER BY r.name
"""
# The user's kept uploads after id $2, $3 at most (link preview images are the server's).
_SQL_FILES = f"""
SELECT f.id, f.name, f.size, f.content_type, f.sha256, r.name AS room, f.message_id,
       {_ms("f.created_at")} AS ts, f.avatar, f.emoji
FROM files f LEFT JOIN rooms r ON r.id = f.room_id
WHERE f.uploader_id = $1 AND f.deleted_at IS NULL AND NOT f.preview AND f.id > $2
ORDER BY f.id
LIMIT $3
"""


def _state(row: Any) -> ExportState:
    lapsed = row["state"] == "running" and row["lapsed"]
    return ExportState(id=row["id"], state="failed" if lapsed else row["state"],
                       started_at=row["started_at"], finished_at=row["finished_at"],
                       expires_at=row["expires_at"], sha256=row["sha256"], size=row["size"],
                       messages=row["messages"], files=row["files"],
                       error=INTERRUPTED if lapsed else row["error"])


async def start_export(pool: Any, user_id: int, per_hour: int, lease: float) -> ExportState:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(_SQL_LOCK_USER, user_id)
        await conn.execute(_SQL_FAIL_LAPSED, user_id)
        if await conn.fetchval(_SQL_RUNNING, user_id) is not None:
            raise ChatError(codes.CONFLICT, "an export of your data is being made already; "
                            "wait for it to be ready")
        hour = await conn.fetchrow(_SQL_LAST_HOUR, user_id)
        if hour["started"] >= per_hour:
            raise ChatError(codes.RATE_LIMITED,
                            f"you may start {per_hour} export(s) of your data an hour",
                            retry_after=max(1.0, hour["free_in"] or 0.0))
        row = await conn.fetchrow(_SQL_INSERT, user_id, lease)
        await conn.execute(_SQL_AUDIT, user_id, user_id, json.dumps({"export": row["id"]}))
    return _state(row)


async def record_export(pool: Any, user_id: int, details: dict[str, Any]) -> None:
    """The audit log's ``export`` entry of an export made on the command line (no actor)."""
    await pool.execute(_SQL_AUDIT, None, user_id, json.dumps(details))


async def export_state(pool: Any, user_id: int, ready: bool) -> ExportState | None:
    row = await pool.fetchrow(_SQL_LATEST_READY if ready else _SQL_LATEST, user_id)
    return None if row is None else _state(row)


async def renew_export(pool: Any, export_id: int, lease: float, messages: int,
                       files: int) -> bool:
    return await pool.fetchval(_SQL_RENEW, export_id, lease, messages, files) is not None


async def finish_export(pool: Any, export_id: int, sha256: str, size: int, messages: int,
                        files: int, keep: float) -> ExportState | None:
    row = await pool.fetchrow(_SQL_FINISH, export_id, sha256, size, messages, files, keep)
    return None if row is None else _state(row)


async def fail_export(pool: Any, export_id: int, error: str) -> None:
    await pool.execute(_SQL_FAIL, export_id, error)


async def expire_exports(pool: Any, limit: int, forget_after: float) -> list[str]:
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(_SQL_EXPIRE, limit)
        await conn.execute(_SQL_FORGET, forget_after)
    return [row["sha256"] for row in rows]


async def export_account(pool: Any, user_id: int) -> dict[str, Any]:
    row = await pool.fetchrow(_SQL_ACCOUNT, user_id)
    if row is None:
        raise ChatError(codes.NOT_FOUND, "there is no such user")
    status = None
    if row["status_text"] is not None:
        status = {"emoji": row["status_emoji"], "text": row["status_text"],
                  "until": row["status_until"]}
    email = None
    if row["email"] is not None:
        email = {"address": row["email"], "confirmed": row["email_confirmed"],
                 "notify": row["email_notify"]}
    return {
        "name": row["name"], "display_name": row["display_name"], "custom_status": status,
        "avatar": row["avatar"], "admin": row["admin"], "bot": row["bot"],
        "created_at": row["created_at"], "email": email,
        "settings": {
            "dnd_until": row["dnd_until"], "read_receipts": row["read_receipts"],
            "keywords": list(row["keywords"] or ()),
            "sections": json.loads(row["sections"]) if row["sections"] else [],
        },
    }


async def export_rooms(pool: Any, user_id: int) -> list[dict[str, Any]]:
    rows = await pool.fetch(_SQL_ROOMS, user_id)
    rooms: list[dict[str, Any]] = []
    for row in rows:
        room: dict[str, Any] = {
            "room": row["name"], "kind": row["kind"], "private": row["private"],
            "topic": row["topic"], "archived": row["archived"], "owner": row["owner"],
            "created_at": row["created_at"], "joined_at": row["joined_at"],
            "role": row["role"], "notify": row["notify"], "read_seq": row["read_seq"],
            "favourite": row["favourite_at"] is not None,
            "favourite_at": row["favourite_at"], "section": row["section"],
            "hidden": row["hidden"],
        }
        if row["peers"] is not None:
            room["peers"] = list(row["peers"])
        rooms.append(room)
    return rooms


async def sent_rooms(pool: Any, user_id: int) -> list[tuple[str, str]]:
    return [(row["name"], row["kind"]) for row in await pool.fetch(_SQL_SENT_ROOMS, user_id)]


async def export_files(pool: Any, user_id: int, after: int, limit: int) -> list[ExportedFile]:
    rows = await pool.fetch(_SQL_FILES, user_id, after, limit)
    return [ExportedFile(id=row["id"], name=row["name"], size=row["size"],
                         content_type=row["content_type"], sha256=row["sha256"],
                         room=row["room"], message_id=row["message_id"], ts=row["ts"],
                         use="avatar" if row["avatar"] else "emoji" if row["emoji"]
                         else "upload")
            for row in rows]
