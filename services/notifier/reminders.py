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

import datetime as dt
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel
from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.events import OutcomePublished, PairAccepted, PairDeclined, PairEnded, RoundStatusChanged, TextReplyReceived
from services.common.store import Store, UnitOfWork, handled_in, utc_now
from services.notifier.adapters.orm import DeliveryRow, ScheduledRow
from services.notifier.compose import london_date
from services.notifier.contacts import erased_among
from services.notifier.context import rows_changed
from services.notifier.domain.follow_ups import (
    NO_ANSWER,
    REMINDER,
    AnswerFollowUp,
    Due,
    FollowUp,
    follow_up_id,
    follow_ups,
    question_id,
    round_key,
)

if TYPE_CHECKING:
    from services.notifier.context import Notifier

log = logging.getLogger("pairing.notifier.reminders")

SCHEDULE = cast(Table, ScheduledRow.__table__)
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
    async with n.store.unit_of_work() as uow:
        if await schedule_all(uow, n, [event]):
            await uow.commit()


async def schedule_all(
    uow: UnitOfWork,
    n: Notifier,
    events: list[OutcomePublished],
    ready: Mapping[str, dict[str, Any]] | None = None,
    erased: Erased | None = None,
    planned: Mapping[str, list[Due]] | None = None,
) -> bool:
    """`schedule` for a batch of outcomes, in the caller's unit of work (it commits): a few statements for
    the whole batch, whatever its size; `ready` holds rows sealed ahead (`sealed_jobs`), `planned` each
    outcome's follow-ups worked out ahead (`due_for`, by event id), and `erased` may hold who among the
    batch's people was erased (looked up with check_ins'). True if anything changed."""
    known = planned or {}
    due = {str(e.event_id): known[str(e.event_id)] if str(e.event_id) in known else due_for(n, e) for e in events}
    new = await uow.first_times(SCHEDULED, [event_id for event_id, items in due.items() if items])
    items = [item for event_id in new for item in due[event_id]]
    if not items:
        return bool(new)
    rounds = {d: str(round_key(d)) for d in {item.follow_up.data.round_id for item in items}}
    # Each item's keys worked out once: (item, its job's key, its question, its round).
    keyed = [
        (item, job_key(item.follow_up), str(question_id(d.round_id, d.leader_id, d.partner_id)), rounds[d.round_id])
        for item in items
        for d in (item.follow_up.data,)
    ]
    datas = [item.follow_up.data for item in items]
    gone = await (erased or Erased()).among(uow.session, {p for d in datas for p in (d.leader_id, d.partner_id)})
    marked = await marked_among(uow.session, uow.store, {ANSWERED: [k[2] for k in keyed], ROUNDS_ENDED: list(rounds.values())})
    waiting = await scheduled_among(uow.session, [k[1] for k in keyed])
    rows: list[dict[str, Any]] = []
    for item, key, question, round_ in keyed:
        data = item.follow_up.data
        if {data.leader_id, data.partner_id} & gone or key in waiting:
            continue
        if (ANSWERED, question) in marked or (ROUNDS_ENDED, round_) in marked:
            continue
        waiting.add(key)
        rows.append((ready or {}).get(key) or follow_up_row(n, item))
    await add_jobs(uow, rows)
    return True


class Erased:
    """Who among people was erased, looked up once for everyone a batch's follow-ups name (reminders and
    questions both ask): the first `among` looks up all of them; a later one only those not asked about yet."""

    def __init__(self) -> None:
        self.asked: set[str] = set()
        self.gone: set[str] = set()

    async def among(self, session: AsyncSession, people: set[str]) -> set[str]:
        if unasked := people - self.asked:
            self.gone |= await erased_among(session, sorted(unasked))
            self.asked |= unasked
        return self.gone & people


def schedule_row(n: Notifier, key: str, event_type: str, job: BaseModel, reason: str, due_at: dt.datetime) -> dict[str, Any]:
    """A row for the schedule (reminders here, questions in check_ins.py), its job sealed."""
    return {
        "key": key,
        "event_type": event_type,
        # The outcome inside holds answer links: sealed like every other personal detail at rest. Sealed from
        # pydantic's own JSON (a few a message, so dumping to a dict and encoding that cost more than sealing).
        "sealed_event": n.cipher.seal_bytes(job.model_dump_json().encode()),
        "reason": reason,
        "due_at": due_at,
        "give_up_at": None,
        "attempts": 0,
    }


def follow_up_row(n: Notifier, item: Due) -> dict[str, Any]:
    follow_up = item.follow_up
    return schedule_row(n, job_key(follow_up), follow_up.event_type, follow_up, follow_up.data.kind, item.at)


def due_for(n: Notifier, event: OutcomePublished) -> list[Due]:
    """The outcome's follow-ups and when each is due."""
    return follow_ups(event, london_date(event.occurred_at), n.rules.reminder_working_days)


def sealed_jobs(n: Notifier, event: OutcomePublished, due: list[Due] | None = None) -> dict[str, dict[str, Any]]:
    """Every follow-up's row for the schedule, by key, sealed: work a caller may do ahead, away from the
    event loop, and hand to `schedule_all` (which still decides which of them go on)."""
    return {job_key(item.follow_up): follow_up_row(n, item) for item in (due_for(n, event) if due is None else due)}


async def handled_among(session: AsyncSession, store: Store, consumer: str, event_ids: list[str]) -> set[str]:
    """Which of these ids the inbox holds for `consumer` (`handled_in` for many, in one statement)."""
    if not event_ids:
        return set()
    inbox = store.inbox
    found = await session.scalars(select(inbox.event_id).where(inbox.consumer == consumer, inbox.event_id.in_(set(event_ids))))
    return set(found.all())


async def marked_among(session: AsyncSession, store: Store, wanted: Mapping[str, list[str]]) -> set[tuple[str, str]]:
    """Which of these ids the inbox holds, for each consumer (`handled_among` for several consumers, in one
    statement): (consumer, id) pairs."""
    asked = {consumer: set(event_ids) for consumer, event_ids in wanted.items() if event_ids}
    if not asked:
        return set()
    inbox = store.inbox
    ids = set().union(*asked.values())
    found = await session.execute(
        select(inbox.consumer, inbox.event_id).where(inbox.consumer.in_(list(asked)), inbox.event_id.in_(ids))
    )
    return {(consumer, event_id) for consumer, event_id in found if event_id in asked[consumer]}


async def add_jobs(uow: UnitOfWork, rows: list[dict[str, Any]]) -> None:
    """New rows on the schedule, in one statement (the ORM would insert them one at a time)."""
    if rows:
        now = utc_now()
        await uow.session.execute(insert(SCHEDULE), [{"lease": None, "created_at": now, **row} for row in rows])


async def scheduled_among(session: AsyncSession, keys: list[str]) -> set[str]:
    """Which of these keys are on the schedule already."""
    if not keys:
        return set()
    return set((await session.scalars(select(ScheduledRow.key).where(ScheduledRow.key.in_(set(keys))))).all())


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
