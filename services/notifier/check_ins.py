"""Putting "Did you meet?", check-ins and the tasks their answers make (domain/check_ins.py) on the
schedule, and taking them off again.

- A paired outcome: its questions ("Did you meet?" and the first check-in) go into
  `scheduled_messages`, in one transaction with an inbox mark, so a redelivered outcome adds nothing
  and a restart loses nothing. Their days count from when the notifier hears of it (its clock, which
  tests and `make demo-journey` move), not from the outcome's own time. The scheduler sends them like
  any other waiting message (handlers.run_due); when a check-in has gone, the next one is put on the
  schedule in the same transaction (`schedule_next`), for as long as the round is open.
- An answer (`FollowUpAnswered`, by link or through the team): "we need help" puts a task on the
  schedule due at once; "not yet" a task due later. "Met" takes off a waiting "not yet" task, and
  is remembered (an inbox mark by question), so a "not yet" that comes after it makes no task.
  Any answer to "Did you meet?" takes off the question if it has not gone yet, and a later "not yet"
  replaces the task and the question asked again of an earlier one (the latest answer given wins).
- The round closed or cancelled, or the pair ended or turned down: every question and task of it not
  yet sent is taken off, and remembered (an inbox mark), so no check-in is put on the schedule after it.
- The person or partner erased: erasure.forget_person takes them off with everything else about them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from schemas.events import FollowUpAnswered, OutcomePublished, PairDeclined, PairEnded, RoundStatusChanged
from services.common.store import UnitOfWork, handled_in
from services.notifier.adapters.orm import ScheduledRow
from services.notifier.compose import london_date
from services.notifier.contacts import erased_among
from services.notifier.domain.check_ins import (
    MET_QUESTION,
    NOT_YET,
    Due,
    Question,
    QuestionDue,
    about_meeting,
    asked_again,
    next_check_in,
    question_key,
    questions_for,
    superseded_by,
    task_for,
)
from services.notifier.domain.follow_ups import round_key
from services.notifier.reminders import (
    ENDED,
    ROUNDS_ENDED,
    Erased,
    add_jobs,
    marked_among,
    schedule_row,
    scheduled_among,
    take_off,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from services.common.store import Store
    from services.notifier.context import Notifier

log = logging.getLogger("pairing.notifier.check_ins")

SCHEDULED = "notifier.questions"  # inbox: outcomes whose questions are on the schedule
ANSWERS = "notifier.follow_up_answers"  # inbox: answers whose task (if any) is on the schedule
MET = "notifier.met"  # inbox: people who said they met, by the key of their "not yet" task
PAIRS_ENDED = "notifier.pairs_ended"  # inbox: pairs ended or turned down, by pair_key
JOB_TYPE = "QuestionDue"


def job_key(job: QuestionDue) -> str:
    """As notices.Notice.job_key: the scheduler holds and removes it by this key."""
    return f"{job.event_id}:{job.data.leader_id}"


def add_job(uow: UnitOfWork, n: Notifier, due: Due) -> None:
    uow.session.add(ScheduledRow(**job_row(n, due)))


def job_row(n: Notifier, due: Due) -> dict[str, Any]:
    return schedule_row(n, job_key(due.job), JOB_TYPE, due.job, due.job.data.kind, due.at)


def due_for(n: Notifier, event: OutcomePublished) -> list[Due]:
    """The outcome's questions and when each is due, counted from today on the notifier's clock."""
    return questions_for(event, london_date(n.now()))


def sealed_jobs(n: Notifier, event: OutcomePublished, due: list[Due] | None = None) -> dict[str, dict[str, Any]]:
    """Every question's row for the schedule, by key, sealed: work a caller may do ahead, away from the
    event loop, and hand to `schedule_all` (which still decides which of them go on)."""
    return {job_key(item.job): job_row(n, item) for item in (due_for(n, event) if due is None else due)}


async def schedule(n: Notifier, event: OutcomePublished) -> None:
    """Each question for each partner of this person; once for each outcome. The days count from now on
    the notifier's clock: an outcome heard late (a backlog, or the demo's moved clock) is not asked at once."""
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
    outcome's questions worked out ahead (`due_for`, by event id, with the rows), and `erased` may hold who
    among the batch's people was erased (looked up with reminders'). True if anything changed."""
    today = london_date(n.now())
    known = planned or {}
    due = {str(e.event_id): known[str(e.event_id)] if str(e.event_id) in known else questions_for(e, today) for e in events}
    new = await uow.first_times(SCHEDULED, [event_id for event_id, items in due.items() if items])
    items = [item for event_id in new for item in due[event_id]]
    if not items:
        return bool(new)
    rounds = {d: str(round_key(d)) for d in {item.job.data.round_id for item in items}}
    # Each item's keys worked out once: (item, its job's key, its round, its pair, its "not yet" task).
    keyed = [
        (
            item,
            job_key(item.job),
            rounds[d.round_id],
            pair_key(d.round_id, d.leader_id, d.partner_id),
            not_yet_key(d.round_id, d.leader_id, d.partner_id) if about_meeting(d) else None,
        )
        for item in items
        for d in (item.job.data,)
    ]
    datas = [item.job.data for item in items]
    gone = await (erased or Erased()).among(uow.session, {p for d in datas for p in (d.leader_id, d.partner_id)})
    marked = await marked_among(
        uow.session,
        n.store,
        {
            ROUNDS_ENDED: list(rounds.values()),
            PAIRS_ENDED: [k[3] for k in keyed],
            MET: [k[4] for k in keyed if k[4] is not None],
        },
    )
    waiting = await scheduled_among(uow.session, [k[1] for k in keyed])
    rows: list[dict[str, Any]] = []
    for item, key, round_, pair, not_yet in keyed:
        data = item.job.data
        if {data.leader_id, data.partner_id} & gone or key in waiting or (ROUNDS_ENDED, round_) in marked:
            continue
        # As no_longer_wanted: the pair ended, or (for questions about meeting) they said they met.
        if (PAIRS_ENDED, pair) in marked or (not_yet is not None and (MET, not_yet) in marked):
            continue
        waiting.add(key)
        rows.append((ready or {}).get(key) or job_row(n, item))
    await add_jobs(uow, rows)
    return True


