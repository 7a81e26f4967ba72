"""The terminal client's /dnd and its bell while notifications are paused: in memory on a
fake link (as tests/client/test_commands.py), then a real client process on a pty against a
real daemon, the user's other device being the tests' protocol client.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import trio
import trio.testing

from chatd.client.render import dnd_text
from chatd.client.session import RoomInfo
from chatd.config import Config
from chatd.protocol import Answer, DndChanged, MessagePosted, SetDnd
from tests.client.test_changes import Plain
from tests.client.test_commands import Session
from tests.client.test_terminal import client_on_pty, config, log_in, party  # noqa: F401
from tests.client.wire import Client, register_and_login
from tests.e2e.conftest import running
from tests.helpers import now_ms

HOUR = 3_600_000
TIME = r"\d\d:\d\d"


def _message(room: str = "@ann:bob", **fields: Any) -> MessagePosted:
    base: dict[str, Any] = {"room": room, "seq": 1, "msg_id": 1, "sender": "bob",
                            "text": "hi", "ts": 1, "nonce": "n"}
    return MessagePosted(**{**base, **fields})


async def _ask(s: Session, line: str, until: int | None) -> SetDnd:
    """Type ``line``; the request it sent, answered ``ok`` with ``until``."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(s.line, line)
        await trio.testing.wait_all_tasks_blocked()
        request = s.last()
        await s.event(Answer(id=request.id, fields={"until": until}))
    assert isinstance(request, SetDnd)
    return request


def test_the_line_says_until_when_in_local_time() -> None:
    """Today: "until 14:30"; tomorrow: "until tomorrow 08:00"; later: the weekday; none or
    past: on."""
    def at(day: int, hour: int, minute: int) -> int:
        """2026-12-``day`` ``hour``:``minute``, local time, in ms."""
        return int(time.mktime((2026, 12, day, hour, minute, 0, 0, 0, -1)) * 1000)

    now = at(7, 22, 15)  # a Monday
    assert dnd_text(at(7, 23, 30), now) == "notifications paused until 23:30"
    assert dnd_text(at(8, 8, 0), now) == "notifications paused until tomorrow 08:00"
    assert dnd_text(at(9, 8, 0), now) == "notifications paused until Wed 08:00"
    assert dnd_text(None, now) == dnd_text(now, now) == "notifications are on"


async def test_dnd_asks_shows_and_refuses() -> None:
    """/dnd 30m asks the server for 1800 s, /dnd off for a resume; the reply is shown once
    whether its event comes first or after; /dnd alone says the state; mistakes send
    nothing."""
    s = Session()
    await s.line("/dnd")
    assert s.lines()[-1] == "-- notifications are on; /dnd 1h pauses them"
    until = now_ms() + HOUR // 2
    assert await _ask(s, "/dnd 30m", until) == SetDnd(id=1, duration=1800)
    await s.event(DndChanged(until=until))  # its event, after the reply: nothing more
    assert s.lines()[-1].startswith("-- notifications paused until ")
    assert len([line for line in s.lines() if "paused until" in line]) == 1
    await s.line("/dnd")
    assert s.lines()[-1].endswith("; /dnd off resumes them")
    await s.event(DndChanged(until=None))  # another device resumed, before our /dnd off
    assert s.lines()[-1] == "-- notifications are on"
    assert await _ask(s, "/dnd off", None) == SetDnd(id=2, until=None)
    assert s.lines()[-1] == "-- notifications are on"
    assert s.last().wire() == {"op": "set_dnd", "id": 2, "until": None}
    sent = len(s.link.sent)
    for line in ("/dnd soon", "/dnd 8d", "/dnd 0m", "/dnd 1h 2h"):
        await s.line(line)
    assert len(s.link.sent) == sent
    assert s.lines()[-4:] == ["!! usage: /dnd [30m|1h|2h|8h|1d|off]", "!! /dnd: from 1s to 7d",
                              "!! /dnd: from 1s to 7d", "!! usage: /dnd [30m|1h|2h|8h|1d|off]"]


async def test_the_bell_is_silent_while_paused() -> None:
    """With --bell, a DM rings; not while paused (by the server's clock as the client
    reckons it); again once resumed or once the pause's time has passed."""
    s = Session()
    s.client.rooms["@ann:bob"] = RoomInfo(kind="dm", peer="bob")
    s.client.options = dataclasses.replace(s.client.options, bell=True)
    assert s.client.rings_for(_message())
    await s.event(DndChanged(until=now_ms() + HOUR))
    assert not s.client.rings_for(_message())
    assert not s.client.rings_for(_message(room="general", mentions=("ann",)))
    await s.post("bob", "shh", room="@ann:bob")
    assert s.out.getvalue().count("\a") == 0
    s.client.clock_offset = 2 * HOUR  # the server's clock is two hours ahead of ours
    assert s.client.rings_for(_message())
    s.client.clock_offset = 0
    await s.event(DndChanged(until=None))
    assert s.client.rings_for(_message())
    await s.post("bob", "ring", room="@ann:bob")
    assert s.out.getvalue().count("\a") == 1


async def test_dnd_from_the_terminal(tmp_path: Path, config: Config) -> None:  # noqa: F811
    """A pause set on ann's phone before she starts the client is said at the start; /dnd
    off resumes it (the phone is told); the phone's next pause is shown; while it holds,
    bob's DM does not ring (--bell), and after /dnd off his next one does."""
    async with running(config) as server, trio.open_nursery() as nursery:
        bob = await party(nursery, server, "bob", "general")
        phone = await Client.ws(server.http_port, nursery)
        await phone.hello(await register_and_login(server.http_port, "ann"))
        until = (await phone.request("set_dnd", duration=3600))["until"]
        async with client_on_pty(tmp_path, server.http_port, "ann", "--bell") as pty:
            await log_in(pty)
            term = Plain(pty)
            await term.expect(rf"-- notifications paused until (tomorrow )?{TIME} "
                              r"\(/dnd off resumes them\)")
            await term.expect(r"-- you are in no room yet")
            await bob.request("dm", to="ann", text="are you there", nonce="d1")
            await term.expect(r"bob: are you there\n")
            await term.type("/dnd off")
            await term.expect(r"-- notifications are on\n")
            # (a bell is written after its message's line: counted once a later line is out)
            assert pty.raw.count(b"\a") == 0
            assert await phone.event("dnd", until=None)
            await bob.request("dm", to="ann", text="now?", nonce="d2")
            await term.expect(r"bob: now\?\n")
            await phone.request("set_dnd", until=until)
            await term.expect(rf"-- notifications paused until (tomorrow )?{TIME}\n")
            assert pty.raw.count(b"\a") == 1
            await term.type("/dnd")
            await term.expect(r"; /dnd off resumes them")
        await phone.aclose()
        await bob.aclose()
        nursery.cancel_scope.cancel()
