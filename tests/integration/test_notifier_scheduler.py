"""Messages that cannot go at once, on a real database (PostgreSQL and SQLite):
quiet hours, a partner saying no, and the scheduler that sends them later and
survives a restart. The clock is frozen, so the tests never wait for a real night."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import functools
import socket
import uuid
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from schemas.events import OutcomePublished, PairAnswer, PairDeclined
from schemas.topics import DEAD_LETTERS, OUTCOMES
from services.common.crypto import Cipher
from services.common.deadletters import read_dead_letters, replay
from services.common.embedded import free_port, read_maildir
from services.common.kafka import create_broker, dead_letter_event, ensure_topics
from services.common.settings import KafkaSettings, ReliabilitySettings
from services.common.store import Store, make_engine
from services.notifier import delivery, handlers, schedule
from services.notifier.adapters.channels import SmtpChannel
from services.notifier.adapters.orm import Base, Inbox, Outbox, ScheduledRow
from services.notifier.clock import FrozenClock
from services.notifier.notices import notice_for
from services.notifier.scheduler import Scheduler
from tests.conftest import FAST_SESSION
from tests.integration.notifier_world import KEY, PARTNER, RULES, delivery_rows, know, notifier, person, published, reports
from tests.kafka_reading import read_topic

pytestmark = pytest.mark.integration

LONDON = ZoneInfo("Europe/London")
TEXTER = {"contact_method": "sms", "phone": "07700 900123"}


def london(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=LONDON)


def declined(by: str = "cl-1", partner: str = "pl-1", at: dt.datetime | None = None) -> PairDeclined:
    return PairDeclined(
        producer="registry",
        correlation_id="r1",
        data=PairAnswer(round_id="r1", leader_id=by, partner_id=partner),
        occurred_at=at or dt.datetime(2026, 12, 20, 11, tzinfo=dt.UTC),
    )


def sms_files(settings) -> list:
    return sorted(settings.sms_dir.glob("*.txt")) if settings.sms_dir.exists() else []


# ---- Always Event 4: a partner says no ----


async def test_when_someone_says_no_their_partner_is_told_once_in_their_format(store, channels, smtp_server):
    _, maildir = smtp_server
    await know(store, person(information_format="easy_read"), PARTNER)
    n = notifier(store, channels)
    event = declined()
    for _ in range(3):
        await handlers.on_event(n, event)
    (message,) = read_maildir(maildir)
    assert message["To"] == "amira@example.org"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "Ben Bell has said no" in text and "This is not about you" in text
    assert "We will tell you by Sunday 3 January 2027" in text, "14 days after the answer"
    assert "font-size: 16pt" in message.get_body(preferencelist=("html",)).get_content()
    (report,) = await reports(store)
    assert (report.data.leader_id, report.data.about, report.data.status) == ("pl-1", "partner_declined", "sent")
    assert report.data.outcome_event_id == event.event_id


async def test_the_person_who_said_no_is_named_only_if_we_know_them_and_is_not_told_anything(store, channels, smtp_server):
    _, maildir = smtp_server
    await know(store, person())  # the one who said no has been erased since
    await handlers.on_event(notifier(store, channels), declined())
    (message,) = read_maildir(maildir)
    assert message["To"] == "amira@example.org", "only the partner hears"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "the person we suggested as your partner has decided not to go ahead" in text


async def test_a_partner_who_texts_is_told_by_text_message(store, channels, settings):
    await know(store, person(**TEXTER), PARTNER)
    await handlers.on_event(notifier(store, channels), declined())
    (sms,) = sms_files(settings)
    assert "Ben Bell has decided not to go ahead" in sms.read_text()


# ---- quiet hours ----


async def test_a_text_due_at_half_past_ten_at_night_is_sent_at_nine_the_next_morning_even_after_a_restart(
    store, channels, settings, database_url
):
    await know(store, person(**TEXTER), PARTNER)
    clock = FrozenClock(london(15, 22, 30))
    n = notifier(store, channels, clock=clock)
    event = published()
    await handlers.on_event(n, event)

    assert sms_files(settings) == [], "nothing is sent in quiet hours"
    (row,) = await delivery_rows(store)
    assert (row.channel, row.status) == ("sms", "scheduled")
    (report,) = await reports(store)
    assert report.data.status == "scheduled"
    assert "09:00 on Wednesday 16 December 2026" in report.data.detail
    await handlers.on_event(n, event)
    assert len(await reports(store)) == 1, "a redelivery does not schedule it twice"

    # The notifier stops overnight; a new process with a new database connection takes over.
    await store.engine.dispose()
    restarted = Store(make_engine(database_url), Outbox, Inbox, Base.metadata)
    try:
        clock.set(london(16, 8, 59))
        scheduler = Scheduler(handlers.Notifier(restarted, Cipher(KEY), channels, RULES, clock))
        assert await scheduler.run_due() == 0, "not before nine"
        assert sms_files(settings) == []
        clock.set(london(16, 9, 0))
        assert await scheduler.run_due() == 1
        (sms,) = sms_files(settings)
        assert sms.read_text().startswith("To: 07700 900123") and "http://127.0.0.1:8000/a/k7mp2qr9wxtd" in sms.read_text()
        _scheduled, sent = await reports(restarted)
        assert (sent.data.channel, sent.data.status) == ("sms", "sent")
        (row,) = await delivery_rows(restarted)
        assert row.status == "sent"
        assert await scheduler.run_due() == 0, "sent once"
    finally:
        await restarted.engine.dispose()


async def test_news_still_waiting_when_its_round_is_cancelled_is_never_sent(store, channels, settings):
    from schemas.events import Outcome

    await know(store, person(**TEXTER), PARTNER)
    clock = FrozenClock(london(15, 22, 30))
    n = notifier(store, channels, clock=clock)
    await handlers.on_event(n, published())  # "we have found you a partner", held until 09:00
    stopped = OutcomePublished(
        producer="registry", correlation_id="r1", data=Outcome(round_id="r1", leader_id="pl-1", outcome="cancelled")
    )
    await handlers.on_event(n, stopped)  # the round is cancelled at 22:30: also held until 09:00
    clock.set(london(16, 9, 0))
    assert await handlers.run_due(n) == 1, "only the message saying it will not go ahead is left"
    (sms,) = sms_files(settings)
    assert "will not go ahead" in sms.read_text() and "answer=accept" not in sms.read_text()
    statuses = sorted(row.status for row in await delivery_rows(store))
    assert statuses == ["sent", "withdrawn"]


async def test_a_phone_call_waits_for_the_morning_but_an_email_does_not(store, channels, settings, smtp_server):
    _, maildir = smtp_server
    clock = FrozenClock(london(15, 23, 0))
    await know(store, PARTNER, person(contact_method="telephone", phone="07700 900123"))
    await know(store, person(leader_id="pl-2", email="b@example.org"))
    n = notifier(store, channels, clock=clock)
    await handlers.on_event(n, published("pl-1"))
    await handlers.on_event(n, published("pl-2", paired=False))
    assert len(read_maildir(maildir)) == 1, "an email waits in the inbox: no need to hold it"
    assert not settings.tasks_dir.exists(), "nobody is asked to phone at 11pm"
    clock.set(london(16, 9, 30))
    assert await handlers.run_due(n) == 1
    (task,) = settings.tasks_dir.glob("*.txt")
    assert "asked to be phoned" in task.read_text()
    statuses = [(r.data.leader_id, r.data.status) for r in await reports(store)]
    assert statuses == [("pl-1", "scheduled"), ("pl-2", "sent"), ("pl-1", "needs_a_person")]


async def test_a_person_s_own_quiet_hours_are_kept(store, channels, settings):
    # Works nights: no texts from 08:00 to 16:00.
    await know(store, PARTNER, person(**TEXTER, quiet_hours_start=dt.time(8), quiet_hours_end=dt.time(16)))
    clock = FrozenClock(london(15, 10, 0))
    n = notifier(store, channels, clock=clock)
    await handlers.on_event(n, published())
    assert sms_files(settings) == []
    (report,) = await reports(store)
    assert "16:00 on Tuesday 15 December 2026" in report.data.detail


async def test_a_failed_send_from_the_scheduler_is_tried_again_later_then_reported(store, channels, settings):
    await know(store, person(), PARTNER)
    # Straight onto the schedule, as a message waiting for its next try would be.
    clock = FrozenClock(london(15, 12, 0))
    closed = {**channels, "email": SmtpChannel("127.0.0.1", free_port(), 2)}
    n = notifier(store, closed, dataclasses.replace(RULES, max_attempts=2, retry_seconds=60), clock)
    await schedule.park(n, notice_for(published()), schedule.FromConsumer(), schedule.RETRY, clock.now(), None)
    assert await handlers.run_due(n) == 1
    (row,) = await delivery_rows(store)
    assert row.status == "retrying" and await reports(store) == []
    clock.advance(seconds=29)
    assert await handlers.run_due(n) == 0, "backing off: at least half of 60 seconds"
    clock.advance(seconds=32)
    assert await handlers.run_due(n) == 1
    (report,) = await reports(store)
    assert report.data.status == "failed" and "try 2" in report.data.detail
    assert report.data.detail.endswith("a person should follow it up")
    async with store.sessions() as session:
        assert (await session.scalars(select(ScheduledRow))).all() == [], "given up: off the schedule"


async def test_after_its_last_try_a_scheduled_message_is_dead_lettered_and_a_replay_sends_it(
    store, channels, settings, smtp_server, new_broker
):
    _, maildir = smtp_server
    kafka = KafkaSettings(bootstrap_servers=new_broker(), client_prefix=f"pairing-test-{uuid.uuid4().hex[:6]}", **FAST_SESSION)
    await ensure_topics(kafka, (OUTCOMES, DEAD_LETTERS))
    broker = create_broker(kafka, "notifier", ReliabilitySettings())
    await broker.start()
    try:
        await know(store, person(), PARTNER)
        clock = FrozenClock(london(15, 12, 0))
        closed = {**channels, "email": SmtpChannel("127.0.0.1", free_port(), 2)}
        n = notifier(store, closed, dataclasses.replace(RULES, max_attempts=2), clock)
        n.dead_letter = functools.partial(dead_letter_event, broker, "notifier", source="schedule")
        event = published()
        await schedule.park(
            n, notice_for(event), schedule.FromConsumer(), schedule.RETRY, clock.now(), None
        )  # as the consumer parks it
        assert await handlers.run_due(n) == 1
        clock.advance(seconds=61)
        assert await handlers.run_due(n) == 1
        (report,) = await reports(store)
        assert report.data.status == "failed"
    finally:
        await broker.stop()

    (letter,) = await read_dead_letters(kafka, wait_ms=200)
    assert (letter.original_topic, letter.consumer, letter.source, letter.attempts) == ("outcomes.v1", "notifier", "schedule", 2)
    assert (letter.original_partition, letter.original_offset) == (-1, -1), "not read from a record"
    assert letter.event_id == str(event.event_id) and letter.key == b"pl-1"
    assert "on try 2" in letter.error and "amira" not in letter.error.lower()

    # The mail server is back; `pairing dlq replay` sends the event back to outcomes.v1, to the notifier's consumer.
    assert await replay(kafka, [letter]) == 1
    (record,) = await read_topic(kafka.bootstrap_servers, OUTCOMES, expected=1)
    await handlers.on_event(notifier(store, channels, clock=clock), OutcomePublished.model_validate_json(record.value))
    (message,) = read_maildir(maildir)
    assert message["To"] == "amira@example.org"
    assert [r.data.status for r in await reports(store)] == ["failed", "sent"]


async def test_two_schedulers_never_send_the_same_message_twice(store, channels, settings):
    await know(store, person(**TEXTER), PARTNER)
    clock = FrozenClock(london(15, 22, 0))
    await handlers.on_event(notifier(store, channels, clock=clock), published())
    clock.set(london(16, 9, 0))
    first, second = notifier(store, channels, clock=clock), notifier(store, channels, clock=clock)
    tried = await asyncio.gather(handlers.run_due(first), handlers.run_due(second))
    assert sorted(tried) == [0, 1]
    assert len(sms_files(settings)) == 1
    assert [r.data.status for r in await reports(store)] == ["scheduled", "sent"]


async def test_the_scheduler_task_sends_when_due_and_stops_cleanly(store, channels, settings):
    await know(store, person(**TEXTER), PARTNER)
    clock = FrozenClock(london(15, 22, 0))
    n = notifier(store, channels, clock=clock)
    await handlers.on_event(n, published())
    scheduler = Scheduler(n, poll_seconds=0.1)
    scheduler.start()
    try:
        await asyncio.sleep(0.3)
        assert sms_files(settings) == []
        clock.set(london(16, 9, 0))
        for _ in range(50):
            if sms_files(settings):
                break
            await asyncio.sleep(0.1)
        assert len(sms_files(settings)) == 1
    finally:
        await scheduler.stop()


@contextlib.contextmanager
def stalled_mail_server() -> Iterator[int]:
    """A port that takes connections and never answers: a send through it hangs until stopped."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


