"""The terminal client and pinned messages: /pin N, /unpin N, /pins [ROOM], and what the
session prints for the ``pinned`` entries; in memory (tests/client/test_commands.py's
:class:`Session`, a client on a fake link fed events by hand), then against a real daemon on a
pty.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from chatd.client.commands import COMMANDS
from chatd.client.terminal import room_summary
from chatd.config import Config
from chatd.protocol import (
    Answer,
    Error,
    MessageDeleted,
    MessagePinned,
    Pin,
    Pins,
    Request,
    Sent,
)
from tests.client.test_changes import ann_with_bob
from tests.client.test_commands import Session
from tests.client.test_terminal import STAMPED, WAIT
from tests.e2e.conftest import running
from tests.helpers import make_config


@pytest.fixture
def config(tmp_path: Path, database_dsn: str) -> Config:
    return make_config(tmp_path, database_dsn, server={"grace_period": 3.0})


async def test_pin_and_unpin_by_number() -> None:
    """/pin N and /unpin N send the change for message [N], in its room; the entry prints
    who did it and the message's first words, and the message then shows it is pinned; a
    bad number, a deleted message or no number sends nothing."""
    s = Session()
    agenda = await s.post("bob", "agenda: **release** on Friday", room="random")
    await s.line("/pin 1")
    assert s.last() == Pin(id=1, room="random", msg_id=agenda.msg_id, on=True)
    await s.event(Sent(id=1, room="random", seq=2, msg_id=agenda.msg_id, ts=2))
    await s.event(MessagePinned(room="random", seq=2, msg_id=agenda.msg_id, by="ann", on=True,
                                ts=2))
    assert s.lines()[-1] == "[random] ann pinned [1]: agenda: **release** on Friday"
    held = s.client.messages.get("random", agenda.msg_id)
    assert held is not None and held.pinned == {"by": "ann", "ts": 2, "seq": 2}
    s.client.show(held)
    assert s.lines()[-1].endswith("on Friday (pinned by ann)")

    await s.line("/unpin [1]")
    assert s.last() == Pin(id=2, room="random", msg_id=agenda.msg_id, on=False)
    await s.event(MessagePinned(room="random", seq=3, msg_id=agenda.msg_id, by="bob",
                                on=False, ts=3))
    assert s.lines()[-1] == "[random] bob unpinned [1]: agenda: **release** on Friday"
    await s.event(MessagePinned(room="random", seq=3, msg_id=agenda.msg_id, by="bob",
                                on=False, ts=3))  # a repeat prints nothing
    assert s.lines()[-1] == "[random] bob unpinned [1]: agenda: **release** on Friday"

    gone = await s.post("bob", "oops")
    await s.event(MessageDeleted(room="general", seq=gone.seq + 1, msg_id=gone.msg_id,
                                 by="bob", ts=5))
    sent = len(s.link.sent)
    for line, problem in (("/pin 2", "!! /pin: [2] is deleted"),
                          ("/pin 9", "!! /pin: no message [9] (the numbers are those shown "
                                     "before the messages)"),
                          ("/unpin", "!! usage: /unpin N (the number shown before the "
                                     "message)")):
        await s.line(line)
        assert s.lines()[-1] == problem
    assert len(s.link.sent) == sent


async def test_pin_entries_for_messages_not_held_still_tell() -> None:
    """A pin of a message this client does not hold (older than what it read) is told with
    where to look; an unchanged pin is told as such; too_many_pins is shown and dropped."""
    s = Session()
    await s.event(MessagePinned(room="general", seq=40, msg_id=7, by="bob", on=True, ts=1))
    assert s.lines()[-1] == \
        "[general] bob pinned a message (/pins general lists the pinned ones)"
    message = await s.post("bob", "rota")
    await s.line("/pin 1")
    await s.event(Sent(id=1, room="general", seq=1, msg_id=message.msg_id, ts=1,
                       unchanged=True))
    assert s.lines()[-1] == "-- /pin [1]: nothing to change"
    await s.line("/pin 1")
    await s.event(Error(id=2, code="too_many_pins",
                        message="'general' has 100 pinned messages, the most it may have: "
                                "unpin one first"))
    assert "unpin one first" in s.lines()[-1]
    assert s.client.pending == {}  # refused for good: not kept to send again


async def _asked(s: Session, line: str, fields: dict[str, Any]) -> Request:
    """Type ``line``, a command that waits for its answer; answer its request with
    ``fields``; the request."""
    with trio.fail_after(WAIT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(s.line, line)
            await trio.testing.wait_all_tasks_blocked()
            request = s.last()
            await s.event(Answer(id=request.id, fields=fields))
    return request


async def test_pins_lists_the_pinned_messages_with_numbers() -> None:
    """/pins asks for the current room's pins, /pins ROOM another's; the messages are shown
    with numbers (so /unpin N works on them), and /pins more asks for the next page from the
    last one's pin seq."""
    s = Session()
    wire = {"op": "message", "room": "general", "seq": 5, "msg_id": 105, "from": "bob",
            "text": "wifi: hunter2", "ts": 1_732_700_000_000, "nonce": "b5", "rev": 9,
            "pinned": {"by": "cid", "ts": 1_732_700_000_900, "seq": 9}}
    asked = await _asked(s, "/pins", {"room": "general", "messages": [wire], "more": True,
                                      "last_seq": 9})
    assert asked == Pins(id=1, room="general", limit=20)
    assert s.lines()[-3] == "-- pinned in [general], the latest first:"
    assert re.fullmatch(r"\[1\] \d\d:\d\d \[general\] bob: wifi: hunter2 \(pinned by cid\)",
                        s.lines()[-2])
    assert s.lines()[-1] == "-- /pins more for the ones pinned before"
    asked = await _asked(s, "/pins more", {"room": "general", "messages": [], "more": False})
    assert asked == Pins(id=2, room="general", before=9, limit=20)
    assert s.lines()[-1] == "-- no more pinned messages in [general]"
    await s.line("/pins more")
    assert s.lines()[-1] == "!! /pins more: no list of pins has more; /pins [ROOM]"
    await s.line("/unpin 1")
    assert s.last() == Pin(id=3, room="general", msg_id=105, on=False)
    asked = await _asked(s, "/pins @bob", {"room": "@ann:bob", "messages": [], "more": False})
    assert asked == Pins(id=4, room="@ann:bob", limit=20)
    assert s.lines()[-1] == "-- no pinned messages in [@bob]; /pin N pins message [N]"


