"""Contract tests of notification levels and Web Push subscriptions: who a message is pushed
to, by level, and the subscriptions kept per user.

Same rules as ``test_postgres.py``: a fresh database per test (the ``storage`` fixture), every
await on the database under ``trio.fail_after``, and only the documented contract of
:class:`chatd.storage.Storage` is checked.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import trio

from chatd.config import Config
from chatd.errors import ChatError
from chatd.storage import (
    Appended,
    Change,
    DndNotice,
    NewMessage,
    NotifyNotice,
    PushSubscription,
    Storage,
    User,
    open_storage,
)
from chatd.storage.bridge import open_bridge
from tests.helpers import make_config

TIMEOUT = 20
_nonces = itertools.count()


def subscription(n: int | str) -> PushSubscription:
    return PushSubscription(endpoint=f"https://push.example/{n}", p256dh=f"key{n}",
                            auth=f"auth{n}")


async def users(storage: Storage, *names: str) -> list[User]:
    return [await storage.create_user(name, "hash") for name in names]


async def post(storage: Storage, user: User, room: str, text: str,
               mentions: tuple[str, ...] = ()) -> int:
    [result] = await storage.append_messages([NewMessage(
        user_id=user.id, room=room, text=text, nonce=f"n{next(_nonces)}", mentions=mentions)])
    assert isinstance(result, Appended), result
    return result.message.seq


async def targets(storage: Storage, room: str, seq: int) -> set[tuple[str, str, str]]:
    """(user, reason, endpoint) of each push the message at ``seq`` should make."""
    return {(t.user, t.reason, t.subscription.endpoint)
            for t in await storage.push_targets([(room, seq)])}


async def test_levels_default_by_kind_and_are_kept_per_member(storage: Storage) -> None:
    """A room lists with no level set (the default of its kind applies); set_notify stores
    the member's level, which their room list then shows, and nobody else's changes."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        await storage.create_room(ann.id, "team", private=False, topic="")
        await storage.join_room(bob.id, "team")
        dm = (await storage.direct_room(ann.id, "bob")).room.name
        assert {r.name: r.notify for r in await storage.user_rooms(ann.id)} == {
            "team": None, dm: None}
        assert await storage.set_notify(ann.id, "team", "all") == "all"
        assert await storage.set_notify(ann.id, dm, "none") == "none"
        assert {r.name: r.notify for r in await storage.user_rooms(ann.id)} == {
            "team": "all", dm: "none"}
        assert {r.name: r.notify for r in await storage.user_rooms(bob.id)} == {
            "team": None, dm: None}
        overview = await storage.rooms_overview(ann.id)
        assert {r.name: r.notify for r in overview} == {"team": "all", dm: "none"}
        again = await storage.join_room(ann.id, "team")
        assert again.room.notify == "all"


async def test_leaving_forgets_the_level(storage: Storage) -> None:
    """A level lives with the membership: after leaving and joining again, none is set."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        await storage.create_room(ann.id, "team", private=False, topic="")
        await storage.join_room(bob.id, "team")
        await storage.set_notify(bob.id, "team", "none")
        assert await storage.leave_room(bob.id, "team")
        assert [r.notify for r in await storage.rooms_overview(bob.id)] == [None]
        joined = await storage.join_room(bob.id, "team")
        assert joined.room.notify is None


async def test_set_notify_refusals(storage: Storage) -> None:
    """An unknown room is not_found; a room the user is not in is forbidden (public or not)."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        await storage.create_room(ann.id, "team", private=False, topic="")
        with pytest.raises(ChatError) as refused:
            await storage.set_notify(ann.id, "nowhere", "all")
        assert refused.value.code == "not_found"
        with pytest.raises(ChatError) as refused:
            await storage.set_notify(bob.id, "team", "all")
        assert refused.value.code == "forbidden"


