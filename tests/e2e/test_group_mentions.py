"""End-to-end: group mentions (``@room``, ``@all``, ``@everyone``, ``@here``) over real
sockets and the real database: whom they count as mentioned (the room objects' ``mentions``),
who may use them (``limits.group_mention_members``), on one node and across two, and the names
no new account may take.

Rules: 127.0.0.1 and port 0 only; every wait is for a state, bounded (the client helper fails
after 10 s; presence across nodes by ``trio.fail_after``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import people, running, unread_and_mentions
from tests.helpers import LIFTED_RATES, make_config


async def test_room_mentions_every_member_but_the_sender(daemon: Server) -> None:
    """@all (any of @room, @all, @everyone) counts as a mention of every member, online or
    not, and not of the sender; the message says ``group: "room"`` and names nobody in
    ``mentions``; reading past it clears the count."""
    tokens, clients = await people(daemon, ["ann", "bob", "cid", "dan"], "team")
    await clients["dan"].aclose()
    sent = await clients["ann"].request("send", room="team", text="@ALL standup now",
                                        nonce="a1")
    live = await clients["bob"].event("message", seq=sent["seq"])
    assert live["group"] == "room" and "mentions" not in live
    for name in ("bob", "cid", "dan"):
        assert await unread_and_mentions(daemon.tcp_port, tokens[name], "team") == (1, 1), name
    assert await unread_and_mentions(daemon.tcp_port, tokens["ann"], "team") == (0, 0)
    await clients["bob"].request("read", room="team", seq=sent["seq"])
    assert await unread_and_mentions(daemon.tcp_port, tokens["bob"], "team") == (0, 0)
    history = await clients["cid"].request("history", room="team")
    assert history["messages"][-1]["group"] == "room"
    for name in ("ann", "bob", "cid"):
        await clients[name].aclose()


async def test_named_and_covered_member_counts_once(daemon: Server) -> None:
    """A member named and covered by the group is mentioned once; a user named like a group
    word is not a name there (existing accounts called "all" are covered, not named)."""
    tokens, clients = await people(daemon, ["ann", "bob"], "team")
    sent = await clients["ann"].request("send", room="team", text="@bob and @everyone",
                                        nonce="a1")
    live = await clients["bob"].event("message", seq=sent["seq"])
    assert live["mentions"] == ["bob"] and live["group"] == "room"
    assert await unread_and_mentions(daemon.tcp_port, tokens["bob"], "team") == (1, 1)
    for client in clients.values():
        await client.aclose()


async def test_here_mentions_only_the_members_online(daemon: Server) -> None:
    """@here counts as a mention of the members online when it is sent, not of those away;
    its message says ``group: "here"``."""
    tokens, clients = await people(daemon, ["ann", "bob", "cid"], "team")
    await clients["cid"].aclose()
    with trio.fail_after(10):
        while daemon.app.presence.state.is_online("cid"):
            await clients["ann"].request("ping")
    sent = await clients["ann"].request("send", room="team", text="@here anyone on call?",
                                        nonce="a1")
    live = await clients["bob"].event("message", seq=sent["seq"])
    assert live["group"] == "here"
    assert await unread_and_mentions(daemon.tcp_port, tokens["bob"], "team") == (1, 1)
    assert await unread_and_mentions(daemon.tcp_port, tokens["cid"], "team") == (1, 0)
    for name in ("ann", "bob"):
        await clients[name].aclose()


async def test_here_covers_members_online_on_another_node(tmp_path: Path,
                                                          database_dsn: str) -> None:
    """A member whose only connection is on another node is online for @here; one with no
    connection anywhere is not."""
    config = make_config(tmp_path, database_dsn, limits=LIFTED_RATES,
                         cluster={"heartbeat_interval": 0.5, "node_timeout": 3.0})
    async with running(config) as a, running(config) as b:
        tokens = {n: await register_and_login(a.http_port, n) for n in ("ann", "bob", "cid")}
        ann = await Client.signed_in(a.tcp_port, tokens["ann"])
        bob = await Client.signed_in(b.tcp_port, tokens["bob"])
        cid = await Client.signed_in(a.tcp_port, tokens["cid"])
        for client in (ann, bob, cid):
            await client.request("join", room="team")
        await cid.aclose()
        with trio.fail_after(10):
            while not a.app.presence.state.is_online("bob") \
                    or a.app.presence.state.is_online("cid"):
                await ann.request("ping")
        sent = await ann.request("send", room="team", text="@here deploy?", nonce="a1")
        assert (await bob.event("message", seq=sent["seq"]))["group"] == "here"
        assert await unread_and_mentions(b.tcp_port, tokens["bob"], "team") == (1, 1)
        assert await unread_and_mentions(a.tcp_port, tokens["cid"], "team") == (1, 0)
        await ann.aclose()
        await bob.aclose()


async def test_a_big_room_is_for_its_owner_and_moderators(tmp_path: Path,
                                                          database_dsn: str) -> None:
    """In a room of more members than limits.group_mention_members (counted in storage),
    a member's send or edit with a group mention is refused with forbidden, saying why, and
    stores nothing; the owner's and a moderator's are allowed; a stranger is told they are not
    a member (not how large the room is); @name still works; in a 1:1
    conversation the words are plain text. The welcome says the limit (for the page's
    composer)."""
    config = make_config(tmp_path, database_dsn, limits={**LIFTED_RATES,
                                                         "group_mention_members": 2})
    async with running(config) as daemon:
        tokens, clients = await people(daemon, ["ann", "bob", "cid"], "team")
        ann, bob, cid = clients["ann"], clients["bob"], clients["cid"]
        again = await Client.tcp(daemon.tcp_port)
        assert (await again.hello(tokens["bob"]))["group_mention_members"] == 2
        await again.aclose()
        refused = await bob.request("send", room="team", text="@all look", nonce="b1")
        assert refused["op"] == "error" and refused["code"] == "forbidden"
        assert refused["message"] == ("@room in a room of more than 2 members is for its "
                                      "owner and moderators")
        refused = await bob.request("send", room="team", text="@here look", nonce="b2")
        assert refused["code"] == "forbidden" and refused["message"].startswith("@here in")
        assert (await bob.request("history", room="team"))["messages"] == []

        mine = await bob.request("send", room="team", text="hi @cid", nonce="b3")
        assert mine["op"] == "ok"
        edit = await bob.request("edit", room="team", msg_id=mine["msg_id"],
                                 text="hi @everyone")
        assert edit["op"] == "error" and edit["code"] == "forbidden"

        owner = await ann.request("send", room="team", text="@room from the owner",
                                  nonce="a1")
        assert owner["op"] == "ok"
        assert (await ann.request("set_role", room="team", user="bob",
                                  role="moderator"))["op"] == "ok"
        moderator = await bob.request("send", room="team", text="@all now I may",
                                      nonce="b4")
        assert moderator["op"] == "ok"
        assert await unread_and_mentions(daemon.tcp_port, tokens["cid"], "team") == (3, 3)

        stranger = await Client.signed_in(daemon.tcp_port,
                                  await register_and_login(daemon.http_port, "dan"))
        refused = await stranger.request("send", room="team", text="@all hi", nonce="d1")
        assert refused["code"] == "forbidden" and "not a member" in refused["message"]
        await stranger.aclose()

        dm = await bob.request("dm", to="cid", text="@all of it? @here?", nonce="b5")
        live = await cid.event("message", seq=dm["seq"], room=dm["room"])
        assert "group" not in live
        for client in clients.values():
            await client.aclose()


async def test_an_edit_adding_a_group_mention(daemon: Server) -> None:
    """An edit that adds @room mentions every member, as the message's ``edited`` entry says,
    without making the old message unread for a member who had read past it."""
    tokens, clients = await people(daemon, ["ann", "bob", "cid"], "team")
    first = await clients["ann"].request("send", room="team", text="standup", nonce="a1")
    await clients["bob"].request("read", room="team", seq=first["seq"])
    edited = await clients["ann"].request("edit", room="team", msg_id=first["msg_id"],
                                          text="standup @room")
    entry = await clients["cid"].event("edited", seq=edited["seq"])
    assert entry["group"] == "room"
    assert await unread_and_mentions(daemon.tcp_port, tokens["bob"], "team") == (0, 0)
    assert await unread_and_mentions(daemon.tcp_port, tokens["cid"], "team") == (1, 1)
    for client in clients.values():
        await client.aclose()


async def test_group_words_are_no_new_accounts_names(daemon: Server) -> None:
    """Registering "all", "Here", "room" or "everyone", or creating a bot so named, is refused
    (bad_request), so that no new account shares a name with a group."""
    token = await register_and_login(daemon.http_port, "ann")
    for name in ("all", "Here", "room", "everyone"):
        status, body = await http(daemon.http_port, "POST", "/api/register",
                                  {"username": name, "password": "correct horse"})
        answer: dict[str, Any] = body
        assert status == 400 and "reserved" in answer["message"], (name, answer)
        status, body = await http(daemon.http_port, "POST", "/api/bots", {"name": name},
                                  token=token)
        assert status == 400 and "reserved" in body["message"], (name, body)
    status, _ = await http(daemon.http_port, "POST", "/api/register",
                           {"username": "allison", "password": "correct horse"})
    assert status == 201
