"""The terminal client's commands for changes (/edit, /delete, /react, /reply) and what its
session does with the entries that come back, in memory: a :class:`ChatClient` on a fake link
that keeps the requests sent, fed the server's events by hand.

The same client against a real daemon is in tests/client/test_changes.py.
"""

from __future__ import annotations

import io
import itertools
import re
from types import SimpleNamespace
from typing import Any, cast

import pytest
import trio
import trio.testing

from chatd.client.commands import handle_line, message_number, reaction_emoji
from chatd.client.link import Endpoint, Link
from chatd.client.session import ChatClient, ClientOptions
from chatd.client.terminal import LineReader, Screen
from chatd.protocol import (
    Answer,
    Delete,
    Edit,
    Gap,
    History,
    HistoryPage,
    MessageEdited,
    MessagePosted,
    React,
    ReactionChanged,
    ReadMoved,
    Request,
    Send,
    Sent,
    ServerEvent,
    Unread,
)


class FakeLink:
    """Stands for a welcomed link: it numbers requests and keeps them."""

    def __init__(self) -> None:
        self.sent: list[Request] = []
        self.conn = SimpleNamespace(next_id=itertools.count(1).__next__)

    async def send(self, request: Request) -> None:
        self.sent.append(request)


class Session:
    """A client of ann's in [general], on a fake link, printing into ``out``."""

    def __init__(self, *, interactive: bool = True) -> None:
        self.out = io.StringIO()
        options = ClientOptions(endpoint=Endpoint.parse("http://127.0.0.1:9"), user="ann",
                                interactive=interactive)
        self.client = ChatClient(options, "pw", Screen(self.out), cast(LineReader, None))
        self.link = FakeLink()
        self.client.link = cast(Link, self.link)
        self.client.current = "general"
        self.seq = itertools.count(1)

    async def line(self, text: str) -> None:
        await handle_line(self.client, text)

    async def event(self, event: ServerEvent) -> None:
        await self.client._dispatch(event)

    async def post(self, sender: str, text: str, room: str = "general", **fields: Any
                   ) -> MessagePosted:
        seq = next(self.seq)
        message = MessagePosted(room=room, seq=seq, msg_id=100 + seq, sender=sender, text=text,
                                ts=1_732_700_000_000, nonce=f"n{seq}", **fields)
        await self.event(message)
        return message

    def last(self) -> Request:
        return self.link.sent[-1]

    def lines(self) -> list[str]:
        return self.out.getvalue().splitlines()


def test_message_numbers_and_emoji_as_typed() -> None:
    """A message is named 3, [3] or #3; a reaction is one emoji or a :shortcode:."""
    assert [message_number(w) for w in ("3", "[3]", "#3", "[#12]", "x", "3x", "", "-1")] == \
        [3, 3, 3, 12, None, None, None, None]
    assert reaction_emoji(":thumbsup:") == reaction_emoji(":+1:") == reaction_emoji("👍") == "👍"
    assert reaction_emoji("❤") == reaction_emoji("❤️") == "❤️"
    assert reaction_emoji("👍🏽") == "👍🏽"
    assert reaction_emoji("ok") is None and reaction_emoji(":No pe:") is None
    assert reaction_emoji("👍👍") is None


async def test_messages_are_shown_with_their_numbers() -> None:
    """Each message shown gets the next number, one counter across rooms."""
    s = Session()
    await s.post("bob", "in general")
    await s.post("bob", "elsewhere", room="random")
    assert re.match(r"\[1\] \d\d:\d\d \[general\] bob: in general$", s.lines()[0])
    assert re.match(r"\[2\] \d\d:\d\d \[random\] bob: elsewhere$", s.lines()[1])


