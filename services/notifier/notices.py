"""One message to one person, and the event that caused it: a `Notice`.

Six kinds of message, each its own notice type behind one small protocol:
an outcome (`OutcomeNotice`, to the person it is about), a partner saying no
(`DeclineNotice`, to the other person in the pair), a follow-up made from an
outcome (`FollowUpNotice`: a reminder, or a task when someone has not answered;
reminders.py), "did you meet?" or a check-in after pairing (`QuestionNotice`; check_ins.py),
a pair that ended (`PairEndedNotice`, one for each of the two) and the manager's words
when a round closes (`FeedbackNotice`, one for each person in the round).
Delivery and the schedule ask the notice, never the event's type.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from schemas.events import LeaderContact, NotificationStatusChanged, OutcomePublished, PairDeclined
from schemas.topics import OUTCOMES, RESPONSES, Topic
from services.common.store import Store, UnitOfWork
from services.notifier import check_ins, reminders
from services.notifier.adapters.channels import TaskWritten
from services.notifier.adapters.orm import TextQuestionRow
from services.notifier.check_in_words import plan_question
from services.notifier.compose import (
    PlannedMessage,
    london_date,
    plan_message,
    plan_missing_contact_task,
    plan_partner_declined,
)
from services.notifier.context import MessageRules, delivery_report
from services.notifier.domain.check_ins import QuestionDue
from services.notifier.domain.follow_ups import AnswerFollowUp
from services.notifier.domain.messages import Route
from services.notifier.domain.pair_endings import PairEndedMessage
from services.notifier.domain.round_feedback import RoundFeedbackMessage
from services.notifier.follow_up_words import plan_follow_up
from services.notifier.pair_ended_words import plan_pair_ended, plan_pair_ended_task
from services.notifier.round_feedback_words import plan_round_feedback, plan_round_feedback_task

if TYPE_CHECKING:
    from services.notifier.context import Notifier

CONSUMER = "notifier.outcomes"
DECLINES_CONSUMER = "notifier.declines"
PAIR_ENDINGS_CONSUMER = "notifier.pair_endings"
FEEDBACK_CONSUMER = "notifier.round_feedback"

# A follow-up is not an event on a topic: it is made from an outcome when that is handled,
# and waits on the schedule (reminders.py).
Cause = OutcomePublished | PairDeclined | AnswerFollowUp | PairEndedMessage | RoundFeedbackMessage | QuestionDue
Contacts = dict[str, LeaderContact | None]


class Notice(Protocol):
    """What delivery and the schedule need to know about a message, whatever caused it. Where a member
    has a body here, that is what most notices do; a notice says only how it differs."""

    event: Cause

    @property
    def about(self) -> str:
        """outcome, partner_declined, a follow-up's kind (reminder or no_answer), pair_ended or pair_ended_confirmed."""
        ...

    @property
    def consumer(self) -> str:
        """The inbox that marks its event handled."""
        ...

    @property
    def source(self) -> tuple[Topic, str] | None:
        """The topic its event came from and its key there (a replay from the dead-letter topic
        sends it back); None for one never on a topic."""
        ...

    @property
    def leader_id(self) -> str:
        """Who is told (by default the person the event is about)."""
        return self.event.data.leader_id

    @property
    def needed(self) -> list[str]:
        """Whose contact details the message cannot be written without (by default the person told's alone)."""
        return [self.leader_id]

    @property
    def wanted(self) -> list[str]:
        """Whose details make it better but are not needed (by default no one's)."""
        return []

    @property
    def cancels_round(self) -> bool:
        """Whether it says a published round will not go ahead (its waiting news is withdrawn)."""
        return False

    def plan(self, rules: MessageRules, contacts: Contacts, route: Route | None = None) -> PlannedMessage: ...

    def plan_for_a_person(self, rules: MessageRules, contacts: Contacts, why: str) -> PlannedMessage | None:
        """A task for a person to pass it on, as contact details never came; None: it is dropped."""
        ...

    def text_question(self) -> TextQuestionRow | None:
        """A question the person can answer by replying to a text message, if this asks one (by default none)."""
        return None

    async def no_longer_wanted(self, session: AsyncSession, store: Store) -> bool:
        """Whether it should be taken off unsent (its question was answered, its round ended); by default never."""
        return False

    async def after_done(self, uow: UnitOfWork, n: Notifier) -> None:
        """What follows once it has gone, or a person has been asked to follow it up (in that same
        transaction): nothing, but for a check-in."""
        return None

    @property
    def round_id(self) -> str:
        return self.event.data.round_id

    @property
    def job_key(self) -> str:
        return f"{self.event.event_id}:{self.leader_id}"

    def key(self, channel: str) -> str:
        return f"{self.job_key}:{channel}"


