"""The events of the protocol: what a client asks (requests) and what a server says.

Each event is a small frozen, keyword-only dataclass named as a noun, with the wire name of its
``op``. Requests are parsed from JSON objects by :func:`parse_request`, which validates every
field and turns a peer's mistake into a :class:`RequestError` event (never an exception).
Server events are turned into JSON objects by their ``wire()`` method.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Final

from chatd.protocol import codes
from chatd.protocol.keywords import clean_keywords
from chatd.protocol.markup import MAX_EMOJI_CHARS, custom_emoji_name, normalise_emoji
from chatd.protocol.names import (
    GROUP_MAX,
    InvalidName,
    normalise_new_room,
    normalise_room,
    normalise_user,
)
from chatd.protocol.profiles import (
    MAX_DISPLAY_NAME_CHARS,
    MAX_STATUS_TEXT_CHARS,
    clean_profile_text,
    status_emoji,
)
from chatd.protocol.user_groups import (
    MAX_GROUP_DESCRIPTION_CHARS,
    MAX_GROUP_NAMES,
    normalise_user_group,
)

__all__ = [
    "EVENTS",
    "LINKS_PAGE",
    "LINKS_PAGE_MAX",
    "LINK_DEFAULT_SECONDS",
    "LINK_MAX_SECONDS",
    "LINK_MAX_USES",
    "LINK_MIN_SECONDS",
    "MAX_LINK_TOKEN_CHARS",
    "MAX_PROFILES",
    "MAX_READ_ALL_ROOMS",
    "MAX_REMIND_SECONDS",
    "MAX_RESUME_ROOMS",
    "MAX_SECTION_NAME_CHARS",
    "MAX_STATUS_SECONDS",
    "NOTIFY_LEVELS",
    "NO_STATUS",
    "RECEIPTS_PAGE",
    "REQUESTS",
    "ROLES",
    "THREADS_PAGE",
    "THREADS_PAGE_MAX",
    "WELCOME_PAGE",
    "AddContact",
    "AllowReminders",
    "Answer",
    "Archive",
    "Audit",
    "Ban",
    "Bans",
    "CancelReminder",
    "CancelScheduled",
    "Change",
    "ClosePoll",
    "Contacts",
    "CreateRoom",
    "CreateRoomLink",
    "CreateSection",
    "CreateUserGroup",
    "CustomEmojiChanged",
    "CustomEmojiList",
    "Delete",
    "DeleteSection",
    "DeleteUserGroup",
    "Dm",
    "DndChanged",
    "DraftChanged",
    "Drafts",
    "Edit",
    "EditHistoryRequest",
    "EditScheduled",
    "EditSection",
    "EditUserGroup",
    "Entry",
    "Error",
    "Favourite",
    "FavouriteChanged",
    "FollowThread",
    "Forward",
    "Gap",
    "Hello",
    "HiddenChanged",
    "Hide",
    "History",
    "HistoryPage",
    "Invite",
    "Join",
    "JoinAccepted",
    "JoinLink",
    "Keywords",
    "KeywordsChanged",
    "Kick",
    "Leave",
    "Limits",
    "LookAtRoomLink",
    "MemberBanned",
    "MemberJoined",
    "MemberKicked",
    "MemberLeft",
    "MemberUnbanned",
    "MessageDeleted",
    "MessageEdited",
    "MessagePinned",
    "MessagePosted",
    "Moderation",
    "NewStatus",
    "NotifyChanged",
    "Ok",
    "Pin",
    "Ping",
    "Pins",
    "PollClosed",
    "PollSpec",
    "PollVoted",
    "PresenceChanged",
    "PreviewChanged",
    "ProfileChanged",
    "Profiles",
    "React",
    "ReactionChanged",
    "Read",
    "ReadAll",
    "ReadMoved",
    "ReadReceiptsChanged",
    "ReadThread",
    "Receipts",
    "Remind",
    "Reminded",
    "RemindersSet",
    "RemoveContact",
    "RemovePreview",
    "Request",
    "RequestError",
    "RequestId",
    "RevokeRoomLink",
    "RoleChanged",
    "RoomArchived",
    "RoomDeleted",
    "RoomLinks",
    "Rooms",
    "Save",
    "SavedChanged",
    "SavedItems",
    "Schedule",
    "ScheduledChanged",
    "ScheduledItems",
    "Search",
    "SectionChanged",
    "Sections",
    "SectionsChanged",
    "Seen",
    "Send",
    "Sent",
    "ServerEvent",
    "SetDnd",
    "SetDraft",
    "SetIdle",
    "SetKeywords",
    "SetNotify",
    "SetProfile",
    "SetReadReceipts",
    "SetRole",
    "SetSection",
    "SetTopic",
    "Thread",
    "ThreadStateChanged",
    "Threads",
    "TopicChanged",
    "Typing",
    "Unban",
    "Unread",
    "UserGroupChanged",
    "UserGroupInfo",
    "UserGroupList",
    "UserTyping",
    "Vote",
    "Welcome",
    "Who",
    "default_notify",
    "is_storable",
    "page_size",
    "parse_request",
    "thread_cursor",
]

RequestId = int | str | None

MAX_ID_CHARS: Final = 64
MAX_NONCE_CHARS: Final = 64
MAX_TOKEN_CHARS: Final = 4096
#: Join links to a room (``create_room_link``): the most joins one may allow, how long one
#: works by default (7 days), at most (30 days) and at least (a minute), in seconds; a page
#: of ``room_links`` by default and at most; the longest token a request may carry.
LINK_MAX_USES: Final = 1000
LINK_DEFAULT_SECONDS: Final = 7 * 86400
LINK_MAX_SECONDS: Final = 30 * 86400
LINK_MIN_SECONDS: Final = 60
LINKS_PAGE: Final = 50
LINKS_PAGE_MAX: Final = 200
MAX_LINK_TOKEN_CHARS: Final = 128
MAX_RESUME_ROOMS: Final = 1000
#: The most rooms one ``read_all`` names (without ``rooms`` it marks every room, however many).
MAX_READ_ALL_ROOMS: Final = 1000
#: The first screen chatd's own clients (the terminal client, the web page, the benchmarks)
#: ask in a paged ``hello``: ``rooms_limit`` and ``contacts_limit``.
WELCOME_PAGE: Final = 30
#: The longest reaction emoji field: a Unicode emoji, or a custom one's ":name:" (34).
MAX_CUSTOM_EMOJI_CHARS: Final = 34
MAX_TOPIC_CHARS: Final = 256
MAX_REASON_CHARS: Final = 256  # why a member was banned or kicked
MAX_BAN_SECONDS: Final = 100 * 366 * 24 * 3600  # a ban's duration: a century at most
MAX_DELETE_SECONDS: Final = 7 * 24 * 3600  # how far back a ban's delete_messages reaches
#: How far ahead notifications may be paused (``set_dnd``): a week, as Slack's longest
#: preset is "until next week"; a longer silence is a room's level (``set_notify``).
MAX_DND_SECONDS: Final = 7 * 24 * 3600
#: How far ahead a custom status may end (``set_profile``): 30 days, as Mattermost's
#: longest preset ("this week" and a date) keeps to; a status without an end is null.
MAX_STATUS_SECONDS: Final = 30 * 24 * 3600
#: The users one ``profiles`` request may name.
MAX_PROFILES: Final = 100
AUDIT_PAGE_MAX: Final = 200  # entries of the audit log in one page
MAX_FILES: Final = 10  # files one message may attach
POLL_OPTIONS_MIN: Final = 2  # the fewest options a poll has
POLL_OPTIONS_MAX: Final = 10  # and the most (chatd.storage.POLL_OPTIONS_MAX)
MAX_POLL_OPTION_CHARS: Final = 100  # the longest option
MAX_QUERY_CHARS: Final = 500  # the longest search query (chatd.search.MAX_QUERY_CHARS)
SEARCH_PAGE: Final = 20  # results a search gives without a limit
SEARCH_PAGE_MAX: Final = 50  # and the most it gives
PINS_PAGE: Final = 50  # pinned messages a ``pins`` gives without a limit
PINS_PAGE_MAX: Final = 100  # and the most it gives (a room's pins, at the default limit)
THREAD_PAGE: Final = 50  # replies a ``thread`` gives without a limit
THREAD_PAGE_MAX: Final = 200  # and the most it gives
THREAD_USERS: Final = 5  # the latest distinct repliers a root's ``replies`` names
#: Readers a ``receipts`` gives at most (and without a limit): Zulip lists every reader; a
#: page of them by name, with the count of all, keeps a room of 10,000 members cheap.
RECEIPTS_PAGE: Final = 100
SAVED_PAGE: Final = 50  # saved messages a ``saved_items`` gives without a limit
SAVED_PAGE_MAX: Final = 100  # and the most it gives
THREADS_PAGE: Final = 30  # followed threads a ``threads`` gives without a limit
THREADS_PAGE_MAX: Final = 100  # and the most it gives
#: How far ahead a saved message's reminder may be (``save``): a year, as Slack's.
MAX_REMIND_SECONDS: Final = 366 * 24 * 3600
#: The longest name of a user's sidebar section, in characters once trimmed (Slack's is 80,
#: Mattermost's 22: a name the sidebar shows whole).
MAX_SECTION_NAME_CHARS: Final = 40
#: The most names ``dm``'s ``to`` may list (repeats included; at most GROUP_MAX people remain).
MAX_TO_NAMES: Final = 4 * GROUP_MAX
MAX_SEQ: Final = 2**63 - 1  # seqs are 64-bit in storage; a larger one is out of range
_ROOM_QUERY: Final = re.compile(r"[a-z0-9_-]{1,64}")

#: A member's notification level for a room: every message, mentions (and, in a
#: conversation, every message) only, or nothing.
NOTIFY_LEVELS: Final = ("all", "mentions", "none")

#: A member's role in a room, lowest first (``set_role`` gives one; ``owner`` hands the room
#: over, and the old owner becomes a moderator).
ROLES: Final = ("member", "moderator", "owner")


def default_notify(kind: str) -> str:
    """The level of a membership nobody set: ``"all"`` for a conversation (kind ``dm`` or
    ``group``), ``"mentions"`` for a room."""
    return "mentions" if kind == "room" else "all"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """What a server accepts; the parser checks requests against it."""

    max_frame_bytes: int = 65536
    max_text_chars: int = 4000
    history_max: int = 500
    rooms_page_max: int = 200


# --------------------------------------------------------------------------- requests


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """A client request. ``id`` is echoed in the reply."""

    OP: ClassVar[str] = ""
    id: RequestId = None

    def wire(self) -> dict[str, Any]:
        """The JSON object a client sends; fields that are None or empty tuples (``files``)
        are left out."""
        obj: dict[str, Any] = {"op": self.OP}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, tuple):
                if value:
                    obj[field.name] = list(value)
            elif isinstance(value, PollSpec):
                obj[field.name] = {"options": list(value.options), "multiple": value.multiple}
            elif value is not None:
                obj[field.name] = dict(value) if isinstance(value, Mapping) else value
        return obj


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PollSpec:
    """The poll a ``send`` or ``dm`` makes of its message (its text is the question): 2 to
    10 ``options`` (each 1-100 characters once its surrounding white space is trimmed,
    distinct ignoring case), and whether a voter may pick several (``multiple``)."""

    options: tuple[str, ...]
    multiple: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Hello(Request):
    """The first frame: a token from ``POST /api/login``, and optionally what the client last
    saw per room, so that the server sends what it missed."""

    OP: ClassVar[str] = "hello"
    token: str
    resume: Mapping[str, int] | None = None
    #: A paged welcome: the first ``rooms_limit`` of the user's rooms (as ``rooms`` with
    #: ``joined`` lists them) and the first ``contacts_limit`` contacts; None: all of them.
    rooms_limit: int | None = None
    contacts_limit: int | None = None
    #: The connection starts idle: its person is not using it (a page opened in a
    #: background tab); ``idle`` requests say when that changes. None: active (not sent).
    idle: bool | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SetIdle(Request):
    """Whether the connection's person stopped using it (``idle``) or is back: the user is
    ``away`` while they have connections and all are idle. A repeat changes nothing."""

    OP: ClassVar[str] = "idle"
    idle: bool


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Join(Request):
    OP: ClassVar[str] = "join"
    room: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Leave(Request):
    OP: ClassVar[str] = "leave"
    room: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Send(Request):
    OP: ClassVar[str] = "send"
    room: str
    text: str
    nonce: str
    reply_to: int | None = None  # the msg_id of a message of the same room this answers
    files: tuple[int, ...] = ()  # ids of the sender's uploads to the room (text may be blank)
    thread: int | None = None  # the msg_id of the thread's root (or of one of its replies)
    broadcast: bool = False  # a thread reply also shown in the room's timeline
    poll: PollSpec | None = None  # the message is a poll (its text the question)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class History(Request):
    OP: ClassVar[str] = "history"
    room: str
    before: int | None = None
    after: int | None = None
    limit: int | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Ping(Request):
    OP: ClassVar[str] = "ping"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CustomEmojiList(Request):
    """Every custom emoji of the server (op ``custom_emoji``)."""

    OP: ClassVar[str] = "custom_emoji"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class UserGroupList(Request):
    """Every user group of the server, by name (op ``user_groups``)."""

    OP: ClassVar[str] = "user_groups"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class UserGroupInfo(Request):
    """One user group and its members' names (op ``user_group``)."""

    OP: ClassVar[str] = "user_group"
    name: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CreateUserGroup(Request):
    """Make the user group ``name`` with ``description`` and ``members`` (user names, any
    case, each once; the creator only if listed)."""

    OP: ClassVar[str] = "create_user_group"
    name: str
    description: str = ""
    members: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EditUserGroup(Request):
    """Change user group ``name``: its ``description`` (None: as it is), members to ``add``
    and to ``remove`` (user names, any case; none in both). At least one of the three."""

    OP: ClassVar[str] = "edit_user_group"
    name: str
    description: str | None = None
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DeleteUserGroup(Request):
    """Delete user group ``name``."""

    OP: ClassVar[str] = "delete_user_group"
    name: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Dm(Request):
    """A message to one person (``to`` a user name: the 1:1 conversation) or to several
    (``to`` a tuple of 1 to :data:`GROUP_MAX` user names, none twice in any case: the
    conversation of the sender and them, a group conversation from three people in all).
    The conversation is a room of its own, created on first use."""

    OP: ClassVar[str] = "dm"
    to: str | tuple[str, ...]
    text: str
    nonce: str
    reply_to: int | None = None
    files: tuple[int, ...] = ()
    thread: int | None = None
    broadcast: bool = False
    poll: PollSpec | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Forward(Request):
    """Post message ``msg_id`` of ``room`` again, with the caller's comment ``text`` (may be
    empty), into one other place: the room ``to_room``, or the conversation ``to`` names (as
    ``dm``'s ``to``: a user name, or a tuple of them for a group conversation). Exactly one
    of the two. ``nonce``: as ``send``'s (None: the server makes one, and a retry is not
    recognised)."""

    OP: ClassVar[str] = "forward"
    room: str
    msg_id: int
    to_room: str | None = None
    to: str | tuple[str, ...] | None = None
    text: str = ""
    nonce: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Rooms(Request):
    """A page, by name, of the rooms the user can see: their rooms and conversations and
    the public rooms (only their own with ``joined``), those whose name holds ``query``,
    after the room named ``after``; at most ``limit`` of them (the server's default when
    None)."""

    OP: ClassVar[str] = "rooms"
    query: str | None = None
    after: str | None = None
    limit: int | None = None
    joined: bool | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CreateRoom(Request):
    OP: ClassVar[str] = "create_room"
    room: str
    private: bool = False
    topic: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Invite(Request):
    OP: ClassVar[str] = "invite"
    room: str
    user: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CreateRoomLink(Request):
    """A join link to ``room`` (a member makes it, as they may ``invite``): it works for
    ``uses`` joins (default 1) until ``expires_in`` seconds from now (default
    :data:`LINK_DEFAULT_SECONDS`), unless revoked. The reply holds its token, once."""

    OP: ClassVar[str] = "create_room_link"
    room: str
    uses: int | None = None
    expires_in: int | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RoomLinks(Request):
    """A page of ``room``'s join links, newest first: every one for those who moderate the
    room, else the user's own; those older than link ``before``, at most ``limit``."""

    OP: ClassVar[str] = "room_links"
    room: str
    before: int | None = None
    limit: int | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RevokeRoomLink(Request):
    """Revoke join link ``link`` (its maker, or one who moderates its room)."""

    OP: ClassVar[str] = "revoke_room_link"
    link: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LookAtRoomLink(Request):
    """What a join link of ``token`` leads to, before joining with it: its room's name,
    topic and size, or why it does not work."""

    OP: ClassVar[str] = "room_link"
    token: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class JoinLink(Request):
    """Join the room of the join link of ``token``, private or not; answered as ``join``."""

    OP: ClassVar[str] = "join_link"
    token: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Kick(Request):
    """End a member's membership (the room's owner, its moderators, administrators); an
    entry of the room's log."""

    OP: ClassVar[str] = "kick"
    room: str
    user: str
    reason: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SetRole(Request):
    """Give a member a role (the room's owner, administrators): ``owner`` hands the room
    over (the old owner becomes a moderator)."""

    OP: ClassVar[str] = "set_role"
    room: str
    user: str
    role: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Ban(Request):
    """Remove a user from a room and keep them out (the room's owner, its moderators,
    administrators): until ``expires_at`` (ms), for ``duration`` (seconds), or until
    ``unban``. ``delete_messages``: also delete their messages to the room of the last
    that many seconds (0: none)."""

    OP: ClassVar[str] = "ban"
    room: str
    user: str
    reason: str | None = None
    expires_at: int | None = None
    duration: int | None = None
    delete_messages: int = 0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Unban(Request):
    OP: ClassVar[str] = "unban"
    room: str
    user: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Bans(Request):
    """The bans in force in a room (for those who moderate it)."""

    OP: ClassVar[str] = "bans"
    room: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Audit(Request):
    """A page of a room's audit log, newest first (for those who moderate it)."""

    OP: ClassVar[str] = "audit"
    room: str
    limit: int | None = None
    before: int | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Who(Request):
    """A page of a room's members by name (case-insensitive), after the name ``after``; at
    most ``limit`` of them (the server's default when absent)."""

    OP: ClassVar[str] = "who"
    room: str
    after: str | None = None
    limit: int | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Typing(Request):
    OP: ClassVar[str] = "typing"
    room: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Read(Request):
    OP: ClassVar[str] = "read"
    room: str
    seq: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ReadAll(Request):
    """Mark everything read ("Mark all as read"): the user's read marker of every room and
    conversation they are in with something past it (only those of ``rooms``, when given: 1
    to :data:`MAX_READ_ALL_ROOMS` names; the others, and names of rooms the user is not in,
    are left as they are) moves to the room's last seq. Followed threads keep their own
    markers (as Slack's "Mark all messages as read" does)."""

    OP: ClassVar[str] = "read_all"
    rooms: tuple[str, ...] | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Unread(Request):
    """Mark ``room`` unread from the message ``seq`` on: the read marker moves back to
    ``seq - 1`` (never forward, never below 0). A request of its own, not a flag of
    ``read``: ``read`` only moves forward, so that a stale device's automatic reads can never
    undo anything, and a server that does not know ``unread`` refuses it (``unknown_op``)
    instead of ignoring a flag and marking the room read up to ``seq``."""

    OP: ClassVar[str] = "unread"
    room: str
    seq: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Receipts(Request):
    """Read receipts. With ``msg_id``: who has read that message of ``room`` (the members
    whose read marker is at or past its seq, but its author, the asker and those who do not
    share their receipts), a page of them by name after ``after``, at most ``limit``, with
    the count of all. Without it, for a conversation: where each other member's read marker
    is (``positions``), to draw "Seen" when it opens."""

    OP: ClassVar[str] = "receipts"
    room: str
    msg_id: int | None = None
    after: str | None = None
    limit: int | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SetReadReceipts(Request):
    """Share the user's read receipts (``on``, the default of every account) or not: while
    off, they are left out of everyone's ``receipts`` and no ``seen`` tells of their reads
    (they still see other people's)."""

    OP: ClassVar[str] = "set_read_receipts"
    on: bool


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Keywords(Request):
    """The user's notification keywords, as stored."""

    OP: ClassVar[str] = "keywords"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SetKeywords(Request):
    """Replace the user's notification keywords (chatd.protocol.keywords): each trimmed,
    1-64 characters, duplicates folded ignoring case (the first kept), in the order given;
    at most the server's ``limits.keywords_per_user``. An empty list clears them."""

    OP: ClassVar[str] = "set_keywords"
    keywords: tuple[str, ...]

    def wire(self) -> dict[str, Any]:
        # An empty list is sent (it clears them), where Request.wire leaves empty tuples out.
        obj: dict[str, Any] = {"op": self.OP, "keywords": list(self.keywords)}
        if self.id is not None:
            obj["id"] = self.id
        return obj


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Drafts(Request):
    """The user's drafts, the latest stored first (at most ``limits.drafts_per_user``)."""

    OP: ClassVar[str] = "drafts"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SetDraft(Request):
    """Store the user's draft of ``room`` (of its thread whose root is message ``thread``;
    None: of the room's own box) as ``text``, at most ``max_text_chars`` characters; an
    empty or blank text deletes it."""

    OP: ClassVar[str] = "set_draft"
    room: str
    text: str
    thread: int | None = None

    def wire(self) -> dict[str, Any]:
        # An empty text is sent (it deletes), where Request.wire leaves empty strings out.
        obj: dict[str, Any] = {"op": self.OP, "room": self.room, "text": self.text}
        if self.thread is not None:
            obj["thread"] = self.thread
        if self.id is not None:
            obj["id"] = self.id
        return obj


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Contacts(Request):
    """A page of the user's contacts, by name ignoring case, after the user named ``after``;
    at most ``limit`` of them (the server's default when None)."""

    OP: ClassVar[str] = "contacts"
    after: str | None = None
    limit: int | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AddContact(Request):
    OP: ClassVar[str] = "add_contact"
    user: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RemoveContact(Request):
    OP: ClassVar[str] = "remove_contact"
    user: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Edit(Request):
    """New text for a message; only its author may."""

    OP: ClassVar[str] = "edit"
    room: str
    msg_id: int
    text: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Delete(Request):
    """Delete a message (its author, or the room's owner): its words leave the database."""

    OP: ClassVar[str] = "delete"
    room: str
    msg_id: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Vote(Request):
    """Set the caller's choice on a poll to exactly ``options`` (0-based indexes, sorted,
    no repeats; empty: take the vote back)."""

    OP: ClassVar[str] = "vote"
    room: str
    msg_id: int
    options: tuple[int, ...] = ()

    def wire(self) -> dict[str, Any]:
        return {"op": self.OP, "id": self.id, "room": self.room, "msg_id": self.msg_id,
                "options": list(self.options)}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ClosePoll(Request):
    """End a poll (its author, or the room's moderators): it takes no more votes."""

    OP: ClassVar[str] = "close_poll"
    room: str
    msg_id: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RemovePreview(Request):
    """Remove a message's link preview (its author, or the room's moderators); it stays
    removed until an edit changes the link."""

    OP: ClassVar[str] = "remove_preview"
    room: str
    msg_id: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class React(Request):
    """Put (``on``) or take back the user's ``emoji`` on a message: a Unicode emoji, or a
    custom emoji's ``:name:`` (whether it exists is the operation's to check)."""

    OP: ClassVar[str] = "react"
    room: str
    msg_id: int
    emoji: str
    on: bool = True


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Pin(Request):
    """Pin (``on``) or unpin a message of the room, for every member to find it."""

    OP: ClassVar[str] = "pin"
    room: str
    msg_id: int
    on: bool = True


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Pins(Request):
    """The room's pinned messages, the most recently pinned first: those pinned by an entry
    with a seq below ``before``, at most ``limit``."""

    OP: ClassVar[str] = "pins"
    room: str
    before: int | None = None
    limit: int | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EditHistoryRequest(Request):
    """The versions of message ``msg_id`` of ``room``, oldest first (its edit history), for
    whoever may read the room."""

    OP: ClassVar[str] = "edit_history"
    room: str
    msg_id: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Thread(Request):
    """The thread of message ``msg_id`` of ``room`` (its root or one of its replies): the
    root and its replies with a seq below ``before``, the newest ``limit`` of them."""

    OP: ClassVar[str] = "thread"
    room: str
    msg_id: int
    before: int | None = None
    limit: int | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Save(Request):
    """Save (``on``) a message of a room the user can read, for themselves only, with a
    reminder at ``remind_at`` (ms since the epoch; None: none, and one set is cleared), or
    remove it from their saved messages."""

    OP: ClassVar[str] = "save"
    room: str
    msg_id: int
    on: bool = True
    remind_at: int | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Remind(Request):
    """A reminder of anything (Slack's ``/remind me``): ``text`` written to the user's notes
    to self as a message and saved with a reminder at ``remind_at`` (ms since the epoch).
    ``nonce`` as a send's: the same request again stores one note with one reminder."""

    OP: ClassVar[str] = "remind"
    text: str
    remind_at: int
    nonce: str
    #: Whom to remind (Slack's ``/remind @bob``): another user who shares a room or a
    #: conversation with the setter; None: the setter.
    user: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RemindersSet(Request):
    """The reminders the user set for others, newest set first: those set before
    ``before`` (an item's ``ts``), at most ``limit``."""

    OP: ClassVar[str] = "reminders_set"
    before: int | None = None
    limit: int | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CancelReminder(Request):
    """Cancel the reminder the user set for ``user`` of message ``msg_id``, until it fires:
    it leaves ``user``'s saved messages."""

    OP: ClassVar[str] = "cancel_reminder"
    user: str
    msg_id: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AllowReminders(Request):
    """Whether others may set reminders for the user: ``on`` sets it, None only asks."""

    OP: ClassVar[str] = "allow_reminders"
    on: bool | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SavedItems(Request):
    """The user's saved messages, newest saved first: those saved before ``before`` (an
    item's ``ts``), at most ``limit``."""

    OP: ClassVar[str] = "saved_items"
    before: int | None = None
    limit: int | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Schedule(Request):
    """A message of the user to ``room`` sent by the server at ``send_at`` (ms since the
    epoch), as a ``send`` of the same fields would be then; the user's own until then."""

    OP: ClassVar[str] = "schedule"
    room: str
    text: str
    send_at: int
    files: tuple[int, ...] = ()
    thread: int | None = None
    broadcast: bool = False
    reply_to: int | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ScheduledItems(Request):
    """Every scheduled message of the user, pending or failed, by ``send_at``."""

    OP: ClassVar[str] = "scheduled_items"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EditScheduled(Request):
    """Change what is given of the user's scheduled message ``item``: its ``text``, its
    ``files`` (replacing them) or ``send_at`` (0: now; a failed item is pending again)."""

    OP: ClassVar[str] = "edit_scheduled"
    item: int
    text: str | None = None
    files: tuple[int, ...] | None = None
    send_at: int | None = None

    def wire(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"op": self.OP, "id": self.id, "item": self.item}
        if self.text is not None:
            obj["text"] = self.text
        if self.files is not None:
            obj["files"] = list(self.files)
        if self.send_at is not None:
            obj["send_at"] = self.send_at
        return obj


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FollowThread(Request):
    """Follow (``on``) or unfollow the thread of message ``msg_id`` of ``room`` (its root, or
    a reply: its root is meant), for a member of the room."""

    OP: ClassVar[str] = "follow_thread"
    room: str
    msg_id: int
    on: bool = True


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ReadThread(Request):
    """The user has read the thread of message ``msg_id`` of ``room`` up to reply ``seq``
    (forward only)."""

    OP: ClassVar[str] = "read_thread"
    room: str
    msg_id: int
    seq: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Threads(Request):
    """The threads the user follows, latest reply first: those before the cursor ``before``
    ((last_ts, root msg_id) of the last one of the page before), at most ``limit``."""

    OP: ClassVar[str] = "threads"
    before: tuple[int, int] | None = None
    limit: int | None = None

    def wire(self) -> dict[str, Any]:
        obj = Request.wire(self)
        if self.before is not None:
            obj["before"] = f"{self.before[0]}:{self.before[1]}"
        return obj


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CancelScheduled(Request):
    """Remove the user's scheduled message ``item``; its files are released."""

    OP: ClassVar[str] = "cancel_scheduled"
    item: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SetTopic(Request):
    """A new topic for a room (its owner); an entry of the room's log."""

    OP: ClassVar[str] = "set_topic"
    room: str
    topic: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Archive(Request):
    """Archive a room (``archived``: it is read-only until unarchived) or unarchive it: its
    owner or an administrator; an entry of the room's log."""

    OP: ClassVar[str] = "archive"
    room: str
    archived: bool


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SetNotify(Request):
    """The user's notification level for a room they are in (one of :data:`NOTIFY_LEVELS`),
    kept on the server so that every device follows it."""

    OP: ClassVar[str] = "set_notify"
    room: str
    notify: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Hide(Request):
    """Close (``on``) a conversation the user is in, or show it again: a marker of their
    membership (``hidden_seq``: the room's last seq when closed) that clients compare with
    the room's ``last_seq``; a message never touches it."""

    OP: ClassVar[str] = "hide"
    room: str
    on: bool = True


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Favourite(Request):
    """Mark (``on``) a room or conversation the user is in as a favourite, or unmark it: a
    mark of their membership (when it was made, so that every device lists the favourites in
    that order), which nobody else sees and leaving the room drops."""

    OP: ClassVar[str] = "favourite"
    room: str
    on: bool = True


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Sections(Request):
    """The user's own sidebar sections, in their order."""

    OP: ClassVar[str] = "sections"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CreateSection(Request):
    """A new sidebar section of the user's, called ``name`` (trimmed, 1-40 characters, no
    other of theirs of that name in any case), at ``position`` in their list (0: first; None
    or past the end: last)."""

    OP: ClassVar[str] = "create_section"
    name: str
    position: int | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EditSection(Request):
    """Change what is given of the user's ``section``: its ``name``, whether it is
    ``collapsed``, its ``position`` in their list (0: first; past the end: last)."""

    OP: ClassVar[str] = "edit_section"
    section: int
    name: str | None = None
    collapsed: bool | None = None
    position: int | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DeleteSection(Request):
    """Delete the user's ``section``: its rooms go back to the default lists."""

    OP: ClassVar[str] = "delete_section"
    section: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SetSection(Request):
    """Put a room or conversation the user is in into their ``section``, or back into the
    default lists (None): a mark of their membership, which leaving the room drops."""

    OP: ClassVar[str] = "set_section"
    room: str
    section: int | None

    def wire(self) -> dict[str, Any]:
        """``section`` is always there: null says "the default lists"."""
        return {"op": self.OP, "id": self.id, "room": self.room, "section": self.section}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SetDnd(Request):
    """Pause the user's notifications, on every device, until ``until`` (ms since the epoch)
    or for ``duration`` seconds; ``until`` None (given as null) resumes them. At most
    :data:`MAX_DND_SECONDS` ahead; a time already past resumes them too."""

    OP: ClassVar[str] = "set_dnd"
    until: int | None = None
    duration: int | None = None

    def wire(self) -> dict[str, Any]:
        obj = Request.wire(self)
        if self.duration is None:
            obj["until"] = self.until  # null says "resume": it is never left out
        return obj


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NewStatus:
    """The custom status a ``set_profile`` sets: an ``emoji`` ('' for none) and a ``text``
    ('' for none; not both empty), until ``until`` (ms since the epoch) or for ``duration``
    seconds, or until cleared (both None). The empty status, :data:`NO_STATUS`, clears it
    (given as null)."""

    emoji: str = ""
    text: str = ""
    until: int | None = None
    duration: int | None = None

    def wire(self) -> dict[str, Any] | None:
        """The request's ``custom_status``: null for :data:`NO_STATUS`."""
        if not self.emoji and not self.text:
            return None
        obj: dict[str, Any] = {"emoji": self.emoji, "text": self.text}
        if self.duration is not None:
            obj["duration"] = self.duration
        else:
            obj["until"] = self.until
        return obj


