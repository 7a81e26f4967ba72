"""Paired hello timings, base against branch, on the same databases at the same moments.

For each data-scale level (L1 and L3 of ``python -m benchmarks run --scenario data-scale``),
one database filled as that scenario fills it, and two chatd daemons on it (two nodes of
one cluster): one running the base's code, one the branch's. The measured user keeps a
connection open on each (as the scenario's own client does), then hellos (rooms_limit and
contacts_limit 30, a fresh connection each, the hello alone timed) go to the two daemons in
turn, ABAB..., so that both see the same load; then the same with no connection of the
user's open (``alone``), and again ten in a row on one daemon (``alone, back to back``: a
close then races the next hello). Run from the branch's tree:

    python benchmarks/results/issue17-helloflat/paired.py BASE_TREE BRANCH_TREE OUT.json [N]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import trio

from benchmarks import infra
from benchmarks.datascale import _ids, populate
from benchmarks.run import lifted_limits_env
from benchmarks.wire import hello, open_link
from chatd.protocol import WELCOME_PAGE

LEVELS = {"L1": {"messages": 10_000, "rooms": 10, "members": 10, "contacts": 10},
          "L3": {"messages": 5_000_000, "rooms": 1000, "members": 10_000, "contacts": 10_000}}


async def _back_to_back(ports: dict[str, int], tokens: dict[str, str], n: int
                        ) -> dict[str, list[float]]:
    """Hellos with no other connection of the user's open, ten in a row on one daemon (each
    closes just before the next opens, as ``hello (alone)`` of the data-scale scenario),
    the daemons taking turns by blocks of ten."""
    times: dict[str, list[float]] = {code: [] for code in ports}
    async with trio.open_nursery() as nursery:
        for block in range(n // 10 + 1):
            for code in (list(ports) if block % 2 == 0 else list(reversed(ports))):
                for _i in range(10):
                    fresh = await open_link(nursery, "tcp", "127.0.0.1", ports[code])
                    started = time.perf_counter()
                    await hello(fresh, tokens[code], rooms_limit=WELCOME_PAGE,
                                contacts_limit=WELCOME_PAGE)
                    if block:
                        times[code].append((time.perf_counter() - started) * 1000)
                    await fresh.aclose()
    return times


async def _hellos(ports: dict[str, int], tokens: dict[str, str], n: int, keep: bool
                  ) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {code: [] for code in ports}
    async with trio.open_nursery() as nursery:
        links = []
        if keep:
            for code, port in ports.items():
                link = await open_link(nursery, "tcp", "127.0.0.1", port)
                await hello(link, tokens[code])
                links.append(link)
        for i in range(n + 1):
            for code in (list(ports) if i % 2 == 0 else list(reversed(ports))):
                fresh = await open_link(nursery, "tcp", "127.0.0.1", ports[code])
                started = time.perf_counter()
                await hello(fresh, tokens[code], rooms_limit=WELCOME_PAGE,
                            contacts_limit=WELCOME_PAGE)
                if i:
                    times[code].append((time.perf_counter() - started) * 1000)
                await fresh.aclose()
        for link in links:
            await link.aclose()
    return times


def main() -> None:
    base, branch, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 100
    pg = infra.BenchPostgres(None)
    tmp = Path("/tmp") / f"paired-{time.time_ns()}"
    results: dict[str, dict[str, dict[str, list[float]]]] = {}
    try:
        for name, level in LEVELS.items():
            dsn = pg.create_database(f"paired_{name.lower()}")
            daemons = {}
            for code, tree in (("base", base), ("branch", branch)):
                infra.ROOT = tree  # the daemon runs `python -m chatd` from that tree
                daemon = infra.Daemon(tmp / f"{name}-{code}", dsn,
                                      env_extra=lifted_limits_env())
                daemon.start()
                daemons[code] = daemon
                if code == "base":
                    made = populate(dsn, level, 1)
                    print(name, made, flush=True)
            (user,) = asyncio.run(_ids(dsn, ["d0"]))
            tokens = {code: infra.mint_tokens(d.secret(), [user])[0]
                      for code, d in daemons.items()}
            ports = {code: d.tcp_port for code, d in daemons.items()}
            results[name] = {
                "hello": trio.run(_hellos, ports, tokens, n, True),
                "hello (alone)": trio.run(_hellos, ports, tokens, n, False),
                "hello (alone, back to back)": trio.run(_back_to_back, ports, tokens, n),
            }
            for d in daemons.values():
                d.stop()
            for op, times in results[name].items():
                print(name, op, {c: round(statistics.median(t), 2) for c, t in times.items()},
                      flush=True)
    finally:
        pg.drop_created()
        pg.close()
    out.write_text(json.dumps({"n": n, "levels": LEVELS, "ms": results}))
    for op in results["L1"]:
        for code in ("base", "branch"):
            l1 = statistics.median(results["L1"][op][code])
            l3 = statistics.median(results["L3"][op][code])
            print(f"{op} {code}: L1 {l1:.2f} ms, L3 {l3:.2f} ms, ratio {l3 / l1:.2f}")


if __name__ == "__main__":
    main()
