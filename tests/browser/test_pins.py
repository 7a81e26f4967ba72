"""Pinned messages in the page, in a real Chromium against the real daemon: "Pin to this room"
in a message's menu, the pin line on the message, the count on the room header's button, the
"Pinned" panel (the latest pin first, a click shows the message in the conversation, paging
back to it; "Unpin"), the quiet line each pin leaves in the conversation, and all of it exact
after the page was away for more entries than a resume replays.

The rules of test_web.py hold: every wait is for a state, never for time. Screenshots land in
tests/artifacts/ (desktop-pins.png, phone-pinned-message.png, phone-pins.png).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    RESUME_MAX,
    Daemon,
    LineClient,
    needs_chromium,
    register_and_login,
)
from tests.browser.test_changes import menu_action, message
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_web import Session, log_in, open_session, shot

pytestmark = [pytest.mark.slow, needs_chromium]

FILLER = 70  # messages after the rota: more than the room's first page (50)


def ann_and_bob_in(daemon: Daemon, *rooms: str) -> tuple[str, LineClient, LineClient]:
    """ann creates ``rooms`` (no topic); Bob, registered after, joins them. Returns ann's token
    and both line connections (the caller closes them)."""
    token = register_and_login(daemon.url, "ann")
    ann = LineClient(daemon.tcp_port, token)
    for room in rooms:
        ann.request("create_room", room=room, topic="")
    bob = LineClient(daemon.tcp_port, register_and_login(daemon.url, "Bob"))
    for room in rooms:
        bob.request("join", room=room)
    return token, ann, bob


def scene(daemon: Daemon) -> tuple[LineClient, dict[str, int]]:
    """ann owns #general and #random; Bob, in both, posted the on-call rota long ago and pinned
    it, then much since, and last the agenda. Returns Bob's connection and the msg_ids."""
    _, ann, bob = ann_and_bob_in(daemon, "general", "random")
    ids = {"rota": bob.request("send", room="general", text="on-call rota: Bob this week",
                               nonce="rota")["msg_id"]}
    bob.send_many("general", [f"filler {n}" for n in range(FILLER)], "filler")
    bob.request("pin", room="general", msg_id=ids["rota"], on=True)
    ids["agenda"] = bob.request("send", room="general", text="agenda: standup at 10",
                                nonce="agenda")["msg_id"]
    last = bob.request("send", room="general", text="wifi: hunter2", nonce="wifi")
    ids["wifi"] = last["msg_id"]
    ann.request("read", room="general", seq=last["seq"])  # #general opens at its end
    ann.close()
    return bob, ids


def pins_button(page: Page) -> Locator:
    return page.locator("#pins-open")


def panel_items(page: Page) -> Locator:
    return page.locator("#pins-list li.pin-item")


def notices(page: Page, text: str) -> Locator:
    return page.locator("#message-list li.notice", has_text=re.compile(f"^{re.escape(text)}$"))


