"""Accounts, over HTTP only: register, log in and out, and who am I."""

from __future__ import annotations

from typing import Any

from chatd.actions.contacts import contact_page
from chatd.actions.context import App
from chatd.actions.invitations import check_token
from chatd.actions.membership import subscribe
from chatd.actions.sections import section_objects
from chatd.actions.session import now_ms
from chatd.errors import ChatError
from chatd.protocol import MemberJoined, codes, frame
from chatd.storage import User
from chatd.views import room_object, user_object

__all__ = ["login", "logout", "me", "register"]


async def register(app: App, username: str, password: str, *, invitation: object = None,
                   address: str | None = None) -> dict[str, Any]:
    """A new account, as ``auth.registration`` allows: "open", anyone; "invite", only with
    a valid ``invitation`` (its token); "closed", nobody. With an invitation (in "open" too)
    the account joins its rooms, each announced to the room's members as ``joined`` by the
    invitation's maker (on other nodes by the membership's notice), and the answer lists
    them (``rooms``).

    Raises:
        ChatError: ``registration_closed``, ``invitation_required``; those of
            :meth:`chatd.auth.Auth.register_invited` and :meth:`chatd.auth.Auth.register`.
    """
    mode = app.config.auth.registration
    if mode == "closed":
        raise ChatError(codes.REGISTRATION_CLOSED, "this server takes no registrations: ask "
                                                   "its operator for an account")
    if invitation is None:
        if mode == "invite":
            raise ChatError(codes.INVITATION_REQUIRED, "this server takes registrations with "
                                                       "an invitation link only")
        user = await app.auth.register(username, password, address=address)
        return {"user": user_object(user)}
    token = check_token(invitation)
    since = app.registry.epoch  # before storage: see chatd.actions.membership
    invited = await app.auth.register_invited(username, password, token, address=address)
    name = invited.user.name
    for room in invited.rooms:
        await subscribe(app, name, room, since,
                        frame(MemberJoined(room=room, user=name, by=invited.by)))
    return {"user": user_object(invited.user), "rooms": list(invited.rooms)}


async def login(app: App, username: str, password: str, *, address: str) -> dict[str, Any]:
    token, expires_at = await app.auth.login(username, password, address=address)
    return {"token": token, "expires_at": expires_at}


async def logout(app: App, token: str, *, everywhere: bool) -> dict[str, Any]:
    """Revoke the token (or all the user's tokens); the sessions they opened here end at
    once, and on other nodes when the revocation reaches them (chatd.cluster)."""
    user, claims = await app.auth.logout(token, everywhere=everywhere)
    app.end_sessions(user.name, None if everywhere else claims.jti)
    return {}


async def me(app: App, user: User, *, rooms_limit: int | None = None,
             contacts_limit: int | None = None) -> dict[str, Any]:
    """The user, their rooms and contacts, and the server's clock (``now``): what
    ``welcome`` says, without a session; with ``rooms_limit`` (``contacts_limit``) the first
    rooms (contacts) only and ``rooms_more`` (``contacts_more``), as a paged ``hello``."""
    answer: dict[str, Any] = {"user": user_object(user)}
    if user.sections is not None:  # read with the token (migration 0041), as the welcome's
        answer["sections"] = section_objects(user.sections)
    if user.keywords is not None:  # read with the token too (migration 0047)
        answer["keywords"] = list(user.keywords)
    if rooms_limit is None:
        rooms = await app.storage.user_rooms(user.id)
    else:
        rooms = await app.storage.rooms_overview(user.id, limit=rooms_limit + 1, joined=True)
        answer["rooms_more"] = len(rooms) > rooms_limit
        rooms = rooms[:rooms_limit]
    answer["rooms"] = [room_object(room) for room in rooms]
    if contacts_limit is None:
        answer["contacts"] = app.presence.statuses(await app.storage.contacts(user.id))
    else:
        answer["contacts"], answer["contacts_more"] = await contact_page(
            app, user.id, "", contacts_limit)
    answer["now"] = now_ms()  # as the welcome's: the server's clock, for a client's offset
    # the welcome's badges: reminders due always, scheduled messages when there are any
    badges = await app.storage.badges(user.id)
    answer["reminders_due"] = badges.reminders_due
    if badges.scheduled_count:
        answer["scheduled_count"] = badges.scheduled_count
    if badges.scheduled_failed:
        answer["scheduled_failed"] = badges.scheduled_failed
    return answer
