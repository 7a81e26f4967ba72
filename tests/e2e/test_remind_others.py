"""End-to-end: reminders set for someone else (``remind`` with ``user``, Slack's ``/remind
@bob``), the setter's list (``reminders_set``), cancelling one (``cancel_reminder``) and
turning them off (``allow_reminders``), over TCP and WebSocket and HTTP.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s).
A reminder is set a little ahead and the test waits for its event, never for the time to
pass.
"""

from __future__ import annotations

import pytest
import trio

from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import signed_in_over
from tests.e2e.test_saved import HOUR, SOON, saved_once_marked
from tests.helpers import now_ms


async def _pair(daemon: Server, nursery: trio.Nursery, transport: str
                ) -> tuple[Client, Client, dict[str, str]]:
    """ann and Bob, members of one room (general); their tokens."""
    tokens = {n: await register_and_login(daemon.http_port, n) for n in ("ann", "Bob")}
    ann = await signed_in_over(transport, daemon, nursery, tokens["ann"])
    bob = await signed_in_over(transport, daemon, nursery, tokens["Bob"])
    for client in (ann, bob):
        assert (await client.request("join", room="general"))["op"] == "ok"
    return ann, bob, tokens


@pytest.mark.parametrize("transport", ["tcp", "ws"])
async def test_a_reminder_for_bob_reaches_bob_alone(
        daemon: Server, nursery: trio.Nursery, transport: str) -> None:
    """ann reminds bob: the note is ann's message to bob, saved for bob with the reminder
    and set_by ann; at the time bob (and not ann) gets the reminder as of his own; ann's
    list shows it for Bob, reminded; a cancel then is too late."""
    ann, bob, _ = await _pair(daemon, nursery, transport)
    remind_at = now_ms() + SOON
    reply = await ann.request("remind", user="bob", text="send the report",
                              remind_at=remind_at, nonce="r1")
    assert reply["op"] == "ok", reply
    assert (reply["room"], reply["user"], reply["remind_at"]) == ("@ann:bob", "Bob", remind_at)
    msg_id = reply["msg_id"]
    message = await bob.event("message", room="@ann:bob", msg_id=msg_id)
    assert (message["from"], message["text"]) == ("ann", "send the report")
    saved = await bob.event("saved", room="@ann:bob", msg_id=msg_id)
    assert (saved["remind_at"], saved["set_by"]) == (remind_at, "ann")
    listed = await ann.request("reminders_set")
    assert [(i["user"], i["msg_id"], i["reminded"]) for i in listed["items"]] == [
        ("Bob", msg_id, False)]

    event = await bob.event("reminder", msg_id=msg_id)
    assert event["room"] == "@ann:bob" and event["message"]["from"] == "ann"
    items = await saved_once_marked(bob)
    assert [(i["msg_id"], i["set_by"], i["reminded"]) for i in items] == [
        (msg_id, "ann", True)]
    await ann.request("ping")
    assert [e for e in ann.events if e["op"] in ("saved", "reminder")] == []
    listed = await ann.request("reminders_set")
    assert [(i["user"], i["reminded"]) for i in listed["items"]] == [("Bob", True)]
    late = await ann.request("cancel_reminder", user="bob", msg_id=msg_id)
    assert (late["op"], late["code"]) == ("error", "not_found")
    own = await ann.request("saved_items")
    assert own["items"] == []  # the setter's own saved list holds nothing of it
    for client in (ann, bob):
        await client.aclose()


