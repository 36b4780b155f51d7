"""The matcher process: projection of matching profiles, solving on request."""

from __future__ import annotations

import asyncio
import logging
import time

from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from schemas.events import LeaderProfileChanged, MatchEvent, RoundEvent, RoundRequested
from schemas.topics import LEADER_PROFILES, MATCHES, ROUNDS
from services.common.crypto import Cipher
from services.common.kafka import create_broker, decode_tombstone, subscriber_options
from services.common.observability import SOLVE_GAP, SOLVE_SECONDS
from services.common.runtime import service_app
from services.common.store import Store, handle_once, make_engine, was_handled
from services.matcher import handlers
from services.matcher.adapters.orm import Base, Inbox, Outbox
from services.matcher.config import MatcherSettings
from services.matcher.domain import Limits, solve

SERVICE = "matcher"
log = logging.getLogger("pairing.matcher")


async def solve_round(store: Store, cipher: Cipher, request: RoundRequested, settings: MatcherSettings) -> None:
    consumer = f"{SERVICE}.rounds"
    if await was_handled(store, consumer, str(request.event_id)):
        return
    round_id = request.data.round.id
    # Solve only on a projection at least as fresh as the registry was at launch.
    deadline = time.monotonic() + settings.freshness_wait_seconds
    while missing := await handlers.missing_profiles(store, request):
        if time.monotonic() > deadline:
            reason = f"{len(missing)} leaders' details had not reached the matcher in time; launch the round again"
            await handle_once(store, consumer, request, handlers.publish_failure, reason)
            return
        await asyncio.sleep(0.2)
    cohort = await handlers.cohort_for(store, cipher, request)
    log.info("solving round %s with %d leaders", round_id, len(cohort.leaders))
    # Solving in a thread keeps the event loop, and so the consumer's heartbeats, going: the flow
    # solver holds the interpreter lock for at most a fraction of a second at a time.
    started = time.perf_counter()
    result = await asyncio.to_thread(solve, cohort, Limits())
    elapsed = time.perf_counter() - started
    SOLVE_SECONDS.observe(elapsed)
    SOLVE_GAP.set(result.stats.gap)
    stats = result.stats.model_copy(update={"wall_seconds": round(elapsed, 3)})
    result = result.model_copy(update={"stats": stats})
    log.info("round %s: %d pairs, %d unmatched, %s", round_id, len(result.pairs), len(result.unmatched), result.stats.status)
    await handle_once(store, consumer, request, handlers.publish_result, result)


def build_broker(settings: MatcherSettings, store: Store, cipher: Cipher) -> KafkaBroker:
    broker = create_broker(settings.kafka, SERVICE, settings.reliability)

    @broker.subscriber(
        LEADER_PROFILES.name,
        **subscriber_options(SERVICE, LEADER_PROFILES, settings.kafka),
        decoder=decode_tombstone,
        title="matcher: matching profiles",
    )
    async def on_profile(event: LeaderProfileChanged | None, message: KafkaMessage) -> None:
        if event is None:
            await handlers.forget_leader(store, message.raw_message.key.decode())
        else:
            await handle_once(store, f"{SERVICE}.profiles", event, handlers.apply_profile, cipher)

    @broker.subscriber(
        ROUNDS.name,
        **subscriber_options(SERVICE, ROUNDS, settings.kafka, max_poll_interval_ms=settings.max_poll_interval_ms),
        title="matcher: round requests",
    )
    async def on_round(event: RoundEvent) -> None:
        if isinstance(event, RoundRequested):
            await solve_round(store, cipher, event, settings)

    broker.publisher(MATCHES.name, schema=MatchEvent, title="matcher: matches.v1", description=MATCHES.description)
    return broker


def create_app(settings: MatcherSettings) -> AsgiFastStream:
    store = Store(make_engine(settings.database_url), Outbox, Inbox, Base.metadata)
    broker = build_broker(settings, store, Cipher(settings.encryption_keys))
    return service_app(broker, store, settings.kafka, SERVICE, log)
