"""Every operation of the socket protocol, with what it needs, checked before it runs.

In the spirit of ergo's ``irc/commands.go``: one row per request type names the function that
does it and its preconditions, and :func:`chatd.connection.Connection` checks those in one
place (a session, a rate bucket) instead of each operation starting with the same lines.
Adding an operation is one function and one row here (docs/design.md walks through one).
A test checks that every request the protocol can parse has a row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from chatd.actions import (
    contacts,
    dnd,
    drafts,
    emoji,
    keywords,
    messages,
    moderation,
    profile,
    receipts,
    room_links,
    rooms,
    saved,
    scheduled,
    search,
    sections,
    session,
    threads,
    user_groups,
)
from chatd.actions.context import App, Bucket, Caller, Result
from chatd.protocol import (
    AddContact,
    AllowReminders,
    Archive,
    Audit,
    Ban,
    Bans,
    CancelReminder,
    CancelScheduled,
    ClosePoll,
    Contacts,
    CreateRoom,
    CreateRoomLink,
    CreateSection,
    CreateUserGroup,
    CustomEmojiList,
    Delete,
    DeleteSection,
    DeleteUserGroup,
    Dm,
    Drafts,
    Edit,
    EditHistoryRequest,
    EditScheduled,
    EditSection,
    EditUserGroup,
    Favourite,
    FollowThread,
    Forward,
    Hello,
    Hide,
    History,
    Invite,
    Join,
    JoinLink,
    Keywords,
    Kick,
    Leave,
    LookAtRoomLink,
    Pin,
    Ping,
    Pins,
    Profiles,
    React,
    Read,
    ReadAll,
    ReadThread,
    Receipts,
    Remind,
    RemindersSet,
    RemoveContact,
    RemovePreview,
    Request,
    RevokeRoomLink,
    RoomLinks,
    Rooms,
    Save,
    SavedItems,
    Schedule,
    ScheduledItems,
    Search,
    Sections,
    Send,
    SetDnd,
    SetDraft,
    SetIdle,
    SetKeywords,
    SetNotify,
    SetProfile,
    SetReadReceipts,
    SetRole,
    SetSection,
    SetTopic,
    Thread,
    Threads,
    Typing,
    Unban,
    Unread,
    UserGroupInfo,
    UserGroupList,
    Vote,
    Who,
)

__all__ = ["OPERATIONS", "ROOMS", "SEARCH", "SEND", "TYPING", "USER_SEND", "USER_TYPING",
           "Bucket", "Operation"]

# typing events per connection: a burst, then this many per second (clients send one every few
# seconds while a person types; more is noise for everyone else in the room)
TYPING_BURST = 5
TYPING_RATE = 1.0
IDLE_BURST = 10
IDLE_RATE = 0.5


SEND = Bucket("send", lambda limits: (limits.send_rate, limits.send_burst),
              "too many messages; slow down")
#: Sends per user over all their connections (and the HTTP routes that post, incoming
#: webhooks included): a user with fifty connections gets the user's rate, not fifty times a
#: connection's. Taken together with :data:`SEND`, all or nothing.
USER_SEND = Bucket("user_send", lambda limits: (limits.user_send_rate, limits.user_send_burst),
                   "too many messages from your account; slow down", per_user=True)
TYPING = Bucket("typing", lambda limits: (TYPING_RATE, TYPING_BURST), "typing too often")
#: Searches per user, over all their sessions and the HTTP API: ``limits.searches_per_minute``
#: at once, refilled at that many a minute (each costs the database a few milliseconds).
#: A page reports idle after minutes without input and active at the next: a connection
#: that flips faster is broken or hostile (each change may be a write for the other nodes).
IDLE = Bucket("idle", lambda limits: (IDLE_RATE, IDLE_BURST), "idle reported too often")
SEARCH = Bucket("search", lambda limits: (limits.searches_per_minute / 60,
                                          limits.searches_per_minute),
                "too many searches; try again in a moment", per_user=True)
#: typing per user, over all their connections (``[limits] user_typing_rate``): a person types
#: in one place at a time; a few open tabs never come near it, fifty connections in a loop do.
USER_TYPING = Bucket("user_typing",
                     lambda limits: (limits.user_typing_rate, limits.user_typing_burst),
                     "typing too often", per_user=True)
#: What a send or a change takes from: its connection's bucket and its user's.
SENDS = (SEND, USER_SEND)
#: New rooms per user (see :data:`chatd.actions.rooms.ROOMS`); ``join`` takes from it itself,
#: and only when it creates the room, so its row names no bucket.
ROOMS = rooms.ROOMS

Handler = Callable[[App, Caller, Any], Awaitable[Result]]


@dataclasses.dataclass(frozen=True, slots=True)
class Operation:
    """One request type's row: ``run`` does it; ``session``: only after a good ``hello``;
    ``rate``: the buckets each request takes a token from first (one from each, or it is
    refused and takes none)."""

    run: Handler
    session: bool = True
    rate: tuple[Bucket, ...] = ()


OPERATIONS: dict[type[Request], Operation] = {
    Hello: Operation(session.hello, session=False),
    Ping: Operation(session.ping, session=False),
    Join: Operation(rooms.join),
    Leave: Operation(rooms.leave),
    History: Operation(rooms.history),
    Rooms: Operation(rooms.overview),
    CreateRoom: Operation(rooms.create_room, rate=(ROOMS,)),
    Invite: Operation(rooms.invite),
    # Join links to a room: made by those who may invite; looking at one and joining with
    # one take a token each, so that tokens are not tried in bulk.
    CreateRoomLink: Operation(room_links.create_room_link, rate=(room_links.LINKS,)),
    RoomLinks: Operation(room_links.room_links),
    RevokeRoomLink: Operation(room_links.revoke_room_link),
    LookAtRoomLink: Operation(room_links.look_at_room_link, rate=(room_links.LINK_TRIES,)),
    JoinLink: Operation(room_links.join_link, rate=(room_links.LINK_TRIES,)),
    Who: Operation(rooms.who),
    Typing: Operation(rooms.typing, rate=(TYPING, USER_TYPING)),
    SetIdle: Operation(session.set_idle, rate=(IDLE,)),
    Read: Operation(rooms.read),
    Unread: Operation(rooms.unread),
    # "Mark all as read": every marker of the user's in one statement.
    ReadAll: Operation(rooms.read_all, rate=(rooms.READ_ALLS,)),
    SetNotify: Operation(rooms.set_notify),
    # Closing a conversation: a marker of the user's membership, like the read marker.
    Hide: Operation(rooms.hide),
    # Favourites: a mark of the user's membership too.
    Favourite: Operation(rooms.favourite),
    # Read receipts: the markers as others see them; the user's choice to share them.
    # ``receipts`` of a message takes a token of receipts.RECEIPTS itself (a conversation's
    # markers take none), so its row names no bucket.
    Receipts: Operation(receipts.receipts),
    SetReadReceipts: Operation(receipts.set_read_receipts),
    # Notification keywords: a list on the user's row.
    Keywords: Operation(keywords.keywords),
    SetKeywords: Operation(keywords.set_keywords, rate=(keywords.KEYWORD_CHANGES,)),
    # Drafts: the user's alone, a row per room and thread; typing saves them often.
    Drafts: Operation(drafts.drafts),
    SetDraft: Operation(drafts.set_draft, rate=(drafts.DRAFT_CHANGES,)),
    # The user's own sidebar sections: their list, and a mark of each membership.
    Sections: Operation(sections.sections),
    CreateSection: Operation(sections.create_section, rate=(sections.SECTION_CHANGES,)),
    EditSection: Operation(sections.edit_section, rate=(sections.SECTION_CHANGES,)),
    DeleteSection: Operation(sections.delete_section, rate=(sections.SECTION_CHANGES,)),
    SetSection: Operation(sections.set_section, rate=(sections.SECTION_CHANGES,)),
    SetDnd: Operation(dnd.set_dnd),
    Send: Operation(messages.send, rate=SENDS),
    Dm: Operation(messages.dm, rate=SENDS),
    # A forward is a send (to a room or a conversation): its buckets.
    Forward: Operation(messages.forward, rate=SENDS),
    # Changes are entries of the log like messages, and cost what a send does: one bucket.
    Edit: Operation(messages.edit, rate=SENDS),
    Delete: Operation(messages.delete, rate=SENDS),
    React: Operation(messages.react, rate=SENDS),
    Pin: Operation(messages.pin, rate=SENDS),
    Vote: Operation(messages.vote, rate=SENDS),
    ClosePoll: Operation(messages.close_poll, rate=SENDS),
    Pins: Operation(rooms.pins),
    EditHistoryRequest: Operation(rooms.edit_history),
    Thread: Operation(rooms.thread),
    RemovePreview: Operation(messages.remove_preview, rate=SENDS),
    SetTopic: Operation(rooms.set_topic, rate=SENDS),
    # Moderation: entries of the log too, committed before they are answered.
    SetRole: Operation(moderation.set_role, rate=SENDS),
    Ban: Operation(moderation.ban, rate=SENDS),
    Unban: Operation(moderation.unban, rate=SENDS),
    Kick: Operation(moderation.kick, rate=SENDS),
    Bans: Operation(moderation.bans),
    Audit: Operation(moderation.audit),
    Archive: Operation(moderation.archive, rate=SENDS),
    Contacts: Operation(contacts.contacts),
    AddContact: Operation(contacts.add_contact),
    RemoveContact: Operation(contacts.remove_contact),
    Search: Operation(search.search, rate=(SEARCH,)),
    # Profiles: a change is told to the user's rooms and contacts, so it has a bucket.
    SetProfile: Operation(profile.set_profile, rate=(profile.PROFILE_CHANGES,)),
    Profiles: Operation(profile.profiles),
    CustomEmojiList: Operation(emoji.listed),
    # Saved messages: private to the user, no entry of any log.
    Save: Operation(saved.save, rate=(saved.SAVES,)),
    # a note written and saved: a send's buckets and a save's
    Remind: Operation(saved.remind, rate=(*SENDS, saved.SAVES)),
    # reminders set for others: the setter's list, a cancel (a save's change, for the
    # reminded user), and whether one takes them
    RemindersSet: Operation(saved.reminders_set),
    CancelReminder: Operation(saved.cancel_reminder, rate=(saved.SAVES,)),
    # Rate-limited in the action, and only when it sets: reading the setting is free.
    AllowReminders: Operation(saved.allow_reminders),
    SavedItems: Operation(saved.saved_items),
    # Scheduled messages: the user's own until sent (then a send, as the user).
    Schedule: Operation(scheduled.schedule, rate=(scheduled.SCHEDULES,)),
    ScheduledItems: Operation(scheduled.scheduled_items),
    EditScheduled: Operation(scheduled.edit_scheduled, rate=(scheduled.SCHEDULES,)),
    CancelScheduled: Operation(scheduled.cancel_scheduled, rate=(scheduled.SCHEDULES,)),
    # Followed threads: private to the user, no entry of any log.
    FollowThread: Operation(threads.follow_thread, rate=(threads.THREAD_STATES,)),
    ReadThread: Operation(threads.read_thread, rate=(threads.THREAD_STATES,)),
    Threads: Operation(threads.threads),
    # User groups: server-wide, told to everyone; a change has a bucket per user.
    UserGroupList: Operation(user_groups.user_groups),
    UserGroupInfo: Operation(user_groups.user_group),
    CreateUserGroup: Operation(user_groups.create_user_group,
                               rate=(user_groups.GROUP_CHANGES,)),
    EditUserGroup: Operation(user_groups.edit_user_group, rate=(user_groups.GROUP_CHANGES,)),
    DeleteUserGroup: Operation(user_groups.delete_user_group,
                               rate=(user_groups.GROUP_CHANGES,)),
}
