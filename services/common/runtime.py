"""Start-up and shutdown pieces every service process shares."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any

from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.kafka import KafkaBroker
from sqlalchemy import func, select

from services.common.background import Background
from services.common.kafka import ensure_topics, make_producer
from services.common.observability import CONSUMER_LAG, OUTBOX_BACKLOG, OUTBOX_SET_ASIDE, consumer_lag, metrics_app
from services.common.relay import OutboxRelay, set_aside_count
from services.common.settings import KafkaSettings
from services.common.store import Store

log = logging.getLogger(__name__)

# Each shutdown step gets this long: a broker or database that stops answering must not keep the
# process (or a test) from ending; the steps after it still run.
SHUTDOWN_STEP_SECONDS = 20.0


async def stop_within(what: str, step: Awaitable[Any], seconds: float = SHUTDOWN_STEP_SECONDS) -> None:
    """Wait for one shutdown step, but not for ever."""
    try:
        async with asyncio.timeout(seconds):
            await step
    except TimeoutError:
        log.warning("%s did not stop within %g seconds; going on without it", what, seconds)


async def stop_together(jobs: Mapping[str, Background]) -> None:
    """Stop several background jobs, by name, at the same time: their graces overlap instead of adding up."""
    await asyncio.gather(*(stop_within(what, job.stop()) for what, job in jobs.items()))


@contextlib.asynccontextmanager
async def outbox_relay(store: Store, kafka: KafkaSettings, service: str) -> AsyncIterator[OutboxRelay]:
    """Run the service's outbox relay in the background while the block runs."""
    producer = make_producer(kafka, service)
    await producer.start()
    relay = OutboxRelay(store, producer, service)
    relay.start()
    try:
        yield relay
    finally:
        await stop_within(f"{service}'s outbox relay", relay.stop())
        await stop_within(f"{service}'s event producer", producer.stop())


def service_app(broker: KafkaBroker, store: Store, kafka: KafkaSettings, service: str, logger: logging.Logger) -> AsgiFastStream:
    """The service as an ASGI app: it prepares the database and topics, runs the consumers with the
    outbox relay and the metrics sampler beside them, and answers /health, /live and /metrics."""
    app = AsgiFastStream(
        broker,
        logger=logger,
        asgi_routes=[("/health", health_check(broker, store)), ("/live", live_check()), ("/metrics", metrics_app())],
    )
    background = contextlib.AsyncExitStack()

    @app.on_startup
    async def prepare() -> None:
        await store.prepare(service)
        await ensure_topics(kafka)

    @app.after_startup
    async def start_background() -> None:
        await background.enter_async_context(outbox_relay(store, kafka, service))
        await background.enter_async_context(sampling(service, broker, store))

    @app.after_shutdown
    async def stop_background() -> None:
        await background.aclose()
        await stop_within(f"{service}'s database connections", store.engine.dispose())

    return app


def health_check(broker: KafkaBroker, store: Store) -> Any:
    """Ready to work: the broker answers and the database answers."""

    @get(include_in_schema=False)
    async def health(scope: Any) -> AsgiResponse:
        try:
            await store.check()
            broker_ok = await broker.ping(timeout=3)
        except Exception:  # noqa: BLE001 - any failure means not ready
            broker_ok = False
        if broker_ok:
            return AsgiResponse(b'{"status": "ok"}', 200, headers={"content-type": "application/json"})
        return AsgiResponse(b'{"status": "not ready"}', 503, headers={"content-type": "application/json"})

    return health


def live_check() -> Any:
    """Alive: answers without touching the database, so an outage does not restart every instance."""

    @get(include_in_schema=False)
    async def live(scope: Any) -> AsgiResponse:
        return AsgiResponse(b'{"status": "alive"}', 200, headers={"content-type": "application/json"})

    return live


class MetricsSampler(Background):
    """The outbox's backlog, what it set aside and each topic's consumer lag, every few seconds, for /metrics."""

    grace_seconds = 1.0  # a pass only reads

    def __init__(self, service: str, broker: Any, store: Store, every_seconds: float = 5):
        self.service, self.broker, self.store, self.every_seconds = service, broker, store, every_seconds
        self.task_name = f"{service}-metrics"

    async def sample(self) -> None:
        outbox = self.store.outbox
        async with self.store.sessions() as session:
            backlog = await session.scalar(select(func.count()).select_from(outbox).where(outbox.published_at.is_(None)))
        OUTBOX_BACKLOG.labels(self.service).set(backlog or 0)
        OUTBOX_SET_ASIDE.labels(self.service).set(await set_aside_count(self.store))
        for topic, waiting in (await consumer_lag(self.broker)).items():
            CONSUMER_LAG.labels(self.service, topic).set(waiting)

    async def run_forever(self) -> None:
        while not self.stopping.is_set():
            try:
                await self.sample()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a missed sample must never stop the service
                log.warning("%s: could not sample metrics: %s", self.service, exc.__class__.__name__)
            await self.rest(self.every_seconds)


@contextlib.asynccontextmanager
async def sampling(service: str, broker: Any, store: Store) -> AsyncIterator[None]:
    sampler = MetricsSampler(service, broker, store)
    sampler.start()
    try:
        yield
    finally:
        await stop_within(f"{service}'s metrics sampler", sampler.stop())
