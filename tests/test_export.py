"""The archive of "Download my data" (chatd.export) against what a real (embedded) PostgreSQL
and a real file store hold: what it holds and what it leaves out, read a bounded page at a
time; and ``chatd export USER --out FILE``, the operator's way to the same archive."""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio

from chatd.config import Config
from chatd.export import Progress, export_to_file, write_archive
from chatd.files import LocalStore
from chatd.protocol.markup import mention_candidates
from chatd.storage import NewMessage, Storage, User
from tests.storage.test_changes import delete, edit, one, react, say
from tests.storage.test_postgres import TIMEOUT, appended, make_member
from tests.test_cli import _chatd


def archive(path: Path) -> dict[str, Any]:
    """The archive's JSON members by name, and ``files/`` members' bytes."""
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        found: dict[str, Any] = {}
        for name in zf.namelist():
            data = zf.read(name)
            found[name] = json.loads(data) if name.endswith(".json") else data
    return found


async def sent(storage: Storage, user: User, room: str, text: str, **fields: Any) -> int:
    result = await one(storage, NewMessage(user_id=user.id, room=room, text=text,
                                           nonce=os.urandom(8).hex(),
                                           mentions=tuple(mention_candidates(text)), **fields))
    return appended(result).message.msg_id


async def stored_file(storage: Storage, store: LocalStore, user: User, room: str,
                      data: bytes, name: str) -> int:
    """A file uploaded as an upload is: its bytes placed in the store, then its row."""
    upload = store.open_upload()
    upload.write(data)
    sha256 = upload.place()
    upload.finish()
    found = await storage.add_file(user.id, room, sha256=sha256, size=len(data), name=name,
                                   content_type="application/octet-stream",
                                   quota_bytes=1 << 30)
    return found.info.id


async def test_the_archive_holds_what_was_stored(storage: Storage, tmp_path: Path) -> None:
    """A DM with both sides in order, an edited message with its versions, a deleted one as
    deleted, a reaction and a reply; of a public room only the user's own messages; a private
    room the user is not in nowhere; the account and its settings; a saved message with its
    reminder; a file's bytes as uploaded."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        bob = await make_member(storage, "bob", "general")
        await storage.create_room(bob.id, "secret", private=True, topic="hush")
        await sent(storage, bob, "secret", "bob's secret plan")
        await storage.set_keywords(ann.id, ["deploy"])
        dm = (await storage.direct_room(ann.id, "bob")).room.name
        first = await sent(storage, ann, dm, "hello bob")
        answer = await sent(storage, bob, dm, "hi ann", reply_to=first)
        appended(await one(storage, react(ann, dm, answer, "👍")))
        edited = await sent(storage, ann, dm, "lunch at 12?")
        appended(await one(storage, edit(ann, dm, edited, "lunch at 1?")))
        gone = await sent(storage, bob, dm, "oops, wrong window")
        appended(await one(storage, delete(bob, dm, gone)))
        await sent(storage, bob, "general", "bob talks in general")
        mine = await sent(storage, ann, "general", "ann talks in general")
        await storage.save(ann.id, "general", mine, on=True, remind_at=4102444800000,
                           limit=100)
        store = LocalStore(tmp_path / "files")
        data = os.urandom(70_000)
        file_id = await stored_file(storage, store, ann, "general", data, "notes.bin")
        await sent(storage, ann, "general", "", files=(file_id,))

        path = tmp_path / "ann.zip"
        done = await write_archive(storage, store, Config(), ann, path, page=2)
        got = archive(path)

    assert {"README.txt", "account.json", "rooms.json", "messages.json", "saved.json",
            "reminders.json", "scheduled.json", "files.json"} <= set(got)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    account = got["account.json"]
    assert account["name"] == "ann" and account["format"] == 1
    assert account["settings"]["keywords"] == ["deploy"]
    rooms = {room["room"]: room for room in got["rooms.json"]}
    assert set(rooms) == {"general", dm} and rooms[dm]["peers"] == ["bob"]
    assert rooms["general"]["role"] == "owner" and not rooms["general"]["private"]

    messages = got["messages.json"]
    assert "secret" not in json.dumps(messages)
    assert "bob's secret" not in json.dumps(got["rooms.json"])
    in_dm = [m for m in messages if m["room"] == dm]
    assert [m["seq"] for m in in_dm] == sorted(m["seq"] for m in in_dm)
    assert [m["from"] for m in in_dm] == ["ann", "bob", "ann", "bob"]  # the other side too
    assert in_dm[1]["reply_to"] == first
    assert in_dm[1]["reactions"] == [{"emoji": "👍", "users": ["ann"]}]
    assert in_dm[2]["text"] == "lunch at 1?" and in_dm[2]["edited_ts"]
    assert [v["text"] for v in in_dm[2]["edits"]] == ["lunch at 12?", "lunch at 1?"]
    assert in_dm[3]["deleted"] is True and in_dm[3]["text"] == ""
    assert "oops" not in json.dumps({k: v for k, v in got.items() if k.endswith(".json")})
    in_general = [m for m in messages if m["room"] == "general"]
    assert [m["from"] for m in in_general] == ["ann", "ann"]  # not bob's words
    assert done.messages == len(messages) == 6

    [saved] = got["saved.json"]
    assert saved["msg_id"] == mine and saved["message"]["text"] == "ann talks in general"
    assert got["reminders.json"] == [saved]
    [listed] = got["files.json"]
    assert listed["id"] == file_id and listed["msg_id"] is not None
    assert got[listed["path"]] == data and listed["sha256"] == hashlib.sha256(data).hexdigest()
    assert done.files == 1


class CountingStorage:
    """The storage, with the pages of messages asked for counted (a spy, not a stand-in:
    every call goes to the real database)."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self.message_pages: list[int] = []

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        return getattr(self._storage, name)  # type: ignore[no-any-return]

    async def export_messages(self, room: str, *, after: int, limit: int,
                              sender_id: int | None = None) -> Any:
        found = await self._storage.export_messages(room, after=after, limit=limit,
                                                    sender_id=sender_id)
        self.message_pages.append(len(found))
        return found


