"""End-to-end: scheduled messages (``schedule``, ``scheduled_items``, ``edit_scheduled``,
``cancel_scheduled``, the ``scheduled`` event, the welcome's counts, the due loop's claims
across nodes, restarts and kill -9).

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s).
An item is scheduled a little ahead (:data:`SOON`) and the test waits for its ``message`` and
``scheduled`` events, never for the time to pass. Where a node must be caught between a claim
and its end, the test holds a row lock the node's next statement needs, and waits for the
claim to show in the database (a state), never for time.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import trio

from chatd.rooms import ToUser
from chatd.server import Server
from chatd.storage.bridge import open_bridge
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import Daemon, daemon_process, running
from tests.e2e.test_files import upload
from tests.e2e.test_push import subscribed
from tests.helpers import LIFTED_RATES, make_config, now_ms, until
from tests.pushservice import PushService

#: How far ahead an item is scheduled: enough for the request to arrive before it is due.
SOON = 600
HOUR = 3600 * 1000


async def _ann_and_bob(daemon: Server | Daemon) -> tuple[Client, Client, str]:
    """ann and bob in #general, each on a TCP connection; bob's token."""
    ann = await Client.signed_in(daemon.tcp_port, await register_and_login(daemon.http_port, "ann"))
    token = await register_and_login(daemon.http_port, "bob")
    bob = await Client.signed_in(daemon.tcp_port, token)
    for client in (ann, bob):
        assert (await client.request("join", room="general"))["op"] == "ok"
    return ann, bob, token


async def test_a_scheduled_message_is_sent_as_its_user_and_told_everywhere(
        daemon: Server, nursery: trio.Nursery) -> None:
    """schedule answers with the item and tells every connection of the user (TCP and
    WebSocket) an "added" event, nobody else; at send_at the message is a plain message of
    the room from the user (nonce sched:<id>), and the user's connections get "sent" with
    where it was stored; the list is empty again; a welcome counts nothing."""
    ann, bob, token = await _ann_and_bob(daemon)
    laptop = await Client.ws(daemon.http_port, nursery)
    welcome = await laptop.hello(token)
    assert "scheduled_count" not in welcome
    send_at = now_ms() + SOON
    reply = await bob.request("schedule", room="general", text="good morning @ann",
                              send_at=send_at)
    assert reply["op"] == "ok", reply
    item = reply["item"]
    assert {k: item[k] for k in ("room", "text", "files", "thread", "broadcast", "reply_to",
                                 "send_at", "state", "error")} == {
        "room": "general", "text": "good morning @ann", "files": [], "thread": None,
        "broadcast": False, "reply_to": None, "send_at": send_at, "state": "pending",
        "error": None}
    for client in (bob, laptop):
        added = await client.event("scheduled", action="added")
        assert added["item"] == item
    message = await ann.event("message", text="good morning @ann")
    assert message["from"] == "bob" and message["nonce"] == f"sched:{item['item']}"
    assert message["mentions"] == ["ann"] and message["ts"] >= send_at
    for client in (bob, laptop):
        sent = await client.event("scheduled", action="sent")
        assert sent["item"]["item"] == item["item"]
        assert sent["msg"] == {"room": "general", "seq": message["seq"],
                               "msg_id": message["msg_id"], "ts": message["ts"]}
    assert (await bob.request("scheduled_items"))["items"] == []
    await ann.request("ping")
    assert [e for e in ann.events if e["op"] == "scheduled"] == []
    history = await ann.request("history", room="general")
    assert [m["text"] for m in history["messages"]].count("good morning @ann") == 1
    for client in (ann, bob, laptop):
        await client.aclose()


