"""The JSON shapes of rooms and messages, shared by the socket protocol and the HTTP API, so
that a client sees one room or one message the same way on both."""

from __future__ import annotations

import urllib.parse
from typing import Any

from chatd.protocol import (
    CustomEmojiChanged,
    Entry,
    MemberBanned,
    MemberKicked,
    MemberUnbanned,
    MessageDeleted,
    MessageEdited,
    MessagePinned,
    MessagePosted,
    PollClosed,
    PollVoted,
    PreviewChanged,
    ProfileChanged,
    ReactionChanged,
    RoleChanged,
    RoomArchived,
    TopicChanged,
    UserGroupChanged,
    default_notify,
)
from chatd.protocol.markup import group_mention
from chatd.protocol.names import is_conversation
from chatd.storage import (
    AdminRoom,
    AuditEntry,
    Ban,
    CustomEmoji,
    CustomStatus,
    FileInfo,
    Member,
    Message,
    Poll,
    Preview,
    Profile,
    Room,
    User,
    UserGroup,
    UserGroupChange,
    split_mentions,
)

__all__ = ["AVATAR_PATH", "EMOJI_IMAGE_PATH", "admin_room_object", "admin_user_object",
           "audit_object",
           "avatar_object", "ban_object", "contact_object", "custom_emoji_event",
           "custom_emoji_object", "file_object", "file_url",
           "member_object", "message_event",
           "message_object", "poll_object", "preview_object", "profile_event",
           "profile_object", "room_object", "status_object", "thumbnail_url",
           "user_group_event", "user_group_object", "user_object"]


def file_url(info: FileInfo) -> str:
    """Where a file is downloaded (``GET`` with a Bearer token): its id, then its name,
    percent-encoded, for the browser's save dialog."""
    return f"/api/files/{info.id}/{urllib.parse.quote(info.name, safe='')}"


def thumbnail_url(info: FileInfo) -> str | None:
    """Where a file's thumbnail is downloaded (``GET`` with a Bearer token), if it has one."""
    return f"/api/thumbnails/{info.id}" if info.thumbnail else None


def file_object(info: FileInfo) -> dict[str, Any]:
    """A file as clients see it: in the upload's answer and in the messages it is attached
    to. ``thumbnail_url``, ``width`` and ``height`` are null unless it is an image."""
    return {"id": info.id, "name": info.name, "size": info.size,
            "content_type": info.content_type, "url": file_url(info),
            "thumbnail_url": thumbnail_url(info), "width": info.width, "height": info.height}


def preview_object(preview: Preview) -> dict[str, Any]:
    """A link preview as clients see it, in a message's ``previews`` and in a ``preview``
    entry: ``image`` only when it has one ({id, thumbnail_url, width, height}: the
    thumbnail's, served as an attachment's is, with a Bearer token or a signed link)."""
    obj: dict[str, Any] = {"url": preview.url, "title": preview.title,
                           "description": preview.description, "site": preview.site}
    image = preview.image
    if image is not None and image.file_id:
        obj["image"] = {"id": image.file_id, "thumbnail_url": f"/api/thumbnails/{image.file_id}",
                        "width": image.width, "height": image.height}
    return obj


