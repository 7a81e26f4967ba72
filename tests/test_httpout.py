"""chatd.httpout: the HTTP client for users' URLs (Web Push, outgoing webhooks): a
connection goes only where the address check allowed, and retries follow the rules (a delay
that doubles, the server's Retry-After up to a cap, refusals at once)."""

from __future__ import annotations

import itertools
import socket
from typing import Any

import httpcore
import pytest
import trio
import trio.testing
from prometheus_client import CollectorRegistry, Counter

from chatd.addresses import RefusedAddress
from chatd.httpout import (
    MAX_RETRY_AFTER,
    RESOLVE_GAP,
    Counters,
    Dispatcher,
    GaveUp,
    PinnedBackend,
    Retry,
    post_with_retries,
    retry_after,
)
from chatd.storage import Message, StorageUnavailable
from tests.helpers import until
from tests.pushservice import PushService


def resolver(answer: str) -> Any:
    """A resolver that answers ``answer`` for every name, as a DNS server could."""
    asked: list[str] = []

    async def getaddrinfo(host: str, port: int, **kwargs: Any) -> list[tuple[Any, ...]]:
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer, port))]

    getaddrinfo.asked = asked  # type: ignore[attr-defined]
    return getaddrinfo


async def test_a_connection_goes_to_the_checked_address(nursery: trio.Nursery) -> None:
    """The backend connects to the address it resolved and judged, with the endpoint's
    name in the request: push.example (which no real DNS resolves) reaches the service on
    127.0.0.1, asked of the resolver once; without allow_private the same answer is refused
    before anything connects."""
    service = PushService()
    await nursery.start(service.serve)
    endpoint = f"http://push.example:{service.port}/push/x"
    with trio.fail_after(20):
        getaddrinfo = resolver("127.0.0.1")
        async with httpcore.AsyncConnectionPool(
                network_backend=PinnedBackend(True, getaddrinfo)) as pool:
            response = await pool.request("POST", endpoint, content=b"x")
        assert response.status == 400  # it reached the service (which wants a real push)
        assert service.requests == {"x": 1} and getaddrinfo.asked == ["push.example"]

        async with httpcore.AsyncConnectionPool(
                network_backend=PinnedBackend(False, resolver("127.0.0.1"))) as pool:
            with pytest.raises(RefusedAddress):
                await pool.request("POST", endpoint, content=b"x")
        assert service.connections == 1


async def test_retries_wait_longer_each_time(autojump_clock: Any) -> None:
    """Two retries then a status: waits of delay, then twice that; each retry reported."""
    answers: list[Any] = [Retry("HTTP 500"), Retry("HTTP 503"), 200]
    started = trio.current_time()
    waited: list[float] = []
    seen: list[str] = []

    async def attempt() -> int:
        waited.append(trio.current_time() - started)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return int(answer)

    status = await post_with_retries(attempt, attempts=3, delay=1.0,
                                     on_retry=lambda retry: seen.append(str(retry)))
    assert status == 200 and seen == ["HTTP 500", "HTTP 503"]
    assert waited == pytest.approx([0.0, 1.0, 3.0])


async def test_retry_after_is_followed_up_to_a_cap(autojump_clock: Any) -> None:
    """A server's Retry-After replaces the delay, but never beyond MAX_RETRY_AFTER."""
    answers: list[Any] = [Retry("HTTP 429", after=5.0), Retry("HTTP 429", after=1e9), 204]
    started = trio.current_time()

    async def attempt() -> int:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return int(answer)

    assert await post_with_retries(attempt, attempts=3, delay=1.0) == 204
    assert trio.current_time() - started == pytest.approx(5.0 + MAX_RETRY_AFTER)


async def test_giving_up_and_refusals(autojump_clock: Any) -> None:
    """After the last attempt a retry becomes GaveUp; a refused address is not retried."""
    calls = 0

    async def always_busy() -> int:
        nonlocal calls
        calls += 1
        raise Retry("HTTP 502")

    with pytest.raises(GaveUp, match="HTTP 502"):
        await post_with_retries(always_busy, attempts=4, delay=0.5)
    assert calls == 4

    async def refused() -> int:
        nonlocal calls
        calls += 1
        raise RefusedAddress("loopback")

    calls = 0
    with pytest.raises(RefusedAddress):
        await post_with_retries(refused, attempts=4, delay=0.5)
    assert calls == 1


