"""The S3-compatible store (chatd/s3.py), against a real local S3 server (moto's server mode,
over HTTP on 127.0.0.1): what only a bucket has. The rules both stores share (round trips,
ranges, identical uploads, limits, collection) run against it in tests/http/test_uploads.py
and tests/test_files.py.

Rules as in ``tests/http/test_uploads.py``: 127.0.0.1, port 0, ``trio.fail_after`` around
all I/O.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import trio

from chatd.files import collect
from chatd.s3 import S3Store
from chatd.storage import NewChange, NewMessage, Storage
from tests.filestores import read_all, s3_client, stored
from tests.http.test_uploads import TIMEOUT, Daemon, _start
from tests.images import encode, picture
from tests.storage.test_postgres import appended

MiB = 1024 * 1024


async def _login(daemon: Daemon, name: str) -> str:
    response = await daemon.call("POST", "/api/login",
                                 json_body={"username": name, "password": "correct horse"})
    assert response.status == 200, response.body
    token: str = response.json()["token"]
    return token


async def _user_id(storage: Storage, name: str) -> int:
    credentials = await storage.get_credentials(name)
    assert credentials is not None
    return credentials.user.id


async def _attach_and_delete(storage: Storage, user_id: int, file_id: int) -> None:
    """A message carrying the file, then deleted: the file's bytes are now collectable."""
    [result] = await storage.append_messages([NewMessage(
        user_id=user_id, room="general", text="", nonce=f"n{file_id}", files=(file_id,))])
    msg_id = appended(result).message.msg_id
    [result] = await storage.append_messages([NewChange(
        user_id=user_id, room="general", msg_id=msg_id, kind="deleted")])
    appended(result)


async def test_a_missing_object_is_404(nursery: trio.Nursery, storage: Storage, tmp_path: Path,
                                       s3_settings: dict[str, str]) -> None:
    """A file whose object is gone from the bucket (removed by hand, lost) is 404 not_found
    to GET and HEAD, not a server error; the next request on the connection is served."""
    daemon = await _start(nursery, storage, tmp_path, **s3_settings)
    alice = await daemon.user("alice")
    await daemon.room(alice, "general")
    file = (await daemon.upload(alice, "general", b"soon gone")).json()["file"]
    digest = hashlib.sha256(b"soon gone").hexdigest()
    s3_client(s3_settings["s3_endpoint"]).delete_object(
        Bucket=s3_settings["s3_bucket"], Key=s3_settings["s3_prefix"] + digest)
    got = await daemon.call("GET", file["url"], token=alice)
    assert got.status == 404 and got.json()["code"] == "not_found"
    assert (await daemon.call("HEAD", file["url"], token=alice)).status == 404
    assert (await daemon.upload(alice, "general", b"soon gone")).status == 201  # back
    assert (await daemon.call("GET", file["url"], token=alice)).body == b"soon gone"


async def test_two_nodes_share_a_bucket(nursery: trio.Nursery, storage: Storage,
                                        tmp_path: Path, s3_settings: dict[str, str]) -> None:
    """Two nodes on one database and one bucket, each with its own data_dir: a file
    uploaded to one is downloaded (and ranged) from the other, the same bytes uploaded to
    the other are stored once, and a collection on one removes them for both."""
    one = await _start(nursery, storage, tmp_path / "one", **s3_settings)
    two = await _start(nursery, storage, tmp_path / "two", **s3_settings)
    alice = await one.user("alice")
    await one.room(alice, "general")
    alice_on_two = await _login(two, "alice")
    data = os.urandom(200 * 1024)
    digest = hashlib.sha256(data).hexdigest()
    first = (await one.upload(alice, "general", data)).json()["file"]
    got = await two.call("GET", first["url"], token=alice_on_two)
    assert got.status == 200 and got.body == data
    ranged = await two.call("GET", first["url"], token=alice_on_two,
                            headers=[("Range", "bytes=1000-1999")])
    assert ranged.status == 206 and ranged.body == data[1000:2000]
    second = (await two.upload(alice_on_two, "general", data)).json()["file"]
    assert one.stored() == two.stored() == [digest]
    assert one.temporary() == two.temporary() == []
    user = await _user_id(storage, "alice")
    for file in (first, second):
        await _attach_and_delete(storage, user, file["id"])
    with trio.fail_after(TIMEOUT):
        assert await collect(storage, one.app.files) == 1
    assert two.stored() == []
    assert (await two.call("GET", second["url"], token=alice_on_two)).status == 404


async def test_a_bucket_that_does_not_answer_is_503(nursery: trio.Nursery, storage: Storage,
                                                    tmp_path: Path,
                                                    s3_settings: dict[str, str]) -> None:
    """A node whose bucket does not answer answers uploads and downloads 503 unavailable
    (never 500), keeps no row and no temporary file, and counts the upload as failed."""
    good = await _start(nursery, storage, tmp_path / "good", **s3_settings)
    alice = await good.user("alice")
    await good.room(alice, "general")
    file = (await good.upload(alice, "general", b"stored while it answered")).json()["file"]
    with trio.socket.socket() as closed:  # a port nothing listens on
        await closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    down = await _start(nursery, storage, tmp_path / "down",
                        **{**s3_settings, "s3_endpoint": f"http://127.0.0.1:{port}"})
    alice_on_down = await _login(down, "alice")
    refused = await down.upload(alice_on_down, "general", b"nowhere to go")
    assert refused.status == 503 and refused.json()["code"] == "unavailable"
    assert down.temporary() == []
    assert down.app.metrics.registry.get_sample_value(
        "chatd_file_uploads_total", {"result": "failed"}) == 1
    got = await down.call("GET", file["url"], token=alice_on_down)
    assert got.status == 503 and got.json()["code"] == "unavailable"
    user = await _user_id(storage, "alice")
    assert await storage.upload_allowance(user, "general", 10**6) == 10**6 - 24


