"""Contract tests of :meth:`chatd.storage.Storage.search` against a real (embedded)
PostgreSQL: what is found (prefixes, phrases, exclusions, filters), what never is (a private
room's messages by a non-member, edited-away words, deleted messages), paging, and that the
statements use the GIN index. Messages are indexed (as the daemon's indexer does a moment
after each commit) by :func:`find`, before it searches; test_indexing.py is about the
moments before that.

Rules as in test_postgres.py: a fresh database per test, every await under ``fail_after``.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import itertools
import json
import re
import string
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatd.errors import ChatError
from chatd.search import QueryError, SearchQuery, parse_query
from chatd.storage import NewChange, NewMessage, SearchPage, Storage, User, open_storage
from chatd.storage import search as search_module
from chatd.storage.search import window_sql
from tests.helpers import index_for_search, make_config
from tests.storage.test_postgres import TIMEOUT, appended, make_member

_nonces = itertools.count()
_rooms = itertools.count()


async def say(storage: Storage, user: User, room: str, text: str) -> int:
    """Post ``text`` and return its msg_id."""
    [result] = await storage.append_messages([NewMessage(
        user_id=user.id, room=room, text=text, nonce=f"n{next(_nonces)}")])
    return appended(result).message.msg_id


async def find(storage: Storage, user: User, query: str, *, rooms: tuple[str, ...] = (),
               before: int | None = None, limit: int = 50, index: bool = True) -> SearchPage:
    """Search as ``user``, once every message is indexed (``index``: run the indexer
    first, as the daemon does a moment after each commit)."""
    with trio.fail_after(TIMEOUT):
        if index:
            await index_for_search(storage)
        return await storage.search(user.id, parse_query(query), rooms=rooms, before=before,
                                    limit=limit)


async def texts(storage: Storage, user: User, query: str, **kwargs: Any) -> list[str]:
    return [m.text for m in (await find(storage, user, query, **kwargs)).messages]


async def refusal(storage: Storage, user: User, query: str, **kwargs: Any) -> str:
    with pytest.raises(ChatError) as caught:
        await find(storage, user, query, **kwargs)
    return caught.value.code


async def test_words_are_prefixes_in_any_case(storage: Storage) -> None:
    """Every word of a query is a prefix of a word of the message, in any case; every word
    must be there; results are newest first and are messages as history shows them."""
    ann = await make_member(storage, "ann", "ops")
    await say(storage, ann, "ops", "We deploy on Fridays")
    await say(storage, ann, "ops", "The DEPLOYMENT failed")
    await say(storage, ann, "ops", "nothing to see")
    assert await texts(storage, ann, "deploy") == ["The DEPLOYMENT failed",
                                                   "We deploy on Fridays"]
    assert await texts(storage, ann, "DEPL") == ["The DEPLOYMENT failed",
                                                 "We deploy on Fridays"]
    assert await texts(storage, ann, "deploy fail") == ["The DEPLOYMENT failed"]
    assert await texts(storage, ann, "deployments") == []
    page = await find(storage, ann, "fri")
    [message] = page.messages
    assert message.room == "ops" and message.sender == "ann" and message.kind == "message"
    assert message.seq == 1 and not page.more


async def test_words_as_postgres_splits_them(storage: Storage) -> None:
    """Hosts, hyphenated words, apostrophes, non-Latin scripts and accents are found as the
    text search parser splits them, on both sides."""
    ann = await make_member(storage, "ann", "ops")
    await say(storage, ann, "ops", "see example.com/docs and foo-bar")
    await say(storage, ann, "ops", "it's Café time, 日本語テキスト")
    assert await texts(storage, ann, "example.com") == ["see example.com/docs and foo-bar"]
    assert await texts(storage, ann, "exam") == ["see example.com/docs and foo-bar"]
    assert await texts(storage, ann, "foo-bar") == ["see example.com/docs and foo-bar"]
    assert await texts(storage, ann, "bar") == ["see example.com/docs and foo-bar"]
    assert await texts(storage, ann, "it's") == ["it's Café time, 日本語テキスト"]
    assert await texts(storage, ann, "CAFÉ") == ["it's Café time, 日本語テキスト"]
    assert await texts(storage, ann, "日本") == ["it's Café time, 日本語テキスト"]


async def test_phrases_and_exclusions(storage: Storage) -> None:
    """A quoted phrase matches its words whole and in order; -word and -"phrase" leave
    messages out (a word as a prefix)."""
    ann = await make_member(storage, "ann", "ops")
    await say(storage, ann, "ops", "release notes are ready")
    await say(storage, ann, "ops", "notes on the release")
    await say(storage, ann, "ops", "releases noted")
    await say(storage, ann, "ops", "release notes for staging")
    assert await texts(storage, ann, '"release notes"') == ["release notes for staging",
                                                            "release notes are ready"]
    assert await texts(storage, ann, '"release note"') == []  # phrase words are whole
    assert await texts(storage, ann, 'release -stag') == ["releases noted",
                                                          "notes on the release",
                                                          "release notes are ready"]
    assert await texts(storage, ann, 'note -"release notes"') == ["releases noted",
                                                                   "notes on the release"]


async def test_filters(storage: Storage) -> None:
    """from: (any case, or several: any of them), in: (a room or the conversation with a
    user, resolved by the caller), before: and after: (whole days, UTC)."""
    ann = await make_member(storage, "ann", "ops", "dev")
    bob = await make_member(storage, "bob", "ops", "dev")
    await say(storage, ann, "ops", "lunch by ann in ops")
    await say(storage, bob, "ops", "lunch by bob in ops")
    await say(storage, bob, "dev", "lunch by bob in dev")
    assert await texts(storage, ann, "lunch from:BOB") == ["lunch by bob in dev",
                                                           "lunch by bob in ops"]
    assert await texts(storage, ann, "lunch from:bob from:ann", rooms=("ops",)) == [
        "lunch by bob in ops", "lunch by ann in ops"]
    assert await texts(storage, ann, "from:ann") == ["lunch by ann in ops"]
    assert await texts(storage, ann, "lunch", rooms=("dev",)) == ["lunch by bob in dev"]
    today = datetime.datetime.now(datetime.UTC).date()
    day = datetime.timedelta(days=1)
    assert len(await texts(storage, ann, f"lunch after:{today - day}")) == 3
    assert await texts(storage, ann, f"lunch after:{today}") == []
    assert await texts(storage, ann, f"lunch before:{today}") == []
    assert len(await texts(storage, ann, f"lunch before:{today + day}")) == 3
    assert await refusal(storage, ann, "lunch from:nobody") == "not_found"
    assert await refusal(storage, ann, "lunch", rooms=("nowhere",)) == "not_found"


async def test_only_rooms_the_user_may_read(storage: Storage) -> None:
    """Without rooms named, only the user's rooms and conversations are searched; a public
    room they are not in can be named; a private room or someone else's conversation
    cannot (forbidden), and their words are never found."""
    ann = await make_member(storage, "ann")
    bob = await make_member(storage, "bob", "lobby")
    await storage.create_room(bob.id, "secret", private=True, topic="")
    await say(storage, bob, "secret", "the secret plan")
    await say(storage, bob, "lobby", "the public plan")
    cid = await make_member(storage, "cid")
    conversation = await storage.direct_room(bob.id, "cid")
    await say(storage, bob, conversation.room.name, "the private plan")
    assert await texts(storage, ann, "plan") == []
    assert await texts(storage, ann, "plan", rooms=("lobby",)) == ["the public plan"]
    assert await refusal(storage, ann, "plan", rooms=("secret",)) == "forbidden"
    assert await refusal(storage, ann, "plan", rooms=(conversation.room.name,)) == "forbidden"
    assert await texts(storage, cid, "plan") == ["the private plan"]
    assert await texts(storage, bob, "plan") == ["the private plan", "the public plan",
                                                 "the secret plan"]


async def test_edits_and_deletions(storage: Storage) -> None:
    """An edited message is found by its new words and never by the ones the edit took
    away; a deleted message is never found, whatever the query (filters alone included)."""
    ann = await make_member(storage, "ann", "ops")
    first = await say(storage, ann, "ops", "meet at the harbour")
    gone = await say(storage, ann, "ops", "harbour is closed")
    results = await storage.append_messages([
        NewChange(user_id=ann.id, room="ops", msg_id=first, kind="edited",
                  text="meet at the station"),
        NewChange(user_id=ann.id, room="ops", msg_id=gone, kind="deleted"),
    ])
    assert all(not appended(result).duplicate for result in results)
    assert await texts(storage, ann, "harbour") == []
    assert await texts(storage, ann, "stat") == ["meet at the station"]
    page = await find(storage, ann, "from:ann")
    assert [m.msg_id for m in page.messages] == [first]
    assert page.messages[0].edited_ts is not None


async def test_a_query_with_nothing_searchable(storage: Storage) -> None:
    """Words that are all punctuation are refused (bad_request) unless a filter is there to
    search by; exclusions of such words are ignored."""
    ann = await make_member(storage, "ann", "ops")
    await say(storage, ann, "ops", "hello")
    assert await refusal(storage, ann, "!!! ...") == "bad_request"
    assert await texts(storage, ann, "!!! from:ann") == ["hello"]
    assert await texts(storage, ann, "hello -!!!") == ["hello"]


async def test_a_very_long_text_is_stored_and_found(storage: Storage) -> None:
    """A text longer than what is indexed (100,000 characters) is still stored (its words
    near the start found), not refused for its size."""
    ann = await make_member(storage, "ann", "ops")
    words = " ".join(f"w{i}x" for i in range(60_000))  # 300,000+ characters
    msg_id = await say(storage, ann, "ops", "needle " + words)
    page = await find(storage, ann, "needle")
    assert [m.msg_id for m in page.messages] == [msg_id]


async def test_paging_gives_every_match_once_in_order(storage: Storage,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages by ``before`` (the last msg_id of the page) give every match exactly once,
    newest first, whatever the page size; ``more`` is false only on the last page. The
    windows are made tiny so that pages cross them."""
    monkeypatch.setattr(search_module, "FIRST_WINDOW", 3)
    ann = await make_member(storage, "ann", "ops")
    bob = await make_member(storage, "bob", "ops")
    matching = []
    for i in range(60):
        author = ann if i % 3 else bob
        text = f"tick {i}" if i % 4 else f"tock {i}"
        msg_id = await say(storage, author, "ops", text)
        if text.startswith("tick") and author is ann:
            matching.append(msg_id)
    expected = sorted(matching, reverse=True)
    for limit in (1, 2, 5, 7, 50):
        got: list[int] = []
        before = None
        while True:
            page = await find(storage, ann, "tick from:ann", before=before, limit=limit)
            got += [m.msg_id for m in page.messages]
            assert len(page.messages) <= limit
            if not page.more:
                break
            assert len(page.messages) == limit
            before = page.messages[-1].msg_id
        assert got == expected, limit


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(matches=st.lists(st.booleans(), min_size=0, max_size=40),
       first=st.integers(1, 8), limit=st.integers(1, 6))
