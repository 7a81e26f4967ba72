"""chatd.httpout: the HTTP client for users' URLs (Web Push, outgoing webhooks): a
connection goes only where the address check allowed, and retries follow the rules (a delay
that doubles, the server's Retry-After up to a cap, refusals at once)."""

from __future__ import annotations

import socket
from typing import Any

import httpcore
import pytest
import trio

from chatd.addresses import RefusedAddress
from chatd.httpout import (
    MAX_RETRY_AFTER,
    GaveUp,
    PinnedBackend,
    Retry,
    post_with_retries,
    retry_after,
)
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
