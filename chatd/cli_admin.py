"""What the admin API does, from the ``chatd`` command line: ``user deactivate
--delete-messages``, ``room list``, ``room delete``, ``audit``, ``stats`` and ``invite
create``, ``invite list``, ``invite revoke``.

The operator on the box needs no account: these commands act as "the command line", which the
audit log records as a null actor (as ``user admin`` and ``user deactivate`` always did). They
call the storage methods the admin API calls (and, for deleting a user's messages, the
admin action's own loop, :func:`chatd.actions.admin.delete_recent`), from a process of their
own: a writer beside the daemons, which learn what it did from the database's notices exactly
as they learn of another node's actions (chatd.cluster): the ``deleted`` entries from the
commit's notice, a deleted room from its ``room_deleted`` notice, a deactivation from its
revocation notice. So a running daemon's members see them live; with no daemon running, they
are what every client reads at its next ``hello``.

Output: aligned text for people on stdout, notes on stderr; ``--json`` prints the admin API's
JSON shapes (chatd.views) instead, for scripts. Failures are :class:`~chatd.errors.ChatError`,
which :func:`chatd.cli.main` prints as one line.
"""

from __future__ import annotations

import json
import re
import sys
import time
from typing import Any, TextIO

from chatd.actions.scheduled import removed_event
from chatd.config import Config
from chatd.errors import ChatError
from chatd.protocol import InvalidName, codes, is_conversation, is_dm_room, normalise_room
from chatd.protocol.events import MAX_DELETE_SECONDS
from chatd.storage import (
    COMMAND_LINE,
    AdminRoom,
    Appended,
    AuditEntry,
    NewEntry,
    Storage,
    open_storage,
)

__all__ = ["audit", "check_audit", "check_deletion", "check_invitation_id",
           "check_invitation_page", "check_new_invitation",
           "create_invitation", "deactivate", "delete_room", "list_invitations", "list_rooms",
           "page_url", "parse_duration", "parse_expiry", "revoke_invitation", "stats"]

#: The rooms read at once while listing them all.
ROOMS_PAGE = 1000
#: The most audit entries one ``chatd audit`` prints.
AUDIT_MAX = 10_000
#: The largest id an invitation may have (a bigint's).
MAX_INVITATION_ID = 2**63 - 1

_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"([0-9]{1,9})([smhd]?)")


def parse_duration(text: str, option: str = "--delete-messages") -> int:
    """Seconds from ``3600``, ``90m``, ``24h`` or ``7d`` (``s``, ``m``, ``h``, ``d``), 1 s up
    to :data:`~chatd.protocol.events.MAX_DELETE_SECONDS`, the HTTP field's bound.

    Raises:
        ChatError: ``bad_request``, naming the option.
    """
    found = _DURATION.fullmatch(text.strip().lower())
    if found is None:
        raise ChatError(codes.BAD_REQUEST, f"{option}: {text!r} is no duration (3600, 90m, "
                        "24h, 7d)")
    seconds = int(found[1]) * _UNITS[found[2]]
    if not 1 <= seconds <= MAX_DELETE_SECONDS:
        raise ChatError(codes.BAD_REQUEST, f"{option}: {text!r} is not between 1 second and "
                        f"{MAX_DELETE_SECONDS // 86400} days")
    return seconds


def _duration_text(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _room_name(text: str) -> str:
    try:
        return normalise_room(text)
    except InvalidName as exc:
        raise ChatError(codes.BAD_REQUEST, f"{text!r}: {exc}") from None


def _count(count: int, one: str, many: str = "") -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"


def _when(ms: int | None) -> str:
    return "-" if ms is None else time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms / 1000))


def _print_json(value: Any, out: TextIO = sys.stdout) -> None:
    json.dump(value, out, indent=2, ensure_ascii=False)
    out.write("\n")


# -- user deactivate --delete-messages -------------------------------------------------------


