"""One protocol connection, over TCP or WebSocket: a nursery with a reader, a writer and an
idle watch.

Theory of operation. The *reader* feeds received bytes to the sans-IO session and handles the
requests it yields one at a time, in order, each by its ``_handle_<request>`` method. Replies
and events reach the socket only through the *outbox*, a bounded queue made here,
which the *writer* drains, batching whatever is queued into one write. The actors put events
into the outbox with ``send_nowait``; when it is full the connection is a slow consumer and is
closed with ``slow_consumer`` (the policy lives in :meth:`Connection._overflow`), so that one
client that does not read never holds anybody else back.

``send`` does not wait for its commit: the reader queues the job with the committer and reads
on, and the committer's callback queues the acknowledgement. At most ``limits.max_in_flight``
sends of one connection are uncommitted at a time; a connection that ends waits (within the
grace period) for its sends to be answered before it closes, so a draining daemon acknowledges
everything it accepted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable
from math import ceil
from typing import Any

import trio

from chatd.auth import Auth
from chatd.committer import Committer, Outcome, SendJob
from chatd.config import Config
from chatd.errors import ChatError
from chatd.limits import ConnectionCounter, TokenBucket
from chatd.metrics import Metrics
from chatd.outbox import Close, Delivery, Hold, Notice, Outbox, OutboxItem, Release
from chatd.presence import PresenceTracker
from chatd.protocol import (
    CLOSED,
    NEED_DATA,
    AddContact,
    Answer,
    Contacts,
    CreateRoom,
    Dm,
    Error,
    Gap,
    Hello,
    History,
    HistoryPage,
    Invite,
    Join,
    JoinAccepted,
    Kick,
    Leave,
    Limits,
    MemberJoined,
    MemberLeft,
    Ok,
    Ping,
    Read,
    ReadMoved,
    RemoveContact,
    Request,
    RequestError,
    Rooms,
    Send,
    Sent,
    ServerConnection,
    ServerEvent,
    State,
    Typing,
    UserTyping,
    Welcome,
    Who,
    encode,
)
from chatd.rooms import Broadcast, Connect, RoomRegistry, ToUser
from chatd.rooms import Join as RegistryJoin
from chatd.rooms import Leave as RegistryLeave
from chatd.storage import Appended, NewMessage, Room, Storage, StorageUnavailable, User
from chatd.transport import Transport, TransportClosed
from chatd.views import message_event, room_object, user_object

__all__ = ["Connection", "Services"]

log = logging.getLogger(__name__)

PING_INTERVAL = 30  # seconds; told to clients in `welcome`
HELD_MAX = 10_000  # messages buffered for held rooms before the client counts as slow
KICK_GRACE = 2.0  # seconds a slow consumer gets to take its last words
# typing events per connection: a burst, then this many per second (clients send one every few
# seconds while a person types; more is noise for everyone else in the room)
TYPING_BURST = 5
TYPING_RATE = 1.0
SETTLE_ROUNDS = 3  # re-reads of a user's rooms at hello while they keep changing
DRAIN_READ = 0.5  # seconds a draining connection goes on reading, to refuse what was sent
REPAIR_ATTEMPTS = 3  # reads of a missing range of messages before giving up on it


@dataclasses.dataclass(slots=True)
class Services:
    """What every connection of one daemon shares."""

    config: Config
    storage: Storage
    auth: Auth
    metrics: Metrics
    registry: RoomRegistry
    presence: PresenceTracker
    committer: Committer
    per_ip: ConnectionCounter
    connections: set[Connection] = dataclasses.field(default_factory=set)
    all_closed: trio.Event = dataclasses.field(default_factory=trio.Event)


class _EndSession(Exception):
    """The session is over (a failed hello, a fatal error): stop reading."""


class Connection:
    """Serve one client until it leaves, breaks, is too slow, or the daemon drains."""

    def __init__(self, services: Services, transport: Transport) -> None:
        self._s = services
        self._t = transport
        limits = services.config.limits
        self._limits = limits
        self._session = ServerConnection(Limits(
            max_frame_bytes=limits.max_frame_bytes,
            max_text_chars=limits.max_text_chars,
            history_max=limits.history_max,
        ))
        self._outbox = Outbox(limits.outbox_frames)
        self._reader_scope = trio.CancelScope()
        self._scope: trio.CancelScope | None = None
        self._nursery: trio.Nursery | None = None
        self._in_flight = trio.Semaphore(limits.max_in_flight)
        self._writer_done = trio.Event()
        self._user: User | None = None
        self._registered = False
        self._last_heard = trio.current_time()
        self._kicked: str | None = None
        self._draining = False
        self._farewell: Error | None = None
        self.jti: str | None = None
        self.issued_at: int | None = None  # of the token that opened the session, ms
        self._typing_bucket = TokenBucket(rate=TYPING_RATE, burst=TYPING_BURST)
        self._send_bucket = TokenBucket(rate=limits.send_rate, burst=limits.send_burst)

    @property
    def user(self) -> User | None:
        return self._user

    # ------------------------------------------------------------------------- lifecycle

    async def run(self) -> None:
        """Serve the connection; returns when it is closed. Never raises for the peer's sake."""
        address = self._t.remote.rsplit(":", 1)[0]
        if not self._s.per_ip.acquire(address):
            refusal = Error(code="rate_limited", message="too many connections from your address")
            with trio.move_on_after(1), contextlib.suppress(TransportClosed):
                await self._t.send(encode(refusal.wire()))
            await self._t.aclose()
            return
        try:
            await self._serve()
        finally:
            self._s.per_ip.release(address)

    async def _serve(self) -> None:
        gauge = self._s.metrics.connections.labels(self._t.name)
        gauge.inc()
        if not self._s.connections:
            self._s.all_closed = trio.Event()
        self._s.connections.add(self)
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
            with trio.CancelScope(shield=True):
                await self._unregister()
                await self._t.aclose()
            self._s.connections.discard(self)
            if not self._s.connections:
                self._s.all_closed.set()
            gauge.dec()

    def drain(self) -> None:
        """Answer what the client already sent with ``shutting_down`` (for DRAIN_READ
        seconds), let the sends in flight be acknowledged, say ``shutting_down`` and close.

        Every send the client wrote is then acknowledged (it was stored) or refused (it was
        not); only what it writes after the close goes unanswered, and it knows to resend that
        with the same nonce."""
        self._draining = True
        deadline = trio.current_time() + DRAIN_READ
        if self._user is None:
            deadline = trio.current_time()  # nothing to drain before a welcome
        self._reader_scope.deadline = min(self._reader_scope.deadline, deadline)

    def end(self, code: str, message: str) -> None:
        """Close the session with a last ``error`` (e.g. its token was revoked): like a drain,
        the sends in flight are answered first."""
        self._farewell = Error(code=code, message=message)
        self._reader_scope.cancel()

    async def _finish(self) -> None:
        """After the reader stopped: let the sends in flight be answered, then close."""
        if self._kicked is not None:
            await self._writer_done.wait()
            return
        with trio.move_on_after(self._s.config.server.grace_period):
            for _ in range(self._limits.max_in_flight):
                await self._in_flight.acquire()
            final = b""
            if self._farewell is not None:
                final = encode(self._farewell.wire())
            elif self._draining and self._session.state is not State.CLOSED:
                final = self._session.send(Error(
                    code="shutting_down", message="the server is stopping; reconnect shortly"
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
        if self._kicked is not None:
            return
        self._kicked = "slow_consumer"
        self._s.metrics.slow_consumers.inc()
        log.info("closing %s (%s): slow consumer", self._t.remote,
                 self._user.name if self._user else "-")
        self._reader_scope.cancel()
        if self._scope is not None:
            self._scope.deadline = min(self._scope.deadline, trio.current_time() + KICK_GRACE)

    async def _unregister(self) -> None:
        if self._registered and self._user is not None:
            self._registered = False
            # Goes through presence so that `offline` is announced before the registry forgets
            # the user's rooms (see chatd.presence). When the whole daemon is being torn down
            # (cancelled, not drained) the actors may be gone already: nothing left to tell.
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await self._s.presence.offline(self._user.name, self)

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
        last_seq: dict[str, int] = {}
        held_all = False
        held: set[str] = set()
        buffered: dict[str, list[Delivery]] = {}
        held_notices: list[bytes] = []
        buffered_count = 0

        def hold(kept: Delivery | bytes) -> None:
            """Keep a message (or, before the welcome, a notice) for after its Release."""
            nonlocal buffered_count
            if isinstance(kept, Delivery):
                buffered.setdefault(kept.room, []).append(kept)
            else:
                held_notices.append(kept)
            buffered_count += 1
            if buffered_count > HELD_MAX:
                self._overflow()

        def emit(delivery: Delivery, out: list[bytes]) -> None:
            room = delivery.room
            known = last_seq.get(room)
            if room in held:
                hold(delivery)
            elif known is not None and delivery.seq <= known:
                pass  # never a message twice, never one older than what the client has
            elif known is not None and delivery.seq > known + 1 and self._nursery is not None:
                # A gap (another node's message not relayed yet, or a lost notice): hold the
                # room and fetch what is missing; the Release writes it, then this one.
                held.add(room)
                hold(delivery)
                self._nursery.start_soon(self._repair, room, known, delivery.seq - 1)
            else:
                out.append(delivery.data)
                last_seq[room] = delivery.seq

        try:
            while True:
                items = await self._outbox.take()
                if self._kicked is not None:
                    last_words = Error(code=self._kicked, message="closing: the client "
                                       "did not read fast enough")
                    await self._t.send(encode(last_words.wire()))
                    return
                out: list[bytes] = []
                closing = False
                for item in items:
                    if isinstance(item, bytes):
                        out.append(item)
                    elif isinstance(item, Notice):
                        if held_all:
                            hold(item.data)
                        else:
                            out.append(item.data)
                    elif isinstance(item, Delivery):
                        if held_all:
                            hold(item)
                        else:
                            emit(item, out)
                    elif isinstance(item, Hold):
                        if item.rooms is None:
                            held_all = True
                        else:
                            held |= item.rooms
                    elif isinstance(item, Release):
                        out.append(item.data)
                        for room, seq in item.upto.items():
                            last_seq[room] = max(last_seq.get(room, 0), seq)
                        rooms = list(buffered) if held_all else list(item.upto)
                        if held_all:
                            out.extend(held_notices)
                            buffered_count -= len(held_notices)
                            held_notices.clear()
                        held_all = False
                        held.difference_update(item.upto)
                        for room in rooms:
                            waiting = sorted(buffered.pop(room, ()), key=_by_seq)
                            buffered_count -= len(waiting)
                            for delivery in waiting:
                                emit(delivery, out)
                    else:
                        if item.data:
                            out.append(item.data)
                        closing = True
                        break
                if out:
                    await self._t.send(b"".join(out))
                if closing:
                    return
        except TransportClosed:
            self._reader_scope.cancel()
        finally:
            self._outbox.close()
            self._writer_done.set()

    async def _repair(self, room: str, after: int, upto: int) -> None:
        """Fetch the messages ``after`` < seq <= ``upto`` of a held room and release it."""
        data = b""
        for attempt in range(REPAIR_ATTEMPTS):
            try:
                messages = await self._s.storage.messages_range(room, after=after, upto=upto)
            except StorageUnavailable as exc:
                log.warning("cannot fill a gap in %s for %s: %s", room, self._t.remote, exc)
                await trio.sleep(attempt + 1)
                continue
            data = b"".join(encode(message_event(m).wire()) for m in messages)
            break
        # Released either way: after repeated failures the client gets the rest, and pages
        # the gap with history (the seqs show it).
        with contextlib.suppress(_EndSession):
            await self._queue(Release(data, {room: upto}))

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
            if self._draining:
                # Refused, not processed. Encoded directly: the session's shutting_down rule
                # would close it, and the connection's last words come from _finish.
                await self._queue(encode(Error(
                    id=event.id, code="shutting_down", message="the server is stopping",
                ).wire()))
                continue
            try:
                await _HANDLERS[type(event)](self, event)
            except _EndSession:
                return
            except ChatError as exc:
                if exc.code == "rate_limited":
                    self._s.metrics.rate_limited.labels(type(event).OP).inc()
                retry = None if exc.retry_after is None else ceil(exc.retry_after * 1000)
                await self._reply(Error(id=event.id, code=exc.code, message=exc.message,
                                        retry_after=retry))
            except StorageUnavailable as exc:
                log.warning("database unavailable: %s", exc)
                await self._reply(Error(
                    id=event.id, code="unavailable", message="the database is unavailable"
                ))
            except Exception:
                log.exception("handling %s from %s failed", type(event).__name__,
                              self._t.remote)
                await self._reply(Error(id=event.id, code="internal", message="server error"))
            if self._session.state is State.CLOSED:
                return

    # ------------------------------------------------------------------------- handlers

    async def _handle_hello(self, request: Hello) -> None:
        try:
            user, claims = await self._s.auth.verify(request.token)
        except ChatError as exc:
            await self._reply(Error(id=request.id, code=exc.code, message=exc.message))
            raise _EndSession from None
        storage = self._s.storage
        registry = self._s.registry
        # Subscribe first, read after: a message committed in between is then either in what
        # we read or delivered live (the writer drops the overlap by seq). Until the welcome
        # is written, everything for this connection waits in the outbox (Hold(None)); if
        # anything below fails, the session is still AUTHENTICATING and the error closes it.
        subscribed = {room.name for room in await storage.user_rooms(user.id)}
        await self._queue(Hold(None))
        await registry.connect(Connect(
            self, user.name, self._outbox, self._overflow, frozenset(subscribed), ready=_nothing,
        ))
        self._user = user
        self.jti = claims.jti
        self.issued_at = claims.issued_at
        self._registered = True
        rooms = await self._settle_rooms(user, subscribed)
        upto = {room.name: room.last_seq for room in rooms}
        frames: list[bytes] = []
        for room, seen in (request.resume or {}).items():
            if room not in upto:
                continue  # not a member (any more): nothing to resume
            page = await storage.history(user.id, room, after=seen,
                                         limit=self._limits.resume_max)
            if page.more:
                frames.append(encode(Gap(room=room, after=seen, last_seq=page.last_seq).wire()))
                upto[room] = page.last_seq
                continue
            frames.extend(encode(message_event(m).wire()) for m in page.messages)
            upto[room] = page.messages[-1].seq if page.messages else min(seen, upto[room])
        contacts = await storage.contacts(user.id)
        # Online before the status read: every change after the read then reaches us (held
        # until the welcome is out), so the welcome's statuses are never left stale.
        await self._s.presence.online(user.name, self, frozenset(contacts))
        welcome = Welcome(
            id=request.id, user=user_object(user),
            rooms=[room_object(room) for room in rooms],
            contacts=self._s.presence.statuses(contacts),
            ping_interval=PING_INTERVAL,
        )
        frames.insert(0, self._session.send(welcome))
        await self._queue(Release(b"".join(frames), upto))

    async def _settle_rooms(self, user: User, subscribed: set[str]) -> list[Room]:
        """The user's rooms, read after the registry has them all.

        A room the user entered (an invitation, a first DM) between the read that subscribed
        the connection and this one is subscribed now and read again, so that no room is in
        the welcome without its live messages; one they were removed from is dropped."""
        rooms = await self._s.storage.user_rooms(user.id)
        for _ in range(SETTLE_ROUNDS):
            names = {room.name for room in rooms}
            if names == subscribed:
                break
            for name in names - subscribed:
                await self._s.registry.send(RegistryJoin(user.name, name, None))
            for name in subscribed - names:
                await self._s.registry.send(RegistryLeave(user.name, name, None))
            subscribed.clear()
            subscribed.update(names)
            rooms = await self._s.storage.user_rooms(user.id)
        return rooms

    async def _handle_join(self, request: Join) -> None:
        user = self._authenticated()
        storage = self._s.storage
        joined = await storage.join_room(user.id, request.room)
        announce = (encode(MemberJoined(room=request.room, user=user.name).wire())
                    if joined.newly_joined else None)
        await self._queue(Hold(frozenset({request.room})))
        try:
            await self._s.registry.send(RegistryJoin(user.name, request.room, announce))
            page = await storage.history(user.id, request.room, limit=self._limits.join_recent)
        except BaseException:
            # Never leave the room held: its live messages would pile up to a disconnect.
            with trio.CancelScope(shield=True):
                await self._queue(Release(b"", {request.room: 0}))
            raise
        reply = JoinAccepted(
            id=request.id, room=request.room, last_seq=page.last_seq,
            messages=[message_event(m) for m in page.messages], more=page.more,
            private=joined.room.private, topic=joined.room.topic,
        )
        await self._queue(Release(self._session.send(reply), {request.room: page.last_seq}))

    async def _handle_leave(self, request: Leave) -> None:
        user = self._authenticated()
        if await self._s.storage.leave_room(user.id, request.room):
            announce = encode(MemberLeft(room=request.room, user=user.name).wire())
            await self._s.registry.send(RegistryLeave(user.name, request.room, announce))
        await self._reply(Ok(id=request.id))

    async def _handle_send(self, request: Send) -> None:
        user = self._authenticated()
        await self._submit(request.id, NewMessage(
            user_id=user.id, room=request.room, text=request.text, nonce=request.nonce,
        ))

    async def _handle_dm(self, request: Dm) -> None:
        user = self._authenticated()
        conversation = await self._s.storage.direct_room(user.id, request.to)
        room = conversation.room.name
        # Subscribe both sides before the message can be published (idempotent when they
        # already are): whichever of two first messages commits first, both are delivered.
        for name in {user.name, conversation.peer}:
            await self._s.registry.send(RegistryJoin(name, room, None))
        await self._submit(request.id, NewMessage(
            user_id=user.id, room=room, text=request.text, nonce=request.nonce,
        ))

    async def _submit(self, request_id: Any, message: NewMessage) -> None:
        """Queue a message with the committer; the acknowledgement comes from its callback."""
        wait = self._send_bucket.take(trio.current_time())
        if wait > 0:
            raise ChatError("rate_limited", "too many messages; slow down", retry_after=wait)
        # The waiting forms only when there is something to wait for: each checkpoint costs
        # a pass through the scheduler, and the reader checkpoints at its next receive anyway.
        try:
            self._in_flight.acquire_nowait()
        except trio.WouldBlock:
            await self._in_flight.acquire()
        job = SendJob(message, functools.partial(self._sent, request_id))
        try:
            try:
                self._s.committer.submit_nowait(job)
            except trio.WouldBlock:
                await self._s.committer.submit(job)
        except BaseException:
            self._in_flight.release()
            raise

    def _sent(self, request_id: Any, outcome: Outcome) -> None:
        """The committer's callback: queue the acknowledgement (or the refusal)."""
        self._in_flight.release()
        if isinstance(outcome, Appended):
            m = outcome.message
            event: ServerEvent = Sent(id=request_id, room=m.room, seq=m.seq, msg_id=m.msg_id,
                                      ts=m.ts, duplicate=outcome.duplicate)
        else:
            event = Error(id=request_id, code=outcome.code, message=outcome.message)
        # A reply in READY leaves the session's state alone, so this bypasses session.send:
        # the callback may run after the reader has stopped.
        try:
            self._outbox.send_nowait(encode(event.wire()))
        except trio.WouldBlock:
            self._s.metrics.outbox_drops.inc()
            self._overflow()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    async def _handle_history(self, request: History) -> None:
        user = self._authenticated()
        page = await self._s.storage.history(
            user.id, request.room, before=request.before, after=request.after,
            limit=request.limit or min(self._limits.join_recent, self._limits.history_max),
        )
        await self._reply(HistoryPage(
            id=request.id, room=request.room, messages=[message_event(m) for m in page.messages],
            more=page.more,
        ))

    async def _handle_ping(self, request: Ping) -> None:
        await self._reply(Ok(id=request.id))

    async def _handle_rooms(self, request: Rooms) -> None:
        user = self._authenticated()
        rooms = await self._s.storage.rooms_overview(user.id)
        await self._reply(Answer(id=request.id,
                                 fields={"rooms": [room_object(room) for room in rooms]}))

    async def _handle_create_room(self, request: CreateRoom) -> None:
        user = self._authenticated()
        room = await self._s.storage.create_room(user.id, request.room, private=request.private,
                                                 topic=request.topic)
        await self._s.registry.send(RegistryJoin(user.name, room.name, None))
        await self._reply(Answer(id=request.id, fields={"room": room_object(room)}))

    async def _handle_invite(self, request: Invite) -> None:
        user = self._authenticated()
        name, new = await self._s.storage.invite(user.id, request.room, request.user)
        if new:
            announce = encode(MemberJoined(room=request.room, user=name, by=user.name).wire())
            await self._s.registry.send(RegistryJoin(name, request.room, announce))
        await self._reply(Answer(id=request.id, fields={"room": request.room, "user": name}))

    async def _handle_kick(self, request: Kick) -> None:
        user = self._authenticated()
        name, was_member = await self._s.storage.kick(user.id, request.room, request.user)
        if was_member:
            announce = encode(MemberLeft(room=request.room, user=name, by=user.name).wire())
            await self._s.registry.send(RegistryLeave(name, request.room, announce))
        await self._reply(Answer(id=request.id, fields={"room": request.room, "user": name}))

    async def _handle_who(self, request: Who) -> None:
        user = self._authenticated()
        members = await self._s.storage.room_members(user.id, request.room)
        await self._reply(Answer(id=request.id, fields={
            "room": request.room, "members": self._s.presence.statuses(members),
        }))

    async def _handle_typing(self, request: Typing) -> None:
        user = self._authenticated()
        if not self._s.registry.is_member(user.name, request.room):
            raise ChatError("forbidden", "you are not a member of this room")
        wait = self._typing_bucket.take(trio.current_time())
        if wait > 0:
            raise ChatError("rate_limited", "typing too often", retry_after=wait)
        frame = encode(UserTyping(room=request.room, user=user.name).wire())
        await self._s.registry.send(Broadcast(frozenset({request.room}), frame, exclude=user.name))
        await self._reply(Ok(id=request.id))

    async def _handle_read(self, request: Read) -> None:
        user = self._authenticated()
        seq = await self._s.storage.mark_read(user.id, request.room, request.seq)
        frame = encode(ReadMoved(room=request.room, seq=seq).wire())
        await self._s.registry.send(ToUser(user.name, frame, exclude=self))
        await self._reply(Answer(id=request.id, fields={"room": request.room, "seq": seq}))

    async def _handle_contacts(self, request: Contacts) -> None:
        user = self._authenticated()
        names = await self._s.storage.contacts(user.id)
        await self._reply(Answer(id=request.id, fields={
            "contacts": self._s.presence.statuses(names),
        }))

    async def _handle_add_contact(self, request: AddContact) -> None:
        user = self._authenticated()
        name = await self._s.storage.add_contact(user.id, request.user)
        await self._s.presence.watch(user.name, name, True)
        [contact] = self._s.presence.statuses([name])
        await self._reply(Answer(id=request.id, fields=contact))

    async def _handle_remove_contact(self, request: RemoveContact) -> None:
        user = self._authenticated()
        name = await self._s.storage.remove_contact(user.id, request.user)
        if name is None:
            raise ChatError("not_found", f"{request.user} is not one of your contacts")
        await self._s.presence.watch(user.name, name, False)
        await self._reply(Answer(id=request.id, fields={"user": name}))

    def _authenticated(self) -> User:
        assert self._user is not None, "the session only yields these requests when READY"
        return self._user


def _nothing() -> None:
    pass


def _by_seq(delivery: Delivery) -> int:
    return delivery.seq


_Handler = Callable[[Connection, Any], Awaitable[None]]

#: Every request the session can yield, with its handler; checked against the protocol's
#: table by the tests, so that a new op cannot be parsed but left unhandled.
_HANDLERS: dict[type[Request], _Handler] = {
    Hello: Connection._handle_hello,
    Join: Connection._handle_join,
    Leave: Connection._handle_leave,
    Send: Connection._handle_send,
    History: Connection._handle_history,
    Ping: Connection._handle_ping,
    Dm: Connection._handle_dm,
    Rooms: Connection._handle_rooms,
    CreateRoom: Connection._handle_create_room,
    Invite: Connection._handle_invite,
    Kick: Connection._handle_kick,
    Who: Connection._handle_who,
    Typing: Connection._handle_typing,
    Read: Connection._handle_read,
    Contacts: Connection._handle_contacts,
    AddContact: Connection._handle_add_contact,
    RemoveContact: Connection._handle_remove_contact,
}
