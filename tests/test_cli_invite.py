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
from tests.helpers import fetchval_apart, make_config
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


async def test_invite_list_pages_through_every_invitation(tmp_path: Path,
                                                          database_dsn: str) -> None:
    """`invite list` shows every invitation, not the newest 500: 1,203 of them (valid,
    revoked, used up, expired, one whose maker's account is gone), newest first, in the text
    and --json alike; --limit shows the newest N and says how to go on, --before goes on
    below an id; out-of-range ids are one line, never a traceback."""
    async with running(make_config(tmp_path, database_dsn)) as server:
        await server.app.auth.register("ann", "correct horse")
    dsn = database_dsn
    await fetchval_apart(dsn, """
        INSERT INTO invitations (hash, creator_id, expires_at, max_uses, uses, revoked_at)
        SELECT sha256(i::text::bytea), CASE WHEN i % 2 = 0 THEN
                   (SELECT id FROM users WHERE name = 'ann') END,
               now() + CASE WHEN i % 5 = 0 THEN interval '-1 day' ELSE interval '1 day' END,
               2, CASE WHEN i % 7 = 0 THEN 2 ELSE 0 END,
               CASE WHEN i % 11 = 0 THEN now() END
        FROM generate_series(1, 1203) AS i""")
    # the maker of some gone (an operator's DELETE: the invitations stay, by nobody)
    await fetchval_apart(dsn, "INSERT INTO users (name, password_hash) VALUES ('gone', 'x')")
    await fetchval_apart(dsn, """UPDATE invitations SET creator_id =
        (SELECT id FROM users WHERE name = 'gone') WHERE id IN (1200, 1201)""")
    await fetchval_apart(dsn, "DELETE FROM users WHERE name = 'gone'")

    listed = await _cli(tmp_path, dsn, "invite", "list")
    assert listed.returncode == 0, listed.stderr
    rows = listed.stdout.splitlines()[1:]
    assert [int(row.split()[0]) for row in rows] == list(range(1203, 0, -1))
    states = {int(row.split()[0]): row.split()[1:3] for row in rows}
    assert states[1] == ["valid", "0/2"] and states[2] == ["valid", "0/2"]
    assert states[7][0] == "used" and states[5][0] == "expired"
    assert states[11][0] == "revoked" and states[22][0] == "revoked"
    assert "older invitations" not in listed.stderr

    as_json = json.loads((await _cli(tmp_path, dsn, "invite", "list", "--json")).stdout)
    assert len(as_json["invitations"]) == 1203 and as_json["more"] is False
    by_id = {i["id"]: i for i in as_json["invitations"]}
    assert by_id[2]["by"] == "ann" and by_id[1]["by"] is None and by_id[1200]["by"] is None
    assert (by_id[7]["state"], by_id[5]["state"], by_id[11]["state"]) == (
        "used_up", "expired", "revoked")

    first = await _cli(tmp_path, dsn, "invite", "list", "--limit", "600")
    assert [int(r.split()[0]) for r in first.stdout.splitlines()[1:]] == list(
        range(1203, 603, -1))
    assert "older invitations not shown (--limit 600; the next: --before 604)" in first.stderr
    rest = json.loads((await _cli(tmp_path, dsn, "invite", "list", "--before", "604",
                                  "--json")).stdout)
    assert [i["id"] for i in rest["invitations"]] == list(range(603, 0, -1))
    assert rest["more"] is False
    page = json.loads((await _cli(tmp_path, dsn, "invite", "list", "--before", "3",
                                  "--limit", "1", "--json")).stdout)
    assert ([i["id"] for i in page["invitations"]], page["more"]) == ([2], True)
    none = await _cli(tmp_path, dsn, "invite", "list", "--before", "1")
    assert none.returncode == 0 and none.stdout == ""
    assert "chatd: no invitations older than 1" in none.stderr

    for args, words in ((["list", "--limit", "0"], "--limit: 1 or more, not 0"),
                        (["list", "--before", "0"], "--before: an invitation's id is 1 to"),
                        (["list", "--before", str(2**63)], "--before: an invitation's id"),
                        (["revoke", str(2**64)], "ID: an invitation's id is 1 to"),
                        (["revoke", "-1"], "ID: an invitation's id is 1 to")):
        failed = await _cli(tmp_path, dsn, "invite", *args)
        assert words in _one_line_failure(failed), (args, failed.stderr)
