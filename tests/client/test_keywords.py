"""The terminal client's notification keywords: the rule it uses (chatd.protocol.keywords)
against every case of tests/keyword-cases.json, which the server and the page run too; a
message holding one of the user's keywords is highlighted (the words matched, as a mention of
the user is) and rings the bell (--bell) as a mention does; /keywords lists, adds, removes
and clears them, in memory on a fake link and against a real daemon (the client a real
process on a pty, the user's other device the tests' protocol client).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from chatd.client.render import highlight_keywords, message_spans
from chatd.client.terminal import Span, Style, ansi
from chatd.config import Config
from chatd.protocol import Answer, KeywordsChanged, SetKeywords, Welcome
from chatd.protocol.keywords import keyword_matches
from tests.client.test_changes import ann_with_bob_and_phone
from tests.client.test_render import message
from tests.client.test_room_settings import _session
from tests.client.test_terminal import config  # noqa: F401
from tests.e2e.conftest import running

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parents[1] / "keyword-cases.json").read_text(encoding="utf-8"))["cases"]
HIGH, OFF = "\x1b[1;7m", "\x1b[0m"


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['keyword']!r} in {c['text']!r}")
def test_every_shared_case(case: dict[str, Any]) -> None:
    """The client reads a keyword as the server and the page do: each shared case, by the
    rule and by what the client highlights (a match highlights something, none nothing)."""
    assert keyword_matches(case["keyword"], case["text"]) is case["match"]
    line = highlight_keywords([Span(case["text"])], [case["keyword"]])
    assert any(Style.REVERSE in span.style for span in line) is case["match"]
    assert "".join(span.text for span in line) == case["text"]


def _line(text: str, keywords: tuple[str, ...], **fields: object) -> str:
    return ansi(message_spans(message(text, **{"sender": "bob", **fields}), number=3,
                              label="general", me="ann", keywords=keywords), styled=True)


def test_the_words_matched_are_highlighted() -> None:
    """In someone else's message the words matched are reversed and bold, each occurrence,
    across the markup's styles (bold stays bold); in the user's own, or with no match,
    nothing is; a longer word is left alone."""
    assert _line("we Deploy at five, deploy!", ("deploy",)).endswith(
        f"[general] bob: we {HIGH}Deploy{OFF} at five, {HIGH}deploy{OFF}!")
    assert f"{HIGH}{OFF}" not in _line("**deploy** now", ("deploy",))
    assert "\x1b[1;7mdeploy\x1b[0m now" in _line("**deploy** now", ("deploy",))
    assert f"who is {HIGH}ON CALL{OFF}?" in _line("who is ON CALL?", ("on call", "x"))
    assert HIGH not in _line("redeploy now", ("deploy",))
    assert HIGH not in _line("deploy now", ("deploy",), sender="ann")
    assert HIGH not in _line("deploy now", ())


async def test_the_bell_rings_for_a_keyword_as_for_a_mention() -> None:
    """With --bell, at ``mentions``: a message holding one of the user's keywords (from the
    welcome, then the event) rings, not one without, not the user's own, not at ``none``;
    at ``all`` every message rings anyway."""
    s = _session()
    s.client.options = dataclasses.replace(s.client.options, bell=True)
    hit = message("the deploy is done", sender="bob")
    assert not s.client.rings_for(hit)
    s.client._on_welcome(Welcome(user={"name": "ann"}, rooms=(), ping_interval=30,
                                 keywords=("Deploy",)))
    assert s.client.keywords == ("Deploy",)
    assert s.client.rings_for(hit)
    assert not s.client.rings_for(message("redeployed", sender="bob"))
    assert not s.client.rings_for(dataclasses.replace(hit, sender="ann"))
    await s.event(KeywordsChanged(keywords=("outage",)))
    assert not s.client.rings_for(hit)
    assert s.client.rings_for(message("an OUTAGE", sender="bob"))
    s.client.rooms["general"].notify = "none"
    assert not s.client.rings_for(message("an OUTAGE", sender="bob"))
    assert s.lines()[-1] == ('-- notification keywords (1): outage (changed on another '
                             'device)')


async def _ask(s: Any, line: str, stored: list[str]) -> SetKeywords:
    """Type ``line``; the request it sent, answered ``ok`` with ``stored``."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(s.line, line)
        await trio.testing.wait_all_tasks_blocked()
        request = s.last()
        await s.event(Answer(id=request.id, fields={"keywords": stored}))
    assert isinstance(request, SetKeywords)
    return request


