"""Run asyncio coroutines (asyncpg) from trio: one asyncio loop in its own daemon thread.

Theory of operation
-------------------
asyncpg speaks only asyncio and chatd runs on trio. Rather than run trio and asyncio in one
thread (trio-asyncio: measured here at 1,900-2,500 inserts/s from 50 tasks against
4,400-4,500 for this bridge), the storage layer owns one
asyncio event loop that runs forever in a daemon thread, and *every* asyncpg call, pool creation
included, is a coroutine run on that loop. A trio task crosses over with :meth:`AsyncioBridge.run`:

1. ``run`` hands the coroutine function to the loop (``loop.call_soon_threadsafe``), which starts
   it as an asyncio task (calls made while the loop has not started the last ones yet join
   them: one wake-up of its thread for a burst);
2. the trio task parks in :func:`trio.lowlevel.wait_task_rescheduled`, so trio goes on running
   every other task meanwhile;
3. when the asyncio task is done, its done-callback (on the loop thread) passes the outcome back
   through ``TrioToken.run_sync_soon(trio.lowlevel.reschedule, ...)``, the one thread-safe door
   into trio (the outcomes of tasks done before trio took the last ones join them, likewise).
   If trio has already finished (``RunFinishedError``) there is nobody to wake.

Cancellation goes the other way, and returns at once. When the trio task is cancelled, the
abort callback asks the loop to cancel the asyncio task and the trio task raises ``Cancelled``
right away, without waiting for that asyncio task to unwind: a server that does not answer
(stopped with SIGSTOP, or behind a dead network) may never let it unwind, and a caller with a
deadline (``/healthz``, a send) must get its answer by that deadline. The asyncio task then
finishes on its own, its outcome dropped (:attr:`AsyncioBridge.unwinding` counts the calls
still unwinding). Whoever runs coroutines here must make that unwinding
prompt and leave nothing behind: the storage terminates a connection whose call was cancelled
(``chatd/storage/postgres.py``), so that it goes back to the pool at once instead of waiting
for the server to acknowledge a cancel request. Both sides of the hand-off run on the trio
thread (the abort callback, and the wake-up that ``run_sync_soon`` queues), so a result that
arrives after the abort is dropped rather than delivered to a task that no longer waits.

Each crossing costs two thread hand-offs (a few tens of microseconds: 2,600-2,700 sequential
``SELECT 1``/s through it against 5,900-7,900 on plain asyncio, as measured on 2 cores): callers
should make one call carry a whole unit of work (a transaction, a batch of messages).

:meth:`AsyncioBridge.aclose` refuses new calls, stops the loop, cancels whatever still runs on
it (those callers get :class:`BridgeClosed`), closes the loop and joins the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar, TypeVarTuple, Unpack

import outcome
import trio

__all__ = ["AsyncioBridge", "BridgeClosed", "open_bridge"]

log = logging.getLogger("chatd.storage")

T = TypeVar("T")
PosArgsT = TypeVarTuple("PosArgsT")


class BridgeClosed(RuntimeError):
    """The bridge is closed, or was closed while the call was running."""


class _Call(Generic[T]):
    """One crossing. ``task`` and ``cancel_requested`` are touched only on the loop thread;
    ``abandoned`` only on the trio thread."""

    __slots__ = ("abandoned", "bridge", "cancel_requested", "task", "token", "trio_task")

    def __init__(self, bridge: AsyncioBridge, trio_task: trio.lowlevel.Task,
                 token: trio.lowlevel.TrioToken) -> None:
        self.bridge = bridge
        self.trio_task = trio_task
        self.token = token
        self.task: asyncio.Task[T] | None = None
        self.cancel_requested = False
        self.abandoned = False

    def cancel(self) -> None:
        """Loop thread: cancel the asyncio task on behalf of the trio caller, who has gone."""
        self.cancel_requested = True
        if self.task is not None:
            self.task.cancel()

    def finish(self, task: asyncio.Task[T]) -> None:
        """Loop thread, done-callback of the task: wake the trio caller with the outcome."""
        result: outcome.Outcome[Any]
        if task.cancelled():
            result = outcome.Error(BridgeClosed("the storage event loop was shut down"))
        else:
            exc = task.exception()
            result = outcome.Value(task.result()) if exc is None else outcome.Error(exc)
        self.wake(result)

    def wake(self, result: outcome.Outcome[Any]) -> None:
        """Any thread: hand ``result`` to the trio thread (exactly once per call)."""
        self.bridge._hand_back(self, result)

    def deliver(self, result: outcome.Outcome[Any]) -> None:
        """Trio thread: resume the caller, unless it was cancelled and has gone on already."""
        if self.abandoned:
            self.bridge.unwinding -= 1
            if isinstance(result, outcome.Error) and not isinstance(result.error, BridgeClosed):
                log.debug("a cancelled storage call ended with %r", result.error)
            return
        trio.lowlevel.reschedule(self.trio_task, result)


class AsyncioBridge:
    """An asyncio event loop in a daemon thread, whose coroutines trio tasks can await.

    Create it with :func:`open_bridge` (or construct it and call :meth:`aclose` when done).
    Thread-safe: any number of trio tasks may call :meth:`run` concurrently; their coroutines
    run concurrently on the loop.
    """

    def __init__(self, *, name: str = "chatd-storage-loop") -> None:
        self._loop = asyncio.new_event_loop()
        # Held while submitting and while closing, so that every submitted call reaches the loop
        # before the loop is told to stop (and is then run or cancelled, never lost).
        self._lock = threading.Lock()
        self._closing = False
        # Calls waiting to be started on the loop, and whether a callback that starts them
        # all is scheduled there already (both under the lock): a burst of calls is one
        # wake-up of the loop's thread, not one each. Likewise the outcomes waiting for the
        # trio thread, for calls made from ``_token``'s trio run (the first one seen; the
        # calls of any other run are handed back one by one).
        self._calls: list[tuple[_Call[Any], Callable[..., Coroutine[Any, Any, Any]], Any]] = []
        self._starting = False
        self._token: trio.lowlevel.TrioToken | None = None
        self._outcomes: list[tuple[_Call[Any], outcome.Outcome[Any]]] = []
        self._handing = False
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()
        #: Calls whose trio caller was cancelled and whose asyncio task has not finished yet.
        #: Read and written on the trio thread only.
        self.unwinding = 0

    @property
    def closed(self) -> bool:
        return self._closing

    def _serve(self) -> None:
        """Thread body: run the loop until :meth:`aclose`, then cancel and reap what is left."""
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            leftovers = asyncio.all_tasks(loop)
            for task in leftovers:
                task.cancel()
            if leftovers:
                loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    def _start_all(self) -> None:
        """Loop thread: start every call submitted since the last time."""
        with self._lock:
            calls, self._calls = self._calls, []
            self._starting = False
        for call, fn, args in calls:
            self._start(call, fn, args)

    def _hand_back(self, call: _Call[Any], result: outcome.Outcome[Any]) -> None:
        """Any thread: queue ``call``'s outcome for the trio thread; one wake-up of it for
        all the outcomes queued until it runs."""
        if call.token is not self._token:
            # Another trio run's call (or trio has finished: nobody waits for it any more).
            with contextlib.suppress(trio.RunFinishedError):
                call.token.run_sync_soon(call.deliver, result)
            return
        with self._lock:
            self._outcomes.append((call, result))
            if self._handing:
                return
            self._handing = True
        try:
            call.token.run_sync_soon(self._deliver_all)
        except trio.RunFinishedError:
            with self._lock:  # nobody waits for them any more
                self._outcomes.clear()
                self._handing = False

    def _deliver_all(self) -> None:
        """Trio thread: every outcome queued since the last time to its caller."""
        with self._lock:
            outcomes, self._outcomes = self._outcomes, []
            self._handing = False
        for call, result in outcomes:
            call.deliver(result)

    def _start(self, call: _Call[T], fn: Callable[..., Coroutine[Any, Any, T]], args: Any) -> None:
        """Loop thread: start the coroutine as a task and arrange for the caller to be woken."""
        try:
            task = self._loop.create_task(fn(*args))
        except BaseException as exc:  # not a coroutine function, or its call raised
            call.wake(outcome.Error(exc))
            return
        call.task = task
        task.add_done_callback(call.finish)
        if call.cancel_requested:
            task.cancel()

    async def run(
        self, fn: Callable[[Unpack[PosArgsT]], Coroutine[Any, Any, T]], *args: *PosArgsT
    ) -> T:
        """Run ``fn(*args)`` on the loop thread and return its result (or raise its exception).

        The coroutine is created on the loop thread, so nothing is left un-awaited if the
        bridge is already closed.

        Raises:
            trio.Cancelled: the caller was cancelled. Raised at once: the asyncio task is
                cancelled too, and finishes in the background (see the module docstring).
            BridgeClosed: the bridge was closed before or during the call.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        token = trio.lowlevel.current_trio_token()
        if self._token is None:
            self._token = token
        call: _Call[T] = _Call(self, trio.lowlevel.current_task(), token)
        with self._lock:
            if self._closing:
                raise BridgeClosed("the storage event loop is closed")
            self._calls.append((call, fn, args))
            if not self._starting:
                self._starting = True
                self._loop.call_soon_threadsafe(self._start_all)

        def abort(raise_cancel: Callable[[], Any]) -> trio.lowlevel.Abort:
            # Trio thread, like deliver: from here on, the outcome is dropped when it comes.
            call.abandoned = True
            self.unwinding += 1
            # RuntimeError: the loop is closed; its shutdown has cancelled the task already.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(call.cancel)
            return trio.lowlevel.Abort.SUCCEEDED

        return await trio.lowlevel.wait_task_rescheduled(abort)  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        """Stop the loop and join its thread. Idempotent. Calls still running end with
        :class:`BridgeClosed`. Waits for the thread even when cancelled (shield it anyway)."""
        with self._lock:
            if not self._closing:
                self._closing = True
                self._loop.call_soon_threadsafe(self._loop.stop)
        await trio.to_thread.run_sync(self._thread.join)


@asynccontextmanager
async def open_bridge(*, name: str = "chatd-storage-loop") -> AsyncIterator[AsyncioBridge]:
    """An :class:`AsyncioBridge` for the duration of the block; closed (shielded) on exit."""
    bridge = AsyncioBridge(name=name)
    try:
        yield bridge
    finally:
        with trio.CancelScope(shield=True):
            await bridge.aclose()
