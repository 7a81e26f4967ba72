"""How the terminal client shows messages (chatd/client/render.py, chatd/client/terminal.py):
the Markdown subset as terminal styles, and no way for a message to send the terminal an
escape sequence of its own."""

from __future__ import annotations

import io
import re

from hypothesis import given
from hypothesis import strategies as st

from chatd.client.render import (
    markdown,
    message_spans,
    plain_text,
    preview_spans,
    reaction_spans,
)
from chatd.client.terminal import SGR, Screen, Span, Style, ansi, room_summary
from chatd.protocol import MessagePosted

ESC = "\x1b"
# The only sequences the client prints: SGR with the parameters of its styles, and reset.
_OURS = re.compile(r"\x1b\[(?:%s)(?:;(?:%s))*m|\x1b\[0m" % (("|".join(map(str, SGR.values())),)
                                                          * 2))
_CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def shown(text: str, *, styled: bool = True, me: str | None = None) -> list[str]:
    """The lines of ``text`` as the terminal gets them."""
    return [ansi(line, styled=styled) for line in markdown(text, styled=styled, me=me).lines]


def message(text: str, **fields: object) -> MessagePosted:
    values: dict[str, object] = {"room": "general", "seq": 4, "msg_id": 40, "sender": "ann",
                                 "text": text, "ts": 1_732_700_000_000, "nonce": "n", "rev": 4}
    values.update(fields)
    return MessagePosted(**values)  # type: ignore[arg-type]


def test_inline_marks_become_styles() -> None:
    """Bold, italics (both marks), strike and code are styles; the marks are not shown;
    a word_with_underscores is not italics; code is not read further."""
    assert shown("**b** *i* _u_ ~~s~~ `c*o*de` snake_case_name") == [
        "\x1b[1mb\x1b[0m \x1b[3mi\x1b[0m \x1b[3mu\x1b[0m \x1b[9ms\x1b[0m "
        "\x1b[2mc*o*de\x1b[0m snake_case_name"]
    assert shown("*a **b** c*") == ["\x1b[3ma \x1b[0m\x1b[1;3mb\x1b[0m\x1b[3m c\x1b[0m"]
    assert shown("2 * 3 * 4 and a*b") == ["2 * 3 * 4 and a*b"]


def test_blocks_quotes_lists_and_links() -> None:
    """Fenced code is indented (fences hidden, nothing read inside), quotes get a bar per
    level, bullets a dot, links show their URL after their text; other schemes are text."""
    text = ("> said **this**\n>> and that\n- one\n2. two\n```\nx = **1**\n```\n"
            "[docs](https://chatd.example/docs) <https://a.example> https://b.example/x.\n"
            "[no](javascript:alert(1))")
    assert shown(text, styled=False) == [
        "│ said **this**", "│ │ and that", "• one", "2. two", "    x = **1**",
        "docs (https://chatd.example/docs) https://a.example https://b.example/x.",
        "[no](javascript:alert(1))",
    ]
    assert markdown(text).block_first and not markdown("a\n> b").block_first
    assert shown("```\nnever closed")[0] == "    \x1b[2mnever closed\x1b[0m"


def test_marks_are_kept_without_styles() -> None:
    """On a screen without styles (a pipe) the inline marks stay as typed."""
    assert shown("**b** _i_ ~~s~~ `c`", styled=False) == ["**b** _i_ ~~s~~ `c`"]


def test_mentions_of_me_are_highlighted() -> None:
    """``@me`` (any case, also before a full stop) is in reverse; others and e-mail
    addresses are not; nothing is when the message does not mention me."""
    assert shown("hi @Ann. @anne a@ann.org", me="ann") == [
        "hi \x1b[1;7m@Ann\x1b[0m. @anne a@ann.org"]
    assert shown("hi @ann") == ["hi @ann"]
    line = ansi(message_spans(message("ping @bob", mentions=["bob"]), number=3,
                              label="general", me="Bob"), styled=True)
    assert "\x1b[1;7m@bob\x1b[0m" in line


def test_group_mentions_are_highlighted() -> None:
    """A message with ``group`` shows its group words: ``@room`` (any of its words) by someone
    else in reverse, as a mention of me; ``@here`` and one's own in bold; without a group (a
    conversation, code) they are plain words."""
    def line(text: str, **fields: object) -> str:
        return ansi(message_spans(message(text, **fields), number=3, label="general",
                                  me="bob"), styled=True)

    assert "\x1b[1;7m@ALL\x1b[0m, look" in line("@ALL, look", group="room")
    assert "\x1b[1m@here\x1b[0m." in line("@here.", group="here")
    assert "\x1b[1m@everyone\x1b[0m" in line("@everyone", group="room", sender="bob")
    assert line("@all of it").endswith("@all of it")
    assert line("@room `@here`", group="room").endswith(
        "\x1b[1;7m@room\x1b[0m \x1b[2m@here\x1b[0m")  # code stays code


