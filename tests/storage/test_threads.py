"""Contract tests of threads (migration 0029), against a real (embedded) PostgreSQL.

The rules (docs/protocol.md, "Threads"): a reply names its thread's root (a reply named is
its root), of the same room, not deleted; it is a message of the room's log with its own seq;
the root's summary (count, last ts, the 5 latest distinct repliers, newest first) and its rev
(the latest reply's seq) are written with the reply, in any batch; the reply mentions the
thread's followers (the root's author and its repliers, members still, the sender aside), so
their unread mentions and pushes count it; ``thread`` reads the root and a page of replies.
A root read after any entries, with the entries after it applied by a client's rules, is the
root read last (the resume's exactness).
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatd.client.messages import Messages
from chatd.errors import ChatError
from chatd.protocol.markup import mention_candidates
from chatd.storage import NewEntry, NewMessage, Storage, User, open_storage
from chatd.storage.postgres import _SQL_APPEND_RESOLVE_THREAD, _SQL_THREAD
from chatd.views import message_event
from tests.helpers import make_config
from tests.storage.plans import plan, scans
from tests.storage.test_changes import current, delete, edit, one, react, say
from tests.storage.test_postgres import TIMEOUT, appended, make_member, refused
from tests.storage.test_push import subscription

_nonces = itertools.count()


def reply(user: User, room: str, thread: int, text: str = "reply", *,
          broadcast: bool = False, group: tuple[int, ...] = ()) -> NewMessage:
    return NewMessage(user_id=user.id, room=room, text=text, nonce=f"t{next(_nonces)}",
                      mentions=tuple(mention_candidates(text)), thread=thread,
                      broadcast=broadcast, group=group)


async def mentions_of(storage: Storage, user: User, room: str = "general") -> int:
    rooms = await storage.rooms_overview(user.id, query="", after="", limit=50, joined=True)
    [found] = [r for r in rooms if r.name == room]
    return found.mentions


async def test_replies_in_one_batch_and_apart_keep_the_roots_summary(storage: Storage) -> None:
    """Replies to two roots, several in one batch (with a plain message, a named mention and
    a group mention among them) and one apart: each is a message with the next seq and its
    root's msg_id; each root reads back with its count, its latest reply's ts, its latest
    distinct repliers newest first (at most 5) and its rev at its latest reply's seq."""
    with trio.fail_after(TIMEOUT):
        users = [await make_member(storage, name, "general")
                 for name in ("ann", "bob", "cid", "dan", "eve", "fay", "gus")]
        ann, bob, cid, dan, eve, fay, gus = users
        first = appended(await one(storage, say(ann, "general", "first root"))).message
        second = appended(await one(storage, say(bob, "general", "second root"))).message
        results = await storage.append_messages([
            reply(bob, "general", first.msg_id),
            say(cid, "general", "plain, no thread"),
            reply(cid, "general", second.msg_id, "@ann look", broadcast=True),
            reply(dan, "general", first.msg_id, "@room", group=(ann.id, bob.id, eve.id)),
            reply(bob, "general", first.msg_id, "again"),
        ])
        stored = [appended(r).message for r in results]
        assert [m.seq for m in stored] == list(range(second.seq + 1, second.seq + 6))
        assert [m.thread for m in stored] == [first.msg_id, None, second.msg_id,
                                               first.msg_id, first.msg_id]
        assert [m.broadcast for m in stored] == [False, False, True, False, False]
        root = await current(storage, ann, "general", first.msg_id)
        assert (root.reply_count, root.reply_last_ts, root.reply_users, root.rev) == (
            3, stored[4].ts, ("bob", "dan"), stored[4].seq)
        other = await current(storage, ann, "general", second.msg_id)
        assert (other.reply_count, other.reply_users, other.rev) == (1, ("cid",), stored[2].seq)
        for user in (eve, fay, gus, cid):  # 5 distinct at most, newest first
            last = appended(await one(storage, reply(user, "general", first.msg_id))).message
        root = await current(storage, ann, "general", first.msg_id)
        assert (root.reply_count, root.reply_users, root.rev) == (
            7, ("cid", "gus", "fay", "eve", "bob"), last.seq)
        page = await storage.history(ann.id, "general", limit=50)
        replies = [m for m in page.messages if m.thread == first.msg_id]
        assert len(replies) == 7 and all(m.reply_count == 0 for m in replies)