async def test_push_targets_follow_the_levels(storage: Storage) -> None:
    """A DM goes to the other member unless muted; a mention to the mentioned member at
    'all' or 'mentions'; any message to the members at 'all'; never to the sender, never to
    someone without a subscription, once per subscription."""
    with trio.fail_after(TIMEOUT):
        ann, bob, cid, dot = await users(storage, "ann", "bob", "cid", "dot")
        await storage.add_push_subscription(bob.id, subscription("bob1"), keep=10)
        await storage.add_push_subscription(bob.id, subscription("bob2"), keep=10)
        await storage.add_push_subscription(cid.id, subscription("cid"), keep=10)
        await storage.add_push_subscription(ann.id, subscription("ann"), keep=10)
        # dot has no subscription: never a target
        await storage.create_room(ann.id, "team", private=False, topic="")
        for user in (bob, cid, dot):
            await storage.join_room(user.id, "team")
        dm = (await storage.direct_room(ann.id, "bob")).room.name

        seq = await post(storage, ann, dm, "hi bob")
        assert await targets(storage, dm, seq) == {
            ("bob", "dm", "https://push.example/bob1"), ("bob", "dm", "https://push.example/bob2")}
        seq = await post(storage, ann, "team", "plain")
        assert await targets(storage, "team", seq) == set()
        seq = await post(storage, ann, "team", "hey @cid @dot @ann", mentions=("cid", "dot", "ann"))
        assert await targets(storage, "team", seq) == {
            ("cid", "mention", "https://push.example/cid")}

        await storage.set_notify(cid.id, "team", "all")
        await storage.set_notify(ann.id, "team", "all")
        seq = await post(storage, ann, "team", "for all")
        assert await targets(storage, "team", seq) == {
            ("cid", "message", "https://push.example/cid")}
        seq = await post(storage, bob, "team", "@cid look", mentions=("cid",))
        assert await targets(storage, "team", seq) == {
            ("cid", "mention", "https://push.example/cid"),
            ("cid", "message", "https://push.example/cid"),
            ("ann", "message", "https://push.example/ann")}

        await storage.set_notify(cid.id, "team", "none")
        await storage.set_notify(bob.id, dm, "none")
        seq = await post(storage, ann, "team", "@cid muted", mentions=("cid",))
        assert await targets(storage, "team", seq) == set()
        seq = await post(storage, ann, dm, "muted dm")
        assert await targets(storage, dm, seq) == set()
        await storage.set_notify(bob.id, dm, "mentions")  # a DM still counts
        seq = await post(storage, ann, dm, "dm again")
        assert {t[1] for t in await targets(storage, dm, seq)} == {"dm"}


async def test_push_targets_of_a_batch(storage: Storage) -> None:
    """One call answers for several messages of several rooms; unknown ones give nothing."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        await storage.add_push_subscription(bob.id, subscription("bob"), keep=10)
        dm = (await storage.direct_room(ann.id, "bob")).room.name
        await storage.create_room(ann.id, "team", private=False, topic="")
        await storage.join_room(bob.id, "team")
        first = await post(storage, ann, dm, "one")
        second = await post(storage, ann, dm, "two")
        third = await post(storage, ann, "team", "@bob", mentions=("bob",))
        found = await storage.push_targets([(dm, first), ("team", third), (dm, second),
                                            ("nowhere", 1), (dm, 999)])
        assert sorted((t.room, t.seq, t.reason) for t in found) == [
            (dm, first, "dm"), (dm, second, "dm"), ("team", third, "mention")]
        assert await storage.push_targets([]) == []


async def test_subscriptions_are_replaced_by_endpoint_and_capped(storage: Storage) -> None:
    """The same endpoint again replaces its keys (and its owner: another user subscribing
    with it takes it over); past ``keep`` the oldest go; removal is per user."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        dm = (await storage.direct_room(ann.id, "bob")).room.name

        async def endpoints_of(user: User, sender: User) -> set[str]:
            seq = await post(storage, sender, dm, "ping")
            return {t.subscription.endpoint
                    for t in await storage.push_targets([(dm, seq)]) if t.user == user.name}

        for n in range(4):
            await storage.add_push_subscription(bob.id, subscription(n), keep=3)
        assert await endpoints_of(bob, ann) == {f"https://push.example/{n}" for n in (1, 2, 3)}
        await storage.add_push_subscription(
            bob.id, PushSubscription(endpoint="https://push.example/1", p256dh="new",
                                     auth="new"), keep=3)
        seq = await post(storage, ann, dm, "keys")
        keys = {t.subscription.endpoint: t.subscription.p256dh
                for t in await storage.push_targets([(dm, seq)])}
        assert keys["https://push.example/1"] == "new"
        await storage.add_push_subscription(ann.id, subscription(2), keep=3)  # taken over
        assert await endpoints_of(bob, ann) == {"https://push.example/1",
                                                "https://push.example/3"}
        assert await endpoints_of(ann, bob) == {"https://push.example/2"}
        assert not await storage.remove_push_subscription(ann.id, "https://push.example/1")
        assert await storage.remove_push_subscription(bob.id, "https://push.example/1")
        assert await storage.forget_push_subscription("https://push.example/3")
        assert not await storage.forget_push_subscription("https://push.example/3")
        assert await endpoints_of(bob, ann) == set()


async def test_a_level_set_on_one_node_is_told_to_the_others(storage: Storage,
                                                             config: Config) -> None:
    """Another storage (another node) on the same database hears of a changed level, once
    per change, not of a level set to what it was."""
    heard: list[Change] = []
    both = trio.Event()

    def hear(notice: Change) -> None:
        heard.append(notice)
        if len([n for n in heard if isinstance(n, NotifyNotice)]) == 2:
            both.set()

    with trio.fail_after(TIMEOUT):
        ann, = await users(storage, "Ann")
        await storage.create_room(ann.id, "team", private=False, topic="")
        async with open_storage(config) as other, trio.open_nursery() as nursery:
            await nursery.start(other.follow_changes, hear)
            await storage.set_notify(ann.id, "team", "none")
            await storage.set_notify(ann.id, "team", "none")
            await storage.set_notify(ann.id, "team", "all")
            await both.wait()
            nursery.cancel_scope.cancel()
    levels = [(n.room, n.user, n.notify) for n in heard if isinstance(n, NotifyNotice)]
    assert levels == [("team", "Ann", "none"), ("team", "Ann", "all")]


