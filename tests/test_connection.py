"""The connection's dispatch table and the writer's bookkeeping records."""

from __future__ import annotations

from chatd.connection import _HANDLERS
from chatd.protocol import REQUESTS


def test_every_request_the_protocol_parses_has_a_handler() -> None:
    """A new op cannot be parsed by the codec and then left unhandled by the daemon."""
    assert set(_HANDLERS) == {cls for cls, _ in REQUESTS.values()}
