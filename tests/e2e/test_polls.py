"""End-to-end: polls (``send``/``dm`` with ``poll``, ``vote``, ``close_poll``, the ``voted`` and
``poll_closed`` entries, the message object's ``poll``) over real sockets, TCP and WebSocket,
against the real database; on one node and across two; and their HTTP routes.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from chatd.config import Config
from chatd.server import Server
from tests.client import Client, full_history, http, register_and_login
from tests.e2e.conftest import ann_and_bea_on_two_nodes, running
from tests.e2e.test_files import upload

LOG_OPS = ("message", "edited", "deleted", "reaction", "voted", "poll_closed")
LUNCH = {"options": ["Tuesday", "Wednesday", "Thursday"]}


def entries(frames: list[dict[str, Any]], room: str) -> list[dict[str, Any]]:
    """The entries of ``room``'s log among ``frames`` (events as received, in order)."""
    return [f for f in frames if f.get("op") in LOG_OPS and f.get("room") == room]


async def _members(server: Server, nursery: trio.Nursery, transport: str = "ws",
                   room: str = "team") -> tuple[Client, Client]:
    """ann (TCP, the room's owner) and bob (WebSocket or TCP, a member) in ``room``."""
    ann = await Client.tcp(server.tcp_port)
    await ann.hello(await register_and_login(server.http_port, "ann"))
    bob = (await Client.ws(server.http_port, nursery) if transport == "ws"
           else await Client.tcp(server.tcp_port))
    await bob.hello(await register_and_login(server.http_port, "bob"))
    for client in (ann, bob):
        assert (await client.request("join", room=room))["op"] == "ok"
    return ann, bob


def _options(poll: dict[str, Any]) -> list[tuple[str, int, list[str]]]:
    return [(o["text"], o["votes"], o["voters"]) for o in poll["options"]]


async def _message(client: Client, room: str, msg_id: int) -> dict[str, Any]:
    """The message ``msg_id`` as ``room``'s history shows it now."""
    return next(e for e in await full_history(client, room)
                if e["op"] == "message" and e["msg_id"] == msg_id)


@pytest.mark.parametrize("transport", ["tcp", "ws"])
async def test_a_poll_is_seen_and_voted_on(daemon: Server, nursery: trio.Nursery,
                                           transport: str) -> None:
    """A poll sent by ann reaches bob with its options; each vote is a ``voted`` entry with
    the voter's whole choice, to both; history shows the counts and voters in vote order;
    moving a single choice and taking it back each replace the voter's choice; resending
    the same choice is ``unchanged`` at the message's rev and sends nothing."""
    ann, bob = await _members(daemon, nursery, transport)
    sent = await ann.request("send", room="team", text="Lunch day?", nonce="p1",
                             poll={"options": [" Tuesday ", "Wednesday", "Thursday"]})
    assert sent["op"] == "ok", sent
    mid = sent["msg_id"]
    posted = await bob.event("message", seq=sent["seq"])
    assert posted["text"] == "Lunch day?"
    assert posted["poll"] == {"options": [
        {"text": "Tuesday", "votes": 0, "voters": []},
        {"text": "Wednesday", "votes": 0, "voters": []},
        {"text": "Thursday", "votes": 0, "voters": []}], "multiple": False, "closed": False}

    first = await bob.request("vote", room="team", msg_id=mid, options=[1])
    assert first["op"] == "ok" and first["seq"] == sent["seq"] + 1, first
    assert first["msg_id"] == mid and "unchanged" not in first
    for client in (ann, bob):
        event = await client.event("voted", seq=first["seq"])
        assert event == {"op": "voted", "room": "team", "seq": first["seq"], "msg_id": mid,
                         "user": "bob", "options": [1], "ts": first["ts"]}
    second = await ann.request("vote", room="team", msg_id=mid, options=[1])
    message = await _message(ann, "team", mid)
    assert _options(message["poll"]) == [("Tuesday", 0, []), ("Wednesday", 2, ["bob", "ann"]),
                                         ("Thursday", 0, [])]
    assert message["rev"] == second["seq"]

    again = await bob.request("vote", room="team", msg_id=mid, options=[1])
    assert again["unchanged"] is True and again["seq"] == second["seq"]
    moved = await bob.request("vote", room="team", msg_id=mid, options=[2])
    assert moved["seq"] == second["seq"] + 1
    taken = await ann.request("vote", room="team", msg_id=mid, options=[])
    event = await bob.event("voted", seq=taken["seq"])
    assert event["options"] == [] and event["user"] == "ann"
    message = await _message(bob, "team", mid)
    assert _options(message["poll"]) == [("Tuesday", 0, []), ("Wednesday", 0, []),
                                         ("Thursday", 1, ["bob"])]
    marker = await ann.request("send", room="team", text="after", nonce="a2")
    last = await bob.event("message", seq=marker["seq"])  # the others came before, once each
    assert [(e["op"], e["seq"]) for e in [*entries(bob.events, "team"), last]] == [
        ("voted", second["seq"]), ("voted", moved["seq"]), ("message", marker["seq"])]
    assert [(e["op"], e["seq"]) for e in await full_history(bob, "team")] == [
        ("message", sent["seq"]), ("voted", first["seq"]), ("voted", second["seq"]),
        ("voted", moved["seq"]), ("voted", taken["seq"]), ("message", marker["seq"])]
    for client in (ann, bob):
        await client.aclose()


