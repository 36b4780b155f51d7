"""The matcher's profiles arriving in batches through the real broker, as the matcher's subscriber takes
them (services/matcher/app.py): one transaction and one statement for the batch's profiles, a
tombstone erasing where it falls, a redelivery applied once, and a record that is not an event
dead-lettered on its own while the rest of its batch still lands."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import select

from schemas.events import LeaderProfile, LeaderProfileChanged
from schemas.topics import DEAD_LETTERS, Topic
from services.common.crypto import Cipher, new_key
from services.common.kafka import batch_options, create_broker, ensure_topics
from services.common.projection import project, record_schema
from services.common.settings import ReliabilitySettings
from services.common.store import Store, make_engine
from services.matcher import handlers
from services.matcher.adapters.orm import Base, Inbox, Outbox, ProfileRow
from services.matcher.domain.generate import generate_cohort
from tests.kafka_reading import read_topic

pytestmark = pytest.mark.integration


async def test_a_batch_lands_in_order_and_only_the_unreadable_record_is_dead_lettered(kafka_settings, tmp_path):
    topic = Topic(f"test.profiles.{uuid.uuid4().hex[:6]}", key="leader_id", partitions=1, compacted=True)
    await ensure_topics(kafka_settings, (topic, DEAD_LETTERS))
    store = Store(make_engine(f"sqlite:///{tmp_path / 'matcher.db'}"), Outbox, Inbox, Base.metadata)
    await store.prepare("matcher")
    cipher = Cipher(new_key())
    broker = create_broker(kafka_settings, "profile-batches", ReliabilitySettings(max_attempts=2, first_backoff_seconds=0.01))
    batches: list[int] = []

    @broker.subscriber(topic.name, **batch_options("profile-batches", topic, kafka_settings))
    async def on_profiles(records: Annotated[list[Any], record_schema(LeaderProfileChanged, tombstones=True)]) -> None:
        batches.append(len(records))
        await project(
            broker,
            "profile-batches",
            store,
            "matcher.profiles",
            records,
            LeaderProfileChanged,
            handlers.apply_profile,
            handlers.forget_leader,
            cipher,
            preload=handlers.load_profiles,
        )

    a, b, c = generate_cohort(2, 1, seed=9).leaders[:3]

    def changed(profile, version: int) -> bytes:
        data = LeaderProfile(version=version, status="active", profile=profile)
        return LeaderProfileChanged(producer="t", correlation_id=profile.id, data=data).model_dump_json().encode()

    a_first = changed(a, 1)
    sends = [
        (a.id, a_first),
        (b.id, changed(b, 1)),
        ("unreadable", b"\xff\xfe not json"),
        (b.id, None),  # b is erased: a tombstone
        (a.id, changed(a, 2)),
        (a.id, a_first),  # a redelivery of an old event: applied once, never undoes version 2
        (c.id, changed(c, 1)),
    ]
    # All on the topic before the projection starts, as after an import. A tombstone is a record with no value.
    producer = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap_servers)
    await producer.start()
    try:
        for key, value in sends:
            await producer.send_and_wait(topic.name, value, key=key.encode())
    finally:
        await producer.stop()
    await broker.start()
    try:
        for _ in range(200):
            async with store.sessions() as session:
                if await session.get(ProfileRow, c.id) is not None:
                    break
            await asyncio.sleep(0.1)
    finally:
        await broker.stop()

    async with store.sessions() as session:
        rows = {row.leader_id: row for row in (await session.scalars(select(ProfileRow))).all()}
    assert {leader: row.version for leader, row in rows.items()} == {a.id: 2, c.id: 1}, "b erased where its tombstone fell"
    assert cipher.open(rows[a.id].sealed)["id"] == a.id
    assert sum(batches) >= len(sends) and len(batches) < len(sends), "records came in batches"

    def about(record) -> bool:
        return dict(record.headers).get("original_topic") == topic.name.encode()

    letters = await read_topic(kafka_settings.bootstrap_servers, DEAD_LETTERS, about, 1, timeout_s=20)
    assert [(r.key, r.value) for r in letters] == [(b"unreadable", b"")], "only the unreadable record, without its body"
    await store.engine.dispose()
