"""The data-scale scenario: whether everyday operations stay flat as the data grows.

``python -m benchmarks run --scenario data-scale --servers chatd`` (chatd only). For each
level (the four ``--scale-*`` lists, zipped: the first entries make the smallest level, the
last the largest), a fresh daemon on a database of its own, filled straight in SQL
(``generate_series``; indexes kept, then ``VACUUM ANALYZE``, as a database that has lived):

- ``messages`` messages in the room ``big`` (the history axis), written by its members;
- the measured user ``d0`` is a member of ``rooms`` rooms (the rooms axis), ``u0``, ``u1``...,
  each with :data:`UNREAD` messages by ``d1`` after d0's read marker (so every count is
  "999+"), one in ten of them mentioning d0;
- ``big`` has ``members`` members (the members axis), d0 and d1 among them, d0 its owner;
- d0 has ``contacts`` contacts (the contacts axis).

Then, over chatd's protocol (TCP, one request at a time, as a person does; ``--scale-rounds``
samples each, after one unmeasured round), the operations a client makes every day, as a
client that pages asks them (the first screen, :data:`~chatd.protocol.WELCOME_PAGE` = 30
rooms and contacts, as the web page and the terminal client): ``hello`` (connect, then a hello
with ``rooms_limit`` and ``contacts_limit`` → welcome: the time of the hello alone),
``resume`` (the same hello resuming ``big`` 20 entries back), ``rooms`` (the first page of
the overview, 30), ``GET /api/rooms`` (the same over HTTP, keep-alive), ``who big``,
``contacts`` (the first page, 30), ``history`` (a page of 50 from the middle of ``big``),
``join`` (a user who is not a member joins ``big``: its latest page), ``send`` (to ``big``,
until acknowledged). The measured user keeps a connection open through all of these (the
one the requests go on), so each ``hello`` is their second connection on the node. After
those rounds, ``hello (alone)``: the paged hello again with no other connection of the
user's open (as far as the client knows: each closes before the next opens), as after a
restart: the user's first connection on the node, which reads no more contacts than a second
one (the presence tracker looks up a user's watchers when their status changes). For
information, not counted (:data:`INFORMATION`): ``hello (everything)`` (a hello without
limits: every room and contact), ``rooms``, ``GET /api/rooms`` and ``contacts`` with the
default page (100). Each level reports median and p99 per operation; the report adds, per
operation, the ratio of the largest level's median to the smallest's.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import time
from typing import TYPE_CHECKING, Any

import asyncpg
import trio

from benchmarks import infra
from benchmarks.stats import latency_summary
from benchmarks.wire import hello, open_link
from chatd.protocol import WELCOME_PAGE, Contacts, History, Join, Rooms, Send, Who
from chatd.storage.sql import words_of

if TYPE_CHECKING:
    from benchmarks.run import Bench

__all__ = ["INFORMATION", "OPERATIONS", "UNREAD", "data_scale", "populate", "table"]

#: Messages by another member after the measured user's marker, in each of their rooms.
UNREAD = 1100
#: The operations measured, in the report's order.
OPERATIONS = ("hello", "resume", "rooms", "GET /api/rooms", "who", "contacts", "history",
              "join", "send", "hello (everything)", "rooms (100)", "GET /api/rooms (100)",
              "contacts (100)", "hello (alone)")
#: The operations reported for information, whose ratio is not held to the rule: the unpaged
#: welcome, and the default pages (100) of what a paging client asks 30 of.
INFORMATION = frozenset({"hello (everything)", "rooms (100)", "GET /api/rooms (100)",
                         "contacts (100)"})
#: The default page of ``rooms`` and ``contacts`` (chatd.actions).
DEFAULT_PAGE = 100
#: Rows per INSERT while loading.
BATCH = 200_000
#: Senders of the history of ``big`` (its first members, d0 aside).
WRITERS = 50


def _level_name(level: dict[str, int]) -> str:
    return (f"{level['messages']:,} msgs, {level['rooms']:,} rooms, "
            f"{level['members']:,} members, {level['contacts']:,} contacts")


async def _populate(dsn: str, level: dict[str, int], joiners: int,
                    password_hash: str) -> dict[str, Any]:
    messages, rooms, members, contacts = (level["messages"], level["rooms"],
                                          level["members"], level["contacts"])
    users = max(members, contacts + 1, 2)
    writers = max(1, min(WRITERS, members - 1))
    conn = await asyncpg.connect(dsn)
    try:
        started = time.monotonic()
        await conn.execute(
            "INSERT INTO users (name, password_hash) "
            "SELECT 'd' || g, $1 FROM generate_series(0, $2 - 1) g", password_hash, users)
        await conn.execute(
            "INSERT INTO users (name, password_hash) "
            "SELECT 'j' || g, $1 FROM generate_series(0, $2 - 1) g", password_hash, joiners)
        me = await conn.fetchval("SELECT id FROM users WHERE name = 'd0'")
        other = await conn.fetchval("SELECT id FROM users WHERE name = 'd1'")
        big = await conn.fetchval(
            "INSERT INTO rooms (name, owner_id) VALUES ('big', $1) RETURNING id", me)
        await conn.execute(
            "INSERT INTO memberships (room_id, user_id) SELECT $1, u.id FROM users u "
            "WHERE u.name IN (SELECT 'd' || g FROM generate_series(0, $2 - 1) g)", big, members)
        await conn.execute(
            "INSERT INTO contacts (user_id, contact_id) SELECT $1, u.id FROM users u "
            "WHERE u.name IN (SELECT 'd' || g FROM generate_series(1, $2) g)", me, contacts)
        writer_ids = [row["id"] for row in await conn.fetch(
            "SELECT id FROM users WHERE name IN (SELECT 'd' || g FROM generate_series(1, $1) g) "
            "ORDER BY id", writers)]
        words = f"(SELECT {words_of(repr('a message of the data-scale benchmark'))})"
        for low in range(1, messages + 1, BATCH):
            await conn.execute(f"""
                INSERT INTO messages (room_id, seq, sender_id, nonce, text, created_at, words)
                SELECT $1, g, ($2::bigint[])[1 + g % $3], 'b' || g,
                       'a message of the data-scale benchmark', now(), {words}
                FROM generate_series($4::bigint, $5::bigint) g""",
                big, writer_ids, len(writer_ids), low, min(low + BATCH - 1, messages))
        await conn.execute(
            "INSERT INTO rooms (name) SELECT 'u' || g FROM generate_series(0, $1 - 1) g", rooms)
        await conn.execute(
            "INSERT INTO memberships (room_id, user_id) SELECT r.id, u.id FROM rooms r, users u "
            "WHERE r.name LIKE 'u%' AND u.id IN ($1, $2)", me, other)
        per_batch = max(1, BATCH // UNREAD)
        for first in range(0, rooms, per_batch):
            await conn.execute(f"""
                INSERT INTO messages (room_id, seq, sender_id, nonce, text, created_at, words)
                SELECT r.id, g, $1, 'u' || r.id || ':' || g,
                       'a message of the data-scale benchmark', now(), {words}
                FROM rooms r CROSS JOIN generate_series(1, {UNREAD}) g
                WHERE r.name IN (SELECT 'u' || k FROM generate_series($2::int, $3::int) k)""",
                other, first, min(first + per_batch, rooms) - 1)
        await conn.execute(
            "INSERT INTO mentions (user_id, room_id, seq) SELECT $1, r.id, g "
            f"FROM rooms r CROSS JOIN generate_series(10, {UNREAD}, 10) g "
            "WHERE r.name LIKE 'u%'", me)
        await conn.execute("UPDATE rooms r SET last_seq = coalesce("
                           "(SELECT max(seq) FROM messages m WHERE m.room_id = r.id), 0)")
        await conn.execute("UPDATE memberships SET read_seq = $2 WHERE room_id = $1",
                           big, messages)
        loaded = time.monotonic()
        await conn.execute("VACUUM ANALYZE")
        return {"load_s": round(loaded - started, 1),
                "vacuum_s": round(time.monotonic() - loaded, 1),
                "total_messages": messages + rooms * UNREAD}
    finally:
        await conn.close()


def populate(dsn: str, level: dict[str, int], joiners: int) -> dict[str, Any]:
    """Fill a migrated, empty chatd database for one level (see the module's docstring)."""
    return asyncio.run(_populate(dsn, level, joiners, infra._password_hash()))


async def _ids(dsn: str, names: list[str]) -> list[tuple[int, str]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT id, name FROM users WHERE name = ANY($1::text[])", names)
    finally:
        await conn.close()
    by_name = {row["name"]: row["id"] for row in rows}
    return [(by_name[name], name) for name in names]


def _http_get(port: int, token: str, path: str, rounds: int) -> list[float]:
    """``rounds`` + 1 GETs of ``path`` on one keep-alive connection; the times of all but the
    first (ms)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times = []
    try:
        for n in range(rounds + 1):
            started = time.perf_counter()
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
            json.loads(body)
            if n:
                times.append((time.perf_counter() - started) * 1000)
    finally:
        conn.close()
    return times


async def _measure(port: int, http_port: int, token: str, joiner_tokens: list[str],
                   rounds: int, last_seq: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {op: [] for op in OPERATIONS}

    def timed(op: str, started: float, n: int) -> None:
        if n:  # round 0 warms up
            times[op].append((time.perf_counter() - started) * 1000)

    async with trio.open_nursery() as nursery:
        link = await open_link(nursery, "tcp", "127.0.0.1", port)
        await hello(link, token)
        middle = max(1, last_seq // 2)
        for n in range(rounds + 1):
            for op, page in (("hello", WELCOME_PAGE), ("hello (everything)", None)):
                fresh = await open_link(nursery, "tcp", "127.0.0.1", port)
                started = time.perf_counter()
                await hello(fresh, token, rooms_limit=page, contacts_limit=page)
                timed(op, started, n)
                await fresh.aclose()
            fresh = await open_link(nursery, "tcp", "127.0.0.1", port)
            started = time.perf_counter()
            await hello(fresh, token, resume={"big": max(0, last_seq - 20)},
                        rooms_limit=WELCOME_PAGE, contacts_limit=WELCOME_PAGE)
            timed("resume", started, n)
            await fresh.aclose()
            for op, request in (("rooms", Rooms(id=n, limit=WELCOME_PAGE)),
                                ("rooms (100)", Rooms(id=n)),
                                ("who", Who(id=n, room="big")),
                                ("contacts", Contacts(id=n, limit=WELCOME_PAGE)),
                                ("contacts (100)", Contacts(id=n)),
                                ("history", History(id=n, room="big", before=middle,
                                                    limit=50))):
                started = time.perf_counter()
                await link.request(request, timeout=120)
                timed(op, started, n)
            joiner = await open_link(nursery, "tcp", "127.0.0.1", port)
            await hello(joiner, joiner_tokens[n])
            started = time.perf_counter()
            await joiner.request(Join(id=n, room="big"), timeout=120)
            timed("join", started, n)
            await joiner.aclose()
            started = time.perf_counter()
            await link.request(Send(id=n, room="big", text=f"scale {n}", nonce=f"scale{n}"))
            timed("send", started, n)
            last_seq += 1
        await link.aclose()
        for n in range(rounds + 1):
            alone = await open_link(nursery, "tcp", "127.0.0.1", port)
            started = time.perf_counter()
            await hello(alone, token, rooms_limit=WELCOME_PAGE, contacts_limit=WELCOME_PAGE)
            timed("hello (alone)", started, n)
            await alone.aclose()
    times["GET /api/rooms"] = await trio.to_thread.run_sync(
        _http_get, http_port, token, f"/api/rooms?limit={WELCOME_PAGE}", rounds)
    times["GET /api/rooms (100)"] = await trio.to_thread.run_sync(
        _http_get, http_port, token, f"/api/rooms?limit={DEFAULT_PAGE}", rounds)
    return times


def data_scale(bench: Bench, *, levels: list[dict[str, int]], rounds: int) -> None:
    """One result per level (see the module's docstring)."""
    for level in levels:
        with bench.target("chatd", "datascale") as target:
            assert hasattr(target, "dsn") and hasattr(target, "daemon")
            made = populate(target.dsn, level, rounds + 1)
            users = asyncio.run(_ids(target.dsn, ["d0"] + [f"j{i}" for i in range(rounds + 1)]))
            tokens = infra.mint_tokens(target.daemon.secret(), users)
            times = trio.run(_measure, target.port, target.daemon.http_port, tokens[0],
                             tokens[1:], rounds, level["messages"])
            figures: dict[str, Any] = {**made, "operations": {
                op: latency_summary(sorted(values)) for op, values in times.items()}}
            bench.record({"scenario": "data_scale", "server": "chatd", "transport": "tcp",
                          "params": {**level, "rounds": rounds}, "figures": figures})


def table(results: list[dict[str, Any]]) -> str:
    """The markdown table of data-scale results: per operation, median and p99 at each level
    and the ratio of the largest level's median to the smallest's."""
    levels = sorted(results, key=lambda r: (r["params"]["messages"], r["params"]["rooms"],
                                            r["params"]["members"], r["params"]["contacts"]))
    if not levels:
        return ""
    head = ["operation"] + [f"L{i + 1} p50 / p99 ms" for i in range(len(levels))] + [
        "ratio p50 L" + str(len(levels)) + "/L1"]
    rows = []
    for op in OPERATIONS:
        cells = [op]
        for result in levels:
            f = result["figures"]["operations"].get(op, {})
            cells.append(f"{f.get('p50_ms')} / {f.get('p99_ms')}")
        first = levels[0]["figures"]["operations"].get(op, {}).get("p50_ms")
        last = levels[-1]["figures"]["operations"].get(op, {}).get("p50_ms")
        ratio = f"{last / first:.1f}" if first and last else "-"
        cells.append(f"({ratio}, not counted)" if op in INFORMATION else ratio)
        rows.append(cells)
    legend = "\n".join(f"- L{i + 1}: {_level_name(r['params'])}"
                       for i, r in enumerate(levels))
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return legend + "\n\n" + "\n".join(lines) + "\n"
