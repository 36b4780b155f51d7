"""Each person hears exactly once, and one person's messages stay in order, when a batch of outcomes
(services/notifier/batch.py) meets trouble: a refused send, the database going away or refusing a
value, a slow email server, quiet hours that begin part way through, a message's own odd error.
Each on the real broker, a real database and a real SMTP server (tests/integration/notifier_batches.py
plays the consumer's part and wraps the email server)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import asyncpg
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from schemas.events import LeaderContact
from schemas.topics import OUTCOMES
from services.common.deadletters import read_dead_letters, replay
from services.common.kafka import event_id_of, is_permanent
from services.common.store import Store, make_engine
from services.notifier import batch_groups
from services.notifier.adapters.orm import Base, DeliveryRow, Inbox, Outbox
from services.notifier.app import tell_outcomes
from services.notifier.batch_groups import FEW
from services.notifier.clock import FrozenClock
from services.notifier.delivery import FINISHED
from tests.cuttable import CuttableLink
from tests.integration.notifier_batches import (
    RefusesOnce,
    SlowFor,
    consume,
    dead_letters_of,
    keys_to,
    mail_counts,
    of_round,
    on_the_topic,
    people,
    publish_bytes,
)
from tests.integration.notifier_world import delivery_rows, know, notifier, person, published, reports
from tests.kafka_reading import read_topic

pytestmark = pytest.mark.integration


def everyone_once(leaders: list[str]) -> dict[str, int]:
    return {f"{leader}@example.org": 1 for leader in leaders}


async def test_a_persons_later_message_waits_while_their_earlier_one_is_tried_again(
    store, channels, smtp_server, kafka_settings, notifier_broker
):
    _, maildir = smtp_server
    amira, *others = await people(store, 4)
    earlier, later = of_round(amira, "r1"), of_round(amira, "r2")
    records = await on_the_topic(kafka_settings, [earlier, *(published(leader) for leader in others), later], key=amira)
    server = RefusesOnce(channels["email"], str(earlier.event_id))  # the earlier one is refused the first time

    await consume(notifier_broker, notifier(store, {**channels, "email": server}), records)

    assert keys_to(maildir, f"{amira}@example.org") == [str(earlier.event_id), str(later.event_id)]
    assert mail_counts(maildir) == {f"{amira}@example.org": 2, **everyone_once(others)}


async def test_a_few_that_breaks_off_at_its_turn_holds_back_its_peoples_later_messages(
    store, channels, smtp_server, kafka_settings, notifier_broker, crashed_sends_taken_over_soon, monkeypatch
):
    # The next few is claimed while the one before is sent; if the first few's turn breaks off after its
    # claim (here its look for erasures fails once), Amira's later message, two fews on, must not go first.
    _, maildir = smtp_server
    amira, *others = await people(store, 4)
    earlier, later = of_round(amira, "r1"), of_round(amira, "r2")
    records = await on_the_topic(kafka_settings, [earlier, *(published(leader) for leader in others), later], key=amira)
    looks = 0
    real_look = batch_groups.erased_now

    async def fails_once(n, written):
        nonlocal looks
        looks += 1
        if looks == 1:
            raise RuntimeError("the first few's turn broke off")
        return await real_look(n, written)

    monkeypatch.setattr(batch_groups, "erased_now", fails_once)

    await consume(notifier_broker, notifier(store, channels), records)

    assert keys_to(maildir, f"{amira}@example.org") == [str(earlier.event_id), str(later.event_id)]
    assert mail_counts(maildir) == {f"{amira}@example.org": 2, **everyone_once(others)}


class CutsTheDatabaseAfter:
    """The email server; once it has taken `nth` messages the database goes away for a moment."""

    def __init__(self, channel, link: CuttableLink, nth: int):
        self.channel, self.link, self.nth, self.sends = channel, link, nth, 0

    async def send(self, message, to, key):
        detail = await self.channel.send(message, to, key)
        self.sends += 1
        if self.sends == self.nth:
            self.link.cut()
            asyncio.get_running_loop().call_later(1.0, self.link.restore)
        return detail


@pytest.mark.parametrize("database_kind", ["postgresql"])  # a database the notifier reaches over the network
async def test_the_database_going_away_while_a_few_is_recorded_sends_nobody_a_second_email(
    database_url, store, channels, smtp_server, kafka_settings, notifier_broker, crashed_sends_taken_over_soon
):
    _, maildir = smtp_server
    leaders = await people(store, FEW + 2)
    records = await on_the_topic(kafka_settings, [published(leader) for leader in leaders], key=leaders[0])
    real = make_url(database_url)
    link = await CuttableLink(real.host or "127.0.0.1", real.port or 5432).start()
    linked = Store(
        make_engine(real.set(port=link.listen_port).render_as_string(hide_password=False)), Outbox, Inbox, Base.metadata
    )
    server = CutsTheDatabaseAfter(channels["email"], link, nth=FEW)  # the first few sent, then the database away
    try:
        await consume(notifier_broker, notifier(linked, {**channels, "email": server}), records)
    finally:
        await linked.engine.dispose()
        await link.close()

    assert mail_counts(maildir) == everyone_once(leaders)
    assert sorted(r.data.leader_id for r in await reports(store)) == sorted(leaders)


class AnswersWithANul:
    """The email server, whose answer for these addresses holds a character the database will not keep."""

    def __init__(self, channel, *addresses: str):
        self.channel, self.addresses = channel, set(addresses)

    async def send(self, message, to, key):
        detail = await self.channel.send(message, to, key)
        return f"{detail}\x00" if to.email in self.addresses else detail


@pytest.mark.parametrize("database_kind", ["postgresql"])  # SQLite keeps the character
async def test_a_message_sent_but_not_recorded_is_only_reported_when_its_dead_letter_is_replayed(
    store, channels, smtp_server, kafka_settings, notifier_broker, crashed_sends_taken_over_soon
):
    _, maildir = smtp_server
    leaders = await people(store, 4)
    events = [published(leader) for leader in leaders]
    records = await on_the_topic(kafka_settings, events, key=leaders[0])
    odd = f"{leaders[1]}@example.org"
    await consume(notifier_broker, notifier(store, {**channels, "email": AnswersWithANul(channels["email"], odd)}), records)
    (letter,) = await dead_letters_of(kafka_settings, *events)
    assert letter.event_id == str(events[1].event_id)

    assert await replay(kafka_settings, [letter]) == 1  # `pairing dlq replay`: the event back on its topic
    again = await read_topic(
        kafka_settings.bootstrap_servers, OUTCOMES, keep=lambda r: event_id_of(r) == letter.event_id, expected=2, timeout_s=20
    )
    await consume(notifier_broker, notifier(store, channels), again[-1:])

    assert mail_counts(maildir) == everyone_once(leaders), "the replay reports it, and never sends it again"
    assert sorted(r.data.leader_id for r in await reports(store)) == sorted(leaders)
    (row,) = [row for row in await delivery_rows(store) if row.leader_id == leaders[1]]
    assert row.status in FINISHED


class CountsUnrecorded:
    """The email server; after each message, how many it has taken whose rows still say "sending"."""

    def __init__(self, channel, store: Store):
        self.channel, self.store, self.keys, self.most = channel, store, [], 0

    async def send(self, message, to, key):
        detail = await self.channel.send(message, to, key)
        self.keys.append(key)
        async with self.store.sessions() as session:
            unrecorded = await session.scalar(
                select(func.count())
                .select_from(DeliveryRow)
                .where(DeliveryRow.key.in_(self.keys), DeliveryRow.status == "sending")
            )
        self.most = max(self.most, unrecorded or 0)
        return detail


@pytest.mark.parametrize("database_kind", ["postgresql"])  # a lock that holds up the records alone
async def test_no_more_than_two_fews_are_ever_sent_and_not_yet_recorded(
    database_url, store, channels, smtp_server, kafka_settings, notifier_broker
):
    _, maildir = smtp_server
    leaders = await people(store, 3 * FEW)
    records = await on_the_topic(kafka_settings, [published(leader) for leader in leaders], key=leaders[0])
    server = CountsUnrecorded(channels["email"], store)
    locker = await asyncpg.connect(database_url)
    held = locker.transaction()
    await held.start()
    # Recording takes the inbox; claiming and sending do not: the records wait while the rest goes on.
    await locker.execute("LOCK TABLE inbox IN EXCLUSIVE MODE")
    telling = asyncio.create_task(tell_outcomes(notifier_broker, notifier(store, {**channels, "email": server}), records))
    try:
        before = None
        for _ in range(600):
            if len(server.keys) > 2 * FEW:
                break  # a third few went out while two were not recorded
            waiting = await locker.fetchval("select count(*) from pg_locks where not granted and relation = 'inbox'::regclass")
            now = (waiting, len(server.keys))
            if waiting >= 2 and now == before:
                break  # two fews' records waiting, and nothing more sent for a while: the batch waits for them
            before = now
            await asyncio.sleep(0.5 if waiting >= 2 else 0.05)
        else:
            pytest.fail("the batch neither sent a third few nor waited for two records")
    finally:
        await held.rollback()
        await locker.close()
    await telling

    assert server.most <= 2 * FEW
    assert mail_counts(maildir) == everyone_once(leaders)


async def test_a_slow_email_server_never_lets_a_second_consumer_send_the_batch_again(
    store, channels, smtp_server, kafka_settings, notifier_broker, crashed_sends_taken_over_soon
):
    _, maildir = smtp_server
    leaders = await people(store, 3)
    events = [published(leader) for leader in leaders]
    records = await on_the_topic(kafka_settings, events, key=leaders[0])
    slow = SlowFor(channels["email"], str(events[0].event_id), seconds=3)  # three times as long as a claim is trusted
    first = asyncio.create_task(tell_outcomes(notifier_broker, notifier(store, {**channels, "email": slow}), records))
    await slow.started.wait()

    # A rebalance: another consumer is given the same batch while the first is still sending it.
    await tell_outcomes(notifier_broker, notifier(store, channels), records)
    await first

    assert mail_counts(maildir) == everyone_once(leaders)


class EveningFalls:
    """The email server; the clock passes into the evening's quiet hours as it takes its first message."""

    def __init__(self, channel, clock: FrozenClock, evening: dt.datetime):
        self.channel, self.clock, self.evening = channel, clock, evening

    async def send(self, message, to, key):
        self.clock.set(self.evening)
        return await self.channel.send(message, to, key)


