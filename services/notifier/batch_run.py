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
from services.common.kafka import jittered_backoff
from services.common.logs import without_person
from services.common.store import DatabaseUnavailable, UnitOfWork
from services.notifier.adapters.orm import DeliveryRow
from services.notifier.compose import PlannedMessage
from services.notifier.context import Notifier
from services.notifier.domain.messages import Route
from services.notifier.domain.quiet_hours import keeps_quiet_hours, next_allowed, quiet_hours_for
from services.notifier.notices import Contacts, Notice, OutcomeNotice
from services.notifier.schedule import FromBatch, Origin

# Inbox: places on the outcomes topic (`place`) whose event this notifier gave up on and dead-lettered.
GIVEN_UP = "notifier.outcomes.given_up"
# The one-message way (handlers.attempt), passed in so this module does not import the handlers.
Attempt = Callable[[Notifier, Notice, Origin], Awaitable[None]]
# Sends one event to the dead-letter topic: the event, why (an error, or words saying it), its tries.
DeadLetter = Callable[[OutcomePublished, BaseException | str, int], Awaitable[None]]
# Failures that are nobody's message's fault: the whole batch waits or stops for them.
NOT_THE_MESSAGE = (DatabaseUnavailable,)
# Waiting for the database to come back, while results that must not be lost wait to be written:
# from this many seconds, doubling, up to the most (with jitter).
OUTAGE_FIRST_SECONDS, OUTAGE_MOST_SECONDS = 0.2, 10.0
log = logging.getLogger("pairing.notifier")
T = TypeVar("T")


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
    origins: dict[str, FromBatch] = field(default_factory=dict)
    sealed: dict[str, dict[str, Any]] = field(default_factory=dict)
    held: set[str] = field(default_factory=set)  # people with a message to be tried again: their later ones wait
    waiting: list[Notice] = field(default_factory=list)  # messages held back for the batch's next try

    def origin(self, notice: Notice) -> FromBatch:
        return self.origins.setdefault(str(notice.event.event_id), FromBatch(settle=self.settle))

    def hold_if_failed(self, notice: Notice) -> None:
        """A message that will be tried again holds back its person's later messages in this try."""
        origin = self.origins.get(str(notice.event.event_id))
        if origin is not None and origin.failures and not origin.given_up:
            self.held.add(notice.leader_id)

    def held_back(self, notice: Notice) -> bool:
        """Whether this message waits for the batch's next try, behind its person's earlier one."""
        if notice.leader_id not in self.held:
            return False
        self.waiting.append(notice)
        return True

    async def settle(self, uow: UnitOfWork, notice: Notice, why: BaseException | str, attempts: int) -> None:
        """Given up on, in the transaction that says so: dead-lettered before it commits (if the broker
        is away, nothing is given up and the batch is tried again), and its place marked so no later
        try of this batch sends it again."""
        event = cast(OutcomePublished, notice.event)
        if self.dead_letter is not None:  # without one, the caller dead-letters it (on_outcomes returns it)
            await self.dead_letter(event, why, attempts)
        if (where := self.places.get(str(event.event_id))) is not None:
            await uow.first_time(GIVEN_UP, where)

    async def reject(self, notice: Notice, exc: Exception, sent: Ready | None = None) -> None:
        """A message that cannot be written or recorded: its event is dead-lettered on its own, with why.
        One that was sent says so on its row first, so a replay only reports it and never sends it again."""
        log.error("delivery %s: %s; dead-lettered", without_person(notice.job_key), exc.__class__.__name__)
        if sent is not None and sent.result is not None:
            try:
                await through_outages(lambda: mark_sent(self.n, sent, exc))
            except Exception as refused:  # noqa: BLE001 - dead-lettered all the same; a replay may then send it again
                log.error("delivery %s: not marked sent (%s)", without_person(notice.job_key), refused.__class__.__name__)
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
