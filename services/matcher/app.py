"""The matcher process: projection of matching profiles, solving on request."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy

from schemas.events import LeaderProfileChanged, MatchEvent, RoundCancelled, RoundEvent, RoundRequested, round_events
from schemas.topics import LEADER_PROFILES, MATCHES, ROUNDS
from services.common.crypto import Cipher
from services.common.kafka import batch_options, create_broker, subscriber_options
from services.common.projection import batch_of, project
from services.common.observability import SOLVE_GAP, SOLVE_SECONDS
from services.common.runtime import service_app
from services.common.store import Store, handle_once, make_engine, was_handled
from services.matcher import handlers
from services.matcher.adapters.orm import Base, Inbox, Outbox
from services.matcher.config import MatcherSettings
from services.matcher.domain import Limits, Progress, SolveStopped, Watch, solve

# A projection's handler takes a batch of records (services/common/projection.py).
ProfileBatch = batch_of(LeaderProfileChanged, tombstones=True)

SERVICE = "matcher"
log = logging.getLogger("pairing.matcher")


class Solves:
    """The solves running in this process, so a cancelled round's solve can be stopped."""

    def __init__(self) -> None:
        self.running: dict[str, Watch] = {}
        self.cancelled: set[str] = set()  # cancelled before their request came up

    def cancel(self, round_id: str) -> None:
        if watch := self.running.get(round_id):
            log.info("round %s was cancelled: stopping its solve", round_id)
            watch.stop()
        else:
            self.cancelled.add(round_id)


async def solve_round(store: Store, cipher: Cipher, request: RoundRequested, settings: MatcherSettings, solves: Solves) -> None:
    consumer = f"{SERVICE}.rounds"
    if await was_handled(store, consumer, str(request.event_id)):
        return
    round_id = request.data.round.id
    if round_id in solves.cancelled:
        solves.cancelled.discard(round_id)
        log.info("round %s was cancelled before its solve began", round_id)
        await handle_once(store, consumer, request, handlers.nothing)
        return
    # Solve only on a projection at least as fresh as the registry was at launch.
    if reason := await wait_for_profiles(store, request, settings):
        await handle_once(store, consumer, request, handlers.publish_failure, reason)
        return
    cohort = await handlers.cohort_for(store, cipher, request)
    log.info("solving round %s with %d leaders", round_id, len(cohort.leaders))
    latest = Latest()
    watch = solves.running[round_id] = Watch(latest.put)
    started = time.perf_counter()
    try:
        # Solving in a thread keeps the event loop, and so the consumer's heartbeats, going: the flow
        # solver holds the interpreter lock for at most a fraction of a second at a time.
        solving = asyncio.create_task(asyncio.to_thread(solve, cohort, Limits(), watch))
        while not solving.done():
            await asyncio.wait({solving}, timeout=settings.progress_seconds)
            if (progress := latest.take()) is not None and not solving.done():
                await handlers.publish_progress(store, request, progress, time.perf_counter() - started)
        result = solving.result()
    except SolveStopped:
        log.info("round %s: solve stopped because the round was cancelled", round_id)
        await handle_once(store, consumer, request, handlers.nothing)
        return
    finally:
        solves.running.pop(round_id, None)
    elapsed = time.perf_counter() - started
    SOLVE_SECONDS.observe(elapsed)
    SOLVE_GAP.set(result.stats.gap)
    stats = result.stats.model_copy(update={"wall_seconds": round(elapsed, 3)})
    result = result.model_copy(update={"stats": stats})
    log.info("round %s: %d pairs, %d unmatched, %s", round_id, len(result.pairs), len(result.unmatched), result.stats.status)
    await handle_once(store, consumer, request, handlers.publish_result, result)


async def wait_for_profiles(store: Store, request: RoundRequested, settings: MatcherSettings) -> str | None:
    """Wait while the profiles the round names are still arriving; the reason to give up, if it comes to that.

    A large import can take a while to reach us, so the wait ends only when no new
    profile has arrived for freshness_wait_seconds, not after a fixed time.
    """
    missing = await handlers.missing_profiles(store, request)
    stalled_since = time.monotonic()
    while missing:
        await asyncio.sleep(0.2)
        still = await handlers.missing_profiles(store, request)
        if len(still) < len(missing):
            stalled_since = time.monotonic()
        elif time.monotonic() - stalled_since > settings.freshness_wait_seconds:
            return f"{len(still)} leaders' details had not reached the matcher in time; launch the round again"
        missing = still
    return None


class Latest:
    """The newest progress report from the solver's thread, taken by the event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._progress: Progress | None = None

    def put(self, progress: Progress) -> None:
        with self._lock:
            self._progress = progress

    def take(self) -> Progress | None:
        with self._lock:
            progress, self._progress = self._progress, None
            return progress


def build_broker(settings: MatcherSettings, store: Store, cipher: Cipher, solves: Solves | None = None) -> KafkaBroker:
    broker = create_broker(settings.kafka, SERVICE, settings.reliability)
    solves = solves or Solves()

    @broker.subscriber(LEADER_PROFILES.name, **batch_options(SERVICE, LEADER_PROFILES, settings.kafka), title="matcher: matching profiles")
    async def on_profiles(records: ProfileBatch) -> None:
        profiles = f"{SERVICE}.profiles"
        await project(
            broker,
            SERVICE,
            store,
            profiles,
            records,
            LeaderProfileChanged,
            handlers.apply_profile,
            handlers.forget_leader,
            cipher,
            preload=handlers.load_profiles,
        )

    @broker.subscriber(
        ROUNDS.name,
        **subscriber_options(SERVICE, ROUNDS, settings.kafka, max_poll_interval_ms=settings.max_poll_interval_ms),
        title="matcher: round requests",
    )
    async def on_round(event: RoundEvent) -> None:
        if isinstance(event, RoundRequested):
            await solve_round(store, cipher, event, settings, solves)

    # The round consumer is busy while it solves, so cancellations come through a second
    # reader of the same topic. Every instance must hear every cancellation: no consumer
    # group, and only what happens from now on (a restarted solve is not this process's).
    @broker.subscriber(
        ROUNDS.name,
        group_id=None,
        auto_offset_reset="latest",
        ack_policy=AckPolicy.MANUAL,
        include_in_schema=False,
    )
    async def on_cancel(body: Any, message: KafkaMessage) -> None:
        try:
            event = round_events.validate_json(message.raw_message.value or b"")
        except ValueError:
            return  # the round consumer dead-letters what it cannot read
        if isinstance(event, RoundCancelled):
            solves.cancel(event.data.round_id)

    broker.publisher(MATCHES.name, schema=MatchEvent, title="matcher: matches.v1", description=MATCHES.description)
    return broker


def create_app(settings: MatcherSettings) -> AsgiFastStream:
    cipher = Cipher(settings.encryption_keys)
    store = Store(make_engine(settings.database_url), Outbox, Inbox, Base.metadata, cipher)
    broker = build_broker(settings, store, cipher)
    return service_app(broker, store, settings.kafka, SERVICE, log)
