"""What the commit notices cost several nodes on one PostgreSQL: notices per second and commit
time with 1, 2 and 4 nodes, one notice per room of a batch (migration 0003's trigger) against
one per batch (migration 0017's, ``per-batch``), one per batch carrying the messages
(``carrying``: 0019's with another node alive), none when alone (``alone``: 0022's with no
other node), and no trigger at all (``none``).

``python -m benchmarks.notices`` (not part of ``run``: it measures the storage path that the
group commit drives, not the whole daemon). On a fresh embedded PostgreSQL (fsync on), for
each mode and node count, a fresh database migrated by this chatd (for ``per-room``, the
statement-level trigger replaced by 0003's per-row one), ``--rooms`` rooms with every writer
a member of each. Each node is a process of its own, as a chatd node is: it opens chatd's
storage (its pool, its bridge) and LISTENs like a daemon's relay (parsing every notice), and
``--writers`` tasks store batches of ``--batch`` messages in random rooms with
``append_messages`` (the group commit's one call: one transaction), back to back, for
``--duration`` seconds. A listener of its own counts the NOTIFY payloads PostgreSQL delivers.

Reported per mode and node count: batches committed per second (all nodes), messages per
second, notices per second (payloads delivered to one listener), and the commit time (the
``append_messages`` call, bridge crossing included) median and 99th percentile over every
batch of every node. PostgreSQL serialises the commit of every transaction that notified
(a global lock, held while its notices are queued): the question is what that costs as nodes
and notices grow.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg

from benchmarks.infra import BenchPostgres
from chatd.storage.migrations import apply_migrations

__all__ = ["MODES", "main", "measure"]

#: Migration 0003's trigger: a NOTIFY per room whose last_seq a statement bumped.
_PER_ROOM = """
DROP TRIGGER rooms_notify_commits ON rooms;
CREATE FUNCTION chatd_notify_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('chatd_commits', current_setting('application_name') || ' '
        || NEW.name || ' ' || OLD.last_seq || ' ' || NEW.last_seq);
    RETURN NULL;
END
$$;
CREATE TRIGGER rooms_notify_commit AFTER UPDATE OF last_seq ON rooms
    FOR EACH ROW WHEN (NEW.last_seq > OLD.last_seq) EXECUTE FUNCTION chatd_notify_commit();
"""
#: No notice at all: the ceiling of the commits themselves (other nodes would hear nothing).
_NONE = "DROP TRIGGER rooms_notify_commits ON rooms;"


def _migration_0017_trigger() -> str:
    """Migration 0017's trigger and function: one notice per statement naming its rooms'
    ranges, whether or not another node is alive (0019 added the messages, 0022 silence when
    alone)."""
    text = (Path(__file__).parent.parent / "chatd" / "storage" / "migrations"
            / "0017_nodes_and_presence.sql").read_text()
    start = text.index("CREATE FUNCTION chatd_notify_commits")
    function = "CREATE OR REPLACE" + text[start + len("CREATE"):text.index("$$;", start) + 3]
    trigger = text[text.index("CREATE TRIGGER rooms_notify_commits"):]
    trigger = trigger[:trigger.index(";") + 1]
    return f"{function}\nDROP TRIGGER rooms_notify_commits ON rooms;\n{trigger}"


#: Migration 0019's notice with another node alive (a row of ``nodes`` that no process
#: here is): each notice carries the batch's new messages while they fit. Without that row
#: (mode ``alone``), migration 0022 sends no notice at all.
_CARRYING = "INSERT INTO nodes (name) VALUES ('elsewhere');"
MODES = {"per-room": _PER_ROOM, "per-batch": _migration_0017_trigger(),
         "carrying": _CARRYING, "alone": "", "none": _NONE}


async def _database(pg: BenchPostgres, name: str, mode: str, rooms: int,
                    writers: int) -> str:
    dsn = await asyncio.to_thread(pg.create_database, name)
    conn = await asyncpg.connect(dsn)
    try:
        await apply_migrations(conn)
        if MODES[mode]:
            await conn.execute(MODES[mode])
        await conn.execute("INSERT INTO users (name, password_hash) "
                           "SELECT 'w' || g, 'x' FROM generate_series(0, $1::int - 1) g",
                           writers)
        await conn.execute("INSERT INTO rooms (name) "
                           "SELECT 'r' || g FROM generate_series(0, $1::int - 1) g", rooms)
        await conn.execute("INSERT INTO memberships (room_id, user_id) "
                           "SELECT r.id, u.id FROM rooms r CROSS JOIN users u")
    finally:
        await conn.close()
    return dsn


def _node_main(argv: list[str]) -> None:
    """One node: this process's storage, a relay-like listener and the writers."""
    import trio

    from chatd.config import Config
    from chatd.storage import NewMessage, open_storage

    dsn, duration, batch, rooms, writers, index = (
        argv[0], float(argv[1]), int(argv[2]), int(argv[3]), int(argv[4]), int(argv[5]))
    config = Config().replace(database={"dsn": dsn, "pool_size": writers + 2})

    async def run() -> dict[str, Any]:
        heard = 0
        carried = 0
        walls: list[float] = []
        messages = 0

        def hear(notice: object) -> None:
            nonlocal heard, carried
            heard += 1
            carried += getattr(notice, "entries", None) is not None

        async with open_storage(config) as storage, trio.open_nursery() as nursery:
            await nursery.start(storage.follow_changes, hear)
            users = {u.name: u.id for u in await storage.list_users()}
            rng = random.Random(index)
            deadline = trio.current_time() + duration
            nonce = 0

            async def write(writer: int) -> None:
                nonlocal nonce, messages
                user_id = users[f"w{index * writers + writer}"]
                while trio.current_time() < deadline:
                    entries = []
                    for _ in range(batch):
                        nonce += 1
                        entries.append(NewMessage(
                            user_id=user_id, room=f"r{rng.randrange(rooms)}",
                            text="benchmark", nonce=f"{index}-{nonce}"))
                    start = time.perf_counter()
                    await storage.append_messages(entries)
                    walls.append(time.perf_counter() - start)
                    messages += len(entries)

            async with trio.open_nursery() as writing:
                for writer in range(writers):
                    writing.start_soon(write, writer)
            nursery.cancel_scope.cancel()
        return {"walls": walls, "messages": messages, "heard": heard, "carried": carried}

    print(json.dumps(trio.run(run)))