async def test_paging_property(tmp_path: Path, database_dsn: str, matches: list[bool],
                               first: int, limit: int) -> None:
    """For any pattern of matching and other messages, any first window and page size, the
    pages give exactly the matches, newest first, once each."""
    old = search_module.FIRST_WINDOW
    search_module.FIRST_WINDOW = first
    try:
        async with open_storage(make_config(tmp_path, database_dsn)) as storage:
            await _check_paging(storage, matches, limit)
    finally:
        search_module.FIRST_WINDOW = old


async def _check_paging(storage: Storage, matches: list[bool], limit: int) -> None:
    room = f"r{next(_rooms)}"
    ann = await make_member(storage, f"u{next(_rooms)}", room)
    expected = []
    for i, hit in enumerate(matches):
        msg_id = await say(storage, ann, room, f"{'alpha' if hit else 'beta'} {i}")
        if hit:
            expected.append(msg_id)
    got: list[int] = []
    before = None
    for _ in range(len(matches) + 2):
        page = await find(storage, ann, "alp", before=before, limit=limit)
        got += [m.msg_id for m in page.messages]
        if not page.more:
            break
        before = page.messages[-1].msg_id
    assert got == expected[::-1]


_ALNUM = string.ascii_letters + string.digits + "éüßøçñабвгдеж"


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.text(_ALNUM, min_size=2, max_size=12), min_size=1, max_size=6),
       pick=st.integers(0, 5), cut=st.integers(2, 12))
