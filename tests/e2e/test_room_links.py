"""End-to-end: join links to one room (``create_room_link``, ``room_links``,
``revoke_room_link``, ``room_link``, ``join_link``, and their HTTP routes), over TCP and
WebSocket as clients use them.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s);
an expired link is made by moving its expiry in the database, never by waiting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
import trio

from chatd.server import Server
from chatd.storage.bridge import open_bridge
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import signed_in_over


@asynccontextmanager
async def raw(dsn: str) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """A function running one statement on a connection of its own."""
    async with open_bridge(name="raw") as bridge:
        conn: Any = await bridge.run(asyncpg.connect, dsn)
        try:
            async def execute(sql: str, *args: Any) -> Any:
                return await bridge.run(conn.execute, sql, *args)
            yield execute
        finally:
            await bridge.run(conn.close)


async def _people(daemon: Server, nursery: trio.Nursery, transport: str, *names: str
                  ) -> dict[str, Client]:
    clients = {}
    for name in names:
        token = await register_and_login(daemon.http_port, name)
        clients[name] = await signed_in_over(transport, daemon, nursery, token)
    return clients


def _error(reply: dict[str, Any]) -> str:
    assert reply["op"] == "error", reply
    return str(reply["code"])


@pytest.mark.parametrize("transport", ["tcp", "ws"])
async def test_a_link_lets_people_into_a_private_room(
        daemon: Server, nursery: trio.Nursery, transport: str) -> None:
    """ann makes a link of two uses to her private room; bob looks at it (the room's name,
    topic and size), joins with it (answered as a join, announced as joined by ann), and
    cid after him; dan finds it used up. ann's list counts the uses; the room's audit log
    has the link and both joins."""
    people = await _people(daemon, nursery, transport, "ann", "bob", "cid", "dan")
    ann, bob, cid, dan = (people[n] for n in ("ann", "bob", "cid", "dan"))
    assert (await ann.request("create_room", room="staff", private=True,
                              topic="the staff room"))["op"] == "ok"
    await ann.request("send", room="staff", text="welcome, all", nonce="w")
    made = await ann.request("create_room_link", room="staff", uses=2, expires_in=3600)
    assert made["op"] == "ok", made
    token, link = made["token"], made["link"]
    assert (link["room"], link["by"], link["uses"], link["max_uses"], link["state"]) == (
        "staff", "ann", 0, 2, "valid")
    assert "url" not in made  # no server.public_url: the page makes it from its address
    assert _error(await bob.request("join", room="staff")) == "forbidden"

    look = await bob.request("room_link", token=token)
    assert look["op"] == "ok" and look["valid"] is True, look
    assert (look["room"], look["topic"], look["private"], look["members"], look["member"],
            look["by"]) == ("staff", "the staff room", True, 1, False, "ann")

    joined = await bob.request("join_link", token=token)
    assert joined["op"] == "ok" and joined["room"] == "staff", joined
    assert joined["private"] is True and joined["role"] == "member"
    assert [m["text"] for m in joined["messages"]] == ["welcome, all"]
    assert await ann.event("joined", room="staff", user="bob", by="ann")
    await ann.request("send", room="staff", text="hi bob", nonce="h")
    assert (await bob.event("message", room="staff"))["text"] == "hi bob"

    again = await bob.request("join_link", token=token)  # a member enters; no use taken
    assert again["op"] == "ok" and again["room"] == "staff"
    assert (await cid.request("join_link", token=token))["op"] == "ok"
    assert _error(await dan.request("join_link", token=token)) == "invitation_used_up"
    look = await dan.request("room_link", token=token)
    assert (look["valid"], look["code"]) == (False, "invitation_used_up")
    assert "room" not in look  # a link that does not work names no room

    listed = await ann.request("room_links", room="staff")
    assert listed["all"] is True and listed["more"] is False
    assert [(x["id"], x["uses"], x["state"]) for x in listed["links"]] == [
        (link["id"], 2, "used_up")]
    audit = await ann.request("audit", room="staff")
    actions = [(e["action"], e["actor"], e["target"]) for e in audit["entries"]]
    assert actions[:3] == [("join_link", "cid", "ann"), ("join_link", "bob", "ann"),
                           ("create_room_link", "ann", None)]
    for client in people.values():
        await client.aclose()


@pytest.mark.parametrize("transport", ["tcp", "ws"])
async def test_expired_revoked_banned_and_not_allowed(
        daemon: Server, nursery: trio.Nursery, transport: str, database_dsn: str) -> None:
    """A stranger to the room cannot make a link, nor a link to a conversation; an expired
    link and a revoked one refuse (and take nobody in); a banned user cannot use a link; an
    archived room takes nobody and gets no new link; a member lists only their own links and
    cannot revoke the owner's; an unknown token is invitation_invalid, a malformed one too."""
    people = await _people(daemon, nursery, transport, "ann", "bob", "cid", "eve")
    ann, bob, cid, eve = (people[n] for n in ("ann", "bob", "cid", "eve"))
    await ann.request("create_room", room="staff", private=True)
    assert _error(await bob.request("create_room_link", room="staff")) == "forbidden"
    assert _error(await bob.request("create_room_link", room="nowhere")) == "not_found"
    await ann.request("dm", to="bob", text="hi", nonce="d")
    assert _error(await ann.request("create_room_link", room="@ann:bob")) == "forbidden"
    assert _error(await ann.request("create_room_link", room="staff", uses=0)) == (
        "bad_request")
    assert _error(await ann.request("create_room_link", room="staff", expires_in=10)) == (
        "bad_request")

    expiring = await ann.request("create_room_link", room="staff", uses=5)
    revoked = await ann.request("create_room_link", room="staff", uses=5)
    open_link = await ann.request("create_room_link", room="staff", uses=5)
    async with raw(database_dsn) as execute:
        await execute("UPDATE room_links SET expires_at = now() - interval '1 second' "
                      "WHERE id = $1", expiring["link"]["id"])
    assert _error(await cid.request("join_link", token=expiring["token"])) == (
        "invitation_expired")
    done = await ann.request("revoke_room_link", link=revoked["link"]["id"])
    assert done["link"]["state"] == "revoked"
    assert _error(await cid.request("join_link", token=revoked["token"])) == (
        "invitation_revoked")
    assert _error(await cid.request("join_link", token="x" * 32)) == "invitation_invalid"
    assert _error(await cid.request("join_link", token="not a token!")) == (
        "invitation_invalid")
    look = await cid.request("room_link", token="not a token!")
    assert (look["valid"], look["code"]) == (False, "invitation_invalid")
    assert _error(await cid.request("join_link", token=7)) == "bad_request"

    await ann.request("invite", room="staff", user="bob")
    bobs = await bob.request("create_room_link", room="staff")
    listed = await bob.request("room_links", room="staff")
    assert listed["all"] is False
    assert [x["id"] for x in listed["links"]] == [bobs["link"]["id"]]
    assert _error(await bob.request("revoke_room_link", link=open_link["link"]["id"])) == (
        "not_found")
    assert (await ann.request("revoke_room_link", link=bobs["link"]["id"]))["op"] == "ok"

    assert (await ann.request("ban", room="staff", user="eve"))["op"] == "ok"
    look = await eve.request("room_link", token=open_link["token"])
    assert (look["valid"], look["code"]) == (False, "forbidden")
    assert _error(await eve.request("join_link", token=open_link["token"])) == "forbidden"
    await ann.request("create_room", room="old")
    old = await ann.request("create_room_link", room="old", uses=5)
    assert (await ann.request("archive", room="old", archived=True))["op"] == "ok"
    assert _error(await cid.request("join_link", token=old["token"])) == "archived"
    assert _error(await ann.request("create_room_link", room="old")) == "archived"
    look = await cid.request("room_link", token=old["token"])
    assert (look["valid"], look["code"]) == (False, "archived")

    members = await ann.request("who", room="staff")
    assert sorted(m["user"] for m in members["members"]) == ["ann", "bob"]
    uses = {x["id"]: x["uses"] for x in (await ann.request("room_links",
                                                           room="staff"))["links"]}
    assert uses[open_link["link"]["id"]] == 0
    for client in people.values():
        await client.aclose()


