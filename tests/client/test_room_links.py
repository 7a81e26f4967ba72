"""The terminal client and join links and reminders for others: /link, /links, /unlink,
/join-link, /remind @USER, /reminders [on|off], /unremind, and the line a reminder someone
else set prints; in memory (tests/client/test_commands.py's :class:`Session`).
"""

from __future__ import annotations

import dataclasses
import re

import trio
import trio.testing

from chatd.protocol import (
    AllowReminders,
    CancelReminder,
    CreateRoomLink,
    JoinAccepted,
    JoinLink,
    MessagePosted,
    Remind,
    RemindersSet,
    Request,
    RevokeRoomLink,
    RoomLinks,
    SavedChanged,
)
from tests.client.test_commands import Session
from tests.client.test_pins import _asked
from tests.client.test_terminal import WAIT

TOKEN = "k3J9dWq2x7Yb0Zr5Tn8Lp1Vc4Hs6Mg2A"
LINK = {"id": 3, "room": "general", "by": "ann", "created_at": 1_767_225_600_000,
        "expires_at": 1_767_312_000_000, "max_uses": 5, "uses": 1, "revoked_at": None,
        "state": "valid"}


async def _answered(s: Session, line: str, reply: JoinAccepted) -> Request:
    """Type ``line``; answer the request it sent with ``reply`` (its id set); the request."""
    with trio.fail_after(WAIT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(s.line, line)
            await trio.testing.wait_all_tasks_blocked()
            request = s.last()
            await s.event(dataclasses.replace(reply, id=request.id))
    return request


async def test_link_makes_one_and_shows_it_once() -> None:
    """/link asks for a link to the current room (uses and days as typed) and prints the
    link (the server's address, #join= and the token) and the /join-link line; /links lists
    them; /unlink ID revokes; usage mistakes send nothing."""
    s = Session()
    asked = await _asked(s, "/link 5 1", {"link": LINK, "token": TOKEN})
    assert asked == CreateRoomLink(id=1, room="general", uses=5, expires_in=86400)
    assert s.lines()[-2] == f"-- a join link to [general]: http://127.0.0.1:9/#join={TOKEN}"
    assert s.lines()[-1].endswith(f"in the terminal: /join-link {TOKEN}")
    asked = await _asked(s, "/link", {"link": LINK, "token": TOKEN,
                                      "url": f"https://chat.example.org/#join={TOKEN}"})
    assert asked == CreateRoomLink(id=2, room="general")
    assert s.lines()[-2].endswith(f"https://chat.example.org/#join={TOKEN}")
    asked = await _asked(s, "/links", {"room": "general", "links": [LINK], "more": False,
                                       "all": True})
    assert asked == RoomLinks(id=3, room="general")
    assert re.fullmatch(r"--   #3 by ann: 1/5 used, valid, until .*", s.lines()[-1])
    asked = await _asked(s, "/unlink #3", {"link": {**LINK, "state": "revoked"}})
    assert asked == RevokeRoomLink(id=4, link=3)
    sent = len(s.link.sent)
    for line in ("/link many", "/link 1 2 3", "/unlink", "/unlink x", "/join-link",
                 "/join-link short"):
        await s.line(line)
    assert len(s.link.sent) == sent


async def test_join_link_joins_and_switches() -> None:
    """/join-link takes the token alone or the whole link; the answer is a join's: the
    room becomes the current one, its messages shown."""
    s = Session()
    message = MessagePosted(room="staff", seq=1, msg_id=50, sender="ann", text="welcome",
                            ts=1_732_700_000_000, nonce="w")
    reply = JoinAccepted(room="staff", last_seq=1, messages=[message], more=False,
                         private=True, topic="the staff room")
    asked = await _answered(s, f"/join-link https://chat.example.org/#join={TOKEN}", reply)
    assert asked == JoinLink(id=1, token=TOKEN)
    assert s.client.current == "staff"
    assert any("joined [staff] - the staff room" in line for line in s.lines())
    asked = await _answered(s, f"/join-link {TOKEN}", reply)
    assert asked == JoinLink(id=2, token=TOKEN)


async def test_remind_someone_else() -> None:
    """/remind @bob WHEN TEXT (and Slack's "to") asks remind with user; /reminders lists
    what was set for others with numbers, /unremind N cancels; /reminders off|on sets
    whether others may remind; the saved event of a reminder someone set says who."""
    s = Session()
    asked = await _asked(s, "/remind @bob in 20m send the report",
                         {"room": "@ann:bob", "seq": 1, "msg_id": 70, "ts": 1,
                          "remind_at": 1_767_225_600_000, "user": "Bob"})
    assert isinstance(asked, Remind) and asked.user == "bob"
    assert asked.text == "send the report"
    assert s.lines()[-1].startswith("-- Bob will be reminded ")
    asked = await _asked(s, "/remind @bob to in 1h call", {"room": "@ann:bob", "user": "Bob"})
    assert isinstance(asked, Remind) and (asked.user, asked.text) == ("bob", "call")
    item = {"room": "@ann:bob", "msg_id": 70, "ts": 1, "remind_at": 1_767_225_600_000,
            "reminded": False, "user": "Bob",
            "message": {"op": "message", "room": "@ann:bob", "seq": 1, "msg_id": 70,
                        "from": "ann", "text": "send the report", "ts": 1, "nonce": "n"}}
    asked = await _asked(s, "/reminders", {"items": [item], "more": False})
    assert asked == RemindersSet(id=3)
    assert s.lines()[-1].startswith("--   1. for Bob: send the report (")
    asked = await _asked(s, "/unremind 1", {"user": "Bob", "room": "@ann:bob", "msg_id": 70})
    assert asked == CancelReminder(id=4, user="Bob", msg_id=70)
    assert s.lines()[-1] == "-- the reminder for Bob is cancelled"
    asked = await _asked(s, "/reminders off", {"on": False})
    assert asked == AllowReminders(id=5, on=False)
    assert s.lines()[-1] == "-- others cannot set reminders for you any more"
    await s.event(SavedChanged(room="@ann:bob", msg_id=71, on=True,
                               remind_at=1_767_225_600_000, ts=2, set_by="bob"))
    assert s.lines()[-1].startswith("-- bob set a reminder for you: [@bob] #71")
    sent = len(s.link.sent)
    for line in ("/remind @ in 1h x", "/remind @bob", "/unremind 9", "/reminders maybe"):
        await s.line(line)
    assert len(s.link.sent) == sent
