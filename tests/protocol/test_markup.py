"""What the server reads in a message's text (chatd.protocol.markup): mentions outside code,
and whether a reaction is one emoji."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chatd.protocol import Limits, React, parse_request
from chatd.protocol.markup import (
    GROUP_TOKENS,
    MAX_LINK_CHARS,
    MAX_MENTIONS,
    first_link,
    group_mention,
    is_emoji,
    mention_candidates,
    normalise_emoji,
    without_code,
)

_names = st.from_regex(r"[A-Za-z0-9_]{1,12}", fullmatch=True)
_prose = st.text(st.characters(blacklist_characters="`~@\n\r"), max_size=30)


def test_mentions_are_found_outside_code_only() -> None:
    text = "hi @Ann, @bob.\n`@carol` and ``@dave ` x``\n```\n@eve\n```\n~~~\n@fay\n~~~\nbye @gus"
    assert mention_candidates(text) == ["ann", "bob.", "bob", "gus"]


def test_an_unclosed_fence_runs_to_the_end() -> None:
    assert mention_candidates("@ann\n```\n@bob\n@carol") == ["ann"]


def test_a_one_line_fence_is_a_code_span() -> None:
    """As in CommonMark (and the page): "```x```" on one line opens no block."""
    assert mention_candidates("```@ann``` then @bob\n@carol") == ["bob", "carol"]


def test_an_address_is_not_a_mention() -> None:
    assert mention_candidates("mail ann@example.org or @@bob") == []


@given(st.lists(st.tuples(_prose, _names, st.booleans()), max_size=8))
def test_every_mention_outside_code_and_none_inside(parts: list[tuple[str, str, bool]]
                                                    ) -> None:
    """Text made of prose, @names and @names inside code spans: exactly the names outside
    code are found (lower-cased, once each, in order)."""
    text = ""
    expected: dict[str, None] = {}
    for prose, name, in_code in parts:
        text += f"{prose} "
        if in_code:
            text += f"`@{name}` "
        else:
            text += f"@{name} "
            expected[name.lower()] = None
    assert mention_candidates(text) == list(expected)[:MAX_MENTIONS]


@given(st.text(max_size=200))
def test_any_text_is_read_without_error(text: str) -> None:
    found = mention_candidates(text)
    assert len(found) <= MAX_MENTIONS and len(set(found)) == len(found)
    assert all(name == name.lower() for name in found)
    assert len(without_code(text)) <= len(text) + text.count("`")


def test_emoji_are_one_emoji_made_one_form() -> None:
    for value in ["👍", "👍🏽", "🏳️\u200d🌈", "🇫🇷", "1️⃣", "👨\u200d👩\u200d👧"]:
        assert is_emoji(value), value
    for value in ["", "a", "👍👍", ":+1:", "<b>", "👍 ", "\u200d"]:
        assert not is_emoji(value), value
    assert normalise_emoji("❤") == normalise_emoji("❤️") == "❤️"


@given(st.text(max_size=20))
def test_react_takes_only_emoji(value: str) -> None:
    parsed = parse_request({"op": "react", "room": "a", "msg_id": 1, "emoji": value}, Limits())
    assert isinstance(parsed, React) == is_emoji(value)
    if isinstance(parsed, React):
        assert parsed.emoji == normalise_emoji(value) and parsed.on is True


def test_group_mentions_are_words_outside_code() -> None:
    """@room, @all, @everyone mention the room and @here the online members: any case, with
    a name's boundaries (punctuation after it is fine, more name characters are not), never
    inside code or an address; the room outranks @here."""
    assert group_mention("@ALL standup now") == "room"
    assert group_mention("ping @everyone.") == "room"
    assert group_mention("(@room)") == "room"
    assert group_mention("@Here, anyone on call?") == "here"
    assert group_mention("@here and @all") == "room"
    assert group_mention("@here-ish @all_hands @allison @roomy @hereafter") is None
    assert group_mention("mail all@example.org, `@here`\n```\n@room\n```") is None
    assert group_mention("no group for @bob") is None


_tokens = st.sampled_from(sorted(GROUP_TOKENS))


@given(st.lists(st.tuples(_prose, st.one_of(_names, _tokens), _tokens.map(str.upper),
                          st.sampled_from(["plain", "code", "address"])), max_size=6))
def test_group_mention_is_the_strongest_token_outside_code(
        parts: list[tuple[str, str, str, str]]) -> None:
    """Prose, @names, group words in any case, some inside code spans or after an address's
    name: the group found is that of the words outside code (room over here), and the names
    found are unchanged by the group words' presence (they are candidates like any name)."""
    text = ""
    groups: set[str] = set()
    for prose, name, token, where in parts:
        if where == "code":
            text += f"{prose} `@{token}` @{name} "
        elif where == "address":
            text += f"{prose} x{name}@{token}.org @{name} "
        else:
            text += f"{prose} @{token} @{name} "
            groups.add(GROUP_TOKENS[token.lower()])
        if name.lower() in GROUP_TOKENS:
            groups.add(GROUP_TOKENS[name.lower()])
    expected = "room" if "room" in groups else "here" if groups else None
    assert group_mention(text) == expected


def test_the_first_link_is_the_one_the_page_renders() -> None:
    """<https://…>, [text](https://…) and bare http(s) URLs, whichever comes first, outside
    code; a bare URL does not take the sentence's closing punctuation, nor follow a letter."""
    assert first_link("see https://a.example/x. and https://b.example") == "https://a.example/x"
    assert first_link("`https://code.example` then <https://auto.example/p?q=1>") == \
        "https://auto.example/p?q=1"
    assert first_link("```\nhttps://fenced.example\n```\n[doc](https://doc.example/a_(b))") == \
        "https://doc.example/a_(b)"
    assert first_link("(see HTTPS://Up.example/A)") == "HTTPS://Up.example/A"
    assert first_link("xhttps://glued.example ftp://x.example mailto:a@b.example") == ""
    assert first_link("no link at all") == first_link("http://") == ""
    assert first_link("https://" + "a" * MAX_LINK_CHARS) == ""


@given(st.text(max_size=200))
def test_any_text_has_a_first_link_or_none(text: str) -> None:
    """Any text: "" or an http(s) URL without white space that the text holds, outside
    code."""
    url = first_link(text)
    assert url == "" or (url.lower().startswith(("http://", "https://")) and url in text
                         and url in without_code(text) and not any(c.isspace() for c in url))
