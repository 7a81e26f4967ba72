"""Calls per message of the functions whose file path holds PATTERN, each with its three
largest callers, from two cProfile dumps of the daemon (a short and a long run of the same
scenario): ``python callers.py SHORT LONG MESSAGES_BETWEEN PATTERN``. The sixteenth session's
companion to the eighth session's calls.py."""

import pstats
import sys
from typing import Any

Key = tuple[str, int, str]


def stats(path: str) -> dict[Key, Any]:
    table: dict[Key, Any] = pstats.Stats(path).stats  # type: ignore[attr-defined]
    return table


def where(key: Key) -> str:
    return f"{key[2]}@{key[0].split('/')[-1]}:{key[1]}"


def main() -> None:
    short, long = stats(sys.argv[1]), stats(sys.argv[2])
    messages, pattern = float(sys.argv[3]), sys.argv[4]
    empty: tuple[Any, ...] = (0, 0, 0, 0, {})
    rows = sorted((((v[1] - short.get(k, empty)[1]) / messages, k) for k, v in long.items()),
                  reverse=True)
    for calls, key in rows:
        if pattern not in key[0] or calls < 0.5:
            continue
        before = short.get(key, empty)[4]
        callers = sorted(((n[1] - before.get(caller, (0, 0))[1]) / messages, caller)
                         for caller, n in long[key][4].items())[-3:]
        by = "; ".join(f"{n:.1f} {where(caller)}" for n, caller in reversed(callers))
        print(f"{calls:6.2f} {where(key)}  <- {by}")


if __name__ == "__main__":
    main()
