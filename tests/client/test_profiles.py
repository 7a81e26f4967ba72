"""The terminal client's profiles: /nick, /status, /whois, the display names and statuses of
/who and /contacts, and the line a ``profile`` event prints. In memory on a fake link (as
tests/client/test_commands.py), then a real client process on a pty against a real daemon,
the user's other device and a room mate being the tests' protocol client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio
import trio.testing

from chatd.client.terminal import presences
from chatd.config import Config
from chatd.protocol import (
    NO_STATUS,
    Answer,
    NewStatus,
    ProfileChanged,
    Profiles,
    Request,
    SetProfile,
    Who,
)
from tests.client.test_changes import Plain, ann_joins_bob
from tests.client.test_commands import Session
from tests.client.test_terminal import client_on_pty, config, log_in, party  # noqa: F401
from tests.client.wire import Client, register_and_login
from tests.e2e.conftest import running
from tests.helpers import now_ms
from tests.images import encode, picture

HOUR = 3_600_000
TIME = r"\d\d:\d\d"


async def _ask(s: Session, line: str, fields: dict[str, Any]) -> Request:
    """Type ``line``; the request it sent, answered ``ok`` with ``fields``."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(s.line, line)
        await trio.testing.wait_all_tasks_blocked()
        request = s.last()
        await s.event(Answer(id=request.id, fields=fields))
    return request


def _profile(display_name: str | None = None, status: dict[str, Any] | None = None,
             user: str = "ann") -> dict[str, Any]:
    return {"user": user, "display_name": display_name, "custom_status": status}


async def test_nick_sets_clears_and_shows() -> None:
    """/nick NAME asks for the display name, /nick --clear for none; the reply is said once
    whether its event comes before or after; /nick alone says the name."""
    s = Session()
    await s.line("/nick")
    assert s.lines()[-1] == "-- you have no display name; /nick NAME sets one"
    request = await _ask(s, "/nick Ann Lee", _profile("Ann Lee"))
    assert request == SetProfile(id=1, display_name="Ann Lee")
    assert s.lines()[-1] == '-- you are now "Ann Lee", no status'
    await s.event(ProfileChanged(user="ann", display_name="Ann Lee", custom_status=None))
    assert len([line for line in s.lines() if "you are now" in line]) == 1
    await s.line("/nick")
    assert s.lines()[-1] == '-- your display name is "Ann Lee"; /nick --clear removes it'
    await s.event(ProfileChanged(user="ann", display_name=None, custom_status=None))
    assert s.lines()[-1] == "-- you are now no display name, no status"
    request = await _ask(s, "/nick --clear", _profile())
    assert request.wire() == {"op": "set_profile", "id": 2, "display_name": None}
    assert len([line for line in s.lines() if "you are now" in line]) == 2


async def test_status_with_an_emoji_a_time_and_clear() -> None:
    """/status EMOJI TEXT --for 1h asks for a status of an hour, the emoji as typed or as a
    :shortcode:, text alone or an emoji alone too; --clear asks for none; mistakes send
    nothing."""
    s = Session()
    until = now_ms() + HOUR
    status = {"emoji": "📅", "text": "In a meeting", "until": until}
    request = await _ask(s, "/status 📅 In a meeting --for 1h", _profile(None, status))
    assert request == SetProfile(id=1, custom_status=NewStatus(
        emoji="📅", text="In a meeting", duration=3600))
    assert s.lines()[-1].startswith("-- you are now no display name, status 📅 In a meeting "
                                    "(until ")
    await s.line("/status")
    assert s.lines()[-1].startswith("-- your status: 📅 In a meeting (until ")
    request = await _ask(s, "/status 🌴", _profile(None, {"emoji": "🌴", "text": "",
                                                          "until": None}))
    assert request == SetProfile(id=2, custom_status=NewStatus(emoji="🌴"))
    request = await _ask(s, "/status back at 3", _profile(None, {"emoji": "", "text":
                                                               "back at 3", "until": None}))
    assert request == SetProfile(id=3, custom_status=NewStatus(text="back at 3"))
    request = await _ask(s, "/status --clear", _profile())
    assert request == SetProfile(id=4, custom_status=NO_STATUS)
    assert request.wire() == {"op": "set_profile", "id": 4, "custom_status": None}
    assert s.lines()[-1] == "-- you are now no display name, no status"
    sent = len(s.link.sent)
    for line in ("/status busy --for", "/status busy --for soon", "/status --for 1h",
                 "/status busy --for 31d"):
        await s.line(line)
    assert len(s.link.sent) == sent
    assert s.lines()[-1] == "!! /status --for: from 1s to 30d"