def message_event(message: Message) -> Entry:
    """The protocol event for an entry of a room's log: a message as it is now, or a
    change to one."""
    if message.kind == "message":  # most entries: tested first
        return _posted(message)
    if message.kind == "edited":
        mentions, user_groups = split_mentions(message.mentions)
        return MessageEdited(room=message.room, seq=message.seq, msg_id=message.msg_id,
                             text=message.text, sender=message.sender, ts=message.ts,
                             mentions=mentions, group=_group(message),
                             user_groups=user_groups)
    if message.kind == "deleted":
        return MessageDeleted(room=message.room, seq=message.seq, msg_id=message.msg_id,
                              by=message.sender, ts=message.ts, unpinned=message.on or None)
    if message.kind == "topic":
        return TopicChanged(room=message.room, seq=message.seq, topic=message.text,
                            by=message.sender, ts=message.ts)
    if message.kind == "reaction":
        return ReactionChanged(room=message.room, seq=message.seq, msg_id=message.msg_id,
                               emoji=message.emoji, user=message.sender, on=message.on,
                               ts=message.ts)
    if message.kind == "pinned":
        return MessagePinned(room=message.room, seq=message.seq, msg_id=message.msg_id,
                             by=message.sender, on=message.on, ts=message.ts)
    if message.kind == "role":
        return RoleChanged(room=message.room, seq=message.seq, user=message.target,
                           role=message.text, by=message.sender, ts=message.ts)
    if message.kind == "banned":
        return MemberBanned(room=message.room, seq=message.seq, user=message.target,
                            by=message.sender, ts=message.ts, reason=message.text or None,
                            expires_at=message.expires_at)
    if message.kind == "unbanned":
        return MemberUnbanned(room=message.room, seq=message.seq, user=message.target,
                              by=message.sender, ts=message.ts)
    if message.kind == "archived":
        return RoomArchived(room=message.room, seq=message.seq, archived=message.on,
                            by=message.sender, ts=message.ts)
    if message.kind == "preview":
        if not message.previews:
            return PreviewChanged(room=message.room, seq=message.seq, msg_id=message.msg_id,
                                  ts=message.ts)
        shown = preview_object(message.previews[0])
        return PreviewChanged(room=message.room, seq=message.seq, msg_id=message.msg_id,
                              ts=message.ts, url=shown["url"], title=shown["title"],
                              description=shown["description"], site=shown["site"],
                              image=shown.get("image"))
    if message.kind == "voted":
        return PollVoted(room=message.room, seq=message.seq, msg_id=message.msg_id,
                         user=message.sender, options=message.choice, ts=message.ts)
    if message.kind == "poll_closed":
        return PollClosed(room=message.room, seq=message.seq, msg_id=message.msg_id,
                          by=message.sender, ts=message.ts)
    if message.kind == "kicked":
        return MemberKicked(room=message.room, seq=message.seq, user=message.target,
                            by=message.sender, ts=message.ts, reason=message.text or None)
    return _posted(message)


def _posted(message: Message) -> MessagePosted:
    # On every send's path: a plain message builds no empty tuples of files or previews.
    mentions, user_groups = split_mentions(message.mentions) if message.mentions else ((), ())
    return MessagePosted(
        room=message.room, seq=message.seq, msg_id=message.msg_id, sender=message.sender,
        text=message.text, ts=message.ts, nonce=message.nonce, rev=message.rev or None,
        edited_ts=message.edited_ts, deleted=message.deleted, reactions=message.reactions,
        reply_to=message.reply_to, quote=message.quote, mentions=mentions,
        group=_group(message), user_groups=user_groups,
        files=tuple(file_object(file) for file in message.files) if message.files else (),
        pinned=None if message.pinned_by is None else {
            "by": message.pinned_by, "ts": message.pinned_ts, "seq": message.pinned_seq},
        previews=tuple(preview_object(preview) for preview in message.previews)
        if message.previews else (),
        thread=message.thread, broadcast=message.broadcast,
        replies=None if not message.reply_count else {
            "count": message.reply_count, "last_ts": message.reply_last_ts,
            "users": message.reply_users},
        poll=None if message.poll is None else poll_object(message.poll),
        forwarded=None if message.forwarded is None else message.forwarded.as_object(),
    )


def poll_object(poll: Poll) -> dict[str, Any]:
    """A message's poll as clients see it: its options in order, each with its ``votes``
    and ``voters`` (names, in the order they voted), ``multiple``, ``closed``, and once
    closed ``closed_by`` and ``closed_ts``."""
    obj: dict[str, Any] = {
        "options": [{"text": option.text, "votes": len(option.voters),
                     "voters": list(option.voters)} for option in poll.options],
        "multiple": poll.multiple, "closed": poll.closed_by is not None,
    }
    if poll.closed_by is not None:
        obj["closed_by"] = poll.closed_by
        obj["closed_ts"] = poll.closed_ts
    return obj


def _group(message: Message) -> str | None:
    # Read from the text rather than stored: a text with a group mention was only stored if
    # its author could use it there (chatd.actions.messages), so the text says it exactly;
    # in a conversation the words are plain text.
    if "@" not in message.text or is_conversation(message.room):
        return None
    return group_mention(message.text)


def message_object(message: Message) -> dict[str, Any]:
    """An entry of a room's log as JSON: the event's fields (``op`` included)."""
    return message_event(message).wire()


