"""Contract tests of drafts (migration 0049): a user's draft per room and thread, replaced,
deleted by an empty text, bounded per user under the lock of their row, dropped with the
membership, and cleared by a message sent from it only when stored before that message.

Same rules as ``test_postgres.py``: a fresh database per test (the ``storage`` fixture), every
await on the database under ``trio.fail_after``, and only the documented contract of
:class:`chatd.storage.Storage` is checked.
"""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest
import trio

from chatd.errors import ChatError
from chatd.protocol import codes
from chatd.storage import Storage, StoredDraft
from chatd.storage import drafts as stored_drafts
from tests.storage.plans import plan, scans
from tests.storage.test_push import users

TIMEOUT = 20


def _texts(drafts: list[StoredDraft]) -> list[tuple[str, int | None, str]]:
    return [(d.room, d.thread, d.text) for d in drafts]


async def test_store_replace_delete_and_list(storage: Storage) -> None:
    """A draft per room and per thread of it, listed the latest stored first; the same text
    again changes nothing (None); an empty text deletes it (a draft with an empty text and
    the time of the deletion), nothing to delete is None; another user's are their own."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        await storage.create_room(ann.id, "team", private=False, topic="")
        await storage.create_room(ann.id, "other", private=False, topic="")
        await storage.join_room(bob.id, "team")
        assert await storage.drafts(ann.id) == []
        first = await storage.set_draft(ann.id, "team", None, "hello", most=10)
        assert first is not None and (first.room, first.thread, first.text) == (
            "team", None, "hello")
        assert first.updated_at > 0
        assert await storage.set_draft(ann.id, "team", None, "hello", most=10) is None
        await storage.set_draft(ann.id, "team", 42, "in the thread", most=10)
        await storage.set_draft(ann.id, "other", None, "elsewhere", most=10)
        assert _texts(await storage.drafts(ann.id)) == [
            ("other", None, "elsewhere"), ("team", 42, "in the thread"),
            ("team", None, "hello")]
        again = await storage.set_draft(ann.id, "team", None, "hello there", most=10)
        assert again is not None and again.updated_at >= first.updated_at
        assert _texts(await storage.drafts(ann.id))[0] == ("team", None, "hello there")
        gone = await storage.set_draft(ann.id, "team", 42, "", most=10)
        assert gone is not None and (gone.text, gone.thread) == ("", 42)
        assert await storage.set_draft(ann.id, "team", 42, "", most=10) is None
        assert _texts(await storage.drafts(ann.id)) == [
            ("team", None, "hello there"), ("other", None, "elsewhere")]
        assert await storage.drafts(bob.id) == []


async def test_refusals_and_the_limit(storage: Storage) -> None:
    """No such room: not_found; not a member: forbidden; a new draft past ``most``:
    too_many_drafts, while one the user has can still be replaced and deleted."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        for name in ("r1", "r2", "r3"):
            await storage.create_room(ann.id, name, private=False, topic="")
        with pytest.raises(ChatError) as refused:
            await storage.set_draft(ann.id, "nowhere", None, "x", most=10)
        assert refused.value.code == codes.NOT_FOUND
        with pytest.raises(ChatError) as refused:
            await storage.set_draft(bob.id, "r1", None, "x", most=10)
        assert refused.value.code == codes.FORBIDDEN
        assert await storage.set_draft(ann.id, "r1", None, "a", most=2) is not None
        assert await storage.set_draft(ann.id, "r2", None, "b", most=2) is not None
        with pytest.raises(ChatError) as refused:
            await storage.set_draft(ann.id, "r3", None, "c", most=2)
        assert refused.value.code == codes.TOO_MANY_DRAFTS
        with pytest.raises(ChatError):
            await storage.set_draft(ann.id, "r1", 7, "a thread's is another", most=2)
        assert await storage.set_draft(ann.id, "r2", None, "b2", most=2) is not None
        assert await storage.set_draft(ann.id, "r2", None, "", most=2) is not None
        assert await storage.set_draft(ann.id, "r3", None, "c", most=2) is not None
        assert sorted(_texts(await storage.drafts(ann.id))) == [
            ("r1", None, "a"), ("r3", None, "c")]


async def test_the_limit_holds_for_devices_at_once(storage: Storage) -> None:
    """Many new drafts stored at once (several devices) never pass ``most``: they are
    counted under the lock of the user's row."""
    with trio.fail_after(TIMEOUT):
        [ann] = await users(storage, "ann")
        rooms = [f"r{n}" for n in range(8)]
        for name in rooms:
            await storage.create_room(ann.id, name, private=False, topic="")
        outcomes: list[str] = []

        async def store(room: str) -> None:
            try:
                await storage.set_draft(ann.id, room, None, "x", most=3)
                outcomes.append("stored")
            except ChatError as exc:
                outcomes.append(exc.code)

        async with trio.open_nursery() as nursery:
            for room in rooms:
                nursery.start_soon(store, room)
        assert sorted(outcomes) == ["stored"] * 3 + [codes.TOO_MANY_DRAFTS] * 5
        assert len(await storage.drafts(ann.id)) == 3


