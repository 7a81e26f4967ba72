"""Group commit: concurrent sends are stored in batches, then published in seq order.

Theory of operation. Every ``send`` of every connection becomes a :class:`SendJob` in one
bounded queue. The committer takes whatever is queued (up to ``max_batch``), stores it with one
``append_messages`` call (one transaction, one crossing of the asyncio bridge), runs each
job's ``on_done`` with its outcome (a send is never acknowledged before its commit), then
publishes the new messages to the room registry in batch order (which is seq order per room).
While a batch commits the next one fills, so the batch size follows the load by itself.

Up to ``max_flights`` batches (``[database] commits_in_flight``, 2) commit at once, as long
as they share no room: a send that comes while a commit is in flight no longer waits for it
to end before its own starts (at everyday load, most of a send's wait), and PostgreSQL runs
the two transactions side by side.
A job whose room a commit in flight touches is held back until that commit has landed, and so
is every later job of that room: each room's entries are still stored, answered and published
in the order they came, and a room's publications never overlap, so fan-out stays in seq order
per room. Under load each flight still takes everything held (up to ``max_batch``): the
batching is as before, with two of them.

A flight is a task of the committer's that waits for its next batch. A send that finds the
committer idle, and idle for longer than its last commit took, is handed to a flight by its
submitter, without a turn of the committer's loop: at everyday load, where sends come far
apart and a commit carries one, that is one pass through trio's scheduler and one turn of
the loop less per message (a tenth of the daemon's CPU per message at 100 sends/s); and
that flight, nothing having come meanwhile, fans the commit out itself
(:meth:`~chatd.rooms.RoomRegistry.apply_now`) instead of waking the registry's task. Sends
that come sooner after a commit go through the loop, which batches all that came in the
same turn of trio's scheduler: handing over the first of a burst alone (the senders that a
commit just answered, sending again) halved a closed loop's batches and cost 4-6 % of its
throughput (benchmarks/README.md). Either way, per room, jobs start in the order they came.

A commit whose reply is lost with the database connection has an unknown outcome: the
transaction may have committed. Its senders are answered ``unavailable`` (they resend with
the same nonce, which stores a message once either way), and its messages are kept *in
doubt* (:meth:`Committer._hold_in_doubt`), to be settled off the send path by a task of the
committer's (:meth:`Committer._settle`): once the database answers again, it looks them up by
(sender, nonce) (storage first waits for the lost connections' server backends to be done,
so that what it reads is final), and publishes those found stored, and hands them to
``on_committed``, once: this node skips its own commits' notices, so nobody else would tell
its members, nor push them, nor run the webhooks. Those not found were not stored: their
resend stores them. What is in doubt is bounded (``DOUBT_MAX``, the oldest dropped past
it) and given up after ``SETTLE_FOR`` seconds of a database that does not answer, each
logged.

A change (an edit, a deletion, a reaction, a topic, a moderation entry) stores no nonce and
cannot be looked up so. Its *room* is kept in doubt instead: once the lost transactions are
done, the room's entries past the last one published here are read and published (those
already told are dropped by the connections, by seq). Without that, a change committed with
its reply lost reached this node's members only with the room's next entry (its gap
repaired then), which in a quiet room could be hours later. Only rooms with members here
are read, and a change so found is not handed to ``on_committed`` (what the read finds may
hold entries handed on already; the indexer's sweep finds an edit's words all the same).

A resend of a stored message (a duplicate nonce) is published again, as it is now: its first
commit may have been told to nobody here yet (its settling may still wait for the
database); connections drop an entry they have. It is not handed to ``on_committed``: the
first commit was, or its settling will be.

One bad row must not fail the messages of others that happen to share its transaction. When
the database refuses a batch for what a row holds (its SQLSTATE says so), the committer splits
the batch until the refused rows stand alone, answers those ``bad_request`` and stores the
rest (:meth:`Committer._isolate`); a batch refused because the database is gone is answered
``unavailable`` as a whole. The protocol already refuses text that cannot be stored, so this
is the second line of defence, and costs nothing while batches commit.

Being the only publisher of locally committed messages is what keeps fan-out in seq order;
``flush`` lets a draining daemon wait until everything queued so far is committed and answered.
After publishing, the batch's new entries go to ``on_committed`` (the pusher's queue, which
never waits: chatd.pusher), so that Web Push costs the send path nothing.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence

import outcome
import trio

from chatd.errors import ChatError
from chatd.metrics import Metrics
from chatd.outbox import Delivery
from chatd.protocol import codes, frame
from chatd.rooms import PublishMany, RoomRegistry
from chatd.storage import (
    Appended,
    Message,
    NewEntry,
    NewMessage,
    Storage,
    StorageUnavailable,
    ThreadState,
)
from chatd.views import message_event

__all__ = ["Committer", "Outcome", "SendJob"]

log = logging.getLogger(__name__)

#: Commits in flight at once, of batches that share no room.
MAX_FLIGHTS = 2
#: Messages kept in doubt at most (their commit's reply was lost): past it, the oldest are
#: dropped unsettled (logged). A database restart fails a batch or two per flight; this is
#: several full batches.
DOUBT_MAX = 8192
#: Seconds to keep trying to settle a message in doubt while the database does not answer.
SETTLE_FOR = 300.0
#: Delays between two attempts at settling, doubled after each failure (seconds).
SETTLE_RETRY_MIN = 0.25
SETTLE_RETRY_MAX = 10.0

Outcome = Appended | ChatError

#: Past any seq (a range "after the last published" has no end of its own).
_MAX_SEQ = 2**62


@dataclasses.dataclass(frozen=True, slots=True)
class SendJob:
    """One message to store. ``on_done`` is called exactly once, from the committer's task,
    with the outcome; it must not block (it queues the reply with ``send_nowait``)."""

    message: NewEntry
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
        max_flights: the most batches committing at once (batches that share no room).
        queue_size: how many sends may wait; submitters wait when it is full.
        on_committed: told each batch's new entries (not the duplicates) once they are
            published; it must not block (it queues them with ``send_nowait``).
        on_followed: told the follows of threads a batch's replies changed (migration
            0033), once they are published; it must not block either.
    """

    def __init__(self, storage: Storage, registry: RoomRegistry, metrics: Metrics,
                 *, max_batch: int = 1024, queue_size: int = 8192,
                 max_flights: int = MAX_FLIGHTS,
                 on_committed: Callable[[Sequence[Message]], None] | None = None,
                 on_followed: Callable[[Sequence[ThreadState]], None] | None = None) -> None:
        self._storage = storage
        self._on_followed = on_followed
        self._registry = registry
        self._metrics = metrics
        self._on_committed = on_committed
        self._max_batch = max_batch
        self._send, self._receive = trio.open_memory_channel[SendJob | _Barrier](queue_size)
        self._max_flights = max_flights
        # Taken out of the queue but not started, at most: what the flights would carry. Past
        # that, sends wait in the queue, whose bound pushes back on the readers.
        self._held_max = max_batch * max_flights
        self._flights = 0  # commits in flight
        self._idle_flights: list[trio.lowlevel.Task] = []  # flights waiting for a batch
        self._queued = 0  # items sent to the queue and not taken by the loop yet
        # When the last commit landed with none left in flight, and how long it took (trio's
        # clock): a send that comes sooner goes through the loop (see the module docstring).
        self._landed_at = -math.inf
        self._took = 0.0
        self._busy: collections.Counter[str] = collections.Counter()  # their rooms' jobs
        self._wait: trio.CancelScope | None = None  # the loop's, while it waits
        self._held: list[SendJob] = []  # taken, not started yet: in queue order
        self._barrier: _Barrier | None = None  # waits for everything queued before it
        self._waiting = True  # for a send, with none queued
        self._idle_at = time.monotonic()  # when it last was
        # Messages whose commit's outcome was lost, by (sender, nonce), in the order they
        # came in doubt (last): each with when it came in doubt first (trio's clock). See
        # _settle.
        self._doubtful: dict[tuple[int, str], tuple[NewMessage, float]] = {}
        # Rooms of changes whose commit's outcome was lost (see the module docstring), each
        # with when it first came in doubt (trio's clock) and the number of its last coming
        # (a room in doubt again while it is settled is settled again), oldest first.
        self._rooms_in_doubt: dict[str, tuple[float, int]] = {}
        self._room_doubts = 0
        self._doubted = trio.Event()  # set when some came in doubt
        # The keys last settled as stored, oldest first (DOUBT_MAX at most): a resend of one
        # of them whose reply is lost again is a duplicate, never handed on again.
        self._settled: dict[tuple[int, str], None] = {}

    async def submit(self, job: SendJob) -> None:
        """Queue a send; waits only while the queue is full."""
        if self._start_now(job):
            await trio.lowlevel.cancel_shielded_checkpoint()  # started: not to be undone
            return
        await self._queue(job)

    async def _queue(self, item: SendJob | _Barrier) -> None:
        """Into the loop's queue, counted until the loop takes it."""
        self._queued += 1
        try:
            await self._send.send(item)
        except BaseException:
            self._queued -= 1
            raise

    def submit_nowait(self, job: SendJob) -> None:
        """Queue a send, or raise ``trio.WouldBlock`` if the queue is full."""
        if not self._start_now(job):
            self._send.send_nowait(job)
            self._queued += 1

    def _start_now(self, job: SendJob) -> bool:
        """Hand ``job`` to a waiting flight as a batch of its own if the committer is idle
        (see the module docstring); False if it must queue."""
        if (self._flights or self._wait is None or self._queued or self._held
                or self._barrier is not None or not self._idle_flights
                or trio.current_time() - self._landed_at <= self._took):
            return False
        self._launch([job], alone=True)
        if self._waiting:
            self._waiting = False
            self._idle_at = time.monotonic()
        return True

    def _launch(self, batch: list[SendJob], *, alone: bool = False) -> None:
        """Hand ``batch`` to a waiting flight; ``alone``: handed over by its submitter, the
        committer idle (see :meth:`_commit`)."""
        self._flights += 1
        for job in batch:
            self._busy[job.message.room] += 1
        trio.lowlevel.reschedule(self._idle_flights.pop(), outcome.Value((batch, alone)))

    async def commit(self, entry: NewEntry) -> Appended:
        """Store ``entry`` with the next batch and return its outcome once it is published:
        for an operation that acts after the commit (a kick, then the registry) and for the
        HTTP front, which answers after it. Cancelled while it waits, the entry may still
        be stored (as a send whose connection dropped).

        Raises:
            ChatError: the entry was refused (or the database was unavailable).
        """
        done = trio.Event()
        outcomes: list[Outcome] = []

        def finished(result: Outcome) -> None:
            outcomes.append(result)
            done.set()

        await self.submit(SendJob(entry, finished))
        await done.wait()
        if isinstance(outcomes[0], ChatError):
            raise outcomes[0]
        return outcomes[0]

    def busy_for(self) -> float:
        """Seconds since the committer last found no send waiting for it and no commit in
        flight (0 while so): for how long sends have been queueing up behind commits, i.e. the send
        path is saturated. Background work on the database (the search indexer) holds back
        while this grows, so that it never slows sends."""
        return 0.0 if self._waiting else time.monotonic() - self._idle_at

    async def flush(self) -> None:
        """Wait until every job queued before this call is committed and answered."""
        barrier = _Barrier(trio.Event())
        await self._queue(barrier)
        await barrier.reached.wait()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        async with self._receive, trio.open_nursery() as nursery:
            for _ in range(self._max_flights):
                await nursery.start(self._flight)
            nursery.start_soon(self._settle)
            task_status.started()
            held = self._held
            while True:
                if self._barrier is None:
                    self._barrier = self._take(held)
                if self._barrier is not None and not held and not self._busy:
                    self._barrier.reached.set()
                    self._barrier = None
                    continue
                if self._idle_flights:
                    batch = self._pick(held)
                    if batch:
                        self._launch(batch)
                        continue
                # Nothing to start: wait for a send (unless a barrier stops the taking, or
                # enough is held already) or for a commit to land, whichever comes first.
                self._waiting = not held and not self._flights  # see busy_for
                with trio.CancelScope() as self._wait:
                    if self._barrier is None and len(held) < self._held_max:
                        item = await self._receive.receive()
                        self._queued -= 1
                        if isinstance(item, _Barrier):
                            self._barrier = item
                        else:
                            held.append(item)
                    else:
                        await trio.sleep_forever()
                self._wait = None
                if self._waiting:
                    self._waiting = False
                    self._idle_at = time.monotonic()

    def _take(self, held: list[SendJob]) -> _Barrier | None:
        """Move what is queued to ``held``, up to a barrier (returned)."""
        while len(held) < self._held_max:
            try:
                item = self._receive.receive_nowait()
            except trio.WouldBlock:
                return None
            self._queued -= 1
            if isinstance(item, _Barrier):
                return item
            held.append(item)
        return None

    def _pick(self, held: list[SendJob]) -> list[SendJob]:
        """The next batch out of ``held`` (up to ``max_batch``, in queue order): the jobs of
        rooms no commit in flight touches. A job of a busy room stays, and so does every later
        job of its room, so that each room's entries are stored in the order they came."""
        batch: list[SendJob] = []
        kept: list[SendJob] = []
        blocked: set[str] = set()
        for job in held:
            room = job.message.room
            if len(batch) >= self._max_batch or room in blocked or self._busy[room]:
                blocked.add(room)
                kept.append(job)
            else:
                batch.append(job)
        held[:] = kept
        return batch

    async def _flight(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                      ) -> None:
        """One commit at a time, each batch handed over by :meth:`_launch`."""
        me = trio.lowlevel.current_task()

        def abort(_: object) -> trio.lowlevel.Abort:
            self._idle_flights.remove(me)
            return trio.lowlevel.Abort.SUCCEEDED

        task_status.started()
        while True:
            self._idle_flights.append(me)
            batch: list[SendJob]
            batch, alone = await trio.lowlevel.wait_task_rescheduled(abort)
            await self._fly(batch, alone)

    async def _fly(self, batch: list[SendJob], alone: bool) -> None:
        started = trio.current_time()
        answered: float | None = None
        try:
            answered = await self._commit(batch, alone)
        finally:
            self._flights -= 1
            if not self._flights:
                # Landed when its senders were answered: a fan-out done here after that
                # counts as idle time, as when the registry's task does it, so that it
                # does not make the hand-over rarer (see _start_now).
                self._landed_at = trio.current_time() if answered is None else answered
                self._took = self._landed_at - started
            for job in batch:
                room = job.message.room
                self._busy[room] -= 1
                if not self._busy[room]:
                    del self._busy[room]
            if self._wait is None:
                pass  # the loop is not waiting: it sees all this on its next turn
            elif self._held or self._barrier is not None:
                self._wait.cancel()  # it may start what this commit held back
            elif not self._flights:
                # Nothing held, nothing in flight: idle again (busy_for), without waking the
                # loop, which waits for the next send anyway.
                self._waiting = True

    async def _commit(self, batch: list[SendJob], alone: bool = False) -> float:
        """Store ``batch``, answer its senders, publish its entries; when they were answered
        (trio's clock). ``alone``: the batch was handed over by its submitter after an idle
        spell (everyday load); then, if nothing came meanwhile, this task also fans its
        entries out."""
        self._metrics.batch_size.observe(len(batch))
        started = time.monotonic()
        messages = [job.message for job in batch]
        try:
            outcomes: list[Outcome] = await self._storage.append_messages(messages)
            self._metrics.commit_seconds.observe(time.monotonic() - started)
        except StorageUnavailable as exc:
            if _tied_to_data(exc):
                outcomes = await self._isolate(messages, exc)
            else:
                log.warning("commit of %d messages failed: %s", len(batch), exc)
                outcomes = [_unavailable()] * len(batch)
                self._hold_in_doubt(messages)
        except Exception:
            log.exception("commit of %d messages failed", len(batch))
            failed = ChatError(codes.INTERNAL, "the message may not be stored; resend it")
            outcomes = [failed] * len(batch)
            self._hold_in_doubt(messages)
        # The acknowledgements first, then the fan-out, as the peers do: the senders' replies
        # are written (or queued) before the entries' frames are even made, not after every
        # member's delivery. Nothing awaits between the two, so a task woken by its
        # ``on_done`` (a kick, then the registry) reaches the registry after this batch's
        # entries.
        now = time.monotonic()
        for job, result in zip(batch, outcomes, strict=True):
            self._metrics.send_latency.observe(now - job.queued_at)
            try:
                job.on_done(result)
            except Exception:
                log.exception("a send's completion callback failed")
        answered = trio.current_time()
        fresh: list[Delivery] = []
        stored: list[Message] = []
        changes = 0
        resent: list[Message] = []
        followed: list[ThreadState] = []
        for o in outcomes:
            if isinstance(o, Appended):
                if o.duplicate:
                    if o.message.kind == "message":
                        resent.append(o.message)
                    continue
                for m in o.stored:  # a purge stores several entries
                    fresh.append(Delivery(m.room, m.seq, frame(message_event(m))))
                    stored.append(m)
                    changes += m.kind != "message"
                if o.followed:  # a thread reply's follows (migration 0033)
                    followed.extend(o.followed)
        if fresh:
            publish = PublishMany(tuple(fresh))
            # At everyday load (a lone send after an idle spell, nothing since) the fan-out
            # is done here, without waking the registry's task. Otherwise that task does it
            # while this flight is free for the next commit, whose statement then goes to
            # the database before the fan-out's work, not after it (measured: at 2,000
            # sends/s, fanning out here too raised the p50 by a third).
            if not (alone and self._flights == 1 and not self._queued and not self._held
                    and self._registry.apply_now(publish)):
                await self._registry.send(publish)
            if self._on_committed is not None:
                try:
                    self._on_committed(stored)
                except Exception:
                    log.exception("handing committed messages on failed")
            if followed and self._on_followed is not None:
                try:
                    self._on_followed(followed)
                except Exception:
                    log.exception("handing the follows of threads on failed")
        self._metrics.messages_stored.inc(len(fresh) - changes)
        self._metrics.recent_messages.add(len(fresh) - changes, time.monotonic())
        self._metrics.changes_stored.inc(changes)
        if resent:  # (rare: nothing more to do per commit otherwise)
            published = {(d.room, d.seq) for d in fresh}
            if resent := [m for m in resent if (m.room, m.seq) not in published]:
                await self._republish(resent)
        return answered

    async def _republish(self, resent: list[Message]) -> None:
        """Publish again the stored messages that resends repeated. Their first commit may
        have been told to nobody here: when its reply was lost with the database connection,
        its sender was answered ``unavailable`` (and sent it again), and this node, which
        publishes its own commits itself and skips their notices, never published it. They
        are read as they are now (a duplicate's outcome has only some of a message's
        fields); a connection that has one already drops it (by its seq)."""
        try:
            found = await self._storage.messages_ranges(
                [(m.room, m.seq - 1, m.seq) for m in resent])
        except StorageUnavailable as exc:
            log.warning("cannot publish %d resent messages again: %s", len(resent), exc)
            return
        await self._publish_again(m for entries in found for m in entries)

    async def _publish_again(self, messages: Iterable[Message]) -> None:
        """Publish stored messages that this node may not have told its connections of
        (resent, or settled after a lost reply); a connection that has one drops it."""
        deliveries = tuple(Delivery(m.room, m.seq, frame(message_event(m))) for m in messages)
        if deliveries:
            await self._registry.send(PublishMany(deliveries))

    def _hold_in_doubt(self, entries: Sequence[NewEntry]) -> None:
        """Keep the messages of ``entries``, whose commit failed without telling whether it
        committed, for :meth:`_settle`, and the rooms of its changes. A message in doubt
        already (a resend of one whose reply was lost too) stays once, with when it first
        came; but it is settled again if a settling was under way (it may have missed this
        commit). A room likewise."""
        now = trio.current_time()
        doubtful = self._doubtful
        rooms = self._rooms_in_doubt
        for entry in entries:
            if isinstance(entry, NewMessage):
                key = (entry.user_id, entry.nonce)
                first = doubtful.pop(key, None)
                doubtful[key] = (entry, now if first is None else first[1])
            else:
                self._room_doubts += 1
                first_room = rooms.pop(entry.room, None)
                rooms[entry.room] = (now if first_room is None else first_room[0],
                                     self._room_doubts)
        while len(rooms) > DOUBT_MAX:
            log.error("a change's room in doubt dropped unsettled (over %d): its members "
                      "here get the change with the room's next entry", DOUBT_MAX)
            del rooms[next(iter(rooms))]
        if len(doubtful) > DOUBT_MAX:
            dropped = list(doubtful)[:len(doubtful) - DOUBT_MAX]
            for key in dropped:
                del doubtful[key]
            log.error("%d messages in doubt dropped unsettled (over %d): if stored, they are "
                      "published only by their resends, and not pushed", len(dropped), DOUBT_MAX)
            self._metrics.messages_in_doubt.labels(outcome="unsettled").inc(len(dropped))
        self._doubted.set()

    async def _settle(self) -> None:
        """Settle the messages in doubt (see the module docstring), until cancelled.

        Each round takes all of them (those that came since the last round merged in),
        asks storage which are stored (which first waits for the lost transactions to end),
        publishes those, and hands them to ``on_committed``; the others are forgotten. While
        the database does not answer, it tries again after a delay that doubles up to
        ``SETTLE_RETRY_MAX``, and drops what has been in doubt for ``SETTLE_FOR``."""
        doubtful = self._doubtful
        rooms = self._rooms_in_doubt
        delay = SETTLE_RETRY_MIN
        try:
            while True:
                if not doubtful and not rooms:
                    self._doubted = trio.Event()
                    await self._doubted.wait()
                taken = dict(doubtful)
                taken_rooms = dict(rooms)
                try:
                    found = await self._storage.messages_by_nonce(list(taken))
                    # (That waited for the lost transactions: what is read next is final.)
                    if taken_rooms:
                        await self._settle_rooms(taken_rooms)
                except Exception as exc:
                    if not isinstance(exc, StorageUnavailable):
                        log.exception("settling %d messages in doubt failed", len(taken))
                    self._give_up(exc)
                    await trio.sleep(delay)
                    delay = min(delay * 2, SETTLE_RETRY_MAX)
                    continue
                delay = SETTLE_RETRY_MIN
                stored: list[Message] = []
                for (key, held), message in zip(taken.items(), found, strict=True):
                    if message is not None:
                        # Stored: a later commit of it that was lost too stored nothing.
                        doubtful.pop(key, None)
                        if key not in self._settled:
                            self._settled[key] = None
                            stored.append(message)
                    elif doubtful.get(key) is held:
                        del doubtful[key]  # not stored: its resend stores it
                        self._metrics.messages_in_doubt.labels(outcome="not_stored").inc()
                    # else: in doubt again since (a resend lost too): the next round's
                while len(self._settled) > DOUBT_MAX:
                    del self._settled[next(iter(self._settled))]
                if stored:
                    await self._publish_settled(stored)
        finally:
            if rooms:
                log.warning("%d rooms with a change whose commit's reply was lost left "
                            "unsettled: their members here get it with the room's next entry",
                            len(rooms))
            if doubtful:  # the daemon stops
                log.warning("%d messages whose commit's reply was lost left unsettled: if "
                            "stored, they are published only by their resends, and not "
                            "pushed", len(doubtful))

    async def _settle_rooms(self, taken: dict[str, tuple[float, int]]) -> None:
        """Publish the entries of rooms ``taken`` (rooms of changes whose commit's reply was
        lost, the lost transactions done) past the last one published here, and forget the
        rooms that did not come in doubt again meanwhile. A room with no members here, or
        none published here (forgotten: its connections repair at its next entry), is not
        read."""
        registry = self._registry
        ranges = []
        for room in taken:
            last = registry.heads.last(room)
            if last is not None and registry.has_members(room):
                ranges.append((room, last, _MAX_SEQ))
        if ranges:
            found = await self._storage.messages_ranges(ranges)
            if told := [m for entries in found for m in entries]:
                log.warning("publishing %d entries of %d rooms where a change's commit reply "
                            "was lost", len(told), len(ranges))
                await self._publish_again(told)
        rooms = self._rooms_in_doubt
        for room, doubt in taken.items():
            if rooms.get(room) == doubt:
                del rooms[room]

    async def _publish_settled(self, stored: list[Message]) -> None:
        """Publish messages found stored after their commit's reply was lost, in seq order
        per room (a connection that has one already, from a resend's publication or a
        repaired gap, drops it), and hand them on, as a commit of this node's would have."""
        log.warning("%d messages whose commit's reply was lost were stored: publishing them",
                    len(stored))
        stored.sort(key=lambda m: (m.room, m.seq))
        self._metrics.messages_in_doubt.labels(outcome="stored").inc(len(stored))
        self._metrics.messages_stored.inc(len(stored))
        self._metrics.recent_messages.add(len(stored), time.monotonic())
        await self._publish_again(stored)
        if self._on_committed is not None:
            try:
                self._on_committed(stored)
            except Exception:
                log.exception("handing committed messages on failed")

    def _give_up(self, exc: Exception) -> None:
        """Drop the messages, and the rooms of changes, in doubt for longer than
        ``SETTLE_FOR`` (logged)."""
        since = trio.current_time() - SETTLE_FOR
        old = [key for key, (_, first) in self._doubtful.items() if first <= since]
        for key in old:
            del self._doubtful[key]
        if old:
            log.error("gave up settling %d messages whose commit's reply was lost (the "
                      "database has not answered for %.0f s: %s): if stored, they are "
                      "published only by their resends, and not pushed", len(old),
                      SETTLE_FOR, exc)
            self._metrics.messages_in_doubt.labels(outcome="unsettled").inc(len(old))
        rooms = [room for room, (first, _) in self._rooms_in_doubt.items() if first <= since]
        for room in rooms:
            del self._rooms_in_doubt[room]
        if rooms:
            log.error("gave up settling the changes of %d rooms whose commit's reply was lost "
                      "(%s): their members here get them with each room's next entry",
                      len(rooms), exc)

    async def _isolate(self, messages: list[NewEntry], exc: StorageUnavailable
                       ) -> list[Outcome]:
        """The outcomes of a batch the database refused for what some of its rows hold.

        The batch is split in halves, each stored on its own, and a half that is refused again
        is split again, down to the rows refused alone: those are answered ``bad_request``
        and every other row is stored. Parts are stored in batch order, so seqs still follow
        it. k bad rows among n cost about 2k·log2(n) more transactions (a batch that commits
        costs nothing more). If the database goes away meanwhile, every row not stored yet
        is ``unavailable``.
        """
        outcomes: list[Outcome] = []
        pending = [messages]  # parts still to store, in batch order
        failure: StorageUnavailable | None = exc  # why pending[0] was refused, if it was
        while pending:
            part = pending.pop(0)
            if failure is None:
                try:
                    outcomes += await self._storage.append_messages(part)
                    continue
                except StorageUnavailable as again:
                    failure = again
                except Exception:
                    log.exception("commit of %d messages failed", len(part))
                    failed = ChatError(codes.INTERNAL, "the message may not be stored; resend it")
                    self._hold_in_doubt(messages[len(outcomes):])
                    return outcomes + [failed] * (len(messages) - len(outcomes))
            if not _tied_to_data(failure):
                log.warning("commit of %d messages failed: %s", len(part), failure)
                self._hold_in_doubt(messages[len(outcomes):])
                return outcomes + [_unavailable()] * (len(messages) - len(outcomes))
            if len(part) == 1:
                log.warning("refused a message the database cannot store: %s", failure)
                outcomes.append(ChatError(codes.BAD_REQUEST,
                                          "the message holds text that cannot be stored"))
            else:
                half = len(part) // 2
                pending[:0] = [part[:half], part[half:]]
            failure = None
        return outcomes


def _unavailable() -> ChatError:
    return ChatError(codes.UNAVAILABLE, "the database is unavailable; resend later")


# SQLSTATE classes of failures caused by what a row holds, not by the database's state: 22,
# data exception (U+0000 in text, a string that is not UTF-8, a value out of range), and 54,
# program limit exceeded (a value too large to index). Storing the same rows again would fail
# again; storing the others is fine. (A unique violation, 23505, is a race storage retries.)
_DATA_FAULTS = ("22", "54")


def _tied_to_data(exc: StorageUnavailable) -> bool:
    """Whether a failed append was refused for what its rows hold, as opposed to a database
    that is gone or busy. Storage raises StorageUnavailable from the driver's error, which
    carries the SQLSTATE (asyncpg's client-side encoding errors carry 22000)."""
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in _DATA_FAULTS
