"""Uploaded files: where their bytes are kept (a folder, or an S3-compatible bucket), and the
rules for their names and types.

Theory of operation
-------------------
The bytes of a file are kept under their SHA-256 (64 lower-case hex digits), so identical
uploads share one copy and stored bytes never change; a file's name, type, uploader and room
are a row in the database (``files``, migration 0007). The name a user gave is metadata only,
never part of a path or a key. Where the bytes are kept is a :class:`FileStore`, chosen by
``[files] store`` (:func:`open_file_store`):

- :class:`LocalStore` (``"local"``, the default): ``data_dir/files/ab/cd/<sha256>`` (the first
  two pairs of digits as folders). Several nodes must share the folder (NFS or the like).
- :class:`chatd.s3.S3Store` (``"s3"``): the object ``<s3_prefix><sha256>`` of a bucket, which
  several nodes share; see that module for what is particular to it.

Either way an upload is first written to a temporary file of its own in ``data_dir/files/tmp``
(:class:`Upload`: created exclusively, mode 0600, a chunk at a time, each write in a worker
thread so that a slow disk never blocks the event loop), its SHA-256 computed as it streams.
When the upload is complete the file is flushed to disk (fsync) and *placed*
(:meth:`FileStore.place`: hard-linked at its content path and the folder synced, or uploaded
to its key; bytes already there are kept and not sent again) before the database row is
written: a row never points to bytes that are not wholly stored. The temporary file is removed
once the row is committed. An upload that fails or is cut off removes its temporary file; a
process killed meanwhile leaves at most a temporary file, which :meth:`FileStore.sweep`
removes once it is an hour old (another process sharing the folder may be writing a younger
one). Bytes placed whose row is then refused (the quota reached by a concurrent upload, a
custom emoji's name taken by a concurrent add) are removed at once by :func:`unplace`, by the
steps of a collection (below), unless a kept row has them. Bytes placed without a row by a
crash between the place and the insert are harmless: no message can point to them (nothing
collects them yet).

An upload that no message attached within ``files.unattached_seconds`` expires: its row is
marked deleted (by :func:`collect` for everyone, and for its uploader before each of their
uploads, so that the quota never counts it), and its bytes go as a deleted message's do.

Collection
~~~~~~~~~~
Bytes are removed by :func:`collect` once every file that referred to them is gone (its
message deleted), which the daemon runs every :data:`COLLECT_INTERVAL` seconds. An upload of
the same bytes may race with it, on this node or another sharing the store, and the store
can only test and remove bytes, not hold a lock with the database. The order of steps on both
sides closes the race:

=====================================  =============================================
collect                                upload of the same bytes
=====================================  =============================================
1. the database: no kept row refers     a. place the bytes (kept if already there)
   to the bytes
2. take them away: move them aside      b. commit the row
   (out of reach of downloads, but
   recoverable)
3. the database again: is a kept row    c. *finish*: place the bytes again if they
   there now? then put them back;          are missing, then remove the temporary
   else remove them for good and           file
   forget the dead rows
=====================================  =============================================

If (b) commits before (3) looks, collect sees the row and puts the bytes back (that is why
they are moved aside rather than removed at once: the upload may have finished already, its
temporary file gone). If (b) commits after (3), then (c), which comes after (b), comes after
(2) too, finds the bytes missing and places them again from its temporary file. Either way a
committed row points to missing bytes at most between (2) and (c): a download in that
moment is a 404. (If (a) comes after (2), it finds the bytes missing and places them anew;
(3) then drops only the copy it took aside.) Taking away is a rename in the folder and a
copy then a delete in a bucket (there is no rename): between the two the bytes are in both
places, which is harmless, since identical. A process that dies between (2) and (3) leaves
the bytes aside; :meth:`FileStore.sweep` (at start-up and before each collection) puts back
those an hour old, and the next collection decides again.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import hashlib
import logging
import os
import re
import time
import unicodedata
import uuid
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import trio

from chatd.storage import Storage, StorageUnavailable

if TYPE_CHECKING:
    from chatd.config import Config
    from chatd.metrics import Metrics

log = logging.getLogger(__name__)

__all__ = [
    "COLLECT_INTERVAL",
    "INLINE_TYPES",
    "MAX_NAME_CHARS",
    "SWEEP_IDLE_SECONDS",
    "Aside",
    "FileStore",
    "LocalFile",
    "LocalStore",
    "Reader",
    "Source",
    "StoreUnavailable",
    "Upload",
    "check_sha256",
    "collect",
    "collect_forever",
    "normalise_content_type",
    "open_file_store",
    "sanitise_name",
    "served_type",
    "unplace",
]

_T = TypeVar("_T")

#: Longest file name kept, in characters (the rest is cut, the extension kept).
MAX_NAME_CHARS = 200

#: Seconds between two runs of :func:`collect` in the daemon.
COLLECT_INTERVAL = 3600.0

#: Seconds a temporary file must have gone unwritten before :meth:`FileStore.sweep` removes it.
SWEEP_IDLE_SECONDS = 3600.0

#: Types a browser may show inline: raster images it decodes without running anything.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")
# Types a browser would run or render as a document: served as application/octet-stream.
_ACTIVE = re.compile(r"html|xml|svg|script|ecmascript|xsl|pdf|x-shockwave|multipart|"
                     r"^text/(?!plain$|csv$)")


def sanitise_name(raw: str) -> str:
    """The name to keep for an uploaded file: its last path component (``/`` and ``\\`` both
    separate), NFC-normalised, without control or format characters (NUL, newlines, bidi
    overrides), surrounding spaces and dots, cut to :data:`MAX_NAME_CHARS` keeping the
    extension; ``"file"`` if nothing is left. It is shown to users and sent in headers,
    never used as a path."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFC", name)
    name = "".join(" " if unicodedata.category(ch) == "Zs" else ch for ch in name
                   if unicodedata.category(ch)[0] != "C" and unicodedata.category(ch) not in
                   ("Zl", "Zp"))
    name = name.strip(" .")
    if len(name) > MAX_NAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            name = stem[:MAX_NAME_CHARS - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:MAX_NAME_CHARS].rstrip(" .")
    return name or "file"


