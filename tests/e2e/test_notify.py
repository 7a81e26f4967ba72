"""End-to-end: notification levels per room, kept on the server: set over the socket or
HTTP, shown in every room object, told to every connection of the user on every node.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s).
"""

from __future__ import annotations

from pathlib import Path

import trio

from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config


async def _connected(port_http: int, port_tcp: int, token: str) -> Client:
    client = await Client.tcp(port_tcp)
    await client.hello(token)
    return client


async def test_levels_default_by_kind_and_follow_every_device(daemon: Server,
                                                              nursery: trio.Nursery) -> None:
    """Rooms start at "mentions", conversations at "all"; set_notify answers the level and
    every connection of the user (the asking one included, TCP and WebSocket) gets a notify
    event, nobody else; welcome, rooms, join and GET /api/rooms then show it."""
    token = await register_and_login(daemon.http_port, "bob")
    ann = await _connected(daemon.http_port, daemon.tcp_port,
                           await register_and_login(daemon.http_port, "ann"))
    phone = await _connected(daemon.http_port, daemon.tcp_port, token)
    laptop = await Client.ws(daemon.http_port, nursery)
    await laptop.hello(token)
    for client in (ann, phone):
        joined = await client.request("join", room="team")
        assert joined["notify"] == "mentions"
    dm = (await ann.request("dm", to="bob", text="hi", nonce="n1"))["room"]
    rooms = {r["room"]: r["notify"] for r in (await phone.request("rooms"))["rooms"]}
    assert rooms == {"team": "mentions", dm: "all"}

    reply = await phone.request("set_notify", room="team", notify="none")
    assert reply == {"op": "ok", "id": reply["id"], "room": "team", "notify": "none"}
    for client in (phone, laptop):
        assert await client.event("notify", room="team", notify="none")
    await laptop.request("set_notify", room=dm, notify="mentions")
    for client in (phone, laptop):
        assert await client.event("notify", room=dm, notify="mentions")
    await ann.request("ping")
    assert [e for e in ann.events if e["op"] == "notify"] == []

    again = await Client.tcp(daemon.tcp_port)
    welcome = await again.hello(token)
    assert {r["room"]: r["notify"] for r in welcome["rooms"]} == {"team": "none",
                                                                  dm: "mentions"}
    assert (await again.request("join", room="team"))["notify"] == "none"
    status, body = await http(daemon.http_port, "GET", "/api/rooms", token=token)
    assert status == 200
    assert {r["room"]: r["notify"] for r in body["rooms"]} == {"team": "none", dm: "mentions"}
    status, body = await http(daemon.http_port, "PUT", "/api/rooms/team/notify",
                              {"notify": "all"}, token=token)
    assert status == 200 and body == {"room": "team", "notify": "all"}
    for client in (phone, laptop, again):
        assert await client.event("notify", room="team", notify="all")
    for client in (ann, phone, laptop, again):
        await client.aclose()


async def test_set_notify_refusals(daemon: Server) -> None:
    """A level for a room one is not in is forbidden, for no room not_found, and anything
    but all/mentions/none a bad request; over HTTP the same codes."""
    token = await register_and_login(daemon.http_port, "ann")
    ann = await _connected(daemon.http_port, daemon.tcp_port, token)
    bob = await _connected(daemon.http_port, daemon.tcp_port,
                           await register_and_login(daemon.http_port, "bob"))
    await bob.request("join", room="team")
    refused = await ann.request("set_notify", room="team", notify="all")
    assert (refused["op"], refused["code"]) == ("error", "forbidden")
    refused = await ann.request("set_notify", room="nowhere", notify="all")
    assert refused["code"] == "not_found"
    for level in ("ALL", "", None, 1, ["all"]):
        refused = await bob.request("set_notify", room="team", notify=level)
        assert refused["code"] == "bad_request", level
    status, body = await http(daemon.http_port, "PUT", "/api/rooms/team/notify",
                              {"notify": "loud"}, token=token)
    assert status == 400 and body["code"] == "bad_request"
    status, body = await http(daemon.http_port, "PUT", "/api/rooms/team/notify",
                              {"notify": "all"}, token=token)
    assert status == 403
    await ann.aclose()
    await bob.aclose()


async def test_a_level_set_on_one_node_reaches_the_others(tmp_path: Path,
                                                          database_dsn: str) -> None:
    """bob's connection on node B gets the notify event of a level he set on node A."""
    config = make_config(tmp_path, database_dsn)
    async with running(config) as a, running(config) as b:
        token = await register_and_login(a.http_port, "bob")
        on_a = await _connected(a.http_port, a.tcp_port, token)
        on_b = await _connected(b.http_port, b.tcp_port, token)
        await on_a.request("join", room="team")
        await on_a.request("set_notify", room="team", notify="all")
        assert await on_b.event("notify", room="team", notify="all")
        status, _ = await http(b.http_port, "PUT", "/api/rooms/team/notify", {"notify": "none"},
                               token=token)
        assert status == 200
        assert await on_a.event("notify", room="team", notify="none")
        assert await on_b.event("notify", room="team", notify="none")
        await on_a.aclose()
        await on_b.aclose()
