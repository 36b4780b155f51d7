"""One try of a batch of outcomes (batch.py): what it knows about each message on the way, what
becomes of one that goes wrong, and the small steps every part of the batch shares."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from sqlalchemy import select, update

from schemas.events import LeaderContact, OutcomePublished
from schemas.topics import DELIVERIES
from services.common.kafka import DeadLettersUnavailable, jittered_backoff
from services.common.logs import without_person
from services.common.store import DatabaseUnavailable, UnitOfWork
from services.notifier.adapters.orm import DeliveryRow
from services.notifier.compose import PlannedMessage
from services.notifier.context import Notifier
from services.notifier.delivery import FINISHED
from services.notifier.domain.messages import Route, choose_route
from services.notifier.domain.quiet_hours import keeps_quiet_hours, next_allowed, quiet_hours_for
from services.notifier.notices import Contacts, Notice, OutcomeNotice, report
from services.notifier.schedule import FromBatch, Origin

# Inbox: places on the outcomes topic (`place`) whose event this notifier gave up on and dead-lettered.
GIVEN_UP = "notifier.outcomes.given_up"
# The one-message way (handlers.attempt), passed in so this module does not import the handlers.
Attempt = Callable[[Notifier, Notice, Origin], Awaitable[None]]
# Sends one event to the dead-letter topic: the event, why (an error, or words saying it), its tries.
DeadLetter = Callable[[OutcomePublished, BaseException | str, int], Awaitable[None]]
# Failures that are nobody's message's fault: the whole batch waits or stops for them.
NOT_THE_MESSAGE = (DatabaseUnavailable, DeadLettersUnavailable)
# Waiting for the database to come back, while results that must not be lost wait to be written:
# from this many seconds, doubling, up to the most (with jitter).
OUTAGE_FIRST_SECONDS, OUTAGE_MOST_SECONDS = 0.2, 10.0
log = logging.getLogger("pairing.notifier")
T = TypeVar("T")


# Why a message held back behind its person's earlier one is given up on with it.
HELD_BACK = "held back behind an earlier message to the same person, which could not be sent"


class HeldBack(Exception):
    """A message given up on because its person's earlier message in the batch could not be sent."""


