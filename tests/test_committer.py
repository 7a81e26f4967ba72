"""The group committer over the real database: one bad row never fails the others.

The rows here are made below the protocol's edge (which refuses text that cannot be stored),
as a bug or a future field could make them: U+0000 and lone surrogates, which PostgreSQL
refuses (the first on the server, the second in the driver's encoder).

Jobs are queued with ``submit_nowait`` and no checkpoint in between, so the committer, which
only runs at a checkpoint, finds them all queued and stores them as one batch: each round's
batch holds exactly the jobs queued in it.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chatd.committer
from chatd.committer import Committer, Outcome, SendJob
from chatd.errors import ChatError
from chatd.metrics import Metrics
from chatd.outbox import Delivery, Outbox
from chatd.protocol import frame
from chatd.rooms import Connect, PublishMany, RoomRegistry
from chatd.storage import (
    Appended,
    Message,
    NewChange,
    NewEntry,
    NewMessage,
    Storage,
    StorageUnavailable,
    User,
    open_storage,
)
from chatd.views import message_event
from tests.helpers import fetchval_apart, make_config, rooms_locked, until

TIMEOUT = 30
BAD_TEXTS = ["a\0b", "\0", "a\ud800b"]


@asynccontextmanager
async def running_committer(
        storage: Storage, registry: RoomRegistry | None = None, *, metrics: Metrics | None = None,
        on_committed: Callable[[Sequence[Message]], None] | None = None,
) -> AsyncIterator[Committer]:
    async with trio.open_nursery() as nursery:
        registry = registry or RoomRegistry()
        await nursery.start(registry.run)
        committer = Committer(storage, registry, metrics or Metrics(), on_committed=on_committed)
        await nursery.start(committer.run)
        yield committer
        nursery.cancel_scope.cancel()


def count_appends(storage: Storage) -> list[int]:
    """The size of each batch ``storage`` is asked to append from now on, in call order."""
    calls: list[int] = []
    append = storage.append_messages

    async def counted(batch: Any) -> Any:
        calls.append(len(batch))
        return await append(batch)

    storage.append_messages = counted  # type: ignore[method-assign]
    return calls


class Watched(RoomRegistry):
    """A real registry that shows ``seen`` each command as it is applied, queued or applied
    at once (``apply_now``): in the order applied, and in the task that applies it."""

    def __init__(self, seen: Callable[[Any], None]) -> None:
        super().__init__()
        self._seen = seen

    def _apply(self, command: Any) -> None:
        self._seen(command)
        super()._apply(command)


class Answers:
    """The outcome of each job queued through it, in the order they were queued."""

    def __init__(self) -> None:
        self.outcomes: list[Outcome | None] = []

    def job(self, message: NewEntry) -> SendJob:
        index = len(self.outcomes)
        self.outcomes.append(None)

        def done(outcome: Outcome) -> None:
            assert self.outcomes[index] is None, "answered twice"
            self.outcomes[index] = outcome

        return SendJob(message, done)


async def members(storage: Storage, room: str, *names: str) -> list[User]:
    users = [await storage.create_user(name, "hash") for name in names]
    for user in users:
        await storage.join_room(user.id, room)
    return users


def codes_of(outcomes: list[Outcome | None]) -> list[str]:
    return ["ok" if isinstance(o, Appended) else o.code if isinstance(o, ChatError) else "none"
            for o in outcomes]


@pytest.mark.parametrize("bad_text", BAD_TEXTS, ids=repr)
@pytest.mark.parametrize("layout", ["x", "gx", "xg", "ggxgg", "xgggggggx", "gxgxgxg", "xxx",
                                    "g" * 20 + "x" + "g" * 43],
                         ids=lambda layout: layout if len(layout) < 12 else f"{len(layout)}rows")
async def test_bad_rows_are_refused_alone_and_the_rest_commit(
        storage: Storage, bad_text: str, layout: str) -> None:
    """Wherever bad rows (x) sit in a batch, they alone are bad_request; every good row (g)
    is stored, in batch order (seqs follow it)."""
    with trio.fail_after(TIMEOUT):
        mallory, bob = await members(storage, "lobby", "mallory", "bob")
        answers = Answers()
        async with running_committer(storage) as committer:
            for i, kind in enumerate(layout):
                message = (NewMessage(user_id=mallory.id, room="lobby", text=bad_text,
                                      nonce=f"bad-{i}") if kind == "x" else
                           NewMessage(user_id=bob.id, room="lobby", text=f"m{i}",
                                      nonce=f"good-{i}"))
                committer.submit_nowait(answers.job(message))
            await committer.flush()
        assert codes_of(answers.outcomes) == [
            "bad_request" if kind == "x" else "ok" for kind in layout]
        stored = [o.message for o in answers.outcomes if isinstance(o, Appended)]
        assert [m.seq for m in stored] == list(range(1, len(stored) + 1))
        assert [m.text for m in stored] == [f"m{i}" for i, k in enumerate(layout) if k == "g"]
        page = await storage.history(bob.id, "lobby", limit=100)
        assert [m.text for m in page.messages] == [m.text for m in stored]


async def test_a_poisoned_resend_never_fails_another_users_sends(storage: Storage) -> None:
    """Mallory resends one unstorable row with the same nonce, as a client told to resend
    would, and it lands in every batch, at a different place each time; all 120 of Bob's
    concurrent sends succeed, and every resend is bad_request. (Before the committer isolated
    rows, each of those batches failed whole: Bob's sends were answered unavailable.)"""
    with trio.fail_after(TIMEOUT):
        mallory, bob = await members(storage, "lobby", "mallory", "bob")
        bobs, mallorys = Answers(), Answers()
        poison = NewMessage(user_id=mallory.id, room="lobby", text="a\0b", nonce="same")
        async with running_committer(storage) as committer:
            for round_ in range(20):
                for i in range(6):
                    if i == round_ % 6:
                        committer.submit_nowait(mallorys.job(poison))
                    committer.submit_nowait(bobs.job(NewMessage(
                        user_id=bob.id, room="lobby", text=f"m{round_}.{i}",
                        nonce=f"{round_}.{i}")))
                await committer.flush()
        assert codes_of(bobs.outcomes) == ["ok"] * 120
        assert codes_of(mallorys.outcomes) == ["bad_request"] * 20
        page = await storage.history(bob.id, "lobby", limit=200)
        assert len(page.messages) == 120
        assert [m.seq for m in page.messages] == list(range(1, 121))


async def test_a_duplicate_in_a_bad_batch_is_still_a_duplicate(storage: Storage) -> None:
    """Isolating a bad row keeps idempotency: a resend of a stored message in the same
    batch as a bad row is answered duplicate, with the first seq."""
    with trio.fail_after(TIMEOUT):
        mallory, bob = await members(storage, "lobby", "mallory", "bob")
        answers = Answers()
        first = NewMessage(user_id=bob.id, room="lobby", text="hello", nonce="n1")
        async with running_committer(storage) as committer:
            committer.submit_nowait(answers.job(first))
            await committer.flush()
            committer.submit_nowait(answers.job(first))
            committer.submit_nowait(answers.job(NewMessage(
                user_id=mallory.id, room="lobby", text="\0", nonce="x")))
            committer.submit_nowait(answers.job(NewMessage(
                user_id=bob.id, room="lobby", text="again", nonce="n2")))
            await committer.flush()
        assert codes_of(answers.outcomes) == ["ok", "ok", "bad_request", "ok"]
        original, resent, _, second = answers.outcomes
        assert isinstance(original, Appended) and isinstance(resent, Appended)
        assert isinstance(second, Appended)
        assert resent.duplicate and resent.message.seq == original.message.seq == 1
        assert second.message.seq == 2


async def test_a_lost_database_is_unavailable_for_the_whole_batch(storage: Storage) -> None:
    """A failure that is not about the rows (here: storage closed, the database gone) is
    still unavailable for every row, bad or good, with no attempt to split the batch."""
    with trio.fail_after(TIMEOUT):
        mallory, bob = await members(storage, "lobby", "mallory", "bob")
        answers = Answers()
        await storage.aclose()
        async with running_committer(storage) as committer:
            committer.submit_nowait(answers.job(NewMessage(
                user_id=bob.id, room="lobby", text="hi", nonce="g")))
            committer.submit_nowait(answers.job(NewMessage(
                user_id=mallory.id, room="lobby", text="\0", nonce="x")))
            await committer.flush()
        assert codes_of(answers.outcomes) == ["unavailable", "unavailable"]


async def test_busy_for_tells_how_long_sends_have_waited_behind_commits(
        storage: Storage, database_dsn: str) -> None:
    """``busy_for`` is 0 while the committer waits for sends; it grows from the moment it
    takes one for as long as commits keep it from waiting again (here a commit held up by a
    lock on the room, another send queued behind it), and is 0 again once it caught up."""
    (ann,) = await members(storage, "lobby", "ann")
    answers = Answers()
    async with running_committer(storage) as committer, rooms_locked(database_dsn) as unlock:
        with trio.fail_after(TIMEOUT):
            assert committer.busy_for() == 0
            committer.submit_nowait(answers.job(NewMessage(
                user_id=ann.id, room="lobby", text="one", nonce="n1")))
            while not committer.busy_for():  # noqa: ASYNC110 (it took the send, is stuck)
                await trio.sleep(0.01)
            committer.submit_nowait(answers.job(NewMessage(
                user_id=ann.id, room="lobby", text="two", nonce="n2")))
            first = committer.busy_for()
            while committer.busy_for() <= first:  # noqa: ASYNC110 (never back to 0)
                await trio.sleep(0.01)
            assert answers.outcomes == [None, None]
            unlock()
            while answers.outcomes[-1] is None or committer.busy_for():  # noqa: ASYNC110
                await trio.sleep(0.01)
    assert codes_of(answers.outcomes) == ["ok", "ok"]


@pytest.fixture
def slow_jump_clock() -> trio.testing.MockClock:
    """Trio's clock, standing still unless every task has waited 5 s of real time: then it
    jumps to the next deadline. A commit that waits on a timer (for company, say) moves it;
    one that waits only for the database does not."""
    return trio.testing.MockClock(autojump_threshold=5.0)


async def test_a_lone_send_commits_at_once_and_a_burst_commits_as_one_batch(
        storage: Storage, slow_jump_clock: trio.testing.MockClock) -> None:
    """The batching rule: the committer takes what is queued when it runs and never waits
    for more. A lone send is stored and answered without any timer running (trio's clock has
    not moved); fifty sends queued together right after are stored in one call (the first
    is not sent off alone)."""
    (ann,) = await members(storage, "lobby", "ann")
    calls = count_appends(storage)
    answers = Answers()
    async with running_committer(storage) as committer:
        started = trio.current_time()
        answered = trio.Event()
        job = answers.job(NewMessage(user_id=ann.id, room="lobby", text="alone", nonce="lone"))

        def done(outcome: Outcome) -> None:
            job.on_done(outcome)
            answered.set()

        committer.submit_nowait(SendJob(job.message, done))
        await answered.wait()  # idle meanwhile: a timer would make the clock jump to it
        assert trio.current_time() == started
        assert calls == [1]
        await trio.testing.wait_all_tasks_blocked()  # the commit's aftermath is over: idle
        for i in range(50):
            committer.submit_nowait(answers.job(NewMessage(
                user_id=ann.id, room="lobby", text=f"burst {i}", nonce=f"b{i}")))
        await committer.flush()
    assert calls == [1, 50]
    assert codes_of(answers.outcomes) == ["ok"] * 51


async def test_a_send_after_an_idle_spell_goes_straight_to_a_flight(
        storage: Storage, mock_clock: trio.testing.MockClock) -> None:
    """A send that comes after the committer has been idle for longer than its last commit
    took is handed to a flight without a turn of the committer's loop; one that comes
    sooner (as the senders a commit just answered send again) goes through the loop, which
    batches it with whatever came with it. (Trio's clock moves only when the test jumps it.)"""
    (ann,) = await members(storage, "lobby", "ann")
    answers = Answers()
    async with running_committer(storage) as committer:
        turns = 0
        take = committer._take

        def counted(held: list[SendJob]) -> Any:
            nonlocal turns
            turns += 1
            return take(held)

        committer._take = counted  # type: ignore[method-assign]

        async def send(nonce: str) -> None:
            answered = trio.Event()
            job = answers.job(NewMessage(user_id=ann.id, room="lobby", text=nonce, nonce=nonce))

            def done(outcome: Outcome) -> None:
                job.on_done(outcome)
                answered.set()

            committer.submit_nowait(SendJob(job.message, done))
            await answered.wait()
            await trio.testing.wait_all_tasks_blocked()

        await send("first")  # idle since ever: straight to a flight
        assert turns == 0
        await send("soon")  # no time since the first landed
        assert turns > 0
        turns = 0
        mock_clock.jump(1.0)  # idle for longer than that commit took
        await send("later")
        assert turns == 0
    assert codes_of(answers.outcomes) == ["ok"] * 3


async def test_sends_that_come_while_a_commit_is_in_flight_are_one_batch(
        storage: Storage, database_dsn: str) -> None:
    """The sends that come together while a commit waits (here on a lock of its room) are
    stored together by the other flight, not the first of them alone."""
    ann, bea = await members(storage, "lobby", "ann", "bea")
    await storage.join_room(ann.id, "other")
    calls = count_appends(storage)
    answers = Answers()
    async with running_committer(storage) as committer, \
            rooms_locked(database_dsn, "lobby") as unlock:
        with trio.fail_after(TIMEOUT):
            committer.submit_nowait(answers.job(NewMessage(
                user_id=bea.id, room="lobby", text="stuck", nonce="s")))
            await trio.testing.wait_all_tasks_blocked()
            assert calls == [1]  # in flight, waiting for the lock
            for i in range(5):
                committer.submit_nowait(answers.job(NewMessage(
                    user_id=ann.id, room="other", text=f"together {i}", nonce=f"t{i}")))
            while any(o is None for o in answers.outcomes[1:]):  # noqa: ASYNC110
                await trio.sleep(0.01)
            assert calls == [1, 5]
            unlock()
            await committer.flush()
    assert codes_of(answers.outcomes) == ["ok"] * 6


async def test_the_senders_are_answered_before_their_rooms_are_told(storage: Storage) -> None:
    """A batch's acknowledgements are queued before its fan-out is handed to the registry,
    as the peers do it: a sender's reply does not wait behind every member's delivery."""
    order: list[str] = []

    ann, _ = await members(storage, "lobby", "ann", "bob")
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            registry = Watched(lambda command: order.append(type(command).__name__))
            await nursery.start(registry.run)
            committer = Committer(storage, registry, Metrics())
            await nursery.start(committer.run)
            answered = trio.Event()

            def done(outcome: Outcome) -> None:
                assert isinstance(outcome, Appended)
                order.append("answered")
                answered.set()

            committer.submit_nowait(SendJob(NewMessage(user_id=ann.id, room="lobby",
                                                       text="hi", nonce="n1"), done))
            await answered.wait()
            await committer.flush()
            nursery.cancel_scope.cancel()
    assert order == ["answered", "PublishMany"]


async def test_an_idle_registry_gets_a_lone_commit_without_its_task(
        storage: Storage, mock_clock: trio.testing.MockClock) -> None:
    """At everyday load (a lone send, the committer idle) a commit's fan-out is applied by
    the commit's own task, not handed to the registry's (a task switch per message saved);
    a burst's is left to the registry's task, so that the flight is free for the next
    commit. The member gets every entry either way, in order. (Trio's clock stands still:
    the burst comes sooner than the commit took, however slow the machine.)"""
    applied_by: list[str] = []

    def seen(command: Any) -> None:
        if isinstance(command, PublishMany):
            applied_by.append(trio.lowlevel.current_task().name)

    ann, _ = await members(storage, "lobby", "ann", "bob")
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            registry = Watched(seen)
            await nursery.start(registry.run)
            outbox = Outbox(capacity=10)
            await registry.connect(Connect("bob-1", "bob", outbox, lambda: None,
                                           frozenset({"lobby"}), lambda: None))
            committer = Committer(storage, registry, Metrics())
            await nursery.start(committer.run)
            answers = Answers()
            committer.submit_nowait(answers.job(NewMessage(
                user_id=ann.id, room="lobby", text="hi", nonce="n1")))
            delivered = await outbox.take()
            await committer.flush()
            assert len(applied_by) == 1
            assert "RoomRegistry.run" not in applied_by[0], applied_by
            # Right after a commit (sooner than it took): through the loop, one batch.
            for i in range(5):
                committer.submit_nowait(answers.job(NewMessage(
                    user_id=ann.id, room="lobby", text=f"burst {i}", nonce=f"b{i}")))
            while len(delivered) < 6:
                delivered += await outbox.take()
            await committer.flush()
            nursery.cancel_scope.cancel()
    assert [d.seq for d in delivered] == [1, 2, 3, 4, 5, 6]  # type: ignore[union-attr]
    assert len(applied_by) == 2
    assert "RoomRegistry.run" in applied_by[1], applied_by


async def test_a_fan_out_in_the_flight_counts_as_idle_time(
        storage: Storage, mock_clock: trio.testing.MockClock) -> None:
    """The hand-over after an idle spell measures the commit up to its senders' answers,
    and the idle spell from then: a fan-out that the flight does itself afterwards (made to
    take 5 s of trio's clock here) counts as idle, as it does when the registry's task fans
    out, and does not make the next lone send go through the loop."""
    applied_by: list[str] = []

    def seen(command: Any) -> None:
        if isinstance(command, PublishMany):
            applied_by.append(trio.lowlevel.current_task().name)
            mock_clock.jump(5)

    ann, _ = await members(storage, "lobby", "ann", "bob")
    async with trio.open_nursery() as nursery:
        registry = Watched(seen)
        await nursery.start(registry.run)
        await registry.connect(Connect("bob-1", "bob", Outbox(capacity=10), lambda: None,
                                       frozenset({"lobby"}), lambda: None))
        committer = Committer(storage, registry, Metrics())
        await nursery.start(committer.run)
        answers = Answers()
        for nonce in ("n1", "n2"):
            committer.submit_nowait(answers.job(NewMessage(
                user_id=ann.id, room="lobby", text=nonce, nonce=nonce)))
            await committer.flush()
            mock_clock.jump(1)  # 1 s after the fan-out, 6 s after the answer
        nursery.cancel_scope.cancel()
    assert codes_of(answers.outcomes) == ["ok", "ok"]
    assert ["RoomRegistry.run" in name for name in applied_by] == [False, False], applied_by


async def test_a_send_to_another_room_does_not_wait_for_a_commit_in_flight(
        storage: Storage, database_dsn: str) -> None:
    """Two batches that share no room commit side by side: a send to ``b`` is stored and
    answered while a send to ``a`` is stuck in its commit (another transaction holds the
    room); the one sent to ``a`` after it waits for the first, and both keep their order."""
    ann, _ = await members(storage, "a", "ann", "bob")
    await storage.join_room(ann.id, "b")
    answers = Answers()
    async with running_committer(storage) as committer, \
            rooms_locked(database_dsn, "a") as unlock:
        with trio.fail_after(TIMEOUT):
            committer.submit_nowait(answers.job(NewMessage(
                user_id=ann.id, room="a", text="a1", nonce="a1")))
            while not committer.busy_for():  # noqa: ASYNC110 (it took the send, is stuck)
                await trio.sleep(0.01)
            committer.submit_nowait(answers.job(NewMessage(
                user_id=ann.id, room="a", text="a2", nonce="a2")))
            committer.submit_nowait(answers.job(NewMessage(
                user_id=ann.id, room="b", text="b1", nonce="b1")))
            while answers.outcomes[2] is None:  # noqa: ASYNC110 (the database's pace)
                await trio.sleep(0.01)
            assert answers.outcomes[:2] == [None, None]
            unlock()
            await committer.flush()
    assert codes_of(answers.outcomes) == ["ok", "ok", "ok"]
    seqs = [o.message.seq for o in answers.outcomes if isinstance(o, Appended)]
    assert seqs == [1, 2, 1]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3), st.booleans()),
                       min_size=1, max_size=40))