async def test_a_multiple_choice_poll(daemon: Server, nursery: trio.Nursery) -> None:
    """A multiple-choice poll takes any number of options per voter, sorted; a later choice
    replaces the whole earlier one, and the voter goes after those who voted since; a
    single-choice poll refuses two options."""
    ann, bob = await _members(daemon, nursery)
    sent = await ann.request("send", room="team", text="Which snacks?", nonce="p1",
                             poll={"options": ["crisps", "fruit", "nuts"], "multiple": True})
    mid = sent["msg_id"]
    voted = await ann.request("vote", room="team", msg_id=mid, options=[2, 0])
    assert (await bob.event("voted", seq=voted["seq"]))["options"] == [0, 2]
    await bob.request("vote", room="team", msg_id=mid, options=[0, 1, 2])
    await ann.request("vote", room="team", msg_id=mid, options=[0, 1])
    message = await _message(bob, "team", mid)
    assert message["poll"]["multiple"] is True
    assert _options(message["poll"]) == [("crisps", 2, ["bob", "ann"]),
                                         ("fruit", 2, ["bob", "ann"]), ("nuts", 1, ["bob"])]
    single = await ann.request("send", room="team", text="One?", nonce="p2",
                               poll={"options": ["yes", "no"]})
    refused = await bob.request("vote", room="team", msg_id=single["msg_id"], options=[0, 1])
    assert refused["op"] == "error" and refused["code"] == "bad_request"
    assert "one" in refused["message"]
    for client in (ann, bob):
        await client.aclose()


@pytest.mark.parametrize("transport", ["tcp", "ws"])
async def test_who_may_vote_and_close(daemon: Server, nursery: trio.Nursery,
                                      transport: str) -> None:
    """A non-member may not vote (forbidden); only the author or a moderator closes
    (forbidden otherwise); the close is a ``poll_closed`` entry, again is ``unchanged``; a
    closed poll refuses votes (bad_request, "the poll is closed") and shows ``closed_by`` and
    ``closed_ts``; an index out of range and a message that is no poll are bad_request; no
    such message not_found. Each refusal stores nothing."""
    ann, bob = await _members(daemon, nursery, transport)
    sent = await bob.request("send", room="team", text="Retro format?", nonce="p1",
                             poll={"options": ["wheel", "sailboat"]})
    mid = sent["msg_id"]
    eve = (await Client.ws(daemon.http_port, nursery) if transport == "ws"
           else await Client.tcp(daemon.tcp_port))
    await eve.hello(await register_and_login(daemon.http_port, "eve"))
    refused = await eve.request("vote", room="team", msg_id=mid, options=[0])
    assert refused["op"] == "error" and refused["code"] == "forbidden", refused
    await eve.request("join", room="team")
    assert (await eve.request("close_poll", room="team", msg_id=mid))["code"] == "forbidden"
    assert (await eve.request("vote", room="team", msg_id=mid, options=[2]))["code"] \
        == "bad_request"
    plain = await ann.request("send", room="team", text="not a poll", nonce="a1")
    refused = await eve.request("vote", room="team", msg_id=plain["msg_id"], options=[0])
    assert refused["code"] == "bad_request" and "not a poll" in refused["message"]
    assert (await eve.request("vote", room="team", msg_id=mid + 1000, options=[0]))["code"] \
        == "not_found"
    assert (await eve.request("vote", room="nowhere", msg_id=mid, options=[0]))["code"] \
        == "not_found"
    voted = await eve.request("vote", room="team", msg_id=mid, options=[0])
    assert voted["seq"] == plain["seq"] + 1  # the refusals took no seq

    closed = await ann.request("close_poll", room="team", msg_id=mid)  # the owner moderates
    assert closed["op"] == "ok" and closed["seq"] == voted["seq"] + 1
    for client in (ann, bob, eve):
        event = await client.event("poll_closed", seq=closed["seq"])
        assert event == {"op": "poll_closed", "room": "team", "seq": closed["seq"],
                         "msg_id": mid, "by": "ann", "ts": closed["ts"]}
    again = await bob.request("close_poll", room="team", msg_id=mid)
    assert again["unchanged"] is True and again["seq"] == closed["seq"]
    refused = await bob.request("vote", room="team", msg_id=mid, options=[1])
    assert refused["code"] == "bad_request" and refused["message"] == "the poll is closed"
    poll = (await _message(eve, "team", mid))["poll"]
    assert poll["closed"] is True and poll["closed_by"] == "ann"
    assert poll["closed_ts"] == closed["ts"] and _options(poll)[0] == ("wheel", 1, ["eve"])

    own = await bob.request("send", room="team", text="Again?", nonce="p2",
                            poll={"options": ["yes", "no"]})
    assert (await bob.request("close_poll", room="team", msg_id=own["msg_id"]))["op"] == "ok"
    for client in (ann, bob, eve):
        await client.aclose()