async def held_by_a_scheduler(store) -> bool:
    async with store.sessions() as session:
        return (await session.scalar(select(ScheduledRow.lease))) is not None


async def test_a_scheduler_stopped_while_sending_hands_its_message_to_another_instance_at_once(
    store, channels, smtp_server, crashed_sends_taken_over_soon
):
    _, maildir = smtp_server
    await know(store, person(), PARTNER)
    clock = FrozenClock(london(15, 12, 0))
    with stalled_mail_server() as port:
        first = notifier(store, {**channels, "email": SmtpChannel("127.0.0.1", port, 60)}, clock=clock)
        await schedule.park(first, notice_for(published()), schedule.FromConsumer(), schedule.RETRY, clock.now(), None)
        scheduler = Scheduler(first, poll_seconds=0.1, grace_seconds=0.5)
        scheduler.start()
        for _ in range(100):
            if await held_by_a_scheduler(store):
                break
            await asyncio.sleep(0.05)
        assert await held_by_a_scheduler(store), "the scheduler took the message and is sending it"
        await scheduler.stop()  # the instance shuts down while its send hangs past the grace

    # The other instance, at the same moment: it does not wait for the stopped one's lease to run out.
    assert await handlers.run_due(notifier(store, channels, clock=clock)) == 1
    (message,) = read_maildir(maildir)
    assert message["To"] == "amira@example.org"
    assert [r.data.status for r in await reports(store)] == ["sent"]


