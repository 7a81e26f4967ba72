"""The terminal client and threads: a reply printed with the thread it is in, a root with its
replies' summary kept exact by the reply entries (chatd.client.messages), /thread N and
/reply-thread N; in memory (tests/client/test_commands.py's :class:`Session`), then against a
real daemon on a pty.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from chatd.client.commands import ALIASES, COMMANDS
from chatd.client.messages import Messages, replied
from chatd.config import Config
from chatd.protocol import MessagePosted, ReadThread, Send, Sent, Thread, ThreadStateChanged
from tests.client import Client
from tests.client.test_changes import Plain, ann_with_bob
from tests.client.test_commands import Session
from tests.client.test_pins import _asked
from tests.client.test_terminal import STAMPED
from tests.e2e.conftest import running
from tests.helpers import make_config


@pytest.fixture
def config(tmp_path: Path, database_dsn: str) -> Config:
    return make_config(tmp_path, database_dsn, server={"grace_period": 3.0})


def _message(seq: int, sender: str, text: str = "", **fields: Any) -> MessagePosted:
    return MessagePosted(room="general", seq=seq, msg_id=100 + seq, sender=sender,
                         text=text or f"m{seq}", ts=1000 * seq, nonce=f"n{seq}", **fields)


async def test_a_reply_prints_its_thread_and_the_root_counts_it() -> None:
    """A reply is printed under a line naming its thread's root (its number, author and
    first words; by msg_id when not held), broadcast said; the root held counts the reply,
    and shows the count and the latest repliers when printed again."""
    s = Session()
    root = await s.post("bob", "lunch at noon?")
    await s.post("cid", "pizza", thread=root.msg_id)
    assert s.lines()[-2] == "      ↳ thread of [1] bob: lunch at noon?"
    assert re.fullmatch(rf"\[2\] {STAMPED} \[general\] cid: pizza", s.lines()[-1])
    await s.post("ann", "sushi", thread=root.msg_id, broadcast=True)
    assert s.lines()[-2] == "      ↳ thread of [1] bob: lunch at noon? (also sent to the room)"
    held = s.client.messages.get("general", root.msg_id)
    assert held is not None and held.rev == 3
    assert held.replies == {"count": 2, "last_ts": 1_732_700_000_000, "users": ("ann", "cid")}
    s.client.show(held)
    assert s.lines()[-1].endswith("lunch at noon? (2 replies, the latest by ann, cid: /thread 1)")
    await s.post("dan", "elsewhere", thread=999)
    assert s.lines()[-2] == "      ↳ thread of message #999"


async def test_reply_thread_sends_to_the_root_of_the_thread() -> None:
    """/reply-thread N TEXT (and /rt) sends a reply with ``thread`` the root's msg_id, also
    when [N] is a reply itself; the message sent is held as a reply; bad input sends
    nothing."""
    s = Session()
    root = await s.post("bob", "plan")
    reply = await s.post("cid", "ok", thread=root.msg_id)
    await s.line("/reply-thread 1 count me in")
    request = s.last()
    assert isinstance(request, Send)
    assert (request.room, request.text, request.thread) == ("general", "count me in",
                                                            root.msg_id)
    await s.line("/rt 2 me too")
    second = s.last()
    assert isinstance(second, Send) and second.thread == root.msg_id  # [2] is a reply
    await s.event(Sent(id=second.id, room="general", seq=4, msg_id=104, ts=4000))
    held = s.client.messages.get("general", 104)
    assert held is not None and held.thread == root.msg_id
    assert reply.msg_id != held.msg_id
    sent = len(s.link.sent)
    for line in ("/reply-thread 1", "/reply-thread x hi", "/rt"):
        await s.line(line)
        assert s.lines()[-1] == "!! usage: /reply-thread N TEXT"
    await s.line("/rt 9 hi")
    assert s.lines()[-1].startswith("!! /reply-thread: no message [9]")
    assert len(s.link.sent) == sent


async def test_thread_shows_the_root_and_its_replies_and_pages_back() -> None:
    """/thread N asks for the thread of message [N] and prints the root then the replies
    with numbers, and marks it read up to the newest reply shown (unless the server says it
    was read that far), saying whether the user follows it when the server says; /thread
    more asks for those before the first reply shown (and reads nothing)."""
    s = Session()
    root = await s.post("bob", "lunch?")
    wire_root = {"op": "message", "room": "general", "seq": 1, "msg_id": root.msg_id,
                 "from": "bob", "text": "lunch?", "ts": 1000, "nonce": "n1", "rev": 7,
                 "replies": {"count": 3, "last_ts": 7000, "users": ["cid", "dan"]}}
    replies = [{"op": "message", "room": "general", "seq": seq, "msg_id": 100 + seq,
                "from": "cid", "text": f"r{seq}", "ts": 1000 * seq, "nonce": f"c{seq}",
                "thread": root.msg_id} for seq in (6, 7)]
    asked = await _asked(s, "/thread 1", {"room": "general", "root": wire_root,
                                          "messages": replies, "more": True})
    assert asked == Thread(id=1, room="general", msg_id=root.msg_id, limit=20)
    out = s.lines()
    assert out[-7] == "-- thread of [1] in [general]:"
    assert out[-6].endswith("bob: lunch? (3 replies, the latest by cid, dan: /thread 1)")
    assert re.fullmatch(rf"\[2\] {STAMPED} \[general\] cid: r6", out[-4])
    assert re.fullmatch(rf"\[3\] {STAMPED} \[general\] cid: r7", out[-2])
    assert out[-1] == "-- /thread more for older replies"
    # shown up to its newest reply: read (followed thread or not), without waiting
    assert s.last() == ReadThread(id=2, room="general", msg_id=root.msg_id, seq=7)
    # A server that says the user's state of the thread: the header says it, and a thread
    # read that far already is not read again.
    await _asked(s, "/thread 1", {"room": "general", "root": wire_root, "messages": replies,
                                  "more": False, "following": False, "read_seq": 7})
    assert "-- thread of [1] in [general] (not following: /follow 1):" in s.lines()
    assert s.last() == Thread(id=3, room="general", msg_id=root.msg_id, limit=20)
    await _asked(s, "/thread 1", {"room": "general", "root": wire_root, "messages": replies,
                                  "more": True, "following": True, "read_seq": 6})
    assert "-- thread of [1] in [general] (following):" in s.lines()
    assert s.last() == ReadThread(id=5, room="general", msg_id=root.msg_id, seq=7)
    # its thread_state (the read) says nothing: following was known from the thread's page
    before = len(s.lines())
    await s.event(ThreadStateChanged(room="general", msg_id=root.msg_id, following=True,
                                     read_seq=7))
    assert len(s.lines()) == before
    asked = await _asked(s, "/thread more", {"room": "general", "root": wire_root,
                                             "messages": [], "more": False})
    assert asked == Thread(id=6, room="general", msg_id=root.msg_id, before=6, limit=20)
    await s.line("/thread more")
    assert s.lines()[-1] == "!! /thread more: no thread shown has more; /thread N"
    assert ALIASES["t"] == "thread" and "reply-thread" in COMMANDS


replies_drawn = st.lists(st.tuples(st.sampled_from(["ann", "bob", "cid", "dan", "eve", "fay",
                                                    "gus"]), st.booleans()),
                         min_size=1, max_size=12)


@given(replies_drawn, st.data())
def test_a_root_applied_any_way_ends_as_read(replies: list[tuple[str, bool]],
                                             data: st.DataObject) -> None:
    """Whatever the replies, applying them live (in seq order, some twice), or reading the
    root at some point and applying the rest, or reading it last, ends in the same root:
    the one a model of the server's summary gives (count, last ts, 5 latest distinct
    repliers newest first, rev the last reply's seq)."""
    root = _message(1, "ann", "root")
    posted = [_message(2 + i, sender, thread=root.msg_id) for i, (sender, _) in
              enumerate(replies)]
    users: list[str] = []
    for reply in posted:
        users = [reply.sender, *(u for u in users if u != reply.sender)]
    server = dataclasses.replace(root, rev=posted[-1].seq, replies={
        "count": len(posted), "last_ts": posted[-1].ts, "users": tuple(users[:5])})
    cut = data.draw(st.integers(0, len(posted)), label="root read after this many replies")
    read_then = root
    for reply in posted[:cut]:
        read_then = replied(read_then, reply)
    live = Messages()
    live.apply(read_then)
    for (_, twice), reply in zip(replies[cut:], posted[cut:], strict=True):
        live.apply(reply)
        if twice:
            live.apply(reply)
    # entries from before the root was read, delivered again (a page overlapping)
    for reply in posted[:cut]:
        live.apply(reply)
    fresh = Messages()
    fresh.apply(server)
    assert live.get("general", root.msg_id) == fresh.get("general", root.msg_id)


