"""`chatd client` as a person uses it: a real process on a pseudo-terminal, or fed by a pipe.

Rules: the client runs as ``python -m chatd client`` with the slave side of a pty as its
terminal (stdin, stdout, stderr) and no controlling terminal of the test's; the test types on the
master side and reads what the client prints, every wait bounded by ``trio.fail_after``. A script
feeds it a pipe instead (``client_in_batch``). The daemon runs in the test's trio run
(``running``); the other party is the protocol client of ``tests/client/wire.py``.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from chatd.client import Endpoint, clean, clean_body
from chatd.config import Config
from chatd.server import Server
from tests.client.wire import Client, http, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config

PASSWORD = "correct horse"
WAIT = 20
STAMPED = r"\d\d:\d\d"  # the HH:MM of a shown message


class Terminal:
    """The master side of the pty a ``chatd client`` runs on."""

    def __init__(self, proc: trio.Process, master: trio.lowlevel.FdStream) -> None:
        self.proc = proc
        self.raw = bytearray()
        self._master = master
        self._pos = 0
        self._changed = trio.Event()
        self.closed = False

    @property
    def text(self) -> str:
        """Everything printed so far, with the terminal's CRLF as LF."""
        return self.raw.decode("utf-8", "replace").replace("\r\n", "\n")

    async def _pump(self) -> None:
        try:
            while True:
                data = await self._master.receive_some(65536)
                if not data:
                    break
                self.raw += data
                self._changed.set()
                self._changed = trio.Event()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # EIO: the client closed the terminal
        self.closed = True
        self._changed.set()

    async def expect(self, pattern: str, within: float = WAIT) -> re.Match[str]:
        """Wait for ``pattern`` (a regex) after what earlier expects matched; move past it."""
        regex = re.compile(pattern)
        try:
            with trio.fail_after(within):
                while True:
                    found = regex.search(self.text, self._pos)
                    if found:
                        self._pos = found.end()
                        return found
                    if self.closed:
                        raise EOFError
                    await self._changed.wait()
        except (trio.TooSlowError, EOFError):
            raise AssertionError(f"no {pattern!r} in the client's output after position "
                                 f"{self._pos}:\n{self.text}") from None

    async def type(self, line: str) -> None:
        await self._master.send_all(line.encode() + b"\n")

    def count(self, pattern: str) -> int:
        return len(re.findall(pattern, self.text))


@asynccontextmanager
async def client_on_pty(tmp_path: Path, http_port: int, user: str,
                        *extra: str, status: int = 0) -> AsyncIterator[Terminal]:
    """Run ``chatd client`` for ``user`` on a new pty; it is asked to /quit at the end, and
    must then exit with ``status``."""
    env = _client_env()
    master, slave = os.openpty()
    try:
        proc = await trio.lowlevel.open_process(
            [sys.executable, "-m", "chatd", "client", "--server", f"http://127.0.0.1:{http_port}",
             "--user", user, *extra],
            stdin=slave, stdout=slave, stderr=slave, start_new_session=True, cwd=tmp_path,
            env=env,
        )
    finally:
        os.close(slave)
    term = Terminal(proc, trio.lowlevel.FdStream(master))
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(term._pump)
            try:
                yield term
                if proc.returncode is None and not term.closed:
                    await term.type("/quit")
                with trio.fail_after(WAIT):
                    assert await proc.wait() == status, term.text
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
                nursery.cancel_scope.cancel()
    finally:
        await term._master.aclose()


def _client_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATD_")}
    env.update(TERM="xterm", PYTHONUNBUFFERED="1")
    return env


async def client_in_batch(tmp_path: Path, http_port: int, user: str, lines: list[str],
                          *extra: str) -> tuple[int, str]:
    """Run ``chatd client`` for ``user`` as a script would: ``lines`` (the password first)
    piped to its standard input, which then ends. Returns its exit status and output."""
    result = await trio.run_process(
        [sys.executable, "-m", "chatd", "client", "--server", f"http://127.0.0.1:{http_port}",
         "--user", user, *extra],
        stdin="".join(line + "\n" for line in lines).encode(), capture_stdout=True,
        stderr=subprocess.STDOUT, cwd=tmp_path, env=_client_env(), check=False,
    )
    return result.returncode, result.stdout.decode("utf-8", "replace")


async def log_in(term: Terminal) -> None:
    await term.expect(r"password: ")
    await term.type(PASSWORD)
    await term.expect(r"-- connected to (ws://|tcp )\S+ as \w+")


