"""What keeping search words costs the statement that stores messages, and what indexing
them later costs: PostgreSQL's own time, per message, by schema.

``python -m benchmarks.search_statements`` (not part of ``run``: it measures statements, not
the daemon). On a fresh embedded PostgreSQL (fsync on), one database per variant, each
migrated by this chatd and then changed:

- ``none``: no words at all (the schema before migration 0011);
- ``generated``: the words as a stored generated column under the GIN index (the first
  version of migration 0011: computed by the insert itself);
- ``async``: as migrated (words NULL on insert, the partial indexes), the indexer's batch
  statement run after each insert on a connection of its own (a hinted batch: the ids the
  insert returned), and its merge of the GIN's pending list every ``--merge-every``
  messages, as chatd/indexer.py does.

Each variant stores ``--batches`` batches of ``--batch`` messages of 6-15 words (the words
of benchmarks/search.py, with its skewed law) through the append's insert statement
(``_SQL_APPEND_INSERT_PLAIN``: its own transaction, committed with fsync), 1,000 users in 100
rooms; the variants take turns batch by batch, so that the machine's noise falls on all of
them. Reported per variant: the insert's wall time per batch (median, 90th percentile,
mean), its backend's CPU time per message (from ``/proc``, summed over the run, so that
the clock's 10 ms ticks average out) and the WAL it wrote per message (every commit of a
send waits for the WAL to reach the disk); for ``async`` the same for the indexer's
statements.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from typing import Any

import asyncpg

from benchmarks.infra import BenchPostgres
from benchmarks.search import SKEW, WORDS, word_list
from chatd.storage import postgres
from chatd.storage.migrations import apply_migrations

__all__ = ["VARIANTS", "main", "measure"]

_FIRST_0011 = """
ALTER TABLE messages DROP COLUMN words;
ALTER TABLE messages ADD COLUMN words tsvector
    GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, left(text, 100000))) STORED;
CREATE INDEX messages_words_idx ON messages USING gin (words)
    WITH (fastupdate = on, gin_pending_list_limit = 512);
