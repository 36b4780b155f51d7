"""The schedule: messages that cannot go at once wait in the database (`scheduled_messages`).

A message is parked, with its event marked handled in the same transaction,
and the scheduler (scheduler.py, through handlers.run_due) tries it again
when due:

- a text message or phone call in the person's quiet hours: reported
  "scheduled", sent when the quiet hours end;
- contact details still on their way: tried again every few seconds, and when
  they have not come after NOTIFIER_CONTACT_WAIT_SECONDS, a person is asked
  to pass the message on ("needs_a_person"). Never silence;
- a send that failed, from the scheduler: tried again later with backoff and
  jitter; after the last try it is reported "failed" and its event goes to the
  dead-letter topic as if from its own topic, so `pairing dlq replay` sends it
  back to this service's consumer to try again.

Parking, instead of waiting inside the consumer, keeps the partition flowing.

Where a message came from decides how it is parked and marked done:
`FromConsumer` (an event just read from its topic: its inbox mark) or
`FromSchedule` (a message one scheduler holds under a lease: its row).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import ColumnElement, Delete, Update, and_, delete, func, or_, select, update

from schemas.topics import DELIVERIES
from services.common.kafka import jittered_backoff
from services.common.logs import without_person
from services.common.store import UnitOfWork
from services.notifier.adapters.orm import DeliveryRow, ScheduledRow
from services.notifier.context import Notifier, as_utc, rows_changed
from services.notifier.domain.check_ins import JOB_TYPES
from services.notifier.domain.quiet_hours import when_words
from services.notifier.notices import Cause, Notice, report

WAITING_FOR_CONTACT = "waiting_for_contact_details"
QUIET_HOURS = "quiet_hours"
RETRY = "retry"
# How long one scheduler may hold a message while sending it; far longer than any send. A scheduler
# that stops lets go of the message in hand first (FromSchedule.release), so no one waits this long.
LEASE = dt.timedelta(minutes=10)
# How often a message waiting for contact details looks again (a new contact also wakes the scheduler).
RECHECK = dt.timedelta(seconds=2)
# A later outcome for someone with an earlier one still on the schedule waits behind it (behind_earlier).
BEHIND = "behind_an_earlier_message"
# Why an outcome's message is on the schedule instead of sent: a later one for that person waits behind it.
HELD_UP = (QUIET_HOURS, WAITING_FOR_CONTACT, RETRY, BEHIND)
OUTCOME = "OutcomePublished"
# Where the person's id starts in an outcome's key, "{event id}:{leader id}": an event id is a UUID,
# 36 characters, and SQL counts from 1.
LEADER_IN_KEY = 38
log = logging.getLogger("pairing.notifier")


@dataclass(frozen=True)
class FromConsumer:
    """An event just read from its topic: done when its inbox mark is made."""

    async def mark_done(self, uow: UnitOfWork, notice: Notice) -> bool:
        """Inside the result's transaction; False if it was done before (a redelivery)."""
        return await uow.first_time(notice.consumer, str(notice.event.event_id))

    async def keep(
        self, uow: UnitOfWork, n: Notifier, notice: Notice, reason: str, due: dt.datetime, give_up_at: dt.datetime | None
    ) -> bool:
        """Put the message on the schedule, with the inbox mark."""
        if not await self.mark_done(uow, notice):
            return False
        uow.session.add(sealed_job(n, notice, reason, due, give_up_at))
        return True

    def contact_deadline(self, n: Notifier, now: dt.datetime) -> dt.datetime:
        return now + dt.timedelta(seconds=n.rules.contact_wait_seconds)

    async def retry_later(self, n: Notifier, notice: Notice, key: str, attempts: int, failure: str) -> None:
        """Nothing to park: the consumer retries it itself (see `failed`)."""

    def out_of_tries(self, n: Notifier, attempts: int) -> bool:
        """Whether a send that failed on this try is given up on (`let_go`) rather than tried again."""
        return attempts >= n.rules.max_attempts

    async def let_go(self, uow: UnitOfWork, n: Notifier, notice: Notice, failure: str, attempts: int) -> bool:
        """Given up: the event is not marked handled, and the consumer then dead-letters it
        (`failed`): replaying it from the dead-letter topic tries again."""
        return True

    def failed(self, exc: Exception) -> None:
        """A send failed: the consumer retries with backoff, then dead-letters."""
        raise exc


