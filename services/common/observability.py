"""What operators can see: Prometheus metrics and health checks, the same in every service.

Consumer lag is measured by each service from its own consumers (high-water
mark minus position), because the embedded broker cannot report a group's
committed offsets.
"""

from __future__ import annotations

from typing import Any

from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, make_asgi_app

OUTBOX_BACKLOG = Gauge("pairing_outbox_backlog", "Events written to the outbox but not yet published", ["service"])
OUTBOX_SET_ASIDE = Gauge(
    "pairing_outbox_set_aside", "Events the broker refused (too large), set aside and dead-lettered instead of sent", ["service"]
)
EVENTS_PUBLISHED = Counter("pairing_events_published_total", "Events the outbox relay published", ["service", "topic"])
CONSUMER_LAG = Gauge(
    "pairing_consumer_lag", "Messages waiting for this service (high-water mark minus position)", ["service", "topic"]
)
DUPLICATES_SKIPPED = Counter(
    "pairing_duplicates_skipped_total", "Redelivered events skipped because they were already handled", ["consumer"]
)
DEAD_LETTERED = Counter("pairing_dead_letters_total", "Events given up on and sent to the dead-letter topic", ["service", "topic"])
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


async def consumer_lag(broker: Any) -> dict[str, int]:
    """Messages waiting per topic, summed over the partitions this instance holds."""
    lag: dict[str, int] = {}
    consumers = []
    for subscriber in broker.subscribers:
        # A subscriber with several workers has a consumer for each.
        consumers += getattr(subscriber, "consumer_subgroup", None) or [getattr(subscriber, "consumer", None)]
    for consumer in filter(None, consumers):
        for partition in consumer.assignment():
            high = consumer.highwater(partition)
            if high is None:
                continue
            position = await consumer.position(partition)
            lag[partition.topic] = lag.get(partition.topic, 0) + max(0, high - position)
    return lag
