"""End-to-end: do not disturb (``set_dnd``): a pause of the user's notifications, kept on the
server, told to every connection of the user on every node, shown in the welcome and
``GET /api/me``, bounded to a week ahead.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s).
The tests compare times with their own clock, which is the daemon's (one machine), with
margins of minutes: they never wait for a time to come.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from chatd.protocol import MAX_DND_SECONDS
from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import during_first_read, running
from tests.helpers import make_config, now_ms

HOUR = 3600 * 1000


async def test_a_pause_reaches_every_device_and_the_welcome(daemon: Server,
                                                            nursery: trio.Nursery) -> None:
    """set_dnd with a duration answers the time it pauses until; every connection of the
    user (TCP and WebSocket, the asking one included) gets a dnd event, nobody else; a new
    welcome and GET /api/me carry it as dnd_until; until null resumes, everywhere."""
    token = await register_and_login(daemon.http_port, "bob")
    ann = await Client.signed_in(daemon.tcp_port, await register_and_login(daemon.http_port, "ann"))
    phone = await Client.tcp(daemon.tcp_port)
    welcome = await phone.hello(token)
    assert welcome["user"]["dnd_until"] is None
    laptop = await Client.ws(daemon.http_port, nursery)
    await laptop.hello(token)

    before = now_ms()
    reply = await phone.request("set_dnd", duration=3600)
    until = reply["until"]
    assert reply == {"op": "ok", "id": reply["id"], "until": until}
    assert before + HOUR <= until <= now_ms() + HOUR
    for client in (phone, laptop):
        assert await client.event("dnd", until=until)
    await ann.request("ping")
    assert [e for e in ann.events if e["op"] == "dnd"] == []

    again = await Client.tcp(daemon.tcp_port)
    assert (await again.hello(token))["user"]["dnd_until"] == until
    status, body = await http(daemon.http_port, "GET", "/api/me", token=token)
    assert status == 200 and body["user"]["dnd_until"] == until

    later = now_ms() + 2 * HOUR
    reply = await laptop.request("set_dnd", until=later)
    assert reply["until"] == later
    for client in (phone, laptop, again):
        assert await client.event("dnd", until=later)

    reply = await again.request("set_dnd", until=None)
    assert reply["until"] is None
    for client in (phone, laptop, again):
        assert await client.event("dnd", until=None)
    fresh = await Client.tcp(daemon.tcp_port)
    assert (await fresh.hello(token))["user"]["dnd_until"] is None
    for client in (ann, phone, laptop, again, fresh):
        await client.aclose()


async def test_over_http_and_a_time_past_resumes(daemon: Server) -> None:
    """PUT /api/me/dnd is set_dnd; a time already past resumes (answered null), as null
    does."""
    token = await register_and_login(daemon.http_port, "bob")
    phone = await Client.signed_in(daemon.tcp_port, token)
    until = now_ms() + HOUR
    status, body = await http(daemon.http_port, "PUT", "/api/me/dnd", {"until": until},
                              token=token)
    assert status == 200 and body == {"until": until}
    assert await phone.event("dnd", until=until)
    status, body = await http(daemon.http_port, "PUT", "/api/me/dnd",
                              {"until": now_ms() - 1000}, token=token)
    assert status == 200 and body == {"until": None}
    assert await phone.event("dnd", until=None)
    status, body = await http(daemon.http_port, "GET", "/api/me", token=token)
    assert body["user"]["dnd_until"] is None
    await phone.aclose()


async def test_set_dnd_refusals(daemon: Server) -> None:
    """Neither until nor duration, both, a duration out of 1..7 days, an until more than 7
    days ahead or not an integer: bad_request, on the socket and over HTTP; nothing stored."""
    token = await register_and_login(daemon.http_port, "bob")
    bob = await Client.signed_in(daemon.tcp_port, token)
    week = MAX_DND_SECONDS * 1000
    for fields in ({}, {"until": None, "duration": 60}, {"duration": 0},
                   {"duration": MAX_DND_SECONDS + 1}, {"until": now_ms() + week + HOUR},
                   {"until": "soon"}, {"until": True}, {"duration": 1.5}):
        refused = await bob.request("set_dnd", **fields)
        assert (refused["op"], refused["code"]) == ("error", "bad_request"), fields
    status, body = await http(daemon.http_port, "PUT", "/api/me/dnd",
                              {"until": now_ms() + week + HOUR}, token=token)
    assert status == 400 and body["code"] == "bad_request"
    status, _ = await http(daemon.http_port, "PUT", "/api/me/dnd", {"duration": 60})
    assert status == 401
    status, body = await http(daemon.http_port, "GET", "/api/me", token=token)
    assert body["user"]["dnd_until"] is None
    # The longest allowed is taken.
    until = (await bob.request("set_dnd", duration=MAX_DND_SECONDS))["until"]
    assert await bob.event("dnd", until=until)
    status, body = await http(daemon.http_port, "GET", "/api/me", token=token)
    assert body["user"]["dnd_until"] == until > now_ms() + week - HOUR
    await bob.aclose()


async def test_a_pause_set_on_one_node_reaches_the_others(tmp_path: Path,
                                                          database_dsn: str) -> None:
    """bob's connection on node B gets the dnd event of a pause he set on node A, and the
    resume he set over HTTP on B reaches A."""
    config = make_config(tmp_path, database_dsn)
    async with running(config) as a, running(config) as b:
        token = await register_and_login(a.http_port, "bob")
        on_a = await Client.signed_in(a.tcp_port, token)
        on_b = await Client.signed_in(b.tcp_port, token)
        until = (await on_a.request("set_dnd", duration=1800))["until"]
        assert await on_b.event("dnd", until=until)
        status, _ = await http(b.http_port, "PUT", "/api/me/dnd", {"until": None}, token=token)
        assert status == 200
        assert await on_a.event("dnd", until=None)
        assert await on_b.event("dnd", until=None)
        await on_a.aclose()
        await on_b.aclose()


async def test_a_pause_set_between_the_hellos_read_and_its_subscription(
        daemon: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pause set on another connection after a hello has read the user, before that
    connection is subscribed (so its dnd event cannot reach it), is in the welcome."""
    token = await register_and_login(daemon.http_port, "bob")
    phone = await Client.signed_in(daemon.tcp_port, token)
    set_: dict[str, int] = {}

    async def meanwhile() -> None:
        set_["until"] = (await phone.request("set_dnd", duration=900))["until"]
        assert await phone.event("dnd", until=set_["until"])

    during_first_read(daemon, monkeypatch, meanwhile)
    laptop = await Client.tcp(daemon.tcp_port)
    welcome = await laptop.hello(token)
    assert welcome["user"]["dnd_until"] == set_["until"]
    await phone.aclose()
    await laptop.aclose()
