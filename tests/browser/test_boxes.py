"""What a reload keeps of the message box, in a real Chromium against the real daemon: a file
uploaded in the box comes back after a reload (its thumbnail drawn through a signed link) and
goes out with the next message; a file still uploading at the reload is told lost, once; a kept
file that the server let expire is left out of the message, which is sent with its text, and
the person is told which file to attach again.

The rules of test_web.py hold here: every wait is for a state (a Playwright expect, a frame a
page received, a function of the page), never for time. A screenshot of the restored box lands
in tests/artifacts/files-kept-after-reload.png.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.browser.conftest import Daemon, _running, needs_chromium
from tests.browser.test_files import ann_and_bob, chip, drop_files, paste_image, send_box
from tests.browser.test_web import Session, shot

pytestmark = [pytest.mark.slow, needs_chromium]


class ExpiringDaemon(Daemon):
    """A daemon whose uploads expire unattached after a millisecond: each upload of a user's
    expires that user's earlier unattached ones (the upload route expires them first)."""

    def _spawn(self, extra: dict[str, str]) -> subprocess.Popen[bytes]:
        return super()._spawn({**extra, "CHATD_FILES_UNATTACHED_SECONDS": "0.001"})


@pytest.fixture
def expiring_daemon(tmp_path: Path, database_dsn: str) -> Iterator[Daemon]:
    yield from _running(ExpiringDaemon(tmp_path, database_dsn))


def reload(page: Page) -> None:
    """Reload the page and wait until it is connected again."""
    page.reload()
    expect(page.locator("#me-status")).to_have_attribute("data-phase", "online")


def saved_box(page: Page, room: str) -> Any:
    """What localStorage keeps of ann's box in `room` (drafts.js), or None."""
    return page.evaluate("""(room) => {
      const saved = JSON.parse(localStorage.getItem("chatd.drafts.ann") || "{}");
      return saved[room] === undefined ? null : saved[room];
    }""", room)


def message_frame(session: Session, text: str) -> dict[str, Any]:
    """The `message` event with this text that the session's page received."""
    return session.wait_for_frame(
        lambda frame: frame.get("op") == "message" and frame.get("text") == text,
        f"the message {text!r}")


def test_an_uploaded_file_is_back_in_the_box_after_a_reload_and_is_sent(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """Ann pastes an image and types a line, the image uploads; she reloads: the line and the
    image are back in the box (its thumbnail through a signed link), ready; she sends, and Bob
    gets the message with the image."""
    ann, bob = ann_and_bob(daemon, browser, sessions)
    a = ann.page
    paste_image(a, "kept.png")
    expect(chip(a, "kept.png")).to_have_class(re.compile(r"\bdone\b"))
    a.locator("#composer-text").fill("still here after a reload")
    a.wait_for_function("""() => {
      const box = JSON.parse(localStorage.getItem("chatd.drafts.ann") || "{}").general;
      return Boolean(box && box.files && box.files.length === 1);
    }""")

    reload(a)
    expect(a.locator("#conv-title")).to_have_text("# general")
    kept = chip(a, "kept.png")
    expect(kept).to_have_class(re.compile(r"\bdone\b"))
    expect(kept.locator(".att-preview img")).to_have_attribute(
        "src", re.compile(r"/api/thumbnails/\d+\?exp=\d+&sig="))
    a.wait_for_function("""() => {
      const img = document.querySelector("#attachments .att-preview img");
      return img && img.complete && img.naturalWidth > 0;
    }""")
    expect(a.locator("#composer-text")).to_have_value("still here after a reload")
    expect(a.locator("#send")).to_be_enabled()
    shot(a, artifacts, "files-kept-after-reload")

    send_box(a)
    frame = message_frame(bob, "still here after a reload")
    assert [file["name"] for file in frame["files"]] == ["kept.png"], frame
    expect(bob.page.locator("#message-list li.msg[data-seq] .msg-text").last).to_have_text(
        "still here after a reload")
    expect(bob.page.locator("#message-list li.msg[data-seq]").last.locator("img")).to_have_count(1)
    assert saved_box(a, "general") is None  # sent: nothing kept
    assert ann.errors == [] and bob.errors == []


def test_a_file_still_uploading_at_a_reload_is_told_once(
    daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """Ann drops a file whose upload never finishes (the test holds the request) and reloads:
    the page says that the file was still uploading and must be attached again; the box is
    empty, and the next reload says nothing more."""
    ann, bob = ann_and_bob(daemon, browser, sessions)
    a = ann.page
    held: list[Route] = []
    a.route(re.compile(r"/api/rooms/[^/]+/files$"), lambda route: held.append(route))
    drop_files(a, [{"name": "slow.txt", "type": "text/plain", "text": "slow"}])
    expect(chip(a, "slow.txt")).to_have_class(re.compile(r"\buploading\b"))
    a.wait_for_function("""() => {
      const box = JSON.parse(localStorage.getItem("chatd.drafts.ann") || "{}").general;
      return Boolean(box && box.unfinished && box.unfinished.names[0] === "slow.txt");
    }""")

    reload(a)
    expect(a.locator("#toasts")).to_contain_text(
        "A file had not finished uploading when the page closed and is not attached any more: "
        "slow.txt (#general). Attach it again.")
    expect(a.locator("#attachments li.attachment")).to_have_count(0)
    assert saved_box(a, "general") is None  # told: not told again
    a.unroute(re.compile(r"/api/rooms/[^/]+/files$"))
    assert ann.errors == [] and bob.errors == []


def test_a_kept_file_that_expired_is_left_out_and_the_text_sent(
    expiring_daemon: Daemon, browser: Browser, sessions: list[Session]
) -> None:
    """Ann's image is kept across a reload, then expires on the server (another upload of hers
    expires it at once here). She sends: the server refuses the file, the page sends her
    words without it, Bob gets them, and Ann is told to attach the image again."""
    ann, bob = ann_and_bob(expiring_daemon, browser, sessions)
    a = ann.page
    paste_image(a, "old.png")
    expect(chip(a, "old.png")).to_have_class(re.compile(r"\bdone\b"))
    a.locator("#composer-text").fill("words that must not be lost")
    reload(a)
    expect(chip(a, "old.png")).to_have_class(re.compile(r"\bdone\b"))

    # Another upload of Ann's expires the kept one (unattached for more than a millisecond).
    gone = a.evaluate("""async () => {
      const { token } = JSON.parse(localStorage.getItem("chatd.session"));
      const kept = JSON.parse(localStorage.getItem("chatd.drafts.ann")).general.files[0];
      const body = new FormData();
      body.append("file", new File(["x"], "other.txt", { type: "text/plain" }));
      const auth = { Authorization: `Bearer ${token}` };
      const upload = await fetch("/api/rooms/general/files", { method: "POST", body,
        headers: auth });
      if (upload.status !== 201) return `upload: ${upload.status}`;
      return (await fetch(kept.url, { headers: auth })).status;
    }""")
    assert gone == 404, gone

    send_box(a)
    expect(a.locator("#toasts")).to_contain_text(
        "old.png is no longer on the server (an upload not sent in time expires) and was left "
        "out of your message: attach it again.")
    frame = message_frame(bob, "words that must not be lost")
    assert not frame.get("files"), frame
    expect(a.locator("#message-list li.msg[data-seq] .msg-text").last).to_have_text(
        "words that must not be lost")
    expect(a.locator("#message-list li.msg.pending")).to_have_count(0)
    assert ann.errors == [] and bob.errors == []