@dataclass(frozen=True)
class FromBatch(FromConsumer):
    """An event in a batch of outcomes (batch.py): a failed send is noted here, not raised, so the
    rest of the batch still goes; the batch raises afterwards, to be tried again. One given up on
    is settled (`settle`: dead-lettered, and never tried again by this batch) in the transaction
    that reports it failed."""

    settle: Callable[[UnitOfWork, Notice, str, int], Awaitable[None]] | None = None
    failures: list[Exception] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)
    last_try: bool = False  # the consumer's last try of the batch: nothing is left for a later one

    def out_of_tries(self, n: Notifier, attempts: int) -> bool:
        """On the consumer's last try of the batch a failed send is given up on whatever its own count:
        raising for a later try would have the consumer dead-letter the whole batch."""
        return self.last_try or attempts >= n.rules.max_attempts

    async def let_go(self, uow: UnitOfWork, n: Notifier, notice: Notice, failure: str, attempts: int) -> bool:
        self.given_up.append(failure)
        if self.settle is not None:
            # `failure` is "{error} on try {n}": the dead letter says it in words a person reads first.
            what = failure.split(" on try ", 1)[0]
            tries = "1 try" if attempts == 1 else f"{attempts} tries"
            await self.settle(uow, notice, f"could not be sent after {tries} ({what})", attempts)
        return True

    def failed(self, exc: Exception) -> None:
        self.failures.append(exc)


@dataclass(frozen=True)
class FromSchedule:
    """A scheduled message one scheduler holds while it works on it (its lease)."""

    key: str
    token: str
    give_up_at: dt.datetime | None

    async def mark_done(self, uow: UnitOfWork, notice: Notice) -> bool:
        """Take it off the schedule, inside the result's transaction; False if another scheduler
        took it over after our lease ran out."""
        return await changed(uow, delete(ScheduledRow).where(ScheduledRow.key == self.key, ScheduledRow.lease == self.token)) == 1

    async def keep(
        self, uow: UnitOfWork, n: Notifier, notice: Notice, reason: str, due: dt.datetime, give_up_at: dt.datetime | None
    ) -> bool:
        """Move it on the schedule, and let go of the lease."""
        moved = (
            update(ScheduledRow)
            .where(ScheduledRow.key == self.key, ScheduledRow.lease == self.token)
            .values(reason=reason, due_at=due, give_up_at=give_up_at, lease=None)
        )
        return await changed(uow, moved) == 1

    def contact_deadline(self, n: Notifier, now: dt.datetime) -> dt.datetime:
        return self.give_up_at or now + dt.timedelta(seconds=n.rules.contact_wait_seconds)

    async def retry_later(self, n: Notifier, notice: Notice, key: str, attempts: int, failure: str) -> None:
        wait = jittered_backoff(attempts, n.rules.retry_seconds, n.rules.max_retry_seconds)
        await park(n, notice, self, RETRY, n.now() + dt.timedelta(seconds=wait), None)
        log.warning("delivery %s: %s; will try again in %.0f seconds", without_person(key), failure, wait)

    async def let_go(self, uow: UnitOfWork, n: Notifier, notice: Notice, failure: str, attempts: int) -> bool:
        """Given up: off the schedule, its inbox mark (made when it was parked) taken away, and
        dead-lettered here, so a replay works as for a consumer's event. False if another scheduler has it."""
        if not await self.mark_done(uow, notice):
            return False
        inbox = n.store.inbox
        await uow.session.execute(
            delete(inbox).where(inbox.consumer == notice.consumer, inbox.event_id == str(notice.event.event_id))
        )
        if n.dead_letter is not None and notice.source is not None:
            # Before the commit: if the broker is away, nothing is given up and the scheduler tries again later.
            await n.dead_letter(*notice.source, notice.event, failure, attempts)
        return True

    def out_of_tries(self, n: Notifier, attempts: int) -> bool:
        return attempts >= n.rules.max_attempts

    def failed(self, exc: Exception) -> None:
        """A send failed: parked for a later try, or given up; the schedule holds it either way."""

    async def release(self, n: Notifier) -> None:
        """Stopped part way (its instance is shutting down): due again at once, for another scheduler."""
        freed = (
            update(ScheduledRow)
            .where(ScheduledRow.key == self.key, ScheduledRow.lease == self.token)
            .values(lease=None, due_at=n.now())
        )
        try:
            async with n.store.unit_of_work() as uow:
                if await changed(uow, freed) == 1:
                    await uow.commit()
        except Exception as exc:  # noqa: BLE001 - stopping must go on; the lease then runs out as before
            log.warning("delivery %s: could not be let go on stopping (%s)", without_person(self.key), exc.__class__.__name__)


