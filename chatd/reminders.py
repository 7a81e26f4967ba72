"""The reminders of saved messages: when one is due, its user hears of it once.

Theory of operation. A reminder is a time on a saved message (``saved.remind_at``, migration
0030), and the database is the only place that knows them all: every node runs a
:class:`Reminders` loop that claims the reminders due (by the database's clock) in one
statement, ``FOR UPDATE SKIP LOCKED``, marking them ``reminded`` (see
:meth:`chatd.storage.Storage.claim_reminders`). Two nodes racing for one reminder never both
take it: the second skips the row the first holds, or, once the first has committed, finds it
reminded. A reminder due while every node was down is claimed by the first node that looks:
each looks at start.

The claiming node tells the user's connections here (a ``reminder`` event through the room
registry) and pushes to their subscriptions as it pushes a mention (not while they are
online anywhere, nor while their notifications are paused; :meth:`chatd.pusher.Pusher.remind`).
The same statement tells the other nodes (a NOTIFY on ``chatd_reminders`` sent on commit),
whose relays read the message and tell the user's connections there (chatd.cluster). A
reminder of a room the user may no longer read is claimed and told to nobody.

When it sleeps. After a round the loop reads when the next reminder is due and sleeps until
then, or at most ``[cluster] reminder_check`` seconds: a reminder set on another node wakes
that node (which may stop before it is due), not this one, and this bound is what finds it.
A reminder set on this node earlier than the planned wake-up wakes the loop at once
(:meth:`Reminders.soon`). Nothing here blocks an actor: the loop's work is its own task.
"""

from __future__ import annotations

import logging
import math
import time

import trio

from chatd.protocol import Reminded, frame
from chatd.pusher import Pusher
from chatd.rooms import RoomRegistry, ToUser
from chatd.storage import Message, Reminder, Storage, StorageUnavailable
from chatd.views import message_object

__all__ = ["CLAIM_BATCH", "Reminders", "reminder_event"]

log = logging.getLogger(__name__)

#: Reminders claimed in one statement; a full batch is followed by another at once.
CLAIM_BATCH = 100
#: Seconds before looking again when a reminder due is held by another node's claim (it is
#: about to be reminded), or the database did not answer.
RETRY = 0.2
RETRY_UNAVAILABLE = 2.0


def reminder_event(message: Message, remind_at: int) -> bytes:
    """The ``reminder`` frame of saved message ``message`` due at ``remind_at`` (ms)."""
    return frame(Reminded(room=message.room, msg_id=message.msg_id, remind_at=remind_at,
                          message=message_object(message)))


class Reminders:
    """The reminder loop of this node (see the module's docstring).

    Args:
        storage: where the reminders are, and claimed.
        registry: the user's connections on this node.
        pusher: Web Push to the user's subscriptions.
        check: seconds at most between two looks (``[cluster] reminder_check``).
    """

    def __init__(self, storage: Storage, registry: RoomRegistry, pusher: Pusher | None, *,
                 check: float) -> None:
        self._storage = storage
        self._registry = registry
        self._pusher = pusher
        self._check = check
        self._wake = trio.Event()
        #: When the loop plans to look next (ms since the epoch); +inf while it looks.
        self._next_ms = math.inf
        #: Reminders this node claimed and told (for tests and metrics).
        self.delivered = 0

    def soon(self, remind_at: int) -> None:
        """A reminder was set on this node for ``remind_at`` (ms): wake the loop if it
        planned to look later. Never blocks."""
        if remind_at < self._next_ms:
            self._wake.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        task_status.started()
        while True:
            self._wake = trio.Event()
            self._next_ms = math.inf  # a reminder set meanwhile wakes the next wait
            delay = await self._round()
            self._next_ms = time.time() * 1000 + delay * 1000
            with trio.move_on_after(delay):
                await self._wake.wait()

    async def _round(self) -> float:
        """Claim and tell what is due; the seconds to sleep after it."""
        try:
            claimed = await self._storage.claim_reminders(CLAIM_BATCH)
            for reminder in claimed:
                await self._tell(reminder)
            if len(claimed) == CLAIM_BATCH:
                return 0.0
            wait = await self._storage.next_reminder()
        except StorageUnavailable as exc:
            log.warning("cannot look at the reminders due: %s", exc)
            return min(RETRY_UNAVAILABLE, self._check)
        if wait is None:
            return self._check
        if wait <= 0:
            return RETRY  # due, but claimed by another node that has not committed yet
        return min(wait, self._check)

    async def _tell(self, reminder: Reminder) -> None:
        if not reminder.readable:
            log.info("a reminder of %s in %s, which they can no longer read: told to nobody",
                     reminder.user, reminder.message.room)
            return
        self.delivered += 1
        await self._registry.send(ToUser(reminder.user, reminder_event(
            reminder.message, reminder.remind_at)))
        if self._pusher is not None:
            self._pusher.remind(reminder)
