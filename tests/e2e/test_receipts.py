"""End-to-end: read receipts (``receipts``, ``set_read_receipts``, the ``seen`` and
``read_receipts`` events, the user object's ``read_receipts``), over TCP and WebSocket, on
one node and two, and over HTTP; a room of 10,000 members.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s)
and waits for the frame it asserts, never for time. That no event came is checked after an
event the server sent to the same connection after it would have sent the other (the
registry delivers in the order it was told), or after a ``ping`` for the asker's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import trio

from chatd.rooms import BroadcastEach
from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.conftest import execute_sql
from tests.e2e.conftest import ann_on_two_devices, running
from tests.helpers import LIFTED_RATES, locked_rows, make_config, until


@pytest.fixture(params=["tcp", "ws"])
async def people(request: pytest.FixtureRequest, daemon: Server, nursery: trio.Nursery
                 ) -> dict[str, Any]:
    """ann (over the transport of the parameter, and a second connection over TCP, her
    laptop), bob and cid; ann's token."""
    return await ann_on_two_devices(daemon, nursery, request.param)


def _seen(client: Client) -> list[dict[str, Any]]:
    return [e for e in client.events if e["op"] == "seen"]


async def test_who_has_read_a_message(people: dict[str, Any]) -> None:
    """ann's message in a room of four: the reply counts and names its readers, her and the
    asker aside, by name; a reader who reads on is still one; paging by after/limit."""
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    for client in (ann, bob, cid):
        assert (await client.request("join", room="general"))["op"] == "ok"
    sent = await ann.request("send", room="general", text="lunch?", nonce="n1")
    later = await ann.request("send", room="general", text="anyone?", nonce="n2")
    asked = await ann.request("receipts", room="general", msg_id=sent["msg_id"])
    assert asked == {"op": "ok", "id": asked["id"], "room": "general",
                     "msg_id": sent["msg_id"], "seq": sent["seq"], "count": 0, "users": [],
                     "more": False}
    assert (await cid.request("read", room="general", seq=sent["seq"]))["seq"] == sent["seq"]
    assert (await bob.request("read", room="general", seq=later["seq"]))["op"] == "ok"
    asked = await ann.request("receipts", room="general", msg_id=sent["msg_id"])
    assert (asked["count"], asked["users"], asked["more"]) == (2, ["bob", "cid"], False)
    assert (await ann.request("receipts", room="general", msg_id=later["msg_id"]))[
        "users"] == ["bob"]
    by_bob = await bob.request("receipts", room="general", msg_id=sent["msg_id"])
    assert (by_bob["count"], by_bob["users"]) == (1, ["cid"])
    first = await ann.request("receipts", room="general", msg_id=sent["msg_id"], limit=1)
    assert (first["users"], first["more"]) == (["bob"], True)
    rest = await ann.request("receipts", room="general", msg_id=sent["msg_id"], limit=1,
                             after="BOB")
    assert (rest["count"], rest["users"], rest["more"]) == (2, ["cid"], False)


