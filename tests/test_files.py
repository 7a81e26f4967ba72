"""Uploaded files (chatd/files.py): names, types, and collecting the bytes of deleted
messages' files, also while an upload of the same bytes races with it, or after a
collection was interrupted. Against the real database, and each store: a temporary folder
and a bucket of a local S3 server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from chatd.files import (
    FileStore,
    collect,
    normalise_content_type,
    open_file_store,
    sanitise_name,
    served_type,
)
from chatd.metrics import Metrics
from chatd.storage import ImageFacts, NewChange, NewMessage, Storage, User
from tests.filestores import read_all, stored
from tests.helpers import make_config
from tests.storage.test_postgres import TIMEOUT, appended, make_member


@pytest.fixture
def store(tmp_path: Path, store_settings: dict[str, str]) -> FileStore:
    """Each store in turn, its uploads in progress under ``tmp_path``."""
    return open_file_store(make_config(tmp_path, "", files=store_settings))


@pytest.mark.parametrize(("raw", "kept"), [
    ("/etc/passwd", "passwd"),
    ("C:\\Users\\ann\\x.doc", "x.doc"),
    ("...", "file"),
    ("  .hidden  ", "hidden"),
    ("a\u00a0b.txt", "a b.txt"),
    ("e\u0301te\u0301.txt", "\u00e9t\u00e9.txt"),
    ("a\u2028b", "ab"),
])
def test_sanitise_name(raw: str, kept: str) -> None:
    """Names lose path components, control and separator characters, surrounding dots and
    spaces, and are NFC."""
    assert sanitise_name(raw) == kept


def test_types() -> None:
    """Declared types are normalised; documents and scripts are served as octet-stream."""
    assert normalise_content_type("IMAGE/PNG; q=1") == "image/png"
    assert normalise_content_type("text/html\r\nX-Evil: 1") == "application/octet-stream"
    assert served_type("text/html") == served_type("image/svg+xml") \
        == served_type("application/xml") == served_type("text/markdown") \
        == "application/octet-stream"
    assert served_type("text/plain") == "text/plain"
    assert served_type("application/zip") == "application/zip"


async def _upload_bytes(store: FileStore, data: bytes) -> Any:
    upload = await trio.to_thread.run_sync(store.open_upload)
    await trio.to_thread.run_sync(upload.write, data)
    await store.run(upload.place)
    return upload


async def _has(store: FileStore, sha256: str) -> bool:
    return await store.run(store.has, sha256)


async def _file_message(storage: Storage, user: User, sha256: str, size: int, nonce: str
                        ) -> int:
    stored = await storage.add_file(user.id, "general", sha256=sha256, size=size, name="f",
                                    content_type="text/plain", quota_bytes=10**9)
    [result] = await storage.append_messages([NewMessage(
        user_id=user.id, room="general", text="", nonce=nonce, files=(stored.info.id,))])
    return appended(result).message.msg_id


async def _delete(storage: Storage, user: User, msg_id: int) -> None:
    [result] = await storage.append_messages([NewChange(
        user_id=user.id, room="general", msg_id=msg_id, kind="deleted")])
    appended(result)


async def test_collect_removes_only_unreferenced_bytes(storage: Storage, store: FileStore
                                                       ) -> None:
    """The bytes of a deleted message's file go once no kept file shares them; shared
    bytes stay until the last file goes. The metrics count what went."""
    with trio.fail_after(TIMEOUT):
        metrics = Metrics()
        ann = await make_member(storage, "ann", "general")
        shared = await _upload_bytes(store, b"shared")
        lone = await _upload_bytes(store, b"lone")
        first = await _file_message(storage, ann, shared.sha256, 6, "a")
        second = await _file_message(storage, ann, shared.sha256, 6, "b")
        third = await _file_message(storage, ann, lone.sha256, 4, "c")
        for upload in (shared, lone):
            await store.run(upload.finish)
        assert await store.run(stored, store) == sorted([shared.sha256, lone.sha256])
        await _delete(storage, ann, first)
        await _delete(storage, ann, third)
        assert await collect(storage, store, metrics=metrics) == 1
        assert await _has(store, shared.sha256) and not await _has(store, lone.sha256)
        assert await storage.dead_file_bytes(10) == []
        await _delete(storage, ann, second)
        assert await collect(storage, store, metrics=metrics) == 1
        assert not await _has(store, shared.sha256)
        assert await collect(storage, store, metrics=metrics) == 0
        assert list(store.tmp_dir.iterdir()) == []
        assert await store.run(stored, store) == []
        assert await store.run(store.stale_asides, float("inf")) == []
        assert metrics.registry.get_sample_value("chatd_files_collected_total") == 2
        assert metrics.registry.get_sample_value("chatd_file_collected_bytes_total") == 10


class _Interleaved:
    """A storage whose ``file_bytes_in_use`` first runs ``before`` (once): another upload's
    commit landing between collect's two looks at the database."""

    def __init__(self, storage: Storage, before: Any) -> None:
        self._storage = storage
        self._before = before

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)

    async def file_bytes_in_use(self, sha256: str) -> bool:
        if self._before is not None:
            before, self._before = self._before, None
            await before()
        return await self._storage.file_bytes_in_use(sha256)


