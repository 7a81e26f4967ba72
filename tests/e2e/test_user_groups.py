"""End-to-end: user groups (``@backend``) over real sockets (TCP and WebSocket) and the real
database: the requests and who may make them, the ``user_group`` event to every user on every
node, ``@backend`` counted as a mention of the group's members in the room (not of the
others, not of the sender; text in a 1:1 conversation; an edit adding it), Web Push to a real
local endpoint, the namespace shared with users (both ways, and the race), limits and bad
input.

Rules: 127.0.0.1 and port 0 only; every wait is for a state, bounded (the client helper fails
after 10 s).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import people, running, unread_and_mentions
from tests.e2e.test_push import ann_with_bob_gone, metric, push_config, service
from tests.helpers import LIFTED_RATES, make_config
from tests.pushservice import PushService

__all__ = ["service"]  # the push service's fixture, used here


def _ok(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply["op"] == "ok", reply
    return reply


def _error(reply: dict[str, Any], code: str) -> str:
    assert (reply["op"], reply.get("code")) == ("error", code), reply
    return str(reply["message"])


async def test_create_list_edit_delete(daemon: Server) -> None:
    """ann makes backend with bob (not herself): the reply's object, the list's with
    ``you`` (false for ann, true for bob), the group with its members as registered; ann (its
    creator) adds herself and cid and removes bob; the description changes alone; deleting
    it leaves the list empty and the name unknown."""
    _, clients = await people(daemon, ["ann", "Bob", "cid"])
    ann, bob = clients["ann"], clients["Bob"]
    made = _ok(await ann.request("create_user_group", name="Backend",
                                 description="Server people", members=["bob"]))
    group = made["group"]
    assert group["name"] == "backend" and group["description"] == "Server people"
    assert group["members"] == 1 and group["by"] == "ann" and group["ts"] > 0
    assert "you" not in group
    assert _ok(await ann.request("user_groups"))["groups"] == [{**group, "you": False}]
    assert _ok(await bob.request("user_groups"))["groups"] == [{**group, "you": True}]
    shown = _ok(await bob.request("user_group", name="BACKEND"))
    assert shown == {"op": "ok", "id": shown["id"], "group": group, "members": ["Bob"]}

    changed = _ok(await ann.request("edit_user_group", name="backend", add=["ANN", "cid"],
                                    remove=["bob"]))["group"]
    assert changed["members"] == 2
    assert _ok(await ann.request("user_group", name="backend"))["members"] == ["ann", "cid"]
    described = _ok(await ann.request("edit_user_group", name="backend",
                                      description=""))["group"]
    assert described["description"] == "" and described["members"] == 2
    # adding one already in, removing one not in: no error, nothing changes
    again = _ok(await ann.request("edit_user_group", name="backend", add=["cid"],
                                  remove=["bob"]))["group"]
    assert again["members"] == 2

    _ok(await ann.request("delete_user_group", name="backend"))
    assert _ok(await ann.request("user_groups"))["groups"] == []
    _error(await ann.request("user_group", name="backend"), "not_found")
    _error(await ann.request("delete_user_group", name="backend"), "not_found")
    for client in clients.values():
        await client.aclose()


async def test_who_may_change_a_group(daemon: Server) -> None:
    """Its creator and its members may change and delete a group; anyone else is
    ``forbidden`` (nothing changes)."""
    _, clients = await people(daemon, ["ann", "bob", "eve"])
    ann, bob, eve = clients["ann"], clients["bob"], clients["eve"]
    _ok(await ann.request("create_user_group", name="ops", members=["bob"]))
    _error(await eve.request("edit_user_group", name="ops", add=["eve"]), "forbidden")
    _error(await eve.request("delete_user_group", name="ops"), "forbidden")
    assert _ok(await eve.request("user_group", name="ops"))["members"] == ["bob"]
    # bob, a member, may; so may ann, its creator, who is not one
    _ok(await bob.request("edit_user_group", name="ops", description="on call"))
    _ok(await ann.request("edit_user_group", name="ops", add=["eve"]))
    _ok(await eve.request("delete_user_group", name="ops"))  # a member now
    for client in clients.values():
        await client.aclose()


async def test_the_event_on_every_connection_and_node(tmp_path: Path,
                                                       database_dsn: str) -> None:
    """A group made on node A is a ``user_group`` event on ann's connection there, on
    bob's WebSocket on node B (who shares no room with her) and on dan's TCP one on B:
    created (its members in ``added``), changed (``added``/``removed``), deleted (its members
    in ``removed``)."""
    config = make_config(tmp_path, database_dsn, limits=LIFTED_RATES)
    async with running(config) as a, running(config) as b, trio.open_nursery() as nursery:
        ann = await Client.signed_in(a.tcp_port, await register_and_login(a.http_port, "ann"))
        bob = await Client.ws(b.http_port, nursery)
        await bob.hello(await register_and_login(a.http_port, "Bob"))
        dan = await Client.signed_in(b.tcp_port, await register_and_login(a.http_port, "dan"))
        made = _ok(await ann.request("create_user_group", name="web", members=["bob"]))
        for client in (ann, bob, dan):
            event = await client.event("user_group", change="created")
            assert event == {"op": "user_group", "change": "created", "group": made["group"],
                             "added": ["Bob"], "removed": [], "by": "ann",
                             "ts": event["ts"]}
        changed = _ok(await bob.request("create_user_group", name="design"))  # on the WS
        _ok(await ann.request("edit_user_group", name="web", add=["dan"], remove=["BOB"]))
        for client in (ann, bob, dan):
            event = await client.event("user_group", change="changed")
            assert (event["group"]["name"], event["added"], event["removed"],
                    event["by"]) == ("web", ["dan"], ["Bob"], "ann")
            assert (await client.event("user_group", change="created"))["group"] == \
                changed["group"]
        assert [g["name"] for g in _ok(await bob.request("user_groups"))["groups"]] == \
            ["design", "web"]
        _ok(await dan.request("delete_user_group", name="web"))
        for client in (ann, bob, dan):
            event = await client.event("user_group", change="deleted")
            assert (event["group"]["name"], event["removed"], event["by"]) == \
                ("web", ["dan"], "dan")
        for client in (ann, bob, dan):
            await client.aclose()
        nursery.cancel_scope.cancel()


async def test_a_group_mention_counts_for_its_members_in_the_room(daemon: Server) -> None:
    """``@backend`` in #team counts as a mention for bob and cid (members, in the room),
    not for dan (in the room, not a member), eve (a member, not in the room) nor ann (the
    sender, a member); the message says ``user_groups`` and names nobody; bob named too
    counts once; the history says it as well."""
    tokens, clients = await people(daemon, ["ann", "bob", "cid", "dan"], room="team")
    await register_and_login(daemon.http_port, "eve")
    _ok(await clients["ann"].request("create_user_group", name="backend",
                                     members=["ann", "bob", "cid", "eve"]))
    sent = _ok(await clients["ann"].request("send", room="team",
                                            text="@Backend deploy, @bob first", nonce="g1"))
    live = await clients["dan"].event("message", seq=sent["seq"])
    assert live["user_groups"] == ["backend"] and live["mentions"] == ["bob"]
    assert "group" not in live
    for name in ("bob", "cid"):
        assert await unread_and_mentions(daemon.tcp_port, tokens[name], "team") == (1, 1), name
    assert await unread_and_mentions(daemon.tcp_port, tokens["dan"], "team") == (1, 0)
    assert await unread_and_mentions(daemon.tcp_port, tokens["ann"], "team") == (0, 0)
    history = _ok(await clients["cid"].request("history", room="team"))
    assert history["messages"][-1]["user_groups"] == ["backend"]
    # a word that is no group, and a group in code, are nothing
    plain = _ok(await clients["ann"].request("send", room="team",
                                             text="@frontend `@backend`", nonce="g2"))
    live = await clients["dan"].event("message", seq=plain["seq"])
    assert "user_groups" not in live
    assert await unread_and_mentions(daemon.tcp_port, tokens["cid"], "team") == (2, 1)
    for client in clients.values():
        await client.aclose()


async def test_plain_text_in_a_conversation_and_an_edit_adding_it(daemon: Server) -> None:
    """In a 1:1 conversation ``@backend`` is text (no ``user_groups``, no mention of bob,
    a member); in a room an edit that adds it mentions the members in the room at the
    message's seq, and its ``edited`` entry says ``user_groups``."""
    tokens, clients = await people(daemon, ["ann", "bob"], room="team")
    _ok(await clients["ann"].request("create_user_group", name="backend", members=["bob"]))
    direct = _ok(await clients["ann"].request("dm", to="bob", text="@backend hi", nonce="d1"))
    live = await clients["bob"].event("message", seq=direct["seq"], room=direct["room"])
    assert "user_groups" not in live
    assert await unread_and_mentions(daemon.tcp_port, tokens["bob"], direct["room"]) == (1, 0)

    sent = _ok(await clients["ann"].request("send", room="team", text="deploy", nonce="e1"))
    assert await unread_and_mentions(daemon.tcp_port, tokens["bob"], "team") == (1, 0)
    _ok(await clients["ann"].request("edit", room="team", msg_id=sent["msg_id"],
                                     text="deploy @backend"))
    edited = await clients["bob"].event("edited", msg_id=sent["msg_id"])
    assert edited["user_groups"] == ["backend"]
    assert await unread_and_mentions(daemon.tcp_port, tokens["bob"], "team") == (1, 1)
    history = _ok(await clients["bob"].request("history", room="team"))
    [message] = [m for m in history["messages"] if m.get("msg_id") == sent["msg_id"]
                 and m["op"] == "message"]
    assert message["user_groups"] == ["backend"]
    for client in clients.values():
        await client.aclose()


