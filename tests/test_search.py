"""The search language (chatd.search), without a database: parsing, the tsquery text, snippets.
What PostgreSQL makes of the tsquery text is tested in tests/storage/test_search.py."""

from __future__ import annotations

import datetime
import itertools
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatd.search import (
    HAS,
    IS,
    MAX_QUERY_CHARS,
    MAX_TERMS,
    QueryError,
    SearchQuery,
    parse_query,
    snippet,
    tsquery_text,
)


def test_words_phrases_exclusions_and_filters() -> None:
    """Each kind of term lands where it belongs; filter names are any case; @ and # may
    lead a name; in:@name is a conversation."""
    query = parse_query('deploy "release notes" -staging -"old news" FROM:@Ann in:#Ops '
                        'in:@bob in:@ann:bob after:2026-01-31 before:2026-03-01 10:30')
    assert query == SearchQuery(
        words=("deploy", "10:30"), phrases=(("release", "notes"),),
        excluded_words=("staging",), excluded_phrases=(("old", "news"),),
        senders=("Ann",), rooms=("ops", "@ann:bob"), peers=("bob",),
        after=datetime.date(2026, 1, 31), before=datetime.date(2026, 3, 1))


def test_in_names_a_group_conversation_by_its_people() -> None:
    """in:@bob,Carol is the conversation of the asking user with bob and carol (names as
    typed, each valid); eight others are more than a conversation holds."""
    assert parse_query("x in:@bob,Carol in:@dan").peers == ("bob,Carol", "dan")
    with pytest.raises(QueryError, match="at most 7 other people"):
        parse_query("x in:@" + ",".join(f"u{i}" for i in range(8)))
    with pytest.raises(QueryError):
        parse_query("x in:@bob,,carol")


def test_typographic_and_unclosed_quotes() -> None:
    """Phones type “curly” quotes; an unclosed quote runs to the end; «» pair."""
    assert parse_query("“a b” c").phrases == (("a", "b"),)
    assert parse_query('x "a b').phrases == (("a", "b"),)
    assert parse_query("«a b» c").phrases == (("a", "b"),)
    assert parse_query("«a b» c").words == ("c",)


@pytest.mark.parametrize(("query", "says"), [
    ("", "empty"),
    ("   ", "empty"),
    ('""', "empty"),
    ("-spam", "not only -exclusions"),
    ('-"spam eggs" -ham', "not only -exclusions"),
    ("from:", "from: needs a value"),
    ("in:", "in: needs a value"),
    ("from:no/slash", "from:no/slash"),
    ("in:Bad!Room", "in:Bad!Room"),
    ("before:2026-13-01", "not a day"),
    ("after:yesterday", "YYYY-MM-DD"),
    ("before:2026-01-01 before:2026-02-01 x", "once"),
    ("after:2026-01-01 before:2026-01-02", "no day is after"),
    ("x -from:ann", "cannot leave things out"),
    ("x -in:ops", "cannot leave things out"),
    ("x -before:2026-01-01", "cannot leave things out"),
    ("-has:link", "not only -exclusions"),
    ("-is:pinned -has:file", "not only -exclusions"),
    ("-has:", "-has: needs a value, as in -has:file"),
    ("x -has:video", "-has:video is none of has:file"),
    ("x -is:unread", "-is:unread is none of is:mention"),
    ("has:link -has:LINKS", "has:link and -has:link: no message is both"),
    ("is:starred x -is:saved", "is:saved and -is:saved: no message is both"),
    ("x " * (MAX_TERMS + 1), "at most"),
    ("x" * (MAX_QUERY_CHARS + 1), "at most"),
])
def test_refusals_say_why(query: str, says: str) -> None:
    """Every refusal is a QueryError whose message names the problem."""
    with pytest.raises(QueryError, match=re.escape(says)):
        parse_query(query)


def test_filters_alone_are_a_query() -> None:
    """from:, in:, before: or after: alone is something to look for."""
    assert parse_query("from:ann").senders == ("ann",)
    assert parse_query("in:ops -spam").rooms == ("ops",)
    assert parse_query("after:2026-01-01").after == datetime.date(2026, 1, 1)


def test_has_and_is_are_negated() -> None:
    """-has: and -is: leave out what passes them (Zulip's negated operators), by the names a
    person types; with a word or another filter they are a query."""
    query = parse_query("deploy -has:links -IS:Pinned -has:attachment is:mention has:image")
    assert (query.has, query.is_, query.not_has, query.not_is) == (
        ("image",), ("mention",), ("link", "file"), ("pinned",))
    assert parse_query("in:ops -has:link").not_has == ("link",)
    assert parse_query("from:ann -is:thread -is:thread").not_is == ("thread",)


#: A ``has:``/``is:`` filter as a person may type it: negated or not, its key, one of the
#: names it takes (any case).
_FILTER_TERMS = st.tuples(
    st.booleans(), st.sampled_from(["has", "is"]), st.integers(0, 100), st.booleans())


