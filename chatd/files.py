"""Uploaded files on disk, and the rules for their names and types.

Theory of operation
-------------------
The bytes of a file live at ``files/ab/cd/<sha256>`` under ``data_dir`` (its SHA-256 in hex:
the first two pairs of digits as folders), so identical uploads share one file and a file
never changes once in place; its name, type, uploader and room are a row in the database
(``files``, migration 0007). The name a user gave is metadata only, never part of a path.

An upload is written to a temporary file of its own in ``files/tmp`` (created exclusively,
mode 0600), a chunk at a time, each write in a worker thread so that a slow disk never blocks
the event loop; its SHA-256 is computed as it streams. When the upload is complete the file is
flushed to disk (fsync) and hard-linked at its content path (an identical file already there is
kept), and the folder is synced, before the database row is written: a row never points to a
file that is not wholly on disk. The temporary file is removed once the row is committed. An
upload that fails or is cut off removes its temporary file; a process killed meanwhile leaves
at most a temporary file, which :meth:`FileStore.sweep` removes at start-up once it is an hour
old (another process sharing the folder may be writing a younger one). Bytes in place without
a row (a crash between the link and the insert) are harmless: no message can point to them
(nothing collects them yet).

Bytes are removed by :func:`collect` once every file that referred to them is gone (its
message deleted), which the daemon runs every :data:`COLLECT_INTERVAL` seconds. An upload of
the same bytes may race with it; the order of steps on both sides (see :func:`collect`) keeps
a committed row from ever pointing to missing bytes for longer than the upload's last step.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import time
import unicodedata
import uuid
from pathlib import Path

import trio

from chatd.storage import Storage, StorageUnavailable

log = logging.getLogger(__name__)

__all__ = [
    "COLLECT_INTERVAL",
    "INLINE_TYPES",
    "MAX_NAME_CHARS",
    "SWEEP_IDLE_SECONDS",
    "FileStore",
    "Upload",
    "collect",
    "collect_forever",
    "normalise_content_type",
    "sanitise_name",
    "served_type",
]

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


class Upload:
    """One upload being written to a temporary file. Its methods block: call them in a
    worker thread. One thread at a time."""

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
        """Flush the file to disk and link it at its content path (an identical file already
        there is kept); returns its SHA-256 (hex). The temporary file stays until
        :meth:`finish` or :meth:`discard`."""
        assert self._fd is not None, "the upload is finished"
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = None
        self.sha256 = self._hash.hexdigest()
        self._link()
        return self.sha256

    def finish(self) -> None:
        """Once the file's row is committed: make sure the bytes are at the content path (a
        collection that found no row before the commit may have just taken them away: see
        :func:`collect`), then remove the temporary file."""
        self._link()
        self.path.unlink(missing_ok=True)

    def _link(self) -> None:
        target = self._store.path(self.sha256)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.link(self.path, target)
        _fsync_dir(target.parent)

    def discard(self) -> None:
        """Remove the temporary file (idempotent; bytes already placed stay)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.path.unlink(missing_ok=True)


class FileStore:
    """The files folder (``data_dir/files``). Methods that touch the disk block: call them in
    a worker thread."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp_dir = root / "tmp"

    def path(self, sha256: str) -> Path:
        """Where the bytes with this SHA-256 (64 lower-case hex digits) are kept."""
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise ValueError(f"not a SHA-256: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def open_upload(self) -> Upload:
        """A new upload's temporary file (the folders are made if missing)."""
        self.tmp_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return Upload(self)

    def sweep(self, idle_seconds: float = SWEEP_IDLE_SECONDS) -> int:
        """Remove temporary files that uploads left behind: those not written to for
        ``idle_seconds`` (other processes sharing the folder may be uploading: an upload in
        progress writes at least every ``http.body_idle_timeout``). Returns how many."""
        removed = 0
        if self.tmp_dir.is_dir():
            deadline = time.time() - idle_seconds
            for leftover in self.tmp_dir.glob("*.part"):
                with contextlib.suppress(FileNotFoundError):
                    if leftover.stat().st_mtime < deadline:
                        leftover.unlink()
                        removed += 1
        return removed

    def take_away(self, sha256: str) -> Path | None:
        """Move the bytes stored under ``sha256`` aside (atomically; they are no longer
        served): the path they are now at, or None when they were not there."""
        aside = self.tmp_dir / f"{sha256}.{uuid.uuid4().hex}.gone"
        self.tmp_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            os.rename(self.path(sha256), aside)
        except FileNotFoundError:
            return None
        return aside

    def put_back(self, sha256: str, aside: Path) -> None:
        """Undo :meth:`take_away` (keeping an identical file placed meanwhile)."""
        target = self.path(sha256)
        with contextlib.suppress(FileExistsError):
            os.link(aside, target)
        aside.unlink(missing_ok=True)


async def collect(storage: Storage, store: FileStore, *, limit: int = 1000) -> int:
    """Remove the bytes that no kept file refers to any more (their messages were deleted),
    as its content or as its thumbnail, and forget those files' rows; returns how many
    contents and thumbnails were removed.

    Safe against an upload of the same bytes at the same time (on any node sharing the
    folder): the bytes are first moved aside, then the database is asked again; if a kept
    row has appeared they are put back. An upload whose row commits after that second look
    finds its bytes missing when it finishes and links them again from its temporary file
    (:meth:`Upload.finish`)."""
    removed = 0
    for sha256 in await storage.dead_file_bytes(limit):
        aside = await trio.to_thread.run_sync(store.take_away, sha256)
        if aside is not None and await storage.file_bytes_in_use(sha256):
            await trio.to_thread.run_sync(store.put_back, sha256, aside)
            continue
        if aside is not None:
            await trio.to_thread.run_sync(aside.unlink)
            removed += 1
        await storage.forget_dead_files(sha256)
    return removed


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def collect_forever(storage: Storage, store: FileStore,
                          interval: float = COLLECT_INTERVAL) -> None:
    """Run :func:`collect` now and then every ``interval`` seconds, until cancelled; a
    failure (the database or the disk) is logged and tried again next time."""
    while True:
        try:
            removed = await collect(storage, store)
        except (StorageUnavailable, OSError) as exc:
            log.warning("collecting the files of deleted messages failed: %r", exc)
        else:
            if removed:
                log.info("removed the bytes of %d files of deleted messages", removed)
        await trio.sleep(interval)
