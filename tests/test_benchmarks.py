"""The load harness (benchmarks/) in a few seconds per scenario, so that it cannot rot.

Every chatd scenario runs at a tiny size against the suite's PostgreSQL, without the Node
peer; the test asserts that the run completes and reports its figures, never how fast anything
is (this machine is shared and its speed says nothing about the code).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from benchmarks.profile import summary
from benchmarks.report import markdown
from benchmarks.run import main

pytestmark = pytest.mark.slow


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and not math.isnan(value) and value > 0


def test_every_scenario_runs_and_reports_figures(tmp_path: Path, database_dsn: str) -> None:
    """A smoke run of send and change (closed and open loop), fan-out, idle connections,
    resume and the ceilings writes a results file in which every headline figure is a
    positive number."""
    out = tmp_path / "results.json"
    main(["run", "--scenario", "all", "--servers", "chatd", "--duration", "1",
          "--connections", "20", "--rooms", "4", "--rates", "100", "--scale-connections", "",
          "--members", "20", "--fanout-rates", "20", "--idle", "30", "--resume-clients", "20",
          "--resume-rooms", "4", "--resume-missed", "5", "--dsn", database_dsn,
          "--out", str(out), "--no-plots"])
    doc = json.loads(out.read_text())
    assert doc["commit"] and doc["machine"]["cores"]
    by = {(r["scenario"], r["server"], r["params"].get("mode")): r["figures"]
          for r in doc["results"]}
    headline = {
        ("durable_send", "chatd", "closed"): ["acked_per_s", "p50_ms", "p99_ms", "p99_9_ms"],
        ("durable_send", "chatd", "open"): ["acked_per_s", "p50_ms", "p99_ms"],
        ("durable_send", "echo", "closed"): ["acked_per_s", "p99_ms"],
        ("change", "chatd", "closed"): ["acked_per_s", "p50_ms", "p99_ms"],
        ("change", "chatd", "open"): ["acked_per_s", "p50_ms", "p99_ms"],
        ("fanout", "chatd", None): ["deliveries_per_s", "p50_ms", "p99_ms"],
        ("connections", "chatd", None): ["connect_hello_per_s", "rss_after_mib"],
        ("resume", "chatd", None): ["all_caught_up_s", "messages_replayed"],
        ("commit_ceiling", "asyncpg", "batched"): ["rows_per_s"],
        ("commit_ceiling", "asyncpg", "one_per_tx"): ["rows_per_s"],
    }
    for key, names in headline.items():
        assert key in by, f"no result for {key}"
        for name in names:
            assert _positive(by[key][name]), f"{key} {name} = {by[key][name]!r}"
    closed = by[("durable_send", "chatd", "closed")]
    assert closed["commits"] >= 1 and _positive(closed["mean_batch"])
    assert _positive(closed["mean_commit_ms"]) and "gc_ms" in closed
    assert by[("resume", "chatd", None)]["failed"] == 0
    assert "rss_per_conn_kib" in by[("connections", "chatd", None)]
    assert by[("durable_send", "chatd", "open")]["send_lag_p50_ms"] is not None


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_load_generator_drives_chatd(tmp_path: Path, database_dsn: str) -> None:
    """``--loadgen node``: chatd's sends, closed and open loop, and its connect+hello rate,
    driven by peers/chatd/loadgen.js (the Socket.IO peer's scenarios over chatd's protocol).
    Every send is acknowledged and timed, the messages reach the room's 5 members, and the
    results say which load generator measured them."""
    out = tmp_path / "results.json"
    main(["run", "--scenario", "send,connections", "--servers", "chatd", "--loadgen", "node",
          "--duration", "1", "--connections", "20", "--rooms", "4", "--rates", "40",
          "--scale-connections", "", "--idle", "30", "--dsn", database_dsn,
          "--out", str(out), "--no-plots"])
    doc = json.loads(out.read_text())
    sends = {r["params"]["mode"]: r for r in doc["results"] if r["scenario"] == "durable_send"}
    assert set(sends) == {"closed", "open"}
    for mode, result in sends.items():
        f = result["figures"]
        assert result["params"]["loadgen"] == "node"
        assert (f["errors"], f["timeouts"]) == (0, 0), f["error_samples"]
        assert f["acked"] == f["sent"] > 0
        assert f["samples"] == f["acked"]  # one latency per ack
        for name in ("acked_per_s", "p50_ms", "p99_ms", "loadgen_cores"):
            assert _positive(f[name]), f"{mode} {name} = {f[name]!r}"
        # to each of the room's 5 members (but the last few, still on their way at the end)
        assert 4 * f["acked"] <= f["deliveries"] <= 5 * f["acked"]
    assert sends["open"]["figures"]["sent"] == 40  # 40/s for 1 s
    assert sends["open"]["figures"]["send_lag_p50_ms"] is not None
    (idle,) = [r for r in doc["results"] if r["scenario"] == "connections"]
    assert idle["params"]["loadgen"] == "node"
    assert _positive(idle["figures"]["connect_hello_per_s"])
    assert "chatd (node loadgen)" in markdown(doc)


def test_change_scenario_changes_messages_and_compares_with_send(tmp_path: Path,
                                                                 database_dsn: str) -> None:
    """The change scenario beside send, at a tiny size: every change is acknowledged as one
    that changed something (the reactions go on and off in turn, each edit brings new text:
    none is ``unchanged``, none refused), about 1 in 5 is an edit even in open loop where
    each connection makes only two, its entry reaches the room's members, and the report
    sets changes against sends of the same run."""
    out = tmp_path / "results.json"
    main(["run", "--scenario", "send,change", "--servers", "chatd", "--duration", "1",
          "--connections", "20", "--rooms", "4", "--rates", "40", "--scale-connections", "",
          "--dsn", database_dsn, "--out", str(out), "--no-plots"])
    doc = json.loads(out.read_text())
    changes = {r["params"]["mode"]: r for r in doc["results"] if r["scenario"] == "change"}
    assert set(changes) == {"closed", "open"}
    for mode, result in changes.items():
        f = result["figures"]
        assert result["params"]["messages"] == 3 and result["params"]["edit_every"] == 5
        for name in ("acked_per_s", "p50_ms", "p99_ms", "server_cores", "edits_acked"):
            assert _positive(f[name]), f"{mode} {name} = {f[name]!r}"
        assert 0.1 < f["edits_acked"] / f["acked"] < 0.3, (f["edits_acked"], f["acked"])
        assert (f["errors"], f["timeouts"], f["unchanged"]) == (0, 0, 0), f["error_samples"]
        assert f["deliveries"] >= f["acked"]  # entries, to the 5 members of each room
    ratios = doc["ratios"]
    assert _positive(ratios["closed_acked_change_over_send"])
    assert _positive(ratios["closed_p99_change_over_send"])
    assert [row["offered_per_s"] for row in ratios["change_open_loop"]] == [40.0]
    text = markdown(doc)
    assert "### Changes to messages" in text and "change/send, open loop at 40/s" in text


def test_profile_summary_counts_own_and_inclusive_samples(tmp_path: Path) -> None:
    """py-spy's raw format: one stack per line, outermost frame first, then a count."""
    raw = tmp_path / "profile.txt"
    raw.write_text(
        "main (chatd/cli.py:10);serve (chatd/server.py:5);read (chatd/connection.py:7) 30\n"
        "main (chatd/cli.py:10);serve (chatd/server.py:6);write (chatd/connection.py:9) 10\n"
        "main (chatd/cli.py:11);idle (/usr/lib/python3.11/selectors.py:468) 60\n"
    )
    text = summary(raw, top=10)
    assert "100 samples" in text
    own, inclusive = text.split("inclusive")
    assert "60.0%  idle (selectors.py)" in own
    assert "30.0%  read (chatd/connection.py)" in own
    assert "100.0%  main (chatd/cli.py)" in inclusive  # two lines of main are one function
    assert "40.0%  serve (chatd/server.py)" in inclusive