async def test_edit_cancel_and_send_now(daemon: Server) -> None:
    """The list is by send_at; edit_scheduled changes the text and the time (a "changed"
    event); send_at 0 sends at once; cancel_scheduled removes one (a "cancelled" event, ok
    {item: id}); a welcome counts what is left; an item sent or cancelled, or another
    user's, is not_found."""
    ann, bob, token = await _ann_and_bob(daemon)
    later, latest = now_ms() + HOUR, now_ms() + 2 * HOUR
    second = (await bob.request("schedule", room="general", text="second",
                                send_at=latest))["item"]
    first = (await bob.request("schedule", room="general", text="first",
                               send_at=later))["item"]
    listed = await bob.request("scheduled_items")
    assert [i["item"] for i in listed["items"]] == [first["item"], second["item"]]
    fresh = await Client.tcp(daemon.tcp_port)
    welcome = await fresh.hello(token)
    assert welcome["scheduled_count"] == 2 and "scheduled_failed" not in welcome

    edited = await bob.request("edit_scheduled", item=second["item"], text="second, edited",
                               send_at=later - 1000)
    assert edited["item"]["text"] == "second, edited"
    assert edited["item"]["send_at"] == later - 1000
    changed = await fresh.event("scheduled", action="changed")
    assert changed["item"] == edited["item"]
    listed = await bob.request("scheduled_items")
    assert [i["item"] for i in listed["items"]] == [second["item"], first["item"]]

    now = await bob.request("edit_scheduled", item=first["item"], send_at=0)
    assert now["op"] == "ok", now
    message = await ann.event("message", text="first")
    sent = await bob.event("scheduled", action="sent")
    assert sent["msg"]["msg_id"] == message["msg_id"]

    gone = await bob.request("cancel_scheduled", item=second["item"])
    assert gone == {"op": "ok", "id": gone["id"], "item": second["item"]}
    cancelled = await fresh.event("scheduled", action="cancelled")
    assert cancelled["item"]["item"] == second["item"]
    assert (await bob.request("scheduled_items"))["items"] == []
    for item in (first, second):
        extra: dict[str, Any]
        for op, extra in (("cancel_scheduled", {}), ("edit_scheduled", {"text": "x"})):
            refused = await bob.request(op, item=item["item"], **extra)
            assert refused["op"] == "error" and refused["code"] == "not_found", refused
    mine = (await bob.request("schedule", room="general", text="mine",
                              send_at=later))["item"]
    for op, extra in (("cancel_scheduled", {}), ("edit_scheduled", {"send_at": 0})):
        refused = await ann.request(op, item=mine["item"], **extra)
        assert refused["code"] == "not_found", refused
    for client in (ann, bob, fresh):
        await client.aclose()


async def test_bad_input_and_limits(tmp_path: Path, database_dsn: str) -> None:
    """send_at in the past, now, or more than 366 days ahead; a blank text; broadcast
    without thread; a room the user is not in or that does not exist; another's files; a
    text over the limit; an item left with neither text nor file: each a clear error, and
    nothing scheduled. limits.scheduled_per_user: one more is too_many_scheduled, until
    one is cancelled."""
    config = make_config(tmp_path, database_dsn, limits={**LIFTED_RATES,
                                                         "scheduled_per_user": 2})
    async with running(config) as daemon:
        ann, bob, _ = await _ann_and_bob(daemon)
        await ann.request("create_room", room="secret", private=True)
        ahead = now_ms() + HOUR
        cases: list[tuple[dict[str, Any], str]] = [
            ({"room": "general", "text": "x", "send_at": now_ms() - 1000}, "bad_request"),
            ({"room": "general", "text": "x", "send_at": 0}, "bad_request"),
            ({"room": "general", "text": "x", "send_at": now_ms() + 367 * 24 * HOUR},
             "bad_request"),
            ({"room": "general", "text": "x", "send_at": "tomorrow"}, "bad_request"),
            ({"room": "general", "text": "x"}, "bad_request"),
            ({"room": "general", "text": "   ", "send_at": ahead}, "bad_request"),
            ({"room": "general", "text": "x" * 5000, "send_at": ahead}, "bad_request"),
            ({"room": "general", "text": "x", "broadcast": True, "send_at": ahead},
             "bad_request"),
            ({"room": "general", "text": "x", "files": [999999], "send_at": ahead},
             "not_found"),
            ({"room": "secret", "text": "x", "send_at": ahead}, "forbidden"),
            ({"room": "nowhere", "text": "x", "send_at": ahead}, "not_found"),
        ]
        for fields, code in cases:
            refused = await bob.request("schedule", **fields)
            assert refused["op"] == "error" and refused["code"] == code, (fields, refused)
        assert (await bob.request("scheduled_items"))["items"] == []
        for bad in ({"item": "one"}, {"item": 0}, {}):
            refused = await bob.request("cancel_scheduled", **bad)
            assert refused["code"] == "bad_request", refused

        one = (await bob.request("schedule", room="general", text="1", send_at=ahead))["item"]
        await bob.request("schedule", room="general", text="2", send_at=ahead)
        over = await bob.request("schedule", room="general", text="3", send_at=ahead)
        assert over["op"] == "error" and over["code"] == "too_many_scheduled", over
        blank = await bob.request("edit_scheduled", item=one["item"], text=" ")
        assert blank["code"] == "bad_request", blank
        past = await bob.request("edit_scheduled", item=one["item"], send_at=now_ms() - 1)
        assert past["code"] == "bad_request", past
        await bob.request("cancel_scheduled", item=one["item"])
        again = await bob.request("schedule", room="general", text="3", send_at=ahead)
        assert again["op"] == "ok", again
        listed = await bob.request("scheduled_items")
        assert sorted(i["text"] for i in listed["items"]) == ["2", "3"]
        for client in (ann, bob):
            await client.aclose()


