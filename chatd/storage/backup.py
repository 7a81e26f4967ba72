"""``chatd backup FILE`` and ``chatd restore FILE``: the database and the uploaded files, in
one archive.

Theory of operation
-------------------
A backup is a tar archive (uncompressed: the dump is compressed already, and most files,
images above all, do not shrink) holding, in this order:

1. ``chatd-backup.json``, the manifest: the format's version, chatd's, where the files
   are (``"included"``, ``"left out"`` with ``--no-files``, or ``"s3"``), whether the keys
   are in it (``"included"``, ``"left out"`` with ``--no-keys``, or ``"none"`` when the data
   directory had none) and which (``key_files``);
2. ``database.dump``: the whole database, by PostgreSQL's own ``pg_dump`` (custom format);
3. ``keys/jwt_secret`` and ``keys/vapid_key``: the daemon's two secrets, copied from
   ``data_dir`` (those present);
4. ``files/ab/cd/<sha256>``: the bytes of every uploaded file of the local store
   (``data_dir/files``), each read from disk a chunk at a time as it is written.

**Why the files are in it.** A backup is what brings a server back after a lost disk; one
without the files would bring back messages whose files are 404. So by default the backup
holds them, and an operator who does nothing else has a complete backup. A large store
copied whole every night is costly, though: ``chatd backup --no-files`` leaves them out for
those who copy ``data_dir/files`` incrementally instead (``rsync``, snapshots: stored files
never change, so an incremental copy sends only the new ones), as docs/operations.md says,
and then restore the folder themselves. With ``[files] store = "s3"`` the files are not in
the backup: the bucket is backed up by S3's own means (versioning, replication), which a
tar on one machine could not do better.

**Why the keys are in it.** Two secrets live in ``data_dir``, not in the database, and the
database is worth less without them: ``jwt_secret`` signs every session token (and the
signed file links), and ``vapid_key`` is the key every browser's push subscription, which is
in the database, was made for. A daemon started without them makes new ones: every session
is refused (everyone logs in again; bot tokens, kept as hashes in the database, still work),
and every push is refused by the push services (Mozilla's answer 401, Google's 403, Apple's
400: chatd logs each, counts it "rejected" and keeps the subscription) until each person
opens the page, which subscribes again for the new key. A restore after a lost disk is when
nobody has those files any more, so by default the backup holds them, which makes it as
secret as they are (it is written 0600, as is the rest). ``--no-keys`` leaves them out, for
those who keep secrets apart from backups; the manifest says so and restore reminds the
operator to put them back.

**Order.** The dump is made first, then the files are read: a file uploaded in between is in
the archive without a row (harmless: nothing refers to it), whereas the other order would
leave rows whose bytes are missing. A file whose message is deleted and whose bytes are
collected (at most hourly) while the backup runs may be missing from it: its message, not yet
deleted in the dump, then shows a file that answers 404. A file missing when it is read is
left out without failing the backup.

**Restore** reads the manifest and the keys (checked before anything is touched: a
``jwt_secret`` of at least 32 bytes, a ``vapid_key`` that is a P-256 key in PEM; a key the
manifest lists but the archive lacks is refused), extracts the dump to a temporary file
(``$TMPDIR``: room for the dump is needed there), restores it exactly as it did a bare dump
(below), then writes the keys into ``data_dir`` (each to a temporary file of mode 0600
there, flushed, then renamed over the old one: replacing what a daemon started on the new
machine made, which matches nothing in the restored database), then reads the files one by
one into the configured store through the same path as uploads
(:meth:`chatd.files.FileStore.open_upload`: a temporary file, its SHA-256, placed), checking
each against its name: a damaged one is left out and named, and the restore then fails after
the rest. Only members named ``files/ab/cd/<sha256>``, ``keys/jwt_secret`` and
``keys/vapid_key`` are read, and never as a path: the archive cannot write anywhere else. A
backup restored into a daemon configured with the S3 store puts its files in the bucket (a
way to move from the folder to a bucket). A backup of chatd before archives (a bare pg_dump
file, recognised by its first bytes) still restores, as the database only; an archive made
before backups held the keys restores without them, as one made with ``--no-keys``: the keys
in ``data_dir`` are left as they are.

The database part
~~~~~~~~~~~~~~~~~
The work is done by PostgreSQL's own ``pg_dump`` and ``pg_restore``; this module finds them,
points them at the configured database and guards the two ways a restore can hurt.

- **Which database.** With a DSN, that server. Embedded, the server in ``<data_dir>/postgres``,
  attached to exactly as the daemon does: pgserver counts its users across processes, so a
  running daemon keeps its server and a server started here is stopped again afterwards. A
  backup is one consistent snapshot (pg_dump reads in one repeatable-read transaction), so it
  may run while chatd serves.
- **Which programs.** pg_dump and pg_restore must be at least as new as the server. pgserver
  bundles those of its PostgreSQL (``pgserver/pginstall/bin``); the embedded database always
  uses them. For a DSN the newest found among those, ``PATH`` and Debian's
  ``/usr/lib/postgresql/*/bin`` is used, checked against the server's version.
- **The file.** The archive and the dump (custom format, compressed; ``pg_restore --list``
  reads it) are written to temporary files made with mode 0600 in the destination folder,
  and the archive renamed over ``FILE`` only once complete: a failed backup neither leaves a
  truncated file nor replaces an older one, and the messages in it are never readable by
  others.
- **Restore refuses** a file that is not a chatd backup, a database that chatd daemons are
  connected to (stop them: their pools would fight the restore), and, unless ``force``, a
  database that holds users or messages, or tables chatd did not make. It then drops every
  table, view, sequence, function and type of the schema and runs pg_restore in one transaction,
  without owners and grants (the configured role owns what it restores). A backup of an older
  chatd restores as it was: the next ``chatd serve`` applies the newer migrations.
- **The keys** are written only once the database is restored, so the refusals above (a
  running daemon above all) leave ``data_dir`` untouched too. A daemon reads its keys once,
  at start: one running during a restore would go on signing with the keys it had. The check
  that no daemon is connected to the database stands for "no daemon uses this data_dir"
  (with the embedded database it is the same thing).

The DSN's password goes to the programs in ``PGPASSWORD``, not on their command line, where
``ps`` would show it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import asyncpg
import trio

from chatd import __version__
from chatd.auth import MIN_SECRET_BYTES, SECRET_FILE
from chatd.config import Config, redact_dsn
from chatd.files import FileStore, open_file_store
from chatd.storage.base import StorageUnavailable
from chatd.storage.bridge import open_bridge
from chatd.storage.embedded import start_embedded
from chatd.storage.migrations import load_migrations
from chatd.webpush import KEY_FILE, VapidKey

__all__ = ["DUMP", "KEY_MEMBERS", "MANIFEST", "BackupError", "Restored", "Written", "backup",
           "restore"]

# Seconds to wait for a connection: a database that does not answer should fail quickly.
CONNECT_TIMEOUT = 10.0

# The prefix of the application_name of every connection a chatd daemon opens.
_DAEMON_APPLICATION = "chatd-%"


class BackupError(Exception):
    """The backup or restore cannot be done; the message, one line, says why."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Database:
    """What restore needs to know about the target before touching it."""

    server_major: int
    tables: list[str]
    has_data: bool
    daemons: int


