"""The session state machine, against a model small enough to be obviously right.

The model knows the four states, the frames the client has sent that the session has not read
yet, and whether the client has closed its side. After every step the test reads every event
the connection has and checks each against what the model predicts.
"""

from __future__ import annotations

import collections
import dataclasses
import json

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from chatd.protocol import (
    CLOSED,
    NEED_DATA,
    PAUSED,
    Error,
    Gap,
    Hello,
    JoinAccepted,
    Limits,
    LocalProtocolError,
    MessagePosted,
    Ok,
    PresenceChanged,
    Request,
    RequestError,
    RequestId,
    Sent,
    ServerConnection,
    ServerEvent,
    State,
    Welcome,
    encode,
)
from chatd.protocol.codes import FATAL_CODES
from tests.strategies import request_ids, requests

LIMITS = Limits(max_frame_bytes=1024, max_text_chars=100, history_max=50)
WELCOME = Welcome(user={"id": 1, "name": "ann"}, rooms=[], ping_interval=30)

# Frames that are refused for what they are, whatever the state, with their code.
GARBAGE = [
    (b"not json", "bad_frame"),
    (b"\xff\xfe", "bad_frame"),
    (b"[1, 2]", "bad_frame"),
    (b'{"op": "fly", "id": 1}', "unknown_op"),
    (b'{"op": "join", "room": 5}', "bad_request"),
    (b'{"op": "ping", "id": 1.5}', "bad_request"),
]

NON_FATAL_CODES = ["bad_request", "unauthenticated", "forbidden", "not_found", "internal"]

# Events a server sends only on a ready session.
READY_EVENTS: list[ServerEvent] = [
    Ok(id=1),
    Sent(id=2, room="a", seq=1, msg_id=10, ts=0),
    JoinAccepted(id=3, room="a", last_seq=0, messages=[], more=False),
    MessagePosted(room="a", seq=1, msg_id=10, sender="bob", text="hi", ts=0, nonce="n"),
    PresenceChanged(user="bob", status="online"),
    Gap(room="a", after=1, last_seq=2000),
]


@dataclasses.dataclass(frozen=True)
class Frame:
    """A frame the client sent: a request, or garbage with the code it must get."""

    request: Request | None = None
    code: str = ""
    overflow: bool = False


