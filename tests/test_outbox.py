"""The connection's outbox queue: bounded for the actors, all-at-once for the writer."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from chatd.outbox import Close, Outbox


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