async def test_resume_carries_votes_once(config: Config, nursery: trio.Nursery) -> None:
    """A client away while votes came and the poll closed gets, on resume, each entry once
    in seq order; a join shows the current counts; live entries follow with nothing
    repeated."""
    async with running(config) as server:
        ann, bob = await _members(server, nursery)
        sent = await ann.request("send", room="team", text="Venue?", nonce="p1",
                                 poll={"options": ["park", "pub"], "multiple": True})
        mid = sent["msg_id"]
        early = await bob.request("vote", room="team", msg_id=mid, options=[0])
        await bob.aclose()  # away from here
        votes = [await ann.request("vote", room="team", msg_id=mid, options=[0, 1]),
                 await ann.request("vote", room="team", msg_id=mid, options=[1])]
        closed = await ann.request("close_poll", room="team", msg_id=mid)

        bob = await Client.tcp(server.tcp_port)
        await bob.hello(await register_and_login(server.http_port, "bob"),
                        resume={"team": early["seq"]})
        marker = await ann.request("send", room="team", text="done", nonce="a2")
        last = await bob.event("message", seq=marker["seq"])
        got = [*entries(bob.events, "team"), last]
        assert [(e["op"], e["seq"]) for e in got] == [
            ("voted", votes[0]["seq"]), ("voted", votes[1]["seq"]),
            ("poll_closed", closed["seq"]), ("message", marker["seq"])]
        assert [e.get("options") for e in got[:2]] == [[0, 1], [1]]

        joined = await bob.request("join", room="team")
        message = next(m for m in joined["messages"] if m.get("msg_id") == mid
                       and m["op"] == "message")
        assert _options(message["poll"]) == [("park", 1, ["bob"]), ("pub", 1, ["ann"])]
        assert message["poll"]["closed"] is True and message["rev"] == closed["seq"]
        for client in (ann, bob):
            await client.aclose()


async def test_an_edit_keeps_the_options_and_a_deletion_removes_the_poll(
        daemon: Server, nursery: trio.Nursery) -> None:
    """Editing a poll's message changes its question only (options and votes stay);
    deleting it leaves a tombstone without a poll, and votes on it are not_found."""
    ann, bob = await _members(daemon, nursery)
    sent = await ann.request("send", room="team", text="Lunch?", nonce="p1", poll=LUNCH)
    mid = sent["msg_id"]
    await bob.request("vote", room="team", msg_id=mid, options=[2])
    edited = await ann.request("edit", room="team", msg_id=mid, text="Lunch, next week?")
    assert edited["op"] == "ok"
    message = await _message(bob, "team", mid)
    assert message["text"] == "Lunch, next week?"
    assert _options(message["poll"]) == [("Tuesday", 0, []), ("Wednesday", 0, []),
                                         ("Thursday", 1, ["bob"])]
    deleted = await ann.request("delete", room="team", msg_id=mid)
    assert deleted["op"] == "ok"
    tomb = await _message(bob, "team", mid)
    assert tomb["deleted"] is True and "poll" not in tomb
    refused = await bob.request("vote", room="team", msg_id=mid, options=[0])
    assert refused["code"] == "not_found"
    assert (await ann.request("close_poll", room="team", msg_id=mid))["code"] == "not_found"
    for client in (ann, bob):
        await client.aclose()


