"""End-to-end: changes to messages (edit, delete, react, reply, mentions) driven over real
sockets, TCP and WebSocket, as clients do; on one node and across two.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from chatd.config import Config
from chatd.server import Server
from tests.client import Client, full_history, register_and_login
from tests.e2e.conftest import ann_and_bea_on_two_nodes, running
from tests.helpers import make_config

CHANGE_OPS = ("message", "edited", "deleted", "reaction")


def entries(frames: list[dict[str, Any]], room: str) -> list[dict[str, Any]]:
    """The entries of ``room``'s log among ``frames`` (events as received, in order)."""
    return [f for f in frames if f.get("op") in CHANGE_OPS and f.get("room") == room]


async def _pair(daemon: Server, nursery: trio.Nursery, room: str = "team"
                ) -> tuple[Client, Client, Client]:
    """ann (TCP, the room's owner), bob (WebSocket) and cid (TCP), members of ``room``."""
    ann = await Client.tcp(daemon.tcp_port)
    await ann.hello(await register_and_login(daemon.http_port, "ann"))
    bob = await Client.ws(daemon.http_port, nursery)
    await bob.hello(await register_and_login(daemon.http_port, "bob"))
    cid = await Client.tcp(daemon.tcp_port)
    await cid.hello(await register_and_login(daemon.http_port, "cid"))
    for client in (ann, bob, cid):
        assert (await client.request("join", room=room))["op"] == "ok"
    return ann, bob, cid


async def test_every_change_reaches_every_member_in_seq_order(daemon: Server,
                                                              nursery: trio.Nursery) -> None:
    """edit, react, reply and delete are each acknowledged with the seq of their entry, and
    every member connection (TCP and WebSocket) receives the same entries, once each, in seq
    order; history shows the message as it is now."""
    ann, bob, cid = await _pair(daemon, nursery)
    posted = await bob.request("send", room="team", text="lunch at 12?", nonce="b1")
    mid = posted["msg_id"]
    edited = await bob.request("edit", room="team", msg_id=mid, text="lunch at 12:30?")
    assert edited["op"] == "ok" and edited["seq"] == posted["seq"] + 1
    assert edited["msg_id"] == mid and "unchanged" not in edited
    reacted = await cid.request("react", room="team", msg_id=mid, emoji="👍")
    assert reacted["seq"] == edited["seq"] + 1
    reply = await ann.request("send", room="team", text="yes @bob", nonce="a1", reply_to=mid)
    assert reply["seq"] == reacted["seq"] + 1
    gone = await ann.request("delete", room="team", msg_id=reply["msg_id"])  # own message
    assert gone["seq"] == reply["seq"] + 1

    expected = [("message", posted["seq"]), ("edited", edited["seq"]),
                ("reaction", reacted["seq"]), ("message", reply["seq"]),
                ("deleted", gone["seq"])]
    for client in (ann, bob, cid):
        await client.event("deleted", seq=gone["seq"])  # the last one: all came before it
        got = entries(client.events, "team")
        assert [(e["op"], e["seq"]) for e in got] == expected[:-1]
    live_edit = next(e for e in entries(cid.events, "team") if e["op"] == "edited")
    assert live_edit == {"op": "edited", "room": "team", "seq": edited["seq"], "msg_id": mid,
                         "text": "lunch at 12:30?", "from": "bob", "ts": live_edit["ts"]}
    live_reply = next(e for e in entries(bob.events, "team") if e["seq"] == reply["seq"])
    assert live_reply["reply_to"] == mid and live_reply["mentions"] == ["bob"]
    assert live_reply["quote"] == {"from": "bob", "text": "lunch at 12:30?"}

    log = await full_history(cid, "team")
    assert [(e["op"], e["seq"]) for e in log] == expected
    now = log[0]
    assert now["text"] == "lunch at 12:30?" and now["rev"] == reacted["seq"]
    assert now["reactions"] == [{"emoji": "👍", "users": ["cid"]}] and "edited_ts" in now
    assert log[3]["deleted"] is True and log[3]["text"] == "" and "mentions" not in log[3]
    for client in (ann, bob, cid):
        await client.aclose()


