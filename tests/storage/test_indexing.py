"""Indexing for search off the send path (migration 0011, chatd/indexer.py), against a real
(embedded) PostgreSQL: a message is stored unindexed and becomes searchable once the
indexer ran; the messages of before the upgrade are indexed by a sweep; two indexers (two
nodes) share the work without doubling it or waiting for each other; edits and deletions
are never found by words they no longer have, indexed or not.

The indexer is driven by calling it (:meth:`Storage.index_words`, or the actor's
:meth:`Indexer.sweep` and :meth:`Indexer.index_hints`), never by waiting for it. Rules as in
test_postgres.py: a fresh database per test, every await under ``fail_after``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatd.indexer import Indexer
from chatd.metrics import Metrics
from chatd.search import parse_query
from chatd.storage import Message, NewChange, NewMessage, Storage, User, open_storage
from chatd.storage.migrations import load_migrations
from chatd.storage.postgres import _SQL_INDEX_WORDS_OF, _SQL_INDEX_WORDS_SWEEP
from tests.helpers import index_for_search, make_config
from tests.storage.test_postgres import TIMEOUT, appended, make_member

_nonces = itertools.count()
_names = itertools.count()


async def say(storage: Storage, user: User, room: str, text: str) -> Message:
    [result] = await storage.append_messages([NewMessage(
        user_id=user.id, room=room, text=text, nonce=f"n{next(_nonces)}")])
    return appended(result).message


async def change(storage: Storage, user: User, room: str, msg_id: int, kind: str,
                 text: str = "") -> Message:
    [result] = await storage.append_messages([NewChange(
        user_id=user.id, room=room, msg_id=msg_id, kind=kind, text=text)])
    return appended(result).message


async def found(storage: Storage, user: User, query: str) -> list[int]:
    """The msg_ids ``query`` finds now, newest first, without indexing anything first."""
    with trio.fail_after(TIMEOUT):
        page = await storage.search(user.id, parse_query(query), limit=50)
    return [m.msg_id for m in page.messages]


def _sql(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dsn)
        try:
            if not args:  # (a script of several statements, as a migration is)
                await conn.execute(sql)
                return []
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    return asyncio.run(run())


async def sql(dsn: str, query: str, *args: Any) -> list[asyncpg.Record]:
    """Run ``query`` on a connection of its own (with ``args``: fetch its rows)."""
    return await trio.to_thread.run_sync(lambda: _sql(dsn, query, *args))


async def count(dsn: str, query: str) -> int:
    rows = await sql(dsn, f"SELECT count(*) FROM ({query}) q WHERE $1", True)
    return int(rows[0][0])


def sample(metrics: Metrics, name: str) -> float | None:
    return metrics.registry.get_sample_value(name)


def indexer(storage: Storage, **kwargs: Any) -> Indexer:
    return Indexer(storage, Metrics(), rest=0, **kwargs)


async def test_a_message_is_found_once_indexed(storage: Storage) -> None:
    """A message is stored unindexed: found by filters, never by its words, until the
    indexer ran; then by its words. The committer's hint (its msg_id) is enough."""
    ann = await make_member(storage, "ann", "ops")
    message = await say(storage, ann, "ops", "the deployment starts")
    assert await found(storage, ann, "deploy") == []
    assert await found(storage, ann, "from:ann") == [message.msg_id]
    assert await found(storage, ann, "from:ann -deploy") == []  # NULL words match nothing
    assert await storage.index_backlog(10) == 1
    worker = indexer(storage)
    worker.offer([message])
    with trio.fail_after(TIMEOUT):
        assert await worker.index_hints() == 1
        assert await worker.index_hints() == 0  # the hint is used up
    assert await found(storage, ann, "deploy") == [message.msg_id]
    assert await found(storage, ann, "from:ann -deploy") == []
    assert await storage.index_backlog(10) == 0
    with trio.fail_after(TIMEOUT):  # indexed once: a hint or a sweep finds nothing more
        assert await storage.index_words(ids=[message.msg_id]) == 0
        assert await storage.index_words(limit=10) == 0


async def test_hints_past_the_bound_become_a_sweep(storage: Storage) -> None:
    """More hints than ``max_hints`` are dropped for a sweep, which indexes them all, newest
    first, a batch at a time; the backlog gauge ends at 0 and the counter counts them."""
    ann = await make_member(storage, "ann", "ops")
    messages = [await say(storage, ann, "ops", f"tick {i}") for i in range(7)]
    worker = Indexer(storage, metrics := Metrics(), rest=0, batch=3, max_hints=4)
    worker.offer(messages[:4])
    worker.offer(messages[4:])
    with trio.fail_after(TIMEOUT):
        assert await worker.index_hints() == 0  # dropped
        assert await worker.sweep() == 7
    assert await found(storage, ann, "tick") == [m.msg_id for m in reversed(messages)]
    assert sample(metrics, "chatd_search_indexed_total") == 7
    assert sample(metrics, "chatd_search_backlog") == 0


