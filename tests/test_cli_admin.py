"""The admin API's work from the `chatd` command line (chatd/cli_admin.py), as the operator runs
it: a real process beside a running daemon, on a real PostgreSQL.

What it does must reach the daemon's connected members exactly as the admin API's does: the
deleted messages and the deleted room arrive live, through the database's notices. The audit
log records the command line as a null actor. Every mistake is one line, no traceback.

Rules: 127.0.0.1 and port 0 only; waits are for states (the client helper fails after 10 s).
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import trio

from chatd.storage import NewMessage, Storage
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import running
from tests.helpers import fetchval_apart, make_config
from tests.test_cli import _chatd, _env, _one_line_failure


async def _cli(tmp_path: Path, dsn: str, *args: str,
               stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``chatd ARGS`` in a process of its own, without blocking the daemon's tasks."""
    return await trio.to_thread.run_sync(lambda: _chatd(tmp_path, dsn, *args, stdin=stdin))


async def until_online(dsn: str, count: int) -> None:
    """Wait until the node has written ``count`` users online (it writes them in batches)."""
    with trio.fail_after(10):
        query = "SELECT count(*) FROM node_presence"
        while await fetchval_apart(dsn, query) != count:  # noqa: ASYNC110 (a row: no event)
            await trio.sleep(0.05)


async def test_deactivate_deletes_recent_messages_live_for_connected_members(
        tmp_path: Path, database_dsn: str) -> None:
    """`user deactivate eve --delete-messages 1h` beside a running daemon: eve's session ends;
    ann, connected, gets one ``deleted`` entry (by eve, the author: no account acted) for
    each of eve's messages of the last hour in two rooms and their conversation, live; an
    older message of eve's and ann's own stay; the command counts them; the audit log, over
    HTTP too, shows the command line (null actor) deactivating and purging."""
    async with running(make_config(tmp_path, database_dsn)) as server:
        root = await register_and_login(server.http_port, "root")
        await server.app.storage.set_admin("root", True)
        ann = await Client.tcp(server.tcp_port)
        await ann.hello(await register_and_login(server.http_port, "ann"))
        eve = await Client.tcp(server.tcp_port)
        await eve.hello(await register_and_login(server.http_port, "eve"))
        await ann.request("create_room", room="market")
        for room in ("lobby", "market"):
            await ann.request("join", room=room)
            await eve.request("join", room=room)
        old = await eve.request("send", room="lobby", text="hello all", nonce="e0")
        spam = [await eve.request("send", room=room, text=f"buy {i}", nonce=f"{room}{i}")
                for room in ("lobby", "market") for i in range(2)]
        spam.append(await eve.request("dm", to="ann", text="psst", nonce="dm"))
        await ann.event("message", room="@ann:eve", seq=spam[-1]["seq"])
        mine = await ann.request("send", room="lobby", text="mine", nonce="a1")
        await fetchval_apart(database_dsn, "UPDATE messages SET created_at = now() - "
                             "interval '2 hours' WHERE id = $1", old["msg_id"])

        done = await _cli(tmp_path, database_dsn, "user", "deactivate", "eve",
                          "--delete-messages", "1h")
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == [
            "eve is deactivated: their sessions end, they cannot log in",
            "deleted 5 messages of eve from the last 1h"]
        assert "more of their messages remain" not in done.stderr
        wanted = {(s["room"], s["msg_id"]) for s in spam}
        for _ in range(len(wanted)):
            entry = await ann.event("deleted", by="eve")
            wanted.discard((entry["room"], entry["msg_id"]))
        assert wanted == set()
        await eve.wait_closed()
        page = await ann.request("history", room="lobby")
        assert [(m["text"], m.get("deleted", False)) for m in page["messages"]
                if m["op"] == "message"] == [("hello all", False), ("", True), ("", True),
                                             ("mine", False)]
        assert mine["room"] == "lobby"

        status, body = await http(server.http_port, "GET", "/api/admin/audit", token=root)
        assert status == 200
        assert [(e["actor"], e["action"], e["target"], e["room"], e["details"].get("deleted"))
                for e in body["entries"]] == [
            (None, "purge", "eve", "market", 2), (None, "purge", "eve", "lobby", 2),
            (None, "purge", "eve", "@ann:eve", 1), (None, "deactivate", "eve", None, None),
            (None, "admin", "root", None, None)]
        again = await _cli(tmp_path, database_dsn, "user", "deactivate", "EVE",
                           "--delete-messages", "90m")
        assert again.returncode == 0 and "deleted 0 messages of eve from the last 90m" in \
            again.stdout, again.stderr


