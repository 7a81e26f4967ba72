"""Custom emoji over HTTP (chatd/http/emoji.py), over real sockets against the real database
and the files folder.

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

from chatd.errors import ChatError
from chatd.files import collect
from chatd.storage.base import Storage
from chatd.thumbnails import EMOJI_SIZE
from tests.http.test_uploads import BOUNDARY, Daemon, start_daemon
from tests.images import animation, encode, png_bomb

MAX_PIXELS = 4_000_000
EMOJI_BYTES = 20_000


def _body(name: str | None, data: bytes | None, *, name_first: bool = True,
          extra: str | None = None) -> tuple[bytes, list[tuple[str, str]]]:
    """A multipart body with a part ``name`` and a part ``file`` (either left out when
    None), and its Content-Type header."""
    parts: list[bytes] = []
    if name is not None:
        parts.append(f'Content-Disposition: form-data; name="name"\r\n\r\n{name}'.encode())
    if data is not None:
        file = (b'Content-Disposition: form-data; name="file"; filename="e.png"\r\n'
                b"Content-Type: image/png\r\n\r\n" + data)
        parts.insert(len(parts) if name_first else 0, file)
    if extra is not None:
        parts.append(f'Content-Disposition: form-data; name="{extra}"\r\n\r\nx'.encode())
    body = b"".join(f"--{BOUNDARY}\r\n".encode() + part + b"\r\n" for part in parts)
    body += f"--{BOUNDARY}--\r\n".encode()
    return body, [("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")]


async def _add(daemon: Daemon, token: str | None, name: str | None, data: bytes | None,
               **options: Any) -> Any:
    body, headers = _body(name, data, **options)
    return await daemon.call("POST", "/api/emoji", token=token, body=body, headers=headers)


def _decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _square(side: int, colour: tuple[int, int, int] = (255, 0, 0)) -> bytes:
    return encode(Image.new("RGB", (side, side), colour), "PNG")


async def _start(nursery: trio.Nursery, storage: Storage, tmp_path: Path,
                 **emoji: Any) -> Daemon:
    return await start_daemon(nursery, storage, tmp_path, files={"max_image_pixels": MAX_PIXELS},
                              emoji={"max_bytes": EMOJI_BYTES, **emoji})


@pytest.fixture
async def daemon(nursery: trio.Nursery, storage: Storage, tmp_path: Path
                 ) -> AsyncIterator[Daemon]:
    yield await _start(nursery, storage, tmp_path)
    nursery.cancel_scope.cancel()


@pytest.fixture
async def admins_only(nursery: trio.Nursery, storage: Storage, tmp_path: Path
                      ) -> AsyncIterator[Daemon]:
    yield await _start(nursery, storage, tmp_path, who_can_add="admins")
    nursery.cancel_scope.cancel()


@pytest.mark.parametrize(("fmt", "side", "expected"), [
    ("PNG", 300, EMOJI_SIZE), ("JPEG", 200, EMOJI_SIZE), ("GIF", 64, 64), ("WEBP", 500, EMOJI_SIZE),
])
async def test_formats_fit_the_square(daemon: Daemon, fmt: str, side: int,
                                      expected: int) -> None:
    """PNG, JPEG, GIF and WebP (by their bytes) become a WebP that fits 128x128 (a smaller
    one is not enlarged), served at its url to anyone without a token, cached for good;
    the list says it; its bytes are not counted as an upload and never expire."""
    alice = await daemon.user("alice")
    data = encode(Image.new("RGB", (side, side), (0, 0, 255)), fmt)
    response = await _add(daemon, alice, "party_parrot", data)
    assert response.status == 201, response.body
    emoji = response.json()["emoji"]
    url = emoji["url"]
    assert url.startswith("/api/emoji/images/")
    assert (emoji["name"], emoji["by"], isinstance(emoji["ts"], int)) == (
        "party_parrot", "alice", True)
    got = await daemon.call("GET", url)  # no token, as an <img> loads it
    assert got.status == 200, got.body
    assert hashlib.sha256(got.body).hexdigest() == url.removeprefix("/api/emoji/images/")
    assert got.headers["content-type"] == "image/webp"
    assert got.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["etag"] == f'"{url.removeprefix("/api/emoji/images/")}"'
    picture = _decoded(got.body)
    assert (picture.format, picture.size) == ("WEBP", (expected, expected))
    listed = await daemon.call("GET", "/api/emoji", token=alice)
    assert listed.json() == {"emoji": [emoji]}
    assert await collect(daemon.storage, daemon.app.files, unattached_seconds=0) == 0
    assert (await daemon.call("GET", url)).status == 200
    assert daemon.temporary() == []
    await daemon.room(alice, "general")
    alice_id = (await daemon.call("GET", "/api/me", token=alice)).json()["user"]["id"]
    quota = daemon.app.config.files.quota_bytes
    assert await daemon.storage.upload_allowance(alice_id, "general", quota) == quota


async def test_an_animation_stays_animated(daemon: Daemon) -> None:
    """An animated GIF becomes an animated WebP of its frames."""
    alice = await daemon.user("alice")
    data = animation("GIF", 200, 100, [(255, 0, 0), (0, 255, 0), (0, 0, 255)])
    response = await _add(daemon, alice, "blink", data)
    assert response.status == 201, response.body
    got = await daemon.call("GET", response.json()["emoji"]["url"])
    picture = _decoded(got.body)
    assert (picture.format, picture.size, getattr(picture, "n_frames", 1)) == (
        "WEBP", (EMOJI_SIZE, EMOJI_SIZE // 2), 3)


@pytest.mark.parametrize(("name", "data", "status", "code"), [
    ("ok", b"plain words, not a picture", 400, "bad_request"),
    ("ok", encode(Image.new("RGB", (40, 40)), "BMP"), 400, "bad_request"),
    ("ok", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, 400, "bad_request"),
    ("ok", png_bomb(3000, 3000), 400, "bad_request"),  # 9 Mpx, past max_image_pixels
    ("ok", b"x" * (EMOJI_BYTES + 1), 413, "too_large"),
    ("Parrot", None, 400, "bad_request"),
    ("two words", None, 400, "bad_request"),
    ("x" * 33, None, 400, "bad_request"),
    ("", None, 400, "bad_request"),
    (None, None, 400, "bad_request"),
], ids=["text", "bmp", "corrupt", "bomb", "too-large", "upper-case", "space", "long",
        "empty", "no-name"])
async def test_what_is_refused_leaves_nothing(daemon: Daemon, name: str | None,
                                              data: bytes | None, status: int,
                                              code: str) -> None:
    """A file that is not a PNG, JPEG, GIF or WebP, past max_image_pixels or past [emoji]
    max_bytes, or a name not of [a-z0-9_+-]{1,32}: refused with a stable code, nothing
    stored, nothing listed."""
    alice = await daemon.user("alice")
    response = await _add(daemon, alice, name, data if data is not None else _square(32))
    assert (response.status, response.json()["code"]) == (status, code), response.body
    assert daemon.stored() == [] and daemon.temporary() == []
    assert (await daemon.call("GET", "/api/emoji", token=alice)).json() == {"emoji": []}


async def test_malformed_bodies(daemon: Daemon) -> None:
    """No file part, an unknown part, a name given as :name:, the name after the file."""
    alice = await daemon.user("alice")
    missing = await _add(daemon, alice, "ok", None)
    assert (missing.status, missing.json()["code"]) == (400, "bad_request")
    other = await _add(daemon, alice, "ok", _square(32), extra="colour")
    assert (other.status, other.json()["code"]) == (400, "bad_request")
    colons = await _add(daemon, alice, ":a+b-c_1:", _square(32), name_first=False)
    assert colons.status == 201, colons.body
    assert colons.json()["emoji"]["name"] == "a+b-c_1"


async def test_a_name_in_use_is_a_conflict(daemon: Daemon) -> None:
    """A second emoji of a name in use is 409 conflict, whoever adds it; the first stays."""
    alice = await daemon.user("alice")
    bob = await daemon.user("bob")
    first = (await _add(daemon, alice, "logo", _square(40))).json()["emoji"]
    again = await _add(daemon, bob, "logo", _square(40, (0, 255, 0)))
    assert (again.status, again.json()["code"]) == (409, "conflict")
    assert (await daemon.call("GET", "/api/emoji", token=bob)).json() == {"emoji": [first]}
    # An add that raced past the route's check: storage refuses it too, and stores nothing.
    bob_id = (await daemon.call("GET", "/api/me", token=bob)).json()["user"]["id"]
    with pytest.raises(ChatError) as refused:
        await daemon.storage.add_custom_emoji("logo", bob_id, "0" * 64, 10)
    assert refused.value.code == "conflict"
    assert (await daemon.call("GET", "/api/emoji", token=bob)).json() == {"emoji": [first]}
    assert await collect(daemon.storage, daemon.app.files) == 0


async def test_who_can_add_admins(admins_only: Daemon) -> None:
    """With [emoji] who_can_add = "admins", a user who is not one gets 403 forbidden; an
    administrator adds. Without a token, 401."""
    daemon = admins_only
    alice = await daemon.user("alice")
    root = await daemon.user("root")
    await daemon.storage.set_admin("root", True)
    refused = await _add(daemon, alice, "logo", _square(40))
    assert (refused.status, refused.json()["code"]) == (403, "forbidden")
    assert (await _add(daemon, None, "logo", _square(40))).status == 401
    assert (await _add(daemon, root, "logo", _square(40))).status == 201
    assert daemon.stored() != [] and daemon.temporary() == []


async def test_delete_rights_and_collection(daemon: Daemon) -> None:
    """Its creator or an administrator removes an emoji (204), nobody else (403); an unknown
    one is 404. The url is 404 at once, and its bytes are collected."""
    alice = await daemon.user("alice")
    bob = await daemon.user("bob")
    root = await daemon.user("root")
    await daemon.storage.set_admin("root", True)
    mine = (await _add(daemon, alice, "mine", _square(40))).json()["emoji"]
    other = (await _add(daemon, alice, "other", _square(50, (0, 255, 0)))).json()["emoji"]
    refused = await daemon.call("DELETE", "/api/emoji/mine", token=bob)
    assert (refused.status, refused.json()["code"]) == (403, "forbidden")
    assert (await daemon.call("DELETE", "/api/emoji/mine")).status == 401
    unknown = await daemon.call("DELETE", "/api/emoji/nothing", token=alice)
    assert (unknown.status, unknown.json()["code"]) == (404, "not_found")
    bad = await daemon.call("DELETE", "/api/emoji/NO", token=alice)
    assert (bad.status, bad.json()["code"]) == (400, "bad_request")

    removed = await daemon.call("DELETE", "/api/emoji/mine", token=alice)
    assert (removed.status, removed.body) == (204, b"")
    assert (await daemon.call("GET", mine["url"])).status == 404
    by_admin = await daemon.call("DELETE", "/api/emoji/other", token=root)
    assert by_admin.status == 204
    assert (await daemon.call("GET", "/api/emoji", token=bob)).json() == {"emoji": []}
    assert await collect(daemon.storage, daemon.app.files) == 2
    assert daemon.stored() == []
    assert (await daemon.call("GET", other["url"])).status == 404


async def test_the_picture_route_serves_only_emoji(daemon: Daemon) -> None:
    """The emoji route serves no file's and no profile picture's bytes (nor the avatar route
    an emoji's), whoever asks; a malformed hash is 404."""
    alice = await daemon.user("alice")
    await daemon.room(alice, "general")
    image = _square(64)
    assert (await daemon.upload(alice, "general", image)).status == 201
    sha = hashlib.sha256(image).hexdigest()
    assert (await daemon.call("GET", f"/api/emoji/images/{sha}", token=alice)).status == 404
    assert (await daemon.call("GET", "/api/emoji/images/not-a-hash")).status == 404
    url = (await _add(daemon, alice, "red", image)).json()["emoji"]["url"]
    emoji_sha = url.removeprefix("/api/emoji/images/")
    assert (await daemon.call("GET", f"/api/avatars/{emoji_sha}")).status == 404


async def test_adds_are_rate_limited(daemon: Daemon) -> None:
    """Adds take tokens of the uploads' bucket: past it, 429 rate_limited before the body
    is read."""
    alice = await daemon.user("alice")
    burst = daemon.app.config.limits.uploads_per_minute
    statuses = [(await _add(daemon, alice, f"e{index}", b"not a picture")).status
                for index in range(burst + 1)]
    assert statuses[:burst] == [400] * burst
    assert statuses[burst] == 429


async def test_concurrent_adds_of_one_name_keep_the_winners_picture(daemon: Daemon) -> None:
    """Many adds of one name at once, each with its own picture, most of them past the
    route's early check before any commits: one 201, the others 409 conflict, and the store
    holds exactly the winner's picture (each loser's bytes, placed before its insert found
    the name taken, are removed again)."""
    users = [await daemon.user(f"user{index}") for index in range(6)]
    answers: list[Any] = [None] * len(users)

    async def add(index: int) -> None:
        answers[index] = await _add(daemon, users[index], "race",
                                    _square(60 + index, (40 * index, 255 - 40 * index, 0)))

    async with trio.open_nursery() as adds:
        for index in range(len(users)):
            adds.start_soon(add, index)
    statuses = sorted((answer.status, answer.json().get("code")) for answer in answers)
    assert statuses == [(201, None)] + [(409, "conflict")] * (len(users) - 1), statuses
    winner = next(answer.json()["emoji"] for answer in answers if answer.status == 201)
    assert daemon.stored() == [winner["url"].removeprefix("/api/emoji/images/")]
    assert daemon.temporary() == []
    assert (await daemon.call("GET", winner["url"])).status == 200