class SessionMachine(RuleBasedStateMachine):
    """Any interleaving of client frames and server sends keeps the session and the model
    in step."""

    def __init__(self) -> None:
        super().__init__()
        self.conn = ServerConnection(LIMITS)
        self.state = State.AWAITING_HELLO
        self.unread: collections.deque[Frame] = collections.deque()
        self.eof = False
        self.overflowed = False

    # ------------------------------------------------------------------- the client

    def _client_sends(self, data: bytes, frame: Frame) -> None:
        self.conn.receive_data(data)
        if not self.overflowed:  # after an overflow nothing more is read
            self.unread.append(frame)
            self.overflowed = frame.overflow
        self._read()

    @precondition(lambda self: not self.eof)
    # A token the parser takes (storable text: a NUL is refused as bad_request, which is not
    # what this rule is about).
    @rule(rid=request_ids, token=st.text(st.characters(codec="utf-8", exclude_characters="\0"),
                                          min_size=1, max_size=20))
    def client_says_hello(self, rid: RequestId, token: str) -> None:
        hello = Hello(id=rid, token=token)
        self._client_sends(encode(hello.wire()), Frame(hello))

    @precondition(lambda self: not self.eof)
    @rule(request=requests(LIMITS).filter(lambda r: not isinstance(r, Hello)))
    def client_sends_request(self, request: Request) -> None:
        self._client_sends(encode(request.wire()), Frame(request))

    @precondition(lambda self: not self.eof)
    @rule(garbage=st.sampled_from(GARBAGE), crlf=st.booleans())
    def client_sends_garbage(self, garbage: tuple[bytes, str], crlf: bool) -> None:
        data, code = garbage
        self._client_sends(data + (b"\r\n" if crlf else b"\n"), Frame(code=code))

    @precondition(lambda self: not self.eof)
    @rule()
    def client_sends_blank_line(self) -> None:
        self.conn.receive_data(b"\n")
        self._read()

    @precondition(lambda self: not self.eof)
    @rule()
    def client_sends_too_much(self) -> None:
        self._client_sends(b"x" * (LIMITS.max_frame_bytes + 1) + b"\n", Frame(overflow=True))

    @precondition(lambda self: not self.eof)
    @rule()
    def client_closes(self) -> None:
        self.conn.receive_data(b"")
        self.eof = True
        self._read()

    # ------------------------------------------------------------------- the server

    def _server_sends(self, event: ServerEvent, next_state: State | None) -> None:
        """Send ``event``; ``next_state`` None means the model calls it misuse."""
        if next_state is None:
            before = self.conn.state
            with pytest.raises(LocalProtocolError):
                self.conn.send(event)
            assert self.conn.state is before, "a refused send changes nothing"
        else:
            data = self.conn.send(event)
            assert data == encode(event.wire())
            self.state = next_state
        self._read()

    @rule(rid=request_ids)
    def server_welcomes(self, rid: RequestId) -> None:
        welcome = dataclasses.replace(WELCOME, id=rid)
        ok = self.state is State.AUTHENTICATING
        self._server_sends(welcome, State.READY if ok else None)

    @rule(code=st.sampled_from(NON_FATAL_CODES), rid=request_ids)
    def server_refuses(self, code: str, rid: RequestId) -> None:
        next_state = {
            State.AWAITING_HELLO: State.AWAITING_HELLO,
            State.AUTHENTICATING: State.CLOSED,  # a failed hello ends the session
            State.READY: State.READY,
            State.CLOSED: None,
        }[self.state]
        self._server_sends(Error(id=rid, code=code, message="no"), next_state)

    @rule(code=st.sampled_from(sorted(FATAL_CODES)))
    def server_sends_fatal_error(self, code: str) -> None:
        self._server_sends(Error(code=code, message="bye"), State.CLOSED)

    @rule(event=st.sampled_from(READY_EVENTS))
    def server_sends_event(self, event: ServerEvent) -> None:
        self._server_sends(event, State.READY if self.state is State.READY else None)

    @rule()
    def server_closes(self) -> None:
        self.conn.close()
        self.state = State.CLOSED
        self._read()

    # ------------------------------------------------------------------- reading

    def _read(self) -> None:
        """Read everything the session has now, checking each event against the model."""
        while True:
            event = self.conn.next_event()
            if self.state is State.CLOSED:
                assert event is CLOSED
                return
            if self.state is State.AUTHENTICATING:
                assert event is PAUSED
                return
            if not self.unread:
                if self.eof:
                    assert event is CLOSED
                    self.state = State.CLOSED
                else:
                    assert event is NEED_DATA
                return
            self._check(self.unread.popleft(), event)

    def _check(self, frame: Frame, event: object) -> None:
        if frame.overflow:
            assert isinstance(event, RequestError)
            assert (event.code, event.fatal) == ("too_large", True)
            assert self.conn.next_event() is CLOSED
            self.state = State.CLOSED
            self.unread.clear()
        elif frame.request is None:
            assert isinstance(event, RequestError)
            assert (event.code, event.fatal) == (frame.code, False)
        elif self.state is State.AWAITING_HELLO and isinstance(frame.request, Hello):
            assert event == frame.request
            self.state = State.AUTHENTICATING
        elif self.state is State.AWAITING_HELLO:
            assert event == RequestError(
                id=frame.request.id, code="unauthenticated", message="say hello with a token first"
            )
        elif isinstance(frame.request, Hello):
            assert isinstance(event, RequestError)
            assert (event.code, event.id) == ("bad_request", frame.request.id)
        else:
            assert event == frame.request

    # ------------------------------------------------------------------- invariants

    @invariant()
    def state_matches_model(self) -> None:
        assert self.conn.state is self.state

    @invariant()
    def paused_exactly_while_authenticating(self) -> None:
        # next_event is safe to call here: in these states it consumes nothing.
        if self.state is State.AUTHENTICATING:
            assert self.conn.next_event() is PAUSED
        elif self.state is State.CLOSED:
            assert self.conn.next_event() is CLOSED


TestSession = SessionMachine.TestCase


