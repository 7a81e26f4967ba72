"""chatd.pusher without a daemon: which pushes a batch of messages makes (pure). (Its HTTP
side, shared with outgoing webhooks, is tests/test_httpout.py's.)"""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from chatd.pusher import URGENCY, jobs_for
from chatd.storage import Message, PushSubscription, PushTarget

REASONS = ("dm", "mention", "message")


def message(room: str, seq: int) -> Message:
    return Message(room=room, seq=seq, msg_id=seq, sender="ann", text=f"{room} {seq}", ts=0,
                   nonce=str(seq))


targets = st.lists(st.builds(
    lambda room, seq, user, reason, sub: PushTarget(
        room=room, seq=seq, user=user, reason=reason,
        subscription=PushSubscription(endpoint=f"https://p.example/{user}/{sub}",
                                      p256dh="k", auth="a")),
    st.sampled_from(["team", "@ann:bob"]), st.integers(1, 3), st.sampled_from(["bob", "cid"]),
    st.sampled_from(REASONS), st.integers(1, 2)), max_size=20)


@given(targets, st.sets(st.sampled_from(["bob", "cid"])))
def test_one_push_per_subscription_with_the_most_urgent_reason(
        found: list[PushTarget], online: set[str]) -> None:
    """Each (message, user) gets its most urgent reason (dm, then mention, then message),
    sent once to each of their subscriptions; users online get nothing."""
    messages = [message(room, seq) for room in ("team", "@ann:bob") for seq in (1, 2, 3)]
    jobs = jobs_for(messages, found, online)
    got = {(json.loads(j.payload)["room"], json.loads(j.payload)["seq"], j.user,
            j.subscription.endpoint): (json.loads(j.payload)["kind"], j.urgency) for j in jobs}
    assert len(got) == len(jobs)
    expected: dict[tuple[str, int, str, str], str] = {}
    for t in found:
        if t.user in online:
            continue
        reasons = [x.reason for x in found if (x.room, x.seq, x.user) == (t.room, t.seq, t.user)]
        best = min(reasons, key=REASONS.index)
        expected[(t.room, t.seq, t.user, t.subscription.endpoint)] = best
    assert got == {key: (reason, URGENCY[reason]) for key, reason in expected.items()}


def test_targets_of_messages_not_in_the_batch_are_ignored() -> None:
    stray = PushTarget(room="team", seq=9, user="bob", reason="dm",
                       subscription=PushSubscription(endpoint="https://p.example/x",
                                                     p256dh="k", auth="a"))
    assert jobs_for([message("team", 1)], [stray]) == []


def test_a_user_paused_past_now_gets_nothing_and_a_pause_ended_stops_nothing() -> None:
    """A target whose pause (``paused_until``) is ahead of ``now`` makes no job; one whose
    pause ended at or before ``now``, or who never paused, makes its job as ever."""
    def target(user: str, paused_until: int | None) -> PushTarget:
        return PushTarget(room="team", seq=1, user=user, reason="mention",
                          paused_until=paused_until,
                          subscription=PushSubscription(endpoint=f"https://p.example/{user}",
                                                        p256dh="k", auth="a"))

    found = [target("paused", 1_001), target("ended", 1_000), target("never", None)]
    jobs = jobs_for([message("team", 1)], found, now=1_000)
    assert sorted(job.user for job in jobs) == ["ended", "never"]
