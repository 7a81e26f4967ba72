"""The upload scenario of the load harness (benchmarks/upload.py) at a tiny size, so that it
cannot rot: it completes and reports positive figures, never a threshold."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks.report import markdown
from benchmarks.run import main

pytestmark = pytest.mark.slow


def test_upload_scenario_runs_and_reports(tmp_path: Path, database_dsn: str) -> None:
    """Two clients uploading at two sizes: one result per size with throughput and the
    daemon's memory, no errors, and a table in the report."""
    out = tmp_path / "results.json"
    main(["run", "--scenario", "upload", "--servers", "chatd", "--upload-clients", "2",
          "--upload-sizes-mb", "0.1,0.5", "--dsn", database_dsn, "--out", str(out),
          "--no-plots"])
    doc = json.loads(out.read_text())
    results = [r for r in doc["results"] if r["scenario"] == "upload"]
    assert [(r["params"]["file_mb"], r["params"]["files_each"]) for r in results] == \
        [(0.1, 5), (0.5, 1)]
    for result in results:
        figures = result["figures"]
        assert figures["errors"] == 0 and figures["uploads"] == 2 * result["params"]["files_each"]
        for name in ("mb_per_s", "rss_idle_mib", "rss_during_max_mib", "vm_hwm_mib"):
            value = figures[name]
            assert isinstance(value, int | float) and not math.isnan(value) and value > 0, name
    assert "### Uploads (chatd, HTTP)" in markdown(doc)
