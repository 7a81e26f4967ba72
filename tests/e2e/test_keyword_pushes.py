"""End-to-end: Web Push for notification keywords, from a running daemon to a real push
service on 127.0.0.1 (tests/pushservice.py, as tests/e2e/test_push.py uses it): a message
holding one of an offline member's keywords is pushed to them as a mention is (kind
"keyword", urgency high) at level "mentions"; at "all" the keyword raises the push's kind;
never at "none"; never for the sender's own message.

Rules: 127.0.0.1 and port 0 only; every wait is for a state (a push received), bounded by
``trio.fail_after``; nothing sleeps for a time. A push that must *not* arrive is checked
against a later one that must: the pusher decides in commit order, so once the later push is
in, the earlier message was decided on (``chatd_push_queued_total`` counts every push
queued).
"""

from __future__ import annotations

from pathlib import Path

import trio

from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import running
from tests.e2e.test_push import (
    connected,
    daemon,
    gone,
    lookups_held,
    metric,
    service,
    subscribed,
)
from tests.helpers import make_config, until
from tests.pushservice import PushService

__all__ = ["daemon", "service"]  # test_push's fixtures (a daemon that pushes, the service)

TIMEOUT = 20


async def _bob_with_keywords_gone(daemon: Server, service: PushService, *keywords: str,
                                  notify: str | None = None) -> tuple[Client, str]:
    """ann (connected) and bob (subscribed, with ``keywords``, at level ``notify`` for
    #team when given) in #team; bob has gone offline. ann's connection and bob's token."""
    ann = await connected(daemon, await subscribed(daemon, service, "ann"))
    bob_token = await subscribed(daemon, service, "bob")
    bob = await connected(daemon, bob_token)
    for client in (ann, bob):
        assert (await client.request("join", room="team"))["op"] == "ok"
    assert (await bob.request("set_keywords", keywords=list(keywords)))["op"] == "ok"
    if notify is not None:
        assert (await bob.request("set_notify", room="team", notify=notify))["op"] == "ok"
    await gone(daemon, bob, "bob")
    return ann, bob_token


async def test_a_keyword_is_pushed_as_a_mention_is(daemon: Server,
                                                   service: PushService) -> None:
    """At the room's default level ("mentions"), a message holding one of bob's keywords, in
    any case, is pushed to him (kind "keyword", urgency high, titled as a room's message);
    plain messages and a keyword inside a longer word are not; the sender (ann, online) gets
    nothing."""
    with trio.fail_after(TIMEOUT):
        ann, _ = await _bob_with_keywords_gone(daemon, service, "deploy", "on call")
        await ann.request("send", room="team", text="plain, nothing for bob", nonce="p1")
        first = await ann.request("send", room="team", text="we Deploy at five", nonce="k1")
        await service.wait_for(lambda: len(service.to("bob")) == 1)
        push = service.to("bob")[0]
        assert push.payload == {"room": "team", "seq": first["seq"], "from": "ann",
                                "kind": "keyword", "text": "we Deploy at five",
                                "title": "ann in team"}
        assert push.headers["urgency"] == "high"
        await ann.request("send", room="team", text="redeploy, deployment", nonce="p2")
        second = await ann.request("send", room="team", text="who is ON CALL?", nonce="k2")
        await service.wait_for(lambda: len(service.to("bob")) == 2)
        assert service.to("bob")[1].payload["seq"] == second["seq"]
        assert service.to("bob")[1].payload["kind"] == "keyword"
        assert service.to("ann") == [] and service.problems == []
        assert metric(daemon, "chatd_push_queued_total") == 2
        await ann.aclose()


async def test_none_at_level_none(daemon: Server, service: PushService) -> None:
    """Muted (#team at "none"): a keyword pushes nothing (a DM after it is pushed, and is
    the only push)."""
    with trio.fail_after(TIMEOUT):
        ann, _ = await _bob_with_keywords_gone(daemon, service, "deploy", notify="none")
        await ann.request("send", room="team", text="deploy now", nonce="k1")
        dm = await ann.request("dm", to="bob", text="psst", nonce="d1")
        await service.wait_for(lambda: len(service.to("bob")) == 1)
        got = service.to("bob")[0].payload
        assert (got["room"], got["seq"], got["kind"]) == (dm["room"], dm["seq"], "dm")
        assert metric(daemon, "chatd_push_queued_total") == 1
        await ann.aclose()