async def test_a_long_history_is_read_a_page_at_a_time(storage: Storage,
                                                        tmp_path: Path) -> None:
    """103 messages of a conversation exported with pages of 10: eleven reads of at most 10
    messages each, never the whole history at once, and all 103 in order in the archive."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann")
        await make_member(storage, "bob")
        dm = (await storage.direct_room(ann.id, "bob")).room.name
        await storage.append_messages([say(ann, dm, f"message {i}") for i in range(103)])
        spy = CountingStorage(storage)
        progress = Progress()
        await write_archive(spy, LocalStore(tmp_path / "files"), Config(), ann,  # type: ignore[arg-type]
                            tmp_path / "a.zip", page=10, progress=progress)
    assert spy.message_pages == [10] * 10 + [3]
    assert len(spy.message_pages) == math.ceil(103 / 10)
    texts = [m["text"] for m in archive(tmp_path / "a.zip")["messages.json"]]
    assert texts == [f"message {i}" for i in range(103)]
    assert progress.messages == 103 and progress.pages >= 11


def leftovers(folder: Path) -> list[Path]:
    return list(folder.glob(".out.zip.*"))


async def test_export_to_file_replaces_only_once_complete(storage: Storage,
                                                          tmp_path: Path) -> None:
    """The command line's export writes the same archive, and an unknown user is refused
    before anything is written (an older file of that name stays)."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        await sent(storage, ann, "general", "for the record")
        out = tmp_path / "out.zip"
        out.write_bytes(b"older")
        store = LocalStore(tmp_path / "files")
        try:
            await export_to_file(storage, store, Config(), "nobody", out)
        except Exception as exc:
            assert getattr(exc, "code", None) == "not_found"
        assert out.read_bytes() == b"older"
        done = await export_to_file(storage, store, Config(), "ann", out)
        entries = await storage.audit_log(None, limit=10)
    assert done.messages == 1
    assert [m["text"] for m in archive(out)["messages.json"]] == ["for the record"]
    assert leftovers(tmp_path) == []
    assert any(entry.action == "export" for entry in entries)


def test_chatd_export_writes_the_zip(tmp_path: Path, database_dsn: str) -> None:
    """``chatd export USER --out FILE`` from the shell: a zip with the user's messages, and
    a one-line refusal for a user who does not exist."""
    added = _chatd(tmp_path, database_dsn, "user", "add", "ann", stdin="correct horse\n")
    assert added.returncode == 0, added.stderr
    out = tmp_path / "ann.zip"
    done = _chatd(tmp_path, database_dsn, "export", "ann", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "exported the data of ann" in done.stderr
    got = archive(out)
    assert got["account.json"]["name"] == "ann" and got["messages.json"] == []
    refused = _chatd(tmp_path, database_dsn, "export", "nobody", "--out",
                     str(tmp_path / "x.zip"))
    assert refused.returncode != 0 and "nobody" in refused.stderr
    assert not (tmp_path / "x.zip").exists()
