"""End-to-end: the room list is paged by name, with a search, the same over every front.

``rooms`` (socket: TCP and WebSocket) and ``GET /api/rooms`` run one operation: the same
fields (``query``, ``after``, ``limit``, ``joined``) checked by the same parser give the same
pages. ``[limits] rooms_page_max`` bounds a page, and is the default page when smaller.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import trio

from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config

PAGE_MAX = 4
PUBLIC = ["alpha", "beta", "beta-2", "design", "gamma", "redesign", "x_y", "xay", "zeta"]


@pytest.fixture
async def server(tmp_path: Path, database_dsn: str) -> AsyncIterator[Server]:
    async with running(make_config(tmp_path, database_dsn,
                                   limits={"rooms_page_max": PAGE_MAX})) as server:
        yield server


async def _pages_socket(client: Client, **fields: Any) -> list[list[str]]:
    found: list[list[str]] = []
    while True:
        reply = await client.request("rooms", **fields)
        assert reply["op"] == "ok", reply
        names = [room["room"] for room in reply["rooms"]]
        found.append(names)
        if not reply["more"]:
            return found
        fields = {**fields, "after": names[-1]}


async def _pages_http(port: int, token: str, **fields: Any) -> list[list[str]]:
    found: list[list[str]] = []
    while True:
        query = urlencode({k: str(v).lower() if isinstance(v, bool) else v
                           for k, v in fields.items()})
        status, body = await http(port, "GET", f"/api/rooms?{query}", token=token)
        assert status == 200, body
        names = [room["room"] for room in body["rooms"]]
        found.append(names)
        if not body["more"]:
            return found
        fields = {**fields, "after": names[-1]}


async def test_pages_and_searches_are_the_same_over_every_front(
        server: Server, nursery: trio.Nursery) -> None:
    await register_and_login(server.http_port, "carol")
    bob_token = await register_and_login(server.http_port, "bob")
    bob = await Client.tcp(server.tcp_port)
    await bob.hello(bob_token)
    for name in PUBLIC:
        assert (await bob.request("join", room=name))["op"] == "ok"
    assert (await bob.request("create_room", room="design-secret", private=True))["op"] == "ok"
    assert (await bob.request("dm", to="carol", text="hi", nonce="n1"))["op"] == "ok"

    token = await register_and_login(server.http_port, "alice")
    tcp = await Client.tcp(server.tcp_port)
    await tcp.hello(token)
    ws = await Client.ws(server.http_port, nursery)
    await ws.hello(token)
    assert (await tcp.request("join", room="gamma"))["op"] == "ok"
    assert (await tcp.request("dm", to="bob", text="hi", nonce="n2"))["op"] == "ok"
    everything = sorted([*PUBLIC, "@alice:bob"])

    cases: list[dict[str, Any]] = [
        {}, {"limit": 1}, {"limit": 3}, {"limit": PAGE_MAX}, {"query": "DESIGN"},
        {"query": "x_y"}, {"query": "bob", "limit": 1}, {"query": "nothing"},
        {"joined": True, "limit": 1},
    ]
    for fields in cases:
        over_tcp = await _pages_socket(tcp, **fields)
        assert await _pages_socket(ws, **fields) == over_tcp, fields
        assert await _pages_http(server.http_port, token, **fields) == over_tcp, fields
        size = fields.get("limit", PAGE_MAX)  # the default page is rooms_page_max when smaller
        assert all(len(page) == size for page in over_tcp[:-1]), (fields, over_tcp)
        listed = [name for page in over_tcp for name in page]
        assert "design-secret" not in listed and "@bob:carol" not in listed
        if not fields.keys() - {"limit"}:
            assert listed == everything, fields
    assert [n for p in await _pages_socket(tcp, query="Design") for n in p] == [
        "design", "redesign"]
    assert [n for p in await _pages_socket(tcp, joined=True) for n in p] == [
        "@alice:bob", "gamma"]

    # The reply as a client that knows nothing of paging reads it: rooms, now with more.
    first = await tcp.request("rooms")
    assert [r["room"] for r in first["rooms"]] == everything[:PAGE_MAX] and first["more"]
    assert next(r for r in first["rooms"] if r["room"] == "@alice:bob")["member"] is True
    for client in (bob, tcp, ws):
        await client.aclose()


@pytest.mark.parametrize("query", [
    "query=two%20words", "query=%25", "query=" + "x" * 65, "limit=0",
    "limit=x", "after=a%20b", "joined=yes", "query=a&query=b",
])
async def test_bad_fields_are_refused_on_both_fronts(server: Server, query: str) -> None:
    token = await register_and_login(server.http_port, "alice")
    status, body = await http(server.http_port, "GET", f"/api/rooms?{query}", token=token)
    assert (status, body["code"]) == (400, "bad_request"), body


async def test_bad_fields_are_refused_on_the_socket(server: Server) -> None:
    token = await register_and_login(server.http_port, "alice")
    client = await Client.tcp(server.tcp_port)
    await client.hello(token)
    for fields in ({"query": "a b"}, {"query": ""}, {"limit": 0}, {"after": 3}):
        reply = await client.request("rooms", **fields)
        assert (reply["op"], reply["code"]) == ("error", "bad_request"), (fields, reply)
    assert (await client.request("ping"))["op"] == "ok"  # the connection lives on
    await client.aclose()


async def test_the_terminal_client_pages_and_searches(server: Server, tmp_path: Path) -> None:
    """``/rooms [QUERY] [+NAME]`` shows a page and prints the line that shows the next one."""
    from tests.client.test_terminal import PASSWORD, client_in_batch

    bob = await Client.tcp(server.tcp_port)
    await bob.hello(await register_and_login(server.http_port, "bob"))
    for name in PUBLIC:
        assert (await bob.request("join", room=name))["op"] == "ok"
    await register_and_login(server.http_port, "ann", PASSWORD)
    returncode, output = await client_in_batch(
        tmp_path, server.http_port, "ann",
        [PASSWORD, "/rooms", "/rooms +beta-2", "/rooms SIGN", "/rooms a +design", "/rooms a b"])
    assert returncode == 1 and output.count("!! ") == 1, output  # the one bad line's status
    pages = output.split("-- rooms (")[1:]
    assert len(pages) == 4, output
    shown = [[line.split()[0] for line in page.splitlines()[1:] if line.startswith("   ")]
             for page in pages]
    assert shown[0] == PUBLIC[:PAGE_MAX] and "more: /rooms +design" in pages[0], output
    assert shown[1] == PUBLIC[3:3 + PAGE_MAX] and "more: /rooms +x_y" in pages[1], output
    assert shown[2] == ["design", "redesign"] and "more:" not in pages[2], output
    assert shown[3] == ["gamma", "xay", "zeta"] and "more:" not in pages[3], output
    assert "usage: /rooms [QUERY] [+NAME]" in output, output
    await bob.aclose()