def test_a_message_with_its_number_reply_edit_and_reactions() -> None:
    """A message: its reply line first, then number, time, room, sender and text, then
    "(edited)" and the reactions; a deleted one reads [deleted]."""
    answered = message("how about lunch at noon, all of us, at the usual place, or not?",
                       sender="bob", msg_id=39, seq=3, rev=3)
    reply = message("**yes**\nsee you", reply_to=39, edited_ts=1, rev=9,
                    reactions=[("👍", ["bob", "cid"]), ("❤️", ["ann"])])
    text = plain_text(message_spans(reply, number=7, label="general", me="ann",
                                    answered=(2, answered)))
    assert re.fullmatch(
        r" {6}↳ re \[2\] bob: how about lunch at noon, all of us, at the usual place, or…\n"
        r"\[7\] \d\d:\d\d \[general\] ann: yes\n {6}see you \(edited\)  👍 2  ❤️ 1", text), text
    quoted = plain_text(message_spans(message("ok", reply_to=1, quote={"deleted": True}),
                                      number=8, label="general", me="ann"))
    assert quoted.startswith("      ↳ re a deleted message\n[8] ")
    gone = plain_text(message_spans(message("", deleted=True), number=9, label="general",
                                    me="ann"))
    assert gone.endswith("] ann: [deleted]")
    mine = message_spans(reply, number=7, label="general", me="ANN")
    assert Span("❤️ 1", Style.BOLD) in mine and Span("👍 2", Style.NONE) in mine
    line = plain_text(reaction_spans(answered, number=2, label="general", me="ann",
                                     user="cid", emoji="👍", on=False))
    assert line.endswith("(cid took back 👍)")


def test_escape_sequences_in_messages_are_defused() -> None:
    """ESC, the one-byte CSI, BEL, carriage returns and bidi overrides in a message (in its
    text, inside marks, in a link, in a name) reach the terminal as U+FFFD; its line breaks
    start indented lines."""
    evil = ("**\x1b[31mred\x1b[0m** `\x1b]0;title\x07` [x](https://a.example/\x1b[2J)\r"
            "\x9b2J ~~\u202eevil~~\n12:00 [general] admin: hi")
    spans = message_spans(message(evil, sender="m\x1b[5mallory"), number=1,
                          label="general", me="ann")
    assert not any(_CONTROLS.search(span.text.replace("\n", "")) for span in spans)
    out = ansi(spans, styled=True)
    assert "\x9b" not in out and "\x07" not in out and "\r" not in out and "\u202e" not in out
    assert _CONTROLS.sub("", _OURS.sub("", out).replace("\n", "")) == \
        _OURS.sub("", out).replace("\n", "")
    assert ESC not in _OURS.sub("", out)
    assert "\n      12:00 [general] admin: hi" in out
    assert "\x1b[1m\ufffd[31mred\ufffd[0m\x1b[0m" in out
    assert "m\ufffd[5mallory" in out


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300)
       | st.lists(st.sampled_from(["\x1b", "[", "31m", "**", "*", "_", "~~", "`", "```",
                                   "\n", "> ", "- ", "@ann", "https://a.b/", "](", ")",
                                   "\x9b", "\r", "\u202e", "x", " "]),
                  max_size=60).map("".join))
def test_no_text_makes_an_escape_sequence_of_its_own(text: str) -> None:
    """Whatever a message holds, the only escape sequences printed are the client's own
    SGR, and every line break is followed by the indent of a message's next line."""
    for styled in (True, False):
        spans = message_spans(message(text, mentions=["ann"]), number=1, label="general",
                              me="ann", styled=styled)
        # Safe before the screen's last defence, which would hide a hole here:
        assert not any(_CONTROLS.search(span.text.replace("\n", "")) for span in spans)
        out = ansi(spans, styled=styled)
        rest = _OURS.sub("", out)
        assert not _CONTROLS.search(rest.replace("\n", "")), repr(out)
        assert all(line.startswith("      ") for line in rest.split("\n")[1:]), repr(out)
        if not styled:
            assert ESC not in out


def test_deeply_nested_marks_are_bounded() -> None:
    """Marks nested past the bound are shown as typed; a long line of marks is read."""
    nested = "*" * 40 + "x" + "*" * 40
    assert "x" in "".join(shown(nested))
    assert len(shown("**a** " * 600)) == 1


def test_screen_styles_only_when_asked() -> None:
    """A screen prints styles only when styled; its lines are cleaned again either way;
    the room list says how many unread messages mention the user."""
    for styled, expected in ((True, "\x1b[1mb\x1b[0m\ufffd\n"), (False, "b\ufffd\n")):
        stream = io.StringIO()
        Screen(stream, styled=styled).spans([Span("b", Style.BOLD), Span("\x1b")])
        assert stream.getvalue() == expected
    assert room_summary({"unread": 5, "mentions": 1}, "general") == \
        "general (5 unread, 1 mention)"
    assert room_summary({"unread": 1000, "mentions": 2}, "general") == \
        "general (999+ unread, 2 mentions)"


def test_a_link_preview_is_one_indented_line_under_its_message() -> None:
    """A message's preview reads "  ↳ Title — site" on a line of its own (less indented than
    any line of the text, so no text can pass for one); without a site, the title alone;
    a title's escape sequences and line breaks are defused; a tombstone shows none."""
    preview = {"url": "https://forge.example/pr/12", "title": "Fix the flaky test",
               "description": "d", "site": "Forge"}
    text = plain_text(message_spans(message("see https://forge.example/pr/12",
                                            previews=(preview,)),
                                    number=3, label="general", me="bob"))
    assert re.fullmatch(r"\[3\] \d\d:\d\d \[general\] ann: see https://forge\.example/pr/12\n"
                        r"  ↳ Fix the flaky test — Forge", text), text
    hostile = preview_spans({"title": "a\x1b[31mred\nline\u202e", "site": ""})
    assert plain_text(hostile) == "  ↳ a [31mred line"
    gone = message("", deleted=True, previews=(preview,))
    assert "↳" not in plain_text(message_spans(gone, number=4, label="general", me="bob"))
