"""End-to-end: followed threads (``follow_thread``, ``read_thread``, ``threads``, the
``thread_state`` event, the welcome's ``threads_unread``), over TCP and WebSocket, on one
node and two.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s)
and waits for the frame it asserts, never for time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import running, signed_in_over
from tests.helpers import LIFTED_RATES, make_config


async def _in(client: Client, room: str = "general") -> None:
    reply = await client.request("join", room=room)
    assert reply["op"] == "ok", reply


async def _say(client: Client, text: str, *, thread: int | None = None,
               room: str = "general") -> dict[str, Any]:
    fields: dict[str, Any] = {} if thread is None else {"thread": thread}
    reply = await client.request("send", room=room, text=text, nonce=text, **fields)
    assert reply["op"] == "ok", reply
    return reply


async def _message(client: Client, msg_id: int) -> dict[str, Any]:
    """The message event of ``msg_id`` as ``client`` received it."""
    return await client.event("message", msg_id=msg_id)


async def _listed(client: Client, **fields: Any) -> list[dict[str, Any]]:
    reply = await client.request("threads", **fields)
    assert reply["op"] == "ok", reply
    return list(reply["threads"])


@pytest.fixture(params=["tcp", "ws"])
async def people(request: pytest.FixtureRequest, daemon: Server, nursery: trio.Nursery
                 ) -> dict[str, Client]:
    """ann, bob, cid and dan in #general; bob over the transport of the parameter."""
    clients: dict[str, Client] = {}
    for name in ("ann", "bob", "cid", "dan"):
        token = await register_and_login(daemon.http_port, name)
        client = await signed_in_over(request.param if name == "bob" else "tcp", daemon,
                                      nursery, token)
        await _in(client)
        clients[name] = client
    return clients


async def test_replying_and_being_named_follow(people: dict[str, Client]) -> None:
    """bob's first reply makes him and ann (the root's author) follow, each told by a
    thread_state event; cid named in a reply follows; the next reply mentions all three;
    dan, who took no part, is neither mentioned nor told."""
    ann, bob, cid, dan = (people[n] for n in ("ann", "bob", "cid", "dan"))
    root = (await _say(ann, "root"))["msg_id"]
    first = await _say(bob, "first", thread=root)
    for client, read in ((bob, first["seq"]), (ann, 0)):
        event = await client.event("thread_state", msg_id=root)
        assert event == {"op": "thread_state", "room": "general", "msg_id": root,
                         "following": True, "read_seq": read}
    second = await _say(bob, "ask @cid", thread=root)
    assert (await cid.event("thread_state", msg_id=root))["following"] is True
    assert (await _message(dan, second["msg_id"]))["mentions"] == ["ann", "cid"]
    third = await _say(dan, "me too", thread=root)
    assert (await _message(ann, third["msg_id"]))["mentions"] == ["ann", "bob", "cid"]
    # bob's reply did not tell him again (he followed already); dan was told when he replied
    await bob.request("ping")
    assert [e for e in bob.events if e["op"] == "thread_state"] == []
    assert (await dan.event("thread_state", msg_id=root))["following"] is True
    threads = await _listed(ann)
    assert [(t["room"], t["root"]["msg_id"], t["following"]) for t in threads] == [
        ("general", root, True)]
    assert threads[0]["unread"] == 3 and threads[0]["mentions"] == 0
    assert threads[0]["root"]["replies"]["count"] == 3


