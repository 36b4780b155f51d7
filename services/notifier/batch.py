"""A batch of outcomes, as a round's arrive: each person hears once, exactly as delivery.py
says, with a few transactions for the whole batch instead of several for every message.

1. One look at the database for the batch: which events were handled before, who was
   erased, everyone's contact details, and any delivery row already made for these events.
2. The ordinary messages (every detail here, nothing tried before, no quiet hours in the
   way) are written a few at a time away from the event loop; each few are claimed in
   one transaction (their delivery rows made "sending") and handed to the channels, so
   the email server already has messages while the next few are written.
3. When all are sent, one transaction records every result, marks every event handled
   and puts every delivery report in the outbox.
4. Any other message (an event tried before, details still on their way, someone erased,
   quiet hours, a round stopped) goes the one-message way (handlers.attempt), in the
   batch's order, after the ordinary ones; so does every later message in the batch for
   the same person, so each person's messages keep their order.
5. The reminders and questions of every outcome handled go on the schedule together.

A failed send is noted, not raised, so the rest of the batch goes. Once the rest are
recorded the batch raises, and the consumer tries it again (the events handled by then
are skipped: the inbox); after a message's last try it is returned, to be dead-lettered
on its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, Update, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from schemas.events import LeaderContact, OutcomePublished
from schemas.topics import DELIVERIES
from services.common.store import UnitOfWork, skipped_duplicate, utc_now
from services.notifier import check_ins, reminders
from services.notifier.adapters.orm import ContactRow, DeliveryRow
from services.notifier.compose import PlannedMessage
from services.notifier.contacts import erased_among
from services.notifier.context import Notifier
from services.notifier.delivery import ask_by_text, not_sent, receipt_to_ask, send
from services.notifier.domain.messages import Route, choose_route
from services.notifier.domain.quiet_hours import keeps_quiet_hours, next_allowed, quiet_hours_for
from services.notifier.notices import CONSUMER, Contacts, Notice, OutcomeNotice, report
from services.notifier.schedule import FromBatch, Origin

TABLE = cast(Table, DeliveryRow.__table__)
# Written and claimed together: enough to keep the email server busy, few enough to start at once.
FEW = 8
# The one-message way (handlers.attempt), passed in so this module does not import the handlers.
Attempt = Callable[[Notifier, Notice, Origin], Awaitable[None]]


@dataclass
class Ready:
    """An ordinary message, written; then claimed and sent."""

    notice: OutcomeNotice
    contacts: Contacts
    planned: PlannedMessage
    jobs: dict[str, dict[str, Any]]  # its reminders' and questions' rows for the schedule, sealed ahead
    result: tuple[str, str, str] | None = None
    error: Exception | None = None

    @property
    def key(self) -> str:
        return self.notice.key(self.planned.channel)

    @property
    def me(self) -> LeaderContact:
        contact = self.contacts[self.notice.leader_id]
        assert contact is not None  # an ordinary message has every detail it needs
        return contact


@dataclass
class Found:
    """What the batch's one look at the database found."""

    handled: set[str]
    contacts: dict[str, LeaderContact]
    erased: set[str]
    started: set[str]  # job keys ("{event id}:{leader id}") with a delivery row already


async def on_outcomes(n: Notifier, events: list[OutcomePublished], one: Attempt) -> list[tuple[OutcomePublished, Exception]]:
    """Tell everyone in the batch once; returns the events given up on (their last try failed), with
    why, to be dead-lettered. Raises the first failure when a message may still go on a later try."""
    events = list({str(e.event_id): e for e in events}.values())  # a second copy in the batch is a redelivery
    notices = [OutcomeNotice(e) for e in events]
    found = await look(n, notices)
    ordinary, others = sort_out(n, [x for x in notices if str(x.event.event_id) not in found.handled], found)
    claimed = await write_claim_and_send(n, ordinary, others, found.contacts)
    await record(n, claimed)
    origins: dict[str, FromBatch] = {}
    for ready in claimed:
        if ready.error is not None:
            origin = origins.setdefault(str(ready.notice.event.event_id), FromBatch())
            row = DeliveryRow(key=ready.key, leader_id=ready.notice.leader_id, channel=ready.planned.channel, attempts=1)
            await not_sent(n, ready.notice, origin, row, ready.error)
    for notice in others:
        await one(n, notice, origins.setdefault(str(notice.event.event_id), FromBatch()))
    failed = {event_id: origin for event_id, origin in origins.items() if origin.failures}
    sealed = {key: row for ready in claimed for key, row in ready.jobs.items()}
    await schedule_follow_ups(n, [e for e in events if str(e.event_id) not in failed], sealed)
    retry = [origin.failures[-1] for origin in failed.values() if not origin.given_up]
    if retry:
        raise retry[0]
    return [(e, failed[str(e.event_id)].failures[-1]) for e in events if str(e.event_id) in failed]