def test_retry_after_values() -> None:
    """Seconds or an HTTP date; anything else is no hint."""
    assert retry_after(b"120") == 120.0
    assert retry_after(None) is None and retry_after(b"soon") is None
    assert retry_after(b"Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: at once


class _Echo(Dispatcher[int]):
    """A dispatcher whose jobs are the messages' seqs: a lookup of seq 13 fails, a delivery of
    seq 7 raises; the others are recorded."""

    def __init__(self, counters: Counters) -> None:
        super().__init__("an echo", counters, concurrency=2, allow_private=False,
                         queue_size=3, attempts=1, retry_delay=0)
        self.delivered: list[int] = []

    async def resolve(self, messages: Any) -> list[int]:
        if any(m.seq == 13 for m in messages):
            raise StorageUnavailable("the database is gone")
        return [m.seq for m in messages]

    async def deliver(self, job: int) -> None:
        if job == 7:
            raise RuntimeError("a bug")
        self.delivered.append(job)

    def describe(self, job: int) -> str:
        return f"job {job}"


def _counters() -> Counters:
    registry = CollectorRegistry()
    return Counters(*(Counter(f"t_{name}", name, labels, registry=registry) for name, labels in (
        ("queued", ()), ("sent", ()), ("retries", ()), ("failed", ("reason",)),
        ("dropped", ("stage",)))))


def _message(seq: int, kind: str = "message") -> Message:
    return Message(room="team", seq=seq, msg_id=seq, sender="ann", text="", ts=0,
                   nonce=str(seq), kind=kind)


async def test_a_dispatcher_survives_failed_lookups_and_deliveries(nursery: trio.Nursery
                                                                   ) -> None:
    """Shared by the pusher and the webhook sender: a failed lookup drops and counts its batch,
    a delivery that raises is counted as ``internal`` and the workers go on; changes are not
    offered; jobs past the queue are dropped and counted, never waited for."""
    counters = _counters()
    echo = _Echo(counters)
    await nursery.start(echo.run)
    dropped, failed = counters.dropped.labels, counters.failed.labels
    echo.offer([_message(13)])
    with trio.fail_after(10):
        await until(lambda: dropped("lookup")._value.get() == 1)
    echo.offer([_message(1), _message(2, kind="edited")])
    echo.offer([_message(7)])
    echo.offer([_message(3)])
    with trio.fail_after(10):
        await until(lambda: sorted(echo.delivered) == [1, 3]
                    and failed("internal")._value.get() == 1)
    assert counters.queued._value.get() == 3
    # Ten jobs found at once, with room for three waiting: what does not fit is dropped.
    echo.offer([_message(seq) for seq in range(20, 30)])
    with trio.fail_after(10):
        await until(lambda: len(echo.delivered) - 2 + dropped("send")._value.get() == 10)
    assert dropped("send")._value.get() >= 1


class _Timed(_Echo):
    """An echo that records when each lookup started and how many messages it held."""

    def __init__(self, counters: Counters) -> None:
        super().__init__(counters)
        self.lookups: list[tuple[float, int]] = []

    async def resolve(self, messages: Any) -> list[int]:
        self.lookups.append((trio.current_time(), len(messages)))
        return await super().resolve(messages)


async def test_lookups_are_shared_by_the_commits_of_a_quiet_server(
        nursery: trio.Nursery, autojump_clock: Any) -> None:
    """One commit of one message after a quiet spell is looked up at once; a stream of them
    (a message every 5 ms, as at 200 messages/s) is looked up at most once per RESOLVE_GAP,
    each lookup carrying what committed meanwhile."""
    echo = _Timed(_counters())
    await nursery.start(echo.run)
    await trio.sleep(1)
    offered_at = trio.current_time()
    echo.offer([_message(1)])
    with trio.fail_after(10):
        await until(lambda: echo.delivered == [1])
    assert echo.lookups == [(offered_at, 1)]
    await trio.sleep(1)
    for seq in range(100, 140):
        echo.offer([_message(seq)])
        await trio.sleep(0.005)
    with trio.fail_after(10):
        await until(lambda: sum(count for _, count in echo.lookups[1:]) == 40)
    stream = echo.lookups[1:]
    starts = [at for at, _ in stream]
    assert all(b - a >= RESOLVE_GAP - 1e-9 for a, b in itertools.pairwise(starts))
    assert len(stream) <= 40 * 0.005 / RESOLVE_GAP + 2


class _Known(_Timed):
    """An echo with a table of targets: ``rows`` says whether it has any; a look at it waits
    for ``gate`` when one is given (to touch the table while it is being read)."""

    def __init__(self, counters: Counters) -> None:
        self.rows = False
        self.looks = 0
        self.gate: trio.Event | None = None
        super().__init__(counters)
        self._any_targets = self._look_at_table

    async def _look_at_table(self) -> bool:
        rows = self.rows  # read before the wait: what a snapshot taken then would see
        self.looks += 1
        if self.gate is not None:
            await self.gate.wait()
        return rows


async def test_a_dispatcher_without_targets_looks_nothing_up(nursery: trio.Nursery) -> None:
    """A server without any webhook (or push subscription) makes no lookup per commit: what
    commits is not even queued. A row added (touched, here or by another node's notice) is
    believed at once, before storage is asked again; a "none" stands only once read."""
    echo = _Known(_counters())
    await nursery.start(echo.run)
    assert not echo.some and echo.looks == 1  # asked once, before its first commit
    echo.offer([_message(1)])
    await trio.testing.wait_all_tasks_blocked()
    assert echo.lookups == [] and echo.delivered == []

    echo.rows = True
    echo.touched()
    assert echo.some  # at once: the next commit is looked up
    echo.offer([_message(2)])
    with trio.fail_after(10):
        await until(lambda: echo.delivered == [2] and echo.looks == 2)
    assert echo.some

    echo.rows = False  # the last one removed
    echo.touched()
    with trio.fail_after(10):
        await until(lambda: not echo.some)
    echo.offer([_message(3)])
    await trio.testing.wait_all_tasks_blocked()
    assert echo.delivered == [2] and len(echo.lookups) == 1


async def test_a_row_added_while_the_table_is_read_is_not_missed(nursery: trio.Nursery
                                                                 ) -> None:
    """A look that read "none" before a row was added does not overrule the touch that came
    meanwhile: its answer is dropped and the table is read again."""
    echo = _Known(_counters())
    await nursery.start(echo.run)
    echo.gate = trio.Event()
    echo.touched()  # (say, a removal elsewhere): a look starts, and reads "none"
    await trio.testing.wait_all_tasks_blocked()
    assert echo.looks == 2
    echo.rows = True
    echo.touched()  # a row added, its notice while the look is under way
    echo.gate.set()
    with trio.fail_after(10):
        await until(lambda: echo.looks == 3)
    await trio.testing.wait_all_tasks_blocked()
    assert echo.some
    echo.offer([_message(4)])
    with trio.fail_after(10):
        await until(lambda: echo.delivered == [4])