async def _commit(storage: Storage, entry: NewEntry) -> Appended:
    """Store one entry as the daemon's committer would, but with no members here to publish
    it to: the commit's notice takes it to every daemon (chatd.cluster)."""
    [outcome] = await storage.append_messages([entry])
    if isinstance(outcome, ChatError):
        raise outcome
    return outcome


async def deactivate(config: Config, name: str, delete_seconds: int | None) -> None:
    """``user deactivate NAME [--delete-messages DURATION]``: deactivate the account (its
    sessions end on every node), then delete its messages of that long ago or later in
    every room and conversation, as ``POST /api/admin/users/{name}/deactivate`` with
    ``delete_messages`` does."""
    from chatd.actions.admin import delete_recent

    async with open_storage(config) as storage:
        user = await storage.set_deactivated(name, True)
        print(f"{user.name} is deactivated: their sessions end, they cannot log in")
        if delete_seconds is None:
            return

        async def commit(entry: NewEntry) -> Appended:
            return await _commit(storage, entry)

        done = await delete_recent(storage, commit, COMMAND_LINE, user.name, delete_seconds)
        print(f"deleted {_count(done['deleted'], 'message')} of {user.name} from the last "
              f"{_duration_text(delete_seconds)}")
        if done.get("more_deleted"):
            print("chatd: more of their messages remain: run the same command again to "
                  "delete them", file=sys.stderr)


# -- room list, room delete ------------------------------------------------------------------


async def _rooms(storage: Storage, query: str) -> list[AdminRoom]:
    """Every room whose name holds ``query``, by name (the admin API's pages, all of them)."""
    rooms: list[AdminRoom] = []
    while True:
        page = await storage.admin_rooms(query=query, after=rooms[-1].name if rooms else "",
                                         limit=ROOMS_PAGE)
        rooms.extend(page)
        if len(page) < ROOMS_PAGE:
            return rooms


async def list_rooms(config: Config, query: str, as_json: bool) -> None:
    """``room list [--query Q] [--json]``: every room (not conversation) whose name holds
    ``query``, by name, with its owner, members, last seq and state."""
    from chatd.views import admin_room_object

    async with open_storage(config) as storage:
        rooms = await _rooms(storage, query.lower())
    if as_json:
        _print_json({"rooms": [admin_room_object(room) for room in rooms]})
        return
    if not rooms:
        print("chatd: no rooms" + (f" with {query!r} in their name" if query else ""),
              file=sys.stderr)
        return
    width = max(len(room.name) for room in rooms) + 1
    print(f"{'ROOM':<{width}}  {'OWNER':<32}  {'MEMBERS':>7}  {'LAST SEQ':>8}  "
          "CREATED (UTC)     STATE")
    for room in rooms:
        owner = room.owner or "-"
        if room.owner_deactivated:
            owner += " (deactivated)"
        state = ", ".join(word for word, on in (("private", room.private),
                                                ("archived", room.archived)) if on)
        print(f"{'#' + room.name:<{width}}  {owner:<32}  {room.members:>7}  "
              f"{room.last_seq:>8}  {_when(room.created_at)}  {state or '-'}".rstrip())


def check_deletion(room: str, confirmed: bool) -> str:
    """The room ``room delete`` may delete: a room's name (not a conversation's), and
    ``--yes`` (``confirmed``) unless standard input is a terminal to ask on.

    Raises:
        ChatError: ``bad_request``, saying which.
    """
    name = _room_name(room)
    if is_conversation(name):
        kind = "1:1" if is_dm_room(name) else "group"
        raise ChatError(codes.BAD_REQUEST, f"{name} is a {kind} conversation, not a room: "
                        "conversations cannot be deleted")
    if not confirmed and not sys.stdin.isatty():
        raise ChatError(codes.BAD_REQUEST, f"deleting #{name} cannot be undone: give --yes "
                        "(standard input is no terminal to ask on)")
    return name


