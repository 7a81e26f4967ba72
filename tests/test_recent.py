"""chatd.recent: the frames published lately, by room and seq, for the connections' repairs."""

from __future__ import annotations

import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from chatd.delivery import Delivery
from chatd.recent import RecentEntries


def _d(room: str, seq: int) -> Delivery:
    return Delivery(room, seq, f"{room}:{seq}\n".encode())


def test_a_range_is_found_only_whole() -> None:
    recent = RecentEntries()
    recent.published([_d("a", 5), _d("a", 6), _d("b", 1)])
    assert recent.get("a", 4, 6) == b"a:5\na:6\n"
    assert recent.get("a", 5, 6) == b"a:6\n"
    assert recent.get("a", 4, 7) is None  # seq 7 not published
    assert recent.get("a", 3, 6) is None  # nor seq 4
    assert recent.get("c", 0, 1) is None


@given(seqs=st.lists(st.integers(1, 60), max_size=200), most=st.integers(0, 400))
def test_the_bound_forgets_the_oldest_first(seqs: list[int], most: int) -> None:
    """Whatever is published, the kept frames stay within the bound, the newest kept; a
    range is found exactly when each of its seqs is kept."""
    recent = RecentEntries(most_bytes=most)
    recent.published(_d("room", seq) for seq in seqs)
    kept: list[int] = []
    size = 0
    for seq in reversed(list(dict.fromkeys(seqs))):  # first publication of each, newest first
        size += len(_d("room", seq).data)
        if size > most:
            break
        kept.append(seq)
    for seq in range(1, 61):
        assert (recent.get("room", seq - 1, seq) is not None) == (seq in kept)


async def test_a_repair_waits_for_its_range_then_gives_up(
        autojump_clock: trio.testing.MockClock) -> None:
    """wait_for returns the frames once the missing entry is published, or None after the
    wait (the caller then reads the database)."""
    recent = RecentEntries(wait=1.0)
    recent.published([_d("a", 7)])
    got: list[bytes | None] = []
    async with trio.open_nursery() as nursery:
        async def repair() -> None:
            got.append(await recent.wait_for("a", 5, 7))

        nursery.start_soon(repair)
        await trio.sleep(0.1)
        recent.published([_d("b", 6)])  # another room: still waiting
        await trio.sleep(0.1)
        assert got == []
        recent.published([_d("a", 6)])
    assert got == [b"a:6\na:7\n"]
    assert await recent.wait_for("a", 7, 8) is None


def test_a_deleted_room_is_forgotten() -> None:
    """A room deleted, then made again under its name, starts at seq 1: nothing of the old
    one may fill its gaps; and the bound still holds."""
    recent = RecentEntries(most_bytes=12)
    recent.published([_d("a", 1), _d("a", 2)])
    recent.forget("a")
    assert recent.get("a", 0, 1) is None
    recent.published([Delivery("a", 1, b"new\n"), _d("b", 1), _d("b", 2), _d("b", 3)])
    assert recent.get("b", 1, 3) == b"b:2\nb:3\n"
    assert recent.get("a", 0, 1) is None  # the oldest, forgotten for the bound


async def test_repairs_of_one_range_read_it_once() -> None:
    """Repairs of the same range at the same time share one read; a read that fails (here,
    cancelled with its connection) leaves the others to read for themselves."""
    recent = RecentEntries()
    reads = 0
    release = trio.Event()

    async def read() -> bytes:
        nonlocal reads
        reads += 1
        await release.wait()
        return b"a:6\n"

    got: list[bytes] = []

    async def repair() -> None:
        got.append(await recent.read_once("a", 5, 6, read))

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(repair)
        await trio.testing.wait_all_tasks_blocked()
        release.set()
    assert (reads, got) == (1, [b"a:6\n"] * 3)

    release = trio.Event()
    reads = 0
    first = trio.CancelScope()

    async def cancelled() -> None:
        with first:
            await recent.read_once("a", 5, 6, read)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(cancelled)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(repair)
        await trio.testing.wait_all_tasks_blocked()
        first.cancel()
        await trio.testing.wait_all_tasks_blocked()
        release.set()
    assert reads == 2 and got[-1] == b"a:6\n"


async def test_a_node_alone_keeps_nothing_and_never_waits(
        autojump_clock: trio.testing.MockClock) -> None:
    """Alone, every entry is published here in seq order: a gap is never filled by a
    publication, so nothing is kept and a repair reads at once instead of waiting in vain.
    Once another node is alive it keeps and waits again; alone again, it forgets."""
    recent = RecentEntries(wait=1.0)
    recent.share(False)
    recent.published([_d("a", 6), _d("a", 7)])
    assert recent.get("a", 5, 7) is None
    started = trio.current_time()
    assert await recent.wait_for("a", 5, 7) is None
    assert trio.current_time() == started  # no wait at all

    recent.share(True)
    recent.published([_d("a", 6), _d("a", 7)])
    assert await recent.wait_for("a", 5, 7) == b"a:6\na:7\n"
    recent.share(False)
    assert recent.get("a", 5, 7) is None
    recent.share(True)
    assert recent.get("a", 5, 7) is None  # forgotten, not hidden
    assert await recent.wait_for("a", 5, 7) is None
    assert trio.current_time() == started + 1.0
