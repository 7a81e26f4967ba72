"""Contract tests of pinned messages (migration 0024), against a real (embedded) PostgreSQL.

The rules (chatd.storage.changes): a pin or an unpin is an entry of the room's log with the
next seq, by a member, of a message not deleted; one that changes nothing stores nothing; a
room holds at most the change's ``limit`` pinned at once, also within one batch and with two
nodes pinning at once; deleting a pinned message (one by one, or a purge) takes it off the
pins with no entry of its own. Whatever happens, the room's count (``rooms.pins``, what room
objects show without counting) is the number of its messages pinned, and those are the
messages that read back with ``pinned_by``.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatd.errors import ChatError
from chatd.storage import Appended, Message, NewChange, NewEntry, Storage, User, open_storage
from tests.helpers import make_config
from tests.storage.test_changes import current, delete, one, say
from tests.storage.test_postgres import TIMEOUT, appended, make_member, refused
from tests.storage.test_purge import purge


def pin(user: User, room: str, msg_id: int, on: bool = True, limit: int = 100) -> NewChange:
    return NewChange(user_id=user.id, room=room, msg_id=msg_id, kind="pinned", on=on,
                     limit=limit)


async def _counts(dsn: str, room: str) -> tuple[int, int]:
    """The room's count of pins (its column) and its rows of ``pins``."""
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT r.pins, (SELECT count(*) FROM pins p WHERE p.room_id = r.id) AS rows "
            "FROM rooms r WHERE r.name = $1", room)
        return row["pins"], row["rows"]
    finally:
        await conn.close()


async def counts(dsn: str, room: str) -> tuple[int, int]:
    return await trio.to_thread.run_sync(asyncio.run, _counts(dsn, room))


async def pinned_ids(storage: Storage, user: User, room: str) -> list[int]:
    """The msg_ids ``pins`` lists, in its order, paged two at a time."""
    found: list[int] = []
    before = None
    while True:
        page = await storage.pins(user.id, room, before=before, limit=2)
        found += [m.msg_id for m in page.messages]
        if not page.more:
            return found
        before = page.messages[-1].pinned_seq


async def test_a_pin_is_an_entry_and_shows_on_the_message(storage: Storage,
                                                          database_dsn: str) -> None:
    """A pin by a member takes the next seq; the message reads back pinned (by, ts, seq:
    the entry's), with its rev; the room objects count it; pinning again stores nothing and
    names the entry that pinned it; unpinning is an entry too and clears it all."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        bob = await make_member(storage, "bob", "general")
        posted = appended(await one(storage, say(ann, "general", "agenda"))).message
        done = appended(await one(storage, pin(bob, "general", posted.msg_id)))
        assert not done.duplicate
        entry = done.message
        assert (entry.kind, entry.seq, entry.msg_id, entry.sender, entry.on) == (
            "pinned", posted.seq + 1, posted.msg_id, "bob", True)
        now = await current(storage, ann, "general", posted.msg_id)
        assert (now.pinned_by, now.pinned_ts, now.pinned_seq) == ("bob", entry.ts, entry.seq)
        assert now.rev == entry.seq
        assert [r.pins for r in await storage.user_rooms(ann.id)] == [1]
        again = appended(await one(storage, pin(ann, "general", posted.msg_id)))
        assert again.duplicate and again.message.seq == entry.seq

        off = appended(await one(storage, pin(ann, "general", posted.msg_id, on=False)))
        assert (off.message.seq, off.message.on, off.message.sender) == (
            entry.seq + 1, False, "ann")
        now = await current(storage, ann, "general", posted.msg_id)
        assert now.pinned_by is None and now.rev == off.message.seq
        assert [r.pins for r in await storage.user_rooms(ann.id)] == [0]
        page = await storage.history(ann.id, "general", limit=10)
        assert [(m.kind, m.on) for m in page.messages] == [
            ("message", True), ("pinned", True), ("pinned", False)]
        assert await counts(database_dsn, "general") == (0, 0)


async def test_who_may_pin_what(storage: Storage) -> None:
    """Not a member: forbidden (also to list the pins); a message of another room, or none:
    not_found; a deleted message: not_found. Nothing is stored."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general", "other")
        eve = await make_member(storage, "eve")
        posted = appended(await one(storage, say(ann, "general", "x"))).message
        gone = appended(await one(storage, say(ann, "general", "y"))).message
        last = appended(await one(storage, delete(ann, "general", gone.msg_id))).message
        assert refused(await one(storage, pin(eve, "general", posted.msg_id))) == "forbidden"
        assert refused(await one(storage, pin(ann, "other", posted.msg_id))) == "not_found"
        assert refused(await one(storage, pin(ann, "general", 10**9))) == "not_found"
        assert refused(await one(storage, pin(ann, "general", gone.msg_id))) == "not_found"
        assert refused(await one(storage, pin(ann, "nowhere", posted.msg_id))) == "not_found"
        assert (await storage.history(ann.id, "general", limit=5)).last_seq == last.seq
        for user, room, code in ((eve, "general", "forbidden"), (ann, "nowhere", "not_found")):
            try:
                await storage.pins(user.id, room, limit=5)
            except ChatError as exc:
                assert exc.code == code
            else:
                raise AssertionError(f"{user.name} listed the pins of {room}")


