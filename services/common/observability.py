"""What operators can see: Prometheus metrics and health checks, the same in every service.

Consumer lag is read from the broker: for each partition a service's consumer
groups read, the partition's end minus the offset the group committed there.
It is measured the same way on Apache Kafka and on the embedded Tansu broker,
and is right even while partitions move between instances of the service. On
Tansu it can read low while a burst is handled, as that broker reports a
partition's end short after a batch of several records (README, and
tests/integration/test_embedded_watermarks.py).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka import TopicPartition
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, make_asgi_app

from schemas.topics import ALL_TOPICS

log = logging.getLogger(__name__)

OUTBOX_BACKLOG = Gauge("pairing_outbox_backlog", "Events written to the outbox but not yet published", ["service"])
OUTBOX_SET_ASIDE = Gauge(
    "pairing_outbox_set_aside", "Events the broker refused (too large), set aside and dead-lettered instead of sent", ["service"]
)
EVENTS_PUBLISHED = Counter("pairing_events_published_total", "Events the outbox relay published", ["service", "topic"])
CONSUMER_LAG = Gauge(
    "pairing_consumer_lag",
    "Messages waiting for this service: each partition's end minus the offset its group committed (NaN: not known)",
    ["service", "topic"],
)
DUPLICATES_SKIPPED = Counter(
    "pairing_duplicates_skipped_total", "Redelivered events skipped because they were already handled", ["consumer"]
)
DEAD_LETTERED = Counter(
    "pairing_dead_letters_total", "Events given up on and sent to the dead-letter topic", ["service", "topic"]
)
SOLVE_SECONDS = Histogram(
    "pairing_solve_seconds", "Time to solve one round", buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
)
SOLVE_GAP = Gauge("pairing_solve_gap", "Distance from proven optimum of the last solved round (0 is optimal)")
NOTIFICATIONS = Counter("pairing_notifications_total", "Messages by channel and what happened", ["channel", "status"])


_middleware: list[KafkaPrometheusMiddleware] = []


def prometheus_middleware(service: str) -> KafkaPrometheusMiddleware:
    """Events consumed and published per topic, and handler time, from FastStream itself.

    One per process: FastStream registers its metrics once in the registry, and a
    service process has one broker (tests build several in one process).
    """
    if not _middleware:
        _middleware.append(KafkaPrometheusMiddleware(registry=REGISTRY, app_name=service, metrics_prefix="pairing"))
    return _middleware[0]


def metrics_app() -> Any:
    return make_asgi_app(REGISTRY)


# How long one reading of the lag may take: a broker that does not answer makes it "not known", never a hang.
LAG_TIMEOUT_S = 3.0
PARTITIONS = {topic.name: topic.partitions for topic in ALL_TOPICS}


async def consumer_lag(broker: Any, timeout_s: float = LAG_TIMEOUT_S) -> dict[str, float]:
    """Messages waiting per topic for this service's consumer groups, from the broker; NaN when not known."""
    return await committed_lag(broker, consumer_groups(broker), timeout_s)


async def committed_lag(broker: Any, groups: Mapping[str, Iterable[str]], timeout_s: float = LAG_TIMEOUT_S) -> dict[str, float]:
    """Messages waiting per topic for `groups` (group id: topics), whether their consumers run or not.

    Cheap enough for every few seconds: it uses the clients the service already has (the
    broker's admin client for the committed offsets, one of its consumers for the ends).
    """
    try:
        return await asyncio.wait_for(_read_lag(broker, groups), timeout_s)
    except Exception as exc:  # noqa: BLE001 - a broker away or slow makes the lag unknown, never a crash
        log.warning("consumer lag is not known: the broker did not tell (%s)", exc.__class__.__name__)
        return {topic: math.nan for topics in groups.values() for topic in topics}


def consumer_groups(broker: Any) -> dict[str, set[str]]:
    """Each consumer group of a service and the topics it reads. A reader outside any group (the
    matcher's listener for cancellations) commits nothing, so nothing waits for it."""
    groups: dict[str, set[str]] = {}
    for subscriber in broker.subscribers:
        if subscriber.group_id:
            groups.setdefault(subscriber.group_id, set()).update(subscriber.topic_names)
    return groups


async def _read_lag(broker: Any, groups: Mapping[str, Iterable[str]]) -> dict[str, float]:
    wanted = {group: partitions_of(topics) for group, topics in groups.items()}
    every = sorted({tp for partitions in wanted.values() for tp in partitions})
    reader = running_consumer(broker)
    ends, starts = await reader.end_offsets(every), await reader.beginning_offsets(every)
    lag: dict[str, float] = {}
    for group, partitions in wanted.items():
        # The partitions are named: the embedded broker cannot answer a request for "all of them".
        committed = await broker.config.admin_client.list_consumer_group_offsets(group, partitions=partitions)
        for tp in partitions:
            # A group that has committed nothing there yet (-1) starts from the oldest record still kept.
            done = max(starts[tp], committed[tp].offset if tp in committed else -1)
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, ends[tp] - done)
    return lag


def partitions_of(topics: Iterable[str]) -> list[TopicPartition]:
    return [TopicPartition(topic, p) for topic in sorted(topics) for p in range(PARTITIONS.get(topic, 1))]


def running_consumer(broker: Any) -> Any:
    """Any consumer the service has running: it can ask the broker where any partition ends."""
    for subscriber in broker.subscribers:
        # A subscriber with several workers has a consumer for each.
        for consumer in getattr(subscriber, "consumer_subgroup", None) or [getattr(subscriber, "consumer", None)]:
            if consumer is not None:
                return consumer
    raise LookupError("no consumer is running")
