"""Link previews in the page, in a real Chromium against the real daemon, which fetches a
real page from 127.0.0.1: the card under the message (the title a link to a new tab without
opener or referrer, the site, the description on two lines at most, the thumbnail from chatd
through a signed link), on both people's pages, live; "Remove preview" in the author's menu
takes it off both.

The rules of test_web.py hold here: every wait is for a state (a Playwright expect), never for
time. The screenshot lands in tests/artifacts/previews-card.png.
"""

from __future__ import annotations

import http.server
import io
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, expect

from tests.browser.conftest import DESKTOP, Daemon, _running, needs_chromium, wait_loaded
from tests.browser.test_changes import create_room, join_room, menu_action
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_web import Session, open_session, register, send, shot

pytestmark = [pytest.mark.slow, needs_chromium]

SIGNED_THUMBNAIL = re.compile(r"/api/thumbnails/\d+\?exp=\d+&sig=[A-Za-z0-9_-]+$")

DESCRIPTION = ("The test waited on a timer instead of the state it needed; this change waits "
               "for the state, and removes the sleep that made it slow on a busy machine. "
               "It also names the fixture after what it gives, and keeps the log short.")


def picture() -> bytes:
    image = Image.new("RGB", (1200, 630), "#4f46e5")
    image.paste(Image.new("RGB", (600, 315), "#fbbf24"), (300, 157))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


class Pages(http.server.BaseHTTPRequestHandler):
    """The linked site: a pull request's page and its picture."""

    files = {
        "/pr/12": ("text/html; charset=utf-8", (
            "<!doctype html><html><head><title>ignored</title>"
            '<meta property="og:title" content="Fix the flaky test &amp; speed up CI">'
            f'<meta property="og:description" content="{DESCRIPTION}">'
            '<meta property="og:site_name" content="Forge">'
            '<meta property="og:image" content="/pr/12/card.png">'
            "</head><body>the pull request</body></html>").encode()),
        "/pr/12/card.png": ("image/png", picture()),
    }

    def do_GET(self) -> None:
        kind, body = self.files.get(self.path, ("text/plain", b"not here"))
        self.send_response(200 if self.path in self.files else 404)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class PreviewsDaemon(Daemon):
    """A daemon that may fetch pages from 127.0.0.1 (the test's site)."""

    def _spawn(self, extra: dict[str, str]) -> subprocess.Popen[bytes]:
        return super()._spawn({**extra, "CHATD_PREVIEWS_ENABLED": "true",
                               "CHATD_PREVIEWS_ALLOW_PRIVATE_ADDRESSES": "true"})


@pytest.fixture
def previews_daemon(tmp_path: Path, database_dsn: str) -> Iterator[Daemon]:
    yield from _running(PreviewsDaemon(tmp_path, database_dsn))


def test_a_link_gets_its_card_and_its_author_removes_it(
    previews_daemon: Daemon, site: str, browser: Browser, sessions: list[Session],
    artifacts: Path,
) -> None:
    """Bob posts a link; both pages draw its card under the message, the thumbnail loaded
    from chatd; the title opens the page in a new tab, without opener or referrer; the
    description is clamped to two lines; a reload reads it from history; Bob removes the
    preview from his message's menu and it leaves both pages."""
    ann = open_session(sessions, browser, DESKTOP)
    bob = open_session(sessions, browser, DESKTOP)
    register(ann.page, previews_daemon.url, "ann")
    register(bob.page, previews_daemon.url, "Bob")
    a, b = ann.page, bob.page
    create_room(a, "general")
    join_room(b, "general")
    url = f"{site}/pr/12"
    asked: list[str] = []
    for page in (a, b):
        page.on("request", lambda request: asked.append(request.url))
    send(b, f"Could someone review {url} today?")
    for page in (a, b):
        card = page.locator("#message-list li.msg[data-seq] .msg-preview")
        expect(card).to_have_count(1)
        title = card.locator("a.preview-title")
        expect(title).to_have_text("Fix the flaky test & speed up CI")
        expect(title).to_have_attribute("href", url)
        expect(title).to_have_attribute("target", "_blank")
        expect(title).to_have_attribute("rel", "noopener noreferrer")
        expect(card.locator(".preview-site")).to_have_text("Forge")
        expect(card.locator(".preview-description")).to_have_text(DESCRIPTION)
        assert card.locator(".preview-description").evaluate(
            "e => getComputedStyle(e).webkitLineClamp") == "2"
        line = card.locator(".preview-description").evaluate(
            "e => parseFloat(getComputedStyle(e).lineHeight)")
        height = card.locator(".preview-description").evaluate(
            "e => e.getBoundingClientRect().height")
        assert height <= 2 * line + 1, (height, line)  # clamped: the text is longer
        thumb = card.locator(".preview-image img")
        expect(thumb).to_have_attribute("src", SIGNED_THUMBNAIL)
        wait_loaded(page, ".msg-preview .preview-image img")
        expect(card.locator(".preview-image")).not_to_have_class(re.compile(r"\bloading\b"))
    # The site was asked by chatd only: neither page loaded anything from it.
    assert [r for r in asked if r.startswith(site)] == []
    assert any("/api/thumbnails/" in r for r in asked)
    shot(a, artifacts, "previews-card")
    assert axe_serious(a) == []

    # Read again from history (a reload): the same card.
    a.reload()
    expect(a.locator("#me-status")).to_have_attribute("data-phase", "online")
    expect(a.locator(".msg-preview a.preview-title")).to_have_text(
        "Fix the flaky test & speed up CI")
    expect(a.locator(".msg-preview .preview-image img")).to_have_attribute(
        "src", SIGNED_THUMBNAIL)

    message = b.locator("#message-list li.msg[data-seq]").filter(has=b.locator(".msg-preview"))
    menu_action(b, message, "Remove preview")
    for page in (a, b):
        expect(page.locator(".msg-preview")).to_have_count(0)
        expect(page.locator("#message-list li.msg[data-seq] .msg-text a")).to_have_attribute(
            "href", url)

