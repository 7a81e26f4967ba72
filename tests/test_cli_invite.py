"""`chatd invite create|list|revoke` (chatd/cli_admin.py), as the operator runs it: a real
process beside a running daemon that takes registrations by invitation only, on a real
PostgreSQL. The link it prints registers an account on the daemon, which joins the rooms
named (its members see it live); a revoked link registers nobody; every mistake is one line.

Rules: 127.0.0.1 and port 0 only; waits are for states (the client helper fails after 10 s).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import trio

from tests.client import Client, http
from tests.e2e.conftest import running
from tests.helpers import make_config
from tests.test_cli import _chatd, _env, _one_line_failure, _run

PUBLIC = "https://chat.example.org"


async def _cli(tmp_path: Path, dsn: str, *args: str, public_url: str = PUBLIC
               ) -> subprocess.CompletedProcess[str]:
    """``chatd ARGS`` in a process of its own (with ``server.public_url`` set)."""
    env = _env(tmp_path, CHATD_DATABASE_DSN=dsn, CHATD_SERVER_PUBLIC_URL=public_url)
    return await trio.to_thread.run_sync(lambda: _run(*args, env=env, cwd=tmp_path))


async def test_invite_create_list_revoke_against_a_running_daemon(
        tmp_path: Path, database_dsn: str) -> None:
    """`invite create --uses 2 --expires 3 --room general` prints the link once (public_url,
    then #invite=); registering with it on an invite-only daemon joins #general, which its
    member sees live; `invite list` shows the use; `invite revoke` stops the link."""
    config = make_config(tmp_path, database_dsn, auth={"registration": "invite"})
    async with running(config) as server:
        await server.app.auth.register("ann", "correct horse")
        status, login = await http(server.http_port, "POST", "/api/login",
                                   {"username": "ann", "password": "correct horse"})
        ann = await Client.tcp(server.tcp_port)
        await ann.hello(login["token"])
        await ann.request("create_room", room="general")

        made = await _cli(tmp_path, database_dsn, "invite", "create", "--uses", "2",
                          "--expires", "3", "--room", "#general")
        assert made.returncode == 0, made.stderr
        [link] = made.stdout.splitlines()
        assert link.startswith(f"{PUBLIC}/#invite=")
        token = link.removeprefix(f"{PUBLIC}/#invite=")
        assert "invitation 1: 2 registrations until" in made.stderr
        assert "joining #general; the link is shown this once" in made.stderr

        status, body = await http(server.http_port, "POST", "/api/register",
                                  {"username": "bob", "password": "correct horse",
                                   "invitation": token})
        assert status == 201 and body["rooms"] == ["general"], body
        joined = await ann.event("joined", room="general", user="bob")
        assert "by" not in joined  # made on the command line: nobody invited

        listed = await _cli(tmp_path, database_dsn, "invite", "list")
        assert listed.returncode == 0, listed.stderr
        head, row = listed.stdout.splitlines()
        assert head.split() == ["ID", "STATE", "USES", "EXPIRES", "(UTC)", "BY", "ROOMS",
                                "USED", "BY"]
        assert row.split()[:3] == ["1", "valid", "1/2"]
        assert row.split()[-4:] == ["(command", "line)", "#general", "bob"]
        as_json = await _cli(tmp_path, database_dsn, "invite", "list", "--json")
        [invitation] = json.loads(as_json.stdout)["invitations"]
        assert (invitation["by"], invitation["uses"], invitation["used_by"]) == (
            None, 1, ["bob"])
        assert abs(invitation["expires_at"] - invitation["created_at"] - 3 * 86400_000) < 60_000

        revoked = await _cli(tmp_path, database_dsn, "invite", "revoke", "1")
        assert revoked.returncode == 0, revoked.stderr
        assert revoked.stdout.strip() == "revoked invitation 1 (used 1 of 2 times)"
        status, body = await http(server.http_port, "POST", "/api/register",
                                  {"username": "carl", "password": "correct horse",
                                   "invitation": token})
        assert (status, body["code"]) == (403, "invitation_revoked"), body
        await ann.aclose()


async def test_invite_mistakes_are_one_line(tmp_path: Path, database_dsn: str) -> None:
    """A room that is nobody's, a conversation, a bad --uses or --expires, an unknown id:
    one line each, nothing made; with no public_url the link is the [http] address's; with
    registration "closed" the link is made but the operator is told it cannot be used."""
    async with running(make_config(tmp_path, database_dsn)):
        pass  # the database, migrated
    for args, words in ((["--room", "nowhere"], "there is no room 'nowhere'"),
                        (["--room", "@ann:bob"], "conversation"),
                        (["--uses", "0"], "'uses' must be a whole number from 1 to 1000"),
                        (["--expires", "31"], "--expires: '31' is not between a minute and "
                                              "30 days"),
                        (["--expires", "soon"], "--expires: 'soon' is no duration")):
        failed = await _cli(tmp_path, database_dsn, "invite", "create", *args)
        assert words in _one_line_failure(failed), (args, failed.stderr)
    failed = await _cli(tmp_path, database_dsn, "invite", "revoke", "999")
    assert "you have no invitation 999" in _one_line_failure(failed)
    listed = await _cli(tmp_path, database_dsn, "invite", "list")
    assert listed.returncode == 0 and listed.stdout == ""
    assert "chatd: no invitations" in listed.stderr
    plain = await trio.to_thread.run_sync(
        lambda: _chatd(tmp_path, database_dsn, "invite", "create", "--expires", "12h"))
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.startswith("http://127.0.0.1:0/#invite=")
    env = _env(tmp_path, CHATD_DATABASE_DSN=database_dsn, CHATD_AUTH_REGISTRATION="closed")
    closed = await trio.to_thread.run_sync(lambda: _run("invite", "create", env=env,
                                                        cwd=tmp_path))
    assert closed.returncode == 0, closed.stderr
    assert 'registration is "closed": nobody can register with this link' in closed.stderr
