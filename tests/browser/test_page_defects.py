"""The defects a team found in the page (issue 13, point 7), each tried as a person would, in a
real Chromium against the real daemon. The rules of test_web.py hold here: every wait is for a
state (a locator, `expect`, a frame on the page's WebSocket, a rendered frame), never for time.
Screenshots land in tests/artifacts/.
"""

from __future__ import annotations

import importlib.resources
import re
import signal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, ViewportSize, expect

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    Daemon,
    LineClient,
    needs_chromium,
    register_and_login,
)
from tests.browser.test_web import Session, _frames, log_in, shot

pytestmark = [pytest.mark.slow, needs_chromium]


def person(sessions: list[Session], browser: Browser, viewport: ViewportSize = DESKTOP,
           **options: Any) -> Session:
    """A new person (a browser context with `options`, as Playwright's new_context takes)."""
    session = Session(browser, viewport, **options)
    sessions.append(session)
    return session


def owner_of(daemon: Daemon, name: str, *rooms: str) -> None:
    """Register ``name`` and have them create ``rooms`` (public), over the protocol."""
    setup = LineClient(daemon.tcp_port, register_and_login(daemon.url, name))
    for room in rooms:
        setup.request("create_room", room=room)
    setup.close()


def room_button(page: Page, room: str) -> Locator:
    return page.locator(f'#room-list li[data-room="{room}"] button')


def shown_texts(page: Page) -> list[str]:
    return page.locator("#message-list li.msg .msg-text").all_inner_texts()


# -- 1. a draft per room ------------------------------------------------------------------------


