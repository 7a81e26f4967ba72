"""A user's own sidebar sections: named groups of the rooms and conversations they are in.

Theory of operation. The sections are the user's alone (Slack's custom sections, Mattermost's
custom categories): a list on their row and a mark of each membership (migration 0041, the
rules in :mod:`chatd.sections`), no entry of any log. Every change is told to every
connection of the user, on every node (:meth:`App.tell`: the one that asked too, as
``favourite`` tells it, so that every device applies it from the event alike), and to nobody
else: after a change of the list the whole list (``sections``: a few dozen entries, and an
event that cannot be applied out of turn), after a move the room's section (``section``). A
request that changes nothing tells nobody. The welcome carries the list from the user's row,
which the hello reads already (no statement of its own); the room objects their section from
the membership rows they read.
"""

from __future__ import annotations

from chatd.actions.context import App, Bucket, Caller, signed_in
from chatd.protocol import (
    Answer,
    CreateSection,
    DeleteSection,
    EditSection,
    SectionChanged,
    Sections,
    SectionsChanged,
    SetSection,
    frame,
)
from chatd.sections import SectionList

__all__ = ["SECTION_CHANGES", "create_section", "delete_section", "edit_section",
           "section_objects", "sections", "set_section"]

#: Changes of a user's sections and moves of their rooms, over all their connections and the
#: HTTP API: a burst (sorting a sidebar by hand is a few dozen moves), then a few a second.
#: Each one that changes something is a notice to every node.
SECTION_CHANGES = Bucket("section", lambda limits: (5.0, 60),
                         "changing sections too often; slow down", per_user=True)


def section_objects(listed: SectionList | None) -> list[dict[str, object]]:
    """The protocol's section objects of a list (none when it was not read)."""
    return [section.as_object() for section in listed or ()]


async def _tell_sections(app: App, user: str, listed: SectionList) -> None:
    await app.tell(user, frame(SectionsChanged(sections=section_objects(listed))),
                   "a change of sections")


async def sections(app: App, caller: Caller, request: Sections) -> Answer:
    """The user's sections, in their order."""
    user = signed_in(caller)
    listed = await app.storage.sections(user.id)
    return Answer(id=request.id, fields={"sections": section_objects(listed)})


async def create_section(app: App, caller: Caller, request: CreateSection) -> Answer:
    """A new section of the user's, at most ``limits.sections_per_user`` of them; every
    connection of theirs is told the list."""
    user = signed_in(caller)
    change = await app.storage.create_section(
        user.id, request.name, request.position, most=app.config.limits.sections_per_user)
    await _tell_sections(app, user.name, change.sections)
    assert change.section is not None
    return Answer(id=request.id, fields={"section": change.section.as_object(),
                                         "sections": section_objects(change.sections)})


async def edit_section(app: App, caller: Caller, request: EditSection) -> Answer:
    """Rename, collapse or expand, or move one of the user's sections; when that changed
    it, every connection of theirs is told the list."""
    user = signed_in(caller)
    change = await app.storage.edit_section(user.id, request.section, name=request.name,
                                            collapsed=request.collapsed,
                                            position=request.position)
    if change.changed:
        await _tell_sections(app, user.name, change.sections)
    assert change.section is not None
    return Answer(id=request.id, fields={"section": change.section.as_object(),
                                         "sections": section_objects(change.sections)})


async def delete_section(app: App, caller: Caller, request: DeleteSection) -> Answer:
    """Delete one of the user's sections (its rooms go back to the default lists, which the
    list told to every connection of theirs says)."""
    user = signed_in(caller)
    change = await app.storage.delete_section(user.id, request.section)
    await _tell_sections(app, user.name, change.sections)
    return Answer(id=request.id, fields={"section": request.section,
                                         "sections": section_objects(change.sections)})


async def set_section(app: App, caller: Caller, request: SetSection) -> Answer:
    """Put a room or conversation the user is in into one of their sections, or back into
    the default lists; when it moved, every connection of theirs is told."""
    user = signed_in(caller)
    if await app.storage.set_section(user.id, request.room, request.section):
        await app.tell(user.name, frame(SectionChanged(room=request.room,
                                                       section=request.section)),
                       "a room's section")
    return Answer(id=request.id, fields={"room": request.room, "section": request.section})
