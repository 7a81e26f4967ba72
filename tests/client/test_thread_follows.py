"""The terminal client and followed threads: /threads [more], /follow N, /unfollow N, the
line a thread_state event prints (once per change of following), /thread N marking the
thread read; in memory (tests/client/test_commands.py's :class:`Session`), then against a
real daemon on a pty.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trio

from chatd.client.commands import COMMANDS
from chatd.client.render import ago, thread_summary
from chatd.config import Config
from chatd.protocol import FollowThread, Threads, ThreadStateChanged
from tests.client.test_changes import ann_with_bob
from tests.client.test_commands import Session
from tests.client.test_pins import _asked
from tests.client.test_terminal import STAMPED
from tests.client.test_threads import ann_replies_in_bobs_thread
from tests.e2e.conftest import running
from tests.helpers import make_config

MINUTE = 60_000


@pytest.fixture
def config(tmp_path: Path, database_dsn: str) -> Config:
    return make_config(tmp_path, database_dsn, server={"grace_period": 3.0})


async def test_follow_and_unfollow_by_number() -> None:
    """/follow N and /unfollow N send follow_thread for message [N]; an unchanged answer
    says so; bad input sends nothing."""
    s = Session()
    message = await s.post("bob", "lunch?", room="random")
    asked = await _asked(s, "/follow 1", {"room": "random", "msg_id": message.msg_id,
                                          "following": True})
    assert asked == FollowThread(id=1, room="random", msg_id=message.msg_id, on=True)
    asked = await _asked(s, "/unfollow [1]", {"room": "random", "msg_id": message.msg_id,
                                              "following": False, "unchanged": True})
    assert asked == FollowThread(id=2, room="random", msg_id=message.msg_id, on=False)
    assert s.lines()[-1] == "-- you do not follow the thread of [1] already"
    sent = len(s.link.sent)
    for line, problem in (("/follow", "!! usage: /follow N"),
                          ("/unfollow x", "!! usage: /unfollow N"),
                          ("/follow 9", "!! /follow: no message [9] (the numbers are those "
                                        "shown before the messages)")):
        await s.line(line)
        assert s.lines()[-1] == problem
    assert len(s.link.sent) == sent


async def test_thread_state_events_say_a_change_of_following_once() -> None:
    """A thread_state event that makes the user follow prints "following the thread of
    [N] in [room]" (by msg_id when not held); the same again, or a read, prints nothing;
    unfollowing prints "no longer following"."""
    s = Session()
    root = await s.post("bob", "lunch?")
    event = ThreadStateChanged(room="general", msg_id=root.msg_id, following=True, read_seq=0)
    await s.event(event)
    assert s.lines()[-1] == "-- following the thread of [1] in [general]"
    count = len(s.lines())
    await s.event(event)
    await s.event(ThreadStateChanged(room="general", msg_id=root.msg_id, following=True,
                                     read_seq=4))
    assert len(s.lines()) == count
    await s.event(ThreadStateChanged(room="general", msg_id=root.msg_id, following=False,
                                     read_seq=4))
    assert s.lines()[-1] == "-- no longer following the thread of [1] in [general]"
    await s.event(ThreadStateChanged(room="general", msg_id=77, following=False, read_seq=0))
    assert len(s.lines()) == count + 1  # (unknown and not followed: nothing to say)
    await s.event(ThreadStateChanged(room="general", msg_id=77, following=True, read_seq=0))
    assert s.lines()[-1] == "-- following the thread of #77 in [general]"


async def test_threads_lists_with_numbers_unread_and_pages() -> None:
    """/threads asks for the first page; each root is shown with a number (so /thread N and
    /unfollow N work on it) and a line of its replies, last reply and unread; /threads more
    asks from the reply's next cursor."""
    s = Session()
    now = s.client.server_now()
    root = {"op": "message", "room": "general", "seq": 5, "msg_id": 105, "from": "bob",
            "text": "lunch?", "ts": now - 60 * MINUTE, "nonce": "b5", "rev": 9,
            "replies": {"count": 3, "last_ts": now - 5 * MINUTE, "users": ["cid"]}}
    asked = await _asked(s, "/threads", {"threads": [
        {"room": "general", "root": root, "following": True, "read_seq": 7,
         "last_ts": now - 5 * MINUTE, "unread": 2, "mentions": 1}],
        "more": True, "next": "1000:105"})
    assert asked == Threads(id=1, limit=20)
    assert s.lines()[-4] == "-- followed threads, the latest reply first:"
    assert re.fullmatch(r"\[1\] \d\d:\d\d \[general\] bob: lunch\? \(3 replies, the latest "
                        r"by cid: /thread 1\)", s.lines()[-3])
    assert s.lines()[-2] == "--   3 replies · last reply 5 min ago · 2 unread, 1 mention"
    assert s.lines()[-1] == "-- /threads more for the ones before"
    asked = await _asked(s, "/threads more", {"threads": [], "more": False})
    assert asked == Threads(id=2, before=(1000, 105), limit=20)
    assert asked.wire()["before"] == "1000:105"
    assert s.lines()[-1] == "-- no more followed threads"
    await s.line("/threads more")
    assert s.lines()[-1] == "!! /threads more: the last list had no more; /threads"
    asked = await _asked(s, "/unfollow 1", {"following": False})
    assert asked == FollowThread(id=3, room="general", msg_id=105, on=False)
    await s.event(ThreadStateChanged(room="general", msg_id=105, following=False, read_seq=7))
    assert s.lines()[-1] == "-- no longer following the thread of [1] in [general]"


