"""Contract tests of read receipts (migration 0040): ``mark_read`` and ``mark_unread`` say
whether the marker moved and whom of a conversation to tell (nobody in a room, nobody for a
reader who does not share); ``receipts`` counts and lists the readers of a message (its
author, the asker and those who do not share aside), a page by name, whatever the room's
size, in one statement bound to the room's memberships; ``read_positions`` gives a
conversation's markers; the setting is the user's row's, read with it. Same rules as
``test_rooms_contacts.py``: a fresh database per test, every await on the database under
``trio.fail_after``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatd.storage import Storage, User, open_storage, postgres
from chatd.storage.postgres import (
    _INSERTS,
    _INSERTS_FILES,
    _SQL_MARK_READ,
    _SQL_RECEIPTS,
)
from tests.conftest import execute_sql
from tests.helpers import make_config
from tests.storage.plans import plan, scans
from tests.storage.test_rooms_contacts import post, refusal, users

TIMEOUT = 30


async def test_a_read_says_whom_to_tell(storage: Storage) -> None:
    """A read that moves ann's marker in a 1:1 conversation names bob, in a group the two
    others; one that does not move it, or any read of a room, names nobody; a reader who
    does not share names nobody either, though the marker moves as ever."""
    with trio.fail_after(TIMEOUT):
        ann, bob, cy = await users(storage, "ann", "bob", "cy")
        dm = (await storage.direct_room(bob.id, "ann")).room.name
        group = (await storage.direct_room(cy.id, ["ann", "bob"])).room.name
        for user in (ann, bob):
            await storage.join_room(user.id, "general")
        for room, author in ((dm, bob), (group, cy), ("general", bob)):
            await post(storage, author, room, "one", "two")
        first = await storage.mark_read(ann.id, dm, 1)
        assert (first.seq, first.moved, first.tell) == (1, True, ("bob",))
        again = await storage.mark_read(ann.id, dm, 1)
        assert (again.seq, again.moved, again.tell) == (1, False, ())
        behind = await storage.mark_read(ann.id, dm, 0)
        assert (behind.seq, behind.moved, behind.tell) == (1, False, ())
        grouped = await storage.mark_read(ann.id, group, 99)
        assert (grouped.seq, grouped.moved, sorted(grouped.tell)) == (2, True, ["bob", "cy"])
        roomed = await storage.mark_read(ann.id, "general", 2)
        assert (roomed.seq, roomed.moved, roomed.tell) == (2, True, ())
        assert await storage.set_read_receipts(ann.id, False)
        private = await storage.mark_read(ann.id, dm, 2)
        assert (private.seq, private.moved, private.tell) == (2, True, ())


async def test_a_mark_unread_says_whom_to_tell_when_it_moved_back(storage: Storage) -> None:
    """Marking a conversation unread names its other members when the marker moved back,
    nobody when it did not (already before it) or in a room."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        dm = (await storage.direct_room(bob.id, "ann")).room.name
        await storage.join_room(ann.id, "general")
        for room in (dm, "general"):
            await post(storage, bob if room == dm else ann, room, "one", "two", "three")
            await storage.mark_read(ann.id, room, 3)
        back = await storage.mark_unread(ann.id, dm, 2)
        assert (back.seq, back.tell) == (1, ("bob",))
        assert (await storage.mark_unread(ann.id, dm, 3)).tell == ()
        in_room = await storage.mark_unread(ann.id, "general", 1)
        assert (in_room.seq, in_room.tell) == (0, ())


