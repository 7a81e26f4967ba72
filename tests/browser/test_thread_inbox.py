"""Followed threads in the page, in a real Chromium against the real daemon: Bob replies in
ann's thread; ann's sidebar shows "Threads 1" (in her second tab too); the Threads view lists
the thread bold with 1 unread and the mention; opening it shows the thread and reads it (the
count clears in both tabs, by the server's `thread_state`); "Following" in the thread panel's
header unfollows it, and Bob's next reply no longer counts; a file sent from the thread's box
shows in the thread with its thumbnail. On a phone the Threads view covers the page.

The rules of test_web.py hold: every wait is for a state, never for time. Screenshots land in
tests/artifacts/ (desktop-threads-view.png, phone-threads-view.png; `python -m
tests.browser.refresh_screenshots` copies them to the docs' pictures).
"""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import pytest
from playwright.sync_api import Browser, FilePayload, Locator, Page, expect

from tests.browser.conftest import DESKTOP, PHONE, Daemon, needs_chromium
from tests.browser.test_changes import message
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_pins import ann_and_bob_in
from tests.browser.test_threads import in_thread, scene, summary, thread_panel
from tests.browser.test_web import Session, log_in, open_session, shot
from tests.helpers import now_ms

pytestmark = [pytest.mark.slow, needs_chromium]


def threads_entry(page: Page) -> Locator:
    return page.locator("#threads-open")


def threads_count(page: Page) -> Locator:
    return page.locator("#threads-count")


def threads_view(page: Page) -> Locator:
    return page.get_by_role("complementary", name="Threads")


