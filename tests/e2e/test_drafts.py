"""End-to-end: drafts kept on the server (``set_draft``, ``drafts``, the ``draft`` event), over
TCP and WebSocket, on one node and two, and over HTTP; a send clearing its draft on every
device (and only the draft it was sent from); leaving a room dropping its drafts; the limits
and refusals; and what the clearing costs the sends of users without drafts.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s)
and waits for the frame it asserts, never for time. That no event came is checked after a
``ping`` answered on the same connection (and, for another connection, after the event that
connection does get, which the server sent after it would have sent the other).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from chatd.drafts import SentFrom
from chatd.server import Server
from chatd.storage import drafts as stored_drafts
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import ann_on_two_devices, running
from tests.e2e.test_resume_one_read import _runs
from tests.helpers import LIFTED_RATES, make_config, until


async def _no_draft_event(client: Client) -> None:
    """``client`` holds no ``draft`` event, once a ping is answered after."""
    assert (await client.request("ping"))["op"] == "ok"
    assert [e for e in client.events if e["op"] == "draft"] == []


def _listed(reply: dict[str, Any]) -> list[tuple[str, int | None, str]]:
    return [(d["room"], d.get("thread"), d["text"]) for d in reply["drafts"]]


@pytest.fixture(params=["tcp", "ws"])
async def people(request: pytest.FixtureRequest, daemon: Server, nursery: trio.Nursery
                 ) -> dict[str, Any]:
    """ann (over the transport of the parameter, and a second connection over TCP, her
    laptop), bob and cid; ann's token; ann and bob in "team"."""
    clients = await ann_on_two_devices(daemon, nursery, request.param)
    for name in ("ann", "bob"):
        assert (await clients[name].request("join", room="team"))["op"] == "ok"
    return clients


async def test_set_listed_and_told_to_the_other_devices(people: dict[str, Any]) -> None:
    """ann saves a draft on one device: the reply has it as stored, her other device gets
    the event (with its time), the asking one does not, bob never; ``drafts`` lists it; the
    same text again tells nobody; a thread's draft is its own; an empty text deletes it and
    is told."""
    ann, laptop, bob = people["ann"], people["laptop"], people["bob"]
    listed = await ann.request("drafts")
    assert (listed["drafts"], listed["most"]) == ([], 200)
    saved = await ann.request("set_draft", room="team", text="I think we shoul")
    assert (saved["op"], saved["room"], saved["text"]) == ("ok", "team", "I think we shoul")
    assert "thread" not in saved and isinstance(saved["updated_at"], int)
    assert await laptop.event("draft") == {"op": "draft", "room": "team",
                                           "text": "I think we shoul",
                                           "updated_at": saved["updated_at"]}
    await _no_draft_event(ann)
    same = await laptop.request("set_draft", room="team", text="I think we shoul")
    assert same["unchanged"] is True and "updated_at" not in same
    reply = await laptop.request("set_draft", room="team", thread=7, text="in a thread")
    assert reply["thread"] == 7
    assert (await ann.event("draft"))["thread"] == 7
    assert _listed(await laptop.request("drafts")) == [
        ("team", 7, "in a thread"), ("team", None, "I think we shoul")]
    gone = await ann.request("set_draft", room="team", thread=7, text="  ")
    assert (gone["text"], gone["thread"]) == ("", 7)
    assert (await laptop.event("draft", thread=7))["text"] == ""
    await _no_draft_event(laptop)
    await _no_draft_event(bob)
    assert (await bob.request("drafts"))["drafts"] == []


async def test_a_send_clears_it_on_every_device(people: dict[str, Any]) -> None:
    """ann's draft of "team" is cleared when she sends there from her laptop: both devices
    get the event with an empty text; her thread's draft stays until she replies in the
    thread; bob's draft of the room is his own; a send where ann has no draft tells
    nothing."""
    ann, laptop, bob = people["ann"], people["laptop"], people["bob"]
    root = await bob.request("send", room="team", text="root", nonce="r")
    await ann.request("set_draft", room="team", text="half")
    await ann.request("set_draft", room="team", thread=root["msg_id"], text="reply half")
    await bob.request("set_draft", room="team", text="bob's")
    for _ in range(2):
        await laptop.event("draft")
    sent = await laptop.request("send", room="team", text="half done", nonce="n1")
    assert sent["op"] == "ok"
    for device in (ann, laptop):
        told = await device.event("draft", room="team", text="")
        assert "thread" not in told and told["updated_at"] == sent["ts"]
    assert _listed(await ann.request("drafts")) == [("team", root["msg_id"], "reply half")]
    reply = await ann.request("send", room="team", text="the reply", nonce="n2",
                              thread=root["msg_id"])
    assert reply["op"] == "ok"
    for device in (ann, laptop):
        assert (await device.event("draft", thread=root["msg_id"]))["text"] == ""
    assert (await ann.request("drafts"))["drafts"] == []
    assert _listed(await bob.request("drafts")) == [("team", None, "bob's")]
    assert (await ann.request("send", room="team", text="no draft", nonce="n3"))["op"] == "ok"
    # bob's draft cleared by his send: told after ann's send would have been
    await bob.request("send", room="team", text="bob's done", nonce="b1")
    await bob.event("draft", text="")
    await _no_draft_event(ann)
    await _no_draft_event(laptop)


