"""Contract tests of moderation: roles, bans, kicks, administrators, deactivated accounts and
the audit log, against a real (embedded) PostgreSQL.

The rules (chatd.storage.changes, the module's docstring): whoever moderates a room (its
owner, its moderators, every administrator; nobody in a conversation) deletes others'
messages, sets the topic, bans, unbans and kicks; only the owner and administrators set roles,
and ``owner`` hands the room over; banning and kicking need to outrank the target, and the
owner cannot be removed. Each change is an entry of the room's log and a row of the audit
log, in one transaction; a refusal stores nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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
    MembershipNotice,
    NewChange,
    NewEntry,
    NewMessage,
    PushSubscription,
    Storage,
    User,
    open_storage,
)
from chatd.storage.bridge import open_bridge
from chatd.storage.changes import BANS_LOCK, outranks
from tests.helpers import make_config

TIMEOUT = 20


@pytest.fixture
def config(tmp_path: Path, database_dsn: str) -> Config:
    return make_config(tmp_path, database_dsn)


async def users(storage: Storage, *names: str) -> list[User]:
    return [await storage.create_user(name, "hash") for name in names]


async def one(storage: Storage, entry: NewEntry) -> Appended:
    """Store one entry; its outcome (a refusal is raised)."""
    [outcome] = await storage.append_messages([entry])
    if isinstance(outcome, ChatError):
        raise outcome
    return outcome


async def refusal(storage: Storage, entry: NewEntry) -> str:
    """The code an entry is refused with (failing the test if it is stored)."""
    [outcome] = await storage.append_messages([entry])
    assert isinstance(outcome, ChatError), outcome
    return outcome.code


def change(actor: User, room: str, kind: str, target: str = "", text: str = "",
           expires_at: int | None = None, msg_id: int = 0) -> NewChange:
    return NewChange(user_id=actor.id, room=room, msg_id=msg_id, kind=kind, target=target,
                     text=text, expires_at=expires_at)


async def say(storage: Storage, user: User, room: str, text: str) -> int:
    """Post a message; its msg_id."""
    done = await one(storage, NewMessage(user_id=user.id, room=room, text=text,
                                         nonce=f"{user.name}/{text}"))
    return done.message.msg_id


async def roles(storage: Storage, viewer: User, room: str) -> dict[str, str]:
    return {m.name: m.role for m in (await storage.member_page(viewer.id, room)).members}


@asynccontextmanager
async def database(dsn: str) -> AsyncIterator[Any]:
    """A raw asyncpg connection on the test's database (through a bridge of its own)."""
    async with open_bridge(name="raw") as bridge:
        conn: Any = await bridge.run(asyncpg.connect, dsn)

        class Raw:
            async def fetch(self, sql: str, *args: Any) -> list[Any]:
                return list(await bridge.run(conn.fetch, sql, *args))

            async def fetchval(self, sql: str, *args: Any) -> Any:
                return await bridge.run(conn.fetchval, sql, *args)

            async def execute(self, sql: str, *args: Any) -> Any:
                return await bridge.run(conn.execute, sql, *args)

        try:
            yield Raw()
        finally:
            await bridge.run(conn.close)


async def snapshot(raw: Any) -> dict[str, Any]:
    """What moderation may change: every table it writes, as rows."""
    return {
        "rooms": [tuple(r) for r in await raw.fetch(
            "SELECT name, owner_id, last_seq, topic FROM rooms ORDER BY id")],
        "memberships": [tuple(r) for r in await raw.fetch(
            "SELECT room_id, user_id, role FROM memberships ORDER BY 1, 2")],
        "bans": [tuple(r) for r in await raw.fetch(
            "SELECT room_id, user_id, reason, expires_at FROM bans ORDER BY 1, 2")],
        "changes": await raw.fetchval("SELECT count(*) FROM changes"),
        "audit": await raw.fetchval("SELECT count(*) FROM audit_log"),
        "deleted": await raw.fetchval("SELECT count(*) FROM messages WHERE deleted_at IS NOT NULL"),
    }


