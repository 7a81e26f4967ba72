"""Join links to one room (Discord's and Telegram's invite links, Slack's shareable channel
links): make one, list them, revoke one, look at one, and join with one.

Theory of operation. ``invite`` makes a member of a user whom the inviter names; a link lets
whoever holds it in, without the inviter knowing who that will be: a random token
(:func:`chatd.actions.invitations.new_invitation_token`, 192 bits) given out as the page's
address with ``#join=<token>`` (a fragment: it never reaches a server's or a proxy's log). The
server keeps only the token's SHA-256 (migration 0051), so the token is shown once, when the
link is made. It works until it expires (:data:`~chatd.protocol.LINK_DEFAULT_SECONDS` by
default, at most :data:`~chatd.protocol.LINK_MAX_SECONDS`), for a number of joins (1 by
default, up to :data:`~chatd.protocol.LINK_MAX_USES`), until it is revoked.

Who: whoever may ``invite`` into the room may make a link to it (its members: a link is an
invitation whose invitee is not named yet); its maker lists and revokes theirs, and those who
moderate the room (owner, moderators, server administrators) every link of it, as they
moderate its members. A banned user cannot join with one (as they cannot be invited), an
archived room takes nobody. Making, revoking and every join are in the room's audit log.

A link is for people who have an account: it makes none, even where registration is open or
by invitation (an invitation link, chatd.actions.invitations, is what makes accounts, and who
may make those is the server's choice, ``auth.who_can_invite``; a room link made by any member
must not get round it). The page keeps the token while its holder signs in or registers as
the server allows, then offers the room.

Looking at a link (``room_link``) and joining with one take a token of :data:`LINK_TRIES`, so
that nobody tries tokens in bulk (192 random bits are not found by trying, but every try costs
a statement). A join is answered as ``join`` is, and a new member is announced as ``joined``
with ``by``, the link's maker, as an invitee is.
"""

from __future__ import annotations

from typing import Any

from chatd.actions.context import App, Bucket, Caller, CatchUp, signed_in
from chatd.actions.invitations import INVITATION_TOKEN, new_invitation_token
from chatd.actions.rooms import enter
from chatd.actions.session import now_ms
from chatd.auth import bot_token_hash
from chatd.protocol import (
    LINK_DEFAULT_SECONDS,
    LINKS_PAGE,
    Answer,
    CreateRoomLink,
    JoinLink,
    LookAtRoomLink,
    MemberJoined,
    RevokeRoomLink,
    RoomLinks,
    codes,
    frame,
)
from chatd.storage import RoomLink, room_link_refusal

__all__ = ["LINKS", "LINK_TRIES", "create_room_link", "join_link", "join_url",
           "look_at_room_link", "revoke_room_link", "room_link_object", "room_links"]

#: New room links per user: 20 at once, then 20 an hour (as invitations).
LINKS = Bucket("room_links", lambda limits: (20 / 3600, 20),
               "too many new room links; try again later", per_user=True)
#: Looks at and joins with room links per user: 30 at once, then one every 10 seconds.
LINK_TRIES = Bucket("room_link_tries", lambda limits: (0.1, 30),
                    "too many room links tried; try again later", per_user=True)


def join_url(base: str, token: str) -> str:
    """The link to give: the page at ``base`` with the token in its fragment."""
    return f"{base.rstrip('/')}/#join={token}"


def room_link_object(link: RoomLink) -> dict[str, Any]:
    """A room link as its maker and the room's moderators see it: never its token."""
    return {"id": link.id, "room": link.room, "by": link.by, "created_at": link.created_at,
            "expires_at": link.expires_at, "max_uses": link.max_uses, "uses": link.uses,
            "revoked_at": link.revoked_at, "state": link.state}


def _digest(token: str) -> bytes:
    """What storage knows of ``token`` (its SHA-256).

    Raises:
        ChatError: ``invitation_invalid`` for what has no token's shape (no link has it).
    """
    if INVITATION_TOKEN.fullmatch(token) is None:
        raise room_link_refusal(None)
    return bot_token_hash(token)


