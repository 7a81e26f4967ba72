"""End-to-end: Web Push from a running daemon to a real push service on 127.0.0.1
(tests/pushservice.py), which checks each push's VAPID signature and decrypts it with the
subscription's keys, as a browser's push service and the browser would.

Rules: 127.0.0.1 and port 0 only; every wait is for a state (a push received, a counter
reached), bounded by ``trio.fail_after``; nothing sleeps for a time. A push that must *not*
arrive is checked against a later one that must: the pusher decides in commit order, so once
the later push is in, the earlier message was decided on (``chatd_push_queued_total`` says how
many pushes were queued in all).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
import trio

from chatd.config import Config
from chatd.server import Server
from chatd.storage import PushSubscription
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import running
from tests.helpers import HeldLock, locked_table, make_config, until
from tests.pushservice import PushService

TIMEOUT = 20


@pytest.fixture
async def service(nursery: trio.Nursery) -> PushService:
    service = PushService()
    await nursery.start(service.serve)
    return service


def push_config(tmp_path: Path, dsn: str, **push: Any) -> Config:
    return make_config(tmp_path, dsn, server={"grace_period": 2.0},
                       push={"allow_private_endpoints": True, **push})


@pytest.fixture
async def daemon(tmp_path: Path, database_dsn: str) -> AsyncIterator[Server]:
    async with running(push_config(tmp_path, database_dsn)) as server:
        yield server


def metric(daemon: Server, name: str, **labels: str) -> float:
    value = daemon.app.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def subscribed(daemon: Server, service: PushService, name: str) -> str:
    """Register ``name``, subscribe them (one subscription, called ``name``); their token."""
    token = await register_and_login(daemon.http_port, name)
    status, body = await http(daemon.http_port, "POST", "/api/push/subscriptions",
                              service.subscribe(name), token=token)
    assert status == 201, body
    return token


async def connected(daemon: Server, token: str) -> Client:
    client = await Client.tcp(daemon.tcp_port)
    await client.hello(token)
    return client



async def gone(daemon: Server, client: Client, name: str) -> None:
    """Close ``client`` (``name``'s only connection) and wait until the daemon knows."""
    await client.aclose()
    await until(lambda: not daemon.app.registry.is_online(name))



async def ann_with_bob_gone(daemon: Server, service: PushService) -> Client:
    """ann and bob, both subscribed to ``service``, in #team; bob has gone offline: ann's
    connection."""
    ann = await connected(daemon, await subscribed(daemon, service, "ann"))
    bob = await connected(daemon, await subscribed(daemon, service, "bob"))
    for client in (ann, bob):
        await client.request("join", room="team")
    await gone(daemon, bob, "bob")
    return ann

async def test_an_offline_users_dm_and_mention_arrive_decrypted(daemon: Server,
                                                               service: PushService) -> None:
    """A DM and a mention reach an offline user's push service signed with the server's
    VAPID key and decrypted to {room, seq, from, kind, text, title}, urgent; a plain message
    in a room at "mentions" does not; the sender gets nothing."""
    with trio.fail_after(TIMEOUT):
        ann = await ann_with_bob_gone(daemon, service)

        dm = await ann.request("dm", to="bob", text="lunch?", nonce="d1")
        await service.wait_for(lambda: len(service.to("bob")) == 1)
        push = service.to("bob")[0]
        assert push.payload == {"room": dm["room"], "seq": dm["seq"], "from": "ann",
                                "kind": "dm", "text": "lunch?", "title": "ann"}
        assert push.headers["urgency"] == "high" and push.headers["ttl"] == "86400"
        status, key = await http(daemon.http_port, "GET", "/api/push/key")
        assert status == 200 and push.key == key["public_key"]
        assert push.claims["sub"] == "mailto:admin@localhost"

        await ann.request("send", room="team", text="plain, nobody named", nonce="t1")
        mention = await ann.request("send", room="team", text="@bob " + "x" * 300, nonce="t2")
        await service.wait_for(lambda: len(service.to("bob")) == 2)
        got = service.to("bob")[1].payload
        assert (got["room"], got["seq"], got["kind"]) == ("team", mention["seq"], "mention")
        assert len(got["text"]) == 200 and got["text"].startswith("@bob xxx")
        assert service.to("bob")[1].headers["urgency"] == "high"
        assert service.to("ann") == [] and service.problems == []
        assert metric(daemon, "chatd_push_queued_total") == 2
        await until(lambda: metric(daemon, "chatd_push_sent_total") == 2)
        await ann.aclose()


async def test_an_online_user_gets_no_push(daemon: Server, service: PushService) -> None:
    """Someone connected sees the message live: no push for them (while an offline user's
    DM, sent after, is pushed)."""
    with trio.fail_after(TIMEOUT):
        ann = await connected(daemon, await register_and_login(daemon.http_port, "ann"))
        bob = await connected(daemon, await subscribed(daemon, service, "bob"))
        await subscribed(daemon, service, "cid")
        await ann.request("dm", to="bob", text="you are here", nonce="d1")
        await bob.event("message", text="you are here")
        await ann.request("dm", to="cid", text="you are not", nonce="d2")
        await service.wait_for(lambda: len(service.to("cid")) == 1)
        assert service.to("bob") == [] and service.requests.get("bob") is None
        assert metric(daemon, "chatd_push_queued_total") == 1
        await ann.aclose()
        await bob.aclose()


def lookups_held(dsn: str) -> AbstractAsyncContextManager[HeldLock]:
    """The push subscriptions locked by another session for the block: the pusher's lookup
    of who gets a push waits on it (as behind a busy database)."""
    return locked_table(dsn, "push_subscriptions")


async def test_who_had_it_live_gets_no_push_when_the_lookup_comes_after_they_left(
        tmp_path: Path, database_dsn: str, service: PushService) -> None:
    """Whether someone is online is asked of the moment their message committed, not of the
    pusher's lookup, which comes later: bob, online when ann's DM is stored, has it live and
    gets no push for it, though he has left by the time the lookup (held here behind a lock)
    answers. cid, offline throughout, gets hers."""
    config = make_config(tmp_path, database_dsn, push={"allow_private_endpoints": True},
                         database={"statement_timeout": 60.0})  # the held lookup waits
    async with running(config) as daemon:
        with trio.fail_after(TIMEOUT):
            ann = await connected(daemon, await register_and_login(daemon.http_port, "ann"))
            bob = await connected(daemon, await subscribed(daemon, service, "bob"))
            await subscribed(daemon, service, "cid")
            async with lookups_held(database_dsn) as lock:
                await ann.request("dm", to="bob", text="you are here", nonce="d1")
                await bob.event("message", text="you are here")
                await lock.someone_waits()
                await gone(daemon, bob, "bob")
                await until(lambda: not daemon.app.presence.state.is_online("bob"))
            await ann.request("dm", to="cid", text="you are not", nonce="d2")
            await service.wait_for(lambda: len(service.to("cid")) == 1)
            assert service.to("bob") == []
            assert metric(daemon, "chatd_push_queued_total") == 1
            await ann.aclose()


async def test_levels_decide_what_is_pushed(daemon: Server, service: PushService) -> None:
    """A room at "all" pushes every message (normal urgency); a muted room pushes not even a
    mention; a muted conversation pushes no DM; levels set over HTTP count the same."""
    with trio.fail_after(TIMEOUT):
        ann = await connected(daemon, await register_and_login(daemon.http_port, "ann"))
        bob_token = await subscribed(daemon, service, "bob")
        bob = await connected(daemon, bob_token)
        for client in (ann, bob):
            await client.request("join", room="loud")
            await client.request("join", room="quiet")
        assert (await bob.request("set_notify", room="loud", notify="all"))["notify"] == "all"
        await bob.request("set_notify", room="quiet", notify="none")
        await gone(daemon, bob, "bob")

        sent = [await ann.request("send", room="loud", text=f"m{i}", nonce=f"l{i}")
                for i in range(3)]
        await service.wait_for(lambda: len(service.to("bob")) == 3)
        assert sorted(p.payload["seq"] for p in service.to("bob")) == [s["seq"] for s in sent]
        assert {(p.payload["kind"], p.headers["urgency"]) for p in service.to("bob")} == {
            ("message", "normal")}

        await ann.request("send", room="quiet", text="@bob muted", nonce="q1")
        dm = await ann.request("dm", to="bob", text="first dm", nonce="d1")
        await service.wait_for(lambda: len(service.to("bob")) == 4)
        assert service.to("bob")[3].payload["seq"] == dm["seq"]
        status, body = await http(daemon.http_port, "PUT", f"/api/rooms/{dm['room']}/notify",
                                  {"notify": "none"}, token=bob_token)
        assert status == 200 and body == {"room": dm["room"], "notify": "none"}
        await ann.request("dm", to="bob", text="muted dm", nonce="d2")
        last = await ann.request("send", room="loud", text="still loud", nonce="l9")
        await service.wait_for(lambda: len(service.to("bob")) == 5)
        assert service.to("bob")[4].payload["seq"] == last["seq"]
        assert metric(daemon, "chatd_push_queued_total") == 5 and service.problems == []
        await ann.aclose()


async def test_nothing_is_pushed_while_notifications_are_paused(
        daemon: Server, service: PushService) -> None:
    """While bob's pause (set_dnd) is in force, neither a DM nor a mention is pushed to him
    (cid, not paused, gets his); after he resumes, and with a pause whose time has passed by
    the server's clock, they are pushed again."""
    with trio.fail_after(TIMEOUT):
        ann = await connected(daemon, await register_and_login(daemon.http_port, "ann"))
        bob_token = await subscribed(daemon, service, "bob")
        await subscribed(daemon, service, "cid")
        await ann.request("join", room="team")
        _, me = await http(daemon.http_port, "GET", "/api/me", token=bob_token)
        await http(daemon.http_port, "POST", "/api/rooms", {"room": "bobs"}, token=bob_token)
        status, body = await http(daemon.http_port, "PUT", "/api/me/dnd", {"duration": 600},
                                  token=bob_token)
        assert status == 200 and body["until"] is not None
        await ann.request("join", room="bobs")
        await ann.request("dm", to="bob", text="paused dm", nonce="d1")
        await ann.request("send", room="bobs", text="@bob paused mention", nonce="m1")
        # cid's push is decided after ann's two messages to bob (commit order).
        await ann.request("dm", to="cid", text="not paused", nonce="c1")
        await service.wait_for(lambda: len(service.to("cid")) == 1)
        assert metric(daemon, "chatd_push_queued_total") == 1

        status, body = await http(daemon.http_port, "PUT", "/api/me/dnd", {"until": None},
                                  token=bob_token)
        assert status == 200 and body == {"until": None}
        after = await ann.request("dm", to="bob", text="resumed", nonce="d2")
        await service.wait_for(lambda: len(service.to("bob")) == 1)
        assert service.to("bob")[0].payload["seq"] == after["seq"]

        # A pause stored with a time now past (it ended while nobody said so) stops nothing.
        await daemon.app.storage.set_dnd(me["user"]["id"], 1)  # 1 ms after the epoch
        ended = await ann.request("send", room="bobs", text="@bob over", nonce="m2")
        await service.wait_for(lambda: len(service.to("bob")) == 2)
        assert service.to("bob")[1].payload["seq"] == ended["seq"]
        assert metric(daemon, "chatd_push_queued_total") == 3 and service.problems == []
        await ann.aclose()


async def test_a_gone_subscription_is_removed(daemon: Server, service: PushService) -> None:
    """410 and 404 from the push service remove the subscription: the next message does not
    try it again."""
    with trio.fail_after(TIMEOUT):
        ann = await connected(daemon, await register_and_login(daemon.http_port, "ann"))
        await subscribed(daemon, service, "bob")
        await subscribed(daemon, service, "cid")
        service.answers["bob"] = [410]
        service.answers["cid"] = [404]
        await ann.request("dm", to="bob", text="are you there", nonce="d1")
        await ann.request("dm", to="cid", text="are you there", nonce="d2")
        await until(
            lambda: metric(daemon, "chatd_push_subscriptions_removed_total") == 2)
        rooms = [r["room"] for r in (await ann.request("rooms", joined=True))["rooms"]]
        assert await daemon.app.storage.push_targets([(room, 1) for room in rooms]) == []
        await ann.request("dm", to="bob", text="again", nonce="d3")
        await subscribed(daemon, service, "dot")
        await ann.request("dm", to="dot", text="sentinel", nonce="d4")
        await service.wait_for(lambda: len(service.to("dot")) == 1)
        assert service.requests == {"bob": 1, "cid": 1, "dot": 1}
        await ann.aclose()


async def test_a_failing_push_service_is_tried_again(daemon: Server,
                                                    service: PushService) -> None:
    """500 and 429 are tried again (with a delay) until the push is taken."""
    with trio.fail_after(TIMEOUT):
        ann = await connected(daemon, await register_and_login(daemon.http_port, "ann"))
        await subscribed(daemon, service, "bob")
        service.answers["bob"] = [500, 429]
        await ann.request("dm", to="bob", text="third time", nonce="d1")
        await service.wait_for(lambda: len(service.to("bob")) == 1)
        assert service.requests["bob"] == 3
        assert metric(daemon, "chatd_push_retries_total") == 2
        assert service.to("bob")[0].payload["text"] == "third time"
        await ann.aclose()


async def test_subscriptions_over_http(daemon: Server, service: PushService) -> None:
    """The key is public; subscribing needs a token and a well-formed subscription;
    unsubscribing stops the pushes."""
    with trio.fail_after(TIMEOUT):
        status, body = await http(daemon.http_port, "GET", "/api/push/key")
        assert status == 200 and len(body["public_key"]) == 87
        status, body = await http(daemon.http_port, "POST", "/api/push/subscriptions",
                                  service.subscribe("x"))
        assert status == 401
        token = await register_and_login(daemon.http_port, "bob")
        bad = service.subscribe("bob")
        bad["keys"]["auth"] = "AAAA"
        status, body = await http(daemon.http_port, "POST", "/api/push/subscriptions", bad,
                                  token=token)
        assert status == 400 and body["code"] == "bad_request" and "auth" in body["message"]
        unresolvable = service.subscribe("bob", host="no-such-host.invalid")
        status, body = await http(daemon.http_port, "POST", "/api/push/subscriptions",
                                  unresolvable, token=token)
        assert status == 400 and "resolve" in body["message"]
        good = service.subscribe("bob")
        for _ in range(2):  # the same endpoint again replaces it
            status, _ = await http(daemon.http_port, "POST", "/api/push/subscriptions", good,
                                   token=token)
            assert status == 201
        status, body = await http(daemon.http_port, "DELETE", "/api/push/subscriptions",
                                  {"endpoint": good["endpoint"]}, token=token)
        assert status == 200 and body == {}
        ann = await connected(daemon, await register_and_login(daemon.http_port, "ann"))
        await subscribed(daemon, service, "cid")
        await ann.request("dm", to="bob", text="unsubscribed", nonce="d1")
        await ann.request("dm", to="cid", text="sentinel", nonce="d2")
        await service.wait_for(lambda: len(service.to("cid")) == 1)
        assert "bob" not in service.requests
        await ann.aclose()


async def test_malformed_subscriptions_do_not_use_up_the_limit(
        daemon: Server, service: PushService) -> None:
    """The limit of 10 subscriptions in a row counts subscriptions, not malformed requests
    refused with 400 before any host is resolved: after 12 of those, a good one is still
    taken (it was 429; found by schemathesis)."""
    with trio.fail_after(TIMEOUT):
        token = await register_and_login(daemon.http_port, "bob")
        bad = service.subscribe("bob")
        bad["keys"]["auth"] = "AAAA"
        for _ in range(12):
            status, body = await http(daemon.http_port, "POST", "/api/push/subscriptions",
                                      bad, token=token)
            assert status == 400, body
        status, body = await http(daemon.http_port, "POST", "/api/push/subscriptions",
                                  service.subscribe("bob"), token=token)
        assert status == 201, body


@pytest.mark.parametrize("endpoint", ["https://push.example/\u0000", "https://push.example/\ud800"],
                         ids=["NUL", "lone surrogate"])
async def test_unsubscribing_an_endpoint_that_cannot_be_stored_is_a_bad_request(
        daemon: Server, endpoint: str) -> None:
    """An endpoint with U+0000 or a lone surrogate (which no subscription can have) is
    refused with 400 bad_request, not passed to the database (which answered 503
    unavailable; found while describing the API)."""
    with trio.fail_after(TIMEOUT):
        token = await register_and_login(daemon.http_port, "bob")
        status, body = await http(daemon.http_port, "DELETE", "/api/push/subscriptions",
                                  {"endpoint": endpoint}, token=token)
    assert status == 400 and body["code"] == "bad_request", body


async def test_sends_never_wait_for_pushes(tmp_path: Path, database_dsn: str,
                                         service: PushService) -> None:
    """A push service that never answers holds every push worker, fills the queue and makes
    the pusher drop pushes; every send is still acknowledged meanwhile."""
    config = push_config(tmp_path, database_dsn, concurrency=2, queue_size=3)
    async with running(config) as daemon:
        with trio.fail_after(TIMEOUT):
            ann = await connected(daemon, await register_and_login(daemon.http_port, "ann"))
            await subscribed(daemon, service, "bob")
            service.answers["bob"] = [None] * 100  # hang, every time
            await ann.request("dm", to="bob", text="first", nonce="d0")
            await service.wait_for(lambda: service.hanging == 1)
            for i in range(1, 30):
                reply = await ann.request("dm", to="bob", text=f"dm {i}", nonce=f"d{i}")
                assert reply["op"] == "ok"
            await service.wait_for(lambda: service.hanging == 2)
            await until(
                lambda: metric(daemon, "chatd_push_dropped_total", stage="send") >= 1)
            assert service.hanging == 2 and service.to("bob") == []
            await ann.aclose()


async def test_private_endpoints_are_refused_without_the_setting(
        tmp_path: Path, database_dsn: str, service: PushService) -> None:
    """Without [push] allow_private_endpoints: an http endpoint, a loopback address and a
    name that resolves to one are refused when subscribing; and a subscription to such a
    name that got into the database anyway is refused when pushing, without a connection."""
    config = make_config(tmp_path, database_dsn)
    async with running(config) as daemon:
        with trio.fail_after(TIMEOUT):
            token = await register_and_login(daemon.http_port, "bob")
            keys = service.subscribe("bob")["keys"]
            for endpoint in (service.endpoint("bob"),
                             f"https://127.0.0.1:{service.port}/push/bob",
                             f"https://[::1]:{service.port}/push/bob",
                             f"https://localhost:{service.port}/push/bob",
                             f"https://2130706433:{service.port}/push/bob"):
                status, body = await http(daemon.http_port, "POST", "/api/push/subscriptions",
                                          {"endpoint": endpoint, "keys": keys}, token=token)
                assert status == 400, endpoint
                assert body["code"] == "bad_request"
            bob = await daemon.app.auth.storage.get_credentials("bob")
            assert bob is not None
            await daemon.app.storage.add_push_subscription(bob.user.id, PushSubscription(
                endpoint=f"https://localhost:{service.port}/push/bob", p256dh=keys["p256dh"],
                auth=keys["auth"]), keep=10)
            ann = await connected(daemon, await register_and_login(daemon.http_port, "ann"))
            await ann.request("dm", to="bob", text="to the loopback?", nonce="d1")
            await until(
                lambda: metric(daemon, "chatd_push_failed_total", reason="refused") == 1)
            assert service.connections == 0
            await ann.aclose()


async def test_a_room_mention_pushes_every_offline_member(daemon: Server,
                                                          service: PushService) -> None:
    """@all reaches an offline member's push service as a mention (urgent), as @name does;
    an @here before it does not (they were not online), nor does the sender get one."""
    with trio.fail_after(TIMEOUT):
        ann = await ann_with_bob_gone(daemon, service)
        await ann.request("send", room="team", text="@here anyone?", nonce="t1")
        everyone = await ann.request("send", room="team", text="@all standup", nonce="t2")
        await service.wait_for(lambda: len(service.to("bob")) == 1)
        got = service.to("bob")[0]
        assert (got.payload["seq"], got.payload["kind"]) == (everyone["seq"], "mention")
        assert got.payload["title"] == "ann mentioned you in team"
        assert got.headers["urgency"] == "high"
        assert service.to("ann") == [] and service.problems == []
        assert metric(daemon, "chatd_push_queued_total") == 1
        await ann.aclose()


async def test_marking_unread_pushes_nothing_again(daemon: Server, service: PushService) -> None:
    """A mention marked unread (``unread``) on a device that then goes is not pushed again:
    a push tells of a message when it comes; the DM sent after is the only push."""
    with trio.fail_after(TIMEOUT):
        ann = await connected(daemon, await subscribed(daemon, service, "ann"))
        bob = await connected(daemon, await subscribed(daemon, service, "bob"))
        for client in (ann, bob):
            await client.request("join", room="team")
        mention = await ann.request("send", room="team", text="@bob look", nonce="t1")
        await bob.event("message", seq=mention["seq"])
        marked = await bob.request("unread", room="team", seq=mention["seq"])
        assert (marked["seq"], marked["mentions"]) == (mention["seq"] - 1, 1)
        await gone(daemon, bob, "bob")
        dm = await ann.request("dm", to="bob", text="and this", nonce="d1")
        await service.wait_for(lambda: len(service.to("bob")) == 1)
        assert service.to("bob")[0].payload["seq"] == dm["seq"]
        assert metric(daemon, "chatd_push_queued_total") == 1
        await ann.aclose()


async def test_a_poll_pushes_its_question(daemon: Server, service: PushService) -> None:
    """A poll sent to an offline user (a direct one, and one naming them in a room) arrives
    decrypted with the text "📊 Poll: " and its question, not an empty or bare one."""
    with trio.fail_after(TIMEOUT):
        ann = await ann_with_bob_gone(daemon, service)
        options = {"options": ["Tuesday", "Wednesday"], "multiple": False}
        dm = await ann.request("dm", to="bob", text="Lunch on which day?", poll=options,
                               nonce="p1")
        await service.wait_for(lambda: len(service.to("bob")) == 1)
        assert service.to("bob")[0].payload == {
            "room": dm["room"], "seq": dm["seq"], "from": "ann", "kind": "dm",
            "text": "📊 Poll: Lunch on which day?", "title": "ann"}
        sent = await ann.request("send", room="team", text="@bob which day?", poll=options,
                                 nonce="p2")
        await service.wait_for(lambda: len(service.to("bob")) == 2)
        got = service.to("bob")[1].payload
        assert (got["seq"], got["kind"], got["text"], got["title"]) == (
            sent["seq"], "mention", "📊 Poll: @bob which day?", "ann mentioned you in team")
        assert service.problems == []
        await ann.aclose()
