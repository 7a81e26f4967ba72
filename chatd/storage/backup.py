"""``chatd backup FILE`` and ``chatd restore FILE``: the database as a pg_dump archive.

Theory of operation
-------------------
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
- **The file.** The custom format (compressed; ``pg_restore --list`` reads it), written to a
  temporary file made with mode 0600 in the destination folder and renamed over ``FILE`` only
  once pg_dump succeeded: a failed backup neither leaves a truncated file nor replaces an older
  one, and the messages in it are never readable by others.
- **Restore refuses** a file that is not a chatd backup, a database that chatd daemons are
  connected to (stop them: their pools would fight the restore), and, unless ``force``, a
  database that holds users or messages, or tables chatd did not make. It then drops every
  table, view, sequence and function of the schema and runs pg_restore in one transaction,
  without owners and grants (the configured role owns what it restores). A backup of an older
  chatd restores as it was: the next ``chatd serve`` applies the newer migrations.

The DSN's password goes to the programs in ``PGPASSWORD``, not on their command line, where
``ps`` would show it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import subprocess
import urllib.parse
from collections.abc import AsyncIterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import asyncpg
import trio

from chatd.config import Config, redact_dsn
from chatd.storage.base import StorageUnavailable
from chatd.storage.bridge import open_bridge
from chatd.storage.embedded import start_embedded
from chatd.storage.migrations import load_migrations

__all__ = ["BackupError", "backup", "restore"]

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
    """Asyncio side: drop every table, view, sequence and function of the schema."""
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


async def backup(config: Config, file: Path) -> int:
    """Write the configured database to ``file`` (pg_dump custom format, mode 0600).

    Returns:
        The size of the file, in bytes.

    Raises:
        BackupError: no suitable pg_dump, or it failed; ``file`` is then left as it was.
        StorageUnavailable: the database cannot be reached, or (embedded) there is none.
    """
    file = _writable_path(file)
    async with _open(config, create=False) as target:
        facts = await _on_loop(_inspect_on_loop, target.dsn)
        program = _find_program("pg_dump", target, facts.server_major)
        dbname, env = target.tool_args()
        partial = file.with_name(f".{file.name}.partial-{os.getpid()}")
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise BackupError(f"cannot write {file}: {exc.strerror}") from None
        try:
            try:
                await _run_tool(program, ["--format=custom", f"--dbname={dbname}"], env,
                                stdout=fd)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(partial, file)
        except BaseException:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise
    return file.stat().st_size


async def _check_archive(program: Path, file: Path) -> None:
    """Refuse a file pg_restore cannot read, or one that holds no chatd database."""
    result = await trio.run_process([str(program), "--list", str(file)], capture_stdout=True,
                                    capture_stderr=True, check=False)
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip().splitlines()
        raise BackupError(f"{file} is not a backup pg_restore can read"
                          + (f" ({detail[-1]})" if detail else ""))
    if not re.search(rb" TABLE \S+ schema_migrations ", result.stdout):
        raise BackupError(f"{file} is not a chatd backup (it holds no schema_migrations table)")


async def restore(config: Config, file: Path, *, force: bool = False) -> None:
    """Load a backup made by :func:`backup` into the configured database.

    Embedded, the database is created if there is none (a restore on a fresh machine).

    Args:
        force: replace a database that holds users or messages, or tables chatd did not make.

    Raises:
        BackupError: the file is not a chatd backup, daemons are connected, the database holds
            data and ``force`` is False, no suitable pg_restore, or it failed.
        StorageUnavailable: the database cannot be reached.
    """
    file = _readable_path(file)
    async with _open(config, create=True) as target:
        facts = await _on_loop(_inspect_on_loop, target.dsn)
        program = _find_program("pg_restore", target, facts.server_major)
        await _check_archive(program, file)
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
                                  "--no-privileges", f"--dbname={dbname}", str(file)], env)
