"""Download my data in the page, in a real Chromium against the real daemon and PostgreSQL:
ann opens "Download my data…" from the menu under her name, which says she has no export
yet; "Start export" makes one, the dialog says when it is ready (asking the server again
while it is made) with its size, and its link downloads the zip, which holds bob's direct
message to her; a second start within the hour is refused in words, the ready one still
offered.

The rules of test_web.py hold: every wait is for a state, never for time. Screenshot in
tests/artifacts/: desktop-export.png (the dialog, ready); axe-core checks the dialog.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import (
    DESKTOP,
    Daemon,
    http_json,
    needs_chromium,
    register_and_login,
    wait_online,
)
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_web import Session, log_in, open_session, shot

pytestmark = [pytest.mark.slow, needs_chromium]

#: Milliseconds the dialog may take to say the export is ready (it is made in the background).
READY_WAIT = 30_000


def test_ann_downloads_her_data(daemon: Daemon, browser: Browser, sessions: list[Session],
                                artifacts: Path, tmp_path: Path) -> None:
    """No export yet; started, then ready with its size; the link downloads a zip with bob's
    message to her; a second start this hour is refused in words."""
    register_and_login(daemon.url, "ann")
    bob = register_and_login(daemon.url, "bob")
    status, body = http_json(daemon.url, "POST", "/api/dm",
                             {"to": "ann", "text": "the keys are under the mat", "nonce": "k1"},
                             token=bob)
    assert status == 200, body
    ann = open_session(sessions, browser, DESKTOP)
    log_in(ann.page, daemon.url, "ann")
    wait_online(ann.page)
    page = ann.page

    page.get_by_role("button", name="ann: profile and status").click()
    page.get_by_role("menuitem", name="Download my data…").click()
    dialog = page.get_by_role("dialog", name="Download my data")
    expect(dialog).to_be_visible()
    state = dialog.locator("#export-state")
    expect(state).to_contain_text("You have not exported your data yet.")
    download = dialog.get_by_role("link", name="Download zip")
    expect(download).to_be_hidden()

    dialog.get_by_role("button", name="Start export").click()
    expect(state).to_have_attribute("data-kind", "ready", timeout=READY_WAIT)
    expect(state).to_contain_text("Your export is ready (")
    expect(state).to_contain_text("1 message, 0 files")
    expect(download).to_be_visible()
    shot(page, artifacts, "desktop-export")
    assert axe_serious(page) == []

    with page.expect_download() as started:
        download.click()
    saved = tmp_path / "export.zip"
    started.value.save_as(saved)
    assert started.value.suggested_filename.startswith("chatd-ann-")
    with zipfile.ZipFile(saved) as zf:
        messages = json.loads(zf.read("messages.json"))
    assert [(m["from"], m["text"]) for m in messages] == [("bob", "the keys are under the mat")]

    dialog.get_by_role("button", name="Start a new export").click()
    expect(dialog.locator("#export-said")).to_contain_text(
        "You have started as many exports as you may this hour.")
    expect(state).to_have_attribute("data-kind", "ready")
    expect(download).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