@dataclasses.dataclass(frozen=True, slots=True)
class _Target:
    """A database to run pg_dump or pg_restore on."""

    dsn: str  # with its password, for asyncpg
    embedded: bool

    def tool_args(self) -> tuple[str, dict[str, str]]:
        """The DSN for libpq's ``--dbname`` without its password, and the environment that
        carries the password instead."""
        parts = urllib.parse.urlsplit(self.dsn)
        env = dict(os.environ)
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        password = (urllib.parse.unquote(parts.password) if parts.password
                    else next((v for k, v in query if k == "password"), None))
        if password:
            env["PGPASSWORD"] = password
        netloc = parts.netloc.rsplit("@", 1)
        if len(netloc) == 2:
            netloc[0] = netloc[0].split(":", 1)[0]
        kept = urllib.parse.urlencode([(k, v) for k, v in query if k != "password"], safe="/")
        stripped = parts._replace(netloc="@".join(netloc), query=kept)
        return urllib.parse.urlunsplit(stripped), env


def _known_tables() -> set[str]:
    """The tables chatd's migrations make, and the migrations' own."""
    made = {"schema_migrations"}
    for migration in load_migrations():
        made.update(re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", migration.sql, re.I))
    return made


def _bundled_bin() -> Path | None:
    spec = find_spec("pgserver")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "pginstall" / "bin"
    return folder if folder.is_dir() else None


def _major(program: Path) -> int | None:
    """The PostgreSQL major version of a client program (``pg_dump (PostgreSQL) 16.2``)."""
    try:
        found = subprocess.run([str(program), "--version"], capture_output=True, text=True,
                               timeout=30, check=False)
    except OSError:
        return None
    version = re.search(r"\) (\d+)", found.stdout)
    return int(version.group(1)) if version else None


def _find_program(name: str, target: _Target, server_major: int) -> Path:
    """``name`` (pg_dump, pg_restore) for ``target``: see the module's docstring."""
    bundled = _bundled_bin()
    if target.embedded:
        if bundled is None:
            raise BackupError(f"pgserver's {name} is missing: reinstall chatd")
        return bundled / name
    candidates = [bundled / name] if bundled else []
    if on_path := shutil.which(name):
        candidates.append(Path(on_path))
    candidates += sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    versions = {path: major for path in candidates
                if path.is_file() and (major := _major(path)) is not None}
    if not versions:
        raise BackupError(f"no {name} found: install PostgreSQL's client programs "
                          f"(Debian: postgresql-client-{server_major})")
    newest = max(versions, key=lambda path: versions[path])
    if versions[newest] < server_major:
        raise BackupError(
            f"the newest {name} found ({newest}, PostgreSQL {versions[newest]}) is older than "
            f"the server (PostgreSQL {server_major}): install postgresql-client-{server_major}")
    return newest


@contextlib.asynccontextmanager
async def _open(config: Config, *, create: bool) -> AsyncIterator[_Target]:
    """The configured database, its embedded server started (or attached to) for the block."""
    if config.database.dsn:
        yield _Target(config.database.dsn, embedded=False)
        return
    server = await start_embedded(config.data_dir, create=create)
    try:
        yield _Target(server.uri, embedded=True)
    finally:
        with trio.CancelScope(shield=True):
            await server.aclose()


async def _inspect_on_loop(dsn: str) -> _Database:
    """Asyncio side: the facts restore decides on, and the server's version."""
    conn = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT)
    try:
        version = int(await conn.fetchval("SHOW server_version_num"))
        tables = [row[0] for row in await conn.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY 1")]
        has_data = False
        for table in ("users", "messages"):
            if table in tables:
                has_data = has_data or await conn.fetchval(
                    f"SELECT EXISTS (SELECT 1 FROM {table})")
        daemons = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name LIKE $1 "
            "AND pid <> pg_backend_pid()", _DAEMON_APPLICATION)
        return _Database(version // 10000, tables, bool(has_data), int(daemons))
    finally:
        await conn.close()


async def _wipe_on_loop(dsn: str) -> None:
    """Asyncio side: drop every table, view, sequence, function and type of the schema."""
    conn = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT)
    try:
        async with conn.transaction():
            relations = await conn.fetch(
                "SELECT c.relkind::text, c.oid::regclass::text FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'S')")
            kinds = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW",
                     "S": "SEQUENCE"}
            for kind, name in relations:
                await conn.execute(f"DROP {kinds[kind]} IF EXISTS {name} CASCADE")
            for (function,) in await conn.fetch(
                    "SELECT p.oid::regprocedure::text FROM pg_proc p "
                    "JOIN pg_namespace n ON n.oid = p.pronamespace "
                    "WHERE n.nspname = current_schema() AND p.prokind = 'f'"):
                await conn.execute(f"DROP FUNCTION IF EXISTS {function} CASCADE")
            # Types of their own (migration 0020's composite row type), not a table's row
            # type nor an array's: pg_restore creates them again.
            for (type_name,) in await conn.fetch(
                    "SELECT t.oid::regtype::text FROM pg_type t "
                    "JOIN pg_namespace n ON n.oid = t.typnamespace "
                    "WHERE n.nspname = current_schema() AND (t.typtype IN ('e', 'd', 'r', 'm') "
                    "OR (t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_class c "
                    "WHERE c.oid = t.typrelid AND c.relkind = 'c')))"):
                await conn.execute(f"DROP TYPE IF EXISTS {type_name} CASCADE")
    finally:
        await conn.close()