async def test_commits_in_flight_keep_each_rooms_order(
        tmp_path: Path, database_dsn: str, script: list[tuple[int, int, bool]]) -> None:
    """Whatever the interleaving of sends (user, room) and checkpoints, with two commits in
    flight: every send is answered once; each user's sends to a room get increasing seqs in
    the order they were sent; each room is published in seq order, each seq once; and a
    flush returns only once everything queued before it is answered."""
    run = uuid.uuid4().hex[:8]  # the examples share one database
    published: dict[str, list[int]] = {}

    def seen(command: Any) -> None:
        if isinstance(command, PublishMany):
            for delivery in command.deliveries:
                published.setdefault(delivery.room, []).append(delivery.seq)

    answers = Answers()
    sent: list[tuple[int, int]] = []
    with trio.fail_after(TIMEOUT):
        async with open_storage(make_config(tmp_path, database_dsn)) as storage, \
                trio.open_nursery() as nursery:
            users = [await storage.create_user(f"u{i}{run}", "hash") for i in range(3)]
            rooms = [f"r{i}{run}" for i in range(4)]
            for member in users:
                for name in rooms:
                    await storage.join_room(member.id, name)
            registry = Watched(seen)
            await nursery.start(registry.run)
            committer = Committer(storage, registry, Metrics(), max_batch=3)
            await nursery.start(committer.run)
            for n, (u, r, pause) in enumerate(script):
                committer.submit_nowait(answers.job(NewMessage(
                    user_id=users[u].id, room=rooms[r], text=f"m{n}", nonce=f"n{n}")))
                sent.append((u, r))
                if pause:
                    await trio.lowlevel.checkpoint()  # the committer may start a batch
            await committer.flush()
            assert all(o is not None for o in answers.outcomes)
            nursery.cancel_scope.cancel()
    assert codes_of(answers.outcomes) == ["ok"] * len(script)
    for key in set(sent):
        seqs = [o.message.seq for k, o in zip(sent, answers.outcomes, strict=True)
                if k == key and isinstance(o, Appended)]
        assert seqs == sorted(seqs)
    for index, name in enumerate(rooms):
        count = sum(1 for _, r in sent if r == index)
        assert published.get(name, []) == list(range(1, count + 1))


