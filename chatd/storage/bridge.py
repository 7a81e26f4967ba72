"""Run asyncio coroutines (asyncpg) from trio, on trio's own thread.

Theory of operation
-------------------
asyncpg speaks only asyncio and chatd runs on trio. The storage layer owns one asyncio event
loop that is never left running: trio's thread runs its iterations, when there is something
for it to do, and *every* asyncpg call, pool creation included, is a coroutine run on that
loop. A trio task crosses over with :meth:`AsyncioBridge.run`:

1. ``run`` starts the coroutine as a task of the loop and runs an iteration itself, in the
   caller's task, when it is the first call since the bridge's tasks last iterated the
   loop: the statement leaves before the caller parks, and no task of the bridge wakes until
   the reply (at everyday load, where calls come one at a time, fewer passes through trio's
   scheduler per call).
   Later calls, until the pump (step 3) or the starter iterates again, ask a task of the
   bridge (the *starter*) for one, which runs it, once for all of them, before trio next
   waits for I/O. So a statement leaves in the batch that made it, and a burst of calls costs
   two iterations;
2. the trio task parks in :func:`trio.lowlevel.wait_task_rescheduled`, and trio goes on;
3. the loop's selector is an epoll descriptor, readable while any socket of the loop is: a
   second task of the bridge (the *pump*) waits on it with :func:`trio.lowlevel.wait_readable`
   (the server's reply, a notification, a write that can go on), and for the loop's next timer
   with a deadline (asyncpg's timeouts), and runs an iteration for either. Another thread's
   ``call_soon_threadsafe`` (an executor's result) writes the loop's self-pipe, which its
   selector watches: that wakes the pump too;
4. when the asyncio task is done, its done-callback reschedules the trio task with the
   outcome, directly: everything here runs on trio's thread, so there is nothing to hand over.

An iteration is what ``run_forever`` does once after ``stop()``: a poll of the selector with a
zero timeout, then the callbacks ready (asyncio's own ``_run_once``, called as ``run_forever``
calls it). Then it runs what those callbacks made ready, in rounds, until none is left (a
reply takes three rounds: the data, the task's step, its done-callback), at most ``ROUNDS``
before trio runs again. Those later rounds do not poll the selector again nor look at the
timers, as ``run_forever`` would: that would be two more system calls per statement, and
what they would find keeps the selector readable, so the next iteration comes at once. With
``_ready`` and ``_scheduled`` (what is due) these are private names of CPython's
``BaseEventLoop`` and ``Handle``, unchanged from 3.8 to 3.13, checked when a bridge is made (a
Python that changed them fails at start, and in tests/storage/test_bridge.py, not later).

Why not a thread of its own, as this bridge was first: each call then woke the loop's thread
(its self-pipe) and the reply woke trio's (``run_sync_soon``), with the GIL passed twice. One
thread saves those: ``SELECT 1`` after 10 ms idle costs 0.1 ms less CPU, back to back 0.13 against
0.22 ms, and a node's commit notices wake one thread instead of two (benchmarks/README.md,
"the storage loop on trio's thread"). Nor trio-asyncio: 1,900-2,500 inserts/s from 50 tasks
there against 4,400-4,500 for the threaded bridge, and no cheaper per call.

What runs on the loop runs on trio's thread, so it must not block: asyncpg never does (it
resolves host names in the loop's executor); hashing and file I/O stay in
``trio.to_thread`` as everywhere in chatd. A bridge serves the trio run that first calls it.

Cancellation returns at once. When the trio task is cancelled, the abort callback cancels the
asyncio task and the trio task raises ``Cancelled`` right away, without waiting for that
asyncio task to unwind: a server that does not answer (stopped with SIGSTOP, or behind a dead
network) may never let it unwind, and a caller with a deadline (``/healthz``, a send) must get
its answer by that deadline. The asyncio task then finishes on its own, its outcome dropped
(:attr:`AsyncioBridge.unwinding` counts the calls still unwinding). Whoever runs coroutines
here must make that unwinding prompt and leave nothing behind: the storage terminates a
connection whose call was cancelled (``chatd/storage/postgres.py``), so that it goes back to
the pool at once instead of waiting for the server to acknowledge a cancel request.

:meth:`AsyncioBridge.aclose` refuses new calls, cancels whatever still runs on the loop (those
callers get :class:`BridgeClosed`), waits for it to finish, and closes the loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import selectors
import sys
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar, TypeVarTuple, Unpack

import outcome
import trio

__all__ = ["ROUNDS", "AsyncioBridge", "BridgeClosed", "open_bridge"]

log = logging.getLogger("chatd.storage")

T = TypeVar("T")
PosArgsT = TypeVarTuple("PosArgsT")

#: Rounds of the asyncio loop one iteration runs at most before trio runs again: a reply
#: takes three, a coroutine that keeps scheduling itself must not starve trio.
ROUNDS = 16

#: What the bridge uses of asyncio's ``BaseEventLoop`` beyond its public API.
_LOOP_INTERNALS = ("_run_once", "_ready", "_scheduled", "_stopping", "_thread_id",
                   "_asyncgen_firstiter_hook", "_asyncgen_finalizer_hook")
#: And of its ``Handle`` (a callback made ready), to run the later rounds of an iteration.
_HANDLE_INTERNALS = ("_run", "_cancelled")


class BridgeClosed(RuntimeError):
    """The bridge is closed, or was closed while the call was running."""


class _Call(Generic[T]):
    """One call: its trio task, and whether it has gone on without the outcome."""

    __slots__ = ("abandoned", "bridge", "early", "inline", "trio_task")

    def __init__(self, bridge: AsyncioBridge, trio_task: trio.lowlevel.Task) -> None:
        self.bridge = bridge
        self.trio_task = trio_task
        self.abandoned = False
        # While the caller runs the loop itself (not parked yet), an outcome is kept here.
        self.inline = False
        self.early: outcome.Outcome[Any] | None = None

    def finish(self, task: asyncio.Task[T]) -> None:
        """Done-callback of the asyncio task: resume the caller with the outcome, unless it
        was cancelled and has gone on already."""
        result: outcome.Outcome[Any]
        if task.cancelled():
            result = outcome.Error(BridgeClosed("the storage event loop was shut down"))
        else:
            exc = task.exception()
            result = outcome.Value(task.result()) if exc is None else outcome.Error(exc)
        if self.abandoned:
            self.bridge.unwinding -= 1
            if isinstance(result, outcome.Error) and not isinstance(result.error, BridgeClosed):
                log.debug("a cancelled storage call ended with %r", result.error)
            return
        if self.inline:
            self.early = result
            return
        trio.lowlevel.reschedule(self.trio_task, result)


class AsyncioBridge:
    """An asyncio event loop whose coroutines trio tasks can await, run by trio's thread.

    Create it with :func:`open_bridge` (or construct it and call :meth:`aclose` when done).
    Any number of trio tasks of one run may call :meth:`run` concurrently; their coroutines
    run concurrently on the loop.
    """

    def __init__(self, *, name: str = "chatd-storage-loop") -> None:
        self._name = name
        self._selector = selectors.EpollSelector()
        self._loop = asyncio.SelectorEventLoop(self._selector)
        missing = [attr for attr in _LOOP_INTERNALS if not hasattr(self._loop, attr)]
        missing += [f"Handle.{attr}" for attr in _HANDLE_INTERNALS
                    if not hasattr(asyncio.Handle, attr)]
        if missing:
            self._loop.close()
            raise RuntimeError(f"this Python's asyncio loop lacks {', '.join(missing)}: "
                               "chatd's storage bridge cannot drive it")
        self._closing = False
        self._token: trio.lowlevel.TrioToken | None = None
        # An iteration is wanted (a call, a cancel); the starter, while it waits for one.
        self._poked = False
        self._starter_task: trio.lowlevel.Task | None = None
        # A call ran an iteration itself, and the loop has not been iterated by the pump or
        # the starter since: later calls leave theirs to the starter (see run).
        self._inline_turn = False
        # The pump's wait for the selector, whose deadline is the loop's next timer.
        self._idle: trio.CancelScope | None = None
        self._finished = False
        self._stopped = 0
        self._done = trio.Event()
        #: Calls whose trio caller was cancelled and whose asyncio task has not finished yet.
        self.unwinding = 0

    @property
    def closed(self) -> bool:
        return self._closing

    def _iterate(self) -> None:
        """Run the loop once, as its ``run_forever`` would after ``stop()`` (the selector
        polled with a zero timeout), then what that made ready, until none is (at most
        ``ROUNDS`` rounds in all)."""
        loop: Any = self._loop
        hooks = sys.get_asyncgen_hooks()
        sys.set_asyncgen_hooks(firstiter=loop._asyncgen_firstiter_hook,
                               finalizer=loop._asyncgen_finalizer_hook)
        loop._thread_id = threading.get_ident()
        asyncio.events._set_running_loop(loop)
        try:
            loop._stopping = True  # a zero timeout for the selector, as after stop()
            loop._run_once()
            # Then only what that made ready (a reply's task step, then its done-callback),
            # without polling the selector again (see the module docstring).
            ready = loop._ready
            for _ in range(ROUNDS - 1):
                if not ready:
                    break
                for _ in range(len(ready)):
                    handle = ready.popleft()
                    if not handle._cancelled:
                        handle._run()
        finally:
            loop._stopping = False
            loop._thread_id = None
            asyncio.events._set_running_loop(None)
            sys.set_asyncgen_hooks(*hooks)
        idle = self._idle
        if idle is not None:
            # The pump's wait ends at the loop's next timer, or at once for what is still
            # ready. A timer later than the wait's end changes nothing: the wait ends early,
            # finds nothing due, and waits again (asyncpg's per-statement timeouts are
            # set and cancelled once a call: this costs one early wake per timeout's length).
            deadline = self._deadline()
            if deadline < idle.deadline:
                idle.deadline = deadline

    def _deadline(self) -> float:
        """The trio time of the loop's next due callback: now if one is ready."""
        loop: Any = self._loop
        if loop._ready:
            return -math.inf
        scheduled = loop._scheduled
        if not scheduled:
            return math.inf
        due: float = scheduled[0].when()
        return trio.current_time() + max(0.0, due - self._loop.time())

    def _poke(self) -> None:
        """Have the starter run an iteration before trio next waits (once for all the pokes
        of a batch)."""
        if self._poked:
            return
        self._poked = True
        if self._starter_task is not None:
            task, self._starter_task = self._starter_task, None
            trio.lowlevel.reschedule(task)

    async def _starter(self) -> None:
        while True:
            if not self._poked:
                self._starter_task = trio.lowlevel.current_task()
                await trio.lowlevel.wait_task_rescheduled(
                    lambda _: trio.lowlevel.Abort.SUCCEEDED)
            self._inline_turn = False
            if not self._poked:
                continue  # (only a poke wakes it; nothing asked since)
            self._poked = False
            self._iterate()
            if self._closing and not asyncio.all_tasks(self._loop):
                self._finished = True
                if self._idle is not None:
                    self._idle.cancel()
                return

    async def _pump(self) -> None:
        fd = self._selector.fileno()
        while not self._finished:
            # One scope while nothing is due: no scope to build per wake-up.
            with trio.CancelScope(deadline=self._deadline()) as scope:
                self._idle = scope
                while True:
                    await trio.lowlevel.wait_readable(fd)
                    self._pump_iterate()
            self._idle = None
            if self._finished:
                break
            self._pump_iterate()  # a timer is due, or callbacks were left ready
            await trio.lowlevel.checkpoint()

    def _pump_iterate(self) -> None:
        self._iterate()
        self._inline_turn = False  # the next call may iterate itself again
        if self._closing:
            self._poke()  # the starter sees whether that was the last task

    async def _serve(self, body: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """A system task of the trio run (the bridge is made where there is no nursery)."""
        try:
            await body()
        except trio.Cancelled:
            raise  # the run is ending
        except BaseException:  # anything else from a system task would crash trio
            log.exception("the storage event loop failed")
        finally:
            self._stopped += 1
            if self._stopped == 2:
                self._done.set()

    async def run(
        self, fn: Callable[[Unpack[PosArgsT]], Coroutine[Any, Any, T]], *args: *PosArgsT
    ) -> T:
        """Run ``fn(*args)`` on the loop and return its result (or raise its exception).

        Raises:
            trio.Cancelled: the caller was cancelled. Raised at once: the asyncio task is
                cancelled too, and finishes in the background (see the module docstring).
            BridgeClosed: the bridge was closed before or during the call.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        if self._closing:
            raise BridgeClosed("the storage event loop is closed")
        token = trio.lowlevel.current_trio_token()
        if self._token is None:
            self._token = token
            trio.lowlevel.spawn_system_task(self._serve, self._starter, name=self._name)
            trio.lowlevel.spawn_system_task(self._serve, self._pump, name=f"{self._name}-io")
        elif token is not self._token:
            raise RuntimeError("a storage bridge serves the trio run that first called it")
        task = self._loop.create_task(fn(*args))
        call: _Call[T] = _Call(self, trio.lowlevel.current_task())
        task.add_done_callback(call.finish)
        if self._starter_task is None or self._inline_turn:
            self._poke()
        else:
            # The first call since the loop was last iterated by the bridge's tasks: iterate
            # now. Until one of them iterates it again (the pump, at the reply; or the
            # starter, for the calls that poked it meanwhile), calls poke the starter, so
            # that a burst costs two iterations. Nothing wakes for this one: at everyday
            # load, one pass through trio's scheduler less per call.
            self._inline_turn = True
            call.inline = True
            try:
                self._iterate()
            finally:
                call.inline = False
            if call.early is not None:  # done already (nothing to wait for on the loop)
                await trio.lowlevel.cancel_shielded_checkpoint()
                return call.early.unwrap()  # type: ignore[no-any-return]

        def abort(raise_cancel: Callable[[], Any]) -> trio.lowlevel.Abort:
            # From here on, the outcome is dropped when it comes.
            call.abandoned = True
            self.unwinding += 1
            task.cancel()
            self._poke()
            return trio.lowlevel.Abort.SUCCEEDED

        return await trio.lowlevel.wait_task_rescheduled(abort)  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        """Cancel what runs on the loop, wait for it to finish, and close the loop.
        Idempotent. Calls still running end with :class:`BridgeClosed`. Waits even when
        cancelled (shield it anyway)."""
        if self._closing:
            if self._token is not None:
                await self._done.wait()
            return
        self._closing = True
        loop = self._loop
        if self._token is not None:
            for task in asyncio.all_tasks(loop):
                task.cancel()
            self._poke()
            await self._done.wait()
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


@asynccontextmanager
async def open_bridge(*, name: str = "chatd-storage-loop") -> AsyncIterator[AsyncioBridge]:
    """An :class:`AsyncioBridge` for the duration of the block; closed (shielded) on exit."""
    bridge = AsyncioBridge(name=name)
    try:
        yield bridge
    finally:
        with trio.CancelScope(shield=True):
            await bridge.aclose()
