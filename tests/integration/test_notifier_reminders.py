"""Reminders and "no answer yet" tasks on a real database (PostgreSQL and SQLite), a real SMTP server and
real output folders: one reminder, working days before the answer date, in the person's format; an
answer (or the round ending) takes it off; no answer becomes a task for the team and never a no; and
the schedule outlives a restart. The clock is frozen, so nobody waits three weeks."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from schemas.events import (
    OutcomePublished,
    PairAccepted,
    PairAnswer,
    PairDeclined,
    RoundStatusChanged,
    StatusChange,
    TextReply,
    TextReplyReceived,
)
from schemas.topics import DELIVERIES, OUTCOMES, RESPONSES, ROUNDS
from services.common.crypto import Cipher, new_key
from services.common.embedded import read_maildir
from services.common.store import Store, make_engine
from services.notifier import handlers, reminders, schedule
from services.notifier.adapters.channels import PersonTaskChannel
from services.notifier.adapters.orm import Base, DeliveryRow, Inbox, Outbox, ScheduledRow
from services.notifier.app import create_app
from services.notifier.clock import FrozenClock
from services.notifier.config import NotifierSettings
from services.notifier.erasure import forget_person
from services.notifier.notices import notice_for
from services.notifier.scheduler import Scheduler
from tests.integration.helpers import contact, publish
from tests.integration.notifier_world import KEY, PARTNER, RULES, know, person, published, reports

pytestmark = pytest.mark.integration

LONDON = ZoneInfo("Europe/London")
# Published on Tuesday 15 December 2026, answer by Tuesday 5 January 2027 (tests/integration/test_notifier_channels.py).
PUBLISHED = dt.datetime(2026, 12, 15, 11, tzinfo=LONDON)
# Three working days before: Monday 4 January, (New Year's Day, a bank holiday), Thursday 31, Wednesday 30 December.
REMINDER_DAY = (2026, 12, 30)
# The first working day after the answer date.
TASK_DAY = (2027, 1, 6)


def london(day: tuple[int, int, int], hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(*day, hour, minute, tzinfo=LONDON)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(PUBLISHED)


@pytest.fixture
def tasks(channels, settings, clock):
    """Tasks for a person are due a number of working days from the day they are written: the test's day."""
    return {**channels, "person": PersonTaskChannel(settings.tasks_dir, settings.task_days, today=lambda: clock.now().date())}


def notifier(store, tasks, clock) -> handlers.Notifier:
    return handlers.Notifier(store, Cipher(KEY), tasks, RULES, clock)


def answer(kind=PairAccepted, by: str = "pl-1", about: str = "cl-1"):
    return kind(producer="registry", correlation_id="r1", data=PairAnswer(round_id="r1", leader_id=by, partner_id=about))


async def waiting(store: Store) -> list[str]:
    """The reminders and tasks waiting (not "Did you meet?" or the check-ins: test_check_ins.py has those)."""
    async with store.sessions() as session:
        rows = (await session.scalars(select(ScheduledRow).where(ScheduledRow.event_type == "AnswerFollowUp"))).all()
        return sorted(r.reason for r in rows)


async def follow_up_reports(store: Store) -> list:
    return [r for r in await reports(store) if r.data.about in ("reminder", "no_answer")]


async def published_topics(store: Store) -> set[str]:
    async with store.sessions() as session:
        return set((await session.scalars(select(Outbox.topic))).all())


def task_files(settings) -> list:
    return sorted(settings.tasks_dir.glob("*.txt")) if settings.tasks_dir.exists() else []


