"""End-to-end: search over real sockets (TCP and WebSocket) and over HTTP (GET /api/search),
against the daemon and the real database.

A message is found by its words once the daemon's indexer has indexed it, a moment after its
acknowledgement (chatd/indexer.py): a test that searches for what it just sent first waits for
that (:func:`tests.helpers.search_caught_up`, which polls the database's backlog).

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s).
"""

from __future__ import annotations

import asyncio
import urllib.parse
from typing import Any

import asyncpg
import trio

from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config, search_caught_up


async def _two(daemon: Server, nursery: trio.Nursery) -> tuple[Client, Client, str, str]:
    """ann on TCP and bob on WebSocket, both in "team"; their tokens."""
    ann_token = await register_and_login(daemon.http_port, "ann")
    bob_token = await register_and_login(daemon.http_port, "bob")
    ann = await Client.tcp(daemon.tcp_port)
    await ann.hello(ann_token)
    bob = await Client.ws(daemon.http_port, nursery)
    await bob.hello(bob_token)
    for client in (ann, bob):
        assert (await client.request("join", room="team"))["op"] == "ok"
    return ann, bob, ann_token, bob_token


def _texts(reply: dict[str, Any]) -> list[str]:
    return [m["text"] for m in reply["messages"]]


async def test_search_over_tcp_and_websocket(daemon: Server, nursery: trio.Nursery) -> None:
    """A search finds by prefix, newest first, with the message object, its room and a
    snippet of segments; after an edit and a deletion neither message is found by the words
    they lost, at once, and the edited one by its new words once indexed again; pages follow
    with ``before``."""
    ann, bob, _, _ = await _two(daemon, nursery)
    first = await ann.request("send", room="team", text="the deployment starts", nonce="a1")
    second = await bob.request("send", room="team", text="deploy went fine", nonce="b1")
    await ann.request("send", room="team", text="unrelated chatter", nonce="a2")
    await search_caught_up(daemon.app.storage)
    for client in (ann, bob):
        reply = await client.request("search", query="DEPLOY")
        assert reply["op"] == "ok" and reply["more"] is False
        assert _texts(reply) == ["deploy went fine", "the deployment starts"]
        found = reply["messages"][1]
        assert found["room"] == "team" and found["from"] == "ann"
        assert found["msg_id"] == first["msg_id"] and found["seq"] == first["seq"]
        assert found["snippet"] == [{"text": "the ", "hit": False},
                                    {"text": "deployment", "hit": True},
                                    {"text": " starts", "hit": False}]

    edited = await ann.request("edit", room="team", msg_id=first["msg_id"],
                               text="the rollout starts")
    assert edited["op"] == "ok"
    deleted = await bob.request("delete", room="team", msg_id=second["msg_id"])
    assert deleted["op"] == "ok"
    assert _texts(await bob.request("search", query="deploy")) == []
    await search_caught_up(daemon.app.storage)
    assert _texts(await bob.request("search", query="deploy")) == []
    assert _texts(await bob.request("search", query="rollout from:ann")) == [
        "the rollout starts"]

    page = await ann.request("search", query="chatter OR rollout", limit=1)
    assert page["messages"] == [] and page["more"] is False  # every word must be there
    page = await ann.request("search", query="the", limit=1)
    assert _texts(page) == ["the rollout starts"] and page["more"] is False
    for i in range(3):
        await ann.request("send", room="team", text=f"page test {i}", nonce=f"p{i}")
    await search_caught_up(daemon.app.storage)
    page = await ann.request("search", query="page", limit=2)
    assert _texts(page) == ["page test 2", "page test 1"] and page["more"] is True
    rest = await ann.request("search", query="page", limit=2,
                             before=page["messages"][-1]["msg_id"])
    assert _texts(rest) == ["page test 0"] and rest["more"] is False