async def _team(storage: Storage) -> tuple[User, User, User, User]:
    """owner ann, moderator mod, members bob and cid, in the public room "team"."""
    ann, mod, bob, cid = await users(storage, "ann", "Mod", "bob", "cid")
    await storage.create_room(ann.id, "team", private=False, topic="")
    for user in (mod, bob, cid):
        await storage.join_room(user.id, "team")
    await one(storage, change(ann, "team", "role", "mod", "moderator"))
    return ann, mod, bob, cid


def test_rank_rule() -> None:
    """An administrator outranks every role, an owner a moderator, a moderator a member;
    nobody outranks an equal."""
    assert outranks(True, None, False, "owner")
    assert not outranks(False, "owner", True, None)
    assert outranks(False, "owner", False, "moderator")
    assert outranks(False, "moderator", False, "member")
    assert outranks(False, "moderator", False, None)
    assert not outranks(False, "moderator", False, "moderator")
    assert not outranks(True, None, True, "member")


async def test_roles_are_entries_of_the_log_and_rows_of_the_audit_log(
        storage: Storage, database_dsn: str) -> None:
    """set_role takes the room's next seq, shows in history as a ``role`` entry and in
    ``member_page``, and writes its audit row; the same role again stores nothing."""
    with trio.fail_after(TIMEOUT):
        ann, mod, bob, _cid = await _team(storage)
        assert await roles(storage, bob, "team") == {"ann": "owner", "Mod": "moderator",
                                                    "bob": "member", "cid": "member"}
        done = await one(storage, change(ann, "team", "role", "BOB", "moderator"))
        assert not done.duplicate and done.message.target == "bob"
        again = await one(storage, change(ann, "team", "role", "bob", "moderator"))
        assert again.duplicate and again.message.seq == done.message.seq
        page = await storage.history(bob.id, "team", limit=10)
        assert [(m.kind, m.target, m.text, m.sender) for m in page.messages] == [
            ("role", "Mod", "moderator", "ann"), ("role", "bob", "moderator", "ann")]
        assert [m.seq for m in page.messages] == [1, 2] and page.last_seq == 2
        [room] = [r for r in await storage.user_rooms(bob.id) if r.name == "team"]
        assert room.role == "moderator"
        entries = await storage.audit_log(ann.id, room="team", limit=10)
        assert [(e.actor, e.action, e.target, e.details["role"]) for e in entries] == [
            ("ann", "set_role", "bob", "moderator"), ("ann", "set_role", "Mod", "moderator")]
        assert mod.name == "Mod"


async def test_handing_the_room_over(storage: Storage) -> None:
    """The owner gives ``owner`` to a member: they own it now, the old owner is a
    moderator; the owner's own role cannot be changed otherwise."""
    with trio.fail_after(TIMEOUT):
        ann, mod, bob, cid = await _team(storage)
        assert await refusal(storage, change(ann, "team", "role", "ann", "member")) == \
            "bad_request"
        assert await refusal(storage, change(mod, "team", "role", "bob", "owner")) == \
            "forbidden"
        await one(storage, change(ann, "team", "role", "bob", "owner"))
        assert await roles(storage, cid, "team") == {"ann": "moderator", "Mod": "moderator",
                                                    "bob": "owner", "cid": "member"}
        [room] = [r for r in await storage.user_rooms(ann.id) if r.name == "team"]
        assert room.owner == "bob" and room.role == "moderator"
        # The new owner sets roles; the old one no longer does.
        assert await refusal(storage, change(ann, "team", "role", "cid", "moderator")) == \
            "forbidden"
        await one(storage, change(bob, "team", "role", "ann", "member"))
        assert (await roles(storage, cid, "team"))["ann"] == "member"


