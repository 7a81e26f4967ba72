"""Storage contract of scheduled messages (migration 0032): schedule, list, edit, cancel,
files reserved from the sweep and released, the refusals, the claims (once by racing
claimers, held for the lease, taken again after it), a failure, the badges; and the lease of
a reminder's claim.

A lease of 0 s is a claim whose node is taken for dead at once: the next claim may take it,
with no waiting for time to pass."""

from __future__ import annotations

from pathlib import Path

import trio

from chatd.storage import ScheduledItem, Storage, User, open_storage
from tests.helpers import make_config, now_ms
from tests.storage.test_archive_and_delete import archive
from tests.storage.test_changes import one as commit_one
from tests.storage.test_postgres import TIMEOUT, claimed_by_two, make_member
from tests.storage.test_rooms_contacts import refusal
from tests.storage.test_saved import _posted

HOUR = 3600 * 1000
LEASE = 3600.0


async def _schedule(storage: Storage, user: User, text: str, send_at: int, *,
                    room: str = "general", files: tuple[int, ...] = (),
                    limit: int = 100) -> ScheduledItem:
    return await storage.schedule(user.id, room, text=text, files=files, thread=None,
                                  broadcast=False, reply_to=None, send_at=send_at,
                                  limit=limit)


async def _upload(storage: Storage, user: User, name: str) -> int:
    stored = await storage.add_file(user.id, "general", sha256=name[0] * 64, size=3,
                                    name=name, content_type="text/plain", quota_bytes=10**9)
    return stored.info.id


async def test_schedule_list_edit_cancel(storage: Storage) -> None:
    """An item reads back as scheduled; the list is by send_at; an edit changes only what
    it is given (send_at 0: now by the database's clock); a cancel removes it and gives it
    back; another user's item, or one gone, is not_found; the badges count items."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        bob = await make_member(storage, "bob", "general")
        later = await _schedule(storage, ann, "later", now_ms() + 2 * HOUR)
        sooner = await _schedule(storage, ann, "sooner", now_ms() + HOUR)
        assert (later.room, later.text, later.state, later.error) == (
            "general", "later", "pending", None)
        assert [i.id for i in await storage.scheduled_items(ann.id)] == [sooner.id, later.id]
        assert await storage.scheduled_items(bob.id) == []
        badges = await storage.badges(ann.id)
        assert (badges.scheduled_count, badges.scheduled_failed) == (2, 0)

        edited = await storage.edit_scheduled(ann.id, later.id, text="later, edited",
                                              files=None, send_at=None)
        assert (edited.text, edited.send_at) == ("later, edited", later.send_at)
        before = now_ms()
        now = await storage.edit_scheduled(ann.id, later.id, text=None, files=None, send_at=0)
        assert now.text == "later, edited" and before - 1000 <= now.send_at <= now_ms() + 1000
        assert [i.id for i in await storage.scheduled_items(ann.id)] == [later.id, sooner.id]

        for call in (storage.edit_scheduled(bob.id, later.id, text="x", files=None,
                                            send_at=None),
                     storage.cancel_scheduled(bob.id, later.id)):
            assert await refusal(call) == "not_found"
        gone = await storage.cancel_scheduled(ann.id, sooner.id)
        assert gone.id == sooner.id and gone.text == "sooner"
        assert await refusal(storage.cancel_scheduled(ann.id, sooner.id)) == "not_found"
        assert [i.id for i in await storage.scheduled_items(ann.id)] == [later.id]
        blank = storage.edit_scheduled(ann.id, later.id, text=" ", files=None, send_at=None)
        assert await refusal(blank) == "bad_request"


async def test_refusals_and_the_limit(storage: Storage) -> None:
    """No such room: not_found; not a member: forbidden; archived: archived; the limit
    counts pending and failed items: too_many_scheduled, nothing stored."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        bob = await make_member(storage, "bob", "random")
        await storage.create_room(ann.id, "old", private=False, topic="")
        await commit_one(storage, archive(ann, "old"))
        ahead = now_ms() + HOUR
        assert await refusal(_schedule(storage, ann, "x", ahead, room="nowhere")) == \
            "not_found"
        assert await refusal(_schedule(storage, bob, "x", ahead)) == "forbidden"
        assert await refusal(_schedule(storage, ann, "x", ahead, room="old")) == "archived"
        first = await _schedule(storage, ann, "1", ahead, limit=2)
        await _schedule(storage, ann, "2", ahead, limit=2)
        await storage.claim_scheduled(10, LEASE)  # none due: nothing claimed
        assert await refusal(_schedule(storage, ann, "3", ahead, limit=2)) == \
            "too_many_scheduled"
        await storage.edit_scheduled(ann.id, first.id, text=None, files=None, send_at=0)
        [work] = await storage.claim_scheduled(10, LEASE)
        failed = await storage.scheduled_failed(work.item.id, "forbidden", "no")
        assert failed is not None and failed.state == "failed"
        assert await refusal(_schedule(storage, ann, "3", ahead, limit=2)) == \
            "too_many_scheduled"
        assert len(await storage.scheduled_items(ann.id)) == 2