async def test_seen_in_a_conversation(people: dict[str, Any]) -> None:
    """bob reads ann's direct message: both of ann's connections get seen (bob, the seq),
    bob's own nothing but his read; a read that does not move tells nobody; bob's mark
    unread tells with back; ann's positions say where bob is. In a group, both others."""
    ann, laptop, bob, cid = people["ann"], people["laptop"], people["bob"], people["cid"]
    sent = await ann.request("dm", to="bob", text="hi", nonce="d1")
    room = sent["room"]
    await bob.event("message", room=room, seq=sent["seq"])
    assert (await bob.request("read", room=room, seq=sent["seq"]))["seq"] == sent["seq"]
    for client in (ann, laptop):
        assert await client.event("seen", room=room) == {
            "op": "seen", "room": room, "user": "bob", "seq": sent["seq"]}
    positions = await laptop.request("receipts", room=room)
    assert positions["positions"] == [{"user": "bob", "seq": sent["seq"]}]
    assert (await bob.request("read", room=room, seq=sent["seq"]))["seq"] == sent["seq"]
    back = await bob.request("unread", room=room, seq=sent["seq"])
    assert back["seq"] == sent["seq"] - 1
    told = await ann.event("seen", room=room)
    assert told == {"op": "seen", "room": room, "user": "bob", "seq": sent["seq"] - 1,
                    "back": True}
    assert _seen(ann) == []  # the read that did not move told nothing before the back
    assert (await bob.request("ping"))["op"] == "ok"
    assert _seen(bob) == []

    group = (await ann.request("dm", to=["bob", "cid"], text="all", nonce="g1"))
    await cid.event("message", room=group["room"], seq=group["seq"])
    assert (await cid.request("read", room=group["room"], seq=group["seq"]))["op"] == "ok"
    for client in (ann, bob):
        assert (await client.event("seen", room=group["room"]))["user"] == "cid"
    assert (await ann.request("receipts", room=group["room"]))["positions"] == [
        {"user": "bob", "seq": 0}, {"user": "cid", "seq": group["seq"]}]


async def test_mark_all_as_read_is_seen(people: dict[str, Any]) -> None:
    """bob marks everything read: ann sees it in their conversation and in the group (the
    seen event, as for a read), the room's marker tells nobody (checked after the seen
    of the conversation, which the server sends later in the same request)."""
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    for client in (ann, bob):
        assert (await client.request("join", room="general"))["op"] == "ok"
    sent = await ann.request("send", room="general", text="hello all", nonce="m1")
    dm = await ann.request("dm", to="bob", text="and you", nonce="m2")
    group = await ann.request("dm", to=["bob", "cid"], text="and both", nonce="m3")
    await bob.event("message", room=group["room"], seq=group["seq"])
    marked = await bob.request("read_all")
    assert {m["room"]: m["seq"] for m in marked["rooms"]} == {
        "general": sent["seq"], dm["room"]: dm["seq"], group["room"]: group["seq"]}
    assert await ann.event("seen", room=dm["room"]) == {
        "op": "seen", "room": dm["room"], "user": "bob", "seq": dm["seq"]}
    for client in (ann, cid):
        assert (await client.event("seen", room=group["room"]))["user"] == "bob"
    assert [e for e in _seen(ann) if e["room"] == "general"] == []


async def test_no_seen_in_a_room(people: dict[str, Any]) -> None:
    """bob reads a room ann is in: ann gets no seen (checked after the seen of bob's read
    of their conversation right after, which the server sends later)."""
    ann, bob = people["ann"], people["bob"]
    for client in (ann, bob):
        assert (await client.request("join", room="general"))["op"] == "ok"
    sent = await ann.request("send", room="general", text="hello all", nonce="r1")
    assert (await bob.request("read", room="general", seq=sent["seq"]))["seq"] == sent["seq"]
    dm = await ann.request("dm", to="bob", text="and you", nonce="r2")
    assert (await bob.request("read", room=dm["room"], seq=dm["seq"]))["op"] == "ok"
    await ann.event("seen", room=dm["room"], user="bob")
    assert [e for e in _seen(ann) if e["room"] == "general"] == []
    # the receipts on request still say it
    asked = await ann.request("receipts", room="general", msg_id=sent["msg_id"])
    assert asked["users"] == ["bob"]


