"""End-to-end: a room's outgoing webhook, from a running daemon to a real receiver on
127.0.0.1 (tests/webhookreceiver.py), which checks each delivery's signature and timestamp
with code of its own.

Rules: 127.0.0.1 and port 0 only; every wait is for a state (a delivery received, a counter
reached), bounded by ``trio.fail_after``; nothing sleeps for a time. A delivery that must
*not* arrive is checked against a later one that must: the sender looks messages up in
commit order, so once the later one is in, the earlier one was decided on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio

from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config, until
from tests.webhookreceiver import WebhookReceiver

TIMEOUT = 30
SECRET = "a-shared-secret-of-some-length"


@pytest.fixture
async def receiver(nursery: trio.Nursery) -> WebhookReceiver:
    receiver = WebhookReceiver(SECRET)
    await nursery.start(receiver.serve)
    return receiver


@pytest.fixture
async def daemon(tmp_path: Path, database_dsn: str) -> AsyncIterator[Server]:
    config = make_config(tmp_path, database_dsn, server={"grace_period": 2.0},
                         webhooks={"allow_private_endpoints": True})
    async with running(config) as server:
        yield server


def metric(daemon: Server, name: str, **labels: str) -> float:
    value = daemon.app.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value



async def member(daemon: Server, name: str, room: str) -> tuple[Client, str]:
    token = await register_and_login(daemon.http_port, name)
    client = await Client.tcp(daemon.tcp_port)
    await client.hello(token)
    await client.request("join", room=room)
    return client, token


async def set_webhook(daemon: Server, token: str, room: str, body: dict[str, Any]
                      ) -> tuple[int, Any]:
    return await http(daemon.http_port, "PUT", f"/api/rooms/{room}/webhook", body, token=token)


async def test_new_messages_are_delivered_signed(daemon: Server,
                                                 receiver: WebhookReceiver) -> None:
    """The owner sets the webhook; each new message of the room (a member's, a bot's posted
    through an incoming hook) reaches the receiver signed, with the message object and
    whether its sender is a bot; changes to messages and other rooms' messages do not; only
    the owner sees or changes the webhook, and never sees its secret again."""
    with trio.fail_after(TIMEOUT):
        owner, owner_token = await member(daemon, "owner", "ops")
        ann, ann_token = await member(daemon, "ann", "ops")
        status, body = await set_webhook(daemon, ann_token, "ops",
                                         {"url": receiver.url(), "secret": SECRET})
        assert status == 403 and body["code"] == "forbidden"
        status, body = await set_webhook(daemon, owner_token, "ops",
                                         {"url": receiver.url(), "secret": SECRET})
        assert status == 200, body
        assert body == {"room": "ops", "url": receiver.url(), "secret": SECRET,
                        "set_by": "owner", "created_at": body["created_at"]}
        status, shown = await http(daemon.http_port, "GET", "/api/rooms/ops/webhook",
                                   token=owner_token)
        assert status == 200 and "secret" not in shown and shown["url"] == receiver.url()
        status, _ = await http(daemon.http_port, "GET", "/api/rooms/ops/webhook",
                               token=ann_token)
        assert status == 403

        sent = await ann.request("send", room="ops", text="hello, world", nonce="m1")
        await receiver.wait_for(lambda: len(receiver.received) == 1)
        got = receiver.received[0]
        assert got.body["event"] == "message" and got.body["sender_bot"] is False
        assert (got.body["room"], got.body["seq"]) == ("ops", sent["seq"])
        message = got.body["message"]
        assert (message["from"], message["text"], message["msg_id"]) == (
            "ann", "hello, world", sent["msg_id"])
        assert got.headers["x-chatd-delivery"] == f"ops:{sent['seq']}"
        assert got.headers["user-agent"].startswith("chatd/")

        await http(daemon.http_port, "POST", "/api/bots", {"name": "ci"}, token=ann_token)
        status, made = await http(daemon.http_port, "POST", "/api/rooms/ops/hooks",
                                  {"bot": "ci"}, token=ann_token)
        assert status == 201
        await ann.request("edit", room="ops", msg_id=sent["msg_id"], text="edited")
        await ann.request("react", room="ops", msg_id=sent["msg_id"], emoji="👍")
        await owner.request("join", room="elsewhere")
        await owner.request("send", room="elsewhere", text="not here", nonce="e1")
        await ann.request("dm", to="owner", text="private", nonce="d1")
        status, posted = await http(daemon.http_port, "POST", made["url"], {"text": "beep"})
        assert status == 201
        await receiver.wait_for(lambda: len(receiver.received) == 2)
        got = receiver.received[1]
        assert got.body["seq"] == posted["seq"] and got.body["sender_bot"] is True
        assert got.body["message"]["from"] == "ci"
        assert receiver.problems == [] and metric(daemon, "chatd_webhook_queued_total") == 2
        await until(lambda: metric(daemon, "chatd_webhook_sent_total") == 2)

        status, _ = await http(daemon.http_port, "DELETE", "/api/rooms/ops/webhook",
                               token=owner_token)
        assert status == 200
        status, _ = await http(daemon.http_port, "GET", "/api/rooms/ops/webhook",
                               token=owner_token)
        assert status == 404
        await ann.request("send", room="ops", text="unheard", nonce="m2")
        status, _ = await set_webhook(daemon, owner_token, "elsewhere",
                                      {"url": receiver.url("/other")})
        assert status == 200  # a secret of chatd's making: the receiver cannot check it
        await owner.request("send", room="elsewhere", text="sentinel", nonce="e2")
        await receiver.wait_for(lambda: receiver.requests.get("/other") == 1)
        assert len(receiver.received) == 2 and receiver.requests["/hook"] == 2
        for client in (owner, ann):
            await client.aclose()


async def test_a_failing_receiver_gets_it_once_after_a_retry(
        daemon: Server, receiver: WebhookReceiver) -> None:
    """500 is tried again (after a delay) until the receiver takes the delivery, once."""
    with trio.fail_after(TIMEOUT):
        owner, token = await member(daemon, "owner", "ops")
        status, _ = await set_webhook(daemon, token, "ops",
                                      {"url": receiver.url(), "secret": SECRET})
        assert status == 200
        receiver.answers["/hook"] = [500]
        sent = await owner.request("send", room="ops", text="second time lucky", nonce="m1")
        await receiver.wait_for(lambda: len(receiver.received) == 1)
        assert receiver.requests["/hook"] == 2
        assert receiver.received[0].body["seq"] == sent["seq"]
        assert receiver.received[0].headers["x-chatd-delivery"] == f"ops:{sent['seq']}"
        assert metric(daemon, "chatd_webhook_retries_total") == 1
        await until(lambda: metric(daemon, "chatd_webhook_sent_total") == 1)
        await owner.aclose()


async def test_sends_never_wait_for_webhooks(tmp_path: Path, database_dsn: str,
                                             receiver: WebhookReceiver) -> None:
    """A receiver that never answers holds every worker and fills the queue: deliveries are
    dropped and counted, and every send is still acknowledged meanwhile."""
    config = make_config(tmp_path, database_dsn, webhooks={
        "allow_private_endpoints": True, "concurrency": 2, "queue_size": 3})
    async with running(config) as daemon:
        with trio.fail_after(TIMEOUT):
            owner, token = await member(daemon, "owner", "ops")
            await set_webhook(daemon, token, "ops", {"url": receiver.url(), "secret": SECRET})
            receiver.answers["/hook"] = [None] * 100  # hang, every time
            for i in range(30):
                reply = await owner.request("send", room="ops", text=f"m{i}", nonce=f"m{i}")
                assert reply["op"] == "ok"
            await receiver.wait_for(lambda: receiver.hanging == 2)
            await until(
                lambda: metric(daemon, "chatd_webhook_dropped_total", stage="send") >= 1)
            assert receiver.received == []
            await owner.aclose()


async def test_private_addresses_are_refused_without_the_setting(
        tmp_path: Path, database_dsn: str, receiver: WebhookReceiver) -> None:
    """Without [webhooks] allow_private_endpoints: an http URL, a loopback address and a name
    that resolves to one are refused when set; and a webhook to such a name that got into
    the database anyway is refused when delivering, without a connection."""
    config = make_config(tmp_path, database_dsn)
    async with running(config) as daemon:
        with trio.fail_after(TIMEOUT):
            owner, token = await member(daemon, "owner", "ops")
            for url in (receiver.url(), f"https://127.0.0.1:{receiver.port}/hook",
                        f"https://[::1]:{receiver.port}/hook",
                        f"https://localhost:{receiver.port}/hook",
                        f"https://2130706433:{receiver.port}/hook"):
                status, body = await set_webhook(daemon, token, "ops", {"url": url})
                assert status == 400 and body["code"] == "bad_request", (url, body)
            for bad in ({"url": "ftp://example.org/"}, {}, {"url": 7},
                        {"url": "https://example.org/", "secret": "short"}):
                status, body = await set_webhook(daemon, token, "ops", bad)
                assert status == 400, (bad, body)
            user = await daemon.app.storage.get_credentials("owner")
            assert user is not None
            await daemon.app.storage.set_room_webhook(
                user.user.id, "ops", f"https://localhost:{receiver.port}/hook", SECRET)
            await owner.request("send", room="ops", text="to the loopback?", nonce="m1")
            await until(
                lambda: metric(daemon, "chatd_webhook_failed_total", reason="refused") == 1)
            assert receiver.connections == 0
            await owner.aclose()


async def test_a_webhook_set_on_another_node_is_delivered_from_this_one(
        tmp_path: Path, database_dsn: str, receiver: WebhookReceiver) -> None:
    """Without any webhook a node makes no lookup after its commits (migration 0021); a
    webhook set on node B reaches node A by notice, and A's next message is delivered.
    Once it is removed (on B), both nodes know again that there is none."""
    config = make_config(tmp_path, database_dsn, webhooks={"allow_private_endpoints": True})
    async with running(config) as a, running(config) as b:
        with trio.fail_after(TIMEOUT):
            # (Each asks again once its listener is in place: until then, it may believe.)
            await until(lambda: not a.app.webhooks.some  # type: ignore[union-attr]
                        and not b.app.webhooks.some)  # type: ignore[union-attr]
            ann, token = await member(a, "ann", "ops")
            await ann.request("send", room="ops", text="before any webhook", nonce="m0")
            status, _ = await set_webhook(b, token, "ops",
                                          {"url": receiver.url(), "secret": SECRET})
            assert status == 200
            await until(lambda: a.app.webhooks.some)  # type: ignore[union-attr]
            sent = await ann.request("send", room="ops", text="heard", nonce="m1")
            await receiver.wait_for(lambda: len(receiver.received) == 1)
            assert receiver.received[0].body["seq"] == sent["seq"]
            status, _ = await http(b.http_port, "DELETE", "/api/rooms/ops/webhook", token=token)
            assert status == 200
            await until(lambda: not a.app.webhooks.some  # type: ignore[union-attr]
                        and not b.app.webhooks.some)  # type: ignore[union-attr]
            await ann.aclose()
