"""Notification keywords without a daemon: the rule (chatd.protocol.keywords, which the
server's chatd.keywords and the terminal client use) against every case of
tests/keyword-cases.json, which the page's tests run too; properties of the rule; the list as
stored (clean_keywords); and which keyword candidates of storage's lookup become pushes
(chatd.keywords.keyword_targets, then chatd.pusher.jobs_for)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from chatd.keywords import keyword_matches, keyword_targets, matches_any
from chatd.protocol.keywords import (
    MAX_KEYWORD_CHARS,
    clean_keywords,
    first_match,
    match_ranges,
    prepare,
)
from chatd.pusher import URGENCY, jobs_for
from chatd.storage import Message, PushSubscription, PushTarget

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "keyword-cases.json").read_text(encoding="utf-8"))["cases"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['keyword']!r} in {c['text']!r}")
def test_every_shared_case(case: dict[str, Any]) -> None:
    """The rule as the page and the terminal client read it: each case of the shared file."""
    assert keyword_matches(case["keyword"], case["text"]) is case["match"]
    assert matches_any([case["keyword"]], case["text"]) is case["match"]


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


# Keywords whose lower case starts and ends with a word character: made of letters and
# digits, with spaces and punctuation inside.
keywords = st.text(st.characters(categories=("L", "N", "Zs", "P")), min_size=1, max_size=20
                   ).map(str.strip).filter(lambda k: k != "" and _is_word(k.lower()[0])
                                           and _is_word(k.lower()[-1]))
# Text around a keyword: anything, with a separator between it and the keyword.
around = st.text(max_size=20)
separators = st.sampled_from([" ", "\n", ".", ",", "(", ")", "*", "`", "!", "?", "-", "'"])


@given(keywords, around, around, separators, separators)
def test_a_keyword_between_separators_always_matches(keyword: str, before: str, after: str,
                                                     left: str, right: str) -> None:
    """A keyword set apart from the rest of the text by a non-word character on each side
    matches, in any case, wherever it is."""
    assume(len(keyword.lower()) == len(keyword))  # lower() keeps it one to one
    assert keyword_matches(keyword, f"{before}{left}{keyword}{right}{after}")
    assert keyword_matches(keyword, f"{left}{keyword.lower()}{right}")
    assert keyword_matches(f"  {keyword}\t", f"{keyword} ")


@given(keywords, st.text(st.characters(categories=("L", "N")), min_size=1, max_size=3),
       st.text(st.characters(categories=("L", "N")), min_size=1, max_size=3))
def test_a_keyword_inside_a_longer_word_never_matches(keyword: str, head: str,
                                                      tail: str) -> None:
    """Word characters glued to a keyword on either side make a longer word: no match (the
    text holds the keyword only there)."""
    assume(all(_is_word(c) for c in head.lower() + tail.lower()))
    text = f"{head}{keyword}{tail}"
    assume(text.lower().count(keyword.lower()) == 1)
    assert not keyword_matches(keyword, text)
    assert not keyword_matches(keyword, f"{head}{keyword}")
    assume(f"{keyword}{tail}".lower().count(keyword.lower()) == 1)
    assert not keyword_matches(keyword, f"{keyword}{tail}")


@given(st.text(max_size=12), st.text(max_size=40))
def test_a_match_is_an_occurrence(keyword: str, text: str) -> None:
    """A match means the trimmed keyword occurs in the text ignoring case; an empty keyword
    never matches; first_match agrees."""
    found = keyword_matches(keyword, text)
    if found:
        assert prepare(keyword) and prepare(keyword) in text.lower()
    if not prepare(keyword):
        assert not found
    assert (first_match(["", "  ", keyword], text) == keyword) is found


def test_first_match_is_the_first_keyword_that_matches() -> None:
    assert first_match(["ops", "deploy", "Outage"], "an OUTAGE, then a deploy") == "deploy"
    assert first_match(["ops"], "opsec") is None
    assert first_match([], "anything") is None


def test_match_ranges_are_where_to_highlight() -> None:
    """Every occurrence that matches, by position of the text, sorted; overlapping matches
    of several keywords merged into one; a character whose lower case is longer does not
    shift the positions."""
    assert match_ranges(["deploy"], "Deploy, redeploy, deploy.") == [(0, 6), (18, 24)]
    assert match_ranges(["call", "on call"], "who is on call?") == [(7, 14)]
    assert match_ranges(["a b", "b c"], "a b c") == [(0, 5)]
    assert match_ranges(["ab", "cd"], "cd ab") == [(0, 2), (3, 5)]
    assert match_ranges(["istanbul"], "İİ istanbul") == [(3, 11)]
    assert match_ranges(["", "  "], "anything") == []


@given(st.lists(st.text(max_size=6), max_size=4), st.text(max_size=30))
def test_match_ranges_agree_with_the_rule(keywords: list[str], text: str) -> None:
    """Some range exactly when some keyword matches; ranges sorted, apart, inside the text."""
    ranges = match_ranges(keywords, text)
    assert bool(ranges) is matches_any(keywords, text)
    assert all(0 <= a < b <= len(text) for a, b in ranges)
    assert all(b1 < a2 for (_, b1), (a2, _) in itertools.pairwise(ranges))


def test_the_list_as_stored() -> None:
    """Trimmed, duplicates folded ignoring case (the first spelling kept), in order."""
    assert clean_keywords([" Deploy ", "on call", "deploy", "ON CALL", "k8s"]) == [
        "Deploy", "on call", "k8s"]
    assert clean_keywords([]) == []
    assert clean_keywords(["x" * MAX_KEYWORD_CHARS]) == ["x" * MAX_KEYWORD_CHARS]
    assert clean_keywords([f"  {'y' * MAX_KEYWORD_CHARS}  "]) == ["y" * MAX_KEYWORD_CHARS]


@pytest.mark.parametrize("values", [
    [""], ["   "], ["x" * (MAX_KEYWORD_CHARS + 1)], ["on\ncall"], ["tab\there"], [3],
    [None], ["ok", ["nested"]], ["a"] * 1001,
])
def test_what_is_refused(values: list[Any]) -> None:
    with pytest.raises(ValueError):
        clean_keywords(values)


@given(st.lists(st.text(min_size=1, max_size=10), max_size=30))
def test_the_stored_list_is_clean(values: list[str]) -> None:
    """What clean_keywords keeps is trimmed, non-empty, distinct ignoring case, in the order
    of first appearance; cleaning it again changes nothing."""
    try:
        kept = clean_keywords(values)
    except ValueError:
        return
    assert all(k == k.strip() and k for k in kept)
    assert len({k.lower() for k in kept}) == len(kept)
    firsts = list(dict.fromkeys(v.strip().lower() for v in values))
    assert [k.lower() for k in kept] == firsts
    assert clean_keywords(kept) == kept


# -- the pusher's matching ------------------------------------------------------------------


def message(room: str, seq: int, text: str, sender: str = "ann") -> Message:
    return Message(room=room, seq=seq, msg_id=seq, sender=sender, text=text, ts=0,
                   nonce=str(seq))


def target(user: str, reason: str, *, room: str = "team", seq: int = 0,
           keywords: tuple[str, ...] = (), sub: int = 1) -> PushTarget:
    return PushTarget(room=room, seq=seq, user=user, reason=reason, keywords=keywords,
                      subscription=PushSubscription(endpoint=f"https://p.example/{user}/{sub}",
                                                    p256dh="k", auth="a"))


def test_a_candidate_becomes_a_target_of_each_message_it_matches() -> None:
    """A keyword candidate (seq 0) stands for every message of its room in the batch: it
    becomes a target of those its keywords match, each subscription once, and of none in
    other rooms; other targets are kept as they are."""
    batch = [message("team", 1, "deploy done"), message("team", 2, "lunch?"),
             message("team", 3, "DEPLOY again"), message("ops", 4, "deploy")]
    mention = target("cid", "mention", seq=2)
    found = keyword_targets(batch, [
        mention,
        target("bob", "keyword", keywords=("deploy",)),
        target("bob", "keyword", keywords=("deploy",), sub=2),
        target("dan", "keyword", keywords=("outage",)),
    ])
    assert mention in found
    assert sorted((t.user, t.seq, t.subscription.endpoint) for t in found
                  if t.reason == "keyword") == [
        ("bob", 1, "https://p.example/bob/1"), ("bob", 1, "https://p.example/bob/2"),
        ("bob", 3, "https://p.example/bob/1"), ("bob", 3, "https://p.example/bob/2")]
    assert all(t.keywords == () for t in found)


def test_never_for_ones_own_message() -> None:
    """The sender's keywords do not match their own message."""
    batch = [message("team", 1, "deploy", sender="bob"), message("team", 2, "deploy")]
    found = keyword_targets(batch, [target("bob", "keyword", keywords=("deploy",))])
    assert [(t.user, t.seq) for t in found] == [("bob", 2)]


def test_a_keyword_push_ranks_after_a_mention_and_before_a_plain_message() -> None:
    """At level all (a "message" target) a keyword raises the push to kind "keyword",
    urgency high; a mention of the same user in the same message stays a mention."""
    batch = [message("team", 1, "deploy now"), message("team", 2, "@bob deploy")]
    found = keyword_targets(batch, [
        target("bob", "message", seq=1), target("bob", "message", seq=2),
        target("bob", "mention", seq=2), target("bob", "keyword", keywords=("deploy",)),
    ])
    jobs = jobs_for(batch, found)
    got = sorted((json.loads(j.payload)["seq"], json.loads(j.payload)["kind"], j.urgency)
                 for j in jobs)
    assert got == [(1, "keyword", "high"), (2, "mention", "high")]
    assert URGENCY["keyword"] == "high"
