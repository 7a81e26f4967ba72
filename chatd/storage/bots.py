"""Bots, their API tokens, incoming webhooks and rooms' outgoing webhooks (migration 0013).

Asyncio side of the matching :class:`chatd.storage.postgres.PostgresStorage` methods: each
function here takes the pool and runs one statement, or one short transaction, on it.

Secrets are never stored: a bot token and an incoming webhook's URL are looked up by the
SHA-256 of the secret (the unique index on ``hash``). An outgoing webhook's secret is the key
deliveries are signed with, so it is kept as given. Using a token or a hook notes the time in
``last_used_at``, at most once a minute per row, so that a busy bot does not write a row
version per request.

Who may manage what is decided in the statements (one round trip, no race between a check
and the write): a bot's owner is checked by the caller (:mod:`chatd.actions.bots`), a room's
owner here. Server administrators may do all of it; the ``admin`` flag comes from the caller,
which reads it with :func:`is_admin`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from chatd.errors import ChatError
from chatd.protocol import codes
from chatd.sections import sections_from_json
from chatd.storage.base import (
    Bot,
    BotToken,
    Hook,
    HookTarget,
    RoomWebhook,
    User,
    WebhookTargets,
)
from chatd.storage.sql import ms as _ms

__all__ = [
    "add_bot_token",
    "add_hook",
    "bots",
    "check_bot_token",
    "create_bot",
    "delete_hook",
    "delete_room_webhook",
    "find_hook",
    "get_bot",
    "hooks",
    "is_admin",
    "revoke_bot_tokens",
    "room_webhook",
    "set_room_webhook",
    "webhook_targets",
]

# Server administrators are users.admin, a column that the moderation migration (0014, to
# come) adds. Read through the row's JSON so that this works with and without it (false
# without).
_SQL_IS_ADMIN = """
SELECT u.admin FROM users u WHERE u.id = $1
"""

_TOKEN_JSON = f"""
json_build_object('id', t.id, 'name', t.name, 'created_at', {_ms('t.created_at')},
                  'last_used_at', {_ms('t.last_used_at')},
                  'revoked_at', {_ms('t.revoked_at')})
"""

# Bots ($1: their owner; NULL: every bot; $2: one name, any case; NULL: all), with their
# tokens as JSON, by name.
_SQL_BOTS = f"""
SELECT u.id, u.name, {_ms('u.created_at')} AS created_at, u.owner_id, o.name AS owner,
       coalesce((SELECT json_agg({_TOKEN_JSON} ORDER BY t.id) FROM bot_tokens t
                 WHERE t.user_id = u.id)::text, '[]') AS tokens
FROM users u LEFT JOIN users o ON o.id = u.owner_id
WHERE u.bot AND ($1::bigint IS NULL OR u.owner_id = $1)
  AND ($2::text IS NULL OR lower(u.name) = lower($2))
ORDER BY lower(u.name)
"""

# A bot account, if its owner ($1) exists and is no bot and the name ($2) is free.
_SQL_CREATE_BOT = f"""
WITH o AS (
    SELECT id, name, bot FROM users WHERE id = $1
), b AS (
    INSERT INTO users (name, password_hash, bot, owner_id)
    SELECT $2, '', true, o.id FROM o WHERE NOT o.bot
    ON CONFLICT ((lower(name))) DO NOTHING
    RETURNING id, name, created_at
)
SELECT o.name AS owner, o.bot AS owner_is_bot, b.id, b.name,
       {_ms('b.created_at')} AS created_at