async def test_receipts_count_and_list_the_other_readers(storage: Storage) -> None:
    """bob's message in a room of five: the members at or past its seq are its readers, but
    bob (the author), the asker and dan (who does not share); the list is by name ignoring
    case, paged with after/limit; a public room's non-member may ask (as history)."""
    with trio.fail_after(TIMEOUT):
        ann, bob, cy, dan, Eve = await users(storage, "ann", "bob", "cy", "dan", "Eve")
        for user in (ann, bob, cy, dan, Eve):
            await storage.join_room(user.id, "general")
        first, second = await post(storage, bob, "general", "first", "second")
        msg_id = (await storage.history(ann.id, "general", limit=1)).messages[0].msg_id
        for user in (bob, cy, dan, Eve):
            await storage.mark_read(user.id, "general", second)
        await storage.mark_read(ann.id, "general", first)
        assert await storage.set_read_receipts(dan.id, False) == []  # in no conversation
        asked = await storage.receipts(ann.id, "general", msg_id, limit=10)
        assert (asked.seq, asked.count, asked.users) == (second, 2, ("cy", "Eve"))
        by_cy = await storage.receipts(cy.id, "general", msg_id, limit=10)
        assert (by_cy.count, by_cy.users) == (1, ("Eve",))
        page = await storage.receipts(ann.id, "general", msg_id, limit=1)
        assert (page.count, page.users) == (2, ("cy",))
        rest = await storage.receipts(ann.id, "general", msg_id, after="CY", limit=1)
        assert (rest.count, rest.users) == (2, ("Eve",))
        outsider, = await users(storage, "zed")
        seen_from_outside = await storage.receipts(outsider.id, "general", msg_id, limit=10)
        assert (seen_from_outside.count, seen_from_outside.users) == (2, ("cy", "Eve"))
        assert await storage.set_read_receipts(dan.id, True) == []
        back = await storage.receipts(ann.id, "general", msg_id, limit=10)
        assert back.users == ("cy", "dan", "Eve")


async def test_receipts_refusals(storage: Storage) -> None:
    """A private room or a conversation the asker is not in is forbidden; no such room, or
    a message of another room, or none at all, not_found."""
    with trio.fail_after(TIMEOUT):
        ann, bob, _ = await users(storage, "ann", "bob", "cy")
        await storage.create_room(bob.id, "staff", private=True, topic="")
        await storage.join_room(ann.id, "general")
        await post(storage, bob, "staff", "secret")
        dm = (await storage.direct_room(bob.id, "cy")).room.name
        await post(storage, bob, dm, "between us")
        await post(storage, ann, "general", "hello")
        staff = (await storage.history(bob.id, "staff", limit=1)).messages[0].msg_id
        theirs = (await storage.history(bob.id, dm, limit=1)).messages[0].msg_id
        ours = (await storage.history(ann.id, "general", limit=1)).messages[0].msg_id
        assert await refusal(storage.receipts(ann.id, "staff", staff, limit=5)) == "forbidden"
        assert await refusal(storage.receipts(ann.id, dm, theirs, limit=5)) == "forbidden"
        assert await refusal(storage.receipts(ann.id, "nowhere", ours, limit=5)) == "not_found"
        assert await refusal(storage.receipts(ann.id, "general", staff, limit=5)) == \
            "not_found"
        assert await refusal(storage.receipts(ann.id, "general", 10**12, limit=5)) == \
            "not_found"
        assert await refusal(storage.read_positions(ann.id, dm)) == "forbidden"
        assert await refusal(storage.read_positions(ann.id, "general")) == "bad_request"
        assert await refusal(storage.read_positions(ann.id, "@ann:nobody")) == "not_found"


async def test_positions_are_the_other_members_markers(storage: Storage) -> None:
    """In a group conversation, ann is told bob's and cy's markers (0 before any read), by
    name; not her own, not cy's once cy stops sharing."""
    with trio.fail_after(TIMEOUT):
        ann, bob, cy = await users(storage, "ann", "bob", "Cy")
        group = (await storage.direct_room(ann.id, ["bob", "Cy"])).room.name
        await post(storage, ann, group, "one", "two", "three")
        await storage.mark_read(bob.id, group, 2)
        await storage.mark_read(ann.id, group, 3)
        positions = await storage.read_positions(ann.id, group)
        assert [(p.user, p.seq) for p in positions] == [("bob", 2), ("Cy", 0)]
        await storage.set_read_receipts(cy.id, False)
        assert [p.user for p in await storage.read_positions(ann.id, group)] == ["bob"]
        assert [(p.user, p.seq) for p in await storage.read_positions(bob.id, group)] == \
            [("ann", 3)]


