"""End-to-end: a paged welcome (``hello`` with ``rooms_limit`` and ``contacts_limit``) and
paged contacts, over TCP and WebSocket, and ``GET /api/me`` and ``GET /api/contacts``.

The welcome shows the first rooms and contacts; the connection is subscribed to every room
and watches every contact all the same; the rest is paged with ``rooms`` (``joined``) and
``contacts``, each room and contact exactly once. A hello without the fields is unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import trio

from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import during_first_read, running
from tests.helpers import make_config, until

PAGE_MAX = 4
ROOMS = ["alpha", "beta", "delta", "epsilon", "gamma", "zeta"]  # with the DM: 7 rooms
Connect = Callable[[], Awaitable[Client]]


@pytest.fixture
async def server(tmp_path: Path, database_dsn: str) -> AsyncIterator[Server]:
    async with running(make_config(tmp_path, database_dsn,
                                   limits={"rooms_page_max": PAGE_MAX})) as server:
        yield server


@pytest.fixture(params=["tcp", "ws"])
def connect(request: pytest.FixtureRequest, server: Server, nursery: trio.Nursery) -> Connect:
    async def open_client() -> Client:
        if request.param == "tcp":
            return await Client.tcp(server.tcp_port)
        return await Client.ws(server.http_port, nursery)
    return open_client


async def _alice_in_rooms(server: Server, connect: Connect) -> tuple[str, str, list[str]]:
    """alice in ROOMS (each with a message of bob's) and a conversation with bob: their
    tokens and alice's rooms by name."""
    bob_token = await register_and_login(server.http_port, "bob")
    token = await register_and_login(server.http_port, "alice")
    alice = await connect()
    await alice.hello(token)
    bob = await connect()
    await bob.hello(bob_token)
    for room in ROOMS:
        assert (await alice.request("join", room=room))["op"] == "ok"
        assert (await bob.request("join", room=room))["op"] == "ok"
        assert (await bob.request("send", room=room, text="hi @alice",
                                  nonce=room))["op"] == "ok"
    assert (await bob.request("dm", to="alice", text="psst", nonce="dm"))["op"] == "ok"
    await alice.aclose()
    await bob.aclose()
    return token, bob_token, sorted([*ROOMS, "@alice:bob"])


async def _joined_pages(client: Client, after: str) -> list[dict[str, Any]]:
    rooms: list[dict[str, Any]] = []
    while True:
        reply = await client.request("rooms", joined=True, after=after)
        assert reply["op"] == "ok", reply
        rooms.extend(reply["rooms"])
        if not reply["more"]:
            return rooms
        after = reply["rooms"][-1]["room"]


async def test_a_paged_welcome_then_rooms_pages_give_every_room_once(
        server: Server, connect: Connect) -> None:
    token, _, names = await _alice_in_rooms(server, connect)
    everything = await connect()
    full = await everything.hello(token)
    assert "rooms_more" not in full and "contacts_more" not in full
    assert [room["room"] for room in full["rooms"]] == names

    paged = await connect()
    welcome = await paged.hello(token, rooms_limit=3)
    assert [room["room"] for room in welcome["rooms"]] == names[:3]
    assert welcome["rooms_more"] is True
    assert "contacts_more" not in welcome
    rest = await _joined_pages(paged, welcome["rooms"][-1]["room"])
    # Every room exactly once, each object as the unpaged welcome has it (counts included).
    assert [*welcome["rooms"], *rest] == full["rooms"]
    assert all(room["unread"] == 1 and room["mentions"] == (room["kind"] == "room")
               for room in full["rooms"])

    whole = await connect()
    exact = await whole.hello(token, rooms_limit=len(names) if len(names) <= PAGE_MAX
                              else PAGE_MAX)
    assert exact["rooms_more"] is (len(names) > PAGE_MAX)


async def test_live_messages_and_resume_of_rooms_not_in_the_page(
        server: Server, connect: Connect) -> None:
    token, bob_token, names = await _alice_in_rooms(server, connect)
    last = names[-1]  # "zeta": not in a page of one
    alice = await connect()
    welcome = await alice.hello(token, rooms_limit=1)
    assert [room["room"] for room in welcome["rooms"]] == names[:1] != [last]
    bob = await connect()
    await bob.hello(bob_token)
    sent = await bob.request("send", room=last, text="live", nonce="live")
    assert sent["op"] == "ok", sent
    event = await alice.event("message", room=last)
    assert event["text"] == "live" and event["seq"] == sent["seq"]
    # Nothing before the welcome comes live: the room's first message is history.
    assert [f for f in alice.events if f.get("op") == "message"] == []

    # Resume of a room not in the page: what was missed, in order, once.
    more = await bob.request("send", room=last, text="missed", nonce="missed")
    again = await connect()
    welcome = await again.hello(token, rooms_limit=1, resume={last: event["seq"]})
    assert last not in [room["room"] for room in welcome["rooms"]]
    caught = await again.event("message", room=last)
    assert (caught["seq"], caught["text"]) == (more["seq"], "missed")
    final = await bob.request("send", room=last, text="after", nonce="after")
    after = await again.event("message", room=last)
    assert after["seq"] == final["seq"]
    assert [f for f in again.events if f.get("op") == "message"] == []


async def test_contacts_page_by_name_ignoring_case(server: Server, connect: Connect) -> None:
    names = ["bob", "Carol", "dave", "Eve", "frank", "Gina"]
    for name in [*names, "Bea", "zed"]:
        await register_and_login(server.http_port, name)
    token = await register_and_login(server.http_port, "alice")
    alice = await connect()
    await alice.hello(token)
    for name in reversed(names):
        assert (await alice.request("add_contact", user=name.lower()))["op"] == "ok"

    first = await alice.request("contacts", limit=2)
    assert [c["user"] for c in first["contacts"]] == ["bob", "Carol"] and first["more"] is True
    # Added between pages: "Bea" sorts before the cursor (not on a later page), "zed" after.
    assert (await alice.request("add_contact", user="bea"))["op"] == "ok"
    assert (await alice.request("add_contact", user="ZED"))["op"] == "ok"
    pages = [first["contacts"]]
    after = "CAROL"  # any case
    while True:
        page = await alice.request("contacts", after=after, limit=2)
        assert page["op"] == "ok", page
        pages.append(page["contacts"])
        if not page["more"]:
            break
        after = page["contacts"][-1]["user"]
    seen = [c["user"] for page in pages for c in page]
    assert seen == ["bob", "Carol", "dave", "Eve", "frank", "Gina", "zed"]
    assert all(len(page) <= 2 for page in pages)

    # Without fields: the first page (all of them here), with more.
    plain = await alice.request("contacts")
    assert [c["user"] for c in plain["contacts"]] == ["Bea", "bob", "Carol", "dave"]
    assert plain["more"] is True  # PAGE_MAX is below the default page

    # The welcome's first contacts, and the presence of one beyond them.
    fan = await connect()
    welcome = await fan.hello(token, contacts_limit=2)
    assert welcome["contacts"] == [{"user": "Bea", "status": "offline"},
                                   {"user": "bob", "status": "offline"}]
    assert welcome["contacts_more"] is True and "rooms_more" not in welcome
    none = await (await connect()).hello(token, contacts_limit=0)
    assert none["contacts"] == [] and none["contacts_more"] is True
    zed = await connect()
    await zed.hello(await register_and_login(server.http_port, "zed"))
    assert (await fan.event("presence", user="zed"))["status"] == "online"

    status, body = await http(server.http_port, "GET", "/api/contacts?" + urlencode(
        {"after": "gina", "limit": 2}), token=token)
    assert status == 200 and body == {"contacts": [{"user": "zed", "status": "online"}],
                                      "more": False}
    status, body = await http(server.http_port, "GET", "/api/contacts?limit=1", token=token)
    assert status == 200 and body["more"] is True and len(body["contacts"]) == 1


@pytest.mark.parametrize("fields", [
    {"rooms_limit": 0}, {"rooms_limit": "3"}, {"rooms_limit": True}, {"rooms_limit": 2.5},
    {"contacts_limit": -1}, {"contacts_limit": "1"}, {"contacts_limit": False},
])
async def test_bad_limits_in_hello_are_refused(
        server: Server, connect: Connect, fields: dict[str, Any]) -> None:
    """As any malformed hello (a bad ``resume``): ``bad_request``, and the connection still
    waits for a hello."""
    token = await register_and_login(server.http_port, "alice")
    client = await connect()
    reply = await client.request("hello", token=token, **fields)
    assert reply["op"] == "error" and reply["code"] == "bad_request", reply
    assert "rooms_limit" in reply["message"] or "contacts_limit" in reply["message"]
    await client.hello(token)


async def test_bad_contacts_pages_are_refused(server: Server, connect: Connect) -> None:
    token = await register_and_login(server.http_port, "alice")
    client = await connect()
    await client.hello(token)
    for fields in ({"limit": 0}, {"limit": "2"}, {"after": "no one"}, {"after": 3}):
        reply = await client.request("contacts", **fields)
        assert reply["op"] == "error" and reply["code"] == "bad_request", (fields, reply)
    for query in ("limit=0", "limit=x", "after=no%20one", "limit=1&limit=2"):
        status, body = await http(server.http_port, "GET", f"/api/contacts?{query}",
                                  token=token)
        assert status == 400 and body["code"] == "bad_request", (query, body)
    for query in ("rooms_limit=0", "rooms_limit=2.5", "contacts_limit=-1",
                  "contacts_limit=x"):
        status, body = await http(server.http_port, "GET", f"/api/me?{query}", token=token)
        assert status == 400 and body["code"] == "bad_request", (query, body)


async def test_limits_past_the_largest_page_are_clamped(
        server: Server, connect: Connect) -> None:
    """A page size past ``limits.rooms_page_max``, on the socket (``hello``'s ``rooms_limit``
    and ``contacts_limit``, ``rooms``' and ``contacts``' ``limit``) and over HTTP (``GET
    /api/me``, ``/api/rooms``, ``/api/contacts``): a page of rooms_page_max, with more."""
    token, _, names = await _alice_in_rooms(server, connect)
    friends = ["bob", "carl", "dora", "eve", "finn"]  # more than PAGE_MAX
    for name in friends[1:]:
        await register_and_login(server.http_port, name)
    alice = await connect()
    await alice.hello(token)
    for name in friends:
        assert (await alice.request("add_contact", user=name))["op"] == "ok"
    assert len(names) > PAGE_MAX and len(friends) > PAGE_MAX

    client = await connect()
    welcome = await client.hello(token, rooms_limit=PAGE_MAX + 1, contacts_limit=10**6)
    assert [room["room"] for room in welcome["rooms"]] == names[:PAGE_MAX]
    assert welcome["rooms_more"] is True
    assert [c["user"] for c in welcome["contacts"]] == friends[:PAGE_MAX]
    assert welcome["contacts_more"] is True
    rooms = await client.request("rooms", joined=True, limit=10**6)
    assert [r["room"] for r in rooms["rooms"]] == names[:PAGE_MAX] and rooms["more"] is True
    contacts = await client.request("contacts", limit=PAGE_MAX + 1)
    assert [c["user"] for c in contacts["contacts"]] == friends[:PAGE_MAX]
    assert contacts["more"] is True

    status, me = await http(server.http_port, "GET",
                            f"/api/me?rooms_limit={PAGE_MAX + 1}&contacts_limit=999", token=token)
    assert status == 200, me
    assert [room["room"] for room in me["rooms"]] == names[:PAGE_MAX] and me["rooms_more"]
    assert len(me["contacts"]) == PAGE_MAX and me["contacts_more"] is True
    status, listed = await http(server.http_port, "GET", "/api/rooms?joined=true&limit=999",
                                token=token)
    assert status == 200 and len(listed["rooms"]) == PAGE_MAX and listed["more"] is True
    status, paged = await http(server.http_port, "GET", "/api/contacts?limit=999", token=token)
    assert status == 200 and len(paged["contacts"]) == PAGE_MAX and paged["more"] is True


async def test_api_me_pages_as_the_welcome(server: Server, connect: Connect) -> None:
    token, _, names = await _alice_in_rooms(server, connect)
    await http(server.http_port, "POST", "/api/contacts", {"user": "bob"}, token=token)
    status, full = await http(server.http_port, "GET", "/api/me", token=token)
    assert status == 200 and "rooms_more" not in full and "contacts_more" not in full
    assert [room["room"] for room in full["rooms"]] == names
    status, paged = await http(server.http_port, "GET", "/api/me?rooms_limit=2&contacts_limit=0",
                               token=token)
    assert status == 200, paged
    assert paged["rooms"] == full["rooms"][:2] and paged["rooms_more"] is True
    assert paged["contacts"] == [] and paged["contacts_more"] is True
    status, last = await http(server.http_port, "GET", "/api/me?contacts_limit=1", token=token)
    assert last["contacts"] == [{"user": "bob", "status": "offline"}]
    assert last["contacts_more"] is False and last["rooms"] == full["rooms"]


async def test_a_hello_reads_every_room_once(
        server: Server, connect: Connect, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hello whose rooms nothing changed meanwhile reads every room (its name and
    last_seq), and the welcome's rooms in full, once, with the token's check: nothing after
    subscribing, paged or not."""
    token, _, names = await _alice_in_rooms(server, connect)
    storage = server.app.storage
    read_again: list[int | None] = []
    session_rooms = storage.session_rooms

    async def spy(user_id: int, limit: int | None) -> Any:
        read_again.append(limit)
        return await session_rooms(user_id, limit)

    monkeypatch.setattr(storage, "session_rooms", spy)
    alice = await connect()
    welcome = await alice.hello(token, rooms_limit=3, contacts_limit=1)
    assert [room["room"] for room in welcome["rooms"]] == names[:3]
    assert welcome["rooms_more"] is True
    assert read_again == []
    everything = await connect()
    full = await everything.hello(token)
    assert [room["room"] for room in full["rooms"]] == names and read_again == []
    assert [room["unread"] for room in full["rooms"]] == [1] * len(names)


async def test_a_room_entered_between_the_first_read_and_the_subscription_is_subscribed(
        server: Server, connect: Connect, monkeypatch: pytest.MonkeyPatch) -> None:
    """An invitation stored after a paged hello's first read, its Join applied before the
    connection is subscribed: the hello reads the rooms again, and the room is in the
    subscription (its next message reaches the connection) and in the rooms' pages."""
    token, bob_token, names = await _alice_in_rooms(server, connect)
    bob = await connect()
    await bob.hello(bob_token)
    assert (await bob.request("create_room", room="late", private=True))["op"] == "ok"
    between: dict[str, Any] = {}

    async def invite() -> None:
        assert (await bob.request("invite", room="late", user="alice"))["op"] == "ok"
        between.update(await bob.request("send", room="late", text="between",
                                          nonce="between"))

    during_first_read(server, monkeypatch, invite)
    alice = await connect()
    welcome = await alice.hello(token, rooms_limit=1)
    assert between["op"] == "ok", between
    assert welcome["rooms_more"] is True
    sent = await bob.request("send", room="late", text="after", nonce="after")
    event = await alice.event("message", room="late")
    assert (event["seq"], event["text"]) == (sent["seq"], "after")
    rest = await _joined_pages(alice, welcome["rooms"][-1]["room"])
    assert [room["room"] for room in [*welcome["rooms"], *rest]] == sorted([*names, "late"])


async def test_messages_stored_between_the_first_read_and_the_subscription(
        server: Server, connect: Connect, monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages stored after a paged hello's first read and before its subscription: the
    page's room object counts them (no live copy follows); in a room off the page, the
    next live message comes, and whatever comes before it, once each and in order."""
    token, bob_token, names = await _alice_in_rooms(server, connect)
    first, last = names[0], names[-1]
    bob = await connect()
    await bob.hello(bob_token)
    between: dict[str, dict[str, Any]] = {}

    async def send() -> None:
        for room in (first, last):
            between[room] = await bob.request("send", room=room, text="between",
                                              nonce=f"between-{room}")

    during_first_read(server, monkeypatch, send)
    alice = await connect()
    welcome = await alice.hello(token, rooms_limit=1)
    shown = welcome["rooms"][0]
    assert shown["room"] == first and shown["last_seq"] == between[first]["seq"]
    assert shown["unread"] == 2
    for room in (first, last):
        sent = await bob.request("send", room=room, text="after", nonce=f"after-{room}")
        event = await alice.event("message", room=room, text="after")
        assert event["seq"] == sent["seq"]
    live = [(f["room"], f["seq"]) for f in alice.events if f.get("op") == "message"]
    assert live in ([], [(last, between[last]["seq"])]), live


@pytest.mark.parametrize("what", ["message", "marker"])
async def test_an_unpaged_welcome_shows_what_came_between_the_read_and_the_subscription(
        server: Server, connect: Connect, monkeypatch: pytest.MonkeyPatch, what: str) -> None:
    """A message stored, or a read marker moved by another connection of alice's, after a
    hello's first read and before its subscription: the welcome's rooms are read again, so
    they show it (and no live copy of the message follows)."""
    token, bob_token, names = await _alice_in_rooms(server, connect)
    room = names[-1]
    bob, other = await connect(), await connect()
    await bob.hello(bob_token)
    await other.hello(token)
    between: dict[str, Any] = {}

    async def meanwhile() -> None:
        if what == "message":
            between.update(await bob.request("send", room=room, text="between",
                                              nonce="between"))
        else:
            between.update(await other.request("read", room=room, seq=1))

    during_first_read(server, monkeypatch, meanwhile)
    alice = await connect()
    welcome = await alice.hello(token)
    assert between["op"] == "ok", between
    shown = {r["room"]: r for r in welcome["rooms"]}[room]
    if what == "marker":
        assert (shown["read_seq"], shown["unread"]) == (1, 0)
        return
    assert (shown["last_seq"], shown["unread"]) == (between["seq"], 2)
    sent = await bob.request("send", room=room, text="after", nonce="after")
    event = await alice.event("message", room=room, text="after")
    assert event["seq"] == sent["seq"]
    assert [f for f in alice.events if f.get("op") == "message" and f.get("text") == "between"
            ] == []


async def _alice_with_contacts(server: Server, connect: Connect,
                               names: list[str]) -> tuple[str, Client]:
    """alice with ``names`` as contacts, and her connection (open)."""
    for name in names:
        await register_and_login(server.http_port, name)
    token = await register_and_login(server.http_port, "alice")
    alice = await connect()
    await alice.hello(token)
    for name in names:
        assert (await alice.request("add_contact", user=name))["op"] == "ok"
    return token, alice


def _spy_contacts_read(server: Server, monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """The ``contacts_limit`` of each hello's first read, from now on."""
    storage = server.app.storage
    asked: list[int | None] = []
    open_session = storage.open_session

    async def spy(*args: Any, contacts_limit: int | None = None, **kwargs: Any) -> Any:
        asked.append(contacts_limit)
        return await open_session(*args, contacts_limit=contacts_limit, **kwargs)

    monkeypatch.setattr(storage, "open_session", spy)
    return asked


async def test_a_paged_hello_reads_only_its_page_of_contacts_first_connection_or_not(
        server: Server, connect: Connect, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hello with ``contacts_limit`` reads that many contacts and one more, not all of
    them, whether or not another connection of the user's is open here (the presence
    tracker looks up a user's watchers when their status changes); the presence of
    contacts beyond the page reaches the connection all the same. Without the field, every
    contact is read (and shown)."""
    names = ["bob", "carl", "dora", "eve"]
    token, alice = await _alice_with_contacts(server, connect, names)
    presence = server.app.presence
    dora = await connect()
    await dora.hello(await register_and_login(server.http_port, "dora"))
    await alice.aclose()
    with trio.fail_after(10):
        await until(lambda: "alice" not in presence.state.conns)
    asked = _spy_contacts_read(server, monkeypatch)
    first = await connect()  # alice's first connection on the node
    welcome = await first.hello(token, contacts_limit=2)
    assert [c["user"] for c in welcome["contacts"]] == ["bob", "carl"]
    assert welcome["contacts_more"] is True and asked == [3]
    second = await connect()
    exact = await second.hello(token, contacts_limit=PAGE_MAX)
    assert [c["user"] for c in exact["contacts"]] == names and exact["contacts_more"] is False
    assert asked == [3, PAGE_MAX + 1]
    eve = await connect()
    await eve.hello(await register_and_login(server.http_port, "eve"))
    for client in (first, second):
        assert (await client.event("presence", user="eve"))["status"] == "online"
    await dora.aclose()
    for client in (first, second):
        assert (await client.event("presence", user="dora"))["status"] == "offline"
    whole = await connect()
    everything = await whole.hello(token)
    assert asked[-1] is None
    assert everything["contacts"] == [
        {"user": "bob", "status": "offline"}, {"user": "carl", "status": "offline"},
        {"user": "dora", "status": "offline"}, {"user": "eve", "status": "online"}]
    for client in (first, second, whole, eve):
        await client.aclose()


async def test_a_contact_added_is_heard_and_one_removed_is_not(
        server: Server, connect: Connect) -> None:
    """A contact added (on a connection whose welcome read a page of contacts): their next
    transitions reach every connection of the user; removed, they reach none (nor do they
    after the user reconnects). eve, a contact throughout, marks where the frames are."""
    token, alice = await _alice_with_contacts(server, connect, ["eve"])
    other = await connect()
    await other.hello(token, contacts_limit=1)
    zed_token = await register_and_login(server.http_port, "zed")
    eve_token = await register_and_login(server.http_port, "eve")

    async def eve_comes_and_goes(*watchers: Client) -> None:
        eve = await connect()
        await eve.hello(eve_token)
        await eve.aclose()
        for client in watchers:
            assert await client.event("presence", user="eve", status="offline")

    added = await alice.request("add_contact", user="ZED")
    assert (added["op"], added["user"], added["status"]) == ("ok", "zed", "offline")
    zed = await connect()
    await zed.hello(zed_token)
    for client in (alice, other):
        assert await client.event("presence", user="zed", status="online")
    await zed.aclose()
    for client in (alice, other):
        assert await client.event("presence", user="zed", status="offline")
    assert (await other.request("remove_contact", user="zed"))["op"] == "ok"
    await eve_comes_and_goes(alice, other)
    zed = await connect()
    await zed.hello(zed_token)
    await zed.aclose()
    await eve_comes_and_goes(alice, other)
    for client in (alice, other):
        assert not [e for e in client.events if e.get("user") == "zed"], client.events
    await alice.aclose()
    await other.aclose()
