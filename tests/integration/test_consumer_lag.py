"""Consumer lag, as /metrics and the queue monitor show it, is read from the offsets a
service's consumer group committed on the broker: records that arrived while the
service was stopped are counted when it starts, and the count falls to 0 once they
are handled. Run on both brokers: PAIRING_TEST_BROKER=apache and =tansu."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import uuid
from typing import Any

import pytest

from schemas.topics import OUTCOMES
from services.common.embedded import EmbeddedKafka
from services.common.kafka import create_broker, ensure_topics, make_producer, subscriber_options
from services.common.observability import committed_lag, consumer_groups, consumer_lag
from services.common.settings import KafkaSettings, ReliabilitySettings
from services.registry.monitor import ServiceState, known_lag
from tests.kafka_lag import wait_for_lag

pytestmark = pytest.mark.integration

SERVICE = "notifier"


async def produce(kafka: KafkaSettings, count: int, first: int) -> None:
    producer = make_producer(kafka, "lag-test")
    await producer.start()
    try:
        for n in range(first, first + count):
            # One record a write: each lands as a batch of one, whose end even the embedded broker reports
            # exactly (see test_embedded_watermarks.py for batches of several).
            body = {"n": n, "run": kafka.client_prefix}
            await producer.send_and_wait(OUTCOMES.name, json.dumps(body).encode(), key=f"person-{n}".encode())
    finally:
        await producer.stop()


class Service:
    """A consumer of outcomes.v1 in the notifier's group, whose handler can be held."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.gate = asyncio.Event()
        self.handled: list[int] = []
        self.started_handling = asyncio.Event()
        self.broker = create_broker(kafka, SERVICE, ReliabilitySettings())
        run = kafka.client_prefix

        @self.broker.subscriber(OUTCOMES.name, **subscriber_options(SERVICE, OUTCOMES, kafka))
        async def on_outcome(body: Any) -> None:
            self.started_handling.set()
            await self.gate.wait()
            if body["run"] == run:  # the module's other tests wrote to the topic too
                self.handled.append(body["n"])


@pytest.fixture(scope="module")
async def kafka(new_broker, kafka_settings) -> KafkaSettings:
    """A broker of the module's own, so the topic holds only what these tests write; each test
    has its own consumer groups."""
    bootstrap = new_broker()
    await ensure_topics(kafka_settings.model_copy(update={"bootstrap_servers": bootstrap}))
    return kafka_settings.model_copy(update={"bootstrap_servers": bootstrap})


@pytest.fixture
def kafka_settings_of_test(kafka: KafkaSettings) -> KafkaSettings:
    return kafka.model_copy(update={"client_prefix": f"{kafka.client_prefix}-{uuid.uuid4().hex[:6]}"})


async def test_lag_counts_what_arrived_while_stopped_until_it_is_handled(kafka_settings_of_test):
    kafka = kafka_settings_of_test

    first = Service(kafka)
    first.gate.set()
    await first.broker.start()
    await produce(kafka, 4, first=0)
    assert (await wait_for_lag(first.broker, OUTCOMES.name, 0))[OUTCOMES.name] == 0
    assert sorted(first.handled) == [0, 1, 2, 3]
    await first.broker.stop()

    # Seven outcomes arrive while the service is stopped ...
    await produce(kafka, 7, first=4)
    again = Service(kafka)
    await again.broker.start()
    try:
        # ... and when it starts, it has read the first of them but handled none: seven wait.
        await asyncio.wait_for(again.started_handling.wait(), 30)
        lag = await consumer_lag(again.broker)
        assert lag == {OUTCOMES.name: 7}
        monitor = ServiceState(SERVICE, True, True, known_lag(lag))
        assert monitor.waiting_total == 7

        again.gate.set()
        assert (await wait_for_lag(again.broker, OUTCOMES.name, 0))[OUTCOMES.name] == 0
        assert sorted(again.handled) == list(range(4, 11))
    finally:
        await again.broker.stop()


async def test_lag_of_a_group_is_read_while_its_service_is_stopped(kafka_settings_of_test):
    kafka = kafka_settings_of_test
    earlier = Service(kafka)
    earlier.gate.set()
    await earlier.broker.start()
    try:
        await produce(kafka, 2, first=0)
        assert (await wait_for_lag(earlier.broker, OUTCOMES.name, 0))[OUTCOMES.name] == 0
    finally:
        await earlier.broker.stop()
    service = Service(kafka)
    groups = consumer_groups(service.broker)
    assert groups == {f"{kafka.client_prefix}-{SERVICE}.{OUTCOMES.name}": {OUTCOMES.name}}
    await produce(kafka, 5, first=2)

    # Another service (the registry, say) asks for the stopped group: five wait; then the
    # service runs, and none do.
    watcher = Service(kafka.model_copy(update={"client_prefix": f"{kafka.client_prefix}-watcher"}))
    watcher.gate.set()
    await watcher.broker.start()
    try:
        assert await committed_lag(watcher.broker, groups) == {OUTCOMES.name: 5}
        service.gate.set()
        await service.broker.start()
        try:
            await wait_for_lag(service.broker, OUTCOMES.name, 0)
            assert await committed_lag(watcher.broker, groups) == {OUTCOMES.name: 0}
            assert sorted(service.handled) == [2, 3, 4, 5, 6]
        finally:
            await service.broker.stop()
    finally:
        await watcher.broker.stop()


async def test_a_broker_that_stops_answering_makes_the_lag_not_known(kafka_settings_of_test):
    # A broker of its own, stopped under the running service: the same on any broker, so the embedded one.
    gone = EmbeddedKafka.start()
    kafka = kafka_settings_of_test.model_copy(update={"bootstrap_servers": gone.bootstrap_servers, "enable_idempotence": False})
    await ensure_topics(kafka)
    service = Service(kafka)
    service.gate.set()
    await service.broker.start()
    try:
        assert await consumer_lag(service.broker) == {OUTCOMES.name: 0}
        gone.stop()
        lag = await consumer_lag(service.broker, timeout_s=1)
    finally:
        gone.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(service.broker.stop(), 10)
    assert math.isnan(lag[OUTCOMES.name])
    assert ServiceState(SERVICE, True, True, known_lag(lag)).waiting_total is None
