"""End-to-end: bot accounts and their API tokens, over HTTP and the protocol (TCP and
WebSocket), on one node and across two, and from the `chatd bot` command.

Rules: 127.0.0.1 and port 0 only; every wait is for a state (a reply, a close, a frame),
bounded by ``trio.fail_after``; nothing sleeps for a time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import trio

from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config

TIMEOUT = 30


async def make_bot(server: Server, owner_token: str, name: str) -> tuple[dict[str, Any], str]:
    status, body = await http(server.http_port, "POST", "/api/bots", {"name": name},
                              token=owner_token)
    assert status == 201, body
    return body["bot"], body["token"]


async def test_bots_and_their_tokens_over_http(daemon: Server) -> None:
    """A user makes a bot and gets its token once; the token is a Bearer like a JWT; the
    bot has no password; listings show metadata, never a token; only the owner makes and
    revokes its tokens, and a revoked token stops at once."""
    port = daemon.http_port
    with trio.fail_after(TIMEOUT):
        ann = await register_and_login(port, "ann")
        bob = await register_and_login(port, "bob")
        bot, token = await make_bot(daemon, ann, "Helper")
        assert token.startswith("chatdbot_") and len(token) > 40
        assert bot["name"] == "Helper" and bot["owner"] == "ann"
        [first] = bot["tokens"]
        assert first["name"] == "default" and first["revoked_at"] is None

        status, me = await http(port, "GET", "/api/me", token=token)
        assert status == 200 and me["user"]["name"] == "Helper"
        status, me = await http(port, "GET", "/api/me", token=ann)  # JWTs still work
        assert status == 200 and me["user"]["name"] == "ann"
        for password in ("", "correct horse"):
            status, body = await http(port, "POST", "/api/login",
                                      {"username": "helper", "password": password})
            assert status == 401 and body["code"] == "unauthenticated"
        status, _ = await http(port, "POST", "/api/register",
                               {"username": "HELPER", "password": "correct horse"})
        assert status == 409

        status, body = await http(port, "POST", "/api/bots", {"name": "helper"}, token=bob)
        assert status == 409
        status, body = await http(port, "POST", "/api/bots", {"name": "no way"}, token=bob)
        assert status == 400 and "'name'" in body["message"]
        status, body = await http(port, "POST", "/api/bots", {"name": "subbot"}, token=token)
        assert status == 403  # a bot owns no bots

        status, body = await http(port, "POST", "/api/bots/helper/tokens", {"name": "ci"},
                                  token=bob)
        assert status == 403 and body["code"] == "forbidden"
        status, body = await http(port, "POST", "/api/bots/nobody/tokens", {}, token=ann)
        assert status == 404
        status, second = await http(port, "POST", "/api/bots/helper/tokens", {"name": "ci"},
                                    token=ann)
        assert status == 201 and second["name"] == "ci" and second["bot"] == "Helper"
        assert second["token"].startswith("chatdbot_") and second["token"] != token

        status, listed = await http(port, "GET", "/api/bots", token=ann)
        assert status == 200
        assert [(b["name"], [t["name"] for t in b["tokens"]]) for b in listed["bots"]] == [
            ("Helper", ["default", "ci"])]
        assert token not in json.dumps(listed) and second["token"] not in json.dumps(listed)
        status, listed = await http(port, "GET", "/api/bots", token=bob)
        assert status == 200 and listed == {"bots": []}

        path = f"/api/bots/helper/tokens/{first['id']}"
        status, _ = await http(port, "DELETE", path, token=bob)
        assert status == 403
        status, body = await http(port, "DELETE", path, token=ann)
        assert status == 200 and body == {}
        status, body = await http(port, "GET", "/api/me", token=token)
        assert status == 401 and body["code"] == "unauthenticated"
        status, _ = await http(port, "GET", "/api/me", token=second["token"])
        assert status == 200
        status, _ = await http(port, "DELETE", path, token=ann)  # twice: no error
        assert status == 200
        status, _ = await http(port, "DELETE", "/api/bots/helper/tokens/999999", token=ann)
        assert status == 404
        status, listed = await http(port, "GET", "/api/bots", token=ann)
        assert [t["revoked_at"] is not None for t in listed["bots"][0]["tokens"]] == [
            True, False]
        status, body = await http(port, "GET", "/api/me", token="chatdbot_forged")
        assert status == 401


async def test_a_bot_token_says_hello_and_revoking_it_ends_its_sessions(
        daemon: Server) -> None:
    """A bot's token opens sessions over TCP and WebSocket like a JWT; the bot joins and
    posts; revoking the token ends both sessions with unauthenticated, and the token opens
    no new one."""
    with trio.fail_after(TIMEOUT):
        ann = await register_and_login(daemon.http_port, "ann")
        _, token = await make_bot(daemon, ann, "poster")
        async with trio.open_nursery() as nursery:
            tcp = await Client.tcp(daemon.tcp_port)
            welcome = await tcp.hello(token)
            assert welcome["user"]["name"] == "poster"
            ws = await Client.ws(daemon.http_port, nursery)
            await ws.hello(token)
            human = await Client.tcp(daemon.tcp_port)
            await human.hello(ann)
            await human.request("join", room="news")
            await tcp.request("join", room="news")
            sent = await tcp.request("send", room="news", text="beep", nonce="b1")
            got = await human.event("message", room="news", seq=sent["seq"])
            assert got["from"] == "poster" and got["text"] == "beep"
            assert (await ws.event("message", seq=sent["seq"]))["text"] == "beep"

            [bot] = (await http(daemon.http_port, "GET", "/api/bots", token=ann))[1]["bots"]
            status, _ = await http(daemon.http_port, "DELETE",
                                   f"/api/bots/poster/tokens/{bot['tokens'][0]['id']}",
                                   token=ann)
            assert status == 200
            for client in (tcp, ws):
                await client.wait_closed()
                assert client.events[-1]["code"] == "unauthenticated"
            again = await Client.tcp(daemon.tcp_port)
            refused = await again.request("hello", token=token)
            assert refused["op"] == "error" and refused["code"] == "unauthenticated"
            assert (await human.request("ping"))["op"] == "ok"  # the user's session goes on
            for client in (again, human):
                await client.aclose()
            nursery.cancel_scope.cancel()


async def test_revoking_on_one_node_ends_the_session_on_another(tmp_path: Path,
                                                                database_dsn: str) -> None:
    """A bot connected to node B is cut off when its token is revoked through node A."""
    config = make_config(tmp_path, database_dsn)
    async with running(config) as a, running(config) as b:
        with trio.fail_after(TIMEOUT):
            ann = await register_and_login(a.http_port, "ann")
            bot, token = await make_bot(a, ann, "roamer")
            session = await Client.tcp(b.tcp_port)
            await session.hello(token)
            status, _ = await http(a.http_port, "DELETE",
                                   f"/api/bots/roamer/tokens/{bot['tokens'][0]['id']}",
                                   token=ann)
            assert status == 200
            await session.wait_closed()
            assert session.events[-1]["code"] == "unauthenticated"


def _chatd(tmp_path: Path, dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATD_")}
    env.update({"CHATD_SERVER_DATA_DIR": str(tmp_path / "data"),
                "CHATD_DATABASE_DSN": dsn})
    return subprocess.run([sys.executable, "-m", "chatd", *args], env=env,
                          capture_output=True, text=True, timeout=120)


async def test_the_bot_command(tmp_path: Path, database_dsn: str) -> None:
    """`chatd bot add NAME --owner USER` prints a token the daemon takes; `bot token` another;
    `bot list` shows them (never a token); `bot revoke` ends the bot's session on the
    running daemon."""
    config = make_config(tmp_path, database_dsn)

    async def chatd(*args: str) -> subprocess.CompletedProcess[str]:
        return await trio.to_thread.run_sync(lambda: _chatd(tmp_path, database_dsn, *args))

    async with running(config) as server:
        with trio.fail_after(120):
            await register_and_login(server.http_port, "Owner")
            missing = await chatd("bot", "add", "ci", "--owner", "nobody")
            assert missing.returncode == 1 and "nobody" in missing.stderr
            assert "Traceback" not in missing.stderr
            added = await chatd("bot", "add", "CI", "--owner", "owner")
            assert added.returncode == 0, added.stderr
            token = added.stdout.strip()
            assert token.startswith("chatdbot_") and "shown once" in added.stderr
            status, me = await http(server.http_port, "GET", "/api/me", token=token)
            assert status == 200 and me["user"]["name"] == "CI"
            taken = await chatd("bot", "add", "ci", "--owner", "owner")
            assert taken.returncode == 1 and "taken" in taken.stderr

            more = await chatd("bot", "token", "ci", "--token-name", "deploys")
            assert more.returncode == 0, more.stderr
            second = more.stdout.strip()
            session = await Client.tcp(server.tcp_port)
            await session.hello(second)

            users = await chatd("user", "list")
            rows = {line.split()[1]: line for line in users.stdout.splitlines()}
            assert rows["CI"].endswith("(bot)") and not rows["Owner"].endswith("(bot)")
            listed = await chatd("bot", "list")
            assert listed.returncode == 0, listed.stderr
            assert "CI" in listed.stdout and "Owner" in listed.stdout
            assert "deploys" in listed.stdout and "chatdbot_" not in listed.stdout
            token_id = next(line.split()[1] for line in listed.stdout.splitlines()
                            if "deploys" in line)
            revoked = await chatd("bot", "revoke", "ci", token_id)
            assert revoked.returncode == 0, revoked.stderr
            await session.wait_closed()
            assert session.events[-1]["code"] == "unauthenticated"
            status, _ = await http(server.http_port, "GET", "/api/me", token=token)
            assert status == 200
            wrong = await chatd("bot", "revoke", "ci", "999999")
            assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