# Where a message came from: it decides how the message is parked and marked done.
Origin = FromConsumer | FromSchedule


# ---- parking a message for later ----


async def changed(uow: UnitOfWork, statement: Update | Delete) -> int:
    """How many rows an update or delete changed (0: another scheduler, or the consumer, got there first)."""
    return rows_changed(await uow.session.execute(statement))


def opened(n: Notifier, row: ScheduledRow) -> Cause:
    """A scheduled message's event, unsealed: an outcome, a decline or a follow-up (JOB_TYPES)."""
    return cast("Cause", JOB_TYPES[row.event_type].model_validate(n.cipher.open(row.sealed_event)))


def sealed_job(n: Notifier, notice: Notice, reason: str, due: dt.datetime, give_up_at: dt.datetime | None) -> ScheduledRow:
    return ScheduledRow(
        key=notice.job_key,
        event_type=notice.event.event_type,
        # The event holds answer links: sealed like every other personal detail at rest.
        sealed_event=n.cipher.seal(notice.event.model_dump(mode="json")),
        reason=reason,
        due_at=due,
        give_up_at=give_up_at,
        attempts=0,
    )


async def park(
    n: Notifier, notice: Notice, origin: Origin, reason: str, due: dt.datetime, give_up_at: dt.datetime | None
) -> None:
    async with n.store.unit_of_work() as uow:
        if await origin.keep(uow, n, notice, reason, due, give_up_at):
            await uow.commit()


async def after_quiet_hours(n: Notifier, notice: Notice, origin: Origin, channel: str, opens: dt.datetime) -> None:
    """Stored and reported as scheduled; the scheduler sends it when the person's quiet hours end."""
    detail = f"to be sent at {when_words(opens)}, when the person's quiet hours end"
    async with n.store.unit_of_work() as uow:
        if not await origin.keep(uow, n, notice, QUIET_HOURS, opens, None):
            return
        key = notice.key(channel)
        row = await uow.session.get(DeliveryRow, key)
        already = row is not None and row.status == "scheduled"
        if row is None:
            row = DeliveryRow(
                key=key, round_id=notice.round_id, leader_id=notice.leader_id, channel=channel, attempts=0, detail=""
            )
            uow.session.add(row)
        row.status, row.detail = "scheduled", detail
        if not already:
            uow.publish(DELIVERIES, notice.leader_id, report(notice, channel, "scheduled", detail))
        await uow.commit()


async def withdraw_waiting(n: Notifier, notice: Notice) -> None:
    """A published round was stopped: its news still waiting for this person (quiet hours, contact
    details on their way, a retry) must never follow the message saying it will not go ahead."""
    async with n.store.unit_of_work() as uow:
        waiting = (
            await uow.session.scalars(
                select(ScheduledRow).where(ScheduledRow.about(notice.leader_id), ScheduledRow.lease.is_(None))
            )
        ).all()
        withdrawn = []
        for row in waiting:
            event = opened(n, row)
            if event.event_id != notice.event.event_id and event.data.round_id == notice.round_id:
                withdrawn.append(str(event.event_id))
                await uow.session.delete(row)
        for event_id in withdrawn:
            await uow.session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.key.startswith(f"{event_id}:"), DeliveryRow.status == "scheduled")
                .values(status="withdrawn", detail="not sent: the round was cancelled before it went")
            )
        await uow.commit()
    if withdrawn:
        log.info(
            "%s: %d waiting message(s) withdrawn, as the round was cancelled", without_person(notice.job_key), len(withdrawn)
        )


# ---- the scheduler's side: find due messages and take them ----


