"""Files and images in the page, in a real Chromium against the real daemon: a screenshot pasted
into the box shows as a preview on the other person's page and opens in the larger view; a file
dropped on the conversation shows as a download chip there and downloads; a failed upload is
marked and retried; a file over the size limit can only be removed.

The rules of test_web.py hold here: every wait is for a state (a Playwright expect or locator
wait, or a frame the page received), never for time. Files reach the page the way a person's
do: a paste event with the clipboard's files, drag events carrying a DataTransfer, the file
chooser. Screenshots land in tests/artifacts/files-*.png (docs/screenshots/*files*,
*image-viewer* and *upload-failed* are copies of some).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, FilePayload, Locator, Page, Route, expect

from tests.browser.conftest import DESKTOP, PHONE, Daemon, _running, needs_chromium
from tests.browser.test_changes import create_room, join_room
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_web import XSS, Session, open_session, register, shot

pytestmark = [pytest.mark.slow, needs_chromium]

#: The size limit of uploads in these tests: small, so that a file over it is small too.
MAX_BYTES = 64 * 1024


class SmallFilesDaemon(Daemon):
    """A daemon whose uploads may hold at most :data:`MAX_BYTES`."""

    def _spawn(self, extra: dict[str, str]) -> subprocess.Popen[bytes]:
        return super()._spawn({**extra, "CHATD_FILES_MAX_BYTES": str(MAX_BYTES)})


@pytest.fixture
def files_daemon(tmp_path: Path, database_dsn: str) -> Iterator[Daemon]:
    yield from _running(SmallFilesDaemon(tmp_path, database_dsn))


def paste_image(page: Page, name: str = "image.png", width: int = 640, height: int = 400) -> None:
    """Paste a PNG (drawn in the page, as a screenshot would be) into the message box."""
    page.locator("#composer-text").focus()
    page.evaluate("""async ([name, width, height]) => {
      const canvas = new OffscreenCanvas(width, height);
      const ctx = canvas.getContext("2d");
      ctx.fillStyle = "#4f46e5";
      ctx.fillRect(0, 0, width, height);
      ctx.fillStyle = "#fbbf24";
      ctx.fillRect(width / 4, height / 4, width / 2, height / 2);
      const blob = await canvas.convertToBlob({ type: "image/png" });
      const data = new DataTransfer();
      data.items.add(new File([blob], name, { type: "image/png" }));
      const box = document.getElementById("composer-text");
      box.dispatchEvent(new ClipboardEvent("paste", {
        clipboardData: data, bubbles: true, cancelable: true }));
    }""", [name, width, height])


def drop_files(page: Page, files: list[dict[str, Any]]) -> None:
    """Drag files ({name, type, text}) over the conversation, see the drop zone, drop them."""
    data = page.evaluate_handle("""(files) => {
      const data = new DataTransfer();
      for (const f of files) data.items.add(new File([f.text], f.name, { type: f.type }));
      return data;
    }""", files)
    target = page.locator("#messages")
    target.dispatch_event("dragenter", {"dataTransfer": data})
    target.dispatch_event("dragover", {"dataTransfer": data})
    expect(page.locator("#drop-zone")).to_be_visible()
    expect(page.locator("#drop-zone-text")).to_contain_text("Drop files to share them in")
    target.dispatch_event("drop", {"dataTransfer": data})
    expect(page.locator("#drop-zone")).to_be_hidden()


def chip(page: Page, name: str) -> Locator:
    """The chip of a file attached in the message box."""
    return page.locator("#attachments li.attachment").filter(
        has=page.locator(".att-name", has_text=re.compile(f"^{re.escape(name)}$")))


def file_chip(message: Locator, name: str) -> Locator:
    """The download chip of a file in a message."""
    return message.locator("a.file-chip").filter(
        has=message.page.locator(".file-name", has_text=re.compile(f"^{re.escape(name)}$")))


def sent_message(page: Page) -> Locator:
    """The last confirmed message of the open conversation."""
    return page.locator("#message-list li.msg[data-seq]").last


def send_box(page: Page) -> None:
    """Send what the box holds (its files, perhaps no text) and wait until the server has it."""
    page.locator("#composer-text").press("Enter")
    expect(page.locator("#attachments")).to_be_hidden()
    expect(page.locator("#message-list li.msg.pending")).to_have_count(0)


def ann_and_bob(daemon: Daemon, browser: Browser, sessions: list[Session],
                bob_viewport: Any = DESKTOP, **bob_options: Any) -> tuple[Session, Session]:
    ann = open_session(sessions, browser, DESKTOP)
    bob = Session(browser, DESKTOP, **bob_options)
    sessions.append(bob)
    register(ann.page, daemon.url, "ann")
    register(bob.page, daemon.url, "Bob")
    create_room(ann.page, "general")
    join_room(bob.page, "general")
    expect(ann.page.locator("#message-list li.notice")).to_have_text(["Bob joined"])
    bob.page.set_viewport_size(bob_viewport)
    return ann, bob


def test_pasted_image_is_previewed_for_the_other_person_and_opens_large(
    files_daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """Ann pastes a screenshot: a chip with its preview and progress, sent with her words; Bob
    sees the thumbnail in a box of the image's shape, opens it by keyboard in the larger view
    (full image, name, size, download), and Escape brings the focus back."""
    ann, bob = ann_and_bob(files_daemon, browser, sessions)
    a, b = ann.page, bob.page

    paste_image(a)
    pasted = a.locator("#attachments li.attachment")
    expect(pasted).to_have_count(1)
    expect(pasted.locator(".att-name")).to_have_text(re.compile(r"^Pasted image .+\.png$"))
    expect(pasted).to_have_class(re.compile(r"\bdone\b"))
    expect(pasted.locator(".att-preview img")).to_have_attribute("src", re.compile("^data:"))
    expect(a.locator("#attachments-live")).to_contain_text("uploaded")
    a.locator("#composer-text").fill("the new logo")
    shot(a, artifacts, "files-desktop-pasted")
    assert axe_serious(a) == []
    send_box(a)

    for page in (a, b):
        message = sent_message(page)
        expect(message.locator(".msg-text")).to_have_text("the new logo")
        preview = message.locator("button.file-image")
        expect(preview).to_have_count(1)
        expect(preview.locator("img")).to_have_attribute("src", re.compile(r"sig="))
        # The box has the image's shape (640x400 within 360x300) before and after it loads.
        box = preview.bounding_box()
        assert box is not None and abs(box["width"] / box["height"] - 1.6) < 0.05, box
        expect(preview.locator("img")).to_have_js_property("complete", True)
        assert preview.locator("img").evaluate("img => img.naturalWidth") > 0
    shot(b, artifacts, "files-desktop-preview")

    preview = sent_message(b).locator("button.file-image")
    preview.focus()
    b.keyboard.press("Enter")
    viewer = b.locator("#viewer")
    expect(viewer).to_be_visible()
    expect(b.locator("#viewer-title")).to_have_text(re.compile(r"^Pasted image .+\.png$"))
    expect(b.locator("#viewer-size")).to_contain_text("640 \u00d7 400")
    expect(b.locator("#viewer-image")).to_have_attribute("src", re.compile(r"/api/files/.*sig="))
    expect(b.locator("#viewer-image")).to_have_js_property("complete", True)
    assert b.locator("#viewer-image").evaluate("img => img.naturalWidth") == 640
    expect(b.locator("#viewer-download")).to_have_attribute("href", re.compile(r"sig="))
    expect(b.locator("#viewer-close")).to_be_focused()
    # Focus stays in the dialog: Tab goes round its controls.
    b.keyboard.press("Tab")
    expect(b.locator("#viewer-download")).to_be_focused()
    b.keyboard.press("Shift+Tab")
    expect(b.locator("#viewer-close")).to_be_focused()
    b.keyboard.press("Shift+Tab")
    expect(b.locator("#viewer-download")).to_be_focused()
    shot(b, artifacts, "files-desktop-viewer")
    assert axe_serious(b) == []
    with b.expect_download() as saved:
        b.locator("#viewer-download").click()
    assert Path(saved.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    b.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    expect(preview).to_be_focused()

    # On a phone the picture fits the screen; a press on the close button closes it.
    b.set_viewport_size(PHONE)
    preview.click()
    expect(b.locator("#viewer-image")).to_have_js_property("complete", True)
    image = b.locator("#viewer-image").bounding_box()
    assert image is not None and image["width"] <= PHONE["width"], image
    shot(b, artifacts, "files-phone-viewer")
    b.get_by_role("button", name="Close the image").click()
    expect(viewer).to_be_hidden()
    expect(preview).to_be_focused()
    assert ann.errors == [] and bob.errors == []


def test_dropped_file_is_a_download_chip_for_the_other_person(
    files_daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """Ann drops two files on the conversation (a drop zone shows while they are dragged) and
    sends them without words; Bob, on a phone in the dark, sees download chips with a type, the
    name (never markup) and the size, and downloads one."""
    ann, bob = ann_and_bob(files_daemon, browser, sessions, PHONE, color_scheme="dark")
    a, b = ann.page, bob.page
    notes = "line of notes..\n" * 128  # 2048 bytes
    drop_files(a, [
        {"name": "notes.txt", "type": "text/plain", "text": notes},
        {"name": f"{XSS}.pdf", "type": "application/pdf", "text": "%PDF-1.4 not really"},
    ])
    expect(chip(a, "notes.txt")).to_have_class(re.compile(r"\bdone\b"))
    expect(chip(a, f"{XSS}.pdf")).to_have_class(re.compile(r"\bdone\b"))
    expect(chip(a, "notes.txt").locator(".att-status")).to_have_text("2.0 KB")
    expect(a.locator("#send")).to_be_enabled()
    send_box(a)

    for page in (a, b):
        message = sent_message(page)
        expect(message.locator("a.file-chip")).to_have_count(2)
        text = file_chip(message, "notes.txt")
        expect(text.locator(".file-size")).to_have_text("2.0 KB")
        expect(text.locator(".file-type")).to_have_text("TXT")
        expect(text).to_have_attribute("href", re.compile(r"sig="))
        expect(text).to_have_attribute("download", "notes.txt")
        expect(file_chip(message, f"{XSS}.pdf").locator(".file-type")).to_have_text("PDF")
        expect(message.locator(".msg-text")).to_have_count(0)
        expect(page.locator("#message-list img")).to_have_count(0)
    shot(b, artifacts, "files-phone-dark-chips")
    assert axe_serious(b) == []

    with b.expect_download() as saved:
        file_chip(sent_message(b), "notes.txt").click()
    assert saved.value.suggested_filename == "notes.txt"
    assert Path(saved.value.path()).read_text() == notes
    assert ann.errors == [] and bob.errors == [] and bob.dialogs == []


def test_a_failed_upload_is_retried_and_one_too_large_only_removed(
    files_daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """The network fails under an upload: its chip says so and offers Retry, and Send waits;
    Retry uploads it. A file over the server's limit says so in the server's words (its size
    made readable) and can only be removed."""
    ann, bob = ann_and_bob(files_daemon, browser, sessions)
    a, b = ann.page, bob.page
    attempts: list[str] = []
    held: list[Route] = []

    def cut_first(route: Route) -> None:
        """The first upload loses its connection; the third (the retry) waits to be let go."""
        attempts.append(route.request.url)
        if len(attempts) == 1:
            route.abort("connectionreset")
        elif len(attempts) == 3:
            held.append(route)
        else:
            route.continue_()

    a.route("**/api/rooms/*/files", cut_first)
    with a.expect_file_chooser() as chooser:
        a.get_by_role("button", name="Attach files").click()
    report: FilePayload = {"name": "report.csv", "mimeType": "text/csv", "buffer": b"a,b\n1,2\n"}
    chooser.value.set_files([report])
    failed = chip(a, "report.csv")
    expect(failed).to_have_class(re.compile(r"\bfailed\b"))
    expect(failed.locator(".att-status")).to_have_text(
        "Upload failed: the server could not be reached.")
    expect(a.locator("#send")).to_be_disabled()
    a.locator("#composer-text").fill("the numbers")
    a.locator("#composer-text").press("Enter")
    expect(a.locator("#composer-limit")).to_contain_text("Retry or remove the files that failed")
    expect(a.locator("#composer-text")).to_have_value("the numbers")

    too_big = "x" * (MAX_BYTES + 1)
    drop_files(a, [{"name": "huge.log", "type": "text/plain", "text": too_big}])
    huge = chip(a, "huge.log")
    expect(huge).to_have_class(re.compile(r"\bfailed\b"))
    expect(huge.locator(".att-status")).to_have_text(re.compile(r"^Too large: .*64 KB"))
    expect(huge.get_by_role("button", name="Retry uploading huge.log")).to_have_count(0)
    shot(a, artifacts, "files-desktop-failed")

    a.get_by_role("button", name="Remove huge.log").click()
    expect(huge).to_have_count(0)
    a.get_by_role("button", name="Retry uploading report.csv").click()
    # On its way: a progress bar, and Send waits for it.
    expect(failed).to_have_class(re.compile(r"\buploading\b"))
    expect(failed.get_by_role("progressbar", name="Uploading report.csv")).to_be_visible()
    expect(a.locator("#send")).to_be_disabled()
    a.locator("#composer-text").press("Enter")
    expect(a.locator("#composer-limit")).to_have_text(
        "The files are still uploading: send once they are done.")
    assert len(attempts) == 3  # report.csv cut, huge.log, report.csv again
    shot(a, artifacts, "files-desktop-uploading")
    held[0].continue_()
    expect(failed).to_have_class(re.compile(r"\bdone\b"))
    expect(a.locator("#send")).to_be_enabled()
    send_box(a)
    for page in (a, b):
        expect(sent_message(page).locator(".msg-text")).to_have_text("the numbers")
        expect(sent_message(page).locator("a.file-chip .file-name")).to_have_text(["report.csv"])
    assert ann.errors == [] and bob.errors == []
