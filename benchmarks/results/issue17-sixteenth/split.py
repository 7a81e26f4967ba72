"""User and system CPU of the chatd daemon and the Socket.IO peer during a benchmark run:
``python split.py SECONDS`` samples every half second for SECONDS, then prints each process's
split over its middle (from 20 s after it was first seen to 3 s before it was last), which
leaves the connections' set-up and teardown out. See benchmarks/README.md, "the gap is user
time" (sixteenth session)."""

import os
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def servers() -> dict[int, str]:
    """The pids of the servers running now: chatd's daemon and the peer's node process."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if " serve" in cmd and "chatd" in cmd and "python" in cmd:
            found[int(entry)] = "chatd"
        elif cmd.startswith("node server.js"):
            found[int(entry)] = "peer"
    return found


def cpu(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of ``pid`` so far."""
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    fields = text[text.rfind(")") + 2:].split()
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def main() -> None:
    series: dict[tuple[int, str], list[tuple[float, float, float]]] = {}
    end = time.time() + float(sys.argv[1])
    while time.time() < end:
        for pid, name in servers().items():
            try:
                user, system = cpu(pid)
            except OSError:
                continue
            series.setdefault((pid, name), []).append((time.time(), user, system))
        time.sleep(0.5)
    for (pid, name), points in series.items():
        start, stop = points[0][0] + 20, points[-1][0] - 3
        middle = [p for p in points if start <= p[0] <= stop]
        if len(middle) < 2:
            continue
        (t0, u0, s0), (t1, u1, s1) = middle[0], middle[-1]
        user, system = u1 - u0, s1 - s0
        print(f"{name} {pid} window {t1 - t0:.0f}s user {user:.2f} sys {system:.2f} "
              f"sys share {system / max(user + system, 1e-9):.2f}")


if __name__ == "__main__":
    main()
