"""Profiles in storage (migration 0025): set_profile keeps what it is not given and says
whether others see a change; a status past its time reads as none everywhere and a write
clears it; profiles, contact_profiles, member_page and the user's own row carry them; the
other nodes are told by a notice of the trigger, only of a change, and parse it back."""

from __future__ import annotations

from typing import Any

import asyncpg
import trio
from hypothesis import given
from hypothesis import strategies as st

from chatd.storage import NO_CUSTOM_STATUS, CustomStatus, Profile, ProfileNotice, Storage
from chatd.storage.bridge import open_bridge
from chatd.storage.postgres import (
    _SQL_CONTACT_PROFILES,
    _SQL_PROFILES,
    PROFILES_CHANNEL,
    _parse_notice,
)
from tests.helpers import now_ms, until
from tests.storage.plans import plan, scans
from tests.storage.test_flat_costs import generated_users
from tests.storage.test_nodes import _sql, raw_notices
from tests.storage.test_rooms_contacts import users

TIMEOUT = 20
HOUR = 3_600_000
MEETING = CustomStatus(emoji="📅", text="In a meeting")


async def test_set_profile_keeps_what_it_is_not_given(storage: Storage) -> None:
    """A name alone keeps the status and the other way round; '' and NO_CUSTOM_STATUS
    clear; the same again changes nothing (changed False); the token's check reads the
    profile with the user."""
    with trio.fail_after(TIMEOUT):
        (ann,) = await users(storage, "Ann")
        later = CustomStatus(emoji="🌴", text="On holiday", until=now_ms() + HOUR)
        assert await storage.set_profile(ann.id, display_name="Ann Lee") == (
            Profile(name="Ann", display_name="Ann Lee"), True)
        assert await storage.set_profile(ann.id, custom_status=later) == (
            Profile(name="Ann", display_name="Ann Lee", custom_status=later), True)
        assert await storage.set_profile(ann.id, display_name="Ann Lee") == (
            Profile(name="Ann", display_name="Ann Lee", custom_status=later), False)
        user = await storage.check_token(ann.id, "jti", now_ms())
        assert user is not None and user.profile == Profile(
            name="Ann", display_name="Ann Lee", custom_status=later)
        assert await storage.set_profile(ann.id, display_name="",
                                         custom_status=NO_CUSTOM_STATUS) == (
            Profile(name="Ann"), True)
        assert await storage.set_profile(ann.id, custom_status=NO_CUSTOM_STATUS) == (
            Profile(name="Ann"), False)


async def test_a_status_past_its_time_is_none(storage: Storage, database_dsn: str) -> None:
    """Once its until has passed, a status reads as none in profiles, contact_profiles,
    member_page and the user's row, with nothing run at that time; the next write clears
    it (and counts as no change to what others see)."""
    with trio.fail_after(TIMEOUT):
        ann, bob = await users(storage, "ann", "bob")
        await storage.add_contact(bob.id, "ann")
        await storage.join_room(ann.id, "lobby")
        await storage.join_room(bob.id, "lobby")
        await storage.set_profile(ann.id, display_name="Ann",
                                  custom_status=CustomStatus(text="busy", until=now_ms() + HOUR))
        await _sql(database_dsn, "UPDATE users SET status_until = now() - interval '1 second'"
                                 " WHERE name = 'ann'")
        shown = Profile(name="ann", display_name="Ann")
        assert await storage.profiles(["ann"]) == [shown]
        assert await storage.contact_profiles(bob.id, limit=10) == [shown]
        [member, _] = (await storage.member_page(bob.id, "lobby")).members
        assert (member.name, member.display_name, member.custom_status) == ("ann", "Ann", None)
        user = await storage.check_token(ann.id, "jti", now_ms())
        assert user is not None and user.custom_status is None
        assert await storage.set_profile(ann.id, display_name="Ann") == (shown, False)
        [[status_text]] = await _rows(database_dsn, "SELECT status_text FROM users "
                                                    "WHERE name = 'ann'")
        assert status_text is None


async def _rows(dsn: str, query: str) -> list[list[Any]]:
    async with open_bridge(name="sql") as bridge:
        conn: Any = await bridge.run(asyncpg.connect, dsn)
        try:
            return [list(row) for row in await bridge.run(conn.fetch, query)]
        finally:
            await bridge.run(conn.close)


async def test_profiles_by_name(storage: Storage) -> None:
    """In the order asked, any case, each once, nobody's names left out; a deactivated
    account keeps its profile, marked."""
    with trio.fail_after(TIMEOUT):
        ann, _bob = await users(storage, "Ann", "bob")
        await storage.set_profile(ann.id, display_name="Ann Lee", custom_status=MEETING)
        await storage.set_deactivated("ann", True)
        assert await storage.profiles(["BOB", "nobody", "ann", "Bob"]) == [
            Profile(name="bob"),
            Profile(name="Ann", display_name="Ann Lee", custom_status=MEETING,
                    deactivated=True)]
        assert await storage.profiles([]) == []


