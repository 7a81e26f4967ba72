"""Contract tests of changes to messages (protocol v2): edits, deletions, reactions, replies and
mentions, each an entry of the room's log, against a real (embedded) PostgreSQL.

The rules (chatd.storage.base, ``Storage.append_messages``): a change takes the next seq of the
room, from the counter messages use; it is checked against the message as it is when the room
is locked; a change that changes nothing stores nothing; a message read back shows itself as
it is now, and a deleted one has no words left anywhere in the database.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Sequence
from pathlib import Path

import asyncpg
import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatd.errors import ChatError
from chatd.protocol.markup import mention_candidates
from chatd.storage import (
    MAX_REACTIONS,
    Appended,
    Message,
    NewChange,
    NewEntry,
    NewMessage,
    Page,
    Storage,
    User,
    open_storage,
)
from chatd.storage.postgres import _SQL_APPEND_RESOLVE
from tests.helpers import make_config
from tests.storage.plans import page_plan, plan, scans
from tests.storage.test_postgres import TIMEOUT, appended, make_member, refused

_nonces = itertools.count()


def say(user: User, room: str, text: str, *, reply_to: int | None = None) -> NewMessage:
    return NewMessage(user_id=user.id, room=room, text=text, nonce=f"n{next(_nonces)}",
                      reply_to=reply_to, mentions=tuple(mention_candidates(text)))


def edit(user: User, room: str, msg_id: int, text: str) -> NewChange:
    return NewChange(user_id=user.id, room=room, msg_id=msg_id, kind="edited", text=text,
                     mentions=tuple(mention_candidates(text)))


def delete(user: User, room: str, msg_id: int) -> NewChange:
    return NewChange(user_id=user.id, room=room, msg_id=msg_id, kind="deleted")


def react(user: User, room: str, msg_id: int, emoji: str, on: bool = True) -> NewChange:
    return NewChange(user_id=user.id, room=room, msg_id=msg_id, kind="reaction", emoji=emoji,
                     on=on)


async def one(storage: Storage, entry: NewEntry) -> Appended | ChatError:
    [result] = await storage.append_messages([entry])
    return result


async def current(storage: Storage, user: User, room: str, msg_id: int) -> Message:
    """The message as history shows it now."""
    page = await storage.history(user.id, room, limit=500)
    [message] = [m for m in page.messages if m.kind == "message" and m.msg_id == msg_id]
    return message


async def test_an_edit_is_an_entry_with_the_next_seq(storage: Storage) -> None:
    """An edit by the author takes the room's next seq; the message reads as edited, with its
    rev; history carries the entry after the message; an edit to the same text stores
    nothing and names the entry that made it so."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        posted = appended(await one(storage, say(ann, "general", "helo"))).message
        edited = appended(await one(storage, edit(ann, "general", posted.msg_id, "hello")))
        assert not edited.duplicate
        assert (edited.message.kind, edited.message.seq) == ("edited", posted.seq + 1)
        assert edited.message.msg_id == posted.msg_id and edited.message.text == "hello"

        again = appended(await one(storage, edit(ann, "general", posted.msg_id, "hello")))
        assert again.duplicate and again.message.seq == edited.message.seq
        page = await storage.history(ann.id, "general", limit=10)
        assert page.last_seq == edited.message.seq  # the repeat took no seq
        assert [(m.kind, m.seq) for m in page.messages] == [
            ("message", posted.seq), ("edited", edited.message.seq)]
        now = page.messages[0]
        assert now.text == "hello" and now.rev == edited.message.seq
        assert now.edited_ts is not None and now.edited_ts >= posted.ts


async def test_only_the_author_edits(storage: Storage) -> None:
    """Another member, even the room's owner, cannot edit someone's message; nothing is
    stored."""
    with trio.fail_after(TIMEOUT):
        owner = await make_member(storage, "owner", "general")
        bob = await make_member(storage, "bob", "general")
        posted = appended(await one(storage, say(bob, "general", "mine"))).message
        assert refused(await one(storage, edit(owner, "general", posted.msg_id, "x"))) \
            == "forbidden"
        assert (await current(storage, bob, "general", posted.msg_id)).text == "mine"
        assert (await storage.history(bob.id, "general", limit=5)).last_seq == posted.seq


