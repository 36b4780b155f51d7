"""The registry process: HTTP API for managers, Kafka consumers for results,
and the outbox relay. Everything is built here from settings, nothing at import."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from itsdangerous import URLSafeTimedSerializer
from pydantic import BaseModel

from schemas.events import (
    AnswerEvent,
    LeaderContactChanged,
    LeaderKeyShared,
    LeaderProfileChanged,
    MatchEvent,
    NotificationStatusChanged,
    OutcomePublished,
    ResponseEvent,
    RoundEvent,
    RoundProgress,
    RoundSolved,
    TextReplyReceived,
)
from schemas.topics import DELIVERIES, LEADER_CONTACTS, LEADER_KEYS, LEADER_PROFILES, MATCHES, OUTCOMES, RESPONSES, ROUNDS
from services.common.collector import freeze_what_is_loaded
from services.common.crypto import Cipher
from services.common.kafka import GATHERED, PROMPT, batch_options, create_broker, ensure_topics, subscriber_options
from services.common.observability import metrics_app
from services.common.projection import project, record_schema
from services.common.retention import PurgeJob
from services.common.runtime import outbox_relay, sampling, stop_within
from services.common.store import Store, handle_once, make_engine, utc_now
from services.registry import retention
from services.registry.api import install_routes
from services.registry.config import RegistrySettings
from services.registry.event_refs import ids_of, registry_store, translated
from services.registry.handlers import publishing, rounds
from services.registry.handlers.leaders import share_under_references
from services.registry.person_keys import PersonKeys
from services.registry.registry import Registry
from services.registry.text_replies import record_text_reply

# A projection's handler takes a batch of records (services/common/projection.py).
DeliveryBatch = Annotated[list[Any], record_schema(NotificationStatusChanged)]

SERVICE = "registry"


class Problem(BaseModel):
    detail: str


class FieldProblem(BaseModel):
    field: str
    message: str


class ValidationProblem(BaseModel):
    detail: str
    errors: list[FieldProblem] = []


def build_broker(settings: RegistrySettings, store: Store) -> KafkaBroker:
    broker = create_broker(settings.kafka, SERVICE, settings.reliability)
    consumer = f"{SERVICE}.matches"

    @broker.subscriber(
        MATCHES.name, **subscriber_options(SERVICE, MATCHES, settings.kafka, **PROMPT), title="registry: matcher results"
    )
    async def on_match_result(event: MatchEvent) -> None:
        if isinstance(event, RoundSolved):
            await handle_once(store, consumer, event, translated(rounds.record_solution))
        elif isinstance(event, RoundProgress):
            await handle_once(store, consumer, event, translated(rounds.record_progress))
        else:
            await handle_once(store, consumer, event, translated(rounds.record_failure))

    @broker.subscriber(
        DELIVERIES.name, **batch_options(SERVICE, DELIVERIES, settings.kafka), **GATHERED, title="registry: delivery reports"
    )
    async def on_deliveries(records: DeliveryBatch) -> None:
        await project(
            broker,
            SERVICE,
            store,
            f"{SERVICE}.deliveries",
            records,
            NotificationStatusChanged,
            translated(publishing.record_delivery),
            None,
            # Who the batch's people are, in one query: record_delivery then asks event_refs' caches.
            preload=ids_of,
        )

    cipher = Cipher(settings.encryption_keys)

    @broker.subscriber(
        RESPONSES.name, **subscriber_options(SERVICE, RESPONSES, settings.kafka), title="registry: answers by text"
    )
    async def on_text_reply(event: ResponseEvent) -> None:
        # The answers on this topic are the registry's own; it records the replies to text messages the notifier read.
        if isinstance(event, TextReplyReceived):
            await handle_once(store, f"{SERVICE}.text_replies", event, translated(record_text_reply), cipher)

    # What the registry publishes (through its outbox), for the AsyncAPI document.
    for topic, schema in (
        (LEADER_PROFILES, LeaderProfileChanged),
        (LEADER_CONTACTS, LeaderContactChanged),
        (LEADER_KEYS, LeaderKeyShared),
        (ROUNDS, RoundEvent),
        (OUTCOMES, OutcomePublished),
        (RESPONSES, AnswerEvent),
    ):
        broker.publisher(topic.name, schema=schema, title=f"registry: {topic.name}", description=topic.description)
    return broker


def create_app(settings: RegistrySettings) -> FastAPI:
    from services.registry.web import install_web

    cipher = Cipher(settings.encryption_keys)
    store = registry_store(make_engine(settings.database_url), cipher)
    registry = Registry(
        settings=settings,
        store=store,
        cipher=cipher,
        broker=build_broker(settings, store),
        signer=URLSafeTimedSerializer(settings.token_secret, salt="pairing-response"),
        person_keys=PersonKeys(cipher, Cipher(settings.event_keys)),
    )

    purging = PurgeJob(
        SERVICE,
        lambda: retention.purge(store, cipher, utc_now(), settings.retention_days, settings.audit_retention_days),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await store.prepare(SERVICE)
        # People registered before events carried references are shared again under them, once.
        while True:
            async with store.unit_of_work() as uow:
                shared = await share_under_references(uow, cipher, registry.person_keys)
                await uow.commit()
            if not shared:
                break
        await ensure_topics(settings.kafka)
        async with outbox_relay(store, settings.kafka, SERVICE):
            await registry.broker.start()
            purging.start()
            try:
                async with sampling(SERVICE, registry.broker, store):
                    freeze_what_is_loaded()
                    yield
            finally:
                await stop_within("the registry's purge job", purging.stop())
                await stop_within("the registry's event consumers", registry.broker.stop())
        await stop_within("the registry's database connections", store.engine.dispose())

    app = FastAPI(
        responses={
            400: {"model": Problem, "description": "The request cannot be used as it is"},
            401: {
                "model": Problem,
                "description": "Sign in first: an API token (Authorization: Bearer ...) an admin makes on /manage/tokens",
            },
            403: {"model": Problem, "description": "Your role may not do this"},
            404: {"model": Problem, "description": "There is nothing with that id"},
            409: {"model": Problem, "description": "Not allowed in the current state; the detail says why"},
            422: {"model": ValidationProblem, "description": "Some fields need fixing; each is named with the reason"},
        },
        title="Pairing registry",
        description="Register leaders, launch pairing rounds, review, approve and publish pairs.",
        version="0.1.0",
        lifespan=lifespan,
        # The guide and its description are served by web/guide.py, to signed-in people only.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.registry = registry
    app.mount("/metrics", metrics_app())
    install_routes(app)
    install_web(app)
    return app
