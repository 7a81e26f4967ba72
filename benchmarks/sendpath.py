"""Where a lone send's storage time goes: the append's statements one at a time, as the group
commit runs them at everyday load (a batch of one), against the peer's transaction.

``python -m benchmarks.sendpath`` (not part of ``run``: it measures the storage path alone, on
asyncio, without the daemon). On a fresh embedded PostgreSQL (fsync on, synchronous_commit on),
a database migrated by this chatd with ``--users`` users, ``--rooms`` rooms (user i in room
i mod R) and ``--preload`` messages already stored and indexed. One connection appends one
message at a time, ``--count`` times per variant, the variants alternating for ``--rounds``
rounds. For each: the wall time per append (median, mean, p99) measured by the client, and
the CPU time PostgreSQL spent per message, in the connection's backend and in the whole
server (the backend, the WAL writer, the checkpointer...), read from /proc. ``--batch`` makes
each append of ``chatd`` and ``chatd-fn`` a batch of that many messages (to different rooms),
as the group commit's are under load.

Variants (each a real durable commit unless said):

- ``select1``: ``SELECT 1``, a round trip and nothing else.
- ``resolve``: the append's first statement alone (reads only, no commit to flush).
- ``insert``: the append's second statement alone (rooms bumped, the message inserted, the
  commit notice, the flush at commit), on inputs resolved beforehand.
- ``chatd``: both, as ``_append_once`` runs them (two round trips); ``--split`` prints the
  share of each.
- ``chatd-fn``: the same outcome in one round trip, if the database has ``chatd_append``
  (migration 0020).
- ``lone``: the statement a lone send takes (a batch of one plain message), one round trip.
- ``peer``: the Socket.IO peer's transaction (BEGIN, UPDATE rooms, INSERT, COMMIT) on its own
  schema in the same database.
- ``<variant>-quiet``: the variant with the commit notice's trigger disabled (what the
  notice costs).
- ``index``: the search indexer's work for one message (its UPDATE of ``words``), without
  waiting for the flush (as the indexer commits).

``--gap S`` sleeps S seconds before each append, as at everyday load, where the backend idles
between sends and its caches are cold (at 100 sends/s and a batch of one, about 0.01).
``--other-node`` adds a row to ``nodes`` first, as if another node were alive: the commits
then notify and carry their messages (migration 0022: a node alone sends no notice).

With ``--bridge``, also what a crossing of chatd's trio-asyncio bridge adds to a statement
(``SELECT 1`` through it, from trio, against the same on the storage loop itself); with
``--gap`` too, after a sleep each, with what a wake-up of an idle loop costs alone (trio's,
asyncio's), as at everyday load.

Also prints ``EXPLAIN (ANALYZE, BUFFERS)`` of each of the append's statements for one message
(``--explain``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from benchmarks.infra import BenchPostgres, read_proc
from chatd.storage import postgres as pg_storage
from chatd.storage.migrations import apply_migrations
from chatd.storage.sql import words_of

__all__ = ["main", "measure"]

_TICK = os.sysconf("SC_CLK_TCK")


_PEER_SCHEMA = """
CREATE TABLE peer_rooms (
  id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, last_seq bigint NOT NULL DEFAULT 0);
CREATE TABLE peer_messages (
  id bigserial PRIMARY KEY, room_id bigint NOT NULL REFERENCES peer_rooms (id),
  seq bigint NOT NULL, sender_id bigint NOT NULL, nonce text NOT NULL, text text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (room_id, seq), UNIQUE (sender_id, nonce));