# --------------------------------------------------------------------------- plain tests


def hello_then(conn: ServerConnection, data: bytes = b"") -> object:
    conn.receive_data(b'{"op":"hello","id":1,"token":"t"}\n' + data)
    return conn.next_event()


def test_session_starts_awaiting_hello() -> None:
    """A new session waits for hello and has nothing to read."""
    conn = ServerConnection()
    assert conn.state is State.AWAITING_HELLO
    assert conn.next_event() is NEED_DATA


def test_hello_moves_to_authenticating() -> None:
    """hello is delivered and the session waits for the server's verdict."""
    conn = ServerConnection()
    assert hello_then(conn) == Hello(id=1, token="t")
    assert conn.state is State.AUTHENTICATING
    assert conn.next_event() is PAUSED


def test_welcome_moves_to_ready_and_releases_pipelined_requests() -> None:
    """Requests pipelined behind hello are read once the welcome is sent."""
    conn = ServerConnection()
    hello_then(conn, b'{"op":"ping","id":2}\n')
    assert conn.next_event() is PAUSED
    welcome = conn.send(WELCOME)
    assert json.loads(welcome)["op"] == "welcome"
    assert conn.state is State.READY
    event = conn.next_event()
    assert isinstance(event, Request)
    assert event.id == 2


def test_failed_hello_closes() -> None:
    """An error in answer to hello ends the session."""
    conn = ServerConnection()
    hello_then(conn, b'{"op":"ping"}\n')
    conn.send(Error(id=1, code="unauthenticated", message="bad token"))
    assert conn.state is State.CLOSED
    assert conn.next_event() is CLOSED


def test_requests_before_hello_are_unauthenticated() -> None:
    """Any request but hello, first, is answered unauthenticated and the session waits on."""
    conn = ServerConnection()
    conn.receive_data(b'{"op":"join","id":"j","room":"a"}\n')
    event = conn.next_event()
    assert isinstance(event, RequestError)
    assert (event.code, event.id) == ("unauthenticated", "j")
    conn.send(Error(id=event.id, code=event.code, message=event.message))
    assert conn.state is State.AWAITING_HELLO


def test_second_hello_is_bad_request() -> None:
    """hello on a ready session is refused and changes nothing."""
    conn = ServerConnection()
    hello_then(conn, b'{"op":"hello","id":2,"token":"t"}\n')
    conn.send(WELCOME)
    event = conn.next_event()
    assert isinstance(event, RequestError)
    assert (event.code, event.id) == ("bad_request", 2)
    assert conn.state is State.READY


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("code", sorted(FATAL_CODES))
def test_fatal_error_closes_from_any_state(state: State, code: str) -> None:
    """A fatal error code may be sent in every state and closes the session."""
    conn = ServerConnection()
    conn.state = state
    conn.send(Error(code=code, message="bye"))
    assert conn.state is State.CLOSED


@pytest.mark.parametrize("state", [State.AWAITING_HELLO, State.AUTHENTICATING, State.CLOSED])
@pytest.mark.parametrize("event", READY_EVENTS, ids=lambda e: type(e).__name__)
def test_events_before_ready_are_misuse(state: State, event: ServerEvent) -> None:
    """Replies and events before the welcome (or after the end) raise LocalProtocolError."""
    conn = ServerConnection()
    conn.state = state
    with pytest.raises(LocalProtocolError):
        conn.send(event)
    assert conn.state is state


@pytest.mark.parametrize("state", [State.AWAITING_HELLO, State.READY, State.CLOSED])
def test_welcome_outside_authenticating_is_misuse(state: State) -> None:
    """welcome is sent exactly once, in answer to hello."""
    conn = ServerConnection()
    conn.state = state
    with pytest.raises(LocalProtocolError):
        conn.send(WELCOME)


def test_every_state_has_a_send_row() -> None:
    """The send table covers every state, and only READY and AWAITING_HELLO read."""
    from chatd.protocol import session

    assert set(session._SEND) == set(State)
    assert set(session._RECEIVE) == {State.AWAITING_HELLO, State.READY}
    for row in session._RECEIVE.values():
        assert Request in row, "every reading state says what any request does"
