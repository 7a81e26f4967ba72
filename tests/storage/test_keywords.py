"""Contract tests of notification keywords (migration 0047): the list kept on the user's row,
read with a token's check and a session's start; and the keyword candidates of
``push_targets`` (who has keywords, by room, by level).

Same rules as ``test_postgres.py``: a fresh database per test (the ``storage`` fixture), every
await on the database under ``trio.fail_after``, and only the documented contract of
:class:`chatd.storage.Storage` is checked.
"""

from __future__ import annotations

import time
from typing import Any

import asyncpg
import trio

from chatd.storage import PushTarget, Storage
from chatd.storage.bridge import open_bridge
from tests.storage.test_push import post, subscription, users

TIMEOUT = 20


async def test_set_and_read(storage: Storage) -> None:
    """set_keywords stores the list as given, in order, and says whether it changed; the
    token's check and the session's start read it (None nowhere: an empty tuple for none);
    another user's are their own."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        assert await storage.keywords(ann.id) == ()
        issued = int(time.time() * 1000)
        checked = await storage.check_token(ann.id, "t1", issued)
        assert checked is not None and checked.keywords == ()
        assert await storage.set_keywords(ann.id, ["Deploy", "on call"]) is True
        assert await storage.keywords(ann.id) == ("Deploy", "on call")
        assert await storage.set_keywords(ann.id, ["Deploy", "on call"]) is False
        assert await storage.set_keywords(ann.id, ["on call", "Deploy"]) is True
        assert await storage.keywords(ann.id) == ("on call", "Deploy")
        checked = await storage.check_token(ann.id, "t1", issued)
        assert checked is not None and checked.keywords == ("on call", "Deploy")
        start = await storage.open_session(ann.id, "t1", issued)
        assert start is not None and start.user.keywords == ("on call", "Deploy")
        assert await storage.keywords(bob.id) == ()
        assert await storage.set_keywords(ann.id, []) is True
        assert await storage.keywords(ann.id) == ()
        assert await storage.set_keywords(ann.id, []) is False


async def _candidates(storage: Storage, entries: list[tuple[str, int]]
                      ) -> set[tuple[str, int, str, tuple[str, ...], str]]:
    """(room, seq, user, keywords, endpoint) of each keyword candidate for ``entries``."""
    return {(t.room, t.seq, t.user, t.keywords, t.subscription.endpoint)
            for t in await storage.push_targets(entries) if t.reason == "keyword"}


async def test_push_targets_give_the_members_with_keywords(storage: Storage) -> None:
    """For each room (and group conversation) of a batch, once whatever its messages, each
    member with keywords and a subscription whose level is not 'none', with seq 0 and their
    keywords: the sender too (the pusher matches), nobody without keywords or without a
    subscription, nobody of another room, nothing in a 1:1 conversation; the other targets
    carry no keywords. Nobody with keywords: no candidate."""
    with trio.fail_after(TIMEOUT):
        ann, bob, cid, dot, eve = await users(storage, "ann", "bob", "cid", "dot", "eve")
        for user in (ann, bob, cid, eve):
            await storage.add_push_subscription(user.id, subscription(user.name), keep=10)
        await storage.create_room(ann.id, "team", private=False, topic="")
        await storage.create_room(eve.id, "other", private=False, topic="")
        for user in (bob, cid, dot):
            await storage.join_room(user.id, "team")
        dm = (await storage.direct_room(ann.id, "bob")).room.name
        group = (await storage.direct_room(ann.id, ["bob", "cid"])).room.name
        first = await post(storage, ann, "team", "deploy")
        assert await _candidates(storage, [("team", first)]) == set()

        await storage.set_keywords(bob.id, ["deploy"])
        await storage.set_keywords(dot.id, ["deploy"])  # no subscription
        await storage.set_keywords(eve.id, ["deploy"])  # not in team
        await storage.set_keywords(ann.id, ["lunch"])
        second = await post(storage, ann, "team", "deploy again")
        in_dm = await post(storage, ann, dm, "deploy in private")
        in_group = await post(storage, cid, group, "deploy to us")
        found = await _candidates(storage, [("team", first), ("team", second), (dm, in_dm),
                                            (group, in_group)])
        assert found == {
            ("team", 0, "bob", ("deploy",), "https://push.example/bob"),
            ("team", 0, "ann", ("lunch",), "https://push.example/ann"),
            (group, 0, "bob", ("deploy",), "https://push.example/bob"),
            (group, 0, "ann", ("lunch",), "https://push.example/ann"),
        }
        others = [t for t in await storage.push_targets([(dm, in_dm), (group, in_group)])
                  if t.reason != "keyword"]
        assert others and all(isinstance(t, PushTarget) and t.keywords == () for t in others)

        # the level: 'none' leaves them out, 'all' and 'mentions' keep them
        await storage.set_notify(bob.id, "team", "none")
        await storage.set_notify(ann.id, "team", "all")
        await storage.set_notify(bob.id, group, "mentions")
        await storage.set_notify(ann.id, group, "none")
        assert await _candidates(storage, [("team", second), (group, in_group)]) == {
            ("team", 0, "ann", ("lunch",), "https://push.example/ann"),
            (group, 0, "bob", ("deploy",), "https://push.example/bob"),
        }
        # cleared: no candidate
        await storage.set_keywords(ann.id, [])
        await storage.set_keywords(bob.id, [])
        assert await _candidates(storage, [("team", second), (group, in_group)]) == set()


async def test_a_big_rooms_members_are_not_walked_for_keywords(storage: Storage,
                                                               database_dsn: str) -> None:
    """In a room of 20,000 members of whom 10 have keywords, the lookup starts from those
    who have any (the partial index of migration 0047) and probes their memberships: it
    scans neither the users nor the memberships; the candidates are those 10 (each once for
    the batch's five messages)."""
    from chatd.storage.postgres import _SQL_PUSH_TARGETS

    with trio.fail_after(TIMEOUT * 3):
        ann, = await users(storage, "ann")
        await storage.create_room(ann.id, "big", private=False, topic="")
        async with open_bridge(name="explain") as bridge:
            conn: Any = await bridge.run(asyncpg.connect, database_dsn)
            try:
                await bridge.run(conn.execute, """
                    INSERT INTO users (name, password_hash, keywords)
                        SELECT 'u' || g, 'h', CASE WHEN g % 2000 = 0 THEN ARRAY['deploy'] END
                        FROM generate_series(1, 20000) g;
                    INSERT INTO memberships (room_id, user_id)
                        SELECT r.id, u.id FROM rooms r, users u
                        WHERE r.name = 'big' AND u.name LIKE 'u%';
                    INSERT INTO push_subscriptions (endpoint, user_id, p256dh, auth)
                        SELECT 'https://p.example/' || id, id, 'k', 'a' FROM users
                        WHERE name LIKE 'u%';
                    ANALYZE users; ANALYZE memberships; ANALYZE push_subscriptions
                """)
                seqs = [await post(storage, ann, "big", f"deploy {i}") for i in range(5)]
                rows = await bridge.run(conn.fetch, "EXPLAIN " + _SQL_PUSH_TARGETS,
                                        ["big"] * len(seqs), seqs)
                plan = "\n".join(row[0] for row in rows)
            finally:
                await bridge.run(conn.close)
        found = await storage.push_targets([("big", seq) for seq in seqs])
    assert sorted(t.user for t in found if t.reason == "keyword") == sorted(
        f"u{g}" for g in range(2000, 20001, 2000))
    assert "Seq Scan on memberships" not in plan, plan
    assert "Seq Scan on users" not in plan, plan
    assert "users_keywords_idx" in plan, plan
