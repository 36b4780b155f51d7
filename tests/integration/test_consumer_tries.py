"""A consumer tells its handler which try it is on (services/common/kafka.consumer_try), so a batch
handler knows when nothing is left for a later try; a dead-letter topic that cannot be written is
waited for, like a database outage, without counting a try. On the real broker."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from schemas.events import RoundPublished, RoundRef
from schemas.topics import DEAD_LETTERS, Topic
from services.common.kafka import (
    DeadLettersUnavailable,
    consumer_try,
    create_broker,
    ensure_topics,
    on_last_try,
    subscriber_options,
)
from services.common.settings import ReliabilitySettings

pytestmark = pytest.mark.integration


async def test_a_handler_knows_its_try_and_a_dead_letter_topic_away_costs_no_try(kafka_settings):
    topic = Topic(f"test.tries.{uuid.uuid4().hex[:6]}", key="round_id", partitions=1)
    await ensure_topics(kafka_settings, (topic, DEAD_LETTERS))
    broker = create_broker(kafka_settings, "tries-test", ReliabilitySettings(max_attempts=3, first_backoff_seconds=0.01))
    seen: list[tuple[tuple[int, int] | None, bool]] = []
    done = asyncio.Event()

    @broker.subscriber(topic.name, **subscriber_options("tries-test", topic, kafka_settings))
    async def handle(event: RoundPublished) -> None:
        seen.append((consumer_try.get(), on_last_try()))
        if len(seen) <= 2:
            raise DeadLettersUnavailable("the dead-letter topic cannot be written")
        if not on_last_try():
            raise ConnectionError("the downstream service is down")
        done.set()

    await broker.start()
    try:
        body = RoundPublished(producer="t", data=RoundRef(round_id="r1"), correlation_id="r1").model_dump_json().encode()
        await broker.publish(body, topic=topic.name, key=b"r1")
        await asyncio.wait_for(done.wait(), 30)
    finally:
        await broker.stop()

    assert seen == [((1, 3), False), ((1, 3), False), ((1, 3), False), ((2, 3), False), ((3, 3), True)]
    assert consumer_try.get() is None, "outside a consumer's handler no try is claimed"
