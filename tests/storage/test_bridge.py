"""Tests of the trio-to-asyncio bridge (chatd/storage/bridge.py), with plain asyncio coroutines.

Every test bounds its waits with ``trio.fail_after``: a lost wake-up must fail, not hang.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatd.storage.bridge import ROUNDS, AsyncioBridge, BridgeClosed, open_bridge

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
            # On trio's own thread: no thread of its own to hand calls to and back.
            assert await bridge.run(thread_name) == threading.current_thread().name


async def tick(ticks: list[int], interval: float) -> None:
    """A trio task that counts how often it gets to run."""
    while True:
        ticks[0] += 1
        await trio.sleep(interval)


async def test_calls_run_concurrently_without_blocking_trio() -> None:
    """Calls overlap on the loop, and trio keeps running other tasks while they wait."""
    ticks = [0]
    with trio.fail_after(TIMEOUT):
        async with open_bridge() as bridge, trio.open_nursery() as nursery:
            nursery.start_soon(tick, ticks, 0.01)
            start = trio.current_time()
            async with trio.open_nursery() as calls:
                for _ in range(20):
                    calls.start_soon(bridge.run, asyncio.sleep, 0.2)
            assert trio.current_time() - start < 2
            assert ticks[0] >= 5
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


async def test_a_burst_of_calls_is_started_by_two_iterations() -> None:
    """Calls made in one trio batch are started by two iterations of the loop (the first
    call's own, and the starter's for all the others); each caller gets its own result."""
    async with open_bridge() as bridge:
        assert await bridge.run(add, 1, 1) == 2  # the bridge's tasks are running
        await trio.testing.wait_all_tasks_blocked()
        iterations = 0
        iterate = bridge._iterate

        def counted() -> None:
            nonlocal iterations
            iterations += 1
            iterate()

        bridge._iterate = counted  # type: ignore[method-assign]
        results: dict[int, int] = {}
        started: list[int] = []

        async def note(i: int) -> int:
            started.append(i)
            return i * 2

        async def one(i: int) -> None:
            results[i] = await bridge.run(note, i)

        with trio.fail_after(TIMEOUT):
            async with trio.open_nursery() as nursery:
                for i in range(50):
                    nursery.start_soon(one, i)
                await trio.testing.wait_all_tasks_blocked()
        assert sorted(started) == list(range(50))
        assert results == {i: i * 2 for i in range(50)}
        # The first call's, then the starter's for the 49 others (their done-callbacks run
        # in its later rounds): never one per call.
        assert iterations <= 2


async def test_a_lone_call_leaves_before_its_caller_parks() -> None:
    """The first call since the loop last ran starts its coroutine in the caller's own
    task (its statement leaves before trio runs anything else); a call made right after,
    in the same trio batch, is started by the bridge's starter task."""
    async with open_bridge() as bridge:
        assert await bridge.run(add, 1, 1) == 2  # the bridge's tasks are running
        await trio.testing.wait_all_tasks_blocked()
        ran_in: dict[str, trio.lowlevel.Task] = {}
        callers: dict[str, trio.lowlevel.Task] = {}

        async def note(name: str) -> str:
            ran_in[name] = trio.lowlevel.current_task()  # the trio task running the loop
            await asyncio.sleep(0)
            return name

        async def call(name: str) -> None:
            callers[name] = trio.lowlevel.current_task()
            assert await bridge.run(note, name) == name

        with trio.fail_after(TIMEOUT):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(call, "first")
                nursery.start_soon(call, "second")
        # Whichever trio ran first started its own; the other's was the starter's.
        own = [name for name in callers if ran_in[name] is callers[name]]
        assert len(own) == 1, ran_in
        assert len(set(ran_in.values())) == 2


async def test_a_lone_call_wakes_no_task_of_the_bridge() -> None:
    """At everyday load (one call, the loop idle) the caller's own iteration is all it
    takes: the starter is not woken for it, before or after (each wake a pass through
    trio's scheduler, at every send)."""

    class Steps(trio.abc.Instrument):
        def __init__(self) -> None:
            self.tasks: list[str] = []

        def before_task_step(self, task: trio.lowlevel.Task) -> None:
            self.tasks.append(task.name)

    async with open_bridge(name="lone") as bridge:
        assert await bridge.run(add, 1, 1) == 2  # the bridge's tasks are running
        await trio.testing.wait_all_tasks_blocked()
        steps = Steps()
        trio.lowlevel.add_instrument(steps)
        try:
            with trio.fail_after(TIMEOUT):
                assert await bridge.run(add, 2, 2) == 4  # done within its own iteration
                await trio.testing.wait_all_tasks_blocked()
        finally:
            trio.lowlevel.remove_instrument(steps)
        assert "lone" not in steps.tasks, steps.tasks


async def test_an_asyncio_timer_fires_while_nothing_else_happens() -> None:
    """A timer of the loop (asyncpg's timeouts) wakes it by itself: no I/O, no other call.
    And a timer set while the pump waits for a later one is not held up by it."""
    with trio.fail_after(TIMEOUT):
        async with open_bridge() as bridge, trio.open_nursery() as nursery:
            nursery.start_soon(bridge.run, asyncio.sleep, 60)  # the pump waits for this one
            await trio.testing.wait_all_tasks_blocked()
            start = trio.current_time()
            assert await bridge.run(asyncio.sleep, 0.05, "woke") == "woke"
            assert trio.current_time() - start < 5  # not the 60 s timer's
            nursery.cancel_scope.cancel()