async def test_the_setting_is_the_users_row(storage: Storage) -> None:
    """On by default; set_read_receipts says whether it changed (None: not); the hello's
    first read and a token's check carry it (no statement of its own)."""
    with trio.fail_after(TIMEOUT):
        ann, = await users(storage, "ann")
        assert ann.read_receipts is True
        assert await storage.set_read_receipts(ann.id, True) is None
        assert await storage.set_read_receipts(ann.id, False) == []
        assert await storage.set_read_receipts(ann.id, False) is None
        now = int(time.time() * 1000)
        start = await storage.open_session(ann.id, "jti-r", now)
        assert start is not None and start.user.read_receipts is False
        checked = await storage.check_token(ann.id, "jti-r", now)
        assert checked is not None and checked.read_receipts is False
        assert await storage.set_read_receipts(ann.id, True) == []
        checked = await storage.check_token(ann.id, "jti-r", now)
        assert checked is not None and checked.read_receipts is True


async def test_the_setting_says_whom_to_tell(storage: Storage) -> None:
    """A change of the setting names each of the user's conversations (not a room) with
    their marker and its other members, by name; no change names nothing (None)."""
    with trio.fail_after(TIMEOUT):
        ann, bob, cy = await users(storage, "ann", "bob", "Cy")
        dm = (await storage.direct_room(bob.id, "ann")).room.name
        group = (await storage.direct_room(cy.id, ["ann", "bob"])).room.name
        for user in (ann, bob):
            await storage.join_room(user.id, "general")
        for room, author in ((dm, bob), (group, cy), ("general", bob)):
            await post(storage, author, room, "one", "two")
        await storage.mark_read(ann.id, dm, 1)
        await storage.mark_read(ann.id, "general", 2)
        expected = sorted([(dm, 1, ["bob"]), (group, 0, ["Cy", "bob"])])
        for on in (False, True):
            changed = await storage.set_read_receipts(ann.id, on)
            assert changed is not None
            assert [(c.room, c.seq, sorted(c.tell)) for c in changed] == expected
            assert await storage.set_read_receipts(ann.id, on) is None


def test_the_append_does_not_name_it() -> None:
    """The send path is as it was: no append statement reads or writes the setting or the
    read markers' new columns."""
    statements = [v for k, v in vars(postgres).items()
                  if k.startswith(("_SQL_APPEND", "_APPEND")) and isinstance(v, str)]
    statements += [*_INSERTS.values(), *_INSERTS_FILES.values()]
    assert len(statements) > 20
    for statement in statements:
        assert "read_receipts" not in statement


BIG = 10_000


async def _big_room(storage: Storage, dsn: str) -> tuple[User, int, int]:
    """[hall] with ann, who wrote its one message, and BIG members u1..u10000 made in SQL,
    all of whom read it but u1..u10 (their marker at 0) and u11..u20 (who do not share);
    and, as a server has, other rooms (30 of 1,000 members and 200 messages each), so that
    the room is a part of the memberships and its message one of many (alone, they are all
    of them, and reading the tables whole is right); ann and the message's id and seq."""
    ann, = await users(storage, "ann")
    await storage.join_room(ann.id, "hall")
    [seq] = await post(storage, ann, "hall", "to everyone")
    msg_id = (await storage.history(ann.id, "hall", limit=1)).messages[0].msg_id
    await trio.to_thread.run_sync(execute_sql, dsn, f"""
        INSERT INTO users (name, password_hash, read_receipts)
        SELECT 'u' || g, 'hash', g NOT BETWEEN 11 AND 20 FROM generate_series(1, {BIG}) g
    """, f"""
        INSERT INTO memberships (room_id, user_id, read_seq)
        SELECT r.id, u.id, CASE WHEN u.name IN ({", ".join(f"'u{n}'" for n in range(1, 11))})
                                THEN 0 ELSE {seq} END
        FROM rooms r, users u WHERE r.name = 'hall' AND u.name LIKE 'u%'
    """, """
        INSERT INTO rooms (name) SELECT 'side' || g FROM generate_series(1, 30) g
    """, """
        INSERT INTO memberships (room_id, user_id)
        SELECT r.id, u.id FROM rooms r JOIN users u
            ON u.name ~ '^u[0-9]+$' AND substr(u.name, 2)::int % 10 = substr(r.name, 5)::int % 10
        WHERE r.name LIKE 'side%'
    """, """
        INSERT INTO messages (room_id, seq, sender_id, nonce, text)
        SELECT r.id, g, u.id, r.name || ':' || g, 'chatter' FROM rooms r, users u,
            generate_series(1, 200) g WHERE r.name LIKE 'side%' AND u.name = 'u1'
    """, "VACUUM ANALYZE")
    return ann, msg_id, seq


