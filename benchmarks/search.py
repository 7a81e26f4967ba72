"""The search scenario: search latency over 10k, 100k and 1M messages, and what keeping the
index costs the send path.

``python -m benchmarks run --scenario search --servers chatd`` (chatd only: the peer has no
search). Two parts, in the same run:

1. **Latency.** For each size (``--search-sizes``), a fresh daemon on a database of its own,
   filled straight in SQL (``generate_series`` over a word list, the GIN index built after
   the load, then ``VACUUM ANALYZE``): 1,000 users, 200 rooms, each user in 20 of them (so
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
   the schema as migrated (the ``words`` column and its GIN index) and one on the same
   schema with both dropped, the one before migration 0011. They alternate
   ``--search-send-rounds`` times, so that the machine's noise falls on both.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import TYPE_CHECKING, Any

import asyncpg
import trio

from benchmarks import infra
from benchmarks.stats import latency_summary
from benchmarks.wire import hello, open_link

if TYPE_CHECKING:
    from benchmarks.run import Bench

__all__ = ["QUERY_KINDS", "populate", "search_latency", "send_with_and_without_index",
           "word_list"]

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
INSERT INTO messages (room_id, seq, sender_id, nonce, text, created_at)
SELECT r.id, s.seq, u.id, 'bench' || g, t.text,
       now() - ($2::bigint - g) * interval '1 second'
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
    The GIN index is dropped for the load and built again after it, as a restore would."""
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
        await conn.execute("DROP INDEX messages_words_idx")
        await conn.execute("ALTER TABLE messages DROP COLUMN words")
    finally:
        await conn.close()


def send_with_and_without_index(bench: Bench, *, rounds: int) -> None:
    """Part 2 (see the module's docstring): the closed loop with the index and without it,
    alternated ``rounds`` times."""
    from benchmarks.run import durable_send

    a = bench.args
    for _ in range(rounds):
        for indexed in (True, False):
            with bench.target("chatd", "searchsend" if indexed else "plainsend") as target:
                assert hasattr(target, "dsn")
                if not indexed:
                    asyncio.run(_drop_index(target.dsn))
                tokens = target.tokens("s", a.connections)
                result = durable_send(bench, target, connections=a.connections, rooms=a.rooms,
                                      mode="closed", rate=0, window=a.window,
                                      duration=a.duration, procs=a.procs, tokens=tokens)
                # Its own scenario, so that the send tables and ratios leave it out.
                result["scenario"] = "search_send"
                result["params"]["search_index"] = indexed
