"""Reading a topic from its beginning in a test: everything on it, or until enough records have come."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from schemas.topics import Topic

POLL_MS = 200


async def read_topic(
    bootstrap: str,
    topic: Topic,
    keep: Callable[[ConsumerRecord], bool] = lambda record: True,
    expected: int | None = None,
    timeout_s: float = 10.0,
) -> list[ConsumerRecord]:
    """The records on every partition of `topic`, oldest first in each, that `keep` accepts.

    With `expected`, reads on (the records may still be on their way) until that many are kept or
    `timeout_s` has passed, and returns what it has: a test asserts on how many, or on none.
    Without, reads to the end of what was on the topic when it started, and fails if that takes
    longer than `timeout_s`, rather than return part of it.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        found: list[ConsumerRecord] = []
        while True:
            if expected is not None and len(found) >= expected:
                return found
            if expected is None and all([await consumer.position(tp) >= ends[tp] for tp in partitions]):
                return found
            if loop.time() >= deadline:
                if expected is None:
                    raise AssertionError(f"{topic.name} was not read to its end within {timeout_s} s")
                return found
            batch = await consumer.getmany(timeout_ms=POLL_MS)
            found += [record for records in batch.values() for record in records if keep(record)]
    finally:
        await consumer.stop()