def png(width: int, height: int) -> bytes:
    """A PNG image of one colour (indigo), `width` x `height`."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + b"\x4f\x46\xe5" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def test_threads_view_counts_reads_in_every_tab_unfollows_and_takes_files(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """Bob's reply in ann's thread counts in her sidebar (both tabs) and her Threads view (bold,
    1 unread, the mention); opening it reads it everywhere; unfollowing from the panel's
    header stops the count for Bob's next reply; a file sent from the thread's box shows in the
    thread with its thumbnail."""
    bob, ids = scene(daemon)
    root = ids["root"]
    ann = open_session(sessions, browser, DESKTOP)
    page = ann.page
    log_in(page, daemon.url, "ann")
    expect(page.locator("#conv-title")).to_have_text("# general")
    expect(threads_entry(page)).to_be_visible()
    expect(threads_entry(page)).to_have_accessible_name("Threads")
    expect(threads_count(page)).to_be_hidden()
    other = ann.context.new_page()  # ann's second tab: a connection of its own
    other_errors: list[str] = []
    other.on("pageerror", lambda error: other_errors.append(str(error)))
    other.goto(daemon.url)
    expect(other.locator("#me-status")).to_have_attribute("data-phase", "online")
    expect(message(other, "lunch today?")).to_be_visible()

    # Bob replies, naming ann: her thread (she wrote its root) has 1 unread reply, a mention.
    bob.request("send", room="general", text="pizza? @ann", nonce="b1", thread=root)
    for tab in (page, other):
        expect(threads_count(tab)).to_have_text("1")
        expect(threads_entry(tab)).to_have_accessible_name("Threads: 1 with unread replies")
        expect(summary(tab).locator(".thread-new")).to_have_text("1 new reply")

    threads_entry(page).click()
    view = threads_view(page)
    expect(view).to_be_visible()
    expect(threads_entry(page)).to_have_attribute("aria-expanded", "true")
    item = view.locator("li.threads-item")
    expect(item).to_have_count(1)
    expect(item).to_have_class(re.compile(r"\bunread\b"))
    expect(item.locator(".result-room")).to_have_text("#general")
    expect(item.locator(".result-from")).to_have_text("ann")
    expect(item.locator(".result-text")).to_have_text("lunch today?")
    expect(item.locator(".threads-summary")).to_have_text("1 reply · last reply just now")
    expect(item.locator(".threads-unread")).to_have_text("1")
    expect(item.locator(".threads-mentions")).to_have_text("@1")
    assert axe_serious(page) == []
    shot(page, artifacts, "desktop-threads-view")

    # Opened: the thread panel shows it, and it is read, in this tab and the other.
    item.get_by_role("button", name=re.compile(r"Open the thread$")).click()
    panel = thread_panel(page)
    expect(panel).to_be_visible()
    expect(view).to_be_hidden()
    expect(in_thread(page, "pizza? @ann")).to_be_visible()
    ann.wait_for_frame(lambda f: f.get("op") == "thread_state" and f.get("msg_id") == root
                       and f.get("following") is True and f.get("read_seq", 0) > 0,
                       "the thread read, told back to ann's connections")
    for tab in (page, other):
        expect(threads_count(tab)).to_be_hidden()
        expect(threads_entry(tab)).to_have_accessible_name("Threads")
        expect(summary(tab).locator(".thread-new")).to_have_count(0)

    # Unfollowed from the panel's header: Bob's next reply counts nowhere.
    following = panel.get_by_role("button", name="Following")
    expect(following).to_have_attribute("aria-pressed", "true")
    following.click()
    expect(panel.get_by_role("button", name="Follow", exact=True)).to_have_attribute(
        "aria-pressed", "false")
    ann.wait_for_frame(lambda f: f.get("op") == "thread_state" and f.get("msg_id") == root
                       and f.get("following") is False, "the thread unfollowed")
    bob.request("send", room="general", text="anyone?", nonce="b2", thread=root)
    expect(in_thread(page, "anyone?")).to_be_visible()
    expect(summary(other)).to_contain_text("2 replies")  # (the other tab has it too)
    for tab in (page, other):
        expect(threads_count(tab)).to_be_hidden()
        expect(summary(tab).locator(".thread-new")).to_have_count(0)

    # A file from the thread's box: uploaded, sent with the reply, shown with its thumbnail.
    with page.expect_file_chooser() as chooser:
        panel.get_by_role("button", name="Attach files to the reply").click()
    plan: FilePayload = {"name": "plan.png", "mimeType": "image/png", "buffer": png(64, 40)}
    chooser.value.set_files([plan])
    chip = page.locator("#thread-attachments li.attachment", has_text="plan.png")
    expect(chip.locator(".att-status")).to_have_text(re.compile(r"^Ready · \d+ bytes$"))
    assert axe_serious(page) == []  # (the panel with its Follow button and a file's chip)
    box = panel.get_by_role("textbox", name="Reply in the thread")
    box.fill("the plan")
    box.press("Enter")
    expect(box).to_have_value("")
    expect(chip).to_have_count(0)
    sent = in_thread(page, "the plan")
    image = sent.locator("button.file-image img")
    expect(image).to_have_attribute("src", re.compile(r"sig="))
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("img => img.naturalWidth") == 64
    got = bob.wait_for("message")
    while got.get("text") != "the plan":  # (his own replies' events came first)
        got = bob.wait_for("message")
    assert got["thread"] == root and [f["name"] for f in got["files"]] == ["plan.png"], got
    expect(message(page, "the plan")).to_have_count(0)  # (in the thread only)

    # A file dropped on the panel is the thread's, not the room box's; it can be taken out.
    data = page.evaluate_handle("""() => {
      const data = new DataTransfer();
      data.items.add(new File(["milk, eggs"], "notes.txt", { type: "text/plain" }));
      return data;
    }""")
    panel.dispatch_event("dragover", {"dataTransfer": data})
    expect(panel).to_have_class(re.compile(r"\bdropping\b"))
    panel.dispatch_event("drop", {"dataTransfer": data})
    expect(panel).not_to_have_class(re.compile(r"\bdropping\b"))
    notes = page.locator("#thread-attachments li.attachment", has_text="notes.txt")
    expect(notes.locator(".att-status")).to_have_text("Ready · 10 bytes")
    expect(page.locator("#attachments li.attachment")).to_have_count(0)
    notes.get_by_role("button", name="Remove notes.txt").click()
    expect(notes).to_have_count(0)
    expect(page.locator("#thread-attachments")).to_be_hidden()
    assert ann.errors == [] and other_errors == []
    bob.close()


def test_threads_view_on_a_phone(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """On a phone the Threads entry is in the sidebar's drawer and its view covers the page;
    an item opens the thread over the conversation."""
    bob, ids = scene(daemon)
    root = ids["root"]
    bob.request("send", room="general", text="pizza?", nonce="b1", thread=root)
    bob.request("send", room="general", text="or sushi @ann", nonce="b2", thread=root)
    ann = open_session(sessions, browser, PHONE)
    page = ann.page
    log_in(page, daemon.url, "ann")
    expect(page.locator("#me-status")).to_have_attribute("data-phase", "online")
    page.locator("#open-sidebar").click()
    expect(threads_count(page)).to_have_text("1")
    threads_entry(page).click()
    view = threads_view(page)
    expect(view).to_be_in_viewport()
    expect(page.locator("#conversation")).to_have_js_property("inert", True)
    item = view.locator("li.threads-item")
    expect(item.locator(".threads-unread")).to_have_text("2")
    expect(item.locator(".threads-mentions")).to_have_text("@1")
    shot(page, artifacts, "phone-threads-view")
    item.get_by_role("button", name=re.compile(r"Open the thread$")).click()
    expect(thread_panel(page)).to_be_in_viewport()
    expect(in_thread(page, "or sushi @ann")).to_be_visible()
    expect(threads_count(page)).to_be_hidden()
    assert ann.errors == []
    bob.close()


def test_threads_view_pages_as_it_is_scrolled(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """More followed threads than a page (30): the view lists the latest first and asks for
    the next page once scrolled to its end; the sidebar counts them all."""
    _, ann_line, bob = ann_and_bob_in(daemon, "general")
    count = 34
    roots = [ann_line.request("send", room="general", text=f"question {n}", nonce=f"q{n}")
             for n in range(count)]
    ann_line.close()
    for n, root in enumerate(roots):
        bob.request("send", room="general", text=f"answer {n}", nonce=f"a{n}",
                    thread=root["msg_id"])
    ann = open_session(sessions, browser, DESKTOP)
    page = ann.page
    log_in(page, daemon.url, "ann")
    expect(threads_count(page)).to_have_text(str(count))
    threads_entry(page).click()
    items = threads_view(page).locator("li.threads-item")
    expect(items).to_have_count(30)
    expect(items.first.locator(".result-text")).to_have_text(f"question {count - 1}")
    page.locator("#threads-scroll").evaluate("el => { el.scrollTop = el.scrollHeight; }")
    expect(items).to_have_count(count)
    expect(items.last.locator(".result-text")).to_have_text("question 0")
    expect(items.filter(has=page.locator(".threads-unread"))).to_have_count(count)
    assert ann.errors == []
    bob.close()


def test_a_thread_unfollowed_elsewhere_shows_follow_when_opened(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """More followed threads than the Threads view's first page, and one of ann's oldest
    (her root, Bob's answer: followed by the rules) unfollowed in another session before the
    page loaded (read there first: opening it here changes nothing, so no event corrects the
    page): opened from the room, its panel says "Follow", as the thread's page says (the rules
    alone would say "Following"); following it from there is told back."""
    _, ann_line, bob = ann_and_bob_in(daemon, "general")
    count = 32
    roots = [ann_line.request("send", room="general", text=f"question {n}", nonce=f"q{n}")
             for n in range(count)]
    for n, root in enumerate(roots):
        bob.request("send", room="general", text=f"answer {n}", nonce=f"a{n}",
                    thread=root["msg_id"])
    oldest = roots[0]["msg_id"]
    # read on her phone up to Bob's answer, then unfollowed there: opening it tells nothing new
    # (no thread_state comes to correct a guess)
    answer = ann_line.request("thread", room="general", msg_id=oldest)["messages"][-1]
    ann_line.request("read_thread", room="general", msg_id=oldest, seq=answer["seq"])
    done = ann_line.request("follow_thread", room="general", msg_id=oldest, on=False)
    assert done["following"] is False, done
    ann_line.close()
    ann = open_session(sessions, browser, DESKTOP)
    page = ann.page
    log_in(page, daemon.url, "ann")
    expect(threads_count(page)).to_have_text(str(count - 1))
    shown = message(page, "question 0")
    shown.scroll_into_view_if_needed()
    shown.locator(".thread-summary").click()
    panel = page.get_by_role("complementary", name="Thread in #general")
    expect(panel.locator("#thread-list li.msg[data-seq]").filter(
        has_text="answer 0")).to_be_visible()
    follow = panel.get_by_role("button", name="Follow", exact=True)
    expect(follow).to_have_attribute("aria-pressed", "false")
    follow.click()
    expect(panel.get_by_role("button", name="Following")).to_have_attribute(
        "aria-pressed", "true")
    ann.wait_for_frame(lambda f: f.get("op") == "thread_state" and f.get("msg_id") == oldest
                       and f.get("following") is True, "the thread followed again")
    assert ann.errors == []
    bob.close()


def test_the_threads_and_scheduled_panels_take_turns(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """The Threads view and the Scheduled panel share the side panels' place: opening one
    closes the other (each once closed every panel but the other)."""
    _, ann_line, bob = ann_and_bob_in(daemon, "general")
    ann_line.request("schedule", room="general", text="standup notes",
                     send_at=now_ms() + 3_600_000)
    ann_line.close()
    bob.close()
    ann = open_session(sessions, browser, DESKTOP)
    page = ann.page
    log_in(page, daemon.url, "ann")
    threads_panel = page.locator("#threads-panel")
    scheduled_panel = page.locator("#scheduled-panel")
    threads_entry(page).click()
    expect(threads_panel).to_be_visible()
    page.locator("#scheduled-open").click()
    expect(scheduled_panel).to_be_visible()
    expect(threads_panel).to_be_hidden()
    threads_entry(page).click()
    expect(threads_panel).to_be_visible()
    expect(scheduled_panel).to_be_hidden()
    assert ann.errors == []
