"""The notifier's handlers: keep contact details, tell each person once, in the way they need.

Two kinds of event make a message: an outcome (`OutcomePublished`, to the
person it is about) and a partner saying no (`PairDeclined`, to the other
person in the pair). Both go through the same steps (`attempt`).

Sending a message and recording it cannot share one transaction, so each
message has a delivery row keyed by (event, person, channel):

1. claim: the row is written as "sending" before anything is sent;
2. send through the channel;
3. finish: in one transaction, the row becomes "sent" (or "needs_a_person"),
   the event is marked handled (or its scheduled entry removed) and the
   delivery report goes to the outbox.

A redelivered event whose row is finished is not sent again; it only gets its
report. The window that remains: a crash after the channel has taken the
message but before step 3 commits. The next attempt finds the row still
"sending" and sends again. For letters, text messages and tasks that
rewrites the same file (named by the key), so nobody gets two; for email it
can mean a second copy, with the same Message-ID so mail programs can spot it.
We choose that over the risk of someone never hearing back.

Some messages cannot go at once. They are parked in the database
(`scheduled_messages`), the event marked handled in the same transaction, and
the scheduler (scheduler.py) tries them again when due:

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
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.events import (
    Delivery,
    Envelope,
    LeaderContact,
    LeaderContactChanged,
    SealedContact,
    NotificationStatusChanged,
    OutcomePublished,
    PairDeclined,
    ProgrammeContact,
)
from schemas.topics import DELIVERIES, OUTCOMES, RESPONSES, Topic
from services.common.observability import NOTIFICATIONS
from services.common.crypto import Cipher
from services.common.kafka import jittered_backoff
from services.common.store import Store, UnitOfWork, handled_in
from services.notifier.adapters.channels import CannotUseChannel, Channel, TaskWritten
from services.notifier.adapters.notify import SentByNotify
from services.notifier.adapters.orm import ContactRow, DeliveryRow, ErasedRow, PersonKeyRow, ScheduledRow, TextQuestionRow
from services.notifier import person_keys, reminders
from services.notifier.clock import Clock, SystemClock
from services.notifier.compose import (
    PlannedMessage,
    london_date,
    plan_message,
    plan_missing_contact_task,
    plan_partner_declined,
)
from services.notifier.erasure import PARTNER_ERASED, digest, erased_among, tell_in_person
from services.notifier.domain.follow_ups import JOB_TYPES, AnswerFollowUp
from services.notifier.follow_up_words import plan_follow_up
from services.notifier.domain.messages import TO_PROXY, Route, recipient
from services.notifier.domain.quiet_hours import QuietHours, keeps_quiet_hours, next_allowed, quiet_hours_for, when_words

PRODUCER = "notifier"
CONSUMER = "notifier.outcomes"
DECLINES_CONSUMER = "notifier.declines"
FINISHED = {"sent", "delivered", "needs_a_person"}
WAITING_FOR_CONTACT = "waiting_for_contact_details"
QUIET_HOURS = "quiet_hours"
RETRY = "retry"
# How long one scheduler may hold a message while sending it; far longer than any send.
LEASE = dt.timedelta(minutes=10)
# How often a message waiting for contact details looks again (a new contact also wakes the scheduler).
RECHECK = dt.timedelta(seconds=2)
# How long we ask GOV.UK Notify what became of a message: it keeps a message's status for 7 days.
ASK_FOR = dt.timedelta(days=7)
log = logging.getLogger("pairing.notifier")

# A follow-up (a reminder, or a task when someone has not answered) is not an event on a topic:
# it is made from an outcome when that is handled, and waits on the schedule (reminders.py).
Cause = OutcomePublished | PairDeclined | AnswerFollowUp


@dataclass(frozen=True)
class MessageRules:
    """Settings that shape every message."""

    # The programme's contact details, for outcomes that do not carry their own (and for declines).
    programme: ProgrammeContact
    max_attempts: int = 5  # after this many failed sends the delivery is reported as failed
    # Contact details come on their own topic and may arrive a little after an outcome.
    # After this long without them, a person is asked to pass the message on.
    contact_wait_seconds: float = 0
    # Someone whose partner said no hears from us again within this many days.
    repair_contact_days: int = 14
    quiet_hours: QuietHours = QuietHours()
    # A send from the scheduler that failed is tried again after this, doubling each time (with jitter).
    retry_seconds: float = 30
    max_retry_seconds: float = 1800
    # A message sent through GOV.UK Notify: first asked about after this (receipts.py).
    receipt_seconds: float = 60
    # Someone who has not answered is reminded this many working days before their answer date.
    reminder_working_days: int = 3


# Sends an event the scheduler gave up on to the dead-letter topic: (its topic, its key, the event, why, tries).
DeadLetterPort = Callable[[Topic, str, Envelope, str, int], Awaitable[None]]


@dataclass
class Notifier:
    """Everything the handlers need, built once by the app."""

    store: Store
    cipher: Cipher
    channels: Mapping[str, Channel]
    rules: MessageRules
    clock: Clock = field(default_factory=SystemClock)
    # Set when something may have become due early (contact details arrived): the scheduler looks at once.
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # Where a scheduled message goes after its last try; None (tests of the handlers alone): it is only reported.
    dead_letter: DeadLetterPort | None = None
    # Where files for people are written (text messages, letters, tasks): erasure removes theirs.
    folders: tuple[Path, ...] = ()

    def now(self) -> dt.datetime:
        return self.clock.now().astimezone(dt.timezone.utc)


@dataclass(frozen=True)
class Notice:
    """One message to one person, and the event that caused it."""

    event: Cause

    @property
    def about(self) -> str:
        """outcome, partner_declined, or a follow-up's kind: reminder or no_answer."""
        if isinstance(self.event, AnswerFollowUp):
            return self.event.data.kind
        return "outcome" if isinstance(self.event, OutcomePublished) else "partner_declined"

    @property
    def consumer(self) -> str:
        if isinstance(self.event, AnswerFollowUp):
            return reminders.SCHEDULED
        return CONSUMER if isinstance(self.event, OutcomePublished) else DECLINES_CONSUMER

    @property
    def replayable(self) -> bool:
        """A follow-up was never on a topic, so it cannot go to the dead-letter topic and back."""
        return not isinstance(self.event, AnswerFollowUp)

    @property
    def topic(self) -> Topic:
        """Where the event came from, and its key there: a replay from the dead-letter topic sends it back."""
        return OUTCOMES if isinstance(self.event, OutcomePublished) else RESPONSES

    @property
    def record_key(self) -> str:
        return self.event.data.round_id if isinstance(self.event, PairDeclined) else self.event.data.leader_id

    @property
    def leader_id(self) -> str:
        """Who is told: the person the outcome or follow-up is about, or the partner of the one who said no."""
        data = self.event.data
        return data.partner_id if isinstance(self.event, PairDeclined) else data.leader_id

    @property
    def round_id(self) -> str:
        return self.event.data.round_id

    @property
    def needed(self) -> list[str]:
        """Whose contact details the message cannot be written without."""
        if isinstance(self.event, OutcomePublished):
            return [self.leader_id, *(p.partner_id for p in self.event.data.partners)]
        if isinstance(self.event, AnswerFollowUp):
            return [self.leader_id, self.event.data.partner_id]
        return [self.leader_id]

    @property
    def wanted(self) -> list[str]:
        """Whose details make it better but are not needed: the name of the person who said no."""
        return [self.event.data.leader_id] if isinstance(self.event, PairDeclined) else []

    @property
    def job_key(self) -> str:
        return f"{self.event.event_id}:{self.leader_id}"

    def key(self, channel: str) -> str:
        return f"{self.job_key}:{channel}"


