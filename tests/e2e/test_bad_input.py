"""End-to-end: what a client gets for bad input. Never a crash, a hang or a lost message."""

from __future__ import annotations

import json
import time
from functools import partial

import jwt
import trio

from chatd.auth import load_or_create_secret
from chatd.committer import Outcome, SendJob
from chatd.errors import ChatError
from chatd.server import Server
from chatd.storage import NewMessage
from tests.client import Client, http, register_and_login


async def _ready_client(daemon: Server, name: str) -> Client:
    client = await Client.tcp(daemon.tcp_port)
    await client.hello(await register_and_login(daemon.http_port, name))
    return client


async def test_before_hello_is_unauthenticated_and_hello_still_works(daemon: Server) -> None:
    """Any request before hello gets unauthenticated; the connection stays for a hello."""
    client = await Client.tcp(daemon.tcp_port)
    refused = await client.request("join", room="early")
    assert refused["code"] == "unauthenticated"
    await client.hello(await register_and_login(daemon.http_port, "late"))
    assert (await client.request("join", room="early"))["op"] == "ok"
    await client.aclose()


async def test_bad_tokens_are_unauthenticated_and_closed(daemon: Server) -> None:
    """A forged, an expired and a garbage token each get unauthenticated, then the close."""
    good = await register_and_login(daemon.http_port, "victim")
    claims = jwt.decode(good, options={"verify_signature": False})
    secret = load_or_create_secret(daemon.config.data_dir)
    forged = jwt.encode(claims, "not the daemon's secret, but long enough", algorithm="HS256")
    expired = jwt.encode({**claims, "exp": int(time.time()) - 60}, secret, algorithm="HS256")
    for token in (forged, expired, "garbage", good[:-4] + "AAAA"):
        client = await Client.tcp(daemon.tcp_port)
        reply = await client.request("hello", token=token)
        assert reply["op"] == "error" and reply["code"] == "unauthenticated", reply
        await client.wait_closed()


async def test_frame_errors_keep_the_connection(daemon: Server) -> None:
    """Not JSON → bad_frame, unknown op → unknown_op, bad fields and names → bad_request,
    each with the id echoed where there is one; the connection keeps working."""
    client = await _ready_client(daemon, "sloppy")
    await client.send_raw(b"this is not json\n")
    assert (await client.event("error"))["code"] == "bad_frame"
    await client.send_raw(b"[1,2,3]\n")
    assert (await client.event("error"))["code"] == "bad_frame"
    await client.send_raw(b"\xff\xfe\n")
    assert (await client.event("error"))["code"] == "bad_frame"
    assert (await client.request("dance"))["code"] == "unknown_op"
    assert (await client.request("join"))["code"] == "bad_request"
    assert (await client.request("join", room=7))["code"] == "bad_request"
    assert (await client.request("join", room="no spaces"))["code"] == "bad_request"
    assert (await client.request("join", room="x" * 65))["code"] == "bad_request"
    assert (await client.request("send", room="ok", text="", nonce="n"))["code"] == "bad_request"
    assert (await client.request("send", room="ok", text="hi"))["code"] == "bad_request"
    assert (await client.request("history", room="ok", before=5, after=1))["code"] == \
        "bad_request"
    assert (await client.request("history", room="ok", limit=0))["code"] == "bad_request"
    assert (await client.request("hello", token="again"))["code"] == "bad_request"
    assert (await client.request("send", room="nowhere", text="hi", nonce="n"))["code"] in (
        "not_found", "forbidden")
    assert (await client.request("ping"))["op"] == "ok"
    await client.aclose()


async def test_oversized_frame_is_too_large_then_closed(daemon: Server) -> None:
    """A line over the frame limit gets too_large and the connection closes; the daemon
    keeps serving others."""
    client = await _ready_client(daemon, "bigmouth")
    await client.send_raw(json.dumps({"op": "ping", "pad": "x" * 70_000}).encode() + b"\n")
    await client.wait_closed()
    assert [e["code"] for e in client.events if e["op"] == "error"] == ["too_large"]
    endless = await _ready_client(daemon, "endless")
    with trio.move_on_after(5):
        for _ in range(20):
            await endless.send_raw(b"x" * 8192)
    await endless.wait_closed()
    assert [e["code"] for e in endless.events if e["op"] == "error"] == ["too_large"]
    other = await _ready_client(daemon, "bystander")
    assert (await other.request("ping"))["op"] == "ok"
    await other.aclose()


async def test_websocket_frames_and_batches(daemon: Server, nursery: trio.Nursery) -> None:
    """Over WebSocket a message may hold several lines, with or without the last newline."""
    client = await Client.ws(daemon.http_port, nursery)
    token = await register_and_login(daemon.http_port, "wsuser")
    await client.send_raw(
        json.dumps({"op": "hello", "id": "h", "token": token}).encode() + b"\n"
        + json.dumps({"op": "join", "id": "j", "room": "wsroom"}).encode()
    )
    assert (await client.reply("h"))["op"] == "welcome"
    assert (await client.reply("j"))["room"] == "wsroom"
    await client.aclose()


async def test_a_flood_of_pipelined_requests_is_answered_in_order(daemon: Server) -> None:
    """Several receive buffers' worth of requests in one go (the reader then reads without
    waiting for readability): every one is answered, once, in order."""
    client = await _ready_client(daemon, "flooder")
    count = 6000
    data = b"".join(b'{"op":"ping","id":%d}\n' % i for i in range(count))
    assert len(data) > 2 * 65536
    ids: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(client.send_raw, data)  # read while writing, as a client must
        with trio.fail_after(30):
            while len(ids) < count:
                frame = await client.next_frame()
                assert frame is not None, "closed before every request was answered"
                assert frame["op"] == "ok", frame
                ids.append(frame["id"])
    assert ids == list(range(count))
    await client.aclose()


