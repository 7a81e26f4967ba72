"""The search indexer: computes the words of new and edited messages after their commit, off
the send path.

Theory of operation
-------------------
A message is stored with its search words (``messages.words``, migration 0011) NULL: "not
indexed yet", matched by no query. Computing them (``to_tsvector``) and adding them to the
GIN index in the statement that stores a batch of messages doubled its PostgreSQL time and
tripled its WAL, which every send's commit waits for (benchmarks/README.md, "Issue 15:
search"); so this actor does it a moment later, in batches, and a send never waits for
it. It is the way Zulip keeps its search vector (``process_fts_updates``), with the work
list kept in the messages table itself (the NULL words, under a partial index) instead of a
log table the send would have to write to.

Where the work comes from:

- **Hints.** After each commit the committer calls :meth:`Indexer.offer` with the batch's
  entries (never waiting: it adds their msg_ids to a set and sets an event). A new message
  and an edited one (an edit sets the words back to NULL) are hints; a round indexes them by
  key, newest first, ``batch`` at a time: a message after a quiet spell is searchable a few
  milliseconds after its acknowledgement, one in a stream within ``gap`` (a quarter second:
  rounds are at least that far apart, so that a stream of commits makes few, larger batches,
  each one statement).
- **Sweeps.** At start (the messages of before the upgrade that added search, those a
  crash left), every ``sweep_interval`` seconds, after a failure and when more than
  ``max_hints`` hints wait: the newest ``batch`` messages with NULL words, through the
  partial index of them, again until a batch comes back short. This is what indexes
  another node's messages when that node died before indexing them, and what makes the
  hints only an optimisation: whatever they miss, a sweep finds within ``sweep_interval``.

Several nodes share one database: each indexes its own commits, and every statement takes
its rows ``FOR UPDATE SKIP LOCKED``, so two indexers never wait for each other nor index a
message twice.

**Under overload** search freshness degrades, sends do not. Indexing costs the database
more than computing the words in the insert did (each message's row is written a second
time, with its index entries), so it must stay out of the way when the database is what
sends wait for: while the committer has found sends queued up behind it after every commit
for :data:`SATURATED_AFTER` seconds (:meth:`chatd.committer.Committer.busy_for`), the
indexer runs one batch per :data:`SATURATED_GAP` seconds at most, of the newest messages
(a trickle, so that a node that never gets a lull still indexes something), and the backlog
waits for the load to drop: then it is indexed, newest first. Otherwise a batch that
comes back full (a backlog) is followed by a rest as long as it took: at most about half of
one database connection. Hints past ``max_hints`` are dropped for a sweep, which bounds the
memory. ``chatd_search_backlog`` shows the backlog a sweep found.

Every ``merge_every`` messages indexed (and after every sweep) the GIN index's pending
list is merged into the index in a statement of its own (:meth:`Storage.index_words`'s
``merge``): searches then read a short list, and no batch merges it while holding its rows.

A failure (the database gone, a statement timed out, even a bug) is logged, the hints are
dropped for a sweep, and the next round comes after a growing delay; nothing is lost, since
the work list is the database's, and the daemon goes on: search lags, chat does not stop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import trio

from chatd.metrics import Metrics
from chatd.storage import Message, Storage, StorageUnavailable

__all__ = ["BACKLOG_COUNT_MAX", "INDEX_BATCH", "Indexer", "hold_back"]

log = logging.getLogger(__name__)

#: Messages indexed per statement (a batch of 1,000 takes tens of milliseconds).
INDEX_BATCH = 1000
#: Seconds between two rounds at least: under a stream of commits, fewer and larger batches.
#: At everyday load (100 sends/s, a commit or two per message) 50 ms still meant a round for
#: every five messages; a quarter second is four rounds a second at any load, and a message
#: searchable well under a second after its acknowledgement.
INDEX_GAP = 0.25
#: Seconds between sweeps of the whole backlog (see the module's docstring).
SWEEP_INTERVAL = 10.0
#: Hints kept at most; past that they are dropped and a sweep finds the messages.
MAX_HINTS = 50_000
#: Messages indexed between two merges of the GIN index's pending list.
MERGE_EVERY = 1000
#: The most messages the backlog gauge counts (counting costs a walk of them).
BACKLOG_COUNT_MAX = 1_000_000
#: Seconds between two counts of the backlog during a long sweep.
BACKLOG_COUNT_INTERVAL = 10.0
#: The send path counts as saturated once the committer has found sends queued up behind it
#: after every commit for this many seconds (:meth:`chatd.committer.Committer.busy_for`).
SATURATED_AFTER = 0.25
#: While it is, one batch at most this often (of the newest messages): a trickle, about 1 %
#: of a core and 0.4 MB/s of WAL at 1,000 messages a batch (benchmarks/README.md).
SATURATED_GAP = 5.0
#: How often a batch held back looks again.
HOLD_POLL = 0.05
#: Delays before the next round after a failure: doubled after each one, up to the max.
RETRY_MIN = 1.0
RETRY_MAX = 30.0


def hold_back(busy_for: float, since_batch: float) -> bool:
    """Whether the next batch waits: the send path has been saturated for
    :data:`SATURATED_AFTER` seconds (``busy_for``) and the last batch was less than
    :data:`SATURATED_GAP` seconds ago (``since_batch``)."""
    return busy_for >= SATURATED_AFTER and since_batch < SATURATED_GAP


class Indexer:
    """The indexing actor (see the module's docstring). :meth:`offer` is the committer's
    hook; :meth:`run` the task. ``busy``: for how many seconds the send path has been
    saturated (the committer's :meth:`~chatd.committer.Committer.busy_for`; never, without
    it). ``rest``: after a full batch, rest this many times as long as it took (0: no rest,
    for tests)."""

    def __init__(self, storage: Storage, metrics: Metrics, *,
                 busy: Callable[[], float] = lambda: 0.0, batch: int = INDEX_BATCH,
                 gap: float = INDEX_GAP, sweep_interval: float = SWEEP_INTERVAL,
                 max_hints: int = MAX_HINTS, merge_every: int = MERGE_EVERY,
                 rest: float = 1.0) -> None:
        self._storage = storage
        self._metrics = metrics
        self._busy = busy
        self._batch_at = -SATURATED_GAP  # (time.monotonic() of the last batch)
        self._batch = batch
        self._gap = gap
        self._sweep_interval = sweep_interval
        self._max_hints = max_hints
        self._merge_every = merge_every
        self._rest = rest
        self._hints: set[int] = set()
        self._sweep_due = True  # at start: whatever is left from before
        self._unmerged = 0
        self._wake = trio.Event()

    def offer(self, entries: Sequence[Message]) -> None:
        """A commit's new entries (from the committer, after publishing them): the new and
        edited messages among them will be indexed. Never waits, never fails."""
        for entry in entries:
            if entry.kind in ("message", "edited"):
                self._hints.add(entry.msg_id)
        if len(self._hints) > self._max_hints:
            self._hints.clear()
            self._sweep_due = True
        self._wake.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        task_status.started()
        next_sweep = trio.current_time()
        delay = RETRY_MIN
        while True:
            # A fresh event before the round: an offer during the round wakes the next one.
            self._wake = trio.Event()
            started = trio.current_time()
            try:
                if self._sweep_due or started >= next_sweep:
                    self._sweep_due = False
                    next_sweep = started + self._sweep_interval
                    await self.sweep()
                await self.index_hints()
            except Exception as exc:
                # Never fatal: search lags, chat goes on. A bug is logged with its traceback.
                self._metrics.search_index_failures.inc()
                if isinstance(exc, StorageUnavailable):
                    log.warning("indexing messages for search failed (again in %.0f s): %s",
                                delay, exc)
                else:
                    log.exception("indexing messages for search failed (again in %.0f s)",
                                  delay)
                self._hints.clear()
                self._sweep_due = True
                await trio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
                continue
            delay = RETRY_MIN
            await trio.sleep_until(started + self._gap)
            with trio.move_on_at(next_sweep):
                await self._wake.wait()

    async def index_hints(self) -> int:
        """Index the hinted messages, newest first, a batch at a time; how many were."""
        total = 0
        while self._hints:
            ids = sorted(self._hints, reverse=True)[:self._batch]
            self._hints.difference_update(ids)
            total += await self._index(ids=ids, full=len(ids) == self._batch)
        return total

    async def sweep(self) -> int:
        """Index every message not indexed yet, newest first, a batch at a time, until a
        batch comes back short; how many were. Keeps the backlog gauge."""
        total = 0
        counted_at: float | None = None
        while True:
            indexed = await self._index(limit=self._batch, full=True, merge=True)
            total += indexed
            if indexed < self._batch:
                self._metrics.search_backlog.set(0)
                return total
            now = trio.current_time()
            if counted_at is None or now - counted_at >= BACKLOG_COUNT_INTERVAL:
                counted_at = now
                self._metrics.search_backlog.set(
                    await self._storage.index_backlog(BACKLOG_COUNT_MAX))

    async def _index(self, *, ids: Sequence[int] | None = None, limit: int = 0,
                     full: bool, merge: bool = False) -> int:
        """One batch, once the send path lets it (:func:`hold_back`); after a ``full`` one
        (more work waits), a rest as long as it took."""
        while hold_back(self._busy(), time.monotonic() - self._batch_at):  # noqa: ASYNC110
            await trio.sleep(HOLD_POLL)  # (the committer's state, looked at now and then)
        started = time.monotonic()
        merge = merge or self._unmerged >= self._merge_every
        indexed = await self._storage.index_words(ids=ids, limit=limit, merge=merge)
        self._unmerged = 0 if merge else self._unmerged + indexed
        self._metrics.search_indexed.inc(indexed)
        self._batch_at = time.monotonic()
        if full and self._rest > 0:
            await trio.sleep((time.monotonic() - started) * self._rest)
        return indexed
