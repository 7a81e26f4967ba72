"""The room registry: which online users are in which rooms, and fan-out to their connections.

Theory of operation. The registry is an actor: one task owns :class:`RegistryState` and is the
only code that changes it; everything else sends it frozen command records over a bounded
memory channel. (One exception, for speed, keeps the same order: when nothing is queued for
the task nor being applied, the committer and the relay apply their ``PublishMany`` in their
own task, as the registry's would next; see :meth:`RoomRegistry.apply_now`.) The logic is
the pure function :func:`apply`, which returns *effects* (frames to deliver to connections,
callbacks to run) instead of doing I/O, so tests call it without trio.
The actor loop around it (:class:`RoomRegistry`) performs the effects with ``send_nowait``: a
connection whose outbox is full is marked dead and told to go (the slow-consumer policy), and
nobody else waits for it.

Ordering. All commands arrive through one FIFO channel (or are applied at once when it is
empty and idle, which is the same order). The committer publishes each room's
messages in seq order after they are committed; a connection subscribes (``Connect`` or
``Join``) *before* it reads a room's catch-up from the database. So every message is either
committed before that read (and is in it) or published after the subscription (and is
delivered live); the connection's writer drops the overlap by seq (see :mod:`chatd.delivery`).

Membership. The registry follows storage, which decides who is in a room; an operation changes
storage first and tells the registry after, so the two messages of a race can arrive in either
order. A stale addition would be the worse: ``join`` reads "a member" from storage, a ``kick``
deletes the membership and queues its ``Leave``, and only then does the ``join`` queue its
``Join``, which would subscribe a non-member for good. So every ``Join`` and ``Connect``
carries ``since``, the registry's :attr:`RegistryState.epoch` (a count of the ``Leave``
commands applied) read *before* the storage read it is based on, and the registry drops a room
from it when a ``Leave`` of that user and room was applied after ``since`` (:func:`overtaken`).

Why no interleaving then leaves a non-member subscribed, past the moment their removal is
applied: a removal that storage orders after the adder's read queues its ``Leave`` after that
read, hence after ``since`` was taken; either that ``Leave`` is applied before the ``Join``
(which is then dropped) or after it (and unsubscribes). A removal ordered before the read is
seen by the read. The same holds for ``hello``'s ``Connect`` and for another node's ``joined``
notice (chatd.cluster checks it against storage, epoch first).

Why no interleaving leaves a member unsubscribed: a dropped ``Join`` may belong to a user who
is a member again (a removal before the read whose ``Leave`` came late), so the adder is told
(``done``) and asks storage again with a fresh epoch (:meth:`RoomRegistry.subscribe`; up to
:data:`SUBSCRIBE_ATTEMPTS` times, which only a storm of removals exhausts: a log line says so,
and the user's next ``hello`` subscribes them). And a
``Leave`` may be stale the other way (a removal ordered *before* an addition whose ``Join``
reached the registry first): so once a removal's ``Leave`` is applied, storage is asked again
and a member is subscribed back (:meth:`RoomRegistry.unsubscribe`). tests/test_rooms.py checks
both properties on every interleaving of adders and removers that hypothesis finds.

The registry remembers the last :data:`LEAVE_MEMORY` leaves only; a ``since`` older than those
counts as overtaken, which is safe (the adder re-checks). Conversations are never left, so
their ``Join``s carry no ``since``.

Changes since a read. A ``hello`` reads the user's rooms once, before its ``Connect``, and
does not read them again when nothing changed them meanwhile. Every membership change is told
to the registry (a ``Join`` or ``Leave`` after storage, another node's through its notice, a
``CloseRoom``), whether or not the user is online here, and so is every change of how a user
sees their rooms (a read marker moved, a notification level set: a ``ToUser``); the registry
counts them (:attr:`RegistryState.changes`) and remembers, for the last :data:`LEAVE_MEMORY`
of them, whose rooms they were. :func:`changed_since` answers whether any may have touched a
user's rooms after a count read before the read: when not, what the read said is what
``Connect`` subscribed, and any change told after the ``Connect`` is applied to the user's
connections as to any other's. What a read said of a room's log (its ``last_seq``, the
counts) holds unless an entry was published in between: :class:`Heads` tells.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from typing import Any, TypeVar

import trio

from chatd.outbox import Delivery, Notice, OutboxItem
from chatd.recent import RecentEntries

__all__ = [
    "HEADS_KEPT",
    "LEAVE_MEMORY",
    "SUBSCRIBE_ATTEMPTS",
    "Broadcast",
    "BroadcastEach",
    "BroadcastPresence",
    "Call",
    "CloseRoom",
    "Connect",
    "Deliver",
    "Disconnect",
    "FromMember",
    "Heads",
    "Join",
    "Leave",
    "Member",
    "PublishMany",
    "RegistryState",
    "RoomRegistry",
    "ToEveryone",
    "ToUser",
    "apply",
    "changed_since",
    "overtaken",
]

log = logging.getLogger(__name__)

ConnId = Hashable

#: Leaves remembered for :func:`overtaken` (a ``since`` older than these counts as overtaken).
LEAVE_MEMORY = 4096
#: Rooms whose last published seq :class:`Heads` keeps (the oldest forgotten first).
HEADS_KEPT = 100_000
#: Joins overtaken in a row before :meth:`RoomRegistry.subscribe` gives up: each needs a Leave
#: of the same user and room between a storage read and the registry, so more is a storm.
SUBSCRIBE_ATTEMPTS = 5


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
    # Leave commands applied so far, and the epoch of the last Leave of each (user, room)
    # among the last LEAVE_MEMORY of them (oldest first in ``leave_order``).
    epoch: int = 0
    last_left: dict[tuple[str, str], int] = dataclasses.field(default_factory=dict)
    leave_order: collections.deque[tuple[int, tuple[str, str]]] = dataclasses.field(
        default_factory=collections.deque)
    # The epoch at which each room was closed (deleted), for every user at once; as many as
    # LEAVE_MEMORY of them, oldest first (a ``since`` older than those counts as overtaken).
    closed: dict[str, int] = dataclasses.field(default_factory=dict)
    # Membership changes told so far (every Join, Leave and CloseRoom, applied or dropped),
    # the count at the last change of each user's rooms among the last LEAVE_MEMORY of them
    # (oldest first in ``change_order``), and the count at the last CloseRoom (every user's).
    changes: int = 0
    user_changed: dict[str, int] = dataclasses.field(default_factory=dict)
    change_order: collections.deque[tuple[int, str]] = dataclasses.field(
        default_factory=collections.deque)
    last_close: int = 0


# ----------------------------------------------------------------------------- commands


@dataclasses.dataclass(frozen=True, slots=True)
class Connect:
    """A connection of ``user`` is authenticated; its user is in ``rooms`` (as storage said
    after epoch ``since``: the rooms a later Leave overtook are left out). ``ready`` runs once
    the registry has applied it (the connection reads its catch-up after that)."""

    conn: ConnId
    user: str
    outbox: Any
    on_overflow: Callable[[], None]
    rooms: frozenset[str]
    ready: Callable[[], None]
    since: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Disconnect:
    conn: ConnId


@dataclasses.dataclass(frozen=True, slots=True)
class Join:
    """``user`` is now a member of ``room``; ``announce`` (if any) goes to the room after.

    ``since``: the epoch read before storage said so; the Join is dropped (nothing subscribed,
    nothing announced) if a Leave of this user and room was applied after it. ``done`` is told
    whether it was applied (None: nobody asks)."""

    user: str
    room: str
    announce: bytes | None = None
    since: int | None = None
    done: Callable[[bool], None] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Leave:
    """``user`` left ``room``; ``announce`` (if any) goes to the room first, leaver included."""

    user: str
    room: str
    announce: bytes | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class CloseRoom:
    """``room`` was deleted: ``data`` (its ``room_deleted``) goes to every connection in it,
    after everything published to it before, and then the room is gone from the registry
    (it counts as a Leave of every user, so that any Join read before the deletion is
    dropped)."""

    room: str
    data: bytes


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
class BroadcastEach:
    """Frames for several rooms at once, each ``(room, data)`` for every connection in that
    room, except those of ``exclude``: one command for a change that tells many rooms
    something different (a user's ``seen`` in each of their conversations). A connection in
    several of the rooms gets its frames in one outbox item, in the order given."""

    frames: tuple[tuple[str, bytes], ...]
    exclude: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class FromMember:
    """A frame from ``user`` for the other members of ``room`` (typing), sent only if ``user``
    is one as of the commands before it; ``done`` is told whether it was."""

    user: str
    room: str
    data: bytes
    done: Callable[[bool], None]


@dataclasses.dataclass(frozen=True, slots=True)
class BroadcastPresence:
    """A presence frame about ``user`` for everyone online who shares a room with them, and
    for the users in ``also`` (those who have ``user`` as a contact: those connected here;
    the others are skipped, as a room's members who are not); never twice.
    ``rooms``: the user's rooms, for a user online only on other nodes (None: as the
    registry knows them)."""

    user: str
    data: bytes
    also: frozenset[str] = frozenset()
    rooms: frozenset[str] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ToUser:
    """A frame for every connection of ``user`` but ``exclude`` (the one that caused it)."""

    user: str
    data: bytes
    exclude: ConnId | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ToEveryone:
    """A frame for every connection here, of every user: the rare server-wide events (a
    custom emoji added or removed)."""

    data: bytes


# ----------------------------------------------------------------------------- effects


@dataclasses.dataclass(frozen=True, slots=True)
class Deliver:
    conns: tuple[ConnId, ...]
    item: OutboxItem


@dataclasses.dataclass(frozen=True, slots=True)
class Call:
    fn: Callable[[], None]


Effect = Deliver | Call

#: What the registry takes. A :class:`Call` is a command too: its function runs once every
#: command queued before it is applied (:meth:`RoomRegistry.settled`).
Command = (Connect | Disconnect | Join | Leave | PublishMany | Broadcast | BroadcastEach
           | FromMember | BroadcastPresence | ToUser | ToEveryone | Call | CloseRoom)


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


def overtaken(state: RegistryState, user: str, room: str, since: int | None) -> bool:
    """Whether a Leave of ``user`` and ``room`` was applied after epoch ``since`` (or may
    have been: ``since`` is older than the leaves remembered). None: never overtaken."""
    if since is None:
        return False
    if since < state.epoch - LEAVE_MEMORY:
        return True
    return (state.last_left.get((user, room), -1) > since
            or state.closed.get(room, -1) > since)


def changed_since(state: RegistryState, user: str, mark: int) -> bool:
    """Whether a change of ``user``'s rooms or of their view of them (a Join, Leave or
    ToUser of theirs, any CloseRoom) was told after count ``mark`` (or may have been:
    ``mark`` is older than the changes remembered)."""
    if mark < state.changes - LEAVE_MEMORY:
        return True
    return state.user_changed.get(user, -1) > mark or state.last_close > mark


def _record_change(state: RegistryState, user: str | None) -> None:
    """Count a change of ``user``'s rooms (None: a room closed, everyone's)."""
    state.changes += 1
    if user is None:
        state.last_close = state.changes
        return
    _remember(state.user_changed, state.change_order, user, state.changes)


def _record_leave(state: RegistryState, user: str, room: str) -> None:
    state.epoch += 1
    _remember(state.last_left, state.leave_order, (user, room), state.epoch)


K = TypeVar("K", bound=Hashable)


def _remember(latest: dict[K, int], order: collections.deque[tuple[int, K]], key: K,
              at: int) -> None:
    """``key``'s latest count is ``at``; only the last :data:`LEAVE_MEMORY` are kept (the
    oldest forgotten first, unless a later one of the same key is still kept)."""
    latest[key] = at
    order.append((at, key))
    if len(order) > LEAVE_MEMORY:
        old_at, old = order.popleft()
        if latest.get(old) == old_at:
            del latest[old]


def apply(state: RegistryState, command: Command) -> list[Effect]:
    """Apply one command to the state; return what must be delivered or called."""
    match command:
        case Connect(conn, user, outbox, on_overflow, rooms, ready, since):
            state.conns[conn] = Member(user, outbox, on_overflow)
            state.user_conns.setdefault(user, set()).add(conn)
            for room in rooms:
                if not overtaken(state, user, room, since):
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
        case Join(user, room, announce, since, done):
            _record_change(state, user)
            effects: list[Effect] = []
            applied = not overtaken(state, user, room, since)
            if applied:
                if user in state.user_conns:
                    _add(state, user, room)
                if announce is not None:
                    effects.append(Deliver(_conns_of(state, state.room_users.get(room, ())),
                                           Notice(announce)))
            if done is not None:
                effects.append(Call(functools.partial(done, applied)))
            return effects
        case Leave(user, room, announce):
            _record_change(state, user)
            effects = []
            if announce is not None:
                effects.append(
                    Deliver(_conns_of(state, state.room_users.get(room, set()) | {user}),
                            Notice(announce))
                )
            _remove(state, user, room)
            _record_leave(state, user, room)
            return effects
        case CloseRoom(room, data):
            _record_change(state, None)
            users = state.room_users.get(room, set())
            effects = ([Deliver(_conns_of(state, users), Notice(data, forget=room))]
                       if users else [])
            for user in sorted(users):
                _remove(state, user, room)
                _record_leave(state, user, room)
            # Anyone's Join read before the deletion is dropped too, member then or not.
            state.epoch += 1
            state.closed.pop(room, None)
            state.closed[room] = state.epoch
            if len(state.closed) > LEAVE_MEMORY:
                del state.closed[next(iter(state.closed))]
            return effects
        case FromMember(user, room, data, done):
            in_room = state.room_users.get(room, set())
            if user not in in_room:
                return [Call(functools.partial(done, False))]
            return [Deliver(_conns_of(state, in_room, exclude=user), Notice(data)),
                    Call(functools.partial(done, True))]
        case Call():
            return [command]
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
        case BroadcastEach(frames, exclude):
            return _each(state, frames, exclude)
        case BroadcastPresence(user, data, also, rooms):
            audience = set(also)
            for room in state.user_rooms.get(user, ()) if rooms is None else rooms:
                audience |= state.room_users.get(room, set())
            return [Deliver(_conns_of(state, audience, exclude=user), Notice(data))]
        case ToUser(user, data, exclude):
            # A read marker moved or a level set: the user's view of their rooms changed.
            _record_change(state, user)
            targets = tuple(c for c in state.user_conns.get(user, ()) if c != exclude)
            return [Deliver(targets, Notice(data))]
        case ToEveryone(data):
            return [Deliver(tuple(state.conns), Notice(data))]
    raise TypeError(f"not a registry command: {command!r}")


def _each(state: RegistryState, frames: tuple[tuple[str, bytes], ...], exclude: str | None
          ) -> list[Effect]:
    """:class:`BroadcastEach`'s deliveries: each connection's frames joined in order, and
    the connections that get the same bytes in one :class:`Deliver`."""
    per_conn: dict[ConnId, list[bytes]] = {}
    for room, data in frames:
        for conn in _conns_of(state, state.room_users.get(room, ()), exclude):
            per_conn.setdefault(conn, []).append(data)
    alike: dict[bytes, list[ConnId]] = {}
    for conn, parts in per_conn.items():
        alike.setdefault(b"".join(parts), []).append(conn)
    return [Deliver(tuple(conns), Notice(data)) for data, conns in alike.items()]


class Heads:
    """The last seq published here of each room (every room, members here or not): what
    lets a ``hello`` take the rooms it read before its ``Connect`` as they are
    (chatd.actions.session). The registry's task records every ``PublishMany`` before
    applying it, and the relay every other node's commit it takes, members here or not (both
    on trio's thread). A hello reads :attr:`forgotten` and :attr:`hearing` before its read,
    and asks :meth:`moved` after its ``Connect``: a room published past what the read says,
    a room forgotten meanwhile (past :data:`HEADS_KEPT` rooms), or other nodes' commits
    that may have gone unheard, and the read is not trusted."""

    def __init__(self, most: int = HEADS_KEPT) -> None:
        self._most = most
        self._seqs: dict[str, int] = {}
        #: Rooms forgotten so far (a hello's read made before a forgetting is not trusted).
        self.forgotten = 0
        #: Whether every other node's commit reaches :meth:`saw`: None while the relay does
        #: not listen, else a number that changes each time it listens again or may have
        #: missed a notice. A hello's read is trusted only when this did not change (nor
        #: was None) from before the read to after the ``Connect``.
        self.hearing: int | None = None
        self._hearings = 0

    def hear(self) -> None:
        """The relay listens (again): every other node's commit from now on is told."""
        self._hearings += 1
        self.hearing = self._hearings

    def deaf(self) -> None:
        """The relay's listening connection is lost: other nodes' commits go unheard."""
        self.hearing = None

    def missed(self) -> None:
        """A notice was dropped (the relay's inbox was full): its commit went unheard."""
        if self.hearing is not None:
            self.hear()

    def saw(self, room: str, seq: int) -> None:
        """``room``'s entry ``seq`` was published here (or committed by another node)."""
        seqs = self._seqs
        if seq > seqs.get(room, 0):
            seqs[room] = seq
            if len(seqs) > self._most:
                del seqs[next(iter(seqs))]
                self.forgotten += 1

    def last(self, room: str) -> int | None:
        """The last seq of ``room`` published here, or None if none was (or it was
        forgotten)."""
        return self._seqs.get(room)

    def forget(self, room: str) -> None:
        """``room`` was deleted: a new room of that name starts again at seq 1 (a hello
        racing the deletion is told by the registry's change count)."""
        self._seqs.pop(room, None)

    def moved(self, last_seqs: Mapping[str, int]) -> bool:
        """Whether any of these rooms was published past the seq given for it."""
        seqs = self._seqs
        return any(seqs.get(room, 0) > seq for room, seq in last_seqs.items())


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
        #: What was published lately, for the connections' repairs (chatd.recent).
        self.recent = RecentEntries()
        #: The last seq published of each room, for the hellos (:class:`Heads`).
        self.heads = Heads()
        self._send, self._receive = trio.open_memory_channel[Command](inbox_size)
        self._on_delivered = on_delivered
        self._on_dropped = on_dropped
        self._touched: list[Any] = []  # outboxes queued to by the command being applied
        # Commands queued and not taken by the task yet (one handed straight to the waiting
        # task counts until it runs), whether one is being applied, and whether the task
        # waits for commands: what apply_now needs to know that nothing would be overtaken.
        self._queued = 0
        self._applying = False
        self._running = False

    async def send(self, command: Command) -> None:
        """Queue a command; waits only while the inbox is full."""
        self._queued += 1
        try:
            await self._send.send(command)
        except BaseException:
            self._queued -= 1
            raise

    def send_nowait(self, command: Command) -> None:
        """Queue a command now; raises trio.WouldBlock while the inbox is full."""
        self._send.send_nowait(command)
        self._queued += 1

    def apply_now(self, command: Command) -> bool:
        """Apply ``command`` in the caller's task, as the registry's task would, if nothing
        is queued before it (nor being applied); else do nothing and return False (the
        caller queues it with :meth:`send`).

        Why: at everyday load a commit's entries reach an idle registry one command at a
        time, and handing each to the registry's task costs a pass through trio's scheduler
        (a task switch, with cold caches at 100 sends/s) for nothing: the order is the same,
        since the task would take this command next anyway."""
        if self._queued or self._applying or not self._running:
            return False
        self._apply(command)
        return True

    def has_members(self, room: str) -> bool:
        """Whether anyone online here is in ``room`` (a snapshot, like :meth:`is_member`).
        Safe to call from another thread (the storage's listener): one ``in`` test of a dict,
        atomic in CPython."""
        return room in self.state.room_users

    def is_online(self, user: str) -> bool:
        """Whether ``user`` has a connection here, as of the commands applied so far (a
        snapshot, like :meth:`is_member`)."""
        return user in self.state.user_conns

    def is_member(self, user: str, room: str) -> bool:
        """Whether online ``user`` is in ``room``, as of the commands applied so far. A read
        of the actor's state, for checks that can do with a snapshot."""
        return user in self.state.room_users.get(room, ())

    @property
    def epoch(self) -> int:
        """The Leave commands applied so far: read it *before* the storage read that a
        ``Join`` or ``Connect`` is based on, and pass it as their ``since``."""
        return self.state.epoch

    @property
    def changes(self) -> int:
        """The membership changes told so far: read it *before* a storage read of a user's
        rooms, and ask :meth:`changed_since` after the ``Connect`` based on it."""
        return self.state.changes

    def changed_since(self, user: str, mark: int) -> bool:
        """Whether ``user``'s rooms may have changed after count ``mark``, as of the
        commands applied so far (:func:`changed_since`)."""
        return changed_since(self.state, user, mark)

    def subscriptions(self) -> set[tuple[str, str]]:
        """Every (room, user) subscribed here, as of the commands applied so far."""
        return {(room, user) for room, users in self.state.room_users.items()
                for user in users}

    def rooms_of(self, user: str) -> frozenset[str]:
        """The rooms online ``user`` is subscribed to, as of the commands applied so far."""
        return frozenset(self.state.user_rooms.get(user, ()))

    async def join(self, command: Join) -> bool:
        """Queue a Join and wait until it is applied; False: a later Leave overtook it."""
        return await self._ask(functools.partial(dataclasses.replace, command))

    async def subscribe(self, user: str, room: str, since: int, announce: bytes | None,
                        still_member: Callable[[], Awaitable[bool]]) -> bool:
        """Subscribe ``user``'s connections to ``room``, which storage said (after epoch
        ``since``) they are a member of; ``announce`` goes to the room when they are.

        When a Leave overtook the Join (it is dropped), ``still_member()`` asks storage again
        with a fresh epoch, and the Join is tried again while they are.

        Returns:
            True once subscribed; False when they are no longer a member (the removal came
            after the addition), or the Join kept being overtaken (a log line says so).
        """
        for _ in range(SUBSCRIBE_ATTEMPTS):
            if await self.join(Join(user, room, announce, since)):
                return True
            since = self.state.epoch
            if not await still_member():
                return False
        log.warning("%s's subscription to %s kept being overtaken by removals; gave up "
                    "(their next session subscribes them)", user, room)
        return False

    async def unsubscribe(self, user: str, room: str, announce: bytes | None,
                          still_member: Callable[[], Awaitable[bool]]) -> None:
        """Unsubscribe ``user`` from ``room``, which storage has just removed them from;
        ``announce`` goes to the room (them included) first.

        A Leave can be stale too: a removal stored *before* a join whose Join reached the
        registry first would unsubscribe a member. So once the Leave is applied, storage is
        asked again (epoch read first) and a member is subscribed back, as any addition is.
        A user with no connection here has nothing to restore (their next ``hello`` reads
        their rooms)."""
        await self.send(Leave(user, room, announce))
        await self.settled()
        if user not in self.state.user_conns:
            return
        since = self.state.epoch
        if await still_member():
            await self.subscribe(user, room, since, None, still_member)

    async def from_member(self, user: str, room: str, data: bytes) -> bool:
        """Send ``data`` to the other members of ``room`` if ``user`` is one, in order with
        every command queued before (a kick acknowledged before is seen); whether it was."""
        return await self._ask(functools.partial(FromMember, user, room, data))

    async def _ask(self, command_with: Callable[..., Command]) -> bool:
        """Queue ``command_with(done=...)`` and wait until the actor has answered it."""
        answer: list[bool] = []
        applied = trio.Event()

        def done(ok: bool) -> None:
            answer.append(ok)
            applied.set()

        await self.send(command_with(done=done))
        await applied.wait()
        return answer[0]

    async def settled(self) -> None:
        """Wait until every command queued before this call is applied."""
        applied = trio.Event()
        await self.send(Call(applied.set))
        await applied.wait()

    async def connect(self, command: Connect) -> None:
        """Queue a Connect and wait until the registry has applied it."""
        applied = trio.Event()
        await self.send(dataclasses.replace(command, ready=_chain(command.ready, applied.set)))
        await applied.wait()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        task_status.started()
        self._running = True
        try:
            async with self._receive:
                async for command in self._receive:
                    self._queued -= 1
                    self._apply(command)
        finally:
            self._running = False

    def _apply(self, command: Command) -> None:
        """Apply one command and perform its effects (never waits)."""
        self._applying = True
        try:
            if isinstance(command, PublishMany):
                saw = self.heads.saw
                for delivery in command.deliveries:
                    saw(delivery.room, delivery.seq)
                if self.recent.shared:
                    rooms = self.state.room_users
                    self.recent.published(d for d in command.deliveries if d.room in rooms)
            elif isinstance(command, CloseRoom):
                self.recent.forget(command.room)  # a new room of that name starts at 1
                self.heads.forget(command.room)
            for effect in apply(self.state, command):
                self._perform(effect)
        finally:
            self._applying = False
        # Written once the whole command is queued: a connection that gets several of its
        # entries (a batch's messages to one room) gets them in one write.
        touched, self._touched = self._touched, []
        for outbox in touched:
            outbox.flush()

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
                member.outbox.send_nowait(effect.item, wake=False)
                self._touched.append(member.outbox)
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
