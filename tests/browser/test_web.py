"""The web page in a real Chromium against the real daemon and PostgreSQL.

Rules: every wait is for a state, never for time: a Playwright locator wait or `expect` on
what a person sees (never the string form of wait_for_function: the page's CSP forbids eval),
or a frame the page received on its WebSocket (the reply that says the server stored what the
page sent). User-visible behaviour is asserted through the DOM the way a person sees it; each
message must be on screen exactly once, counted in DOM nodes. Screenshots of the main views
land in tests/artifacts/.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    ViewportSize,
    WebSocket,
    expect,
)
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser.conftest import (
    DESKTOP,
    PASSWORD,
    PHONE,
    RESUME_MAX,
    ROOT,
    Daemon,
    LineClient,
    http_json,
    needs_chromium,
    register_and_login,
)

pytestmark = [pytest.mark.slow, needs_chromium]

XSS = "<img src=x onerror=alert(1)>"
TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)


class Session:
    """One person: a browser context, its page, and what went wrong in it."""

    def __init__(self, browser: Browser, viewport: ViewportSize, **options: Any) -> None:
        self.context: BrowserContext = browser.new_context(viewport=viewport, **options)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page: Page = self.context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", self._console)
        self.received: list[str] = []  # every WebSocket message the page received
        self.sockets: list[WebSocket] = []
        self.page.on("websocket", self._websocket)

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:  # the page broke its own CSP
            self.errors.append(message.text)

    def _websocket(self, ws: WebSocket) -> None:
        self.sockets.append(ws)
        ws.on("framereceived", lambda payload: self.received.append(str(payload)))

    def wait_for_frame(self, wanted: Callable[[dict[str, Any]], bool], what: str
                       ) -> dict[str, Any]:
        """The first frame the page received for which `wanted` is true, waiting for it on the
        page's current WebSocket if it has not come yet (`what` names it in the failure)."""
        for payload in self.received:
            for frame in _frames(payload):
                if wanted(frame):
                    return frame
        # Playwright delivers events only inside its own calls, so nothing can arrive between
        # the look above and the wait below.
        try:
            payload = self.sockets[-1].wait_for_event(
                "framereceived", lambda payload: any(wanted(f) for f in _frames(str(payload))))
        except PlaywrightTimeoutError:
            raise AssertionError(f"the page never received {what}") from None
        return next(frame for frame in _frames(str(payload)) if wanted(frame))

    def wait_for_read(self, room: str, seq: int) -> None:
        """Wait until the server has acknowledged the page's read marker `seq` in `room` (the
        `ok` of a `read`: room and seq, no msg_id; a send's ack has one)."""
        self.wait_for_frame(lambda frame: frame.get("op") == "ok" and frame.get("room") == room
                            and frame.get("seq") == seq and "msg_id" not in frame,
                            f"the ok of its read marker {seq} in {room}")

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def close(self) -> None:
        self.context.close()


def _frames(payload: str) -> list[dict[str, Any]]:
    """The frames of one WebSocket message (one JSON object per line)."""
    frames = [json.loads(line) for line in payload.splitlines() if line.strip()]
    return [frame for frame in frames if isinstance(frame, dict)]


def open_session(sessions: list[Session], browser: Browser, viewport: ViewportSize) -> Session:
    session = Session(browser, viewport)
    sessions.append(session)
    return session


def register(page: Page, url: str, name: str) -> None:
    """Create an account through the page and wait until the chat is connected."""
    page.goto(url)
    page.get_by_role("tab", name="Create account").click()
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account", exact=True).click()
    expect(page.locator("#me-name")).to_have_text(name)
    expect(page.locator("#me-status")).to_have_attribute("data-phase", "online")


def log_in(page: Page, url: str, name: str, password: str = PASSWORD) -> None:
    page.goto(url)
    page.get_by_role("tab", name="Log in").click()
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()


def send(page: Page, text: str) -> None:
    box = page.locator("#composer-text")
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")