async def party(nursery: trio.Nursery, server: Server, name: str, *rooms: str) -> Client:
    """The other party: ``name`` on a WebSocket, in ``rooms``."""
    other = await Client.ws(server.http_port, nursery)
    await other.hello(await register_and_login(server.http_port, name))
    for room in rooms:
        await other.request("join", room=room)
    return other


@pytest.fixture
def config(tmp_path: Path, database_dsn: str) -> Config:
    return make_config(tmp_path, database_dsn, server={"grace_period": 3.0})


def test_clean_neutralises_controls() -> None:
    """C0 (but tab), DEL, C1 and bidi overrides become U+FFFD; newlines become indents."""
    assert clean("\x1b]0;pwned\x07\x1b[2J") == "\ufffd]0;pwned\ufffd\ufffd[2J"
    assert clean("a\tb\x7f\x9b\u202ec") == "a\tb\ufffd\ufffd\ufffdc"
    assert clean_body("one\r\ntwo\rthree") == "one\n      two\ufffdthree"
    assert Endpoint.parse("https://chat.example.org/chatd/").ws_url == \
        "wss://chat.example.org:443/chatd/ws"


async def test_logs_in_registering_a_new_account(tmp_path: Path, config: Config) -> None:
    """With --register a new user's password is asked twice; then they are welcomed."""
    async with running(config) as server, \
            client_on_pty(tmp_path, server.http_port, "newcomer", "--register") as term:
        await term.expect(r"password: ")
        await term.type(PASSWORD)
        await term.expect(r"Password again: ")
        await term.type(PASSWORD)
        await term.expect(r"-- registered newcomer")
        await term.expect(r"-- connected to ws://127\.0\.0\.1:\d+/ws as newcomer")
        await term.expect(r"you are in no room yet")
        assert PASSWORD not in term.text  # the terminal did not echo it


async def test_registers_with_an_invitation_link(tmp_path: Path, database_dsn: str) -> None:
    """On a server taking registrations by invitation only, --register alone is refused with
    the server's reason and a hint; --invitation with the link registers, says which rooms
    the account joined, and connects."""
    config = make_config(tmp_path, database_dsn, auth={"registration": "invite"})
    async with running(config) as server, trio.open_nursery() as nursery:
        await server.app.auth.register("root", PASSWORD, admin=True)
        root = await Client.ws(server.http_port, nursery)
        status, login = await http(server.http_port, "POST", "/api/login",
                                   {"username": "root", "password": PASSWORD})
        await root.hello(login["token"])
        await root.request("create_room", room="general")
        status, made = await http(server.http_port, "POST", "/api/invitations",
                                  {"rooms": ["general"]}, token=login["token"])
        assert status == 201, made
        returncode, output = await client_in_batch(tmp_path, server.http_port, "newcomer",
                                                   [PASSWORD], "--register")
        assert returncode == 1, output
        assert ("!! could not register: invitation_required: this server takes registrations "
                "with an invitation link only (chatd client --invitation LINK registers with "
                "an invitation link)") in output
        returncode, output = await client_in_batch(tmp_path, server.http_port, "newcomer",
                                                   [PASSWORD, "/rooms"], "--invitation",
                                                   made["url"])
        assert returncode == 0, output
        assert "-- registered newcomer (joined #general)" in output
        assert "-- connected to ws://" in output
        assert "-- rooms (1)" in output
        await root.event("joined", room="general", user="newcomer", by="root")
        returncode, output = await client_in_batch(tmp_path, server.http_port, "other",
                                                   [PASSWORD], "--invitation", made["token"])
        assert returncode == 1, output
        assert "!! could not register: invitation_used_up: " in output
        returncode, output = await client_in_batch(tmp_path, server.http_port, "other",
                                                   [PASSWORD], "--invitation", "http://x/#no")
        assert returncode == 2, output
        assert "--invitation: 'http://x/#no' is no invitation link or token" in output
        await root.aclose()


async def test_a_wrong_password_is_called_so(tmp_path: Path, config: Config) -> None:
    """A wrong password is "wrong user name or password" (the server says no more, so that
    nobody learns who has an account); no registration of an existing user is offered."""
    async with running(config) as server:
        await register_and_login(server.http_port, "ann")
        async with client_on_pty(tmp_path, server.http_port, "ann", status=1) as term:
            await term.expect(r"password: ")
            await term.type("not the password")
            await term.expect(r"!! wrong user name or password\n")
            await term.expect(r"-- no account yet\? chatd client --register creates one")
            with trio.fail_after(WAIT):
                assert await term.proc.wait() == 1
        assert "egister a new account" not in term.text
        assert "Password again" not in term.text


