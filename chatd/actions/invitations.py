"""Invitation links, over HTTP only: make one, list them, revoke one, and look at one before
registering with it (:func:`chatd.actions.accounts.register` registers with it).

An invitation is a random token (:func:`new_invitation_token`) given out as a link to the page,
``<public url>/#invite=<token>`` (the fragment never reaches a server's logs). The server keeps
only the token's SHA-256 (migration 0044 says why), so the token is shown once, when it is
made. It works until it expires (:data:`DEFAULT_EXPIRES`, at most :data:`MAX_EXPIRES`), for a
number of registrations (1 by default: a link for one person; up to :data:`MAX_USES` for a
group), until it is revoked; each new account joins the invitation's rooms.

Who may make them: server administrators always, members too with ``auth.who_can_invite =
"everyone"`` (into rooms they are in; :data:`INVITATIONS` an hour). Administrators list and
revoke every invitation, members their own. A server whose ``auth.registration`` is
``"closed"`` makes none (no registration could use it). Making and revoking one are in the
audit log (storage writes the entries: chatd.storage.invitations).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any

from chatd.actions.context import App, Bucket
from chatd.auth import bot_token_hash
from chatd.config import Config
from chatd.errors import ChatError
from chatd.protocol import InvalidName, codes, is_conversation, normalise_room
from chatd.protocol.events import MAX_SEQ
from chatd.storage import Invitation, User, invitation_refusal

__all__ = [
    "DEFAULT_EXPIRES",
    "INVITATIONS",
    "INVITATION_TOKEN",
    "LIST_PAGE",
    "LIST_PAGE_MAX",
    "MAX_EXPIRES",
    "MAX_ROOMS",
    "MAX_USES",
    "MIN_EXPIRES",
    "check_invitation",
    "check_token",
    "create",
    "invitation_object",
    "invite_url",
    "list_invitations",
    "look",
    "new_invitation_token",
    "revoke",
]

#: New invitations per user: 20 at once, then 20 an hour (administrators included: a script
#: that needs more uses ``chatd invite create``).
INVITATIONS = Bucket("invitations", lambda limits: (20 / 3600, 20),
                     "too many new invitations; try again later", per_user=True)
#: Seconds an invitation works by default (7 days), the most it may (30 days), the least.
DEFAULT_EXPIRES = 7 * 86400
MAX_EXPIRES = 30 * 86400
MIN_EXPIRES = 60
#: A page of ``GET /api/invitations`` without ``limit``, and the most one may ask.
LIST_PAGE = 100
LIST_PAGE_MAX = 500
#: The most registrations one invitation may allow.
MAX_USES = 1000
#: The most rooms one invitation may join.
MAX_ROOMS = 20
#: Random bytes in a token: 192 bits, 32 characters of base64url.
TOKEN_BYTES = 24
#: What a token looks like (anything else is no invitation's, without asking storage).
INVITATION_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")


def new_invitation_token() -> tuple[str, bytes]:
    """A new token and what storage keeps of it (its SHA-256)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, bot_token_hash(token)


def check_token(value: object) -> str:
    """An invitation's token as a request gives it.

    Raises:
        ChatError: ``bad_request`` for what is not a string; ``invitation_invalid`` for a
            string no token has the shape of.
    """
    if not isinstance(value, str):
        raise ChatError(codes.BAD_REQUEST, "'invitation' must be a string (the token of an "
                                           "invitation link)")
    if INVITATION_TOKEN.fullmatch(value) is None:
        raise invitation_refusal(None)
    return value


def invite_url(base: str, token: str) -> str:
    """The link to give: the page at ``base`` with the token in its fragment."""
    return f"{base.rstrip('/')}/#invite={token}"


def invitation_object(invitation: Invitation) -> dict[str, Any]:
    """An invitation as its maker and the administrators see it: never its token."""
    return {"id": invitation.id, "by": invitation.by, "created_at": invitation.created_at,
            "expires_at": invitation.expires_at, "max_uses": invitation.max_uses,
            "uses": invitation.uses, "revoked_at": invitation.revoked_at,
            "state": invitation.state, "rooms": list(invitation.rooms),
            "used_by": list(invitation.used_by)}