def _quiet(tmp_path: Path, dsn: str, **sections: Any) -> Any:
    """A node whose due loop looks only when woken, at start, or when a claim's lease ends
    (an hour between its safety-net looks)."""
    cluster = {"reminder_check": 3600.0, **sections.pop("cluster", {})}
    return make_config(tmp_path, dsn, limits=LIFTED_RATES, cluster=cluster, **sections)


class Database:
    """A connection of the test's own to the daemons' database (through the storage's
    bridge, as asyncpg needs): to look at rows, move them, and hold row locks."""

    def __init__(self, run: Any, conn: Any) -> None:
        self._run = run
        self._conn = conn

    async def value(self, sql: str, *args: Any) -> Any:
        return await self._run(self._conn.fetchval, sql, *args)

    async def execute(self, sql: str, *args: Any) -> str:
        return str(await self._run(self._conn.execute, sql, *args))

    async def until(self, sql: str, *args: Any) -> None:
        """Return once ``sql`` reads true: a state of the database, polled."""
        with trio.fail_after(20):
            while not await self.value(sql, *args):  # noqa: ASYNC110 (rows: nothing to wait on)
                await trio.sleep(0.02)


@asynccontextmanager
async def database(dsn: str, name: str = "raw") -> AsyncIterator[Database]:
    async with open_bridge(name=name) as bridge:
        conn: Any = await bridge.run(asyncpg.connect, dsn)
        try:
            yield Database(bridge.run, conn)
        finally:
            await bridge.run(conn.close)


async def test_events_reach_the_other_node(tmp_path: Path, database_dsn: str) -> None:
    """An item scheduled on node A is told to bob's connection on node B ("added"), and
    its "sent" too, whichever node sends it; ann on B gets the message once."""
    config = _quiet(tmp_path, database_dsn)
    async with running(config) as a, running(config) as b:
        ann = await Client.signed_in(b.tcp_port, await register_and_login(a.http_port, "ann"))
        token = await register_and_login(a.http_port, "bob")
        on_a = await Client.signed_in(a.tcp_port, token)
        on_b = await Client.signed_in(b.tcp_port, token)
        for client in (ann, on_a):
            await client.request("join", room="general")
        reply = await on_a.request("schedule", room="general", text="across",
                                   send_at=now_ms() + SOON)
        added = await on_b.event("scheduled", action="added")
        assert added["item"] == reply["item"]
        message = await ann.event("message", text="across")
        for client in (on_a, on_b):
            sent = await client.event("scheduled", action="sent")
            assert sent["msg"]["msg_id"] == message["msg_id"]
        assert a.app.scheduler is not None and b.app.scheduler is not None
        assert a.app.scheduler.sent + b.app.scheduler.sent == 1
        for client in (ann, on_a, on_b):
            await client.aclose()