async def ann_replies_in_bobs_thread(term: Plain, bob: Client) -> tuple[dict[str, Any], str]:
    """bob asks "lunch today?" in [general]; ann, once her terminal shows it, replies "pizza"
    in its thread by its number (/reply-thread). Returns bob's answer to the root's send and
    the root's short number."""
    root = await bob.request("send", room="general", text="lunch today?", nonce="b1")
    number = (await term.expect(rf"\[(\d+)\] {STAMPED} \[general\] bob: lunch "
                                r"today\?\n")).group(1)
    await term.type(f"/reply-thread {number} pizza")
    return root, number


async def test_threads_with_a_real_daemon(tmp_path: Path, config: Config) -> None:
    """ann, in the terminal client, replies in the thread of bob's message by its number;
    bob (a WebSocket client) gets the reply with its thread; bob's reply is printed under
    its thread; /thread lists the root and both replies."""
    async with running(config) as server, trio.open_nursery() as nursery:
        async with ann_with_bob(tmp_path, server, nursery) as (term, bob):
            root, number = await ann_replies_in_bobs_thread(term, bob)
            reply = await bob.event("message", room="general", text="pizza")
            assert reply["thread"] == root["msg_id"] and reply["mentions"] == ["bob"]
            await bob.request("send", room="general", text="sushi", nonce="b2",
                              thread=reply["msg_id"])
            await term.expect(rf"↳ thread of \[{number}\] bob: lunch today\?\n")
            await term.expect(rf"\[\d+\] {STAMPED} \[general\] bob: sushi\n")
            await term.type(f"/thread {number}")
            await term.expect(rf"-- thread of \[{number}\] in \[general\] \(following\):\n")
            await term.expect(r"bob: lunch today\? \(2 replies, the latest by bob, ann: "
                              rf"/thread {number}\)\n")
            await term.expect(r"ann: pizza\n")
            await term.expect(r"bob: sushi\n")
        await bob.aclose()
        nursery.cancel_scope.cancel()
