"""The durable-send ceiling: how fast the same PostgreSQL commits message rows from asyncpg on
plain asyncio, with nothing in between (no trio, no bridge, no protocol, no fan-out).

Two figures, each in a process of its own for ``duration`` seconds:

- *batched*: ``concurrency`` connections each committing transactions of ``batch`` message
  rows (one ``INSERT … SELECT FROM unnest(…)``, per-room seq from a counter of their own): the
  rate a group commit could reach at best;
- *one per transaction*: ``concurrency`` connections each committing one message per
  transaction the way a typical app does (``UPDATE rooms SET last_seq = last_seq + 1 …
  RETURNING``, then ``INSERT``): what the Socket.IO peer's approach allows at best.

The tables mirror chatd's ``messages`` (same columns, same unique constraints) in a database
of their own.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from typing import Any

import asyncpg

__all__ = ["measure_commit_ceiling"]

_SCHEMA = """
DROP TABLE IF EXISTS c_messages, c_rooms;
CREATE TABLE c_rooms (id bigserial PRIMARY KEY, name text NOT NULL UNIQUE,
                      last_seq bigint NOT NULL DEFAULT 0);
CREATE TABLE c_messages (
    id bigserial PRIMARY KEY, room_id bigint NOT NULL REFERENCES c_rooms (id),
    seq bigint NOT NULL, sender_id bigint NOT NULL, nonce text NOT NULL, text text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (room_id, seq), UNIQUE (sender_id, nonce));
INSERT INTO c_rooms (name) SELECT 'r' || g FROM generate_series(1, 100) AS g;
"""

_BATCH = """
INSERT INTO c_messages (room_id, seq, sender_id, nonce, text)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[])
"""

_BUMP = "UPDATE c_rooms SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq"
_ONE = "INSERT INTO c_messages (room_id, seq, sender_id, nonce, text) VALUES ($1, $2, $3, $4, $5)"


async def _run(dsn: str, mode: str, duration: float, batch: int, concurrency: int,
               tag: str) -> dict[str, Any]:
    text = "x" * 64
    rows = [0]
    commits = [0]
    pool = await asyncpg.create_pool(dsn, min_size=concurrency, max_size=concurrency)

    async def batched(worker: int, end: float) -> None:
        room = worker + 1  # rooms of its own: no lock waits, the pure commit rate
        seq = 10_000_000 * (worker + 1) + int(time.time() * 1000) % 1_000_000 * 1000
        n = 0
        async with pool.acquire() as conn:
            while time.monotonic() < end:
                seqs = list(range(seq, seq + batch))
                seq += batch
                nonces = [f"{tag}-{worker}-{n + i}" for i in range(batch)]
                n += batch
                async with conn.transaction():
                    await conn.execute(_BATCH, [room] * batch, seqs, [worker] * batch,
                                       nonces, [text] * batch)
                rows[0] += batch
                commits[0] += 1

    async def one_per_tx(worker: int, end: float) -> None:
        n = 0
        async with pool.acquire() as conn:
            while time.monotonic() < end:
                room = (worker * 7 + n) % 100 + 1
                n += 1
                async with conn.transaction():
                    seq = await conn.fetchval(_BUMP, room)
                    await conn.execute(_ONE, room, seq, 1000 + worker, f"{tag}-{worker}-{n}",
                                       text)
                rows[0] += 1
                commits[0] += 1

    fn = batched if mode == "batched" else one_per_tx
    started = time.monotonic()
    end = started + duration
    await asyncio.gather(*(fn(w, end) for w in range(concurrency)))
    elapsed = time.monotonic() - started
    await pool.close()
    return {"rows_per_s": round(rows[0] / elapsed, 1),
            "commits_per_s": round(commits[0] / elapsed, 1), "rows": rows[0],
            "seconds": round(elapsed, 2), "batch": batch if mode == "batched" else 1,
            "concurrency": concurrency}


def _child(dsn: str, mode: str, duration: float, batch: int, concurrency: int, tag: str,
           out: Any) -> None:
    out.send(asyncio.run(_run(dsn, mode, duration, batch, concurrency, tag)))


def measure_commit_ceiling(dsn: str, *, duration: float, batch: int = 20,
                           concurrency: int = 4) -> dict[str, Any]:
    """Both ceilings, each measured in a child process; ``dsn`` is a database of their own."""
    async def schema() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(_SCHEMA)
        finally:
            await conn.close()

    asyncio.run(schema())
    ctx = multiprocessing.get_context("spawn")
    results: dict[str, Any] = {}
    for mode, conc in (("batched", concurrency), ("one_per_tx", 10)):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_child, args=(dsn, mode, duration, batch, conc,
                                                f"{mode}{time.time_ns()}", child))
        proc.start()
        results[mode] = parent.recv()
        proc.join()
    return results
