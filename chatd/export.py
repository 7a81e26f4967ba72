"""Download my data: a zip of everything chatd keeps that is a user's own, for them to take away.

Theory of operation
-------------------
**What is in it** (docs/protocol.md, "Download my data", lists the fields; the archive's own
``README.txt`` says it to whoever opens it): ``account.json`` (the account, its profile and
settings), ``rooms.json`` (the rooms and conversations the user is a member of, with their
membership), ``messages.json`` (message objects, by room and then seq, each as it is now, with
its ``edits`` where the history is kept), ``saved.json`` and ``reminders.json`` (the saved
messages, and those of them with a reminder: a reminder is a saved message with a time),
``scheduled.json``, ``files.json`` and ``files/<id>-<name>``, the bytes of every file the user
uploaded that is kept.

**Whose messages.** Every message of the user's 1:1 and group conversations, whoever wrote
it: the user is one of its few parties, and the other side is half of what they said. Of
rooms, only the messages the user wrote, in rooms they are in or left. A room's history is
the room's, not one member's: others' words in a public room are their personal data, a
member of a busy room would otherwise carry the whole server away, and a room's history is
readable by its members at any time anyway (``history``). This is Slack's choice for a
member's export; Zulip's takes all a user could read, which on a server of public rooms is
the server. The operator's whole copy is ``chatd backup``.

**Bounded.** Nothing is read whole: each room is walked a page of ``page`` messages at a
time by its (room, seq) key (:meth:`~chatd.storage.Storage.export_messages`), the user's
files by id, their saved messages by time; each page is written to the zip before the next
is read. The zip is written a page at a time in worker threads (:func:`trio.to_thread.run_sync`:
JSON encoding, deflating and the disk) into a temporary file in the file store's temporary
folder (mode 0600), never held in memory, and a file's bytes go into it a chunk at a time
from the store (:meth:`chatd.files.FileStore.source`, so an S3 bucket works as a folder does).

**Where it lives, which node serves it.** A finished archive is placed in the file store under
its SHA-256, as an upload is (:meth:`chatd.files.FileStore.place`), and its row (migration
0052) says so: every node and every ``--workers`` process that shares the store serves it
(the store is shared already, for uploads: a folder that every worker of one host has, a
shared folder or a bucket across hosts), whichever node built it. Its row's state is in the
database for the same reason. It is kept ``limits.export_keep_hours`` and then removed by
whichever node's :class:`Exporter` sweeps first.

**One at a time, at a rate.** A user has at most one export running (the row's unique
index), and may start ``limits.exports_per_hour`` an hour. A node builds one archive at a
time (:data:`AT_ONCE`): a build is work for the database and the disk, never urgent; the
others wait their turn. A running export holds a lease (:data:`LEASE`), renewed while it waits
and as it goes: a node that dies leaves a lease that runs out, and the export then reads as
failed, so that its user may start another.

``chatd export USER --out FILE`` makes the same archive by the same code
(:func:`write_archive`), for the operator, without the rate limit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import time
import uuid
import zipfile
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import IO, Any

import trio

from chatd import __version__
from chatd.actions.saved import saved_item_object
from chatd.actions.scheduled import scheduled_item_object
from chatd.config import Config
from chatd.errors import ChatError
from chatd.files import FileStore, unplace
from chatd.protocol import codes
from chatd.storage import ExportedFile, ExportState, Storage, StorageUnavailable, User
from chatd.views import message_object

__all__ = ["AT_ONCE", "FORMAT", "LEASE", "PAGE", "ExportJob", "Exporter", "Progress",
           "archive_name", "export_object", "export_to_file", "write_archive"]

log = logging.getLogger(__name__)

#: The archive format's version, in account.json's ``format`` (a new field is no new version).
FORMAT = 1
#: Rows read at once: messages of a room, files, saved messages.
PAGE = 500
#: Seconds a running export's lease lasts; renewed every third of it.
LEASE = 120.0
#: Archives a node builds at once.
AT_ONCE = 1
#: Exports waiting for their turn on one node, at most (past it: 503, try again).
QUEUE = 256
#: Seconds between two sweeps of expired archives.
SWEEP_INTERVAL = 600.0
#: Seconds a failed or expired export's row is kept (it is its user's rate limit meanwhile).
FORGET_AFTER = 30 * 86400.0
#: Bytes of a stored file copied into the archive at a time.
CHUNK = 256 * 1024

_README = """\
Your data from {server}, as of {when} (UTC), for {name}.

