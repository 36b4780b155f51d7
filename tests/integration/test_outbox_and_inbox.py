"""The outbox, the relay and the inbox on a real database and the real broker."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from schemas.events import RoundPublished, RoundRef
from schemas.topics import ROUNDS
from services.common.kafka import ensure_topics, make_producer
from services.common.relay import OutboxRelay
from services.common.store import DatabaseUnavailable, Store, handle_once, make_engine
from services.registry.adapters.orm import Base, Inbox, Outbox, RoundRow
from tests.kafka_reading import read_topic

pytestmark = pytest.mark.integration


async def read_round_events(kafka_settings, round_id: str, expected: int | None) -> list:
    """The round's events: on their way until `expected` are read, or, with None, all that are on the topic now."""
    return await read_topic(kafka_settings.bootstrap_servers, ROUNDS, lambda r: r.key == round_id.encode(), expected)


def published(round_id: str) -> RoundPublished:
    return RoundPublished(producer="test", data=RoundRef(round_id=round_id), correlation_id=round_id)


async def test_an_event_is_published_only_if_its_transaction_commits(registry_store, kafka_settings):
    await ensure_topics(kafka_settings)
    kept, dropped = f"kept-{uuid.uuid4().hex[:6]}", f"dropped-{uuid.uuid4().hex[:6]}"
    kept_event = published(kept)
    async with registry_store.unit_of_work() as uow:
        uow.session.add(RoundRow(id=kept, status="published", spec={}, leader_ids=[]))
        uow.publish(ROUNDS, kept, kept_event)
        await uow.commit()
    with pytest.raises(RuntimeError):
        async with registry_store.unit_of_work() as uow:
            uow.session.add(RoundRow(id=dropped, status="published", spec={}, leader_ids=[]))
            uow.publish(ROUNDS, dropped, published(dropped))
            raise RuntimeError("the handler failed before commit")

    producer = make_producer(kafka_settings, "test")
    await producer.start()
    try:
        relay = OutboxRelay(registry_store, producer)
        assert await relay.publish_pending() >= 1
        assert await relay.backlog() == 0
        assert await relay.publish_pending() == 0, "a published row is not sent again"
    finally:
        await producer.stop()

    records = await read_round_events(kafka_settings, kept, 1)
    assert len(records) == 1
    headers = dict(records[0].headers)
    # The event id was fixed when the outbox row was written, not at send time.
    assert headers["event_id"].decode() == str(kept_event.event_id)
    assert RoundPublished.model_validate_json(records[0].value).event_id == kept_event.event_id
    # Everything the relay sent the broker had acknowledged (above): so it is on the topic now, to its end.
    assert await read_round_events(kafka_settings, dropped, None) == []


async def test_a_redelivered_event_is_handled_once(registry_store):
    event = published(f"r-{uuid.uuid4().hex[:6]}")
    calls = []

    async def handler(uow, ev):
        calls.append(ev.event_id)

    assert await handle_once(registry_store, "test.consumer", event, handler) is True
    assert await handle_once(registry_store, "test.consumer", event, handler) is False
    # Another consumer keeps its own inbox.
    assert await handle_once(registry_store, "other.consumer", event, handler) is True
    assert calls == [event.event_id, event.event_id]


async def test_a_failed_handler_leaves_no_inbox_mark_so_the_retry_runs(registry_store):
    event = published(f"r-{uuid.uuid4().hex[:6]}")
    attempts = []

    async def flaky(uow, ev):
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("the database went away")

    # A lost connection is the database's outage, not the event's fault: consumers wait it out.
    with pytest.raises(DatabaseUnavailable):
        await handle_once(registry_store, "test.flaky", event, flaky)
    assert await handle_once(registry_store, "test.flaky", event, flaky) is True
    assert len(attempts) == 2