async def test_who_moderates_what(storage: Storage, database_dsn: str) -> None:
    """Moderators delete others' messages, set the topic, kick and ban members; members do
    none of it; a moderator cannot remove another moderator nor the owner; nobody removes
    themselves. Every refusal stores nothing."""
    with trio.fail_after(TIMEOUT):
        ann, mod, bob, cid = await _team(storage)
        by_bob = await say(storage, bob, "team", "spam")
        async with database(database_dsn) as raw:
            before = await snapshot(raw)
            denials = [
                (mod, NewChange(user_id=mod.id, room="team", msg_id=by_bob, kind="edited",
                                text="x")),
                (cid, change(cid, "team", "deleted", msg_id=by_bob)),
                (cid, change(cid, "team", "topic", text="mine now")),
                (cid, change(cid, "team", "kicked", "bob")),
                (cid, change(cid, "team", "banned", "bob")),
                (cid, change(cid, "team", "unbanned", "bob")),
                (cid, change(cid, "team", "role", "cid", "moderator")),
                (mod, change(mod, "team", "role", "cid", "moderator")),
                (mod, change(mod, "team", "kicked", "ann")),
                (mod, change(mod, "team", "banned", "ann")),
                (ann, change(ann, "team", "kicked", "ann")),
                (mod, change(mod, "team", "kicked", "mod")),
                (ann, change(ann, "team", "kicked", "nobody")),
                (ann, change(ann, "team", "role", "nobody", "moderator")),
                (ann, change(ann, "nowhere", "kicked", "bob")),
            ]
            codes = [await refusal(storage, entry) for _, entry in denials]
            assert codes == ["forbidden"] * 8 + ["bad_request"] * 4 + ["not_found"] * 3
            assert await snapshot(raw) == before
            await storage.join_room((await users(storage, "mod2"))[0].id, "team")
            await one(storage, change(ann, "team", "role", "mod2", "moderator"))
            assert await refusal(storage, change(mod, "team", "kicked", "mod2")) == "forbidden"

            deleted = await one(storage, change(mod, "team", "deleted", msg_id=by_bob))
            assert deleted.message.sender == "Mod"
            await one(storage, change(mod, "team", "topic", text="be nice"))
            kicked = await one(storage, change(mod, "team", "kicked", "bob", "calm down"))
            assert kicked.removed and kicked.message.text == "calm down"
            assert not (await one(storage, change(mod, "team", "kicked", "bob"))).removed
            banned = await one(storage, change(mod, "team", "banned", "cid", "spam"))
            assert banned.removed
            actions = [(r["action"], r["target"]) for r in await raw.fetch(
                "SELECT l.action, t.name AS target FROM audit_log l "
                "LEFT JOIN users t ON t.id = l.target_id ORDER BY l.id")]
            assert actions[-4:] == [("delete", "bob"), ("set_topic", None), ("kick", "bob"),
                                    ("ban", "cid")]
            # The author deleting their own message is no moderation: no audit row.
            own = await say(storage, ann, "team", "oops")
            count = await raw.fetchval("SELECT count(*) FROM audit_log")
            await one(storage, change(ann, "team", "deleted", msg_id=own))
            assert await raw.fetchval("SELECT count(*) FROM audit_log") == count


