"""Messages: ``send`` to a room and ``dm`` to a person, and the changes made to messages
(``edit``, ``delete``, ``react``, ``pin``, ``remove_preview``, ``vote``, ``close_poll``).
Each only says what to append to the room's log; the front commits it with the group
committer (see :class:`chatd.actions.context.Append`), and storage checks, under the room's
lock, who may make which change.

Group mentions (``@room``, ``@all``, ``@everyone``, ``@here``) are checked here, before the
commit, and only when a text has one (most have none, and cost nothing more): storage counts
the room's members over every node and says whether the sender moderates the room
(:meth:`chatd.storage.Storage.group_scope`); in a room of more than
``limits.group_mention_members`` members only those who moderate it may mention a group. The
members the group covers are resolved now (``@here``: those online now, on any node, and
not away, as the presence tracker knows them) and get mention rows with the message, as
named members do. In a conversation (1:1 or group) the words are plain text: everyone is
alerted by every message there already.

User groups (``@backend``, chatd.actions.user_groups) are looked up here too, by one
statement and only for a text with a candidate that names a group this node knows of
(chatd.group_names), sent to a room or a group conversation: their members there, the
sender aside, get mention rows as a group mention's do, and the message keeps the groups'
names (a group conversation's members may have set it to ``mentions``). In a 1:1
conversation they are plain text.
"""

from __future__ import annotations

from chatd.actions import emoji
from chatd.actions.context import App, Append, Caller, signed_in
from chatd.errors import ChatError
from chatd.protocol import (
    ClosePoll,
    Delete,
    Dm,
    Edit,
    Pin,
    PollSpec,
    React,
    RemovePreview,
    Send,
    Vote,
    codes,
)
from chatd.protocol.markup import GROUP_TOKENS, group_mention, mention_candidates
from chatd.protocol.names import is_conversation, is_dm_room
from chatd.rooms import Join as Subscribe
from chatd.storage import NewChange, NewMessage, NewPoll, User

__all__ = ["close_poll", "delete", "dm", "edit", "pin", "react", "remove_preview", "send",
           "vote"]


async def send(app: App, caller: Caller, request: Send) -> Append:
    """A message to a room the caller is in (storage refuses it otherwise, at commit)."""
    user = signed_in(caller)
    mentions, group, user_groups = await _room_mentions(app, user, request.room, request.text)
    return Append(request.id, NewMessage(
        user_id=user.id, room=request.room, text=request.text, nonce=request.nonce,
        reply_to=request.reply_to, mentions=mentions, files=request.files, group=group,
        user_groups=user_groups, thread=request.thread, broadcast=request.broadcast,
        poll=None if request.poll is None else _poll(request.poll),
    ))


async def dm(app: App, caller: Caller, request: Dm) -> Append:
    """A message to a person, or to several (a group conversation), in the room of their
    conversation (made on first use, with all of them as members)."""
    user = signed_in(caller)
    conversation = await app.storage.direct_room(user.id, request.to)
    room = conversation.room.name
    # Subscribe every side before the message can be published (idempotent when they
    # already are): whichever of two first messages commits first, all are delivered.
    # Without a ``since``, and without waiting: nobody ever leaves or is removed from a
    # conversation, so no removal can overtake these (chatd.rooms, "Membership"). The
    # registry tells the other nodes (as for a 1:1: chatd.cluster).
    for name in sorted({user.name, *conversation.peers}):
        await app.registry.send(Subscribe(name, room, None))
    # (a 1:1's: the candidates alone; a group conversation's also its user groups)
    mentions, group, user_groups = await _room_mentions(app, user, room, request.text)
    return Append(request.id, NewMessage(
        user_id=user.id, room=room, text=request.text, nonce=request.nonce,
        reply_to=request.reply_to, mentions=mentions, files=request.files, group=group,
        user_groups=user_groups, thread=request.thread, broadcast=request.broadcast,
        poll=None if request.poll is None else _poll(request.poll),
    ))


async def edit(app: App, caller: Caller, request: Edit) -> Append:
    """New text for the caller's own message."""
    user = signed_in(caller)
    mentions, group, user_groups = await _room_mentions(app, user, request.room, request.text)
    return Append(request.id, NewChange(
        user_id=user.id, room=request.room, msg_id=request.msg_id, kind="edited",
        text=request.text, mentions=mentions, group=group, user_groups=user_groups,
    ))


def _poll(spec: PollSpec) -> NewPoll:
    return NewPoll(options=spec.options, multiple=spec.multiple)


async def vote(app: App, caller: Caller, request: Vote) -> Append:
    """Set the caller's choice on a poll of a room they are in (storage checks the poll:
    open, the indexes in range, one for a single-choice poll)."""
    user = signed_in(caller)
    return Append(request.id, NewChange(
        user_id=user.id, room=request.room, msg_id=request.msg_id, kind="voted",
        options=request.options,
    ))


