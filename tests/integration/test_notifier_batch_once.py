"""Each person hears once when the notifier takes a round's outcomes in batches (services/notifier/batch.py):
the four ways an earlier batch path broke it, each on the real broker (the records read from it, dead
letters written to it), a real database and a real SMTP server.

The consumer's part is played as it plays it: the batch of records is handed to the notifier
(app.tell_outcomes), and handed again, the same records, when it raises or the service restarts."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest

from schemas.topics import OUTCOMES
from services.common.deadletters import read_dead_letters
from services.common.embedded import read_maildir
from services.common.kafka import create_broker, ensure_topics, event_id_of
from services.common.settings import ReliabilitySettings
from services.notifier.app import tell_outcomes
from tests.integration.helpers import publish
from tests.integration.notifier_world import PARTNER, RULES, know, notifier, person, published, reports
from tests.kafka_reading import read_topic

pytestmark = pytest.mark.integration


class Refuses:
    """The email server, not answering for these addresses (a set the test changes) and taking the rest."""

    def __init__(self, channel, *addresses: str):
        self.channel, self.addresses = channel, set(addresses)

    async def send(self, message, to, key):
        if to.email in self.addresses:
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
    """The email server, taking a while over the messages of these events (the email is larger, or the line slow)."""

    def __init__(self, channel, *event_ids: str):
        self.channel, self.event_ids = channel, set(event_ids)

    async def send(self, message, to, key):
        if key.split(":", 1)[0] in self.event_ids:
            await asyncio.sleep(0.3)
        return await self.channel.send(message, to, key)


@pytest.fixture
async def broker(kafka_settings):
    """The notifier's broker, for its dead letters, with the topics made as the service makes them."""
    await ensure_topics(kafka_settings)
    broker = create_broker(kafka_settings, "notifier", ReliabilitySettings())
    await broker.start()
    yield broker
    await broker.stop()


async def on_the_topic(kafka_settings, events, key: str) -> list:
    """The outcomes published, all under one key (so on one partition, in this order), as the consumer reads them."""
    for event in events:
        await publish(kafka_settings, OUTCOMES, key, event)
    ids = {str(event.event_id) for event in events}
    records = await read_topic(
        kafka_settings.bootstrap_servers, OUTCOMES, keep=lambda r: event_id_of(r) in ids, expected=len(events), timeout_s=20
    )
    assert len(records) == len(events)
    return records


async def consume(broker, n, records, tries: int = RULES.max_attempts) -> None:
    """As the consumer does: the batch again while it raises, up to its tries."""
    for _ in range(tries):
        try:
            await tell_outcomes(broker, n, records)
            return
        except Exception:  # noqa: BLE001 - the consumer tries the batch again
            continue


async def dead_letters_of(kafka_settings, *events) -> list:
    ids = {str(event.event_id) for event in events}
    return [letter for letter in await read_dead_letters(kafka_settings, wait_ms=500) if letter.event_id in ids]


def mail_counts(maildir) -> Counter:
    return Counter(m["To"] for m in read_maildir(maildir))


async def people(store, count: int) -> list[str]:
    tag = uuid.uuid4().hex[:6]
    ids = [f"pl-{tag}-{i}" for i in range(count)]
    await know(store, PARTNER, *(person(leader_id=leader, email=f"{leader}@example.org") for leader in ids))
    return ids


def of_round(leader_id: str, round_id: str):
    event = published(leader_id)
    return event.model_copy(update={"correlation_id": round_id, "data": event.data.model_copy(update={"round_id": round_id})})


