"""Custom emoji: a team's own ``:name:`` pictures, server-wide, as in Slack, Mattermost and
Zulip.

Theory of operation. A custom emoji is a name (:data:`chatd.protocol.markup.CUSTOM_EMOJI_NAME`)
and a picture the server made (chatd.http.emoji: a WebP that fits 128x128, kept in the file
store and served by its SHA-256 as profile pictures are), one table of rows (migration
0031). Every user sees every one: the list is one statement (``custom_emoji`` on the socket,
``GET /api/emoji``), and clients keep it, updated by ``custom_emoji`` events.

An emoji is added and removed over HTTP (a picture is a file's bytes); each change is told
to every connection of every user, on every node (:func:`announce`): here through the
registry (:class:`chatd.rooms.ToEveryone`), elsewhere through one notice of the user
events' channel addressed to :data:`chatd.storage.EVERYONE`. Changes are rare (a team adds
a few a week) and rate-limited with uploads, so a server-wide notice costs nothing that
matters. Best effort past the commit, as a read marker's is: a client that misses it (the
notice lost with the listening connection) has the right list at its next ``custom_emoji``.

The server reads no message's text for ``:name:``: the send path does nothing new, and
clients render the names they know. A reaction may be a custom emoji's ``:name:``
(:func:`check_reaction`, one index probe for those reactions only, and only to put one); a
reaction stays when its emoji is removed later, shown as its ``:name:`` text.
"""

from __future__ import annotations

from chatd.actions.context import App, Caller
from chatd.errors import ChatError
from chatd.protocol import Answer, CustomEmojiList, codes, frame
from chatd.protocol.markup import custom_emoji_name
from chatd.storage import EVERYONE, CustomEmoji, User
from chatd.views import custom_emoji_event, custom_emoji_object

__all__ = ["add", "announce", "check_name", "check_reaction", "listed", "may_add", "remove"]



def check_name(name: str) -> str:
    """``name`` as a custom emoji's name (``:name:`` or bare).

    Raises:
        ChatError('bad_request'): not 1-32 of lower-case letters, digits, "_", "+", "-".
    """
    found = custom_emoji_name(name if name.startswith(":") else f":{name}:")
    if found is None:
        raise ChatError(codes.BAD_REQUEST, "a custom emoji's name is 1-32 of a-z, 0-9, "
                                           "'_', '+' and '-'")
    return found


def may_add(app: App, user: User) -> None:
    """Refuse ``user`` when ``[emoji] who_can_add`` is "admins" and they are not one.

    Raises:
        ChatError('forbidden')
    """
    if app.config.emoji.who_can_add == "admins" and not user.admin:
        raise ChatError(codes.FORBIDDEN, "only server administrators may add custom emoji here")


async def listed(app: App, caller: Caller, request: CustomEmojiList) -> Answer:
    """Every custom emoji: ``{emoji: [{name, url, by, ts}]}``, by name."""
    found = await app.storage.custom_emoji()
    return Answer(id=request.id, fields={"emoji": [custom_emoji_object(e) for e in found]})


async def add(app: App, user: User, name: str, picture: tuple[str, int]) -> CustomEmoji:
    """Add ``name`` (checked) with ``picture`` (SHA-256, size), placed in the file store
    already, by ``user`` (allowed: :func:`may_add`); tell everyone.

    Raises:
        ChatError('conflict'): the name is taken.
    """
    sha256, size = picture
    emoji = await app.storage.add_custom_emoji(name, user.id, sha256, size)
    await announce(app, frame(custom_emoji_event(emoji)))
    return emoji


async def remove(app: App, user: User, name: str, now: int) -> CustomEmoji:
    """Remove ``name``, by ``user`` (who added it, or an administrator) at ``now`` (ms);
    tell everyone.

    Raises:
        ChatError: 'not_found' (no such emoji), 'forbidden' (another user's).
    """
    emoji = await app.storage.remove_custom_emoji(name, user.id, admin=user.admin)
    await announce(app, frame(custom_emoji_event(emoji, removed=True, by=user.name, ts=now)))
    return emoji


async def announce(app: App, data: bytes) -> None:
    """Hand ``data`` to every connection here and on every other node."""
    await app.tell(EVERYONE, data, "a custom emoji")


async def check_reaction(app: App, emoji: str) -> None:
    """Refuse a reaction put with a custom emoji's ``:name:`` that is not one (a Unicode
    emoji, checked by the parser, passes at no cost).

    Raises:
        ChatError('bad_request')
    """
    name = custom_emoji_name(emoji)
    if name is not None and not await app.storage.custom_emoji_exists(name):
        raise ChatError(codes.BAD_REQUEST, f"there is no custom emoji {emoji}")