@pytest.mark.parametrize("transport", ["tcp", "ws"])
async def test_cancel_delete_and_refusals(
        daemon: Server, nursery: trio.Nursery, transport: str) -> None:
    """ann cancels a reminder before it fires (bob's item goes: the saved event with on
    false); bob deletes one ann set (then ann's cancel finds none, her list drops it);
    someone who shares no room with ann, an unknown user, and bob once he turned reminders
    from others off are refused; ann reminding herself by name is her own reminder."""
    ann, bob, _ = await _pair(daemon, nursery, transport)
    later = now_ms() + HOUR
    first = await ann.request("remind", user="Bob", text="one", remind_at=later, nonce="a")
    await bob.event("saved", msg_id=first["msg_id"], on=True)
    done = await ann.request("cancel_reminder", user="BOB", msg_id=first["msg_id"])
    assert done["op"] == "ok" and done["user"] == "Bob", done
    assert await bob.event("saved", msg_id=first["msg_id"], on=False)
    assert (await bob.request("saved_items"))["items"] == []
    assert (await ann.request("reminders_set"))["items"] == []

    second = await ann.request("remind", user="bob", text="two", remind_at=later, nonce="b")
    await bob.event("saved", msg_id=second["msg_id"], on=True)
    removed = await bob.request("save", room="@ann:bob", msg_id=second["msg_id"], on=False)
    assert removed["op"] == "ok"
    gone = await ann.request("cancel_reminder", user="bob", msg_id=second["msg_id"])
    assert (gone["op"], gone["code"]) == ("error", "not_found")
    assert (await ann.request("reminders_set"))["items"] == []

    cid = await Client.signed_in(daemon.tcp_port, await register_and_login(daemon.http_port,
                                                                           "cid"))
    stranger = await ann.request("remind", user="cid", text="x", remind_at=later, nonce="c")
    assert (stranger["op"], stranger["code"]) == ("error", "forbidden")
    nobody = await ann.request("remind", user="zed", text="x", remind_at=later, nonce="d")
    assert (nobody["op"], nobody["code"]) == ("error", "not_found")
    assert (await bob.request("allow_reminders"))["on"] is True
    assert (await bob.request("allow_reminders", on=False))["on"] is False
    off = await ann.request("remind", user="bob", text="x", remind_at=later, nonce="e")
    assert (off["op"], off["code"]) == ("error", "forbidden")
    assert (await bob.request("allow_reminders"))["on"] is False
    self_reminder = await ann.request("remind", user="ANN", text="mine", remind_at=later,
                                      nonce="f")
    assert self_reminder["room"] == "@ann:ann" and "user" not in self_reminder
    for client in (ann, bob, cid):
        await client.aclose()


async def test_over_http(daemon: Server, nursery: trio.Nursery) -> None:
    """POST /api/me/reminders with user, GET /api/me/reminders (the setter's list),
    DELETE /api/me/reminders/{user}/{msg_id}, GET and PUT /api/me/allow-reminders."""
    ann, bob, tokens = await _pair(daemon, nursery, "tcp")
    port = daemon.http_port
    later = now_ms() + HOUR
    status, made = await http(port, "POST", "/api/me/reminders",
                              {"text": "call", "remind_at": later, "nonce": "h", "user": "bob"},
                              token=tokens["ann"])
    assert status == 201 and made["user"] == "Bob", made
    status, listed = await http(port, "GET", "/api/me/reminders", token=tokens["ann"])
    assert status == 200 and [i["user"] for i in listed["items"]] == ["Bob"]
    status, saved = await http(port, "GET", "/api/me/saved", token=tokens["Bob"])
    assert status == 200 and saved["items"][0]["set_by"] == "ann"
    status, done = await http(port, "DELETE", f"/api/me/reminders/bob/{made['msg_id']}",
                              token=tokens["ann"])
    assert status == 200 and done["msg_id"] == made["msg_id"]
    status, again = await http(port, "DELETE", f"/api/me/reminders/bob/{made['msg_id']}",
                               token=tokens["ann"])
    assert (status, again["code"]) == (404, "not_found")
    status, policy = await http(port, "PUT", "/api/me/allow-reminders", {"on": False},
                                token=tokens["Bob"])
    assert status == 200 and policy == {"on": False}
    status, policy = await http(port, "GET", "/api/me/allow-reminders", token=tokens["Bob"])
    assert status == 200 and policy == {"on": False}
    status, refused = await http(port, "PUT", "/api/me/allow-reminders", {},
                                 token=tokens["Bob"])
    assert (status, refused["code"]) == (400, "bad_request")
    status, refused = await http(port, "POST", "/api/me/reminders",
                                 {"text": "x", "remind_at": later, "nonce": "i", "user": "bob"},
                                 token=tokens["ann"])
    assert (status, refused["code"]) == (403, "forbidden")
    for client in (ann, bob):
        await client.aclose()


async def test_asking_takes_no_token_setting_does(daemon: Server, nursery: trio.Nursery
                                                  ) -> None:
    """Reading whether others may remind one is free, as the other reads are: it still
    answers once the user's bucket of saves is spent, which setting it then is not."""
    tokens = {"ann": await register_and_login(daemon.http_port, "ann")}
    ann = await signed_in_over("tcp", daemon, nursery, tokens["ann"])
    refused = None
    for n in range(100):  # the bucket holds 30: spend it by setting (2 a second come back)
        reply = await ann.request("allow_reminders", on=n % 2 == 0)
        if reply["op"] == "error":
            refused = reply
            break
    assert refused is not None and refused["code"] == "rate_limited", refused
    for _ in range(5):
        asked = await ann.request("allow_reminders")
        assert asked["op"] == "ok" and isinstance(asked["on"], bool), asked
    status, policy = await http(daemon.http_port, "GET", "/api/me/allow-reminders",
                                token=tokens["ann"])
    assert status == 200 and isinstance(policy["on"], bool), policy
    await ann.aclose()
