"""End-to-end: direct messages, contacts, private rooms, typing, read markers, and several
connections per user — over real sockets and the real PostgreSQL."""

from __future__ import annotations

from typing import Any

import trio

from chatd.server import Server
from tests.client import Client, http, register_and_login


async def _user(daemon: Server, name: str) -> tuple[Client, str]:
    token = await register_and_login(daemon.http_port, name)
    client = await Client.tcp(daemon.tcp_port)
    await client.hello(token)
    return client, token


async def test_direct_message_creates_a_private_conversation(daemon: Server) -> None:
    """A dm creates one conversation for the pair, delivered live to both, listed in both
    users' rooms with the peer; a third user is refused on every path; unknown → not_found."""
    alice, _ = await _user(daemon, "Alice")
    bob, bob_token = await _user(daemon, "bob")
    ack = await alice.request("dm", to="BOB", text="psst", nonce="d1")
    assert ack["op"] == "ok" and ack["room"] == "@alice:bob" and ack["seq"] == 1
    got = await bob.event("message", room="@alice:bob")
    assert (got["from"], got["text"]) == ("Alice", "psst")
    assert (await alice.event("message", room="@alice:bob"))["nonce"] == "d1"
    again = await bob.request("dm", to="alice", text="hi back", nonce="d2")
    assert (again["room"], again["seq"]) == ("@alice:bob", 2)
    assert (await alice.request("dm", to="nobody", text="x", nonce="d3"))["code"] == "not_found"

    later = await Client.tcp(daemon.tcp_port)
    welcome = await later.hello(bob_token)
    [room] = welcome["rooms"]
    assert (room["room"], room["kind"], room["peer"], room["private"]) == (
        "@alice:bob", "dm", "Alice", True)
    assert room["unread"] == 1  # alice's message; bob's own does not count

    carol, carol_token = await _user(daemon, "carol")
    refused = {
        "join": await carol.request("join", room="@alice:bob"),
        "send": await carol.request("send", room="@alice:bob", text="x", nonce="c1"),
        "history": await carol.request("history", room="@alice:bob"),
        "who": await carol.request("who", room="@alice:bob"),
        "read": await carol.request("read", room="@alice:bob", seq=1),
        "typing": await carol.request("typing", room="@alice:bob"),
        "invite": await carol.request("invite", room="@alice:bob", user="carol"),
    }
    assert {op: r.get("code") for op, r in refused.items()} == dict.fromkeys(refused, "forbidden")
    status, body = await http(daemon.http_port, "GET", "/api/rooms/%40alice%3Abob/messages",
                              token=carol_token)
    assert (status, body["code"]) == (403, "forbidden")
    assert (await alice.request("leave", room="@alice:bob"))["code"] == "bad_request"
    assert (await alice.request("create_room", room="@alice:carol"))["code"] == "bad_request"
    for client in (alice, bob, later, carol):
        await client.aclose()


async def test_private_room_invite_and_kick(daemon: Server) -> None:
    """A private room is closed to non-members on every path until they are invited; only the
    owner kicks; joined/left carry who did it; a kicked member is refused again."""
    owner, _ = await _user(daemon, "owner")
    guest, guest_token = await _user(daemon, "guest")
    created = await owner.request("create_room", room="Secret", private=True, topic="shh")
    assert created["room"]["room"] == "secret" and created["room"]["private"] is True
    assert (await owner.request("create_room", room="secret"))["code"] == "conflict"
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("join", {}), ("history", {}), ("who", {}), ("typing", {}),
        ("send", {"text": "x", "nonce": "g1"}), ("read", {"seq": 0}),
        ("invite", {"user": "guest"}),
    ]
    for op, fields in attempts:
        reply = await guest.request(op, room="secret", **fields)
        assert reply.get("code") == "forbidden", (op, reply)
    status, _ = await http(daemon.http_port, "GET", "/api/rooms/secret/messages",
                           token=guest_token)
    assert status == 403
    rooms = await guest.request("rooms")
    assert "secret" not in [r["room"] for r in rooms["rooms"]]

    assert (await owner.request("invite", room="secret", user="GUEST"))["user"] == "guest"
    assert await guest.event("joined", room="secret", user="guest", by="owner")
    assert await owner.event("joined", room="secret", user="guest", by="owner")
    joined = await guest.request("join", room="secret")
    assert joined["topic"] == "shh" and joined["private"] is True
    ack = await guest.request("send", room="secret", text="thanks", nonce="g2")
    assert (await owner.event("message", seq=ack["seq"]))["text"] == "thanks"
    who = await guest.request("who", room="secret")
    assert who["members"] == [{"user": "guest", "status": "online", "role": "member"},
                              {"user": "owner", "status": "online", "role": "owner"}]

    assert (await guest.request("kick", room="secret", user="owner"))["code"] == "forbidden"
    assert (await owner.request("kick", room="secret", user="owner"))["code"] == "bad_request"
    await owner.request("kick", room="secret", user="guest")
    assert await guest.event("left", room="secret", user="guest", by="owner")
    assert (await guest.request("history", room="secret"))["code"] == "forbidden"
    ack = await owner.request("send", room="secret", text="after", nonce="o1")
    await owner.event("message", seq=ack["seq"])
    await guest.request("ping")
    assert not [e for e in guest.events if e.get("text") == "after"]
    await owner.aclose()
    await guest.aclose()