async def delete_room(config: Config, name: str, confirmed: bool) -> None:
    """``room delete NAME``: delete a room with its whole log, as ``DELETE
    /api/admin/rooms/{room}`` does; ``name`` as :func:`check_deletion` gave it. Unless
    ``confirmed`` (``--yes``), the operator types the room's name on the terminal first."""
    async with open_storage(config) as storage:
        found = [r for r in await _rooms(storage, name) if r.name == name]
        if not found:
            raise ChatError(codes.NOT_FOUND, f"there is no room {name!r}")
        if not confirmed:
            print(f"#{name} has {_count(found[0].members, 'member')} and "
                  f"{_count(found[0].last_seq, 'entry', 'entries')}; deleting it cannot be "
                  "undone.", file=sys.stderr)
            print("type the room's name to delete it: ", end="", file=sys.stderr, flush=True)
            if sys.stdin.readline().strip().lower().lstrip("#") != name:
                raise ChatError(codes.BAD_REQUEST, f"not confirmed: #{name} is left as it was")
        removed = await storage.delete_room(None, name)
        for user, item in removed:  # (this process is no node: every running node tells)
            await storage.tell_elsewhere(user, removed_event(item))
    print(f"deleted #{name}; its members were told on every running node")


# -- audit -----------------------------------------------------------------------------------


def _details_text(entry: AuditEntry) -> str:
    details = dict(entry.details)
    if entry.action == "purge":
        details.pop("seqs", None)
    return " ".join(f"{key}={json.dumps(value, ensure_ascii=False)}"
                    for key, value in sorted(details.items()))


def check_audit(room: str | None, limit: int) -> str | None:
    """The room ``audit --room`` names (normalised; None: all), once ``limit`` is checked.

    Raises:
        ChatError: ``bad_request``.
    """
    if not 1 <= limit <= AUDIT_MAX:
        raise ChatError(codes.BAD_REQUEST, f"--limit: 1 to {AUDIT_MAX}, not {limit}")
    return None if room is None else _room_name(room)


async def audit(config: Config, name: str | None, limit: int, as_json: bool) -> None:
    """``audit [--room NAME] [--limit N] [--json]``: the audit log, newest first (all of it,
    or one room's or conversation's: ``name`` as :func:`check_audit` gave it), as ``GET
    /api/admin/audit`` gives it."""
    from chatd.views import audit_object

    async with open_storage(config) as storage:
        found = await storage.audit_log(None, room=name, limit=limit + 1)
    entries, more = found[:limit], len(found) > limit
    if as_json:
        _print_json({"entries": [audit_object(entry) for entry in entries], "more": more})
        return
    if not entries:
        print("chatd: the audit log is empty" + (f" for {name}" if name else ""),
              file=sys.stderr)
        return
    rows = [(_when(e.ts), e.actor or "(command line)", e.action, e.target or "-",
             "-" if e.room is None else e.room if is_conversation(e.room) else f"#{e.room}",
             " ".join(part for part in (f"“{e.reason}”" if e.reason else "",
                                        _details_text(e)) if part))
            for e in entries]
    heads = ("WHEN (UTC)", "BY", "ACTION", "TARGET", "ROOM", "DETAILS")
    widths = [max(len(head), *(len(row[i]) for row in rows)) for i, head in enumerate(heads)]
    for row in (heads, *rows):
        print("  ".join(f"{cell:<{widths[i]}}" for i, cell in enumerate(row)).rstrip())
    if more:
        print(f"chatd: older entries not shown (--limit {limit})", file=sys.stderr)


# -- stats -----------------------------------------------------------------------------------


def _size(count: int) -> str:
    value, unit = float(count), "B"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            break
        value /= 1024
    return f"{value:.0f} {unit}" if unit == "B" or value >= 10 else f"{value:.1f} {unit}"


