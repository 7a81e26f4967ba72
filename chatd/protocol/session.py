"""The session state machine and the sans-IO connection object a server drives.

Theory of operation. A session has four states. It starts in ``AWAITING_HELLO``: the only
request that moves it on is ``hello``, which moves it to ``AUTHENTICATING``; any other request
is answered ``unauthenticated`` and the session keeps waiting. While ``AUTHENTICATING`` the
connection yields :data:`PAUSED` and buffers what arrives, so a client may pipeline requests
behind its ``hello``: the server checks the token and sends either ``welcome`` (to ``READY``)
or an ``error`` (to ``CLOSED``). In ``READY`` every request is delivered. A fatal error code
(``too_large``, ``slow_consumer``, ``shutting_down``) sent in any state closes the session.

Every transition is in the tables below; the rest of the module only looks them up. Like h11,
the session does not know about sockets: :class:`ServerConnection` takes bytes with
:meth:`~ServerConnection.receive_data`, hands out events with
:meth:`~ServerConnection.next_event` and turns the server's events into bytes with
:meth:`~ServerConnection.send`. A peer's mistake is an event (:class:`RequestError`); our own
misuse (sending a message before the welcome, say) raises :class:`LocalProtocolError`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Final, TypeVar

from chatd.protocol import codes
from chatd.protocol.codec import LineBuffer, decode_line, frame
from chatd.protocol.events import (
    Error,
    Hello,
    Limits,
    Request,
    RequestError,
    ServerEvent,
    Welcome,
    parse_request,
)

__all__ = [
    "CLOSED",
    "NEED_DATA",
    "PAUSED",
    "LocalProtocolError",
    "ServerConnection",
    "State",
]


class State(enum.Enum):
    AWAITING_HELLO = "awaiting_hello"
    AUTHENTICATING = "authenticating"
    READY = "ready"
    CLOSED = "closed"


class _Sentinel(enum.Enum):
    NEED_DATA = "need_data"
    PAUSED = "paused"
    CLOSED = "closed"


#: No whole frame is buffered: call receive_data.
NEED_DATA: Final = _Sentinel.NEED_DATA
#: The session waits for the server's verdict on ``hello``; frames stay buffered.
PAUSED: Final = _Sentinel.PAUSED
#: The session is over (closed by the peer's EOF or a fatal error): read no more.
CLOSED: Final = _Sentinel.CLOSED


class LocalProtocolError(Exception):
    """Our own code misused a connection, server or client side (a bug here, not the peer's)."""


# What a received request does in each state: the next state, or the error to answer with
# (the session then stays where it is). Lookup goes along the event's class hierarchy, so the
# `Request` key means "any other request". A state with no table does not read.
_Refusal = tuple[str, str]
_V = TypeVar("_V")
_RECEIVE: Final[dict[State, dict[type[Request], State | _Refusal]]] = {
    State.AWAITING_HELLO: {
        Hello: State.AUTHENTICATING,
        Request: (codes.UNAUTHENTICATED, "say hello with a token first"),
    },
    State.READY: {
        Hello: (codes.BAD_REQUEST, "hello was already said on this connection"),
        Request: State.READY,
    },
}

# What sending an event does in each state, looked up the same way (`ServerEvent` is "any
# other event"). None, or no entry at all, is misuse: LocalProtocolError. A fatal error code
# closes the session from any state; that rule is checked before this table.
_SEND: Final[dict[State, dict[type[ServerEvent], State | None]]] = {
    State.AWAITING_HELLO: {Error: State.AWAITING_HELLO},
    State.AUTHENTICATING: {Welcome: State.READY, Error: State.CLOSED},
    State.READY: {Welcome: None, ServerEvent: State.READY},
    State.CLOSED: {},
}


def _lookup(table: Mapping[type[Any], _V], kind: type[Any]) -> _V | None:
    """The entry for the nearest class of ``kind`` in the table, walking up its bases."""
    for cls in kind.__mro__:
        if cls in table:
            return table[cls]
    return None


class ServerConnection:
    """The server side of one protocol connection, with no I/O.

    Args:
        limits: the frame size and field limits to enforce.
    """

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.state = State.AWAITING_HELLO
        self._lines = LineBuffer(self.limits.max_frame_bytes)
        self._eof = False
        self._overflow_reported = False

    def receive_data(self, data: bytes) -> None:
        """Add bytes from the peer; ``b""`` means the peer closed its side."""
        if not data:
            self._eof = True
        else:
            self._lines.feed(data)

    def next_event(self) -> Request | RequestError | _Sentinel:
        """The next request, a :class:`RequestError` for a bad frame, or a sentinel:
        :data:`NEED_DATA`, :data:`PAUSED` or :data:`CLOSED`."""
        while True:
            if self.state is State.CLOSED:
                return CLOSED
            if self.state is State.AUTHENTICATING:
                return PAUSED
            line = self._lines.next_line()
            if line is None:
                if self._lines.overflowed and not self._overflow_reported:
                    self._overflow_reported = True
                    return RequestError(
                        code=codes.TOO_LARGE,
                        message=f"a frame is at most {self.limits.max_frame_bytes} bytes",
                        fatal=True,
                    )
                if self._eof or self._lines.overflowed:
                    self.state = State.CLOSED
                    return CLOSED
                return NEED_DATA
            if not line.strip():
                continue  # blank lines are allowed as keepalives
            decoded = decode_line(line)
            if isinstance(decoded, RequestError):
                return decoded
            event = parse_request(decoded, self.limits)
            if isinstance(event, RequestError):
                return event
            return self._receive(event)

    def _receive(self, request: Request) -> Request | RequestError:
        outcome = _lookup(_RECEIVE[self.state], type(request))
        assert outcome is not None, "every readable state has a Request entry"
        if isinstance(outcome, State):
            self.state = outcome
            return request
        code, message = outcome
        return RequestError(id=request.id, code=code, message=message)

    def send(self, event: ServerEvent) -> bytes:
        """The bytes of one server event, after checking it is allowed now.

        Raises:
            LocalProtocolError: the event is not allowed in the current state.
        """
        if isinstance(event, Error) and event.code in codes.FATAL_CODES:
            self.state = State.CLOSED
            return frame(event)
        outcome = _lookup(_SEND[self.state], type(event))
        if not isinstance(outcome, State):
            raise LocalProtocolError(
                f"cannot send {type(event).__name__} in state {self.state.name}"
            )
        self.state = outcome
        return frame(event)

    def close(self) -> None:
        """Mark the session over, e.g. when the transport broke."""
        self.state = State.CLOSED
