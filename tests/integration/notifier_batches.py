"""The notifier's batches of outcomes as their integration tests drive them (test_notifier_batch_*.py):
the records put on the real broker and read back, the consumer's part played as it plays it (the batch
handed to app.tell_outcomes, and handed again while it raises), and email servers that misbehave in
the ways those tests need, each wrapped round the real SMTP channel."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest
from aiokafka import AIOKafkaProducer

from schemas.topics import OUTCOMES
from services.common.deadletters import read_dead_letters
from services.common.embedded import read_maildir
from services.common.kafka import DeadLettersUnavailable, consumer_try, event_id_of
from services.common.store import DatabaseUnavailable
from services.notifier.app import tell_outcomes
from tests.integration.helpers import publish
from tests.integration.notifier_world import PARTNER, RULES, know, person, published
from tests.kafka_reading import read_topic


class Refuses:
    """The email server, not answering for these addresses (a set the test changes) and taking the rest."""

    def __init__(self, channel, *addresses: str):
        self.channel, self.addresses = channel, set(addresses)

    async def send(self, message, to, key):
        if to.email in self.addresses:
            raise OSError("the email server is not answering")
        return await self.channel.send(message, to, key)


class RefusesOnce:
    """The email server, not answering the first time it is given the message of each of these events."""

    def __init__(self, channel, *event_ids: str):
        self.channel, self.event_ids = channel, set(event_ids)

    async def send(self, message, to, key):
        event_id = key.split(":", 1)[0]
        if event_id in self.event_ids:
            self.event_ids.discard(event_id)
            raise OSError("the email server is not answering")
        return await self.channel.send(message, to, key)


class RefusesFor:
    """The email server, not answering for each of these events' messages the given number of times
    (None: never answering for it), and taking the rest."""

    def __init__(self, channel, refusals: dict[str, int | None]):
        self.channel, self.refusals = channel, dict(refusals)

    async def send(self, message, to, key):
        event_id = key.split(":", 1)[0]
        if event_id in self.refusals:
            left = self.refusals[event_id]
            if left is None or left > 0:
                self.refusals[event_id] = None if left is None else left - 1
                raise OSError("the email server is not answering")
        return await self.channel.send(message, to, key)


class SaysWhenPartWay:
    """The email server, with a moment's pause at the `nth` message, when it says it is part way through."""

    def __init__(self, channel, nth: int):
        self.channel, self.nth, self.sends = channel, nth, 0
        self.part_way = asyncio.Event()

    async def send(self, message, to, key):
        self.sends += 1
        if self.sends == self.nth:
            self.part_way.set()
            await asyncio.sleep(0.2)
        return await self.channel.send(message, to, key)


class SlowFor:
    """The email server, taking a while over the messages of these events (the email is larger, or the
    line slow); `started` is set when it begins the first of them."""

    def __init__(self, channel, *event_ids: str, seconds: float = 0.3):
        self.channel, self.event_ids, self.seconds = channel, set(event_ids), seconds
        self.started = asyncio.Event()

    async def send(self, message, to, key):
        if key.split(":", 1)[0] in self.event_ids:
            self.started.set()
            await asyncio.sleep(self.seconds)
        return await self.channel.send(message, to, key)


async def on_the_topic(kafka_settings, events, key: str, also: tuple[str, ...] = ()) -> list:
    """The outcomes published, all under one key (so on one partition, in this order), as the consumer reads
    them; with the records already there whose event ids are `also`."""
    for event in events:
        await publish(kafka_settings, OUTCOMES, key, event)
    ids = {str(event.event_id) for event in events} | set(also)
    records = await read_topic(
        kafka_settings.bootstrap_servers, OUTCOMES, keep=lambda r: event_id_of(r) in ids, expected=len(ids), timeout_s=20
    )
    assert len(records) == len(ids)
    return records


async def publish_bytes(kafka_settings, key: str, value: bytes, event_id: str) -> None:
    """A record on the outcomes topic that is not an outcome at all."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(OUTCOMES.name, value, key=key.encode(), headers=[("event_id", event_id.encode())])
    finally:
        await producer.stop()


async def consume(broker, n, records, tries: int = RULES.max_attempts) -> None:
    """As the consumer does: the batch again while it raises, up to its tries, telling the handler which
    try it is on (services/common/kafka.consumer_try); while the database is away, again without
    counting a try. Fails the test if the batch still raises on its last try: the consumer would then
    dead-letter the whole batch."""
    tried = 0
    while True:
        token = consumer_try.set((tried + 1, tries))
        try:
            await tell_outcomes(broker, n, records)
            return
        except (DatabaseUnavailable, DeadLettersUnavailable):  # not counted: the consumer waits for them
            await asyncio.sleep(0.2)
        except Exception as exc:  # noqa: BLE001 - the consumer tries the batch again
            tried += 1
            if tried >= tries:
                pytest.fail(f"the batch still failed after {tries} tries: {exc!r}")
        finally:
            consumer_try.reset(token)


async def dead_letters_of(kafka_settings, *events) -> list:
    ids = {str(event.event_id) for event in events}
    return [letter for letter in await read_dead_letters(kafka_settings, wait_ms=500) if letter.event_id in ids]


def mail_counts(maildir) -> Counter:
    return Counter(m["To"] for m in read_maildir(maildir))


def keys_to(maildir, address: str) -> list[str]:
    """The events of the emails one person was sent, in the order they arrived."""
    return [m["X-Pairing-Key"].split(":", 1)[0] for m in read_maildir(maildir) if m["To"] == address]


async def people(store, count: int) -> list[str]:
    tag = uuid.uuid4().hex[:6]
    ids = [f"pl-{tag}-{i}" for i in range(count)]
    await know(store, PARTNER, *(person(leader_id=leader, email=f"{leader}@example.org") for leader in ids))
    return ids


def of_round(leader_id: str, round_id: str):
    event = published(leader_id)
    return event.model_copy(update={"correlation_id": round_id, "data": event.data.model_copy(update={"round_id": round_id})})
