"""What another node's messages cost the node that relays them (issue 17, the second worker).

``python benchmarks/results/issue17-workers4/relay_cost.py --rate 250 --duration 20`` from a
worktree's root, with its venv's python: that worktree's chatd is measured.

A fresh embedded PostgreSQL (fsync on) and database; two processes, as two workers are:
- the *sender* opens chatd's storage and stores one message at a time (``append_messages``,
  the committer's call: one commit, one notice each) in a random room of ``--rooms``, at
  ``--rate`` per second, open loop;
- the *relay* is the rest of a node: chatd's storage, its ``RoomRegistry`` and ``Relay``
  (the daemon's own classes), with ``--members`` connections in every room, each an outbox
  read by a task of its own (a connection's writer, without the socket write).
Both say they are alive (``heartbeat``), so the notices carry the messages (migration 0019).
The relay's process CPU (user + system, every thread: trio's and the storage loop's) from
its first delivery to its last, per message relayed, is what is reported: the work a
second worker does for every message the first one commits, the writes to sockets aside.

``RELAY_LISTENER=trio`` (needs ``psycopg``, not a dependency of chatd): a prototype that
reads the LISTEN connection in trio's thread instead of asyncpg's loop thread, to measure
what the crossing costs (see benchmarks/README.md, "the second worker, fourth pass").
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from typing import Any


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _trio_listener(storage: Any, dsn: str) -> Any:
    """A prototype, not chatd's: ``follow_changes`` with the LISTEN connection read in
    trio's own thread (psycopg's libpq, non-blocking), so that a notice wakes one thread and
    crosses none. Commit notices only, for the measurement; same parsing and filtering as
    chatd's listener (chatd.storage.postgres)."""
    import psycopg  # type: ignore[import-not-found]  # not a dependency: see above
    import trio

    from chatd.storage import ListeningNotice, TargetsNotice
    from chatd.storage.postgres import COMMIT_CHANNEL, _parse_notice

    async def follow_changes(on_change: Any, *, on_batch: Any = None, wanted: Any = None,
                             task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        conn = await trio.to_thread.run_sync(
            lambda: psycopg.connect(dsn, autocommit=True))
        conn.execute(f"LISTEN {COMMIT_CHANNEL}")
        pgconn = conn.pgconn
        node = storage.node
        own = node + " "
        task_status.started()
        on_batch((ListeningNotice(node=node),))
        try:
            while True:
                await trio.lowlevel.wait_readable(pgconn.socket)
                pgconn.consume_input()
                while (notify := pgconn.notifies()) is not None:
                    payload = notify.extra.decode()
                    if payload.startswith(own):
                        continue
                    notices = tuple(n for n in _parse_notice(COMMIT_CHANNEL, payload, wanted)
                                    if n.node != node or isinstance(n, TargetsNotice))
                    if notices:
                        on_batch(notices)
        finally:
            conn.close()

    return follow_changes


def _relay_main(dsn: str, rooms: int, members: int, count: int) -> None:
    import trio

    from chatd.cluster import Relay
    from chatd.config import Config
    from chatd.rooms import Connect, RoomRegistry
    from chatd.storage import open_storage

    config = Config().replace(database={"dsn": dsn})

    async def run() -> dict[str, Any]:
        expected = count * members
        got = 0
        first = last = 0.0
        done = trio.Event()

        async def writer(receive: Any) -> None:
            nonlocal got, first, last
            async for _item in receive:
                got += 1
                if got == 1:
                    first = _cpu()
                if got == expected:
                    last = _cpu()
                    done.set()

        async with open_storage(config) as storage, trio.open_nursery() as nursery:
            await storage.heartbeat()
            if os.environ.get("RELAY_LISTENER") == "trio":
                storage.follow_changes = _trio_listener(  # type: ignore[method-assign]
                    storage, dsn)
            registry = RoomRegistry()
            await nursery.start(registry.run)
            conn = 0
            for room in range(rooms):
                for member in range(members):
                    conn += 1
                    send, receive = trio.open_memory_channel[Any](1000)
                    nursery.start_soon(writer, receive)
                    await registry.connect(Connect(
                        conn, f"m{room}x{member}", send, lambda: None,
                        frozenset({f"r{room}"}), lambda: None))
            await nursery.start(Relay(storage, registry).run)
            print("ready", flush=True)
            await done.wait()
            nursery.cancel_scope.cancel()
        return {"relayed": count, "deliveries": got,
                "cpu_ms_per_message": 1000 * (last - first) / (count - 1)}

    print(json.dumps(trio.run(run)), flush=True)


def _sender_main(dsn: str, rooms: int, rate: float, count: int, batch: int) -> None:
    import trio

    from chatd.config import Config
    from chatd.storage import NewMessage, open_storage

    config = Config().replace(database={"dsn": dsn})

    async def run() -> None:
        async with open_storage(config) as storage:
            await storage.heartbeat()
            user = next(u for u in await storage.list_users() if u.name == "sender")
            rng = random.Random(1)
            start = trio.current_time()
            for n in range(0, count, batch):
                await trio.sleep_until(start + n / rate)
                await storage.append_messages([NewMessage(
                    user_id=user.id, room=f"r{rng.randrange(rooms)}",
                    text="benchmark message", nonce=f"s{n + i}")
                    for i in range(min(batch, count - n))])

    trio.run(run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=250)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1,
                        help="messages per commit (random rooms): one notice for them all")
    parser.add_argument("--role", default="main")
    parser.add_argument("--dsn", default="")
    args = parser.parse_args()
    count = int(args.rate * args.duration)
    if args.role == "relay":
        _relay_main(args.dsn, args.rooms, args.members, count)
        return
    if args.role == "sender":
        _sender_main(args.dsn, args.rooms, args.rate, count, args.batch)
        return

    import asyncio

    import asyncpg

    from benchmarks.infra import BenchPostgres
    from chatd.storage.migrations import apply_migrations

    pg = BenchPostgres()
    try:
        dsn = pg.create_database("relay_cost")

        async def prepare() -> None:
            conn = await asyncpg.connect(dsn)
            try:
                await apply_migrations(conn)
                await conn.execute("INSERT INTO users (name, password_hash) "
                                   "VALUES ('sender', 'x')")
                await conn.execute("INSERT INTO rooms (name) SELECT 'r' || g "
                                   "FROM generate_series(0, $1::int - 1) g", args.rooms)
                await conn.execute("INSERT INTO memberships (room_id, user_id) "
                                   "SELECT r.id, u.id FROM rooms r CROSS JOIN users u")
                # The members (the relay checks its subscriptions against storage).
                await conn.execute(
                    "INSERT INTO users (name, password_hash) SELECT 'm' || r || 'x' || m, 'x' "
                    "FROM generate_series(0, $1::int - 1) r, generate_series(0, $2::int - 1) m",
                    args.rooms, args.members)
                await conn.execute(
                    "INSERT INTO memberships (room_id, user_id) SELECT r.id, u.id "
                    "FROM rooms r JOIN users u ON u.name LIKE 'm' || substr(r.name, 2) || 'x%'")
            finally:
                await conn.close()

        asyncio.run(prepare())
        common = ["--dsn", dsn, "--rooms", str(args.rooms), "--rate", str(args.rate),
                  "--duration", str(args.duration), "--members", str(args.members),
                  "--batch", str(args.batch)]
        relay = subprocess.Popen([sys.executable, __file__, "--role", "relay", *common],
                                 stdout=subprocess.PIPE, text=True)
        assert relay.stdout is not None
        assert relay.stdout.readline().strip() == "ready"
        started = time.monotonic()
        subprocess.run([sys.executable, __file__, "--role", "sender", *common], check=True)
        result = json.loads(relay.stdout.readline())
        relay.wait()
        result.update(rate=args.rate, batch=args.batch, duration=args.duration, rooms=args.rooms,
                      members=args.members, wall_s=round(time.monotonic() - started, 1),
                      cpu_ms_per_message=round(result["cpu_ms_per_message"], 4))
        print(json.dumps(result))
    finally:
        pg.close()


if __name__ == "__main__":
    main()