async def test_what_is_held_back_is_bounded_and_the_queue_pushes_back(
        storage: Storage, database_dsn: str) -> None:
    """Behind a commit stuck in flight, the committer takes out of its queue at most what
    the flights would carry (``max_batch`` times ``max_flights``); past that the queue fills and
    refuses, which makes the connections stop reading."""
    (ann,) = await members(storage, "lobby", "ann")
    answers = Answers()
    async with trio.open_nursery() as nursery, rooms_locked(database_dsn) as unlock:
        registry = RoomRegistry()
        await nursery.start(registry.run)
        committer = Committer(storage, registry, Metrics(), max_batch=2, max_flights=2,
                              queue_size=4)
        await nursery.start(committer.run)
        with trio.fail_after(TIMEOUT):
            taken = 0
            for n in range(50):
                try:
                    committer.submit_nowait(answers.job(NewMessage(
                        user_id=ann.id, room="lobby", text=f"m{n}", nonce=f"n{n}")))
                except trio.WouldBlock:
                    break
                taken += 1
                await trio.testing.wait_all_tasks_blocked()
            # 1 in flight (stuck on the lock), 2 times 2 held, 4 queued.
            assert taken == 1 + 4 + 4
            unlock()
            await committer.flush()
        nursery.cancel_scope.cancel()
    assert codes_of(answers.outcomes) == ["ok"] * taken + ["none"]  # the one refused


