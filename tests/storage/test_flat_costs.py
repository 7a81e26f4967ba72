"""Costs that stay flat as the data grows (issue 17): the plans of the statements behind
``hello``, ``rooms``, ``who`` and ``contacts`` stay bound to their own rows, whatever the
unread counts, the members or the contacts. Plans, never times: the shape PostgreSQL runs
(tests/storage/plans.py), on the embedded server, after ``VACUUM ANALYZE``.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatd.storage import UNREAD_CAP, Storage, User
from chatd.storage.postgres import (
    _SQL_CONTACTS,
    _SQL_MEMBER_PAGE_BY_NAME,
    _SQL_ROOMS_OVERVIEW,
    _SQL_USER_ROOMS,
)
from tests.conftest import execute_sql
from tests.storage.plans import plan, scans
from tests.storage.test_rooms_contacts import post, users

TIMEOUT = 60


async def sql(dsn: str, *statements: str) -> None:
    """Run statements outside a transaction (VACUUM needs that), from trio."""
    await trio.to_thread.run_sync(execute_sql, dsn, *statements)


async def unread_rooms(storage: Storage, dsn: str, reader: User, writer: User, *,
                       rooms: int, unread: int) -> None:
    """``rooms`` rooms ``r0``, ``r1``... with ``reader`` and ``writer`` as members and
    ``unread`` messages by ``writer`` after the reader's marker (straight in SQL)."""
    for n in range(rooms):
        await storage.join_room(writer.id, f"r{n}")
        await storage.join_room(reader.id, f"r{n}")
    await sql(dsn, f"""
        INSERT INTO messages (room_id, seq, sender_id, nonce, text)
        SELECT r.id, g, {writer.id}, r.name || ':' || g, 'hi'
        FROM rooms r CROSS JOIN generate_series(1, {unread}) g WHERE r.name LIKE 'r%'
    """, """
        UPDATE rooms r SET last_seq = (SELECT max(seq) FROM messages m WHERE m.room_id = r.id)
        WHERE r.name LIKE 'r%'
    """, "VACUUM ANALYZE")


def nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node of a plan."""
    found = [node]
    for child in node.get("Plans", []):
        found += nodes(child)
    return found


def message_scans(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in scans(node) if n["Relation Name"] == "messages"]


async def walk_plan(dsn: str, function: str, params: tuple[str, ...],
                    *args: int) -> dict[str, Any]:
    """The executed plan of the statement inside ``function`` (migration 0016), planned as
    PostgreSQL plans it there: with the function's own settings, its arguments unknown to
    the planner (a generic plan), after an ANALYZE."""

    async def explain() -> dict[str, Any]:
        conn = await asyncpg.connect(dsn)
        try:
            body, settings = await conn.fetchrow(
                "SELECT prosrc, proconfig FROM pg_proc WHERE proname = $1", function)
            for n, name in enumerate(params, start=1):
                body = re.sub(rf"\b{name}\b", f"${n}", body)
            await conn.execute("ANALYZE")
            await conn.execute("SET plan_cache_mode = force_generic_plan")
            for setting in settings:
                key, value = setting.split("=")
                await conn.execute(f"SET {key} = {value}")
            text = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {body}", *args)
        finally:
            await conn.close()
        return json.loads(text)[0]["Plan"]  # type: ignore[no-any-return]

    return await trio.to_thread.run_sync(asyncio.run, explain())


async def function_calls(dsn: str, statement: str, *args: Any) -> dict[str, int]:
    """How many times running ``statement`` called each of chatd's functions (from the
    transaction's own statistics)."""

    async def run() -> dict[str, int]:
        conn = await asyncpg.connect(dsn)
        try:
            async with conn.transaction():
                await conn.execute("SET LOCAL track_functions = 'all'")
                await conn.fetch(statement, *args)
                rows = await conn.fetch("SELECT funcname, calls FROM "
                                        "pg_stat_xact_user_functions")
        finally:
            await conn.close()
        return {row["funcname"]: row["calls"] for row in rows}

    return await trio.to_thread.run_sync(asyncio.run, run())


async def fetch(dsn: str, statement: str, *args: Any) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dsn)
        try:
            return list(await conn.fetch(statement, *args))
        finally:
            await conn.close()

    return await trio.to_thread.run_sync(asyncio.run, run())


async def room_id(dsn: str, name: str) -> int:
    async def read() -> int:
        conn = await asyncpg.connect(dsn)
        try:
            return int(await conn.fetchval("SELECT id FROM rooms WHERE name = $1", name))
        finally:
            await conn.close()

    return await trio.to_thread.run_sync(asyncio.run, read())


UNREAD_PARAMS = ("room_", "after_", "last_", "reader_", "cap_")
MENTION_PARAMS = ("room_", "after_", "reader_", "cap_")


