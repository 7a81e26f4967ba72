"""The files folder (chatd/files.py): names, types, and collecting the bytes of deleted
messages' files, also while an upload of the same bytes races with it. Against the real
database and a temporary folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from chatd.files import (
    FileStore,
    collect,
    normalise_content_type,
    sanitise_name,
    served_type,
)
from chatd.storage import ImageFacts, NewChange, NewMessage, Storage, User
from tests.storage.test_postgres import TIMEOUT, appended, make_member


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
    await trio.to_thread.run_sync(upload.place)
    return upload


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


async def test_collect_removes_only_unreferenced_bytes(storage: Storage, tmp_path: Path
                                                       ) -> None:
    """The bytes of a deleted message's file go once no kept file shares them; shared
    bytes stay until the last file goes."""
    with trio.fail_after(TIMEOUT):
        store = FileStore(tmp_path / "files")
        ann = await make_member(storage, "ann", "general")
        shared = await _upload_bytes(store, b"shared")
        lone = await _upload_bytes(store, b"lone")
        first = await _file_message(storage, ann, shared.sha256, 6, "a")
        second = await _file_message(storage, ann, shared.sha256, 6, "b")
        third = await _file_message(storage, ann, lone.sha256, 4, "c")
        for upload in (shared, lone):
            await trio.to_thread.run_sync(upload.finish)
        await _delete(storage, ann, first)
        await _delete(storage, ann, third)
        assert await collect(storage, store) == 1
        assert store.path(shared.sha256).exists() and not store.path(lone.sha256).exists()
        assert await storage.dead_file_bytes(10) == []
        await _delete(storage, ann, second)
        assert await collect(storage, store) == 1
        assert not store.path(shared.sha256).exists()
        assert await collect(storage, store) == 0
        assert list((tmp_path / "files" / "tmp").iterdir()) == []


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
async def test_collect_racing_an_upload_of_the_same_bytes(storage: Storage, tmp_path: Path,
                                                          row_commits: str) -> None:
    """An upload of bytes being collected ends with its bytes on disk, whether its row
    commits before collect's second look (collect puts them back) or after it (the upload
    links them again from its temporary file when it finishes)."""
    with trio.fail_after(TIMEOUT):
        store = FileStore(tmp_path / "files")
        ann = await make_member(storage, "ann", "general")
        old = await _upload_bytes(store, b"same bytes")
        gone = await _file_message(storage, ann, old.sha256, 10, "a")
        await trio.to_thread.run_sync(old.finish)
        await _delete(storage, ann, gone)
        new = await _upload_bytes(store, b"same bytes")  # placed: the bytes were there

        async def commit_the_new_row() -> None:
            await _file_message(storage, ann, new.sha256, 10, "b")

        if row_commits == "before the second look":
            await collect(_Interleaved(storage, commit_the_new_row), store)
            assert store.path(new.sha256).exists()
        else:
            await collect(storage, store)
            assert not store.path(new.sha256).exists()  # taken: no kept row yet
            await commit_the_new_row()
        await trio.to_thread.run_sync(new.finish)
        assert store.path(new.sha256).read_bytes() == b"same bytes"
        assert not new.path.exists()
        assert await storage.file_bytes_in_use(new.sha256)


async def test_collect_takes_a_thumbnail_with_its_file(storage: Storage, tmp_path: Path
                                                      ) -> None:
    """A thumbnail's bytes stay while its file is kept and go with it, in one run; the row
    is then forgotten."""
    with trio.fail_after(TIMEOUT):
        store = FileStore(tmp_path / "files")
        ann = await make_member(storage, "ann", "general")
        content = await _upload_bytes(store, b"the image")
        thumb = await _upload_bytes(store, b"its thumbnail")
        stored = await storage.add_file(
            ann.id, "general", sha256=content.sha256, size=9, name="a.png",
            content_type="image/png", quota_bytes=10**9,
            image=ImageFacts(width=10, height=10, thumb_sha256=thumb.sha256, thumb_width=10,
                             thumb_height=10))
        for upload in (content, thumb):
            await trio.to_thread.run_sync(upload.finish)
        [result] = await storage.append_messages([NewMessage(
            user_id=ann.id, room="general", text="", nonce="a", files=(stored.info.id,))])
        msg_id = appended(result).message.msg_id
        assert await collect(storage, store) == 0
        assert store.path(thumb.sha256).exists() and store.path(content.sha256).exists()
        await _delete(storage, ann, msg_id)
        assert await collect(storage, store) == 2
        assert not store.path(thumb.sha256).exists()
        assert not store.path(content.sha256).exists()
        assert await storage.dead_file_bytes(10) == []
        assert await collect(storage, store) == 0
