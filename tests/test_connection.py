"""The operations table the connection dispatches through, and its lifecycle."""

from __future__ import annotations

import pytest

from chatd.actions import OPERATIONS
from chatd.connection import Phase, move
from chatd.protocol import REQUESTS


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