async def test_one_reminder_in_their_format_then_a_task_for_the_team_and_never_a_no_even_after_a_restart(
    store, tasks, settings, smtp_server, clock, database_url
):
    _, maildir = smtp_server
    await know(store, person(information_format="easy_read"), PARTNER)
    n = notifier(store, tasks, clock)
    outcome = published()
    for _ in range(2):
        await handlers.on_event(n, outcome)  # a redelivery schedules nothing more
    assert len(read_maildir(maildir)) == 1, "the message itself"
    assert await waiting(store) == ["no_answer", "reminder"]

    # The notifier stops; a new process with a new database connection takes over.
    await store.engine.dispose()
    restarted = Store(make_engine(database_url), Outbox, Inbox, Base.metadata)
    try:
        scheduler = Scheduler(notifier(restarted, tasks, clock))
        clock.set(london(REMINDER_DAY, 9, 59))
        assert await scheduler.run_due() == 0, "not before its day and time"
        clock.set(london(REMINDER_DAY, 10, 0))
        assert await scheduler.run_due() == 1
        assert await scheduler.run_due() == 0, "sent once"
        _first, reminder = read_maildir(maildir)
        assert reminder["To"] == "amira@example.org"
        text = reminder.get_body(preferencelist=("plain",)).get_content()
        assert "A reminder about your partner" in text and "Please tell us by Tuesday 5 January 2027" in text
        assert "http://127.0.0.1:8000/a/k7mp2qr9wxtd" in text and "It is fine to say no" in text
        assert "font-size: 16pt" in reminder.get_body(preferencelist=("html",)).get_content(), "easy read, as they asked"
        (sent,) = await follow_up_reports(restarted)
        assert (sent.data.about, sent.data.channel, sent.data.status, sent.data.leader_id) == (
            "reminder",
            "email",
            "sent",
            "pl-1",
        )

        clock.set(london((2027, 1, 5), 23, 59))
        assert await scheduler.run_due() == 0, "they have all of the answer date"
        clock.set(london(TASK_DAY, 9, 0))
        assert await scheduler.run_due() == 1
        (task,) = task_files(settings)
        words = task.read_text()
        assert "No answer yet from Amira Ahmed" in words and "work with Ben Bell" in words
        assert "Do not record a no for them: nobody is declined automatically" in words
        assert "http" not in words and "pl-1" not in words
        _, chase = await follow_up_reports(restarted)
        assert (chase.data.about, chase.data.status, chase.data.task) == ("no_answer", "needs_a_person", "no_answer")
        assert chase.data.due_by == dt.date(2027, 1, 8), "two working days to make contact"
        assert chase.data.outcome_event_id != sent.data.outcome_event_id, "each has its own id: two tasks never merge"
        assert "Amira" not in chase.data.detail and "Ben" not in chase.data.detail, "the report names nobody"
        assert await published_topics(restarted) == {DELIVERIES.name}, "no answer is ever recorded for them"
        assert len(read_maildir(maildir)) == 2, "the person is not written to again"
        assert await waiting(restarted) == []
    finally:
        await restarted.engine.dispose()


@pytest.mark.parametrize(
    "settled",
    [
        answer(PairAccepted),
        answer(PairDeclined),
        answer(PairDeclined, by="cl-1", about="pl-1"),  # the partner said no: nothing to remind them about
        TextReplyReceived(
            producer="notifier",
            correlation_id="r1",
            data=TextReply(
                round_id="r1", leader_id="pl-1", partner_id="cl-1", answer="accept", received_on=dt.date(2026, 12, 16)
            ),
        ),
    ],
    ids=["yes", "no", "partner said no", "yes by text"],
)
async def test_an_answer_takes_the_reminder_and_the_task_off(store, tasks, settings, smtp_server, clock, settled):
    _, maildir = smtp_server
    await know(store, person(), PARTNER)
    n = notifier(store, tasks, clock)
    await handlers.on_event(n, published())
    await reminders.answered(n, settled)
    assert await waiting(store) == []
    for day, hour in ((REMINDER_DAY, 10), (TASK_DAY, 9)):
        clock.set(london(day, hour))
        assert await handlers.run_due(n) == 0
    assert len(read_maildir(maildir)) == 1 and task_files(settings) == []
    assert await follow_up_reports(store) == []


async def test_an_answer_for_another_partner_leaves_the_reminder_alone(store, tasks, clock):
    await know(store, person(), PARTNER)
    n = notifier(store, tasks, clock)
    await handlers.on_event(n, published())
    await reminders.answered(n, answer(by="pl-1", about="cl-9"))
    assert await waiting(store) == ["no_answer", "reminder"]