async def test_the_limit_holds_within_a_batch(storage: Storage, database_dsn: str) -> None:
    """With room for two, a batch pinning three stores two and refuses the third with
    too_many_pins; an unpin earlier in the batch makes room for a later pin."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        ids = [appended(await one(storage, say(ann, "general", f"m{i}"))).message.msg_id
               for i in range(4)]
        results = await storage.append_messages([pin(ann, "general", i, limit=2)
                                                 for i in ids[:3]])
        assert [r.code if isinstance(r, ChatError) else "ok" for r in results] == [
            "ok", "ok", "too_many_pins"]
        results = await storage.append_messages([
            pin(ann, "general", ids[3], limit=2), pin(ann, "general", ids[0], False, limit=2),
            pin(ann, "general", ids[3], limit=2), pin(ann, "general", ids[1], limit=2)])
        assert [r.code if isinstance(r, ChatError) else r.duplicate for r in results] == [
            "too_many_pins", False, False, True]
        assert await pinned_ids(storage, ann, "general") == [ids[3], ids[1]]
        assert await counts(database_dsn, "general") == (2, 2)


async def test_deleting_pinned_messages_unpins_them(storage: Storage, database_dsn: str) -> None:
    """A deletion, one pinned in the same batch, and a purge take pinned messages off the
    pins and the room's count, with their deleted entries alone."""
    with trio.fail_after(TIMEOUT):
        mod = await make_member(storage, "mod", "team")  # the owner
        bob = await make_member(storage, "bob", "team")
        ids = [appended(await one(storage, say(bob, "team", f"m{i}"))).message.msg_id
               for i in range(5)]
        for msg_id in ids:
            appended(await one(storage, pin(mod, "team", msg_id)))
        assert await counts(database_dsn, "team") == (5, 5)
        appended(await one(storage, delete(bob, "team", ids[0])))
        assert await counts(database_dsn, "team") == (4, 4)
        kept = appended(await one(storage, say(mod, "team", "kept"))).message.msg_id
        results = await storage.append_messages([
            pin(mod, "team", kept), pin(mod, "team", ids[1], on=False), pin(mod, "team", ids[1]),
            delete(bob, "team", ids[1])])
        assert all(isinstance(r, Appended) and not r.duplicate for r in results)
        assert await counts(database_dsn, "team") == (4, 4)
        done = appended(await one(storage, purge(mod, "team", "bob", 3600, limit=2)))
        assert [e.kind for e in done.entries] == ["deleted", "deleted"]
        assert await counts(database_dsn, "team") == (2, 2)
        assert await pinned_ids(storage, mod, "team") == [kept, ids[2]]
        page = await storage.history(mod.id, "team", limit=100)
        assert not [m for m in page.messages if m.kind == "message" and m.deleted
                    and m.pinned_by is not None]


