"""Contract tests of group conversations (migration 0034): ``direct_room`` with several
people, the room of kind ``group`` it finds or creates, its peers, and the rules a 1:1
conversation lives by. Same rules as ``test_rooms_contacts.py``: a fresh database per test,
every await on the database under ``trio.fail_after``."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
import trio

from chatd.storage import Conversation, Storage, User
from chatd.storage.bridge import open_bridge
from tests.storage.test_rooms_contacts import (
    committed_while_waiting,
    members,
    post,
    refusal,
    users,
)

TIMEOUT = 20


async def test_a_group_conversation_is_created_once_with_every_member(storage: Storage
                                                                      ) -> None:
    """The first call creates a private, ownerless room of kind group named by the set,
    with every person as a member; the same set from another member, in any order and case
    (their own name among the others), finds it; peers are the others as registered,
    sorted ignoring case."""
    with trio.fail_after(TIMEOUT):
        ann, bob, carol = await users(storage, "Ann", "bob", "Carol")
        first = await storage.direct_room(ann.id, ["CAROL", "Bob"])
        assert first.created and first.peer is None and first.peers == ("bob", "Carol")
        room = first.room
        assert (room.name, room.kind, room.private, room.owner, room.peer, room.peers) == (
            "@ann:bob:carol", "group", True, None, None, ("bob", "Carol"))
        second = await storage.direct_room(carol.id, ["ann", "carol", "BOB", "Ann"])
        assert not second.created and second.room.id == room.id
        assert second.peers == ("Ann", "bob")
        assert await members(storage, bob.id, room.name) == ["Ann", "bob", "Carol"]
        await post(storage, bob, room.name, "hi")
        [listed] = await storage.user_rooms(carol.id)
        assert (listed.name, listed.kind, listed.peer, listed.peers, listed.unread) == (
            "@ann:bob:carol", "group", None, ("Ann", "bob"), 1)
        [seen] = await storage.rooms_overview(ann.id)
        assert seen.peers == ("bob", "Carol")


async def test_the_set_decides_the_kind(storage: Storage) -> None:
    """One person in all is notes to self and two a 1:1 (kind dm, with a peer), whatever
    the array repeats; eight is a group; nine is bad_request; a name that is nobody is
    not_found naming it, and nothing is created."""
    with trio.fail_after(TIMEOUT):
        people = await users(storage, *(f"u{i}" for i in range(9)))
        me = people[0]
        notes = await storage.direct_room(me.id, ["U0", "u0"])
        assert (notes.room.name, notes.room.kind, notes.peer) == ("@u0:u0", "dm", "u0")
        pair = await storage.direct_room(me.id, ["u1", "U1", "u0"])
        assert (pair.room.name, pair.room.kind, pair.peer, pair.room.peer, pair.room.peers) == (
            "@u0:u1", "dm", "u1", "u1", None)
        eight = await storage.direct_room(me.id, [f"u{i}" for i in range(1, 8)])
        assert eight.room.name == "@" + ":".join(f"u{i}" for i in range(8))
        assert len(eight.peers) == 7
        assert await refusal(storage.direct_room(me.id, [f"u{i}" for i in range(1, 9)])) \
            == "bad_request"
        with pytest.raises(Exception, match="'ghost'"):
            await storage.direct_room(me.id, ["u1", "ghost"])
        assert len(await storage.user_rooms(me.id)) == 3


async def test_concurrent_creation_gives_one_room(storage: Storage) -> None:
    """Every member starting the same group conversation at once (several times over) makes
    one room, reported as created exactly once, with exactly them in it."""
    with trio.fail_after(TIMEOUT):
        people = await users(storage, "ann", "bob", "carol", "dan")
        results: list[Conversation] = []

        async def start(user: User) -> None:
            others = [p.name.upper() for p in people if p is not user]
            results.append(await storage.direct_room(user.id, others))

        async with trio.open_nursery() as nursery:
            for _ in range(3):
                for user in people:
                    nursery.start_soon(start, user)
        assert len({c.room.id for c in results}) == 1
        assert sum(c.created for c in results) == 1
        assert await members(storage, people[0].id, "@ann:bob:carol:dan") == [
            "ann", "bob", "carol", "dan"]


async def test_losing_the_creation_race_reads_the_winners_room(storage: Storage,
                                                              database_dsn: str) -> None:
    """When another session creates the group conversation after this call looked for it,
    the call returns that room as not created, with its members."""
    with trio.fail_after(TIMEOUT):
        ann, bob, carol = await users(storage, "ann", "bob", "carol")
        async with open_bridge(name="rival") as bridge:
            rival: Any = await bridge.run(asyncpg.connect, database_dsn)
            try:
                await bridge.run(rival.execute, "BEGIN")
                room_id = await bridge.run(
                    rival.fetchval, "INSERT INTO rooms (name, kind, private) "
                    "VALUES ('@ann:bob:carol', 'group', true) RETURNING id")
                await bridge.run(
                    rival.execute, "INSERT INTO memberships (room_id, user_id) "
                    "VALUES ($1, $2), ($1, $3), ($1, $4)", room_id, ann.id, bob.id, carol.id)
                conversation = await committed_while_waiting(
                    bridge, rival, lambda: storage.direct_room(bob.id, ["carol", "ann"]))
            finally:
                await bridge.run(rival.close)
        assert not conversation.created and conversation.room.id == room_id
        assert conversation.peers == ("ann", "carol")


async def test_the_rules_of_a_conversation(storage: Storage, database_dsn: str) -> None:
    """Nobody leaves a group conversation (bad_request) or is invited (forbidden); joining
    one never creates it; the database refuses a group with an owner or a public one."""
    with trio.fail_after(TIMEOUT):
        ann, bob, _carol, dan = await users(storage, "ann", "bob", "carol", "dan")
        room = (await storage.direct_room(ann.id, ["bob", "carol"])).room.name
        assert await refusal(storage.leave_room(bob.id, room)) == "bad_request"
        assert await refusal(storage.invite(ann.id, room, "dan")) == "forbidden"
        assert await refusal(storage.join_room(dan.id, room)) == "forbidden"
        assert await refusal(storage.join_room(dan.id, "@ann:bob:dan")) == "not_found"
        assert await refusal(storage.member_page(dan.id, room)) == "forbidden"
        async with open_bridge(name="check") as bridge:
            conn: Any = await bridge.run(asyncpg.connect, database_dsn)
            try:
                for values in ("('@a:b:c', 'group', false, NULL)",
                               f"('@a:b:d', 'group', true, {ann.id})"):
                    with pytest.raises(asyncpg.CheckViolationError):
                        await bridge.run(conn.execute, "INSERT INTO rooms "
                                         f"(name, kind, private, owner_id) VALUES {values}")
            finally:
                await bridge.run(conn.close)
