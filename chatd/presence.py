"""The presence tracker: who is online, decided once per user, not once per connection,
and across every node sharing the database.

A user is online from the opening of their first connection, on any node, to the closing of
their last. Their ``presence`` frames go to everyone who shares a room with them (the registry
knows who) and to the online users who have them as a contact (the tracker knows: it keeps, for
each online user here, whom they watch, and the reverse index).

The tracker is an actor like the room registry: :func:`apply` is pure and returns effects, and
the loop in :class:`PresenceTracker` turns them into registry commands. Connection lifecycle
reaches the registry *through* the tracker when a connection closes (``Offline`` carries the
registry's ``Disconnect``), so that the ``offline`` frame is fanned out while the registry still
knows the user's rooms. The tracker only ever waits on the registry, never the other way
round, so the two cannot deadlock.

Several nodes. The tracker counts this node's connections per user (``conns``) and, from
the other nodes' notices (chatd.cluster), the nodes where each user is online (``remote``).
Every node announces to its own connections, and only when the user's status *everywhere*
changes: a second connection on another node, or the last one closing here while another
node still has one, announces nothing. What crosses to the other nodes is this node's own
transitions only (:class:`Publish`: a user's first connection here, their last), never a
frame per connection or per message. A node that stops or dies takes its users with it
(:class:`NodeDown`); a node listening again after a loss reads the whole picture
(:class:`Snapshot`), and only the differences are announced.

A user online only elsewhere is not in this node's registry, which therefore does not know
their rooms: their announcements carry ``remote=True``, and the announcer (the second task of
:class:`PresenceTracker`, which keeps the order of every announcement and ``Disconnect``)
reads their rooms from storage before handing the frame to the registry. So a slow database
delays those frames but never the tracker itself.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Collection, Hashable, Iterable, Sequence

import trio

from chatd.protocol import PresenceChanged, frame
from chatd.rooms import BroadcastPresence, Disconnect, RoomRegistry
from chatd.storage import StorageUnavailable

__all__ = [
    "Announce",
    "NodeDown",
    "Offline",
    "Online",
    "PresenceState",
    "PresenceTracker",
    "Publish",
    "Remote",
    "Snapshot",
    "Watch",
    "WatchAll",
    "apply",
]

log = logging.getLogger(__name__)

ConnId = Hashable


@dataclasses.dataclass(slots=True)
class PresenceState:
    conns: dict[str, set[ConnId]] = dataclasses.field(default_factory=dict)
    #: online user -> the contacts they watch
    watching: dict[str, set[str]] = dataclasses.field(default_factory=dict)
    #: user -> the online users watching them
    watchers: dict[str, set[str]] = dataclasses.field(default_factory=dict)
    #: user -> the other nodes where they have a connection, and the reverse index
    remote: dict[str, set[str]] = dataclasses.field(default_factory=dict)
    nodes: dict[str, set[str]] = dataclasses.field(default_factory=dict)

    def is_online(self, user: str) -> bool:
        return user in self.conns or user in self.remote

    def online(self) -> set[str]:
        """Every user online anywhere."""
        return set(self.conns) | set(self.remote)


@dataclasses.dataclass(frozen=True, slots=True)
class Online:
    """A connection of ``user`` is authenticated (and already connected in the registry);
    ``contacts`` are the users whose presence they want (each once; read only for the user's
    first connection here, so a hello hands over the list it has, never a copy). ``done``
    is told whether it was their first (then, when ``contacts`` was only the first of
    them, the rest follows in a :class:`WatchAll`)."""

    user: str
    conn: ConnId
    contacts: Collection[str] = ()
    done: Callable[[bool], None] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class WatchAll:
    """Online ``user``'s contacts in full, after an :class:`Online` that had only the first
    of them (a hello that expected another connection of theirs here to watch them)."""

    user: str
    contacts: Collection[str]
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


@dataclasses.dataclass(frozen=True, slots=True)
class Remote:
    """Another ``node`` says: ``online`` users have a connection there now, ``offline`` ones
    no more; with ``reset``, its users are exactly ``online``."""

    node: str
    online: tuple[str, ...] = ()
    offline: tuple[str, ...] = ()
    reset: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class NodeDown:
    """Another ``node`` stopped or was found dead: none of its connections is left."""

    node: str


@dataclasses.dataclass(frozen=True, slots=True)
class Snapshot:
    """The users online on every other node, as read from storage (node -> users): replaces
    what the notices said, which may have missed some (the listener was down)."""

    nodes: dict[str, frozenset[str]]


Command = Online | Offline | Watch | WatchAll | Remote | NodeDown | Snapshot


@dataclasses.dataclass(frozen=True, slots=True)
class Announce:
    """Effect: tell everyone who shares a room with ``user``, and ``watchers``, their new
    ``status``. ``remote``: the user has no connection here (the registry does not know
    their rooms)."""

    user: str
    status: str
    watchers: frozenset[str] = frozenset()
    remote: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Publish:
    """Effect: tell the other nodes that ``user`` has a connection here now (``online``), or
    no more."""

    user: str
    online: bool


Effect = Announce | Publish


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


def _set_remote(state: PresenceState, node: str, user: str, online: bool) -> None:
    if online:
        state.remote.setdefault(user, set()).add(node)
        state.nodes.setdefault(node, set()).add(user)
        return
    nodes = state.remote.get(user)
    if nodes is not None:
        nodes.discard(node)
        if not nodes:
            del state.remote[user]
    users = state.nodes.get(node)
    if users is not None:
        users.discard(user)
        if not users:
            del state.nodes[node]


def _remote_change(state: PresenceState, touched: Iterable[str],
                   change: Callable[[], None]) -> list[Effect]:
    """Run ``change`` (of remote state only) and announce the touched users whose status
    everywhere changed."""
    users = sorted(set(touched))
    was = {user: state.is_online(user) for user in users}
    change()
    effects: list[Effect] = []
    for user in users:
        now = state.is_online(user)
        if now != was[user]:
            effects.append(Announce(user, "online" if now else "offline",
                                    frozenset(state.watchers.get(user, ())), remote=True))
    return effects


def apply(state: PresenceState, command: Command) -> list[Effect]:
    """Count the user's connections here and the nodes they are online on; announce only a
    change of their status everywhere, and publish only this node's first opening and last
    closing."""
    match command:
        case Online(user, conn, contacts, _):
            conns = state.conns.setdefault(user, set())
            first = not conns
            conns.add(conn)
            if not first:
                return []
            for contact in contacts:
                _watch(state, user, contact)
            effects: list[Effect] = [Publish(user, True)]
            if user not in state.remote:
                effects.append(Announce(user, "online",
                                        frozenset(state.watchers.get(user, ()))))
            return effects
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
            effects = [Publish(user, False)]
            if user not in state.remote:
                effects.append(Announce(user, "offline",
                                        frozenset(state.watchers.get(user, ()))))
            return effects
        case Watch(user, contact, watch, _):
            if user in state.conns:
                (_watch if watch else _unwatch)(state, user, contact)
            return []
        case WatchAll(user, contacts, _):
            if user in state.conns:
                for contact in contacts:
                    _watch(state, user, contact)
            return []
        case Remote(node, online, offline, reset):
            had = set(state.nodes.get(node, ())) if reset else set()

            def change() -> None:
                for user in had:
                    _set_remote(state, node, user, False)
                for user in offline:
                    _set_remote(state, node, user, False)
                for user in online:
                    _set_remote(state, node, user, True)

            return _remote_change(state, [*had, *online, *offline], change)
        case NodeDown(node):
            users = set(state.nodes.get(node, ()))

            def gone() -> None:
                for user in users:
                    _set_remote(state, node, user, False)

            return _remote_change(state, users, gone)
        case Snapshot(nodes):
            old = {(n, u) for n, users in state.nodes.items() for u in users}
            new = {(n, u) for n, users in nodes.items() for u in users}

            def replace() -> None:
                for n, u in old - new:
                    _set_remote(state, n, u, False)
                for n, u in new - old:
                    _set_remote(state, n, u, True)

            return _remote_change(state, [u for _, u in old ^ new], replace)
    raise TypeError(f"not a presence command: {command!r}")


#: What the announcer hands to the registry, in the tracker's order.
_Outgoing = Announce | Disconnect

#: Remote announcements the announcer resolves with one storage read.
ANNOUNCE_BATCH = 512


class PresenceTracker:
    """The actor around :func:`apply`; it sends its announcements through the registry.

    Args:
        rooms_of: reads the rooms of users online only elsewhere (storage's
            ``rooms_of_users``); without it (one node), they are announced to their
            watchers only.
        on_publish: told each of this node's transitions (:class:`Publish`), for the other
            nodes; must not block.
    """

    def __init__(self, registry: RoomRegistry, inbox_size: int = 4096, *,
                 rooms_of: Callable[[Sequence[str]], Awaitable[dict[str, frozenset[str]]]]
                 | None = None,
                 on_publish: Callable[[Publish], None] | None = None) -> None:
        self.state = PresenceState()
        self._registry = registry
        self._rooms_of = rooms_of
        self._on_publish = on_publish
        self._send, self._receive = trio.open_memory_channel[Command](inbox_size)
        self._out_send, self._out_receive = trio.open_memory_channel[_Outgoing](inbox_size)

    async def online(self, user: str, conn: ConnId, contacts: Collection[str]) -> bool:
        """Mark a connection open and wait until the tracker has applied it, so that a
        status read afterwards (:meth:`statuses`) is followed by every later change.
        Returns whether it was the user's first connection here (``contacts`` was read)."""
        applied = trio.Event()
        first: list[bool] = []

        def done(was_first: bool) -> None:
            first.append(was_first)
            applied.set()

        await self._send.send(Online(user, conn, contacts, done))
        await applied.wait()
        return first[0]

    async def watch_all(self, user: str, contacts: Collection[str]) -> None:
        """Send the presence of every one of ``contacts`` to online ``user`` (whose first
        connection here handed over only the first of them); waits until applied."""
        applied = trio.Event()
        await self._send.send(WatchAll(user, contacts, applied.set))
        await applied.wait()

    def watches(self, user: str) -> bool:
        """Whether ``user`` has a connection here, so that the tracker watches their
        contacts already (a snapshot: their last connection may close meanwhile, and then
        :meth:`online` says the next one is the first)."""
        return user in self.state.conns

    async def watch(self, user: str, contact: str, watch: bool) -> None:
        """Start (or stop) sending ``contact``'s presence to ``user``; waits until applied."""
        applied = trio.Event()
        await self._send.send(Watch(user, contact, watch, applied.set))
        await applied.wait()

    async def remote(self, command: Remote | NodeDown | Snapshot) -> None:
        """Apply what another node said (or storage, for a :class:`Snapshot`)."""
        await self._send.send(command)

    def statuses(self, users: Iterable[str]) -> list[dict[str, str]]:
        """``{"user", "status"}`` (``online`` or ``offline``) for each user, in order, as of
        the commands applied so far: the shape of ``who``, ``contacts`` and ``welcome``. A
        read of the actor's state: later changes follow as ``presence`` frames, in order."""
        return [{"user": u, "status": "online" if self.state.is_online(u) else "offline"}
                for u in users]

    def local_users(self) -> list[str]:
        """The users with a connection on this node (a snapshot of the actor's state)."""
        return list(self.state.conns)

    async def offline(self, user: str, conn: ConnId) -> None:
        """Mark a connection closed; its registry ``Disconnect`` follows the announcement."""
        await self._send.send(Offline(user, conn))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._announce)
            task_status.started()
            async with self._receive, self._out_send:
                async for command in self._receive:
                    effects = apply(self.state, command)
                    for effect in effects:
                        if isinstance(effect, Publish):
                            if self._on_publish is not None:
                                self._on_publish(effect)
                        else:
                            await self._out_send.send(effect)
                    if isinstance(command, Offline):
                        await self._out_send.send(Disconnect(command.conn))
                    elif isinstance(command, Online) and command.done is not None:
                        command.done(any(isinstance(e, Publish) for e in effects))
                    elif isinstance(command, Watch | WatchAll) and command.done is not None:
                        command.done()

    async def _announce(self) -> None:
        """Hand the announcements and disconnections to the registry in the tracker's order,
        reading first the rooms of the users online only elsewhere (a batch at a time)."""
        async with self._out_receive:
            async for first in self._out_receive:
                batch = [first]
                while len(batch) < ANNOUNCE_BATCH:
                    try:
                        batch.append(self._out_receive.receive_nowait())
                    except trio.WouldBlock:
                        break
                rooms = await self._remote_rooms(
                    [o.user for o in batch if isinstance(o, Announce) and o.remote])
                for item in batch:
                    if isinstance(item, Disconnect):
                        await self._registry.send(item)
                        continue
                    data = frame(PresenceChanged(user=item.user, status=item.status))
                    await self._registry.send(BroadcastPresence(
                        item.user, data, also=item.watchers,
                        rooms=rooms.get(item.user, frozenset()) if item.remote else None))

    async def _remote_rooms(self, users: list[str]) -> dict[str, frozenset[str]]:
        if not users or self._rooms_of is None:
            return {}
        try:
            return await self._rooms_of(sorted(set(users)))
        except StorageUnavailable as exc:
            log.warning("cannot read the rooms of users online elsewhere (their presence "
                        "goes to their contacts only): %s", exc)
            return {}
