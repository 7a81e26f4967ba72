"""What goes through a connection's outbox, from the actors and the reader to its writer.

The outbox is a bounded trio memory channel made per connection (see
:mod:`chatd.connection`); the actors write to it only with ``send_nowait`` so that a slow
client never blocks them. Items are either plain frames (bytes, written as they are) or one
of the small records below, which let the writer keep each room's messages gap-free and
duplicate-free: it remembers the last seq it wrote per room and drops any message at or
below it, and while a room is *held* (during a join or a resume) it buffers the room's
messages until the reply that carries the room's catch-up has been written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

__all__ = ["Close", "Delivery", "Hold", "Notice", "OutboxItem", "Release"]


@dataclasses.dataclass(frozen=True, slots=True)
class Delivery:
    """A committed message of ``room``, encoded once for all its recipients."""

    room: str
    seq: int
    data: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class Notice:
    """An event that is not a stored message (presence, joined, typing...). While every room
    is held (between ``hello`` and ``welcome``) notices wait too, so that a client hears of
    nothing before its welcome."""

    data: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class Hold:
    """Buffer the messages of these rooms (of every room when ``rooms`` is None)."""

    rooms: frozenset[str] | None


@dataclasses.dataclass(frozen=True, slots=True)
class Release:
    """Write ``data`` (the reply carrying the catch-up), note that the client now has each
    room up to ``upto[room]``, then write the buffered messages past that and stop holding."""

    data: bytes
    upto: Mapping[str, int]


@dataclasses.dataclass(frozen=True, slots=True)
class Close:
    """Write ``data`` (a last frame, may be empty), then close the connection."""

    data: bytes = b""


OutboxItem = bytes | Delivery | Notice | Hold | Release | Close