async def test_contacts_get_presence_without_sharing_a_room(daemon: Server) -> None:
    """A contact's presence reaches the user though they share no room; welcome lists the
    contacts with their status; after remove_contact no more presence comes."""
    fan, fan_token = await _user(daemon, "fan")
    assert (await fan.request("add_contact", user="star"))["code"] == "not_found"
    assert (await fan.request("add_contact", user="fan"))["code"] == "bad_request"
    star_token = await register_and_login(daemon.http_port, "Star")
    added = await fan.request("add_contact", user="STAR")
    assert (added["user"], added["status"]) == ("Star", "offline")
    star = await Client.tcp(daemon.tcp_port)
    await star.hello(star_token)
    assert (await fan.event("presence", user="Star"))["status"] == "online"
    fan2 = await Client.tcp(daemon.tcp_port)
    welcome = await fan2.hello(fan_token)
    assert welcome["contacts"] == [{"user": "Star", "status": "online"}]
    await star.aclose()
    for client in (fan, fan2):
        assert (await client.event("presence", user="Star"))["status"] == "offline"
    assert (await fan.request("contacts"))["contacts"] == [{"user": "Star", "status": "offline"}]
    await fan.request("remove_contact", user="Star")
    star = await Client.tcp(daemon.tcp_port)
    await star.hello(star_token)
    await star.request("ping")
    await fan.request("ping")
    assert not [e for e in fan.events if e.get("op") == "presence"]
    status, body = await http(daemon.http_port, "POST", "/api/contacts", {"user": "star"},
                              token=fan_token)
    assert (status, body["contact"]["user"]) == (201, "Star")
    status, body = await http(daemon.http_port, "GET", "/api/contacts", token=fan_token)
    assert body["contacts"] == [{"user": "Star", "status": "online"}]
    status, _ = await http(daemon.http_port, "DELETE", "/api/contacts/star", token=fan_token)
    assert status == 200
    status, _ = await http(daemon.http_port, "DELETE", "/api/contacts/star", token=fan_token)
    assert status == 404
    for client in (fan, fan2, star):
        await client.aclose()


async def test_typing_is_ephemeral_and_rate_limited(daemon: Server) -> None:
    """typing reaches the other members (not the typist), is never stored, and past a burst
    is refused with rate_limited and a retry hint."""
    typist, _ = await _user(daemon, "typist")
    reader, _ = await _user(daemon, "reader")
    for client in (typist, reader):
        await client.request("join", room="quiet")
    assert (await typist.request("typing", room="quiet"))["op"] == "ok"
    assert await reader.event("typing", room="quiet", user="typist")
    replies = [await typist.request("typing", room="quiet") for _ in range(6)]
    limited = [r for r in replies if r["op"] == "error"]
    assert limited and limited[0]["code"] == "rate_limited" and limited[0]["retry_after"] > 0
    history = await reader.request("history", room="quiet")
    assert history["messages"] == []
    assert not [e for e in typist.events if e.get("op") == "typing"]
    await typist.aclose()
    await reader.aclose()


async def test_read_markers_follow_across_connections(daemon: Server) -> None:
    """Unread counts others' messages after the marker; read moves it (never back) and the
    user's other connections hear of it; rooms lists public rooms with unread counts."""
    writer, _ = await _user(daemon, "writer")
    token = await register_and_login(daemon.http_port, "reader")
    phone = await Client.tcp(daemon.tcp_port)
    await phone.hello(token)
    laptop = await Client.tcp(daemon.tcp_port)
    await laptop.hello(token)
    await writer.request("join", room="updates")
    await phone.request("join", room="updates")
    for i in range(3):
        await writer.request("send", room="updates", text=f"u{i}", nonce=f"u{i}")
    for client in (phone, laptop):  # the join on the phone subscribed the laptop too
        assert (await client.event("message", room="updates", seq=3))["text"] == "u2"
    listed = {r["room"]: r for r in (await phone.request("rooms"))["rooms"]}
    assert (listed["updates"]["unread"], listed["updates"]["member"]) == (3, True)
    marked = await phone.request("read", room="updates", seq=2)
    assert marked["seq"] == 2
    assert (await laptop.event("read", room="updates"))["seq"] == 2
    assert (await phone.request("read", room="updates", seq=1))["seq"] == 2
    assert (await phone.request("read", room="updates", seq=99))["seq"] == 3
    listed = {r["room"]: r for r in (await laptop.request("rooms"))["rooms"]}
    assert listed["updates"]["unread"] == 0
    await writer.request("create_room", room="elsewhere")
    listed = {r["room"]: r for r in (await laptop.request("rooms"))["rooms"]}
    assert listed["elsewhere"]["member"] is False
    for client in (writer, phone, laptop):
        await client.aclose()