@dataclass(frozen=True)
class OutcomeNotice(Notice):
    """An outcome, to the person it is about."""

    event: OutcomePublished
    about = "outcome"
    consumer = CONSUMER

    @property
    def source(self) -> tuple[Topic, str]:
        return OUTCOMES, self.event.data.leader_id

    @functools.cached_property
    def job_key(self) -> str:
        """As Notice.job_key, worked out once: a batch asks for it at every step, for every few."""
        return f"{self.event.event_id}:{self.leader_id}"

    @property
    def needed(self) -> list[str]:
        return [self.leader_id, *(p.partner_id for p in self.event.data.partners)]

    @property
    def cancels_round(self) -> bool:
        return self.event.data.outcome == "cancelled"

    def plan(self, rules: MessageRules, contacts: Contacts, route: Route | None = None) -> PlannedMessage:
        here = {k: v for k, v in contacts.items() if v is not None}
        return plan_message(self.event.data, known(contacts, self.leader_id), here, rules.programme, route)

    def plan_for_a_person(self, rules: MessageRules, contacts: Contacts, why: str) -> PlannedMessage:
        return plan_missing_contact_task(self.event, self.leader_id, contacts, why, rules.programme, rules.repair_contact_days)

    def text_question(self) -> TextQuestionRow | None:
        """A pair offered with one partner: a reply of YES or NO can only be about this pair (inbound.py reads the replies)."""
        data = self.event.data
        if data.outcome != "paired" or len(data.partners) != 1:
            return None
        return TextQuestionRow(
            key=self.job_key, round_id=self.round_id, leader_id=self.leader_id, partner_id=data.partners[0].partner_id
        )


@dataclass(frozen=True)
class DeclineNotice(Notice):
    """A partner said no: to the other person in the pair."""

    event: PairDeclined
    about = "partner_declined"
    consumer = DECLINES_CONSUMER

    @property
    def source(self) -> tuple[Topic, str]:
        return RESPONSES, self.event.data.round_id

    @property
    def leader_id(self) -> str:
        return self.event.data.partner_id

    @property
    def wanted(self) -> list[str]:
        """The name of the person who said no."""
        return [self.event.data.leader_id]

    def plan(self, rules: MessageRules, contacts: Contacts, route: Route | None = None) -> PlannedMessage:
        event = self.event
        return plan_partner_declined(
            event.data,
            known(contacts, self.leader_id),
            contacts.get(event.data.leader_id),
            rules.programme,
            london_date(event.occurred_at),
            rules.repair_contact_days,
            route,
        )

    def plan_for_a_person(self, rules: MessageRules, contacts: Contacts, why: str) -> PlannedMessage:
        return plan_missing_contact_task(self.event, self.leader_id, contacts, why, rules.programme, rules.repair_contact_days)


@dataclass(frozen=True)
class FollowUpNotice(Notice):
    """A reminder, or a task when someone has not answered, to the person who was asked."""

    event: AnswerFollowUp
    consumer = reminders.SCHEDULED
    source = None  # never on a topic, so it cannot go to the dead-letter topic and back

    @property
    def about(self) -> str:
        return self.event.data.kind

    @property
    def needed(self) -> list[str]:
        return [self.leader_id, self.event.data.partner_id]

    def plan(self, rules: MessageRules, contacts: Contacts, route: Route | None = None) -> PlannedMessage:
        data = self.event.data
        return plan_follow_up(data, known(contacts, self.leader_id), known(contacts, data.partner_id), rules.programme, route)

    def plan_for_a_person(self, rules: MessageRules, contacts: Contacts, why: str) -> None:
        """Their details were there when they were asked, so they have gone since (withdrawn): no one to remind."""
        return None

    async def no_longer_wanted(self, session: AsyncSession, store: Store) -> bool:
        return await reminders.is_answered(session, store, self.event.data)


@dataclass(frozen=True)
class PairEndedNotice(Notice):
    """A pair ended: the kind news to a partner, or the confirmation to the person who asked (domain/pair_endings.py)."""

    event: PairEndedMessage
    consumer = PAIR_ENDINGS_CONSUMER
    # Made here from a PairEnded, never on a topic itself: a consumer that gives up dead-letters the
    # PairEnded (each person's news has its own inbox mark, so a replay tells only who was not told).
    source = None

    @property
    def about(self) -> str:
        return self.event.data.kind

    @property
    def wanted(self) -> list[str]:
        """The other person's name."""
        return [self.event.data.partner_id]

    def plan(self, rules: MessageRules, contacts: Contacts, route: Route | None = None) -> PlannedMessage:
        data = self.event.data
        return plan_pair_ended(data, known(contacts, self.leader_id), contacts.get(data.partner_id), rules.programme, route)

    def plan_for_a_person(self, rules: MessageRules, contacts: Contacts, why: str) -> PlannedMessage:
        return plan_pair_ended_task(self.event.data, contacts, why, rules.programme)


