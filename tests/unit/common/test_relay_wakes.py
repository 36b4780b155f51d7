"""The outbox relay goes round again at once for rows committed while it was busy, not at the next poll."""

from __future__ import annotations

import asyncio
import contextlib
from types import SimpleNamespace

import pytest
from aiokafka.producer.message_accumulator import BatchBuilder
from sqlalchemy.orm import DeclarativeBase

from schemas.topics import ROUNDS
from services.common.relay import OutboxRelay
from services.common.store import InboxMixin, OutboxMixin, Store, make_engine

pytestmark = pytest.mark.unit


class Passes(OutboxRelay):
    """A relay whose passes only count: the first one is interrupted by a commit, as the publish request's can be."""

    def __init__(self) -> None:
        # Only the event is used by run_forever; an hour's poll means only a wake-up can start a second pass.
        super().__init__(SimpleNamespace(outbox_written=asyncio.Event(), outbox_sent=None), producer=None, poll_seconds=3600)  # type: ignore[arg-type]
        self.passes = 0
        self.second = asyncio.Event()

    async def publish_pending(self) -> int:
        self.passes += 1
        if self.passes == 1:
            await asyncio.sleep(0)  # the pass is reading the outbox when ...
            self.store.outbox_written.set()  # ... another transaction commits rows to it
        else:
            self.second.set()
        return 0


async def test_rows_committed_during_a_pass_are_sent_by_the_next_pass_without_waiting_for_the_poll():
    relay = Passes()
    task = asyncio.create_task(relay.run_forever())
    try:
        # No clock: the event loop is let run a hundred times, far more than a second pass needs when the
        # wake-up is kept; with it lost, the relay would be asleep until the hour's poll.
        for _ in range(100):
            if relay.second.is_set():
                break
            await asyncio.sleep(0)
        assert relay.passes == 2
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Sends(OutboxRelay):
    """A relay whose passes send what was committed since the last one, a step of the event loop each."""

    def __init__(self, store: Store) -> None:
        super().__init__(store, producer=None, poll_seconds=3600)
        self.committed = 0
        self.sent = 0

    async def publish_pending(self) -> int:
        await asyncio.sleep(0)  # reading the outbox
        sending, self.committed = self.committed, 0
        await asyncio.sleep(0)  # the broker's answer
        self.sent += sending
        return sending


def committed(store: Store, relay: Sends, rows: int) -> None:
    """What UnitOfWork.commit does for the relay after a commit that wrote `rows` outbox rows."""
    relay.committed += rows
    assert store.outbox_sent is not None
    store.outbox_sent.clear()
    store.outbox_written.set()


async def test_bulk_work_lets_the_relay_send_each_part_before_making_the_next():
    store = Store(make_engine("sqlite://"), outbox=OutboxMixin, inbox=InboxMixin, metadata=None)
    await store.relay_turn()  # no relay in this process: nothing to wait for
    relay = Sends(store)
    task = asyncio.create_task(relay.run_forever())
    try:
        await asyncio.sleep(0)
        for part in range(1, 4):
            committed(store, relay, 3)
            await store.relay_turn(most_seconds=3600)  # an hour: only the relay's pass ends the wait
            assert relay.sent == 3 * part, "each part is sent before the next is made"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert store.outbox_sent is None, "a stopped relay is not waited for"


class CannotSend(OutboxRelay):
    """A relay whose every pass fails, as while the broker is away."""

    def __init__(self, store: Store) -> None:
        super().__init__(store, producer=None, poll_seconds=3600)

    async def publish_pending(self) -> int:
        raise ConnectionError("the broker is away")


async def test_bulk_work_does_not_wait_for_a_relay_that_cannot_send():
    store = Store(make_engine("sqlite://"), outbox=OutboxMixin, inbox=InboxMixin, metadata=None)
    task = asyncio.create_task(CannotSend(store).run_forever())
    try:
        for _ in range(3):  # the relay's first pass fails at once
            await asyncio.sleep(0)
        assert store.relay_failing and store.outbox_sent is not None
        store.outbox_sent.clear()  # the next part is committed while the relay waits to try again
        # An hour's wait would end only with a pass that sends; the guard fails the test instead of hanging.
        await asyncio.wait_for(store.relay_turn(most_seconds=3600), 10)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    pass


class HeldProducer:
    """A producer that takes every record at once and answers for them only when told to."""

    def __init__(self) -> None:
        self.taken = 0
        self.answer = asyncio.Event()

    async def partitions_for(self, _topic: str) -> set[int]:
        return {0, 1, 2}

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(16384, 0)

    async def send_batch(self, batch: BatchBuilder, _topic: str, *, partition: int) -> asyncio.Future:
        self.taken += batch.record_count()
        return asyncio.ensure_future(self.answer.wait())


async def test_bulk_work_goes_on_once_the_producer_has_the_last_rows_while_the_broker_answers(tmp_path):
    store = Store(make_engine(f"sqlite:///{tmp_path}/outbox.db"), outbox=Outbox, inbox=Inbox, metadata=Base.metadata)
    async with store.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    producer = HeldProducer()
    relay = OutboxRelay(store, producer, poll_seconds=3600)
    task = asyncio.create_task(relay.run_forever())
    try:
        # The relay's first pass, finding nothing, ends before the rows are committed: else it may read them
        # during a commit it has not yet been told of, and leave them to its next pass, after the answer.
        await asyncio.sleep(0)  # the relay starts
        assert store.outbox_sent is not None
        await asyncio.wait_for(store.outbox_sent.wait(), 10)
        async with store.unit_of_work() as uow:
            for n in range(3):
                uow.tombstone(ROUNDS, f"round-{n}", f"event-{n}")
            await uow.commit()
        # An hour's wait would end only with the broker's answer; the guard fails the test instead of hanging.
        await asyncio.wait_for(store.relay_turn(most_seconds=3600), 10)
        assert producer.taken == 3, "the producer has every row committed"
        assert await relay.backlog() == 3, "none is marked sent before the broker has answered"
        producer.answer.set()
        for _ in range(1000):
            if not await relay.backlog():
                break
            await asyncio.sleep(0.01)
        assert await relay.backlog() == 0, "each is marked sent once the broker has answered"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.engine.dispose()


class Slow(OutboxRelay):
    """A relay whose one pass waits until told to go on."""

    def __init__(self) -> None:
        super().__init__(SimpleNamespace(outbox_written=asyncio.Event(), outbox_sent=None), producer=None, poll_seconds=3600)  # type: ignore[arg-type]
        self.passes = 0
        self.finished = 0
        self.started = asyncio.Event()
        self.go_on = asyncio.Event()

    async def publish_pending(self) -> int:
        self.passes += 1
        self.started.set()
        await self.go_on.wait()
        self.finished += 1
        return 0


async def test_a_stopping_relay_finishes_the_pass_in_hand_and_starts_no_other():
    relay = Slow()
    relay.start()
    await asyncio.wait_for(relay.started.wait(), 1)
    stopping = asyncio.create_task(relay.stop())
    relay.go_on.set()
    await asyncio.wait_for(stopping, 1)  # well inside its grace: it ended by itself, not cancelled
    assert (relay.passes, relay.finished) == (1, 1)
    assert relay.store.outbox_sent is None  # no one waiting for it to send