async def due_keys(n: Notifier, early: bool = False, limit: int = 100) -> list[str]:
    """Messages due now; with `early`, also those waiting for contact details (one may just have come)."""
    # Two due at once (one person's messages after their quiet hours) go in the order they were put here.
    query = select(ScheduledRow.key).where(due_clause(n, early)).order_by(ScheduledRow.due_at, ScheduledRow.created_at)
    query = query.limit(limit)
    async with n.store.sessions() as session:
        return list((await session.scalars(query)).all())


def due_clause(n: Notifier, early: bool) -> ColumnElement[bool]:
    due = ScheduledRow.due_at <= n.now()
    if early:
        return or_(due, and_(ScheduledRow.reason == WAITING_FOR_CONTACT, ScheduledRow.lease.is_(None)))
    return due


async def next_due(n: Notifier) -> dt.datetime | None:
    async with n.store.sessions() as session:
        return as_utc(await session.scalar(select(ScheduledRow.due_at).order_by(ScheduledRow.due_at).limit(1)))


async def take(n: Notifier, key: str, early: bool = False) -> tuple[FromSchedule, Cause] | None:
    """Hold one due message for LEASE, so no other scheduler sends it meanwhile; None if another has it."""
    token = str(uuid.uuid4())
    async with n.store.unit_of_work() as uow:
        if (later := await behind_earlier(uow, n, key)) is not None:
            # Its person's earlier outcome is still waiting: this one moves behind it, to go after it.
            moved = update(ScheduledRow).where(ScheduledRow.key == key, ScheduledRow.lease.is_(None)).values(due_at=later)
            if await changed(uow, moved) == 1:
                await uow.commit()
            return None
        taken = (
            update(ScheduledRow)
            .where(ScheduledRow.key == key, due_clause(n, early))
            .values(lease=token, due_at=n.now() + LEASE, attempts=ScheduledRow.attempts + 1)
        )
        if await changed(uow, taken) != 1:
            return None
        row = await uow.session.get_one(ScheduledRow, key)
        event = opened(n, row)
        held = FromSchedule(key, token, as_utc(row.give_up_at))
        await uow.commit()
    return held, event


async def behind_earlier(uow: UnitOfWork, n: Notifier, key: str) -> dt.datetime | None:
    """For an outcome's message: when to look again, if the same person has an earlier outcome's message
    still on the schedule (quiet hours, details on their way, a retry), so their messages keep their
    order; None if it may go now."""
    row = await uow.session.get(ScheduledRow, key)
    if row is None or row.event_type != OUTCOME or row.lease is not None:
        return None
    earlier = await uow.session.scalar(
        select(ScheduledRow)
        .where(func.substr(ScheduledRow.key, LEADER_IN_KEY) == key.split(":", 1)[1], ScheduledRow.key != key)
        .where(ScheduledRow.event_type == OUTCOME, ScheduledRow.reason.in_(HELD_UP), ScheduledRow.created_at < row.created_at)
        .order_by(ScheduledRow.due_at)
        .limit(1)
    )
    if earlier is None:
        return None
    soonest = n.now() + RECHECK
    return soonest if earlier.lease is not None else max(as_utc(earlier.due_at), soonest)


async def outcomes_waiting(uow: UnitOfWork, leaders: set[str]) -> dict[str, dt.datetime]:
    """Among these people, those with an outcome's message still on the schedule (quiet hours, details
    on their way, a retry), and when the earliest of them is due: their later ones wait behind it."""
    if not leaders:
        return {}
    # The person's id in the key, after the event's: one statement for any number of people, compiled
    # once (a clause for each person made a new statement for each size of batch, each kept in the cache).
    rows = await uow.session.execute(
        select(ScheduledRow.key, ScheduledRow.due_at)
        .where(ScheduledRow.event_type == OUTCOME, ScheduledRow.reason.in_(HELD_UP))
        .where(func.substr(ScheduledRow.key, LEADER_IN_KEY).in_(sorted(leaders)))
    )
    waiting: dict[str, dt.datetime] = {}
    for key, due in rows:
        leader, at = key.split(":", 1)[1], as_utc(due)
        waiting[leader] = min(waiting.get(leader, at), at)
    return waiting
