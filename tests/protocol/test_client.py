"""The client side of the protocol: what a server sends comes back as the event it sent.

Round trips go through the real framing: a server event's ``wire()`` is encoded as chatd
encodes it, fed to a :class:`ClientConnection` (whole, or cut anywhere), and must come back as
an equal event; a reply comes back as the event of the request it answers. Bytes that are not
the protocol give :class:`RemoteProtocolError` and nothing else. At the end a client and a
server connection are joined in memory (as h11's tests join theirs) and talk.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatd.protocol import (
    CLOSED,
    EVENTS,
    NEED_DATA,
    PAUSED,
    REQUESTS,
    Answer,
    ClientConnection,
    Error,
    Gap,
    Hello,
    History,
    Join,
    JoinAccepted,
    Leave,
    LocalProtocolError,
    MessagePosted,
    Ok,
    Ping,
    PresenceChanged,
    RemoteProtocolError,
    Request,
    RequestError,
    Rooms,
    Send,
    Sent,
    ServerConnection,
    ServerEvent,
    State,
    UnknownEvent,
    Welcome,
    encode,
    parse_event,
)
from chatd.protocol.client import KNOWN_OPS
from chatd.protocol.codes import FATAL_CODES
from tests.strategies import (
    byte_streams,
    chunked,
    error_events,
    events_not_replies,
    replies,
    server_json_values,
    welcome_events,
)

WELCOME = Welcome(user={"id": 1, "name": "ann"}, rooms=(), ping_interval=30)
MESSAGE = MessagePosted(room="general", seq=1, msg_id=7, sender="bob", text="hi", ts=0, nonce="n")


def ready() -> ClientConnection:
    """A connection that said hello (id 1) and was welcomed."""
    conn = ClientConnection()
    conn.send(Hello(token="t"))
    conn.receive_data(encode(dataclasses.replace(WELCOME, id=1).wire()))
    assert isinstance(conn.next_event(), Welcome)
    assert conn.state is State.READY
    return conn


def state(conn: ClientConnection | ServerConnection) -> State:
    """The connection's state, read through a call so that the type checker does not narrow
    it across the calls that change it."""
    return conn.state


def drain(conn: ClientConnection) -> list[object]:
    """Every event the connection has now, up to NEED_DATA or CLOSED (not included)."""
    events: list[object] = []
    while (event := conn.next_event()) not in (NEED_DATA, CLOSED):
        events.append(event)
    return events


def feed(conn: ClientConnection, chunks: Iterable[bytes]) -> list[object]:
    events: list[object] = []
    for chunk in chunks:
        conn.receive_data(chunk)
        events += drain(conn)
    return events


# --------------------------------------------------------------------------- round trips


@given(event=events_not_replies | error_events.map(lambda e: dataclasses.replace(e, id=None)))
def test_an_event_comes_back_as_sent(event: ServerEvent) -> None:
    conn = ready()
    conn.receive_data(encode(event.wire()))
    assert drain(conn) == [event]


@given(pair=replies())
def test_a_reply_is_parsed_by_the_request_it_answers(
    pair: tuple[Request, ServerEvent],
) -> None:
    """An ``ok`` comes back as Sent, HistoryPage, JoinAccepted, Ok or Answer according to
    the request with its id; an ``error`` as Error."""
    request, reply = pair
    conn = ready()
    rid = conn.next_id()
    conn.send(dataclasses.replace(request, id=rid))
    reply = dataclasses.replace(reply, id=rid)  # type: ignore[call-arg]
    assert conn.waiting == 1
    conn.receive_data(encode(reply.wire()))
    assert drain(conn) == [reply]
    assert conn.waiting == 0


@given(welcome=welcome_events, data=st.data())
def test_a_stream_cut_anywhere_gives_the_same_events(welcome: Welcome, data: st.DataObject
                                                     ) -> None:
    """Hello, welcome, then replies and events interleaved: the events do not depend on
    where the stream was cut."""
    conn = ClientConnection()
    hello = conn.send(Hello(id=welcome.id, token="t"))  # numbered when the id is None
    welcome = dataclasses.replace(welcome, id=json.loads(hello)["id"])
    expected: list[ServerEvent] = [welcome]
    for _ in range(data.draw(st.integers(0, 6), label="frames")):
        if data.draw(st.booleans(), label="reply"):
            request, reply = data.draw(replies(), label="reply")
            rid = conn.next_id()
            conn.send(dataclasses.replace(request, id=rid))
            expected.append(dataclasses.replace(reply, id=rid))  # type: ignore[call-arg]
        else:
            expected.append(data.draw(events_not_replies, label="event"))
    stream = b"".join(encode(event.wire()) for event in expected)
    cut = data.draw(chunked(stream), label="chunks")
    assert feed(conn, cut) == expected
    assert conn.waiting == 0
    conn.receive_data(b"")
    assert conn.next_event() is CLOSED


@given(stream=byte_streams(), eof=st.booleans())
def test_bytes_that_are_not_the_protocol_give_protocol_errors_only(stream: bytes, eof: bool
                                                                    ) -> None:
    """Whatever arrives, next_event returns an event, NEED_DATA or CLOSED, or raises
    RemoteProtocolError; and it never loops forever."""
    conn = ready()
    conn.send(Send(room="a", text="t", nonce="n"))  # so that an ok may answer something
    conn.receive_data(stream)
    if eof:
        conn.receive_data(b"")
    for _ in range(len(stream) + 3):
        try:
            event = conn.next_event()
        except RemoteProtocolError:
            continue
        if event is NEED_DATA or event is CLOSED:
            break
        assert isinstance(event, ServerEvent)
    else:
        raise AssertionError("next_event never ran out of frames")
    assert event is (CLOSED if eof else NEED_DATA) or conn.state is State.CLOSED


@given(op=st.text(min_size=1, max_size=20).filter(lambda op: op not in KNOWN_OPS),
       fields=st.dictionaries(st.text(max_size=10).filter(lambda k: k != "op"),
                              server_json_values, max_size=4))
def test_an_unknown_op_is_kept_as_it_came(op: str, fields: dict[str, object]) -> None:
    """docs/protocol.md: clients ignore ops they do not know; the connection hands them over
    untouched so that the caller decides."""
    conn = ready()
    conn.receive_data(encode({"op": op, **fields}))
    [event] = drain(conn)
    assert event == UnknownEvent(op=op, fields=fields)
    assert event.wire() == {"op": op, **fields}


def test_every_op_a_server_sends_has_a_parser() -> None:
    """A new event in chatd.protocol.events.EVENTS needs its parser in client.py."""
    assert set(EVENTS) <= KNOWN_OPS


def test_every_request_has_a_reply_shape() -> None:
    """Each request's ok parses; hello's is a welcome, not an ok."""
    for cls, _ in REQUESTS.values():
        if cls is Hello:
            with pytest.raises(RemoteProtocolError, match="welcome"):
                parse_event({"op": "ok", "id": 1}, Hello)
        else:
            assert parse_event({"op": "error", "id": 1, "code": "internal", "message": ""},
                               cls) == Error(id=1, code="internal", message="")


# --------------------------------------------------------------------------- the server's mistakes


@pytest.mark.parametrize(("line", "complaint"), [
    (b"not json", "not JSON"),
    (b"\xff\xfe", "not JSON"),
    (b"[1,2]", "JSON object"),
    (b'{"op":7}', "string 'op'"),
    (b'{"op":"message","room":"a","seq":"1"}', "'seq' must be an integer"),
    (b'{"op":"presence","user":"bob"}', "'status' must be a string"),
    (b'{"op":"gap","room":"a","after":-1,"last_seq":3}', "'after' must be at least 0"),
    (b'{"op":"ok","id":true}', "'id' must be"),
    (b'{"op":"welcome","id":null,"user":{},"rooms":[],"ping_interval":30}', "'name'"),
    (b'{"op":"error","id":null,"code":"internal"}', "'message' must be a string"),
])
def test_a_bad_frame_is_a_remote_protocol_error_and_reading_goes_on(
    line: bytes, complaint: str,
) -> None:
    conn = ready()
    conn.receive_data(line + b"\n" + encode(MESSAGE.wire()))
    with pytest.raises(RemoteProtocolError, match=complaint):
        conn.next_event()
    assert drain(conn) == [MESSAGE]


def test_a_reply_of_the_wrong_shape_is_refused() -> None:
    """The ok of a send must say where the message was stored."""
    conn = ready()
    conn.send(Send(id="s", room="a", text="t", nonce="n"))
    conn.receive_data(b'{"op":"ok","id":"s","room":"a"}\n')
    with pytest.raises(RemoteProtocolError, match="'seq'"):
        conn.next_event()
    assert conn.waiting == 0, "the reply came, even if garbled"
    assert conn.state is State.READY


def test_an_ok_nobody_asked_for_is_an_answer() -> None:
    conn = ready()
    conn.receive_data(b'{"op":"ok","id":99,"room":"a","seq":3}\n')
    assert drain(conn) == [Answer(id=99, fields={"room": "a", "seq": 3})]


def test_nothing_comes_before_the_welcome() -> None:
    """A message before the welcome breaks the protocol; the welcome after it still counts."""
    conn = ClientConnection()
    conn.send(Hello(token="t"))
    conn.receive_data(encode(MESSAGE.wire()) + encode(dataclasses.replace(WELCOME, id=1).wire()))
    with pytest.raises(RemoteProtocolError, match="before the welcome"):
        conn.next_event()
    assert state(conn) is State.AUTHENTICATING
    assert drain(conn) == [dataclasses.replace(WELCOME, id=1)]
    assert state(conn) is State.READY


def test_a_second_welcome_is_refused() -> None:
    conn = ready()
    conn.receive_data(encode(WELCOME.wire()))
    with pytest.raises(RemoteProtocolError, match="Welcome in state READY"):
        conn.next_event()


def test_a_line_too_long_closes() -> None:
    conn = ClientConnection(max_frame_bytes=100)
    conn.send(Hello(token="t"))
    conn.receive_data(b"x" * 200)
    with pytest.raises(RemoteProtocolError, match="more than 100 bytes"):
        conn.next_event()
    assert conn.state is State.CLOSED
    assert conn.next_event() is CLOSED
    with pytest.raises(LocalProtocolError):
        conn.send(Ping())


def test_a_frame_cut_by_the_end_of_the_stream() -> None:
    conn = ready()
    conn.receive_data(encode(MESSAGE.wire())[:-5])
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"")
    with pytest.raises(RemoteProtocolError, match="middle of a frame"):
        conn.next_event()
    assert conn.next_event() is CLOSED


def test_blank_lines_and_crlf_are_fine() -> None:
    conn = ready()
    conn.receive_data(b"\n \r\n" + encode(MESSAGE.wire())[:-1] + b"\r\n\n")
    assert drain(conn) == [MESSAGE]


# --------------------------------------------------------------------------- states


def test_a_refused_hello_closes() -> None:
    conn = ClientConnection()
    conn.send(Hello(id="h", token="t"))
    conn.send(Join(room="general"))  # pipelined: dropped with the connection
    conn.receive_data(b'{"op":"error","id":"h","code":"unauthenticated","message":"expired"}\n'
                      + encode(MESSAGE.wire()))
    assert conn.next_event() == Error(id="h", code="unauthenticated", message="expired")
    assert conn.state is State.CLOSED
    assert conn.next_event() is CLOSED, "nothing is read after the end"
    with pytest.raises(LocalProtocolError, match="CLOSED"):
        conn.send(Ping())


@pytest.mark.parametrize("code", sorted(FATAL_CODES | {"unauthenticated", "rate_limited"}))
def test_a_connection_level_error_that_hangs_up_closes(code: str) -> None:
    conn = ready()
    conn.receive_data(encode(Error(code=code, message="bye").wire()))
    assert drain(conn) == [Error(code=code, message="bye")]
    assert conn.state is State.CLOSED


def test_a_refused_request_does_not_close() -> None:
    """shutting_down with an id refuses that request only (docs/protocol.md)."""
    conn = ready()
    conn.send(Send(id=5, room="a", text="t", nonce="n"))
    conn.receive_data(b'{"op":"error","id":5,"code":"shutting_down","message":"later"}\n'
                      b'{"op":"error","id":null,"code":"bad_frame","message":"?"}\n')
    assert drain(conn) == [Error(id=5, code="shutting_down", message="later"),
                           Error(code="bad_frame", message="?")]
    assert conn.state is State.READY


def test_requests_out_of_turn_are_local_errors() -> None:
    conn = ClientConnection()
    with pytest.raises(LocalProtocolError, match="Join in state AWAITING_HELLO"):
        conn.send(Join(room="general"))
    assert state(conn) is State.AWAITING_HELLO, "a refused send changes nothing"
    conn.send(Hello(token="t"))
    with pytest.raises(LocalProtocolError, match="Hello in state AUTHENTICATING"):
        conn.send(Hello(token="t"))
    conn.send(Join(room="general"))  # pipelining is allowed
    assert state(conn) is State.AUTHENTICATING


def test_ids() -> None:
    """Requests are numbered; a given id is kept; an id still waiting or not an id is misuse."""
    conn = ClientConnection()
    assert json.loads(conn.send(Hello(token="t")))["id"] == 1
    assert json.loads(conn.send(Ping(id=3)))["id"] == 3
    assert json.loads(conn.send(Ping()))["id"] == 2
    assert json.loads(conn.send(Ping()))["id"] == 4, "3 is still waiting"
    with pytest.raises(LocalProtocolError, match="still waiting"):
        conn.send(Ping(id=3))
    for bad in (True, 1.5, "x" * 65):
        with pytest.raises(LocalProtocolError, match="an id is"):
            conn.send(Ping(id=bad))  # type: ignore[arg-type]
    assert conn.waiting == 4
    conn.receive_data(b'{"op":"error","id":true,"code":"internal","message":""}\n')
    with pytest.raises(RemoteProtocolError, match="'id' must be"):
        conn.next_event()
    assert conn.waiting == 4, "true is not the id 1"


def test_data_after_the_end_is_misuse() -> None:
    conn = ClientConnection()
    conn.receive_data(b"")
    with pytest.raises(LocalProtocolError):
        conn.receive_data(b"{}\n")


# --------------------------------------------------------------------------- both ends


class ConnectionPair:
    """A client and a server connection joined in memory, as h11's tests/helpers.py joins
    its pair: what one side sends, the other receives, a byte at a time."""

    def __init__(self) -> None:
        self.client = ClientConnection()
        self.server = ServerConnection()

    def client_sends(self, *requests: Request) -> list[object]:
        """What the server reads after the client sent ``requests``."""
        data = b"".join(self.client.send(request) for request in requests)
        for byte in data:
            self.server.receive_data(bytes([byte]))
        return self._server_reads()

    def _server_reads(self) -> list[object]:
        read: list[object] = []
        while (event := self.server.next_event()) not in (NEED_DATA, PAUSED, CLOSED):
            read.append(event)
        return read

    def server_sends(self, *events: ServerEvent) -> list[object]:
        """What the client reads after the server sent ``events``."""
        data = b"".join(self.server.send(event) for event in events)
        return feed(self.client, (bytes([byte]) for byte in data))


def test_a_client_and_a_server_talk() -> None:
    pair = ConnectionPair()
    # Hello with a pipelined join: the server holds the join until it has welcomed.
    got = pair.client_sends(Hello(token="secret"), Join(room="general"))
    assert got == [Hello(id=1, token="secret")]
    assert pair.server.next_event() is PAUSED
    welcome = Welcome(id=1, user={"id": 1, "name": "ann"},
                      rooms=({"room": "general", "kind": "room", "last_seq": 0},),
                      ping_interval=30, max_text_chars=4000, keywords_per_user=50)
    assert pair.server_sends(welcome) == [welcome]
    assert pair.client.state is pair.server.state is State.READY
    assert pair._server_reads() == [Join(id=2, room="general")]

    joined = JoinAccepted(id=2, room="general", last_seq=1, messages=(MESSAGE,), more=False)
    assert pair.server_sends(joined) == [joined]

    # A send: its message event and its ack, in either order, and other replies between.
    assert pair.client_sends(Send(room="general", text="hello", nonce="n1"), Rooms()) == \
        [Send(id=3, room="general", text="hello", nonce="n1"), Rooms(id=4)]
    mine = MessagePosted(room="general", seq=2, msg_id=8, sender="ann", text="hello", ts=5,
                         nonce="n1")
    events = [Answer(id=4, fields={"rooms": []}), mine,
              Sent(id=3, room="general", seq=2, msg_id=8, ts=5),
              PresenceChanged(user="bob", status="online")]
    assert pair.server_sends(*events) == events
    assert pair.client.waiting == 0

    # A request the server refuses, a leave, a history page.
    assert pair.client_sends(History(room="nowhere"), Leave(room="general")) == \
        [History(id=5, room="nowhere"), Leave(id=6, room="general")]
    refused = Error(id=5, code="not_found", message="no such room")
    assert pair.server_sends(refused, Ok(id=6)) == [refused, Ok(id=6)]

    # The server stops: both ends are closed.
    bye = Error(code="shutting_down", message="bye")
    assert pair.server_sends(bye) == [bye]
    assert state(pair.client) is state(pair.server) is State.CLOSED


def test_a_bad_request_is_answered_and_the_pair_goes_on() -> None:
    """The client sends what the server refuses (a blank text): the error reaches the client
    as the reply to that request."""
    pair = ConnectionPair()
    pair.client_sends(Hello(token="t"))
    pair.server_sends(dataclasses.replace(WELCOME, id=1))
    [refusal] = pair.client_sends(Send(room="a", text="   ", nonce="n"))
    assert isinstance(refusal, RequestError) and refusal.id == 2
    error = Error(id=refusal.id, code=refusal.code, message=refusal.message)
    assert pair.server_sends(error) == [error]
    assert pair.server_sends(Gap(room="a", after=1, last_seq=9)) == \
        [Gap(room="a", after=1, last_seq=9)]


def test_a_page_of_rooms_goes_and_comes_back() -> None:
    """A ``rooms`` request with its paging fields reaches the server as sent (the search
    lower-cased), and its reply, ``more`` included, reaches the client as an Answer."""
    pair = ConnectionPair()
    pair.client_sends(Hello(token="t"))
    pair.server_sends(Welcome(id=1, user={"id": 1, "name": "ann"}, rooms=(), ping_interval=30))
    asked = Rooms(query="Des", after="alpha", limit=2, joined=True)
    assert pair.client_sends(asked) == [Rooms(id=2, query="des", after="alpha", limit=2,
                                              joined=True)]
    page = Answer(id=2, fields={"rooms": [{"room": "design", "kind": "room"}], "more": True})
    assert pair.server_sends(page) == [page]
    assert pair.client.waiting == 0
