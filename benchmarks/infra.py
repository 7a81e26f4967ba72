"""What the scenarios stand on: the PostgreSQL server, the chatd daemon as a subprocess, bulk
accounts and tokens, and readings of a process's CPU time and memory from /proc.

Everything listens on 127.0.0.1 or on a unix socket in a temporary folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import jwt

__all__ = [
    "BenchPostgres",
    "Daemon",
    "ProcReading",
    "commit_info",
    "machine_info",
    "mint_tokens",
    "raise_nofile",
    "read_proc",
]

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
PASSWORD = "bench-password"


def raise_nofile() -> int:
    """Raise this process's open-file limit to its hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def machine_info() -> dict[str, Any]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    node = ""
    if shutil.which("node"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            node = subprocess.run(["node", "--version"], capture_output=True, text=True,
                                  timeout=10).stdout.strip()
    return {
        "cpu": cpu, "cores": os.cpu_count(), "mem_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(), "os": _os_name(), "python": platform.python_version(),
        "node": node, "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
    }


def _os_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    return platform.system()


def commit_info() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"commit": git("rev-parse", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


# ------------------------------------------------------------------------------ /proc readings

@dataclass(frozen=True)
class ProcReading:
    """CPU seconds (user + system) and resident memory of a process (and its children, when
    read with ``tree``) at one moment."""

    at: float
    cpu: float
    rss_kib: int


def _stat(pid: int) -> tuple[int, float, int]:
    """(ppid, cpu seconds, rss KiB) of one process from /proc/<pid>/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rfind(")") + 2:].split()
    ppid = int(fields[1])
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    rss = int(fields[21]) * PAGE_KIB
    return ppid, cpu, rss


def vm_rss_kib(pid: int) -> int:
    """VmRSS of a process, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def read_proc(pid: int, *, tree: bool = False) -> ProcReading:
    """CPU and memory of ``pid``; with ``tree``, summed over it and its descendants (e.g. a
    postmaster and its backends)."""
    now = time.monotonic()
    if not tree:
        _, cpu, _ = _stat(pid)
        return ProcReading(now, cpu, vm_rss_kib(pid))
    children: dict[int, list[int]] = {}
    stats: dict[int, tuple[float, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            ppid, cpu, rss = _stat(int(entry))
            children.setdefault(ppid, []).append(int(entry))
            stats[int(entry)] = (cpu, rss)
    total_cpu, total_rss, todo = 0.0, 0, [pid]
    while todo:
        p = todo.pop()
        cpu, rss = stats.get(p, (0.0, 0))
        total_cpu += cpu
        total_rss += rss
        todo.extend(children.get(p, []))
    return ProcReading(now, total_cpu, total_rss)


def cpu_share(before: ProcReading, after: ProcReading) -> float:
    """CPU used between two readings, in cores (1.0 = one core busy all the time)."""
    wall = after.at - before.at
    return (after.cpu - before.cpu) / wall if wall > 0 else 0.0


# ------------------------------------------------------------------------------ PostgreSQL

def with_database(dsn: str, name: str) -> str:
    """``dsn`` pointing at database ``name``."""
    parts = urllib.parse.urlsplit(dsn)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def socket_dir(dsn: str) -> tuple[str, int]:
    """(unix socket folder or host, port) of a DSN, for node-postgres."""
    parts = urllib.parse.urlsplit(dsn)
    query = urllib.parse.parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "127.0.0.1"])[0]
    port = int(query.get("port", [parts.port or 5432])[0])
    return host, port


class BenchPostgres:
    """The PostgreSQL every server under test shares: an embedded one (pgserver, the same
    binaries chatd embeds, default settings: fsync and synchronous_commit on) in a temporary
    folder, or an existing server given by DSN (a role that may create databases)."""

    def __init__(self, dsn: str | None = None) -> None:
        self._server: Any = None
        self._root: Path | None = None
        self._created: list[str] = []
        if dsn:
            self.dsn = dsn
            return
        # Under /tmp, never under a home folder: as root, pgserver opens read/traverse
        # permission on every parent folder of the cluster, up to /.
        self._root = Path(tempfile.mkdtemp(prefix="chatd-bench-pg-", dir="/tmp"))
        # pgserver keeps an inter-process lock file there (created again at exit): a folder
        # that outlives the run rather than one inside the folder we remove.
        runtime = Path(tempfile.gettempdir()) / f"chatd-bench-runtime-{os.getuid()}"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
        import logging

        logging.getLogger("pgserver").setLevel(logging.WARNING)
        import pgserver

        get_server: Any = getattr(pgserver, "get_server")  # noqa: B009 (not in its __all__)
        self._server = get_server(self._root / "pgdata", cleanup_mode="stop")
        self.dsn = self._server.get_uri()

    @property
    def postmaster_pid(self) -> int | None:
        if self._server is None:
            return None
        pid: int | None = self._server.get_pid()
        return pid

    def create_database(self, name: str) -> str:
        """A fresh (dropped and re-created) database; its DSN."""
        async def run() -> None:
            conn = await asyncpg.connect(self.dsn)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()

        asyncio.run(run())
        self._created.append(name)
        return with_database(self.dsn, name)

    def drop_created(self) -> None:
        """Drop the databases made by :meth:`create_database` (on a server we do not own)."""
        if self._server is not None or not self._created:
            return

        async def run() -> None:
            conn = await asyncpg.connect(self.dsn)
            try:
                for name in self._created:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()

        asyncio.run(run())
        self._created.clear()

    def settings(self) -> dict[str, str]:
        async def run() -> dict[str, str]:
            conn = await asyncpg.connect(self.dsn)
            try:
                rows = await conn.fetch(
                    "SELECT name, setting FROM pg_settings WHERE name = ANY($1::text[])",
                    ["fsync", "synchronous_commit", "shared_buffers", "wal_level",
                     "max_connections", "server_version"])
                return {r["name"]: r["setting"] for r in rows}
            finally:
                await conn.close()

        return asyncio.run(run())

    def close(self) -> None:
        if self._server is not None:
            with contextlib.suppress(Exception):
                self._server.cleanup()
            self._server = None
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None


# ------------------------------------------------------------------------------ the daemon

LISTENING = re.compile(rb"listening: http://[\d.]+:(\d+) .*tcp [\d.]+:(\d+)")


@dataclass
class Daemon:
    """``python -m chatd serve`` in a subprocess, on ports 0, logging to a file."""

    data_dir: Path
    dsn: str
    env_extra: Mapping[str, str] = field(default_factory=dict)
    python: str = sys.executable
    proc: subprocess.Popen[bytes] | None = None
    http_port: int = 0
    tcp_port: int = 0
    log_path: Path | None = None
    #: ``chatd serve --workers N`` (None: one process).
    workers: int | None = None
    #: The checkout whose chatd runs (``python -m chatd`` imports it from there; None: this one).
    cwd: Path | None = None

    def start(self, timeout: float = 60.0) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATD_")}
        env.update({
            "CHATD_SERVER_DATA_DIR": str(self.data_dir), "CHATD_DATABASE_DSN": self.dsn,
            "CHATD_HTTP_PORT": "0", "CHATD_TCP_PORT": "0", "CHATD_HTTP_HOST": "127.0.0.1",
            "CHATD_TCP_HOST": "127.0.0.1", "CHATD_SERVER_LOG_LEVEL": "info", **self.env_extra,
        })
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / f"chatd-{int(time.time() * 1000)}.log"
        log = self.log_path.open("wb")
        args = ["--workers", str(self.workers)] if self.workers else []
        self.proc = subprocess.Popen([self.python, "-m", "chatd", "serve", *args],
                                     cwd=self.cwd or ROOT,
                                     env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_bytes()
            found = LISTENING.search(text)
            # With workers, the parent logs the ports first; serving is when all say so.
            if found and (not self.workers or b"workers are serving" in text):
                self.http_port, self.tcp_port = int(found[1]), int(found[2])
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"chatd did not start; its log:\n{self.log_text()[-4000:]}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log_text(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30.0) -> float:
        """SIGTERM and wait; returns the seconds the drain took."""
        if self.proc is None:
            return 0.0
        started = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        return time.monotonic() - started

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def secret(self) -> bytes:
        return (self.data_dir / "jwt_secret").read_bytes()


# ------------------------------------------------------------------------------ accounts

def _password_hash() -> str:
    from argon2 import PasswordHasher

    return PasswordHasher().hash(PASSWORD)


def create_users(dsn: str, prefix: str, count: int) -> list[tuple[int, str]]:
    """``count`` accounts named ``<prefix><i>`` straight in chatd's ``users`` table (hashing
    10,000 passwords through the API would take minutes of argon2), all with the password
    ``bench-password``; returns (id, name) in order. Existing ones are reused."""
    password_hash = _password_hash()

    async def run() -> list[tuple[int, str]]:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(
                "INSERT INTO users (name, password_hash) "
                "SELECT $1 || g, $2 FROM generate_series(0, $3 - 1) AS g "
                "ON CONFLICT DO NOTHING", prefix, password_hash, count)
            rows = await conn.fetch(
                "SELECT id, name FROM users WHERE name = ANY($1::text[])",
                [f"{prefix}{i}" for i in range(count)])
        finally:
            await conn.close()
        by_name = {r["name"]: r["id"] for r in rows}
        return [(by_name[f"{prefix}{i}"], f"{prefix}{i}") for i in range(count)]

    return asyncio.run(run())


def mint_tokens(secret: bytes, users: list[tuple[int, str]], ttl: int = 86400) -> list[str]:
    """HS256 tokens shaped as ``POST /api/login`` issues them (sub, name, jti, iat in ms
    precision, exp), signed with the daemon's secret; what ``chatd token`` does, in bulk."""
    now = time.time()
    return [
        jwt.encode({"sub": str(uid), "name": name, "jti": secrets.token_urlsafe(12),
                    "iat": round(now - 1, 3), "exp": int(now) + ttl}, secret, algorithm="HS256")
        for uid, name in users
    ]


@contextlib.contextmanager
def running(daemon: Daemon) -> Iterator[Daemon]:
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()