def texts(page: Page) -> list[str]:
    """The confirmed messages of the open conversation, in screen order."""
    return page.locator("#message-list li.msg[data-seq] .msg-text").all_inner_texts()


def assert_each_once(page: Page, expected: list[str]) -> None:
    """Exactly these messages, once each, in order; no seq twice, nothing left pending."""
    expect(page.locator("#message-list li.msg.pending")).to_have_count(0)
    expect(page.locator("#message-list li.msg[data-seq]")).to_have_count(len(expected))
    assert texts(page) == expected
    seqs = page.locator("#message-list li.msg[data-seq]").evaluate_all(
        "nodes => nodes.map(n => n.dataset.seq)")
    assert len(seqs) == len(set(seqs)), seqs


def read_seq(daemon: Daemon, token: str, room: str) -> int:
    """The user's read marker in a room, as the server has it now."""
    status, body = http_json(daemon.url, "GET", "/api/me", token=token)
    assert status == 200, body
    return int(next(r["read_seq"] for r in body["rooms"] if r["room"] == room))


def shot(page: Page, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), animations="disabled")


# -- the page itself ---------------------------------------------------------------------------


def test_page_is_served_with_safe_headers(daemon: Daemon) -> None:
    """/ and its modules come with a strict CSP, nosniff, exact content types and caching."""
    with urllib.request.urlopen(daemon.url + "/", timeout=10) as response:
        headers = response.headers
        body = response.read()
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "style-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-cache"
    assert b"<script" in body and b"<script>" not in body and b"style=" not in body
    modules = sorted(path.name for path in (ROOT / "clients" / "web").glob("*.js"))
    assert {"app.js", "state.js", "outbox.js", "controller.js"} <= set(modules), modules
    for name in modules:
        with urllib.request.urlopen(f"{daemon.url}/{name}", timeout=10) as response:
            assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["Cache-Control"] == "no-cache"
            assert response.headers["ETag"]
    with urllib.request.urlopen(daemon.url + "/style.css", timeout=10) as response:
        assert response.headers["Content-Type"] == "text/css; charset=utf-8"


