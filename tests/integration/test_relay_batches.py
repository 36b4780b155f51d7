"""The relay hands the producer whole batches, one partition at a time (OutboxRelay._parts): on the real
broker, every row still arrives once, each key's in the order written, on the partition Kafka's
default partitioner gives its key, with its headers; a body too big for a batch goes alone, in its place."""

from __future__ import annotations

import json
import uuid

import pytest
from aiokafka.partitioner import DefaultPartitioner

from schemas.topics import ROUNDS
from services.common.kafka import ensure_topics, make_producer
from services.common.relay import ALONE_BYTES, OutboxRelay
from services.registry.adapters.orm import Outbox
from tests.kafka_reading import read_topic

pytestmark = pytest.mark.integration


async def test_each_key_arrives_in_order_on_its_own_partition_with_big_and_empty_bodies(registry_store, kafka_settings):
    await ensure_topics(kafka_settings)
    tag = uuid.uuid4().hex[:6]
    keys = [f"batches-{tag}-{n}" for n in range(6)]  # more keys than partitions: some share one
    written: dict[str, list[str]] = {key: [] for key in keys}
    async with registry_store.unit_of_work() as uow:
        # Enough rows for two relay passes and several batches on every partition.
        for n in range(900):
            key = keys[n % len(keys)]
            event_id = f"{tag}-{n}"
            if n == 450:
                value: bytes | None = json.dumps({"n": n, "pad": "x" * ALONE_BYTES}).encode()  # more than a batch
            elif n == 601:
                value = None  # a tombstone
            else:
                value = json.dumps({"n": n, "pad": "x" * 400}).encode()
            uow.session.add(Outbox(event_id=event_id, topic=ROUNDS.name, key=key, value=value, headers={"event_type": "Test"}))
            written[key].append(event_id)
        await uow.commit()

    producer = make_producer(kafka_settings, "test")
    await producer.start()
    try:
        relay = OutboxRelay(registry_store, producer)
        while await relay.publish_pending():
            pass
        assert await relay.backlog() == 0
    finally:
        await producer.stop()

    ours = {key.encode() for key in keys}
    records = await read_topic(kafka_settings.bootstrap_servers, ROUNDS, lambda r: r.key in ours, expected=900, timeout_s=30)
    assert len(records) == 900, "each row once"
    kafka_default = DefaultPartitioner()
    partitions = list(range(ROUNDS.partitions))
    for key in keys:
        mine = [r for r in records if r.key == key.encode()]  # each partition's records come oldest first
        assert [dict(r.headers)["event_id"].decode() for r in mine] == written[key], "in the order written"
        assert {r.partition for r in mine} == {kafka_default(key.encode(), partitions, partitions)}
        assert all(dict(r.headers)["event_type"] == b"Test" for r in mine)
    by_id = {dict(r.headers)["event_id"].decode(): r for r in records}
    assert by_id[f"{tag}-601"].value is None
    assert json.loads(by_id[f"{tag}-450"].value)["n"] == 450
    assert json.loads(by_id[f"{tag}-451"].value)["n"] == 451
