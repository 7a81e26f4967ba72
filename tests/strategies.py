"""Hypothesis strategies shared by the tests: valid protocol requests, and byte streams.

Requests are built as the parser would return them, so that a test can compare
``parse_request(r.wire())`` with ``r`` itself: room names are already lower-case, texts are
not blank, and every field is inside the limits of :class:`chatd.protocol.Limits`.
"""

from __future__ import annotations

import itertools
import json
import unicodedata
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from chatd.protocol import (
    GROUP_MAX,
    LINK_MAX_SECONDS,
    LINK_MAX_USES,
    LINK_MIN_SECONDS,
    LINKS_PAGE_MAX,
    MAX_LINK_TOKEN_CHARS,
    MAX_SECTION_NAME_CHARS,
    NOTIFY_LEVELS,
    REQUESTS,
    ROLES,
    AddContact,
    AllowReminders,
    Answer,
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
    CustomEmojiChanged,
    CustomEmojiList,
    Delete,
    DeleteSection,
    DeleteUserGroup,
    Dm,
    DndChanged,
    DraftChanged,
    Drafts,
    Edit,
    EditHistoryRequest,
    EditScheduled,
    EditSection,
    EditUserGroup,
    Error,
    Favourite,
    FavouriteChanged,
    FollowThread,
    Forward,
    Gap,
    Hello,
    HiddenChanged,
    Hide,
    History,
    HistoryPage,
    Invite,
    Join,
    JoinAccepted,
    JoinLink,
    Keywords,
    KeywordsChanged,
    Kick,
    Leave,
    Limits,
    LookAtRoomLink,
    MemberBanned,
    MemberJoined,
    MemberKicked,
    MemberLeft,
    MemberUnbanned,
    MessageDeleted,
    MessageEdited,
    MessagePinned,
    MessagePosted,
    NewStatus,
    NotifyChanged,
    Ok,
    Pin,
    Ping,
    Pins,
    PollClosed,
    PollSpec,
    PollVoted,
    PresenceChanged,
    PreviewChanged,
    ProfileChanged,
    Profiles,
    React,
    ReactionChanged,
    Read,
    ReadAll,
    ReadMoved,
    ReadReceiptsChanged,
    ReadThread,
    Receipts,
    Remind,
    Reminded,
    RemindersSet,
    RemoveContact,
    RemovePreview,
    Request,
    RequestId,
    RevokeRoomLink,
    RoleChanged,
    RoomArchived,
    RoomDeleted,
    RoomLinks,
    Rooms,
    Save,
    SavedChanged,
    SavedItems,
    Schedule,
    ScheduledChanged,
    ScheduledItems,
    Search,
    SectionChanged,
    Sections,
    SectionsChanged,
    Seen,
    Send,
    Sent,
    ServerEvent,
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
    ThreadStateChanged,
    TopicChanged,
    Typing,
    Unban,
    Unread,
    UserGroupChanged,
    UserGroupInfo,
    UserGroupList,
    UserTyping,
    Vote,
    Welcome,
    Who,
    dm_room_name,
    group_room_name,
)
from chatd.protocol.codes import CODES
from chatd.protocol.events import (
    AUDIT_PAGE_MAX,
    MAX_BAN_SECONDS,
    MAX_DELETE_SECONDS,
    MAX_DND_SECONDS,
    MAX_FILES,
    MAX_ID_CHARS,
    MAX_NONCE_CHARS,
    MAX_POLL_OPTION_CHARS,
    MAX_PROFILES,
    MAX_QUERY_CHARS,
    MAX_REASON_CHARS,
    MAX_SEQ,
    MAX_STATUS_SECONDS,
    MAX_TOKEN_CHARS,
    MAX_TOPIC_CHARS,
    NO_STATUS,
    PINS_PAGE_MAX,
    POLL_OPTIONS_MAX,
    POLL_OPTIONS_MIN,
    RECEIPTS_PAGE,
    SAVED_PAGE_MAX,
    SCHEDULED_ACTIONS,
    SEARCH_PAGE_MAX,
    THREAD_PAGE_MAX,
    THREADS_PAGE_MAX,
)
from chatd.protocol.keywords import MAX_KEYWORD_CHARS
from chatd.protocol.profiles import MAX_DISPLAY_NAME_CHARS, MAX_STATUS_TEXT_CHARS
from chatd.protocol.user_groups import MAX_GROUP_DESCRIPTION_CHARS

__all__ = [
    "any_room_names",
    "byte_streams",
    "chunked",
    "conversation_names",
    "error_events",
    "events_not_replies",
    "frames",
    "group_names",
    "group_people",
    "json_values",
    "message_events",
    "moderation_events",
    "nonces",
    "notify_levels",
    "profile_texts",
    "replies",
    "reply_ids",
    "request_ids",
    "requests",
    "room_names",
    "seqs",
    "server_json_values",
    "texts",
    "tokens",
    "user_names",
    "welcome_events",
]

DEFAULT_LIMITS = Limits()

ROOM_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789_-"
USER_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"

room_names = st.text(ROOM_ALPHABET, min_size=1, max_size=64)
"""Valid room names, already in their normal (lower-case) form."""

user_names = st.text(USER_ALPHABET, min_size=1, max_size=32)
#: User groups' names as the protocol keeps them (lower case; never a group mention's word).
user_group_names = st.from_regex(r"[a-z0-9_.-]{1,32}", fullmatch=True).filter(
    lambda name: name not in {"room", "all", "everyone", "here"})
_group_member_lists = st.lists(user_names, max_size=4, unique_by=str.lower).map(tuple)
"""Valid user names."""

conversation_names = st.builds(dm_room_name, user_names, user_names)
"""Names of 1:1 conversations, in their normal form."""

group_people = st.lists(user_names, min_size=3, max_size=GROUP_MAX, unique_by=str.lower)
"""The people of a group conversation: 3 to GROUP_MAX user names, none twice in any case."""