async def test_a_room_of_ten_thousand_answers_a_page(storage: Storage,
                                                     database_dsn: str) -> None:
    """10,000 members: the count is every reader who shares (9,980), the page 100 names by
    name; the next page starts after the last name; the plan reads the room's memberships
    once, by the primary key (its room_id prefix), and the message by its own: neither
    table is scanned whole (users may be: joined by hash or probed, the planner's choice)."""
    with trio.fail_after(120):
        ann, msg_id, _ = await _big_room(storage, database_dsn)
        page = await storage.receipts(ann.id, "hall", msg_id, limit=100)
        assert page.count == BIG - 20
        expected = sorted(f"u{n}" for n in range(21, BIG + 1))[:200]
        assert list(page.users) == expected[:100]
        more = await storage.receipts(ann.id, "hall", msg_id, after=page.users[-1], limit=100)
        assert list(more.users) == expected[100:]
        executed = await plan(database_dsn, _SQL_RECEIPTS, "hall", ann.id, msg_id, "", 101)
        members = [n for n in scans(executed) if n["Relation Name"] == "memberships"]
        walked = [n for n in members if n["Actual Rows"] * n["Actual Loops"] >= BIG - 10]
        assert len(walked) == 1, members  # the room's memberships, read once
        assert walked[0]["Node Type"] in ("Index Scan", "Bitmap Heap Scan"), walked
        assert "room_id" in walked[0].get("Index Cond", walked[0].get("Recheck Cond", ""))
        for node in scans(executed):
            if node["Relation Name"] in ("memberships", "messages"):
                assert node["Node Type"] != "Seq Scan", json.dumps(executed, indent=1)