async def test_a_sweep_is_newest_first(storage: Storage, database_dsn: str) -> None:
    """One batch of a sweep indexes the newest messages waiting."""
    ann = await make_member(storage, "ann", "ops")
    ids = [(await say(storage, ann, "ops", f"word {i}")).msg_id for i in range(5)]
    with trio.fail_after(TIMEOUT):
        assert await storage.index_words(limit=2) == 2
    rows = await sql(database_dsn, "SELECT id FROM messages WHERE words IS NOT NULL AND $1",
                     True)
    assert sorted(row["id"] for row in rows) == ids[-2:]


async def test_the_messages_of_before_the_upgrade_are_indexed(tmp_path: Path,
                                                              database_dsn: str) -> None:
    """A database with messages at the schema before migration 0011: the migration adds
    the column without computing anything (every old message waits, NULL), and the
    indexer's sweep fills them all, after which they are found by their words."""
    before = [m for m in load_migrations() if m.version < 11]
    await sql(database_dsn, "CREATE TABLE schema_migrations (version integer PRIMARY KEY, "
                            "applied_at timestamptz NOT NULL DEFAULT now())")
    for migration in before:
        await sql(database_dsn, migration.sql)
        await sql(database_dsn, "INSERT INTO schema_migrations (version) VALUES ($1)",
                  migration.version)
    await sql(database_dsn, "INSERT INTO users (name, password_hash) VALUES ('ann', 'h')")
    await sql(database_dsn, "INSERT INTO rooms (name, last_seq) VALUES ('ops', 2500)")
    await sql(database_dsn, "INSERT INTO memberships (room_id, user_id) VALUES (1, 1)")
    await sql(database_dsn, """
        INSERT INTO messages (room_id, seq, sender_id, nonce, text)
        SELECT 1, g, 1, 'old' || g, 'old message ' || g || ' about ' ||
               CASE WHEN g % 100 = 0 THEN 'harbours' ELSE 'nothing' END
        FROM generate_series(1, 2500) g""")
    async with open_storage(make_config(tmp_path, database_dsn)) as storage:
        with trio.fail_after(TIMEOUT):
            ann = (await storage.get_credentials("ann"))
            assert ann is not None
            assert await storage.index_backlog(10_000) == 2500
            assert await found(storage, ann.user, "harbour") == []
            worker = indexer(storage, batch=1000)
            assert await worker.sweep() == 2500
            assert await storage.index_backlog(10_000) == 0
            hits = await found(storage, ann.user, "harbour")
    assert len(hits) == 25


async def test_two_indexers_share_the_work(tmp_path: Path, database_dsn: str) -> None:
    """Two nodes (two storages on one database) sweeping and indexing hints at once, in
    small batches: every message is indexed exactly once (the counts add up to the
    messages, never more), and neither waits for the other."""
    config = make_config(tmp_path, database_dsn)
    async with open_storage(config) as one, open_storage(config) as two:
        ann = await make_member(one, "ann", "ops")
        messages = []
        for start in range(0, 600, 100):
            results = await one.append_messages([
                NewMessage(user_id=ann.id, room="ops", text=f"parallel {i}",
                           nonce=f"p{i}") for i in range(start, start + 100)])
            messages += [appended(result).message for result in results]
        first, second, third = indexer(one, batch=7), indexer(two, batch=5), indexer(two)
        third.offer(messages[::2])
        counts: list[int] = []

        async def run(work: Any) -> None:
            counts.append(await work())

        with trio.fail_after(TIMEOUT):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(run, first.sweep)
                nursery.start_soon(run, second.sweep)
                nursery.start_soon(run, third.index_hints)
        assert sum(counts) == 600, counts
        assert await one.index_backlog(1000) == 0
        assert len(await found(one, ann, "parallel")) == 50  # the newest page
        assert await count(database_dsn, "SELECT 1 FROM messages "
                                         "WHERE words = to_tsvector('simple', text)") == 600


