"""The terminal: what the client prints and how, and the lines it reads.

Everything a peer wrote (message text, names, topics, error messages) is printed only after
:func:`clean` replaced its control characters, so that a message cannot send escape sequences to
the terminal; :class:`Screen` applies the same rule once more to every line as a last defence.
"""

from __future__ import annotations

import codecs
import os
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

import trio

from chatd.protocol import Error, MessagePosted

__all__ = [
    "LineReader",
    "Screen",
    "clean",
    "clean_body",
    "error_text",
    "hhmm",
    "message_line",
    "presences",
    "read_line_sync",
    "room_summary",
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


# --------------------------------------------------------------------------- how things look


def hhmm(ts: object) -> str:
    """The local time of a protocol timestamp (ms since the epoch), as HH:MM."""
    if not isinstance(ts, int):
        return "--:--"
    try:
        return time.strftime("%H:%M", time.localtime(ts / 1000))
    except (ValueError, OverflowError, OSError):
        return "--:--"


def message_line(message: MessagePosted, label: str) -> str:
    """A message as shown: ``12:30 [general] ann: text``; ``label`` names its room."""
    return f"{hhmm(message.ts)} [{label}] {clean(message.sender)}: {clean_body(message.text)}"


def room_summary(obj: Mapping[str, Any], label: str) -> str:
    """A room object of the protocol, in a few words: its label, private, unread."""
    text = label
    if obj.get("private") and obj.get("kind") != "dm":
        text += " (private)"
    unread = obj.get("unread")
    if isinstance(unread, int) and unread > 0:
        text += f" ({'999+' if unread >= 999 else unread} unread)"
    return text


def presences(items: Iterable[Mapping[str, Any]]) -> str:
    """``[{user, status}, ...]`` (who, contacts) as ``ann (online), bob (offline)``."""
    return ", ".join(f"{clean(item.get('user'))} ({clean(item.get('status'))})"
                     for item in items)


def error_text(what: str, error: Error) -> str:
    """A refused request: what was asked, the code and the server's words."""
    text = f"{what}: {clean(error.code)}: {clean(error.message)}"
    if error.retry_after is not None:
        text += f" (retry in {error.retry_after / 1000:g}s)"
    return text


# --------------------------------------------------------------------------- output


class Screen:
    """Where the client prints: whole lines, flushed at once."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.problems = 0  # how many problem lines were printed

    def line(self, text: str) -> None:
        """Print one line. Callers clean what peers wrote; this is a last line of defence
        that lets through only line breaks and tabs of all control characters."""
        self._stream.write(_UNSAFE_KEEP_NEWLINE.sub(REPLACEMENT, text) + "\n")
        self._stream.flush()

    def notice(self, text: str) -> None:
        self.line(f"-- {text}")

    def problem(self, text: str) -> None:
        self.problems += 1
        self.line(f"!! {text}")

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