async def test_two_nodes_racing_send_each_once(tmp_path: Path, database_dsn: str) -> None:
    """Twenty items due at one time with both nodes' loops waking for it: each message is
    stored once, each "sent" told once per connection, the two nodes' counts add up."""
    config = _quiet(tmp_path, database_dsn)
    async with running(config) as a:
        ann, bob, token = await _ann_and_bob(a)
        due = now_ms() + 3 * SOON
        for i in range(20):
            reply = await bob.request("schedule", room="general", text=f"m{i}", send_at=due)
            assert reply["op"] == "ok", reply
        async with running(config) as b:
            on_b = await Client.signed_in(b.tcp_port, token)
            last = await bob.request("schedule", room="general", text="last",
                                     send_at=due + SOON)
            for client in (bob, on_b):
                await client.event("scheduled", action="sent", item=last["item"])
        history = await ann.request("history", room="general", limit=100)
        texts = [m["text"] for m in history["messages"]]
        assert sorted(texts) == sorted([f"m{i}" for i in range(20)] + ["last"])
        for client in (bob,):
            sent = [e for e in client.events if e["op"] == "scheduled"
                    and e["action"] == "sent"]
            assert len(sent) == 20
        assert a.app.scheduler is not None and b.app.scheduler is not None
        assert a.app.scheduler.sent + b.app.scheduler.sent == 21
        for client in (ann, bob, on_b):
            await client.aclose()


async def test_due_while_stopped_is_sent_at_start(tmp_path: Path, database_dsn: str) -> None:
    """An item that came due while no node ran (moved into the past while the daemon was
    stopped) is sent as the daemon starts, its ts the time it was stored; bob's next
    welcome counts nothing."""
    config = _quiet(tmp_path, database_dsn)
    async with running(config) as a:
        ann, bob, token = await _ann_and_bob(a)
        item = (await bob.request("schedule", room="general", text="while you were away",
                                  send_at=now_ms() + HOUR))["item"]
        for client in (ann, bob):
            await client.aclose()
    async with database(database_dsn) as db:
        moved = await db.execute(
            "UPDATE scheduled SET send_at = now() - interval '1 minute' WHERE id = $1",
            item["item"])
        assert moved == "UPDATE 1"
    started = now_ms()
    async with running(config) as again:
        assert again.app.scheduler is not None
        with trio.fail_after(20):
            await until(lambda: again.app.scheduler is not None
                        and again.app.scheduler.sent == 1)
        bob = await Client.tcp(again.tcp_port)
        welcome = await bob.hello(token)
        assert "scheduled_count" not in welcome
        history = await bob.request("history", room="general")
        [message] = [m for m in history["messages"] if m["text"] == "while you were away"]
        assert message["from"] == "bob" and message["ts"] >= started
        await bob.aclose()


#: The backends of the database waiting for a row lock (the test's).
_WAITING = ("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()")