async def test_any_prefix_of_a_word_finds_it(tmp_path: Path, database_dsn: str,
                                             words: list[str], pick: int, cut: int) -> None:
    """A word of a stored message (letters and digits) is found by any prefix of it of two
    characters or more, in any case."""
    async with open_storage(make_config(tmp_path, database_dsn)) as storage:
        await _check_prefix(storage, words, pick, cut)


async def _check_prefix(storage: Storage, words: list[str], pick: int, cut: int) -> None:
    room = f"r{next(_rooms)}"
    ann = await make_member(storage, f"u{next(_rooms)}", room)
    msg_id = await say(storage, ann, room, " ".join(words))
    word = words[pick % len(words)]
    prefix = word[:max(2, min(cut, len(word)))]
    # (Python's upper case of "ß" is "SS", another word: only case changes that round-trip.)
    cases = [case for case in (prefix.upper(), prefix.lower()) if case.lower() == prefix.lower()]
    for query in (prefix, *cases):
        page = await find(storage, ann, query, rooms=(room,))
        assert [m.msg_id for m in page.messages] == [msg_id], query


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(min_size=1, max_size=80).filter(lambda q: "\0" not in q)
       | st.lists(st.sampled_from(["'", "\\", "\"", "-", ":", "*", "!", "&", "|", "<->", "(",
                                   ")", "a", "b:", "from:", "in:", "after:", "@", "<", ">",
                                   "1", "é", " ", "--", ":*", "''"]),
                  min_size=1, max_size=12).map("".join))
