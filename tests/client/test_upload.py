"""``/upload PATH [TEXT]`` in the terminal client, and how it shows messages with files.

Against a real daemon (``running``), as ``chatd client`` runs: a process fed by a pipe or on a
pty (``test_terminal.py``'s helpers), or, to look inside, a :class:`ChatClient` in the test's
own trio run printing to a string. The other party is the protocol client of ``wire.py``.
Every wait is bounded.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import pytest
import trio

from chatd.client import ChatClient, ClientOptions, Endpoint
from chatd.client.link import UPLOAD_CHUNK, http_upload
from chatd.client.messages import Messages
from chatd.client.render import file_spans, human_size, message_spans, plain_text
from chatd.client.terminal import LineReader, Screen
from chatd.config import Config
from chatd.protocol import MessageDeleted, MessagePosted
from tests.client.test_terminal import (
    PASSWORD,
    STAMPED,
    client_in_batch,
    client_on_pty,
    log_in,
    party,
)
from tests.client.wire import http, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config

WAIT = 20


@pytest.fixture
def config(tmp_path: Path, database_dsn: str) -> Config:
    return make_config(tmp_path, database_dsn, server={"grace_period": 3.0},
                       files={"max_bytes": 4_000_000})


def _file(tmp_path: Path, name: str, size: int) -> tuple[Path, bytes]:
    data = os.urandom(size)
    path = tmp_path / name
    path.write_bytes(data)
    return path, data


# --------------------------------------------------------------------------- rendering


def _message(text: str, **fields: Any) -> MessagePosted:
    values: dict[str, Any] = {"room": "general", "seq": 4, "msg_id": 40, "sender": "ann",
                              "text": text, "ts": 1_732_700_000_000, "nonce": "n", "rev": 4}
    values.update(fields)
    return MessagePosted(**values)


LOG = {"id": 7, "name": "app.log", "size": 12_345, "content_type": "text/plain",
       "url": "/api/files/7/app.log"}


def test_sizes_read_as_people_read_them() -> None:
    """Bytes under 1000 as B, then kB, MB, GB with one decimal; nonsense is ``?``."""
    assert [human_size(n) for n in (0, 999, 1000, 12_345, 999_999, 20_000_000, 3 * 10**12)] \
        == ["0 B", "999 B", "1.0 kB", "12.3 kB", "1.0 MB", "20.0 MB", "3.0 TB"]
    assert human_size(None) == human_size(-1) == human_size(True) == "?"


def test_a_message_with_files_shows_name_size_and_url() -> None:
    """Each file follows the text on a line of its own, with its size and its URL after the
    server's base; a message with files and no text starts with its first file; a file's
    name cannot send escape sequences."""
    base = "http://127.0.0.1:8080"
    image = {"id": 8, "name": "shot\x1b[2J.png", "size": 48_213, "content_type": "image/png",
             "url": "/api/files/8/shot.png", "width": 640, "height": 480}
    with_text = plain_text(message_spans(_message("see these", files=(LOG, image)), number=3,
                                         label="general", me="bob", base_url=base))
    assert with_text.endswith(
        "ann: see these\n      📎 app.log (12.3 kB) http://127.0.0.1:8080/api/files/7/app.log"
        "\n      📎 shot\ufffd[2J.png (48.2 kB, 640x480) "
        "http://127.0.0.1:8080/api/files/8/shot.png")
    alone = plain_text(message_spans(_message("", files=(LOG,)), number=3, label="general",
                                     me="bob", base_url=base))
    assert alone.endswith("ann: 📎 app.log (12.3 kB) http://127.0.0.1:8080/api/files/7/app.log")
    assert plain_text(file_spans({"name": "x", "size": 1})) == "📎 x (1 B)"


def test_a_deleted_message_forgets_its_files() -> None:
    """Deleting a message drops its files, whichever road the deletion came by."""
    messages = Messages()
    messages.apply(_message("with a file", files=(LOG,)))
    messages.apply(MessageDeleted(room="general", seq=5, msg_id=40, by="ann", ts=1))
    held = messages.get("general", 40)
    assert held is not None and held.deleted and held.files == ()
    messages.apply(_message("", msg_id=41, seq=6, rev=6, deleted=True, files=(LOG,)))
    again = messages.get("general", 41)
    assert again is not None and again.files == ()


# --------------------------------------------------------------------------- the command


async def test_piped_upload_is_sent_with_its_text(tmp_path: Path, config: Config) -> None:
    """A script's ``/upload PATH TEXT`` uploads the file and sends a message that carries it
    with the text; the other member gets the file object live and downloads the same bytes;
    the client prints the file with the URL to fetch it."""
    path, data = _file(tmp_path, "report.pdf", 300_000)
    async with running(config) as server, trio.open_nursery() as nursery:
        await register_and_login(server.http_port, "ann")
        bob = await party(nursery, server, "bob", "general")
        await bob.request("invite", room="general", user="ann")
        returncode, output = await client_in_batch(
            tmp_path, server.http_port, "ann",
            [PASSWORD, "/switch general", f"/upload {path} the report, as promised"])
        assert returncode == 0, output
        got = await bob.event("message", room="general", text="the report, as promised")
        [file] = got["files"]
        assert (file["name"], file["size"], file["content_type"]) == \
            ("report.pdf", 300_000, "application/pdf")
        bob_token = await register_and_login(server.http_port, "bob")
        assert await http(server.http_port, "GET", file["url"], token=bob_token) == (200, data)
        assert "-- uploaded report.pdf (300.0 kB) to [general]" in output
        url = f"http://127.0.0.1:{server.http_port}{file['url']}"
        assert re.search(rf"{STAMPED} \[general\] ann: the report, as promised\n"
                         rf" {{6}}📎 report\.pdf \(300\.0 kB\) {re.escape(url)}\n", output), output
        await bob.aclose()
        nursery.cancel_scope.cancel()


async def test_upload_in_a_conversation_is_a_dm(tmp_path: Path, config: Config) -> None:
    """In a conversation ``/upload`` sends a dm carrying the file, with no text."""
    path, data = _file(tmp_path, "my notes.txt", 1000)
    async with running(config) as server, trio.open_nursery() as nursery:
        await register_and_login(server.http_port, "ann")
        bob = await party(nursery, server, "bob")
        assert (await bob.request("dm", to="ann", text="your notes?", nonce="b1"))["op"] == "ok"
        returncode, output = await client_in_batch(
            tmp_path, server.http_port, "ann", [PASSWORD, "/switch @bob", f'/upload "{path}"'],
            "--tcp", f"127.0.0.1:{server.tcp_port}")
        assert returncode == 0, output
        got = await bob.event("message", room="@ann:bob", text="")
        assert [f["name"] for f in got["files"]] == ["my notes.txt"]
        bob_token = await register_and_login(server.http_port, "bob")
        assert await http(server.http_port, "GET", got["files"][0]["url"], token=bob_token) \
            == (200, data)
        assert re.search(rf"{STAMPED} \[@bob\] ann: 📎 my notes\.txt \(1\.0 kB\) http://", output)
        await bob.aclose()
        nursery.cancel_scope.cancel()


async def test_refused_and_unreadable_uploads_send_nothing(tmp_path: Path, config: Config
                                                           ) -> None:
    """A file over the server's limit is ``too_large`` (whether the server says so at the
    request's head or halfway through the body), a missing file or a folder cannot be read:
    each is a problem that fails the script, and nothing is sent."""
    big, _ = _file(tmp_path, "big.bin", 4_010_000)  # refused once 4,000,000 bytes are in
    huge, _ = _file(tmp_path, "huge.bin", 5_000_000)  # refused by its Content-Length
    async with running(config) as server, trio.open_nursery() as nursery:
        await register_and_login(server.http_port, "ann")
        bob = await party(nursery, server, "bob", "general")
        await bob.request("invite", room="general", user="ann")
        returncode, output = await client_in_batch(
            tmp_path, server.http_port, "ann",
            [PASSWORD, "/switch general", f"/upload {big} too big", f"/upload {huge}",
             "/upload /no/such/file", f"/upload {tmp_path}", '/upload "unclosed',
             "after the refusals"])
        assert returncode == 1, output
        assert "!! /upload big.bin: too_large: the file is over the size limit (4000000 " \
            "bytes)" in output, output
        assert "!! /upload huge.bin: too_large: the body is over 4016384 bytes" in output
        assert "!! /upload: cannot read /no/such/file: No such file or directory" in output
        assert f"!! /upload: cannot read {tmp_path}: Is a directory" in output
        assert "!! usage: /upload PATH [TEXT]" in output
        page = await bob.request("history", room="general")
        assert [m["text"] for m in page["messages"]] == ["after the refusals"]
        await bob.aclose()
        nursery.cancel_scope.cancel()


async def test_progress_at_a_terminal(tmp_path: Path, config: Config) -> None:
    """At a terminal a large upload says how far it got, then shows the message."""
    path, _ = _file(tmp_path, "big.bin", 3_000_000)
    async with running(config) as server, trio.open_nursery() as nursery:
        await register_and_login(server.http_port, "ann")
        bob = await party(nursery, server, "bob", "general")
        await bob.request("invite", room="general", user="ann")
        async with client_on_pty(tmp_path, server.http_port, "ann") as term:
            await log_in(term)
            await term.type("/switch general")
            await term.type(f"/upload {path}")
            for percent in (25, 50, 75):
                await term.expect(rf"-- uploading big\.bin: {percent}% \([\d.]+ [kM]B of "
                                  r"3\.0 MB\)")
            await term.expect(r"-- uploaded big\.bin \(3\.0 MB\) to \[general\]")
            await term.expect(r"\.\.\. \[general\] ann: \[file big\.bin\]  \(sending\)")
            await term.expect(rf"{STAMPED} \[general\] ann: 📎 \x1b\[1mbig\.bin\x1b\[0m "
                              r"\(3\.0 MB\) \x1b\[4mhttp://")
            got = await bob.event("message", room="general")
            assert got["files"][0]["size"] == 3_000_000
            await bob.aclose()
        nursery.cancel_scope.cancel()


# --------------------------------------------------------------------------- inside the client


class _CountingFile:
    """A file open for reading that records the size of every read."""

    def __init__(self, file: Any) -> None:
        self._file = file
        self.reads: list[int] = []

    async def read(self, size: int = -1, /) -> bytes:
        data: bytes = await self._file.read(size)
        self.reads.append(len(data))
        return data


async def test_the_file_is_streamed_in_chunks(tmp_path: Path, config: Config) -> None:
    """The upload reads the file a chunk at a time (never whole) and the server stores it
    byte for byte."""
    path, data = _file(tmp_path, "data.bin", 3_000_000)
    async with running(config) as server:
        token = await register_and_login(server.http_port, "ann")
        assert (await http(server.http_port, "POST", "/api/rooms", {"room": "general"},
                           token=token))[0] == 201
        endpoint = Endpoint.parse(f"http://127.0.0.1:{server.http_port}")
        with trio.fail_after(WAIT):
            async with await trio.open_file(path, "rb") as opened:
                source = _CountingFile(opened)
                status, answer = await http_upload(
                    endpoint, "/api/rooms/general/files", token, source, len(data),
                    name="data.bin", content_type="application/octet-stream")
        assert status == 201, answer
        assert sum(source.reads) == len(data)
        assert max(source.reads) <= UPLOAD_CHUNK and len(source.reads) >= 12
        assert await http(server.http_port, "GET", answer["file"]["url"], token=token) \
            == (200, data)


def _inside(port: int, user: str) -> tuple[ChatClient, io.StringIO]:
    out = io.StringIO()
    options = ClientOptions(endpoint=Endpoint.parse(f"http://127.0.0.1:{port}"), user=user,
                            interactive=False)
    return ChatClient(options, PASSWORD, Screen(out), LineReader(-1)), out


async def test_rate_limited_and_unreachable(tmp_path: Path, database_dsn: str) -> None:
    """Past the server's uploads per minute the upload is ``rate_limited`` and nothing is
    sent; a server that cannot be reached is said to be, with why."""
    config = make_config(tmp_path, database_dsn, limits={"uploads_per_minute": 1})
    path, _ = _file(tmp_path, "a.txt", 10)
    async with running(config) as server:
        token = await register_and_login(server.http_port, "ann")
        assert (await http(server.http_port, "POST", "/api/rooms", {"room": "general"},
                           token=token))[0] == 201
        client, out = _inside(server.http_port, "ann")
        client.token = token
        with trio.fail_after(WAIT):
            await client.upload("general", path, "first")  # not connected: kept pending
            await client.upload("general", path, "second")
        assert "-- uploaded a.txt (10 B) to [general]" in out.getvalue()
        assert re.search(r"!! /upload a\.txt: rate_limited: too many uploads", out.getvalue())
        assert [p.request.text for p in client.pending.values()] == ["first"]  # type: ignore[union-attr]
        port = server.http_port
    client, out = _inside(port, "ann")
    client.token = token
    with trio.fail_after(WAIT):
        await client.upload("general", path, "nobody there")
    assert re.search(rf"!! /upload a\.txt: cannot reach 127\.0\.0\.1:{port}: .*Connection "
                     "refused", out.getvalue())
    assert client.pending == {}