async def test_privacy_off_leaves_one_out(daemon: Server, people: dict[str, Any]) -> None:
    """bob stops sharing: his connection is told (read_receipts), his next welcome says
    it, he is out of the receipts' list and count, out of the positions, and his reads tell
    ann nothing; he still sees ann's; setting it again tells nobody; on again, ann is told
    where his marker is, and his next read tells."""
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    for client in (ann, bob, cid):
        assert (await client.request("join", room="general"))["op"] == "ok"
    sent = await ann.request("send", room="general", text="news", nonce="p1")
    for client in (bob, cid):
        assert (await client.request("read", room="general", seq=sent["seq"]))["op"] == "ok"
    reply = await bob.request("set_read_receipts", on=False)
    assert reply == {"op": "ok", "id": reply["id"], "on": False}
    assert await bob.event("read_receipts") == {"op": "read_receipts", "on": False}
    asked = await ann.request("receipts", room="general", msg_id=sent["msg_id"])
    assert (asked["count"], asked["users"]) == (1, ["cid"])
    dm = await ann.request("dm", to="bob", text="psst", nonce="p2")
    assert (await bob.request("read", room=dm["room"], seq=dm["seq"]))["op"] == "ok"
    mine = await bob.request("dm", to="ann", text="hm", nonce="p3")
    assert (await ann.request("read", room=dm["room"], seq=mine["seq"]))["op"] == "ok"
    # bob still sees ann's read, and ann got nothing of bob's, sent before it
    assert (await bob.event("seen", room=dm["room"]))["user"] == "ann"
    assert (await ann.request("receipts", room=dm["room"]))["positions"] == []
    assert (await bob.request("receipts", room=dm["room"]))["positions"] == [
        {"user": "ann", "seq": mine["seq"]}]
    assert (await ann.request("ping"))["op"] == "ok"
    assert _seen(ann) == []
    welcome = await (await Client.tcp(daemon.tcp_port)).hello(
        await register_and_login(daemon.http_port, "bob"))
    assert welcome["user"]["read_receipts"] is False
    again = await bob.request("set_read_receipts", on=False)  # no change: no event
    assert again["on"] is False
    assert (await bob.request("set_read_receipts", on=True))["on"] is True
    assert await bob.event("read_receipts") == {"op": "read_receipts", "on": True}
    assert [e for e in bob.events if e["op"] == "read_receipts"] == []
    # on again: ann is told where bob's marker is at once (see the tests below)
    assert (await ann.event("seen", room=dm["room"]))["seq"] == dm["seq"]
    last = await ann.request("dm", to="bob", text="back?", nonce="p4")
    assert (await bob.request("read", room=dm["room"], seq=last["seq"]))["op"] == "ok"
    assert (await ann.event("seen", room=dm["room"]))["seq"] == last["seq"]


async def test_off_takes_back_on_tells(people: dict[str, Any]) -> None:
    """bob, who read his conversation with ann, stops sharing: in each of his conversations
    its other members (both of ann's connections, cid in the group) get seen with seq
    null, nobody in a room, bob nothing; on again, each gets seen with bob's marker as it
    is (as after a read). Setting what is set tells nobody."""
    ann, laptop, bob, cid = people["ann"], people["laptop"], people["bob"], people["cid"]
    for client in (ann, bob):
        assert (await client.request("join", room="general"))["op"] == "ok"
    dm = await ann.request("dm", to="bob", text="hi", nonce="t1")
    group = await ann.request("dm", to=["bob", "cid"], text="all", nonce="t2")
    await bob.event("message", room=group["room"], seq=group["seq"])
    assert (await bob.request("read", room=dm["room"], seq=dm["seq"]))["op"] == "ok"
    for client in (ann, laptop):
        assert (await client.event("seen", room=dm["room"]))["seq"] == dm["seq"]

    assert (await bob.request("set_read_receipts", on=False))["on"] is False
    for client in (ann, laptop):
        for room in (dm["room"], group["room"]):
            assert await client.event("seen", room=room) == {
                "op": "seen", "room": room, "user": "bob", "seq": None}
    assert await cid.event("seen", room=group["room"]) == {
        "op": "seen", "room": group["room"], "user": "bob", "seq": None}
    assert (await bob.request("set_read_receipts", on=False))["on"] is False

    assert (await bob.request("set_read_receipts", on=True))["on"] is True
    for client in (ann, laptop):
        assert await client.event("seen", room=dm["room"]) == {
            "op": "seen", "room": dm["room"], "user": "bob", "seq": dm["seq"]}
        assert await client.event("seen", room=group["room"]) == {
            "op": "seen", "room": group["room"], "user": "bob", "seq": 0}
    assert await cid.event("seen", room=group["room"]) == {
        "op": "seen", "room": group["room"], "user": "bob", "seq": 0}
    # nothing else: not the off set twice, not the room, not bob's own connection
    for client in (ann, laptop, cid, bob):
        assert (await client.request("ping"))["op"] == "ok"
        assert _seen(client) == []


