"""End-to-end: group conversations (docs/protocol.md, "Group conversations") — ``dm`` to
several people, the room of kind ``group`` it makes, its rules (those of a 1:1), its alerts —
over real sockets (TCP and WebSocket), the real PostgreSQL, and a second node."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from chatd.server import Server
from tests.client import Client, register_and_login
from tests.e2e.conftest import running
from tests.e2e.test_push import TIMEOUT, connected, gone, metric, push_config, subscribed
from tests.helpers import LIFTED_RATES, make_config, until
from tests.pushservice import PushService


async def _people(daemon: Server, *names: str) -> list[Client]:
    """A TCP connection, signed in, for each of ``names`` (registered now)."""
    return [await Client.signed_in(daemon.tcp_port, await register_and_login(daemon.http_port,
                                                                             name))
            for name in names]


async def _close(*clients: Client) -> None:
    for client in clients:
        await client.aclose()


async def test_dm_to_several_people_makes_one_group_conversation(daemon: Server) -> None:
    """A ``dm`` to two names makes the group conversation of the three, named by the set in
    any order and case; every member gets the first message without having joined; the room
    object says kind group with the others as peers, notify all."""
    carol_token = await register_and_login(daemon.http_port, "Carol")
    ann, bob = await _people(daemon, "Ann", "bob")
    carol = await Client.signed_in(daemon.tcp_port, carol_token)
    ack = await ann.request("dm", to=["CAROL", "Bob"], text="hello both", nonce="g1")
    assert ack["op"] == "ok" and (ack["room"], ack["seq"]) == ("@ann:bob:carol", 1), ack
    for client in (ann, bob, carol):
        got = await client.event("message", room="@ann:bob:carol", seq=1)
        assert (got["from"], got["text"]) == ("Ann", "hello both")
    # the same set, in any order and case, and the sender named too: the same room
    again = await carol.request("dm", to=["ann", "BOB", "carol", "Ann"], text="hi", nonce="g2")
    assert (again["room"], again["seq"]) == ("@ann:bob:carol", 2)
    sent = await bob.request("send", room="@Ann:Bob:Carol", text="by send", nonce="g3")
    assert (sent["room"], sent["seq"]) == ("@ann:bob:carol", 3)
    rooms = (await bob.request("rooms"))["rooms"]
    [room] = [r for r in rooms if r["room"] == "@ann:bob:carol"]
    assert (room["kind"], room["peers"], room["private"], room["owner"], room["topic"],
            room["notify"], room["role"], room["archived"]) == (
        "group", ["Ann", "Carol"], True, None, "", "all", "member", False)
    assert "peer" not in room
    assert room["unread"] == 2  # ann's and carol's; bob's own does not count
    who = await carol.request("who", room="@ann:bob:carol")
    assert [m["user"] for m in who["members"]] == ["Ann", "bob", "Carol"]
    history = await ann.request("history", room="@ann:bob:carol")
    assert [m["text"] for m in history["messages"]] == ["hello both", "hi", "by send"]
    later = await Client.tcp(daemon.tcp_port)
    [listed] = (await later.hello(carol_token))["rooms"]
    assert (listed["room"], listed["kind"], listed["peers"], listed["notify"],
            listed["unread"]) == ("@ann:bob:carol", "group", ["Ann", "bob"], "all", 2)
    await _close(ann, bob, carol, later)


async def test_eight_people_and_not_nine_over_websocket(daemon: Server) -> None:
    """Eight people in all make one conversation (over WebSocket); a ninth is
    ``bad_request``, as an array of more than eight names; a name that is nobody is
    ``not_found`` naming it."""
    names = [f"p{i}" for i in range(9)]
    tokens = [await register_and_login(daemon.http_port, name) for name in names]
    async with trio.open_nursery() as nursery:
        first = await Client.ws(daemon.http_port, nursery)
        await first.hello(tokens[0])
        last = await Client.ws(daemon.http_port, nursery)
        await last.hello(tokens[7])
        ack = await first.request("dm", to=names[1:8], text="all eight", nonce="e1")
        assert ack["room"] == "@" + ":".join(names[:8]), ack
        got = await last.event("message", room=ack["room"])
        assert got["text"] == "all eight"
        nine = await first.request("dm", to=names[1:9], text="x", nonce="e2")
        assert (nine["code"], nine["message"]) == (
            "bad_request", "a conversation has at most 8 people"), nine
        too_many = await first.request("dm", to=[*names, "q1"], text="x", nonce="e3")
        assert too_many["code"] == "bad_request"
        nobody = await first.request("dm", to=["p1", "nobody"], text="x", nonce="e4")
        assert nobody["code"] == "not_found" and "'nobody'" in nobody["message"], nobody
        assert (await first.request("dm", to=[], text="x", nonce="e5"))["code"] == \
            "bad_request"
        # nothing was made by the refusals: p8 is in no conversation
        eighth = await Client.ws(daemon.http_port, nursery)
        welcome = await eighth.hello(tokens[8])
        assert welcome["rooms"] == []
        await _close(first, last, eighth)


async def test_strangers_and_the_rules_of_a_conversation(daemon: Server) -> None:
    """Only members read, send, list or join a group conversation; nobody leaves it, is
    invited or kicked, or sets its topic; it is not archivable; a non-canonical name is
    ``bad_request``; joining one that does not exist is ``not_found``."""
    ann, bob, carol, dan = await _people(daemon, "ann", "bob", "carol", "dan")
    ack = await ann.request("dm", to=["bob", "carol"], text="secret", nonce="s1")
    room = ack["room"]
    refused = {
        "join": await dan.request("join", room=room),
        "send": await dan.request("send", room=room, text="x", nonce="d1"),
        "history": await dan.request("history", room=room),
        "who": await dan.request("who", room=room),
        "read": await dan.request("read", room=room, seq=1),
        "typing": await dan.request("typing", room=room),
    }
    assert {op: r.get("code") for op, r in refused.items()} == dict.fromkeys(refused, "forbidden")
    assert room not in [r["room"] for r in (await dan.request("rooms"))["rooms"]]
    assert (await ann.request("leave", room=room))["code"] == "bad_request"
    assert (await ann.request("invite", room=room, user="dan"))["code"] == "forbidden"
    assert (await ann.request("kick", room=room, user="bob"))["code"] == "forbidden"
    assert (await ann.request("set_topic", room=room, topic="t"))["code"] == "forbidden"
    assert (await ann.request("archive", room=room, archived=True))["code"] == "forbidden"
    for bad in ("@bob:ann:carol", "@ann:ann:bob", "@" + ":".join(f"u{i}" for i in range(9))):
        assert (await ann.request("join", room=bad))["code"] == "bad_request", bad
    assert (await ann.request("join", room="@ann:bob:dan"))["code"] == "not_found"
    assert (await ann.request("create_room", room="@ann:bob:dan"))["code"] == "bad_request"
    joined = await bob.request("join", room=room)
    assert joined.get("op") == "ok" and joined["last_seq"] == 1, joined
    await _close(ann, bob, carol, dan)


async def test_group_mentions_are_plain_text_and_names_count(daemon: Server) -> None:
    """``@room`` in a group conversation mentions nobody (everyone is alerted already);
    ``@name`` counts in the named member's ``mentions``."""
    ann, bob, carol = await _people(daemon, "ann", "bob", "carol")
    ack = await ann.request("dm", to=["bob", "carol"], text="@room hi", nonce="m1")
    got = await bob.event("message", room=ack["room"], seq=1)
    assert "mentions" not in got and "group" not in got, got
    sent = await ann.request("send", room=ack["room"], text="@here and @all", nonce="m2")
    got = await bob.event("message", room=ack["room"], seq=sent["seq"])
    assert "mentions" not in got and "group" not in got, got
    await ann.request("send", room=ack["room"], text="@carol look", nonce="m3")
    got = await carol.event("message", room=ack["room"], seq=3)
    assert got["mentions"] == ["carol"]
    for client, mentions in ((carol, 1), (bob, 0)):
        [room] = [r for r in (await client.request("rooms"))["rooms"]
                  if r["room"] == ack["room"]]
        assert (room["unread"], room["mentions"]) == (3, mentions), room
    await _close(ann, bob, carol)


