"""What an operation works with: the daemon's shared objects (:class:`App`), who is asking
(:class:`Caller`), and the results that are more than a reply (:class:`CatchUp`,
:class:`Append`).

Operations are plain async functions ``(app, caller, request) -> result``. They never touch a
socket: the front that called them (a protocol connection or an HTTP route) turns the result
into bytes. Two kinds of result need the front's help, and say so by their type:

- :class:`CatchUp`: a reply that carries rooms' history up to some seq (``join``, ``hello``).
  A protocol connection holds those rooms' live messages (:meth:`Caller.hold`) from before it
  subscribes until that reply is written, then writes only the live messages past ``upto``:
  nothing missing, nothing twice. A stateless front just sends the reply.
- :class:`Append`: a message to commit. The protocol connection queues it with the group
  committer and reads on (its acknowledgement follows the commit); an HTTP route would wait for
  the commit. Either way the message is acknowledged only once it is stored.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import trio

from chatd.auth import Auth, TokenClaims
from chatd.cluster import Nodes
from chatd.committer import Committer, Outcome, SendJob
from chatd.config import Config, LimitsConfig
from chatd.drafts import DraftSweeper
from chatd.errors import ChatError
from chatd.files import FileStore, open_file_store
from chatd.group_names import GroupNames
from chatd.limits import ConnectionCounter, KeyedLimiter, TokenBucket, take_all
from chatd.metrics import Metrics
from chatd.presence import PresenceTracker
from chatd.protocol import Limits, ServerEvent, codes
from chatd.pusher import Pusher
from chatd.reminders import DueLoop, Reminders
from chatd.rooms import RoomRegistry, ToEveryone, ToUser
from chatd.storage import EVERYONE, Appended, NewEntry, Storage, StorageUnavailable, User
from chatd.webhooks import WebhookSender

if TYPE_CHECKING:
    from chatd.actions.scheduled import Scheduler
    from chatd.emails import EmailNotifier, MissedMail
    from chatd.export import Exporter
    from chatd.mail import Mailer

log = logging.getLogger(__name__)

__all__ = [
    "App",
    "Append",
    "Bucket",
    "Caller",
    "CatchUp",
    "Endable",
    "Result",
    "Stateless",
    "signed_in",
    "take_tokens",
]


@dataclasses.dataclass(frozen=True, slots=True)
class Bucket:
    """A rate limit: ``rate`` per second after a ``burst``, read from the limits config.

    ``per_user``: one bucket per user name, held by :class:`App` and shared by all the user's
    connections and HTTP requests (what one person may do, however many sessions they open);
    otherwise one per protocol connection (held by the connection)."""

    name: str
    rate: Callable[[LimitsConfig], tuple[float, float]]
    message: str
    per_user: bool = False


class Endable(Protocol):
    """A live protocol session, as the daemon sees it from outside (to end or drain it)."""

    @property
    def user(self) -> User | None: ...

    jti: str | None
    issued_at: int | None

    def end(self, code: str, message: str) -> None: ...

    def drain(self) -> None: ...


@dataclasses.dataclass(slots=True, eq=False)
class App:
    """Everything one daemon's operations and fronts share: the one context object.

    The actors are always there (tests start the daemon as production does; ``pusher``
    sends Web Pushes and holds the VAPID key); ``sessions``
    are the live protocol connections of this node, ``draining`` is set once it stops;
    ``files`` is where uploaded files are kept, as ``[files] store`` says.
    """

    config: Config
    storage: Storage
    auth: Auth
    metrics: Metrics
    registry: RoomRegistry
    presence: PresenceTracker
    committer: Committer
    per_ip: ConnectionCounter
    pusher: Pusher
    #: This node among the others (presence and typing across nodes); None in tests of one.
    nodes: Nodes | None = None
    #: The outgoing webhooks' sender (told when a webhook is set here); None in tests.
    webhooks: WebhookSender | None = None
    #: The due loop (told of a reminder or a scheduled message set here), and its two kinds
    #: of work: the reminders of saved messages and the scheduled messages; None in tests.
    due: DueLoop | None = None
    reminders: Reminders | None = None
    scheduler: Scheduler | None = None
    #: Email (``[email]``): the mailer, the missed-message emails' queueing and sending
    #: (None when email is off, and in tests of one), the unsubscribe links' key.
    mailer: Mailer | None = None
    emails: EmailNotifier | None = None
    missed: MissedMail | None = None
    email_key: bytes = b""
    #: Builds the exports of users' data started on this node, and sweeps expired ones
    #: (chatd.export); None in tests of one.
    exporter: Exporter | None = None
    #: Drafts cleared when their users send from them (chatd.drafts); None in tests of one.
    drafts: DraftSweeper | None = None
    sessions: set[Endable] = dataclasses.field(default_factory=set)
    all_closed: trio.Event = dataclasses.field(default_factory=trio.Event)
    draining: bool = False
    user_buckets: dict[str, KeyedLimiter] = dataclasses.field(default_factory=dict)
    #: The user groups' names this node knows (chatd.group_names).
    group_names: GroupNames = dataclasses.field(default_factory=GroupNames)
    files: FileStore = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.files = open_file_store(self.config)

    @property
    def protocol_limits(self) -> Limits:
        """What the protocol's parser enforces, from ``[limits]``: the same for the socket
        and for the HTTP routes."""
        return protocol_limits(self.config.limits)

    def _limiter(self, bucket: Bucket) -> KeyedLimiter:
        limiter = self.user_buckets.get(bucket.name)
        if limiter is None:
            rate, burst = bucket.rate(self.config.limits)
            limiter = self.user_buckets[bucket.name] = KeyedLimiter(rate, burst)
        return limiter

    def user_bucket(self, bucket: Bucket, user: str) -> TokenBucket:
        """``user``'s token bucket of ``bucket`` (one per user name, whatever
        ``bucket.per_user`` says: the HTTP front has no connection to keep one on)."""
        return self._limiter(bucket).bucket(user, trio.current_time())

    def take(self, bucket: Bucket, user: str) -> None:
        """Take a token from ``user``'s ``bucket``.

        Raises:
            ChatError: ``rate_limited``, with the seconds until a token is back.
        """
        self.take_all((bucket,), user)

    def take_counted(self, bucket: Bucket, user: str, label: str) -> None:
        """:meth:`take`, a refusal counted under ``label`` (``chatd_rate_limited``), as the
        socket counts its own: for an HTTP route that takes a bucket before its work."""
        try:
            self.take(bucket, user)
        except ChatError:
            self.metrics.rate_limited.labels(label).inc()
            raise

    async def take_shared(self, bucket: Bucket, key: str, label: str | None = None) -> None:
        """Take a token from ``key``'s ``bucket`` kept in the database: one bucket for every
        node and worker (:meth:`chatd.storage.Storage.take_shared_token`), for a limit that a
        client must not multiply by reaching several (a few takes an hour: a statement
        each). A refusal is counted under ``label`` (``chatd_rate_limited``), if given.

        Raises:
            ChatError: ``rate_limited``, with the seconds until a token is back.
        """
        rate, burst = bucket.rate(self.config.limits)
        wait = await self.storage.take_shared_token(bucket.name, key, rate=rate, burst=burst)
        if wait > 0:
            if label is not None:
                self.metrics.rate_limited.labels(label).inc()
            raise ChatError(codes.RATE_LIMITED, bucket.message, retry_after=wait)

    async def tell(self, user: str, data: bytes, what: str, *, exclude: Hashable | None = None,
                   only_if_elsewhere: bool = False) -> None:
        """Hand ``data`` to every connection of ``user`` (:data:`EVERYONE`: of every user) but
        ``exclude``: here through the registry, on the other nodes through storage (when
        ``only_if_elsewhere``, only while the presence tracker knows the user online on
        another node: for frequent events, since a notice wakes every node). Best effort
        past the commit: a notice that cannot be sent is logged as one about ``what``."""
        await self.registry.send(ToEveryone(data) if user == EVERYONE
                                 else ToUser(user, data, exclude=exclude))
        if only_if_elsewhere and user not in self.presence.state.remote:
            return
        try:
            await self.storage.tell_elsewhere(user, data)
        except StorageUnavailable as exc:
            log.warning("cannot tell the other nodes of %s: %s", what, exc)

    def take_all(self, buckets: Sequence[Bucket], user: str) -> None:
        """Take a token from each of ``user``'s ``buckets``, or from none (see
        :func:`take_tokens`)."""
        take_tokens([(bucket, self.user_bucket(bucket, user)) for bucket in buckets])

    def give_back(self, bucket: Bucket, user: str) -> None:
        """Return a token :meth:`take` took for something that did not happen after all."""
        self._limiter(bucket).give_back(user, trio.current_time())

    async def commit(self, message: NewEntry) -> Appended:
        """Store ``message`` through the group committer and return once it is committed:
        for a front that answers after the commit and has no connection to queue the answer
        on (an HTTP route). Cancelling the wait does not take the message back.

        Raises:
            ChatError: the committer's refusal (``forbidden``, ``not_found``,
                ``unavailable``...).
        """
        done = trio.Event()
        outcomes: list[Outcome] = []

        def on_done(outcome: Outcome) -> None:
            outcomes.append(outcome)
            done.set()

        await self.committer.submit(SendJob(message, on_done))
        await done.wait()
        if isinstance(outcomes[0], ChatError):
            raise outcomes[0]
        return outcomes[0]

    def end_sessions(self, user: str | None, jti: str | None,
                     issued_before: int | None = None) -> None:
        """Tokens were revoked: close this node's sessions they opened. That is the token
        ``jti`` or, without one, every token of ``user`` (issued before ``issued_before``,
        when given). Each is told ``unauthenticated`` after its sends in flight are answered."""
        for session in list(self.sessions):
            who = session.user
            if who is None:
                continue
            if jti is not None:
                ended = session.jti == jti
            else:
                ended = who.name == user and (
                    issued_before is None
                    or (session.issued_at is not None and session.issued_at < issued_before))
            if ended:
                session.end(codes.UNAUTHENTICATED, "logged out: the token was revoked")


class Caller(Protocol):
    """Who asks for an operation, and what the operation may ask of the front they came by.

    A protocol connection implements every method; :class:`Stateless` (the HTTP front) has
    no live subscription, so holding and attaching do nothing there.
    """

    @property
    def user(self) -> User | None:
        """The authenticated user (None before a protocol ``hello``)."""

    @property
    def conn_id(self) -> Hashable:
        """This caller's identity for the actors (a connection object)."""

    async def hold(self, rooms: frozenset[str] | None) -> None:
        """Buffer the live messages of ``rooms`` (all when None) until the reply that
        carries their catch-up (a :class:`CatchUp`) is written."""

    async def attach(self, user: User, claims: TokenClaims, rooms: frozenset[str],
                     since: int) -> None:
        """Become ``user``'s session, subscribed to ``rooms`` (after ``hold(None)``), as
        storage listed them after the registry's epoch ``since``."""


