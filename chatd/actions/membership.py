"""Telling the room registry about a membership storage has just added, without ever leaving
a non-member subscribed.

Removals change storage first and queue their ``Leave`` after; that order alone is right. An
addition (``join``, ``create_room``, ``invite``, ``hello``, another node's notice) reads the
registry's epoch *before* its storage call and passes it as the ``Join``'s ``since``: a
removal that storage ordered after the addition queues its ``Leave`` after that read, so the
registry either applies it after the ``Join`` (it unsubscribes) or drops the ``Join`` (a
``Leave`` overtook it). A ``Leave`` may be stale the other way (a removal stored before an
addition whose ``Join`` was applied first): once it is applied, storage is asked again.
The argument in full is in :mod:`chatd.rooms` ("Membership").
"""

from __future__ import annotations

import functools

from chatd.actions.context import App

__all__ = ["subscribe", "unsubscribe"]


async def subscribe(app: App, user: str, room: str, since: int,
                    announce: bytes | None = None) -> bool:
    """Subscribe ``user``'s connections on this node to ``room``, which storage said (after
    the registry's epoch ``since``) they are a member of; ``announce`` goes to the room when
    they are. False: they are no longer a member (nothing subscribed, nothing announced)."""

    return await app.registry.subscribe(user, room, since, announce,
                                        functools.partial(app.storage.is_member, room, user))


async def unsubscribe(app: App, user: str, room: str, announce: bytes | None = None) -> None:
    """Unsubscribe ``user``'s connections on this node from ``room``, which storage has just
    removed them from; ``announce`` goes to the room, them included. Returns once applied:
    nothing the room gets after that reaches them (unless they are a member again)."""
    await app.registry.unsubscribe(user, room, announce,
                                   functools.partial(app.storage.is_member, room, user))
