"""The search language: what a person types into a search box, parsed; the text search query
PostgreSQL is given for it; and the snippet that shows where a message matched. Pure: no I/O,
the standard library only, tested without a database (and, for what PostgreSQL makes of
:func:`tsquery_text`, against one).

Theory of operation
-------------------
A query is words and filters separated by white space::

    deploy "release notes" -staging from:ann in:ops after:2026-01-31 before:2026-03-01

- a **word** matches a word of a message that begins with it (``deploy`` finds
  "deployment"), in any case;
- a **"quoted phrase"** matches those words, whole and in that order (straight or
  typographic quotes; an unclosed quote runs to the end);
- ``-word`` and ``-"a phrase"`` leave out the messages that have them (``-deploy`` leaves
  out "deployment" too);
- ``from:NAME`` (or ``from:@NAME``): messages by that user; ``in:ROOM`` (or ``in:#ROOM``):
  in that room, ``in:@NAME`` in the conversation with that user; several of one filter: any
  of them;
- ``before:YYYY-MM-DD``: sent before that day began (UTC), ``after:YYYY-MM-DD``: after that
  day ended (UTC);
- ``has:file`` (``has:attachment``), ``has:image``, ``has:link``, ``has:poll``: messages
  with files, with a picture among them, with a web address (``http://`` or ``https://``) in
  their text, that are polls; ``is:mention`` (``is:mentioned``): messages that mention the
  person searching (by name, by a group of theirs, ``@room``/``@here``), ``is:saved``
  (``is:starred``): those they saved, ``is:pinned``: pinned in their room, ``is:thread``:
  replies in a thread (Slack's ``has:`` and Zulip's ``has:`` and ``is:``); several
  ``has:``/``is:``: every one of them;
- ``-has:…`` and ``-is:…`` leave out the messages that pass them (Zulip's negated
  operators: ``-has:link``, ``-is:pinned``); like ``-word``, they narrow a search that says
  what to look for, and are not one alone. Asking for one and its negation at once is
  refused (nothing could match).

Every message must have every word and phrase, none of the exclusions, and pass every filter
(and none of the negated ``has:``/``is:``). ``-from:``, ``-in:``, ``-before:`` and ``-after:``
are refused: say the other day, or leave the filter out. Anything else with a colon (``10:30``,
``https://example.com``) is a word. A query must say what to look for: a word, a phrase or a
filter (exclusions alone would match nearly everything); one that does not is refused with
:class:`QueryError`, a sentence for the person.

PostgreSQL does the matching: a message keeps its words as a ``tsvector`` of the 'simple'
configuration (migration 0011; computed a moment after the message is stored, by
chatd/indexer.py), and :func:`tsquery_text` turns the words and phrases into the
text ``to_tsquery('simple', …)`` reads, each word quoted as a lexeme of its own (so no
character a person types is ever an operator) and passed as a parameter, never spliced into
SQL. ``to_tsquery`` then splits and lower-cases each quoted word with the same parser and
dictionary that made the messages' vectors, so both sides agree on what a word is
("example.com", "foo-bar", "it's" included).

A snippet (:func:`snippet`) is the part of a message's text around its first match, as
segments ``(text, hit)``: never markup, so a client draws it as text. Hits are found here, in
Python, from the query's words: a word of the text is a hit when it begins with one of the
query's words (or equals a phrase's word). It approximates PostgreSQL's parser (words are
runs of letters and digits), which is enough to show where the match is.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Iterable, Sequence
from typing import Final

from chatd.protocol.names import GROUP_MAX, InvalidName, normalise_room, normalise_user

__all__ = [
    "HAS",
    "IS",
    "MAX_QUERY_CHARS",
    "MAX_TERMS",
    "QueryError",
    "SearchQuery",
    "parse_query",
    "snippet",
    "tsquery_text",
]

#: The longest query taken, in characters.
MAX_QUERY_CHARS: Final = 500
#: The most words, phrases, exclusions and filters one query may hold.
MAX_TERMS: Final = 32
#: The characters a snippet shows (about two lines), when the text is longer.
SNIPPET_CHARS: Final = 200

_OPENING = "\"“”„«»"  # a phrase opens with any of these
_CLOSING = {"«": "»"}  # and closes with the same, or this one
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_FILTERS = ("from", "in", "before", "after", "has", "is")
#: What ``has:`` and ``is:`` take, each name a person may type -> the one it means.
HAS: Final = {"file": "file", "files": "file", "attachment": "file", "attachments": "file",
              "image": "image", "images": "image", "link": "link", "links": "link",
              "poll": "poll", "polls": "poll"}
IS: Final = {"mention": "mention", "mentioned": "mention", "saved": "saved",
             "starred": "saved", "pinned": "pinned", "thread": "thread"}
# A word, as the snippet sees one: a run of letters and digits.
_WORD = re.compile(r"[^\W_]+")


class QueryError(ValueError):
    """A query that cannot be searched; its message says why, for a person."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SearchQuery:
    """A parsed query (see the module's docstring). Words are as typed (PostgreSQL
    lower-cases them); ``senders`` are user names as typed, ``rooms`` normalised room
    names, ``peers`` user names whose conversation with the asking user is meant (several,
    joined by commas: the group conversation of them and the asking user);
    ``before``/``after`` are days (UTC)."""

    words: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    excluded_words: tuple[str, ...] = ()
    excluded_phrases: tuple[tuple[str, ...], ...] = ()
    senders: tuple[str, ...] = ()
    rooms: tuple[str, ...] = ()
    peers: tuple[str, ...] = ()
    before: datetime.date | None = None
    after: datetime.date | None = None
    #: what ``has:`` and ``is:`` asked for, each once, by the names of :data:`HAS`/:data:`IS`
    has: tuple[str, ...] = ()
    is_: tuple[str, ...] = ()
    #: what ``-has:`` and ``-is:`` left out, the same way
    not_has: tuple[str, ...] = ()
    not_is: tuple[str, ...] = ()

    @property
    def has_terms(self) -> bool:
        """Whether it has words or phrases to look for (not only filters)."""
        return bool(self.words or self.phrases)

    @property
    def has_filters(self) -> bool:
        return bool(self.senders or self.rooms or self.peers or self.before or self.after
                    or self.has or self.is_)

    def positive(self) -> str:
        """The text for ``to_tsquery`` that a message must match ('' for none)."""
        return tsquery_text(self.words, self.phrases, join=" & ")

    def negative(self) -> str:
        """The text for ``to_tsquery`` that a message must not match ('' for none)."""
        return tsquery_text(self.excluded_words, self.excluded_phrases, join=" | ")


