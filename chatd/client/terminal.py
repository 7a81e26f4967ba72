"""The terminal: what the client prints and how, and the lines it reads.

Everything a peer wrote (message text, names, topics, error messages) is printed only after
:func:`clean` replaced its control characters, so that a message cannot send escape sequences to
the terminal; :class:`Screen` applies the same rule once more to every line as a last defence.

Styles (bold, italics, reverse...) are not characters in the text: a styled line is a sequence
of :class:`Span` (text and :class:`Style`), and only :meth:`Screen.spans` turns styles into the
terminal's SGR sequences, after cleaning every span's text. So the only escape sequences the
client ever prints are the few of :data:`SGR`, and none when the output is not a terminal.
"""

from __future__ import annotations

import codecs
import dataclasses
import enum
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

import trio

from chatd.protocol import NOTIFY_LEVELS, Error, default_notify

__all__ = [
    "SGR",
    "LineReader",
    "Screen",
    "SidebarGroup",
    "Span",
    "Style",
    "ansi",
    "clean",
    "clean_body",
    "day_time",
    "error_text",
    "favourites_first",
    "hhmm",
    "presences",
    "read_line_sync",
    "room_summary",
    "section_title",
    "sidebar_groups",
    "sidebar_line",
    "styles_supported",
    "unread_counts",
]

# C0 controls except tab, DEL, C1 controls; and the bidi overrides and isolates, which can make
# a line read differently from what it holds.
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_KEEP_NEWLINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
REPLACEMENT = "\ufffd"
_BODY_INDENT = "\n      "


def clean(text: object) -> str:
    """``text`` made safe for a terminal on one line: every control character (C0 but tab,
    DEL, C1, bidi overrides) becomes U+FFFD, so escape sequences are shown, never obeyed."""
    return _UNSAFE.sub(REPLACEMENT, str(text))


def clean_body(text: object) -> str:
    """A message's text made safe for a terminal: as :func:`clean`, except that a line break
    starts an indented continuation line (so a message cannot fake a line of its own)."""
    lines = str(text).replace("\r\n", "\n").split("\n")
    return _BODY_INDENT.join(clean(line) for line in lines)


class Style(enum.Flag):
    """How a span of text is shown; styles combine (``Style.BOLD | Style.ITALIC``)."""

    NONE = 0
    BOLD = enum.auto()
    ITALIC = enum.auto()
    UNDERLINE = enum.auto()
    DIM = enum.auto()
    REVERSE = enum.auto()
    STRIKE = enum.auto()


#: The SGR parameter of each style (ECMA-48): the only escape sequences the client prints are
#: ``ESC [ <these, joined by ;> m`` and the reset ``ESC [ 0 m``.
SGR: dict[Style, int] = {
    Style.BOLD: 1,
    Style.DIM: 2,
    Style.ITALIC: 3,
    Style.UNDERLINE: 4,
    Style.REVERSE: 7,
    Style.STRIKE: 9,
}


@dataclasses.dataclass(frozen=True, slots=True)
class Span:
    """Some text of a line, and how it is shown."""

    text: str
    style: Style = Style.NONE


def ansi(spans: Iterable[Span], *, styled: bool) -> str:
    """The text of ``spans`` for the terminal: each span's text made safe (every control
    character but the line break and tab becomes U+FFFD), then, when ``styled``, wrapped in
    the SGR sequences of its style."""
    out: list[str] = []
    for span in spans:
        text = _UNSAFE_KEEP_NEWLINE.sub(REPLACEMENT, span.text)
        codes = [str(code) for style, code in SGR.items() if style in span.style]
        if styled and codes and text:
            out.append(f"\x1b[{';'.join(codes)}m{text}\x1b[0m")
        else:
            out.append(text)
    return "".join(out)


