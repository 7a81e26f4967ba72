"""PNG plots of latency against offered load (needs matplotlib: the ``bench`` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["plot"]

COLOURS = {"chatd": "tab:blue", "socketio": "tab:orange", "echo": "tab:gray"}


def plot(doc: dict[str, Any], stem: Path) -> list[Path]:
    """Write ``<stem>-send.png`` and ``<stem>-fanout.png``; returns the paths written."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    main = [r for r in doc["results"] if r["scenario"] == "durable_send"
            and r["params"]["mode"] == "closed"]
    conns = main[0]["params"]["connections"] if main else None
    series: dict[str, list[tuple[float, dict[str, Any]]]] = {}
    for r in doc["results"]:
        if r["scenario"] == "durable_send" and r["params"]["mode"] == "open" \
                and r["params"]["connections"] == conns:
            series.setdefault(r["server"], []).append((r["params"]["offered_per_s"],
                                                       r["figures"]))
    if series:
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
        for server, points in series.items():
            points.sort(key=lambda p: p[0])
            x = [p[0] for p in points]
            colour = COLOURS.get(server)
            for key, style in (("p50_ms", ":"), ("p99_ms", "-"), ("p99_9_ms", "--")):
                y = [p[1][key] for p in points]
                left.plot(x, y, style, marker="o", color=colour, label=f"{server} {key[:-3]}")
            right.plot(x, [p[1]["acked_per_s"] for p in points], "-", marker="o",
                       color=colour, label=server)
        left.set_yscale("log")
        left.set_xlabel("offered sends/s (open loop)")
        left.set_ylabel("send→ack latency, ms")
        left.set_title(f"Durable send, {conns} connections")
        left.legend(fontsize=7)
        left.grid(True, which="both", alpha=0.3)
        top = max(p[0] for pts in series.values() for p in pts)
        right.plot([0, top], [0, top], color="lightgray", label="offered")
        right.set_xlabel("offered sends/s")
        right.set_ylabel("acknowledged sends/s")
        right.set_title("Throughput")
        right.legend(fontsize=7)
        right.grid(True, alpha=0.3)
        fig.tight_layout()
        path = Path(f"{stem}-send.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    fan: dict[str, list[dict[str, Any]]] = {}
    for r in doc["results"]:
        if r["scenario"] == "fanout":
            fan.setdefault(r["server"], []).append(r["figures"])
    if fan:
        fig, ax = plt.subplots(figsize=(6.5, 4.2))
        for server, rows in fan.items():
            rows.sort(key=lambda f: f["offered_deliveries_per_s"])
            x = [f["offered_deliveries_per_s"] for f in rows]
            colour = COLOURS.get(server)
            ax.plot(x, [f["p50_ms"] for f in rows], ":", marker="o", color=colour,
                    label=f"{server} p50")
            ax.plot(x, [f["p99_ms"] for f in rows], "-", marker="o", color=colour,
                    label=f"{server} p99")
        ax.set_yscale("log")
        ax.set_xlabel("offered deliveries/s (messages/s x members)")
        ax.set_ylabel("send→receive latency, ms")
        ax.set_title("Fan-out to one room")
        ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        path = Path(f"{stem}-fanout.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written