def _lexeme(word: str) -> str:
    """``word`` as one quoted operand of a tsquery: inside the quotes a backslash escapes
    the next character and a quote is doubled, so nothing in it is read as an operator."""
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def tsquery_text(words: Sequence[str], phrases: Sequence[Sequence[str]], *,
                 join: str = " & ") -> str:
    """The text ``to_tsquery('simple', …)`` reads for these words (each a prefix: ``:*``)
    and phrases (their words whole, one after the other: ``<->``), joined by ``join``
    (``" & "``: all of them; ``" | "``: any). '' for none.

    Every word is a quoted lexeme, so any string is safe here: what is not a word to the
    parser (punctuation alone) is dropped by ``to_tsquery``, which may leave an empty query
    (``numnode`` 0) that the caller must check.
    """
    parts = [f"{_lexeme(word)}:*" for word in words]
    parts += ["(" + " <-> ".join(map(_lexeme, phrase)) + ")" for phrase in phrases if phrase]
    return join.join(parts)


def _filter(key: str, value: str, found: dict[str, list[str]],
            dates: dict[str, datetime.date], *, negated: bool = False) -> None:
    """Take one ``key:value`` filter into ``found`` / ``dates`` (``negated``: a
    ``-has:``/``-is:``, into ``found["not_has"]``/``found["not_is"]``)."""
    if not value:
        raise QueryError(f"{'-' if negated else ''}{key}: needs a value, as in "
                         f"{'-' if negated else ''}{_EXAMPLES[key]}")
    try:
        if key in ("has", "is"):
            table = HAS if key == "has" else IS
            meant = table.get(value.lower())
            if meant is None:
                choices = ", ".join(f"{key}:{name}" for name in dict.fromkeys(table.values()))
                raise QueryError(f"{'-' if negated else ''}{key}:{value} is none of {choices}")
            found[f"not_{key}" if negated else key].append(meant)
        elif key == "from":
            found["senders"].append(normalise_user(value.removeprefix("@")))
        elif key == "in":
            if value.startswith("@") and ":" not in value:
                # @bob: the 1:1 with bob; @bob,carol: the group conversation with both
                names = [normalise_user(name) for name in value[1:].split(",")]
                if len(names) >= GROUP_MAX:
                    raise QueryError(f"in:@ names at most {GROUP_MAX - 1} other people")
                found["peers"].append(",".join(names))
            else:
                found["rooms"].append(normalise_room(value.removeprefix("#")))
        else:
            if not _DATE.fullmatch(value):
                raise QueryError(f"{key}: takes a day as YYYY-MM-DD, as in {_EXAMPLES[key]}")
            try:
                day = datetime.date.fromisoformat(value)
            except ValueError:
                raise QueryError(f"{key}:{value} is not a day of the calendar") from None
            if key in dates:
                raise QueryError(f"give {key}: once")
            dates[key] = day
    except InvalidName as exc:
        raise QueryError(f"{key}:{value}: {exc}") from None


