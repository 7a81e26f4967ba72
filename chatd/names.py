"""User and room names for the HTTP front: the protocol's rules, refused as ``bad_request``.

The rules themselves live in :mod:`chatd.protocol.names` (one definition for both edges);
this module only turns their refusal into a :class:`~chatd.errors.ChatError`.
"""

from __future__ import annotations

from chatd.errors import ChatError
from chatd.protocol import names

__all__ = ["normalise_new_room", "normalise_room", "normalise_user"]


def normalise_user(name: object) -> str:
    """``name`` unchanged if it is a valid user name (user names keep their case).

    Raises:
        ChatError: ``bad_request`` when it is not a string of 1-32 ``[A-Za-z0-9_.-]``.
    """
    try:
        return names.normalise_user(name)
    except names.InvalidName as exc:
        raise ChatError("bad_request", str(exc)) from None


def normalise_room(name: object) -> str:
    """An existing room's name lower-cased (``General`` and ``general`` name one room), or a
    conversation's ``@a:b``.

    Raises:
        ChatError: ``bad_request`` when it is neither.
    """
    try:
        return names.normalise_room(name)
    except names.InvalidName as exc:
        raise ChatError("bad_request", str(exc)) from None


def normalise_new_room(name: object) -> str:
    """A name for a room to create, lower-cased (a conversation's ``@a:b`` is refused).

    Raises:
        ChatError: ``bad_request`` when it does not lower-case to 1-64 ``[a-z0-9_-]``.
    """
    try:
        return names.normalise_new_room(name)
    except names.InvalidName as exc:
        raise ChatError("bad_request", str(exc)) from None