async def _on_loop(fn: Any, dsn: str) -> Any:
    """Run ``fn(dsn)`` on an asyncio loop of its own; database failures become
    :class:`StorageUnavailable`."""
    async with open_bridge(name="chatd-backup-loop") as bridge:
        try:
            return await bridge.run(fn, dsn)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise StorageUnavailable(f"cannot use PostgreSQL at {redact_dsn(dsn)}: "
                                     f"{exc!r}") from None


async def _run_tool(program: Path, args: list[str], env: dict[str, str],
                    stdout: int | None = None) -> None:
    result = await trio.run_process([str(program), *args], stdout=stdout, capture_stderr=True,
                                    env=env, check=False)
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip().splitlines()
        raise BackupError(f"{program.name} failed: {detail[-1] if detail else result.returncode}")


def _writable_path(file: Path) -> Path:
    file = file.expanduser().absolute()
    if file.is_dir():
        raise BackupError(f"{file} is a folder; name the backup file")
    if not file.parent.is_dir():
        raise BackupError(f"{file.parent}: no such folder")
    return file


def _readable_path(file: Path) -> Path:
    file = file.expanduser().absolute()
    if not file.is_file():
        raise BackupError(f"{file}: no such file")
    return file


@dataclasses.dataclass(frozen=True, slots=True)
class Written:
    """What :func:`backup` wrote: the archive's size in bytes, how many files it holds,
    where the files are (the manifest's ``files``: ``"included"``, ``"left out"``, ``"s3"``),
    whether the keys are in it (``keys``: ``"included"``, ``"left out"``, ``"none"``) and the
    names of those it holds (``jwt_secret``, ``vapid_key``)."""

    size: int
    files: int
    files_are: str
    keys_are: str = "none"
    keys: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Restored:
    """What :func:`restore` did: how many files it put in the store (0 from a bare dump),
    where the backup said the files are (``"none"`` for a bare dump), what it said of the
    keys (``"included"``, ``"left out"``, or ``"none"``: a bare dump, a backup made before
    archives held keys, or one whose data directory had none), and the key files it wrote
    (their paths in ``data_dir``)."""

    files: int
    files_are: str
    keys_are: str = "none"
    keys: tuple[Path, ...] = ()


