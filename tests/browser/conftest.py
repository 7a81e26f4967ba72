"""Fixtures for the browser tests: a real `chatd serve` process that a test can stop and
start again on the same port, Debian's Chromium driven by Playwright (sync API), and small
sync clients for the HTTP API and the NDJSON protocol to set the scene.

The daemon is ready when it says so, as it does to systemd: `READY=1` on the datagram socket
named by ``$NOTIFY_SOCKET``, with the ports in its ``STATUS=``. The test waits on that socket and
on the process (a pidfd), so it wakes when either happens and never polls.

These tests are synchronous (Playwright's sync API runs its own event loop), so pytest-trio's
trio mode leaves them alone. The module is skipped where Chromium is not installed; CI
installs it (.ci/run). Test modules mark themselves with ``needs_chromium``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import select
import signal
import socket
import subprocess
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import pytest
from playwright.sync_api import Browser, Page, Playwright, ViewportSize, expect, sync_playwright

from tests.cheapkdf import CHATD, child_env
from tests.conftest import _with_database, execute_sql
from tests.helpers import NO_PREVIEWS

CHROMIUM = Path("/usr/lib/chromium/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
ROOT = Path(__file__).resolve().parent.parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
DOC_SCREENSHOTS = ROOT / "docs" / "screenshots"
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
PASSWORD = "correct horse battery"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
RESUME_MAX = 3

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)",
)


def _in_thread(dsn: str, statement: str) -> None:
    """Run SQL from a thread of its own: Playwright's sync API keeps an asyncio loop running
    in this one, and the shared helper uses asyncio.run."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            execute_sql(dsn, statement)
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]


