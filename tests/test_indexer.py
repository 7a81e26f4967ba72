"""The search indexer's rule for holding back while sends queue up (chatd/indexer.py), as a
pure function. Its work over the database: tests/storage/test_indexing.py."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chatd.indexer import HOLD_POLL, SATURATED_AFTER, SATURATED_GAP, hold_back


def test_a_batch_goes_at_once_unless_sends_queue_up() -> None:
    """Not saturated: never held. Saturated: held until a gap has passed since the last
    batch, then one goes."""
    assert not hold_back(0.0, 0.0)
    assert not hold_back(SATURATED_AFTER / 2, 0.0)
    assert hold_back(SATURATED_AFTER, 0.0)
    assert hold_back(10.0, SATURATED_GAP / 2)
    assert not hold_back(10.0, SATURATED_GAP)


@given(saturated=st.floats(0, 60), batch_takes=st.floats(0.001, 0.5))
def test_while_saturated_one_batch_a_gap(saturated: float, batch_takes: float) -> None:
    """The indexer's loop (look every HOLD_POLL, a batch when not held) over a saturation of
    ``saturated`` seconds, from its start: about one batch per SATURATED_GAP, never more,
    and batches go on (the newest messages stay searchable)."""
    now, last, batches = 0.0, -SATURATED_GAP, 0
    while now < saturated:
        if hold_back(busy_for=now + SATURATED_AFTER, since_batch=now - last):
            now += HOLD_POLL
            continue
        batches += 1
        now += batch_takes
        last = now
    assert batches <= saturated / SATURATED_GAP + 1
    assert batches >= saturated / (SATURATED_GAP + HOLD_POLL + batch_takes) - 1
