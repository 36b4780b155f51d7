"""The registry as the integration tests start it: its API on a database and the broker, or only its store."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from services.common.crypto import new_key
from services.common.settings import KafkaSettings
from services.common.store import Store, make_engine
from services.registry.adapters.orm import Base, Inbox, Outbox
from services.registry.app import create_app
from services.registry.config import RegistrySettings

ADMIN = ("admin@test.example", "a long test password")


def unique(leader: dict) -> dict:
    return {**leader, "id": f"{leader['id']}-{uuid.uuid4().hex[:6]}"}


@contextlib.asynccontextmanager
async def running_registry(database_url: str, kafka_settings: KafkaSettings, **settings) -> AsyncIterator[httpx.AsyncClient]:
    """The registry app, started on the database with a new key and signed in to as ADMIN: a client
    for its API, with its store and signer as `client.store` and `client.signer`. Pages are signed in to
    with a password alone unless `require_second_factor=True` (tests/integration/test_accounts.py)."""
    key = new_key()
    settings = RegistrySettings(**{
        "database_url": database_url,
        "encryption_keys": key,
        "event_keys": new_key(),
        "token_secret": key,
        "kafka": kafka_settings,
        "admin_email": ADMIN[0],
        "admin_password": ADMIN[1],
        "require_second_factor": False,
        **settings,
    })
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry", auth=ADMIN) as client:
            client.store = app.state.registry.store
            client.signer = app.state.registry.signer
            yield client


@pytest.fixture
async def registry(database_url, kafka_settings):
    async with running_registry(database_url, kafka_settings) as client:
        yield client


@pytest.fixture
async def registry_store(database_url):
    """The registry's tables and outbox, without the app around them."""
    store = Store(make_engine(database_url), Outbox, Inbox, Base.metadata)
    await store.prepare("registry")
    yield store
    await store.engine.dispose()

# Tests marked needs_apache_kafka start their own Apache Kafka node (tests/kafka_tls.py).
from tests.kafka_tls import pytest_collection_modifyitems, pytest_configure  # noqa: E402, F401
