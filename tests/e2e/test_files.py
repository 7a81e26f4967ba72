"""End-to-end: files uploaded over HTTP, attached with ``send``/``dm`` over the socket, seen
live and in history by another client, and gone with their message.

Rules: 127.0.0.1 and port 0 only; every wait is bounded (the client helpers fail after 10 s).
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import asyncpg
import trio

from chatd.server import Server
from tests.client import Client, register_and_login
from tests.client.wire import http
from tests.e2e.conftest import Daemon, daemon_process
from tests.http.test_uploads import multipart

STEP_TIMEOUT = 60


async def upload(daemon: Server | Daemon, token: str, room: str, data: bytes, **part: Any
                 ) -> dict[str, Any]:
    body, headers = multipart(data, **part)
    status, answer = await http(daemon.http_port, "POST", f"/api/rooms/{room}/files",
                                token=token, raw=body, headers=headers)
    assert status == 201, answer
    file: dict[str, Any] = answer["file"]
    return file


async def download(daemon: Server | Daemon, token: str, url: str) -> tuple[int, Any]:
    return await http(daemon.http_port, "GET", url, token=token)


async def _two(daemon: Server, nursery: trio.Nursery, *, private: bool = True
               ) -> tuple[Client, str, Client, str]:
    """ann (TCP, owner of the room "team") and bob (WebSocket), both members."""
    ann_token = await register_and_login(daemon.http_port, "ann")
    bob_token = await register_and_login(daemon.http_port, "bob")
    ann = await Client.tcp(daemon.tcp_port)
    await ann.hello(ann_token)
    bob = await Client.ws(daemon.http_port, nursery)
    await bob.hello(bob_token)
    assert (await ann.request("create_room", room="team", private=private))["op"] == "ok"
    assert (await ann.request("invite", room="team", user="bob"))["op"] == "ok"
    return ann, ann_token, bob, bob_token


async def test_attach_is_seen_live_and_in_history(daemon: Server, nursery: trio.Nursery
                                                   ) -> None:
    """A message with files (and no text) carries the file objects in the live event and in
    history, for another client, who can then download the bytes."""
    ann, ann_token, bob, bob_token = await _two(daemon, nursery)
    data = os.urandom(100_000)
    first = await upload(daemon, ann_token, "team", data, filename="shot.png",
                         content_type="image/png")
    second = await upload(daemon, ann_token, "team", b"log line\n", filename="app.log")
    assert (await download(daemon, bob_token, first["url"]))[0] == 404  # not attached yet
    sent = await ann.request("send", room="team", text="", nonce="n1",
                             files=[second["id"], first["id"]])
    assert sent["op"] == "ok", sent
    live = await bob.event("message", room="team", msg_id=sent["msg_id"])
    assert live["text"] == ""
    assert live["files"] == [first, second]
    page = await bob.request("history", room="team")
    assert page["messages"][-1]["files"] == [first, second]
    status, body = await download(daemon, bob_token, first["url"])
    assert status == 200 and body == data
    plain = await ann.request("send", room="team", text="no files", nonce="n2")
    message = await bob.event("message", room="team", msg_id=plain["msg_id"])
    assert "files" not in message


async def test_attach_refusals(daemon: Server, nursery: trio.Nursery) -> None:
    """Someone else's file is not_found, a file attached already is bad_request, a file of
    another room is not_found, more than 10 files or a blank text without files is
    bad_request; nothing is stored by a refused send."""
    ann, ann_token, bob, _ = await _two(daemon, nursery)
    assert (await ann.request("create_room", room="other"))["op"] == "ok"
    mine = await upload(daemon, ann_token, "team", b"ann's")
    elsewhere = await upload(daemon, ann_token, "other", b"other room")
    stolen = await bob.request("send", room="team", text="mine now", nonce="b1",
                               files=[mine["id"]])
    assert stolen["op"] == "error" and stolen["code"] == "not_found"
    wrong_room = await ann.request("send", room="team", text="x", nonce="a0",
                                   files=[elsewhere["id"]])
    assert wrong_room["code"] == "not_found"
    assert (await ann.request("send", room="team", text="x", nonce="a1",
                              files=[mine["id"]]))["op"] == "ok"
    again = await ann.request("send", room="team", text="x", nonce="a2", files=[mine["id"]])
    assert again["code"] == "bad_request"
    too_many = await ann.request("send", room="team", text="x", nonce="a3",
                                 files=list(range(1, 12)))
    assert too_many["code"] == "bad_request"
    blank = await ann.request("send", room="team", text=" ", nonce="a4")
    assert blank["code"] == "bad_request"
    page = await ann.request("history", room="team")
    assert [m["nonce"] for m in page["messages"]] == ["a1"]


async def test_two_sends_racing_for_one_file(daemon: Server, nursery: trio.Nursery) -> None:
    """Two sends attaching the same file at once: exactly one carries it, the other is
    bad_request."""
    ann, ann_token, _, _ = await _two(daemon, nursery)
    file = await upload(daemon, ann_token, "team", b"contested")
    await ann.send({"op": "send", "id": "x", "room": "team", "text": "1", "nonce": "x",
                    "files": [file["id"]]})
    await ann.send({"op": "send", "id": "y", "room": "team", "text": "2", "nonce": "y",
                    "files": [file["id"]]})
    outcomes = sorted([(await ann.reply("x"))["op"], (await ann.reply("y"))["op"]])
    assert outcomes == ["error", "ok"]
    page = await ann.request("history", room="team")
    assert sum(len(m.get("files", [])) for m in page["messages"]) == 1


async def test_dm_with_a_file(daemon: Server, nursery: trio.Nursery) -> None:
    """A dm attaches an upload to the conversation; the peer downloads it."""
    ann, ann_token, bob, bob_token = await _two(daemon, nursery)
    first = await ann.request("dm", to="bob", text="hi", nonce="d0")  # makes the conversation
    assert first["op"] == "ok"
    file = await upload(daemon, ann_token, first["room"], b"for bob only")
    sent = await ann.request("dm", to="bob", nonce="d1", files=[file["id"]])
    assert sent["op"] == "ok", sent
    live = await bob.event("message", room=first["room"], msg_id=sent["msg_id"])
    assert live["files"] == [file]
    assert (await download(daemon, bob_token, file["url"])) == (200, b"for bob only")


async def test_deleting_the_message_removes_its_files(daemon: Server, nursery: trio.Nursery
                                                      ) -> None:
    """Once its message is deleted a file is 404 for everyone, history shows no files, and
    it no longer counts against the quota."""
    ann, ann_token, bob, bob_token = await _two(daemon, nursery)
    file = await upload(daemon, ann_token, "team", b"regret")
    sent = await ann.request("send", room="team", text="oops", nonce="n1", files=[file["id"]])
    assert (await download(daemon, bob_token, file["url"]))[0] == 200
    assert (await ann.request("delete", room="team", msg_id=sent["msg_id"]))["op"] == "ok"
    assert (await download(daemon, bob_token, file["url"]))[0] == 404
    assert (await download(daemon, ann_token, file["url"]))[0] == 404
    page = await bob.request("history", room="team")
    assert "files" not in page["messages"][-1]


async def test_non_member_of_a_private_room_is_refused(daemon: Server, nursery: trio.Nursery
                                                       ) -> None:
    """A user outside a private room cannot download its attached files, nor upload to it."""
    ann, ann_token, _, _ = await _two(daemon, nursery)
    file = await upload(daemon, ann_token, "team", b"team only")
    assert (await ann.request("send", room="team", text="f", nonce="n1",
                              files=[file["id"]]))["op"] == "ok"
    eve = await register_and_login(daemon.http_port, "eve")
    assert (await download(daemon, eve, file["url"]))[0] == 404
    body, headers = multipart(b"x")
    status, _ = await http(daemon.http_port, "POST", "/api/rooms/team/files", token=eve,
                           raw=body, headers=headers)
    assert status == 403
    status, _ = await http(daemon.http_port, "GET", file["url"])
    assert status == 401


async def _count_files(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM files")
    finally:
        await conn.close()
    return count


async def test_sigkill_during_an_upload_leaves_no_row_and_no_file(tmp_path: Path,
                                                                  database_dsn: str) -> None:
    """A daemon killed halfway through an upload leaves no row and nothing under the content
    paths, only its temporary file, which a later start-up sweeps once it is stale."""
    data_files = tmp_path / "data" / "files"
    async with daemon_process(tmp_path, database_dsn, "first") as daemon:
        with trio.fail_after(STEP_TIMEOUT):
            token = await register_and_login(daemon.http_port, "ann")
            status, _ = await http(daemon.http_port, "POST", "/api/rooms", {"room": "team"},
                                   token=token)
            assert status == 201
            body, headers = multipart(os.urandom(1024 * 1024))
            head = "".join(f"{k}: {v}\r\n" for k, v in [
                ("Host", "127.0.0.1"), ("Authorization", f"Bearer {token}"),
                ("Content-Length", str(len(body))), *headers])
            stream = await trio.open_tcp_stream("127.0.0.1", daemon.http_port)
            await stream.send_all(f"POST /api/rooms/team/files HTTP/1.1\r\n{head}\r\n".encode()
                                  + body[:len(body) // 2])
            while not list((data_files / "tmp").glob("*.part")):  # noqa: ASYNC110 (the disk)
                await trio.sleep(0.01)
            daemon.process.send_signal(signal.SIGKILL)
            assert await daemon.process.wait() == -signal.SIGKILL
            await stream.aclose()
    [leftover] = list((data_files / "tmp").glob("*.part"))
    assert [p for p in data_files.rglob("*") if p.is_file()] == [leftover]
    assert await trio.to_thread.run_sync(asyncio.run, _count_files(database_dsn)) == 0
    os.utime(leftover, (1, 1))  # an hour and more without a write
    async with daemon_process(tmp_path, database_dsn, "second") as daemon:
        assert not leftover.exists()
        with trio.fail_after(STEP_TIMEOUT):
            token = await register_and_login(daemon.http_port, "ann")
            file = await upload(daemon, token, "team", b"after the crash")
            status, got = await download(daemon, token, file["url"])
            assert (status, got) == (200, b"after the crash")
