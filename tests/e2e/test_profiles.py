"""End-to-end: profiles (``set_profile``, ``profiles``, the ``profile`` event): a display
name and a custom status per user, shown in the welcome, ``who``, ``contacts`` and over
HTTP, told live to the user's devices, room mates and watchers on every node, and gone by
themselves past their time.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s).
Expiry is never waited for: a status's end is moved into the past in the database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest
import trio

from chatd.protocol import MAX_STATUS_SECONDS
from chatd.server import Server
from chatd.storage.bridge import open_bridge
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import during_first_read, running
from tests.helpers import LIFTED_RATES, make_config, now_ms

HOUR = 3600 * 1000
HOLIDAY = {"emoji": "🌴", "text": "On holiday until Monday"}


async def _sql(dsn: str, query: str, *args: Any) -> None:
    """Run ``query`` on a connection of its own (what an operator, or time, would do)."""
    async with open_bridge(name="test") as bridge:
        conn: Any = await bridge.run(asyncpg.connect, dsn)
        try:
            await bridge.run(conn.execute, query, *args)
        finally:
            await bridge.run(conn.close)


async def _people(daemon: Server, *names: str) -> dict[str, tuple[str, Client]]:
    """Each name registered, logged in and connected over TCP: name -> (token, client)."""
    found = {}
    for name in names:
        token = await register_and_login(daemon.http_port, name)
        found[name] = (token, await Client.signed_in(daemon.tcp_port, token))
    return found


def _profile_events(client: Client) -> list[dict[str, Any]]:
    return [e for e in client.events if e["op"] == "profile"]


async def test_a_profile_is_told_to_devices_room_mates_and_watchers(
        daemon: Server, nursery: trio.Nursery) -> None:
    """set_profile answers the profile as stored (trimmed); the user's other device (over
    WebSocket), a room mate and someone who has them as a contact each get one profile
    event, a stranger none; a new welcome, GET /api/me, who, contacts and profiles show
    it; nulls clear it, told the same way."""
    people = await _people(daemon, "ann", "bob", "cat", "dan")
    ann_token, ann = people["ann"]
    _, bob = people["bob"]
    _, cat = people["cat"]
    _, dan = people["dan"]
    laptop = await Client.ws(daemon.http_port, nursery)
    await laptop.hello(ann_token)
    await ann.request("join", room="team")
    await bob.request("join", room="team")
    assert (await cat.request("add_contact", user="ANN"))["user"] == "ann"

    until = now_ms() + HOUR
    reply = await ann.request("set_profile", display_name="  Ann Lee ",
                              custom_status={**HOLIDAY, "until": until})
    status = {**HOLIDAY, "until": until}
    assert reply == {"op": "ok", "id": reply["id"], "user": "ann", "display_name": "Ann Lee",
                     "custom_status": status, "avatar": None}
    told = {"user": "ann", "display_name": "Ann Lee", "custom_status": status}
    for client in (ann, laptop, bob, cat):
        assert await client.event("profile", **told)
    await dan.request("ping")
    assert _profile_events(dan) == []

    welcome = await (await Client.tcp(daemon.tcp_port)).hello(ann_token)
    assert (welcome["user"]["display_name"], welcome["user"]["custom_status"]) == (
        "Ann Lee", status)
    code, me = await http(daemon.http_port, "GET", "/api/me", token=ann_token)
    assert code == 200 and me["user"]["custom_status"] == status
    who = await bob.request("who", room="team")
    by_name = {m["user"]: m for m in who["members"]}
    assert by_name["ann"]["display_name"] == "Ann Lee"
    assert by_name["ann"]["custom_status"] == status
    assert "display_name" not in by_name["bob"] and "custom_status" not in by_name["bob"]
    [contact] = (await cat.request("contacts"))["contacts"]
    assert contact == {"user": "ann", "status": "online", **told}
    found = await dan.request("profiles", users=["ANN", "nobody", "bob", "ann"])
    assert found["profiles"] == [
        {**told, "avatar": None},
        {"user": "bob", "display_name": None, "custom_status": None, "avatar": None}]

    # Only the name: the status is kept. Then nulls clear both.
    reply = await laptop.request("set_profile", display_name="Ann")
    assert reply["custom_status"] == status
    for client in (ann, laptop, bob, cat):
        assert await client.event("profile", user="ann", display_name="Ann",
                                  custom_status=status)
    reply = await ann.request("set_profile", display_name=None, custom_status=None)
    assert (reply["display_name"], reply["custom_status"]) == (None, None)
    for client in (ann, laptop, bob, cat):
        assert await client.event("profile", user="ann", display_name=None,
                                  custom_status=None)
    who = await bob.request("who", room="team")
    assert {"display_name", "custom_status"}.isdisjoint(who["members"][0])
    for client in (ann, laptop, bob, cat, dan):
        await client.aclose()


async def test_the_same_profile_again_tells_nobody(daemon: Server) -> None:
    """A set_profile that changes nothing others see is answered, and sends no event: the
    next event anyone gets is the following change's."""
    people = await _people(daemon, "ann", "bob")
    _, ann = people["ann"]
    _, bob = people["bob"]
    await ann.request("join", room="team")
    await bob.request("join", room="team")
    await ann.request("set_profile", display_name="Ann")
    assert await bob.event("profile", display_name="Ann")
    assert (await ann.request("set_profile", display_name="Ann"))["display_name"] == "Ann"
    await ann.request("set_profile", custom_status={"emoji": "📅"})
    event = await bob.event("profile")
    assert event["custom_status"] == {"emoji": "📅", "text": "", "until": None}
    assert _profile_events(bob) == []
    await ann.aclose()
    await bob.aclose()


