"""The Socket.IO + PostgreSQL peer (``benchmarks/peers/socketio/``): installed with npm, run
with node, driven by its Node load generator through the same ready/go/done handshake as the
Python workers."""

from __future__ import annotations

import json
import os
import queue
import secrets
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

import jwt

from benchmarks.infra import socket_dir
from benchmarks.loadgen import Spec

__all__ = ["CHATD_LOADGEN", "PEER_LOADGEN", "NodeWorker", "Peer", "node_available",
           "npm_install", "peer_tokens"]

PEER_DIR = Path(__file__).resolve().parent / "peers" / "socketio"
PEER_LOADGEN = PEER_DIR / "loadgen.js"
#: chatd's protocol from Node (standard library only: no npm install needed).
CHATD_LOADGEN = PEER_DIR.parent / "chatd" / "loadgen.js"


def node_available(*, npm: bool = True) -> bool:
    return shutil.which("node") is not None and (not npm or shutil.which("npm") is not None)


def npm_install() -> None:
    """``npm install`` in the peer's folder unless its node_modules are up to date."""
    stamp = PEER_DIR / "node_modules" / ".package-lock.json"
    lock = PEER_DIR / "package-lock.json"
    if stamp.exists() and lock.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return
    command = ["npm", "ci"] if lock.exists() else ["npm", "install"]
    subprocess.run([*command, "--no-audit", "--no-fund", "--loglevel=error"], cwd=PEER_DIR,
                   check=True, timeout=600)


def peer_tokens(secret: str, count: int, prefix: str) -> list[str]:
    """HS256 tokens for users 1..count of the peer (it keeps no accounts, as typical apps
    that trust their login service's JWT)."""
    now = int(time.time())
    return [jwt.encode({"sub": str(i + 1), "name": f"{prefix}{i}", "iat": now,
                        "exp": now + 86400}, secret, algorithm="HS256") for i in range(count)]


class Peer:
    """``node server.js`` on a free port of 127.0.0.1, against database ``dsn``."""

    def __init__(self, dsn: str, log_dir: Path) -> None:
        self.secret = secrets.token_hex(32)
        host, port = socket_dir(dsn)
        database = urllib.parse.urlsplit(dsn).path.lstrip("/")
        env = {**os.environ, "JWT_SECRET": self.secret, "PORT": "0", "PGHOST": host,
               "PGPORT": str(port), "PGUSER": "postgres", "PGDATABASE": database,
               "PG_POOL": "10", "NODE_ENV": "production"}
        log_dir.mkdir(parents=True, exist_ok=True)
        self._log_path = log_dir / f"peer-{time.time_ns()}.log"
        self._log = self._log_path.open("wb")
        self.proc = subprocess.Popen(["node", "server.js"], cwd=PEER_DIR, env=env,
                                     stdout=subprocess.PIPE, stderr=self._log,
                                     stdin=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        if not line.startswith("listening: "):
            self.stop()
            raise RuntimeError(f"the Socket.IO peer did not start: {line!r}\n"
                               f"{self._log_path.read_text(errors='replace')[-3000:]}")
        self.port = int(line.split()[1])

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class NodeWorker:
    """A Node load generator (``script``: the peer's by default, or :data:`CHATD_LOADGEN`)
    for one :class:`Spec`, through the same handshake as the Python workers (the scenarios
    and measurements it shares with the others are in ``peers/harness.js``)."""

    def __init__(self, spec: Spec, spool: Path, script: Path = PEER_LOADGEN) -> None:
        spool.mkdir(parents=True, exist_ok=True)
        path = spool / f"{spec.name}-{time.time_ns()}.json"
        path.write_text(json.dumps({"kind": spec.kind, "host": spec.host, "port": spec.port,
                                    "clients": spec.clients, "params": spec.params}))
        self._path = path
        self.proc = subprocess.Popen(["node", "--max-old-space-size=4096", script.name,
                                      str(path)], cwd=script.parent, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        self._lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(b"")

    def send(self, tag: str, value: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({tag: value}) + "\n").encode())
        self.proc.stdin.flush()

    def receive(self, timeout: float) -> tuple[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"the Node load generator said nothing for {timeout} s") from None
        if not line:
            return "error", f"the Node load generator exited ({self.proc.wait()})"
        message: dict[str, Any] = json.loads(line)
        ((tag, value),) = message.items()
        if tag == "done_file":
            path = Path(value)
            value = json.loads(path.read_text())
            path.unlink()
            tag = "done"
        return tag, value

    def close(self) -> None:
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._path.unlink(missing_ok=True)
