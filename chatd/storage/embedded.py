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
"""

from __future__ import annotations

import contextlib
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
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
        """Whether the server's postmaster is alive (reads its pid file: call off the loop)."""
        if self._stopped:
            return False
        try:
            pid = int((self.path / "postmaster.pid").read_text().split("\n", 1)[0])
            os.kill(pid, 0)
        except (OSError, ValueError):
            return False
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