async def test_edit_by_number_and_my_last() -> None:
    """/edit N TEXT edits message [N]; /edit TEXT my last message in the current room;
    /edit N prints its text to copy; another's message or an unknown number is refused
    here, with nothing sent."""
    s = Session()
    mine = await s.post("ann", "frist")
    await s.post("ann", "elsewhere", room="random")
    theirs = await s.post("bob", "hello")
    await s.line("/edit 1 first")
    assert s.last() == Edit(id=1, room="general", msg_id=mine.msg_id, text="first")
    await s.line("/edit first!")
    assert s.last() == Edit(id=2, room="general", msg_id=mine.msg_id, text="first!")
    await s.line("/edit [1]")
    assert s.lines()[-2:] == ["-- [1] reads: frist", "-- /edit 1 NEW TEXT replaces it"]
    sent = len(s.link.sent)
    await s.line("/edit 3 mine now")
    await s.line("/edit 9 what")
    await s.line("/edit")
    assert len(s.link.sent) == sent
    assert s.lines()[-3:] == [
        "!! /edit: [3] is bob's; only its author can edit it",
        "!! /edit: no message [9] (the numbers are those shown before the messages)",
        "!! usage: /edit N TEXT, or /edit TEXT for your last message",
    ]
    assert theirs.msg_id == 103


async def test_edit_of_my_last_waits_for_my_send() -> None:
    """/edit TEXT right after a message was typed edits that message, once it is stored,
    not the one before it."""
    s = Session(interactive=False)
    await s.post("ann", "older")
    await s.line("tpyo")
    send = s.last()
    assert isinstance(send, Send)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(s.line, "/edit typo")
        await trio.testing.wait_all_tasks_blocked()
        assert s.last() == send
        await s.event(Sent(id=send.id, room="general", seq=2, msg_id=500, ts=1))
    assert s.last() == Edit(id=2, room="general", msg_id=500, text="typo")


async def test_delete_asks_for_the_bang() -> None:
    """/delete N shows the message and asks for /delete N!, which deletes it."""
    s = Session()
    await s.post("bob", "oops")
    await s.line("/delete 1")
    assert s.link.sent == []
    assert s.lines()[-1] == "-- /delete 1! deletes it, for everyone"
    await s.line("/delete 1!")
    assert s.last() == Delete(id=1, room="general", msg_id=101)
    await s.line("/delete x!")
    assert s.lines()[-1] == "!! usage: /delete N, then /delete N! to delete message [N]"


async def test_react_toggles() -> None:
    """/react N EMOJI puts the reaction, or takes it back when mine is on (any form of it)."""
    s = Session()
    message = await s.post("bob", "lunch?")
    await s.line("/react 1 👍")
    assert s.last() == React(id=1, room="general", msg_id=message.msg_id, emoji="👍", on=True)
    await s.event(ReactionChanged(room="general", seq=2, msg_id=message.msg_id, emoji="👍",
                                  user="ann", on=True, ts=2))
    assert re.search(r"\[1\] \d\d:\d\d \[general\] bob: lunch\?  👍 1  \(ann reacted 👍\)$",
                     s.lines()[-1])
    await s.line("/react 1 :thumbsup:")
    assert s.last() == React(id=2, room="general", msg_id=message.msg_id, emoji="👍", on=False)
    await s.line("/react 1 nope")
    assert s.lines()[-1] == "!! /react: 'nope' is not one emoji"


async def test_reply_goes_to_the_room_of_the_message() -> None:
    """/reply N TEXT answers [N] in its room, whichever room is current; the reply is shown
    under a line naming the message it answers."""
    s = Session()
    await s.post("bob", "anyone for lunch?", room="random")
    await s.line("/reply 1 me!")
    send = s.last()
    assert isinstance(send, Send)
    assert (send.room, send.text, send.reply_to) == ("random", "me!", 101)
    await s.event(Sent(id=send.id, room="random", seq=2, msg_id=102, ts=1))
    assert s.lines()[-2] == "      ↳ re [1] bob: anyone for lunch?"
    assert re.match(r"\[2\] \d\d:\d\d \[random\] ann: me!$", s.lines()[-1])


