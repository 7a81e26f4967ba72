"""The daemon's listening addresses (``[http]`` and ``[tcp]`` host and port): bind them, or
check them for ``chatd serve --check``, with failures that name the setting to change.

A port in use, a host name that does not resolve or an address that is not this machine's is
not a bug but a setting to fix: it becomes a :class:`~chatd.config.ConfigError` whose one line
says which setting, where it was set (file key or ``CHATD_*`` variable) and what went wrong.
"""

from __future__ import annotations

import errno
import socket

import trio

from chatd.config import Config, ConfigError

__all__ = ["check_address", "format_address", "inherited_listeners", "open_listeners"]


def format_address(host: str, port: int) -> str:
    """``host:port``, with an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _explain(config: Config, section: str, exc: OSError) -> str:
    """One line: the setting at fault, where it was set, and why it cannot be used."""
    host = getattr(config, section).host
    port = getattr(config, section).port
    address = format_address(host, port)
    if isinstance(exc, socket.gaierror):
        return (f"{config.source(f'{section}.host')}: cannot listen on {host!r}: the name does "
                f"not resolve ({exc.strerror})")
    if exc.errno == errno.EADDRINUSE:
        return (f"{config.source(f'{section}.port')}: cannot listen on {address}: the port is "
                "in use (another chatd, or another program)")
    if exc.errno == errno.EACCES:
        return (f"{config.source(f'{section}.port')}: cannot listen on {address}: permission "
                "denied (ports below 1024 need privileges)")
    if exc.errno == errno.EADDRNOTAVAIL:
        return (f"{config.source(f'{section}.host')}: cannot listen on {host!r}: not an address "
                "of this machine")
    return (f"{config.source(f'{section}.host')}, {config.source(f'{section}.port')}: "
            f"cannot listen on {address}: {exc.strerror or exc}")


async def open_listeners(config: Config, section: str) -> list[trio.SocketListener]:
    """:func:`trio.open_tcp_listeners` on the host and port of ``[section]`` ("http", "tcp").

    Raises:
        ConfigError: the address cannot be listened on; the message names the setting.
    """
    settings = getattr(config, section)
    try:
        return await trio.open_tcp_listeners(settings.port, host=settings.host)
    except OSError as exc:
        raise ConfigError(_explain(config, section, exc)) from None


def inherited_listeners(fds: list[int]) -> list[trio.SocketListener]:
    """Listeners on sockets a parent bound and passed down (``chatd serve --workers``): each
    file descriptor is a TCP socket already listening."""
    listeners = []
    for fd in fds:
        sock = socket.socket(fileno=fd)
        sock.setblocking(False)
        listeners.append(trio.SocketListener(trio.socket.from_stdlib_socket(sock)))
    return listeners


def check_address(config: Config, section: str) -> str | None:
    """Whether ``[section]``'s host can be listened on, without taking its port: the name
    resolves and each of its addresses binds (on a free port, since the configured one may
    be held by the chatd that runs now). Blocks on name resolution.

    Returns:
        None when it can, else the problem in one line, naming the setting.
    """
    settings = getattr(config, section)
    unsupported: OSError | None = None
    bound = 0
    try:
        found = socket.getaddrinfo(settings.host, 0, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
        for family, kind, proto, _, sockaddr in found:
            try:
                sock = socket.socket(family, kind, proto)
            except OSError as exc:
                # As trio does: a family this kernel lacks (IPv6 off) is skipped.
                if exc.errno != errno.EAFNOSUPPORT:
                    raise
                unsupported = exc
                continue
            with sock:
                sock.bind((sockaddr[0], 0, *sockaddr[2:]))
                bound += 1
    except OSError as exc:
        return _explain(config, section, exc)
    if not bound and unsupported is not None:
        return _explain(config, section, unsupported)
    return None