async def test_a_status_past_its_time_is_not_shown() -> None:
    """A status whose until has passed by the server's clock (as the client reckons it)
    reads as none: in /status, in the line of a profile event and in /who."""
    s = Session()
    ended = {"emoji": "📅", "text": "In a meeting", "until": now_ms() - 1000}
    await s.event(ProfileChanged(user="bob", display_name="Bob", custom_status=ended))
    assert s.lines()[-1] == '-- bob is now "Bob", no status'
    s.client.clock_offset = -2 * HOUR  # the server's clock is two hours behind ours
    await s.event(ProfileChanged(user="bob", display_name="Bob B.", custom_status=ended))
    assert s.lines()[-1].startswith('-- bob is now "Bob B.", status 📅 In a meeting (until ')
    member = {"user": "bob", "status": "online", "custom_status": ended}
    assert presences([member], now_ms()) == "bob (online)"
    assert presences([member], now_ms() - 2 * HOUR) == "bob (online) [📅 In a meeting]"


async def test_who_contacts_and_whois_show_profiles() -> None:
    """/who and /contacts show display names and statuses of those who have them (others
    as before); /whois asks for one profile and says it, or that there is nobody; a profile
    event of someone listed who changed nothing prints nothing, a change one line."""
    s = Session()
    status = {"emoji": "🌴", "text": "On holiday", "until": None}
    request = await _ask(s, "/who", {"room": "general", "members": [
        {"user": "ann", "status": "online", "role": "owner"},
        {"user": "bob", "status": "offline", "role": "member", "display_name": "Bob Bell",
         "custom_status": status}], "count": 2, "online": 1, "more": False})
    assert request == Who(id=1, room="general")
    assert s.lines()[-1] == '-- in [general]: ann (online), bob "Bob Bell" (offline) ' \
                            '[🌴 On holiday]'
    shown = len(s.lines())
    await s.event(ProfileChanged(user="bob", display_name="Bob Bell", custom_status=status))
    assert len(s.lines()) == shown
    await s.event(ProfileChanged(user="Bob", display_name="Bob Bell", custom_status=None))
    assert s.lines()[-1] == '-- Bob is now "Bob Bell", no status'
    picture = {"url": "/api/avatars/" + "ab" * 32}
    await s.event(ProfileChanged(user="Bob", display_name="Bob Bell", custom_status=None,
                                 avatar=picture))
    assert s.lines()[-1] == "-- Bob has a new picture"
    shown = len(s.lines())
    await s.event(ProfileChanged(user="bob", display_name="Bob Bell", custom_status=None,
                                 avatar=picture))
    assert len(s.lines()) == shown
    await s.event(ProfileChanged(user="bob", display_name="Bob Bell", custom_status=None))
    assert s.lines()[-1] == "-- bob removed their picture"
    await _ask(s, "/contacts", {"contacts": [
        {"user": "cy", "status": "online", "display_name": "Cy \x1b[2J"}], "more": False})
    assert s.lines()[-1] == '-- contacts: cy "Cy \ufffd[2J" (online)'
    request = await _ask(s, "/whois @Bob", {"profiles": [
        {"user": "Bob", "display_name": "Bob Bell", "custom_status": status,
         "deactivated": True}]})
    assert request == Profiles(id=3, users=("Bob",))
    assert s.lines()[-1] == '-- Bob is "Bob Bell", status 🌴 On holiday (deactivated); ' \
                            'has no picture'
    await _ask(s, "/whois nobody", {"profiles": []})
    assert s.lines()[-1] == "!! /whois: there is no user 'nobody'"