def room_object(room: Room) -> dict[str, Any]:
    """A room as clients see it in ``welcome``, ``rooms``, ``create_room`` and /api/rooms.
    ``member``, ``read_seq``, ``unread``, ``mentions``, ``notify`` and ``role`` are the
    asking user's (``notify``: the level they set, else the default of the kind; ``role``:
    null when not a member); ``peer`` is there for a 1:1 conversation (kind ``dm``),
    ``peers`` (the others, sorted ignoring case) for a group conversation (kind ``group``);
    ``pins``, the number of its pinned messages, when it has any; ``hidden_seq``, the
    room's last seq when the user closed the conversation, while it is closed;
    ``favourite``, whether the user marked it a favourite, and ``favourite_at`` (ms), when,
    while it is one; ``section``, the user's section it is in (None: the default lists)."""
    obj: dict[str, Any] = {
        "room": room.name, "kind": room.kind, "private": room.private, "topic": room.topic,
        "owner": room.owner, "last_seq": room.last_seq, "member": room.member,
        "read_seq": room.read_seq, "unread": room.unread, "mentions": room.mentions,
        "notify": room.notify or default_notify(room.kind),
        "role": room.role or ("member" if room.member else None),
        "archived": room.archived, "favourite": room.favourite_at is not None,
        "section": room.section,
    }
    if room.peer is not None:
        obj["peer"] = room.peer
    if room.peers is not None:
        obj["peers"] = list(room.peers)
    if room.pins:
        obj["pins"] = room.pins
    if room.hidden_seq is not None:
        obj["hidden_seq"] = room.hidden_seq
    if room.favourite_at is not None:
        obj["favourite_at"] = room.favourite_at
    return obj


def user_object(user: User) -> dict[str, Any]:
    """A user as they see themselves (``welcome``, /api/me): with ``admin``,
    ``dnd_until`` (ms, or null): until when their notifications are paused
    (chatd.actions.dnd), ``read_receipts``: whether they share them
    (chatd.actions.receipts), and their profile, ``display_name``, ``custom_status`` and
    ``avatar``, null when none (chatd.actions.profile)."""
    return {"id": user.id, "name": user.name, "admin": user.admin, "dnd_until": user.dnd_until,
            "read_receipts": user.read_receipts, "display_name": user.display_name,
            "custom_status": status_object(user.custom_status),
            "avatar": avatar_object(user.avatar)}


#: Where a picture's bytes are served (chatd.http.avatars), by their SHA-256.
AVATAR_PATH = "/api/avatars/"


def avatar_object(sha256: str | None) -> dict[str, Any] | None:
    """A picture as clients see it: ``{url}`` (a path of this server that an ``<img>``
    loads without a token, named by the bytes: a new picture is a new url), or null for
    none."""
    if sha256 is None:
        return None
    return {"url": f"{AVATAR_PATH}{sha256}"}


#: Where a custom emoji's picture is served (chatd.http.emoji), by its SHA-256.
EMOJI_IMAGE_PATH = "/api/emoji/images/"


def custom_emoji_object(emoji: CustomEmoji) -> dict[str, Any]:
    """A custom emoji as clients see it: ``{name, url, by, ts}``; ``url`` loads without a
    token and is named by the picture's bytes, as a profile picture's is."""
    return {"name": emoji.name, "url": f"{EMOJI_IMAGE_PATH}{emoji.sha256}", "by": emoji.by,
            "ts": emoji.ts}


def custom_emoji_event(emoji: CustomEmoji, *, removed: bool = False, by: str | None = None,
                       ts: int | None = None) -> CustomEmojiChanged:
    """The ``custom_emoji`` event of ``emoji`` added, or ``removed`` (``url`` null) ``by``
    someone at ``ts`` (ms; default: who added it, and when)."""
    url = None if removed else f"{EMOJI_IMAGE_PATH}{emoji.sha256}"
    return CustomEmojiChanged(name=emoji.name, url=url, by=by or emoji.by,
                              ts=emoji.ts if ts is None else ts)


def status_object(status: CustomStatus | None) -> dict[str, Any] | None:
    """A custom status as clients see it: ``{emoji, text, until}``, or null for none."""
    if status is None:
        return None
    return {"emoji": status.emoji, "text": status.text, "until": status.until}


