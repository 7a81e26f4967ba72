"""The terminal client and saved messages: /save N [when], /unsave N, /saved, the lines the
session prints for the ``saved`` and ``reminder`` events and the welcome's reminders_due;
the reminder time parser (a hypothesis test); in memory (tests/client/test_commands.py's
:class:`Session`), then against a real daemon on a pty.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import time
from pathlib import Path

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from chatd.client.commands import COMMANDS
from chatd.client.when import MORNING, reminder_time
from chatd.config import Config
from chatd.protocol import (
    MAX_REMIND_SECONDS,
    Error,
    Remind,
    Reminded,
    Save,
    SavedChanged,
    SavedItems,
)
from tests.client.test_changes import ann_with_bob
from tests.client.test_commands import Session
from tests.client.test_pins import _asked
from tests.client.test_terminal import STAMPED, WAIT
from tests.e2e.conftest import running
from tests.helpers import make_config

HOUR = 3600 * 1000
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

#: Any moment of a few centuries, in any time zone of whole minutes.
moments = st.builds(
    lambda at, offset: datetime.datetime.fromtimestamp(
        at, datetime.timezone(datetime.timedelta(minutes=offset))),
    st.integers(0, 8_000_000_000), st.integers(-14 * 60, 14 * 60))
#: A duration as typed: parts like "1h", "30m", glued ("1h30m").
parts = st.lists(st.tuples(st.integers(0, 400), st.sampled_from("smhdw")), min_size=1,
                 max_size=3)


@pytest.fixture
def config(tmp_path: Path, database_dsn: str) -> Config:
    return make_config(tmp_path, database_dsn, server={"grace_period": 3.0})


@given(moments, parts, st.booleans())
def test_a_duration_is_that_long_from_now(now: datetime.datetime,
                                          typed: list[tuple[int, str]], with_in: bool) -> None:
    """"in 1h30m" (or "1h30m") is now plus the sum of its parts, when that is ahead and
    within a year; otherwise a ValueError, never another exception."""
    word = "".join(f"{count}{unit}" for count, unit in typed)
    seconds = sum(count * UNITS[unit] for count, unit in typed)
    text = f"in {word}" if with_in else word.upper()
    if 0 < seconds <= MAX_REMIND_SECONDS:
        assert reminder_time(text, now) == now + datetime.timedelta(seconds=seconds)
    else:
        with pytest.raises(ValueError):
            reminder_time(text, now)


@given(moments, st.sampled_from(["tomorrow", "in tomorrow", " TOMORROW "]))
def test_tomorrow_is_nine_the_next_day(now: datetime.datetime, text: str) -> None:
    """"tomorrow" is 9:00 of the next day in now's time zone: ahead, within two days."""
    at = reminder_time(text, now)
    assert at.date() == now.date() + datetime.timedelta(days=1)
    assert at.timetz().replace(tzinfo=None) == MORNING and at.utcoffset() == now.utcoffset()
    assert now < at <= now + datetime.timedelta(days=2)


@given(moments, st.text(max_size=12))
def test_anything_else_is_a_value_error(now: datetime.datetime, text: str) -> None:
    """Whatever is typed, the parser gives a time ahead or a ValueError."""
    try:
        at = reminder_time(text, now)
    except ValueError:
        return
    assert now < at <= now + datetime.timedelta(seconds=MAX_REMIND_SECONDS)


