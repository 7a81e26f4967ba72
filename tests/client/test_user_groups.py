"""The terminal client's user groups: /groups, /group, /mkgroup, /groupadd, /groupremove,
/groupdesc and /rmgroup against a real daemon (the client a real process on a pty, the other
party the tests' protocol client); a ``user_group`` event is a line; ``@backend`` is shown as
a mention of the user when they are in the group, and rings the bell as one.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import trio

from chatd.client.render import message_spans
from chatd.client.terminal import ansi
from chatd.config import Config
from chatd.protocol import UserGroupChanged
from tests.client.test_changes import ann_joins_bob
from tests.client.test_render import message
from tests.client.test_room_settings import _session
from tests.client.test_terminal import config, party  # noqa: F401
from tests.e2e.conftest import running


def test_a_user_group_is_shown_as_a_mention_of_its_members() -> None:
    """``@backend`` in reverse (a mention of the user) when the user is in it and someone
    else sent it; bold when the user is not in it, or sent it; a word that is no group of
    the message's ``user_groups`` stays plain."""
    def line(text: str, groups: set[str], **fields: object) -> str:
        return ansi(message_spans(message(text, user_groups=("backend",), **fields),
                                  number=3, label="general", me="bob", groups=groups),
                    styled=True)

    assert "\x1b[1;7m@Backend\x1b[0m, deploy" in line("@Backend, deploy", {"backend"})
    assert "\x1b[1m@backend\x1b[0m." in line("@backend.", set())
    assert "\x1b[1m@backend\x1b[0m" in line("@backend", {"backend"}, sender="bob")
    assert line("@frontend", {"backend"}).endswith("@frontend")


async def test_the_bell_rings_for_a_group_the_user_is_in() -> None:
    """With --bell, at ``mentions``: ``@backend`` by someone else rings once the user is in
    backend (a ``user_group`` event adding them, in any case), not before, not after a
    change removes them, not for their own message."""
    s = _session()
    s.client.options = dataclasses.replace(s.client.options, bell=True)
    group = {"name": "backend", "description": "", "members": 1, "by": "bob", "ts": 1}
    mention = message("@backend go", sender="bob", user_groups=("backend",))
    assert not s.client.rings_for(mention)
    await s.event(UserGroupChanged(change="created", group=group, added=("ANN",), removed=(),
                                   by="bob", ts=2))
    assert s.client.rings_for(mention)
    assert not s.client.rings_for(dataclasses.replace(mention, sender="ann"))
    assert not s.client.rings_for(message("go", sender="bob"))
    await s.event(UserGroupChanged(change="changed", group=group, added=(), removed=("ann",),
                                   by="bob", ts=3))
    assert not s.client.rings_for(mention)
    assert s.lines()[-2:] == ["-- bob created the user group @backend (you are in it)",
                              "-- bob changed the user group @backend (-ann)"]


async def test_user_groups_from_the_terminal(tmp_path: Path, config: Config) -> None:  # noqa: F811
    """ann makes backend with herself and bob (both hear of it), /groups and /group list it,
    /groupadd and /groupremove change it, /groupdesc describes it; bob's ``@backend`` is
    shown as a mention of ann (she is in it); a bad name and a taken one are problems;
    /rmgroup deletes it."""
    async with running(config) as server, trio.open_nursery() as nursery:
        cid = await party(nursery, server, "cid", "attic")
        async with ann_joins_bob(tmp_path, server, nursery) as (term, bob):
            await term.type("/groups")
            await term.expect(r"-- no user groups yet")
            await term.type("/mkgroup backend ann bob")
            await term.expect(r"-- ann created the user group @backend \(you are in it\)")
            event = await bob.event("user_group", change="created")
            assert event["added"] == ["ann", "bob"]
            await term.type("/groups")
            await term.expect(r"-- 1 user group\(s\):")
            await term.expect(r"@backend: 2 member\(s\) \(you\)")
            await term.type("/groupadd backend cid")
            await term.expect(r"-- ann changed the user group @backend \(\+cid\)")
            await term.type("/groupremove @backend bob")
            await term.expect(r"-- ann changed the user group @backend \(-bob\)")
            await term.type("/groupdesc backend Server people")
            await term.expect(r"-- ann changed the user group @backend \(its description\)")
            await term.type("/group backend")
            await term.expect(r"-- @backend — Server people: ann, cid")
            await term.type("/mkgroup no!way")
            await term.expect(r"!! /mkgroup: .*user group's name")
            await term.type("/mkgroup bob")
            await term.expect(r"!! /mkgroup: .*taken")

            await bob.request("send", room="general", text="@backend deploy?", nonce="b1")
            await term.expect(r"bob: @backend deploy\?")
            assert "\x1b[1;7m@backend\x1b[0m deploy?" in term.term.text  # a mention of ann
            await term.type("/rmgroup backend")
            await term.expect(r"-- ann deleted the user group @backend")
            assert (await cid.event("user_group", change="deleted"))["removed"] == [
                "ann", "cid"]
        for client in (bob, cid):
            await client.aclose()
        nursery.cancel_scope.cancel()