async def look(n: Notifier, notices: list[OutcomeNotice]) -> Found:
    async with n.store.unit_of_work() as uow:
        handled = await reminders.handled_among(uow.session, n.store, CONSUMER, [str(x.event.event_id) for x in notices])
        for _ in handled:
            skipped_duplicate(CONSUMER)
        todo = [x for x in notices if str(x.event.event_id) not in handled]
        leaders = sorted({leader for x in todo for leader in x.needed})
        erased = await erased_among(uow.session, leaders)
        rows = (await uow.session.scalars(select(ContactRow).where(ContactRow.leader_id.in_(leaders)))).all() if leaders else []
        contacts = {row.leader_id: LeaderContact.model_validate(n.cipher.open(row.sealed)) for row in rows}
        started = await started_among(uow, todo, n.channels)
    return Found(handled, contacts, erased, started)


async def started_among(uow: UnitOfWork, notices: list[OutcomeNotice], channels: Iterable[str]) -> set[str]:
    """The job keys among these with a delivery row already, under any channel (found by their keys)."""
    keys = [x.key(channel) for x in notices for channel in {*channels, "person"}]
    if not keys:
        return set()
    found = await uow.session.scalars(select(DeliveryRow.key).where(DeliveryRow.key.in_(keys)))
    return {key.rsplit(":", 1)[0] for key in found}


def sort_out(n: Notifier, notices: list[OutcomeNotice], found: Found) -> tuple[list[OutcomeNotice], list[OutcomeNotice]]:
    """The ordinary messages, and the others (in order) that go the one-message way."""
    now = n.now()
    ordinary: list[OutcomeNotice] = []
    others: list[OutcomeNotice] = []
    waiting: set[str] = set()  # people with a message going the one-message way: their later ones follow it
    for notice in notices:
        if notice.leader_id not in waiting and is_ordinary(n, notice, found, now):
            ordinary.append(notice)
        else:
            others.append(notice)
            waiting.add(notice.leader_id)
    return ordinary, others


def is_ordinary(n: Notifier, notice: OutcomeNotice, found: Found, now: dt.datetime) -> bool:
    if notice.cancels_round or notice.job_key in found.started:
        return False
    if any(leader in found.erased or leader not in found.contacts for leader in notice.needed):
        return False
    me = found.contacts[notice.leader_id]
    route = choose_route(me)  # as notice.plan chooses it
    return not (keeps_quiet_hours(route, me) and next_allowed(now, quiet_hours_for(me, n.rules.quiet_hours)) > now)


def write(n: Notifier, notices: list[OutcomeNotice], contacts: dict[str, LeaderContact]) -> list[Ready]:
    """Plan and render each message, and seal its reminders and questions for the schedule (in a worker
    thread: the event loop meanwhile keeps the email server busy)."""
    ready = []
    for notice in notices:
        theirs: Contacts = {leader: contacts[leader] for leader in notice.needed}
        jobs = {**reminders.sealed_jobs(n, notice.event), **check_ins.sealed_jobs(n, notice.event)}
        ready.append(Ready(notice, theirs, notice.plan(n.rules, theirs), jobs))
    return ready


