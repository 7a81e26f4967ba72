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
from tests.client import Client, register_and_login
from tests.e2e.conftest import running
from tests.helpers import LIFTED_RATES, make_config


async def _connected(port: int, token: str) -> Client:
    client = await Client.tcp(port)
    await client.hello(token)
    return client


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
        if name == "bob" and request.param == "ws":
            client = await Client.ws(daemon.http_port, nursery)
            await client.hello(token)
        else:
            client = await _connected(daemon.tcp_port, token)
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