async def test_profiles_from_the_terminal(tmp_path: Path, config: Config) -> None:  # noqa: F811
    """Against a real daemon: ann's name and status set on her phone before she starts are
    kept (/nick shows the name, the status is said at the start); /status with --for is
    set, told to bob (her room mate) and shown in /who; /whois bob says his; bob's change
    is one line in ann's terminal; /status --clear clears it for bob too."""
    async with running(config) as server, trio.open_nursery() as nursery:
        bob = await party(nursery, server, "bob", "general")
        await bob.request("set_profile", display_name="Bob Bell")
        phone = await Client.ws(server.http_port, nursery)
        await phone.hello(await register_and_login(server.http_port, "ann"))
        await phone.request("join", room="general")
        await phone.request("set_profile", display_name="Ann Lee",
                            custom_status={"text": "back soon"})
        assert await bob.event("profile", user="ann", display_name="Ann Lee")
        async with client_on_pty(tmp_path, server.http_port, "ann") as pty:
            await log_in(pty)
            term = Plain(pty)
            await term.expect(r"-- your status: back soon \(/status --clear clears it\)")
            await term.type("/nick")
            await term.expect(r'-- your display name is "Ann Lee"; /nick --clear removes it')
            await term.type("/status :palm_tree: On holiday --for 1d")
            await term.expect(rf'-- you are now "Ann Lee", status 🌴 On holiday \(until '
                              rf"tomorrow {TIME}\)")
            event = await bob.event("profile", user="ann")
            assert event["custom_status"]["text"] == "On holiday"
            await term.type("/who general")
            await term.expect(r'-- in \[general\]: ann "Ann Lee" \(online\) \[🌴 On holiday\], '
                              r'bob "Bob Bell" \(online\)')
            await term.type("/whois bob")
            await term.expect(r'-- bob is "Bob Bell", no status; has no picture')
            await bob.request("set_profile", custom_status={"emoji": "📅",
                                                            "text": "In a meeting"})
            await term.expect(r'-- bob is now "Bob Bell", status 📅 In a meeting\n')
            await term.type("/status --clear")
            await term.expect(r'-- you are now "Ann Lee", no status')
            assert await bob.event("profile", user="ann", custom_status=None)
        await phone.aclose()
        await bob.aclose()
        nursery.cancel_scope.cancel()


async def test_a_picture_from_the_terminal(tmp_path: Path, config: Config) -> None:  # noqa: F811
    """Against a real daemon: /avatar PATH sets ann's picture (told to bob, her room mate,
    whose /whois of her says she has one); a file that is no image is refused, said as a
    problem; /avatar --clear removes it, told to bob too."""
    image = tmp_path / "my face.png"
    image.write_bytes(encode(picture(120, 80), "PNG"))
    (tmp_path / "notes.txt").write_text("not a picture")
    async with running(config) as server, trio.open_nursery() as nursery:
        async with ann_joins_bob(tmp_path, server, nursery) as (term, bob):
            await term.type(f'/avatar "{image}"')
            await term.expect(r"-- your picture is set")
            event = await bob.event("profile", user="ann")
            assert event["avatar"]["url"].startswith("/api/avatars/")
            await term.type("/whois ann")
            await term.expect(r"-- ann is .*; has a picture")
            await term.type("/whois bob")
            await term.expect(r"-- bob is .*; has no picture")
            await term.type(f"/avatar {tmp_path / 'notes.txt'}")
            await term.expect(r"!! /avatar: .*not a PNG, JPEG, GIF or WebP image")
            await term.type("/avatar --clear")
            await term.expect(r"-- your picture is removed")
            assert await bob.event("profile", user="ann", avatar=None)
        found = await bob.request("profiles", users=["ann"])
        assert found["profiles"][0]["avatar"] is None
        await bob.aclose()
        nursery.cancel_scope.cancel()