def lose_replies(storage: Storage) -> list[bool]:
    """Make the appends of ``storage`` commit and then fail as if the database connection
    was lost before the reply (the sender is answered ``unavailable``), as long as the
    returned list holds True."""
    append = storage.append_messages
    lose = [True]

    async def losing(batch: Any) -> Any:
        outcomes = await append(batch)
        if lose[0]:
            raise StorageUnavailable("the connection was lost before the reply")
        return outcomes

    storage.append_messages = losing  # type: ignore[method-assign]
    return lose


def gate_look_ups(storage: Storage) -> trio.Event:
    """Hold every look-up by nonce (the committer's settling) until the returned event is
    set."""
    look_up = storage.messages_by_nonce
    opened = trio.Event()

    async def gated(keys: Any) -> Any:
        await opened.wait()
        return await look_up(keys)

    storage.messages_by_nonce = gated  # type: ignore[method-assign]
    return opened


def in_doubt(metrics: Metrics, outcome: str) -> float:
    """How many messages in doubt were settled as ``outcome`` (chatd_messages_in_doubt)."""
    value = metrics.registry.get_sample_value("chatd_messages_in_doubt_total",
                                              {"outcome": outcome})
    return value or 0.0


def published_by(commands: list[Any]) -> Callable[[Any], None]:
    """A Watched registry's hook that keeps its PublishMany commands' deliveries."""
    return lambda command: commands.extend(command.deliveries) \
        if isinstance(command, PublishMany) else None


