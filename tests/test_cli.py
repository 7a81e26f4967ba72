"""The `chatd` command as a person runs it: a real process, the embedded PostgreSQL."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import trio

from tests.client import Client, http, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config

ROOT = Path(__file__).resolve().parent.parent


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATD_")}
    env.update({"CHATD_SERVER_DATA_DIR": str(tmp_path / "data"), "CHATD_HTTP_PORT": "0",
                "CHATD_TCP_PORT": "0", **extra})
    return env


def test_check_validates_and_reports_mistakes(tmp_path: Path) -> None:
    """`chatd serve --check` accepts the shipped config and names a broken key."""
    ok = subprocess.run([sys.executable, "-m", "chatd", "--config", str(ROOT / "chatd.toml"),
                         "serve", "--check"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "configuration OK" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "chatd", "serve", "--check"],
                         capture_output=True, text=True, timeout=60,
                         env=_env(tmp_path, CHATD_HTTP_PORT="http"))
    assert bad.returncode == 2 and "CHATD_HTTP_PORT" in bad.stderr


async def test_serve_runs_embedded_and_drains_on_sigterm(tmp_path: Path) -> None:
    """`chatd serve` with no DSN starts an embedded PostgreSQL, serves both ports, keeps a
    message across a restart, and exits 0 on SIGTERM."""
    async def start() -> tuple[trio.Process, int, int]:
        proc = await trio.lowlevel.open_process(
            [sys.executable, "-m", "chatd", "serve"], cwd=tmp_path, env=_env(tmp_path),
            stderr=subprocess.PIPE,
        )
        assert proc.stderr is not None
        log = b""
        with trio.fail_after(60):
            while b"listening" not in log:
                chunk = await proc.stderr.receive_some(4096)
                assert chunk, log.decode()
                log += chunk
        found = re.search(rb"http://[\d.]+:(\d+) .*tcp [\d.]+:(\d+)", log)
        assert found, log.decode()
        return proc, int(found[1]), int(found[2])

    async def stop(proc: trio.Process) -> None:
        proc.send_signal(signal.SIGTERM)
        with trio.fail_after(30):
            assert await proc.wait() == 0

    proc, http_port, tcp_port = await start()
    try:
        status, body = await http(http_port, "GET", "/healthz")
        assert status == 200, body
        client = await Client.tcp(tcp_port)
        await client.hello(await register_and_login(http_port, "operator"))
        await client.request("join", room="ops")
        ack = await client.request("send", room="ops", text="kept", nonce="k")
        assert ack["seq"] == 1
        await client.aclose()
    finally:
        await stop(proc)
    proc, http_port, tcp_port = await start()
    try:
        client = await Client.tcp(tcp_port)
        await client.hello(await register_and_login(http_port, "operator"))
        joined = await client.request("join", room="ops")
        assert [m["text"] for m in joined["messages"]] == ["kept"]
        await client.aclose()
    finally:
        await stop(proc)


def _chatd(tmp_path: Path, dsn: str, *args: str,
           stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = _env(tmp_path, CHATD_DATABASE_DSN=dsn)
    return subprocess.run([sys.executable, "-m", "chatd", *args], input=stdin, env=env,
                          capture_output=True, text=True, timeout=60)


async def test_user_commands_and_token(tmp_path: Path, database_dsn: str) -> None:
    """`user add`, `user list`, `token` and `user passwd` work on the configured database; a
    new password revokes the tokens issued before it."""
    added = _chatd(tmp_path, database_dsn, "user", "add", "Admin", "--password-stdin",
                   stdin="first password\n")
    assert added.returncode == 0 and "created user Admin" in added.stdout, added.stderr
    again = _chatd(tmp_path, database_dsn, "user", "add", "admin", "--password-stdin",
                   stdin="whatever12\n")
    assert again.returncode == 1 and "taken" in again.stderr
    listed = _chatd(tmp_path, database_dsn, "user", "list")
    assert "Admin" in listed.stdout
    token = _chatd(tmp_path, database_dsn, "token", "admin").stdout.strip()
    assert token.count(".") == 2
    assert _chatd(tmp_path, database_dsn, "token", "ghost").returncode == 1

    config = make_config(tmp_path, database_dsn)
    async with running(config) as server:
        status, body = await http(server.http_port, "GET", "/api/me", token=token)
        assert status == 200 and body["user"]["name"] == "Admin"
        changed = await trio.to_thread.run_sync(lambda: _chatd(
            tmp_path, database_dsn, "user", "passwd", "ADMIN", "--password-stdin",
            stdin="second password\n"))
        assert changed.returncode == 0, changed.stderr
        status, _ = await http(server.http_port, "GET", "/api/me", token=token)
        assert status == 401
        status, _ = await http(server.http_port, "POST", "/api/login",
                               {"username": "admin", "password": "second password"})
        assert status == 200
