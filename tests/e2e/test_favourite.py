"""End-to-end: favourites (``favourite``, the ``favourite`` event, the room object's
``favourite`` and ``favourite_at``), over TCP and WebSocket, on one node and two, and over
HTTP.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s)
and waits for the frame it asserts, never for time. That no event came is checked after a
``ping`` answered on the same connection (and, for another connection, after the event that
connection does get, which the server sent after it would have sent the other).
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


async def _room_of(client: Client, room: str) -> dict[str, Any]:
    """``room``'s object in the ``rooms`` answer."""
    [found] = [r for r in (await client.request("rooms", joined=True))["rooms"]
               if r["room"] == room]
    return dict(found)


async def _no_favourite_event(client: Client) -> None:
    """Whether ``client`` holds no ``favourite`` event, once a ping is answered after."""
    assert (await client.request("ping"))["op"] == "ok"
    assert [e for e in client.events if e["op"] == "favourite"] == []


@pytest.fixture(params=["tcp", "ws"])
async def people(request: pytest.FixtureRequest, daemon: Server, nursery: trio.Nursery
                 ) -> dict[str, Any]:
    """ann (over the transport of the parameter, and a second connection over TCP, her
    laptop), bob and cid; ann's token."""
    return await ann_on_two_devices(daemon, nursery, request.param)


async def test_mark_and_unmark(daemon: Server, people: dict[str, Any]) -> None:
    """ann marks a room both she and bob are in: the reply, the event on both her connections
    (with when), her rooms, a new welcome, an already-member join and GET /api/rooms say
    favourite; bob's never do, and bob hears nothing; marking again answers the same and
    tells nobody, and keeps the time; unmarking clears it (favourite_at gone), once."""
    ann, laptop, bob = people["ann"], people["laptop"], people["bob"]
    for client in (ann, bob):
        assert (await client.request("join", room="general"))["op"] == "ok"
    assert (await _room_of(ann, "general"))["favourite"] is False
    reply = await ann.request("favourite", room="general")
    assert reply == {"op": "ok", "id": reply["id"], "room": "general", "favourite": True}
    told = [await client.event("favourite", room="general") for client in (ann, laptop)]
    assert told[0] == told[1]
    at = told[0]["favourite_at"]
    assert told[0] == {"op": "favourite", "room": "general", "on": True, "favourite_at": at}
    assert isinstance(at, int) and at > 0
    listed = await _room_of(laptop, "general")
    assert (listed["favourite"], listed["favourite_at"]) == (True, at)
    welcome = await (await Client.tcp(daemon.tcp_port)).hello(people["token"])
    [mine] = [r for r in welcome["rooms"] if r["room"] == "general"]
    assert (mine["favourite"], mine["favourite_at"]) == (True, at)
    joined = await ann.request("join", room="general")
    assert joined["favourite"] is True
    status, body = await http(daemon.http_port, "GET", "/api/rooms?joined=true",
                              token=people["token"])
    assert status == 200
    [over_http] = [r for r in body["rooms"] if r["room"] == "general"]
    assert (over_http["favourite"], over_http["favourite_at"]) == (True, at)
    theirs = await _room_of(bob, "general")
    assert theirs["favourite"] is False and "favourite_at" not in theirs
    assert (await bob.request("join", room="general"))["favourite"] is False
    # again: the same answer, no event, the first time kept
    again = await laptop.request("favourite", room="general", on=True)
    assert again == {"op": "ok", "id": again["id"], "room": "general", "favourite": True}
    await _no_favourite_event(laptop)
    await _no_favourite_event(ann)
    assert (await _room_of(ann, "general"))["favourite_at"] == at
    # unmark
    off = await laptop.request("favourite", room="general", on=False)
    assert off == {"op": "ok", "id": off["id"], "room": "general", "favourite": False}
    for client in (ann, laptop):
        assert await client.event("favourite", room="general") == {
            "op": "favourite", "room": "general", "on": False, "favourite_at": None}
    cleared = await _room_of(ann, "general")
    assert cleared["favourite"] is False and "favourite_at" not in cleared
    assert (await ann.request("favourite", room="general", on=False))["favourite"] is False
    await _no_favourite_event(ann)
    await _no_favourite_event(bob)


async def test_every_kind_and_the_order(daemon: Server, people: dict[str, Any]) -> None:
    """A 1:1 conversation, a group conversation and an archived room are marked as a room
    is; favourite_at orders them as they were marked; bob's view of the conversations is
    untouched."""
    ann, bob = people["ann"], people["bob"]
    dm = (await ann.request("dm", to="bob", text="hi", nonce="n1"))["room"]
    group = (await ann.request("dm", to=["bob", "cid"], text="hi all", nonce="n2"))["room"]
    assert (await ann.request("create_room", room="old"))["op"] == "ok"
    assert (await ann.request("archive", room="old", archived=True))["op"] == "ok"
    marked: list[int] = []
    for room in (group, "old", dm):
        reply = await ann.request("favourite", room=room)
        assert (reply["op"], reply["favourite"]) == ("ok", True), reply
        marked.append((await ann.event("favourite", room=room, on=True))["favourite_at"])
    assert marked == sorted(marked)
    rooms = (await ann.request("rooms", joined=True))["rooms"]
    ours = {r["room"]: r["favourite_at"] for r in rooms if r["favourite"]}
    assert ours == dict(zip((group, "old", dm), marked, strict=True))
    for room in (dm, group):
        assert (await _room_of(bob, room))["favourite"] is False
    await _no_favourite_event(bob)


