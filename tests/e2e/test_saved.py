"""End-to-end: saved messages and their reminders (``save``, ``saved_items``, ``saved`` and
``reminder`` events, the welcome's ``reminders_due``, the HTTP routes, Web Push).

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s).
A reminder is set a little ahead (:data:`SOON`) and the test waits for its event, never for
the time to pass; times are compared with the test's clock, which is the daemon's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import trio

from chatd.rooms import ToUser
from chatd.server import Server
from chatd.storage.bridge import open_bridge
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import running
from tests.e2e.test_push import metric, push_config, subscribed
from tests.helpers import LIFTED_RATES, make_config, now_ms, until
from tests.pushservice import PushService

#: How far ahead a reminder is set: enough for the request to arrive before it is due.
SOON = 1500
HOUR = 3600 * 1000


async def _posted(client: Client, room: str, text: str) -> int:
    """Join ``room`` and send ``text`` there: the message's msg_id."""
    await client.request("join", room=room)
    reply = await client.request("send", room=room, text=text, nonce=text)
    assert reply["op"] == "ok", reply
    return int(reply["msg_id"])


async def made_due(dsn: str, msg_id: int) -> None:
    """Make the reminder of saved message ``msg_id`` due a minute ago, by the database's
    clock (not by waiting): the due loop takes it at its next look."""
    async with open_bridge(name="raw") as bridge:
        conn: Any = await bridge.run(asyncpg.connect, dsn)
        try:
            moved = await bridge.run(
                conn.execute,
                "UPDATE saved SET remind_at = now() - interval '1 minute' WHERE msg_id = $1",
                msg_id)
            assert moved == "UPDATE 1"
        finally:
            await bridge.run(conn.close)


async def saved_once_marked(client: Client) -> list[dict[str, Any]]:
    """The client's saved items once every reminder due is marked reminded (the mark is
    committed before any node tells the reminder; a reminder not yet claimed is waited
    for too)."""
    with trio.fail_after(10):
        while True:
            items: list[dict[str, Any]] = (await client.request("saved_items"))["items"]
            due = [i for i in items if i["remind_at"] is not None and i["remind_at"] <= now_ms()]
            if all(i["reminded"] for i in due):
                return items
            await trio.sleep(0.05)


async def test_save_reaches_every_connection_and_lists_newest_first(
        daemon: Server, nursery: trio.Nursery) -> None:
    """save answers after the commit; every connection of the user (TCP and WebSocket, the
    asking one too) gets a saved event, nobody else; saved_items lists the items newest
    saved first, each with its message as it is now, and pages by ts; saving again is
    unchanged; on false removes it everywhere."""
    ann_token = await register_and_login(daemon.http_port, "ann")
    ann = await Client.signed_in(daemon.tcp_port, ann_token)
    bob_token = await register_and_login(daemon.http_port, "bob")
    phone = await Client.signed_in(daemon.tcp_port, bob_token)
    laptop = await Client.ws(daemon.http_port, nursery)
    await laptop.hello(bob_token)
    await phone.request("join", room="general")
    first = await _posted(ann, "general", "first")
    second = await _posted(ann, "general", "second")

    reply = await phone.request("save", room="general", msg_id=first)
    assert reply["op"] == "ok" and reply["on"] is True and reply["remind_at"] is None
    ts = reply["ts"]
    for client in (phone, laptop):
        event = await client.event("saved", msg_id=first)
        assert event == {"op": "saved", "room": "general", "msg_id": first, "on": True,
                         "remind_at": None, "ts": ts}
    later = now_ms() + HOUR
    reply = await laptop.request("save", room="general", msg_id=second, remind_at=later)
    assert reply["remind_at"] == later and reply["ts"] > ts
    assert await phone.event("saved", msg_id=second, remind_at=later)
    again = await phone.request("save", room="general", msg_id=second, remind_at=later)
    assert again["unchanged"] is True

    await ann.request("edit", room="general", msg_id=first, text="first, edited")
    page = await phone.request("saved_items")
    assert [i["msg_id"] for i in page["items"]] == [second, first] and page["more"] is False
    newest, oldest = page["items"]
    assert newest["remind_at"] == later and newest["reminded"] is False
    assert oldest["message"]["text"] == "first, edited" and oldest["message"]["from"] == "ann"
    one = await phone.request("saved_items", limit=1)
    assert [i["msg_id"] for i in one["items"]] == [second] and one["more"] is True
    rest = await phone.request("saved_items", before=one["items"][0]["ts"])
    assert [i["msg_id"] for i in rest["items"]] == [first] and rest["more"] is False

    reply = await phone.request("save", room="general", msg_id=first, on=False)
    assert reply["op"] == "ok" and reply["on"] is False
    for client in (phone, laptop):
        assert await client.event("saved", msg_id=first, on=False)
    gone = await phone.request("save", room="general", msg_id=first, on=False)
    assert gone["unchanged"] is True
    page = await laptop.request("saved_items")
    assert [i["msg_id"] for i in page["items"]] == [second]
    await ann.request("ping")
    assert [e for e in ann.events if e["op"] == "saved"] == []
    for client in (ann, phone, laptop):
        await client.aclose()


