"""End-to-end: "Mark all as read" (``read_all``, ``POST /api/me/read``): every marker of the
user's moved in one request, a ``read`` event per moved room to their other connections (over
TCP and WebSocket, on one node and on another), followed threads left alone, a user in many
rooms, refusals.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s)
and waits for the frame it asserts, never for time. That no event came is checked after a
``ping`` answered on the same connection (and, for another connection, after an event that
connection does get, which the server sent after it would have sent the other).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import ann_on_two_devices, running, signed_in_over
from tests.helpers import LIFTED_RATES, make_config


async def _counts(client: Client) -> dict[str, tuple[int, int, int]]:
    """Every room of the client's user: ``(read_seq, last_seq, unread)`` by name."""
    listed = (await client.request("rooms", joined=True))["rooms"]
    return {r["room"]: (r["read_seq"], r["last_seq"], r["unread"]) for r in listed}


async def _say(client: Client, room: str, text: str, **fields: Any) -> dict[str, Any]:
    reply = await client.request("send", room=room, text=text, nonce=f"{room[:20]}:{text}",
                                 **fields)
    assert reply["op"] == "ok", reply
    return reply


async def _reads(client: Client) -> list[dict[str, Any]]:
    """The ``read`` events ``client`` holds, once a ping is answered after them, taken."""
    assert (await client.request("ping"))["op"] == "ok"
    found = [e for e in client.events if e["op"] == "read"]
    client.events[:] = [e for e in client.events if e["op"] != "read"]
    return found


@pytest.fixture(params=["tcp", "ws"])
async def people(request: pytest.FixtureRequest, daemon: Server, nursery: trio.Nursery
                 ) -> dict[str, Any]:
    """ann (over the transport of the parameter, and her laptop over TCP), bob and cid."""
    return await ann_on_two_devices(daemon, nursery, request.param)


async def test_everything_read_in_one_request(daemon: Server, people: dict[str, Any]) -> None:
    """bob writes in three rooms and a 1:1 with ann, one of them read already; ann marks all
    read from her laptop: the reply names the rooms that moved (by name) and where to, her other
    connection gets one read event each (none on the laptop), her rooms say nothing unread,
    bob's markers are his; again: nothing moves, nobody is told; a message after is unread."""
    ann, laptop, bob = people["ann"], people["laptop"], people["bob"]
    for room in ("general", "random", "quiet"):
        for client in (ann, bob):
            assert (await client.request("join", room=room))["op"] == "ok"
    for room in ("general", "random", "quiet"):
        await _say(bob, room, f"hello {room}")
    await _say(bob, "random", "and again")
    dm = (await bob.request("dm", to="ann", text="psst", nonce="psst"))["room"]
    last = await _counts(ann)
    bobs = await _counts(bob)
    await laptop.request("read", room="quiet", seq=last["quiet"][1])
    assert await ann.event("read", room="quiet")
    reply = await laptop.request("read_all")
    moved = [{"room": room, "seq": last[room][1]} for room in sorted((dm, "general", "random"))]
    assert reply == {"op": "ok", "id": reply["id"], "rooms": moved}
    told = await _reads(ann)
    assert sorted((e["room"], e["seq"]) for e in told) == [(m["room"], m["seq"]) for m in moved]
    assert all(set(e) == {"op", "room", "seq"} for e in told), told
    assert await _reads(laptop) == []
    assert {room: c[2] for room, c in (await _counts(ann)).items()} == \
        {dm: 0, "general": 0, "random": 0, "quiet": 0}
    assert {room: c[0] for room, c in (await _counts(ann)).items()} == \
        {room: c[1] for room, c in last.items()}
    assert await _counts(bob) == bobs
    again = await ann.request("read_all")
    assert again == {"op": "ok", "id": again["id"], "rooms": []}
    assert await _reads(laptop) == [] and await _reads(ann) == []
    await _say(bob, "general", "after")
    assert (await _counts(ann))["general"][2] == 1


async def test_only_the_rooms_named(daemon: Server, people: dict[str, Any]) -> None:
    """With ``rooms``: only those move; a room ann is not in, one that does not exist and one
    named twice change nothing and are no error; the others stay unread."""
    ann, laptop, bob, cid = people["ann"], people["laptop"], people["bob"], people["cid"]
    for room in ("general", "random"):
        for client in (ann, bob):
            assert (await client.request("join", room=room))["op"] == "ok"
        await _say(bob, room, "news")
    assert (await cid.request("join", room="elsewhere"))["op"] == "ok"
    await _say(cid, "elsewhere", "not for ann")
    seq = (await _counts(ann))["general"][1]
    reply = await ann.request("read_all", rooms=["general", "elsewhere", "nowhere", "general"])
    assert reply["rooms"] == [{"room": "general", "seq": seq}]
    assert await laptop.event("read", room="general", seq=seq)
    counts = await _counts(ann)
    assert (counts["general"][2], counts["random"][2]) == (0, 1)
    assert "elsewhere" not in counts
    assert (await _counts(cid))["elsewhere"][2] == 0
    assert [e for e in await _reads(laptop) if e["room"] != "general"] == []


