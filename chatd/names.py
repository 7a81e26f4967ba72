"""User and room names, checked and normalised once, at the edge.

Everything behind the edge (storage, the room registry, presence) trusts that a name it is
given already has its final form: room names lower-case ``[a-z0-9_-]{1,64}``, user names
``[A-Za-z0-9_.-]{1,32}`` with the case the user chose (storage compares them case-insensitively).
Only ASCII is accepted: ``str.lower`` maps some non-ASCII letters onto ASCII ones (the Kelvin sign
becomes ``k``), which would let two different inputs name the same room.
"""

from __future__ import annotations

import re

from chatd.errors import ChatError

__all__ = ["ROOM_NAME_RE", "USER_NAME_RE", "normalise_room", "normalise_user"]

USER_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,32}")
ROOM_NAME_RE = re.compile(r"[a-z0-9_-]{1,64}")


def normalise_user(name: object) -> str:
    """The user name as stored, or a refusal.

    Args:
        name: what the client sent; any JSON value.

    Returns:
        ``name`` unchanged (user names keep their case).

    Raises:
        ChatError: ``bad_request`` when ``name`` is not a string of 1-32 ``[A-Za-z0-9_.-]``.
    """
    if not isinstance(name, str) or not name.isascii() or not USER_NAME_RE.fullmatch(name):
        raise ChatError("bad_request", "a user name is 1-32 letters, digits, '_', '.' or '-'")
    return name


def normalise_room(name: object) -> str:
    """The room name in its one canonical form (lower case), or a refusal.

    Args:
        name: what the client sent; any JSON value. ``General`` and ``general`` name one room.

    Returns:
        The lower-cased name.

    Raises:
        ChatError: ``bad_request`` when ``name`` is not a string that lower-cases to 1-64
            ``[a-z0-9_-]``.
    """
    if not isinstance(name, str) or not name.isascii():
        raise ChatError("bad_request", "a room name is 1-64 letters, digits, '_' or '-'")
    lowered = name.lower()
    if not ROOM_NAME_RE.fullmatch(lowered):
        raise ChatError("bad_request", "a room name is 1-64 letters, digits, '_' or '-'")
    return lowered