@dataclass(frozen=True)
class FeedbackNotice(Notice):
    """A round closed: what difference the pairs made, to one person in it (domain/round_feedback.py)."""

    event: RoundFeedbackMessage
    about = "round_feedback"
    consumer = FEEDBACK_CONSUMER
    # Made here from a RoundFeedbackShared, never on a topic itself: a consumer that gives up dead-letters the
    # RoundFeedbackShared (each person's message has its own inbox mark, so a replay tells only who was not told).
    source = None

    def plan(self, rules: MessageRules, contacts: Contacts, route: Route | None = None) -> PlannedMessage:
        return plan_round_feedback(self.event.data, known(contacts, self.leader_id), rules.programme, route)

    def plan_for_a_person(self, rules: MessageRules, contacts: Contacts, why: str) -> PlannedMessage:
        return plan_round_feedback_task(self.event.data, contacts, why, rules.programme)


# The questions after pairing a text reply can answer, as TextQuestionRow.kind calls them.
TEXT_KINDS = {"met_question": "met", "check_in": "check_in"}


@dataclass(frozen=True)
class QuestionNotice(Notice):
    """'Did you meet?' or a check-in, to the person; or a task for the team made from their answer (check_ins.py)."""

    event: QuestionDue
    consumer = check_ins.SCHEDULED
    source = None  # made here, never on a topic itself

    @property
    def about(self) -> str:
        return self.event.data.kind

    @property
    def needed(self) -> list[str]:
        return [self.leader_id, self.event.data.partner_id]

    def plan(self, rules: MessageRules, contacts: Contacts, route: Route | None = None) -> PlannedMessage:
        data = self.event.data
        return plan_question(data, known(contacts, self.leader_id), known(contacts, data.partner_id), rules.programme, route)

    def plan_for_a_person(self, rules: MessageRules, contacts: Contacts, why: str) -> None:
        """Their details were there when they were paired, so they have gone since (withdrawn): no one to ask."""
        return None

    def text_question(self) -> TextQuestionRow | None:
        """'Did you meet?' or a check-in, which a reply to the text can answer (inbound.py); a task asks nobody."""
        data = self.event.data
        if data.kind not in TEXT_KINDS:
            return None
        return TextQuestionRow(
            key=self.job_key,
            round_id=self.round_id,
            leader_id=self.leader_id,
            partner_id=data.partner_id,
            kind=TEXT_KINDS[data.kind],
            number=data.number,
        )

    async def no_longer_wanted(self, session: AsyncSession, store: Store) -> bool:
        return await check_ins.no_longer_wanted(session, store, self.event)

    async def after_done(self, uow: UnitOfWork, n: Notifier) -> None:
        """A check-in gone: the next one on the schedule (check_ins.schedule_next)."""
        await check_ins.schedule_next(uow, n, self.event)


NoticeType = (
    type[OutcomeNotice]
    | type[DeclineNotice]
    | type[FollowUpNotice]
    | type[PairEndedNotice]
    | type[FeedbackNotice]
    | type[QuestionNotice]
)
NOTICES: dict[str, NoticeType] = {
    "OutcomePublished": OutcomeNotice,
    "PairDeclined": DeclineNotice,
    "AnswerFollowUp": FollowUpNotice,
    "PairEndedMessage": PairEndedNotice,
    "RoundFeedbackMessage": FeedbackNotice,
    "QuestionDue": QuestionNotice,
}


def notice_for(event: Cause) -> Notice:
    return NOTICES[event.event_type](event)  # type: ignore[arg-type]  # the table pairs each type with its event


def known(contacts: Contacts, leader_id: str) -> LeaderContact:
    """Details a message is planned with: handlers.attempt plans only once none it needs is missing."""
    contact = contacts[leader_id]
    if contact is None:
        raise LookupError(f"a message was planned without the contact details of {leader_id}")
    return contact


def report(notice: Notice, channel: str, status: str, detail: str = "") -> NotificationStatusChanged:
    # A task for a person says what kind it is and when it must be done by (the work queue shows both).
    task, due_by = (detail.kind, detail.due_by) if isinstance(detail, TaskWritten) else (None, None)
    event_id = notice.event.event_id
    return delivery_report(notice.round_id, notice.leader_id, event_id, notice.about, channel, status, detail, task, due_by)
