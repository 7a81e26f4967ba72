"""benchmarks/sendpath.py at a tiny size, so that it cannot rot: it completes and reports
figures for every variant, never a threshold."""

from __future__ import annotations

import pytest

from benchmarks.sendpath import main as sendpath

pytestmark = pytest.mark.slow

_VARIANTS = ["select1", "resolve", "insert", "chatd", "chatd-fn", "chatd-fn-quiet", "peer",
             "index"]


def test_sendpath_runs_and_reports(pg_server: str) -> None:
    """Every variant times its appends; the bridge's crossing is timed both ways; a batch
    of several messages and a stripped schema run too."""
    out = sendpath(["--users", "20", "--rooms", "5", "--preload", "50", "--count", "5",
                    "--rounds", "1", "--variants", ",".join(_VARIANTS), "--bridge",
                    "--explain", "--dsn", pg_server])
    assert list(out["results"]) == _VARIANTS
    assert all(r["p50_ms"] > 0 and r["pg_cpu_ms"] >= 0 for r in out["results"].values())
    assert out["crossings"]["bridged_p50_ms"] > 0 and out["crossings"]["direct_p50_ms"] > 0
    batched = sendpath(["--users", "20", "--rooms", "5", "--preload", "50", "--count", "3",
                        "--rounds", "1", "--variants", "chatd,chatd-fn", "--batch", "4",
                        "--strip", "messages_sender_id_fkey,trigger:rooms.rooms_notify_commits",
                        "--dsn", pg_server])
    assert batched["params"]["batch"] == 4
    assert set(batched["results"]) == {"chatd", "chatd-fn"}


def test_sendpath_times_a_crossing_after_a_gap(pg_server: str) -> None:
    """With ``--gap``, the crossing's timing also reports what the idle loops' wake-ups
    cost alone (taken off the crossing's CPU)."""
    out = sendpath(["--users", "4", "--rooms", "2", "--preload", "0", "--count", "3",
                    "--rounds", "1", "--variants", "select1", "--bridge", "--gap", "0.002",
                    "--dsn", pg_server])
    crossings = out["crossings"]
    assert crossings["trio_sleep_cpu_ms"] > 0 and crossings["asyncio_sleep_cpu_ms"] > 0
    assert crossings["bridged_p50_ms"] > 0 and crossings["direct_p50_ms"] > 0
