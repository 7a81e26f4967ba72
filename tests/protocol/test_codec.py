"""The NDJSON codec and request parsing, through the sans-IO connection.

The connection is driven here the way chatd's reader drives it: every ``hello`` is welcomed,
every :class:`RequestError` is answered with an ``error`` frame (which also proves the reply
can be encoded), and reading stops at :data:`CLOSED`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from chatd.protocol import (
    CLOSED,
    NEED_DATA,
    PAUSED,
    Ban,
    Error,
    Hello,
    History,
    Join,
    Limits,
    Ping,
    Request,
    RequestError,
    Rooms,
    ServerConnection,
    State,
    Welcome,
    decode_line,
    encode,
    parse_request,
)
from tests.strategies import byte_streams, chunked, json_values, requests

LIMITS = Limits()
SMALL = Limits(max_frame_bytes=300, max_text_chars=40, history_max=20)
HELLO = b'{"op":"hello","token":"t"}\n'


def drain(conn: ServerConnection) -> list[object]:
    """Every event the connection has for us now, answering each as chatd would."""
    seen: list[object] = []
    while True:
        event = conn.next_event()
        if event is NEED_DATA:
            return seen
        seen.append(event)
        if event is CLOSED:
            return seen
        assert event is not PAUSED, "every hello is answered at once"
        if isinstance(event, Hello):
            conn.send(Welcome(id=event.id, user={"name": "ann"}, rooms=[], ping_interval=30))
        elif isinstance(event, RequestError):
            conn.send(Error(id=event.id, code=event.code, message=event.message))
        else:
            assert isinstance(event, Request)


def serve(chunks: list[bytes], limits: Limits = LIMITS, *, eof: bool = True) -> list[object]:
    """The events of a connection fed ``chunks`` one by one (then EOF, if ``eof``)."""
    conn = ServerConnection(limits)
    seen: list[object] = []
    for chunk in [*chunks, *([b""] if eof else [])]:
        conn.receive_data(chunk)
        seen += drain(conn)
        if seen and seen[-1] is CLOSED:
            break
    return seen


def ready(limits: Limits = LIMITS) -> ServerConnection:
    """A connection past its welcome."""
    conn = ServerConnection(limits)
    conn.receive_data(HELLO)
    assert drain(conn) == [Hello(token="t")]
    assert conn.state is State.READY
    return conn


def after_hello(data: bytes, limits: Limits = LIMITS) -> list[object]:
    """The events for ``data`` on a connection in READY, without EOF."""
    conn = ready(limits)
    conn.receive_data(data)
    return drain(conn)


def line(obj: Any) -> bytes:
    return json.dumps(obj).encode() + b"\n"


def codes_of(events: list[object]) -> list[str]:
    return [e.code for e in events if isinstance(e, RequestError)]


# --------------------------------------------------------------------------- round trip


@given(requests())
def test_round_trip(request: Request) -> None:
    """Any valid request survives encode, decode and parse unchanged."""
    frame = encode(request.wire())
    assert parse_request(decode_line(frame[:-1]), LIMITS) == request


@given(requests())
def test_encoded_frame_is_one_line(request: Request) -> None:
    """An encoded frame ends in its only newline (JSON escapes the others)."""
    frame = encode(request.wire())
    assert frame.endswith(b"\n")
    assert frame.count(b"\n") == 1


@given(requests())
def test_request_through_connection(request: Request) -> None:
    """Any valid request sent after the welcome comes out of the connection as it went in."""
    events = after_hello(encode(request.wire()))
    if isinstance(request, Hello):
        assert codes_of(events) == ["bad_request"]
    else:
        assert events == [request]


def test_room_names_are_lower_cased() -> None:
    """A room name is parsed into its lower-case form."""
    parsed = parse_request({"op": "join", "room": "General-1"}, LIMITS)
    assert parsed == Join(room="general-1")
    parsed = parse_request({"op": "hello", "token": "t", "resume": {"Ab": 3}}, LIMITS)
    assert parsed == Hello(token="t", resume={"ab": 3})


def test_unknown_fields_are_ignored() -> None:
    """Fields a request does not know are ignored (newer clients, older servers)."""
    assert parse_request({"op": "ping", "id": 1, "extra": [1]}, LIMITS) == Ping(id=1)


# --------------------------------------------------------------------------- framing


@given(st.data())
def test_any_split_gives_same_events(data: st.DataObject) -> None:
    """Any split of a byte stream into chunks gives the events of the stream fed whole."""
    stream = data.draw(byte_streams(SMALL))
    chunks = data.draw(chunked(stream))
    assert serve(chunks, SMALL) == serve([stream], SMALL)


def test_crlf_split_at_the_limit() -> None:
    """A line of exactly the limit ending in CRLF is accepted however CR and LF arrive."""
    limits = Limits(max_frame_bytes=40)
    frame = b'{"op":"ping","id":"' + b"p" * 19 + b'"}'
    assert len(frame) == limits.max_frame_bytes
    data = HELLO + frame + b"\r\n"
    whole = serve([data], limits)
    assert whole[1] == Ping(id="p" * 19)
    for cut in range(1, len(data)):
        assert serve([data[:cut], data[cut:]], limits) == whole


@given(byte_streams(), st.data())
@example(b"\xff\xfe\n{\n[" * 3, None)
@example(b'{"op":"ping","id":"\\ud800"}\n', None)
@example(b'{"op":"hello","token":"\\udfff","id":"\\ud800x"}\n', None)
def test_random_bytes_never_raise(stream: bytes, data: st.DataObject | None) -> None:
    """Random bytes give only requests, request errors and sentinels, and every error can
    be answered: nothing raises."""
    chunks = data.draw(chunked(stream)) if data is not None else [stream]
    events = serve(chunks)
    assert events[-1] is CLOSED
    assert all(isinstance(e, Request | RequestError) for e in events[:-1])


@given(json_values)
@example({"op": "ping", "id": "\ud800"})
@example({"op": "send", "id": 1, "room": "a", "text": "\ud800", "nonce": "n"})
@example({"op": "join", "id": "\udc00", "room": "a"})
def test_any_json_value_parses_or_is_refused(value: Any) -> None:
    """Any JSON value parses to a request or a request error, both of which can be
    answered with a frame."""
    data = json.dumps(value).encode() + b"\n"
    events = after_hello(data)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, Request | RequestError)
    if isinstance(event, RequestError):
        # the request error was answered by drain(); its id is echoed as JSON can carry it
        assert json.loads(encode(Error(id=event.id, code=event.code, message="").wire()))


def test_line_over_the_limit_is_fatal() -> None:
    """A line over the limit gives one fatal too_large, then CLOSED; later lines are lost."""
    limits = Limits(max_frame_bytes=100)
    events = serve([b"x" * 101 + b"\n" + line({"op": "ping"})], limits, eof=False)
    assert events == [
        RequestError(code="too_large", message="a frame is at most 100 bytes", fatal=True),
        CLOSED,
    ]


def test_unfinished_line_over_the_limit_is_fatal_at_once() -> None:
    """A line that grows past the limit is refused before its newline arrives."""
    limits = Limits(max_frame_bytes=100)
    events = serve([HELLO, b"x" * 60, b"x" * 60], limits, eof=False)
    assert codes_of(events) == ["too_large"]
    assert events[-1] is CLOSED


def test_line_at_the_limit_is_accepted() -> None:
    """A line of exactly the limit (without its newline) is read."""
    frame = line({"op": "ping", "id": 1, "padding": "x" * 100})
    limits = Limits(max_frame_bytes=len(frame) - 1)
    assert after_hello(frame, limits) == [Ping(id=1)]


def test_too_large_is_reported_even_while_paused() -> None:
    """An overflow behind a hello is reported once the session reads again."""
    limits = Limits(max_frame_bytes=100)
    conn = ServerConnection(limits)
    conn.receive_data(HELLO + b"y" * 500)
    assert conn.next_event() == Hello(token="t")
    assert conn.next_event() is PAUSED
    conn.send(Welcome(user={}, rooms=[], ping_interval=30))
    event = conn.next_event()
    assert isinstance(event, RequestError)
    assert (event.code, event.fatal) == ("too_large", True)
    assert conn.next_event() is CLOSED


def test_crlf_is_accepted() -> None:
    """A line may end in CRLF."""
    assert after_hello(b'{"op":"ping","id":1}\r\n') == [Ping(id=1)]


def test_blank_lines_are_skipped() -> None:
    """Blank lines (keepalives) give no event."""
    assert after_hello(b"\n\r\n  \n\t\r\n" + line({"op": "ping"}) + b"\n") == [Ping()]


def test_eof_closes() -> None:
    """EOF closes the session once the lines before it are read; a partial line is lost."""
    assert serve([line({"op": "ping"}), b'{"op":']) == [
        RequestError(code="unauthenticated", message="say hello with a token first"),
        CLOSED,
    ]


# --------------------------------------------------------------------------- bad frames


@pytest.mark.parametrize(
    "data",
    [b'{"op":"ping","id":"\xff"}\n', b"\xc3\x28\n", b"\xed\xa0\x80\n"],
    ids=["invalid-byte", "bad-continuation", "encoded-surrogate"],
)
def test_invalid_utf8_is_bad_frame(data: bytes) -> None:
    """A line that is not UTF-8 is a bad_frame."""
    assert codes_of(after_hello(data)) == ["bad_frame"]


@pytest.mark.parametrize(
    "data",
    [b"{", b"op=ping", b"[]", b"3", b"null", b'"ping"', b"{'op':'ping'}", b"\xef\xbb\xbf{}"],
)
def test_not_a_json_object_is_bad_frame(data: bytes) -> None:
    """A line that is not one JSON object is a bad_frame."""
    assert codes_of(after_hello(data + b"\n")) == ["bad_frame"]


@pytest.mark.parametrize("depth", [2000, 30000])
def test_deep_nesting_is_bad_frame(depth: int) -> None:
    """Nesting deeper than the parser handles is a bad_frame, closed or not."""
    assert codes_of(after_hello(b"[" * depth + b"\n")) == ["bad_frame"]
    nested = b'{"op":"ping","x":' + b"[" * depth + b"]" * depth + b"}\n"
    assert codes_of(after_hello(nested)) == ["bad_frame"]


def test_unknown_op() -> None:
    """An op the server does not know is unknown_op, with the id echoed."""
    assert after_hello(line({"op": "fly", "id": "a1"})) == [
        RequestError(id="a1", code="unknown_op", message="unknown op 'fly'"),
    ]


@pytest.mark.parametrize(
    "obj",
    [
        {"op": 5},
        {"op": None},
        {"room": "a"},
        {"op": "join"},
        {"op": "join", "room": 5},
        {"op": "join", "room": ""},
        {"op": "join", "room": "two words"},
        {"op": "join", "room": "x" * 65},
        {"op": "join", "room": "\u212aelvin"},
        {"op": "leave", "room": ["a"]},
        {"op": "send", "room": "a", "text": "hi"},
        {"op": "send", "room": "a", "text": " \n\t", "nonce": "n"},
        {"op": "send", "room": "a", "text": "x" * 4001, "nonce": "n"},
        {"op": "send", "room": "a", "text": 3, "nonce": "n"},
        {"op": "send", "room": "a", "text": "hi", "nonce": ""},
        {"op": "send", "room": "a", "text": "hi", "nonce": "n" * 65},
        {"op": "send", "room": "a", "text": "hi", "nonce": 1},
        {"op": "send", "room": "a", "text": "\ud800", "nonce": "n"},
        {"op": "history", "room": "a", "before": 1, "after": 0},
        {"op": "history", "room": "a", "before": 0},
        {"op": "history", "room": "a", "before": 2**63},
        {"op": "history", "room": "a", "before": "3"},
        {"op": "history", "room": "a", "after": -1},
        {"op": "history", "room": "a", "after": 1.0},
        {"op": "history", "room": "a", "limit": 0},
        {"op": "history", "room": "a", "limit": 501},
        {"op": "history", "room": "a", "limit": True},
        {"op": "hello"},
        {"op": "hello", "token": ""},
        {"op": "hello", "token": 3},
        {"op": "hello", "token": "t" * 4097},
        {"op": "hello", "token": "t", "resume": []},
        {"op": "hello", "token": "t", "resume": {"a": -1}},
        {"op": "hello", "token": "t", "resume": {"a": "1"}},
        {"op": "hello", "token": "t", "resume": {"a b": 1}},
        {"op": "hello", "token": "t", "resume": {str(i): 0 for i in range(1001)}},
        {"op": "hello", "token": "t", "rooms_limit": 0},
        {"op": "hello", "token": "t", "rooms_limit": "5"},
        {"op": "hello", "token": "t", "rooms_limit": True},
        {"op": "hello", "token": "t", "rooms_limit": 1.0},
        {"op": "hello", "token": "t", "contacts_limit": -1},
        {"op": "hello", "token": "t", "contacts_limit": [1]},
        {"op": "hello", "token": "t", "contacts_limit": False},
        {"op": "contacts", "limit": 0},
        {"op": "contacts", "limit": "5"},
        {"op": "contacts", "after": ""},
        {"op": "contacts", "after": "a b"},
        {"op": "contacts", "after": 1},
        {"op": "contacts", "after": "x" * 33},
    ],
)
@pytest.mark.parametrize("rid", [7, "req-7", None])
def test_bad_fields_are_bad_request(obj: dict[str, Any], rid: Any) -> None:
    """A missing field, a wrong type or a value out of range is bad_request, id echoed."""
    if rid is not None:
        obj = {**obj, "id": rid}
    event = parse_request(obj, LIMITS)
    assert isinstance(event, RequestError)
    assert (event.code, event.id, event.fatal) == ("bad_request", rid, False)


@pytest.mark.parametrize(
    "rid", [True, False, 1.5, [], {}, "x" * 65, "\ud800"], ids=repr,
)
def test_invalid_id_is_bad_request_without_id(rid: Any) -> None:
    """An id that is neither an integer nor a short string is bad_request with id None."""
    events = after_hello(line({"op": "ping", "id": rid}))
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, RequestError)
    assert (event.code, event.id) == ("bad_request", None)


def test_history_bounds() -> None:
    """history takes before, after or neither, and a limit up to the configured maximum."""
    assert parse_request({"op": "history", "room": "a", "after": 0}, LIMITS) == History(
        room="a", after=0
    )
    assert parse_request(
        {"op": "history", "room": "a", "before": 9, "limit": 500}, LIMITS
    ) == History(room="a", before=9, limit=500)
    refused = parse_request({"op": "history", "room": "a", "limit": 21}, SMALL)
    assert isinstance(refused, RequestError)


# -- rooms: the paged room list ----------------------------------------------------------------


def test_rooms_fields() -> None:
    """``rooms`` takes no field (the first page), or a search, a cursor, a size and
    ``joined``; the search is folded to lower case as room names are, and so is the cursor."""
    from chatd.protocol import Rooms

    assert parse_request({"op": "rooms", "id": 1}, LIMITS) == Rooms(id=1)
    assert parse_request(
        {"op": "rooms", "query": "Dev-Ops_2", "after": "Lobby", "limit": 200, "joined": True},
        LIMITS,
    ) == Rooms(query="dev-ops_2", after="lobby", limit=200, joined=True)
    assert parse_request({"op": "rooms", "after": "@Alice:bob", "joined": False},
                         LIMITS) == Rooms(after="@alice:bob")
    assert Rooms().wire() == {"op": "rooms"}  # what an older client sends, still valid


@pytest.mark.parametrize(
    "obj",
    [
        {"op": "rooms", "query": ""},
        {"op": "rooms", "query": "x" * 65},
        {"op": "rooms", "query": "two words"},
        {"op": "rooms", "query": "%"},
        {"op": "rooms", "query": "a*"},
        {"op": "rooms", "query": "\u212aelvin"},  # the Kelvin sign lowers to an ASCII k
        {"op": "rooms", "query": "\ud800"},
        {"op": "rooms", "query": 3},
        {"op": "rooms", "after": ""},
        {"op": "rooms", "after": "a b"},
        {"op": "rooms", "after": 1},
        {"op": "rooms", "limit": 0},
        {"op": "rooms", "limit": "5"},
        {"op": "rooms", "limit": True},
        {"op": "rooms", "joined": "yes"},
    ],
    ids=repr,
)
def test_rooms_bad_fields_are_bad_request(obj: dict[str, Any]) -> None:
    """A search outside the room-name alphabet, a cursor that is no room name, a size that is
    no integer or below 1: bad_request, never a crash."""
    event = parse_request({**obj, "id": 4}, LIMITS)
    assert isinstance(event, RequestError)
    assert (event.code, event.id) == ("bad_request", 4)


def test_rooms_limit_follows_the_configured_maximum() -> None:
    """The largest page is the server's, not a constant of the protocol: a larger size asks
    for a page of it (clamped, not refused)."""
    small = Limits(rooms_page_max=5)
    assert parse_request({"op": "rooms", "limit": 5}, small) == Rooms(limit=5)
    assert parse_request({"op": "rooms", "limit": 6}, small) == Rooms(limit=5)
    assert parse_request({"op": "rooms", "limit": 201}, LIMITS) == Rooms(limit=200)


@given(st.text(max_size=70))
@example("aB-_9")
def test_rooms_query_is_checked_not_crashed(query: str) -> None:
    """Any text as a search is a ``Rooms`` holding it in lower case when it is 1-64 of the
    room-name alphabet (any case), and bad_request otherwise."""
    event = parse_request({"op": "rooms", "query": query}, LIMITS)
    fits = query.isascii() and 1 <= len(query) <= 64 and all(
        c.isalnum() or c in "_-" for c in query)
    if fits:
        assert not isinstance(event, RequestError)
        assert getattr(event, "query", None) == query.lower()
    else:
        assert isinstance(event, RequestError) and event.code == "bad_request"


@given(st.integers(-(2**63), 2**63) | st.text(max_size=8) | st.booleans() | st.floats())
def test_a_bans_delete_messages_is_0_to_7_days(value: object) -> None:
    """``delete_messages`` is an integer of seconds, 0 to 7 days: any other value is
    ``bad_request``; absent it is 0."""
    parsed = parse_request({"op": "ban", "room": "team", "user": "eve",
                            "delete_messages": value}, LIMITS)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 604800:
        assert isinstance(parsed, Ban) and parsed.delete_messages == value
    else:
        assert isinstance(parsed, RequestError) and parsed.code == "bad_request"
    absent = parse_request({"op": "ban", "room": "team", "user": "eve"}, LIMITS)
    assert isinstance(absent, Ban) and absent.delete_messages == 0


# -- paged welcome and contacts -------------------------------------------------------------


def test_paged_hello_and_contacts_fields() -> None:
    """``hello`` takes ``rooms_limit`` (1-rooms_page_max) and ``contacts_limit``
    (0-rooms_page_max); ``contacts`` a cursor and a size. Without them, the requests an
    older client sends, unchanged."""
    from chatd.protocol import Contacts

    assert parse_request({"op": "hello", "token": "t", "rooms_limit": 200,
                          "contacts_limit": 0}, LIMITS) == Hello(
        token="t", rooms_limit=200, contacts_limit=0)
    assert Hello(token="t").wire() == {"op": "hello", "token": "t"}
    assert parse_request({"op": "contacts", "after": "Ann", "limit": 3}, LIMITS) == Contacts(
        after="Ann", limit=3)
    assert Contacts().wire() == {"op": "contacts"}
    assert parse_request({"op": "contacts", "id": 2}, LIMITS) == Contacts(id=2)


@given(st.integers(-3, 12) | st.integers(-(2**70), 2**70) | st.text(max_size=3)
       | st.booleans() | st.floats() | st.none(),
       st.sampled_from([("hello", "rooms_limit"), ("hello", "contacts_limit"),
                        ("contacts", "limit"), ("rooms", "limit"), ("who", "limit")]),
       st.integers(1, 300))
@example(10, ("hello", "rooms_limit"), 9)
@example(2**64, ("contacts", "limit"), 200)
@example(0, ("hello", "contacts_limit"), 9)
@example(0, ("rooms", "limit"), 9)
def test_page_sizes_are_clamped_to_the_configured_maximum(
        value: Any, where: tuple[str, str], most: int) -> None:
    """A page size that is an int of at least 1 (0 too for ``contacts_limit``) is taken, and
    one past the server's rooms_page_max asks for a page of rooms_page_max (clamped, as Slack,
    Zulip and Matrix treat a limit past theirs); anything else is bad_request naming it."""
    limits = Limits(rooms_page_max=most)
    op, field = where
    obj: dict[str, Any] = {"op": op, field: value}
    if op == "hello":
        obj["token"] = "t"
    if op == "who":
        obj["room"] = "general"
    event = parse_request(obj, limits)
    low = 0 if field == "contacts_limit" else 1
    fits = value is None or (isinstance(value, int) and not isinstance(value, bool)
                             and value >= low)
    if fits:
        assert not isinstance(event, RequestError)
        assert getattr(event, field) == (None if value is None else min(value, most))
    else:
        assert isinstance(event, RequestError) and event.code == "bad_request"
        assert field in event.message
