"""The pusher: Web Push for people with no open connection, off the send path.

Theory of operation. The committer hands every batch of newly committed messages to
:meth:`Pusher.offer`, which never waits: the batch goes into a bounded queue, or is dropped and
counted when the queue is full. So pushes can fall behind, or be lost under a flood, but they
never delay a commit or an acknowledgement.

One task (the resolver) takes what is queued, up to :data:`RESOLVE_BATCH` messages at once,
and asks storage in one call who should get a push for each (:meth:`Storage.push_targets`:
the other member of a 1:1 conversation, the members a message mentions, the members whose
level for the room is ``all``; never the sender; each with their subscriptions). It keeps one
reason per user and message (a direct message, then a mention, then a plain message), leaves
out the users who have a connection open on this node (they see the message live; the page
notifies them itself), and queues one job per subscription, in a second bounded queue
(``[push] queue_size``; a job that does not fit is dropped and counted).

``[push] concurrency`` workers send the jobs: each encrypts the payload to the subscription's
keys, signs the VAPID header, and POSTs it with a ``TTL`` (``[push] ttl``) and an ``Urgency``
(``high`` for a direct message or a mention, ``normal`` otherwise). A 2xx is sent; 404 or 410
means the browser's subscription is gone, and it is removed; 429, a 5xx, a timeout or a
network error is tried again after a delay that doubles (or the ``Retry-After`` the push service
asks for, up to :data:`MAX_RETRY_AFTER`), :data:`ATTEMPTS` times in all; any other answer fails
at once. Each outcome is counted (``chatd_push_*``).

HTTP goes through one :class:`chatd.httpout.Poster` (shared with outgoing webhooks), whose
connections resolve the endpoint's host themselves, refuse it unless every address is public
(``[push] allow_private_endpoints`` lifts that), and connect to those very addresses: see
:mod:`chatd.httpout` and :mod:`chatd.addresses`.

With several nodes, the node that committed a message decides on its pushes, and it knows only
its own connections: a user connected to another node only may get a push as well (presence
across nodes is not shared yet).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Sequence

import trio

from chatd.addresses import RefusedAddress
from chatd.config import PushConfig
from chatd.httpout import GaveUp, Poster, post_with_retries
from chatd.metrics import Metrics
from chatd.rooms import RoomRegistry
from chatd.storage import Message, PushSubscription, PushTarget, Storage, StorageUnavailable
from chatd.webpush import VapidKey, encrypt, payload

__all__ = ["ATTEMPTS", "PushJob", "Pusher", "jobs_for"]

log = logging.getLogger(__name__)

#: Tries of one push (the first and the retries).
ATTEMPTS = 3
#: Seconds before the first retry; doubled for each next one.
RETRY_DELAY = 1.0
#: Messages looked up in one storage call.
RESOLVE_BATCH = 1024
#: Batches of committed messages that may wait for the lookup.
COMMITS_QUEUE = 1024

#: The urgency of a push by its reason (RFC 8030: "high" may wake a phone at once).
URGENCY = {"dm": "high", "mention": "high", "message": "normal"}
_RANK = {"dm": 0, "mention": 1, "message": 2}


@dataclasses.dataclass(frozen=True, slots=True)
class PushJob:
    """One push to send: the JSON ``payload`` to one subscription of ``user``."""

    user: str
    subscription: PushSubscription
    payload: bytes
    urgency: str


def jobs_for(messages: Iterable[Message], targets: Iterable[PushTarget],
             online: Iterable[str] | None = None) -> list[PushJob]:
    """The pushes to send for ``messages`` given storage's ``targets`` for them: one reason
    per user and message (the most urgent), none for the users in ``online``, one job per
    subscription. Pure."""
    by_key = {(m.room, m.seq): m for m in messages}
    skip = set(online or ())
    best: dict[tuple[str, int, str], str] = {}
    subscriptions: dict[tuple[str, int, str], dict[str, PushSubscription]] = {}
    for target in targets:
        key = (target.room, target.seq, target.user)
        if (target.room, target.seq) not in by_key or target.user in skip:
            continue
        if key not in best or _RANK[target.reason] < _RANK[best[key]]:
            best[key] = target.reason
        subscriptions.setdefault(key, {})[target.subscription.endpoint] = target.subscription
    jobs: list[PushJob] = []
    for key, reason in best.items():
        body = payload(by_key[key[:2]], reason)
        jobs.extend(PushJob(key[2], subscription, body, URGENCY[reason])
                    for subscription in subscriptions[key].values())
    return jobs


class Pusher:
    """The push actor (see the module's docstring).

    Args:
        storage: who gets pushes, and their subscriptions.
        registry: who has a connection open on this node.
        metrics: the ``chatd_push_*`` counters.
        key: the server's VAPID key.
        config: ``[push]``.
        retry_delay: seconds before the first retry (tests shorten it).
    """

    def __init__(self, storage: Storage, registry: RoomRegistry, metrics: Metrics,
                 key: VapidKey, config: PushConfig, *, retry_delay: float = RETRY_DELAY,
                 is_online: Callable[[str], bool] | None = None) -> None:
        self._storage = storage
        self._registry = registry
        # Online on any node (the presence tracker's view), else on this node only.
        self._is_online = is_online or registry.is_online
        self._metrics = metrics
        self.key = key
        self._config = config
        self._retry_delay = retry_delay
        self._commits_in, self._commits = trio.open_memory_channel[tuple[Message, ...]](
            COMMITS_QUEUE)
        self._jobs_in, self._jobs = trio.open_memory_channel[PushJob](config.queue_size)
        self._poster: Poster | None = None

    def offer(self, messages: Sequence[Message]) -> None:
        """Committed messages, from the committer: queued for a lookup, never waited for
        (dropped and counted when the queue is full). Only new messages count, not changes."""
        fresh = tuple(m for m in messages if m.kind == "message")
        if not fresh:
            return
        try:
            self._commits_in.send_nowait(fresh)
        except trio.WouldBlock:
            self._metrics.push_dropped.labels("lookup").inc(len(fresh))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        async with Poster(concurrency=self._config.concurrency,
                          allow_private=self._config.allow_private_endpoints) as poster:
            self._poster = poster
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._resolve_forever)
                for _ in range(self._config.concurrency):
                    nursery.start_soon(self._work_forever)
                task_status.started()

    # -- who gets what -----------------------------------------------------------------------

    async def _resolve_forever(self) -> None:
        async for first in self._commits:
            messages = list(first)
            while len(messages) < RESOLVE_BATCH:
                try:
                    messages.extend(self._commits.receive_nowait())
                except trio.WouldBlock:
                    break
            try:
                targets = await self._storage.push_targets([(m.room, m.seq) for m in messages])
            except StorageUnavailable as exc:
                log.warning("cannot look up the pushes of %d messages: %s", len(messages), exc)
                self._metrics.push_dropped.labels("lookup").inc(len(messages))
                continue
            online = {t.user for t in targets if self._is_online(t.user)}
            for job in jobs_for(messages, targets, online):
                try:
                    self._jobs_in.send_nowait(job)
                    self._metrics.push_queued.inc()
                except trio.WouldBlock:
                    self._metrics.push_dropped.labels("send").inc()

    # -- sending -----------------------------------------------------------------------------

    async def _work_forever(self) -> None:
        async for job in self._jobs:
            try:
                await self._deliver(job)
            except Exception:
                log.exception("a push to %s failed", job.subscription.endpoint)
                self._metrics.push_failed.labels("internal").inc()

    async def _deliver(self, job: PushJob) -> None:
        try:
            body = encrypt(job.payload, job.subscription)
        except ValueError as exc:
            log.warning("cannot push to %s: %s", job.subscription.endpoint, exc)
            self._metrics.push_failed.labels("rejected").inc()
            return
        try:
            status = await post_with_retries(
                lambda: self._post(job, body), attempts=ATTEMPTS, delay=self._retry_delay,
                on_retry=lambda _: self._metrics.push_retries.inc())
        except RefusedAddress as exc:
            log.warning("refused to push to %s: %s", job.subscription.endpoint, exc)
            self._metrics.push_failed.labels("refused").inc()
            return
        except GaveUp as exc:
            log.info("gave up pushing to %s: %s", job.subscription.endpoint, exc)
            self._metrics.push_failed.labels("unavailable").inc()
            return
        if 200 <= status < 300:
            self._metrics.push_sent.inc()
        elif status in (404, 410):
            await self._forget(job.subscription)
        else:
            log.warning("the push service at %s refused a push: HTTP %d",
                        job.subscription.endpoint, status)
            self._metrics.push_failed.labels("rejected").inc()

    async def _post(self, job: PushJob, body: bytes) -> int:
        """One attempt (signed afresh): the answer's status; raises as
        :meth:`chatd.httpout.Poster.post`."""
        assert self._poster is not None, "the pusher runs"
        endpoint = job.subscription.endpoint
        headers = [
            (b"Authorization", self.key.authorization(endpoint, self._config.subject).encode()),
            (b"Content-Encoding", b"aes128gcm"),
            (b"Content-Type", b"application/octet-stream"),
            (b"TTL", str(self._config.ttl).encode()),
            (b"Urgency", job.urgency.encode()),
        ]
        return await self._poster.post(endpoint, headers, body)

    async def _forget(self, subscription: PushSubscription) -> None:
        """The push service says the subscription is gone (404, 410): forget it."""
        try:
            if await self._storage.forget_push_subscription(subscription.endpoint):
                self._metrics.push_subscriptions_removed.inc()
        except StorageUnavailable as exc:
            log.warning("cannot forget the push subscription %s: %s", subscription.endpoint,
                        exc)