async def test_a_draft_typed_after_the_send_stays(daemon: Server,
                                                  people: dict[str, Any]) -> None:
    """A draft stored after the message was sent (another device typing the next one) is
    not cleared by it: the clearing compares times."""
    ann = people["ann"]
    sweeper = daemon.app.drafts
    assert sweeper is not None
    sent = await ann.request("send", room="team", text="first", nonce="f")
    await until(lambda: sweeper.index.known("ann"))
    saved = await ann.request("set_draft", room="team", text="the next one")
    assert saved["updated_at"] > sent["ts"]
    await sweeper.sweep([SentFrom("ann", "team", 0, sent["ts"])])
    assert _listed(await ann.request("drafts")) == [("team", None, "the next one")]


async def test_leaving_drops_them(people: dict[str, Any]) -> None:
    """Leaving a room drops ann's drafts of it; drafts of a room she is not in are refused;
    ``drafts`` no longer lists them."""
    ann = people["ann"]
    await ann.request("set_draft", room="team", text="bye")
    assert (await ann.request("leave", room="team"))["op"] == "ok"
    assert (await ann.request("drafts"))["drafts"] == []
    refused = await ann.request("set_draft", room="team", text="again")
    assert (refused["op"], refused["code"]) == ("error", "forbidden")
    refused = await ann.request("set_draft", room="nowhere", text="x")
    assert (refused["op"], refused["code"]) == ("error", "not_found")


async def test_refusals(people: dict[str, Any]) -> None:
    """No text, not a string, too long, a bad room or thread: ``bad_request``; nothing is
    stored, nobody is told."""
    ann, laptop = people["ann"], people["laptop"]
    cases: list[dict[str, Any]] = [
        {"room": "team"}, {"room": "team", "text": None}, {"room": "team", "text": 5},
        {"room": "team", "text": "x" * 4001}, {"room": "Not A Room!", "text": "x"},
        {"text": "x"}, {"room": "team", "text": "x", "thread": 0},
        {"room": "team", "text": "x", "thread": "7"}, {"room": "team", "text": "a\u0000b"},
    ]
    for fields in cases:
        refused = await ann.request("set_draft", **fields)
        assert (refused["op"], refused["code"]) == ("error", "bad_request"), (fields, refused)
    assert (await ann.request("drafts"))["drafts"] == []
    fine = await ann.request("set_draft", room="team", text="x" * 4000)
    assert fine["op"] == "ok"
    await laptop.event("draft")
    await _no_draft_event(laptop)


async def test_the_limit_and_the_bucket(tmp_path: Path, database_dsn: str) -> None:
    """With limits.drafts_per_user 2, a third room's draft is ``too_many_drafts`` (naming
    the key) while the two can be replaced; saving faster than the bucket is
    ``rate_limited`` with ``retry_after``."""
    config = make_config(tmp_path, database_dsn, limits={"drafts_per_user": 2})
    async with running(config) as server:
        ann = await Client.signed_in(server.tcp_port,
                                     await register_and_login(server.http_port, "ann"))
        for room in ("a", "b", "c"):
            assert (await ann.request("join", room=room))["op"] == "ok"
        assert (await ann.request("set_draft", room="a", text="1"))["op"] == "ok"
        assert (await ann.request("set_draft", room="b", text="2"))["op"] == "ok"
        over = await ann.request("set_draft", room="c", text="3")
        assert (over["op"], over["code"]) == ("error", "too_many_drafts")
        assert "limits.drafts_per_user" in over["message"]
        assert (await ann.request("set_draft", room="b", text="2 again"))["op"] == "ok"
        replies = [(await ann.request("set_draft", room="a", text=f"v{n}"))
                   for n in range(40)]
        limited = [reply for reply in replies if reply["op"] == "error"]
        assert limited and all(r["code"] == "rate_limited" and r["retry_after"] > 0
                               for r in limited)
        await ann.aclose()


async def test_across_nodes(tmp_path: Path, database_dsn: str) -> None:
    """ann on two nodes: a draft saved on node A reaches her connection on node B (not
    bob's there); B, which had learnt she had no drafts (a send of hers there), follows the
    event: her next send on B clears the draft and tells A."""
    config = make_config(tmp_path, database_dsn, limits=LIFTED_RATES)
    async with running(config) as a, running(config) as b:
        token = await register_and_login(a.http_port, "ann")
        here = await Client.signed_in(a.tcp_port, token)
        there = await Client.signed_in(b.tcp_port, token)
        bob = await Client.signed_in(b.tcp_port, await register_and_login(a.http_port, "bob"))
        for client in (here, bob):
            assert (await client.request("join", room="team"))["op"] == "ok"
        assert (await there.request("send", room="team", text="hi", nonce="1"))["op"] == "ok"
        sweeper = b.app.drafts
        assert sweeper is not None
        await until(lambda: sweeper.index.known("ann"))
        assert not sweeper.index.may_have("ann", "team", 0)
        saved = await here.request("set_draft", room="team", text="from A")
        assert await there.event("draft") == {"op": "draft", "room": "team", "text": "from A",
                                              "updated_at": saved["updated_at"]}
        assert sweeper.index.may_have("ann", "team", 0)
        sent = await there.request("send", room="team", text="from A, sent on B", nonce="2")
        for device in (here, there):
            assert (await device.event("draft", text=""))["updated_at"] == sent["ts"]
        assert (await here.request("drafts"))["drafts"] == []
        await _no_draft_event(bob)
        for client in (here, there, bob):
            await client.aclose()


