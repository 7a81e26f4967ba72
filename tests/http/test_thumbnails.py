"""Thumbnails of uploaded images and signed links to files (chatd/http/links.py, the
thumbnail step of chatd/http/uploads.py), over real sockets against the real database.

Rules as in ``test_uploads.py``: 127.0.0.1, port 0, ``trio.fail_after`` around all I/O. The
daemon's secret is known here, so that a test can sign a link that has expired.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import threading
import time
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
from PIL import Image

import chatd.http.uploads
import chatd.thumbnails
from chatd.config import Config
from chatd.files import collect
from chatd.links import LINK_KEY_LABEL, link_signature
from chatd.storage import NewChange, NewMessage, Storage
from chatd.thumbnails import Thumbnail
from tests.http.serving import serve_http
from tests.http.test_http import Response
from tests.http.test_uploads import TIMEOUT, Daemon
from tests.images import encode, picture, png_bomb, with_orientation

LINK_SECONDS = 600


@dataclasses.dataclass
class Thumbs(Daemon):
    key: bytes = b""

    async def user_id(self, token: str) -> int:
        user_id: int = (await self.call("GET", "/api/me", token=token)).json()["user"]["id"]
        return user_id

    async def post(self, token: str, room: str, nonce: str, *files: dict[str, Any]) -> int:
        """A message of the token's user with these files; its msg_id."""
        [result] = await self.storage.append_messages([NewMessage(
            user_id=await self.user_id(token), room=room, text="", nonce=nonce,
            files=tuple(f["id"] for f in files))])
        assert not isinstance(result, Exception), result
        return result.message.msg_id

    async def delete(self, token: str, room: str, msg_id: int) -> None:
        [result] = await self.storage.append_messages([NewChange(
            user_id=await self.user_id(token), room=room, msg_id=msg_id, kind="deleted")])
        assert not isinstance(result, Exception), result

    async def links(self, token: str | None, ids: Any) -> Response:
        return await self.call("POST", "/api/files/links", token=token, json_body={"ids": ids})


@pytest.fixture
async def daemon(nursery: trio.Nursery, storage: Storage, tmp_path: Path
                 ) -> AsyncIterator[Thumbs]:
    config = Config().replace(
        server={"data_dir": str(tmp_path / "data")},
        http={"request_timeout": 5.0},
        files={"max_bytes": 4 * 1024 * 1024, "link_seconds": LINK_SECONDS},
    )
    served = await serve_http(nursery, storage, config)
    yield Thumbs(served.port, storage, config.files_dir, served.app,
                 key=served.auth.derive_key(LINK_KEY_LABEL))
    nursery.cancel_scope.cancel()


async def _member(daemon: Thumbs, name: str = "alice", room: str = "general", *,
                  private: bool = False) -> str:
    token = await daemon.user(name)
    await daemon.room(token, room, private=private)
    return token


async def _upload(daemon: Thumbs, token: str, data: bytes, room: str = "general",
                  **part: Any) -> dict[str, Any]:
    response = await daemon.upload(token, room, data, **part)
    assert response.status == 201, response.body
    file: dict[str, Any] = response.json()["file"]
    return file


def _webp_size(body: bytes) -> tuple[int, int]:
    image = Image.open(io.BytesIO(body))
    assert image.format == "WEBP"
    return image.size


@pytest.mark.parametrize(("fmt", "declared"), [
    ("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"),
    ("WEBP", "image/webp"), ("PNG", "application/octet-stream"),
])
async def test_an_image_gets_a_thumbnail(daemon: Thumbs, fmt: str, declared: str) -> None:
    """An uploaded PNG, JPEG, GIF or WebP (whatever type it is declared as) has its width,
    height and thumbnail_url in the upload's answer; the thumbnail is a WebP within
    400x400, served with the download's safety headers, immutable, its SHA-256 as ETag."""
    alice = await _member(daemon)
    file = await _upload(daemon, alice, encode(picture(1200, 600), fmt),
                         filename=f"shot.{fmt.lower()}", content_type=declared)
    assert (file["width"], file["height"]) == (1200, 600)
    assert file["thumbnail_url"] == f"/api/thumbnails/{file['id']}"
    got = await daemon.call("GET", file["thumbnail_url"], token=alice)
    assert got.status == 200, got.body
    assert got.headers["content-type"] == "image/webp"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-security-policy"] == "sandbox; default-src 'none'"
    assert got.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert got.headers["etag"] == f'"{hashlib.sha256(got.body).hexdigest()}"'
    assert _webp_size(got.body) == (400, 200)
    again = await daemon.call("GET", file["thumbnail_url"], token=alice,
                              headers=[("If-None-Match", got.headers["etag"])])
    assert again.status == 304
    assert (await daemon.call("GET", file["url"], token=alice)).status == 200