async def test_a_reminder_reaches_every_connection_once_and_stays_saved(
        daemon: Server, nursery: trio.Nursery) -> None:
    """A reminder set a little ahead comes as a reminder event to every connection of the
    user with the message as it is now; the item stays saved, reminded; a new welcome
    counts it in reminders_due; a new remind_at clears reminded."""
    ann = await Client.signed_in(daemon.tcp_port, await register_and_login(daemon.http_port, "ann"))
    token = await register_and_login(daemon.http_port, "bob")
    phone = await Client.signed_in(daemon.tcp_port, token)
    laptop = await Client.ws(daemon.http_port, nursery)
    welcome = await laptop.hello(token)
    assert welcome["reminders_due"] == 0
    msg_id = await _posted(ann, "general", "call the plumber")
    await phone.request("join", room="general")
    remind_at = now_ms() + SOON
    reply = await phone.request("save", room="general", msg_id=msg_id, remind_at=remind_at)
    assert reply["op"] == "ok", reply
    for client in (phone, laptop):
        event = await client.event("reminder", msg_id=msg_id)
        assert event["room"] == "general" and event["remind_at"] == remind_at
        assert event["message"]["text"] == "call the plumber"
        assert event["message"]["msg_id"] == msg_id
    assert now_ms() >= remind_at
    items = await saved_once_marked(phone)
    assert [(i["msg_id"], i["reminded"]) for i in items] == [(msg_id, True)]
    fresh = await Client.tcp(daemon.tcp_port)
    assert (await fresh.hello(token))["reminders_due"] == 1
    await ann.request("ping")
    assert [e for e in ann.events if e["op"] == "reminder"] == []
    # Once only: a round trip after a later save's reminder shows no second one.
    later = now_ms() + HOUR
    await phone.request("save", room="general", msg_id=msg_id, remind_at=later)
    page = await phone.request("saved_items")
    assert [(i["remind_at"], i["reminded"]) for i in page["items"]] == [(later, False)]
    assert [e for e in phone.events if e["op"] == "reminder"] == []
    for client in (ann, phone, laptop, fresh):
        await client.aclose()


def _quiet(tmp_path: Path, dsn: str, **sections: Any) -> Any:
    """A node whose reminder loop looks only when woken or at start (an hour between its
    safety-net looks): what it does with a reminder is not the safety net's doing."""
    return make_config(tmp_path, dsn, limits=LIFTED_RATES, cluster={"reminder_check": 3600.0},
                       **sections)


async def test_saved_and_reminder_events_reach_the_other_node(tmp_path: Path,
                                                              database_dsn: str) -> None:
    """A save on node A reaches bob's connection on node B as a saved event; a reminder
    node A claims reaches it as a reminder event, with the message read on B."""
    config = _quiet(tmp_path, database_dsn)
    async with running(config) as a, running(config) as b:
        ann = await Client.signed_in(a.tcp_port, await register_and_login(a.http_port, "ann"))
        token = await register_and_login(a.http_port, "bob")
        on_a = await Client.signed_in(a.tcp_port, token)
        on_b = await Client.signed_in(b.tcp_port, token)
        msg_id = await _posted(ann, "general", "on two nodes")
        reply = await on_a.request("save", room="general", msg_id=msg_id)
        assert await on_b.event("saved", msg_id=msg_id, on=True, ts=reply["ts"])
        remind_at = now_ms() + SOON
        await on_a.request("save", room="general", msg_id=msg_id, remind_at=remind_at)
        assert await on_b.event("saved", msg_id=msg_id, remind_at=remind_at)
        for client in (on_a, on_b):
            event = await client.event("reminder", msg_id=msg_id)
            assert event["message"]["text"] == "on two nodes"
            assert event["remind_at"] == remind_at
        assert a.app.reminders is not None and a.app.reminders.delivered == 1
        for client in (ann, on_a, on_b):
            await client.aclose()


