"""Notification keywords: the words a person names to be alerted of, as of a mention (Slack's
"My keywords", Zulip's alert words, Mattermost's words that trigger mentions).

One rule, read alike by the server (for pushes, :mod:`chatd.keywords`), the web page
(clients/web/keywords.js) and the terminal client (which imports this module, as it imports
the rest of the protocol). tests/keyword-cases.json holds its cases, which each of the three
runs, so that they cannot drift apart:

- a keyword is trimmed (white space at either end); an empty one never matches;
- the keyword and the text are compared lower-cased (:meth:`str.lower`, JavaScript's
  ``toLowerCase``), as plain characters (no pattern: "a.b" is no wildcard);
- a keyword matches where it occurs with no word character (a Unicode letter or digit, or
  ``_``) right before it and none right after it, at any of its occurrences: "deploy"
  matches "Deploy is done", "(deploy)" and "**deploy**", not "redeploy" nor "deploy_bot";
  "outage" matches "outages, then an outage" at its second occurrence.

A user's list as stored (:func:`clean_keywords`): each keyword trimmed, 1 to
:data:`MAX_KEYWORD_CHARS` characters with no control character, duplicates folded ignoring
case (the first spelling kept), in the order given.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from typing import Final

__all__ = ["MAX_KEYWORDS", "MAX_KEYWORD_CHARS", "clean_keywords", "first_match",
           "keyword_matches", "match_ranges", "matches_any", "prepare"]

#: The longest keyword, in characters (code points) once trimmed.
MAX_KEYWORD_CHARS: Final = 64
#: The most keywords one request may carry, whatever the server's limit
#: (``limits.keywords_per_user``, default 50): a bound on the parser's work.
MAX_KEYWORDS: Final = 1000


def _is_word(char: str) -> bool:
    """A word character: a Unicode letter or digit, or ``_``."""
    return char.isalnum() or char == "_"


def prepare(keyword: str) -> str:
    """The keyword as it is compared: trimmed and lower-cased ("" never matches)."""
    return keyword.strip().lower()


def _found(needle: str, haystack: str) -> bool:
    """Whether the prepared ``needle`` occurs in the lower-cased ``haystack`` with no word
    character right before or after it."""
    if not needle:
        return False
    size, start = len(needle), haystack.find(needle)
    while start >= 0:
        end = start + size
        if ((start == 0 or not _is_word(haystack[start - 1]))
                and (end == len(haystack) or not _is_word(haystack[end]))):
            return True
        start = haystack.find(needle, start + 1)
    return False


def keyword_matches(keyword: str, text: str) -> bool:
    """Whether ``keyword`` matches ``text`` by the rule (see the module's docstring)."""
    return _found(prepare(keyword), text.lower())


def first_match(keywords: Iterable[str], text: str) -> str | None:
    """The first of ``keywords`` that matches ``text``, as given; None when none does. The
    text is lower-cased once, however many keywords."""
    lowered: str | None = None
    for keyword in keywords:
        needle = prepare(keyword)
        if not needle:
            continue
        if lowered is None:
            lowered = text.lower()
        if _found(needle, lowered):
            return keyword
    return None


def matches_any(keywords: Iterable[str], text: str) -> bool:
    """Whether any of ``keywords`` matches ``text``."""
    return first_match(keywords, text) is not None


def match_ranges(keywords: Iterable[str], text: str) -> list[tuple[int, int]]:
    """Where ``keywords`` match ``text``: the ``(start, end)`` of each occurrence that
    matches by the rule, as positions of ``text``, sorted, overlapping ones merged (what a
    client highlights)."""
    lowered = text.lower()
    starts: list[int] | None = None
    if len(lowered) != len(text):  # a character whose lower case is longer ("İ")
        pieces = [char.lower() for char in text]
        lowered = "".join(pieces)
        starts = []
        for position, piece in enumerate(pieces):
            starts.extend([position] * len(piece))
        starts.append(len(text))
    found: list[tuple[int, int]] = []
    for keyword in keywords:
        needle = prepare(keyword)
        if not needle:
            continue
        size, start = len(needle), lowered.find(needle)
        while start >= 0:
            end = start + size
            if ((start == 0 or not _is_word(lowered[start - 1]))
                    and (end == len(lowered) or not _is_word(lowered[end]))):
                found.append((start, end) if starts is None else (starts[start], starts[end]))
            start = lowered.find(needle, start + 1)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(found):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def clean_keywords(values: Sequence[object]) -> list[str]:
    """A user's keywords as stored: each trimmed, duplicates folded ignoring case (the first
    kept), in the order given.

    Raises:
        ValueError: a value not a string, empty once trimmed, longer than
            :data:`MAX_KEYWORD_CHARS` or holding a control character (a line break, a
            tab), or more than :data:`MAX_KEYWORDS` values; the message says which.
    """
    if len(values) > MAX_KEYWORDS:
        raise ValueError(f"at most {MAX_KEYWORDS} keywords")
    kept: dict[str, str] = {}
    for value in values:
        if not isinstance(value, str):
            raise ValueError("each keyword must be a string")
        keyword = value.strip()
        if not keyword:
            raise ValueError("a keyword cannot be empty")
        if len(keyword) > MAX_KEYWORD_CHARS:
            raise ValueError(f"a keyword must be at most {MAX_KEYWORD_CHARS} characters")
        if any(unicodedata.category(char) == "Cc" for char in keyword):
            raise ValueError("a keyword cannot hold a control character (a line break, a tab)")
        kept.setdefault(keyword.lower(), keyword)
    return list(kept.values())
