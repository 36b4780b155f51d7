"""The outbox relay sends the bodies its own process has just sealed without decrypting them again
(Store.sealed_bodies), and decrypts every other one: written by another process, before a restart,
rotated by `pairing rekey` since, or pushed out of the cache. Each is checked by what reaches the
broker, and by how many bodies the relay had to decrypt."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, update

from schemas.events import RoundPublished, RoundRef
from schemas.topics import ROUNDS
from services.common.crypto import Cipher, new_key
from services.common.kafka import ensure_topics, make_producer
from services.common.relay import OutboxRelay
from services.common.sealed_bodies import SealedBodies
from services.common.store import Store, make_engine
from services.registry.adapters.orm import Base, Inbox, Outbox
from tests.kafka_reading import read_topic

pytestmark = pytest.mark.integration


class CountingCipher(Cipher):
    """A real cipher that counts the bodies it decrypts."""

    def __init__(self, keys: str):
        super().__init__(keys)
        self.opened = 0

    def open_bytes(self, token: bytes) -> bytes:
        self.opened += 1
        return super().open_bytes(token)


def opened(store: Store) -> int:
    assert isinstance(store.cipher, CountingCipher)
    return store.cipher.opened


def published(round_id: str) -> RoundPublished:
    return RoundPublished(producer="test", data=RoundRef(round_id=round_id), correlation_id=round_id)


async def send_pending(store: Store, kafka_settings) -> int:
    producer = make_producer(kafka_settings, "test")
    await producer.start()
    try:
        return await OutboxRelay(store, producer).publish_pending()
    finally:
        await producer.stop()


async def on_the_topic(kafka_settings, events: list[RoundPublished]) -> list[RoundPublished]:
    keys = {event.data.round_id.encode() for event in events}
    records = await read_topic(kafka_settings.bootstrap_servers, ROUNDS, lambda r: r.key in keys, len(events))
    return sorted((RoundPublished.model_validate_json(r.value) for r in records), key=lambda e: e.data.round_id)


@pytest.fixture
async def stores(database_url):
    """Two stores on one database with the same key: two processes of one service (or one, restarted)."""
    key = new_key()
    made = [Store(make_engine(database_url), Outbox, Inbox, Base.metadata, CountingCipher(key)) for _ in range(2)]
    await made[0].prepare("registry")
    yield made
    for store in made:
        await store.engine.dispose()


async def write(store: Store, events: list[RoundPublished]) -> None:
    async with store.unit_of_work() as uow:
        for event in events:
            uow.publish(ROUNDS, event.data.round_id, event)
        await uow.commit()


def some_events(count: int) -> list[RoundPublished]:
    tag = uuid.uuid4().hex[:6]
    return [published(f"cache-{tag}-{n}") for n in range(count)]


async def test_the_relay_sends_its_own_process_bodies_without_decrypting_them(stores, kafka_settings):
    await ensure_topics(kafka_settings)
    store, _ = stores
    events = some_events(3)
    await write(store, events)
    async with store.sessions() as session:
        stored = (await session.scalars(select(Outbox.value).where(Outbox.published_at.is_(None)))).all()
    assert len(stored) == 3 and all(value is not None and b"cache-" not in value for value in stored)  # sealed at rest
    assert await send_pending(store, kafka_settings) == 3
    assert opened(store) == 0
    assert store.sealed_bodies == {}  # each is forgotten once sent
    assert await on_the_topic(kafka_settings, events) == sorted(events, key=lambda e: e.data.round_id)


async def test_another_process_or_a_restart_decrypts_the_bodies(stores, kafka_settings):
    await ensure_topics(kafka_settings)
    writer, other = stores
    events = some_events(3)
    await write(writer, events)
    assert await send_pending(other, kafka_settings) == 3
    assert opened(other) == 3
    assert await on_the_topic(kafka_settings, events) == sorted(events, key=lambda e: e.data.round_id)


async def test_a_body_rotated_since_it_was_sealed_is_decrypted(stores, kafka_settings):
    await ensure_topics(kafka_settings)
    store, _ = stores
    events = some_events(2)
    await write(store, events)
    # As `pairing rekey` does to events still waiting: the same body under a new token.
    rotated = events[0].data.round_id
    async with store.sessions() as session, session.begin():
        token = await session.scalar(select(Outbox.value).where(Outbox.key == rotated))
        assert store.cipher is not None
        await session.execute(update(Outbox).where(Outbox.key == rotated).values(value=store.cipher.rotate(token)))
    before = opened(store)  # rotating opened it once too
    assert await send_pending(store, kafka_settings) == 2
    assert opened(store) - before == 1
    assert await on_the_topic(kafka_settings, events) == sorted(events, key=lambda e: e.data.round_id)


async def test_a_transaction_rolled_back_leaves_nothing_for_the_relay(stores):
    store, _ = stores
    async with store.unit_of_work() as uow:
        uow.publish(ROUNDS, "never", published("never"))
    with pytest.raises(RuntimeError):
        async with store.unit_of_work() as uow:
            uow.publish(ROUNDS, "never", published("never"))
            raise RuntimeError("the handler failed")
    assert store.sealed_bodies == {}


async def test_the_cache_keeps_only_the_newest_bodies(stores, kafka_settings, monkeypatch):
    await ensure_topics(kafka_settings)
    store, _ = stores
    monkeypatch.setattr(SealedBodies, "HELD", 2)
    events = some_events(3)
    await write(store, events[:1])
    await write(store, events[1:])  # the oldest pushed out by the next commit
    assert len(store.sealed_bodies) == 2
    assert await send_pending(store, kafka_settings) == 3
    assert opened(store) == 1  # the oldest, pushed out
    assert await on_the_topic(kafka_settings, events) == sorted(events, key=lambda e: e.data.round_id)