async def test_dropped_with_the_membership(storage: Storage) -> None:
    """Leaving a room drops the user's drafts of it (its threads' too), and only theirs; a
    deleted room takes its drafts with it."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        await storage.create_room(ann.id, "team", private=False, topic="")
        await storage.create_room(ann.id, "gone", private=False, topic="")
        await storage.join_room(bob.id, "team")
        await storage.set_draft(bob.id, "team", None, "bob's", most=10)
        await storage.set_draft(bob.id, "team", 3, "bob's reply", most=10)
        await storage.set_draft(ann.id, "team", None, "ann's", most=10)
        await storage.set_draft(ann.id, "gone", None, "ann's other", most=10)
        assert await storage.leave_room(bob.id, "team")
        assert await storage.drafts(bob.id) == []
        assert sorted(_texts(await storage.drafts(ann.id))) == [
            ("gone", None, "ann's other"), ("team", None, "ann's")]
        await storage.delete_room(None, "gone")
        assert _texts(await storage.drafts(ann.id)) == [("team", None, "ann's")]


async def test_keys_and_clearing_what_was_sent(storage: Storage) -> None:
    """draft_keys gives each user's rooms and threads (by the name in lower case, an empty
    set for none); clear_sent_drafts deletes a draft stored no later than the message sent
    from it, in one call for many users, and says which; one stored after the message, or
    of another thread, stays."""
    with trio.fail_after(TIMEOUT):
        ann, bob, _ = await users(storage, "Ann", "bob", "cid")
        await storage.create_room(ann.id, "team", private=False, topic="")
        await storage.join_room(bob.id, "team")
        a = await storage.set_draft(ann.id, "team", None, "ann's", most=10)
        await storage.set_draft(ann.id, "team", 9, "ann's reply", most=10)
        b = await storage.set_draft(bob.id, "team", None, "bob's", most=10)
        assert a is not None and b is not None
        assert await storage.draft_keys(["ann", "BOB", "cid", "nobody"]) == {
            "ann": {("team", 0), ("team", 9)}, "bob": {("team", 0)}, "cid": set(),
            "nobody": set()}
        cleared = await storage.clear_sent_drafts([
            ("ann", "team", 0, a.updated_at),  # sent after it was stored: cleared
            ("bob", "team", 0, b.updated_at - 1),  # stored after the message: kept
            ("cid", "team", 0, b.updated_at + 1000),  # none: nothing
        ])
        assert [(user, d.room, d.thread, d.text, d.updated_at) for user, d in cleared] == [
            ("Ann", "team", None, "", a.updated_at)]
        assert _texts(await storage.drafts(ann.id)) == [("team", 9, "ann's reply")]
        assert _texts(await storage.drafts(bob.id)) == [("team", None, "bob's")]
        assert await storage.clear_sent_drafts([]) == []


async def _crowd(dsn: str) -> None:
    """20,000 users, each in one of 500 rooms (crowdN in busy(1 + N % 500)) with a draft there
    and one in a thread of it."""

    async def fill() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            async with conn.transaction():
                await conn.execute("""
                    INSERT INTO users (name, password_hash)
                    SELECT 'crowd' || g, 'x' FROM generate_series(1, 20000) g""")
                await conn.execute("""
                    INSERT INTO rooms (name) SELECT 'busy' || g FROM generate_series(1, 500) g""")
                await conn.execute("""
                    INSERT INTO memberships (room_id, user_id)
                    SELECT r.id, u.id FROM users u
                    JOIN rooms r ON r.name = 'busy' || (1 + substr(u.name, 6)::int % 500)
                    WHERE u.name LIKE 'crowd%'""")
                await conn.execute("""
                    INSERT INTO drafts (user_id, room_id, thread, text)
                    SELECT m.user_id, m.room_id, t, 'half' FROM memberships m
                    CROSS JOIN (VALUES (0), (7)) AS k(t)""")
        finally:
            await conn.close()

    await trio.to_thread.run_sync(asyncio.run, fill())


async def test_the_clearing_and_the_keys_walk_only_their_rows(storage: Storage,
                                                              database_dsn: str) -> None:
    """Among 40,000 drafts of 20,000 users: clearing the drafts of a batch's messages finds
    each user by name, each room by name and each draft by the primary key, and reading a
    batch's users' keys walks their drafts by the primary key (no scan of any table)."""
    with trio.fail_after(TIMEOUT * 3):
        await _crowd(database_dsn)
        sent = await plan(database_dsn, stored_drafts._SQL_CLEAR_SENT,
                          ["crowd10", "crowd11"], ["busy11", "busy12"], [0, 7],
                          [2**42, 2**42])  # (ms: in 2109)
        found = scans(sent)
        assert not [s for s in found if s["Node Type"] == "Seq Scan"], json.dumps(sent)
        [deleted] = [s for s in found if s["Node Type"] == "ModifyTable"]
        assert deleted["Actual Rows"] == 2, json.dumps(sent)
        keys = await plan(database_dsn, stored_drafts._SQL_DRAFT_KEYS, ["crowd20", "crowd21"])
        found = scans(keys)
        assert not [s for s in found if s["Node Type"] == "Seq Scan"], json.dumps(keys)
        assert {s["Relation Name"] for s in found} == {"users", "drafts", "rooms"}
