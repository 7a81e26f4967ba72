"""The paged welcome in a real Chromium against the real daemon (issue 17): a person in more
rooms and contacts than the welcome's first page sees every room with its unread badge and
every contact, a room on a later page opens from the address, and a message to one shows its
badge. The rules of test_web.py hold: every wait is for a state, never for time.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import (
    DESKTOP,
    Daemon,
    LineClient,
    _in_thread,
    _running,
    needs_chromium,
    register_and_login,
)
from tests.browser.test_web import Session, log_in

pytestmark = [pytest.mark.slow, needs_chromium]

ROOMS = [f"room-{n:02d}" for n in range(45)]  # the welcome lists 30 (state.js WELCOME_ROOMS)
FRIENDS = [f"friend-{n:02d}" for n in range(40)]  # and 30 contacts (WELCOME_CONTACTS)


class RoomyDaemon(Daemon):
    """A daemon that lets one user create all the rooms of the scene."""

    def _spawn(self, extra: dict[str, str]) -> subprocess.Popen[bytes]:
        return super()._spawn({**extra, "CHATD_LIMITS_ROOMS_PER_HOUR": "100"})


@pytest.fixture
def roomy_daemon(tmp_path: Path, database_dsn: str) -> Iterator[Daemon]:
    yield from _running(RoomyDaemon(tmp_path, database_dsn))


def room_button(page: Page, room: str) -> Locator:
    return page.locator(f'#room-list li[data-room="{room}"] button')


def person(sessions: list[Session], browser: Browser) -> Session:
    session = Session(browser, DESKTOP)
    sessions.append(session)
    return session


def test_every_room_and_contact_past_the_first_page_shows_with_its_badges(
    roomy_daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """45 rooms (some unread, one mention on a later page) and 40 contacts: the welcome lists
    the first 30 of each and the page asks for the rest; every room shows with its badge, every
    contact, a room of the later page opens from the address, a message sent to one shows its
    badge there; after a reconnect, a room of the later page left while away goes, only it."""
    daemon = roomy_daemon
    bob = LineClient(daemon.tcp_port, register_and_login(daemon.url, "bob"))
    for room in ROOMS:
        bob.request("create_room", room=room)
    ann_token = register_and_login(daemon.url, "ann")
    ann_line = LineClient(daemon.tcp_port, ann_token)
    for room in ROOMS:
        ann_line.request("join", room=room)
    # Users who never log in, straight into the database; ann adds them as contacts.
    values = ", ".join(f"('{name}', 'x')" for name in FRIENDS)
    _in_thread(daemon.dsn, f"INSERT INTO users (name, password_hash) VALUES {values}")
    for name in FRIENDS:
        ann_line.request("add_contact", user=name)
    ann_line.close()
    bob.send_many("room-05", ["one", "two"], "a")
    bob.send_many("room-35", ["three", "four", "five"], "b")
    bob.send_many("room-44", ["@ann look here"], "c")

    ann = person(sessions, browser)
    page = ann.page
    log_in(page, daemon.url, "ann")
    expect(page.locator("#me-status")).to_have_attribute("data-phase", "online")
    welcome: dict[str, Any] = ann.wait_for_frame(lambda f: f.get("op") == "welcome",
                                                 "the welcome")
    assert [r["room"] for r in welcome["rooms"]] == ROOMS[:30]
    assert welcome["rooms_more"] is True
    assert len(welcome["contacts"]) == 30 and welcome["contacts_more"] is True

    expect(page.locator("#room-list li[data-room]")).to_have_count(len(ROOMS))
    expect(page.locator("#contact-list li.contact")).to_have_count(len(FRIENDS))
    expect(room_button(page, "room-05").locator(".badge:not(.mention)")).to_have_text("2")
    expect(room_button(page, "room-35").locator(".badge:not(.mention)")).to_have_text("3")
    expect(room_button(page, "room-44").locator(".badge:not(.mention)")).to_have_text("1")
    expect(room_button(page, "room-44").locator(".badge.mention")).to_have_text("@")
    expect(page.locator("#room-list .badge:not(.mention)")).to_have_count(3)

    # A message to a room of the later page: its badge.
    bob.send_many("room-38", ["six"], "d")
    expect(room_button(page, "room-38").locator(".badge:not(.mention)")).to_have_text("1")

    # The address names a room of the later page: it opens once listed.
    other = ann.context.new_page()
    other.goto(f"{daemon.url}/#room=room-41")
    expect(other.locator("#conv-title")).to_have_text("# room-41")
    expect(other.locator('#room-list li[data-room="room-41"] button')).to_have_attribute(
        "aria-current", "page")
    expect(other.locator("#room-list li[data-room]")).to_have_count(len(ROOMS))
    expect(other.locator('#room-list li[data-room="room-35"] .badge:not(.mention)')
           ).to_have_text("3")
    other.close()

    # Away, ann is removed from a room of the later page and bob writes in another. Back, the
    # first goes (once the whole list is in) with a word; the others stay, with their counts.
    phase = page.locator("#me-status")
    ann.context.set_offline(True)
    expect(phase).not_to_have_attribute("data-phase", "online")
    bob.request("kick", room="room-42", user="ann")
    bob.send_many("room-39", ["seven", "eight"], "e")
    ann.context.set_offline(False)
    expect(phase).to_have_attribute("data-phase", "online")
    expect(page.locator("#toasts .toast", has_text="no longer a member")).to_have_text(
        ["You are no longer a member of #room-42"])
    expect(page.locator("#room-list li[data-room]")).to_have_count(len(ROOMS) - 1)
    expect(room_button(page, "room-42")).to_have_count(0)
    expect(room_button(page, "room-39").locator(".badge:not(.mention)")).to_have_text("2")
    expect(room_button(page, "room-38").locator(".badge:not(.mention)")).to_have_text("1")
    expect(room_button(page, "room-35").locator(".badge:not(.mention)")).to_have_text("3")
    expect(page.locator("#contact-list li.contact")).to_have_count(len(FRIENDS))
    bob.close()
    assert ann.errors == [] and ann.dialogs == []