_recipients = st.lists(user_names, min_size=1, max_size=GROUP_MAX,
                       unique_by=str.lower).map(tuple)
"""``dm``'s ``to`` as an array: 1 to GROUP_MAX names (the sender may be one), none twice."""

group_names = group_people.map(group_room_name)
"""Names of group conversations, in their normal form."""

any_room_names = room_names | conversation_names | group_names
"""What may name an existing room: a room's name or a conversation's (1:1 or group)."""

seqs = st.integers(min_value=0, max_value=MAX_SEQ)
"""Message sequence numbers (0: nothing seen yet)."""

# What a request's strings may hold: any character but U+0000, which storage cannot keep
# nor lone surrogates, which are not Unicode text at all.
_storable = st.characters(codec="utf-8", exclude_characters="\0")

request_ids: st.SearchStrategy[RequestId] = st.none() | st.integers() | st.text(
    _storable, max_size=MAX_ID_CHARS
)
"""What a client may put in ``id``: nothing, an integer or a short string."""

nonces = st.text(_storable, min_size=1, max_size=MAX_NONCE_CHARS)
msg_ids = st.integers(min_value=1, max_value=MAX_SEQ)
file_ids = st.lists(msg_ids, max_size=MAX_FILES, unique=True).map(tuple)
"""What ``send`` and ``dm`` attach: up to MAX_FILES distinct ids."""
poll_option_texts = st.text(_storable, min_size=1, max_size=MAX_POLL_OPTION_CHARS).map(
    str.strip).filter(bool)
"""A poll's options as the parser keeps them: 1-100 characters, trimmed."""
poll_specs = st.builds(
    PollSpec,
    options=st.lists(poll_option_texts, min_size=POLL_OPTIONS_MIN, max_size=POLL_OPTIONS_MAX,
                     unique_by=str.casefold).map(tuple),
    multiple=st.booleans())
"""The ``poll`` of ``send`` and ``dm`` as the parser gives it back."""
vote_choices = st.lists(st.integers(0, POLL_OPTIONS_MAX - 1), max_size=POLL_OPTIONS_MAX,
                        unique=True).map(lambda c: tuple(sorted(c)))
"""A ``vote``'s options as the parser gives them back: distinct indexes, sorted."""
emojis = st.sampled_from(["👍", "❤️", "😂", "🎉", "👍🏽", "🏳️\u200d🌈", "🇫🇷", "1️⃣"])
"""Emoji in their normal (fully-qualified) form, as the parser gives them back."""
custom_emoji_names = st.from_regex(r"[a-z0-9_+-]{1,32}", fullmatch=True)
"""Custom emoji's names (migration 0031)."""
reaction_emojis = emojis | custom_emoji_names.map(lambda name: f":{name}:")
"""What a reaction may carry: a Unicode emoji, or a custom emoji's ``:name:``."""
tokens = st.text(_storable, min_size=1, max_size=MAX_TOKEN_CHARS)
link_tokens = st.text(_storable, min_size=1, max_size=MAX_LINK_TOKEN_CHARS)
notify_levels = st.sampled_from(NOTIFY_LEVELS)
"""A member's notification levels for a room."""
roles = st.sampled_from(ROLES)
"""A member's roles in a room."""
reasons = st.none() | st.text(_storable, min_size=1, max_size=MAX_REASON_CHARS)
"""Why a member is banned or kicked (None: no reason given)."""


# Profile text: anything but what chatd.protocol.profiles refuses (controls, format
# characters, surrogates, line and paragraph separators), in the form it is stored.
_profile_chars = st.characters(codec="utf-8",
                               exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp"))


def profile_texts(max_chars: int) -> st.SearchStrategy[str]:
    """Display names and status texts as stored: 1 to ``max_chars`` code points, NFC,
    trimmed."""
    return st.text(_profile_chars, min_size=1, max_size=max_chars).map(
        lambda t: unicodedata.normalize("NFC", t).strip()).filter(
        lambda t: 0 < len(t) <= max_chars)


#: A user's notification keywords as stored (chatd.protocol.keywords.clean_keywords):
#: trimmed, 1-64 characters without a control character, distinct ignoring case.
keyword_lists = st.lists(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1,
            max_size=MAX_KEYWORD_CHARS).map(str.strip).filter(bool),
    max_size=5, unique_by=str.lower).map(tuple)


def _new_statuses() -> st.SearchStrategy[NewStatus]:
    """A ``custom_status`` of ``set_profile`` as the parser gives it back."""
    words = st.just("") | profile_texts(MAX_STATUS_TEXT_CHARS)
    return st.builds(
        NewStatus, emoji=st.just("") | emojis, text=words,
        until=st.none() | st.integers(0, MAX_SEQ)).filter(lambda s: bool(s.emoji or s.text)) \
        | st.builds(NewStatus, emoji=emojis, text=words,
                    duration=st.integers(1, MAX_STATUS_SECONDS))


def texts(limits: Limits = DEFAULT_LIMITS) -> st.SearchStrategy[str]:
    """Message texts: 1 to ``limits.max_text_chars`` characters, not all white space."""
    return st.text(_storable, min_size=1, max_size=limits.max_text_chars).filter(
        lambda t: bool(t.strip()))


def _history(limits: Limits) -> st.SearchStrategy[History]:
    bounds = st.one_of(
        st.just({}),
        st.builds(lambda b: {"before": b}, st.integers(1, MAX_SEQ)),
        st.builds(lambda a: {"after": a}, seqs),
    )
    limit = st.none() | st.integers(1, limits.history_max)
    return st.builds(
        lambda rid, room, bound, lim: History(id=rid, room=room, limit=lim, **bound),
        request_ids, any_room_names, bounds, limit,
    )


