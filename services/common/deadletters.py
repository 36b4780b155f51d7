"""Reading and replaying the dead-letter topic (`pairing dlq list|replay`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.topics import DEAD_LETTERS
from services.common.kafka_security import client_options
from services.common.settings import KafkaSettings


@dataclass(frozen=True)
class DeadLetter:
    offset: int
    consumer: str
    original_topic: str
    original_partition: int
    original_offset: int
    attempts: int
    error: str
    key: bytes | None
    value: bytes | None
    event_id: str | None
    # Set when the event was not read from a record (the notifier's "schedule"): then it has no partition or offset.
    source: str = ""


def _header(headers: dict[str, bytes], name: str, default: str = "") -> str:
    value = headers.get(name)
    return value.decode(errors="replace") if value is not None else default


async def count_dead_letters(kafka: KafkaSettings) -> int:
    """How many dead letters are on the topic, reading only those past the end the broker reports."""
    consumer = AIOKafkaConsumer(**client_options(kafka), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(DEAD_LETTERS.name, p) for p in range(DEAD_LETTERS.partitions)]
        starts, ends = await consumer.beginning_offsets(partitions), await consumer.end_offsets(partitions)
        return sum(ends[tp] - starts[tp] for tp in partitions) + await _past_the_end(consumer, ends)
    finally:
        await consumer.stop()


async def _past_the_end(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> int:
    """Records after the end a partition reports: the embedded broker reports the end of a batch of
    several as its first record plus one (tests/integration/test_embedded_watermarks.py). None on Kafka."""
    consumer.assign(list(ends))
    for tp, end in ends.items():
        consumer.seek(tp, end)
    past = 0
    while batch := await consumer.getmany(timeout_ms=PAST_THE_END_WAIT_MS):
        past += sum(len(records) for records in batch.values())
    return past


PAST_THE_END_WAIT_MS = 200


async def read_dead_letters(kafka: KafkaSettings, wait_ms: int = 1000) -> list[DeadLetter]:
    """Every dead letter still on the topic, oldest first."""
    consumer = AIOKafkaConsumer(**client_options(kafka), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(DEAD_LETTERS.name, p) for p in range(DEAD_LETTERS.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        letters: list[DeadLetter] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=wait_ms)
            if not batch:
                break
            for records in batch.values():
                for record in records:
                    headers = dict(record.headers or ())
                    letters.append(
                        DeadLetter(
                            offset=record.offset,
                            consumer=_header(headers, "consumer"),
                            original_topic=_header(headers, "original_topic"),
                            original_partition=int(_header(headers, "original_partition", "-1")),
                            original_offset=int(_header(headers, "original_offset", "-1")),
                            attempts=int(_header(headers, "attempts", "0")),
                            error=_header(headers, "error"),
                            key=record.key,
                            value=record.value,
                            event_id=_header(headers, "event_id") or None,
                            source=_header(headers, "source"),
                        )
                    )
        return sorted(letters, key=lambda letter: letter.offset)
    finally:
        await consumer.stop()


async def replay(kafka: KafkaSettings, letters: list[DeadLetter]) -> int:
    """Send dead letters back to their original topics, for every consumer there to try again.

    Consumers that already handled an event skip it (their inbox remembers its id).
    """
    # An event the broker refused (source "set_aside") has no body here to send back: its row waits in the outbox.
    letters = [letter for letter in letters if letter.source != "set_aside"]
    producer = AIOKafkaProducer(**client_options(kafka), **kafka.producer_options)
    await producer.start()
    sent = 0
    try:
        for letter in letters:
            value = letter.value if letter.value else await original_value(kafka, letter)
            if value is None:
                continue  # gone from its topic (its retention passed, or a newer record replaced it)
            headers = [("replayed_from_dead_letter", str(letter.offset).encode())]
            if letter.event_id:
                headers.append(("event_id", letter.event_id.encode()))
            await producer.send_and_wait(letter.original_topic, value, key=letter.key, headers=headers)
            sent += 1
    finally:
        await producer.stop()
    return sent


async def original_value(kafka: KafkaSettings, letter: DeadLetter) -> bytes | None:
    """A consumer's dead letter carries no body (it may be personal): read the event from where it was."""
    if letter.original_partition < 0 or letter.original_offset < 0:
        return None
    consumer = AIOKafkaConsumer(**client_options(kafka), enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(letter.original_topic, letter.original_partition)
        consumer.assign([partition])
        if (await consumer.beginning_offsets([partition]))[partition] > letter.original_offset:
            return None
        consumer.seek(partition, letter.original_offset)
        record = await asyncio.wait_for(consumer.getone(partition), timeout=10)
        return record.value if record.offset == letter.original_offset else None
    finally:
        await consumer.stop()