async def test_exif_orientation_swaps_the_size(daemon: Thumbs) -> None:
    """A JPEG stored 1200x600 with EXIF Orientation 6 is 600x1200 as shown, and so is its
    thumbnail (200x400)."""
    alice = await _member(daemon)
    file = await _upload(daemon, alice, with_orientation(1200, 600, 6), filename="p.jpg",
                         content_type="image/jpeg")
    assert (file["width"], file["height"]) == (600, 1200)
    got = await daemon.call("GET", file["thumbnail_url"], token=alice)
    assert _webp_size(got.body) == (200, 400)


@pytest.mark.parametrize("data", [
    pytest.param(encode(picture(600, 400), "PNG")[:500], id="truncated png"),
    pytest.param(b"\xff\xd8\xff\xe0" + os.urandom(5000), id="corrupt jpeg"),
    pytest.param(png_bomb(30000, 30000), id="30000x30000 png bomb"),
    pytest.param(b"<html><body>not an image</body></html>", id="html declared as png"),
    pytest.param(encode(picture(600, 400), "BMP"), id="bmp"),
])
async def test_what_fails_to_decode_is_a_plain_file(daemon: Thumbs, data: bytes) -> None:
    """A corrupt image, a decompression bomb, or anything else declared as an image is kept
    as a plain file: 201, no size, no thumbnail (its url is 404), the bytes as sent."""
    alice = await _member(daemon)
    file = await _upload(daemon, alice, data, filename="x.png", content_type="image/png")
    assert (file["thumbnail_url"], file["width"], file["height"]) == (None, None, None)
    assert file["size"] == len(data)
    assert (await daemon.call("GET", f"/api/thumbnails/{file['id']}", token=alice)
            ).status == 404
    got = await daemon.call("GET", file["url"], token=alice)
    assert got.status == 200 and got.body == data
    assert len(daemon.stored()) == 1 and daemon.temporary() == []


async def test_thumbnails_follow_the_files_access_rule(daemon: Thumbs) -> None:
    """A thumbnail is read by whoever may read its file: its uploader before it is attached,
    the room's readers after; never a non-member of a private room; 401 without a token."""
    alice = await _member(daemon, room="secret", private=True)
    bob = await daemon.user("bob")
    file = await _upload(daemon, alice, encode(picture(500, 500), "PNG"), room="secret")
    url = file["thumbnail_url"]
    assert (await daemon.call("GET", url)).status == 401
    assert (await daemon.call("GET", url, token=bob)).status == 404
    await daemon.post(alice, "secret", "n", file)
    assert (await daemon.call("GET", url, token=bob)).status == 404
    assert (await daemon.call("GET", url, token=alice)).status == 200