@dataclass(frozen=True)
class Lease:
    """A scheduled message one scheduler holds while it works on it."""

    key: str
    token: str
    give_up_at: dt.datetime | None


# ---- contact details ----


async def apply_contact(uow: UnitOfWork, changed: LeaderContactChanged, cipher: Cipher) -> None:
    data = changed.data
    if isinstance(data, SealedContact):  # sealed with the leader's own key (older records are plain)
        data = await person_keys.opened(uow, cipher, data)
        if data is None:
            return  # its key has not come yet (it waits for it), or was destroyed
    await project_contact(uow, data, cipher)


async def project_contact(uow: UnitOfWork, data: LeaderContact, cipher: Cipher) -> None:
    row = await uow.session.get(ContactRow, data.leader_id)
    if row is not None and row.version >= data.version:
        return
    if row is None:
        # Back after their contact details were removed (withdrawn, or erased and registered again): hear them again.
        # Before the new row is added: the delete would flush it half made.
        await uow.session.execute(delete(ErasedRow).where(ErasedRow.digest == digest(data.leader_id)))
        row = ContactRow(leader_id=data.leader_id)
        uow.session.add(row)
    row.version = data.version
    row.sealed = cipher.seal(data.model_dump(mode="json"))


async def load_contacts(uow: UnitOfWork, leader_ids: list[str]) -> None:
    """A batch's stored contacts and keys, read at once (apply_contact then finds them in the session)."""
    await uow.session.scalars(select(ContactRow).where(ContactRow.leader_id.in_(leader_ids)))
    await uow.session.scalars(select(PersonKeyRow).where(PersonKeyRow.leader_id.in_(leader_ids)))


