"""End-to-end, costs that stay flat (issue 17), over real sockets and the real PostgreSQL:
``who`` lists a room's members a page at a time, with the number of members in all and how
many are online (a request without ``after`` or ``limit`` gets the first page;
``limits.rooms_page_max`` bounds a page, and is the default page when smaller than 100); a
``hello`` counts each room's unread messages once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import trio

from chatd.server import Server
from tests.client import Client, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config

PAGE_MAX = 3
NAMES = ["ann", "Bob", "carl", "Dora", "eve", "finn", "Gus"]


@pytest.fixture
async def server(tmp_path: Path, database_dsn: str) -> AsyncIterator[Server]:
    async with running(make_config(tmp_path, database_dsn,
                                   limits={"rooms_page_max": PAGE_MAX})) as server:
        yield server


async def test_who_pages_by_name_with_counts(server: Server) -> None:
    """Seven members, three online: pages of at most three follow each other by name
    (ignoring case), each with ``count`` 7, ``online`` 3 and ``more`` until the last."""
    tokens = {name: await register_and_login(server.http_port, name) for name in NAMES}
    online: list[Client] = []
    for name in NAMES:
        client = await Client.tcp(server.tcp_port)
        await client.hello(tokens[name])
        assert (await client.request("join", room="hall"))["op"] == "ok"
        if name in ("ann", "Dora", "Gus"):
            online.append(client)
        else:
            await client.aclose()
    ann = online[0]
    # The server sees the closed connections go at its own pace (a busy machine answered a
    # `who` first, with 4 online): wait until ann is told each of them is offline.
    for name in NAMES:
        if name not in ("ann", "Dora", "Gus"):
            await ann.event("presence", user=name, status="offline")
    pages = []
    reply = await ann.request("who", room="hall")
    while True:
        assert reply["op"] == "ok", reply
        assert (reply["room"], reply["count"], reply["online"]) == ("hall", 7, 3)
        pages.append([(m["user"], m["status"]) for m in reply["members"]])
        if not reply["more"]:
            break
        reply = await ann.request("who", room="hall", after=reply["members"][-1]["user"])
    assert pages == [
        [("ann", "online"), ("Bob", "offline"), ("carl", "offline")],
        [("Dora", "online"), ("eve", "offline"), ("finn", "offline")],
        [("Gus", "online")],
    ]
    small = await ann.request("who", room="hall", limit=1, after="BOB")
    assert [m["user"] for m in small["members"]] == ["carl"] and small["more"] is True
    for bad in ({"limit": 0}, {"after": "no spaces"}, {"limit": "2"}):
        refused = await ann.request("who", room="hall", **bad)
        assert refused.get("code") == "bad_request", (bad, refused)
    clamped = await ann.request("who", room="hall", limit=PAGE_MAX + 1)  # a page of the max
    assert len(clamped["members"]) == PAGE_MAX and clamped["more"] is True
    for client in online:
        await client.aclose()


async def _sql(dsn: str, statement: str) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dsn)
        try:
            return list(await conn.fetch(statement))
        finally:
            await conn.close()

    return await trio.to_thread.run_sync(asyncio.run, run())


async def _unread_walks(dsn: str) -> int:
    """The calls of the unread walk (migration 0016) counted in the database, once no other
    connection is left (a server process adds its counts to the statistics at the latest
    when it exits)."""
    others = ("SELECT count(*) FROM pg_stat_activity "
              "WHERE pid <> pg_backend_pid() AND datname = current_database()")
    while (await _sql(dsn, others))[0][0]:  # noqa: ASYNC110 (polling another process)
        await trio.sleep(0.05)
    rows = await _sql(dsn, "SELECT calls FROM pg_stat_user_functions "
                           "WHERE funcname = 'chatd_unread_messages'")
    return int(rows[0]["calls"]) if rows else 0


async def test_hello_counts_each_rooms_unread_once(tmp_path: Path, database_dsn: str) -> None:
    """A user with unread messages in two rooms says hello: the welcome has both counts,
    and the database ran the unread walk twice in all, once per room (hello reads the rooms
    once; nothing else here lists them)."""
    name = (await _sql(database_dsn, "SELECT current_database()"))[0][0]
    await _sql(database_dsn, f"ALTER DATABASE {name} SET track_functions = 'all'")
    with trio.fail_after(60):
        async with running(make_config(tmp_path, database_dsn)) as server:
            ann_token = await register_and_login(server.http_port, "ann")
            bob_token = await register_and_login(server.http_port, "bob")
            bob = await Client.tcp(server.tcp_port)
            await bob.hello(bob_token)
            ann = await Client.tcp(server.tcp_port)
            await ann.hello(ann_token)
            for room in ("one", "two"):
                for client in (ann, bob):
                    assert (await client.request("join", room=room))["op"] == "ok"
                for n in range(3):
                    sent = await bob.request("send", room=room, text=f"hi {n}",
                                             nonce=f"{room}{n}")
                    assert sent["op"] == "ok"
            await ann.aclose()
            again = await Client.tcp(server.tcp_port)
            welcome = await again.hello(ann_token)
            assert {r["room"]: r["unread"] for r in welcome["rooms"]} == {"one": 3, "two": 3}
            await again.aclose()
            await bob.aclose()
        assert await _unread_walks(database_dsn) == 2
