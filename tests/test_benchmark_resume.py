"""benchmarks/resume.py at a tiny size, so that it cannot rot: it completes and reports
figures for every size and both checkouts (this one twice here), never a threshold."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.resume import main as resume

pytestmark = pytest.mark.slow


def test_resume_runs_and_reports(pg_server: str, tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    out = resume(["--rooms", "12", "--history", "4", "--missed", "2", "--sizes", "0,1,12",
                  "--samples", "2", "--rounds", "2", "--base", str(root), "--explain",
                  "--dsn", pg_server, "--out", str(tmp_path / "out.json")])
    assert (tmp_path / "out.json").exists()
    for variant in ("branch", "base"):
        for size in (0, 1, 12):
            for what in ("welcome_ms", "caught_up_ms"):
                assert out["summary"][variant][f"{size}/{what}"]["median"] > 0
    assert set(out["explain"]) == {"history, 1 room", "resume, 1 room", "resume, 12 rooms"}
