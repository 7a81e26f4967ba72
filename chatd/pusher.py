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

HTTP goes through one httpcore connection pool (HTTP/1.1, keep-alive, on trio) whose network
backend resolves the endpoint's host itself, refuses it unless every address is public
(``[push] allow_private_endpoints`` lifts that), and connects to those very addresses: see
:mod:`chatd.addresses`. TLS is verified against the host's name, as for any https request.

With several nodes, the node that committed a message decides on its pushes, and it knows only
its own connections: a user connected to another node only may get a push as well (presence
across nodes is not shared yet).
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

import httpcore
import trio

from chatd.addresses import RefusedAddress, Resolver, public_addresses
from chatd.config import PushConfig
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
#: The longest ``Retry-After`` followed, in seconds.
MAX_RETRY_AFTER = 60.0
#: Seconds one attempt may take, connecting included.
ATTEMPT_SECONDS = 30.0
#: Messages looked up in one storage call.
RESOLVE_BATCH = 1024
#: Batches of committed messages that may wait for the lookup.
COMMITS_QUEUE = 1024
#: The most bytes of a push service's answer read (its status is what counts).
MAX_ANSWER_BYTES = 16384

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


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's trio backend, connecting only to the addresses :mod:`chatd.addresses`
    allows for the host, and to nothing else (no second lookup behind the check's back)."""

    def __init__(self, allow_private: bool,
                 getaddrinfo: Resolver = trio.socket.getaddrinfo) -> None:
        self._inner = httpcore.TrioBackend()
        self._allow_private = allow_private
        self._getaddrinfo = getaddrinfo

    async def connect_tcp(self, host: str, port: int,
                          timeout: float | None = None,  # noqa: ASYNC109 (httpcore's API)
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None
                          ) -> httpcore.AsyncNetworkStream:
        addresses = await public_addresses(host, port, allow_private=self._allow_private,
                                           getaddrinfo=self._getaddrinfo)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout=timeout,
                                                     local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, path: str,
                                  timeout: float | None = None,  # noqa: ASYNC109
                                  socket_options: Iterable[Any] | None = None
                                  ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("pushes go over TCP only")

    async def sleep(self, seconds: float) -> None:
        await trio.sleep(seconds)


class _Retry(Exception):
    """An attempt that may succeed later; ``after``: how long the push service asked to
    wait, if it did."""

    def __init__(self, why: str, after: float | None = None) -> None:
        super().__init__(why)
        self.after = after


def _retry_after(value: bytes | None) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds, or an HTTP date), if there is one."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    with contextlib.suppress(TypeError, ValueError, IndexError, OverflowError):
        return max(0.0, email.utils.parsedate_to_datetime(text).timestamp() - time.time())
    return None


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
                 key: VapidKey, config: PushConfig, *, retry_delay: float = RETRY_DELAY
                 ) -> None:
        self._storage = storage
        self._registry = registry
        self._metrics = metrics
        self.key = key
        self._config = config
        self._retry_delay = retry_delay
        self._commits_in, self._commits = trio.open_memory_channel[tuple[Message, ...]](
            COMMITS_QUEUE)
        self._jobs_in, self._jobs = trio.open_memory_channel[PushJob](config.queue_size)
        self._pool: httpcore.AsyncConnectionPool | None = None

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
        pool = httpcore.AsyncConnectionPool(
            max_connections=self._config.concurrency, keepalive_expiry=60.0, retries=0,
            network_backend=_PinnedBackend(self._config.allow_private_endpoints))
        self._pool = pool
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._resolve_forever)
                for _ in range(self._config.concurrency):
                    nursery.start_soon(self._work_forever)
                task_status.started()
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                await pool.aclose()

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
            online = {t.user for t in targets if self._registry.is_online(t.user)}
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
        delay = self._retry_delay
        for attempt in range(1, ATTEMPTS + 1):
            try:
                status = await self._post(job, body)
            except RefusedAddress as exc:
                log.warning("refused to push to %s: %s", job.subscription.endpoint, exc)
                self._metrics.push_failed.labels("refused").inc()
                return
            except _Retry as retry:
                if attempt == ATTEMPTS:
                    log.info("gave up pushing to %s after %d attempts: %s",
                             job.subscription.endpoint, attempt, retry)
                    self._metrics.push_failed.labels("unavailable").inc()
                    return
                wait = delay if retry.after is None else min(retry.after, MAX_RETRY_AFTER)
                delay *= 2
                self._metrics.push_retries.inc()
                await trio.sleep(wait)
                continue
            if 200 <= status < 300:
                self._metrics.push_sent.inc()
            elif status in (404, 410):
                await self._forget(job.subscription)
            else:
                log.warning("the push service at %s refused a push: HTTP %d",
                            job.subscription.endpoint, status)
                self._metrics.push_failed.labels("rejected").inc()
            return

    async def _post(self, job: PushJob, body: bytes) -> int:
        """One attempt: the answer's status.

        Raises:
            _Retry: 429, a 5xx, a timeout or a network error.
            RefusedAddress: the endpoint's host may not be connected to.
        """
        assert self._pool is not None, "the pusher runs"
        endpoint = job.subscription.endpoint
        headers = [
            (b"Authorization", self.key.authorization(endpoint, self._config.subject).encode()),
            (b"Content-Encoding", b"aes128gcm"),
            (b"Content-Type", b"application/octet-stream"),
            (b"TTL", str(self._config.ttl).encode()),
            (b"Urgency", job.urgency.encode()),
        ]
        timeouts = {"connect": ATTEMPT_SECONDS, "read": ATTEMPT_SECONDS,
                    "write": ATTEMPT_SECONDS, "pool": ATTEMPT_SECONDS}
        try:
            with trio.fail_after(ATTEMPT_SECONDS):
                async with self._pool.stream("POST", endpoint, headers=headers, content=body,
                                             extensions={"timeout": timeouts}) as response:
                    read = 0
                    async for chunk in response.aiter_stream():
                        read += len(chunk)
                        if read > MAX_ANSWER_BYTES:
                            break
        except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError,
                trio.TooSlowError, OSError) as exc:
            raise _Retry(f"{type(exc).__name__}: {exc}") from None
        except httpcore.UnsupportedProtocol as exc:  # not http(s): refused when stored
            raise RefusedAddress(str(exc)) from None
        status = response.status
        if status == 429 or status >= 500:
            raise _Retry(f"HTTP {status}",
                         _retry_after(_header(response.headers, b"retry-after")))
        return status

    async def _forget(self, subscription: PushSubscription) -> None:
        """The push service says the subscription is gone (404, 410): forget it."""
        try:
            if await self._storage.forget_push_subscription(subscription.endpoint):
                self._metrics.push_subscriptions_removed.inc()
        except StorageUnavailable as exc:
            log.warning("cannot forget the push subscription %s: %s", subscription.endpoint,
                        exc)


def _header(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None