async def test_a_pause_is_read_with_the_user_and_with_the_push_targets(
        storage: Storage) -> None:
    """set_dnd stores the time: the user as a token's check reads them carries it while it
    is ahead (not once it is past); push targets carry it as stored, past or not, for the
    pusher to compare with its clock; None resumes."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        await storage.add_push_subscription(bob.id, subscription("bob"), keep=10)
        dm = (await storage.direct_room(ann.id, "bob")).room.name
        user = await storage.check_token(bob.id, "jti", 0)
        assert user is not None and user.dnd_until is None
        ahead = time.time_ns() // 1_000_000 + 3_600_000
        await storage.set_dnd(bob.id, ahead)
        user = await storage.check_token(bob.id, "jti", 0)
        assert user is not None and user.dnd_until == ahead
        seq = await post(storage, ann, dm, "paused")
        assert [t.paused_until for t in await storage.push_targets([(dm, seq)])] == [ahead]
        await storage.set_dnd(bob.id, 1_000)
        user = await storage.check_token(bob.id, "jti", 0)
        assert user is not None and user.dnd_until is None
        assert [t.paused_until for t in await storage.push_targets([(dm, seq)])] == [1_000]
        await storage.set_dnd(bob.id, None)
        assert [t.paused_until for t in await storage.push_targets([(dm, seq)])] == [None]


async def test_a_pause_set_on_one_node_is_told_to_the_others(storage: Storage,
                                                             config: Config) -> None:
    """Another storage (another node) hears of a changed pause, once per change, with its
    time (None: resumed), not of a pause set to what it was."""
    heard: list[DndNotice] = []
    three = trio.Event()

    def hear(notice: Change) -> None:
        if isinstance(notice, DndNotice):
            heard.append(notice)
        if len(heard) == 3:
            three.set()

    with trio.fail_after(TIMEOUT):
        ann, = await users(storage, "Ann")
        async with open_storage(config) as other, trio.open_nursery() as nursery:
            await nursery.start(other.follow_changes, hear)
            await storage.set_dnd(ann.id, 5_000)
            await storage.set_dnd(ann.id, 5_000)
            await storage.set_dnd(ann.id, None)
            await storage.set_dnd(ann.id, None)
            await storage.set_dnd(ann.id, 7_000)
            await three.wait()
            nursery.cancel_scope.cancel()
    assert [(n.user, n.until) for n in heard] == [("Ann", 5_000), ("Ann", None),
                                                  ("Ann", 7_000)]


@pytest.fixture
def config(tmp_path: Path, database_dsn: str) -> Config:
    return make_config(tmp_path, database_dsn)


async def test_a_big_rooms_members_are_not_walked(storage: Storage, database_dsn: str) -> None:
    """Looking up pushes for messages of a room of 20,000 members, a few at 'all', probes
    keys (the message, its mentions, the members at 'all', their subscriptions): it scans
    neither the room's memberships nor the subscriptions."""
    from chatd.storage.postgres import _SQL_PUSH_TARGETS

    with trio.fail_after(TIMEOUT * 3):
        ann, = await users(storage, "ann")
        await storage.create_room(ann.id, "big", private=False, topic="")
        async with open_bridge(name="explain") as bridge:
            conn: Any = await bridge.run(asyncpg.connect, database_dsn)
            try:
                await bridge.run(conn.execute, """
                    INSERT INTO users (name, password_hash)
                        SELECT 'u' || g, 'h' FROM generate_series(1, 20000) g;
                    INSERT INTO memberships (room_id, user_id, notify)
                        SELECT r.id, u.id, CASE WHEN u.id % 2000 = 0 THEN 'all' END
                        FROM rooms r, users u WHERE r.name = 'big' AND u.name LIKE 'u%';
                    INSERT INTO push_subscriptions (endpoint, user_id, p256dh, auth)
                        SELECT 'https://p.example/' || id, id, 'k', 'a' FROM users
                        WHERE name LIKE 'u%';
                    ANALYZE users; ANALYZE memberships; ANALYZE push_subscriptions
                """)
                seqs = [await post(storage, ann, "big", f"@u{i} hi", mentions=(f"u{i}",))
                        for i in range(1, 6)]
                dm = (await storage.direct_room(ann.id, "u7")).room.name
                dm_seq = await post(storage, ann, dm, "psst")
                rows = await bridge.run(conn.fetch, "EXPLAIN " + _SQL_PUSH_TARGETS,
                                        ["big"] * len(seqs) + [dm], [*seqs, dm_seq])
                plan = "\n".join(row[0] for row in rows)
            finally:
                await bridge.run(conn.close)
        found = await storage.push_targets([("big", seq) for seq in seqs] + [(dm, dm_seq)])
    assert [t.user for t in found if t.reason == "dm"] == ["u7"]
    assert len([t for t in found if t.reason == "message"]) == 10 * len(seqs)
    assert len([t for t in found if t.reason == "mention"]) == len(seqs)
    assert "Seq Scan on memberships" not in plan, plan
    assert "Seq Scan on push_subscriptions" not in plan, plan