async def test_deactivate_says_when_more_messages_remain(tmp_path: Path,
                                                         database_dsn: str) -> None:
    """Past the 1,000 messages one deactivation deletes (the HTTP field's cap), the command
    says to run it again, and the next run deletes the rest; a member sees every one go."""
    async with running(make_config(tmp_path, database_dsn)) as server:
        ann = await Client.tcp(server.tcp_port)
        await ann.hello(await register_and_login(server.http_port, "ann"))
        await register_and_login(server.http_port, "bob")
        await ann.request("create_room", room="team")
        bob = await server.app.storage.get_credentials("bob")
        assert bob is not None
        await server.app.storage.join_room(bob.user.id, "team")
        await server.app.storage.append_messages([
            NewMessage(user_id=bob.user.id, room="team", text=f"spam {i}", nonce=f"n{i}")
            for i in range(1003)])
        first = await _cli(tmp_path, database_dsn, "user", "deactivate", "bob",
                           "--delete-messages", "600")
        assert "deleted 1000 messages of bob from the last 10m" in first.stdout, first.stderr
        assert ("chatd: more of their messages remain: run the same command again to delete "
                "them") in first.stderr
        second = await _cli(tmp_path, database_dsn, "user", "deactivate", "bob",
                            "--delete-messages", "600")
        assert "deleted 3 messages" in second.stdout and "remain" not in second.stderr
        gone = {(await ann.event("deleted", room="team"))["msg_id"] for _ in range(1003)}
        assert len(gone) == 1003


