"""The `chatd` command as a person runs it: a real process, the embedded PostgreSQL.

Every failure an operator can cause (a misspelt setting, a port in use, a database that does not
answer, a command run with the wrong config) must end in one line naming what to change and a
non-zero exit, never a traceback.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from chatd import __version__
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config, read_until_listening

ROOT = Path(__file__).resolve().parent.parent


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATD_")}
    env.update({"CHATD_SERVER_DATA_DIR": str(tmp_path / "data"), "CHATD_HTTP_PORT": "0",
                "CHATD_TCP_PORT": "0", **extra})
    return env


def _run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
         stdin: str = "") -> subprocess.CompletedProcess[str]:
    if env is None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATD_")}
    return subprocess.run([sys.executable, "-m", "chatd", *args], input=stdin, env=env,
                          cwd=cwd, capture_output=True, text=True, timeout=120)


def _one_line_failure(result: subprocess.CompletedProcess[str]) -> str:
    """The failure's stderr, checked to be short and free of tracebacks."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    assert "Error:" not in result.stderr and "Group" not in result.stderr, result.stderr
    return result.stderr


def _write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(text)
    return path


def test_check_accepts_the_shipped_config_and_shows_what_serve_uses(tmp_path: Path) -> None:
    """`serve --check` on chatd.toml: OK, with the addresses, the database and the web root."""
    ok = _run("--config", str(ROOT / "chatd.toml"), "serve", "--check", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "configuration OK" in ok.stdout
    assert "http://127.0.0.1:8080" in ok.stdout and "127.0.0.1:7700" in ok.stdout
    assert f"embedded PostgreSQL in {ROOT / 'chatd-data' / 'postgres'}" in ok.stdout
    assert f"web root              {ROOT / 'clients' / 'web'}" in ok.stdout


def test_config_is_accepted_before_or_after_the_subcommand(tmp_path: Path) -> None:
    """--config works at every level: before the command, after it, after a subcommand."""
    config = _write_config(tmp_path, "[http]\nport = 9123\n")
    env = _env(tmp_path)
    del env["CHATD_HTTP_PORT"]
    for args in (["--config", str(config), "serve", "--check"],
                 ["serve", "--config", str(config), "--check"],
                 ["serve", "--check", "--config", str(config)]):
        result = _run(*args, env=env, cwd=tmp_path)
        assert result.returncode == 0, (args, result.stderr)
        assert "http://127.0.0.1:9123" in result.stdout, args
    missing = str(tmp_path / "nope.toml")
    for args in (["user", "list", "--config", missing], ["user", "--config", missing, "list"],
                 ["token", "x", "--config", missing], ["migrate", "--config", missing],
                 ["backup", "f", "--config", missing], ["restore", "f", "--config", missing]):
        result = _run(*args, env=env, cwd=tmp_path)
        assert result.returncode == 2 and "nope.toml: no such config file" in result.stderr, args


def test_version_and_help() -> None:
    """`chatd version`, `chatd help`, `chatd help serve` and `chatd help user add` work."""
    version = _run("version")
    assert version.returncode == 0 and version.stdout.strip() == f"chatd {__version__}"
    overview = _run("help")
    assert overview.returncode == 0
    for command in ("serve", "user", "room", "audit", "stats", "backup", "restore", "export",
                    "version", "help"):
        assert command in overview.stdout
    serve = _run("help", "serve")
    assert serve.returncode == 0 and "--check" in serve.stdout and "--config" in serve.stdout
    add = _run("help", "user", "add")
    assert add.returncode == 0 and "--password-stdin" in add.stdout
    deactivate = _run("help", "user", "deactivate")
    assert "--delete-messages DURATION" in deactivate.stdout
    delete = _run("help", "room", "delete")
    assert delete.returncode == 0 and "--yes" in delete.stdout
    unknown = _run("help", "frobnicate")
    assert unknown.returncode == 2 and "no command 'frobnicate'" in unknown.stderr


def test_check_names_every_mistake(tmp_path: Path) -> None:
    """A misspelt variable, a bad value and a file typo are all named, one line each."""
    config = _write_config(tmp_path, "[tcp]\nhots = '0.0.0.0'\n")
    result = _run("serve", "--check", "--config", str(config), cwd=tmp_path,
                  env=_env(tmp_path, CHATD_HTTP_PROT="9000", CHATD_HTTP_PORT="http"))
    assert result.returncode == 2
    lines = _one_line_failure(result).splitlines()
    assert sorted(lines) == [
        "chatd: CHATD_HTTP_PORT in the environment: expected int, got 'http'",
        "chatd: CHATD_HTTP_PROT in the environment: not a chatd setting; "
        "did you mean CHATD_HTTP_PORT?",
        f"chatd: [tcp] hots in {config}: unknown key; did you mean [tcp] host?",
    ]


def test_check_finds_a_missing_page_and_hosts_that_cannot_be_used(tmp_path: Path) -> None:
    """A web root without index.html, a host that does not resolve and an address that is
    not this machine's fail the check, each named with where it was set."""
    empty = tmp_path / "site"
    empty.mkdir()
    config = _write_config(tmp_path, "[tcp]\nhost = 'no-such-host.invalid'\n")
    result = _run("serve", "--check", "--config", str(config), cwd=tmp_path,
                  env=_env(tmp_path, CHATD_HTTP_WEB_ROOT=str(empty),
                           CHATD_HTTP_HOST="192.0.2.1"))
    assert result.returncode == 2
    lines = _one_line_failure(result).splitlines()
    assert lines[0] == f"chatd: CHATD_HTTP_WEB_ROOT in the environment: {empty} has no index.html"
    assert lines[1].startswith("chatd: CHATD_HTTP_HOST in the environment: cannot listen on "
                               "'192.0.2.1': not an address of this machine")
    assert lines[2].startswith(f"chatd: [tcp] host in {config}: cannot listen on "
                               "'no-such-host.invalid': the name does not resolve")
    assert len(lines) == 3
    # serve itself refuses the same way, before starting anything.
    serve = _run("serve", "--config", str(config), cwd=tmp_path, env=_env(tmp_path))
    assert serve.returncode == 2
    assert "no-such-host.invalid" in _one_line_failure(serve)
    assert not (tmp_path / "data").exists()


def test_serve_names_the_port_in_use(tmp_path: Path, database_dsn: str) -> None:
    """A port held by another program: one line naming the port's setting and its source."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = _write_config(tmp_path, f"[tcp]\nport = {port}\n")
        env = _env(tmp_path, CHATD_DATABASE_DSN=database_dsn)
        del env["CHATD_TCP_PORT"]
        by_file = _run("serve", "--config", str(config), env=env, cwd=tmp_path)
        stderr = _one_line_failure(by_file)
        assert by_file.returncode == 2
        assert (f"chatd: [tcp] port in {config}: cannot listen on 127.0.0.1:{port}: the port "
                "is in use") in stderr
        by_env = _run("serve", env=_env(tmp_path, CHATD_DATABASE_DSN=database_dsn,
                                        CHATD_HTTP_PORT=str(port)), cwd=tmp_path)
        assert (f"chatd: CHATD_HTTP_PORT in the environment: cannot listen on "
                f"127.0.0.1:{port}: the port is in use") in _one_line_failure(by_env)


def test_serve_names_an_unreachable_database(tmp_path: Path) -> None:
    """A DSN nothing answers on: one line naming the variable, the password masked."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        dsn = f"postgresql://chatd:s3cret@127.0.0.1:{port}/chatd"
        result = _run("serve", env=_env(tmp_path, CHATD_DATABASE_DSN=dsn), cwd=tmp_path)
    stderr = _one_line_failure(result)
    assert result.returncode == 1
    assert ("chatd: database unavailable (CHATD_DATABASE_DSN in the environment): cannot use "
            f"PostgreSQL at postgresql://chatd:***@127.0.0.1:{port}/chatd") in stderr
    assert "s3cret" not in stderr


@pytest.mark.parametrize("args", [["user", "list"], ["user", "add", "ann"], ["token", "ann"],
                                  ["migrate"], ["backup", "out.dump"], ["room", "list"],
                                  ["room", "delete", "team", "--yes"], ["audit"], ["stats"],
                                  ["invite", "create"], ["invite", "list"],
                                  ["invite", "revoke", "1"], ["export", "ann", "--out", "a.zip"],
                                  ["user", "deactivate", "ann", "--delete-messages", "1h"]])
def test_commands_other_than_serve_never_create_a_database(tmp_path: Path,
                                                           args: list[str]) -> None:
    """In a folder with no chatd.toml and no database, a command says which database it looked
    for and refuses, creating nothing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATD_")}
    result = _run(*args, env=env, cwd=tmp_path, stdin="a password\n")
    stderr = _one_line_failure(result)
    data = tmp_path / "chatd-data"
    assert result.returncode == 1
    assert stderr.splitlines() == [
        f"chatd: using the embedded PostgreSQL in {data / 'postgres'}",
        f"chatd: no database in {data / 'postgres'} (data directory from the default of "
        "[server] data_dir): chatd serve creates it on its first start; or give the daemon's "
        "config with --config",
    ]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can be refused another user's cluster")
def test_root_leaves_another_users_embedded_database_alone(tmp_path: Path) -> None:
    """As root, a command refuses an embedded cluster that another user (a systemd unit's
    dynamic user) runs, instead of letting pgserver take it over."""
    cluster = tmp_path / "data" / "postgres"
    cluster.mkdir(parents=True)
    (cluster / "PG_VERSION").write_text("16\n")
    os.chown(cluster, 54321, 54321)
    result = _run("user", "list", env=_env(tmp_path), cwd=tmp_path)
    assert result.returncode == 1
    assert (f"the embedded database in {cluster} belongs to user id 54321: run chatd as that "
            "user") in _one_line_failure(result)
    assert cluster.stat().st_uid == 54321


async def test_serve_runs_embedded_and_drains_on_sigterm(tmp_path: Path) -> None:
    """`chatd serve` with no DSN starts an embedded PostgreSQL (and logs which database it
    uses), serves both ports, keeps a message across a restart, and exits 0 on SIGTERM."""
    async def start() -> tuple[trio.Process, int, int, bytes]:
        proc = await trio.lowlevel.open_process(
            [sys.executable, "-m", "chatd", "serve"], cwd=tmp_path, env=_env(tmp_path),
            stderr=subprocess.PIPE,
        )
        with trio.fail_after(60):
            log, http_port, tcp_port = await read_until_listening(proc)
        return proc, http_port, tcp_port, log

    async def stop(proc: trio.Process) -> None:
        proc.send_signal(signal.SIGTERM)
        with trio.fail_after(30):
            assert await proc.wait() == 0

    proc, http_port, tcp_port, log = await start()
    try:
        database = f"database: the embedded PostgreSQL in {tmp_path / 'data' / 'postgres'}"
        assert database.encode() in log, log.decode()
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
    proc, http_port, tcp_port, _ = await start()
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
    return _run(*args, env=_env(tmp_path, CHATD_DATABASE_DSN=dsn), cwd=tmp_path, stdin=stdin)


def test_user_add_reads_a_piped_password(tmp_path: Path, database_dsn: str) -> None:
    """Without a terminal, `user add` reads the password from standard input; with nothing
    there it says so in one line."""
    added = _chatd(tmp_path, database_dsn, "user", "add", "piped", stdin="piped password\n")
    assert added.returncode == 0 and "created user piped" in added.stdout, added.stderr
    nothing = _chatd(tmp_path, database_dsn, "user", "add", "silent")
    assert "chatd: no password on standard input" in _one_line_failure(nothing)
    assert "silent" not in _chatd(tmp_path, database_dsn, "user", "list").stdout


async def test_user_commands_and_token(tmp_path: Path, database_dsn: str) -> None:
    """`user add`, `user list`, `token` and `user passwd` work on the configured database and
    say which one (password masked); a new password revokes the tokens issued before it."""
    added = _chatd(tmp_path, database_dsn, "user", "add", "Admin", "--password-stdin",
                   stdin="first password\n")
    assert added.returncode == 0 and "created user Admin" in added.stdout, added.stderr
    assert added.stderr.startswith("chatd: using PostgreSQL at postgresql://postgres:***@/")
    again = _chatd(tmp_path, database_dsn, "user", "add", "admin", "--password-stdin",
                   stdin="whatever12\n")
    assert again.returncode == 1 and "taken" in again.stderr
    listed = _chatd(tmp_path, database_dsn, "user", "list")
    assert "Admin" in listed.stdout
    # No daemon has made a token secret in this data directory yet: a token signed with a
    # new one would not be accepted.
    unsigned = _chatd(tmp_path, database_dsn, "token", "admin")
    assert "chatd: no token secret in" in _one_line_failure(unsigned)
    assert not (tmp_path / "data").exists()

    config = make_config(tmp_path, database_dsn)
    async with running(config) as server:
        result = await trio.to_thread.run_sync(
            lambda: _chatd(tmp_path, database_dsn, "token", "admin"))
        token = result.stdout.strip()
        assert token.count(".") == 2, result.stderr
        ghost = await trio.to_thread.run_sync(
            lambda: _chatd(tmp_path, database_dsn, "token", "ghost"))
        assert ghost.returncode == 1
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


async def test_administrators_and_deactivation_from_the_command_line(
        tmp_path: Path, database_dsn: str) -> None:
    """`user add --admin`, `user admin [--revoke]`, `user deactivate` and `user reactivate`:
    `user list` shows the flags; a running daemon ends a deactivated user's session and its
    admin API follows the flag; an unknown name fails in one line."""
    added = _chatd(tmp_path, database_dsn, "user", "add", "--admin", "root",
                   stdin="root password\n")
    assert added.returncode == 0 and "created server administrator root" in added.stdout, \
        added.stderr
    config = make_config(tmp_path, database_dsn)
    async with running(config) as server:
        root = await register_and_login(server.http_port, "root", "root password")
        status, _ = await http(server.http_port, "GET", "/api/admin/stats", token=root)
        assert status == 200
        token = await register_and_login(server.http_port, "bob")
        bob = await Client.tcp(server.tcp_port)
        await bob.hello(token)

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return _chatd(tmp_path, database_dsn, *args)

        made = await trio.to_thread.run_sync(run, "user", "admin", "BOB")
        assert made.returncode == 0 and "bob is a server administrator" in made.stdout
        status, _ = await http(server.http_port, "GET", "/api/admin/users", token=token)
        assert status == 200
        revoked = await trio.to_thread.run_sync(run, "user", "admin", "--revoke", "bob")
        assert "bob is no longer a server administrator" in revoked.stdout
        status, _ = await http(server.http_port, "GET", "/api/admin/users", token=token)
        assert status == 403

        gone = await trio.to_thread.run_sync(run, "user", "deactivate", "bob")
        assert gone.returncode == 0 and "bob is deactivated" in gone.stdout, gone.stderr
        await bob.wait_closed()
        assert [e["code"] for e in bob.events if e["op"] == "error"] == ["unauthenticated"]
        listed = await trio.to_thread.run_sync(run, "user", "list")
        lines = {line.split()[1]: line for line in listed.stdout.splitlines()}
        assert lines["bob"].endswith("deactivated") and lines["root"].endswith("admin")
        status, body = await http(server.http_port, "POST", "/api/login",
                                  {"username": "bob", "password": "correct horse"})
        assert (status, body["code"]) == (403, "deactivated")
        back = await trio.to_thread.run_sync(run, "user", "reactivate", "bob")
        assert back.returncode == 0 and "bob is active again" in back.stdout
        assert await register_and_login(server.http_port, "bob")
        ghost = await trio.to_thread.run_sync(run, "user", "deactivate", "ghost")
        assert "no user called 'ghost'" in _one_line_failure(ghost)
        status, body = await http(server.http_port, "GET", "/api/admin/audit", token=root)
        assert [(e["actor"], e["action"], e["target"]) for e in body["entries"]] == [
            (None, "reactivate", "bob"), (None, "deactivate", "bob"), (None, "admin", "bob"),
            (None, "admin", "bob"), (None, "admin", "root")]
