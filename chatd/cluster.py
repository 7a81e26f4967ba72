"""Several nodes, one database: other nodes' messages and membership changes reach this
node's connections.

Theory of operation. Every commit of messages bumps the room's ``last_seq``, and a trigger
turns the bump into a PostgreSQL NOTIFY (migration 0003) that every node LISTENs to. The
:class:`Relay` takes the notices of *other* nodes' commits (its own are published by the
committer already), reads the new messages of rooms that have members on this node, and
publishes them to the room registry like local ones. A notice carries the new messages
themselves when they fit in it (migration 0019: new messages, not changes, while another
node is alive, under PostgreSQL's 8,000 bytes), each exactly as a read would give it; then
nothing is read. The rooms a notice could not carry are read as before.

What that costs the node, per notice (each wakes trio's thread, which runs the storage's
asyncio loop too): the listener parses a payload, building the carried messages only of rooms
with members here (``wanted``: the registry's rooms), and hands all of the payload's notices
on in one call; the relay publishes what they carry as one command to the registry, from
that call itself while its own task has nothing queued (so that it never overtakes a
membership notice still being applied), else through the task; an idle registry applies
that command in the call too (:meth:`~chatd.rooms.RoomRegistry.apply_now`), without waking
its task.

Local and relayed messages of one room can reach the registry out of seq order (a local
commit of seq 6 may be published before the notice of another node's seq 5 is relayed).
Connections do not depend on that order: a connection's writer that sees seq 7 after seq 5
holds the room, takes seq 6 as the relay publishes it here (or, past a short wait, reads it
from the database), and writes them in order (see :meth:`chatd.connection.Connection._repair`
and :mod:`chatd.recent`); duplicates are dropped by seq. The same repair covers notices lost
while the listening connection was down.

Memberships travel the same way (a second trigger): when another node adds a user to a room
(a join, an invitation, a first direct message), the registry here subscribes that user's
connections on this node, and announces ``joined``/``left`` to the room's members here.
A notice says what was true when it was committed, and a local removal may have come since (a
kick on this node after another node's join, whose notice arrives late): so a ``joined``
notice is checked against storage, with the registry's epoch read before, exactly as a local
``join`` is, and a ``left`` notice is followed by the same check as a local ``kick`` (a join
here may have come after the removal it tells of; chatd.rooms, "Membership").
A removal by a moderator (a kick, a ban) names them (migration 0014), so that ``left`` says
``by`` here as it does on the node that made it; the entry of the log (``kicked``,
``banned``) comes first, with the commit's notice.
Revocations too (migration 0004): when a token is revoked anywhere (a log-out on another node,
a new password set with ``chatd user passwd``, a deactivated account), the sessions it opened
on this node end.
And notification levels (migration 0012): a level set on another node reaches the user's
connections here as a ``notify`` event, and a pause of notifications (migration 0023) as a
``dnd`` event, and a reminder of a saved message another node claimed (migration 0030) as a
``reminder`` event, the message read here then. A profile set on another node (migration
0025) goes to the presence tracker, whose announcer tells it here as that node's does
there (chatd.actions.profile). A custom emoji added or removed on another node comes as a
user event addressed to :data:`chatd.storage.EVERYONE`, for every connection here
(chatd.actions.emoji). And deleted rooms (migration 0015): the room's members here get
``room_deleted`` and the room leaves the registry.

And presence and typing (migration 0017). Each node keeps a row in ``nodes`` and touches it
every ``[cluster] heartbeat_interval`` seconds (:class:`Nodes`); each sweeps away the rows not
touched for ``[cluster] node_timeout`` seconds (database time), which removes the dead node's
users from ``node_presence`` and sends a ``down`` notice: every other node's tracker then
takes that node's users offline. So a node killed with SIGKILL has its users offline
everywhere within ``node_timeout`` plus one heartbeat interval. A node records in
``node_presence``, and publishes, only its own transitions (a user's first connection there,
their last, and between the two, migration 0027, the change from some connection active
there to all idle and back: ``away``), batched: whatever queued while the previous
write ran goes in the next, as one transaction with one notice. Typing crosses the same
way, at most once per :data:`TYPING_RELAY_INTERVAL` per user and room (the page sends one
every 3 s while its user types, and shows it for 5 s), and not at all while no other node
is alive.

Membership notices can be lost the same ways (a lost listening connection, a full inbox):
each time the listener is in place again, and after a dropped membership or deletion notice,
the relay checks every subscription here against the database and ends those it no longer
has (a kick, a ban, a deleted room), with ``left``, so a removed member never keeps getting a
room's messages. Lost additions need no check: the member's next ``hello`` or ``join``
subscribes them.

The tracker's picture of the other nodes comes from their notices, which a lost listening
connection (or a full inbox here) misses: each time the listener is in place again, and after a
dropped presence notice, the relay reads the whole picture from ``node_presence`` (a
:class:`~chatd.presence.Snapshot`), then applies the notices that follow. Applying a notice
older than the snapshot after it is harmless: for each node and user, the last notice applied
is the last one sent, so the picture ends right (it may announce a change and its undoing).

A node that was only stalled past ``node_timeout`` (its row swept, its users announced
offline) finds its row gone at its next heartbeat, puts it back and publishes all its users
again, with ``reset``. A node restarted after a crash is a new node (a new name): the old
one's users stay online until it is swept, within the bound, and never after.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterable, Mapping

import trio

from chatd.config import ClusterConfig
from chatd.outbox import Delivery
from chatd.presence import NodeDown, PresenceTracker, Publish, Remote, Snapshot
from chatd.protocol import (
    DndChanged,
    MemberJoined,
    MemberLeft,
    NotifyChanged,
    RoomDeleted,
    UserTyping,
    frame,
    is_conversation,
)
from chatd.reminders import reminder_event
from chatd.rooms import Broadcast, CloseRoom, PublishMany, RoomRegistry, ToEveryone, ToUser
from chatd.storage import (
    EVERYONE,
    Change,
    CommitNotice,
    DndNotice,
    ListeningNotice,
    MembershipNotice,
    Message,
    NotifyNotice,
    PresenceNotice,
    ProfileNotice,
    ReminderNotice,
    RevocationNotice,
    RoomDeletedNotice,
    Storage,
    StorageUnavailable,
    TargetsNotice,
    UserEventNotice,
)
from chatd.views import message_event, profile_event

__all__ = ["TYPING_RELAY_INTERVAL", "Nodes", "Relay"]

#: What waits in the relay's inbox: the notices of one payload, or the entries of carried
#: commits ready for the registry (which was busy when they came).
_Item = tuple[Change, ...] | PublishMany

log = logging.getLogger(__name__)

#: Payloads (or commands) the relay's task takes at once when they queued up: their ranges
#: are one read, their entries one command to the registry.
GATHER_MAX = 64


class Relay:
    """Publishes other nodes' commits and membership changes to this node's registry.

    Args:
        on_revoked: ends this node's sessions of tokens revoked elsewhere.
        on_everyone: told every frame another node tells every user (a user group changed:
            this node's group names follow, chatd.group_names).
        on_user_event: told every frame another node tells one user's connections, with
            the user (a draft changed: this node's index of drafts follows, chatd.drafts);
            it must not block.
        inbox_size: notices that may wait; past that they are dropped (and the connections
            repair the gaps), so that a slow database never backs up the notice callback.
        on_relayed: told, for the commits relayed (one call for a payload's carried ones,
            one per read), where their entries came from (``"notice"``: carried by
            it; ``"read"``: read back from storage) and how many there were.
        on_targets: by table, what to tell when rows of outgoing targets (webhooks, push
            subscriptions) were added or removed, on any node (migration 0021); all of
            them, each time the listener is in place again.
    """

    def __init__(self, storage: Storage, registry: RoomRegistry,
                 on_revoked: Callable[[RevocationNotice], None] | None = None,
                 on_everyone: Callable[[bytes], None] | None = None,
                 inbox_size: int = 10_000, *, presence: PresenceTracker | None = None,
                 on_user_event: Callable[[str, bytes], None] | None = None,
                 on_relayed: Callable[[str, int], None] = lambda _source, _count: None,
                 on_targets: Mapping[str, Callable[[], None]] | None = None,
                 ) -> None:
        self._storage = storage
        self._on_targets = on_targets or {}
        self._on_relayed = on_relayed
        self._registry = registry
        self._on_revoked = on_revoked
        self._on_everyone = on_everyone
        self._on_user_event = on_user_event
        self._presence = presence
        self._send, self._receive = trio.open_memory_channel[_Item](inbox_size)
        #: Items in the inbox or being handled by :meth:`run` (see :meth:`_on_batch`).
        self._queued = 0
        self.dropped = 0
        self._presence_stale = False
        self._members_stale = False

    def _on_change(self, notice: Change) -> None:
        self._on_batch((notice,))

    def _on_batch(self, notices: tuple[Change, ...]) -> None:
        """The notices of one payload, from the listener's callback (on trio's thread,
        outside any task of this relay: nothing here may wait, or raise).

        The common case, another node's commit whose entries the notice carries, is
        published from here, with no hop through this relay's task: one command to the
        registry for the whole payload. Only while nothing is queued or being handled here
        (``_queued``), so that it never overtakes an earlier notice (a membership the
        task is still applying); else, and for anything else, the task takes it in order."""
        if isinstance(notices[0], ListeningNotice):
            self._registry.heads.hear()  # (alone in its payload)
        item: _Item = notices
        if not self._queued and not self._stale() and all(map(self._carried, notices)):
            try:
                command = self._publish_carried(notices)
            except Exception:  # never into the listener: the task tries again
                log.exception("cannot publish another node's commit here")
            else:
                if command is None:
                    return
                try:
                    # An idle registry applies it here and now (no wake of its task);
                    # a busy one gets it queued behind what it has.
                    if not self._registry.apply_now(command):
                        self._registry.send_nowait(command)
                    return
                except trio.WouldBlock:
                    item = command  # the registry is busy: the task waits for it
        try:
            self._send.send_nowait(item)
            self._queued += 1
        except trio.WouldBlock:
            self.dropped += 1
            self._registry.heads.missed()
            if isinstance(item, PublishMany):
                return  # entries only: the connections repair the gaps
            for notice in item:
                if isinstance(notice, PresenceNotice | ListeningNotice):
                    self._presence_stale = True
                if isinstance(notice, MembershipNotice | RoomDeletedNotice | ListeningNotice):
                    self._members_stale = True

    def _carried(self, notice: Change) -> bool:
        """Whether ``notice`` is a commit whose entries, if anyone here needs them, it
        carries (nothing to read)."""
        return isinstance(notice, CommitNotice) and (
            notice.entries is not None or not self._registry.has_members(notice.room))

    def _publish_carried(self, notices: Iterable[Change]) -> PublishMany | None:
        """One command that publishes the entries these commit notices carry (see
        :meth:`_carried`), for the rooms with members here; None when there are none."""
        deliveries: list[Delivery] = []
        for notice in notices:
            assert isinstance(notice, CommitNotice)
            self._relayed(notice, notice.entries or (), deliveries)
        if deliveries:
            self._on_relayed("notice", len(deliveries))
            return PublishMany(tuple(deliveries))
        return None

    def _relayed(self, notice: CommitNotice, messages: Iterable[Message],
                 deliveries: list[Delivery]) -> int:
        """Add ``messages`` (of ``notice``'s range) to ``deliveries``, if anyone here is in
        their room; how many were."""
        self._foreign(notice)
        if not self._registry.has_members(notice.room):
            return 0  # nobody here to tell; they read it on join or resume
        before = len(deliveries)
        deliveries.extend(Delivery(m.room, m.seq, frame(message_event(m))) for m in messages)
        return len(deliveries) - before

    def _foreign(self, notice: CommitNotice) -> None:
        """Another node committed: its entries may come out of order (a node that has just
        started, not seen by this one's sweep yet), and a hello here must know the room's
        log moved, whoever is in it here (chatd.rooms.Heads)."""
        self._registry.recent.share(True)
        self._registry.heads.saw(notice.room, notice.last_seq)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(functools.partial(
                self._storage.follow_changes, self._on_change, on_batch=self._on_batch,
                wanted=self._registry.has_members, on_lost=self._registry.heads.deaf))
            task_status.started()
            async for item in self._receive:
                # With what queued behind it (a busy node's commits, while this one was
                # busy too): their ranges are read at once, so that the relay's work per
                # entry falls as it falls behind, as the committer's does, instead of it
                # falling further behind.
                items = [item]
                while len(items) < GATHER_MAX:
                    try:
                        items.append(self._receive.receive_nowait())
                    except trio.WouldBlock:
                        break
                try:
                    notices: list[Change] = []
                    for taken in items:
                        if isinstance(taken, PublishMany):
                            if notices:
                                await self._handle(tuple(notices))
                                notices = []
                            await self._registry.send(taken)
                        else:
                            notices += taken
                    if notices:
                        await self._handle(tuple(notices))
                finally:
                    self._queued -= len(items)

    async def _handle(self, notices: tuple[Change, ...]) -> None:
        """The notices of one payload or more, in order; the entries of consecutive commit
        notices go to the registry as one command, what they do not carry read at once."""
        deliveries: list[Delivery] = []
        index = 0
        while index < len(notices):
            notice = notices[index]
            if isinstance(notice, CommitNotice) and not self._stale():
                # This commit notice and those right after it (one commit's rooms, or
                # several commits'): what they do not carry is read at once.
                commits = [notice]
                index += 1
                while index < len(notices) and isinstance(follower := notices[index],
                                                          CommitNotice):
                    commits.append(follower)
                    index += 1
                await self._commits(commits, deliveries)
                continue
            if deliveries:
                await self._registry.send(PublishMany(tuple(deliveries)))
                deliveries = []
            await self._notice(notice, deliveries)
            index += 1
        if deliveries:
            await self._registry.send(PublishMany(tuple(deliveries)))

    def _stale(self) -> bool:
        """Whether notices may have been lost, and storage is to be read again first."""
        return self._presence_stale or self._members_stale

    async def _commits(self, notices: list[CommitNotice], deliveries: list[Delivery]) -> None:
        """Add the entries of other nodes' commits to ``deliveries``, in order: those their
        notices carry, and the others' read, all in one read. (A commit of many rooms does
        not fit in its notices, whose rooms past the first few are ranges: a read per room
        fell behind a busy node's commits, and its members' messages came ever later.)"""
        reading = [index for index, notice in enumerate(notices) if notice.entries is None
                   and self._registry.has_members(notice.room)]
        read: dict[int, list[Message]] = {}
        if reading:
            try:
                ranges = await self._storage.messages_ranges(
                    [(notices[i].room, notices[i].after, notices[i].last_seq) for i in reading])
            except StorageUnavailable as exc:
                # Not relayed: the connections repair the gaps from the next entries.
                log.warning("cannot relay %d commits of other nodes here: %s",
                            len(reading), exc)
            else:
                read = dict(zip(reading, ranges, strict=True))
                self._on_relayed("read", sum(map(len, ranges)))
        carried = 0
        for index, notice in enumerate(notices):
            if notice.entries is not None:
                carried += self._relayed(notice, notice.entries, deliveries)
            elif index in read:
                self._relayed(notice, read[index], deliveries)
            else:
                self._foreign(notice)  # (nobody here to tell, or not read)
        if carried:
            self._on_relayed("notice", carried)

    async def _notice(self, notice: Change, deliveries: list[Delivery]) -> None:
        """One notice, in order with every one before it; after reading storage again
        if notices may have been lost. A commit's entries go to ``deliveries``."""
        if isinstance(notice, ListeningNotice) or self._presence_stale:
            await self._read_presence()
        if isinstance(notice, ListeningNotice) or self._members_stale:
            await self._read_memberships()
        if isinstance(notice, CommitNotice):
            await self._commits([notice], deliveries)
        elif isinstance(notice, PresenceNotice):
            await self._presence_notice(notice)
        elif isinstance(notice, ListeningNotice):
            for touched in self._on_targets.values():
                touched()  # rows may have come and gone unheard
        elif isinstance(notice, TargetsNotice):
            if notice.table in self._on_targets:
                self._on_targets[notice.table]()
        elif isinstance(notice, MembershipNotice):
            await self._membership(notice)
        elif isinstance(notice, RevocationNotice):
            if self._on_revoked is not None:
                self._on_revoked(notice)
        elif isinstance(notice, RoomDeletedNotice):
            await self._registry.send(CloseRoom(notice.room, frame(RoomDeleted(
                room=notice.room, by=notice.by))))
        elif isinstance(notice, NotifyNotice):
            await self._registry.send(ToUser(notice.user, frame(NotifyChanged(
                room=notice.room, notify=notice.notify))))
        elif isinstance(notice, UserEventNotice):
            if notice.user == EVERYONE:  # (a custom emoji or a user group changed)
                if self._on_everyone is not None:
                    self._on_everyone(notice.data)
                await self._registry.send(ToEveryone(notice.data))
            else:
                if self._on_user_event is not None:
                    self._on_user_event(notice.user, notice.data)
                await self._registry.send(ToUser(notice.user, notice.data))
        elif isinstance(notice, ReminderNotice):
            await self._reminder(notice)
        elif isinstance(notice, DndNotice):
            await self._registry.send(ToUser(notice.user, frame(DndChanged(
                until=notice.until))))
        elif isinstance(notice, ProfileNotice):
            data = frame(profile_event(notice.profile))
            if self._presence is not None:
                await self._presence.tell(notice.user, data)
            else:
                await self._registry.send(ToUser(notice.user, data))

    async def _reminder(self, notice: ReminderNotice) -> None:
        """Another node claimed a reminder of a user who may have connections here: they
        are told, with the message as it is now (read only then)."""
        if not self._registry.is_online(notice.user):
            return
        try:
            message = await self._storage.reminded_message(notice.user, notice.msg_id)
        except StorageUnavailable as exc:
            log.warning("cannot read the message of %s's reminder: %s", notice.user, exc)
            return
        if message is not None:
            await self._registry.send(ToUser(notice.user, reminder_event(
                message, notice.remind_at)))

    async def _read_presence(self) -> None:
        """Replace the picture of the other nodes' users with storage's (see the module
        docstring); on failure, try again with the next notice."""
        if self._presence is None:
            return
        self._presence_stale = True
        try:
            nodes = await self._storage.presence_elsewhere()
        except StorageUnavailable as exc:
            log.warning("cannot read who is online on the other nodes: %s", exc)
            return
        self._presence_stale = False
        await self._presence.remote(Snapshot(
            {node: frozenset(users) for node, users in nodes.items()},
            idle={node: frozenset(u for u, idle in users.items() if idle)
                  for node, users in nodes.items()}))

    async def _presence_notice(self, notice: PresenceNotice) -> None:
        """Another node's users came or went, or it is down; its members typed."""
        if self._presence is not None:
            if notice.down:
                await self._presence.remote(NodeDown(notice.node))
            elif notice.online or notice.offline or notice.reset or notice.idle:
                await self._presence.remote(Remote(notice.node, notice.online,
                                                   notice.offline, notice.reset,
                                                   notice.idle))
        for room, user in notice.typing:
            if self._registry.has_members(room):
                await self._registry.send(Broadcast(
                    frozenset((room,)), frame(UserTyping(room=room, user=user)), exclude=user))

    async def _read_memberships(self) -> None:
        """After membership notices may have been lost (the listener was away, or the inbox
        here was full): end the subscriptions here that storage no longer has (a kick, a ban,
        a deleted room), as their notices would have, with ``left``. The registry's picture
        is read before storage's, so a join applied meanwhile is not taken for a removal (and
        :meth:`RoomRegistry.unsubscribe` asks storage again all the same). On failure, the
        next notice tries again. Additions lost are no harm here: a member's next ``hello``
        or ``join`` subscribes them, and their gap is repaired."""
        self._members_stale = True
        here = {(room, user) for room, user in self._registry.subscriptions()
                if not is_conversation(room)}  # conversations are never left
        if not here:
            self._members_stale = False
            return
        try:
            stored = await self._storage.memberships_of(sorted({user for _, user in here}))
        except StorageUnavailable as exc:
            log.warning("cannot check the memberships of this node's users: %s", exc)
            return
        self._members_stale = False
        stored_keys = {(room, user.lower()) for room, user in stored}
        for room, user in sorted(here):
            if (room, user.lower()) in stored_keys:
                continue
            log.info("%s is no longer in %s (a notice was lost): unsubscribed", user, room)
            still_member = functools.partial(self._storage.is_member, room, user)
            try:
                await self._registry.unsubscribe(user, room, frame(MemberLeft(
                    room=room, user=user)), still_member)
            except StorageUnavailable as exc:
                log.warning("cannot check %s's membership of %s: %s", user, room, exc)
                self._members_stale = True

    async def _membership(self, notice: MembershipNotice) -> None:
        """Another node changed who is in a room: the registry here follows, so that the
        room's messages reach the user's connections on this node too."""
        announce = None
        if not is_conversation(notice.room):
            event = (MemberJoined(room=notice.room, user=notice.user) if notice.joined
                     else MemberLeft(room=notice.room, user=notice.user, by=notice.by))
            announce = frame(event)
        still_member = functools.partial(self._storage.is_member, notice.room, notice.user)
        try:
            if not notice.joined:
                await self._registry.unsubscribe(notice.user, notice.room, announce,
                                                 still_member)
                return
            since = self._registry.epoch
            if await still_member():
                await self._registry.subscribe(notice.user, notice.room, since, announce,
                                               still_member)
        except StorageUnavailable as exc:
            # Their next session reads their rooms; meanwhile they miss this one's messages
            # here, which is the safe side of the race.
            log.warning("cannot check %s's membership of %s: %s", notice.user, notice.room,
                        exc)


#: Seconds between two relays of one user's typing in one room to the other nodes: under the
#: page's 3 s between two ``typing`` requests (so none is lost) and its 5 s of display.
TYPING_RELAY_INTERVAL = 2.5
#: Seconds between attempts at publishing presence while the database refuses.
PUBLISH_RETRY = 1.0
#: Seconds a stopping node gives itself to say it is gone.
LEAVE_TIMEOUT = 2.0


class Nodes:
    """This node among the others: its heartbeat, the sweep of dead nodes, and the
    publication of its users' presence and typing (see the module docstring).

    ``on_others`` is told, after each sweep, how many other nodes are alive.
    The tracker hands it transitions with :meth:`publish` and the actions typing with
    :meth:`typing`; neither blocks: a writer task takes everything queued since its last
    write and records it in one transaction (the latest transition of each user wins).
    """

    def __init__(self, storage: Storage, presence: PresenceTracker,
                 config: ClusterConfig, *,
                 on_others: Callable[[int], None] = lambda _count: None) -> None:
        self._storage = storage
        self._on_others = on_others
        self._presence = presence
        self._config = config
        #: user -> this node's part: None (no connection here), or whether all are idle
        self._pending: dict[str, bool | None] = {}
        self._typing: dict[tuple[str, str], None] = {}
        self._typed_at: dict[tuple[str, str], float] = {}
        self._reset = False
        self._wake = trio.Event()
        #: Other nodes alive at the last sweep (typing is not published while there are none).
        self.others = 0

    def publish(self, effect: Publish) -> None:
        """Queue a transition of this node's (from the tracker); never blocks."""
        self._pending[effect.user] = effect.idle if effect.online else None
        self._wake.set()

    def typing(self, room: str, user: str) -> None:
        """Queue ``user`` typing in ``room`` for the other nodes (a member: checked by the
        caller), unless relayed less than :data:`TYPING_RELAY_INTERVAL` ago, or no other
        node is alive (as of the last sweep) nor has anyone online; never blocks."""
        if not self.others and not self._presence.state.nodes:
            return
        now = trio.current_time()
        key = (room, user)
        if now - self._typed_at.get(key, -TYPING_RELAY_INTERVAL) < TYPING_RELAY_INTERVAL:
            return
        self._typed_at[key] = now
        self._typing[key] = None
        self._wake.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        """Register this node (its first heartbeat and sweep), then keep both going and
        write what is queued; on the way out, say that this node is gone."""
        await self._beat(first=True)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._heartbeats)
                task_status.started()
                await self._write_forever()
        finally:
            with (trio.CancelScope(shield=True), trio.move_on_after(LEAVE_TIMEOUT),
                  contextlib.suppress(StorageUnavailable)):
                await self._storage.leave_cluster()

    async def _heartbeats(self) -> None:
        while True:
            await trio.sleep(self._config.heartbeat_interval)
            try:
                await self._beat(first=False)
            except StorageUnavailable as exc:
                log.warning("cannot tell the other nodes this one is alive: %s", exc)

    async def _beat(self, *, first: bool) -> None:
        if await self._storage.heartbeat() and not first:
            log.warning("the other nodes took this one for dead (no heartbeat for "
                        "[cluster] node_timeout); publishing its users again")
            self._reset = True
            self._wake.set()
        seen = await self._storage.sweep_nodes(self._config.node_timeout)
        self.others = seen.others
        self._on_others(seen.others)
        for node in seen.dead:
            log.warning("node %s sent no heartbeat for %.0f s: its users are offline",
                        node, self._config.node_timeout)
        now = trio.current_time()
        for key, at in list(self._typed_at.items()):
            if now - at >= TYPING_RELAY_INTERVAL:
                del self._typed_at[key]

    async def _write_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            reset, self._reset = self._reset, False
            if reset:
                # Everyone here now: the tracker's state, read after the queue was taken.
                self._pending.clear()
                pending: dict[str, bool | None] = {u: bool(self._presence.state.here(u))
                           for u in self._presence.local_users()}
            else:
                pending, self._pending = self._pending, {}
            typing, self._typing = list(self._typing), {}
            online = sorted(u for u, idle in pending.items() if idle is False)
            idle = sorted(u for u, idle in pending.items() if idle is True)
            offline = sorted(u for u, idle in pending.items() if idle is None)
            try:
                await self._storage.publish_presence(online, offline, typing, reset=reset,
                                                     idle=idle)
            except StorageUnavailable as exc:
                log.warning("cannot publish presence to the other nodes (trying again): %s",
                            exc)
                # Put back what no later transition replaced; typing is stale by then.
                self._reset = self._reset or reset
                for user, on in pending.items():
                    self._pending.setdefault(user, on)
                self._wake.set()
                await trio.sleep(PUBLISH_RETRY)
