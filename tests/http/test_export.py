"""Download my data over HTTP (chatd/http/exports.py): start, state, download, and the
refusals, over real sockets against the real database and each file store (a folder, an S3
bucket).

Rules as in ``test_http.py``: 127.0.0.1, port 0, ``trio.fail_after`` around all I/O. An
export is kept waiting by holding the exporter's limiter (its build waits for it, its row
says ``running``), never by a sleep; a test waits for the state it asserts by asking the
route again.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio

from chatd.export import Exporter
from chatd.storage import open_storage
from chatd.storage.base import Storage
from tests.helpers import fetchval_apart, make_config
from tests.http.test_http import Response
from tests.http.test_uploads import TIMEOUT, Daemon, start_daemon


@pytest.fixture
async def exporting(nursery: trio.Nursery, storage: Storage, tmp_path: Path,
                    store_settings: dict[str, str]) -> AsyncIterator[Daemon]:
    """The daemon with each store in turn, 3 exports an hour allowed."""
    yield await start_daemon(nursery, storage, tmp_path, files=store_settings,
                             limits={"exports_per_hour": 3})
    nursery.cancel_scope.cancel()


def exporter(daemon: Daemon) -> Exporter:
    assert daemon.app.exporter is not None
    return daemon.app.exporter


async def state(daemon: Daemon, token: str) -> dict[str, Any]:
    response = await daemon.call("GET", "/api/me/export", token=token)
    assert response.status == 200, response.body
    found: dict[str, Any] = response.json()["export"]
    return found


async def until_done(daemon: Daemon, token: str) -> dict[str, Any]:
    """The export once it is no longer running (asked again until then)."""
    with trio.fail_after(TIMEOUT):
        while (found := await state(daemon, token))["state"] == "running":  # noqa: ASYNC110 (another node may build it: the database is what tells)
            await trio.sleep(0.02)
    return found


def members(response: Response) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(response.body)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


async def test_an_export_from_start_to_download(exporting: Daemon) -> None:
    """404 before any; 202 running, 409 while it runs, ready with what it holds; the zip by
    Bearer and by its signed url (a tampered one 403), its DM's other side and a file's bytes
    in it; the audit log has it; a third within the hour is 429 with Retry-After."""
    daemon = exporting
    with trio.fail_after(TIMEOUT):
        alice = await daemon.user("alice")
        bob = await daemon.user("bob")
        for target in ("/api/me/export", "/api/me/export/download"):
            nothing = await daemon.call("GET", target, token=alice)
            assert nothing.status == 404 and nothing.json()["code"] == "not_found"
        await daemon.room(alice, "general")
        data = bytes(range(256)) * 300
        upload = await daemon.upload(alice, "general", data, filename="plan.txt")
        file_id = upload.json()["file"]["id"]
        posted = await daemon.call("POST", "/api/rooms/general/messages", token=alice,
                                   json_body={"text": "the plan", "nonce": "n1",
                                              "files": [file_id]})
        assert posted.status == 200, posted.body
        dm = await daemon.call("POST", "/api/dm", token=bob,
                               json_body={"to": "alice", "text": "hi alice", "nonce": "n2"})
        assert dm.status == 200, dm.body

        await exporter(daemon).limiter.acquire()
        started = await daemon.call("POST", "/api/me/export", token=alice)
        assert started.status == 202, started.body
        assert started.json()["export"]["state"] == "running"
        again = await daemon.call("POST", "/api/me/export", token=alice)
        assert again.status == 409 and again.json()["code"] == "conflict"
        assert (await state(daemon, alice))["state"] == "running"
        exporter(daemon).limiter.release()
        ready = await until_done(daemon, alice)
        assert ready["state"] == "ready", ready
        assert ready["messages"] == 2 and ready["files"] == 1 and ready["size"] > len(data)
        assert ready["expires_at"] > ready["finished_at"] >= ready["started_at"]

        got = await daemon.call("GET", "/api/me/export/download", token=alice)
        assert got.status == 200
        assert got.headers["content-type"] == "application/zip"
        assert got.headers["content-disposition"].startswith(
            'attachment; filename="chatd-alice-')
        assert len(got.body) == ready["size"]
        inside = members(got)
        assert inside[f"files/{file_id}-plan.txt"] == data
        messages = json.loads(inside["messages.json"])
        assert {(m["from"], m["text"]) for m in messages} == {("alice", "the plan"),
                                                                ("bob", "hi alice")}

        signed = await daemon.call("GET", ready["url"])  # no token: the signature
        assert signed.status == 200 and signed.body == got.body
        tampered = await daemon.call("GET", ready["url"][:-2] + "AA")
        assert tampered.status == 403 and tampered.json()["code"] == "forbidden"
        other = ready["url"].replace("user=", "user=9")
        assert (await daemon.call("GET", other)).status == 403
        assert (await daemon.call("GET", "/api/me/export/download")).status == 401
        # any part of a signed link: judged by the link alone, the token notwithstanding
        half = await daemon.call("GET", "/api/me/export/download?user=", token=alice)
        assert half.status == 403 and half.json()["code"] == "forbidden"

        entries = await daemon.storage.audit_log(None, limit=20)
        assert [e.actor for e in entries if e.action == "export"] == ["alice"]

        second = await daemon.call("POST", "/api/me/export", token=alice)
        assert second.status == 202
        assert (await until_done(daemon, alice))["state"] == "ready"
        await daemon.call("POST", "/api/me/export", token=alice)
        await until_done(daemon, alice)
        limited = await daemon.call("POST", "/api/me/export", token=alice)
        assert limited.status == 429 and limited.json()["code"] == "rate_limited"
        assert 1 <= int(limited.headers["retry-after"]) <= 3600
        # bob's exports are his own
        assert (await daemon.call("GET", "/api/me/export", token=bob)).status == 404


async def test_a_new_export_leaves_the_ready_one_to_download(exporting: Daemon) -> None:
    """While a second export runs, the first, ready, is still the user's to download (by
    Bearer and by its signed url): starting another does not take it away."""
    daemon = exporting
    with trio.fail_after(TIMEOUT):
        alice = await daemon.user("alice")
        await daemon.room(alice, "general")
        first = await daemon.call("POST", "/api/me/export", token=alice)
        assert first.status == 202, first.body
        ready = await until_done(daemon, alice)
        assert ready["state"] == "ready", ready
        before = await daemon.call("GET", "/api/me/export/download", token=alice)
        assert before.status == 200

        await exporter(daemon).limiter.acquire()  # the second waits to be built
        second = await daemon.call("POST", "/api/me/export", token=alice)
        assert second.status == 202, second.body
        assert (await state(daemon, alice))["state"] == "running"
        got = await daemon.call("GET", "/api/me/export/download", token=alice)
        assert got.status == 200, got.body
        assert got.body == before.body
        signed = await daemon.call("GET", ready["url"])
        assert signed.status == 200 and signed.body == before.body
        exporter(daemon).limiter.release()
        assert (await until_done(daemon, alice))["state"] == "ready"


async def test_an_expired_export_is_removed(daemon: Daemon, database_dsn: str) -> None:
    """Past its expiry a sweep removes the archive from the store and its row says expired:
    the download is 404 again, by token and by the signed url it had."""
    with trio.fail_after(TIMEOUT):
        alice = await daemon.user("alice")
        assert (await daemon.call("POST", "/api/me/export", token=alice)).status == 202
        ready = await until_done(daemon, alice)
        sha256 = await fetchval_apart(database_dsn, "SELECT sha256 FROM exports")
        assert sha256 in daemon.stored()
        await fetchval_apart(database_dsn, "UPDATE exports SET expires_at = now()")
        assert await exporter(daemon).sweep() == 1
        assert (await state(daemon, alice))["state"] == "expired"
        assert (await daemon.call("GET", "/api/me/export/download", token=alice)).status == 404
        assert (await daemon.call("GET", ready["url"])).status == 404
        assert sha256 not in daemon.stored()


async def test_a_dead_nodes_export_reads_failed(exporting: Daemon, database_dsn: str) -> None:
    """A running export whose lease ran out (its node died) reads failed, and does not keep
    its user from starting another."""
    daemon = exporting
    with trio.fail_after(TIMEOUT):
        alice = await daemon.user("alice")
        await exporter(daemon).limiter.acquire()
        assert (await daemon.call("POST", "/api/me/export", token=alice)).status == 202
        await fetchval_apart(database_dsn,
                             "UPDATE exports SET lease_until = now() - interval '1 second'")
        lapsed = await state(daemon, alice)
        assert lapsed["state"] == "failed" and "interrupted" in lapsed["error"]
        assert (await daemon.call("POST", "/api/me/export", token=alice)).status == 202
        exporter(daemon).limiter.release()
        assert (await until_done(daemon, alice))["state"] == "ready"



def break_tmp(folder: Path) -> None:
    """Put a file where the store's temporary folder goes: no archive can be written."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_bytes(b"not a folder")


