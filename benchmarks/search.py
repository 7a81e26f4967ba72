"""The search scenario: search latency over 10k, 100k and 1M messages, what keeping the index
costs the send path, and how soon a message is found after its acknowledgement.

``python -m benchmarks run --scenario search --servers chatd`` (chatd only: the peer has no
search). Three parts, in the same run:

1. **Latency.** For each size (``--search-sizes``), a fresh daemon on a database of its own,
   filled straight in SQL (``generate_series`` over a word list, each message's words
   computed in the load as the indexer would have, the GIN index built after the load, then
   ``VACUUM ANALYZE``): 1,000 users, 200 rooms, each user in 20 of them (so
   a user's rooms hold a tenth of the messages), messages of 6-15 words drawn from 20,000
   made-up words with a skewed law (the commonest word is in about one message of six, the
   rarest in a few per million), one a second back from now. Then one user searches over the
   socket protocol (TCP, one request at a time, as a person does), a mix of queries
   (``--search-rounds`` rounds): a common word, a rare one, a prefix, a phrase of two common
   words, ``from:`` with a word, ``in:`` a room with a word, two common words (AND), and a
   word nothing has. Latency is from the request written to its reply read, per kind and
   for the whole mix.
2. **The send path.** The durable-send closed loop of the send scenario (``--connections``
   in ``--rooms``, ``--window`` in flight each, ``--duration``), on two fresh daemons: one on
   the schema as migrated (the ``words`` column, its GIN index and the daemon's indexer at
   work) and one on the same schema with the column and its indexes dropped, the one before
   migration 0011 (that daemon's indexer then fails on every round, logged, retried after a
   growing delay: a statement every few seconds). They alternate ``--search-send-rounds``
   times, so that the machine's noise falls on both.
3. **Freshness.** While the closed loop runs with the index (overload), and in an open loop
   at ``--search-fresh-rate`` sends/s in total (everyday load, same connections and rooms),
   a probe connection sends a message every ``PROBE_EVERY`` seconds and times its
   acknowledgement to the moment the database holds its words (polled every few
   milliseconds, by key: what a search needs to find it), and the backlog is counted once a
   second.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from typing import TYPE_CHECKING, Any

import asyncpg
import trio

from benchmarks import infra
from benchmarks.stats import latency_summary
from benchmarks.wire import hello, open_link
from chatd.storage.sql import words_of

if TYPE_CHECKING:
    from benchmarks.run import Bench

__all__ = ["QUERY_KINDS", "Probe", "populate", "search_latency",
           "send_with_and_without_index", "word_list"]

WORDS = 20_000
USERS = 1_000
ROOMS = 200
ROOMS_PER_USER = 10  # user u is in room r when (u + r) % 10 == 0: 20 rooms each
# The word of each message slot: index floor(WORDS * random() ** SKEW).
SKEW = 2.5
BATCH = 100_000


def word_list(count: int = WORDS, seed: int = 15) -> list[str]:
    """``count`` distinct made-up words of 2-9 letters (syllables), the same every run."""
    rng = random.Random(seed)
    consonants, vowels = "bcdfghjklmnprstvwz", "aeiou"
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        word = "".join(rng.choice(consonants) + rng.choice(vowels)
                       for _ in range(rng.randint(1, 4)))
        if rng.random() < 0.3:
            word += rng.choice(consonants)
        if word not in seen:
            seen.add(word)
            out.append(word)
    return out


_SQL_MESSAGES = f"""
INSERT INTO messages (room_id, seq, sender_id, nonce, text, created_at, words)
SELECT r.id, s.seq, u.id, 'bench' || g, t.text,
       now() - ($2::bigint - g) * interval '1 second', {words_of("t.text")}
