"""Contacts: the people whose presence a user follows."""

from __future__ import annotations

from chatd.actions.context import App, Caller, signed_in
from chatd.errors import ChatError
from chatd.protocol import AddContact, Answer, Contacts, RemoveContact, codes

__all__ = ["add_contact", "contacts", "remove_contact"]


async def contacts(app: App, caller: Caller, request: Contacts) -> Answer:
    user = signed_in(caller)
    names = await app.storage.contacts(user.id)
    return Answer(id=request.id, fields={"contacts": app.presence.statuses(names)})


async def add_contact(app: App, caller: Caller, request: AddContact) -> Answer:
    """Follow a user's presence; the answer is their status now, changes follow."""
    user = signed_in(caller)
    name = await app.storage.add_contact(user.id, request.user)
    await app.presence.watch(user.name, name, True)
    [contact] = app.presence.statuses([name])
    return Answer(id=request.id, fields=contact)


async def remove_contact(app: App, caller: Caller, request: RemoveContact) -> Answer:
    user = signed_in(caller)
    name = await app.storage.remove_contact(user.id, request.user)
    if name is None:
        raise ChatError(codes.NOT_FOUND, f"{request.user} is not one of your contacts")
    await app.presence.watch(user.name, name, False)
    return Answer(id=request.id, fields={"user": name})