def not_yet_key(round_id: str, leader_id: str, partner_id: str) -> str:
    return str(question_key(round_id, leader_id, partner_id, NOT_YET))


def pair_key(round_id: str, leader_id: str, partner_id: str) -> str:
    """The pair, whichever of the two is named first."""
    first, second = sorted((leader_id, partner_id))
    return str(question_key(round_id, first, second, "pair ended"))


async def no_longer_wanted(session: AsyncSession, store: Store, job: QuestionDue) -> bool:
    """Its round ended, or its pair; or, for "Did you meet?" and a "not yet" task, they said they met."""
    data = job.data
    if await handled_in(session, store, ROUNDS_ENDED, str(round_key(data.round_id))):
        return True
    if await handled_in(session, store, PAIRS_ENDED, pair_key(data.round_id, data.leader_id, data.partner_id)):
        return True
    if about_meeting(data):
        return await handled_in(session, store, MET, not_yet_key(data.round_id, data.leader_id, data.partner_id))
    return False


async def schedule_next(uow: UnitOfWork, n: Notifier, done: QuestionDue) -> None:
    """A check-in has gone (or could not be sent, and a person follows it up): the next one on the
    schedule, in the same transaction, unless its round or pair has ended or either person was erased."""
    due = next_check_in(done, london_date(n.now()))
    if due is None or await uow.session.get(ScheduledRow, job_key(due.job)) is not None:
        return
    data = due.job.data
    if await erased_among(uow.session, [data.leader_id, data.partner_id]) or await no_longer_wanted(
        uow.session, n.store, due.job
    ):
        return
    add_job(uow, n, due)


async def waiting_for_pair(uow: UnitOfWork, n: Notifier, round_id: str, leader_id: str, partner_id: str) -> list[ScheduledRow]:
    """Every question and task on the schedule asked of this person about this partner in this round."""
    rows = (
        await uow.session.scalars(select(ScheduledRow).where(ScheduledRow.event_type == JOB_TYPE, ScheduledRow.about(leader_id)))
    ).all()
    mine = []
    for row in rows:
        data = opened(n, row).data
        if data.round_id == round_id and data.leader_id == leader_id and data.partner_id == partner_id:
            mine.append(row)
    return mine


def opened(n: Notifier, row: ScheduledRow) -> QuestionDue:
    return QuestionDue.model_validate(n.cipher.open(row.sealed_event))