@pytest.fixture
def database_dsn(pg_server: str) -> Iterator[str]:
    """As the shared fixture (a new empty database, dropped afterwards), usable while the
    browser runs."""
    name = f"chatd_test_{uuid.uuid4().hex[:12]}"
    _in_thread(pg_server, f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(pg_server, name)
    finally:
        _in_thread(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# Whether a message waits for the search indexer (migration 0011).
_WAITING = "SELECT EXISTS (SELECT 1 FROM messages WHERE words IS NULL)"


class Daemon:
    """`python -m chatd serve` as a child process against one test database.

    The first start binds free ports; later starts reuse the HTTP port, so that open pages
    reconnect to the same address, as they would after a real restart.
    """

    def __init__(self, workdir: Path, dsn: str) -> None:
        self.workdir = workdir
        self.dsn = dsn
        self.log_path = workdir / "daemon.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.http_port = 0
        self.tcp_port = 0
        #: CHATD_* settings of a test's own (e.g. a small limit), on top of the usual ones.
        self.settings: dict[str, str] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        """Start the daemon and wait until it says it is ready (or exits)."""
        assert self.proc is None
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as ready:
            name = f"chatd-test-{uuid.uuid4().hex}"
            ready.bind("\0" + name)  # the abstract namespace: no file, no path length limit
            proc = self._spawn({"NOTIFY_SOCKET": "@" + name})
            try:
                status = _wait_ready(ready, proc, START_TIMEOUT)
            except AssertionError as exc:
                proc.kill()
                proc.wait()
                raise AssertionError(f"{exc}:\n{self.log_tail()}") from None
        found = re.search(r"http port (\d+), tcp port (\d+)", status or "")
        if not found:
            proc.kill()
            code = proc.wait()
            why = f"exited with {code}" if status is None else f"said {status!r}"
            raise AssertionError(f"chatd did not start ({why}):\n{self.log_tail()}")
        self.proc = proc
        self.http_port, self.tcp_port = int(found[1]), int(found[2])

    def _spawn(self, extra: dict[str, str]) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("CHATD_") and k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
        env.update({**NO_PREVIEWS, **extra})
        env.update({
            "CHATD_SERVER_DATA_DIR": str(self.workdir / "data"),
            "CHATD_SERVER_GRACE_PERIOD": "2",
            "CHATD_DATABASE_DSN": self.dsn,
            "CHATD_HTTP_PORT": str(self.http_port),
            "CHATD_TCP_PORT": "0",
            # Small, so that a page that was away for a few messages gets a `gap` to page.
            "CHATD_LIMITS_RESUME_MAX": str(RESUME_MAX),
            **self.settings,
        })
        with self.log_path.open("ab") as log:
            # chatd's command line, hashing passwords cheaply (tests/cheapkdf.py).
            return subprocess.Popen(
                [*CHATD, "serve"], cwd=self.workdir, env=child_env(env),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )

    def stop(self) -> None:
        """SIGTERM, and wait for the drain to finish (exit status 0)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"chatd did not stop on SIGTERM:\n{self.log_tail()}") from None
        assert code == 0, f"chatd exited with {code}:\n{self.log_tail()}"

    def search_caught_up(self, within: float = 10.0) -> None:
        """Wait until the daemon's indexer has indexed for search every message committed so
        far (it does a moment after each commit), polling the database; fails after
        ``within`` seconds. A scene calls it before the page searches for what it sent."""
        failure: list[BaseException] = []

        async def poll() -> None:
            conn = await asyncpg.connect(self.dsn)
            try:
                async with asyncio.timeout(within):
                    while await conn.fetchval(_WAITING):  # noqa: ASYNC110 (the database)
                        await asyncio.sleep(0.01)
            finally:
                await conn.close()

        def run() -> None:
            try:
                asyncio.run(poll())
            except BaseException as exc:
                failure.append(exc)

        worker = threading.Thread(target=run)  # (Playwright's loop runs in this thread)
        worker.start()
        worker.join()
        if failure:
            raise failure[0]

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _wait_ready(ready: socket.socket, proc: subprocess.Popen[bytes], timeout: float
                ) -> str | None:
    """The STATUS= of the daemon's READY=1 notification; None if it exited first.

    Raises AssertionError when neither happens within `timeout` seconds.
    """
    exited = os.pidfd_open(proc.pid)
    try:
        while True:
            readable, _, _ = select.select([ready.fileno(), exited], [], [], timeout)
            if not readable:
                raise AssertionError(f"chatd neither got ready nor exited in {timeout} s")
            if ready.fileno() in readable:
                lines = ready.recv(4096).decode().splitlines()
                fields = dict(line.split("=", 1) for line in lines if "=" in line)
                if fields.get("READY") == "1":
                    return fields.get("STATUS", "")
            elif exited in readable:
                return None
    finally:
        os.close(exited)


@pytest.fixture
def daemon(tmp_path: Path, database_dsn: str) -> Iterator[Daemon]:
    """A running daemon on a fresh database; stopped (and its log shown on failure) after."""
    yield from _running(Daemon(tmp_path, database_dsn))


def _running(server: Daemon) -> Iterator[Daemon]:
    """Start ``server``, hand it over, then stop it and print its log (shown on failure)."""
    server.start()
    try:
        yield server
    finally:
        try:
            server.stop()
        finally:
            print(f"--- chatd log ---\n{server.log_tail()}")


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (tests/artifacts/, ignored by git). docs/screenshots/ is made
    from them on purpose, never by a test run (docs/screenshots/README.md)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def screenshots_now() -> dict[str, str]:
    """docs/screenshots/ as it is: each file's name and the SHA-256 of its bytes."""
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(DOC_SCREENSHOTS.glob("*")) if path.is_file()}


@pytest.fixture(scope="session", autouse=True)
def docs_screenshots_untouched() -> Iterator[None]:
    """A test run leaves the tracked screenshots as they were (a test that wrote there left
    the checkout modified after every ``pytest``): checked once the session's browser tests
    are done, as an error of the last one."""
    before = screenshots_now()
    yield
    after = screenshots_now()
    changed = sorted(name for name in before.keys() | after.keys()
                     if before.get(name) != after.get(name))
    assert changed == [], (
        f"browser tests wrote to {DOC_SCREENSHOTS}: {changed}; screenshots go to "
        "tests/artifacts/ (the `artifacts` fixture), docs/screenshots/README.md says how "
        "to refresh the docs' copies")


# -- small sync clients ------------------------------------------------------------------------


def http_json(
    base: str, method: str, path: str, body: dict[str, Any] | None = None,
    token: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """One API call; returns the status and the JSON body (errors included)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read() or b"{}")


def wait_loaded(page: Page, selector: str) -> None:
    """Wait until the first image matching ``selector`` has loaded (decoded, not broken).
    A function, with the selector as its argument: the string form of ``wait_for_function``
    is evaluated by eval once it has to poll, which the page's CSP forbids (so it passed
    only when the image had loaded at the first look)."""
    page.wait_for_function(
        "selector => { const img = document.querySelector(selector);"
        " return !!img && img.complete && img.naturalWidth > 0; }", arg=selector)


def losing_the_reply(page: Page, op: str, sent: list[dict[str, Any]]) -> None:
    """Route `page`'s WebSocket through the test: its `op` requests are recorded in `sent`; the
    server's reply to the first one is left out and the connection closed then (the server did
    it, the page does not know)."""
    lost = [False]

    def route(ws: Any) -> None:
        server = ws.connect_to_server()

        def from_page(payload: str | bytes) -> None:
            if isinstance(payload, str):
                sent.extend(frame for line in payload.split("\n") if line.strip()
                            if (frame := json.loads(line)).get("op") == op)
            server.send(payload)

        def from_server(payload: str | bytes) -> None:
            if not lost[0] and sent and isinstance(payload, str):
                lines = payload.split("\n")
                for n, line in enumerate(lines):
                    if line.strip() and json.loads(line).get("id") == sent[0]["id"]:
                        lost[0] = True
                        if kept := "\n".join(lines[:n]).strip():
                            ws.send(kept + "\n")
                        ws.close()
                        return
            ws.send(payload)

        ws.on_message(from_page)
        server.on_message(from_server)

    page.route_web_socket(re.compile(r"/ws$"), route)


def wait_online(page: Page) -> None:
    """Wait until ``page`` is connected and welcomed (its status dot says online)."""
    expect(page.locator("#me-status")).to_have_attribute("data-phase", "online")


def pick_in_menu(page: Page, name: str) -> None:
    """Pick the item of the open menu whose whole accessible name is ``name`` ("Reply" is
    not "Reply in thread")."""
    page.get_by_role("menu").get_by_role("menuitem", name=name, exact=True).click()


def register_and_login(base: str, name: str) -> str:
    """A new account; its token."""
    status, body = http_json(base, "POST", "/api/register", {"username": name,
                                                              "password": PASSWORD})
    assert status == 201, body
    status, body = http_json(base, "POST", "/api/login", {"username": name, "password": PASSWORD})
    assert status == 200, body
    token = body["token"]
    assert isinstance(token, str)
    return token


class LineClient:
    """A blocking NDJSON client on the TCP port, for setting up a scene quickly."""

    def __init__(self, port: int, token: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        self.next_id = 1
        welcome = self.request("hello", token=token)
        assert welcome["op"] == "welcome", welcome

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        ident = self.next_id
        self.next_id += 1
        self.sock.sendall(json.dumps({"op": op, "id": ident, **fields}).encode() + b"\n")
        while True:
            frame = self._frame()
            if frame.get("id") == ident:
                assert frame["op"] != "error", frame
                return frame

    def send_many(self, room: str, texts: list[str], prefix: str) -> None:
        """Send many messages pipelined, then wait for every ack."""
        first = self.next_id
        lines = []
        for n, text in enumerate(texts):
            lines.append(json.dumps({"op": "send", "id": first + n, "room": room, "text": text,
                                     "nonce": f"{prefix}-{n}"}))
        self.next_id += len(texts)
        self.sock.sendall(("\n".join(lines) + "\n").encode())
        waiting = set(range(first, first + len(texts)))
        while waiting:
            frame = self._frame()
            if frame.get("id") in waiting:
                assert frame["op"] == "ok", frame
                waiting.discard(frame["id"])

    def wait_for(self, op: str) -> dict[str, Any]:
        """The next frame of ``op`` (an event), reading past the others."""
        while True:
            frame = self._frame()
            if frame.get("op") == op:
                return frame

    def _frame(self) -> dict[str, Any]:
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            assert chunk, "the server closed the connection"
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        frame = json.loads(line)
        assert isinstance(frame, dict)
        return frame

    def close(self) -> None:
        self.sock.close()


#: The room list's largest page in :class:`PagedDaemon` (and so its default page).
ROOMS_PAGE_MAX = 3


class PagedDaemon(Daemon):
    """A daemon whose room list comes :data:`ROOMS_PAGE_MAX` rooms a page, so that a few rooms
    make several pages."""

    def _spawn(self, extra: dict[str, str]) -> subprocess.Popen[bytes]:
        return super()._spawn({**extra, "CHATD_LIMITS_ROOMS_PAGE_MAX": str(ROOMS_PAGE_MAX)})


@pytest.fixture
def paged_daemon(tmp_path: Path, database_dsn: str) -> Iterator[Daemon]:
    """As ``daemon``, paging the room list by :data:`ROOMS_PAGE_MAX`."""
    yield from _running(PagedDaemon(tmp_path, database_dsn))


class Closable(Protocol):
    def close(self) -> None: ...


@pytest.fixture
def sessions(browser: Browser) -> Iterator[list[Any]]:
    """The sessions (browser contexts with their page, tests/browser/test_web.py ``Session``)
    a test opens: closed after it."""
    opened: list[Closable] = []
    yield opened
    for session in opened:
        with contextlib.suppress(Exception):  # some are closed by the test already
            session.close()


def holding_answers(page: Page, asks: Callable[[dict[str, Any]], bool], what: str
                    ) -> Callable[[], None]:
    """Route ``page``'s WebSocket through the test, holding back the server's answers (``ok``
    or ``error``) to the requests ``asks`` picks (the page does not know what they tell yet)
    until the function returned is called; ``what`` names them in its assertion."""
    asked: list[Any] = []
    held: list[str] = []
    sockets: list[Any] = []
    holding = [True]

    def route(ws: Any) -> None:
        server = ws.connect_to_server()
        sockets.append(ws)

        def from_page(payload: str | bytes) -> None:
            if isinstance(payload, str):
                asked.extend(frame.get("id") for line in payload.split("\n") if line.strip()
                             if asks(frame := json.loads(line)))
            server.send(payload)

        def from_server(payload: str | bytes) -> None:
            if holding[0] and asked and isinstance(payload, str):
                kept = []
                for line in payload.split("\n"):
                    frame = json.loads(line) if line.strip() else {}
                    if frame.get("op") in ("ok", "error") and frame.get("id") in asked:
                        held.append(line)
                    else:
                        kept.append(line)
                payload = "\n".join(kept)
                if not payload.strip():
                    return
            ws.send(payload)

        ws.on_message(from_page)
        server.on_message(from_server)

    page.route_web_socket(re.compile(r"/ws$"), route)

    def release() -> None:
        holding[0] = False
        assert held, f"no answer to {what} was held"
        sockets[-1].send("\n".join(held) + "\n")
        held.clear()

    return release
