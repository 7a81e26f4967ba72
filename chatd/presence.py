"""The presence tracker: who is online, decided once per user, not once per connection.

A user is online from the opening of their first connection to the closing of their last.
Their ``presence`` frames go to everyone who shares a room with them (the registry knows who)
and to the online users who have them as a contact (the tracker knows: it keeps, for each
online user, whom they watch, and the reverse index).
The tracker is an actor like the room registry: :func:`apply` is pure and returns effects, and
the loop in :class:`PresenceTracker` turns them into registry commands. Connection lifecycle
reaches the registry *through* the tracker when a connection closes (``Offline`` carries the
registry's ``Disconnect``), so that the ``offline`` frame is fanned out while the registry still
knows the user's rooms. The tracker only ever waits on the registry, never the other way
round, so the two cannot deadlock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterable

import trio

from chatd.protocol import PresenceChanged, frame
from chatd.rooms import BroadcastPresence, Disconnect, RoomRegistry

__all__ = [
    "Announce",
    "Offline",
    "Online",
    "PresenceState",
    "PresenceTracker",
    "Watch",
    "apply",
]

ConnId = Hashable


@dataclasses.dataclass(slots=True)
class PresenceState:
    conns: dict[str, set[ConnId]] = dataclasses.field(default_factory=dict)
    #: online user -> the contacts they watch
    watching: dict[str, set[str]] = dataclasses.field(default_factory=dict)
    #: user -> the online users watching them
    watchers: dict[str, set[str]] = dataclasses.field(default_factory=dict)

    def is_online(self, user: str) -> bool:
        return user in self.conns


@dataclasses.dataclass(frozen=True, slots=True)
class Online:
    """A connection of ``user`` is authenticated (and already connected in the registry);
    ``contacts`` are the users whose presence they want."""

    user: str
    conn: ConnId
    contacts: frozenset[str] = frozenset()
    done: Callable[[], None] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Offline:
    """A connection of ``user`` closed."""

    user: str
    conn: ConnId


@dataclasses.dataclass(frozen=True, slots=True)
class Watch:
    """Online ``user`` added (``watch=True``) or removed a contact."""

    user: str
    contact: str
    watch: bool
    done: Callable[[], None] | None = None


Command = Online | Offline | Watch


@dataclasses.dataclass(frozen=True, slots=True)
class Announce:
    """Effect: tell everyone who shares a room with ``user``, and ``watchers``, their new
    ``status``."""

    user: str
    status: str
    watchers: frozenset[str] = frozenset()


def _watch(state: PresenceState, user: str, contact: str) -> None:
    state.watching.setdefault(user, set()).add(contact)
    state.watchers.setdefault(contact, set()).add(user)


def _unwatch(state: PresenceState, user: str, contact: str) -> None:
    state.watching.get(user, set()).discard(contact)
    watchers = state.watchers.get(contact)
    if watchers is not None:
        watchers.discard(user)
        if not watchers:
            del state.watchers[contact]


def apply(state: PresenceState, command: Command) -> list[Announce]:
    """Count the user's connections; announce only the first opening and the last closing."""
    match command:
        case Online(user, conn, contacts, _):
            conns = state.conns.setdefault(user, set())
            first = not conns
            conns.add(conn)
            if not first:
                return []
            for contact in contacts:
                _watch(state, user, contact)
            return [Announce(user, "online", frozenset(state.watchers.get(user, ())))]
        case Offline(user, conn):
            remaining = state.conns.get(user)
            if remaining is None or conn not in remaining:
                return []
            remaining.discard(conn)
            if remaining:
                return []
            del state.conns[user]
            for contact in list(state.watching.pop(user, ())):
                _unwatch(state, user, contact)
            return [Announce(user, "offline", frozenset(state.watchers.get(user, ())))]
        case Watch(user, contact, watch, _):
            if user in state.conns:
                (_watch if watch else _unwatch)(state, user, contact)
            return []
    raise TypeError(f"not a presence command: {command!r}")


class PresenceTracker:
    """The actor around :func:`apply`; it sends its announcements through the registry."""

    def __init__(self, registry: RoomRegistry, inbox_size: int = 4096) -> None:
        self.state = PresenceState()
        self._registry = registry
        self._send, self._receive = trio.open_memory_channel[Command](inbox_size)

    async def online(self, user: str, conn: ConnId, contacts: frozenset[str]) -> None:
        """Mark a connection open and wait until the tracker has applied it, so that a
        status read afterwards (:meth:`statuses`) is followed by every later change."""
        applied = trio.Event()
        await self._send.send(Online(user, conn, contacts, applied.set))
        await applied.wait()

    async def watch(self, user: str, contact: str, watch: bool) -> None:
        """Start (or stop) sending ``contact``'s presence to ``user``; waits until applied."""
        applied = trio.Event()
        await self._send.send(Watch(user, contact, watch, applied.set))
        await applied.wait()

    def statuses(self, users: Iterable[str]) -> list[dict[str, str]]:
        """``{"user", "status"}`` (``online`` or ``offline``) for each user, in order, as of
        the commands applied so far: the shape of ``who``, ``contacts`` and ``welcome``. A
        read of the actor's state: later changes follow as ``presence`` frames, in order."""
        return [{"user": u, "status": "online" if self.state.is_online(u) else "offline"}
                for u in users]

    async def offline(self, user: str, conn: ConnId) -> None:
        """Mark a connection closed; its registry ``Disconnect`` follows the announcement."""
        await self._send.send(Offline(user, conn))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        task_status.started()
        async with self._receive:
            async for command in self._receive:
                for announce in apply(self.state, command):
                    data = frame(PresenceChanged(user=announce.user, status=announce.status))
                    await self._registry.send(
                        BroadcastPresence(announce.user, data, also=announce.watchers)
                    )
                if isinstance(command, Offline):
                    await self._registry.send(Disconnect(command.conn))
                elif command.done is not None:
                    command.done()
