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

``forward`` posts a message the caller may read into another room or conversation: an
ordinary message of the target's log, sent by the caller with their comment as its text (its
mentions alone count), that also carries ``forwarded`` (the source's author, time and text,
and its room and seq only when the source is a public room). It passes every rule a
``send``/``dm`` passes there (the same append: membership, bans, archived, the text's
length, the send buckets). The source's files become the forward's own: new rows for the
same bytes, uploaded by the caller to the target (their quota, as an upload's), attached
by the append as a send's files are.
"""

from __future__ import annotations

import uuid

from chatd.actions import emoji
from chatd.actions.context import App, Append, Caller, signed_in
from chatd.errors import ChatError
from chatd.protocol import (
    ClosePoll,
    Delete,
    Dm,
    Edit,
    Forward,
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
from chatd.storage import Forwarded, Message, NewChange, NewMessage, NewPoll, User

__all__ = ["close_poll", "delete", "dm", "edit", "forward", "pin", "react", "remove_preview",
           "send", "vote"]


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
    room = await _conversation(app, user, request.to)
    # (a 1:1's: the candidates alone; a group conversation's also its user groups)
    mentions, group, user_groups = await _room_mentions(app, user, room, request.text)
    return Append(request.id, NewMessage(
        user_id=user.id, room=room, text=request.text, nonce=request.nonce,
        reply_to=request.reply_to, mentions=mentions, files=request.files, group=group,
        user_groups=user_groups, thread=request.thread, broadcast=request.broadcast,
        poll=None if request.poll is None else _poll(request.poll),
    ))


async def _conversation(app: App, user: User, to: str | tuple[str, ...]) -> str:
    """The name of the conversation of ``user`` and ``to`` (made on first use), its members
    subscribed to it."""
    conversation = await app.storage.direct_room(user.id, to)
    room = conversation.room.name
    # Subscribe every side before the message can be published (idempotent when they
    # already are): whichever of two first messages commits first, all are delivered.
    # Without a ``since``, and without waiting: nobody ever leaves or is removed from a
    # conversation, so no removal can overtake these (chatd.rooms, "Membership"). The
    # registry tells the other nodes (as for a 1:1: chatd.cluster).
    for name in sorted({user.name, *conversation.peers}):
        await app.registry.send(Subscribe(name, room, None))
    return room


async def forward(app: App, caller: Caller, request: Forward) -> Append:
    """Post message ``msg_id`` of ``room`` into ``to_room`` or the conversation ``to``,
    with the caller's comment (see the module's docstring).

    Raises:
        ChatError: ``not_found`` for a message the caller may not read now (or none), or
            one deleted; ``not_forwardable`` for a poll; ``quota_exceeded`` when its files
            would pass the caller's quota (an upload's ``too_large``, which on the socket
            closes the connection); as ``send``/``dm`` (and an upload, for files) for the
            target.
    """
    user = signed_in(caller)
    source, public = await app.storage.forward_source(user.id, request.room, request.msg_id)
    if source.deleted:
        raise ChatError(codes.NOT_FOUND, f"message {request.msg_id} of {request.room!r} was "
                        "deleted: there is nothing left to forward")
    if source.poll is not None:
        raise ChatError(codes.NOT_FORWARDABLE, f"message {request.msg_id} is a poll: its "
                        f"votes belong to {request.room!r}, so it cannot be forwarded")
    if request.to is not None:
        room = await _conversation(app, user, request.to)
    else:
        assert request.to_room is not None  # the parser gives exactly one
        room = request.to_room
    # Without a nonce the server makes one: that forward cannot be recognised on a retry.
    nonce = request.nonce or f"fwd:{uuid.uuid4().hex}"
    # What may refuse the forward comes before its files are copied, so that a refusal leaves
    # no copy; a refusal of the append's (the room archived meanwhile, a duplicate) discards
    # them in storage (chatd.storage.Storage.append_messages).
    mentions, group, user_groups = await _room_mentions(app, user, room, request.text)
    files: tuple[int, ...] = ()
    if source.files and not (request.nonce and await _stored(app, user, nonce)):
        config = app.config.files
        await app.storage.expire_uploads(config.unattached_seconds, uploader_id=user.id)
        files = tuple(await app.storage.copy_files(
            user.id, room, [file.id for file in source.files], config.quota_bytes))
    return Append(request.id, NewMessage(
        user_id=user.id, room=room, text=request.text, nonce=nonce, mentions=mentions,
        files=files, group=group, user_groups=user_groups,
        forwarded=_forwarded(source, request.room if public else None),
    ))


async def _stored(app: App, user: User, nonce: str) -> bool:
    """Whether the user already stored a message with ``nonce`` (a forward retried after a
    lost reply: its files were copied then, and the append answers with the first)."""
    found = await app.storage.messages_by_nonce([(user.id, nonce)])
    return found[0] is not None


def _forwarded(source: Message, room: str | None) -> Forwarded:
    """What a forward of ``source`` carries: a forward's own ``forwarded`` (the original,
    not nested), else the source's author, time and text now, with its room (``room``: None
    unless public) and seq."""
    if source.forwarded is not None:
        return source.forwarded
    return Forwarded(sender=source.sender, ts=source.ts, text=source.text, room=room,
                     seq=None if room is None else source.seq)


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