async def close_poll(app: App, caller: Caller, request: ClosePoll) -> Append:
    """Close a poll: the caller's own, or any in a room they moderate."""
    user = signed_in(caller)
    return Append(request.id, NewChange(
        user_id=user.id, room=request.room, msg_id=request.msg_id, kind="poll_closed",
    ))


async def delete(app: App, caller: Caller, request: Delete) -> Append:
    """Delete a message: the caller's own, or any in a room they own."""
    user = signed_in(caller)
    return Append(request.id, NewChange(
        user_id=user.id, room=request.room, msg_id=request.msg_id, kind="deleted",
    ))


async def remove_preview(app: App, caller: Caller, request: RemovePreview) -> Append:
    """Remove the link preview of the caller's own message, or of any in a room they
    moderate (chatd.previews makes them)."""
    user = signed_in(caller)
    return Append(request.id, NewChange(
        user_id=user.id, room=request.room, msg_id=request.msg_id, kind="unpreview",
    ))


async def react(app: App, caller: Caller, request: React) -> Append:
    """Put or take back the caller's emoji on a message of a room they are in. A custom
    emoji's ``:name:`` must be one to be put (chatd.actions.emoji); one removed since may
    still be taken back."""
    user = signed_in(caller)
    if request.on and request.emoji.startswith(":"):
        await emoji.check_reaction(app, request.emoji)
    return Append(request.id, NewChange(
        user_id=user.id, room=request.room, msg_id=request.msg_id, kind="reaction",
        emoji=request.emoji, on=request.on,
    ))


async def pin(app: App, caller: Caller, request: Pin) -> Append:
    """Pin or unpin a message of a room the caller is in, for every member to find; the
    room holds at most ``limits.pins_per_room`` pinned at once (storage counts, under the
    room's lock)."""
    user = signed_in(caller)
    return Append(request.id, NewChange(
        user_id=user.id, room=request.room, msg_id=request.msg_id, kind="pinned",
        on=request.on, limit=app.config.limits.pins_per_room,
    ))


async def _room_mentions(app: App, user: User, room: str, text: str
                         ) -> tuple[tuple[str, ...], tuple[int, ...], tuple[str, ...]]:
    """The mention candidates of ``text`` sent by ``user`` to ``room``, the ids of the
    members its group mention and its user groups cover (none without one), and the names
    of those user groups.

    Raises:
        ChatError: ``forbidden``, a group mention in a room too large for the sender to use
            one (see the module's docstring).
    """
    if "@" not in text:
        return (), (), ()
    candidates = tuple(mention_candidates(text))
    if is_dm_room(room):
        return candidates, (), ()
    user_groups, grouped = await _user_groups(app, user, room, candidates)
    mentions, covered = await _group_mentions(app, user, room, text, candidates)
    if grouped:
        covered = tuple(sorted({*covered, *grouped}))
    return mentions, covered, user_groups


async def _user_groups(app: App, user: User, room: str, candidates: tuple[str, ...]
                       ) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The user groups among ``candidates`` and their members in ``room``, the sender aside
    (one statement; none without candidates): chatd.actions.user_groups."""
    words = [c for c in candidates if c not in GROUP_TOKENS]
    if not words or not await app.group_names.any_of(app.storage, words):
        return (), ()  # no group named: most mentions name people, and cost nothing more
    return await app.storage.user_group_mentions(room, user.id, words)


async def _group_mentions(app: App, user: User, room: str, text: str,
                          candidates: tuple[str, ...]
                          ) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The candidates and the ids of the members the group mention (``@room``, ``@here``)
    of ``text`` covers, in a room (not a conversation)."""
    group = None if is_conversation(room) else group_mention(text)
    if group is None:
        return candidates, ()
    # @here: online and not away, as Slack's and Mattermost's (chatd.presence)
    online = None if group == "room" else sorted(app.presence.state.active())
    scope = await app.storage.group_scope(room, user.id, online=online)
    if scope is None or not scope.member:
        # No such room, or not theirs: the commit refuses it, saying so (and nothing here
        # tells a stranger how large a private room is).
        return candidates, ()
    limit = app.config.limits.group_mention_members
    if scope.members > limit and not scope.moderates:
        token = "@room" if group == "room" else "@here"
        raise ChatError(codes.FORBIDDEN,
                        f"{token} in a room of more than {limit} members is for its owner "
                        "and moderators")
    # The group's words name nobody: a user called "all" is covered by the group instead.
    return tuple(c for c in candidates if c not in GROUP_TOKENS), scope.covered
