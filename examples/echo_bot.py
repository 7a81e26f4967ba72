#!/usr/bin/env python3
"""A small chatd bot: in the rooms it is in, it answers ``!echo TEXT``, ``!time`` and
``!help``.

Make the bot and its token (as its owner: ``POST /api/bots`` with ``{"name": "echo"}``, or
an operator: ``chatd bot add echo --owner you``), then run::

    BOT_TOKEN=chatdbot_... python examples/echo_bot.py --server http://127.0.0.1:8080 \\
        --room general

It speaks the protocol through chatd's own client half (:mod:`chatd.protocol`, over the
WebSocket, or the bare TCP port with ``--tcp HOST:PORT``). It joins the rooms named with
``--room`` (and stays in those it was invited into, an incoming webhook's room for one). When
the connection drops it connects again and resumes where it was, so a command sent meanwhile
is answered once it is back. Each answer's nonce is made from the command's room and id, so
an answer sent twice is stored once: a command whose answer was refused or not acknowledged
is simply read again on the next resume. A revoked token ends it (exit status 1).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import sys

import trio

from chatd.client.link import LINK_ERRORS, Endpoint, Link, open_link, parse_hostport
from chatd.protocol import (
    Error,
    Hello,
    Join,
    JoinAccepted,
    MessagePosted,
    Ping,
    RequestId,
    Send,
    Sent,
    Welcome,
)

HELP = "I answer !echo TEXT, !time and !help."
RECONNECT_MAX = 30.0  # seconds between attempts, at most


def answer(text: str, now: datetime.datetime) -> str | None:
    """What the bot says to a message's ``text`` (None: nothing). Pure."""
    command, _, rest = text.strip().partition(" ")
    if command == "!echo" and rest.strip():
        return rest.strip()
    if command == "!time":
        return now.astimezone(datetime.UTC).strftime("It is %Y-%m-%d %H:%M:%S UTC.")
    if command == "!help":
        return HELP
    return None


class Gone(Exception):
    """The server will not have the bot (a bad or revoked token): do not come back."""


@dataclasses.dataclass
class Place:
    """Where the bot is in each room: the last seq it saw, and the first command it must
    read again (its answer was refused, or the connection ended before it was
    acknowledged)."""

    seen: dict[str, int] = dataclasses.field(default_factory=dict)
    again: dict[str, int] = dataclasses.field(default_factory=dict)

    def read_again(self, room: str, seq: int) -> None:
        self.again[room] = min(self.again.get(room, seq), seq)

    def resume(self) -> dict[str, int]:
        """What the next hello resumes from (and forget what is to be read again)."""
        points = {room: min(seq, self.again.get(room, seq + 1) - 1)
                  for room, seq in self.seen.items()}
        self.again.clear()
        return points


async def serve(link: Link, token: str, rooms: list[str], place: Place) -> None:
    """One session: hello (resuming where it was), join ``rooms``, then answer commands
    until the connection ends."""
    await link.send(Hello(id=link.conn.next_id(), token=token,
                          resume=place.resume() or None))
    welcome = await link.next_event()
    if isinstance(welcome, Error):
        raise Gone(welcome.message)
    if not isinstance(welcome, Welcome):
        return  # the connection ended before the welcome: try again
    me = welcome.user["name"]
    seen = place.seen
    for listed in welcome.rooms:
        seen.setdefault(listed["room"], listed["last_seq"])  # rooms it was invited into
    for name in rooms:
        # A member already (the welcome lists it): no join. A join would read the room's
        # latest page again, and a command posted meanwhile would come in that page, which
        # is the past for this bot, instead of live.
        if name not in seen:
            await link.send(Join(id=link.conn.next_id(), room=name))
    pending: dict[RequestId, tuple[str, int]] = {}  # answer not acknowledged -> command
    refused: str | None = None
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(keep_alive, link, welcome.ping_interval)
            while (event := await link.next_event()) is not None:
                if isinstance(event, JoinAccepted):
                    seen.setdefault(event.room, event.last_seq)  # its past is not for us
                elif isinstance(event, MessagePosted):
                    seen[event.room] = max(seen.get(event.room, 0), event.seq)
                    reply = None if event.sender == me else answer(
                        event.text, datetime.datetime.now(datetime.UTC))
                    if reply is not None:
                        rid = link.conn.next_id()
                        pending[rid] = (event.room, event.seq)
                        await link.send(Send(id=rid, room=event.room, text=reply,
                                             nonce=f"answer:{event.room}:{event.msg_id}",
                                             reply_to=event.msg_id))
                elif isinstance(event, Sent):
                    pending.pop(event.id, None)
                elif isinstance(event, Error):
                    if event.id is None and event.code == "unauthenticated":
                        refused = event.message
                        break
                    print(f"echo_bot: {event.code}: {event.message}", file=sys.stderr)
                    if event.id in pending:  # read that command again on the next resume
                        place.read_again(*pending.pop(event.id))
            nursery.cancel_scope.cancel()
    finally:
        for command in pending.values():  # unknown whether stored: the nonce will tell
            place.read_again(*command)
    if refused is not None:
        raise Gone(refused)


async def keep_alive(link: Link, interval: int) -> None:
    while True:
        await trio.sleep(interval)
        await link.send(Ping(id=link.conn.next_id()))


async def main(endpoint: Endpoint, tcp: tuple[str, int] | None, token: str,
               rooms: list[str]) -> int:
    place = Place()
    delay = 1.0
    while True:
        try:
            async with open_link(endpoint, tcp) as link:
                delay = 1.0
                await serve(link, token, rooms, place)
        except Gone as exc:
            print(f"echo_bot: the server refused the token: {exc}", file=sys.stderr)
            return 1
        except LINK_ERRORS as exc:
            print(f"echo_bot: connection lost ({exc!r}); again in {delay:.0f} s",
                  file=sys.stderr)
        await trio.sleep(delay)
        delay = min(delay * 2, RECONNECT_MAX)


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default="http://127.0.0.1:8080",
                        help="chatd's HTTP address (the WebSocket is /ws there)")
    parser.add_argument("--tcp", metavar="HOST:PORT",
                        help="use the bare TCP protocol port instead of the WebSocket")
    parser.add_argument("--room", action="append", default=[],
                        help="a room to join (again for several)")
    args = parser.parse_args()
    token = os.environ.get("BOT_TOKEN", "")
    if not token:
        parser.error("set BOT_TOKEN to the bot's API token")
    tcp = parse_hostport(args.tcp) if args.tcp else None
    return trio.run(main, Endpoint.parse(args.server), tcp, token, args.room)


if __name__ == "__main__":
    sys.exit(cli())
