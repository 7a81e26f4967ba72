"""Email (migration 0046): a user's address and its confirmation, password reset tokens,
and the queue of missed-message emails.

Asyncio side of the matching :class:`chatd.storage.postgres.PostgresStorage` methods: each
function here takes the pool (or a connection) and runs one statement, or one short
transaction, on it.

Tokens are found by their SHA-256 (the primary key) and spent by an ``UPDATE … WHERE
used_at IS NULL AND expires_at > now()``, which locks the row: two uses racing for one token
never both get it. The queue: a missed message is a row of ``email_queue``; the first one for
a user makes their ``email_batches`` row, due ``batch_seconds`` later, which the next ones
join. A batch is claimed ``FOR UPDATE SKIP LOCKED`` for a lease (as reminders are,
chatd/reminders.py), read, mailed, and then its rows that were read are deleted; what was
queued meanwhile makes the batch due again, a batch later.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chatd.errors import ChatError
from chatd.protocol import codes
from chatd.storage.alerts import alerted
from chatd.storage.base import (
    EmailBatch,
    EmailSettings,
    EmailTarget,
    MissedMessage,
    ResetTarget,
)
from chatd.storage.sql import ms as _ms

__all__ = [
    "BATCH_MESSAGES",
    "any_email_targets",
    "claim_email_batches",
    "confirm_email",
    "email_batch",
    "email_batch_done",
    "email_batch_failed",
    "email_settings",
    "email_targets",
    "next_email_due",
    "queue_emails",
    "remove_email",
    "reset_target",
    "reset_token_valid",
    "set_email",
    "set_email_notify",
    "spend_reset_token",
    "store_email_token",
]

#: The most messages one email lists (the oldest first; the rest are counted, and their
#: rows spent with the batch: the email says how many more there are).
BATCH_MESSAGES = 50

_TIME = "timestamptz 'epoch' + $1::bigint * interval '1 millisecond'"

# A user's address and settings; "pending": the new address a confirmed one is being changed
# to, waiting for its link (the newest confirmation token that still works; NULL when the
# address is not confirmed: then the new address is the user's `email` itself, unconfirmed).
_PENDING = """(SELECT t.email FROM email_tokens t
        WHERE u.email_confirmed AND t.user_id = u.id AND t.purpose = 'confirm'
          AND t.used_at IS NULL AND t.expires_at > now()
        ORDER BY t.created_at DESC LIMIT 1) AS pending"""
_SQL_SETTINGS = f"""
SELECT u.email, u.email_confirmed, u.email_notify, {_PENDING} FROM users u WHERE u.id = $1
"""

# Whether another account ($1 is not theirs) has confirmed address $2 (any case).
_SQL_TAKEN = """
SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($2) AND email_confirmed
               AND id <> $1)
"""
# The address set, unconfirmed: only when the user has no confirmed one (a confirmed address
# stays theirs, and gets their mail, until the new one is confirmed: the token alone holds the
# new one, _SQL_CONFIRM). No row: the user is gone.
_SQL_SET = """
UPDATE users SET email = CASE WHEN email_confirmed THEN email ELSE $2 END WHERE id = $1
RETURNING id
"""
_SQL_DROP_TOKENS = "DELETE FROM email_tokens WHERE user_id = $1 AND purpose = $2"
_SQL_DROP_ALL_TOKENS = "DELETE FROM email_tokens WHERE user_id = $1"
_SQL_STORE_TOKEN = """
INSERT INTO email_tokens (hash, user_id, purpose, email, expires_at)
VALUES ($2, $3, $4, $5, timestamptz 'epoch' + $1::bigint * interval '1 millisecond')
"""
_SQL_REMOVE = """
UPDATE users SET email = NULL, email_confirmed = false WHERE id = $1
RETURNING email, email_confirmed, email_notify, NULL::text AS pending
"""
_SQL_DROP_QUEUE = "DELETE FROM email_queue WHERE user_id = $1"
_SQL_DROP_BATCH = "DELETE FROM email_batches WHERE user_id = $1"
_SQL_SET_NOTIFY = """
UPDATE users SET email_notify = $2 WHERE id = $1 AND email_notify <> $2 RETURNING 1
"""

# A confirmation token spent, if it works: whose, and the address it confirms.
_SQL_SPEND_CONFIRM = """
UPDATE email_tokens SET used_at = now()
WHERE hash = $1 AND purpose = 'confirm' AND used_at IS NULL AND expires_at > now()
RETURNING user_id, email
"""
# Why a token did not work: unknown (no row), used, or expired.
_SQL_TOKEN_STATE = """
SELECT used_at IS NOT NULL AS used FROM email_tokens WHERE hash = $1 AND purpose = $2
"""
# The token's address ($2, exactly as typed) made the user's, confirmed: the one waiting for
# its link in place of their unconfirmed address, or of their confirmed one, which was theirs
# until now (migration 0050's note; a changed address is never left without a confirmed one
# in between). Setting another address drops the older tokens (_SQL_DROP_TOKENS), so a token
# that still works is of the address last asked for.
_SQL_CONFIRM = """
UPDATE users SET email = $2, email_confirmed = true WHERE id = $1
"""

# The account a reset may go to: named by its user name or by its confirmed address (any
# case), active, no bot.
_SQL_RESET_TARGET = """
SELECT id, name, email FROM users
WHERE email_confirmed AND deactivated_at IS NULL AND NOT bot
  AND (lower(name) = lower($1) OR lower(email) = lower($1))
