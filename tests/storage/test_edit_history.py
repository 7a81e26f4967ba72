"""Contract tests of a message's edit history (migration 0045), against a real (embedded)
PostgreSQL.

The rules (chatd.storage.changes, Storage.edit_history): an edit keeps the text it replaced on
its own entry, so every version of a message is known, the original first; a message edited
before that shows the versions its edits carry and says the original is not kept; a deleted
message has no history (not_found); whoever may read the room (as history decides) may read
it; a long history keeps its first version and the newest others, counting those left out.
A batch that edits nothing runs the statements it ran before (the append and _SQL_WRITE, which
never name the new column).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
import trio

from chatd.errors import ChatError
from chatd.storage import EditHistory, Storage, User, open_storage, postgres
from chatd.storage import changes as changes_module
from chatd.storage.postgres import PostgresStorage
from tests.helpers import make_config
from tests.storage.test_changes import delete, edit, one, react, say
from tests.storage.test_postgres import TIMEOUT, appended, make_member


def texts(found: EditHistory) -> list[str]:
    return [v.text for v in found.versions]


async def _sql(dsn: str, statement: str, *args: object) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement, *args)
    finally:
        await conn.close()


async def sql(dsn: str, statement: str, *args: object) -> None:
    await trio.to_thread.run_sync(asyncio.run, _sql(dsn, statement, *args))


async def refusal(call: object) -> str:
    try:
        await call  # type: ignore[misc]
    except ChatError as exc:
        return exc.code
    raise AssertionError("not refused")


async def posted(storage: Storage, user: User, room: str, *versions: str) -> int:
    """A message sent with the first text and edited to each of the others, one by one."""
    msg_id = appended(await one(storage, say(user, room, versions[0]))).message.msg_id
    for text in versions[1:]:
        appended(await one(storage, edit(user, room, msg_id, text)))
    return msg_id


async def test_every_version_is_kept_the_original_first(storage: Storage) -> None:
    """Sent as "one", edited to "two" then "three": three versions oldest first, the original
    with the message's seq and time, each edit with its entry's seq and its author; a message
    never edited has its one version."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        bob = await make_member(storage, "bob", "general")
        msg_id = await posted(storage, ann, "general", "one", "two", "three")
        found = await storage.edit_history(bob.id, "general", msg_id)
        assert texts(found) == ["one", "two", "three"]
        assert found.original and found.omitted == 0
        assert [v.by for v in found.versions] == ["ann"] * 3
        seqs = [v.seq for v in found.versions]
        assert seqs == sorted(seqs) and len(set(seqs)) == 3
        page = await storage.history(bob.id, "general", limit=50)
        [message] = [m for m in page.messages if m.kind == "message"]
        assert (found.versions[0].seq, found.versions[0].ts) == (message.seq, message.ts)
        assert [m.seq for m in page.messages if m.kind == "edited"] == seqs[1:]
        plain = appended(await one(storage, say(ann, "general", "plain"))).message
        alone = await storage.edit_history(ann.id, "general", plain.msg_id)
        assert texts(alone) == ["plain"] and alone.original


async def test_two_edits_in_one_batch_keep_each_replaced_text(storage: Storage) -> None:
    """Two edits of one message in one batch: the second replaced the first's text, not the
    text the batch started from; an edit to the same text stores nothing."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        msg_id = await posted(storage, ann, "general", "a")
        results = await storage.append_messages([
            edit(ann, "general", msg_id, "b"), edit(ann, "general", msg_id, "b"),
            edit(ann, "general", msg_id, "c")])
        assert [appended(r).duplicate for r in results] == [False, True, False]
        assert texts(await storage.edit_history(ann.id, "general", msg_id)) == ["a", "b", "c"]


async def test_edited_before_the_migration_the_original_is_not_kept(
        storage: Storage, database_dsn: str) -> None:
    """Edits whose replaced text is not there (as the migration leaves older ones): the
    versions the edits carry, original false; an edit after keeps its own."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        msg_id = await posted(storage, ann, "general", "first", "second", "third")
        await sql(database_dsn, "UPDATE changes SET replaced = NULL WHERE message_id = $1",
                  msg_id)
        appended(await one(storage, edit(ann, "general", msg_id, "fourth")))
        found = await storage.edit_history(ann.id, "general", msg_id)
        assert texts(found) == ["second", "third", "fourth"]
        assert not found.original and found.omitted == 0


async def test_a_deleted_message_has_no_history(storage: Storage, database_dsn: str) -> None:
    """Deleting an edited message empties its edits' texts, the replaced ones too: its
    history is not_found, and no row keeps a word of it."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        msg_id = await posted(storage, ann, "general", "secret one", "secret two")
        appended(await one(storage, delete(ann, "general", msg_id)))
        assert await refusal(storage.edit_history(ann.id, "general", msg_id)) == "not_found"
        conn = await trio.to_thread.run_sync(asyncio.run, _left(database_dsn, msg_id))
        assert conn == [("", None)]


async def _left(dsn: str, msg_id: int) -> list[tuple[str, str | None]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT text, replaced FROM changes WHERE message_id = $1 "
                                "AND kind = 'edited'", msg_id)
        return [(r["text"], r["replaced"]) for r in rows]
    finally:
        await conn.close()


async def test_who_may_read_it(storage: Storage) -> None:
    """Whoever may read the room: a public room's non-members too; a private room's
    non-member is forbidden; no room, a message of another room, no message: not_found."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        eve = await make_member(storage, "eve")
        msg_id = await posted(storage, ann, "general", "x", "y")
        assert texts(await storage.edit_history(eve.id, "general", msg_id)) == ["x", "y"]
        await storage.create_room(ann.id, "secret", private=True, topic="")
        hidden = await posted(storage, ann, "secret", "p", "q")
        assert await refusal(storage.edit_history(eve.id, "secret", hidden)) == "forbidden"
        assert texts(await storage.edit_history(ann.id, "secret", hidden)) == ["p", "q"]
        assert await refusal(storage.edit_history(ann.id, "nowhere", msg_id)) == "not_found"
        assert await refusal(storage.edit_history(ann.id, "secret", msg_id)) == "not_found"
        assert await refusal(storage.edit_history(ann.id, "general", 10**15)) == "not_found"


