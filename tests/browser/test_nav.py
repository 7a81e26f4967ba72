"""Getting around the page, in a real Chromium against the real daemon: the quick switcher
(Ctrl+K from the message box, or the sidebar's "Jump to…" on a phone: type part of a name,
Enter opens the room, or a person's 1:1 conversation; Escape gives the focus back), "Copy
link" in a message's menu and its address opened in a second page of the same person (the
message shown highlighted, paging back to it; a room the person is not in offers to join it),
and such a link inside a message, opened in place.

The rules of test_web.py hold: every wait is for a state, never for time. Screenshots land in
tests/artifacts/ (desktop-switcher.png, phone-switcher.png).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    Daemon,
    LineClient,
    needs_chromium,
    register_and_login,
)
from tests.browser.test_changes import menu_action, message
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_pins import ann_and_bob_in
from tests.browser.test_web import Session, log_in, shot

pytestmark = [pytest.mark.slow, needs_chromium]

FILLER = 70  # messages after the plan: more than the room's first page (50)

# Before the page's scripts: the platform an iPhone's Safari gives (no userAgentData).
APPLE = """
Object.defineProperty(Navigator.prototype, "platform", { get: () => "iPhone" });
Object.defineProperty(Navigator.prototype, "userAgentData", { get: () => undefined });
"""


def switcher_scene(daemon: Daemon) -> LineClient:
    """ann in #general, #random and #design-review with Bob; Carol, ann's contact, has no
    conversation with her yet; Bob mentions ann in #random. Returns Bob's connection."""
    _, ann, bob = ann_and_bob_in(daemon, "general", "random", "design-review")
    carol = LineClient(daemon.tcp_port, register_and_login(daemon.url, "carol"))
    carol.close()
    ann.request("add_contact", user="carol")
    ann.close()
    bob.request("send", room="random", text="@ann have a look", nonce="look")
    return bob


def title(page: Page) -> str:
    return page.locator("#conv-title").inner_text()


def options(page: Page) -> list[str]:
    return page.locator("#switcher-list [role=option] .name").all_inner_texts()


def test_ctrl_k_opens_a_room_and_a_person(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """Ctrl+K from the message box opens the switcher with the mentioned room first; typing
    part of a room's name and Enter opens it; a person opens their conversation; Escape
    closes it and the focus goes back to the box. The "Jump to…" button's hint says Ctrl K
    (Chromium on Linux)."""
    bob = switcher_scene(daemon)
    ann = Session(browser, DESKTOP)
    sessions.append(ann)
    page = ann.page
    log_in(page, daemon.url, "ann")
    expect(page.locator("#switcher-open kbd")).to_have_text("Ctrl K")
    expect(page.locator('#room-list li[data-room="random"] .badge.mention')).to_have_count(1)
    page.locator('#room-list li[data-room="general"] button').click()
    expect(page.locator("#conv-title")).to_have_text("# general")
    box = page.locator("#composer-text")
    box.focus()

    page.keyboard.press("Control+k")
    dialog = page.locator("#switcher")
    expect(dialog).to_be_visible()
    expect(page.locator("#switcher-input")).to_be_focused()
    expect(page.locator("#switcher-list [role=option]").first).to_have_attribute(
        "data-key", "r:random")  # mentioned: first with an empty box
    expect(page.locator("#switcher-list [role=option]").first).to_have_attribute(
        "aria-selected", "true")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(box).to_be_focused()

    page.keyboard.press("Control+k")
    page.keyboard.type("REVI")  # a word of the name, any case
    expect(page.locator("#switcher-list [role=option]")).to_have_count(1)
    assert options(page) == ["design-review"]
    assert axe_serious(page) == []
    shot(page, artifacts, "desktop-switcher")
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator("#conv-title")).to_have_text("# design-review")
    expect(box).to_be_focused()

    # Arrows move the choice: the second of the rooms matching "#ra" (random, general).
    page.keyboard.press("Control+k")
    page.keyboard.type("#ra")
    found = page.locator("#switcher-list [role=option]")
    expect(found).to_have_count(2)
    assert options(page) == ["random", "general"]  # a prefix, then a substring
    expect(page.locator("#switcher-list [role=option]").nth(1)).to_be_visible()
    second = page.locator("#switcher-list [role=option]").nth(1).get_attribute("data-key")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#switcher-list [role=option]").nth(1)).to_have_attribute(
        "aria-selected", "true")
    page.keyboard.press("Enter")
    assert second is not None and second.startswith("r:")
    expect(page.locator("#conv-title")).to_have_text(f"# {second[2:]}")

    # A person without a conversation: theirs opens, to be started by the first message.
    page.keyboard.press("Control+k")
    page.keyboard.type("caro")
    expect(page.locator("#switcher-list [role=option]").first).to_have_attribute(
        "data-kind", "person")
    page.keyboard.press("Enter")
    expect(page.locator("#conv-title")).to_have_text(re.compile("carol"))
    box.fill("hello Carol")
    box.press("Enter")
    expect(message(page, "hello Carol")).to_have_count(1)
    expect(page.locator('#dm-list li[data-room="@ann:carol"]')).to_have_count(1)
    bob.close()
    assert ann.errors == [] and ann.dialogs == []