async def test_save_and_unsave_by_number() -> None:
    """/save N sends save for message [N] (no reminder); /save N in 20m with a reminder
    twenty minutes ahead by the server's clock; /unsave N sends on false; bad input sends
    nothing."""
    s = Session()
    message = await s.post("bob", "call the plumber", room="random")
    asked = await _asked(s, "/save 1", {"room": "random", "msg_id": message.msg_id,
                                        "on": True, "remind_at": None, "ts": 5})
    assert asked == Save(id=1, room="random", msg_id=message.msg_id)
    before = s.client.server_now()
    asked = await _asked(s, "/save [1] in 20m", {"unchanged": True})
    assert isinstance(asked, Save) and asked.remind_at is not None
    assert before + 20 * 60_000 <= asked.remind_at <= s.client.server_now() + 20 * 60_000
    assert s.lines()[-1] == "-- [1] is saved already, with that reminder"
    asked = await _asked(s, "/unsave 1", {"unchanged": True})
    assert asked == Save(id=3, room="random", msg_id=message.msg_id, on=False)
    assert s.lines()[-1] == "-- [1] is not saved"
    sent = len(s.link.sent)
    for line, problem in (("/save", "!! usage: /save N [in 20m, 1h, 1h30m, 2d, 1w, "
                                    "tomorrow (9:00), tomorrow 17:30 or 17:30]"),
                          ("/save 1 next week", "!! /save: a reminder is in 20m, 1h, 1h30m, "
                                                "2d, 1w, tomorrow (9:00), tomorrow 17:30 "
                                                "or 17:30"),
                          ("/save 1 in 400d", "!! /save: a reminder may be at most a year "
                                              "ahead"),
                          ("/save 9", "!! /save: no message [9] (the numbers are those shown "
                                      "before the messages)"),
                          ("/unsave x", "!! usage: /unsave N")):
        await s.line(line)
        assert s.lines()[-1] == problem
    assert len(s.link.sent) == sent