async def test_a_read_that_ran_before_off_is_taken_back_after_it(
        daemon: Server, database_dsn: str) -> None:
    """bob's read of his conversation with ann, its statement held on his membership's row
    (its snapshot taken while he still shares), ends after his other device turned receipts
    off and ann was told seq null: the seen the read then tells is followed by seq null
    again, so what ann is left with is that bob shares nothing."""
    tokens = {name: await register_and_login(daemon.http_port, name) for name in ("ann", "bob")}
    ann = await Client.signed_in(daemon.tcp_port, tokens["ann"])
    bob = await Client.signed_in(daemon.tcp_port, tokens["bob"])
    phone = await Client.signed_in(daemon.tcp_port, tokens["bob"])
    sent = await ann.request("dm", to="bob", text="hi", nonce="h1")
    room = sent["room"]
    await bob.event("message", room=room, seq=sent["seq"])
    async with trio.open_nursery() as nursery, locked_rows(database_dsn, """
                SELECT 1 FROM memberships m JOIN rooms r ON r.id = m.room_id
                JOIN users u ON u.id = m.user_id
                WHERE r.name = $1 AND u.name = 'bob' FOR UPDATE OF m""", room) as held:
        read: dict[str, Any] = {}

        async def reading() -> None:
            read.update(await bob.request("read", room=room, seq=sent["seq"]))

        nursery.start_soon(reading)
        await held.someone_waits()  # the read's update, on bob's membership
        assert (await phone.request("set_read_receipts", on=False))["on"] is False
        assert await ann.event("seen", room=room) == {
            "op": "seen", "room": room, "user": "bob", "seq": None}
    assert read["seq"] == sent["seq"]
    # what the read's statement saw (bob sharing) is told, then taken back
    assert (await ann.event("seen", room=room))["seq"] == sent["seq"]
    assert await ann.event("seen", room=room) == {
        "op": "seen", "room": room, "user": "bob", "seq": None}
    for client in (ann, bob, phone):
        await client.aclose()


def _telling(server: Server, monkeypatch: pytest.MonkeyPatch
             ) -> tuple[list[BroadcastEach], list[list[tuple[str, bytes]]]]:
    """What ``server`` hands on of ``seen`` events from now on: each registry command that
    carries some, and each trip to the other nodes that does (recorded, then done)."""
    commands: list[BroadcastEach] = []
    trips: list[list[tuple[str, bytes]]] = []
    send, many = server.app.registry.send, server.app.storage.tell_elsewhere_many

    async def recording_send(command: Any) -> None:
        if b'"op":"seen"' in getattr(command, "data", b"") or isinstance(command, BroadcastEach):
            commands.append(command)
        await send(command)

    async def recording_many(events: Sequence[tuple[str, bytes]]) -> None:
        if any(b'"op":"seen"' in data for _, data in events):
            trips.append(list(events))
        await many(events)

    monkeypatch.setattr(server.app.registry, "send", recording_send)
    monkeypatch.setattr(server.app.storage, "tell_elsewhere_many", recording_many)
    return commands, trips


