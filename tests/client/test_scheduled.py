"""The terminal client's scheduled messages: ``/later WHEN TEXT`` (``/later`` alone lists),
``/scheduled`` with short numbers, ``/unschedule N``, ``/sendnow N``, the ``scheduled``
event's line and the welcome's count of failed ones; a time of day as when.py reads it; and
end to end on a pty against a real server."""

from __future__ import annotations

import dataclasses
import datetime
import re
from pathlib import Path

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from chatd.client.when import reminder_time
from chatd.config import Config
from chatd.protocol import (
    CancelScheduled,
    EditScheduled,
    Schedule,
    ScheduledChanged,
    ScheduledItems,
)
from tests.client.test_changes import ann_with_bob
from tests.client.test_commands import Session
from tests.client.test_pins import _asked
from tests.client.test_saved import moments
from tests.e2e.conftest import running
from tests.helpers import make_config

HOUR = 3600 * 1000


@pytest.fixture
def config(tmp_path: Path, database_dsn: str) -> Config:
    return make_config(tmp_path, database_dsn, server={"grace_period": 3.0})


@given(moments, st.integers(0, 23), st.integers(0, 59), st.sampled_from(["", "at "]))
def test_a_time_of_day_is_the_next_one(now: datetime.datetime, hour: int, minute: int,
                                       at: str) -> None:
    """"17:30" (or "at 17:30") is the next moment the clock shows 17:30 in now's zone:
    ahead, within a day."""
    when = reminder_time(f"{at}{hour}:{minute:02d}", now)
    assert (when.hour, when.minute, when.second) == (hour, minute, 0)
    assert when.utcoffset() == now.utcoffset()
    assert now < when <= now + datetime.timedelta(days=1)


def _item(item: int, text: str, send_at: int, **fields: object) -> dict[str, object]:
    return {"item": item, "room": "general", "text": text, "files": [], "thread": None,
            "broadcast": False, "reply_to": None, "send_at": send_at, "created_ts": 1,
            "state": "pending", "error": None, **fields}


async def test_later_schedules_to_the_current_room() -> None:
    """/later in 2h TEXT asks schedule for the current room two hours ahead by the
    server's clock; /later 9:00 TEXT at the next 9:00; /later alone lists; bad input sends
    nothing and says why."""
    s = Session()
    before = s.client.server_now()
    asked = await _asked(s, "/later in 2h standup notes", {"item": _item(1, "x", 0)})
    assert isinstance(asked, Schedule)
    assert (asked.room, asked.text) == ("general", "standup notes")
    assert before + 2 * HOUR <= asked.send_at <= s.client.server_now() + 2 * HOUR
    asked = await _asked(s, "/later 9:00 good morning", {"item": _item(2, "x", 0)})
    assert isinstance(asked, Schedule) and asked.text == "good morning"
    assert datetime.datetime.fromtimestamp(asked.send_at / 1000).strftime("%H:%M") == "09:00"
    asked = await _asked(s, "/later", {"items": []})
    assert asked == ScheduledItems(id=3)
    assert s.lines()[-1] == "-- no scheduled messages; /later WHEN TEXT schedules one"
    sent = len(s.link.sent)
    for line, problem in (
            ("/later in 2h", "!! usage: /later WHEN TEXT (WHEN: in 20m, 1h, 1h30m, 2d, 1w, "
                             "tomorrow (9:00), tomorrow 17:30 or 17:30)"),
            ("/later someday hi", "!! /later: a time is in 20m, 1h, 1h30m, 2d, 1w, "
                                  "tomorrow (9:00), tomorrow 17:30 or 17:30"),
            ("/later in 400d hi", "!! /later: a time may be at most a year ahead"),
            ("/unschedule 1", "!! /unschedule: no scheduled message [1]; /scheduled lists "
                              "them"),
            ("/sendnow x", "!! usage: /sendnow N (N as /scheduled numbers them)")):
        await s.line(line)
        assert s.lines()[-1] == problem
    assert len(s.link.sent) == sent
    s.client.current = None
    await s.line("/later 2h hi")
    assert s.lines()[-1] == "!! /later: no current room (/join ROOM or /switch ROOM)"