async def test_unstorable_text_is_bad_request_and_hurts_no_one(daemon: Server) -> None:
    """U+0000 or a lone surrogate in any text a client sends is bad_request at the edge, and
    a client resending such a message again and again while someone else sends does not fail
    a single one of the other's sends (it once failed whole group commits: unavailable)."""
    mallory = await _ready_client(daemon, "mallory")
    bob = await _ready_client(daemon, "bob")
    for client in (mallory, bob):
        assert (await client.request("join", room="lobby"))["op"] == "ok"
    for fields in ({"text": "a\u0000b", "nonce": "n"}, {"text": "a\ud800b", "nonce": "n"},
                   {"text": "ok", "nonce": "n\u0000"}, {"text": "ok", "nonce": "\udfff"}):
        assert (await mallory.request("send", room="lobby", **fields))["code"] == "bad_request"
    assert (await mallory.request("dm", to="bob", text="\u0000", nonce="d"))["code"] == \
        "bad_request"
    assert (await mallory.request("create_room", room="r", topic="a\u0000"))["code"] == \
        "bad_request"
    assert (await mallory.request("create_room", room="r", topic="\ud800"))["code"] == \
        "bad_request"
    count = 90  # within the send burst: this is about the committer, not the rate limit
    data = b"".join(json.dumps({"op": "send", "id": f"b{i}", "room": "lobby", "text": f"m{i}",
                                "nonce": f"b{i}"}).encode() + b"\n" for i in range(count))
    poison = b"".join(json.dumps({"op": "send", "id": f"p{i}", "room": "lobby",
                                  "text": "a\u0000b", "nonce": "same"}).encode() + b"\n"
                      for i in range(count))
    await bob.send_raw(data)
    await mallory.send_raw(poison)
    assert [(await bob.reply(f"b{i}")).get("code", "ok") for i in range(count)] == \
        ["ok"] * count
    assert {(await mallory.reply(f"p{i}"))["code"] for i in range(count)} == {"bad_request"}
    page = await bob.request("history", room="lobby", limit=500)
    assert [m["text"] for m in page["messages"]] == [f"m{i}" for i in range(count)]
    await mallory.aclose()
    await bob.aclose()


async def test_ill_typed_claims_under_the_real_key_are_unauthenticated(daemon: Server) -> None:
    """Tokens signed with the daemon's own key but holding claims it never issues (a 30-digit
    sub, an iat of -1e300, a string exp) are unauthenticated on both fronts: 401, not 503."""
    good = await register_and_login(daemon.http_port, "victim")
    claims = jwt.decode(good, options={"verify_signature": False})
    secret = load_or_create_secret(daemon.config.data_dir)
    for changes in ({"sub": "1" * 30}, {"iat": -1e300}, {"exp": "later"}, {"sub": 7},
                    {"jti": "a\u0000b"}):
        token = jwt.encode({**claims, **changes}, secret, algorithm="HS256")
        status, body = await http(daemon.http_port, "GET", "/api/me", token=token)
        assert (status, body["code"]) == (401, "unauthenticated"), (changes, status, body)
        client = await Client.tcp(daemon.tcp_port)
        reply = await client.request("hello", token=token)
        assert reply["op"] == "error" and reply["code"] == "unauthenticated", (changes, reply)
        await client.wait_closed()
    status, _ = await http(daemon.http_port, "GET", "/api/me", token=good)
    assert status == 200


async def test_a_poisoned_row_below_the_edge_fails_no_one_else(daemon: Server) -> None:
    """A row the database refuses, queued straight into the daemon's committer (the edge
    refuses such text, so only a bug could make one) and resent as soon as it is answered,
    again and again while Bob pipelines his sends over TCP: every one of Bob's sends is
    acknowledged, every resend is bad_request."""
    mallory = await _ready_client(daemon, "mallory")
    bob = await _ready_client(daemon, "bob")
    for client in (mallory, bob):
        assert (await client.request("join", room="lobby"))["op"] == "ok"
    credentials = await daemon.app.storage.get_credentials("mallory")
    assert credentials is not None
    poison = NewMessage(user_id=credentials.user.id, room="lobby", text="a\u0000b",
                        nonce="same")
    answers: list[str] = []
    count = 90
    bob_done = trio.Event()

    async def resend_poison() -> None:
        while not bob_done.is_set():
            answered = trio.Event()
            await daemon.app.committer.submit(SendJob(poison, partial(on_done, answered)))
            await answered.wait()

    def on_done(answered: trio.Event, outcome: Outcome) -> None:
        answers.append(outcome.code if isinstance(outcome, ChatError) else "ok")
        answered.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(resend_poison)
        await bob.send_raw(b"".join(
            json.dumps({"op": "send", "id": i, "room": "lobby", "text": f"m{i}",
                        "nonce": f"b{i}"}).encode() + b"\n" for i in range(count)))
        codes = [(await bob.reply(i)).get("code", "ok") for i in range(count)]
        bob_done.set()
    assert codes == ["ok"] * count
    assert answers and set(answers) == {"bad_request"}
    page = await bob.request("history", room="lobby", limit=500)
    assert [m["text"] for m in page["messages"]] == [f"m{i}" for i in range(count)]
    await mallory.aclose()
    await bob.aclose()
