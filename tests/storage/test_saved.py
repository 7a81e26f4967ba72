"""Contract tests of saved messages and their reminders (migration 0030), against a real
(embedded) PostgreSQL.

The rules (chatd.storage.base, Storage.save and after): an item is a user's alone, of a
message of a room they may read, not deleted; saving again with the same reminder changes
nothing, a new reminder clears ``reminded``; a user holds at most ``limit`` items; each
item's ``ts`` is distinct and increasing per user, so that paging by it neither skips nor
repeats, even for saves at once; the list leaves out rooms the user may no longer read. A
reminder due is claimed once, whichever of several claimers asks, and never again; a claim
marks it reminded only while it holds (one whose lease ran out and another took marks
nothing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import trio

from chatd.errors import ChatError
from chatd.storage import PushSubscription, Reminder, Storage, User, open_storage
from chatd.storage.bridge import open_bridge
from tests.helpers import make_config, now_ms
from tests.storage.test_changes import delete, one, say
from tests.storage.test_postgres import TIMEOUT, appended, claimed_by_two, make_member
from tests.storage.test_rooms_contacts import refusal

HOUR = 3600 * 1000
#: Seconds a claim holds a reminder (a node that dies leaves it this long).
LEASE = 30.0


async def _posted(storage: Storage, user: User, room: str, text: str) -> int:
    return appended(await one(storage, say(user, room, text))).message.msg_id


async def _listed(storage: Storage, user: User, page: int = 2) -> list[int]:
    """The msg_ids saved_items lists, in its order, paged ``page`` at a time."""
    found: list[int] = []
    before = None
    while True:
        items, more = await storage.saved_items(user.id, before=before, limit=page)
        found += [i.msg_id for i in items]
        if not more:
            return found
        before = items[-1].ts


async def _reminded(storage: Storage, limit: int) -> list[Reminder]:
    """Claim the reminders due as a node does, and mark each told (reminded)."""
    claimed = await storage.claim_reminders(limit, LEASE)
    for reminder in claimed:
        await storage.reminded(reminder)
    return claimed


async def test_save_update_remove(storage: Storage) -> None:
    """A save stores the item (changed), the same again changes nothing, a new reminder
    changes it and keeps its ts, removing it changes it and removing it again does not."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        msg_id = await _posted(storage, ann, "general", "keep me")
        item, changed = await storage.save(ann.id, "general", msg_id, on=True, remind_at=None,
                                           limit=10)
        assert changed and item.room == "general" and item.msg_id == msg_id
        assert item.remind_at is None and not item.reminded and item.ts > 0
        again, changed = await storage.save(ann.id, "general", msg_id, on=True,
                                            remind_at=None, limit=10)
        assert not changed and again.ts == item.ts
        later = now_ms() + HOUR
        moved, changed = await storage.save(ann.id, "general", msg_id, on=True,
                                            remind_at=later, limit=10)
        assert changed and moved.remind_at == later and moved.ts == item.ts
        [listed], more = await storage.saved_items(ann.id, limit=10)
        assert not more and listed.remind_at == later and listed.ts == item.ts
        assert listed.message is not None and listed.message.text == "keep me"
        _, changed = await storage.save(ann.id, "general", msg_id, on=False, remind_at=None,
                                        limit=10)
        assert changed
        _, changed = await storage.save(ann.id, "general", msg_id, on=False, remind_at=None,
                                        limit=10)
        assert not changed
        assert await storage.saved_items(ann.id, limit=10) == ([], False)