ORDER BY lower(name) = lower($1) DESC
LIMIT 1
"""
_SQL_RESET_VALID = """
SELECT t.user_id FROM email_tokens t JOIN users u ON u.id = t.user_id
WHERE t.hash = $1 AND t.purpose = 'reset' AND t.used_at IS NULL AND t.expires_at > now()
  AND u.deactivated_at IS NULL
"""
_SQL_SPEND_RESET = """
UPDATE email_tokens t SET used_at = now() FROM users u
WHERE t.hash = $1 AND t.purpose = 'reset' AND t.used_at IS NULL AND t.expires_at > now()
  AND u.id = t.user_id AND u.deactivated_at IS NULL
RETURNING t.user_id, u.name
"""

_SQL_ANY_TARGETS = """
SELECT EXISTS (SELECT 1 FROM users WHERE email_confirmed AND email_notify)
"""

# Who may get a missed-message email for each new message ($1 rooms, $2 seqs): the same
# reasons as a push's, in the same words (chatd/storage/alerts.py), but a room's level
# "all" (a plain message): the other members of a conversation, at a level that alerts
# (a 1:1 at "all" or "mentions", a group conversation at "all"), and the members a message
# mentions whose level for the room is not "none"; never the sender. Each walk ends at the
# user's row, by key, among those with the emails on (users_email_notify_idx): everyone
# else drops out there.
_SQL_TARGETS = alerted() + """
SELECT t.room_id, t.room, t.seq, t.reason, u.id AS user_id, u.name AS user,
       floor(extract(epoch FROM u.dnd_until) * 1000)::bigint AS paused_until
FROM t JOIN users u ON u.id = t.user_id
WHERE u.email_confirmed AND u.email_notify AND u.deactivated_at IS NULL
ORDER BY t.room, t.seq
"""

# Missed messages queued ($2 users, $3 rooms, $4 seqs, $5 reasons; a dm before a mention
# of the same message), and each user's batch made if they had none, due $1 seconds from
# now. The earliest batch made (ms), for the due loop.
_SQL_QUEUE = """
WITH q AS (
    INSERT INTO email_queue (user_id, room_id, seq, reason)
    SELECT DISTINCT ON (i.user_id, i.room_id, i.seq) i.user_id, i.room_id, i.seq, i.reason
    FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[])
         AS i(user_id, room_id, seq, reason)
    ORDER BY i.user_id, i.room_id, i.seq, i.reason
    ON CONFLICT DO NOTHING
    RETURNING user_id
), b AS (
    INSERT INTO email_batches (user_id, due_at)
    SELECT DISTINCT user_id, now() + $1::float8 * interval '1 second' FROM q
    ON CONFLICT (user_id) DO NOTHING
    RETURNING due_at
)
SELECT (SELECT count(*) FROM q) AS queued,
       (SELECT """ + _ms("min(due_at)") + """ FROM b) AS due
