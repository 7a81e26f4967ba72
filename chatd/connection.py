"""One protocol connection, over TCP or WebSocket: a nursery with a reader, a writer and an
idle watch. The connection does I/O and delivery order; what each request does is in
:mod:`chatd.actions`.

Theory of operation. The *reader* feeds received bytes to the sans-IO session and runs the
requests it yields one at a time, in order: it looks the request's operation up in
:data:`chatd.actions.OPERATIONS`, checks what the row asks (a rate bucket), runs it, and writes
its result. Replies and events reach the socket only through the *outbox*, a bounded queue made
here, which the *writer* drains, batching whatever is queued into one write, in the order
:class:`chatd.delivery.DeliveryOrder` decides (every rule of which lives in that module). The
actors put events into the outbox with ``send_nowait``; when it is full the connection is a slow
consumer and is closed with ``slow_consumer`` (the policy lives in :meth:`Connection._overflow`),
so that one client that does not read never holds anybody else back. While the writer waits
for work, the registry's fan-out and the committer's acknowledgements do its work themselves
(:meth:`Connection._write_now`, through ``Outbox.flush``): on a bare TCP stream a message to a
room is written to each member without waking any member's writer.

``send`` does not wait for its commit: the reader queues the job with the committer and reads
on, and the committer's callback queues the acknowledgement. At most ``limits.max_in_flight``
sends of one connection are uncommitted at a time; a connection that ends waits (within the
grace period) for its sends to be answered before it closes, so a draining daemon acknowledges
everything it accepted.

Lifecycle (:class:`Phase`, one value at a time; :meth:`Connection._become` refuses any other
move)::

    GREETING --welcome--> ACTIVE --drain()--> DRAINING --+
        |                   |--end()-------> ENDING -----+--> CLOSED
        +-------------------+--slow consumer-> KICKED ---+
"""

from __future__ import annotations

import contextlib
import enum
import functools
import logging
from collections.abc import Callable, Hashable
from math import ceil
from typing import Any

import trio

from chatd.actions import OPERATIONS, App, Append, Bucket, CatchUp
from chatd.actions.context import take_tokens
from chatd.auth import TokenClaims
from chatd.committer import Outcome, SendJob
from chatd.delivery import Batch, DeliveryOrder, Repair
from chatd.errors import ChatError
from chatd.limits import TokenBucket
from chatd.outbox import Close, Delivery, Hold, Notice, Outbox, OutboxItem, Release
from chatd.protocol import (
    CLOSED,
    NEED_DATA,
    Error,
    Gap,
    Request,
    RequestError,
    Sent,
    ServerConnection,
    ServerEvent,
    State,
    codes,
    frame,
)
from chatd.rooms import Connect
from chatd.storage import Appended, Storage, StorageUnavailable, User
from chatd.transport import Transport, TransportClosed
from chatd.views import message_event

__all__ = ["Connection", "Phase", "move", "read_range", "refuse"]

log = logging.getLogger(__name__)

KICK_GRACE = 2.0  # seconds a slow consumer gets to take its last words
DRAIN_READ = 0.5  # seconds a draining connection goes on reading, to refuse what was sent
REPAIR_ATTEMPTS = 3  # reads of a missing range of messages before giving up on it
RECENT_RANGE = 64  # entries a repair may wait to be published here rather than read


class Phase(enum.Enum):
    GREETING = "greeting"  # connected, no welcome yet
    ACTIVE = "active"  # a session of a user
    DRAINING = "draining"  # the daemon stops: refuse what comes, answer what is in flight
    ENDING = "ending"  # the session was ended (a revoked token): answer, then a last error
    KICKED = "kicked"  # a slow consumer: last words, then cut off
    CLOSED = "closed"


_MOVES: dict[Phase, frozenset[Phase]] = {
    Phase.GREETING: frozenset({Phase.ACTIVE, Phase.DRAINING, Phase.ENDING, Phase.KICKED,
                               Phase.CLOSED}),
    Phase.ACTIVE: frozenset({Phase.DRAINING, Phase.ENDING, Phase.KICKED, Phase.CLOSED}),
    Phase.DRAINING: frozenset({Phase.ENDING, Phase.KICKED, Phase.CLOSED}),
    Phase.ENDING: frozenset({Phase.KICKED, Phase.CLOSED}),
    Phase.KICKED: frozenset({Phase.CLOSED}),
    Phase.CLOSED: frozenset(),
}