async def test_an_answer_that_came_before_the_outcome_was_handled_means_no_reminder(store, tasks, clock):
    await know(store, person(), PARTNER)
    n = notifier(store, tasks, clock)
    await reminders.answered(n, answer())  # the person rang the team before the notifier caught up
    await handlers.on_event(n, published())
    assert await waiting(store) == []


async def test_a_follow_up_already_taken_by_a_scheduler_is_not_sent_after_an_answer(store, tasks, settings, smtp_server, clock):
    """An answer cannot take off a follow-up a scheduler holds; the scheduler looks for one before sending."""
    _, maildir = smtp_server
    await know(store, person(), PARTNER)
    n = notifier(store, tasks, clock)
    await handlers.on_event(n, published())
    clock.set(london(REMINDER_DAY, 10))
    (key,) = [k for k in await schedule.due_keys(n)]
    held, follow_up = await schedule.take(n, key)
    await reminders.answered(n, answer())
    assert await waiting(store) == ["reminder"], "the task is off; the reminder it holds is left to it"
    await handlers.attempt(n, notice_for(follow_up), held)
    assert len(read_maildir(maildir)) == 1 and await waiting(store) == []
    assert await follow_up_reports(store) == []


@pytest.mark.parametrize("status", ["closed", "cancelled"])
async def test_when_the_round_ends_nobody_is_reminded_or_chased(store, tasks, settings, smtp_server, clock, status):
    _, _maildir = smtp_server
    await know(store, person(), PARTNER, person(leader_id="pl-2", email="b@example.org"))
    n = notifier(store, tasks, clock)
    await handlers.on_event(n, published())
    other_round = published("pl-2")
    other_round = other_round.model_copy(update={"data": other_round.data.model_copy(update={"round_id": "r2"})})
    await handlers.on_event(n, other_round)
    ended = RoundStatusChanged(
        producer="registry", correlation_id="r1", data=StatusChange(round_id="r1", from_status="published", to_status=status)
    )
    await reminders.round_ended(n, ended)
    assert await waiting(store) == ["no_answer", "reminder"], "only the other round's are left"
    clock.set(london(TASK_DAY, 9))
    assert await handlers.run_due(n) == 2
    assert {r.data.round_id for r in await follow_up_reports(store)} == {"r2"}


async def test_a_text_reminder_waits_for_the_end_of_their_own_quiet_hours(store, tasks, settings, clock):
    # Works nights: no texts from 08:00 to 16:00.
    texter = person(contact_method="sms", phone="07700 900123", quiet_hours_start=dt.time(8), quiet_hours_end=dt.time(16))
    await know(store, texter, PARTNER)
    n = notifier(store, tasks, clock)
    clock.set(london((2026, 12, 15), 16, 30))
    await handlers.on_event(n, published())
    clock.set(london(REMINDER_DAY, 10))
    assert await handlers.run_due(n) == 1
    scheduled = (await follow_up_reports(store))[-1]
    assert (scheduled.data.about, scheduled.data.status) == ("reminder", "scheduled")
    assert "16:00 on Wednesday 30 December 2026" in scheduled.data.detail
    before = sorted(settings.sms_dir.glob("*.txt"))
    clock.set(london(REMINDER_DAY, 16))
    assert await handlers.run_due(n) == 1
    (text,) = [p for p in settings.sms_dir.glob("*.txt") if p not in before]
    assert "reminder" in text.read_text() and "http://127.0.0.1:8000/a/n4bv8hs3jdfz" in text.read_text()
    assert (await follow_up_reports(store))[-1].data.status == "sent"