async def test_edits_and_deletions_before_and_after_indexing(storage: Storage) -> None:
    """An edit makes the message wait for the indexer again: until then it is found by
    neither its old words nor its new ones (never by a word the edit took away), then by
    its new ones. A deletion is never found again, indexed or not, and leaves no work."""
    ann = await make_member(storage, "ann", "ops")
    edited = await say(storage, ann, "ops", "meet at the harbour")
    gone = await say(storage, ann, "ops", "the harbour is closed")
    await index_for_search(storage)
    assert await found(storage, ann, "harbour") == [gone.msg_id, edited.msg_id]
    entry = await change(storage, ann, "ops", edited.msg_id, "edited", "meet at the station")
    await change(storage, ann, "ops", gone.msg_id, "deleted")
    assert await found(storage, ann, "harbour") == []
    assert await found(storage, ann, "station") == []  # not indexed yet
    assert await found(storage, ann, "from:ann") == [edited.msg_id]
    assert await storage.index_backlog(10) == 1  # the edit; the deletion waits for nothing
    worker = indexer(storage)
    worker.offer([entry])  # the committer's hint for an edit
    with trio.fail_after(TIMEOUT):
        assert await worker.index_hints() == 1
    assert await found(storage, ann, "station") == [edited.msg_id]
    assert await found(storage, ann, "harbour") == []

    # Deleted (and edited) before the indexer ever saw them.
    late = await say(storage, ann, "ops", "harbour again")
    rewritten = await say(storage, ann, "ops", "harbour once more")
    await change(storage, ann, "ops", late.msg_id, "deleted")
    await change(storage, ann, "ops", rewritten.msg_id, "edited", "station once more")
    assert await found(storage, ann, "harbour") == []
    with trio.fail_after(TIMEOUT):
        assert await index_for_search(storage) == 1
    assert await found(storage, ann, "harbour") == []
    assert await found(storage, ann, "station") == [rewritten.msg_id, edited.msg_id]


async def test_a_reaction_leaves_the_words_alone(storage: Storage, database_dsn: str) -> None:
    """A reaction moves the message's rev only: its words stay indexed (or stay waiting)."""
    ann = await make_member(storage, "ann", "ops")
    indexed = await say(storage, ann, "ops", "indexed words")
    await index_for_search(storage)
    waiting = await say(storage, ann, "ops", "waiting words")
    for message in (indexed, waiting):
        [result] = await storage.append_messages([NewChange(
            user_id=ann.id, room="ops", msg_id=message.msg_id, kind="reaction", emoji="👍",
            on=True)])
        assert not appended(result).duplicate
    rows = await sql(database_dsn, "SELECT id, words IS NULL AS waiting FROM messages "
                                   "WHERE $1", True)
    assert {row["id"]: row["waiting"] for row in rows} == {indexed.msg_id: False,
                                                          waiting.msg_id: True}


# What a search finds at any moment: only messages whose text, as it is now, has the word.
_WORDS = ("alpha", "bravo", "charlie")


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.one_of(
    st.tuples(st.just("send"), st.sampled_from(_WORDS)),
    st.tuples(st.just("edit"), st.integers(0, 9), st.sampled_from(_WORDS)),
    st.tuples(st.just("delete"), st.integers(0, 9)),
    st.tuples(st.just("hints"), st.integers(0, 9)),
    st.tuples(st.just("sweep"), st.integers(1, 3)),
), min_size=1, max_size=18))
async def test_never_found_by_words_it_does_not_have(tmp_path: Path, database_dsn: str,
                                                     steps: list[tuple[Any, ...]]) -> None:
    """Whatever order sends, edits, deletions, hinted rounds and partial sweeps come in, a
    search never finds a message by a word its text does not have now; after a full
    sweep it finds exactly those that have it."""
    async with open_storage(make_config(tmp_path, database_dsn)) as storage:
        with trio.fail_after(TIMEOUT * 2):
            await _check_steps(storage, steps)


async def _check_steps(storage: Storage, steps: list[tuple[Any, ...]]) -> None:
    room = f"r{next(_names)}"
    user = await make_member(storage, f"u{next(_names)}", room)
    texts: dict[int, str | None] = {}  # msg_id -> text now (None: deleted)
    order: list[int] = []
    hints: list[Message] = []
    worker = indexer(storage, batch=2)
    for step in steps:
        if step[0] == "send":
            message = await say(storage, user, room, f"{step[1]} text")
            texts[message.msg_id] = message.text
            order.append(message.msg_id)
            hints.append(message)
        elif step[0] in ("edit", "delete") and order:
            msg_id = order[step[1] % len(order)]
            if texts[msg_id] is None:
                continue
            if step[0] == "edit":
                text = f"{step[2]} edited"
                if text == texts[msg_id]:
                    continue
                hints.append(await change(storage, user, room, msg_id, "edited", text))
                texts[msg_id] = text
            else:
                await change(storage, user, room, msg_id, "deleted")
                texts[msg_id] = None
        elif step[0] == "hints":
            worker.offer(hints[:step[1]])
            del hints[:step[1]]
            await worker.index_hints()
        elif step[0] == "sweep":
            await storage.index_words(limit=step[1])
        for word in _WORDS:
            hits = await storage.search(user.id, parse_query(word), rooms=(room,), limit=50)
            for message in hits.messages:
                assert word in (texts[message.msg_id] or ""), (word, message, texts)
    await index_for_search(storage)
    for word in _WORDS:
        hits = await storage.search(user.id, parse_query(word), rooms=(room,), limit=50)
        expected = [msg_id for msg_id in reversed(order) if word in (texts[msg_id] or "")]
        assert [m.msg_id for m in hits.messages] == expected


