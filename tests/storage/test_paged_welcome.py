"""The reads behind a paged welcome and paged contacts: the light read of a user's rooms
(names and last_seq, no counts), what a hello reads once subscribed, and a page of contacts
that costs its size, by name ignoring case, either way it is read."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import asyncpg
import trio

from chatd.storage import PresenceAudience, Storage
from chatd.storage.postgres import (
    _SQL_CONTACT_PAGE,
    _SQL_CONTACTS,
    _SQL_PRESENCE_AUDIENCE,
    _SQL_ROOM_HEADS,
    _SQL_ROOMS_OVERVIEW,
)
from tests.storage.plans import plan, scans
from tests.storage.test_flat_costs import (
    PUNCTUATED,
    every_page,
    function_calls,
    generated_users,
    more_users,
    nodes,
    sql,
    unread_rooms,
)
from tests.storage.test_rooms_contacts import post, users

TIMEOUT = 60


async def test_room_heads_are_names_and_last_seqs_without_counts(
        storage: Storage, database_dsn: str) -> None:
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        await unread_rooms(storage, database_dsn, ann, bob, rooms=12, unread=30)
        await storage.direct_room(ann.id, "bob")
        await post(storage, bob, "@ann:bob", "hi", "there")
        heads = await storage.room_heads(ann.id)
        assert heads == {room.name: room.last_seq for room in await storage.user_rooms(ann.id)}
        assert heads["@ann:bob"] == 2 and heads["r0"] == 30 and len(heads) == 13
        assert await function_calls(database_dsn, _SQL_ROOM_HEADS, ann.id) == {}
        assert await storage.room_heads(bob.id) == heads  # bob is in the same rooms
        (cat,) = await users(storage, "cat")
        assert await storage.room_heads(cat.id) == {}


async def test_session_rooms_read_every_head_and_the_page_in_full(
        storage: Storage, database_dsn: str) -> None:
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        await unread_rooms(storage, database_dsn, ann, bob, rooms=10, unread=5)
        full = await storage.user_rooms(ann.id)
        everything = await storage.session_rooms(ann.id, None)
        assert everything.rooms == full
        assert everything.last_seqs == {room.name: room.last_seq for room in full}
        paged = await storage.session_rooms(ann.id, 4)
        assert paged.rooms == full[:4] == await storage.rooms_overview(ann.id, limit=4,
                                                                       joined=True)
        assert [room.unread for room in paged.rooms] == [5] * 4
        assert paged.last_seqs == everything.last_seqs


async def test_open_session_reads_the_heads_and_as_many_contacts_as_asked(
        storage: Storage, database_dsn: str) -> None:
    """A hello's first read: every room's name with its last_seq (as ``room_heads``), and
    the contacts in order, all of them or the first ``contacts_limit``."""
    with trio.fail_after(TIMEOUT):
        ann, bob, *others = await users(storage, "ann", "bob", "Cy", "dee", "Eve")
        await unread_rooms(storage, database_dsn, ann, bob, rooms=5, unread=3)
        await storage.direct_room(ann.id, "bob")
        for other in others:
            await storage.add_contact(ann.id, other.name)
        issued = int(time.time() * 1000)
        start = await storage.open_session(ann.id, "jti-h", issued)
        assert start is not None and start.user == ann
        assert start.last_seqs == await storage.room_heads(ann.id)
        assert start.rooms == frozenset(start.last_seqs) and len(start.rooms) == 6
        assert start.contacts == ["Cy", "dee", "Eve"]
        for limit, expected in ((2, ["Cy", "dee"]), (3, ["Cy", "dee", "Eve"]),
                                (4, ["Cy", "dee", "Eve"])):
            page = await storage.open_session(ann.id, "jti-h", issued, contacts_limit=limit)
            assert page is not None and page.last_seqs == start.last_seqs
            assert page.contacts == expected
        (cat,) = await users(storage, "cat")
        alone = await storage.open_session(cat.id, "jti-c", issued, contacts_limit=1)
        assert alone is not None and (alone.last_seqs, alone.contacts) == ({}, [])
        assert alone.page == []


async def test_open_session_reads_the_welcomes_rooms_as_session_rooms_does(
        storage: Storage, database_dsn: str) -> None:
    """The rooms of a hello's first read, all or the first ``rooms_limit``, are the rooms
    ``session_rooms`` reads (counts, markers, levels, roles, the conversation's peer)."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        await unread_rooms(storage, database_dsn, ann, bob, rooms=5, unread=3)
        await storage.mark_read(ann.id, "r1", 3)
        await storage.mark_read(ann.id, "r2", 1)
        await storage.set_notify(ann.id, "r3", "none")
        await storage.direct_room(ann.id, "bob")
        issued = int(time.time() * 1000)
        for limit in (None, 0, 1, 3, 6, 7, 50):
            start = await storage.open_session(ann.id, "jti-p", issued, rooms_limit=limit)
            assert start is not None
            assert start.page == (await storage.session_rooms(ann.id, limit)).rooms, limit


async def test_contact_pages_in_order(storage: Storage, database_dsn: str) -> None:
    """Names with punctuation, in the order Python sorts them (lower case, code point): pages
    of two give every contact once, among few users as among many; ``after`` in any case."""
    with trio.fail_after(TIMEOUT):
        (ann, *people) = await users(storage, "ann", *PUNCTUATED)
        for person in people:
            await storage.add_contact(ann.id, person.name)
        expected = sorted(PUNCTUATED, key=str.lower)
        assert await storage.contacts(ann.id) == expected

        async def contacts(after: str) -> list[str]:
            return await storage.contact_page(ann.id, after=after, limit=2)

        for crowd in (0, 400):  # nearly every user a contact, then few of many
            await more_users(database_dsn, crowd)
            assert await every_page(contacts, 2) == expected, crowd
            assert await storage.contact_page(ann.id, limit=100) == expected
            assert await storage.contact_page(ann.id, after="zed", limit=5) == []
        (bob,) = await users(storage, "bob")
        assert await storage.contact_page(bob.id, limit=5) == []


async def test_a_contact_page_costs_its_size(storage: Storage, database_dsn: str) -> None:
    """Thousands of contacts, added straight in SQL (the row's name is filled in from
    users): a page walks contacts_user_name_idx for its own rows, no sort, no users; all
    the names (what a hello watches) are one index-only walk of the same index, in order."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        await generated_users(database_dsn, 3000, contacts_of=ann.id)
        await sql(database_dsn, f"""
            INSERT INTO contacts (user_id, contact_id)
            SELECT {bob.id}, id FROM users WHERE name IN ('u1', 'u2', 'u3')
        """, "VACUUM ANALYZE")
        for statement, args in ((_SQL_CONTACT_PAGE, (ann.id, "u5", 31)),
                                (_SQL_CONTACTS, (ann.id,))):
            walk = await plan(database_dsn, statement, *args)
            assert not [n for n in nodes(walk) if n["Node Type"] == "Sort"], walk
            [contacts_walk] = scans(walk)
            assert contacts_walk["Index Name"] == "contacts_user_name_idx", walk
            assert contacts_walk["Node Type"] == "Index Only Scan", walk
        assert contacts_walk["Actual Rows"] == 3000, walk
        page = await storage.contact_page(ann.id, limit=31)
        assert page[:4] == ["u1", "u10", "u100", "u1000"] and len(page) == 31
        assert await storage.contact_page(ann.id, after="U999", limit=5) == []
        assert await storage.contact_page(ann.id, after="u998", limit=5) == ["u999"]
        assert await storage.contact_page(bob.id, limit=31) == ["u1", "u2", "u3"]
        everyone = await storage.contacts(ann.id)
        assert everyone == sorted(everyone, key=str.lower) and len(everyone) == 3000


async def test_the_presence_audience_is_who_has_each_user_as_a_contact(
        storage: Storage) -> None:
    """For a batch of users (any case): who has each as a contact, on any node, online or
    not; and the rooms of those asked for only (users online only elsewhere). Names as
    registered; a user nobody has, or in no room, is absent."""
    with trio.fail_after(TIMEOUT):
        ann, bob, cy, dee, _eve = await users(storage, "ann", "Bob", "cy", "dee", "eve")
        for who, contact in ((ann, "bob"), (cy, "BOB"), (dee, "ann"), (bob, "ann")):
            await storage.add_contact(who.id, contact)
        await storage.join_room(bob.id, "lobby")
        await storage.join_room(ann.id, "hall")
        await storage.direct_room(bob.id, "eve")
        found = await storage.presence_audience(["bob", "ANN", "eve", "nobody"], ["Bob"])
        assert found == PresenceAudience(
            watchers={"Bob": frozenset({"ann", "cy"}), "ann": frozenset({"dee", "Bob"})},
            rooms={"Bob": frozenset({"lobby", "@bob:eve"})})
        assert (await storage.presence_audience(["eve"], ["eve", "ann"])).rooms == {
            "eve": frozenset({"@bob:eve"}), "ann": frozenset({"hall"})}
        await storage.remove_contact(cy.id, "bob")
        assert (await storage.presence_audience(["bob"])).watchers == {
            "Bob": frozenset({"ann"})}
        assert await storage.presence_audience([]) == PresenceAudience(watchers={}, rooms={})


async def test_the_presence_audience_walks_the_contacts_of_the_batch_only(
        storage: Storage, database_dsn: str) -> None:
    """Among thousands of contact rows, a user who is the contact of 3,000 (u1..u3000 have
    ann): the lookup walks contacts_contact_id_idx for their rows (and those of the other
    users of the batch), never the whole table; the rooms only of those asked for."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        await storage.join_room(ann.id, "hall")
        await generated_users(database_dsn, 3000)
        await sql(database_dsn, f"""
            INSERT INTO contacts (user_id, contact_id)
            SELECT id, {ann.id} FROM users WHERE name LIKE 'u%'
        """, f"""
            INSERT INTO contacts (user_id, contact_id)
            SELECT {bob.id}, id FROM users WHERE name LIKE 'u%'
        """, "VACUUM ANALYZE")
        found = await storage.presence_audience(["ann", "bob", "u1"], [])
        assert len(found.watchers["ann"]) == 3000 and "bob" not in found.watchers
        assert found.watchers["u1"] == frozenset({"bob"}) and found.rooms == {}
        walk = await plan(database_dsn, _SQL_PRESENCE_AUDIENCE, ["ann", "bob", "u1"], [])
        contact_walks = [s for s in scans(walk) if s["Relation Name"] == "contacts"]
        assert [s["Index Name"] for s in contact_walks] == ["contacts_contact_id_idx"], walk
        # Once per user of the batch: 3,000 rows for ann, none for bob, one for u1 (the plan
        # gives the rows per loop, rounded).
        [walk_of_contacts] = contact_walks
        assert walk_of_contacts["Actual Loops"] == 3, walk
        assert 3000 <= walk_of_contacts["Actual Rows"] * 3 <= 3003, walk
        assert not [s for s in scans(walk) if s["Relation Name"] in ("memberships", "rooms")
                    and s.get("Actual Loops", 0) > 0], walk


async def generic_plan(dsn: str, statement: str, types: str, args: str) -> dict[str, Any]:
    """The executed generic plan of ``statement`` (what a pooled connection runs once it
    has run a statement five times: parameters unknown to the planner)."""

    async def explain() -> dict[str, Any]:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("ANALYZE")
            await conn.execute("SET plan_cache_mode = force_generic_plan")
            await conn.execute(f"PREPARE probe ({types}) AS {statement}")
            found = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE probe ({args})")
        finally:
            await conn.close()
        return json.loads(found)[0]["Plan"]  # type: ignore[no-any-return]

    return await trio.to_thread.run_sync(asyncio.run, explain())


async def test_the_overviews_generic_plan_probes_memberships(storage: Storage,
                                                             database_dsn: str) -> None:
    """A user in hundreds of public rooms, among thousands of users in a room each: the
    first page of the overview looks up each public room walked in the user's memberships by
    their key, also in the generic plan (which takes a user's memberships for one row, and
    walked all of them for every room)."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        await unread_rooms(storage, database_dsn, ann, bob, rooms=300, unread=1)
        await storage.join_room(bob.id, "hall")
        await generated_users(database_dsn, 3000, members_of="hall")
        walk = await generic_plan(database_dsn, _SQL_ROOMS_OVERVIEW,
                                  "bigint, text, text, bigint, boolean",
                                  f"{ann.id}, '', '', 31, false")
        read = sum(n.get("Actual Rows", 0) * n.get("Actual Loops", 1) for n in nodes(walk)
                   if n.get("Relation Name") == "memberships"
                   or n["Node Type"] == "Materialize")
        assert read < 5 * 300, walk
        page = await storage.rooms_overview(ann.id, limit=31)
        assert [room.name for room in page] == sorted([*(f"r{n}" for n in range(300)),
                                                       "hall"])[:31]