def normalise_content_type(raw: str | None) -> str:
    """The type to keep for an upload from its declared ``Content-Type``: lower case, without
    parameters; ``application/octet-stream`` when missing or malformed."""
    if raw is None:
        return "application/octet-stream"
    mime = raw.split(";", 1)[0].strip().lower()
    return mime if _TYPE.fullmatch(mime) else "application/octet-stream"


def served_type(content_type: str) -> str:
    """The Content-Type a download is served with: the stored type, except for types a
    browser would render as a document or run (HTML, SVG, XML, scripts, PDF, any text but
    plain and CSV), which are served as ``application/octet-stream``."""
    return "application/octet-stream" if _ACTIVE.search(content_type) else content_type


class StoreUnavailable(OSError):
    """The file store cannot be used (the bucket does not answer, refuses our credentials,
    ...); the message, one line, says which and why."""


class Reader(abc.ABC):
    """An open stored file: its ``size``, then the bytes of a span, a chunk at a time (each
    read in a worker thread). Close it with :meth:`aclose`, or use ``async with``."""

    size: int

    @abc.abstractmethod
    async def seek(self, start: int, stop: int) -> None:
        """Read bytes ``start`` up to ``stop`` (exclusive; at most :attr:`size`) next."""

    @abc.abstractmethod
    async def read(self, max_bytes: int) -> bytes:
        """The next bytes of the span, at most ``max_bytes``; ``b""`` at its end.

        Raises:
            OSError: the bytes cannot be read (they went away meanwhile, the store failed).
        """

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Let go of the file (idempotent)."""

    async def __aenter__(self) -> Reader:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        with trio.CancelScope(shield=True):
            await self.aclose()


class Source(abc.ABC):
    """Stored bytes to send (:class:`~chatd.http.messages.FileReply`), opened when sent."""

    @abc.abstractmethod
    async def open(self) -> Reader:
        """Open the bytes to read them.

        Raises:
            FileNotFoundError: they are not stored (any more).
            OSError: they cannot be read now (:class:`StoreUnavailable`, a disk error).
        """


class LocalFile(Source):
    """A file on this machine's disk."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"LocalFile({str(self.path)!r})"

    async def open(self) -> Reader:
        fd = await trio.to_thread.run_sync(os.open, self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            size = (await trio.to_thread.run_sync(os.fstat, fd)).st_size
        except BaseException:
            os.close(fd)
            raise
        return _LocalReader(fd, size, self.path)


class _LocalReader(Reader):
    def __init__(self, fd: int, size: int, path: Path) -> None:
        self._fd: int | None = fd
        self.size = size
        self._path = path
        self._position = self._stop = 0

    async def seek(self, start: int, stop: int) -> None:
        self._position, self._stop = start, stop

    async def read(self, max_bytes: int) -> bytes:
        assert self._fd is not None, "the file is closed"
        wanted = min(max_bytes, self._stop - self._position)
        if wanted <= 0:
            return b""
        data = await trio.to_thread.run_sync(os.pread, self._fd, wanted, self._position)
        self._position += len(data)
        return data

    async def aclose(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclasses.dataclass(frozen=True, slots=True)
class Aside:
    """Bytes that :meth:`FileStore.take_away` moved aside: their SHA-256, where they are now
    (a path or a key, the store's business) and their size."""

    sha256: str
    where: str
    size: int


def check_sha256(sha256: str) -> str:
    """``sha256`` if it is 64 lower-case hex digits; a path or key is never made of more."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError(f"not a SHA-256: {sha256!r}")
    return sha256


class Upload:
    """One upload being written to a temporary file, then placed in its store. Its methods
    block: call them in a worker thread (:meth:`FileStore.run`). One thread at a time.

    Attributes:
        path: the temporary file (on this machine, whatever the store).
        size: the bytes written so far.
        sha256: their SHA-256 (hex), once :meth:`place` ran; ``""`` before.
    """

    def __init__(self, store: FileStore) -> None:
        self._store = store
        self.path = store.tmp_dir / f"{uuid.uuid4().hex}.part"
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                                       | os.O_CLOEXEC, 0o600)
        self._hash = hashlib.sha256()
        self.size = 0
        self.sha256 = ""

    def write(self, data: bytes) -> None:
        """Append ``data`` to the file and the hash."""
        assert self._fd is not None, "the upload is finished"
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._hash.update(data)
        self.size += len(data)

    def place(self) -> str:
        """Flush the file to disk and place it in the store (bytes already there are kept);
        returns its SHA-256 (hex). The temporary file stays until :meth:`finish` or
        :meth:`discard`.

        Raises:
            StoreUnavailable: the store could not take the bytes.
        """
        assert self._fd is not None, "the upload is finished"
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = None
        self.sha256 = self._hash.hexdigest()
        self._store.place(self.path, self.sha256)
        return self.sha256

    def finish(self) -> None:
        """Once the file's row is committed: make sure the bytes are in the store (a
        collection that found no row before the commit may have just taken them away: see
        the module's docstring), then remove the temporary file."""
        self._store.place(self.path, self.sha256)
        self.path.unlink(missing_ok=True)

    def discard(self) -> None:
        """Remove the temporary file (idempotent; bytes already placed stay)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.path.unlink(missing_ok=True)


class FileStore(abc.ABC):
    """Where the bytes of uploaded files are kept, by SHA-256; uploads in progress are
    temporary files in ``tmp_dir`` on this machine whatever the store.

    Methods that touch the disk or the network block: call them in a worker thread with
    :meth:`run`, which holds the store's :attr:`limiter`.
    """

    def __init__(self, tmp_dir: Path, limiter: trio.CapacityLimiter | None = None) -> None:
        self.tmp_dir = tmp_dir
        #: Caps the worker threads using the store at once (None: trio's default limiter).
        self.limiter = limiter

    async def run(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(*args)`` in a worker thread, under the store's :attr:`limiter`."""
        return await trio.to_thread.run_sync(fn, *args, limiter=self.limiter)

    @abc.abstractmethod
    def describe(self) -> str:
        """The store in words, for logs and messages (no secret in it)."""

    @abc.abstractmethod
    def check(self) -> None:
        """Make sure the store can be used (its folder made, its bucket answers).

        Raises:
            OSError: it cannot (:class:`StoreUnavailable` for a bucket).
        """

    @abc.abstractmethod
    def has(self, sha256: str) -> bool:
        """Whether the bytes with this SHA-256 are stored."""

    @abc.abstractmethod
    def place(self, path: Path, sha256: str) -> None:
        """Store the local file ``path``, whose SHA-256 is ``sha256``, under it; identical
        bytes already stored are kept (and not sent again). Durable when it returns."""

    @abc.abstractmethod
    def source(self, sha256: str) -> Source:
        """The bytes with this SHA-256, to send (opened later; missing then is a 404)."""

    @abc.abstractmethod
    def take_away(self, sha256: str) -> Aside | None:
        """Move the bytes stored under ``sha256`` aside (no longer served, but kept until
        :meth:`drop` or :meth:`put_back`); None when they were not there."""

    @abc.abstractmethod
    def put_back(self, aside: Aside) -> None:
        """Undo :meth:`take_away` (keeping identical bytes placed meanwhile)."""

    @abc.abstractmethod
    def drop(self, aside: Aside) -> None:
        """Remove bytes taken away, for good."""

    @abc.abstractmethod
    def stale_asides(self, before: float) -> list[Aside]:
        """Bytes taken away before the time ``before`` (seconds since the epoch) and neither
        dropped nor put back since: a collection that did not end."""

    def open_upload(self) -> Upload:
        """A new upload's temporary file (the folder is made if missing)."""
        self.tmp_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return Upload(self)

    def sweep(self, idle_seconds: float = SWEEP_IDLE_SECONDS) -> int:
        """Clean up after processes that died: remove the temporary files of uploads not
        written to for ``idle_seconds`` (other processes sharing the folder may be uploading:
        an upload in progress writes at least every ``http.body_idle_timeout``), and put
        back bytes a collection took away as long ago (see the module's docstring). Returns
        how many temporary files it removed."""
        deadline = time.time() - idle_seconds
        removed = 0
        if self.tmp_dir.is_dir():
            for leftover in self.tmp_dir.glob("*.part"):
                with contextlib.suppress(FileNotFoundError):
                    if leftover.stat().st_mtime < deadline:
                        leftover.unlink()
                        removed += 1
        for aside in self.stale_asides(deadline):
            log.warning("putting back the bytes %s that an interrupted collection took away",
                        aside.sha256)
            self.put_back(aside)
        return removed


class LocalStore(FileStore):
    """The files folder (``data_dir/files``): bytes at ``ab/cd/<sha256>``; bytes taken away
    wait in ``tmp/`` as ``<sha256>.<random>.gone``."""

    def __init__(self, root: Path) -> None:
        super().__init__(root / "tmp")
        self.root = root

    def describe(self) -> str:
        return f"the folder {self.root}"

    def path(self, sha256: str) -> Path:
        """Where the bytes with this SHA-256 (64 lower-case hex digits) are kept."""
        check_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def check(self) -> None:
        self.tmp_dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    def has(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def place(self, path: Path, sha256: str) -> None:
        target = self.path(sha256)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.link(path, target)
        _fsync_dir(target.parent)

    def source(self, sha256: str) -> Source:
        return LocalFile(self.path(sha256))

    def take_away(self, sha256: str) -> Aside | None:
        aside = self.tmp_dir / f"{sha256}.{uuid.uuid4().hex}.gone"
        self.tmp_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            os.rename(self.path(sha256), aside)
        except FileNotFoundError:
            return None
        return Aside(sha256, str(aside), aside.stat().st_size)

    def put_back(self, aside: Aside) -> None:
        target = self.path(aside.sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.link(aside.where, target)
        Path(aside.where).unlink(missing_ok=True)

    def drop(self, aside: Aside) -> None:
        Path(aside.where).unlink(missing_ok=True)

    def stale_asides(self, before: float) -> list[Aside]:
        found = []
        if self.tmp_dir.is_dir():
            for path in self.tmp_dir.glob("*.gone"):
                sha256 = path.name.split(".", 1)[0]
                with contextlib.suppress(FileNotFoundError):
                    status = path.stat()
                    if re.fullmatch(r"[0-9a-f]{64}", sha256) and status.st_mtime < before:
                        found.append(Aside(sha256, str(path), status.st_size))
        return found


def open_file_store(config: Config) -> FileStore:
    """The store ``[files] store`` names. Cheap: nothing is touched until it is used (an S3
    client is made in the first worker thread that needs one)."""
    files = config.files
    if files.store == "s3":
        from chatd.s3 import S3Store

        return S3Store(config.files_dir / "tmp", bucket=files.s3_bucket, prefix=files.s3_prefix,
                       endpoint=files.s3_endpoint, region=files.s3_region,
                       access_key=files.s3_access_key, secret_key=files.s3_secret_key)
    return LocalStore(config.files_dir)


async def collect(storage: Storage, store: FileStore, *, limit: int = 1000,
                  metrics: Metrics | None = None, unattached_seconds: float | None = None
                  ) -> int:
    """Remove the bytes that no kept file refers to any more (their messages were deleted,
    or, with ``unattached_seconds``, they were uploaded longer ago than that and never
    attached: those are expired first), as its content or as its thumbnail, and forget those
    files' rows; returns how many contents and thumbnails were removed.

    Safe against an upload of the same bytes at the same time, on any node sharing the
    store: the bytes are first moved aside, then the database is asked again, and if a kept
    row has appeared they are put back; an upload whose row commits after that second look
    finds its bytes missing when it finishes and places them again from its temporary file
    (:meth:`Upload.finish`). The module's docstring has the whole argument.

    Args:
        metrics: counts the files and bytes removed, when given.
    """
    removed = 0
    if unattached_seconds is not None:
        await storage.expire_uploads(unattached_seconds)
    for sha256 in await storage.dead_file_bytes(limit):
        kept, aside = await _remove_unless_kept(storage, store, sha256)
        if kept:
            continue
        if aside is not None:
            removed += 1
            if metrics is not None:
                metrics.files_collected.inc()
                metrics.file_bytes_collected.inc(aside.size)
        await storage.forget_dead_files(sha256)
    return removed


async def _remove_unless_kept(storage: Storage, store: FileStore, sha256: str
                              ) -> tuple[bool, Aside | None]:
    """Steps 2 and 3 of a collection (the module's docstring): take the bytes ``sha256``
    away, then put them back if a kept row refers to them now, else drop them. Returns
    whether a kept row refers to them, and what was taken away (None: they were not
    there)."""
    aside = await store.run(store.take_away, sha256)
    if aside is not None and await storage.file_bytes_in_use(sha256):
        await store.run(store.put_back, aside)
        return True, aside
    if aside is not None:
        await store.run(store.drop, aside)
    return False, aside


async def unplace(storage: Storage, store: FileStore, sha256: str) -> None:
    """Remove the bytes ``sha256`` that an upload placed and whose row was then refused
    (a quota reached meanwhile, a custom emoji's name taken by a concurrent add), unless a
    kept row refers to them: the same bytes uploaded by someone else, before or meanwhile.
    A collection's steps (:func:`collect`), so as safe against a concurrent upload of the
    same bytes; looks at the database first, so that bytes in use are not even taken away
    for a moment. Only for a refusal (a :class:`~chatd.errors.ChatError`: nothing was
    committed), never for a cancellation or a lost database, after which the row may
    commit yet. A failure (the database, the store) is logged, not raised: bytes without
    a row are harmless, only wasted room."""
    with trio.CancelScope(shield=True):
        try:
            if not await storage.file_bytes_in_use(sha256):
                await _remove_unless_kept(storage, store, sha256)
        except (StorageUnavailable, OSError) as exc:
            log.warning("the bytes of a refused upload could not be removed: %r", exc)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def collect_forever(storage: Storage, store: FileStore, *, metrics: Metrics | None = None,
                          interval: float = COLLECT_INTERVAL,
                          unattached_seconds: float | None = None) -> None:
    """Run :func:`collect` now and then every ``interval`` seconds, each time but the first
    after :meth:`FileStore.sweep` (the daemon sweeps at start-up itself), until cancelled; a
    failure (the database, the disk, the bucket) is logged and tried again next time."""
    while True:
        try:
            removed = await collect(storage, store, metrics=metrics,
                                    unattached_seconds=unattached_seconds)
        except (StorageUnavailable, OSError) as exc:
            log.warning("collecting the files of deleted messages failed: %r", exc)
        else:
            if removed:
                log.info("removed the bytes of %d files of deleted messages", removed)
        await trio.sleep(interval)
        try:
            swept = await store.run(store.sweep)
        except OSError as exc:
            log.warning("cleaning up after interrupted uploads failed: %r", exc)
        else:
            if swept:
                log.info("removed %d unfinished uploads from %s", swept, store.tmp_dir)
