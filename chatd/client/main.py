"""``chatd client``: ask for what is missing, then chat."""

from __future__ import annotations

import getpass
import io
import logging
import os
import re
import sys
from typing import Protocol

import trio

from chatd.client.commands import read_input
from chatd.client.link import Endpoint, parse_hostport
from chatd.client.session import ChatClient, ClientOptions
from chatd.client.terminal import LineReader, Screen, read_line_sync, styles_supported
from chatd.protocol import InvalidName, normalise_user

__all__ = ["invitation_token", "main", "run"]


class _HttpSettings(Protocol):
    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...


class Settings(Protocol):
    """What the client reads of chatd's configuration: where the HTTP front listens (the
    client does not import the server's modules, so it names only what it uses)."""

    @property
    def http(self) -> _HttpSettings: ...


async def run(options: ClientOptions, password: str) -> int:
    """Run the client on this process's terminal until the user quits; the exit status."""
    screen = Screen(sys.stdout, styled=styles_supported(sys.stdout, os.environ))
    client = ChatClient(options, password, screen, LineReader(sys.stdin.fileno()))
    return await client.run(read_input)


def _default_server(config: Settings) -> str:
    host = config.http.host
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://{f'[{host}]' if ':' in host else host}:{config.http.port}"


def invitation_token(text: str) -> str:
    """The token of an invitation link as the user gives it: the whole link
    (``https://chat.example.org/#invite=TOKEN``) or the token alone.

    Raises:
        ValueError: nothing that can be a token.
    """
    token = text.strip()
    if "#invite=" in token:
        token = token.split("#invite=", 1)[1]
    token = token.split("&", 1)[0]
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,128}", token):
        raise ValueError(f"--invitation: {text!r} is no invitation link or token")
    return token


def main(config: Settings, *, server: str | None, user: str | None, password_stdin: bool,
         tcp: str | None, register: bool = False, bell: bool = False,
         idle_after: float = 10.0, invitation: str | None = None) -> int:
    """``chatd client``: ask what is missing, then chat; returns the exit status.

    Args:
        config: for the default server (its ``[http]`` host and port).
        server: the server's HTTP base URL (log in, and ``/ws``).
        user: the user name; asked for when None.
        password_stdin: read the password from the first line of standard input instead of
            asking for it on the terminal (it is read from there anyway when standard input
            is not a terminal).
        tcp: ``HOST:PORT`` of the bare protocol port, to use instead of the WebSocket.
        register: create the account first (a name that is taken is then just logged in).
        invitation: an invitation link (or its token) to register with: the account is
            created with it (as ``register``) and joins the invitation's rooms.
        bell: ring the terminal bell for a message the user's notification level asks for,
            by default a direct message or a mention (see
            :meth:`chatd.client.session.ChatClient.rings_for`).
        idle_after: minutes without a typed line after which the user is idle (others see
            them away while all their connections are); 0: never.
    """
    logging.getLogger().setLevel(logging.WARNING)  # the server's INFO lines are not for here
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")
    try:
        endpoint = Endpoint.parse(server or _default_server(config))
        hostport = parse_hostport(tcp) if tcp else None
        token = invitation_token(invitation) if invitation is not None else None
    except ValueError as exc:
        print(f"chatd client: {exc}", file=sys.stderr)
        return 2
    stdin = sys.stdin.fileno()
    interactive = os.isatty(stdin)
    if user is None:
        sys.stdout.write("user: ")
        sys.stdout.flush()
        user = read_line_sync(stdin).strip()
    try:
        user = normalise_user(user)
    except InvalidName as exc:
        print(f"chatd client: {exc}", file=sys.stderr)
        return 2
    if password_stdin or not interactive:
        password = read_line_sync(stdin)
    else:
        password = getpass.getpass("password: ")
    options = ClientOptions(endpoint=endpoint, user=user, tcp=hostport,
                            password_from_stdin=password_stdin, register=register,
                            invitation=token,
                            interactive=interactive, bell=bell,
                            idle_after=idle_after * 60 if idle_after > 0 else None)
    return trio.run(run, options, password)