async def contact_of(session: AsyncSession, cipher: Cipher, leader_id: str) -> LeaderContact | None:
    row = await session.get(ContactRow, leader_id)
    return LeaderContact.model_validate(cipher.open(row.sealed)) if row else None


async def contacts_in(session: AsyncSession, n: Notifier, notice: Notice) -> dict[str, LeaderContact | None]:
    return {leader: await contact_of(session, n.cipher, leader) for leader in [*notice.needed, *notice.wanted]}


async def contacts_for(n: Notifier, notice: Notice) -> dict[str, LeaderContact | None]:
    async with n.store.unit_of_work() as uow:
        contacts = await contacts_in(uow.session, n, notice)
        missing = [leader for leader, contact in contacts.items() if contact is None]
        if missing and await person_keys.open_waiting(uow, n.cipher, missing):
            await uow.commit()
            contacts = await contacts_in(uow.session, n, notice)
        return contacts


# ---- reports and keys ----


def report(event: Cause, channel: str, status: str, detail: str = "") -> NotificationStatusChanged:
    notice = Notice(event)
    # A task for a person says what kind it is and when it must be done by (the work queue shows both).
    task = {"task": detail.kind, "due_by": detail.due_by} if isinstance(detail, TaskWritten) else {}
    return delivery_report(notice.round_id, notice.leader_id, event.event_id, notice.about, channel, status, detail, **task)


def delivery_report(
    round_id: str,
    leader_id: str,
    event_id: uuid.UUID,
    about: str,
    channel: str,
    status: str,
    detail: str,
    task: str | None = None,
    due_by: dt.date | None = None,
) -> NotificationStatusChanged:
    NOTIFICATIONS.labels(channel, status).inc()  # every status change is reported through here
    return NotificationStatusChanged(
        producer=PRODUCER,
        correlation_id=round_id,
        causation_id=str(event_id),
        data=Delivery(
            round_id=round_id,
            leader_id=leader_id,
            outcome_event_id=event_id,
            channel=channel,
            status=status,
            detail=detail,
            about=about,
            task=task,
            due_by=due_by,
        ),
    )


def delivery_key(event: Cause, channel: str) -> str:
    return Notice(event).key(channel)


def as_utc(moment: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back times without a zone; they were stored as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.timezone.utc)


