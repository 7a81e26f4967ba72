"""End-to-end: the socket protocol and the REST API are two fronts over one operations layer
(chatd/actions), so they agree: same checks, same defaults, same answers.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helpers fail after 10 s).
"""

from __future__ import annotations

from typing import Any

from chatd.server import Server
from tests.client import Client, http, register_and_login


def _without_envelope(reply: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in reply.items() if key not in ("op", "id")}


async def test_both_fronts_refuse_a_long_topic_alike(daemon: Server) -> None:
    """A topic over the limit is refused with the same code and words on both fronts (they
    used to check it separately, with two copies of the limit)."""
    token = await register_and_login(daemon.http_port, "alice")
    client = await Client.tcp(daemon.tcp_port)
    await client.hello(token)
    socket = await client.request("create_room", room="long", topic="t" * 257)
    status, body = await http(daemon.http_port, "POST", "/api/rooms",
                              {"room": "long", "topic": "t" * 257}, token=token)
    assert socket["op"] == "error" and status == 400
    assert (socket["code"], socket["message"]) == (body["code"], body["message"])
    await client.aclose()


async def test_history_is_the_same_page_on_both_fronts(daemon: Server) -> None:
    """history over the socket and GET /api/rooms/{room}/messages give the same page, by
    default and with paging, last_seq included."""
    token = await register_and_login(daemon.http_port, "alice")
    client = await Client.tcp(daemon.tcp_port)
    await client.hello(token)
    await client.request("join", room="lobby")
    for i in range(60):
        ack = await client.request("send", room="lobby", text=f"m{i}", nonce=f"n{i}")
        assert ack["op"] == "ok", ack
    for query, fields in [("", {}), ("?before=20&limit=5", {"before": 20, "limit": 5}),
                          ("?after=55", {"after": 55})]:
        socket = await client.request("history", room="lobby", **fields)
        status, body = await http(daemon.http_port, "GET", f"/api/rooms/lobby/messages{query}",
                                  token=token)
        assert status == 200, body
        assert _without_envelope(socket) == body
        assert body["last_seq"] == 60
    assert len(body["messages"]) == 5
    default = await client.request("history", room="lobby")
    assert len(default["messages"]) == daemon.config.limits.join_recent
    await client.aclose()


async def test_both_fronts_refuse_a_bad_room_name_alike(daemon: Server) -> None:
    """A malformed room name is bad_request with the same words on both fronts."""
    token = await register_and_login(daemon.http_port, "alice")
    client = await Client.tcp(daemon.tcp_port)
    await client.hello(token)
    socket = await client.request("history", room="no.dots")
    status, body = await http(daemon.http_port, "GET", "/api/rooms/no.dots/messages",
                              token=token)
    assert status == 400 and socket["code"] == body["code"] == "bad_request"
    assert socket["message"] == body["message"]
    await client.aclose()