FROM (VALUES (1)) AS one (x) LEFT JOIN o ON true LEFT JOIN b ON true
"""

_SQL_ADD_TOKEN = f"""
INSERT INTO bot_tokens (user_id, name, hash) VALUES ($1, $2, $3)
RETURNING id, name, {_ms('created_at')} AS created_at
"""

_SQL_REVOKE_TOKENS = """
UPDATE bot_tokens SET revoked_at = now()
WHERE user_id = $1 AND ($2::bigint IS NULL OR id = $2) AND revoked_at IS NULL
RETURNING id
"""

# The bot of a token that works, and the token; its last use is noted once a minute.
_SQL_CHECK_TOKEN = f"""
WITH t AS (
    SELECT id, user_id, name, created_at, last_used_at FROM bot_tokens
    WHERE hash = $1 AND revoked_at IS NULL
), touched AS (
    UPDATE bot_tokens x SET last_used_at = now() FROM t
    WHERE x.id = t.id AND (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute')
    RETURNING x.last_used_at
)
SELECT u.id, u.name, {_ms('u.created_at')} AS created_at, u.sections, u.keywords,
       t.id AS token_id,
       t.name AS token_name, {_ms('t.created_at')} AS token_created_at,
       {_ms('coalesce((SELECT last_used_at FROM touched), t.last_used_at)')} AS last_used_at
FROM t JOIN users u ON u.id = t.user_id AND u.bot AND u.deactivated_at IS NULL
"""

# A room ($1) as a user ($2) who is an admin or not ($3) may manage it: kind, membership,
# whether they may manage its hooks and webhook (its owner, or an admin).
_ROOM_FOR = """
SELECT r.id, r.kind,
       EXISTS (SELECT 1 FROM memberships m WHERE m.room_id = r.id AND m.user_id = $2) AS member,
       coalesce(r.owner_id = $2, false) OR $3 AS manager
FROM rooms r WHERE r.name = $1
"""

_SQL_ADD_HOOK = f"""
WITH r AS ({_ROOM_FOR}), h AS (
    INSERT INTO hooks (room_id, bot_id, creator_id, hash)
    SELECT r.id, $4, $2, $5 FROM r WHERE r.member AND r.kind = 'room'
    RETURNING id, created_at
)
SELECT r.kind, r.member, h.id, {_ms('h.created_at')} AS created_at,
       (SELECT name FROM users WHERE id = $4) AS bot,
       (SELECT name FROM users WHERE id = $2) AS creator
FROM (VALUES (1)) AS one (x) LEFT JOIN r ON true LEFT JOIN h ON true
"""

_SQL_HOOKS = f"""
WITH r AS ({_ROOM_FOR})
SELECT h.id, b.name AS bot, c.name AS creator, {_ms('h.created_at')} AS created_at,
       {_ms('h.last_used_at')} AS last_used_at
FROM r LEFT JOIN hooks h ON h.room_id = r.id AND (r.manager OR h.creator_id = $2)
LEFT JOIN users b ON b.id = h.bot_id LEFT JOIN users c ON c.id = h.creator_id
ORDER BY h.id
"""

_SQL_DELETE_HOOK = f"""
WITH r AS ({_ROOM_FOR}), h AS (
    SELECT h.id, h.creator_id FROM hooks h JOIN r ON h.room_id = r.id WHERE h.id = $4
), gone AS (
    DELETE FROM hooks x USING r, h
    WHERE x.id = h.id AND (r.manager OR h.creator_id = $2)
    RETURNING 1
)
SELECT r.id IS NOT NULL AS room_found, h.id IS NOT NULL AS hook_found,
       EXISTS (SELECT 1 FROM gone) AS deleted
FROM (VALUES (1)) AS one (x) LEFT JOIN r ON true LEFT JOIN h ON true
"""

_SQL_FIND_HOOK = f"""
WITH h AS (
    SELECT id, room_id, bot_id, last_used_at FROM hooks WHERE hash = $1
), touched AS (
    UPDATE hooks x SET last_used_at = now() FROM h
    WHERE x.id = h.id AND (h.last_used_at IS NULL OR h.last_used_at < now() - interval '1 minute')
)
SELECT h.id, r.name AS room, u.id AS bot_id, u.name AS bot,
       {_ms('u.created_at')} AS created_at
FROM h JOIN rooms r ON r.id = h.room_id
JOIN users u ON u.id = h.bot_id AND u.deactivated_at IS NULL
"""

_SQL_SET_WEBHOOK = f"""
WITH r AS ({_ROOM_FOR}), w AS (
    INSERT INTO room_webhooks (room_id, url, secret, set_by)
    SELECT r.id, $4, $5, $2 FROM r WHERE r.manager AND r.kind = 'room'
    ON CONFLICT (room_id) DO UPDATE
    SET url = EXCLUDED.url, secret = EXCLUDED.secret, set_by = EXCLUDED.set_by,
        created_at = now()
    RETURNING url, secret, created_at
)
SELECT r.kind, r.manager, w.url, w.secret, {_ms('w.created_at')} AS created_at,
       (SELECT name FROM users WHERE id = $2) AS set_by
FROM (VALUES (1)) AS one (x) LEFT JOIN r ON true LEFT JOIN w ON true
"""

_SQL_WEBHOOK = f"""
WITH r AS ({_ROOM_FOR})
SELECT r.kind, r.manager, w.url, w.secret, {_ms('w.created_at')} AS created_at,
       s.name AS set_by
FROM r LEFT JOIN room_webhooks w ON w.room_id = r.id LEFT JOIN users s ON s.id = w.set_by
"""

_SQL_DELETE_WEBHOOK = f"""
WITH r AS ({_ROOM_FOR}), gone AS (
    DELETE FROM room_webhooks w USING r WHERE w.room_id = r.id AND r.manager
    RETURNING 1
)
SELECT r.kind, r.manager, EXISTS (SELECT 1 FROM gone) AS deleted
FROM (VALUES (1)) AS one (x) LEFT JOIN r ON true
"""

_SQL_WEBHOOK_TARGETS = f"""
SELECT r.name AS room, w.url, w.secret, {_ms('w.created_at')} AS created_at,
       s.name AS set_by
FROM rooms r JOIN room_webhooks w ON w.room_id = r.id LEFT JOIN users s ON s.id = w.set_by
WHERE r.name = ANY ($1::text[])
"""

_SQL_BOT_NAMES = "SELECT name FROM users WHERE lower(name) = ANY ($1::text[]) AND bot"


def _bot_user(row: Any) -> User:
    """A bot's User; with its sections and keywords where the row has them (a token's check:
    a session starts with them, as a person's, migrations 0041 and 0047)."""
    sections, keywords = row.get("sections", False), row.get("keywords", False)
    return User(id=row["id"], name=row["name"], created_at=row["created_at"], bot=True,
                sections=None if sections is False else sections_from_json(sections),
                keywords=None if keywords is False else tuple(keywords or ()))


def _bot(row: Any) -> Bot:
    tokens = tuple(BotToken(**token) for token in json.loads(row["tokens"]))
    return Bot(user=_bot_user(row), owner_id=row["owner_id"], owner=row["owner"],
               tokens=tokens)


def _room_refusal(room: str, row: Any, *, manage: bool = False) -> None:
    """Refuse a request about ``room`` from a row with ``kind`` and ``manager`` (None when
    there is no such room)."""
    if row is None or row["kind"] is None:
        raise ChatError(codes.NOT_FOUND, f"there is no room {room!r}")
    if row["kind"] != "room":
        raise ChatError(codes.BAD_REQUEST, "a conversation has no webhooks")
    if manage and not row["manager"]:
        raise ChatError(codes.FORBIDDEN, f"only the owner of {room!r} (or an admin) may")


async def is_admin(pool: Any, user_id: int) -> bool:
    return bool(await pool.fetchval(_SQL_IS_ADMIN, user_id))


async def create_bot(pool: Any, owner_id: int, name: str, token_name: str,
                     token_hash: bytes) -> Bot:
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(_SQL_CREATE_BOT, owner_id, name)
        if row["owner"] is None:
            raise ChatError(codes.NOT_FOUND, "no such user")
        if row["owner_is_bot"]:
            raise ChatError(codes.FORBIDDEN, "a bot cannot own bots")
        if row["id"] is None:
            raise ChatError(codes.CONFLICT, f"the name {name!r} is taken")
        token = await conn.fetchrow(_SQL_ADD_TOKEN, row["id"], token_name, token_hash)
    return Bot(user=_bot_user(row), owner_id=owner_id, owner=row["owner"],
               tokens=(BotToken(id=token["id"], name=token["name"],
                                created_at=token["created_at"]),))


async def bots(pool: Any, owner_id: int | None) -> list[Bot]:
    return [_bot(row) for row in await pool.fetch(_SQL_BOTS, owner_id, None)]


async def get_bot(pool: Any, name: str) -> Bot | None:
    row = await pool.fetchrow(_SQL_BOTS, None, name)
    return None if row is None else _bot(row)


async def add_bot_token(pool: Any, bot_id: int, name: str, token_hash: bytes) -> BotToken:
    row = await pool.fetchrow(_SQL_ADD_TOKEN, bot_id, name, token_hash)
    return BotToken(id=row["id"], name=row["name"], created_at=row["created_at"])


async def revoke_bot_tokens(pool: Any, bot_id: int, token_id: int | None) -> list[int]:
    return [row["id"] for row in await pool.fetch(_SQL_REVOKE_TOKENS, bot_id, token_id)]


async def check_bot_token(pool: Any, token_hash: bytes) -> tuple[User, BotToken] | None:
    row = await pool.fetchrow(_SQL_CHECK_TOKEN, token_hash)
    if row is None:
        return None
    return _bot_user(row), BotToken(id=row["token_id"], name=row["token_name"],
                                    created_at=row["token_created_at"],
                                    last_used_at=row["last_used_at"])


async def add_hook(pool: Any, creator_id: int, room: str, bot_id: int,
                   secret_hash: bytes) -> Hook:
    row = await pool.fetchrow(_SQL_ADD_HOOK, room, creator_id, False, bot_id, secret_hash)
    _room_refusal(room, row)
    if not row["member"]:
        raise ChatError(codes.FORBIDDEN, f"you are not a member of {room!r}")
    return Hook(id=row["id"], room=room, bot=row["bot"], creator=row["creator"],
                created_at=row["created_at"])


async def hooks(pool: Any, user_id: int, room: str, admin: bool) -> list[Hook]:
    rows = await pool.fetch(_SQL_HOOKS, room, user_id, admin)
    if not rows:
        raise ChatError(codes.NOT_FOUND, f"there is no room {room!r}")
    return [Hook(id=row["id"], room=room, bot=row["bot"], creator=row["creator"],
                 created_at=row["created_at"], last_used_at=row["last_used_at"])
            for row in rows if row["id"] is not None]


async def delete_hook(pool: Any, user_id: int, room: str, hook_id: int, admin: bool) -> None:
    row = await pool.fetchrow(_SQL_DELETE_HOOK, room, user_id, admin, hook_id)
    if not row["room_found"]:
        raise ChatError(codes.NOT_FOUND, f"there is no room {room!r}")
    if not row["hook_found"]:
        raise ChatError(codes.NOT_FOUND, f"{room!r} has no webhook {hook_id}")
    if not row["deleted"]:
        raise ChatError(codes.FORBIDDEN, "only the webhook's creator or the room's owner may "
                        "delete it")


async def find_hook(pool: Any, secret_hash: bytes) -> HookTarget | None:
    row = await pool.fetchrow(_SQL_FIND_HOOK, secret_hash)
    if row is None:
        return None
    return HookTarget(id=row["id"], room=row["room"],
                      bot=User(id=row["bot_id"], name=row["bot"],
                               created_at=row["created_at"], bot=True))


def _webhook(room: str, row: Any) -> RoomWebhook:
    return RoomWebhook(room=room, url=row["url"], secret=row["secret"], set_by=row["set_by"],
                       created_at=row["created_at"])


async def set_room_webhook(pool: Any, user_id: int, room: str, url: str, secret: str,
                           admin: bool) -> RoomWebhook:
    row = await pool.fetchrow(_SQL_SET_WEBHOOK, room, user_id, admin, url, secret)
    _room_refusal(room, row, manage=True)
    return _webhook(room, row)


async def room_webhook(pool: Any, user_id: int, room: str, admin: bool) -> RoomWebhook | None:
    row = await pool.fetchrow(_SQL_WEBHOOK, room, user_id, admin)
    _room_refusal(room, row, manage=True)
    return None if row["url"] is None else _webhook(room, row)


async def delete_room_webhook(pool: Any, user_id: int, room: str, admin: bool) -> bool:
    row = await pool.fetchrow(_SQL_DELETE_WEBHOOK, room, user_id, admin)
    _room_refusal(room, row, manage=True)
    return bool(row["deleted"])


async def webhook_targets(pool: Any, rooms: Sequence[str],
                          senders: Sequence[str]) -> WebhookTargets:
    async with pool.acquire() as conn:
        rows = await conn.fetch(_SQL_WEBHOOK_TARGETS, list(rooms))
        found = {row["room"]: _webhook(row["room"], row) for row in rows}
        names: list[Any] = []
        if found:
            names = await conn.fetch(_SQL_BOT_NAMES, [name.lower() for name in senders])
    return WebhookTargets(webhooks=found, bots=frozenset(row["name"] for row in names))
