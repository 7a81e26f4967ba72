"""The defects a team found in the page (issue 13, point 7), each tried as a person would, in a
real Chromium against the real daemon. The rules of test_web.py hold here: every wait is for a
state (a locator, `expect`, a frame on the page's WebSocket, a rendered frame), never for time.
Screenshots land in tests/artifacts/.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    Daemon,
    LineClient,
    needs_chromium,
    register_and_login,
)
from tests.browser.test_web import Session, log_in, register, shot

pytestmark = [pytest.mark.slow, needs_chromium]


@pytest.fixture
def people(browser: Browser) -> Iterator[list[Session]]:
    """The sessions a test opens (closed after it)."""
    opened: list[Session] = []
    yield opened
    for session in opened:
        with contextlib.suppress(Exception):  # some are closed by the test already
            session.close()


def person(people: list[Session], browser: Browser, viewport: ViewportSize = DESKTOP) -> Session:
    session = Session(browser, viewport)
    people.append(session)
    return session


def room_button(page: Page, room: str):  # type: ignore[no-untyped-def]
    return page.locator(f'#room-list li[data-room="{room}"] button')


def shown_texts(page: Page) -> list[str]:
    return page.locator("#message-list li.msg .msg-text").all_inner_texts()


# -- 1. a draft per room ------------------------------------------------------------------------


def test_each_room_keeps_its_own_draft(
    daemon: Daemon, browser: Browser, people: list[Session], artifacts: Path
) -> None:
    """A half-typed message stays with its room: another room shows its own draft, Enter there
    sends nothing of it, and a reload keeps the drafts."""
    token = register_and_login(daemon.url, "ann")
    setup = LineClient(daemon.tcp_port, token)
    for room in ("alpha", "beta"):
        setup.request("create_room", room=room)
    setup.close()
    ann = person(people, browser)
    page = ann.page
    log_in(page, daemon.url, "ann")
    expect(page.locator("#conv-title")).to_have_text("# alpha")
    box = page.locator("#composer-text")

    box.fill("half typed for alpha")
    room_button(page, "beta").click()
    expect(page.locator("#conv-title")).to_have_text("# beta")
    expect(box).to_have_value("")
    box.press("Enter")  # nothing to send here
    box.press_sequentially("for beta")
    shot(page, artifacts, "desktop-draft-beta")
    room_button(page, "alpha").click()
    expect(box).to_have_value("half typed for alpha")
    box.press("Enter")
    expect(page.locator("#message-list li.msg[data-seq] .msg-text")).to_have_text(
        ["half typed for alpha"])
    expect(box).to_have_value("")

    room_button(page, "beta").click()
    expect(box).to_have_value("for beta")
    expect(page.locator("#message-list li.msg")).to_have_count(0)
    page.reload()
    expect(page.locator("#me-status")).to_have_attribute("data-phase", "online")
    expect(page.locator("#conv-title")).to_have_text("# alpha")
    expect(box).to_have_value("")  # sent: no draft left
    room_button(page, "beta").click()
    expect(box).to_have_value("for beta")
    box.press("Enter")
    expect(page.locator("#message-list li.msg[data-seq] .msg-text")).to_have_text(["for beta"])
    room_button(page, "alpha").click()
    expect(page.locator("#message-list li.msg[data-seq] .msg-text")).to_have_text(
        ["half typed for alpha"])
    assert ann.errors == [] and ann.dialogs == []