async def test_a_status_past_its_time_is_gone(daemon: Server, database_dsn: str) -> None:
    """A status whose until has passed (moved into the past in the database: nothing runs
    at that time) reads as none in the welcome, who, contacts, profiles and GET
    /api/users; the display name stays; the next write keeps it cleared."""
    people = await _people(daemon, "ann", "bob")
    ann_token, ann = people["ann"]
    _, bob = people["bob"]
    await ann.request("join", room="team")
    await bob.request("join", room="team")
    await bob.request("add_contact", user="ann")
    reply = await ann.request("set_profile", display_name="Ann Lee",
                              custom_status={"emoji": "📅", "text": "In a meeting",
                                             "duration": 3600})
    assert HOUR - 60_000 < reply["custom_status"]["until"] - now_ms() <= HOUR
    await _sql(database_dsn, "UPDATE users SET status_until = now() - interval '1 second' "
                             "WHERE name = 'ann'")

    welcome = await (await Client.tcp(daemon.tcp_port)).hello(ann_token)
    assert welcome["user"]["custom_status"] is None
    assert welcome["user"]["display_name"] == "Ann Lee"
    [ann_member] = [m for m in (await bob.request("who", room="team"))["members"]
                    if m["user"] == "ann"]
    assert "custom_status" not in ann_member and ann_member["display_name"] == "Ann Lee"
    [contact] = (await bob.request("contacts"))["contacts"]
    assert "custom_status" not in contact
    found = await bob.request("profiles", users=["ann"])
    assert found["profiles"] == [{"user": "ann", "display_name": "Ann Lee",
                                  "custom_status": None, "avatar": None}]
    code, body = await http(daemon.http_port, "GET", "/api/users/ann", token=ann_token)
    assert code == 200 and body["custom_status"] is None
    reply = await ann.request("set_profile", display_name="Ann")
    assert reply["custom_status"] is None
    await ann.aclose()
    await bob.aclose()


