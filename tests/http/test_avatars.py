"""Profile pictures over HTTP (chatd/http/avatars.py), over real sockets against the real
database and each file store (the files folder, a bucket on a local S3 server).

Rules as in ``test_uploads.py``: 127.0.0.1, port 0, ``trio.fail_after`` around all I/O; the
store and the temporary folder are looked at directly.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
from PIL import Image

from chatd.files import collect
from chatd.storage.base import Storage
from chatd.thumbnails import AVATAR_SIZE
from tests.http.test_uploads import MAX_BYTES, QUOTA_BYTES, Daemon, _start, multipart
from tests.images import encode, png_bomb, with_orientation

MAX_PIXELS = 4_000_000


async def _put(daemon: Daemon, token: str | None, data: bytes, **part: Any) -> Any:
    body, headers = multipart(data, **part)
    return await daemon.call("PUT", "/api/me/avatar", token=token, body=body, headers=headers)


def _decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _halves(width: int, height: int) -> bytes:
    """A PNG whose left half is red and right half blue, with a green band on each side
    past the centred square: a square that is not the centre's shows green."""
    image = Image.new("RGB", (width, height), (0, 255, 0))
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    image.paste((255, 0, 0), (left, top, left + side // 2, top + side))
    image.paste((0, 0, 255), (left + side // 2, top, left + side, top + side))
    return encode(image, "PNG")


@pytest.fixture
async def any_daemon(nursery: trio.Nursery, storage: Storage, tmp_path: Path,
                     store_settings: dict[str, str]) -> AsyncIterator[Daemon]:
    """The daemon with each store in turn: the files folder, a bucket."""
    yield await _start(nursery, storage, tmp_path, max_image_pixels=MAX_PIXELS,
                       **store_settings)
    nursery.cancel_scope.cancel()


@pytest.fixture
async def daemon(nursery: trio.Nursery, storage: Storage, tmp_path: Path
                 ) -> AsyncIterator[Daemon]:
    yield await _start(nursery, storage, tmp_path, max_image_pixels=MAX_PIXELS)
    nursery.cancel_scope.cancel()


async def test_set_replace_remove_and_collect(any_daemon: Daemon) -> None:
    """A picture is the centred square of the image, 256x256 WebP, served at its url to
    anyone without a token (cached publicly for good); the profile, /api/me and the user's
    profile say it. A new one is a new url, the old one 404 at once and its bytes collected;
    neither counts against the quota nor expires as an unattached upload. Removing it
    makes the avatar null and its bytes go too."""
    daemon = any_daemon
    alice = await daemon.user("alice")
    bob = await daemon.user("bob")
    await daemon.room(alice, "general")

    response = await _put(daemon, alice, _halves(600, 300), filename="me.png",
                          content_type="image/png")
    assert response.status == 200, response.body
    profile = response.json()
    url = profile["avatar"]["url"]
    assert profile == {"user": "alice", "display_name": None, "custom_status": None,
                       "avatar": {"url": url}}
    sha = url.removeprefix("/api/avatars/")
    got = await daemon.call("GET", url)  # no token: an <img> loads it as it is
    assert got.status == 200, got.body
    assert hashlib.sha256(got.body).hexdigest() == sha
    assert got.headers["content-type"] == "image/webp"
    assert got.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert got.headers["x-content-type-options"] == "nosniff"
    picture = _decoded(got.body).convert("RGB")
    assert picture.size == (AVATAR_SIZE, AVATAR_SIZE)
    left, right = picture.getpixel((8, 128)), picture.getpixel((247, 128))
    assert isinstance(left, tuple) and isinstance(right, tuple)
    assert left[0] > 200 and left[1] < 60, left  # red: the green band was cropped away
    assert right[2] > 200 and right[1] < 60, right
    me = (await daemon.call("GET", "/api/me", token=alice)).json()["user"]
    assert me["avatar"] == {"url": url}
    assert (await daemon.call("GET", "/api/users/ALICE", token=bob)).json() == profile
    assert daemon.stored() == [sha] and daemon.temporary() == []

    user_id = me["id"]
    assert await daemon.storage.upload_allowance(user_id, "general", QUOTA_BYTES) == QUOTA_BYTES
    assert await collect(daemon.storage, daemon.app.files, unattached_seconds=0) == 0
    assert (await daemon.call("GET", url)).status == 200

    replaced = await _put(daemon, alice, with_orientation(300, 200, 6), content_type=None)
    assert replaced.status == 200, replaced.body
    new_url = replaced.json()["avatar"]["url"]
    assert new_url != url
    assert (await daemon.call("GET", url)).status == 404
    assert (await daemon.call("GET", new_url)).status == 200
    new_sha = new_url.removeprefix("/api/avatars/")
    assert sorted(daemon.stored()) == sorted([sha, new_sha])
    assert await collect(daemon.storage, daemon.app.files) == 1
    assert daemon.stored() == [new_sha]

    removed = await daemon.call("DELETE", "/api/me/avatar", token=alice)
    assert (removed.status, removed.json()["avatar"]) == (200, None)
    assert (await daemon.call("GET", new_url)).status == 404
    assert (await daemon.call("GET", "/api/me", token=alice)).json()["user"]["avatar"] is None
    assert await collect(daemon.storage, daemon.app.files) == 1
    assert daemon.stored() == []
    again = await daemon.call("DELETE", "/api/me/avatar", token=alice)
    assert (again.status, again.json()["avatar"]) == (200, None)


async def test_bytes_shared_with_another_picture_are_kept(daemon: Daemon) -> None:
    """Two users with the same picture share its bytes: one removing theirs leaves the
    other's in place through a collection."""
    alice = await daemon.user("alice")
    bob = await daemon.user("bob")
    image = _halves(200, 200)
    first = (await _put(daemon, alice, image)).json()["avatar"]["url"]
    assert (await _put(daemon, bob, image)).json()["avatar"]["url"] == first
    assert (await daemon.call("DELETE", "/api/me/avatar", token=alice)).status == 200
    assert await collect(daemon.storage, daemon.app.files) == 0
    got = await daemon.call("GET", first)
    assert got.status == 200 and len(daemon.stored()) == 1


@pytest.mark.parametrize(("data", "status", "code"), [
    (b"plain words, not a picture", 400, "bad_request"),
    (encode(Image.new("RGB", (40, 40)), "BMP"), 400, "bad_request"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, 400, "bad_request"),
    (png_bomb(3000, 3000), 400, "bad_request"),  # 9 Mpx, past MAX_PIXELS
    (b"x" * (MAX_BYTES + 1), 413, "too_large"),
], ids=["text", "bmp", "corrupt", "bomb", "too-large"])
async def test_what_is_refused_leaves_nothing(daemon: Daemon, data: bytes, status: int,
                                              code: str) -> None:
    """Not a PNG, JPEG, GIF or WebP (whatever it claims to be), past max_image_pixels, or
    past max_bytes: refused with a stable code, nothing stored, the profile unchanged."""
    alice = await daemon.user("alice")
    response = await _put(daemon, alice, data, filename="me.png", content_type="image/png")
    assert (response.status, response.json()["code"]) == (status, code), response.body
    assert daemon.stored() == [] and daemon.temporary() == []
    assert (await daemon.call("GET", "/api/me", token=alice)).json()["user"]["avatar"] is None


async def test_who_may(daemon: Daemon) -> None:
    """Setting or removing needs a token; a url of bytes that are nobody's picture (a file's
    included) is 404, whoever asks; so is a malformed one."""
    alice = await daemon.user("alice")
    await daemon.room(alice, "general")
    image = _halves(100, 100)
    assert (await _put(daemon, None, image)).status == 401
    assert (await daemon.call("DELETE", "/api/me/avatar")).status == 401
    file = (await daemon.upload(alice, "general", image)).json()["file"]
    assert file["id"]
    sha = hashlib.sha256(image).hexdigest()
    assert (await daemon.call("GET", f"/api/avatars/{sha}", token=alice)).status == 404
    assert (await daemon.call("GET", "/api/avatars/not-a-hash")).status == 404