"""

# Batches due (by the database's clock) and not held by another node's lease ($2 seconds),
# at most $1, claimed; the others' claim statements skip the rows this one locked.
_SQL_CLAIM = """
UPDATE email_batches b SET claimed_until = now() + $2::float8 * interval '1 second'
WHERE b.user_id IN (
    SELECT user_id FROM email_batches
    WHERE due_at <= now() AND (claimed_until IS NULL OR claimed_until <= now())
    ORDER BY due_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
RETURNING b.user_id, b.attempts
"""
# Seconds until the next batch is due or a lease ends; NULL: none.
_SQL_NEXT = """
SELECT extract(epoch FROM min(CASE WHEN claimed_until > now() THEN claimed_until
                                   ELSE due_at END) - now())::float8
FROM email_batches
"""

# Who the batch of user $1 goes to: the confirmed address, if the emails are still on.
_SQL_BATCH_USER = """
SELECT u.name, u.display_name,
       CASE WHEN u.email_confirmed AND u.email_notify AND u.deactivated_at IS NULL
            THEN u.email END AS email,
       floor(extract(epoch FROM u.dnd_until) * 1000)::bigint AS paused_until
FROM users u WHERE u.id = $1
"""
# Every row queued for user $1, and for each whether it is still to be mailed: they are
# still a member of the room, have not read it (their read marker is before it) and the
# message is not deleted. Oldest first.
_SQL_BATCH_ROWS = f"""
SELECT q.room_id, q.seq, q.reason, r.name AS room, r.kind, x.id AS msg_id, x.text,
       {_ms("x.created_at")} AS ts, s.name AS sender, s.display_name AS sender_display,
       (m.user_id IS NOT NULL AND m.read_seq < q.seq AND x.deleted_at IS NULL) AS live
FROM email_queue q
JOIN rooms r ON r.id = q.room_id
JOIN messages x ON x.room_id = q.room_id AND x.seq = q.seq
JOIN users s ON s.id = x.sender_id
LEFT JOIN memberships m ON m.room_id = q.room_id AND m.user_id = q.user_id
WHERE q.user_id = $1
ORDER BY x.created_at, q.room_id, q.seq
"""
# The rows mailed (or found not to be mailed: read, deleted) deleted; then the batch is done,
# or, when rows were queued meanwhile, due again $4 seconds from now.
_SQL_DONE = """
WITH gone AS (
    DELETE FROM email_queue q
    USING unnest($2::bigint[], $3::bigint[]) AS i(room_id, seq)
    WHERE q.user_id = $1 AND q.room_id = i.room_id AND q.seq = i.seq
    RETURNING q.room_id, q.seq
), left_over AS (
    SELECT 1 FROM email_queue q
    WHERE q.user_id = $1
      AND NOT EXISTS (SELECT 1 FROM gone g WHERE g.room_id = q.room_id AND g.seq = q.seq)
    LIMIT 1
), again AS (
    UPDATE email_batches SET due_at = now() + $4::float8 * interval '1 second',
                             claimed_until = NULL, attempts = 0
    WHERE user_id = $1 AND EXISTS (SELECT 1 FROM left_over)
    RETURNING user_id
)
DELETE FROM email_batches WHERE user_id = $1 AND NOT EXISTS (SELECT 1 FROM left_over)
"""
_SQL_FAILED = """
UPDATE email_batches SET due_at = now() + $2::float8 * interval '1 second',
                         claimed_until = NULL, attempts = attempts + 1
WHERE user_id = $1
"""


def _settings(row: Any) -> EmailSettings:
    if row is None:
        raise ChatError(codes.NOT_FOUND, "no such user")
    return EmailSettings(email=row["email"], confirmed=row["email_confirmed"],
                         notify=row["email_notify"], pending=row["pending"])


async def email_settings(pool: Any, user_id: int) -> EmailSettings:
    return _settings(await pool.fetchrow(_SQL_SETTINGS, user_id))


async def set_email(pool: Any, user_id: int, email: str, token_hash: bytes,
                    expires_at: int) -> EmailSettings:
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval(_SQL_TAKEN, user_id, email):
            raise ChatError(codes.EMAIL_TAKEN, "another account has confirmed this address")
        if await conn.fetchval(_SQL_SET, user_id, email) is None:
            raise ChatError(codes.NOT_FOUND, "no such user")
        await conn.execute(_SQL_DROP_TOKENS, user_id, "confirm")
        await conn.execute(_SQL_STORE_TOKEN, expires_at, token_hash, user_id, "confirm",
                           email)
        return _settings(await conn.fetchrow(_SQL_SETTINGS, user_id))


async def remove_email(pool: Any, user_id: int) -> EmailSettings:
    async with pool.acquire() as conn, conn.transaction():
        settings = _settings(await conn.fetchrow(_SQL_REMOVE, user_id))
        await conn.execute(_SQL_DROP_ALL_TOKENS, user_id)
        await conn.execute(_SQL_DROP_QUEUE, user_id)
        await conn.execute(_SQL_DROP_BATCH, user_id)
        return settings


async def set_email_notify(pool: Any, user_id: int, on: bool) -> tuple[EmailSettings, bool]:
    async with pool.acquire() as conn, conn.transaction():
        changed = await conn.fetchval(_SQL_SET_NOTIFY, user_id, on) is not None
        if changed and not on:
            await conn.execute(_SQL_DROP_QUEUE, user_id)
            await conn.execute(_SQL_DROP_BATCH, user_id)
        return _settings(await conn.fetchrow(_SQL_SETTINGS, user_id)), changed


async def confirm_email(pool: Any, token_hash: bytes) -> tuple[str, int | None]:
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(_SQL_SPEND_CONFIRM, token_hash)
        if row is None:
            used = await conn.fetchval(_SQL_TOKEN_STATE, token_hash, "confirm")
            return ("unknown" if used is None else "used" if used else "expired"), None
        user_id, email = row["user_id"], row["email"]
        if await conn.fetchval(_SQL_TAKEN, user_id, email):
            return "taken", user_id
        await conn.execute(_SQL_CONFIRM, user_id, email)
        return "confirmed", user_id


async def store_email_token(pool: Any, user_id: int, purpose: str, token_hash: bytes,
                            expires_at: int, email: str | None) -> None:
    await pool.execute(_SQL_STORE_TOKEN, expires_at, token_hash, user_id, purpose, email)


async def reset_target(pool: Any, target: str) -> ResetTarget | None:
    row = await pool.fetchrow(_SQL_RESET_TARGET, target)
    return None if row is None else ResetTarget(user_id=row["id"], name=row["name"],
                                                email=row["email"])


async def reset_token_valid(pool: Any, token_hash: bytes) -> bool:
    return await pool.fetchval(_SQL_RESET_VALID, token_hash) is not None


async def spend_reset_token(conn: Any, token_hash: bytes) -> tuple[int, str] | None:
    """On ``conn``, in the caller's transaction: the token spent, whose (id, name)."""
    row = await conn.fetchrow(_SQL_SPEND_RESET, token_hash)
    return None if row is None else (row["user_id"], row["name"])


async def any_email_targets(pool: Any) -> bool:
    return bool(await pool.fetchval(_SQL_ANY_TARGETS))


async def email_targets(pool: Any, entries: Sequence[tuple[str, int]]) -> list[EmailTarget]:
    rows = await pool.fetch(_SQL_TARGETS, [room for room, _ in entries],
                            [seq for _, seq in entries])
    return [EmailTarget(room_id=row["room_id"], room=row["room"], seq=row["seq"],
                        user_id=row["user_id"], user=row["user"], reason=row["reason"],
                        paused_until=row["paused_until"]) for row in rows]


async def queue_emails(pool: Any, targets: Sequence[EmailTarget],
                       batch_seconds: float) -> tuple[int, int | None]:
    row = await pool.fetchrow(_SQL_QUEUE, batch_seconds, [t.user_id for t in targets],
                              [t.room_id for t in targets], [t.seq for t in targets],
                              [t.reason for t in targets])
    return int(row["queued"]), row["due"]


async def claim_email_batches(pool: Any, limit: int, lease: float) -> list[tuple[int, int]]:
    rows = await pool.fetch(_SQL_CLAIM, limit, lease)
    return [(row["user_id"], row["attempts"]) for row in rows]


async def next_email_due(pool: Any) -> float | None:
    value = await pool.fetchval(_SQL_NEXT)
    return None if value is None else float(value)


async def email_batch(pool: Any, user_id: int, attempts: int) -> EmailBatch | None:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read",
                                                          readonly=True):
        user = await conn.fetchrow(_SQL_BATCH_USER, user_id)
        if user is None:
            return None
        rows = await conn.fetch(_SQL_BATCH_ROWS, user_id)
    live = [row for row in rows if row["live"]]
    return EmailBatch(
        user_id=user_id, user=user["name"], display_name=user["display_name"],
        email=user["email"], paused_until=user["paused_until"], attempts=attempts,
        messages=tuple(MissedMessage(room=row["room"], kind=row["kind"], seq=row["seq"],
                                     msg_id=row["msg_id"], sender=row["sender"],
                                     sender_display=row["sender_display"],
                                     text=row["text"], ts=row["ts"], reason=row["reason"])
                       for row in live[:BATCH_MESSAGES]),
        more=max(0, len(live) - BATCH_MESSAGES),
        queued=tuple((row["room_id"], row["seq"]) for row in rows))


async def email_batch_done(pool: Any, user_id: int, queued: Sequence[tuple[int, int]],
                           batch_seconds: float) -> None:
    await pool.execute(_SQL_DONE, user_id, [room for room, _ in queued],
                       [seq for _, seq in queued], batch_seconds)


async def email_batch_failed(pool: Any, user_id: int, retry_seconds: float) -> None:
    await pool.execute(_SQL_FAILED, user_id, retry_seconds)