async def test_thumbnails_are_made_two_at_a_time(daemon: Thumbs,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Six image uploads at once make at most two thumbnails at a time (two worker threads);
    the others wait their turn, and all are answered."""
    inside = 0
    most = 0
    lock = threading.Lock()
    release = threading.Event()
    real = chatd.thumbnails.make_thumbnail

    def slow(path: Path, *, max_pixels: int) -> Thumbnail | None:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        try:
            release.wait(TIMEOUT)
            return real(path, max_pixels=max_pixels)
        finally:
            with lock:
                inside -= 1

    monkeypatch.setattr("chatd.http.uploads.make_thumbnail", slow)
    alice = await _member(daemon)
    data = [encode(picture(300 + i, 200), "PNG") for i in range(6)]
    answers: list[Response] = []

    async def upload(one: bytes) -> None:
        answers.append(await daemon.upload(alice, "general", one, content_type="image/png"))

    try:
        async with trio.open_nursery() as nursery:
            for one in data:
                nursery.start_soon(upload, one)
            limiter = chatd.http.uploads.thumbnail_limiter()
            with trio.fail_after(TIMEOUT):
                while limiter.statistics().tasks_waiting < 4:  # noqa: ASYNC110 (a state)
                    await trio.sleep(0.01)
            assert limiter.statistics().borrowed_tokens == 2
            assert most == 2
            release.set()
    finally:
        release.set()
    assert sorted(a.status for a in answers) == [201] * 6
    assert most == 2
    assert all(a.json()["file"]["thumbnail_url"] for a in answers)


async def test_signed_links_work_without_a_token(daemon: Thumbs) -> None:
    """POST /api/files/links gives, for each file the user may read, its url and thumbnail
    url signed until expires_at (ms): both work without a token, until then, cached no
    longer; the same links are handed out within a window."""
    alice = await _member(daemon)
    image = await _upload(daemon, alice, encode(picture(800, 400), "JPEG"), filename="a.jpg",
                          content_type="image/jpeg")
    plain = await _upload(daemon, alice, b"just text", filename="b.txt")
    before = time.time()
    response = await daemon.links(alice, [plain["id"], image["id"]])
    now = time.time()
    assert response.status == 200, response.body
    links = response.json()["links"]
    assert [link["id"] for link in links] == [plain["id"], image["id"]]
    plain_link, image_link = links
    assert plain_link["thumbnail_url"] is None
    assert plain_link["url"].startswith(plain["url"] + "?exp=")
    assert image_link["thumbnail_url"].startswith(image["thumbnail_url"] + "?exp=")
    exp = image_link["expires_at"] / 1000
    assert exp % LINK_SECONDS == 0 and before + LINK_SECONDS <= exp <= now + 2 * LINK_SECONDS
    got = await daemon.call("GET", image_link["url"])
    assert got.status == 200
    assert got.body == (await daemon.call("GET", image["url"], token=alice)).body
    max_age = int(got.headers["cache-control"].split("max-age=")[1].split(",")[0])
    assert 0 < max_age <= exp - now + 1
    thumb = await daemon.call("GET", image_link["thumbnail_url"])
    assert thumb.status == 200 and _webp_size(thumb.body) == (400, 200)
    assert thumb.headers["content-type"] == "image/webp"
    assert (await daemon.call("GET", plain_link["url"])).body == b"just text"
    assert (await daemon.call("HEAD", plain_link["url"])).status == 200
    assert (await daemon.links(alice, [image["id"]])).json()["links"] == [image_link]


def _with(url: str, **changes: str | list[str]) -> str:
    """``url`` with some query fields replaced (a list: the field repeated)."""
    path, _, query = url.partition("?")
    fields = dict(urllib.parse.parse_qsl(query))
    pairs = [(k, v) for k, v in fields.items() if k not in changes]
    for key, value in changes.items():
        pairs += [(key, v) for v in ([value] if isinstance(value, str) else value)]
    return f"{path}?{urllib.parse.urlencode(pairs)}"


async def test_bad_signatures_are_forbidden(daemon: Thumbs) -> None:
    """A tampered signature, a changed expiry, another file's signature, the file's
    signature on its thumbnail, an expired link, a repeated or missing field: 403
    forbidden, even with a valid token beside it."""
    alice = await _member(daemon)
    first = await _upload(daemon, alice, encode(picture(300, 300), "PNG"))
    second = await _upload(daemon, alice, encode(picture(200, 300), "PNG"))
    links = (await daemon.links(alice, [first["id"], second["id"]])).json()["links"]
    url, thumb = links[0]["url"], links[0]["thumbnail_url"]
    sig = dict(urllib.parse.parse_qsl(url.partition("?")[2]))["sig"]
    exp = int(dict(urllib.parse.parse_qsl(url.partition("?")[2]))["exp"])
    other = dict(urllib.parse.parse_qsl(links[1]["url"].partition("?")[2]))["sig"]
    past = int(time.time()) - 1
    refused = [
        _with(url, sig=("A" if sig[0] != "A" else "B") + sig[1:]),
        _with(url, exp=str(exp + LINK_SECONDS)),
        _with(url, sig=other),
        f"{first['thumbnail_url']}?exp={exp}&sig={sig}",
        _with(url, exp=str(past), sig=link_signature(daemon.key, "file", first["id"], past)),
        _with(url, sig=[sig, sig]),
        _with(url, sig=[]),
        f"{first['url']}?sig={sig}",
        _with(thumb, sig=sig),
    ]
    for target in refused:
        got = await daemon.call("GET", target)
        assert got.status == 403, target
        assert got.json()["code"] == "forbidden"
        assert (await daemon.call("GET", target, token=alice)).status == 403
    assert (await daemon.call("GET", url)).status == 200
    assert (await daemon.call("GET", thumb)).status == 200


async def test_links_only_for_readers(daemon: Thumbs) -> None:
    """A non-member of a private room gets no link to its files (they are left out, as
    unknown ids are), an unattached file is linked for its uploader only; ids are checked
    (at most 100 ints); a token is needed."""
    alice = await _member(daemon, room="secret", private=True)
    await daemon.room(alice, "general")
    bob = await daemon.user("bob")
    secret = await _upload(daemon, alice, encode(picture(300, 300), "PNG"), room="secret")
    public = await _upload(daemon, alice, b"public", room="general")
    unattached = await _upload(daemon, alice, b"not yet", room="general")
    await daemon.post(alice, "secret", "s", secret)
    await daemon.post(alice, "general", "p", public)
    asked = [secret["id"], public["id"], unattached["id"], 10**9, public["id"]]
    assert [link["id"] for link in (await daemon.links(bob, asked)).json()["links"]] == \
        [public["id"]]
    assert [link["id"] for link in (await daemon.links(alice, asked)).json()["links"]] == \
        [secret["id"], public["id"], unattached["id"]]
    assert (await daemon.links(bob, [])).json() == {"links": []}
    assert (await daemon.links(None, [public["id"]])).status == 401
    for ids in (list(range(1, 102)), ["1"], [True], [0], [1.5], "1", None):
        response = await daemon.links(alice, ids)
        assert response.status == 400 and response.json()["code"] == "bad_request", ids
    assert (await daemon.links(alice, list(range(1, 101)))).status == 200


async def test_a_deleted_file_is_404_even_with_a_valid_signature(daemon: Thumbs) -> None:
    """Once its message is deleted, a file's signed url and thumbnail url are 404."""
    alice = await _member(daemon)
    file = await _upload(daemon, alice, encode(picture(300, 300), "PNG"))
    msg_id = await daemon.post(alice, "general", "n", file)
    [link] = (await daemon.links(alice, [file["id"]])).json()["links"]
    assert (await daemon.call("GET", link["url"])).status == 200
    await daemon.delete(alice, "general", msg_id)
    for url in (link["url"], link["thumbnail_url"]):
        got = await daemon.call("GET", url)
        assert got.status == 404 and got.json()["code"] == "not_found"
    assert (await daemon.links(alice, [file["id"]])).json()["links"] == []


async def test_thumbnail_bytes_are_collected_after_deletion(daemon: Thumbs) -> None:
    """An image's bytes and its thumbnail's are both on disk while its message is kept, and
    both removed by the collection after it is deleted."""
    alice = await _member(daemon)
    data = encode(picture(900, 600), "PNG")
    file = await _upload(daemon, alice, data)
    thumbnail = (await daemon.call("GET", file["thumbnail_url"], token=alice)).body
    store = daemon.app.files
    shas = sorted(hashlib.sha256(b).hexdigest() for b in (data, thumbnail))
    assert daemon.stored() == shas
    msg_id = await daemon.post(alice, "general", "n", file)
    with trio.fail_after(TIMEOUT):
        assert await collect(daemon.storage, store) == 0
        assert daemon.stored() == shas
        await daemon.delete(alice, "general", msg_id)
        assert await collect(daemon.storage, store) == 2
    assert daemon.stored() == []
