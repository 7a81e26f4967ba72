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

import time
from pathlib import Path
from typing import Any

import trio

from chatd.server import Server
from tests.client import Client, register_and_login
from tests.e2e.conftest import running
from tests.helpers import LIFTED_RATES, make_config

#: How far ahead an item is scheduled: enough for the request to arrive before it is due.
SOON = 600
HOUR = 3600 * 1000


def _now() -> int:
    return time.time_ns() // 1_000_000


async def _connected(port: int, token: str) -> Client:
    client = await Client.tcp(port)
    await client.hello(token)
    return client


async def _ann_and_bob(daemon: Server) -> tuple[Client, Client, str]:
    """ann and bob in #general, each on a TCP connection; bob's token."""
    ann = await _connected(daemon.tcp_port, await register_and_login(daemon.http_port, "ann"))
    token = await register_and_login(daemon.http_port, "bob")
    bob = await _connected(daemon.tcp_port, token)
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
    send_at = _now() + SOON
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
    later, latest = _now() + HOUR, _now() + 2 * HOUR
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
        ahead = _now() + HOUR
        cases: list[tuple[dict[str, Any], str]] = [
            ({"room": "general", "text": "x", "send_at": _now() - 1000}, "bad_request"),
            ({"room": "general", "text": "x", "send_at": 0}, "bad_request"),
            ({"room": "general", "text": "x", "send_at": _now() + 367 * 24 * HOUR},
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
        past = await bob.request("edit_scheduled", item=one["item"], send_at=_now() - 1)
        assert past["code"] == "bad_request", past
        await bob.request("cancel_scheduled", item=one["item"])
        again = await bob.request("schedule", room="general", text="3", send_at=ahead)
        assert again["op"] == "ok", again
        listed = await bob.request("scheduled_items")
        assert sorted(i["text"] for i in listed["items"]) == ["2", "3"]
        for client in (ann, bob):
            await client.aclose()
