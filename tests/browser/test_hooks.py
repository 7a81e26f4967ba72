"""An incoming webhook seen in the web page: a POST to the hook's URL (as a CI job would send
it, no token) shows in a room open in another person's page, from the bot, once, and its
text is shown as text (never HTML).

Rules as in test_web.py: every wait is for what a person sees (Playwright's ``expect``),
never for time. A screenshot lands in tests/artifacts/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import (
    DESKTOP,
    Daemon,
    LineClient,
    http_json,
    needs_chromium,
    register_and_login,
)
from tests.browser.test_web import XSS, Session, log_in, open_session, shot

pytestmark = [pytest.mark.slow, needs_chromium]


def test_a_webhook_post_shows_in_the_page(daemon: Daemon, browser: Browser,
                                          sessions: list[Session], artifacts: Path) -> None:
    token = register_and_login(daemon.url, "ann")
    ann = LineClient(daemon.tcp_port, token)
    ann.request("join", room="ops")
    ann.close()
    status, body = http_json(daemon.url, "POST", "/api/bots", {"name": "ci"}, token=token)
    assert status == 201, body
    status, made = http_json(daemon.url, "POST", "/api/rooms/ops/hooks", {"bot": "ci"},
                             token=token)
    assert status == 201, made

    session = open_session(sessions, browser, DESKTOP)
    page = session.page
    log_in(page, daemon.url, "ann")
    expect(page.locator("#me-status")).to_have_attribute("data-phase", "online")
    page.locator('#room-list li[data-room="ops"] button').click()
    expect(page.locator("#conv-title")).to_contain_text("ops")

    for text in ("build #12 failed on main", XSS):
        status, posted = http_json(daemon.url, "POST", made["url"],
                                   {"text": text, "key": text})
        assert status == 201, posted
    status, again = http_json(daemon.url, "POST", made["url"],
                              {"text": "build #12 failed on main",
                               "key": "build #12 failed on main"})
    assert status == 200 and again["duplicate"] is True

    shown = page.locator("#message-list li.msg[data-seq]")
    expect(shown).to_have_count(2)
    expect(shown.nth(0).locator(".msg-text")).to_have_text("build #12 failed on main")
    expect(shown.nth(0).locator(".author")).to_have_text("ci")
    expect(shown.nth(1).locator(".msg-text")).to_have_text(XSS)  # as text, not an element
    assert page.locator("#message-list img[src='x']").count() == 0
    shot(page, artifacts, "webhook-post-in-room")
    assert session.dialogs == [] and session.errors == []