FROM generate_series($3::bigint, $4::bigint) g
CROSS JOIN LATERAL (SELECT g % {ROOMS} AS k, g / {ROOMS} + 1 AS seq) s
JOIN rooms r ON r.name = 'room' || s.k
JOIN users u ON u.name = 'u' || (((g * 7) % {USERS // ROOMS_PER_USER}) * {ROOMS_PER_USER}
                                 + ({ROOMS_PER_USER} - s.k % {ROOMS_PER_USER})
                                   % {ROOMS_PER_USER})
CROSS JOIN LATERAL (
    SELECT string_agg(($1::text[])[1 + floor({WORDS} * power(random(), {SKEW}))::int], ' ')
           AS text
    FROM generate_series(1, 6 + (g % 10)) w WHERE g > 0
) t
"""


def populate(dsn: str, messages: int, password_hash: str) -> dict[str, Any]:
    """Fill a migrated, empty chatd database (see the module's docstring); what was made.
    The messages come with their words (as a restore brings them back), so that the
    daemon's indexer finds nothing to do; the GIN index is dropped for the load and built
    again after it, as a restore would."""
    words = word_list()

    async def run() -> dict[str, Any]:
        conn = await asyncpg.connect(dsn)
        try:
            started = time.monotonic()
            await conn.execute(
                "INSERT INTO users (name, password_hash) "
                "SELECT 'u' || g, $1 FROM generate_series(0, $2 - 1) g", password_hash, USERS)
            await conn.execute(
                "INSERT INTO rooms (name) SELECT 'room' || g FROM generate_series(0, $1 - 1) g",
                ROOMS)
            await conn.execute(f"""
                INSERT INTO memberships (room_id, user_id)
                SELECT r.id, u.id FROM rooms r JOIN users u
                    ON (substr(u.name, 2)::int + substr(r.name, 5)::int)
                       % {ROOMS_PER_USER} = 0""")
            index = await conn.fetchval(
                "SELECT pg_get_indexdef('messages_words_idx'::regclass)")
            await conn.execute("DROP INDEX messages_words_idx")
            for low in range(1, messages + 1, BATCH):
                await conn.execute(_SQL_MESSAGES, words, messages, low,
                                   min(low + BATCH - 1, messages))
            loaded = time.monotonic()
            await conn.execute(index)
            await conn.execute("UPDATE rooms r SET last_seq = coalesce("
                               "(SELECT max(seq) FROM messages m WHERE m.room_id = r.id), 0)")
            await conn.execute("VACUUM ANALYZE")
            size = await conn.fetchval("SELECT pg_relation_size('messages_words_idx')")
            return {"messages": messages, "load_s": round(loaded - started, 1),
                    "index_s": round(time.monotonic() - loaded, 1),
                    "index_mib": round(size / 2**20, 1)}
        finally:
            await conn.close()

    return asyncio.run(run())


def _queries(words: list[str]) -> dict[str, list[str]]:
    """The mix, by kind: a few queries each (varied, so that no cache of one query makes a
    kind look faster than it is). Ranks follow the skewed law: rank 0 is the commonest."""
    return {
        "common word": [words[0], words[1], words[2]],
        "rare word": [words[15000], words[17000], words[19000]],
        "prefix": [words[40][:3], words[300][:3], words[5][:2]],
        "phrase": [f'"{words[0]} {words[1]}"', f'"{words[1]} {words[0]}"',
                   f'"{words[2]} {words[0]}"'],
        "two words": [f"{words[0]} {words[3]}", f"{words[1]} {words[4]}",
                      f"{words[10]} {words[20]}"],
        "from:": [f"from:u10 {words[0]}", f"from:u20 {words[5]}", f"from:u30 {words[200]}"],
        "in:": [f"in:room10 {words[0]}", f"in:room20 {words[5]}", f"in:room30 {words[200]}"],
        "no match": ["zzzzqx", "qqqqzz", "xxyyzz"],
    }


QUERY_KINDS = ("common word", "rare word", "prefix", "phrase", "two words", "from:", "in:",
               "no match")


async def _measure(port: int, token: str, rounds: int) -> dict[str, list[float]]:
    from chatd.protocol import Search

    queries = _queries(word_list())
    times: dict[str, list[float]] = {kind: [] for kind in queries}
    async with trio.open_nursery() as nursery:
        link = await open_link(nursery, "tcp", "127.0.0.1", port)
        await hello(link, token)
        for texts in queries.values():  # once, unmeasured: plans and pages warm
            for text in texts:
                await link.request(Search(id="w", query=text))
        rid = 0
        for _ in range(rounds):
            for kind, texts in queries.items():
                for text in texts:
                    rid += 1
                    started = time.perf_counter()
                    await link.request(Search(id=rid, query=text))
                    times[kind].append((time.perf_counter() - started) * 1000)
        await link.aclose()
    return times


def search_latency(bench: Bench, *, sizes: list[int], rounds: int) -> None:
    """Part 1 (see the module's docstring): one result per size."""
    password_hash = infra._password_hash()
    for size in sizes:
        with bench.target("chatd", f"search{size}") as target:
            assert hasattr(target, "dsn") and hasattr(target, "daemon")
            made = populate(target.dsn, size, password_hash)
            users = asyncio.run(_user_id(target.dsn, "u0"))
            token = infra.mint_tokens(target.daemon.secret(), [(users, "u0")])[0]
            times = trio.run(_measure, target.port, token, rounds)
            every = sorted(t for values in times.values() for t in values)
            figures: dict[str, Any] = {**made, **latency_summary(every)}
            figures["kinds"] = {kind: latency_summary(sorted(values))
                                for kind, values in times.items()}
            bench.record({"scenario": "search", "server": "chatd", "transport": "tcp",
                          "params": {"messages": size, "rounds": rounds}, "figures": figures})


async def _user_id(dsn: str, name: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT id FROM users WHERE name = $1", name))
    finally:
        await conn.close()


async def _drop_index(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        # (Its indexes go with the column.)
        await conn.execute("ALTER TABLE messages DROP COLUMN words")
    finally:
        await conn.close()


#: Seconds between two probe messages (see the module's docstring, part 3).
PROBE_EVERY = 0.5
#: Seconds between two looks at whether a probe message's words are there yet.
PROBE_POLL = 0.005


class Probe:
    """Part 3 (see the module's docstring), in a thread of its own with its own asyncio
    loop, for as long as a load runs: one connection (raw NDJSON over TCP) that sends a
    message every :data:`PROBE_EVERY` seconds to ``room`` and times its acknowledgement to
    the moment its words are in the database; and the backlog (messages with NULL words),
    counted once a second. :meth:`stop` ends it and returns the figures."""

    def __init__(self, port: int, token: str, dsn: str, room: str) -> None:
        self._port, self._token, self._dsn, self._room = port, token, dsn, room
        self._stop = threading.Event()
        self._fresh_ms: list[float] = []
        self._backlog: list[int] = []
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join(60)
        if self._failure is not None:
            raise self._failure
        fresh = sorted(self._fresh_ms)
        summary = latency_summary(fresh)
        return {"fresh_samples": len(fresh), "fresh_p50_ms": summary.get("p50_ms"),
                "fresh_p99_ms": summary.get("p99_ms"), "fresh_max_ms": summary.get("max_ms"),
                "backlog_max": max(self._backlog, default=0),
                "backlog_mean": round(sum(self._backlog) / len(self._backlog), 1)
                if self._backlog else 0}

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:  # reported by stop()
            self._failure = exc

    async def _run(self) -> None:
        conn = await asyncpg.connect(self._dsn)
        reader, writer = await asyncio.open_connection("127.0.0.1", self._port)
        counting = asyncio.create_task(self._count_backlog())
        try:
            await self._request(reader, writer, {"op": "hello", "id": "h",
                                                 "token": self._token})
            await self._request(reader, writer, {"op": "join", "id": "j", "room": self._room})
            n = 0
            while not self._stop.is_set():
                n += 1
                sent = await self._request(reader, writer, {
                    "op": "send", "id": n, "room": self._room, "nonce": f"probe{n}",
                    "text": f"probe number {n}"})
                acked = time.perf_counter()
                while not await conn.fetchval(  # noqa: ASYNC110 (the database's state)
                        "SELECT words IS NOT NULL FROM messages WHERE id = $1",
                        sent["msg_id"]):
                    await asyncio.sleep(PROBE_POLL)
                self._fresh_ms.append((time.perf_counter() - acked) * 1000)
                await asyncio.sleep(PROBE_EVERY)
        finally:
            counting.cancel()
            writer.close()
            await conn.close()

    async def _count_backlog(self) -> None:
        conn = await asyncpg.connect(self._dsn)
        try:
            while True:
                self._backlog.append(int(await conn.fetchval(
                    "SELECT count(*) FROM messages WHERE words IS NULL")))
                await asyncio.sleep(1.0)
        finally:
            await conn.close()

    @staticmethod
    async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       request: dict[str, Any]) -> dict[str, Any]:
        writer.write(json.dumps(request).encode() + b"\n")
        await writer.drain()
        while True:
            reply = json.loads(await asyncio.wait_for(reader.readline(), 60))
            if reply.get("id") == request["id"]:
                if reply["op"] == "error":
                    raise RuntimeError(f"the probe's {request['op']} failed: {reply}")
                return reply  # type: ignore[no-any-return]


def send_with_and_without_index(bench: Bench, *, rounds: int, fresh_rate: float) -> None:
    """Parts 2 and 3 (see the module's docstring): the closed loop with the index and
    without it, alternated ``rounds`` times, the probe running along the ones with it; then
    the open loop at ``fresh_rate`` with the index and the probe."""
    from benchmarks.run import durable_send

    a = bench.args
    runs = [("closed", True), ("closed", False)] * rounds + [("open", True)]
    for mode, indexed in runs:
        with bench.target("chatd", "searchsend" if indexed else "plainsend") as target:
            assert hasattr(target, "dsn") and hasattr(target, "daemon")
            if not indexed:
                asyncio.run(_drop_index(target.dsn))
            tokens = target.tokens("s", a.connections + 1)
            probe = Probe(target.port, tokens[-1], target.dsn, "room0") if indexed else None
            try:
                result = durable_send(bench, target, connections=a.connections,
                                      rooms=a.rooms, mode=mode,
                                      rate=fresh_rate if mode == "open" else 0,
                                      window=a.window, duration=a.duration, procs=a.procs,
                                      tokens=tokens[:-1])
            finally:
                freshness = probe.stop() if probe is not None else {}
            # Its own scenario, so that the send tables and ratios leave it out.
            result["scenario"] = "search_send"
            result["params"]["search_index"] = indexed
            result["figures"].update(freshness)
