"""Giving up on a message of a batch of outcomes (services/notifier/batch.py) without breaking "each person
hears once" or a person's order: on the consumer's last try, while the dead-letter topic cannot be
written, and behind an earlier message that waits for the person's quiet hours. On the real broker (the
records read from it, dead letters written to it and replayed), a real database and a real SMTP server;
tests/integration/notifier_batches.py plays the consumer's part."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from aiokafka.errors import KafkaConnectionError

from schemas.topics import DEAD_LETTERS, OUTCOMES
from services.common.deadletters import replay
from services.common.kafka import event_id_of
from services.notifier import handlers
from services.notifier.clock import FrozenClock
from tests.integration.notifier_batches import (
    RefusesFor,
    consume,
    dead_letters_of,
    keys_to,
    mail_counts,
    of_round,
    on_the_topic,
    people,
)
from tests.integration.notifier_world import PARTNER, RULES, delivery_rows, know, notifier, person, published, reports
from tests.kafka_reading import read_topic

pytestmark = pytest.mark.integration


def everyone_once(leaders: list[str]) -> dict[str, int]:
    return {f"{leader}@example.org": 1 for leader in leaders}


async def replayed(kafka_settings, letters) -> list:
    """The dead letters sent back to the outcomes topic (`pairing dlq replay`), as the consumer then reads them."""
    assert await replay(kafka_settings, letters) == len(letters)
    ids = {letter.event_id for letter in letters}
    records = await read_topic(
        kafka_settings.bootstrap_servers,
        OUTCOMES,
        keep=lambda r: event_id_of(r) in ids,
        expected=2 * len(ids),
        timeout_s=20,
    )
    again = {event_id_of(r): r for r in sorted(records, key=lambda r: (r.partition, r.offset))}  # the newest of each
    return sorted(again.values(), key=lambda r: (r.partition, r.offset))


async def test_a_message_still_failing_on_the_consumers_last_try_is_given_up_alone_with_its_persons_later_ones(
    store, channels, smtp_server, kafka_settings, notifier_broker
):
    _, maildir = smtp_server
    amira, *others = await people(store, 4)
    earlier, later, latest = of_round(amira, "r1"), of_round(amira, "r2"), of_round(amira, "r3")
    events = [earlier, *(published(leader) for leader in others), later, latest]
    records = await on_the_topic(kafka_settings, events, key=amira)
    # The earlier message goes only on the consumer's last try; the later one, held back behind it until
    # then, is refused on that last try, with the latest held back behind it.
    refusals = {str(earlier.event_id): RULES.max_attempts - 1, str(later.event_id): None}
    server = RefusesFor(channels["email"], refusals)

    await consume(notifier_broker, notifier(store, {**channels, "email": server}), records)  # fails if the batch raises

    assert keys_to(maildir, f"{amira}@example.org") == [str(earlier.event_id)]
    assert mail_counts(maildir) == {f"{amira}@example.org": 1, **everyone_once(others)}
    told = sorted((str(r.data.outcome_event_id), r.data.status) for r in await reports(store))
    expected = [(str(earlier.event_id), "sent"), (str(later.event_id), "failed"), (str(latest.event_id), "failed")]
    assert told == sorted(expected + [(str(e.event_id), "sent") for e in events if e.data.leader_id != amira])
    letters = await dead_letters_of(kafka_settings, *events)
    assert [letter.event_id for letter in letters] == [str(later.event_id), str(latest.event_id)], "only those, in order"

    # The email server answers again; the dead letters are replayed, and Amira hears the rest, in order, once.
    await consume(notifier_broker, notifier(store, channels), await replayed(kafka_settings, letters))

    assert keys_to(maildir, f"{amira}@example.org") == [str(e.event_id) for e in (earlier, later, latest)]
    assert mail_counts(maildir) == {f"{amira}@example.org": 3, **everyone_once(others)}


class DeadLettersAway:
    """The notifier's broker, unable to write to the dead-letter topic the first `times` it is asked (as
    when the broker is away), and the real broker otherwise."""

    def __init__(self, broker, times: int):
        self.broker, self.times, self.refused = broker, times, 0

    async def publish(self, *args, topic=None, **kwargs):
        if topic == DEAD_LETTERS.name and self.refused < self.times:
            self.refused += 1
            raise KafkaConnectionError("the broker is not answering")
        return await self.broker.publish(*args, topic=topic, **kwargs)


async def test_a_message_given_up_on_while_the_dead_letter_topic_cannot_be_written_is_neither_lost_nor_sent_twice(
    store, channels, smtp_server, kafka_settings, notifier_broker
):
    _, maildir = smtp_server
    amira, *others = await people(store, 4)
    events = [published(leader) for leader in [amira, *others]]
    records = await on_the_topic(kafka_settings, events, key=amira)
    server = RefusesFor(channels["email"], {str(events[0].event_id): None})  # Amira's message never goes
    broker = DeadLettersAway(notifier_broker, times=2)

    await consume(broker, notifier(store, {**channels, "email": server}), records)

    assert broker.refused == 2, "giving her message up was tried while the dead-letter topic could not be written"
    assert mail_counts(maildir) == everyone_once(others), "nobody else was sent anything twice"
    told = sorted((r.data.leader_id, r.data.status) for r in await reports(store))
    assert told == sorted([(amira, "failed"), *((leader, "sent") for leader in others)]), "reported failed once"
    (row,) = [row for row in await delivery_rows(store) if row.leader_id == amira]
    assert row.status == "failed"
    (letter,) = await dead_letters_of(kafka_settings, *events)
    assert letter.event_id == str(events[0].event_id), "dead-lettered once, when the topic could be written"

    # Nothing was lost: replaying the dead letter, with the email server answering, sends it once.
    await consume(notifier_broker, notifier(store, channels), await replayed(kafka_settings, [letter]))

    assert mail_counts(maildir) == everyone_once([amira, *others])


async def test_a_later_message_for_someone_whose_earlier_one_waits_for_their_quiet_hours_goes_after_it(
    store, channels, smtp_server, kafka_settings, notifier_broker
):
    _, maildir = smtp_server
    texted = f"pl-{uuid.uuid4().hex[:6]}-text"
    await know(store, PARTNER, person(leader_id=texted, email=None, contact_method="sms", phone="07700 900123"))
    earlier, later = of_round(texted, "r1"), of_round(texted, "r2")
    clock = FrozenClock(dt.datetime(2026, 12, 15, 21, tzinfo=dt.UTC))  # the evening: their quiet hours
    server = RefusesFor(channels["email"], {str(earlier.event_id): 1})  # in the morning, refused the first time
    n = notifier(store, {**channels, "email": server}, clock=clock)
    await consume(notifier_broker, n, await on_the_topic(kafka_settings, [earlier], key=texted))  # a text: the morning
    await know(store, person(leader_id=texted, version=2, email=f"{texted}@example.org"))  # then they ask for email

    await consume(notifier_broker, n, await on_the_topic(kafka_settings, [later], key=texted))

    assert not mail_counts(maildir), "the later message waits behind the earlier one, though email has no quiet hours"
    clock.set(dt.datetime(2026, 12, 16, 12, tzinfo=dt.UTC))
    while await handlers.run_due(n):
        pass  # the scheduler, in the morning: each message due is tried
    assert not mail_counts(maildir), "the earlier one, refused, is to be tried again: the later one still waits"
    clock.set(dt.datetime(2026, 12, 16, 13, tzinfo=dt.UTC))
    while await handlers.run_due(n):
        pass
    assert keys_to(maildir, f"{texted}@example.org") == [str(earlier.event_id), str(later.event_id)]
