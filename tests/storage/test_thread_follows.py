"""Storage: followed threads (migration 0033): the follows a reply makes, the followers it
mentions, follow_thread, read_thread, the threads list and the hello's count, against the
real database; a hypothesis test of a user's state of a thread against a model."""

from __future__ import annotations

import uuid
from pathlib import Path

import trio
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chatd.errors import ChatError
from chatd.storage import Message, Storage, ThreadState, User, open_storage
from tests.helpers import fetchval_apart, make_config, rooms_locked
from tests.storage.plans import plan, scans
from tests.storage.test_changes import delete, edit, one, say
from tests.storage.test_postgres import TIMEOUT, appended, make_member
from tests.storage.test_threads import reply


async def _root(storage: Storage, user: User, room: str = "general") -> Message:
    return appended(await one(storage, say(user, room, "root"))).message


async def _state(storage: Storage, user: User, root: int) -> tuple[bool, int, int, int] | None:
    """(following, read_seq, unread, mentions) of ``root`` in ``user``'s list, or None."""
    found, more = await storage.threads(user.id, limit=100)
    assert not more
    for thread in found:
        if thread.root.msg_id == root:
            return thread.following, thread.read_seq, thread.unread, thread.mentions
    return None


async def test_two_first_replies_in_one_batch_both_follow(storage: Storage) -> None:
    """bob's and cid's first replies committed in one batch: both follow, with ann (the
    root's author); cid's reply mentions bob (as if stored after his), bob's does not
    mention cid; the follows changed come back on the batch's latest reply of the thread."""
    with trio.fail_after(TIMEOUT):
        ann, bob, cid = [await make_member(storage, n, "general") for n in ("ann", "bob", "cid")]
        root = await _root(storage, ann)
        first, second = await storage.append_messages([
            reply(bob, "general", root.msg_id, "one"), reply(cid, "general", root.msg_id, "two")])
        first, second = appended(first), appended(second)
        assert first.message.mentions == ("ann",)
        assert second.message.mentions == ("ann", "bob")
        assert first.followed == ()
        assert sorted(second.followed, key=lambda s: s.user) == [
            ThreadState(user="ann", room="general", msg_id=root.msg_id, following=True,
                        read_seq=0),
            ThreadState(user="bob", room="general", msg_id=root.msg_id, following=True,
                        read_seq=first.message.seq),
            ThreadState(user="cid", room="general", msg_id=root.msg_id, following=True,
                        read_seq=second.message.seq)]
        assert await _state(storage, ann, root.msg_id) == (True, 0, 2, 0)
        assert await _state(storage, bob, root.msg_id) == (True, first.message.seq, 1, 0)
        assert await _state(storage, cid, root.msg_id) == (True, second.message.seq, 0, 0)
        third = appended(await one(storage, reply(ann, "general", root.msg_id))).message
        assert third.mentions == ("bob", "cid")


async def test_two_first_replies_on_two_nodes_at_once_each_follow(
        tmp_path: Path, database_dsn: str) -> None:
    """Two nodes append bob's and cid's first replies while another transaction holds the
    room: both wait, then the later of the two (by seq) mentions the earlier replier: the
    followers were read under the room's lock, after the first reply's follows."""
    config = make_config(tmp_path, database_dsn)
    async with open_storage(config) as a, open_storage(config) as b:
        with trio.fail_after(TIMEOUT * 2):
            ann, bob, cid = [await make_member(a, n, "general") for n in ("ann", "bob", "cid")]
            root = await _root(a, ann)
            done: dict[str, Message] = {}

            async def send(storage: Storage, user: User) -> None:
                done[user.name] = appended(await one(
                    storage, reply(user, "general", root.msg_id, f"from {user.name}"))).message

            async with rooms_locked(database_dsn, "general") as unlock, \
                    trio.open_nursery() as nursery:
                nursery.start_soon(send, a, bob)
                nursery.start_soon(send, b, cid)
                await _both_waiting(database_dsn)
                unlock()
            earlier, later = sorted(done.values(), key=lambda m: m.seq)
            assert earlier.mentions == ("ann",)
            assert later.mentions == tuple(sorted(("ann", earlier.sender)))
            for user in (bob, cid):
                assert (await _state(a, user, root.msg_id) or (False,))[0] is True