async def test_a_ban_keeps_a_user_out_until_lifted(storage: Storage) -> None:
    """A banned member is removed; they cannot join, be invited, read history, list the
    members or send; a ban may name a non-member; unbanning lets them back in."""
    with trio.fail_after(TIMEOUT):
        ann, mod, bob, cid = await _team(storage)
        (eve,) = await users(storage, "eve")
        await say(storage, ann, "team", "hello")
        done = await one(storage, change(mod, "team", "banned", "bob", "spam"))
        assert done.removed and done.message.kind == "banned" and done.message.text == "spam"
        assert not await storage.is_member("team", "bob")
        for call in (storage.join_room(bob.id, "team"), storage.invite(cid.id, "team", "bob"),
                     storage.history(bob.id, "team", limit=5),
                     storage.member_page(bob.id, "team")):
            with pytest.raises(ChatError) as info:
                await call
            assert info.value.code == "forbidden"
        [sent] = await storage.append_messages([NewMessage(user_id=bob.id, room="team",
                                                           text="let me in", nonce="b9")])
        assert isinstance(sent, ChatError) and sent.code == "forbidden"
        pre = await one(storage, change(ann, "team", "banned", "eve"))
        assert not pre.removed
        with pytest.raises(ChatError):
            await storage.join_room(eve.id, "team")
        assert [b.user for b in await storage.bans(mod.id, "team")] == ["eve", "bob"]
        with pytest.raises(ChatError) as info:
            await storage.bans(cid.id, "team")
        assert info.value.code == "forbidden"
        # The same ban again changes nothing; another reason replaces it.
        assert (await one(storage, change(mod, "team", "banned", "bob", "spam"))).duplicate
        assert not (await one(storage, change(mod, "team", "banned", "bob", "more"))).duplicate
        assert (await one(storage, change(mod, "team", "unbanned", "bob"))).message.kind == \
            "unbanned"
        assert (await one(storage, change(mod, "team", "unbanned", "bob"))).duplicate
        assert (await storage.join_room(bob.id, "team")).newly_joined
        kinds = [(m.kind, m.target) for m in
                 (await storage.history(bob.id, "team", limit=20)).messages]
        assert kinds[-4:] == [("banned", "bob"), ("banned", "eve"), ("banned", "bob"),
                              ("unbanned", "bob")]


async def test_a_ban_ends_by_itself(storage: Storage) -> None:
    """A ban with an end stops holding at that end: the user can join again (waited for as a
    state), and the list of bans no longer shows it. An end in the past is refused."""
    with trio.fail_after(TIMEOUT):
        ann, _mod, bob, _cid = await _team(storage)
        past = int(time.time() * 1000) - 1000
        assert await refusal(storage, change(ann, "team", "banned", "bob",
                                             expires_at=past)) == "bad_request"
        soon = int(time.time() * 1000) + 300
        banned = await one(storage, change(ann, "team", "banned", "bob", expires_at=soon))
        assert banned.message.expires_at == soon
        while True:
            try:
                await storage.join_room(bob.id, "team")
                break
            except ChatError as exc:
                assert exc.code == "forbidden"
                await trio.sleep(0.05)
        assert await storage.bans(ann.id, "team") == []


async def test_administrators_moderate_every_room_but_no_conversation(storage: Storage) -> None:
    """An administrator who is not a member bans, kicks, deletes, sets the topic and the
    roles of any room, private ones too, and hands it over; not in a conversation. The owner
    cannot remove an administrator."""
    with trio.fail_after(TIMEOUT):
        ann, bob, root = await users(storage, "ann", "bob", "root")
        await storage.set_admin("root", True)
        await storage.create_room(ann.id, "den", private=True, topic="")
        await storage.invite(ann.id, "den", "bob")
        msg = await say(storage, bob, "den", "hi")
        await one(storage, change(root, "den", "topic", text="by root"))
        await one(storage, change(root, "den", "deleted", msg_id=msg))
        await one(storage, change(root, "den", "role", "bob", "moderator"))
        await one(storage, change(root, "den", "kicked", "bob"))
        await one(storage, change(root, "den", "banned", "bob"))
        await storage.invite(ann.id, "den", "root")
        assert await refusal(storage, change(ann, "den", "kicked", "root")) == "forbidden"
        await one(storage, change(root, "den", "role", "root", "owner"))
        assert (await roles(storage, ann, "den")) == {"ann": "moderator", "root": "owner"}
        await storage.direct_room(ann.id, "bob")
        dm_msg = await say(storage, ann, "@ann:bob", "private")
        assert await refusal(storage, change(root, "@ann:bob", "deleted", msg_id=dm_msg)) == \
            "forbidden"
        assert await refusal(storage, change(root, "@ann:bob", "kicked", "bob")) == "forbidden"


