"""A batch of outcomes, as a round's arrive: each person hears once, exactly as delivery.py
says, with a few transactions for every few messages instead of several for every message.

1. One look at the database for the batch: which events were handled before (or given up on
   in an earlier try of this very batch), who was erased, everyone's contact details, and any
   delivery row already made for these events.
2. The ordinary messages (every detail here, nothing tried before, no quiet hours in the way)
   go a few at a time (FEW), with never two messages to one person in the same few. Each few
   is claimed in one transaction (its delivery rows made "sending"), sent at once over the
   email server's connections, and recorded in one transaction (its rows "sent", its events
   marked handled, its delivery reports in the outbox) as soon as it is all sent. The next few
   is claimed and sent only once the one before is all sent (so each person's messages go in
   the batch's order), while the one before is recorded; the one after is written away from
   the event loop meanwhile. So at most two fews are ever sent and not yet recorded.
3. A message that cannot be written or recorded is that message's problem alone: its event is
   dead-lettered, with why, and the others go on. A failed send is noted on its row
   ("retrying"); after its last try the message is given up on, reported "failed" and its event
   dead-lettered there and then, with its place on the topic marked, so that trying the batch
   again never sends it again (a replay from the dead-letter topic comes from a new place, and
   is tried again).
4. Any other message (an event tried before, details still on their way, someone erased, quiet
   hours, a round stopped, a row someone else claimed) goes the one-message way
   (handlers.attempt), in the batch's order, after the ordinary ones; so does every later
   message in the batch for the same person.
5. The reminders and questions of every outcome handled go on the schedule together.
6. If any send failed short of its last try, the batch raises and the consumer tries it again:
   what was recorded is skipped (the inbox), and what was given up on too (its place).

Stopping part way (the batch is cancelled): every few claimed is sent and recorded first, so a
replay finds only the messages never sent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, Update, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from schemas.events import LeaderContact, OutcomePublished
from schemas.topics import DELIVERIES
from services.common.logs import without_person
from services.common.store import DatabaseUnavailable, UnitOfWork, skipped_duplicate, utc_now
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
# Claimed, sent and recorded together: enough to keep the email server busy, few enough that little
# is in flight at any moment (what a crash can leave unrecorded).
FEW = 8
# Inbox: places on the outcomes topic (`place`) whose event this notifier gave up on and dead-lettered.
GIVEN_UP = "notifier.outcomes.given_up"
# The one-message way (handlers.attempt), passed in so this module does not import the handlers.
Attempt = Callable[[Notifier, Notice, Origin], Awaitable[None]]
# Sends one event to the dead-letter topic: the event, why (an error, or words saying it), its tries.
DeadLetter = Callable[[OutcomePublished, BaseException | str, int], Awaitable[None]]
# Failures that are nobody's message's fault: the whole batch waits or stops for them.
NOT_THE_MESSAGE = (DatabaseUnavailable,)
log = logging.getLogger("pairing.notifier")


def place(topic: str, partition: int, offset: int, event_id: str) -> str:
    """Where a record was read: the same for every read of it, new for a replay (an inbox id)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{topic}/{partition}/{offset}/{event_id}"))


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
    given_up: set[str]  # event ids given up on in an earlier try of this batch


@dataclass
class Run:
    """One try of a batch: where each event came from, and what became of those not told."""

    n: Notifier
    one: Attempt
    dead_letter: DeadLetter | None
    places: Mapping[str, str]  # event id -> its place on the topic
    origins: dict[str, FromBatch] = field(default_factory=dict)
    sealed: dict[str, dict[str, Any]] = field(default_factory=dict)

    def origin(self, notice: Notice) -> FromBatch:
        return self.origins.setdefault(str(notice.event.event_id), FromBatch(settle=self.settle))

    async def settle(self, uow: UnitOfWork, notice: Notice, why: BaseException | str, attempts: int) -> None:
        """Given up on, in the transaction that says so: dead-lettered before it commits (if the broker
        is away, nothing is given up and the batch is tried again), and its place marked so no later
        try of this batch sends it again."""
        event = cast(OutcomePublished, notice.event)
        if self.dead_letter is not None:  # without one, the caller dead-letters it (on_outcomes returns it)
            await self.dead_letter(event, why, attempts)
        if (where := self.places.get(str(event.event_id))) is not None:
            await uow.first_time(GIVEN_UP, where)

    async def reject(self, notice: Notice, exc: Exception) -> None:
        """A message that cannot be written or recorded: its event is dead-lettered on its own, with why."""
        log.error("delivery %s: %s; dead-lettered", without_person(notice.job_key), exc.__class__.__name__)
        origin = self.origin(notice)
        origin.given_up.append(exc.__class__.__name__)
        origin.failures.append(exc)
        async with self.n.store.unit_of_work() as uow:
            await self.settle(uow, notice, exc, 1)
            await uow.commit()

    async def alone(self, notice: Notice, step: Awaitable[None]) -> None:
        """One message's step: whatever goes wrong with it stops no other message."""
        try:
            await step
        except NOT_THE_MESSAGE:
            raise
        except Exception as exc:  # noqa: BLE001 - this message's problem alone: dead-lettered with why
            await self.reject(notice, exc)


