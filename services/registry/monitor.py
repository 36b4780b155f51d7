"""How each service is doing, for the queue monitor: answering or not, able to reach
its database and the broker, and how much work is waiting for it.

The matcher and the notifier answer /health and /metrics on their operations
port (REGISTRY_WATCH lists where); the registry looks at itself directly.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class ServiceState:
    name: str
    answering: bool  # the process answers at all
    ready: bool  # and it can reach its database and the broker
    # topic -> messages not yet handled, from the offsets committed on the broker; None: the broker did not say
    waiting: dict[str, int | None] = field(default_factory=dict)
    unsent: int | None = None  # events written but not yet published
    set_aside: int = 0  # events the broker refused, set aside so the rest could go

    @property
    def words(self) -> str:
        if not self.answering:
            return "Not answering: it may have stopped. Its work is kept and it carries on when it is started again."
        if not self.ready:
            return "Cannot reach its database or the message broker. It keeps trying, and nothing is lost."
        if self.set_aside:
            return f"Working, but {self.alert}"
        return "Working"

    @property
    def alert(self) -> str | None:
        """What a person must look at, if anything: changes that could not be sent."""
        if not self.set_aside:
            return None
        changes = "1 change" if self.set_aside == 1 else f"{self.set_aside} changes"
        return (
            f"{changes} could not be sent: the message broker refused them as too large. They were set aside "
            "(see the dead letters) so the changes after them still went"
        )

    @property
    def troubled(self) -> bool:
        return not (self.answering and self.ready) or bool(self.set_aside)

    @property
    def plain(self) -> str:
        """The state for the managers' monitor: what it means for them, without the technical detail."""
        if self.set_aside and self.answering and self.ready:
            return "Working, but some changes could not be sent. An admin can see them on the operations page."
        return self.words

    @property
    def waiting_total(self) -> int | None:
        """None when the broker did not say for some topic: the page then says "not known"."""
        if None in self.waiting.values():
            return None
        return sum(n for n in self.waiting.values() if n is not None)


async def watch(services: Mapping[str, str], answer_within: float = 4.0) -> list[ServiceState]:
    """Ask every watched service at once; one that does not answer in time is reported as such."""
    async with httpx.AsyncClient(timeout=answer_within) as client:
        return list(await asyncio.gather(*(_state_of(client, name, url) for name, url in services.items())))


async def _state_of(client: httpx.AsyncClient, name: str, url: str) -> ServiceState:
    try:
        health, metrics = await asyncio.gather(client.get(f"{url}/health"), client.get(f"{url}/metrics"))
    except httpx.HTTPError:
        return ServiceState(name, answering=False, ready=False)
    waiting, unsent = read_metrics(metrics.text) if metrics.status_code == 200 else ({}, None)
    set_aside = read_set_aside(metrics.text) if metrics.status_code == 200 else 0
    return ServiceState(name, True, health.status_code == 200, waiting, unsent, set_aside)


def read_metrics(text: str) -> tuple[dict[str, int | None], int | None]:
    """Messages waiting per topic (None: not known) and the outbox backlog, from a service's Prometheus page."""
    waiting: dict[str, int | None] = {}
    unsent = None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "pairing_consumer_lag":
                topic = sample.labels.get("topic", "")
                waiting[topic] = add_waiting(waiting.get(topic, 0), sample.value)
            elif sample.name == "pairing_outbox_backlog":
                unsent = (unsent or 0) + int(sample.value)
    return waiting, unsent


def add_waiting(total: int | None, more: float) -> int | None:
    """A sum of waiting messages that stays "not known" once any part of it is (NaN from the service)."""
    return None if total is None or math.isnan(more) else total + int(more)


def known_lag(lag: Mapping[str, float]) -> dict[str, int | None]:
    return {topic: add_waiting(0, waiting) for topic, waiting in lag.items()}


def read_set_aside(text: str) -> int:
    """Events the service's outbox relay set aside, from its Prometheus page."""
    return sum(
        int(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "pairing_outbox_set_aside"
    )


async def every_service(registry) -> list[ServiceState]:
    """The registry itself, then every service it watches."""
    return [await own_state(registry), *await watch(registry.settings.watched)]


async def own_state(registry) -> ServiceState:
    from sqlalchemy import func, select

    from services.common.observability import consumer_lag
    from services.common.relay import set_aside_count

    outbox = registry.store.outbox
    try:
        async with registry.store.unit_of_work() as uow:
            unsent = await uow.session.scalar(select(func.count()).select_from(outbox).where(outbox.published_at.is_(None)))
        set_aside = await set_aside_count(registry.store)
        ready = await registry.broker.ping(timeout=3)
        waiting = known_lag(await consumer_lag(registry.broker)) if ready else {}
    except Exception:  # noqa: BLE001 - whatever failed, the answer is the same: not ready
        return ServiceState("registry", answering=True, ready=False)
    return ServiceState("registry", True, bool(ready), waiting, unsent or 0, set_aside)


async def dead_letters(registry, seconds: float = 3.0) -> int | None:
    """Events set aside after repeated failures, waiting for a person (`pairing dlq list`); None if the broker is away."""
    from services.common.deadletters import count_dead_letters

    try:
        return await asyncio.wait_for(count_dead_letters(registry.settings.kafka), seconds)
    except Exception:  # noqa: BLE001 - the broker may be away: then the number is not known
        return None


async def dead_letter_counts(registry, seconds: float = 5.0) -> dict[tuple[str, str], int] | None:
    """Dead letters by the consumer that gave up and the topic (or source) of the event; None if the broker is away."""
    from collections import Counter

    from services.common.deadletters import read_dead_letters

    try:
        letters = await asyncio.wait_for(read_dead_letters(registry.settings.kafka, wait_ms=500), seconds)
    except Exception:  # noqa: BLE001 - the broker may be away: then the numbers are not known
        return None
    return dict(sorted(Counter((d.consumer, d.original_topic or d.source) for d in letters).items()))
