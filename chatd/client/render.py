"""How messages look in a terminal: the Markdown subset of docs/protocol.md ("Formatting") as
styled spans, and a message with its number, time, sender, reply, edits and reactions.

Theory of operation. A message's text is what its author typed. It is first made safe, line by
line, with :func:`~chatd.client.terminal.clean` (every control character, ESC included,
becomes U+FFFD), and only then read as Markdown: so nothing in a message can become an escape
sequence, whatever it holds, and styles are :class:`~chatd.client.terminal.Span` attributes
that only the screen turns into the few SGR sequences it knows.

What a terminal shows of the subset: ``**bold**`` bold, ``*italics*`` and ``_italics_``
italic, ``~~strike~~`` struck through, `` `code` `` dimmed, fenced code blocks indented and
dimmed (the fences themselves are not shown), ``> quotes`` after a ``│ ``, ``- `` list items
after a ``• ``, links as their text and then their URL (``text (https://…)``); a link to any
other scheme than http(s) stays the text it was. ``@me`` is shown in reverse when the server
says the message mentions the user. On a screen without styles (a pipe, ``TERM=dumb``) the
inline marks are kept as typed (``**bold**``), so that nothing is lost; blocks, lists and
links are laid out the same.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import re
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Final, NamedTuple

from chatd.client.terminal import Span, Style, clean, day_time, hhmm
from chatd.protocol import (
    MemberBanned,
    MemberKicked,
    MemberUnbanned,
    MessagePosted,
    RoleChanged,
    RoomArchived,
)
from chatd.protocol.keywords import match_ranges, matches_any
from chatd.protocol.markup import GROUP_TOKENS

__all__ = [
    "BODY_INDENT",
    "Rendered",
    "ago",
    "archived_text",
    "audit_text",
    "deleted_spans",
    "dnd_text",
    "excerpt",
    "file_spans",
    "forwarded_spans",
    "highlight_keywords",
    "human_size",
    "keywords_text",
    "markdown",
    "message_spans",
    "moderation_text",
    "notify_text",
    "pinned_spans",
    "plain_text",
    "poll_entry_spans",
    "poll_spans",
    "preview_spans",
    "profile_text",
    "reaction_spans",
    "readers_text",
    "receipts_text",
    "reminder_line",
    "reminder_text",
    "scheduled_event_line",
    "scheduled_line",
    "search_spans",
    "status_text",
    "thread_summary",
    "until",
]

#: What starts each line of a message after its first (so no message can fake a line).
BODY_INDENT: Final = "\n      "
#: How deep emphasis is read inside emphasis; deeper marks are shown as typed.
MAX_NESTING: Final = 8
#: How many characters of the answered message a reply shows.
EXCERPT_CHARS: Final = 60
#: What starts a link preview's line: less than :data:`BODY_INDENT`, so that no line of a
#: message's text can pass for one.
PREVIEW_INDENT: Final = "  "
#: How many characters of a preview's title (and of its site) are shown.
PREVIEW_CHARS: Final = 100

# A fence opens a code block at the start of a line (up to three spaces in) with three or more
# backticks or tildes, and is closed by a line of the same kind at least as long (the rule of
# chatd.protocol.markup, which decides what a mention is).
_FENCE: Final = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_QUOTE: Final = re.compile(r"^ {0,3}>")
_BULLET: Final = re.compile(r"^(\s*)[-*+]\s+(?=\S)")

_INLINE: Final = re.compile(
    r"""
    (?P<code>(?<!`)(?P<ticks>`+)(?!`)(?P<code_text>.+?)(?<!`)(?P=ticks)(?!`))
  | (?P<autolink><(?P<auto_url>https?://[^\s<>]+)>)
  | (?P<link>\[(?P<link_text>[^\[\]]+)\]\((?P<link_url>https?://[^\s()<>]+)\))
  | (?P<url>https?://[^\s<>]+)
  | (?P<bold>\*\*(?=\S)(?P<bold_text>.+?)(?<=\S)\*\*)
  | (?P<strike>~~(?=\S)(?P<strike_text>.+?)(?<=\S)~~)
  | (?P<star>(?<!\*)\*(?=[^\s*])(?P<star_text>.+?)(?<=[^\s*])\*(?!\*))
  | (?P<under>(?<![A-Za-z0-9_])_(?=[^\s_])(?P<under_text>.+?)(?<=[^\s_])_(?![A-Za-z0-9_]))
  | (?P<mention>(?<![A-Za-z0-9_.@-])@(?P<name>[A-Za-z0-9_.-]{1,32}))
    """,
    re.VERBOSE,
)
# Emphasis: the group holding the text inside, its mark, its style.
_EMPHASIS: Final = {
    "bold": ("bold_text", "**", Style.BOLD),
    "strike": ("strike_text", "~~", Style.STRIKE),
    "star": ("star_text", "*", Style.ITALIC),
    "under": ("under_text", "_", Style.ITALIC),
}
_KINDS: Final = ("code", "autolink", "link", "url", "bold", "strike", "star", "under", "mention")
# Not part of a bare URL when it ends one: "see https://example.org." ends with a full stop.
_URL_TAIL: Final = ".,;:!?'\")]"

Line = list[Span]


class Rendered(NamedTuple):
    """A text as lines of spans; ``block_first``: its first line is a code block or a quote
    (better started on a line of its own)."""

    lines: list[Line]
    block_first: bool


def markdown(text: str, *, styled: bool = True, me: str | None = None,
             group: Style | None = None, groups: Mapping[str, Style] | None = None
             ) -> Rendered:
    """The lines of ``text`` (as its author typed it) as styled spans, safe for a terminal.

    Args:
        styled: whether the screen shows styles; without, inline marks are kept as typed.
        me: the user's name, when the message mentions them: their ``@name`` is highlighted.
        group: the style of the group mentions' words (``@room``, ``@all``, ``@everyone``,
            ``@here``), when the message has one (None: they are plain words).
        groups: the user groups the message mentions (``@backend``), each with its style.
    """
    words: Style | _Groups | None = _Groups(group, groups) if groups else group
    lines = [clean(line) for line in text.replace("\r\n", "\n").split("\n")]
    out: list[Line] = []
    fence: str | None = None
    block_first = False
    for index, line in enumerate(lines):
        if fence is not None:
            closing = _FENCE.match(line)
            if closing and closing.group(1)[0] == fence[0] \
                    and len(closing.group(1)) >= len(fence) \
                    and not line.strip().lstrip(fence[0]):
                fence = None
            else:
                out.append([Span("    "), Span(line, Style.DIM)])
            continue
        opened = _FENCE.match(line)
        if opened:
            fence = opened.group(1)
            block_first = block_first or index == 0
            continue
        if _QUOTE.match(line):
            block_first = block_first or index == 0
            out.append(_quote(line, styled, me, words))
            continue
        bullet = _BULLET.match(line)
        if bullet:
            out.append([Span(bullet.group(1) + "• "),
                        *_inline(line[bullet.end():], Style.NONE, styled, me, 0, words)])
            continue
        out.append(_inline(line, Style.NONE, styled, me, 0, words))
    return Rendered(out or [[]], block_first)


def _quote(line: str, styled: bool, me: str | None, group: Style | _Groups | None) -> Line:
    depth = 0
    rest = line.lstrip(" ")
    while rest.startswith(">"):
        depth += 1
        rest = rest[1:]
        rest = rest[1:] if rest.startswith(" ") else rest
        rest = rest.lstrip(" ") if rest.lstrip(" ").startswith(">") else rest
    return [Span("│ " * depth, Style.DIM), *_inline(rest, Style.NONE, styled, me, 0, group)]


def _inline(text: str, style: Style, styled: bool, me: str | None, depth: int,
            group: Style | _Groups | None = None) -> Line:
    """The spans of one line (or of the inside of an emphasis), in ``style``."""
    spans: Line = []
    pos = 0

    def plain(chunk: str, extra: Style = Style.NONE) -> None:
        if chunk:
            spans.append(Span(chunk, style | extra))

    for found in _INLINE.finditer(text):
        kind = next(k for k in _KINDS if found.group(k) is not None)
        plain(text[pos:found.start()])
        pos = found.end()
        if kind == "code":
            ticks = found.group("ticks")
            if styled:
                plain(found.group("code_text"), Style.DIM)
            else:
                plain(ticks + found.group("code_text") + ticks)
        elif kind == "autolink":
            plain(found.group("auto_url"), Style.UNDERLINE)
        elif kind == "link":
            plain(found.group("link_text"), Style.UNDERLINE)
            plain(f" ({found.group('link_url')})")
        elif kind == "url":
            url = found.group("url")
            trimmed = url.rstrip(_URL_TAIL)
            if not trimmed.endswith("://"):
                plain(trimmed, Style.UNDERLINE)
                plain(url[len(trimmed):])
            else:
                plain(url)
        elif kind == "mention":
            _mention(found.group(0), me, plain, group)
        else:
            part, mark, extra = _EMPHASIS[kind]
            inner = found.group(part)
            if depth >= MAX_NESTING:
                plain(found.group(0))
            elif styled:
                spans.extend(_inline(inner, style | extra, styled, me, depth + 1, group))
            else:
                plain(mark)
                spans.extend(_inline(inner, style, styled, me, depth + 1, group))
                plain(mark)
    plain(text[pos:])
    return spans


@dataclasses.dataclass(frozen=True, slots=True)
class _Groups:
    """The styles of a message's group words: those of ``@room``/``@here`` (``words``,
    None: plain) and of its user groups, by name; passed where a group mention's style
    goes."""

    words: Style | None
    named: Mapping[str, Style]


def _mention(word: str, me: str | None, plain: Callable[[str, Style], None],
             group: Style | _Groups | None = None) -> None:
    """``@name``: highlighted when it names ``me`` (also when followed by a full stop or a
    dash, as the server reads it); a group's word in ``group``'s style, when given; a user
    group's (``@backend``) in its own."""
    name = word[1:].lower()
    if isinstance(group, _Groups):
        for length in (len(name), len(name.rstrip(".-"))):
            style = group.named.get(name[:length])
            if style is not None:
                plain(word[:length + 1], style)
                plain(word[length + 1:], Style.NONE)
                return
        group = group.words
    if group is not None:
        for length in (len(name), len(name.rstrip(".-"))):
            if name[:length] in GROUP_TOKENS:
                plain(word[:length + 1], group)
                plain(word[length + 1:], Style.NONE)
                return
    if me is not None:
        mine = me.lower()
        for length in (len(name), len(name.rstrip(".-"))):
            if name[:length] == mine:
                plain(word[:length + 1], Style.REVERSE | Style.BOLD)
                plain(word[length + 1:], Style.NONE)
                return
    plain(word, Style.NONE)


# --------------------------------------------------------------------------- messages


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` on one line, white space collapsed, cut at ``limit`` characters, made safe."""
    flat = " ".join(clean(text).replace("\ufffd", " ").split())
    return flat if len(flat) <= limit else flat[:limit - 1].rstrip() + "…"


def human_size(size: object) -> str:
    """A size in bytes as people read it: ``512 B``, ``12.3 kB``, ``20.0 MB`` (powers of
    1000); ``?`` for anything but a count of bytes."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return "?"
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if round(value, 1) < 1000 or unit == "TB":
            break
    return f"{value:.1f} {unit}"


def file_spans(file: Mapping[str, Any], base_url: str = "") -> Line:
    """A file a message carries: ``📎 report.pdf (1.2 MB) http://host/api/files/7/report.pdf``
    (and an image's pixels, when the server gives them). The URL is the server's ``url``
    after ``base_url`` (it needs the user's token: ``curl -H "Authorization: Bearer …"``)."""
    spans: Line = [Span("📎 "), Span(clean(file.get("name", "file")), Style.BOLD)]
    about = human_size(file.get("size"))
    width, height = file.get("width"), file.get("height")
    if isinstance(width, int) and isinstance(height, int):
        about += f", {width}x{height}"
    spans.append(Span(f" ({about})"))
    url = file.get("url")
    if isinstance(url, str) and url:
        spans += [Span(" "), Span(clean(base_url + url if url.startswith("/") else url),
                                  Style.UNDERLINE)]
    return spans


def preview_spans(preview: Mapping[str, Any]) -> Line:
    """A message's link preview, on one indented line: ``  ↳ Title — site`` (the title in
    bold; the site, dim, left out when the page gave none)."""
    title = excerpt(str(preview.get("title", "")), PREVIEW_CHARS)
    spans: Line = [Span(PREVIEW_INDENT + "↳ "), Span(title, Style.BOLD)]
    site = excerpt(str(preview.get("site", "")), PREVIEW_CHARS)
    if site:
        spans.append(Span(f" — {site}", Style.DIM))
    return spans


def _header(message: MessagePosted, number: int, label: str) -> Span:
    return Span(f"[{number}] {hhmm(message.ts)} [{label}] {clean(message.sender)}: ")


def _mentions_me(message: MessagePosted, me: str) -> bool:
    return any(name.lower() == me.lower() for name in message.mentions)


def _group_style(message: MessagePosted, me: str) -> Style | None:
    """How a group mention's words are shown: like a mention of the user for ``@room`` by
    someone else; bold for ``@here`` (whether the user was online when it was sent, only the
    server knew) and for one's own; None when the message has no group mention."""
    if message.group is None:
        return None
    if message.group == "room" and message.sender.lower() != me.lower():
        return Style.REVERSE | Style.BOLD
    return Style.BOLD


def _user_group_styles(message: MessagePosted, me: str, groups: Collection[str]
                       ) -> dict[str, Style] | None:
    """How the user groups a message mentions are shown: as a mention of the user for the
    groups they are in, unless they sent it; bold for the others."""
    if not message.user_groups:
        return None
    mine = message.sender.lower() != me.lower()
    return {name: Style.REVERSE | Style.BOLD if mine and name in groups else Style.BOLD
            for name in message.user_groups}


def _reactions(message: MessagePosted, me: str) -> Line:
    """``  👍 2  ❤️ 1``: the user's own reactions in bold."""
    spans: Line = []
    for emoji, users in message.reactions:
        mine = any(user.lower() == me.lower() for user in users)
        spans.append(Span("  "))
        spans.append(Span(f"{clean(emoji)} {len(users)}", Style.BOLD if mine else Style.NONE))
    return spans


def _reply_line(message: MessagePosted, answered: tuple[int, MessagePosted] | None) -> Line:
    """``↳ re [2] bob: the answered message…``: from the held message when there is one (it is
    as it is now), else from the message's ``quote``."""
    lead = "      ↳ re "
    if answered is not None:
        number, original = answered
        if original.deleted:
            return [Span(f"{lead}[{number}] a deleted message", Style.DIM)]
        return [Span(f"{lead}[{number}] {clean(original.sender)}: "
                     f"{excerpt(original.text)}", Style.DIM)]
    quote: Mapping[str, Any] = message.quote or {}
    if quote.get("deleted") is True:
        return [Span(f"{lead}a deleted message", Style.DIM)]
    if isinstance(quote.get("from"), str) and isinstance(quote.get("text"), str):
        return [Span(f"{lead}{clean(quote['from'])}: {excerpt(quote['text'])}", Style.DIM)]
    return [Span(f"{lead}message {message.reply_to}", Style.DIM)]


def _thread_line(message: MessagePosted, root: tuple[int, MessagePosted] | None) -> Line:
    """``↳ thread of [2] ann: lunch?``: the thread a reply is in, from its root when held
    (as it is now), else by the root's msg_id; and whether it was also sent to the room."""
    lead = "      ↳ thread of "
    also = " (also sent to the room)" if message.broadcast else ""
    if root is None:
        return [Span(f"{lead}message #{message.thread}{also}", Style.DIM)]
    number, original = root
    if original.deleted:
        return [Span(f"{lead}[{number}] a deleted message{also}", Style.DIM)]
    return [Span(f"{lead}[{number}] {clean(original.sender)}: {excerpt(original.text)}{also}",
                 Style.DIM)]


def replies_spans(message: MessagePosted, number: int) -> Line:
    """`` (2 replies, the latest by cid, bob: /thread 3)``: a root's thread, if it has one."""
    replies = message.replies
    if not replies or not isinstance(replies.get("count"), int):
        return []
    count = replies["count"]
    users = ", ".join(clean(user) for user in replies.get("users") or ())
    by = f", the latest by {users}" if users else ""
    return [Span(f" ({count} {'reply' if count == 1 else 'replies'}{by}: /thread {number})",
                 Style.DIM)]


def ago(ms: int) -> str:
    """How long ``ms`` milliseconds is, as "just now", "5 min ago", "3 h ago", "2 days ago"."""
    minutes = max(ms, 0) // 60_000
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 24 * 60:
        return f"{minutes // 60} h ago"
    days = minutes // (24 * 60)
    return f"{days} day{'' if days == 1 else 's'} ago"


def thread_summary(thread: Mapping[str, Any], now: int) -> str:
    """The line under a followed thread's root in ``/threads`` (a THREAD of the protocol's
    ``threads``): "3 replies · last reply 5 min ago · 2 unread, 1 mention"."""
    root = thread.get("root")
    replies = root.get("replies") if isinstance(root, Mapping) else None
    count = replies.get("count") if isinstance(replies, Mapping) else None
    count = count if isinstance(count, int) else 0
    parts = [f"{count} {'reply' if count == 1 else 'replies'}"]
    last = thread.get("last_ts")
    if count and isinstance(last, int):
        parts.append(f"last reply {ago(now - last)}")
    unread, mentions = thread.get("unread"), thread.get("mentions")
    if isinstance(unread, int) and unread:
        parts.append(f"{unread} unread" + (
            f", {mentions} mention{'' if mentions == 1 else 's'}"
            if isinstance(mentions, int) and mentions else ""))
    return " · ".join(parts)


def message_spans(message: MessagePosted, *, number: int, label: str, me: str,
                  groups: Collection[str] = (), styled: bool = True,
                  answered: tuple[int, MessagePosted] | None = None,
                  base_url: str = "", root: tuple[int, MessagePosted] | None = None,
                  keywords: Sequence[str] = ()) -> Line:
    """A message as shown, as one line of spans that may hold line breaks (each followed by
    an indent)::

              ↳ re [2] bob: how about lunch?
        [3] 12:30 [general] ann: **yes**, at noon
              📎 menu.pdf (48.2 kB) http://127.0.0.1:8080/api/files/7/menu.pdf (edited)  👍 2
          ↳ Lunch menu — Canteen

    Its files follow its text, one a line (the first on the message's line when it has no
    text); see :func:`file_spans`. Its link's preview, if it has one, goes on a line of its
    own under it (:func:`preview_spans`).

    Args:
        number: its short number.
        label: how its room is shown (already made safe).
        me: the user's name (their mentions are highlighted, their reactions bold).
        groups: the user groups the message mentions that the user is in: their
            ``@name`` is highlighted as a mention of the user (the others' are bold).
        styled: whether the screen shows styles.
        answered: the message it answers, when held, with its number.
        base_url: the server's HTTP base URL, which a file's ``url`` follows.
        root: the root of the thread it replies in, when held, with its number.
        keywords: the user's notification keywords: in a message of someone else's that
            one matches (:mod:`chatd.protocol.keywords`), the words matched are highlighted
            as a mention of the user is.
    """
    spans: Line = []
    if message.thread is not None:
        spans += [*_thread_line(message, root), Span("\n")]
    if message.reply_to is not None:
        spans += [*_reply_line(message, answered), Span("\n")]
    spans.append(_header(message, number, label))
    if message.deleted:
        spans.append(Span("[deleted]", Style.DIM))
        spans.extend(replies_spans(message, number))
        return spans
    files = [file_spans(file, base_url) for file in message.files]
    # a forward: what it forwards, under its comment (and on its line without one)
    forwarded = [] if message.forwarded is None else [forwarded_spans(message.forwarded)]
    if (files or forwarded) and not message.text.strip():
        lines: list[Line] = forwarded + files
    else:
        rendered = markdown(message.text, styled=styled,
                            me=me if _mentions_me(message, me) else None,
                            group=_group_style(message, me),
                            groups=_user_group_styles(message, me, groups))
        text_lines = rendered.lines
        if keywords and message.sender.lower() != me.lower() \
                and matches_any(keywords, message.text):
            text_lines = [highlight_keywords(line, keywords) for line in text_lines]
        lines = (([[]] if rendered.block_first else []) + text_lines + forwarded
                 + files)
    for index, line in enumerate(lines):
        if index:
            spans.append(Span(BODY_INDENT))
        spans.extend(line)
    if message.edited_ts is not None:
        spans.append(Span(" (edited)", Style.DIM))
    if message.pinned is not None:
        spans.append(Span(f" (pinned by {clean(message.pinned.get('by'))})", Style.DIM))
    spans.extend(_reactions(message, me))
    spans.extend(replies_spans(message, number))
    if message.poll is not None:
        spans.extend(poll_spans(message.poll, me))
    for preview in message.previews:
        spans += [Span("\n"), *preview_spans(preview)]
    return spans


def forwarded_spans(forwarded: Mapping[str, Any]) -> Line:
    """``↪ ann (#general): the forwarded text``: what a forward forwards, its room only
    when it was told (a public room's); the text on one line, whole (unlike a quote's
    excerpt: it is the message's content)."""
    room = forwarded.get("room")
    where = f" (#{clean(room)})" if isinstance(room, str) else ""
    text = excerpt(str(forwarded.get("text", "")), 1 << 20)
    return [Span(f"↪ {clean(str(forwarded.get('from', '')))}{where}: {text}", Style.DIM)]


def poll_spans(poll: Mapping[str, Any], me: str) -> Line:
    """A poll's options under its question, one a line, numbered from 1 as ``/vote`` takes
    them, each with its count and voters (the user's own choice marked ``*``), and whether
    it takes several or is closed::

          1. Tuesday  2 (bob, ann) *
          2. Wednesday  0
          (one choice: /vote 3 K)
    """
    spans: Line = []
    options = poll.get("options")
    for index, option in enumerate(options if isinstance(options, list) else [], 1):
        if not isinstance(option, Mapping):
            continue
        voters = [str(v) for v in option.get("voters") or () if isinstance(v, str)]
        mine = me.lower() in (v.lower() for v in voters)
        spans += [Span(BODY_INDENT), Span(f"{index}. "),
                  Span(excerpt(str(option.get("text", ""))), Style.BOLD if mine else Style.NONE),
                  Span(f"  {len(voters)}", Style.DIM)]
        if voters:
            spans.append(Span(f" ({', '.join(clean(v) for v in voters)})", Style.DIM))
        if mine:
            spans.append(Span(" *", Style.BOLD))
    if poll.get("closed"):
        spans += [Span(BODY_INDENT),
                  Span(f"(final results: closed by {clean(str(poll.get('closed_by', '')))})",
                       Style.DIM)]
    else:
        how = "any number of choices" if poll.get("multiple") else "one choice"
        spans += [Span(BODY_INDENT), Span(f"({how})", Style.DIM)]
    return spans


def poll_entry_spans(message: MessagePosted | None, *, number: int | None, label: str,
                     who: str, options: Sequence[int] | None) -> Line:
    """A vote (``options``: the voter's whole choice) or a closing (None) on one line:
    ``[general] bob voted on [3]: 2. Wednesday``, ``[general] ann closed the poll [3]``."""
    poll = message.poll if message is not None else None
    texts = [str(o.get("text", "")) if isinstance(o, Mapping) else ""
             for o in (poll.get("options") or () if poll is not None else ())]
    name = f"[{number}]" if number is not None else "a poll"
    if options is None:
        line = f"[{label}] {clean(who)} closed the poll {name}"
    elif not options:
        line = f"[{label}] {clean(who)} took back their vote on {name}"
    else:
        chosen = ", ".join(f"{i + 1}. {excerpt(texts[i], 30)}" if i < len(texts)
                           else str(i + 1) for i in options)
        line = f"[{label}] {clean(who)} voted on {name}: {chosen}"
    return [Span(line, Style.DIM)]


def deleted_spans(message: MessagePosted | None, *, number: int | None, label: str, by: str,
                  unpinned: bool = False) -> Line:
    """A message just deleted: ``[3] 12:30 [general] ann: [deleted]``, by whom when it was
    not its author, and that it left the pins when it was pinned. Of a message not held
    here, only a pinned one's deletion is told (the room's pins changed): ``[general] bob
    deleted a pinned message``."""
    if message is None or number is None:
        return [Span(f"[{label}] {clean(by)} deleted a pinned message (it left the pins)",
                     Style.DIM)]
    spans = [_header(message, number, label), Span("[deleted]", Style.DIM)]
    if by.lower() != message.sender.lower():
        spans.append(Span(f" (by {clean(by)})", Style.DIM))
    if unpinned:
        spans.append(Span(" (it was pinned: it left the pins)", Style.DIM))
    return spans


def reaction_spans(message: MessagePosted, *, number: int, label: str, me: str, user: str,
                   emoji: str, on: bool) -> Line:
    """A reaction just put or taken back, on one line: the message's first words, its
    reactions now, and who did what."""
    what = f"{clean(user)} {'reacted' if on else 'took back'} {clean(emoji)}"
    text = excerpt(message.text) or next(
        (f"📎 {excerpt(str(file.get('name', '')))}" for file in message.files), "")
    return [_header(message, number, label), Span(text),
            *_reactions(message, me), Span(f"  ({what})", Style.DIM)]


def pinned_spans(message: MessagePosted | None, *, number: int | None, label: str, by: str,
                 on: bool) -> Line:
    """A message just pinned or unpinned, on one line: ``[general] ann pinned [3]: the
    first words`` (``a message`` when it is not held here: ``/pins`` shows it)."""
    what = f"[{label}] {clean(by)} {'pinned' if on else 'unpinned'}"
    if message is None or number is None:
        return [Span(f"{what} a message (/pins {label} lists the pinned ones)", Style.DIM)]
    text = excerpt(message.text) or next(
        (f"📎 {excerpt(str(file.get('name', '')))}" for file in message.files), "")
    return [Span(f"{what} [{number}]: ", Style.DIM), Span(text)]


def search_spans(message: MessagePosted, snippet: Sequence[Mapping[str, Any]], *,
                 number: int | None, label: str, styled: bool = True) -> Line:
    """A search result on one line: its short number (when it has one), day and time, room
    and sender, then its snippet with the words that matched in bold (between ``*`` on a
    screen without styles)::

        [12] 2026-12-05 12:30 [ops] ann: the **deployment** starts

    Args:
        snippet: the result's ``snippet``, segments ``{"text", "hit"}`` (anything else in
            it is skipped); line breaks in it are shown as spaces.
        number: its short number, or None for a message of a room the client does not hold.
        label: how its room is shown (already made safe).
        styled: whether the screen shows styles.
    """
    lead = f"[{number}] " if number is not None else ""
    spans: Line = [Span(f"{lead}{day_time(message.ts)} [{label}] {clean(message.sender)}: ")]
    for segment in snippet:
        text = segment.get("text")
        if not isinstance(text, str) or not text:
            continue
        shown = clean(text.replace("\r\n", " ").replace("\n", " "))
        if segment.get("hit") is True:
            spans.append(Span(shown, Style.BOLD) if styled else Span(f"*{shown}*"))
        else:
            spans.append(Span(shown))
    if not snippet:
        spans.append(Span("(files)" if message.files else "(no text)", Style.DIM))
    return spans


def plain_text(spans: Sequence[Span]) -> str:
    """The text of ``spans`` without their styles (for tests and logs)."""
    return "".join(span.text for span in spans)


def until(ms: int | None) -> str:
    """When a ban ends, in UTC, or "for good"."""
    if ms is None:
        return "for good"
    return time.strftime("until %Y-%m-%d %H:%M UTC", time.gmtime(ms / 1000))


def dnd_text(until: int | None, now: int) -> str:
    """The line that says whether the user's notifications are paused (``set_dnd``): until
    when, in the terminal's local time ("until 14:30", "until tomorrow 08:00", "until Wed
    08:00"), ``now`` (ms) being the server's time; or that they are not (also once past)."""
    if until is None or until <= now:
        return "notifications are on"
    return f"notifications paused until {_local_time(until, now)}"


def highlight_keywords(line: Line, keywords: Sequence[str]) -> Line:
    """``line`` with the words its text matches of ``keywords`` highlighted (reversed and
    bold, as a mention of the user): matched on the line's text as shown, across its spans
    (so "**deploy** now" shows "deploy" bold and highlighted), by the rule of
    :mod:`chatd.protocol.keywords`."""
    ranges = match_ranges(keywords, "".join(span.text for span in line))
    if not ranges:
        return line
    out: Line = []
    offset = 0
    for span in line:
        cuts = {0, len(span.text)}
        for start, end in ranges:
            cuts.update(c - offset for c in (start, end) if offset < c < offset + len(span.text))
        edges = sorted(cuts)
        for left, right in itertools.pairwise(edges):
            inside = any(start <= offset + left and offset + right <= end
                         for start, end in ranges)
            out.append(Span(span.text[left:right],
                            span.style | Style.REVERSE | Style.BOLD if inside else span.style))
        offset += len(span.text)
    return out


def keywords_text(keywords: Sequence[str]) -> str:
    """The line that lists the user's notification keywords (``/keywords``)."""
    if not keywords:
        return ("no notification keywords: /keywords add WORD… to be alerted of a message "
                "holding one, as of a mention")
    shown = ", ".join(f'"{clean(k)}"' if " " in k or "," in k else clean(k) for k in keywords)
    return f"notification keywords ({len(keywords)}): {shown}"


def receipts_text(on: bool) -> str:
    """The line that says whether the user shares their read receipts
    (``set_read_receipts``)."""
    if on:
        return "read receipts are on: others see when you have read their messages"
    return ("read receipts are off: nobody sees when you have read their messages (you still "
            "see theirs)")


def readers_text(number: int, count: int, users: list[str], more: bool) -> str:
    """Who has read message [``number``] (``receipts``): "[3] seen by 2: bob, cy", with how
    many more past the names listed; the author and the user are never counted."""
    if count <= 0:
        return f"[{number}] seen by nobody else yet"
    names = ", ".join(clean(user) for user in users)
    rest = count - len(users)
    if more and rest > 0:
        names += f" and {rest} more"
    return f"[{number}] seen by {count}: {names}"


def reminder_text(remind_at: int | None, reminded: bool, now: int) -> str:
    """What a saved message's reminder is: "⏰ tomorrow 09:00" (local time, from the server's
    ``now``), "⏰ reminded" once sent, "" when there is none."""
    if remind_at is None:
        return ""
    if reminded or remind_at <= now:
        return "⏰ reminded"
    return f"⏰ {_local_time(remind_at, now)}"


def reminder_line(label: str, message: MessagePosted) -> str:
    """The line a reminder prints: "⏰ Reminder: #general ann: call the plumber" (a
    conversation by its label, "@bob"); the text's first line, made safe."""
    where = label if label.startswith("@") else f"#{label}"
    text = "(deleted)" if message.deleted else clean(message.text.split("\n", 1)[0])
    return f"⏰ Reminder: {where} {clean(message.sender)}: {text}"


def _where(label: str) -> str:
    return label if label.startswith("@") else f"#{label}"


def _first_line(text: str) -> str:
    return clean(text.split("\n", 1)[0])


def scheduled_line(number: int, item: Mapping[str, Any], label: Callable[[str], str],
                   now: int) -> str:
    """A line of ``/scheduled``: "[2] tomorrow 09:00 #general: standup" (local time, from
    the server's ``now``), a failed one "[2] ✗ failed (forbidden: ...) #general: standup";
    ``label``: a room's name as shown."""
    room = str(item.get("room", ""))
    text = _first_line(str(item.get("text", ""))) or "(files)"
    error = item.get("error")
    if item.get("state") == "failed" and isinstance(error, Mapping):
        when = f"✗ failed ({clean(str(error.get('code')))}: {clean(str(error.get('message')))})"
    else:
        send_at = item.get("send_at")
        when = _local_time(send_at, now) if isinstance(send_at, int) and send_at > now \
            else "now"
    return f"[{number}] {when} {_where(label(room))}: {text}"


def scheduled_event_line(action: str, item: Mapping[str, Any], label: Callable[[str], str],
                         now: int) -> str:
    """The line a ``scheduled`` event prints: "✓ Scheduled message sent to #general",
    "✗ Scheduled message to #general failed: you are not a member of 'general'", "🕓
    Scheduled for tomorrow 09:00 in #general", "changed"/"cancelled" likewise."""
    where = _where(label(str(item.get("room", ""))))
    if action == "sent":
        return f"✓ Scheduled message sent to {where}"
    if action == "failed":
        error = item.get("error")
        why = clean(str(error.get("message"))) if isinstance(error, Mapping) else "refused"
        return f"✗ Scheduled message to {where} failed: {why}"
    if action == "cancelled":
        return f"cancelled the scheduled message to {where}"
    send_at = item.get("send_at")
    when = _local_time(send_at, now) if isinstance(send_at, int) and send_at > now else "now"
    verb = "rescheduled" if action == "changed" else "🕓 Scheduled"
    return f"{verb} for {when} in {where}: {_first_line(str(item.get('text', '')))}"


def _local_time(at: int, now: int) -> str:
    """A time ahead (ms), in the terminal's local time, from the server's ``now`` (ms):
    "14:30" today, "tomorrow 08:00", a weekday within the week ("Wed 08:00"), else the date
    ("2026-12-24 08:00")."""
    end, today = time.localtime(at / 1000), time.localtime(now / 1000)
    days = (datetime.date(end.tm_year, end.tm_mon, end.tm_mday)
            - datetime.date(today.tm_year, today.tm_mon, today.tm_mday)).days
    if days == 1:
        return "tomorrow " + time.strftime("%H:%M", end)
    if 1 < days < 7:
        return time.strftime("%a %H:%M", end)
    if days >= 7:
        return time.strftime("%Y-%m-%d %H:%M", end)
    return time.strftime("%H:%M", end)


def status_text(status: Mapping[str, Any] | None, now: int, *, until: bool = True) -> str:
    """A custom status (``{emoji, text, until}``) on one line, made safe: "🌴 On holiday",
    with "(until 14:30)" when it ends (and ``until``); '' when there is none or it has ended
    by the server's clock ``now`` (ms)."""
    if not isinstance(status, Mapping):
        return ""
    end = status.get("until")
    if isinstance(end, int) and end <= now:
        return ""
    words = " ".join(clean(part) for part in (status.get("emoji"), status.get("text"))
                     if isinstance(part, str) and part)
    if until and isinstance(end, int):
        words += f" (until {_local_time(end, now)})"
    return words


def profile_text(display_name: object, status: Mapping[str, Any] | None, now: int) -> str:
    """What a profile says, made safe: '"Ann Lee", status 🌴 On holiday (until 14:30)', with
    "no display name" and "no status" for what it lacks."""
    name = f'"{clean(display_name)}"' if isinstance(display_name, str) else "no display name"
    shown = status_text(status, now)
    return f"{name}, {'status ' + shown if shown else 'no status'}"


def archived_text(entry: RoomArchived, label: str, me: str) -> str:
    """The line that shows an ``archived`` entry of room ``label``."""
    by = "you" if entry.by.lower() == me.lower() else clean(entry.by)
    if entry.archived:
        return f"{by} archived [{label}]: read-only now"
    return f"{by} unarchived [{label}]: it can be written to again"


def moderation_text(entry: RoleChanged | MemberBanned | MemberUnbanned | MemberKicked,
                    label: str, me: str) -> str:
    """The line that shows a moderation entry of room ``label`` (``you`` for ``me``); every
    name and reason made safe with :func:`clean`."""
    def who(name: str) -> str:
        return "you" if name.lower() == me.lower() else clean(name)

    by, user = who(entry.by), who(entry.user)
    if isinstance(entry, RoleChanged):
        if entry.role == "owner":
            return f"{by} handed [{label}] over to {user}: the owner now"
        article = "a moderator" if entry.role == "moderator" else "a member"
        return f"{by} made {user} {article} of [{label}]"
    if isinstance(entry, MemberUnbanned):
        return f"{by} lifted the ban of {user} from [{label}]"
    reason = f" ({clean(entry.reason)})" if entry.reason else ""
    if isinstance(entry, MemberBanned):
        return f"{by} banned {user} from [{label}] {until(entry.expires_at)}{reason}"
    return f"{by} removed {user} from [{label}]{reason}"


def notify_text(label: str, level: str) -> str:
    """The line that says the user's notification level for room ``label``."""
    return f"notifications for [{label}]: {clean(level)}"


_ROLE_WORDS: Final = {"owner": "the owner", "moderator": "a moderator", "member": "a member"}


def audit_text(entry: Mapping[str, Any], me: str) -> str:
    """One entry of a room's audit log (an ``audit`` reply's ``entries``) as a line: when,
    who did what to whom, and why (``you`` for ``me``; the ``chatd`` command line when there
    is no actor). Every field is the server's JSON as it came: each is checked, and every
    name, topic and reason made safe with :func:`clean`."""
    def who(name: object) -> str:
        if not isinstance(name, str):
            return "someone"
        return "you" if name.lower() == me.lower() else clean(name)

    actor = "the command line" if entry.get("actor") is None else who(entry.get("actor"))
    target = who(entry.get("target"))
    found = entry.get("details")
    details: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    action = entry.get("action")
    if action == "set_role":
        role = details.get("role")
        what = f"made {target} {_ROLE_WORDS.get(str(role), clean(role))}"
    elif action == "ban":
        expires = details.get("expires_at")
        what = f"banned {target} {until(expires if isinstance(expires, int) else None)}"
    elif action == "unban":
        what = f"lifted the ban of {target}"
    elif action == "kick":
        what = f"removed {target}"
    elif action == "set_topic":
        topic = details.get("topic")
        what = f"set the topic: {clean(topic)}" if topic else "cleared the topic"
    elif action == "delete":
        what = f"deleted a message of {target}"
    elif action == "purge":
        count = details.get("deleted")
        what = f"deleted {count if isinstance(count, int) else 'the'} messages of {target}"
    elif action in ("archive", "unarchive"):
        what = f"{action}d the room"
    elif action in ("create_room_link", "revoke_room_link", "join_link"):
        link = details.get("link")
        number = f" #{link}" if isinstance(link, int) else ""
        if action == "join_link":
            whose = f"{target}'s " if entry.get("target") is not None else ""
            what = f"joined with {whose}join link{number}"
        elif action == "create_room_link":
            what = f"made join link{number}"
        else:
            what = f"revoked join link{number}" + (
                f" of {target}" if entry.get("target") not in (None, entry.get("actor")) else "")
    else:  # an action this client does not know yet: as it is called
        what = clean(action).replace("_", " ")
        if entry.get("target") is not None:
            what += f" {target}"
    reason = f" ({clean(entry['reason'])})" if entry.get("reason") else ""
    return f"{day_time(entry.get('ts'))} {actor} {what}{reason}"
