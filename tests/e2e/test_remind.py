"""End-to-end: reminders of anything (``remind``, ``POST /api/me/reminders``): the text is
written to the user's notes to self and saved with the reminder, which then comes as any
saved message's does.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s).
A reminder is set a little ahead and the test waits for its event, never for the time to
pass.
"""

from __future__ import annotations

from pathlib import Path

import trio

from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import running
from tests.e2e.test_saved import HOUR, SOON, saved_once_marked
from tests.helpers import make_config, now_ms


async def test_a_note_to_self_saved_and_reminded_on_every_connection(
        daemon: Server, nursery: trio.Nursery) -> None:
    """remind writes the text to @bob:bob (a message every connection of bob's gets), saves
    it with the reminder (the saved event), and at the time the reminder event comes to
    every connection, once; nobody else hears of it."""
    ann = await Client.signed_in(daemon.tcp_port, await register_and_login(daemon.http_port, "ann"))
    token = await register_and_login(daemon.http_port, "Bob")
    phone = await Client.signed_in(daemon.tcp_port, token)
    laptop = await Client.ws(daemon.http_port, nursery)
    await laptop.hello(token)
    remind_at = now_ms() + SOON
    reply = await phone.request("remind", text="call the bank", remind_at=remind_at, nonce="r1")
    assert reply["op"] == "ok", reply
    assert (reply["room"], reply["seq"], reply["remind_at"]) == ("@bob:bob", 1, remind_at)
    assert "unchanged" not in reply
    msg_id = reply["msg_id"]
    for client in (phone, laptop):
        message = await client.event("message", room="@bob:bob", msg_id=msg_id)
        assert message["text"] == "call the bank" and message["from"] == "Bob"
        assert await client.event("saved", room="@bob:bob", msg_id=msg_id, remind_at=remind_at)
    for client in (phone, laptop):
        event = await client.event("reminder", msg_id=msg_id)
        assert event["room"] == "@bob:bob" and event["message"]["text"] == "call the bank"
    items = await saved_once_marked(phone)
    assert [(i["room"], i["msg_id"], i["reminded"]) for i in items] == [
        ("@bob:bob", msg_id, True)]
    await ann.request("ping")
    assert [e for e in ann.events if e["op"] in ("message", "saved", "reminder")] == []
    for client in (ann, phone, laptop):
        await client.aclose()


async def test_the_same_nonce_again_is_one_note_and_one_reminder(daemon: Server) -> None:
    """A resend (its reply lost) stores nothing new: the same note, unchanged; a nonce used
    before for a message elsewhere is refused, and nothing of that message is saved."""
    token = await register_and_login(daemon.http_port, "ann")
    ann = await Client.signed_in(daemon.tcp_port, token)
    later = now_ms() + HOUR
    first = await ann.request("remind", text="water the plants", remind_at=later, nonce="n1")
    again = await ann.request("remind", text="water the plants", remind_at=later, nonce="n1")
    assert again["op"] == "ok" and again["unchanged"] is True
    assert (again["msg_id"], again["seq"]) == (first["msg_id"], first["seq"])
    history = await ann.request("history", room="@ann:ann")
    assert [m["text"] for m in history["messages"]] == ["water the plants"]

    await ann.request("join", room="general")
    sent = await ann.request("send", room="general", text="hello", nonce="n2")
    refused = await ann.request("remind", text="hello", remind_at=later, nonce="n2")
    assert (refused["op"], refused["code"]) == ("error", "bad_request"), refused
    items = (await ann.request("saved_items"))["items"]
    assert [i["msg_id"] for i in items] == [first["msg_id"]] and sent["msg_id"] not in [
        i["msg_id"] for i in items]
    await ann.aclose()


async def test_over_http(daemon: Server) -> None:
    """POST /api/me/reminders answers 201 with the note; the socket hears the saved event."""
    token = await register_and_login(daemon.http_port, "ann")
    ann = await Client.signed_in(daemon.tcp_port, token)
    later = now_ms() + HOUR
    body = {"text": "renew the passport", "remind_at": later, "nonce": "h1"}
    status, reply = await http(daemon.http_port, "POST", "/api/me/reminders", body, token=token)
    assert status == 201, reply
    assert (reply["room"], reply["remind_at"]) == ("@ann:ann", later)
    assert await ann.event("saved", msg_id=reply["msg_id"], remind_at=later)
    status, again = await http(daemon.http_port, "POST", "/api/me/reminders", body, token=token)
    assert status == 201 and again["unchanged"] is True and again["msg_id"] == reply["msg_id"]
    status, refused = await http(daemon.http_port, "POST", "/api/me/reminders",
                                 {**body, "nonce": "h2", "remind_at": now_ms() - 1000},
                                 token=token)
    assert status == 400 and refused["code"] == "bad_request"
    status, _ = await http(daemon.http_port, "POST", "/api/me/reminders", body)
    assert status == 401
    await ann.aclose()


async def test_refusals_store_nothing(tmp_path: Path, database_dsn: str) -> None:
    """A time in the past or more than a year ahead, a blank text, a missing nonce: refused
    before anything is written. Past limits.saved_per_user the note is written but not
    saved (too_many_saved), as a save of it would be."""
    config = make_config(tmp_path, database_dsn, limits={"saved_per_user": 1})
    async with running(config) as daemon:
        ann = await Client.signed_in(daemon.tcp_port,
                                     await register_and_login(daemon.http_port, "ann"))
        year = 366 * 24 * HOUR
        for fields in ({"remind_at": now_ms() - 1000},
                       {"remind_at": now_ms() + year + HOUR},
                       {"remind_at": "soon"},
                       {"text": "  "},
                       {"nonce": None}):
            request = {"text": "x", "remind_at": now_ms() + HOUR, "nonce": "a", **fields}
            refused = await ann.request("remind", **{k: v for k, v in request.items()
                                                     if v is not None})
            assert (refused["op"], refused["code"]) == ("error", "bad_request"), fields
        rooms = await ann.request("rooms")
        assert "@ann:ann" not in [r["room"] for r in rooms["rooms"]]
        ok = await ann.request("remind", text="one", remind_at=now_ms() + HOUR, nonce="b")
        assert ok["op"] == "ok"
        full = await ann.request("remind", text="two", remind_at=now_ms() + HOUR, nonce="c")
        assert (full["op"], full["code"]) == ("error", "too_many_saved")
        history = await ann.request("history", room="@ann:ann")
        assert [m["text"] for m in history["messages"]] == ["one", "two"]
        await ann.aclose()