async def test_a_slow_node_whose_lease_moved_tells_nothing(tmp_path: Path,
                                                           database_dsn: str) -> None:
    """Node A claims bob's reminder and is slow past its lease (claimed as its loop does,
    with a lease of 0, and told only later); node B claims it again and tells it: each of
    bob's connections (on A and on B) gets the reminder once, and A's late telling tells
    nothing (checked after an event A's registry delivers after it)."""
    config = _quiet(tmp_path, database_dsn)
    async with running(config) as a, running(config) as b:
        assert a.app.reminders is not None and b.app.reminders is not None
        assert b.app.due is not None
        ann = await Client.signed_in(a.tcp_port, await register_and_login(a.http_port, "ann"))
        token = await register_and_login(a.http_port, "bob")
        on_a = await Client.signed_in(a.tcp_port, token)
        on_b = await Client.signed_in(b.tcp_port, token)
        msg_id = await _posted(ann, "general", "once only")
        reply = await on_a.request("save", room="general", msg_id=msg_id,
                                   remind_at=now_ms() + HOUR)
        assert reply["op"] == "ok", reply
        await made_due(database_dsn, msg_id)  # due now; neither loop is woken by it
        [slow] = await a.app.storage.claim_reminders(10, 0.0)
        b.app.due.soon(0)
        for client in (on_a, on_b):
            assert (await client.event("reminder", msg_id=msg_id))["message"]["text"] == \
                "once only"
        await a.app.reminders.tell(slow)
        await a.app.registry.send(ToUser("bob", b'{"op":"after"}\n'))
        await on_a.event("after")
        assert [e for e in on_a.events if e["op"] == "reminder"] == []
        assert (a.app.reminders.delivered, b.app.reminders.delivered) == (0, 1)
        [item] = (await on_b.request("saved_items"))["items"]
        assert item["reminded"] is True
        for client in (ann, on_a, on_b):
            await client.aclose()


async def test_two_nodes_racing_remind_each_once(tmp_path: Path, database_dsn: str) -> None:
    """Twenty reminders due at one time, with both nodes' loops waking for it (each read it
    as its next at start): every one comes once to each of bob's connections, one node or
    the other claiming it; then a later one comes, and nothing more of the twenty."""
    config = _quiet(tmp_path, database_dsn)
    async with running(config) as a:
        ann = await Client.signed_in(a.tcp_port, await register_and_login(a.http_port, "ann"))
        token = await register_and_login(a.http_port, "bob")
        bob = await Client.signed_in(a.tcp_port, token)
        await bob.request("join", room="general")
        ids = [await _posted(ann, "general", f"m{i}") for i in range(21)]
        due = now_ms() + 2 * SOON
        for msg_id in ids[:20]:
            reply = await bob.request("save", room="general", msg_id=msg_id, remind_at=due)
            assert reply["op"] == "ok", reply
        async with running(config) as b:
            on_b = await Client.signed_in(b.tcp_port, token)
            await bob.request("save", room="general", msg_id=ids[20], remind_at=due + SOON)
            for client in (bob, on_b):
                await client.event("reminder", msg_id=ids[20])
                reminded = [e["msg_id"] for e in client.events if e["op"] == "reminder"]
                assert sorted(reminded) == ids[:20]
            assert a.app.reminders is not None and b.app.reminders is not None
            assert a.app.reminders.delivered + b.app.reminders.delivered == 21
            await on_b.aclose()
        await ann.aclose()
        await bob.aclose()


