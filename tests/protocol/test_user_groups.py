"""User groups' names (chatd/protocol/user_groups.py): what is accepted is lower case, of the
alphabet, never a group mention's word, and accepted again as itself; anything else is
InvalidName, never another exception."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from chatd.protocol import InvalidName, Limits, RequestError, parse_request
from chatd.protocol.names import RESERVED_USERS
from chatd.protocol.user_groups import normalise_user_group

_NAME = re.compile(r"[a-z0-9_.-]{1,32}")
_ALPHABET = "abcxyzABCXYZ019_.-K\u212a@ \u0130"


@given(st.one_of(st.text(_ALPHABET, max_size=34), st.text(max_size=34),
                 st.integers(), st.none(), st.sampled_from(sorted(RESERVED_USERS))))
def test_a_name_is_folded_or_refused(value: object) -> None:
    """Accepted: lower case, 1-32 of a-z 0-9 _ . -, not reserved, the same when given again
    (in any case); refused with InvalidName only."""
    try:
        name = normalise_user_group(value)
    except InvalidName:
        assert not (isinstance(value, str) and value.isascii()
                    and _NAME.fullmatch(value.lower())
                    and value.lower() not in RESERVED_USERS)
        return
    assert _NAME.fullmatch(name) and name not in RESERVED_USERS
    assert isinstance(value, str) and value.isascii() and name == value.lower()
    assert normalise_user_group(name.upper()) == name


@given(st.dictionaries(st.sampled_from(["name", "description", "members", "add", "remove"]),
                       st.one_of(st.text(max_size=5), st.lists(st.text(max_size=4),
                                                               max_size=3),
                                 st.integers(), st.none()), max_size=5),
       st.sampled_from(["user_group", "create_user_group", "edit_user_group",
                        "delete_user_group"]))
def test_any_fields_parse_or_are_bad_request(fields: dict[str, object], op: str) -> None:
    """Whatever a group request's fields hold, it parses or is ``bad_request``."""
    parsed = parse_request({"op": op, "id": 1, **fields}, Limits())
    if isinstance(parsed, RequestError):
        assert parsed.code == "bad_request"
    else:
        assert op == parsed.OP