async def test_moderated_is_for_its_author_and_the_rooms_moderators(
        storage: Storage, database_dsn: str) -> None:
    """``moderated`` ([messages] edit_history "moderators"): the author, the room's owner and
    a moderator read the versions; a member and a reader from outside are forbidden (after
    the room's own checks: a missing message is still not_found)."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")  # the owner: she made it
        bob = await make_member(storage, "bob", "general")
        cid = await make_member(storage, "cid", "general")
        dan = await make_member(storage, "dan", "general")
        eve = await make_member(storage, "eve")
        await sql(database_dsn, "UPDATE memberships SET role = 'moderator' WHERE user_id = $1",
                  cid.id)
        msg_id = await posted(storage, bob, "general", "x", "y")
        for user in (ann, bob, cid):
            assert texts(await storage.edit_history(user.id, "general", msg_id,
                                                    moderated=True)) == ["x", "y"], user.name
        for user in (dan, eve):
            assert await refusal(storage.edit_history(user.id, "general", msg_id,
                                                      moderated=True)) == "forbidden"
            assert texts(await storage.edit_history(user.id, "general", msg_id)) == ["x", "y"]
        assert await refusal(storage.edit_history(dan.id, "general", 10**15,
                                                  moderated=True)) == "not_found"


@pytest.mark.parametrize("kept", [True, False])
async def test_a_long_history_keeps_the_first_and_the_newest(
        storage: Storage, database_dsn: str, kept: bool) -> None:
    """Over the limit: the first version known and the newest others, ``omitted`` counting
    those between; with the original kept or not."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        msg_id = await posted(storage, ann, "general", *(f"v{i}" for i in range(12)))
        if not kept:
            await sql(database_dsn, "UPDATE changes SET replaced = NULL WHERE message_id = $1",
                      msg_id)
        found = await storage.edit_history(ann.id, "general", msg_id, limit=5)
        first = "v0" if kept else "v1"
        assert texts(found) == [first, "v8", "v9", "v10", "v11"]
        assert found.omitted == (12 if kept else 11) - 5 and found.original == kept
        whole = await storage.edit_history(ann.id, "general", msg_id, limit=12)
        assert texts(whole)[0] == first and texts(whole)[-1] == "v11"
        assert whole.omitted == 0 and len(whole.versions) == (12 if kept else 11)


def test_the_plain_statements_do_not_name_it() -> None:
    """The append (every variant) and the batch statement of reactions, pins and votes do not
    read or write the replaced text; only the edits' variant does."""
    statements = [v for k, v in vars(postgres).items()
                  if k.startswith(("_SQL_APPEND", "_APPEND")) and isinstance(v, str)]
    statements += [*postgres._INSERTS.values(), *postgres._INSERTS_FILES.values()]
    assert len(statements) > 20
    for statement in [*statements, changes_module._SQL_WRITE]:
        assert "replaced" not in statement
    assert "$31::text[]" in changes_module._SQL_WRITE_EDITS


def test_the_edits_statement_is_the_plain_one_with_the_replaced_column() -> None:
    """The edits' variant of the batch statement is the plain one with the replaced text's
    column, its value and its array added, and nothing else: taking those out gives the
    plain statement byte for byte (both are made from one text, so they cannot drift)."""
    plain, edits = changes_module._SQL_WRITE, changes_module._SQL_WRITE_EDITS
    assert edits.count(", replaced") == 3 and edits.count(", $31::text[]") == 1
    assert edits.replace(", replaced", "").replace(", $31::text[]", "") == plain


async def test_a_reaction_batch_runs_the_statement_it_ran(tmp_path: Path,
                                                          database_dsn: str) -> None:
    """On one connection: a send and a reaction prepare no statement naming the replaced
    text; an edit does (so the check can see one)."""
    config = make_config(tmp_path, database_dsn, database={"pool_size": 1})
    query = "SELECT statement FROM pg_prepared_statements"
    with trio.fail_after(TIMEOUT):
        async with open_storage(config) as storage:
            assert isinstance(storage, PostgresStorage)
            ann = await make_member(storage, "ann", "general")
            msg_id = appended(await one(storage, say(ann, "general", "hi"))).message.msg_id
            appended(await one(storage, react(ann, "general", msg_id, "\N{THUMBS UP SIGN}")))
            rows = await storage._run(storage._pool.fetch, query)
            assert not [r for r in rows if "replaced" in r["statement"]]
            appended(await one(storage, edit(ann, "general", msg_id, "hello")))
            rows = await storage._run(storage._pool.fetch, query)
            assert [r for r in rows if "replaced" in r["statement"]]