async def test_changes_that_change_nothing_store_nothing(daemon: Server,
                                                         nursery: trio.Nursery) -> None:
    """Resending an edit, a reaction or a delete (a client that lost the ack) stores nothing
    and is answered unchanged with the seq of the entry that made it so; no event goes out."""
    ann, bob, cid = await _pair(daemon, nursery)
    posted = await ann.request("send", room="team", text="v1", nonce="a1")
    mid = posted["msg_id"]
    first = await ann.request("edit", room="team", msg_id=mid, text="v2")
    again = await ann.request("edit", room="team", msg_id=mid, text="v2")
    assert again["unchanged"] is True and again["seq"] == first["seq"]
    put = await bob.request("react", room="team", msg_id=mid, emoji="❤")  # "❤️" once made one
    assert (await bob.request("react", room="team", msg_id=mid, emoji="❤️"))["unchanged"]
    off = await bob.request("react", room="team", msg_id=mid, emoji="❤️", on=False)
    assert (await bob.request("react", room="team", msg_id=mid, emoji="❤️", on=False)
            )["unchanged"]
    deleted = await ann.request("delete", room="team", msg_id=mid)
    repeat = await ann.request("delete", room="team", msg_id=mid)
    assert repeat["unchanged"] is True and repeat["seq"] == deleted["seq"]
    assert [put["seq"], off["seq"], deleted["seq"]] == [first["seq"] + 1, first["seq"] + 2,
                                                        first["seq"] + 3]
    marker = await ann.request("send", room="team", text="after", nonce="a2")
    assert marker["seq"] == deleted["seq"] + 1  # the repeats took no seq
    await cid.event("message", seq=marker["seq"])
    assert [e["seq"] for e in entries(cid.events, "team")] == list(
        range(posted["seq"], marker["seq"]))
    for client in (ann, bob, cid):
        await client.aclose()


@pytest.mark.parametrize("transport", ["tcp", "ws"])
async def test_who_may_change_what(daemon: Server, nursery: trio.Nursery,
                                   transport: str) -> None:
    """Only the author edits; the author or the room's owner deletes; only members react;
    bad emoji, unknown messages and replies to another room's messages are refused. Each
    denial stores nothing (the room's log does not move) and sends no event."""
    ann, bob, cid = await _pair(daemon, nursery)  # ann owns "team"
    eve = await (Client.tcp(daemon.tcp_port) if transport == "tcp"
                 else Client.ws(daemon.http_port, nursery))
    await eve.hello(await register_and_login(daemon.http_port, "eve"))
    await eve.request("join", room="elsewhere")
    by_bob = await bob.request("send", room="team", text="bob's", nonce="b1")
    other = await eve.request("send", room="elsewhere", text="other room", nonce="e1")
    mid = by_bob["msg_id"]
    denials = [
        (cid, "edit", {"msg_id": mid, "text": "not mine"}, "forbidden"),
        (ann, "edit", {"msg_id": mid, "text": "owner, not author"}, "forbidden"),
        (cid, "delete", {"msg_id": mid}, "forbidden"),
        (eve, "react", {"msg_id": mid, "emoji": "👍"}, "forbidden"),
        (eve, "delete", {"msg_id": mid}, "forbidden"),
        (cid, "react", {"msg_id": mid, "emoji": "not an emoji"}, "bad_request"),
        (cid, "react", {"msg_id": mid, "emoji": "👍👍"}, "bad_request"),
        (cid, "react", {"msg_id": 10**12, "emoji": "👍"}, "not_found"),
        (bob, "edit", {"msg_id": other["msg_id"], "text": "x"}, "not_found"),
        (bob, "send", {"text": "re", "nonce": "b2", "reply_to": other["msg_id"]}, "not_found"),
        (bob, "edit", {"msg_id": mid, "text": "   "}, "bad_request"),
    ]
    for client, op, fields, code in denials:
        refused = await client.request(op, room="team", **fields)
        assert (refused["op"], refused.get("code")) == ("error", code), (op, fields, refused)
    allowed = await ann.request("delete", room="team", msg_id=mid)  # the owner may
    assert allowed["seq"] == by_bob["seq"] + 1, "a denial took a seq"
    await cid.event("deleted", seq=allowed["seq"])
    assert [e["op"] for e in entries(cid.events, "team")] == ["message"]
    for client in (ann, bob, cid, eve):
        await client.aclose()