# ---- one attempt at a message, from a consumer (lease None) or the scheduler ----


async def on_event(n: Notifier, event: OutcomePublished | PairDeclined) -> None:
    """A consumer's entry: an outcome or a partner saying no. An outcome that asks for an answer
    also puts its reminders on the schedule (after the message, with an inbox mark of their own:
    so once, even if the process stopped between the two)."""
    notice = Notice(event)
    async with n.store.unit_of_work() as uow:  # one look at the database for both
        handled = await handled_in(uow.session, n.store, notice.consumer, str(event.event_id))
        contacts = None if handled else await contacts_in(uow.session, n, notice)
    if not handled:
        await attempt(n, notice, None, contacts)
    if isinstance(event, OutcomePublished):
        await reminders.schedule(n, event)


def plan(n: Notifier, notice: Notice, contacts: dict[str, LeaderContact | None], route: Route | None = None) -> PlannedMessage:
    rules, event = n.rules, notice.event
    me = contacts[notice.leader_id]
    if isinstance(event, OutcomePublished):
        known = {k: v for k, v in contacts.items() if v is not None}
        return plan_message(event.data, me, known, rules.programme, route)
    if isinstance(event, AnswerFollowUp):
        return plan_follow_up(event.data, me, contacts[event.data.partner_id], rules.programme, route)
    return plan_partner_declined(
        event.data,
        me,
        contacts.get(event.data.leader_id),
        rules.programme,
        london_date(event.occurred_at),
        rules.repair_contact_days,
        route,
    )


async def attempt(
    n: Notifier, notice: Notice, lease: Lease | None, contacts: dict[str, LeaderContact | None] | None = None
) -> None:
    """Write the message and send it; or park it (contact details not here yet, quiet hours)."""
    if isinstance(notice.event, OutcomePublished) and notice.event.data.outcome == "cancelled":
        await withdraw_waiting_messages(n, notice)
    if await not_for_the_erased(n, notice, lease) or await no_longer_wanted(n, notice, lease):
        return
    now = n.now()
    contacts = contacts or await contacts_for(n, notice)
    for leader in notice.wanted:  # the person who said no, erased since: the message says "your partner"
        if contacts.get(leader) is None and await erased(n, [leader]):
            contacts.pop(leader, None)
    missing = [leader for leader in notice.needed if contacts[leader] is None]
    me = contacts[notice.leader_id]
    if missing or None in contacts.values():
        # Details on their way (a wanted name too: at start-up each topic's consumer catches up on its own).
        give_up_at = (lease and lease.give_up_at) or now + dt.timedelta(seconds=n.rules.contact_wait_seconds)
        if now < give_up_at:
            await park(n, notice, lease, WAITING_FOR_CONTACT, min(now + RECHECK, give_up_at), give_up_at)
            # Details that came while we parked woke the scheduler too early to see this message: wake it again.
            if None not in (await contacts_for(n, notice)).values():
                n.wake.set()
            return
    if missing and isinstance(notice.event, AnswerFollowUp):
        # Their details were there when they were asked, so they have gone since (withdrawn): no one to remind.
        log.info("%s: not sent, as contact details for %s are no longer held", notice.job_key, missing)
        async with n.store.unit_of_work() as uow:
            if await mark_done(uow, notice, lease):
                await uow.commit()
        return
    if missing:
        why = (
            "we do not have their contact details yet"
            if me is None
            else "cannot be told yet: we do not have their partner's contact details"
        )
        log.warning("%s: no contact details for %s after waiting; a person will pass it on", notice.job_key, missing)
        planned = plan_missing_contact_task(
            notice.event, notice.leader_id, contacts, why, n.rules.programme, n.rules.repair_contact_days
        )
        # The task channel needs someone to address; only the id is known.
        me = me or LeaderContact(leader_id=notice.leader_id, version=1, name=f"leader {notice.leader_id}", role="patient_leader")
        await send_and_record(n, notice, planned, me, lambda _route: planned, lease)
        return

    def replan(route: Route | None = None) -> PlannedMessage:
        return plan(n, notice, contacts, route)

    planned = replan()
    if keeps_quiet_hours(planned.route, me):
        opens = next_allowed(now, quiet_hours_for(me, n.rules.quiet_hours))
        if opens > now:
            await schedule_after_quiet_hours(n, notice, lease, planned.channel, opens)
            return
    await send_and_record(n, notice, planned, me, replan, lease)