async def test_a_group_conversation_mentions_as_a_room_does(daemon: Server) -> None:
    """In a group conversation (ann, bob, cid) ``@backend`` mentions its members there (bob),
    not the others (cid) nor the sender; the message says ``user_groups``."""
    tokens, clients = await people(daemon, ["ann", "bob", "cid"])
    _ok(await clients["ann"].request("create_user_group", name="backend",
                                     members=["ann", "bob"]))
    sent = _ok(await clients["ann"].request("dm", to=["bob", "cid"], text="@backend ship",
                                            nonce="c1"))
    live = await clients["cid"].event("message", seq=sent["seq"], room=sent["room"])
    assert live["user_groups"] == ["backend"]
    assert (await unread_and_mentions(daemon.tcp_port, tokens["bob"], sent["room"]))[1] == 1
    assert (await unread_and_mentions(daemon.tcp_port, tokens["cid"], sent["room"]))[1] == 0
    assert (await unread_and_mentions(daemon.tcp_port, tokens["ann"], sent["room"]))[1] == 0
    for client in clients.values():
        await client.aclose()


async def test_one_namespace_with_users(daemon: Server) -> None:
    """A group cannot take a user's name in any case, and no new account (registration, a
    bot) can take a group's: both ``conflict``; the words of group mentions are refused."""
    tokens, clients = await people(daemon, ["ann"])
    ann = clients["ann"]
    _error(await ann.request("create_user_group", name="ANN"), "conflict")
    _ok(await ann.request("create_user_group", name="ops"))
    _error(await ann.request("create_user_group", name="Ops"), "conflict")
    status, body = await http(daemon.http_port, "POST", "/api/register",
                              {"username": "OPS", "password": "correct horse"})
    assert (status, body["code"]) == (409, "conflict"), body
    status, body = await http(daemon.http_port, "POST", "/api/bots", {"name": "ops"},
                              token=tokens["ann"])
    assert (status, body.get("code")) == (409, "conflict"), body
    for word in ("here", "All", "room", "everyone"):
        _error(await ann.request("create_user_group", name=word), "bad_request")
    await ann.aclose()