async def test_mark_unread_moves_the_marker_back_everywhere(daemon: Server,
                                                            nursery: trio.Nursery) -> None:
    """``unread`` from a message moves the marker back to just before it, answers the counts
    from there (mentions included) and tells the user's other connections with ``back`` and
    the same counts; a new connection's welcome lists them; ``read`` stays forward-only; the
    bounds hold (seq 0 is the whole room, a seq past the marker moves nothing), and only a
    member has a marker to move."""
    writer, _ = await _user(daemon, "writer")
    token = await register_and_login(daemon.http_port, "reader")
    phone = await Client.tcp(daemon.tcp_port)
    await phone.hello(token)
    laptop = await Client.ws(daemon.http_port, nursery)
    await laptop.hello(token)
    await writer.request("join", room="updates")
    await phone.request("join", room="updates")
    texts = ["u1", "hey @reader", "u3", "@reader again"]
    for i, text in enumerate(texts):
        await writer.request("send", room="updates", text=text, nonce=f"n{i}")
    assert await laptop.event("message", room="updates", seq=4)
    assert (await phone.request("read", room="updates", seq=4))["seq"] == 4
    assert (await laptop.event("read", room="updates", seq=4)).get("back") is None

    marked = await phone.request("unread", room="updates", seq=2)
    expected = {"room": "updates", "seq": 1, "back": True, "last_seq": 4, "unread": 3,
                "mentions": 2}
    assert {k: marked[k] for k in expected} == expected
    moved = await laptop.event("read", room="updates", seq=1)
    assert {k: moved[k] for k in expected} == expected
    later = await Client.tcp(daemon.tcp_port)
    [room] = [r for r in (await later.hello(token))["rooms"] if r["room"] == "updates"]
    assert (room["read_seq"], room["unread"], room["mentions"]) == (1, 3, 2)

    # read never moves it back; unread never moves it forward.
    assert (await laptop.request("read", room="updates", seq=0))["seq"] == 1
    assert (await laptop.request("unread", room="updates", seq=4))["seq"] == 1
    assert (await laptop.request("unread", room="updates", seq=2**62))["seq"] == 1
    whole = await laptop.request("unread", room="updates", seq=0)
    assert (whole["seq"], whole["unread"], whole["mentions"]) == (0, 4, 2)
    assert (await phone.event("read", room="updates", seq=0))["back"] is True
    assert (await phone.request("read", room="updates", seq=3))["seq"] == 3
    assert (await laptop.event("read", room="updates", seq=3)).get("back") is None

    assert (await writer.request("unread", room="nowhere", seq=1))["code"] == "not_found"
    stranger, _ = await _user(daemon, "stranger")
    assert (await stranger.request("unread", room="updates", seq=1))["code"] == "forbidden"
    assert (await stranger.request("unread", room="updates", seq=-1))["code"] == "bad_request"
    for client in (writer, phone, laptop, later, stranger):
        await client.aclose()


async def test_every_connection_of_a_user_gets_every_event(daemon: Server,
                                                           nursery: trio.Nursery) -> None:
    """A user on three devices (TCP and WebSocket) gets each message, DM and joined event on
    each; presence goes offline only when the last one closes."""
    token = await register_and_login(daemon.http_port, "multi")
    devices = [await Client.tcp(daemon.tcp_port), await Client.ws(daemon.http_port, nursery),
               await Client.tcp(daemon.tcp_port)]
    for device in devices:
        await device.hello(token)
    friend, _ = await _user(daemon, "friend")
    await devices[0].request("join", room="home")
    await friend.request("join", room="home")
    await friend.request("add_contact", user="multi")
    ack = await friend.request("send", room="home", text="to all", nonce="f1")
    dm = await friend.request("dm", to="multi", text="just you", nonce="f2")
    for device in devices:
        assert await device.event("joined", room="home", user="friend")
        assert (await device.event("message", seq=ack["seq"], room="home"))["text"] == "to all"
        assert (await device.event("message", room=dm["room"]))["text"] == "just you"
    for device in devices[:2]:
        await device.aclose()
    await devices[2].request("ping")
    await friend.request("ping")
    assert not [e for e in friend.events if e.get("op") == "presence"]
    await devices[2].aclose()
    assert (await friend.event("presence", user="multi"))["status"] == "offline"
    await friend.aclose()
