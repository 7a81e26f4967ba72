"""What a profile may say: a display name and a custom status's text and emoji.

A profile is read by everyone on the server, next to the login name, so its words must
not be able to pass for something else: no control or format characters (a right-to-left
override that turns "Ann" around, a zero-width space that makes "ann" and "a​nn" two
names), no line breaks (a name is one line in every client, the terminal's included).
The one exception is inside an emoji: a ZWJ sequence (👩‍💻) and a subdivision flag hold
format characters, and are one picture. Text is NFC-normalised (one spelling of "é"),
trimmed, and counted in code points after that, as Mattermost and Zulip count theirs.
"""

from __future__ import annotations

import unicodedata
from typing import Final

import emoji as _emoji

from chatd.protocol.markup import normalise_emoji

__all__ = ["MAX_DISPLAY_NAME_CHARS", "MAX_STATUS_TEXT_CHARS", "clean_profile_text",
           "status_emoji"]

#: The longest display name, in code points (Slack's "full name" is 80, Mattermost's
#: nickname 64).
MAX_DISPLAY_NAME_CHARS: Final = 64
#: The longest custom status text, in code points (Slack's and Mattermost's are 100).
MAX_STATUS_TEXT_CHARS: Final = 100

# Unicode general categories refused in profile text: controls (line feed and tab too),
# format characters (bidi overrides, zero-width spaces, soft hyphens), surrogates, and the
# line and paragraph separators.
_REFUSED: Final = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def clean_profile_text(value: str, *, max_chars: int, what: str) -> str:
    """``value`` as it is stored: NFC, trimmed ('' when nothing is left).

    Raises:
        ValueError: with a message naming ``what``, when it holds a refused character
            (see the module's docstring) or is longer than ``max_chars`` code points.
    """
    text = unicodedata.normalize("NFC", value).strip()
    if len(text) > max_chars:
        raise ValueError(f"{what} must be at most {max_chars} characters")
    inside_emoji: set[int] = set()
    if any(unicodedata.category(ch) in _REFUSED for ch in text):
        for found in _emoji.emoji_list(text):
            inside_emoji.update(range(found["match_start"], found["match_end"]))
    for index, ch in enumerate(text):
        if unicodedata.category(ch) in _REFUSED and index not in inside_emoji:
            raise ValueError(f"{what} must be one line without control or invisible "
                             f"formatting characters (U+{ord(ch):04X})")
    return text


def status_emoji(value: str) -> str:
    """A custom status's emoji as stored: '' for none, else one emoji in its
    fully-qualified form (as a reaction's: chatd.protocol.markup).

    Raises:
        ValueError: anything else.
    """
    if value == "":
        return ""
    found = normalise_emoji(value)
    if found is None:
        raise ValueError("'emoji' must be one emoji, or \"\" for none")
    return found
