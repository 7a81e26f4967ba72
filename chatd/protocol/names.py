"""User and room names: the one place that says what a valid name is.

Names are normalised once, at the edge (the protocol and HTTP front), so that everything behind
it can compare them as plain strings. Room names are case-insensitive and kept lower-case; user
names keep the case their owner chose and are compared case-insensitively by storage.
"""

from __future__ import annotations

import re

__all__ = ["InvalidName", "normalise_room", "normalise_user"]

_USER = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_ROOM = re.compile(r"[a-z0-9_-]{1,64}")


class InvalidName(ValueError):
    """A user or room name outside the allowed alphabet or length."""


def normalise_user(name: object) -> str:
    """A user name as given, if it is 1-32 of ``[A-Za-z0-9_.-]``.

    Raises:
        InvalidName: it is not a string or breaks the rule.
    """
    if not isinstance(name, str) or not _USER.fullmatch(name):
        raise InvalidName("a user name is 1-32 of A-Z a-z 0-9 _ . -")
    return name


def normalise_room(name: object) -> str:
    """A room name in lower case, if it is then 1-64 of ``[a-z0-9_-]``.

    Raises:
        InvalidName: it is not a string or breaks the rule.
    """
    if not isinstance(name, str):
        raise InvalidName("a room name is 1-64 of a-z 0-9 _ -")
    lowered = name.lower()
    # ASCII-only: str.lower() maps a few non-ASCII letters onto ASCII ones (the Kelvin sign).
    if not name.isascii() or not _ROOM.fullmatch(lowered):
        raise InvalidName("a room name is 1-64 of a-z 0-9 _ -")
    return lowered