async def stats(config: Config, as_json: bool) -> None:
    """``stats [--json]``: what the database holds and the nodes running on it. A node's
    own figures (its connections, its messages per second) are the node's to tell: its
    ``GET /api/admin/stats`` and ``/metrics``."""
    async with open_storage(config) as storage:
        figures = await storage.figures()
    if as_json:
        _print_json({
            "database_bytes": figures.database_bytes,
            "users": figures.users, "admins": figures.admins,
            "deactivated": figures.deactivated, "bots": figures.bots,
            "rooms": figures.rooms, "archived": figures.archived,
            "conversations": figures.conversations, "messages": figures.messages,
            "files": figures.files, "file_bytes": figures.file_bytes,
            "nodes": [{"name": n.name, "seen_at": n.seen_at, "online": n.online}
                      for n in figures.nodes],
        })
        return
    print(f"database       {_size(figures.database_bytes)} ({config.database_label})")
    print(f"users          {figures.users} ({_count(figures.admins, 'administrator')}, "
          f"{figures.deactivated} deactivated), {_count(figures.bots, 'bot')}")
    print(f"rooms          {figures.rooms} ({figures.archived} archived), "
          f"{_count(figures.conversations, 'conversation')}")
    print(f"messages       {figures.messages}")
    print(f"files          {figures.files} ({_size(figures.file_bytes)})")
    if not figures.nodes:
        print("nodes          none running")
    for i, node in enumerate(figures.nodes):
        print(f"{'nodes' if i == 0 else '':<15}{node.name}  seen {_when(node.seen_at)} UTC  "
              f"{node.online} online")



# -- invite create, list, revoke -------------------------------------------------------------


def parse_expiry(text: str) -> int:
    """Seconds from ``--expires``: days as a bare number (``7``), or ``12h``, ``90m``,
    ``3d``; from a minute to 30 days, the HTTP field's bounds.

    Raises:
        ChatError: ``bad_request``, naming the option.
    """
    from chatd.actions.invitations import MAX_EXPIRES, MIN_EXPIRES

    found = _DURATION.fullmatch(text.strip().lower())
    if found is None or found[2] == "s":
        raise ChatError(codes.BAD_REQUEST, f"--expires: {text!r} is no duration (7 for "
                        "days, or 3d, 12h, 90m)")
    seconds = int(found[1]) * _UNITS[found[2] or "d"]
    if not MIN_EXPIRES <= seconds <= MAX_EXPIRES:
        raise ChatError(codes.BAD_REQUEST, f"--expires: {text!r} is not between a minute "
                        f"and {MAX_EXPIRES // 86400} days")
    return seconds


def check_new_invitation(uses: int, seconds: int, rooms: list[str]) -> tuple[int, int,
                                                                            list[str]]:
    """``invite create``'s options, checked as the HTTP route checks its body.

    Raises:
        ChatError: ``bad_request``.
    """
    from chatd.actions.invitations import check_invitation

    return check_invitation({"uses": uses, "expires_in": seconds,
                             "rooms": [room.lstrip("#") for room in rooms]})


def page_url(config: Config) -> str:
    """Where people open the page, for the links this prints: ``server.public_url``, else
    the configured ``[http]`` address (a wildcard host is the machine's name)."""
    if config.server.public_url:
        return config.server.public_url
    host = config.http.host
    if host in ("", "0.0.0.0", "::"):
        import socket

        host = socket.getfqdn()
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{config.http.port}"


def _invitation_rows(found: list[Any]) -> None:
    rows = [(str(i.id), i.state.replace("_", " "), f"{i.uses}/{i.max_uses}",
             _when(i.expires_at), i.by or "(command line)",
             " ".join(f"#{room}" for room in i.rooms) or "-",
             ", ".join(i.used_by) or "-") for i in found]
    heads = ("ID", "STATE", "USES", "EXPIRES (UTC)", "BY", "ROOMS", "USED BY")
    widths = [max(len(head), *(len(row[i]) for row in rows)) for i, head in enumerate(heads)]
    for row in (heads, *rows):
        print("  ".join(f"{cell:<{widths[i]}}" for i, cell in enumerate(row)).rstrip())