def requests(limits: Limits = DEFAULT_LIMITS) -> st.SearchStrategy[Request]:
    """Any valid request, of every op in ``REQUESTS``."""
    by_op: dict[str, st.SearchStrategy[Request]] = {
        "hello": st.builds(
            Hello, id=request_ids, token=tokens,
            resume=st.none() | st.dictionaries(room_names, seqs, max_size=5),
            rooms_limit=st.none() | st.integers(1, limits.rooms_page_max),
            contacts_limit=st.none() | st.integers(0, limits.rooms_page_max),
            idle=st.none() | st.just(True),
        ),
        "join": st.builds(Join, id=request_ids, room=any_room_names),
        "leave": st.builds(Leave, id=request_ids, room=any_room_names),
        "send": st.builds(Send, id=request_ids, room=any_room_names, text=texts(limits),
                          nonce=nonces, reply_to=st.none() | msg_ids, files=file_ids)
        | st.builds(Send, id=request_ids, room=any_room_names, text=texts(limits),
                    nonce=nonces, thread=msg_ids, broadcast=st.booleans())
        | st.builds(Send, id=request_ids, room=any_room_names, text=st.sampled_from(["", " "]),
                    nonce=nonces, files=file_ids.filter(bool))
        | st.builds(Send, id=request_ids, room=any_room_names, text=texts(limits),
                    nonce=nonces, files=file_ids, poll=poll_specs),
        "history": _history(limits),
        "ping": st.builds(Ping, id=request_ids),
        "dm": st.builds(Dm, id=request_ids, to=user_names | _recipients, text=texts(limits),
                        nonce=nonces,
                        reply_to=st.none() | msg_ids, files=file_ids,
                        thread=st.none() | msg_ids)
        | st.builds(Dm, id=request_ids, to=user_names, text=texts(limits), nonce=nonces,
                    thread=msg_ids, broadcast=st.just(True))
        | st.builds(Dm, id=request_ids, to=user_names, text=texts(limits), nonce=nonces,
                    poll=poll_specs),
        "forward": st.builds(Forward, id=request_ids, room=any_room_names, msg_id=msg_ids,
                             to_room=any_room_names, text=st.just("") | texts(limits),
                             nonce=st.none() | nonces)
        | st.builds(Forward, id=request_ids, room=any_room_names, msg_id=msg_ids,
                    to=user_names | _recipients, text=st.just("") | texts(limits),
                    nonce=st.none() | nonces),
        "vote": st.builds(Vote, id=request_ids, room=any_room_names, msg_id=msg_ids,
                          options=vote_choices),
        "close_poll": st.builds(ClosePoll, id=request_ids, room=any_room_names,
                                msg_id=msg_ids),
        "edit": st.builds(Edit, id=request_ids, room=any_room_names, msg_id=msg_ids,
                          text=texts(limits)),
        "delete": st.builds(Delete, id=request_ids, room=any_room_names, msg_id=msg_ids),
        "remove_preview": st.builds(RemovePreview, id=request_ids, room=any_room_names,
                                    msg_id=msg_ids),
        "react": st.builds(React, id=request_ids, room=any_room_names, msg_id=msg_ids,
                           emoji=reaction_emojis, on=st.booleans()),
        "custom_emoji": st.builds(CustomEmojiList, id=request_ids),
        "user_groups": st.builds(UserGroupList, id=request_ids),
        "user_group": st.builds(UserGroupInfo, id=request_ids, name=user_group_names),
        "create_user_group": st.builds(
            CreateUserGroup, id=request_ids, name=user_group_names,
            description=st.text(_storable, max_size=MAX_GROUP_DESCRIPTION_CHARS),
            members=_group_member_lists),
        "edit_user_group": st.builds(
            EditUserGroup, id=request_ids, name=user_group_names,
            description=st.none() | st.text(_storable, max_size=MAX_GROUP_DESCRIPTION_CHARS),
            add=_group_member_lists, remove=_group_member_lists,
        ).filter(lambda e: (e.description is not None or e.add or e.remove)
                 and not {n.lower() for n in e.add} & {n.lower() for n in e.remove}),
        "delete_user_group": st.builds(DeleteUserGroup, id=request_ids, name=user_group_names),
        "pin": st.builds(Pin, id=request_ids, room=any_room_names, msg_id=msg_ids,
                         on=st.booleans()),
        "pins": st.builds(Pins, id=request_ids, room=any_room_names,
                          before=st.none() | st.integers(1, MAX_SEQ),
                          limit=st.none() | st.integers(1, PINS_PAGE_MAX)),
        "edit_history": st.builds(EditHistoryRequest, id=request_ids, room=any_room_names,
                                  msg_id=msg_ids),
        "thread": st.builds(Thread, id=request_ids, room=any_room_names, msg_id=msg_ids,
                            before=st.none() | st.integers(1, MAX_SEQ),
                            limit=st.none() | st.integers(1, THREAD_PAGE_MAX)),
        "save": st.builds(Save, id=request_ids, room=any_room_names, msg_id=msg_ids,
                          on=st.booleans(), remind_at=st.none() | st.integers(0, MAX_SEQ)),
        "remind": st.builds(Remind, id=request_ids, text=texts(limits),
                            remind_at=st.integers(0, MAX_SEQ), nonce=nonces,
                            user=st.none() | user_names),
        "reminders_set": st.builds(RemindersSet, id=request_ids,
                                   before=st.none() | st.integers(1, MAX_SEQ),
                                   limit=st.none() | st.integers(1, SAVED_PAGE_MAX)),
        "cancel_reminder": st.builds(CancelReminder, id=request_ids, user=user_names,
                                     msg_id=msg_ids),
        "allow_reminders": st.builds(AllowReminders, id=request_ids,
                                     on=st.none() | st.booleans()),
        "saved_items": st.builds(SavedItems, id=request_ids,
                                 before=st.none() | st.integers(1, MAX_SEQ),
                                 limit=st.none() | st.integers(1, SAVED_PAGE_MAX)),
        "schedule": st.builds(Schedule, id=request_ids, room=any_room_names,
                              text=texts(limits), send_at=st.integers(0, MAX_SEQ),
                              reply_to=st.none() | msg_ids, files=file_ids)
        | st.builds(Schedule, id=request_ids, room=any_room_names, text=texts(limits),
                    send_at=st.integers(0, MAX_SEQ), thread=msg_ids, broadcast=st.booleans()),
        "scheduled_items": st.builds(ScheduledItems, id=request_ids),
        "edit_scheduled": st.builds(
            EditScheduled, id=request_ids, item=msg_ids,
            text=st.none() | st.just("") | texts(limits),
            files=st.none() | file_ids, send_at=st.none() | st.integers(0, MAX_SEQ)),
        "cancel_scheduled": st.builds(CancelScheduled, id=request_ids, item=msg_ids),
        "follow_thread": st.builds(FollowThread, id=request_ids, room=any_room_names,
                                   msg_id=msg_ids, on=st.booleans()),
        "read_thread": st.builds(ReadThread, id=request_ids, room=any_room_names,
                                 msg_id=msg_ids, seq=st.integers(0, MAX_SEQ)),
        "threads": st.builds(Threads, id=request_ids,
                             before=st.none() | st.tuples(st.integers(0, MAX_SEQ),
                                                          st.integers(0, MAX_SEQ)),
                             limit=st.none() | st.integers(1, THREADS_PAGE_MAX)),
        "set_topic": st.builds(
            SetTopic, id=request_ids, room=any_room_names,
            topic=st.just("") | st.text(_storable, min_size=1, max_size=MAX_TOPIC_CHARS)),
        "set_notify": st.builds(SetNotify, id=request_ids, room=any_room_names,
                                notify=notify_levels),
        "hide": st.builds(Hide, id=request_ids, room=any_room_names, on=st.booleans()),
        "favourite": st.builds(Favourite, id=request_ids, room=any_room_names,
                               on=st.booleans()),
        "read_all": st.builds(ReadAll, id=request_ids, rooms=st.none() | st.lists(
            any_room_names, min_size=1, max_size=5, unique=True).map(tuple)),
        "sections": st.builds(Sections, id=request_ids),
        "keywords": st.builds(Keywords, id=request_ids),
        "set_keywords": st.builds(SetKeywords, id=request_ids, keywords=keyword_lists),
        "drafts": st.builds(Drafts, id=request_ids),
        "set_draft": st.builds(SetDraft, id=request_ids, room=any_room_names,
                               thread=st.none() | msg_ids,
                               text=st.just("") | texts(limits)),
        "create_section": st.builds(CreateSection, id=request_ids,
                                    name=profile_texts(MAX_SECTION_NAME_CHARS),
                                    position=st.none() | st.integers(0, MAX_SEQ)),
        "edit_section": st.builds(
            EditSection, id=request_ids, section=msg_ids,
            name=st.none() | profile_texts(MAX_SECTION_NAME_CHARS),
            collapsed=st.none() | st.booleans(), position=st.none() | st.integers(0, MAX_SEQ),
        ).filter(lambda r: (r.name, r.collapsed, r.position) != (None, None, None)),
        "delete_section": st.builds(DeleteSection, id=request_ids, section=msg_ids),
        "set_section": st.builds(SetSection, id=request_ids, room=any_room_names,
                                 section=st.none() | msg_ids),
        "set_dnd": st.builds(SetDnd, id=request_ids,
                             until=st.none() | st.integers(0, MAX_SEQ))
        | st.builds(SetDnd, id=request_ids, duration=st.integers(1, MAX_DND_SECONDS)),
        "set_profile": st.builds(
            SetProfile, id=request_ids,
            display_name=st.none() | st.just("") | profile_texts(MAX_DISPLAY_NAME_CHARS),
            custom_status=st.none() | st.just(NO_STATUS) | _new_statuses(),
        ).filter(lambda r: r.display_name is not None or r.custom_status is not None),
        "profiles": st.builds(Profiles, id=request_ids, users=st.lists(
            user_names, min_size=1, max_size=MAX_PROFILES).map(tuple)),
        "rooms": st.builds(Rooms, id=request_ids),
        "create_room": st.builds(
            CreateRoom, id=request_ids, room=room_names, private=st.booleans(),
            topic=st.just("") | st.text(_storable, min_size=1, max_size=MAX_TOPIC_CHARS),
        ),
        "invite": st.builds(Invite, id=request_ids, room=any_room_names, user=user_names),
        "create_room_link": st.builds(
            CreateRoomLink, id=request_ids, room=any_room_names,
            uses=st.none() | st.integers(1, LINK_MAX_USES),
            expires_in=st.none() | st.integers(LINK_MIN_SECONDS, LINK_MAX_SECONDS)),
        "room_links": st.builds(RoomLinks, id=request_ids, room=any_room_names,
                                before=st.none() | st.integers(1, MAX_SEQ),
                                limit=st.none() | st.integers(1, LINKS_PAGE_MAX)),
        "revoke_room_link": st.builds(RevokeRoomLink, id=request_ids, link=msg_ids),
        "room_link": st.builds(LookAtRoomLink, id=request_ids, token=link_tokens),
        "join_link": st.builds(JoinLink, id=request_ids, token=link_tokens),
        "kick": st.builds(Kick, id=request_ids, room=any_room_names, user=user_names,
                          reason=reasons),
        "set_role": st.builds(SetRole, id=request_ids, room=any_room_names, user=user_names,
                              role=roles),
        "ban": st.builds(Ban, id=request_ids, room=any_room_names, user=user_names,
                         reason=reasons, expires_at=st.none() | st.integers(1, MAX_SEQ),
                         delete_messages=st.integers(0, MAX_DELETE_SECONDS))
        | st.builds(Ban, id=request_ids, room=any_room_names, user=user_names,
                    reason=reasons, duration=st.integers(1, MAX_BAN_SECONDS),
                    delete_messages=st.integers(0, MAX_DELETE_SECONDS)),
        "unban": st.builds(Unban, id=request_ids, room=any_room_names, user=user_names),
        "bans": st.builds(Bans, id=request_ids, room=any_room_names),
        "audit": st.builds(Audit, id=request_ids, room=any_room_names,
                           limit=st.none() | st.integers(1, AUDIT_PAGE_MAX),
                           before=st.none() | st.integers(1, MAX_SEQ)),
        "archive": st.builds(Archive, id=request_ids, room=any_room_names,
                             archived=st.booleans()),
        "who": st.builds(Who, id=request_ids, room=any_room_names),
        "typing": st.builds(Typing, id=request_ids, room=any_room_names),
        "idle": st.builds(SetIdle, id=request_ids, idle=st.booleans()),
        "read": st.builds(Read, id=request_ids, room=any_room_names, seq=seqs),
        "unread": st.builds(Unread, id=request_ids, room=any_room_names, seq=seqs),
        "receipts": st.builds(Receipts, id=request_ids, room=any_room_names, msg_id=msg_ids,
                              after=st.none() | user_names,
                              limit=st.none() | st.integers(1, RECEIPTS_PAGE))
        | st.builds(Receipts, id=request_ids, room=any_room_names),
        "set_read_receipts": st.builds(SetReadReceipts, id=request_ids, on=st.booleans()),
        "contacts": st.builds(Contacts, id=request_ids, after=st.none() | user_names,
                              limit=st.none() | st.integers(1, limits.rooms_page_max)),
        "add_contact": st.builds(AddContact, id=request_ids, user=user_names),
        "remove_contact": st.builds(RemoveContact, id=request_ids, user=user_names),
        "search": st.builds(
            Search, id=request_ids,
            query=st.text(_storable, min_size=1, max_size=MAX_QUERY_CHARS).filter(str.strip),
            room=st.none() | any_room_names, limit=st.none() | st.integers(1, SEARCH_PAGE_MAX),
            before=st.none() | msg_ids),
    }
    missing = set(REQUESTS) - set(by_op)
    assert not missing, f"tests/strategies.py has no strategy for {sorted(missing)}"
    return st.one_of(*by_op.values())