async def test_an_event_read_again_while_another_handler_is_sending_it_is_not_sent_twice(store, channels, smtp_server):
    # In a rebalance the partition's new consumer reads the event again while the old one is still sending it.
    _, maildir = smtp_server
    await know(store, person(), PARTNER)
    n, event = notifier(store, channels), published()
    sending, _before, _replaces = await delivery.claim(store, notice_for(event), "email")
    again = asyncio.create_task(handlers.on_event(n, event))
    await asyncio.sleep(0.5)
    assert read_maildir(maildir) == [], "it waits for the handler sending it"
    await delivery.finish(n, notice_for(event), schedule.FromConsumer(), sending, ("sent", "email", "emailed"))
    await asyncio.wait_for(again, 10)
    assert read_maildir(maildir) == [], "sent once, by the first handler"
    assert [r.data.status for r in await reports(store)] == ["sent"]


async def test_a_batch_finds_exactly_its_people_with_an_outcome_still_waiting(store):
    # Keys name the person after the event: "ben" must not find "reuben", nor an id with a colon in it its tail.
    due = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    waiting = {"ben": schedule.QUIET_HOURS, "reuben": schedule.RETRY, "area:north": schedule.BEHIND, "cara": "sent_later"}
    async with store.unit_of_work() as uow:
        for number, (leader, reason) in enumerate(waiting.items()):
            event_id = uuid.uuid4()
            uow.session.add(
                ScheduledRow(
                    key=f"{event_id}:{leader}", event_type=schedule.OUTCOME, sealed_event=b"-", reason=reason,
                    due_at=due + dt.timedelta(hours=number),
                )
            )  # fmt: skip
        await uow.commit()
    async with store.unit_of_work() as uow:
        assert await schedule.outcomes_waiting(uow, {"ben", "north", "cara", "dan"}) == {"ben": due}
        found = await schedule.outcomes_waiting(uow, {"reuben", "area:north"})
    assert found == {"reuben": due + dt.timedelta(hours=1), "area:north": due + dt.timedelta(hours=2)}


async def test_asking_for_batches_of_any_size_compiles_one_statement(store):
    # Each statement compiled is kept in the engine's cache: one for each size of batch grew the
    # notifier's memory round after round when batches were larger.
    cache = store.engine.sync_engine._compiled_cache
    async with store.unit_of_work() as uow:
        await schedule.outcomes_waiting(uow, {"someone"})
        before = len(cache)
        for size in range(2, 40):
            await schedule.outcomes_waiting(uow, {f"leader-{i}" for i in range(size)})
    assert len(cache) == before
