"""The work that falls due at a time: reminders of saved messages, and scheduled messages.

Theory of operation. A reminder is a time on a saved message (``saved.remind_at``, migration
0030), a scheduled message a row with a ``send_at`` (migration 0032), and the database is the
only place that knows them all. Every node runs one :class:`DueLoop`, which asks each kind of
work (a :class:`Due`: :class:`Reminders` here, :class:`chatd.actions.scheduled.Scheduler`) to
claim what is due by the database's clock, in one statement, ``FOR UPDATE SKIP LOCKED``, for
a lease (``[cluster] claim_lease``: ``claimed_until``, migration 0032). Two nodes racing for
one row never both take it: the second skips the row the first holds, or, once the first has
committed, finds it claimed. What was due while every node was down is claimed by the first
node that looks: each looks at start.

A claim is not the end: the claiming node does the work (tells the user of a reminder, sends
a scheduled message) and marks it done. A node that dies before the mark leaves the row
claimed until the lease ends, when the next node that looks claims it again: nothing is lost
to a kill -9. A reminder is first marked reminded, by the statement that checks this node's
claim still holds (:meth:`chatd.storage.Storage.reminded`), which tells the other nodes (a
NOTIFY on ``chatd_reminders`` sent on commit) whose relays tell the user's connections there
(chatd.cluster); then, only if that mark was this claim's, it is told on this node (a
``reminder`` event through the room registry, and a push as a mention's: not while the user
is online anywhere, nor while their notifications are paused;
:meth:`chatd.pusher.Pusher.remind`). So a node whose lease ran out while it was slow (a
pause, a slow database) and whose reminder another node claimed since tells nothing: the
telling is claimed in the transaction that marks it done, and a reminder is told once, by
one node, however the lease moved. A node that dies between the mark and its own telling
loses only what its own connections, gone with it, would have heard (and the push, queued
in memory as it always was: a push queued was never claimed again). A reminder of a room the
user may no longer read is marked and told to nobody.

When it sleeps. After a round the loop reads when the next work is due (or a claim's lease
ends) and sleeps until then, or at most ``[cluster] reminder_check`` seconds: work set on
another node wakes that node (which may stop before it is due), not this one, and this bound
is what finds it. Work set on this node earlier than the planned wake-up wakes the loop at
once (:meth:`DueLoop.soon`). Nothing here blocks an actor: the loop's work is its own task.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from typing import Protocol

import trio

from chatd.protocol import Reminded, frame
from chatd.pusher import Pusher
from chatd.rooms import RoomRegistry, ToUser
from chatd.storage import Message, Reminder, Storage, StorageUnavailable
from chatd.views import message_object

__all__ = ["CLAIM_BATCH", "Due", "DueLoop", "Reminders", "reminder_event"]

log = logging.getLogger(__name__)

#: Reminders claimed in one statement; a full batch is followed by another at once.
CLAIM_BATCH = 100
#: Seconds before looking again when work due is held by another node's claim statement (it
#: is about to commit), or the database did not answer.
RETRY = 0.2
RETRY_UNAVAILABLE = 2.0


def reminder_event(message: Message, remind_at: int) -> bytes:
    """The ``reminder`` frame of saved message ``message`` due at ``remind_at`` (ms)."""
    return frame(Reminded(room=message.room, msg_id=message.msg_id, remind_at=remind_at,
                          message=message_object(message)))


class Due(Protocol):
    """A kind of work the :class:`DueLoop` claims when it is due."""

    #: What it is, for the log.
    what: str

    async def claim(self) -> int:
        """Claim what is due now (at most :data:`CLAIM_BATCH`), do it and mark it done;
        how many were claimed."""

    async def next_due(self) -> float | None:
        """Seconds until the next is due or a claim's lease ends (0 or less: due now);
        None when there is none."""


class DueLoop:
    """The due loop of this node (see the module's docstring).

    Args:
        works: the kinds of work it claims, each in turn.
        check: seconds at most between two looks (``[cluster] reminder_check``).
    """

    def __init__(self, works: Sequence[Due], *, check: float) -> None:
        self.works = tuple(works)
        self._check = check
        self._wake = trio.Event()
        #: When the loop plans to look next (ms since the epoch); +inf while it looks.
        self._next_ms = math.inf

    def soon(self, at: int) -> None:
        """Work was set on this node for ``at`` (ms): wake the loop if it planned to look
        later. Never blocks."""
        if at < self._next_ms:
            self._wake.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        task_status.started()
        while True:
            self._wake = trio.Event()
            self._next_ms = math.inf  # work set meanwhile wakes the next wait
            delay = await self._round()
            self._next_ms = time.time() * 1000 + delay * 1000
            with trio.move_on_after(delay):
                await self._wake.wait()

    async def _round(self) -> float:
        """Claim and do what is due of each kind; the seconds to sleep after it."""
        delay = self._check
        for work in self.works:
            try:
                if await work.claim() >= CLAIM_BATCH:
                    delay = 0.0
                    continue
                wait = await work.next_due()
            except StorageUnavailable as exc:
                log.warning("cannot look at the %s due: %s", work.what, exc)
                delay = min(delay, RETRY_UNAVAILABLE)
                continue
            if wait is not None:
                # due, but claimed by another node that has not committed yet: soon again
                delay = min(delay, RETRY if wait <= 0 else wait)
        return delay


class Reminders:
    """The reminders of saved messages, as the :class:`DueLoop` claims them.

    Args:
        storage: where the reminders are, and claimed.
        registry: the user's connections on this node.
        pusher: Web Push to the user's subscriptions.
        lease: seconds a claim holds a reminder before another node may take it.
    """

    what = "reminders"

    def __init__(self, storage: Storage, registry: RoomRegistry, pusher: Pusher | None, *,
                 lease: float) -> None:
        self._storage = storage
        self._registry = registry
        self._pusher = pusher
        self._lease = lease
        #: Reminders this node claimed and told (for tests and metrics).
        self.delivered = 0

    async def claim(self) -> int:
        claimed = await self._storage.claim_reminders(CLAIM_BATCH, self._lease)
        for reminder in claimed:
            await self.tell(reminder)
        return len(claimed)

    async def next_due(self) -> float | None:
        return await self._storage.next_reminder()

    async def tell(self, reminder: Reminder) -> None:
        """A reminder this node claimed: mark it reminded while the claim holds (which tells
        the other nodes), and only when this claim marked it, tell the user's connections
        here and push (a push is queued in memory: nothing is left to claim again). A claim
        that ran out and was taken by another node, or a reminder changed since, tells
        nothing here."""
        if not await self._storage.reminded(reminder):
            log.info("a reminder of %s in %s changed or was claimed by another node since "
                     "this node claimed it: not told here", reminder.user,
                     reminder.message.room)
            return
        if not reminder.readable:
            log.info("a reminder of %s in %s, which they can no longer read: told to nobody",
                     reminder.user, reminder.message.room)
            return
        self.delivered += 1
        await self._registry.send(ToUser(reminder.user, reminder_event(
            reminder.message, reminder.remind_at)))
        if self._pusher is not None:
            self._pusher.remind(reminder)
