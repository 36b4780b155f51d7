"""The matcher process: projection of matching profiles, solving on request."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy

from schemas.events import LeaderProfileChanged, MatchEvent, RoundCancelled, RoundEvent, RoundRequested, round_events
from schemas.topics import LEADER_PROFILES, MATCHES, ROUNDS
from services.common.collector import freeze_what_is_loaded
from services.common.crypto import Cipher
from services.common.kafka import PROMPT, batch_options, create_broker, subscriber_options
from services.common.projection import project, record_schema
from services.common.retention import PurgeJob, purge_event_records
from services.common.runtime import service_app
from services.common.store import Store, make_engine, utc_now
from services.matcher import handlers
from services.matcher.adapters.orm import Base, Inbox, Outbox
from services.matcher.config import MatcherSettings

# A projection's handler takes a batch of records (services/common/projection.py).
ProfileBatch = Annotated[list[Any], record_schema(LeaderProfileChanged, tombstones=True)]

SERVICE = "matcher"
log = logging.getLogger("pairing.matcher")


def build_broker(settings: MatcherSettings, store: Store, cipher: Cipher, solves: handlers.Solves | None = None) -> KafkaBroker:
    broker = create_broker(settings.kafka, SERVICE, settings.reliability)
    solves = solves or handlers.Solves()

    @broker.subscriber(
        LEADER_PROFILES.name, **batch_options(SERVICE, LEADER_PROFILES, settings.kafka), title="matcher: matching profiles"
    )
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
        **subscriber_options(SERVICE, ROUNDS, settings.kafka, max_poll_interval_ms=settings.max_poll_interval_ms, **PROMPT),
        title="matcher: round requests",
    )
    async def on_round(event: RoundEvent) -> None:
        if isinstance(event, RoundRequested):
            await handlers.solve_round(store, cipher, event, settings, solves)

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
        record = message.raw_message
        if isinstance(record, tuple):
            return  # a batch: this reader is not one, so it never gets one
        try:
            event = round_events.validate_json(record.value or b"")
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
    app = service_app(broker, store, settings.kafka, SERVICE, log)
    # Its profiles follow the compacted topic (a tombstone deletes one); what else it keeps goes here.
    purging = PurgeJob(SERVICE, lambda: purge_event_records(store, utc_now(), settings.retention_days))

    @app.after_startup
    async def start_purging() -> None:
        purging.start()
        freeze_what_is_loaded()

    @app.on_shutdown
    async def stop_purging() -> None:
        await purging.stop()

    return app
