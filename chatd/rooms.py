"""The room registry: which online users are in which rooms, and fan-out to their connections.

Theory of operation. The registry is an actor: one task owns :class:`RegistryState` and is the
only code that changes it; everything else sends it frozen command records over a bounded
memory channel. The logic is the pure function :func:`apply`, which returns *effects* (frames to
deliver to connections, callbacks to run) instead of doing I/O, so tests call it without trio.
The actor loop around it (:class:`RoomRegistry`) performs the effects with ``send_nowait``: a
connection whose outbox is full is marked dead and told to go (the slow-consumer policy), and
nobody else waits for it.

Ordering. All commands arrive through one FIFO channel. The committer publishes each room's
messages in seq order after they are committed; a connection subscribes (``Connect`` or
``Join``) *before* it reads a room's catch-up from the database. So every message is either
committed before that read (and is in it) or published after the subscription (and is
delivered live); the connection's writer drops the overlap by seq (see :mod:`chatd.delivery`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Hashable, Iterable
from typing import Any

import trio

from chatd.outbox import Delivery, Notice, OutboxItem

__all__ = [
    "Broadcast",
    "BroadcastPresence",
    "Call",
    "Connect",
    "Deliver",
    "Disconnect",
    "Join",
    "Leave",
    "Member",
    "PublishMany",
    "RegistryState",
    "RoomRegistry",
    "ToUser",
    "apply",
]

log = logging.getLogger(__name__)

ConnId = Hashable


@dataclasses.dataclass(slots=True)
class Member:
    """One connection as the registry knows it. ``outbox`` and ``on_overflow`` are opaque
    here: only the actor loop uses them."""

    user: str
    outbox: Any
    on_overflow: Callable[[], None]
    dead: bool = False


@dataclasses.dataclass(slots=True)
class RegistryState:
    conns: dict[ConnId, Member] = dataclasses.field(default_factory=dict)
    user_conns: dict[str, set[ConnId]] = dataclasses.field(default_factory=dict)
    room_users: dict[str, set[str]] = dataclasses.field(default_factory=dict)
    user_rooms: dict[str, set[str]] = dataclasses.field(default_factory=dict)


# ----------------------------------------------------------------------------- commands


@dataclasses.dataclass(frozen=True, slots=True)
class Connect:
    """A connection of ``user`` is authenticated; its user is in ``rooms``. ``ready`` runs
    once the registry has applied it (the connection reads its catch-up after that)."""

    conn: ConnId
    user: str
    outbox: Any
    on_overflow: Callable[[], None]
    rooms: frozenset[str]
    ready: Callable[[], None]


@dataclasses.dataclass(frozen=True, slots=True)
class Disconnect:
    conn: ConnId


@dataclasses.dataclass(frozen=True, slots=True)
class Join:
    """``user`` is now a member of ``room``; ``announce`` (if any) goes to the room after."""

    user: str
    room: str
    announce: bytes | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Leave:
    """``user`` left ``room``; ``announce`` (if any) goes to the room first, leaver included."""

    user: str
    room: str
    announce: bytes | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class PublishMany:
    """Committed messages, in seq order per room: one command for a whole commit batch, so
    that the committer crosses into the registry once per batch, not once per message."""

    deliveries: tuple[Delivery, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Broadcast:
    """A frame for every connection in any of ``rooms``, except those of ``exclude``."""

    rooms: frozenset[str]
    data: bytes
    exclude: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class BroadcastPresence:
    """A presence frame about ``user`` for everyone online who shares a room with them, and
    for the users in ``also`` (those who have ``user`` as a contact); never twice."""

    user: str
    data: bytes
    also: frozenset[str] = frozenset()


@dataclasses.dataclass(frozen=True, slots=True)
class ToUser:
    """A frame for every connection of ``user`` but ``exclude`` (the one that caused it)."""

    user: str
    data: bytes
    exclude: ConnId | None = None


Command = (Connect | Disconnect | Join | Leave | PublishMany | Broadcast
           | BroadcastPresence | ToUser)


# ----------------------------------------------------------------------------- effects


@dataclasses.dataclass(frozen=True, slots=True)
class Deliver:
    conns: tuple[ConnId, ...]
    item: OutboxItem


@dataclasses.dataclass(frozen=True, slots=True)
class Call:
    fn: Callable[[], None]


Effect = Deliver | Call


def _conns_of(state: RegistryState, users: Iterable[str], exclude: str | None = None
              ) -> tuple[ConnId, ...]:
    found: list[ConnId] = []
    for user in users:
        if user != exclude:
            found.extend(state.user_conns.get(user, ()))
    return tuple(found)


def _add(state: RegistryState, user: str, room: str) -> None:
    state.room_users.setdefault(room, set()).add(user)
    state.user_rooms.setdefault(user, set()).add(room)


def _remove(state: RegistryState, user: str, room: str) -> None:
    users = state.room_users.get(room)
    if users is not None:
        users.discard(user)
        if not users:
            del state.room_users[room]
    rooms = state.user_rooms.get(user)
    if rooms is not None:
        rooms.discard(room)


def apply(state: RegistryState, command: Command) -> list[Effect]:
    """Apply one command to the state; return what must be delivered or called."""
    match command:
        case Connect(conn, user, outbox, on_overflow, rooms, ready):
            state.conns[conn] = Member(user, outbox, on_overflow)
            state.user_conns.setdefault(user, set()).add(conn)
            for room in rooms:
                _add(state, user, room)
            return [Call(ready)]
        case Disconnect(conn):
            member = state.conns.pop(conn, None)
            if member is None:
                return []
            conns = state.user_conns[member.user]
            conns.discard(conn)
            if not conns:
                del state.user_conns[member.user]
                for room in list(state.user_rooms.pop(member.user, ())):
                    _remove(state, member.user, room)
            return []
        case Join(user, room, announce):
            if user in state.user_conns:
                _add(state, user, room)
            if announce is None:
                return []
            return [Deliver(_conns_of(state, state.room_users.get(room, ())), Notice(announce))]
        case Leave(user, room, announce):
            effects: list[Effect] = []
            if announce is not None:
                effects.append(
                    Deliver(_conns_of(state, state.room_users.get(room, set()) | {user}),
                            Notice(announce))
                )
            _remove(state, user, room)
            return effects
        case PublishMany(deliveries):
            effects = []
            for delivery in deliveries:
                members = state.room_users.get(delivery.room)
                if members:
                    effects.append(Deliver(_conns_of(state, members), delivery))
            return effects
        case Broadcast(rooms, data, exclude):
            audience: set[str] = set()
            for room in rooms:
                audience |= state.room_users.get(room, set())
            return [Deliver(_conns_of(state, audience, exclude), Notice(data))]
        case BroadcastPresence(user, data, also):
            audience = set(also)
            for room in state.user_rooms.get(user, ()):
                audience |= state.room_users.get(room, set())
            return [Deliver(_conns_of(state, audience, exclude=user), Notice(data))]
        case ToUser(user, data, exclude):
            targets = tuple(c for c in state.user_conns.get(user, ()) if c != exclude)
            return [Deliver(targets, Notice(data))]
    raise TypeError(f"not a registry command: {command!r}")


class RoomRegistry:
    """The actor: a task that applies commands from its inbox and performs the effects.

    Args:
        inbox_size: how many commands may wait; senders wait when it is full.
        on_delivered: called with the number of message deliveries made (for metrics).
    """

    def __init__(self, inbox_size: int = 4096,
                 on_delivered: Callable[[int], None] | None = None,
                 on_dropped: Callable[[], None] | None = None) -> None:
        self.state = RegistryState()
        self._send, self._receive = trio.open_memory_channel[Command](inbox_size)
        self._on_delivered = on_delivered
        self._on_dropped = on_dropped

    async def send(self, command: Command) -> None:
        """Queue a command; waits only while the inbox is full."""
        await self._send.send(command)

    def has_members(self, room: str) -> bool:
        """Whether anyone online here is in ``room`` (a snapshot, like :meth:`is_member`)."""
        return room in self.state.room_users

    def is_member(self, user: str, room: str) -> bool:
        """Whether online ``user`` is in ``room``, as of the commands applied so far. A read
        of the actor's state, for checks that can do with a snapshot (typing)."""
        return user in self.state.room_users.get(room, ())

    async def connect(self, command: Connect) -> None:
        """Queue a Connect and wait until the registry has applied it."""
        applied = trio.Event()
        await self.send(dataclasses.replace(command, ready=_chain(command.ready, applied.set)))
        await applied.wait()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        task_status.started()
        async with self._receive:
            async for command in self._receive:
                for effect in apply(self.state, command):
                    self._perform(effect)

    def _perform(self, effect: Effect) -> None:
        if isinstance(effect, Call):
            effect.fn()
            return
        delivered = 0
        for conn in effect.conns:
            member = self.state.conns.get(conn)
            if member is None or member.dead:
                continue
            try:
                member.outbox.send_nowait(effect.item)
                delivered += 1
            except trio.WouldBlock:
                # The slow-consumer policy: this connection is not reading; it is closed
                # rather than let anyone wait for it or let its queue grow without bound.
                member.dead = True
                member.on_overflow()
                if self._on_dropped is not None:
                    self._on_dropped()
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                member.dead = True
        if delivered and isinstance(effect.item, Delivery) and self._on_delivered:
            self._on_delivered(delivered)


def _chain(first: Callable[[], None], second: Callable[[], None]) -> Callable[[], None]:
    def both() -> None:
        first()
        second()

    return both