def test_log_in_errors_reload_and_log_out(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """Taken names, wrong passwords and rate limits get clear words; a reload stays logged in;
    logging out forgets the token."""
    register_and_login(daemon.url, "Taken")
    person = open_session(sessions, browser, DESKTOP)
    page = person.page
    page.goto(daemon.url)
    shot(page, artifacts, "desktop-login")

    page.get_by_role("tab", name="Create account").click()
    page.get_by_label("User name").fill("taken")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account", exact=True).click()
    expect(page.locator("#auth-error")).to_contain_text("taken")

    log_in(page, daemon.url, "Taken", "not the password")
    expect(page.locator("#auth-error")).to_have_text("Wrong user name or password.")

    # Someone guesses at another account until the server says 429; then the owner tries.
    register_and_login(daemon.url, "Guessed")
    for _ in range(50):
        status, body = http_json(daemon.url, "POST", "/api/login",
                                 {"username": "Guessed", "password": "guess guess"})
        if status == 429:
            break
        assert status == 401, body
    assert status == 429, "the server never rate-limited log-ins"
    log_in(page, daemon.url, "Guessed")
    expect(page.locator("#auth-error")).to_have_text(
        re.compile(r"Too many attempts\. Try again in \d+ s\."))

    log_in(page, daemon.url, "Taken")
    expect(page.locator("#me-status")).to_have_attribute("data-phase", "online")
    page.reload()
    expect(page.locator("#me-name")).to_have_text("Taken")
    expect(page.locator("#me-status")).to_have_attribute("data-phase", "online")
    shot(page, artifacts, "desktop-empty")

    page.get_by_role("button", name="Log out").click()
    expect(page.locator("#auth-view")).to_be_visible()
    page.reload()
    expect(page.locator("#auth-view")).to_be_visible()
    assert person.errors == [] and person.dialogs == []


# -- two people ---------------------------------------------------------------------------------


def test_two_people_chat_across_a_restart(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """Ann and Bob chat in a room and in a DM, see each other type and come and go, and every
    message is on both screens exactly once after the daemon restarts under them."""
    ann = open_session(sessions, browser, DESKTOP)
    bob = open_session(sessions, browser, DESKTOP)
    register(ann.page, daemon.url, "ann")
    register(bob.page, daemon.url, "Bob")
    a, b = ann.page, bob.page

    # Ann makes a room; Bob finds it and joins.
    a.get_by_role("button", name="Create a room").click()
    a.locator("#new-room-name").fill("general")
    a.locator("#new-room-topic").fill("Everything and nothing")
    a.get_by_role("button", name="Create", exact=True).click()
    expect(a.locator("#conv-title")).to_have_text("# general")
    b.get_by_role("button", name="Browse and join rooms").click()
    b.get_by_role("button", name="Join general").click()
    expect(b.locator("#conv-title")).to_have_text("# general")
    expect(a.locator("#message-list li.notice")).to_have_text(["Bob joined"])

    # Who is here: both, online.
    for page in (a, b):
        expect(page.locator('#member-list li[data-user="ann"]')).to_have_attribute(
            "data-status", "online")
        expect(page.locator('#member-list li[data-user="Bob"]')).to_have_attribute(
            "data-status", "online")

    # Chat: Enter sends, Shift+Enter makes a new line.
    send(a, "Hello Bob!")
    expect(b.locator("#message-list li.msg .msg-text").last).to_have_text("Hello Bob!")
    box = b.locator("#composer-text")
    box.fill("Hi ann")
    box.press("Shift+Enter")
    box.press_sequentially("two lines")
    expect(box).to_have_value("Hi ann\ntwo lines")
    box.press("Enter")
    expect(a.locator("#message-list li.msg .msg-text").last).to_have_text("Hi ann\ntwo lines")

    # Typing: Bob types, Ann sees it; it goes away by itself.
    b.locator("#composer-text").press_sequentially("thinking", delay=30)
    expect(a.locator("#typing")).to_contain_text("Bob is typing")
    b.locator("#composer-text").fill("")
    expect(a.locator("#typing")).to_have_text("", timeout=8000)

    # The XSS payload is text.
    send(a, XSS)
    for page in (a, b):
        expect(page.locator("#message-list li.msg .msg-text").last).to_have_text(XSS)
        expect(page.locator("#message-list img")).to_have_count(0)
    shot(b, artifacts, "desktop-xss")

    # Ann adds Bob as a contact, then writes to him directly.
    a.get_by_role("button", name="Add a contact").click()
    a.locator("#contact-user").fill("bob")
    a.get_by_role("button", name="Add", exact=True).click()
    contact = a.locator('#contact-list li[data-user="Bob"]')
    expect(contact).to_have_attribute("data-status", "online")
    contact.get_by_role("button", name="Bob, online: open conversation").click()
    expect(a.locator("#conv-title")).to_have_text("Bob")
    send(a, "psst, a secret")
    dm = b.locator('#dm-list li[data-room="@ann:bob"] button')
    expect(dm).to_contain_text("ann")
    expect(dm.locator(".badge")).to_have_text("1")
    dm.click()
    expect(b.locator("#conv-title")).to_have_text("ann")
    expect(b.locator("#message-list li.msg .msg-text")).to_have_text(["psst, a secret"])
    send(b, "my lips are sealed")
    expect(a.locator("#message-list li.msg .msg-text")).to_have_text(
        ["psst, a secret", "my lips are sealed"])
    shot(a, artifacts, "desktop-dm")
    b.locator('#room-list li[data-room="general"] button').click()
    a.locator('#room-list li[data-room="general"] button').click()
    # Ann has read Bob's reply: once the server has her marker, what Bob writes next is all
    # that is unread there after the restart (checked below). Reading two rooms in a row must
    # lose neither marker.
    ann.wait_for_read("@ann:bob", 2)
    room = ["Hello Bob!", "Hi ann\ntwo lines", XSS]
    assert_each_once(a, room)
    assert_each_once(b, room)

    # The daemon restarts. While it is down, both pages say so, and what Ann sends waits.
    daemon.stop()
    for page in (a, b):
        expect(page.locator("#banner")).to_be_visible()
        expect(page.locator("#banner-text")).to_contain_text("The server is restarting.")
    send(a, "sent while the server was down")
    pending = a.locator("#message-list li.msg.pending")
    expect(pending).to_have_count(1)
    expect(pending.locator(".msg-text")).to_have_text("sent while the server was down")
    expect(pending).to_have_class(re.compile(r"\bfailed\b"))
    shot(a, artifacts, "desktop-reconnecting")
    # Ann's network goes away too, so that she misses what is said once the server is back.
    # She will miss more than RESUME_MAX messages in #general (so the server sends a `gap`
    # and the page pages them in) and fewer in her conversation with Bob (plain catch-up).
    ann.context.set_offline(True)
    daemon.start()
    expect(b.locator("#banner")).to_be_hidden()
    expect(b.locator("#me-status")).to_have_attribute("data-phase", "online")
    send(b, "anyone there?")
    carol = LineClient(daemon.tcp_port, register_and_login(daemon.url, "carol"))
    carol.request("join", room="general")
    carol.send_many("general", [f"carol {n}" for n in range(5)], "c")
    assert RESUME_MAX < 5 + 1
    expect(b.locator("#message-list li.msg .msg-text").last).to_have_text("carol 4")
    b.locator('#dm-list li[data-room="@ann:bob"] button').click()
    send(b, "are you back?")
    expect(b.locator("#message-list li.msg[data-seq] .msg-text").last).to_have_text(
        "are you back?")
    b.locator('#room-list li[data-room="general"] button').click()
    ann.context.set_offline(False)
    expect(a.locator("#banner")).to_be_hidden()
    expect(a.locator("#me-status")).to_have_attribute("data-phase", "online")
    ann_dm = a.locator('#dm-list li[data-room="@ann:bob"] button')
    expect(ann_dm.locator(".badge")).to_have_text("1")
    assert any('"op":"gap"' in frame for frame in ann.received), "no gap: RESUME_MAX too big?"
    room += ["anyone there?", *[f"carol {n}" for n in range(5)]]
    # Ann's waiting message went out with its nonce once she was back; it is last in both.
    expect(a.locator("#message-list li.msg .msg-text").last).to_have_text(
        "sent while the server was down")
    room.append("sent while the server was down")
    send(b, "welcome back")
    room.append("welcome back")
    expect(a.locator("#message-list li.msg .msg-text").last).to_have_text("welcome back")
    expect(b.locator("#message-list li.msg .msg-text").last).to_have_text("welcome back")
    assert_each_once(a, room)
    assert_each_once(b, room)
    carol.close()
    ann_dm.click()
    assert_each_once(a, ["psst, a secret", "my lips are sealed", "are you back?"])
    a.locator('#room-list li[data-room="general"] button').click()
    assert_each_once(a, room)
    b.locator("#composer-text").press_sequentially("see you", delay=30)
    expect(a.locator("#typing")).to_contain_text("Bob is typing")
    shot(a, artifacts, "desktop-chat")
    a.set_viewport_size(PHONE)
    expect(a.get_by_role("button", name="Show rooms and people")).to_be_visible()
    shot(a, artifacts, "phone-chat")
    a.set_viewport_size(DESKTOP)

    # Bob closes his browser: Ann sees him go offline, in the room and in her contacts.
    bob.close()
    expect(a.locator('#member-list li[data-user="Bob"]')).to_have_attribute(
        "data-status", "offline")
    expect(a.locator('#contact-list li[data-user="Bob"]')).to_have_attribute(
        "data-status", "offline")
    shot(a, artifacts, "desktop-presence")

    assert ann.dialogs == [] and bob.dialogs == [], "a dialog opened: a script ran"
    assert ann.errors == [] and bob.errors == []


def test_rooms_contacts_and_a_refused_message(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """Inviting into a private room, keyboard moves between rooms, a message the server refuses
    for good (kept with Retry and Discard), leaving, removing a contact, and a conversation
    opened by name."""
    register_and_login(daemon.url, "Bob")
    person = open_session(sessions, browser, DESKTOP)
    page = person.page
    register(page, daemon.url, "ann")

    page.get_by_role("button", name="Create a room").click()
    page.locator("#new-room-name").fill("Plans")
    page.locator("#new-room-private").check()
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.locator("#conv-title")).to_have_text("🔒 plans")
    page.get_by_role("button", name="Invite someone to this room").click()
    page.locator("#invite-user").fill("bob")
    page.get_by_role("button", name="Invite", exact=True).click()
    expect(page.locator("#toasts")).to_contain_text("Bob is now a member of #plans")
    expect(page.locator("#message-list li.notice")).to_have_text(["ann added Bob"])
    expect(page.locator('#member-list li[data-user="Bob"]')).to_have_attribute(
        "data-status", "offline")

    # A second room; Alt+Up and Alt+Down move between them.
    page.get_by_role("button", name="Browse and join rooms").click()
    page.locator("#join-room-name").fill("lobby")
    page.get_by_role("button", name="Join", exact=True).click()
    expect(page.locator("#conv-title")).to_have_text("# lobby")
    page.keyboard.press("Alt+ArrowDown")
    expect(page.locator("#conv-title")).to_have_text("🔒 plans")
    page.keyboard.press("Alt+ArrowUp")
    expect(page.locator("#conv-title")).to_have_text("# lobby")

    # A text the server refuses for good (a NUL character, put in the box by a script; the page
    # itself stops a text that is too long before sending, see test_page_defects.py).
    page.locator("#composer-text").evaluate("(box, text) => { box.value = text; }",
                                            "a NUL \u0000 inside")
    page.locator("#composer-text").press("Enter")
    refused = page.locator("#message-list li.msg.pending.failed")
    expect(refused.locator(".msg-status")).to_contain_text("Not sent:")
    refused.get_by_role("button", name="Retry").click()
    expect(refused.locator(".msg-status")).to_contain_text("Not sent:")
    refused.get_by_role("button", name="Discard").click()
    expect(page.locator("#message-list li.msg")).to_have_count(0)
    page.reload()  # nothing of it was kept for later either
    expect(page.locator("#me-status")).to_have_attribute("data-phase", "online")
    page.locator('#room-list li[data-room="lobby"] button').click()
    expect(page.locator("#message-list li.msg")).to_have_count(0)

    page.get_by_role("button", name="Leave this room").click()
    page.get_by_role("button", name="Leave", exact=True).click()  # the confirmation
    expect(page.locator("#toasts")).to_contain_text("You left #lobby")
    expect(page.locator("#room-list li[data-room]")).to_have_count(1)
    expect(page.locator("#conv-title")).to_have_text("🔒 plans")

    page.get_by_role("button", name="Add a contact").click()
    page.locator("#contact-user").fill("BOB")
    page.get_by_role("button", name="Add", exact=True).click()
    contact = page.locator('#contact-list li[data-user="Bob"]')
    contact.hover()  # the remove button shows on hover (or focus)
    contact.get_by_role("button", name="Remove Bob from contacts").click()
    expect(page.locator("#contact-list li.side-empty")).to_be_visible()

    page.get_by_role("button", name="New direct message").click()
    page.locator("#dm-user").fill("bob")
    page.locator("#dm-text").fill("are you there?")  # a conversation starts with a message
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#conv-title")).to_have_text(re.compile("^bob$", re.IGNORECASE))
    expect(page.locator("#message-list li.msg[data-seq] .msg-text")).to_have_text(
        ["are you there?"])
    # Once the conversation exists, the page learns the name as Bob registered it.
    expect(page.locator('#dm-list li[data-room="@ann:bob"] .name')).to_have_text("Bob")
    assert person.errors == [] and person.dialogs == []


# -- phone ---------------------------------------------------------------------------------------


def test_phone_layout_history_and_keyboard(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """On a phone-sized screen the page fits, the room list is a drawer reachable from the
    keyboard, and scrolling up pages in older history without gaps or duplicates."""
    token = register_and_login(daemon.url, "dana")
    for first in (1, 45, 89):  # several connections: each may send a burst of about 100
        seeder = LineClient(daemon.tcp_port, token)
        seeder.request("join", room="lobby")
        seeder.send_many("lobby", [f"message {n}" for n in range(first, first + 44)
                                   if n <= 130], f"seed{first}")
        seeder.close()

    person = open_session(sessions, browser, PHONE)
    page = person.page
    page.goto(daemon.url)
    shot(page, artifacts, "phone-login")
    register(page, daemon.url, "eve")

    # Keyboard only: open the drawer, browse rooms, join lobby.
    menu = page.get_by_role("button", name="Show rooms and people")
    expect(menu).to_be_visible()
    expect(page.locator("#sidebar")).to_be_hidden()
    menu.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#sidebar")).to_be_visible()
    shot(page, artifacts, "phone-sidebar")
    page.get_by_role("button", name="Browse and join rooms").focus()
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Join lobby").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#conv-title")).to_have_text("# lobby")
    expect(page.locator("#sidebar")).to_be_hidden()
    expect(page.locator("#message-list li.msg .msg-text").last).to_have_text("message 130")

    page.keyboard.type("Typed on a phone, sent with Enter")
    page.keyboard.press("Enter")
    expect(page.locator("#message-list li.msg .msg-text").last).to_have_text(
        "Typed on a phone, sent with Enter")
    shot(page, artifacts, "phone-room")

    # What came into view was marked read on the server.
    person.wait_for_read("lobby", 131)
    session = json.loads(page.evaluate("() => localStorage.getItem('chatd.session')"))
    assert read_seq(daemon, session["token"], "lobby") == 131

    # Nothing is wider than the screen.
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width

    # Scroll up until the first message: every one of the 131 is there, once, in order. Each
    # time, wait for the page of older messages (or the start) to be there before going on.
    messages = page.locator("#messages")
    shown = page.locator("#message-list li.msg[data-seq]")
    start = page.locator("#older-status", has_text="This is the start of #lobby.")
    for _ in range(10):
        if start.count():
            break
        count = shown.count()
        messages.evaluate("node => { node.scrollTop = 0; }")
        expect(shown.nth(count).or_(start).first).to_be_attached()
    expect(start).to_be_visible()
    messages.evaluate("node => { node.scrollTop = 0; }")
    assert_each_once(page, [f"message {n}" for n in range(1, 131)]
                     + ["Typed on a phone, sent with Enter"])
    assert read_seq(daemon, session["token"], "lobby") == 131  # paging back moves nothing
    shot(page, artifacts, "phone-history")

    # Reading old messages: a new one does not yank the view down, a button offers to.
    seeder = LineClient(daemon.tcp_port, token)
    seeder.send_many("lobby", ["news while you scroll"], "news")
    seeder.close()
    jump = page.get_by_role("button", name="New messages below")
    expect(jump).to_be_visible()
    expect(page.locator("#message-list li.msg").last).not_to_be_in_viewport()
    jump.click()
    expect(page.locator("#message-list li.msg").last).to_be_in_viewport()
    expect(jump).to_be_hidden()

    # Who is here, as a drawer.
    page.get_by_role("button", name="Who is here: 1 of 2 online").click()
    expect(page.locator("#members")).to_be_visible()
    expect(page.locator('#member-list li[data-user="eve"]')).to_have_attribute(
        "data-status", "online")
    shot(page, artifacts, "phone-members")
    page.keyboard.press("Escape")
    expect(page.locator("#members")).to_be_hidden()
    assert person.errors == [] and person.dialogs == []
    assert http_json(daemon.url, "GET", "/healthz")[0] == 200


# -- the room list ------------------------------------------------------------------------------


def test_the_room_list_pages_and_searches(
    paged_daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """The "Join a room" dialog shows the public rooms a page at a time (More rooms), and the
    name box searches them; a room found is joined from the list."""
    from tests.browser.conftest import ROOMS_PAGE_MAX

    daemon = paged_daemon
    token = register_and_login(daemon.url, "bob")
    rooms = ["alpha", "beta", "delta", "design", "gamma", "redesign", "zeta"]
    for name in rooms:
        status, body = http_json(daemon.url, "POST", "/api/rooms", {"room": name}, token=token)
        assert status == 201, body
    status, body = http_json(daemon.url, "POST", "/api/rooms",
                             {"room": "design-secret", "private": True}, token=token)
    assert status == 201, body
    ann = open_session(sessions, browser, DESKTOP)
    page = ann.page
    register(page, daemon.url, "ann")

    page.get_by_role("button", name="Browse and join rooms").click()
    listed = page.locator(".browse-list .name")
    more = page.get_by_role("button", name="More rooms")
    expect(listed).to_have_text(rooms[:ROOMS_PAGE_MAX])
    more.click()
    expect(listed).to_have_text(rooms[:2 * ROOMS_PAGE_MAX])
    more.click()
    expect(listed).to_have_text(rooms)
    expect(more).to_be_hidden()
    shot(page, artifacts, "desktop-room-list")

    page.locator("#join-room-name").fill("SIGN")
    expect(listed).to_have_text(["design", "redesign"])  # never bob's private room
    page.locator("#join-room-name").fill("nothing-like-it")
    expect(page.locator(".browse-list")).to_contain_text("No room matches")
    page.locator("#join-room-name").fill("two words")
    expect(page.locator(".browse-list")).to_contain_text("a-z 0-9 _ -")
    page.locator("#join-room-name").fill("re")
    expect(listed).to_have_text(["redesign"])
    page.get_by_role("button", name="Join redesign").click()
    expect(page.locator("#conv-title")).to_have_text("# redesign")
    assert ann.errors == [] and ann.dialogs == []


def test_a_large_room_lists_its_members_a_page_at_a_time(
    paged_daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """Who is here in a room of more members than a page: the first page, the count of all
    of them on the header's button, and Show more members for the next pages, by name."""
    from tests.browser.conftest import ROOMS_PAGE_MAX

    daemon = paged_daemon
    names = ["bob", "carl", "dora", "eve", "finn", "gus"]
    clients = []
    for name in names:
        client = LineClient(daemon.tcp_port, register_and_login(daemon.url, name))
        client.request("join", room="hall")
        clients.append(client)
    for client in clients[1:]:
        client.close()  # offline: bob alone stays
    ann = open_session(sessions, browser, DESKTOP)
    page = ann.page
    register(page, daemon.url, "ann")
    page.get_by_role("button", name="Browse and join rooms").click()
    page.get_by_role("button", name="Join hall").click()
    expect(page.locator("#conv-title")).to_have_text("# hall")
    listed = page.locator("#member-list li.member[data-user]")
    more = page.get_by_role("button", name=re.compile("Show more members"))
    expect(listed).to_have_count(ROOMS_PAGE_MAX)
    expect(page.locator("#member-count")).to_have_text("2/7")  # ann and bob online, of 7
    for shown in (2 * ROOMS_PAGE_MAX, 7):
        more.click()
        expect(listed).to_have_count(shown)
    expect(more).to_have_count(0)
    expect(page.locator("#member-list li.member.online")).to_have_count(2)
    assert ann.errors == [] and ann.dialogs == []
    clients[0].close()