async def test_bad_input_and_limits(tmp_path: Path, database_dsn: str) -> None:
    """Bad names and fields are ``bad_request``; a member who is nobody is ``not_found``
    naming them (nothing made); past ``limits.user_groups`` and ``user_group_members``,
    ``bad_request`` naming the key; ``who_can_create = "admins"`` refuses others."""
    config = make_config(tmp_path, database_dsn, limits={**LIFTED_RATES, "user_groups": 2,
                                                         "user_group_members": 2})
    async with running(config) as daemon:
        _, clients = await people(daemon, ["ann", "bob", "cid"])
        ann = clients["ann"]
        for fields in ({"name": ""}, {"name": "a" * 33}, {"name": "b@d"}, {"name": 5},
                       {"name": "ok", "members": "bob"}, {"name": "ok", "members": ["b d"]},
                       {"name": "ok", "description": "x" * 257}):
            _error(await ann.request("create_user_group", **fields), "bad_request")
        _error(await ann.request("edit_user_group", name="ok"), "bad_request")
        _error(await ann.request("edit_user_group", name="ok", add=["bob"], remove=["BOB"]),
               "bad_request")
        assert "zed" in _error(await ann.request("create_user_group", name="x",
                                                 members=["bob", "zed"]), "not_found")
        _error(await ann.request("user_group", name="x"), "not_found")
        assert "limits.user_group_members" in _error(await ann.request(
            "create_user_group", name="x", members=["ann", "bob", "cid"]), "bad_request")
        _ok(await ann.request("create_user_group", name="x", members=["ann", "bob"]))
        assert "limits.user_group_members" in _error(await ann.request(
            "edit_user_group", name="x", add=["cid"]), "bad_request")
        assert _ok(await ann.request("user_group", name="x"))["members"] == ["ann", "bob"]
        _error(await ann.request("edit_user_group", name="x", add=["zed"]), "not_found")
        _ok(await ann.request("create_user_group", name="y"))
        assert "limits.user_groups" in _error(await ann.request(
            "create_user_group", name="z"), "bad_request")
        for client in clients.values():
            await client.aclose()
    admins = make_config(tmp_path, database_dsn, limits=LIFTED_RATES,
                         user_groups={"who_can_create": "admins"})
    async with running(admins) as daemon:
        bob = await Client.signed_in(daemon.tcp_port, await register_and_login(daemon.http_port,
                                                                        "dan"))
        _error(await bob.request("create_user_group", name="w"), "forbidden")
        await bob.aclose()