async def test_any_query_answers_or_is_refused_clearly(tmp_path: Path, database_dsn: str,
                                                       query: str) -> None:
    """Whatever is typed, the search answers or refuses with a clear code (never a database
    error, which would surface as unavailable)."""
    async with open_storage(make_config(tmp_path, database_dsn)) as storage:
        await _check_any_query(storage, query)


async def _check_any_query(storage: Storage, query: str) -> None:
    room = f"r{next(_rooms)}"
    user = await make_member(storage, f"u{next(_rooms)}", room)
    await say(storage, user, room, "some text to find, with 'quotes' & stuff \\ <->")
    try:
        parsed = parse_query(query)
    except QueryError:
        return
    try:
        with trio.fail_after(TIMEOUT):
            await storage.search(user.id, parsed, limit=5)
    except ChatError as exc:
        assert exc.code in ("bad_request", "not_found", "forbidden"), exc


# -- plans -------------------------------------------------------------------------------------


def _explain(dsn: str, sql: str, *args: Any, settings: tuple[str, ...] = ()) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("ANALYZE")
            for setting in settings:
                await conn.execute(setting)
            text = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *args)
        finally:
            await conn.close()
        return json.loads(text)[0]["Plan"]  # type: ignore[no-any-return]

    return asyncio.run(run())


def _fill(dsn: str, count: int) -> None:
    """``count`` messages of varied words by the first user in the first room, straight
    into the database (storage's appends would take a while)."""

    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("""
                INSERT INTO messages (room_id, seq, sender_id, nonce, text)
                SELECT 1, g, 1, 'fill' || g,
                       'filler number ' || g || ' word' || (g % 97) || ' other' || (g % 13)
                FROM generate_series(1, $1::bigint) g""", count)
            await conn.execute("UPDATE rooms SET last_seq = $1 WHERE id = 1", count)
        finally:
            await conn.close()

    asyncio.run(run())


