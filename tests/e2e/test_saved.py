"""End-to-end: saved messages and their reminders (``save``, ``saved_items``, ``saved`` and
``reminder`` events, the welcome's ``reminders_due``, the HTTP routes, Web Push).

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s).
A reminder is set a little ahead (:data:`SOON`) and the test waits for its event, never for
the time to pass; times are compared with the test's clock, which is the daemon's.
"""

from __future__ import annotations

import time

import trio

from chatd.server import Server
from tests.client import Client, register_and_login

#: How far ahead a reminder is set: enough for the request to arrive before it is due.
SOON = 1500
HOUR = 3600 * 1000


def _now() -> int:
    return time.time_ns() // 1_000_000


async def _connected(port: int, token: str) -> Client:
    client = await Client.tcp(port)
    await client.hello(token)
    return client


async def _posted(client: Client, room: str, text: str) -> int:
    """Join ``room`` and send ``text`` there: the message's msg_id."""
    await client.request("join", room=room)
    reply = await client.request("send", room=room, text=text, nonce=text)
    assert reply["op"] == "ok", reply
    return int(reply["msg_id"])


async def test_save_reaches_every_connection_and_lists_newest_first(
        daemon: Server, nursery: trio.Nursery) -> None:
    """save answers after the commit; every connection of the user (TCP and WebSocket, the
    asking one too) gets a saved event, nobody else; saved_items lists the items newest
    saved first, each with its message as it is now, and pages by ts; saving again is
    unchanged; on false removes it everywhere."""
    ann_token = await register_and_login(daemon.http_port, "ann")
    ann = await _connected(daemon.tcp_port, ann_token)
    bob_token = await register_and_login(daemon.http_port, "bob")
    phone = await _connected(daemon.tcp_port, bob_token)
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
    later = _now() + HOUR
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
    ann = await _connected(daemon.tcp_port, await register_and_login(daemon.http_port, "ann"))
    token = await register_and_login(daemon.http_port, "bob")
    phone = await _connected(daemon.tcp_port, token)
    laptop = await Client.ws(daemon.http_port, nursery)
    welcome = await laptop.hello(token)
    assert welcome["reminders_due"] == 0
    msg_id = await _posted(ann, "general", "call the plumber")
    await phone.request("join", room="general")
    remind_at = _now() + SOON
    reply = await phone.request("save", room="general", msg_id=msg_id, remind_at=remind_at)
    assert reply["op"] == "ok", reply
    for client in (phone, laptop):
        event = await client.event("reminder", msg_id=msg_id)
        assert event["room"] == "general" and event["remind_at"] == remind_at
        assert event["message"]["text"] == "call the plumber"
        assert event["message"]["msg_id"] == msg_id
    assert _now() >= remind_at
    page = await phone.request("saved_items")
    assert [(i["msg_id"], i["reminded"]) for i in page["items"]] == [(msg_id, True)]
    fresh = await Client.tcp(daemon.tcp_port)
    assert (await fresh.hello(token))["reminders_due"] == 1
    await ann.request("ping")
    assert [e for e in ann.events if e["op"] == "reminder"] == []
    # Once only: a round trip after a later save's reminder shows no second one.
    later = _now() + HOUR
    await phone.request("save", room="general", msg_id=msg_id, remind_at=later)
    page = await phone.request("saved_items")
    assert [(i["remind_at"], i["reminded"]) for i in page["items"]] == [(later, False)]
    assert [e for e in phone.events if e["op"] == "reminder"] == []
    for client in (ann, phone, laptop, fresh):
        await client.aclose()
