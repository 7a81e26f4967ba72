"""What goes through a connection's outbox, from the actors and the reader to its writer.

The outbox (:class:`Outbox`) is a bounded queue made per connection (see
:mod:`chatd.connection`); the actors write to it only with ``send_nowait`` so that a slow
client never blocks them, and the connection's writer takes everything queued at once.
Items are either plain frames (bytes, written as they are) or one of the small records of
:mod:`chatd.delivery` (re-exported here), which let the writer keep each room's messages
gap-free and duplicate-free; the rules the writer applies to them are stated and kept there.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable
from typing import Any

import trio

from chatd.delivery import Close, Delivery, Hold, Notice, OutboxItem, Release

__all__ = ["Close", "Delivery", "Hold", "Notice", "Outbox", "OutboxItem", "Release", "WriteNow"]

log = logging.getLogger(__name__)

#: What writes queued items at once, in the caller's task (see :meth:`Outbox.flush`).
WriteNow = Callable[[list[OutboxItem]], list[OutboxItem] | None]


class Outbox:
    """A bounded queue with many senders and one taker, the connection's writer.

    The senders' side behaves like a trio memory channel's: ``send_nowait`` raises
    ``trio.WouldBlock`` when ``capacity`` items wait and ``trio.BrokenResourceError`` once the
    taker has closed it; ``send`` waits for room instead. The taker's side differs, and that
    is why this is not a memory channel: :meth:`take` returns *every* queued item at once.
    A writer woken for a message takes it with one :meth:`take`, where a channel's would pay
    a ``receive`` plus a ``receive_nowait`` per item and an exception to learn the queue is
    empty. And a writer that waits need not be woken at all: a sender that queues with
    ``wake=False`` and then calls :meth:`flush` has ``write_now`` do the writer's work (the
    registry's fan-out and the committer's acknowledgements, on TCP).
    """

    def __init__(self, capacity: int, write_now: WriteNow | None = None) -> None:
        self._capacity = capacity
        self._items: collections.deque[OutboxItem] = collections.deque()
        self._taker: trio.lowlevel.Task | None = None
        self._room = trio.lowlevel.ParkingLot()  # senders waiting for room
        self._closed = False
        self._write_now = write_now

    def __len__(self) -> int:
        return len(self._items)

    def send_nowait(self, item: OutboxItem, *, wake: bool = True) -> None:
        """Queue ``item``. With ``wake=False`` the taker is left waiting: the caller queues
        more (to this outbox and others) and then calls :meth:`flush` on each."""
        if self._closed:
            raise trio.BrokenResourceError("the connection's writer has finished")
        if len(self._items) >= self._capacity:
            raise trio.WouldBlock
        self._items.append(item)
        if wake and self._taker is not None:
            taker, self._taker = self._taker, None
            trio.lowlevel.reschedule(taker)

    def flush(self) -> None:
        """Have what is queued written now, if the taker waits for it.

        ``write_now`` (the connection's) does the taker's work in the caller's task when it
        can: the writer stays asleep, and a message to a room wakes no member's writer. It
        gets every queued item and returns None when it has written them all, else what is
        left for the taker, which is then woken as :meth:`send_nowait` would have. An
        outbox whose taker is busy (writing) is left alone: it takes what is queued next."""
        taker = self._taker
        if taker is None or not self._items:
            return
        if self._write_now is not None:
            items = list(self._items)
            self._items.clear()
            try:
                left = self._write_now(items)
            except Exception:
                # The caller is the registry or the committer: one connection's failure is
                # its writer's to meet (it fails that connection alone), not theirs.
                log.exception("writing at once failed; the connection's writer takes over")
                left = items
            if left is None:
                if self._room:
                    self._room.unpark_all()
                return
            self._items.extendleft(reversed(left))
        self._taker = None
        trio.lowlevel.reschedule(taker)

    async def send(self, item: OutboxItem) -> None:
        await trio.lowlevel.checkpoint_if_cancelled()
        while True:
            try:
                self.send_nowait(item)
            except trio.WouldBlock:
                await self._room.park()
                continue
            break
        await trio.lowlevel.cancel_shielded_checkpoint()

    async def take(self) -> list[OutboxItem]:
        """Everything queued, oldest first; waits while nothing is. Only one task may take."""
        if self._items:
            # A checkpoint even when there is no need to wait: a writer that always finds
            # work must still let the others run.
            await trio.lowlevel.checkpoint()
        else:
            assert self._taker is None, "only the connection's writer takes"
            self._taker = trio.lowlevel.current_task()

            def abort(_: Any) -> trio.lowlevel.Abort:
                self._taker = None
                return trio.lowlevel.Abort.SUCCEEDED

            await trio.lowlevel.wait_task_rescheduled(abort)
        items = list(self._items)
        self._items.clear()
        self._room.unpark_all()
        return items

    def close(self) -> None:
        """The taker is done: senders get ``trio.BrokenResourceError`` from now on."""
        self._closed = True
        self._items.clear()
        self._room.unpark_all()
