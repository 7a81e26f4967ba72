"""The chat session: logging in, staying connected, requests and their replies, sends that
survive reconnects, and what each event from the server does.

Theory of operation. :meth:`ChatClient.run` holds two long-lived tasks: the *input* task (from
:mod:`chatd.client.commands`) turns lines into requests, and :meth:`ChatClient.keep_connected`
keeps a :class:`~chatd.client.link.Link` to the server: it says ``hello`` with ``resume`` (the
last seq seen per room), handles events, pings every ``ping_interval``, and on loss reconnects
with a growing delay. :attr:`ChatClient.ready` is set while a session is welcomed.

Sends survive the connection: every ``send`` and ``dm`` gets a nonce and stays *pending* until
its ``ok`` arrives. After a reconnect the pending ones are sent again with the same nonces, so
the server stores each exactly once (docs/protocol.md, "Idempotent sends"). Failed ones are kept
for ``/retry``. The sender's own ``message`` event is matched by its nonce and not printed twice:
the ``ok`` prints the confirmed line. Changes (``edit``, ``delete``, ``react``) are pending the
same way: each says the state it wants, so sending one again after a reconnect is safe (the
server answers ``unchanged`` when the first got through).

Messages. Every entry of a room's log, whatever brought it (a live event, a resume, a ``join``
reply, a ``history`` page), goes through :meth:`chatd.client.messages.Messages.apply`, and is
printed only when it changed what is shown: so after a reconnect nothing is printed twice and
nothing stale is left. A change is printed as the message it changed, as it is now.

Interactive or not. On a terminal, a person types while the client (re)connects: a line sent
meanwhile waits as a pending send, a command says "not connected". With piped input (a script)
every line waits for a welcomed session, and each command for its reply, so that the lines act
in order; at the end of input the client waits for the acks of its sends (across reconnects)
and exits 0 only if every one was stored and nothing went wrong. It gives up when it cannot
reconnect after a few attempts, rather than wait for ever.
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import mimetypes
import os
import random
import stat
import time
import urllib.parse
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import trio

from chatd.client.link import (
    CONNECT_TIMEOUT,
    HTTP_ERRORS,
    LINK_ERRORS,
    ConnectionLost,
    Endpoint,
    Link,
    SourceFailed,
    describe,
    http_download,
    http_error,
    http_json,
    http_upload,
    open_link,
)
from chatd.client.messages import Applied, Messages
from chatd.client.render import (
    archived_text,
    deleted_spans,
    dnd_text,
    human_size,
    keywords_text,
    message_spans,
    moderation_text,
    notify_text,
    pinned_spans,
    poll_entry_spans,
    preview_spans,
    profile_text,
    reaction_spans,
    receipts_text,
    reminder_line,
    reminder_text,
    scheduled_event_line,
    status_text,
)
from chatd.client.terminal import (
    LineReader,
    Screen,
    Span,
    Style,
    clean,
    clean_body,
    error_text,
    presences,
    room_summary,
    sidebar_groups,
    sidebar_line,
    unread_counts,
)
from chatd.protocol import (
    MAX_RESUME_ROOMS,
    REPLIES,
    WELCOME_PAGE,
    Answer,
    Change,
    CustomEmojiChanged,
    Dm,
    DndChanged,
    DraftChanged,
    Drafts,
    Entry,
    Error,
    FavouriteChanged,
    Gap,
    Hello,
    HiddenChanged,
    History,
    HistoryPage,
    InvalidName,
    KeywordsChanged,
    MemberBanned,
    MemberJoined,
    MemberKicked,
    MemberLeft,
    MemberUnbanned,
    MessageDeleted,
    MessageEdited,
    MessagePinned,
    MessagePosted,
    NotifyChanged,
    Ping,
    PollClosed,
    PollSpec,
    PollVoted,
    PresenceChanged,
    PreviewChanged,
    ProfileChanged,
    ReactionChanged,
    ReadMoved,
    ReadReceiptsChanged,
    Reminded,
    RemoteProtocolError,
    Reply,
    Request,
    RoleChanged,
    RoomArchived,
    RoomDeleted,
    Rooms,
    SavedChanged,
    ScheduledChanged,
    SectionChanged,
    SectionsChanged,
    Seen,
    Send,
    Sent,
    ServerEvent,
    SetIdle,
    State,
    ThreadStateChanged,
    TopicChanged,
    UserGroupChanged,
    UserGroupList,
    UserTyping,
    Welcome,
    codes,
    conversation_name,
    default_notify,
    is_conversation,
    is_dm_room,
    normalise_room,
    normalise_user,
    parse_event,
)
from chatd.protocol.keywords import matches_any
from chatd.protocol.names import conversation_members, is_group_room

__all__ = ["ChatClient", "ClientOptions", "LoginFailed", "PendingSend", "RoomInfo",
           "WrongCredentials"]

#: Reconnect delays grow from the first to the last, doubling, with some jitter.
RECONNECT_FIRST = 0.5
RECONNECT_MAX = 10.0
#: With piped input, the client gives up after this many attempts in a row fail to connect.
BATCH_ATTEMPTS = 4
#: A typing indicator is printed at most once per user and room in this many seconds.
TYPING_QUIET = 8.0
#: Errors after which a send is worth repeating with the same nonce.
RETRYABLE = frozenset({codes.UNAVAILABLE, codes.INTERNAL, codes.RATE_LIMITED,
                       codes.SHUTTING_DOWN})
#: How many confirmed nonces are remembered, to recognise one's own late ``message`` echo.
RECENT_NONCES = 1000
#: At a terminal, an upload at least this large says how far it got at each quarter.
PROGRESS_BYTES = 1_000_000

_R = TypeVar("_R", bound=ServerEvent)
Handler = Callable[[Reply], Awaitable[None]]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ClientOptions:
    """What ``chatd client`` was asked to do."""

    endpoint: Endpoint
    user: str
    tcp: tuple[str, int] | None = None
    password_from_stdin: bool = False
    register: bool = False  # create the account before logging in
    #: the token of an invitation link to register with (registering, then, as ``register``)
    invitation: str | None = None
    interactive: bool = True  # a person at a terminal (else: piped input, a script)
    bell: bool = False  # ring the terminal bell for a direct message or a mention
    #: Seconds without a typed line after which the user is idle (the server shows them
    #: away while every connection of theirs is); None: never.
    idle_after: float | None = 600.0

    @property
    def where(self) -> str:
        return f"tcp {self.tcp[0]}:{self.tcp[1]}" if self.tcp else self.endpoint.ws_url


class LoginFailed(Exception):
    """Logging in did not work and will not by retrying; the message says why."""


class WrongCredentials(LoginFailed):
    """The server answered the log-in with 401: a wrong password, or no such user (it does
    not say which)."""


class _TokenRejected(Exception):
    pass


#: The most bytes of JSON a hello's ``resume`` takes: the hello is one frame, and a server
#: refuses a frame over its limit (64 KiB by default); 1,000 long conversation names would
#: not fit. The rest of the frame is left for the token.
RESUME_BYTES = 32 * 1024


class _HelloRefused(Exception):
    pass


@dataclasses.dataclass(slots=True)
class PendingSend:
    """A ``send``, ``dm`` or change not yet acknowledged; resent (a send with the same nonce)
    until it is. ``key``: the nonce of a send, a fresh one for a change. ``label``: what it
    is called in messages (the room, or the command). ``failed``: refused, kept for
    ``/retry`` (a rate-limited one is resent by itself)."""

    request: Send | Dm | Change
    label: str
    key: str
    failed: bool = False
    files: tuple[Mapping[str, Any], ...] = ()  # the file objects of a send's ``files``


@dataclasses.dataclass(slots=True)
class RoomInfo:
    kind: str = "room"
    peer: str | None = None
    peers: tuple[str, ...] | None = None  # a group conversation's others, as registered
    private: bool = False
    topic: str = ""
    role: str | None = None  # the user's role in the room, when known
    archived: bool = False  # read-only until unarchived
    notify: str | None = None  # the user's notification level, when known (else the default)
    hidden_seq: int | None = None  # where the user closed the conversation (None: not closed)
    favourite: bool = False  # marked a favourite (/fav), on any device of the user's
    section: int | None = None  # the id of the user's section it is in (/section)


@dataclasses.dataclass(slots=True)
class _Waiter:
    """Someone waiting for the reply to a request: woken by it, or by losing the link."""

    done: trio.Event = dataclasses.field(default_factory=trio.Event)
    answered: bool = False


async def _ignore(reply: Reply) -> None:
    pass



def _forget(path: Path) -> None:
    """Remove a download that did not complete, if it is there."""
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)

class ChatClient:
    """The state of one chat session across reconnects, and what each event does."""

    def __init__(self, options: ClientOptions, password: str, screen: Screen,
                 reader: LineReader) -> None:
        self.options = options
        self.screen = screen
        self.reader = reader
        self._password = password
        self.token: str | None = None
        self.me = options.user
        self.exit_code = 0
        self.link: Link | None = None  # set while welcomed
        self.ready = trio.Event()  # set while welcomed; a new one after each loss
        self.current: str | None = None
        self.rooms: dict[str, RoomInfo] = {}
        self.seen: dict[str, int] = {}  # room -> the last seq shown live: resumed from here
        self.oldest: dict[str, int] = {}  # room -> the oldest seq shown: /history pages before
        self._paging: dict[str, int] = {}  # room -> seq reached while paging a gap
        self._held_live: dict[str, list[Entry]] = {}  # room -> live entries after its gap
        self.pending: dict[str, PendingSend] = {}  # by key
        self.messages = Messages()
        self._recent: deque[str] = deque(maxlen=RECENT_NONCES)
        self._handlers: dict[int | str, Handler] = {}
        self._waiters: dict[int | str, _Waiter] = {}
        self._progress = trio.Event()  # set (and replaced) when sends or the link change
        self._typing_shown: dict[tuple[str, str], float] = {}
        # (room, user) of the kicks and bans shown: their `left` event says nothing more
        self._removals_shown: set[tuple[str, str]] = set()
        # The rooms this client's /join is joining: their own ``joined`` event is not news.
        self.joining: set[str] = set()
        self._registered = False
        self._welcomed_before = False
        #: The server's clock when it wrote this connection's welcome (None: not said): an
        #: ``@here`` sent after it covered this user, who was online then.
        self.online_since: int | None = None
        self._known_before: set[str] = set()  # the rooms known when the last welcome came
        self._first_welcome = False  # the first welcome came; its notices are not out yet
        self._resumed: set[str] = set()  # the rooms the last hello resumed
        self._welcomed_now = False
        self._last_heard = 0.0
        self._session_nursery: trio.Nursery | None = None
        self._stop: trio.CancelScope | None = None
        self.next_search: tuple[str, int] | None = None  # the query and msg_id of /search more
        self.next_pins: tuple[str, int] | None = None  # the room and pin seq of /pins more
        # the room, the root's msg_id and the first reply's seq of /thread more
        self.next_thread: tuple[str, int, int] | None = None
        self.next_saved: int | None = None  # the ts of the last item of /saved, for more
        #: The item ids of the last /scheduled, by their short numbers (1 first).
        self.scheduled_numbers: list[int] = []
        #: The reminders set for others the last ``/reminders`` listed, by their number
        #: (from 1): whom each is for and its note's msg_id.
        self.reminder_numbers: list[tuple[str, int]] = []
        self.next_threads: str | None = None  # the cursor of /threads more
        #: The user's own sidebar sections in their order (section objects), as the last
        #: welcome and the ``sections`` events since said.
        self.sections: list[Mapping[str, Any]] = []
        # Whether the user follows each thread (room, root msg_id) as last heard (the
        # thread_state events, /threads): a change is said once.
        self.following: dict[tuple[str, int], bool] = {}
        # Until when the user's notifications are paused (ms, the server's clock; set_dnd),
        # from the welcome and the ``dnd`` event; None: they are not.
        self.dnd_until: int | None = None
        # Whether the user shares their read receipts (set_read_receipts), from the welcome
        # and the ``read_receipts`` event.
        self.read_receipts = True
        # The user's notification keywords (set_keywords), from the welcome and the
        # ``keywords`` event: a message of someone else's holding one is highlighted, and
        # rings as a mention does (chatd.protocol.keywords).
        self.keywords: tuple[str, ...] = ()
        # The most keywords the server keeps for one user (the welcome's keywords_per_user;
        # None: an older server, which did not say): /keywords add says so before asking.
        self.keywords_max: int | None = None
        # The user's drafts (set_draft, on any device), by room and thread (0: the room's
        # own box): asked after every welcome, kept by the ``draft`` event; /switch shows
        # the room's, /drafts lists them.
        self.drafts: dict[tuple[str, int], str] = {}
        # Per (conversation, lower-case name), the msg_id of the user's message last said
        # seen by that member: "· bob has seen it" is said once a message.
        self._seen_said: dict[tuple[str, str], int] = {}
        # ms to add to this machine's clock for the server's, from the welcome's ``now``: a
        # pause ends by the server's clock (docs/protocol.md, "The client's clock").
        self.clock_offset = 0
        # The user's own profile (set_profile), from the welcome, the replies to /nick and
        # /status and the ``profile`` event: the display name (None: none) and the custom
        # status ({emoji, text, until}; None: none).
        self.display_name: str | None = None
        self.custom_status: dict[str, Any] | None = None
        # Other users' profiles as last heard (who, contacts, /whois, ``profile`` events), by
        # lower-case name: a profile event that says what is known already prints nothing.
        self.profiles: dict[str, tuple[str | None, dict[str, Any] | None]] = {}
        # The url of each user's picture, as last told by a profile event (lower-case name).
        self.avatars: dict[str, str | None] = {}
        # The server's custom emoji, by name ({name, url, by, ts}): filled by /emoji, kept by
        # ``custom_emoji`` events (None: not asked yet).
        self.custom_emoji: dict[str, dict[str, Any]] | None = None
        # The server's user groups, by name ({name, description, members, by, ts, you}):
        # asked after each welcome, kept by ``user_group`` events; the user's own are those
        # with ``you`` (their @name in a message is a mention of the user).
        self.user_groups: dict[str, dict[str, Any]] = {}
        # Idleness (``--idle-after``): whether the user stopped typing here, when they last
        # typed a line (trio's clock), and what the last hello said of it.
        self.idle = False
        self._typed_at = 0.0  # (from the start of the watch: ``run``)
        self._typed = trio.Event()  # set by a line typed while idle
        self._said_idle = False

    # ------------------------------------------------------------------ login

    async def login(self) -> None:
        """Get a token with ``POST /api/login``, after registering the account first when
        asked to (``--register``).

        The server answers a wrong password and an unknown user alike (so that nobody learns
        who has an account), and so does the client: "wrong user name or password".

        Raises:
            LoginFailed: with the reason to show.
            OSError and the like (:data:`HTTP_ERRORS`): the server cannot be reached.
        """
        if (self.options.register or self.options.invitation) and not self._registered:
            await self._register()
        body = {"username": self.me, "password": self._password}
        status, answer = await http_json(self.options.endpoint, "POST", "/api/login", body)
        if status == 200 and isinstance(answer, dict) and isinstance(answer.get("token"), str):
            self.token = answer["token"]
            return
        if status == 401:
            raise WrongCredentials("wrong user name or password")
        raise LoginFailed(f"login failed: {http_error(status, answer)}")

    async def _register(self) -> None:
        if self.options.interactive and not self.options.password_from_stdin:
            again = await trio.to_thread.run_sync(getpass.getpass, "Password again: ")
            if again != self._password:
                raise LoginFailed("the passwords differ")
        body = {"username": self.me, "password": self._password}
        if self.options.invitation:
            body["invitation"] = self.options.invitation
        status, answer = await http_json(self.options.endpoint, "POST", "/api/register", body)
        self._registered = True
        if status == 201:
            rooms = answer.get("rooms") if isinstance(answer, dict) else None
            joined = (" (joined " + " ".join(f"#{clean(str(room))}" for room in rooms) + ")"
                      if isinstance(rooms, list) and rooms else "")
            self.screen.notice(f"registered {clean(self.me)}{joined}")
        elif status == 409:  # the register endpoint says so to anyone who asks
            self.screen.notice(f"{clean(self.me)} has an account already; logging in")
        else:
            hint = (" (chatd client --invitation LINK registers with an invitation link)"
                    if isinstance(answer, dict) and answer.get("code") == "invitation_required"
                    else "")
            raise LoginFailed(f"could not register: {http_error(status, answer)}{hint}")

    # ------------------------------------------------------------------ running

    async def run(self, handle_input: Callable[[ChatClient], Awaitable[None]]) -> int:
        """Log in, then chat: ``handle_input`` reads the lines until /quit or the end of
        input. Returns the exit status."""
        try:
            await self.login()
        except LoginFailed as exc:
            self.screen.problem(str(exc))
            if isinstance(exc, WrongCredentials) and not self.options.register:
                self.screen.notice("no account yet? chatd client --register creates one")
            return 1
        except HTTP_ERRORS as exc:
            self.screen.problem(f"cannot reach {self.options.endpoint.authority}: "
                                f"{describe(exc)}")
            return 1
        async with trio.open_nursery() as nursery:
            self._stop = nursery.cancel_scope
            nursery.start_soon(self.keep_connected)
            if self.options.idle_after is not None:
                self._typed_at = trio.current_time()
                nursery.start_soon(self._watch_idle, self.options.idle_after)
            await handle_input(self)
            await self._finish()
            nursery.cancel_scope.cancel()
        if self.pending:
            self.screen.notice(f"{len(self.pending)} message(s) were not sent")
            self.exit_code = 1
        if not self.options.interactive and self.screen.problems:
            self.exit_code = 1
        return self.exit_code

    async def _finish(self) -> None:
        """At the end of input: wait for the acks of the sends in flight; interactively only
        while connected, from a script also across reconnects (:meth:`keep_connected` gives up
        when it cannot reconnect)."""
        while any(not pending.failed for pending in self.pending.values()):
            if self.link is None and self.options.interactive:
                return
            await self._progress.wait()

    def _notify(self) -> None:
        self._progress.set()
        self._progress = trio.Event()

    # ------------------------------------------------------------------ idleness

    def typed(self) -> None:
        """The user typed a line: active again if they were idle (told to the server)."""
        self._typed_at = trio.current_time()
        if self.idle:
            self.idle = False
            self._typed.set()

    async def _watch_idle(self, after: float) -> None:
        """Idle ``after`` seconds past the last typed line, active again at the next: each
        change told (by the next hello while not connected). One sleep at a time, to when
        the user would be idle; nothing per line but its time."""
        told = self.idle
        while True:
            if told != self.idle:  # (a line may come while the last change is being told)
                told = self.idle
                await self._tell_idle()
            elif self.idle:
                await self._typed.wait()
                self._typed = trio.Event()
            else:
                await trio.sleep_until(self._typed_at + after)
                if trio.current_time() >= self._typed_at + after:
                    self.idle = True

    async def _tell_idle(self) -> None:
        """Say whether the user is idle now, when connected (else the next hello says it);
        a refusal is nothing to show (a server without ``idle`` keeps them online)."""
        with contextlib.suppress(ConnectionLost):
            await self.request(SetIdle(idle=self.idle), _ignore)

    async def wait_ready(self) -> None:
        """Wait until a session is welcomed (at once when it is)."""
        await self.ready.wait()

    async def keep_connected(self) -> None:
        """Connect, chat, and on loss reconnect with a growing delay, resuming."""
        attempt = 0
        rejected = 0
        while True:
            self._welcomed_now = False
            try:
                async with open_link(self.options.endpoint, self.options.tcp) as link:
                    reason = await self._session(link)
            except _TokenRejected as refusal:
                rejected += 1
                try:
                    if rejected > 2:
                        raise LoginFailed(f"the server refuses our tokens ({refusal})")
                    await self.login()
                    continue
                except LoginFailed as exc:
                    self._give_up(str(exc))
                    return
                except HTTP_ERRORS as exc:
                    reason = describe(exc)
            except _HelloRefused as exc:
                reason = str(exc)
            except LINK_ERRORS as exc:
                reason = describe(exc)
            finally:
                self._lose_connection()
            welcomed = self._welcomed_now
            if welcomed:
                attempt = rejected = 0
            elif not self.options.interactive and attempt + 1 >= BATCH_ATTEMPTS:
                self._give_up(f"cannot connect ({reason})")
                return
            delay = min(RECONNECT_MAX, RECONNECT_FIRST * 2**attempt) * random.uniform(0.8, 1.2)
            attempt += 1
            what = "connection lost" if welcomed else "cannot connect"
            self.screen.notice(f"{what} ({reason}); reconnecting in {delay:.1f}s")
            await trio.sleep(delay)

    def _give_up(self, why: str) -> None:
        self.screen.problem(f"{why}; giving up")
        self.exit_code = 1
        assert self._stop is not None
        self._stop.cancel()

    async def _session(self, link: Link) -> str:
        """Say hello, then handle events until the link ends; returns why it ended.

        Raises:
            _TokenRejected: the hello was refused with ``unauthenticated``.
            _HelloRefused: the hello was refused otherwise.
        """
        assert self.token is not None
        resume = self.resume_points()
        self._resumed = set(resume)
        # The first rooms and contacts (a server whose largest page is smaller gives a page of
        # that; one that does not page lists everything, without rooms_more).
        self._said_idle = self.idle
        await link.send(Hello(token=self.token, resume=resume or None,
                              rooms_limit=WELCOME_PAGE, contacts_limit=WELCOME_PAGE,
                              idle=self.idle or None))
        ending: list[str] = []
        refusal: list[BaseException] = []
        async with trio.open_nursery() as nursery:
            self._session_nursery = nursery
            try:
                with trio.fail_after(CONNECT_TIMEOUT):
                    welcome = await self._wait_welcome(link)
                self.link = link
                self._welcomed_now = True
                self._last_heard = trio.current_time()
                nursery.start_soon(self._keepalive, link, welcome.ping_interval, ending)
                self._on_welcome(welcome)
                nursery.start_soon(self._finish_welcome, welcome)
                if self._said_idle != self.idle:  # typed (or stopped) while it was on its way
                    nursery.start_soon(self._tell_idle)
                while True:
                    try:
                        event = await link.next_event()
                    except RemoteProtocolError as exc:
                        if link.conn.state is State.CLOSED:
                            raise
                        self.screen.problem(f"the server sent a frame this client does not "
                                            f"understand ({clean(exc)}); ignored")
                        continue
                    if event is None:
                        ending.append("the server closed the connection")
                        break
                    self._last_heard = trio.current_time()
                    await self._dispatch(event)
            except (_TokenRejected, _HelloRefused) as exc:
                refusal.append(exc)
            except LINK_ERRORS as exc:
                ending.append(describe(exc))
            nursery.cancel_scope.cancel()
        self._session_nursery = None
        if refusal:
            raise refusal[0]
        return ending[0] if ending else "the connection ended"

    def resume_points(self, most: int = MAX_RESUME_ROOMS) -> dict[str, int]:
        """The hello's ``resume``: where each room was left (a gap being paged: where its
        paging was), the current room first, then the rooms with a gap, then those whose
        entries came last, at most ``most`` (the server refuses a larger one) and
        :data:`RESUME_BYTES` of JSON. A room left out is followed from its room object
        (:meth:`_take_room`): what it missed is not shown."""
        order = [self.current] if self.current in self.seen else []
        order += [room for room in self._paging if room in self.seen]
        order += reversed(self.seen)  # the rooms with the latest live entries last
        resume: dict[str, int] = {}
        size = 2  # {}
        for room in order:
            if room in resume:
                continue
            seq = self._paging.get(room, self.seen[room])
            entry = len(room) + len(str(seq)) + 4  # "room":seq, (names are ASCII)
            if len(resume) >= most or size + entry > RESUME_BYTES:
                break
            resume[room] = seq
            size += entry
        return resume

    async def _wait_welcome(self, link: Link) -> Welcome:
        """The welcome; before it, the protocol allows only an error, which ends the session."""
        event = await link.next_event()
        if event is None:
            raise ConnectionLost("the server closed the connection during the hello")
        if isinstance(event, Error):
            if event.code == codes.UNAUTHENTICATED:
                raise _TokenRejected(clean(event.message))
            raise _HelloRefused(f"{clean(event.code)}: {clean(event.message)}")
        assert isinstance(event, Welcome), "the connection lets nothing else come first"
        return event

    async def _keepalive(self, link: Link, interval: float, ending: list[str]) -> None:
        while True:
            await trio.sleep(interval)
            if trio.current_time() - self._last_heard > 2 * interval:
                ending.append(f"no answer from the server for {2 * interval:g}s")
                break
            try:
                await self.request(Ping(), _ignore)
            except ConnectionLost as exc:
                ending.append(describe(exc))
                break
        assert self._session_nursery is not None
        self._session_nursery.cancel_scope.cancel()

    def _lose_connection(self) -> None:
        self.link = None
        self._held_live.clear()  # the resume from the gap's page brings them again
        self._handlers.clear()
        for waiter in self._waiters.values():
            waiter.done.set()
        self._waiters.clear()
        if self.ready.is_set():
            self.ready = trio.Event()
        self._notify()

    # ------------------------------------------------------------------ requests

    async def request(self, request: Request, on_reply: Handler, *, wait: bool = False
                      ) -> bool:
        """Send ``request`` with a fresh id; ``on_reply`` gets its reply (ok or error).
        With ``wait``, return once the reply was handled, or the link lost.

        Returns:
            Whether the reply was handled (always True without ``wait``).
        Raises:
            ConnectionLost: not connected, or the link broke.
        """
        link = self.link
        if link is None:
            raise ConnectionLost("not connected")
        rid = link.conn.next_id()
        self._handlers[rid] = on_reply
        waiter = _Waiter() if wait else None
        if waiter is not None:  # before sending: the reply may be handled before send returns
            self._waiters[rid] = waiter
        try:
            await link.send(dataclasses.replace(request, id=rid))
        except ConnectionLost:
            self._handlers.pop(rid, None)
            self._waiters.pop(rid, None)
            raise
        if waiter is None:
            return True
        await waiter.done.wait()
        return waiter.answered

    async def ask(self, what: str, request: Request, expect: type[_R],
                  on_ok: Callable[[_R], Awaitable[None]], *, wait: bool = True) -> None:
        """A request from a command: ``on_ok`` gets its ``ok`` (an ``expect``); an error is
        printed, and so is being disconnected. With ``wait`` (commands), return once it was
        answered, so that the next line acts on its outcome."""

        async def on_reply(reply: Reply) -> None:
            if isinstance(reply, Error):
                self.show_error(what, reply)
            elif isinstance(reply, expect):
                await on_ok(reply)
            else:
                self.screen.problem(f"{what}: the server answered with a "
                                    f"{type(reply).__name__}")

        try:
            answered = await self.request(request, on_reply, wait=wait)
        except ConnectionLost:
            self.screen.problem(f"{what}: not connected; try again once reconnected")
            return
        if not answered:
            self.screen.problem(f"{what}: the connection was lost before the answer")

    def show_error(self, what: str, error: Error) -> None:
        self.screen.problem(error_text(what, error))

    # ------------------------------------------------------------------ sending

    async def say(self, room: str | None, text: str, *,
                  to: str | tuple[str, ...] | None = None,
                  reply_to: int | None = None,
                  files: Sequence[Mapping[str, Any]] = (), thread: int | None = None,
                  poll: PollSpec | None = None) -> None:
        """Send ``text`` to ``room`` (or as a dm ``to`` a user, or to several: a group
        conversation), keeping it until acked;
        ``reply_to``: the msg_id of a message of the room it answers; ``files``: the file
        objects of uploads to attach (``text`` may then be empty); ``thread``: the msg_id of
        the root of the thread it replies in; ``poll``: the message is a poll (``text`` its
        question)."""
        nonce = uuid.uuid4().hex
        ids = tuple(int(file["id"]) for file in files)
        request: Send | Dm
        if to is not None:
            request = Dm(to=to, text=text, nonce=nonce, reply_to=reply_to, files=ids,
                         thread=thread, poll=poll)
            label = self.label(_dm_room(self.me, to))
        else:
            assert room is not None
            request = Send(room=room, text=text, nonce=nonce, reply_to=reply_to, files=ids,
                           thread=thread, poll=poll)
            label = self.label(room)
        pending = PendingSend(request, label, nonce, files=tuple(files))
        self.pending[nonce] = pending
        state = "sending" if self.link is not None else "not connected: sent once reconnected"
        shown = " ".join([clean_body(text)] * bool(text)
                         + [f"[file {clean(file.get('name'))}]" for file in files])
        self.screen.line(f"  ... [{label}] {clean(self.me)}: {shown}  ({state})")
        await self.transmit(pending)

    async def upload(self, room: str, source: Path, text: str = "") -> None:
        """``/upload``: send the file at ``source`` to ``room`` over HTTP
        (``POST /api/rooms/{room}/files``), streamed from the disk, then send a message
        that attaches it, with ``text`` (a ``dm`` in a conversation). A refusal
        (``too_large``, ``not_found``, ``rate_limited``...), a file that cannot be read and a
        server that cannot be reached are printed as problems, and nothing is sent."""
        what = f"/upload {clean(source.name or str(source))}"
        async with self._readable("/upload", source) as readable:
            if readable is None:
                return
            file, size = readable
            answer = await self._post_file(what, room, file, size, source.name)
        if answer is None:
            return
        self.screen.notice(f"uploaded {clean(answer.get('name'))} "
                           f"({human_size(answer.get('size'))}) to [{self.label(room)}]")
        if is_dm_room(room):
            await self.say(None, text, to=self._peer_of(room), files=[answer])
        else:
            await self.say(room, text, files=[answer])

    async def _post_file(self, what: str, room: str, file: Any, size: int, name: str
                         ) -> Mapping[str, Any] | None:
        """The file object the server made of the upload, or None (and a problem printed).
        A token the server no longer takes (it expired) is renewed once."""
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        path = f"/api/rooms/{urllib.parse.quote(room, safe='')}/files"
        progress = (self._progress_printer(name, size)
                    if self.options.interactive and size >= PROGRESS_BYTES else None)

        async def post(token: str) -> tuple[int, Any]:
            await file.seek(0)
            return await http_upload(self.options.endpoint, path, token, file, size, name=name,
                                     content_type=content_type, on_progress=progress)

        answered = await self._with_token(what, post)
        if answered is None:
            return None
        status, answer = answered
        if status == 201 and isinstance(answer, dict) \
                and isinstance(answer.get("file"), dict) \
                and isinstance(answer["file"].get("id"), int):
            file_object: Mapping[str, Any] = answer["file"]
            return file_object
        self.screen.problem(f"{what}: {http_error(status, answer)}")
        return None

    async def _with_token(self, what: str,
                          call: Callable[[str], Awaitable[tuple[int, Any] | None]]
                          ) -> tuple[int, Any] | None:
        """``call`` (an HTTP request) with the session's token, and once more after logging in
        again when the server no longer takes it (it expired): its status and answer. None,
        the problem printed after ``what``, when the file sent cannot be read (``call`` gave
        None: it printed why, or it raised), the log-in fails or the server cannot be
        reached."""
        for attempt in (1, 2):
            try:
                assert self.token is not None
                answered = await call(self.token)
                if answered is None:
                    return None
                if answered[0] == 401 and attempt == 1:
                    await self.login()
                    continue
            except (SourceFailed, LoginFailed) as exc:
                self.screen.problem(f"{what}: {clean(exc)}")
                return None
            except HTTP_ERRORS as exc:
                self.screen.problem(f"{what}: cannot reach "
                                    f"{self.options.endpoint.authority}: {describe(exc)}")
                return None
            return answered
        return None

    async def download(self, what: str, path: str, target: Path) -> int | None:
        """``GET path`` (the API, with the session's token) saved to ``target``, a new file
        (never one that exists), a chunk at a time; the bytes saved, or None (the problem
        printed after ``what``, and the file made for it removed)."""
        saved: tuple[int, Any, int] | None = None
        try:
            opened = await trio.open_file(target, "xb")
        except OSError as exc:
            self.screen.problem(f"{what}: cannot write {clean(str(target))}: "
                                f"{clean(exc.strerror or exc)}")
            return None
        done = False
        try:
            async with opened as file:

                async def get(token: str) -> tuple[int, Any]:
                    nonlocal saved
                    await file.seek(0)
                    await file.truncate()
                    saved = await http_download(self.options.endpoint, path, token, file)
                    return saved[0], saved[1]

                answered = await self._with_token(what, get)
            if answered is None or saved is None:
                return None
            status, answer, size = saved
            if status != 200:
                self.screen.problem(f"{what}: {http_error(status, answer)}")
                return None
            done = True
            return size
        finally:
            if not done:
                with trio.CancelScope(shield=True):
                    await trio.to_thread.run_sync(_forget, target)

    async def api(self, what: str, method: str, path: str,
                  body: Mapping[str, Any] | None = None) -> tuple[int, Any] | None:
        """One JSON request to the HTTP API with the session's token (renewed once when the
        server no longer takes it): its status and answer; None, the problem printed after
        ``what``, when the server cannot be reached or the log-in fails."""

        async def call(token: str) -> tuple[int, Any]:
            return await http_json(self.options.endpoint, method, path, body, token=token)

        return await self._with_token(what, call)

    @contextlib.asynccontextmanager
    async def _readable(self, what: str, source: Path
                        ) -> AsyncIterator[tuple[Any, int] | None]:
        """The file at ``source`` open for reading, and its size; None, the problem printed
        after ``what``, when it cannot be read or is not a regular file."""
        try:
            opened = await trio.open_file(source, "rb")
        except OSError as exc:
            self.screen.problem(f"{what}: cannot read {clean(str(source))}: "
                                f"{clean(exc.strerror or exc)}")
            yield None
            return
        async with opened as file:
            info = await trio.to_thread.run_sync(os.fstat, file.fileno())
            if not stat.S_ISREG(info.st_mode):
                self.screen.problem(f"{what}: {clean(str(source))} is not a file")
                yield None
                return
            yield file, info.st_size

    async def set_avatar(self, source: Path | None) -> None:
        """``/avatar``: make the image at ``source`` the user's picture (``PUT
        /api/me/avatar``, streamed from the disk), or remove it (None: ``DELETE``). A
        refusal, a file that cannot be read and a server that cannot be reached are printed
        as problems. The profile event that follows tells the rest."""
        what = "/avatar"
        answered = await self._picture(what, "/api/me/avatar", source, method="PUT")
        if answered is None:
            return
        status, answer = answered
        if status == 200:
            self.screen.notice("your picture is set" if source is not None
                               else "your picture is removed")
        else:
            self.screen.problem(f"{what}: {http_error(status, answer)}")

    async def _picture(self, what: str, path: str, source: Path | None, *, method: str = "POST",
                       fields: Sequence[tuple[str, str]] = ()) -> tuple[int, Any] | None:
        """``DELETE path`` (``source`` None), or the image at ``source`` streamed to ``path``
        (``method``, after the text parts ``fields``), as :meth:`_with_token` sends it."""

        async def send(token: str) -> tuple[int, Any] | None:
            if source is None:
                return await http_json(self.options.endpoint, "DELETE", path, token=token)
            async with self._readable(what, source) as readable:
                if readable is None:
                    return None
                file, size = readable
                return await http_upload(
                    self.options.endpoint, path, token, file, size, name=source.name,
                    method=method, fields=fields,
                    content_type=mimetypes.guess_type(source.name)[0]
                    or "application/octet-stream")

        return await self._with_token(what, send)

    def _progress_printer(self, name: str, size: int) -> Callable[[int, int], None]:
        """A progress callback that prints a line at each quarter of the file sent."""
        shown = [0]

        def progress(sent: int, total: int) -> None:
            quarter = 4 * sent // total
            if quarter > shown[0] and sent < total:
                shown[0] = quarter
                self.screen.notice(f"uploading {clean(name)}: {25 * quarter}% "
                                   f"({human_size(sent)} of {human_size(total)})")

        return progress

    async def change(self, request: Change, label: str) -> None:
        """Send an ``edit``, ``delete`` or ``react``, keeping it until acked (and sending it
        again after a reconnect: it says the state it wants, so that is safe). Its entry,
        when it comes, prints the message changed; ``label`` names it in messages."""
        key = uuid.uuid4().hex
        pending = PendingSend(request, label, key)
        self.pending[key] = pending
        if self.link is None:
            self.screen.notice(f"{label}: not connected; sent once reconnected")
        await self.transmit(pending)

    def sends_waiting(self, room: str) -> bool:
        """Whether a message to ``room`` is still waiting for its ack (and not failed)."""
        for pending in self.pending.values():
            request = pending.request
            if pending.failed:
                continue
            if isinstance(request, Send) and request.room == room:
                return True
            if isinstance(request, Dm) and _dm_room(self.me, request.to) == room:
                return True
        return False

    async def settle(self, room: str) -> bool:
        """Wait until the messages sent to ``room`` were acknowledged (or failed): so that
        "my last message" is the one typed last. False when they cannot be, for now: at a
        terminal while not connected."""
        while self.sends_waiting(room):
            if self.link is None and self.options.interactive:
                return False
            await self._progress.wait()
        return True

    async def transmit(self, pending: PendingSend) -> None:
        """Send a pending message (again); when not connected it waits for the welcome."""
        key = pending.key

        async def on_reply(reply: Reply) -> None:
            self._on_send_reply(key, reply)

        pending.failed = False
        with contextlib.suppress(ConnectionLost):  # still pending: resent after the welcome
            await self.request(pending.request, on_reply)

    def _on_send_reply(self, key: str, reply: Reply) -> None:
        pending = self.pending.get(key)
        if pending is None:
            return
        self._notify()
        request = pending.request
        what = (f"not sent to [{pending.label}]" if isinstance(request, Send | Dm)
                else pending.label)
        if isinstance(reply, Sent):
            del self.pending[key]
            if isinstance(request, Send | Dm):
                self._recent.append(key)
                self._on_sent(request, reply, pending.files)
            elif reply.unchanged:
                self.screen.notice(f"{pending.label}: nothing to change")
            return
        if not isinstance(reply, Error):
            return  # the connection gives a send nothing else
        if reply.code == codes.RATE_LIMITED and reply.retry_after is not None:
            # Not a problem that counts against a script: the request is only delayed.
            self.screen.line("!! " + error_text(what, reply))
            self.screen.notice("it will be sent again when the limit allows")
            if self._session_nursery is not None:
                self._session_nursery.start_soon(self._retry_later, key, pending,
                                                 reply.retry_after / 1000)
            return
        self.show_error(what, reply)
        if not isinstance(request, Send | Dm) and reply.code not in RETRYABLE:
            del self.pending[key]  # refused for good: sending it again changes nothing
            return
        pending.failed = True
        hint = "/retry sends it again" if reply.code in RETRYABLE else \
            "kept: /retry sends it again (with the same nonce), /drop forgets it"
        self.screen.notice(hint)

    def _on_sent(self, request: Send | Dm, reply: Sent,
                 files: Sequence[Mapping[str, Any]] = ()) -> None:
        """Our message is stored: print it as confirmed, as held (its own ``message`` event
        may have come first, with what the server read in it), else as sent (with the file
        objects of its uploads)."""
        room = reply.room
        if is_conversation(room) and room not in self.rooms:
            self.rooms[room] = (RoomInfo(kind="dm", peer=self._peer_of(room))
                                if is_dm_room(room) else RoomInfo(kind="group"))
        held = self.messages.get(room, reply.msg_id)
        if held is None:
            self.messages.apply(MessagePosted(
                room=room, seq=reply.seq, msg_id=reply.msg_id, sender=self.me,
                text=request.text, ts=reply.ts, nonce=request.nonce, reply_to=request.reply_to,
                files=tuple(files), thread=request.thread, broadcast=request.broadcast,
                poll=None if request.poll is None else {
                    "options": [{"text": text, "votes": 0, "voters": []}
                                for text in request.poll.options],
                    "multiple": request.poll.multiple, "closed": False},
            ))
            held = self.messages.get(room, reply.msg_id)
            assert held is not None
        self.show(held)

    async def _retry_later(self, nonce: str, pending: PendingSend, delay: float) -> None:
        await trio.sleep(delay)
        if self.pending.get(nonce) is pending and not pending.failed:
            await self.transmit(pending)

    async def _resend_pending(self) -> None:
        waiting = [p for p in self.pending.values() if not p.failed]
        if waiting:
            self.screen.notice(f"sending {len(waiting)} waiting message(s)")
        for pending in waiting:
            await self.transmit(pending)

    # ------------------------------------------------------------------ names

    def _peer_of(self, room: str) -> str:
        info = self.rooms.get(room)
        if info is not None and info.peer:
            return info.peer
        first, _, second = room[1:].partition(":")
        return second if first == self.me.lower() else first

    def _peers_of(self, room: str) -> list[str]:
        """The others of group conversation ``room``: as the server named them, else from
        the name (lower case)."""
        info = self.rooms.get(room)
        if info is not None and info.peers:
            return list(info.peers)
        return [name for name in conversation_members(room) if name != self.me.lower()]

    def label(self, room: str) -> str:
        """How a room is shown: its name, ``@peer`` for a 1:1 conversation, ``@bob,carol``
        (the others, as ``/dm`` takes them) for a group conversation."""
        if is_group_room(room):
            return clean("@" + ",".join(self._peers_of(room)))
        return clean("@" + self._peer_of(room) if is_dm_room(room) else room)

    def room_arg(self, arg: str) -> str | None:
        """A room named in a command: ``general``, ``@bob`` or ``@ann:bob``, ``@bob,carol``
        (the group conversation of the user and them) or ``@ann:bob:carol``; None (and a
        message) when it is not a valid name."""
        arg = arg.strip()
        try:
            if arg.startswith("@") and ":" not in arg:
                people = [normalise_user(name.strip()) for name in arg[1:].split(",")]
                return conversation_name([self.me, *people])
            return normalise_room(arg)
        except InvalidName as exc:
            self.screen.problem(f"{clean(arg)!r}: {exc}")
            return None

    def users_arg(self, arg: str) -> str | tuple[str, ...] | None:
        """Whom ``/dm`` writes to: ``bob`` (or ``@bob``), or ``bob,carol`` (several, comma
        separated: a group conversation); None (and a message) when a name is not valid."""
        if "," not in arg:
            return self.user_arg(arg)
        names = [name.strip().removeprefix("@") for name in arg.split(",")]
        try:
            return tuple(normalise_user(name) for name in names if name)
        except InvalidName as exc:
            self.screen.problem(f"{clean(arg)!r}: {exc}")
            return None

    def user_arg(self, arg: str) -> str | None:
        try:
            return normalise_user(arg.strip().removeprefix("@"))
        except InvalidName as exc:
            self.screen.problem(f"{clean(arg)!r}: {exc}")
            return None

    # ------------------------------------------------------------------ messages

    def format_message(self, message: MessagePosted) -> list[Span]:
        """A message as shown now (see :func:`chatd.client.render.message_spans`)."""
        answered = root = None
        if message.reply_to is not None:
            original = self.messages.get(message.room, message.reply_to)
            if original is not None:
                answered = (self.messages.number(original), original)
        if message.thread is not None:
            held = self.messages.get(message.room, message.thread)
            if held is not None:
                root = (self.messages.number(held), held)
        return message_spans(message, number=self.messages.number(message),
                             label=self.label(message.room), me=self.me,
                             groups=self.my_groups(message.user_groups),
                             styled=self.screen.styled, answered=answered,
                             base_url=self.options.endpoint.base_url, root=root,
                             keywords=self.keywords)

    def show(self, message: MessagePosted) -> None:
        self.screen.spans(self.format_message(message))

    def take(self, entries: Sequence[Entry]) -> list[MessagePosted]:
        """Apply the entries of a ``join`` reply or a ``history`` page, printing nothing;
        the messages among them as they are now, to print."""
        for entry in entries:
            self.messages.apply(entry)
        held = (self.messages.get(e.room, e.msg_id) for e in entries
                if isinstance(e, MessagePosted))
        return [message for message in held if message is not None]

    def _take_live(self, entry: Entry, *, filling: bool = False) -> None:
        """Apply an entry that came live (or on resume, or ``filling`` a gap) and print what
        it changed: a new message, or a message as it is after the change.

        The entries of a room are applied in seq order (the rev rule needs it: a change
        applied before an earlier one would hide it). Live entries come in order, but after
        a ``gap`` they come before the entries of the gap, which are read with ``history``:
        so they are kept until the gap is filled."""
        room = entry.room
        # Moved last in `seen`: the rooms with the latest entries are resumed first.
        self.seen[room] = max(self.seen.pop(room, 0), entry.seq)
        if room in self._paging and not filling:
            self._held_live.setdefault(room, []).append(entry)
            return
        self.oldest.setdefault(room, entry.seq)
        if room not in self.rooms:  # a new conversation, or a room we were just invited to
            self.rooms[room] = RoomInfo(kind=kind_of(room))
        if isinstance(entry, TopicChanged):
            if entry.topic != self.rooms[room].topic:
                self.rooms[room].topic = entry.topic
                self.screen.notice(f"{clean(entry.by)} set the topic of [{self.label(room)}]: "
                                   f"{clean(entry.topic) or '(none)'}")
            return
        if isinstance(entry, RoomArchived):
            if entry.archived != self.rooms[room].archived:
                self.rooms[room].archived = entry.archived
                self.screen.notice(archived_text(entry, self.label(room), self.me))
            return
        if isinstance(entry, RoleChanged | MemberBanned | MemberUnbanned | MemberKicked):
            if isinstance(entry, RoleChanged) and entry.user.lower() == self.me.lower():
                self.rooms[room].role = entry.role
            if isinstance(entry, MemberBanned | MemberKicked):
                self._removals_shown.add((room, entry.user.lower()))
            self.screen.notice(moderation_text(entry, self.label(room), self.me))
            return
        if isinstance(entry, MessagePinned):
            self._take_pin(entry)
            return
        if isinstance(entry, MessageDeleted) and entry.unpinned \
                and self.messages.get(room, entry.msg_id) is None:
            # Not held here, but the room's pins changed: told as a pin is.
            self.screen.spans(deleted_spans(None, number=None, label=self.label(room),
                                            by=entry.by, unpinned=True))
            return
        if self.messages.apply(entry) is Applied.NOTHING:
            return
        held = self.messages.get(room, entry.msg_id)
        assert held is not None, "an entry that changed something is of a held message"
        if isinstance(entry, MessagePosted):
            if entry.sender.lower() == self.me.lower() and (
                    entry.nonce in self.pending or entry.nonce in self._recent):
                return  # our own send: its ack prints it
            self.show(held)
            if self.rings_for(held):
                self.screen.bell()
        elif isinstance(entry, MessageDeleted):
            self.screen.spans(deleted_spans(held, number=self.messages.number(held),
                                            label=self.label(room), by=entry.by,
                                            unpinned=bool(entry.unpinned)))
        elif isinstance(entry, ReactionChanged):
            self.screen.spans(reaction_spans(
                held, number=self.messages.number(held), label=self.label(room), me=self.me,
                user=entry.user, emoji=entry.emoji, on=entry.on))
        elif isinstance(entry, PollVoted | PollClosed):
            self.screen.spans(poll_entry_spans(
                held, number=self.messages.number(held), label=self.label(room),
                who=entry.user if isinstance(entry, PollVoted) else entry.by,
                options=entry.options if isinstance(entry, PollVoted) else None))
        elif isinstance(entry, PreviewChanged):
            # Under the message printed a moment ago, as a line of its own (a removal is
            # not news enough to print).
            if held.previews:
                self.screen.spans([*preview_spans(held.previews[0]),
                                   Span(f"  [{self.messages.number(held)}]", Style.DIM)])
        else:
            self.show(held)

    def _take_pin(self, entry: MessagePinned) -> None:
        """A pin or an unpin: printed once, with the message's first words when it is held
        (a pin is news of the room even for a message not held: it says so)."""
        room = entry.room
        held = self.messages.get(room, entry.msg_id)
        if self.messages.apply(entry) is Applied.NOTHING and held is not None:
            return  # stale, or repeated
        held = self.messages.get(room, entry.msg_id)
        number = self.messages.number(held) if held is not None else None
        self.screen.spans(pinned_spans(held, number=number, label=self.label(room),
                                       by=entry.by, on=entry.on))

    def rings_for(self, message: MessagePosted) -> bool:
        """Whether a new message just shown rings the bell (with ``--bell``): one by someone
        else that the user's notification level for its room asks for (``/notify``, kept on
        the server for every device): ``all``, every message; ``mentions`` (a room's
        default), those that mention the user (by name, or as a group: ``@room`` mentions
        every member, ``@here`` the members online, as the user was for one sent after this
        connection's welcome; one replayed from before, the server alone knows) or hold one
        of their notification keywords, and in a conversation every one; ``none``,
        nothing. The bell rings always rather than only for rooms not being looked at: a
        terminal cannot tell whether it is looked at, and the terminal (or tmux, screen)
        already decides what a bell does in the window in front and in one behind. Nothing
        rings while the user's notifications are paused (``/dnd``, on any device)."""
        if not self.options.bell or message.deleted or self.paused():
            return False
        if message.sender.lower() == self.me.lower():
            return False
        level = self.notify_level(message.room)
        if level == "mentions":
            here = message.group == "here" and (
                self.online_since is None or message.ts >= self.online_since)
            return is_dm_room(message.room) or message.group == "room" or here or any(
                name.lower() == self.me.lower() for name in message.mentions) or bool(
                self.my_groups(message.user_groups)) or matches_any(self.keywords,
                                                                    message.text)
        return level == "all"

    def my_groups(self, names: Iterable[str]) -> set[str]:
        """Which of the user groups ``names`` the user is in (as last heard)."""
        return {name for name in names
                if (self.user_groups.get(name) or {}).get("you") is True}

    def server_now(self) -> int:
        """The server's time now, as this client reckons it (ms since the epoch)."""
        return time.time_ns() // 1_000_000 + self.clock_offset

    def paused(self) -> bool:
        """Whether the user's notifications are paused now, by the server's clock."""
        return self.dnd_until is not None and self.server_now() < self.dnd_until

    def take_dnd(self, until: int | None, *, quiet: bool = False) -> None:
        """Keep the pause the server told (a welcome, the ``dnd`` event, the reply to
        ``/dnd``), and say it when it is news (unless ``quiet``): a ``/dnd`` is told by its
        reply and by its event, whichever comes first says it."""
        was = self.dnd_until if self.paused() else None
        self.dnd_until = until
        now = until if until is not None and self.paused() else None
        if now != was and not quiet:
            self.screen.notice(dnd_text(now, self.server_now()))

    def take_profile(self, user: str, display_name: object, status: object, *,
                     quiet: bool = False) -> None:
        """Keep a profile the server told (a welcome's, a reply's, a ``profile`` event's,
        a listing's), and say it when it is news (unless ``quiet``): a ``/nick`` is told by
        its reply and by its event, whichever comes first says it."""
        name = display_name if isinstance(display_name, str) else None
        custom = dict(status) if isinstance(status, Mapping) else None
        known: tuple[str | None, dict[str, Any] | None] | None
        if user.lower() == self.me.lower():
            known = (self.display_name, self.custom_status)
            self.display_name, self.custom_status = name, custom
            who = "you are"
        else:
            known = self.profiles.get(user.lower())  # None: never heard of
            self.profiles[user.lower()] = (name, custom)
            who = f"{clean(user)} is"
        if (name, custom) != known and not quiet:
            self.screen.notice(f"{who} now {profile_text(name, custom, self.server_now())}")

    def take_listed(self, items: object) -> None:
        """Keep the profiles of a ``who`` or ``contacts`` page (absent fields: none)."""
        if not isinstance(items, list):
            return
        for item in items:
            if isinstance(item, Mapping) and isinstance(item.get("user"), str):
                self.take_profile(item["user"], item.get("display_name"),
                                  item.get("custom_status"), quiet=True)

    def notify_level(self, room: str) -> str:
        """The user's notification level for ``room``: as last heard from the server, else
        the default for its kind (``all`` for a conversation, ``mentions`` for a room)."""
        info = self.rooms.get(room)
        if info is not None and info.notify is not None:
            return info.notify
        return default_notify(kind_of(room))

    def my_last(self, room: str) -> MessagePosted | None:
        """The user's latest message in ``room`` that is held and not deleted."""
        return self.messages.last_by(room, self.me)

    def room_summary(self, obj: Mapping[str, Any]) -> str:
        return room_summary(obj, self.label(str(obj.get("room"))))

    def closed(self, obj: Mapping[str, Any]) -> bool:
        """Whether a room object is a conversation the user closed (``/close``) in which
        nobody wrote since (``last_seq`` not past ``hidden_seq``), and not the current one:
        what /rooms and the first welcome's rooms line leave out."""
        hidden, last = obj.get("hidden_seq"), obj.get("last_seq")
        return (isinstance(hidden, int) and isinstance(last, int) and last <= hidden
                and obj.get("room") != self.current)

    def remember_room(self, obj: Mapping[str, Any]) -> None:
        """Keep what a room object says of a room the user is in."""
        room = str(obj["room"])
        info = self.rooms.setdefault(room, RoomInfo())
        info.kind = str(obj.get("kind", kind_of(room)))
        if isinstance(obj.get("peer"), str):
            info.peer = obj["peer"]
        peers = obj.get("peers")
        if isinstance(peers, list) and all(isinstance(name, str) for name in peers):
            info.peers = tuple(peers)
        info.private = bool(obj.get("private"))
        info.topic = str(obj.get("topic") or "")
        if isinstance(obj.get("role"), str):
            info.role = obj["role"]
        info.archived = obj.get("archived") is True
        if isinstance(obj.get("notify"), str):
            info.notify = obj["notify"]
        hidden = obj.get("hidden_seq")
        info.hidden_seq = hidden if isinstance(hidden, int) else None
        info.favourite = obj.get("favourite") is True
        section = obj.get("section")
        info.section = section if isinstance(section, int) else None

    def forget_room(self, room: str) -> None:
        self.rooms.pop(room, None)
        self.seen.pop(room, None)
        self.oldest.pop(room, None)
        self._paging.pop(room, None)
        self.messages.forget(room)
        if self.current == room:
            self.current = None
            self.screen.notice("no current room: /switch ROOM or /join ROOM")

    # ------------------------------------------------------------------ events from the server

    async def _dispatch(self, event: ServerEvent) -> None:
        try:
            if isinstance(event, REPLIES) and event.id is not None:
                handler = self._handlers.pop(event.id, None)
                waiter = self._waiters.pop(event.id, None)
                try:
                    if handler is not None:
                        await handler(event)
                    elif isinstance(event, Error):
                        self.show_error("server", event)
                finally:
                    if waiter is not None:
                        waiter.answered = True
                        waiter.done.set()
                return
            if isinstance(event, Error):
                self.show_error("server", event)
                return
            on_event = self._EVENTS.get(type(event))
            if on_event is not None:
                await on_event(self, event)
        except (KeyError, TypeError, ValueError, AttributeError):
            # The fields of an Answer (rooms, members...) are the server's JSON as it came.
            self.screen.problem(f"could not understand a {clean(event.OP or 'server')!r} "
                                "frame from the server")

    def _on_welcome(self, welcome: Welcome) -> None:
        """Take the welcome's rooms (the first page of them: the hello is paged), before any
        event that follows it; :meth:`_finish_welcome` pages the rest."""
        self.me = str(welcome.user.get("name") or self.me)
        if welcome.now is not None:
            self.clock_offset = welcome.now - time.time_ns() // 1_000_000
        until = welcome.user.get("dnd_until")
        # Said at the first welcome with the rest of what the session has; after it, a pause
        # set or ended while away is said as an event's would be.
        self.take_dnd(until if isinstance(until, int) and not isinstance(until, bool) else None,
                      quiet=not self._welcomed_before)
        self.read_receipts = welcome.user.get("read_receipts") is not False
        if welcome.keywords is not None:
            self.keywords = tuple(welcome.keywords)
        self.keywords_max = welcome.keywords_per_user
        # The same for the profile: kept at the first welcome, said when another device
        # changed it while this one was away.
        self.take_profile(self.me, welcome.user.get("display_name"),
                          welcome.user.get("custom_status"), quiet=not self._welcomed_before)
        self.online_since = welcome.now
        if welcome.reminders_due and not self._welcomed_before:
            self.screen.notice(f"⏰ {welcome.reminders_due} saved message(s) reminded "
                               "(/saved lists them)")
        if welcome.scheduled_failed and not self._welcomed_before:
            self.screen.notice(f"✗ {welcome.scheduled_failed} scheduled message(s) failed "
                               "(/scheduled lists them)")
        if welcome.threads_unread and not self._welcomed_before:
            many = "100 or more" if welcome.threads_unread >= 100 else welcome.threads_unread
            self.screen.notice(f"🧵 {many} followed thread(s) with unread replies "
                               "(/threads lists them)")
        if welcome.sections is not None:
            self.sections = list(welcome.sections)
        self._paging.clear()  # the hello resumed those rooms from where their paging was
        self._known_before = set(self.rooms)
        for obj in welcome.rooms:
            self._take_room(obj)
        if self._welcomed_before:
            self.screen.notice(f"reconnected to {self.options.where} as {clean(self.me)}")
            skipped = len(set(self.seen) - self._resumed)
            if skipped:
                self.screen.notice(
                    f"{skipped} rooms not caught up (a reconnection resumes at most "
                    f"{MAX_RESUME_ROOMS}): what was said there meanwhile is not shown "
                    "(/history there shows it)")
            return
        self._welcomed_before = self._first_welcome = True
        self.screen.notice(f"connected to {self.options.where} as {clean(self.me)}")

    def _take_room(self, obj: Mapping[str, Any]) -> None:
        """A room object of the user's own rooms (the welcome, a ``rooms`` page). A room known
        before that the hello did not resume is followed from the object on, as a new one."""
        self.remember_room(obj)
        room, last = str(obj["room"]), int(obj.get("last_seq") or 0)
        if room in self.seen and room not in self._resumed:
            self.seen[room] = max(self.seen[room], last)
        else:
            self.seen.setdefault(room, last)

    async def _finish_welcome(self, welcome: Welcome) -> None:
        """Page the rooms the welcome did not list (``rooms`` with ``joined``, while ``more``)
        so that the client knows every room, as the unpaged welcome gave them; then forget
        the rooms left while away, say what the session has, and send what waits. Events
        are handled meanwhile: the connection is subscribed to every room already."""
        objects = list(welcome.rooms)
        listed = [str(obj["room"]) for obj in objects]
        more = welcome.rooms_more is True
        try:
            replies: list[Reply] = []

            async def on_reply(reply: Reply) -> None:
                replies.append(reply)

            while more and listed:
                if not await self.request(Rooms(joined=True, after=listed[-1]), on_reply,
                                          wait=True):
                    return  # the link was lost: the next session starts again
                reply = replies.pop()
                if not isinstance(reply, Answer):
                    if isinstance(reply, Error):
                        self.show_error("rooms", reply)
                    break  # keep every room known: the list is not complete
                for obj in reply.fields.get("rooms") or []:
                    self._take_room(obj)
                    objects.append(obj)
                    listed.append(str(obj["room"]))
                more = reply.fields.get("more") is True
        except ConnectionLost:
            return
        except (KeyError, TypeError, ValueError, AttributeError):
            self.screen.problem("could not understand a 'rooms' page from the server")
            more = True
        if not more:
            for room in self._known_before - set(listed):  # left or kicked while away
                self.forget_room(room)
        self._welcome_notices(welcome, objects)
        await self._ask_user_groups()
        await self._ask_drafts()
        self.ready.set()
        self._notify()
        await self._resend_pending()

    async def _ask_user_groups(self) -> None:
        """Ask for the user groups (after every welcome: events are not replayed), without
        waiting: which the user is in decides what is a mention of them. A server that does
        not know the request (an older one) leaves the list empty."""

        async def on_reply(reply: Reply) -> None:
            if isinstance(reply, Answer):
                found = [g for g in reply.fields.get("groups") or [] if isinstance(g, dict)]
                self.user_groups = {str(g.get("name")): g for g in found}

        with contextlib.suppress(ConnectionLost):
            await self.request(UserGroupList(), on_reply)

    async def _ask_drafts(self) -> None:
        """Ask for the user's drafts (after every welcome: a draft changed while away is not
        told again), without waiting. An older server leaves them unknown."""

        async def on_reply(reply: Reply) -> None:
            if isinstance(reply, Answer):
                self.take_drafts(reply.fields.get("drafts"))

        with contextlib.suppress(ConnectionLost):
            await self.request(Drafts(), on_reply)

    def take_drafts(self, listed: object) -> list[dict[str, Any]]:
        """Keep the drafts of a ``drafts`` reply (what is not a draft object is left out);
        the ones kept, in the reply's order."""
        found = [d for d in (listed if isinstance(listed, list) else [])
                 if isinstance(d, dict) and isinstance(d.get("room"), str)
                 and isinstance(d.get("text"), str) and d["text"]
                 and isinstance(d.get("thread", 0), int)]
        self.drafts = {(d["room"], d.get("thread") or 0): d["text"] for d in found}
        return found

    def draft_of(self, room: str, thread: int = 0) -> str:
        """The user's draft of ``room`` (of its thread ``thread``), "" when none is known."""
        return self.drafts.get((room, thread), "")

    def _welcome_notices(self, welcome: Welcome, objects: list[Mapping[str, Any]]) -> None:
        """After the first welcome (and its pages): the rooms, the contacts, where to talk."""
        if not self._first_welcome:
            return
        self._first_welcome = False
        listed = [obj for obj in objects
                  if obj.get("room") in self.rooms and not self.closed(obj)]
        rooms = sidebar_line(sidebar_groups(listed, self.sections, current=self.current),
                             self.room_summary)
        closed = sum(1 for obj in objects if obj.get("room") in self.rooms and self.closed(obj))
        self.screen.notice("rooms: " + (rooms or "none yet")
                           + (f" ({closed} closed conversation(s) with nothing new: /rooms "
                              "lists them once someone writes)" if closed else ""))
        if welcome.contacts:
            last = welcome.contacts[-1].get("user")
            more = (f" (more: /contacts +{clean(last)})"
                    if welcome.contacts_more is True and isinstance(last, str) else "")
            self.screen.notice("contacts: " + presences(welcome.contacts) + more)
        if self.paused():
            self.screen.notice(f"{dnd_text(self.dnd_until, self.server_now())} "
                               "(/dnd off resumes them)")
        shown = status_text(self.custom_status, self.server_now())
        if shown:  # a status set long ago is easily forgotten: said at the start
            self.screen.notice(f"your status: {shown} (/status --clear clears it)")
        first = [r for r in self.rooms if self.rooms[r].kind == "room"] or list(self.rooms)
        if first:
            self.current = first[0]
            self.screen.notice(f"talking in [{self.label(self.current)}]; "
                               "type to send, /help for commands")
        else:
            self.screen.notice("you are in no room yet: /join ROOM, /rooms, /help")

    async def _on_message(self, event: MessagePosted) -> None:
        self._typing_shown.pop((event.room, event.sender.lower()), None)
        self._take_live(event)

    async def _on_change(self, event: Entry) -> None:
        self._take_live(event)

    async def _on_presence(self, event: PresenceChanged) -> None:
        self.screen.notice(f"{clean(event.user)} is {clean(event.status)}")

    async def _on_joined(self, event: MemberJoined) -> None:
        room, user, by = event.room, event.user, event.by
        if user.lower() == self.me.lower():
            if by is None:
                if room in self.rooms or room in self.joining:
                    return  # our own join here: its reply says so
                # joined on another device: the room is known from now on, and its object
                # (topic, privacy, role...) is asked
                self.rooms[room] = RoomInfo(kind=kind_of(room))
                self.screen.notice(f"joined [{self.label(room)}] on another device; "
                                   f"/switch {clean(room)} to talk there")
                await self._ask_room(room)
                return
            self.rooms.setdefault(room, RoomInfo())
            self.screen.notice(f"{clean(by)} added you to [{self.label(room)}]; "
                               f"/switch {clean(room)} to talk there")
            return
        via = f" (invited by {clean(by)})" if by else ""
        self.screen.notice(f"{clean(user)} joined [{self.label(room)}]{via}")

    async def _ask_room(self, room: str) -> None:
        """Ask the object of ``room``, one of the user's rooms (a ``rooms`` page by its name),
        and keep it once it comes; without it (the link lost, a page of other names only)
        the room stays as known, and the next welcome or /rooms gives it."""

        async def on_reply(reply: Reply) -> None:
            if not isinstance(reply, Answer) or room not in self.rooms:
                return  # an error, or left meanwhile
            for obj in reply.fields.get("rooms") or []:
                if isinstance(obj, dict) and obj.get("room") == room:
                    self._take_room(obj)

        with contextlib.suppress(ConnectionLost):
            await self.request(Rooms(query=room, joined=True), on_reply)

    async def _on_left(self, event: MemberLeft) -> None:
        room, user, by = event.room, event.user, event.by
        label = self.label(room)
        if by is not None and (room, user.lower()) in self._removals_shown:
            # its kick or ban was shown (with the reason): say nothing twice
            self._removals_shown.discard((room, user.lower()))
            if user.lower() == self.me.lower():
                self.forget_room(room)
            return
        if user.lower() == self.me.lower():
            if room in self.rooms:  # else the reply to our /leave said it already
                self.screen.notice(f"{clean(by)} removed you from [{label}]" if by
                                   else f"you left [{label}]")
                self.forget_room(room)
            return
        via = f" (removed by {clean(by)})" if by else ""
        self.screen.notice(f"{clean(user)} left [{label}]{via}")

    async def _on_profile(self, event: ProfileChanged) -> None:
        """Someone in a room of the user's, a contact or the user (on any device) changed
        their display name or status: one line says it (messages keep showing login
        names, so that every line stays one a program can read)."""
        self.take_profile(event.user, event.display_name, event.custom_status)
        url = event.avatar.get("url") if event.avatar else None
        key = event.user.lower()
        before = self.avatars.get(key)  # (None: none, or not heard of)
        self.avatars[key] = url
        # Someone else's new picture is a line of its own (one's own: /avatar said it).
        if url != before and key != self.me.lower():
            self.screen.notice(f"{clean(event.user)} has a new picture" if url
                               else f"{clean(event.user)} removed their picture")

    async def _on_custom_emoji(self, event: CustomEmojiChanged) -> None:
        """A custom emoji was added or removed, by anyone: one line says it."""
        if self.custom_emoji is not None:
            if event.url is None:
                self.custom_emoji.pop(event.name, None)
            else:
                self.custom_emoji[event.name] = {"name": event.name, "url": event.url,
                                                 "by": event.by, "ts": event.ts}
        what = "added" if event.url is not None else "removed"
        self.screen.notice(f"{clean(event.by)} {what} the custom emoji :{clean(event.name)}:")

    async def _on_user_group(self, event: UserGroupChanged) -> None:
        """A user group was created, changed or deleted, by anyone: the list follows, the
        user's ``you`` by their name in ``added``/``removed``; one line says it."""
        name = str(event.group.get("name"))
        me = self.me.lower()
        held = self.user_groups.get(name) or {}
        you = held.get("you") is True
        if any(n.lower() == me for n in event.added):
            you = True
        if any(n.lower() == me for n in event.removed):
            you = False
        if event.change == "deleted":
            self.user_groups.pop(name, None)
        else:
            self.user_groups[name] = {**event.group, "you": you}
        who, group = clean(event.by), f"@{clean(name)}"
        if event.change == "created":
            line = f"{who} created the user group {group}"
        elif event.change == "deleted":
            line = f"{who} deleted the user group {group}"
        else:
            parts = [f"+{clean(n)}" for n in event.added] + [f"-{clean(n)}" for n in
                                                              event.removed]
            line = f"{who} changed the user group {group}" + (
                f" ({' '.join(parts)})" if parts else " (its description)")
        if event.change != "deleted" and you:
            line += " (you are in it)"
        self.screen.notice(line)

    async def emoji_add(self, name: str, source: Path) -> None:
        """``/emoji add``: add the image at ``source`` as the custom emoji ``name`` (``POST
        /api/emoji``, streamed from the disk). A refusal, a file that cannot be read and a
        server that cannot be reached are printed as problems; the event that follows
        says it was added."""
        await self._emoji_call("/emoji add", name, source)

    async def emoji_remove(self, name: str) -> None:
        """``/emoji remove``: remove the custom emoji ``name`` (``DELETE /api/emoji/NAME``);
        problems printed as :meth:`emoji_add`'s."""
        await self._emoji_call("/emoji remove", name, None)

    async def _emoji_call(self, what: str, name: str, source: Path | None) -> None:
        path = ("/api/emoji" if source is not None
                else f"/api/emoji/{urllib.parse.quote(name, safe='')}")
        answered = await self._picture(what, path, source, fields=(("name", name),))
        if answered is None:
            return
        status, answer = answered
        if status not in (201, 204):
            self.screen.problem(f"{what}: {http_error(status, answer)}")

    async def _on_dnd(self, event: DndChanged) -> None:
        """The user paused or resumed their notifications, here or on another device."""
        self.take_dnd(event.until)

    async def _on_saved(self, event: SavedChanged) -> None:
        """The user saved or removed a message, here or on another device: one line."""
        held = self.messages.get(event.room, event.msg_id)
        name = f"[{self.messages.number(held)}]" if held is not None else f"#{event.msg_id}"
        where = f"[{self.label(event.room)}] {name}"
        if not event.on:
            self.screen.notice(f"removed {where} from your saved messages")
            return
        reminder = reminder_text(event.remind_at, False, self.server_now())
        if event.set_by is not None:
            self.screen.notice(f"{clean(event.set_by)} set a reminder for you: {where}"
                               + (f" ({reminder})" if reminder else ""))
            return
        self.screen.notice(f"saved {where}" + (f" ({reminder})" if reminder else ""))

    async def _on_thread_state(self, event: ThreadStateChanged) -> None:
        """The user followed or unfollowed a thread (by hand, by replying, by being named),
        or read it, here or on another device: a line when ``following`` changed from what
        was known (a read says nothing)."""
        key = (event.room, event.msg_id)
        known = self.following.get(key)
        self.following[key] = event.following
        if known == event.following or (known is None and not event.following):
            return
        held = self.messages.get(event.room, event.msg_id)
        name = f"[{self.messages.number(held)}]" if held is not None else f"#{event.msg_id}"
        where = f"the thread of {name} in [{self.label(event.room)}]"
        self.screen.notice(f"following {where}" if event.following
                           else f"no longer following {where}")

    async def _on_reminder(self, event: Reminded) -> None:
        """A reminder of a saved message is due: its line, and the bell (``--bell``, unless
        notifications are paused)."""
        message = parse_event(event.message)
        if not isinstance(message, MessagePosted):
            return
        self.screen.notice(reminder_line(self.label(event.room), message))
        if self.options.bell and not self.paused():
            self.screen.bell()

    async def _on_scheduled(self, event: ScheduledChanged) -> None:
        """A scheduled message was added, changed, cancelled, sent or refused (here or on
        another device): one line; a failure rings the bell (``--bell``, unless paused)."""
        self.screen.notice(scheduled_event_line(event.action, event.item, self.label,
                                                self.server_now()))
        if event.action == "failed" and self.options.bell and not self.paused():
            self.screen.bell()

    async def _on_hidden(self, event: HiddenChanged) -> None:
        """The user closed a conversation, or showed it again, here or on another device."""
        if event.room in self.rooms:
            self.rooms[event.room].hidden_seq = event.hidden_seq
        label = self.label(event.room)
        if event.hidden_seq is None:
            self.screen.notice(f"[{label}] is listed again")
        else:
            self.screen.notice(f"closed [{label}]: /rooms leaves it out until someone "
                               "writes in it")

    async def _on_favourite(self, event: FavouriteChanged) -> None:
        """The user marked a room a favourite, or unmarked it, here or on another device (the
        reply to /fav says nothing: this says it)."""
        if event.room in self.rooms:
            self.rooms[event.room].favourite = event.on
        label = self.label(event.room)
        if event.on:
            self.screen.notice(f"★ [{label}] is a favourite: /rooms lists it first")
        else:
            self.screen.notice(f"[{label}] is no longer a favourite")

    async def _on_seen(self, event: Seen) -> None:
        """Another member of a conversation has read up to ``seq`` (``back``: no further).
        When that reaches the user's latest message there, a quiet line says so, once for
        that message and reader. ``seq`` None: they stopped sharing their read receipts;
        the position is forgotten, and a quiet line takes back a "has seen it" said."""
        key = event.user.lower()
        if event.seq is None:
            if self._seen_said.pop((event.room, key), None) is not None:
                self.screen.line(f"      [{self.label(event.room)}] · {clean(event.user)} "
                                 "stopped sharing read receipts")
            return
        mine = self.my_last(event.room)
        if mine is None or event.seq < mine.seq or self._seen_said.get(
                (event.room, key)) == mine.msg_id:
            return
        self._seen_said[(event.room, key)] = mine.msg_id
        self.screen.line(f"      [{self.label(event.room)}] · {clean(event.user)} has seen it")

    async def _on_keywords(self, event: KeywordsChanged) -> None:
        """The user's keywords changed on another device (the reply to /keywords says what
        this one changed)."""
        self.keywords = tuple(event.keywords)
        self.screen.notice(keywords_text(self.keywords) + " (changed on another device)")

    async def _on_draft(self, event: DraftChanged) -> None:
        """A draft of the user's changed on another device, or was sent: kept quietly (a
        page saves one every few seconds while its person types); /switch shows it."""
        key = (event.room, event.thread or 0)
        if event.text:
            self.drafts[key] = event.text
        else:
            self.drafts.pop(key, None)

    async def _on_read_receipts(self, event: ReadReceiptsChanged) -> None:
        """The user shares their read receipts now, or no longer (here or on another device:
        the reply to /receipts says nothing, this says it)."""
        self.read_receipts = event.on
        self.screen.notice(receipts_text(event.on))

    def section_named(self, name: str) -> Mapping[str, Any] | None:
        """The user's section called ``name`` (ignoring case, as the server compares them),
        or None."""
        folded = name.strip().casefold()
        return next((s for s in self.sections
                     if str(s.get("name", "")).casefold() == folded), None)

    def section_name(self, section: int | None) -> str:
        """A section's name as shown (cleaned), or "the default list" for None."""
        if section is None:
            return "the default list"
        found = next((s for s in self.sections if s.get("id") == section), None)
        return clean(found.get("name")) if found is not None else f"section {section}"

    async def _on_sections(self, event: SectionsChanged) -> None:
        """The user's sections changed, here or on another device: the list as it is now. A
        room whose section is gone is back in the default list (the server cleared it)."""
        self.sections = list(event.sections)
        ids = {s.get("id") for s in self.sections}
        for info in self.rooms.values():
            if info.section not in ids:
                info.section = None
        names = ", ".join(clean(s.get("name")) for s in self.sections)
        self.screen.notice(f"sections: {names or 'none'} (/sections lists them)")

    async def _on_section(self, event: SectionChanged) -> None:
        """The user moved a room into a section or out of one, here or on another device
        (the reply to /section says nothing: this says it)."""
        if event.room in self.rooms:
            self.rooms[event.room].section = event.section
        label = self.label(event.room)
        if event.section is None:
            self.screen.notice(f"[{label}] is back in the default list")
        else:
            self.screen.notice(f"[{label}] is in {self.section_name(event.section)} now")

    async def _on_notify(self, event: NotifyChanged) -> None:
        """The user's level for a room was set, by this connection or another device."""
        self.take_notify(event.room, event.notify)

    def take_notify(self, room: str, level: str) -> None:
        """Keep the user's notification level for ``room``, and show it when it is not what
        was known: a ``/notify`` is told by its reply and by its ``notify`` event, whichever
        comes first says it."""
        known = room in self.rooms and self.notify_level(room) == level
        if room in self.rooms:
            self.rooms[room].notify = level
        if not known:
            self.screen.notice(notify_text(self.label(room), level))

    async def _on_read(self, event: ReadMoved) -> None:
        """Another device moved the read marker. Forward moves are not shown (this client
        shows no marker); a move back (``unread``) is: the person put the room back on their
        list there, and is told so here."""
        if event.back:
            self.screen.notice(f"[{self.label(event.room)}] was marked unread on another "
                               f"device ({unread_counts(event.unread, event.mentions)})")

    async def _on_room_deleted(self, event: RoomDeleted) -> None:
        """The room is gone, with its log: forget it (a new room may take its name)."""
        by = clean(event.by) if event.by else "the server's operator"  # "": the command line
        self.screen.notice(f"[{self.label(event.room)}] was deleted by {by}")
        self.forget_room(event.room)

    async def _on_typing(self, event: UserTyping) -> None:
        now = time.monotonic()
        key = (event.room, event.user.lower())
        if now - self._typing_shown.get(key, -TYPING_QUIET) >= TYPING_QUIET:
            self._typing_shown[key] = now
            self.screen.line(f"      [{self.label(event.room)}] {clean(event.user)} "
                             "is typing...")

    async def _on_gap(self, event: Gap) -> None:
        room, after, last = event.room, event.after, event.last_seq
        self.screen.notice(f"{last - after} messages or changes missed in [{self.label(room)}]; "
                           "fetching them")
        self.seen[room] = max(self.seen.get(room, 0), last)
        self._paging[room] = after
        await self._page_gap(room, after, last)

    async def _page_gap(self, room: str, after: int, last: int) -> None:
        async def on_page(page: Reply) -> None:
            if not isinstance(page, HistoryPage):
                if isinstance(page, Error):
                    self.show_error(f"history of [{self.label(room)}]", page)
                self._end_gap(room)  # show what came after it, at least
                return
            reached = after
            for entry in page.messages:
                if entry.seq > last:
                    break
                reached = entry.seq
                self._take_live(entry, filling=True)
            self._paging[room] = reached
            if page.more and after < reached < last:
                await self._page_gap(room, reached, last)
            else:
                self._end_gap(room)

        # Not waited for: the reply is read by the very task that handles this event. When
        # the link is lost, the resume starts from the page reached.
        with contextlib.suppress(ConnectionLost):
            await self.request(History(room=room, after=after, limit=500), on_page)

    def _end_gap(self, room: str) -> None:
        """The gap of ``room`` is filled: apply the live entries that came after it."""
        self._paging.pop(room, None)
        for entry in self._held_live.pop(room, []):
            self._take_live(entry)

    _EVENTS: dict[type[ServerEvent], Callable[[ChatClient, Any], Awaitable[None]]] = {
        MessagePosted: _on_message,
        MessageEdited: _on_change,
        MessageDeleted: _on_change,
        ReactionChanged: _on_change,
        MessagePinned: _on_change,
        PollVoted: _on_change,
        PollClosed: _on_change,
        TopicChanged: _on_change,
        RoleChanged: _on_change,
        MemberBanned: _on_change,
        MemberUnbanned: _on_change,
        MemberKicked: _on_change,
        RoomArchived: _on_change,
        PreviewChanged: _on_change,
        RoomDeleted: _on_room_deleted,
        NotifyChanged: _on_notify,
        HiddenChanged: _on_hidden,
        FavouriteChanged: _on_favourite,
        Seen: _on_seen,
        ReadReceiptsChanged: _on_read_receipts,
        KeywordsChanged: _on_keywords,
        DraftChanged: _on_draft,
        SectionsChanged: _on_sections,
        SectionChanged: _on_section,
        DndChanged: _on_dnd,
        SavedChanged: _on_saved,
        ThreadStateChanged: _on_thread_state,
        Reminded: _on_reminder,
        ScheduledChanged: _on_scheduled,
        ProfileChanged: _on_profile,
        CustomEmojiChanged: _on_custom_emoji,
        UserGroupChanged: _on_user_group,
        ReadMoved: _on_read,
        PresenceChanged: _on_presence,
        MemberJoined: _on_joined,
        MemberLeft: _on_left,
        UserTyping: _on_typing,
        Gap: _on_gap,
    }


def _dm_room(me: str, to: str | tuple[str, ...]) -> str:
    """The conversation a ``dm`` from ``me`` to ``to`` (a name, or several) goes to."""
    return conversation_name((me, to) if isinstance(to, str) else (me, *to))


def kind_of(room: str) -> str:
    """The kind of room a (normalised) name says: ``dm``, ``group`` or ``room``."""
    if is_group_room(room):
        return "group"
    return "dm" if is_dm_room(room) else "room"