async def test_a_text_message_whose_few_goes_after_quiet_hours_begin_waits_for_the_morning(
    store, channels, settings, smtp_server, kafka_settings, notifier_broker
):
    _, maildir = smtp_server
    leaders = await people(store, FEW + 1)
    texted = f"pl-{uuid.uuid4().hex[:6]}-text"
    await know(store, person(leader_id=texted, email=None, contact_method="sms", phone="07700 900123"))
    events = [published(leader) for leader in [*leaders, texted]]  # the text message in the second few
    records = await on_the_topic(kafka_settings, events, key=leaders[0])
    clock = FrozenClock(dt.datetime(2026, 12, 15, 19, 59, tzinfo=dt.UTC))  # a minute before quiet hours (London)
    server = EveningFalls(channels["email"], clock, dt.datetime(2026, 12, 15, 20, 1, tzinfo=dt.UTC))

    await consume(notifier_broker, notifier(store, {**channels, "email": server}, clock=clock), records)

    assert not list(settings.sms_dir.glob("*.txt")), "no text message in quiet hours"
    assert [r.data.status for r in await reports(store) if r.data.leader_id == texted] == ["scheduled"]
    assert mail_counts(maildir) == everyone_once(leaders)


class AnswersUnreadably:
    """The email server, whose answer for these addresses cannot be read: the channel raises a ValidationError."""

    def __init__(self, channel, *addresses: str):
        self.channel, self.addresses = channel, set(addresses)

    async def send(self, message, to, key):
        if to.email in self.addresses:
            LeaderContact.model_validate({})  # raises, as reading a malformed answer would
        return await self.channel.send(message, to, key)


