"""``chatd.actions.session.resume_reads``: how a hello's resume is cut into reads. Every room
once, in the order of ``resume`` (the catch-up's order); one read while what the rooms missed
fits the budget, a new one past it, a room never split; a room past ``most`` (a gap, whose
entries are not read) counts one."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from chatd.actions.session import RESUME_READ_ENTRIES, resume_reads


def cost(seen: int, head: int, most: int) -> int:
    missed = head - seen
    return 1 + (missed if 0 < missed <= most else 0)


_rooms = st.lists(st.tuples(st.integers(0, 50), st.integers(-3, 60)), max_size=40)


@given(rooms=_rooms, most=st.integers(0, 40), budget=st.integers(1, 120))
def test_reads_cover_the_rooms_in_order_within_the_budget(
        rooms: list[tuple[int, int]], most: int, budget: int) -> None:
    resume = {f"r{i}": seen for i, (seen, _) in enumerate(rooms)}
    heads = {f"r{i}": max(0, seen + ahead) for i, (seen, ahead) in enumerate(rooms)}
    parts = list(resume_reads(resume, heads, most, budget=budget))
    assert [room for part in parts for room in part] == list(resume)
    assert all(part and part == {room: resume[room] for room in part} for part in parts)
    sums = [sum(cost(seen, heads[room], most) for room, seen in part.items()) for part in parts]
    for part, total in zip(parts, sums, strict=True):
        assert total <= budget or len(part) == 1
    # Greedy: a read ends only when the next room would not fit.
    for part, following in itertools.pairwise(parts):
        first = next(iter(following))
        total = sum(cost(seen, heads[room], most) for room, seen in part.items())
        assert total + cost(resume[first], heads[first], most) > budget


def test_a_thousand_rooms_of_a_few_entries_are_one_read() -> None:
    """The everyday resume: 1,000 rooms, 5 missed each, is one read; a thousand gaps too."""
    resume = {f"r{i}": 10 for i in range(1000)}
    assert len(list(resume_reads(resume, dict.fromkeys(resume, 15), 1000))) == 1
    assert len(list(resume_reads(resume, dict.fromkeys(resume, 5000), 1000))) == 1
    assert RESUME_READ_ENTRIES >= 5 * 1000 + 1000
    # 1,000 rooms of 1,000 missed each: reads of at most RESUME_READ_ENTRIES entries.
    parts = list(resume_reads(resume, dict.fromkeys(resume, 1010), 1000))
    per_read = RESUME_READ_ENTRIES // 1001
    assert [len(part) for part in parts[:-1]] == [per_read] * (len(parts) - 1)
    assert len(parts) == -(-1000 // per_read)