class TryAgain(Exception):
    """Some messages of the batch are to be tried again: a send failed short of its last try, and
    that person's later messages wait behind it. The consumer tries the whole batch again (what was
    recorded is skipped). Raised from the first such failure (its __cause__), never as that failure
    itself: one message's own error (a ValidationError, say) must never make the consumer think the
    whole batch can never be handled, and dead-letter it."""


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
    follow_ups: list[Any] = field(default_factory=list)  # its reminders (reminders.due_for), worked out ahead
    questions: list[Any] = field(default_factory=list)  # its questions (check_ins.due_for), worked out ahead
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
class Run:
    """One try of a batch: where each event came from, and what became of those not told."""

    n: Notifier
    one: Attempt
    dead_letter: DeadLetter | None
    places: Mapping[str, str]  # event id -> its place on the topic
    last_try: bool = False  # the consumer's last try of this batch: whatever fails now is given up on
    contacts: Mapping[str, LeaderContact] = field(default_factory=dict)  # everyone's details, as the batch found them
    origins: dict[str, FromBatch] = field(default_factory=dict)
    sealed: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Each message sent's reminders and questions, worked out with its rows, by event id.
    follow_ups: dict[str, list[Any]] = field(default_factory=dict)
    questions: dict[str, list[Any]] = field(default_factory=dict)
    # People with a message not sent (to be tried again, or given up on), by that message's event id:
    # their later messages in the batch wait behind it.
    held: dict[str, str] = field(default_factory=dict)
    behind: dict[str, str] = field(default_factory=dict)  # event id -> its person's earlier one given up in an earlier try
    given_up_before: set[str] = field(default_factory=set)  # event ids given up on in an earlier try of this batch
    waiting: list[Notice] = field(default_factory=list)  # messages held back behind their person's earlier one
    elsewhere: set[str] = field(default_factory=set)  # held-back messages another handler sent meanwhile (a rebalance)

    def origin(self, notice: Notice) -> FromBatch:
        return self.origins.setdefault(str(notice.event.event_id), FromBatch(settle=self.settle, last_try=self.last_try))

    def hold(self, notice: Notice) -> None:
        """This message was not sent: its person's later messages in the batch wait behind it."""
        self.held.setdefault(notice.leader_id, str(notice.event.event_id))

    def hold_if_failed(self, notice: Notice) -> None:
        """A message not sent (to be tried again, or given up on) holds back its person's later messages."""
        origin = self.origins.get(str(notice.event.event_id))
        if origin is not None and origin.failures:
            self.hold(notice)

    def hold_behind_given_up(self, notices: list[OutcomeNotice], given_up: set[str]) -> None:
        """Messages whose person's earlier message in the batch was given up on in an earlier try (one cut
        short, by a crash, before it gave these up too) wait behind it in this try, and are given up too."""
        self.given_up_before = set(given_up)
        blocked: dict[str, str] = {}
        for notice in notices:
            event_id = str(notice.event.event_id)
            if notice.leader_id in blocked:
                self.behind[event_id] = blocked[notice.leader_id]
            elif event_id in given_up:
                blocked[notice.leader_id] = event_id

    def held_back(self, notice: Notice) -> bool:
        """Whether this message waits (for the batch's next try, or to be given up), behind its person's earlier one."""
        if notice.leader_id not in self.held and str(notice.event.event_id) not in self.behind:
            return False
        self.waiting.append(notice)
        return True

    def blocked_for_good(self, notice: Notice) -> bool:
        """Whether the message this one waits behind was given up on: it will not be tried again."""
        blocker = self.behind.get(str(notice.event.event_id)) or self.held[notice.leader_id]
        origin = self.origins.get(blocker)
        return blocker in self.given_up_before or (origin is not None and bool(origin.given_up))

    async def let_go_of_held(self) -> None:
        """Messages held back behind one given up on, or on the consumer's last try, are given up on
        too (give_up_held); the rest wait for the batch's next try."""
        still: list[Notice] = []
        for notice in self.waiting:
            if not ((self.last_try or self.blocked_for_good(notice)) and await self.give_up_held(notice)):
                still.append(notice)
        self.waiting = still

    async def give_up_held(self, notice: Notice) -> bool:
        """Never sent before the message it waits behind: reported "failed" and dead-lettered after it (so
        a replay of the dead letters keeps their order), its place marked so no later try sends it. False
        if it must wait for the next try after all: another handler is sending it (a rebalance)."""
        event_id = str(notice.event.event_id)
        me = self.contacts.get(notice.leader_id)
        channel = choose_route(me).channel if me is not None else "person"
        detail = f"not sent: {HELD_BACK}; a person should follow it up"
        async with self.n.store.unit_of_work() as uow:
            rows = (
                await uow.session.scalars(
                    select(DeliveryRow).where(
                        DeliveryRow.leader_id == notice.leader_id, DeliveryRow.key.startswith(f"{event_id}:")
                    )
                )
            ).all()
            if any(row.status in FINISHED for row in rows):
                self.elsewhere.add(event_id)  # sent, and recorded, by the handler that sent it
                return True
            if any(row.status == "sending" for row in rows):
                return False
            for row in rows:
                row.status, row.detail = "failed", detail
            if not rows:
                key = notice.key(channel)
                uow.session.add(
                    DeliveryRow(
                        key=key, round_id=notice.round_id, leader_id=notice.leader_id, channel=channel,
                        status="failed", attempts=0, detail=detail,
                    )
                )  # fmt: skip
            await self.settle(uow, notice, HELD_BACK, 0)
            await notice.after_done(uow, self.n)
            uow.publish(DELIVERIES, notice.leader_id, report(notice, rows[0].channel if rows else channel, "failed", detail))
            await uow.commit()
        origin = self.origin(notice)
        origin.given_up.append(HELD_BACK)
        origin.failures.append(HeldBack(HELD_BACK))
        return True

    async def settle(self, uow: UnitOfWork, notice: Notice, why: BaseException | str, attempts: int) -> None:
        """Given up on, in the transaction that says so: dead-lettered before it commits (if the broker
        is away, nothing is given up and the batch is tried again), and its place marked so no later
        try of this batch sends it again."""
        event = cast(OutcomePublished, notice.event)
        if self.dead_letter is not None:  # without one, the caller dead-letters it (on_outcomes returns it)
            try:
                await self.dead_letter(event, why, attempts)
            except Exception as exc:  # nothing is given up: the batch waits for the broker
                raise DeadLettersUnavailable(f"a dead letter could not be written ({exc.__class__.__name__})") from exc
        if (where := self.places.get(str(event.event_id))) is not None:
            await uow.first_time(GIVEN_UP, where)

    async def reject(self, notice: Notice, exc: Exception, sent: Ready | None = None) -> None:
        """A message that cannot be written or recorded: its event is dead-lettered on its own, with why.
        One that was sent says so on its row first, so a replay only reports it and never sends it again."""
        log.error("delivery %s: %s; dead-lettered", without_person(notice.job_key), exc.__class__.__name__)
        if sent is None or sent.result is None:
            self.hold(notice)  # not sent: its person's later messages are not sent before it
        if sent is not None and sent.result is not None:
            try:
                await through_outages(lambda: mark_sent(self.n, sent, exc))
            except Exception as refused:  # noqa: BLE001 - dead-lettered all the same; a replay may then send it again
                log.error("delivery %s: not marked sent (%s)", without_person(notice.job_key), refused.__class__.__name__)
        async with self.n.store.unit_of_work() as uow:
            await self.settle(uow, notice, exc, 1)
            await uow.commit()
        origin = self.origin(notice)
        origin.given_up.append(exc.__class__.__name__)
        origin.failures.append(exc)

    async def alone(self, notice: Notice, step: Awaitable[None]) -> None:
        """One message's step: whatever goes wrong with it stops no other message."""
        try:
            await step
        except NOT_THE_MESSAGE:
            raise
        except Exception as exc:  # noqa: BLE001 - this message's problem alone: dead-lettered with why
            await self.reject(notice, exc)