async def _count_payloads(dsn: str, listening: asyncio.Event, stop: asyncio.Event
                          ) -> tuple[int, int]:
    """The payloads delivered on chatd_commits until ``stop``, and their bytes; ``listening``
    is set once the LISTEN is in place, so that no node commits before it."""
    count = 0
    size = 0

    def heard(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
        nonlocal count, size
        count += 1
        size += len(payload.encode())

    conn = await asyncpg.connect(dsn)
    try:
        await conn.add_listener("chatd_commits", heard)
        listening.set()
        await stop.wait()
        await conn.execute("SELECT 1")  # deliveries queued before this have arrived
    finally:
        await conn.close()
    return count, size


async def _one(pg: BenchPostgres, mode: str, nodes: int, *, duration: float, batch: int,
               rooms: int, writers: int) -> dict[str, Any]:
    dsn = await _database(pg, f"notices_{mode.replace('-', '_')}_{nodes}", mode, rooms,
                          writers * nodes)
    listening, stop = asyncio.Event(), asyncio.Event()
    counter = asyncio.create_task(_count_payloads(dsn, listening, stop))
    waiter = asyncio.create_task(listening.wait())
    await asyncio.wait({counter, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if counter.done():
        waiter.cancel()
        counter.result()  # it failed before listening: raise its error here
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.notices", "--node", dsn, str(duration), str(batch),
        str(rooms), str(writers), str(i), stdout=subprocess.PIPE)
        for i in range(nodes)]
    outputs = await asyncio.gather(*(p.communicate() for p in procs))
    stop.set()
    payloads, size = await counter
    results = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outputs]
    walls = sorted(w for r in results for w in r["walls"])
    # Each node writes for `duration` from its own start: the window is that, per node.
    commits = len(walls)
    return {
        "mode": mode, "nodes": nodes,
        "commits_per_s": round(commits / duration, 1),
        "messages_per_s": round(sum(r["messages"] for r in results) / duration),
        "notices_per_s": round(payloads / duration, 1),
        "notices_per_commit": round(payloads / commits, 2) if commits else 0.0,
        "notice_bytes": round(size / payloads) if payloads else 0,
        # Of the rooms the nodes heard of, the share whose new messages the notice carried.
        "carried": round(sum(r["carried"] for r in results)
                         / max(1, sum(r["heard"] for r in results)), 2),
        "commit_ms_p50": round(statistics.median(walls) * 1000, 2) if walls else 0.0,
        "commit_ms_p99": round(walls[min(len(walls) - 1, int(len(walls) * 0.99))] * 1000, 2)
        if walls else 0.0,
    }


async def measure(*, nodes: list[int], modes: list[str], duration: float, batch: int,
                  rooms: int, writers: int, dsn: str = "") -> list[dict[str, Any]]:
    """Run the measurement (see the module's docstring); one row per mode and node count,
    the modes alternating at each node count so that the machine's noise falls on both."""
    pg = BenchPostgres(dsn or None)
    try:
        rows = []
        for count in nodes:
            for mode in modes:
                rows.append(await _one(pg, mode, count, duration=duration, batch=batch,
                                       rooms=rooms, writers=writers))
                print(json.dumps(rows[-1]), file=sys.stderr)
        return rows
    finally:
        await asyncio.to_thread(pg.drop_created)  # it runs an event loop of its own
        pg.close()


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as the Markdown table of benchmarks/README.md."""
    lines = ["| notices | nodes | batches/s | messages/s | notices/s | notices per batch "
             "| bytes per notice | rooms carried | commit p50 ms | commit p99 ms |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['nodes']} | {r['commits_per_s']} | "
                     f"{r['messages_per_s']} | {r['notices_per_s']} | "
                     f"{r['notices_per_commit']} | {r.get('notice_bytes', '-')} | "
                     f"{r.get('carried', '-')} | {r['commit_ms_p50']} | "
                     f"{r['commit_ms_p99']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--node"]:
        _node_main(argv[1:])
        return []
    parser = argparse.ArgumentParser(prog="python -m benchmarks.notices",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", default="1,2,4", help="node counts, comma-separated")
    parser.add_argument("--modes", default=",".join(MODES), help="of " + ", ".join(MODES))
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--batch", type=int, default=64, help="messages per batch")
    parser.add_argument("--rooms", type=int, default=200, help="rooms the batches spread over")
    parser.add_argument("--writers", type=int, default=2,
                        help="batches in flight per node (the group commit has one or two)")
    parser.add_argument("--dsn", default="",
                        help="an existing PostgreSQL (a role that may create databases)")
    parser.add_argument("--out", default="", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    rows = asyncio.run(measure(
        nodes=[int(n) for n in args.nodes.split(",")], modes=args.modes.split(","),
        duration=args.duration, batch=args.batch, rooms=args.rooms, writers=args.writers,
        dsn=args.dsn))
    if args.out:
        with open(args.out, "w") as file:
            file.write(json.dumps(rows, indent=1) + "\n")
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
