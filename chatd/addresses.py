"""Which network addresses chatd may connect to on a user's behalf (server-side request
forgery).

Theory of operation. A Web Push subscription names an endpoint, a URL chosen by the user's
browser, or by anyone holding a token: chatd must never post to an address of its own
network (a database, a cloud's metadata service at 169.254.169.254, an admin page on
localhost) because someone typed it there. So the endpoint's host is resolved and every
address it gives is judged by :func:`is_public`, never the host's text (``127.1``,
``2130706433`` and ``localhost.`` all resolve to the loopback). The judgement happens twice:
when the subscription is made (:func:`public_addresses`, which refuses a host with any
non-public address), and when a push is sent, on the addresses chatd then connects to, and
only to those (chatd.pusher's network backend): a name that resolved to a public address at
the first check and to 127.0.0.1 at the second (DNS rebinding) is refused at the second, and
a connection never resolves the name again behind the check's back.

An address is public when Python's ``ipaddress`` calls it global and none of private,
loopback, link-local, multicast, reserved or unspecified, and it is outside a list of ranges
kept here as well (so that the rule does not depend on the Python release's tables). An IPv6
address that carries an IPv4 one (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible, NAT64's
``64:ff9b::/96``, 6to4's ``2002::/16``) is public only if that IPv4 address is too: a NAT64
gateway or a 6to4 relay would carry the packets to it.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import trio

__all__ = ["MAX_URL_CHARS", "RefusedAddress", "check_url", "is_public", "public_addresses",
           "url_addresses"]

#: The longest URL chatd takes from a user to connect to.
MAX_URL_CHARS = 2048

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_REFUSED_V4 = tuple(ipaddress.IPv4Network(net) for net in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
    "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
))
_REFUSED_V6 = tuple(ipaddress.IPv6Network(net) for net in (
    "::/96",  # unspecified, loopback and the deprecated IPv4-compatible addresses
    "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "3fff::/20", "5f00::/16",
    "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
))
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class RefusedAddress(Exception):
    """An endpoint's host is not somewhere chatd may connect to (or does not resolve); the
    message says why, for the user and the log."""


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries to, if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """Whether chatd may connect to ``address`` on a user's behalf (see the module's
    docstring). Pure; any IPv4 or IPv6 address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return False
        embedded = _embedded_v4(address)
        if embedded is not None and not is_public(embedded):
            return False
        if any(address in net for net in _REFUSED_V6) or address.is_site_local:
            return False
    elif any(address in net for net in _REFUSED_V4):
        return False
    return address.is_global and not (
        address.is_private or address.is_loopback or address.is_link_local
        or address.is_multicast or address.is_reserved or address.is_unspecified)


def _parse(addresses: Iterable[str]) -> list[IPAddress]:
    return [ipaddress.ip_address(a) for a in addresses]


#: What resolves names: :func:`trio.socket.getaddrinfo`'s signature.
Resolver = Callable[..., Awaitable[list[tuple[Any, ...]]]]


async def public_addresses(host: str, port: int, *, allow_private: bool = False,
                           getaddrinfo: Resolver = trio.socket.getaddrinfo) -> list[str]:
    """The addresses ``host`` resolves to (by ``getaddrinfo``), in the resolver's order, if
    chatd may connect to them: with ``allow_private``, all of them; otherwise all must be
    public.

    Raises:
        RefusedAddress: the host does not resolve, or (without ``allow_private``) one of its
            addresses is not public.
    """
    try:
        infos = await getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise RefusedAddress(f"the host {host!r} does not resolve ({exc})") from None
    found: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in found:
            found.append(address)
    if not found:
        raise RefusedAddress(f"the host {host!r} has no address")
    if not allow_private:
        for parsed in _parse(found):
            if not is_public(parsed):
                raise RefusedAddress(f"the host {host!r} has the address {parsed}, which is "
                                     "not public (private, loopback, link-local, multicast "
                                     "or reserved)")
    return found


def check_url(url: object, field: str, *, allow_http: bool = False,
              what: str = "URL") -> urllib.parse.SplitResult:
    """A URL a user gives chatd to send requests to (a push endpoint, a webhook), checked
    for its form only: an https URL (http too with ``allow_http``) with a host, no user
    name, password or fragment, printable ASCII, at most :data:`MAX_URL_CHARS`. Whether its
    host's addresses may be used is :func:`url_addresses`'s to say.

    Args:
        url: as the user gave it.
        field: its name in the request, for the message (``endpoint``, ``url``).
        what: what it is, for the message when it is missing.

    Raises:
        ValueError: why it cannot be used, naming ``field``.
    """
    if not isinstance(url, str) or not url:
        raise ValueError(f"'{field}' must be the {what}")
    if len(url) > MAX_URL_CHARS or not url.isascii() \
            or not all(c.isprintable() and not c.isspace() for c in url):
        raise ValueError(f"'{field}' must be a URL of at most {MAX_URL_CHARS} printable "
                         "ASCII characters")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(f"'{field}' is not a valid URL") from None
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes:
        raise ValueError(f"'{field}' must be an https:// URL")
    if not parts.hostname or parts.username is not None or parts.password is not None \
            or parts.fragment or "#" in url or port == 0:
        raise ValueError(f"'{field}' must be a URL with a host (and no user name, password "
                         "or fragment)")
    return parts


async def url_addresses(url: str, *, allow_private: bool = False,
                        getaddrinfo: Resolver = trio.socket.getaddrinfo) -> list[str]:
    """:func:`public_addresses` of the host of ``url`` (checked by :func:`check_url`), on
    its port (or the scheme's).

    Raises:
        RefusedAddress: as :func:`public_addresses`.
    """
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname:
        raise RefusedAddress(f"{url!r} has no host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return await public_addresses(parts.hostname, port, allow_private=allow_private,
                                  getaddrinfo=getaddrinfo)
