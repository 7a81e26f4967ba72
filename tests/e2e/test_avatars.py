"""End-to-end: a profile picture set over HTTP on one node is a ``profile`` event to the
user's room mates and watchers on every node, and its url loads from any node.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helper fails after 10 s).
"""

from __future__ import annotations

from pathlib import Path

import trio
from PIL import Image

from tests.client import Client, register_and_login
from tests.e2e.conftest import running
from tests.helpers import LIFTED_RATES, make_config
from tests.http.test_http import Client as HttpClient
from tests.http.test_http import Response
from tests.http.test_uploads import multipart
from tests.images import encode


async def _call(port: int, method: str, target: str, **kwargs: object) -> Response:
    client = await HttpClient.open(port)
    try:
        with trio.fail_after(20):
            return await client.request(method, target, **kwargs)  # type: ignore[arg-type]
    finally:
        await client.aclose()


async def test_a_picture_reaches_room_mates_and_watchers_on_another_node(
        tmp_path: Path, database_dsn: str) -> None:
    """ann sets a picture on node A: bob (a room mate) and cat (a watcher), on node B, get
    the profile event with its url, which node B serves; dan, neither, hears nothing; a
    new welcome on B and who there carry it. Removing it on B reaches bob on A."""
    config = make_config(tmp_path, database_dsn, limits=LIFTED_RATES)
    async with running(config) as a, running(config) as b:
        ann_token = await register_and_login(a.http_port, "ann")
        ann_a = await Client.tcp(a.tcp_port)
        await ann_a.hello(ann_token)
        bob_token = await register_and_login(a.http_port, "bob")
        bob_a, bob_b = await Client.tcp(a.tcp_port), await Client.tcp(b.tcp_port)
        await bob_a.hello(bob_token)
        await bob_b.hello(bob_token)
        cat_b = await Client.tcp(b.tcp_port)
        await cat_b.hello(await register_and_login(a.http_port, "cat"))
        dan_b = await Client.tcp(b.tcp_port)
        await dan_b.hello(await register_and_login(a.http_port, "dan"))
        await ann_a.request("join", room="team")
        await bob_b.request("join", room="team")
        await cat_b.request("add_contact", user="ann")

        body, headers = multipart(encode(Image.new("RGB", (64, 48), (200, 30, 30)), "PNG"),
                                  filename="ann.png", content_type="image/png")
        put = await _call(a.http_port, "PUT", "/api/me/avatar", token=ann_token, body=body,
                          headers=headers)
        assert put.status == 200, put.body
        avatar = put.json()["avatar"]
        assert avatar["url"].startswith("/api/avatars/")
        for client in (ann_a, bob_a, bob_b, cat_b):
            assert await client.event("profile", user="ann", avatar=avatar)
        got = await _call(b.http_port, "GET", avatar["url"])
        assert (got.status, got.headers["content-type"]) == (200, "image/webp")
        welcome = await (await Client.tcp(b.tcp_port)).hello(ann_token)
        assert welcome["user"]["avatar"] == avatar
        who = await bob_b.request("who", room="team")
        assert {m["user"]: m.get("avatar") for m in who["members"]} == {
            "ann": avatar, "bob": None}
        [contact] = (await cat_b.request("contacts"))["contacts"]
        assert contact["avatar"] == avatar

        removed = await _call(b.http_port, "DELETE", "/api/me/avatar", token=ann_token)
        assert removed.status == 200
        for client in (ann_a, bob_a, bob_b, cat_b):
            assert await client.event("profile", user="ann", avatar=None)
        await dan_b.request("ping")
        assert [e for e in dan_b.events if e["op"] == "profile"] == []
        for client in (ann_a, bob_a, bob_b, cat_b, dan_b):
            await client.aclose()