async def erased(n: Notifier, leader_ids: list[str]) -> set[str]:
    async with n.store.sessions() as session:
        return await erased_among(session, leader_ids)


async def not_for_the_erased(n: Notifier, notice: Notice, lease: Lease | None) -> bool:
    """An event that arrived after someone it needs was erased: never sent. Told about an erased
    partner, the person hears from a member of staff instead (a "needs a person" report)."""
    gone = await erased(n, notice.needed)
    if not gone:
        return False
    async with n.store.unit_of_work() as uow:
        if not await mark_done(uow, notice, lease):
            return True
        if notice.leader_id not in gone:
            await tell_in_person(uow.session, notice, notice.leader_id)
            uow.publish(DELIVERIES, notice.leader_id, report(notice.event, "person", "needs_a_person", PARTNER_ERASED))
        await uow.commit()
    log.info("%s: not sent, as someone it is about was erased", notice.event.event_id)
    return True


async def no_longer_wanted(n: Notifier, notice: Notice, lease: Lease | None) -> bool:
    """A follow-up whose question was answered (or whose round ended) since it was scheduled: taken off, never sent."""
    if not isinstance(notice.event, AnswerFollowUp):
        return False
    async with n.store.unit_of_work() as uow:
        if not await reminders.is_answered(uow.session, n.store, notice.event.data):
            return False
        if await mark_done(uow, notice, lease):
            await uow.commit()
    log.info("%s: not sent, as it was answered or its round ended", notice.job_key)
    return True


async def withdraw_waiting_messages(n: Notifier, notice: Notice) -> None:
    """A published round was stopped: its news still waiting for this person (quiet hours, contact
    details on their way, a retry) must never follow the message saying it will not go ahead."""
    async with n.store.unit_of_work() as uow:
        waiting = (
            await uow.session.scalars(
                select(ScheduledRow).where(ScheduledRow.key.endswith(f":{notice.leader_id}"), ScheduledRow.lease.is_(None))
            )
        ).all()
        withdrawn = []
        for row in waiting:
            event = JOB_TYPES[row.event_type].model_validate(n.cipher.open(row.sealed_event))
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
        log.info("%s: %d waiting message(s) withdrawn, as the round was cancelled", notice.job_key, len(withdrawn))


async def send_and_record(
    n: Notifier,
    notice: Notice,
    planned: PlannedMessage,
    me: LeaderContact,
    replan: Callable[[Route], PlannedMessage],
    lease: Lease | None,
) -> None:
    row, before, replaces = await claim(n.store, notice, planned.channel)
    if before in FINISHED:
        await finish(n, notice, row, None, lease)  # sent before; only the report may be missing
        return
    if before == "sending":
        log.warning("delivery %s: the last attempt stopped part way and may have sent already; sending again", row.key)
    try:
        result = await send(n.channels, planned, me, row.key, replan)
    except Exception as exc:
        # Not sent: say so on the row, so the next attempt knows it is not a possible duplicate.
        failure = f"{exc.__class__.__name__} on try {row.attempts}"
        if row.attempts >= n.rules.max_attempts:
            await give_up(n, notice, row.key, row.channel, failure, row.attempts, lease)
        else:
            await set_status(n.store, row.key, "retrying", failure)
            if lease is not None:
                wait = jittered_backoff(row.attempts, n.rules.retry_seconds, n.rules.max_retry_seconds)
                await park(n, notice, lease, RETRY, n.now() + dt.timedelta(seconds=wait), None)
                log.warning("delivery %s: %s; will try again in %.0f seconds", row.key, failure, wait)
        if lease is None:
            raise  # the consumer retries with backoff, then dead-letters
        return
    await finish(n, notice, row, result, lease, replaces, asked_by_text=not planned.route.to_proxy)