async def write_claim_and_send(
    n: Notifier, ordinary: list[OutcomeNotice], others: list[OutcomeNotice], contacts: dict[str, LeaderContact]
) -> list[Ready]:
    """Every ordinary message written, claimed and sent, a few at a time; one that someone else
    claimed meanwhile (two consumers in a rebalance) joins `others`."""
    claimed: list[Ready] = []
    sending: list[asyncio.Task[None]] = []
    try:
        for start in range(0, len(ordinary), FEW):
            written = await asyncio.to_thread(write, n, ordinary[start : start + FEW], contacts)
            mine, lost = await claim(n, written)
            others.extend(ready.notice for ready in lost)
            claimed += mine
            sending += [asyncio.create_task(send_one(n, ready)) for ready in mine]
    finally:
        # Never leave a send behind: each notes its own failure, and the claimed are recorded after.
        ended = await asyncio.gather(*sending, return_exceptions=True)
    for end in ended:
        if isinstance(end, BaseException):
            raise end  # not a failure to send (the process is stopping): nothing is recorded
    return claimed


async def claim(n: Notifier, written: list[Ready]) -> tuple[list[Ready], list[Ready]]:
    """Delivery rows made "sending" before anything is sent, in one transaction (delivery.claim, for a few);
    returns those claimed here, and those with a row made meanwhile by someone else."""
    async with n.store.unit_of_work() as uow:
        started = await started_among(uow, [ready.notice for ready in written], n.channels)
        fresh = [ready for ready in written if ready.notice.job_key not in started]
        made: set[str] = set()
        if fresh:
            now = utc_now()
            rows = [
                {
                    "key": ready.key,
                    "round_id": ready.notice.round_id,
                    "leader_id": ready.notice.leader_id,
                    "channel": ready.planned.channel,
                    "status": "sending",
                    "attempts": 1,
                    "detail": "",
                    "updated_at": now,
                }
                for ready in fresh
            ]
            insert_or_skip = postgresql_insert if n.store.is_postgres else sqlite_insert
            made = set(
                await uow.session.scalars(insert_or_skip(TABLE).values(rows).on_conflict_do_nothing().returning(TABLE.c.key))
            )
        await uow.commit()
    return [r for r in written if r.key in made], [r for r in written if r.key not in made]


async def send_one(n: Notifier, ready: Ready) -> None:
    def replan(route: Route | None = None) -> PlannedMessage:
        return ready.notice.plan(n.rules, ready.contacts, route)

    try:
        ready.result = await send(n.channels, ready.planned, ready.me, ready.key, replan)
    except Exception as exc:  # noqa: BLE001 - recorded after the batch is sent (delivery.not_sent)
        ready.error = exc


# Each sent message's row, by its key: every column given, so one statement serves them all.
RECORDED: Update = update(TABLE).where(TABLE.c.key == bindparam("sent_key"))
NO_RECEIPT = {"notify_id": None, "about": None, "receipt_check_at": None, "receipt_until": None}


async def record(n: Notifier, claimed: list[Ready]) -> None:
    """Every result, every inbox mark and every delivery report, in one transaction (delivery.finish, for all)."""
    sent = [ready for ready in claimed if ready.result is not None]
    if not sent:
        return
    async with n.store.unit_of_work() as uow:
        new = await uow.first_times(CONSUMER, [str(ready.notice.event.event_id) for ready in sent])
        rows = []
        for ready in sent:
            if str(ready.notice.event.event_id) not in new:
                continue  # another consumer marked it meanwhile (a rebalance): theirs to record
            status, channel, detail = ready.result  # type: ignore[misc]  # sent: it has a result
            receipt = {**NO_RECEIPT, **receipt_to_ask(n, ready.notice, detail)}
            rows.append({"sent_key": ready.key, "status": status, "channel": channel, "detail": str(detail), **receipt})
            if not ready.planned.route.to_proxy and status == "sent" and channel == "sms":
                await ask_by_text(uow, n, ready.notice)
            uow.publish(DELIVERIES, ready.notice.leader_id, report(ready.notice, channel, status, detail))
        if rows:
            await uow.session.execute(RECORDED, rows)
        await uow.commit()


async def schedule_follow_ups(n: Notifier, events: list[OutcomePublished], sealed: dict[str, dict[str, Any]]) -> None:
    """Reminders and questions (reminders.py, check_ins.py) for every outcome handled, in one transaction;
    `sealed` holds the rows written ahead with the messages."""
    if not events:
        return
    async with n.store.unit_of_work() as uow:
        changed = await reminders.schedule_all(uow, n, events, sealed)
        changed = await check_ins.schedule_all(uow, n, events, sealed) or changed
        if changed:
            await uow.commit()
