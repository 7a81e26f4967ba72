"""The embedded PostgreSQL: a private server in ``<data_dir>/postgres``, run by pgserver.

With no ``[database] dsn`` configured, chatd runs its own PostgreSQL (pgserver bundles the
binaries), so that it works on a fresh machine with nothing else installed. The database
cluster lives in ``<data_dir>/postgres`` and is kept across restarts; the server listens on a
unix socket only (in that folder) and is stopped when the last user in this machine lets go of
it.

Facts about pgserver (as measured on the machines chatd is developed on) this module works
around:

- Starting blocks for about a second (initdb on first use), so :func:`start_embedded` runs it
  in a worker thread.
- It reads ``XDG_RUNTIME_DIR`` when it is imported (for an inter-process lock and, when the
  data path is too long for a unix socket, the socket); unset, platformdirs warns. We set it
  before the import.
- As root, PostgreSQL refuses to run; pgserver then runs it as the OS user ``pgserver``, chowns
  the cluster to it and opens read/traverse permission on every parent folder. We log that.
- As root it also chowns an existing cluster to ``pgserver``: one made by another user (the
  systemd unit's dynamic user) could then no longer be started by its owner. As root, we
  refuse such a cluster and name the user to run as.
- It counts the processes using a server in ``.handle_pids.json`` and only the last one stops
  it; a process that was killed never removes itself, so the server would never be stopped
  again. We drop dead processes from that list before attaching.
- Within one process it hands out one shared handle per folder without counting users; we
  count them here, so that two storages on the same folder (two daemons in one test) do not
  stop the server under each other.
- It never starts a server again once it runs: :meth:`EmbeddedPostgres.restart` does, when the
  postmaster died (a crash, an OOM kill, a SIGKILL). A killed postmaster whose parent does not
  reap it (PID 1 in some containers) stays a zombie that ``kill(pid, 0)`` still finds, and
  PostgreSQL then refuses to start ("is another postmaster running?"). So a zombie counts as
  dead, and its lock files (``postmaster.pid``, and the socket's) are removed before starting
  again, but only once nothing is attached to the dead server's shared memory interlock
  (``/proc/sysvipc/shm``): while an orphaned backend of the old server still runs, a new
  server on the same files would corrupt them, and the restart waits.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import pwd
import tempfile
import threading
from pathlib import Path
from typing import Any

import trio

from chatd.storage.base import StorageUnavailable

__all__ = ["EmbeddedPostgres", "cluster_exists", "cluster_path", "start_embedded"]

log = logging.getLogger("chatd.storage")

_SUBDIR = "postgres"
# The OS user pgserver runs PostgreSQL as when started by root.
_ROOT_SERVER_USER = "pgserver"

# Serialises starting and stopping in this process, and counts the users of each server.
_lock = threading.Lock()
_users: dict[Path, int] = {}


def _import_pgserver() -> Any:
    """Import pgserver, after making sure its import-time environment is right."""
    if not os.environ.get("XDG_RUNTIME_DIR"):
        os.environ["XDG_RUNTIME_DIR"] = str(_private_runtime_dir())
    try:
        import pgserver
    except ImportError as exc:
        raise StorageUnavailable(
            "the embedded PostgreSQL (pgserver) is not available on this machine "
            f"({exc}); pgserver ships wheels for CPython 3.9-3.12 on x86_64 Linux only. "
            "Set [database] dsn in chatd.toml (or CHATD_DATABASE_DSN) to a postgresql:// DSN "
            "of a PostgreSQL server instead."
        ) from exc
    return pgserver


def _private_runtime_dir() -> Path:
    """A folder for XDG_RUNTIME_DIR: ours, mode 0700 (platformdirs warns otherwise; pgserver
    itself may have opened it to 0755 when it put a server's socket there)."""
    uid = os.getuid()
    runtime = Path(tempfile.gettempdir()) / f"chatd-runtime-{uid}"
    try:
        runtime.mkdir(mode=0o700, exist_ok=True)
        info = runtime.lstat()
        if info.st_uid == uid and not runtime.is_symlink():
            runtime.chmod(0o700)
            return runtime
    except OSError:
        pass
    return Path(tempfile.mkdtemp(prefix="chatd-runtime-"))  # someone else's: use a fresh one


def cluster_path(data_dir: Path) -> Path:
    """The embedded cluster's folder for a data directory: ``<data_dir>/postgres``."""
    return Path(data_dir).expanduser().resolve() / _SUBDIR


def cluster_exists(data_dir: Path) -> bool:
    """Whether ``<data_dir>/postgres`` holds a database cluster (``chatd serve`` makes one on
    its first start). False too when this user may not look inside it."""
    return (cluster_path(data_dir) / "PG_VERSION").is_file()


def _refuse_foreign_cluster(path: Path) -> None:
    """As root, refuse a cluster that another user runs (a systemd unit's dynamic user):
    pgserver would chown it to its own user, and that user's server could not start again.

    Raises:
        StorageUnavailable: naming the owner to run as instead.
    """
    if os.geteuid() != 0:
        return
    try:
        owner = path.stat().st_uid
    except OSError:
        return  # no cluster yet: pgserver makes one for its own user
    allowed = {0}
    with contextlib.suppress(KeyError):
        allowed.add(pwd.getpwnam(_ROOT_SERVER_USER).pw_uid)
    if owner not in allowed:
        raise StorageUnavailable(
            f"the embedded database in {path} belongs to user id {owner}: run chatd as that "
            "user (under systemd: systemd-run -p User=chatd -p DynamicUser=yes "
            "-p StateDirectory=chatd ..., see docs/operations.md), not as root")


def _forget_dead_processes(pgdata: Path) -> None:
    """Drop killed processes from pgserver's list of users of this server (see above)."""
    pids_file = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(pids_file.read_text())
    except (OSError, ValueError):
        return
    if not isinstance(pids, list):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and _pid_alive(pid)]
    if alive != pids:
        pids_file.write_text(json.dumps(alive))


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (a zombie is dead, just not reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc to ask: trust kill()
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


@dataclasses.dataclass(frozen=True, slots=True)
class _LockFile:
    """What ``postmaster.pid`` says: the postmaster's pid, its shared memory interlock's id,
    and its unix socket's own lock file (which holds the same pid)."""

    pid: int
    shmid: int | None
    socket_lock: Path | None


def _read_lock_file(pgdata: Path) -> _LockFile | None:
    """``postmaster.pid`` (lines 1, 4, 5 and 7), or None without a readable one."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().split("\n")
        pid = int(lines[0])
    except (OSError, ValueError, IndexError):
        return None
    shmid: int | None = None
    with contextlib.suppress(IndexError, ValueError):
        shmid = int(lines[6].split()[1])
    socket_lock: Path | None = None
    with contextlib.suppress(IndexError, ValueError):
        if lines[4].strip():
            socket_lock = Path(lines[4].strip()) / f".s.PGSQL.{int(lines[3])}.lock"
    return _LockFile(pid, shmid, socket_lock)


def _remove_lock_files(pgdata: Path, dead: _LockFile) -> None:
    """Remove the lock files of a dead postmaster, so that PostgreSQL does not take a zombie
    for a running server; the socket's only if it names the same process."""
    with contextlib.suppress(FileNotFoundError):
        (pgdata / "postmaster.pid").unlink()
    if dead.socket_lock is None:
        return
    try:
        holder = int(dead.socket_lock.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return
    if holder == dead.pid:
        with contextlib.suppress(FileNotFoundError):
            dead.socket_lock.unlink()


def _shm_attached(shmid: int) -> int:
    """Processes attached to System V shared memory segment ``shmid`` (0 when it is gone)."""
    try:
        table = Path("/proc/sysvipc/shm").read_text().splitlines()
    except OSError:
        return 0
    for line in table[1:]:
        fields = line.split()
        if len(fields) > 6 and fields[1] == str(shmid):
            return int(fields[6])
    return 0


class EmbeddedPostgres:
    """A handle on the embedded server of one data directory; :meth:`stop` it when done.

    Attributes:
        path: the cluster folder, ``<data_dir>/postgres``.
        uri: a DSN asyncpg accepts, ``postgresql://postgres:@/postgres?host=<socket dir>``.
    """

    def __init__(self, path: Path, uri: str, server: Any) -> None:
        self.path = path
        self.uri = uri
        self._server = server
        self._stopped = False

    @classmethod
    def start(cls, data_dir: Path, *, create: bool = True) -> EmbeddedPostgres:
        """Start (or attach to) the server in ``<data_dir>/postgres``. Blocks ~1 s on first use.

        Args:
            data_dir: the daemon's data directory.
            create: make the cluster (and ``data_dir``) when there is none yet; with False
                (every command but ``serve`` and ``restore``), refuse instead.

        Raises:
            StorageUnavailable: pgserver is missing, there is no cluster and ``create`` is
                False, or the server would not start.
        """
        pgserver = _import_pgserver()
        data_dir = Path(data_dir).expanduser().resolve()
        path = data_dir / _SUBDIR
        if not create and not cluster_exists(data_dir):
            raise StorageUnavailable(f"no embedded database in {path} (chatd serve creates it "
                                     "on its first start)")
        _refuse_foreign_cluster(path)
        with _lock:
            try:
                data_dir.mkdir(parents=True, exist_ok=True)
                if os.geteuid() == 0 and path not in _users:
                    log.warning(
                        "running as root: the embedded PostgreSQL runs as OS user 'pgserver', "
                        "which gets %s and read/traverse permission on its parent folders",
                        path,
                    )
                if path.exists():
                    _forget_dead_processes(path)
                server = pgserver.get_server(path, cleanup_mode="stop")
                uri = server.get_uri()
            except Exception as exc:
                raise StorageUnavailable(
                    f"the embedded PostgreSQL in {path} did not start: {exc!r} (its log is "
                    f"{path / 'log'}); or set [database] dsn to use another PostgreSQL server"
                ) from exc
            _users[path] = _users.get(path, 0) + 1
        log.info("embedded PostgreSQL running in %s", path)
        return cls(path, uri, server)

    @property
    def running(self) -> bool:
        """Whether the server's postmaster is alive (reads its pid file: call off the loop).
        A stopped (SIGSTOP) postmaster is alive; a zombie is not."""
        if self._stopped:
            return False
        found = _read_lock_file(self.path)
        return found is not None and _pid_alive(found.pid)

    def restart(self) -> bool:
        """Start the server again if its postmaster has died. Blocks while PostgreSQL recovers
        and starts (``pg_ctl -w``; pgserver gives up after 10 s): call it in a worker thread.

        Returns:
            True if it started the server, False if the server was running already.

        Raises:
            StorageUnavailable: the handle was stopped, processes of the dead server still hold
                its shared memory (try again later), or the server would not start.
        """
        with _lock:
            if self._stopped:
                raise StorageUnavailable("the embedded PostgreSQL was released")
            found = _read_lock_file(self.path)
            if found is not None:
                if _pid_alive(found.pid):
                    return False
                if found.shmid is not None and (attached := _shm_attached(found.shmid)):
                    raise StorageUnavailable(
                        f"{attached} processes of the dead PostgreSQL in {self.path} still run")
                # Dead, or a zombie that PostgreSQL would take for a running server.
                _remove_lock_files(self.path, found)
            try:
                with self._server._lock:  # pgserver's lock between processes
                    self._server.ensure_postgres_running()
                uri = self._server.get_uri()
            except Exception as exc:
                raise StorageUnavailable(
                    f"the embedded PostgreSQL in {self.path} did not start again: {exc!r} "
                    f"(its log is {self.path / 'log'})") from exc
        if uri != self.uri:  # the socket folder is derived from the path: it should not move
            log.warning("the restarted embedded PostgreSQL listens at %s, not %s", uri, self.uri)
        return True

    def stop(self) -> None:
        """Let go of the server; the last user in the last process stops it. Idempotent.
        Blocks while PostgreSQL shuts down (a fraction of a second)."""
        with _lock:
            if self._stopped:
                return
            self._stopped = True
            left = _users.get(self.path, 1) - 1
            if left > 0:
                _users[self.path] = left
                return
            _users.pop(self.path, None)
            try:
                self._server.cleanup()
            except Exception:
                log.exception("stopping the embedded PostgreSQL in %s failed", self.path)
                return
        log.info("embedded PostgreSQL in %s released", self.path)

    async def aclose(self) -> None:
        """:meth:`stop` from trio, in a worker thread."""
        await trio.to_thread.run_sync(self.stop)


async def start_embedded(data_dir: Path, *, create: bool = True) -> EmbeddedPostgres:
    """:meth:`EmbeddedPostgres.start` from trio, in a worker thread.

    If the caller is cancelled while the server starts, the start completes, the server is
    stopped again and ``Cancelled`` is raised: nothing is left running.
    """
    server = await trio.to_thread.run_sync(
        functools.partial(EmbeddedPostgres.start, data_dir, create=create))
    try:
        await trio.lowlevel.checkpoint_if_cancelled()
    except BaseException:
        with trio.CancelScope(shield=True):
            await server.aclose()
        raise
    return server