# JSON values, with strings that may hold anything (lone surrogates included: json.dumps
# escapes them, and a peer can send "\ud800" just as well).
_any_text = st.text(st.characters(exclude_categories=()), max_size=20)
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _any_text,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(_any_text, inner, max_size=4),
    max_leaves=12,
)
"""Any JSON value."""


def _near_request(obj: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A request object with some fields replaced by arbitrary JSON values."""
    return st.dictionaries(
        st.sampled_from([*obj, "id", "op", "room", "text", "before", "limit"]), json_values,
        max_size=3,
    ).map(lambda changes: {**obj, **changes})


def frames(limits: Limits = DEFAULT_LIMITS) -> st.SearchStrategy[bytes]:
    """One line (with its newline) as a client might send it: a valid request, a request
    with wrong fields, any JSON value, blank, CRLF-ended, or bytes that are not JSON at all."""
    valid = requests(limits).map(lambda r: r.wire())
    line = st.one_of(
        valid.map(json.dumps),
        valid.flatmap(_near_request).map(json.dumps),
        json_values.map(json.dumps),
        st.sampled_from(["", " ", "\t", "{", "[" * 2000, '{"op":1}', "null"]),
    ).map(lambda text: text.encode("utf-8"))
    raw = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b""))
    return st.tuples(line | raw, st.sampled_from([b"\n", b"\r\n"])).map(b"".join)


def byte_streams(limits: Limits = DEFAULT_LIMITS) -> st.SearchStrategy[bytes]:
    """What may arrive on a connection: a run of frames, random bytes, or both mixed."""
    parts = st.lists(frames(limits) | st.binary(max_size=64), max_size=12)
    return parts.map(b"".join)


def chunked(data: bytes) -> st.SearchStrategy[list[bytes]]:
    """``data`` cut at arbitrary points into non-empty chunks."""
    return st.lists(st.integers(1, max(len(data) - 1, 1)), unique=True, max_size=20).map(
        lambda cuts: _cut(data, sorted(c for c in cuts if c < len(data)))
    )


def _cut(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


# --------------------------------------------------------------------------- server events
# Events as a server sends them, for the client side of the protocol: each one is what
# chatd.protocol.parse_event gives back for its wire() (so sequences are tuples, optional
# fields are None only where the wire leaves them out, and every string can be UTF-8).

_json_text = st.text(max_size=20)  # no lone surrogates: a server's frames are UTF-8
server_json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _json_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_json_text, inner, max_size=4),
    max_leaves=12,
)
"""Any JSON value a server may send (no NaN, no lone surrogates)."""

reply_ids: st.SearchStrategy[int | str] = st.integers(0, 2**53) | st.text(
    min_size=1, max_size=MAX_ID_CHARS
)
"""The id of a reply to a request that had one."""

_reactions = st.lists(
    st.tuples(emojis, st.lists(user_names, min_size=1, max_size=3).map(tuple)), max_size=3,
).map(tuple)

message_events = st.builds(
    MessagePosted, room=any_room_names, seq=st.integers(1, MAX_SEQ),
    msg_id=st.integers(1, MAX_SEQ), sender=user_names, text=st.text(max_size=50),
    ts=st.integers(0, 2**53), nonce=nonces, rev=st.none() | st.integers(1, MAX_SEQ),
    edited_ts=st.none() | st.integers(0, 2**53), deleted=st.booleans(), reactions=_reactions,
    reply_to=st.none() | msg_ids,
    quote=st.none() | st.fixed_dictionaries({"from": user_names, "text": st.text(max_size=20)}),
    mentions=st.lists(user_names, max_size=3).map(tuple),
    user_groups=st.lists(user_group_names, max_size=2).map(tuple),
    files=st.lists(st.fixed_dictionaries({
        "id": msg_ids, "name": st.text(min_size=1, max_size=20), "size": st.integers(0, 2**40),
        "content_type": st.sampled_from(["image/png", "application/octet-stream"]),
        "url": st.just("/api/files/1/x"),
    }), max_size=2).map(tuple),
    pinned=st.none() | st.fixed_dictionaries({"by": user_names, "ts": st.integers(0, 2**53),
                                               "seq": st.integers(1, MAX_SEQ)}),
    previews=st.lists(st.fixed_dictionaries({
        "url": st.text(min_size=1, max_size=20), "title": st.text(min_size=1, max_size=20),
        "description": st.text(max_size=20), "site": st.text(max_size=10)}),
        max_size=1).map(tuple),
    thread=st.none() | msg_ids, broadcast=st.booleans(),
    replies=st.none() | st.fixed_dictionaries({
        "count": st.integers(1, 2**31), "last_ts": st.integers(0, 2**53),
        "users": st.lists(user_names, min_size=1, max_size=5).map(tuple)}),
    poll=st.none() | st.fixed_dictionaries({
        "options": st.lists(st.fixed_dictionaries({
            "text": poll_option_texts, "votes": st.integers(0, 3),
            "voters": st.lists(user_names, max_size=3)}), min_size=2, max_size=3),
        "multiple": st.booleans(), "closed": st.just(False)}),
    forwarded=st.none() | st.fixed_dictionaries({
        "from": user_names, "ts": st.integers(0, 2**53), "text": st.text(max_size=20),
        "room": st.none() | any_room_names, "seq": st.none() | st.integers(1, MAX_SEQ)}),
).filter(lambda m: (m.rev is None or m.rev != m.seq) and (m.quote is None or m.reply_to)
         and (m.thread is not None or not m.broadcast))
"""``message`` events (and the message objects of join and history replies)."""

change_events: st.SearchStrategy[ServerEvent] = st.one_of(
    st.builds(MessageEdited, room=any_room_names, seq=st.integers(1, MAX_SEQ),
              msg_id=msg_ids, text=st.text(max_size=50), sender=user_names,
              ts=st.integers(0, 2**53), mentions=st.lists(user_names, max_size=3).map(tuple),
              user_groups=st.lists(user_group_names, max_size=2).map(tuple)),
    st.builds(MessageDeleted, room=any_room_names, seq=st.integers(1, MAX_SEQ),
              msg_id=msg_ids, by=user_names, ts=st.integers(0, 2**53),
              unpinned=st.sampled_from([None, True])),
    st.builds(ReactionChanged, room=any_room_names, seq=st.integers(1, MAX_SEQ),
              msg_id=msg_ids, emoji=emojis, user=user_names, on=st.booleans(),
              ts=st.integers(0, 2**53)),
    st.builds(MessagePinned, room=any_room_names, seq=st.integers(1, MAX_SEQ),
              msg_id=msg_ids, by=user_names, on=st.booleans(), ts=st.integers(0, 2**53)),
    st.builds(TopicChanged, room=any_room_names, seq=st.integers(1, MAX_SEQ),
              topic=st.text(max_size=30), by=user_names, ts=st.integers(0, 2**53)),
    st.builds(PollVoted, room=any_room_names, seq=st.integers(1, MAX_SEQ), msg_id=msg_ids,
              user=user_names, options=vote_choices, ts=st.integers(0, 2**53)),
    st.builds(PollClosed, room=any_room_names, seq=st.integers(1, MAX_SEQ), msg_id=msg_ids,
              by=user_names, ts=st.integers(0, 2**53)),
    st.builds(PreviewChanged, room=any_room_names, seq=st.integers(1, MAX_SEQ),
              msg_id=msg_ids, ts=st.integers(0, 2**53)),
    st.builds(PreviewChanged, room=any_room_names, seq=st.integers(1, MAX_SEQ),
              msg_id=msg_ids, ts=st.integers(0, 2**53), url=st.text(min_size=1, max_size=30),
              title=st.text(min_size=1, max_size=30), description=st.text(max_size=30),
              site=st.text(max_size=10),
              image=st.none() | st.fixed_dictionaries({
                  "id": msg_ids, "thumbnail_url": st.just("/api/thumbnails/1"),
                  "width": st.integers(1, 400), "height": st.integers(1, 400)})),
)
"""The entries of a room's log that change a message (``edited``, ``deleted``,
``reaction``, ``pinned``, ``preview``, ``voted``, ``poll_closed``) or the room
(``topic``)."""

_server_reasons = st.none() | st.text(min_size=1, max_size=40)
moderation_events: st.SearchStrategy[ServerEvent] = st.one_of(
    st.builds(RoleChanged, room=room_names, seq=st.integers(1, MAX_SEQ), user=user_names,
              role=roles, by=user_names, ts=st.integers(0, 2**53)),
    st.builds(MemberBanned, room=room_names, seq=st.integers(1, MAX_SEQ), user=user_names,
              by=user_names, ts=st.integers(0, 2**53), reason=_server_reasons,
              expires_at=st.none() | st.integers(0, 2**53)),
    st.builds(MemberUnbanned, room=room_names, seq=st.integers(1, MAX_SEQ), user=user_names,
              by=user_names, ts=st.integers(0, 2**53)),
    st.builds(MemberKicked, room=room_names, seq=st.integers(1, MAX_SEQ), user=user_names,
              by=user_names, ts=st.integers(0, 2**53), reason=_server_reasons),
    st.builds(RoomArchived, room=room_names, seq=st.integers(1, MAX_SEQ),
              archived=st.booleans(), by=user_names, ts=st.integers(0, 2**53)),
)
"""The entries of a room's log that moderate it (``role``, ``banned``, ``unbanned``,
``kicked``, ``archived``)."""

_room_objects = st.fixed_dictionaries(
    {"room": any_room_names, "kind": st.sampled_from(["room", "dm", "group"]),
     "private": st.booleans(), "topic": st.text(max_size=20), "last_seq": seqs},
    optional={"peer": user_names, "peers": st.lists(user_names, min_size=2, max_size=7),
              "unread": st.integers(0, 999), "notify": notify_levels,
              "archived": st.booleans(), "pins": st.integers(1, 100),
              "hidden_seq": seqs, "favourite": st.booleans(),
              "favourite_at": st.integers(0, 2**53),
              "section": st.none() | st.integers(1, 2**53)},
)
_section_objects = st.fixed_dictionaries(
    {"id": st.integers(1, 2**53), "name": profile_texts(MAX_SECTION_NAME_CHARS),
     "collapsed": st.booleans()})
_presences = st.fixed_dictionaries(
    {"user": user_names, "status": st.sampled_from(["online", "offline"])}
)
_codes = st.sampled_from(sorted(CODES))


def _fields_of_answer() -> st.SearchStrategy[dict[str, Any]]:
    keys = st.text(min_size=1, max_size=10).filter(lambda k: k not in ("op", "id"))
    return st.dictionaries(keys, server_json_values, max_size=4)


welcome_events = st.builds(
    Welcome, id=st.none() | reply_ids, user=st.fixed_dictionaries(
        {"id": st.integers(1, 2**31), "name": user_names}),
    rooms=st.lists(_room_objects, max_size=3).map(tuple),
    contacts=st.lists(_presences, max_size=3).map(tuple),
    ping_interval=st.integers(1, 3600), max_text_chars=st.none() | st.integers(1, 100_000),
    rooms_more=st.none() | st.booleans(), contacts_more=st.none() | st.booleans(),
    now=st.none() | st.integers(0, 2**53),
    sections=st.none() | st.lists(_section_objects, max_size=3).map(tuple),
    keywords=st.none() | keyword_lists,
)
"""``welcome`` events."""

error_events = st.builds(
    Error, id=st.none() | reply_ids, code=_codes, message=st.text(max_size=40),
    retry_after=st.none() | st.integers(0, 60_000),
)
"""``error`` frames, about a request (with its id) or about the connection."""

events_not_replies: st.SearchStrategy[ServerEvent] = st.one_of(
    message_events,
    change_events,
    moderation_events,
    st.builds(PresenceChanged, user=user_names, status=st.sampled_from(["online", "offline"])),
    st.builds(MemberJoined, room=any_room_names, user=user_names, by=st.none() | user_names),
    st.builds(MemberLeft, room=any_room_names, user=user_names, by=st.none() | user_names),
    st.builds(UserTyping, room=any_room_names, user=user_names),
    st.builds(ReadMoved, room=any_room_names, seq=seqs),
    st.builds(ReadMoved, room=any_room_names, seq=seqs, back=st.just(True), last_seq=seqs,
              unread=st.integers(0, 999), mentions=st.integers(0, 999)),
    st.builds(NotifyChanged, room=any_room_names, notify=notify_levels),
    st.builds(Seen, room=any_room_names, user=user_names, seq=seqs,
              back=st.none() | st.just(True)),
    st.builds(ReadReceiptsChanged, on=st.booleans()),
    st.builds(HiddenChanged, room=any_room_names, hidden_seq=st.none() | seqs),
    st.builds(FavouriteChanged, room=any_room_names, on=st.booleans(),
              favourite_at=st.none() | st.integers(0, 2**53)),
    st.builds(SectionsChanged, sections=st.lists(_section_objects, max_size=3).map(tuple)),
    st.builds(KeywordsChanged, keywords=keyword_lists),
    st.builds(DraftChanged, room=any_room_names, thread=st.none() | st.integers(1, 2**53),
              text=st.text(max_size=20), updated_at=st.integers(0, 2**53)),
    st.builds(SectionChanged, room=any_room_names, section=st.none() | st.integers(1, 2**53)),
    st.builds(DndChanged, until=st.none() | st.integers(0, 2**53)),
    st.builds(ProfileChanged, user=user_names,
              display_name=st.none() | profile_texts(MAX_DISPLAY_NAME_CHARS),
              custom_status=st.none() | st.fixed_dictionaries({
                  "emoji": st.just("") | emojis,
                  "text": st.just("") | profile_texts(MAX_STATUS_TEXT_CHARS),
                  "until": st.none() | st.integers(0, 2**53)}),
              avatar=st.none() | st.builds(
                  lambda digits: {"url": f"/api/avatars/{digits}"},
                  st.text("0123456789abcdef", min_size=64, max_size=64))),
    st.builds(Gap, room=any_room_names, after=seqs, last_seq=seqs),
    st.builds(RoomDeleted, room=room_names, by=user_names),
    st.builds(CustomEmojiChanged, name=custom_emoji_names, by=user_names,
              ts=st.integers(0, 2**53),
              url=st.none() | st.builds(lambda digits: f"/api/emoji/images/{digits}",
                                        st.text("0123456789abcdef", min_size=64,
                                                max_size=64))),
    st.builds(SavedChanged, room=any_room_names, msg_id=msg_ids, on=st.booleans(),
              remind_at=st.none() | st.integers(0, 2**53), ts=st.integers(0, 2**53),
              set_by=st.none() | user_names),
    st.builds(Reminded, room=any_room_names, msg_id=msg_ids, remind_at=st.integers(0, 2**53),
              message=message_events.map(lambda m: m.wire())),
    st.builds(ScheduledChanged, action=st.sampled_from(SCHEDULED_ACTIONS),
              item=st.fixed_dictionaries({"item": msg_ids, "room": any_room_names,
                                          "text": st.text(max_size=20),
                                          "send_at": st.integers(0, 2**53)}),
              msg=st.none() | st.fixed_dictionaries({"room": any_room_names, "seq": seqs,
                                                     "msg_id": msg_ids,
                                                     "ts": st.integers(0, 2**53)})),
    st.builds(ThreadStateChanged, room=any_room_names, msg_id=msg_ids, following=st.booleans(),
              read_seq=st.integers(0, MAX_SEQ)),
    st.builds(UserGroupChanged, change=st.sampled_from(["created", "changed", "deleted"]),
              group=st.fixed_dictionaries({
                  "name": user_group_names, "description": st.text(max_size=20),
                  "members": st.integers(0, 1000), "by": st.none() | user_names,
                  "ts": st.integers(0, 2**53)}),
              added=_group_member_lists, removed=_group_member_lists, by=user_names,
              ts=st.integers(0, 2**53)),
)
"""Every event a ready session receives that is not a reply (``message``, ``presence``,
``joined``, ``left``, ``typing``, ``read``, ``seen``, ``notify``, ``dnd``, ``profile``,
``read_receipts``, ``gap``, ``custom_emoji``, ``saved``, ``reminder``, ``scheduled``,
``thread_state``, ``user_group``)."""

_pages = st.lists(message_events | change_events | moderation_events, max_size=3).map(tuple)

# The request a reply answers (an instance of each type the reply can answer) with the
# strategy of that reply; the reply's id is the caller's to set.
_ANSWERED_BY: list[tuple[list[Request], st.SearchStrategy[ServerEvent]]] = [
    ([Send(room="a", text="t", nonce="n"), Dm(to="bob", text="t", nonce="n"),
      Edit(room="a", msg_id=1, text="t"), Delete(room="a", msg_id=1),
      React(room="a", msg_id=1, emoji="👍"), Pin(room="a", msg_id=1),
      SetTopic(room="a", topic="t"), RemovePreview(room="a", msg_id=1),
      Vote(room="a", msg_id=1, options=(0,)), ClosePoll(room="a", msg_id=1),
      Forward(room="a", msg_id=1, to_room="b")],
     st.builds(Sent, room=any_room_names, seq=st.integers(1, MAX_SEQ),
               msg_id=st.integers(1, MAX_SEQ), ts=st.integers(0, 2**53),
               duplicate=st.booleans(), unchanged=st.booleans())),
    ([History(room="a")],
     st.builds(HistoryPage, room=any_room_names, messages=_pages, more=st.booleans(),
               last_seq=st.none() | seqs)),
    ([Join(room="a"), JoinLink(token="t")],
     st.builds(JoinAccepted, room=any_room_names, last_seq=seqs, messages=_pages,
               more=st.booleans(), private=st.booleans(), topic=st.text(max_size=20),
               notify=st.none() | notify_levels, role=st.none() | roles,
               archived=st.booleans(), favourite=st.booleans(),
               section=st.none() | st.integers(1, 2**53))),
    ([Leave(room="a"), Ping(), Typing(room="a"), SetIdle(idle=True)], st.builds(Ok)),
    ([Rooms(), CreateRoom(room="a"), Invite(room="a", user="b"), Kick(room="a", user="b"),
      Who(room="a"), Read(room="a", seq=1), Unread(room="a", seq=1), ReadAll(), Contacts(),
      AddContact(user="b"), RemoveContact(user="b"), SetNotify(room="a", notify="none"),
      Hide(room="a"), Favourite(room="a"), Receipts(room="a", msg_id=1),
      SetReadReceipts(on=False),
      Hide(room="a"), Favourite(room="a"), Sections(), CreateSection(name="a"),
      EditSection(section=1, collapsed=True), DeleteSection(section=1),
      SetSection(room="a", section=None), Keywords(), SetKeywords(keywords=("a",)),
      SetKeywords(keywords=()), Drafts(), SetDraft(room="a", text="t"),
      SetDraft(room="a", thread=1, text=""),
      SetDnd(duration=60), SetProfile(display_name="Ann"), Profiles(users=("ann",)),
      SetRole(room="a", user="b", role="moderator"), Ban(room="a", user="b"),
      Unban(room="a", user="b"), Bans(room="a"), Audit(room="a"), Search(query="q"),
      Archive(room="a", archived=True), Pins(room="a"), CustomEmojiList(),
      Thread(room="a", msg_id=1), Save(room="a", msg_id=1), SavedItems(),
      EditHistoryRequest(room="a", msg_id=1),
      Remind(text="t", remind_at=1, nonce="n"), Remind(text="t", remind_at=1, nonce="n",
                                                        user="bob"),
      RemindersSet(), CancelReminder(user="bob", msg_id=1), AllowReminders(on=False),
      CreateRoomLink(room="a"), RoomLinks(room="a"), RevokeRoomLink(link=1),
      LookAtRoomLink(token="t"),
      Schedule(room="a", text="t", send_at=1), ScheduledItems(), EditScheduled(item=1),
      CancelScheduled(item=1),
      FollowThread(room="a", msg_id=1), ReadThread(room="a", msg_id=1, seq=1), Threads(),
      UserGroupList(), UserGroupInfo(name="a"), CreateUserGroup(name="a"),
      EditUserGroup(name="a", description=""), DeleteUserGroup(name="a")],
     st.builds(Answer, fields=_fields_of_answer())),
]


def replies() -> st.SearchStrategy[tuple[Request, ServerEvent]]:
    """A request (without an id) and a reply it may get (an ``ok`` of its shape, or an
    ``error``), the reply's id still to be set to the request's."""
    pairs = [
        st.tuples(st.sampled_from(requests_), st.one_of(ok, error_events))
        for requests_, ok in _ANSWERED_BY
    ]
    covered = {type(r) for requests_, _ in _ANSWERED_BY for r in requests_}
    missing = {cls.__name__ for cls, _ in REQUESTS.values()} - {c.__name__ for c in covered}
    assert missing == {"Hello"}, f"tests/strategies.py has no reply for {sorted(missing)}"
    return st.one_of(*pairs)