async def test_refusals(storage: Storage) -> None:
    """No such room, a message of another room, a deleted message (for saving; removing is
    allowed), a private room the user is not in, one more than the limit: each refused with
    its code, and nothing stored."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general", "other")
        bob = await make_member(storage, "bob", "general")
        here = await _posted(storage, ann, "general", "here")
        there = await _posted(storage, ann, "other", "there")
        gone = await _posted(storage, ann, "general", "gone")
        appended(await one(storage, delete(ann, "general", gone)))
        await storage.create_room(ann.id, "secret", private=True, topic="")
        secret = await _posted(storage, ann, "secret", "secret")
        for room, msg_id, code in (("nowhere", here, "not_found"),
                                   ("general", there, "not_found"),
                                   ("general", gone, "not_found"),
                                   ("secret", secret, "forbidden")):
            assert await refusal(storage.save(bob.id, room, msg_id, on=True, remind_at=None,
                                              limit=10)) == code, (room, msg_id)
        assert await storage.saved_items(bob.id, limit=10) == ([], False)
        await storage.save(bob.id, "general", here, on=True, remind_at=None, limit=1)
        await storage.save(ann.id, "other", there, on=True, remind_at=None, limit=1)
        assert await refusal(storage.save(bob.id, "other", there, on=True, remind_at=None,
                                          limit=1)) == "too_many_saved"
        assert await refusal(storage.save(ann.id, "general", here, on=True, remind_at=None,
                                          limit=1)) == "too_many_saved"
        # Changing the reminder of an item held is no new item.
        await storage.save(ann.id, "other", there, on=True, remind_at=now_ms() + HOUR, limit=1)
        assert await _listed(storage, ann) == [there]


async def test_saves_at_once_page_without_a_gap_or_a_repeat(storage: Storage,
                                                            database_dsn: str,
                                                            tmp_path: Path) -> None:
    """Forty saves of one user at once, through two storages (two nodes): every ts is
    distinct, and the list, paged two at a time by ts, gives each item once, newest saved
    first."""
    with trio.fail_after(TIMEOUT * 2):
        ann = await make_member(storage, "ann", "general")
        ids = [await _posted(storage, ann, "general", f"m{i}") for i in range(40)]
        saved: dict[int, int] = {}

        async def save(via: Storage, msg_id: int) -> None:
            item, _ = await via.save(ann.id, "general", msg_id, on=True, remind_at=None,
                                     limit=100)
            saved[msg_id] = item.ts

        async with open_storage(make_config(tmp_path, database_dsn)) as other, \
                trio.open_nursery() as nursery:
            for index, msg_id in enumerate(ids):
                nursery.start_soon(save, other if index % 2 else storage, msg_id)
        assert len(set(saved.values())) == 40
        assert await _listed(storage, ann) == sorted(ids, key=saved.__getitem__, reverse=True)


async def test_the_list_leaves_out_rooms_the_user_cannot_read(storage: Storage) -> None:
    """An item of a private room the user left is not listed, nor its reminder counted in
    the hello, nor its message given for a reminder notice; a deleted message is listed as
    its tombstone."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        bob = await make_member(storage, "bob", "general")
        await storage.create_room(ann.id, "secret", private=True, topic="")
        await storage.invite(ann.id, "secret", "bob")
        secret = await _posted(storage, ann, "secret", "secret")
        public = await _posted(storage, ann, "general", "public")
        for room, msg_id in (("secret", secret), ("general", public)):
            await storage.save(bob.id, room, msg_id, on=True, remind_at=now_ms() - 1000,
                               limit=10)
        assert len(await _reminded(storage, 10)) == 2
        start = await storage.open_session(bob.id, "jti", now_ms())
        assert start is not None and start.reminders_due == 2
        assert await storage.reminded_message("bob", secret) is not None
        await storage.leave_room(bob.id, "secret")
        assert await _listed(storage, bob) == [public]
        start = await storage.open_session(bob.id, "jti", now_ms())
        assert start is not None and start.reminders_due == 1
        assert await storage.reminded_message("bob", secret) is None
        assert await storage.reminded_message("ann", public) is None  # not hers
        appended(await one(storage, delete(ann, "general", public)))
        [item], _ = await storage.saved_items(bob.id, limit=10)
        assert item.message is not None and item.message.deleted and item.message.text == ""


async def test_reminders_are_claimed_once_by_racing_claimers(storage: Storage,
                                                             database_dsn: str,
                                                             tmp_path: Path) -> None:
    """Sixty reminders due, claimed in batches of seven by two storages (two nodes) at
    once, over and over: each is claimed by exactly one of them, once; then none is due,
    and each reads back reminded; a reminder ahead is not claimed, and is what
    next_reminder tells (in seconds from now)."""
    with trio.fail_after(TIMEOUT * 2):
        ann = await make_member(storage, "ann", "general")
        ids = [await _posted(storage, ann, "general", f"m{i}") for i in range(61)]
        for msg_id in ids[:60]:
            await storage.save(ann.id, "general", msg_id, on=True, remind_at=now_ms() - 1000,
                               limit=100)
        await storage.save(ann.id, "general", ids[60], on=True, remind_at=now_ms() + HOUR,
                           limit=100)

        async def claim(via: Storage) -> list[int]:
            return [r.message.msg_id for r in await _reminded(via, 7)]

        async with open_storage(make_config(tmp_path, database_dsn)) as other:
            claimed = await claimed_by_two(storage, other, claim)
        assert sorted(claimed) == ids[:60]
        assert await _reminded(storage, 100) == []
        wait = await storage.next_reminder()
        assert wait is not None and 3500 < wait <= 3600
        items, _ = await storage.saved_items(ann.id, limit=100)
        assert {i.msg_id for i in items if i.reminded} == set(ids[:60])
        start = await storage.open_session(ann.id, "jti", now_ms())
        assert start is not None and start.reminders_due == 60