async def test_scheduled_lists_with_numbers_for_unschedule_and_sendnow() -> None:
    """/scheduled shows each item with a short number, its time (local) and room, a
    failed one with why; /unschedule N cancels that item, /sendnow N sends it now."""
    s = Session()
    now = s.client.server_now()
    error = {"code": "forbidden", "message": "you are not a member of 'club'"}
    asked = await _asked(s, "/scheduled", {"items": [
        _item(41, "standup\nnotes", now + HOUR),
        _item(42, "hi club", now - 5, room="club", state="failed", error=error)]})
    assert asked == ScheduledItems(id=1)
    assert s.lines()[-4] == "-- scheduled messages, the soonest first:"
    assert re.fullmatch(r"--   \[1\] (tomorrow )?\d\d:\d\d #general: standup", s.lines()[-3])
    assert s.lines()[-2] == ("--   [2] ✗ failed (forbidden: you are not a member of 'club') "
                             "#club: hi club")
    asked = await _asked(s, "/unschedule 2", {"item": 42})
    assert asked == CancelScheduled(id=2, item=42)
    asked = await _asked(s, "/sendnow [1]", {"item": _item(41, "standup", now)})
    assert asked == EditScheduled(id=3, item=41, send_at=0)


async def test_the_events_print_a_line() -> None:
    """sent: "✓ Scheduled message sent to #room"; failed: "✗ ... failed: why" (with the
    bell under --bell); added, changed, cancelled each a line too."""
    s = Session()
    s.client.options = dataclasses.replace(s.client.options, bell=True)
    now = s.client.server_now()
    item = _item(7, "ship it", now + HOUR)
    await s.event(ScheduledChanged(action="added", item=item))
    assert re.fullmatch(r"-- 🕓 Scheduled for (tomorrow )?\d\d:\d\d in #general: ship it",
                        s.lines()[-1])
    await s.event(ScheduledChanged(action="cancelled", item=item))
    assert s.lines()[-1] == "-- cancelled the scheduled message to #general"
    await s.event(ScheduledChanged(action="sent", item=item, msg={
        "room": "general", "seq": 4, "msg_id": 104, "ts": now}))
    assert s.lines()[-1] == "-- ✓ Scheduled message sent to #general"
    rings = s.out.getvalue().count("\a")
    failed = {**item, "state": "failed",
              "error": {"code": "forbidden", "message": "you are banned"}}
    await s.event(ScheduledChanged(action="failed", item=failed))
    assert s.lines()[-2:] == ["-- ✗ Scheduled message to #general failed: you are banned",
                              "\a"]
    assert s.out.getvalue().count("\a") == rings + 1


async def test_later_end_to_end(config: Config, tmp_path: Path) -> None:
    """On a pty against a real server: /later in 2s sends the text to [general] as ann
    when it is due (bob sees it), the terminal says it was scheduled and then sent; a
    second one, listed by /scheduled, is cancelled by /unschedule 1."""
    async with running(config) as server, trio.open_nursery() as nursery:
        async with ann_with_bob(tmp_path, server, nursery) as (term, bob):
            await term.type("/later in 2s see you soon")
            await term.expect(r"-- 🕓 Scheduled for [^\n]+ in #general: see you soon\n")
            message = await bob.event("message", text="see you soon")
            assert message["from"] == "ann"
            await term.expect(r"-- ✓ Scheduled message sent to #general\n")
            await term.type("/later tomorrow not yet")
            await term.expect(r"in #general: not yet\n")
            await term.type("/scheduled")
            await term.expect(r"--   \[1\] tomorrow 09:00 #general: not yet\n")
            await term.type("/unschedule 1")
            await term.expect(r"-- cancelled the scheduled message to #general\n")
        await bob.aclose()
        nursery.cancel_scope.cancel()