async def test_taken_back_on_the_other_node_at_once(
        tmp_path: Path, database_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """ann and cid on node A, bob on node B, in a conversation and a group: bob's off on B
    reaches ann and cid on A (seq null in each conversation), and his read_all's seen too;
    each change is one registry command and one trip to the other nodes, whatever the
    number of conversations."""
    config = make_config(tmp_path, database_dsn, limits=LIFTED_RATES)
    async with running(config) as a, running(config) as b:
        ann = await Client.signed_in(a.tcp_port, await register_and_login(a.http_port, "ann"))
        cid = await Client.signed_in(a.tcp_port, await register_and_login(a.http_port, "cid"))
        bob = await Client.signed_in(b.tcp_port, await register_and_login(b.http_port, "bob"))
        with trio.fail_after(10):
            await until(lambda: {"ann", "cid"} <= b.app.presence.state.remote.keys())
        dm = await ann.request("dm", to="bob", text="hi", nonce="o1")
        group = await ann.request("dm", to=["bob", "cid"], text="all", nonce="o2")
        await bob.event("message", room=group["room"], seq=group["seq"])
        commands, trips = _telling(b, monkeypatch)

        assert (await bob.request("read_all"))["op"] == "ok"
        assert await ann.event("seen", room=dm["room"]) == {
            "op": "seen", "room": dm["room"], "user": "bob", "seq": dm["seq"]}
        for client in (ann, cid):
            assert (await client.event("seen", room=group["room"]))["seq"] == group["seq"]
        assert (len(commands), len(trips)) == (1, 1)
        assert sorted(user for user, _ in trips[0]) == ["ann", "cid"]

        commands.clear()
        trips.clear()
        assert (await bob.request("set_read_receipts", on=False))["on"] is False
        for room in (dm["room"], group["room"]):
            assert await ann.event("seen", room=room) == {
                "op": "seen", "room": room, "user": "bob", "seq": None}
        assert await cid.event("seen", room=group["room"]) == {
            "op": "seen", "room": group["room"], "user": "bob", "seq": None}
        assert (len(commands), len(trips)) == (1, 1)
        for client in (ann, cid, bob):
            await client.aclose()


async def test_refusals(people: dict[str, Any]) -> None:
    """Not a member of a private room or of a conversation: forbidden, as history; no such
    room or message: not_found; positions of a room, after without msg_id, a bad on:
    bad_request; nobody is told."""
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    assert (await bob.request("create_room", room="staff", private=True))["op"] == "ok"
    secret = await bob.request("send", room="staff", text="secret", nonce="s1")
    theirs = await bob.request("dm", to="cid", text="between us", nonce="s2")
    assert (await ann.request("join", room="general"))["op"] == "ok"
    mine = await ann.request("send", room="general", text="hi", nonce="s3")
    for fields, code in (
            ({"room": "staff", "msg_id": secret["msg_id"]}, "forbidden"),
            ({"room": theirs["room"], "msg_id": theirs["msg_id"]}, "forbidden"),
            ({"room": theirs["room"]}, "forbidden"),
            ({"room": "nowhere", "msg_id": mine["msg_id"]}, "not_found"),
            ({"room": "general", "msg_id": secret["msg_id"]}, "not_found"),
            ({"room": "general", "msg_id": 10**15}, "not_found"),
            ({"room": "general"}, "bad_request"),
            ({"room": "general", "after": "bob"}, "bad_request"),
            ({"room": "general", "msg_id": 0}, "bad_request")):
        refused = await ann.request("receipts", **fields)
        history = await ann.request("history", room=fields["room"])
        assert (refused["op"], refused["code"]) == ("error", code), (fields, refused)
        if code == "forbidden":
            assert history["code"] == "forbidden"
    for value in (None, "yes"):
        refused = await ann.request("set_read_receipts", **({} if value is None
                                                            else {"on": value}))
        assert (refused["op"], refused["code"]) == ("error", "bad_request")
    assert (await ann.request("ping"))["op"] == "ok"
    assert [e for e in ann.events if e["op"] == "read_receipts"] == []
    for client in (bob, cid):
        assert (await client.request("ping"))["op"] == "ok"
        assert _seen(client) == []


async def test_seen_reaches_the_other_node(tmp_path: Path, database_dsn: str) -> None:
    """ann on node A, bob on node B, in a conversation: bob's read on B reaches ann on A as
    seen (once B knows she is online on A), and ann's on A reaches bob on B; the move back
    too."""
    config = make_config(tmp_path, database_dsn, limits=LIFTED_RATES)
    async with running(config) as a, running(config) as b:
        ann = await Client.signed_in(a.tcp_port, await register_and_login(a.http_port, "ann"))
        bob = await Client.signed_in(b.tcp_port, await register_and_login(b.http_port, "bob"))
        # A seen crosses to a node only while the reader's node knows the other online
        # there (as a read's own event): wait for each node's picture of the other's users.
        with trio.fail_after(10):
            await until(lambda: "ann" in b.app.presence.state.remote
                        and "bob" in a.app.presence.state.remote)
        sent = await ann.request("dm", to="bob", text="across", nonce="x1")
        await bob.event("message", room=sent["room"], seq=sent["seq"])
        assert (await bob.request("read", room=sent["room"], seq=sent["seq"]))["op"] == "ok"
        assert await ann.event("seen", room=sent["room"]) == {
            "op": "seen", "room": sent["room"], "user": "bob", "seq": sent["seq"]}
        answer = await bob.request("dm", to="ann", text="back", nonce="x2")
        assert (await ann.request("read", room=sent["room"], seq=answer["seq"]))["op"] == "ok"
        assert (await bob.event("seen", room=sent["room"]))["seq"] == answer["seq"]
        assert (await bob.request("unread", room=sent["room"], seq=1))["seq"] == 0
        assert await ann.event("seen", room=sent["room"], seq=0, back=True)
        for client in (ann, bob):
            await client.aclose()


async def test_a_room_of_ten_thousand(daemon: Server, database_dsn: str) -> None:
    """10,000 members (made in SQL), 9,990 of whom read ann's message: the answer counts
    them all and names the first 100 by name, with more; the next page follows on."""
    token = await register_and_login(daemon.http_port, "ann")
    ann = await Client.signed_in(daemon.tcp_port, token)
    assert (await ann.request("join", room="hall"))["op"] == "ok"
    sent = await ann.request("send", room="hall", text="to all", nonce="h1")
    await trio.to_thread.run_sync(execute_sql, database_dsn, """
        INSERT INTO users (name, password_hash)
        SELECT 'u' || g, 'hash' FROM generate_series(1, 10000) g
    """, f"""
        INSERT INTO memberships (room_id, user_id, read_seq)
        SELECT r.id, u.id, CASE WHEN u.name ~ '^u[0-9]$' THEN 0 ELSE {sent["seq"]} END
        FROM rooms r, users u WHERE r.name = 'hall' AND u.name ~ '^u[0-9]+$'
    """, "ANALYZE")
    asked = await ann.request("receipts", room="hall", msg_id=sent["msg_id"])
    names = sorted(f"u{n}" for n in range(10, 10001))
    assert (asked["count"], asked["users"], asked["more"]) == (9991, names[:100], True)
    status, body = await http(
        daemon.http_port, "GET",
        f"/api/rooms/hall/messages/{sent['msg_id']}/receipts?limit=500&after={names[99]}",
        token=token)
    assert status == 200
    assert (body["count"], body["users"], body["more"]) == (9991, names[100:200], True)
    await ann.aclose()


async def test_over_http(daemon: Server) -> None:
    """PUT /api/me/read-receipts sets it (the socket hears read_receipts, GET /api/me says
    it); GET …/messages/{msg_id}/receipts and GET …/receipts answer as the socket; a
    stranger 403, an unknown message 404, a room's positions 400, no token 401."""
    token = await register_and_login(daemon.http_port, "ann")
    ann = await Client.signed_in(daemon.tcp_port, token)
    bob_token = await register_and_login(daemon.http_port, "bob")
    bob = await Client.signed_in(daemon.tcp_port, bob_token)
    sent = await ann.request("dm", to="bob", text="hello", nonce="n")
    room = sent["room"]
    assert (await bob.request("read", room=room, seq=sent["seq"]))["op"] == "ok"
    path = f"/api/rooms/{room}/messages/{sent['msg_id']}/receipts"
    status, body = await http(daemon.http_port, "GET", path, token=token)
    assert (status, body) == (200, {"room": room, "msg_id": sent["msg_id"],
                                    "seq": sent["seq"], "count": 1, "users": ["bob"],
                                    "more": False})
    status, body = await http(daemon.http_port, "GET", f"/api/rooms/{room}/receipts",
                              token=token)
    assert (status, body) == (200, {"room": room,
                                    "positions": [{"user": "bob", "seq": sent["seq"]}]})
    status, body = await http(daemon.http_port, "PUT", "/api/me/read-receipts", {"on": False},
                              token=bob_token)
    assert (status, body) == (200, {"on": False})
    assert await bob.event("read_receipts", on=False)
    status, body = await http(daemon.http_port, "GET", "/api/me", token=bob_token)
    assert status == 200 and body["user"]["read_receipts"] is False
    status, body = await http(daemon.http_port, "GET", path, token=token)
    assert (status, body["count"], body["users"]) == (200, 0, [])
    await register_and_login(daemon.http_port, "cid")
    theirs = await bob.request("dm", to="cid", text="private", nonce="p")
    assert (await ann.request("join", room="general"))["op"] == "ok"
    for method, target, body_in, code in (
            ("GET", f"/api/rooms/{theirs['room']}/messages/{theirs['msg_id']}/receipts",
             None, 403),
            ("GET", f"/api/rooms/{room}/messages/{theirs['msg_id']}/receipts", None, 404),
            ("GET", f"/api/rooms/{theirs['room']}/receipts", None, 403),
            ("GET", "/api/rooms/general/receipts", None, 400),
            ("PUT", "/api/me/read-receipts", {"on": "no"}, 400),
            ("PUT", "/api/me/read-receipts", {}, 400)):
        status, answer = await http(daemon.http_port, method, target, body_in, token=token)
        assert status == code, (target, answer)
    status, _ = await http(daemon.http_port, "GET", path)
    assert status == 401
    await ann.aclose()
    await bob.aclose()


async def test_a_burst_of_receipts_is_refused(daemon: Server) -> None:
    """A user's ``receipts`` of a message: 30 at once are answered, the next is rate_limited
    with retry_after (on another connection of theirs too, and over HTTP: 429 with
    Retry-After: one bucket per user); a conversation's markers (no msg_id) are still
    answered, and another user's receipts are not limited by hers."""
    token = await register_and_login(daemon.http_port, "ann")
    ann = await Client.signed_in(daemon.tcp_port, token)
    bob = await Client.signed_in(daemon.tcp_port,
                                 await register_and_login(daemon.http_port, "bob"))
    sent = await ann.request("dm", to="bob", text="hello", nonce="n")
    room, mid = sent["room"], sent["msg_id"]
    for _ in range(30):
        assert (await ann.request("receipts", room=room, msg_id=mid))["op"] == "ok"
    refused = await ann.request("receipts", room=room, msg_id=mid)
    assert (refused["op"], refused["code"]) == ("error", "rate_limited")
    assert 0 < refused["retry_after"] <= 1000
    laptop = await Client.signed_in(daemon.tcp_port, token)
    assert (await laptop.request("receipts", room=room, msg_id=mid))["code"] == "rate_limited"
    status, body = await http(daemon.http_port, "GET",
                              f"/api/rooms/{room}/messages/{mid}/receipts", token=token)
    assert (status, body["code"]) == (429, "rate_limited")
    assert (await ann.request("receipts", room=room))["positions"] == [
        {"user": "bob", "seq": 0}]
    assert (await bob.request("receipts", room=room, msg_id=mid))["op"] == "ok"
    for client in (ann, bob, laptop):
        await client.aclose()