async def test_a_room_whose_owner_is_deactivated_is_still_moderated(storage: Storage) -> None:
    """Deactivating the owner leaves the room owned; its moderators and administrators go on
    moderating it, and an administrator can hand it to someone else."""
    with trio.fail_after(TIMEOUT):
        _ann, mod, bob, cid = await _team(storage)
        (root,) = await users(storage, "root")
        await storage.set_admin("root", True)
        await storage.set_deactivated("ann", True)
        assert {m.name: m.deactivated for m in (await storage.member_page(bob.id, "team")).members}[
            "ann"] is True
        await one(storage, change(mod, "team", "kicked", "bob"))
        await one(storage, change(root, "team", "role", "cid", "owner"))
        assert (await roles(storage, cid, "team"))["cid"] == "owner"
        assert (await roles(storage, cid, "team"))["ann"] == "moderator"


async def test_deactivating_an_account(storage: Storage, database_dsn: str) -> None:
    """A deactivated account's tokens are refused, its push subscriptions go, its messages
    stay; the audit log says who did it; reactivating lets its new tokens work."""
    with trio.fail_after(TIMEOUT):
        root, bob = await users(storage, "root", "bob")
        await storage.join_room(bob.id, "lobby")
        await say(storage, bob, "lobby", "still here")
        await storage.add_push_subscription(
            bob.id, PushSubscription(endpoint="https://push.example/b", p256dh="k", auth="a"),
            keep=5)
        issued = int(time.time() * 1000) - 1
        assert await storage.check_token(bob.id, "t1", issued) is not None
        gone = await storage.set_deactivated("BOB", True, actor_id=root.id)
        assert gone.deactivated and gone.name == "bob"
        assert await storage.check_token(bob.id, "t2", int(time.time() * 1000) + 5) is None
        credentials = await storage.get_credentials("bob")
        assert credentials is not None and credentials.user.deactivated
        assert [m.text for m in (await storage.history(root.id, "lobby", limit=5)).messages] \
            == ["still here"]
        again = await storage.set_deactivated("bob", True, actor_id=root.id)
        assert again.deactivated_at == gone.deactivated_at
        await storage.set_deactivated("bob", False)
        await trio.sleep(0.002)
        assert await storage.check_token(bob.id, "t3", int(time.time() * 1000)) is not None
        async with database(database_dsn) as raw:
            assert await raw.fetchval("SELECT count(*) FROM push_subscriptions") == 0
            rows = await raw.fetch("SELECT a.name AS actor, l.action FROM audit_log l "
                                   "LEFT JOIN users a ON a.id = l.actor_id ORDER BY l.id")
        assert [(r["actor"], r["action"]) for r in rows] == [("root", "deactivate"),
                                                             (None, "reactivate")]
        with pytest.raises(ChatError) as info:
            await storage.set_deactivated("ghost", True)
        assert info.value.code == "not_found"


async def test_administrators_and_the_audit_log(storage: Storage) -> None:
    """Only administrators read the whole audit log, newest first, a page at a time; a room's
    moderators read that room's; ``set_admin`` and ``create_user(admin)`` are recorded."""
    with trio.fail_after(TIMEOUT):
        ann, mod, bob, _cid = await _team(storage)
        root = await storage.create_user("root", "hash", admin=True)
        assert root.admin
        await storage.set_admin("bob", True, actor_id=root.id)
        await storage.set_admin("bob", True, actor_id=root.id)  # no change: no row
        await storage.set_password("bob", "new-hash", actor_id=root.id)
        with pytest.raises(ChatError) as info:
            await storage.audit_log(ann.id, limit=10)
        assert info.value.code == "forbidden"
        with pytest.raises(ChatError) as info:
            await storage.audit_log(mod.id, room="nowhere", limit=10)
        assert info.value.code == "not_found"
        everything = await storage.audit_log(root.id, limit=10)
        assert [(e.actor, e.action, e.target, e.room) for e in everything] == [
            ("root", "set_password", "bob", None), ("root", "admin", "bob", None),
            (None, "admin", "root", None), ("ann", "set_role", "Mod", "team")]
        assert everything[1].details == {"admin": True}
        older = await storage.audit_log(root.id, before=everything[1].id, limit=2)
        assert [e.id for e in older] == [everything[2].id, everything[3].id]
        assert [e.action for e in await storage.audit_log(mod.id, room="team", limit=10)] == \
            ["set_role"]
        # bob is an administrator now: he reads any room's.
        assert [e.action for e in await storage.audit_log(bob.id, room="team", limit=10)]
        assert json.dumps(everything[0].details)