@asynccontextmanager
async def bob_in_the_lobby(storage: Storage, metrics: Metrics
                           ) -> AsyncIterator[tuple[Committer, Outbox, list[Delivery],
                                                    list[list[Message]]]]:
    """A running committer whose registry has bob connected to "lobby" here: the committer,
    bob's outbox, every delivery the registry published, and what was handed on."""
    delivered: list[Delivery] = []
    handed: list[list[Message]] = []
    registry = Watched(published_by(delivered))
    async with running_committer(storage, registry, metrics=metrics,
                                 on_committed=lambda m: handed.append(list(m))) as committer:
        outbox = Outbox(capacity=10)
        await registry.connect(Connect("bob-1", "bob", outbox, lambda: None,
                                       frozenset({"lobby"}), lambda: None))
        yield committer, outbox, delivered, handed


async def test_a_commit_whose_reply_was_lost_is_published_and_handed_on(
        storage: Storage) -> None:
    """The database stored a send, but its reply was lost with the connection: the sender is
    answered unavailable, and nobody resends it. It is settled all the same: found stored,
    published to this node's registry (a member connected here gets it, as a read gives it),
    and handed to ``on_committed`` once. (Before, neither ever happened: this node skips its
    own commits' notices.)"""
    ann, _ = await members(storage, "lobby", "ann", "bob")
    lose_replies(storage)
    metrics = Metrics()
    with trio.fail_after(TIMEOUT):
        async with bob_in_the_lobby(storage, metrics) as (committer, outbox, delivered, handed):
            answers = Answers()
            committer.submit_nowait(answers.job(NewMessage(
                user_id=ann.id, room="lobby", text="hi", nonce="n1")))
            await committer.flush()
            assert codes_of(answers.outcomes) == ["unavailable"]
            got = await outbox.take()
            await until(lambda: bool(handed))
            await trio.testing.wait_all_tasks_blocked()
    [stored] = await storage.messages_range("lobby", after=0, upto=1)
    assert stored.text == "hi" and stored.sender == "ann"
    assert got == [Delivery("lobby", 1, frame(message_event(stored)))]
    assert delivered == got
    assert handed == [[stored]]
    assert (in_doubt(metrics, "stored"), in_doubt(metrics, "not_stored")) == (1, 0)