MANIFEST = "chatd-backup.json"
DUMP = "database.dump"
FORMAT = 1
_PG_DUMP_MAGIC = b"PGDMP"
_FILE_MEMBER = re.compile(r"files/([0-9a-f]{2})/([0-9a-f]{2})/(\1\2[0-9a-f]{60})")
_CHUNK = 1024 * 1024
#: The secrets of ``data_dir`` a backup holds: their member names, and their files' names.
KEY_MEMBERS = {f"keys/{SECRET_FILE}": SECRET_FILE, f"keys/{KEY_FILE}": KEY_FILE}
# A key file is a few hundred bytes: a larger member is not one of ours.
_MAX_KEY_BYTES = 64 * 1024


def _read_keys(data_dir: Path) -> dict[str, bytes]:
    """The key files of ``data_dir`` that exist, by member name. Blocking.

    Raises:
        BackupError: one is larger than a key can be.
        OSError: one cannot be read.
    """
    found: dict[str, bytes] = {}
    for member, name in KEY_MEMBERS.items():
        try:
            with open(data_dir / name, "rb") as source:
                data = source.read(_MAX_KEY_BYTES + 1)
        except FileNotFoundError:
            continue
        if len(data) > _MAX_KEY_BYTES:
            raise BackupError(f"{data_dir / name} is larger than a key ({_MAX_KEY_BYTES} "
                              "bytes at most): is it chatd's?")
        found[member] = data
    return found


def _check_key(member: str, data: bytes) -> None:
    """Refuse a key the daemon could not use, as its loaders would (see
    :func:`chatd.auth.load_or_create_secret`, :func:`chatd.webpush.load_or_create_vapid_key`).

    Raises:
        ValueError: which is wrong with it.
    """
    if KEY_MEMBERS[member] == SECRET_FILE:
        if len(data) < MIN_SECRET_BYTES:
            raise ValueError(f"a JWT secret needs at least {MIN_SECRET_BYTES} bytes")
    else:
        VapidKey.from_pem(data)


