"""Rate limits every node shares (migration 0050): a token bucket per (limit, key) kept in
the database, for the limits that must hold however many nodes or workers answer (password
reset requests; chatd/actions/email.py).

Asyncio side of :meth:`chatd.storage.postgres.PostgresStorage.take_shared_token`: one
statement per take. ``INSERT … ON CONFLICT DO UPDATE … WHERE`` takes a token only when the
bucket, refilled since it was last taken from, has one: the row's lock orders two nodes
taking from one bucket at once, and PostgreSQL evaluates the second one's condition on the
row as the first left it, so two takes of the last token never both get it. The same
statement deletes the bucket's rows that have refilled completely (they hold nothing worth
keeping), so the table holds only the keys used within a refill's time.
"""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["key_hash", "take_shared_token"]

# $1 the limit's name, $2 the key's hash, $3 tokens per second, $4 the burst, $5 the seconds
# a bucket takes to refill completely. taken: a token was taken; wait: else the seconds
# until one is back (the row as this statement found it: it was not changed).
_REFILLED = "least($4::float8, b.tokens + extract(epoch FROM now() - b.at) * $3::float8)"
_SQL_TAKE = f"""
WITH forgotten AS (
    DELETE FROM rate_limits
    WHERE bucket = $1 AND key <> $2 AND at < now() - $5::float8 * interval '1 second'
), took AS (
    INSERT INTO rate_limits AS b (bucket, key, tokens, at)
    VALUES ($1, $2, $4::float8 - 1, now())
    ON CONFLICT (bucket, key) DO UPDATE SET tokens = {_REFILLED} - 1, at = now()
    WHERE {_REFILLED} >= 1
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM took) AS taken,
       (SELECT (1 - {_REFILLED}) / $3::float8 FROM rate_limits b
        WHERE b.bucket = $1 AND b.key = $2) AS wait
"""


def key_hash(key: str) -> bytes:
    """What the table keeps of a key: its SHA-256."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


async def take_shared_token(pool: Any, bucket: str, key: str, rate: float,
                            burst: float) -> float:
    row = await pool.fetchrow(_SQL_TAKE, bucket, key_hash(key), rate, burst, burst / rate)
    if row["taken"]:
        return 0.0
    return max(float(row["wait"] or 0.0), 0.001)