def test_the_summary_line() -> None:
    """A thread's line: its replies, how long ago the last was, what is unread."""
    assert [ago(ms) for ms in (0, 59_000, 5 * MINUTE, 3 * 60 * MINUTE, 49 * 60 * MINUTE)] == [
        "just now", "just now", "5 min ago", "3 h ago", "2 days ago"]
    assert thread_summary({"root": {}, "unread": 0}, 0) == "0 replies"
    one = {"root": {"replies": {"count": 1}}, "last_ts": 0, "unread": 1, "mentions": 0}
    assert thread_summary(one, 2 * MINUTE) == "1 reply · last reply 2 min ago · 1 unread"
    assert {"threads", "follow", "unfollow"} <= set(COMMANDS)


async def test_followed_threads_with_a_real_daemon(tmp_path: Path, config: Config) -> None:
    """ann replies in the thread of bob's message from the terminal client: it says she
    follows it; bob's next reply makes /threads show it with 1 unread; /thread N reads it,
    and /threads then shows nothing unread; /unfollow N says she no longer follows it."""
    async with running(config) as server, trio.open_nursery() as nursery:
        async with ann_with_bob(tmp_path, server, nursery) as (term, bob):
            root, number = await ann_replies_in_bobs_thread(term, bob)
            await term.expect(rf"-- following the thread of \[{number}\] in \[general\]\n")
            await bob.request("send", room="general", text="sushi", nonce="b2",
                              thread=root["msg_id"])
            await term.expect(rf"\[\d+\] {STAMPED} \[general\] bob: sushi\n")
            await term.type("/threads")
            await term.expect(r"-- followed threads, the latest reply first:\n")
            await term.expect(r"--   2 replies · last reply just now · 1 unread\n")
            await term.type(f"/thread {number}")
            await term.expect(r"bob: sushi\n")
            await term.type("/threads")
            await term.expect(r"-- followed threads, the latest reply first:\n")
            await term.expect(r"--   2 replies · last reply just now\n")
            await term.type(f"/unfollow {number}")
            await term.expect(rf"-- no longer following the thread of \[{number}\] in "
                              r"\[general\]\n")
        await bob.aclose()
        nursery.cancel_scope.cancel()