#: The status that clears one (``"custom_status": null``).
NO_STATUS: Final = NewStatus()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SetProfile(Request):
    """Set the user's display name and custom status. None leaves a field as it is;
    ``display_name`` '' (given as null or "") removes the name, ``custom_status``
    :data:`NO_STATUS` (given as null) clears the status."""

    OP: ClassVar[str] = "set_profile"
    display_name: str | None = None
    custom_status: NewStatus | None = None

    def wire(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"op": self.OP}
        if self.id is not None:
            obj["id"] = self.id
        if self.display_name is not None:
            obj["display_name"] = self.display_name or None
        if self.custom_status is not None:
            obj["custom_status"] = self.custom_status.wire()
        return obj


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Profiles(Request):
    """The profiles of ``users`` (names, any case; at most :data:`MAX_PROFILES`)."""

    OP: ClassVar[str] = "profiles"
    users: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Search(Request):
    """Messages whose words match ``query`` (the search language of docs/protocol.md), in
    ``room`` or in every room the user is in, newest first: those with a msg_id below
    ``before``, at most ``limit``."""

    OP: ClassVar[str] = "search"
    query: str
    room: str | None = None
    limit: int | None = None
    before: int | None = None


#: The requests that change a room's log after the fact: each is an entry of the log.
Change = Edit | Delete | React | Pin | SetTopic | Vote | ClosePoll


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RequestError:
    """A frame the peer got wrong. The server answers it with an ``error`` frame carrying
    ``code``; when ``fatal`` it then closes the connection."""

    id: RequestId = None
    code: str
    message: str
    fatal: bool = False


