"""Contacts: the people whose presence a user follows."""

from __future__ import annotations

from chatd.actions.context import App, Caller, signed_in
from chatd.errors import ChatError
from chatd.protocol import AddContact, Answer, Contacts, RemoveContact, codes
from chatd.views import contact_object

__all__ = ["CONTACTS_PAGE", "add_contact", "contact_page", "contacts", "remove_contact"]

#: The page of ``contacts`` a request without ``limit`` gets (at most
#: ``limits.rooms_page_max``).
CONTACTS_PAGE = 100


async def contacts(app: App, caller: Caller, request: Contacts) -> Answer:
    """A page of the user's contacts with their status and profile, by name ignoring case,
    after ``after``. ``more``: another page follows, after the last name of this one. A
    client that sends neither field gets the first page, in the shape the unpaged list
    had."""
    user = signed_in(caller)
    limit = request.limit or min(CONTACTS_PAGE, app.config.limits.rooms_page_max)
    found = await app.storage.contact_profiles(user.id, after=request.after or "",
                                               limit=limit + 1)
    page = found[:limit]
    statuses = app.presence.statuses(profile.name for profile in page)
    return Answer(id=request.id, fields={
        "contacts": [contact_object(profile, status["status"])
                     for profile, status in zip(page, statuses, strict=True)],
        "more": len(found) > limit})


async def contact_page(app: App, user_id: int, after: str, limit: int
                       ) -> tuple[list[dict[str, str]], bool]:
    """The first ``limit`` contacts after ``after`` with their status (no profile: the
    shape of the welcome's), and whether more follow."""
    names = await app.storage.contact_page(user_id, after=after, limit=limit + 1)
    return app.presence.statuses(names[:limit]), len(names) > limit


async def add_contact(app: App, caller: Caller, request: AddContact) -> Answer:
    """Follow a user's presence; the answer is their status now, changes follow: the
    contact is committed before the status is read, and the presence tracker looks up
    their watchers after each change it applies (chatd.presence says why none is missed)."""
    user = signed_in(caller)
    profile = await app.storage.add_contact_profile(user.id, request.user)
    [contact] = app.presence.statuses([profile.name])
    return Answer(id=request.id, fields=contact_object(profile, contact["status"]))


async def remove_contact(app: App, caller: Caller, request: RemoveContact) -> Answer:
    user = signed_in(caller)
    name = await app.storage.remove_contact(user.id, request.user)
    if name is None:
        raise ChatError(codes.NOT_FOUND, f"{request.user} is not one of your contacts")
    return Answer(id=request.id, fields={"user": name})
