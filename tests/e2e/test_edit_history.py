"""End-to-end: a message's edit history (``edit_history``, ``GET
/api/rooms/{room}/messages/{msg_id}/edits``) over real sockets, TCP and WebSocket, and HTTP,
against the real database.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s).
"""

from __future__ import annotations

import pytest
import trio

from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import signed_in_over


@pytest.mark.parametrize("transport", ["tcp", "ws"])
async def test_whoever_reads_the_room_reads_the_versions(daemon: Server, nursery: trio.Nursery,
                                                         transport: str) -> None:
    """ann sends and edits twice in a public room: bob (not a member, over ``transport``)
    reads the three versions oldest first, each with its author, the entries' seqs and the
    message's own for the original; the answer over HTTP is the same."""
    ann = await Client.tcp(daemon.tcp_port)
    await ann.hello(await register_and_login(daemon.http_port, "ann"))
    assert (await ann.request("join", room="team"))["op"] == "ok"
    posted = await ann.request("send", room="team", text="meet at 10", nonce="a1")
    mid = posted["msg_id"]
    first = await ann.request("edit", room="team", msg_id=mid, text="meet at 11")
    second = await ann.request("edit", room="team", msg_id=mid, text="meet at 11 in room 4")
    token = await register_and_login(daemon.http_port, "bob")
    bob = await signed_in_over(transport, daemon, nursery, token)
    answer = await bob.request("edit_history", room="team", msg_id=mid)
    assert answer["op"] == "ok" and answer["room"] == "team" and answer["msg_id"] == mid
    assert [(v["text"], v["by"], v["seq"]) for v in answer["versions"]] == [
        ("meet at 10", "ann", posted["seq"]), ("meet at 11", "ann", first["seq"]),
        ("meet at 11 in room 4", "ann", second["seq"])]
    assert answer["versions"][0]["ts"] == posted["ts"]
    assert answer["original"] is True and answer["omitted"] == 0
    status, body = await http(daemon.http_port, "GET", f"/api/rooms/team/messages/{mid}/edits",
                              token=token)
    assert status == 200
    assert body == {k: v for k, v in answer.items() if k not in ("op", "id")}
    for client in (ann, bob):
        await client.aclose()


@pytest.mark.parametrize("transport", ["tcp", "ws"])
async def test_refusals(daemon: Server, nursery: trio.Nursery, transport: str) -> None:
    """A private room's outsider: forbidden (403 over HTTP); no room, a message of another
    room, a deleted message: not_found (404); no msg_id: bad_request; no token: 401. The
    connection goes on answering."""
    ann = await Client.tcp(daemon.tcp_port)
    await ann.hello(await register_and_login(daemon.http_port, "ann"))
    assert (await ann.request("create_room", room="inner", private=True))["op"] == "ok"
    assert (await ann.request("join", room="team"))["op"] == "ok"
    hidden = (await ann.request("send", room="inner", text="plans", nonce="a1"))["msg_id"]
    await ann.request("edit", room="inner", msg_id=hidden, text="new plans")
    open_mid = (await ann.request("send", room="team", text="oops", nonce="a2"))["msg_id"]
    await ann.request("edit", room="team", msg_id=open_mid, text="fine")
    token = await register_and_login(daemon.http_port, "eve")
    eve = await signed_in_over(transport, daemon, nursery, token)

    def code(frame: dict[str, object]) -> object:
        assert frame["op"] == "error", frame
        return frame["code"]

    assert code(await eve.request("edit_history", room="inner", msg_id=hidden)) == "forbidden"
    assert code(await eve.request("edit_history", room="nowhere", msg_id=hidden)) == "not_found"
    assert code(await eve.request("edit_history", room="team", msg_id=hidden)) == "not_found"
    assert code(await eve.request("edit_history", room="team")) == "bad_request"
    assert code(await eve.request("edit_history", room="team", msg_id="x")) == "bad_request"
    assert (await ann.request("edit_history", room="inner", msg_id=hidden))["op"] == "ok"
    status, body = await http(daemon.http_port, "GET",
                              f"/api/rooms/inner/messages/{hidden}/edits", token=token)
    assert status == 403 and body["code"] == "forbidden"
    assert (await ann.request("delete", room="team", msg_id=open_mid))["op"] == "ok"
    assert code(await eve.request("edit_history", room="team", msg_id=open_mid)) == "not_found"
    status, body = await http(daemon.http_port, "GET",
                              f"/api/rooms/team/messages/{open_mid}/edits", token=token)
    assert status == 404 and body["code"] == "not_found"
    status, _ = await http(daemon.http_port, "GET", f"/api/rooms/team/messages/{open_mid}/edits")
    assert status == 401
    assert (await eve.request("ping"))["op"] == "ok"
    for client in (ann, eve):
        await client.aclose()
