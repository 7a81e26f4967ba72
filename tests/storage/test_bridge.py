"""Tests of the trio-to-asyncio bridge (chatd/storage/bridge.py), with plain asyncio coroutines.

Every test bounds its waits with ``trio.fail_after``: a lost wake-up must fail, not hang.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
import trio

from chatd.storage.bridge import AsyncioBridge, BridgeClosed, open_bridge

TIMEOUT = 10


async def add(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


async def fail() -> None:
    await asyncio.sleep(0)
    raise KeyError("boom")


async def thread_name() -> str:
    return threading.current_thread().name


async def test_run_returns_and_raises() -> None:
    """A coroutine's result comes back, and so does its exception, unchanged."""
    with trio.fail_after(TIMEOUT):
        async with open_bridge(name="test-loop") as bridge:
            assert await bridge.run(add, 2, 3) == 5
            with pytest.raises(KeyError, match="boom"):
                await bridge.run(fail)
            assert await bridge.run(thread_name) == "test-loop"


async def test_calls_run_concurrently_without_blocking_trio() -> None:
    """Calls overlap on the loop, and trio keeps running other tasks while they wait."""
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await trio.sleep(0.01)

    with trio.fail_after(TIMEOUT):
        async with open_bridge() as bridge, trio.open_nursery() as nursery:
            nursery.start_soon(ticker)
            start = trio.current_time()
            async with trio.open_nursery() as calls:
                for _ in range(20):
                    calls.start_soon(bridge.run, asyncio.sleep, 0.2)
            assert trio.current_time() - start < 2
            assert ticks >= 5
            nursery.cancel_scope.cancel()


async def test_cancel_returns_at_once_and_the_task_unwinds_behind() -> None:
    """Cancelling the trio caller returns at once, even while the asyncio task is stuck in its
    cleanup (as a pool release is with a server stopped by SIGSTOP); that task is cancelled and
    finishes in the background, counted by ``unwinding`` until it has."""
    events: list[str] = []
    release: asyncio.Event | None = None

    async def stuck() -> None:
        nonlocal release
        release = asyncio.Event()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            events.append("cancelled")
            await release.wait()  # cleanup that waits on a server that does not answer
            events.append("cleaned up")
            raise

    async def let_go() -> None:
        assert release is not None
        release.set()

    with trio.fail_after(TIMEOUT):
        async with open_bridge() as bridge:
            with trio.move_on_after(0.05) as scope:
                await bridge.run(stuck)
            assert scope.cancelled_caught
            assert "cleaned up" not in events
            assert bridge.unwinding == 1
            assert await bridge.run(add, 1, 1) == 2  # still usable meanwhile
            await bridge.run(let_go)
            while bridge.unwinding:  # noqa: ASYNC110 (a count, set from the loop thread)
                await trio.sleep(0.01)
            assert events == ["cancelled", "cleaned up"]


async def test_cancel_before_start() -> None:
    """A caller cancelled before its coroutine even started is not left hanging."""
    with trio.fail_after(TIMEOUT):
        async with open_bridge() as bridge:
            for _ in range(50):
                with trio.CancelScope() as scope:
                    scope.cancel()
                    await bridge.run(asyncio.sleep, 10)
                assert scope.cancelled_caught
            with trio.move_on_after(0):
                await bridge.run(asyncio.sleep, 10)


async def test_a_result_after_the_cancel_is_dropped() -> None:
    """An asyncio task that ignores the cancellation and returns a value does not wake the
    caller a second time: the caller has already gone on with ``Cancelled``."""
    finished = threading.Event()

    async def stubborn() -> str:
        task = asyncio.current_task()
        assert task is not None
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            task.uncancel()
        finished.set()
        return "done"

    with trio.fail_after(TIMEOUT):
        async with open_bridge() as bridge:
            got: list[str] = []
            with trio.move_on_after(0.05) as scope:
                got.append(await bridge.run(stubborn))
            assert scope.cancelled_caught
            while bridge.unwinding:  # noqa: ASYNC110 (a count, set from the loop thread)
                await trio.sleep(0.01)
            assert finished.is_set()
            assert got == []
            assert await bridge.run(add, 2, 2) == 4


async def test_close_ends_pending_and_later_calls() -> None:
    """Closing the bridge ends a running call with BridgeClosed and refuses new ones."""
    with trio.fail_after(TIMEOUT):
        bridge = AsyncioBridge()
        outcome: list[BaseException] = []

        async def waiter(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            task_status.started()
            try:
                await bridge.run(asyncio.sleep, 10)
            except BridgeClosed as exc:
                outcome.append(exc)

        async with trio.open_nursery() as nursery:
            await nursery.start(waiter)
            await trio.sleep(0.05)
            await bridge.aclose()
        assert len(outcome) == 1
        assert bridge.closed
        with pytest.raises(BridgeClosed):
            await bridge.run(add, 1, 2)
        await bridge.aclose()  # idempotent


async def test_not_a_coroutine_function_raises() -> None:
    """Passing something that does not make a coroutine raises instead of hanging."""

    def not_async() -> None:
        raise ValueError("sync")

    with trio.fail_after(TIMEOUT):
        async with open_bridge() as bridge:
            with pytest.raises(ValueError, match="sync"):
                await bridge.run(not_async)  # type: ignore[arg-type]


async def test_a_burst_of_calls_wakes_each_thread_once() -> None:
    """Calls made while the loop has not started the previous ones yet are started
    together (one wake-up of its thread), and outcomes ready together reach trio together;
    each caller gets its own result."""
    entered, release = threading.Event(), threading.Event()

    async def hold() -> None:  # keeps the loop's thread busy until released
        entered.set()
        release.wait(TIMEOUT)

    with trio.fail_after(TIMEOUT):
        async with open_bridge() as bridge:
            starts = delivers = 0
            start_all, deliver_all = bridge._start_all, bridge._deliver_all

            def count_start() -> None:
                nonlocal starts
                starts += 1
                start_all()

            def count_deliver() -> None:
                nonlocal delivers
                delivers += 1
                deliver_all()

            bridge._start_all, bridge._deliver_all = count_start, count_deliver  # type: ignore[method-assign]
            results: dict[int, int] = {}

            async def one(i: int) -> None:
                results[i] = await bridge.run(add, i, 1000)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(bridge.run, hold)
                await trio.to_thread.run_sync(entered.wait, TIMEOUT)
                for i in range(50):
                    nursery.start_soon(one, i)
                await trio.testing.wait_all_tasks_blocked()
                release.set()
            assert results == {i: i + 1000 for i in range(50)}
            assert starts == 2  # hold's call, then the fifty at once
            assert delivers < 51