def styles_supported(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Whether to style what is printed on ``stream``: a terminal that is not ``dumb``."""
    try:
        tty = stream.isatty()
    except (ValueError, OSError):
        return False
    return tty and environ.get("TERM", "") not in ("", "dumb")


# --------------------------------------------------------------------------- how things look


def day_time(ts: object) -> str:
    """The local day and time of a protocol timestamp (ms since the epoch), as
    ``YYYY-MM-DD HH:MM``."""
    if not isinstance(ts, int):
        return "---------- --:--"
    try:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts / 1000))
    except (ValueError, OverflowError, OSError):
        return "---------- --:--"


def hhmm(ts: object) -> str:
    """The local time of a protocol timestamp (ms since the epoch), as HH:MM."""
    if not isinstance(ts, int):
        return "--:--"
    try:
        return time.strftime("%H:%M", time.localtime(ts / 1000))
    except (ValueError, OverflowError, OSError):
        return "--:--"


#: What marks a favourite (``/fav``) in a list of rooms.
FAVOURITE_MARK = "★"


def favourites_first(objects: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Room objects with the user's favourites first, in the order they were marked
    (``favourite_at``, then by name), then the others in the order they came."""
    listed = list(objects)
    marked = [obj for obj in listed if obj.get("favourite") is True]

    def when(obj: Mapping[str, Any]) -> tuple[int, str]:
        at = obj.get("favourite_at")
        return (at if isinstance(at, int) else 0, str(obj.get("room")))

    return [*sorted(marked, key=when), *(obj for obj in listed if obj.get("favourite") is not True)]


@dataclasses.dataclass(frozen=True, slots=True)
class SidebarGroup:
    """Rooms listed together: the favourites or the default list (``section`` None), or one
    of the user's sections (its section object). ``rooms`` are those shown; ``folded``, how
    many more a collapsed section holds (those with nothing unread, but the current one)."""

    section: Mapping[str, Any] | None
    rooms: list[Mapping[str, Any]]
    folded: int = 0


def sidebar_groups(objects: Iterable[Mapping[str, Any]], sections: Sequence[Mapping[str, Any]],
                   *, current: str | None = None) -> list[SidebarGroup]:
    """Room objects as the sidebar groups them: the favourites first (as
    :func:`favourites_first` orders them: a favourite is listed there only), then each of the
    user's ``sections`` in their order with the rooms in it, in the order they came (every
    section, empty ones too), then the rest (no section, or one not in ``sections``: the
    default list). A collapsed section shows only its rooms with something unread and the
    ``current`` one, as Slack's; the favourites and the rest are left out when empty."""
    listed = favourites_first(objects)
    favourites = [obj for obj in listed if obj.get("favourite") is True]
    others = [obj for obj in listed if obj.get("favourite") is not True]
    ids = [s.get("id") for s in sections]
    groups = [SidebarGroup(None, favourites)] if favourites else []
    for section in sections:
        inside = [obj for obj in others if obj.get("section") == section.get("id")]
        if section.get("collapsed") is True:
            shown = [obj for obj in inside if obj.get("room") == current
                     or (isinstance(obj.get("unread"), int) and obj["unread"] > 0)]
            groups.append(SidebarGroup(section, shown, len(inside) - len(shown)))
        else:
            groups.append(SidebarGroup(section, inside))
    rest = [obj for obj in others if obj.get("section") not in ids]
    if rest:
        groups.append(SidebarGroup(None, rest))
    return groups


def section_title(group: SidebarGroup) -> str:
    """A section's name as a list shows it over its rooms (cleaned), with how many a
    collapsed one folds away."""
    assert group.section is not None
    title = clean(group.section.get("name"))
    if group.section.get("collapsed") is True:
        title += f" (collapsed{f', {group.folded} more' if group.folded else ''})"
    return title


def sidebar_line(groups: Sequence[SidebarGroup], summary: Any) -> str:
    """The groups on one line (the first welcome's rooms line): each room by ``summary``
    (a function of its object), a section's after its name and apart by `` | `` (the
    favourites and the rest, side by side, only by a comma: without sections the line is
    as it was); an empty section is left out."""
    line = ""
    after_section = False
    for group in groups:
        rooms = ", ".join(summary(obj) for obj in group.rooms)
        if group.section is None:
            part, is_section = rooms, False
        elif group.rooms or group.folded:
            part = f"{section_title(group)}: {rooms}" if rooms else section_title(group)
            is_section = True
        else:
            continue
        if line:
            line += " | " if is_section or after_section else ", "
        line += part
        after_section = is_section
    return line


def room_summary(obj: Mapping[str, Any], label: str) -> str:
    """A room object of the protocol, in a few words: ★ when it is a favourite, its label,
    private, the user's notification level when it is not the default (``/notify``),
    unread, pinned messages (``/pins``)."""
    text = f"{FAVOURITE_MARK} {label}" if obj.get("favourite") is True else label
    if obj.get("private") and obj.get("kind") not in ("dm", "group"):
        text += " (private)"
    notify = obj.get("notify")
    if notify in NOTIFY_LEVELS and notify != default_notify(str(obj.get("kind"))):
        text += f" (notify {notify})"
    unread = obj.get("unread")
    if isinstance(unread, int) and unread > 0:
        text += f" ({unread_counts(unread, obj.get('mentions'))})"
    pins = obj.get("pins")
    if isinstance(pins, int) and not isinstance(pins, bool) and pins > 0:
        text += f" ({pins} pinned)"
    return text


def unread_counts(unread: object, mentions: object) -> str:
    """A room's counts as the server gives them: ``3 unread, 1 mention``, ``nothing
    unread``."""
    if not isinstance(unread, int) or unread <= 0:
        return "nothing unread"
    counts = f"{_count(unread)} unread"
    if isinstance(mentions, int) and mentions > 0:
        counts += f", {_count(mentions)} mention{'s' if mentions > 1 else ''}"
    return counts


def _count(n: int) -> str:
    return "999+" if n >= 999 else str(n)


def presences(items: Iterable[Mapping[str, Any]], now: int | None = None) -> str:
    """``[{user, status}, ...]`` (who, contacts) as ``ann (online), bob (offline)``; a
    member's or contact's display name and custom status, when they have one, as
    ``ann "Ann Lee" (online) [🌴 On holiday]`` (a status past its ``until`` by the server's
    clock ``now``, ms, is left out)."""
    shown = []
    for item in items:
        line = clean(item.get("user"))
        display_name = item.get("display_name")
        if isinstance(display_name, str):
            line += f' "{clean(display_name)}"'
        line += f" ({clean(item.get('status'))})"
        status = item.get("custom_status")
        if isinstance(status, Mapping):
            end = status.get("until")
            if now is None or not isinstance(end, int) or end > now:
                words = " ".join(clean(part) for part in (status.get("emoji"),
                                                          status.get("text"))
                                 if isinstance(part, str) and part)
                line += f" [{words}]"
        shown.append(line)
    return ", ".join(shown)


def error_text(what: str, error: Error) -> str:
    """A refused request: what was asked, the code and the server's words."""
    text = f"{what}: {clean(error.code)}: {clean(error.message)}"
    if error.retry_after is not None:
        text += f" (retry in {error.retry_after / 1000:g}s)"
    return text


# --------------------------------------------------------------------------- output


class Screen:
    """Where the client prints: whole lines, flushed at once."""

    def __init__(self, stream: TextIO, *, styled: bool = False) -> None:
        self._stream = stream
        self.styled = styled  # whether spans are printed with their styles
        self.problems = 0  # how many problem lines were printed

    def line(self, text: str) -> None:
        """Print one line. Callers clean what peers wrote; this is a last line of defence
        that lets through only line breaks and tabs of all control characters."""
        self._stream.write(_UNSAFE_KEEP_NEWLINE.sub(REPLACEMENT, text) + "\n")
        self._stream.flush()

    def spans(self, spans: Sequence[Span]) -> None:
        """Print one line of styled spans (see :func:`ansi`)."""
        self._stream.write(ansi(spans, styled=self.styled) + "\n")
        self._stream.flush()

    def notice(self, text: str) -> None:
        self.line(f"-- {text}")

    def problem(self, text: str) -> None:
        self.problems += 1
        self.line(f"!! {text}")

    def bell(self) -> None:
        """Ring the terminal's bell (BEL): the terminal, or tmux or screen around it,
        decides what that does (a sound, a flash, a mark on a window in the background)."""
        self._stream.write("\a")
        self._stream.flush()

    def prompt(self, text: str) -> None:
        """A question without a line break after it."""
        self._stream.write(_UNSAFE.sub(REPLACEMENT, text))
        self._stream.flush()


# --------------------------------------------------------------------------- input


class LineReader:
    """Lines from a file descriptor, read in a worker thread with ``os.read``.

    ``os.read`` holds no lock of Python's, so a read still blocked when the client quits does
    not hold up the interpreter's exit (``sys.stdin.readline`` in a thread would), and the
    descriptor stays blocking, so the terminal it shares with standard output is left alone.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._buffer = ""
        self._eof = False

    async def readline(self) -> str | None:
        """The next line without its line break, or None at the end of input."""
        while "\n" not in self._buffer:
            if self._eof:
                rest, self._buffer = self._buffer, ""
                return rest or None
            try:
                data = await trio.to_thread.run_sync(os.read, self._fd, 4096,
                                                     abandon_on_cancel=True)
            except OSError:  # EIO: the terminal went away
                data = b""
            if data:
                self._buffer += self._decoder.decode(data)
            else:
                self._eof = True
                self._buffer += self._decoder.decode(b"", final=True)
        line, self._buffer = self._buffer.split("\n", 1)
        return line.removesuffix("\r")


def read_line_sync(fd: int) -> str:
    """One line from ``fd``, read a byte at a time so that nothing after it is consumed
    (the rest is for :class:`LineReader`)."""
    data = bytearray()
    while True:
        byte = os.read(fd, 1)
        if not byte or byte == b"\n":
            return data.decode("utf-8", "replace").removesuffix("\r")
        data += byte