# --------------------------------------------------------------------------- server events


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ServerEvent:
    OP: ClassVar[str] = ""

    def wire(self) -> dict[str, Any]:
        """The JSON object sent: ``op`` and every field, but optional fields (those that
        default to None) when they are None. ``id`` is always there, null or not. Events
        whose wire form differs from their fields override this."""
        obj: dict[str, Any] = {"op": self.OP}
        for name, optional in _wire_fields(type(self)):
            value = getattr(self, name)
            if value is None and optional:
                continue
            obj[name] = value
        return obj


def _wire_fields(cls: type[ServerEvent]) -> tuple[tuple[str, bool], ...]:
    """Each field of an event class, and whether ``wire`` leaves it out when None: read once
    per class (``dataclasses.fields`` walks the class's fields on every call, and reactions,
    deletions and many replies are encoded through the generic ``wire``)."""
    found = _WIRE_FIELDS.get(cls)
    if found is None:
        found = _WIRE_FIELDS[cls] = tuple(
            (field.name, field.default is None and field.name != "id")
            for field in dataclasses.fields(cls))
    return found


_WIRE_FIELDS: dict[type[ServerEvent], tuple[tuple[str, bool], ...]] = {}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MessagePosted(ServerEvent):
    """A message, as a ``message`` event or inside a page of history, as it is now.

    A message changed since it was posted says so: ``rev`` is the seq of the last entry that
    changed it (a client applies a change entry only if its seq is above the message's
    ``rev``, so a page read after a change and that change delivered live end the same);
    ``edited_ts``, ``deleted`` (a tombstone: ``text`` is empty), ``reactions`` as
    ``(emoji, users)`` pairs in the order they were first put. ``reply_to`` is the msg_id this
    one answers, with ``quote`` ({from, text} of that message, or {deleted: true}).
    ``mentions``: the members it names as ``@name``; ``group``: ``"room"`` when it mentions
    every member (``@room``, ``@all``, ``@everyone``), ``"here"`` the members online when it
    was sent (``@here``), None otherwise. ``files``: the file objects attached
    ({id, name, size, content_type, url}; none once deleted). ``pinned``: {by, ts, seq}
    while it is pinned (``seq``: the entry that pinned it). ``previews``: the preview of
    its first link, if the server made one ({url, title, description, site, image?}; see
    :class:`PreviewChanged`). ``thread``: the msg_id of the root of the thread it replies
    in, with ``broadcast`` when it was also sent to the room's timeline; ``replies``: a
    root's thread summary ({count, last_ts, users}), None without replies. ``poll``: a
    poll's options with their votes and voters, ``multiple``, ``closed`` (and ``closed_by``,
    ``closed_ts`` once closed). ``forwarded``: what a forward forwards ({from, ts, text,
    room, seq}: room and seq null unless it came from a public room; its own ``text`` is the
    forwarder's comment). Fields at their defaults are left out of the wire form, so a plain
    message's frame is what it was in v1."""

    OP: ClassVar[str] = "message"
    room: str
    seq: int
    msg_id: int
    sender: str
    text: str
    ts: int
    nonce: str
    rev: int | None = None
    edited_ts: int | None = None
    deleted: bool = False
    reactions: Sequence[tuple[str, Sequence[str]]] = ()
    reply_to: int | None = None
    quote: Mapping[str, Any] | None = None
    mentions: Sequence[str] = ()
    group: str | None = None
    user_groups: Sequence[str] = ()
    files: Sequence[Mapping[str, Any]] = ()
    pinned: Mapping[str, Any] | None = None
    previews: Sequence[Mapping[str, Any]] = ()
    thread: int | None = None
    broadcast: bool = False
    replies: Mapping[str, Any] | None = None
    poll: Mapping[str, Any] | None = None
    forwarded: Mapping[str, Any] | None = None

    def wire(self) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "op": self.OP, "room": self.room, "seq": self.seq, "msg_id": self.msg_id,
            "from": self.sender, "text": self.text, "ts": self.ts, "nonce": self.nonce,
        }
        if self.rev is not None and self.rev != self.seq:
            obj["rev"] = self.rev
        if self.edited_ts is not None:
            obj["edited_ts"] = self.edited_ts
        if self.deleted:
            obj["deleted"] = True
        if self.reactions:
            obj["reactions"] = [{"emoji": emoji, "users": list(users)}
                                for emoji, users in self.reactions]
        if self.reply_to is not None:
            obj["reply_to"] = self.reply_to
            if self.quote is not None:
                obj["quote"] = dict(self.quote)
        if self.mentions:
            obj["mentions"] = list(self.mentions)
        if self.group is not None:
            obj["group"] = self.group
        if self.user_groups:
            obj["user_groups"] = list(self.user_groups)
        if self.files:
            obj["files"] = [dict(file) for file in self.files]
        if self.pinned is not None:
            obj["pinned"] = dict(self.pinned)
        if self.previews:
            obj["previews"] = [dict(preview) for preview in self.previews]
        if self.thread is not None:
            obj["thread"] = self.thread
            if self.broadcast:
                obj["broadcast"] = True
        if self.replies is not None:
            obj["replies"] = {"count": self.replies["count"], "last_ts": self.replies["last_ts"],
                              "users": list(self.replies["users"])}
        if self.poll is not None:
            obj["poll"] = dict(self.poll)
        if self.forwarded is not None:
            obj["forwarded"] = dict(self.forwarded)
        return obj


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MessageEdited(ServerEvent):
    """An entry of the log: message ``msg_id`` now reads ``text`` (its author edited it);
    ``mentions``, ``group`` and ``user_groups`` as :class:`MessagePosted` has them, for the
    new text."""

    OP: ClassVar[str] = "edited"
    room: str
    seq: int
    msg_id: int
    text: str
    sender: str
    ts: int
    mentions: Sequence[str] = ()
    group: str | None = None
    user_groups: Sequence[str] = ()

    def wire(self) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "op": self.OP, "room": self.room, "seq": self.seq, "msg_id": self.msg_id,
            "text": self.text, "from": self.sender, "ts": self.ts,
        }
        if self.mentions:
            obj["mentions"] = list(self.mentions)
        if self.group is not None:
            obj["group"] = self.group
        if self.user_groups:
            obj["user_groups"] = list(self.user_groups)
        return obj


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MessageDeleted(ServerEvent):
    """An entry of the log: message ``msg_id`` was deleted, ``by`` its author or a moderator;
    ``unpinned`` (True, else left out) when it was pinned: the deletion took it off the
    room's pins."""

    OP: ClassVar[str] = "deleted"
    room: str
    seq: int
    msg_id: int
    by: str
    ts: int
    unpinned: bool | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ReactionChanged(ServerEvent):
    """An entry of the log: ``user`` put (``on``) or took back ``emoji`` on ``msg_id``."""

    OP: ClassVar[str] = "reaction"
    room: str
    seq: int
    msg_id: int
    emoji: str
    user: str
    on: bool
    ts: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MessagePinned(ServerEvent):
    """An entry of the log: message ``msg_id`` was pinned (``on``) or unpinned ``by`` a
    member."""

    OP: ClassVar[str] = "pinned"
    room: str
    seq: int
    msg_id: int
    by: str
    on: bool
    ts: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TopicChanged(ServerEvent):
    """An entry of the log: the room's topic is now ``topic``, set ``by`` its owner."""

    OP: ClassVar[str] = "topic"
    room: str
    seq: int
    topic: str
    by: str
    ts: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RoleChanged(ServerEvent):
    """An entry of the log: ``user`` now has ``role`` in the room, given ``by`` its owner or
    an administrator (``owner``: the room was handed over to them)."""

    OP: ClassVar[str] = "role"
    room: str
    seq: int
    user: str
    role: str
    by: str
    ts: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MemberBanned(ServerEvent):
    """An entry of the log: ``user`` was banned ``by`` a moderator (removed, and kept out
    until ``expires_at``, ms, or until unbanned when there is none), for ``reason``."""

    OP: ClassVar[str] = "banned"
    room: str
    seq: int
    user: str
    by: str
    ts: int
    reason: str | None = None
    expires_at: int | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MemberUnbanned(ServerEvent):
    """An entry of the log: ``user``'s ban was lifted ``by`` a moderator."""

    OP: ClassVar[str] = "unbanned"
    room: str
    seq: int
    user: str
    by: str
    ts: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MemberKicked(ServerEvent):
    """An entry of the log: ``user`` was removed from the room ``by`` a moderator, for
    ``reason``."""

    OP: ClassVar[str] = "kicked"
    room: str
    seq: int
    user: str
    by: str
    ts: int
    reason: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RoomArchived(ServerEvent):
    """An entry of the log: the room was archived (``archived``: read-only from here on) or
    unarchived, ``by`` its owner or an administrator."""

    OP: ClassVar[str] = "archived"
    room: str
    seq: int
    archived: bool
    by: str
    ts: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PollVoted(ServerEvent):
    """An entry of the log: ``user``'s choice on poll ``msg_id`` is now ``options`` (their
    whole choice, 0-based, sorted; empty: they took their vote back)."""

    OP: ClassVar[str] = "voted"
    room: str
    seq: int
    msg_id: int
    user: str
    options: tuple[int, ...]
    ts: int

    def wire(self) -> dict[str, Any]:
        return {"op": self.OP, "room": self.room, "seq": self.seq, "msg_id": self.msg_id,
                "user": self.user, "options": list(self.options), "ts": self.ts}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PollClosed(ServerEvent):
    """An entry of the log: poll ``msg_id`` was closed ``by`` its author or a moderator."""

    OP: ClassVar[str] = "poll_closed"
    room: str
    seq: int
    msg_id: int
    by: str
    ts: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PreviewChanged(ServerEvent):
    """An entry of the log: message ``msg_id`` now shows a preview of its link ``url``: the
    page's ``title``, ``description`` and ``site`` (either may be empty) and ``image``
    ({id, thumbnail_url, width, height}: a thumbnail served by chatd, as an attachment's),
    if it has one. Without ``url`` (``"removed": true`` on the wire) the message shows no
    preview any more."""

    OP: ClassVar[str] = "preview"
    room: str
    seq: int
    msg_id: int
    ts: int
    url: str | None = None
    title: str = ""
    description: str = ""
    site: str = ""
    image: Mapping[str, Any] | None = None

    def wire(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"op": self.OP, "room": self.room, "seq": self.seq,
                               "msg_id": self.msg_id, "ts": self.ts}
        if self.url is None:
            obj["removed"] = True
            return obj
        obj.update(url=self.url, title=self.title, description=self.description,
                   site=self.site)
        if self.image is not None:
            obj["image"] = dict(self.image)
        return obj