"""


def _cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


async def _setup(dsn: str, users: int, rooms: int, preload: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await apply_migrations(conn)
        await conn.execute("INSERT INTO users (name, password_hash) "
                           "SELECT 'u' || g, 'x' FROM generate_series(0, $1::int - 1) g", users)
        await conn.execute("INSERT INTO rooms (name) "
                           "SELECT 'room' || g FROM generate_series(0, $1::int - 1) g", rooms)
        await conn.execute(
            "INSERT INTO memberships (room_id, user_id) SELECT r.id, u.id FROM users u "
            "JOIN rooms r ON r.name = 'room' || ((substr(u.name, 2)::int) % $1)", rooms)
        # History: preload messages spread over the rooms, indexed, with last_seq to match.
        await conn.execute(f"""
            INSERT INTO messages (room_id, seq, sender_id, nonce, text, words)
            SELECT r.id, g / $2 + 1, m.user_id, 'pre' || g, 'hello there ' || g,
                   {words_of("'hello there ' || g")}
            FROM generate_series(0, $1::int - 1) g
            JOIN rooms r ON r.name = 'room' || (g % $2)
            JOIN LATERAL (SELECT user_id FROM memberships WHERE room_id = r.id LIMIT 1) m
              ON true""", preload, rooms)
        await conn.execute("UPDATE rooms r SET last_seq = coalesce("
                           "(SELECT max(seq) FROM messages WHERE room_id = r.id), 0)")
        await conn.execute(_PEER_SCHEMA)
        await conn.execute("INSERT INTO peer_rooms (name) "
                           "SELECT 'room' || g FROM generate_series(0, $1::int - 1) g", rooms)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


class _Sender:
    """The appends of one variant: user k of ``users`` sends to their room."""

    def __init__(self, conn: Any, users: dict[int, int], rooms: int) -> None:
        self.conn = conn
        self.users = users  # index -> id
        self.rooms = rooms
        self.n = 0
        self.split: dict[str, list[float]] = {"resolve": [], "insert": []}
        self.batch = 1  # messages per append (chatd and chatd-fn)

    def _next(self) -> tuple[int, str, str, str]:
        self.n += 1
        k = self.n % len(self.users)
        return self.users[k], f"room{k % self.rooms}", f"n{self.n}-{time.time_ns()}", "hello"

    async def select1(self) -> None:
        await self.conn.fetchval("SELECT 1")

    async def resolve(self) -> None:
        user, room, nonce, _ = self._next()
        await self.conn.fetch(pg_storage._SQL_APPEND_RESOLVE_PLAIN, [user], [room], [nonce])

    async def insert(self) -> None:
        user, room, nonce, text = self._next()
        room_id = int(room[4:]) + 1  # rooms were inserted in order: room k has id k + 1
        await self.conn.fetch(pg_storage._SQL_APPEND_INSERT_PLAIN, [room_id], [user],
                              [nonce], [text])

    def _batch(self) -> tuple[list[int], list[str], list[str], list[str]]:
        sends = [self._next() for _ in range(self.batch)]
        return ([s[0] for s in sends], [s[1] for s in sends], [s[2] for s in sends],
                [s[3] for s in sends])

    async def chatd(self) -> None:
        users, rooms, nonces, texts = self._batch()
        t0 = time.perf_counter()
        rows = await self.conn.fetch(pg_storage._SQL_APPEND_RESOLVE_PLAIN, users, rooms, nonces)
        t1 = time.perf_counter()
        await self.conn.fetch(pg_storage._SQL_APPEND_INSERT_PLAIN,
                              [r["room_id"] for r in rows], users, nonces, texts)
        t2 = time.perf_counter()
        self.split["resolve"].append(t1 - t0)
        self.split["insert"].append(t2 - t1)

    async def chatd_fn(self) -> None:
        await self.conn.fetch(pg_storage._SQL_APPEND_ONE_TRIP, *self._batch())

    async def lone(self) -> None:
        await self.conn.fetchrow(pg_storage._SQL_APPEND_LONE, *self._next())

    async def peer(self) -> None:
        user, room, nonce, text = self._next()
        room_id = int(room[4:]) + 1
        await self.conn.execute("BEGIN")
        seq = await self.conn.fetchval(
            "UPDATE peer_rooms SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq",
            room_id)
        await self.conn.fetchrow(
            "INSERT INTO peer_messages (room_id, seq, sender_id, nonce, text) "
            "VALUES ($1, $2, $3, $4, $5) "
            "RETURNING id, floor(extract(epoch FROM created_at) * 1000)::bigint AS ts",
            room_id, seq, user, nonce, text)
        await self.conn.execute("COMMIT")

    async def index(self) -> None:
        # One new message's indexing, without the flush (the indexer commits that way).
        ids = await self.conn.fetch(
            "SELECT id FROM messages WHERE words IS NULL ORDER BY id DESC LIMIT 1")
        if not ids:
            return
        async with self.conn.transaction():
            await self.conn.execute("SET LOCAL synchronous_commit = off")
            await self.conn.fetchval(pg_storage._SQL_INDEX_WORDS_OF, [ids[0]["id"]])


async def _timed(fn: Callable[[], Awaitable[None]], count: int, backend: int,
                 postmaster: int | None, per: int = 1, gap: float = 0.0) -> dict[str, float]:
    """Wall times per call; CPU per message (``per`` messages a call)."""
    for _ in range(20):  # warm the statement caches
        await fn()
    walls = []
    b0 = _cpu(backend)
    p0 = read_proc(postmaster, tree=True).cpu if postmaster else 0.0
    for _ in range(count):
        if gap:
            await asyncio.sleep(gap)  # everyday load: the backend idle between sends
        t = time.perf_counter()
        await fn()
        walls.append(time.perf_counter() - t)
    b1 = _cpu(backend)
    p1 = read_proc(postmaster, tree=True).cpu if postmaster else 0.0
    walls.sort()
    return {
        "p50_ms": statistics.median(walls) * 1000,
        "mean_ms": statistics.fmean(walls) * 1000,
        "p99_ms": walls[int(len(walls) * 0.99)] * 1000,
        "backend_cpu_ms": (b1 - b0) * 1000 / count / per,
        "pg_cpu_ms": (p1 - p0) * 1000 / count / per,
    }


async def _explain(conn: Any, users: dict[int, int]) -> None:
    user, room, nonce = users[1], "room1", f"explain-{time.time_ns()}"
    async with conn.transaction():
        for title, sql, args in (
            ("resolve", pg_storage._SQL_APPEND_RESOLVE_PLAIN, ([user], [room], [nonce])),
            ("insert", pg_storage._SQL_APPEND_INSERT_PLAIN, ([2], [user], [nonce], ["hi"])),
            ("chatd_append (its statements are not shown)", pg_storage._SQL_APPEND_ONE_TRIP,
             ([user], [room], [nonce + "-fn"], ["hi"])),
        ):
            rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS, VERBOSE off) " + sql, *args)
            print(f"--- {title}")
            print("\n".join(r[0] for r in rows))
        raise _Rollback


class _Rollback(Exception):
    pass


def _crossings(dsn: str, count: int, gap: float = 0.0) -> dict[str, float]:
    """Trio side: ``count`` sequential ``SELECT 1`` through chatd's bridge (a crossing to the
    storage loop and back each), against the same inside the storage loop itself: what a
    crossing adds to a statement, wall time median and the process's CPU per call. With
    ``gap``, each call comes after a sleep of that long (as at everyday load, where the
    process sleeps between sends); the CPU of the sleeps alone (``*_sleep_cpu_ms``: a
    wake-up of an idle event loop, trio's and asyncio's) is measured apart and taken off."""
    import trio

    from chatd.storage.bridge import open_bridge

    async def main() -> dict[str, float]:
        async with open_bridge(name="sendpath") as bridge:
            conn: Any = await bridge.run(asyncpg.connect, dsn)

            async def direct() -> tuple[list[float], float, float]:
                walls = []
                c0 = time.process_time()
                for _ in range(count):
                    if gap:
                        await asyncio.sleep(gap)
                    t = time.perf_counter()
                    await conn.fetchval("SELECT 1")
                    walls.append(time.perf_counter() - t)
                c1 = time.process_time()
                for _ in range(count if gap else 0):
                    await asyncio.sleep(gap)
                return walls, c1 - c0, time.process_time() - c1

            out: dict[str, float] = {}
            for _ in range(2):  # the second round is the one kept (caches warm)
                walls = []
                c0 = time.process_time()
                for _ in range(count):
                    if gap:
                        await trio.sleep(gap)
                    t = time.perf_counter()
                    await bridge.run(conn.fetchval, "SELECT 1")
                    walls.append(time.perf_counter() - t)
                c1 = time.process_time()
                for _ in range(count if gap else 0):
                    await trio.sleep(gap)
                trio_sleeps = time.process_time() - c1
                inner, inner_cpu, asyncio_sleeps = await bridge.run(direct)
                out = {"bridged_p50_ms": statistics.median(walls) * 1000,
                       "bridged_cpu_ms": (c1 - c0 - trio_sleeps) * 1000 / count,
                       "direct_p50_ms": statistics.median(inner) * 1000,
                       "direct_cpu_ms": (inner_cpu - asyncio_sleeps) * 1000 / count,
                       "trio_sleep_cpu_ms": trio_sleeps * 1000 / count,
                       "asyncio_sleep_cpu_ms": asyncio_sleeps * 1000 / count}
            await bridge.run(conn.close)
            return {k: round(v, 4) for k, v in out.items()}

    return trio.run(main)


async def measure(*, users: int, rooms: int, preload: int, count: int, rounds: int,
                  variants: list[str], explain: bool, dsn: str = "",
                  plan_cache_mode: str = "", strip: tuple[str, ...] = (),
                  bridge: bool = False, batch: int = 1, gap: float = 0.0,
                  other_node: bool = False) -> dict[str, Any]:
    pg = BenchPostgres(dsn or None)
    try:
        db = await asyncio.to_thread(pg.create_database, "sendpath")
        await _setup(db, users, rooms, preload)
        if other_node:
            conn = await asyncpg.connect(db)
            try:
                await conn.execute("INSERT INTO nodes (name) VALUES ('sendpath-elsewhere')")
            finally:
                await conn.close()
        if strip:
            # What a part of the schema costs: the run without it (never for chatd itself).
            conn = await asyncpg.connect(db)
            try:
                for name in strip:
                    if await conn.fetchval("SELECT count(*) FROM pg_constraint WHERE conname = $1",
                                           name):
                        await conn.execute(f"ALTER TABLE messages DROP CONSTRAINT {name}")
                    elif name.startswith("trigger:"):
                        table, trigger = name.removeprefix("trigger:").split(".")
                        await conn.execute(f"DROP TRIGGER {trigger} ON {table}")
                    else:
                        await conn.execute(f"DROP INDEX {name}")
            finally:
                await conn.close()
        settings = {"plan_cache_mode": plan_cache_mode} if plan_cache_mode else {}
        conn = await asyncpg.connect(db, server_settings=settings)
        try:
            backend = await conn.fetchval("SELECT pg_backend_pid()")
            ids = {i: r["id"] for i, r in enumerate(await conn.fetch(
                "SELECT id FROM users ORDER BY substr(name, 2)::int"))}
            # A listener, as every daemon has one: the notices cost its backend too.
            listener = await asyncpg.connect(db)
            heard = 0

            def hear(*_: Any) -> None:
                nonlocal heard
                heard += 1

            await listener.add_listener("chatd_commits", hear)
            if explain:
                with contextlib.suppress(_Rollback):
                    await _explain(conn, ids)
            sender = _Sender(conn, ids, rooms)
            sender.batch = batch
            fns = {"select1": sender.select1, "resolve": sender.resolve,
                   "insert": sender.insert, "chatd": sender.chatd, "chatd-fn": sender.chatd_fn,
                   "lone": sender.lone,
                   "peer": sender.peer, "index": sender.index}
            results: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
            for r in range(rounds):
                for v in variants:
                    quiet = v.endswith("-quiet")
                    if quiet:
                        await conn.execute("ALTER TABLE rooms DISABLE TRIGGER rooms_notify_commits")
                    name = v.removesuffix("-quiet")
                    results[v].append(await _timed(
                        fns[name], count, backend, pg.postmaster_pid,
                        per=batch if name in ("chatd", "chatd-fn") else 1, gap=gap))
                    if quiet:
                        await conn.execute("ALTER TABLE rooms ENABLE TRIGGER rooms_notify_commits")
                print(f"round {r + 1}/{rounds} done", flush=True)
            await listener.close()
            crossings = (await asyncio.to_thread(_crossings, db, count * 3, gap) if bridge
                         else {})
        finally:
            await conn.close()
        summary = {v: {k: round(statistics.median(x[k] for x in rs), 3) for k in rs[0]}
                   for v, rs in results.items()}
        if sender.split["resolve"]:
            summary["chatd"]["resolve_p50_ms"] = round(
                statistics.median(sender.split["resolve"]) * 1000, 3)
            summary["chatd"]["insert_p50_ms"] = round(
                statistics.median(sender.split["insert"]) * 1000, 3)
        return {"params": {"users": users, "rooms": rooms, "preload": preload, "count": count,
                           "rounds": rounds, "plan_cache_mode": plan_cache_mode,
                           "strip": list(strip), "batch": batch, "gap": gap,
                           "other_node": other_node},
                "loadavg_1m": round(os.getloadavg()[0], 2),
                "results": summary, "notices_heard": heard, "crossings": crossings}
    finally:
        await asyncio.to_thread(pg.drop_created)
        pg.close()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.sendpath", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--rooms", type=int, default=100)
    p.add_argument("--preload", type=int, default=65000)
    p.add_argument("--count", type=int, default=300, help="appends per variant and round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--variants", default="select1,resolve,insert,chatd,peer,index")
    p.add_argument("--explain", action="store_true")
    p.add_argument("--dsn", default="")
    p.add_argument("--plan-cache-mode", default="",
                   help="the measuring connection's plan_cache_mode (default: the server's)")
    p.add_argument("--strip", default="",
                   help="comma-separated constraints of messages, indexes or "
                        "trigger:<table>.<name> to drop before measuring: what each costs")
    p.add_argument("--batch", type=int, default=1,
                   help="messages per append of chatd and chatd-fn (times are per append, "
                        "CPU per message)")
    p.add_argument("--gap", type=float, default=0.0,
                   help="seconds the connection idles before each append (everyday load)")
    p.add_argument("--other-node", action="store_true",
                   help="a row of another node in nodes: commits notify (and carry)")
    p.add_argument("--bridge", action="store_true",
                   help="also time SELECT 1 through chatd's trio-asyncio bridge and without")
    p.add_argument("--out", default="")
    a = p.parse_args(argv)
    out = asyncio.run(measure(users=a.users, rooms=a.rooms, preload=a.preload, count=a.count,
                              rounds=a.rounds, variants=a.variants.split(","),
                              explain=a.explain, dsn=a.dsn,
                              plan_cache_mode=a.plan_cache_mode,
                              strip=tuple(filter(None, a.strip.split(","))),
                              bridge=a.bridge, batch=a.batch, gap=a.gap,
                              other_node=a.other_node))
    text = json.dumps(out, indent=1)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    return out


if __name__ == "__main__":
    main()