async def test_large_files_go_in_parts(tmp_path: Path, s3_settings: dict[str, str]) -> None:
    """A file over the multipart size is uploaded in parts and read back byte for byte, a
    span across a part boundary included; placing identical bytes again sends nothing."""
    store = S3Store(tmp_path / "tmp", bucket=s3_settings["s3_bucket"], prefix="big/",
                    endpoint=s3_settings["s3_endpoint"], region=s3_settings["s3_region"],
                    access_key=s3_settings["s3_access_key"],
                    secret_key=s3_settings["s3_secret_key"], multipart_bytes=5 * MiB)
    data = os.urandom(11 * MiB + 7)
    upload = await trio.to_thread.run_sync(store.open_upload)
    for start in range(0, len(data), MiB):
        await trio.to_thread.run_sync(upload.write, data[start:start + MiB])
    with trio.fail_after(60):
        sha256 = await store.run(upload.place)
        head = await store.run(lambda: store.client.head_object(Bucket=store.bucket,
                                                                Key=store.key(sha256)))
        assert head["ContentLength"] == len(data)
        assert head["ETag"].endswith('-3"')  # a multipart upload of three parts
        await store.run(upload.finish)
        assert await read_all(store, sha256) == data
        async with await store.source(sha256).open() as reader:
            await reader.seek(5 * MiB - 10, 5 * MiB + 10)
            assert await reader.read(1000) == data[5 * MiB - 10:5 * MiB + 10]
            assert await reader.read(1000) == b""
    assert await store.run(stored, store) == [sha256]


async def test_boto3_never_runs_on_the_event_loop(nursery: trio.Nursery, storage: Storage,
                                                  tmp_path: Path,
                                                  s3_settings: dict[str, str]) -> None:
    """Every request the daemon's S3 client makes (an upload, a download, a collection)
    is made from a worker thread, never from the thread running the event loop."""
    daemon = await _start(nursery, storage, tmp_path, **s3_settings)
    store = daemon.app.files
    assert isinstance(store, S3Store)
    client = await store.run(lambda: store.client)
    threads: list[threading.Thread] = []

    def record(**kwargs: Any) -> None:
        threads.append(threading.current_thread())

    client.meta.events.register("before-call.s3", record)
    alice = await daemon.user("alice")
    await daemon.room(alice, "general")
    file = (await daemon.upload(alice, "general", b"in a thread")).json()["file"]
    assert (await daemon.call("GET", file["url"], token=alice)).body == b"in a thread"
    user = await _user_id(storage, "alice")
    await _attach_and_delete(storage, user, file["id"])
    with trio.fail_after(TIMEOUT):
        assert await collect(storage, store) == 1
    assert len(threads) >= 6  # HEAD, PUT, HEAD (finish), HEAD, GET, HEAD, copy, DELETE...
    assert threading.current_thread() not in threads


def _check(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATD_", "AWS_"))}
    env["CHATD_SERVER_DATA_DIR"] = str(tmp_path / "data")
    env.update({f"CHATD_FILES_{key.upper()}": value for key, value in settings.items()})
    return subprocess.run([sys.executable, "-m", "chatd", "serve", "--check"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)


def test_serve_check_reaches_the_bucket(tmp_path: Path, s3_settings: dict[str, str]) -> None:
    """`serve --check` with the S3 store says which bucket it uses, and names the setting in
    one line when the bucket does not exist; the secret key is never shown."""
    ok = _check(tmp_path, **s3_settings)
    assert ok.returncode == 0, ok.stderr
    assert (f"files                 the S3 bucket {s3_settings['s3_bucket']} (keys under "
            f"'chatd/') at {s3_settings['s3_endpoint']}") in ok.stdout
    missing = _check(tmp_path, **{**s3_settings, "s3_bucket": "no-such-bucket"})
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    [line] = missing.stderr.splitlines()
    assert line.startswith("chatd: CHATD_FILES_S3_BUCKET in the environment: cannot reach "
                           "the bucket in the S3 bucket no-such-bucket")
    assert s3_settings["s3_secret_key"] not in ok.stdout + ok.stderr + missing.stderr


async def test_thumbnails_live_in_the_bucket(nursery: trio.Nursery, storage: Storage,
                                             tmp_path: Path, s3_settings: dict[str, str]
                                             ) -> None:
    """An image uploaded to a node on the bucket gets its thumbnail, stored as an object of
    the bucket beside the image's and served from it, by token and by signed link; both go
    with the file's deletion."""
    daemon = await _start(nursery, storage, tmp_path, **s3_settings)
    alice = await daemon.user("alice")
    await daemon.room(alice, "general")
    data = encode(picture(900, 600), "PNG")
    file = (await daemon.upload(alice, "general", data)).json()["file"]
    assert (file["width"], file["height"]) == (900, 600)
    got = await daemon.call("GET", file["thumbnail_url"], token=alice)
    assert got.status == 200 and got.headers["content-type"] == "image/webp"
    assert daemon.stored() == sorted(hashlib.sha256(b).hexdigest() for b in (data, got.body))
    [link] = (await daemon.call("POST", "/api/files/links", token=alice,
                                json_body={"ids": [file["id"]]})).json()["links"]
    assert (await daemon.call("GET", link["thumbnail_url"])).body == got.body
    await _attach_and_delete(storage, await _user_id(storage, "alice"), file["id"])
    with trio.fail_after(TIMEOUT):
        assert await collect(storage, daemon.app.files) == 2
    assert daemon.stored() == []
