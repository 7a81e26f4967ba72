"""Profile pictures in the page, in a real Chromium against the real daemon: ann uploads a
picture in the "Profile and status" dialog; it shows in her dialog's preview and her header,
and on Bob's page at once (the `profile` event) on her message and in the member list,
instead of her coloured initial; a file that is no image is refused in the dialog; "Remove
picture" brings the initial back on Bob's page; a picture that fails to load falls back to
the initial.

Every wait is for a state (playwright's expect).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, expect

from tests.browser.conftest import (
    DESKTOP,
    Daemon,
    LineClient,
    needs_chromium,
    register_and_login,
    wait_loaded,
)
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_profiles import ann_said_hello_to_bob, message_by, open_profile_dialog
from tests.browser.test_web import Session, log_in, open_session, shot
from tests.images import encode, picture

pytestmark = [pytest.mark.slow, needs_chromium]


def test_a_picture_uploaded_in_the_dialog_shows_on_another_page_live(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path,
    tmp_path: Path,
) -> None:
    """ann uploads a picture; Bob's page shows it on her message and in the member list,
    loaded, where her initial was; ann's header shows it; a text file is refused with the
    server's words; Remove picture brings Bob's initial back; a picture url that fails to
    load shows the initial."""
    face = tmp_path / "face.png"
    face.write_bytes(encode(picture(300, 200, "RGB"), "PNG"))
    notes = tmp_path / "notes.png"  # declared an image, but not one: the server decides
    notes.write_bytes(b"not a picture at all")
    ann, bob, said = ann_said_hello_to_bob(daemon, browser, sessions)
    # carol's page cannot load pictures (each is a 404 to it): it shows the initial.
    carol_token = register_and_login(daemon.url, "carol")
    LineClient(daemon.tcp_port, carol_token).request("join", room="general")
    carol = open_session(sessions, browser, DESKTOP)
    carol.page.route("**/api/avatars/**", lambda route: route.fulfill(status=404))
    log_in(carol.page, daemon.url, "carol")
    expect(carol.page.locator("#conv-title")).to_have_text("# general")
    carol_said = message_by(carol.page, "hello from ann")
    expect(said.locator(".avatar")).to_have_text("A")
    expect(said.locator(".avatar img")).to_have_count(0)

    page = ann.page
    dialog = open_profile_dialog(page, "ann")
    expect(dialog.get_by_role("button", name="Remove picture")).to_be_hidden()
    dialog.locator("#profile-picture-file").set_input_files(str(notes))
    expect(dialog.locator("#profile-picture-said")).to_contain_text(
        "not a PNG, JPEG, GIF or WebP image")
    expect(dialog.locator(".profile-picture img:not([hidden])")).to_have_count(0)
    with page.expect_file_chooser() as chooser:
        dialog.get_by_role("button", name="Upload a picture").click()
    chooser.value.set_files(str(face))
    expect(dialog.locator("#profile-picture-said")).to_have_text("Your picture is changed.")
    preview = dialog.locator(".profile-picture img")
    expect(preview).to_have_attribute("src", re.compile(r"^/api/avatars/[0-9a-f]{64}$"))
    wait_loaded(page, ".profile-picture img")
    expect(dialog.get_by_role("button", name="Remove picture")).to_be_visible()
    assert axe_serious(page) == []
    shot(page, artifacts, "desktop-avatar-dialog")
    url = preview.get_attribute("src")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.locator("#me-avatar img")).to_have_attribute("src", url or "")

    # Bob's page: her picture, live, on her message and in the member list.
    on_message = said.locator(".avatar img")
    expect(on_message).to_have_attribute("src", url or "")
    wait_loaded(bob.page, "#message-list li.msg[data-seq] .avatar img")
    member = bob.page.locator("#member-list li.member[data-user='ann'] .avatar img")
    expect(member).to_have_attribute("src", url or "")
    shot(bob.page, artifacts, "desktop-avatar-on-another-page")
    failed = carol_said.locator(".avatar img")
    expect(failed).to_have_attribute("src", url or "")
    expect(failed).to_have_attribute("hidden", "")
    expect(carol_said.locator(".avatar")).not_to_have_class("has-picture")
    expect(carol_said.locator(".avatar")).to_have_text("A")

    # Removed: the initial again on Bob's page.
    dialog = open_profile_dialog(page, "ann")
    dialog.get_by_role("button", name="Remove picture").click()
    expect(dialog.locator("#profile-picture-said")).to_have_text("Your picture is removed.")
    dialog.get_by_role("button", name="Cancel").click()
    expect(said.locator(".avatar img")).to_have_count(0)
    expect(member).to_have_count(0)
    expect(said.locator(".avatar")).to_have_text("A")



def test_a_conversation_in_the_sidebar_shows_the_other_persons_picture(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path
) -> None:
    """ann has a picture, carol none; both talk to Bob. Bob's sidebar shows ann's conversation
    with her picture, loaded, and her presence dot on it; carol's with her initial and her
    dot; ann leaving turns her dot offline, and her picture removed brings her initial."""
    ann_token = register_and_login(daemon.url, "ann")
    put = requests.put(daemon.url + "/api/me/avatar", timeout=30,
                       headers={"Authorization": f"Bearer {ann_token}"},
                       files={"file": ("ann.png", encode(picture(64, 64, "RGB"), "PNG"),
                                       "image/png")})
    assert put.status_code == 200, put.text
    url = put.json()["avatar"]["url"]
    bob_token = register_and_login(daemon.url, "bob")
    carol_token = register_and_login(daemon.url, "carol")
    bob_line = LineClient(daemon.tcp_port, bob_token)
    bob_line.request("add_contact", user="ann")
    bob_line.request("add_contact", user="carol")
    bob_line.close()
    ann_line = LineClient(daemon.tcp_port, ann_token)
    ann_line.request("dm", to="bob", text="hi from ann", nonce="a1")
    carol_line = LineClient(daemon.tcp_port, carol_token)
    carol_line.request("dm", to="bob", text="hi from carol", nonce="c1")
    carol_line.close()
    bob = open_session(sessions, browser, DESKTOP)
    page = bob.page
    log_in(page, daemon.url, "bob")
    ann_item = page.locator('#dm-list li[data-room="@ann:bob"] .side-item')
    carol_item = page.locator('#dm-list li[data-room="@bob:carol"] .side-item')
    expect(ann_item.locator(".avatar img")).to_have_attribute("src", url)
    wait_loaded(page, '#dm-list li[data-room="@ann:bob"] .avatar img')
    expect(ann_item.locator(".avatar")).to_have_class(re.compile(r"\bhas-picture\b"))
    expect(ann_item.locator(".avatar .dot")).to_have_class(re.compile(r"\bonline\b"))
    expect(carol_item.locator(".avatar")).to_have_text("C")
    expect(carol_item.locator(".avatar img")).to_have_count(0)
    expect(carol_item.locator(".avatar .dot")).to_have_class(re.compile(r"\boffline\b"))
    expect(ann_item).to_have_attribute("aria-label", re.compile(r"^Conversation with ann, online"))
    assert axe_serious(page) == []
    shot(page, artifacts, "desktop-sidebar-avatars")

    # ann leaves: her dot goes offline on her picture; her picture removed: her initial.
    ann_line.close()
    expect(ann_item.locator(".avatar .dot")).to_have_class(re.compile(r"\boffline\b"))
    removed = requests.delete(daemon.url + "/api/me/avatar", timeout=30,
                              headers={"Authorization": f"Bearer {ann_token}"})
    assert removed.status_code == 200, removed.text
    expect(ann_item.locator(".avatar img")).to_have_count(0)
    expect(ann_item.locator(".avatar")).to_have_text("A")
    assert bob.errors == []