async def test_the_loops_sockets_wake_it() -> None:
    """Data on a socket of the loop (a server's reply) wakes the loop with nothing else
    happening: trio waits on the loop's selector. The reply takes three rounds of the loop
    (the data, the task's step, its done-callback), and only the first polls the selector:
    each poll is a system call, at every statement (what the later rounds would have found
    keeps the selector readable, so the next iteration comes at once)."""
    ours, theirs = socket.socketpair()
    with ours, theirs, trio.fail_after(TIMEOUT):
        async with open_bridge() as bridge:
            ours.setblocking(False)
            selector = bridge._selector
            polls: list[float | None] = []
            select = selector.select

            def counted(timeout: float | None = None) -> Any:
                polls.append(timeout)
                return select(timeout)

            async def receive() -> bytes:
                return await asyncio.get_running_loop().sock_recv(ours, 100)

            async with trio.open_nursery() as nursery:
                got: list[bytes] = []

                async def reader() -> None:
                    got.append(await bridge.run(receive))

                nursery.start_soon(reader)
                await trio.testing.wait_all_tasks_blocked()
                assert not got
                selector.select = counted  # type: ignore[method-assign]
                await trio.to_thread.run_sync(theirs.sendall, b"reply")  # another thread
            assert got == [b"reply"]
            assert polls == [0], polls


async def test_another_threads_callback_wakes_it() -> None:
    """The loop's executor (asyncpg resolves host names there) hands its result back with
    ``call_soon_threadsafe``: that wakes the loop too."""
    finish = threading.Event()

    def blocking() -> str:
        return "done" if finish.wait(TIMEOUT) else "timed out"

    async def in_executor() -> str:
        return await asyncio.get_running_loop().run_in_executor(None, blocking)

    with trio.fail_after(TIMEOUT):
        async with open_bridge() as bridge, trio.open_nursery() as nursery:
            got: list[str] = []

            async def caller() -> None:
                got.append(await bridge.run(in_executor))

            nursery.start_soon(caller)
            await trio.testing.wait_all_tasks_blocked()
            finish.set()
        assert got == ["done"]


async def test_a_busy_coroutine_does_not_starve_trio() -> None:
    """A coroutine that never waits on anything (``sleep(0)`` forever) runs ``ROUNDS``
    rounds at a time; trio's tasks run in between, and can cancel it."""
    spins = 0

    async def spin() -> None:
        nonlocal spins
        while True:
            spins += 1
            await asyncio.sleep(0)

    ticks = [0]
    with trio.fail_after(TIMEOUT):
        async with open_bridge() as bridge, trio.open_nursery() as nursery:
            nursery.start_soon(tick, ticks, 0)
            with trio.move_on_after(0.2) as scope:
                await bridge.run(spin)
            nursery.cancel_scope.cancel()
            assert scope.cancelled_caught
            assert spins > ROUNDS
            assert ticks[0] > 10  # a trio task ran again and again meanwhile
            while bridge.unwinding:  # noqa: ASYNC110 (a count kept by the bridge)
                await trio.sleep(0.01)


async def test_a_bridge_serves_one_trio_run() -> None:
    """A bridge belongs to the trio run that first called it: another run is refused
    clearly, not served by tasks that run elsewhere."""
    bridge = AsyncioBridge()
    try:
        assert await bridge.run(add, 1, 2) == 3

        def elsewhere() -> None:
            async def call() -> None:
                await bridge.run(add, 1, 2)

            trio.run(call)

        with pytest.raises(RuntimeError, match="trio run"):
            await trio.to_thread.run_sync(elsewhere)
    finally:
        await bridge.aclose()


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["finish", "cancel", "raise"])),
                min_size=1, max_size=12),
       st.booleans())
def test_every_call_ends_once_whatever_the_interleaving(
        calls: list[tuple[int, str]], close_early: bool) -> None:
    """Any mix of calls that finish after some steps of the loop, raise, or are cancelled
    by their caller, with the bridge closed under them or not: each caller ends exactly
    once, with its own outcome (or BridgeClosed, once closed); nothing is left unwinding."""
    async def body(steps: int, fate: str, i: int) -> int:
        for _ in range(steps):
            await asyncio.sleep(0)
        if fate == "raise":
            raise KeyError(i)
        if fate == "cancel":
            await asyncio.sleep(60)
        return i

    async def main() -> None:
        bridge = AsyncioBridge()
        ended: dict[int, object] = {}

        async def caller(i: int, steps: int, fate: str) -> None:
            with trio.move_on_after(0.05 if fate == "cancel" else 60) as scope:
                try:
                    ended[i] = await bridge.run(body, steps, fate, i)
                except KeyError as exc:
                    ended[i] = ("raised", exc.args[0])
                except BridgeClosed:
                    ended[i] = "closed"
            if scope.cancelled_caught:
                assert i not in ended
                ended[i] = "cancelled"

        with trio.fail_after(TIMEOUT):
            async with trio.open_nursery() as nursery:
                for i, (steps, fate) in enumerate(calls):
                    nursery.start_soon(caller, i, steps, fate)
                if close_early:
                    await trio.lowlevel.checkpoint()
                    await bridge.aclose()
            await bridge.aclose()
        assert sorted(ended) == list(range(len(calls)))
        for i, (_steps, fate) in enumerate(calls):
            expected = {"finish": i, "raise": ("raised", i), "cancel": "cancelled"}[fate]
            assert ended[i] in (expected, "closed") if close_early else ended[i] == expected
        assert bridge.unwinding == 0

    trio.run(main)
