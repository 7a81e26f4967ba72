"""The storage interface: what chatd asks of its database, and nothing more.

Every method is a coroutine run from trio. Names reaching storage are already normalised and
validated at the edge (room names lower-case ``[a-z0-9_-]{1,64}``, user names
``[A-Za-z0-9_.-]{1,32}``); storage compares user names case-insensitively and keeps the case a
user registered with. Refusals the client should see are raised as :class:`chatd.errors.ChatError`
(``conflict``, ``forbidden``, ``not_found``); a database that cannot be reached raises
:class:`StorageUnavailable`. Times are integer milliseconds since the Unix epoch.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import trio

from chatd.errors import ChatError
from chatd.protocol import codes
from chatd.protocol.events import THREAD_USERS
from chatd.search import SearchQuery
from chatd.sections import Section, SectionList

__all__ = [
    "COMMAND_LINE",
    "EDIT_VERSIONS_MAX",
    "EVERYONE",
    "MAX_REACTIONS",
    "MODERATION_KINDS",
    "NO_CUSTOM_STATUS",
    "POLL_OPTIONS_MAX",
    "PURGE_MAX",
    "ROLES",
    "THREADS_UNREAD_CAP",
    "THREAD_USERS",
    "UNREAD_CAP",
    "AdminRoom",
    "Appended",
    "AuditEntry",
    "Badges",
    "Ban",
    "Bot",
    "BotToken",
    "Change",
    "CommitNotice",
    "Conversation",
    "Credentials",
    "CustomEmoji",
    "CustomStatus",
    "DatabaseFigures",
    "DndNotice",
    "EditHistory",
    "EditVersion",
    "EmailBatch",
    "EmailSettings",
    "EmailTarget",
    "FavouriteMark",
    "FileInfo",
    "FollowedThread",
    "GroupScope",
    "Hook",
    "HookTarget",
    "ImageFacts",
    "Invitation",
    "InvitedUser",
    "Joined",
    "LinkedRoom",
    "ListeningNotice",
    "MarkedRead",
    "Member",
    "MemberPage",
    "MembershipNotice",
    "Message",
    "MissedMessage",
    "NewChange",
    "NewEntry",
    "NewMessage",
    "NewPoll",
    "NodeSeen",
    "NodesSeen",
    "NotifyNotice",
    "Page",
    "Poll",
    "PollOption",
    "PresenceAudience",
    "PresenceNotice",
    "Preview",
    "PreviewImage",
    "Profile",
    "ProfileNotice",
    "PushSubscription",
    "PushTarget",
    "ReadMarker",
    "ReadMove",
    "ReadPosition",
    "Receipts",
    "Reminder",
    "ReminderNotice",
    "ResetTarget",
    "Room",
    "RoomDeletedNotice",
    "RoomLink",
    "RoomWebhook",
    "SavedItem",
    "ScheduledItem",
    "ScheduledWork",
    "SearchPage",
    "Section",
    "SectionList",
    "SectionsChange",
    "Storage",
    "StorageStatistics",
    "StorageUnavailable",
    "StoredDraft",
    "StoredFile",
    "TargetsNotice",
    "ThreadPage",
    "ThreadState",
    "User",
    "UserEventNotice",
    "UserGroup",
    "UserGroupChange",
    "WebhookTargets",
    "invitation_refusal",
    "room_link_refusal",
    "split_mentions",
]

#: The most followed threads with unread replies a welcome counts (``threads_unread``).
THREADS_UNREAD_CAP = 100


class StorageUnavailable(Exception):
    """The database could not be reached or failed; the request may be retried."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CustomStatus:
    """A user's custom status (migration 0025): an ``emoji`` ('' for none) and a ``text``
    ('' for none; never both), until ``until`` (ms; None: until cleared). Storage gives
    only a status in force: one past its ``until`` is read as none."""

    emoji: str = ""
    text: str = ""
    until: int | None = None


#: What clears a custom status in :meth:`Storage.set_profile`.
NO_CUSTOM_STATUS = CustomStatus()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """How a user shows themselves to others (migration 0025): ``name`` as registered, a
    ``display_name`` (None: none) and a ``custom_status`` in force (None: none);
    ``avatar``: the SHA-256 of their picture's bytes (None: none; migration 0028);
    ``deactivated``: the account is (its profile stays, for its messages)."""

    name: str
    display_name: str | None = None
    custom_status: CustomStatus | None = None
    avatar: str | None = None
    deactivated: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """An account. ``admin``: a server administrator (may moderate every room and use the
    admin API); ``deactivated_at`` (ms): when it was deactivated (None: it is active);
    ``bot``: a bot's (API tokens only, never a password); ``dnd_until`` (ms): until when
    their notifications are paused, when that is still ahead (None: they are not; migration
    0023); ``read_receipts``: whether they share their read receipts (migration 0040);
    ``display_name`` and ``custom_status``: their profile (:class:`Profile`, migration
    0025: columns of the same row, read with it). Read when the user is looked up: a session
    keeps the values its token was checked with, so permissions are never decided from them
    (storage reads them again)."""

    id: int
    name: str
    created_at: int
    admin: bool = False
    deactivated_at: int | None = None
    bot: bool = False
    dnd_until: int | None = None
    read_receipts: bool = True
    display_name: str | None = None
    custom_status: CustomStatus | None = None
    avatar: str | None = None
    #: Their own sidebar sections in their order (migration 0041), read only where a session
    #: starts (:meth:`Storage.open_session`, :meth:`Storage.check_token`): None where not read.
    #: Not compared: two reads of one account are equal whether they read it or not.
    sections: SectionList | None = dataclasses.field(default=None, compare=False)
    #: Their notification keywords as stored (migration 0047), read where the sections are:
    #: None where not read. Not compared, as the sections.
    keywords: tuple[str, ...] | None = dataclasses.field(default=None, compare=False)

    @property
    def profile(self) -> Profile:
        return Profile(name=self.name, display_name=self.display_name,
                       custom_status=self.custom_status, avatar=self.avatar,
                       deactivated=self.deactivated)

    @property
    def deactivated(self) -> bool:
        return self.deactivated_at is not None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    user: User
    password_hash: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Room:
    """A room as a user sees it. ``last_seq`` is 0 for a room with no message yet.

    ``kind`` is ``"room"``, ``"dm"`` (a 1:1 conversation, always private, named
    ``@a:b`` by :func:`chatd.protocol.names.dm_room_name`; ``peer`` is the other user's name
    as registered, seen from the user who asked) or ``"group"`` (a group conversation of 3
    to 8 people, as private, named by :func:`chatd.protocol.names.group_room_name`;
    ``peers``, the other members' names as registered, sorted ignoring case). ``member``,
    ``read_seq`` and ``unread`` are the asking user's: their read marker and how many
    messages by others came after it (capped at :data:`UNREAD_CAP`), and ``mentions``, how
    many of those name them; ``notify``, the notification level they set for it (None:
    they set none, and the default of the kind, :func:`chatd.protocol.default_notify`,
    applies). Methods that do not say they fill them
    leave the defaults."""

    id: int
    name: str
    private: bool
    topic: str
    owner: str | None
    last_seq: int
    kind: str = "room"
    peer: str | None = None
    peers: tuple[str, ...] | None = None  # a group conversation's other members
    member: bool = True
    read_seq: int = 0
    unread: int = 0
    mentions: int = 0  # unread messages that mention the user (capped at UNREAD_CAP)
    notify: str | None = None  # the user's level as set; None: the default of the kind
    role: str | None = None  # the user's role in it (see ROLES); None: not a member
    archived: bool = False  # read-only until unarchived
    pins: int = 0  # how many of its messages are pinned (kept in the room's row)
    hidden_seq: int | None = None  # the user closed the conversation at this last_seq
    favourite_at: int | None = None  # when the user marked it a favourite (ms); None: not one
    section: int | None = None  # the user's section it is in (migration 0041); None: default


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ReadMarker:
    """Where a member's read marker is (``seq``) and the room's counts from it, as a
    :class:`Room` gives them: ``unread`` messages by others after it and ``mentions`` of the
    member among those (both capped at :data:`UNREAD_CAP`), up to ``last_seq``."""

    seq: int
    last_seq: int
    unread: int
    mentions: int
    #: The conversation's other members to tell that it moved (:class:`ReadMove`'s ``tell``).
    tell: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ReadMove:
    """A member's read marker after a ``read``: where it is (``seq``), whether this request
    ``moved`` it, and, only when it moved in a conversation (kind ``dm`` or ``group``) of a
    member who shares their read receipts, the names of the conversation's other members
    (``tell``: to be told, the ``seen`` event); empty otherwise (always for a room)."""

    seq: int
    moved: bool
    tell: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, order=True)
class MarkedRead:
    """A room whose read marker a "mark all as read" moved: its name, where the marker now
    is (its last seq), and the other members to tell, as :class:`ReadMove`'s ``tell``."""

    room: str
    seq: int
    tell: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Receipts:
    """Who has read a message (``receipts``): its ``seq``; ``count``, the members whose read
    marker is at or past it, but its author, the asker and those who do not share their
    receipts; ``users``, a page of their names by name (ignoring case)."""

    seq: int
    count: int
    users: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ReadPosition:
    """Where a member's read marker is (``seq``), in a conversation (``receipts`` without a
    message)."""

    user: str
    seq: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SectionsChange:
    """A user's sections after a change of them (``sections``, in their order), the
    ``section`` it was about, and whether it ``changed`` anything (an edit that sets what is
    set changes nothing)."""

    sections: SectionList
    section: Section | None
    changed: bool = True


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StoredDraft:
    """A user's draft (migration 0049): the ``text`` of the box of ``room`` (of the thread
    whose root is message ``thread`` of it, or of the room itself: None), as last stored at
    ``updated_at`` (ms since the epoch, the database's clock). A deletion is told as a
    draft with an empty text, ``updated_at`` when it was deleted."""

    room: str
    thread: int | None
    text: str
    updated_at: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FavouriteMark:
    """A member's favourite mark after a ``favourite``: ``at``, when they marked the room (ms
    since the epoch; None: not a favourite), and whether this request ``changed`` it (setting
    what is already set changes nothing, and keeps the time it was first marked)."""

    at: int | None
    changed: bool


#: A member's role in a room, lowest first: the owner is the room's (``rooms.owner_id``),
#: moderators and members are set with ``set_role``. Server administrators rank above all
#: three in every room, but are no role of any.
ROLES = ("member", "moderator", "owner")

#: The kinds of change entries that moderate a room's members (each names a ``target``).
MODERATION_KINDS = frozenset({"role", "banned", "unbanned", "kicked"})

#: The most messages one ``purge`` change deletes (the rest wait for the next one).
PURGE_MAX = 1000

