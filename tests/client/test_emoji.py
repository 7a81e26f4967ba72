"""The terminal client's custom emoji: /emoji lists them, /emoji add NAME PATH and /emoji
remove NAME change them, a ``custom_emoji`` event is a line, and /react takes a custom
emoji's :name:. Against a real daemon, the client a real process on a pty, the other party
the tests' protocol client.
"""

from __future__ import annotations

from pathlib import Path

import trio

from chatd.client.commands import reaction_emoji
from chatd.config import Config
from tests.client.test_changes import ann_joins_bob
from tests.client.test_terminal import client_on_pty, config, log_in, party  # noqa: F401
from tests.e2e.conftest import running
from tests.images import encode, picture


def test_a_reaction_may_be_a_custom_emoji() -> None:
    """:name: of a custom emoji known here wins over a shortcode of the same name; a name
    that is no shortcode is taken for a custom emoji (the server checks it); a name not of
    [a-z0-9_+-] is nothing."""
    assert reaction_emoji(":tada:") == "🎉"
    assert reaction_emoji(":tada:", {"tada"}) == ":tada:"
    assert reaction_emoji(":partyparrot:") == ":partyparrot:"
    assert reaction_emoji(":a+b-c_1:") == ":a+b-c_1:"
    assert reaction_emoji(":Parrot:") is None
    assert reaction_emoji(":two words:") is None
    assert reaction_emoji(":" + "x" * 33 + ":") is None


async def test_custom_emoji_from_the_terminal(tmp_path: Path, config: Config) -> None:  # noqa: F811
    """ann adds :logo: with /emoji add (bob hears the event, ann's terminal says it), /emoji
    lists it, /react with :logo: puts it on bob's message; a file that is no image and a
    name in use are problems; /emoji remove takes it away (a line says it), and /emoji then
    lists none."""
    image = tmp_path / "our logo.png"
    image.write_bytes(encode(picture(90, 60), "PNG"))
    (tmp_path / "notes.txt").write_text("not a picture")
    async with running(config) as server, trio.open_nursery() as nursery:
        async with ann_joins_bob(tmp_path, server, nursery) as (term, bob):
            await term.type("/emoji")
            await term.expect(r"-- no custom emoji yet")
            await term.type(f'/emoji add logo "{image}"')
            await term.expect(r"-- ann added the custom emoji :logo:")
            event = await bob.event("custom_emoji", name="logo")
            assert event["url"].startswith("/api/emoji/images/") and event["by"] == "ann"
            await term.type(f'/emoji add logo "{image}"')
            await term.expect(r"!! /emoji add: .*already")
            await term.type(f"/emoji add notes {tmp_path / 'notes.txt'}")
            await term.expect(r"!! /emoji add: .*not a PNG, JPEG, GIF or WebP image")
            await term.type("/emoji")
            await term.expect(r"-- 1 custom emoji:")
            await term.expect(r":logo: added by ann")

            sent = await bob.request("send", room="general", text="new logo?", nonce="b1")
            await term.expect(r"new logo\?")
            await term.type("/react 1 :logo:")
            assert await bob.event("reaction", msg_id=sent["msg_id"], emoji=":logo:",
                                   user="ann", on=True)
            await term.type("/react 1 :nope:")
            await term.expect(r"!! /react \[1\] :nope:: .*no custom emoji")

            await term.type("/emoji remove logo")
            await term.expect(r"-- ann removed the custom emoji :logo:")
            assert await bob.event("custom_emoji", name="logo", url=None)
            await term.type("/emoji")
            await term.expect(r"-- no custom emoji yet")
        await bob.aclose()
        nursery.cancel_scope.cancel()