async def test_a_stop_that_cancels_again_mid_rollback_still_returns_the_connection(registry_store, caplog):
    # A service stopping cancels its tasks, sometimes more than once: the unit of work's rollback and
    # close must still finish, or the pool logs an error and the connection is left half returned.
    started = asyncio.Event()

    async def interrupted_work() -> None:
        async with registry_store.unit_of_work() as uow:
            uow.session.add(RoundRow(id=f"cut-{uuid.uuid4().hex[:6]}", status="published", spec={}, leader_ids=[]))
            await uow.session.flush()
            started.set()
            await asyncio.sleep(30)

    others = asyncio.all_tasks()  # the session's loop runs other tests' tasks too
    task = asyncio.create_task(interrupted_work())
    await started.wait()
    idle = registry_store.engine.pool.checkedin()  # connections in the pool, not counting the task's
    cancels = 0
    while not task.done():  # cancel at every step of the ending, until the task has ended
        task.cancel()
        cancels += 1
        await asyncio.sleep(0)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancels > 1, "the task was cancelled during its ending too"
    assert registry_store.engine.pool.checkedout() == 0
    assert registry_store.engine.pool.checkedin() == idle + 1, "the connection went back, not thrown away"
    assert asyncio.all_tasks() - others == set(), "nothing is left closing in the background"
    assert [r.getMessage() for r in caplog.records if r.name.startswith("sqlalchemy.pool")] == []


async def test_two_concurrent_deliveries_of_one_event_run_the_effects_once(registry_store):
    event = published(f"r-{uuid.uuid4().hex[:6]}")
    effects = []

    async def slow(uow, ev):
        await asyncio.sleep(0.05)
        effects.append(1)

    results = await asyncio.gather(
        handle_once(registry_store, "test.race", event, slow),
        handle_once(registry_store, "test.race", event, slow),
        return_exceptions=True,
    )
    committed = [r for r in results if r is True]
    assert len(committed) == 1


async def test_bodies_wait_encrypted_and_the_relay_sends_them_decrypted(database_url, kafka_settings):
    from sqlalchemy import select

    from services.common.crypto import Cipher, new_key

    await ensure_topics(kafka_settings)
    cipher = Cipher(new_key())
    store = Store(make_engine(database_url), Outbox, Inbox, Base.metadata, cipher)
    await store.prepare("registry")
    sealed, old = f"sealed-{uuid.uuid4().hex[:6]}", f"old-{uuid.uuid4().hex[:6]}"
    sealed_event, old_event = published(sealed), published(old)
    try:
        async with store.unit_of_work() as uow:
            uow.publish(ROUNDS, sealed, sealed_event)
            # A row written before bodies were encrypted: plain JSON, still sent as it is.
            uow.session.add(
                Outbox(
                    event_id=str(old_event.event_id),
                    topic=ROUNDS.name,
                    key=old,
                    headers={},
                    value=old_event.model_dump_json().encode(),
                )
            )
            await uow.commit()
        async with store.sessions() as session:
            stored = await session.scalar(select(Outbox.value).where(Outbox.key == sealed))
        assert sealed.encode() not in stored and cipher.open_bytes(stored) == sealed_event.model_dump_json().encode()

        producer = make_producer(kafka_settings, "test")
        await producer.start()
        try:
            assert await OutboxRelay(store, producer).publish_pending() >= 2
        finally:
            await producer.stop()
    finally:
        await store.engine.dispose()
    (sent,) = await read_round_events(kafka_settings, sealed, 1)
    assert RoundPublished.model_validate_json(sent.value) == sealed_event
    (sent_old,) = await read_round_events(kafka_settings, old, 1)
    assert RoundPublished.model_validate_json(sent_old.value) == old_event


async def test_every_event_of_a_commit_carries_the_trace_it_was_written_in(registry_store):
    """The registry's unit of work reads the trace context once for all the rows it writes at commit."""
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
    from sqlalchemy import select

    rounds = [f"traced-{uuid.uuid4().hex[:6]}" for _ in range(3)]
    context = SpanContext(trace_id=0x1234, span_id=0x5678, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    with trace.use_span(NonRecordingSpan(context)):
        async with registry_store.unit_of_work() as uow:
            for round_id in rounds:
                uow.publish(ROUNDS, round_id, published(round_id))
            await uow.commit()
    async with registry_store.sessions() as session:
        headers = (await session.scalars(select(Outbox.headers).where(Outbox.key.in_(rounds)))).all()
    assert len(headers) == 3
    assert {h["traceparent"] for h in headers} == {f"00-{0x1234:032x}-{0x5678:016x}-01"}
    assert [h["event_type"] for h in headers] == ["RoundPublished"] * 3