@pytest.mark.parametrize("row_commits", ["before the second look", "after the second look"])
async def test_collect_racing_an_upload_of_the_same_bytes(storage: Storage, store: FileStore,
                                                          row_commits: str) -> None:
    """An upload of bytes being collected ends with its bytes stored, whether its row
    commits before collect's second look (collect puts them back) or after it (the upload
    places them again from its temporary file when it finishes)."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        old = await _upload_bytes(store, b"same bytes")
        gone = await _file_message(storage, ann, old.sha256, 10, "a")
        await store.run(old.finish)
        await _delete(storage, ann, gone)
        new = await _upload_bytes(store, b"same bytes")  # placed: the bytes were there

        async def commit_the_new_row() -> None:
            await _file_message(storage, ann, new.sha256, 10, "b")

        if row_commits == "before the second look":
            await collect(_Interleaved(storage, commit_the_new_row), store)
            assert await _has(store, new.sha256)
        else:
            await collect(storage, store)
            assert not await _has(store, new.sha256)  # taken: no kept row yet
            await commit_the_new_row()
        await store.run(new.finish)
        assert await read_all(store, new.sha256) == b"same bytes"
        assert not new.path.exists()
        assert await storage.file_bytes_in_use(new.sha256)
        assert await store.run(store.stale_asides, float("inf")) == []


async def test_collect_takes_a_thumbnail_with_its_file(storage: Storage, store: FileStore
                                                      ) -> None:
    """A thumbnail's bytes stay while its file is kept and go with it, in one run; the row
    is then forgotten."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        content = await _upload_bytes(store, b"the image")
        thumb = await _upload_bytes(store, b"its thumbnail")
        added = await storage.add_file(
            ann.id, "general", sha256=content.sha256, size=9, name="a.png",
            content_type="image/png", quota_bytes=10**9,
            image=ImageFacts(width=10, height=10, thumb_sha256=thumb.sha256, thumb_width=10,
                             thumb_height=10))
        for upload in (content, thumb):
            await store.run(upload.finish)
        [result] = await storage.append_messages([NewMessage(
            user_id=ann.id, room="general", text="", nonce="a", files=(added.info.id,))])
        msg_id = appended(result).message.msg_id
        assert await collect(storage, store) == 0
        assert await _has(store, thumb.sha256) and await _has(store, content.sha256)
        await _delete(storage, ann, msg_id)
        assert await collect(storage, store) == 2
        assert await store.run(stored, store) == []
        assert await storage.dead_file_bytes(10) == []
        assert await collect(storage, store) == 0


class _Dying:
    """A storage whose ``file_bytes_in_use`` fails: the process died between collect's
    take-away and its second look."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)

    async def file_bytes_in_use(self, sha256: str) -> bool:
        raise RuntimeError("killed")


async def test_sweep_puts_back_what_an_interrupted_collection_took(storage: Storage,
                                                                   store: FileStore) -> None:
    """Bytes that a collection took away and never dropped nor put back (it died) come back
    with the sweep once an hour old, not before; the next collection then decides again."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        kept = await _upload_bytes(store, b"taken by mistake")
        msg_id = await _file_message(storage, ann, kept.sha256, 16, "a")
        await store.run(kept.finish)
        await _delete(storage, ann, msg_id)
        with pytest.raises(RuntimeError):
            await collect(_Dying(storage), store)
        assert not await _has(store, kept.sha256)
        [aside] = await store.run(store.stale_asides, float("inf"))
        assert aside.sha256 == kept.sha256 and aside.size == 16
        await store.run(store.sweep)  # too young: another node may be collecting
        assert not await _has(store, kept.sha256)
        await store.run(store.sweep, -60.0)  # as if an hour had passed
        assert await read_all(store, kept.sha256) == b"taken by mistake"
        assert await store.run(store.stale_asides, float("inf")) == []
        assert await collect(storage, store) == 1
        assert not await _has(store, kept.sha256)