async def test_a_reply_named_by_a_reply_goes_to_its_root_and_bad_roots_are_refused(
        storage: Storage) -> None:
    """A reply naming a reply is filed under that reply's root; a message of another room
    or none at all is not_found; a deleted root takes no new reply (not_found) and keeps
    its summary and its replies; a reply of a batch refused does not fail the others."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general", "other")
        bob = await make_member(storage, "bob", "general")
        root = appended(await one(storage, say(ann, "general", "root"))).message
        first = appended(await one(storage, reply(bob, "general", root.msg_id))).message
        nested = appended(await one(storage, reply(ann, "general", first.msg_id))).message
        assert nested.thread == root.msg_id
        elsewhere = appended(await one(storage, say(ann, "other", "elsewhere"))).message
        refusals, fine = await storage.append_messages([
            reply(bob, "general", elsewhere.msg_id), reply(bob, "general", root.msg_id)])
        assert refused(refusals) == "not_found"
        assert appended(fine).message.thread == root.msg_id
        assert refused(await one(storage, reply(bob, "general", 10**12))) == "not_found"
        appended(await one(storage, delete(ann, "general", root.msg_id)))
        assert refused(await one(storage, reply(bob, "general", first.msg_id))) == "not_found"
        page = await storage.thread(bob.id, "general", first.msg_id, limit=10)
        assert page.root.deleted and page.root.reply_count == 3
        assert [m.msg_id for m in page.messages] == [first.msg_id, nested.msg_id,
                                                     appended(fine).message.msg_id]


async def test_followers_are_mentioned_by_each_new_reply(storage: Storage) -> None:
    """The root's author and each replier follow the thread: a new reply's mentions name
    them (the sender aside, and only members still), count in their unread mentions (an
    edit of the reply keeps them), and make them push targets as a mention, unless they
    muted the room; a member who never took part is not mentioned."""
    with trio.fail_after(TIMEOUT):
        ann, bob, cid, dan = [await make_member(storage, name, "general")
                              for name in ("ann", "bob", "cid", "dan")]
        root = appended(await one(storage, say(ann, "general", "root"))).message
        first = appended(await one(storage, reply(bob, "general", root.msg_id))).message
        assert first.mentions == ("ann",)
        second = appended(await one(storage, reply(cid, "general", root.msg_id,
                                                   "@dan too"))).message
        assert second.mentions == ("ann", "bob", "dan")
        # dan, named in a reply, follows the thread too (migration 0033)
        third = appended(await one(storage, reply(ann, "general", root.msg_id))).message
        assert third.mentions == ("bob", "cid", "dan")
        assert [await mentions_of(storage, u) for u in (ann, bob, cid, dan)] == [2, 2, 1, 2]
        # An edit of a reply keeps its followers mentioned (the names its text no longer
        # has go): the counts stay as they were but the name taken out.
        edited = appended(await one(storage, edit(cid, "general", second.msg_id,
                                                  "no names now"))).message
        assert edited.mentions == ("ann", "bob")
        assert [await mentions_of(storage, u) for u in (ann, bob, cid, dan)] == [2, 2, 1, 1]
        again = appended(await one(storage, edit(cid, "general", second.msg_id,
                                                 "@dan back"))).message
        assert again.mentions == ("ann", "bob", "dan")
        assert await storage.leave_room(cid.id, "general")
        await storage.set_notify(bob.id, "general", "none")
        for user in (ann, bob, cid, dan):
            await storage.add_push_subscription(user.id, subscription(user.name), keep=3)
        fourth = appended(await one(storage, reply(dan, "general", root.msg_id))).message
        assert fourth.mentions == ("ann", "bob")
        targets = await storage.push_targets([("general", fourth.seq)])
        assert {(t.user, t.reason) for t in targets} == {("ann", "mention")}


async def test_a_thread_pages_its_replies_and_reads_only_them(storage: Storage,
                                                              database_dsn: str) -> None:
    """``thread`` gives the root and the newest ``limit`` replies below ``before``, oldest
    first, with ``more``; by any message of the thread; members only; and its read walks
    messages_thread_idx for its page, however long the room's log."""
    with trio.fail_after(TIMEOUT * 2):
        ann = await make_member(storage, "ann", "general")
        bob = await make_member(storage, "bob", "general")
        eve = await storage.create_user("eve", "hash")
        root = appended(await one(storage, say(ann, "general", "root"))).message
        replies = []
        for index in range(12):
            await storage.append_messages([say(ann, "general", f"noise {index}")] * 1)
            replies.append(appended(await one(storage, reply(bob, "general", root.msg_id,
                                                             f"r{index}"))).message)
        page = await storage.thread(ann.id, "general", replies[3].msg_id, limit=5)
        assert page.root.msg_id == root.msg_id and page.more
        assert [m.msg_id for m in page.messages] == [m.msg_id for m in replies[7:]]
        older = await storage.thread(ann.id, "general", root.msg_id,
                                     before=page.messages[0].seq, limit=10)
        assert [m.msg_id for m in older.messages] == [m.msg_id for m in replies[:7]]
        assert not older.more and older.last_seq == page.last_seq
        for user, room, msg_id, code in ((eve, "general", root.msg_id, "forbidden"),
                                         (ann, "nowhere", root.msg_id, "not_found"),
                                         (ann, "general", 10**12, "not_found")):
            try:
                await storage.thread(user.id, room, msg_id, limit=5)
            except ChatError as exc:
                assert exc.code == code, exc
            else:
                raise AssertionError(f"{user.name} read {room}/{msg_id}")
        await _grow(database_dsn, "general", root.msg_id, plain=3000, replies=300)
        found = scans(await plan(database_dsn, _SQL_THREAD, "general", ann.id, root.msg_id,
                                 2**63 - 1, 6))
        [walk] = [s for s in found if s.get("Index Name") == "messages_thread_idx"]
        assert walk["Actual Rows"] == 6, walk
        assert not [s for s in found if s.get("Relation Name") == "messages"
                    and s["Node Type"] == "Seq Scan"], found
        # A reply's followers, found when it is sent: the thread's rows of thread_follows
        # (migration 0033) by its root, however many others there are, and no reply read.
        await _follow_all(database_dsn, ann.id, "general")
        resolve = await plan(database_dsn, _SQL_APPEND_RESOLVE_THREAD, [bob.id], ["general"],
                             ["plan"], [None], [""], [""], [root.msg_id])
        assert not [s for s in _nodes(resolve) if s.get("Index Name") == "messages_thread_idx"]
        follows = [s for s in _nodes(resolve) if s.get("Relation Name") == "thread_follows"]
        assert follows and all(s["Node Type"] != "Seq Scan" and s["Actual Rows"] <= 1
                               for s in follows), follows
        assert not [s for s in scans(resolve) if s.get("Relation Name") == "messages"
                    and s["Node Type"] == "Seq Scan"], resolve