async def test_two_nodes_pinning_at_once_keep_the_limit(tmp_path: Path,
                                                        database_dsn: str) -> None:
    """Two nodes pinning different messages of one room at once: never more than the limit
    pinned, the count right, every refusal too_many_pins."""
    config = make_config(tmp_path, database_dsn)
    with trio.fail_after(TIMEOUT * 3):
        async with open_storage(config) as one_node, open_storage(config) as other:
            ann = await make_member(one_node, "ann", "general")
            bob = await make_member(one_node, "bob", "general")
            ids = [appended(await one(one_node, say(ann, "general", f"m{i}"))).message.msg_id
                   for i in range(12)]
            outcomes: list[Appended | ChatError] = []

            async def hammer(storage: Storage, user: User, mine: list[int]) -> None:
                for msg_id in mine:
                    outcomes.extend(await storage.append_messages(
                        [pin(user, "general", msg_id, limit=5)]))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(hammer, one_node, ann, ids[0::2])
                nursery.start_soon(hammer, other, bob, ids[1::2])
            stored = [o for o in outcomes if isinstance(o, Appended)]
            assert len(stored) == 5
            assert {o.code for o in outcomes if isinstance(o, ChatError)} == {"too_many_pins"}
            assert await counts(database_dsn, "general") == (5, 5)
            assert sorted(await pinned_ids(one_node, ann, "general")) == sorted(
                o.message.msg_id for o in stored)


# -- a model: any run of sends, pins, unpins and deletions --------------------------------------

_op = st.one_of(
    st.tuples(st.just("say"), st.integers(0, 1)),
    st.tuples(st.just("pin"), st.integers(0, 1), st.integers(0, 7), st.booleans()),
    st.tuples(st.just("delete"), st.integers(0, 1), st.integers(0, 7)),
)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(_op, min_size=1, max_size=6), min_size=1, max_size=6))
async def test_the_pins_are_what_the_log_says(
        tmp_path: Path, database_dsn: str, batches: list[list[tuple[object, ...]]]) -> None:
    """Replaying the log (pinned entries, and deleted ones taking a message off) gives the
    pins storage lists, most recently pinned first, each message reading back with the
    entry that pinned it; the room's count is their number, never above the limit (3)."""
    room = f"r{uuid.uuid4().hex[:12]}"
    async with open_storage(make_config(tmp_path, database_dsn)) as storage:
        with trio.fail_after(TIMEOUT * 3):
            users = [await make_member(storage, f"u{i}-{room}"[:32], room) for i in range(2)]
            ids: list[int] = []
            for ops in batches:
                batch: list[NewEntry] = []
                for op in ops:
                    who = users[int(str(op[1]))]
                    if op[0] == "say":
                        batch.append(say(who, room, "x"))
                    elif int(str(op[2])) < len(ids):
                        msg_id = ids[int(str(op[2]))]
                        # users[0] made the room: they delete anyone's message
                        batch.append(pin(who, room, msg_id, bool(op[3]), limit=3)
                                     if op[0] == "pin" else delete(users[0], room, msg_id))
                for result in await storage.append_messages(batch):
                    if isinstance(result, Appended) and result.message.kind == "message":
                        ids.append(result.message.msg_id)
                    elif isinstance(result, ChatError):
                        assert result.code in ("too_many_pins", "not_found"), result
            log = (await storage.history(users[0].id, room, limit=500)).messages
            listed = await pinned_ids(storage, users[1], room)
            assert await counts(database_dsn, room) == (len(listed), len(listed))
    pins: dict[int, Message] = {}  # msg_id -> the entry that pinned it, in pin order
    for entry in log:
        if entry.kind == "pinned":
            if entry.on:
                pins[entry.msg_id] = entry
            else:
                del pins[entry.msg_id]
        elif entry.kind == "deleted":
            pins.pop(entry.msg_id, None)
        assert len(pins) <= 3
    assert listed == list(pins)[::-1]
    for message in log:
        if message.kind == "message":
            by = pins.get(message.msg_id)
            assert (message.pinned_by, message.pinned_seq) == (
                (by.sender, by.seq) if by else (None, 0))
