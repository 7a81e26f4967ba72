"""End-to-end: one user cannot create rooms without limit, over either front.

``[limits] rooms_per_hour`` is one bucket per user name, shared by their protocol sessions and
the HTTP API; ``create_room``, ``POST /api/rooms`` and a ``join`` that creates the room take
from it, a ``join`` of a room that exists does not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config

PER_HOUR = 3


@pytest.fixture
async def server(tmp_path: Path, database_dsn: str) -> AsyncIterator[Server]:
    async with running(make_config(tmp_path, database_dsn,
                                   limits={"rooms_per_hour": PER_HOUR})) as server:
        yield server


def _limited(reply: dict[str, object]) -> bool:
    retry = reply.get("retry_after")
    return (reply["op"] == "error" and reply["code"] == "rate_limited"
            and isinstance(retry, int) and retry > 0)


async def test_room_creation_is_limited_per_user_over_both_fronts(server: Server) -> None:
    token = await register_and_login(server.http_port, "alice")
    first = await Client.tcp(server.tcp_port)
    await first.hello(token)
    second = await Client.tcp(server.tcp_port)  # the same user: the same bucket
    await second.hello(token)
    bob = await Client.tcp(server.tcp_port)
    await bob.hello(await register_and_login(server.http_port, "bob"))
    assert (await bob.request("create_room", room="bobs"))["op"] == "ok"

    # Joining rooms that exist takes nothing, however often.
    for _ in range(PER_HOUR + 2):
        assert (await first.request("join", room="bobs"))["op"] == "ok"

    assert (await first.request("create_room", room="a1"))["op"] == "ok"
    assert (await second.request("join", room="a2"))["op"] == "ok"  # created by joining
    status, body = await http(server.http_port, "POST", "/api/rooms", {"room": "a3"},
                              token=token)
    assert status == 201, body

    assert _limited(await first.request("create_room", room="a4"))
    assert _limited(await second.request("join", room="a5"))
    status, body = await http(server.http_port, "POST", "/api/rooms", {"room": "a6"},
                              token=token)
    assert status == 429 and body["code"] == "rate_limited", body
    # Refusals are counted alike on both fronts: two create_room (socket, HTTP), one join.
    status, metrics = await http(server.http_port, "GET", "/metrics")
    assert status == 200
    text = metrics.decode() if isinstance(metrics, bytes) else str(metrics)
    assert 'chatd_rate_limited_total{limit="create_room"} 2.0' in text, text
    assert 'chatd_rate_limited_total{limit="join"} 1.0' in text, text
    for room in ("a1", "a2", "a3"):
        assert (await bob.request("who", room=room))["op"] == "ok"
    for room in ("a4", "a5", "a6"):  # refused, not created
        assert (await bob.request("who", room=room))["code"] == "not_found"

    # Rooms that exist can still be joined; other users are not affected.
    assert (await second.request("join", room="bobs"))["op"] == "ok"
    assert (await first.request("join", room="a2"))["op"] == "ok"
    assert (await bob.request("create_room", room="bobs-2"))["op"] == "ok"
    assert (await bob.request("join", room="bobs-3"))["op"] == "ok"
    for client in (first, second, bob):
        await client.aclose()