async def test_my_message_is_printed_once_whichever_comes_first() -> None:
    """My message is printed once, by its ack, whether its own event comes before or
    after; a change comes back as an entry and prints the message as it is now."""
    s = Session()
    for text, echo_first in (("one", True), ("two", False)):
        await s.line(text)
        send = s.last()
        assert isinstance(send, Send)
        seq = next(s.seq)
        echo = MessagePosted(room="general", seq=seq, msg_id=100 + seq, sender="ann",
                             text=text, ts=1, nonce=send.nonce)
        ack = Sent(id=send.id, room="general", seq=seq, msg_id=100 + seq, ts=1)
        for event in (echo, ack) if echo_first else (ack, echo):
            await s.event(event)
    assert len([x for x in s.lines() if re.search(r"\] ann: one$", x)]) == 1
    assert len([x for x in s.lines() if re.search(r"\] ann: two$", x)]) == 1
    edited = MessageEdited(room="general", seq=3, msg_id=101, text="uno", sender="ann", ts=3)
    await s.event(edited)
    await s.event(edited)
    assert re.match(r"\[1\] \d\d:\d\d \[general\] ann: uno \(edited\)$", s.lines()[-1])
    assert len([x for x in s.lines() if "uno" in x]) == 1


async def test_live_entries_after_a_gap_wait_for_its_pages() -> None:
    """After a gap, the live entries that follow it are applied after the gap's page: an
    edit in the gap is not hidden by a later reaction that came first."""
    s = Session()
    message = await s.post("bob", "draft")  # seq 1
    await s.event(Gap(room="general", after=1, last_seq=2))
    history = s.last()
    assert history == History(id=1, room="general", after=1, limit=500)
    await s.event(ReactionChanged(room="general", seq=3, msg_id=message.msg_id, emoji="🎉",
                                  user="cid", on=True, ts=3))
    edit = MessageEdited(room="general", seq=2, msg_id=message.msg_id, text="final",
                         sender="bob", ts=2)
    await s.event(HistoryPage(id=1, room="general", messages=[edit], more=False, last_seq=3))
    held = s.client.messages.get("general", message.msg_id)
    assert held is not None
    assert (held.text, held.rev, held.reactions) == ("final", 3, (("🎉", ("cid",)),))
    assert s.lines()[-2].endswith("bob: final (edited)")
    assert s.lines()[-1].endswith("bob: final  🎉 1  (cid reacted 🎉)")


@pytest.mark.parametrize("line", ["/edit 1 x", "/react 1 👍", "/delete 1!"])
async def test_a_change_waits_for_the_connection(line: str) -> None:
    """A change typed while not connected is kept and sent after the welcome."""
    s = Session()
    await s.post("ann", "hi")
    s.client.link = None
    await s.line(line)
    assert s.lines()[-1].endswith(": not connected; sent once reconnected")
    assert [type(p.request) for p in s.client.pending.values()] == \
        [{"/edit": Edit, "/react": React, "/delete": Delete}[line.split()[0]]]


async def test_unread_marks_the_room_of_message_n_unread_from_it() -> None:
    """/unread N asks to mark [N]'s room unread from [N] on (whichever room is current) and
    says the counts the server answers; a bad or unknown number sends nothing."""
    s = Session()
    await s.post("bob", "one", room="random")
    second = await s.post("bob", "two @ann", room="random")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(s.line, "/unread [2]")
        await trio.testing.wait_all_tasks_blocked()
        assert s.last() == Unread(id=1, room="random", seq=second.seq)
        await s.event(Answer(id=1, fields={"room": "random", "seq": 1, "back": True,
                                           "last_seq": 2, "unread": 1, "mentions": 1}))
    assert s.lines()[-1] == "-- [random] marked unread from [2] on (1 unread, 1 mention)"
    sent = len(s.link.sent)
    await s.line("/unread")
    await s.line("/unread 9")
    assert len(s.link.sent) == sent
    assert s.lines()[-2] == "!! usage: /unread N"
    assert s.lines()[-1].startswith("!! /unread: no message [9]")


async def test_a_marker_moved_back_on_another_device_is_told() -> None:
    """A ``read`` event that says ``back`` is shown with the room's counts; a forward one is
    not (this client shows no read marker)."""
    s = Session()
    await s.post("bob", "one")
    before = s.lines()
    await s.event(ReadMoved(room="general", seq=1))
    assert s.lines() == before
    await s.event(ReadMoved(room="general", seq=0, back=True, last_seq=1, unread=1,
                            mentions=0))
    assert s.lines()[-1] == "-- [general] was marked unread on another device (1 unread)"
