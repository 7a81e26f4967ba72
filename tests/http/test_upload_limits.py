"""The limits on uploads over HTTP (chatd/http/uploads.py): uploads per user and minute, and
uploads left unattached expiring. Over real sockets against the real database; the rules of
``test_uploads.py``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import trio

from chatd.files import LocalStore, collect
from chatd.storage import NewMessage
from chatd.storage.base import Storage
from tests.http.test_uploads import TIMEOUT, start_daemon
from tests.storage.test_postgres import appended

KiB = 1024


async def test_uploads_per_minute(nursery: trio.Nursery, storage: Storage,
                                  tmp_path: Path) -> None:
    """Past limits.uploads_per_minute a user's upload is 429 rate_limited with Retry-After,
    whichever connection it comes by (each request here opens its own), before any byte is
    stored; another user is not limited by it."""
    daemon = await start_daemon(nursery, storage, tmp_path, limits={"uploads_per_minute": 2})
    alice = await daemon.user("alice")
    bob = await daemon.user("bob")
    await daemon.room(alice, "general")
    await daemon.room(bob, "bobs")
    for n in range(2):
        assert (await daemon.upload(alice, "general", b"x%d" % n)).status == 201
    refused = await daemon.upload(alice, "general", b"one too many")
    assert refused.status == 429, refused.body
    assert refused.json()["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["retry_after"] > 0
    assert daemon.temporary() == [] and len(daemon.stored()) == 2
    assert (await daemon.upload(bob, "bobs", b"bob's")).status == 201
    metrics = (await daemon.call("GET", "/metrics")).body.decode()
    assert 'chatd_rate_limited_total{limit="upload"} 1.0' in metrics


async def test_unattached_uploads_expire(nursery: trio.Nursery, storage: Storage,
                                         tmp_path: Path) -> None:
    """An upload no message attached within files.unattached_seconds stops counting against
    the quota (the next upload fits), is no longer served, and its bytes are removed by
    collect; an attached upload of the same age stays."""
    quota = 100 * KiB
    daemon = await start_daemon(nursery, storage, tmp_path,
                          files={"quota_bytes": quota, "unattached_seconds": 1.0},
                          limits={"uploads_per_minute": 10_000})
    alice = await daemon.user("alice")
    await daemon.room(alice, "general")
    kept_data, left_data = os.urandom(30 * KiB), os.urandom(60 * KiB)
    kept = (await daemon.upload(alice, "general", kept_data)).json()["file"]
    left = (await daemon.upload(alice, "general", left_data)).json()["file"]
    credentials = await storage.get_credentials("alice")
    assert credentials is not None
    [sent] = await storage.append_messages([NewMessage(
        user_id=credentials.user.id, room="general", text="", nonce="n1",
        files=(kept["id"],))])
    appended(sent)
    third = os.urandom(50 * KiB)  # fits only once the unattached upload stops counting
    with trio.fail_after(TIMEOUT):
        while (response := await daemon.upload(alice, "general", third)).status == 413:  # noqa: ASYNC110 (the clock: the upload ages)
            await trio.sleep(0.05)
    assert response.status == 201, response.body
    assert (await daemon.call("GET", left["url"], token=alice)).status == 404
    assert (await daemon.call("GET", kept["url"], token=alice)).body == kept_data
    store = daemon.app.files
    assert isinstance(store, LocalStore)
    left_path = store.path(hashlib.sha256(left_data).hexdigest())
    assert left_path.exists()  # until collect runs
    with trio.fail_after(TIMEOUT):
        assert await collect(storage, store, unattached_seconds=3600) == 1
    assert not left_path.exists()
    assert store.path(hashlib.sha256(kept_data).hexdigest()).read_bytes() == kept_data
    third_path = store.path(hashlib.sha256(third).hexdigest())
    assert third_path.exists()
    with trio.fail_after(TIMEOUT):  # collect's own sweep: every unattached upload is 0 s old
        assert await collect(storage, store, unattached_seconds=0) == 1
    assert not third_path.exists()
    assert store.path(hashlib.sha256(kept_data).hexdigest()).read_bytes() == kept_data
