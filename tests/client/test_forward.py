"""The terminal client and forwards: /forward, how a forwarded message prints; in memory
(tests/client/test_commands.py's :class:`Session`, a client on a fake link fed events by
hand), then against a real daemon on a pty.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trio

from chatd.config import Config
from chatd.protocol import Forward
from tests.client.test_changes import ann_with_bob
from tests.client.test_commands import Session
from tests.client.test_terminal import STAMPED
from tests.e2e.conftest import running
from tests.helpers import make_config


@pytest.fixture
def config(tmp_path: Path, database_dsn: str) -> Config:
    return make_config(tmp_path, database_dsn, server={"grace_period": 3.0})


async def test_forward_sends_the_request_by_number() -> None:
    """/forward N #room COMMENT forwards message [N] to a room with the comment; @bob and
    @bob,carol to a conversation (``to``); a bad number, no target or no such message sends
    nothing and says how."""
    s = Session()
    message = await s.post("bob", "the build is green")
    await s.line("/forward 1 #news look at this")
    sent = s.last()
    assert isinstance(sent, Forward) and sent.room == "general"
    assert (sent.msg_id, sent.to_room, sent.to, sent.text) == (
        message.msg_id, "news", None, "look at this")
    assert sent.nonce
    await s.line("/forward [1] @carol")
    sent = s.last()
    assert isinstance(sent, Forward) and (sent.to, sent.to_room, sent.text) == (
        "carol", None, "")
    await s.line("/forward 1 @carol,dan FYI")
    sent = s.last()
    assert isinstance(sent, Forward) and sent.to == ("carol", "dan") and sent.text == "FYI"
    count = len(s.link.sent)
    for line in ("/forward", "/forward 1", "/forward x #news"):
        await s.line(line)
        assert s.lines()[-1].startswith("!! usage: /forward N"), line
    await s.line("/forward 9 #news")
    assert "no message [9]" in s.lines()[-1]
    assert len(s.link.sent) == count


async def test_a_forward_prints_what_it_forwards_under_its_comment() -> None:
    """A forward prints its comment, then ``↪ ann (#general): text`` (the room only when
    told); without a comment the ↪ line is the message's line."""
    s = Session()
    await s.post("bob", "FYI", forwarded={"from": "ann", "ts": 1, "text": "the build\nis green",
                                          "room": "general", "seq": 4})
    shown = s.lines()[-2:]
    assert shown[0].endswith("[general] bob: FYI")
    assert shown[1].strip() == "↪ ann (#general): the build is green"
    await s.post("bob", "", forwarded={"from": "ann", "ts": 1, "text": "secret",
                                       "room": None, "seq": None})
    assert s.lines()[-1].endswith("[general] bob: ↪ ann: secret")


async def test_forward_with_a_real_daemon(tmp_path: Path, config: Config) -> None:
    """ann forwards bob's message of [general] into a conversation with bob, with a comment:
    the forward comes back there, its comment then what it forwards."""
    async with running(config) as server, trio.open_nursery() as nursery, \
            ann_with_bob(tmp_path, server, nursery) as (term, bob):
        await bob.request("send", room="general", text="release at noon", nonce="b1")
        number = (await term.expect(rf"\[(\d+)\] {STAMPED} \[general\] bob: release at "
                                    r"noon\n")).group(1)
        await term.type(f"/forward {number} @bob heads up")
        await term.expect(r"ann: heads up\n")
        await term.expect(re.escape("↪ bob (#general): release at noon") + r"\n")
        event = await bob.event("message", text="heads up")
        assert event["forwarded"]["text"] == "release at noon"
        await bob.aclose()
