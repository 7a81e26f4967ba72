"""End-to-end: a message's edit history (``edit_history``, ``GET
/api/rooms/{room}/messages/{msg_id}/edits``) over real sockets, TCP and WebSocket, and HTTP,
against the real database.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import running, signed_in_over
from tests.helpers import LIFTED_RATES, make_config


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


async def _versions_by(daemon: Server, tokens: dict[str, str], room: str, mid: int
                       ) -> dict[str, object]:
    """Who of ``tokens`` reads message ``mid``'s versions over the socket (``"ok"`` or the
    error's code), each also over HTTP (200, or 403 with the same code)."""
    seen: dict[str, object] = {}
    for name, token in tokens.items():
        client = await Client.signed_in(daemon.tcp_port, token)
        answer = await client.request("edit_history", room=room, msg_id=mid)
        await client.aclose()
        status, body = await http(daemon.http_port, "GET",
                                  f"/api/rooms/{room}/messages/{mid}/edits", token=token)
        if answer["op"] == "ok":
            assert status == 200 and len(body["versions"]) == 2
            seen[name] = "ok"
        else:
            assert (status, body["code"]) == (403, answer["code"]), (name, body)
            seen[name] = (answer["code"], answer["message"])
    return seen


async def _bob_edited_in_team(daemon: Server) -> tuple[dict[str, str], int]:
    """ann's public room #team, cid its moderator, bob and dan members, eve a reader from
    outside, root a server administrator outside it; bob's message edited once. Returns
    everyone's token and the message's id."""
    tokens = {name: await register_and_login(daemon.http_port, name)
              for name in ("ann", "bob", "cid", "dan", "eve", "root")}
    await daemon.app.storage.set_admin("root", True)
    clients = {name: await Client.signed_in(daemon.tcp_port, tokens[name])
               for name in ("ann", "bob", "cid", "dan")}
    for name, client in clients.items():
        assert (await client.request("join", room="team"))["op"] == "ok", name
    assert (await clients["ann"].request("set_role", room="team", user="cid",
                                         role="moderator"))["op"] == "ok"
    mid = (await clients["bob"].request("send", room="team", text="v1", nonce="b1"))["msg_id"]
    assert (await clients["bob"].request("edit", room="team", msg_id=mid,
                                         text="v2"))["op"] == "ok"
    for client in clients.values():
        await client.aclose()
    return tokens, mid


async def test_everyone_by_default_and_the_welcome_says_so(daemon: Server) -> None:
    """Without ``[messages] edit_history``: every reader of the room reads the versions, and
    the welcome says "everyone"."""
    tokens, mid = await _bob_edited_in_team(daemon)
    welcome = await Client.tcp(daemon.tcp_port)
    assert (await welcome.hello(tokens["eve"]))["edit_history"] == "everyone"
    await welcome.aclose()
    assert await _versions_by(daemon, tokens, "team", mid) == dict.fromkeys(tokens, "ok")


async def test_moderators_only(tmp_path: Path, database_dsn: str) -> None:
    """``edit_history = "moderators"``: the author, the room's owner and moderator and a
    server administrator read the versions; a member and a reader from outside get
    forbidden, saying why (403 over HTTP); the welcome says "moderators"."""
    config = make_config(tmp_path, database_dsn, limits=LIFTED_RATES,
                         messages={"edit_history": "moderators"})
    async with running(config) as daemon:
        tokens, mid = await _bob_edited_in_team(daemon)
        welcome = await Client.tcp(daemon.tcp_port)
        assert (await welcome.hello(tokens["dan"]))["edit_history"] == "moderators"
        await welcome.aclose()
        why = ("forbidden", "on this server a message's edit history is shown only to its "
               "author and the room's owner and moderators")
        assert await _versions_by(daemon, tokens, "team", mid) == {
            "ann": "ok", "bob": "ok", "cid": "ok", "dan": why, "eve": why, "root": "ok"}


async def test_off_but_for_administrators(tmp_path: Path, database_dsn: str) -> None:
    """``edit_history = "off"``: only a server administrator reads the versions; the author
    and the room's owner too get forbidden, saying why (403 over HTTP); the welcome says
    "off". The message itself still reads as edited."""
    config = make_config(tmp_path, database_dsn, limits=LIFTED_RATES,
                         messages={"edit_history": "off"})
    async with running(config) as daemon:
        tokens, mid = await _bob_edited_in_team(daemon)
        welcome = await Client.tcp(daemon.tcp_port)
        assert (await welcome.hello(tokens["ann"]))["edit_history"] == "off"
        history = await welcome.request("history", room="team")
        [message] = [m for m in history["messages"] if m["op"] == "message"]
        assert (message["text"], message["edited_ts"] > 0) == ("v2", True)
        await welcome.aclose()
        why = ("forbidden", "message edit histories are not shown on this server")
        assert await _versions_by(daemon, tokens, "team", mid) == {
            **dict.fromkeys(tokens, why), "root": "ok"}
