"""Group commit: concurrent sends are stored in batches, then published in seq order.

Theory of operation. Every ``send`` of every connection becomes a :class:`SendJob` in one
bounded queue. The committer takes whatever is queued (up to ``max_batch``), stores it with one
``append_messages`` call (one transaction, one crossing of the asyncio bridge), publishes the
new messages to the room registry in batch order (which is seq order per room), and only then
runs each job's ``on_done`` with its outcome: a send is never acknowledged before its commit.
While a batch commits the next one fills, so the batch size follows the load by itself.

Being the only publisher of locally committed messages is what keeps fan-out in seq order;
``flush`` lets a draining daemon wait until everything queued so far is committed and answered.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

import trio

from chatd.errors import ChatError
from chatd.metrics import Metrics
from chatd.outbox import Delivery
from chatd.protocol import codes, frame
from chatd.rooms import PublishMany, RoomRegistry
from chatd.storage import Appended, NewMessage, Storage, StorageUnavailable
from chatd.views import message_event

__all__ = ["Committer", "SendJob"]

log = logging.getLogger(__name__)

Outcome = Appended | ChatError


@dataclasses.dataclass(frozen=True, slots=True)
class SendJob:
    """One message to store. ``on_done`` is called exactly once, from the committer's task,
    with the outcome; it must not block (it queues the reply with ``send_nowait``)."""

    message: NewMessage
    on_done: Callable[[Outcome], None]
    queued_at: float = dataclasses.field(default_factory=time.monotonic)


@dataclasses.dataclass(frozen=True, slots=True)
class _Barrier:
    reached: trio.Event


class Committer:
    """The group-commit actor.

    Args:
        storage: where messages are stored.
        registry: where committed messages are published.
        max_batch: the most messages stored in one transaction.
        queue_size: how many sends may wait; submitters wait when it is full.
    """

    def __init__(self, storage: Storage, registry: RoomRegistry, metrics: Metrics,
                 *, max_batch: int = 1024, queue_size: int = 8192) -> None:
        self._storage = storage
        self._registry = registry
        self._metrics = metrics
        self._max_batch = max_batch
        self._send, self._receive = trio.open_memory_channel[SendJob | _Barrier](queue_size)

    async def submit(self, job: SendJob) -> None:
        """Queue a send; waits only while the queue is full."""
        await self._send.send(job)

    def submit_nowait(self, job: SendJob) -> None:
        """Queue a send, or raise ``trio.WouldBlock`` if the queue is full."""
        self._send.send_nowait(job)

    async def flush(self) -> None:
        """Wait until every job queued before this call is committed and answered."""
        barrier = _Barrier(trio.Event())
        await self._send.send(barrier)
        await barrier.reached.wait()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        task_status.started()
        async with self._receive:
            while True:
                first = await self._receive.receive()
                batch: list[SendJob] = []
                barriers: list[_Barrier] = []
                item: SendJob | _Barrier = first
                while True:
                    if isinstance(item, _Barrier):
                        barriers.append(item)
                        break  # commit what came before the barrier, then release it
                    batch.append(item)
                    if len(batch) >= self._max_batch:
                        break
                    try:
                        item = self._receive.receive_nowait()
                    except trio.WouldBlock:
                        break
                if batch:
                    await self._commit(batch)
                for barrier in barriers:
                    barrier.reached.set()

    async def _commit(self, batch: list[SendJob]) -> None:
        self._metrics.batch_size.observe(len(batch))
        started = time.monotonic()
        try:
            outcomes: list[Outcome] = await self._storage.append_messages(
                [job.message for job in batch]
            )
            self._metrics.commit_seconds.observe(time.monotonic() - started)
        except StorageUnavailable as exc:
            log.warning("commit of %d messages failed: %s", len(batch), exc)
            failed = ChatError(codes.UNAVAILABLE, "the database is unavailable; resend later")
            outcomes = [failed] * len(batch)
        except Exception:
            log.exception("commit of %d messages failed", len(batch))
            failed = ChatError(codes.INTERNAL, "the message may not be stored; resend it")
            outcomes = [failed] * len(batch)
        fresh = tuple(
            Delivery(o.message.room, o.message.seq, frame(message_event(o.message)))
            for o in outcomes if isinstance(o, Appended) and not o.duplicate
        )
        if fresh:
            await self._registry.send(PublishMany(fresh))
        self._metrics.messages_stored.inc(len(fresh))
        now = time.monotonic()
        for job, outcome in zip(batch, outcomes, strict=True):
            self._metrics.send_latency.observe(now - job.queued_at)
            try:
                job.on_done(outcome)
            except Exception:
                log.exception("a send's completion callback failed")