async def test_room_list_and_delete_with_a_running_daemon(tmp_path: Path,
                                                          database_dsn: str) -> None:
    """`room list` shows rooms (not conversations) aligned, or as the admin API's objects with
    --json, filtered by --query; `room delete` refuses a script without --yes, a
    conversation and an unknown room in one line each, then deletes: ann, connected, is told
    ``room_deleted`` (by "": the command line) and that her scheduled message to it was
    removed, the room is gone from the list, and the audit log keeps it under its name with
    a null actor."""
    async with running(make_config(tmp_path, database_dsn)) as server:
        ann = await Client.tcp(server.tcp_port)
        await ann.hello(await register_and_login(server.http_port, "ann"))
        await register_and_login(server.http_port, "bob")
        await ann.request("create_room", room="team", private=True, topic="the team")
        await ann.request("invite", room="team", user="bob")
        await ann.request("join", room="lobby")
        await ann.request("send", room="team", text="hi", nonce="t1")
        await ann.request("dm", to="bob", text="psst", nonce="d1")
        await ann.request("archive", room="lobby", archived=True)
        later = (await ann.request("schedule", room="team", text="later",
                                   send_at=time.time_ns() // 1_000_000 + 3_600_000))["item"]

        listed = await _cli(tmp_path, database_dsn, "room", "list")
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        assert lines[0].split() == ["ROOM", "OWNER", "MEMBERS", "LAST", "SEQ", "CREATED",
                                    "(UTC)", "STATE"]
        rows = {line.split()[0]: line.split() for line in lines[1:]}
        assert set(rows) == {"#lobby", "#team"}
        assert rows["#team"][1:4] == ["ann", "2", "1"] and rows["#team"][-1] == "private"
        assert rows["#lobby"][1:3] == ["ann", "1"] and rows["#lobby"][-1] == "archived"
        as_json = await _cli(tmp_path, database_dsn, "room", "list", "--query", "TE",
                             "--json")
        [team] = json.loads(as_json.stdout)["rooms"]
        assert team["room"] == "team" and team["members"] == 2 and team["private"] is True
        assert set(team) == {"room", "private", "topic", "owner", "owner_deactivated",
                             "members", "last_seq", "created_at", "archived"}
        none = await _cli(tmp_path, database_dsn, "room", "list", "--query", "zzz")
        assert none.returncode == 0 and none.stdout == ""
        assert "chatd: no rooms with 'zzz' in their name" in none.stderr

        unconfirmed = await _cli(tmp_path, database_dsn, "room", "delete", "team")
        assert _one_line_failure(unconfirmed).splitlines() == [
            "chatd: deleting #team cannot be undone: give --yes (standard input is no "
            "terminal to ask on)"]
        conversation = await _cli(tmp_path, database_dsn, "room", "delete", "@ann:bob",
                                  "--yes")
        assert "@ann:bob is a 1:1 conversation, not a room" in _one_line_failure(conversation)
        unknown = await _cli(tmp_path, database_dsn, "room", "delete", "nope", "--yes")
        assert _one_line_failure(unknown).splitlines()[-1] == "chatd: there is no room 'nope'"
        bad = await _cli(tmp_path, database_dsn, "room", "delete", "No Spaces!", "--yes")
        assert "a room name is 1-64 of a-z 0-9 _ -" in _one_line_failure(bad)
        assert (await ann.request("history", room="team"))["op"] == "ok"

        deleted = await _cli(tmp_path, database_dsn, "room", "delete", "Team", "--yes")
        assert deleted.returncode == 0, deleted.stderr
        assert "deleted #team" in deleted.stdout
        assert await ann.event("room_deleted", room="team") == {
            "op": "room_deleted", "room": "team", "by": ""}
        removed = await ann.event("scheduled", action="cancelled")
        assert removed["item"] == {**later, "state": "failed", "error": {
            "code": "not_found", "message": "the room #team was deleted"}}
        after = await _cli(tmp_path, database_dsn, "room", "list", "--json")
        assert [r["room"] for r in json.loads(after.stdout)["rooms"]] == ["lobby"]
        audit = await _cli(tmp_path, database_dsn, "audit", "--json", "--limit", "1")
        page = json.loads(audit.stdout)
        assert page["more"] is True
        assert [(e["actor"], e["action"], e["room"]) for e in page["entries"]] == [
            (None, "delete_room", "team")]


async def test_audit_and_stats(tmp_path: Path, database_dsn: str) -> None:
    """`audit` lists the log newest first as aligned text ("(command line)" for a null
    actor), one room's with --room, as the admin API's entries with --json; `stats` shows
    what the database holds and the running node with its users online; bad arguments and
    an unknown room are one line each."""
    async with running(make_config(tmp_path, database_dsn)) as server:
        ann = await Client.tcp(server.tcp_port)
        await ann.hello(await register_and_login(server.http_port, "ann"))
        await register_and_login(server.http_port, "bob")
        await ann.request("create_room", room="team")
        await ann.request("invite", room="team", user="bob")
        await ann.request("set_role", room="team", user="bob", role="moderator")
        await ann.request("send", room="team", text="hi", nonce="t1")
        made = await _cli(tmp_path, database_dsn, "user", "admin", "ann")
        assert made.returncode == 0, made.stderr

        text = await _cli(tmp_path, database_dsn, "audit")
        assert text.returncode == 0, text.stderr
        lines = text.stdout.splitlines()
        assert lines[0].split() == ["WHEN", "(UTC)", "BY", "ACTION", "TARGET", "ROOM",
                                    "DETAILS"]
        assert lines[1].split()[2:5] == ["(command", "line)", "admin"]
        assert lines[1].split()[5:] == ["ann", "-", "admin=true"]
        assert lines[2].split()[2:6] == ["ann", "set_role", "bob", "#team"]
        assert 'role="moderator"' in lines[2].split()[6:]
        assert len(lines) == 3
        one_room = await _cli(tmp_path, database_dsn, "audit", "--room", "team", "--json")
        assert [(e["actor"], e["action"], e["target"]) for e in
                json.loads(one_room.stdout)["entries"]] == [("ann", "set_role", "bob")]
        for args, problem in (
                (["audit", "--room", "nope"], "chatd: there is no room 'nope'"),
                (["audit", "--limit", "0"], "chatd: --limit: 1 to 10000, not 0"),
                (["user", "deactivate", "bob", "--delete-messages", "8d"],
                 "chatd: --delete-messages: '8d' is not between 1 second and 7 days"),
                (["user", "deactivate", "bob", "--delete-messages", "soon"],
                 "chatd: --delete-messages: 'soon' is no duration (3600, 90m, 24h, 7d)"),
                (["user", "deactivate", "ghost", "--delete-messages", "1h"],
                 "chatd: no user called 'ghost'")):
            failed = await _cli(tmp_path, database_dsn, *args)
            assert _one_line_failure(failed).splitlines()[-1] == problem, args
        status, _ = await http(server.http_port, "GET", "/api/me", token=await
                               register_and_login(server.http_port, "bob"))
        assert status == 200  # the refused deactivations did nothing

        await until_online(database_dsn, 1)
        stats = await _cli(tmp_path, database_dsn, "stats")
        assert stats.returncode == 0, stats.stderr
        shown = {line[:15].strip(): line[15:] for line in stats.stdout.splitlines()}
        assert shown["users"] == "2 (1 administrator, 0 deactivated), 0 bots"
        assert shown["rooms"] == "1 (0 archived), 0 conversations"
        assert shown["messages"] == "1"
        assert shown["nodes"].startswith(server.app.storage.node)
        assert shown["nodes"].endswith("1 online")
        figures = json.loads((await _cli(tmp_path, database_dsn, "stats", "--json")).stdout)
        assert figures["users"] == 2 and figures["database_bytes"] > 1_000_000
        assert figures["nodes"] == [{"name": server.app.storage.node,
                                     "seen_at": figures["nodes"][0]["seen_at"],
                                     "online": 1}]
        users = json.loads((await _cli(tmp_path, database_dsn, "user", "list",
                                       "--json")).stdout)["users"]
        assert [(u["name"], u["admin"]) for u in users] == [("ann", True), ("bob", False)]


def _on_a_terminal(tmp_path: Path, dsn: str, typed: str, *args: str
                   ) -> subprocess.CompletedProcess[str]:
    """``chatd ARGS`` with a terminal (a pty) as standard input, where ``typed`` is typed."""
    main, child = pty.openpty()
    try:
        os.write(main, typed.encode())
        return subprocess.run([sys.executable, "-m", "chatd", *args], stdin=child,
                              env=_env(tmp_path, CHATD_DATABASE_DSN=dsn), cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
    finally:
        os.close(main)
        os.close(child)


async def test_room_delete_asks_on_a_terminal(tmp_path: Path, database_dsn: str,
                                              storage: Storage) -> None:
    """On a terminal, `room delete` says what will go and deletes only once the room's name
    is typed; another answer leaves the room as it was."""
    owner = await storage.create_user("ann", "hash")
    await storage.create_room(owner.id, "team", private=False, topic="")
    wrong = await trio.to_thread.run_sync(
        lambda: _on_a_terminal(tmp_path, database_dsn, "yes\n", "room", "delete", "team"))
    assert "#team has 1 member and 0 entries; deleting it cannot be undone." in wrong.stderr
    assert "type the room's name to delete it: " in wrong.stderr
    assert _one_line_failure(wrong).splitlines()[-1] == \
        "type the room's name to delete it: chatd: not confirmed: #team is left as it was"
    assert [r.name for r in await storage.admin_rooms(limit=10)] == ["team"]
    typed = await trio.to_thread.run_sync(
        lambda: _on_a_terminal(tmp_path, database_dsn, "team\n", "room", "delete", "team"))
    assert typed.returncode == 0 and "deleted #team" in typed.stdout, typed.stderr
    assert await storage.admin_rooms(limit=10) == []
