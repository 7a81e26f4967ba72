"""The data-scale scenario of the load harness (benchmarks/datascale.py) at a tiny size, so
that it cannot rot: it completes and reports median and p99 for every operation at every
level, and the table with the ratios; never a threshold (this machine is shared)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.datascale import INFORMATION, OPERATIONS, UNREAD, table
from benchmarks.report import markdown
from benchmarks.run import main

pytestmark = pytest.mark.slow


def test_data_scale_scenario_runs_and_reports(tmp_path: Path, database_dsn: str) -> None:
    """Two tiny levels, three rounds: a result per level with figures for every operation
    (three samples each), the data loaded as asked, and the table in the report."""
    out = tmp_path / "results.json"
    main(["run", "--scenario", "data-scale", "--servers", "chatd", "--scale-messages",
          "200,400", "--scale-rooms", "2,3", "--scale-members", "3,5", "--scale-contacts",
          "2,4", "--scale-rounds", "3", "--dsn", database_dsn, "--out", str(out),
          "--no-plots"])
    doc = json.loads(out.read_text())
    levels = [r for r in doc["results"] if r["scenario"] == "data_scale"]
    assert [(r["params"]["messages"], r["params"]["rooms"]) for r in levels] == [
        (200, 2), (400, 3)]
    for result in levels:
        figures = result["figures"]
        assert figures["total_messages"] == result["params"]["messages"] + \
            result["params"]["rooms"] * UNREAD
        assert set(figures["operations"]) == set(OPERATIONS)
        for op in figures["operations"].values():
            assert op["samples"] == 3 and op["p50_ms"] > 0 and op["p99_ms"] >= op["p50_ms"]
    text = markdown(doc)
    assert "### Data scale" in text and "ratio p50 L2/L1" in text


def test_data_scale_levels_must_match() -> None:
    """The four lists of levels must be as long: a clear error, not a silent zip."""
    with pytest.raises(SystemExit, match="as long"):
        main(["run", "--scenario", "data-scale", "--servers", "chatd", "--scale-messages",
              "200,400", "--scale-rooms", "2", "--dsn", "postgresql://nowhere/x"])


def test_a_first_connections_hello_is_counted() -> None:
    """``hello (alone)`` (a user's first connection on the node) is held to the ratio like
    the second connection's hello; the unpaged welcome and the default pages are not."""
    def level(contacts: int, alone: float) -> dict[str, object]:
        ops = {op: {"p50_ms": 1.0, "p99_ms": 2.0} for op in OPERATIONS}
        ops["hello (alone)"] = {"p50_ms": alone, "p99_ms": alone}
        return {"params": {"messages": 1, "rooms": 1, "members": 1, "contacts": contacts},
                "figures": {"operations": ops}}

    assert "hello (alone)" not in INFORMATION and "hello (everything)" in INFORMATION
    rows = table([level(10, 4.0), level(10_000, 10.0)]).splitlines()
    assert "| hello (alone) | 4.0 / 4.0 | 10.0 / 10.0 | 2.5 |" in rows
    assert "| hello (everything) | 1.0 / 2.0 | 1.0 / 2.0 | (1.0, not counted) |" in rows
