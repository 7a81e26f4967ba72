"""User and room names: what is valid, and the one normal form of a room name."""

from __future__ import annotations

from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatd.protocol import (
    GROUP_MAX,
    Dm,
    InvalidName,
    Limits,
    RequestError,
    conversation_name,
    dm_room_name,
    group_room_name,
    is_conversation,
    is_dm_room,
    normalise_new_user,
    normalise_room,
    normalise_user,
    parse_request,
)
from chatd.protocol.events import MAX_TO_NAMES
from chatd.protocol.names import conversation_members, is_group_room
from tests.strategies import group_people, room_names, user_names

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


# -- conversations: 1:1 and group ---------------------------------------------------------------


@given(group_people)
def test_group_name_round_trip(people: list[str]) -> None:
    """A group conversation's name is canonical: normalising it (or its upper case) gives it
    back, it is a group's and no 1:1's, and it is made of its people in lower case."""
    name = group_room_name(people)
    assert normalise_room(name) == name
    assert normalise_room(name.upper()) == name
    assert is_conversation(name) and is_group_room(name) and not is_dm_room(name)
    assert conversation_members(name) == sorted(p.lower() for p in people)
    assert conversation_name(people) == name


@given(group_people, st.randoms(use_true_random=False), st.data())
def test_any_order_and_case_of_one_set_gives_one_name(people: list[str], rng: Random,
                                                      data: st.DataObject) -> None:
    """The same people in any order, any case, with repeats, give one name."""
    shuffled = list(people)
    rng.shuffle(shuffled)
    recased = [data.draw(st.sampled_from([p, p.lower(), p.upper(), p.swapcase()]))
               for p in shuffled]
    repeats = recased + data.draw(st.lists(st.sampled_from(recased), max_size=3))
    assert group_room_name(repeats) == group_room_name(people)
    assert conversation_name(repeats) == group_room_name(people)


@given(st.lists(user_names, min_size=1, max_size=2, unique_by=str.lower))
def test_one_or_two_people_are_a_1_1_conversation(people: list[str]) -> None:
    """One person is notes to self, two a 1:1 conversation: as dm_room_name names them."""
    name = conversation_name(people)
    assert name == dm_room_name(people[0], people[-1])
    assert is_dm_room(name) and not is_group_room(name)
    with pytest.raises(InvalidName):
        group_room_name(people)


@given(st.lists(user_names, min_size=GROUP_MAX + 1, max_size=GROUP_MAX + 3,
                unique_by=str.lower))
def test_more_than_eight_people_is_no_conversation(people: list[str]) -> None:
    """Past GROUP_MAX people there is no conversation: no name, and no name of that shape
    is accepted."""
    with pytest.raises(InvalidName):
        conversation_name(people)
    with pytest.raises(InvalidName):
        group_room_name(people)
    with pytest.raises(InvalidName):
        normalise_room("@" + ":".join(sorted(p.lower() for p in people)))


@given(group_people, st.data())
def test_names_out_of_order_or_repeated_are_refused(people: list[str],
                                                    data: st.DataObject) -> None:
    """A group name whose names are not strictly increasing (out of order, or one twice)
    is refused: only the canonical name of a set is accepted."""
    names = sorted(p.lower() for p in people)
    i = data.draw(st.integers(0, len(names) - 2))
    swapped = [*names[:i], names[i + 1], names[i], *names[i + 2:]]
    with pytest.raises(InvalidName):
        normalise_room("@" + ":".join(swapped))
    repeated = [*names[:i + 1], names[i], *names[i + 1:]]
    with pytest.raises(InvalidName):
        normalise_room("@" + ":".join(repeated[:GROUP_MAX]))


@pytest.mark.parametrize("name", ["@b:a:c", "@a:a:b", "@a:b:b", "@a::b", "@a:b:", "@:a:b",
                                  "@a:b:c/d", "@a:b:caf\u00e9", "@a:b:c:d:e:f:g:h:i", "@",
                                  "@a", "@a:b:c@"])
def test_invalid_conversation_names(name: str) -> None:
    """Names starting with "@" that are no canonical conversation are refused."""
    with pytest.raises(InvalidName):
        normalise_room(name)


@given(st.text("abc:@", max_size=20))
def test_any_at_name_is_canonical_or_refused(text: str) -> None:
    """Any text starting with "@" is either refused or the canonical name of its own set of
    1 to GROUP_MAX people (two for 1:1, in order; a group's strictly increasing)."""
    try:
        name = normalise_room("@" + text)
    except InvalidName:
        return
    people = name[1:].split(":")
    assert conversation_name(people) == name
    assert 2 <= len(people) <= GROUP_MAX


# -- dm's ``to``: a name or several -------------------------------------------------------------


def _dm(to: object) -> object:
    return parse_request({"op": "dm", "id": 1, "to": to, "text": "hi", "nonce": "n"}, Limits())


@given(group_people, st.data())
def test_dm_to_an_array_folds_repeats_in_any_case(people: list[str], data: st.DataObject
                                                  ) -> None:
    """``to`` as an array keeps each person once (the first spelling), whatever the repeats
    and their case; up to GROUP_MAX distinct names however long the array is with repeats."""
    repeats = data.draw(st.lists(st.sampled_from(people), max_size=2 * GROUP_MAX))
    given_names = people + [name.swapcase() for name in repeats]
    parsed = _dm(given_names)
    assert isinstance(parsed, Dm) and parsed.to == tuple(people)


@pytest.mark.parametrize("to", [[], [f"u{i}" for i in range(GROUP_MAX + 1)], ["ok", 7],
                                ["ok", "not a name"], [["u1"]], {"u1": 1}, 7, None,
                                ["u1"] * (MAX_TO_NAMES + 1)])
def test_dm_to_that_is_no_name_nor_array_of_them_is_refused(to: object) -> None:
    """An empty array, more than GROUP_MAX distinct names, an invalid name in the array,
    anything else than a name or an array: bad_request."""
    parsed = _dm(to)
    assert isinstance(parsed, RequestError) and parsed.code == "bad_request", parsed


@pytest.mark.parametrize(("to", "said"), [
    ([], "'to' must be a user name or a non-empty array of user names"),
    (["u1"] * (MAX_TO_NAMES + 1), f"'to' lists at most {MAX_TO_NAMES} names"),
    ([f"u{i}" for i in range(GROUP_MAX + 1)], f"a conversation has at most {GROUP_MAX} people"),
])
def test_dm_to_refusals_name_the_bound_that_was_passed(to: list[str], said: str) -> None:
    """Each refusal of ``to`` says which bound it broke (the array's length or the people)."""
    parsed = _dm(to)
    assert isinstance(parsed, RequestError) and parsed.message == said, parsed