async def test_a_reminder_due_while_stopped_comes_at_start(
        tmp_path: Path, database_dsn: str, nursery: trio.Nursery) -> None:
    """A reminder that came due while no node ran (moved into the past in the database
    while the daemon was stopped) is sent by the daemon as it starts, though its next
    safety-net look is an hour away: bob, offline, gets its push, and his next welcome
    counts it as due."""
    service = PushService()
    await nursery.start(service.serve)
    config = _quiet(tmp_path, database_dsn, push={"allow_private_endpoints": True})
    async with running(config) as a:
        ann = await Client.signed_in(a.tcp_port, await register_and_login(a.http_port, "ann"))
        token = await subscribed(a, service, "bob")
        bob = await Client.signed_in(a.tcp_port, token)
        msg_id = await _posted(ann, "general", "while you were away")
        await bob.request("join", room="general")
        await bob.request("save", room="general", msg_id=msg_id, remind_at=now_ms() + HOUR)
        await ann.aclose()
        await bob.aclose()
    await made_due(database_dsn, msg_id)
    async with running(config) as again:
        with trio.fail_after(20):
            await service.wait_for(lambda: len(service.to("bob")) == 1)
        push = service.to("bob")[0].payload
        assert push["kind"] == "reminder" and push["text"] == "while you were away"
        assert again.app.reminders is not None and again.app.reminders.delivered == 1
        bob = await Client.tcp(again.tcp_port)
        assert (await bob.hello(token))["reminders_due"] == 1
        page = await bob.request("saved_items")
        assert [(i["msg_id"], i["reminded"]) for i in page["items"]] == [(msg_id, True)]
        await bob.aclose()


async def test_a_reminder_is_pushed_to_an_offline_user(tmp_path: Path, database_dsn: str,
                                                       nursery: trio.Nursery) -> None:
    """bob, offline with a push subscription, gets a push of kind reminder for his saved
    message when it is due; ann, online, gets none for hers (she gets the event)."""
    service = PushService()
    await nursery.start(service.serve)
    async with running(push_config(tmp_path, database_dsn)) as daemon:
        with trio.fail_after(20):
            ann = await Client.signed_in(daemon.tcp_port, await subscribed(daemon, service, "ann"))
            bob_token = await subscribed(daemon, service, "bob")
            bob = await Client.signed_in(daemon.tcp_port, bob_token)
            msg_id = await _posted(ann, "general", "water the plants")
            await bob.request("join", room="general")
            remind_at = now_ms() + SOON
            await bob.request("save", room="general", msg_id=msg_id, remind_at=remind_at)
            await bob.aclose()
            await until(lambda: not daemon.app.registry.is_online("bob"))
            await ann.request("save", room="general", msg_id=msg_id, remind_at=remind_at)
            await ann.event("reminder", msg_id=msg_id)
            await service.wait_for(lambda: len(service.to("bob")) == 1)
            push = service.to("bob")[0].payload
            assert push["kind"] == "reminder" and push["room"] == "general"
            assert push["text"] == "water the plants"
            assert push["title"] == "Reminder: ann in general"
            assert service.to("bob")[0].headers["urgency"] == "high"
            assert service.to("ann") == [] and service.problems == []
            assert metric(daemon, "chatd_push_queued_total") == 1
            await ann.aclose()


async def test_not_leaked_after_leaving_a_private_room(daemon: Server,
                                                        database_dsn: str) -> None:
    """bob saves a message of a private room, then is kicked: saved_items leaves it out,
    his reminder on it is never sent (a later one on a public room is), the welcome does
    not count it, and he cannot save it again (forbidden)."""
    ann = await Client.signed_in(daemon.tcp_port, await register_and_login(daemon.http_port, "ann"))
    token = await register_and_login(daemon.http_port, "bob")
    bob = await Client.signed_in(daemon.tcp_port, token)
    assert (await ann.request("create_room", room="secret", private=True))["op"] == "ok"
    await ann.request("invite", room="secret", user="bob")
    await bob.event("joined", room="secret", user="bob")
    secret = (await ann.request("send", room="secret", text="the code is 1234",
                                nonce="s"))["msg_id"]
    public = await _posted(ann, "general", "public")
    await bob.request("join", room="general")
    await bob.request("save", room="secret", msg_id=secret, remind_at=now_ms() + HOUR)
    assert [i["msg_id"] for i in (await bob.request("saved_items"))["items"]] == [secret]
    assert (await ann.request("kick", room="secret", user="bob"))["op"] == "ok"
    await bob.event("left", room="secret", user="bob")
    assert (await bob.request("saved_items"))["items"] == []
    refused = await bob.request("save", room="secret", msg_id=secret)
    assert (refused["op"], refused["code"]) == ("error", "forbidden")
    # The secret one due now, once he is out (not by the clock: a slow machine could reach
    # its time before the kick): the due loop claims it with the public one, due a moment
    # later, which wakes it; being told the public one, bob has had all he ever will.
    await made_due(database_dsn, secret)
    await bob.request("save", room="general", msg_id=public, remind_at=now_ms() + SOON)
    await bob.event("reminder", msg_id=public)
    assert [e for e in bob.events if e["op"] == "reminder"] == []
    await saved_once_marked(bob)
    fresh = await Client.tcp(daemon.tcp_port)
    assert (await fresh.hello(token))["reminders_due"] == 1
    status, body = await http(daemon.http_port, "GET", "/api/me/saved", token=token)
    assert status == 200 and [i["msg_id"] for i in body["items"]] == [public]
    for client in (ann, bob, fresh):
        await client.aclose()


