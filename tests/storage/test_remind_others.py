"""Contract tests of reminders set for someone else (migration 0051), against a real
(embedded) PostgreSQL.

The rules (Storage.reminder_target and after): only someone who shares a room or a
conversation with the user may remind them, unless they turned reminders from others off; the
item is the reminded user's, with who set it; the setter's list holds what they set, newest
first, pages without a gap or a repeat, and loses an item its user removed; a cancel works
until the reminder fires, and one racing a claim either wins (the claim then tells nothing)
or finds it fired.
"""

from __future__ import annotations

import trio

from chatd.storage import Storage
from tests.helpers import now_ms
from tests.storage.test_changes import one, say
from tests.storage.test_postgres import TIMEOUT, appended, make_member
from tests.storage.test_rooms_contacts import refusal

HOUR = 3600 * 1000
LEASE = 30.0


async def test_who_may_be_reminded(storage: Storage) -> None:
    """A user sharing a room (any case of the name) may be reminded; a stranger, a name
    nobody has, and a user who turned reminders from others off may not."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        bob = await make_member(storage, "Bob", "general")
        await make_member(storage, "cid", "elsewhere")
        assert await storage.reminder_target(ann.id, "BOB") == (bob.id, "Bob")
        assert await refusal(storage.reminder_target(ann.id, "cid")) == "forbidden"
        assert await refusal(storage.reminder_target(ann.id, "zed")) == "not_found"
        assert await storage.allow_reminders(bob.id, None) is True
        assert await storage.allow_reminders(bob.id, False) is False
        assert await storage.allow_reminders(bob.id, None) is False
        assert await refusal(storage.reminder_target(ann.id, "bob")) == "forbidden"
        assert await storage.allow_reminders(bob.id, True) is True
        assert await storage.reminder_target(ann.id, "bob") == (bob.id, "Bob")


async def test_the_setters_list_and_cancel(storage: Storage) -> None:
    """Items saved for bob with set_by ann: bob's list says ann set them; ann's list holds
    them for Bob, newest first, two at a time without a gap; ann cancels one; bob removes
    another, and it leaves ann's list; a cancel of what is gone is not_found; a save of
    bob's own has no set_by."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        bob = await make_member(storage, "Bob", "general")
        ids = [appended(await one(storage, say(ann, "general", f"note {n}"))).message.msg_id
               for n in range(5)]
        later = now_ms() + HOUR
        for msg_id in ids:
            await storage.save(bob.id, "general", msg_id, on=True, remind_at=later, limit=10,
                               set_by=ann.id)
        own = appended(await one(storage, say(bob, "general", "mine"))).message.msg_id
        await storage.save(bob.id, "general", own, on=True, remind_at=later, limit=10)
        items, _ = await storage.saved_items(bob.id, limit=10)
        assert {i.msg_id: i.set_by for i in items} == {**dict.fromkeys(ids, "ann"), own: None}

        listed: list[int] = []
        before = None
        while True:
            page, more = await storage.reminders_set(ann.id, before=before, limit=2)
            assert all(i.user == "Bob" and i.message is not None for i in page)
            listed += [i.msg_id for i in page]
            if not more:
                break
            before = page[-1].msg_id
        assert listed == sorted(ids, reverse=True)
        assert await storage.reminders_set(bob.id, limit=10) == ([], False)

        gone = await storage.cancel_reminder(ann.id, "bob", ids[0])
        assert (gone.user, gone.room, gone.msg_id) == ("Bob", "general", ids[0])
        assert await refusal(storage.cancel_reminder(ann.id, "bob", ids[0])) == "not_found"
        assert await refusal(storage.cancel_reminder(bob.id, "bob", own)) == "not_found"
        assert await refusal(storage.cancel_reminder(ann.id, "zed", ids[1])) == "not_found"
        await storage.save(bob.id, "general", ids[1], on=False, remind_at=None, limit=10)
        page, _ = await storage.reminders_set(ann.id, limit=10)
        assert [i.msg_id for i in page] == sorted(ids[2:], reverse=True)


async def test_a_cancel_and_a_claim(storage: Storage) -> None:
    """A reminder claimed but not yet marked and then cancelled is told by nobody (the mark
    finds no row); one marked reminded cannot be cancelled, and stays in the setter's list as
    reminded."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        bob = await make_member(storage, "bob", "general")
        first, second = [appended(await one(storage, say(ann, "general", t))).message.msg_id
                         for t in ("first", "second")]
        due = now_ms() - 1000
        for msg_id in (first, second):
            await storage.save(bob.id, "general", msg_id, on=True, remind_at=due, limit=10,
                               set_by=ann.id)
        claimed = {r.message.msg_id: r for r in await storage.claim_reminders(10, LEASE)}
        assert set(claimed) == {first, second}
        await storage.cancel_reminder(ann.id, "bob", first)
        assert not await storage.reminded(claimed[first])
        assert await storage.reminded(claimed[second])
        assert await refusal(storage.cancel_reminder(ann.id, "bob", second)) == "not_found"
        [left], _ = await storage.reminders_set(ann.id, limit=10)
        assert (left.msg_id, left.reminded) == (second, True)