async def last_seq(dsn: str, room: str) -> int:
    rows = await fetch(dsn, "SELECT last_seq FROM rooms WHERE name = $1", room)
    return int(rows[0]["last_seq"])


async def test_unread_count_is_a_few_short_walks(storage: Storage, database_dsn: str) -> None:
    """A room with three times the cap unread: the count walks the reader's own messages,
    the deleted ones and the changes after the marker (a few entries each, by their
    indexes), never the unread messages themselves, never a bitmap or a sort; it is the cap
    (999+). With fewer unread, it is exact."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        await unread_rooms(storage, database_dsn, ann, bob, rooms=1, unread=3 * UNREAD_CAP)
        await post(storage, ann, "r0", "mine, not counted")
        room = await room_id(database_dsn, "r0")
        walk = await walk_plan(database_dsn, "chatd_unread_messages", UNREAD_PARAMS, room, 0,
                               await last_seq(database_dsn, "r0"), ann.id, UNREAD_CAP)
        assert not [n for n in nodes(walk) if "Bitmap" in n["Node Type"]
                    or n["Node Type"] in ("Sort", "Seq Scan")], walk
        read = [n for n in scans(walk) if n.get("Actual Loops")]
        assert {n["Relation Name"] for n in read} == {"messages", "changes"}, walk
        assert all(n["Actual Rows"] <= 1 for n in read), walk  # ann's one message
        [listed] = await storage.user_rooms(ann.id)
        assert listed.unread == UNREAD_CAP
        await storage.mark_read(ann.id, "r0", 3 * UNREAD_CAP - 10)
        [listed] = await storage.user_rooms(ann.id)
        assert listed.unread == 10


async def test_unread_count_falls_back_to_a_walk_stopped_at_the_cap(
        storage: Storage, database_dsn: str) -> None:
    """A room whose entries after the marker are mostly changes (more than four times the
    cap): the count walks the messages from the marker instead, in order, and stops at the
    cap; it is exact."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        await unread_rooms(storage, database_dsn, ann, bob, rooms=1, unread=30)
        await sql(database_dsn, f"""
            INSERT INTO changes (room_id, seq, actor_id, kind, text)
            SELECT r.id, r.last_seq + g, {bob.id}, 'topic', 'topic ' || g
            FROM rooms r CROSS JOIN generate_series(1, {4 * UNREAD_CAP}) g WHERE r.name = 'r0'
        """, f"UPDATE rooms SET last_seq = last_seq + {4 * UNREAD_CAP} WHERE name = 'r0'",
                  "VACUUM ANALYZE")
        await post(storage, bob, "r0", *(f"late {n}" for n in range(5)))
        room = await room_id(database_dsn, "r0")
        walk = await walk_plan(database_dsn, "chatd_unread_messages", UNREAD_PARAMS, room, 0,
                               await last_seq(database_dsn, "r0"), ann.id, UNREAD_CAP)
        assert not [n for n in nodes(walk) if "Bitmap" in n["Node Type"]
                    or n["Node Type"] in ("Sort", "Seq Scan")], walk
        assert all(n["Actual Rows"] <= 4 * UNREAD_CAP for n in scans(walk)), walk
        [listed] = await storage.user_rooms(ann.id)
        assert listed.unread == 35


async def test_unread_mentions_walk_the_readers_own_rows(storage: Storage,
                                                         database_dsn: str) -> None:
    """The count of unread mentions is a walk of the reader's rows of ``mentions`` by its
    primary key from the marker, stopped at the cap."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        await unread_rooms(storage, database_dsn, ann, bob, rooms=2, unread=2 * UNREAD_CAP)
        await sql(database_dsn, f"""
            INSERT INTO mentions (user_id, room_id, seq)
            SELECT {ann.id}, r.id, g FROM rooms r
            CROSS JOIN generate_series(1, {2 * UNREAD_CAP}) g WHERE r.name LIKE 'r%'
        """, "VACUUM ANALYZE")
        room = await room_id(database_dsn, "r0")
        walk = await walk_plan(database_dsn, "chatd_unread_mentions", MENTION_PARAMS, room,
                               10, ann.id, UNREAD_CAP)
        [scan] = [n for n in scans(walk) if n["Relation Name"] == "mentions"]
        assert scan["Node Type"] == "Index Only Scan", walk
        assert scan["Index Name"] == "mentions_pkey", walk
        assert scan["Actual Rows"] == UNREAD_CAP, walk
        await storage.mark_read(ann.id, "r1", 2 * UNREAD_CAP - 5)
        counts = {room.name: room.mentions for room in await storage.user_rooms(ann.id)}
        assert counts == {"r0": UNREAD_CAP, "r1": 5}


async def test_a_room_read_to_its_end_is_not_walked(storage: Storage, database_dsn: str) -> None:
    """A member whose marker is at the room's last entry costs no walk at all; the counts
    are 0."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        await unread_rooms(storage, database_dsn, ann, bob, rooms=3, unread=50)
        await storage.mark_read(ann.id, "r0", 50)
        await storage.mark_read(ann.id, "r2", 50)
        calls = await function_calls(database_dsn, _SQL_USER_ROOMS, ann.id)
        assert calls == {"chatd_unread_messages": 1, "chatd_unread_mentions": 1}
        assert [(room.name, room.unread) for room in await storage.user_rooms(ann.id)] == [
            ("r0", 0), ("r1", 50), ("r2", 0)]


