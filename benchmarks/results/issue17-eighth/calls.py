"""Python calls per message from two cProfile dumps of the daemon (a short and a long run of
the same scenario): ``python calls.py SHORT LONG MESSAGES_BETWEEN``. See benchmarks/README.md,
"Python's calls per message"."""
import collections
import pstats
import sys
from typing import Any


def calls(path: str) -> dict[Any, Any]:
    stats: dict[Any, Any] = pstats.Stats(path).stats  # type: ignore[attr-defined]
    return stats


short, long, n_msgs = calls(sys.argv[1]), calls(sys.argv[2]), float(sys.argv[3])
rows = sorted((((v[1] - short.get(k, (0, 0))[1]) / n_msgs, k) for k, v in long.items()),
              reverse=True)
by_part: collections.Counter[str] = collections.Counter()
for n, k in rows:
    f = k[0]
    if "site-packages/" in f:
        part = f.split("site-packages/")[1].split("/")[0]
    elif "/chatd/" in f:
        part = "chatd"
    elif f == "~":
        part = "built-in functions and methods"
    else:
        part = "standard library: " + (f.split("/")[-2] if "/asyncio/" in f else f.split("/")[-1])
    by_part[part] += n
print(f"total {sum(by_part.values()):.0f} calls per message")
for part, n in by_part.most_common(14):
    print(f"{n:8.1f} {part}")
print()
for n, k in rows[:25]:
    print(f"{n:7.2f} {k[2]} {'/'.join(k[0].split('/')[-2:])}:{k[1]}")
