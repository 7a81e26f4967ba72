"""``Storage.resume_pages``: a hello's resume of many rooms read at once, against a real
(embedded) PostgreSQL. Each room's page must be what ``history(after=...)`` gives, entry for
entry and byte for byte once encoded as the ``message`` events a resume sends (edits,
deletions, reactions, replies and their quotes, mentions, files, moderation entries), with the
same refusals; a room past the limit is a page with ``more`` and nothing read; the whole read
is one statement whatever the number of rooms, each room a walk of its own indexes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatd.errors import ChatError
from chatd.protocol.codec import frame
from chatd.storage import Appended, NewChange, NewEntry, Page, Storage, User, open_storage
from chatd.storage.postgres import _SQL_RESUME
from chatd.views import message_event
from tests.helpers import make_config
from tests.storage.plans import plan, scans
from tests.storage.test_changes import _entry as model_entry
from tests.storage.test_changes import _op, say
from tests.storage.test_files import add, with_files
from tests.storage.test_postgres import TIMEOUT, appended, make_member


def encoded(page: Page) -> list[bytes]:
    return [frame(message_event(m)) for m in page.messages]


async def expected(storage: Storage, user: User, seen: dict[str, int], limit: int
                   ) -> dict[str, Page | ChatError]:
    """What a resume read room by room (history, as hello did) gives."""
    pages: dict[str, Page | ChatError] = {}
    for room, after in seen.items():
        try:
            page = await storage.history(user.id, room, after=after, limit=limit)
        except ChatError as exc:
            pages[room] = exc
            continue
        # A room past the limit: its gap needs no entry (resume_pages reads none).
        pages[room] = Page(messages=[], more=True, last_seq=page.last_seq) if page.more \
            else page
    return pages


def assert_same(got: dict[str, Page | ChatError], want: dict[str, Page | ChatError]) -> None:
    assert list(got) == list(want)
    for room, page in want.items():
        mine = got[room]
        if isinstance(page, ChatError):
            assert isinstance(mine, ChatError), (room, mine)
            assert (mine.code, str(mine)) == (page.code, str(page))
            continue
        assert isinstance(mine, Page), (room, mine)
        assert (mine.more, mine.last_seq) == (page.more, page.last_seq), room
        assert mine.messages == page.messages, room
        assert encoded(mine) == encoded(page), room


_rooms_ops = st.lists(st.lists(_op, min_size=0, max_size=8), min_size=1, max_size=4)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rooms_ops=_rooms_ops, data=st.data(), limit=st.integers(0, 6))
async def test_a_resume_reads_what_history_reads(
        tmp_path: Path, database_dsn: str, rooms_ops: list[list[tuple[object, ...]]],
        data: st.DataObject, limit: int) -> None:
    """Any logs of edits, deletions, reactions and replies in a few rooms, any seqs seen (0,
    inside, at the end, past it) and any limit: each room's page is the history page, byte
    for byte once encoded, in the order asked; a room past the limit is ``more`` and empty."""
    tag = uuid.uuid4().hex[:8]
    rooms = [f"r{i}-{tag}" for i in range(len(rooms_ops))]
    async with open_storage(make_config(tmp_path, database_dsn)) as storage:
        with trio.fail_after(TIMEOUT * 3):
            users = [await make_member(storage, f"u{i}-{tag}", *rooms) for i in range(3)]
            for room, ops in zip(rooms, rooms_ops, strict=True):
                ids: list[int] = []
                # One at a time, so that later ops can name the messages of earlier ones.
                for op in ops:
                    entry = model_entry(op, users, room, ids)
                    if entry is None:
                        continue
                    [result] = await storage.append_messages([entry])
                    if isinstance(result, Appended) and result.message.kind == "message" \
                            and not result.duplicate:
                        ids.append(result.message.msg_id)
            heads = {room: (await storage.history(users[0].id, room, limit=0)).last_seq
                     for room in rooms}
            order = data.draw(st.permutations(rooms))
            seen = {room: data.draw(st.integers(0, heads[room] + 2), label=room)
                    for room in order}
            got = await storage.resume_pages(users[0].id, seen, limit=limit)
            assert_same(got, await expected(storage, users[0], seen, limit))


async def test_files_moderation_and_refusals_as_history(storage: Storage) -> None:
    """Entries with files, a ban and a kick (targets, expiry), a topic; a room that does not
    exist, a private room of others, a public room the reader is banned from: the same pages
    and the same refusals as history, in the order asked."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general", "random")
        bob = await make_member(storage, "bob", "general", "random")
        await storage.create_room(bob.id, "secret", private=True, topic="")
        await storage.create_room(bob.id, "banned-here", private=False, topic="")
        await storage.join_room(ann.id, "banned-here")
        one = await add(storage, ann, "general")
        two = await add(storage, ann, "general", name="b.png", sha256="cd" * 32)
        entries: list[NewEntry] = [
            say(ann, "general", "hello @bob"),
            with_files(ann, "general", "f1", one, two, text="two files"),
            NewChange(user_id=ann.id, room="general", msg_id=0, kind="topic", text="new"),
            say(bob, "random", "hi"),
            NewChange(user_id=bob.id, room="secret", msg_id=0, kind="topic", text="x"),
        ]
        for entry in entries:
            appended((await storage.append_messages([entry]))[0])
        first = (await storage.history(ann.id, "general", limit=10)).messages[0]
        more: list[NewEntry] = [
            say(bob, "general", "re", reply_to=first.msg_id),
            NewChange(user_id=ann.id, room="general", msg_id=first.msg_id, kind="edited",
                      text="hello again"),
            NewChange(user_id=bob.id, room="general", msg_id=first.msg_id, kind="reaction",
                      emoji="👍")]
        for entry in more:
            appended((await storage.append_messages([entry]))[0])
        carl = await make_member(storage, "carl", "general")
        moderation: list[NewEntry] = [
            NewChange(user_id=ann.id, room="general", msg_id=0, kind="banned", target="carl",
                      text="spam", expires_at=2**42),
            NewChange(user_id=ann.id, room="general", msg_id=0, kind="unbanned", target="carl"),
            NewChange(user_id=bob.id, room="banned-here", msg_id=0, kind="banned",
                      target="ann", text="")]
        for entry in moderation:
            appended((await storage.append_messages([entry]))[0])
        del carl
        seen = {"random": 0, "nowhere": 0, "general": 0, "secret": 0, "banned-here": 0}
        for limit in (0, 3, 100):
            got = await storage.resume_pages(ann.id, seen, limit=limit)
            want = await expected(storage, ann, seen, limit)
            assert_same(got, want)
        got = await storage.resume_pages(ann.id, seen, limit=100)
        assert [type(got[r]).__name__ for r in seen] == [
            "Page", "ChatError", "Page", "ChatError", "ChatError"]
        general = got["general"]
        assert isinstance(general, Page)
        assert [m.kind for m in general.messages] == [
            "message", "message", "topic", "message", "edited", "reaction", "banned",
            "unbanned"]
        assert len(general.messages[1].files) == 2
        assert general.messages[3].quote is not None
        assert await storage.resume_pages(ann.id, {}, limit=10) == {}
        with pytest.raises(ValueError):
            await storage.resume_pages(ann.id, seen, limit=-1)


