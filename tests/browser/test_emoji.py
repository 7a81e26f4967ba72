"""Custom emoji in the page, in a real Chromium against the real daemon: ann adds :chatd: in
the "Custom emoji" dialog (from the menu under her name); Bob's page, live, shows it as a
picture in a message that said ":chatd:" before it existed, offers it in the reaction
picker's "Custom" section and completes ":cha" in the message box; Bob reacts with it and
ann's page shows the picture on the reaction; ann removes it and both pages show ":chatd:"
as text again, the reaction kept.

Every wait is for a state (playwright's expect).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import Daemon, needs_chromium, wait_loaded
from tests.browser.test_page_defects import axe_serious
from tests.browser.test_profiles import ann_said_hello_to_bob, message_by, open_from_my_menu
from tests.browser.test_web import Session, send, shot
from tests.images import encode

pytestmark = [pytest.mark.slow, needs_chromium]

EMOJI_URL = re.compile(r"^/api/emoji/images/[0-9a-f]{64}$")


def logo() -> bytes:
    """A PNG of a chat bubble on a rounded square, with transparent corners."""
    image = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((4, 4, 156, 156), radius=36, fill=(79, 70, 229, 255))
    draw.ellipse((32, 40, 128, 108), fill=(255, 255, 255, 255))
    draw.polygon([(50, 96), (42, 128), (80, 104)], fill=(255, 255, 255, 255))
    return encode(image, "PNG")


def open_emoji_dialog(page: Page, shown: str) -> Locator:
    """"Custom emoji…" from the menu under the person's name: the dialog, open."""
    return open_from_my_menu(page, shown, "Custom emoji…")


def test_a_custom_emoji_added_in_the_dialog_shows_live_on_another_page(
    daemon: Daemon, browser: Browser, sessions: list[Session], artifacts: Path,
    tmp_path: Path,
) -> None:
    """ann adds :chatd:; Bob's page shows it in a message live, completes and sends it, and
    reacts with it from the picker's Custom section; ann sees the reaction's picture; a
    name in use is refused in the dialog; removed, both pages show :chatd: as text."""
    path = tmp_path / "chatd.png"
    path.write_bytes(logo())
    ann, bob, _ = ann_said_hello_to_bob(daemon, browser, sessions)
    send(ann.page, "we ship :chatd: today")
    early = message_by(bob.page, "we ship")
    expect(early.locator(".msg-text")).to_have_text("we ship :chatd: today")
    expect(early.locator("img.custom-emoji")).to_have_count(0)

    page = ann.page
    dialog = open_emoji_dialog(page, "ann")
    expect(dialog.locator("#emoji-list")).to_contain_text("No custom emoji yet.")
    dialog.locator("#emoji-name").fill("chatd")
    dialog.locator("#emoji-file").set_input_files(str(path))
    dialog.get_by_role("button", name="Add").click()
    expect(dialog).to_be_hidden()

    # Bob's page: the message that said :chatd: shows the picture now, loaded.
    picture_in_text = early.locator(".msg-text img.custom-emoji")
    expect(picture_in_text).to_have_attribute("src", EMOJI_URL)
    expect(picture_in_text).to_have_attribute("alt", ":chatd:")
    expect(picture_in_text).to_have_attribute("title", ":chatd:")
    wait_loaded(bob.page, "#message-list .msg-text img.custom-emoji")

    # ":cha" in Bob's box offers it; Enter takes it; sent, it shows as a picture.
    box = bob.page.locator("#composer-text")
    box.fill("me too :cha")
    box.press("End")
    option = bob.page.get_by_role("listbox", name="Custom emoji").get_by_role(
        "option", name=":chatd:")
    expect(option).to_be_visible()
    box.press("Enter")
    expect(box).to_have_value("me too :chatd: ")
    box.press("Enter")
    mine = message_by(bob.page, "me too")
    expect(mine.locator("img.custom-emoji")).to_have_attribute("alt", ":chatd:")

    # Bob reacts to ann's message with it, from the picker's Custom section.
    early.hover()
    early.locator(".msg-actions").get_by_role("button", name="Add a reaction").click()
    picker = bob.page.get_by_role("dialog", name="Add a reaction")
    custom = picker.get_by_role("group", name="Custom")
    custom.get_by_role("button", name="React with :chatd:").click()
    bob_chip = early.locator(".reaction:not(.add)")
    expect(bob_chip.locator("img.custom-emoji")).to_have_attribute("alt", ":chatd:")
    ann_message = message_by(page, "we ship")
    ann_chip = ann_message.locator(".reaction:not(.add)")
    expect(ann_chip.locator("img.custom-emoji")).to_have_attribute("src", EMOJI_URL)
    expect(ann_chip).to_have_attribute("aria-label", re.compile(r"^:chatd: 1: bob"))
    expect(ann_message.locator(".msg-text img.custom-emoji")).to_have_count(1)
    assert axe_serious(bob.page) == []
    shot(bob.page, artifacts, "desktop-custom-emoji")  # docs/screenshots/README.md

    # The dialog lists it with Remove (hers); a name in use is refused there.
    dialog = open_emoji_dialog(page, "ann")
    row = dialog.locator("#emoji-list li").filter(has_text=":chatd:")
    expect(row).to_contain_text("added by ann")
    dialog.locator("#emoji-name").fill("chatd")
    dialog.locator("#emoji-file").set_input_files(str(path))
    dialog.get_by_role("button", name="Add").click()
    expect(page.locator("#dialog-error")).to_contain_text("already")
    row.get_by_role("button", name="Remove :chatd:").click()
    expect(dialog.locator("#emoji-said")).to_have_text(":chatd: is removed.")
    expect(dialog.locator("#emoji-list")).to_contain_text("No custom emoji yet.")
    dialog.get_by_role("button", name="Cancel").click()

    # Removed: text again on both pages, the reaction kept as its :name:.
    expect(early.locator("img.custom-emoji")).to_have_count(0)
    expect(early.locator(".msg-text")).to_have_text("we ship :chatd: today")
    expect(bob_chip).to_contain_text(":chatd:")
    expect(bob_chip).to_contain_text("1")
    expect(ann_chip.locator("img")).to_have_count(0)
    expect(ann_chip).to_contain_text(":chatd:")