def _content_files(root: Path) -> Iterator[tuple[str, Path]]:
    """The stored files of the local store ``root`` (``ab/cd/<sha256>``), a folder at a
    time: (their member name, their path)."""
    def folders(parent: Path) -> list[Path]:
        with contextlib.suppress(FileNotFoundError):
            return sorted(p for p in parent.iterdir()
                          if re.fullmatch(r"[0-9a-f]{2}", p.name) and p.is_dir())
        return []

    for first in folders(root):
        for second in folders(first):
            with contextlib.suppress(FileNotFoundError):
                for path in sorted(second.iterdir()):
                    name = f"files/{first.name}/{second.name}/{path.name}"
                    if _FILE_MEMBER.fullmatch(name):
                        yield name, path


def _add(tar: tarfile.TarFile, name: str, path: Path) -> bool:
    """Append the file ``path`` to ``tar`` as ``name``, read a chunk at a time; False when it
    is gone (a collection removed it meanwhile)."""
    try:
        source = open(path, "rb")  # noqa: SIM115 (closed below, after fstat)
    except FileNotFoundError:
        return False
    with source:
        status = os.fstat(source.fileno())
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = status.st_size, int(status.st_mtime), 0o600
        tar.addfile(info, source)
    return True


def _write_archive(partial: Path, dump: Path, manifest: dict[str, Any],
                   keys: dict[str, bytes], files_dir: Path | None) -> int:
    """Write the archive to ``partial`` (made here, mode 0600) and flush it to disk; the
    number of files it holds. Blocking: run it in a worker thread."""
    count = 0
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as raw:
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            text = json.dumps(manifest, indent=2).encode() + b"\n"
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(text), int(time.time()), 0o600
            tar.addfile(info, io.BytesIO(text))
            if not _add(tar, DUMP, dump):
                raise BackupError(f"the dump {dump} went away")
            for member, data in keys.items():
                info = tarfile.TarInfo(member)
                info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
                tar.addfile(info, io.BytesIO(data))
            if files_dir is not None:
                for name, path in _content_files(files_dir):
                    count += _add(tar, name, path)
        raw.flush()
        os.fsync(raw.fileno())
    return count


async def backup(config: Config, file: Path, *, files: bool = True,
                 keys: bool = True) -> Written:
    """Write the configured database, the keys of ``data_dir`` unless ``keys`` is False, and
    the files of the local store unless ``files`` is False, to the archive ``file`` (mode
    0600; see the module's docstring).

    Returns:
        What was written.

    Raises:
        BackupError: no suitable pg_dump, or it failed; ``file`` is then left as it was.
        StorageUnavailable: the database cannot be reached, or (embedded) there is none.
        OSError: a key or a file of the store could not be read.
    """
    file = _writable_path(file)
    files_are = ("s3" if config.files.store == "s3" else "included" if files else "left out")
    held = await trio.to_thread.run_sync(_read_keys, config.data_dir) if keys else {}
    keys_are = "included" if held else "left out" if not keys else "none"
    manifest = {"format": FORMAT, "chatd": __version__, "database": DUMP,
                "files": files_are, "keys": keys_are, "key_files": list(held)}
    async with _open(config, create=False) as target:
        facts = await _on_loop(_inspect_on_loop, target.dsn)
        program = _find_program("pg_dump", target, facts.server_major)
        dbname, env = target.tool_args()
        partial = file.with_name(f".{file.name}.partial-{os.getpid()}")
        dump = file.with_name(f".{file.name}.dump-{os.getpid()}")
        try:
            fd = os.open(dump, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise BackupError(f"cannot write {file}: {exc.strerror}") from None
        try:
            try:
                await _run_tool(program, ["--format=custom", f"--dbname={dbname}"], env,
                                stdout=fd)
            finally:
                os.close(fd)
            count = await trio.to_thread.run_sync(
                _write_archive, partial, dump, manifest, held,
                config.files_dir if files_are == "included" else None)
            os.replace(partial, file)
        except BaseException:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise
        finally:
            with contextlib.suppress(OSError):
                dump.unlink()
    return Written(file.stat().st_size, count, files_are, keys_are,
                   tuple(KEY_MEMBERS[member] for member in held))


def _read_manifest(file: Path) -> dict[str, Any] | None:
    """The manifest of a chatd archive; None for a file that is not an archive (a bare
    pg_dump file of older backups, or anything else: pg_restore then says what it is).

    Raises:
        BackupError: a tar archive that is not a chatd backup.
    """
    with open(file, "rb") as raw:
        if raw.read(len(_PG_DUMP_MAGIC)) == _PG_DUMP_MAGIC:
            return None
    if not tarfile.is_tarfile(file):
        return None
    with tarfile.open(file, "r:") as tar:
        first = tar.next()
        source = tar.extractfile(first) if first is not None and first.name == MANIFEST \
            else None
        try:
            manifest = json.loads(source.read(65536)) if source is not None else None
        except ValueError:
            manifest = None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("format"), int):
        raise BackupError(f"{file} is a tar archive but not a chatd backup (no {MANIFEST})")
    if manifest["format"] > FORMAT:
        raise BackupError(f"{file} was made by a newer chatd ({manifest.get('chatd')}): "
                          "restore it with that version or newer")
    return manifest