async def test_over_http(daemon: Server) -> None:
    """GET /api/me/drafts, PUT and DELETE /api/me/drafts/{room} (``?thread=``) do what the
    requests do; every socket connection of the user hears a change made over HTTP; a send
    over HTTP clears the draft too; bad bodies 400; no token 401; not a member 403."""
    port = daemon.http_port
    token = await register_and_login(port, "ann")
    ann = await Client.signed_in(daemon.tcp_port, token)
    assert (await ann.request("join", room="team"))["op"] == "ok"
    assert await http(port, "GET", "/api/me/drafts", token=token) == (
        200, {"drafts": [], "most": 200})
    status, body = await http(port, "PUT", "/api/me/drafts/team", {"text": "hello"},
                              token=token)
    assert (status, body["room"], body["text"]) == (200, "team", "hello")
    assert (await ann.event("draft"))["text"] == "hello"
    status, body = await http(port, "PUT", "/api/me/drafts/team",
                              {"text": "threaded", "thread": 5}, token=token)
    assert (status, body["thread"]) == (200, 5)
    await ann.event("draft", thread=5)
    status, body = await http(port, "GET", "/api/me/drafts", token=token)
    assert [(d["room"], d.get("thread"), d["text"]) for d in body["drafts"]] == [
        ("team", 5, "threaded"), ("team", None, "hello")]
    status, body = await http(port, "DELETE", "/api/me/drafts/team?thread=5", token=token)
    assert (status, body["text"], body["thread"]) == (200, "", 5)
    await ann.event("draft", thread=5, text="")
    status, body = await http(port, "DELETE", "/api/me/drafts/team?thread=5", token=token)
    assert (status, body["unchanged"]) == (200, True)
    status, body = await http(port, "POST", "/api/rooms/team/messages",
                              {"text": "sent over http", "nonce": "h1"}, token=token)
    assert status in (200, 201), body
    await ann.event("draft", text="")
    assert await http(port, "GET", "/api/me/drafts", token=token) == (
        200, {"drafts": [], "most": 200})
    for data in ({}, {"text": 3}, {"text": "x", "thread": 0}):
        status, body = await http(port, "PUT", "/api/me/drafts/team", data, token=token)
        assert (status, body["code"]) == (400, "bad_request"), (data, body)
    status, body = await http(port, "PUT", "/api/me/drafts/elsewhere", {"text": "x"},
                              token=token)
    assert (status, body["code"]) == (404, "not_found")
    assert (await http(port, "GET", "/api/me/drafts"))[0] == 401
    assert (await http(port, "PUT", "/api/me/drafts/team", {"text": "x"}))[0] == 401
    await _no_draft_event(ann)
    await ann.aclose()


@pytest.fixture
async def one_connection(tmp_path: Path, database_dsn: str) -> Any:
    # One connection in the pool: every statement is on it, and counted there.
    config = make_config(tmp_path, database_dsn, database={"pool_size": 1},
                         limits=LIFTED_RATES)
    async with running(config) as server:
        yield server


async def test_sends_of_a_user_without_drafts_cost_no_statement(one_connection: Server
                                                                 ) -> None:
    """ann has no draft: her first send makes the node read her drafts once (one statement,
    draft_keys), her next ten none; a draft of hers saved here is then known, and the send
    from it is one deletion."""
    server = one_connection
    token = await register_and_login(server.http_port, "ann")
    ann = await Client.signed_in(server.tcp_port, token)
    laptop = await Client.signed_in(server.tcp_port, token)
    for room in ("team", "other"):
        assert (await ann.request("join", room=room))["op"] == "ok"
    sweeper = server.app.drafts
    assert sweeper is not None
    before = await _runs(server)
    assert (await ann.request("send", room="team", text="0", nonce="0"))["op"] == "ok"
    await until(lambda: sweeper.index.known("ann"))
    for n in range(1, 11):
        assert (await ann.request("send", room="team", text=str(n), nonce=str(n)))["op"] == "ok"
    await ann.request("set_draft", room="other", text="draft")
    await laptop.event("draft")
    assert (await ann.request("send", room="other", text="sent", nonce="s"))["op"] == "ok"
    await laptop.event("draft", text="")
    after = await _runs(server)

    def ran(sql: str) -> int:
        return after.get(sql, 0) - before.get(sql, 0)

    assert ran(stored_drafts._SQL_DRAFT_KEYS) == 1
    assert ran(stored_drafts._SQL_CLEAR_SENT) == 1
    for client in (ann, laptop):
        await client.aclose()