async def test_polls_in_a_thread_with_files_and_in_a_conversation(
        daemon: Server, nursery: trio.Nursery) -> None:
    """A poll may be a thread reply and may carry files; ``dm`` takes a poll too; the other
    side of the conversation votes."""
    ann, bob = await _members(daemon, nursery)
    root = await ann.request("send", room="team", text="Planning", nonce="r1")
    token = await register_and_login(daemon.http_port, "ann")
    file = await upload(daemon, token, "team", b"1. food", filename="agenda.txt")
    reply = await ann.request("send", room="team", text="Which agenda?", nonce="p1",
                              thread=root["msg_id"], files=[file["id"]],
                              poll={"options": ["this", "that"]})
    assert reply["op"] == "ok", reply
    got = await bob.event("message", seq=reply["seq"])
    assert got["thread"] == root["msg_id"] and got["files"][0]["name"] == "agenda.txt"
    assert [o["text"] for o in got["poll"]["options"]] == ["this", "that"]
    assert (await bob.request("vote", room="team", msg_id=reply["msg_id"],
                              options=[0]))["op"] == "ok"

    sent = await ann.request("dm", to="bob", text="Call or meet?", nonce="d1",
                             poll={"options": ["call", "meet"]})
    assert sent["op"] == "ok", sent
    event = await bob.event("message", seq=sent["seq"], room=sent["room"])
    assert event["poll"]["options"][1]["text"] == "meet"
    voted = await bob.request("vote", room=sent["room"], msg_id=sent["msg_id"], options=[1])
    assert (await ann.event("voted", seq=voted["seq"], room=sent["room"]))["user"] == "bob"
    for client in (ann, bob):
        await client.aclose()


BAD_POLLS: list[tuple[dict[str, Any], str]] = [
    ({"text": "Q?", "poll": []}, "'poll' must be an object"),
    ({"text": "Q?", "poll": {"options": ["only"]}}, "2-10"),
    ({"text": "Q?", "poll": {"options": [f"o{i}" for i in range(11)]}}, "2-10"),
    ({"text": "Q?", "poll": {"options": "a,b"}}, "2-10"),
    ({"text": "Q?", "poll": {"options": ["a", 2]}}, "strings"),
    ({"text": "Q?", "poll": {"options": ["a", "  "]}}, "not blank"),
    ({"text": "Q?", "poll": {"options": ["a", "x" * 101]}}, "1-100"),
    ({"text": "Q?", "poll": {"options": ["Yes", " yes "]}}, "distinct"),
    ({"text": "Q?", "poll": {"options": ["a", "b"], "multiple": "yes"}}, "true or false"),
    ({"text": "  ", "poll": {"options": ["a", "b"]}}, "blank"),
    ({"poll": {"options": ["a", "b"]}}, "'text'"),
]
BAD_VOTES: list[tuple[dict[str, Any], str]] = [
    ({}, "'options' must be an array"),
    ({"options": 1}, "'options' must be an array"),
    ({"options": [0, 0]}, "twice"),
    ({"options": [-1]}, "0-9"),
    ({"options": [10]}, "0-9"),
    ({"options": ["1"]}, "integer"),
    ({"options": [True]}, "integer"),
    ({"options": list(range(11))}, "at most 10"),
]


@pytest.mark.parametrize("transport", ["tcp", "ws"])
async def test_bad_input_gets_bad_request_naming_the_rule(
        daemon: Server, nursery: trio.Nursery, transport: str) -> None:
    """Every malformed poll (send and dm) and vote is bad_request with a message naming the
    rule, and stores nothing; the connection goes on."""
    ann, bob = await _members(daemon, nursery, transport)
    for n, (fields, words) in enumerate(BAD_POLLS):
        for op, target in (("send", {"room": "team"}), ("dm", {"to": "ann"})):
            refused = await bob.request(op, nonce=f"b{op}{n}", **target, **fields)
            assert refused["op"] == "error" and refused["code"] == "bad_request", (
                fields, refused)
            assert words in refused["message"], (fields, refused)
    sent = await ann.request("send", room="team", text="Q?", nonce="p1", poll=LUNCH)
    for fields, words in BAD_VOTES:
        refused = await bob.request("vote", room="team", msg_id=sent["msg_id"], **fields)
        assert refused["op"] == "error" and refused["code"] == "bad_request", (fields, refused)
        assert words in refused["message"], (fields, refused)
    for fields in ({}, {"msg_id": "x"}):
        refused = await bob.request("close_poll", room="team", **fields)
        assert refused["code"] == "bad_request", refused
    after = await ann.request("send", room="team", text="still here", nonce="a1")
    assert after["seq"] == sent["seq"] + 1
    for client in (ann, bob):
        await client.aclose()


