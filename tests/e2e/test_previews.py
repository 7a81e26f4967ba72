"""End-to-end: link previews (chatd.previews), from a running daemon to real pages served on
127.0.0.1 (tests/pageserver.py), over TCP and WebSocket.

Rules: 127.0.0.1 (and 127.0.0.2) and port 0 only; every wait is for a state (an event
received, a counter reached, a request served), bounded by ``trio.fail_after``; nothing
sleeps for a time. A preview that must *not* come is checked once the daemon counted the
link's outcome (``chatd_preview_failed_total``): a link that gives nothing commits nothing,
so nothing can come after it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
from PIL import Image

import chatd.addresses
from chatd.config import Config
from chatd.server import Server
from tests.client import Client, full_history, http, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config, until
from tests.images import encode, picture
from tests.pageserver import Page, PageServer, html

TIMEOUT = 30

DOC_HEAD = ('<meta property="og:title" content="Fix the  flaky &amp; slow test">'
            '<meta property="og:description" content="A pull request\n that fixes it.">'
            '<meta property="og:site_name" content="Forge">'
            '<meta property="og:image" content="/pic.png">')


@pytest.fixture
async def pages(nursery: trio.Nursery) -> PageServer:
    server = PageServer()
    await nursery.start(server.serve)
    server.pages["/doc"] = Page(html("ignored", head=DOC_HEAD))
    server.pages["/pic.png"] = Page(encode(picture(800, 600), "PNG"), content_type="image/png")
    server.pages["/plain"] = Page(html("Just a title"))
    return server


#: [files] max_bytes in these tests: a picture over it gets no thumbnail.
MAX_BYTES = 64 * 1024


def previews_config(tmp_path: Path, database_dsn: str, **previews: Any) -> Config:
    return make_config(tmp_path, database_dsn, server={"grace_period": 2.0},
                       files={"max_bytes": MAX_BYTES},
                       previews={"enabled": True, "allow_private_addresses": True,
                                 "timeout_seconds": 2.0, "max_html_bytes": 16384, **previews})


@pytest.fixture
async def daemon(tmp_path: Path, database_dsn: str) -> AsyncIterator[Server]:
    async with running(previews_config(tmp_path, database_dsn)) as server:
        yield server


def metric(daemon: Server, name: str, **labels: str) -> float:
    value = daemon.app.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def failed(daemon: Server, reason: str) -> float:
    return metric(daemon, "chatd_preview_failed_total", reason=reason)


async def member(daemon: Server, name: str, room: str = "team", *,
                 nursery: trio.Nursery | None = None) -> tuple[Client, str]:
    token = await register_and_login(daemon.http_port, name)
    client = (await Client.ws(daemon.http_port, nursery) if nursery is not None
              else await Client.tcp(daemon.tcp_port))
    await client.hello(token)
    assert (await client.request("join", room=room))["op"] == "ok"
    return client, token


def previews_of(client: Client, msg_id: int) -> list[dict[str, Any]]:
    return [e for e in client.events if e.get("op") == "preview" and e["msg_id"] == msg_id]


async def test_a_link_gets_its_preview_live_and_on_resume_once(
        daemon: Server, pages: PageServer, nursery: trio.Nursery) -> None:
    """A message with a link gets a ``preview`` entry after it (title, description and site
    from Open Graph, entities decoded, white space made one; the picture as a thumbnail of
    chatd's), live to every member, once on resume, and in the message object of history;
    the page was asked by a User-Agent naming chatd, with no cookie; the thumbnail is
    served by a signed link, without a token."""
    with trio.fail_after(TIMEOUT):
        ann, _ = await member(daemon, "ann")
        bob, bob_token = await member(daemon, "bob", nursery=nursery)
        cid, _ = await member(daemon, "cid")
        seen = await cid.request("send", room="team", text="before", nonce="c0")
        await cid.aclose()

        sent = await ann.request("send", room="team", text=f"see {pages.url('/doc')} please",
                                 nonce="a1")
        shown = await bob.event("preview", msg_id=sent["msg_id"])
        assert await ann.event("preview", msg_id=sent["msg_id"]) == shown
        assert shown["seq"] == sent["seq"] + 1 and shown["room"] == "team"
        image = shown.pop("image")
        assert {k: shown[k] for k in ("url", "title", "description", "site")} == {
            "url": pages.url("/doc"), "title": "Fix the flaky & slow test",
            "description": "A pull request that fixes it.", "site": "Forge"}
        assert (image["width"], image["height"]) == (400, 300)
        assert image["thumbnail_url"] == f"/api/thumbnails/{image['id']}"
        asked = pages.headers["/doc"]
        assert asked["user-agent"].startswith("chatd/") and "cookie" not in asked
        assert pages.requests == {"/doc": 1, "/pic.png": 1}

        cid = await Client.tcp(daemon.tcp_port)
        await cid.hello(await register_and_login(daemon.http_port, "cid"),
                        resume={"team": seen["seq"]})
        live = await ann.request("send", room="team", text="after", nonce="a2")
        await cid.event("message", seq=live["seq"])  # taken: what came before it stays
        got = [e for e in cid.events if e.get("room") == "team" and "seq" in e]
        assert [(e["op"], e["seq"]) for e in got] == [
            ("message", sent["seq"]), ("preview", shown["seq"])]
        resumed = got[1]
        assert resumed.pop("image") == image and resumed == shown
        # The message is read as it is now: with its preview, and rev at the preview's seq.
        message = got[0]
        assert message["rev"] == shown["seq"]
        assert message["previews"] == [{**{k: shown[k] for k in
                                           ("url", "title", "description", "site")},
                                        "image": image}]
        history = await full_history(bob, "team")
        assert [m for m in history if m["seq"] == sent["seq"]] == [message]

        status, body = await http(daemon.http_port, "POST", "/api/files/links",
                                  {"ids": [image["id"]]}, token=bob_token)
        assert status == 200, body
        [link] = body["links"]
        status, webp = await http(daemon.http_port, "GET", link["thumbnail_url"])
        assert status == 200 and webp[:4] == b"RIFF" and webp[8:12] == b"WEBP"
        for client in (ann, bob, cid):
            await client.aclose()


async def test_no_preview_for_what_cannot_be_shown(daemon: Server, pages: PageServer) -> None:
    """No preview (and nothing fetched) for a link inside code; none for an answer that is not
    HTML, not 200, a page without a title, a page whose title is past max_html_bytes, a page
    that does not answer in time; each counted by its reason. A page whose picture is over
    [files] max_bytes gets a preview without one."""
    pages.pages["/data.json"] = Page(b'{"title": "no"}', content_type="application/json")
    pages.pages["/gone"] = Page(html("Gone"), status=410)
    pages.pages["/untitled"] = Page(html(body="<p>words</p>"))
    pages.pages["/big"] = Page(html(head="<meta name=x content=y>" + " " * 40000
                                    + "<title>Too late</title>"))
    pages.pages["/slow"] = Page(hang=True)
    noise = Image.frombytes("RGB", (300, 300), os.urandom(300 * 300 * 3))
    pages.pages["/huge.png"] = Page(encode(noise, "PNG"), content_type="image/png")
    assert len(pages.pages["/huge.png"].body) > MAX_BYTES
    pages.pages["/plain"] = Page(html("Just a title", head='<meta property="og:image" '
                                                           'content="/huge.png">'))
    with trio.fail_after(TIMEOUT):
        ann, _ = await member(daemon, "ann")
        quiet = []
        for n, text in enumerate([
                f"`{pages.url('/code')}`", f"```\n{pages.url('/code')}\n```",
                f"data {pages.url('/data.json')}", f"{pages.url('/gone')}",
                f"{pages.url('/untitled')}", f"{pages.url('/big')}", f"{pages.url('/slow')}"]):
            quiet.append((await ann.request("send", room="team", text=text,
                                            nonce=f"q{n}"))["msg_id"])
        for reason in ("not_html", "status", "no_title", "too_large", "timeout"):
            await until(lambda reason=reason: failed(daemon, reason) == 1)  # type: ignore[misc]
        sent = await ann.request("send", room="team", text=f"plain {pages.url('/plain')}",
                                 nonce="p")
        plain = await ann.event("preview", msg_id=sent["msg_id"])
        assert plain["title"] == "Just a title" and plain["site"] == "127.0.0.1"
        # Its picture is over [files] max_bytes: the preview comes without one.
        assert "image" not in plain and plain["description"] == ""
        assert pages.requests["/huge.png"] == 1
        assert "/code" not in pages.requests
        assert all(previews_of(ann, msg_id) == [] for msg_id in quiet)
        assert metric(daemon, "chatd_preview_fetched_total") == 1
        history = await full_history(ann, "team")
        assert [m.get("previews") for m in history if m["op"] == "message"] == \
            [None] * len(quiet) + [[{k: plain[k] for k in ("url", "title", "description",
                                                           "site")}]]
        await ann.aclose()


async def test_private_addresses_are_refused_without_connecting(
        tmp_path: Path, database_dsn: str, nursery: trio.Nursery,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Without allow_private_addresses a link to a private address is refused before any
    connection, and so is a redirect to one (each hop is checked); redirects to allowed
    addresses are followed, at most 3."""
    # In this test 127.0.0.1 stands for the public internet and 127.0.0.2 for the private
    # network: the rule is the daemon's own, with the judgement of addresses moved.
    real = chatd.addresses.is_public
    monkeypatch.setattr(chatd.addresses, "is_public",
                        lambda address: str(address) == "127.0.0.1" or real(address))
    public, private = PageServer("127.0.0.1"), PageServer("127.0.0.2")
    await nursery.start(public.serve)
    await nursery.start(private.serve)
    private.pages["/doc"] = Page(html("Secret"))
    public.pages["/doc"] = Page(html("Public"))
    public.pages["/hop"] = Page(status=302, headers=[("Location", private.url("/doc"))])
    public.pages["/moved"] = Page(status=301, headers=[("Location", "/doc")])
    for n in range(5):
        public.pages[f"/loop{n}"] = Page(status=307, headers=[("Location", f"/loop{n + 1}")])
    config = make_config(tmp_path, database_dsn, previews={"enabled": True, "timeout_seconds": 5.0})
    async with running(config) as daemon:
        with trio.fail_after(TIMEOUT):
            ann, _ = await member(daemon, "ann")
            await ann.request("send", room="team", text=private.url("/doc"), nonce="1")
            await until(lambda: failed(daemon, "refused") == 1)
            await ann.request("send", room="team", text=public.url("/hop"), nonce="2")
            await until(lambda: failed(daemon, "refused") == 2)
            assert public.requests.get("/hop") == 1 and private.connections == 0
            await ann.request("send", room="team", text=public.url("/loop0"), nonce="3")
            await until(lambda: failed(daemon, "redirects") == 1)
            assert sorted(public.requests) == ["/hop", "/loop0", "/loop1", "/loop2", "/loop3"]
            sent = await ann.request("send", room="team", text=public.url("/moved"), nonce="4")
            moved = await ann.event("preview", msg_id=sent["msg_id"])
            assert moved["title"] == "Public" and moved["url"] == public.url("/moved")
            assert private.connections == 0
            await ann.aclose()


async def test_a_link_as_people_write_it(daemon: Server, pages: PageServer) -> None:
    """A link with letters beyond ASCII and a fragment is fetched as a browser would ask for
    it; the preview names the link as it was written."""
    pages.pages["/caf%C3%A9"] = Page(html("Le café"))
    with trio.fail_after(TIMEOUT):
        ann, _ = await member(daemon, "ann")
        written = pages.url("/café#menu")
        sent = await ann.request("send", room="team", text=f"lunch? {written}", nonce="c")
        shown = await ann.event("preview", msg_id=sent["msg_id"])
        assert (shown["title"], shown["url"]) == ("Le café", written)
        assert pages.requests == {"/caf%C3%A9": 1}
        await ann.aclose()


async def test_the_same_link_is_fetched_once_an_hour(daemon: Server, pages: PageServer) -> None:
    """The same link in two rooms, by two people, is fetched once: the second preview comes
    from the cache (and its picture is a file of its own room)."""
    with trio.fail_after(TIMEOUT):
        ann, _ = await member(daemon, "ann")
        bob, _ = await member(daemon, "bob", room="elsewhere")
        first = await ann.request("send", room="team", text=pages.url("/doc"), nonce="a")
        one = await ann.event("preview", msg_id=first["msg_id"])
        second = await bob.request("send", room="elsewhere", text=f"{pages.url('/doc')}!",
                                   nonce="b")
        two = await bob.event("preview", msg_id=second["msg_id"])
        assert pages.requests == {"/doc": 1, "/pic.png": 1}
        assert metric(daemon, "chatd_preview_cached_total") == 1
        assert one["title"] == two["title"] and one["image"]["id"] != two["image"]["id"]
        for client in (ann, bob):
            await client.aclose()


async def test_edits_change_the_preview_and_its_author_removes_it(
        tmp_path: Path, database_dsn: str, pages: PageServer) -> None:
    """An edit to another link gets that link's preview, an edit without a link takes the
    preview away (an entry), an edit back brings it back; the author (or the room's
    moderators) may remove it, and it stays removed while the link stays; a deleted
    message's preview goes with its words."""
    # One worker: links are fetched in the order they came, so once a later link's preview
    # is in, an earlier one was decided.
    config = previews_config(tmp_path, database_dsn, concurrency=1)
    async with running(config) as daemon:
        with trio.fail_after(TIMEOUT):
            ann, _ = await member(daemon, "ann")  # the room's owner
            bob, _ = await member(daemon, "bob")
            sent = await ann.request("send", room="team", text=pages.url("/doc"), nonce="a")
            msg_id = sent["msg_id"]
            assert (await bob.event("preview", msg_id=msg_id))["site"] == "Forge"

            await ann.request("edit", room="team", msg_id=msg_id,
                              text=f"rather {pages.url('/plain')}")
            assert (await bob.event("preview", msg_id=msg_id))["title"] == "Just a title"
            edited = await ann.request("edit", room="team", msg_id=msg_id, text="no link")
            removed = await bob.event("preview", msg_id=msg_id)
            assert removed == {"op": "preview", "room": "team", "seq": edited["seq"] + 1,
                               "msg_id": msg_id, "ts": removed["ts"], "removed": True}
            await ann.request("edit", room="team", msg_id=msg_id, text=pages.url("/doc"))
            assert (await bob.event("preview", msg_id=msg_id))["site"] == "Forge"

            refused = await bob.request("remove_preview", room="team", msg_id=msg_id)
            assert refused["op"] == "error" and refused["code"] == "forbidden"
            gone = await ann.request("remove_preview", room="team", msg_id=msg_id)
            assert gone["op"] == "ok"
            assert (await bob.event("preview", msg_id=msg_id, seq=gone["seq"]))["removed"]
            again = await ann.request("remove_preview", room="team", msg_id=msg_id)
            assert again["op"] == "ok" and again.get("unchanged") is True
            # The same link, other words: the preview stays removed.
            await ann.request("edit", room="team", msg_id=msg_id,
                              text=f"still {pages.url('/doc')}")
            theirs = await bob.request("send", room="team", text=pages.url("/plain"),
                                       nonce="b")
            await ann.event("preview", msg_id=theirs["msg_id"])
            assert [e for e in previews_of(ann, msg_id) if e["seq"] > gone["seq"]] == []
            # A moderator (the owner) removes another's.
            assert (await ann.request("remove_preview", room="team",
                                      msg_id=theirs["msg_id"]))["op"] == "ok"

            history = {m["msg_id"]: m for m in await full_history(bob, "team")
                       if m["op"] == "message"}
            assert "previews" not in history[msg_id] and "previews" not in \
                history[theirs["msg_id"]]
            await ann.request("edit", room="team", msg_id=msg_id, text=pages.url("/plain"))
            assert (await bob.event("preview", msg_id=msg_id))["title"] == "Just a title"
            await ann.request("delete", room="team", msg_id=msg_id)
            log = await full_history(bob, "team")
            [message] = [m for m in log if m["op"] == "message" and m["msg_id"] == msg_id]
            assert message["deleted"] is True and "previews" not in message
            # The preview entries keep their place in the log, without what they showed.
            shown = [e for e in log if e["op"] == "preview" and e["msg_id"] == msg_id]
            assert len(shown) == 6 and all(e.get("removed") is True for e in shown)
            for client in (ann, bob):
                await client.aclose()


async def test_a_preview_reaches_every_node_once(tmp_path: Path, database_dsn: str,
                                                 pages: PageServer) -> None:
    """Two nodes on one database: the node that stored the message fetches the page, once;
    a member connected to the other node gets the preview live, as the same frame."""
    config = previews_config(tmp_path, database_dsn)
    async with running(config) as a, running(config) as b:
        with trio.fail_after(TIMEOUT):
            ann, _ = await member(a, "ann")
            bob, _ = await member(b, "bob")
            sent = await ann.request("send", room="team", text=pages.url("/doc"), nonce="x")
            here = await ann.event("preview", msg_id=sent["msg_id"])
            there = await bob.event("preview", msg_id=sent["msg_id"])
            assert here == there and here["title"] == "Fix the flaky & slow test"
            assert pages.requests == {"/doc": 1, "/pic.png": 1}
            assert metric(b, "chatd_preview_queued_total") == 0
            for client in (ann, bob):
                await client.aclose()