async def test_over_http(daemon: Server) -> None:
    """PUT saves (the socket hears the saved event), GET lists, DELETE removes with 204."""
    ann = await Client.signed_in(daemon.tcp_port, await register_and_login(daemon.http_port, "ann"))
    token = await register_and_login(daemon.http_port, "bob")
    bob = await Client.signed_in(daemon.tcp_port, token)
    msg_id = await _posted(ann, "general", "over http")
    path = f"/api/me/saved/general/{msg_id}"
    later = now_ms() + HOUR
    status, body = await http(daemon.http_port, "PUT", path, {"remind_at": later}, token=token)
    assert status == 200, body
    item = body["item"]
    assert (item["room"], item["msg_id"], item["remind_at"], item["reminded"]) == (
        "general", msg_id, later, False)
    assert await bob.event("saved", msg_id=msg_id, remind_at=later, ts=item["ts"])
    status, body = await http(daemon.http_port, "PUT", path, {"remind_at": later}, token=token)
    assert status == 200 and body["unchanged"] is True
    status, body = await http(daemon.http_port, "GET", "/api/me/saved?limit=5", token=token)
    assert status == 200 and body["more"] is False
    assert body["items"][0]["message"]["text"] == "over http"
    status, body = await http(daemon.http_port, "DELETE", path, token=token)
    assert status == 204 and body == b""
    assert await bob.event("saved", msg_id=msg_id, on=False)
    status, body = await http(daemon.http_port, "GET", "/api/me/saved", token=token)
    assert body == {"items": [], "more": False}
    status, body = await http(daemon.http_port, "PUT", "/api/me/saved/general/999999",
                              token=token)
    assert status == 404 and body["code"] == "not_found"
    status, _ = await http(daemon.http_port, "GET", "/api/me/saved")
    assert status == 401
    await ann.aclose()
    await bob.aclose()


async def test_refusals(tmp_path: Path, database_dsn: str) -> None:
    """A reminder in the past or more than a year ahead, a message of another room, a
    deleted message, an unknown room: each refused with its code, nothing stored; past
    limits.saved_per_user, too_many_saved until one is removed."""
    config = make_config(tmp_path, database_dsn, limits={"saved_per_user": 2})
    async with running(config) as daemon:
        ann = await Client.signed_in(daemon.tcp_port,
                               await register_and_login(daemon.http_port, "ann"))
        ids = [await _posted(ann, "general", f"m{i}") for i in range(3)]
        other = await _posted(ann, "other", "elsewhere")
        year = 366 * 24 * HOUR
        for fields, code in (
                ({"msg_id": ids[0], "remind_at": now_ms() - 1000}, "bad_request"),
                ({"msg_id": ids[0], "remind_at": now_ms() + year + HOUR}, "bad_request"),
                ({"msg_id": ids[0], "remind_at": "soon"}, "bad_request"),
                ({"msg_id": other}, "not_found"),
                ({"msg_id": ids[0], "room": "nowhere"}, "not_found")):
            refused = await ann.request("save", **{"room": "general", **fields})
            assert (refused["op"], refused["code"]) == ("error", code), fields
        assert (await ann.request("saved_items"))["items"] == []
        await ann.request("delete", room="general", msg_id=ids[2])
        refused = await ann.request("save", room="general", msg_id=ids[2])
        assert refused["code"] == "not_found"
        for msg_id in ids[:2]:
            assert (await ann.request("save", room="general", msg_id=msg_id))["op"] == "ok"
        refused = await ann.request("save", room="general", msg_id=other)
        assert refused["code"] == "not_found"
        refused = await ann.request("save", room="other", msg_id=other)
        assert refused["code"] == "too_many_saved"
        # Changing a reminder of a saved one is no new item.
        assert (await ann.request("save", room="general", msg_id=ids[0],
                                  remind_at=now_ms() + HOUR))["op"] == "ok"
        await ann.request("save", room="general", msg_id=ids[1], on=False)
        assert (await ann.request("save", room="other", msg_id=other))["op"] == "ok"
        await ann.aclose()
