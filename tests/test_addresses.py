"""chatd.addresses: the addresses chatd may connect to on a user's behalf (server-side
request forgery). The ranges below are IANA's special-purpose registries, written out here
independently of the module's own list: no address in them is ever public, whatever form it
comes in."""

from __future__ import annotations

import ipaddress

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from chatd.addresses import RefusedAddress, check_url, is_public, public_addresses, url_addresses

NOT_PUBLIC_V4 = [ipaddress.IPv4Network(n) for n in (
    "0.0.0.0/8",        # this network
    "10.0.0.0/8",       # private
    "100.64.0.0/10",    # carrier-grade NAT
    "127.0.0.0/8",      # loopback
    "169.254.0.0/16",   # link-local (cloud metadata services live here)
    "172.16.0.0/12",    # private
    "192.0.0.0/24",     # IETF protocol assignments
    "192.0.2.0/24",     # documentation
    "192.168.0.0/16",   # private
    "198.18.0.0/15",    # benchmarking
    "198.51.100.0/24",  # documentation
    "203.0.113.0/24",   # documentation
    "224.0.0.0/4",      # multicast
    "240.0.0.0/4",      # reserved, and the broadcast address
)]
NOT_PUBLIC_V6 = [ipaddress.IPv6Network(n) for n in (
    "::/128", "::1/128", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8", "2001:db8::/32",
    "100::/64",
)]
PUBLIC = ["8.8.8.8", "1.1.1.1", "142.250.74.46", "17.253.144.10",
          "2606:4700:4700::1111", "2a00:1450:4001:82b::200a"]

v4_addresses = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)
v6_addresses = st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address)


def inside(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> st.SearchStrategy[object]:
    """Any address of ``net``."""
    kind = ipaddress.IPv4Address if net.version == 4 else ipaddress.IPv6Address
    return st.integers(int(net.network_address), int(net.broadcast_address)).map(kind)


def carriers(v4: ipaddress.IPv4Address) -> list[ipaddress.IPv6Address]:
    """IPv6 addresses that carry packets to ``v4``: IPv4-mapped, NAT64's well-known prefix,
    6to4 and the deprecated IPv4-compatible form."""
    n = int(v4)
    return [ipaddress.IPv6Address((0xFFFF << 32) | n),
            ipaddress.IPv6Address((0x64FF9B << 96) | n),
            ipaddress.IPv6Address((0x2002 << 112) | (n << 80)),
            ipaddress.IPv6Address(n)]


@given(v4_addresses)
def test_no_special_purpose_ipv4_address_is_public(address: ipaddress.IPv4Address) -> None:
    """An IPv4 address in any special-purpose range is never public."""
    if is_public(address):
        assert not any(address in net for net in NOT_PUBLIC_V4), address


@given(st.sampled_from(NOT_PUBLIC_V4).flatmap(inside))
def test_every_address_of_a_special_ipv4_range_is_refused(address: object) -> None:
    """Drawn from inside the ranges (a uniform draw rarely lands in a small one)."""
    assert isinstance(address, ipaddress.IPv4Address)
    assert not is_public(address)


@given(st.sampled_from(NOT_PUBLIC_V6).flatmap(inside))
def test_every_address_of_a_special_ipv6_range_is_refused(address: object) -> None:
    assert isinstance(address, ipaddress.IPv6Address)
    assert not is_public(address)


@given(v4_addresses)
def test_an_ipv6_form_is_never_more_public_than_its_ipv4_address(
        address: ipaddress.IPv4Address) -> None:
    """::ffff:127.0.0.1, 64:ff9b::a00:1, 2002:c0a8:101:: reach what they carry: they are
    refused whenever the IPv4 address is."""
    for carrier in carriers(address):
        if not is_public(address):
            assert not is_public(carrier), carrier


@given(v6_addresses)
def test_no_special_purpose_ipv6_address_is_public(address: ipaddress.IPv6Address) -> None:
    if is_public(address):
        assert not any(address in net for net in NOT_PUBLIC_V6), address


@pytest.mark.parametrize("text", PUBLIC)
def test_public_addresses_are_public(text: str) -> None:
    """The push services' kind of address passes."""
    assert is_public(ipaddress.ip_address(text))


@pytest.mark.parametrize("text", ["169.254.169.254", "::ffff:169.254.169.254", "127.0.0.1",
                                  "::ffff:7f00:1", "64:ff9b::a00:1", "2002:a00:1::1",
                                  "fe80::1%1", "0.0.0.0", "255.255.255.255", "::"])
def test_known_traps_are_refused(text: str) -> None:
    """The metadata service, the loopback and private networks in IPv6 clothing."""
    assert not is_public(ipaddress.ip_address(text))


async def test_names_are_judged_by_what_they_resolve_to() -> None:
    """localhost and numeric spellings of the loopback (2130706433, 127.1) are refused;
    allowed with allow_private; a name that does not resolve is refused either way."""
    with trio.fail_after(20):
        for host in ("localhost", "127.0.0.1", "2130706433", "127.1", "::1"):
            with pytest.raises(RefusedAddress):
                await public_addresses(host, 443)
        assert "127.0.0.1" in await public_addresses("127.0.0.1", 443, allow_private=True)
        with pytest.raises(RefusedAddress):
            await public_addresses("no-such-host.invalid", 443, allow_private=True)


@pytest.mark.parametrize(("url", "why"), [
    (None, "must be the URL"),
    ("", "must be the URL"),
    ("https://" + "a" * 2048, "at most 2048"),
    ("https://exa mple.org/", "printable"),
    ("https://exämple.org/", "printable"),
    ("http://example.org/", "https://"),
    ("ftp://example.org/", "https://"),
    ("https:///path", "with a host"),
    ("https://user:pw@example.org/", "with a host"),
    ("https://example.org/#frag", "with a host"),
    ("https://example.org:0/", "with a host"),
    ("https://example.org:99999/", "not a valid URL"),
])
def test_check_url_refuses_what_cannot_be_posted_to(url: object, why: str) -> None:
    """A URL of the wrong form is refused with a message naming the field."""
    with pytest.raises(ValueError, match=why) as refused:
        check_url(url, "url")
    assert "'url'" in str(refused.value)


def test_check_url_takes_http_only_when_allowed() -> None:
    assert check_url("https://example.org:8443/hook?x=1", "url").port == 8443
    assert check_url("http://127.0.0.1:1/h", "url", allow_http=True).hostname == "127.0.0.1"


async def test_url_addresses_judges_the_urls_host() -> None:
    """The URL's host and port (or the scheme's) are resolved and judged."""
    asked: list[tuple[str, int]] = []

    async def getaddrinfo(host: str, port: int, **kwargs: object) -> list[tuple[object, ...]]:
        asked.append((host, port))
        return [(0, 0, 0, "", ("127.0.0.1", port))]

    with pytest.raises(RefusedAddress):
        await url_addresses("https://hooks.example/x", getaddrinfo=getaddrinfo)
    assert await url_addresses("http://hooks.example/x", allow_private=True,
                               getaddrinfo=getaddrinfo) == ["127.0.0.1"]
    assert asked == [("hooks.example", 443), ("hooks.example", 80)]