async def test_unfollow_stops_the_mentions_and_a_reply_follows_again(
        people: dict[str, Client]) -> None:
    """ann unfollows by hand (thread_state to her; unfollowing again is unchanged): the next
    reply does not mention her, nor does naming her make her follow; her own reply follows
    again and the next reply mentions her; follow_thread by a reply's msg_id means the
    root."""
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    root = (await _say(ann, "root"))["msg_id"]
    first = await _say(bob, "first", thread=root)
    await ann.event("thread_state", msg_id=root, following=True)
    reply = await ann.request("follow_thread", room="general", msg_id=first["msg_id"], on=False)
    assert reply == {"op": "ok", "id": reply["id"], "room": "general", "msg_id": root,
                     "following": False}
    assert await ann.event("thread_state", msg_id=root, following=False, read_seq=0)
    again = await ann.request("follow_thread", room="general", msg_id=root, on=False)
    assert again["unchanged"] is True and again["following"] is False
    second = await _say(bob, "hello @ann", thread=root)
    assert (await _message(cid, second["msg_id"]))["mentions"] == ["ann"]  # her text mention
    third = await _say(bob, "anyone?", thread=root)
    assert "mentions" not in await _message(cid, third["msg_id"])
    assert await _listed(ann) == []
    mine = await _say(ann, "me again", thread=root)
    assert await ann.event("thread_state", msg_id=root, following=True, read_seq=mine["seq"])
    fourth = await _say(bob, "welcome back", thread=root)
    assert (await _message(cid, fourth["msg_id"]))["mentions"] == ["ann"]
    [listed] = await _listed(ann)
    assert (listed["read_seq"], listed["unread"], listed["mentions"]) == (mine["seq"], 1, 0)
    followed = await cid.request("follow_thread", room="general", msg_id=root)
    assert followed["following"] is True and "unchanged" not in followed
    assert await cid.event("thread_state", msg_id=root, following=True)
    await ann.request("ping")
    assert [e for e in ann.events if e["op"] == "thread_state"] == []


async def test_read_thread_moves_forward_only_and_tells_every_connection(
        daemon: Server, people: dict[str, Client], nursery: trio.Nursery) -> None:
    """read_thread moves read_seq forward (thread_state to each of the user's connections,
    TCP and WebSocket), a lower seq is unchanged, a seq past the room's end is the room's
    last; a member who does not follow records it too; unread counts what is after it."""
    ann, bob = people["ann"], people["bob"]
    token = await register_and_login(daemon.http_port, "ann")
    laptop = await Client.ws(daemon.http_port, nursery)
    await laptop.hello(token)
    root = (await _say(ann, "root"))["msg_id"]
    replies = [await _say(bob, f"r{n} @ann" if n == 2 else f"r{n}", thread=root)
               for n in range(3)]
    [listed] = await _listed(ann)
    assert (listed["read_seq"], listed["unread"], listed["mentions"]) == (0, 3, 1)
    reply = await ann.request("read_thread", room="general", msg_id=root,
                              seq=replies[1]["seq"])
    assert reply["read_seq"] == replies[1]["seq"] and "unchanged" not in reply
    for client in (ann, laptop):
        assert await client.event("thread_state", msg_id=root, read_seq=replies[1]["seq"])
    [listed] = await _listed(ann)
    assert (listed["unread"], listed["mentions"]) == (1, 1)
    back = await ann.request("read_thread", room="general", msg_id=root, seq=replies[0]["seq"])
    assert back["unchanged"] is True and back["read_seq"] == replies[1]["seq"]
    far = await ann.request("read_thread", room="general", msg_id=root, seq=10**9)
    assert far["read_seq"] == replies[2]["seq"]
    [listed] = await _listed(ann)
    assert (listed["unread"], listed["mentions"]) == (0, 0)
    # dan does not follow: his read is kept, and following later shows nothing unread
    dan = people["dan"]
    await dan.request("read_thread", room="general", msg_id=replies[0]["msg_id"],
                      seq=replies[2]["seq"])
    await dan.request("follow_thread", room="general", msg_id=root)
    [listed] = await _listed(dan)
    assert (listed["read_seq"], listed["unread"]) == (replies[2]["seq"], 0)
    await laptop.aclose()


