"""The presence tracker: who is online, away or offline, decided once per user, not once per
connection, and across every node sharing the database.

A user has connections from the opening of their first, on any node, to the closing of their
last. While they have, they are ``online`` if any of their connections is in use (active),
``away`` when every one of them says its person stopped using it (``idle``: the page after
five minutes without input, the terminal after ``--idle-after``); without, ``offline``. A
connection starts active (or idle, if its ``hello`` says so) and reports only the changes,
so that idleness costs a request per change of a device's use, never per message. Their
``presence`` frames go to everyone who shares a room with them (the registry
knows who) and to the users connected here who have them as a contact (their *watchers*).

The tracker is an actor like the room registry: :func:`apply` is pure and returns effects, and
the loop in :class:`PresenceTracker` turns them into registry commands. Connection lifecycle
reaches the registry *through* the tracker when a connection closes (``Offline`` carries the
registry's ``Disconnect``), so that the ``offline`` frame is fanned out while the registry still
knows the user's rooms. The tracker only ever waits on the registry, never the other way
round, so the two cannot deadlock.

Several nodes. The tracker counts this node's connections per user (``conns``, the idle
ones in ``idle``) and, from the other nodes' notices (chatd.cluster), the nodes where each user
has connections and whether all of those are idle (``remote``, migration 0027).
Every node announces to its own connections, and only when the user's status *everywhere*
changes: a second connection on another node, or the last one closing here while another
node still has one, announces nothing. What crosses to the other nodes is this node's own
transitions only (:class:`Publish`: a user's first connection here, their last, and between
the two the change from some connection active here to all idle and back), never a frame
per connection, per ``idle`` request or per message. A node that stops or dies takes
its users with it (:class:`NodeDown`); a node listening again after a loss reads the whole picture
(:class:`Snapshot`), and only the differences are announced.

The announcer. The second task of :class:`PresenceTracker` hands the announcements and the
registry's ``Disconnect`` commands to the registry, in the tracker's order, a batch at a time
(:data:`ANNOUNCE_BATCH`). For each batch it first reads, in one statement
(``Storage.presence_audience``), who has the batch's users as a contact, and the rooms of
those online only elsewhere (``remote=True``: not in this node's registry, which therefore
does not know their rooms). The registry delivers to the watchers connected here and drops
the others. So a user's contacts are never kept in memory, nor read at their hello beyond
the page it shows (chatd.actions.session): the cost of a status change is one row per user
having that user as a contact, paid at their transitions only, never per message or per
someone else's hello.
A slow database delays the frames but never the tracker itself; one that fails a lookup is
logged, and the batch goes to room mates only (those online only elsewhere: to nobody).

The announcer also carries what a user changes of how others see them, their profile
(:class:`Tell`, chatd.actions.profile): the same audience as their status, read the same
way, in the same batches, and their own connections here. The user may have no connection
here (a change over HTTP, or made on another node): their rooms are always read with the
watchers. So a profile costs at its change one row per watcher and per room, never
anything per message or per hello.

Why nobody misses a change of a contact's status (C below). A status read (:meth:`statuses`:
``welcome``, ``add_contact``, ``contacts``, ``who``) reads the tracker's state as applied so
far; every change applied after it is announced after it, and its watchers are looked up
after it was applied, since the announcer reads only what the tracker loop already sent.
- A hello: the connection is in the registry (``Connect``) before :meth:`online` returns,
  which is before the status read; a change of C after that read is looked up later still,
  finds the user (their contact row is old) and is delivered, held until the welcome is out.
- ``add_contact``: the contact row is committed, then C's status is read. A change of C is
  applied either before that read (the read has it) or after it, and then its lookup starts
  after the commit and sees the new row. At worst a change is in both (a repeated status).
  The reply is queued as soon as the status is read, so every frame about a later change
  follows it.
- ``remove_contact``: the row is gone before the reply; a change applied after it is looked
  up after, and does not reach the user (unless they share a room). A lookup that started
  before the removal may still deliver one last frame.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence

import trio

from chatd.protocol import PresenceChanged, frame
from chatd.rooms import BroadcastPresence, Disconnect, RoomRegistry, ToUser
from chatd.storage import PresenceAudience, StorageUnavailable

__all__ = [
    "ANNOUNCE_BATCH",
    "AWAY",
    "OFFLINE",
    "ONLINE",
    "Announce",
    "Idle",
    "NodeDown",
    "Offline",
    "Online",
    "PresenceState",
    "PresenceTracker",
    "Publish",
    "Remote",
    "Snapshot",
    "Tell",
    "apply",
]

log = logging.getLogger(__name__)

ConnId = Hashable


#: A user's status, as ``presence``, ``who``, ``contacts`` and ``welcome`` say it.
ONLINE, AWAY, OFFLINE = "online", "away", "offline"


@dataclasses.dataclass(slots=True)
class PresenceState:
    conns: dict[str, set[ConnId]] = dataclasses.field(default_factory=dict)
    #: user -> their connections here that said they are idle (a subset of ``conns``)
    idle: dict[str, set[ConnId]] = dataclasses.field(default_factory=dict)
    #: user -> the other nodes where they have a connection, each with whether all of the
    #: user's connections there are idle; and the reverse index
    remote: dict[str, dict[str, bool]] = dataclasses.field(default_factory=dict)
    nodes: dict[str, set[str]] = dataclasses.field(default_factory=dict)
    #: how many times a user went offline everywhere, so far: a mark taken at a moment
    #: (:meth:`left_since`)
    departures: int = 0
    #: user -> the value of ``departures`` their going offline made (users offline now only)
    left: dict[str, int] = dataclasses.field(default_factory=dict)

    def is_online(self, user: str) -> bool:
        """Whether the user has a connection anywhere (away or not): no push for them."""
        return user in self.conns or user in self.remote

    def left_since(self, user: str, mark: int) -> bool:
        """Whether the user is offline now but was online when ``departures`` was ``mark``
        (the pusher's question about a message committed then: they had it live)."""
        return self.left.get(user, 0) > mark

    def online(self) -> set[str]:
        """Every user with a connection anywhere (away or not)."""
        return set(self.conns) | set(self.remote)

    def here(self, user: str) -> bool | None:
        """This node's part of the user's status: None without a connection here, else
        whether all of their connections here are idle (what :class:`Publish` tells)."""
        conns = self.conns.get(user)
        if not conns:
            return None
        return len(self.idle.get(user, ())) == len(conns)

    def status(self, user: str) -> str:
        """``online`` while any connection of the user, on any node, is active; ``away``
        while they have connections and all are idle; ``offline`` without."""
        here = self.here(user)
        if here is False or not all(self.remote.get(user, {}).values()):
            return ONLINE
        return AWAY if here is not None or user in self.remote else OFFLINE

    def active(self) -> set[str]:
        """Every user ``online`` (not away): whom ``@here`` covers."""
        users = {u for u in self.conns if self.here(u) is False}
        return users | {u for u, nodes in self.remote.items() if not all(nodes.values())}


@dataclasses.dataclass(frozen=True, slots=True)
class Online:
    """A connection of ``user`` is authenticated (and already connected in the registry);
    ``done`` is called once it is applied. ``idle``: it starts idle (a page opened in a
    background tab)."""

    user: str
    conn: ConnId
    done: Callable[[], None] | None = None
    idle: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Idle:
    """A connection of ``user`` says its person stopped using it (``idle``) or is back;
    a repeat, or a connection not (or no longer) online, changes nothing."""

    user: str
    conn: ConnId
    idle: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Offline:
    """A connection of ``user`` closed."""

    user: str
    conn: ConnId


@dataclasses.dataclass(frozen=True, slots=True)
class Remote:
    """Another ``node`` says: ``online`` users have a connection there now, some active;
    ``idle`` ones have connections there, all idle; ``offline`` ones none; with ``reset``,
    its users are exactly ``online`` and ``idle``."""

    node: str
    online: tuple[str, ...] = ()
    offline: tuple[str, ...] = ()
    reset: bool = False
    idle: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class NodeDown:
    """Another ``node`` stopped or was found dead: none of its connections is left."""

    node: str


@dataclasses.dataclass(frozen=True, slots=True)
class Snapshot:
    """The users with a connection on every other node, as read from storage (node ->
    users), and those of them whose connections there are all idle (``idle``, node ->
    users): replaces what the notices said, which may have missed some (the listener was
    down)."""

    nodes: dict[str, frozenset[str]]
    idle: dict[str, frozenset[str]] = dataclasses.field(default_factory=dict)


Command = Online | Offline | Idle | Remote | NodeDown | Snapshot


@dataclasses.dataclass(frozen=True, slots=True)
class Tell:
    """Hand ``data``, a frame about ``user`` (their ``profile``), to their connections here
    and to everyone here who hears of their presence. Not a command of :func:`apply` (no
    state changes): the tracker queues it, in order, with the announcements."""

    user: str
    data: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class Announce:
    """Effect: tell everyone who shares a room with ``user``, and their watchers, their new
    ``status``. ``remote``: the user has no connection here (the registry does not know
    their rooms)."""

    user: str
    status: str
    remote: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Publish:
    """Effect: tell the other nodes that ``user`` has a connection here now (``online``), or
    no more; and whether all of their connections here are ``idle``."""

    user: str
    online: bool
    idle: bool = False


Effect = Announce | Publish


def _set_remote(state: PresenceState, node: str, user: str, idle: bool | None) -> None:
    """Record the user's connections on ``node``: none (None), all idle, or some active."""
    if idle is not None:
        state.remote.setdefault(user, {})[node] = idle
        state.nodes.setdefault(node, set()).add(user)
        return
    nodes = state.remote.get(user)
    if nodes is not None:
        nodes.pop(node, None)
        if not nodes:
            del state.remote[user]
    users = state.nodes.get(node)
    if users is not None:
        users.discard(user)
        if not users:
            del state.nodes[node]


def _changes(state: PresenceState, touched: Iterable[str], change: Callable[[], None], *,
             remote: bool) -> list[Effect]:
    """Run ``change``, then publish the touched users whose part here changed (only a
    command of this node's connections can change it) and announce those whose status
    everywhere changed."""
    users = sorted(set(touched))
    was = {user: (state.here(user), state.status(user)) for user in users}
    change()
    effects: list[Effect] = []
    for user in users:
        here, status = state.here(user), state.status(user)
        if here != was[user][0]:
            effects.append(Publish(user, here is not None, bool(here)))
        if status != was[user][1]:
            effects.append(Announce(user, status, remote=remote))
            if status == OFFLINE:
                state.departures += 1
                state.left[user] = state.departures
            else:
                state.left.pop(user, None)
    return effects


def _open(state: PresenceState, user: str, conn: ConnId, idle: bool) -> None:
    state.conns.setdefault(user, set()).add(conn)
    _mark_idle(state, user, conn, idle)


def _mark_idle(state: PresenceState, user: str, conn: ConnId, idle: bool) -> None:
    if idle:
        state.idle.setdefault(user, set()).add(conn)
        return
    idle_conns = state.idle.get(user)
    if idle_conns is not None:
        idle_conns.discard(conn)
        if not idle_conns:
            del state.idle[user]


def _close(state: PresenceState, user: str, conn: ConnId) -> None:
    _mark_idle(state, user, conn, False)
    remaining = state.conns[user]
    remaining.discard(conn)
    if not remaining:
        del state.conns[user]


def apply(state: PresenceState, command: Command) -> list[Effect]:
    """Count the user's connections here, the idle ones, and the nodes they have
    connections on; announce only a change of their status everywhere, and publish only a
    change of this node's part (none, all idle, some active)."""
    match command:
        case Online(user, conn, _, idle):
            if conn in state.conns.get(user, ()):
                return []
            return _changes(state, [user], lambda: _open(state, user, conn, idle),
                            remote=False)
        case Offline(user, conn):
            if conn not in state.conns.get(user, ()):
                return []
            return _changes(state, [user], lambda: _close(state, user, conn), remote=False)
        case Idle(user, conn, idle):
            if conn not in state.conns.get(user, ()):
                return []
            return _changes(state, [user], lambda: _mark_idle(state, user, conn, idle),
                            remote=False)
        case Remote(node, online, offline, reset, idle_users):
            had = set(state.nodes.get(node, ())) if reset else set()

            def change() -> None:
                for user in had:
                    _set_remote(state, node, user, None)
                for user in offline:
                    _set_remote(state, node, user, None)
                for user in online:
                    _set_remote(state, node, user, False)
                for user in idle_users:
                    _set_remote(state, node, user, True)

            return _changes(state, [*had, *online, *offline, *idle_users], change,
                            remote=True)
        case NodeDown(node):
            users = set(state.nodes.get(node, ()))

            def gone() -> None:
                for user in users:
                    _set_remote(state, node, user, None)

            return _changes(state, users, gone, remote=True)
        case Snapshot(nodes, idle_nodes):
            old = {(n, u, idle) for u, where in state.remote.items()
                   for n, idle in where.items()}
            new = {(n, u, u in idle_nodes.get(n, ())) for n, users in nodes.items()
                   for u in users}

            def replace() -> None:
                for n, u, _ in old - new:
                    _set_remote(state, n, u, None)
                for n, u, idle in new - old:
                    _set_remote(state, n, u, idle)

            return _changes(state, [u for _, u, _ in old ^ new], replace, remote=True)
    raise TypeError(f"not a presence command: {command!r}")


#: What the announcer hands to the registry, in the tracker's order.
_Outgoing = Announce | Disconnect | Tell

#: Announcements whose audience the announcer reads with one storage statement.
ANNOUNCE_BATCH = 512

#: Reads the audience of a batch (storage's ``presence_audience``): the users announced,
#: and those of them whose rooms are wanted.
AudienceReader = Callable[[Sequence[str], Sequence[str]], Awaitable[PresenceAudience]]

_NOBODY = PresenceAudience(watchers={}, rooms={})


class PresenceTracker:
    """The actor around :func:`apply`; it sends its announcements through the registry.

    Args:
        audience: reads who has the announced users as a contact, and the rooms of users
            online only elsewhere (storage's ``presence_audience``); without it, each
            announcement goes to the room mates the registry knows only.
        on_publish: told each of this node's transitions (:class:`Publish`), for the other
            nodes; must not block.
    """

    def __init__(self, registry: RoomRegistry, inbox_size: int = 4096, *,
                 audience: AudienceReader | None = None,
                 on_publish: Callable[[Publish], None] | None = None) -> None:
        self.state = PresenceState()
        self._registry = registry
        self._audience = audience
        self._on_publish = on_publish
        self._send, self._receive = trio.open_memory_channel[Command | Tell](inbox_size)
        self._out_send, self._out_receive = trio.open_memory_channel[_Outgoing](inbox_size)

    async def online(self, user: str, conn: ConnId, *, idle: bool = False) -> None:
        """Mark a connection open (``idle``: its person is not using it yet) and wait until
        the tracker has applied it, so that a status read afterwards (:meth:`statuses`) is
        followed by every later change (the module's docstring says why)."""
        applied = trio.Event()
        await self._send.send(Online(user, conn, applied.set, idle))
        await applied.wait()

    async def idle(self, user: str, conn: ConnId, idle: bool) -> None:
        """A connection's person stopped using it (``idle``), or is back."""
        await self._send.send(Idle(user, conn, idle))

    async def remote(self, command: Remote | NodeDown | Snapshot) -> None:
        """Apply what another node said (or storage, for a :class:`Snapshot`)."""
        await self._send.send(command)

    def statuses(self, users: Iterable[str]) -> list[dict[str, str]]:
        """``{"user", "status"}`` (``online``, ``away`` or ``offline``) for each user, in
        order, as of the commands applied so far: the shape of ``who``, ``contacts`` and
        ``welcome``. A read of the actor's state: later changes follow as ``presence``
        frames, in order."""
        return [{"user": u, "status": self.state.status(u)} for u in users]

    def local_users(self) -> list[str]:
        """The users with a connection on this node (a snapshot of the actor's state)."""
        return list(self.state.conns)

    async def tell(self, user: str, data: bytes) -> None:
        """Hand ``data`` (one frame about ``user``) to their connections here and to
        everyone here who would hear of their presence: room mates and watchers, read from
        storage by the announcer (the module's docstring)."""
        await self._send.send(Tell(user, data))

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
                    if isinstance(command, Tell):
                        await self._out_send.send(command)
                        continue
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
                        command.done()

    async def _announce(self) -> None:
        """Hand the announcements and disconnections to the registry in the tracker's order,
        reading first the audience of a batch of them: who has each as a contact, and the
        rooms of those online only elsewhere."""
        async with self._out_receive:
            async for first in self._out_receive:
                batch = [first]
                while len(batch) < ANNOUNCE_BATCH:
                    try:
                        batch.append(self._out_receive.receive_nowait())
                    except trio.WouldBlock:
                        break
                audience = await self._read_audience(
                    [o for o in batch if isinstance(o, Announce | Tell)])
                for item in batch:
                    if isinstance(item, Disconnect):
                        await self._registry.send(item)
                        continue
                    if isinstance(item, Tell):
                        await self._registry.send(ToUser(item.user, item.data))
                        await self._registry.send(BroadcastPresence(
                            item.user, item.data,
                            also=audience.watchers.get(item.user, frozenset()),
                            rooms=audience.rooms.get(item.user, frozenset())
                            if audience is not _NOBODY else None))
                        continue
                    data = frame(PresenceChanged(user=item.user, status=item.status))
                    await self._registry.send(BroadcastPresence(
                        item.user, data, also=audience.watchers.get(item.user, frozenset()),
                        rooms=audience.rooms.get(item.user, frozenset()) if item.remote
                        else None))

    async def _read_audience(self, announced: list[Announce | Tell]) -> PresenceAudience:
        if not announced or self._audience is None:
            return _NOBODY
        users = sorted({a.user for a in announced})
        # a Tell's user may have no connection here: the registry may not know their rooms
        remote = sorted({a.user for a in announced if isinstance(a, Tell) or a.remote})
        try:
            return await self._audience(users, remote)
        except StorageUnavailable as exc:
            log.warning("cannot read who has %d users as a contact (their presence goes to "
                        "the room mates this node knows only): %s", len(users), exc)
            return _NOBODY
