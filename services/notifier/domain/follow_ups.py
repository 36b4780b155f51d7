"""After a pair is suggested: one reminder before the answer date, and a task for the programme team after it.

A person who has not said yes or no about a partner gets one reminder, in their format and channel,
a set number of working days before the answer date (NOTIFIER_REMINDER_WORKING_DAYS, default 3).
If there is still no answer, the programme team gets a task to contact them on the morning of the
first working day after the answer date. Nobody is ever declined automatically.

Each of these is kept in the schedule table as an `AnswerFollowUp`, sealed like every other
scheduled message, so a restart loses nothing; it is never published. Pure: no I/O and no clock.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from schemas.events import EVENT_TYPES, Envelope, Outcome, OutcomePublished, Payload
from services.notifier.domain.pair_endings import PairEndedMessage
from services.notifier.domain.round_feedback import RoundFeedbackMessage
from services.notifier.domain.tasks import add_working_days

LONDON = ZoneInfo("Europe/London")
REMINDER = "reminder"
NO_ANSWER = "no_answer"
# A reminder goes mid-morning: after anyone's usual quiet hours, and early enough to act on that day.
REMIND_AT = dt.time(10)
# The task comes at the start of the team's day. Not on the answer date itself: the person has all of
# that day to answer (their links work until it ends), and being chased on the day they were given
# would feel like pressure. The morning after is the first moment "no answer" is true.
ESCALATE_AT = dt.time(9)
# Names the follow-ups of one question (round, person, partner), so they are found without a lookup.
NAMESPACE = uuid.UUID("6f1d7a52-9a3c-4c43-9d6e-2b1f0c7e8a11")

FollowUpKind = Literal["reminder", "no_answer"]


class FollowUp(Payload):
    """One reminder, or one task for the team, about one person's answer about one partner."""

    kind: FollowUpKind
    round_id: str
    leader_id: str  # who has not answered
    partner_id: str  # about whom
    outcome_event_id: uuid.UUID  # the message that asked them
    asked_on: dt.date  # the day that message was published (London)
    outcome: Outcome  # as published: the links, reference, programme and answer date


class AnswerFollowUp(Envelope):
    """Kept (sealed) in the notifier's schedule table until it is due; never published. Its delivery is
    reported on deliveries.v1 with `about` "reminder" or "no_answer"."""

    event_type: Literal["AnswerFollowUp"] = "AnswerFollowUp"
    data: FollowUp


# What the schedule table can hold: any event, a follow-up, the news of a pair that ended and a round's feedback.
JOB_TYPES: dict[str, type[Envelope]] = {
    **EVENT_TYPES,
    "AnswerFollowUp": AnswerFollowUp,
    "PairEndedMessage": PairEndedMessage,
    "RoundFeedbackMessage": RoundFeedbackMessage,
}


def question_id(round_id: str, leader_id: str, partner_id: str) -> uuid.UUID:
    """One person's question about one partner in one round."""
    return uuid.uuid5(NAMESPACE, f"{round_id}\n{leader_id}\n{partner_id}")


def round_key(round_id: str) -> uuid.UUID:
    """A round, as an id of fixed length (the inbox keeps ids of 36 characters)."""
    return uuid.uuid5(NAMESPACE, f"round\n{round_id}")


def follow_up_id(round_id: str, leader_id: str, partner_id: str, kind: str) -> uuid.UUID:
    """The same for every copy of the same follow-up: a redelivered outcome schedules nothing new."""
    return uuid.uuid5(question_id(round_id, leader_id, partner_id), kind)


def reminder_on(respond_by: dt.date, working_days: int) -> dt.date:
    """`working_days` working days (no weekends, no bank holidays in England and Wales) before the answer date."""
    return add_working_days(respond_by, -working_days)


def escalate_on(respond_by: dt.date) -> dt.date:
    """The first working day after the answer date."""
    return add_working_days(respond_by, 1)


def at_london(day: dt.date, time: dt.time) -> dt.datetime:
    """That time on that day in London (so it stays 10:00 across a clock change), in UTC."""
    return dt.datetime.combine(day, time, tzinfo=LONDON).astimezone(dt.UTC)


@dataclass(frozen=True)
class Due:
    follow_up: AnswerFollowUp
    at: dt.datetime


def follow_ups(event: OutcomePublished, asked_on: dt.date, working_days: int) -> list[Due]:
    """The follow-ups a published outcome needs: for each partner a reminder (unless its day is not after
    the day they were asked: a reminder with the message would be no reminder) and a task for the team.
    None for an outcome that asks nothing."""
    outcome = event.data
    if outcome.outcome != "paired" or outcome.respond_by is None:
        return []
    times = [(NO_ANSWER, at_london(escalate_on(outcome.respond_by), ESCALATE_AT))]
    remind = reminder_on(outcome.respond_by, working_days)
    if remind > asked_on:
        times.insert(0, (REMINDER, at_london(remind, REMIND_AT)))
    due = []
    for partner in outcome.partners:
        for kind, at in times:
            data = FollowUp(
                kind=kind,
                round_id=outcome.round_id,
                leader_id=outcome.leader_id,
                partner_id=partner.partner_id,
                outcome_event_id=event.event_id,
                asked_on=asked_on,
                outcome=outcome,
            )
            follow_up = AnswerFollowUp(
                event_id=follow_up_id(outcome.round_id, outcome.leader_id, partner.partner_id, kind),
                producer="notifier",
                correlation_id=outcome.round_id,
                causation_id=str(event.event_id),
                data=data,
            )
            due.append(Due(follow_up, at))
    return due