async def test_resume_gets_messages_and_changes_once(config: Config,
                                                    nursery: trio.Nursery) -> None:
    """A client away while messages were sent and changed gets, on resume, exactly the
    entries after what it saw, once each, in seq order; then live entries continue. With
    more missed than resume_max, a gap, and history pages the rest in the same order."""
    async with running(config) as server:
        ann, bob, cid = await _pair(server, nursery)
        seen = await ann.request("send", room="team", text="before", nonce="a0")
        await cid.aclose()  # away from here
        mids = []
        for i in range(4):
            sent = await ann.request("send", room="team", text=f"m{i}", nonce=f"a{i + 1}")
            mids.append(sent["msg_id"])
        await bob.request("react", room="team", msg_id=seen["msg_id"], emoji="🎉")
        await ann.request("edit", room="team", msg_id=mids[0], text="m0 fixed")
        await ann.request("delete", room="team", msg_id=mids[1])
        last = await bob.request("react", room="team", msg_id=mids[2], emoji="👀")

        cid = await Client.tcp(server.tcp_port)
        token = await register_and_login(server.http_port, "cid")
        await cid.hello(token, resume={"team": seen["seq"]})
        live = await ann.request("send", room="team", text="live", nonce="a9")
        await cid.event("message", seq=live["seq"])
        got = entries(cid.events, "team")
        assert [e["seq"] for e in got] == list(range(seen["seq"] + 1, last["seq"] + 1))
        assert live["seq"] == last["seq"] + 1
        assert [e["op"] for e in got] == ["message"] * 4 + ["reaction", "edited", "deleted",
                                                            "reaction"]
        # The resumed messages are as they are now; their changes follow (rev tells).
        assert got[0]["text"] == "m0 fixed" and got[0]["rev"] == got[5]["seq"]
        assert got[1]["deleted"] is True
        await cid.aclose()
        for client in (ann, bob):
            await client.aclose()


async def test_a_gap_of_changes_is_paged_with_history(tmp_path: Path, database_dsn: str) -> None:
    """More entries missed than resume_max: the client is told a gap and pages it with
    history after; the pages hold every entry once, in order."""
    config = make_config(tmp_path, database_dsn, limits={"resume_max": 3})
    async with running(config) as server:
        ann = await Client.tcp(server.tcp_port)
        await ann.hello(await register_and_login(server.http_port, "ann"))
        await ann.request("join", room="team")
        seen = await ann.request("send", room="team", text="x", nonce="a0")
        for i, emoji in enumerate(["👍", "🎉", "👀", "🔥", "✅"]):
            await ann.request("react", room="team", msg_id=seen["msg_id"], emoji=emoji)
            await ann.request("send", room="team", text=f"y{i}", nonce=f"a{i + 1}")
        away = await Client.tcp(server.tcp_port)
        await away.hello(await register_and_login(server.http_port, "ann"),
                         resume={"team": seen["seq"]})
        gap = await away.event("gap", room="team")
        assert gap["after"] == seen["seq"] and gap["last_seq"] == seen["seq"] + 10
        paged: list[dict[str, Any]] = []
        after = gap["after"]
        while after < gap["last_seq"]:
            page = await away.request("history", room="team", after=after, limit=4)
            paged += page["messages"]
            after = page["messages"][-1]["seq"]
        assert [e["seq"] for e in paged] == list(range(seen["seq"] + 1, gap["last_seq"] + 1))
        assert [e["op"] for e in paged] == ["reaction", "message"] * 5
        await ann.aclose()
        await away.aclose()


