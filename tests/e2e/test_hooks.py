"""End-to-end: incoming webhooks. A member makes one for a bot they own; a POST to its URL
(no token: the URL's secret is the credential) appears as the bot's message to the room's
members connected over the protocol, acknowledged after the commit.

Rules: 127.0.0.1 and port 0 only; every wait is for a state (a reply, a frame), bounded by
``trio.fail_after``; nothing sleeps for a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config

TIMEOUT = 30
LONG = 3600.0


async def bot_of(server: Server, token: str, name: str) -> str:
    status, body = await http(server.http_port, "POST", "/api/bots", {"name": name},
                              token=token)
    assert status == 201, body
    return str(body["token"])


async def hook(server: Server, token: str, room: str, bot: str) -> tuple[str, dict[str, Any]]:
    status, body = await http(server.http_port, "POST", f"/api/rooms/{room}/hooks",
                              {"bot": bot}, token=token)
    assert status == 201, body
    return str(body["url"]), body["hook"]


async def member(server: Server, name: str, room: str) -> tuple[Client, str]:
    token = await register_and_login(server.http_port, name)
    client = await Client.tcp(server.tcp_port)
    await client.hello(token)
    await client.request("join", room=room)
    return client, token


async def test_a_post_to_a_hook_is_the_bots_message_to_the_room(daemon: Server) -> None:
    """The hook's bot is invited (announced), a POST is a message from it, seen live by a
    member; the same key posts once; the text is checked as a send's; a wrong secret or a
    deleted hook is 404."""
    port = daemon.http_port
    with trio.fail_after(TIMEOUT):
        ann, ann_token = await member(daemon, "ann", "ops")
        await bot_of(daemon, ann_token, "ci")
        url, made = await hook(daemon, ann_token, "ops", "ci")
        assert url.startswith("/api/hooks/") and len(url) > len("/api/hooks/") + 40
        assert (made["room"], made["bot"], made["creator"]) == ("ops", "ci", "ann")
        joined = await ann.event("joined", room="ops", user="ci")
        assert joined["by"] == "ann"

        status, body = await http(port, "POST", url, {"text": "build #12 failed"})
        assert status == 201, body
        got = await ann.event("message", room="ops", seq=body["seq"])
        assert got["from"] == "ci" and got["text"] == "build #12 failed"
        assert body["msg_id"] == got["msg_id"] and body["duplicate"] is False

        status, first = await http(port, "POST", url, {"text": "deployed", "key": "d-1"})
        assert status == 201
        status, again = await http(port, "POST", url, {"text": "deployed", "key": "d-1"})
        assert status == 200 and again["duplicate"] is True and again["seq"] == first["seq"]
        status, other = await http(port, "POST", url, {"text": "deployed", "key": "d-2"})
        assert status == 201 and other["seq"] == first["seq"] + 1
        history = await ann.request("history", room="ops")
        assert [m["text"] for m in history["messages"] if m["from"] == "ci"] == [
            "build #12 failed", "deployed", "deployed"]

        for bad, why in (({"text": "x" * 4001}, "'text'"), ({"text": "   "}, "'text'"),
                         ({}, "'text'"), ({"text": "k", "key": ""}, "'key'"),
                         ({"text": "k", "key": 7}, "'key'")):
            status, body = await http(port, "POST", url, bad)
            assert status == 400 and why in body["message"], (bad, body)
        status, body = await http(port, "POST", url, raw=b"text=hi",
                                  headers=[("Content-Type", "text/plain")])
        assert status == 400
        status, body = await http(port, "POST", url[:-1] + ("A" if url[-1] != "A" else "B"),
                                  {"text": "guess"})
        assert status == 404 and body["code"] == "not_found"
        status, _ = await http(port, "GET", url)
        assert status == 405

        status, _ = await http(port, "DELETE", f"/api/rooms/ops/hooks/{made['id']}",
                               token=ann_token)
        assert status == 200
        status, _ = await http(port, "POST", url, {"text": "after"})
        assert status == 404
        await ann.aclose()


async def test_who_may_make_list_and_delete_hooks(daemon: Server) -> None:
    """Only a member, for a bot they manage; its creator and the room's owner list and
    delete it, another member sees none of it."""
    port = daemon.http_port
    with trio.fail_after(TIMEOUT):
        owner, owner_token = await member(daemon, "owner", "ops")  # made the room: owner
        ann, ann_token = await member(daemon, "ann", "ops")
        bob, bob_token = await member(daemon, "bob", "ops")
        await bot_of(daemon, ann_token, "alerts")
        outsider = await register_and_login(port, "eve")
        await bot_of(daemon, outsider, "eves-bot")

        for token, body, code in (
            (bob_token, {"bot": "alerts"}, "forbidden"),  # not bob's bot
            (ann_token, {"bot": "nobody"}, "not_found"),
            (ann_token, {"bot": "ann"}, "not_found"),  # a user, not a bot
            (ann_token, {}, "bad_request"),
            (outsider, {"bot": "eves-bot"}, "forbidden"),  # not a member of ops
        ):
            status, answer = await http(port, "POST", "/api/rooms/ops/hooks", body, token=token)
            assert answer["code"] == code, (body, answer)
        status, answer = await http(port, "POST", "/api/rooms/nowhere/hooks", {"bot": "alerts"},
                                    token=ann_token)
        assert status == 404, answer
        dm = await ann.request("dm", to="bob", text="hi", nonce="dm")
        status, answer = await http(port, "POST", f"/api/rooms/{dm['room']}/hooks",
                                    {"bot": "alerts"}, token=ann_token)
        assert status == 403, answer

        _, made = await hook(daemon, ann_token, "ops", "alerts")
        for token, expected in ((ann_token, [made["id"]]), (owner_token, [made["id"]]),
                                (bob_token, [])):
            status, listed = await http(port, "GET", "/api/rooms/ops/hooks", token=token)
            assert status == 200 and [h["id"] for h in listed["hooks"]] == expected
        assert "url" not in listed and all("url" not in h for h in listed["hooks"])
        path = f"/api/rooms/ops/hooks/{made['id']}"
        status, _ = await http(port, "DELETE", path, token=bob_token)
        assert status == 403
        status, _ = await http(port, "DELETE", path, token=owner_token)
        assert status == 200
        status, _ = await http(port, "DELETE", path, token=owner_token)
        assert status == 404
        for client in (owner, ann, bob):
            await client.aclose()


async def test_hooks_are_rate_limited_per_hook_and_per_bot(tmp_path: Path,
                                                          database_dsn: str) -> None:
    """A hook posts its burst, then 429 with Retry-After (nothing stored); a second hook of
    the same bot has its own burst, but the bot's own send rate caps both together."""
    config = make_config(tmp_path, database_dsn, limits={
        "hook_rate": 1 / LONG, "hook_burst": 2, "user_send_rate": 1 / LONG,
        "user_send_burst": 3})
    async with running(config) as server:
        port = server.http_port
        with trio.fail_after(TIMEOUT):
            ann, token = await member(server, "ann", "ops")
            await bot_of(server, token, "chatty")
            first, _ = await hook(server, token, "ops", "chatty")
            second, _ = await hook(server, token, "ops", "chatty")
            statuses = [(await http(port, "POST", first, {"text": f"a{i}"}))[0]
                        for i in range(3)]
            assert statuses == [201, 201, 429]
            status, body = await http(port, "POST", second, {"text": "b0"})
            assert status == 201
            status, body = await http(port, "POST", second, {"text": "b1"})
            assert status == 429 and body["code"] == "rate_limited" and body["retry_after"] > 0
            history = await ann.request("history", room="ops")
            assert [m["text"] for m in history["messages"] if m["from"] == "chatty"] == [
                "a0", "a1", "b0"]
            status, metrics = await http(port, "GET", "/metrics")
            assert 'chatd_rate_limited_total{limit="hook"} 2.0' in metrics.decode()
            await ann.aclose()
