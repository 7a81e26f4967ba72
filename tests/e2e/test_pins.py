"""End-to-end: pinned messages (``pin``, ``pins``, the ``pinned`` entry, the message object's
``pinned`` and the room object's ``pins``) over real sockets, TCP and WebSocket, against the
real database; on one node and across two.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from chatd.config import Config
from chatd.server import Server
from tests.client import Client, full_history, http, register_and_login
from tests.e2e.conftest import ann_and_bea_on_two_nodes, running
from tests.helpers import LIFTED_RATES, make_config

LOG_OPS = ("message", "edited", "deleted", "reaction", "pinned")


def entries(frames: list[dict[str, Any]], room: str) -> list[dict[str, Any]]:
    """The entries of ``room``'s log among ``frames`` (events as received, in order)."""
    return [f for f in frames if f.get("op") in LOG_OPS and f.get("room") == room]


async def _members(server: Server, nursery: trio.Nursery, room: str = "team"
                   ) -> tuple[Client, Client]:
    """ann (TCP, the room's owner) and bob (WebSocket, a member) in ``room``."""
    ann = await Client.tcp(server.tcp_port)
    await ann.hello(await register_and_login(server.http_port, "ann"))
    bob = await Client.ws(server.http_port, nursery)
    await bob.hello(await register_and_login(server.http_port, "bob"))
    for client in (ann, bob):
        assert (await client.request("join", room=room))["op"] == "ok"
    return ann, bob


