"""'Did you meet?', check-ins and their tasks in the notifier, on a real database (PostgreSQL and SQLite),
a real SMTP server and real task folders, the clock frozen and moved on: the schedule outlives a
restart; "met" takes off a waiting "not yet" task; a later "not yet" moves the task and the question
asked again (the latest answer wins); each check-in puts the next on the schedule for as long as the
round is open; the days count from the notifier's clock; the round closing or the pair ending takes
every question off; "we need help" is a task at once, once."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from schemas.events import (
    FollowUpAnswer,
    FollowUpAnswered,
    PairAccepted,
    PairAnswer,
    PairDeclined,
    PairEnded,
    PairEnding,
    RoundStatusChanged,
    StatusChange,
)
from services.common.crypto import Cipher
from services.common.embedded import read_maildir
from services.common.store import Store, make_engine
from services.notifier import check_ins, handlers, reminders
from services.notifier.adapters.channels import PersonTaskChannel
from services.notifier.adapters.orm import Base, Inbox, Outbox, ScheduledRow
from services.notifier.clock import FrozenClock
from services.notifier.compose import london_date
from services.notifier.domain.check_ins import QuestionDue, check_in_day
from services.notifier.scheduler import Scheduler
from tests.integration.notifier_world import KEY, PARTNER, RULES, know, person, published, reports

pytestmark = pytest.mark.integration

LONDON = ZoneInfo("Europe/London")
PUBLISHED = dt.datetime(2026, 12, 15, 11, tzinfo=LONDON)  # the outcome's own time (notifier_world.published)
ASKED = dt.datetime(2027, 1, 13, 10, tzinfo=LONDON)  # the working day after the first meeting, Tuesday 12 January


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(PUBLISHED)


@pytest.fixture
def tasks(channels, settings, clock):
    return {**channels, "person": PersonTaskChannel(settings.tasks_dir, settings.task_days, today=lambda: clock.now().date())}


def notifier(store, tasks, clock) -> handlers.Notifier:
    return handlers.Notifier(store, Cipher(KEY), tasks, RULES, clock)


def said(
    answer: str, question: str = "met", number: int = 0, meeting_on: dt.date | None = None, at: dt.datetime | None = None
) -> FollowUpAnswered:
    data = FollowUpAnswer(
        round_id="r1",
        leader_id="pl-1",
        partner_id="cl-1",
        question=question,
        number=number,
        answer=answer,
        reference="K7P-4QXM",
        meeting_on=meeting_on,
    )
    event = FollowUpAnswered(producer="registry", correlation_id="r1", data=data)
    return event if at is None else event.model_copy(update={"occurred_at": at})


async def paired(n: handlers.Notifier) -> None:
    """The outcome told, and its yes recorded: no reminder or "no answer" task gets in the way."""
    await handlers.on_event(n, published())
    yes = PairAccepted(
        producer="registry", correlation_id="r1", data=PairAnswer(round_id="r1", leader_id="pl-1", partner_id="cl-1")
    )
    await reminders.answered(n, yes)


async def questions(store: Store) -> list[str]:
    async with store.sessions() as session:
        rows = (await session.scalars(select(ScheduledRow).where(ScheduledRow.event_type == "QuestionDue"))).all()
    return sorted(r.reason for r in rows)


async def waiting(store: Store, kind: str) -> list[tuple[int, dt.datetime]]:
    """Each question or task of this kind on the schedule: (its number, when it is due, in London)."""
    async with store.sessions() as session:
        rows = (await session.scalars(select(ScheduledRow).where(ScheduledRow.reason == kind))).all()
    jobs = [(QuestionDue.model_validate(Cipher(KEY).open(r.sealed_event)), r.due_at) for r in rows]
    return sorted((job.data.number, due.replace(tzinfo=due.tzinfo or dt.UTC).astimezone(LONDON)) for job, due in jobs)


def asked_about_meeting(maildir) -> list:
    return [m for m in read_maildir(maildir) if m["Subject"].startswith("Did you meet")]


async def task_reports(store: Store) -> list[tuple[str, str]]:
    return [(r.data.about, r.data.task or "") for r in await reports(store) if r.data.status == "needs_a_person"]


async def test_did_you_meet_is_asked_once_on_its_day_even_after_a_restart(store, tasks, smtp_server, clock, database_url):
    _, maildir = smtp_server
    await know(store, person(information_format="easy_read"), PARTNER)
    await paired(notifier(store, tasks, clock))
    await handlers.on_event(notifier(store, tasks, clock), published())  # a redelivery schedules nothing more
    waiting = await questions(store)
    assert waiting.count("met_question") == 1 and waiting.count("check_in") == 1, "the first check-in; each brings the next"

    await store.engine.dispose()
    restarted = Store(make_engine(database_url), Outbox, Inbox, Base.metadata)
    try:
        scheduler = Scheduler(notifier(restarted, tasks, clock))
        clock.set(ASKED - dt.timedelta(minutes=1))
        before = len(read_maildir(maildir))
        await scheduler.run_due()
        assert len(read_maildir(maildir)) == before, "not before its day and time"
        clock.set(ASKED)
        await scheduler.run_due()
        await scheduler.run_due()
        sent = [m for m in read_maildir(maildir) if m["Subject"].startswith("Did you meet")]
        assert len(sent) == 1, "sent once"
        assert any(part.get_content_type() == "image/png" for part in sent[0].walk()), "in easy read, with pictures"
        assert "/a/k7mp2qr9wxtd/met" in sent[0].get_body(("plain",)).get_content()
        assert [r.data.about for r in await reports(restarted)].count("met_question") == 1
    finally:
        await restarted.engine.dispose()


async def test_met_after_not_yet_takes_the_task_off(store, tasks, settings, clock):
    await know(store, person(), PARTNER)
    n = notifier(store, tasks, clock)
    await paired(n)
    clock.set(ASKED)
    await check_ins.answered(n, said("not_yet"))
    assert "not_yet" in await questions(store) and "met_question" not in await questions(store), "answered: not asked again"
    clock.advance(days=3)
    await check_ins.answered(n, said("met"))
    assert "not_yet" not in await questions(store)
    clock.set(ASKED + dt.timedelta(days=30))
    await handlers.run_due(n)
    assert ("not_yet", "not_yet") not in await task_reports(store)


async def test_not_yet_becomes_a_task_and_we_need_help_a_task_at_once_each_once(store, tasks, settings, clock):
    await know(store, person(), PARTNER)
    n = notifier(store, tasks, clock)
    await paired(n)
    clock.set(ASKED)
    await check_ins.answered(n, said("not_yet"))
    for _ in range(2):
        await check_ins.answered(n, said("need_help", "check_in", 1))  # the same event twice makes one task
    await handlers.run_due(n)
    assert await task_reports(store) == [("need_help", "need_help")]
    clock.set(dt.datetime(2027, 1, 27, 9, tzinfo=LONDON))  # 14 days on, a Wednesday
    await handlers.run_due(n)
    assert await task_reports(store) == [("need_help", "need_help"), ("not_yet", "not_yet")]
    written = sorted(p.read_text() for p in settings.tasks_dir.glob("*.txt"))
    assert any("Not met yet: Amira Ahmed" in t for t in written) and any("Asked for help: Amira Ahmed" in t for t in written)
    assert all("http" not in t for t in written)


@pytest.mark.parametrize("how", ["round closed", "pair ended", "pair turned down"])
async def test_when_the_round_closes_or_the_pair_ends_nobody_is_asked(store, tasks, smtp_server, clock, how):
    _, maildir = smtp_server
    await know(store, person(), PARTNER)
    n = notifier(store, tasks, clock)
    await paired(n)
    if how == "round closed":
        change = StatusChange(round_id="r1", from_status="published", to_status="closed")
        await check_ins.round_ended(n, RoundStatusChanged(producer="registry", correlation_id="r1", data=change))
    elif how == "pair ended":
        ending = PairEnding(round_id="r1", leader_id="cl-1", partner_id="pl-1", ended_by="leader")
        await check_ins.pair_ended(n, PairEnded(producer="registry", correlation_id="r1", data=ending))
    else:  # one of them said no (or left the programme before it began)
        no = PairAnswer(round_id="r1", leader_id="cl-1", partner_id="pl-1")
        await check_ins.pair_ended(n, PairDeclined(producer="registry", correlation_id="r1", data=no))
    assert await questions(store) == []
    clock.set(ASKED + dt.timedelta(days=400))
    await handlers.run_due(n)
    assert not [m for m in read_maildir(maildir) if m["Subject"].startswith(("Did you meet", "How is it going"))]


async def test_not_yet_with_the_date_they_set_asks_again_after_it_and_the_task_waits(store, tasks, smtp_server, clock):
    _, maildir = smtp_server
    await know(store, person(), PARTNER)
    n = notifier(store, tasks, clock)
    await paired(n)
    clock.set(ASKED)
    await handlers.run_due(n)
    await check_ins.answered(n, said("not_yet", meeting_on=dt.date(2027, 2, 5)))  # a Friday
    clock.set(dt.datetime(2027, 2, 8, 9, 59, tzinfo=LONDON))
    await handlers.run_due(n)
    assert len([m for m in read_maildir(maildir) if m["Subject"].startswith("Did you meet")]) == 1, "not before the Monday"
    clock.set(dt.datetime(2027, 2, 8, 10, tzinfo=LONDON))
    await handlers.run_due(n)
    again = [m for m in read_maildir(maildir) if m["Subject"].startswith("Did you meet")]
    assert len(again) == 2 and "/a/k7mp2qr9wxtd/met" in again[-1].get_body(("plain",)).get_content()
    clock.set(dt.datetime(2027, 1, 27, 9, tzinfo=LONDON))  # 14 days after the answer: too soon, with a date set
    await handlers.run_due(n)
    assert ("not_yet", "not_yet") not in await task_reports(store)
    clock.set(dt.datetime(2027, 2, 19, 9, tzinfo=LONDON))  # 14 days after the date they set
    await handlers.run_due(n)
    assert ("not_yet", "not_yet") in await task_reports(store)


async def test_a_later_not_yet_with_a_later_date_moves_the_task_and_the_question_asked_again(store, tasks, smtp_server, clock):
    _, maildir = smtp_server
    await know(store, person(), PARTNER)
    n = notifier(store, tasks, clock)
    await paired(n)
    clock.set(ASKED)
    await handlers.run_due(n)
    await check_ins.answered(n, said("not_yet", meeting_on=dt.date(2027, 2, 5)))  # a Friday
    clock.set(dt.datetime(2027, 2, 8, 10, tzinfo=LONDON))
    await handlers.run_due(n)
    assert len(asked_about_meeting(maildir)) == 2, "asked again the Monday after the date they set"

    # From the question asked again: not yet, now on Friday 5 March. The task set for 19 February moves with it.
    await check_ins.answered(n, said("not_yet", meeting_on=dt.date(2027, 3, 5)))
    assert [day for _, day in await waiting(store, "not_yet")] == [dt.datetime(2027, 3, 19, 9, tzinfo=LONDON)]
    assert [day for _, day in await waiting(store, "met_question")] == [dt.datetime(2027, 3, 8, 10, tzinfo=LONDON)]
    clock.set(dt.datetime(2027, 2, 19, 9, tzinfo=LONDON))  # 14 days after the first date they set
    await handlers.run_due(n)
    assert await task_reports(store) == [], "not on the old date"
    clock.set(dt.datetime(2027, 3, 8, 10, tzinfo=LONDON))
    await handlers.run_due(n)
    assert len(asked_about_meeting(maildir)) == 3, "asked again after the new date"
    clock.set(dt.datetime(2027, 3, 19, 9, tzinfo=LONDON))  # 14 days after the new date
    await handlers.run_due(n)
    assert await task_reports(store) == [("not_yet", "not_yet")], "one task, on the new date"


async def test_a_not_yet_after_the_task_of_an_earlier_one_was_written_is_a_task_again(store, tasks, settings, clock):
    await know(store, person(), PARTNER)
    n = notifier(store, tasks, clock)
    await paired(n)
    clock.set(ASKED)
    await check_ins.answered(n, said("not_yet"))
    clock.set(dt.datetime(2027, 1, 27, 9, tzinfo=LONDON))
    await handlers.run_due(n)
    assert await task_reports(store) == [("not_yet", "not_yet")]
    clock.set(dt.datetime(2027, 2, 1, 12, tzinfo=LONDON))  # a Monday: not yet again, to meet on Friday 12 February
    await check_ins.answered(n, said("not_yet", meeting_on=dt.date(2027, 2, 12)))
    clock.set(dt.datetime(2027, 2, 26, 9, tzinfo=LONDON))
    await handlers.run_due(n)
    assert await task_reports(store) == [("not_yet", "not_yet")] * 2
    assert len(list(settings.tasks_dir.glob("*.txt"))) == 2, "a second task written for the team"


async def test_a_not_yet_given_earlier_but_heard_later_does_not_move_the_dates(store, tasks, clock):
    await know(store, person(), PARTNER)
    n = notifier(store, tasks, clock)
    await paired(n)
    clock.set(ASKED)
    given = dt.datetime(2027, 1, 13, 12, tzinfo=dt.UTC)
    await check_ins.answered(n, said("not_yet", meeting_on=dt.date(2027, 2, 5), at=given + dt.timedelta(minutes=5)))
    await check_ins.answered(n, said("not_yet", meeting_on=dt.date(2027, 3, 5), at=given))  # given first, heard second
    assert [day.date() for _, day in await waiting(store, "not_yet")] == [dt.date(2027, 2, 19)]
    assert [day.date() for _, day in await waiting(store, "met_question")] == [dt.date(2027, 2, 8)]


async def test_each_check_in_brings_the_next_for_as_long_as_the_round_is_open(store, tasks, smtp_server, clock):
    _, maildir = smtp_server
    await know(store, person(), PARTNER)
    n = notifier(store, tasks, clock)
    await paired(n)
    await check_ins.answered(n, said("met"))  # nothing else in the way
    published_on = london_date(PUBLISHED)
    for number in range(1, 9):  # 30 days, then every 60: the eighth is 450 days on, over a year
        assert [m for m, _ in await waiting(store, "check_in")] == [number]
        day = check_in_day(published_on, 30, 60, number)
        clock.set(dt.datetime.combine(day, dt.time(9, 59), tzinfo=LONDON))
        await handlers.run_due(n)
        clock.set(dt.datetime.combine(day, dt.time(10), tzinfo=LONDON))
        await handlers.run_due(n)
        sent = [m for m in read_maildir(maildir) if m["Subject"].startswith("How is it going")]
        assert len(sent) == number, f"check-in {number} on {day}, once"
        assert f"/a/k7mp2qr9wxtd/check-in/{number}" in sent[-1].get_body(("plain",)).get_content()
    assert [m for m, _ in await waiting(store, "check_in")] == [9]

    change = StatusChange(round_id="r1", from_status="published", to_status="closed")
    await check_ins.round_ended(n, RoundStatusChanged(producer="registry", correlation_id="r1", data=change))
    await reminders.round_ended(n, RoundStatusChanged(producer="registry", correlation_id="r1", data=change))
    assert await waiting(store, "check_in") == [], "the round closed: no more"


async def test_no_check_in_follows_one_sent_as_the_pair_ended(store, tasks, smtp_server, clock):
    await know(store, person(), PARTNER)
    n = notifier(store, tasks, clock)
    await paired(n)
    async with store.sessions() as session:
        row = await session.scalar(select(ScheduledRow).where(ScheduledRow.reason == "check_in"))
    assert row is not None
    first = QuestionDue.model_validate(Cipher(KEY).open(row.sealed_event))
    ending = PairEnding(round_id="r1", leader_id="cl-1", partner_id="pl-1", ended_by="leader")
    await check_ins.pair_ended(n, PairEnded(producer="registry", correlation_id="r1", data=ending))
    async with store.unit_of_work() as uow:  # as delivery.finish does, for a check-in in hand as the pair ended
        await check_ins.schedule_next(uow, n, first)
        await uow.commit()
    assert await waiting(store, "check_in") == []


async def test_questions_count_from_when_the_notifier_hears_of_the_outcome(store, tasks, smtp_server, clock):
    _, maildir = smtp_server
    await know(store, person(), PARTNER)
    heard = dt.datetime(2027, 1, 25, 11, tzinfo=LONDON)  # a Monday, 41 days after the outcome's own time
    clock.set(heard)
    n = notifier(store, tasks, clock)
    await paired(n)
    first = check_in_day(heard.date(), 30, 60, 1)
    assert first == dt.date(2027, 2, 24)
    assert await waiting(store, "check_in") == [(1, dt.datetime(2027, 2, 24, 10, tzinfo=LONDON))]
    await handlers.run_due(n)
    assert not [m for m in read_maildir(maildir) if m["Subject"].startswith("How is it going")], "not at once"