async def test_search_refusals_and_rooms(daemon: Server, nursery: trio.Nursery) -> None:
    """Bad queries are bad_request with a message; a private room of others is forbidden
    and its words are not found; a public room one is not in can be searched by name;
    in:@name searches the conversation with that user."""
    ann, bob, _, _ = await _two(daemon, nursery)
    for query, says in (("-spam", "exclusions"), ("from:", "from:"),
                        ("after:someday", "YYYY-MM-DD"), ("!!!", "no words")):
        reply = await ann.request("search", query=query)
        assert reply["op"] == "error" and reply["code"] == "bad_request", reply
        assert says in reply["message"], reply
    blank = await ann.request("search", query="  ")
    assert blank["code"] == "bad_request"
    assert (await ann.request("create_room", room="hideout", private=True))["op"] == "ok"
    await ann.request("send", room="hideout", text="treasure map", nonce="h1")
    await search_caught_up(daemon.app.storage)
    assert (await bob.request("search", query="treasure"))["messages"] == []
    refused = await bob.request("search", query="treasure", room="hideout")
    assert refused["code"] == "forbidden"
    assert (await bob.request("search", query="treasure in:hideout"))["code"] == "forbidden"
    await ann.request("join", room="plaza")
    await ann.request("send", room="plaza", text="treasure hunt tonight", nonce="p1")
    await search_caught_up(daemon.app.storage)
    assert _texts(await bob.request("search", query="treasure in:plaza")) == [
        "treasure hunt tonight"]
    dm = await bob.request("dm", to="ann", text="treasure is yours", nonce="d1")
    assert dm["op"] == "ok"
    await search_caught_up(daemon.app.storage)
    reply = await ann.request("search", query="treasure in:@bob")
    assert _texts(reply) == ["treasure is yours"] and reply["messages"][0]["room"] == "@ann:bob"
    assert _texts(await ann.request("search", query="treasure")) == [
        "treasure is yours", "treasure hunt tonight", "treasure map"]
    await register_and_login(daemon.http_port, "cid")
    group = await bob.request("dm", to=["ann", "cid"], text="treasure for three", nonce="d2")
    assert group["op"] == "ok", group
    await search_caught_up(daemon.app.storage)
    reply = await ann.request("search", query="treasure in:@Cid,bob")
    assert _texts(reply) == ["treasure for three"]
    assert reply["messages"][0]["room"] == "@ann:bob:cid"
    missing = await ann.request("search", query="x in:nowhere")
    assert missing["code"] == "not_found"


async def test_get_api_search(daemon: Server, nursery: trio.Nursery) -> None:
    """GET /api/search answers as the socket does, with q, room, limit and before; without
    a token 401, without q or with a bad one 400."""
    ann, _, token, _ = await _two(daemon, nursery)
    for i in range(3):
        await ann.request("send", room="team", text=f"release note {i}", nonce=f"r{i}")
    await search_caught_up(daemon.app.storage)
    query = urllib.parse.urlencode({"q": '"release note" -2', "room": "team", "limit": 1})
    status, body = await http(daemon.http_port, "GET", f"/api/search?{query}", token=token)
    assert status == 200, body
    assert _texts(body) == ["release note 1"] and body["more"] is True
    assert body["messages"][0]["snippet"][0] == {"text": "release", "hit": True}
    last = body["messages"][0]["msg_id"]
    status, body = await http(daemon.http_port, "GET",
                              f"/api/search?{query}&before={last}", token=token)
    assert status == 200 and _texts(body) == ["release note 0"] and body["more"] is False
    status, body = await http(daemon.http_port, "GET", "/api/search?q=release")
    assert status == 401
    status, body = await http(daemon.http_port, "GET", "/api/search", token=token)
    assert status == 400 and body["code"] == "bad_request" and "'q'" in body["message"]
    status, body = await http(daemon.http_port, "GET", "/api/search?q=-x", token=token)
    assert status == 400 and "exclusions" in body["message"]
    status, body = await http(daemon.http_port, "GET", "/api/search?q=x&limit=51",
                              token=token)
    assert status == 400
    status, body = await http(daemon.http_port, "GET", "/api/search?q=x&q=y", token=token)
    assert status == 400