async def test_followed_threads_keep_their_markers(daemon: Server, people: dict[str, Any]
                                                   ) -> None:
    """bob replies in a thread of ann's: marking all read reads the room (the reply counted
    in its unread) but not the thread: the welcome's threads_unread and ``threads`` say it is
    still unread, and no thread_state is sent."""
    ann, laptop, bob = people["ann"], people["laptop"], people["bob"]
    for client in (ann, bob):
        assert (await client.request("join", room="general"))["op"] == "ok"
    root = (await _say(ann, "general", "root"))["msg_id"]
    await _say(bob, "general", "a reply", thread=root)
    assert await ann.event("thread_state", msg_id=root, following=True)
    assert (await _counts(ann))["general"][2] == 1
    assert [r["room"] for r in (await laptop.request("read_all"))["rooms"]] == ["general"]
    assert (await _counts(ann))["general"][2] == 0
    welcome = await (await Client.tcp(daemon.tcp_port)).hello(people["token"])
    assert welcome["threads_unread"] == 1
    [thread] = (await ann.request("threads"))["threads"]
    assert (thread["unread"], thread["read_seq"]) == (1, 0)
    assert [e for e in ann.events if e["op"] == "thread_state"] == []


async def test_many_rooms_reach_the_other_node(tmp_path: Path, database_dsn: str,
                                               nursery: trio.Nursery) -> None:
    """ann in 120 rooms of long names, each with a message of bob's she has not read: her
    read_all on node A answers them all, and her connections on node B (TCP and WebSocket)
    get a read event for each, though they take more than one notice between nodes; bob's
    connection there hears none; B's welcome says nothing unread."""
    config = make_config(tmp_path, database_dsn, limits={**LIFTED_RATES, "rooms_per_hour": 1000})
    names = [f"room-{n:03d}-{'x' * 50}" for n in range(120)]
    async with running(config) as a, running(config) as b:
        token = await register_and_login(a.http_port, "ann")
        here = await Client.signed_in(a.tcp_port, token)
        there = [await signed_in_over(t, b, nursery, token) for t in ("tcp", "ws")]
        bob = await Client.signed_in(b.tcp_port, await register_and_login(a.http_port, "bob"))
        for name in names:
            for client in (here, bob):
                assert (await client.request("join", room=name))["op"] == "ok"
            await _say(bob, name, "unread")
        welcome = await (await Client.tcp(b.tcp_port)).hello(token)
        assert sum(1 for r in welcome["rooms"] if r["unread"]) == len(names)
        reply = await here.request("read_all")
        assert [r["room"] for r in reply["rooms"]] == names
        assert len("".join(f'{{"op":"read","room":"{n}","seq":2}}\n' for n in names)) > 7000
        for client in there:
            for item in reply["rooms"]:
                assert await client.event("read", room=item["room"], seq=item["seq"])
        assert [e for e in await _reads(bob) if e["op"] == "read"] == []
        welcome = await (await Client.tcp(b.tcp_port)).hello(token)
        assert [r["room"] for r in welcome["rooms"] if r["unread"]] == []
        for client in (here, *there, bob):
            await client.aclose()


async def test_over_http(daemon: Server) -> None:
    """POST /api/me/read marks all (the socket hears read), with rooms only those; an empty
    body is all; bad bodies 400, no token 401."""
    token = await register_and_login(daemon.http_port, "ann")
    ann = await Client.signed_in(daemon.tcp_port, token)
    bob = await Client.signed_in(daemon.tcp_port, await register_and_login(daemon.http_port, "bob"))
    for room in ("general", "random"):
        for client in (ann, bob):
            assert (await client.request("join", room=room))["op"] == "ok"
        await _say(bob, room, "news")
    seqs = {room: c[1] for room, c in (await _counts(ann)).items()}
    status, body = await http(daemon.http_port, "POST", "/api/me/read", {"rooms": ["random"]},
                              token=token)
    assert (status, body) == (200, {"rooms": [{"room": "random", "seq": seqs["random"]}]})
    assert await ann.event("read", room="random", seq=seqs["random"])
    status, body = await http(daemon.http_port, "POST", "/api/me/read", token=token)
    assert (status, body) == (200, {"rooms": [{"room": "general", "seq": seqs["general"]}]})
    assert await ann.event("read", room="general", seq=seqs["general"])
    status, body = await http(daemon.http_port, "POST", "/api/me/read", {}, token=token)
    assert (status, body) == (200, {"rooms": []})
    bad: dict[str, Any]
    for bad in ({"rooms": []}, {"rooms": "general"}, {"rooms": ["Not A Room!"]},
                {"rooms": [f"r{n}" for n in range(1001)]}, {"rooms": [7]}):
        status, body = await http(daemon.http_port, "POST", "/api/me/read", bad, token=token)
        assert (status, body["code"]) == (400, "bad_request"), bad
    status, _ = await http(daemon.http_port, "POST", "/api/me/read")
    assert status == 401
    for client in (ann, bob):
        await client.aclose()


async def test_refusals(daemon: Server) -> None:
    """Bad ``rooms`` are bad_request (the connection goes on); past the user's burst of 10,
    rate_limited, over all their connections; nothing before a hello."""
    token = await register_and_login(daemon.http_port, "ann")
    ann = await Client.signed_in(daemon.tcp_port, token)
    other = await Client.signed_in(daemon.tcp_port, token)
    for rooms in ([], "general", ["@nobody"], ["UPPER CASE"], [None], list(range(3)),
                  [f"r{n}" for n in range(1001)]):
        reply = await ann.request("read_all", rooms=rooms)
        assert (reply["op"], reply["code"]) == ("error", "bad_request"), rooms
    codes = [(await client.request("read_all")).get("code")
             for client in (ann, other) * 6]
    assert codes[:10] == [None] * 10 and codes[10:] == ["rate_limited"] * 2
    fresh = await Client.tcp(daemon.tcp_port)
    assert (await fresh.request("read_all"))["code"] == "unauthenticated"
    for client in (ann, other, fresh):
        await client.aclose()