async def test_saved_and_reminder_events_print_a_line() -> None:
    """A saved event says which message was saved (and its reminder) or removed; a
    reminder event prints "⏰ Reminder: #room sender: text" (its first line), and rings the
    bell with --bell; an error from the server is shown."""
    s = Session()
    s.client.options = dataclasses.replace(s.client.options, bell=True)
    message = await s.post("bob", "water the plants\nand the garden", room="random")
    await s.event(SavedChanged(room="random", msg_id=message.msg_id, on=True, remind_at=None,
                               ts=1))
    assert s.lines()[-1] == "-- saved [random] [1]"
    at = s.client.server_now() + HOUR
    await s.event(SavedChanged(room="random", msg_id=message.msg_id, on=True, remind_at=at,
                               ts=1))
    assert re.fullmatch(r"-- saved \[random\] \[1\] \(⏰ \d\d:\d\d\)|"
                        r"-- saved \[random\] \[1\] \(⏰ tomorrow \d\d:\d\d\)", s.lines()[-1])
    await s.event(SavedChanged(room="random", msg_id=99, on=False, remind_at=None, ts=1))
    assert s.lines()[-1] == "-- removed [random] #99 from your saved messages"
    rings = s.out.getvalue().count("\a")
    await s.event(Reminded(room="random", msg_id=message.msg_id, remind_at=at,
                           message=message.wire()))
    assert s.lines()[-2:] == ["-- ⏰ Reminder: #random bob: water the plants", "\a"]
    assert s.out.getvalue().count("\a") == rings + 1
    with trio.fail_after(WAIT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(s.line, "/save 1 in 1h")
            await trio.testing.wait_all_tasks_blocked()
            await s.event(Error(id=s.last().id, code="too_many_saved",
                                message="remove some first"))
    assert "remove some first" in s.lines()[-1]


async def test_saved_lists_with_numbers_and_reminders() -> None:
    """/saved asks for the first page; each message is shown with a number (so /unsave N
    works on it) and its reminder; /saved more asks from the last item's ts."""
    s = Session()
    now = s.client.server_now()
    wire = {"op": "message", "room": "general", "seq": 5, "msg_id": 105, "from": "bob",
            "text": "wifi: hunter2", "ts": 1_732_700_000_000, "nonce": "b5"}
    asked = await _asked(s, "/saved", {"items": [
        {"room": "general", "msg_id": 105, "ts": 77, "remind_at": now - 1000,
         "reminded": True, "message": wire}], "more": True})
    assert asked == SavedItems(id=1, limit=20)
    assert s.lines()[-4] == "-- saved messages, the latest saved first:"
    assert re.fullmatch(r"\[1\] \d\d:\d\d \[general\] bob: wifi: hunter2", s.lines()[-3])
    assert s.lines()[-2] == "--   ⏰ reminded"
    assert s.lines()[-1] == "-- /saved more for the ones saved before"
    asked = await _asked(s, "/saved more", {"items": [], "more": False})
    assert asked == SavedItems(id=2, before=77, limit=20)
    assert s.lines()[-1] == "-- no more saved messages"
    await s.line("/saved more")
    assert s.lines()[-1] == "!! /saved more: the last list had no more; /saved"
    asked = await _asked(s, "/unsave 1", {"on": False})
    assert asked == Save(id=3, room="general", msg_id=105, on=False)


def test_help_names_the_saved_commands() -> None:
    """/help lists /save, /unsave and /saved."""
    assert {"save", "unsave", "saved"} <= set(COMMANDS)


async def test_saved_with_a_real_daemon(tmp_path: Path, config: Config) -> None:
    """ann saves bob's message from the terminal client with a reminder a moment ahead: her
    terminal says it is saved, then prints the reminder line when it is due; /saved lists
    it as reminded."""
    async with running(config) as server, trio.open_nursery() as nursery:
        async with ann_with_bob(tmp_path, server, nursery) as (term, bob):
            await bob.request("send", room="general", text="stand-up in five", nonce="b1")
            number = (await term.expect(rf"\[(\d+)\] {STAMPED} \[general\] bob: stand-up in "
                                        r"five\n")).group(1)
            started = time.monotonic()
            await term.type(f"/save {number} in 2s")
            await term.expect(rf"-- saved \[general\] \[{number}\] \(⏰ [^)]+\)\n")
            await term.expect(r"-- ⏰ Reminder: #general bob: stand-up in five\n")
            assert time.monotonic() - started >= 1.0  # not before it was due
            await term.type("/saved")
            await term.expect(r"-- saved messages, the latest saved first:\n")
            await term.expect(r"--   ⏰ reminded\n")
        await bob.aclose()
        nursery.cancel_scope.cancel()


async def test_remind_asks_for_a_note_and_its_reminder() -> None:
    """/remind in 2h TEXT asks remind with TEXT two hours ahead by the server's clock and a
    fresh nonce each time; /remind 9:00 TEXT the next 9:00; bad input sends nothing."""
    s = Session()
    before = s.client.server_now()
    fields = {"room": "@ann:ann", "seq": 1, "msg_id": 7, "ts": before, "remind_at": 1}
    asked = await _asked(s, "/remind in 2h call the bank", fields)
    assert isinstance(asked, Remind) and asked.text == "call the bank" and asked.nonce
    assert before + 2 * 3600_000 <= asked.remind_at <= s.client.server_now() + 2 * 3600_000
    second = await _asked(s, "/remind 9:00 stand-up", fields)
    assert isinstance(second, Remind) and second.text == "stand-up"
    assert second.nonce != asked.nonce
    assert datetime.datetime.fromtimestamp(second.remind_at / 1000).strftime("%H:%M") == "09:00"
    sent = len(s.link.sent)
    for line, problem in (
            ("/remind in 2h", "!! usage: /remind [@USER] WHEN TEXT (WHEN: in 20m, 1h, 1h30m, "
                              "2d, 1w, tomorrow (9:00), tomorrow 17:30 or 17:30)"),
            ("/remind someday hi", "!! /remind: a reminder is in 20m, 1h, 1h30m, 2d, 1w, "
                                   "tomorrow (9:00), tomorrow 17:30 or 17:30")):
        await s.line(line)
        assert s.lines()[-1] == problem
    assert len(s.link.sent) == sent


async def test_remind_with_a_real_daemon(tmp_path: Path, config: Config) -> None:
    """ann's /remind in 2s writes the note to her notes to self, says it is saved, and
    prints the reminder line when it is due, not before."""
    async with running(config) as server, trio.open_nursery() as nursery:
        async with ann_with_bob(tmp_path, server, nursery) as (term, bob):
            started = time.monotonic()
            await term.type("/remind in 2s call the bank")
            await term.expect(rf"\[\d+\] {STAMPED} \[[^\]\n]+\] ann: call the bank\n")
            await term.expect(r"-- saved \[[^\]\n]+\] \[\d+\] \(⏰ [^)]+\)\n")
            await term.expect(r"-- ⏰ Reminder: [^\n]*ann: call the bank\n")
            assert time.monotonic() - started >= 1.0  # not before it was due
        await bob.aclose()
        nursery.cancel_scope.cancel()