def test_jump_to_on_a_phone(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """On a phone, the sidebar's "Jump to…" opens the switcher; a tap on a person opens the
    conversation with them. On an iPhone (its platform as Safari gives it: no
    userAgentData), the button's hint says ⌘K."""
    bob = switcher_scene(daemon)
    ann = Session(browser, PHONE)
    sessions.append(ann)
    page = ann.page
    page.add_init_script(script=APPLE)
    log_in(page, daemon.url, "ann")
    expect(page.locator("#switcher-open kbd")).to_have_text("⌘K")
    expect(page.locator("#me-status")).to_have_attribute("data-phase", "online")
    page.locator("#open-sidebar").click()
    page.get_by_role("button", name="Jump to…").click()
    expect(page.locator("#switcher")).to_be_visible()
    page.locator("#switcher-input").fill("bo")
    expect(page.locator("#switcher-list [role=option]")).to_have_count(1)
    shot(page, artifacts, "phone-switcher")
    page.locator("#switcher-list [role=option]").first.click()
    expect(page.locator("#switcher")).to_be_hidden()
    expect(page.locator("#conv-title")).to_have_text(re.compile("Bob"))
    expect(page.locator("#sidebar")).not_to_be_in_viewport()
    bob.close()
    assert ann.errors == [] and ann.dialogs == []


def test_copy_link_opens_the_message_in_another_page(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """"Copy link" puts the message's address on the clipboard; another page of the same
    person opened at it shows the message highlighted, though far behind the room's first
    page; an address of a room the person is not in offers to join it; an old room address
    still opens the room; a thread's reply opens its thread."""
    _, ann_line, bob = ann_and_bob_in(daemon, "general")
    ann_line.close()
    bob.request("create_room", room="bobs-den", topic="")
    den = bob.request("send", room="bobs-den", text="in the den", nonce="den")["msg_id"]
    ann = Session(browser, DESKTOP, permissions=["clipboard-read", "clipboard-write"])
    sessions.append(ann)
    page = ann.page
    log_in(page, daemon.url, "ann")
    plan = bob.request("send", room="general", text="the plan: ship friday", nonce="plan")
    expect(message(page, "the plan: ship friday")).to_have_count(1)
    menu_action(page, message(page, "the plan: ship friday"), "Copy link")
    expect(page.locator("#toasts")).to_contain_text("Link copied.")
    address = page.evaluate("() => navigator.clipboard.readText()")
    assert address == f"{daemon.url}/#room=general&msg={plan['msg_id']}&seq={plan['seq']}"
    bob.send_many("general", [f"filler {n}" for n in range(FILLER)], "filler")

    second = ann.context.new_page()
    errors: list[str] = []
    second.on("pageerror", lambda error: errors.append(str(error)))
    second.goto(address)
    expect(second.locator("#conv-title")).to_have_text("# general")
    plan_item = message(second, "the plan: ship friday")
    expect(plan_item).to_have_class(re.compile(r"\bflash\b"))
    expect(plan_item).to_be_in_viewport()
    assert second.evaluate("() => location.hash") == "", "the address is taken off"

    # A room ann is not in: the page offers to join it, as a search result does; in a page
    # opened at the address (once the rooms are listed), and in an open page (hashchange).
    den_address = f"{daemon.url}/#room=bobs-den&msg={den}"
    third = ann.context.new_page()
    third.on("pageerror", lambda error: errors.append(str(error)))
    third.goto(den_address)
    expect(third.get_by_role("dialog", name="Join #bobs-den?")).to_be_visible()
    third.get_by_role("button", name="Cancel").click()
    expect(third.locator("#conv-title")).to_have_text("# general")  # never a blank page
    third.close()
    second.evaluate("(address) => { location.href = address; }", den_address)
    join = second.get_by_role("dialog", name="Join #bobs-den?")
    expect(join).to_be_visible()
    join.get_by_role("button", name="Join").click()
    expect(second.locator("#conv-title")).to_have_text("# bobs-den")
    expect(message(second, "in the den")).to_have_class(re.compile(r"\bflash\b"))

    # An old address, a room alone, in the open page (hashchange).
    second.evaluate("() => { location.hash = '#room=general'; }")
    expect(second.locator("#conv-title")).to_have_text("# general")

    # A reply the room's timeline leaves out: its address names its thread, which opens.
    reply = bob.request("send", room="general", text="friday works", nonce="fri",
                        thread=plan["msg_id"])
    menu_action(page, message(page, "the plan: ship friday"), "Reply in thread")
    in_thread = page.locator("#thread-list li.msg[data-seq]", has_text="friday works")
    menu_action(page, in_thread, "Copy link")
    address = page.evaluate("() => navigator.clipboard.readText()")
    assert address.endswith(f"&msg={reply['msg_id']}&seq={reply['seq']}"
                            f"&thread={plan['msg_id']}"), address
    fourth = ann.context.new_page()  # (a page that does not hold the reply yet)
    fourth.on("pageerror", lambda error: errors.append(str(error)))
    fourth.goto(address)
    expect(fourth.locator("#thread-list li.msg[data-seq]", has_text="friday works")
           ).to_be_visible()
    bob.close()
    assert errors == []
    assert ann.errors == [] and ann.dialogs == []


def test_a_link_to_a_message_inside_a_message_opens_in_place(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """A link to this page's message, in a message, reads "a message in #general" (not the
    room's name alone: it leads to a message), and a click opens the message in place: the
    same page (no reload, no new tab), highlighted."""
    _, ann_line, bob = ann_and_bob_in(daemon, "general", "random")
    ann_line.close()
    plan = bob.request("send", room="general", text="the plan: ship friday", nonce="plan")
    bob.send_many("general", [f"filler {n}" for n in range(FILLER)], "filler")
    link = f"{daemon.url}/#room=general&msg={plan['msg_id']}"
    bob.request("send", room="random", text=f"see {link} and https://example.com/x",
                nonce="see")
    ann = Session(browser, DESKTOP)
    sessions.append(ann)
    page = ann.page
    log_in(page, daemon.url, "ann")
    page.locator('#room-list li[data-room="random"] button').click()
    expect(page.locator("#conv-title")).to_have_text("# random")
    item = page.locator("#message-list li.msg[data-seq]", has_text="see a message in #general")
    expect(item).to_have_count(1)
    inside = item.locator("a.md-place")
    expect(inside).to_have_text("a message in #general")
    shot(page, artifacts, "desktop-message-link")
    expect(inside).not_to_have_attribute("target", "_blank")
    expect(item.locator("a.md-link:not(.md-place)")).to_have_attribute("target", "_blank")
    page.evaluate("() => { window.chatdSamePage = true; }")
    inside.click()
    expect(page.locator("#conv-title")).to_have_text("# general")
    plan_item = message(page, "the plan: ship friday")
    expect(plan_item).to_have_class(re.compile(r"\bflash\b"))
    expect(plan_item).to_be_in_viewport()
    assert page.evaluate("() => window.chatdSamePage === true"), "the page was reloaded"
    assert len(ann.context.pages) == 1, "a new tab opened"
    bob.close()
    assert ann.errors == [] and ann.dialogs == []
