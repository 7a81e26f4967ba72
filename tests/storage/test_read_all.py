"""Contract tests of "Mark all as read" (``mark_all_read``): every membership of the user's with
something past its marker moves to its room's last seq, only those named when names are given,
forward only, in one statement bound to the user's own memberships (its plan walks their index,
however many rooms and members there are); and the notices that carry a burst of a user's
events to the other nodes (``user_event_payloads``). Same rules as ``test_rooms_contacts.py``:
a fresh database per test, every await on the database under ``trio.fail_after``."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import asyncpg
import trio
from hypothesis import given
from hypothesis import strategies as st

from chatd.storage import MarkedRead, Storage
from chatd.storage.postgres import (
    _SQL_MARK_ALL_READ,
    _SQL_MARK_SOME_READ,
    NOTICE_BYTES,
    user_event_payloads,
)
from tests.storage.plans import plan, scans
from tests.storage.test_rooms_contacts import post, users

TIMEOUT = 20


async def _markers(storage: Storage, user_id: int) -> dict[str, tuple[int, int]]:
    """The user's rooms: ``(read_seq, last_seq)`` by name."""
    return {r.name: (r.read_seq, r.last_seq) for r in await storage.user_rooms(user_id)}


async def test_every_room_with_something_unread_moves(storage: Storage) -> None:
    """ann in four rooms and a 1:1: those with entries past her marker move to their last seq
    and are named, by name, with where; a room read to its end and bob's markers do not
    move; again, nothing moves."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        for room in ("alpha", "beta", "gamma", "read"):
            for user in (ann, bob):
                await storage.join_room(user.id, room)
            await post(storage, bob, room, "one", "two")
        dm = (await storage.direct_room(bob.id, "ann")).room.name
        await post(storage, bob, dm, "psst")
        await storage.mark_read(ann.id, "read", 2)
        await storage.mark_read(ann.id, "beta", 1)
        bobs = await _markers(storage, bob.id)
        moved = await storage.mark_all_read(ann.id)
        # the conversation's other member is named, to be told (seen), the rooms' nobody
        assert moved == [MarkedRead(room=dm, seq=1, tell=("bob",)),
                         MarkedRead(room="alpha", seq=2), MarkedRead(room="beta", seq=2),
                         MarkedRead(room="gamma", seq=2)]
        assert {room: read for room, (read, _) in (await _markers(storage, ann.id)).items()} == \
            {dm: 1, "alpha": 2, "beta": 2, "gamma": 2, "read": 2}
        assert await _markers(storage, bob.id) == bobs
        assert await storage.mark_all_read(ann.id) == []
        assert [r.unread for r in await storage.user_rooms(ann.id)] == [0] * 5


async def test_only_the_rooms_named(storage: Storage) -> None:
    """With names: only those of the user's rooms move; names of rooms she is not in, or of
    none, change nothing (no error); an empty list moves nothing."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        for room in ("alpha", "beta"):
            for user in (ann, bob):
                await storage.join_room(user.id, room)
            await post(storage, bob, room, "news")
        await storage.join_room(bob.id, "bobs")
        await post(storage, bob, "bobs", "his")
        assert await storage.mark_all_read(ann.id, ["beta", "bobs", "nowhere", "beta"]) == \
            [MarkedRead(room="beta", seq=1)]
        assert await storage.mark_all_read(ann.id, []) == []
        markers = await _markers(storage, ann.id)
        assert (markers["alpha"], markers["beta"]) == ((0, 1), (1, 1))
        assert (await _markers(storage, bob.id))["bobs"][0] == 0