async def test_two_first_dms_at_once_give_one_room(daemon: Server) -> None:
    """Two members starting the same group conversation at the same moment get one room,
    with both messages in it, each once."""
    ann, bob, carol = await _people(daemon, "ann", "bob", "carol")
    replies: dict[str, dict[str, Any]] = {}

    async def start(client: Client, name: str, to: list[str]) -> None:
        replies[name] = await client.request("dm", to=to, text=f"from {name}", nonce=name)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(start, ann, "ann", ["bob", "carol"])
        nursery.start_soon(start, bob, "bob", ["carol", "ann"])
    assert {r["room"] for r in replies.values()} == {"@ann:bob:carol"}, replies
    assert sorted(r["seq"] for r in replies.values()) == [1, 2]
    history = await carol.request("history", room="@ann:bob:carol")
    assert sorted(m["text"] for m in history["messages"]) == ["from ann", "from bob"]
    await _close(ann, bob, carol)


async def test_every_member_on_a_second_node_gets_the_first_message(tmp_path: Path,
                                                                    database_dsn: str) -> None:
    """A member connected to another node receives the first message of a group
    conversation they never joined, and its later ones."""
    config = make_config(tmp_path, database_dsn, limits=LIFTED_RATES)
    async with running(config) as a, running(config) as b:
        ann = await Client.signed_in(a.tcp_port, await register_and_login(a.http_port, "ann"))
        bob = await Client.signed_in(b.tcp_port, await register_and_login(b.http_port, "bob"))
        carol = await Client.signed_in(b.tcp_port,
                                       await register_and_login(b.http_port, "carol"))
        ack = await ann.request("dm", to=["bob", "carol"], text="across", nonce="n1")
        for client in (bob, carol):
            got = await client.event("message", room=ack["room"], seq=1)
            assert got["text"] == "across"
        await ann.request("send", room=ack["room"], text="again", nonce="n2")
        assert (await carol.event("message", room=ack["room"], seq=2))["text"] == "again"
        reply = await carol.request("send", room=ack["room"], text="back", nonce="n3")
        assert (await ann.event("message", room=ack["room"], seq=reply["seq"]))["text"] == \
            "back"
        # a conversation has no joined events (nobody joins it: the set is the name)
        for client in (ann, bob, carol):
            await client.request("ping")
            assert not [e for e in client.events if e.get("op") == "joined"], client.events
        await _close(ann, bob, carol)


