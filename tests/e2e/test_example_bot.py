"""examples/echo_bot.py, run as a person would run it (its own process, a bot token in
BOT_TOKEN) against a real daemon: it answers commands in its rooms, over the WebSocket and
the TCP port, and after its connection drops it comes back and answers what it missed, once.

Rules: 127.0.0.1 and port 0 only; every wait is for a state (a frame, the registry), bounded
by ``trio.fail_after``; nothing sleeps for a time.
"""

from __future__ import annotations

import datetime
import importlib.util
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import trio

from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.helpers import until, without_chatd_settings

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60


def load_bot() -> ModuleType:
    spec = importlib.util.spec_from_file_location("echo_bot", ROOT / "examples" / "echo_bot.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("echo_bot", module)
    spec.loader.exec_module(module)
    return module


def test_what_the_bot_answers() -> None:
    """!echo repeats, !time tells the time in UTC, !help helps, anything else is left
    alone."""
    bot = load_bot()
    now = datetime.datetime(2026, 12, 24, 18, 30, 5, tzinfo=datetime.UTC)
    assert bot.answer("!echo  hello there ", now) == "hello there"
    assert bot.answer("!time", now) == "It is 2026-12-24 18:30:05 UTC."
    assert bot.answer("!help", now) == bot.HELP
    for text in ("!echo", "!echo   ", "echo hi", "hi !time", "!times"):
        assert bot.answer(text, now) is None, text


def test_commands_to_read_again_lower_the_resume_point() -> None:
    """A refused or unacknowledged answer makes the next hello resume before its command,
    once; other rooms resume where the bot was."""
    place = load_bot().Place(seen={"a": 10, "b": 4})
    place.read_again("a", 7)
    place.read_again("a", 9)
    assert place.resume() == {"a": 6, "b": 4}
    assert place.resume() == {"a": 10, "b": 4}



@asynccontextmanager
async def bot_process(daemon: Server, token: str, log: Path, *args: str
                      ) -> AsyncIterator[trio.Process]:
    with log.open("wb") as out:
        process = await trio.lowlevel.open_process(
            [sys.executable, str(ROOT / "examples" / "echo_bot.py"),
             "--server", f"http://127.0.0.1:{daemon.http_port}", *args],
            env={**without_chatd_settings(), "BOT_TOKEN": token}, stdout=out, stderr=out)
    try:
        yield process
    finally:
        with trio.CancelScope(shield=True):
            if process.returncode is None:
                process.kill()
            await process.wait()


async def answers(client: Client, msg_id: int) -> dict[str, Any]:
    return await client.event("message", reply_to=msg_id)


@pytest.mark.parametrize("transport", ["ws", "tcp"])
async def test_the_example_bot_answers_and_comes_back(daemon: Server, tmp_path: Path,
                                                      transport: str) -> None:
    with trio.fail_after(TIMEOUT):
        ann_token = await register_and_login(daemon.http_port, "ann")
        ann = await Client.tcp(daemon.tcp_port)
        await ann.hello(ann_token)
        await ann.request("join", room="lobby")
        status, made = await http(daemon.http_port, "POST", "/api/bots", {"name": "echo"},
                                  token=ann_token)
        assert status == 201
        # In the room before it connects: once ann hears it is online, its welcome has read
        # the room, so whatever she says next reaches it live. (After a join, a command said
        # before the join's reply would come in the reply's page: the past, for the bot.)
        invited = await ann.request("invite", room="lobby", user="echo")
        assert invited["op"] == "ok", invited
        extra = ["--tcp", f"127.0.0.1:{daemon.tcp_port}"] if transport == "tcp" else []
        async with bot_process(daemon, made["token"], tmp_path / "bot.log", "--room", "lobby",
                               *extra) as process:
            await ann.event("presence", user="echo", status="online")
            sent = await ann.request("send", room="lobby", text="!echo hi there", nonce="1")
            got = await answers(ann, sent["msg_id"])
            assert got["from"] == "echo" and got["text"] == "hi there"
            assert got["quote"]["text"] == "!echo hi there"
            sent = await ann.request("send", room="lobby", text="!time", nonce="2")
            assert (await answers(ann, sent["msg_id"]))["text"].startswith("It is ")
            await ann.request("send", room="lobby", text="just talking", nonce="3")
            sent = await ann.request("send", room="lobby", text="!help", nonce="4")
            await answers(ann, sent["msg_id"])

            # Cut the bot off; what is said meanwhile is answered once it is back.
            [session] = [s for s in daemon.app.sessions
                         if s.user is not None and s.user.name == "echo"]
            session.drain()
            await until(lambda: not daemon.app.registry.is_online("echo"))
            sent = await ann.request("send", room="lobby", text="!echo while away", nonce="5")
            got = await answers(ann, sent["msg_id"])
            assert got["text"] == "while away"
            await until(lambda: daemon.app.registry.is_online("echo"))
            # A sentinel: once its answer is in, anything answered twice would be too.
            sent = await ann.request("send", room="lobby", text="!echo last", nonce="6")
            await answers(ann, sent["msg_id"])
            history = await ann.request("history", room="lobby")
            by_bot = [m["text"] for m in history["messages"] if m["from"] == "echo"]
            assert by_bot[0] == "hi there" and by_bot[1].startswith("It is ")
            assert by_bot[2:] == [load_bot().HELP, "while away", "last"]
            assert process.returncode is None

            # A revoked token sends it away for good.
            status, _ = await http(daemon.http_port, "DELETE",
                                   f"/api/bots/echo/tokens/{made['bot']['tokens'][0]['id']}",
                                   token=ann_token)
            assert status == 200
            assert await process.wait() == 1
        assert "refused the token" in (tmp_path / "bot.log").read_text()
        await ann.aclose()

