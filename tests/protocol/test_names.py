"""User and room names: what is valid, and the one normal form of a room name."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatd.protocol import InvalidName, normalise_new_user, normalise_room, normalise_user
from tests.strategies import room_names, user_names

NOT_STRINGS = [None, 1, 1.5, True, b"abc", ["abc"], {"abc": 1}]


@given(user_names)
def test_valid_user_names_are_kept(name: str) -> None:
    """A valid user name is accepted as given, case included."""
    assert normalise_user(name) == name


@given(room_names)
def test_valid_room_names_are_kept(name: str) -> None:
    """A valid room name is already in its normal form."""
    assert normalise_room(name) == name


@given(room_names.map(str.upper))
def test_room_names_are_lower_cased(name: str) -> None:
    """Room names are case-insensitive: upper case is folded to lower case."""
    assert normalise_room(name) == name.lower()


@given(room_names)
def test_room_normalisation_is_idempotent(name: str) -> None:
    """Normalising a normal room name again changes nothing."""
    assert normalise_room(normalise_room(name.upper())) == name


@pytest.mark.parametrize(
    "name",
    ["", "x" * 33, "a b", "a/b", "ann@example", "a\n", "\u212a", "anne\u0301", "\u0130"],
)
def test_invalid_user_names(name: str) -> None:
    """User names outside 1-32 of [A-Za-z0-9_.-] are refused."""
    with pytest.raises(InvalidName):
        normalise_user(name)


@pytest.mark.parametrize(
    "name",
    ["", "x" * 65, "a b", "a.b", "a/b", "#general", "a\n", "caf\u00e9", "\u212a", "\u0130",
     "\uff41"],
)
def test_invalid_room_names(name: str) -> None:
    """Room names outside 1-64 of [a-z0-9_-] (after lower-casing) are refused."""
    with pytest.raises(InvalidName):
        normalise_room(name)


def test_kelvin_sign_is_not_k() -> None:
    """The Kelvin sign lower-cases to 'k' but is refused, so no two inputs name one room."""
    assert "\u212a".lower() == "k"
    with pytest.raises(InvalidName):
        normalise_room("\u212aitchen")
    with pytest.raises(InvalidName):
        normalise_user("\u212aitchen")
    assert normalise_room("Kitchen") == "kitchen"


def test_length_limits() -> None:
    """User names are at most 32 characters and room names at most 64."""
    assert normalise_user("u" * 32) == "u" * 32
    assert normalise_room("R" * 64) == "r" * 64


@pytest.mark.parametrize("value", NOT_STRINGS, ids=repr)
def test_non_strings_are_refused(value: object) -> None:
    """A name must be a string."""
    with pytest.raises(InvalidName):
        normalise_user(value)
    with pytest.raises(InvalidName):
        normalise_room(value)


@given(st.text(max_size=70))
def test_any_text_is_a_room_name_or_refused(text: str) -> None:
    """Any text is either refused or normalised to a valid, lower-case ASCII room name."""
    try:
        room = normalise_room(text)
    except InvalidName:
        return
    assert room == text.lower()
    assert room.isascii()
    assert 1 <= len(room) <= 64
    assert set(room) <= set("abcdefghijklmnopqrstuvwxyz0123456789_-")


def test_invalid_name_is_a_value_error() -> None:
    """InvalidName is a ValueError, so callers that catch ValueError see it."""
    assert issubclass(InvalidName, ValueError)


def test_new_accounts_cannot_take_a_group_mentions_word() -> None:
    """"all", "here", "room", "everyone" (any case) name groups in mentions: refused for a new
    account, still valid names of existing ones (they log in, are looked up)."""
    for word in ["all", "HERE", "Room", "everyone"]:
        with pytest.raises(InvalidName, match="reserved"):
            normalise_new_user(word)
        assert normalise_user(word) == word
    assert normalise_new_user("allison") == "allison"
