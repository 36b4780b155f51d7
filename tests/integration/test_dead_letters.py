"""A bad event is retried a bounded number of times, then dead-lettered with its
position, and the partition keeps flowing."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.events import RoundPublished, RoundRef
from schemas.topics import DEAD_LETTERS, Topic
from services.common.kafka import create_broker, ensure_topics, subscriber_options
from services.common.settings import ReliabilitySettings

pytestmark = pytest.mark.integration


async def dead_letters_about(kafka_settings, topic: str, expected: int) -> list:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_settings.bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(DEAD_LETTERS.name, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        found = []
        for _ in range(100):
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                found += [r for r in records if dict(r.headers).get("original_topic") == topic.encode()]
            if len(found) >= expected:
                break
        return found
    finally:
        await consumer.stop()


async def test_poison_events_are_dead_lettered_and_good_events_still_flow(kafka_settings):
    topic = Topic(f"test.poison.{uuid.uuid4().hex[:6]}", key="round_id", partitions=1)
    await ensure_topics(kafka_settings, (topic, DEAD_LETTERS))
    broker = create_broker(kafka_settings, "poison-test", ReliabilitySettings(max_attempts=3, first_backoff_seconds=0.01))
    handled: list[str] = []
    transient_failures: list[int] = []

    @broker.subscriber(topic.name, **subscriber_options("poison-test", topic, kafka_settings))
    async def handle(event: RoundPublished) -> None:
        if event.data.round_id == "always-fails":
            transient_failures.append(1)
            raise ConnectionError("the downstream service is down")
        handled.append(event.data.round_id)

    def good(round_id: str) -> bytes:
        return RoundPublished(producer="t", data=RoundRef(round_id=round_id), correlation_id=round_id).model_dump_json().encode()

    await broker.start()
    try:
        for body in (b"\xff\xfe not json", b'{"event_type": "Unknown"}', good("always-fails"), good("after-the-poison")):
            await broker.publish(body, topic=topic.name, key=b"k")
        for _ in range(100):
            if "after-the-poison" in handled:
                break
            await asyncio.sleep(0.1)
    finally:
        await broker.stop()

    assert handled == ["after-the-poison"], "the partition keeps flowing past bad events"
    assert len(transient_failures) == 3, "a transient failure is retried a bounded number of times"
    letters = await dead_letters_about(kafka_settings, topic.name, 3)
    assert len(letters) == 3
    headers = [dict(r.headers) for r in letters]
    assert sorted(int(h["original_offset"]) for h in headers) == [0, 1, 2]
    assert all(h["original_partition"] == b"0" and h["consumer"] == b"poison-test" for h in headers)
    assert [h["attempts"] for h in headers] == [b"1", b"1", b"3"], "bad data is not retried; a failing handler is"
    assert b"ConnectionError" in headers[2]["error"]
    assert letters[0].value == b"\xff\xfe not json", "the original bytes are kept for replay"


async def test_dead_letters_can_be_listed_and_replayed_once_the_fault_is_fixed(kafka_settings):
    from services.common.deadletters import count_dead_letters, read_dead_letters, replay

    topic = Topic(f"test.replay.{uuid.uuid4().hex[:6]}", key="round_id", partitions=1)
    await ensure_topics(kafka_settings, (topic, DEAD_LETTERS))
    broker = create_broker(kafka_settings, "replay-test", ReliabilitySettings(max_attempts=2, first_backoff_seconds=0.01))
    downstream_up = False
    handled: list[str] = []

    @broker.subscriber(topic.name, **subscriber_options("replay-test", topic, kafka_settings))
    async def handle(event: RoundPublished) -> None:
        if not downstream_up:
            raise ConnectionError("the downstream service is down")
        handled.append(event.data.round_id)

    body = RoundPublished(producer="t", data=RoundRef(round_id="needs-replay"), correlation_id="r").model_dump_json()
    await broker.start()
    try:
        await broker.publish(body.encode(), topic=topic.name, key=b"k")
        for _ in range(100):
            mine = [l for l in await read_dead_letters(kafka_settings, wait_ms=200) if l.original_topic == topic.name]
            if mine:
                break
            await asyncio.sleep(0.1)
        assert len(mine) == 1 and mine[0].consumer == "replay-test" and "ConnectionError" in mine[0].error
        assert handled == []
        # What the queue monitor shows: every letter on the topic, counted without reading them.
        assert await count_dead_letters(kafka_settings) >= len(await read_dead_letters(kafka_settings, wait_ms=200)) >= 1

        downstream_up = True
        assert await replay(kafka_settings, mine) == 1
        for _ in range(100):
            if handled:
                break
            await asyncio.sleep(0.1)
    finally:
        await broker.stop()
    assert handled == ["needs-replay"]