async def on_outcomes(
    n: Notifier,
    events: list[OutcomePublished],
    one: Attempt,
    dead_letter: DeadLetter | None = None,
    places: Mapping[str, str] | None = None,
) -> list[tuple[OutcomePublished, Exception]]:
    """Tell everyone in the batch once. Events given up on are dead-lettered through `dead_letter`;
    without one they are returned, with why, for the caller to dead-letter. Raises the first failed
    send when a message may still go on a later try."""
    events = list({str(e.event_id): e for e in events}.values())  # a second copy in the batch is a redelivery
    run = Run(n, one, dead_letter, places or {})
    notices = [OutcomeNotice(e) for e in events]
    found = await look(n, notices, run.places)
    todo = [x for x in notices if str(x.event.event_id) not in found.handled | found.given_up]
    ordinary, others = sort_out(n, todo, found)
    others += await tell_ordinary(run, ordinary, found.contacts)
    order = {id(notice): i for i, notice in enumerate(todo)}
    for notice in sorted(others, key=lambda x: order[id(x)]):
        await run.alone(notice, one(n, notice, run.origin(notice)))
    unsettled = {event_id for event_id, origin in run.origins.items() if origin.failures or origin.given_up}
    await schedule_follow_ups(n, [e for e in events if str(e.event_id) not in unsettled | found.given_up], run.sealed)
    retry = [origin.failures[-1] for origin in run.origins.values() if origin.failures and not origin.given_up]
    if retry:
        raise retry[0]
    if dead_letter is not None:
        return []
    return [
        (e, run.origins[str(e.event_id)].failures[-1])
        for e in events
        if str(e.event_id) in run.origins and run.origins[str(e.event_id)].given_up
    ]


async def look(n: Notifier, notices: list[OutcomeNotice], places: Mapping[str, str]) -> Found:
    async with n.store.unit_of_work() as uow:
        handled = await reminders.handled_among(uow.session, n.store, CONSUMER, [str(x.event.event_id) for x in notices])
        for _ in handled:
            skipped_duplicate(CONSUMER)
        marked = await reminders.handled_among(uow.session, n.store, GIVEN_UP, list(places.values()))
        given_up = {event_id for event_id, where in places.items() if where in marked}
        todo = [x for x in notices if str(x.event.event_id) not in handled | given_up]
        leaders = sorted({leader for x in todo for leader in x.needed})
        erased = await erased_among(uow.session, leaders)
        rows = (await uow.session.scalars(select(ContactRow).where(ContactRow.leader_id.in_(leaders)))).all() if leaders else []
        contacts = {row.leader_id: LeaderContact.model_validate(n.cipher.open(row.sealed)) for row in rows}
        started = await started_among(uow, todo, n.channels)
    return Found(handled, contacts, erased, started, given_up)


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


def in_few(notices: list[OutcomeNotice]) -> list[list[OutcomeNotice]]:
    """A few at a time, in the batch's order, with at most one message to a person in each few and a
    person's later message in a later few: the few go one after another, so their messages keep order."""
    groups: list[list[OutcomeNotice]] = []
    last: dict[str, int] = {}
    for notice in notices:
        at = last.get(notice.leader_id, -1) + 1
        while at < len(groups) and len(groups[at]) >= FEW:
            at += 1
        if at == len(groups):
            groups.append([])
        groups[at].append(notice)
        last[notice.leader_id] = at
    return groups


def write(n: Notifier, notices: list[OutcomeNotice], contacts: dict[str, LeaderContact]) -> list[Ready | Exception]:
    """Plan and render each message, and seal its reminders and questions for the schedule (in a worker
    thread: the event loop meanwhile keeps the email server busy). One that cannot be written is its error."""
    written: list[Ready | Exception] = []
    for notice in notices:
        try:
            theirs: Contacts = {leader: contacts[leader] for leader in notice.needed}
            jobs = {**reminders.sealed_jobs(n, notice.event), **check_ins.sealed_jobs(n, notice.event)}
            written.append(Ready(notice, theirs, notice.plan(n.rules, theirs), jobs))
        except Exception as exc:  # noqa: BLE001 - this message alone is dead-lettered (Run.reject)
            written.append(exc)
    return written


