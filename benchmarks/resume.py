"""A hello that resumes many rooms: its time as the number of resumed rooms grows (issue 17).

``python -m benchmarks.resume`` (not part of ``run``). On a fresh embedded PostgreSQL, a
database where user ``d0`` is a member of ``--rooms`` rooms, each holding ``--history``
entries of which ``--missed`` are after the seq d0's client saw. For each size of
``--sizes``, a fresh connection says a paged hello (30 rooms and contacts, as the web page and
the terminal client) resuming the first N rooms (``resume``: each room's last_seq minus
``--missed``), ``--samples`` times after one unmeasured: the time until the welcome, and
until the whole catch-up is in (a ``ping`` sent after the welcome is answered after the last
message of the catch-up). Size 0 is the hello without ``resume``.

With ``--base DIR`` (a checkout of another commit, e.g. ``git worktree add --detach DIR
main``) every round runs the daemon of that checkout too (``python -m chatd`` from DIR, same
database and secret), alternating which goes first; without it, only this checkout.
``--rounds`` rounds; medians of each round's medians are printed. ``--explain`` also prints
``EXPLAIN ANALYZE``'s planning and execution times of the resume's statement at 1 room and
at every room (and of history's for one room), each the median of ``--samples``.
``--out FILE`` writes every figure as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import trio

from benchmarks import infra
from benchmarks.wire import MESSAGE_PREFIX, hello, open_link
from chatd.protocol import WELCOME_PAGE, Ping

__all__ = ["main", "populate"]


async def _populate(dsn: str, rooms: int, history: int, password_hash: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("INSERT INTO users (name, password_hash) VALUES ('d0', $1), "
                           "('d1', $1)", password_hash)
        me = await conn.fetchval("SELECT id FROM users WHERE name = 'd0'")
        other = await conn.fetchval("SELECT id FROM users WHERE name = 'd1'")
        await conn.execute(
            "INSERT INTO rooms (name, last_seq) SELECT 'r' || lpad(g::text, 5, '0'), $1 "
            "FROM generate_series(0, $2 - 1) g", history, rooms)
        await conn.execute(
            "INSERT INTO memberships (room_id, user_id, read_seq) "
            "SELECT r.id, u.id, $3 FROM rooms r, users u WHERE u.id IN ($1, $2)",
            me, other, history)
        await conn.execute(
            "INSERT INTO messages (room_id, seq, sender_id, nonce, text, created_at) "
            "SELECT r.id, g, $1, 'r' || r.id || ':' || g, 'a message of the resume "
            "benchmark', now() FROM rooms r CROSS JOIN generate_series(1, $2) g",
            other, history)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def populate(dsn: str, rooms: int, history: int) -> None:
    """Fill a migrated, empty chatd database (see the module's docstring)."""
    asyncio.run(_populate(dsn, rooms, history, infra._password_hash()))


async def _measure(port: int, token: str, names: list[str], seen: int, missed: int,
                   sizes: list[int], samples: int) -> dict[str, dict[str, list[float]]]:
    figures: dict[str, dict[str, list[float]]] = {}
    async with trio.open_nursery() as nursery:
        for size in sizes:
            welcome_ms: list[float] = []
            caught_up_ms: list[float] = []
            resume = dict.fromkeys(names[:size], seen)
            for n in range(samples + 1):
                link = await open_link(nursery, "tcp", "127.0.0.1", port)
                started = time.perf_counter()
                await hello(link, token, resume=resume or None, rooms_limit=WELCOME_PAGE,
                            contacts_limit=WELCOME_PAGE, timeout=120)
                welcomed = time.perf_counter()
                keep: list[bytes] = []
                await link.request(Ping(id=1), timeout=120, keep=keep)
                done = time.perf_counter()
                await link.aclose()
                got = sum(1 for line in keep if line.startswith(MESSAGE_PREFIX))
                if got != size * missed:
                    raise AssertionError(f"{size} rooms: {got} messages in the catch-up, "
                                         f"not {size * missed}")
                if n:  # the first one warms up
                    welcome_ms.append((welcomed - started) * 1000)
                    caught_up_ms.append((done - started) * 1000)
            figures[str(size)] = {"welcome_ms": welcome_ms, "caught_up_ms": caught_up_ms}
    return figures


async def _explain(dsn: str, names: list[str], seen: int, limit: int, samples: int
                   ) -> dict[str, dict[str, float]]:
    from chatd.storage.postgres import _MAX_SEQ, _SQL_HISTORY_OLDEST, _SQL_RESUME

    conn = await asyncpg.connect(dsn)
    try:
        me = await conn.fetchval("SELECT id FROM users WHERE name = 'd0'")
        cases: dict[str, tuple[str, tuple[Any, ...]]] = {
            "history, 1 room": (_SQL_HISTORY_OLDEST, (names[0], me, seen, _MAX_SEQ, limit + 1)),
            "resume, 1 room": (_SQL_RESUME, (me, names[:1], [seen], limit + 1, limit)),
            f"resume, {len(names)} rooms": (_SQL_RESUME, (me, names, [seen] * len(names),
                                                          limit + 1, limit)),
        }
        out: dict[str, dict[str, float]] = {}
        for label, (sql, args) in cases.items():
            planning, execution = [], []
            for _ in range(samples):
                text = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *args)
                found = json.loads(text)[0]
                planning.append(found["Planning Time"])
                execution.append(found["Execution Time"])
            out[label] = {"planning_ms": statistics.median(planning),
                          "execution_ms": statistics.median(execution)}
        return out
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.resume", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--history", type=int, default=10)
    parser.add_argument("--missed", type=int, default=3)
    parser.add_argument("--sizes", default="0,1,10,100,1000")
    parser.add_argument("--samples", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--base", type=Path, default=None)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--dsn", default=None, help="an existing PostgreSQL (default: embedded)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if max(sizes) > args.rooms:
        parser.error("a size larger than --rooms")
    names = [f"r{i:05d}" for i in range(args.rooms)]
    seen = args.history - args.missed
    variants: list[tuple[str, Path | None]] = [("branch", None)]
    if args.base is not None:
        variants.append(("base", args.base.resolve()))
    results: dict[str, Any] = {"params": {k: str(v) for k, v in vars(args).items()},
                               "machine": infra.machine_info(), "commit": infra.commit_info(),
                               "rounds": []}
    pg = infra.BenchPostgres(args.dsn)
    try:
        dsn = pg.create_database("chatd_resume")
        with tempfile.TemporaryDirectory(prefix="chatd-resume-") as folder:
            data_dir = Path(folder)
            first = True
            for n in range(args.rounds):
                ordered = variants if n % 2 == 0 else variants[::-1]
                this_round: dict[str, Any] = {}
                for label, cwd in ordered:
                    daemon = infra.Daemon(data_dir=data_dir, dsn=dsn, cwd=cwd)
                    with infra.running(daemon):
                        if first:
                            populate(dsn, args.rooms, args.history)
                            first = False
                        token = infra.mint_tokens(daemon.secret(),
                                                  asyncio.run(_ids(dsn)))[0]
                        this_round[label] = trio.run(_measure, daemon.tcp_port, token, names,
                                                     seen, args.missed, sizes, args.samples)
                    _print_round(n, label, this_round[label])
                results["rounds"].append(this_round)
        if args.explain:
            results["explain"] = asyncio.run(_explain(dsn, names, seen, 1000, args.samples))
            for label, figures in results["explain"].items():
                print(f"EXPLAIN {label}: planning {figures['planning_ms']:.3f} ms, "
                      f"execution {figures['execution_ms']:.3f} ms")
    finally:
        pg.close()
    results["summary"] = _summary(results["rounds"], [v for v, _ in variants], sizes)
    print(_table(results["summary"], [v for v, _ in variants], sizes))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    return results


async def _ids(dsn: str) -> list[tuple[int, str]]:
    conn = await asyncpg.connect(dsn)
    try:
        return [(int(await conn.fetchval("SELECT id FROM users WHERE name = 'd0'")), "d0")]
    finally:
        await conn.close()


def _print_round(n: int, label: str, figures: dict[str, dict[str, list[float]]]) -> None:
    parts = [f"{size}: {statistics.median(f['welcome_ms']):.2f}/"
             f"{statistics.median(f['caught_up_ms']):.2f}" for size, f in figures.items()]
    print(f"round {n} {label} (welcome/caught up ms, medians): {', '.join(parts)}", flush=True)


def _summary(rounds: list[dict[str, Any]], variants: list[str], sizes: list[int]
             ) -> dict[str, dict[str, dict[str, float | list[float]]]]:
    out: dict[str, dict[str, dict[str, float | list[float]]]] = {}
    for variant in variants:
        out[variant] = {}
        for size in sizes:
            for what in ("welcome_ms", "caught_up_ms"):
                medians = [statistics.median(r[variant][str(size)][what]) for r in rounds]
                out[variant][f"{size}/{what}"] = {"median": statistics.median(medians),
                                                  "rounds": medians}
    return out


def _table(summary: dict[str, Any], variants: list[str], sizes: list[int]) -> str:
    head = "| resumed rooms | " + " | ".join(
        f"{v} welcome ms | {v} caught up ms" for v in variants) + " |"
    lines = [head, "|---" * (1 + 2 * len(variants)) + "|"]
    for size in sizes:
        cells = []
        for v in variants:
            for what in ("welcome_ms", "caught_up_ms"):
                figure = summary[v][f"{size}/{what}"]
                low, high = min(figure["rounds"]), max(figure["rounds"])
                cells.append(f"{figure['median']:.2f} [{low:.2f}-{high:.2f}]")
        lines.append(f"| {size:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
