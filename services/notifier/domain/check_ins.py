"""After a pair is published: "Did you meet?", check-ins, and the tasks their answers make.

- **Did you meet?** Each person in a pair is asked once, on the first working day after their
  suggested first meeting (or, with no meeting suggested, `NO_MEETING_DAYS` after publishing):
  yes / not yet / we need help.
- **Check-ins**: on the programme's schedule (default 30 days after publishing, then every 60 days,
  for as long as the round is open, however long), each person is asked how it is going: going
  well / some problems / we need help. Only the next check-in waits on the schedule: when one has
  gone, the one after it is put there (`next_check_in`), so a round open for years still has one.
- **Tasks for the team**: "not yet" becomes a task a set time later (NOTIFIER_NOT_YET_DAYS, default
  14), unless they say yes before then; "we need help" becomes a task at once. A later "not yet"
  (with a new date to meet, or none) moves the task and the question asked again: the latest answer wins.

The days count from when the notifier hears of the outcome or the answer (its own clock), never from
the time inside the event.

Every day lands on a working day in England and Wales (no weekends, no bank holidays). Each of these
is a `QuestionDue`, kept (sealed) in the schedule table until it is due, so a restart loses nothing;
its delivery is reported on deliveries.v1 with `about` its kind. Pure: no I/O and no clock.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Literal

from schemas.events import Envelope, FollowUpAnswered, Outcome, OutcomePublished, Payload
from services.notifier.domain.follow_ups import ESCALATE_AT, REMIND_AT, at_london
from services.notifier.domain.follow_ups import JOB_TYPES as FOLLOW_UP_JOBS
from services.notifier.domain.tasks import add_working_days, is_working_day

QuestionKind = Literal["met_question", "check_in", "not_yet", "need_help"]
MET_QUESTION: QuestionKind = "met_question"
CHECK_IN: QuestionKind = "check_in"
NOT_YET: QuestionKind = "not_yet"
NEED_HELP: QuestionKind = "need_help"
TASKS = (NOT_YET, NEED_HELP)

# With no first meeting suggested (no shared time fitted), the question comes four weeks after publishing.
NO_MEETING_DAYS = 28
DEFAULT_FIRST_DAYS = 30
DEFAULT_EVERY_DAYS = 60
NAMESPACE = uuid.UUID("3c2b9f4e-5d71-4f0e-a8a4-0d9f7e61b2c3")


class Question(Payload):
    """One question to one person about one pair, or one task for the team about their answer."""

    kind: QuestionKind
    round_id: str
    leader_id: str  # who is asked (or, for a task, who to contact)
    partner_id: str
    number: int = 0  # which check-in (1, 2, ...); 0 for "Did you meet?" and its tasks
    due_on: dt.date
    outcome: Outcome | None = None  # for a question: the outcome as published (links, reference, programme)
    answered_on: dt.date | None = None  # for a task: the day the answer it follows came
    answer_at: dt.datetime | None = None  # for a "not yet" task or a question asked again: when that answer was given
    published_on: dt.date | None = None  # for a check-in: the day its outcome was heard of, which the schedule counts from
    reference: str | None = None  # for a task: the pair's reference, to quote
    has_words: bool = False  # for a task: they added words, which the team reads in the managers' pages


class QuestionDue(Envelope):
    """Kept (sealed) in the notifier's schedule table until it is due; never published."""

    event_type: Literal["QuestionDue"] = "QuestionDue"
    data: Question


def question_key(round_id: str, leader_id: str, partner_id: str, kind: str, number: int = 0) -> uuid.UUID:
    """The same for every copy of the same question or task: a redelivery schedules nothing new."""
    return uuid.uuid5(NAMESPACE, f"{round_id}\n{leader_id}\n{partner_id}\n{kind}\n{number}")


def on_or_after_working_day(day: dt.date) -> dt.date:
    """That day if it is a working day, or the next one."""
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def met_question_on(first_meeting: dt.date | None, published_on: dt.date) -> dt.date:
    """The first working day after the suggested first meeting (the day itself is theirs)."""
    if first_meeting is None:
        return on_or_after_working_day(published_on + dt.timedelta(days=NO_MEETING_DAYS))
    return add_working_days(first_meeting, 1)


def check_in_day(published_on: dt.date, first_days: int, every_days: int, number: int) -> dt.date:
    """Check-in `number` (1 for the first): `first_days` after publishing, then every `every_days`; on a working day."""
    if first_days < 1 or every_days < 1:
        raise ValueError("check-ins need a first day and a gap of at least one day")
    if number < 1:
        raise ValueError("check-ins are numbered from 1")
    return on_or_after_working_day(published_on + dt.timedelta(days=first_days + (number - 1) * every_days))


def check_in_days(published_on: dt.date, first_days: int, every_days: int, count: int) -> list[dt.date]:
    """The first `count` check-ins' days."""
    return [check_in_day(published_on, first_days, every_days, number) for number in range(1, count + 1)]


def plan_of(outcome: Outcome) -> tuple[int, int]:
    """The programme's check-in plan (days to the first, days between), or the default."""
    plan = outcome.check_ins
    return (plan.first_days, plan.every_days) if plan else (DEFAULT_FIRST_DAYS, DEFAULT_EVERY_DAYS)


def not_yet_task_on(answered_on: dt.date, days: int) -> dt.date:
    """A set number of days after "not yet", on a working day."""
    return on_or_after_working_day(answered_on + dt.timedelta(days=days))