async def test_a_claim_whose_lease_moved_marks_nothing(storage: Storage, database_dsn: str,
                                                       tmp_path: Path) -> None:
    """Node A claims a reminder and is slow past its lease (a lease of 0); node B claims it
    again: B's claim marks it (True: B tells it), A's marks nothing, before B's mark or
    after (False: A tells nothing). A claim that ran out that nobody took since still marks
    it (True), and then nobody claims it."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        msg_id = await _posted(storage, ann, "general", "once")
        await storage.save(ann.id, "general", msg_id, on=True, remind_at=now_ms() - 5,
                           limit=10)
        async with open_storage(make_config(tmp_path, database_dsn)) as other:
            [slow] = await storage.claim_reminders(10, 0.0)
            [fast] = await other.claim_reminders(10, LEASE)
            assert slow.message.msg_id == fast.message.msg_id == msg_id
            assert await storage.reminded(slow) is False
            [item], _ = await storage.saved_items(ann.id, limit=10)
            assert not item.reminded
            assert await other.reminded(fast) is True
            assert await storage.reminded(slow) is False
            await storage.save(ann.id, "general", msg_id, on=True, remind_at=now_ms() - 1,
                               limit=10)  # a new time: due again
            [late] = await storage.claim_reminders(10, 0.0)
            assert await storage.reminded(late) is True
            assert await other.claim_reminders(10, LEASE) == []
            [item], _ = await storage.saved_items(ann.id, limit=10)
            assert item.reminded


async def test_a_claimed_reminder_carries_what_the_push_needs(storage: Storage) -> None:
    """A claim gives the user, the time set, the message as it is now, whether the user
    may read its room, their pause and their push subscriptions; a new remind_at clears
    reminded, and it is claimed again when due; with none left, next_reminder is None."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        msg_id = await _posted(storage, ann, "general", "ping me")
        await storage.add_push_subscription(
            ann.id, PushSubscription(endpoint="https://push.example/1", p256dh="p", auth="a"),
            keep=10)
        until = now_ms() + HOUR
        await storage.set_dnd(ann.id, until)
        due = now_ms() - 5
        await storage.save(ann.id, "general", msg_id, on=True, remind_at=due, limit=10)
        [reminder] = await _reminded(storage, 10)
        assert (reminder.user, reminder.remind_at, reminder.readable) == ("ann", due, True)
        assert reminder.message.text == "ping me" and reminder.message.room == "general"
        assert reminder.paused_until == until
        assert [s.endpoint for s in reminder.subscriptions] == ["https://push.example/1"]
        assert await storage.next_reminder() is None
        item, changed = await storage.save(ann.id, "general", msg_id, on=True, remind_at=due,
                                           limit=10)
        assert not changed and item.reminded
        await storage.save(ann.id, "general", msg_id, on=True, remind_at=due - 1, limit=10)
        [again] = await _reminded(storage, 10)
        assert again.remind_at == due - 1
        assert await _reminded(storage, 10) == []


async def test_items_the_user_no_longer_sees_do_not_count(storage: Storage) -> None:
    """An item of a private room the user left is hidden from their list, so they cannot
    remove it: it does not count against the limit."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        bob = await make_member(storage, "bob", "general")
        await storage.create_room(ann.id, "secret", private=True, topic="")
        await storage.invite(ann.id, "secret", "bob")
        secret = await _posted(storage, ann, "secret", "secret")
        public = await _posted(storage, ann, "general", "public")
        await storage.save(bob.id, "secret", secret, on=True, remind_at=None, limit=1)
        assert await refusal(storage.save(bob.id, "general", public, on=True,
                                          remind_at=None, limit=1)) == "too_many_saved"
        await storage.leave_room(bob.id, "secret")
        await storage.save(bob.id, "general", public, on=True, remind_at=None, limit=1)
        assert await _listed(storage, bob) == [public]


async def test_a_save_racing_a_purge_says_what_is_gone(storage: Storage,
                                                       database_dsn: str) -> None:
    """A save that read a message just before its purge (a room's deletion, a ban's
    purge) committed meets a foreign key at its insert: not_found, saying the message is
    gone (it said "no such user", the only refusal a foreign key had)."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        msg_id = await _posted(storage, ann, "general", "soon gone")
        async with open_bridge(name="raw") as bridge:
            conn: Any = await bridge.run(asyncpg.connect, database_dsn)
            try:
                await bridge.run(conn.execute, "BEGIN")
                await bridge.run(conn.execute, "DELETE FROM messages WHERE id = $1", msg_id)
                refusal: list[ChatError] = []

                async def save() -> None:
                    try:
                        await storage.save(ann.id, "general", msg_id, on=True, remind_at=None,
                                           limit=10)
                    except ChatError as exc:
                        refusal.append(exc)

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(save)
                    # the save's insert waits for the deletion's lock on the row it names
                    while not await bridge.run(conn.fetchval, """
                            SELECT count(*) FROM pg_stat_activity
                            WHERE wait_event_type = 'Lock' AND datname = current_database()
                            """):  # noqa: ASYNC110 (another session's state: polled)
                        await trio.sleep(0.01)
                    await bridge.run(conn.execute, "COMMIT")
            finally:
                await bridge.run(conn.close)
        [exc] = refusal
        assert (exc.code, exc.message) == ("not_found", "no such message")