async def answered(n: Notifier, event: FollowUpAnswered) -> None:
    """A task for the team when the answer needs one; a "not yet" task taken off when they met, or moved
    by a later "not yet" (the latest answer given wins)."""
    answer = event.data
    # Counted from when the notifier hears it (its own clock, which tests and the demo move), so a
    # backlog or a moved clock never makes the task due the moment it is made.
    answered_on = london_date(n.now())
    due = task_for(event, answered_on, n.rules.not_yet_days)
    again = asked_again(event, answered_on)
    taken = 0
    async with n.store.unit_of_work() as uow:
        if not await uow.first_time(ANSWERS, str(event.event_id)):
            return
        if answer.answer == "met" and answer.question == "met":
            await uow.first_time(MET, not_yet_key(answer.round_id, answer.leader_id, answer.partner_id))
        rows = await waiting_for_pair(uow, n, answer.round_id, answer.leader_id, answer.partner_id)
        waiting = [(row, opened(n, row)) for row in rows]
        stale = answer.answer == "not_yet" and superseded_by(event, [job.data for _, job in waiting])
        if answer.question == "met":
            # Any answer settles the question and what an earlier answer about meeting set up: met (no one
            # chases them), we need help (a task of its own) or a later "not yet" (its own task and date);
            # an out-of-date "not yet" only the question itself.
            off = [row for row, job in waiting if about_meeting(job.data) and (not stale or is_first_question(job.data))]
            taken = await take_off(uow, [r.key for r in off], [r.key.split(":", 1)[0] for r in off], "not sent: they told us")
        if due is not None and not stale and await wanted_and_new(uow, n, due):
            add_job(uow, n, due)
        if again is not None and not stale:
            await ask_again(uow, n, again, [job.data for _, job in waiting])
        await uow.commit()
    if due is not None:
        n.wake.set()  # a task due at once
    if taken:
        log.info("%s: %d question(s) or task(s) taken off, as they answered", answer.round_id, taken)


async def wanted_and_new(uow: UnitOfWork, n: Notifier, due: Due) -> bool:
    """Not settled by an earlier answer or an ended round or pair, and not on the schedule already."""
    if await no_longer_wanted(uow.session, n.store, due.job):
        return False
    return await uow.session.get(ScheduledRow, job_key(due.job)) is None


def is_first_question(data: Question) -> bool:
    return data.kind == MET_QUESTION and data.number == 0


async def ask_again(uow: UnitOfWork, n: Notifier, again: Due, waiting: list[Question]) -> None:
    """'Not yet', with the date they set: "Did you meet?" again after it, with the links and details of the
    outcome a waiting question of the same pair holds (none left waiting: the not-yet task still follows)."""
    outcome = next((data.outcome for data in waiting if data.outcome is not None), None)
    if outcome is None or await uow.session.get(ScheduledRow, job_key(again.job)) is not None:
        return
    job = again.job.model_copy(update={"data": again.job.data.model_copy(update={"outcome": outcome})})
    add_job(uow, n, Due(job, again.at))


async def round_ended(n: Notifier, event: RoundStatusChanged) -> None:
    """A closed or cancelled round: nobody is asked about it, and no task is made from it.
    (reminders.round_ended marks the round ended; this takes off what is already waiting.)"""
    change = event.data
    if change.to_status not in ENDED:
        return
    async with n.store.unit_of_work() as uow:
        rows = (await uow.session.scalars(select(ScheduledRow).where(ScheduledRow.event_type == JOB_TYPE))).all()
        mine = [r for r in rows if opened(n, r).data.round_id == change.round_id]
        ids = [r.key.split(":", 1)[0] for r in mine]
        taken = await take_off(uow, [r.key for r in mine], ids, f"not sent: the pairing was {change.to_status}")
        await uow.commit()
    if taken:
        log.info("%s: %d question(s) taken off, as the round is %s", change.round_id, taken, change.to_status)


async def pair_ended(n: Notifier, event: PairEnded | PairDeclined) -> None:
    """Nobody is asked about a pair that ended, or that one of them turned down (or left the programme
    before it began), and no task is made about meeting in it."""
    ended = event.data
    pair = {ended.leader_id, ended.partner_id}
    either = or_(*(ScheduledRow.about(leader) for leader in pair))  # asked of one of the two
    async with n.store.unit_of_work() as uow:
        # Remembered, so no check-in goes on the schedule after it (one being sent at this moment would add one).
        await uow.first_time(PAIRS_ENDED, pair_key(ended.round_id, ended.leader_id, ended.partner_id))
        rows = (await uow.session.scalars(select(ScheduledRow).where(ScheduledRow.event_type == JOB_TYPE, either))).all()
        mine = []
        for row in rows:
            data = opened(n, row).data
            if data.round_id == ended.round_id and {data.leader_id, data.partner_id} == pair:
                mine.append(row)
        ids = [r.key.split(":", 1)[0] for r in mine]
        why = "not sent: the pair ended" if isinstance(event, PairEnded) else "not sent: the pair was turned down"
        taken = await take_off(uow, [r.key for r in mine], ids, why)
        await uow.commit()
    if taken:
        log.info("%s: %d question(s) taken off, as a pair ended or was turned down", ended.round_id, taken)
