"""Putting follow-ups (domain/follow_ups.py) on the schedule, and taking them off again.

- A paired outcome with an answer date: its reminder and its task for the team go into
  `scheduled_messages`, in one transaction with an inbox mark, so a redelivered outcome adds nothing
  and a restart loses nothing. The scheduler sends them like any other waiting message (handlers.run_due).
- An answer (yes or no, by any route), for that person and partner; a no also for the partner's
  question about them, which no longer stands: both are taken off, and the question is remembered as
  answered (an inbox mark by question id), so a follow-up scheduled or retried after it is never sent.
- The round closed or cancelled: every follow-up of that round is taken off.
- The person or partner erased: erasure.forget_person takes them off with everything else about them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.events import OutcomePublished, PairAccepted, PairDeclined, PairEnded, RoundStatusChanged, TextReplyReceived
from services.common.store import Store, UnitOfWork, handled_in
from services.notifier.adapters.orm import DeliveryRow, ScheduledRow
from services.notifier.compose import london_date
from services.notifier.contacts import erased_among
from services.notifier.context import rows_changed
from services.notifier.domain.follow_ups import (
    NO_ANSWER,
    REMINDER,
    AnswerFollowUp,
    FollowUp,
    follow_up_id,
    follow_ups,
    question_id,
    round_key,
)

if TYPE_CHECKING:
    from services.notifier.context import Notifier

log = logging.getLogger("pairing.notifier.reminders")

SCHEDULED = "notifier.follow_ups"  # inbox: outcomes whose follow-ups are on the schedule
ANSWERED = "notifier.answered"  # inbox: questions answered, by question id
ROUNDS_ENDED = "notifier.rounds_ended"  # inbox: rounds closed or cancelled, by round_key
ENDED = {"closed", "cancelled"}  # a round in either takes no more answers
FOLLOW_UP_TYPE = "AnswerFollowUp"


def job_key(follow_up: AnswerFollowUp) -> str:
    """As notices.Notice.job_key: the scheduler holds and removes it by this key."""
    return f"{follow_up.event_id}:{follow_up.data.leader_id}"


async def schedule(n: Notifier, event: OutcomePublished) -> None:
    """The reminder and the task for each partner this person was asked about; once for each outcome."""
    due = follow_ups(event, london_date(event.occurred_at), n.rules.reminder_working_days)
    if not due:
        return
    async with n.store.unit_of_work() as uow:
        if not await uow.first_time(SCHEDULED, str(event.event_id)):
            return
        gone = await erased_among(uow.session, [event.data.leader_id, *(p.partner_id for p in event.data.partners)])
        for item in due:
            data = item.follow_up.data
            if {data.leader_id, data.partner_id} & gone or await is_answered(uow.session, n.store, data):
                continue
            if await uow.session.get(ScheduledRow, job_key(item.follow_up)) is None:
                uow.session.add(
                    ScheduledRow(
                        key=job_key(item.follow_up),
                        event_type=item.follow_up.event_type,
                        # The outcome inside holds answer links: sealed like every other personal detail at rest.
                        sealed_event=n.cipher.seal(item.follow_up.model_dump(mode="json")),
                        reason=data.kind,
                        due_at=item.at,
                        give_up_at=None,
                        attempts=0,
                    )
                )
        await uow.commit()


async def is_answered(session: AsyncSession, store: Store, data: FollowUp) -> bool:
    """Answered, or its round ended: the follow-up is no longer wanted."""
    question = str(question_id(data.round_id, data.leader_id, data.partner_id))
    return await handled_in(session, store, ANSWERED, question) or await handled_in(
        session, store, ROUNDS_ENDED, str(round_key(data.round_id))
    )


def questions(event: PairAccepted | PairDeclined | PairEnded | TextReplyReceived) -> list[tuple[str, str, str]]:
    """(round, person, partner) of each question an answer settles."""
    a = event.data
    said_no = isinstance(event, (PairDeclined, PairEnded)) or (
        isinstance(event, TextReplyReceived) and event.data.answer == "decline"
    )
    settled = [(a.round_id, a.leader_id, a.partner_id)]
    if said_no:  # the partner is told (a no, or a pair ended); nobody should remind them about a pair that will not go ahead
        settled.append((a.round_id, a.partner_id, a.leader_id))
    return settled


async def answered(n: Notifier, event: PairAccepted | PairDeclined | PairEnded | TextReplyReceived) -> None:
    settled = questions(event)
    async with n.store.unit_of_work() as uow:
        await uow.first_times(ANSWERED, [str(question_id(*q)) for q in settled])
        ids = [str(follow_up_id(*q, kind)) for q in settled for kind in (REMINDER, NO_ANSWER)]
        keys = [f"{follow_up_id(*q, kind)}:{q[1]}" for q in settled for kind in (REMINDER, NO_ANSWER)]
        taken = await take_off(uow, keys, ids, "not sent: they answered")
        await uow.commit()
    if taken:
        log.info("%s: %d follow-up(s) taken off, as the question was answered", event.data.round_id, taken)


async def round_ended(n: Notifier, event: RoundStatusChanged) -> None:
    """A closed or cancelled round takes no more answers: nobody is reminded or chased about it."""
    change = event.data
    if change.to_status not in ENDED:
        return
    async with n.store.unit_of_work() as uow:
        await uow.first_time(ROUNDS_ENDED, str(round_key(change.round_id)))
        rows = (await uow.session.scalars(select(ScheduledRow).where(ScheduledRow.event_type == FOLLOW_UP_TYPE))).all()
        mine = [r for r in rows if AnswerFollowUp.model_validate(n.cipher.open(r.sealed_event)).data.round_id == change.round_id]
        ids = [r.key.split(":", 1)[0] for r in mine]
        taken = await take_off(uow, [r.key for r in mine], ids, f"not sent: the pairing was {change.to_status}")
        await uow.commit()
    if taken:
        log.info("%s: %d follow-up(s) taken off, as the round is %s", change.round_id, taken, change.to_status)


async def take_off(uow: UnitOfWork, keys: list[str], ids: list[str], why: str) -> int:
    """Off the schedule (not one a scheduler holds at this moment: it checks for an answer itself), and
    any delivery row waiting for quiet hours to end says why it never went."""
    if not keys:
        return 0
    gone = await uow.session.execute(delete(ScheduledRow).where(ScheduledRow.key.in_(keys), ScheduledRow.lease.is_(None)))
    for follow_up in ids:
        await uow.session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.key.startswith(f"{follow_up}:"), DeliveryRow.status == "scheduled")
            .values(status="withdrawn", detail=why)
        )
    return rows_changed(gone)
