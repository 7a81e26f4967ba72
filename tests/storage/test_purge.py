"""Contract tests of purges (a ban or a deactivation with ``delete_messages``), against a real
(embedded) PostgreSQL: a ``purge`` change deletes its target's messages to the room sent within
the window, and nothing else, each as the ``deleted`` entry a ``delete`` by the purger makes
(chatd.storage.changes, the module's docstring); at most its limit, saying when more wait; one
audit row; a refusal stores nothing.
"""

from __future__ import annotations

import dataclasses

import trio

from chatd.storage import COMMAND_LINE, PURGE_MAX, NewChange, NewMessage, Storage, User
from tests.storage.test_moderation import (
    TIMEOUT,
    _team,
    change,
    database,
    one,
    refusal,
    say,
    snapshot,
    users,
)


def purge(actor: User, room: str, target: str, within: int, limit: int = PURGE_MAX
          ) -> NewChange:
    return NewChange(user_id=actor.id, room=room, msg_id=0, kind="purge", target=target,
                     within=within, limit=limit)


async def age(raw: object, msg_id: int, seconds: int) -> None:
    """Make message ``msg_id`` look sent ``seconds`` ago."""
    await raw.execute(  # type: ignore[attr-defined]
        "UPDATE messages SET created_at = now() - $2 * interval '1 second' WHERE id = $1",
        msg_id, seconds)


async def test_a_purge_deletes_the_targets_recent_messages_only(
        storage: Storage, database_dsn: str) -> None:
    """Only bob's messages to the room, only those of the window, none already deleted: each
    a ``deleted`` entry by the moderator, with its reactions and its edits' words gone; one
    audit row with the count; the same purge again changes nothing."""
    with trio.fail_after(TIMEOUT):
        ann, mod, bob, cid = await _team(storage)
        await storage.create_room(ann.id, "other", private=False, topic="")
        await storage.join_room(bob.id, "other")
        spam = [await say(storage, bob, "team", f"spam {i}") for i in range(4)]
        old = await say(storage, bob, "team", "a week ago")
        gone = await say(storage, bob, "team", "deleted by bob")
        elsewhere = await say(storage, bob, "other", "spam elsewhere")
        kept = await say(storage, cid, "team", "cid's")
        await one(storage, NewChange(user_id=bob.id, room="team", msg_id=spam[0],
                                     kind="edited", text="spam 0 edited"))
        await one(storage, NewChange(user_id=cid.id, room="team", msg_id=spam[1],
                                     kind="reaction", emoji="👍"))
        await one(storage, change(bob, "team", "deleted", msg_id=gone))
        async with database(database_dsn) as raw:
            await age(raw, old, 7200)
            last = (await storage.history(ann.id, "team", limit=1)).last_seq
            done = await one(storage, purge(mod, "team", "BOB", 3600))
            assert not done.duplicate and not done.more
            assert [(m.kind, m.sender, m.room) for m in done.entries] == [
                ("deleted", "Mod", "team")] * 4
            assert sorted(m.msg_id for m in done.entries) == sorted(spam)
            assert [m.seq for m in done.entries] == list(range(last + 1, last + 5))
            page = await storage.history(ann.id, "team", limit=50)
            state = {m.msg_id: m for m in page.messages if m.kind == "message"}
            assert all(state[i].deleted for i in spam) and state[gone].deleted
            assert not state[old].deleted and not state[kept].deleted
            assert state[spam[1]].reactions == ()
            assert not (await storage.history(bob.id, "other", limit=10)).messages[-1].deleted
            edits = await raw.fetch("SELECT text FROM changes WHERE kind = 'edited'")
            assert [r["text"] for r in edits] == [""]
            reactions = await raw.fetchval("SELECT count(*) FROM reactions")
            assert reactions == 0
            rows = await raw.fetch(
                "SELECT l.action, a.name AS actor, t.name AS target, l.details::text "
                "FROM audit_log l JOIN users a ON a.id = l.actor_id "
                "JOIN users t ON t.id = l.target_id WHERE l.action IN ('purge', 'delete')")
            assert [(r["action"], r["actor"], r["target"]) for r in rows] == [
                ("purge", "Mod", "bob")]
            assert '"deleted": 4' in rows[0]["details"]

            before = await snapshot(raw)
            again = await one(storage, purge(mod, "team", "bob", 3600))
            assert again.duplicate and again.entries == () and not again.more
            assert await snapshot(raw) == before
            assert elsewhere