async def test_a_reminder_a_person_must_give_is_a_task_in_their_format(store, tasks, settings, clock):
    await know(store, person(information_format="braille"), PARTNER)
    n = notifier(store, tasks, clock)
    await handlers.on_event(n, published())
    clock.set(london(REMINDER_DAY, 10))
    assert await handlers.run_due(n) == 1
    reminder_task = next(p for p in task_files(settings) if "A reminder about your partner" in p.read_text())
    words = reminder_task.read_text()
    assert "put into braille" in words and "call Priya Shah on 0113 496 0123" in words
    assert "http" not in words, "links cannot be put into braille"
    (report,) = await follow_up_reports(store)
    assert (report.data.about, report.data.task, report.data.status) == ("reminder", "braille", "needs_a_person")


async def test_an_erased_person_is_neither_reminded_nor_chased(store, tasks, settings, clock):
    await know(store, person(), PARTNER)
    n = notifier(store, tasks, clock)
    await handlers.on_event(n, published())
    async with store.unit_of_work() as uow:
        await forget_person(n, uow, "cl-1")  # the partner they were asked about
        await uow.commit()
    assert await waiting(store) == []
    async with store.sessions() as session:
        rows = (await session.scalars(select(DeliveryRow).where(DeliveryRow.leader_id == "pl-1"))).all()
    assert [r.status for r in rows] == ["sent"], "their own message; nobody is asked to tell them anything more"


# ---- the notifier as it runs, on the real broker ----


async def test_the_running_notifier_schedules_from_outcomes_and_hears_answers_and_closed_rounds(
    kafka_settings, smtp_server, tmp_path
):
    port, _ = smtp_server
    settings = NotifierSettings(
        encryption_keys=new_key(),
        event_keys=new_key(),
        database_url=f"sqlite:///{tmp_path / 'notifier.db'}",
        smtp_port=port,
        output_dir=tmp_path / "out",
        kafka=kafka_settings,
    )
    app = create_app(settings, clock=FrozenClock(PUBLISHED))
    await app.start()
    # A second connection to the notifier's database, to see its schedule.
    seen = Store(make_engine(settings.database_url), Outbox, Inbox, Base.metadata)

    async def follow_ups_for(leader: str, count: int) -> int:
        for _ in range(150):
            async with seen.sessions() as session:
                mine = ScheduledRow.key.endswith(f":{leader}") & (ScheduledRow.event_type == "AnswerFollowUp")
                rows = (await session.scalars(select(ScheduledRow).where(mine))).all()
            if len(rows) == count:
                return count
            await asyncio.sleep(0.1)
        return len(rows)

    try:
        tag = uuid.uuid4().hex[:6]
        amira, ben, round_id = f"pl-{tag}", f"cl-{tag}", f"round-{tag}"
        await contact(kafka_settings, amira, "Amira Ahmed", "patient_leader")
        await contact(kafka_settings, ben, "Ben Bell", "clinical_leader")
        for me, other in ((amira, ben), (ben, amira)):
            outcome = published(me).data.model_copy(update={"round_id": round_id})
            outcome = outcome.model_copy(update={"partners": [outcome.partners[0].model_copy(update={"partner_id": other})]})
            event = OutcomePublished(producer="test", correlation_id=round_id, data=outcome, occurred_at=PUBLISHED)
            await publish(kafka_settings, OUTCOMES, me, event)
        assert await follow_ups_for(amira, 2) == 2 and await follow_ups_for(ben, 2) == 2, "a reminder and a task each"

        said_yes = PairAccepted(
            producer="test", correlation_id=round_id, data=PairAnswer(round_id=round_id, leader_id=amira, partner_id=ben)
        )
        await publish(kafka_settings, RESPONSES, round_id, said_yes)
        assert await follow_ups_for(amira, 0) == 0, "answered: nothing more for Amira"
        assert await follow_ups_for(ben, 2) == 2, "Ben has still to answer"

        closed = RoundStatusChanged(
            producer="test",
            correlation_id=round_id,
            data=StatusChange(round_id=round_id, from_status="published", to_status="closed"),
        )
        await publish(kafka_settings, ROUNDS, round_id, closed)
        assert await follow_ups_for(ben, 0) == 0, "the round is closed: nobody is chased"
    finally:
        await seen.engine.dispose()
        await app.stop()