@pytest.mark.parametrize("database_kind", ["postgresql"])  # SQLite keeps a value of any length
async def test_an_outcome_that_cannot_be_recorded_is_dead_lettered_and_everyone_else_hears_once(
    store, channels, smtp_server, kafka_settings, broker, crashed_sends_taken_over_soon
):
    _, maildir = smtp_server
    leaders = await people(store, 14)
    bad = of_round(leaders[10], "r" * 150)  # longer than the database keeps a round's id: its delivery row is refused
    events = [bad if leader == leaders[10] else published(leader) for leader in leaders]
    records = await on_the_topic(kafka_settings, events, key=leaders[0])

    await consume(broker, notifier(store, channels), records)

    others = [leader for leader in leaders if leader != leaders[10]]
    assert mail_counts(maildir) == Counter({f"{leader}@example.org": 1 for leader in others})
    assert sorted(r.data.leader_id for r in await reports(store)) == sorted(others)
    (letter,) = await dead_letters_of(kafka_settings, *events)
    assert (letter.event_id, letter.consumer, letter.original_topic) == (str(bad.event_id), "notifier", OUTCOMES.name)
    assert "StringDataRightTruncation" in letter.error, "why it was given up on: the value too long for its column"


async def test_a_message_given_up_on_is_never_sent_after_its_last_try_while_another_in_its_batch_retries(
    store, channels, smtp_server, kafka_settings, broker, crashed_sends_taken_over_soon
):
    _, maildir = smtp_server
    amira, ben = await people(store, 2)
    first, second = published(amira), published(ben)
    server = Refuses(channels["email"], f"{amira}@example.org", f"{ben}@example.org")
    n = notifier(store, {**channels, "email": server})
    (amiras,) = await on_the_topic(kafka_settings, [first], key=amira)
    for _ in range(RULES.max_attempts - 1):  # read, and tried again, before the service restarted
        with pytest.raises(OSError):
            await tell_outcomes(broker, n, [amiras])
    (bens,) = await on_the_topic(kafka_settings, [second], key=amira)
    with pytest.raises(OSError):  # after the restart: Amira's last try, and Ben's first
        await tell_outcomes(broker, n, [amiras, bens])

    server.addresses.clear()  # the email server answers again, as the consumer tries the batch again
    await tell_outcomes(broker, n, [amiras, bens])

    assert mail_counts(maildir) == Counter({f"{ben}@example.org": 1}), "Amira was given up on: a person follows it up"
    told = sorted((r.data.leader_id, r.data.status) for r in await reports(store))
    assert told == [(amira, "failed"), (ben, "sent")]
    (letter,) = await dead_letters_of(kafka_settings, first, second)
    assert (letter.event_id, letter.attempts) == (str(first.event_id), RULES.max_attempts)


async def test_a_batch_stopped_part_way_leaves_only_the_messages_never_sent(
    store, channels, smtp_server, kafka_settings, broker, crashed_sends_taken_over_soon
):
    _, maildir = smtp_server
    leaders = await people(store, 20)
    records = await on_the_topic(kafka_settings, [published(leader) for leader in leaders], key=leaders[0])
    server = SaysWhenPartWay(channels["email"], nth=10)
    telling = asyncio.create_task(tell_outcomes(broker, notifier(store, {**channels, "email": server}), records))
    await server.part_way.wait()

    telling.cancel()  # the service is stopping
    with pytest.raises(asyncio.CancelledError):
        await telling
    assert 0 < server.sends < len(leaders), "stopped part way"
    await tell_outcomes(broker, notifier(store, channels), records)  # the batch read again after the restart

    assert mail_counts(maildir) == Counter({f"{leader}@example.org": 1 for leader in leaders})
    assert sorted(r.data.leader_id for r in await reports(store)) == sorted(leaders)


async def test_one_persons_two_messages_in_a_batch_arrive_in_the_batchs_order(
    store, channels, smtp_server, kafka_settings, broker
):
    _, maildir = smtp_server
    amira, *others = await people(store, 4)
    earlier, later = of_round(amira, "r1"), of_round(amira, "r2")
    events = [earlier, *(published(leader) for leader in others), later]
    records = await on_the_topic(kafka_settings, events, key=amira)

    await tell_outcomes(
        broker, notifier(store, {**channels, "email": SlowFor(channels["email"], str(earlier.event_id))}), records
    )

    amiras = [m["X-Pairing-Key"].split(":", 1)[0] for m in read_maildir(maildir) if m["To"] == f"{amira}@example.org"]
    assert amiras == [str(earlier.event_id), str(later.event_id)]
