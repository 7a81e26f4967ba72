"""Profiles: a display name, a custom status and a picture per user, shown to everyone.

Theory of operation. A profile is three columns of the user's row and a time
(``users.display_name``, ``status_emoji``, ``status_text``, ``status_until``; migration
0025), so what reads the row already, a token's check and a hello's first statement, reads
the profile with it: the welcome and ``GET /api/me`` tell it at no cost of their own.
``who`` and ``contacts`` read each listed user's row anyway (or one probe more per row of
their page); ``profiles`` reads the rows it is asked for.

A custom status ends by itself, as Mattermost's and Slack's do: nothing runs at its
``until``, every read compares it with the database's clock and a status past it reads as
none (as ``dnd_until``, chatd.actions.dnd); clients hide it themselves at that time, by the
server's clock they know from the welcome's ``now``. A write of the profile clears a status
that ended.

A change is told where presence is (chatd.presence, "The announcer"): a ``profile`` event
to the user's own connections and to everyone who shares a room with them or has them as a
contact, on every node. Here through the presence tracker's announcer, which reads that
audience from storage at the change, with the status changes; on the other nodes through the
trigger of migration 0025 (chatd.cluster), whose notice each node's announcer takes the same
way. Changes are rare and cost only when they happen; the per-user bucket
:data:`PROFILE_CHANGES` keeps one account from turning them into a flood to its rooms.

A picture (migration 0028) is set and removed over HTTP only (chatd.http.avatars: it is a
file's bytes), through :func:`set_avatar`: the same bucket, the same announcement. The
profile carries the SHA-256 of the picture the server made, and clients its url
(chatd.views.avatar_object), named by those bytes.
"""

from __future__ import annotations

from typing import Any

from chatd.actions.context import App, Bucket, Caller, signed_in
from chatd.actions.session import now_ms
from chatd.errors import ChatError
from chatd.protocol import (
    MAX_STATUS_SECONDS,
    NO_STATUS,
    Answer,
    NewStatus,
    Profiles,
    SetProfile,
    codes,
    frame,
)
from chatd.storage import NO_CUSTOM_STATUS, CustomStatus, Profile, User
from chatd.views import profile_event, profile_object

__all__ = ["PROFILE_CHANGES", "announce", "profiles", "set_avatar", "set_profile",
           "status_until"]

#: Profile changes per user, over all their sessions and the HTTP API: ten at once, then
#: one every six seconds. A person sets a status a few times a day; each change is told to
#: everyone in their rooms.
PROFILE_CHANGES = Bucket("profile", lambda limits: (1 / 6, 10),
                         "too many profile changes; try again in a moment", per_user=True)


def status_until(status: NewStatus, now: int) -> int | None:
    """When a ``set_profile``'s status ends (ms), by the server's clock ``now`` (ms): None
    for a status until cleared.

    Raises:
        ChatError('bad_request'): an ``until`` not ahead of ``now``, or more than
            :data:`MAX_STATUS_SECONDS` ahead.
    """
    until = status.until
    if status.duration is not None:
        until = now + status.duration * 1000
    if until is None:
        return None
    if until <= now:
        raise ChatError(codes.BAD_REQUEST, "the status's 'until' is in the past")
    if until > now + MAX_STATUS_SECONDS * 1000:
        raise ChatError(codes.BAD_REQUEST, "a custom status can last at most "
                                           f"{MAX_STATUS_SECONDS // 86400} days")
    return until


async def set_profile(app: App, caller: Caller, request: SetProfile) -> Answer:
    """Change the caller's display name and custom status (the fields given); answer the
    profile as stored. When what others see changed, it is told to them (:func:`announce`)."""
    user = signed_in(caller)
    status: CustomStatus | None = None
    if request.custom_status == NO_STATUS:
        status = NO_CUSTOM_STATUS
    elif request.custom_status is not None:
        new = request.custom_status
        status = CustomStatus(emoji=new.emoji, text=new.text,
                              until=status_until(new, now_ms()))
    profile, changed = await app.storage.set_profile(
        user.id, display_name=request.display_name, custom_status=status)
    if changed:
        await announce(app, profile)
    fields = profile_object(profile)
    fields.pop("deactivated", None)  # (a session's user is not)
    return Answer(id=request.id, fields=fields)


async def set_avatar(app: App, user: User, avatar: tuple[str, int] | None) -> dict[str, Any]:
    """Change ``user``'s picture to the bytes ``avatar`` (SHA-256, size), already placed in
    the file store, or remove it (None); the profile as stored, as clients see it. The
    caller took the :data:`PROFILE_CHANGES` token. A change is told as :func:`set_profile`'s
    are; the old picture's bytes are the collector's (chatd.files) once nothing refers to
    them."""
    profile, changed = await app.storage.set_avatar(user.id, avatar)
    if changed:
        await announce(app, profile)
    fields = profile_object(profile)
    fields.pop("deactivated", None)  # (a signed-in user is not)
    return fields


async def announce(app: App, profile: Profile) -> None:
    """Tell ``profile`` to the user's connections and to everyone who hears of their
    presence, on this node (the other nodes hear of it from storage: chatd.cluster)."""
    await app.presence.tell(profile.name, frame(profile_event(profile)))


async def profiles(app: App, caller: Caller, request: Profiles) -> Answer:
    """The profiles of the users named who exist, in the order asked, each once. Names are
    visible server-wide (``who``, mentions), and so are profiles: anyone signed in may read
    anyone's."""
    signed_in(caller)
    found = await app.storage.profiles(request.users)
    return Answer(id=request.id, fields={"profiles": [profile_object(p) for p in found]})
