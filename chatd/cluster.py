"""Several nodes, one database: other nodes' messages and membership changes reach this
node's connections.

Theory of operation. Every commit of messages bumps the room's ``last_seq``, and a trigger
turns the bump into a PostgreSQL NOTIFY (migration 0003) that every node LISTENs to. The
:class:`Relay` takes the notices of *other* nodes' commits (its own are published by the
committer already), reads the new messages of rooms that have members on this node, and
publishes them to the room registry like local ones.

Local and relayed messages of one room can reach the registry out of seq order (a local
commit of seq 6 may be published before the notice of another node's seq 5 is relayed).
Connections do not depend on that order: a connection's writer that sees seq 7 after seq 5
holds the room, fetches seq 6 from the database, and writes them in order (see
:meth:`chatd.connection.Connection._repair`); duplicates are dropped by seq. The same repair
covers notices lost while the listening connection was down.

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
connections here as a ``notify`` event. And deleted rooms (migration 0015): the room's members
here get ``room_deleted`` and the room leaves the registry.

Presence and typing are per node for now: a user online on another node shows as offline.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import trio

from chatd.outbox import Delivery
from chatd.protocol import MemberJoined, MemberLeft, NotifyChanged, RoomDeleted, frame, is_dm_room
from chatd.rooms import CloseRoom, PublishMany, RoomRegistry, ToUser
from chatd.storage import (
    Change,
    MembershipNotice,
    NotifyNotice,
    RevocationNotice,
    RoomDeletedNotice,
    Storage,
    StorageUnavailable,
)
from chatd.views import message_event

__all__ = ["Relay"]

log = logging.getLogger(__name__)


class Relay:
    """Publishes other nodes' commits and membership changes to this node's registry.

    Args:
        on_revoked: ends this node's sessions of tokens revoked elsewhere.
        inbox_size: notices that may wait; past that they are dropped (and the connections
            repair the gaps), so that a slow database never backs up the notice callback.
    """

    def __init__(self, storage: Storage, registry: RoomRegistry,
                 on_revoked: Callable[[RevocationNotice], None] | None = None,
                 inbox_size: int = 10_000) -> None:
        self._storage = storage
        self._registry = registry
        self._on_revoked = on_revoked
        self._send, self._receive = trio.open_memory_channel[Change](inbox_size)
        self.dropped = 0

    def _on_change(self, notice: Change) -> None:
        try:
            self._send.send_nowait(notice)
        except trio.WouldBlock:
            self.dropped += 1

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self._storage.follow_changes, self._on_change)
            task_status.started()
            async for notice in self._receive:
                if isinstance(notice, MembershipNotice):
                    await self._membership(notice)
                    continue
                if isinstance(notice, RevocationNotice):
                    if self._on_revoked is not None:
                        self._on_revoked(notice)
                    continue
                if isinstance(notice, RoomDeletedNotice):
                    await self._registry.send(CloseRoom(notice.room, frame(RoomDeleted(
                        room=notice.room, by=notice.by))))
                    continue
                if isinstance(notice, NotifyNotice):
                    await self._registry.send(ToUser(notice.user, frame(NotifyChanged(
                        room=notice.room, notify=notice.notify))))
                    continue
                if not self._registry.has_members(notice.room):
                    continue  # nobody here to tell; they read it on join or resume
                try:
                    messages = await self._storage.messages_range(
                        notice.room, after=notice.after, upto=notice.last_seq
                    )
                except StorageUnavailable as exc:
                    log.warning("cannot relay %s's commit in %s: %s", notice.node,
                                notice.room, exc)
                    continue
                await self._registry.send(PublishMany(tuple(
                    Delivery(m.room, m.seq, frame(message_event(m))) for m in messages
                )))

    async def _membership(self, notice: MembershipNotice) -> None:
        """Another node changed who is in a room: the registry here follows, so that the
        room's messages reach the user's connections on this node too."""
        announce = None
        if not is_dm_room(notice.room):
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
