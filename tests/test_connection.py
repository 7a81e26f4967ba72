"""The operations table the connection dispatches through."""

from __future__ import annotations

from chatd.actions import OPERATIONS
from chatd.protocol import REQUESTS


def test_every_request_the_protocol_parses_has_an_operation() -> None:
    """A new op cannot be parsed by the codec and then left unhandled by the daemon."""
    assert set(OPERATIONS) == {cls for cls, _ in REQUESTS.values()}