async def tell_ordinary(run: Run, ordinary: list[OutcomeNotice], contacts: dict[str, LeaderContact]) -> list[OutcomeNotice]:
    """Every ordinary message written, claimed, sent and recorded, a few at a time; returns those that go
    the one-message way after all (claimed meanwhile by someone else, two consumers in a rebalance, and
    that person's later messages).

    While one few is recorded the next is claimed and sent (once the one before is all sent), and the
    one after that written. A cancel (the service stopping) waits for every few claimed to be
    sent and recorded, so a replay finds only messages never sent."""
    groups = in_few(ordinary)
    others: list[OutcomeNotice] = []
    diverted: set[str] = set()
    flying: list[asyncio.Task[None]] = []
    before: asyncio.Event | None = None  # set when the few before is all sent
    writing = asyncio.create_task(asyncio.to_thread(write, run.n, groups[0], contacts)) if groups else None
    try:
        for at in range(len(groups)):
            assert writing is not None
            written = await writing
            nxt = at + 1
            writing = asyncio.create_task(asyncio.to_thread(write, run.n, groups[nxt], contacts)) if nxt < len(groups) else None
            ready: list[Ready] = []
            for notice, item in zip(groups[at], written, strict=True):
                if isinstance(item, Exception):
                    await run.reject(notice, item)
                elif notice.leader_id in diverted:
                    others.append(notice)
                else:
                    ready.append(item)
            if before is not None:
                await before.wait()  # one few in the air at a time: this one is claimed once the one before is sent
            few = Few(ready, before)
            flying.append(asyncio.create_task(few.fly(run)))
            for lost in await asyncio.shield(few.claimed):
                others.append(lost.notice)
                diverted.add(lost.notice.leader_id)
            before = few.sent
        await landed(flying)
    except BaseException:
        if flying:  # stopping, or a failure: every few claimed is still sent and recorded first
            await asyncio.wait(flying)
        raise
    finally:
        if writing is not None:
            writing.cancel()
    return others


async def landed(flying: list[asyncio.Task[None]]) -> None:
    """Every few sent and recorded; the first failure that stopped one (the database away) raised."""
    if flying:
        await asyncio.wait(flying)  # never cancels them, whatever befalls the wait
    for task in flying:
        if (failure := task.exception()) is not None:
            raise failure


@dataclass
class Few:
    """A few messages: claimed, then sent once the few before is all sent, then recorded."""

    written: list[Ready]
    before: asyncio.Event | None
    claimed: asyncio.Future[list[Ready]] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    sent: asyncio.Event = field(default_factory=asyncio.Event)

    async def fly(self, run: Run) -> None:
        try:
            mine, lost = await claim_all(run, self.written)
        except BaseException as exc:
            self.claimed.set_exception(exc)
            self.sent.set()
            raise
        self.claimed.set_result(lost)
        try:
            if self.before is not None:
                await self.before.wait()  # a person's later message never overtakes their earlier one
            await asyncio.gather(*(send_one(run.n, ready) for ready in mine))
        finally:
            self.sent.set()
        await record_all(run, [ready for ready in mine if ready.result is not None])
        for ready in mine:
            if ready.error is not None:
                row = DeliveryRow(key=ready.key, leader_id=ready.notice.leader_id, channel=ready.planned.channel, attempts=1)
                await run.alone(ready.notice, not_sent(run.n, ready.notice, run.origin(ready.notice), row, ready.error))
            else:
                run.sealed.update(ready.jobs)


async def claim_all(run: Run, written: list[Ready]) -> tuple[list[Ready], list[Ready]]:
    """`claim` for the few; if that fails, for each on its own, so one that cannot be claimed (a value
    the database refuses: dead-lettered, with why) holds up no other."""
    try:
        return await claim(run.n, written)
    except NOT_THE_MESSAGE:
        raise
    except Exception:  # noqa: BLE001 - one of them is the trouble: each on its own finds which
        mine: list[Ready] = []
        lost: list[Ready] = []
        for ready in written:
            try:
                got = await claim(run.n, [ready])
            except NOT_THE_MESSAGE:
                raise
            except Exception as exc:  # noqa: BLE001 - this message alone is dead-lettered
                await run.reject(ready.notice, exc)
                continue
            mine += got[0]
            lost += got[1]
        return mine, lost


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
    except Exception as exc:  # noqa: BLE001 - recorded once the few is sent (delivery.not_sent)
        ready.error = exc


# Each sent message's row, by its key: every column given, so one statement serves them all.
RECORDED: Update = update(TABLE).where(TABLE.c.key == bindparam("sent_key"))
NO_RECEIPT = {"notify_id": None, "about": None, "receipt_check_at": None, "receipt_until": None}


async def record_all(run: Run, sent: list[Ready]) -> None:
    """The few's results in one transaction; if that fails, each on its own, so one that cannot be
    recorded (dead-lettered, with why) leaves the others recorded."""
    if not sent:
        return
    try:
        await record(run.n, sent)
    except NOT_THE_MESSAGE:
        raise
    except Exception:  # noqa: BLE001 - one of them is the trouble: each on its own finds which
        for ready in sent:
            await run.alone(ready.notice, record(run.n, [ready]))


async def record(n: Notifier, sent: list[Ready]) -> None:
    """Results, inbox marks and delivery reports, in one transaction (delivery.finish, for a few)."""
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