#: An entry of a room's log: what ``history``, ``join``, a resume and live delivery carry.
Entry = (MessagePosted | MessageEdited | MessageDeleted | ReactionChanged | MessagePinned
         | TopicChanged | RoleChanged | MemberBanned | MemberUnbanned | MemberKicked
         | RoomArchived | PreviewChanged | PollVoted | PollClosed)

#: The entries that moderate the room's members.
Moderation = RoleChanged | MemberBanned | MemberUnbanned | MemberKicked


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Welcome(ServerEvent):
    """The answer to a good ``hello``: who the user is and their rooms."""

    OP: ClassVar[str] = "welcome"
    id: RequestId = None
    user: Mapping[str, Any]
    rooms: Sequence[Mapping[str, Any]]
    contacts: Sequence[Mapping[str, Any]] = ()
    ping_interval: int
    max_text_chars: int | None = None  # the longest message text the server takes
    #: The most notification keywords one user may have (``limits.keywords_per_user``): a
    #: client says so before ``set_keywords`` is refused (None: an older server).
    keywords_per_user: int | None = None
    #: The largest room in which any member may mention a group (@room, @here); past it only
    #: its owner and moderators may (None: an older server, which did not say).
    group_mention_members: int | None = None
    #: Whether more rooms (contacts) follow the welcome's: only in the answer to a hello
    #: that gave ``rooms_limit`` (``contacts_limit``).
    rooms_more: bool | None = None
    contacts_more: bool | None = None
    #: The server's clock as it wrote the welcome, in ms since the epoch as every ``ts``: a
    #: client compares ``ts`` with its own clock (is this message new, how old is it) through
    #: the offset it measures from this, not trusting its own clock to be right (None: an
    #: older server, which did not say).
    now: int | None = None
    #: How many of the user's saved messages were reminded and are still saved (None: an
    #: older server, which did not say).
    reminders_due: int | None = None
    #: How many scheduled messages the user has (pending or failed), and of those failed:
    #: None (not sent) when none.
    scheduled_count: int | None = None
    scheduled_failed: int | None = None
    #: How many threads the user follows have unread replies (at most 100; None or 0:
    #: none, and the field is left out).
    threads_unread: int | None = None
    #: The user's sidebar sections in their order (section objects: ``id``, ``name``,
    #: ``collapsed``); None: an older server, which did not say.
    sections: Sequence[Mapping[str, Any]] | None = None
    #: Who may read a message's edit history (``[messages] edit_history``): "everyone" who
    #: may read the room, "moderators" (its author and the room's owner and moderators) or
    #: "off" (nobody; administrators always may); None: an older server (everyone).
    edit_history: str | None = None
    #: The user's notification keywords as stored (``set_keywords``); None: an older server,
    #: which did not say.
    keywords: Sequence[str] | None = None

    def wire(self) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "op": self.OP, "id": self.id, "user": dict(self.user),
            "rooms": [dict(r) for r in self.rooms],
            "contacts": [dict(c) for c in self.contacts], "ping_interval": self.ping_interval,
        }
        if self.max_text_chars is not None:
            obj["max_text_chars"] = self.max_text_chars
        if self.keywords_per_user is not None:
            obj["keywords_per_user"] = self.keywords_per_user
        if self.group_mention_members is not None:
            obj["group_mention_members"] = self.group_mention_members
        if self.rooms_more is not None:
            obj["rooms_more"] = self.rooms_more
        if self.contacts_more is not None:
            obj["contacts_more"] = self.contacts_more
        if self.now is not None:
            obj["now"] = self.now
        if self.reminders_due is not None:
            obj["reminders_due"] = self.reminders_due
        if self.scheduled_count:
            obj["scheduled_count"] = self.scheduled_count
        if self.scheduled_failed:
            obj["scheduled_failed"] = self.scheduled_failed
        if self.threads_unread:
            obj["threads_unread"] = self.threads_unread
        if self.sections is not None:
            obj["sections"] = [dict(section) for section in self.sections]
        if self.edit_history is not None:
            obj["edit_history"] = self.edit_history
        if self.keywords is not None:
            obj["keywords"] = list(self.keywords)
        return obj


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Ok(ServerEvent):
    """A request done, with nothing more to say (``leave``, ``ping``)."""

    OP: ClassVar[str] = "ok"
    id: RequestId = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Sent(ServerEvent):
    """A ``send`` or a change (``edit``, ``delete``, ``react``) acknowledged: its entry is
    committed at ``seq``. ``duplicate``: a resent ``send`` (the nonce was used; these are the
    first one's seq and id). ``unchanged``: a change that changed nothing and stored nothing;
    ``seq`` is then the message's ``rev``, the last entry that did."""

    OP: ClassVar[str] = "ok"
    id: RequestId = None
    room: str
    seq: int
    msg_id: int
    ts: int
    duplicate: bool = False
    unchanged: bool = False

    def wire(self) -> dict[str, Any]:
        obj = {
            "op": self.OP, "id": self.id, "room": self.room, "seq": self.seq,
            "msg_id": self.msg_id, "ts": self.ts,
        }
        if self.duplicate:
            obj["duplicate"] = True
        if self.unchanged:
            obj["unchanged"] = True
        return obj


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class HistoryPage(ServerEvent):
    """A page of a room's log, oldest first: messages and the changes made to them."""

    OP: ClassVar[str] = "ok"
    id: RequestId = None
    room: str
    messages: Sequence[Entry]
    more: bool
    last_seq: int | None = None  # the room's last seq, when known

    def wire(self) -> dict[str, Any]:
        obj = {
            "op": self.OP, "id": self.id, "room": self.room,
            "messages": [m.wire() for m in self.messages], "more": self.more,
        }
        if self.last_seq is not None:
            obj["last_seq"] = self.last_seq
        return obj


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class JoinAccepted(ServerEvent):
    """The answer to ``join``: the room's last seq and its latest messages."""

    OP: ClassVar[str] = "ok"
    id: RequestId = None
    room: str
    last_seq: int
    messages: Sequence[Entry]
    more: bool
    private: bool = False
    topic: str = ""
    notify: str | None = None  # the joiner's notification level for the room
    role: str | None = None  # the joiner's role in the room
    archived: bool = False  # read-only until unarchived
    favourite: bool = False  # the joiner's mark (false for a room just joined)
    section: int | None = None  # the joiner's section (None for a room just joined)

    def wire(self) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "op": self.OP, "id": self.id, "room": self.room, "last_seq": self.last_seq,
            "private": self.private, "topic": self.topic, "archived": self.archived,
            "favourite": self.favourite, "section": self.section,
            "messages": [m.wire() for m in self.messages], "more": self.more,
        }
        if self.notify is not None:
            obj["notify"] = self.notify
        if self.role is not None:
            obj["role"] = self.role
        return obj


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Error(ServerEvent):
    """A refused request (with its ``id``) or, without one, a word about the connection."""

    OP: ClassVar[str] = "error"
    id: RequestId = None
    code: str
    message: str
    retry_after: int | None = None  # ms, with rate_limited


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PresenceChanged(ServerEvent):
    OP: ClassVar[str] = "presence"
    user: str
    status: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MemberJoined(ServerEvent):
    OP: ClassVar[str] = "joined"
    room: str
    user: str
    by: str | None = None  # who invited them, when they were invited


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MemberLeft(ServerEvent):
    OP: ClassVar[str] = "left"
    room: str
    user: str
    by: str | None = None  # who removed them, when they were kicked or banned


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RoomDeleted(ServerEvent):
    """The room was deleted ``by`` an administrator ("" when the operator deleted it from the
    command line), with its whole log: nothing more of it follows (not an entry of the log:
    there is none left)."""

    OP: ClassVar[str] = "room_deleted"
    room: str
    by: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class UserTyping(ServerEvent):
    """Someone is typing in a room (ephemeral: never stored)."""

    OP: ClassVar[str] = "typing"
    room: str
    user: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ReadMoved(ServerEvent):
    """The user's read marker moved (on another of their connections). ``back`` (an
    ``unread`` request) says it may have moved back, and then carries the room's counts from
    the new marker to ``last_seq``, as a room object gives them: a client holding only the
    latest messages could not count them itself."""

    OP: ClassVar[str] = "read"
    room: str
    seq: int
    back: bool | None = None
    last_seq: int | None = None
    unread: int | None = None
    mentions: int | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Seen(ServerEvent):
    """Another member of a conversation (kind ``dm`` or ``group``) moved their read marker:
    ``user`` has read up to ``seq``. ``back`` (an ``unread``): it moved back, to ``seq``.
    ``seq`` None (null on the wire, always there): ``user`` stopped sharing their read
    receipts, forget their position. Only of members who share their read receipts (or just
    stopped), never of a room's."""

    OP: ClassVar[str] = "seen"
    room: str
    user: str
    seq: int | None
    back: bool | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ReadReceiptsChanged(ServerEvent):
    """The user turned the sharing of their read receipts on or off (``set_read_receipts``),
    on any of their connections, on any node."""

    OP: ClassVar[str] = "read_receipts"
    on: bool


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NotifyChanged(ServerEvent):
    """The user's notification level for a room changed (on any of their connections, on
    any node)."""

    OP: ClassVar[str] = "notify"
    room: str
    notify: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class HiddenChanged(ServerEvent):
    """The user closed a conversation (``hidden_seq``: the room's last seq then) or showed
    it again (null), on any of their connections, on any node."""

    OP: ClassVar[str] = "hidden"
    room: str
    hidden_seq: int | None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FavouriteChanged(ServerEvent):
    """The user marked a room a favourite (``favourite_at``: when, in ms) or unmarked it
    (``on`` false, ``favourite_at`` null), on any of their connections, on any node."""

    OP: ClassVar[str] = "favourite"
    room: str
    on: bool
    favourite_at: int | None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class KeywordsChanged(ServerEvent):
    """The user's notification keywords as they are now, after ``set_keywords`` on another
    of their connections (or over HTTP), on any node."""

    OP: ClassVar[str] = "keywords"
    keywords: Sequence[str]

    def wire(self) -> dict[str, Any]:
        return {"op": self.OP, "keywords": list(self.keywords)}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DraftChanged(ServerEvent):
    """The user's draft of ``room`` (of its thread ``thread``, or of the room itself: None)
    as it is now, stored at ``updated_at`` (ms since the epoch), after ``set_draft`` on
    another of their connections (or over HTTP), or a message they sent from it: an empty
    ``text`` says it is gone. On any node."""

    OP: ClassVar[str] = "draft"
    room: str
    text: str
    updated_at: int
    thread: int | None = None

    def wire(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"op": self.OP, "room": self.room}
        if self.thread is not None:
            obj["thread"] = self.thread
        obj["text"] = self.text
        obj["updated_at"] = self.updated_at
        return obj


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SectionsChanged(ServerEvent):
    """The user's sidebar sections as they are now, in their order, after a change (one
    created, renamed, collapsed or expanded, moved, deleted) on any of their connections, on
    any node. A room whose section is not among them is in the default lists."""

    OP: ClassVar[str] = "sections"
    sections: Sequence[Mapping[str, Any]]

    def wire(self) -> dict[str, Any]:
        return {"op": self.OP, "sections": [dict(section) for section in self.sections]}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SectionChanged(ServerEvent):
    """The user put ``room`` into their ``section`` (None: back into the default lists), on
    any of their connections, on any node."""

    OP: ClassVar[str] = "section"
    room: str
    section: int | None

    def wire(self) -> dict[str, Any]:
        return {"op": self.OP, "room": self.room, "section": self.section}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DndChanged(ServerEvent):
    """The user paused their notifications until ``until`` (ms), or resumed them (null): on
    any of their connections, on any node."""

    OP: ClassVar[str] = "dnd"
    until: int | None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SavedChanged(ServerEvent):
    """The user saved message ``msg_id`` of ``room`` (``on``; ``ts``: when, ``remind_at``:
    their reminder, null for none) or removed it: on any of their connections, on any
    node. Private: nobody else hears of it."""

    OP: ClassVar[str] = "saved"
    room: str
    msg_id: int
    on: bool
    remind_at: int | None
    ts: int
    #: Who set the reminder, when another user did (``remind`` with ``user``); else None
    #: (left out).
    set_by: str | None = None

    def wire(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"op": self.OP, "room": self.room, "msg_id": self.msg_id,
                               "on": self.on, "remind_at": self.remind_at, "ts": self.ts}
        if self.set_by is not None:
            obj["set_by"] = self.set_by
        return obj


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ThreadStateChanged(ServerEvent):
    """The user's state of the thread of root ``msg_id`` of ``room`` changed (they followed
    or unfollowed it, by hand, by replying or by being named; or read it): on any of their
    connections, on any node. Private: nobody else hears of it."""

    OP: ClassVar[str] = "thread_state"
    room: str
    msg_id: int
    following: bool
    read_seq: int

    def wire(self) -> dict[str, Any]:
        return {"op": self.OP, "room": self.room, "msg_id": self.msg_id,
                "following": self.following, "read_seq": self.read_seq}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Reminded(ServerEvent):
    """The reminder the user set on saved message ``msg_id`` of ``room`` is due
    (``remind_at``): ``message``, the message object as it is now. Told once, to every
    connection of the user on every node."""

    OP: ClassVar[str] = "reminder"
    room: str
    msg_id: int
    remind_at: int
    message: Mapping[str, Any]

    def wire(self) -> dict[str, Any]:
        return {"op": self.OP, "room": self.room, "msg_id": self.msg_id,
                "remind_at": self.remind_at, "message": dict(self.message)}


