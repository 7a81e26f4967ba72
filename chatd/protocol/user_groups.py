"""User groups' names: what a valid one is (the protocol's, the HTTP routes' and storage's).

A user group (``@backend``) shares one namespace with users, because ``@name`` must mean one
thing: its name is a user name's alphabet (``a-z 0-9 _ . -``, 1-32), kept in lower case (any
case accepted and folded), and never one of the group mentions' words
(:data:`chatd.protocol.names.RESERVED_USERS`). That no user has it, and no new account takes
it, storage sees to (migration 0035).
"""

from __future__ import annotations

import re
from typing import Final

from chatd.protocol.names import RESERVED_USERS, InvalidName

__all__ = ["MAX_GROUP_DESCRIPTION_CHARS", "MAX_GROUP_NAMES", "normalise_user_group"]

_NAME = re.compile(r"[a-z0-9_.-]{1,32}")
#: The longest description of a group, in characters ("" is none).
MAX_GROUP_DESCRIPTION_CHARS: Final = 256
#: The most user names one request may list (``members``, ``add``, ``remove``): a group's
#: default most members, ``limits.user_group_members``; the limit itself is the server's.
MAX_GROUP_NAMES: Final = 1000


def normalise_user_group(name: object) -> str:
    """A user group's name in lower case, if it is then 1-32 of ``[a-z0-9_.-]`` and not a
    group mention's word (``room``, ``all``, ``everyone``, ``here``).

    Raises:
        InvalidName: it is not a string, breaks the rule or is reserved.
    """
    if not isinstance(name, str) or not name.isascii() or not _NAME.fullmatch(name.lower()):
        raise InvalidName("a user group's name is 1-32 of a-z 0-9 _ . -")
    lowered = name.lower()
    if lowered in RESERVED_USERS:
        raise InvalidName(f"{lowered!r} is reserved: @{lowered} mentions a room's members")
    return lowered
