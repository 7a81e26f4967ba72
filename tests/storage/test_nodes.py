"""Nodes, presence across nodes and the commit notices (migration 0017), against a real
PostgreSQL: each storage opened on one database is a node of its own.

Rules: a fresh database per test; every await on the database under ``trio.fail_after``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import trio
from hypothesis import given
from hypothesis import strategies as st

from chatd.protocol import ReadMoved, frame
from chatd.storage import (
    Appended,
    Change,
    CommitNotice,
    FileInfo,
    ListeningNotice,
    Message,
    NewChange,
    NewMessage,
    PresenceNotice,
    RoomDeletedNotice,
    Storage,
    TargetsNotice,
    UserEventNotice,
    open_storage,
)
from chatd.storage.bridge import open_bridge
from chatd.storage.postgres import (
    NOTICE_BYTES,
    USER_EVENTS_CHANNEL,
    _parse_notice,
    parse_presence,
    presence_payloads,
)
from chatd.views import message_event
from tests.conftest import execute_sql
from tests.helpers import make_config, until

TIMEOUT = 20


@asynccontextmanager
async def raw_notices(dsn: str, channel: str) -> AsyncIterator[tuple[list[str], trio.Event]]:
    """The payloads NOTIFYed on ``channel`` while the block runs, as PostgreSQL sent them,
    and an event set when the first arrives."""
    payloads: list[str] = []
    arrived = trio.Event()
    token = trio.lowlevel.current_trio_token()

    def heard(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
        payloads.append(payload)
        token.run_sync_soon(arrived.set)

    async with open_bridge(name="listener") as bridge:
        conn: Any = await bridge.run(asyncpg.connect, dsn)
        try:
            await bridge.run(conn.add_listener, channel, heard)
            yield payloads, arrived
        finally:
            await bridge.run(conn.close)


async def _sql(dsn: str, statement: str) -> None:
    """Run one statement on a connection of its own (as another process would)."""
    async with open_bridge(name="sql") as bridge:
        conn: Any = await bridge.run(asyncpg.connect, dsn)
        try:
            await bridge.run(conn.execute, statement)
        finally:
            await bridge.run(conn.close)


async def test_a_batch_over_many_rooms_is_one_notice(storage: Storage,
                                                     database_dsn: str) -> None:
    """One group-commit batch over 30 rooms NOTIFYs once, naming every room with its seq
    range (it used to be one notice per room); a node parses it into one CommitNotice per
    room."""
    with trio.fail_after(TIMEOUT):
        await _sql(database_dsn, "INSERT INTO nodes (name) VALUES ('elsewhere')")
        ann = await storage.create_user("ann", "hash")
        rooms = [f"room-{i}" for i in range(30)]
        for room in rooms:
            await storage.join_room(ann.id, room)
        async with raw_notices(database_dsn, "chatd_commits") as (payloads, arrived):
            batch = [NewMessage(user_id=ann.id, room=room, text=f"{room} {n}",
                                nonce=f"{room}-{n}") for room in rooms for n in range(2)]
            await storage.append_messages(batch)
            await arrived.wait()
            await storage.ping()  # a second notice, if any, has come by now
        assert len(payloads) == 1, payloads
        notices = _parse_notice("chatd_commits", payloads[0])
        assert [(n.node, n.room, n.after, n.last_seq) for n in notices
                if isinstance(n, CommitNotice)] == [(storage.node, room, 0, 2) for room in rooms]
        assert len(notices) == len(rooms)


async def test_presence_crosses_nodes_and_a_dead_node_is_swept(tmp_path: Path,
                                                               database_dsn: str) -> None:
    """A node's presence is recorded and told to the others; a node not heard of for the
    timeout is swept, its users with it, and the others told; back, it learns it was."""
    config = make_config(tmp_path, database_dsn)
    heard: list[Change] = []

    with trio.fail_after(TIMEOUT):
        async with open_storage(config) as a, open_storage(config) as b, \
                trio.open_nursery() as nursery:
            await a.create_user("Ann", "hash")
            bob = await a.create_user("bob", "hash")
            await a.join_room(bob.id, "lobby")
            assert await a.heartbeat() is True
            assert await a.heartbeat() is False
            assert await b.heartbeat() is True
            await nursery.start(b.follow_changes, heard.append)

            async def heard_presence(count: int) -> list[PresenceNotice]:
                while True:
                    found = [n for n in heard if isinstance(n, PresenceNotice)]
                    if len(found) >= count:
                        return found
                    await trio.sleep(0.01)

            await a.publish_presence(["Ann", "bob"], [], [("lobby", "bob")])
            [notice] = await heard_presence(1)
            assert notice == PresenceNotice(node=a.node, online=("Ann", "bob"),
                                            typing=(("lobby", "bob"),))
            assert await b.online_elsewhere() == {a.node: frozenset({"Ann", "bob"})}
            audience = await b.presence_audience(["bob", "Ann"], ["bob", "Ann"])
            assert audience.rooms == {"bob": frozenset({"lobby"})}
            await a.publish_presence([], [], idle=["Ann"])  # migration 0027: away there
            [_, notice] = await heard_presence(2)
            assert notice == PresenceNotice(node=a.node, idle=("Ann",))
            assert await b.presence_elsewhere() == {a.node: {"Ann": True, "bob": False}}
            await a.publish_presence(["Ann"], [])
            await heard_presence(3)
            assert await b.presence_elsewhere() == {a.node: {"Ann": False, "bob": False}}
            await a.publish_presence([], ["Ann"])
            await heard_presence(4)
            assert await b.online_elsewhere() == {a.node: frozenset({"bob"})}

            seen = await b.sweep_nodes(0.0)  # every other node is late by now
            assert seen.dead == (a.node,) and seen.others == 0
            notices = await heard_presence(5)
            assert notices[-1] == PresenceNotice(node=a.node, down=True)
            assert await b.online_elsewhere() == {}
            assert await a.heartbeat() is True  # a was taken for dead: it publishes again
            await a.publish_presence(["bob"], [], reset=True, idle=["Ann"])
            notices = await heard_presence(6)
            assert notices[-1] == PresenceNotice(node=a.node, online=("bob",), reset=True,
                                                 idle=("Ann",))
            assert await b.presence_elsewhere() == {a.node: {"Ann": True, "bob": False}}
            await a.publish_presence(["bob"], [], reset=True)  # a reset forgets Ann
            await heard_presence(7)
            assert await b.online_elsewhere() == {a.node: frozenset({"bob"})}
            assert (await b.sweep_nodes(60.0)).others == 1
            await a.leave_cluster()
            notices = await heard_presence(8)
            assert notices[-1] == PresenceNotice(node=a.node, down=True)
            assert await b.online_elsewhere() == {}
            assert isinstance(heard[0], ListeningNotice)
            nursery.cancel_scope.cancel()


NAMES = st.text("abcXYZ019_.-", min_size=1, max_size=32)
ROOMS = st.one_of(st.text("abz09_-", min_size=1, max_size=64),
                  st.builds(lambda a, b: f"@{a.lower()}:{b.lower()}", NAMES, NAMES))


@given(online=st.lists(NAMES, max_size=400), offline=st.lists(NAMES, max_size=400),
       typing=st.lists(st.tuples(ROOMS, NAMES), max_size=100), reset=st.booleans(),
       idle=st.lists(NAMES, max_size=200))
def test_presence_payloads_round_trip(online: list[str], offline: list[str],
                                      typing: list[tuple[str, str]], reset: bool,
                                      idle: list[str]) -> None:
    """Any presence, however large, is split into payloads PostgreSQL takes (under 8,000
    bytes), each parsed back; together they say what was published, reset first."""
    payloads = presence_payloads("chatd-0123456789ab", online, offline, typing, reset=reset,
                                 idle=idle)
    assert all(len(p.encode()) <= NOTICE_BYTES for p in payloads)
    notices = [parse_presence(p) for p in payloads]
    assert all(n is not None and n.node == "chatd-0123456789ab" for n in notices)
    parsed = [n for n in notices if n is not None]
    assert [n.reset for n in parsed] == [reset] + [False] * (len(parsed) - 1) or not parsed
    assert [u for n in parsed for u in n.online] == online
    assert [u for n in parsed for u in n.offline] == offline
    assert [t for n in parsed for t in n.typing] == typing
    assert [u for n in parsed for u in n.idle] == idle
    assert bool(parsed) == bool(online or offline or typing or reset or idle)


@given(st.text(max_size=60))
def test_presence_parser_takes_any_text(payload: str) -> None:
    """A payload that is not one of ours parses to None or a notice, never an exception."""
    parse_presence(payload)


@given(user=NAMES, room=ROOMS, seq=st.integers(0, 2**62), junk=st.text(max_size=60))
def test_user_events_round_trip_and_anything_else_parses_to_nothing_or_a_notice(
        user: str, room: str, seq: int, junk: str) -> None:
    """A frame for a user's connections elsewhere (tell_elsewhere's payload) comes back as the
    same bytes for the same user; any other text is dropped or parsed, never raises."""
    data = frame(ReadMoved(room=room, seq=seq))
    payload = f"chatd-0123456789ab {user} {data.decode().rstrip()}"
    assert _parse_notice(USER_EVENTS_CHANNEL, payload) == [
        UserEventNotice(node="chatd-0123456789ab", user=user, data=data)]
    for notice in _parse_notice(USER_EVENTS_CHANNEL, junk):
        assert isinstance(notice, UserEventNotice) and notice.data.endswith(b"\n")


async def _notices_of(database_dsn: str, batch: Callable[[], Awaitable[object]]
                      ) -> list[str]:
    """The payloads of chatd_commits that ``batch`` makes PostgreSQL send (one or more)."""
    async with raw_notices(database_dsn, "chatd_commits") as (payloads, _):
        await batch()
        # Notices come in commit order: the batch's, if any, have come before this one.
        await _sql(database_dsn, "NOTIFY chatd_commits, 'ping'")
        await until(lambda: payloads[-1:] == ["ping"])
    return payloads[:-1]


async def test_a_notice_carries_new_messages_as_a_read_gives_them(
        tmp_path: Path, database_dsn: str) -> None:
    """With another node alive, one batch's notice (still one) carries its new messages
    (plain, a reply with its quote, mentions, a file, non-ASCII text), and each encodes to
    the very frame a read of it gives. A room whose entries do not fit, and a change, go as
    ranges to be read. With no other node, there is no notice at all (nobody would hear it:
    migration 0022)."""
    config = make_config(tmp_path, database_dsn)
    with trio.fail_after(TIMEOUT):
        async with open_storage(config) as a, open_storage(config) as b:
            ann = await a.create_user("Ann", "hash")
            bob = await a.create_user("bob", "hash")
            for user in (ann, bob):
                await a.join_room(user.id, "lobby")
                await a.join_room(user.id, "big")
            [first] = await a.append_messages([NewMessage(user_id=ann.id, room="lobby",
                                                          text="first", nonce="n0")])
            assert isinstance(first, Appended)
            upload = await a.add_file(bob.id, "lobby", sha256="ab" * 32, size=3, name="a.txt",
                                      content_type="text/plain", quota_bytes=10**6)

            def batch(nonce: str) -> list[NewMessage]:
                return [
                    NewMessage(user_id=ann.id, room="lobby", text="plain", nonce=nonce + "1"),
                    NewMessage(user_id=bob.id, room="lobby", text="ça, @ann 👋",
                               nonce=nonce + "2", reply_to=first.message.msg_id,
                               mentions=("ann",)),
                    NewMessage(user_id=bob.id, room="lobby", text="", nonce=nonce + "3",
                               files=(upload.info.id,) if nonce == "b" else ()),
                    NewMessage(user_id=ann.id, room="big", text="é" * 3600,
                               nonce=nonce + "4"),
                ]

            # No other node alive: no notice.
            assert await _notices_of(database_dsn, lambda: a.append_messages(batch("a"))) == []
            assert len((await a.history(ann.id, "lobby", limit=10)).messages) == 4

            assert await b.heartbeat() is True
            [payload] = await _notices_of(database_dsn, lambda: a.append_messages(batch("b")))
            assert len(payload.encode()) < 8000
            lobby, big = _parse_notice("chatd_commits", payload)
            assert isinstance(lobby, CommitNotice) and isinstance(big, CommitNotice)
            assert (big.room, big.entries) == ("big", None)  # 7,200 bytes: too big to carry
            assert lobby.entries is not None
            read = await b.messages_range("lobby", after=lobby.after, upto=lobby.last_seq)
            assert lobby.entries == tuple(read)
            assert [frame(message_event(m)) for m in lobby.entries] == \
                [frame(message_event(m)) for m in read]
            plain, reply, filed = lobby.entries
            assert reply.quote == {"from": "Ann", "text": "first"}
            assert reply.mentions == ("Ann",) and reply.text == "ça, @ann 👋"
            assert [f.name for f in filed.files] == ["a.txt"]

            # A change (a reaction) is read, not carried.
            [change] = await _notices_of(database_dsn, lambda: a.append_messages([NewChange(
                user_id=bob.id, room="lobby", kind="reaction", msg_id=plain.msg_id,
                emoji="👍")]))
            [reacted] = _parse_notice("chatd_commits", change)
            assert isinstance(reacted, CommitNotice) and reacted.entries is None


async def test_a_payload_comes_at_once_with_only_the_wanted_entries_built(
        tmp_path: Path, database_dsn: str) -> None:
    """With ``on_batch``, the notices of one payload (a batch over three rooms) come in one
    call, in order (one crossing to trio for them all), and nothing to ``on_change``; a room
    that ``wanted`` refuses comes as its range, its carried entries not built."""
    config = make_config(tmp_path, database_dsn)
    batches: list[tuple[Change, ...]] = []
    one_by_one: list[Change] = []
    asked: list[str] = []

    def wanted(room: str) -> bool:
        asked.append(room)
        return room != "quiet"

    with trio.fail_after(TIMEOUT):
        async with open_storage(config) as a, open_storage(config) as b, \
                trio.open_nursery() as nursery:
            ann = await a.create_user("ann", "hash")
            rooms = ["lobby", "quiet", "other"]
            for room in rooms:
                await a.join_room(ann.id, room)
            assert await a.heartbeat() and await b.heartbeat()  # a's notices carry
            await nursery.start(functools.partial(b.follow_changes, one_by_one.append,
                                                  on_batch=batches.append, wanted=wanted))
            await until(lambda: batches == [(ListeningNotice(node=b.node),)])
            await a.append_messages([NewMessage(user_id=ann.id, room=room, text=room,
                                                nonce=room) for room in rooms])
            await until(lambda: len(batches) == 2)
            lobby, quiet, other = batches[1]
            assert isinstance(lobby, CommitNotice) and isinstance(other, CommitNotice)
            assert [m.text for m in lobby.entries or ()] == ["lobby"]
            assert [m.text for m in other.entries or ()] == ["other"]
            assert quiet == CommitNotice(node=a.node, room="quiet", after=0, last_seq=1)
            assert asked == rooms and one_by_one == []
            nursery.cancel_scope.cancel()


TEXTS = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
                max_size=40)
FILES = st.lists(st.tuples(st.integers(1, 10**9), TEXTS, st.integers(0, 10**9),
                           st.sampled_from(["text/plain", "image/png"]),
                           st.none() | st.integers(1, 5000), st.none() | st.integers(1, 5000),
                           st.booleans()), max_size=3)
CARRIED = st.tuples(st.integers(1, 10**9), NAMES, st.integers(0, 2**41), TEXTS, TEXTS,
                    st.none() | st.integers(1, 10**9), st.none() | NAMES,
                    st.lists(NAMES, max_size=3), FILES)


@given(items=st.lists(st.tuples(ROOMS, st.integers(0, 10**12),
                                st.none() | st.lists(CARRIED, min_size=1, max_size=4),
                                st.integers(1, 4)), max_size=6),
       unwanted_at=st.sets(st.integers(0, 5)))
def test_carrying_commit_notices_round_trip(
        items: list[tuple[str, int, list[Any] | None, int]], unwanted_at: set[int]) -> None:
    """A payload of migration 0019 parses to one CommitNotice per room, in order: with the
    messages it carries (each as storage's read makes it), or None for a range to read;
    carried messages that do not cover their range one seq each are not used. Parsed for
    a node that does not want some rooms' entries, the same, those rooms' as ranges."""
    encoded: list[list[Any]] = []
    expected: list[CommitNotice] = []
    for room, before, carried, count in items:
        if carried is None:
            encoded.append([room, before, before + count])
            expected.append(CommitNotice(node="n1", room=room, after=before,
                                         last_seq=before + count))
            continue
        messages = []
        fields = []
        for seq, (msg_id, sender, ts, nonce, text, reply_to, quoted, mentions, files) in \
                enumerate(carried, start=before + 1):
            quote = None if quoted is None else {"from": quoted, "text": text}
            fields.append([seq, msg_id, sender, ts, nonce, text, reply_to,
                           None if quote is None else json.dumps(quote), mentions,
                           [list(f) for f in files] or None])
            messages.append(Message(
                room=room, seq=seq, msg_id=msg_id, sender=sender, text=text, ts=ts,
                nonce=nonce, reply_to=reply_to, quote=quote, mentions=tuple(mentions),
                files=tuple(FileInfo(id=f[0], name=f[1], size=f[2], content_type=f[3],
                                     width=f[4], height=f[5], thumbnail=f[6]) for f in files)))
        exact = count == len(carried)  # else the entries leave seqs out, or go past
        last_seq = before + count
        encoded.append([room, before, last_seq, fields])
        expected.append(CommitNotice(node="n1", room=room, after=before, last_seq=last_seq,
                                     entries=tuple(messages) if exact else None))
    payload = "n1 " + json.dumps(encoded, ensure_ascii=False)
    assert _parse_notice("chatd_commits", payload) == (expected if items else [])
    unwanted = {items[i][0] for i in unwanted_at if i < len(items)}
    assert _parse_notice("chatd_commits", payload, lambda room: room not in unwanted) == [
        dataclasses.replace(n, entries=None) if n.room in unwanted else n for n in expected]


@given(st.text(max_size=200))
def test_commit_parser_takes_any_text(payload: str) -> None:
    """A commit payload that is not one of ours parses to notices or nothing, never an
    exception; so does one that looks like migration 0019's and is not."""
    _parse_notice("chatd_commits", payload)
    _parse_notice("chatd_commits", "n1 [" + payload)
    _parse_notice("chatd_commits", "n1 [[\"r\", 1, 2, [" + payload)


@given(payload=st.text(max_size=60))
def test_a_targets_notice_names_a_table_of_targets_or_is_nothing(payload: str) -> None:
    """'<node> <table>' (migration 0021): a notice only for the tables of outgoing targets;
    anything else on the channel is no notice, never an error."""
    assert _parse_notice("chatd_targets", "chatd-1 room_webhooks") == [
        TargetsNotice(node="chatd-1", table="room_webhooks")]
    assert _parse_notice("chatd_targets", "chatd-2 push_subscriptions") == [
        TargetsNotice(node="chatd-2", table="push_subscriptions")]
    notices = _parse_notice("chatd_targets", payload)
    assert all(isinstance(n, TargetsNotice)
               and n.table in ("room_webhooks", "push_subscriptions") for n in notices)


async def test_rows_of_targets_added_or_removed_are_announced(storage: Storage,
                                                              database_dsn: str) -> None:
    """Any statement adding or removing webhooks or push subscriptions sends a notice (a
    node with none of either then looks again); any_targets says whether any is left."""
    heard: list[Change] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(storage.follow_changes, heard.append)
        assert not await storage.any_targets("room_webhooks")
        assert not await storage.any_targets("push_subscriptions")
        user = await storage.create_user("pat", "x")
        await trio.to_thread.run_sync(
            execute_sql, database_dsn,
            "INSERT INTO push_subscriptions (endpoint, user_id, p256dh, auth)"
            f" VALUES ('https://push.example/1', {user.id}, 'k', 'a')")
        with trio.fail_after(30):
            await until(lambda: any(isinstance(n, TargetsNotice) for n in heard))
        assert await storage.any_targets("push_subscriptions")
        assert not await storage.any_targets("room_webhooks")
        await trio.to_thread.run_sync(execute_sql, database_dsn,
                                      "DELETE FROM push_subscriptions")
        with trio.fail_after(30):
            await until(lambda: sum(isinstance(n, TargetsNotice) for n in heard) == 2)
        assert not await storage.any_targets("push_subscriptions")
        assert {n.table for n in heard if isinstance(n, TargetsNotice)} == {
            "push_subscriptions"}
        nursery.cancel_scope.cancel()


async def test_a_starting_node_waits_for_the_writers_in_flight(storage: Storage,
                                                               database_dsn: str) -> None:
    """``wait_for_writers`` returns only once the transactions that had written when it was
    called have ended: a node alone until then may have checked for other nodes before the
    new one's row was there, and commit without a notice (migration 0022)."""
    returned = trio.Event()

    async def wait() -> None:
        await storage.wait_for_writers()
        returned.set()

    async def polled() -> bool:
        return bool(await bridge.run(watcher.fetchval, """
            SELECT count(*) FROM pg_stat_activity
            WHERE pid <> pg_backend_pid() AND query LIKE '%backend_xid::text = ANY%'"""))

    with trio.fail_after(TIMEOUT):
        async with open_bridge(name="writer") as bridge:
            writer: Any = await bridge.run(asyncpg.connect, database_dsn)
            watcher: Any = await bridge.run(asyncpg.connect, database_dsn)
            try:
                await bridge.run(writer.execute,
                                 "BEGIN; INSERT INTO nodes (name) VALUES ('in-flight')")
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(wait)
                    while not await polled():  # noqa: ASYNC110 (the database: nothing signals it)
                        await trio.sleep(0.01)
                    assert not returned.is_set()
                    await bridge.run(writer.execute, "COMMIT")
                    await returned.wait()
            finally:
                await bridge.run(writer.close)
                await bridge.run(watcher.close)


def test_a_room_deleted_notice_may_name_nobody() -> None:
    """'<node> <room> <by>' (migration 0015): an empty ``by`` is the command line's deletion
    (chatd room delete), still a notice; a payload without its node or room is none."""
    assert _parse_notice("chatd_rooms", "chatd-a team root") == [
        RoomDeletedNotice(node="chatd-a", room="team", by="root")]
    assert _parse_notice("chatd_rooms", "chatd-a team ") == [
        RoomDeletedNotice(node="chatd-a", room="team", by="")]
    for bad in ("chatd-a  root", " team root", "chatd-a team", "chatd-a team root x"):
        assert _parse_notice("chatd_rooms", bad) == [], bad