async def test_finding_users_and_rooms(storage: Storage) -> None:
    """Administrators page users by name (any case, with a search) and rooms with their
    owner and member count; the database's size is known."""
    with trio.fail_after(TIMEOUT):
        made = await users(storage, "Zed", "amy", "Bob", "bobby", "carl")
        page = await storage.find_users(limit=3)
        assert [u.name for u in page] == ["amy", "Bob", "bobby"]
        page = await storage.find_users(after="bobby", limit=3)
        assert [u.name for u in page] == ["carl", "Zed"]
        assert [u.name for u in await storage.find_users(query="BOB", limit=9)] == ["Bob",
                                                                                   "bobby"]
        await storage.create_room(made[0].id, "alpha", private=True, topic="t")
        await storage.join_room(made[1].id, "beta")
        await storage.join_room(made[2].id, "beta")
        await storage.direct_room(made[1].id, "carl")
        await storage.set_deactivated("Zed", True)
        rooms = await storage.admin_rooms(limit=10)
        assert [(r.name, r.owner, r.owner_deactivated, r.members, r.private)
                for r in rooms] == [("alpha", "Zed", True, 1, True), ("beta", "amy", False, 2,
                                                                      False)]
        assert [r.name for r in await storage.admin_rooms(query="et", limit=10)] == ["beta"]
        assert await storage.database_size() > 0


async def test_a_join_waits_for_a_ban_in_progress(storage: Storage, database_dsn: str) -> None:
    """A join that comes while a ban of the same room is being stored waits for its commit
    and then sees it: the banned user is never left a member."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        await storage.create_room(ann.id, "team", private=False, topic="")
        async with database(database_dsn) as raw:
            room_id = await raw.fetchval("SELECT id FROM rooms WHERE name = 'team'")
            # A ban in progress: its transaction holds the room's bans lock, not committed.
            await raw.execute("BEGIN")
            await raw.execute("SELECT pg_advisory_xact_lock($1)", BANS_LOCK + room_id)
            await raw.execute("INSERT INTO bans (room_id, user_id) VALUES ($1, $2)",
                              room_id, bob.id)
            outcome: list[Any] = []

            async def join() -> None:
                try:
                    outcome.append(await storage.join_room(bob.id, "team"))
                except ChatError as exc:
                    outcome.append(exc.code)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(join)
                waiting = ("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                           "AND NOT granted")
                while not await raw.fetchval(waiting):  # noqa: ASYNC110 (the join's lock wait)
                    await trio.sleep(0.01)
                assert outcome == []  # waiting for the ban
                await raw.execute("COMMIT")
        assert outcome == ["forbidden"]
        assert not await storage.is_member("team", "bob")


async def test_a_removal_names_who_made_it_to_the_other_nodes(storage: Storage,
                                                              config: Config) -> None:
    """Another node hears of a kick and of a ban as membership notices ``by`` the moderator
    (and of a leave without one)."""
    heard: list[MembershipNotice] = []
    done = trio.Event()

    def hear(notice: Change) -> None:
        if isinstance(notice, MembershipNotice) and not notice.joined:
            heard.append(notice)
            if len(heard) == 3:
                done.set()

    with trio.fail_after(TIMEOUT):
        ann, mod, _bob, _cid = await _team(storage)
        async with open_storage(config) as other, trio.open_nursery() as nursery:
            await nursery.start(other.follow_changes, hear)
            await one(storage, change(mod, "team", "kicked", "bob"))
            await one(storage, change(ann, "team", "banned", "cid"))
            await storage.leave_room(mod.id, "team")
            await done.wait()
            nursery.cancel_scope.cancel()
    assert [(n.user, n.by) for n in heard] == [("bob", "Mod"), ("cid", "ann"), ("Mod", None)]
