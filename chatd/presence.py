"""The presence tracker: who is online, decided once per user, not once per connection.

A user is online from the opening of their first connection to the closing of their last.
The tracker is an actor like the room registry: :func:`apply` is pure and returns effects, and
the loop in :class:`PresenceTracker` turns them into registry commands. Connection lifecycle
reaches the registry *through* the tracker when a connection closes (``Offline`` carries the
registry's ``Disconnect``), so that the ``offline`` frame is fanned out while the registry still
knows the user's rooms. The tracker only ever waits on the registry, never the other way
round, so the two cannot deadlock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable

import trio

from chatd.protocol import PresenceChanged, encode
from chatd.rooms import BroadcastPresence, Disconnect, RoomRegistry

__all__ = ["Announce", "Offline", "Online", "PresenceState", "PresenceTracker", "apply"]

ConnId = Hashable


@dataclasses.dataclass(slots=True)
class PresenceState:
    conns: dict[str, set[ConnId]] = dataclasses.field(default_factory=dict)

    def is_online(self, user: str) -> bool:
        return user in self.conns


@dataclasses.dataclass(frozen=True, slots=True)
class Online:
    """A connection of ``user`` is authenticated (and already connected in the registry)."""

    user: str
    conn: ConnId


@dataclasses.dataclass(frozen=True, slots=True)
class Offline:
    """A connection of ``user`` closed."""

    user: str
    conn: ConnId


@dataclasses.dataclass(frozen=True, slots=True)
class Announce:
    """Effect: tell everyone who shares a room with ``user`` their new ``status``."""

    user: str
    status: str


def apply(state: PresenceState, command: Online | Offline) -> list[Announce]:
    """Count the user's connections; announce only the first opening and the last closing."""
    match command:
        case Online(user, conn):
            conns = state.conns.setdefault(user, set())
            first = not conns
            conns.add(conn)
            return [Announce(user, "online")] if first else []
        case Offline(user, conn):
            remaining = state.conns.get(user)
            if remaining is None or conn not in remaining:
                return []
            remaining.discard(conn)
            if remaining:
                return []
            del state.conns[user]
            return [Announce(user, "offline")]
    raise TypeError(f"not a presence command: {command!r}")


class PresenceTracker:
    """The actor around :func:`apply`; it sends its announcements through the registry."""

    def __init__(self, registry: RoomRegistry, inbox_size: int = 4096) -> None:
        self.state = PresenceState()
        self._registry = registry
        self._send, self._receive = trio.open_memory_channel[Online | Offline](inbox_size)

    async def online(self, user: str, conn: ConnId) -> None:
        await self._send.send(Online(user, conn))

    async def offline(self, user: str, conn: ConnId) -> None:
        """Mark a connection closed; its registry ``Disconnect`` follows the announcement."""
        await self._send.send(Offline(user, conn))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        task_status.started()
        async with self._receive:
            async for command in self._receive:
                for announce in apply(self.state, command):
                    frame = encode(PresenceChanged(user=announce.user, status=announce.status)
                                   .wire())
                    await self._registry.send(BroadcastPresence(announce.user, frame))
                if isinstance(command, Offline):
                    await self._registry.send(Disconnect(command.conn))