Every file here is JSON (UTF-8). Times are milliseconds since 1970-01-01 UTC.

account.json    Your account: name, display name, status, picture (avatar: the SHA-256 of
                its bytes), email address if any, and your settings: notification
                keywords, sidebar sections, do-not-disturb, read receipts.
rooms.json      The rooms and conversations you are a member of: name, kind ("room", "dm"
                for a conversation of two, "group" for one of a few), private, topic, and
                your membership: joined_at, role, notify level, favourite, section.
messages.json   Messages, by room and then in order (seq). Every message of your
                conversations, whoever wrote it; of rooms, the messages you wrote (a
                room's history is its members', not one member's: read it in chatd).
                Each is a message object as chatd's protocol shows it, as it is now: its
                text, "edited_ts" when edited and "edits" (its earlier versions) where
                the server keeps them, "deleted": true and no text when deleted,
                "reactions", "reply_to", "thread", "files" and more.
saved.json      The messages you saved, newest first, with the message as it is now.
reminders.json  Those of them with a reminder (remind_at), as saved.json shows them.
scheduled.json  Messages you scheduled and that are not sent yet.
files.json      The files you uploaded that are kept: name, size, type, the room and
                message they belong to, and "path": where their bytes are in this archive
                (null if they went away while it was made).
files/          Those bytes.

The format is described in chatd's docs/protocol.md ("Download my data").
"""


@dataclasses.dataclass(slots=True)
class Progress:
    """What an export holds so far, and how many pages it read (each a bounded read)."""

    messages: int = 0
    files: int = 0
    pages: int = 0


def archive_name(user: str, when_ms: int) -> str:
    """The file name a download is saved as: ``chatd-<user>-<YYYY-MM-DD>.zip``."""
    day = time.strftime("%Y-%m-%d", time.gmtime(when_ms / 1000))
    return f"chatd-{user}-{day}.zip"


def export_object(state: ExportState) -> dict[str, Any]:
    """An export as ``GET /api/me/export`` shows it (without its url: the route adds it)."""
    return {"id": state.id, "state": state.state, "started_at": state.started_at,
            "finished_at": state.finished_at, "expires_at": state.expires_at,
            "size": state.size, "messages": state.messages, "files": state.files,
            "error": state.error}


class _Archive:
    """The zip being written. Its methods block: call them in a worker thread, one at a time
    (zipfile allows one entry open for writing at once)."""

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        self._file = os.fdopen(fd, "w+b")
        self._zip = zipfile.ZipFile(self._file, "w", compression=zipfile.ZIP_DEFLATED,
                                    allowZip64=True)
        self._entry: IO[bytes] | None = None
        self._items = 0

    def _info(self, name: str, compress: bool) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=time.gmtime()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = 0o600 << 16
        return info

    def whole(self, name: str, data: bytes) -> None:
        """Write entry ``name`` at once (a small one)."""
        self._zip.writestr(self._info(name, True), data)

    def begin(self, name: str, *, compress: bool = True) -> None:
        """Open entry ``name`` to write it in parts (:meth:`part`, :meth:`end`)."""
        assert self._entry is None, "an entry is open"
        self._entry = self._zip.open(self._info(name, compress), "w", force_zip64=True)
        self._items = 0

    def part(self, data: bytes) -> None:
        assert self._entry is not None, "no entry is open"
        self._entry.write(data)

    def items(self, values: Iterable[Any]) -> None:
        """The next items of the JSON array the open entry holds (opened by ``[``)."""
        for value in values:
            self.part((b",\n" if self._items else b"[\n")
                      + json.dumps(value, ensure_ascii=False).encode())
            self._items += 1

    def end_items(self) -> None:
        """Close the JSON array and its entry."""
        self.part(b"\n]\n" if self._items else b"[]\n")
        self.end()

    def end(self) -> None:
        assert self._entry is not None, "no entry is open"
        self._entry.close()
        self._entry = None

    def close(self) -> None:
        """Finish the zip (its central directory) and flush it to disk."""
        try:
            if self._entry is not None:
                self._entry.close()
            self._zip.close()
            self._file.flush()
            os.fsync(self._file.fileno())
        finally:
            self._file.close()


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2).encode() + b"\n"


async def _in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    return await trio.to_thread.run_sync(fn, *args)


async def write_archive(storage: Storage, store: FileStore, config: Config, user: User,
                        path: Path, *, page: int = PAGE, progress: Progress | None = None
                        ) -> Progress:
    """Write the export of ``user``'s data to a new file at ``path`` (made with mode 0600; it
    must not exist). ``progress`` is updated as it goes (a caller reports it); returned.

    Raises:
        StorageUnavailable, OSError: the database, the disk or the file store failed; the
            file at ``path`` is then incomplete (the caller removes it).
    """
    done = progress if progress is not None else Progress()
    archive: _Archive = await _in_thread(_Archive, path)
    try:
        now = int(time.time() * 1000)
        account = await storage.export_account(user.id)
        rooms = await storage.export_rooms(user.id)
        await _in_thread(archive.whole, "README.txt", _README.format(
            server=config.server.name or config.server.public_url or "a chatd server",
            when=time.strftime("%Y-%m-%d %H:%M", time.gmtime(now / 1000)),
            name=user.name).encode())
        await _in_thread(archive.whole, "account.json", _json(
            {"format": FORMAT, "chatd": __version__, "exported_at": now, **account}))
        await _in_thread(archive.whole, "rooms.json", _json(rooms))
        await _messages(storage, config, user, archive, rooms, page, done)
        await _saved(storage, user, archive, page, done)
        scheduled = await storage.scheduled_items(user.id)
        await _in_thread(archive.whole, "scheduled.json",
                         _json([scheduled_item_object(item) for item in scheduled]))
        await _files(storage, store, user, archive, page, done)
    finally:
        with trio.CancelScope(shield=True):
            await _in_thread(archive.close)
    return done


def _walks(user: User, rooms: list[dict[str, Any]], sent: list[tuple[str, str]]
           ) -> list[tuple[str, int | None]]:
    """The rooms whose messages the archive holds, by name, each with the sender to keep
    (None: every message): the user's conversations whole, the rest of what they sent in."""
    whole = {room["room"] for room in rooms if room["kind"] != "room"}
    walks = dict.fromkeys(whole)
    for name, _kind in sent:
        walks.setdefault(name, user.id)
    return sorted(walks.items())


async def _messages(storage: Storage, config: Config, user: User, archive: _Archive,
                    rooms: list[dict[str, Any]], page: int, done: Progress) -> None:
    walks = _walks(user, rooms, await storage.sent_rooms(user.id))
    await _in_thread(archive.begin, "messages.json")
    for room, sender in walks:
        after = 0
        while True:
            batch = await storage.export_messages(room, after=after, limit=page,
                                                  sender_id=sender)
            done.pages += 1
            objects = []
            for message in batch:
                obj = message_object(message)
                del obj["op"]
                if message.edited_ts is not None and not message.deleted:
                    edits = await _edits(storage, config, user, room, message.msg_id)
                    if edits is not None:
                        obj["edits"] = edits
                objects.append(obj)
            await _in_thread(archive.items, objects)
            done.messages += len(batch)
            if len(batch) < page:
                break
            after = batch[-1].seq
    await _in_thread(archive.end_items)


async def _edits(storage: Storage, config: Config, user: User, room: str, msg_id: int
                 ) -> list[dict[str, Any]] | None:
    """A message's versions, oldest first, where the server shows them to the user (as
    ``edit_history`` decides); None where it does not."""
    shown = config.messages.edit_history
    if shown == "off" and not user.admin:
        return None
    try:
        found = await storage.edit_history(user.id, room, msg_id,
                                           moderated=shown == "moderators" and not user.admin)
    except ChatError:
        return None  # a room left since, a moderated history of another's message
    return [{"text": v.text, "by": v.by, "ts": v.ts, "seq": v.seq} for v in found.versions]


async def _saved(storage: Storage, user: User, archive: _Archive, page: int,
                 done: Progress) -> None:
    reminders: list[dict[str, Any]] = []  # bounded by limits.saved_per_user
    await _in_thread(archive.begin, "saved.json")
    before: int | None = None
    while True:
        items, more = await storage.saved_items(user.id, before=before, limit=page)
        done.pages += 1
        objects = [saved_item_object(item) for item in items]
        reminders.extend(obj for obj in objects if obj["remind_at"] is not None)
        await _in_thread(archive.items, objects)
        if not more or not items:
            break
        before = items[-1].ts
    await _in_thread(archive.end_items)
    await _in_thread(archive.whole, "reminders.json", _json(reminders))


def _member_name(file_id: int, name: str) -> str:
    """Where a file's bytes are in the archive: ``files/<id>-<name>`` (the name is
    sanitised at upload: no separator, no leading dot; the id keeps two of one name
    apart)."""
    return f"files/{file_id}-{name.replace('/', '_').replace(chr(92), '_')}"


async def _files(storage: Storage, store: FileStore, user: User, archive: _Archive,
                 page: int, done: Progress) -> None:
    """The user's files: their bytes first, a page of files at a time, then ``files.json``
    by a second walk of the same pages (the zip has one entry open at a time, and the list
    is not kept: only the ids of bytes that went away meanwhile are)."""
    missing: set[int] = set()
    async for batch in _file_pages(storage, user, page, done):
        for file in batch:
            if await _copy(store, archive, file.sha256, _member_name(file.id, file.name)):
                done.files += 1
            else:
                missing.add(file.id)
    await _in_thread(archive.begin, "files.json")
    async for batch in _file_pages(storage, user, page, done):
        await _in_thread(archive.items, [{
            "id": file.id, "name": file.name, "size": file.size,
            "content_type": file.content_type, "room": file.room, "msg_id": file.message_id,
            "ts": file.ts, "use": file.use, "sha256": file.sha256,
            "path": None if file.id in missing else _member_name(file.id, file.name),
        } for file in batch])
    await _in_thread(archive.end_items)


async def _file_pages(storage: Storage, user: User, page: int, done: Progress
                      ) -> AsyncIterator[list[ExportedFile]]:
    """The user's kept files, a page at a time, by id."""
    after = 0
    while True:
        batch = await storage.export_files(user.id, after=after, limit=page)
        done.pages += 1
        if batch:
            yield batch
        if len(batch) < page:
            return
        after = batch[-1].id


async def _copy(store: FileStore, archive: _Archive, sha256: str, member: str) -> bool:
    """Copy stored bytes into the archive as ``member``, a chunk at a time; False when they
    are gone (collected meanwhile: the list says so with a null path)."""
    try:
        reader = await store.source(sha256).open()
    except FileNotFoundError:
        return False
    async with reader:
        await reader.seek(0, reader.size)
        await _in_thread(lambda: archive.begin(member, compress=False))
        while chunk := await reader.read(CHUNK):
            await _in_thread(archive.part, chunk)
        await _in_thread(archive.end)
    return True


def _remove(path: Path) -> None:
    """Remove a temporary file if it is there (a folder gone meanwhile is no error)."""
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def _hash(path: Path) -> tuple[str, int]:
    """The SHA-256 (hex) and size of a file, read a chunk at a time."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as file:
        while chunk := file.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


@dataclasses.dataclass(frozen=True, slots=True)
class ExportJob:
    """An export started (its row is ``running``) for ``user``, to build on this node."""

    export_id: int
    user: User


class Exporter:
    """Builds the exports started on this node, :data:`AT_ONCE` at a time, and sweeps the
    expired ones of every node (the actor that owns this node's builds: nothing else
    touches them).

    Args:
        page: rows read at once (tests set it small to count the pages).
        lease: seconds a running export's lease lasts.
    """

    def __init__(self, storage: Storage, store: FileStore, config: Config, *,
                 page: int = PAGE, lease: float = LEASE) -> None:
        self.storage = storage
        self.store = store
        self.config = config
        self.page = page
        self.lease = lease
        self._send, self._receive = trio.open_memory_channel[ExportJob](QUEUE)
        #: Held by each build; tests hold it to keep an export waiting its turn.
        self.limiter = trio.CapacityLimiter(AT_ONCE)

    def offer(self, job: ExportJob) -> bool:
        """Queue a build (never waits); False when the queue is full."""
        try:
            self._send.send_nowait(job)
        except trio.WouldBlock:
            return False
        return True

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        """Build what is offered and sweep, until cancelled."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._sweep_forever)
            task_status.started()
            async for job in self._receive:
                nursery.start_soon(self._build, job)

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except (StorageUnavailable, OSError) as exc:
                log.warning("expired exports could not be swept: %r", exc)
            except Exception:
                log.exception("sweeping expired exports failed")
            await trio.sleep(SWEEP_INTERVAL)

    async def sweep(self) -> int:
        """Remove the archives past their expiry (of every node's exports); returns how many."""
        gone = await self.storage.expire_exports(limit=100, forget_after=FORGET_AFTER)
        for sha256 in gone:
            await unplace(self.storage, self.store, sha256)
        return len(gone)

    async def _build(self, job: ExportJob) -> None:
        """Build one export, its lease kept meanwhile. Never raises but for cancellation: a
        failure is the row's (``failed``, in words), told to its user, never the daemon's.
        However the build ends short (a failure, the daemon stopping, its row failed
        meanwhile), the row is marked failed (a no-op for a row no longer running) and the
        temporary file removed."""
        done = Progress()
        path = self.store.tmp_dir / f"export-{uuid.uuid4().hex}.part"
        failure: str | None = "the server stopped while making it; start it again"
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._keep_lease, job.export_id, done, nursery.cancel_scope)
                async with self.limiter:
                    failure = await self._attempt(job, path, done)
                nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                if failure is not None:
                    with trio.move_on_after(10), contextlib.suppress(StorageUnavailable):
                        await self.storage.fail_export(job.export_id, failure)
                await trio.to_thread.run_sync(_remove, path)

    async def _attempt(self, job: ExportJob, path: Path, done: Progress) -> str | None:
        """:meth:`_make`, its failure in words for the user (None: it is ready)."""
        try:
            await self._make(job, path, done)
        except (StorageUnavailable, OSError) as exc:
            log.warning("the export %d of %s failed: %r", job.export_id, job.user.name, exc)
            return "it could not be made (the server's storage failed); start it again"
        except Exception:
            log.exception("the export %d of %s failed", job.export_id, job.user.name)
            return "it could not be made (an error of the server); start it again"
        return None

    async def _keep_lease(self, export_id: int, done: Progress, build: trio.CancelScope
                          ) -> None:
        """Renew the lease (with the progress) every third of it while the build waits and
        runs; a row that no longer runs ends the build."""
        while True:
            await trio.sleep(self.lease / 3)
            with contextlib.suppress(StorageUnavailable):
                if not await self.storage.renew_export(export_id, lease=self.lease,
                                                       messages=done.messages,
                                                       files=done.files):
                    build.cancel()
                    return

    async def _make(self, job: ExportJob, path: Path, done: Progress) -> None:
        await trio.to_thread.run_sync(
            lambda: self.store.tmp_dir.mkdir(parents=True, exist_ok=True, mode=0o700))
        await write_archive(self.storage, self.store, self.config, job.user, path,
                            page=self.page, progress=done)
        sha256, size = await trio.to_thread.run_sync(_hash, path)
        await self.store.run(self.store.place, path, sha256)  # StoreUnavailable: an OSError
        keep = self.config.limits.export_keep_hours * 3600.0
        finished = await self.storage.finish_export(job.export_id, sha256=sha256, size=size,
                                                    messages=done.messages, files=done.files,
                                                    keep=keep)
        if finished is None:  # failed meanwhile (its lease ran out): nobody will fetch it
            await unplace(self.storage, self.store, sha256)
            return
        log.info("export %d of %s is ready: %d messages, %d files, %d bytes", job.export_id,
                 job.user.name, done.messages, done.files, size)



async def export_to_file(storage: Storage, store: FileStore, config: Config, name: str,
                         out: Path, *, page: int = PAGE) -> Progress:
    """``chatd export USER --out FILE``: the same archive as a user's download, written to a
    temporary file (mode 0600) beside ``out`` and renamed over it once complete (a failed
    export neither leaves half a file nor replaces an older one), then recorded in the audit
    log (no actor: the command line).

    Raises:
        ChatError: ``not_found`` for no such user.
        StorageUnavailable, OSError: the database, the disk or the file store failed.
    """
    credentials = await storage.get_credentials(name)
    if credentials is None:
        raise ChatError(codes.NOT_FOUND, f"no user called {name!r}")
    user = credentials.user
    partial = out.with_name(f".{out.name}.{uuid.uuid4().hex}.part")
    try:
        done = await write_archive(storage, store, config, user, partial, page=page)
        await trio.to_thread.run_sync(os.replace, partial, out)
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(_remove, partial)
    size = (await trio.to_thread.run_sync(out.stat)).st_size
    await storage.record_export(user.id, {"messages": done.messages, "files": done.files,
                                          "size": size, "by": "command line"})
    return done