#: The ``user_id`` of a ``purge`` made from the ``chatd`` command line, by the operator, who
#: has no account (no user has id 0): its ``deleted`` entries name the messages' author as
#: ``by``, and the audit log records no actor, as for every other command-line action.
COMMAND_LINE = 0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    """A member of a room as ``who`` lists them: their name as registered, their role,
    whether their account is deactivated, and their profile (migration 0025)."""

    name: str
    role: str = "member"
    deactivated: bool = False
    display_name: str | None = None
    custom_status: CustomStatus | None = None
    avatar: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class GroupScope:
    """What a group mention (``@room``, ``@here``) by one user in one room would reach, read
    when a text has one: ``members``, how many members the room has now (over every node);
    ``member``, whether the user is one; ``moderates``, whether the user moderates the room
    (its owner, a moderator, an administrator); ``covered``, the ids of the members the group
    covers, the user aside."""

    members: int
    member: bool
    moderates: bool
    covered: tuple[int, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MemberPage:
    """A page of a room's members (``who``): ``members`` in name order (case-insensitive),
    ``count`` the room's members in all."""

    members: list[Member]
    count: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Ban:
    """A ban in force: ``user`` may not join nor read ``room`` until ``expires_at`` (ms;
    None: until lifted); set ``by`` (None: their account is gone) at ``ts``."""

    room: str
    user: str
    by: str | None
    reason: str
    ts: int
    expires_at: int | None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One moderation or admin action, as the audit log keeps it. ``actor`` None: the
    ``chatd`` command line (or an account since gone); ``target`` and ``room`` None when the
    action has none; ``details``: what else it says (a role, a message id, an expiry)."""

    id: int
    ts: int
    actor: str | None
    action: str
    target: str | None
    room: str | None
    reason: str
    details: dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AdminRoom:
    """A room as the admin API lists it: its owner (None: none, or gone) and whether the
    owner's account is deactivated, its member count."""

    name: str
    private: bool
    topic: str
    owner: str | None
    owner_deactivated: bool
    members: int
    last_seq: int
    created_at: int
    archived: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NodeSeen:
    """A node running on the database (a row of ``nodes``): its name, when it last said
    it was alive (ms), and how many users are online there."""

    name: str
    seen_at: int
    online: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseFigures:
    """What the database holds, counted in one snapshot, and the nodes running on it."""

    database_bytes: int
    users: int
    admins: int
    deactivated: int
    bots: int
    rooms: int
    archived: int
    conversations: int
    messages: int
    files: int
    file_bytes: int
    nodes: tuple[NodeSeen, ...]


#: Unread counts stop at this many; clients show "999+".
UNREAD_CAP = 999


#: The most different emoji one message can carry.
MAX_REACTIONS = 20


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Conversation:
    """A conversation, 1:1 or group, as :meth:`Storage.direct_room` finds or creates it:
    ``peer``, the other person of a 1:1 (the user themselves in notes to self; None for a
    group), ``peers``, every other person (as registered, sorted ignoring case; the peer
    alone for a 1:1)."""

    room: Room
    peer: str | None
    created: bool
    peers: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FileInfo:
    """A file as a message carries it: ``name`` is sanitised (never a path), ``content_type``
    the type the uploader declared, normalised. An image (by its content) has its ``width``
    and ``height`` and a ``thumbnail``; other files None, None and False."""

    id: int
    name: str
    size: int
    content_type: str
    width: int | None = None
    height: int | None = None
    thumbnail: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ImageFacts:
    """What an upload that decodes as an image adds to its file: its ``width`` and
    ``height`` (after its EXIF orientation), and its thumbnail's bytes (stored as a file's,
    under ``thumb_sha256``) and size."""

    width: int
    height: int
    thumb_sha256: str
    thumb_width: int
    thumb_height: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StoredFile:
    """An uploaded file: its metadata, and where its bytes are (``sha256``: the name of the
    content-addressed file; ``thumb_sha256``: its thumbnail's, if it has one).
    ``message_id``: the message it is attached to, if any."""

    info: FileInfo
    sha256: str
    room: str
    uploader_id: int
    message_id: int | None = None
    thumb_sha256: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PreviewImage:
    """A link preview's picture: a WebP thumbnail (chatd.thumbnails) of ``width`` x
    ``height`` pixels, whose bytes are stored as a file's under ``sha256`` (``size``
    bytes), served as the file ``file_id`` of the message's room (0 until stored)."""

    sha256: str
    size: int
    width: int
    height: int
    file_id: int = 0


#: The most options a poll has (and the least is 2): what storage writes for a poll's
#: message (chatd.protocol checks what a client sends).
POLL_OPTIONS_MAX = 10


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NewPoll:
    """A poll sent with a message (:attr:`NewMessage.poll`): its ``options`` (2 to
    :data:`POLL_OPTIONS_MAX`, checked by the protocol) and whether a voter may pick
    several (``multiple``)."""

    options: tuple[str, ...]
    multiple: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PollOption:
    """One option of a poll as it is now: its ``text`` and its ``voters`` (names, in the
    order of the entries that set their choices)."""

    text: str
    voters: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Poll:
    """A message's poll as it is now (:attr:`Message.poll`): its options in order, whether
    a voter may pick several, and, once closed, who closed it (``closed_by``, None while
    open) and when (``closed_ts``, ms)."""

    options: tuple[PollOption, ...]
    multiple: bool = False
    closed_by: str | None = None
    closed_ts: int = 0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Forwarded:
    """What a forward carries of the message it forwards (:attr:`Message.forwarded`): its
    ``sender``'s name, its time (``ts``, ms) and its ``text`` when it was forwarded; its
    ``room`` and ``seq`` only when that was a public room (None otherwise: a private room's
    or a conversation's name is not told to the target's members)."""

    sender: str
    ts: int
    text: str
    room: str | None = None
    seq: int | None = None

    def as_object(self) -> dict[str, Any]:
        """{from, ts, text, room, seq}: as clients see it, and as ``messages.forwarded``
        stores it (migration 0039)."""
        return {"from": self.sender, "ts": self.ts, "text": self.text, "room": self.room,
                "seq": self.seq}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Preview:
    """What a message's link shows (chatd.previews): the page at ``url`` (the first link of
    the text, as written) has ``title``, and may have a ``description``, the ``site``'s name
    and an ``image``."""

    url: str
    title: str
    description: str = ""
    site: str = ""
    image: PreviewImage | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """A committed entry of a room's log. ``seq`` strictly increases within ``room``, in
    commit order, across messages and changes alike.

    ``kind`` says which entry: ``"message"`` (a message as it is now: ``rev`` is the seq of
    the last change to it, 0 for none; ``edited_ts``, ``deleted``, ``reactions`` as
    ``(emoji, users)`` pairs, ``reply_to`` with its ``quote``, ``mentions``, ``files``, the
    files attached to it, none once it is deleted, ``previews``, its link's preview if it
    has one), or a change to
    message ``msg_id``, made by ``sender``: ``"edited"`` (``text`` and ``mentions`` are the
    new ones), ``"deleted"``, ``"reaction"`` (``emoji``, ``on``), ``"preview"``
    (``previews``: the message's new preview, or none when it was removed); or ``"topic"``, the
    room's new topic in ``text`` (``msg_id`` 0); or moderation of member ``target`` by
    ``sender``: ``"role"`` (the new role in ``text``), ``"banned"`` (the reason in ``text``,
    ``expires_at`` in ms or None), ``"unbanned"``, ``"kicked"`` (``msg_id`` 0); or
    ``"pinned"``: ``sender`` pinned (``on``) or unpinned message ``msg_id``. A message that
    is pinned now has ``pinned_by`` (who pinned it), ``pinned_ts`` and ``pinned_seq`` (the
    entry that pinned it); ``pinned_by`` is None while it is not. A thread reply has
    ``thread`` (its root's msg_id) and ``broadcast`` (also sent to the room's timeline); a
    thread's root has ``reply_count`` (its replies ever posted, 0 for none),
    ``reply_last_ts`` (the latest one's ts) and ``reply_users`` (up to 5 distinct latest
    repliers, newest first). A poll's message has ``poll`` (its options, votes and closing,
    as it is now; None for any other message or once deleted). ``"voted"``: ``sender`` set
    their choice on poll ``msg_id`` to the options ``choice`` (0-based, sorted; empty: they
    took their vote back); ``"poll_closed"``: ``sender`` closed poll ``msg_id``. A forward
    has ``forwarded`` (what it forwards; its ``text`` is the forwarder's comment; None for
    any other message or once deleted). A change's ``nonce`` is empty."""

    room: str
    seq: int
    msg_id: int
    sender: str
    text: str
    ts: int
    nonce: str
    kind: str = "message"
    rev: int = 0
    edited_ts: int | None = None
    deleted: bool = False
    reactions: tuple[tuple[str, tuple[str, ...]], ...] = ()
    reply_to: int | None = None
    quote: dict[str, Any] | None = None
    mentions: tuple[str, ...] = ()
    emoji: str = ""
    on: bool = True
    files: tuple[FileInfo, ...] = ()
    target: str = ""
    expires_at: int | None = None
    pinned_by: str | None = None
    pinned_ts: int = 0
    pinned_seq: int = 0
    previews: tuple[Preview, ...] = ()
    thread: int | None = None
    broadcast: bool = False
    reply_count: int = 0
    reply_last_ts: int = 0
    reply_users: tuple[str, ...] = ()
    poll: Poll | None = None
    choice: tuple[int, ...] = ()
    forwarded: Forwarded | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NewMessage:
    """A message to store: ``nonce`` is the sender's idempotency key (unique per user).
    ``reply_to``: a message of the same room it answers. ``mentions``: the lower-cased names
    the text may mention (:func:`chatd.protocol.markup.mention_candidates`); those that are
    members of the room are kept. ``files``: ids of files the sender uploaded to the room and
    has not attached yet, without repeats. ``group``: the ids of the members a group mention
    of the text covers (:meth:`Storage.group_scope`, and the user groups it mentions:
    :meth:`Storage.user_group_mentions`); those still members get a mention row, as the
    named ones do, the sender aside. ``user_groups``: the names of the user groups the text
    mentions (stored with the message, in its ``mentions`` as ``@name``: see
    :func:`split_mentions`). ``thread``: a message of the same room whose
    thread this replies in (a reply's own root when it names a reply; a root that does not
    exist or is deleted: ChatError('not_found')); the thread's followers (its root's author
    and its repliers, members still, the sender aside) are mentioned by the reply as if it
    named them. ``broadcast``: the reply is also shown in the room's timeline (only with
    ``thread``). ``poll``: the message is a poll with these options (its text the
    question); stored by a statement variant of its own, used only for such messages.
    ``forwarded``: the message is a forward of that one (its text the comment); stored by a
    statement variant of its own too."""

    user_id: int
    room: str
    text: str
    nonce: str
    reply_to: int | None = None
    mentions: tuple[str, ...] = ()
    files: tuple[int, ...] = ()
    group: tuple[int, ...] = ()
    user_groups: tuple[str, ...] = ()
    thread: int | None = None
    broadcast: bool = False
    poll: NewPoll | None = None
    forwarded: Forwarded | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NewChange:
    """A change to message ``msg_id`` of ``room`` by user ``user_id``: ``kind`` is
    ``"edited"`` (with ``text``, its mention candidates and, as :class:`NewMessage` has it,
    its ``group``), ``"deleted"`` or
    ``"reaction"`` (with ``emoji`` and ``on``); or ``"topic"`` (the room's, in ``text``;
    ``msg_id`` 0); or one of :data:`MODERATION_KINDS` about the user named ``target`` (any
    case; ``msg_id`` 0): ``"role"`` (one of :data:`ROLES` in ``text``), ``"banned"`` (the
    reason in ``text``, and ``expires_at`` in ms, None for good), ``"unbanned"``,
    ``"kicked"``; or ``"purge"``: delete the messages user ``target`` sent to ``room`` in
    the last ``within`` seconds, at most ``limit`` (at most :data:`PURGE_MAX`), each a
    ``deleted`` entry by ``user_id`` (``msg_id`` 0; never an entry itself); or ``"pinned"``:
    pin (``on``) or unpin message ``msg_id``, the room holding at most ``limit`` pinned
    messages at once (the caller gives ``limits.pins_per_room``); or
    ``"preview"``, made by the server (chatd.previews; ``user_id`` is
    :data:`COMMAND_LINE`, the entry names the message's author): ``preview`` (None: none)
    for the link ``url`` ("" for none), stored only while ``url`` is still the first link
    of the text and no preview was decided for it yet; or ``"unpreview"``: remove the
    message's preview (its author, or whoever moderates the room), which stays removed
    until an edit changes the link. Both are ``"preview"`` entries. Or ``"voted"``: set the
    user's choice on poll ``msg_id`` to ``options`` (0-based indexes, sorted, no repeats;
    empty: take the vote back); or ``"poll_closed"``: close poll ``msg_id`` (its author, or
    whoever moderates the room). Who may make which is decided by storage."""

    user_id: int
    room: str
    msg_id: int
    kind: str
    text: str = ""
    mentions: tuple[str, ...] = ()
    group: tuple[int, ...] = ()
    user_groups: tuple[str, ...] = ()
    emoji: str = ""
    on: bool = True
    target: str = ""
    expires_at: int | None = None
    within: int = 0
    limit: int = PURGE_MAX
    url: str = ""
    preview: Preview | None = None
    options: tuple[int, ...] = ()


#: What the group committer stores: a new message or a change to one.
NewEntry = NewMessage | NewChange


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Appended:
    """The outcome of one stored entry. ``duplicate``: nothing was stored, for a message
    because its nonce was already used (``message`` is the first one stored with it), for a
    change because it changed nothing (``message`` is the change, at the message's ``rev``).
    ``removed``: the change (a kick, a ban) ended its target's membership of the room.
    ``entries``: for a change stored as several entries (a purge), all of them, in seq
    order (``message`` is then only a summary, never published); ``more``: a purge left
    some of the messages it may delete for the next one."""

    message: Message
    duplicate: bool
    removed: bool = False
    entries: tuple[Message, ...] = ()
    more: bool = False
    #: For a thread reply: the follows of its thread that the batch changed (the replier's,
    #: the root's author's, the named members'), given to the batch's latest reply in it.
    followed: tuple[ThreadState, ...] = ()

    @property
    def stored(self) -> tuple[Message, ...]:
        """The entries this outcome stored, to publish in this order."""
        if self.duplicate:
            return ()
        return self.entries or (self.message,)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Joined:
    room: Room
    newly_joined: bool
    created: bool = False  # the join created the room


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CommitNotice:
    """Another node committed messages ``after`` < seq <= ``last_seq`` in ``room``.

    ``entries``: every one of them, as :meth:`Storage.messages_range` would read them, when
    the notice carried them (migration 0019: new messages that fit in it); None when they
    are to be read."""

    node: str
    room: str
    after: int
    last_seq: int
    entries: tuple[Message, ...] | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MembershipNotice:
    """Another node made ``user`` a member of ``room`` (``joined``) or ended it (``by`` a
    moderator who removed them, when one did)."""

    node: str
    room: str
    user: str
    joined: bool
    by: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RevocationNotice:
    """Tokens were revoked elsewhere: the one with id ``jti``, or (``jti`` None) every token
    of ``user`` issued before ``before`` (ms since the epoch)."""

    node: str
    jti: str | None = None
    user: str | None = None
    before: int | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NotifyNotice:
    """Another node set ``user``'s notification level for ``room`` to ``notify``."""

    node: str
    room: str
    user: str
    notify: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DndNotice:
    """Another node paused ``user``'s notifications until ``until`` (ms), or resumed them
    (None; migration 0023)."""

    node: str
    user: str
    until: int | None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ProfileNotice:
    """Another node stored a new profile for ``user`` (migration 0025): ``profile`` as it is
    now."""

    node: str
    user: str
    profile: Profile


#: The "user" of :meth:`Storage.tell_elsewhere` that means every connection of the node, of
#: any user (no user name holds "*"): for the rare server-wide events (``custom_emoji``).
EVERYONE = "*"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CustomEmoji:
    """A custom emoji (migration 0031): ``:name:``, its picture's bytes ``sha256`` (a WebP
    the server made), who added it (``by``, a user name) and when (``ts``, ms)."""

    name: str
    sha256: str
    by: str
    ts: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class UserGroup:
    """A user group (migration 0035): its ``name`` (lower case), ``description``, how many
    ``members`` it has, who made it (``by``, as registered; None once that account is
    gone) and when (``ts``, ms); ``you``, whether the user who asked is a member (only in
    :meth:`Storage.user_groups`)."""

    name: str
    description: str
    members: int
    by: str | None
    ts: int
    you: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Invitation:
    """An invitation link (migration 0044), never its token: who made it (``by``, as
    registered, and ``creator_id``; None: the command line, or an account gone), when
    (``created_at``, ms), until when it works (``expires_at``, ms; ``expired``: that moment
    has passed, by the database's clock), how many registrations it allows (``max_uses``)
    and took (``uses``), when it was revoked (``revoked_at``, ms; None: it was not), the
    ``rooms`` a new account joins (names, sorted) and who registered with it (``used_by``,
    names as registered, in the order they did)."""

    id: int
    by: str | None
    creator_id: int | None
    created_at: int
    expires_at: int
    max_uses: int
    uses: int
    revoked_at: int | None
    expired: bool
    rooms: tuple[str, ...] = ()
    used_by: tuple[str, ...] = ()

    @property
    def state(self) -> str:
        """``"valid"``, else why not: ``"revoked"``, ``"used_up"`` or ``"expired"`` (in
        that order when several hold)."""
        return link_state(self)


def invitation_refusal(invitation: Invitation | None) -> ChatError:
    """The refusal of a registration with an invitation that is not valid (None: no
    invitation has the token)."""
    return _link_refusal("unknown" if invitation is None else invitation.state,
                         "invitation link")


class _Link(Protocol):
    """What :func:`link_state` reads of an invitation or a room link."""

    @property
    def revoked_at(self) -> int | None: ...
    @property
    def uses(self) -> int: ...
    @property
    def max_uses(self) -> int: ...
    @property
    def expired(self) -> bool: ...


def link_state(link: _Link) -> str:
    """An invitation's or a room link's state: ``"valid"``, else why not: ``"revoked"``,
    ``"used_up"`` or ``"expired"`` (in that order when several hold)."""
    if link.revoked_at is not None:
        return "revoked"
    if link.uses >= link.max_uses:
        return "used_up"
    if link.expired:
        return "expired"
    return "valid"


def _link_refusal(state: str, noun: str) -> ChatError:
    """The refusal of a link (``noun``: what the message calls it) in ``state``; a state
    but these (``"unknown"``: no link has the token) is ``invitation_invalid``."""
    code, message = {
        "expired": (codes.INVITATION_EXPIRED, f"this {noun} has expired"),
        "used_up": (codes.INVITATION_USED_UP, f"this {noun} has been used as many times as "
                                              "it allows"),
        "revoked": (codes.INVITATION_REVOKED, f"this {noun} was revoked"),
    }.get(state, (codes.INVITATION_INVALID, f"this {noun} is not valid"))
    return ChatError(code, message)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RoomLink:
    """A join link to one room (migration 0051), never its token: the ``room`` it enters
    (its name), who made it (``by``, as registered, and ``creator_id``; None: an account
    gone), when (``created_at``, ms), until when it works (``expires_at``, ms;
    ``expired``: that moment has passed, by the database's clock), how many people it may
    make members (``max_uses``) and made (``uses``), when it was revoked (``revoked_at``,
    ms; None: it was not)."""

    id: int
    room: str
    by: str | None
    creator_id: int | None
    created_at: int
    expires_at: int
    max_uses: int
    uses: int
    revoked_at: int | None
    expired: bool

    @property
    def state(self) -> str:
        """``"valid"``, else why not, as :attr:`Invitation.state`."""
        return link_state(self)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LinkedRoom:
    """A room link with its room as the user holding it would enter it: ``private``,
    ``topic``, how many ``members`` it has, whether the user is one (``member``) or is
    ``banned`` from it, whether it is ``archived``, and ``gone`` (deleted, or not a room)."""

    link: RoomLink
    private: bool
    topic: str
    members: int
    member: bool
    banned: bool
    archived: bool
    gone: bool


def room_link_refusal(link: RoomLink | None) -> ChatError:
    """The refusal of a join with a room link that is not valid (None: no link has the
    token). The codes are the invitations' (:func:`invitation_refusal`): a room link is an
    invitation to one room."""
    return _link_refusal("unknown" if link is None else link.state, "room link")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class InvitedUser:
    """An account made with an invitation: the ``user``, the ``rooms`` it joined (names,
    sorted) and who made the invitation (``by``; None: the command line)."""

    user: User
    rooms: tuple[str, ...]
    by: str | None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class UserGroupChange:
    """What a change to a user group did: the ``group`` after it (before it, for a
    deletion), and the members it ``added`` and ``removed`` (names as registered, sorted
    ignoring case)."""

    group: UserGroup
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


def split_mentions(stored: Sequence[str]) -> tuple[Sequence[str], tuple[str, ...]]:
    """A message's stored ``mentions`` as the members it names and the user groups it
    mentions: storage keeps both in the one column, a group as ``@name`` (no user name has
    an ``@``), so that every path that carries a message's mentions (its reads, its edits,
    the commit notices to other nodes) carries its groups with no column or statement more.
    A message with no group mention (nearly all) is given back as it is."""
    if not stored or not any(name.startswith("@") for name in stored):
        return stored, ()
    return (tuple(name for name in stored if not name.startswith("@")),
            tuple(sorted(name[1:] for name in stored if name.startswith("@"))))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class UserEventNotice:
    """Another node has an event for ``user``'s connections (:meth:`Storage.tell_elsewhere`):
    ``data``, one frame as it is written to them (a ``read`` moved on a device there)."""

    node: str
    user: str
    data: bytes


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ReminderNotice:
    """Another node claimed the reminder of ``user``'s saved message ``msg_id`` of ``room``,
    due at ``remind_at`` (ms; migration 0030): the user's connections here are told."""

    node: str
    user: str
    room: str
    msg_id: int
    remind_at: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PresenceNotice:
    """Another node's presence changed (migration 0017): ``online`` users got their first
    connection there, ``offline`` ones closed their last; with ``reset``, forget whom
    ``node`` had before (its users are ``online``, and those of the notices that follow);
    ``down``: the node stopped or was found dead, its users are offline there.
    ``typing``: (room, user) pairs, a member typing in a room (checked by that node).
    ``idle`` users have connections there, all idle (migration 0027); ``online`` ones have
    some connection active there."""

    node: str
    online: tuple[str, ...] = ()
    offline: tuple[str, ...] = ()
    typing: tuple[tuple[str, str], ...] = ()
    reset: bool = False
    down: bool = False
    idle: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RoomDeletedNotice:
    """Another node deleted ``room`` (``by`` an administrator; "" from the command line):
    its members' connections here are told, and the room leaves the registry."""

    node: str
    room: str
    by: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TargetsNotice:
    """Rows of ``table`` (``room_webhooks``, ``push_subscriptions``) were added or removed,
    on any node this one included (migration 0021): whether any is left decides whether
    the webhook sender and the pusher look anything up after a commit."""

    node: str
    table: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ListeningNotice:
    """This node listens (again): notices sent before may have been lost, so state kept from
    notices (presence) must be read again from the database. ``node`` is this node."""

    node: str


Change = (CommitNotice | MembershipNotice | RevocationNotice | NotifyNotice | DndNotice
          | ProfileNotice | PresenceNotice | ListeningNotice | RoomDeletedNotice | TargetsNotice
          | UserEventNotice | ReminderNotice)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NodesSeen:
    """What a heartbeat's sweep found: the ``dead`` nodes it removed (their users are
    offline), and how many ``others`` are alive."""

    dead: tuple[str, ...]
    others: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PushSubscription:
    """A browser's Web Push subscription: its push service's ``endpoint`` (an https URL) and
    the keys pushes are encrypted to, base64url as the browser gives them: ``p256dh`` (an
    uncompressed P-256 point) and ``auth`` (16 bytes)."""

    endpoint: str
    p256dh: str
    auth: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EmailSettings:
    """A user's address (migration 0046): as they typed it (None: none), whether it is
    confirmed, and whether missed-message emails are on; ``pending``: the address a
    confirmed one is being changed to, until its link is opened (the confirmed one stays
    theirs meanwhile), else None."""

    email: str | None
    confirmed: bool
    notify: bool
    pending: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EmailTarget:
    """A user (``user_id``, ``user``) who may get a missed-message email for the message at
    ``seq`` of ``room`` (``room_id``), and why: ``"dm"`` or ``"mention"``; ``paused_until``
    (ms) as :class:`PushTarget`'s."""

    room_id: int
    room: str
    seq: int
    user_id: int
    user: str
    reason: str
    paused_until: int | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ResetTarget:
    """An account a password reset link may be mailed to: active, with a confirmed
    ``email``."""

    user_id: int
    name: str
    email: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MissedMessage:
    """A message of a missed-message email: where (``room``, its ``kind``), which
    (``seq``, ``msg_id``), who wrote it (``sender``, with their display name), its ``text``
    now and time (``ts``, ms), and why it is mailed (``reason``: ``dm``, ``mention``)."""

    room: str
    kind: str
    seq: int
    msg_id: int
    sender: str
    sender_display: str | None
    text: str
    ts: int
    reason: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EmailBatch:
    """What one missed-message email to ``user`` holds: the messages still to mail, oldest
    first (``more``: how many more there are past them), and ``queued``, the (room id,
    seq) of every row read for it, mailed or not (read meanwhile, deleted, a room left):
    what :meth:`Storage.email_batch_done` removes. ``email``: their confirmed address while
    the emails are on (None: mail nothing). ``attempts``: failed sends so far."""

    user_id: int
    user: str
    display_name: str | None
    email: str | None
    paused_until: int | None
    attempts: int
    messages: tuple[MissedMessage, ...]
    more: int
    queued: tuple[tuple[int, int], ...]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PushTarget:
    """A subscription of ``user`` that the message at ``seq`` of ``room`` should be pushed
    to, and why: ``"dm"`` (a message of a 1:1 conversation), ``"mention"`` (it names them),
    ``"keyword"`` (it holds one of their notification keywords) or ``"message"`` (their
    level for the room is ``all``). ``paused_until`` (ms): until when the user paused their
    notifications, as stored (None: never; it may be past): the pusher compares it with its
    clock when it pushes.

    As :meth:`Storage.push_targets` returns them, a ``"keyword"`` target is a candidate: a
    member of ``room`` with ``keywords``, standing for every message of the batch in that
    room (``seq`` 0); :func:`chatd.keywords.keyword_targets` turns it into the targets of the
    messages its keywords match (and not the user's own)."""

    room: str
    seq: int
    user: str
    reason: str
    subscription: PushSubscription
    paused_until: int | None = None
    keywords: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StorageStatistics:
    """A snapshot for metrics: the connection pool, whether an embedded server runs, whether
    the database answered its last probe, and how often the embedded server was restarted."""

    pool_size: int
    pool_in_use: int
    embedded: bool
    embedded_up: bool
    database_up: bool = True
    embedded_restarts: int = 0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Page:
    """A page of history, oldest first. ``more`` tells whether the page was cut by its limit
    (older messages exist for a ``before`` or latest page, newer ones for an ``after`` page).
    ``last_seq`` is the room's last seq in the same snapshot as ``messages``."""

    messages: list[Message]
    more: bool
    last_seq: int


#: The most versions an edit history holds (:meth:`Storage.edit_history`): the first one known
#: and the newest others; those between are counted, not sent.
EDIT_VERSIONS_MAX = 100


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EditVersion:
    """One version of a message: its ``text``, who wrote it (``by``) and when (``ts``); ``seq``:
    the message's own for the original, the ``edited`` entry's for each edit."""

    text: str
    by: str
    ts: int
    seq: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EditHistory:
    """The versions of a message, oldest first, the last its text now (migration 0045).
    ``original``: whether the first is the text it was sent with (false for a message edited
    before chatd kept replaced texts: its history starts at its first edit); ``omitted``: how
    many versions between the first and the rest were left out (:data:`EDIT_VERSIONS_MAX`)."""

    versions: list[EditVersion]
    original: bool
    omitted: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ThreadPage:
    """A page of a thread: its ``root`` as it is now, and ``messages``, replies oldest first
    (the newest of those asked for); ``more``: older replies remain; ``last_seq``: the
    room's, in the same snapshot; ``following`` and ``read_seq``: the asking user's state of
    the thread (false and 0 when they have none)."""

    root: Message
    messages: list[Message]
    more: bool
    last_seq: int
    following: bool
    read_seq: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ThreadState:
    """A user's state of a thread (migration 0033): whether they follow the thread of root
    ``msg_id`` of ``room``, and ``read_seq``, the seq of the last reply they have read."""

    user: str
    room: str
    msg_id: int
    following: bool
    read_seq: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FollowedThread:
    """A thread of a user's list (the ``threads`` request): its ``root`` as it is now (with
    its summary), the user's state of it, ``last_ts`` (its latest reply's time, ms; the
    root's before any: the list's order and, with the root's msg_id, its cursor),
    ``unread`` (replies after ``read_seq`` not by the user, not deleted) and ``mentions``
    (of those, the ones whose text names the user)."""

    room: str
    root: Message
    following: bool
    read_seq: int
    last_ts: int
    unread: int
    mentions: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SavedItem:
    """A message a user saved (migration 0030): ``ts`` when they saved it (ms; strictly
    increasing per user, the cursor of their list), ``remind_at`` when to remind them (ms;
    None: never), ``reminded``: the reminder was sent. ``message``: the message as it is now
    (a tombstone once deleted), when it was read (None: not read)."""

    room: str
    msg_id: int
    ts: int
    remind_at: int | None = None
    reminded: bool = False
    message: Message | None = None
    #: Who set the reminder, when another user did (migration 0051; None: the user).
    set_by: str | None = None
    #: Whom it is for, in the setter's list (:meth:`Storage.reminders_set`; else None).
    user: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Badges:
    """What a client shows as counts without a request, as a hello reads them
    (:class:`SessionStart`): reminders due, scheduled messages, of them failed."""

    reminders_due: int
    scheduled_count: int
    scheduled_failed: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ScheduledItem:
    """A message a user scheduled (migration 0032), as its owner sees it: ``id``, the
    ``room`` it goes to, its ``text``, ``files`` (reserved uploads), ``thread``,
    ``broadcast`` and ``reply_to`` as a send takes them, ``send_at`` and ``created`` (ms),
    ``state`` ``"pending"`` or ``"failed"`` and, failed, ``error`` ({code, message}: the
    refusal of its send)."""

    id: int
    room: str
    text: str
    send_at: int
    created: int
    files: tuple[FileInfo, ...] = ()
    thread: int | None = None
    broadcast: bool = False
    reply_to: int | None = None
    state: str = "pending"
    error: Mapping[str, str] | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ScheduledWork:
    """A scheduled item claimed by this node for a lease (:meth:`Storage.claim_scheduled`):
    the item, the user to send it as (read now, not from any session), and what a push
    of its failure needs: ``paused_until`` (ms, as stored; None: never) and the user's
    ``subscriptions``."""

    item: ScheduledItem
    user: User
    paused_until: int | None = None
    subscriptions: tuple[PushSubscription, ...] = ()
    #: This claim (the row's lease end as claimed), which only it may begin to send
    #: (:meth:`Storage.scheduled_sending`).
    claim: datetime.datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Reminder:
    """A reminder claimed by this node (:meth:`Storage.claim_reminders`): ``user``'s saved
    message, due at ``remind_at`` (ms), as it is now; ``readable``: the user may still read
    its room (else nothing is told); ``paused_until`` (ms): until when the user paused
    their notifications, as stored (None: never; it may be past); ``subscriptions``: theirs,
    for Web Push."""

    user: str
    remind_at: int
    message: Message
    readable: bool
    paused_until: int | None = None
    subscriptions: tuple[PushSubscription, ...] = ()
    #: The claimer's key of the saved row (its user's id), to mark it reminded.
    user_id: int = 0
    #: This claim (the row's lease end as claimed: each claim's is later than the one
    #: before), which only it may mark reminded (:meth:`Storage.reminded`).
    claim: datetime.datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SearchPage:
    """Messages found by a search, newest first (by ``msg_id``), each as it is now (kind
    ``"message"``, with its ``room``). ``more``: older matches exist below the last one."""

    messages: list[Message]
    more: bool


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BotToken:
    """A bot's API token, as it may be shown: never the token, which only its maker saw.
    ``last_used_at`` is to the minute; ``revoked_at`` None while it works."""

    id: int
    name: str
    created_at: int
    last_used_at: int | None = None
    revoked_at: int | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Bot:
    """A bot account, the user who owns it (``owner_id`` and ``owner``, None once that user
    is gone) and its tokens, oldest first."""

    user: User
    owner_id: int | None
    owner: str | None
    tokens: tuple[BotToken, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Hook:
    """An incoming webhook of ``room``, posting as ``bot``, made by ``creator``."""

    id: int
    room: str
    bot: str
    creator: str
    created_at: int
    last_used_at: int | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class HookTarget:
    """Where an incoming webhook posts: its ``room``, as its ``bot``."""

    id: int
    room: str
    bot: User


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RoomWebhook:
    """A room's outgoing webhook: new messages are POSTed to ``url``, signed under
    ``secret``."""

    room: str
    url: str
    secret: str
    set_by: str | None
    created_at: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WebhookTargets:
    """For a batch of new messages: the outgoing webhooks of their rooms (by room), and
    which of their senders are bots."""

    webhooks: dict[str, RoomWebhook]
    bots: frozenset[str]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SessionStart:
    """What a ``hello`` reads first: the user its token names, the names of their rooms and
    of their contacts (as :meth:`Storage.room_and_contact_names`, or only the first of them
    when asked), and each room's ``last_seq`` in the same read (None: not read)."""

    user: User
    rooms: frozenset[str]
    contacts: list[str]
    last_seqs: dict[str, int] | None = None
    #: The first rooms by name in full, as :meth:`Storage.session_rooms` gives them, read
    #: with the rest (None: not read).
    page: list[Room] | None = None
    #: How many of their saved messages were reminded (migration 0030), of rooms they may
    #: read (None: not read).
    reminders_due: int | None = None
    #: Their scheduled messages pending or failed, and of those the failed (migration 0032;
    #: None: not read).
    scheduled_count: int | None = None
    scheduled_failed: int | None = None
    #: How many followed threads have unread replies (at most THREADS_UNREAD_CAP).
    threads_unread: int = 0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PresenceAudience:
    """Who hears of a batch of users' status changes beyond what a node's room registry
    knows (:meth:`Storage.presence_audience`): by user, the users who have them as a
    contact (``watchers``; a user nobody has is absent), and the rooms of those asked for
    (``rooms``; a user in none is absent). Names as registered."""

    watchers: dict[str, frozenset[str]]
    rooms: dict[str, frozenset[str]]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SessionRooms:
    """What a ``hello`` reads of the user's rooms once the connection is subscribed
    (:meth:`Storage.session_rooms`): every room's ``last_seq`` by name, and the rooms the
    welcome shows, in full."""

    last_seqs: dict[str, int]
    rooms: list[Room]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ExportState:
    """An export of a user's data (migration 0052, chatd/export.py) as it is now: ``state``
    ``"running"``, ``"ready"``, ``"failed"`` (``error`` says why; a running export whose
    node stopped renewing its lease reads as failed) or ``"expired"``; times in ms
    (``finished_at`` and ``expires_at`` None until then); ``sha256`` and ``size``, the
    archive's in the file store, while ready; ``messages`` and ``files``, what it holds (so
    far, while running)."""

    id: int
    state: str
    started_at: int
    finished_at: int | None = None
    expires_at: int | None = None
    sha256: str | None = None
    size: int | None = None
    messages: int = 0
    files: int = 0
    error: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ExportedFile:
    """A file a user uploaded, as their export lists it: its bytes are ``sha256`` in the file
    store; ``room`` and ``message_id`` None for a file of no room (``use`` ``"avatar"`` or
    ``"emoji"``) or not attached yet; ``ts`` when it was uploaded (ms)."""

    id: int
    name: str
    size: int
    content_type: str
    sha256: str
    room: str | None
    message_id: int | None
    ts: int
    use: str = "upload"


class Storage(Protocol):
    """The database behind chatd. One instance is shared by all tasks of a daemon."""

    async def ping(self) -> None:
        """Round-trip to the database. Raises StorageUnavailable."""

    def statistics(self) -> StorageStatistics:
        """A snapshot of the pool and the embedded server; never blocks."""

    def database_lost(self) -> bool:
        """Whether the database has been gone for longer than ``[database] watchdog_grace``
        despite the storage's own attempts to bring it back: the daemon cannot serve and
        should be restarted (it then stops feeding systemd's watchdog). Never blocks."""

    @property
    def node(self) -> str:
        """This process's name in the database (its commits' notices carry it)."""

    async def follow_changes(
        self,
        on_change: Callable[[Change], None],
        *,
        on_batch: Callable[[tuple[Change, ...]], None] | None = None,
        wanted: Callable[[str], bool] | None = None,
        on_lost: Callable[[], None] | None = None,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Until cancelled, call ``on_change`` (in this trio thread, never concurrently) for
        every commit of messages and every membership change by *another* node sharing the
        database, in commit order.
        With ``on_batch``, the notices that arrived together (one payload: a commit over
        several rooms) are given to it at once, in order, instead of to ``on_change`` one by
        one: one wake-up of the trio thread for them all.
        ``wanted(room)``, if given, says whether the entries a notice carries for ``room``
        are of use here (someone here to tell): when not, they are not even parsed, and the
        notice comes as a range to read (:attr:`CommitNotice.entries` None). It is called
        from another thread than trio's, so it must only read (a ``in`` test of a dict is
        atomic in CPython) and never block.
        Reconnects by itself when the connection drops (notices sent meanwhile are lost; the
        connections repair such gaps from the database). ``task_status.started()`` once the
        first LISTEN is in place. Each time a LISTEN is in place, first and after a loss, a
        :class:`ListeningNotice` comes before the notices that follow it; ``on_lost`` (in
        this trio thread) is told each time the listening connection is lost or could not
        be made, before the notices of that time are missed."""

    async def heartbeat(self) -> bool:
        """Say that this node is alive (``nodes.seen_at``, migration 0017). True when its row
        was created: at the first heartbeat, or after other nodes took it for dead (then the
        node must publish its users again, with ``reset``)."""

    async def wait_for_writers(self) -> None:
        """Return once every transaction in progress when called has ended (or after
        ``[database] statement_timeout``, which bounds each of chatd's statements): a
        node that has just registered and listens calls it before serving anyone, because
        the commits of another node that was alone until then checked for other nodes
        before this one's row was there, and send no commit notice (migration 0022)."""

    async def sweep_nodes(self, after: float) -> NodesSeen:
        """Remove the nodes (never this one) not heard of for ``after`` seconds, database
        time, with their users' presence; every other node is told (a ``down``
        :class:`PresenceNotice`)."""

    async def publish_presence(self, online: Sequence[str], offline: Sequence[str],
                               typing: Sequence[tuple[str, str]] = (), *,
                               reset: bool = False, idle: Sequence[str] = ()) -> None:
        """Record that ``online`` users have a connection on this node, some active,
        ``idle`` ones connections all idle (migration 0027), and ``offline`` ones none any
        more (with ``reset``: only ``online`` and ``idle`` have), and tell the other nodes,
        with the (room, user) pairs of ``typing``, in one transaction. Names as
        registered."""

    async def online_elsewhere(self) -> dict[str, frozenset[str]]:
        """The users online on each other node, as recorded (node -> names)."""

    async def presence_elsewhere(self) -> dict[str, dict[str, bool]]:
        """The users with a connection on each other node, as recorded, each with whether
        all of their connections there are idle (node -> name -> idle)."""

    async def presence_audience(self, users: Sequence[str],
                                rooms_of: Sequence[str] = ()) -> PresenceAudience:
        """For the presence tracker's batch of announcements, in one statement: the users
        who have each of ``users`` as a contact (on any node, online or not: the caller
        keeps those it has), and the names of the rooms (conversations included) each of
        ``rooms_of`` (users online only on other nodes: no node's registry here knows
        their rooms; each also in ``users``) is in. Names any case; the answer's as
        registered. One index walk per user and row (``contacts_contact_id_idx``, each
        watcher's name by ``users_pkey``): a user who is the contact of 10,000 costs those
        10,000 rows, at their transitions only."""

    async def leave_cluster(self) -> None:
        """Remove this node's row and its users' presence, and tell the other nodes (a
        ``down`` notice): the last thing a node stopping cleanly does."""

    async def messages_range(self, room: str, *, after: int, upto: int) -> list[Message]:
        """The entries of ``room`` with ``after`` < seq <= ``upto``, in seq order (messages
        as they are now, and changes). No access
        check: for the daemon's own use (fan-out of other nodes' commits)."""

    async def messages_ranges(self, ranges: Sequence[tuple[str, int, int]]
                              ) -> list[list[Message]]:
        """For each ``(room, after, upto)`` of ``ranges``, its entries as
        :meth:`messages_range` reads them, in one statement (one snapshot, one round trip):
        the relay reads the ranges of all the rooms of another node's commit at once."""

    async def messages_by_nonce(self, keys: Sequence[tuple[int, str]]) -> list[Message | None]:
        """For each ``(user id, nonce)`` of ``keys``, the message stored under it (the pair
        is unique), as a read of its room's log gives it (:meth:`messages_range`), or None
        when none is; in one statement, answers in the order of ``keys`` (a key given twice
        is answered twice). No access check: for the group committer, which settles the
        sends whose commit's outcome was lost with the database connection.

        A connection lost in the middle of an append (cut, timed out, cancelled) leaves its
        transaction to the server, which may still be committing it: this first waits until
        the server backends of those connections are no longer in a transaction (at most
        ``[database] statement_timeout``, which bounds each of their statements; then it
        reads all the same and logs it), so that what it reads is their final outcome.

        Only messages: a change stores an empty nonce, and is never found this way.

        Raises:
            StorageUnavailable: the database did not answer (the lost connections' backends
                are waited for again at the next call).
        """

    async def create_user(self, name: str, password_hash: str, *, admin: bool = False) -> User:
        """Create a user (a server administrator with ``admin``, which the audit log records
        as done from the command line). Raises ChatError('conflict') when the name (any case)
        is taken."""

    async def set_password(self, name: str, password_hash: str, *,
                           actor_id: int | None = None) -> User:
        """Replace the password hash of the user called ``name`` (any case) and revoke every
        token issued before (a new password logs out everywhere). Recorded in the audit log
        as done by ``actor_id`` (an administrator; None: the command line).
        Raises ChatError('not_found')."""

    async def list_users(self) -> list[User]:
        """Every user, by name (case-insensitively)."""

    async def find_users(self, *, query: str = "", after: str = "", limit: int) -> list[User]:
        """A page of the users whose name holds ``query`` (any case; '' for all), by name
        case-insensitively, after the name ``after`` ('' from the first), at most
        ``limit``: ask one more to learn whether another page follows."""

    async def set_admin(self, name: str, admin: bool, *, actor_id: int | None = None) -> User:
        """Make the user called ``name`` (any case) a server administrator, or no longer
        one; recorded in the audit log when it changed anything, as done by ``actor_id``
        (None: the command line). Raises ChatError('not_found')."""

    async def set_deactivated(self, name: str, deactivated: bool, *,
                              actor_id: int | None = None) -> User:
        """Deactivate the account called ``name`` (any case), or reactivate it. Deactivating
        revokes every token it holds (their sessions end on every node: a
        :class:`RevocationNotice`) and forgets its push subscriptions; its messages and
        memberships stay. Recorded in the audit log when it changed anything, as done by
        ``actor_id`` (None: the command line). Raises ChatError('not_found')."""

    async def admin_rooms(self, *, query: str = "", after: str = "", limit: int
                          ) -> list[AdminRoom]:
        """A page of the rooms (not conversations) whose name holds ``query``, by name
        (code point order) after ``after``, at most ``limit``, with their owner and member
        count: what an administrator sees."""

    async def database_size(self) -> int:
        """The size of the database on disk, in bytes."""

    async def figures(self) -> DatabaseFigures:
        """What the database holds and which nodes run on it, for ``chatd stats``."""

    async def rooms_written_in(self, name: str, since: int) -> list[str]:
        """The rooms and conversations (not deleted) where user ``name`` (any case) has
        messages sent at ``since`` (ms) or later and not deleted, by name: where a
        deactivation with ``delete_messages`` purges. Empty for an unknown user."""

    async def delete_room(self, user_id: int | None, room: str
                          ) -> list[tuple[str, ScheduledItem]]:
        """Delete a room (not a conversation) with everything in it, for an administrator
        (read in the transaction; None: the command line): its log, memberships, bans,
        hooks, webhook, the scheduled messages to it; its files become deleted files (their
        bytes are collected later). The name is free at once; the audit log keeps the
        action, with the room's name. Other nodes get a :class:`RoomDeletedNotice` (its
        ``by`` empty from the command line). A send racing it is refused or deleted with
        the room. Returns the scheduled items removed, each with its user's name, as they
        were but ``failed`` with ``not_found`` (the room was deleted), for their users to be
        told.

        Raises:
            ChatError: ``forbidden`` (not an administrator), ``not_found``, ``bad_request``
                (a conversation).
        """

    async def room_archived(self, room: str) -> bool:
        """Whether ``room`` is archived (False when there is no such room)."""

    async def bans(self, user_id: int, room: str) -> list[Ban]:
        """The bans in force in ``room``, newest first, for its owner, its moderators and
        administrators. Raises ChatError('not_found') for an unknown room,
        ChatError('forbidden') for anyone else."""

    async def audit_log(self, user_id: int | None, *, room: str | None = None,
                        before: int | None = None, limit: int) -> list[AuditEntry]:
        """The audit log, newest first (ids below ``before``, at most ``limit``): all of it
        for an administrator, or (``room`` given) that room's for its owner, its moderators
        and administrators; for the command line (``user_id`` None), either. Raises
        ChatError('forbidden') for anyone else, ChatError('not_found') for an unknown room."""

    async def get_credentials(self, name: str) -> Credentials | None:
        """The user called ``name`` (any case) with their password hash, or None."""

    async def check_token(self, user_id: int, jti: str, issued_at: int) -> User | None:
        """The user a token names, or None when the user is gone or deactivated, the token id
        was revoked, or the token was issued (``issued_at``, ms) before the user's last
        log-out-everywhere.
        The comparison is to the millisecond, on this process's clock: pass the issue time in
        ms, not rounded to the second, or a token issued just after a log-out-everywhere
        looks older than it. Expiry is the caller's to check."""

    async def revoke_token(self, jti: str, expires_at: int) -> None:
        """Revoke one token until it expires anyway (``expires_at``, ms)."""

    async def revoke_all_tokens(self, user_id: int) -> None:
        """Revoke every token issued to the user up to now (this process's clock, ms)."""

    async def is_admin(self, user_id: int) -> bool:
        """Whether the user is a server administrator (False for an unknown user)."""

    async def create_bot(self, owner_id: int, name: str, *, token_name: str,
                         token_hash: bytes) -> Bot:
        """Create a bot account called ``name`` owned by the user ``owner_id``, with its
        first token (``token_hash``: the SHA-256 of the token). Raises ChatError:
        'conflict' (the name, any case, is taken), 'forbidden' (the owner is a bot),
        'not_found' (no such owner)."""

    async def bots(self, owner_id: int | None = None) -> list[Bot]:
        """The bots ``owner_id`` owns (every bot when None), by name, with their tokens."""

    async def get_bot(self, name: str) -> Bot | None:
        """The bot called ``name`` (any case), with its tokens; None when there is no such
        user or it is not a bot."""

    async def add_bot_token(self, bot_id: int, name: str, token_hash: bytes) -> BotToken:
        """Store a new token of the bot (``token_hash``: its SHA-256)."""

    async def revoke_bot_tokens(self, bot_id: int, token_id: int | None = None) -> list[int]:
        """Revoke the bot's token ``token_id`` (every token of the bot when None); the ids
        of the tokens revoked by this call (none: no such token of that bot, or it was
        revoked already). Every node is told (a :class:`RevocationNotice` with the jti
        ``bot:<id>``)."""

    async def check_bot_token(self, token_hash: bytes) -> tuple[User, BotToken] | None:
        """The bot whose token has this SHA-256, if the token is not revoked (and the
        token); notes the use in ``last_used_at`` (at most once a minute)."""

    async def add_hook(self, creator_id: int, room: str, bot_id: int,
                       secret_hash: bytes) -> Hook:
        """Store an incoming webhook of ``room`` posting as ``bot_id`` (already a member).
        Raises ChatError: 'not_found' (no such room), 'forbidden' (the creator is not a
        member), 'bad_request' (a conversation)."""

    async def hooks(self, user_id: int, room: str, *, admin: bool = False) -> list[Hook]:
        """The incoming webhooks of ``room`` the user manages: those they made, or all when
        they own the room or are an ``admin``; oldest first. ChatError('not_found') for an
        unknown room."""

    async def delete_hook(self, user_id: int, room: str, hook_id: int, *,
                          admin: bool = False) -> None:
        """Delete a webhook of ``room``: its creator, the room's owner or an ``admin`` may.
        Raises ChatError: 'not_found' (no such room, or no such hook in it), 'forbidden'."""

    async def find_hook(self, secret_hash: bytes) -> HookTarget | None:
        """The webhook whose secret has this SHA-256, with its room and bot; notes the use
        (at most once a minute). None when there is none."""

    async def set_room_webhook(self, user_id: int, room: str, url: str, secret: str, *,
                               admin: bool = False) -> RoomWebhook:
        """Set (or replace) the outgoing webhook of ``room``: its owner or an ``admin``
        may. Raises ChatError: 'not_found', 'forbidden' (not the owner), 'bad_request' (a
        conversation)."""

    async def room_webhook(self, user_id: int, room: str, *,
                           admin: bool = False) -> RoomWebhook | None:
        """The outgoing webhook of ``room``, to its owner or an ``admin``; None when it has
        none. Raises ChatError: 'not_found', 'forbidden'."""

    async def delete_room_webhook(self, user_id: int, room: str, *,
                                  admin: bool = False) -> bool:
        """Remove the outgoing webhook of ``room`` (its owner or an ``admin``); False when
        it had none. Raises ChatError: 'not_found', 'forbidden'."""

    async def open_session(self, user_id: int, jti: str, issued_at: int, *,
                           contacts_limit: int | None = None,
                           rooms_limit: int | None = None) -> SessionStart | None:
        """:meth:`check_token`, then (when it finds the user)
        :meth:`room_and_contact_names` with each room's ``last_seq``
        (``SessionStart.last_seqs``) and the rooms of :meth:`session_rooms` with
        ``rooms_limit`` (``SessionStart.page``), in one call: what a hello reads is one
        statement. With ``contacts_limit``, only the first that many contacts (in order).
        None where :meth:`check_token` is None."""

    async def webhook_targets(self, rooms: Sequence[str],
                              senders: Sequence[str]) -> WebhookTargets:
        """The outgoing webhooks of ``rooms``, and which of ``senders`` (names as
        registered) are bots: what the webhook sender needs for a batch of messages."""

    async def user_rooms(self, user_id: int) -> list[Room]:
        """The rooms and conversations the user is a member of, by name, with ``read_seq``,
        ``unread`` and (for conversations) ``peer`` filled."""

    async def room_heads(self, user_id: int) -> dict[str, int]:
        """The names of the rooms and conversations the user is a member of, each with its
        ``last_seq``: the light read of :meth:`user_rooms` (no counts), one index walk of the
        user's memberships."""

    async def session_rooms(self, user_id: int, limit: int | None) -> SessionRooms:
        """What a ``hello`` reads once subscribed, in one crossing. With ``limit`` None: the
        rooms as :meth:`user_rooms` reads them (one statement), every one in the welcome.
        Otherwise :meth:`room_heads`, then the first ``limit`` rooms as
        :meth:`rooms_overview` with ``joined`` gives them (more follow when the heads are
        more than ``limit``); their counts cost the page's, not every room's."""

    async def is_member(self, room: str, user: str) -> bool:
        """Whether ``user`` (a name) is a member of ``room`` now (False if either is unknown):
        the re-check that keeps the room registry from subscribing a removed member."""

    async def count_members(self, room: str, users: Sequence[str]) -> int:
        """How many of ``users`` (names, any case) are members of ``room`` now."""

    async def group_scope(self, room: str, user_id: int, *, online: Sequence[str] | None
                          ) -> GroupScope | None:
        """Whom a group mention by ``user_id`` in ``room`` (a room, not a conversation) would
        reach: every member with ``online`` None (``@room``), else the members named in
        ``online`` (names, any case: who is online now, for ``@here``); None when there is
        no such room. Read only when a text has a group mention: the cost of one count of
        the room's members."""

    async def user_group_mentions(self, room: str, user_id: int, candidates: Sequence[str]
                                  ) -> tuple[tuple[str, ...], tuple[int, ...]]:
        """Which of ``candidates`` (lower-case names a text may mention) are user groups
        (their names, sorted), and the ids of their members who are members of ``room`` now,
        not deactivated, ``user_id`` aside (sorted, each once). Read only for a text sent to
        a room (not a 1:1 conversation) with mention candidates: one statement."""

    async def user_group_names(self) -> list[str]:
        """Every user group's name (lower case): what a node keeps to know whether a text's
        mention candidates can name a group at all (chatd.actions.user_groups)."""

    async def user_groups(self, user_id: int) -> list[UserGroup]:
        """Every user group, by name, each with ``you``: whether ``user_id`` is a member."""

    async def user_group(self, name: str) -> tuple[UserGroup, list[str]] | None:
        """User group ``name`` (lower case) and its members' names, sorted ignoring case;
        None when there is none."""

    async def create_user_group(self, name: str, description: str, creator_id: int,
                                members: Sequence[str], *, max_groups: int,
                                max_members: int) -> UserGroupChange:
        """Make user group ``name`` (valid, lower case) by ``creator_id`` with ``members``
        (user names, any case, each once), if the server has fewer than ``max_groups``.

        Raises:
            ChatError: 'conflict' (a group or a user has the name, in any case: migration
                0035 makes that race-proof), 'not_found' (a member is nobody: nothing is
                made), 'bad_request' (past ``max_groups`` or ``max_members``).
        """

    async def edit_user_group(self, name: str, user_id: int, *, admin: bool,
                              description: str | None, add: Sequence[str],
                              remove: Sequence[str], max_members: int) -> UserGroupChange:
        """Change user group ``name``, by ``user_id`` (one of its members, its creator, or
        ``admin``): its ``description`` (None: kept), members added and removed (names, any
        case; one already in, or not in, is no error).

        Raises:
            ChatError: 'not_found' (no such group, or a name is nobody: nothing changes),
                'forbidden', 'bad_request' (past ``max_members``).
        """

    async def delete_user_group(self, name: str, user_id: int, *, admin: bool
                                ) -> UserGroupChange:
        """Delete user group ``name``, by ``user_id`` (as :meth:`edit_user_group` allows);
        its members are the change's ``removed``.

        Raises:
            ChatError: 'not_found', 'forbidden'.
        """

    # -- email (migration 0046) ---------------------------------------------------------------

    async def email_settings(self, user_id: int) -> EmailSettings:
        """The user's address, whether it is confirmed, whether the emails are on.

        Raises:
            ChatError: 'not_found' (no such user).
        """

    async def set_email(self, user_id: int, email: str, token_hash: bytes, *,
                        expires_at: int) -> EmailSettings:
        """Keep the confirmation token ``token_hash`` (its SHA-256) of the address
        ``email`` (valid) until ``expires_at`` (ms), in place of any earlier one; the
        address is the user's, unconfirmed, at once unless they have a confirmed one, which
        stays theirs (``pending``: the new one) until the token confirms the new one.

        Raises:
            ChatError: 'email_taken' (another account confirmed it), 'not_found'.
        """

    async def remove_email(self, user_id: int) -> EmailSettings:
        """Remove the user's address, with its tokens (confirmation and reset links stop
        working) and the missed messages queued for them."""

    async def set_email_notify(self, user_id: int, on: bool) -> tuple[EmailSettings, bool]:
        """Turn the missed-message emails on or off (off drops what is queued); the settings
        now and whether they changed."""

    async def confirm_email(self, token_hash: bytes) -> tuple[str, int | None]:
        """Spend a confirmation token: ``("confirmed", user_id)`` (the token's address is
        now the user's, confirmed, in place of any other; also when it was already),
        ``("taken", user_id)`` (another account confirmed the address first), or
        ``("unknown" | "used" | "expired", None)``. Once only: two uses racing never both
        confirm."""

    async def store_email_token(self, user_id: int, purpose: str, token_hash: bytes, *,
                                expires_at: int, email: str | None = None) -> None:
        """Keep a token (its SHA-256) of ``purpose`` (``"confirm"``, ``"reset"``) until
        ``expires_at`` (ms)."""

    async def reset_target(self, target: str) -> ResetTarget | None:
        """The account a password reset for ``target`` (a user name or a confirmed address,
        any case) goes to: active, not a bot, with a confirmed address; else None."""

    async def reset_token_valid(self, token_hash: bytes) -> bool:
        """Whether a reset token would work now (known, unused, unexpired, its user
        active)."""

    async def reset_password(self, token_hash: bytes, password_hash: str) -> User | None:
        """Spend a reset token and set its user's password, in one transaction: every token
        issued before stops working (on every node, by the revocation's notice); the audit
        log says the user did it. None when the token does not work (nothing changed)."""

    async def any_email_targets(self) -> bool:
        """Whether anyone has missed-message emails on (a confirmed address)."""

    async def email_targets(self, entries: Sequence[tuple[str, int]]) -> list[EmailTarget]:
        """Who may get a missed-message email for each new message (room, seq): the other
        members of a conversation at a level that alerts, the members a message mentions
        (level not ``none``); never the sender; only users with the emails on. One
        statement."""

    async def queue_emails(self, targets: Sequence[EmailTarget], *,
                           batch_seconds: float) -> tuple[int, int | None]:
        """Queue missed messages (each once), making each user's batch due in
        ``batch_seconds`` if they have none: (how many were queued, when the earliest batch
        made is due in ms, or None)."""

    async def claim_email_batches(self, limit: int, lease: float) -> list[tuple[int, int]]:
        """Claim up to ``limit`` batches due (by the database's clock) for ``lease``
        seconds, skipping those another node holds: (user_id, attempts) of each."""

    async def next_email_due(self) -> float | None:
        """Seconds until the next batch is due or a claim's lease ends; None: none."""

    async def email_batch(self, user_id: int, attempts: int) -> EmailBatch | None:
        """What user ``user_id``'s missed-message email holds now (None: no such user)."""

    async def email_batch_done(self, user_id: int, queued: Sequence[tuple[int, int]], *,
                               batch_seconds: float) -> None:
        """Remove the rows ``queued`` (room id, seq) of the batch; it is done, or due again
        in ``batch_seconds`` when rows were queued meanwhile."""

    async def email_batch_failed(self, user_id: int, retry_seconds: float) -> None:
        """The batch's email was not sent: free it, due again in ``retry_seconds``, rows
        kept, one more attempt counted."""

    # -- limits every node shares (migration 0050) -------------------------------------------

    async def take_shared_token(self, bucket: str, key: str, *, rate: float,
                                burst: float) -> float:
        """Take a token from the bucket ``bucket`` of ``key`` (``burst`` tokens at most,
        refilled at ``rate`` per second; a new key's is full), kept in the database so that
        every node takes from the same one. Returns 0.0 when a token was taken, else the
        seconds until one is back (and nothing was taken)."""

    # -- invitations (migration 0044) --------------------------------------------------------

    async def create_invitation(self, token_hash: bytes, creator_id: int | None, *,
                                expires_at: int, max_uses: int, rooms: Sequence[str],
                                anywhere: bool) -> Invitation:
        """Keep an invitation found by ``token_hash`` (the SHA-256 of its token), made by
        ``creator_id`` (None: the command line), working until ``expires_at`` (ms) for
        ``max_uses`` registrations, whose new accounts join ``rooms`` (valid room names,
        each once). Each room must exist, be a room (not a conversation) and not be
        archived; unless ``anywhere`` (an administrator, the command line), the maker must
        be a member of it. The audit log records it (``create_invitation``: its id, uses,
        expiry and rooms) in the same transaction.

        Raises:
            ChatError: 'not_found' (no such room), 'bad_request' (a conversation),
                'archived', 'forbidden' (not a member); nothing is kept then.
        """

    async def invitations(self, creator_id: int | None, *, before: int | None = None,
                          limit: int) -> list[Invitation]:
        """A page of invitations, newest first (by id): those ``creator_id`` made, or
        everyone's (None); only those of ids below ``before`` (None: from the newest), at
        most ``limit``."""

    async def revoke_invitation(self, invitation_id: int, user_id: int | None, *,
                                anyone: bool) -> Invitation:
        """Revoke invitation ``invitation_id`` (revoking one twice is no error) and return it
        as it is now; ``user_id`` must have made it, unless ``anyone`` (an administrator,
        the command line: ``user_id`` None). The audit log records a revocation
        (``revoke_invitation`` by ``user_id``, its maker the target: its id and uses) in the
        same transaction; one twice, once.

        Raises:
            ChatError: 'not_found' (no such invitation, or not theirs).
        """

    async def invitation_by_hash(self, token_hash: bytes) -> Invitation | None:
        """The invitation of a token (by its SHA-256), whatever its state; None: none."""

    async def register_invited(self, name: str, password_hash: str, token_hash: bytes
                               ) -> InvitedUser:
        """Create account ``name`` (valid) with an invitation's use, atomically: a use is
        taken only while one is left (two registrations racing for the last use never both
        get it), and the account joins the invitation's rooms that are not archived, all in
        one transaction (a name taken gives the use back).

        Raises:
            ChatError: what :func:`invitation_refusal` says when the invitation is unknown,
                expired, used up or revoked; 'conflict' when the name is taken.
        """

    # -- room links (migration 0051) ----------------------------------------------------------

    async def create_room_link(self, token_hash: bytes, user_id: int, room: str, *,
                               expires_at: int, max_uses: int) -> RoomLink:
        """Keep a join link to ``room`` found by ``token_hash`` (the SHA-256 of its token),
        made by ``user_id``, working until ``expires_at`` (ms) for ``max_uses`` joins. Who
        may ``invite`` into the room may make one (its members). The room's audit log
        records it (``create_room_link``: its id, uses and expiry).

        Raises:
            ChatError: 'not_found' (no such room), 'forbidden' (not a member; a
                conversation), 'archived'.
        """

    async def room_links(self, user_id: int, room: str, *, before: int | None = None,
                         limit: int) -> tuple[list[RoomLink], bool]:
        """A page of ``room``'s links, newest first (by id), ids below ``before``, at most
        ``limit``: every one for those who moderate the room (its owner, moderators, server
        administrators), else those ``user_id`` made; and whether they moderate it.

        Raises:
            ChatError: 'not_found' (no such room).
        """

    async def revoke_room_link(self, link_id: int, user_id: int) -> RoomLink:
        """Revoke link ``link_id`` (twice is no error: audited once) and return it: its
        maker may, and those who moderate its room. The room's audit log records it
        (``revoke_room_link``, its maker the target: its id and uses).

        Raises:
            ChatError: 'not_found' (no such link, or not the user's to revoke).
        """

    async def look_at_room_link(self, token_hash: bytes, user_id: int) -> LinkedRoom | None:
        """The link of a token (by its SHA-256), whatever its state, with its room as
        ``user_id`` would enter it; None: no link has it."""

    async def join_with_link(self, token_hash: bytes, user_id: int
                             ) -> tuple[LinkedRoom, bool]:
        """Make ``user_id`` a member of the room of the link of ``token_hash`` and take one
        of its uses, atomically (two joins racing for its last use never both get it; a
        ban committed meanwhile is seen or removes the membership); the join is in the
        room's audit log (``join_link``, the link's maker the target). A member already
        enters with any link of the room, taking no use. Returns the link and its room as
        it is now, and whether the user is new to the room.

        Raises:
            ChatError: what :func:`room_link_refusal` says when the link is unknown,
                expired, used up or revoked; 'forbidden' (banned), 'archived', 'not_found'
                (the room is gone).
        """

    async def memberships_of(self, users: Sequence[str]) -> set[tuple[str, str]]:
        """The (room, user) pairs of every membership of ``users`` (names, as registered) now:
        what a node checks its room registry against after it may have lost notices."""

    async def tell_elsewhere(self, user: str, data: bytes) -> None:
        """Hand ``data`` (one frame, at most a few kilobytes; or several, one a line, as an
        outbox takes them) to ``user``'s connections on every other node (a
        :class:`UserEventNotice`; one NOTIFY, nothing stored): for the events of a user's
        own actions that only their other devices hear (a ``read``). Meant for a user known
        to be online on another node: the NOTIFY costs every node a wake-up. Several frames
        share a notice while they fit (a ``read_all``'s reads: a few notices in one trip,
        not one per room). A frame too large for a notice is not sent (logged). ``user``
        :data:`EVERYONE` is every connection of every other node (a custom emoji added or
        removed)."""

    async def tell_elsewhere_many(self, events: Sequence[tuple[str, bytes]]) -> None:
        """:meth:`tell_elsewhere` for several users at once, in one trip: each ``(user,
        data)`` as it says, the notices in the order given (a user's ``seen`` in each of
        their conversations: as few notices as the frames fit in, one statement). Nothing
        is sent for an empty ``events``."""

    async def set_notify(self, user_id: int, room: str, notify: str) -> str:
        """Set the user's notification level for ``room`` (one of
        :data:`chatd.protocol.NOTIFY_LEVELS`) and return it. Every node is told (a
        :class:`NotifyNotice`) when it changed. Raises ChatError('not_found') for an unknown
        room, ChatError('forbidden') for a non-member."""

    async def set_dnd(self, user_id: int, until: int | None) -> None:
        """Pause the user's notifications until ``until`` (ms since the epoch), or resume
        them (None). Every node is told (a :class:`DndNotice`) when it changed."""

    async def set_profile(self, user_id: int, *, display_name: str | None = None,
                          custom_status: CustomStatus | None = None) -> tuple[Profile, bool]:
        """Change the user's profile (already validated): ``display_name`` None keeps it, ''
        removes it; ``custom_status`` None keeps it, :data:`NO_CUSTOM_STATUS` clears it
        (``until`` in ms, or None). Returns the profile as stored and whether what others
        see of it changed (a status past its time counts as none: a write clears it). Every
        other node is told (a :class:`ProfileNotice`) when a stored value changed."""

    async def set_avatar(self, user_id: int, avatar: tuple[str, int] | None
                         ) -> tuple[Profile, bool]:
        """Change the user's picture to the bytes ``avatar`` (SHA-256, size), already placed
        in the file store, or remove it (None). The picture is recorded as a file of no room
        (not counted in a quota, never expiring); the previous one's row is marked deleted,
        so that the collector (:func:`chatd.files.collect`) takes its bytes once nothing
        else refers to them. Returns the profile as stored and whether the picture changed;
        every other node is told (a :class:`ProfileNotice`) when it did."""

    async def avatar_exists(self, sha256: str) -> bool:
        """Whether some user's picture is the bytes ``sha256`` (a kept avatar file)."""

    async def add_custom_emoji(self, name: str, user_id: int, sha256: str, size: int
                               ) -> CustomEmoji:
        """Add the custom emoji ``name`` (already checked against
        :data:`chatd.protocol.CUSTOM_EMOJI_NAME`) with the picture ``sha256`` of ``size``
        bytes, already placed in the file store, added by ``user_id``; kept as a file of no
        room, as a profile picture is. Raises ChatError('conflict') when the name is
        taken (nothing is stored then)."""

    async def remove_custom_emoji(self, name: str, user_id: int, *, admin: bool
                                  ) -> CustomEmoji:
        """Remove the custom emoji ``name``, as ``user_id`` (its creator, or anyone when
        ``admin``); its picture's row is marked deleted for the collector. Reactions that
        use it stay. Returns what was removed. Raises ChatError('not_found') for no such
        emoji, ChatError('forbidden') for another user's without ``admin``."""

    async def custom_emoji(self) -> list[CustomEmoji]:
        """Every custom emoji, by name."""

    async def custom_emoji_exists(self, name: str) -> bool:
        """Whether ``name`` is a custom emoji now (one index probe)."""

    async def emoji_image_exists(self, sha256: str) -> bool:
        """Whether some custom emoji's picture is the bytes ``sha256`` (a kept emoji file)."""

    async def profiles(self, names: Sequence[str]) -> list[Profile]:
        """The profiles of the users named (any case), in the order of ``names``, each once;
        names of nobody are left out. One statement, one index probe per name."""

    async def add_push_subscription(self, user_id: int, subscription: PushSubscription, *,
                                    keep: int) -> None:
        """Store a subscription of the user (already validated), replacing the one with the
        same endpoint, whoever had it; then keep only the user's ``keep`` newest ones."""

    async def remove_push_subscription(self, user_id: int, endpoint: str) -> bool:
        """Remove the user's subscription with this endpoint; False when they had none."""

    async def forget_push_subscription(self, endpoint: str) -> bool:
        """Remove the subscription with this endpoint, whoever has it (its push service said
        it is gone); False when there was none."""

    async def any_targets(self, table: str) -> bool:
        """Whether ``table`` (``room_webhooks`` or ``push_subscriptions``) has any row: if
        not, there is nothing to look up for a commit (see :class:`TargetsNotice`)."""

    async def push_targets(self, entries: Sequence[tuple[str, int]]) -> list[PushTarget]:
        """Who should get a push for each new message (``(room, seq)`` of messages just
        committed), with each of their subscriptions: in a 1:1 conversation the other member
        unless their level is ``none``; in a room the members it mentions unless ``none``,
        and every member whose level is ``all``; never its sender. A member may appear once
        per reason (the caller keeps one). Whether they are online, and whether their pause
        (``paused_until``) is in force, is the caller's to know.

        With them, once per room of a room or group conversation among the entries, each of
        its members who has notification keywords (migration 0047) and whose level for it
        is not ``none``: a ``"keyword"`` candidate with seq 0 and their ``keywords``, the
        sender too (which messages they match is the caller's to find:
        :func:`chatd.keywords.keyword_targets`). None when nobody has keywords."""

    async def create_room(self, owner_id: int, name: str, *, private: bool, topic: str) -> Room:
        """Create a room with its owner as first member. Raises ChatError('conflict')."""

    async def join_room(self, user_id: int, name: str, *, create: bool = True) -> Joined:
        """Make the user a member, creating a public room if none has that name (unless
        ``create`` is false: then ChatError('not_found') when there is none).
        Raises ChatError('forbidden') for a private room or a conversation the user is not a
        member of, and for a room the user is banned from (a join racing a ban either
        commits first, and the ban removes them, or finds the ban); a conversation is never
        created here (ChatError('not_found') when it does
        not exist yet: conversations start with :meth:`direct_room`)."""

    async def leave_room(self, user_id: int, name: str) -> bool:
        """End the membership; False when the user was not a member.
        Raises ChatError('not_found') when there is no such room, ChatError('bad_request')
        for a conversation (one cannot leave a 1:1 conversation)."""

    async def direct_room(self, user_id: int, peer: str | Sequence[str]) -> Conversation:
        """The conversation of the user and ``peer`` (a user name, any case) or of the user
        and every name of ``peer`` (a sequence, any case, repeats and the user's own name
        folded away): notes to self for the user alone, the 1:1 conversation (kind ``dm``)
        for two people, the group conversation (kind ``group``, named by
        :func:`chatd.protocol.names.group_room_name`) for three to ``GROUP_MAX``. Created
        on first use with all of them as members, in one statement: two first messages at
        once give one room.
        Raises ChatError('not_found') naming the first name that is nobody,
        ChatError('bad_request') past ``GROUP_MAX`` people in all."""

    async def member_page(self, user_id: int, room: str, *, after: str = "",
                          limit: int | None = None) -> MemberPage:
        """A page of a room's members with their roles, sorted by name case-insensitively:
        those whose name comes after ``after`` ignoring case ('' from the first), at most
        ``limit`` (None: all), with the number of members in all. A page ends at ``limit``:
        ask one more to learn whether another page follows; the next starts after the last
        name. Public rooms are open to every user not banned from them; private rooms and
        conversations only to members (ChatError('forbidden')); administrators to any room
        but a conversation. ChatError('not_found') for an unknown room."""

    async def invite(self, user_id: int, room: str, invitee: str) -> tuple[str, bool]:
        """Make ``invitee`` (any case) a member of ``room``; any member may invite. Returns the
        invitee's registered name and whether they are new to the room.
        Raises ChatError: 'not_found' (room or user), 'forbidden' (the inviter is not a
        member, the room is a conversation, or the invitee is banned from it)."""

    async def mark_read(self, user_id: int, room: str, seq: int) -> ReadMove:
        """Move the user's read marker forward to ``seq`` (never back, never past the room's
        last seq) and return where it now is, whether it moved and, when it moved in a
        conversation and the user shares their read receipts, the other members to tell (one
        statement: a room's read reads no more than it did). ChatError('forbidden') for a
        non-member, ChatError('not_found') for an unknown room."""

    async def mark_all_read(self, user_id: int, rooms: Sequence[str] | None = None
                            ) -> list[MarkedRead]:
        """Move the user's read marker of every room and conversation they are in (only
        those named in ``rooms``, when given: normalised names; others are ignored) that has
        something past it to the room's last seq, in one statement. Returns the rooms whose
        marker moved, each with where it now is, by name, and for a conversation the other
        members to tell (``seen``, as :meth:`mark_read` says them). A room read to its end,
        a name that is no room of the user's: left out, nothing stored. Followed threads'
        markers are not touched."""

    async def mark_unread(self, user_id: int, room: str, seq: int) -> ReadMarker:
        """Mark ``room`` unread from ``seq`` on: move the user's read marker back to
        ``seq - 1`` (never forward: from a marker already before it nothing moves; 0 at
        least, so ``seq`` 0 and 1 both make the whole room unread). Returns the marker with
        the room's counts from it, read in the same statement. The mentions are rows kept
        for every mention whatever the marker (migration 0006), counted past the marker, so
        moving it back brings them back. ``tell``: as :meth:`mark_read`'s, when it moved
        back. ChatError('forbidden') for a non-member, ChatError('not_found') for an unknown
        room."""

    async def receipts(self, user_id: int, room: str, msg_id: int, *, after: str = "",
                       limit: int) -> Receipts:
        """Who has read message ``msg_id`` of ``room``, as user ``user_id`` may see it: the
        count of the members whose read marker is at or past its seq, but its author,
        ``user_id`` and the users who do not share their read receipts; and the first
        ``limit`` of their names whose lower case comes after ``after`` (lower case), in
        code point order of the lower case. One statement, its cost the room's members in
        the database (no work per member here). ChatError('forbidden') for a room the user
        may not read (as :meth:`history`), 'not_found' for an unknown room or no such
        message in it."""

    async def read_positions(self, user_id: int, room: str) -> list[ReadPosition]:
        """Where the read marker of each other member of conversation ``room`` who shares
        their read receipts is, by name (ignoring case). ChatError('bad_request') for a
        room (kind ``room``), 'forbidden' for a non-member, 'not_found' for an unknown
        room."""

    async def set_read_receipts(self, user_id: int, on: bool) -> list[MarkedRead] | None:
        """Share (``on``) the user's read receipts, or stop. None when it did not change
        (setting what is set writes nothing); else, read in the same statement, each
        conversation (kind ``dm`` or ``group``) the user is in with their read marker
        (``seq``) and its other members (``tell``: to be told, the ``seen`` event, that
        the position is shared again, or no longer), by name."""

    async def shares_read_receipts(self, user_id: int) -> bool:
        """Whether the user shares their read receipts now (as last committed; False for
        no such user)."""

    async def keywords(self, user_id: int) -> tuple[str, ...]:
        """The user's notification keywords as stored, in their order (migration 0047)."""

    async def set_keywords(self, user_id: int, keywords: Sequence[str]) -> bool:
        """Store the user's notification keywords (already cleaned:
        :func:`chatd.protocol.keywords.clean_keywords`; none clears them); whether they
        changed (storing what is stored writes nothing)."""

    async def hide(self, user_id: int, room: str, on: bool) -> int | None:
        """Close (``on``) a conversation the user is in: its ``hidden_seq`` becomes the room's
        last seq now (a later close moves it); or show it (``hidden_seq`` cleared). Returns
        the new ``hidden_seq`` (None: shown). ChatError('bad_request') for a room (kind
        ``room``), 'forbidden' for a non-member, 'not_found' for an unknown room."""

    async def favourite(self, user_id: int, room: str, on: bool) -> FavouriteMark:
        """Mark (``on``) a room or conversation the user is in as a favourite (its
        ``favourite_at`` becomes now, unless it is one already: then it keeps its time), or
        unmark it (cleared). Any kind, archived too. ChatError('forbidden') for a non-member,
        'not_found' for an unknown room; nothing is stored then."""

    async def drafts(self, user_id: int) -> list[StoredDraft]:
        """The user's drafts (migration 0049), the latest stored first."""

    async def set_draft(self, user_id: int, room: str, thread: int | None, text: str, *,
                        most: int) -> StoredDraft | None:
        """Store the user's draft of ``room`` (of its thread ``thread``, or of the room
        itself: None) as ``text``, or delete it when ``text`` is empty; the draft as stored,
        or when deleted a draft with an empty text and the time of the deletion; None when
        nothing changed (the same text stored again, or no draft to delete). Storing a
        draft the user does not have yet is refused with ChatError('too_many_drafts') when
        they have ``most`` already (counted under the lock of their row, so that two
        devices at once cannot both pass it), 'forbidden' for a room they are not a member
        of, 'not_found' for an unknown room; a deletion is never refused."""

    async def draft_keys(self, users: Sequence[str]) -> dict[str, set[tuple[str, int]]]:
        """The rooms and threads (0: the room itself) each of ``users`` (names as stored,
        compared ignoring case) has a draft of, by the user's name in lower case; a user
        without drafts, or unknown, maps to an empty set."""

    async def clear_sent_drafts(self, sent: Sequence[tuple[str, str, int, int]]
                                ) -> list[tuple[str, StoredDraft]]:
        """Delete the drafts their users' messages were sent from: each of ``sent`` is
        ``(user, room, thread, ts)`` (a name as stored, thread 0 for the room itself, the
        message's ts in ms), and deletes that user's draft of that room and thread if it was
        stored no later than the message (a draft stored since, from another device, is
        another message in the making). Returns each deletion as ``(user, draft)``: the
        user's name as stored, the draft with an empty text and ``updated_at`` the
        message's ts. One statement for all of them."""

    async def sections(self, user_id: int) -> SectionList:
        """The user's own sidebar sections, in their order (migration 0041)."""

    async def create_section(self, user_id: int, name: str, position: int | None, *,
                             most: int) -> SectionsChange:
        """A new section of the user's (``name`` already trimmed and checked) at
        ``position`` (:func:`chatd.sections.create`), under the lock of the user's row:
        ChatError('too_many_sections') past ``most``, 'conflict' for a name they have in any
        case; nothing is stored then."""

    async def edit_section(self, user_id: int, section: int, *, name: str | None = None,
                           collapsed: bool | None = None,
                           position: int | None = None) -> SectionsChange:
        """Change what is given of the user's ``section`` (:func:`chatd.sections.edit`);
        ``changed`` is false when that was so already (nothing is written then).
        ChatError('not_found') when no section of theirs has that id (another user's is
        none either), 'conflict' for a name another of theirs has."""

    async def delete_section(self, user_id: int, section: int) -> SectionsChange:
        """Delete the user's ``section`` and, in the same transaction, put its rooms back in
        the default lists (their memberships' ``section`` cleared). ChatError('not_found')
        as :meth:`edit_section`."""

    async def set_section(self, user_id: int, room: str, section: int | None) -> bool:
        """Put a room or conversation the user is in into their ``section`` (None: the
        default lists); whether that moved it. Checked against their list under its lock, so
        a deletion of the section at once either comes first (then 'not_found') or clears
        it after. ChatError('forbidden') for a non-member, 'not_found' for an unknown room
        or a section not theirs; nothing is stored then."""

    async def rooms_overview(self, user_id: int, *, query: str = "", after: str = "",
                             limit: int | None = None, joined: bool = False) -> list[Room]:
        """The public rooms and the rooms and conversations the user is in (only the latter
        when ``joined``), by name (code point order), with ``member``, ``read_seq``,
        ``unread`` and (for conversations) ``peer`` filled: those whose name holds ``query``
        (lower case; '' for all), after the name ``after`` ('' from the first), at most
        ``limit`` (None: all). A page ends at ``limit``: ask one more to learn whether
        another page follows; the next starts after the last name."""

    async def contacts(self, user_id: int) -> list[str]:
        """The registered names of the user's contacts, sorted case-insensitively."""

    async def contact_page(self, user_id: int, *, after: str = "", limit: int) -> list[str]:
        """The registered names of the user's contacts whose lower-case name comes after
        ``after``'s (any case; '' from the first), at most ``limit``, in the order of
        :meth:`contacts`. The page costs its size, not the contacts' number. Ask one more
        to learn whether another page follows."""

    async def contact_profiles(self, user_id: int, *, after: str = "", limit: int
                               ) -> list[Profile]:
        """The page :meth:`contact_page` gives, as the contacts' profiles (one more probe
        of a row per contact of the page)."""

    async def room_and_contact_names(self, user_id: int) -> tuple[frozenset[str], list[str]]:
        """The names of the user's rooms and conversations, and their contacts' as
        :meth:`contacts` gives them, in one read: what a ``hello`` subscribes to and shows
        before it reads the rooms in full (:meth:`user_rooms`), which it then does once."""

    async def add_contact(self, user_id: int, name: str) -> str:
        """Add a contact (any case; idempotent) and return their registered name.
        Raises ChatError('not_found') for no such user, ChatError('bad_request') for oneself."""

    async def add_contact_profile(self, user_id: int, name: str) -> Profile:
        """:meth:`add_contact`, returning the contact's profile (read in the same
        statement).
        Raises ChatError('not_found') for no such user, ChatError('bad_request') for oneself."""

    async def remove_contact(self, user_id: int, name: str) -> str | None:
        """Remove a contact (any case); their registered name, or None when they were not
        one."""

    async def append_messages(self, batch: Sequence[NewEntry]) -> list[Appended | ChatError]:
        """Store a batch of messages and changes (group commit), one result per input in
        order. Each room's seqs are assigned in batch order, the batch's messages before its
        changes, and strictly increase across commits; a nonce the user already used stores
        nothing and returns the first message (``duplicate=True``), also when both are in this
        batch. A sender who is not a member of the room gets ChatError('forbidden'); an unknown
        room, or a ``reply_to`` that is no message of the room, ChatError('not_found'); a
        file that is not the sender's upload to that room, ChatError('not_found'), one already
        attached (also by an earlier message of this batch), ChatError('bad_request'). The
        files are attached in the transaction that stores the message. A forward's files
        (``forwarded``: its own copies, :meth:`copy_files`) are deleted when it is refused or
        repeats a stored one: nothing else would attach them.

        Changes are checked against the message as it is when their room is locked, so
        concurrent changes from any node apply in seq order: an edit by its author only
        ('forbidden'), not of a deleted message ('not_found'); a deletion by the author or
        whoever moderates the room; a reaction by a member, at most :data:`MAX_REACTIONS`
        different emoji a message ('conflict'); a topic, and the moderation kinds, by whoever
        moderates the room (its owner, its moderators, administrators; never in a
        conversation), with the rules of chatd.storage.changes. A moderation change is
        recorded in the audit log in its transaction, as is a deletion of someone else's
        message and a topic. A change that changes nothing stores nothing
        (``duplicate=True``). Deleting a message empties its text and that of its edits, and
        drops its reactions and mentions, and its files (no longer served nor counted
        against the quota).
        Raises StorageUnavailable when nothing was committed, or when whether the messages
        were is unknown (the connection was lost before the reply):
        :meth:`messages_by_nonce` tells once the database answers."""

    async def history(
        self,
        user_id: int,
        room: str,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int,
    ) -> Page:
        """Messages of a room, oldest first: those with seq < ``before``, or > ``after``, or
        the latest, at most ``limit`` (the ones nearest to ``before``/the end, or nearest to
        ``after``). With both, those between the two, nearest to ``after``. Public rooms are
        readable by every user not banned from them, private ones by members only
        (ChatError('forbidden'));
        ChatError('not_found') for an unknown room."""

    async def save(self, user_id: int, room: str, msg_id: int, *, on: bool,
                   remind_at: int | None, limit: int,
                   set_by: int | None = None) -> tuple[SavedItem, bool]:
        """Save (``on``) message ``msg_id`` of ``room`` for the user, with a reminder at
        ``remind_at`` (ms; None: none, and a reminder set is cleared; a new one clears
        ``reminded``), or remove it from their saved messages. Returns the item as it is
        now (the one removed, for ``on`` false; its ``message`` is not read) and whether it
        changed. A user's saves are serialised (a lock on their row, taken with no key:
        their messages' foreign keys do not wait for it).

        Raises:
            ChatError('not_found'): no such room, no such message in it, or (saving) a
                deleted message.
            ChatError('forbidden'): saving a message of a room the user may not read.
            ChatError('too_many_saved'): saving a new item while the user holds ``limit``.

        ``set_by``: the user who set the reminder of a new item for this one (``remind``
        with ``user``); an item saved already keeps whoever set it.
        """

    async def reminder_target(self, user_id: int, name: str) -> tuple[int, str]:
        """The id and registered name of the user named ``name`` (any case), whom
        ``user_id`` may set a reminder for: they share a room or a conversation, and the
        user takes reminders from others (:meth:`allow_reminders`).

        Raises:
            ChatError('not_found'): no such user, or a deactivated one.
            ChatError('forbidden'): no room shared; reminders from others turned off.
        """

    async def reminders_set(self, user_id: int, *, before: int | None = None,
                            limit: int) -> tuple[list[SavedItem], bool]:
        """A page of the reminders ``user_id`` set for others, as those users' saved items
        (with ``user``, whom each is for), newest set first: those of messages below
        ``before`` (a ``msg_id``), at most ``limit``, reminded or not; and whether more
        follow. An item its user removed is gone from the list."""

    async def cancel_reminder(self, user_id: int, name: str, msg_id: int) -> SavedItem:
        """Remove the reminder ``user_id`` set for user ``name`` (any case) of message
        ``msg_id`` from that user's saved items, while it has not fired (a claim not yet
        marked then tells nothing). Returns the item removed (with ``user``).

        Raises:
            ChatError('not_found'): no such reminder waiting (reminded, removed, not theirs).
        """

    async def allow_reminders(self, user_id: int, on: bool | None) -> bool:
        """Whether others may set reminders for the user, set to ``on`` first (None: only
        read)."""

    async def saved_items(self, user_id: int, *, before: int | None = None,
                          limit: int) -> tuple[list[SavedItem], bool]:
        """The user's saved messages, newest saved first: those saved before ``before`` (a
        ``ts`` cursor), at most ``limit``, each with its message as it is now; and whether
        more follow. Items of rooms the user may no longer read are left out."""

    async def claim_reminders(self, limit: int, lease: float) -> list[Reminder]:
        """Claim up to ``limit`` reminders due now by the database's clock for ``lease``
        seconds, in one statement that skips rows another node is claiming: until the lease
        ends nobody else takes them. This node marks each reminded (:meth:`reminded`), and
        only when that says this claim did, tells its own connections and pushes; one whose
        node died before the mark is claimed again by the next node that looks after the
        lease."""

    async def reminded(self, reminder: Reminder) -> bool:
        """Mark a reminder claimed here as told (``reminded``), only while this claim holds:
        not when it changed since the claim (a new ``remind_at``), nor when the lease ran
        out and another node claimed it since (that node tells it). Whether this claim
        marked it: only then does the claiming node tell it (so a reminder is told by one
        node, however slow the other). The other nodes are told of it on commit (a
        :class:`ReminderNotice`) when its room is readable."""

    async def next_reminder(self) -> float | None:
        """Seconds until the next reminder still to send is due (or its claim's lease
        ends), by the database's clock (0 or less: due now); None when there is none."""

    async def badges(self, user_id: int) -> Badges:
        """The user's counts as a hello reads them (``GET /api/me``)."""

    async def schedule(self, user_id: int, room: str, *, text: str, files: Sequence[int],
                       thread: int | None, broadcast: bool, reply_to: int | None,
                       send_at: int, limit: int) -> ScheduledItem:
        """Schedule a message of the user to ``room`` at ``send_at`` (ms), reserving its
        ``files`` (the user's unattached uploads to the room, held by no other item). A
        user's schedules are serialised (a lock on their row, as saves).

        Raises:
            ChatError('not_found'): no such room, or a file that is not one of the user's
                unattached uploads to it (or is reserved already).
            ChatError('forbidden'): the user is not a member of the room.
            ChatError('archived'): the room is archived.
            ChatError('too_many_scheduled'): the user holds ``limit`` items already.
        """

    async def scheduled_items(self, user_id: int) -> list[ScheduledItem]:
        """Every item of the user (pending or failed), by ``send_at``, then id."""

    async def edit_scheduled(self, user_id: int, item_id: int, *, text: str | None,
                             files: Sequence[int] | None, send_at: int | None
                             ) -> ScheduledItem:
        """Change what is given of the user's item ``item_id``: ``send_at`` 0 is now (by
        the database's clock), and a failed item given a ``send_at`` is pending again;
        ``files`` replaces the reserved files (those left out are released).

        Raises:
            ChatError('not_found'): not an item of the user, or being sent now (claimed
                for a lease that holds, or its send begun: :meth:`scheduled_sending`,
                whatever the lease), or a file as :meth:`schedule` says.
            ChatError('bad_request'): the change leaves the item with neither text nor file.
        """

    async def cancel_scheduled(self, user_id: int, item_id: int) -> ScheduledItem:
        """Remove the user's item ``item_id`` (not being sent) and release its files
        (expired at once, as an unattached upload past its time). Returns it as it was.

        Raises:
            ChatError('not_found'): as :meth:`edit_scheduled`.
        """

    async def claim_scheduled(self, limit: int, lease: float) -> list[ScheduledWork]:
        """Claim up to ``limit`` pending items due now by the database's clock, for
        ``lease`` seconds (FOR UPDATE SKIP LOCKED, as reminders): until then nobody else
        takes them nor edits them. The claimer begins each send with
        :meth:`scheduled_sending` and then calls :meth:`scheduled_sent` or
        :meth:`scheduled_failed`."""

    async def next_scheduled(self) -> float | None:
        """Seconds until the next pending item is due (or its claim's lease ends), by the
        database's clock (0 or less: due now); None when there is none."""

    async def scheduled_sending(self, work: ScheduledWork) -> bool:
        """Begin the send of claimed item ``work``, only while its claim holds (not
        cancelled, edited nor claimed by another node since): whether it did; only then is
        the message handed to the committer. From then on the item is being sent whatever
        the lease (a cancel or an edit is refused, a claim after the lease sends it again:
        the nonce keeps it stored once), until :meth:`scheduled_sent` or
        :meth:`scheduled_failed`."""

    async def scheduled_sent(self, item_id: int) -> None:
        """Forget item ``item_id``: its message is stored."""

    async def scheduled_failed(self, item_id: int, code: str, message: str
                               ) -> ScheduledItem | None:
        """Mark claimed item ``item_id`` failed with its send's refusal (and its send not
        begun: it may be cancelled): the item as it is now, or None if it is gone."""

    async def reminded_message(self, user: str, msg_id: int) -> Message | None:
        """Saved message ``msg_id`` of ``user`` (a name) as it is now, if they saved it and
        may still read its room (what a node does with a :class:`ReminderNotice`)."""

    async def pins(self, user_id: int, room: str, *, before: int | None = None,
                   limit: int) -> Page:
        """The messages of a room pinned now, as message objects (kind ``"message"``, each
        with its ``pinned_*``), the most recently pinned first (by ``pinned_seq``): those
        pinned by an entry with seq < ``before``, at most ``limit``; ``more``: others were
        pinned before the last one; ``last_seq``: the room's, in the same snapshot. Members
        only: ChatError('forbidden') for anyone else (a public room's readers included, as
        a user banned from it), ChatError('not_found') for an unknown room."""

    async def thread(self, user_id: int, room: str, msg_id: int, *, before: int | None = None,
                     limit: int) -> ThreadPage:
        """The thread of message ``msg_id`` of ``room`` (its root, or one of its replies): its
        root and its replies with seq < ``before``, the newest ``limit`` of them, oldest
        first. Members only: ChatError('forbidden') for anyone else; ChatError('not_found')
        for an unknown room or a message that is not the room's."""

    async def edit_history(self, user_id: int, room: str, msg_id: int, *,
                           limit: int = EDIT_VERSIONS_MAX,
                           moderated: bool = False) -> EditHistory:
        """The versions of message ``msg_id`` of ``room`` (:class:`EditHistory`), for whoever
        may read the room (as :meth:`history` decides): ChatError('forbidden') for anyone
        else; ChatError('not_found') for an unknown room, a message that is not the room's,
        or a deleted message (its history went with its words). A message never edited has
        one version. At most ``limit`` (>= 2) versions: the first and the newest others.
        ``moderated`` (``[messages] edit_history`` "moderators"): only for the message's
        author and the room's owner and moderators, ChatError('forbidden') for other readers
        (the caller passes False for an administrator)."""

    async def follow_thread(self, user_id: int, room: str, msg_id: int, *,
                            on: bool) -> tuple[ThreadState, bool]:
        """Follow (``on``) or unfollow the thread of message ``msg_id`` of ``room`` (its root,
        or a reply: its root is meant), for a member of the room; unfollowing stops the
        automatic follows (being named, the root's authorship) until they follow or reply
        again. Under the room's lock, so that a reply committing at once reads them as a
        follower or not, exactly. Returns their state and whether ``following`` changed.

        Raises:
            ChatError('not_found'): no such room, or no such message in it.
            ChatError('forbidden'): the user is not a member of the room.
        """

    async def read_thread(self, user_id: int, room: str, msg_id: int,
                          seq: int) -> tuple[ThreadState, bool]:
        """Move the user's read_seq of the thread of message ``msg_id`` of ``room`` forward to
        ``seq`` (at most the room's last seq), for any member, following the thread or not.
        Returns their state and whether read_seq moved.

        Raises:
            ChatError('not_found'), ChatError('forbidden'): as :meth:`follow_thread`.
        """

    async def threads(self, user_id: int, *, before: tuple[int, int] | None = None,
                      limit: int) -> tuple[list[FollowedThread], bool]:
        """The threads the user follows in rooms they are a member of, latest reply first:
        those before the cursor ``before`` ((last_ts, root msg_id) of the last one of the
        page before), at most ``limit``; and whether more follow."""

    async def resume_pages(self, user_id: int, seen: Mapping[str, int], *,
                           limit: int) -> dict[str, Page | ChatError]:
        """A resume's read: for each room of ``seen`` (room name to the last seq its client
        saw), what ``history(user_id, room, after=seen[room], limit=limit)`` gives, read at
        once (one statement, one snapshot): its entries after that seq, oldest first, each
        exactly as history shows it, ``more`` and ``last_seq``; or the ChatError history
        would raise (``not_found``, ``forbidden``), as the room's value rather than raised.
        A room with more than ``limit`` entries after the seq seen is a page with ``more``
        and no messages (its client gets a ``gap`` and pages them itself): those are not
        read. What it reads is then at most ``limit`` entries a room, all of which a resume
        sends."""

    async def search(self, user_id: int, query: SearchQuery, *, rooms: Sequence[str] = (),
                     before: int | None = None, limit: int) -> SearchPage:
        """Messages that match ``query`` (its words, phrases, exclusions, senders and days:
        :mod:`chatd.search`; its ``rooms`` and ``peers`` are the caller's to resolve into
        ``rooms``), newest first, those with msg_id < ``before``, at most ``limit``.

        Searched are ``rooms`` (normalised names) when given, else every room and
        conversation the user is a member of. A named room must exist
        (ChatError('not_found')) and be readable as for :meth:`history`: a public room by
        anyone, a private one or a conversation by its members (ChatError('forbidden')). A
        sender must exist (ChatError('not_found')). Deleted messages are never found, nor
        words that an edit removed. ChatError('bad_request') when the query's words hold
        nothing to search for (punctuation alone) and it has no filter either.

        A message is found by its words only once it is indexed (:meth:`index_words`, run
        by the daemon's indexer a moment after the commit; an edited message again after
        the edit): before that, filters alone find it, words never."""

    async def index_words(self, *, ids: Sequence[int] | None = None, limit: int = 0,
                          merge: bool = False) -> int:
        """Index the words of messages not indexed yet (stored, or edited, since) and
        return how many were: those of ``ids`` (msg_ids, as committed); or, without
        ``ids``, a sweep: up to ``limit`` of any, newest first (fewer than ``limit`` then
        means no other was left, but those another caller was indexing at that moment).
        Safe from several nodes at once: no message is indexed twice, no caller waits for
        another. ``merge``: then fold what was indexed into the search index proper (see
        the implementation), which every so many messages keeps searches and batches
        quick."""

    async def index_backlog(self, limit: int) -> int:
        """How many messages are waiting to be indexed, counted up to ``limit``."""

    async def upload_allowance(self, user_id: int, room: str, quota_bytes: int) -> int:
        """How many more bytes of files the user may store (``quota_bytes`` less what their
        kept files hold; may be 0 or less), checking that they may upload to ``room``: its
        members only. Raises ChatError('not_found') for an unknown room,
        ChatError('forbidden') for a non-member, ChatError('archived') while the room is
        archived."""

    async def add_file(self, user_id: int, room: str, *, sha256: str, size: int, name: str,
                       content_type: str, quota_bytes: int,
                       image: ImageFacts | None = None) -> StoredFile:
        """Record a file whose bytes are stored (under ``sha256``), uploaded by the user to
        ``room``; not attached to any message yet. ``name`` and ``content_type`` are already
        sanitised; ``image``, for an image, its size and its thumbnail's (whose bytes are
        stored too, and do not count against the quota). Concurrent uploads of one user are
        serialised, so that together they cannot pass ``quota_bytes``. Raises
        ChatError('too_large') past the quota, and as :meth:`upload_allowance` does."""

    async def forward_source(self, user_id: int, room: str, msg_id: int
                             ) -> tuple[Message, bool]:
        """Message ``msg_id`` of ``room`` as it is now (deleted or not), for the user to
        forward, and whether ``room`` is a public room. Raises ChatError('not_found') when
        there is no such room or message, or the user may not read the room (as
        :meth:`history` decides: a private room or a conversation they are not in, a room
        they are banned from): a stranger cannot tell which."""

    async def copy_files(self, user_id: int, room: str, file_ids: Sequence[int],
                         quota_bytes: int) -> list[int]:
        """New files of the user in ``room``, not attached yet, with the same bytes, names,
        types and thumbnails as the files ``file_ids`` (those not deleted; their ids in
        order): what a forward attaches. They count against ``quota_bytes`` as uploads do
        (all or none). Raises ChatError('quota_exceeded') past the quota (not
        'too_large', which closes a socket), and as
        :meth:`upload_allowance` does for the room."""

    async def get_file(self, user_id: int, file_id: int) -> StoredFile | None:
        """The file, if the user may read its room (as :meth:`history`: public rooms are
        open to every user, private ones to their members) and it is attached to a message
        that is not deleted (a file not attached yet: to its uploader only); else None, so
        that a stranger cannot tell a file that exists from one that does not."""

    async def readable_files(self, user_id: int, file_ids: Sequence[int]) -> list[StoredFile]:
        """Those of the files that the user may read, as :meth:`get_file` decides, by id;
        unknown ids (any int) are left out like unreadable ones."""

    async def kept_file(self, file_id: int) -> StoredFile | None:
        """The file, whoever may read it, unless its message was deleted (or there is no
        such file, any int): for a link that proves the right to read it."""
    async def expire_uploads(self, older_than: float, *, uploader_id: int | None = None,
                             limit: int = 10000) -> int:
        """Expire the files that were uploaded more than ``older_than`` seconds ago and that
        no message attached (those of ``uploader_id`` only, when given; at most ``limit``):
        from then on they are treated as deleted files (not served, not counted against the
        quota, not attachable, their bytes collected). An attach racing with the expiry
        either wins (the file is kept) or finds the file gone (``not_found``). Returns how
        many were expired."""

    async def file_bytes_in_use(self, sha256: str) -> bool:
        """Whether a kept file still refers to the bytes stored under ``sha256``, as its
        content or as its thumbnail."""

    async def dead_file_bytes(self, limit: int) -> list[str]:
        """Up to ``limit`` SHA-256s of bytes that only files of deleted messages refer to
        (as their content or their thumbnail), thumbnails first."""

    async def forget_dead_files(self, sha256: str) -> None:
        """Forget these bytes in the rows of deleted files, unless a kept file refers to
        them again (their bytes are gone from disk): a thumbnail is set to none, and a row
        whose content these are, and that has no thumbnail left, is removed."""

    # -- exports of a user's data (migration 0052, chatd/export.py) ----------------------------

    async def start_export(self, user_id: int, *, per_hour: int, lease: float) -> ExportState:
        """Start an export of the user's data: a row ``running`` with a lease of ``lease``
        seconds, and the audit log's ``export`` entry, in one transaction. A running export
        whose lease ran out is marked failed first.

        Raises:
            ChatError('conflict'): one of the user's exports is running.
            ChatError('rate_limited'): the user started ``per_hour`` in the last hour (with
                ``retry_after``, the seconds until the oldest of them leaves the hour).
        """

    async def export_state(self, user_id: int, *, ready: bool = False) -> ExportState | None:
        """The user's latest export (None: they have made none that is still kept); with
        ``ready``, the latest that is ready to download and not expired, though a newer one
        may run or have failed since."""

    async def renew_export(self, export_id: int, *, lease: float, messages: int,
                           files: int) -> bool:
        """Renew a running export's lease for ``lease`` seconds from now, with its progress;
        False when it no longer runs (failed meanwhile, or the user is gone)."""

    async def finish_export(self, export_id: int, *, sha256: str, size: int, messages: int,
                            files: int, keep: float) -> ExportState | None:
        """Mark a running export ready: its archive is ``sha256`` in the file store, kept for
        ``keep`` seconds. None when it no longer runs (the caller removes the archive)."""

    async def fail_export(self, export_id: int, error: str) -> None:
        """Mark a running export failed, ``error`` saying why (in words, for the user)."""

    async def expire_exports(self, *, limit: int, forget_after: float) -> list[str]:
        """Mark at most ``limit`` ready exports past their expiry expired, and return their
        archives' SHA-256 (for the caller to remove from the file store); forget the rows of
        failed and expired exports started more than ``forget_after`` seconds ago."""

    async def record_export(self, user_id: int, details: dict[str, Any]) -> None:
        """Record in the audit log an export of the user's data made on the command line
        (``export``, no actor, ``details`` what it held)."""

    async def export_account(self, user_id: int) -> dict[str, Any]:
        """The user's account as their export holds it (JSON): name, display name, status,
        avatar, email address, and settings (keywords, sections, dnd, read receipts)."""

    async def export_rooms(self, user_id: int) -> list[dict[str, Any]]:
        """The rooms and conversations the user is a member of, by name, each as their export
        holds it (JSON): the room's name, kind, privacy, topic, and the user's membership
        (joined, role, notify level, favourite, section); ``peers`` for a conversation."""

    async def sent_rooms(self, user_id: int) -> list[tuple[str, str]]:
        """The (name, kind) of every room and conversation, not deleted, that the user ever
        sent a message in, by name: one walk of their messages' key."""

    async def export_messages(self, room: str, *, after: int, limit: int,
                              sender_id: int | None = None) -> list[Message]:
        """The messages of ``room`` as they are now (changes left out), seq > ``after``, in
        seq order, at most ``limit``: a walk of the (room, seq) key. With ``sender_id``,
        only that user's. No access check: the export decides what is the user's."""

    async def export_files(self, user_id: int, *, after: int, limit: int
                           ) -> list[ExportedFile]:
        """The files the user uploaded and that are kept (not deleted; link preview images
        left out), id > ``after``, by id, at most ``limit``."""

    async def aclose(self) -> None:
        """Close the connections (and stop an embedded server this instance started)."""
