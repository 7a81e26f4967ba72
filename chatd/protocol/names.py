"""User and room names: the one place that says what a valid name is.

Names are normalised once, at the edge (the protocol and HTTP front), so that everything behind
it can compare them as plain strings. Room names are case-insensitive and kept lower-case; user
names keep the case their owner chose and are compared case-insensitively by storage.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

__all__ = [
    "CONVERSATION_KINDS",
    "GROUP_MAX",
    "RESERVED_USERS",
    "InvalidName",
    "conversation_members",
    "conversation_name",
    "dm_room_name",
    "group_room_name",
    "is_conversation",
    "is_dm_room",
    "is_group_room",
    "normalise_new_room",
    "normalise_new_user",
    "normalise_room",
    "normalise_user",
]

_USER = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_ROOM = re.compile(r"[a-z0-9_-]{1,64}")
# A conversation: "@" and its members' user names, lower-cased, sorted by code point, joined
# by ":" (two for a 1:1 conversation, the same one twice for notes to self; three to eight for
# a group conversation, each once). Neither "@" nor ":" can be in a room name, so no room a
# user creates can take a conversation's name.
_CONVERSATION = re.compile(r"@[a-z0-9_.-]{1,32}(?::[a-z0-9_.-]{1,32}){1,7}")

#: The most people a conversation has, its starter included (docs/protocol.md, "Group
#: conversations"): as Slack's group DMs (MPDM) and Mattermost's group messages.
GROUP_MAX = 8

#: The room kinds of conversations: ``"dm"`` (1:1, notes to self included) and ``"group"``
#: (3 to :data:`GROUP_MAX` people). Neither has an owner, a topic or moderators; nobody
#: leaves one or is invited, kicked or banned; the set of people is the name.
CONVERSATION_KINDS: frozenset[str] = frozenset({"dm", "group"})


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
    """The name of an existing room or conversation, in lower case: a room name (see
    :func:`normalise_new_room`), a 1:1 conversation's ``@user:user`` as :func:`dm_room_name`
    makes it, or a group conversation's ``@user:user:user...`` as :func:`group_room_name`
    makes it (any case: folded).

    Raises:
        InvalidName: it is none of them (a name starting with ``@`` whose names are out of
            order, repeated in a group, more than :data:`GROUP_MAX`, or no user names).
    """
    if isinstance(name, str) and name.startswith("@"):
        lowered = name.lower()
        if name.isascii() and _CONVERSATION.fullmatch(lowered):
            people = lowered[1:].split(":")
            if len(people) == 2 and people[0] <= people[1]:
                return lowered
            if all(a < b for a, b in itertools.pairwise(people)):
                return lowered
        raise InvalidName("a conversation is named @user:user (a group: @user:user:user..., "
                          f"at most {GROUP_MAX}), the names in lower case, in order, none twice")
    return normalise_new_room(name)


def dm_room_name(user: str, other: str) -> str:
    """The name of the 1:1 conversation between two (valid) user names, in either order."""
    first, second = sorted((user.lower(), other.lower()))
    return f"@{first}:{second}"


def group_room_name(names: Iterable[str]) -> str:
    """The name of the group conversation of (valid) user names ``names``, given in any order
    and case, repeats folded: ``@`` and the names in lower case, sorted by code point, joined
    by ``:``.

    Raises:
        InvalidName: fewer than 3 or more than :data:`GROUP_MAX` people.
    """
    people = sorted({name.lower() for name in names})
    if not 3 <= len(people) <= GROUP_MAX:
        raise InvalidName(f"a group conversation has 3 to {GROUP_MAX} people")
    return "@" + ":".join(people)


def conversation_name(names: Iterable[str]) -> str:
    """The name of the conversation of (valid) user names ``names`` (the starter's
    included), any order and case, repeats folded: notes to self for one person, the 1:1
    conversation for two, the group conversation for three to :data:`GROUP_MAX`.

    Raises:
        InvalidName: no names, or more than :data:`GROUP_MAX` people.
    """
    people = sorted({name.lower() for name in names})
    if not people:
        raise InvalidName("a conversation has at least one person")
    if len(people) > GROUP_MAX:
        raise InvalidName(f"a conversation has at most {GROUP_MAX} people")
    if len(people) <= 2:
        return dm_room_name(people[0], people[-1])
    return group_room_name(people)


def conversation_members(room: str) -> list[str]:
    """The user names (lower case, in the name's order) a normalised conversation name is
    made of: one for notes to self, two for a 1:1, three or more for a group."""
    return sorted(set(room[1:].split(":")))


def is_conversation(room: str) -> bool:
    """Whether a normalised room name names a conversation, 1:1 or group (no owner, no
    topic, nobody leaves or is invited: see :data:`CONVERSATION_KINDS`)."""
    return room.startswith("@")


def is_dm_room(room: str) -> bool:
    """Whether a normalised room name names a 1:1 conversation (notes to self included),
    not a group conversation."""
    return room.startswith("@") and room.count(":") == 1


def is_group_room(room: str) -> bool:
    """Whether a normalised room name names a group conversation (3 or more people)."""
    return room.startswith("@") and room.count(":") > 1