def _indexes(node: dict[str, Any]) -> set[str]:
    found = {node["Index Name"]} if "Index Name" in node else set()
    for child in node.get("Plans", []):
        found |= _indexes(child)
    return found


async def test_the_search_uses_the_gin_index(storage: Storage, database_dsn: str) -> None:
    """Below the small windows, where the search reads through the indexes only, a rare word
    among 30,000 messages is found through messages_words_idx, never by a scan of the
    table; in a small window any plan reads at most the window's rows."""
    ann = await make_member(storage, "ann", "ops")
    await trio.to_thread.run_sync(_fill, database_dsn, 30_000)
    await say(storage, ann, "ops", "a rare zanzibar word")
    await index_for_search(storage)
    query = SearchQuery(words=("zanz",))
    sql = window_sql(positive=True, negative=False, senders=False, after=False, before=False)
    rest = await trio.to_thread.run_sync(lambda: _explain(
        database_dsn, sql, [1], 30_000 - search_module.FIRST_WINDOW * 5, 0, 21,
        query.positive(), settings=("SET enable_indexscan = off",)))
    assert "messages_words_idx" in _indexes(rest), json.dumps(rest, indent=1)
    assert "Seq Scan" not in json.dumps(rest), json.dumps(rest, indent=1)
    window = await trio.to_thread.run_sync(lambda: _explain(
        database_dsn, sql, [1], 30_002, 30_002 - search_module.FIRST_WINDOW, 21,
        query.positive()))
    assert "Seq Scan" not in json.dumps(window), json.dumps(window, indent=1)
    assert _rows_read(window) <= search_module.FIRST_WINDOW + 1, json.dumps(window, indent=1)
    page = await find(storage, ann, "zanz")
    assert [m.text for m in page.messages] == ["a rare zanzibar word"]


async def test_has_and_is_below_the_windows_read_their_own_rows(
        storage: Storage, database_dsn: str) -> None:
    """Below the small windows (indexes only), a filter of a small table (is:saved,
    is:pinned, is:mention, has:file, has:poll, has:link) among 30,000 messages reads the
    rows it names and a few more, never every message of the room."""
    from tests.storage.test_changes import one
    from tests.storage.test_pins import pin
    from tests.storage.test_polls import ask
    ann = await make_member(storage, "ann", "ops")
    await trio.to_thread.run_sync(_fill, database_dsn, 30_000)
    await say(storage, ann, "ops", "after the filler")
    old = 5_000  # a msg_id of the filler, far below the windows
    await storage.save(ann.id, "ops", old, on=True, remind_at=None, limit=100)
    await one(storage, pin(ann, "ops", old + 1))
    stored = await storage.add_file(ann.id, "ops", sha256="b" * 64, size=3, name="x.txt",
                                    content_type="text/plain", quota_bytes=10**6)
    await storage.append_messages([
        NewMessage(user_id=ann.id, room="ops", text="filed", nonce="f1",
                   files=(stored.info.id,)),
        ask(ann, "ops", "Lunch?", "Pizza", "Soup"),
        NewMessage(user_id=ann.id, room="ops", text="the one link https://example.org/rare",
                   nonce="l1")])
    await index_for_search(storage)
    high = 30_000 - search_module.FIRST_WINDOW * 5
    for has, is_, args in (((), ("saved",), [ann.id]), ((), ("pinned",), []),
                           ((), ("mention",), [ann.id]), (("file",), (), []),
                           (("poll",), (), []), (("link",), (), [])):
        sql = window_sql(positive=False, negative=False, senders=False, after=False,
                         before=False, has=has, is_=is_)
        # (the file and the poll are above the filler: the whole range is searched)
        low_high = (30_010, 0) if has else (high, 0)
        plan = await trio.to_thread.run_sync(functools.partial(
            _explain, database_dsn, sql, [1], *low_high, 21, *args,
            settings=("SET enable_indexscan = off",)))
        assert _rows_read(plan) <= 100, (has, is_, json.dumps(plan, indent=1))