_EXAMPLES = {"from": "from:ann", "in": "in:general", "before": "before:2026-03-01",
             "after": "after:2026-01-31", "has": "has:file", "is": "is:mention"}


def _tokens(query: str) -> Iterable[tuple[bool, bool, str]]:
    """(excluded, phrase, text) for each term of ``query``, in order."""
    i, n = 0, len(query)
    while i < n:
        if query[i].isspace():
            i += 1
            continue
        excluded = query[i] == "-" and i + 1 < n and not query[i + 1].isspace()
        if excluded:
            i += 1
        if query[i] in _OPENING:
            closing = _CLOSING.get(query[i])
            j = i + 1
            while j < n and not (query[j] == closing if closing else query[j] in _OPENING):
                j += 1
            yield excluded, True, query[i + 1:j]
            i = j + 1
            continue
        j = i
        while j < n and not query[j].isspace():
            j += 1
        yield excluded, False, query[i:j]
        i = j


def parse_query(query: str) -> SearchQuery:
    """Parse what a person typed (see the module's docstring).

    Raises:
        QueryError: the query is too long, has too many terms, a filter is malformed (a bad
            name or day, a negated filter), or it says nothing to look for.
    """
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"a query is at most {MAX_QUERY_CHARS} characters")
    words: list[str] = []
    phrases: list[tuple[str, ...]] = []
    excluded_words: list[str] = []
    excluded_phrases: list[tuple[str, ...]] = []
    found: dict[str, list[str]] = {"senders": [], "rooms": [], "peers": [], "has": [],
                                   "is": [], "not_has": [], "not_is": []}
    dates: dict[str, datetime.date] = {}
    terms = 0
    for excluded, quoted, text in _tokens(query):
        if quoted:
            phrase = tuple(text.split())
            if not phrase:
                continue
            # (A phrase of one word is that word whole: no prefix.)
            (excluded_phrases if excluded else phrases).append(phrase)
        else:
            key, colon, value = text.partition(":")
            if colon and key.lower() in _FILTERS:
                negated = excluded and key.lower() in ("has", "is")
                if excluded and not negated:
                    raise QueryError(f"-{key.lower()}: cannot leave things out; "
                                     "filters only narrow a search")
                _filter(key.lower(), value, found, dates, negated=negated)
            elif text == "-":
                continue
            else:
                (excluded_words if excluded else words).append(text)
        terms += 1
        if terms > MAX_TERMS:
            raise QueryError(f"a query has at most {MAX_TERMS} words, phrases and filters")
    parsed = SearchQuery(
        words=tuple(words), phrases=tuple(phrases), excluded_words=tuple(excluded_words),
        excluded_phrases=tuple(excluded_phrases), senders=tuple(found["senders"]),
        rooms=tuple(dict.fromkeys(found["rooms"])), peers=tuple(found["peers"]),
        before=dates.get("before"), after=dates.get("after"),
        has=tuple(dict.fromkeys(found["has"])), is_=tuple(dict.fromkeys(found["is"])),
        not_has=tuple(dict.fromkeys(found["not_has"])),
        not_is=tuple(dict.fromkeys(found["not_is"])),
    )
    for key, given, left_out in (("has", parsed.has, parsed.not_has),
                                 ("is", parsed.is_, parsed.not_is)):
        both = [name for name in given if name in left_out]
        if both:
            raise QueryError(f"{key}:{both[0]} and -{key}:{both[0]}: no message is both")
    if not parsed.has_terms and not parsed.has_filters:
        if excluded_words or excluded_phrases or parsed.not_has or parsed.not_is:
            raise QueryError("say what to look for: a word, a \"phrase\" or a filter, "
                             "not only -exclusions")
        raise QueryError("the query is empty: give a word, a \"phrase\" or a filter "
                         "such as from:NAME or in:ROOM")
    if parsed.before and parsed.after and parsed.after >= parsed.before - datetime.timedelta(
            days=1):
        raise QueryError(f"no day is after {parsed.after} and before {parsed.before}")
    return parsed


