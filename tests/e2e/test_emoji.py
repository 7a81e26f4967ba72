"""End-to-end: a custom emoji added over HTTP on one node is a ``custom_emoji`` event to
every connected user on every node; reactions take a custom emoji's ``:name:``, refuse an
unknown one, and stay when the emoji is removed.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from tests.client import Client, register_and_login
from tests.e2e.conftest import running
from tests.e2e.test_avatars import _call
from tests.helpers import LIFTED_RATES, make_config
from tests.http.test_emoji import _body
from tests.images import encode


async def test_custom_emoji_on_two_nodes(tmp_path: Path, database_dsn: str) -> None:
    """ann adds :party: on node A: her connection there, bob's on B and dan's on B (who
    shares no room with her) get the event with its url, which B serves; the list on B
    has it. bob reacts with it on B, ann sees the reaction on A; :nope: is refused
    bad_request. ann removes it on B: everyone hears url null, and the message still
    carries the reaction, which bob can take back."""
    config = make_config(tmp_path, database_dsn, limits=LIFTED_RATES)
    async with running(config) as a, running(config) as b:
        ann_token = await register_and_login(a.http_port, "ann")
        ann_a = await Client.tcp(a.tcp_port)
        await ann_a.hello(ann_token)
        bob_b = await Client.tcp(b.tcp_port)
        await bob_b.hello(await register_and_login(a.http_port, "bob"))
        dan_b = await Client.tcp(b.tcp_port)
        await dan_b.hello(await register_and_login(a.http_port, "dan"))
        await ann_a.request("join", room="team")
        await bob_b.request("join", room="team")
        sent = await ann_a.request("send", room="team", text="ship it :party:", nonce="n1")

        body, headers = _body("party", encode(Image.new("RGB", (64, 64), (200, 30, 30)),
                                              "PNG"))
        added = await _call(a.http_port, "POST", "/api/emoji", token=ann_token, body=body,
                            headers=headers)
        assert added.status == 201, added.body
        emoji = added.json()["emoji"]
        for client in (ann_a, bob_b, dan_b):
            event = await client.event("custom_emoji", name="party")
            assert event == {"op": "custom_emoji", **emoji}
        got = await _call(b.http_port, "GET", emoji["url"])
        assert (got.status, got.headers["content-type"]) == (200, "image/webp")
        assert (await dan_b.request("custom_emoji"))["emoji"] == [emoji]

        reacted = await bob_b.request("react", room="team", msg_id=sent["msg_id"],
                                      emoji=":party:")
        assert reacted["op"] == "ok", reacted
        assert await ann_a.event("reaction", msg_id=sent["msg_id"], emoji=":party:",
                                 user="bob", on=True)
        unknown = await bob_b.request("react", room="team", msg_id=sent["msg_id"],
                                      emoji=":nope:")
        assert (unknown["op"], unknown["code"]) == ("error", "bad_request")
        malformed = await bob_b.request("react", room="team", msg_id=sent["msg_id"],
                                        emoji=":Party:")
        assert (malformed["op"], malformed["code"]) == ("error", "bad_request")

        removed = await _call(b.http_port, "DELETE", "/api/emoji/party", token=ann_token)
        assert removed.status == 204, removed.body
        for client in (ann_a, bob_b, dan_b):
            event = await client.event("custom_emoji", name="party", url=None)
            assert event["by"] == "ann" and event["ts"] >= emoji["ts"]
        assert (await bob_b.request("custom_emoji"))["emoji"] == []
        history = await bob_b.request("history", room="team")
        [message] = [m for m in history["messages"]
                     if m["op"] == "message" and m["msg_id"] == sent["msg_id"]]
        assert message["text"] == "ship it :party:"
        assert message["reactions"] == [{"emoji": ":party:", "users": ["bob"]}]
        again = await bob_b.request("react", room="team", msg_id=sent["msg_id"],
                                    emoji=":party:")
        assert (again["op"], again["code"]) == ("error", "bad_request")
        taken_back = await bob_b.request("react", room="team", msg_id=sent["msg_id"],
                                         emoji=":party:", on=False)
        assert taken_back["op"] == "ok", taken_back
        for client in (ann_a, bob_b, dan_b):
            await client.aclose()
