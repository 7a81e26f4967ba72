"""Text the protocol accepts can be stored: no request with U+0000 or a lone surrogate in any
string field gets past the parser (PostgreSQL's ``text`` holds neither, and a row it refuses
would fail every message committed alongside it)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from chatd.protocol import Limits, Request, RequestError, Send, parse_request
from chatd.protocol.events import is_storable
from tests.strategies import json_values, requests

LIMITS = Limits()
BAD = ["\0", "\ud800", "\udfff"]


@pytest.mark.parametrize("bad", BAD, ids=repr)
@pytest.mark.parametrize(
    ("obj", "key"),
    [
        ({"op": "send", "room": "a", "text": "hi", "nonce": "n"}, "text"),
        ({"op": "send", "room": "a", "text": "hi", "nonce": "n"}, "nonce"),
        ({"op": "dm", "to": "bob", "text": "hi", "nonce": "n"}, "text"),
        ({"op": "dm", "to": "bob", "text": "hi", "nonce": "n"}, "nonce"),
        ({"op": "create_room", "room": "a", "topic": "news"}, "topic"),
        ({"op": "hello", "token": "t"}, "token"),
        ({"op": "join", "room": "a"}, "room"),
        ({"op": "invite", "room": "a", "user": "bob"}, "user"),
    ],
)
@pytest.mark.parametrize("where", ["start", "middle", "end", "alone"])
def test_unstorable_text_is_bad_request(obj: dict[str, Any], key: str, bad: str,
                                        where: str) -> None:
    """U+0000 or a lone surrogate anywhere in a string field is bad_request, id echoed."""
    value = obj[key]
    obj = {**obj, "id": 3, key: {"start": bad + value, "middle": value[:1] + bad + value[1:],
                                 "end": value + bad, "alone": bad}[where]}
    event = parse_request(obj, LIMITS)
    assert isinstance(event, RequestError), event
    assert (event.code, event.id) == ("bad_request", 3)


@pytest.mark.parametrize("rid", ["\0", "a\0", "\ud800"], ids=repr)
def test_unstorable_id_is_bad_request_without_it(rid: str) -> None:
    """An id that could not be echoed and logged safely is refused, not echoed."""
    event = parse_request({"op": "ping", "id": rid}, LIMITS)
    assert isinstance(event, RequestError)
    assert (event.code, event.id) == ("bad_request", None)


def test_other_control_and_astral_characters_are_kept() -> None:
    """Only what cannot be stored is refused: other controls, U+FFFF and emoji pass."""
    text = "tab\there\x01\x7f\u0085\uffff\U0001f600"
    parsed = parse_request({"op": "send", "room": "a", "text": text, "nonce": "\x01n"}, LIMITS)
    assert parsed == Send(room="a", text=text, nonce="\x01n")


def _strings(value: object) -> list[str]:
    """Every string inside a parsed request (keys of mappings included)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for k, v in value.items() for s in _strings(k) + _strings(v)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [s for f in dataclasses.fields(value) for s in _strings(getattr(value, f.name))]
    return []


@given(requests(), st.sampled_from(BAD), st.data())
def test_a_bad_character_in_any_string_field_is_refused(request: Request, bad: str,
                                                         data: st.DataObject) -> None:
    """Take any valid request, put U+0000 or a lone surrogate somewhere in one of its string
    fields: it is refused with bad_request."""
    obj = request.wire()
    keys = sorted(k for k, v in obj.items() if isinstance(v, str) and k != "op")
    if not keys:
        return  # nothing to spoil (ping, rooms, contacts with an integer or no id)
    key = data.draw(st.sampled_from(keys))
    at = data.draw(st.integers(0, len(obj[key])))
    spoiled = {**obj, key: obj[key][:at] + bad + obj[key][at:]}
    event = parse_request(json.loads(json.dumps(spoiled)), LIMITS)
    assert isinstance(event, RequestError), (key, event)
    assert event.code == "bad_request"


@given(json_values)
@example({"op": "send", "room": "a", "text": "a\u0000b", "nonce": "n"})
@example({"op": "create_room", "room": "a", "topic": "\ud800"})
def test_whatever_parses_is_storable(value: Any) -> None:
    """Whatever JSON comes in, every string of a request the parser accepts is storable."""
    event = parse_request(value, LIMITS)
    if isinstance(event, Request):
        assert all(is_storable(s) for s in _strings(event))
