"""What the server reads in a message's text: the ``@name`` mentions, the group mentions
(``@room``, ``@all``, ``@everyone``, ``@here``), the first link (for its preview), and
whether a reaction's emoji is one (a Unicode emoji, or a custom one's ``:name:``).

The text itself is stored and sent as its author typed it; clients render the Markdown subset
(docs/protocol.md, "Formatting"). The server only needs to know which members a message names,
and it must agree with the renderers on one rule: nothing inside code (a fenced block or a
backtick span) is a mention, nor a link to preview, so that ``@bob`` quoted in a snippet
alerts nobody and a URL in a snippet fetches nothing. A group
mention is a word like a name (the same boundaries, any case): "@all-hands" is not one, "@all,"
and "@ALL" are.
"""

from __future__ import annotations

import functools
import re
from typing import Final

import emoji as _emoji

__all__ = ["CUSTOM_EMOJI_NAME", "GROUP_TOKENS", "MAX_EMOJI_CHARS", "MAX_LINK_CHARS",
           "MAX_MENTIONS", "custom_emoji_name", "first_link", "group_mention", "is_emoji",
           "mention_candidates", "normalise_emoji", "without_code"]

#: The most names one message can mention; more are not looked up (a message naming 500
#: people is a broadcast, not a mention).
MAX_MENTIONS: Final = 50
#: The words that mention a group of a room's members, lower-cased, and the group each
#: names: ``"room"`` (every member) or ``"here"`` (the members online when it is sent).
GROUP_TOKENS: Final = {"room": "room", "all": "room", "everyone": "room", "here": "here"}
#: The longest emoji accepted, in code points (family and flag sequences run to about 10).
MAX_EMOJI_CHARS: Final = 16
#: A custom emoji's name (migration 0031): 1-32 of lower-case letters, digits, "_", "+" and
#: "-", written ``:name:`` in a reaction and in text (as Slack's, Mattermost's and Zulip's).
CUSTOM_EMOJI_NAME: Final = re.compile(r"[a-z0-9_+-]{1,32}")
#: The longest link that is previewed (chatd.addresses.MAX_URL_CHARS: what chatd fetches).
MAX_LINK_CHARS: Final = 2048

# A fence opens a code block at the start of a line (up to three spaces in) with three or more
# backticks or tildes; the block ends at a line with a fence of the same kind at least as long,
# or at the end of the text (CommonMark). After a backtick fence the line holds no backtick:
# "```x```" on one line is a code span, not a block.
_FENCE: Final = re.compile(r"^ {0,3}(`{3,}(?=[^`]*$)|~{3,})")
# An inline code span: a run of backticks, then anything, then a run of the same length.
_CODE_SPAN: Final = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)
# The links the page renders (clients/web/markdown.js), outside code: "<https://…>",
# "[text](https://…)" (a label without "[" or a line break; the target may hold one level of
# parentheses) and a bare http(s) URL that does not follow a letter or digit and does not end
# in punctuation that more likely closes the sentence.
_LINK: Final = re.compile(
    r"<(https?://[^\s<>]+)>"
    r"|\[[^\[\]\n]{1,1000}\]\(((?:[^\s()]|\([^\s()]*\))+)\)"
    r"|(?<![^\W_])(https?://[^\s<>\"'`]*[^\s<>\"'`.,;:!?)\]*_~])",
    re.IGNORECASE)
# "@name" where "@" does not follow a name character (an e-mail address is not a mention).
_MENTION: Final = re.compile(r"(?<![A-Za-z0-9_.@-])@([A-Za-z0-9_.-]{1,32})")


def without_code(text: str) -> str:
    """``text`` with its fenced code blocks and inline code spans blanked out."""
    kept: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        opened = _FENCE.match(line)
        if fence is None:
            if opened:
                fence = opened.group(1)
                continue
            kept.append(line)
        elif opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence) \
                and not line.strip().lstrip(fence[0]):
            fence = None
    return _CODE_SPAN.sub(" ", "\n".join(kept))


def mention_candidates(text: str) -> list[str]:
    """The names ``text`` may mention, lower-cased, each once, in order, at most
    :data:`MAX_MENTIONS`. A name followed by sentence punctuation is also tried without it
    ("ask @bob." names bob, and a user called "bob." too): the server keeps only those that
    are members of the room."""
    found: dict[str, None] = {}
    for match in _MENTION.finditer(without_code(text)):
        name = match.group(1).lower()
        found[name] = None
        stripped = name.rstrip(".-")
        if stripped:
            found[stripped] = None
        if len(found) >= MAX_MENTIONS:
            break
    return list(found)[:MAX_MENTIONS]


def first_link(text: str) -> str:
    """The first http(s) link of ``text`` as the page renders it (docs/protocol.md,
    "Formatting"), outside code; "" when there is none (or it is longer than
    :data:`MAX_LINK_CHARS`). Cheap for a text without "http", as most are."""
    if "http" not in text.lower():
        return ""
    for match in _LINK.finditer(without_code(text)):
        url = next(group for group in match.groups() if group is not None)
        if url.lower().startswith(("http://", "https://")):
            return url if len(url) <= MAX_LINK_CHARS else ""
    return ""


# Any of the group words, after an "@" (a cheap test before the parse: most texts with "@"
# name people, not groups).
_GROUP_HINT: Final = re.compile(r"@(?:room|all|everyone|here)", re.IGNORECASE)


def group_mention(text: str) -> str | None:
    """The group ``text`` mentions: ``"room"`` when it holds ``@room``, ``@all`` or
    ``@everyone``, else ``"here"`` when it holds ``@here`` (every member covers the online
    ones), else None. Not inside code, and only as a whole word, as :func:`mention_candidates`
    reads a name (so "@here." counts, "@hereafter" does not). Whether the text is sent where
    a group can be mentioned (not in a 1:1 conversation) is the caller's to know."""
    if not _GROUP_HINT.search(text):
        return None
    found: str | None = None
    for match in _MENTION.finditer(without_code(text)):
        name = match.group(1).lower()
        group = GROUP_TOKENS.get(name) or GROUP_TOKENS.get(name.rstrip(".-"))
        if group == "room":
            return group
        found = group or found
    return found


# Reactions repeat a handful of emoji, and the emoji table's lookups cost a few microseconds
# each: remembered, a reaction parses about as fast as a send.
@functools.lru_cache(maxsize=4096)
def normalise_emoji(value: str) -> str | None:
    """The fully-qualified form of one emoji (so that "❤" and "❤️" are one reaction), or
    None when ``value`` is not exactly one emoji of Unicode's recommended set (a skin tone,
    a ZWJ family and a flag are one emoji each)."""
    if not value or len(value) > MAX_EMOJI_CHARS or not _emoji.is_emoji(value):
        return None
    qualified = _emoji.emojize(_emoji.demojize(value))
    return qualified if _emoji.is_emoji(qualified) else value


def is_emoji(value: str) -> bool:
    """Whether ``value`` is exactly one emoji (see :func:`normalise_emoji`)."""
    return normalise_emoji(value) is not None


def custom_emoji_name(value: str) -> str | None:
    """The name of a custom emoji written ``:name:`` (``value`` whole), or None when
    ``value`` is not one (an upper-case letter, a space, more than 32 characters)."""
    if len(value) > 2 and value[0] == value[-1] == ":" \
            and CUSTOM_EMOJI_NAME.fullmatch(value, 1, len(value) - 1):
        return value[1:-1]
    return None
