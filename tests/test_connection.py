"""The operations table the connection dispatches through, and its lifecycle."""

from __future__ import annotations

import json

import pytest
import trio

from chatd.actions import OPERATIONS
from chatd.connection import Phase, move, read_range
from chatd.delivery import Repair
from chatd.protocol import REQUESTS
from chatd.storage import NewMessage, Storage


def test_every_request_the_protocol_parses_has_an_operation() -> None:
    """A new op cannot be parsed by the codec and then left unhandled by the daemon."""
    assert set(OPERATIONS) == {cls for cls, _ in REQUESTS.values()}


def test_a_session_ends_only_forwards() -> None:
    """Greeting, then active, then one way out; nothing comes back from an ending."""
    assert move(Phase.GREETING, Phase.ACTIVE) is Phase.ACTIVE
    for out in (Phase.DRAINING, Phase.ENDING, Phase.KICKED, Phase.CLOSED):
        assert move(Phase.ACTIVE, out) is out
    assert move(Phase.DRAINING, Phase.ENDING) is Phase.ENDING  # a log-out while draining


@pytest.mark.parametrize(("current", "to"), [
    (Phase.ACTIVE, Phase.GREETING),
    (Phase.DRAINING, Phase.ACTIVE),
    (Phase.ENDING, Phase.DRAINING),
    (Phase.KICKED, Phase.ENDING),
    (Phase.CLOSED, Phase.ACTIVE),
    (Phase.ACTIVE, Phase.ACTIVE),
])
def test_an_illegal_move_raises(current: Phase, to: Phase) -> None:
    """A move not in the table is a bug and says so, instead of a flag silently flipping."""
    with pytest.raises(RuntimeError, match=f"from {current.name} to {to.name}"):
        move(current, to)


async def test_a_repair_reads_a_short_range_and_gaps_a_long_one(storage: Storage) -> None:
    """A missing range is filled from the database when short; past the bound the client is
    told ``gap`` (to page with history) instead of the connection reading it all."""
    with trio.fail_after(10):
        alice = await storage.create_user("alice", "h")
        await storage.join_room(alice.id, "lobby")
        await storage.append_messages([
            NewMessage(user_id=alice.id, room="lobby", text=f"m{i}", nonce=f"n{i}")
            for i in range(1, 9)
        ])
        short = await read_range(storage, Repair("lobby", after=2, upto=6), most=4)
        frames = [json.loads(line) for line in short.splitlines()]
        assert [(f["op"], f["seq"], f["text"]) for f in frames] == [
            ("message", seq, f"m{seq}") for seq in range(3, 7)]
        long = await read_range(storage, Repair("lobby", after=2, upto=7), most=4)
        assert json.loads(long) == {"op": "gap", "room": "lobby", "after": 2, "last_seq": 7}