async def test_an_unknown_user_is_told_the_same(tmp_path: Path, config: Config) -> None:
    """Without --register an unknown name gets the same answer as a wrong password."""
    async with running(config) as server:
        returncode, output = await client_in_batch(tmp_path, server.http_port, "nobody",
                                                   [PASSWORD, "hello?"])
    assert returncode == 1, output
    assert "!! wrong user name or password" in output
    assert "connected" not in output


async def test_register_a_taken_name_logs_in(tmp_path: Path, config: Config) -> None:
    """--register for a name that has an account (with its password) just logs in."""
    async with running(config) as server:
        await register_and_login(server.http_port, "ann")
        returncode, output = await client_in_batch(tmp_path, server.http_port, "ann",
                                                   [PASSWORD, "/rooms"], "--register")
        assert returncode == 0, output
        assert "-- ann has an account already; logging in" in output
        assert "-- connected to ws://" in output
        assert "-- rooms (0)" in output


async def test_piped_lines_are_sent_and_acknowledged(tmp_path: Path, config: Config) -> None:
    """`printf 'pw\\nhello\\n' | chatd client --user ann`: the line waits for the session,
    is sent and acknowledged, and the client exits 0 at the end of its input."""
    async with running(config) as server, trio.open_nursery() as nursery:
        await register_and_login(server.http_port, "ann")
        bob = await party(nursery, server, "bob", "general")
        await bob.request("invite", room="general", user="ann")
        returncode, output = await client_in_batch(tmp_path, server.http_port, "ann",
                                                   [PASSWORD, "hello from a pipe"])
        assert returncode == 0, output
        assert re.search(rf"{STAMPED} \[general\] ann: hello from a pipe\n", output), output
        assert "not connected" not in output and "not sent" not in output
        got = await bob.event("message", room="general", text="hello from a pipe")
        assert got["from"] == "ann"
        page = await bob.request("history", room="general")
        assert [m["text"] for m in page["messages"]] == ["hello from a pipe"]
        await bob.aclose()
        nursery.cancel_scope.cancel()


async def test_piped_commands_act_in_order(tmp_path: Path, config: Config) -> None:
    """Over TCP, a script joins a room and writes there: each command waits for its answer,
    so the lines after /join go to the room joined; a dm goes too. All are acknowledged."""
    async with running(config) as server, trio.open_nursery() as nursery:
        await register_and_login(server.http_port, "ann")
        bob = await party(nursery, server, "bob", "news")
        returncode, output = await client_in_batch(
            tmp_path, server.http_port, "ann",
            [PASSWORD, "/join news", "first", "second", "/dm bob psst", "/who"],
            "--tcp", f"127.0.0.1:{server.tcp_port}")
        assert returncode == 0, output
        assert "-- joined [news]" in output
        assert "-- in [news]: ann (online), bob (online)" in output
        page = await bob.request("history", room="news")
        assert [m["text"] for m in page["messages"]] == ["first", "second"]
        page = await bob.request("history", room="@ann:bob")
        assert [m["text"] for m in page["messages"]] == ["psst"]
        await bob.aclose()
        nursery.cancel_scope.cancel()


async def test_a_piped_line_that_cannot_be_sent_fails_the_script(tmp_path: Path,
                                                                 config: Config) -> None:
    """A script whose line has nowhere to go (no room yet) exits non-zero."""
    async with running(config) as server:
        await register_and_login(server.http_port, "ann")
        returncode, output = await client_in_batch(tmp_path, server.http_port, "ann",
                                                   [PASSWORD, "into the void"])
    assert returncode == 1, output
    assert "!! no current room" in output


async def test_join_send_confirm_and_receive(tmp_path: Path, config: Config) -> None:
    """A joined room's line is shown pending then confirmed; the other party's line arrives."""
    async with running(config) as server, trio.open_nursery() as nursery:
        await register_and_login(server.http_port, "ann")
        bob = await party(nursery, server, "bob", "general")
        await bob.request("send", room="general", text="earlier words", nonce="b0")
        async with client_on_pty(tmp_path, server.http_port, "ann") as term:
            await log_in(term)
            await term.type("/join general")
            await term.expect(r"-- joined \[general\]")
            await term.expect(rf"{STAMPED} \[general\] bob: earlier words")
            await term.type("hello bob")
            await term.expect(r"\.\.\. \[general\] ann: hello bob  \(sending\)")
            await term.expect(rf"{STAMPED} \[general\] ann: hello bob\n")
            got = await bob.event("message", room="general", text="hello bob")
            assert got["from"] == "ann"
            await bob.request("send", room="general", text="hi ann", nonce="b1")
            await term.expect(rf"{STAMPED} \[general\] bob: hi ann")
            await term.type("/who")
            await term.expect(r"-- in \[general\]: ann \(online\), bob \(online\)")
            await term.type("/history")
            await term.expect(r"-- no older messages in \[general\]")
            assert term.count(r"\] ann: hello bob\n") == 1
            assert term.count(r"\] bob: hi ann") == 1
            await bob.aclose()
        nursery.cancel_scope.cancel()