#: What a ``scheduled`` event says happened to an item.
SCHEDULED_ACTIONS: Final = ("added", "changed", "cancelled", "sent", "failed")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ScheduledChanged(ServerEvent):
    """The user's scheduled message ``item`` (an item object as ``scheduled_items`` gives)
    was ``action`` (one of :data:`SCHEDULED_ACTIONS`); ``msg`` {room, seq, msg_id, ts}: the
    message stored, only with ``"sent"``. To every connection of the user, on every node;
    nobody else hears of it."""

    OP: ClassVar[str] = "scheduled"
    action: str
    item: Mapping[str, Any]
    msg: Mapping[str, Any] | None = None

    def wire(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"op": self.OP, "action": self.action, "item": dict(self.item)}
        if self.msg is not None:
            obj["msg"] = dict(self.msg)
        return obj


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ProfileChanged(ServerEvent):
    """``user`` changed their display name, custom status or picture (on any node): to
    their own connections and to everyone who hears of their presence. ``display_name``
    null: none; ``custom_status`` {emoji, text, until} or null: none; ``avatar`` {url} or
    null: none."""

    OP: ClassVar[str] = "profile"
    user: str
    display_name: str | None
    custom_status: Mapping[str, Any] | None
    avatar: Mapping[str, Any] | None = None

    def wire(self) -> dict[str, Any]:
        status = None if self.custom_status is None else dict(self.custom_status)
        avatar = None if self.avatar is None else dict(self.avatar)
        return {"op": self.OP, "user": self.user, "display_name": self.display_name,
                "custom_status": status, "avatar": avatar}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CustomEmojiChanged(ServerEvent):
    """The custom emoji ``name`` was added (``url``: its picture) or removed (``url`` null)
    ``by`` a user at ``ts`` (ms): to every connection of every user, on every node."""

    OP: ClassVar[str] = "custom_emoji"
    name: str
    url: str | None
    by: str
    ts: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class UserGroupChanged(ServerEvent):
    """User group ``group`` (its object, without ``you``) was ``change``d (``"created"``,
    ``"changed"``, ``"deleted"``) ``by`` a user at ``ts`` (ms); ``added`` and ``removed``,
    the members this change added and removed (a deletion removes them all): to every
    connection of every user, on every node."""

    OP: ClassVar[str] = "user_group"
    change: str
    group: Mapping[str, Any]
    added: Sequence[str]
    removed: Sequence[str]
    by: str
    ts: int

    def wire(self) -> dict[str, Any]:
        return {"op": self.OP, "change": self.change, "group": dict(self.group),
                "added": list(self.added), "removed": list(self.removed), "by": self.by,
                "ts": self.ts}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Answer(ServerEvent):
    """An ``ok`` reply carrying fields of its own (``rooms``, ``who``, ``contacts``...).

    The fields are JSON-ready values; the reply's shape per op is in docs/protocol.md."""

    OP: ClassVar[str] = "ok"
    id: RequestId = None
    fields: Mapping[str, Any]

    def wire(self) -> dict[str, Any]:
        return {"op": self.OP, "id": self.id, **self.fields}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Gap(ServerEvent):
    """On resume: more messages were missed in ``room`` than the server replays. The client
    pages them with ``history`` (``after`` = its last seen seq) up to ``last_seq``; live
    messages of the room continue after ``last_seq``."""

    OP: ClassVar[str] = "gap"
    room: str
    after: int
    last_seq: int


# --------------------------------------------------------------------------- parsing


