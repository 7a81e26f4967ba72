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


async def test_cancel_waits_for_the_asyncio_task() -> None:
    """Cancelling the trio caller cancels the asyncio task, and the caller resumes only
    after that task has finished unwinding."""
    events: list[str] = []

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            events.append("cancelled")
            await asyncio.sleep(0.05)  # cleanup that takes a while, as a pool release can
            events.append("cleaned up")
            raise

    with trio.fail_after(TIMEOUT):
        async with open_bridge() as bridge:
            with trio.move_on_after(0.05) as scope:
                await bridge.run(slow)
            assert scope.cancelled_caught
            assert events == ["cancelled", "cleaned up"]
            assert await bridge.run(add, 1, 1) == 2  # still usable


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


async def test_completed_despite_cancel_returns_result() -> None:
    """An asyncio task that ignores the cancellation still hands back its result; the
    caller's cancellation is then delivered at its next checkpoint."""

    async def stubborn() -> str:
        task = asyncio.current_task()
        assert task is not None
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            task.uncancel()
        return "done"

    with trio.fail_after(TIMEOUT):
        async with open_bridge() as bridge:
            got: list[str] = []
            with trio.move_on_after(0.05) as scope:
                got.append(await bridge.run(stubborn))
                await trio.lowlevel.checkpoint()
            assert scope.cancelled_caught
            assert got == ["done"]


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