def _positive_int(body: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    if key not in body:
        return default
    value = body[key]
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ChatError(codes.BAD_REQUEST, f"{key!r} must be a whole number from {low} to "
                                           f"{high}")
    return value


def check_invitation(body: Mapping[str, Any]) -> tuple[int, int, list[str]]:
    """``{uses?, expires_in?, rooms?}`` of a new invitation, checked: (uses, seconds, room
    names in order, each once). Shared by the HTTP route and ``chatd invite create``.

    Raises:
        ChatError: ``bad_request``, naming the field.
    """
    uses = _positive_int(body, "uses", 1, 1, MAX_USES)
    seconds = _positive_int(body, "expires_in", DEFAULT_EXPIRES, MIN_EXPIRES, MAX_EXPIRES)
    given = body.get("rooms", [])
    if not isinstance(given, list) or len(given) > MAX_ROOMS:
        raise ChatError(codes.BAD_REQUEST, f"'rooms' must be a list of at most {MAX_ROOMS} "
                                           "room names")
    rooms: list[str] = []
    for value in given:
        try:
            room = normalise_room(value)
        except InvalidName as exc:
            raise ChatError(codes.BAD_REQUEST, f"'rooms': {exc}") from None
        if is_conversation(room):
            raise ChatError(codes.BAD_REQUEST, "'rooms': nobody can be invited into a "
                                               "conversation")
        if room not in rooms:
            rooms.append(room)
    return uses, seconds, rooms


def _may_invite(config: Config, user: User) -> None:
    """Refuse ``user`` unless they may make invitations.

    Raises:
        ChatError: ``forbidden`` (a bot; a member while ``auth.who_can_invite`` is
            "admins"), ``registration_closed`` (no registration could use one).
    """
    if user.bot:
        raise ChatError(codes.FORBIDDEN, "a bot cannot make invitations")
    if not user.admin and config.auth.who_can_invite != "everyone":
        raise ChatError(codes.FORBIDDEN, "only server administrators make invitations here "
                                         "(auth.who_can_invite)")
    if config.auth.registration == "closed":
        raise ChatError(codes.REGISTRATION_CLOSED, "this server takes no registrations "
                                                   "(auth.registration): an invitation could "
                                                   "not be used")


async def create(app: App, user: User, body: Mapping[str, Any], *, base_url: str,
                 now: int) -> dict[str, Any]:
    """A new invitation made by ``user`` (``body``: as :func:`check_invitation`), its token
    (shown this once) and its link (the page at ``base_url``). ``now``: ms, the moment its
    expiry counts from.

    Raises:
        ChatError: as :func:`check_invitation` and :func:`_may_invite`; ``rate_limited``;
            from storage ``not_found``, ``archived``, ``forbidden`` (a room the member is
            not in).
    """
    uses, seconds, rooms = check_invitation(body)
    _may_invite(app.config, user)
    app.take(INVITATIONS, user.name)
    token, digest = new_invitation_token()
    invitation = await app.storage.create_invitation(
        digest, user.id, expires_at=now + seconds * 1000, max_uses=uses, rooms=rooms,
        anywhere=user.admin)
    return {"invitation": invitation_object(invitation), "token": token,
            "url": invite_url(base_url, token)}


async def list_invitations(app: App, user: User, *, before: int | None = None,
                           limit: int | None = None) -> dict[str, Any]:
    """A page of the invitations ``user`` made (every one's, for an administrator), newest
    first: ``limit`` (:data:`LIST_PAGE` by default, :data:`LIST_PAGE_MAX` at most) of those
    older than invitation ``before``; ``more``: ask again with ``before`` = the last id.

    Raises:
        ChatError: ``bad_request`` for a ``limit`` or ``before`` out of range.
    """
    size = LIST_PAGE if limit is None else limit
    if not 1 <= size <= LIST_PAGE_MAX:
        raise ChatError(codes.BAD_REQUEST, f"'limit' must be 1-{LIST_PAGE_MAX}")
    if before is not None and not 1 <= before <= MAX_SEQ:
        raise ChatError(codes.BAD_REQUEST, f"'before' must be 1-{MAX_SEQ}")
    found = await app.storage.invitations(None if user.admin else user.id, before=before,
                                          limit=size + 1)
    return {"invitations": [invitation_object(invitation) for invitation in found[:size]],
            "more": len(found) > size}


async def revoke(app: App, user: User, invitation_id: int) -> dict[str, Any]:
    """Revoke an invitation ``user`` made (any, for an administrator): it works no more.

    Raises:
        ChatError: ``not_found`` (no such invitation, or not theirs).
    """
    invitation = await app.storage.revoke_invitation(invitation_id, user.id,
                                                     anyone=user.admin)
    return {"invitation": invitation_object(invitation)}


async def look(app: App, token: str, *, address: str | None) -> dict[str, Any]:
    """What a sign-up page shows of an invitation, to anyone holding its token: whether it
    works (``valid``) and, when it does, who made it and the rooms it joins; when it does
    not, the ``code`` (and ``message``) a registration with it would be refused with.
    ``registration`` and ``server`` (its name, or null) come with every answer.

    Raises:
        ChatError: ``bad_request`` for what has not a token's shape (:data:`INVITATION_TOKEN`);
            ``rate_limited`` past the address's allowance.
    """
    if INVITATION_TOKEN.fullmatch(token) is None:
        raise ChatError(codes.BAD_REQUEST, "an invitation's token is 16-128 of A-Z a-z 0-9 "
                                           "_ -")
    app.auth.look_limit(address)
    config = app.config
    answer: dict[str, Any] = {"registration": config.auth.registration,
                              "server": config.server.name or None}
    found = await app.storage.invitation_by_hash(bot_token_hash(token))
    if config.auth.registration == "closed":
        refusal: ChatError | None = ChatError(codes.REGISTRATION_CLOSED,
                                              "this server takes no registrations")
    elif found is None or found.state != "valid":
        refusal = invitation_refusal(found)
    else:
        refusal = None
    if refusal is not None or found is None:
        assert refusal is not None
        return {**answer, "valid": False, "code": refusal.code, "message": refusal.message}
    return {**answer, "valid": True, "by": found.by, "rooms": list(found.rooms),
            "expires_at": found.expires_at}