async def claim(store: Store, notice: Notice, channel: str) -> tuple[DeliveryRow, str | None, bool]:
    """The delivery row for this message, its status before this attempt (None if new), and
    whether it replaces a row scheduled for another channel.

    A finished row for the same event and person under another channel counts
    too: if their contact details changed between two attempts, they still
    hear once.
    """
    key = notice.key(channel)
    async with store.unit_of_work() as uow:
        rows = (
            await uow.session.scalars(
                select(DeliveryRow).where(
                    DeliveryRow.leader_id == notice.leader_id, DeliveryRow.key.startswith(f"{notice.event.event_id}:")
                )
            )
        ).all()
        done = next((r for r in rows if r.status in FINISHED), None)
        if done is not None:
            return done, done.status, False
        replaces = any(r.status == "scheduled" and r.key != key for r in rows)
        row = next((r for r in rows if r.key == key), None)
        before = row.status if row else None
        if row is None:
            row = DeliveryRow(
                key=key, round_id=notice.round_id, leader_id=notice.leader_id, channel=channel, attempts=0, detail=""
            )
            uow.session.add(row)
        row.status = "sending"
        row.attempts += 1
        await uow.commit()
        return row, before, replaces


async def set_status(store: Store, key: str, status: str, detail: str) -> None:
    async with store.unit_of_work() as uow:
        row = await uow.session.get(DeliveryRow, key)
        row.status, row.detail = status, detail
        await uow.commit()


async def mark_done(uow: UnitOfWork, notice: Notice, lease: Lease | None) -> bool:
    """Inside the result's transaction: mark the event handled, or take the message off the schedule.

    False if that was already done (a redelivery, or another scheduler took over after our lease ran out).
    """
    if lease is None:
        return await uow.first_time(notice.consumer, str(notice.event.event_id))
    gone = await uow.session.execute(
        delete(ScheduledRow).where(ScheduledRow.key == lease.key, ScheduledRow.lease == lease.token)
    )
    return gone.rowcount == 1


async def finish(
    n: Notifier,
    notice: Notice,
    row: DeliveryRow,
    result: tuple[str, str, str] | None,
    lease: Lease | None,
    replaces: bool = False,
    asked_by_text: bool = False,
) -> None:
    """Record the result (status, channel, detail), mark it done and report, all in one transaction.

    With no result the row was finished before, and only its report may be missing. A text message
    to the person themselves may open a question they can answer by replying (text_question)."""
    status, channel, detail = result or (row.status, row.channel, row.detail)
    async with n.store.unit_of_work() as uow:
        if not await mark_done(uow, notice, lease):
            return
        if result is not None:
            await uow.session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.key == row.key)
                .values(status=status, channel=channel, detail=str(detail), **receipt_to_ask(n, notice, detail))
            )
        if replaces:
            # Scheduled for one channel and sent by another (their details changed overnight): close the old row.
            await uow.session.execute(
                update(DeliveryRow)
                .where(
                    DeliveryRow.key.startswith(f"{notice.event.event_id}:"),
                    DeliveryRow.leader_id == notice.leader_id,
                    DeliveryRow.key != row.key,
                    DeliveryRow.status == "scheduled",
                )
                .values(status="replaced", detail=f"sent by {channel} instead")
            )
        if asked_by_text and status == "sent" and channel == "sms" and (question := text_question(notice)) is not None:
            await uow.session.merge(question)
        uow.publish(DELIVERIES, notice.leader_id, report(notice.event, channel, status, detail))
        await uow.commit()