async def test_one_messages_own_error_never_makes_the_whole_batch_look_unhandleable(
    store, channels, smtp_server, kafka_settings, notifier_broker
):
    _, maildir = smtp_server
    leaders = await people(store, 5)
    events = [published(leader) for leader in leaders]
    records = await on_the_topic(kafka_settings, events, key=leaders[0])
    server = AnswersUnreadably(channels["email"], f"{leaders[2]}@example.org")

    try:
        await tell_outcomes(notifier_broker, notifier(store, {**channels, "email": server}), records)
    except Exception as exc:  # noqa: BLE001 - what the consumer would be given
        raised = exc
    else:
        pytest.fail("a send that failed short of its last try makes the batch raise, to be tried again")

    # The consumer dead-letters a batch at once when what it raises is permanent: all of it, sent or not.
    assert not is_permanent(raised), f"{raised!r} would dead-letter every outcome in the batch"
    assert isinstance(raised.__cause__, ValidationError), "the message's own error is kept, as why"
    assert mail_counts(maildir) == everyone_once([leader for leader in leaders if leader != leaders[2]])
    assert not await dead_letters_of(kafka_settings, *events), "nothing given up on: the batch is tried again"


@pytest.fixture
async def own_kafka(new_broker, kafka_settings):
    """A broker of its own, and the notifier's on it: the test below puts a record no one can read on the
    outcomes topic, which other tests in this process read whole."""
    from services.common.kafka import create_broker, ensure_topics
    from services.common.settings import ReliabilitySettings

    settings = kafka_settings.model_copy(update={"bootstrap_servers": new_broker()})
    await ensure_topics(settings)
    broker = create_broker(settings, "notifier", ReliabilitySettings())
    await broker.start()
    yield settings, broker
    await broker.stop()


async def test_a_record_that_cannot_be_read_is_dead_lettered_once_however_often_its_batch_is_tried(
    store, channels, smtp_server, own_kafka
):
    kafka_settings, notifier_broker = own_kafka
    _, maildir = smtp_server
    (amira,) = await people(store, 1)
    outcome, unreadable = published(amira), str(uuid.uuid4())
    await publish_bytes(kafka_settings, amira, b"{this is not an outcome", unreadable)
    records = await on_the_topic(kafka_settings, [outcome], key=amira, also=(unreadable,))
    server = RefusesOnce(channels["email"], str(outcome.event_id))  # so the batch is tried twice

    await consume(notifier_broker, notifier(store, {**channels, "email": server}), records)

    letters = [letter for letter in await read_dead_letters(kafka_settings, wait_ms=500) if letter.event_id == unreadable]
    assert len(letters) == 1
    assert mail_counts(maildir) == everyone_once([amira])