BAD_REQUESTS: list[dict[str, Any]] = [
    {},
    {"display_name": 7},
    {"display_name": "x" * 65},
    {"display_name": "Ann\nLee"},
    {"display_name": "A\u202enn"},
    {"display_name": "a\u200bnn"},
    {"custom_status": "busy"},
    {"custom_status": {}},
    {"custom_status": {"emoji": "", "text": "  "}},
    {"custom_status": {"emoji": "x", "text": "busy"}},
    {"custom_status": {"emoji": "🌴🌴", "text": "busy"}},
    {"custom_status": {"text": "y" * 101}},
    {"custom_status": {"text": "a\tb"}},
    {"custom_status": {"text": "busy", "duration": 0}},
    {"custom_status": {"text": "busy", "duration": MAX_STATUS_SECONDS + 1}},
    {"custom_status": {"text": "busy", "duration": 60, "until": None}},
    {"custom_status": {"text": "busy", "until": "soon"}},
]


async def test_bad_profiles_are_refused(daemon: Server) -> None:
    """Malformed fields, too long, a line break or an invisible character, a status with
    neither emoji nor text, a word for an emoji, an until in the past or more than 30 days
    ahead: bad_request, on the socket and over HTTP; nothing stored, nobody told."""
    people = await _people(daemon, "ann", "bob")
    ann_token, ann = people["ann"]
    _, bob = people["bob"]
    await bob.request("add_contact", user="ann")
    past = {"custom_status": {"text": "busy", "until": now_ms() - 1000}}
    far = {"custom_status": {"text": "busy",
                             "until": now_ms() + MAX_STATUS_SECONDS * 1000 + HOUR}}
    for fields in [*BAD_REQUESTS, past, far]:
        refused = await ann.request("set_profile", **fields)
        assert (refused["op"], refused["code"]) == ("error", "bad_request"), fields
        code, body = await http(daemon.http_port, "PUT", "/api/me/profile", fields,
                                token=ann_token)
        assert (code, body["code"]) == (400, "bad_request"), fields
    for fields in ({}, {"users": []}, {"users": ["ok"] * 101}, {"users": ["no space"]},
                   {"users": "ann"}):
        refused = await ann.request("profiles", **fields)
        assert (refused["op"], refused["code"]) == ("error", "bad_request"), fields
    await ann.request("ping")
    await bob.request("ping")
    assert _profile_events(bob) == []
    code, body = await http(daemon.http_port, "GET", "/api/users/ann", token=ann_token)
    assert (body["display_name"], body["custom_status"]) == (None, None)
    # The longest allowed is taken: 64 and 100 code points, an emoji of a ZWJ sequence.
    reply = await ann.request("set_profile", display_name="é" * 64, custom_status={
        "emoji": "👩‍💻", "text": "ü" * 100, "duration": MAX_STATUS_SECONDS})
    assert reply["display_name"] == "é" * 64 and reply["custom_status"]["emoji"] == "👩‍💻"
    await ann.aclose()
    await bob.aclose()


async def test_profiles_over_http(daemon: Server) -> None:
    """PUT /api/me/profile is set_profile (its connections get the event); GET
    /api/users/{name} is one profile, any case, to anyone logged in; 404 for nobody, 401
    without a token; a deactivated account keeps its profile, marked."""
    people = await _people(daemon, "ann", "bob")
    ann_token, ann = people["ann"]
    bob_token, bob = people["bob"]
    code, body = await http(daemon.http_port, "PUT", "/api/me/profile",
                            {"display_name": "Ann Lee", "custom_status": HOLIDAY},
                            token=ann_token)
    profile = {"user": "ann", "display_name": "Ann Lee",
               "custom_status": {**HOLIDAY, "until": None}, "avatar": None}
    assert (code, body) == (200, profile)
    assert await ann.event("profile", **profile)
    code, body = await http(daemon.http_port, "GET", "/api/users/ANN", token=bob_token)
    assert (code, body) == (200, profile)
    code, body = await http(daemon.http_port, "GET", "/api/users/nobody", token=bob_token)
    assert (code, body["code"]) == (404, "not_found")
    code, _ = await http(daemon.http_port, "GET", "/api/users/ann")
    assert code == 401
    code, _ = await http(daemon.http_port, "PUT", "/api/me/profile", {"display_name": "X"})
    assert code == 401
    await ann.aclose()
    await daemon.app.storage.set_deactivated("ann", True)
    code, body = await http(daemon.http_port, "GET", "/api/users/ann", token=bob_token)
    assert (code, body) == (200, {**profile, "deactivated": True})
    found = await bob.request("profiles", users=["ann"])
    assert found["profiles"] == [{**profile, "deactivated": True}]
    await bob.aclose()