async def test_files_are_reserved_then_released(storage: Storage) -> None:
    """Files scheduled are the user's unattached uploads to the room, held by one item:
    another's file, a file held already, or one of another room is not_found (and nothing
    is scheduled); the sweep of expired uploads leaves them; an edit's files replace them
    (those left out released: expired); a cancel releases the rest."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        bob = await make_member(storage, "bob", "general")
        one, two, three = [await _upload(storage, ann, n) for n in ("a.txt", "b.txt", "c.txt")]
        bobs = await _upload(storage, bob, "d.txt")
        ahead = now_ms() + HOUR
        item = await _schedule(storage, ann, "", ahead, files=(one, two))
        assert [f.id for f in item.files] == [one, two]
        assert item.files[0].name == "a.txt"
        for files in ((bobs,), (one,), (three, 999999)):
            assert await refusal(_schedule(storage, ann, "x", ahead, files=files)) == \
                "not_found"
        assert len(await storage.scheduled_items(ann.id)) == 1
        expired = await storage.expire_uploads(-1)  # every unattached upload is old
        assert expired == 2  # three and bob's: not one and two
        changed = await storage.edit_scheduled(ann.id, item.id, text=None, files=(two,),
                                               send_at=None)
        assert [f.id for f in changed.files] == [two]
        assert await storage.get_file(ann.id, one) is None  # released: expired
        assert await storage.get_file(ann.id, two) is not None
        await storage.cancel_scheduled(ann.id, item.id)
        assert await storage.get_file(ann.id, two) is None


async def test_claims_are_once_held_for_the_lease_and_taken_again(
        storage: Storage, database_dsn: str, tmp_path: Path) -> None:
    """Forty items due, claimed in batches of seven by two storages (two nodes) at once:
    each by exactly one, once; held for the lease, none is claimed again, nor may its user
    edit or cancel it, and next_scheduled is the lease's end; with a lease of 0 (a node
    dead at once) the next claim takes them again; sent ones are gone; an item ahead is
    not claimed, and is what next_scheduled tells."""
    with trio.fail_after(TIMEOUT * 2):
        ann = await make_member(storage, "ann", "general")
        items = [await _schedule(storage, ann, f"m{i}", now_ms() + HOUR) for i in range(41)]
        for item in items[:40]:
            await storage.edit_scheduled(ann.id, item.id, text=None, files=None, send_at=0)

        async def claim(via: Storage) -> list[int]:
            got = await via.claim_scheduled(7, LEASE)
            assert all(w.user.name == "ann" for w in got)
            return [w.item.id for w in got]

        async with open_storage(make_config(tmp_path, database_dsn)) as other:
            claimed = await claimed_by_two(storage, other, claim)
        assert sorted(claimed) == sorted(i.id for i in items[:40])
        assert await storage.claim_scheduled(100, LEASE) == []
        wait = await storage.next_scheduled()
        assert wait is not None and 3500 < wait <= 3600
        assert await refusal(storage.cancel_scheduled(ann.id, items[0].id)) == "not_found"

        # A node that dies at once: its claims (lease 0) are taken by the next claim.
        await storage.scheduled_sent(items[0].id)
        dead = [await _schedule(storage, ann, f"d{i}", now_ms() + HOUR) for i in range(3)]
        for item in dead:
            await storage.edit_scheduled(ann.id, item.id, text=None, files=None, send_at=0)
        first = await storage.claim_scheduled(10, 0.0)
        assert sorted(w.item.id for w in first) == sorted(i.id for i in dead)
        again = await storage.claim_scheduled(10, LEASE)
        assert sorted(w.item.id for w in again) == sorted(i.id for i in dead)
        for work in again:
            await storage.scheduled_sent(work.item.id)
        listed = {i.id for i in await storage.scheduled_items(ann.id)}
        assert listed == {i.id for i in items[1:]}  # claimed (held) or ahead, not sent


async def test_a_failure_is_kept_until_rescheduled(storage: Storage) -> None:
    """A claimed item marked failed is listed failed with its error, counted by the badges,
    not claimed again; a new send_at makes it pending (the error cleared) and claimable."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        item = await _schedule(storage, ann, "x", now_ms() + HOUR)
        await storage.edit_scheduled(ann.id, item.id, text=None, files=None, send_at=0)
        [work] = await storage.claim_scheduled(10, LEASE)
        failed = await storage.scheduled_failed(work.item.id, "forbidden", "you left")
        assert failed is not None
        assert (failed.state, failed.error) == ("failed", {"code": "forbidden",
                                                           "message": "you left"})
        badges = await storage.badges(ann.id)
        assert (badges.scheduled_count, badges.scheduled_failed) == (1, 1)
        assert await storage.claim_scheduled(10, LEASE) == []
        assert await storage.next_scheduled() is None
        text_only = await storage.edit_scheduled(ann.id, item.id, text="y", files=None,
                                                 send_at=None)
        assert text_only.state == "failed"
        back = await storage.edit_scheduled(ann.id, item.id, text=None, files=None, send_at=0)
        assert (back.state, back.error) == ("pending", None)
        [work] = await storage.claim_scheduled(10, LEASE)
        assert work.item.text == "y"
        assert await storage.scheduled_failed(999999, "x", "y") is None


