"""benchmarks/notices.py at a tiny size, so that it cannot rot: it completes and reports
figures for every mode, never a threshold."""

from __future__ import annotations

import pytest

from benchmarks.notices import MODES, table
from benchmarks.notices import main as notices

pytestmark = pytest.mark.slow


def test_notices_run_and_report(pg_server: str) -> None:
    """Two nodes, one second per mode: batches committed in each, one notice per batch with
    migration 0017's trigger (carrying the messages with 0019's when another node is alive),
    about one per room of a batch with 0003's, none without."""
    rows = notices(["--nodes", "2", "--duration", "1", "--batch", "8", "--rooms", "50",
                    "--dsn", pg_server])
    assert [(r["mode"], r["nodes"]) for r in rows] == [(m, 2) for m in MODES]
    by_mode = {r["mode"]: r for r in rows}
    assert all(r["commits_per_s"] > 0 and r["commit_ms_p50"] > 0 for r in rows)
    assert by_mode["per-batch"]["notices_per_commit"] == 1.0
    assert by_mode["per-batch"]["carried"] == 0  # migration 0017's: ranges only
    assert by_mode["carrying"]["notices_per_commit"] == 1.0  # migration 0019: still one
    assert by_mode["carrying"]["carried"] == 1.0  # 8 short messages always fit
    assert by_mode["per-room"]["notices_per_commit"] > 1.0
    assert by_mode["none"]["notices_per_s"] == 0
    assert by_mode["alone"]["notices_per_s"] == 0  # migration 0022: no other node, no notice
    assert by_mode["alone"]["commits_per_s"] > 0
    assert "| per-batch | 2 |" in table(rows)