async def test_mentions_count_until_read(daemon: Server, nursery: trio.Nursery) -> None:
    """A mention of a member is carried in the message and counted in their room object
    (welcome and rooms) until they mark it read; code spans and non-members do not count."""
    ann, bob, cid = await _pair(daemon, nursery)
    await ann.request("send", room="team", text="@bob can you?", nonce="a1")
    await ann.request("send", room="team", text="`@bob` is a handle", nonce="a2")
    last = await ann.request("send", room="team", text="@zed @cid @BOB", nonce="a3")
    token = await register_and_login(daemon.http_port, "bob")
    again = await Client.tcp(daemon.tcp_port)
    welcome = await again.hello(token)
    [room] = [r for r in welcome["rooms"] if r["room"] == "team"]
    assert (room["unread"], room["mentions"]) == (3, 2)
    await again.request("read", room="team", seq=last["seq"])
    listed = await again.request("rooms", joined=True)
    [room] = [r for r in listed["rooms"] if r["room"] == "team"]
    assert (room["unread"], room["mentions"]) == (0, 0)
    message = await bob.event("message", seq=last["seq"])
    assert message["mentions"] == ["bob", "cid"]
    for client in (ann, bob, cid, again):
        await client.aclose()


async def test_changes_cross_nodes(tmp_path: Path, database_dsn: str) -> None:
    """A change made on one node reaches the members connected to another, in seq order,
    and concurrent reactions from both nodes to one message end the same everywhere."""
    async with ann_and_bea_on_two_nodes(tmp_path, database_dsn) as (ann, bea):
        posted = await ann.request("send", room="shared", text="hello", nonce="x1")
        mid = posted["msg_id"]

        async def toggle(client: Client, emoji: str) -> None:
            for i in range(11):  # the last one puts it: both end with it on
                await client.send({"op": "react", "id": f"r{i}", "room": "shared",
                                   "msg_id": mid, "emoji": emoji, "on": i % 2 == 0})
            for i in range(11):
                assert (await client.reply(f"r{i}"))["op"] == "ok"

        async with trio.open_nursery() as nursery:
            nursery.start_soon(toggle, ann, "👍")
            nursery.start_soon(toggle, bea, "👍")
        edited = await ann.request("edit", room="shared", msg_id=mid, text="hello!")
        for client in (ann, bea):
            await client.event("edited", seq=edited["seq"])
            got = entries(client.events, "shared")
            assert [e["seq"] for e in got] == list(range(posted["seq"], edited["seq"]))
        log = await full_history(bea, "shared")
        holding: list[str] = []
        for e in log[1:]:
            if e["op"] == "reaction":
                (holding.append if e["on"] else holding.remove)(e["user"])
        assert log[0]["reactions"] == [{"emoji": "👍", "users": holding}]
        assert log[0]["text"] == "hello!"


async def test_the_topic_reaches_members_and_resumes(config: Config,
                                                     nursery: trio.Nursery) -> None:
    """The owner's set_topic is an entry: members get a topic event in seq order, a client
    that was away gets it on resume, room objects show it; others are refused."""
    async with running(config) as server:
        ann, bob, cid = await _pair(server, nursery)
        seen = await bob.request("send", room="team", text="hi", nonce="b1")
        await cid.aclose()
        refused = await bob.request("set_topic", room="team", topic="mine")
        assert (refused["op"], refused["code"]) == ("error", "forbidden")
        set_ = await ann.request("set_topic", room="team", topic="release on Friday")
        assert set_["seq"] == seen["seq"] + 1 and set_["msg_id"] == 0
        event = await bob.event("topic", seq=set_["seq"])
        assert (event["topic"], event["by"]) == ("release on Friday", "ann")
        cid = await Client.tcp(server.tcp_port)
        welcome = await cid.hello(await register_and_login(server.http_port, "cid"),
                                  resume={"team": seen["seq"]})
        [room] = [r for r in welcome["rooms"] if r["room"] == "team"]
        assert room["topic"] == "release on Friday"
        assert (await cid.event("topic", seq=set_["seq"]))["topic"] == "release on Friday"
        cleared = await ann.request("set_topic", room="team", topic="")
        assert (await cid.event("topic", seq=cleared["seq"]))["topic"] == ""
        for client in (ann, bob, cid):
            await client.aclose()