def text_question(notice: Notice) -> TextQuestionRow | None:
    """A pair offered by text to the person themselves, with one partner: a reply of YES or NO can
    only be about this pair (inbound.py reads the replies)."""
    event = notice.event
    if not isinstance(event, OutcomePublished) or event.data.outcome != "paired" or len(event.data.partners) != 1:
        return None
    return TextQuestionRow(
        key=notice.job_key, round_id=notice.round_id, leader_id=notice.leader_id, partner_id=event.data.partners[0].partner_id
    )


def receipt_to_ask(n: Notifier, notice: Notice, detail: str) -> dict:
    """For a message GOV.UK Notify took: its id and when to ask what became of it (receipts.py)."""
    if not isinstance(detail, SentByNotify) or not detail.notification_id:
        return {}
    now = n.now()
    return {
        "notify_id": detail.notification_id,
        "about": notice.about,
        "receipt_check_at": now + dt.timedelta(seconds=n.rules.receipt_seconds),
        "receipt_until": now + ASK_FOR,
    }


async def give_up(
    n: Notifier, notice: Notice, key: str, channel: str, failure: str, attempts: int, lease: Lease | None
) -> None:
    """Tell the registry a message could not be sent, so a person can follow it up.

    From a consumer the event is not marked handled, and the consumer then
    dead-letters it: replaying it from the dead-letter topic tries again. From
    the scheduler it leaves the schedule, its inbox mark (made when it was
    parked) is taken away and it is dead-lettered here, so a replay works the same.
    """
    detail = f"could not be sent ({failure}, the last); a person should follow it up"
    async with n.store.unit_of_work() as uow:
        row = await uow.session.get(DeliveryRow, key)
        row.status, row.detail = "failed", detail
        if lease is not None:
            if not await mark_done(uow, notice, lease):
                return
            inbox = n.store.inbox
            await uow.session.execute(
                delete(inbox).where(inbox.consumer == notice.consumer, inbox.event_id == str(notice.event.event_id))
            )
        uow.publish(DELIVERIES, notice.leader_id, report(notice.event, channel, "failed", detail))
        if lease is not None and n.dead_letter is not None and notice.replayable:
            # Before the commit: if the broker is away, nothing is given up and the scheduler tries again later.
            await n.dead_letter(notice.topic, notice.record_key, notice.event, failure, attempts)
        await uow.commit()


async def send(
    channels: Mapping[str, Channel],
    planned: PlannedMessage,
    me: LeaderContact,
    key: str,
    replan: Callable[[Route], PlannedMessage],
) -> tuple[str, str, str]:
    """Send through the planned channel; if that channel cannot take this message, give it to a person.

    Returns (status, channel, detail) for the delivery row and report.
    """
    try:
        detail = await channels[planned.channel].send(planned, recipient(me, planned.route), key)
        if planned.route.to_proxy:
            # Who, in words; never their name or address. Notify's id for the message stays with the note.
            proxy_note = f"{detail}, {TO_PROXY}"
            detail = SentByNotify(proxy_note, detail.notification_id) if isinstance(detail, SentByNotify) else proxy_note
        return ("needs_a_person" if planned.channel == "person" else "sent"), planned.channel, detail
    except CannotUseChannel as exc:
        why = f"could not be reached by {planned.channel}: {exc}"
        if planned.route.to_proxy:
            why = f"could not be reached through the person they named, by {planned.channel}: {exc}"
    # A person passes it on, and the task is about the leader: the message without the words for the proxy.
    for_a_person = replan(dataclasses.replace(planned.route, channel="person", why_a_person=why, to_proxy=False))
    return "needs_a_person", "person", await channels["person"].send(for_a_person, me, key)


# ---- parking a message for later ----


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


