"""Start-up and shutdown pieces every service process shares."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from typing import Any

from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.kafka import KafkaBroker

from services.common.kafka import ensure_topics, make_producer
from services.common.observability import metrics_app, sampling
from services.common.settings import KafkaSettings
from services.common.store import OutboxRelay, Store


@contextlib.asynccontextmanager
async def outbox_relay(store: Store, kafka: KafkaSettings, service: str) -> AsyncIterator[OutboxRelay]:
    """Run the service's outbox relay in the background while the block runs."""
    producer = make_producer(kafka, service)
    await producer.start()
    relay = OutboxRelay(store, producer, service)
    task = asyncio.create_task(relay.run_forever(), name=f"{service}-outbox-relay")
    try:
        yield relay
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await producer.stop()


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
        await store.engine.dispose()

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
