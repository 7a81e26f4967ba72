"""Opening a protocol session (``hello``) and keeping it alive (``ping``)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Mapping

from chatd.actions.context import App, Caller, CatchUp, signed_in
from chatd.actions.sections import section_objects
from chatd.errors import ChatError
from chatd.protocol import Gap, Hello, Ok, Ping, ServerEvent, SetIdle, Welcome
from chatd.rooms import Join as Subscribe
from chatd.rooms import Leave as Unsubscribe
from chatd.storage import Page, SessionRooms, SessionStart, User
from chatd.views import message_event, room_object, user_object

__all__ = ["PING_INTERVAL", "RESUME_READ_ENTRIES", "hello", "now_ms", "ping", "resume_reads"]

PING_INTERVAL = 30  # seconds; told to clients in `welcome`
SETTLE_ROUNDS = 3  # re-reads of a user's rooms at hello while they keep changing
#: The entries one read of a resume fetches at most (about: a room is never split).
RESUME_READ_ENTRIES = 20_000


async def hello(app: App, caller: Caller, request: Hello) -> CatchUp:
    """Authenticate, subscribe the connection to the user's rooms, and answer ``welcome``
    followed by what a resuming client missed (or a ``gap`` per room to page).

    Subscribe first, read after: a message committed in between is then either in what we
    read or delivered live (the writer drops the overlap by seq). Until the welcome is
    written everything for this connection waits (``hold(None)``); if anything here fails the
    session is still authenticating, and the error closes it. The registry's epoch is read
    before each read of the user's rooms, so that a removal racing the hello never leaves the
    user subscribed (chatd.rooms, "Membership").

    One statement in one crossing of the bridge, however many rooms (and one for the
    resumed rooms, read at once however many: :func:`resume_reads`): the token's check
    with the names of the rooms and contacts (what the connection subscribes to, and the
    contacts the welcome shows) and the rooms in full (their counts), taken as they are
    unless something may have changed them before the ``Connect`` (:func:`_read_before`);
    then the rooms are read again, once unless they changed meanwhile. A paged hello
    (``rooms_limit``) reads every room's name and last_seq, and only the page's rooms in full
    (:func:`_read_once` when they are read again): the counts cost the page's rooms
    (``rooms_more`` is told by the names, not by one more room counted), and the connection
    is subscribed to every room all the same.
    ``contacts_limit`` reads only the contacts it shows and one more (to tell whether more
    follow), first connection or not: the presence tracker looks up who has a user as a
    contact when their status changes (chatd.presence), never at a hello. Without it, every
    contact is read, and shown.
    """
    registry, heads = app.registry, app.registry.heads
    since, mark, forgotten, hearing = (registry.epoch, registry.changes, heads.forgotten,
                                       heads.hearing)
    # The token's check, the names of the user's rooms and contacts, and the welcome's rooms
    # in full: one statement.
    shows, limit = request.contacts_limit, request.rooms_limit
    start, claims = await app.auth.open_session(
        request.token, contacts_limit=None if shows is None else shows + 1, rooms_limit=limit)
    user, storage = start.user, app.storage
    subscribed, contacts = start.rooms, start.contacts
    await caller.hold(None)
    await caller.attach(user, claims, subscribed, since)
    read = _read_before(app, user, start, mark, forgotten, hearing)
    if read is None:
        read = await _read_once(app, user, limit, start, mark)
    if read is None:
        read = await _settle_rooms(app, user, limit)
    # Every room's last_seq; the page's rooms from the same read as their objects, so that
    # a room object and the live messages after it neither overlap nor leave a hole.
    upto = dict(read.last_seqs)
    rooms = read.rooms
    upto.update((room.name, room.last_seq) for room in rooms)
    then: list[ServerEvent] = []
    # The resumed rooms read at once (one statement, one crossing, as long as what they
    # missed is under RESUME_READ_ENTRIES), in the order of resume; a room not a member's
    # (any more) has nothing to resume.
    resume = {room: seen for room, seen in (request.resume or {}).items() if room in upto}
    most = app.config.limits.resume_max
    pages: dict[str, Page | ChatError] = {}
    for part in resume_reads(resume, upto, most, budget=RESUME_READ_ENTRIES):
        pages.update(await storage.resume_pages(user.id, part, limit=most))
    for room, seen in resume.items():
        page = pages[room]
        if isinstance(page, ChatError):
            raise page
        if page.more:
            then.append(Gap(room=room, after=seen, last_seq=page.last_seq))
            upto[room] = page.last_seq
            continue
        then.extend(message_event(m) for m in page.messages)
        # Read after subscribing, as the page's messages (upto may be the first read's).
        upto[room] = page.messages[-1].seq if page.messages else min(seen, page.last_seq)
    # Online before the status read: every change after the read then reaches us (held
    # until the welcome is out), so the welcome's statuses are never left stale.
    await app.presence.online(user.name, caller.conn_id, idle=bool(request.idle))
    if registry.changed_since(user.name, mark):
        # A pause of notifications (set_dnd), a profile (set_profile), the sharing of read
        # receipts (set_read_receipts), a change of the user's sections or of their keywords
        # (set_keywords) told before the Connect reached the user's other connections only:
        # read them again, as the rooms are (only then: one statement).
        again = await storage.check_token(claims.user_id, claims.jti, claims.issued_at)
        if again is not None:
            user = dataclasses.replace(user, dnd_until=again.dnd_until,
                                       read_receipts=again.read_receipts,
                                       display_name=again.display_name,
                                       custom_status=again.custom_status,
                                       avatar=again.avatar, sections=again.sections,
                                       keywords=again.keywords)
    shown = contacts if shows is None else contacts[:shows]
    welcome = Welcome(
        id=request.id, user=user_object(user), rooms=[room_object(room) for room in rooms],
        contacts=app.presence.statuses(shown), ping_interval=PING_INTERVAL,
        max_text_chars=app.config.limits.max_text_chars,
        keywords_per_user=app.config.limits.keywords_per_user,
        group_mention_members=app.config.limits.group_mention_members,
        rooms_more=None if limit is None else len(read.last_seqs) > limit,
        contacts_more=None if shows is None else len(contacts) > shows,
        now=now_ms(),
        reminders_due=start.reminders_due,
        scheduled_count=start.scheduled_count,
        scheduled_failed=start.scheduled_failed,
        threads_unread=start.threads_unread or None,
        sections=section_objects(user.sections),
        edit_history=app.config.messages.edit_history,
        keywords=list(user.keywords or ()),
    )
    return CatchUp(welcome, upto, then)


def now_ms() -> int:
    """The server's clock, in ms since the epoch, as the welcome tells it (``now``).

    This process's clock, while a message's ``ts`` is the database's (``clock_timestamp()``
    as it is stored): the same clock for the embedded database, and servers' clocks kept
    in step by NTP otherwise, to within milliseconds, where what a client corrects with it is
    a laptop's clock wrong by minutes or hours. Reading the database's would cost the hello
    a statement, or a column in its first one that a bot's hello does not run.
    """
    return time.time_ns() // 1_000_000


def resume_reads(resume: dict[str, int], heads: Mapping[str, int], most: int, *,
                 budget: int = RESUME_READ_ENTRIES) -> Iterator[dict[str, int]]:
    """The rooms of ``resume`` (room to the seq seen) in the reads that fetch them, in order:
    one read while the entries they missed add up to at most ``budget``
    (counted from ``heads``, each room's last_seq when the rooms were read, and one more
    entry a room for its row), a new read past it; a room is never split. A room that missed
    more than ``most`` counts one (its page is a gap: none of its entries are read). What a
    statement returns, and holds in memory at once, stays bounded however much a client
    missed; a resume of a few entries a room is one read of up to 1,000 rooms."""
    part: dict[str, int] = {}
    entries = 0
    for room, seen in resume.items():
        missed = heads[room] - seen
        cost = 1 + (missed if 0 < missed <= most else 0)
        if part and entries + cost > budget:
            yield part
            part, entries = {}, 0
        part[room] = seen
        entries += cost
    if part:
        yield part


def _read_before(app: App, user: User, start: SessionStart, mark: int, forgotten: int,
                 hearing: int | None) -> SessionRooms | None:
    """The rooms as the first read gave them, before the ``Connect``, when nothing can have
    changed them since; None when something may have (then they are read again).

    Nothing did when, as of the ``Connect`` applied: no change of the user's rooms or of
    their view of them (a membership, a read marker, a level) was told to the registry after
    ``mark``, read before the read; the connection is subscribed to exactly the rooms read;
    and no entry of any of them was published here past the seq the read gave, nor
    committed by another node as far as the relay heard (``registry.heads``; nothing
    forgotten, and the relay listening all along, ``hearing``). Then every entry after the
    read's ``last_seq`` reaches the registry after the ``Connect``, live to the connection
    (another node's through its notice, which the relay publishes to the members here).
    A hello in a quiet room, the common case, is one statement."""
    registry = app.registry
    if (start.page is None or start.last_seqs is None or hearing is None
            or registry.heads.hearing != hearing
            or registry.changed_since(user.name, mark)
            or registry.heads.forgotten != forgotten
            or registry.rooms_of(user.name) != start.rooms
            or registry.heads.moved(start.last_seqs)):
        return None
    return SessionRooms(last_seqs=start.last_seqs, rooms=start.page)


async def _read_once(app: App, user: User, limit: int | None, start: SessionStart,
                     mark: int) -> SessionRooms | None:
    """A paged hello's rooms without reading every room a second time: the heads of the
    first read (before the ``Connect``) and the page's rooms in full (after it); None when
    that read cannot be trusted, and the rooms are read again (:func:`_settle_rooms`).

    It can when no change of the user's rooms was told to the registry between ``mark``
    (read before the first read) and the ``Connect``: the connection is then subscribed to
    exactly the rooms storage had, and every change after it reaches the connection as any
    other. A room of the page the registry does not have yet (its ``Join`` is on its way)
    needs the settling all the same. A room's live messages start after the first read's
    ``last_seq`` (the writer repairs any gap from there); a room of the page after its own.
    Without a page, the rooms are read in full after the ``Connect`` anyway."""
    if limit is None or start.last_seqs is None or app.registry.changed_since(user.name, mark):
        return None
    rooms = await app.storage.rooms_overview(user.id, limit=limit, joined=True)
    subscribed = app.registry.rooms_of(user.name)
    if any(room.name not in subscribed for room in rooms):
        return None
    return SessionRooms(last_seqs=start.last_seqs, rooms=rooms)


async def _settle_rooms(app: App, user: User, limit: int | None) -> SessionRooms:
    """The user's rooms (``Storage.session_rooms``: with ``limit``, every room's name and
    last_seq and the first ``limit`` in full), read after the registry has them all.

    A room the user entered (an invitation, a first DM) between the read that subscribed the
    connection and this one is subscribed now and read again, so that no room is in the
    welcome without its live messages; one they were removed from is dropped. The registry's
    view is read before storage's, each time: a room in the registry and not in storage was
    left in between (its Leave is due anyway), and a subscription a removal overtook (the
    registry drops it) is tried again while storage still has the room."""
    for _ in range(SETTLE_ROUNDS):
        since = app.registry.epoch
        subscribed = app.registry.rooms_of(user.name)
        read = await app.storage.session_rooms(user.id, limit)
        names = read.last_seqs.keys()
        if names == subscribed:
            break
        for name in names - subscribed:
            await app.registry.send(Subscribe(user.name, name, None, since))
        for name in subscribed - names:
            await app.registry.send(Unsubscribe(user.name, name, None))
        await app.registry.settled()
    return read


async def ping(app: App, caller: Caller, request: Ping) -> Ok:
    return Ok(id=request.id)


async def set_idle(app: App, caller: Caller, request: SetIdle) -> Ok:
    """The connection's person stopped using it, or is back (chatd.presence: the user is
    away while all their connections are idle). Only a change of the user's status is
    announced, and only a change of this node's part crosses to the other nodes."""
    user = signed_in(caller)
    await app.presence.idle(user.name, caller.conn_id, request.idle)
    return Ok(id=request.id)