async def test_a_profile_set_between_the_hellos_read_and_its_subscription(
        daemon: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """A profile set on another connection after a hello has read the user, before that
    connection is subscribed (so its profile event cannot reach it), is in the welcome."""
    token = await register_and_login(daemon.http_port, "bob")
    phone = await Client.signed_in(daemon.tcp_port, token)

    async def meanwhile() -> None:
        await phone.request("set_profile", display_name="Bob B.")
        assert await phone.event("profile", display_name="Bob B.")

    during_first_read(daemon, monkeypatch, meanwhile)
    laptop = await Client.tcp(daemon.tcp_port)
    welcome = await laptop.hello(token)
    assert welcome["user"]["display_name"] == "Bob B."
    await phone.aclose()
    await laptop.aclose()


async def test_profile_changes_are_rate_limited(daemon: Server) -> None:
    """Past ten changes at once a user's set_profile is refused rate_limited (each is told
    to all their rooms), on every connection of theirs; profiles reads are not."""
    token = await register_and_login(daemon.http_port, "ann")
    ann = await Client.signed_in(daemon.tcp_port, token)
    other = await Client.signed_in(daemon.tcp_port, token)
    for n in range(10):
        assert (await ann.request("set_profile", display_name=f"Ann {n}"))["op"] == "ok"
    refused = await other.request("set_profile", display_name="Ann again")
    assert (refused["op"], refused["code"]) == ("error", "rate_limited")
    assert (await other.request("profiles", users=["ann"]))["op"] == "ok"
    await ann.aclose()
    await other.aclose()


async def test_a_profile_reaches_room_mates_and_watchers_on_another_node(
        tmp_path: Path, database_dsn: str) -> None:
    """ann sets her profile on node A; her room mate bob and her watcher cat, both on node
    B (cat shares no room with her), and her own connection on B each get the profile
    event; dan on B, neither, does not. A change over HTTP on B reaches bob's connection
    on A."""
    config = make_config(tmp_path, database_dsn, limits=LIFTED_RATES)
    async with running(config) as a, running(config) as b:
        ann_token = await register_and_login(a.http_port, "ann")
        ann_a = await Client.signed_in(a.tcp_port, ann_token)
        ann_b = await Client.signed_in(b.tcp_port, ann_token)
        bob_token = await register_and_login(a.http_port, "bob")
        bob_b = await Client.signed_in(b.tcp_port, bob_token)
        bob_a = await Client.signed_in(a.tcp_port, bob_token)
        cat_b = await Client.signed_in(b.tcp_port, await register_and_login(a.http_port, "cat"))
        dan_b = await Client.signed_in(b.tcp_port, await register_and_login(a.http_port, "dan"))
        await ann_a.request("join", room="team")
        await bob_b.request("join", room="team")
        await cat_b.request("add_contact", user="ann")

        await ann_a.request("set_profile", display_name="Ann Lee", custom_status=HOLIDAY)
        told = {"user": "ann", "display_name": "Ann Lee",
                "custom_status": {**HOLIDAY, "until": None}}
        for client in (ann_a, ann_b, bob_b, cat_b):
            assert await client.event("profile", **told)

        code, _ = await http(b.http_port, "PUT", "/api/me/profile", {"custom_status": None},
                             token=ann_token)
        assert code == 200
        for client in (ann_a, ann_b, bob_a, bob_b, cat_b):
            assert await client.event("profile", user="ann", custom_status=None)
        await dan_b.request("ping")
        assert _profile_events(dan_b) == []
        for client in (ann_a, ann_b, bob_a, bob_b, cat_b, dan_b):
            await client.aclose()