def test_pin_from_the_menu_list_jump_and_unpin(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """The header counts the room's pins; the panel lists them, the latest first; a pin far
    behind the first page opens where it was said, highlighted; a pin from the menu, Bob's
    unpin and an unpin from the panel show at once in the message, the count, the panel and a
    quiet line of the conversation that is not unread."""
    bob, ids = scene(daemon)
    ann = open_session(sessions, browser, DESKTOP)
    page = ann.page
    log_in(page, daemon.url, "ann")
    expect(page.locator("#conv-title")).to_have_text("# general")
    expect(pins_button(page)).to_have_accessible_name("Pinned messages: 1")
    expect(pins_button(page)).to_have_text("1")
    expect(message(page, "on-call rota: Bob this week")).to_have_count(0)  # not loaded

    pins_button(page).click()
    panel = page.get_by_role("complementary", name="Pinned in #general")
    expect(panel).to_be_visible()
    expect(pins_button(page)).to_have_attribute("aria-expanded", "true")
    expect(panel_items(page)).to_have_count(1)
    expect(panel_items(page).first).to_contain_text("on-call rota: Bob this week")
    expect(panel_items(page).first).to_contain_text("Pinned by Bob")
    panel.get_by_role("button", name=re.compile(r"^Bob: on-call rota")).click()
    rota = message(page, "on-call rota: Bob this week")
    expect(rota).to_have_class(re.compile(r"\bflash\b"))
    expect(rota).to_be_in_viewport()
    expect(rota.locator(".msg-pin")).to_have_text("Pinned by Bob")
    expect(rota).to_have_class(re.compile(r"\bpinned\b"))

    # ann pins the agenda from its menu: at once on the message, the count, the panel, and
    # a line in the conversation; Bob's connection gets the entry.
    agenda = message(page, "agenda: standup at 10")
    menu_action(page, agenda, "Pin to this room")
    expect(agenda.locator(".msg-pin")).to_have_text("Pinned by you")
    expect(pins_button(page)).to_have_accessible_name("Pinned messages: 2")
    expect(panel_items(page)).to_have_count(2)
    expect(panel_items(page).first).to_contain_text("agenda: standup at 10")
    expect(panel_items(page).first).to_contain_text("Pinned by ann")
    expect(notices(page, "ann pinned a message")).to_have_count(1)
    ann.wait_for_frame(lambda f: f.get("op") == "pinned" and f.get("msg_id") == ids["agenda"],
                       "the pinned entry of the agenda")
    expect(page.locator('#room-list li[data-room="general"] .badge')).to_have_count(0)
    assert axe_serious(page) == []
    shot(page, artifacts, "desktop-pins")

    # Bob unpins the rota: it leaves the panel; the count and the message follow.
    bob.request("pin", room="general", msg_id=ids["rota"], on=False)
    expect(panel_items(page)).to_have_count(1)
    expect(pins_button(page)).to_have_accessible_name("Pinned messages: 1")
    expect(rota.locator(".msg-pin")).to_have_count(0)
    expect(notices(page, "Bob unpinned a message")).to_have_count(1)

    # The menu of a pinned message unpins it; the panel's button does too.
    menu_action(page, message(page, "wifi: hunter2"), "Pin to this room")
    expect(panel_items(page)).to_have_count(2)
    panel.get_by_role("button", name="Unpin the message from Bob").first.click()
    expect(panel_items(page)).to_have_count(1)
    expect(panel_items(page).first).to_contain_text("agenda: standup at 10")
    expect(message(page, "wifi: hunter2").locator(".msg-pin")).to_have_count(0)
    menu_action(page, agenda, "Unpin")
    expect(panel_items(page)).to_have_count(0)
    expect(page.locator("#pins-status")).to_have_text(re.compile(r"^Nothing is pinned here"))
    expect(pins_button(page)).to_have_accessible_name("Pinned messages: none yet")
    expect(pins_button(page)).to_have_text("")

    # Another room opened: the panel shows its pins (none); Escape closes it.
    page.locator('#room-list li[data-room="random"] button').click()
    expect(page.get_by_role("complementary", name="Pinned in #random")).to_be_visible()
    page.locator("#pins-close").focus()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(pins_button(page)).to_have_attribute("aria-expanded", "false")
    bob.close()
    assert ann.errors == [] and ann.dialogs == []


def test_pins_made_while_away_are_exact_after_the_resume(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """While ann's page is offline, Bob pins two messages, unpins one, deletes a pinned one
    and talks on (more entries than a resume replays: a gap to page). Back online, the page
    shows the pins as they are: on the messages, in the count and the open panel, each line
    once; on a phone the panel covers the conversation and a pin opens it there."""
    bob, ids = scene(daemon)
    ann = open_session(sessions, browser, PHONE)
    page = ann.page
    log_in(page, daemon.url, "ann")
    expect(message(page, "wifi: hunter2")).to_have_count(1)
    expect(pins_button(page)).to_have_accessible_name("Pinned messages: 1")

    ann.context.set_offline(True)
    expect(page.locator("#banner")).to_be_visible()
    bob.request("pin", room="general", msg_id=ids["agenda"], on=True)
    bob.request("pin", room="general", msg_id=ids["wifi"], on=True)
    bob.request("pin", room="general", msg_id=ids["agenda"], on=False)
    bob.request("delete", room="general", msg_id=ids["rota"])  # pinned: off the pins with it
    for n in range(3):
        bob.request("send", room="general", text=f"later {n}", nonce=f"later{n}")
    assert RESUME_MAX < 7  # the resume gets a gap and pages the entries in
    ann.context.set_offline(False)
    expect(page.locator("#banner")).to_be_hidden()
    expect(message(page, "later 2")).to_have_count(1)
    assert any('"op":"gap"' in frame for frame in ann.received), "no gap: RESUME_MAX too big?"

    expect(message(page, "wifi: hunter2").locator(".msg-pin")).to_have_text("Pinned by Bob")
    expect(message(page, "agenda: standup at 10").locator(".msg-pin")).to_have_count(0)
    expect(pins_button(page)).to_have_accessible_name("Pinned messages: 1")
    expect(notices(page, "Bob pinned a message")).to_have_count(3)  # the rota's, and two
    expect(notices(page, "Bob unpinned a message")).to_have_count(1)
    for text in ("agenda: standup at 10", "wifi: hunter2", "later 0", "later 1", "later 2"):
        expect(message(page, text)).to_have_count(1)

    shot(page, artifacts, "phone-pinned-message")
    # A pin's line in the conversation shows the message it is about.
    notices(page, "Bob unpinned a message").click()
    expect(message(page, "agenda: standup at 10")).to_have_class(re.compile(r"\bflash\b"))
    pins_button(page).click()
    expect(panel_items(page)).to_have_count(1)
    expect(panel_items(page).first).to_contain_text("wifi: hunter2")
    expect(page.locator("#pins-status")).to_have_text("1 pinned message")
    shot(page, artifacts, "phone-pins")
    panel_items(page).first.get_by_role("button", name=re.compile(r"^Bob: wifi")).click()
    expect(page.locator("#pins-panel")).to_be_hidden()  # a phone: the conversation again
    expect(message(page, "wifi: hunter2")).to_have_class(re.compile(r"\bflash\b"))
    bob.close()
    assert ann.errors == [] and ann.dialogs == []