async def create_invitation(config: Config, uses: int, seconds: int, rooms: list[str],
                            as_json: bool) -> None:
    """``invite create [--uses N] [--expires DAYS] [--room NAME ...] [--json]``: an
    invitation made by the command line (into any room), and the link to give, printed
    once (the database keeps only the token's hash). Options as
    :func:`check_new_invitation` gave them."""
    from chatd.actions.invitations import invitation_object, invite_url, new_invitation_token

    if config.auth.registration == "closed":
        print("chatd: [auth] registration is \"closed\": nobody can register with this link "
              "until it is \"invite\" or \"open\"", file=sys.stderr)
    token, digest = new_invitation_token()
    async with open_storage(config) as storage:
        invitation = await storage.create_invitation(
            digest, None, expires_at=time.time_ns() // 1_000_000 + seconds * 1000,
            max_uses=uses, rooms=rooms, anywhere=True)
    url = invite_url(page_url(config), token)
    if as_json:
        _print_json({"invitation": invitation_object(invitation), "token": token, "url": url})
        return
    print(url)
    joins = " ".join(f"#{room}" for room in invitation.rooms)
    print(f"chatd: invitation {invitation.id}: {_count(uses, 'registration')} until "
          f"{_when(invitation.expires_at)} UTC" + (f", joining {joins}" if joins else "")
          + "; the link is shown this once", file=sys.stderr)


def check_invitation_id(value: int, option: str) -> None:
    """An invitation's id as an option gives it: 1 up to the largest id storage has
    (a bigint), so that no number reaches the database as one it cannot take.

    Raises:
        ChatError: ``bad_request``, naming the option.
    """
    if not 1 <= value <= MAX_INVITATION_ID:
        raise ChatError(codes.BAD_REQUEST, f"{option}: an invitation's id is 1 to "
                        f"{MAX_INVITATION_ID}, not {value}")


def check_invitation_page(limit: int | None, before: int | None) -> None:
    """``invite list``'s ``--limit`` (1 or more; None: every invitation) and ``--before``.

    Raises:
        ChatError: ``bad_request``, naming the option.
    """
    if limit is not None and limit < 1:
        raise ChatError(codes.BAD_REQUEST, f"--limit: 1 or more, not {limit}")
    if before is not None:
        check_invitation_id(before, "--before")


async def _invitations(storage: Storage, limit: int | None, before: int | None
                       ) -> tuple[list[Any], bool]:
    """The newest ``limit`` invitations (None: all of them) older than invitation
    ``before`` (None: from the newest), newest first, read a page of the admin API's
    largest at a time; and whether older ones were left out."""
    from chatd.actions.invitations import LIST_PAGE_MAX

    found: list[Any] = []
    while limit is None or len(found) < limit:
        want = LIST_PAGE_MAX if limit is None else min(LIST_PAGE_MAX, limit - len(found))
        page = await storage.invitations(None, before=found[-1].id if found else before,
                                         limit=want + 1)
        found.extend(page[:want])
        if len(page) <= want:
            return found, False
    return found, True


async def list_invitations(config: Config, as_json: bool, limit: int | None = None,
                           before: int | None = None) -> None:
    """``invite list [--limit N] [--before ID] [--json]``: every invitation (or the
    newest ``limit``; those older than ``before``), newest first, as the pages of ``GET
    /api/invitations`` give them to an administrator; options as
    :func:`check_invitation_page` checked them."""
    from chatd.actions.invitations import invitation_object

    async with open_storage(config) as storage:
        found, more = await _invitations(storage, limit, before)
    if as_json:
        _print_json({"invitations": [invitation_object(i) for i in found], "more": more})
        return
    if not found:
        print("chatd: no invitations" + (f" older than {before}" if before else ""),
              file=sys.stderr)
        return
    _invitation_rows(found)
    if more:
        print(f"chatd: older invitations not shown (--limit {limit}; the next: --before "
              f"{found[-1].id})", file=sys.stderr)


async def revoke_invitation(config: Config, invitation_id: int) -> None:
    """``invite revoke ID``: the invitation works no more (twice is no error)."""
    async with open_storage(config) as storage:
        invitation = await storage.revoke_invitation(invitation_id, None, anyone=True)
    print(f"revoked invitation {invitation.id} (used {invitation.uses} of "
          f"{invitation.max_uses} times)")
