"""The registry as the integration tests start it: its API on a database and the broker, or only its store."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from services.common.crypto import new_key
from services.common.settings import KafkaSettings
from services.common.store import Store, make_engine
from services.notifier.adapters import orm as notifier_orm
from services.notifier.adapters.channels import PersonTaskChannel
from services.notifier.app import make_channels
from services.notifier.config import NotifierSettings
from services.registry.app import create_app
from services.registry.config import RegistrySettings
from services.registry.event_refs import registry_store as registry_store_on
from tests.integration.fake_notify import API_KEY, TEMPLATES, FakeNotify
from tests.integration.notifier_world import DAYTIME, KEY

# Tests marked needs_apache_kafka start their own Apache Kafka node (tests/kafka_tls.py).
from tests.kafka_tls import pytest_collection_modifyitems, pytest_configure  # noqa: F401 - pytest's hooks, found by name

ADMIN = ("admin@test.example", "a long test password")


def unique(leader: dict) -> dict:
    return {**leader, "id": f"{leader['id']}-{uuid.uuid4().hex[:6]}"}


# ---- the notifier as its integration tests start it (helpers in tests/integration/notifier_world.py)


@pytest.fixture
async def store(database_url):
    """The notifier's tables and outbox."""
    store = Store(make_engine(database_url), notifier_orm.Outbox, notifier_orm.Inbox, notifier_orm.Base.metadata)
    await store.prepare("notifier")
    yield store
    await store.engine.dispose()


@pytest.fixture
def crashed_sends_taken_over_soon(monkeypatch):
    """A send whose handler died after claiming it is taken over one second after the claim rather
    than fifteen (STILL_SENDING in services/notifier/delivery.py): the tests of a crash while sending
    still go through the wait for the other handler, without sitting out the product's margin."""
    import datetime as dt

    from services.notifier import delivery

    monkeypatch.setattr(delivery, "STILL_SENDING", dt.timedelta(seconds=1))


@pytest.fixture
async def notifier_broker(kafka_settings):
    """The notifier's broker, for its dead letters, with the topics made as the service makes them."""
    from services.common.kafka import create_broker, ensure_topics
    from services.common.settings import ReliabilitySettings

    await ensure_topics(kafka_settings)
    broker = create_broker(kafka_settings, "notifier", ReliabilitySettings())
    await broker.start()
    yield broker
    await broker.stop()


@pytest.fixture
def notify():
    """A local GOV.UK Notify (tests/integration/fake_notify.py), running for the test."""
    fake = FakeNotify()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path) -> NotifierSettings:
    """The notifier's settings: mail goes to the test's SMTP server, or, for a test marked
    `notify`, every channel Notify offers goes through the local Notify."""
    if request.node.get_closest_marker("notify"):
        notify = request.getfixturevalue("notify")
        return NotifierSettings(
            encryption_keys=KEY,
            event_keys=KEY,
            output_dir=tmp_path / "out",
            channel="notify",
            notify_api_key=API_KEY,
            notify_base_url=notify.url,
            notify_email_template_id=TEMPLATES["email"],
            notify_sms_template_id=TEMPLATES["sms"],
            notify_letter_template_id=TEMPLATES["letter"],
            notify_timeout_seconds=5,
        )
    port, _ = request.getfixturevalue("smtp_server")
    return NotifierSettings(encryption_keys=KEY, event_keys=KEY, smtp_port=port, output_dir=tmp_path / "out")


@pytest.fixture
def channels(settings):
    made = make_channels(settings)
    # Tasks for a person are due a number of working days before the answer date: counted from the test's today.
    made["person"] = PersonTaskChannel(settings.tasks_dir, settings.task_days, today=DAYTIME.date)
    return made


# ---- the registry


@contextlib.asynccontextmanager
async def running_registry(database_url: str, kafka_settings: KafkaSettings, **settings) -> AsyncIterator[httpx.AsyncClient]:
    """The registry app, started on the database with a new key and signed in to as ADMIN: a client
    for its API, with its store and signer as `client.store` and `client.signer`. Pages are signed in to
    with a password alone unless `require_second_factor=True` (tests/integration/test_accounts.py)."""
    key = new_key()
    settings = RegistrySettings(
        **{
            "database_url": database_url,
            "encryption_keys": key,
            "event_keys": new_key(),
            "token_secret": key,
            "kafka": kafka_settings,
            "admin_email": ADMIN[0],
            "admin_password": ADMIN[1],
            "require_second_factor": False,
            **settings,
        }
    )
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
    store = registry_store_on(make_engine(database_url))
    await store.prepare("registry")
    yield store
    await store.engine.dispose()


async def event_refs_of(store) -> dict[str, str]:
    """Each leader's event reference, by registry id: the registry's events name people by it
    (services/registry/event_refs.py)."""
    async with store.engine.connect() as conn:
        return dict((await conn.execute(text("select id, event_ref from leaders"))).all())


def with_references(event, refs: dict[str, str]):
    """The event as another service sends it: every registry id in it (a JSON string of its own)
    replaced by that person's event reference (`refs`, from event_refs_of), for the registry's consumers to turn back."""
    body = event.model_dump_json()
    for leader_id, ref in refs.items():
        body = body.replace(f'"{leader_id}"', f'"{ref}"')
    return type(event).model_validate_json(body)


def with_ids(event, refs: dict[str, str]):
    """The event as the registry reads it: every event reference in it back to a registry id."""
    body = event.model_dump_json()
    for leader_id, ref in refs.items():
        body = body.replace(f'"{ref}"', f'"{leader_id}"')
    return type(event).model_validate_json(body)
