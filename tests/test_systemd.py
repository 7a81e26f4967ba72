"""systemd integration: the unit file verifies, and the daemon's notify messages reach a real
datagram socket set as NOTIFY_SOCKET."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import trio
import trio.testing

from chatd import systemd
from chatd.config import load_config
from tests.e2e.conftest import running
from tests.helpers import make_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify"
    sock.bind(str(path))
    sock.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


async def _next(sock: socket.socket) -> str:
    with trio.fail_after(10):
        await trio.lowlevel.wait_readable(sock)
        return sock.recv(4096).decode()


def test_unit_file_verifies(tmp_path: Path) -> None:
    """`systemd-analyze verify` accepts deploy/chatd.service (ExecStart pointed at this
    install's chatd, since the unit's /opt path does not exist here)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (.ci/run installs it)")
    unit = tmp_path / "chatd.service"
    chatd = Path(sys.executable).with_name("chatd")
    unit.write_text((ROOT / "deploy" / "chatd.service").read_text()
                    .replace("/opt/chatd/bin/chatd", str(chatd)))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "chatd.service" not in result.stderr, result.stderr  # no warning about the unit


def _unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in (ROOT / "deploy" / "chatd.service").read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_deployed_config_holds_the_data_directory() -> None:
    """deploy/chatd.toml puts the data in the unit's state directory, and the unit passes no
    CHATD_* setting of its own: `chatd --config /etc/chatd/chatd.toml user list` run by an
    operator then sees the daemon's database."""
    unit = _unit_settings()
    (state,) = unit["StateDirectory"]
    config = load_config(ROOT / "deploy" / "chatd.toml", env={})
    assert config.data_dir == Path("/var/lib") / state
    (exec_start,) = unit["ExecStart"]
    assert "--config /etc/chatd/chatd.toml" in exec_start
    assert not any("CHATD_" in value for value in unit.get("Environment", []))


def test_operations_runs_commands_as_the_service_user() -> None:
    """docs/operations.md's systemd-run example runs as the unit's user, with its state
    directory and its config."""
    text = (ROOT / "docs" / "operations.md").read_text()
    example = re.search(r"^systemd-run .*$", text, re.M)
    assert example, "no systemd-run example"
    unit = _unit_settings()
    for needed in ("-p User=chatd", "-p DynamicUser=yes",
                   f"-p StateDirectory={unit['StateDirectory'][0]}",
                   "--config /etc/chatd/chatd.toml"):
        assert needed in example[0], needed


def test_notify_without_systemd_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside systemd, notify says so and does nothing."""
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert systemd.notify("READY=1") is False


def test_notify_reaches_an_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    """A NOTIFY_SOCKET starting with @ names the abstract namespace."""
    name = f"chatd-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert systemd.notify("READY=1")
        assert sock.recv(100) == b"READY=1"


def test_watchdog_interval_is_half_the_period(monkeypatch: pytest.MonkeyPatch) -> None:
    """WATCHDOG_USEC gives pings at half the period, only for the process it names."""
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert systemd.watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert systemd.watchdog_interval() is None


async def test_daemon_notifies_ready_watchdog_and_stopping(
    notify_socket: socket.socket, tmp_path: Path, database_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """READY=1 once the ports listen, WATCHDOG=1 while it runs, STOPPING=1 when it drains."""
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    async with running(make_config(tmp_path, database_dsn)) as server:
        messages = [await _next(notify_socket) for _ in range(3)]
        ready = [m for m in messages if m.startswith("READY=1")]
        assert ready and f"http port {server.http_port}" in ready[0]
        assert messages.count("WATCHDOG=1") >= 2
    while (message := await _next(notify_socket)) == "WATCHDOG=1":
        pass
    assert message.startswith("STOPPING=1")


def _drain(sock: socket.socket) -> list[str]:
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096).decode())
        except BlockingIOError:
            return messages


async def test_watchdog_starves_while_failing_and_resumes(
    notify_socket: socket.socket, monkeypatch: pytest.MonkeyPatch,
    autojump_clock: trio.testing.MockClock,
) -> None:
    """No WATCHDOG=1 is sent while ``failing()`` is true (a STATUS= says why); the pings
    resume, with a STATUS= saying so, once it is false again."""
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")  # a ping a second
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    failing = False
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(systemd.watchdog, failing=lambda: failing))
        await trio.sleep(2.5)
        assert _drain(notify_socket) == ["WATCHDOG=1"] * 3
        failing = True
        await trio.sleep(5)
        starved = _drain(notify_socket)
        assert len(starved) == 1 and starved[0].startswith("STATUS="), starved
        failing = False
        await trio.sleep(2)
        resumed = _drain(notify_socket)
        assert resumed[0].startswith("STATUS=") and resumed[1:] == ["WATCHDOG=1"] * 2, resumed
        nursery.cancel_scope.cancel()