@given(st.lists(_FILTER_TERMS, max_size=12), st.booleans())
def test_negated_filters_against_a_model(terms: list[tuple[bool, str, int, bool]],
                                         word: bool) -> None:
    """Any mix of has:/is: filters, negated or not, any alias in any case, with or without a
    word: the parse keeps what each asked for, each once in the order first given, or
    refuses in words a filter given with its negation, or negated filters alone."""
    typed: list[str] = []
    model: dict[str, list[str]] = {"has": [], "is": [], "not_has": [], "not_is": []}
    for negated, key, pick, upper in terms:
        table = HAS if key == "has" else IS
        name = sorted(table)[pick % len(table)]
        typed.append(f"{'-' if negated else ''}{key}:{name.upper() if upper else name}")
        meant = table[name]
        bucket = model[f"not_{key}" if negated else key]
        if meant not in bucket:
            bucket.append(meant)
    text = " ".join((["deploy"] if word else []) + typed)
    both = [n for n in model["has"] if n in model["not_has"]] + [
        n for n in model["is"] if n in model["not_is"]]
    if both:
        with pytest.raises(QueryError, match="no message is both"):
            parse_query(text)
        return
    if not word and not model["has"] and not model["is"]:
        with pytest.raises(QueryError):
            parse_query(text)
        return
    query = parse_query(text)
    assert (list(query.has), list(query.is_), list(query.not_has), list(query.not_is)) == (
        model["has"], model["is"], model["not_has"], model["not_is"])


@given(st.text(max_size=MAX_QUERY_CHARS + 20))
def test_any_text_parses_or_says_why(text: str) -> None:
    """Any input gives a query or a QueryError with a message, nothing else."""
    try:
        query = parse_query(text)
    except QueryError as exc:
        assert str(exc)
        return
    assert query.has_terms or query.has_filters


@given(st.lists(st.text(min_size=1, max_size=10), max_size=5),
       st.lists(st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=3),
                max_size=3))
def test_tsquery_text_quotes_every_word(words: list[str], phrases: list[list[str]]) -> None:
    """Every word is one quoted operand (backslashes and quotes escaped inside), so reading
    the quotes back gives the words again, in order; operators only between operands."""
    text = tsquery_text(words, phrases)
    operands = re.findall(r"'((?:[^'\\]|\\.|'')*)'", text)
    unescaped = [re.sub(r"\\(.)", r"\1", o.replace("''", "'")) for o in operands]
    assert unescaped == [*words, *(w for phrase in phrases for w in phrase)]
    outside = re.sub(r"'((?:[^'\\]|\\.|'')*)'", "", text)
    assert set(outside) <= set(":*()<-> &")


def test_tsquery_text_shapes() -> None:
    assert tsquery_text(["deploy"], []) == "'deploy':*"
    assert tsquery_text(["it's", "a\\b"], [["x", "y"]]) == \
        "'it''s':* & 'a\\\\b':* & ('x' <-> 'y')"
    assert tsquery_text(["a"], [["b"]], join=" | ") == "'a':* | ('b')"
    assert tsquery_text([], []) == ""


def _shown(segments: list[tuple[str, bool]]) -> str:
    return "".join(text for text, _ in segments)


def test_snippet_marks_prefix_hits_and_phrase_words() -> None:
    """Words that begin with a query word are hits, in any case; phrase words whole."""
    query = parse_query('deploy "new release"')
    assert snippet("We DEPLOYED the new release, renewed", query) == [
        ("We ", False), ("DEPLOYED", True), (" the ", False), ("new", True), (" ", False),
        ("release", True), (", renewed", False)]
    assert snippet("plain", parse_query("from:ann")) == [("plain", False)]
    assert snippet("", parse_query("x")) == []


def test_snippet_of_a_long_text_is_cut_around_the_first_hit() -> None:
    """A long text is cut a little before its first hit, with … where it was cut."""
    text = " ".join(f"word{i}" for i in range(200)) + " needle " + " ".join(
        f"more{i}" for i in range(200))
    segments = snippet(text, parse_query("needle"))
    assert segments[0][0].startswith("…") and segments[-1][0].endswith("…")
    assert ("needle", True) in segments
    assert len(_shown(segments)) <= 200 + 2 + 40
    assert _shown(segments).strip("…") in text


@given(st.text(max_size=600), st.lists(st.text(min_size=1, max_size=6), min_size=1,
                                       max_size=3))
def test_snippet_properties(text: str, words: list[str]) -> None:
    """Segments are never empty nor two of a kind in a row; without its … marks the
    snippet is a piece of the text (all of it when short); every hit begins with a query
    word's letters."""
    query = SearchQuery(words=tuple(words))
    segments = snippet(text, query)
    assert all(piece for piece, _ in segments)
    assert all(a[1] != b[1] for a, b in itertools.pairwise(segments))
    shown = _shown(segments)
    if len(text) <= 200:
        assert shown == text
    else:  # … before and after, where it was cut
        assert any(piece in text for piece in (shown, shown[1:], shown[:-1], shown[1:-1]))
    prefixes = [p.lower() for w in words for p in re.findall(r"[^\W_]+", w)]
    for piece, hit in segments:
        if hit:
            assert any(piece.lower().startswith(p) for p in prefixes) or any(
                p.startswith(piece.lower()) for p in prefixes), piece