@dataclasses.dataclass(frozen=True, slots=True)
class Stateless:
    """A caller with no live connection: an HTTP request on behalf of ``user``."""

    user: User | None
    conn_id: Hashable = None

    async def hold(self, rooms: frozenset[str] | None) -> None:
        pass

    async def attach(self, user: User, claims: TokenClaims, rooms: frozenset[str],
                     since: int) -> None:
        raise TypeError("an HTTP request cannot become a protocol session")


@dataclasses.dataclass(frozen=True, slots=True)
class CatchUp:
    """A reply carrying rooms' history: ``reply``, then ``then`` (e.g. the messages a
    resuming client missed), then each room's live messages past ``upto[room]``."""

    reply: ServerEvent
    upto: Mapping[str, int]
    then: Sequence[ServerEvent] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Append:
    """A message to commit for request ``request_id``; acknowledged after the commit."""

    request_id: Any
    message: NewEntry


Result = ServerEvent | CatchUp | Append


def take_tokens(buckets: Sequence[tuple[Bucket, TokenBucket]]) -> None:
    """Take a token from every one of ``buckets`` (each a limit and its token bucket), or,
    when one of them has none, from none of them (:func:`chatd.limits.take_all`).

    Raises:
        ChatError: ``rate_limited`` with the message of the limit that waits longest and the
            seconds until every bucket has a token again (``retry_after``).
    """
    now = trio.current_time()
    wait = take_all([tokens for _, tokens in buckets], now)
    if wait > 0:
        short = max(buckets, key=lambda pair: pair[1].wait(now))[0]
        raise ChatError(codes.RATE_LIMITED, short.message, retry_after=wait)


def protocol_limits(limits: LimitsConfig) -> Limits:
    """The protocol parser's limits from the ``[limits]`` settings."""
    return Limits(max_frame_bytes=limits.max_frame_bytes, max_text_chars=limits.max_text_chars,
                  history_max=limits.history_max, rooms_page_max=limits.rooms_page_max)


def signed_in(caller: Caller) -> User:
    """The caller's user; operations marked ``session`` only run once there is one."""
    user = caller.user
    assert user is not None, "the operations table lets only sessions reach this"
    return user
