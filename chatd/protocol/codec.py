"""NDJSON framing: one JSON object per line, each line ending in ``\\n``.

:class:`LineBuffer` holds the bytes received so far and cuts them into lines, never holding
more than the frame limit (and a ``\r``) of an unfinished line: a peer that sends an endless
line is told ``too_large`` instead of growing our memory. The encoder writes compact JSON;
since JSON escapes control characters, an encoded frame never contains a raw newline.
"""

from __future__ import annotations

import json
from typing import Any

from chatd.protocol import codes
from chatd.protocol.events import RequestError, ServerEvent

__all__ = ["LineBuffer", "decode_line", "encode", "frame"]

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def encode(obj: Any) -> bytes:
    """One frame: ``obj`` as compact UTF-8 JSON followed by a newline."""
    return (_encoder.encode(obj) + "\n").encode("utf-8")


def frame(event: ServerEvent) -> bytes:
    """The bytes of one server event: the only way a server event becomes bytes, for
    replies (through :class:`~chatd.protocol.ServerConnection`) and fanned-out events alike."""
    return encode(event.wire())


def decode_line(line: bytes | bytearray) -> Any | RequestError:
    """The JSON value of one line (without its newline), or a ``bad_frame`` error."""
    try:
        text = bytes(line).decode("utf-8")
        return json.loads(text)
    except UnicodeDecodeError:
        return RequestError(code=codes.BAD_FRAME, message="a frame must be UTF-8")
    except (ValueError, RecursionError):
        # RecursionError: a deeply nested array is valid JSON the parser cannot handle.
        return RequestError(code=codes.BAD_FRAME, message="a frame must be one JSON object")


class LineBuffer:
    """Bytes in, whole lines out, with a bound on the length of a line.

    Args:
        max_line: the longest line accepted, in bytes, without its newline.
    """

    def __init__(self, max_line: int) -> None:
        if max_line < 1:
            raise ValueError("max_line must be positive")
        self._max = max_line
        self._buf = bytearray()
        self._scanned = 0  # bytes of _buf known to hold no newline
        self.overflowed = False

    def feed(self, data: bytes) -> None:
        """Add received bytes. After an overflow, further bytes are dropped."""
        if not self.overflowed:
            self._buf += data

    def next_line(self) -> bytes | None:
        """The next whole line without its ``\\n`` (and a ``\\r`` before it), or None when no
        whole line is buffered. Sets :attr:`overflowed` (and returns None) once a line is
        longer than the limit; the stream cannot be resynchronised after that."""
        if self.overflowed:
            return None
        end = self._buf.find(b"\n", self._scanned)
        if end < 0:
            self._scanned = len(self._buf)
            # One byte more than the limit may be the ``\r`` of a CRLF whose ``\n`` is still
            # on its way; only a line that is too long however it ends overflows here, so the
            # outcome does not depend on where the stream was split.
            if self._scanned > self._max + 1 or (
                self._scanned == self._max + 1 and self._buf[-1] != 0x0D
            ):
                self._overflow()
            return None
        line = bytes(self._buf[:end])
        del self._buf[: end + 1]
        self._scanned = 0
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > self._max:
            self._overflow()
            return None
        return line

    @property
    def pending(self) -> int:
        """Bytes held that are not yet a whole line."""
        return len(self._buf)

    def _overflow(self) -> None:
        self.overflowed = True
        self._buf.clear()
        self._scanned = 0