def _rows_read(node: dict[str, Any]) -> int:
    """The rows the scans of a plan read (returned and filtered out)."""
    own = (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
           if "Relation Name" in node else 0)
    return own + sum(_rows_read(child) for child in node.get("Plans", []))


def test_window_statements_take_every_value_as_a_parameter() -> None:
    """The statements are made of fixed fragments: every value is a $n parameter, numbered
    without gaps, whichever filters a query has, negated or not (the user's id once, for
    is:mention and is:saved)."""
    fixed = ("'simple'", "'image/%'", "'https?://[^[:space:]]'")
    for flags, has, is_, not_has, not_is in itertools.product(
            itertools.product((False, True), repeat=5),
            [(), ("file",), ("image", "link", "poll")],
            [(), ("pinned", "thread"), ("mention",), ("saved", "mention")],
            [(), ("link", "file")], [(), ("thread",), ("saved",)]):
        sql = window_sql(positive=flags[0], negative=flags[1], senders=flags[2],
                         after=flags[3], before=flags[4], has=has, is_=is_, not_has=not_has,
                         not_is=not_is)
        numbers = sorted({int(n) for n in re.findall(r"\$(\d+)", sql)})
        user = any(name in ("mention", "saved") for name in (*is_, *not_is))
        assert numbers == list(range(1, 5 + sum(flags) + user))
        for literal in fixed:
            sql = sql.replace(literal, "")
        assert "'" not in sql


async def test_has_and_is(storage: Storage) -> None:
    """has:file (has:attachment), has:image, has:link, has:poll; is:mention (by name, and by
    @room, not a thread follow's), is:saved (the searching user's own), is:pinned,
    is:thread; alone, with words, and several at once (all of them); a deleted file or
    message, a removed pin or save no longer counts."""
    from tests.storage.test_changes import one
    from tests.storage.test_pins import pin
    from tests.storage.test_polls import ask
    ann = await make_member(storage, "ann", "ops")
    bob = await make_member(storage, "bob", "ops")

    async def attach(name: str, content_type: str, text: str) -> int:
        stored = await storage.add_file(bob.id, "ops", sha256=f"{len(name):064x}", size=3,
                                        name=name, content_type=content_type,
                                        quota_bytes=10**6)
        [result] = await storage.append_messages([NewMessage(
            user_id=bob.id, room="ops", text=text, nonce=f"n{next(_nonces)}",
            files=(stored.info.id,))])
        return appended(result).message.msg_id

    plain = await say(storage, bob, "ops", "plain words")
    report = await attach("report.pdf", "application/pdf", "the report")
    photo = await attach("photo.png", "image/png", "a photo")
    link = await say(storage, bob, "ops", "see https://example.com/docs for the report")
    not_a_link = await say(storage, bob, "ops", "http:// alone and httpx://no")
    [result] = await storage.append_messages([ask(bob, "ops", "Lunch?", "Pizza", "Soup")])
    poll = appended(result).message.msg_id
    [result] = await storage.append_messages([NewMessage(
        user_id=bob.id, room="ops", text="@ann the report please", nonce="m1",
        mentions=("ann",))])
    named = appended(result).message.msg_id
    [result] = await storage.append_messages([NewMessage(
        user_id=bob.id, room="ops", text="@room standup", nonce="m2", group=(ann.id,))])
    everyone = appended(result).message.msg_id
    [result] = await storage.append_messages([NewMessage(
        user_id=bob.id, room="ops", text="in the thread", nonce="t1", thread=plain)])
    reply = appended(result).message.msg_id
    await one(storage, pin(bob, "ops", report))
    await storage.save(ann.id, "ops", link, on=True, remind_at=None, limit=100)
    await storage.save(bob.id, "ops", photo, on=True, remind_at=None, limit=100)

    async def ids(query: str, who: User = ann) -> list[int]:
        return [m.msg_id for m in (await find(storage, who, query)).messages]

    assert await ids("has:file") == [photo, report]
    assert await ids("has:ATTACHMENT") == [photo, report]
    assert await ids("has:image") == [photo]
    assert await ids("has:link") == [link]
    assert await ids("has:poll") == [poll]
    assert await ids("is:mention") == [everyone, named]
    assert await ids("is:mentioned report") == [named]
    assert await ids("is:saved") == [link]
    assert await ids("is:starred", bob) == [photo]
    assert await ids("is:pinned") == [report]
    assert await ids("is:thread") == [reply]
    assert await ids("report has:file") == [report]
    assert await ids("report has:link") == [link]
    assert await ids("has:file is:pinned") == [report]
    assert await ids("has:file has:image") == [photo]
    assert await ids("has:link is:pinned") == []
    assert not_a_link not in await ids("has:link")
    # negated: what passes them is left out
    assert await ids("report") == [named, link, report]
    assert await ids("report -has:link") == [named, report]
    assert await ids("report -has:attachment") == [named, link]
    assert await ids("report -is:mention") == [link, report]
    assert await ids("report -is:saved -is:pinned") == [named]
    assert await ids("has:file -has:image") == [report]
    assert await ids("has:file -is:pinned") == [photo]
    assert await ids("is:mention -is:thread") == [everyone, named]
    assert await ids("in:ops -has:poll -has:file -has:link -is:mention -is:thread") == [
        not_a_link, plain]
    assert await ids("is:starred -has:image", bob) == []
    # an edit that takes the link away, or brings one, is told by has:link once indexed
    await one(storage, NewChange(user_id=bob.id, room="ops", msg_id=link, kind="edited",
                                 text="see the docs for the report"))
    await one(storage, NewChange(user_id=bob.id, room="ops", msg_id=plain, kind="edited",
                                 text="plain words http://example.org/x"))
    assert await ids("has:link") == [plain]
    assert await ids("report -has:link") == [named, link, report]
    await one(storage, NewChange(user_id=bob.id, room="ops", msg_id=plain, kind="deleted"))
    assert await ids("has:link") == []

    await one(storage, pin(bob, "ops", report, on=False))
    await storage.save(ann.id, "ops", link, on=False, remind_at=None, limit=100)
    await one(storage, NewChange(user_id=bob.id, room="ops", msg_id=named,
                                 kind="deleted"))
    assert await ids("is:pinned") == []
    assert await ids("is:saved") == []
    assert await ids("is:mention") == [everyone]