async def test_the_command_sends_the_whole_list() -> None:
    """/keywords lists; add (words, a quoted phrase) and remove (ignoring case) send the whole
    list, and the reply's list is kept and said; clear sends none; mistakes send nothing."""
    s = _session()
    await s.line("/keywords")
    assert s.lines()[-1].startswith("-- no notification keywords: /keywords add WORD")
    request = await _ask(s, '/keywords add deploy "on call"', ["deploy", "on call"])
    assert request.keywords == ("deploy", "on call")
    assert s.lines()[-1] == '-- notification keywords (2): deploy, "on call"'
    request = await _ask(s, "/keywords add k8s Deploy", ["deploy", "on call", "k8s"])
    assert request.keywords == ("deploy", "on call", "k8s", "Deploy")
    assert s.client.keywords == ("deploy", "on call", "k8s")
    request = await _ask(s, "/keywords remove ON\\ CALL", ["deploy", "k8s"])
    assert request.keywords == ("deploy", "k8s")
    request = await _ask(s, "/keywords clear", [])
    assert request.keywords == ()
    assert s.lines()[-1].startswith("-- no notification keywords")
    sent = len(s.link.sent)
    for line in ("/keywords add", "/keywords remove nothing", "/keywords frobnicate x",
                 '/keywords add "unclosed', "/keywords clear all"):
        await s.line(line)
    assert len(s.link.sent) == sent
    assert s.lines()[-5:] == [
        '!! usage: /keywords [add WORD…|remove WORD…|clear] (a keyword of several words in '
        'quotes: /keywords add "on call")',
        "!! /keywords: not one of your keywords: nothing",
        *['!! usage: /keywords [add WORD…|remove WORD…|clear] (a keyword of several words '
          'in quotes: /keywords add "on call")'] * 3]


async def test_keywords_from_the_terminal(tmp_path: Path, config: Config) -> None:  # noqa: F811
    """ann adds keywords in the terminal (her phone hears the list), bob's message holding
    one is shown with the word highlighted, her phone's change is said, the server's refusal
    is said."""
    async with running(config) as server, trio.open_nursery() as nursery, \
            ann_with_bob_and_phone(tmp_path, server, nursery) as (term, bob, phone):
        await term.type('/keywords add deploy "on call"')
        assert (await phone.event("keywords"))["keywords"] == ["deploy", "on call"]
        await term.expect(r'-- notification keywords \(2\): deploy, "on call"\n')
        await bob.request("send", room="general", text="who is on call for the deploy?",
                          nonce="b2")
        await term.expect(r"bob: who is on call for the deploy\?\n")
        assert f"who is {HIGH}on call{OFF} for the {HIGH}deploy{OFF}?" in term.term.text
        await phone.request("set_keywords", keywords=["outage"])
        await term.expect(r"-- notification keywords \(1\): outage \(changed on another "
                          r"device\)\n")
        await term.type("/keywords add " + "x" * 65)
        await term.expect(r"!! /keywords: .*64 characters")
        await term.type("/keywords")
        await term.expect(r"-- notification keywords \(1\): outage\n")
        await bob.aclose()
        await phone.aclose()


async def test_add_past_the_servers_limit_says_so_before_asking() -> None:
    """The welcome's keywords_per_user (2 here): /keywords add that would hold more keywords
    (ignoring case) says the limit and sends nothing; within it, or from an older server
    that did not say, the list is sent."""
    s = _session()
    s.client._on_welcome(Welcome(user={"name": "ann"}, rooms=(), ping_interval=30,
                                 keywords=("deploy",), keywords_per_user=2))
    assert s.client.keywords_max == 2
    sent = len(s.link.sent)
    await s.line("/keywords add outage k8s")
    assert len(s.link.sent) == sent
    assert s.lines()[-1] == ("!! /keywords: at most 2 keywords (the server's limit): remove "
                             "some first")
    request = await _ask(s, "/keywords add DEPLOY outage", ["deploy", "outage"])
    assert request.keywords == ("deploy", "DEPLOY", "outage")
    s.client._on_welcome(Welcome(user={"name": "ann"}, rooms=(), ping_interval=30,
                                 keywords=("deploy", "outage")))
    assert s.client.keywords_max is None
    request = await _ask(s, "/keywords add k8s", ["deploy", "outage", "k8s"])
    assert request.keywords == ("deploy", "outage", "k8s")
