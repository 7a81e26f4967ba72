"""End-to-end: closing a conversation (``hide``, the ``hidden`` event, the room object's
``hidden_seq``), over TCP and WebSocket, on one node and two, and over HTTP.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s)
and waits for the frame it asserts, never for time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import ann_on_two_devices, running
from tests.helpers import LIFTED_RATES, make_config


async def _dm(client: Client, to: str | list[str], text: str) -> dict[str, Any]:
    reply = await client.request("dm", to=to, text=text, nonce=text)
    assert reply["op"] == "ok", reply
    return reply


async def _room_of(client: Client, room: str) -> dict[str, Any]:
    """``room``'s object in the ``rooms`` answer."""
    [found] = [r for r in (await client.request("rooms", joined=True))["rooms"]
               if r["room"] == room]
    return dict(found)


@pytest.fixture(params=["tcp", "ws"])
async def people(request: pytest.FixtureRequest, daemon: Server, nursery: trio.Nursery
                 ) -> dict[str, Any]:
    """ann (over the transport of the parameter, and a second connection over TCP), bob
    and cid; ann's token."""
    return await ann_on_two_devices(daemon, nursery, request.param)


@pytest.mark.parametrize("to", ["bob", ["bob", "cid"]], ids=["dm", "group"])
async def test_hide_a_conversation(daemon: Server, people: dict[str, Any],
                                   to: str | list[str]) -> None:
    """ann closes a conversation: the reply and the hidden event on both her connections say
    hidden_seq = last_seq; rooms and a new welcome carry it; bob's message leaves it as it
    is and last_seq passes it; a later hide moves it; on:false clears it (absent from the
    room object); bob's view of it never has it."""
    ann, laptop, bob = people["ann"], people["laptop"], people["bob"]
    sent = await _dm(ann, to, "hello")
    room = sent["room"]
    await _dm(bob, "ann" if isinstance(to, str) else ["ann", "cid"], "hi")
    reply = await ann.request("hide", room=room)
    assert reply == {"op": "ok", "id": reply["id"], "room": room, "hidden_seq": 2}
    for client in (ann, laptop):
        assert await client.event("hidden", room=room) == {
            "op": "hidden", "room": room, "hidden_seq": 2}
    assert (await _room_of(laptop, room))["hidden_seq"] == 2
    welcome = await (await Client.tcp(daemon.tcp_port)).hello(people["token"])
    [listed] = [r for r in welcome["rooms"] if r["room"] == room]
    assert (listed["hidden_seq"], listed["last_seq"]) == (2, 2)
    assert "hidden_seq" not in await _room_of(bob, room)
    # a new message: hidden_seq as it was, last_seq past it (the client shows it again)
    await _dm(bob, "ann" if isinstance(to, str) else ["ann", "cid"], "back?")
    await laptop.event("message", room=room, seq=3)
    after = await _room_of(laptop, room)
    assert (after["hidden_seq"], after["last_seq"]) == (2, 3)
    moved = await laptop.request("hide", room=room, on=True)
    assert moved["hidden_seq"] == 3
    assert await ann.event("hidden", room=room, hidden_seq=3)
    shown = await ann.request("hide", room=room, on=False)
    assert shown == {"op": "ok", "id": shown["id"], "room": room, "hidden_seq": None}
    assert await laptop.event("hidden", room=room, hidden_seq=None)
    assert "hidden_seq" not in await _room_of(ann, room)


async def test_refusals(people: dict[str, Any]) -> None:
    """A room is refused (bad_request, nothing stored), as are a conversation of others
    (forbidden), an unknown room (not_found) and a bad 'on'; no hidden event is sent."""
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    assert (await ann.request("join", room="general"))["op"] == "ok"
    refused = await ann.request("hide", room="general")
    assert (refused["op"], refused["code"]) == ("error", "bad_request")
    assert "leave a room" in refused["message"]
    assert "hidden_seq" not in await _room_of(ann, "general")
    room = (await _dm(bob, "cid", "between us"))["room"]
    stranger = await ann.request("hide", room=room)
    assert (stranger["op"], stranger["code"]) == ("error", "forbidden")
    assert "hidden_seq" not in await _room_of(cid, room)
    missing = await ann.request("hide", room="@ann:nobody")
    assert (missing["op"], missing["code"]) == ("error", "not_found")
    bad = await ann.request("hide", room=room, on="yes")
    assert (bad["op"], bad["code"]) == ("error", "bad_request")
    await ann.request("ping")
    assert [e for e in ann.events if e["op"] == "hidden"] == []


async def test_the_event_reaches_the_other_node(tmp_path: Path, database_dsn: str) -> None:
    """ann on two nodes: her hide on node A tells her connection on node B, and B's
    welcome carries hidden_seq."""
    config = make_config(tmp_path, database_dsn, limits=LIFTED_RATES)
    async with running(config) as a, running(config) as b:
        token = await register_and_login(a.http_port, "ann")
        await register_and_login(a.http_port, "bob")
        here = await Client.signed_in(a.tcp_port, token)
        there = await Client.signed_in(b.tcp_port, token)
        room = (await _dm(here, "bob", "hello"))["room"]
        assert (await here.request("hide", room=room))["hidden_seq"] == 1
        assert await there.event("hidden", room=room, hidden_seq=1)
        welcome = await (await Client.tcp(b.tcp_port)).hello(token)
        [listed] = [r for r in welcome["rooms"] if r["room"] == room]
        assert listed["hidden_seq"] == 1
        await here.request("hide", room=room, on=False)
        assert await there.event("hidden", room=room, hidden_seq=None)
        for client in (here, there):
            await client.aclose()


async def test_over_http(daemon: Server) -> None:
    """PUT closes (the socket hears hidden), GET /api/rooms carries hidden_seq, DELETE
    shows; a room is 400, a stranger 403, an unknown room 404, no token 401."""
    token = await register_and_login(daemon.http_port, "ann")
    ann = await Client.signed_in(daemon.tcp_port, token)
    bob = await Client.signed_in(daemon.tcp_port, await register_and_login(daemon.http_port, "bob"))
    room = (await _dm(ann, "bob", "hello"))["room"]
    path = f"/api/rooms/{room}/hidden"
    status, body = await http(daemon.http_port, "PUT", path, token=token)
    assert (status, body) == (200, {"room": room, "hidden_seq": 1})
    assert await ann.event("hidden", room=room, hidden_seq=1)
    status, body = await http(daemon.http_port, "GET", "/api/rooms?joined=true", token=token)
    assert status == 200
    [listed] = [r for r in body["rooms"] if r["room"] == room]
    assert listed["hidden_seq"] == 1
    status, body = await http(daemon.http_port, "DELETE", path, token=token)
    assert (status, body) == (200, {"room": room, "hidden_seq": None})
    assert await ann.event("hidden", room=room, hidden_seq=None)
    assert (await ann.request("join", room="general"))["op"] == "ok"
    await register_and_login(daemon.http_port, "cid")
    theirs = (await _dm(bob, "cid", "private"))["room"]
    for method, target, code in (("PUT", "/api/rooms/general/hidden", 400),
                                 ("PUT", f"/api/rooms/{theirs}/hidden", 403),
                                 ("DELETE", "/api/rooms/@ann:nobody/hidden", 404)):
        status, body = await http(daemon.http_port, method, target, token=token)
        assert status == code, (target, body)
    status, _ = await http(daemon.http_port, "PUT", path)
    assert status == 401
    await ann.aclose()
    await bob.aclose()