async def test_two_first_replies_at_once_both_follow(people: dict[str, Client]) -> None:
    """bob and cid send their first replies at the same moment (pipelined, perhaps one
    commit): each is told they follow, and the later reply mentions the earlier replier."""
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    root = (await _say(ann, "root"))["msg_id"]
    await ann.request("ping")
    for client, nonce in ((bob, "b"), (cid, "c")):
        await client.send({"op": "send", "id": "first", "room": "general", "text": nonce,
                           "nonce": nonce, "thread": root})
    sent = {"bob": await bob.reply("first"), "cid": await cid.reply("first")}
    for client, name in ((bob, "bob"), (cid, "cid")):
        assert await client.event("thread_state", msg_id=root, following=True,
                                  read_seq=sent[name]["seq"])
    (earlier, _), (later, _) = sorted(((n, r["seq"]) for n, r in sent.items()),
                                      key=lambda pair: pair[1])
    entry = await _message(ann, sent[later]["msg_id"])
    assert entry["mentions"] == sorted(["ann", earlier])


async def test_the_list_pages_by_its_cursor(people: dict[str, Client]) -> None:
    """threads pages with next ("<last_ts>:<msg_id>"), latest reply first, without a gap or
    a repeat; a bad cursor or limit is bad_request; a deleted reply is not unread."""
    ann, bob = people["ann"], people["bob"]
    roots = [(await _say(ann, f"root {n}"))["msg_id"] for n in range(5)]
    for n, root in enumerate(roots):
        await _say(bob, f"reply {n}", thread=root)
    gone = await _say(bob, "to delete", thread=roots[0])
    assert (await bob.request("delete", room="general", msg_id=gone["msg_id"]))["op"] == "ok"
    listed: list[int] = []
    before = None
    while True:
        page = await ann.request("threads", limit=2, **({"before": before} if before else {}))
        listed += [t["root"]["msg_id"] for t in page["threads"]]
        if not page["more"]:
            assert "next" not in page
            break
        last = page["threads"][-1]
        assert page["next"] == f"{last['last_ts']}:{last['root']['msg_id']}"
        before = page["next"]
    assert listed == [roots[0], *reversed(roots[1:])]
    [first] = (await ann.request("threads", limit=1))["threads"]
    assert (first["unread"], first["root"]["replies"]["count"]) == (1, 2)
    for bad in ({"before": "12"}, {"before": "a:b"}, {"before": 5}, {"limit": 0}):
        refused = await ann.request("threads", **bad)
        assert (refused["op"], refused["code"]) == ("error", "bad_request"), bad
    for bad in ({"room": "general"}, {"room": "general", "msg_id": roots[0], "seq": -1}):
        refused = await ann.request("read_thread", **bad)
        assert (refused["op"], refused["code"]) == ("error", "bad_request"), bad
    refused = await ann.request("follow_thread", room="nowhere", msg_id=roots[0])
    assert refused["code"] == "not_found"


async def test_the_event_reaches_the_other_node_and_the_welcome_counts(
        tmp_path: Path, database_dsn: str) -> None:
    """ann on two nodes: bob's first reply on node A tells her connection on node B
    (thread_state); her follow on A and her read on A reach B; a welcome counts the followed
    threads with unread replies (threads_unread), and leaves it out once they are read."""
    config = make_config(tmp_path, database_dsn, limits=LIFTED_RATES)
    async with running(config) as a, running(config) as b:
        token = await register_and_login(a.http_port, "ann")
        here = await Client.signed_in(a.tcp_port, token)
        there = await Client.signed_in(b.tcp_port, token)
        bob = await Client.signed_in(a.tcp_port, await register_and_login(a.http_port, "bob"))
        for client in (here, bob):
            await _in(client)
        roots = [(await _say(here, f"root {n}"))["msg_id"] for n in range(2)]
        for root in roots:
            await _say(bob, f"on {root}", thread=root)
            assert await there.event("thread_state", msg_id=root, following=True, read_seq=0)
        welcome = await (await Client.tcp(b.tcp_port)).hello(token)
        assert welcome["threads_unread"] == 2
        reply = await here.request("follow_thread", room="general", msg_id=roots[0], on=False)
        assert reply["following"] is False
        assert await there.event("thread_state", msg_id=roots[0], following=False)
        [listed] = (await there.request("threads"))["threads"]
        seq = listed["root"]["rev"]
        await here.request("read_thread", room="general", msg_id=roots[1], seq=seq)
        assert await there.event("thread_state", msg_id=roots[1], read_seq=seq)
        welcome = await (await Client.tcp(b.tcp_port)).hello(token)
        assert "threads_unread" not in welcome
        for client in (here, there, bob):
            await client.aclose()