async def mark_sent(n: Notifier, sent: Ready, exc: Exception) -> None:
    """A sent message whose record was refused: its row says what became of it (in words of our own:
    the channel's may be what was refused), in a transaction of its own."""
    status, channel, _detail = sent.result  # type: ignore[misc]  # only called for a message with a result
    detail = f"{status} by {channel}; its record was refused ({exc.__class__.__name__}), so it was dead-lettered"
    async with n.store.unit_of_work() as uow:
        await uow.session.execute(
            update(DeliveryRow).where(DeliveryRow.key == sent.key).values(status=status, channel=channel, detail=detail)
        )
        await uow.commit()


async def through_outages(step: Callable[[], Awaitable[T]]) -> T:
    """The step, done again for as long as the database is away (waiting longer each time): for results
    that must not be lost, such as messages already sent. Any other failure is raised; only a cancel stops it."""
    outage = 0
    while True:
        try:
            return await step()
        except DatabaseUnavailable:
            outage += 1
            delay = jittered_backoff(min(outage, 10), OUTAGE_FIRST_SECONDS, OUTAGE_MOST_SECONDS)
            log.warning("batch of outcomes: the database is not answering; writing what was sent again in %.1fs", delay)
            await asyncio.sleep(delay)


def in_quiet_hours(n: Notifier, route: Route, me: LeaderContact, now: dt.datetime) -> bool:
    """Whether this route may not be used now: a text message or a call in the person's quiet hours."""
    return keeps_quiet_hours(route, me) and next_allowed(now, quiet_hours_for(me, n.rules.quiet_hours)) > now


async def started_among(uow: UnitOfWork, notices: list[OutcomeNotice], channels: Iterable[str]) -> set[str]:
    """The job keys among these with a delivery row already, under any channel (found by their keys)."""
    keys = [x.key(channel) for x in notices for channel in {*channels, "person"}]
    if not keys:
        return set()
    found = await uow.session.scalars(select(DeliveryRow.key).where(DeliveryRow.key.in_(keys)))
    return {key.rsplit(":", 1)[0] for key in found}
