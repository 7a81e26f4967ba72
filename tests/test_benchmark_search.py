"""The search scenario of the load harness (benchmarks/search.py) at a tiny size, so that it
cannot rot: it completes and reports figures for every kind of query and both send runs,
never a threshold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.report import markdown
from benchmarks.run import main
from benchmarks.search import QUERY_KINDS

pytestmark = pytest.mark.slow


def test_search_scenario_runs_and_reports(tmp_path: Path, database_dsn: str) -> None:
    """Two sizes, one round: a result per size with every kind of query, a closed-loop send
    run with the index and one without, an open-loop one with it, the probe's figures on
    those with the index, and the tables in the report."""
    out = tmp_path / "results.json"
    main(["run", "--scenario", "search", "--servers", "chatd", "--search-sizes", "300,600",
          "--search-rounds", "1", "--search-send-rounds", "1", "--connections", "4",
          "--rooms", "2", "--duration", "1", "--search-fresh-rate", "20", "--dsn",
          database_dsn, "--out", str(out), "--no-plots"])
    doc = json.loads(out.read_text())
    searches = [r for r in doc["results"] if r["scenario"] == "search"]
    assert [r["params"]["messages"] for r in searches] == [300, 600]
    for result in searches:
        kinds = result["figures"]["kinds"]
        assert set(kinds) == set(QUERY_KINDS)
        assert all(k["samples"] == 3 and k["p50_ms"] > 0 for k in kinds.values())
    sends = [r for r in doc["results"] if r["scenario"] == "search_send"]
    assert [(r["params"]["search_index"], r["params"]["mode"]) for r in sends] == [
        (True, "closed"), (False, "closed"), (True, "open")]
    assert all(r["figures"]["acked_per_s"] > 0 for r in sends)
    for result in (sends[0], sends[2]):  # the probe timed the indexer where it ran
        figures = result["figures"]
        assert figures["fresh_samples"] >= 1 and figures["fresh_p50_ms"] > 0, figures
    text = markdown(doc)
    assert "### Search latency" in text and "### Durable send with and without" in text


def test_statement_costs_run_and_report(pg_server: str) -> None:
    """benchmarks/search_statements.py at a tiny size: figures for every variant, and for
    the indexer's statements where it runs, which indexed every message stored."""
    from benchmarks.search_statements import VARIANTS
    from benchmarks.search_statements import main as statements

    figures = statements(["--batches", "3", "--batch", "20", "--merge-every", "30",
                          "--dsn", pg_server])
    assert set(figures) == set(VARIANTS)
    for variant in figures.values():
        assert variant["median_ms"] > 0 and variant["cpu_us_per_message"] >= 0
    assert figures["async"]["indexer"]["median_ms"] > 0
    assert figures["async"]["indexer"]["indexed"] == 3 * 20