async def test_changes_to_what_is_not_there(storage: Storage) -> None:
    """A change to a message of another room, an unknown message or room, or by a
    non-member is refused and stores nothing."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general", "random")
        eve = await make_member(storage, "eve", "other")
        posted = appended(await one(storage, say(ann, "general", "hi"))).message
        assert refused(await one(storage, edit(ann, "random", posted.msg_id, "x"))) \
            == "not_found"
        assert refused(await one(storage, react(ann, "general", 10**9, "👍"))) == "not_found"
        assert refused(await one(storage, delete(ann, "nowhere", posted.msg_id))) \
            == "not_found"
        assert refused(await one(storage, react(eve, "general", posted.msg_id, "👍"))) \
            == "forbidden"
        assert (await storage.history(ann.id, "general", limit=5)).last_seq == posted.seq


async def test_delete_leaves_no_words(storage: Storage, database_dsn: str) -> None:
    """The author or the room's owner deletes; anyone else is refused. The message becomes a
    tombstone, and its words (its text, its edits' text, its mentions) are gone from every
    table; its reactions too. A second delete stores nothing; an edit or a reaction to a
    deleted message is not_found."""
    with trio.fail_after(TIMEOUT):
        owner = await make_member(storage, "owner", "general")
        bob = await make_member(storage, "bob", "general")
        carol = await make_member(storage, "carol", "general")
        posted = appended(await one(storage, say(bob, "general", "secret plan @carol"))).message
        appended(await one(storage, edit(bob, "general", posted.msg_id, "secreter @carol")))
        appended(await one(storage, react(carol, "general", posted.msg_id, "👍")))
        assert refused(await one(storage, delete(carol, "general", posted.msg_id))) \
            == "forbidden"
        assert (await storage.user_rooms(carol.id))[0].mentions == 1

        deleted = appended(await one(storage, delete(owner, "general", posted.msg_id)))
        assert deleted.message.kind == "deleted" and deleted.message.sender == "owner"
        assert appended(await one(storage, delete(bob, "general", posted.msg_id))).duplicate
        assert refused(await one(storage, edit(bob, "general", posted.msg_id, "x"))) \
            == "not_found"
        assert refused(await one(storage, react(carol, "general", posted.msg_id, "🎉"))) \
            == "not_found"

        page = await storage.history(bob.id, "general", limit=10)
        tomb = page.messages[0]
        assert tomb.deleted and tomb.text == "" and tomb.reactions == () and tomb.mentions == ()
        assert [m.kind for m in page.messages] == ["message", "edited", "reaction", "deleted"]
        assert page.messages[1].text == ""  # the edit's words went with the message
        assert (await storage.user_rooms(carol.id))[0].mentions == 0

        found = await trio.to_thread.run_sync(asyncio.run, _words_and_reactions(database_dsn))
        assert found == (0, 0)


async def _words_and_reactions(dsn: str) -> tuple[int, int]:
    """How many rows anywhere hold "secret" or "carol" in a text, and how many reactions."""
    conn = await asyncpg.connect(dsn)
    try:
        found = await conn.fetchval(
            "SELECT count(*) FROM (SELECT text FROM messages UNION ALL "
            "SELECT text FROM changes UNION ALL SELECT array_to_string(mentions, ' ') "
            "FROM messages UNION ALL SELECT array_to_string(mentions, ' ') FROM changes) t "
            "WHERE t.text LIKE '%secret%' OR t.text LIKE '%carol%'")
        reactions = await conn.fetchval("SELECT count(*) FROM reactions")
        return found, reactions
    finally:
        await conn.close()


async def test_reactions(storage: Storage) -> None:
    """Any member puts and takes back emoji; putting one twice or taking back one not there
    stores nothing; message objects list each emoji once, in the order first put, with its
    users in the order they reacted; a message carries at most MAX_REACTIONS emoji."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        bob = await make_member(storage, "bob", "general")
        posted = appended(await one(storage, say(ann, "general", "lunch?"))).message
        mid = posted.msg_id
        results = await storage.append_messages([
            react(bob, "general", mid, "👍"), react(ann, "general", mid, "🎉"),
            react(ann, "general", mid, "👍"), react(bob, "general", mid, "👍"),
        ])
        assert [appended(r).duplicate for r in results] == [False, False, False, True]
        assert [appended(r).message.seq for r in results[:3]] == [
            posted.seq + 1, posted.seq + 2, posted.seq + 3]
        now = await current(storage, ann, "general", mid)
        assert now.reactions == (("👍", ("bob", "ann")), ("🎉", ("ann",)))

        assert not appended(await one(storage, react(bob, "general", mid, "👍", on=False))) \
            .duplicate
        assert appended(await one(storage, react(bob, "general", mid, "👍", on=False))) \
            .duplicate
        assert appended(await one(storage, react(ann, "general", mid, "🎉", on=False)))
        now = await current(storage, ann, "general", mid)
        assert now.reactions == (("👍", ("ann",)),)

        emoji = ["😀", "😁", "😂", "🤣", "😃", "😄", "😅", "😆", "😉", "😊", "😋", "😎",
                 "😍", "😘", "🥰", "😗", "😙", "😚", "🙂", "🤗", "🤩"]
        results = await storage.append_messages([react(bob, "general", mid, e) for e in emoji])
        stored = [r for r in results if isinstance(r, Appended)]
        assert len(stored) == MAX_REACTIONS - 1  # 👍 is one of the twenty
        assert all(refused(r) == "conflict" for r in results[len(stored):])
        # An emoji already there can still be put by someone else.
        assert not appended(await one(storage, react(bob, "general", mid, "👍"))).duplicate


async def test_replies_quote_the_message_as_it_is(storage: Storage) -> None:
    """A reply names a message of its room and quotes it (as committed when live, as it is
    now when read back); a reply_to of another room is not_found; the quote of a deleted
    message says so."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general", "random")
        first = appended(await one(storage, say(ann, "general", "x" * 300))).message
        other = appended(await one(storage, say(ann, "random", "elsewhere"))).message
        reply = appended(await one(storage, say(ann, "general", "yes", reply_to=first.msg_id)))
        assert reply.message.reply_to == first.msg_id
        assert reply.message.quote == {"from": "ann", "text": "x" * 200}
        assert refused(await one(storage, say(ann, "general", "no", reply_to=other.msg_id))) \
            == "not_found"
        appended(await one(storage, delete(ann, "general", first.msg_id)))
        now = await current(storage, ann, "general", reply.message.msg_id)
        assert now.reply_to == first.msg_id and now.quote == {"deleted": True}


async def test_mentions_of_members_and_unread_counts(storage: Storage) -> None:
    """@name of a member (any case, not in code) is a mention, kept as registered; a
    non-member is not; the mentioned member's room carries the unread mention count, which
    read clears; an edit can add a mention to an old message without making it unread."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        bob = await make_member(storage, "Bob", "general")
        await storage.create_user("zed", "hash")
        results = await storage.append_messages([
            say(ann, "general", "@bob look, @zed too"),
            say(ann, "general", "`@bob` in code is not a mention"),
            say(ann, "general", "hey @BOB."),
            say(bob, "general", "@bob notes to self"),
        ])
        posted = [appended(r).message for r in results]
        assert [m.mentions for m in posted] == [("Bob",), (), ("Bob",), ("Bob",)]
        [room] = await storage.user_rooms(bob.id)
        assert room.mentions == 2 and room.unread == 3
        await storage.mark_read(bob.id, "general", posted[0].seq)
        [room] = await storage.user_rooms(bob.id)
        assert room.mentions == 1
        await storage.mark_read(bob.id, "general", posted[-1].seq)
        appended(await one(storage, edit(ann, "general", posted[1].msg_id, "now @Bob")))
        [room] = await storage.user_rooms(bob.id)
        assert room.mentions == 0
        assert (await current(storage, ann, "general", posted[1].msg_id)).mentions == ("Bob",)


async def test_mark_unread_brings_back_the_unread_messages_and_mentions(
        storage: Storage) -> None:
    """Mentions are kept whatever the marker and counted past it: a room read to its end and
    marked unread from a message on counts its messages and mentions from there again, in
    the answer and in the room object alike; a mention an edit added to an old message
    counts too, as the message object shows it."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        bob = await make_member(storage, "Bob", "general")
        results = await storage.append_messages([
            say(ann, "general", "@bob first"),
            say(ann, "general", "plain"),
            say(ann, "general", "hey @bob"),
            say(bob, "general", "mine, @bob"),
        ])
        posted = [appended(r).message for r in results]
        last = posted[-1].seq
        await storage.mark_read(bob.id, "general", last)
        [room] = await storage.user_rooms(bob.id)
        assert (room.read_seq, room.unread, room.mentions) == (last, 0, 0)

        marker = await storage.mark_unread(bob.id, "general", posted[1].seq)
        assert (marker.seq, marker.last_seq) == (posted[0].seq, last)
        assert (marker.unread, marker.mentions) == (2, 1)  # "plain", "hey @bob"; not his own
        [room] = await storage.user_rooms(bob.id)
        assert (room.read_seq, room.unread, room.mentions) == (posted[0].seq, 2, 1)

        appended(await one(storage, edit(ann, "general", posted[1].msg_id, "now @Bob")))
        marker = await storage.mark_unread(bob.id, "general", 1)
        assert (marker.seq, marker.unread, marker.mentions) == (0, 3, 3)
        [room] = await storage.user_rooms(bob.id)
        assert (room.unread, room.mentions) == (3, 3)


async def test_concurrent_changes_from_two_nodes(tmp_path: Path, database_dsn: str) -> None:
    """Two nodes changing one message at once: every entry gets a distinct seq, the log's
    order is the order the changes were decided in, and the message ends as the last of them
    says."""
    config = make_config(tmp_path, database_dsn)
    with trio.fail_after(TIMEOUT * 3):
        async with open_storage(config) as one_node, open_storage(config) as other:
            ann = await make_member(one_node, "ann", "general")
            bob = await make_member(one_node, "bob", "general")
            posted = appended(await one(one_node, say(ann, "general", "v0"))).message
            outcomes: list[Appended | ChatError] = []

            async def hammer(storage: Storage, user: User, tag: str) -> None:
                for i in range(15):
                    on = i % 2 == 0
                    batch: list[NewEntry] = [react(user, "general", posted.msg_id, "👍", on)]
                    if user is ann:
                        batch.append(edit(ann, "general", posted.msg_id, f"{tag}{i}"))
                    outcomes.extend(await storage.append_messages(batch))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(hammer, one_node, ann, "a")
                nursery.start_soon(hammer, other, bob, "b")

            stored = [o.message for o in outcomes if isinstance(o, Appended) and not o.duplicate]
            assert len({m.seq for m in stored}) == len(stored)
            page = await one_node.history(ann.id, "general", limit=500)
            log = [m for m in page.messages if m.kind != "message"]
            assert sorted(m.seq for m in log) == sorted(m.seq for m in stored)
            now = page.messages[0]
            last_edit = [m for m in log if m.kind == "edited"][-1]
            assert now.text == last_edit.text == "a14" and now.rev == log[-1].seq
            holding: list[str] = []  # who has 👍 on, in the order they put it
            for m in log:
                if m.kind == "reaction":
                    if m.on:
                        holding.append(m.sender)
                    else:
                        holding.remove(m.sender)
            assert now.reactions == ((("👍", tuple(holding)),) if holding else ())


# -- a model of the log ------------------------------------------------------------------------

_EMOJI = ["👍", "🎉", "❤️"]
_op = st.one_of(
    st.tuples(st.just("say"), st.integers(0, 2), st.sampled_from(["a", "b", "@u1 hi"]),
              st.none() | st.integers(0, 9)),
    st.tuples(st.just("edit"), st.integers(0, 2), st.integers(0, 9),
              st.sampled_from(["a", "b", "@u2"])),
    st.tuples(st.just("delete"), st.integers(0, 2), st.integers(0, 9)),
    st.tuples(st.just("react"), st.integers(0, 2), st.integers(0, 9), st.sampled_from(_EMOJI),
              st.booleans()),
)


def _entry(op: tuple[object, ...], users: Sequence[User], room: str, ids: list[int]
           ) -> NewEntry | None:
    """The entry an op makes, or None when it names a message not posted yet."""
    who_index = op[1]
    assert isinstance(who_index, int)
    kind, who = op[0], users[who_index]
    if kind == "say":
        target = op[3]
        reply = ids[target] if isinstance(target, int) and target < len(ids) else None
        return say(who, room, str(op[2]), reply_to=reply)
    index = op[2]
    assert isinstance(index, int)
    if index >= len(ids):
        return None
    if kind == "edit":
        return edit(who, room, ids[index], str(op[3]))
    if kind == "delete":
        return delete(who, room, ids[index])
    return react(who, room, ids[index], str(op[3]), bool(op[4]))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(_op, min_size=1, max_size=6), min_size=1, max_size=6))
async def test_the_log_replays_to_the_messages_as_they_are(
        tmp_path: Path, database_dsn: str, batches: list[list[tuple[object, ...]]]) -> None:
    """Any run of batches of sends and changes: seqs are 1..N without a hole; replaying the
    log's entries in seq order (the rev rule of docs/protocol.md) gives exactly the message
    objects storage reads back now; history pages in any size give the same log."""
    room = f"r{uuid.uuid4().hex[:12]}"
    async with open_storage(make_config(tmp_path, database_dsn)) as storage:
        page = await _run_model(storage, room, batches)
    _check_replay(page.messages)


async def _run_model(storage: Storage, room: str, batches: list[list[tuple[object, ...]]]
                     ) -> Page:
    with trio.fail_after(TIMEOUT * 3):
        users = []
        for i in range(3):
            name = f"u{i}-{room}"[:32]
            users.append(await make_member(storage, name, room))
        ids: list[int] = []
        for ops in batches:
            batch = [e for op in ops if (e := _entry(op, users, room, ids)) is not None]
            for result in await storage.append_messages(batch):
                if isinstance(result, Appended) and result.message.kind == "message" \
                        and not result.duplicate:
                    ids.append(result.message.msg_id)
        page = await storage.history(users[0].id, room, limit=500)
        assert [m.seq for m in page.messages] == list(range(1, page.last_seq + 1))

        small: list[Message] = []
        after = 0
        while True:
            part = await storage.history(users[0].id, room, after=after, limit=3)
            small += part.messages
            if not part.more:
                break
            after = part.messages[-1].seq
        assert small == page.messages
        assert await storage.messages_range(room, after=0, upto=page.last_seq) == page.messages
        # Several ranges in one read (the relay's): each as a read of its own gives it, an
        # unknown room and an empty range included.
        last = page.last_seq
        ranges = [(room, 0, last), (room, last // 2, last), ("no-such-room", 0, 5),
                  (room, last, last), (room, 1, max(1, last - 1)), (room, 0, 1)]
        assert await storage.messages_ranges(ranges) == [
            await storage.messages_range(r, after=a, upto=u) for r, a, u in ranges]
        return page


def _check_replay(log: list[Message]) -> None:
    # Replay: message entries as first posted (rev = seq), then every change in seq order.
    replayed: dict[int, dict[str, object]] = {}
    for m in log:
        if m.kind == "message":
            replayed[m.msg_id] = {"text": m.text if not m.deleted else None, "deleted": False,
                                  "reactions": {}, "rev": m.seq, "edited": False}
    for m in log:
        state = replayed[m.msg_id]
        if m.kind == "message":
            continue
        assert m.seq > state["rev"]  # type: ignore[operator]
        state["rev"] = m.seq
        if m.kind == "edited":
            state["text"], state["edited"] = m.text, True
        elif m.kind == "deleted":
            state["deleted"], state["text"], state["reactions"] = True, "", {}
        else:
            users_of = state["reactions"].setdefault(m.emoji, [])  # type: ignore[attr-defined]
            if m.on:
                users_of.append(m.sender)
            else:
                users_of.remove(m.sender)
                if not users_of:
                    del state["reactions"][m.emoji]  # type: ignore[attr-defined]
    for m in log:
        if m.kind != "message":
            continue
        state = replayed[m.msg_id]
        assert m.deleted == state["deleted"]
        assert m.rev in (0, state["rev"]) and (m.rev or m.seq) == state["rev"]
        assert m.edited_ts is not None or not state["edited"] or m.deleted
        if not m.deleted and state["text"] is not None:
            assert m.text == state["text"]
        # In order: emoji by when they were put with nobody else on, users by when they put it.
        assert [(e, list(u)) for e, u in m.reactions] == list(
            state["reactions"].items())  # type: ignore[attr-defined]


@pytest.mark.parametrize("text", ["hi @ann", "plain"])
async def test_a_send_and_a_change_in_one_batch(storage: Storage, text: str) -> None:
    """A batch holding messages and changes stores both; per room the messages take their
    seqs first."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        posted = appended(await one(storage, say(ann, "general", "first"))).message
        results = await storage.append_messages([
            react(ann, "general", posted.msg_id, "👍"), say(ann, "general", text)])
        change, message = (appended(r).message for r in results)
        assert (message.seq, change.seq) == (posted.seq + 1, posted.seq + 2)


async def test_a_page_of_the_log_reads_only_its_own_rows(storage: Storage,
                                                         database_dsn: str) -> None:
    """A page of history walks the (room_id, seq) index of messages and of changes and reads
    about its own number of rows from each, however many changes the room holds (thousands of
    reactions here): no scan per change."""
    with trio.fail_after(TIMEOUT * 3):
        ann = await make_member(storage, "ann", "general")
        bob = await make_member(storage, "bob", "general")
        posted = appended(await one(storage, say(ann, "general", "popular"))).message
        for _ in range(40):  # 2,000 entries: each user puts and takes back 25 emoji
            batch: list[NewEntry] = [
                react(user, "general", posted.msg_id, emoji, on)
                for on in (True, False) for user in (ann, bob) for emoji in _MANY[:25]]
            await storage.append_messages(batch)
        for i in range(300):
            await storage.append_messages([say(ann, "general", f"m{i}",
                                               reply_to=posted.msg_id if i % 10 else None)])
        read = scans(await page_plan(database_dsn))
    assert {s["Relation Name"] for s in read} >= {"messages", "changes"}
    for scan in read:
        if scan["Relation Name"] in ("messages", "changes"):
            assert "Index" in scan["Node Type"], scan
            assert scan["Actual Rows"] <= 51, (scan["Relation Name"], scan["Actual Rows"])


_MANY = ["😀", "😁", "😂", "🤣", "😃", "😄", "😅", "😆", "😉", "😊", "😋", "😎", "😍",
         "😘", "🥰", "😗", "😙", "😚", "🙂", "🤗", "🤩", "🤔", "🤨", "😐", "😑"]


async def test_reaction_order_is_what_a_client_applying_entries_gets(storage: Storage) -> None:
    """An emoji keeps its place while anyone has it on, leaves the list when nobody does and
    comes last when put again; its users are in the order they put it. That is what a client
    gets by applying the entries one by one to a list."""
    with trio.fail_after(TIMEOUT):
        ann, bob, cid = [await make_member(storage, n, "general") for n in ("ann", "bob", "cid")]
        mid = appended(await one(storage, say(ann, "general", "x"))).message.msg_id
        steps = [(ann, "👍", True), (bob, "❤️", True), (cid, "👍", True), (ann, "👍", False),
                 (bob, "❤️", False), (ann, "❤️", True), (ann, "👍", True)]
        for user, emoji, on in steps[:4]:
            appended(await one(storage, react(user, "general", mid, emoji, on)))
        assert (await current(storage, ann, "general", mid)).reactions == (
            ("👍", ("cid",)), ("❤️", ("bob",)))
        # The rest in one batch: the order must not depend on how entries were batched.
        await storage.append_messages([react(u, "general", mid, e, on) for u, e, on in steps[4:]])
        assert (await current(storage, ann, "general", mid)).reactions == (
            ("👍", ("cid", "ann")), ("❤️", ("ann",)))
        # Taken back and put again in one batch: the user goes to the end, as live.
        await storage.append_messages([react(cid, "general", mid, "👍", False),
                                       react(cid, "general", mid, "👍", True)])
        assert (await current(storage, ann, "general", mid)).reactions == (
            ("👍", ("ann", "cid")), ("❤️", ("ann",)))


def topic(user: User, room: str, text: str) -> NewChange:
    return NewChange(user_id=user.id, room=room, msg_id=0, kind="topic", text=text)


async def test_the_topic_is_an_entry_set_by_the_owner(storage: Storage) -> None:
    """The owner sets the topic: an entry of the log, and the room shows it; the same topic
    again stores nothing; a member who is not the owner, and anyone in a conversation, is
    refused."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        bob = await make_member(storage, "bob", "general")
        posted = appended(await one(storage, say(bob, "general", "hi"))).message
        assert refused(await one(storage, topic(bob, "general", "mine"))) == "forbidden"
        set_ = appended(await one(storage, topic(ann, "general", "release on Friday")))
        assert not set_.duplicate and set_.message.seq == posted.seq + 1
        again = appended(await one(storage, topic(ann, "general", "release on Friday")))
        assert again.duplicate and again.message.seq == set_.message.seq
        page = await storage.history(bob.id, "general", limit=10)
        assert [(m.kind, m.text, m.sender) for m in page.messages] == [
            ("message", "hi", "bob"), ("topic", "release on Friday", "ann")]
        [room] = await storage.user_rooms(bob.id)
        assert room.topic == "release on Friday" and room.last_seq == set_.message.seq
        conversation = await storage.direct_room(ann.id, "bob")
        assert refused(await one(storage, topic(ann, conversation.room.name, "x"))) \
            == "forbidden"


async def test_a_batch_of_plain_sends_reads_no_message_but_its_nonces(
        storage: Storage, database_dsn: str) -> None:
    """Resolving a batch of sends without replies probes the messages table by key only (the
    nonce, a reply's message): never a scan of the messages, however many there are. A hash
    join over every message to quote none once made each batch cost time in proportion to
    the whole history."""
    with trio.fail_after(TIMEOUT * 6):
        ann = await make_member(storage, "ann", "general")
        for k in range(20):
            await storage.append_messages(
                [say(ann, "general", f"m{k}-{i}") for i in range(1000)])
        first = (await storage.history(ann.id, "general", limit=1)).messages[0]
        batch = [say(ann, "general", f"new {i}", reply_to=first.msg_id if i == 0 else None)
                 for i in range(400)]
        resolved = await plan(
            database_dsn, _SQL_APPEND_RESOLVE,
            [m.user_id for m in batch], [m.room for m in batch], [m.nonce for m in batch],
            [m.reply_to for m in batch], [" ".join(m.mentions) for m in batch],
            [""] * len(batch))  # no files
    read = [s for s in scans(resolved) if s["Relation Name"] == "messages"]
    assert read and all("Index" in s["Node Type"] for s in read), read