def test_each_room_keeps_its_own_draft(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """A half-typed message stays with its room: another room shows its own draft, Enter there
    sends nothing of it, and a reload keeps the drafts."""
    owner_of(daemon, "ann", "alpha", "beta")
    ann = person(sessions, browser)
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


# -- 2. open at the first unread, read only what was seen -----------------------------------


def settle(page: Page) -> None:
    """Wait for three rendered frames: what scrolled has been seen (the intersection observer
    and the scroll check ran) and the page has rendered it."""
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame("
                  "() => requestAnimationFrame(done))))")


def scroll_down_until(page: Page, done: str, step: int = 200) -> None:
    """Scroll the messages down `step` pixels at a time, a rendered frame between steps, as a
    person does with a wheel, until the JS predicate `done(scroller)` holds."""
    scroller = page.locator("#messages")
    for _ in range(200):
        if scroller.evaluate(done):
            settle(page)
            return
        scroller.evaluate(f"n => n.scrollBy(0, {step})")
        settle(page)
    raise AssertionError(f"scrolled to the end and still not {done}")


def message_at(page: Page, seq: int) -> Locator:
    return page.locator(f'#message-list li.msg[data-seq="{seq}"]')


def test_a_room_opens_at_its_first_unread_and_reads_only_what_was_seen(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """With many unread, the room opens at the "New messages" line; a jump to the end reads
    nothing skipped; a message taller than the view is read once its end was on screen."""
    bob = LineClient(daemon.tcp_port, register_and_login(daemon.url, "bob"))
    ann_token = register_and_login(daemon.url, "ann")
    bob.request("create_room", room="news")
    bob.request("create_room", room="quiet")
    bob.send_many("news", [f"old {n}" for n in range(1, 41)], "old")
    ann_setup = LineClient(daemon.tcp_port, ann_token)
    for room in ("news", "quiet"):
        ann_setup.request("join", room=room)
    ann_setup.request("read", room="news", seq=40)
    ann_setup.close()
    tall = "\n".join(f"line {n} of a message taller than the view" for n in range(80))
    bob.send_many("news", [*(f"new {n}" for n in range(41, 61)), tall,
                           *(f"after {n}" for n in range(62, 101))], "new")
    bob.close()

    ann = person(sessions, browser)
    page = ann.page
    log_in(page, daemon.url, "ann")
    expect(page.locator("#conv-title")).to_have_text("# news")
    divider = page.locator("#message-list li.new-divider")
    expect(divider).to_have_text("New messages")
    expect(divider).to_be_in_viewport()
    expect(message_at(page, 41)).to_be_in_viewport()
    expect(message_at(page, 100)).not_to_be_in_viewport()
    jump = page.get_by_role("button", name="New messages below")
    expect(jump).to_be_visible()
    shot(page, artifacts, "desktop-opens-at-first-unread")
    first = ann.wait_for_frame(lambda f: f.get("op") == "ok" and f.get("room") == "news"
                               and "msg_id" not in f and isinstance(f.get("seq"), int),
                               "a read marker")
    assert 41 <= first["seq"] < 61, first

    # A glance at the end (the jump) reads nothing it skipped: the tall message and all after
    # it stay unread.
    jump.click()
    expect(message_at(page, 100)).to_be_in_viewport()
    expect(message_at(page, 61)).not_to_be_in_viewport()
    settle(page)
    room_button(page, "quiet").click()
    expect(page.locator("#conv-title")).to_have_text("# quiet")
    badge = room_button(page, "news").locator(".badge")
    expect(badge).to_be_visible()
    assert int(badge.inner_text()) >= 40, "the tall message and those after it are unread"
    reads = [f["seq"] for payload in ann.received for f in _frames(payload)
             if f.get("op") == "ok" and f.get("room") == "news" and "msg_id" not in f
             and isinstance(f.get("seq"), int)]
    assert reads and max(reads) < 61, reads

    # Back in news: it opens at the first message not read; reading down to the tall one's
    # top reads everything before it, and not the tall one (its end is not on screen yet).
    room_button(page, "news").click()
    expect(divider).to_be_in_viewport()
    tall_node = message_at(page, 61)
    scroll_down_until(page, """n => {
      const tall = n.querySelector('li.msg[data-seq="61"]').getBoundingClientRect();
      return tall.top <= n.getBoundingClientRect().top + 40;
    }""")
    assert tall_node.evaluate("(m) => m.getBoundingClientRect().height") > 2 * page.evaluate(
        "() => document.getElementById('messages').clientHeight")
    ann.wait_for_read("news", 60)
    room_button(page, "quiet").click()
    expect(badge).to_have_text("40")

    # The tall message is read once its end has been on screen; then the rest, to the end.
    room_button(page, "news").click()
    expect(tall_node).to_be_in_viewport()
    scroll_down_until(page, """n => {
      const tall = n.querySelector('li.msg[data-seq="61"]').getBoundingClientRect();
      return tall.bottom <= n.getBoundingClientRect().bottom;
    }""")
    ann.wait_for_frame(lambda f: f.get("op") == "ok" and f.get("room") == "news"
                       and "msg_id" not in f and isinstance(f.get("seq"), int) and f["seq"] >= 61,
                       "the read marker past the tall message")
    scroll_down_until(page, "n => n.scrollHeight - n.scrollTop - n.clientHeight < 2")
    ann.wait_for_read("news", 100)
    room_button(page, "quiet").click()
    expect(badge).to_have_count(0)
    assert ann.errors == [] and ann.dialogs == []


# -- 3. Enter on a touch keyboard ---------------------------------------------------------------


def test_enter_makes_a_new_line_on_a_touch_screen(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """On a phone (a coarse pointer) Enter makes a new line and the send button sends; with a
    mouse, Enter sends and Shift+Enter makes a line."""
    owner_of(daemon, "ann", "lobby")
    phone = person(sessions, browser, PHONE, has_touch=True, is_mobile=True)
    page = phone.page
    log_in(page, daemon.url, "ann")
    expect(page.locator("#conv-title")).to_have_text("# lobby")
    assert page.evaluate("() => matchMedia('(pointer: coarse)').matches")
    box = page.locator("#composer-text")
    expect(box).to_have_attribute("enterkeyhint", "enter")
    box.tap()
    page.keyboard.type("first line")
    page.keyboard.press("Enter")
    page.keyboard.type("second line")
    expect(box).to_have_value("first line\nsecond line")
    expect(page.locator("#message-list li.msg")).to_have_count(0)
    shot(page, artifacts, "phone-touch-multiline")
    page.get_by_role("button", name="Send message").tap()
    expect(page.locator("#message-list li.msg[data-seq] .msg-text")).to_have_text(
        ["first line\nsecond line"])
    expect(box).to_have_value("")

    desk = person(sessions, browser)
    page = desk.page
    log_in(page, daemon.url, "ann")
    expect(page.locator("#conv-title")).to_have_text("# lobby")
    box = page.locator("#composer-text")
    expect(box).to_have_attribute("enterkeyhint", "send")
    expect(page.locator("#composer-hint")).to_contain_text("Enter to send")
    box.fill("one")
    box.press("Shift+Enter")
    box.press_sequentially("two")
    box.press("Enter")
    expect(page.locator("#message-list li.msg[data-seq] .msg-text")).to_have_text(
        ["first line\nsecond line", "one\ntwo"])
    assert phone.errors == [] and desk.errors == []


# -- 4. leaving and removing ----------------------------------------------------------------------


def test_leave_asks_the_owner_removes_and_the_removed_are_moved_on(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """Leaving asks first (a private room then needs an invitation); the owner removes a member
    from the member list; the one removed lands in another room and is told why; with no room
    left, the page offers to browse or create one."""
    register_and_login(daemon.url, "bob")
    ann = person(sessions, browser)
    bob = person(sessions, browser, PHONE)
    a, b = ann.page, bob.page
    token = register_and_login(daemon.url, "ann")
    setup = LineClient(daemon.tcp_port, token)
    setup.request("create_room", room="plans", private=True, topic="Where we go next")
    setup.request("create_room", room="zoo")
    setup.request("invite", room="plans", user="bob")
    setup.request("invite", room="zoo", user="bob")
    setup.close()
    log_in(a, daemon.url, "ann")
    log_in(b, daemon.url, "bob")
    expect(a.locator("#conv-title")).to_have_text("🔒 plans")
    expect(a.locator("#conv-topic")).to_have_text("Where we go next")
    expect(b.locator("#conv-title")).to_have_text("🔒 plans")

    # Leaving a private room asks first, and says what it costs.
    a.get_by_role("button", name="Leave this room").click()
    dialog = a.locator("#dialog")
    expect(dialog.locator("#dialog-title")).to_have_text("Leave #plans?")
    expect(dialog).to_contain_text("you will need a new invitation")
    expect(a.locator("#dialog-cancel")).to_be_focused()
    a.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(a.locator("#conv-title")).to_have_text("🔒 plans")

    # The owner removes bob from the member list, after saying yes.
    bob_row = a.locator('#member-list li[data-user="bob"]')
    expect(bob_row).to_have_attribute("data-status", "online")
    expect(b.locator('#member-list li[data-user="ann"] .kick')).to_have_count(0)  # not his
    bob_row.hover()
    bob_row.get_by_role("button", name="Remove bob from #plans").click()
    expect(dialog.locator("#dialog-title")).to_have_text("Remove bob from #plans?")
    expect(dialog).to_contain_text("only a new invitation brings them back")
    shot(a, artifacts, "desktop-remove-member")
    a.locator("#dialog-ok").click()
    expect(dialog).to_be_hidden()
    expect(bob_row).to_have_count(0)
    expect(a.locator("#message-list li.notice")).to_have_text(["ann removed bob"])

    # Bob is taken to the room he still has, and told why.
    expect(b.locator("#conv-title")).to_have_text("# zoo")
    expect(b.locator("#toasts")).to_contain_text("ann removed you from #plans")
    expect(b.locator('#room-list li[data-room="plans"]')).to_have_count(0)
    shot(b, artifacts, "phone-removed-from-room")

    # He leaves his last room: asked first, then the page offers what to do next.
    b.get_by_role("button", name="Leave this room").click()
    expect(b.locator("#dialog")).to_contain_text("join #zoo again")
    b.locator("#dialog-ok").click()
    expect(b.locator("#toasts")).to_contain_text("You left #zoo")
    expect(b.locator("#conv-title")).to_have_text("Welcome to chatd")
    expect(b.locator("#composer-text")).to_have_attribute("placeholder", "Message")
    browse = b.get_by_role("button", name="Browse rooms")
    expect(browse).to_be_in_viewport()
    shot(b, artifacts, "phone-no-room-left")
    browse.click()
    b.get_by_role("button", name="Join zoo").click()
    expect(b.locator("#conv-title")).to_have_text("# zoo")
    assert ann.errors == [] and bob.errors == [] and ann.dialogs == [] and bob.dialogs == []


def test_the_owner_sets_the_topic_and_every_member_sees_it_at_once(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """The room's owner changes the topic from the header (a dialog, reached by keyboard, its
    length counted in code points as the server counts, the server's refusal shown in it); the
    other member's header shows the new topic live, with a notice in the conversation; a member
    who is not the owner has no control, nor has anyone in a conversation."""
    register_and_login(daemon.url, "bob")
    token = register_and_login(daemon.url, "ann")
    setup = LineClient(daemon.tcp_port, token)
    setup.request("create_room", room="plans", topic="Where we go next")
    setup.request("invite", room="plans", user="bob")
    setup.close()
    ann = person(sessions, browser)
    bob = person(sessions, browser, PHONE)
    a, b = ann.page, bob.page
    log_in(a, daemon.url, "ann")
    log_in(b, daemon.url, "bob")
    expect(b.locator("#conv-topic")).to_have_text("Where we go next")
    expect(b.locator("#conv-title")).to_have_text("# plans")
    expect(b.locator("#edit-topic")).to_be_hidden()  # bob is a member, not the owner

    # By keyboard: the button has a name, and opens the dialog with the topic in it.
    edit = a.get_by_role("button", name="Edit the topic")
    edit.focus()
    a.keyboard.press("Enter")
    dialog = a.locator("#dialog")
    expect(dialog.locator("#dialog-title")).to_have_text("Topic of #plans")
    topic = dialog.get_by_label("Topic")
    expect(topic).to_be_focused()
    expect(topic).to_have_value("Where we go next")
    topic.fill("Release on Friday: bring the slides")
    shot(a, artifacts, "desktop-topic")
    a.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(edit).to_be_focused()
    expect(a.locator("#conv-topic")).to_have_text("Release on Friday: bring the slides")
    expect(b.locator("#conv-topic")).to_have_text("Release on Friday: bring the slides")
    expect(b.locator("#message-list li.notice")).to_have_text(
        ["ann set the topic: Release on Friday: bring the slides"])

    # Counted in code points as the server counts: 256 of them (257 UTF-16 units) fit, 257 not.
    longest = "ab " * 85 + "🚀"
    edit.click()
    topic.fill(longest + "!")
    a.locator("#dialog-ok").click()
    expect(a.locator("#dialog-error")).to_have_text(
        "A topic holds at most 256 characters: this one has 1 too many.")
    topic.fill(longest)
    expect(a.locator("#dialog-error")).to_be_empty()
    a.locator("#dialog-ok").click()
    expect(dialog).to_be_hidden()
    expect(b.locator("#conv-topic")).to_have_text(longest)

    # A refusal of the server shows in the dialog, which stays open to try again.
    edit.click()
    topic.evaluate("(input) => { input.value = 'lone \\ud800'; }")
    a.locator("#dialog-ok").click()
    expect(a.locator("#dialog-error")).to_contain_text("lone surrogates")
    topic.fill("Release moved to Monday")
    a.locator("#dialog-ok").click()
    expect(dialog).to_be_hidden()
    expect(b.locator("#conv-topic")).to_have_text("Release moved to Monday")

    # In a conversation there is no topic to set.
    a.get_by_role("button", name="Message bob").click()
    expect(a.locator("#conv-title")).to_have_text("bob")
    expect(a.locator("#edit-topic")).to_be_hidden()
    room_button(a, "plans").click()
    expect(edit).to_be_visible()

    # At phone size, the owner clears it.
    a.set_viewport_size(PHONE)
    edit.click()
    expect(topic).to_have_value("Release moved to Monday")
    shot(a, artifacts, "phone-topic")
    topic.fill("")
    a.locator("#dialog-ok").click()
    expect(dialog).to_be_hidden()
    expect(b.locator("#conv-topic")).to_be_hidden()
    expect(b.locator("#message-list li.notice")).to_have_text([
        "ann set the topic: Release on Friday: bring the slides",
        "ann set the topic: " + longest,
        "ann set the topic: Release moved to Monday",
        "ann cleared the topic"])
    assert ann.errors == [] and bob.errors == [] and ann.dialogs == [] and bob.dialogs == []


# -- 5. a DM to nobody, a box that grows and counts ---------------------------------------------


def test_a_dm_to_nobody_opens_nothing_and_the_box_grows_and_counts(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """A new conversation with a user who does not exist shows the server's refusal and stays
    where it was; the message box grows with a long paragraph, keeps all of a long paste, counts
    near the limit and refuses to send past it."""
    register_and_login(daemon.url, "bob")
    owner_of(daemon, "ann", "lobby")
    ann = person(sessions, browser)
    page = ann.page
    log_in(page, daemon.url, "ann")
    expect(page.locator("#conv-title")).to_have_text("# lobby")

    page.get_by_role("button", name="New direct message").click()
    page.locator("#dm-user").fill("nobody-here")
    page.locator("#dm-text").fill("hello?")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#dialog-error")).to_contain_text("no")
    expect(page.locator("#dialog-error")).to_contain_text("user")
    expect(page.locator("#dialog")).to_be_visible()
    shot(page, artifacts, "desktop-dm-to-nobody")
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#conv-title")).to_have_text("# lobby")
    expect(page.locator("#dm-list li[data-room]")).to_have_count(0)

    page.get_by_role("button", name="New direct message").click()
    page.locator("#dm-user").fill("Bob")
    page.locator("#dm-text").fill("hello bob")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#conv-title")).to_have_text("bob")
    expect(page.locator("#message-list li.msg[data-seq] .msg-text")).to_have_text(["hello bob"])
    room_button(page, "lobby").click()

    # A long paragraph (no line breaks) makes the box grow, up to a height, then it scrolls.
    box = page.locator("#composer-text")
    one_line = box.evaluate("b => b.clientHeight")
    box.fill("a long paragraph without line breaks, " * 8)
    grown = box.evaluate("b => b.clientHeight")
    assert grown > 2 * one_line, (one_line, grown)
    assert box.evaluate("b => b.scrollHeight <= b.clientHeight + 1")  # all of it in view
    box.fill("a long paragraph without line breaks, " * 60)
    tallest = box.evaluate("b => b.clientHeight")
    assert grown < tallest <= 200, (grown, tallest)
    assert box.evaluate("b => b.scrollHeight > b.clientHeight")  # now it scrolls
    box.fill("")
    expect(box).to_have_js_property("clientHeight", one_line)

    # A paste over the limit is kept whole, counted, and not sent.
    note = page.locator("#composer-limit")
    expect(note).to_be_hidden()
    box.focus()
    page.keyboard.insert_text("y" * 4100)
    expect(note).to_have_text("100 characters too long (4100 of 4000)")
    assert box.evaluate("b => b.value.length") == 4100, "the paste was cut"
    expect(box).to_have_attribute("aria-invalid", "true")
    box.press("Enter")
    expect(note).to_contain_text("Not sent: a message holds at most 4000 characters")
    shot(page, artifacts, "desktop-message-too-long")
    expect(page.locator("#message-list li.msg")).to_have_count(0)
    box.press("Control+a")
    page.keyboard.insert_text("z" * 3990)
    expect(note).to_have_text("3990 of 4000")
    box.press("Enter")
    expect(page.locator("#message-list li.msg[data-seq] .msg-text")).to_have_text(["z" * 3990])
    expect(note).to_be_hidden()
    assert ann.errors == [] and ann.dialogs == []


# -- 6. keyboard and accessibility ----------------------------------------------------------------

AXE_SCRIPT = importlib.resources.files("axe_playwright_python") / "axe.min.js"


def axe_serious(page: Page) -> list[str]:
    """The serious and critical violations axe-core finds in the page as it is now, one line
    each (rule, impact, the elements)."""
    page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8"))
    found = page.evaluate("""async () => {
      const results = await axe.run(document, { resultTypes: ["violations"] });
      return results.violations.map(v => ({ id: v.id, impact: v.impact,
        nodes: v.nodes.map(n => n.target.join(" ") + ": " + n.failureSummary) }));
    }""")
    return [f"{v['id']} ({v['impact']}): {v['nodes']}" for v in found
            if v["impact"] in ("serious", "critical")]


def lightness(page: Page, selector: str, prop: str = "backgroundColor") -> float:
    """The relative luminance (0 black to 1 white) of an element's colour `prop`."""
    rgb = page.locator(selector).first.evaluate(f"e => getComputedStyle(e).{prop}")
    red, green, blue = (int(part) / 255 for part in re.findall(r"\d+", rgb)[:3])

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


def assert_scheme(page: Page, scheme: str, selectors: list[str]) -> None:
    """The page's surfaces are dark in the dark scheme (and light in the light one), their text
    the other way round."""
    for selector in selectors:
        back, text = lightness(page, selector), lightness(page, selector, "color")
        if scheme == "dark":
            assert back < 0.05 and text > 0.5, (selector, back, text)
        else:
            assert back > 0.8 and text < 0.1, (selector, back, text)


def chat_scene(daemon: Daemon) -> LineClient:
    """ann and bob share #lobby, where ann has unread messages, and #random, where she has
    more; bob is her contact and online."""
    bob = LineClient(daemon.tcp_port, register_and_login(daemon.url, "bob"))
    ann = LineClient(daemon.tcp_port, register_and_login(daemon.url, "ann"))
    for room, topic in (("lobby", "Say hello"), ("random", "")):
        ann.request("create_room", room=room, topic=topic)
        bob.request("join", room=room)
    bob.send_many("lobby", ["good morning", "see https://example.com/page", "and this"], "l")
    ann.request("read", room="lobby", seq=1)
    bob.send_many("random", ["psst", "over here"], "r")
    ann.request("add_contact", user="bob")
    ann.close()
    return bob  # connected (online) until the caller closes it


def focus_cycle(page: Page) -> list[dict[str, Any]]:
    """Press Tab from the top of the page until the focus comes round again: what got focus,
    in order (its label and its box, and the window's size)."""
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    seen: list[dict[str, Any]] = []
    for _ in range(60):
        page.keyboard.press("Tab")
        now = page.evaluate("""() => {
          const e = document.activeElement, r = e.getBoundingClientRect();
          return { label: e.getAttribute("aria-label") || e.textContent.trim().slice(0, 40),
                   id: e.id, left: r.left, right: r.right, top: r.top, bottom: r.bottom,
                   width: innerWidth, height: innerHeight,
                   opacity: getComputedStyle(e).opacity };
        }""")
        if seen and now["label"] == seen[0]["label"] and now["id"] == seen[0]["id"]:
            return seen
        seen.append(now)
    raise AssertionError(f"the focus never came round: {[s['label'] for s in seen]}")


def on_screen(item: dict[str, Any]) -> bool:
    """Whether a box of `focus_cycle` lies within the window."""
    return bool(item["left"] >= 0 and item["right"] <= item["width"] and item["top"] >= 0
                and item["bottom"] <= item["height"])


def test_every_button_is_reached_by_tab_and_nothing_off_screen(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """Tab reaches the member list's buttons (shown when focused); on a phone it visits only
    what is on screen: the closed drawers are left out, an open one keeps the focus."""
    bob = chat_scene(daemon)
    desk = person(sessions, browser)
    page = desk.page
    log_in(page, daemon.url, "ann")
    expect(page.locator('#member-list li[data-user="bob"]')).to_have_attribute(
        "data-status", "online")
    cycle = focus_cycle(page)
    labels = [item["label"] for item in cycle]
    for wanted in ("Message bob", "Remove bob from #lobby", "Remove bob from contacts"):
        assert wanted in labels, labels
        assert cycle[labels.index(wanted)]["opacity"] == "1", wanted  # shown when focused
    page.get_by_role("button", name="Close the member list").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Message bob")).to_be_focused()
    # As a person does, on whatever has the focus: a late presence or `who` that drew the
    # list again meanwhile leaves it there (test_a_redraw_keeps_the_keyboard_focus).
    page.keyboard.press("Enter")
    expect(page.locator("#conv-title")).to_have_text("bob")

    phone = person(sessions, browser, PHONE, reduced_motion="reduce")  # drawers open at once
    page = phone.page
    log_in(page, daemon.url, "ann")
    expect(page.locator("#conv-title")).to_have_text("# lobby")
    cycle = focus_cycle(page)
    off = [item["label"] for item in cycle if not on_screen(item)]
    assert off == [], f"Tab visited what is off screen: {off}"
    labels = [item["label"] for item in cycle]
    assert "Message bob" not in labels and "Remove bob from contacts" not in labels, labels
    assert "Show rooms and people" in labels, labels
    page.get_by_role("button", name="Show rooms and people").click()
    expect(page.locator("#sidebar")).to_be_visible()
    cycle = focus_cycle(page)
    labels = [item["label"] for item in cycle]
    assert [item["label"] for item in cycle if not on_screen(item)] == [], labels
    assert "Remove bob from contacts" in labels, labels
    assert "Leave this room" not in labels, labels  # behind the open drawer
    shot(page, artifacts, "phone-sidebar-focus")
    page.keyboard.press("Escape")
    expect(page.get_by_role("button", name="Show rooms and people")).to_be_focused()
    bob.close()
    assert desk.errors == [] and phone.errors == []


def test_a_redraw_keeps_the_keyboard_focus(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """Presences (another member connecting, leaving) and messages draw the member list, the
    contacts and the rooms again: the focus stays on the button it was on, or on the same
    button drawn anew when its own row changed, and Enter then acts on it."""
    bob = chat_scene(daemon)
    carol_token = register_and_login(daemon.url, "carol")
    carol = LineClient(daemon.tcp_port, carol_token)
    carol.request("join", room="lobby")
    carol.close()
    ann = person(sessions, browser)
    page = ann.page
    log_in(page, daemon.url, "ann")
    members = page.locator("#member-list")
    carol_row = members.locator('li[data-user="carol"]')
    expect(members.locator('li[data-user="bob"]')).to_have_attribute("data-status", "online")
    expect(carol_row).to_have_attribute("data-status", "offline")

    message_bob = page.get_by_role("button", name="Message bob")
    message_bob.focus()
    carol = LineClient(daemon.tcp_port, carol_token)  # her presence draws the list again
    expect(carol_row).to_have_attribute("data-status", "online")
    expect(message_bob).to_be_focused()

    message_carol = page.get_by_role("button", name="Message carol")
    message_carol.focus()
    carol.close()  # her own row changes (and moves down): drawn anew
    expect(carol_row).to_have_attribute("data-status", "offline")
    expect(message_carol).to_be_focused()

    remove_bob = page.get_by_role("button", name="Remove bob from contacts")
    remove_bob.focus()
    carol = LineClient(daemon.tcp_port, carol_token)
    expect(carol_row).to_have_attribute("data-status", "online")
    expect(remove_bob).to_be_focused()

    random = room_button(page, "random")
    random.focus()
    bob.send_many("random", ["one more"], "again")  # its count changes: drawn anew
    expect(random.locator(".badge:not(.mention)")).to_have_text("3")
    expect(random).to_be_focused()

    page.keyboard.press("Enter")
    expect(page.locator("#conv-title")).to_have_text("# random")
    carol.close()

    # A member's menu open when their row is drawn anew: Escape gives the focus to the menu's
    # button as it is now.
    moderate_bob = page.get_by_role("button", name="Moderate bob")
    moderate_bob.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("menu", name="Moderate bob")).to_be_visible()
    bob.close()
    expect(members.locator('li[data-user="bob"]')).to_have_attribute("data-status", "offline")
    page.keyboard.press("Escape")
    expect(page.get_by_role("menu", name="Moderate bob")).to_be_hidden()
    expect(moderate_bob).to_be_focused()
    assert ann.errors == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_serious(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path, scheme: str
) -> None:
    """The page follows the light or dark scheme of the system, and axe-core finds no serious or
    critical violation (contrast, lists, names...) in the log-in form and the chat, at desktop
    and phone sizes, in either."""
    bob = chat_scene(daemon)
    found: dict[str, list[str]] = {}
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        someone = person(sessions, browser, viewport, color_scheme=scheme)
        page = someone.page
        page.goto(daemon.url)
        expect(page.get_by_role("button", name="Log in", exact=True)).to_be_visible()
        assert_scheme(page, scheme, [".auth-card"])
        found[f"{size} log-in"] = axe_serious(page)
        shot(page, artifacts, f"{size}-login-{scheme}")
        log_in(page, daemon.url, "ann")
        expect(page.locator("#message-list li.msg")).to_have_count(3)
        expect(page.locator('#member-list li[data-user="bob"]')).to_have_attribute(
            "data-status", "online")
        assert_scheme(page, scheme, [".conversation", ".composer"])
        if size == "desktop":  # first: lobby has unread messages
            expect(page.locator("#message-list li.new-divider")).to_be_visible()
            expect(room_button(page, "random").locator(".badge")).to_have_text("2")
            found["desktop chat"] = axe_serious(page)
            shot(page, artifacts, f"desktop-chat-{scheme}")
            page.get_by_role("button", name="Create a room").click()
            found["desktop dialog"] = axe_serious(page)
            assert_scheme(page, scheme, ["#dialog"])
            shot(page, artifacts, f"desktop-dialog-{scheme}")
        else:
            found["phone chat"] = axe_serious(page)
            shot(page, artifacts, f"phone-chat-{scheme}")
            page.get_by_role("button", name="Show rooms and people").click()
            expect(room_button(page, "random").locator(".badge")).to_have_text("2")
            found["phone rooms"] = axe_serious(page)
            shot(page, artifacts, f"phone-rooms-{scheme}")
    bob.close()
    assert {view: problems for view, problems in found.items() if problems} == {}


# -- 9. a dropped network -------------------------------------------------------------------------


def test_a_dropped_network_is_noticed_within_seconds(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """Going offline shows the banner at once and coming back reconnects at once; a network
    that dies without a word (the server stops answering, the socket stays open) is noticed
    by the pings within seconds, not after a minute."""
    owner_of(daemon, "ann", "lobby")
    ann = person(sessions, browser)
    page = ann.page
    log_in(page, daemon.url, "ann")
    phase = page.locator("#me-status")
    banner = page.locator("#banner")
    expect(phase).to_have_attribute("data-phase", "online")

    ann.context.set_offline(True)
    expect(banner).to_be_visible()
    expect(phase).not_to_have_attribute("data-phase", "online")
    shot(page, artifacts, "desktop-offline")
    ann.context.set_offline(False)
    expect(phase).to_have_attribute("data-phase", "online")
    expect(banner).to_be_hidden()
    page.locator("#composer-text").fill("back online")
    page.locator("#composer-text").press("Enter")
    expect(page.locator("#message-list li.msg[data-seq] .msg-text")).to_have_text(["back online"])

    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGSTOP)  # no answer, no close: as a dead network
    try:
        # Well under the minute the page used to need (two 30 s ping intervals).
        expect(banner).to_be_visible(timeout=30_000)
    finally:
        daemon.proc.send_signal(signal.SIGCONT)
    expect(phase).to_have_attribute("data-phase", "online", timeout=30_000)
    expect(banner).to_be_hidden()
    assert ann.errors == []


# -- 8. compressed files --------------------------------------------------------------------------


def test_the_page_reaches_the_browser_gzipped(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """Chromium asks for gzip and gets the page, its modules and its stylesheet gzipped."""
    someone = person(sessions, browser)
    page = someone.page
    encodings: dict[str, str | None] = {}
    page.on("response", lambda response: encodings.__setitem__(
        response.url.rsplit("/", 1)[-1] or "/", response.all_headers().get("content-encoding")))
    page.goto(daemon.url)
    expect(page.get_by_role("button", name="Log in", exact=True)).to_be_visible()
    for name in ("/", "style.css", "app.js", "state.js", "controller.js"):
        assert encodings.get(name) == "gzip", (name, encodings)
