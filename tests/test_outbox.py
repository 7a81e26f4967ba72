"""The connection's outbox queue: bounded for the actors, all-at-once for the writer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

from chatd.outbox import Close, Outbox, OutboxItem


async def test_take_returns_everything_queued_in_order() -> None:
    outbox = Outbox(capacity=10)
    for i in range(3):
        outbox.send_nowait(b"%d" % i)
    assert await outbox.take() == [b"0", b"1", b"2"]
    assert len(outbox) == 0


async def test_a_full_outbox_refuses_without_waiting() -> None:
    outbox = Outbox(capacity=2)
    outbox.send_nowait(b"a")
    outbox.send_nowait(b"b")
    with pytest.raises(trio.WouldBlock):
        outbox.send_nowait(b"c")
    assert await outbox.take() == [b"a", b"b"]
    outbox.send_nowait(b"c")  # room again once taken


async def test_take_waits_and_wakes_with_what_came_meanwhile() -> None:
    outbox = Outbox(capacity=10)
    taken: list[object] = []

    async def writer() -> None:
        taken.extend(await outbox.take())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer)
        await trio.testing.wait_all_tasks_blocked()
        assert taken == []
        outbox.send_nowait(b"x")
        outbox.send_nowait(Close())  # before the writer runs: one wake-up, both items
    assert taken == [b"x", Close()]


async def test_send_waits_for_room() -> None:
    outbox = Outbox(capacity=1)
    outbox.send_nowait(b"first")
    sent = trio.Event()

    async def sender() -> None:
        await outbox.send(b"second")
        sent.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender)
        await trio.testing.wait_all_tasks_blocked()
        assert not sent.is_set()
        assert await outbox.take() == [b"first"]
        await sent.wait()
    assert await outbox.take() == [b"second"]


async def test_a_waiting_take_can_be_cancelled_and_taken_again() -> None:
    outbox = Outbox(capacity=4)
    with trio.move_on_after(0.01):
        await outbox.take()
    outbox.send_nowait(b"later")
    assert await outbox.take() == [b"later"]


async def test_after_close_senders_are_refused_and_waiting_ones_woken() -> None:
    outbox = Outbox(capacity=1)
    outbox.send_nowait(b"queued")
    refused: list[type[BaseException]] = []

    async def sender() -> None:
        try:
            await outbox.send(b"never")
        except trio.BrokenResourceError as exc:
            refused.append(type(exc))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender)
        await trio.testing.wait_all_tasks_blocked()
        outbox.close()
    assert refused == [trio.BrokenResourceError]
    with pytest.raises(trio.BrokenResourceError):
        outbox.send_nowait(b"late")


async def test_a_writer_that_always_finds_work_still_lets_others_run() -> None:
    outbox = Outbox(capacity=1000)
    other_ran = trio.Event()

    async def busy_writer() -> None:
        while not other_ran.is_set():
            outbox.send_nowait(b"more")  # there is always something to take
            await outbox.take()

    async def other() -> None:
        other_ran.set()

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(busy_writer)
            nursery.start_soon(other)


@asynccontextmanager
async def waiting_writer(outbox: Outbox) -> AsyncIterator[list[OutboxItem]]:
    """A writer waiting in ``take`` for the block; the list gets what it takes (once)."""
    taken: list[OutboxItem] = []

    async def writer() -> None:
        taken.extend(await outbox.take())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer)
        await trio.testing.wait_all_tasks_blocked()
        yield taken


async def test_a_flush_writes_through_the_hook_and_leaves_the_writer_asleep() -> None:
    """``flush`` hands everything queued to ``write_now`` while the writer waits: the writer
    is not woken when all is written, and wakes with what is left (first) when not."""
    written: list[list[OutboxItem]] = []
    left: list[OutboxItem] | None = None

    def write_now(items: list[OutboxItem]) -> list[OutboxItem] | None:
        written.append(items)
        return left

    outbox = Outbox(capacity=10, write_now=write_now)
    async with waiting_writer(outbox) as taken:
        outbox.send_nowait(b"a", wake=False)
        outbox.send_nowait(b"b", wake=False)
        await trio.testing.wait_all_tasks_blocked()
        assert taken == [] and len(outbox) == 2  # queued, nobody woken
        outbox.flush()
        assert written == [[b"a", b"b"]] and len(outbox) == 0
        await trio.testing.wait_all_tasks_blocked()
        assert taken == []  # all written: the writer still waits
        left = [b"rest of c"]
        outbox.send_nowait(b"c", wake=False)
        outbox.send_nowait(b"d", wake=False)
        outbox.flush()
    assert written[-1] == [b"c", b"d"]
    assert taken == [b"rest of c"]


async def test_a_flush_leaves_a_busy_writer_its_queue() -> None:
    """While the writer is not waiting (it is writing), a flush does nothing: the writer
    takes what is queued, in order, when it comes back."""
    calls: list[list[OutboxItem]] = []

    def write_now(items: list[OutboxItem]) -> None:
        calls.append(items)

    outbox = Outbox(capacity=10, write_now=write_now)
    outbox.send_nowait(b"x", wake=False)
    outbox.flush()
    assert calls == [] and await outbox.take() == [b"x"]


async def test_without_a_hook_a_flush_wakes_the_writer() -> None:
    outbox = Outbox(capacity=10)
    async with waiting_writer(outbox) as taken:
        outbox.send_nowait(b"y", wake=False)
        outbox.flush()
    assert taken == [b"y"]


async def test_a_hook_that_fails_leaves_the_items_to_the_writer(
        caplog: pytest.LogCaptureFixture) -> None:
    """A ``write_now`` that raises does not raise in the caller (the registry, the
    committer): the error is logged and the writer is woken with every item."""

    def broken(items: list[OutboxItem]) -> list[OutboxItem] | None:
        raise RuntimeError("a bug")

    outbox = Outbox(capacity=10, write_now=broken)
    async with waiting_writer(outbox) as taken:
        outbox.send_nowait(b"p", wake=False)
        outbox.send_nowait(b"q", wake=False)
        outbox.flush()
    assert taken == [b"p", b"q"]
    assert "writing at once failed" in caplog.text
