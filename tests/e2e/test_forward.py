"""End-to-end: forwarding a message (``forward`` into a room or a 1:1 or group conversation,
the message object's ``forwarded``, the copied files) over real sockets, TCP and WebSocket,
against the real database.

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
from tests.e2e.test_files import download, upload
from tests.helpers import make_config, search_caught_up


async def _people(server: Server, nursery: trio.Nursery, transport: str,
                  *names: str) -> list[Client]:
    """Signed-in clients for ``names``: the first on TCP, the others on ``transport``."""
    clients = []
    for index, name in enumerate(names):
        client = (await Client.ws(server.http_port, nursery)
                  if transport == "ws" and index else await Client.tcp(server.tcp_port))
        await client.hello(await register_and_login(server.http_port, name))
        clients.append(client)
    return clients


async def _scene(server: Server, nursery: trio.Nursery, transport: str = "tcp"
                 ) -> tuple[Client, Client, Client]:
    """ann, bob and cat: ann and bob in the public room "general" and the private room
    "secret" (ann's); ann and cat in the public room "news"."""
    ann, bob, cat = await _people(server, nursery, transport, "ann", "bob", "cat")
    for client in (ann, bob):
        assert (await client.request("join", room="general"))["op"] == "ok"
    assert (await ann.request("create_room", room="secret", private=True))["op"] == "ok"
    assert (await ann.request("invite", room="secret", user="bob"))["op"] == "ok"
    for client in (ann, cat):
        assert (await client.request("join", room="news"))["op"] == "ok"
    return ann, bob, cat


async def _close(*clients: Client) -> None:
    for client in clients:
        await client.aclose()


@pytest.mark.parametrize("transport", ["tcp", "ws"])
async def test_forward_to_a_room_with_a_comment(daemon: Server, nursery: trio.Nursery,
                                                transport: str) -> None:
    """bob forwards ann's message of a public room into another room with a comment: the
    reply is a send's; every member of the target gets a message whose text is the comment,
    from bob, with ``forwarded`` {from: ann, ts, text, room, seq} of the source; history
    shows it the same."""
    ann, bob, cat = await _scene(daemon, nursery, transport)
    assert (await bob.request("join", room="news"))["op"] == "ok"
    source = await ann.request("send", room="general", text="the build is green", nonce="s1")
    forwarded = await bob.request("forward", room="general", msg_id=source["msg_id"],
                                  to_room="news", text="FYI", nonce="f1")
    assert forwarded["op"] == "ok", forwarded
    assert set(forwarded) >= {"room", "seq", "msg_id", "ts"} and forwarded["room"] == "news"
    expected = {"from": "ann", "ts": source["ts"], "text": "the build is green",
                "room": "general", "seq": source["seq"]}
    for client in (ann, bob, cat):
        event = await client.event("message", room="news", seq=forwarded["seq"])
        assert event["from"] == "bob" and event["text"] == "FYI"
        assert event["msg_id"] == forwarded["msg_id"] and event["nonce"] == "f1"
        assert event["forwarded"] == expected
    [shown] = [m for m in await full_history(cat, "news") if m["msg_id"] == forwarded["msg_id"]]
    assert shown["forwarded"] == expected and shown["text"] == "FYI"
    await _close(ann, bob, cat)


@pytest.mark.parametrize("transport", ["tcp", "ws"])
async def test_forward_to_conversations_without_a_comment(
        daemon: Server, nursery: trio.Nursery, transport: str) -> None:
    """Forwards into a 1:1 conversation and a group conversation, neither existing yet, are
    made as ``dm`` makes them (the peers are subscribed and get the message); without a
    comment the text is empty."""
    ann, bob, cat = await _scene(daemon, nursery, transport)
    source = await ann.request("send", room="news", text="release at noon", nonce="s1")
    one = await ann.request("forward", room="news", msg_id=source["msg_id"], to="bob",
                            nonce="f1")
    assert one["op"] == "ok", one
    event = await bob.event("message", room=one["room"], seq=one["seq"])
    assert event["text"] == "" and event["from"] == "ann"
    assert event["forwarded"]["text"] == "release at noon"
    group = await ann.request("forward", room="news", msg_id=source["msg_id"],
                              to=["bob", "cat"], text="", nonce="f2")
    assert group["op"] == "ok", group
    for client in (bob, cat):
        event = await client.event("message", room=group["room"], seq=group["seq"])
        assert event["forwarded"]["from"] == "ann" and event["text"] == ""
    rooms = (await bob.request("rooms"))["rooms"]
    kinds = {room["room"]: room["kind"] for room in rooms}
    assert kinds[one["room"]] == "dm" and kinds[group["room"]] == "group"
    await _close(ann, bob, cat)


async def test_a_retry_with_the_nonce_forwards_once(daemon: Server,
                                                    nursery: trio.Nursery) -> None:
    """The same forward again with its nonce (a retry after a lost reply) stores nothing
    new and answers with the first one's seq and msg_id (``duplicate``); the target's log
    holds it once, and its file was copied once."""
    ann, bob, _ = await _scene(daemon, nursery)
    token = await register_and_login(daemon.http_port, "ann")
    file = await upload(daemon, token, "general", b"minutes of the meeting", filename="m.txt")
    source = await ann.request("send", room="general", text="minutes", nonce="s1",
                               files=[file["id"]])
    first = await ann.request("forward", room="general", msg_id=source["msg_id"],
                              to_room="news", nonce="f1")
    again = await ann.request("forward", room="general", msg_id=source["msg_id"],
                              to_room="news", nonce="f1")
    assert again["duplicate"] is True
    assert (again["seq"], again["msg_id"]) == (first["seq"], first["msg_id"])
    log = [m for m in await full_history(ann, "news") if m["op"] == "message"]
    assert [m["msg_id"] for m in log] == [first["msg_id"]]
    assert len(log[0]["files"]) == 1
    # Her quota counts the upload and one copy: the retry copied nothing.
    storage = daemon.app.storage
    credentials = await storage.get_credentials("ann")
    assert credentials is not None
    left = await storage.upload_allowance(credentials.user.id, "news", 1000)
    assert left == 1000 - 2 * len(b"minutes of the meeting")
    await _close(ann, bob)


@pytest.mark.parametrize("transport", ["tcp", "ws"])
async def test_refusals(daemon: Server, nursery: trio.Nursery, transport: str) -> None:
    """Each refusal has its stable code and stores nothing: a message of a private room the
    forwarder is not in (not_found, as for none), of a room they were banned from
    (not_found); into a room they are not in (forbidden); a deleted message (not_found); a
    poll (not_forwardable); both targets or neither (bad_request); a comment over the text
    limit (bad_request)."""
    ann, bob, cat = await _scene(daemon, nursery, transport)
    secret = await ann.request("send", room="secret", text="private words", nonce="s1")
    public = await ann.request("send", room="general", text="public words", nonce="s2")
    poll = await ann.request("send", room="general", text="Lunch?", nonce="s3",
                             poll={"options": ["yes", "no"]})
    gone = await ann.request("send", room="general", text="oops", nonce="s4")
    assert (await ann.request("delete", room="general", msg_id=gone["msg_id"]))["op"] == "ok"

    async def refused(client: Client, code: str, **fields: Any) -> None:
        reply = await client.request("forward", **fields)
        assert reply["op"] == "error" and reply["code"] == code, (fields, reply)

    await refused(cat, "not_found", room="secret", msg_id=secret["msg_id"], to_room="news")
    await refused(cat, "not_found", room="general", msg_id=secret["msg_id"], to_room="news")
    await refused(cat, "forbidden", room="general", msg_id=public["msg_id"],
                  to_room="secret")
    await refused(ann, "not_found", room="general", msg_id=gone["msg_id"], to_room="news")
    await refused(ann, "not_forwardable", room="general", msg_id=poll["msg_id"],
                  to_room="news")
    await refused(ann, "bad_request", room="general", msg_id=public["msg_id"])
    await refused(ann, "bad_request", room="general", msg_id=public["msg_id"],
                  to_room="news", to="bob")
    await refused(ann, "bad_request", room="general", msg_id=public["msg_id"],
                  to_room="news", text="x" * 4001)
    assert (await ann.request("ban", room="general", user="bob"))["op"] == "ok"
    await refused(bob, "not_found", room="general", msg_id=public["msg_id"], to="cat")
    news = [m for m in await full_history(ann, "news") if m["op"] == "message"]
    assert news == []
    await _close(ann, bob, cat)


async def test_a_private_source_hides_its_room(daemon: Server,
                                               nursery: trio.Nursery) -> None:
    """A forward from a private room or a conversation names neither (room and seq null);
    from a public room it names both."""
    ann, bob, _ = await _scene(daemon, nursery)
    secret = await ann.request("send", room="secret", text="private words", nonce="s1")
    dm = await ann.request("dm", to="bob", text="just us", nonce="s2")
    for room, msg_id in (("secret", secret["msg_id"]), (dm["room"], dm["msg_id"])):
        sent = await bob.request("forward", room=room, msg_id=msg_id, to_room="general",
                                 nonce=f"f-{msg_id}")
        assert sent["op"] == "ok", sent
        event = await ann.event("message", room="general", seq=sent["seq"])
        assert event["forwarded"]["room"] is None and event["forwarded"]["seq"] is None
        assert event["forwarded"]["from"] == "ann"
    await _close(ann, bob)


async def test_a_forward_of_a_forward_forwards_the_original(daemon: Server,
                                                           nursery: trio.Nursery) -> None:
    """Forwarding a forward copies its ``forwarded`` (the original's author, text, room),
    not nested; the new comment is the new forwarder's."""
    ann, bob, cat = await _scene(daemon, nursery)
    source = await bob.request("send", room="general", text="original", nonce="s1")
    first = await ann.request("forward", room="general", msg_id=source["msg_id"],
                              to_room="news", text="ann's comment", nonce="f1")
    second = await cat.request("forward", room="news", msg_id=first["msg_id"],
                               to="ann", text="cat's comment", nonce="f2")
    event = await ann.event("message", room=second["room"], seq=second["seq"])
    assert event["text"] == "cat's comment" and event["from"] == "cat"
    assert event["forwarded"] == {"from": "bob", "ts": source["ts"], "text": "original",
                                  "room": "general", "seq": source["seq"]}
    await _close(ann, bob, cat)


async def test_files_are_copied_for_the_target(daemon: Server, nursery: trio.Nursery) -> None:
    """The source's files become the forward's own: new ids in the target room, uploaded by
    the forwarder, that a member of the target who cannot read the source downloads; the
    source's file stays unreadable to them; deleting the forward stops its copies being
    served while the source's stay."""
    ann, bob, cat = await _scene(daemon, nursery)
    ann_token = await register_and_login(daemon.http_port, "ann")
    cat_token = await register_and_login(daemon.http_port, "cat")
    file = await upload(daemon, ann_token, "secret", b"secret plans", filename="plans.txt")
    source = await ann.request("send", room="secret", text="plans", nonce="s1",
                               files=[file["id"]])
    sent = await ann.request("forward", room="secret", msg_id=source["msg_id"],
                             to_room="news", text="for cat", nonce="f1")
    assert sent["op"] == "ok", sent
    event = await cat.event("message", room="news", seq=sent["seq"])
    [copy] = event["files"]
    assert copy["id"] != file["id"] and copy["name"] == "plans.txt"
    assert copy["size"] == len(b"secret plans")
    assert await download(daemon, cat_token, copy["url"]) == (200, b"secret plans")
    status, _ = await download(daemon, cat_token, file["url"])
    assert status in (403, 404)
    assert (await ann.request("delete", room="news", msg_id=sent["msg_id"]))["op"] == "ok"
    status, _ = await download(daemon, cat_token, copy["url"])
    assert status in (403, 404)
    assert await download(daemon, ann_token, file["url"]) == (200, b"secret plans")
    await _close(ann, bob, cat)


async def test_copies_count_against_the_forwarders_quota(tmp_path: Path, database_dsn: str,
                                                         nursery: trio.Nursery) -> None:
    """A forward whose files would pass the forwarder's quota is refused with the upload
    quota's status (413) as quota_exceeded (too_large would close the connection) and
    stores nothing; within it, it is stored."""
    config = make_config(tmp_path, database_dsn, files={"quota_bytes": 1000})
    async with running(config) as server:
        ann, bob, _ = await _scene(server, nursery)
        token = await register_and_login(server.http_port, "ann")
        file = await upload(server, token, "general", b"x" * 600, filename="big.bin")
        source = await ann.request("send", room="general", text="big", nonce="s1",
                                   files=[file["id"]])
        refused = await bob.request("forward", room="general", msg_id=source["msg_id"],
                                    to_room="secret", nonce="f1")
        assert refused["op"] == "ok", refused  # bob's quota: 600 of 1000
        again = await bob.request("forward", room="general", msg_id=source["msg_id"],
                                  to_room="secret", nonce="f2")
        assert again["op"] == "error" and again["code"] == "quota_exceeded", again
        log = [m for m in await full_history(bob, "secret") if m["op"] == "message"]
        assert [m["msg_id"] for m in log] == [refused["msg_id"]]
        await _close(ann, bob)


async def test_only_the_comment_mentions(daemon: Server, nursery: trio.Nursery) -> None:
    """An ``@name`` in the forwarded text mentions nobody (no ``mentions``, no unread
    mention); one in the comment does."""
    ann, bob, _ = await _scene(daemon, nursery)
    source = await ann.request("send", room="secret", text="ask @bob about it", nonce="s1")
    quiet = await ann.request("forward", room="secret", msg_id=source["msg_id"],
                              to_room="general", nonce="f1")
    event = await bob.event("message", room="general", seq=quiet["seq"])
    assert "mentions" not in event
    rooms = {r["room"]: r for r in (await bob.request("rooms"))["rooms"]}
    assert rooms["general"]["mentions"] == 0
    loud = await ann.request("forward", room="secret", msg_id=source["msg_id"],
                             to_room="general", text="@bob see this", nonce="f2")
    event = await bob.event("message", room="general", seq=loud["seq"])
    assert event["mentions"] == ["bob"]
    rooms = {r["room"]: r for r in (await bob.request("rooms"))["rooms"]}
    assert rooms["general"]["mentions"] == 1
    await _close(ann, bob)


async def test_search_finds_it_by_comment_and_forwarded_text(
        daemon: Server, nursery: trio.Nursery) -> None:
    """Search finds the forward in the target room by its comment's words and by the
    forwarded text's."""
    ann, bob, cat = await _scene(daemon, nursery)
    source = await ann.request("send", room="secret", text="zeppelin schedule", nonce="s1")
    sent = await ann.request("forward", room="secret", msg_id=source["msg_id"],
                             to_room="news", text="marmalade", nonce="f1")
    await search_caught_up(daemon.app.storage)
    for query in ("marmalade", "zeppelin"):
        found = await cat.request("search", query=query)
        assert [(m["room"], m["msg_id"]) for m in found["messages"]] == [
            ("news", sent["msg_id"])], (query, found)
    await _close(ann, bob, cat)


async def test_resume_and_history_carry_it_once(config: Config, nursery: trio.Nursery) -> None:
    """A member away while a forward came gets it once on resume with its ``forwarded``;
    live messages follow with nothing repeated; a join and history show it once."""
    async with running(config) as server:
        ann, bob, cat = await _scene(server, nursery)
        early = await ann.request("send", room="news", text="before", nonce="s0")
        await cat.aclose()
        source = await bob.request("send", room="general", text="to pass on", nonce="s1")
        sent = await ann.request("forward", room="general", msg_id=source["msg_id"],
                                 to_room="news", text="look", nonce="f1")
        cat = await Client.tcp(server.tcp_port)
        await cat.hello(await register_and_login(server.http_port, "cat"),
                        resume={"news": early["seq"]})
        marker = await ann.request("send", room="news", text="after", nonce="s2")
        last = await cat.event("message", room="news", seq=marker["seq"])
        got = [f for f in cat.events if f.get("op") == "message" and f.get("room") == "news"]
        assert [e["seq"] for e in [*got, last]] == [sent["seq"], marker["seq"]]
        assert got[0]["forwarded"]["text"] == "to pass on"
        joined = await cat.request("join", room="news")
        assert [m["msg_id"] for m in joined["messages"]].count(sent["msg_id"]) == 1
        log = await full_history(cat, "news")
        assert [m["msg_id"] for m in log].count(sent["msg_id"]) == 1
        await _close(ann, bob, cat)


async def test_the_comment_is_edited_and_deleted_as_any_message(
        daemon: Server, nursery: trio.Nursery) -> None:
    """The forwarder edits the comment (the forwarded part stays); deleting the forward
    leaves a tombstone without ``forwarded``."""
    ann, bob, _ = await _scene(daemon, nursery)
    source = await bob.request("send", room="general", text="keep this", nonce="s1")
    sent = await ann.request("forward", room="general", msg_id=source["msg_id"],
                             to_room="secret", text="first", nonce="f1")
    edited = await ann.request("edit", room="secret", msg_id=sent["msg_id"], text="second")
    assert edited["op"] == "ok", edited
    [shown] = [m for m in await full_history(bob, "secret") if m["op"] == "message"]
    assert shown["text"] == "second" and shown["forwarded"]["text"] == "keep this"
    assert (await ann.request("delete", room="secret", msg_id=sent["msg_id"]))["op"] == "ok"
    [shown] = [m for m in await full_history(bob, "secret") if m["op"] == "message"]
    assert shown["deleted"] is True and "forwarded" not in shown
    await _close(ann, bob)


async def test_http_forward(daemon: Server, nursery: trio.Nursery) -> None:
    """``POST /api/rooms/{room}/messages/{msg_id}/forward`` forwards as the socket does:
    201 with where the message stands, the members of the target get it with
    ``forwarded``, the nonce again is ``duplicate``; refusals are JSON errors with the
    socket's codes and statuses (400 both targets, 404 unreadable, 409 a poll, 401 no
    token)."""
    ann, bob, cat = await _scene(daemon, nursery)
    token = await register_and_login(daemon.http_port, "bob")
    source = await ann.request("send", room="general", text="pass it on", nonce="s1")
    path = f"/api/rooms/general/messages/{source['msg_id']}/forward"
    status, body = await http(daemon.http_port, "POST", path,
                              {"to": ["ann", "cat"], "text": "see", "nonce": "h1"},
                              token=token)
    assert status == 201, body
    assert set(body) == {"room", "seq", "msg_id", "ts"}
    event = await cat.event("message", room=body["room"], seq=body["seq"])
    assert event["text"] == "see" and event["from"] == "bob"
    assert event["forwarded"]["text"] == "pass it on"
    status, again = await http(daemon.http_port, "POST", path,
                               {"to": ["ann", "cat"], "text": "see", "nonce": "h1"},
                               token=token)
    assert status == 201 and again["duplicate"] is True and again["seq"] == body["seq"]
    poll = await ann.request("send", room="general", text="Lunch?", nonce="s2",
                             poll={"options": ["yes", "no"]})
    secret = await ann.request("send", room="news", text="x", nonce="s3")
    for target, fields, expected in (
            (path, {"to_room": "news", "to": "ann"}, (400, "bad_request")),
            (path, {}, (400, "bad_request")),
            (f"/api/rooms/general/messages/{poll['msg_id']}/forward", {"to_room": "general"},
             (409, "not_forwardable")),
            (f"/api/rooms/secret/messages/{secret['msg_id']}/forward", {"to_room": "general"},
             (404, "not_found")),
            (path, {"to_room": "news"}, (403, "forbidden"))):
        status, error = await http(daemon.http_port, "POST", target, fields, token=token)
        assert (status, error["code"]) == expected, (target, fields, error)
    status, _ = await http(daemon.http_port, "POST", path, {"to_room": "general"})
    assert status == 401
    await _close(ann, bob, cat)


async def test_a_forward_crosses_nodes(tmp_path: Path, database_dsn: str) -> None:
    """A forward stored by one node reaches a member on another node with its
    ``forwarded`` (the commit notice leaves it to be read, as a poll's message), once."""
    async with ann_and_bea_on_two_nodes(tmp_path, database_dsn) as (ann, bea):
        source = await ann.request("send", room="shared", text="over there", nonce="s1")
        sent = await ann.request("forward", room="shared", msg_id=source["msg_id"],
                                 to_room="shared", text="again", nonce="f1")
        event = await bea.event("message", seq=sent["seq"])
        assert event["text"] == "again" and event["forwarded"] == {
            "from": "ann", "ts": source["ts"], "text": "over there", "room": "shared",
            "seq": source["seq"]}
        marker = await ann.request("send", room="shared", text="after", nonce="s2")
        await bea.event("message", seq=marker["seq"])
        assert not [e for e in bea.events if e.get("seq") == sent["seq"]]


async def test_a_refused_append_leaves_no_copies(tmp_path: Path, database_dsn: str,
                                                 nursery: trio.Nursery,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A forward whose files were copied and whose append is then refused (the target archived
    meanwhile) leaves no copies behind: they do not count against the forwarder's quota, so
    a forward of the same files right after fits in it."""
    config = make_config(tmp_path, database_dsn, files={"quota_bytes": 1000})
    async with running(config) as server:
        ann, bob, _ = await _scene(server, nursery)
        token = await register_and_login(server.http_port, "ann")
        file = await upload(server, token, "general", b"x" * 600, filename="big.bin")
        source = await ann.request("send", room="general", text="big", nonce="s1",
                                   files=[file["id"]])
        storage = server.app.storage
        copy_files = storage.copy_files

        async def then_archive(*args: Any, **kwargs: Any) -> Any:
            copies = await copy_files(*args, **kwargs)
            monkeypatch.setattr(storage, "copy_files", copy_files)
            archived = await ann.request("archive", room="secret", archived=True)
            assert archived["op"] == "ok", archived
            return copies

        monkeypatch.setattr(storage, "copy_files", then_archive)
        refused = await bob.request("forward", room="general", msg_id=source["msg_id"],
                                    to_room="secret", nonce="f1")
        assert (refused["op"], refused["code"]) == ("error", "archived"), refused
        again = await bob.request("forward", room="general", msg_id=source["msg_id"],
                                  to_room="general", nonce="f2")
        assert again["op"] == "ok", again  # 600 of bob's 1000: the refused copy is gone
        await _close(ann, bob)