async def create_room_link(app: App, caller: Caller, request: CreateRoomLink) -> Answer:
    """A new link to ``request.room`` by the caller, its token (shown this once) and, when
    the server knows its address (``server.public_url``), its url."""
    user = signed_in(caller)
    token, digest = new_invitation_token()
    seconds = request.expires_in or LINK_DEFAULT_SECONDS
    link = await app.storage.create_room_link(digest, user.id, request.room,
                                              expires_at=now_ms() + seconds * 1000,
                                              max_uses=request.uses or 1)
    fields: dict[str, Any] = {"link": room_link_object(link), "token": token}
    if app.config.server.public_url:
        fields["url"] = join_url(app.config.server.public_url, token)
    return Answer(id=request.id, fields=fields)


async def room_links(app: App, caller: Caller, request: RoomLinks) -> Answer:
    """A page of the room's links the caller may see (all for those who moderate it),
    newest first; ``more``: ask again with ``before`` = the last ``id``; ``all``: the page
    holds everyone's links, not only the caller's."""
    user = signed_in(caller)
    size = request.limit or LINKS_PAGE
    found, everyone = await app.storage.room_links(user.id, request.room,
                                                   before=request.before, limit=size + 1)
    return Answer(id=request.id, fields={
        "room": request.room, "links": [room_link_object(link) for link in found[:size]],
        "more": len(found) > size, "all": everyone,
    })


async def revoke_room_link(app: App, caller: Caller, request: RevokeRoomLink) -> Answer:
    """Revoke a link: it works no more (twice is no error)."""
    user = signed_in(caller)
    link = await app.storage.revoke_room_link(request.link, user.id)
    return Answer(id=request.id, fields={"link": room_link_object(link)})


async def look_at_room_link(app: App, caller: Caller, request: LookAtRoomLink) -> Answer:
    """What the join screen shows of a link: whether it works for the caller (``valid``)
    and, when it does, the room's name, topic, privacy and size, who made the link and
    whether the caller is a member already; when it does not, the ``code`` and ``message``
    a join with it would be refused with (the room is named only to its members)."""
    user = signed_in(caller)
    shaped = INVITATION_TOKEN.fullmatch(request.token) is not None
    found = (await app.storage.look_at_room_link(bot_token_hash(request.token), user.id)
             if shaped else None)
    if found is None:  # (a string of no token's shape is no link's: said the same way)
        refusal = room_link_refusal(None)
        return Answer(id=request.id, fields={"valid": False, "code": refusal.code,
                                             "message": refusal.message})
    link = found.link
    refused: tuple[str, str] | None = None
    if found.gone:
        refused = (codes.NOT_FOUND, "the room of this link is gone")
    elif found.member:
        refused = None
    elif found.banned:
        refused = (codes.FORBIDDEN, f"you are banned from {link.room!r}")
    elif link.state != "valid":
        error = room_link_refusal(link)
        refused = (error.code, error.message)
    elif found.archived:
        refused = (codes.ARCHIVED, f"{link.room!r} is archived: nobody joins it")
    if refused is not None:
        return Answer(id=request.id, fields={"valid": False, "code": refused[0],
                                             "message": refused[1]})
    return Answer(id=request.id, fields={
        "valid": True, "room": link.room, "topic": found.topic, "private": found.private,
        "members": found.members, "member": found.member, "by": link.by,
        "expires_at": link.expires_at,
    })


async def join_link(app: App, caller: Caller, request: JoinLink) -> CatchUp:
    """Join the room of a link (a member already just enters it, taking no use); answered
    as ``join`` is, and a new member announced as ``joined`` ``by`` the link's maker."""
    user = signed_in(caller)
    digest = _digest(request.token)
    since = app.registry.epoch
    linked, new = await app.storage.join_with_link(digest, user.id)
    room = linked.link.room
    joined = await app.storage.join_room(user.id, room, create=False)
    announce = (frame(MemberJoined(room=room, user=user.name, by=linked.link.by))
                if new else None)
    return await enter(app, caller, request.id, joined, since, announce)