async def test_http_routes(daemon: Server, nursery: trio.Nursery) -> None:
    """POST /api/rooms/{room}/messages takes ``poll``; PUT …/{msg_id}/vote and POST
    …/{msg_id}/close-poll answer as the other change routes, members get the entries, and
    bad input is a JSON bad_request; no token is 401."""
    ann, bob = await _members(daemon, nursery)
    token = await register_and_login(daemon.http_port, "bob")
    status, body = await http(daemon.http_port, "POST", "/api/rooms/team/messages",
                              token=token, body={"text": "Standup time?", "nonce": "h1",
                                                 "poll": {"options": ["9:30", "10:00"]}})
    assert status in (200, 201), body
    mid = body["msg_id"]
    event = await ann.event("message", seq=body["seq"])
    assert [o["text"] for o in event["poll"]["options"]] == ["9:30", "10:00"]
    status, body = await http(daemon.http_port, "PUT", f"/api/rooms/team/messages/{mid}/vote",
                              token=token, body={"options": [1]})
    assert status == 200 and body["msg_id"] == mid, body
    event = await ann.event("voted", seq=body["seq"])
    assert event["user"] == "bob" and event["options"] == [1]
    status, again = await http(daemon.http_port, "PUT",
                               f"/api/rooms/team/messages/{mid}/vote", token=token,
                               body={"options": [1]})
    assert status == 200 and again["unchanged"] is True and again["seq"] == body["seq"]
    status, body = await http(daemon.http_port, "PUT", f"/api/rooms/team/messages/{mid}/vote",
                              token=token, body={"options": [0, 0]})
    assert status == 400 and body["code"] == "bad_request"
    status, body = await http(daemon.http_port, "POST", "/api/rooms/team/messages",
                              token=token, body={"text": "Q", "nonce": "h2",
                                                 "poll": {"options": ["a", "A"]}})
    assert status == 400 and body["code"] == "bad_request"
    status, body = await http(daemon.http_port, "POST",
                              f"/api/rooms/team/messages/{mid}/close-poll", token=token)
    assert status == 200, body
    assert (await ann.event("poll_closed", seq=body["seq"]))["by"] == "bob"
    status, body = await http(daemon.http_port, "PUT", f"/api/rooms/team/messages/{mid}/vote",
                              token=token, body={"options": [0]})
    assert status == 400 and body["message"] == "the poll is closed"
    status, body = await http(daemon.http_port, "PUT", f"/api/rooms/team/messages/{mid}/vote",
                              body={"options": [0]})
    assert status == 401
    status, body = await http(daemon.http_port, "POST", "/api/dm", token=token,
                              body={"to": "ann", "text": "Call?", "nonce": "h3",
                                    "poll": {"options": ["yes", "no"], "multiple": True}})
    assert status == 200, body
    event = await ann.event("message", seq=body["seq"], room=body["room"])
    assert event["poll"]["multiple"] is True
    for client in (ann, bob):
        await client.aclose()


async def test_polls_cross_nodes(tmp_path: Path, database_dsn: str) -> None:
    """A poll sent on one node reaches the members on another with its options (its commit
    notice leaves it to be read there); votes and the closing cross in seq order."""
    async with ann_and_bea_on_two_nodes(tmp_path, database_dsn) as (ann, bea):
        sent = await ann.request("send", room="shared", text="Offsite?", nonce="x1",
                                 poll={"options": ["May", "June"]})
        event = await bea.event("message", seq=sent["seq"])
        assert [o["text"] for o in event["poll"]["options"]] == ["May", "June"]
        voted = await bea.request("vote", room="shared", msg_id=sent["msg_id"], options=[1])
        closed = await ann.request("close_poll", room="shared", msg_id=sent["msg_id"])
        for client in (ann, bea):
            last = await client.event("poll_closed", seq=closed["seq"])
            got = [e for e in [*entries(client.events, "shared"), last]
                   if e["seq"] > sent["seq"]]  # (bea took the message already)
            assert [(e["op"], e["seq"]) for e in got] == [
                ("voted", voted["seq"]), ("poll_closed", closed["seq"])]
            assert got[0]["user"] == "bea" and got[0]["options"] == [1]