def is_storable(value: str) -> bool:
    """Whether a string can be echoed, stored and sent on: it encodes as UTF-8 (no lone
    surrogate, JSON's ``"\\ud800"``) and holds no U+0000, which a PostgreSQL ``text`` cannot
    hold (the row would be refused, and with it every message committed alongside)."""
    if "\0" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Invalid(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _str(obj: Mapping[str, Any], key: str, *, max_chars: int, min_chars: int = 1) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise _Invalid(f"'{key}' must be a string")
    if not min_chars <= len(value) <= max_chars:
        raise _Invalid(f"'{key}' must be {min_chars}-{max_chars} characters")
    if not is_storable(value):
        raise _Invalid(f"'{key}' must be valid Unicode without U+0000 or lone surrogates")
    return value


def _int(obj: Mapping[str, Any], key: str, *, minimum: int, maximum: int | None = None,
         optional: bool = True) -> int | None:
    value = obj.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Invalid(f"'{key}' must be an integer")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"{minimum}-{maximum}" if maximum is not None else f">= {minimum}"
        raise _Invalid(f"'{key}' must be {bound}")
    return value


def page_size(value: int, *, most: int) -> int:
    """A page size asked for, at most ``most`` (``limits.rooms_page_max``): a larger one is
    not refused but served as a page of ``most``, whose ``more`` says whether more follow (as
    Slack, Zulip and Matrix treat a limit past their own)."""
    return min(value, most)


def _page(obj: Mapping[str, Any], key: str, *, minimum: int, most: int) -> int | None:
    """An optional page size: an integer of at least ``minimum`` (else ``bad_request``),
    clamped to ``most`` (:func:`page_size`)."""
    value = _int(obj, key, minimum=minimum)
    return None if value is None else page_size(value, most=most)


def _room(obj: Mapping[str, Any], key: str = "room") -> str:
    try:
        return normalise_room(obj.get(key))
    except InvalidName as exc:
        raise _Invalid(f"'{key}': {exc}") from None


def _user(obj: Mapping[str, Any], key: str) -> str:
    try:
        return normalise_user(obj.get(key))
    except InvalidName as exc:
        raise _Invalid(f"'{key}': {exc}") from None


def _parse_hello(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> Hello:
    token = _str(obj, "token", max_chars=MAX_TOKEN_CHARS)
    raw = obj.get("resume")
    resume: dict[str, int] | None = None
    if raw is not None:
        if not isinstance(raw, dict) or len(raw) > MAX_RESUME_ROOMS:
            raise _Invalid(f"'resume' must be an object of at most {MAX_RESUME_ROOMS} rooms")
        resume = {}
        for room, seq in raw.items():
            resume[_room({"resume": room}, "resume")] = _int(
                {"seq": seq}, "seq", minimum=0, maximum=MAX_SEQ, optional=False
            ) or 0
    return Hello(id=rid, token=token, resume=resume,
                 rooms_limit=_page(obj, "rooms_limit", minimum=1, most=limits.rooms_page_max),
                 contacts_limit=_page(obj, "contacts_limit", minimum=0,
                                      most=limits.rooms_page_max),
                 idle=_bool(obj, "idle", False) or None)


def _text(obj: Mapping[str, Any], limits: Limits, *, blank: bool = False) -> str:
    """The text of a message; with ``blank`` (a message with files) it may be empty, blank
    or left out."""
    if blank and obj.get("text", "") == "":
        return ""
    text = _str(obj, "text", max_chars=limits.max_text_chars)
    if not blank and not text.strip():
        raise _Invalid("'text' must not be blank")
    return text


def _files(obj: Mapping[str, Any]) -> tuple[int, ...]:
    """The ids of the files a message attaches: 0 to MAX_FILES of them, without repeats."""
    value = obj.get("files", [])
    if not isinstance(value, list) or len(value) > MAX_FILES:
        raise _Invalid(f"'files' must be an array of at most {MAX_FILES} file ids")
    ids = tuple(_int({"files": item}, "files", minimum=1, maximum=MAX_SEQ) or 0
                for item in value)
    if len(set(ids)) != len(ids):
        raise _Invalid("'files' must not name a file twice")
    return ids


def _msg_id(obj: Mapping[str, Any], key: str = "msg_id", *, optional: bool = False
            ) -> int | None:
    return _int(obj, key, minimum=1, maximum=MAX_SEQ, optional=optional)


def _parse_send(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> Send:
    room = _room(obj)
    files = _files(obj)
    # most messages have no poll: one lookup, not a call (the send path)
    poll = None if "poll" not in obj else _poll(obj)
    text = _text(obj, limits, blank=bool(files) and poll is None)
    nonce = _str(obj, "nonce", max_chars=MAX_NONCE_CHARS)
    thread, broadcast = _thread(obj)
    return Send(id=rid, room=room, text=text, nonce=nonce,
                reply_to=_msg_id(obj, "reply_to", optional=True), files=files,
                thread=thread, broadcast=broadcast, poll=poll)


def _poll(obj: Mapping[str, Any]) -> PollSpec | None:
    """A message's ``poll``, if it has one (most have none: one lookup): {options: 2-10
    strings, each 1-100 characters once trimmed, distinct ignoring case; multiple: bool,
    default false}. Its options are kept trimmed."""
    value = obj.get("poll")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Invalid("'poll' must be an object {options, multiple}")
    options = value.get("options")
    if not isinstance(options, list) \
            or not POLL_OPTIONS_MIN <= len(options) <= POLL_OPTIONS_MAX:
        raise _Invalid(f"'poll.options' must be an array of {POLL_OPTIONS_MIN}-"
                       f"{POLL_OPTIONS_MAX} strings")
    kept: list[str] = []
    seen: set[str] = set()
    for option in options:
        if not isinstance(option, str):
            raise _Invalid("'poll.options' must be an array of strings")
        text = option.strip()
        if not 1 <= len(text) <= MAX_POLL_OPTION_CHARS:
            raise _Invalid(f"each of 'poll.options' must be 1-{MAX_POLL_OPTION_CHARS} "
                           "characters, not blank")
        if not is_storable(text):
            raise _Invalid("'poll.options' must be valid Unicode without U+0000 or lone "
                           "surrogates")
        key = text.casefold()
        if key in seen:
            raise _Invalid(f"'poll.options' must be distinct (ignoring case): {text!r} twice")
        seen.add(key)
        kept.append(text)
    multiple = _bool(value, "multiple", False)
    return PollSpec(options=tuple(kept), multiple=multiple)


def _parse_vote(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> Vote:
    room = _room(obj)
    msg_id = _msg_id(obj)
    assert msg_id is not None
    value = obj.get("options")
    if not isinstance(value, list) or len(value) > POLL_OPTIONS_MAX:
        raise _Invalid(f"'options' must be an array of at most {POLL_OPTIONS_MAX} option "
                       "indexes (0-based; [] takes the vote back)")
    options = tuple(_int({"options": item}, "options", minimum=0,
                         maximum=POLL_OPTIONS_MAX - 1, optional=False) or 0 for item in value)
    if len(set(options)) != len(options):
        raise _Invalid("'options' must not name an option twice")
    return Vote(id=rid, room=room, msg_id=msg_id, options=tuple(sorted(options)))


def _parse_close_poll(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> ClosePoll:
    room = _room(obj)
    msg_id = _msg_id(obj)
    assert msg_id is not None
    return ClosePoll(id=rid, room=room, msg_id=msg_id)


def _thread(obj: Mapping[str, Any]) -> tuple[int | None, bool]:
    """A message's ``thread`` (the msg_id of its root, or of a reply in it) and
    ``broadcast`` (only with ``thread``)."""
    if "thread" not in obj and "broadcast" not in obj:
        return None, False  # most messages: two lookups, not three calls (the send path)
    thread = _msg_id(obj, "thread", optional=True)
    broadcast = _bool(obj, "broadcast", False)
    if broadcast and thread is None:
        raise _Invalid("'broadcast' goes with 'thread' (a thread reply also sent to the room)")
    return thread, broadcast


def _parse_thread(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> Thread:
    room = _room(obj)
    msg_id = _msg_id(obj)
    assert msg_id is not None
    return Thread(id=rid, room=room, msg_id=msg_id,
                  before=_int(obj, "before", minimum=1, maximum=MAX_SEQ),
                  limit=_int(obj, "limit", minimum=1, maximum=THREAD_PAGE_MAX))


def _parse_edit_history(obj: Mapping[str, Any], rid: RequestId,
                        limits: Limits) -> EditHistoryRequest:
    room = _room(obj)
    msg_id = _msg_id(obj)
    assert msg_id is not None
    return EditHistoryRequest(id=rid, room=room, msg_id=msg_id)


def _parse_edit(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> Edit:
    room = _room(obj)
    msg_id = _msg_id(obj)
    assert msg_id is not None
    return Edit(id=rid, room=room, msg_id=msg_id, text=_text(obj, limits))


def _parse_delete(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> Delete:
    room = _room(obj)
    msg_id = _msg_id(obj)
    assert msg_id is not None
    return Delete(id=rid, room=room, msg_id=msg_id)


def _parse_remove_preview(obj: Mapping[str, Any], rid: RequestId, limits: Limits
                          ) -> RemovePreview:
    room = _room(obj)
    msg_id = _msg_id(obj)
    assert msg_id is not None
    return RemovePreview(id=rid, room=room, msg_id=msg_id)


def _parse_react(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> React:
    room = _room(obj)
    msg_id = _msg_id(obj)
    assert msg_id is not None
    value = _str(obj, "emoji", max_chars=MAX_CUSTOM_EMOJI_CHARS)
    emoji = value if custom_emoji_name(value) is not None else normalise_emoji(value)
    if emoji is None:
        raise _Invalid("'emoji' must be one emoji, or a custom emoji's :name:")
    return React(id=rid, room=room, msg_id=msg_id, emoji=emoji, on=_bool(obj, "on", True))


def _parse_pin(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> Pin:
    room = _room(obj)
    msg_id = _msg_id(obj)
    assert msg_id is not None
    return Pin(id=rid, room=room, msg_id=msg_id, on=_bool(obj, "on", True))


def _parse_pins(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> Pins:
    return Pins(id=rid, room=_room(obj), before=_int(obj, "before", minimum=1, maximum=MAX_SEQ),
                limit=_int(obj, "limit", minimum=1, maximum=PINS_PAGE_MAX))


def _parse_save(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> Save:
    room = _room(obj)
    msg_id = _msg_id(obj)
    assert msg_id is not None
    return Save(id=rid, room=room, msg_id=msg_id, on=_bool(obj, "on", True),
                remind_at=_int(obj, "remind_at", minimum=0, maximum=MAX_SEQ))


def _parse_remind(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> Remind:
    text = _text(obj, limits)
    nonce = _str(obj, "nonce", max_chars=MAX_NONCE_CHARS)
    remind_at = _int(obj, "remind_at", minimum=0, maximum=MAX_SEQ, optional=False)
    assert remind_at is not None
    user = None if obj.get("user") is None else _user(obj, "user")
    return Remind(id=rid, text=text, remind_at=remind_at, nonce=nonce, user=user)


def _parse_reminders_set(obj: Mapping[str, Any], rid: RequestId,
                         limits: Limits) -> RemindersSet:
    return RemindersSet(id=rid, before=_int(obj, "before", minimum=1, maximum=MAX_SEQ),
                        limit=_page(obj, "limit", minimum=1, most=SAVED_PAGE_MAX))


def _parse_cancel_reminder(obj: Mapping[str, Any], rid: RequestId,
                           limits: Limits) -> CancelReminder:
    msg_id = _msg_id(obj)
    assert msg_id is not None
    return CancelReminder(id=rid, user=_user(obj, "user"), msg_id=msg_id)


def _parse_allow_reminders(obj: Mapping[str, Any], rid: RequestId,
                           limits: Limits) -> AllowReminders:
    on = obj.get("on")
    if on is not None and not isinstance(on, bool):
        raise _Invalid("'on' must be true or false")
    return AllowReminders(id=rid, on=on)


def _parse_follow_thread(obj: Mapping[str, Any], rid: RequestId,
                         limits: Limits) -> FollowThread:
    room = _room(obj)
    msg_id = _msg_id(obj)
    assert msg_id is not None
    return FollowThread(id=rid, room=room, msg_id=msg_id, on=_bool(obj, "on", True))


def _parse_read_thread(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> ReadThread:
    room = _room(obj)
    msg_id = _msg_id(obj)
    assert msg_id is not None
    seq = _int(obj, "seq", minimum=0, maximum=MAX_SEQ, optional=False)
    assert seq is not None
    return ReadThread(id=rid, room=room, msg_id=msg_id, seq=seq)


def thread_cursor(value: object) -> tuple[int, int] | None:
    """A ``threads`` cursor, "<last_ts>:<root msg_id>" (None: none), as a pair.

    Raises:
        ValueError: anything else.
    """
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 41:
        raise ValueError("'before' must be a string \"<last_ts>:<msg_id>\"")
    ts, sep, msg_id = value.partition(":")
    if not (sep and ts.isascii() and ts.isdigit() and msg_id.isascii() and msg_id.isdigit()):
        raise ValueError("'before' must be \"<last_ts>:<msg_id>\" (two integers)")
    pair = int(ts), int(msg_id)
    if pair[0] > MAX_SEQ or pair[1] > MAX_SEQ:
        raise ValueError("'before' is out of range")
    return pair


def _parse_threads(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> Threads:
    try:
        before = thread_cursor(obj.get("before"))
    except ValueError as exc:
        raise _Invalid(str(exc)) from None
    return Threads(id=rid, before=before,
                   limit=_page(obj, "limit", minimum=1, most=THREADS_PAGE_MAX))


def _parse_saved_items(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> SavedItems:
    return SavedItems(id=rid, before=_int(obj, "before", minimum=1, maximum=MAX_SEQ),
                      limit=_page(obj, "limit", minimum=1, most=SAVED_PAGE_MAX))


def _send_at(obj: Mapping[str, Any], *, optional: bool) -> int | None:
    return _int(obj, "send_at", minimum=0, maximum=MAX_SEQ, optional=optional)


def _parse_schedule(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> Schedule:
    """As :func:`_parse_send` (no nonce: the server makes one), and ``send_at``."""
    room = _room(obj)
    files = _files(obj)
    text = _text(obj, limits, blank=bool(files))
    thread, broadcast = _thread(obj)
    send_at = _send_at(obj, optional=False)
    assert send_at is not None
    return Schedule(id=rid, room=room, text=text, send_at=send_at, files=files, thread=thread,
                    broadcast=broadcast, reply_to=_msg_id(obj, "reply_to", optional=True))


def _scheduled_item(obj: Mapping[str, Any]) -> int:
    item = _int(obj, "item", minimum=1, maximum=MAX_SEQ, optional=False)
    assert item is not None
    return item


def _parse_edit_scheduled(obj: Mapping[str, Any], rid: RequestId, limits: Limits
                          ) -> EditScheduled:
    """Each field optional; a text may be blank here (the item may have files: storage
    refuses an item left with neither)."""
    item = _scheduled_item(obj)
    files = _files(obj) if "files" in obj else None
    text = None
    if obj.get("text") is not None:
        text = _str(obj, "text", max_chars=limits.max_text_chars, min_chars=0)
    return EditScheduled(id=rid, item=item, text=text, files=files,
                         send_at=_send_at(obj, optional=True))


def _parse_history(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> History:
    room = _room(obj)
    before = _int(obj, "before", minimum=1, maximum=MAX_SEQ)
    after = _int(obj, "after", minimum=0, maximum=MAX_SEQ)
    if before is not None and after is not None:
        raise _Invalid("give 'before' or 'after', not both")
    limit = _int(obj, "limit", minimum=1, maximum=limits.history_max)
    return History(id=rid, room=room, before=before, after=after, limit=limit)


def _bool(obj: Mapping[str, Any], key: str, default: bool) -> bool:
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise _Invalid(f"'{key}' must be true or false")
    return value


def _idle(obj: Mapping[str, Any]) -> bool:
    if "idle" not in obj:
        raise _Invalid("'idle' is required: true or false")
    return _bool(obj, "idle", False)


def _new_room(obj: Mapping[str, Any]) -> str:
    try:
        return normalise_new_room(obj.get("room"))
    except InvalidName as exc:
        raise _Invalid(f"'room': {exc}") from None


def _recipients(obj: Mapping[str, Any]) -> str | tuple[str, ...]:
    """``dm``'s ``to``: a user name, or an array of 1 to :data:`GROUP_MAX` user names (the
    sender may be among them), repeats in any case folded away (the first spelling kept)."""
    value = obj.get("to")
    if not isinstance(value, list):
        return _user(obj, "to")
    if not value:
        raise _Invalid("'to' must be a user name or a non-empty array of user names")
    if len(value) > MAX_TO_NAMES:
        # Say the bound that was passed: the array's length, not the people it would name
        # (an array of 9 distinct names is refused below, with the people's bound).
        raise _Invalid(f"'to' lists at most {MAX_TO_NAMES} names")
    names: dict[str, str] = {}
    for item in value:
        name = _user({"to": item}, "to")
        names.setdefault(name.lower(), name)
    if len(names) > GROUP_MAX:
        raise _Invalid(f"a conversation has at most {GROUP_MAX} people")
    return tuple(names.values())


def _parse_dm(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> Dm:
    to = _recipients(obj)
    files = _files(obj)
    poll = _poll(obj)
    text = _text(obj, limits, blank=bool(files) and poll is None)
    nonce = _str(obj, "nonce", max_chars=MAX_NONCE_CHARS)
    thread, broadcast = _thread(obj)
    return Dm(id=rid, to=to, text=text, nonce=nonce,
              reply_to=_msg_id(obj, "reply_to", optional=True), files=files,
              thread=thread, broadcast=broadcast, poll=poll)


def _parse_forward(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> Forward:
    """``forward``: exactly one of ``to_room`` (a room name) and ``to`` (as ``dm``'s); the
    comment ``text`` may be empty or left out; ``nonce`` optional."""
    room = _room(obj)
    msg_id = _msg_id(obj) or 0
    # (given means given: a null is a bad name, not an absent field)
    to_room, to = "to_room" in obj, "to" in obj
    if to_room == to:
        raise _Invalid("give exactly one of 'to_room' (a room) and 'to' (a conversation)")
    nonce = _str(obj, "nonce", max_chars=MAX_NONCE_CHARS) if "nonce" in obj else None
    return Forward(id=rid, room=room, msg_id=msg_id,
                   to_room=_room(obj, "to_room") if to_room else None,
                   to=_recipients(obj) if to else None,
                   text=_text(obj, limits, blank=True), nonce=nonce)


def _topic(obj: Mapping[str, Any]) -> str:
    """A topic: 0-256 characters (absent or "" for none)."""
    topic = obj.get("topic", "")
    return _str(obj, "topic", max_chars=MAX_TOPIC_CHARS) if topic != "" else ""


def _parse_create_room(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> CreateRoom:
    room = _new_room(obj)
    private = _bool(obj, "private", False)
    return CreateRoom(id=rid, room=room, private=private, topic=_topic(obj))


def _parse_rooms(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> Rooms:
    query = obj.get("query")
    if query is not None:
        # Room names are lower-case: the search is case-insensitive by folding it too. Only
        # the room-name alphabet: nothing else can match, and nothing needs escaping.
        if not isinstance(query, str) or not query.isascii() or not _ROOM_QUERY.fullmatch(
                query.lower()):
            raise _Invalid("'query' must be 1-64 of a-z 0-9 _ - (any case)")
        query = query.lower()
    after = _room(obj, "after") if obj.get("after") is not None else None
    limit = _page(obj, "limit", minimum=1, most=limits.rooms_page_max)
    joined = _bool(obj, "joined", False) or None
    return Rooms(id=rid, query=query, after=after, limit=limit, joined=joined)


def _parse_who(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> Who:
    after = _user(obj, "after") if obj.get("after") is not None else None
    limit = _page(obj, "limit", minimum=1, most=limits.rooms_page_max)
    return Who(id=rid, room=_room(obj), after=after, limit=limit)


def _parse_contacts(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> Contacts:
    after = _user(obj, "after") if obj.get("after") is not None else None
    limit = _page(obj, "limit", minimum=1, most=limits.rooms_page_max)
    return Contacts(id=rid, after=after, limit=limit)


def _parse_read(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> Read:
    seq = _int(obj, "seq", minimum=0, maximum=MAX_SEQ, optional=False)
    assert seq is not None
    return Read(id=rid, room=_room(obj), seq=seq)


def _parse_read_all(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> ReadAll:
    value = obj.get("rooms")
    if value is None:
        return ReadAll(id=rid)
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_READ_ALL_ROOMS:
        raise _Invalid(f"'rooms' must be an array of 1-{MAX_READ_ALL_ROOMS} room names")
    rooms = dict.fromkeys(_room({"rooms": name}, "rooms") for name in value)
    return ReadAll(id=rid, rooms=tuple(rooms))


def _parse_unread(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> Unread:
    seq = _int(obj, "seq", minimum=0, maximum=MAX_SEQ, optional=False)
    assert seq is not None
    return Unread(id=rid, room=_room(obj), seq=seq)


def _parse_receipts(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> Receipts:
    """``msg_id`` (absent or null: the positions of a conversation's members), ``after`` (a
    user name) and ``limit`` (clamped to :data:`RECEIPTS_PAGE`), which go with ``msg_id``."""
    msg_id = _msg_id(obj, optional=True)
    after = _user(obj, "after") if obj.get("after") is not None else None
    limit = _page(obj, "limit", minimum=1, most=RECEIPTS_PAGE)
    if msg_id is None and (after is not None or limit is not None):
        raise _Invalid("'after' and 'limit' page the readers of a message: give 'msg_id'")
    return Receipts(id=rid, room=_room(obj), msg_id=msg_id, after=after, limit=limit)


def _keywords(obj: Mapping[str, Any]) -> tuple[str, ...]:
    """``keywords``: an array of strings, each 1-64 characters once trimmed (the list as
    stored: :func:`chatd.protocol.keywords.clean_keywords`)."""
    value = obj.get("keywords")
    if not isinstance(value, list):
        raise _Invalid("'keywords' must be an array of strings ([] clears them)")
    try:
        return tuple(clean_keywords(value))
    except ValueError as exc:
        raise _Invalid(f"'keywords': {exc}") from None


def _receipts_on(obj: Mapping[str, Any]) -> bool:
    if "on" not in obj:
        raise _Invalid("'on' is required: true (share read receipts) or false")
    return _bool(obj, "on", True)


def _notify(obj: Mapping[str, Any]) -> str:
    value = obj.get("notify")
    if value not in NOTIFY_LEVELS:
        raise _Invalid("'notify' must be one of " + ", ".join(f'"{v}"' for v in NOTIFY_LEVELS))
    assert isinstance(value, str)
    return value


def _parse_set_dnd(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> SetDnd:
    """``until`` (ms, or null to resume) or ``duration`` (seconds): exactly one of them, so
    that a request that names neither is not taken for a resume."""
    duration = _int(obj, "duration", minimum=1, maximum=MAX_DND_SECONDS)
    if duration is not None:
        if "until" in obj:
            raise _Invalid("give 'until' or 'duration', not both")
        return SetDnd(id=rid, duration=duration)
    if "until" not in obj:
        raise _Invalid("give 'until' (ms since the epoch, or null to resume) or 'duration'")
    return SetDnd(id=rid, until=_int(obj, "until", minimum=0, maximum=MAX_SEQ))


def _profile_text(value: object, key: str, max_chars: int) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"'{key}' must be a string")
    if len(value) > 4 * max_chars:  # before normalising: a bound on the work
        raise _Invalid(f"'{key}' must be at most {max_chars} characters")
    try:
        return clean_profile_text(value, max_chars=max_chars, what=f"'{key}'")
    except ValueError as exc:
        raise _Invalid(str(exc)) from None


def _new_status(value: object) -> NewStatus:
    """A ``custom_status``: null clears it; else {emoji?, text?, until? | duration?}, at
    least an emoji or a text. Whether ``until`` is ahead of the clock is the operation's to
    check (the parser has no clock)."""
    if value is None:
        return NO_STATUS
    if not isinstance(value, dict):
        raise _Invalid("'custom_status' must be an object, or null to clear it")
    emoji = value.get("emoji", "")
    if not isinstance(emoji, str) or len(emoji) > 4 * MAX_EMOJI_CHARS:
        raise _Invalid("'emoji' must be one emoji, or \"\" for none")
    try:
        emoji = status_emoji(emoji)
    except ValueError as exc:
        raise _Invalid(str(exc)) from None
    text = _profile_text(value.get("text", ""), "text", MAX_STATUS_TEXT_CHARS)
    if not emoji and not text:
        raise _Invalid("a custom status needs an 'emoji' or a 'text' (null clears it)")
    duration = _int(value, "duration", minimum=1, maximum=MAX_STATUS_SECONDS)
    until = _int(value, "until", minimum=0, maximum=MAX_SEQ)
    if duration is not None and "until" in value:
        raise _Invalid("give 'until' or 'duration', not both")
    return NewStatus(emoji=emoji, text=text, until=until, duration=duration)


def _parse_set_profile(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> SetProfile:
    """Only the fields given change; null (and "" for the name) clears one. A request that
    gives neither is refused: it would change nothing."""
    if "display_name" not in obj and "custom_status" not in obj:
        raise _Invalid("give 'display_name' or 'custom_status' (null clears one)")
    display_name = None
    if "display_name" in obj:
        value = obj["display_name"]
        display_name = "" if value is None else _profile_text(
            value, "display_name", MAX_DISPLAY_NAME_CHARS)
    custom_status = _new_status(obj["custom_status"]) if "custom_status" in obj else None
    return SetProfile(id=rid, display_name=display_name, custom_status=custom_status)


def _parse_profiles(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> Profiles:
    value = obj.get("users")
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_PROFILES:
        raise _Invalid(f"'users' must be an array of 1-{MAX_PROFILES} user names")
    return Profiles(id=rid, users=tuple(_user({"users": name}, "users") for name in value))


def _parse_search(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> Search:
    query = _str(obj, "query", max_chars=MAX_QUERY_CHARS)
    if not query.strip():
        raise _Invalid("'query' must not be blank")
    room = _room(obj) if obj.get("room") is not None else None
    limit = _int(obj, "limit", minimum=1, maximum=SEARCH_PAGE_MAX)
    return Search(id=rid, query=query, room=room, limit=limit, before=_msg_id(
        obj, "before", optional=True))


def _group_name(obj: Mapping[str, Any]) -> str:
    try:
        return normalise_user_group(obj.get("name"))
    except InvalidName as exc:
        raise _Invalid(f"'name': {exc}") from None


def _group_description(obj: Mapping[str, Any]) -> str:
    return _str(obj, "description", max_chars=MAX_GROUP_DESCRIPTION_CHARS, min_chars=0)


def _user_names(obj: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """An optional array of user names (any case), each once (the first spelling kept)."""
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_GROUP_NAMES:
        raise _Invalid(f"'{key}' must be an array of at most {MAX_GROUP_NAMES} user names")
    names: dict[str, str] = {}
    for name in value:
        checked = _user({key: name}, key)
        names.setdefault(checked.lower(), checked)
    return tuple(names.values())


def _parse_create_user_group(obj: Mapping[str, Any], rid: RequestId,
                             limits: Limits) -> CreateUserGroup:
    description = _group_description(obj) if obj.get("description") is not None else ""
    return CreateUserGroup(id=rid, name=_group_name(obj), description=description,
                           members=_user_names(obj, "members"))


def _parse_edit_user_group(obj: Mapping[str, Any], rid: RequestId,
                           limits: Limits) -> EditUserGroup:
    name = _group_name(obj)
    description = _group_description(obj) if obj.get("description") is not None else None
    add, remove = _user_names(obj, "add"), _user_names(obj, "remove")
    if description is None and not add and not remove:
        raise _Invalid("give 'description', 'add' or 'remove'")
    both = {n.lower() for n in add} & {n.lower() for n in remove}
    if both:
        raise _Invalid(f"{sorted(both)[0]!r} is in both 'add' and 'remove'")
    return EditUserGroup(id=rid, name=name, description=description, add=add, remove=remove)


def _section_name(obj: Mapping[str, Any]) -> str:
    """A section's name as stored: NFC, trimmed, 1-40 characters, one line."""
    name = _profile_text(obj.get("name"), "name", MAX_SECTION_NAME_CHARS)
    if not name:
        raise _Invalid("'name' must not be blank")
    return name


def _section_id(obj: Mapping[str, Any]) -> int:
    section = _int(obj, "section", minimum=1, maximum=MAX_SEQ, optional=False)
    assert section is not None
    return section


def _position(obj: Mapping[str, Any]) -> int | None:
    return _int(obj, "position", minimum=0, maximum=MAX_SEQ)


def _parse_edit_section(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> EditSection:
    """Only the fields given change; a request that gives none is refused."""
    if not any(key in obj for key in ("name", "collapsed", "position")):
        raise _Invalid("give 'name', 'collapsed' or 'position'")
    name = _section_name(obj) if "name" in obj else None
    collapsed = _bool(obj, "collapsed", False) if "collapsed" in obj else None
    position = _int(obj, "position", minimum=0, maximum=MAX_SEQ, optional=False) \
        if "position" in obj else None
    return EditSection(id=rid, section=_section_id(obj), name=name, collapsed=collapsed,
                       position=position)


def _parse_set_draft(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> SetDraft:
    """``text`` is required; "" (or only white space) deletes the draft."""
    room = _room(obj)
    thread = _msg_id(obj, "thread", optional=True)
    text = obj.get("text")
    if not isinstance(text, str):
        raise _Invalid("'text' must be a string (\"\" deletes the draft)")
    if len(text) > limits.max_text_chars:
        raise _Invalid(f"'text' must be at most {limits.max_text_chars} characters")
    if not is_storable(text):
        raise _Invalid("'text' must be valid Unicode without U+0000 or lone surrogates")
    return SetDraft(id=rid, room=room, thread=thread, text=text if text.strip() else "")


def _parse_set_section(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> SetSection:
    """``section`` is required: a section's id, or null for the default lists."""
    if "section" not in obj:
        raise _Invalid("'section' is required: a section's id, or null for none")
    room = _room(obj)
    return SetSection(id=rid, room=room,
                      section=None if obj["section"] is None else _section_id(obj))


_Parser = Callable[[Mapping[str, Any], RequestId, Limits], Request]


def _fields(cls: Callable[..., Request], **readers: Callable[[Mapping[str, Any]], Any]) -> _Parser:
    """The parser of a request made only of simple fields, each checked by its reader."""

    def parse(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> Request:
        return cls(id=rid, **{name: read(obj) for name, read in readers.items()})

    return parse


def _member(obj: Mapping[str, Any]) -> str:
    return _user(obj, "user")


def _reason(obj: Mapping[str, Any]) -> str | None:
    """Why a member is banned or kicked: 1-256 characters, or nothing (absent or "")."""
    if obj.get("reason") in (None, ""):
        return None
    return _str(obj, "reason", max_chars=MAX_REASON_CHARS)


def _role_name(obj: Mapping[str, Any]) -> str:
    value = obj.get("role")
    if value not in ROLES:
        raise _Invalid("'role' must be one of " + ", ".join(f'"{r}"' for r in ROLES))
    assert isinstance(value, str)
    return value


def _parse_ban(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> Ban:
    expires_at = _int(obj, "expires_at", minimum=1, maximum=MAX_SEQ)
    duration = _int(obj, "duration", minimum=1, maximum=MAX_BAN_SECONDS)
    if expires_at is not None and duration is not None:
        raise _Invalid("give 'expires_at' or 'duration', not both")
    delete_messages = _int(obj, "delete_messages", minimum=0, maximum=MAX_DELETE_SECONDS)
    return Ban(id=rid, room=_room(obj), user=_member(obj), reason=_reason(obj),
               expires_at=expires_at, duration=duration, delete_messages=delete_messages or 0)


def _archived(obj: Mapping[str, Any]) -> bool:
    value = obj.get("archived")
    if not isinstance(value, bool):
        raise _Invalid("'archived' must be true or false")
    return value


def _parse_create_room_link(obj: Mapping[str, Any], rid: RequestId,
                            limits: Limits) -> CreateRoomLink:
    # Given, each is a whole number (null is no number); absent, the server's default.
    return CreateRoomLink(
        id=rid, room=_room(obj),
        uses=_int(obj, "uses", minimum=1, maximum=LINK_MAX_USES, optional="uses" not in obj),
        expires_in=_int(obj, "expires_in", minimum=LINK_MIN_SECONDS, maximum=LINK_MAX_SECONDS,
                        optional="expires_in" not in obj))


def _parse_room_links(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> RoomLinks:
    return RoomLinks(id=rid, room=_room(obj),
                     before=_int(obj, "before", minimum=1, maximum=MAX_SEQ),
                     limit=_int(obj, "limit", minimum=1, maximum=LINKS_PAGE_MAX))


def _link_id(obj: Mapping[str, Any]) -> int:
    value = _int(obj, "link", minimum=1, maximum=MAX_SEQ, optional=False)
    assert value is not None
    return value


def _link_token(obj: Mapping[str, Any]) -> str:
    """A join link's token as given (its shape is checked where it is used: a string of
    no token's shape is answered as an unknown token)."""
    return _str(obj, "token", max_chars=MAX_LINK_TOKEN_CHARS)


def _parse_audit(obj: Mapping[str, Any], rid: RequestId, limits: Limits) -> Audit:
    return Audit(id=rid, room=_room(obj),
                 limit=_int(obj, "limit", minimum=1, maximum=AUDIT_PAGE_MAX),
                 before=_int(obj, "before", minimum=1, maximum=MAX_SEQ))

#: Every request op, with its parser: the table that dispatch checks before anything runs.
REQUESTS: Final[dict[str, tuple[type[Request], _Parser]]] = {
    "hello": (Hello, _parse_hello),
    "join": (Join, _fields(Join, room=_room)),
    "leave": (Leave, _fields(Leave, room=_room)),
    "send": (Send, _parse_send),
    "history": (History, _parse_history),
    "ping": (Ping, _fields(Ping)),
    "dm": (Dm, _parse_dm),
    "forward": (Forward, _parse_forward),
    "rooms": (Rooms, _parse_rooms),
    "create_room": (CreateRoom, _parse_create_room),
    "invite": (Invite, _fields(Invite, room=_room, user=_member)),
    "kick": (Kick, _fields(Kick, room=_room, user=_member, reason=_reason)),
    "create_room_link": (CreateRoomLink, _parse_create_room_link),
    "room_links": (RoomLinks, _parse_room_links),
    "revoke_room_link": (RevokeRoomLink, _fields(RevokeRoomLink, link=_link_id)),
    "room_link": (LookAtRoomLink, _fields(LookAtRoomLink, token=_link_token)),
    "join_link": (JoinLink, _fields(JoinLink, token=_link_token)),
    "who": (Who, _parse_who),
    "typing": (Typing, _fields(Typing, room=_room)),
    "idle": (SetIdle, _fields(SetIdle, idle=_idle)),
    "read": (Read, _parse_read),
    "read_all": (ReadAll, _parse_read_all),
    "unread": (Unread, _parse_unread),
    "receipts": (Receipts, _parse_receipts),
    "set_read_receipts": (SetReadReceipts, _fields(SetReadReceipts, on=_receipts_on)),
    "keywords": (Keywords, _fields(Keywords)),
    "set_keywords": (SetKeywords, _fields(SetKeywords, keywords=_keywords)),
    "drafts": (Drafts, _fields(Drafts)),
    "set_draft": (SetDraft, _parse_set_draft),
    "contacts": (Contacts, _parse_contacts),
    "add_contact": (AddContact, _fields(AddContact, user=_member)),
    "remove_contact": (RemoveContact, _fields(RemoveContact, user=_member)),
    "edit": (Edit, _parse_edit),
    "delete": (Delete, _parse_delete),
    "react": (React, _parse_react),
    "remove_preview": (RemovePreview, _parse_remove_preview),
    "set_topic": (SetTopic, _fields(SetTopic, room=_room, topic=_topic)),
    "set_notify": (SetNotify, _fields(SetNotify, room=_room, notify=_notify)),
    "hide": (Hide, _fields(Hide, room=_room, on=lambda obj: _bool(obj, "on", True))),
    "favourite": (Favourite, _fields(Favourite, room=_room,
                                     on=lambda obj: _bool(obj, "on", True))),
    "sections": (Sections, _fields(Sections)),
    "create_section": (CreateSection, _fields(CreateSection, name=_section_name,
                                              position=_position)),
    "edit_section": (EditSection, _parse_edit_section),
    "delete_section": (DeleteSection, _fields(DeleteSection, section=_section_id)),
    "set_section": (SetSection, _parse_set_section),
    "set_dnd": (SetDnd, _parse_set_dnd),
    "set_profile": (SetProfile, _parse_set_profile),
    "profiles": (Profiles, _parse_profiles),
    "set_role": (SetRole, _fields(SetRole, room=_room, user=_member, role=_role_name)),
    "ban": (Ban, _parse_ban),
    "unban": (Unban, _fields(Unban, room=_room, user=_member)),
    "bans": (Bans, _fields(Bans, room=_room)),
    "audit": (Audit, _parse_audit),
    "archive": (Archive, _fields(Archive, room=_room, archived=_archived)),
    "search": (Search, _parse_search),
    "pin": (Pin, _parse_pin),
    "pins": (Pins, _parse_pins),
    "edit_history": (EditHistoryRequest, _parse_edit_history),
    "vote": (Vote, _parse_vote),
    "close_poll": (ClosePoll, _parse_close_poll),
    "custom_emoji": (CustomEmojiList, _fields(CustomEmojiList)),
    "thread": (Thread, _parse_thread),
    "save": (Save, _parse_save),
    "remind": (Remind, _parse_remind),
    "reminders_set": (RemindersSet, _parse_reminders_set),
    "cancel_reminder": (CancelReminder, _parse_cancel_reminder),
    "allow_reminders": (AllowReminders, _parse_allow_reminders),
    "saved_items": (SavedItems, _parse_saved_items),
    "schedule": (Schedule, _parse_schedule),
    "scheduled_items": (ScheduledItems, _fields(ScheduledItems)),
    "edit_scheduled": (EditScheduled, _parse_edit_scheduled),
    "cancel_scheduled": (CancelScheduled, _fields(CancelScheduled, item=_scheduled_item)),
    "follow_thread": (FollowThread, _parse_follow_thread),
    "read_thread": (ReadThread, _parse_read_thread),
    "threads": (Threads, _parse_threads),
    "user_groups": (UserGroupList, _fields(UserGroupList)),
    "user_group": (UserGroupInfo, _fields(UserGroupInfo, name=_group_name)),
    "create_user_group": (CreateUserGroup, _parse_create_user_group),
    "edit_user_group": (EditUserGroup, _parse_edit_user_group),
    "delete_user_group": (DeleteUserGroup, _fields(DeleteUserGroup, name=_group_name)),
}

#: Every op a server sends, with the event classes that carry it.
EVENTS: Final[dict[str, tuple[type[ServerEvent], ...]]] = {
    "welcome": (Welcome,),
    "ok": (Ok, Sent, HistoryPage, JoinAccepted, Answer),
    "error": (Error,),
    "message": (MessagePosted,),
    "edited": (MessageEdited,),
    "deleted": (MessageDeleted,),
    "reaction": (ReactionChanged,),
    "pinned": (MessagePinned,),
    "topic": (TopicChanged,),
    "role": (RoleChanged,),
    "banned": (MemberBanned,),
    "unbanned": (MemberUnbanned,),
    "kicked": (MemberKicked,),
    "archived": (RoomArchived,),
    "preview": (PreviewChanged,),
    "voted": (PollVoted,),
    "poll_closed": (PollClosed,),
    "room_deleted": (RoomDeleted,),
    "presence": (PresenceChanged,),
    "joined": (MemberJoined,),
    "left": (MemberLeft,),
    "gap": (Gap,),
    "typing": (UserTyping,),
    "read": (ReadMoved,),
    "seen": (Seen,),
    "read_receipts": (ReadReceiptsChanged,),
    "notify": (NotifyChanged,),
    "hidden": (HiddenChanged,),
    "favourite": (FavouriteChanged,),
    "sections": (SectionsChanged,),
    "keywords": (KeywordsChanged,),
    "draft": (DraftChanged,),
    "section": (SectionChanged,),
    "dnd": (DndChanged,),
    "profile": (ProfileChanged,),
    "custom_emoji": (CustomEmojiChanged,),
    "saved": (SavedChanged,),
    "reminder": (Reminded,),
    "scheduled": (ScheduledChanged,),
    "thread_state": (ThreadStateChanged,),
    "user_group": (UserGroupChanged,),
}


def parse_request(obj: object, limits: Limits) -> Request | RequestError:
    """Turn a decoded JSON value into a request, or into the error the peer should be told.

    Unknown fields are ignored, so that newer clients can talk to older servers.
    """
    if not isinstance(obj, dict):
        return RequestError(code=codes.BAD_FRAME, message="a frame must be a JSON object")
    rid = obj.get("id")
    if isinstance(rid, bool) or not (
        rid is None
        or isinstance(rid, int)
        or (isinstance(rid, str) and len(rid) <= MAX_ID_CHARS and is_storable(rid))
    ):
        return RequestError(
            code=codes.BAD_REQUEST,
            message=f"'id' must be an integer or a string of at most {MAX_ID_CHARS} characters",
        )
    op = obj.get("op")
    if not isinstance(op, str):
        return RequestError(id=rid, code=codes.BAD_REQUEST, message="'op' must be a string")
    entry = REQUESTS.get(op)
    if entry is None:
        return RequestError(id=rid, code=codes.UNKNOWN_OP, message=f"unknown op {op[:64]!r}")
    try:
        return entry[1](obj, rid, limits)
    except _Invalid as exc:
        return RequestError(id=rid, code=codes.BAD_REQUEST, message=exc.message)
