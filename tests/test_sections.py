"""The rules of a user's sections list (:mod:`chatd.sections`), without a database: where a
section is made and moved to, renames and their conflicts (ignoring case), the cap, the
refusals; and a state machine whose every step keeps the list's invariants and leaves the
other sections in their order."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from chatd.errors import ChatError
from chatd.sections import (
    Section,
    create,
    delete,
    edit,
    find,
    sections_from_json,
    sections_to_json,
)

WORK, FUN, OPS = Section(id=1, name="Work"), Section(id=2, name="Fun"), Section(id=3, name="Ops")


def _code(call: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(ChatError) as info:
        call(*args, **kwargs)  # type: ignore[operator]
    return info.value.code


def test_create_at_its_position() -> None:
    """None or past the end: last; 0: first; else before the one at that index."""
    listed = (WORK, FUN)
    assert create(listed, section_id=9, name="New", position=None, most=5)[-1].id == 9
    assert create(listed, section_id=9, name="New", position=7, most=5)[-1].id == 9
    assert create(listed, section_id=9, name="New", position=0, most=5)[0].id == 9
    made = create(listed, section_id=9, name="New", position=1, most=5)
    assert [s.id for s in made] == [1, 9, 2]
    assert made[1] == Section(id=9, name="New", collapsed=False)


def test_create_refusals() -> None:
    """A name the list has in any case (casefold) is a conflict; a full list is
    too_many_sections (checked first); the list is never changed in place."""
    listed = (WORK, Section(id=2, name="Straße"))
    assert _code(create, listed, section_id=9, name="wORK", position=None, most=5) == \
        "conflict"
    assert _code(create, listed, section_id=9, name="STRASSE", position=None, most=5) == \
        "conflict"
    assert _code(create, listed, section_id=9, name="Work", position=None, most=2) == \
        "too_many_sections"
    assert listed == (WORK, Section(id=2, name="Straße"))


def test_edit_moves_renames_and_collapses() -> None:
    """A position is an index in the list as it will be (past the end: last); a rename to
    the same name in another case is no conflict, to another section's is; an unknown id is
    not_found."""
    listed = (WORK, FUN, OPS)
    assert [s.id for s in edit(listed, 1, position=2)] == [2, 3, 1]
    assert [s.id for s in edit(listed, 3, position=0)] == [3, 1, 2]
    assert [s.id for s in edit(listed, 1, position=99)] == [2, 3, 1]
    assert edit(listed, 2) == listed
    assert edit(listed, 2, name="FUN", collapsed=True)[1] == Section(id=2, name="FUN",
                                                                      collapsed=True)
    assert _code(edit, listed, 2, name="ops") == "conflict"
    assert _code(edit, listed, 7, collapsed=True) == "not_found"


def test_delete_and_find() -> None:
    listed = (WORK, FUN, OPS)
    assert delete(listed, 2) == (WORK, OPS)
    assert _code(delete, listed, 7) == "not_found"
    assert find(listed, 3) == OPS and find(listed, 7) is None


def test_json_round_trip() -> None:
    """The stored list is the protocol's section objects, in order; NULL is none."""
    listed = (WORK, Section(id=5, name="Café ☕", collapsed=True))
    text = sections_to_json(listed)
    assert sections_from_json(text) == listed
    assert '"name": "Café ☕"' in text
    assert sections_from_json(None) == () == sections_from_json("[]")


_NAMES = st.sampled_from(["Work", "WORK", "Fun", "Ops", "ops", "Straße", "STRASSE"])
_MOST = 4


class SectionsMachine(RuleBasedStateMachine):
    """Random creations, edits and deletions: ids and names (ignoring case) stay unique, the
    list stays within the cap, each step puts what it changes where it says and leaves the
    others in their order; a refusal changes nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.listed: tuple[Section, ...] = ()
        self.next_id = 1

    def _others_kept(self, before: tuple[Section, ...], section: int) -> None:
        assert [s.id for s in before if s.id != section] == \
            [s.id for s in self.listed if s.id != section]

    @rule(name=_NAMES, position=st.none() | st.integers(0, 6))
    def make(self, name: str, position: int | None) -> None:
        taken = any(s.name.casefold() == name.casefold() for s in self.listed)
        try:
            now = create(self.listed, section_id=self.next_id, name=name, position=position,
                         most=_MOST)
        except ChatError as exc:
            assert exc.code == ("too_many_sections" if len(self.listed) >= _MOST
                                else "conflict")
            assert taken or len(self.listed) >= _MOST
            return
        assert not taken and len(self.listed) < _MOST
        at = len(self.listed) if position is None else min(position, len(self.listed))
        assert now[at] == Section(id=self.next_id, name=name)
        before, self.listed = self.listed, now
        self._others_kept(before, self.next_id)
        self.next_id += 1

    @precondition(lambda self: self.listed)
    @rule(pick=st.integers(0, 9), name=st.none() | _NAMES,
          collapsed=st.none() | st.booleans(), position=st.none() | st.integers(0, 6))
    def change(self, pick: int, name: str | None, collapsed: bool | None,
               position: int | None) -> None:
        index = pick % len(self.listed)
        was = self.listed[index]
        try:
            now = edit(self.listed, was.id, name=name, collapsed=collapsed, position=position)
        except ChatError as exc:
            assert exc.code == "conflict" and name is not None
            assert any(s.name.casefold() == name.casefold() and s.id != was.id
                       for s in self.listed)
            return
        at = index if position is None else min(position, len(self.listed) - 1)
        assert now[at] == Section(id=was.id, name=was.name if name is None else name,
                                  collapsed=was.collapsed if collapsed is None else collapsed)
        before, self.listed = self.listed, now
        self._others_kept(before, was.id)

    @precondition(lambda self: self.listed)
    @rule(pick=st.integers(0, 9))
    def remove(self, pick: int) -> None:
        gone = self.listed[pick % len(self.listed)]
        before, self.listed = self.listed, delete(self.listed, gone.id)
        assert find(self.listed, gone.id) is None and len(self.listed) == len(before) - 1
        self._others_kept(before, gone.id)

    @rule(section=st.integers(1000, 2000))
    def unknown(self, section: int) -> None:
        assert _code(edit, self.listed, section, collapsed=True) == "not_found"
        assert _code(delete, self.listed, section) == "not_found"

    @invariant()
    def unique_and_capped(self) -> None:
        assert len({s.id for s in self.listed}) == len(self.listed) <= _MOST
        assert len({s.name.casefold() for s in self.listed}) == len(self.listed)
        assert sections_from_json(sections_to_json(self.listed)) == self.listed


TestSectionsMachine = SectionsMachine.TestCase