def profile_object(profile: Profile) -> dict[str, Any]:
    """A profile as ``profiles`` and ``GET /api/users/{name}`` give it: ``display_name``,
    ``custom_status`` and ``avatar`` always (null: none), ``deactivated`` only when the
    account is."""
    obj: dict[str, Any] = {"user": profile.name, "display_name": profile.display_name,
                           "custom_status": status_object(profile.custom_status),
                           "avatar": avatar_object(profile.avatar)}
    if profile.deactivated:
        obj["deactivated"] = True
    return obj


def profile_event(profile: Profile) -> ProfileChanged:
    """The ``profile`` event that tells ``profile`` to others."""
    return ProfileChanged(user=profile.name, display_name=profile.display_name,
                          custom_status=status_object(profile.custom_status),
                          avatar=avatar_object(profile.avatar))


def _with_profile(obj: dict[str, Any], display_name: str | None,
                  status: CustomStatus | None, avatar: str | None) -> dict[str, Any]:
    # Only when set: a room of thousands lists most members without either, and its page
    # stays as small as before profiles (docs/protocol.md says absent is none).
    if display_name is not None:
        obj["display_name"] = display_name
    if status is not None:
        obj["custom_status"] = status_object(status)
    if avatar is not None:
        obj["avatar"] = avatar_object(avatar)
    return obj


def member_object(member: Member, status: str) -> dict[str, Any]:
    """A member as ``who`` lists them: ``deactivated`` only when their account is,
    ``display_name``, ``custom_status`` and ``avatar`` only when they have one."""
    obj: dict[str, Any] = {"user": member.name, "status": status, "role": member.role}
    if member.deactivated:
        obj["deactivated"] = True
    return _with_profile(obj, member.display_name, member.custom_status, member.avatar)


def contact_object(profile: Profile, status: str) -> dict[str, Any]:
    """A contact as ``contacts`` and ``add_contact`` give them: ``user`` and ``status``
    (their presence), ``display_name``, ``custom_status`` and ``avatar`` only when they
    have one."""
    return _with_profile({"user": profile.name, "status": status}, profile.display_name,
                         profile.custom_status, profile.avatar)


def ban_object(ban: Ban) -> dict[str, Any]:
    return {"user": ban.user, "by": ban.by, "reason": ban.reason, "ts": ban.ts,
            "expires_at": ban.expires_at}


def audit_object(entry: AuditEntry) -> dict[str, Any]:
    """An action of the audit log: ``actor`` null for the ``chatd`` command line."""
    return {"id": entry.id, "ts": entry.ts, "actor": entry.actor, "action": entry.action,
            "target": entry.target, "room": entry.room, "reason": entry.reason,
            "details": entry.details}


def admin_user_object(user: User) -> dict[str, Any]:
    """A user as the admin API lists them."""
    return {"id": user.id, "name": user.name, "created_at": user.created_at,
            "admin": user.admin, "deactivated": user.deactivated,
            "deactivated_at": user.deactivated_at, "bot": user.bot}


def admin_room_object(room: AdminRoom) -> dict[str, Any]:
    return {"room": room.name, "private": room.private, "topic": room.topic,
            "owner": room.owner, "owner_deactivated": room.owner_deactivated,
            "members": room.members, "last_seq": room.last_seq,
            "created_at": room.created_at, "archived": room.archived}


def user_group_object(group: UserGroup, *, you: bool | None = None) -> dict[str, Any]:
    """A user group as clients see it: ``{name, description, members, by, ts}``, with
    ``you`` (whether the asking user is a member) when given (the list's)."""
    obj: dict[str, Any] = {"name": group.name, "description": group.description,
                           "members": group.members, "by": group.by, "ts": group.ts}
    if you is not None:
        obj["you"] = you
    return obj


def user_group_event(change: str, done: UserGroupChange, by: str, ts: int) -> UserGroupChanged:
    """The ``user_group`` event of a ``change`` ("created", "changed", "deleted") ``by`` a
    user at ``ts`` (ms)."""
    return UserGroupChanged(change=change, group=user_group_object(done.group),
                            added=done.added, removed=done.removed, by=by, ts=ts)
