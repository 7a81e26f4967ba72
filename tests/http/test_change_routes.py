"""Changes to a message over HTTP that the socket makes too: ``PUT`` and ``DELETE
/api/rooms/{room}/pins/{msg_id}`` (the ``pin`` operation) and ``DELETE
/api/rooms/{room}/messages/{msg_id}/preview`` (``remove_preview``), against a running daemon
whose members on the socket see the entries the routes commit.

Rules: 127.0.0.1 and port 0 only; every wait is for an event or an answer, bounded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import running
from tests.helpers import LIFTED_RATES, make_config
from tests.pageserver import Page, PageServer, html

TIMEOUT = 30


@pytest.fixture
async def pages(nursery: trio.Nursery) -> PageServer:
    server = PageServer()
    await nursery.start(server.serve)
    server.pages["/plain"] = Page(html("Just a title"))
    return server


@pytest.fixture
async def daemon(tmp_path: Path, database_dsn: str) -> AsyncIterator[Server]:
    config = make_config(tmp_path, database_dsn, server={"grace_period": 2.0},
                         limits={**LIFTED_RATES, "pins_per_room": 1},
                         previews={"enabled": True, "allow_private_addresses": True,
                                   "timeout_seconds": 2.0})
    async with running(config) as server:
        yield server


async def _member(daemon: Server, name: str) -> tuple[Client, str]:
    """``name`` on a TCP connection, in the room team (ann, the first, owns it)."""
    token = await register_and_login(daemon.http_port, name)
    client = await Client.tcp(daemon.tcp_port)
    await client.hello(token)
    assert (await client.request("join", room="team"))["op"] == "ok"
    return client, token


async def test_pin_and_unpin_over_http(daemon: Server) -> None:
    """A member pins and unpins over HTTP as with ``pin``: 200 the entry's room, seq, msg_id
    and ts once committed, the ``pinned`` entry to every member, ``pins`` lists it; again is
    ``unchanged``; past the room's limit 409 too_many_pins; a non-member 403, an unknown
    message 404, no token 401."""
    with trio.fail_after(TIMEOUT):
        ann, _ = await _member(daemon, "ann")
        bob, bob_token = await _member(daemon, "bob")
        posted = await ann.request("send", room="team", text="wifi: hunter2", nonce="a1")
        mid = posted["msg_id"]
        port = daemon.http_port

        status, body = await http(port, "PUT", f"/api/rooms/team/pins/{mid}", token=bob_token)
        assert status == 200, body
        assert body == {"room": "team", "seq": posted["seq"] + 1, "msg_id": mid,
                        "ts": body["ts"]}
        for client in (ann, bob):
            event = await client.event("pinned", seq=body["seq"])
            assert (event["msg_id"], event["by"], event["on"]) == (mid, "bob", True)
        status, listed = await http(port, "GET", "/api/rooms/team/pins", token=bob_token)
        assert [m["msg_id"] for m in listed["messages"]] == [mid]
        status, again = await http(port, "PUT", f"/api/rooms/team/pins/{mid}", token=bob_token)
        assert (status, again["unchanged"], again["seq"]) == (200, True, body["seq"])

        other = await ann.request("send", room="team", text="other", nonce="a2")
        status, full = await http(port, "PUT", f"/api/rooms/team/pins/{other['msg_id']}",
                                  token=bob_token)
        assert (status, full["code"]) == (409, "too_many_pins")

        status, unpinned = await http(port, "DELETE", f"/api/rooms/team/pins/{mid}",
                                      token=bob_token)
        assert status == 200 and "unchanged" not in unpinned
        event = await ann.event("pinned", seq=unpinned["seq"])
        assert (event["msg_id"], event["on"]) == (mid, False)
        status, listed = await http(port, "GET", "/api/rooms/team/pins", token=bob_token)
        assert listed["messages"] == []
        status, again = await http(port, "DELETE", f"/api/rooms/team/pins/{mid}",
                                   token=bob_token)
        assert (status, again["unchanged"]) == (200, True)

        cid = await register_and_login(port, "cid")
        status, refused = await http(port, "PUT", f"/api/rooms/team/pins/{mid}", token=cid)
        assert (status, refused["code"]) == (403, "forbidden")
        status, missing = await http(port, "PUT", "/api/rooms/team/pins/999999",
                                     token=bob_token)
        assert (status, missing["code"]) == (404, "not_found")
        status, _ = await http(port, "DELETE", f"/api/rooms/team/pins/{mid}")
        assert status == 401
        for client in (ann, bob):
            await client.aclose()


async def test_remove_a_preview_over_http(daemon: Server, pages: PageServer) -> None:
    """Its author removes a message's link preview over HTTP as with ``remove_preview``: 200
    once the ``preview`` entry (``removed``) is committed, which every member gets; again is
    ``unchanged``; another member who does not moderate the room is 403, an unknown message
    404."""
    with trio.fail_after(TIMEOUT):
        ann, _ = await _member(daemon, "ann")  # the room's owner
        bob, bob_token = await _member(daemon, "bob")
        port = daemon.http_port
        theirs = await bob.request("send", room="team", text=pages.url("/plain"), nonce="b1")
        mid = theirs["msg_id"]
        assert (await ann.event("preview", msg_id=mid))["title"] == "Just a title"
        ann_token = await register_and_login(port, "ann")

        cid = await register_and_login(port, "cid")
        cid_client = await Client.tcp(daemon.tcp_port)
        await cid_client.hello(cid)
        assert (await cid_client.request("join", room="team"))["op"] == "ok"
        status, refused = await http(port, "DELETE", f"/api/rooms/team/messages/{mid}/preview",
                                     token=cid)
        assert (status, refused["code"]) == (403, "forbidden")

        status, body = await http(port, "DELETE", f"/api/rooms/team/messages/{mid}/preview",
                                  token=bob_token)
        assert status == 200, body
        assert (body["room"], body["msg_id"], "unchanged" in body) == ("team", mid, False)
        for client in (ann, bob):
            removed = await client.event("preview", msg_id=mid, seq=body["seq"])
            assert removed["removed"] is True
        status, again = await http(port, "DELETE", f"/api/rooms/team/messages/{mid}/preview",
                                   token=ann_token)  # the owner, who moderates: allowed
        assert (status, again["unchanged"]) == (200, True)
        status, missing = await http(port, "DELETE",
                                     "/api/rooms/team/messages/999999/preview", token=ann_token)
        assert (status, missing["code"]) == (404, "not_found")
        for client in (ann, bob, cid_client):
            await client.aclose()
