"""Hypothesis strategies shared by the tests: valid protocol requests, and byte streams.

Requests are built as the parser would return them, so that a test can compare
``parse_request(r.wire())`` with ``r`` itself: room names are already lower-case, texts are
not blank, and every field is inside the limits of :class:`chatd.protocol.Limits`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from chatd.protocol import (
    REQUESTS,
    AddContact,
    Contacts,
    CreateRoom,
    Dm,
    Hello,
    History,
    Invite,
    Join,
    Kick,
    Leave,
    Limits,
    Ping,
    Read,
    RemoveContact,
    Request,
    RequestId,
    Rooms,
    Send,
    Typing,
    Who,
    dm_room_name,
)
from chatd.protocol.events import (
    MAX_ID_CHARS,
    MAX_NONCE_CHARS,
    MAX_SEQ,
    MAX_TOKEN_CHARS,
    MAX_TOPIC_CHARS,
)

__all__ = [
    "any_room_names",
    "byte_streams",
    "chunked",
    "conversation_names",
    "frames",
    "json_values",
    "nonces",
    "request_ids",
    "requests",
    "room_names",
    "seqs",
    "texts",
    "tokens",
    "user_names",
]

DEFAULT_LIMITS = Limits()

ROOM_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789_-"
USER_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"

room_names = st.text(ROOM_ALPHABET, min_size=1, max_size=64)
"""Valid room names, already in their normal (lower-case) form."""

user_names = st.text(USER_ALPHABET, min_size=1, max_size=32)
"""Valid user names."""

conversation_names = st.builds(dm_room_name, user_names, user_names)
"""Names of 1:1 conversations, in their normal form."""

any_room_names = room_names | conversation_names
"""What may name an existing room: a room's name or a conversation's."""

seqs = st.integers(min_value=0, max_value=MAX_SEQ)
"""Message sequence numbers (0: nothing seen yet)."""

request_ids: st.SearchStrategy[RequestId] = st.none() | st.integers() | st.text(
    max_size=MAX_ID_CHARS
)
"""What a client may put in ``id``: nothing, an integer or a short string."""

nonces = st.text(min_size=1, max_size=MAX_NONCE_CHARS)
tokens = st.text(min_size=1, max_size=MAX_TOKEN_CHARS)


def texts(limits: Limits = DEFAULT_LIMITS) -> st.SearchStrategy[str]:
    """Message texts: 1 to ``limits.max_text_chars`` characters, not all white space."""
    return st.text(min_size=1, max_size=limits.max_text_chars).filter(lambda t: bool(t.strip()))


def _history(limits: Limits) -> st.SearchStrategy[History]:
    bounds = st.one_of(
        st.just({}),
        st.builds(lambda b: {"before": b}, st.integers(1, MAX_SEQ)),
        st.builds(lambda a: {"after": a}, seqs),
    )
    limit = st.none() | st.integers(1, limits.history_max)
    return st.builds(
        lambda rid, room, bound, lim: History(id=rid, room=room, limit=lim, **bound),
        request_ids, any_room_names, bounds, limit,
    )


def requests(limits: Limits = DEFAULT_LIMITS) -> st.SearchStrategy[Request]:
    """Any valid request, of every op in ``REQUESTS``."""
    by_op: dict[str, st.SearchStrategy[Request]] = {
        "hello": st.builds(
            Hello, id=request_ids, token=tokens,
            resume=st.none() | st.dictionaries(room_names, seqs, max_size=5),
        ),
        "join": st.builds(Join, id=request_ids, room=any_room_names),
        "leave": st.builds(Leave, id=request_ids, room=any_room_names),
        "send": st.builds(Send, id=request_ids, room=any_room_names, text=texts(limits),
                          nonce=nonces),
        "history": _history(limits),
        "ping": st.builds(Ping, id=request_ids),
        "dm": st.builds(Dm, id=request_ids, to=user_names, text=texts(limits), nonce=nonces),
        "rooms": st.builds(Rooms, id=request_ids),
        "create_room": st.builds(
            CreateRoom, id=request_ids, room=room_names, private=st.booleans(),
            topic=st.just("") | st.text(min_size=1, max_size=MAX_TOPIC_CHARS),
        ),
        "invite": st.builds(Invite, id=request_ids, room=any_room_names, user=user_names),
        "kick": st.builds(Kick, id=request_ids, room=any_room_names, user=user_names),
        "who": st.builds(Who, id=request_ids, room=any_room_names),
        "typing": st.builds(Typing, id=request_ids, room=any_room_names),
        "read": st.builds(Read, id=request_ids, room=any_room_names, seq=seqs),
        "contacts": st.builds(Contacts, id=request_ids),
        "add_contact": st.builds(AddContact, id=request_ids, user=user_names),
        "remove_contact": st.builds(RemoveContact, id=request_ids, user=user_names),
    }
    missing = set(REQUESTS) - set(by_op)
    assert not missing, f"tests/strategies.py has no strategy for {sorted(missing)}"
    return st.one_of(*by_op.values())


# JSON values, with strings that may hold anything (lone surrogates included: json.dumps
# escapes them, and a peer can send "\ud800" just as well).
_any_text = st.text(st.characters(exclude_categories=()), max_size=20)
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _any_text,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(_any_text, inner, max_size=4),
    max_leaves=12,
)
"""Any JSON value."""


def _near_request(obj: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A request object with some fields replaced by arbitrary JSON values."""
    return st.dictionaries(
        st.sampled_from([*obj, "id", "op", "room", "text", "before", "limit"]), json_values,
        max_size=3,
    ).map(lambda changes: {**obj, **changes})


def frames(limits: Limits = DEFAULT_LIMITS) -> st.SearchStrategy[bytes]:
    """One line (with its newline) as a client might send it: a valid request, a request
    with wrong fields, any JSON value, blank, CRLF-ended, or bytes that are not JSON at all."""
    valid = requests(limits).map(lambda r: r.wire())
    line = st.one_of(
        valid.map(json.dumps),
        valid.flatmap(_near_request).map(json.dumps),
        json_values.map(json.dumps),
        st.sampled_from(["", " ", "\t", "{", "[" * 2000, '{"op":1}', "null"]),
    ).map(lambda text: text.encode("utf-8"))
    raw = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b""))
    return st.tuples(line | raw, st.sampled_from([b"\n", b"\r\n"])).map(b"".join)


def byte_streams(limits: Limits = DEFAULT_LIMITS) -> st.SearchStrategy[bytes]:
    """What may arrive on a connection: a run of frames, random bytes, or both mixed."""
    parts = st.lists(frames(limits) | st.binary(max_size=64), max_size=12)
    return parts.map(b"".join)


def chunked(data: bytes) -> st.SearchStrategy[list[bytes]]:
    """``data`` cut at arbitrary points into non-empty chunks."""
    return st.lists(st.integers(1, max(len(data) - 1, 1)), unique=True, max_size=20).map(
        lambda cuts: _cut(data, sorted(c for c in cuts if c < len(data)))
    )


def _cut(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]
