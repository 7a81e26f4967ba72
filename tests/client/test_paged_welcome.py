"""The terminal client with a paged welcome: it says hello with ``rooms_limit`` and
``contacts_limit`` (:data:`chatd.protocol.WELCOME_PAGE`), pages the rest of its rooms with
``rooms`` (``joined``) so that it knows every room as before, and ``/contacts`` pages."""

from __future__ import annotations

import re
from pathlib import Path

import trio

from chatd.protocol import WELCOME_PAGE
from chatd.server import Server
from tests.client.test_terminal import (
    PASSWORD,
    STAMPED,
    client_in_batch,
    client_on_pty,
    log_in,
    party,
)
from tests.client.wire import Client, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config

ROOMS = [f"r{n:02}" for n in range(WELCOME_PAGE + 5)]  # more than a welcome's page


async def _ann_in_rooms(server: Server, rooms: list[str]) -> str:
    token = await register_and_login(server.http_port, "ann")
    ann = await Client.tcp(server.tcp_port)
    await ann.hello(token)
    for room in rooms:
        assert (await ann.request("join", room=room))["op"] == "ok"
    await ann.aclose()
    return token


def _rooms_line(output: str) -> list[str]:
    [line] = re.findall(r"-- rooms: (.*)\n", output)
    return [name.split(" ")[0].strip("[]") for name in line.split(", ")]


async def test_the_client_knows_every_room_past_the_welcomes_page(
        tmp_path: Path, database_dsn: str) -> None:
    config = make_config(tmp_path, database_dsn, limits={"rooms_per_hour": 100})
    async with running(config) as server, trio.open_nursery() as nursery:
        await _ann_in_rooms(server, ROOMS)
        last = ROOMS[-1]
        bob = await party(nursery, server, "bob", last)
        async with client_on_pty(tmp_path, server.http_port, "ann") as term:
            await log_in(term)
            found = await term.expect(r"-- rooms: (.*)\n")
            assert [n.split(" ")[0] for n in found.group(1).split(", ")] == ROOMS
            await term.expect(r"talking in \[r00\]")
            # A room of a later page: live messages arrive, and the client may talk there.
            await bob.request("send", room=last, text="on the last page", nonce="n1")
            await term.expect(rf"{STAMPED} \[{last}\] bob: on the last page")
            await term.type(f"/switch {last}")
            await term.expect(rf"-- talking in \[{last}\]")
            await term.type("answered")
            await bob.event("message", room=last, text="answered")
        await bob.aclose()
        nursery.cancel_scope.cancel()


async def test_a_server_with_smaller_pages_gives_a_page_of_its_own(
        tmp_path: Path, database_dsn: str) -> None:
    """``limits.rooms_page_max`` below the client's page: the server takes the hello's
    sizes as its largest page (a page of 4 with ``rooms_more``), and the client pages the
    rest as from any paged welcome: every room known, no hello refused."""
    config = make_config(tmp_path, database_dsn, limits={"rooms_page_max": 4,
                                                         "rooms_per_hour": 100})
    async with running(config) as server:
        await _ann_in_rooms(server, ROOMS[:6])
        returncode, output = await client_in_batch(tmp_path, server.http_port, "ann",
                                                   [PASSWORD, f"/switch {ROOMS[5]}", "hi"])
    assert returncode == 0, output
    assert _rooms_line(output) == ROOMS[:6]
    assert "reconnecting" not in output and "!!" not in output, output


async def test_contacts_page(tmp_path: Path, database_dsn: str) -> None:
    """The welcome shows the first contacts and how to see more; ``/contacts`` a page (the
    server's default, 4 here) and the line for the next; ``/contacts +NAME`` the next."""
    config = make_config(tmp_path, database_dsn, limits={"rooms_page_max": 4})
    async with running(config) as server:
        token = await register_and_login(server.http_port, "ann")
        names = ["Bea", "bob", "Cy", "dan", "Eve", "fay"]
        for name in names:
            await register_and_login(server.http_port, name)
        ann = await Client.tcp(server.tcp_port)
        await ann.hello(token)
        for name in names:
            assert (await ann.request("add_contact", user=name))["op"] == "ok"
        await ann.aclose()
        returncode, output = await client_in_batch(
            tmp_path, server.http_port, "ann", [PASSWORD, "/contacts", "/contacts +dan",
                                                "/contacts +FAY", "/contacts bob"])
    assert returncode == 1, output  # the usage problem of the last line
    pages = re.findall(r"-- contacts: (.*)\n", output)
    assert pages == [
        # The welcome: the hello's 30 taken as this server's largest page, 4.
        "Bea (offline), bob (offline), Cy (offline), dan (offline) (more: /contacts +dan)",
        "Bea (offline), bob (offline), Cy (offline), dan (offline)",
        "Eve (offline), fay (offline)",
        "no more",
    ], output
    assert re.findall(r"-- more: (.*)\n", output) == ["/contacts +dan"], output
    assert "!! usage: /contacts [+NAME]" in output


async def test_the_welcome_says_there_are_more_contacts(tmp_path: Path,
                                                        database_dsn: str) -> None:
    config = make_config(tmp_path, database_dsn, auth={"registrations_per_ip": 100,
                                                       "login_attempts_per_ip": 100})
    async with running(config) as server:
        token = await register_and_login(server.http_port, "ann")
        names = [f"c{n:02}" for n in range(WELCOME_PAGE + 2)]
        ann = await Client.tcp(server.tcp_port)
        await ann.hello(token)
        for name in names:
            await register_and_login(server.http_port, name)
            assert (await ann.request("add_contact", user=name))["op"] == "ok"
        await ann.aclose()
        returncode, output = await client_in_batch(tmp_path, server.http_port, "ann",
                                                   [PASSWORD, "/contacts +c30"])
    assert returncode == 0, output
    shown = ", ".join(f"{name} (offline)" for name in names[:WELCOME_PAGE])
    last = names[WELCOME_PAGE - 1]
    assert f"-- contacts: {shown} (more: /contacts +{last})\n" in output, output
    assert "-- contacts: c31 (offline)\n" in output, output