def _nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node of a plan."""
    return [node, *(found for child in node.get("Plans", []) for found in _nodes(child))]


async def _follow_all(dsn: str, user_id: int, room: str) -> None:
    """Make ``user_id`` follow every message of ``room`` (many rows of thread_follows)."""

    async def follow() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("""
                INSERT INTO thread_follows (user_id, root_id, room_id, following, last_at)
                SELECT $1, m.id, m.room_id, true, m.created_at
                FROM messages m JOIN rooms r ON r.id = m.room_id
                WHERE r.name = $2 AND m.thread_root IS NULL
                ON CONFLICT DO NOTHING""", user_id, room)
            await conn.execute("ANALYZE thread_follows")
        finally:
            await conn.close()

    await trio.to_thread.run_sync(asyncio.run, follow())


async def _grow(dsn: str, room: str, root: int, *, plain: int, replies: int) -> None:
    """Add ``replies`` replies to ``root`` then ``plain`` messages at the end of ``room``'s
    log, in SQL (a long log, for the plans)."""

    async def grow() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("""
                WITH r AS (
                    UPDATE rooms SET last_seq = last_seq + $2 + $3 WHERE name = $1
                    RETURNING id, last_seq - $2 - $3 AS base
                )
                INSERT INTO messages (room_id, seq, sender_id, nonce, text, thread_root)
                SELECT r.id, r.base + g, m.sender_id, 'grown' || g, 'grown',
                       CASE WHEN g <= $3 THEN m.id END
                FROM r, messages m, generate_series(1, $2 + $3) AS g
                WHERE m.id = $4""", room, plain, replies, root)
        finally:
            await conn.close()

    await trio.to_thread.run_sync(asyncio.run, grow())


# -- the resume's exactness, over any interleaving ------------------------------------------

_steps = st.lists(st.tuples(
    st.sampled_from(["reply", "reply", "reply", "root", "edit", "react", "plain"]),
    st.integers(0, 3),  # who
    st.integers(0, 3),  # which root (of those posted so far)
    st.booleans(),  # batched with the next step
), min_size=1, max_size=14)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=_steps, cut=st.integers(0, 14), overlap=st.integers(0, 4))
async def test_a_root_read_then_its_entries_applied_is_the_root_read_last(
        tmp_path: Path, database_dsn: str, steps: list[tuple[str, int, int, bool]],
        cut: int, overlap: int) -> None:
    """Roots, replies (in batches or alone), edits, reactions and plain messages in any
    interleaving: a client that read the room at any point (its roots as they were then),
    and on resume applies the entries after what it read (by chatd.client.messages' rules,
    some it had already applied again), holds every root exactly as a fresh read at the end
    shows it: the same count, last ts, repliers and rev; and each root's count is its
    replies in the log."""
    room = f"r{uuid.uuid4().hex[:8]}"
    async with open_storage(make_config(tmp_path, database_dsn)) as storage:
        with trio.fail_after(TIMEOUT * 2):
            people = [await _member(storage, f"{room}{name}", room)
                      for name in ("a", "b", "c", "d")]
            roots = [appended(await one(storage, say(people[0], room, "first"))).message]
            held = Messages()
            seen = 0
            batch: list[NewEntry] = []
            for index, (kind, who, which, batched) in enumerate(steps):
                if index == cut:
                    seen = await _read(storage, people[0], room, held)
                user, target = people[who], roots[which % len(roots)]
                author = next(p for p in people if p.name == target.sender)
                if kind == "reply":
                    batch.append(reply(user, room, target.msg_id, f"@{people[which].name}"))
                elif kind == "root":
                    batch.append(say(user, room, "a new root"))
                elif kind == "edit":
                    batch.append(edit(author, room, target.msg_id, f"edited {index}"))
                elif kind == "react":
                    batch.append(react(user, room, target.msg_id, "👍", on=bool(which % 2)))
                else:
                    batch.append(say(user, room, "plain"))
                if batched and index + 1 < len(steps):
                    continue
                for result in await storage.append_messages(batch):
                    message = appended(result).message
                    if message.kind == "message" and message.thread is None:
                        roots.append(message)
                batch = []
            if cut >= len(steps):
                seen = await _read(storage, people[0], room, held)
            resumed = await storage.history(people[0].id, room, after=max(0, seen - overlap),
                                            limit=500)
            for entry in resumed.messages:
                held.apply(message_event(entry))
            fresh = Messages()
            log = await _read(storage, people[0], room, fresh)
            assert log == resumed.last_seq
            everything = (await storage.history(people[0].id, room, limit=500)).messages
            for root in roots:
                assert held.get(room, root.msg_id) == fresh.get(room, root.msg_id)
                read = fresh.get(room, root.msg_id)
                assert read is not None
                count = sum(1 for m in everything
                            if m.kind == "message" and m.thread == root.msg_id)
                assert (read.replies or {}).get("count", 0) == count


async def _read(storage: Storage, user: User, room: str, into: Messages) -> int:
    """Read ``room``'s whole log as it is now into ``into`` (a client joining); its
    last seq."""
    page = await storage.history(user.id, room, limit=500)
    for entry in page.messages:
        into.apply(message_event(entry))
    return page.last_seq


async def _member(storage: Storage, name: str, room: str) -> User:
    user = await storage.create_user(name, "hash")
    await storage.join_room(user.id, room)
    return user