async def _both_waiting(dsn: str) -> None:
    """Return once two statements wait for a lock on a room (polled: nothing signals it)."""
    query = """SELECT count(*) FROM pg_stat_activity
               WHERE wait_event_type = 'Lock' AND query ILIKE '%rooms%'"""
    while await fetchval_apart(dsn, query) < 2:  # noqa: ASYNC110
        await trio.sleep(0.01)


async def test_follow_and_read_refusals(storage: Storage) -> None:
    """follow_thread and read_thread: members only (forbidden, a public room too), no such
    room or message (not_found); a reply's msg_id means its root."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        eve = await storage.create_user("eve", "hash")
        root = await _root(storage, ann)
        answer = appended(await one(storage, reply(ann, "general", root.msg_id))).message
        for user, room, msg_id, code in ((eve, "general", root.msg_id, "forbidden"),
                                         (ann, "nowhere", root.msg_id, "not_found"),
                                         (ann, "general", 10**12, "not_found")):
            for call in (storage.follow_thread(user.id, room, msg_id, on=True),
                         storage.read_thread(user.id, room, msg_id, 1)):
                try:
                    await call
                except ChatError as exc:
                    assert exc.code == code, exc
                else:
                    raise AssertionError(f"{user.name} followed {room}/{msg_id}")
        state, changed = await storage.read_thread(ann.id, "general", answer.msg_id, 10**6)
        assert (state.msg_id, state.read_seq, changed) == (root.msg_id, answer.seq, False)


async def test_the_list_pages_and_counts(storage: Storage) -> None:
    """threads: latest reply first, paged by the (last_ts, root) cursor without a gap or a
    repeat; unread leaves out the user's own and deleted replies; mentions counts only the
    text's @names; threads of rooms the user left are not listed; the hello counts the
    threads with unread replies."""
    with trio.fail_after(TIMEOUT * 2):
        ann = await make_member(storage, "ann", "general", "other")
        bob = await make_member(storage, "bob", "general", "other")
        roots = [await _root(storage, ann) for _ in range(5)]
        for index, root in enumerate(roots):
            await one(storage, reply(bob, "general", root.msg_id, f"r{index}"))
        # the oldest root gets the latest replies: first in the list; ann's own reply reads
        # what came before it
        read_by_reply = appended(await one(storage, reply(ann, "general", roots[0].msg_id,
                                                          "mine"))).message.seq
        await one(storage, reply(bob, "general", roots[0].msg_id, "@ann look"))
        gone = appended(await one(storage, reply(bob, "general", roots[0].msg_id,
                                                 "@ann oops"))).message
        appended(await one(storage, delete(bob, "general", gone.msg_id)))
        elsewhere = await _root(storage, ann, "other")
        await one(storage, reply(bob, "other", elsewhere.msg_id))
        pages, before = [], None
        while True:
            found, more = await storage.threads(ann.id, before=before, limit=2)
            pages.append([t.root.msg_id for t in found])
            if not more:
                break
            before = (found[-1].last_ts, found[-1].root.msg_id)
        listed = [msg_id for page in pages for msg_id in page]
        assert listed == [elsewhere.msg_id, roots[0].msg_id,
                          *[r.msg_id for r in reversed(roots[1:])]]
        assert [len(p) for p in pages] == [2, 2, 2]
        assert await _state(storage, ann, roots[0].msg_id) == (True, read_by_reply, 1, 1)
        start = await storage.open_session(ann.id, uuid.uuid4().hex, 0)
        assert start is not None and start.threads_unread == 6
        assert await storage.leave_room(ann.id, "other")
        found, _ = await storage.threads(ann.id, limit=100)
        assert elsewhere.msg_id not in [t.root.msg_id for t in found] and len(found) == 5
        start = await storage.open_session(ann.id, uuid.uuid4().hex, 0)
        assert start is not None and start.threads_unread == 5
        for root in roots:
            await storage.read_thread(ann.id, "general", root.msg_id, 10**6)
        start = await storage.open_session(ann.id, uuid.uuid4().hex, 0)
        assert start is not None and start.threads_unread == 0
        # a reply since, deleted: nothing unread (the hello looks at the replies)
        late = appended(await one(storage, reply(bob, "general", roots[1].msg_id))).message
        appended(await one(storage, delete(bob, "general", late.msg_id)))
        start = await storage.open_session(ann.id, uuid.uuid4().hex, 0)
        assert start is not None and start.threads_unread == 0
        state = await _state(storage, ann, roots[1].msg_id)
        assert state is not None and state[2:] == (0, 0)
        await one(storage, reply(bob, "general", roots[1].msg_id))
        start = await storage.open_session(ann.id, uuid.uuid4().hex, 0)
        assert start is not None and start.threads_unread == 1


# -- a user's state of a thread, against a model ---------------------------------------------

_steps = st.lists(st.tuples(
    st.sampled_from(["reply", "reply", "name", "follow", "unfollow", "read", "read_back"]),
    st.integers(0, 2),  # who acts
    st.integers(0, 2),  # whom a reply names
), min_size=1, max_size=16)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=_steps)
@example(steps=[("reply", 0, 0), ("unfollow", 0, 0), ("name", 1, 0), ("reply", 2, 0)])
@example(steps=[("read", 1, 0), ("name", 0, 1), ("read_back", 1, 1), ("follow", 2, 0)])
async def test_follow_and_read_state_against_a_model(
        tmp_path: Path, database_dsn: str, steps: list[tuple[str, int, int]]) -> None:
    """Replies (some naming a member), follows, unfollows and reads by three members of a
    thread whose root a fourth wrote, in any order: each reply mentions exactly the model's
    followers (the sender aside) with the names its text has; each user's state (following,
    read_seq, unread, mentions) in the list, and (following, read_seq) in the thread's page,
    is the model's after every step."""
    room = f"r{uuid.uuid4().hex[:8]}"
    async with open_storage(make_config(tmp_path, database_dsn)) as storage:
        with trio.fail_after(TIMEOUT * 4):
            author = await make_member(storage, f"{room}a", room)
            people = [await make_member(storage, f"{room}{n}", room) for n in "bcd"]
            everyone = [author, *people]
            root = await _root(storage, author, room)
            # the model: per user, following (None: no decision), read_seq; the replies
            following: dict[str, bool | None] = {u.name: None for u in everyone}
            read: dict[str, int] = {u.name: 0 for u in everyone}
            replies: list[tuple[int, str, str | None]] = []  # (seq, sender, named)
            for kind, who, whom in steps:
                user = people[who]
                if kind in ("reply", "name"):
                    named = people[whom].name if kind == "name" else None
                    text = f"@{named} hi" if named else "hi"
                    if not replies and following[author.name] is None:
                        following[author.name] = True
                    expected = {n for n, f in following.items() if f and n != user.name}
                    message = appended(await one(storage, reply(
                        user, room, root.msg_id, text))).message
                    if named:  # (the text's own names, the sender's too)
                        expected.add(named)
                    assert set(message.mentions) == expected, (steps, message.mentions)
                    following[user.name] = True
                    read[user.name] = message.seq
                    if named and following[named] is None:
                        following[named] = True
                    replies.append((message.seq, user.name, named))
                elif kind in ("follow", "unfollow"):
                    state, changed = await storage.follow_thread(
                        user.id, room, root.msg_id, on=kind == "follow")
                    was = bool(following[user.name])
                    following[user.name] = kind == "follow"
                    assert (state.following, changed) == (kind == "follow",
                                                          was != (kind == "follow"))
                else:
                    seq = (replies[-1][0] if replies else 0) if kind == "read" else whom
                    state, changed = await storage.read_thread(user.id, room, root.msg_id, seq)
                    target = min(seq, replies[-1][0] if replies else root.seq)
                    assert changed == (target > read[user.name])
                    read[user.name] = max(read[user.name], target)
                    assert state.read_seq == read[user.name]
                for person in everyone:
                    name = person.name
                    unread = [(s, n) for s, sender, n in replies
                              if s > read[name] and sender != name]
                    want = None if not following[name] else (
                        True, read[name], len(unread), sum(n == name for _, n in unread))
                    if want is not None and not replies and name == author.name:
                        want = None  # (the author follows from the first reply on)
                    got = await _state(storage, person, root.msg_id)
                    assert got == want, (steps, name, got, want)
                    # the thread's page says the same, followed or not (as the thread_state
                    # event would)
                    page = await storage.thread(person.id, room, root.msg_id, limit=1)
                    assert (page.following, page.read_seq) == (bool(following[name]),
                                                               read[name]), (steps, name)


