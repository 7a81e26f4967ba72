"""What each line typed does: a text line is sent to the current room, a ``/command`` runs.

Every command is one function of the :data:`COMMANDS` table, with its usage and a line of help;
``/help`` prints the table. A command that asks the server waits for the answer (the next line
may depend on it: ``/join general`` then a line for that room), and prints the outcome itself.

Messages are named by the short number printed before each (``[3]``): ``/edit 3 …``,
``/delete 3``, ``/react 3 👍``, ``/reply 3 …``, ``/pin 3``. A change is sent like a message
(kept until acknowledged, sent again after a reconnect), and the message changed is printed
when its entry comes back from the server, as everyone in the room sees it.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import re
import shlex
import uuid
from collections.abc import Awaitable, Callable, Container, Mapping
from pathlib import Path
from typing import Any, TypeVar

import emoji as _emoji

from chatd.client.link import http_error
from chatd.client.messages import reacted
from chatd.client.render import (
    ago,
    audit_text,
    dnd_text,
    excerpt,
    keywords_text,
    notify_text,
    profile_text,
    readers_text,
    receipts_text,
    reminder_text,
    scheduled_line,
    search_spans,
    status_text,
    thread_summary,
)
from chatd.client.render import until as _until
from chatd.client.session import ChatClient, RoomInfo, kind_of
from chatd.client.terminal import (
    clean,
    clean_body,
    day_time,
    presences,
    section_title,
    sidebar_groups,
    unread_counts,
)
from chatd.client.when import WHEN_USAGE, local_now, reminder_time, split_when
from chatd.protocol import (
    MAX_DELETE_SECONDS,
    MAX_DND_SECONDS,
    MAX_READ_ALL_ROOMS,
    MAX_STATUS_SECONDS,
    NO_STATUS,
    NOTIFY_LEVELS,
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
    CustomEmojiList,
    Delete,
    DeleteUserGroup,
    Drafts,
    Edit,
    EditHistoryRequest,
    EditScheduled,
    EditUserGroup,
    Favourite,
    FollowThread,
    Forward,
    Hide,
    History,
    HistoryPage,
    InvalidName,
    Invite,
    Join,
    JoinAccepted,
    JoinLink,
    Kick,
    Leave,
    MessagePosted,
    NewStatus,
    Ok,
    Pin,
    Pins,
    PollSpec,
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
    Sent,
    SetDnd,
    SetDraft,
    SetKeywords,
    SetNotify,
    SetProfile,
    SetReadReceipts,
    SetRole,
    SetSection,
    SetTopic,
    Thread,
    Threads,
    Unban,
    Unread,
    UserGroupInfo,
    UserGroupList,
    Vote,
    Who,
    default_notify,
    is_conversation,
    normalise_room,
    normalise_user,
    parse_event,
)
from chatd.protocol.events import thread_cursor
from chatd.protocol.markup import custom_emoji_name, normalise_emoji

__all__ = ["COMMANDS", "Outcome", "handle_line", "message_number", "reaction_emoji",
           "read_input", "split_path"]


class Outcome(enum.Enum):
    QUIT = "quit"


# --------------------------------------------------------------------------- the input loop


async def read_input(client: ChatClient) -> None:
    """Handle lines from the terminal (or a pipe) until /quit or the end of input. From a
    pipe, each line waits for a welcomed session first."""
    while True:
        line = await client.reader.readline()
        if line is None:
            return
        if not line.strip():
            continue
        client.typed()
        if not client.options.interactive:
            await client.wait_ready()
        if await handle_line(client, line) is Outcome.QUIT:
            return


async def handle_line(client: ChatClient, line: str) -> Outcome | None:
    """One line: a command, or text for the current room (``//`` escapes a leading ``/``)."""
    if line.startswith("/") and not line.startswith("//"):
        name, _, arg = line[1:].partition(" ")
        command = COMMANDS.get(ALIASES.get(name.lower(), name.lower()))
        if command is None:
            client.screen.problem(f"unknown command /{clean(name)}; /help lists them")
            return None
        return await command.run(client, arg.strip())
    text = line[1:] if line.startswith("//") else line
    if client.current is None:
        client.screen.problem("no current room: /join ROOM or /switch ROOM first")
        return None
    await client.say(client.current, text)
    return None


def _need_room(client: ChatClient, what: str) -> str | None:
    if client.current is None:
        client.screen.problem(f"{what}: no current room (/join ROOM or /switch ROOM)")
    return client.current


_NUMBER = re.compile(r"\[?#?([0-9]{1,9})\]?")


def message_number(word: str) -> int | None:
    """The short number of a message as typed: ``3``, ``[3]`` or ``#3``; None if it is not
    one."""
    found = _NUMBER.fullmatch(word)
    return int(found.group(1)) if found else None


def reaction_emoji(word: str, custom: Container[str] = ()) -> str | None:
    """The emoji a reaction is typed as: one emoji (``👍``; ``❤`` and ``❤️`` are one), a
    ``:shortcode:`` (``:thumbsup:``, ``:+1:``, ``:tada:``), or a custom emoji's ``:name:``
    (one of ``custom``, the names known here, before a shortcode of the same name; any
    name that is no shortcode, for the server to check); None if it is none of those."""
    name = custom_emoji_name(word)
    if name is not None and name in custom:
        return word
    if len(word) > 2 and word.startswith(":") and word.endswith(":"):
        emojized = _emoji.emojize(word, language="alias")
        if emojized == word and name is not None:
            return word
        word = emojized
    return normalise_emoji(word)


def _numbered(client: ChatClient, number: int, what: str) -> MessagePosted | None:
    message = client.messages.numbered(number)
    if message is None:
        client.screen.problem(f"{what}: no message [{number}] (the numbers are those shown "
                              "before the messages)")
    return message


def _one_numbered(client: ChatClient, arg: str, what: str, usage: str
                  ) -> tuple[int, MessagePosted] | None:
    """Message [N] of ``arg``, which is N alone, and N; None when ``arg`` is not a number
    (``usage`` printed) or no message has it (:func:`_numbered`)."""
    number = message_number(arg.strip())
    if number is None:
        client.screen.problem(usage)
        return None
    message = _numbered(client, number, what)
    return None if message is None else (number, message)


async def _my_last(client: ChatClient, what: str) -> MessagePosted | None:
    """The user's last message in the current room, once the ones sent there are acked."""
    room = _need_room(client, what)
    if room is None:
        return None
    if not await client.settle(room):
        client.screen.problem(f"{what}: your last message to [{client.label(room)}] is not "
                              "sent yet; give the number of the one you mean")
        return None
    message = client.my_last(room)
    if message is None:
        client.screen.problem(f"{what}: no message of yours in [{client.label(room)}] here; "
                              f"{what} N names message [N]")
    return message


# --------------------------------------------------------------------------- the commands


async def help_(client: ChatClient, arg: str) -> None:
    client.screen.line("Type a line to send it to the current room (start it with // to "
                       "send a line that starts with /). N is the number shown before a "
                       "message, as in [3].")
    for command in COMMANDS.values():
        client.screen.line(f"  {command.usage:<24} {command.about}")


async def quit_(client: ChatClient, arg: str) -> Outcome:
    return Outcome.QUIT


async def join(client: ChatClient, arg: str) -> None:
    room = client.room_arg(arg) if arg else None
    if room is None:
        if not arg:
            client.screen.problem("usage: /join ROOM")
        return

    async def on_ok(reply: JoinAccepted) -> None:
        _entered(client, reply)

    client.joining.add(room)  # its own ``joined`` event may come before the reply
    try:
        await client.ask(f"/join {clean(arg)}", Join(room=room), JoinAccepted, on_ok)
    finally:
        client.joining.discard(room)


def _entered(client: ChatClient, reply: JoinAccepted) -> None:
    """A room joined (``/join``, ``/join-link``): what the client keeps of it, its latest
    messages shown, and it becomes the current room."""
    name = reply.room
    info = client.rooms.setdefault(name, RoomInfo())
    info.kind = kind_of(name)
    info.private, info.topic = reply.private, reply.topic
    info.archived = reply.archived
    info.favourite = reply.favourite  # joining again starts without it
    info.section = reply.section  # in the default list, too
    if reply.notify is not None:  # joining again starts from the default
        info.notify = reply.notify
    topic = f" - {clean(info.topic)}" if info.topic else ""
    archived = " (archived: read-only)" if info.archived else ""
    client.screen.notice(f"joined [{client.label(name)}]{topic}{archived}")
    shown = client.take(reply.messages)[-10:]
    for message in shown:
        client.show(message)
    if shown:
        client.oldest[name] = shown[0].seq
    client.seen[name] = max(client.seen.get(name, 0), reply.last_seq)
    client.current = name


#: A join link's token in what was typed: the token alone, or a link with ``#join=``.
_JOIN_TOKEN = re.compile(r"(?:.*#join=)?([A-Za-z0-9_-]{16,128})")


async def link(client: ChatClient, arg: str) -> None:
    """``/link [USES] [DAYS]``: a join link to the current room (1 use and 7 days unless
    said), to give to whoever should come in; its token is shown this once."""
    room = _need_room(client, "/link")
    words = arg.split()
    if room is None:
        return
    if len(words) > 2 or not all(w.isdigit() for w in words):
        client.screen.problem("usage: /link [USES] [DAYS] (e.g. /link 5 1: five people, "
                              "one day)")
        return
    uses = int(words[0]) if words else None
    seconds = int(words[1]) * 86400 if len(words) > 1 else None

    async def on_ok(reply: Answer) -> None:
        token = str(reply.fields.get("token", ""))
        made = reply.fields.get("link")
        url = reply.fields.get("url") or f"{client.options.endpoint.base_url}/#join={token}"
        client.screen.notice(f"a join link to [{client.label(room)}]: {clean(url)}")
        if isinstance(made, dict):
            client.screen.notice(f"  #{made.get('id')}: {made.get('max_uses')} use(s), until "
                                 f"{day_time(int(made.get('expires_at') or 0))}; in the "
                                 f"terminal: /join-link {clean(token)}")

    await client.ask("/link", CreateRoomLink(room=room, uses=uses, expires_in=seconds),
                     Answer, on_ok)


async def links(client: ChatClient, arg: str) -> None:
    """``/links [ROOM]``: the join links of the room (yours, or every one if you moderate
    it), with how many used each and whether it still works."""
    room = client.room_arg(arg) if arg.strip() else _need_room(client, "/links")
    if room is None:
        return

    async def on_ok(reply: Answer) -> None:
        listed = reply.fields.get("links")
        found = [x for x in (listed if isinstance(listed, list) else []) if isinstance(x, dict)]
        if not found:
            client.screen.notice(f"no join links to [{client.label(room)}]; /link makes one")
            return
        whose = "every" if reply.fields.get("all") else "your"
        client.screen.notice(f"{whose} join link to [{client.label(room)}], newest first "
                             "(/unlink ID revokes one):")
        for x in found:
            client.screen.notice(
                f"  #{x.get('id')} by {clean(x.get('by') or '(gone)')}: {x.get('uses')}/"
                f"{x.get('max_uses')} used, {clean(x.get('state'))}, until "
                f"{day_time(int(x.get('expires_at') or 0))}")

    await client.ask("/links", RoomLinks(room=room), Answer, on_ok)


async def unlink(client: ChatClient, arg: str) -> None:
    """``/unlink ID``: revoke join link #ID (yours, or any of a room you moderate)."""
    word = arg.strip().removeprefix("#")
    if not word.isdigit() or int(word) < 1:
        client.screen.problem("usage: /unlink ID (the #ID /links shows)")
        return

    async def on_ok(reply: Answer) -> None:
        client.screen.notice(f"join link #{word} revoked: it lets nobody in any more")

    await client.ask("/unlink", RevokeRoomLink(link=int(word)), Answer, on_ok)


async def join_link(client: ChatClient, arg: str) -> None:
    """``/join-link TOKEN`` (or the whole link): join the room a join link leads to, private
    or not."""
    found = _JOIN_TOKEN.fullmatch(arg.strip())
    if found is None:
        client.screen.problem("usage: /join-link TOKEN (or the link, …/#join=TOKEN)")
        return

    async def on_ok(reply: JoinAccepted) -> None:
        _entered(client, reply)

    await client.ask("/join-link", JoinLink(token=found.group(1)), JoinAccepted, on_ok)


async def leave(client: ChatClient, arg: str) -> None:
    room = client.room_arg(arg) if arg else _need_room(client, "/leave")
    if room is None:
        return

    async def on_ok(reply: Ok) -> None:
        if room in client.rooms:
            client.screen.notice(f"you left [{client.label(room)}]")
            client.forget_room(room)

    await client.ask("/leave", Leave(room=room), Ok, on_ok)


async def switch(client: ChatClient, arg: str) -> None:
    if not arg:
        client.screen.problem("usage: /switch ROOM (or @USER for a conversation)")
        return
    room = client.room_arg(arg)
    if room is None:
        return
    if room not in client.rooms:
        hint = (f"/dm {clean(arg.strip()[1:])} TEXT" if is_conversation(room)
                else f"/join {clean(room)}")
        client.screen.problem(f"you are not in [{client.label(room)}]; {hint} first")
        return
    client.current = room
    client.screen.notice(f"talking in [{client.label(room)}]")
    draft = client.draft_of(room)
    if draft:
        client.screen.notice(f"your draft here: {excerpt(draft)} (/drafts lists them all)")


async def rooms(client: ChatClient, arg: str) -> None:
    """``/rooms [QUERY] [+NAME]``: a page of the rooms (those whose name holds QUERY), after
    NAME; when another page follows, the line that shows it is printed."""
    query: str | None = None
    after: str | None = None
    for word in arg.split():
        if word.startswith("+") and after is None:
            after = word[1:]
        elif query is None and not word.startswith("+"):
            query = word
        else:
            client.screen.problem("usage: /rooms [QUERY] [+NAME]")
            return

    async def on_ok(reply: Answer) -> None:
        every = reply.fields.get("rooms") or []
        for obj in every:
            if obj.get("member"):
                client.remember_room(obj)
        listed = [obj for obj in every if not client.closed(obj)]
        client.screen.notice(f"rooms ({len(listed)}), * the current one:")
        groups = sidebar_groups(listed, client.sections, current=client.current)
        for group in groups:
            if group.section is not None:
                client.screen.line(f" {section_title(group)}:")
            elif client.sections and group.rooms[0].get("favourite") is not True:
                client.screen.line(" other rooms:")  # the default list, after the sections
            for obj in group.rooms:
                mark = "*" if obj.get("room") == client.current else " "
                member = "" if obj.get("member") else "  (not a member)"
                topic = f"  - {clean(obj.get('topic'))}" if obj.get("topic") else ""
                client.screen.line(f" {mark} {client.room_summary(obj)}{member}{topic}")
        if len(listed) < len(every):
            client.screen.notice(f"{len(every) - len(listed)} closed conversation(s) with "
                                 "nothing new not listed (/switch @NAME opens one)")
        last = every[-1].get("room") if every else None
        if reply.fields.get("more") is True and isinstance(last, str):
            search = f"{clean(query)} " if query else ""
            client.screen.notice(f"more: /rooms {search}+{clean(last)}")

    await client.ask("/rooms", Rooms(query=query, after=after), Answer, on_ok)


async def close(client: ChatClient, arg: str) -> None:
    """``/close [ROOM]``: close a conversation (the current one by default): /rooms leaves
    it out until someone writes in it; nobody is told, and nothing is left. Every device of
    the user is told (the ``hidden`` event), which says it here."""
    room = client.room_arg(arg) if arg.strip() else _need_room(client, "/close")
    if room is None:
        return
    label = client.label(room)
    if not is_conversation(room):
        client.screen.problem(f"/close: only a conversation is closed; /leave {clean(room)}")
        return
    if room not in client.rooms:
        client.screen.problem(f"/close: you are not in [{label}]")
        return
    await client.ask("/close", Hide(room=room), Answer, _quiet)


async def favourite(client: ChatClient, arg: str, *, on: bool = True) -> None:
    """``/fav [ROOM]`` (``on``) and ``/unfav [ROOM]``: mark a room or conversation the user
    is in (the current one by default) a favourite, or unmark it. Every device of the user is
    told (the ``favourite`` event), which says it here; /rooms lists favourites first."""
    what = "/fav" if on else "/unfav"
    room = client.room_arg(arg) if arg.strip() else _need_room(client, what)
    if room is None:
        return
    if room not in client.rooms:
        client.screen.problem(f"{what}: you are not in [{client.label(room)}]")
        return
    already = client.rooms[room].favourite == on  # then no event comes: the reply says it

    async def on_ok(reply: Answer) -> None:
        if already:
            state = "a favourite already" if on else "not a favourite"
            client.screen.notice(f"[{client.label(room)}] is {state}")

    await client.ask(what, Favourite(room=room, on=on), Answer, on_ok)


async def unfavourite(client: ChatClient, arg: str) -> None:
    await favourite(client, arg, on=False)


async def section(client: ChatClient, arg: str) -> None:
    """``/section NAME``: put the current room or conversation into the user's section NAME
    (any case), creating the section (last in their list) when they have none of that name,
    as Slack's "Move to... New section"; ``/section`` alone: back into the default list.
    Every device of the user is told (the ``section`` event, and ``sections`` for a section
    made), which says it here."""
    name = arg.strip()
    room = _need_room(client, "/section")
    if room is None:
        return
    if room not in client.rooms:
        client.screen.problem(f"/section: you are not in [{client.label(room)}]")
        return
    target: int | None = None
    if name:
        found = client.section_named(name)
        if found is None:
            made: list[int] = []

            async def on_made(reply: Answer) -> None:
                made.append(int(reply.fields["section"]["id"]))

            await client.ask("/section", CreateSection(name=name), Answer, on_made)
            if not made:
                return  # refused (a bad name, too many sections): said already
            target = made[0]
        else:
            target = int(found["id"])
    already = client.rooms[room].section == target  # then no event comes: the reply says it

    async def on_ok(reply: Answer) -> None:
        if already:
            client.screen.notice(f"[{client.label(room)}] is in "
                                 f"{client.section_name(target)} already")

    await client.ask("/section", SetSection(room=room, section=target), Answer, on_ok)


async def sections(client: ChatClient, arg: str) -> None:
    """``/sections``: the user's own sections in their order, each with how many of their
    rooms it holds (as the server has them now)."""

    async def on_ok(reply: Answer) -> None:
        listed: list[Mapping[str, Any]] = [
            s for s in reply.fields.get("sections") or [] if isinstance(s, dict)]
        client.sections = listed
        if not listed:
            client.screen.notice("no sections: /section NAME puts the current room into a "
                                 "new one")
            return
        client.screen.notice(f"sections ({len(listed)}), in your order:")
        for s in listed:
            count = sum(1 for info in client.rooms.values() if info.section == s.get("id"))
            state = ", collapsed" if s.get("collapsed") is True else ""
            rooms = f"{count} room{'' if count == 1 else 's'}"
            client.screen.line(f"   {clean(s.get('name'))} ({rooms}{state})")

    await client.ask("/sections", Sections(), Answer, on_ok)


#: Results /search shows at a time.
SEARCH_PAGE = 10


async def search(client: ChatClient, arg: str) -> None:
    """``/search QUERY``: the newest messages that match, in every room the user is in (the
    query may say ``in:ROOM``, ``from:USER``, ``"a phrase"``, ``-word``, ``before:`` and
    ``after:`` days, ``has:file``/``image``/``link``/``poll``, ``is:mention``/``saved``/
    ``pinned``/``thread``, and those negated, ``-has:link``; docs/protocol.md); ``/search
    more``: the next page of the last search.
    Each result shows its short number, so that /reply, /react and /edit work on it."""
    query = arg.strip()
    before: int | None = None
    if not query:
        client.screen.problem('usage: /search WORDS ("a phrase", -word, from:USER, in:ROOM, '
                              "after:YYYY-MM-DD, has:file|image|link|poll, "
                              "is:mention|saved|pinned|thread, -has:…/-is:… to leave out); "
                              "/search more for the next page")
        return
    if query.lower() == "more":
        if client.next_search is None:
            client.screen.problem("/search more: no search has more results; /search WORDS")
            return
        query, before = client.next_search

    async def on_ok(reply: Answer) -> None:
        found = reply.fields.get("messages")
        found = found if isinstance(found, list) else []
        if not found:
            client.next_search = None
            client.screen.notice(f"no {'more ' if before else ''}messages match "
                                 f"{clean(query)!r}")
            return
        client.screen.notice(f"{'more ' if before else ''}messages matching "
                             f"{clean(query)!r}, newest first:")
        last: int | None = None
        for obj in found:
            if not isinstance(obj, dict):
                continue
            message = parse_event(obj)
            if not isinstance(message, MessagePosted):
                continue
            last = message.msg_id
            number = None
            if message.room in client.rooms:  # held, so that it can be answered by number
                [message] = client.take([message]) or [message]
                number = client.messages.number(message)
            snippet = obj.get("snippet")
            client.screen.spans(search_spans(
                message, snippet if isinstance(snippet, list) else [], number=number,
                label=client.label(message.room), styled=client.screen.styled))
        if reply.fields.get("more") is True and last is not None:
            client.next_search = (query, last)
            client.screen.notice("/search more for older ones")
        else:
            client.next_search = None

    await client.ask("/search", Search(query=query, before=before, limit=SEARCH_PAGE), Answer,
                     on_ok)


async def dm(client: ChatClient, arg: str) -> None:
    """``/dm USER TEXT``, or ``/dm USER,USER... TEXT``: a message to a person, or to several
    (the group conversation of the user and them, started by the first message)."""
    user_arg, _, text = arg.partition(" ")
    if not user_arg or not text.strip():
        client.screen.problem("usage: /dm USER[,USER...] TEXT")
        return
    to = client.users_arg(user_arg)
    if to:
        await client.say(None, text, to=to)


async def forward(client: ChatClient, arg: str) -> None:
    """``/forward N TARGET [COMMENT]``: forward message [N] with a comment into a room
    (``#general`` or ``general``) or a conversation (``@bob``, or ``@bob,carol``: a group
    conversation, started by it). The forward comes back as a message of the target, as
    everyone there sees it."""
    first, _, rest = arg.strip().partition(" ")
    target, _, comment = rest.strip().partition(" ")
    number = message_number(first)
    if number is None or not target:
        client.screen.problem("usage: /forward N #ROOM|@USER[,USER...] [COMMENT]")
        return
    message = _numbered(client, number, "/forward")
    if message is None:
        return
    if target.startswith("@"):
        to = client.users_arg(target[1:])
        if not to:
            return
        request = Forward(room=message.room, msg_id=message.msg_id, to=to,
                          text=comment.strip(), nonce=uuid.uuid4().hex)
    else:
        try:
            room = normalise_room(target.removeprefix("#"))
        except InvalidName as exc:
            client.screen.problem(f"/forward: {clean(target)!r}: {exc}")
            return
        request = Forward(room=message.room, msg_id=message.msg_id, to_room=room,
                          text=comment.strip(), nonce=uuid.uuid4().hex)

    async def on_ok(reply: Sent) -> None:
        client.screen.notice(f"forwarded [{number}] to [{client.label(reply.room)}]")

    # (not waited for: the next line does not depend on it, as for a message sent)
    await client.ask("/forward", request, Sent, on_ok, wait=False)


def split_path(arg: str) -> tuple[str, str] | None:
    """``PATH [TEXT]`` as typed after ``/upload``: the path (``~`` expanded; in quotes when it
    holds spaces: ``"my notes.txt"`` or ``'my notes.txt'``) and the text after it; None when
    there is no path or a quote is not closed."""
    arg = arg.strip()
    if arg[:1] in ("'", '"'):
        end = arg.find(arg[0], 1)
        if end < 0:
            return None
        path, text = arg[1:end], arg[end + 1:]
    else:
        path, _, text = arg.partition(" ")
    if not path:
        return None
    return os.path.expanduser(path), text.strip()


async def upload(client: ChatClient, arg: str) -> None:
    """``/upload PATH [TEXT]``: send a file to the current room or conversation, with TEXT."""
    parsed = split_path(arg)
    if parsed is None:
        client.screen.problem('usage: /upload PATH [TEXT] (quote a PATH with spaces: '
                              '/upload "my file.pdf")')
        return
    room = _need_room(client, "/upload")
    if room is not None:
        await client.upload(room, Path(parsed[0]), parsed[1])


async def avatar(client: ChatClient, arg: str) -> None:
    """``/avatar PATH``: make the image at PATH your picture (its centred square is kept);
    ``/avatar --clear``: remove it."""
    if arg.strip() == "--clear":
        await client.set_avatar(None)
        return
    parsed = split_path(arg)
    if parsed is None or parsed[1]:
        client.screen.problem('usage: /avatar PATH|--clear (quote a PATH with spaces: '
                              '/avatar "my face.png")')
        return
    await client.set_avatar(Path(parsed[0]))


async def who(client: ChatClient, arg: str) -> None:
    """``/who [ROOM] [AFTER]``: a page of the room's members (those after AFTER by name),
    with how many there are in all and online when the room has more than one page."""
    words = arg.split()
    if len(words) > 2:
        client.screen.problem("usage: /who [ROOM] [AFTER]")
        return
    room = client.room_arg(words[0]) if words else _need_room(client, "/who")
    if room is None:
        return
    try:
        after = normalise_user(words[1]) if len(words) == 2 else None
    except InvalidName as exc:
        client.screen.problem(f"{clean(words[1])!r}: {exc}")
        return

    async def on_ok(reply: Answer) -> None:
        listed = reply.fields.get("members") or []
        client.take_listed(listed)
        client.screen.notice(f"in [{client.label(room)}]: "
                             f"{presences(listed, client.server_now())}")
        count, online = reply.fields.get("count"), reply.fields.get("online")
        if reply.fields.get("more") is True and listed:
            last = clean(listed[-1].get("user"))
            client.screen.notice(
                f"[{client.label(room)}]: {clean(count)} members, {clean(online)} online; "
                f"/who {room} {last} lists those after {last}")

    await client.ask("/who", Who(room=room, after=after), Answer, on_ok)


async def topic(client: ChatClient, arg: str) -> None:
    """``/topic TEXT``: set the current room's topic (its owner and moderators may);
    ``/topic --clear`` clears it; ``/topic`` alone shows it. The ``topic`` entry, which every
    member sees, says it: the reply only says when nothing changed."""
    room = _need_room(client, "/topic")
    if room is None:
        return
    label = client.label(room)
    info = client.rooms.get(room)
    if not arg:
        if info is not None and info.topic:
            client.screen.notice(f"the topic of [{label}]: {clean(info.topic)}")
        else:
            client.screen.notice(f"[{label}] has no topic; /topic TEXT sets one")
        return
    text = "" if arg == "--clear" else arg

    async def on_ok(reply: Sent) -> None:
        if reply.unchanged:
            client.screen.notice(f"the topic of [{label}] is that already" if text
                                 else f"[{label}] has no topic already")

    await client.ask("/topic", SetTopic(room=room, topic=text), Sent, on_ok)


async def notify(client: ChatClient, arg: str) -> None:
    """``/notify [ROOM] all|mentions|none``: the user's notification level for the room (the
    current one by default), kept on the server: it decides what reaches their devices by
    Web Push, and what rings the bell here. ``/notify [ROOM]`` shows it. Each connection of
    the user is told (the ``notify`` event): another device's change is shown too."""
    words = arg.split()
    level = words[-1].lower() if words and words[-1].lower() in NOTIFY_LEVELS else None
    if len(words) > 2 or (len(words) == 2 and level is None):
        client.screen.problem("usage: /notify [ROOM] all|mentions|none")
        return
    named = words[0] if len(words) == 2 or (words and level is None) else None
    room = client.room_arg(named) if named else _need_room(client, "/notify")
    if room is None:
        return
    label = client.label(room)
    before = client.notify_level(room)
    if level is None:
        if room not in client.rooms:
            client.screen.problem(f"/notify: you are not in [{label}]")
            return
        default = " (the default)" if before == default_notify(kind_of(room)) else ""
        client.screen.notice(f"{notify_text(label, before)}{default}; "
                             "/notify all|mentions|none changes it")
        return

    async def on_ok(reply: Answer) -> None:
        now = str(reply.fields.get("notify"))
        if now == before:
            client.screen.notice(f"{notify_text(label, now)} (unchanged)")
        else:
            client.take_notify(room, now)

    await client.ask("/notify", SetNotify(room=room, notify=level), Answer, on_ok)


async def dnd(client: ChatClient, arg: str) -> None:
    """``/dnd [30m|1h|2h|8h|1d|off]``: pause every notification of the user (pushes, the
    pages' notifications and sounds, this client's bell), on every device, for that long, by
    the server's clock (at most a week); ``off`` resumes them. Alone, says whether they are
    paused and until when. Each connection of the user is told (the ``dnd`` event)."""
    usage = "usage: /dnd [30m|1h|2h|8h|1d|off]"
    word = arg.strip().lower()
    if not word:
        hint = "/dnd off resumes them" if client.paused() else "/dnd 1h pauses them"
        client.screen.notice(f"{dnd_text(client.dnd_until, client.server_now())}; {hint}")
        return
    if word in ("off", "resume", "on"):
        request = SetDnd(until=None)
    else:
        seconds = ban_duration(word)
        if seconds is None or " " in word:
            client.screen.problem(usage)
            return
        if not 1 <= seconds <= MAX_DND_SECONDS:
            client.screen.problem("/dnd: from 1s to 7d")
            return
        request = SetDnd(duration=seconds)

    async def on_ok(reply: Answer) -> None:
        until = reply.fields.get("until")
        client.take_dnd(until if isinstance(until, int) and not isinstance(until, bool)
                        else None)

    await client.ask("/dnd", request, Answer, on_ok)


async def receipts(client: ChatClient, arg: str) -> None:
    """``/receipts on|off``: whether others see when the user has read their messages (read
    receipts; on for every account until turned off); off leaves the user out of everyone's
    receipts and "seen" lines, and they still see other people's. Alone, says which. Every
    device of the user is told (the ``read_receipts`` event), which says it here."""
    word = arg.strip().lower()
    if not word:
        client.screen.notice(receipts_text(client.read_receipts))
        return
    if word not in ("on", "off"):
        client.screen.problem("usage: /receipts [on|off]")
        return
    on = word == "on"
    already = client.read_receipts == on  # then no event comes: the reply says it

    async def on_ok(reply: Answer) -> None:
        if already:
            client.screen.notice(receipts_text(on))

    await client.ask("/receipts", SetReadReceipts(on=on), Answer, on_ok)


def email_text(answer: Mapping[str, Any]) -> str:
    """What ``/email`` says of the settings (``GET /api/me/email``'s answer)."""
    if not answer.get("available"):
        return "this server sends no email"
    address = answer.get("email")
    if not isinstance(address, str):
        return "you have no email address here; /email ADDRESS sets one"
    state = ("confirmed" if answer.get("confirmed")
             else "not confirmed yet: open the link mailed to it")
    emails = ("missed direct messages and mentions are mailed to you (/email off stops them)"
              if answer.get("notify") else "missed-message emails are off (/email on)")
    pending = answer.get("pending")
    if answer.get("confirmed") and isinstance(pending, str) and pending:
        state += f"; changing to {clean(pending)} once the link mailed to it is opened"
    return f"your email address: {clean(address)} ({state}); {emails}"


async def email(client: ChatClient, arg: str) -> None:
    """``/email``: your address and whether missed messages are mailed to you; ``/email
    ADDRESS`` sets it (a link to confirm it is mailed to it); ``/email on|off`` turns the
    missed-message emails on or off; ``/email remove`` removes the address. Over HTTP
    (``/api/me/email``), as ``/avatar``."""
    word = arg.strip()
    if " " in word:
        client.screen.problem("usage: /email [ADDRESS|on|off|remove]")
        return
    request: tuple[str, str, dict[str, Any] | None]
    if not word:
        request = ("GET", "/api/me/email", None)
    elif word.lower() in ("on", "off"):
        request = ("PUT", "/api/me/email-notifications", {"on": word.lower() == "on"})
    elif word.lower() == "remove":
        request = ("DELETE", "/api/me/email", None)
    else:
        request = ("PUT", "/api/me/email", {"email": word})
    answered = await client.api("/email", *request)
    if answered is None:
        return
    status, answer = answered
    if status not in (200, 202) or not isinstance(answer, dict):
        client.screen.problem(f"/email: {http_error(status, answer)}")
        return
    if status == 202 and not answer.get("confirmed"):
        client.screen.notice(f"a link to confirm {clean(answer.get('email'))} was mailed to "
                             "it: open it (it works for 24 hours)")
        return
    pending = answer.get("pending")
    if status == 202 and isinstance(pending, str) and pending:
        # (a confirmed address stays, and gets the mail, until the new one is confirmed)
        client.screen.notice(f"a link to confirm {clean(pending)} was mailed to it: open it "
                             f"(it works for 24 hours); until then mail still goes to "
                             f"{clean(answer.get('email'))}")
        return
    if request[0] == "DELETE":
        client.screen.notice("your email address is removed: nothing is mailed to you")
        return
    client.screen.notice(email_text(answer))


def _size_text(size: object) -> str:
    if not isinstance(size, int) or size < 0:
        return ""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def export_text(answer: Mapping[str, Any], base_url: str) -> str:
    """What ``/export`` says of an export (``GET /api/me/export``'s ``export``)."""
    state = answer.get("state")
    holds = f"{answer.get('messages', 0)} messages, {answer.get('files', 0)} files"
    if state == "running":
        return f"your export is being made ({holds} so far); /export again to see how it goes"
    if state == "ready":
        url = answer.get("url")
        where = f"{base_url}{clean(url)}" if isinstance(url, str) else "?"
        size = _size_text(answer.get("size"))
        return (f"your export is ready ({holds}{', ' + size if size else ''}): /export save "
                f"PATH saves it, or download it (no log-in needed, for a while) from {where} ; "
                "/export new starts another")
    if state == "failed":
        return (f"your last export failed: {clean(answer.get('error') or 'no reason given')}; "
                "/export new starts another")
    return "your last export has expired; /export new starts another"


EXPORT_USAGE = "usage: /export [new|save PATH]"


def _save_target(where: str) -> Path:
    """The file ``/export save PATH`` names (``~`` expanded; quotes around it dropped)."""
    return Path(os.path.expanduser(where.strip("'\"")))


async def _save_export(client: ChatClient, where: str) -> None:
    """``/export save PATH``: the ready export's zip, downloaded to the new file PATH."""
    target = _save_target(where)
    size = await client.download("/export save", "/api/me/export/download", target)
    if size is not None:
        client.screen.notice(f"your data is saved in {clean(str(target))} "
                             f"({_size_text(size)})")


async def export(client: ChatClient, arg: str) -> None:
    """``/export``: how your latest export of your data goes ("Download my data": a zip of
    your account, rooms, messages and files), starting one when there is none; ``/export
    new`` starts one. Once ready it prints the download's link, signed by the server (it works
    without logging in, until it expires), and ``/export save PATH`` saves the zip to a new
    file. Over HTTP (``/api/me/export``), as ``/email``."""
    word, _, rest = arg.strip().partition(" ")
    word = word.lower()
    if word == "save" and rest.strip():
        await _save_export(client, rest.strip())
        return
    if word not in ("", "new"):
        client.screen.problem(EXPORT_USAGE)
        return
    base_url = client.options.endpoint.base_url
    if not word:
        answered = await client.api("/export", "GET", "/api/me/export")
        if answered is None:
            return
        status, answer = answered
        if status == 200 and isinstance(answer, dict) and isinstance(answer.get("export"), dict):
            client.screen.notice(export_text(answer["export"], base_url))
            return
        if status != 404:
            client.screen.problem(f"/export: {http_error(status, answer)}")
            return
    answered = await client.api("/export", "POST", "/api/me/export")
    if answered is None:
        return
    status, answer = answered
    if status != 202 or not isinstance(answer, dict) or not isinstance(answer.get("export"),
                                                                           dict):
        client.screen.problem(f"/export: {http_error(status, answer)}")
        return
    client.screen.notice("your export is being made (your account, rooms, the messages of "
                         "your conversations and those you wrote, files): /export again to "
                         "see how it goes")


KEYWORDS_USAGE = ('usage: /keywords [add WORD…|remove WORD…|clear] (a keyword of several '
                  'words in quotes: /keywords add "on call")')


async def keywords(client: ChatClient, arg: str) -> None:
    """``/keywords``: the user's notification keywords; ``add WORD…`` and ``remove WORD…``
    change them (a keyword of several words in quotes: ``"on call"``; removing ignores
    case), ``clear`` removes them all. The whole list is sent (``set_keywords``) and the
    reply says it as stored; the user's other devices are told (the ``keywords`` event)."""
    action, _, rest = arg.strip().partition(" ")
    action = action.lower()
    if not action:
        client.screen.notice(keywords_text(client.keywords))
        return
    try:
        words = shlex.split(rest)
    except ValueError:
        client.screen.problem(KEYWORDS_USAGE)
        return
    current = list(client.keywords)
    if action == "add" and words:
        wanted = current + words
        most = client.keywords_max
        if most is not None and len({k.strip().lower() for k in wanted}) > most:
            client.screen.problem(f"/keywords: at most {most} keywords (the server's limit): "
                                  "remove some first")
            return
    elif action == "remove" and words:
        gone = {word.strip().lower() for word in words}
        missing = [word for word in words
                   if word.strip().lower() not in {k.lower() for k in current}]
        if missing:
            client.screen.problem(f"/keywords: not one of your keywords: {clean(missing[0])}")
            return
        wanted = [k for k in current if k.lower() not in gone]
    elif action == "clear" and not words:
        wanted = []
    else:
        client.screen.problem(KEYWORDS_USAGE)
        return

    async def on_ok(reply: Answer) -> None:
        stored = reply.fields.get("keywords")
        if isinstance(stored, list) and all(isinstance(k, str) for k in stored):
            client.keywords = tuple(stored)
        client.screen.notice(keywords_text(client.keywords))

    await client.ask("/keywords", SetKeywords(keywords=tuple(wanted)), Answer, on_ok)


async def drafts(client: ChatClient, arg: str) -> None:
    """``/drafts``: the user's drafts (what they typed and did not send yet, on any device:
    the page keeps them on the server), the latest first, each with its room (and thread);
    ``/drafts clear [ROOM]`` deletes the one of the current room (or ROOM)."""
    action, _, rest = arg.strip().partition(" ")
    if action.lower() == "clear":
        room = client.room_arg(rest) if rest.strip() else client.current
        if room is None:
            if not rest.strip():
                client.screen.problem("/drafts clear: no current room; /drafts clear ROOM")
            return

        async def on_cleared(reply: Answer) -> None:
            client.drafts.pop((room, 0), None)
            client.screen.notice(f"no draft in [{client.label(room)}] now")

        await client.ask("/drafts", SetDraft(room=room, text=""), Answer, on_cleared)
        return
    if action:
        client.screen.problem("usage: /drafts [clear [ROOM]]")
        return

    async def on_ok(reply: Answer) -> None:
        found = client.take_drafts(reply.fields.get("drafts"))
        if not found:
            client.screen.notice("no drafts: what you type and do not send is kept here, "
                                 "on every device (the web page saves it)")
            return
        client.screen.notice(f"drafts ({len(found)}), the latest first:")
        now = client.server_now()
        for draft in found:
            where = client.label(draft["room"])
            if draft.get("thread"):
                where += f", thread of message {draft['thread']}"
            at = draft.get("updated_at")
            when = f" · {ago(now - at)}" if isinstance(at, int) else ""
            client.screen.line(f"  [{where}]{when}: {excerpt(draft['text'])}")

    await client.ask("/drafts", Drafts(), Answer, on_ok)


async def seen(client: ChatClient, arg: str) -> None:
    """``/seen [N]``: who has read message [N], by default the latest message of the
    current room (its author and the user aside, and those who do not share their read
    receipts): how many, and the first names by name."""
    if arg.strip():
        found = _one_numbered(client, arg, "/seen",
                              "usage: /seen [N] (the number shown before the message)")
        if found is None:
            return
        number, message = found
    else:
        room = _need_room(client, "/seen")
        if room is None:
            return
        latest = client.messages.latest(room)
        if latest is None:
            client.screen.problem(f"/seen: no message in [{client.label(room)}] here; "
                                  "/seen N names message [N]")
            return
        number, message = client.messages.number(latest), latest

    async def on_ok(reply: Answer) -> None:
        count, users = reply.fields.get("count"), reply.fields.get("users")
        names = [u for u in users if isinstance(u, str)] if isinstance(users, list) else []
        client.screen.notice(readers_text(number, count if isinstance(count, int) else 0,
                                          names, reply.fields.get("more") is True))

    await client.ask("/seen", Receipts(room=message.room, msg_id=message.msg_id), Answer,
                     on_ok)


async def nick(client: ChatClient, arg: str) -> None:
    """``/nick NAME``: the display name everyone sees next to the login name (messages keep
    the login name); ``/nick --clear`` removes it; ``/nick`` alone shows it. The reply (or
    the ``profile`` event, whichever comes first) says it once."""
    if not arg:
        name = client.display_name
        client.screen.notice(f'your display name is "{clean(name)}"; /nick --clear removes it'
                             if name is not None else
                             "you have no display name; /nick NAME sets one")
        return
    await _set_profile(client, "/nick", SetProfile(
        display_name="" if arg == "--clear" else arg))


#: ``/status``'s usage line.
STATUS_USAGE = "usage: /status [EMOJI] TEXT [--for 30m|1h|1d] | /status --clear"


async def status(client: ChatClient, arg: str) -> None:
    """``/status [EMOJI] TEXT [--for 30m|1h|1d]``: a custom status everyone sees (an emoji
    first, as ``🌴`` or ``:palm_tree:``; a time it ends by itself, by the server's clock, at
    most 30 days); ``/status --clear`` clears it; ``/status`` alone shows it."""
    words = arg.split()
    if not words:
        shown = status_text(client.custom_status, client.server_now())
        client.screen.notice(f"your status: {shown}; /status --clear clears it" if shown
                             else "you have no status; /status [EMOJI] TEXT sets one")
        return
    if words == ["--clear"]:
        await _set_profile(client, "/status", SetProfile(custom_status=NO_STATUS))
        return
    duration = None
    if "--for" in words:
        at = words.index("--for")
        seconds = ban_duration(words[at + 1]) if at + 1 < len(words) else None
        if seconds is None:
            client.screen.problem(STATUS_USAGE)
            return
        if not 1 <= seconds <= MAX_STATUS_SECONDS:
            client.screen.problem("/status --for: from 1s to 30d")
            return
        duration = seconds
        del words[at:at + 2]
    emoji = reaction_emoji(words[0]) if words else None
    if emoji is not None:
        words = words[1:]
    text = " ".join(words)
    if not emoji and not text:
        client.screen.problem(STATUS_USAGE)
        return
    await _set_profile(client, "/status", SetProfile(custom_status=NewStatus(
        emoji=emoji or "", text=text, duration=duration)))


async def _set_profile(client: ChatClient, what: str, request: SetProfile) -> None:
    async def on_ok(reply: Answer) -> None:
        client.take_profile(client.me, reply.fields.get("display_name"),
                            reply.fields.get("custom_status"))

    await client.ask(what, request, Answer, on_ok)


async def emoji(client: ChatClient, arg: str) -> None:
    """``/emoji``: the server's custom emoji, who added each; ``/emoji add NAME PATH``: add
    the image at PATH as ``:NAME:``; ``/emoji remove NAME``: remove one (its adder, or an
    administrator)."""
    verb, _, rest = arg.strip().partition(" ")
    if verb == "add":
        name, _, path = rest.strip().partition(" ")
        parsed = split_path(path)
        if not name or parsed is None or parsed[1]:
            client.screen.problem('usage: /emoji add NAME PATH (quote a PATH with spaces: '
                                  '/emoji add logo "our logo.png")')
            return
        await client.emoji_add(name.strip(":"), Path(parsed[0]))
        return
    if verb == "remove":
        name = rest.strip().strip(":")
        if not name or " " in name:
            client.screen.problem("usage: /emoji remove NAME")
            return
        await client.emoji_remove(name)
        return
    if verb:
        client.screen.problem("usage: /emoji [add NAME PATH|remove NAME]")
        return

    async def on_ok(reply: Answer) -> None:
        found = [e for e in reply.fields.get("emoji") or [] if isinstance(e, dict)]
        client.custom_emoji = {str(e.get("name")): e for e in found}
        if not found:
            client.screen.notice("no custom emoji yet (/emoji add NAME PATH adds one)")
            return
        client.screen.notice(f"{len(found)} custom emoji:")
        for e in found:
            client.screen.notice(f"  :{clean(str(e.get('name')))}: "
                                 f"added by {clean(str(e.get('by')))}")

    await client.ask("/emoji", CustomEmojiList(), Answer, on_ok)


async def groups(client: ChatClient, arg: str) -> None:
    """``/groups``: the server's user groups, how many members each has, and which the user
    is in (their ``@name`` mentions the user)."""
    if arg.strip():
        client.screen.problem("usage: /groups")
        return

    async def on_ok(reply: Answer) -> None:
        found = [g for g in reply.fields.get("groups") or [] if isinstance(g, dict)]
        client.user_groups = {str(g.get("name")): g for g in found}
        if not found:
            client.screen.notice("no user groups yet (/mkgroup NAME [USER…] makes one)")
            return
        client.screen.notice(f"{len(found)} user group(s):")
        for g in found:
            you = " (you)" if g.get("you") is True else ""
            client.screen.notice(f"  @{clean(str(g.get('name')))}{_about(g)}: "
                                 f"{g.get('members')} member(s){you}")

    await client.ask("/groups", UserGroupList(), Answer, on_ok)


def _about(group: dict[str, object]) -> str:
    """A user group's description as shown after its name (`` — TEXT``), or nothing."""
    return f" — {clean(str(group.get('description')))}" if group.get("description") else ""


def _group_and_users(command: str, arg: str, *, users: bool) -> tuple[str, list[str]] | str:
    """``NAME USER…`` (``NAME`` alone when not ``users``): the group (a leading ``@``
    dropped) and the users, or the usage line."""
    words = arg.split()
    usage = f"usage: /{command} NAME" + (" USER…" if users else "")
    if not words or (users and len(words) < 2) or (not users and len(words) > 1):
        return usage
    return words[0].removeprefix("@"), [w.removeprefix("@") for w in words[1:]]


async def group(client: ChatClient, arg: str) -> None:
    """``/group NAME``: a user group's description and members."""
    parsed = _group_and_users("group", arg, users=False)
    if isinstance(parsed, str):
        client.screen.problem(parsed)
        return

    async def on_ok(reply: Answer) -> None:
        info = reply.fields.get("group") or {}
        members = [clean(str(m)) for m in reply.fields.get("members") or []]
        client.screen.notice(f"@{clean(str(info.get('name')))}{_about(info)}: "
                             + (", ".join(members) if members else "no members"))

    await client.ask("/group", UserGroupInfo(name=parsed[0]), Answer, on_ok)


async def mkgroup(client: ChatClient, arg: str) -> None:
    """``/mkgroup NAME [USER…]``: make a user group of those users (yourself only if you
    list yourself)."""
    words = arg.split()
    if not words:
        client.screen.problem("usage: /mkgroup NAME [USER…]")
        return
    request = CreateUserGroup(name=words[0].removeprefix("@"),
                              members=tuple(w.removeprefix("@") for w in words[1:]))
    await client.ask("/mkgroup", request, Answer, _quiet)


async def groupadd(client: ChatClient, arg: str) -> None:
    """``/groupadd NAME USER…``: add members to a user group."""
    parsed = _group_and_users("groupadd", arg, users=True)
    if isinstance(parsed, str):
        client.screen.problem(parsed)
        return
    await client.ask("/groupadd", EditUserGroup(name=parsed[0], add=tuple(parsed[1])),
                     Answer, _quiet)


async def groupremove(client: ChatClient, arg: str) -> None:
    """``/groupremove NAME USER…``: remove members from a user group."""
    parsed = _group_and_users("groupremove", arg, users=True)
    if isinstance(parsed, str):
        client.screen.problem(parsed)
        return
    await client.ask("/groupremove", EditUserGroup(name=parsed[0], remove=tuple(parsed[1])),
                     Answer, _quiet)


async def groupdesc(client: ChatClient, arg: str) -> None:
    """``/groupdesc NAME TEXT``: a user group's description (``--clear``: none)."""
    name, _, text = arg.strip().partition(" ")
    if not name or not text.strip():
        client.screen.problem("usage: /groupdesc NAME TEXT|--clear")
        return
    description = "" if text.strip() == "--clear" else text.strip()
    await client.ask("/groupdesc", EditUserGroup(name=name.removeprefix("@"),
                                                 description=description), Answer, _quiet)


async def rmgroup(client: ChatClient, arg: str) -> None:
    """``/rmgroup NAME``: delete a user group (its members, its creator, administrators)."""
    parsed = _group_and_users("rmgroup", arg, users=False)
    if isinstance(parsed, str):
        client.screen.problem(parsed)
        return
    await client.ask("/rmgroup", DeleteUserGroup(name=parsed[0]), Answer, _quiet)


async def whois(client: ChatClient, arg: str) -> None:
    """``/whois USER``: their display name and custom status (anyone's: names are seen
    server-wide)."""
    user = client.user_arg(arg) if arg else None
    if user is None:
        if not arg:
            client.screen.problem("usage: /whois USER")
        return

    async def on_ok(reply: Answer) -> None:
        found = reply.fields.get("profiles") or []
        if not found:
            client.screen.problem(f"/whois: there is no user {clean(user)!r}")
            return
        profile = found[0]
        name = profile.get("user")
        client.take_listed([profile])
        gone = " (deactivated)" if profile.get("deactivated") is True else ""
        said = profile_text(profile.get("display_name"), profile.get("custom_status"),
                            client.server_now())
        picture = "has a picture" if profile.get("avatar") else "has no picture"
        client.screen.notice(f"{clean(name)} is {said}{gone}; {picture}")

    await client.ask("/whois", Profiles(users=(user,)), Answer, on_ok)


async def history(client: ChatClient, arg: str) -> None:
    room = _need_room(client, "/history")
    if room is None:
        return
    try:
        limit = int(arg) if arg else 20
    except ValueError:
        client.screen.problem("usage: /history [COUNT]")
        return
    limit = max(1, min(limit, 500))
    before = client.oldest.get(room)
    if before is not None and before <= 1:
        client.screen.notice(f"no older messages in [{client.label(room)}]")
        return

    async def on_ok(page: HistoryPage) -> None:
        if not page.messages:
            client.screen.notice(f"no older messages in [{client.label(room)}]")
            return
        shown = client.take(page.messages)
        client.screen.notice(f"{len(shown)} earlier messages in [{client.label(room)}]:")
        for message in shown:
            client.show(message)
        client.oldest[room] = page.messages[0].seq
        if not page.more:
            client.screen.notice("(the beginning of the room)")

    await client.ask("/history", History(room=room, before=before, limit=limit), HistoryPage,
                     on_ok)


async def edit(client: ChatClient, arg: str) -> None:
    """``/edit N TEXT``, ``/edit TEXT`` (the user's last message in the current room), or
    ``/edit N`` (print the text of [N] as typed, to copy)."""
    first, _, rest = arg.partition(" ")
    number = message_number(first)
    if number is not None:
        message = _numbered(client, number, "/edit")
        text = rest.strip()
        if message is not None and not text:
            client.screen.notice(f"[{number}] reads: {clean_body(message.text)}")
            client.screen.notice(f"/edit {number} NEW TEXT replaces it")
            return
    elif arg:
        message, text = await _my_last(client, "/edit"), arg
    else:
        client.screen.problem("usage: /edit N TEXT, or /edit TEXT for your last message")
        return
    if message is None:
        return
    number = client.messages.number(message)
    if message.sender.lower() != client.me.lower():
        client.screen.problem(f"/edit: [{number}] is {clean(message.sender)}'s; only its "
                              "author can edit it")
    elif message.deleted:
        client.screen.problem(f"/edit: [{number}] is deleted")
    else:
        await client.change(Edit(room=message.room, msg_id=message.msg_id, text=text),
                            f"/edit [{number}]")


async def delete(client: ChatClient, arg: str) -> None:
    """``/delete N`` shows message [N] and asks for ``/delete N!``, which deletes it;
    ``/delete`` alone does the same for the user's last message in the current room."""
    word = arg.strip()
    confirmed = word.endswith("!")
    word = word.removesuffix("!").strip()
    number = message_number(word)
    if (word and number is None) or (confirmed and number is None):
        client.screen.problem("usage: /delete N, then /delete N! to delete message [N]")
        return
    message = (_numbered(client, number, "/delete") if number is not None
               else await _my_last(client, "/delete"))
    if message is None:
        return
    number = client.messages.number(message)
    if message.deleted:
        client.screen.notice(f"[{number}] is deleted already")
    elif not confirmed:
        client.show(message)
        client.screen.notice(f"/delete {number}! deletes it, for everyone")
    else:
        await client.change(Delete(room=message.room, msg_id=message.msg_id),
                            f"/delete [{number}]")


async def react(client: ChatClient, arg: str) -> None:
    """``/react N EMOJI``: put the reaction on message [N], or take it back if it is on."""
    words = arg.split()
    if len(words) == 2 and message_number(words[0]) is None:
        words.reverse()  # /react 👍 3 is as clear
    number = message_number(words[0]) if len(words) == 2 else None
    if number is None:
        client.screen.problem("usage: /react N EMOJI (👍 or :thumbsup:; again to take it back)")
        return
    emoji = reaction_emoji(words[1], client.custom_emoji or ())
    if emoji is None:
        client.screen.problem(f"/react: {clean(words[1])!r} is not one emoji")
        return
    message = _numbered(client, number, "/react")
    if message is None:
        return
    if message.deleted:
        client.screen.problem(f"/react: [{number}] is deleted")
        return
    on = not reacted(message, emoji, client.me)
    await client.change(React(room=message.room, msg_id=message.msg_id, emoji=emoji, on=on),
                        f"/react [{number}] {emoji}")


async def _pin(client: ChatClient, arg: str, on: bool) -> None:
    """``/pin N`` or ``/unpin N``: pin message [N] for every member of its room to find
    (``/pins``), or unpin it. The ``pinned`` entry, which every member sees, says it: the
    reply only says when nothing changed."""
    what = "/pin" if on else "/unpin"
    found = _one_numbered(client, arg, what,
                          f"usage: {what} N (the number shown before the message)")
    if found is None:
        return
    number, message = found
    if message.deleted:
        client.screen.problem(f"{what}: [{number}] is deleted")
        return
    await client.change(Pin(room=message.room, msg_id=message.msg_id, on=on),
                        f"{what} [{number}]")


async def pin(client: ChatClient, arg: str) -> None:
    await _pin(client, arg, True)


async def unpin(client: ChatClient, arg: str) -> None:
    await _pin(client, arg, False)


async def edits(client: ChatClient, arg: str) -> None:
    """``/edits N``: the versions of message [N], oldest first (its text now the last), each
    with who wrote it and when; says when the original is not kept (edited before the server
    kept replaced texts) and how many versions a long history left out."""
    found = _one_numbered(client, arg, "/edits",
                          "usage: /edits N (the number shown before the message)")
    if found is None:
        return
    number, message = found
    if message.deleted:
        client.screen.problem(f"/edits: [{number}] is deleted (its history went with it)")
        return

    async def on_ok(reply: Answer) -> None:
        listed = reply.fields.get("versions")
        versions = [v for v in (listed if isinstance(listed, list) else [])
                    if isinstance(v, dict)]
        original = reply.fields.get("original") is True
        omitted = reply.fields.get("omitted")
        if len(versions) <= 1 and original:
            client.screen.notice(f"[{number}] was never edited")
            return
        client.screen.notice(f"versions of [{number}] in [{client.label(message.room)}], "
                             "the oldest first:")
        for i, version in enumerate(versions):
            if i == 0:
                name = "original" if original else "oldest kept"
            else:
                name = "now" if i == len(versions) - 1 else f"version {i + 1}"
            client.screen.line(f"  {name} · {day_time(version.get('ts'))} · "
                               f"{clean(version.get('by', ''))}: "
                               f"{clean_body(version.get('text', ''))}")
            if i == 0 and isinstance(omitted, int) and omitted > 0:
                client.screen.line(f"  … {omitted} more version{'' if omitted == 1 else 's'} "
                                   "not shown")
        if not original:
            client.screen.notice("the original text is not kept (edited before the server "
                                 "kept the texts edits replace)")

    await client.ask("/edits", EditHistoryRequest(room=message.room, msg_id=message.msg_id),
                     Answer, on_ok)


#: Pinned messages /pins shows at a time (a room has at most limits.pins_per_room, 100 by
#: default: the first page is most often all of them).
PINS_PAGE = 20


async def pins(client: ChatClient, arg: str) -> None:
    """``/pins [ROOM]``: the messages pinned in the room (the current one by default), the
    most recently pinned first, each with its short number; ``/pins more``: the next page."""
    word = arg.strip()
    before: int | None = None
    if word.lower() == "more":
        if client.next_pins is None:
            client.screen.problem("/pins more: no list of pins has more; /pins [ROOM]")
            return
        room, before = client.next_pins
    elif len(word.split()) > 1:
        client.screen.problem("usage: /pins [ROOM], then /pins more for the next page")
        return
    else:
        found = client.room_arg(word) if word else _need_room(client, "/pins")
        if found is None:
            return
        room = found
    label = client.label(room)

    async def on_ok(reply: Answer) -> None:
        listed = reply.fields.get("messages")
        shown = [m for obj in (listed if isinstance(listed, list) else [])
                 if isinstance(obj, dict) and isinstance(m := parse_event(obj), MessagePosted)]
        if not shown:
            client.next_pins = None
            client.screen.notice(f"no {'more ' if before else ''}pinned messages in [{label}]"
                                 + ("" if before else "; /pin N pins message [N]"))
            return
        client.screen.notice(f"{'more ' if before else ''}pinned in [{label}], the latest "
                             "first:")
        last: int | None = None
        for message in shown:
            if message.pinned is not None and isinstance(message.pinned.get("seq"), int):
                last = message.pinned["seq"]
            # Held, so that it can be named by number: only members list pins, and a
            # member's connection gets the room's entries (even of a room the welcome's
            # page left out), which keep it right.
            [message] = client.take([message]) or [message]
            client.show(message)
        if reply.fields.get("more") is True and last is not None:
            client.next_pins = (room, last)
            client.screen.notice("/pins more for the ones pinned before")
        else:
            client.next_pins = None

    await client.ask("/pins", Pins(room=room, before=before, limit=PINS_PAGE), Answer, on_ok)


async def save(client: ChatClient, arg: str) -> None:
    """``/save N [in 20m|1h|tomorrow…]``: save message [N] for oneself (``/saved`` lists
    them), with a reminder then (by the server's clock, in local time). Saving a saved
    message again sets its reminder anew (none: clears it). The ``saved`` event, which
    every device of the user gets, says it: the reply only says when nothing changed."""
    first, _, when = arg.strip().partition(" ")
    number = message_number(first)
    if number is None:
        client.screen.problem(f"usage: /save N [{WHEN_USAGE}]")
        return
    message = _numbered(client, number, "/save")
    if message is None:
        return
    remind_at = None
    if when.strip():
        now = client.server_now()
        local = local_now(now)
        try:
            remind_at = int(reminder_time(when, local).timestamp() * 1000)
        except ValueError as exc:
            client.screen.problem(f"/save: {exc}")
            return

    async def on_ok(reply: Answer) -> None:
        if reply.fields.get("unchanged") is True:
            client.screen.notice(f"[{number}] is saved already, with that reminder")

    await client.ask("/save", Save(room=message.room, msg_id=message.msg_id,
                                   remind_at=remind_at), Answer, on_ok)


async def unsave(client: ChatClient, arg: str) -> None:
    """``/unsave N``: remove message [N] from the saved messages."""
    found = _one_numbered(client, arg, "/unsave", "usage: /unsave N")
    if found is None:
        return
    number, message = found

    async def on_ok(reply: Answer) -> None:
        if reply.fields.get("unchanged") is True:
            client.screen.notice(f"[{number}] is not saved")

    await client.ask("/unsave", Save(room=message.room, msg_id=message.msg_id, on=False),
                     Answer, on_ok)


#: A list's cursor: where its last page stopped.
_Cursor = TypeVar("_Cursor")


def _page_arg(client: ChatClient, arg: str, command: str, cursor: _Cursor | None
              ) -> tuple[bool, _Cursor | None]:
    """The page a list command that takes only ``more`` (``/saved``, ``/threads``) asks for.

    Args:
        arg: what follows the command: nothing (the first page) or ``more``.
        cursor: where the last list of this command stopped (None: it had no more).

    Returns:
        ``(True, None)`` for the first page, ``(True, cursor)`` for the next one; else
        ``(False, None)``, the problem shown (no more to show, or a word not understood).
    """
    word = arg.strip().lower()
    if not word:
        return True, None
    if word != "more":
        client.screen.problem(f"usage: {command}, then {command} more for the next page")
    elif cursor is None:
        client.screen.problem(f"{command} more: the last list had no more; {command}")
    else:
        return True, cursor
    return False, None


#: Saved messages /saved shows at a time.
SAVED_PAGE = 20


async def saved(client: ChatClient, arg: str) -> None:
    """``/saved``: the saved messages, the latest saved first, each with its short number
    and its reminder; ``/saved more``: the next page."""
    go_on, before = _page_arg(client, arg, "/saved", client.next_saved)
    if not go_on:
        return

    async def on_ok(reply: Answer) -> None:
        listed = reply.fields.get("items")
        items = [i for i in (listed if isinstance(listed, list) else [])
                 if isinstance(i, dict) and isinstance(i.get("message"), dict)
                 and isinstance(i.get("ts"), int)]
        if not items:
            client.next_saved = None
            client.screen.notice(f"no {'more ' if before else ''}saved messages"
                                 + ("" if before else "; /save N saves message [N]"))
            return
        client.screen.notice(f"{'more ' if before else ''}saved messages, the latest saved "
                             "first:")
        now = client.server_now()
        for item in items:
            message = parse_event(item["message"])
            if not isinstance(message, MessagePosted):
                continue
            [message] = client.take([message]) or [message]
            client.show(message)
            remind_at = item.get("remind_at")
            reminder = reminder_text(remind_at if isinstance(remind_at, int) else None,
                                     item.get("reminded") is True, now)
            if reminder:
                client.screen.notice(f"  {reminder}")
        more = reply.fields.get("more") is True
        client.next_saved = items[-1]["ts"] if more else None
        if more:
            client.screen.notice("/saved more for the ones saved before")

    await client.ask("/saved", SavedItems(before=before, limit=SAVED_PAGE), Answer, on_ok)


async def later(client: ChatClient, arg: str) -> None:
    """``/later WHEN TEXT``: have the server send TEXT to the current room or conversation
    at WHEN (as ``/save`` reads a time: ``in 2h``, ``tomorrow``, ``9:00``, in local time by
    the server's clock); ``/later`` alone lists the scheduled messages (``/scheduled``). The
    ``scheduled`` event, which every device of the user gets, says it."""
    if not arg.strip():
        await scheduled(client, "")
        return
    room = _need_room(client, "/later")
    if room is None:
        return
    when, text = split_when(arg.strip())
    if not text.strip():
        client.screen.problem(f"usage: /later WHEN TEXT (WHEN: {WHEN_USAGE})")
        return
    local = local_now(client.server_now())
    try:
        send_at = int(reminder_time(when, local).timestamp() * 1000)
    except ValueError as exc:
        client.screen.problem(f"/later: {str(exc).replace('a reminder', 'a time')}")
        return
    await client.ask("/later", Schedule(room=room, text=text, send_at=send_at), Answer,
                     _nothing)


async def remind(client: ChatClient, arg: str) -> None:
    """``/remind WHEN TEXT``: a reminder of anything (Slack's ``/remind me``): TEXT is
    written to your notes to self and saved with a reminder at WHEN (as ``/later`` reads
    it); it is reminded then as a saved message is, and ``/saved`` lists it."""
    rest = arg.strip()
    whom: str | None = None
    if rest.startswith("@"):
        name, _, rest = rest.partition(" ")
        whom = client.user_arg(name)
        if whom is None:
            return
        rest = rest.strip()
        if rest.startswith("to "):  # Slack's "/remind @bob to … at …" reads as well
            rest = rest[3:]
    when, text = split_when(rest)
    if not text.strip():
        client.screen.problem(f"usage: /remind [@USER] WHEN TEXT (WHEN: {WHEN_USAGE})")
        return
    local = local_now(client.server_now())
    try:
        remind_at = int(reminder_time(when, local).timestamp() * 1000)
    except ValueError as exc:
        client.screen.problem(f"/remind: {exc}")
        return

    async def on_ok(reply: Answer) -> None:
        user = reply.fields.get("user")
        if isinstance(user, str):
            client.screen.notice(f"{clean(user)} will be reminded "
                                 f"{day_time(int(reply.fields.get('remind_at') or 0))}; "
                                 "/reminders lists those you set")

    await client.ask("/remind", Remind(text=text, remind_at=remind_at, nonce=uuid.uuid4().hex,
                                       user=whom), Answer, on_ok)


async def reminders(client: ChatClient, arg: str) -> None:
    """``/reminders``: the reminders you set for others, newest first, each with a short
    number for ``/unremind N``; ``/reminders off`` (or ``on``): whether others may set
    reminders for you."""
    word = arg.strip().lower()
    if word in ("on", "off"):
        async def on_set(reply: Answer) -> None:
            client.screen.notice("others may set reminders for you" if reply.fields.get("on")
                                 else "others cannot set reminders for you any more")

        await client.ask("/reminders", AllowReminders(on=word == "on"), Answer, on_set)
        return
    if word:
        client.screen.problem("usage: /reminders [on|off]")
        return

    async def on_ok(reply: Answer) -> None:
        listed = reply.fields.get("items")
        items = [i for i in (listed if isinstance(listed, list) else [])
                 if isinstance(i, dict) and isinstance(i.get("user"), str)
                 and isinstance(i.get("msg_id"), int)]
        client.reminder_numbers = [(str(i["user"]), int(i["msg_id"])) for i in items]
        if not items:
            client.screen.notice("you set no reminders for others; /remind @USER WHEN TEXT "
                                 "sets one")
            return
        client.screen.notice("reminders you set for others, the newest first:")
        now = client.server_now()
        for number, item in enumerate(items, 1):
            message = item.get("message")
            text = message.get("text") if isinstance(message, dict) else ""
            remind_at = item.get("remind_at")
            when = reminder_text(remind_at if isinstance(remind_at, int) else None,
                                 item.get("reminded") is True, now)
            client.screen.notice(f"  {number}. for {clean(item['user'])}: {clean(text)}"
                                 + (f" ({when})" if when else ""))

    await client.ask("/reminders", RemindersSet(), Answer, on_ok)


async def unremind(client: ChatClient, arg: str) -> None:
    """``/unremind N``: cancel reminder N of ``/reminders`` (one you set for someone else),
    until it fires."""
    word = arg.strip()
    numbers = client.reminder_numbers
    if not word.isdigit() or not 1 <= int(word) <= len(numbers):
        client.screen.problem("usage: /unremind N (a number /reminders shows)")
        return
    user, msg_id = numbers[int(word) - 1]

    async def on_ok(reply: Answer) -> None:
        client.screen.notice(f"the reminder for {clean(user)} is cancelled")

    await client.ask("/unremind", CancelReminder(user=user, msg_id=msg_id), Answer, on_ok)


async def _nothing(reply: Answer) -> None:
    """The reply says nothing the event does not."""


async def scheduled(client: ChatClient, arg: str) -> None:
    """``/scheduled``: the user's scheduled messages by time, each with a short number for
    ``/unschedule N`` and ``/sendnow N``, failed ones with why."""
    if arg.strip():
        client.screen.problem("usage: /scheduled")
        return

    async def on_ok(reply: Answer) -> None:
        listed = reply.fields.get("items")
        items = [i for i in (listed if isinstance(listed, list) else [])
                 if isinstance(i, dict) and isinstance(i.get("item"), int)]
        client.scheduled_numbers = [int(i["item"]) for i in items]
        if not items:
            client.screen.notice("no scheduled messages; /later WHEN TEXT schedules one")
            return
        client.screen.notice("scheduled messages, the soonest first:")
        now = client.server_now()
        for number, item in enumerate(items, 1):
            client.screen.notice("  " + scheduled_line(number, item, client.label, now))
        client.screen.notice("/unschedule N cancels one, /sendnow N sends it now")

    await client.ask("/scheduled", ScheduledItems(), Answer, on_ok)


def _scheduled_item(client: ChatClient, arg: str, what: str) -> int | None:
    """The item ``/unschedule N`` and ``/sendnow N`` name, by the last ``/scheduled``'s
    numbers; None (said) when there is none."""
    number = message_number(arg.strip())
    if number is None:
        client.screen.problem(f"usage: {what} N (N as /scheduled numbers them)")
        return None
    if not 1 <= number <= len(client.scheduled_numbers):
        client.screen.problem(f"{what}: no scheduled message [{number}]; /scheduled lists "
                              "them")
        return None
    return client.scheduled_numbers[number - 1]


async def unschedule(client: ChatClient, arg: str) -> None:
    """``/unschedule N``: cancel scheduled message [N] of the last ``/scheduled``."""
    item = _scheduled_item(client, arg, "/unschedule")
    if item is not None:
        await client.ask("/unschedule", CancelScheduled(item=item), Answer, _nothing)


async def sendnow(client: ChatClient, arg: str) -> None:
    """``/sendnow N``: send scheduled message [N] of the last ``/scheduled`` now."""
    item = _scheduled_item(client, arg, "/sendnow")
    if item is not None:
        await client.ask("/sendnow", EditScheduled(item=item, send_at=0), Answer, _nothing)
async def _follow(client: ChatClient, arg: str, on: bool) -> None:
    """``/follow N`` or ``/unfollow N``: follow the thread of message [N] (its root, or one
    of its replies), or stop following it. The ``thread_state`` event, which every device of
    the user gets, says it: the reply only says when nothing changed."""
    what = "/follow" if on else "/unfollow"
    found = _one_numbered(client, arg, what, f"usage: {what} N")
    if found is None:
        return
    number, message = found

    async def on_ok(reply: Answer) -> None:
        if reply.fields.get("unchanged") is True:
            client.screen.notice(f"you {'follow' if on else 'do not follow'} the thread of "
                                 f"[{number}] already")

    await client.ask(what, FollowThread(room=message.room, msg_id=message.msg_id, on=on),
                     Answer, on_ok)


async def follow(client: ChatClient, arg: str) -> None:
    await _follow(client, arg, True)


async def unfollow(client: ChatClient, arg: str) -> None:
    await _follow(client, arg, False)


#: Followed threads /threads shows at a time.
THREADS_PAGE = 20


async def threads(client: ChatClient, arg: str) -> None:
    """``/threads``: the threads the user follows, the latest reply first, each root with its
    short number and what is unread; ``/threads more``: the next page."""
    go_on, before = _page_arg(client, arg, "/threads", client.next_threads)
    if not go_on:
        return

    async def on_ok(reply: Answer) -> None:
        listed = reply.fields.get("threads")
        found = [t for t in (listed if isinstance(listed, list) else [])
                 if isinstance(t, dict) and isinstance(t.get("root"), dict)]
        if not found:
            client.next_threads = None
            client.screen.notice(f"no {'more ' if before else ''}followed threads"
                                 + ("" if before else "; /follow N follows the thread of "
                                    "message [N]"))
            return
        client.screen.notice(f"{'more ' if before else ''}followed threads, the latest reply "
                             "first:")
        now = client.server_now()
        for thread in found:
            root = parse_event(thread["root"])
            if not isinstance(root, MessagePosted):
                continue
            client.following[(root.room, root.msg_id)] = True
            [root] = client.take([root]) or [root]
            client.show(root)
            client.screen.notice(f"  {thread_summary(thread, now)}")
        more = reply.fields.get("more") is True and isinstance(reply.fields.get("next"), str)
        client.next_threads = str(reply.fields["next"]) if more else None
        if more:
            client.screen.notice("/threads more for the ones before")

    await client.ask("/threads", Threads(before=thread_cursor(before), limit=THREADS_PAGE),
                     Answer, on_ok)


async def poll(client: ChatClient, arg: str) -> None:
    """``/poll QUESTION | OPTION | OPTION…`` (``/poll -m …``: any number of choices): a poll
    in the current room, 2 to 10 options; the server checks the rest (and says why not)."""
    words = arg.strip()
    multiple = words.startswith("-m ") or words == "-m"
    if multiple:
        words = words[2:].strip()
    parts = [part.strip() for part in words.split("|")]
    if len(parts) < 3 or not all(parts):
        client.screen.problem("usage: /poll [-m] QUESTION | OPTION | OPTION… (2 to 10 options; "
                              "-m: any number of choices)")
        return
    room = _need_room(client, "/poll")
    if room is not None:
        await client.say(room, parts[0], poll=PollSpec(options=tuple(parts[1:]),
                                                        multiple=multiple))


def _poll_message(client: ChatClient, word: str, what: str) -> MessagePosted | None:
    """Message [N] named by ``word``, if it is a poll still there."""
    number = message_number(word)
    if number is None:
        client.screen.problem(f"usage: {what} N (the number shown before the poll)")
        return None
    message = _numbered(client, number, what)
    if message is None:
        return None
    if message.deleted or message.poll is None:
        client.screen.problem(f"{what}: [{number}] is not a poll"
                              + (" any more" if message.deleted else ""))
        return None
    return message


async def vote(client: ChatClient, arg: str) -> None:
    """``/vote N K…``: choose options K… (numbered from 1, as shown) of poll [N], instead
    of any choice before; the ``voted`` entry, which every member sees, says it."""
    words = arg.split()
    if not words:
        client.screen.problem("usage: /vote N K… (poll [N], its options K from 1)")
        return
    first, *choices = words
    message = _poll_message(client, first, "/vote")
    if message is None:
        return
    if not choices or not all(c.isdigit() and int(c) >= 1 for c in choices):
        client.screen.problem("usage: /vote N K… (poll [N], its options K from 1); /unvote N "
                              "takes a vote back")
        return
    options = tuple(sorted({int(c) - 1 for c in choices}))
    await client.change(Vote(room=message.room, msg_id=message.msg_id, options=options),
                        f"/vote [{first.strip('[]#')}]")


async def unvote(client: ChatClient, arg: str) -> None:
    """``/unvote N``: take back one's vote on poll [N]."""
    message = _poll_message(client, arg.strip(), "/unvote")
    if message is not None:
        await client.change(Vote(room=message.room, msg_id=message.msg_id, options=()),
                            f"/unvote [{arg.strip().strip('[]#')}]")


async def closepoll(client: ChatClient, arg: str) -> None:
    """``/closepoll N``: end poll [N] (its author, or the room's moderators)."""
    message = _poll_message(client, arg.strip(), "/closepoll")
    if message is not None:
        await client.change(ClosePoll(room=message.room, msg_id=message.msg_id),
                            f"/closepoll [{arg.strip().strip('[]#')}]")


async def reply(client: ChatClient, arg: str) -> None:
    """``/reply N TEXT``: answer message [N], in its room."""
    first, _, text = arg.partition(" ")
    number = message_number(first)
    if number is None or not text.strip():
        client.screen.problem("usage: /reply N TEXT")
        return
    message = _numbered(client, number, "/reply")
    if message is not None:
        await client.say(message.room, text.strip(), reply_to=message.msg_id)


async def reply_thread(client: ChatClient, arg: str) -> None:
    """``/reply-thread N TEXT``: reply in the thread of message [N] (its own thread, or the
    one it is a reply in), in its room."""
    first, _, text = arg.partition(" ")
    number = message_number(first)
    if number is None or not text.strip():
        client.screen.problem("usage: /reply-thread N TEXT")
        return
    message = _numbered(client, number, "/reply-thread")
    if message is None:
        return
    root = message.thread if message.thread is not None else message.msg_id
    await client.say(message.room, text.strip(), thread=root)


#: Replies /thread shows at a time.
THREAD_PAGE = 20


async def thread(client: ChatClient, arg: str) -> None:
    """``/thread N``: the thread of message [N] (its root, or one of its replies): the root,
    then its latest replies, oldest first, each with its short number; ``/thread more``: the
    replies before those."""
    word = arg.strip()
    before: int | None = None
    if word.lower() == "more":
        if client.next_thread is None:
            client.screen.problem("/thread more: no thread shown has more; /thread N")
            return
        room, msg_id, before = client.next_thread
    else:
        number = message_number(word)
        if number is None:
            client.screen.problem("usage: /thread N, then /thread more for older replies")
            return
        message = _numbered(client, number, "/thread")
        if message is None:
            return
        room, msg_id = message.room, message.msg_id

    async def on_ok(reply: Answer) -> None:
        root = reply.fields.get("root")
        listed = reply.fields.get("messages")
        shown = [m for obj in (listed if isinstance(listed, list) else [])
                 if isinstance(obj, dict) and isinstance(m := parse_event(obj), MessagePosted)]
        parsed = parse_event(root) if isinstance(root, dict) else None
        if not isinstance(parsed, MessagePosted):
            client.screen.problem("/thread: the server's answer had no root")
            return
        # Held, so that they can be named by number (only members read threads, and a
        # member's connection gets the room's entries, which keep them right).
        [held_root] = client.take([parsed]) or [parsed]
        # The user's state of the thread, as the server says it (an older one does not):
        # known, a later thread_state prints only a change of it.
        following = reply.fields.get("following")
        read_seq = reply.fields.get("read_seq")
        if isinstance(following, bool):
            client.following[(room, held_root.msg_id)] = following
        if before is None:
            state = "" if not isinstance(following, bool) else (
                " (following)" if following else
                f" (not following: /follow {client.messages.number(held_root)})")
            client.screen.notice(f"thread of [{client.messages.number(held_root)}] in "
                                 f"[{client.label(room)}]{state}:")
            client.show(held_root)
        else:
            client.screen.notice("older replies:")
        if not shown:
            client.screen.notice("no replies yet; /reply-thread "
                                 f"{client.messages.number(held_root)} TEXT answers in it")
        for message in client.take(shown):
            client.show(message)
        read = read_seq if isinstance(read_seq, int) and not isinstance(read_seq, bool) else 0
        if before is None and shown and shown[-1].seq > read:
            # Shown up to its newest reply: read, for every device of the user (the
            # thread_state event; forward only, so an older page says nothing; not asked
            # when the server says it was read that far).
            await client.ask("/thread", ReadThread(room=room, msg_id=held_root.msg_id,
                                                   seq=shown[-1].seq), Answer, _quiet,
                             wait=False)
        if reply.fields.get("more") is True and shown:
            client.next_thread = (room, held_root.msg_id, shown[0].seq)
            client.screen.notice("/thread more for older replies")
        else:
            client.next_thread = None

    await client.ask("/thread", Thread(room=room, msg_id=msg_id, before=before,
                                       limit=THREAD_PAGE), Answer, on_ok)


async def contacts(client: ChatClient, arg: str) -> None:
    """``/contacts [+NAME]``: a page of the contacts with their presence, after NAME; when
    another page follows, the line that shows it is printed."""
    words = arg.split()
    if len(words) > 1 or (words and (not words[0].startswith("+") or len(words[0]) < 2)):
        client.screen.problem("usage: /contacts [+NAME]")
        return
    after = words[0][1:] if words else None

    async def on_ok(reply: Answer) -> None:
        page = reply.fields.get("contacts") or []
        client.take_listed(page)
        empty = "none (/add USER)" if after is None else "no more"
        client.screen.notice(f"contacts: {presences(page, client.server_now()) or empty}")
        last = page[-1].get("user") if page else None
        if reply.fields.get("more") is True and isinstance(last, str):
            client.screen.notice(f"more: /contacts +{clean(last)}")

    await client.ask("/contacts", Contacts(after=after), Answer, on_ok)


async def add(client: ChatClient, arg: str) -> None:
    user = client.user_arg(arg) if arg else None
    if user is None:
        if not arg:
            client.screen.problem("usage: /add USER")
        return

    async def on_ok(reply: Answer) -> None:
        client.take_listed([reply.fields])
        client.screen.notice(f"added contact {presences([reply.fields], client.server_now())}")

    await client.ask("/add", AddContact(user=user), Answer, on_ok)


async def remove(client: ChatClient, arg: str) -> None:
    user = client.user_arg(arg) if arg else None
    if user is None:
        if not arg:
            client.screen.problem("usage: /remove USER")
        return

    async def on_ok(reply: Answer) -> None:
        client.screen.notice(f"removed contact {clean(reply.fields.get('user'))}")

    await client.ask("/remove", RemoveContact(user=user), Answer, on_ok)


async def _membership(client: ChatClient, arg: str, what: str,
                      make: Callable[[str, str], Request], done: str) -> None:
    """/invite or /kick: ``done`` is a template with {user} and {room}."""
    room = _need_room(client, what)
    user = client.user_arg(arg) if arg else None
    if room is None or user is None:
        if not arg:
            client.screen.problem(f"usage: {what} USER")
        return

    async def on_ok(reply: Answer) -> None:
        client.screen.notice(done.format(user=clean(reply.fields.get("user")),
                                         room=client.label(str(reply.fields.get("room")))))

    await client.ask(what, make(room, user), Answer, on_ok)


async def invite(client: ChatClient, arg: str) -> None:
    await _membership(client, arg, "/invite", lambda r, u: Invite(room=r, user=u),
                      "invited {user} into [{room}]")


async def _moderate(client: ChatClient, what: str, request: Request, done: str,
                    unchanged: str) -> None:
    """Ask for a moderation change of the current room; the entry itself, which every member
    sees, is shown when it arrives: the reply only says when nothing changed."""

    async def on_ok(reply: Answer) -> None:
        fields = reply.fields
        template = unchanged if fields.get("unchanged") else done
        if template:
            client.screen.notice(template.format(
                user=clean(fields.get("user")), room=client.label(str(fields.get("room"))),
                role=clean(fields.get("role"))))

    await client.ask(what, request, Answer, on_ok)


def _user_then_rest(client: ChatClient, arg: str, what: str, usage: str
                    ) -> tuple[str, str, str] | None:
    """The current room, the user named first in ``arg`` and the rest of it; None (and a
    problem shown) when there is no room or no valid user."""
    room = _need_room(client, what)
    name, _, rest = arg.strip().partition(" ")
    user = client.user_arg(name) if name else None
    if room is None or user is None:
        if not name:
            client.screen.problem(f"usage: {usage}")
        return None
    return room, user, rest.strip()


async def kick(client: ChatClient, arg: str) -> None:
    """``/kick USER [REASON]``: remove USER from the current room."""
    found = _user_then_rest(client, arg, "/kick", "/kick USER [REASON]")
    if found is not None:
        room, user, reason = found
        await _moderate(client, "/kick", Kick(room=room, user=user, reason=reason or None),
                        "", "{user} is not in [{room}]")


_DURATION = re.compile(r"([0-9]{1,9})([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def ban_duration(word: str) -> int | None:
    """Seconds from a duration as typed after ``/ban USER``: ``30m``, ``2h``, ``7d``,
    ``1w``; None if the word is not one."""
    found = _DURATION.fullmatch(word)
    return int(found.group(1)) * _UNITS[found.group(2)] if found else None


async def ban(client: ChatClient, arg: str) -> None:
    """``/ban USER [DURATION] [--delete DURATION] [REASON]``: remove USER from the current room
    and keep them out, for DURATION (``30m``, ``2h``, ``7d``) or until ``/unban``; with
    ``--delete``, also delete their messages to the room from that long ago on (up to 7d)."""
    usage = "/ban USER [30m|2h|7d] [--delete 1h|24h|7d] [REASON]"
    found = _user_then_rest(client, arg, "/ban", usage)
    if found is None:
        return
    room, user, rest = found
    words = rest.split(" ")
    duration = ban_duration(words[0]) if words[0] else None
    if duration is not None:
        words = words[1:]
    delete_messages = 0
    if words and words[0] == "--delete":
        window = ban_duration(words[1]) if len(words) > 1 else None
        if window is None or not 0 < window <= MAX_DELETE_SECONDS:
            client.screen.problem("/ban: --delete takes a duration up to 7d, e.g. 24h")
            return
        delete_messages, words = window, words[2:]
    reason = " ".join(words).strip()
    if duration == 0:
        client.screen.problem("/ban: a duration is at least 1s")
        return

    async def on_ok(reply: Answer) -> None:
        fields = reply.fields
        if fields.get("unchanged") and not fields.get("deleted"):
            client.screen.notice(f"{clean(fields.get('user'))} is banned from "
                                 f"[{client.label(room)}] already, as asked")
        if fields.get("deleted"):
            more = " (more are left: /ban again to delete them)" if fields.get(
                "more_deleted") else ""
            client.screen.notice(f"deleted {fields['deleted']} messages of "
                                 f"{clean(fields.get('user'))} in [{client.label(room)}]{more}")

    await client.ask("/ban", Ban(room=room, user=user, reason=reason or None,
                                duration=duration, delete_messages=delete_messages),
                     Answer, on_ok)


async def unban(client: ChatClient, arg: str) -> None:
    found = _user_then_rest(client, arg, "/unban", "/unban USER")
    if found is not None:
        room, user, _ = found
        await _moderate(client, "/unban", Unban(room=room, user=user), "",
                        "{user} is not banned from [{room}]")


async def role(client: ChatClient, arg: str) -> None:
    """``/role USER moderator|member|owner``: give USER that role in the current room
    (``owner`` hands the room over: you become a moderator)."""
    found = _user_then_rest(client, arg, "/role", "/role USER moderator|member|owner")
    if found is None:
        return
    room, user, given = found
    if given.lower() not in ROLES:
        client.screen.problem("usage: /role USER moderator|member|owner")
        return
    await _moderate(client, "/role", SetRole(room=room, user=user, role=given.lower()), "",
                    "{user} is {role} of [{room}] already")


def _archiving(archived: bool) -> Callable[[ChatClient, str], Awaitable[None]]:
    """``/archive`` or ``/unarchive`` [ROOM] (the current room by default): the room's owner
    or an administrator. The ``archived`` entry, which every member sees, says it."""
    what = "/archive" if archived else "/unarchive"

    async def run(client: ChatClient, arg: str) -> None:
        room = client.room_arg(arg) if arg else _need_room(client, what)
        if room is None:
            return
        state = "archived" if archived else "not archived"
        await _moderate(client, what, Archive(room=room, archived=archived), "",
                        f"[{{room}}] is {state} already")

    return run


archive = _archiving(True)
unarchive = _archiving(False)


async def bans(client: ChatClient, arg: str) -> None:
    room = client.room_arg(arg) if arg else _need_room(client, "/bans")
    if room is None:
        return

    async def on_ok(reply: Answer) -> None:
        listed = reply.fields.get("bans") or []
        if not listed:
            client.screen.notice(f"nobody is banned from [{client.label(room)}]")
            return
        client.screen.notice(f"banned from [{client.label(room)}]:")
        for item in listed:
            until = item.get("expires_at")
            reason = f" ({clean(item.get('reason'))})" if item.get("reason") else ""
            client.screen.line(f"  {clean(item.get('user'))} by {clean(item.get('by'))} "
                               f"{_until(until)}{reason}")

    await client.ask("/bans", Bans(room=room), Answer, on_ok)


#: Entries /audit shows at a time.
AUDIT_PAGE = 20
_AUDIT_ID = re.compile(r"[1-9][0-9]{0,17}")


async def audit(client: ChatClient, arg: str) -> None:
    """``/audit [ROOM] [BEFORE]``: a page of the room's audit log, newest first (for those
    who moderate it): the entries before entry BEFORE; when another page follows, the line
    that shows it is printed."""
    words = arg.split()
    if len(words) > 2 or (len(words) == 2 and not _AUDIT_ID.fullmatch(words[1])):
        client.screen.problem("usage: /audit [ROOM] [BEFORE]")
        return
    room = client.room_arg(words[0]) if words else _need_room(client, "/audit")
    if room is None:
        return
    before = int(words[1]) if len(words) == 2 else None

    async def on_ok(reply: Answer) -> None:
        found = reply.fields.get("entries")
        entries = [e for e in found if isinstance(e, dict)] if isinstance(found, list) else []
        older = "older " if before is not None else ""
        if not entries:
            client.screen.notice(f"no {older}entries in the audit log of [{client.label(room)}]")
            return
        client.screen.notice(f"{older}entries of the audit log of [{client.label(room)}], "
                             "newest first:")
        for entry in entries:
            client.screen.line(f"  {audit_text(entry, client.me)}")
        last = entries[-1].get("id")
        if reply.fields.get("more") is True and isinstance(last, int):
            client.screen.notice(f"more: /audit {clean(room)} {last}")

    await client.ask("/audit", Audit(room=room, before=before, limit=AUDIT_PAGE), Answer,
                     on_ok)


async def create(client: ChatClient, arg: str) -> None:
    words = arg.split()
    if not words or len(words) > 2 or (len(words) == 2 and words[1] != "private"):
        client.screen.problem("usage: /create ROOM [private]")
        return
    private = len(words) == 2

    async def on_ok(reply: Answer) -> None:
        obj = reply.fields["room"]
        client.remember_room(obj)
        name = str(obj["room"])
        client.seen[name] = int(obj.get("last_seq") or 0)
        client.current = name
        kind = "private room" if private else "room"
        client.screen.notice(f"created {kind} [{client.label(name)}]; talking there now"
                             + ("; /invite USER to let people in" if private else ""))

    await client.ask("/create", CreateRoom(room=words[0], private=private), Answer, on_ok)


async def read(client: ChatClient, arg: str) -> None:
    room = _need_room(client, "/read")
    if room is None:
        return

    async def on_ok(reply: Answer) -> None:
        client.screen.notice(f"[{client.label(room)}] marked read up to "
                             f"#{clean(reply.fields.get('seq'))}")

    await client.ask("/read", Read(room=room, seq=client.seen.get(room, 0)), Answer, on_ok)


#: How many rooms ``/readall`` names when it says what it marked read.
READ_ALL_NAMED = 10


async def read_all(client: ChatClient, arg: str) -> None:
    """``/readall [ROOM ...]``: mark every room and conversation read (only those named, when
    some are), on every device of the user; followed threads keep their own markers (/threads).
    Says which rooms had something unread."""
    rooms: tuple[str, ...] | None = None
    if arg.split():
        named = [client.room_arg(word) for word in arg.split()]
        if None in named:
            return
        rooms = tuple(dict.fromkeys(name for name in named if name is not None))
        if len(rooms) > MAX_READ_ALL_ROOMS:
            client.screen.problem(f"/readall: at most {MAX_READ_ALL_ROOMS} rooms at once")
            return

    async def on_ok(reply: Answer) -> None:
        moved = [item for item in reply.fields.get("rooms") or ()
                 if isinstance(item, dict) and isinstance(item.get("room"), str)]
        if not moved:
            client.screen.notice("nothing was unread")
            return
        labels = [f"[{client.label(item['room'])}]" for item in moved[:READ_ALL_NAMED]]
        more = len(moved) - len(labels)
        client.screen.notice(f"marked {len(moved)} room{'s' if len(moved) > 1 else ''} read: "
                             + ", ".join(labels) + (f" and {more} more" if more else ""))

    await client.ask("/readall", ReadAll(rooms=rooms), Answer, on_ok)


async def unread(client: ChatClient, arg: str) -> None:
    """``/unread N``: mark message [N]'s room unread from it on (the read marker moves back
    to just before it, for every device of the user)."""
    found = _one_numbered(client, arg, "/unread", "usage: /unread N")
    if found is None:
        return
    number, message = found
    room = message.room

    async def on_ok(reply: Answer) -> None:
        fields = reply.fields
        client.screen.notice(f"[{client.label(room)}] marked unread from [{number}] on ("
                             f"{unread_counts(fields.get('unread'), fields.get('mentions'))})")

    await client.ask("/unread", Unread(room=room, seq=message.seq), Answer, on_ok)


async def unpreview(client: ChatClient, arg: str) -> None:
    """``/unpreview N``: remove the link preview under message [N] (the user's own, or one
    in a room they moderate); it stays removed unless an edit changes the link."""
    found = _one_numbered(client, arg, "/unpreview", "usage: /unpreview N")
    if found is None:
        return
    number, message = found

    async def on_ok(reply: Sent) -> None:
        client.screen.notice(f"[{number}] has no preview" if reply.unchanged
                             else f"removed the preview of [{number}]")

    await client.ask("/unpreview", RemovePreview(room=message.room, msg_id=message.msg_id),
                     Sent, on_ok)


async def retry(client: ChatClient, arg: str) -> None:
    failed = [p for p in client.pending.values() if p.failed]
    if not failed:
        client.screen.notice("nothing to retry")
        return
    if client.link is None:
        client.screen.notice(f"{len(failed)} message(s) will be sent once reconnected")
    for pending in failed:
        await client.transmit(pending)


async def drop(client: ChatClient, arg: str) -> None:
    failed = [nonce for nonce, p in client.pending.items() if p.failed]
    for nonce in failed:
        del client.pending[nonce]
    client.screen.notice(f"dropped {len(failed)} unsent message(s)")


@dataclasses.dataclass(frozen=True, slots=True)
class Command:
    run: Callable[[ChatClient, str], Awaitable[Outcome | None]]
    usage: str
    about: str


async def _quiet(reply: Answer) -> None:
    """An answer with nothing to say (its event says it, or nothing changed)."""


#: Every command, by name, in the order /help lists them.
COMMANDS: dict[str, Command] = {
    "join": Command(join, "/join ROOM", "join (or create) a room, talk there"),
    "leave": Command(leave, "/leave [ROOM]", "leave the current room"),
    "rooms": Command(rooms, "/rooms [QUERY] [+NAME]",
                     "list rooms (whose name holds QUERY), a page at a time; closed "
                     "conversations with nothing new are left out"),
    "close": Command(close, "/close [ROOM]", "close a conversation (the current one): "
                     "/rooms leaves it out until someone writes in it"),
    "fav": Command(favourite, "/fav [ROOM]", "mark a room or conversation (the current one) a "
                   "favourite: listed first, marked ★, on every device"),
    "unfav": Command(unfavourite, "/unfav [ROOM]", "unmark a favourite (the current room)"),
    "section": Command(section, "/section [NAME]",
                       "put the current room into your section NAME (made if you have "
                       "none of that name); alone: back into the default list"),
    "sections": Command(sections, "/sections", "list your sections, in your order"),
    "switch": Command(switch, "/switch ROOM|@USER", "talk in another room or conversation (/r)"),
    "dm": Command(dm, "/dm USER[,USER...] TEXT",
                  "send a private message; to several people (bob,carol): a group "
                  "conversation, shown as [@bob,carol]"),
    "forward": Command(forward, "/forward N #ROOM|@USER[,USER...] [COMMENT]",
                       "forward message [N] into a room or a conversation, with a comment"),
    "upload": Command(upload, "/upload PATH [TEXT]", "send a file here, with TEXT"),
    "who": Command(who, "/who [ROOM] [AFTER]", "who is in the room, and online (a page "
                   "at a time in a large room: those after AFTER)"),
    "topic": Command(topic, "/topic [TEXT|--clear]",
                     "show or set the room's topic (owner, moderators)"),
    "history": Command(history, "/history [COUNT]", "show COUNT older messages"),
    "search": Command(search, "/search WORDS|more",
                      "find messages (\"phrase\" -word from:USER in:ROOM); more: next page"),
    "reply": Command(reply, "/reply N TEXT", "answer message [N] (/re)"),
    "thread": Command(thread, "/thread N|more", "the thread of message [N]: its root and "
                      "replies, read up to its newest (/t)"),
    "threads": Command(threads, "/threads [more]", "the threads you follow, the latest "
                       "reply first, with what is unread"),
    "follow": Command(follow, "/follow N", "follow the thread of message [N]"),
    "unfollow": Command(unfollow, "/unfollow N", "stop following the thread of message [N] "
                        "(until you reply in it)"),
    "reply-thread": Command(reply_thread, "/reply-thread N TEXT",
                            "reply in the thread of message [N] (/rt)"),
    "edit": Command(edit, "/edit [N] TEXT", "change message [N], or your last one here"),
    "delete": Command(delete, "/delete N[!]", "delete message [N] (asks for the !)"),
    "react": Command(react, "/react N EMOJI", "put or take back a reaction (👍, :tada:, "
                     "a custom :name:)"),
    "emoji": Command(emoji, "/emoji [add NAME PATH|remove NAME]",
                     "the server's custom emoji; add one (a PNG, JPEG, GIF or WebP image), "
                     "or remove one you added"),
    "groups": Command(groups, "/groups", "the user groups (@backend mentions its members in "
                      "a room), and those you are in"),
    "group": Command(group, "/group NAME", "a user group's description and members"),
    "mkgroup": Command(mkgroup, "/mkgroup NAME [USER…]",
                       "make a user group of those users (you only if you list yourself)"),
    "groupadd": Command(groupadd, "/groupadd NAME USER…", "add members to a user group"),
    "groupremove": Command(groupremove, "/groupremove NAME USER…",
                           "remove members from a user group"),
    "groupdesc": Command(groupdesc, "/groupdesc NAME TEXT|--clear",
                         "set a user group's description"),
    "rmgroup": Command(rmgroup, "/rmgroup NAME",
                       "delete a user group (its members, its creator, administrators)"),
    "pin": Command(pin, "/pin N", "pin message [N] for everyone in its room to find"),
    "poll": Command(poll, "/poll [-m] Q | A | B…", "a poll here (-m: several choices)"),
    "vote": Command(vote, "/vote N K…", "choose options K… (from 1) of poll [N]"),
    "unvote": Command(unvote, "/unvote N", "take back your vote on poll [N]"),
    "closepoll": Command(closepoll, "/closepoll N", "end poll [N] (its author, moderators)"),
    "unpin": Command(unpin, "/unpin N", "take message [N] off the room's pins"),
    "pins": Command(pins, "/pins [ROOM]|more", "the room's pinned messages, the latest first"),
    "edits": Command(edits, "/edits N", "the versions of message [N], the oldest first"),
    "save": Command(save, "/save N [in 1h|tomorrow]",
                    "save message [N] for yourself, with a reminder then"),
    "unsave": Command(unsave, "/unsave N", "remove message [N] from your saved messages"),
    "saved": Command(saved, "/saved [more]", "your saved messages, the latest saved first"),
    "later": Command(later, "/later WHEN TEXT",
                     "send TEXT here later (in 2h, tomorrow, 9:00); /later alone lists"),
    "remind": Command(remind, "/remind [@USER] WHEN TEXT",
                      "note TEXT to yourself and be reminded of it then (in 2h, 9:00); "
                      "with @USER, remind them (someone you share a room with)"),
    "reminders": Command(reminders, "/reminders [on|off]",
                         "the reminders you set for others; on|off: whether others may "
                         "set reminders for you"),
    "unremind": Command(unremind, "/unremind N",
                        "cancel reminder [N] of /reminders, until it fires"),
    "scheduled": Command(scheduled, "/scheduled", "your scheduled messages, the soonest first"),
    "unschedule": Command(unschedule, "/unschedule N", "cancel scheduled message [N]"),
    "sendnow": Command(sendnow, "/sendnow N", "send scheduled message [N] now"),
    "unpreview": Command(unpreview, "/unpreview N",
                         "remove the link preview under message [N] (its author, moderators)"),
    "contacts": Command(contacts, "/contacts [+NAME]", "list contacts and presence (a page, "
                        "after NAME)"),
    "add": Command(add, "/add USER", "add a contact"),
    "remove": Command(remove, "/remove USER", "remove a contact"),
    "invite": Command(invite, "/invite USER", "invite into the current room"),
    "link": Command(link, "/link [USES] [DAYS]",
                    "a join link to the current room, for whoever you give it to"),
    "links": Command(links, "/links [ROOM]", "the room's join links: yours, or every one "
                     "if you moderate it"),
    "unlink": Command(unlink, "/unlink ID", "revoke join link #ID"),
    "join-link": Command(join_link, "/join-link TOKEN",
                         "join the room of a join link (the token, or the whole link)"),
    "kick": Command(kick, "/kick USER [REASON]", "remove from the current room (moderators)"),
    "ban": Command(ban, "/ban USER [7d] [--delete 24h] [REASON]",
                   "remove and keep out, for a while or for good (moderators)"),
    "unban": Command(unban, "/unban USER", "lift a ban from the current room (moderators)"),
    "bans": Command(bans, "/bans [ROOM]", "who is banned from the room (moderators)"),
    "audit": Command(audit, "/audit [ROOM] [BEFORE]",
                     "what was done to the room, newest first, a page at a time (moderators)"),
    "role": Command(role, "/role USER ROLE",
                    "make a moderator, a member, or the owner (hands it over; owner)"),
    "archive": Command(archive, "/archive [ROOM]",
                       "make the room read-only (owner, administrators)"),
    "unarchive": Command(unarchive, "/unarchive [ROOM]", "let the room be written to again"),
    "create": Command(create, "/create ROOM [private]", "create a room"),
    "read": Command(read, "/read", "mark the current room read"),
    "readall": Command(read_all, "/readall [ROOM ...]", "mark every room and conversation "
                       "read (or those named), on every device; threads keep theirs"),
    "unread": Command(unread, "/unread N", "mark message [N]'s room unread from it on"),
    "notify": Command(notify, "/notify [ROOM] [LEVEL]", "show or set the room's notifications "
                      "(push, --bell): all, mentions (a room's default), none"),
    "dnd": Command(dnd, "/dnd [30m|1h|off]", "pause every notification, on every device "
                   "(push, the bell), for a while; off resumes them"),
    "seen": Command(seen, "/seen [N]", "who has read message [N] (the latest one here) "
                    "(/readby)"),
    "receipts": Command(receipts, "/receipts [on|off]", "whether others see when you have "
                        "read their messages (read receipts)"),
    "email": Command(email, "/email [ADDRESS|on|off|remove]", "show or set your email "
                     "address (for missed messages and password resets), turn missed-message "
                     "emails on or off"),
    "export": Command(export, "/export [new|save PATH]", "download your data (account, rooms, "
                      "your conversations and messages, files) as a zip: starts an export, "
                      "then tells how it goes; save PATH downloads it to a file"),
    "keywords": Command(keywords, "/keywords [add WORD…|remove WORD…|clear]",
                        "words that alert you as a mention does (push, --bell, highlighted), "
                        "on every device; \"on call\" in quotes for one of several words"),
    "drafts": Command(drafts, "/drafts [clear [ROOM]]", "what you typed and did not send "
                      "yet, in each room, on every device; clear deletes the room's"),
    "nick": Command(nick, "/nick [NAME|--clear]", "show or set your display name (shown "
                    "next to your login name)"),
    "status": Command(status, "/status [EMOJI] TEXT [--for 1h]|--clear",
                      "show or set your status (🌴 On holiday), for a while or until "
                      "cleared"),
    "whois": Command(whois, "/whois USER", "someone's display name, status and whether "
                     "they have a picture"),
    "avatar": Command(avatar, "/avatar PATH|--clear", "set your picture (a PNG, JPEG, GIF or "
                      "WebP image; its centred square is kept), or remove it"),
    "retry": Command(retry, "/retry", "send failed messages again"),
    "drop": Command(drop, "/drop", "forget failed messages"),
    "help": Command(help_, "/help", "this list"),
    "quit": Command(quit_, "/quit", "leave the client (/q)"),
}
ALIASES = {"r": "switch", "q": "quit", "j": "join", "msg": "dm", "exit": "quit",
           "re": "reply", "t": "thread", "rt": "reply-thread", "s": "search", "find": "search",
           "readby": "seen"}