# -- plans -------------------------------------------------------------------------------------


def _plan(dsn: str, sql_text: str, *args: Any) -> str:
    async def run() -> str:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("ANALYZE messages")
            async with conn.transaction():  # EXPLAIN ANALYZE runs it: roll it back
                text = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql_text}", *args)
                raise _Rollback(text)
        except _Rollback as rolled:
            return str(rolled.args[0])
        finally:
            await conn.close()

    return asyncio.run(run())


class _Rollback(Exception):
    pass


async def test_the_indexer_never_scans_the_table(storage: Storage, database_dsn: str) -> None:
    """Among 20,000 indexed messages and a few waiting, a sweep's batch finds them through
    messages_unindexed_idx and a hinted batch by key: no scan of messages either way."""
    ann = await make_member(storage, "ann", "ops")
    await sql(database_dsn, f"""
        INSERT INTO messages (room_id, seq, sender_id, nonce, text)
        SELECT 1, g, {ann.id}, 'fill' || g, 'filler ' || g FROM generate_series(1, 20000) g""")
    await sql(database_dsn, "UPDATE rooms SET last_seq = 20000")
    await index_for_search(storage)
    waiting = [(await say(storage, ann, "ops", f"new {i}")).msg_id for i in range(3)]
    sweep = await trio.to_thread.run_sync(_plan, database_dsn, _SQL_INDEX_WORDS_SWEEP, 1000)
    assert "messages_unindexed_idx" in sweep and "Seq Scan" not in sweep, json.loads(sweep)
    hinted = await trio.to_thread.run_sync(_plan, database_dsn, _SQL_INDEX_WORDS_OF, waiting)
    assert "Seq Scan" not in hinted, json.loads(hinted)
    with trio.fail_after(TIMEOUT):
        assert await storage.index_words(ids=waiting) == 3


async def test_a_failure_is_logged_and_retried(storage: Storage, database_dsn: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The indexer's task survives statements that fail (here the column is away for a
    moment): the round is counted as failed and tried again, and once the database is
    right again the message waiting is indexed, by a sweep (hints are dropped on a
    failure, never the work: that is the database's NULL words)."""
    monkeypatch.setattr("chatd.indexer.RETRY_MIN", 0.01)
    ann = await make_member(storage, "ann", "ops")
    message = await say(storage, ann, "ops", "survivor")
    metrics = Metrics()
    worker = Indexer(storage, metrics, rest=0)
    await sql(database_dsn, "ALTER TABLE messages RENAME COLUMN words TO away")
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            await nursery.start(worker.run)
            worker.offer([message])
            while not sample(metrics, "chatd_search_index_failures_total"):  # noqa: ASYNC110 (a count)
                await trio.sleep(0.01)
            await sql(database_dsn, "ALTER TABLE messages RENAME COLUMN away TO words")
            while not await found(storage, ann, "survivor"):  # noqa: ASYNC110 (the database)
                await trio.sleep(0.01)
            nursery.cancel_scope.cancel()


async def test_a_batch_commits_unsynced_in_one_statement_and_leaves_the_connection_synced(
        storage: Storage, database_dsn: str) -> None:
    """A batch is one statement (no BEGIN, SET LOCAL, COMMIT around it) that turns
    synchronous_commit off for its own transaction only: the pooled connection it ran on
    goes back to the appends, which must wait for the disk."""
    user = await make_member(storage, "ivy", "lab")
    message = await say(storage, user, "lab", "unsynced words")

    async def run() -> list[str]:
        conn = await asyncpg.connect(database_dsn)
        try:
            await conn.execute("SET synchronous_commit = on")  # (the tests' server has it off)
            async with conn.transaction():  # to look inside the statement's transaction
                assert await conn.fetchval(_SQL_INDEX_WORDS_OF, [message.msg_id]) == 1
                inside = await conn.fetchval("SHOW synchronous_commit")
            after = await conn.fetchval("SHOW synchronous_commit")
            await conn.fetchval(_SQL_INDEX_WORDS_SWEEP, 10)  # autocommit, as the indexer
            return [inside, after, await conn.fetchval("SHOW synchronous_commit")]
        finally:
            await conn.close()

    with trio.fail_after(TIMEOUT):
        assert await trio.to_thread.run_sync(asyncio.run, run()) == ["off", "on", "on"]
    assert await found(storage, user, "unsynced") == [message.msg_id]