async def test_dm_both_ways(tmp_path: Path, config: Config) -> None:
    """Over TCP: /dm reaches the other user, their dm is shown under @user, and /r @user
    talks in the conversation."""
    async with running(config) as server, trio.open_nursery() as nursery:
        await register_and_login(server.http_port, "ann")
        bob = await party(nursery, server, "Bob")
        async with client_on_pty(tmp_path, server.http_port, "ann",
                                 "--tcp", f"127.0.0.1:{server.tcp_port}") as term:
            await log_in(term)
            await term.type("/dm bob psst")
            await term.expect(rf"{STAMPED} \[@bob\] ann: psst\n")
            got = await bob.event("message", room="@ann:bob")
            assert (got["from"], got["text"]) == ("ann", "psst")
            await bob.request("dm", to="ANN", text="psst back", nonce="b1")
            await term.expect(rf"{STAMPED} \[@bob\] Bob: psst back")
            await term.type("/r @bob")
            await term.expect(r"-- talking in \[@bob\]")
            await term.type("in the conversation")
            await term.expect(rf"{STAMPED} \[@bob\] ann: in the conversation\n")
            got = await bob.event("message", room="@ann:bob", text="in the conversation")
            assert got["seq"] == 3
            await bob.aclose()
        nursery.cancel_scope.cancel()


async def test_rate_limited_send_is_sent_again(tmp_path: Path, database_dsn: str) -> None:
    """A send refused with rate_limited is said to be, and is sent again by itself once the
    limit allows, with the same nonce (stored once)."""
    config = make_config(tmp_path, database_dsn, limits={"send_rate": 0.5, "send_burst": 1})
    async with running(config) as server, trio.open_nursery() as nursery:
        await register_and_login(server.http_port, "ann")
        bob = await party(nursery, server, "bob", "general")
        async with client_on_pty(tmp_path, server.http_port, "ann") as term:
            await log_in(term)
            await term.type("/join general")
            await term.expect(r"-- joined \[general\]")
            await term.type("first")
            await term.type("second")
            await term.expect(r"!! not sent to \[general\]: rate_limited: .* \(retry in [\d.]+s\)")
            await term.expect(r"-- it will be sent again when the limit allows")
            await term.expect(rf"{STAMPED} \[general\] ann: second\n")
            page = await bob.request("history", room="general")
            assert [m["text"] for m in page["messages"]] == ["first", "second"]
            assert term.count(r"\] ann: second\n") == 1
            await bob.aclose()
        nursery.cancel_scope.cancel()


async def test_presence_of_a_contact(tmp_path: Path, config: Config) -> None:
    """A contact coming online and going offline is announced."""
    async with running(config) as server, trio.open_nursery() as nursery:
        await register_and_login(server.http_port, "ann")
        await register_and_login(server.http_port, "bob")
        async with client_on_pty(tmp_path, server.http_port, "ann") as term:
            await log_in(term)
            await term.type("/add bob")
            await term.expect(r"-- added contact bob \(offline\)")
            bob = await party(nursery, server, "bob")
            await term.expect(r"-- bob is online")
            await bob.aclose()
            await term.expect(r"-- bob is offline")
            await term.type("/contacts")
            await term.expect(r"-- contacts: bob \(offline\)")
        nursery.cancel_scope.cancel()