async def test_a_room_past_the_limit_or_unreadable_reads_no_entry(
        storage: Storage, database_dsn: str) -> None:
    """50 rooms in one statement: only the rooms within the limit walk their log (the page
    of a room past it, or of a room the user may not read, is not run at all: a condition
    in the join would be checked after reading it), and whether the user may read a room is
    found once per room."""
    with trio.fail_after(TIMEOUT * 3):
        rooms = [f"room-{i}" for i in range(50)]
        ann = await make_member(storage, "ann", *rooms)
        bob = await make_member(storage, "bob")
        await storage.create_room(bob.id, "secret", private=True, topic="")
        appended((await storage.append_messages([say(bob, "secret", "x")]))[0])
        for i, room in enumerate(rooms):
            batch: Sequence[NewEntry] = [say(ann, room, f"m{k}") for k in range(1 + i % 4)]
            for result in await storage.append_messages(list(batch)):
                appended(result)
        asked = [*rooms, "secret"]
        executed = await plan(database_dsn, _SQL_RESUME, ann.id, asked, [0] * len(asked), 3, 2)
        walks = [node for node in scans(executed)
                 if node["Relation Name"] == "messages" and node.get("Alias") == "m"]
        within = sum(1 for i in range(len(rooms)) if 1 + i % 4 <= 2)
        assert [node["Actual Loops"] for node in walks] == [within], walks
        lookups = [node for node in scans(executed) if node["Relation Name"] == "memberships"]
        assert lookups and all(node["Actual Loops"] <= len(asked) for node in lookups), lookups
        got = await storage.resume_pages(ann.id, dict.fromkeys(asked, 0), limit=2)
        for i, room in enumerate(rooms):
            page = got[room]
            assert isinstance(page, Page)
            assert page.more == (1 + i % 4 > 2)
            assert len(page.messages) == (0 if page.more else 1 + i % 4)
        assert isinstance(got["secret"], ChatError) and got["secret"].code == "forbidden"