async def keep_on_schedule(
    uow: UnitOfWork, n: Notifier, notice: Notice, lease: Lease | None, reason: str, due: dt.datetime, give_up_at: dt.datetime | None
) -> bool:
    """Put the message on the schedule (from a consumer: with the inbox mark), or move it (from the scheduler)."""
    if lease is None:
        if not await uow.first_time(notice.consumer, str(notice.event.event_id)):
            return False
        uow.session.add(sealed_job(n, notice, reason, due, give_up_at))
        return True
    moved = await uow.session.execute(
        update(ScheduledRow)
        .where(ScheduledRow.key == lease.key, ScheduledRow.lease == lease.token)
        .values(reason=reason, due_at=due, give_up_at=give_up_at, lease=None)
    )
    return moved.rowcount == 1


async def park(
    n: Notifier, notice: Notice, lease: Lease | None, reason: str, due: dt.datetime, give_up_at: dt.datetime | None
) -> None:
    async with n.store.unit_of_work() as uow:
        if await keep_on_schedule(uow, n, notice, lease, reason, due, give_up_at):
            await uow.commit()


async def schedule_after_quiet_hours(n: Notifier, notice: Notice, lease: Lease | None, channel: str, opens: dt.datetime) -> None:
    """Stored and reported as scheduled; the scheduler sends it when the person's quiet hours end."""
    detail = f"to be sent at {when_words(opens)}, when the person's quiet hours end"
    async with n.store.unit_of_work() as uow:
        if not await keep_on_schedule(uow, n, notice, lease, QUIET_HOURS, opens, None):
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
            uow.publish(DELIVERIES, notice.leader_id, report(notice.event, channel, "scheduled", detail))
        await uow.commit()


# ---- the scheduler's side: take due messages and try them again ----


async def due_keys(n: Notifier, early: bool = False, limit: int = 100) -> list[str]:
    """Messages due now; with `early`, also those waiting for contact details (one may just have come)."""
    query = select(ScheduledRow.key).where(due_clause(n, early)).order_by(ScheduledRow.due_at).limit(limit)
    async with n.store.sessions() as session:
        return list((await session.scalars(query)).all())


def due_clause(n: Notifier, early: bool):  # noqa: ANN201 - an SQL expression
    due = ScheduledRow.due_at <= n.now()
    if early:
        return or_(due, and_(ScheduledRow.reason == WAITING_FOR_CONTACT, ScheduledRow.lease.is_(None)))
    return due


async def next_due(n: Notifier) -> dt.datetime | None:
    async with n.store.sessions() as session:
        return as_utc(await session.scalar(select(ScheduledRow.due_at).order_by(ScheduledRow.due_at).limit(1)))


async def take(n: Notifier, key: str, early: bool = False) -> tuple[Lease, Cause] | None:
    """Hold one due message for LEASE, so no other scheduler sends it meanwhile; None if another has it."""
    token = str(uuid.uuid4())
    async with n.store.unit_of_work() as uow:
        taken = await uow.session.execute(
            update(ScheduledRow)
            .where(ScheduledRow.key == key, due_clause(n, early))
            .values(lease=token, due_at=n.now() + LEASE, attempts=ScheduledRow.attempts + 1)
        )
        if taken.rowcount != 1:
            return None
        row = await uow.session.get(ScheduledRow, key)
        event = JOB_TYPES[row.event_type].model_validate(n.cipher.open(row.sealed_event))
        lease = Lease(key, token, as_utc(row.give_up_at))
        await uow.commit()
    return lease, event


async def run_due(n: Notifier, early: bool = False) -> int:
    """Try every message that is due; returns how many were tried."""
    tried = 0
    for key in await due_keys(n, early):
        taken = await take(n, key, early)
        if taken is None:
            continue
        lease, event = taken
        tried += 1
        try:
            await attempt(n, Notice(event), lease)
        except Exception:  # noqa: BLE001 - one broken message must not stop the others
            log.exception("scheduled message %s could not be handled; trying again later", key)
            later = n.now() + dt.timedelta(seconds=n.rules.max_retry_seconds)
            await park(n, Notice(event), lease, RETRY, later, lease.give_up_at)
    return tried
