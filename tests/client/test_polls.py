"""The terminal client and polls: /poll, /vote, /unvote, /closepoll, how a poll prints and the
lines of the ``voted`` and ``poll_closed`` entries; in memory (tests/client/test_commands.py's
:class:`Session`, a client on a fake link fed events by hand), then against a real daemon on a
pty.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import trio

from chatd.client.messages import voted
from chatd.config import Config
from chatd.protocol import ClosePoll, MessageDeleted, PollClosed, PollSpec, PollVoted, Send, Vote
from tests.client.test_changes import ann_with_bob
from tests.client.test_commands import Session
from tests.client.test_terminal import STAMPED
from tests.e2e.conftest import running
from tests.helpers import make_config


@pytest.fixture
def config(tmp_path: Path, database_dsn: str) -> Config:
    return make_config(tmp_path, database_dsn, server={"grace_period": 3.0})


def _poll(*options: str, multiple: bool = False) -> dict[str, Any]:
    return {"options": [{"text": text, "votes": 0, "voters": []} for text in options],
            "multiple": multiple, "closed": False}


async def test_poll_sends_the_question_and_options() -> None:
    """/poll Q | A | B sends a send with the poll (options trimmed; -m: multiple); fewer than
    two options, or an empty part, sends nothing and says how."""
    s = Session()
    await s.post("bob", "hi")  # the current room: general
    await s.line("/poll Lunch day? | Tuesday |  Wednesday ")
    sent = s.last()
    assert isinstance(sent, Send) and sent.room == "general" and sent.text == "Lunch day?"
    assert sent.poll == PollSpec(options=("Tuesday", "Wednesday"), multiple=False)
    await s.line("/poll -m Snacks? | crisps | fruit | nuts")
    sent = s.last()
    assert isinstance(sent, Send) and sent.poll == PollSpec(
        options=("crisps", "fruit", "nuts"), multiple=True)
    count = len(s.link.sent)
    for line in ("/poll Q? | only one", "/poll Q? | a | | b", "/poll", "/poll -m"):
        await s.line(line)
        assert s.lines()[-1].startswith("!! usage: /poll [-m] QUESTION | OPTION | OPTION"), line
    assert len(s.link.sent) == count


async def test_a_poll_prints_its_options_and_the_entries_change_it() -> None:
    """A poll prints its numbered options with counts and voters (the user's own choice
    marked); /vote N K… sends the indexes (from 0, sorted), /unvote N an empty choice,
    /closepoll N a close_poll; each entry prints a short line and changes the held poll
    (a voter's choice replaced whole); a closed poll shows its final results."""
    s = Session()
    poll = await s.post("bob", "Lunch day?", poll=_poll("Tuesday", "Wednesday", "Thursday"))
    shown = s.lines()[-5:]
    assert shown[0].endswith("[general] bob: Lunch day?")
    assert [line.strip() for line in shown[1:]] == ["1. Tuesday  0", "2. Wednesday  0",
                                                    "3. Thursday  0", "(one choice)"]
    await s.line("/vote 1 3 2")
    assert s.last() == Vote(id=1, room="general", msg_id=poll.msg_id, options=(1, 2))
    await s.line("/unvote [1]")
    assert s.last() == Vote(id=2, room="general", msg_id=poll.msg_id, options=())
    await s.line("/closepoll 1")
    assert s.last() == ClosePoll(id=3, room="general", msg_id=poll.msg_id)

    await s.event(PollVoted(room="general", seq=2, msg_id=poll.msg_id, user="bob",
                            options=(1,), ts=2))
    assert s.lines()[-1] == "[general] bob voted on [1]: 2. Wednesday"
    await s.event(PollVoted(room="general", seq=3, msg_id=poll.msg_id, user="ann",
                            options=(1, 2), ts=3))
    assert s.lines()[-1] == "[general] ann voted on [1]: 2. Wednesday, 3. Thursday"
    await s.event(PollVoted(room="general", seq=3, msg_id=poll.msg_id, user="ann",
                            options=(1, 2), ts=3))  # a repeat prints nothing
    assert s.lines()[-1] == "[general] ann voted on [1]: 2. Wednesday, 3. Thursday"
    await s.event(PollVoted(room="general", seq=4, msg_id=poll.msg_id, user="bob",
                            options=(), ts=4))
    assert s.lines()[-1] == "[general] bob took back their vote on [1]"
    held = s.client.messages.get("general", poll.msg_id)
    assert held is not None and held.poll is not None
    assert [(o["text"], o["votes"], o["voters"]) for o in held.poll["options"]] == [
        ("Tuesday", 0, []), ("Wednesday", 1, ["ann"]), ("Thursday", 1, ["ann"])]
    s.client.show(held)
    assert [line.strip() for line in s.lines()[-4:]] == [
        "1. Tuesday  0", "2. Wednesday  1 (ann) *", "3. Thursday  1 (ann) *", "(one choice)"]

    await s.event(PollClosed(room="general", seq=5, msg_id=poll.msg_id, by="bob", ts=5))
    assert s.lines()[-1] == "[general] bob closed the poll [1]"
    held = s.client.messages.get("general", poll.msg_id)
    assert held is not None and held.poll is not None and held.poll["closed_by"] == "bob"
    s.client.show(held)
    assert s.lines()[-1].strip() == "(final results: closed by bob)"


async def test_vote_commands_refuse_what_is_no_poll() -> None:
    """/vote, /unvote and /closepoll of a message that is no poll, a deleted poll, no
    number, or no option send nothing and say why."""
    s = Session()
    await s.post("bob", "plain")
    poll = await s.post("bob", "Q?", poll=_poll("a", "b"))
    await s.event(MessageDeleted(room="general", seq=3, msg_id=poll.msg_id, by="bob", ts=3))
    count = len(s.link.sent)
    for line, problem in (
            ("/vote 1 1", "!! /vote: [1] is not a poll"),
            ("/closepoll 2", "!! /closepoll: [2] is not a poll any more"),
            ("/unvote", "!! usage: /unvote N (the number shown before the poll)"),
            ("/vote", "!! usage: /vote N K… (poll [N], its options K from 1)"),
            ("/vote 9 1", "!! /vote: no message [9] (the numbers are those shown before the "
                          "messages)")):
        await s.line(line)
        assert s.lines()[-1] == problem, line
    assert len(s.link.sent) == count


def test_voted_replaces_the_voters_choice() -> None:
    """A voter's new choice removes them everywhere first, then appends them to each chosen
    option (after those already there)."""
    poll: dict[str, Any] = {"options": [{"text": "a", "votes": 2, "voters": ["ann", "bob"]},
                                        {"text": "b", "votes": 0, "voters": []}],
                            "multiple": True}
    after = voted(poll, "ann", [0, 1])
    assert [(o["votes"], o["voters"]) for o in after["options"]] == [(2, ["bob", "ann"]),
                                                                      (1, ["ann"])]
    assert voted(after, "ann", [])["options"][0]["voters"] == ["bob"]
    assert poll["options"][0]["voters"] == ["ann", "bob"]  # not changed in place


async def test_polls_with_a_real_daemon(tmp_path: Path, config: Config) -> None:
    """ann makes a poll with /poll; bob votes over the socket and ann sees the line; ann
    votes with /vote and bob gets the entry; /closepoll closes it for both."""
    async with running(config) as server, trio.open_nursery() as nursery, \
            ann_with_bob(tmp_path, server, nursery) as (term, bob):
        await term.type("/poll Retro format? | wheel | sailboat")
        number = (await term.expect(rf"\[(\d+)\] {STAMPED} \[general\] ann: Retro "
                                    r"format\?\n")).group(1)
        await term.expect(r"1\. wheel  0\n")
        posted = await bob.event("message", text="Retro format?")
        assert [o["text"] for o in posted["poll"]["options"]] == ["wheel", "sailboat"]
        await bob.request("vote", room="general", msg_id=posted["msg_id"], options=[1])
        await term.expect(rf"\[general\] bob voted on \[{number}\]: 2\. sailboat\n")
        await term.type(f"/vote {number} 1")
        event = await bob.event("voted", user="ann")
        assert event["options"] == [0]
        await term.expect(rf"\[general\] ann voted on \[{number}\]: 1\. wheel\n")
        await term.type(f"/closepoll {number}")
        assert (await bob.event("poll_closed"))["by"] == "ann"
        await term.expect(re.escape(f"[general] ann closed the poll [{number}]") + r"\n")
        await bob.aclose()
