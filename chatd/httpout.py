"""HTTP requests chatd makes to URLs its users name: Web Push (chatd.pusher), outgoing
webhooks (chatd.webhooks) and link previews (chatd.previews).

Theory of operation. A user chooses where chatd posts (a push subscription's endpoint, a
room's webhook URL), so every request must keep to public addresses
(:mod:`chatd.addresses`), including when the name resolves differently between a check and
the connection (DNS rebinding). A :class:`Poster` is one httpcore connection pool (HTTP/1.1,
keep-alive, on trio) whose network backend (:class:`PinnedBackend`) resolves the host itself,
refuses it unless every address is public (``allow_private`` lifts that, for tests and closed
networks), and connects to those very addresses and nothing else. TLS is verified against the
URL's host name, as for any https request.

One attempt (:meth:`Poster.post`) is bounded in time, reads at most a little of the answer
(its status is what counts), and sorts failures: 429, a 5xx, a timeout or a network error is a
:class:`Retry` (with the ``Retry-After`` asked for, if any); an address that may not be used is
:class:`~chatd.addresses.RefusedAddress`. :func:`post_with_retries` tries again after a delay
that doubles, or what the server asked for (up to :data:`MAX_RETRY_AFTER`), a given number of
times. What an answer means beyond that (a 410 for a push, a 4xx for a webhook) is the
caller's to decide.

Both callers are a :class:`Dispatcher`: the committer offers it every batch of new messages
(never waiting: a full queue drops and counts), one resolver task turns up to
:data:`RESOLVE_BATCH` of them into jobs with one storage lookup (lookups start at least
:data:`RESOLVE_GAP` apart, so that the one-message commits of a quiet server share them), and
``concurrency`` workers post the jobs. The pusher and the webhook sender say only how to
look up and how to deliver.

A server without any webhook, or without any push subscription, would still make that lookup
after every commit (up to 20 a second each at everyday load), to find nothing. So a dispatcher
given ``any_targets`` knows whether its table has a row at all: it asks at start, and again
each time it is :meth:`~Dispatcher.touched` (a row was added or removed on any node: a
notice of migration 0021, relayed by chatd.cluster; or by this node's own request, at once,
before it is answered; or the listener is back after notices may have been lost). While the
answer is "none", commits are not even queued. An addition is believed at once and a
"none" only if nothing touched the table while it was being read, so a row added is never
missed for longer than its notice takes to arrive from another node.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, Generic, TypeVar

import httpcore
import trio
from prometheus_client import Counter

from chatd.addresses import RefusedAddress, Resolver, public_addresses
from chatd.presence import PresenceState
from chatd.storage import Message, StorageUnavailable

__all__ = [
    "ATTEMPT_SECONDS",
    "COMMITS_QUEUE",
    "MAX_ANSWER_BYTES",
    "MAX_RETRY_AFTER",
    "RESOLVE_BATCH",
    "RESOLVE_GAP",
    "TARGETS_RETRY",
    "Counters",
    "Dispatcher",
    "Fetched",
    "GaveUp",
    "PinnedBackend",
    "Poster",
    "Retry",
    "header",
    "post_with_retries",
    "retry_after",
]

#: Seconds one attempt may take, connecting included.
ATTEMPT_SECONDS = 30.0
#: The most bytes of an answer read (its status is what counts).
MAX_ANSWER_BYTES = 16384
#: The longest ``Retry-After`` followed, in seconds.
MAX_RETRY_AFTER = 60.0
#: Messages a dispatcher looks up in one storage call.
RESOLVE_BATCH = 1024
#: Batches of committed messages that may wait for a dispatcher's lookup.
COMMITS_QUEUE = 1024
#: Seconds at least between the start of two lookups of one dispatcher. At everyday load a
#: commit holds one message or two: without a gap each would cost a storage lookup (a crossing
#: of the asyncio bridge and a query) of its own; with it, what commits meanwhile joins the
#: next lookup. A lookup after a quiet spell is not delayed.
RESOLVE_GAP = 0.05
#: Seconds before asking again whether there are targets, after the database refused.
TARGETS_RETRY = 1.0

log = logging.getLogger(__name__)

Job = TypeVar("Job")


class PinnedBackend(httpcore.AsyncNetworkBackend):
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
        raise httpcore.ConnectError("requests go over TCP only")

    async def sleep(self, seconds: float) -> None:
        await trio.sleep(seconds)


class Retry(Exception):
    """An attempt that may succeed later; ``after``: how long the server asked to wait, if
    it did."""

    def __init__(self, why: str, after: float | None = None) -> None:
        super().__init__(why)
        self.after = after


class GaveUp(Exception):
    """Every attempt asked for a retry; the message is the last one's reason."""