async def test_over_http(daemon: Server) -> None:
    """The routes: POST /api/rooms/{room}/links (201, with the url from the request's
    Host), GET of them, POST /api/room-links/look and /join with the token in the body
    (never in the request line), DELETE /api/room-links/{id}."""
    port = daemon.http_port
    ann_token = await register_and_login(port, "ann")
    bob_token = await register_and_login(port, "bob")
    status, _ = await http(port, "POST", "/api/rooms", {"room": "staff", "private": True},
                           token=ann_token)
    assert status == 201
    status, made = await http(port, "POST", "/api/rooms/staff/links", {"uses": 3},
                              token=ann_token)
    assert status == 201, made
    token = made["token"]
    assert made["url"].endswith(f"/#join={token}") and made["url"].startswith("http://")
    assert made["link"]["max_uses"] == 3
    status, listed = await http(port, "GET", "/api/rooms/staff/links", token=ann_token)
    assert status == 200 and [x["id"] for x in listed["links"]] == [made["link"]["id"]]
    status, look = await http(port, "POST", "/api/room-links/look", {"token": token},
                              token=bob_token)
    assert status == 200 and look["valid"] and look["room"] == "staff"
    status, joined = await http(port, "POST", "/api/room-links/join", {"token": token},
                                token=bob_token)
    assert status == 200 and joined["room"] == "staff", joined
    status, _ = await http(port, "GET", "/api/rooms/staff/messages", token=bob_token)
    assert status == 200
    status, refused = await http(port, "POST", "/api/room-links/join", {"token": "y" * 32},
                                 token=bob_token)
    assert (status, refused["code"]) == (403, "invitation_invalid")
    status, _ = await http(port, "POST", "/api/room-links/join", {"token": token})
    assert status == 401
    status, revoked = await http(port, "DELETE", f"/api/room-links/{made['link']['id']}",
                                 token=ann_token)
    assert status == 200 and revoked["link"]["state"] == "revoked"
    status, refused = await http(port, "POST", "/api/rooms/staff/links", {"uses": 0},
                                 token=ann_token)
    assert (status, refused["code"]) == (400, "bad_request")
