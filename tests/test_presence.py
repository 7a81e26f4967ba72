"""The presence tracker's pure logic: one announcement per user, not per connection."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chatd.presence import Announce, Offline, Online, PresenceState, apply


def test_first_open_and_last_close_are_announced() -> None:
    """Online on the first connection, offline on the last, silence in between."""
    state = PresenceState()
    assert apply(state, Online("ann", 1)) == [Announce("ann", "online")]
    assert apply(state, Online("ann", 2)) == []
    assert apply(state, Offline("ann", 1)) == []
    assert apply(state, Offline("ann", 2)) == [Announce("ann", "offline")]
    assert not state.is_online("ann")


def test_unknown_offline_is_ignored() -> None:
    """An offline for a connection never seen online announces nothing."""
    assert apply(PresenceState(), Offline("ann", 1)) == []


@given(st.lists(st.tuples(st.sampled_from(["ann", "bob"]), st.integers(0, 4), st.booleans())))
def test_announcements_alternate_and_match_connection_counts(
    steps: list[tuple[str, int, bool]],
) -> None:
    """For any sequence of opens and closes, each user's announcements alternate
    online/offline, and the user is online exactly while they have a connection."""
    state = PresenceState()
    open_conns: dict[str, set[int]] = {}
    last: dict[str, str] = {}
    for user, conn, opening in steps:
        conn_id = (user, conn)
        if opening:
            if conn in open_conns.get(user, set()):
                continue
            effects = apply(state, Online(user, conn_id))
            open_conns.setdefault(user, set()).add(conn)
        else:
            effects = apply(state, Offline(user, conn_id))
            open_conns.get(user, set()).discard(conn)
        for announce in effects:
            assert last.get(announce.user, "offline") != announce.status
            last[announce.user] = announce.status
        assert state.is_online(user) == bool(open_conns.get(user))
        assert last.get(user, "offline") == ("online" if open_conns.get(user) else "offline")