async def test_an_edited_reply_keeps_its_follower_mentions_apart(storage: Storage) -> None:
    """A reply mentions the root's author as a follower, which her list does not count as a
    mention; editing the reply keeps it so; an edit that names her counts, one that no
    longer does stops counting."""
    with trio.fail_after(TIMEOUT):
        ann, bob = [await make_member(storage, n, "general") for n in ("ann", "bob")]
        root = await _root(storage, ann)
        answer = appended(await one(storage, reply(bob, "general", root.msg_id))).message
        assert answer.mentions == ("ann",)
        assert await _state(storage, ann, root.msg_id) == (True, 0, 1, 0)
        for text, mentions in (("edited", 0), ("@ann now", 1), ("no names", 0)):
            appended(await one(storage, edit(bob, "general", answer.msg_id, text)))
            assert await _state(storage, ann, root.msg_id) == (True, 0, 1, mentions), text


async def test_the_migration_fills_the_threads_that_exist(storage: Storage,
                                                          database_dsn: str) -> None:
    """Migration 0033's backfill, run on threads made without follow rows: their roots'
    authors and repliers follow them, read up to the latest reply (nothing unread, the
    hello counts none), listed latest reply first; a member who took no part follows
    nothing."""
    with trio.fail_after(TIMEOUT):
        ann, bob, cid, dan = [await make_member(storage, n, "general")
                              for n in ("ann", "bob", "cid", "dan")]
        roots = [await _root(storage, ann) for _ in range(2)]
        for user, root in ((bob, roots[1]), (cid, roots[1]), (bob, roots[0])):
            await one(storage, reply(user, "general", root.msg_id))
        await one(storage, say(ann, "general", "no thread"))
        sql = _migration("0033_thread_follows.sql")
        backfill = sql[sql.index("-- The threads that exist"):]
        await fetchval_apart(database_dsn, "DELETE FROM thread_follows")
        await fetchval_apart(database_dsn, backfill)
        for user, followed in ((ann, [roots[0], roots[1]]), (bob, [roots[0], roots[1]]),
                               (cid, [roots[1]]), (dan, [])):
            found, _ = await storage.threads(user.id, limit=10)
            assert [t.root.msg_id for t in found] == [r.msg_id for r in followed], user.name
            assert all(t.unread == 0 and t.read_seq > 0 for t in found)
            start = await storage.open_session(user.id, uuid.uuid4().hex, 0)
            assert start is not None and start.threads_unread == 0