async def test_a_rooms_read_reads_no_member_nor_user(storage: Storage,
                                                     database_dsn: str) -> None:
    """The read's statement in a room of 10,000 runs its tell (the other members, the
    reader's setting) never: every scan of users and of other memberships it plans runs no
    loop; in a conversation the same statement runs them."""

    def loops(node: dict[str, Any], relation: str) -> int:
        """How many times the plan read ``relation`` (its scans' loops; the update's own
        node, which writes, aside)."""
        return sum(n.get("Actual Loops", 0) for n in scans(node)
                   if n["Relation Name"] == relation and n["Node Type"].endswith("Scan"))

    with trio.fail_after(120):
        ann, _, seq = await _big_room(storage, database_dsn)
        await storage.mark_unread(ann.id, "hall", 1)
        executed = await plan(database_dsn, _SQL_MARK_READ, "hall", ann.id, seq)
        assert loops(executed, "users") == 0
        # the update's row and the row as it was: two probes of ann's membership, no more
        assert loops(executed, "memberships") == 2
        bob, = await users(storage, "bob")
        dm = (await storage.direct_room(bob.id, "ann")).room.name
        [one] = await post(storage, bob, dm, "hi")
        executed = await plan(database_dsn, _SQL_MARK_READ, dm, ann.id, one)
        assert loops(executed, "users") >= 2  # the reader's setting, the other's name


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(
    st.tuples(st.just("read"), st.integers(0, 3), st.integers(0, 6)),
    st.tuples(st.just("unread"), st.integers(0, 3), st.integers(0, 6)),
    st.tuples(st.just("share"), st.integers(0, 3), st.booleans()),
), min_size=1, max_size=14))
async def test_receipts_and_tells_follow_the_markers(
        tmp_path: Path, database_dsn: str, steps: list[tuple[str, int, Any]]) -> None:
    """A group conversation of four with five messages (by each in turn), any order of
    reads, marks unread and settings: a read or mark unread tells the three others exactly
    when the model's marker moved and the reader shares; every message's receipts, as each
    member asks, are the model's readers (at or past its seq, sharing, not its author nor
    the asker), and the positions the model's markers of the others who share; and a client
    that applies the tells as docs/protocol.md says (a lower seq only with back; a setting
    turned off tells seq null, forget; on again, where the marker is) holds the marker of
    every member who shares as it is, and nothing of those who do not."""
    async with open_storage(make_config(tmp_path, database_dsn)) as storage:
        with trio.fail_after(TIMEOUT):
            tag = f"p{time.monotonic_ns() % 10**9}"
            people = await users(storage, *(f"{tag}{n}" for n in "abcd"))
            room = (await storage.direct_room(
                people[0].id, [p.name for p in people[1:]])).room.name
            for n in range(5):
                await post(storage, people[n % 4], room, f"m{n}")
            page = await storage.history(people[0].id, room, limit=10)
            messages = [(m.msg_id, m.seq, m.sender) for m in page.messages]
            marker = dict.fromkeys(range(4), 0)
            shares = dict.fromkeys(range(4), True)
            told: dict[int, dict[str, int]] = {n: {} for n in range(4)}
            for kind, who, value in steps:
                person = people[who]
                if kind == "share":
                    changed = await storage.set_read_receipts(person.id, value)
                    others = [p.name for p in people if p is not person]
                    if shares[who] == value:
                        assert changed is None
                    else:  # the one conversation, the marker, whom to tell
                        assert changed is not None
                        assert [(c.room, c.seq, sorted(c.tell)) for c in changed] == [
                            (room, marker[who], sorted(others))]
                    shares[who] = value
                    for other in range(4):
                        if changed and other != who:
                            if value:
                                told[other][person.name] = marker[who]
                            else:
                                told[other].pop(person.name, None)
                    continue
                was = marker[who]
                if kind == "read":
                    move = await storage.mark_read(person.id, room, value)
                    marker[who] = max(was, min(value, 5))
                    tell, back = move.tell, False
                    assert (move.seq, move.moved) == (marker[who], marker[who] != was)
                else:
                    moved_back = await storage.mark_unread(person.id, room, value)
                    marker[who] = min(was, max(value - 1, 0))
                    tell, back = moved_back.tell, True
                    assert moved_back.seq == marker[who]
                expected = marker[who] != was and shares[who]
                assert sorted(tell) == (sorted(p.name for p in people if p is not person)
                                        if expected else [])
                for other in range(4):
                    if tell and other != who:
                        held = told[other]
                        if back or marker[who] >= held.get(person.name, 0):
                            held[person.name] = marker[who]
            for asker in range(4):
                for msg_id, seq, sender in messages:
                    got = await storage.receipts(people[asker].id, room, msg_id, limit=10)
                    readers = sorted((p.name for n, p in enumerate(people)
                                      if marker[n] >= seq and shares[n] and n != asker
                                      and p.name != sender), key=str.lower)
                    assert (got.count, list(got.users)) == (len(readers), readers)
                positions = await storage.read_positions(people[asker].id, room)
                assert [(p.user, p.seq) for p in positions] == [
                    (p.name, marker[n]) for n, p in enumerate(people)
                    if n != asker and shares[n]]
                for n, p in enumerate(people):
                    if n != asker and shares[n]:
                        # every move of a member who shares was told (and where the
                        # marker was when they shared again), and the tells applied in
                        # order end at the marker
                        assert told[asker].get(p.name, 0) == marker[n]
                    elif n != asker:  # and a seq null forgot what was told
                        assert p.name not in told[asker]