async def test_overview_counts_only_its_page(storage: Storage, database_dsn: str) -> None:
    """A user in many rooms with unread messages: a page of the overview counts the unread
    messages of the page's rooms only (one walk per room of the page)."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        await unread_rooms(storage, database_dsn, ann, bob, rooms=30, unread=20)
        calls = await function_calls(database_dsn, _SQL_ROOMS_OVERVIEW, ann.id, "", "", 5,
                                     False)
        assert calls == {"chatd_unread_messages": 5, "chatd_unread_mentions": 5}
        page = await storage.rooms_overview(ann.id, limit=5)
        assert [(room.name, room.unread) for room in page] == [
            (name, 20) for name in sorted(f"r{n}" for n in range(30))[:5]]


async def test_contacts_by_index(storage: Storage, database_dsn: str) -> None:
    """A user with nearly every other user as a contact: their names are read by the
    contacts' key and each user's id, never by a scan of users."""
    with trio.fail_after(TIMEOUT):
        (ann,) = await users(storage, "ann")
        await generated_users(database_dsn, 2000, contacts_of=ann.id)
        executed = await plan(database_dsn, _SQL_CONTACTS, ann.id)
        assert not [n for n in scans(executed) if n["Node Type"] == "Seq Scan"
                    and n["Relation Name"] == "users"], executed
        names, contacts = await storage.room_and_contact_names(ann.id)
        assert names == frozenset() and len(contacts) == 2000
        assert contacts == await storage.contacts(ann.id) == sorted(contacts, key=str.lower)


async def test_member_page_by_name_with_the_count(storage: Storage, database_dsn: str) -> None:
    """Pages of a room's members follow each other by name ignoring case, none twice, none
    missing; each says how many members there are in all."""
    with trio.fail_after(TIMEOUT):
        names = ["ann", "Bob", "carl", "Dora", "eve", "Finn", "gus"]
        people = await users(storage, *names)
        for person in people:
            await storage.join_room(person.id, "hall")
        seen: list[str] = []
        after = ""
        while True:
            page = await storage.member_page(people[0].id, "hall", after=after, limit=3)
            assert page.count == len(names)
            seen += [member.name for member in page.members]
            if len(page.members) < 3:
                break
            after = page.members[-1].name
        assert seen == sorted(names, key=str.lower)
        whole = await storage.member_page(people[0].id, "hall")
        assert [m.name for m in whole.members] == seen
        assert whole.members[0].role == "owner"


async def test_member_page_is_a_page_of_a_large_room(storage: Storage,
                                                     database_dsn: str) -> None:
    """In a room of thousands, a page holds the page's members (the first by name) and the
    count all of them."""
    with trio.fail_after(TIMEOUT):
        (ann,) = await users(storage, "ann")
        await storage.join_room(ann.id, "big")
        await generated_users(database_dsn, 3000, members_of="big")
        big = await room_id(database_dsn, "big")
        walk = await plan(database_dsn, _SQL_MEMBER_PAGE_BY_NAME, big, ann.id, "", 101)
        assert not [n for n in nodes(walk) if n["Node Type"] == "Sort"], walk
        [users_walk] = [n for n in scans(walk) if n["Relation Name"] == "users"]
        assert users_walk["Index Name"] == "users_name_lower_c_idx", walk
        assert users_walk["Actual Rows"] <= 101, walk
        page = await storage.member_page(ann.id, "big", limit=101)
        assert page.count == 3001 and len(page.members) == 101
        assert page.members[0].name == "ann"
        assert [m.name for m in page.members[1:4]] == ["u1", "u10", "u100"]
        later = await storage.member_page(ann.id, "big", after="U999", limit=5)
        assert [m.name for m in later.members] == []
        later = await storage.member_page(ann.id, "big", after="U998", limit=5)
        assert [m.name for m in later.members] == ["u999"]


#: Names with punctuation: pages by name must follow Python's order (lower case, code point).
PUNCTUATED = ["a.b", "ab", "a_b", "A-c", "Zed", "z9", "b"]


async def generated_users(dsn: str, count: int, *, members_of: str | None = None,
                          contacts_of: int | None = None) -> None:
    """Users u1 to u<count>, made straight in SQL, each a member of room ``members_of`` or a
    contact of user id ``contacts_of`` if given; then VACUUM ANALYZE, as after a bulk load."""
    joined = []
    if members_of is not None:
        joined.append(f"""
            INSERT INTO memberships (room_id, user_id) SELECT r.id, u.id FROM rooms r, users u
            WHERE r.name = '{members_of}' AND u.name LIKE 'u%'
        """)
    if contacts_of is not None:
        joined.append(f"""
            INSERT INTO contacts (user_id, contact_id)
            SELECT {contacts_of}, id FROM users WHERE name LIKE 'u%'
        """)
    await sql(dsn, f"""
        INSERT INTO users (name, password_hash)
        SELECT 'u' || g, 'hash' FROM generate_series(1, {count}) g
    """, *joined, "VACUUM ANALYZE")


async def more_users(dsn: str, count: int) -> None:
    """``count`` more users (x1, x2, ...), and the statistics that plans take from them."""
    if count:
        await sql(dsn, f"""
            INSERT INTO users (name, password_hash)
            SELECT 'x' || g, 'hash' FROM generate_series(1, {count}) g
        """, "ANALYZE users")


async def every_page(page_after: Callable[[str], Awaitable[list[str]]], size: int
                     ) -> list[str]:
    """The names of every page of ``size``, each asked after the last name of the one before
    (in upper case: a cursor is matched ignoring case)."""
    seen: list[str] = []
    after = ""
    while True:
        page = await page_after(after)
        seen += page
        if len(page) < size:
            return seen
        after = page[-1].upper()


async def test_member_pages_in_code_point_order_either_way(storage: Storage,
                                                           database_dsn: str) -> None:
    """Names with punctuation come in the order Python sorts them (lower case, code point),
    in a small room among many users (its memberships sorted) as in a room of nearly every
    user (the users walked by name): pages of two give every member once."""
    with trio.fail_after(TIMEOUT):
        people = await users(storage, *PUNCTUATED)
        for person in people:
            await storage.join_room(person.id, "mixed")

        async def members(after: str) -> list[str]:
            page = await storage.member_page(people[0].id, "mixed", after=after, limit=2)
            return [member.name for member in page.members]

        for crowd in (0, 300):  # dense (every user a member), then sparse
            await more_users(database_dsn, crowd)
            assert await every_page(members, 2) == sorted(PUNCTUATED, key=str.lower), crowd


_ENTRY = st.sampled_from(["other", "other", "other", "mine", "other deleted", "mine deleted",
                          "change"])


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(log=st.lists(_ENTRY, max_size=40))
async def test_unread_count_is_the_others_messages_after_the_marker(
        storage: Storage, database_dsn: str, log: list[str]) -> None:
    """Any log of messages (the reader's and others', deleted or not) and changes, any
    marker, any cap: the count is the others' messages not deleted after the marker, capped;
    whichever way it is made (the entries but the rest, or the walk it falls back to, which
    a small cap brings about sooner)."""

    async def check() -> None:
        conn = await asyncpg.connect(database_dsn)
        try:
            await conn.execute("INSERT INTO users (name, password_hash) VALUES ('me', 'h'), "
                               "('them', 'h') ON CONFLICT DO NOTHING")
            me, them = [row["id"] for row in await conn.fetch(
                "SELECT id FROM users WHERE name IN ('me', 'them') ORDER BY name")]
            room = await conn.fetchval(
                "INSERT INTO rooms (name, last_seq) VALUES ($1, $2) RETURNING id",
                f"p{uuid.uuid4().hex[:12]}", len(log))
            for seq, entry in enumerate(log, start=1):
                if entry == "change":
                    await conn.execute(
                        "INSERT INTO changes (room_id, seq, actor_id, kind, text) "
                        "VALUES ($1, $2, $3, 'topic', 't')", room, seq, them)
                else:
                    await conn.execute(
                        "INSERT INTO messages (room_id, seq, sender_id, nonce, text, "
                        "deleted_at) VALUES ($1, $2, $3, $4, 'x', $5)", room, seq,
                        me if entry.startswith("mine") else them, f"{room}:{seq}",
                        datetime.datetime.now(datetime.UTC) if "deleted" in entry else None)
            for marker in range(len(log) + 1):
                others = log[marker:].count("other")
                for cap in (1, 2, 5, UNREAD_CAP):
                    got = await conn.fetchval("SELECT chatd_unread_messages($1, $2, $3, $4, $5)",
                                              room, marker, len(log), me, cap)
                    assert got == min(cap, others), (log, marker, cap)
        finally:
            await conn.close()

    with trio.fail_after(TIMEOUT):
        await trio.to_thread.run_sync(asyncio.run, check())