async def test_a_reminder_claim_is_held_for_its_lease(storage: Storage) -> None:
    """A reminder claimed is not reminded until marked: held for the lease, nobody claims
    it again (next_reminder is the lease's end); claimed with a lease of 0 (its node died),
    the next claim takes it; marked, it is reminded and never claimed again."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        msg_id = await _posted(storage, ann, "general", "ping")
        await storage.save(ann.id, "general", msg_id, on=True, remind_at=now_ms() - 5, limit=10)
        [held] = await storage.claim_reminders(10, LEASE)
        assert await storage.claim_reminders(10, LEASE) == []
        wait = await storage.next_reminder()
        assert wait is not None and 3500 < wait <= 3600
        [item], _ = await storage.saved_items(ann.id, limit=10)
        assert not item.reminded
        await storage.save(ann.id, "general", msg_id, on=True, remind_at=now_ms() - 1,
                           limit=10)  # a new time clears the claim
        [dead] = await storage.claim_reminders(10, 0.0)
        [again] = await storage.claim_reminders(10, LEASE)
        assert dead.message.msg_id == again.message.msg_id == msg_id
        assert await storage.reminded(held) is False  # the old time's claim: changes nothing
        [item], _ = await storage.saved_items(ann.id, limit=10)
        assert not item.reminded
        assert await storage.reminded(again) is True
        [item], _ = await storage.saved_items(ann.id, limit=10)
        assert item.reminded
        assert await storage.claim_reminders(10, 0.0) == []
        assert await storage.next_reminder() is None
        start = await storage.open_session(ann.id, "jti", now_ms())
        assert start is not None and start.reminders_due == 1