async def test_searches_are_rate_limited_per_user(tmp_path: Any, database_dsn: str,
                                                  nursery: trio.Nursery) -> None:
    """Past limits.searches_per_minute a user's search is rate_limited, on the socket and
    over HTTP alike (one bucket per user)."""
    config = make_config(tmp_path, database_dsn, limits={"searches_per_minute": 2})
    async with running(config) as daemon:
        token = await register_and_login(daemon.http_port, "ann")
        ann = await Client.tcp(daemon.tcp_port)
        await ann.hello(token)
        for _ in range(2):
            assert (await ann.request("search", query="x from:ann"))["op"] == "ok"
        refused = await ann.request("search", query="x from:ann")
        assert refused["code"] == "rate_limited" and refused["retry_after"] > 0
        status, body = await http(daemon.http_port, "GET", "/api/search?q=x", token=token)
        assert status == 429 and body["code"] == "rate_limited"
        await ann.aclose()


async def _found(client: Client, query: str, text: str) -> dict[str, Any]:
    """Search ``query`` until ``text`` is among what it finds (the daemon's indexer runs a
    moment after the commit): its reply. Bounded like every wait of these tests."""
    with trio.fail_after(10):
        while True:
            reply = await client.request("search", query=query)
            if text in _texts(reply):
                return reply
            await trio.sleep(0.01)


async def test_the_daemon_indexes_what_is_sent_and_edited(daemon: Server,
                                                          nursery: trio.Nursery) -> None:
    """Nothing but the daemon's own indexer runs: a sent message becomes searchable by its
    words a moment after its acknowledgement, an edited one by its new words (and never
    again by the old ones), and /metrics counts what was indexed."""
    ann, bob, _, _ = await _two(daemon, nursery)
    sent = await ann.request("send", room="team", text="quarterly figures attached",
                             nonce="q1")
    assert sent["op"] == "ok"
    reply = await _found(bob, "quarterly", "quarterly figures attached")
    assert reply["messages"][0]["msg_id"] == sent["msg_id"]
    edited = await ann.request("edit", room="team", msg_id=sent["msg_id"],
                               text="annual figures attached")
    assert edited["op"] == "ok"
    assert _texts(await bob.request("search", query="quarterly")) == []
    await _found(bob, "annual", "annual figures attached")
    assert _texts(await bob.request("search", query="quarterly")) == []
    _, metrics = await http(daemon.http_port, "GET", "/metrics")
    indexed = [line for line in metrics.splitlines()
               if line.startswith(b"chatd_search_indexed_total ")]
    assert indexed and float(indexed[0].split()[1]) >= 2, indexed
    assert b"chatd_search_backlog 0.0" in metrics


async def test_messages_waiting_at_start_are_indexed(tmp_path: Any, database_dsn: str,
                                                     nursery: trio.Nursery) -> None:
    """Messages whose words are not indexed when the daemon starts (those of before the
    upgrade that added search, or a crash's) are indexed by its first sweep."""
    config = make_config(tmp_path, database_dsn)
    async with running(config) as daemon:
        token = await register_and_login(daemon.http_port, "ann")
        ann = await Client.tcp(daemon.tcp_port)
        await ann.hello(token)
        await ann.request("join", room="team")
        for i in range(3):
            await ann.request("send", room="team", text=f"archived memo {i}", nonce=f"m{i}")
        await search_caught_up(daemon.app.storage)
        await ann.aclose()
    # As migration 0011 leaves the messages that were there before it.
    await trio.to_thread.run_sync(_forget_words, database_dsn)
    async with running(config) as daemon:
        ann = await Client.tcp(daemon.tcp_port)
        await ann.hello(token)
        reply = await _found(ann, "memo", "archived memo 0")
        assert _texts(reply) == ["archived memo 2", "archived memo 1", "archived memo 0"]
        await ann.aclose()


def _forget_words(dsn: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("UPDATE messages SET words = NULL")
        finally:
            await conn.close()

    asyncio.run(run())
