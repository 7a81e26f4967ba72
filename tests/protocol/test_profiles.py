"""What a profile may say (chatd.protocol.profiles), and how ``set_profile`` and
``profiles`` are parsed: hypothesis feeds any text, and the rules hold for all of it."""

from __future__ import annotations

import unicodedata
from typing import Any

import emoji as _emoji
from hypothesis import assume, given
from hypothesis import strategies as st

from chatd.protocol import (
    NO_STATUS,
    Limits,
    NewStatus,
    Profiles,
    RequestError,
    SetProfile,
    parse_request,
)
from chatd.protocol.profiles import (
    MAX_DISPLAY_NAME_CHARS,
    MAX_STATUS_TEXT_CHARS,
    clean_profile_text,
    status_emoji,
)
from tests.strategies import profile_texts

REFUSED = ("Cc", "Cf", "Cs", "Zl", "Zp")
# One of each kind refused: a line feed, a tab, ESC, a right-to-left override, a zero-width
# space, a soft hyphen, the line and paragraph separators, U+0000, a lone surrogate.
INVISIBLE = ["\n", "\t", "\x1b", "\u202e", "\u200b", "\u00ad", "\u2028", "\u2029", "\0",
             "\ud800"]
any_text = st.text(st.characters(exclude_categories=()), max_size=80)


def _clean(value: str, max_chars: int = MAX_DISPLAY_NAME_CHARS) -> str | None:
    try:
        return clean_profile_text(value, max_chars=max_chars, what="it")
    except ValueError:
        return None


@given(any_text)
def test_what_is_kept_is_one_visible_line(value: str) -> None:
    """Any text is refused (ValueError) or kept NFC, trimmed, within the bound, with no
    refused character outside an emoji; and what is kept is kept as it is (idempotent)."""
    kept = _clean(value)
    if kept is None:
        return
    assert kept == unicodedata.normalize("NFC", kept) == kept.strip()
    assert len(kept) <= MAX_DISPLAY_NAME_CHARS
    inside = {i for found in _emoji.emoji_list(kept)
              for i in range(found["match_start"], found["match_end"])}
    assert all(unicodedata.category(ch) not in REFUSED or i in inside
               for i, ch in enumerate(kept))
    assert _clean(kept) == kept


@given(profile_texts(MAX_DISPLAY_NAME_CHARS - 1), st.sampled_from(INVISIBLE),
       st.integers(min_value=1))
def test_an_invisible_character_inside_is_refused(name: str, bad: str, at: int) -> None:
    """A control, format or separator character between two visible ones is refused
    wherever it is (an emoji aside)."""
    assume(len(name) >= 2)
    at = 1 + at % (len(name) - 1)
    assert _clean(name[:at] + bad + name[at:]) is None


@given(profile_texts(MAX_STATUS_TEXT_CHARS))
def test_a_stored_text_is_taken_as_it_is(text: str) -> None:
    """Text in the form it is stored in comes back unchanged; one character more than the
    bound is refused."""
    assert _clean(text, MAX_STATUS_TEXT_CHARS) == text
    assert _clean("x" * (MAX_STATUS_TEXT_CHARS + 1), MAX_STATUS_TEXT_CHARS) is None


def test_emoji_sequences_and_their_joiners_are_one_picture() -> None:
    """A ZWJ sequence and a subdivision flag hold format characters, and are kept; a
    joiner alone is not."""
    for name in ("Ann 👩‍💻", "🏴󠁧󠁢󠁳󠁣󠁴󠁿 fan", "👨‍👩‍👧 Lee"):
        assert _clean(name) == name
    assert _clean("Ann\u200dLee") is None


@given(any_text)
def test_a_status_emoji_is_one_emoji_or_none(value: str) -> None:
    """status_emoji keeps '' as none, turns one emoji into its fully-qualified form (the
    same again), and refuses anything else."""
    try:
        found = status_emoji(value)
    except ValueError:
        assert value != "" and not (_emoji.is_emoji(value) and len(value) <= 16)
        return
    assert found == "" if value == "" else _emoji.is_emoji(found)
    assert status_emoji(found) == found


@given(any_text, any_text)
def test_set_profile_parses_or_is_refused(name: str, text: str) -> None:
    """Any display name and status text: a request, with what clean_profile_text keeps,
    or bad_request; never an exception."""
    parsed = parse_request({"op": "set_profile", "display_name": name,
                            "custom_status": {"emoji": "🌴", "text": text}}, Limits())
    kept_name, kept_text = _clean(name), _clean(text, MAX_STATUS_TEXT_CHARS)
    if kept_name is None or kept_text is None:
        assert isinstance(parsed, RequestError) and parsed.code == "bad_request"
        return
    assert parsed == SetProfile(display_name=kept_name,
                                custom_status=NewStatus(emoji="🌴", text=kept_text))


def test_nulls_clear_and_absent_keeps() -> None:
    """null (and "" for the name) clears; a field left out is None (unchanged); a status
    needs an emoji or a text; a request needs a field."""
    limits = Limits()
    assert parse_request({"op": "set_profile", "display_name": None, "custom_status": None},
                         limits) == SetProfile(display_name="", custom_status=NO_STATUS)
    assert parse_request({"op": "set_profile", "display_name": "  "}, limits) == \
        SetProfile(display_name="")
    assert parse_request({"op": "set_profile", "custom_status": {"emoji": "❤"}}, limits) == \
        SetProfile(custom_status=NewStatus(emoji="❤️"))
    bads: list[dict[str, Any]] = [{}, {"custom_status": {}}, {"custom_status": {"text": " "}},
                                  {"custom_status": []}, {"display_name": ["Ann"]}]
    for bad in bads:
        refused = parse_request({"op": "set_profile", **bad}, limits)
        assert isinstance(refused, RequestError) and refused.code == "bad_request", bad
    assert parse_request({"op": "profiles", "users": ["ann", "Bob"]}, limits) == \
        Profiles(users=("ann", "Bob"))