def _extract_dump(file: Path, scratch: Path) -> Path:
    """Copy the archive's dump to a file in ``scratch``; its path."""
    with tarfile.open(file, "r:") as tar:
        for member in tar:
            if member.name == DUMP and member.isreg():
                source = tar.extractfile(member)
                assert source is not None
                target = scratch / DUMP
                with open(target, "wb") as out:
                    shutil.copyfileobj(source, out, _CHUNK)
                return target
    raise BackupError(f"{file} holds no {DUMP}: it is not a whole chatd backup")


def _extract_keys(file: Path, manifest: dict[str, Any]) -> dict[str, bytes]:
    """The keys of the archive ``file``, by member name, each checked (:func:`_check_key`).
    They follow the dump: the reading stops at the first member that is neither. Blocking.

    Raises:
        BackupError: a key is damaged, or one the manifest lists is missing.
    """
    listed = manifest.get("key_files", [])
    if not isinstance(listed, list) or not all(name in KEY_MEMBERS for name in listed
                                               if isinstance(name, str)) \
            or not all(isinstance(name, str) for name in listed):
        raise BackupError(f"{file}: the manifest's key_files is not a list of "
                          f"{', '.join(KEY_MEMBERS)}")
    found: dict[str, bytes] = {}
    with tarfile.open(file, "r:") as tar:
        for member in tar:
            if member.name in (MANIFEST, DUMP):
                continue
            if member.name not in KEY_MEMBERS:
                break
            source = tar.extractfile(member) if member.isreg() else None
            if source is None or member.size > _MAX_KEY_BYTES:
                raise BackupError(f"{file}: {member.name} is not a key file")
            data = source.read()
            try:
                _check_key(member.name, data)
            except ValueError as exc:
                raise BackupError(f"{file}: {member.name} is damaged: {exc}") from None
            found[member.name] = data
    if missing := [member for member in listed if member not in found]:
        raise BackupError(f"{file} lacks {', '.join(missing)}, which its manifest lists: "
                          "the archive is damaged")
    return found


def _write_keys(data_dir: Path, keys: dict[str, bytes]) -> tuple[Path, ...]:
    """Put ``keys`` (by member name) into ``data_dir``, each replacing the file there at
    once: written to a temporary file of mode 0600 beside it, flushed, renamed over it. Their
    paths. Blocking.

    Run as root (a restore with an external PostgreSQL may be), the files are given to the
    owner of ``data_dir``: the daemon, running as that user, could not read a root's 0600
    file, and would fail to start.

    Raises:
        OSError: ``data_dir`` cannot take them.
    """
    if not keys:
        return ()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder_status = data_dir.stat()
    written: list[Path] = []
    for member, data in keys.items():
        path = data_dir / KEY_MEMBERS[member]
        partial = data_dir / f".{path.name}.restore-{os.getpid()}-{os.urandom(4).hex()}"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            if os.geteuid() == 0:
                os.fchown(fd, folder_status.st_uid, folder_status.st_gid)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, path)
        except BaseException:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise
        written.append(path)
    folder = os.open(data_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)  # the renames themselves survive a crash
    finally:
        os.close(folder)
    return tuple(written)


def _restore_files(file: Path, store: FileStore) -> tuple[int, list[str]]:
    """Put the archive's files in ``store``, each checked against its name: how many, and
    the names of those whose bytes do not match (left out). Blocking."""
    store.check()
    count = 0
    damaged: list[str] = []
    with tarfile.open(file, "r:") as tar:
        while (member := tar.next()) is not None:
            # tarfile keeps every member it has read (for getmembers): with a million files,
            # that is memory for nothing here, where each is read once, in order.
            tar.members.clear()  # type: ignore[attr-defined]
            match = _FILE_MEMBER.fullmatch(member.name)
            source = tar.extractfile(member) if match and member.isreg() else None
            if match is None or source is None:
                continue
            digest = hashlib.sha256()
            upload = store.open_upload()
            try:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    upload.write(chunk)
                if digest.hexdigest() != match[3]:
                    damaged.append(member.name)
                    continue
                upload.place()
                upload.finish()
                count += 1
            finally:
                upload.discard()
    return count, damaged