def move(current: Phase, to: Phase) -> Phase:
    """``to``, if a connection in ``current`` may go there.

    Raises:
        RuntimeError: the move is not in the table (a bug in the connection, not the peer's).
    """
    if to not in _MOVES[current]:
        raise RuntimeError(f"a connection cannot go from {current.name} to {to.name}")
    return to


class _EndSession(Exception):
    """The outbox is closed (the writer is gone): stop reading."""


class Connection:
    """Serve one client until it leaves, breaks, is too slow, or the daemon drains.

    It is also the :class:`chatd.actions.Caller` of the operations it runs."""

    def __init__(self, app: App, transport: Transport) -> None:
        self._app = app
        self._t = transport
        limits = app.config.limits
        self._limits = limits
        self._session = ServerConnection(app.protocol_limits)
        self._phase = Phase.GREETING
        # The writer's state, which _write_now shares while the writer waits for work.
        self._order = DeliveryOrder()
        self._send_now: Callable[[bytes], int] | None = getattr(transport, "send_now", None)
        self._outbox = Outbox(limits.outbox_frames,
                              write_now=None if self._send_now is None else self._write_now)
        self._reader_scope = trio.CancelScope()
        self._scope: trio.CancelScope | None = None
        self._nursery: trio.Nursery | None = None
        self._in_flight = trio.Semaphore(limits.max_in_flight)
        self._writer_done = trio.Event()
        self._user: User | None = None
        self._last_heard = trio.current_time()
        self._farewell: Error | None = None
        self._held: set[str] = set()  # rooms held by the operation running now
        self._buckets: dict[str, TokenBucket] = {}
        self.jti: str | None = None
        self.issued_at: int | None = None  # of the token that opened the session, ms

    @property
    def user(self) -> User | None:
        return self._user

    @property
    def phase(self) -> Phase:
        return self._phase

    def _become(self, phase: Phase) -> None:
        self._phase = move(self._phase, phase)

    # ------------------------------------------------------------------ the Caller protocol

    @property
    def conn_id(self) -> Hashable:
        return self

    async def hold(self, rooms: frozenset[str] | None) -> None:
        if rooms is not None:
            self._held |= rooms
        await self._queue(Hold(rooms))

    async def attach(self, user: User, claims: TokenClaims, rooms: frozenset[str],
                     since: int) -> None:
        await self._app.registry.connect(Connect(
            self, user.name, self._outbox, self._overflow, rooms, ready=_nothing, since=since,
        ))
        self._user = user
        self.jti = claims.jti
        self.issued_at = claims.issued_at

    # ------------------------------------------------------------------------- lifecycle

    async def run(self) -> None:
        """Serve the connection; returns when it is closed. Never raises for the peer's sake."""
        address = self._t.remote.rsplit(":", 1)[0]
        if not self._app.per_ip.acquire(address):
            await refuse(self._t, codes.RATE_LIMITED, "too many connections from your address")
            return
        try:
            await self._serve()
        finally:
            self._app.per_ip.release(address)

    async def _serve(self) -> None:
        app = self._app
        gauge = app.metrics.connections.labels(self._t.name)
        gauge.inc()
        if not app.sessions:
            app.all_closed = trio.Event()
        app.sessions.add(self)
        try:
            async with trio.open_nursery() as nursery:
                self._scope = nursery.cancel_scope
                self._nursery = nursery
                nursery.start_soon(self._write_loop)
                nursery.start_soon(self._watch_idle)
                with self._reader_scope:
                    await self._read_loop()
                await self._finish()
                nursery.cancel_scope.cancel()
        except Exception:
            log.exception("connection from %s failed", self._t.remote)
        finally:
            self._phase = Phase.CLOSED
            with trio.CancelScope(shield=True):
                await self._unregister()
                await self._t.aclose()
            app.sessions.discard(self)
            if not app.sessions:
                app.all_closed.set()
            gauge.dec()

    def drain(self) -> None:
        """Answer what the client already sent with ``shutting_down`` (for DRAIN_READ
        seconds), let the sends in flight be acknowledged, say ``shutting_down`` and close.

        Every send the client wrote is then acknowledged (it was stored) or refused (it was
        not); only what it writes after the close goes unanswered, and it knows to resend that
        with the same nonce."""
        if self._phase not in (Phase.GREETING, Phase.ACTIVE):
            return
        greeting = self._phase is Phase.GREETING
        self._become(Phase.DRAINING)
        # nothing to drain before a welcome
        deadline = trio.current_time() + (0 if greeting else DRAIN_READ)
        self._reader_scope.deadline = min(self._reader_scope.deadline, deadline)

    def end(self, code: str, message: str) -> None:
        """Close the session with a last ``error`` (e.g. its token was revoked): like a drain,
        the sends in flight are answered first."""
        if self._phase not in (Phase.GREETING, Phase.ACTIVE, Phase.DRAINING):
            return
        self._become(Phase.ENDING)
        self._farewell = Error(code=code, message=message)
        self._reader_scope.cancel()

    async def _finish(self) -> None:
        """After the reader stopped: let the sends in flight be answered, then close."""
        if self._phase is Phase.KICKED:
            await self._writer_done.wait()
            return
        with trio.move_on_after(self._app.config.server.grace_period):
            for _ in range(self._limits.max_in_flight):
                await self._in_flight.acquire()
            final = b""
            if self._farewell is not None:
                final = frame(self._farewell)
            elif self._phase is Phase.DRAINING and self._session.state is not State.CLOSED:
                final = self._session.send(Error(
                    code=codes.SHUTTING_DOWN, message="the server is stopping; reconnect shortly"
                ))
            try:
                await self._outbox.send(Close(final))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            await self._writer_done.wait()

    def _overflow(self) -> None:
        """The slow-consumer policy: called (by an actor or the committer) when the outbox is
        full. The reader stops at once; the writer finishes the write it is in, says
        ``slow_consumer`` instead of draining the queue, and closes. A client that does not
        read that write within KICK_GRACE seconds is cut off mid-write. Nothing waits for it."""
        if self._phase in (Phase.KICKED, Phase.CLOSED):
            return
        self._become(Phase.KICKED)
        self._app.metrics.slow_consumers.inc()
        log.info("closing %s (%s): slow consumer", self._t.remote,
                 self._user.name if self._user else "-")
        self._reader_scope.cancel()
        if self._scope is not None:
            self._scope.deadline = min(self._scope.deadline, trio.current_time() + KICK_GRACE)

    async def _unregister(self) -> None:
        if self._user is not None:
            # Goes through presence so that `offline` is announced before the registry forgets
            # the user's rooms (see chatd.presence). When the whole daemon is being torn down
            # (cancelled, not drained) the actors may be gone already: nothing left to tell.
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await self._app.presence.offline(self._user.name, self)

    async def _watch_idle(self) -> None:
        timeout = self._limits.idle_timeout
        while True:
            await trio.sleep_until(self._last_heard + timeout)
            if trio.current_time() - self._last_heard >= timeout:
                log.debug("closing idle connection from %s", self._t.remote)
                self._reader_scope.cancel()
                return

    # ------------------------------------------------------------------------- writer

    async def _write_loop(self) -> None:
        try:
            while True:
                items = await self._outbox.take()
                if self._phase is Phase.KICKED:
                    last_words = Error(code=codes.SLOW_CONSUMER,
                                       message="closing: the client did not read fast enough")
                    await self._t.send(frame(last_words))
                    return
                batch = self._feed(items)
                if batch.out:
                    await self._t.send(b"".join(batch.out))
                if batch.close:
                    return
        except TransportClosed:
            self._reader_scope.cancel()
        finally:
            self._outbox.close()
            self._writer_done.set()

    def _feed(self, items: list[OutboxItem]) -> Batch:
        """The writer's order applied to ``items``: the slow-consumer policy if too much
        waits, and the repairs it asks for started. What to write is the caller's."""
        batch = self._order.feed(items)
        if batch.overflow:
            self._overflow()
        if batch.repairs:
            assert self._nursery is not None, "the writer runs in the connection's nursery"
            for repair in batch.repairs:
                self._nursery.start_soon(self._repair, repair)
        return batch

    def _write_now(self, items: list[OutboxItem]) -> list[OutboxItem] | None:
        """The writer's work for ``items``, done by the caller while the writer waits for work
        (see chatd.outbox, ``Outbox.flush``); None when all is written, else what is left to
        the writer.

        Only what the writer does every time: deliveries, frames and notices, all written in
        one go. Holds, releases and the last words, a kicked connection, and whatever the
        kernel does not take at once are left to the writer, which also learns that the
        peer is gone by trying the rest itself."""
        send_now = self._send_now
        if send_now is None or self._phase is Phase.KICKED:
            return items
        for item in items:
            kind = type(item)
            if kind is not Delivery and kind is not bytes and kind is not Notice:
                return items
        batch = self._feed(items)
        if not batch.out:
            return None
        data = b"".join(batch.out)
        try:
            sent = send_now(data)
        except TransportClosed:
            sent = 0
        return None if sent == len(data) else [data[sent:]]

    async def _repair(self, repair: Repair) -> None:
        """Fetch the entries a held room misses and release it (see chatd.delivery): as the
        registry publishes them, if it does soon enough (chatd.recent), else from storage."""
        recent = self._app.registry.recent
        data = None
        if repair.upto - repair.after <= RECENT_RANGE:
            data = await recent.wait_for(repair.room, repair.after, repair.upto)
        self._app.metrics.gap_repairs.labels("read" if data is None else "published").inc()
        if data is None:
            data = await recent.read_once(
                repair.room, repair.after, repair.upto,
                functools.partial(read_range, self._app.storage, repair,
                                  most=self._limits.resume_max))
        with contextlib.suppress(_EndSession):
            await self._queue(Release(data, {repair.room: repair.upto}, repair))

    async def _queue(self, item: OutboxItem) -> None:
        try:
            await self._outbox.send(item)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise _EndSession from None

    async def _reply(self, event: ServerEvent) -> None:
        await self._queue(self._session.send(event))

    # ------------------------------------------------------------------------- reader

    async def _read_loop(self) -> None:
        while True:
            event = self._session.next_event()
            if event is NEED_DATA:
                data = await self._t.receive()
                self._last_heard = trio.current_time()
                self._session.receive_data(data)
                continue
            if event is CLOSED:
                return
            if isinstance(event, RequestError):
                await self._reply(Error(id=event.id, code=event.code, message=event.message))
                if event.fatal:
                    return
                continue
            if not isinstance(event, Request):  # PAUSED: a hello left unanswered is a bug
                raise RuntimeError(f"session paused in state {self._session.state}")
            if self._phase is Phase.DRAINING:
                # Refused, not processed. Not through the session: its shutting_down rule
                # would close it, and the connection's last words come from _finish.
                await self._queue(frame(Error(
                    id=event.id, code=codes.SHUTTING_DOWN, message="the server is stopping",
                )))
                continue
            try:
                await self._dispatch(event)
            except _EndSession:
                return
            except ChatError as exc:
                if exc.code == codes.RATE_LIMITED:
                    self._app.metrics.rate_limited.labels(type(event).OP).inc()
                retry = None if exc.retry_after is None else ceil(exc.retry_after * 1000)
                await self._reply(Error(id=event.id, code=exc.code, message=exc.message,
                                        retry_after=retry))
            except StorageUnavailable as exc:
                log.warning("database unavailable: %s", exc)
                await self._reply(Error(
                    id=event.id, code=codes.UNAVAILABLE, message="the database is unavailable"
                ))
            except Exception:
                log.exception("handling %s from %s failed", type(event).__name__,
                              self._t.remote)
                await self._reply(Error(id=event.id, code=codes.INTERNAL, message="server error"))
            if self._session.state is State.CLOSED:
                return

    async def _dispatch(self, request: Request) -> None:
        """Run ``request``'s operation (checked against its row first) and write its result."""
        operation = OPERATIONS[type(request)]
        if operation.session and self._user is None:
            # The session's state table already lets nothing but hello through before the
            # welcome; this keeps the row's promise should that table ever change.
            raise ChatError(codes.UNAUTHENTICATED, "say hello first")
        if operation.rate:
            self._take(operation.rate)
        try:
            result = await operation.run(self._app, self, request)
        except BaseException:
            if self._held:
                # Never leave a room held: its live messages would pile up to a disconnect.
                held, self._held = self._held, set()
                with trio.CancelScope(shield=True), contextlib.suppress(_EndSession):
                    await self._queue(Release(b"", dict.fromkeys(held, 0)))
            raise
        if isinstance(result, CatchUp):
            self._held.clear()
            data = self._session.send(result.reply)
            if self._phase is Phase.GREETING and self._user is not None:
                self._become(Phase.ACTIVE)
            if result.then:
                data += b"".join(frame(event) for event in result.then)
            await self._queue(Release(data, result.upto))
        elif isinstance(result, Append):
            await self._submit(result)
        else:
            await self._reply(result)

    def _take(self, buckets: tuple[Bucket, ...]) -> None:
        """A token from each of ``buckets`` (this connection's, or its user's for a
        ``per_user`` one), or from none: ``rate_limited`` with the wait."""
        assert self._user is not None, "rate buckets are on session operations"
        tokens: list[tuple[Bucket, TokenBucket]] = []
        for bucket in buckets:
            if bucket.per_user:
                tokens.append((bucket, self._app.user_bucket(bucket, self._user.name)))
                continue
            limiter = self._buckets.get(bucket.name)
            if limiter is None:
                rate, burst = bucket.rate(self._limits)
                limiter = self._buckets[bucket.name] = TokenBucket(rate=rate, burst=burst)
            tokens.append((bucket, limiter))
        take_tokens(tokens)

    async def _submit(self, append: Append) -> None:
        """Queue a message with the committer; the acknowledgement comes from its callback."""
        # The waiting forms only when there is something to wait for: each checkpoint costs
        # a pass through the scheduler, and the reader checkpoints at its next receive anyway.
        try:
            self._in_flight.acquire_nowait()
        except trio.WouldBlock:
            await self._in_flight.acquire()
        job = SendJob(append.message, functools.partial(self._sent, append.request_id))
        try:
            try:
                self._app.committer.submit_nowait(job)
            except trio.WouldBlock:
                await self._app.committer.submit(job)
        except BaseException:
            self._in_flight.release()
            raise

    def _sent(self, request_id: Any, outcome: Outcome) -> None:
        """The committer's callback: queue the acknowledgement (or the refusal)."""
        self._in_flight.release()
        if isinstance(outcome, Appended):
            m = outcome.message
            change = m.kind != "message"
            event: ServerEvent = Sent(id=request_id, room=m.room, seq=m.seq, msg_id=m.msg_id,
                                      ts=m.ts, duplicate=outcome.duplicate and not change,
                                      unchanged=outcome.duplicate and change)
        else:
            event = Error(id=request_id, code=outcome.code, message=outcome.message)
        # A reply in READY leaves the session's state alone, so this bypasses session.send:
        # the callback may run after the reader has stopped.
        try:
            # Written at once when the writer is idle (see _write_now): a send's answer does
            # not wait for the writer's turn behind the members' deliveries.
            self._outbox.send_nowait(frame(event), wake=False)
            self._outbox.flush()
        except trio.WouldBlock:
            self._app.metrics.outbox_drops.inc()
            self._overflow()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass


def _nothing() -> None:
    pass


async def refuse(transport: Transport, code: str, message: str, *, linger: float = 1.0) -> None:
    """Tell a client why its connection is not served, in the protocol's own error frame
    (waiting at most ``linger`` seconds for it to take it), and close the connection."""
    with trio.move_on_after(linger), contextlib.suppress(TransportClosed):
        await transport.send(frame(Error(code=code, message=message)))
    await transport.aclose()


async def read_range(storage: Storage, repair: Repair, *, most: int) -> bytes:
    """The frames that fill ``repair``'s range: its entries, or a ``gap`` when the range holds
    more than ``most`` of them (a node that missed a long stretch must not read it all into
    one connection's memory) or the database does not answer after a few tries. The client
    pages a gap with ``history``, as after a resume; live entries go on after the range."""
    if repair.upto - repair.after <= most:
        for attempt in range(REPAIR_ATTEMPTS):
            try:
                messages = await storage.messages_range(repair.room, after=repair.after,
                                                        upto=repair.upto)
            except StorageUnavailable as exc:
                log.warning("cannot fill a gap in %s: %s", repair.room, exc)
                await trio.sleep(attempt + 1)
                continue
            return b"".join(frame(message_event(m)) for m in messages)
    return frame(Gap(room=repair.room, after=repair.after, last_seq=repair.upto))