def _migration(name: str) -> str:
    return (Path(__file__).parents[2] / "chatd" / "storage" / "migrations" / name).read_text()


async def test_deleting_a_room_finds_its_follows_by_index(storage: Storage,
                                                          database_dsn: str) -> None:
    """A room's rows of thread_follows are found by their room (migration 0042), however many
    other rooms' follows there are: the delete a room's purge cascades to (the foreign key's
    own statement) walks thread_follows_room_idx, not the table."""
    with trio.fail_after(TIMEOUT * 3):
        ann = await make_member(storage, "ann", "general")
        bob = await make_member(storage, "bob", "general")
        root = await _root(storage, ann)
        await one(storage, reply(bob, "general", root.msg_id))
        await fetchval_apart(database_dsn, """
            WITH r AS (
                INSERT INTO rooms (name) SELECT 'other' || g FROM generate_series(1, 1000) g
                RETURNING id
            ), m AS (
                INSERT INTO messages (room_id, seq, sender_id, nonce, text)
                SELECT r.id, 1, $1, 'crowd-root-' || r.id, 'root' FROM r RETURNING id, room_id
            )
            INSERT INTO thread_follows (user_id, root_id, room_id, following, last_at)
            SELECT u.id, m.id, m.room_id, true, now() FROM m CROSS JOIN users u""", ann.id)
        room_id = int(await fetchval_apart(
            database_dsn, "SELECT id FROM rooms WHERE name = 'general'"))
        found = scans(await plan(database_dsn,
                                 "DELETE FROM ONLY thread_follows WHERE room_id = $1", room_id))
        [walk] = [s for s in found if s["Relation Name"] == "thread_follows"
                  and s["Node Type"] != "ModifyTable"]
        assert walk["Node Type"] != "Seq Scan", walk
        assert walk.get("Index Name") == "thread_follows_room_idx", walk