async def test_over_http(daemon: Server) -> None:
    """PUT follows (the socket hears thread_state), DELETE unfollows, PUT .../read moves
    read_seq forward, GET lists, the thread's page says following and read_seq; refusals as
    the socket's, with HTTP statuses."""
    ann = await Client.signed_in(daemon.tcp_port, await register_and_login(daemon.http_port, "ann"))
    token = await register_and_login(daemon.http_port, "bob")
    bob = await Client.signed_in(daemon.tcp_port, token)
    for client in (ann, bob):
        await _in(client)
    root = (await _say(ann, "over http"))["msg_id"]
    answer = await _say(ann, "an answer", thread=root)
    base = f"/api/me/threads/general/{answer['msg_id']}"
    status, body = await http(daemon.http_port, "PUT", f"{base}/follow", token=token)
    assert (status, body) == (200, {"room": "general", "msg_id": root, "following": True})
    assert await bob.event("thread_state", msg_id=root, following=True, read_seq=0)
    status, body = await http(daemon.http_port, "PUT", f"{base}/follow", token=token)
    assert status == 200 and body["unchanged"] is True
    status, body = await http(daemon.http_port, "GET", "/api/me/threads?limit=5", token=token)
    assert status == 200 and body["more"] is False
    [thread] = body["threads"]
    assert (thread["root"]["text"], thread["unread"], thread["read_seq"]) == (
        "over http", 1, 0)
    status, body = await http(daemon.http_port, "PUT", f"{base}/read",
                              {"seq": answer["seq"]}, token=token)
    assert (status, body) == (200, {"room": "general", "msg_id": root,
                                    "read_seq": answer["seq"]})
    assert await bob.event("thread_state", msg_id=root, read_seq=answer["seq"])
    page = f"/api/rooms/general/threads/{answer['msg_id']}"
    status, body = await http(daemon.http_port, "GET", page, token=token)
    assert (status, body["following"], body["read_seq"]) == (200, True, answer["seq"])
    status, body = await http(daemon.http_port, "DELETE", f"{base}/follow", token=token)
    assert status == 200 and body["following"] is False
    # the thread's page says so too (the socket's `thread` is the same answer)
    status, body = await http(daemon.http_port, "GET", page, token=token)
    assert (status, body["following"], body["read_seq"]) == (200, False, answer["seq"])
    thread = await bob.request("thread", room="general", msg_id=root)
    assert (thread["following"], thread["read_seq"]) == (False, answer["seq"])
    status, body = await http(daemon.http_port, "GET", "/api/me/threads", token=token)
    assert body == {"threads": [], "more": False}
    for method, path, payload, code in (
            ("PUT", "/api/me/threads/general/999999/follow", None, 404),
            ("PUT", "/api/me/threads/nowhere/1/follow", None, 404),
            ("PUT", f"{base}/read", {"seq": "x"}, 400),
            ("GET", "/api/me/threads?before=nope", None, 400)):
        status, body = await http(daemon.http_port, method, path, payload, token=token)
        assert status == code, (path, body)
    status, _ = await http(daemon.http_port, "GET", "/api/me/threads")
    assert status == 401
    await ann.aclose()
    await bob.aclose()
