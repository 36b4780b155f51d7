"""A bad event is retried a bounded number of times, then dead-lettered with its
position, and the partition keeps flowing."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import uuid
from types import SimpleNamespace
from typing import Annotated, Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import Column, MetaData, String, Table, insert, select

from schemas.events import RoundPublished, RoundRef
from schemas.topics import DEAD_LETTERS, Topic
from services.common.kafka import PermanentError, create_broker, ensure_topics, subscriber_options
from services.common.settings import ReliabilitySettings
from services.common.store import make_engine
from tests.kafka_reading import read_topic

pytestmark = pytest.mark.integration


async def dead_letters_about(kafka_settings, topic: str, expected: int) -> list:
    def about(record) -> bool:
        return dict(record.headers).get("original_topic") == topic.encode()

    return await read_topic(kafka_settings.bootstrap_servers, DEAD_LETTERS, about, expected, timeout_s=20)


async def test_poison_events_are_dead_lettered_and_good_events_still_flow(kafka_settings):
    topic = Topic(f"test.poison.{uuid.uuid4().hex[:6]}", key="round_id", partitions=1)
    await ensure_topics(kafka_settings, (topic, DEAD_LETTERS))
    broker = create_broker(kafka_settings, "poison-test", ReliabilitySettings(max_attempts=3, first_backoff_seconds=0.01))
    handled: list[str] = []
    transient_failures: list[int] = []

    @broker.subscriber(topic.name, **subscriber_options("poison-test", topic, kafka_settings))
    async def handle(event: RoundPublished) -> None:
        if event.data.round_id == "always-fails":
            transient_failures.append(1)
            raise ConnectionError("the downstream service is down")
        handled.append(event.data.round_id)

    def good(round_id: str) -> bytes:
        return RoundPublished(producer="t", data=RoundRef(round_id=round_id), correlation_id=round_id).model_dump_json().encode()

    await broker.start()
    try:
        for body in (b"\xff\xfe not json", b'{"event_type": "Unknown"}', good("always-fails"), good("after-the-poison")):
            await broker.publish(body, topic=topic.name, key=b"k")
        for _ in range(100):
            if "after-the-poison" in handled:
                break
            await asyncio.sleep(0.1)
    finally:
        await broker.stop()

    assert handled == ["after-the-poison"], "the partition keeps flowing past bad events"
    assert len(transient_failures) == 3, "a transient failure is retried a bounded number of times"
    letters = await dead_letters_about(kafka_settings, topic.name, 3)
    assert len(letters) == 3
    headers = [dict(r.headers) for r in letters]
    assert sorted(int(h["original_offset"]) for h in headers) == [0, 1, 2]
    assert all(h["original_partition"] == b"0" and h["consumer"] == b"poison-test" for h in headers)
    assert [h["attempts"] for h in headers] == [b"1", b"1", b"3"], "bad data is not retried; a failing handler is"
    assert b"ConnectionError" in headers[2]["error"]
    assert all(not r.value for r in letters), "no body (it may be personal): replay reads it from its topic"


async def test_dead_letters_can_be_listed_and_replayed_once_the_fault_is_fixed(kafka_settings):
    from services.common.deadletters import count_dead_letters, read_dead_letters, replay

    topic = Topic(f"test.replay.{uuid.uuid4().hex[:6]}", key="round_id", partitions=1)
    await ensure_topics(kafka_settings, (topic, DEAD_LETTERS))
    broker = create_broker(kafka_settings, "replay-test", ReliabilitySettings(max_attempts=2, first_backoff_seconds=0.01))
    downstream_up = False
    handled: list[str] = []

    @broker.subscriber(topic.name, **subscriber_options("replay-test", topic, kafka_settings))
    async def handle(event: RoundPublished) -> None:
        if not downstream_up:
            raise ConnectionError("the downstream service is down")
        handled.append(event.data.round_id)

    body = RoundPublished(producer="t", data=RoundRef(round_id="needs-replay"), correlation_id="r").model_dump_json()
    await broker.start()
    try:
        await broker.publish(body.encode(), topic=topic.name, key=b"k")
        for _ in range(100):
            mine = [
                letter for letter in await read_dead_letters(kafka_settings, wait_ms=200) if letter.original_topic == topic.name
            ]
            if mine:
                break
            await asyncio.sleep(0.1)
        assert len(mine) == 1 and mine[0].consumer == "replay-test" and "ConnectionError" in mine[0].error
        assert handled == []
        # What the queue monitor shows: every letter on the topic, counted without reading them.
        assert await count_dead_letters(kafka_settings) >= len(await read_dead_letters(kafka_settings, wait_ms=200)) >= 1

        downstream_up = True
        assert await replay(kafka_settings, mine) == 1
        for _ in range(100):
            if handled:
                break
            await asyncio.sleep(0.1)
    finally:
        await broker.stop()
    assert handled == ["needs-replay"]


async def test_a_projection_applies_its_batch_in_order_and_dead_letters_only_what_cannot_be_read(kafka_settings, tmp_path):
    """Contact details as the notifier keeps them: many at a time, a tombstone erasing in place,
    a record that is not an event set aside on its own, and a redelivery applied once."""
    from schemas.events import LeaderContact, LeaderContactChanged
    from services.common.crypto import Cipher, new_key
    from services.common.kafka import batch_options
    from services.common.projection import project, record_schema
    from services.common.store import Store, make_engine
    from services.notifier import handlers
    from services.notifier.adapters.orm import Base, ContactRow, Inbox, Outbox
    from services.notifier.erasure import forget_person

    topic = Topic(f"test.contacts.{uuid.uuid4().hex[:6]}", key="leader_id", partitions=1, compacted=True)
    await ensure_topics(kafka_settings, (topic, DEAD_LETTERS))
    store = Store(make_engine(f"sqlite:///{tmp_path / 'p.db'}"), Outbox, Inbox, Base.metadata)
    await store.prepare("notifier")
    cipher = Cipher(new_key())
    broker = create_broker(kafka_settings, "batch-test", ReliabilitySettings(max_attempts=2, first_backoff_seconds=0.01))
    batches: list[int] = []

    @broker.subscriber(topic.name, **batch_options("batch-test", topic, kafka_settings))
    async def on_contacts(records: Annotated[list[Any], record_schema(LeaderContactChanged, tombstones=True)]) -> None:
        batches.append(len(records))
        await project(
            broker,
            "batch-test",
            store,
            "batch-test",
            records,
            LeaderContactChanged,
            handlers.apply_contact,
            functools.partial(forget_person, SimpleNamespace(cipher=cipher, folders=())),
            cipher,
        )

    def changed(leader_id: str, version: int) -> LeaderContactChanged:
        data = LeaderContact(leader_id=leader_id, version=version, name=f"Person {leader_id}", role="patient_leader")
        return LeaderContactChanged(producer="t", correlation_id=leader_id, data=data)

    first = changed("a", 1)
    sends = [
        ("a", first.model_dump_json().encode()),
        ("b", changed("b", 1).model_dump_json().encode()),
        ("x", b"\xff\xfe not json"),
        ("b", None),  # b is erased: a tombstone
        ("a", changed("a", 2).model_dump_json().encode()),
        ("a", first.model_dump_json().encode()),  # a redelivery of an old event: applied once, never undoes version 2
        ("c", changed("c", 1).model_dump_json().encode()),
    ]
    # All on the topic before the projection starts, as after an import. Plain aiokafka: a tombstone is a record with no value.
    producer = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap_servers)
    await producer.start()
    try:
        for key, value in sends:
            await producer.send_and_wait(topic.name, value, key=key.encode())
    finally:
        await producer.stop()
    await broker.start()
    try:
        for _ in range(100):
            async with store.sessions() as session:
                if await session.get(ContactRow, "c") is not None:
                    break
            await asyncio.sleep(0.1)
    finally:
        await broker.stop()

    async with store.sessions() as session:
        rows = {row.leader_id: row.version for row in (await session.scalars(select(ContactRow))).all()}
    assert rows == {"a": 2, "c": 1}, "in order: b erased where its tombstone fell, a at its newest version"
    assert sum(batches) >= len(sends) and len(batches) < len(sends), "records came in batches"
    letters = await dead_letters_about(kafka_settings, topic.name, 1)
    assert [r.value for r in letters] == [b""], "only the unreadable record is set aside, without its body"
    assert dict(letters[0].headers)["original_offset"] == b"2"


async def test_a_database_error_quoting_a_person_leaves_no_trace_of_them_in_the_dead_letter_or_the_log(
    kafka_settings, database_url, database_kind, caplog
):
    """A handler that saves a person, on a real database: a second person with the same email breaks
    the table's rule, and the error carries the statement's values (their name, email and id).
    An event naming an id this service does not have is given up at once, its error naming the id.
    Their dead letters, and the service's log, say what kind of failure it was and why, and name no one."""
    people = Table(
        f"people_{uuid.uuid4().hex[:6]}",
        MetaData(),
        Column("id", String(100), primary_key=True),
        Column("name", String(200)),
        Column("email", String(320), unique=True),
    )
    engine = make_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(people.metadata.create_all)
    topic = Topic(f"test.personal.{uuid.uuid4().hex[:6]}", key="round_id", partitions=1)
    await ensure_topics(kafka_settings, (topic, DEAD_LETTERS))
    broker = create_broker(kafka_settings, "privacy-test", ReliabilitySettings(max_attempts=2, first_backoff_seconds=0.01))
    tag = uuid.uuid4().hex[:6]
    first = {"id": f"pl-first-{tag}", "name": f"Philippa Quennell {tag}", "email": f"quennell-{tag}@example.org"}
    second = {"id": f"pl-second-{tag}", "name": f"Evander Lockhart {tag}", "email": first["email"]}
    ghost = {"id": f"pl-ghost-{tag}", "missing": True}
    last = {"id": f"pl-last-{tag}", "name": "Last Person", "email": f"last-{tag}@example.org"}
    saved: list[str] = []
    errors: list[tuple[str, str]] = []  # each failure's class, and the values it carries

    @broker.subscriber(topic.name, **subscriber_options("privacy-test", topic, kafka_settings))
    async def handle(event: dict) -> None:
        if event.get("missing"):
            raise PermanentError(f"there is no leader called {event['id']}")
        try:
            async with engine.begin() as conn:
                await conn.execute(insert(people).values(**event))
        except Exception as exc:
            errors.append((exc.__class__.__name__, repr(getattr(exc, "params", None))))
            raise
        saved.append(event["id"])

    caplog.set_level(logging.INFO)
    await broker.start()
    try:
        for event in (first, second, ghost, last):
            await broker.publish(json.dumps(event).encode(), topic=topic.name, key=b"k")
        for _ in range(200):
            if last["id"] in saved:
                break
            await asyncio.sleep(0.1)
    finally:
        await broker.stop()
        await engine.dispose()

    assert saved == [first["id"], last["id"]]
    assert [name for name, _ in errors] == ["IntegrityError", "IntegrityError"], "tried twice, failing the same way"
    assert second["name"] in errors[0][1] and second["id"] in errors[0][1], "the error carries the statement's values"
    letters = await dead_letters_about(kafka_settings, topic.name, 2)
    assert len(letters) == 2
    personal = [second["id"], second["name"], second["email"], ghost["id"], first["name"], first["id"]]
    for record in letters:
        raw = (record.value or b"") + (record.key or b"") + b"".join(k.encode() + (v or b"") for k, v in record.headers)
        assert [p for p in personal if p.encode() in raw] == [], "no name, email or id in a dead letter"
    saved_twice, missing = (dict(r.headers)["error"].decode() for r in letters)
    assert saved_twice.startswith("IntegrityError (") and "the database refused the change" in saved_twice
    if database_kind == "postgresql":
        assert "UniqueViolationError" in saved_twice and f"constraint {people.name}_email_key" in saved_twice
    assert missing.startswith("PermanentError: the event names something this service does not have")
    logged = caplog.text
    assert "dead-lettered" in logged and "IntegrityError" in logged
    assert [p for p in personal if p in logged] == [], "nor in the service's log"