def _room(rooms: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(r for r in rooms if r["room"] == name)


async def test_a_pin_reaches_every_member_and_shows_everywhere(daemon: Server,
                                                               nursery: trio.Nursery) -> None:
    """A member (not the owner) pins a message: the ack carries the entry's seq, both members
    (TCP and WebSocket) get the ``pinned`` entry, history shows the message with ``pinned``
    {by, ts, seq}, ``pins`` lists it, and the room objects of the welcome and ``rooms`` count
    it; unpinning takes all of that back."""
    ann, bob = await _members(daemon, nursery)
    posted = await ann.request("send", room="team", text="wifi: hunter2", nonce="a1")
    mid = posted["msg_id"]
    pinned = await bob.request("pin", room="team", msg_id=mid)
    assert pinned["op"] == "ok" and pinned["seq"] == posted["seq"] + 1
    assert pinned["msg_id"] == mid and "unchanged" not in pinned
    for client in (ann, bob):
        event = await client.event("pinned", seq=pinned["seq"])
        assert event == {"op": "pinned", "room": "team", "seq": pinned["seq"], "msg_id": mid,
                         "by": "bob", "on": True, "ts": pinned["ts"]}
    [message] = [e for e in await full_history(ann, "team") if e["op"] == "message"]
    assert message["pinned"] == {"by": "bob", "ts": pinned["ts"], "seq": pinned["seq"]}
    assert message["rev"] == pinned["seq"]
    listed = await ann.request("pins", room="team")
    assert [m["msg_id"] for m in listed["messages"]] == [mid]
    assert listed["messages"][0]["pinned"]["by"] == "bob"
    assert listed["more"] is False and listed["last_seq"] == pinned["seq"]

    again = await Client.tcp(daemon.tcp_port)
    welcome = await again.hello(await register_and_login(daemon.http_port, "ann"))
    assert _room(welcome["rooms"], "team")["pins"] == 1
    assert _room((await again.request("rooms", joined=True))["rooms"], "team")["pins"] == 1
    status, listed = await http(daemon.http_port, "GET", "/api/rooms",
                                token=await register_and_login(daemon.http_port, "bob"))
    assert status == 200 and _room(listed["rooms"], "team")["pins"] == 1

    unpinned = await ann.request("pin", room="team", msg_id=mid, on=False)
    assert unpinned["seq"] == pinned["seq"] + 1
    event = await bob.event("pinned", seq=unpinned["seq"])
    assert event["on"] is False and event["by"] == "ann"
    [message] = [e for e in await full_history(bob, "team") if e["op"] == "message"]
    assert "pinned" not in message
    assert (await bob.request("pins", room="team"))["messages"] == []
    assert "pins" not in _room((await again.request("rooms", joined=True))["rooms"], "team")
    for client in (ann, bob, again):
        await client.aclose()


async def test_a_pin_that_changes_nothing_stores_nothing(daemon: Server,
                                                         nursery: trio.Nursery) -> None:
    """Pinning a pinned message, or unpinning one not pinned, is answered unchanged with the
    seq of the entry that made it so (the message's rev), takes no seq and sends nothing."""
    ann, bob = await _members(daemon, nursery)
    posted = await ann.request("send", room="team", text="agenda", nonce="a1")
    mid = posted["msg_id"]
    off = await ann.request("pin", room="team", msg_id=mid, on=False)
    assert off["unchanged"] is True and off["seq"] == posted["seq"]
    first = await ann.request("pin", room="team", msg_id=mid)
    repeat = await bob.request("pin", room="team", msg_id=mid, on=True)
    assert repeat["unchanged"] is True and repeat["seq"] == first["seq"]
    marker = await ann.request("send", room="team", text="after", nonce="a2")
    assert marker["seq"] == first["seq"] + 1
    last = await bob.event("message", seq=marker["seq"])  # taken: the others came before
    assert [(e["op"], e["seq"]) for e in [*entries(bob.events, "team"), last]] == [
        ("message", posted["seq"]), ("pinned", first["seq"]), ("message", marker["seq"])]
    for client in (ann, bob):
        await client.aclose()


async def test_pins_page_most_recently_pinned_first(daemon: Server,
                                                    nursery: trio.Nursery) -> None:
    """``pins`` lists the most recently pinned first (not by message age), and pages with
    ``before`` = the last one's ``pinned.seq`` while ``more``; over HTTP the same."""
    ann, bob = await _members(daemon, nursery)
    mids = [(await ann.request("send", room="team", text=f"m{i}", nonce=f"a{i}"))["msg_id"]
            for i in range(5)]
    order = [mids[3], mids[0], mids[4], mids[1], mids[2]]  # the order they are pinned in
    for mid in order:
        assert (await bob.request("pin", room="team", msg_id=mid))["op"] == "ok"
    got: list[int] = []
    page = await ann.request("pins", room="team", limit=2)
    while True:
        got += [m["msg_id"] for m in page["messages"]]
        if not page["more"]:
            break
        page = await ann.request("pins", room="team", limit=2,
                                 before=page["messages"][-1]["pinned"]["seq"])
    assert got == order[::-1]
    token = await register_and_login(daemon.http_port, "bob")
    status, body = await http(daemon.http_port, "GET", "/api/rooms/team/pins?limit=3",
                              token=token)
    assert status == 200
    assert [m["msg_id"] for m in body["messages"]] == order[::-1][:3]
    assert body["more"] is True and body["room"] == "team"
    status, body = await http(daemon.http_port, "GET", "/api/rooms/team/pins?before="
                              f"{body['messages'][-1]['pinned']['seq']}", token=token)
    assert status == 200 and [m["msg_id"] for m in body["messages"]] == order[::-1][3:]
    status, body = await http(daemon.http_port, "GET", "/api/rooms/team/pins?limit=101",
                              token=token)
    assert status == 400 and body["code"] == "bad_request"
    status, body = await http(daemon.http_port, "GET", "/api/rooms/team/pins")
    assert status == 401
    for client in (ann, bob):
        await client.aclose()


async def test_at_most_pins_per_room(tmp_path: Path, database_dsn: str,
                                     nursery: trio.Nursery) -> None:
    """Past ``limits.pins_per_room`` a pin is refused with too_many_pins and stores nothing;
    re-pinning a pinned message is still unchanged, and unpinning one makes room again."""
    config = make_config(tmp_path, database_dsn, limits={**LIFTED_RATES, "pins_per_room": 2})
    async with running(config) as server:
        ann, bob = await _members(server, nursery)
        mids = [(await ann.request("send", room="team", text=f"m{i}", nonce=f"a{i}")
                 )["msg_id"] for i in range(3)]
        for mid in mids[:2]:
            assert (await ann.request("pin", room="team", msg_id=mid))["op"] == "ok"
        refused = await bob.request("pin", room="team", msg_id=mids[2])
        assert refused["op"] == "error" and refused["code"] == "too_many_pins"
        assert "2" in refused["message"]
        assert (await bob.request("pin", room="team", msg_id=mids[0]))["unchanged"] is True
        assert (await bob.request("pin", room="team", msg_id=mids[1], on=False))["op"] == "ok"
        assert (await bob.request("pin", room="team", msg_id=mids[2]))["op"] == "ok"
        listed = await ann.request("pins", room="team")
        assert [m["msg_id"] for m in listed["messages"]] == [mids[2], mids[0]]
        for client in (ann, bob):
            await client.aclose()


async def test_deleting_a_pinned_message_unpins_it(daemon: Server,
                                                   nursery: trio.Nursery) -> None:
    """A deleted message cannot be pinned (not_found); deleting a pinned one takes it off
    the pins and the room's count, with the deleted entry alone (no pinned entry), which
    says ``"unpinned": true`` live and in the log (left out when it was not pinned)."""
    ann, bob = await _members(daemon, nursery)
    gone = await ann.request("send", room="team", text="old", nonce="a1")
    await ann.request("delete", room="team", msg_id=gone["msg_id"])
    refused = await bob.request("pin", room="team", msg_id=gone["msg_id"])
    assert refused["op"] == "error" and refused["code"] == "not_found"
    kept = await ann.request("send", room="team", text="kept", nonce="a2")
    doomed = await ann.request("send", room="team", text="doomed", nonce="a3")
    for sent in (kept, doomed):
        await bob.request("pin", room="team", msg_id=sent["msg_id"])
    deleted = await ann.request("delete", room="team", msg_id=doomed["msg_id"])
    for client in (ann, bob):  # TCP and WebSocket: the entry says it took a pin
        entry = await client.event("deleted", seq=deleted["seq"])
        assert entry["unpinned"] is True, entry
    plain = await ann.request("send", room="team", text="never pinned", nonce="a4")
    not_pinned = await ann.request("delete", room="team", msg_id=plain["msg_id"])
    assert "unpinned" not in await bob.event("deleted", seq=not_pinned["seq"])
    assert [m["msg_id"] for m in (await bob.request("pins", room="team"))["messages"]] == [
        kept["msg_id"]]
    again = await Client.tcp(daemon.tcp_port)
    welcome = await again.hello(await register_and_login(daemon.http_port, "bob"))
    assert _room(welcome["rooms"], "team")["pins"] == 1
    log = await full_history(again, "team")
    assert [(e["op"], e.get("unpinned")) for e in log if e["seq"] > doomed["seq"]] == [
        ("pinned", None), ("pinned", None), ("deleted", True), ("message", None),
        ("deleted", None)]  # as it came live, from the log too
    tomb = next(e for e in log if e.get("msg_id") == doomed["msg_id"] and e["op"] == "message")
    assert tomb["deleted"] is True and "pinned" not in tomb
    for client in (ann, bob, again):
        await client.aclose()


@pytest.mark.parametrize("transport", ["tcp", "ws"])
async def test_who_may_pin(daemon: Server, nursery: trio.Nursery, transport: str) -> None:
    """Non-members (of a public room too) and banned users may neither pin nor list the
    pins (forbidden); unknown rooms and messages are not_found; an archived room refuses
    pins with archived but its members still list them. Each refusal stores nothing."""
    ann, bob = await _members(daemon, nursery)
    posted = await ann.request("send", room="team", text="rota", nonce="a1")
    mid = posted["msg_id"]
    if transport == "tcp":
        eve = await Client.tcp(daemon.tcp_port)
    else:
        eve = await Client.ws(daemon.http_port, nursery)
    await eve.hello(await register_and_login(daemon.http_port, "eve"))
    for request in ({"op": "pin", "msg_id": mid}, {"op": "pins"}):
        refused = await eve.request(**request, room="team")
        assert refused["op"] == "error" and refused["code"] == "forbidden", refused
    assert (await eve.request("pin", room="nowhere", msg_id=mid))["code"] == "not_found"
    assert (await eve.request("pins", room="nowhere"))["code"] == "not_found"
    assert (await bob.request("pin", room="team", msg_id=mid + 1000))["code"] == "not_found"
    await ann.request("ban", room="team", user="bob")
    assert (await bob.request("pin", room="team", msg_id=mid))["code"] == "forbidden"
    assert (await bob.request("pins", room="team"))["code"] == "forbidden"
    assert (await ann.request("pin", room="team", msg_id=mid))["op"] == "ok"
    archived = await ann.request("archive", room="team", archived=True)
    refused = await ann.request("pin", room="team", msg_id=mid, on=False)
    assert refused["op"] == "error" and refused["code"] == "archived"
    listed = await ann.request("pins", room="team")
    assert [m["msg_id"] for m in listed["messages"]] == [mid]
    assert listed["last_seq"] == archived["seq"]  # the refusals stored nothing
    for client in (ann, bob, eve):
        await client.aclose()


async def test_pins_in_a_conversation(daemon: Server, nursery: trio.Nursery) -> None:
    """Either side of a 1:1 conversation pins its messages; the other gets the entry."""
    ann, bob = await _members(daemon, nursery)
    sent = await ann.request("dm", to="bob", text="my number: 555", nonce="d1")
    room = sent["room"]
    pinned = await bob.request("pin", room=room, msg_id=sent["msg_id"])
    assert pinned["op"] == "ok"
    event = await ann.event("pinned", seq=pinned["seq"])
    assert event["room"] == room and event["by"] == "bob"
    assert [m["msg_id"] for m in (await ann.request("pins", room=room))["messages"]] == [
        sent["msg_id"]]
    for client in (ann, bob):
        await client.aclose()


async def test_resume_carries_a_pin_once(config: Config, nursery: trio.Nursery) -> None:
    """A client away while a message was pinned and another unpinned gets, on resume, the
    pinned entries once each in seq order, the resumed message showing its pin; then live
    entries continue with nothing repeated."""
    async with running(config) as server:
        ann, bob = await _members(server, nursery)
        first = await ann.request("send", room="team", text="agenda", nonce="a1")
        await ann.request("pin", room="team", msg_id=first["msg_id"])
        seen = await ann.request("send", room="team", text="seen", nonce="a2")
        await bob.aclose()  # away from here
        later = await ann.request("send", room="team", text="rota", nonce="a3")
        pinned = await ann.request("pin", room="team", msg_id=later["msg_id"])
        unpinned = await ann.request("pin", room="team", msg_id=first["msg_id"], on=False)

        bob = await Client.tcp(server.tcp_port)
        welcome = await bob.hello(await register_and_login(server.http_port, "bob"),
                                  resume={"team": seen["seq"]})
        assert _room(welcome["rooms"], "team")["pins"] == 1
        live = await ann.request("pin", room="team", msg_id=seen["msg_id"])
        last = await bob.event("pinned", seq=live["seq"])  # taken: the others came before
        got = [*entries(bob.events, "team"), last]
        assert [(e["op"], e["seq"]) for e in got] == [
            ("message", later["seq"]), ("pinned", pinned["seq"]),
            ("pinned", unpinned["seq"]), ("pinned", live["seq"])]
        assert got[0]["pinned"]["seq"] == pinned["seq"] and got[0]["rev"] == pinned["seq"]
        assert [e["on"] for e in got[1:]] == [True, False, True]
        for client in (ann, bob):
            await client.aclose()


async def test_pins_cross_nodes(tmp_path: Path, database_dsn: str) -> None:
    """A pin made on one node reaches the members connected to another (the commit notice
    names the range, the other node reads the pinned entry back), in seq order; the count
    and the list are the same from both nodes."""
    async with ann_and_bea_on_two_nodes(tmp_path, database_dsn) as (ann, bea):
        posted = await ann.request("send", room="shared", text="runbook", nonce="x1")
        pinned = await ann.request("pin", room="shared", msg_id=posted["msg_id"])
        for client in (ann, bea):
            listed = await client.request("pins", room="shared")
            assert [m["msg_id"] for m in listed["messages"]] == [posted["msg_id"]]
        back = await bea.request("pin", room="shared", msg_id=posted["msg_id"], on=False)
        for client in (ann, bea):
            last = await client.event("pinned", seq=back["seq"])  # the others came before
            got = [*entries(client.events, "shared"), last]
            assert [(e["op"], e["seq"]) for e in got] == [
                ("message", posted["seq"]), ("pinned", pinned["seq"]), ("pinned", back["seq"])]
            assert got[1] == {"op": "pinned", "room": "shared", "seq": pinned["seq"],
                              "msg_id": posted["msg_id"], "by": "ann", "on": True,
                              "ts": pinned["ts"]}
            assert got[2]["by"] == "bea" and got[2]["on"] is False
            assert (await client.request("pins", room="shared"))["messages"] == []


async def test_a_ban_deleting_a_pinned_message_says_it_unpinned(daemon: Server,
                                                               nursery: trio.Nursery) -> None:
    """A ban with ``delete_messages`` deletes each message with a ``deleted`` entry as a
    ``delete`` does: the one of a pinned message says ``"unpinned": true``, the others not."""
    ann, bob = await _members(daemon, nursery)
    pinned = await bob.request("send", room="team", text="pinned", nonce="b1")
    other = await bob.request("send", room="team", text="other", nonce="b2")
    await ann.request("pin", room="team", msg_id=pinned["msg_id"])
    banned = await ann.request("ban", room="team", user="bob", delete_messages=3600)
    assert banned["op"] == "ok", banned
    said = {}
    for sent in (pinned, other):
        entry = await ann.event("deleted", msg_id=sent["msg_id"])
        said[sent["msg_id"]] = entry.get("unpinned")
    assert said == {pinned["msg_id"]: True, other["msg_id"]: None}
    assert (await ann.request("pins", room="team"))["messages"] == []
    for client in (ann, bob):
        await client.aclose()
