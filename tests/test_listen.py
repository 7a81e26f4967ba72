"""Binding the daemon's addresses: a failure is a ConfigError naming the setting."""

from __future__ import annotations

import socket

import pytest

from chatd.config import Config, ConfigError
from chatd.listen import check_address, format_address, open_listeners


async def test_a_host_that_does_not_resolve_names_its_setting() -> None:
    """At bind time, an unresolvable host is one ConfigError naming [http] host."""
    config = Config().replace(http={"host": "no-such-host.invalid", "port": 0})
    with pytest.raises(ConfigError, match=r"^\[http\] host as set by the program: cannot "
                                          r"listen on 'no-such-host.invalid': the name does"):
        await open_listeners(config, "http")


async def test_a_port_in_use_names_its_setting() -> None:
    """A port another socket holds is one ConfigError naming [tcp] port."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = Config().replace(tcp={"port": port})
        with pytest.raises(ConfigError, match=rf"cannot listen on 127.0.0.1:{port}: the port "
                                              "is in use"):
            await open_listeners(config, "tcp")
        # The check leaves the configured port alone: a running chatd holds it.
        assert check_address(config, "tcp") is None


async def test_listeners_on_a_free_port() -> None:
    """Port 0 binds a free port."""
    listeners = await open_listeners(Config().replace(http={"port": 0}), "http")
    try:
        assert listeners[0].socket.getsockname()[1] != 0
    finally:
        for listener in listeners:
            await listener.aclose()


def test_ipv6_addresses_are_bracketed() -> None:
    """host:port for messages and URLs."""
    assert format_address("::1", 80) == "[::1]:80"
    assert format_address("127.0.0.1", 80) == "127.0.0.1:80"