async def _killed(a: Any, db: Database) -> None:
    """Kill node A with SIGKILL while its next statement waits for a lock the test holds,
    and end that statement's backend: a process killed before its statement reached the
    database (a backend whose client died runs a waiting statement to its end once the lock
    is free: the node then did all its work, just without knowing it)."""
    await db.until(f"SELECT ({_WAITING}) > 0")
    a.process.send_signal(signal.SIGKILL)
    assert await a.process.wait() == -signal.SIGKILL
    await db.value("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                   "WHERE wait_event_type = 'Lock' AND datname = current_database()")
    await db.until(f"SELECT ({_WAITING}) = 0")


async def test_a_node_killed_after_its_claim_loses_nothing_and_stores_once(
        tmp_path: Path, database_dsn: str) -> None:
    """Node A (a process, its claims' lease 1 s) claims bob's item and stores its message,
    and is killed with SIGKILL before it forgets the item (the test holds the item's row
    lock, and waits for the message row: states, not time). Past the lease, bob's cancel
    and edit are refused (not_found: its send had begun, the message is stored; never
    "cancelled" and sent). Node B, started then, claims it again and sends it with the same
    nonce: the message is stored once, and bob (connected to node C, which never looks on
    its own: an hour between its looks) is told "sent" with it; the item is gone."""
    env = {"CHATD_CLUSTER_CLAIM_LEASE": "1", "CHATD_CLUSTER_REMINDER_CHECK": "3600"}
    config = _quiet(tmp_path, database_dsn)
    async with database(database_dsn) as db, database(database_dsn, "rows") as rows, \
            running(config) as c:
        async with daemon_process(tmp_path, database_dsn, "a", env) as a:
            _ann, bob, token = await _ann_and_bob(a)
            on_c = await Client.signed_in(c.tcp_port, token)
            # ann's commits wait for the room's lock: A's send of the item is held there
            await db.execute("BEGIN")
            await db.execute("SELECT 1 FROM rooms WHERE name = 'general' FOR NO KEY UPDATE")
            item = (await bob.request("schedule", room="general", text="kept",
                                      send_at=now_ms() + SOON))["item"]["item"]
            await rows.until("SELECT sending FROM scheduled WHERE id = $1", item)
            await rows.execute("BEGIN")
            await rows.execute("SELECT 1 FROM scheduled WHERE id = $1 FOR UPDATE", item)
            await db.execute("ROLLBACK")  # A stores the message, then waits for the item
            await db.until("SELECT count(*) = 1 FROM messages WHERE text = 'kept'")
            await _killed(a, db)
            await rows.execute("ROLLBACK")
        await db.until("SELECT claimed_until <= now() FROM scheduled WHERE id = $1", item)
        refused = await on_c.request("cancel_scheduled", item=item)
        assert (refused["op"], refused["code"]) == ("error", "not_found"), refused
        refused = await on_c.request("edit_scheduled", item=item, text="changed")
        assert (refused["op"], refused["code"]) == ("error", "not_found"), refused
        async with running(config) as b:
            sent = await on_c.event("scheduled", action="sent")
            assert sent["item"]["item"] == item
            assert await db.value("SELECT count(*) FROM messages WHERE text = 'kept'") == 1
            assert await db.value("SELECT nonce FROM messages WHERE text = 'kept'") == \
                f"sched:{item}"
            assert await db.value("SELECT count(*) FROM scheduled") == 0
            history = await on_c.request("history", room="general")
            assert [m["text"] for m in history["messages"]].count("kept") == 1
            assert sent["msg"]["msg_id"] == next(m["msg_id"] for m in history["messages"]
                                                 if m["text"] == "kept")
            assert b.app.scheduler is not None and c.app.scheduler is not None
            assert (b.app.scheduler.sent, c.app.scheduler.sent) == (0, 0)  # a duplicate
        await on_c.aclose()


async def test_a_cancel_past_a_slow_nodes_lease_wins_and_nothing_is_sent(
        tmp_path: Path, database_dsn: str) -> None:
    """Node A claims bob's item and is slow past its lease (claimed as its loop does, with
    a lease of 0, and sent only later); bob cancels it meanwhile ("cancelled"); A's late
    send sends nothing: no message, no "sent" (checked after an event A's registry
    delivers after it), A's count 0."""
    config = _quiet(tmp_path, database_dsn)
    async with database(database_dsn) as db, running(config) as a:
        assert a.app.scheduler is not None
        ann, bob, _token = await _ann_and_bob(a)
        item = (await bob.request("schedule", room="general", text="never",
                                  send_at=now_ms() + HOUR))["item"]["item"]
        await bob.event("scheduled", action="added")
        assert await db.execute("UPDATE scheduled SET send_at = now() WHERE id = $1",
                                item) == "UPDATE 1"  # due, and no loop is woken by it
        [slow] = await a.app.storage.claim_scheduled(10, 0.0)
        reply = await bob.request("cancel_scheduled", item=item)
        assert reply["op"] == "ok", reply
        assert (await bob.event("scheduled", action="cancelled"))["item"]["item"] == item
        await a.app.scheduler.send(slow)
        await a.app.registry.send(ToUser("bob", b'{"op":"after"}\n'))
        await bob.event("after")
        assert [e for e in bob.events if e["op"] in ("scheduled", "message")] == []
        assert a.app.scheduler.sent == 0
        assert await db.value("SELECT count(*) FROM messages WHERE text = 'never'") == 0
        history = await ann.request("history", room="general")
        assert "never" not in [m["text"] for m in history["messages"]]
        for client in (ann, bob):
            await client.aclose()


async def test_a_reminder_claimed_by_a_killed_node_is_told_by_another(
        tmp_path: Path, database_dsn: str) -> None:
    """Node A (a process, lease 1 s) claims bob's reminder and is killed with SIGKILL
    before it marks it reminded (the test holds bob's row, which the mark waits for, moves
    the reminder into the past, and waits for the claim to show in the database). Node B,
    started then, claims it again after the lease: bob, connected to node C (which never
    looks on its own), gets the reminder event once, and it reads back reminded."""
    env = {"CHATD_CLUSTER_CLAIM_LEASE": "1", "CHATD_CLUSTER_REMINDER_CHECK": "0.2"}
    config = _quiet(tmp_path, database_dsn)
    async with database(database_dsn) as db, database(database_dsn, "rows") as rows, \
            running(config) as c:
        async with daemon_process(tmp_path, database_dsn, "a", env) as a:
            ann, bob, token = await _ann_and_bob(a)
            posted = await ann.request("send", room="general", text="remember", nonce="r")
            msg_id = posted["msg_id"]
            saved = await bob.request("save", room="general", msg_id=msg_id,
                                      remind_at=now_ms() + HOUR)
            assert saved["op"] == "ok", saved
            await bob.aclose()
            on_c = await Client.signed_in(c.tcp_port, token)
            await db.execute("BEGIN")
            await db.execute("SELECT 1 FROM users WHERE name = 'bob' FOR UPDATE")
            await rows.execute("UPDATE saved SET remind_at = now() WHERE msg_id = $1", msg_id)
            await rows.until("SELECT claimed_until IS NOT NULL FROM saved WHERE msg_id = $1",
                             msg_id)
            await _killed(a, rows)
            await db.execute("ROLLBACK")
            assert not await rows.value("SELECT reminded FROM saved WHERE msg_id = $1", msg_id)
        async with running(config) as b:
            event = await on_c.event("reminder", msg_id=msg_id)
            assert event["message"]["text"] == "remember"
            await db.until("SELECT reminded FROM saved WHERE msg_id = $1", msg_id)
            assert b.app.reminders is not None and b.app.reminders.delivered == 1
            assert c.app.reminders is not None and c.app.reminders.delivered == 0
            await on_c.request("ping")
            assert [e for e in on_c.events if e["op"] == "reminder"] == []
        await on_c.aclose()


async def test_refused_at_send_time_is_failed_and_told(tmp_path: Path, database_dsn: str,
                                                       nursery: trio.Nursery) -> None:
    """bob leaves a room he scheduled to, and is banned from another: at their time both
    are refused as a send would be; each stays, failed with send's error, told "failed"
    on every connection; a welcome counts them; offline, the failure is pushed; a new
    send_at makes one pending again, and it is sent once he is back in the room."""
    service = PushService()
    await nursery.start(service.serve)
    config = _quiet(tmp_path, database_dsn, push={"allow_private_endpoints": True})
    async with running(config) as daemon:
        ann = await Client.signed_in(daemon.tcp_port,
                               await register_and_login(daemon.http_port, "ann"))
        token = await subscribed(daemon, service, "bob")
        bob = await Client.signed_in(daemon.tcp_port, token)
        await ann.request("create_room", room="club")
        for client in (ann, bob):
            await client.request("join", room="general")
        await bob.request("join", room="club")
        left = (await bob.request("schedule", room="general", text="left",
                                  send_at=now_ms() + SOON))["item"]
        banned = (await bob.request("schedule", room="club", text="banned",
                                    send_at=now_ms() + HOUR))["item"]
        await bob.request("leave", room="general")
        failed = await bob.event("scheduled", action="failed")
        assert failed["item"]["item"] == left["item"]
        assert failed["item"]["state"] == "failed"
        assert failed["item"]["error"]["code"] == "forbidden"
        assert failed["item"]["error"]["message"]
        listed = await bob.request("scheduled_items")
        assert [(i["item"], i["state"]) for i in listed["items"]] == [
            (left["item"], "failed"), (banned["item"], "pending")]

        ban = await ann.request("ban", room="club", user="bob")
        assert ban["op"] == "ok", ban
        await bob.aclose()
        await until(lambda: not daemon.app.registry.is_online("bob"))
        await _edit_over_http(daemon, token, banned["item"], {"send_at": 0})
        with trio.fail_after(20):
            await service.wait_for(lambda: len(service.to("bob")) == 1)
        push = service.to("bob")[0].payload
        assert push["kind"] == "scheduled" and push["item"] == banned["item"]
        assert push["room"] == "club" and push["error"] == "forbidden"
        assert push["text"] == "banned"

        bob = await Client.signed_in(daemon.tcp_port, token)
        welcome = await Client.tcp(daemon.tcp_port)
        hello = await welcome.hello(token)
        assert hello["scheduled_count"] == 2 and hello["scheduled_failed"] == 2
        await bob.request("join", room="general")
        again = await bob.request("edit_scheduled", item=left["item"], send_at=now_ms() + SOON)
        assert again["item"]["state"] == "pending" and again["item"]["error"] is None
        message = await ann.event("message", text="left")
        sent = await bob.event("scheduled", action="sent")
        assert sent["msg"]["msg_id"] == message["msg_id"]
        for client in (ann, bob, welcome):
            await client.aclose()


async def _edit_over_http(daemon: Server, token: str, item: int, body: dict[str, Any]
                          ) -> dict[str, Any]:
    status, answer = await http(daemon.http_port, "PATCH", f"/api/me/scheduled/{item}", body,
                                token=token)
    assert status == 200, answer
    return dict(answer["item"])


async def test_files_are_reserved_and_attached_when_sent(tmp_path: Path,
                                                         database_dsn: str) -> None:
    """An upload scheduled with an item is kept from the sweep of expired uploads while
    the item waits (another, not scheduled, expires); the message is sent with it; a
    cancelled item's upload is released (no longer served)."""
    config = _quiet(tmp_path, database_dsn, files={"unattached_seconds": 1})
    async with running(config) as daemon:
        ann, bob, token = await _ann_and_bob(daemon)
        kept = await _upload(daemon, token, "kept.txt")
        spare = await _upload(daemon, token, "spare.txt")
        dropped = await _upload(daemon, token, "dropped.txt")
        item = (await bob.request("schedule", room="general", text="", files=[kept],
                                  send_at=now_ms() + HOUR))["item"]
        assert [f["id"] for f in item["files"]] == [kept]
        assert item["files"][0]["name"] == "kept.txt"
        other = (await bob.request("schedule", room="general", text="later", files=[dropped],
                                   send_at=now_ms() + HOUR))["item"]
        twice = await bob.request("schedule", room="general", text="x", files=[kept],
                                  send_at=now_ms() + HOUR)
        assert twice["code"] == "not_found", twice
        async with database(database_dsn) as db:
            await db.execute("UPDATE files SET created_at = now() - interval '1 hour'")
            expired = await daemon.app.storage.expire_uploads(1)
            assert expired == 1  # spare, not the reserved ones
            assert await db.value("SELECT deleted_at IS NOT NULL FROM files WHERE id = $1",
                                  spare)
            cancelled = await bob.request("cancel_scheduled", item=other["item"])
            assert cancelled["op"] == "ok"
            assert await db.value("SELECT deleted_at IS NOT NULL FROM files WHERE id = $1",
                                  dropped)
        await bob.request("edit_scheduled", item=item["item"], send_at=0)
        message = await ann.event("message", nonce=f"sched:{item['item']}")
        assert [f["id"] for f in message["files"]] == [kept] and message["text"] == ""
        status, _ = await http(daemon.http_port, "GET", message["files"][0]["url"],
                               token=token)
        assert status == 200
        for client in (ann, bob):
            await client.aclose()


async def _upload(daemon: Server, token: str, name: str) -> int:
    file = await upload(daemon, token, "general", name.encode(), filename=name)
    return int(file["id"])


async def test_to_a_conversation_and_as_a_thread_reply(daemon: Server) -> None:
    """An item to a conversation (its room's name) is sent there; one with thread and
    broadcast is a thread reply also shown in the room, as a send of them would be."""
    ann, bob, _ = await _ann_and_bob(daemon)
    first = await ann.request("dm", to="bob", text="hi bob", nonce="d1")
    assert first["op"] == "ok", first
    room = first["room"]
    root = await ann.request("send", room="general", text="root", nonce="r1")
    await bob.request("schedule", room=room, text="hi ann, later", send_at=now_ms() + SOON)
    await bob.request("schedule", room="general", text="in the thread", send_at=now_ms() + SOON,
                      thread=root["msg_id"], broadcast=True)
    dm = await ann.event("message", text="hi ann, later")
    assert dm["room"] == room and dm["from"] == "bob"
    reply = await ann.event("message", text="in the thread")
    assert reply["thread"] == root["msg_id"] and reply["broadcast"] is True
    for client in (ann, bob):
        await client.aclose()


async def test_a_send_naming_a_held_file_is_refused(daemon: Server) -> None:
    """A plain send (and a thread reply's) naming a file a scheduled item holds is
    refused with bad_request, the file left unattached; the item, sent now, attaches it."""
    ann, bob, token = await _ann_and_bob(daemon)
    held = await _upload(daemon, token, "held.txt")
    root = await ann.request("send", room="general", text="root", nonce="r1")
    item = (await bob.request("schedule", room="general", text="later", files=[held],
                              send_at=now_ms() + HOUR))["item"]
    for extra in ({}, {"thread": root["msg_id"]}):
        refused = await bob.request("send", room="general", text="now", files=[held],
                                    nonce=f"n{len(extra)}", **extra)
        assert (refused["op"], refused["code"]) == ("error", "bad_request"), refused
        assert "held by a scheduled message" in refused["message"]
    await bob.request("edit_scheduled", item=item["item"], send_at=0)
    message = await ann.event("message", nonce=f"sched:{item['item']}")
    assert [f["id"] for f in message["files"]] == [held]
    sent = await bob.event("scheduled", action="sent")
    assert sent["item"]["item"] == item["item"]
    for client in (ann, bob):
        await client.aclose()


async def test_a_room_deleted_tells_the_users_of_its_items(tmp_path: Path,
                                                           database_dsn: str) -> None:
    """An administrator deletes a room on node A: bob's items to it are removed at once
    (nothing to claim and fail later), and each of his connections, on A and on B, gets a
    "cancelled" event with the item failed not_found (the room was deleted); his item to
    another room stays."""
    config = _quiet(tmp_path, database_dsn)
    async with running(config) as a, running(config) as b:
        root = await register_and_login(a.http_port, "root")
        await a.app.storage.set_admin("root", True)
        token = await register_and_login(a.http_port, "bob")
        on_a = await Client.signed_in(a.tcp_port, token)
        on_b = await Client.signed_in(b.tcp_port, token)
        await on_a.request("create_room", room="team")
        await on_a.request("join", room="general")
        doomed = (await on_a.request("schedule", room="team", text="to team",
                                     send_at=now_ms() + HOUR))["item"]
        kept = (await on_a.request("schedule", room="general", text="to general",
                                   send_at=now_ms() + HOUR))["item"]
        await on_b.event("scheduled", action="added", item=kept)
        status, body = await http(a.http_port, "DELETE", "/api/admin/rooms/team", token=root)
        assert (status, body) == (200, {})
        for client in (on_a, on_b):
            told = await client.event("scheduled", action="cancelled")
            assert told["item"] == {**doomed, "state": "failed", "error": {
                "code": "not_found", "message": "the room #team was deleted"}}
        items = (await on_b.request("scheduled_items"))["items"]
        assert [i["item"] for i in items] == [kept["item"]]
        for client in (on_a, on_b):
            await client.aclose()