def mend_tmp(folder: Path) -> None:
    folder.unlink()


async def test_a_failed_build_is_the_exports_not_the_daemons(exporting: Daemon) -> None:
    """An archive that cannot be written (the temporary folder is a file) fails the export,
    said in words, and nothing else: the daemon answers on, and once mended another export
    is made."""
    daemon = exporting
    with trio.fail_after(TIMEOUT):
        alice = await daemon.user("alice")
        tmp = exporter(daemon).store.tmp_dir
        await trio.to_thread.run_sync(break_tmp, tmp)
        assert (await daemon.call("POST", "/api/me/export", token=alice)).status == 202
        failed = await until_done(daemon, alice)
        assert failed["state"] == "failed" and "could not be made" in failed["error"]
        assert failed["url"] is None
        await trio.to_thread.run_sync(mend_tmp, tmp)
        assert (await daemon.call("POST", "/api/me/export", token=alice)).status == 202
        assert (await until_done(daemon, alice))["state"] == "ready"


async def test_another_node_tells_and_serves_it(nursery: trio.Nursery, storage: Storage,
                                                tmp_path: Path, database_dsn: str) -> None:
    """Two nodes on one database and one store (a --workers pair): the export started on
    the first is told and downloaded by the second, which never built it."""
    first = await start_daemon(nursery, storage, tmp_path)
    async with open_storage(make_config(tmp_path, database_dsn)) as other_storage:
        second = await start_daemon(nursery, other_storage, tmp_path)
        with trio.fail_after(TIMEOUT):
            alice = await first.user("alice")
            assert (await first.call("POST", "/api/me/export", token=alice)).status == 202
            # (each test node has a secret of its own: a token of the second's)
            login = await second.call("POST", "/api/login", json_body={
                "username": "alice", "password": "correct horse"})
            there = login.json()["token"]
            ready = await until_done(second, there)
            assert ready["state"] == "ready"
            got = await second.call("GET", "/api/me/export/download", token=there)
            assert got.status == 200 and len(got.body) == ready["size"]
            assert json.loads(members(got)["account.json"])["name"] == "alice"
        nursery.cancel_scope.cancel()