"""
#: The schema changes after migrating, by variant.
VARIANTS = {
    "none": "ALTER TABLE messages DROP COLUMN words;",
    "generated": _FIRST_0011,
    "async": "",
}
_TICK = os.sysconf("SC_CLK_TCK")
_LSN = "SELECT pg_current_wal_insert_lsn()"
_WAL_SINCE = "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1)::bigint"


def _cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    return (int(fields[11]) + int(fields[12])) / _TICK


async def _database(pg: BenchPostgres, variant: str) -> tuple[str, list[int], list[int]]:
    dsn = await asyncio.to_thread(pg.create_database, f"statements_{variant}")
    conn = await asyncpg.connect(dsn)
    try:
        await apply_migrations(conn)
        if VARIANTS[variant]:  # asyncpg fails on an empty query (no status message)
            await conn.execute(VARIANTS[variant])
        await conn.execute("INSERT INTO users (name, password_hash) "
                           "SELECT 'u' || g, 'x' FROM generate_series(0, 999) g")
        await conn.execute("INSERT INTO rooms (name) SELECT 'r' || g FROM generate_series(0, 99) g")
        await conn.execute("INSERT INTO memberships (room_id, user_id) SELECT r.id, u.id "
                           "FROM rooms r JOIN users u "
                           "ON substr(u.name, 2)::int % 100 = substr(r.name, 2)::int")
        users = [r["id"] for r in await conn.fetch("SELECT id FROM users ORDER BY id")]
        rooms = [r["id"] for r in await conn.fetch("SELECT id FROM rooms ORDER BY id")]
    finally:
        await conn.close()
    return dsn, users, rooms


async def measure(*, batches: int, batch: int, merge_every: int, variants: list[str],
                  dsn: str = "") -> dict[str, dict[str, Any]]:
    """Run the measurement (see the module's docstring); figures by variant. ``dsn``: an
    existing PostgreSQL (a role that may create databases) instead of a fresh one."""
    pg = BenchPostgres(dsn or None)
    words = word_list()
    rng = random.Random(15)
    try:
        made = {variant: await _database(pg, variant) for variant in variants}
        inserters = {v: await asyncpg.connect(made[v][0]) for v in variants}
        indexers = {v: await asyncpg.connect(made[v][0]) for v in variants}
        walls: dict[str, list[float]] = {v: [] for v in variants}
        cpu = dict.fromkeys(variants, 0.0)
        wal = dict.fromkeys(variants, 0)
        index_walls: list[float] = []
        index_cpu = 0.0
        index_wal = 0
        unmerged = indexed = 0
        nonce = 0
        for _ in range(batches):
            for variant in variants:
                _, users, rooms = made[variant]
                columns: tuple[list[Any], ...] = ([], [], [], [])
                for _ in range(batch):
                    nonce += 1
                    user = rng.randrange(len(users))
                    columns[0].append(rooms[user % len(rooms)])
                    columns[1].append(users[user])
                    columns[2].append(f"n{nonce}")
                    columns[3].append(" ".join(
                        words[int(WORDS * rng.random() ** SKEW)]
                        for _ in range(rng.randint(6, 15))))
                conn = inserters[variant]
                pid = conn.get_server_pid()
                lsn = await conn.fetchval(_LSN)
                before, started = _cpu_seconds(pid), time.perf_counter()
                rows = await conn.fetch(postgres._SQL_APPEND_INSERT_PLAIN, *columns)
                walls[variant].append((time.perf_counter() - started) * 1000)
                cpu[variant] += _cpu_seconds(pid) - before
                wal[variant] += await conn.fetchval(_WAL_SINCE, lsn)
                if variant != "async":
                    continue
                conn = indexers[variant]
                pid = conn.get_server_pid()
                lsn = await conn.fetchval(_LSN)
                before, started = _cpu_seconds(pid), time.perf_counter()
                async with conn.transaction():
                    await conn.execute("SET LOCAL synchronous_commit = off")
                    indexed += await conn.fetchval(postgres._SQL_INDEX_WORDS_OF,
                                                   [r["id"] for r in rows])
                unmerged += batch
                if unmerged >= merge_every:
                    unmerged = 0
                    async with conn.transaction():
                        await conn.execute("SET LOCAL synchronous_commit = off")
                        await conn.execute(postgres._SQL_INDEX_MERGE)
                index_walls.append((time.perf_counter() - started) * 1000)
                index_cpu += _cpu_seconds(pid) - before
                index_wal += await conn.fetchval(_WAL_SINCE, lsn)
        stored = batches * batch
        out: dict[str, dict[str, Any]] = {
            v: {**_summary(walls[v]), "cpu_us_per_message": round(cpu[v] / stored * 1e6, 1),
                "wal_bytes_per_message": round(wal[v] / stored)}
            for v in variants}
        if "async" in out:
            out["async"]["indexer"] = {
                **_summary(index_walls),
                "cpu_us_per_message": round(index_cpu / stored * 1e6, 1),
                "wal_bytes_per_message": round(index_wal / stored), "indexed": indexed}
        for connection in (*inserters.values(), *indexers.values()):
            await connection.close()
        return out
    finally:
        await asyncio.to_thread(pg.drop_created)
        await asyncio.to_thread(pg.close)


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"median_ms": round(statistics.median(ordered), 2),
            "p90_ms": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 2),
            "mean_ms": round(statistics.mean(ordered), 2),
            "max_ms": round(ordered[-1], 2)}


def main(argv: list[str] | None = None) -> dict[str, dict[str, Any]]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.search_statements",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=100, help="batches per variant")
    parser.add_argument("--batch", type=int, default=400, help="messages per batch")
    parser.add_argument("--merge-every", type=int, default=1000,
                        help="messages indexed between two merges of the pending list")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="of " + ", ".join(VARIANTS))
    parser.add_argument("--dsn", default="",
                        help="an existing PostgreSQL (a role that may create databases)")
    parser.add_argument("--out", default="", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    figures = asyncio.run(measure(batches=args.batches, batch=args.batch,
                                  merge_every=args.merge_every,
                                  variants=args.variants.split(","), dsn=args.dsn))
    text = json.dumps(figures, indent=1)
    if args.out:
        with open(args.out, "w") as file:
            file.write(text + "\n")
    print(text)
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
