"""End-to-end: threads (``thread`` and ``broadcast`` on ``send`` and ``dm``, the ``thread``
request and its HTTP route, a root's ``replies``, the followers' mentions and pushes) over
real sockets, TCP and WebSocket, against the real database; on one node and across two.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from chatd.client.messages import Messages
from chatd.protocol import parse_event
from chatd.server import Server
from tests.client import Client, full_history, http, register_and_login
from tests.e2e.conftest import ann_and_bea_on_two_nodes, running
from tests.e2e.test_push import connected, gone, metric, push_config, service, subscribed
from tests.helpers import search_caught_up
from tests.pushservice import PushService

__all__ = ["service"]  # the push service's fixture, shared with tests/e2e/test_push.py


async def _members(server: Server, nursery: trio.Nursery, *names: str, room: str = "team"
                   ) -> list[Client]:
    """The users ``names`` in ``room``: the first over TCP (the room's owner), the others
    over WebSocket."""
    clients = []
    for index, name in enumerate(names):
        client = (await Client.tcp(server.tcp_port) if index == 0
                  else await Client.ws(server.http_port, nursery))
        await client.hello(await register_and_login(server.http_port, name))
        assert (await client.request("join", room=room))["op"] == "ok"
        clients.append(client)
    return clients


def _room(rooms: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(r for r in rooms if r["room"] == name)


def _by_id(messages: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {m["msg_id"]: m for m in messages if m["op"] == "message"}


async def test_a_reply_reaches_every_member_and_the_root_carries_its_summary(
        daemon: Server, nursery: trio.Nursery) -> None:
    """A reply in a thread is a ``message`` of the room with ``thread`` (TCP and WebSocket
    alike); the root read again (history, join, the ``thread`` request, HTTP) carries
    ``replies`` {count, last_ts, users newest first} and its ``rev`` is the latest reply's
    seq; a reply naming a reply lands in the root's thread; search results and pins show a
    reply's ``thread``."""
    ann, bob, cid = await _members(daemon, nursery, "ann", "bob", "cid")
    root = await ann.request("send", room="team", text="lunch?", nonce="r")
    first = await bob.request("send", room="team", text="pizza", nonce="b1",
                              thread=root["msg_id"])
    assert first["op"] == "ok" and first["seq"] == root["seq"] + 1
    for client in (ann, bob, cid):
        event = await client.event("message", seq=first["seq"])
        assert event["thread"] == root["msg_id"] and "broadcast" not in event
        assert event["text"] == "pizza"
    # naming a reply: its root's thread; broadcast shows
    second = await cid.request("send", room="team", text="sushi", nonce="c1",
                               thread=first["msg_id"], broadcast=True)
    event = await ann.event("message", seq=second["seq"])
    assert event["thread"] == root["msg_id"] and event["broadcast"] is True

    history = _by_id(await full_history(bob, "team"))
    held = history[root["msg_id"]]
    assert held["replies"] == {"count": 2, "last_ts": second["ts"], "users": ["cid", "bob"]}
    assert held["rev"] == second["seq"]
    assert history[first["msg_id"]]["thread"] == root["msg_id"]
    assert "replies" not in history[first["msg_id"]]

    dan = await Client.ws(daemon.http_port, nursery)
    await dan.hello(await register_and_login(daemon.http_port, "dan"))
    joined = await dan.request("join", room="team")
    assert _by_id(joined["messages"])[root["msg_id"]]["replies"] == held["replies"]
    await search_caught_up(daemon.app.storage)
    found = await dan.request("search", query="sushi", room="team")
    assert [(m["msg_id"], m["thread"]) for m in found["messages"]] == [
        (second["msg_id"], root["msg_id"])]
    pinned = await dan.request("pin", room="team", msg_id=first["msg_id"])
    assert pinned["op"] == "ok"
    listed = await dan.request("pins", room="team")
    assert [(m["msg_id"], m["thread"]) for m in listed["messages"]] == [
        (first["msg_id"], root["msg_id"])]
    await dan.aclose()

    page = await ann.request("thread", room="team", msg_id=first["msg_id"])
    assert page["op"] == "ok" and page["room"] == "team" and page["more"] is False
    assert page["root"]["msg_id"] == root["msg_id"]
    assert page["root"]["replies"]["count"] == 2
    assert [m["msg_id"] for m in page["messages"]] == [first["msg_id"], second["msg_id"]]

    token = await register_and_login(daemon.http_port, "bob")
    status, body = await http(daemon.http_port, "GET",
                              f"/api/rooms/team/threads/{root['msg_id']}?limit=1", token=token)
    assert status == 200 and body["root"] == page["root"] and body["more"] is True
    assert [m["msg_id"] for m in body["messages"]] == [second["msg_id"]]
    status, body = await http(
        daemon.http_port, "GET",
        f"/api/rooms/team/threads/{root['msg_id']}?limit=1&before={second['seq']}", token=token)
    assert status == 200 and body["more"] is False
    assert [m["msg_id"] for m in body["messages"]] == [first["msg_id"]]
    for client in (ann, bob, cid):
        await client.aclose()


async def test_bad_threads_are_refused_with_a_clear_error(daemon: Server,
                                                          nursery: trio.Nursery) -> None:
    """A root that does not exist, or is another room's, is ``not_found``; a deleted root
    takes no new reply (``not_found``) while its replies stay; ``broadcast`` without
    ``thread`` is ``bad_request``; a stranger reading a thread is ``forbidden``."""
    ann, bob = await _members(daemon, nursery, "ann", "bob")
    await ann.request("join", room="other")
    elsewhere = await ann.request("send", room="other", text="elsewhere", nonce="o")
    for thread in (999_999, elsewhere["msg_id"]):
        refused = await bob.request("send", room="team", text="hi", nonce=f"x{thread}",
                                    thread=thread)
        assert refused["op"] == "error" and refused["code"] == "not_found"
    refused = await bob.request("send", room="team", text="hi", nonce="y", broadcast=True)
    assert refused["op"] == "error" and refused["code"] == "bad_request"
    refused = await bob.request("send", room="team", text="hi", nonce="z", thread="one")
    assert refused["op"] == "error" and refused["code"] == "bad_request"

    root = await ann.request("send", room="team", text="root", nonce="r")
    reply = await bob.request("send", room="team", text="reply", nonce="b", thread=root["msg_id"])
    assert (await ann.request("delete", room="team", msg_id=root["msg_id"]))["op"] == "ok"
    refused = await bob.request("send", room="team", text="more", nonce="b2",
                                thread=reply["msg_id"])
    assert refused["op"] == "error" and refused["code"] == "not_found"
    page = await bob.request("thread", room="team", msg_id=root["msg_id"])
    assert page["root"]["deleted"] is True and page["root"]["replies"]["count"] == 1
    assert [m["msg_id"] for m in page["messages"]] == [reply["msg_id"]]

    stranger = await Client.tcp(daemon.tcp_port)
    await stranger.hello(await register_and_login(daemon.http_port, "eve"))
    refused = await stranger.request("thread", room="team", msg_id=root["msg_id"])
    assert refused["op"] == "error" and refused["code"] == "forbidden"
    refused = await ann.request("thread", room="team", msg_id=elsewhere["msg_id"])
    assert refused["op"] == "error" and refused["code"] == "not_found"
    for client in (ann, bob, stranger):
        await client.aclose()


async def test_a_reply_counts_as_a_mention_for_the_followers(daemon: Server,
                                                             nursery: trio.Nursery) -> None:
    """A reply mentions the thread's followers (its root's author and its repliers, the
    sender aside): the reply's ``mentions`` name them, and their room objects count it in
    ``mentions``; a member who neither wrote the root nor replied does not."""
    ann, bob, cid = await _members(daemon, nursery, "ann", "bob", "cid")
    root = await ann.request("send", room="team", text="plan", nonce="r")
    first = await bob.request("send", room="team", text="ok", nonce="b1", thread=root["msg_id"])
    event = await cid.event("message", seq=first["seq"])
    assert event["mentions"] == ["ann"]
    second = await cid.request("send", room="team", text="me too", nonce="c1",
                               thread=root["msg_id"])
    event = await ann.event("message", seq=second["seq"])
    assert event["mentions"] == ["ann", "bob"]

    async def mentions_of(name: str) -> int:
        token = await register_and_login(daemon.http_port, name)
        status, listed = await http(daemon.http_port, "GET", "/api/rooms", token=token)
        assert status == 200
        return int(_room(listed["rooms"], "team")["mentions"])

    assert await mentions_of("ann") == 2
    assert await mentions_of("bob") == 1
    assert await mentions_of("cid") == 0
    for client in (ann, bob, cid):
        await client.aclose()


async def test_a_reply_crosses_to_another_node_with_its_thread(tmp_path: Path,
                                                               database_dsn: str) -> None:
    """Two nodes on one database: bea (on the second) gets ann's reply with its ``thread``
    (carried in the commit notice), and reads the root's summary from her node."""
    async with ann_and_bea_on_two_nodes(tmp_path, database_dsn) as (ann, bea):
        root = await bea.request("send", room="shared", text="root", nonce="b")
        reply = await ann.request("send", room="shared", text="reply", nonce="a",
                                  thread=root["msg_id"], broadcast=True)
        event = await bea.event("message", seq=reply["seq"])
        assert event["thread"] == root["msg_id"] and event["broadcast"] is True
        assert event["mentions"] == ["bea"]
        page = await bea.request("thread", room="shared", msg_id=root["msg_id"])
        assert page["root"]["replies"] == {"count": 1, "last_ts": reply["ts"],
                                           "users": ["ann"]}


async def test_a_follower_away_is_pushed_a_reply_as_a_mention(tmp_path: Path, database_dsn: str,
                                                             service: PushService) -> None:
    """Through the push service the push tests use: each reply is pushed to a follower who
    is away (the root's author) as a mention, but not to a follower who muted the room (an
    earlier replier), nor to a member who never took part, nor to its sender."""
    async with running(push_config(tmp_path, database_dsn)) as daemon:
        with trio.fail_after(20):
            ann = await connected(daemon, await subscribed(daemon, service, "ann"))
            bob = await connected(daemon, await subscribed(daemon, service, "bob"))
            cid = await connected(daemon, await subscribed(daemon, service, "cid"))
            dan = await connected(daemon, await subscribed(daemon, service, "dan"))
            for client in (ann, bob, cid, dan):
                assert (await client.request("join", room="team"))["op"] == "ok"
            assert (await dan.request("set_notify", room="team", notify="none"))["op"] == "ok"
            root = await ann.request("send", room="team", text="release on friday?",
                                     nonce="r")
            await gone(daemon, ann, "ann")
            first = await dan.request("send", room="team", text="fine", nonce="d",
                                      thread=root["msg_id"])
            await service.wait_for(lambda: len(service.to("ann")) == 1)
            for client, name in ((cid, "cid"), (dan, "dan")):
                await gone(daemon, client, name)
            sent = await bob.request("send", room="team", text="after the freeze", nonce="b",
                                     thread=root["msg_id"])
            await service.wait_for(lambda: len(service.to("ann")) == 2)
            pushed = [(p.payload["room"], p.payload["seq"], p.payload["kind"], p.payload["from"])
                      for p in service.to("ann")]
            assert pushed == [("team", first["seq"], "mention", "dan"),
                              ("team", sent["seq"], "mention", "bob")]
            assert service.to("ann")[1].headers["urgency"] == "high"
            # A dm to cid after: once it is in, the reply was decided for everyone.
            later = await bob.request("dm", to="cid", text="lunch?", nonce="b2")
            await service.wait_for(lambda: len(service.to("cid")) == 1)
            assert service.to("cid")[0].payload["seq"] == later["seq"]
            assert service.to("dan") == [] and service.to("bob") == []
            assert metric(daemon, "chatd_push_queued_total") == 3 and service.problems == []
            await bob.aclose()


async def test_resume_brings_the_replies_that_make_the_held_root_right(
        daemon: Server, nursery: trio.Nursery) -> None:
    """bob (WebSocket) holds the root as the join gave it, leaves, replies and an edit of
    the root come meanwhile; on resume he gets them once each in seq order, and the root he
    holds with them applied (the client's rules) is the root a fresh history reads."""
    ann, bob = await _members(daemon, nursery, "ann", "bob")
    root = await ann.request("send", room="team", text="root", nonce="r")
    await ann.request("send", room="team", text="early", nonce="a0", thread=root["msg_id"])
    page = await bob.request("history", room="team")
    held = Messages()
    for obj in page["messages"]:
        held.apply(parse_event(obj))  # type: ignore[arg-type]
    seen = page["messages"][-1]["seq"]
    await bob.aclose()
    cid = await Client.tcp(daemon.tcp_port)
    await cid.hello(await register_and_login(daemon.http_port, "cid"))
    await cid.request("join", room="team")
    sent = [await cid.request("send", room="team", text="one", nonce="c1", thread=root["msg_id"]),
            await ann.request("edit", room="team", msg_id=root["msg_id"], text="root, edited"),
            await ann.request("send", room="team", text="two", nonce="a1", thread=root["msg_id"],
                              broadcast=True)]
    bob = await Client.ws(daemon.http_port, nursery)
    await bob.hello(await register_and_login(daemon.http_port, "bob"), resume={"team": seen})
    last = await bob.event("message", seq=sent[-1]["seq"])
    got = [*(e for e in bob.events if e.get("room") == "team" and "seq" in e), last]
    assert [e["seq"] for e in got] == [s["seq"] for s in sent]
    for obj in got:
        held.apply(parse_event(obj))  # type: ignore[arg-type]
    fresh = Messages()
    for obj in (await bob.request("history", room="team"))["messages"]:
        fresh.apply(parse_event(obj))  # type: ignore[arg-type]
    mine = held.get("team", root["msg_id"])
    assert mine is not None and mine == fresh.get("team", root["msg_id"])
    assert mine.replies == {"count": 3, "last_ts": sent[-1]["ts"], "users": ("ann", "cid")}
    assert mine.text == "root, edited" and mine.rev == sent[-1]["seq"]
    for client in (ann, bob, cid):
        await client.aclose()


async def test_a_conversation_has_threads_too(daemon: Server, nursery: trio.Nursery) -> None:
    """``dm`` takes ``thread`` as ``send`` does: the reply is a message of the conversation
    with its thread, and the ``thread`` request reads it there."""
    ann, bob = await _members(daemon, nursery, "ann", "bob")
    root = await ann.request("dm", to="bob", text="about friday", nonce="d1")
    reply = await bob.request("dm", to="ann", text="yes?", nonce="d2", thread=root["msg_id"])
    assert reply["op"] == "ok" and reply["room"] == root["room"]
    event = await ann.event("message", seq=reply["seq"])
    assert event["thread"] == root["msg_id"]
    page = await ann.request("thread", room=root["room"], msg_id=root["msg_id"])
    assert page["root"]["replies"]["users"] == ["bob"]
    assert [m["msg_id"] for m in page["messages"]] == [reply["msg_id"]]
    refused = await bob.request("dm", to="ann", text="no", nonce="d3", thread=10**12)
    assert (refused["op"], refused["code"]) == ("error", "not_found")
    for client in (ann, bob):
        await client.aclose()
