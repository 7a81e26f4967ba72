"""When a reminder is, as typed after ``/save N``: a small parser, no calendar.

``in 20m``, ``20m``, ``1h30m``, ``2d``, ``1w`` (``in`` optional): that long from now, in
seconds (``s``), minutes (``m``), hours (``h``), days (``d``) or weeks (``w``), the parts of one
word added, counted in elapsed time (across a change of the clocks too); ``tomorrow``: 9:00 the
next day (Slack's "Tomorrow"), ``tomorrow 17:30`` (``at`` optional) that time the next day;
``9:00``, ``17:30`` (``at`` optional): the next time the clock shows it, today if it is still
ahead, else tomorrow (``/later``'s times, chatd.client.commands). Days and times of day are
read on the wall clock of the time zone of the ``now`` given. Anything else, nothing ahead,
or more than a year ahead (what the server takes, :data:`chatd.protocol.MAX_REMIND_SECONDS`)
is a :class:`ValueError` with a line to show.

The page reads the same phrases (clients/web/when.js): tests/when-cases.json is the table of
cases both are tested against (tests/client/test_when.py, tests/web/when.test.mjs), so that
the two cannot drift apart again.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import re
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chatd.protocol import MAX_REMIND_SECONDS

__all__ = ["WHEN_USAGE", "local_now", "local_zone", "reminder_time", "split_when"]

WHEN_USAGE: Final = "in 20m, 1h, 1h30m, 2d, 1w, tomorrow (9:00), tomorrow 17:30 or 17:30"
_SPAN: Final = re.compile(r"(?:[0-9]{1,6}[smhdw])+")
_PART: Final = re.compile(r"([0-9]{1,6})([smhdw])")
_CLOCK: Final = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
#: The time of day of ``tomorrow``.
MORNING: Final = datetime.time(9, 0)


def local_zone(localtime: Path = Path("/etc/localtime")) -> datetime.tzinfo | None:
    """The terminal's time zone with its rules (a change of the clocks included): ``TZ``'s
    name, else the zone ``/etc/localtime`` links to; None when neither names one (then only
    the offset of the moment is known, as :meth:`datetime.datetime.astimezone` gives it)."""
    names = [os.environ.get("TZ", "").removeprefix(":")]
    with contextlib.suppress(OSError):
        names.append(str(localtime.resolve()).partition("/zoneinfo/")[2])
    for name in names:
        if not name or name.startswith("/"):
            continue
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return None


def local_now(ms: int) -> datetime.datetime:
    """The instant ``ms`` (ms since the epoch) on the terminal's wall clock, in its zone
    (:func:`local_zone`), so that "tomorrow 9:00" across a change of the clocks is 9:00 on
    the clock, not an hour off."""
    zone = local_zone()
    if zone is None:
        return datetime.datetime.fromtimestamp(ms / 1000).astimezone()
    return datetime.datetime.fromtimestamp(ms / 1000, zone)


def reminder_time(text: str, now: datetime.datetime) -> datetime.datetime:
    """The time ``text`` names, from ``now`` (an aware datetime: the server's clock in the
    terminal's time zone).

    Raises:
        ValueError: ``text`` is none of the forms above, or not within a year ahead.
    """
    words = text.lower().split()
    if words[:1] == ["in"]:
        words = words[1:]
    days = 0
    if words[:1] == ["tomorrow"]:
        days, words = 1, words[1:]
        if not words:
            return _ahead(_on_clock(now, 1, MORNING), now)
    if words[:1] == ["at"]:
        words = words[1:]
    clock = _CLOCK.fullmatch(words[0]) if len(words) == 1 else None
    if clock is not None:
        wall = datetime.time(int(clock.group(1)), int(clock.group(2)))
        return _ahead(_on_clock(now, days, wall), now)
    if days or len(words) != 1 or not _SPAN.fullmatch(words[0]):
        raise ValueError(f"a reminder is {WHEN_USAGE}")
    seconds = sum(int(count) * _UNITS[unit] for count, unit in _PART.findall(words[0]))
    if seconds <= 0:
        raise ValueError("a reminder must be ahead")
    if seconds > MAX_REMIND_SECONDS:
        raise ValueError("a reminder may be at most a year ahead")
    # Elapsed time: an aware datetime's own arithmetic is the wall clock's, which a change of
    # the clocks in between would make an hour off.
    return (now.astimezone(datetime.UTC) + datetime.timedelta(seconds=seconds)
            ).astimezone(now.tzinfo)


def _on_clock(now: datetime.datetime, days: int, wall: datetime.time) -> datetime.datetime:
    """When the wall clock of now's time zone shows ``wall``, ``days`` days after today; a
    time of today already past is tomorrow's."""
    day = now.date() + datetime.timedelta(days=days)
    at = datetime.datetime.combine(day, wall, tzinfo=now.tzinfo)
    if not days and at.timestamp() <= now.timestamp():
        at = datetime.datetime.combine(day + datetime.timedelta(days=1), wall,
                                       tzinfo=now.tzinfo)
    return at


def _ahead(at: datetime.datetime, now: datetime.datetime) -> datetime.datetime:
    if at.timestamp() <= now.timestamp():
        raise ValueError("a reminder must be ahead")
    return at


def split_when(text: str) -> tuple[str, str]:
    """``/later`` and ``/remind``'s WHEN and the text after it: the longest start of
    ``text`` (up to three words) that has a WHEN's form (``in 20m``, ``tomorrow at 9:00``,
    ``17:30``), else its first word alone (what :func:`reminder_time` then says of it is the
    problem to show). The text is as typed, trimmed."""
    words = text.split(None, 3)[:3]
    for count in range(min(3, len(words)), 1, -1):
        if _is_form(words[:count]):
            rest = text.split(None, count)
            return " ".join(words[:count]), rest[count].strip() if len(rest) > count else ""
    first = text.split(None, 1)
    return (first[0] if first else ""), (first[1].strip() if len(first) > 1 else "")


def _is_form(words: list[str]) -> bool:
    """Whether ``words`` have a WHEN's shape, whatever the time they name."""
    rest = [word.lower() for word in words]
    if rest[:1] == ["in"]:
        return len(rest) == 2 and _SPAN.fullmatch(rest[1]) is not None
    if rest[:1] == ["tomorrow"]:
        rest = rest[1:]
    if rest[:1] == ["at"]:
        rest = rest[1:]
    return len(rest) == 1 and _CLOCK.fullmatch(rest[0]) is not None
