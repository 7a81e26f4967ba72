"""User and room names: the one place that says what a valid name is.

Names are normalised once, at the edge (the protocol and HTTP front), so that everything behind
it can compare them as plain strings. Room names are case-insensitive and kept lower-case; user
names keep the case their owner chose and are compared case-insensitively by storage.
"""

from __future__ import annotations

import re

__all__ = [
    "RESERVED_USERS",
    "InvalidName",
    "dm_room_name",
    "is_dm_room",
    "normalise_new_room",
    "normalise_new_user",
    "normalise_room",
    "normalise_user",
]

_USER = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_ROOM = re.compile(r"[a-z0-9_-]{1,64}")
# A 1:1 conversation: "@" and the two user names, lower-cased, sorted, joined by ":". Neither
# "@" nor ":" can be in a room name, so no room a user creates can take a conversation's name.
_DM = re.compile(r"@([a-z0-9_.-]{1,32}):([a-z0-9_.-]{1,32})")


#: Names no new account may take, lower-cased: the words of group mentions (``@room``, ``@all``,
#: ``@everyone``, ``@here``; chatd.protocol.markup), which would otherwise name a person and a
#: group at once. An account that already has one keeps it, and is covered by the group.
RESERVED_USERS: frozenset[str] = frozenset({"room", "all", "everyone", "here"})


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


def normalise_new_user(name: object) -> str:
    """A name for a new account (a user or a bot): as :func:`normalise_user`, and not one of
    :data:`RESERVED_USERS` in any case.

    Raises:
        InvalidName: it is not a string, breaks the rule or is reserved.
    """
    name = normalise_user(name)
    if name.lower() in RESERVED_USERS:
        raise InvalidName(f"{name!r} is reserved: @{name.lower()} mentions a group")
    return name


def normalise_new_room(name: object) -> str:
    """A name for a room to create, in lower case, if it is then 1-64 of ``[a-z0-9_-]``.

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


def normalise_room(name: object) -> str:
    """The name of an existing room or 1:1 conversation, in lower case: a room name (see
    :func:`normalise_new_room`) or a conversation's ``@user:user`` as :func:`dm_room_name`
    makes it.

    Raises:
        InvalidName: it is neither.
    """
    if isinstance(name, str) and name.startswith("@") and name.isascii():
        lowered = name.lower()
        found = _DM.fullmatch(lowered)
        if found and found[1] <= found[2]:
            return lowered
        raise InvalidName("a conversation is named @user:user, the two names in order")
    return normalise_new_room(name)


def dm_room_name(user: str, other: str) -> str:
    """The name of the 1:1 conversation between two (valid) user names, in either order."""
    first, second = sorted((user.lower(), other.lower()))
    return f"@{first}:{second}"


def is_dm_room(room: str) -> bool:
    """Whether a normalised room name names a 1:1 conversation."""
    return room.startswith("@")
