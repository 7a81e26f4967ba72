"""The terminal client's times (chatd/client/when.py) against the table of cases the page's
clients/web/when.js is tested against too (tests/when-cases.json): the same phrases, read the
same way, in any time zone, across a change of the clocks."""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chatd.client.when import WHEN_USAGE, local_now, local_zone, reminder_time, split_when

TABLE: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "when-cases.json").read_text(encoding="utf-8"))
#: What each kind of problem says (the page says it in its own words: when.test.mjs).
PROBLEMS = {"form": "^a reminder is ", "ahead": "must be ahead", "year": "at most a year"}


def _instant(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


def _name(case: dict[str, Any]) -> str:
    return f"{case['text']!r} {case.get('zone', 'UTC')} {case.get('now', '')}".strip()


def test_the_usage_is_the_pages() -> None:
    """The forms the usage line names are the table's, word for word."""
    assert TABLE["usage"] == WHEN_USAGE


@pytest.mark.parametrize("case", TABLE["cases"], ids=_name)
def test_a_case_of_the_table(case: dict[str, Any]) -> None:
    """The instant the phrase means, from now on the wall clock of the case's zone, or the
    problem it is."""
    zone = ZoneInfo(case.get("zone", "UTC"))
    now = _instant(case.get("now", TABLE["now"])).astimezone(zone)
    if "at" in case:
        at = reminder_time(case["text"], now)
        assert at.timestamp() == _instant(case["at"]).timestamp(), at.isoformat()
    else:
        with pytest.raises(ValueError, match=PROBLEMS[case["problem"]]):
            reminder_time(case["text"], now)


@pytest.mark.parametrize("case", TABLE["splits"], ids=lambda case: repr(case["text"]))
def test_a_split_of_the_table(case: dict[str, Any]) -> None:
    """/later's and /remind's WHEN and text."""
    assert split_when(case["text"]) == (case["when"], case["rest"])


def test_the_text_after_the_time_is_kept_as_typed() -> None:
    """A split keeps the text's own spacing (a message may have several spaces or lines)."""
    assert split_when("  tomorrow  9:00   two  spaces\nand a line ") == \
        ("tomorrow 9:00", "two  spaces\nand a line")
    assert split_when("") == ("", "")
    assert re.fullmatch(r"\S+", split_when("soon")[0])


def test_the_terminals_zone_keeps_its_rules_across_a_change_of_the_clocks(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The commands read times on the terminal's wall clock through local_now: in its zone,
    named by TZ or by what /etc/localtime links to, "tomorrow 9:00" on the eve of a change of
    the clocks is 9:00 on the next day's clock (not an hour off, as with the offset of today
    alone); without a zone named, the offset of the moment."""
    eve = int(_instant("2026-03-28T12:00:00Z").timestamp() * 1000)  # Berlin: CET, +01:00
    monkeypatch.setenv("TZ", "Europe/Berlin")
    now = local_now(eve)
    assert reminder_time("tomorrow 9:00", now).timestamp() == \
        _instant("2026-03-29T07:00:00Z").timestamp()  # CEST, +02:00
    monkeypatch.setenv("TZ", ":America/New_York")
    assert local_zone() == ZoneInfo("America/New_York")

    monkeypatch.delenv("TZ")
    link = tmp_path / "localtime"
    link.symlink_to("/usr/share/zoneinfo/Europe/Berlin")
    assert local_zone(link) == ZoneInfo("Europe/Berlin")
    assert local_zone(tmp_path / "none") is None
    monkeypatch.setenv("TZ", "Not/AZone")
    assert local_zone(tmp_path / "none") is None
