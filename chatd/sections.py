"""A user's own sidebar sections: the rules of their list, pure.

Theory of operation. A user's sections are a short list in their order (at most
``limits.sections_per_user``), kept whole on their row (migration 0041) and carried whole by
the protocol (the welcome's ``sections``, the ``sections`` event). Every change of it is a
function here from the list as it is to the list as it will be, or a refusal
(:class:`chatd.errors.ChatError` with its stable code); storage applies it to the list it read
under the row's lock and writes the result, so the rules are tested without a database and the
database only keeps the order of changes. Names are compared ignoring case (``casefold``), as
Slack and Mattermost refuse a second "Work" next to "work". A position is an index into the
list as it will be, clamped to its end: "last" needs no count of the list.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from chatd.errors import ChatError
from chatd.protocol import codes

__all__ = ["Section", "SectionList", "create", "delete", "edit", "find", "sections_from_json",
           "sections_to_json"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Section:
    """One of a user's sections: its ``id`` (never reused), ``name`` (trimmed, 1-40
    characters, unique among theirs ignoring case) and whether they ``collapsed`` it."""

    id: int
    name: str
    collapsed: bool = False

    def as_object(self) -> dict[str, Any]:
        """The section object of the protocol (and of the stored list)."""
        return {"id": self.id, "name": self.name, "collapsed": self.collapsed}


#: A user's sections, in their order.
SectionList = tuple[Section, ...]


def sections_from_json(text: str | None) -> SectionList:
    """The list as stored (JSON text; None: no section yet)."""
    if not text:
        return ()
    return tuple(Section(id=int(item["id"]), name=str(item["name"]),
                         collapsed=bool(item["collapsed"])) for item in json.loads(text))


def sections_to_json(sections: Sequence[Section]) -> str:
    """The list as stored: the protocol's section objects, in order."""
    return json.dumps([section.as_object() for section in sections], ensure_ascii=False)


def find(sections: Sequence[Section], section: int) -> Section | None:
    """The section of id ``section``, or None."""
    return next((s for s in sections if s.id == section), None)


def _index(sections: Sequence[Section], section: int) -> int:
    for index, s in enumerate(sections):
        if s.id == section:
            return index
    raise ChatError(codes.NOT_FOUND, f"you have no section {section}")


def _check_name(sections: Sequence[Section], name: str, *, other_than: int | None = None
                ) -> None:
    folded = name.casefold()
    for s in sections:
        if s.id != other_than and s.name.casefold() == folded:
            raise ChatError(codes.CONFLICT, f"you have a section called {s.name!r} already")


def _insert(sections: Sequence[Section], section: Section, position: int | None) -> SectionList:
    at = len(sections) if position is None else min(position, len(sections))
    return (*sections[:at], section, *sections[at:])


def create(sections: Sequence[Section], *, section_id: int, name: str, position: int | None,
           most: int) -> SectionList:
    """The list with a new, expanded section ``name`` at ``position`` (None or past the end:
    last).

    Raises:
        ChatError('too_many_sections'): the list has ``most`` sections already.
        ChatError('conflict'): one of them has ``name``, ignoring case.
    """
    if len(sections) >= most:
        raise ChatError(codes.TOO_MANY_SECTIONS,
                        f"you have {len(sections)} sections, as many as one may "
                        f"(limits.sections_per_user is {most}): delete one first")
    _check_name(sections, name)
    return _insert(sections, Section(id=section_id, name=name), position)


def edit(sections: Sequence[Section], section: int, *, name: str | None = None,
         collapsed: bool | None = None, position: int | None = None) -> SectionList:
    """The list with what is given of ``section`` changed: its name, whether it is
    collapsed, its position (an index in the list as it will be; past the end: last).

    Raises:
        ChatError('not_found'): no section of the list has the id ``section``.
        ChatError('conflict'): another one has ``name``, ignoring case.
    """
    index = _index(sections, section)
    was = sections[index]
    if name is not None:
        _check_name(sections, name, other_than=section)
    now = dataclasses.replace(was, name=was.name if name is None else name,
                              collapsed=was.collapsed if collapsed is None else collapsed)
    rest = (*sections[:index], *sections[index + 1:])
    return _insert(rest, now, index if position is None else position)


def delete(sections: Sequence[Section], section: int) -> SectionList:
    """The list without ``section``.

    Raises:
        ChatError('not_found'): no section of the list has the id ``section``.
    """
    index = _index(sections, section)
    return (*sections[:index], *sections[index + 1:])