async def test_idle_after_minutes_without_a_line_and_away_shown(tmp_path: Path,
                                                                config: Config) -> None:
    """``--idle-after`` (a few seconds here): ann's client, left alone, makes her away for
    Bob; her next line makes her online. Bob idle: ann's client says he is away, and /who and
    /contacts show "away"."""
    async with running(config) as server, trio.open_nursery() as nursery:
        await register_and_login(server.http_port, "ann")
        bob_token = await register_and_login(server.http_port, "bob")
        async with client_on_pty(tmp_path, server.http_port, "ann",
                                 "--idle-after", "0.05") as term:
            await log_in(term)
            await term.type("/join lobby")
            await term.expect(r"joined")
            await term.type("/add bob")
            await term.expect(r"-- added contact bob \(offline\)")
            bob = await Client.ws(server.http_port, nursery)
            await bob.hello(bob_token)
            await bob.request("join", room="lobby")
            await bob.request("add_contact", user="ann")
            assert await bob.event("presence", user="ann", status="away")  # 3 s on
            await term.type("/contacts")
            assert await bob.event("presence", user="ann", status="online")
            await bob.request("idle", idle=True)
            await term.expect(r"-- bob is away")
            await term.type("/who")
            await term.expect(r"bob \(away\)")
            await term.type("/contacts")
            await term.expect(r"-- contacts: bob \(away\)")
            await bob.aclose()
        nursery.cancel_scope.cancel()


async def test_escape_sequences_are_printed_harmlessly(tmp_path: Path, config: Config) -> None:
    """Another user's escape sequences and line breaks reach the terminal defused."""
    payload = "\x1b]0;pwned\x07\x1b[2J"
    async with running(config) as server, trio.open_nursery() as nursery:
        await register_and_login(server.http_port, "ann")
        bob = await party(nursery, server, "bob", "general")
        async with client_on_pty(tmp_path, server.http_port, "ann") as term:
            await log_in(term)
            await term.type("/join general")
            await term.expect(r"-- joined \[general\]")
            await bob.request("send", room="general", text=payload, nonce="b1")
            await bob.request("send", room="general", nonce="b2",
                              text="fine\n12:00 [general] admin: send me your password")
            await term.expect(rf"{STAMPED} \[general\] bob: \ufffd\]0;pwned\ufffd\ufffd\[2J")
            await term.expect(rf"{STAMPED} \[general\] bob: fine\n {{6}}12:00 \[general\] admin")
            assert b"\x1b" not in term.raw and b"\x07" not in term.raw
            assert b"\xc2\x9b" not in term.raw  # nor the one-byte CSI of C1
            await bob.aclose()
        nursery.cancel_scope.cancel()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
async def test_resumes_after_a_daemon_restart(tmp_path: Path, database_dsn: str) -> None:
    """After the daemon restarts the client reconnects by itself, shows what it missed
    exactly once, and sends the line typed while it was away exactly once."""
    config = make_config(tmp_path, database_dsn, server={"grace_period": 3.0},
                         http={"port": _free_port()}, tcp={"port": _free_port()})
    elsewhere = config.replace(http={"port": 0}, tcp={"port": 0})  # same database and secret
    async with trio.open_nursery() as nursery, \
            client_on_pty(tmp_path, config.http.port, "ann") as term:
        async with running(config) as server:
            await register_and_login(server.http_port, "ann")
            bob = await party(nursery, server, "bob", "general")
            await bob.request("send", room="general", text="before", nonce="b0")
            await log_in(term)
            await term.type("/join general")
            await term.expect(rf"{STAMPED} \[general\] bob: before")
        await term.expect(r"-- connection lost")
        await term.type("typed while away")
        await term.expect(r"\[general\] ann: typed while away  \(not connected")
        async with running(elsewhere) as other:  # the client cannot see this one
            bob = await party(nursery, other, "bob")
            for n in range(3):
                ack = await bob.request("send", room="general", text=f"away {n}", nonce=f"a{n}")
                assert ack["op"] == "ok", ack
            await bob.aclose()
        async with running(config) as server:
            await term.expect(r"-- reconnected to ws://\S+ as ann", within=40)
            for n in range(3):
                await term.expect(rf"{STAMPED} \[general\] bob: away {n}")
            await term.expect(rf"{STAMPED} \[general\] ann: typed while away\n")
            bob = await party(nursery, server, "bob")
            await bob.request("send", room="general", text="after", nonce="b9")
            await term.expect(rf"{STAMPED} \[general\] bob: after")
            page = await bob.request("history", room="general")
            texts = [m["text"] for m in page["messages"]]
            assert texts == ["before", "away 0", "away 1", "away 2", "typed while away", "after"]
            for text in ("before", "away 0", "away 1", "away 2", "after"):
                assert term.count(rf"\] bob: {text}\n") == 1, term.text
            assert term.count(r"\] ann: typed while away\n") == 1, term.text
            await bob.aclose()
            await term.type("/quit")
            with trio.fail_after(WAIT):
                assert await term.proc.wait() == 0, term.text
        nursery.cancel_scope.cancel()