async def test_who_may_purge(storage: Storage, database_dsn: str) -> None:
    """A member cannot purge (nor purge a conversation); an unknown user is not found; a
    refusal stores nothing. An administrator purges a conversation (a deactivation with
    its messages); a moderator purges even a non-member's messages (after a ban)."""
    with trio.fail_after(TIMEOUT):
        ann, mod, bob, cid = await _team(storage)
        [root] = await users(storage, "root")
        await storage.set_admin("root", True)
        await say(storage, bob, "team", "spam")
        await storage.direct_room(bob.id, "cid")
        dm = "@bob:cid"
        await say(storage, bob, dm, "dm spam")
        async with database(database_dsn) as raw:
            before = await snapshot(raw)
            assert await refusal(storage, purge(cid, "team", "bob", 60)) == "forbidden"
            assert await refusal(storage, purge(cid, dm, "bob", 60)) == "forbidden"
            assert await refusal(storage, purge(ann, dm, "bob", 60)) == "forbidden"
            assert await refusal(storage, purge(ann, "team", "nobody", 60)) == "not_found"
            assert await refusal(storage, purge(ann, "nowhere", "bob", 60)) == "not_found"
            assert await snapshot(raw) == before
            await one(storage, change(mod, "team", "banned", "bob", "spam"))
            assert len((await one(storage, purge(mod, "team", "bob", 60))).entries) == 1
            assert len((await one(storage, purge(root, dm, "bob", 60))).entries) == 1


async def test_a_purge_is_bounded(storage: Storage, database_dsn: str) -> None:
    """At most PURGE_MAX messages (newest first), ``more`` while some wait; the next purge
    takes the rest. A smaller limit is kept too."""
    with trio.fail_after(TIMEOUT * 3):
        ann, _mod, bob, _cid = await _team(storage)
        count = PURGE_MAX + 3
        await storage.append_messages([
            NewMessage(user_id=bob.id, room="team", text=f"spam {i}", nonce=f"n{i}")
            for i in range(count)])
        first = await one(storage, purge(ann, "team", "bob", 60))
        assert len(first.entries) == PURGE_MAX and first.more
        second = await one(storage, purge(ann, "team", "bob", 60, limit=2))
        assert len(second.entries) == 2 and second.more
        third = await one(storage, purge(ann, "team", "bob", 60))
        assert len(third.entries) == 1 and not third.more
        ids = {m.msg_id for o in (first, second, third) for m in o.entries}
        assert len(ids) == count
        # Newest first: the first purge took the last PURGE_MAX messages sent.
        assert max(m.msg_id for m in third.entries) < min(m.msg_id for m in first.entries)
        assert (await one(storage, purge(ann, "team", "bob", 60))).duplicate


async def test_two_purges_in_one_batch_delete_each_message_once(storage: Storage) -> None:
    """Two moderators purging at once (one batch): each message is deleted once."""
    with trio.fail_after(TIMEOUT):
        ann, mod, bob, _cid = await _team(storage)
        for i in range(3):
            await say(storage, bob, "team", f"spam {i}")
        outcomes = await storage.append_messages([purge(ann, "team", "bob", 60),
                                                  purge(mod, "team", "bob", 60)])
        counts = [len(o.entries) for o in outcomes if not isinstance(o, Exception)]
        assert counts == [3, 0]


async def test_the_command_line_purges_as_the_author_and_audits_no_actor(
        storage: Storage, database_dsn: str) -> None:
    """A purge by COMMAND_LINE (the operator, who has no account) needs no right in the
    room, in a room and in a conversation alike: its ``deleted`` entries are by the author,
    and its audit rows name no actor. A purge by user id 0 of an unknown target is
    ``not_found`` and stores nothing."""
    with trio.fail_after(TIMEOUT):
        _ann, _mod, bob, _cid = await _team(storage)
        await say(storage, bob, "team", "spam")
        await storage.direct_room(bob.id, "cid")
        await say(storage, bob, "@bob:cid", "dm spam")
        operator = NewChange(user_id=COMMAND_LINE, room="team", msg_id=0, kind="purge",
                             target="bob", within=60)
        async with database(database_dsn) as raw:
            before = await snapshot(raw)
            nobody = dataclasses.replace(operator, target="nobody")
            assert await refusal(storage, nobody) == "not_found"
            assert await snapshot(raw) == before
            for room in ("team", "@bob:cid"):
                done = await one(storage, dataclasses.replace(operator, room=room))
                assert [(e.kind, e.sender) for e in done.entries] == [("deleted", "bob")]
            rows = await raw.fetch("SELECT actor_id, action, target_id FROM audit_log "
                                   "WHERE action = 'purge' ORDER BY id")
            assert [tuple(r) for r in rows] == [(None, "purge", bob.id)] * 2
            actors = await raw.fetch("SELECT actor_id, kind FROM changes ORDER BY room_id, seq")
            assert [tuple(r) for r in actors if r["kind"] == "deleted"] == [(bob.id, "deleted")] * 2