@dataclass(frozen=True)
class Due:
    job: QuestionDue
    at: dt.datetime


def job(data: Question, cause: uuid.UUID) -> QuestionDue:
    return QuestionDue(
        event_id=question_key(data.round_id, data.leader_id, data.partner_id, data.kind, data.number),
        producer="notifier",
        correlation_id=data.round_id,
        causation_id=str(cause),
        data=data,
    )


def questions_for(event: OutcomePublished, published_on: dt.date) -> list[Due]:
    """For each partner of a paired person: "Did you meet?" and the first check-in (each check-in puts
    the next on the schedule when it has gone: `next_check_in`). None for an outcome that pairs nobody."""
    outcome = event.data
    if outcome.outcome != "paired":
        return []
    first, every = plan_of(outcome)
    due = []
    for partner in outcome.partners:
        meeting = partner.first_meeting.date if partner.first_meeting else None
        asks: list[tuple[QuestionKind, int, dt.date]] = [
            (MET_QUESTION, 0, met_question_on(meeting, published_on)),
            (CHECK_IN, 1, check_in_day(published_on, first, every, 1)),
        ]
        for kind, number, day in asks:
            data = Question(
                kind=kind,
                round_id=outcome.round_id,
                leader_id=outcome.leader_id,
                partner_id=partner.partner_id,
                number=number,
                due_on=day,
                outcome=outcome,
                published_on=published_on if kind == CHECK_IN else None,
            )
            due.append(Due(job(data, event.event_id), at_london(day, REMIND_AT)))
    return due


def next_check_in(done: QuestionDue, today: dt.date) -> Due | None:
    """The check-in after this one, now that this one has gone: on the programme's schedule, and never
    before the next working day (one sent late is not followed at once by the next). None after anything
    but a check-in."""
    data = done.data
    if data.kind != CHECK_IN or data.outcome is None:
        return None
    first, every = plan_of(data.outcome)
    if data.published_on is not None:
        day = check_in_day(data.published_on, first, every, data.number + 1)
    else:  # scheduled before check-ins named the day they count from: `every` days after this one
        day = on_or_after_working_day(data.due_on + dt.timedelta(days=every))
    day = max(day, add_working_days(today, 1))
    following = data.model_copy(update={"number": data.number + 1, "due_on": day})
    return Due(job(following, done.event_id), at_london(day, REMIND_AT))


def task_for(answered: FollowUpAnswered, answered_on: dt.date, not_yet_days: int) -> Due | None:
    """The task an answer makes, if any: "we need help" at once, "not yet" `not_yet_days` later, or that
    long after the date they set to meet when it is later (taken off if they say they met before then).
    None for any other answer."""
    answer = answered.data
    if answer.answer not in ("need_help", "not_yet"):
        return None
    kind = NEED_HELP if answer.answer == "need_help" else NOT_YET
    later = max(answered_on, answer.meeting_on or answered_on)
    day = answered_on if kind == NEED_HELP else not_yet_task_on(later, not_yet_days)
    data = Question(
        kind=kind,
        round_id=answer.round_id,
        leader_id=answer.leader_id,
        partner_id=answer.partner_id,
        number=answer.number,
        due_on=day,
        answered_on=answered_on,
        answer_at=answered.occurred_at if kind == NOT_YET else None,
        reference=answer.reference,
        has_words=answer.has_words,
    )
    if kind == NEED_HELP:
        return Due(job(data, answered.event_id), at_london(answered_on, dt.time(0)))
    # Each "not yet" its own task (a later one replaces it), so one after a task already written is written too.
    not_yet = job(data, answered.event_id).model_copy(update={"event_id": uuid.uuid5(NAMESPACE, f"not yet\n{answered.event_id}")})
    return Due(not_yet, at_london(day, ESCALATE_AT))


def asked_again(answered: FollowUpAnswered, answered_on: dt.date) -> Due | None:
    """'Not yet', with the date they set to meet: "Did you meet?" again, the working day after that date.
    Numbered by that date, so each date set asks once. None without a date, or with one already past."""
    answer = answered.data
    if answer.answer != "not_yet" or answer.meeting_on is None or answer.meeting_on < answered_on:
        return None
    day = met_question_on(answer.meeting_on, answered_on)
    data = Question(
        kind=MET_QUESTION,
        round_id=answer.round_id,
        leader_id=answer.leader_id,
        partner_id=answer.partner_id,
        number=answer.meeting_on.toordinal(),
        due_on=day,
        answer_at=answered.occurred_at,
    )
    return Due(job(data, answered.event_id), at_london(day, REMIND_AT))


def about_meeting(data: Question) -> bool:
    """'Did you meet?' (asked first, or again after a date they set) or the task a "not yet" made:
    what an answer to "Did you meet?" settles."""
    return data.kind in (MET_QUESTION, NOT_YET)


def superseded_by(answered: FollowUpAnswered, waiting: list[Question]) -> bool:
    """Whether a "not yet" was given before the answer that set what now waits: it then changes nothing
    (answers can arrive out of order; the latest one given wins)."""
    return any(q.answer_at is not None and q.answer_at > answered.occurred_at for q in waiting if about_meeting(q))


# What the schedule table can hold: everything follow_ups.JOB_TYPES holds, and these.
JOB_TYPES: dict[str, type[Envelope]] = {**FOLLOW_UP_JOBS, "QuestionDue": QuestionDue}