async def test_refusals(people: dict[str, Any]) -> None:
    """Not a member (a public room not joined, a conversation of others) is forbidden, an
    unknown room not_found, a bad 'on' bad_request; nothing is stored, nobody is told."""
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    assert (await bob.request("join", room="general"))["op"] == "ok"
    room = (await bob.request("dm", to="cid", text="between us", nonce="n"))["room"]
    for target, on, code in (("general", True, "forbidden"), (room, True, "forbidden"),
                             (room, False, "forbidden"), ("nowhere", True, "not_found"),
                             ("@ann:nobody", True, "not_found"), ("general", "yes", "bad_request")):
        refused = await ann.request("favourite", room=target, on=on)
        assert (refused["op"], refused["code"]) == ("error", code), (target, refused)
    assert (await _room_of(bob, room))["favourite"] is False
    assert (await _room_of(cid, room))["favourite"] is False
    for client in (ann, people["laptop"], bob, cid):
        await _no_favourite_event(client)


async def test_leaving_drops_it(people: dict[str, Any]) -> None:
    """ann marks a room and leaves it: joining again starts without the mark (join's reply,
    rooms)."""
    ann = people["ann"]
    assert (await ann.request("join", room="general"))["op"] == "ok"
    assert (await ann.request("favourite", room="general"))["favourite"] is True
    assert (await ann.request("join", room="general"))["favourite"] is True
    assert (await ann.request("leave", room="general"))["op"] == "ok"
    rejoined = await ann.request("join", room="general")
    assert (rejoined["op"], rejoined["favourite"]) == ("ok", False)
    listed = await _room_of(ann, "general")
    assert listed["favourite"] is False and "favourite_at" not in listed


async def test_the_event_reaches_the_other_node(tmp_path: Path, database_dsn: str) -> None:
    """ann on two nodes: her mark on node A tells her connection on node B (and not bob's
    there), and B's welcome carries it; her unmark there too."""
    config = make_config(tmp_path, database_dsn, limits=LIFTED_RATES)
    async with running(config) as a, running(config) as b:
        token = await register_and_login(a.http_port, "ann")
        here = await Client.signed_in(a.tcp_port, token)
        there = await Client.signed_in(b.tcp_port, token)
        bob = await Client.signed_in(b.tcp_port, await register_and_login(a.http_port, "bob"))
        for client in (here, bob):
            assert (await client.request("join", room="general"))["op"] == "ok"
        assert (await here.request("favourite", room="general"))["favourite"] is True
        told = await there.event("favourite", room="general", on=True)
        welcome = await (await Client.tcp(b.tcp_port)).hello(token)
        [listed] = [r for r in welcome["rooms"] if r["room"] == "general"]
        assert (listed["favourite"], listed["favourite_at"]) == (True, told["favourite_at"])
        await here.request("favourite", room="general", on=False)
        assert await there.event("favourite", room="general", on=False, favourite_at=None)
        await _no_favourite_event(bob)
        for client in (here, there, bob):
            await client.aclose()


async def test_over_http(daemon: Server) -> None:
    """PUT marks (the socket hears favourite), GET /api/rooms carries it, PUT again changes
    nothing, DELETE unmarks; a stranger 403, an unknown room 404, no token 401."""
    token = await register_and_login(daemon.http_port, "ann")
    ann = await Client.signed_in(daemon.tcp_port, token)
    bob = await Client.signed_in(daemon.tcp_port, await register_and_login(daemon.http_port, "bob"))
    room = (await ann.request("dm", to="bob", text="hello", nonce="n"))["room"]
    path = f"/api/rooms/{room}/favourite"
    status, body = await http(daemon.http_port, "PUT", path, token=token)
    assert (status, body) == (200, {"room": room, "favourite": True})
    told = await ann.event("favourite", room=room, on=True)
    status, body = await http(daemon.http_port, "GET", "/api/rooms?joined=true", token=token)
    assert status == 200
    [listed] = [r for r in body["rooms"] if r["room"] == room]
    assert (listed["favourite"], listed["favourite_at"]) == (True, told["favourite_at"])
    status, body = await http(daemon.http_port, "PUT", path, token=token)
    assert (status, body) == (200, {"room": room, "favourite": True})
    await _no_favourite_event(ann)
    status, body = await http(daemon.http_port, "DELETE", path, token=token)
    assert (status, body) == (200, {"room": room, "favourite": False})
    assert await ann.event("favourite", room=room, on=False)
    await register_and_login(daemon.http_port, "cid")
    theirs = (await bob.request("dm", to="cid", text="private", nonce="p"))["room"]
    for method, target, code in (("PUT", f"/api/rooms/{theirs}/favourite", 403),
                                 ("PUT", "/api/rooms/general/favourite", 404),
                                 ("DELETE", "/api/rooms/@ann:nobody/favourite", 404)):
        status, body = await http(daemon.http_port, method, target, token=token)
        assert status == code, (target, body)
    status, _ = await http(daemon.http_port, "PUT", path)
    assert status == 401
    await ann.aclose()
    await bob.aclose()
