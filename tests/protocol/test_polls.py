"""The parser of polls (``send``/``dm``'s ``poll``, ``vote``'s ``options``): whatever a peer
sends, a poll the rules allow or a ``bad_request``, never an exception; and every poll the
rules allow is read back as sent (its options trimmed)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from chatd.protocol import PollSpec, RequestError, Send, Vote, parse_request
from chatd.protocol.events import MAX_POLL_OPTION_CHARS, POLL_OPTIONS_MAX
from tests.strategies import DEFAULT_LIMITS, json_values, poll_specs

_option = st.one_of(
    st.text(max_size=MAX_POLL_OPTION_CHARS + 3),
    st.sampled_from(["", "  ", "Yes", "yes", " YES ", "\u00a0no\u00a0", "x" * 101, "\0"]),
    json_values,
)
_polls: st.SearchStrategy[Any] = st.one_of(
    json_values,
    st.fixed_dictionaries({"options": st.lists(_option, max_size=12)},
                          optional={"multiple": st.booleans() | json_values}),
)


def _send(poll: Any, text: str = "Which day?") -> object:
    return {"op": "send", "id": 1, "room": "general", "text": text, "nonce": "n1",
            "poll": poll}


@given(poll=_polls)
def test_any_poll_is_a_valid_poll_or_bad_request(poll: Any) -> None:
    """A send with any ``poll`` parses to a poll that keeps every rule (2-10 options, each
    1-100 characters and trimmed, distinct ignoring case) or is refused with bad_request."""
    parsed = parse_request(_send(poll), DEFAULT_LIMITS)
    if isinstance(parsed, RequestError):
        assert parsed.code == "bad_request", parsed
        return
    assert isinstance(parsed, Send)
    spec = parsed.poll
    if poll is None:
        assert spec is None
        return
    assert spec is not None and isinstance(poll, dict)
    assert 2 <= len(spec.options) <= POLL_OPTIONS_MAX
    assert all(1 <= len(o) <= MAX_POLL_OPTION_CHARS and o == o.strip() for o in spec.options)
    assert len({o.casefold() for o in spec.options}) == len(spec.options)
    assert list(spec.options) == [o.strip() for o in poll["options"]]
    assert spec.multiple is poll.get("multiple", False)


@given(spec=poll_specs)
def test_a_valid_poll_reads_back_as_sent(spec: PollSpec) -> None:
    """A poll the rules allow, as a client sends it, parses back to the same (send and dm)."""
    sent = Send(id=1, room="general", text="Q?", nonce="n1", poll=spec)
    assert parse_request(sent.wire(), DEFAULT_LIMITS) == sent
    dm = {"op": "dm", "id": 2, "to": "bob", "text": "Q?", "nonce": "n2",
          "poll": {"options": list(spec.options), "multiple": spec.multiple}}
    parsed = parse_request(dm, DEFAULT_LIMITS)
    assert not isinstance(parsed, RequestError) and getattr(parsed, "poll", None) == spec


def test_a_poll_needs_a_question_even_with_files() -> None:
    """A poll's text is its question: blank is refused, files or not."""
    for extra in ({}, {"files": [3]}):
        parsed = parse_request({**_send({"options": ["a", "b"]}, text=" "), **extra},  # type: ignore[dict-item]
                               DEFAULT_LIMITS)
        assert isinstance(parsed, RequestError) and "'text'" in parsed.message


@given(options=json_values | st.lists(st.integers(-2, 12) | json_values, max_size=12))
def test_any_vote_is_distinct_indexes_or_bad_request(options: Any) -> None:
    """A vote's ``options`` parse to distinct indexes 0-9, sorted, or bad_request."""
    parsed = parse_request({"op": "vote", "room": "general", "msg_id": 5, "options": options},
                           DEFAULT_LIMITS)
    if isinstance(parsed, RequestError):
        assert parsed.code == "bad_request", parsed
        return
    assert isinstance(parsed, Vote) and isinstance(options, list)
    assert list(parsed.options) == sorted(options)
    assert len(set(parsed.options)) == len(parsed.options)
    assert all(0 <= i < POLL_OPTIONS_MAX for i in parsed.options)