async def test_the_marker_only_moves_forward(storage: Storage) -> None:
    """A message after the marking is unread; the marker never moves back, nor past the end."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        for user in (ann, bob):
            await storage.join_room(user.id, "general")
        await post(storage, bob, "general", "a", "b")
        assert await storage.mark_all_read(ann.id) == [MarkedRead(room="general", seq=2)]
        await post(storage, bob, "general", "c")
        [room] = await storage.user_rooms(ann.id)
        assert (room.read_seq, room.last_seq, room.unread) == (2, 3, 1)
        assert await storage.mark_all_read(ann.id, ["general"]) == [
            MarkedRead(room="general", seq=3)]


async def _crowd(dsn: str, ann_id: int) -> None:
    """50,000 rooms with 40 entries each, ann in 312 of them spread among them (read to 10),
    3,000 others in 10 rooms each: the plans must not depend on any of it."""

    async def fill() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            async with conn.transaction():
                await conn.execute("SET LOCAL chatd.quiet = 'on'")
                await conn.execute("""
                    INSERT INTO users (name, password_hash)
                    SELECT 'crowd' || g, 'hash' FROM generate_series(1, 3000) g""")
                await conn.execute("""
                    INSERT INTO rooms (name, last_seq)
                    SELECT 'busy' || g, 40 FROM generate_series(1, 50000) g""")
                await conn.execute("""
                    INSERT INTO memberships (room_id, user_id, read_seq)
                    SELECT r.id, $1, 10 FROM rooms r
                    WHERE r.name LIKE 'busy%' AND substr(r.name, 5)::int % 160 = 0""", ann_id)
                await conn.execute("""
                    INSERT INTO memberships (room_id, user_id, read_seq)
                    SELECT r.id, u.id, 0 FROM users u
                    CROSS JOIN generate_series(0, 9) k
                    JOIN rooms r ON r.name = 'busy' || (1 + (u.id * 7 + k * 37) % 50000)
                    WHERE u.name LIKE 'crowd%'
                    ON CONFLICT DO NOTHING""")
        finally:
            await conn.close()

    await trio.to_thread.run_sync(asyncio.run, fill())


async def test_one_statement_walks_only_the_users_memberships(storage: Storage,
                                                              database_dsn: str) -> None:
    """A user in 312 rooms of 50,000, among 30,000 memberships: marking all read is one
    statement whose plan reads the user's memberships by memberships_user_id_idx and each
    room by its key
    (no scan of either table); the named variant finds each room by its name and its
    membership by the primary key. Both move what they should."""
    with trio.fail_after(TIMEOUT * 3):
        [ann] = await users(storage, "ann")
        await _crowd(database_dsn, ann.id)
        some = await plan(database_dsn, _SQL_MARK_SOME_READ, ann.id,
                          ["busy160", "busy320", "busy399"])
        found = scans(some)
        assert not [s for s in found if s["Node Type"] == "Seq Scan"], json.dumps(some)
        # A conversation's members (whom to tell: seen) are read only for a conversation:
        # for these rooms that part of the plan never runs.
        assert {s["Relation Name"] for s in found} == {"rooms", "memberships", "users"}
        assert {s["Relation Name"] for s in found if s["Actual Loops"]} == \
            {"rooms", "memberships"}, json.dumps(some)
        found = [s for s in found if s["Actual Loops"]]
        [update] = [s for s in found if s["Node Type"] == "ModifyTable"]
        assert update["Actual Rows"] == 2  # busy399 is not hers
        [probe] = [s for s in found if s["Relation Name"] == "memberships" and s is not update]
        assert probe.get("Index Name") == "memberships_pkey", json.dumps(some)
        every = await plan(database_dsn, _SQL_MARK_ALL_READ, ann.id)
        found = scans(every)
        assert not [s for s in found if s["Node Type"] == "Seq Scan"], json.dumps(every)
        assert {s["Relation Name"] for s in found if s["Actual Loops"]} == \
            {"rooms", "memberships"}, json.dumps(every)
        found = [s for s in found if s["Actual Loops"]]
        nodes = _nodes(every)
        assert [n for n in nodes if n.get("Index Name") == "memberships_user_id_idx"]
        assert {s.get("Index Name") for s in found if s["Relation Name"] == "rooms"} == \
            {"rooms_pkey"}, json.dumps(every)
        # Bound by her 312 memberships (and a few dead versions), not by the tables' rows.
        assert max(n["Actual Rows"] for n in nodes) <= 400, json.dumps(every)
        [update] = [s for s in found if s["Node Type"] == "ModifyTable"]
        assert update["Actual Rows"] == 312 - 2  # two were read by the first plan's run
        markers = await _markers(storage, ann.id)
        assert len(markers) == 312 and {read for read, _ in markers.values()} == {40}


def _nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node of a plan."""
    return [node, *(found for child in node.get("Plans", []) for found in _nodes(child))]


def test_one_frame_is_one_notice_as_before() -> None:
    """A single event's payload is '<node> <user> <frame>', without its newline."""
    assert user_event_payloads("n1", "ann", b'{"op":"read","room":"a","seq":1}\n') == \
        ['n1 ann {"op":"read","room":"a","seq":1}']


@given(st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=200))
def test_a_burst_of_frames_shares_few_notices(sizes: list[int]) -> None:
    """Frames of any sizes: every one arrives once, in order, each notice under the notice
    limit, and no two neighbouring notices could have been one."""
    frames = [json.dumps({"op": "read", "room": "r" * size, "seq": n}) for n, size in
              enumerate(sizes)]
    payloads = user_event_payloads("node", "ann", "".join(f + "\n" for f in frames).encode())
    head = "node ann "
    assert all(p.startswith(head) and len(p.encode()) <= NOTICE_BYTES for p in payloads)
    assert [line for p in payloads for line in p[len(head):].split("\n")] == frames
    for first, second in itertools.pairwise(payloads):
        assert len((first + "\n" + second[len(head):]).encode()) > NOTICE_BYTES


def test_a_frame_too_large_for_a_notice_is_left_out() -> None:
    """One frame over the limit is dropped (logged); the others still go."""
    big = json.dumps({"op": "read", "room": "x" * NOTICE_BYTES, "seq": 1})
    small = '{"op":"read","room":"a","seq":1}'
    assert user_event_payloads("n", "ann", f"{big}\n{small}\n".encode()) == [f"n ann {small}"]
    assert user_event_payloads("n", "ann", f"{big}\n".encode()) == []