def test_has_and_is_are_parsed_and_refused_clearly() -> None:
    """has:/is: take the names a person types (any case, the aliases), each once however
    often given; anything else, an empty value or a negation alone is refused in words."""
    query = parse_query("has:Files has:attachment has:image is:mentioned is:starred")
    assert (query.has, query.is_) == (("file", "image"), ("mention", "saved"))
    assert query.has_filters and not query.has_terms
    for text, says in (("has:video", "has:video is none of has:file, has:image, has:link, "
                                     "has:poll"),
                       ("is:unread", "is:unread is none of is:mention, is:saved, "
                                     "is:pinned, is:thread"),
                       ("has:", "has: needs a value, as in has:file"),
                       ("-has:link", "not only -exclusions")):
        with pytest.raises(QueryError, match=re.escape(says)):
            parse_query(text)


async def test_a_poll_is_found_by_its_options(storage: Storage) -> None:
    """A poll's words are its question's and its options' (a team looks for the poll about
    "Thursday" by the day it offered); a plain message is found as before."""
    from tests.storage.test_polls import ask
    ann = await make_member(storage, "ann", "ops")
    [result] = await storage.append_messages([ask(ann, "ops", "When shall we meet?",
                                                  "Thursday morning", "Friday lunch")])
    poll = appended(result).message.msg_id
    plain = await say(storage, ann, "ops", "Friday it is then")
    page = await find(storage, ann, "thursday")
    assert [m.msg_id for m in page.messages] == [poll]
    assert [m.msg_id for m in (await find(storage, ann, "friday")).messages] == [plain, poll]
    assert [m.msg_id for m in (await find(storage, ann, "meet")).messages] == [poll]