async def test_a_group_mention_is_pushed_as_a_mention(tmp_path: Path, database_dsn: str,
                                                      service: PushService) -> None:
    """bob, offline, in #team and in backend: ``@backend`` reaches his push service (a real
    one on 127.0.0.1) as a mention, urgent; a plain message before it does not (#team is at
    "mentions"), nor does ann, the sender and a member, get one."""
    async with running(push_config(tmp_path, database_dsn)) as daemon:
        with trio.fail_after(20):
            ann = await ann_with_bob_gone(daemon, service)
            _ok(await ann.request("create_user_group", name="backend", members=["ann", "bob"]))
            await ann.request("send", room="team", text="nobody named", nonce="p1")
            sent = _ok(await ann.request("send", room="team", text="@backend deploy",
                                         nonce="p2"))
            await service.wait_for(lambda: len(service.to("bob")) == 1)
            got = service.to("bob")[0]
            assert (got.payload["seq"], got.payload["kind"]) == (sent["seq"], "mention")
            assert got.headers["urgency"] == "high"
            assert service.to("ann") == [] and service.problems == []
            assert metric(daemon, "chatd_push_queued_total") == 1
            await ann.aclose()


async def test_a_group_made_on_another_node_is_mentioned_here(tmp_path: Path,
                                                               database_dsn: str) -> None:
    """Node B knows of a group ann made on node A once its event has come (B's group names
    follow the other nodes' events): cid's ``@backend`` sent on B then mentions bob; after
    the group's deletion on A, the same text on B is plain."""
    config = make_config(tmp_path, database_dsn, limits=LIFTED_RATES)
    async with running(config) as a, running(config) as b:
        tokens = {n: await register_and_login(a.http_port, n) for n in ("ann", "bob", "cid")}
        ann = await Client.signed_in(a.tcp_port, tokens["ann"])
        cid = await Client.signed_in(b.tcp_port, tokens["cid"])
        bob = await Client.signed_in(b.tcp_port, tokens["bob"])
        for client in (bob, cid):
            _ok(await client.request("join", room="team"))
        _ok(await cid.request("send", room="team", text="@backend anyone?", nonce="before"))
        # No such group yet.
        assert await unread_and_mentions(b.tcp_port, tokens["bob"], "team") == (1, 0)
        _ok(await ann.request("create_user_group", name="backend", members=["bob"]))
        await cid.event("user_group", change="created")
        sent = _ok(await cid.request("send", room="team", text="@backend deploy?", nonce="g1"))
        live = await bob.event("message", seq=sent["seq"])
        assert live["user_groups"] == ["backend"]
        assert await unread_and_mentions(b.tcp_port, tokens["bob"], "team") == (2, 1)
        _ok(await ann.request("delete_user_group", name="backend"))
        await cid.event("user_group", change="deleted")
        sent = _ok(await cid.request("send", room="team", text="@backend again", nonce="g2"))
        assert "user_groups" not in await bob.event("message", seq=sent["seq"])
        for client in (ann, bob, cid):
            await client.aclose()
