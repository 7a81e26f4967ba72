"""When a reminder is, as typed after ``/save N``: a small parser, no calendar.

``in 20m``, ``20m``, ``1h30m``, ``2d``, ``1w`` (``in`` optional): that long from now, in
seconds (``s``), minutes (``m``), hours (``h``), days (``d``) or weeks (``w``), the parts of one
word added; ``tomorrow``: 9:00 the next day (Slack's "Tomorrow"), in the time zone of the
``now`` given; ``9:00``, ``17:30`` (``at`` optional): the next time the clock shows it there,
today if it is still ahead, else tomorrow (``/later``'s times, chatd.client.commands).
Anything else, nothing ahead, or more than a year ahead (what the server takes,
:data:`chatd.protocol.MAX_REMIND_SECONDS`) is a :class:`ValueError` with a line to show.
"""

from __future__ import annotations

import datetime
import re
from typing import Final

from chatd.protocol import MAX_REMIND_SECONDS

__all__ = ["WHEN_USAGE", "reminder_time"]

WHEN_USAGE: Final = "in 20m, 1h, 1h30m, 2d, 1w, tomorrow (9:00) or a time of day (17:30)"
_SPAN: Final = re.compile(r"(?:[0-9]{1,6}[smhdw])+")
_PART: Final = re.compile(r"([0-9]{1,6})([smhdw])")
_CLOCK: Final = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
#: The time of day of ``tomorrow``.
MORNING: Final = datetime.time(9, 0)


def reminder_time(text: str, now: datetime.datetime) -> datetime.datetime:
    """The time ``text`` names, from ``now`` (an aware datetime: the server's clock in the
    terminal's time zone).

    Raises:
        ValueError: ``text`` is none of the forms above, or not within a year ahead.
    """
    words = text.lower().split()
    if words[:1] == ["in"]:
        words = words[1:]
    if words == ["tomorrow"]:
        day = now.date() + datetime.timedelta(days=1)
        return datetime.datetime.combine(day, MORNING, tzinfo=now.tzinfo)
    if words[:1] == ["at"]:
        words = words[1:]
    clock = _CLOCK.fullmatch(words[0]) if len(words) == 1 else None
    if clock is not None:
        wall = datetime.time(int(clock.group(1)), int(clock.group(2)))
        at = datetime.datetime.combine(now.date(), wall, tzinfo=now.tzinfo)
        return at if at > now else at + datetime.timedelta(days=1)
    if len(words) != 1 or not _SPAN.fullmatch(words[0]):
        raise ValueError(f"a reminder is {WHEN_USAGE}")
    seconds = sum(int(count) * _UNITS[unit] for count, unit in _PART.findall(words[0]))
    if seconds <= 0:
        raise ValueError("a reminder must be ahead")
    if seconds > MAX_REMIND_SECONDS:
        raise ValueError("a reminder may be at most a year ahead")
    return now + datetime.timedelta(seconds=seconds)