async def test_a_commit_lost_before_it_committed_publishes_nothing(
        storage: Storage, database_dsn: str) -> None:
    """The connection dies before the commit (its backend is terminated while it waits for
    the room's lock): the sender is answered unavailable, the message is settled as not
    stored, and nothing is published nor handed on."""
    (ann,) = await members(storage, "lobby", "ann")
    metrics = Metrics()
    handed: list[list[Message]] = []
    delivered: list[Delivery] = []
    with trio.fail_after(TIMEOUT):
        async with running_committer(storage, Watched(published_by(delivered)), metrics=metrics,
                                     on_committed=lambda m: handed.append(list(m))
                                     ) as committer, \
                rooms_locked(database_dsn, "lobby") as unlock:
            answers = Answers()
            committer.submit_nowait(answers.job(NewMessage(
                user_id=ann.id, room="lobby", text="hi", nonce="n1")))
            # Once its commit waits for the lock, its backend is terminated.
            await _until_async(lambda: fetchval_apart(database_dsn, _TERMINATE_LOCK_WAITERS))
            await until(lambda: in_doubt(metrics, "not_stored") == 1)
            unlock()
            await committer.flush()
            await trio.testing.wait_all_tasks_blocked()
    assert codes_of(answers.outcomes) == ["unavailable"]
    assert await storage.messages_by_nonce([(ann.id, "n1")]) == [None]
    assert delivered == [] and handed == []
    assert in_doubt(metrics, "stored") == 0


async def test_a_resend_before_or_after_settling_is_handed_on_once(storage: Storage) -> None:
    """A send whose reply was lost, resent before it is settled (the database is slow to
    answer the look-up): the resend is a duplicate, published again at once but not handed
    on; settling hands the message on, once. A resend after that is a duplicate again: not
    handed on. The message is published each time (a connection that has it drops it)."""
    ann, _ = await members(storage, "lobby", "ann", "bob")
    lose = lose_replies(storage)
    opened = gate_look_ups(storage)
    metrics = Metrics()
    handed: list[list[Message]] = []
    delivered: list[Delivery] = []
    with trio.fail_after(TIMEOUT):
        async with running_committer(storage, Watched(published_by(delivered)), metrics=metrics,
                                     on_committed=lambda m: handed.append(list(m))
                                     ) as committer:
            answers = Answers()
            send = NewMessage(user_id=ann.id, room="lobby", text="hi", nonce="n1")
            committer.submit_nowait(answers.job(send))
            await committer.flush()
            lose[0] = False
            committer.submit_nowait(answers.job(send))  # before settling
            await committer.flush()
            await until(lambda: len(delivered) == 1)
            await trio.testing.wait_all_tasks_blocked()
            assert handed == []
            opened.set()
            await until(lambda: bool(handed))
            committer.submit_nowait(answers.job(send))  # after settling
            await committer.flush()
            await until(lambda: len(delivered) == 3)
            await trio.testing.wait_all_tasks_blocked()
    assert codes_of(answers.outcomes) == ["unavailable", "ok", "ok"]
    assert all(isinstance(o, Appended) and o.duplicate for o in answers.outcomes[1:])
    [stored] = await storage.messages_range("lobby", after=0, upto=1)
    assert delivered == [Delivery("lobby", 1, frame(message_event(stored)))] * 3
    assert handed == [[stored]]
    assert in_doubt(metrics, "stored") == 1