def _pieces(terms: Iterable[str]) -> list[str]:
    """The words of ``terms`` as the snippet sees words, lower-cased."""
    return [piece.lower() for term in terms for piece in _WORD.findall(term)]


def snippet(text: str, query: SearchQuery, *, width: int = SNIPPET_CHARS
            ) -> list[tuple[str, bool]]:
    """The part of ``text`` to show for a match of ``query``: segments ``(text, hit)``
    in order, adjacent ones of the same kind merged, none empty.

    A text of at most ``width`` characters is shown whole; a longer one from a little
    before its first hit (or its start), about ``width`` characters cut at white space,
    with "…" where it was cut.
    """
    prefixes = _pieces(query.words)
    exact = set(_pieces(word for phrase in query.phrases for word in phrase))
    hits: list[tuple[int, int]] = []
    for match in _WORD.finditer(text):
        word = match.group().lower()
        if word in exact or any(word.startswith(prefix) for prefix in prefixes):
            hits.append(match.span())
    start, end = 0, len(text)
    if len(text) > width:
        if hits and hits[0][0] > width // 4:
            start = _cut_before(text, hits[0][0] - width // 4)
        end = _cut_after(text, start + width)
    segments: list[tuple[str, bool]] = []
    position = start
    for hit_start, hit_end in hits:
        if hit_end <= start or hit_start >= end:
            continue
        hit_start, hit_end = max(hit_start, start), min(hit_end, end)
        if hit_start > position:
            segments.append((text[position:hit_start], False))
        segments.append((text[hit_start:hit_end], True))
        position = hit_end
    if end > position:
        segments.append((text[position:end], False))
    if start > 0:
        segments.insert(0, ("…", False))
    if end < len(text):
        segments.append(("…", False))
    return _merged(segments)


def _cut_before(text: str, at: int) -> int:
    """Where to start a cut near ``at``: after the white space before it, if any is close."""
    space = max(text.rfind(" ", max(0, at - 20), at), text.rfind("\n", max(0, at - 20), at))
    return space + 1 if space >= 0 else max(at, 0)


def _cut_after(text: str, at: int) -> int:
    """Where to end a cut near ``at``: at the white space after it, if any is close."""
    if at >= len(text):
        return len(text)
    candidates = [i for i in (text.find(" ", at, at + 20), text.find("\n", at, at + 20))
                  if i >= 0]
    return min(candidates) if candidates else at


def _merged(segments: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    for piece, hit in segments:
        if not piece:
            continue
        if out and out[-1][1] == hit:
            out[-1] = (out[-1][0] + piece, hit)
        else:
            out.append((piece, hit))
    return out