async def test_contact_profiles_page_as_contact_page(storage: Storage) -> None:
    """contact_profiles pages as contact_page does (by name ignoring case, after a name),
    with each contact's profile; add_contact_profile answers the contact's."""
    with trio.fail_after(TIMEOUT):
        ann, bob, _cy, _dee = await users(storage, "ann", "Bob", "cy", "dee")
        await storage.set_profile(bob.id, display_name="Bob Bell")
        assert await storage.add_contact_profile(ann.id, "bob") == Profile(
            name="Bob", display_name="Bob Bell")
        for name in ("dee", "cy"):
            await storage.add_contact(ann.id, name)
        page = await storage.contact_profiles(ann.id, limit=2)
        assert page == [Profile(name="Bob", display_name="Bob Bell"), Profile(name="cy")]
        assert [p.name for p in page] == await storage.contact_page(ann.id, limit=2)
        assert await storage.contact_profiles(ann.id, after="CY", limit=2) == [
            Profile(name="dee")]


async def test_another_node_is_told_of_a_change_only(storage: Storage,
                                                     database_dsn: str) -> None:
    """A change's notice carries the profile as stored, which parses back to it; a write
    that stores the same values sends none."""
    with trio.fail_after(TIMEOUT):
        (ann,) = await users(storage, "ann")
        ends = now_ms() + HOUR
        async with raw_notices(database_dsn, PROFILES_CHANNEL) as (payloads, _):
            await storage.set_profile(ann.id, display_name="Ann Lee")
            await storage.set_profile(ann.id, display_name="Ann Lee")
            await storage.set_profile(ann.id, custom_status=CustomStatus(
                emoji="🌴", text="Ferien \"bis\" Montag", until=ends))
            await until(lambda: len(payloads) == 2)
            await storage.set_profile(ann.id, display_name="")
            await until(lambda: len(payloads) == 3)
        notices = [n for p in payloads for n in _parse_notice(PROFILES_CHANNEL, p)]
        status = CustomStatus(emoji="🌴", text="Ferien \"bis\" Montag", until=ends)
        assert [n.profile for n in notices if isinstance(n, ProfileNotice)] == [
            Profile(name="ann", display_name="Ann Lee"),
            Profile(name="ann", display_name="Ann Lee", custom_status=status),
            Profile(name="ann", custom_status=status)]
        assert {n.node for n in notices if isinstance(n, ProfileNotice)} == {storage.node}


@given(st.text(max_size=80))
def test_any_payload_parses_to_nothing_or_a_notice(junk: str) -> None:
    """Whatever arrives on the channel, the parser drops it or gives a notice; it never
    raises."""
    for notice in _parse_notice(PROFILES_CHANNEL, junk):
        assert isinstance(notice, ProfileNotice)
    for notice in _parse_notice(PROFILES_CHANNEL, f"node ann {junk}"):
        assert isinstance(notice, ProfileNotice)


async def test_a_page_of_contact_profiles_costs_its_size(storage: Storage,
                                                         database_dsn: str) -> None:
    """Of 3,000 contacts, a page of 31 with their profiles walks contacts_user_name_idx for
    its own rows and reads 31 users' rows by their primary key: the page's cost, not the
    contacts'."""
    with trio.fail_after(TIMEOUT):
        (ann,) = await users(storage, "ann")
        await generated_users(database_dsn, 3000, contacts_of=ann.id)
        walk = await plan(database_dsn, _SQL_CONTACT_PROFILES, ann.id, "u5", 31)
        by_table = {n["Relation Name"]: n for n in scans(walk)}
        assert by_table["contacts"]["Index Name"] == "contacts_user_name_idx", walk
        assert by_table["contacts"]["Actual Rows"] == 31, walk
        assert by_table["users"]["Index Name"] == "users_pkey", walk
        assert by_table["users"]["Actual Rows"] * by_table["users"]["Actual Loops"] == 31
        page = await storage.contact_profiles(ann.id, after="u5", limit=31)
        assert [p.name for p in page] == await storage.contact_page(ann.id, after="u5",
                                                                    limit=31)


async def test_profiles_by_name_cost_a_probe_each(storage: Storage, database_dsn: str) -> None:
    """Of 3,000 users, the profiles of 100 names are 100 probes of the unique index on the
    lower-case name, never a read of every user."""
    with trio.fail_after(TIMEOUT):
        await generated_users(database_dsn, 3000)
        names = [f"u{i}" for i in range(1, 101)]
        walk = await plan(database_dsn, _SQL_PROFILES, names)
        [users_walk] = scans(walk)
        assert users_walk["Index Name"] == "users_name_lower_key", walk
        assert users_walk["Actual Rows"] * users_walk["Actual Loops"] == 100, walk
        assert [p.name for p in await storage.profiles(names)] == names