def test_help_names_the_pin_commands() -> None:
    """/help lists /pin, /unpin and /pins."""
    assert {"pin", "unpin", "pins"} <= set(COMMANDS)
    assert COMMANDS["pins"].usage.startswith("/pins")


async def test_pins_with_a_real_daemon(tmp_path: Path, config: Config) -> None:
    """ann pins bob's message from the terminal client by its number; bob (a WebSocket
    client) gets the pinned entry; bob's unpin is printed in ann's terminal; /pins lists
    what is pinned."""
    async with running(config) as server, trio.open_nursery() as nursery:
        async with ann_with_bob(tmp_path, server, nursery) as (term, bob):
            agenda = await bob.request("send", room="general", text="agenda for monday",
                                       nonce="b1")
            number = (await term.expect(rf"\[(\d+)\] {STAMPED} \[general\] bob: agenda for "
                                        r"monday\n")).group(1)
            await term.type(f"/pin {number}")
            pinned = await bob.event("pinned", room="general", msg_id=agenda["msg_id"])
            assert (pinned["by"], pinned["on"]) == ("ann", True)
            await term.expect(rf"\[general\] ann pinned \[{number}\]: agenda for monday\n")
            await term.type("/pins")
            await term.expect(r"-- pinned in \[general\], the latest first:\n")
            await term.expect(rf"\[{number}\] {STAMPED} \[general\] bob: agenda for monday "
                              r"\(pinned by ann\)\n")
            await bob.request("pin", room="general", msg_id=agenda["msg_id"], on=False)
            await term.expect(rf"\[general\] bob unpinned \[{number}\]: agenda for monday\n")
            await term.type("/pins")
            await term.expect(r"-- no pinned messages in \[general\]")
        await bob.aclose()
        nursery.cancel_scope.cancel()


def test_the_room_list_says_how_many_are_pinned() -> None:
    """/rooms and the welcome's list say how many messages a room has pinned, when any."""
    assert room_summary({"unread": 2, "pins": 3}, "general") == \
        "general (2 unread) (3 pinned)"
    assert room_summary({"pins": 0}, "general") == "general"
    assert room_summary({"pins": True}, "general") == "general"


async def test_a_deletion_that_took_a_pin_says_so() -> None:
    """A ``deleted`` entry with ``unpinned`` says the message left the pins: after the
    message's line when it is held, on a line of its own when it is not; one without says
    nothing of pins."""
    s = Session()
    agenda = await s.post("bob", "agenda", room="random")
    await s.event(MessagePinned(room="random", seq=agenda.seq + 1, msg_id=agenda.msg_id,
                                by="ann", on=True, ts=2))
    await s.event(MessageDeleted(room="random", seq=agenda.seq + 2, msg_id=agenda.msg_id,
                                 by="ann", ts=3, unpinned=True))
    assert s.lines()[-1].endswith("bob: [deleted] (by ann) (it was pinned: it left the pins)")
    plain = await s.post("bob", "plain", room="random")
    await s.event(MessageDeleted(room="random", seq=plain.seq + 1, msg_id=plain.msg_id,
                                 by="bob", ts=4))
    assert s.lines()[-1].endswith("bob: [deleted]")
    await s.event(MessageDeleted(room="random", seq=90, msg_id=7, by="bob", ts=5,
                                 unpinned=True))
    assert s.lines()[-1] == "[random] bob deleted a pinned message (it left the pins)"