async def test_resume_gives_what_was_missed(daemon: Server) -> None:
    """A member who was away resumes a group conversation as any room: what they missed,
    in order, nothing twice."""
    ann, carol = await _people(daemon, "ann", "carol")
    bob_token = await register_and_login(daemon.http_port, "bob")
    bob = await Client.signed_in(daemon.tcp_port, bob_token)
    ack = await ann.request("dm", to=["bob", "carol"], text="one", nonce="r1")
    await bob.event("message", room=ack["room"], seq=1)
    await bob.aclose()
    for i in (2, 3):
        await ann.request("send", room=ack["room"], text=f"n{i}", nonce=f"r{i}")
    bob = await Client.tcp(daemon.tcp_port)
    await bob.hello(bob_token, resume={ack["room"]: 1})
    got = [await bob.event("message", room=ack["room"], seq=seq) for seq in (2, 3)]
    assert [m["text"] for m in got] == ["n2", "n3"]
    await _close(ann, bob, carol)



async def test_alerts_by_level(tmp_path: Path, database_dsn: str, nursery: trio.Nursery) -> None:
    """Web Push to a real push service on 127.0.0.1: a group conversation's message reaches
    each offline member at its default level (all) as a direct message does (kind dm, urgent,
    titled by the people in it), never the sender; at mentions only a message naming them
    (kind mention); at none nothing."""
    service = PushService()
    await nursery.start(service.serve)
    async with running(push_config(tmp_path, database_dsn)) as daemon:
        with trio.fail_after(TIMEOUT):
            ann = await connected(daemon, await subscribed(daemon, service, "ann"))
            others = {}
            for name in ("bob", "carol", "dan", "eve", "fay"):
                others[name] = await connected(daemon,
                                               await subscribed(daemon, service, name))
            first = await ann.request("dm", to=list(others), text="hi all", nonce="a1")
            room = first["room"]
            for client in others.values():
                await client.event("message", room=room, seq=first["seq"])
            [level] = [r["notify"] for r in (await others["fay"].request("rooms"))["rooms"]]
            assert level == "all"
            assert (await others["carol"].request("set_notify", room=room,
                                                  notify="mentions"))["notify"] == "mentions"
            await others["dan"].request("set_notify", room=room, notify="none")
            for name, client in others.items():
                await gone(daemon, client, name)
            # the pusher asks the presence tracker (every node's view), which follows
            await until(lambda: not daemon.app.presence.state.online() & set(others))

            plain = await ann.request("send", room=room, text="plain", nonce="a2")
            for name in ("bob", "eve", "fay"):  # every member at all, however many
                await service.wait_for(lambda n=name: len(service.to(n)) == 1)  # type: ignore[misc]
            push = service.to("fay")[0]
            assert (push.payload["seq"], push.payload["kind"], push.payload["title"],
                    push.headers["urgency"]) == (plain["seq"], "dm",
                                                 "ann in bob, carol, dan, eve & you", "high")
            named = await ann.request("send", room=room, text="@carol @dan look", nonce="a3")
            await service.wait_for(lambda: len(service.to("carol")) == 1)
            await service.wait_for(lambda: len(service.to("bob")) == 2)
            push = service.to("carol")[0]
            assert (push.payload["seq"], push.payload["kind"]) == (named["seq"], "mention")
            assert service.to("bob")[1].payload["kind"] == "dm"
            # carol got the mention only, dan nothing, ann (the sender) nothing: the seven
            # pushes queued in all say the plain message and the mention were decided on
            await until(lambda: metric(daemon, "chatd_push_queued_total") == 7)
            assert service.to("dan") == [] and service.to("ann") == []
            assert service.problems == []
            await ann.aclose()