async def _check_archive(program: Path, dump: Path, file: Path) -> None:
    """Refuse a dump pg_restore cannot read, or one that holds no chatd database (``file``:
    the backup it comes from, named in the messages)."""
    result = await trio.run_process([str(program), "--list", str(dump)], capture_stdout=True,
                                    capture_stderr=True, check=False)
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip().splitlines()
        raise BackupError(f"{file} is not a backup pg_restore can read"
                          + (f" ({detail[-1]})" if detail else ""))
    if not re.search(rb" TABLE \S+ schema_migrations ", result.stdout):
        raise BackupError(f"{file} is not a chatd backup (it holds no schema_migrations table)")


async def restore(config: Config, file: Path, *, force: bool = False) -> Restored:
    """Load a backup made by :func:`backup` into the configured database, its keys into
    ``data_dir`` (replacing those there) and its files into the configured store; or an
    older backup, a bare pg_dump file, into the database.

    Embedded, the database is created if there is none (a restore on a fresh machine).

    Args:
        force: replace a database that holds users or messages, or tables chatd did not make.

    Returns:
        What was restored.

    Raises:
        BackupError: the file is not a chatd backup, a key in it is damaged, daemons are
            connected, the database holds data and ``force`` is False, no suitable
            pg_restore, or it failed (nothing is changed then); or some files of the archive
            were damaged (the database, the keys and the other files are restored then).
        StorageUnavailable: the database cannot be reached.
        OSError: ``data_dir`` cannot take the keys, or the store the files.
    """
    file = _readable_path(file)
    manifest = await trio.to_thread.run_sync(_read_manifest, file)
    keys = {} if manifest is None else await trio.to_thread.run_sync(_extract_keys, file,
                                                                      manifest)
    with tempfile.TemporaryDirectory(prefix="chatd-restore-") as scratch:
        dump = file if manifest is None else await trio.to_thread.run_sync(
            _extract_dump, file, Path(scratch))
        await _restore_database(config, file, dump, force=force)
    if manifest is None:
        return Restored(0, "none")
    written = await trio.to_thread.run_sync(_write_keys, config.data_dir, keys)
    keys_are = str(manifest.get("keys", "none"))
    count, damaged = await trio.to_thread.run_sync(_restore_files, file,
                                                   open_file_store(config))
    if damaged:
        keys_too = ", the keys" if written else ""
        raise BackupError(f"restored the database{keys_too} and {count} files, but "
                          f"{len(damaged)} "
                          f"files of {file} are damaged (their bytes do not match their "
                          f"names) and were left out: {', '.join(damaged[:5])}"
                          + (", ..." if len(damaged) > 5 else ""))
    return Restored(count, str(manifest.get("files", "")), keys_are, written)


async def _restore_database(config: Config, file: Path, dump: Path, *, force: bool) -> None:
    """:func:`restore`'s database part, from ``dump`` (``file``'s, or ``file`` itself)."""
    async with _open(config, create=True) as target:
        facts = await _on_loop(_inspect_on_loop, target.dsn)
        program = _find_program("pg_restore", target, facts.server_major)
        await _check_archive(program, dump, file)
        label = config.database_label
        if facts.daemons:
            raise BackupError(f"{facts.daemons} connection(s) of a running chatd use {label}: "
                              "stop chatd (every node) before restoring")
        foreign = sorted(set(facts.tables) - _known_tables())
        if not force and facts.has_data:
            raise BackupError(f"{label} already holds users or messages: restore --force "
                              "replaces them")
        if not force and foreign:
            raise BackupError(f"{label} holds tables chatd did not make ({', '.join(foreign)}): "
                              "restore --force drops them")
        if facts.tables:
            await _on_loop(_wipe_on_loop, target.dsn)
        dbname, env = target.tool_args()
        await _run_tool(program, ["--single-transaction", "--exit-on-error", "--no-owner",
                                  "--no-privileges", f"--dbname={dbname}", str(dump)], env)