async def test_at_level_all_the_keyword_raises_the_kind(daemon: Server,
                                                        service: PushService) -> None:
    """At "all" every message is pushed: a plain one as kind "message", urgency normal; one
    holding a keyword as kind "keyword", urgency high (once, not twice); a mention stays a
    mention."""
    with trio.fail_after(TIMEOUT):
        ann, _ = await _bob_with_keywords_gone(daemon, service, "deploy", notify="all")
        plain = await ann.request("send", room="team", text="hello", nonce="p1")
        keyword = await ann.request("send", room="team", text="deploy!", nonce="k1")
        mention = await ann.request("send", room="team", text="@bob deploy", nonce="m1")
        await service.wait_for(lambda: len(service.to("bob")) == 3)
        got = {p.payload["seq"]: (p.payload["kind"], p.headers["urgency"])
               for p in service.to("bob")}
        assert got == {plain["seq"]: ("message", "normal"),
                       keyword["seq"]: ("keyword", "high"),
                       mention["seq"]: ("mention", "high")}
        assert metric(daemon, "chatd_push_queued_total") == 3
        await ann.aclose()


async def test_never_for_the_senders_own_message(daemon: Server, service: PushService) -> None:
    """bob, with no connection open, sends a message holding his own keyword over HTTP: no
    push to him (ann's DM to him after it is the only one)."""
    with trio.fail_after(TIMEOUT):
        ann, bob_token = await _bob_with_keywords_gone(daemon, service, "deploy")
        status, body = await http(daemon.http_port, "POST", "/api/rooms/team/messages",
                                  {"text": "I deploy now", "nonce": "own"}, token=bob_token)
        assert status == 200, body
        await ann.event("message", text="I deploy now")
        dm = await ann.request("dm", to="bob", text="saw it", nonce="d1")
        await service.wait_for(lambda: len(service.to("bob")) == 1)
        got = service.to("bob")[0].payload
        assert (got["room"], got["seq"], got["kind"]) == (dm["room"], dm["seq"], "dm")
        assert metric(daemon, "chatd_push_queued_total") == 1
        await ann.aclose()


async def test_who_had_it_live_gets_no_keyword_push_when_the_lookup_comes_after_they_left(
        tmp_path: Path, database_dsn: str, service: PushService) -> None:
    """As for a DM (tests/e2e/test_push.py): bob, online when ann's message holding his
    keyword is stored, has it live and gets no push for it, though he has left by the time
    the lookup (held behind a lock) answers (the keyword's candidate is matched to its
    message before the pusher asks who was online then). cid, offline, gets her DM."""
    config = make_config(tmp_path, database_dsn, push={"allow_private_endpoints": True},
                         database={"statement_timeout": 60.0})  # the held lookup waits
    async with running(config) as daemon:
        with trio.fail_after(TIMEOUT):
            ann = await connected(daemon, await register_and_login(daemon.http_port, "ann"))
            bob = await connected(daemon, await subscribed(daemon, service, "bob"))
            await subscribed(daemon, service, "cid")
            for client in (ann, bob):
                assert (await client.request("join", room="team"))["op"] == "ok"
            assert (await bob.request("set_keywords", keywords=["deploy"]))["op"] == "ok"
            async with lookups_held(database_dsn) as lock:
                await ann.request("send", room="team", text="deploy now", nonce="k1")
                await bob.event("message", text="deploy now")
                await lock.someone_waits()
                await gone(daemon, bob, "bob")
                await until(lambda: not daemon.app.presence.state.is_online("bob"))
            await ann.request("dm", to="cid", text="you are not here", nonce="d2")
            await service.wait_for(lambda: len(service.to("cid")) == 1)
            assert service.to("bob") == []
            assert metric(daemon, "chatd_push_queued_total") == 1
            await ann.aclose()