def retry_after(value: bytes | None) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds, or an HTTP date), if there is one."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    with contextlib.suppress(TypeError, ValueError, IndexError, OverflowError):
        return max(0.0, email.utils.parsedate_to_datetime(text).timestamp() - time.time())
    return None


def header(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The value of header ``name`` (lower case), if present."""
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


@dataclasses.dataclass(frozen=True, slots=True)
class Fetched:
    """The answer to a GET (:meth:`Poster.get`): its ``status`` and ``headers``, and at most
    ``max_bytes`` of its ``body``; ``truncated`` when there was more (never read)."""

    status: int
    headers: Sequence[tuple[bytes, bytes]]
    body: bytes
    truncated: bool


class Poster:
    """A pool of at most ``concurrency`` connections for requests to users' URLs (POSTs,
    and the GETs of link previews); use it as ``async with Poster(...) as poster``.

    Args:
        concurrency: connections at once (requests beyond wait for one).
        allow_private: connect to non-public addresses too (tests, closed networks).
        getaddrinfo: the resolver (tests answer names themselves).
    """

    def __init__(self, *, concurrency: int, allow_private: bool,
                 getaddrinfo: Resolver = trio.socket.getaddrinfo) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            max_connections=concurrency, keepalive_expiry=60.0, retries=0,
            network_backend=PinnedBackend(allow_private, getaddrinfo))

    async def __aenter__(self) -> Poster:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, value: BaseException | None,
                        traceback: TracebackType | None) -> None:
        with trio.CancelScope(shield=True), trio.move_on_after(1):
            await self._pool.aclose()

    async def post(self, url: str, headers: Sequence[tuple[bytes, bytes]], body: bytes,
                   *, seconds: float = ATTEMPT_SECONDS) -> int:
        """One attempt: the answer's status (its body is read, up to
        :data:`MAX_ANSWER_BYTES`, and dropped).

        Raises:
            Retry: 429, a 5xx, a timeout or a network error.
            RefusedAddress: the host may not be connected to (or the URL is not http(s)).
        """
        timeouts = {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}
        try:
            with trio.fail_after(seconds):
                async with self._pool.stream("POST", url, headers=list(headers), content=body,
                                             extensions={"timeout": timeouts}) as response:
                    read = 0
                    async for chunk in response.aiter_stream():
                        read += len(chunk)
                        if read > MAX_ANSWER_BYTES:
                            break
        except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError,
                trio.TooSlowError, OSError) as exc:
            raise Retry(f"{type(exc).__name__}: {exc}") from None
        except httpcore.UnsupportedProtocol as exc:  # not http(s): refused when stored
            raise RefusedAddress(str(exc)) from None
        status = response.status
        if status == 429 or status >= 500:
            raise Retry(f"HTTP {status}", retry_after(header(response.headers, b"retry-after")))
        return status


    async def get(self, url: str, headers: Sequence[tuple[bytes, bytes]], *, max_bytes: int,
                  seconds: float, sink: Callable[[bytes], Awaitable[None]] | None = None
                  ) -> Fetched:
        """One GET, redirects not followed (the caller checks each hop): the answer, with at
        most ``max_bytes`` of its body if it is a 200 (of another, at most
        :data:`MAX_ANSWER_BYTES`: its status is what counts). With ``sink``, a 200's body
        goes to it a chunk at a time instead of into the answer (which then holds none), so
        that a large body is never all in memory. The connection of an answer cut short is
        closed, not drained, so that a large body costs no more than what was read.

        Raises:
            Retry: a timeout (``seconds`` for the whole request, body included), a network or
                protocol error.
            RefusedAddress: the host may not be connected to (or the URL is not http(s)).
        """
        timeouts = {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}
        chunks: list[bytes] = []
        read = 0
        truncated = False
        try:
            with trio.fail_after(seconds):
                async with self._pool.stream("GET", url, headers=list(headers),
                                             extensions={"timeout": timeouts}) as response:
                    wanted = response.status == 200
                    most = max_bytes if wanted else MAX_ANSWER_BYTES
                    async for chunk in response.aiter_stream():
                        if read + len(chunk) > most:
                            truncated = True
                            chunk = chunk[:most - read]  # what fits, then no more
                        read += len(chunk)
                        if sink is not None and wanted:
                            await sink(chunk)
                        else:
                            chunks.append(chunk)
                        if truncated:
                            break
        except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError,
                trio.TooSlowError, OSError) as exc:
            raise Retry(f"{type(exc).__name__}: {exc}") from None
        except httpcore.UnsupportedProtocol as exc:
            raise RefusedAddress(str(exc)) from None
        return Fetched(status=response.status, headers=list(response.headers),
                       body=b"".join(chunks), truncated=truncated)


async def post_with_retries(attempt: Callable[[], Awaitable[int]], *, attempts: int,
                            delay: float, on_retry: Callable[[Retry], None] | None = None
                            ) -> int:
    """Call ``attempt`` (one request, e.g. a :meth:`Poster.post` with fresh headers) until
    it gives a status, at most ``attempts`` times, waiting ``delay`` seconds before the first
    retry and twice as long before each next one, or what the server asked for (up to
    :data:`MAX_RETRY_AFTER`).

    Returns:
        The status of the first attempt that did not ask for a retry.

    Raises:
        GaveUp: the last attempt asked for a retry too.
        RefusedAddress: from ``attempt``, at once (trying again would not help).
    """
    for number in range(1, attempts + 1):
        try:
            return await attempt()
        except Retry as retry:
            if number == attempts:
                raise GaveUp(f"{retry} (after {number} attempts)") from None
            if on_retry is not None:
                on_retry(retry)
            await trio.sleep(delay if retry.after is None else min(retry.after, MAX_RETRY_AFTER))
            delay *= 2
    raise AssertionError("attempts must be at least 1")


@dataclasses.dataclass(frozen=True, slots=True)
class Counters:
    """The metrics of one :class:`Dispatcher` (``chatd_push_*``, ``chatd_webhook_*``):
    ``dropped`` is labelled by ``stage`` (``lookup``, ``send``), ``failed`` by ``reason``
    (``refused``, ``unavailable``, ``rejected``, ``internal``)."""

    queued: Counter
    sent: Counter
    retries: Counter
    failed: Counter
    dropped: Counter


class Dispatcher(Generic[Job]):
    """Posts about committed messages, off the send path (see the module's docstring). A
    subclass says what a batch of messages means (:meth:`resolve`, one storage lookup) and
    how one job is sent (:meth:`deliver`, usually through :meth:`post`).

    Args:
        what: what a job is, for the log ("a push", "a webhook delivery").
        counters: its metrics.
        concurrency: workers, and connections at once.
        allow_private: post to non-public addresses too.
        queue_size: jobs that may wait for a worker (more are dropped and counted).
        attempts: tries of one job (the first and the retries).
        retry_delay: seconds before the first retry; doubled for each next one.
        resolve_gap: seconds at least between the starts of two lookups.
        any_targets: whether there is anything to look up at all (see the module's
            docstring); without it, every commit is looked up.
        presence: the presence tracker's state, for a subclass that leaves out who had a
            message live (:meth:`had_it_live`).
    """

    def __init__(self, what: str, counters: Counters, *, concurrency: int,
                 allow_private: bool, queue_size: int, attempts: int,
                 retry_delay: float, resolve_gap: float = RESOLVE_GAP,
                 any_targets: Callable[[], Awaitable[bool]] | None = None,
                 presence: PresenceState | None = None) -> None:
        self._what = what
        self._any_targets = any_targets
        self._presence = presence
        #: (room, seq) -> the tracker's departures when it was committed, until looked up
        self._marks: dict[tuple[str, int], int] = {}
        #: Whether there may be targets: False only once storage said there are none.
        self.some = True
        self._touches = 0  # how many times the table was touched (see touched)
        self._look = trio.Event()  # set: ask storage whether there are targets
        self._look.set()
        self._resolve_gap = resolve_gap
        self._counters = counters
        self._concurrency = concurrency
        self._allow_private = allow_private
        self._attempts = attempts
        self._retry_delay = retry_delay
        self._commits_in, self._commits = trio.open_memory_channel[tuple[Message, ...]](
            COMMITS_QUEUE)
        self._jobs_in, self._jobs = trio.open_memory_channel[Job](queue_size)
        self._poster: Poster | None = None

    def offer(self, messages: Sequence[Message]) -> None:
        """Committed entries, from the committer: the new messages among them (not changes)
        are queued for a lookup, never waited for (dropped and counted when the queue is
        full). With ``presence``, each queued message notes the tracker's count of
        departures as of its commit (:meth:`had_it_live`)."""
        queued = self._queue_lookup(messages)
        if queued and self._presence is not None:
            mark = self._presence.departures
            self._marks.update(((m.room, m.seq), mark) for m in queued)

    def had_it_live(self, messages: Sequence[Message]) -> Callable[[str, str, int], bool]:
        """For :meth:`resolve`, before its lookup (it takes the messages' notes): whether a
        user had message (room, seq) live, connected to some node when it was committed.
        The lookup comes later (a busy database, the gap between lookups), and someone who
        left meanwhile saw the message: asked of the moment of the commit, not of the
        lookup's (:meth:`chatd.presence.PresenceState.left_since`). Without ``presence``:
        nobody."""
        marks = {(m.room, m.seq): self._marks.pop((m.room, m.seq), None) for m in messages}
        presence = self._presence
        if presence is None:
            return lambda user, room, seq: False

        def had(user: str, room: str, seq: int) -> bool:
            mark = marks.get((room, seq))
            return presence.is_online(user) or (
                mark is not None and presence.left_since(user, mark))
        return had

    def _queue_lookup(self, messages: Sequence[Message]) -> tuple[Message, ...]:
        """:meth:`offer`'s work: the messages queued for a lookup (none when dropped)."""
        if not self.some:
            return ()
        fresh = tuple(m for m in messages if m.kind == "message")
        if not fresh:
            return ()
        try:
            self._commits_in.send_nowait(fresh)
        except trio.WouldBlock:
            self._counters.dropped.labels("lookup").inc(len(fresh))
            return ()
        return fresh

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        async with Poster(concurrency=self._concurrency,
                          allow_private=self._allow_private) as poster:
            self._poster = poster
            async with trio.open_nursery() as nursery:
                if self._any_targets is not None:
                    await self._ask_whether_any()  # before the first commit is offered
                    nursery.start_soon(self._watch_targets)
                nursery.start_soon(self._resolve_forever)
                for _ in range(self._concurrency):
                    nursery.start_soon(self._work_forever)
                task_status.started()

    def touched(self) -> None:
        """Targets were added or removed (or may have been, unseen): believe there are
        some until storage says otherwise. Never blocks."""
        self.some = True
        self._touches += 1
        self._look.set()

    async def _watch_targets(self) -> None:
        while True:
            await self._look.wait()
            await self._ask_whether_any()

    async def _ask_whether_any(self) -> None:
        assert self._any_targets is not None
        self._look = trio.Event()
        touches = self._touches
        try:
            some = await self._any_targets()
        except StorageUnavailable as exc:
            log.warning("cannot tell whether there is %s to make (asking again): %s",
                        self._what, exc)
            self.some = True
            await trio.sleep(TARGETS_RETRY)
            self._look.set()
            return
        if touches == self._touches:  # else a touch came meanwhile: its look decides
            self.some = some

    async def resolve(self, messages: Sequence[Message]) -> Iterable[Job]:
        """The jobs for a batch of new messages (one storage lookup; may raise
        :class:`~chatd.storage.StorageUnavailable`)."""
        raise NotImplementedError

    async def deliver(self, job: Job) -> None:
        """Send one job and count its outcome."""
        raise NotImplementedError

    def describe(self, job: Job) -> str:
        """Where ``job`` goes, for the log."""
        raise NotImplementedError

    async def post(self, job: Job, attempt: Callable[[], Awaitable[int]]) -> int | None:
        """Run ``attempt`` (one request) with retries: the status of the answer, or None
        when it was refused or given up (logged and counted)."""
        try:
            return await post_with_retries(
                attempt, attempts=self._attempts, delay=self._retry_delay,
                on_retry=lambda _: self._counters.retries.inc())
        except RefusedAddress as exc:
            log.warning("refused %s to %s: %s", self._what, self.describe(job), exc)
            self._counters.failed.labels("refused").inc()
        except GaveUp as exc:
            log.info("gave up %s to %s: %s", self._what, self.describe(job), exc)
            self._counters.failed.labels("unavailable").inc()
        return None

    @property
    def poster(self) -> Poster:
        assert self._poster is not None, "the dispatcher runs"
        return self._poster

    async def _resolve_forever(self) -> None:
        looked_up_at = -math.inf
        async for first in self._commits:
            # What commits during the gap joins this lookup (see RESOLVE_GAP).
            await trio.sleep_until(looked_up_at + self._resolve_gap)
            looked_up_at = trio.current_time()
            messages = list(first)
            while len(messages) < RESOLVE_BATCH:
                try:
                    messages.extend(self._commits.receive_nowait())
                except trio.WouldBlock:
                    break
            try:
                jobs = await self.resolve(messages)
            except StorageUnavailable as exc:
                log.warning("cannot look up %s for %d messages: %s", self._what,
                            len(messages), exc)
                self._counters.dropped.labels("lookup").inc(len(messages))
                continue
            self.queue(jobs)

    def queue(self, jobs: Iterable[Job]) -> None:
        """Hand ``jobs`` to the workers, never waiting: a job that does not fit in the queue
        is dropped and counted."""
        for job in jobs:
            try:
                self._jobs_in.send_nowait(job)
                self._counters.queued.inc()
            except trio.WouldBlock:
                self._counters.dropped.labels("send").inc()

    async def _work_forever(self) -> None:
        async for job in self._jobs:
            try:
                await self.deliver(job)
            except Exception:
                log.exception("%s to %s failed", self._what, self.describe(job))
                self._counters.failed.labels("internal").inc()