async def test_a_resend_lost_again_is_settled_once(storage: Storage) -> None:
    """A send's reply is lost, and so is its resend's, before either is settled, and once
    more after: the message is handed on once, and published by its settling."""
    ann, _ = await members(storage, "lobby", "ann", "bob")
    lose_replies(storage)
    opened = gate_look_ups(storage)
    metrics = Metrics()
    handed: list[list[Message]] = []
    with trio.fail_after(TIMEOUT):
        async with running_committer(storage, metrics=metrics,
                                     on_committed=lambda m: handed.append(list(m))
                                     ) as committer:
            answers = Answers()
            send = NewMessage(user_id=ann.id, room="lobby", text="hi", nonce="n1")
            for _ in range(2):
                committer.submit_nowait(answers.job(send))
                await committer.flush()
            opened.set()
            await until(lambda: bool(handed))
            committer.submit_nowait(answers.job(send))
            await committer.flush()
            await until(lambda: not committer._doubtful)
            await trio.testing.wait_all_tasks_blocked()
    assert codes_of(answers.outcomes) == ["unavailable"] * 3
    assert len(handed) == 1 and [m.text for m in handed[0]] == ["hi"]
    assert in_doubt(metrics, "stored") == 1


async def test_what_is_in_doubt_is_merged_and_bounded(
        storage: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    """Failures in a row while the database does not answer the look-ups: a message in
    doubt twice is kept once, and past ``DOUBT_MAX`` the oldest are dropped (counted
    unsettled); the rest are settled, each handed on once, once the database answers."""
    monkeypatch.setattr(chatd.committer, "DOUBT_MAX", 2)
    ann, _ = await members(storage, "lobby", "ann", "bob")
    lose_replies(storage)
    look_up = storage.messages_by_nonce
    answering = [False]

    async def failing(keys: Any) -> Any:
        if not answering[0]:
            raise StorageUnavailable("the database does not answer")
        return await look_up(keys)

    storage.messages_by_nonce = failing  # type: ignore[method-assign]
    metrics = Metrics()
    handed: list[Message] = []
    with trio.fail_after(TIMEOUT):
        async with running_committer(storage, metrics=metrics,
                                     on_committed=handed.extend) as committer:
            answers = Answers()
            for nonce in ("n1", "n2", "n1", "n3"):  # n1 twice: kept once, the latest
                committer.submit_nowait(answers.job(NewMessage(
                    user_id=ann.id, room="lobby", text=nonce, nonce=nonce)))
                await committer.flush()
            assert in_doubt(metrics, "unsettled") == 1  # n2, by then the oldest
            assert list(committer._doubtful) == [(ann.id, "n1"), (ann.id, "n3")]
            answering[0] = True
            await until(lambda: len(handed) == 2)
            await trio.testing.wait_all_tasks_blocked()
    assert [(m.text, m.seq) for m in handed] == [("n1", 1), ("n3", 3)]
    assert in_doubt(metrics, "stored") == 2


async def test_settling_gives_up_on_a_database_that_does_not_answer(
        storage: Storage, autojump_clock: trio.testing.MockClock) -> None:
    """While the database does not answer the look-ups, settling tries again later and
    later (never in a busy loop), and gives up after ``SETTLE_FOR`` seconds (counted
    unsettled); nothing is handed on. (Trio's clock jumps to each retry.)"""
    (ann,) = await members(storage, "lobby", "ann")
    lose_replies(storage)
    tries: list[float] = []

    async def failing(keys: Any) -> Any:
        tries.append(trio.current_time())
        raise StorageUnavailable("the database does not answer")

    storage.messages_by_nonce = failing  # type: ignore[method-assign]
    metrics = Metrics()
    handed: list[Message] = []
    with trio.fail_after(2 * chatd.committer.SETTLE_FOR):
        async with running_committer(storage, metrics=metrics,
                                     on_committed=handed.extend) as committer:
            started = trio.current_time()
            committer.submit_nowait(Answers().job(NewMessage(
                user_id=ann.id, room="lobby", text="hi", nonce="n1")))
            await committer.flush()
            await until(lambda: in_doubt(metrics, "unsettled") == 1)
            assert trio.current_time() - started >= chatd.committer.SETTLE_FOR
            assert not committer._doubtful
    assert handed == []
    gaps = [later - earlier for earlier, later in itertools.pairwise(tries)]
    assert gaps == sorted(gaps) and gaps[-1] == chatd.committer.SETTLE_RETRY_MAX
    assert len(tries) < 50


async def _until_async(condition: Callable[[], Any]) -> None:
    """Return once ``await condition()`` holds, polled (bound it with ``fail_after``)."""
    while not await condition():  # noqa: ASYNC110 (the database's state: nothing signals it)
        await trio.sleep(0.01)


_TERMINATE_LOCK_WAITERS = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock'
"""


async def test_a_resend_of_a_message_told_already_is_published_once_more(
        storage: Storage) -> None:
    """The usual resend (the ack was lost with the client's connection, the message was
    published): published again, which a connection that has it drops. In the same batch as
    its first send, it is published once."""
    ann, _ = await members(storage, "lobby", "ann", "bob")
    published: list[tuple[str, int]] = []
    registry = Watched(lambda command: published.extend(
        (d.room, d.seq) for d in command.deliveries) if isinstance(command, PublishMany) else None)
    with trio.fail_after(TIMEOUT):
        async with running_committer(storage, registry) as committer:
            answers = Answers()
            send = NewMessage(user_id=ann.id, room="lobby", text="hi", nonce="n1")
            # (the first, the committer idle, goes to a flight alone; the two after it are
            # one batch)
            committer.submit_nowait(answers.job(NewMessage(
                user_id=ann.id, room="lobby", text="first", nonce="n0")))
            committer.submit_nowait(answers.job(send))
            committer.submit_nowait(answers.job(send))
            await committer.flush()
            await trio.testing.wait_all_tasks_blocked()
            assert published == [("lobby", 1), ("lobby", 2)]
            committer.submit_nowait(answers.job(send))
            await committer.flush()
            await trio.testing.wait_all_tasks_blocked()
    assert codes_of(answers.outcomes) == ["ok", "ok", "ok", "ok"]
    assert published == [("lobby", 1), ("lobby", 2), ("lobby", 2)]


async def test_a_change_whose_reply_was_lost_reaches_the_members_here(
        storage: Storage) -> None:
    """An edit is stored, but its reply is lost with the connection: the editor is answered
    unavailable, and a change has no nonce to be looked up by. Its room is settled instead:
    once the database answers, what the room holds past the last entry published here is
    read and published, so a member connected here gets the edit now, not with the room's
    next entry (in a quiet room, maybe hours later: before, that was the only way)."""
    ann, _ = await members(storage, "lobby", "ann", "bob")
    metrics = Metrics()
    with trio.fail_after(TIMEOUT):
        async with bob_in_the_lobby(storage, metrics) as (committer, outbox, delivered, handed):
            sent = await committer.commit(NewMessage(user_id=ann.id, room="lobby", text="hi",
                                                     nonce="n1"))
            [first] = await outbox.take()
            lose_replies(storage)
            answers = Answers()
            committer.submit_nowait(answers.job(NewChange(
                user_id=ann.id, room="lobby", msg_id=sent.message.msg_id, kind="edited",
                text="hi!")))
            await committer.flush()
            assert codes_of(answers.outcomes) == ["unavailable"]
            got = await outbox.take()
            await trio.testing.wait_all_tasks_blocked()
    [edit] = await storage.messages_range("lobby", after=1, upto=2)
    assert edit.kind == "edited" and edit.text == "hi!"
    assert first == Delivery("lobby", 1, frame(message_event(sent.message)))
    assert got == [Delivery("lobby", 2, frame(message_event(edit)))]
    assert [d.seq for d in delivered] == [1, 2]
    assert [[m.seq for m in batch] for batch in handed] == [[1]]  # the change is not handed on
    assert committer._rooms_in_doubt == {}


async def test_a_change_lost_before_it_committed_publishes_nothing(
        storage: Storage, database_dsn: str) -> None:
    """A change's connection dies before its commit: once settled, the room's read finds
    nothing past what was published here, and nothing is published again."""
    (ann,) = await members(storage, "lobby", "ann")
    delivered: list[Delivery] = []
    registry = Watched(published_by(delivered))
    looked_up = trio.Event()
    look_up = storage.messages_ranges

    async def watched(ranges: Any) -> Any:
        found = await look_up(ranges)
        looked_up.set()
        return found

    storage.messages_ranges = watched  # type: ignore[method-assign]
    with trio.fail_after(TIMEOUT):
        async with running_committer(storage, registry) as committer:
            outbox = Outbox(capacity=10)
            await registry.connect(Connect("ann-1", "ann", outbox, lambda: None,
                                           frozenset({"lobby"}), lambda: None))
            sent = await committer.commit(NewMessage(user_id=ann.id, room="lobby", text="hi",
                                                     nonce="n1"))
            async with rooms_locked(database_dsn, "lobby") as unlock:
                answers = Answers()
                committer.submit_nowait(answers.job(NewChange(
                    user_id=ann.id, room="lobby", msg_id=sent.message.msg_id, kind="edited",
                    text="hi!")))
                await _until_async(lambda: fetchval_apart(database_dsn, _TERMINATE_LOCK_WAITERS))
                await looked_up.wait()
                unlock()
            await committer.flush()
            await trio.testing.wait_all_tasks_blocked()
    assert codes_of(answers.outcomes) == ["unavailable"]
    assert [d.seq for d in delivered] == [1]
    assert await storage.messages_range("lobby", after=1, upto=9) == []
    assert committer._rooms_in_doubt == {}
