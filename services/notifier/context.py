"""What the notifier's message handling shares: its settings (`MessageRules`), its ports (`Notifier`,
built once by the app) and the delivery report every status change goes out as."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast, overload

from sqlalchemy import CursorResult, Result

from schemas.events import Delivery, Envelope, NotificationStatusChanged, ProgrammeContact
from schemas.topics import Topic
from services.common.crypto import Cipher
from services.common.observability import NOTIFICATIONS
from services.common.store import Store
from services.notifier.adapters.channels import Channel
from services.notifier.clock import Clock, SystemClock
from services.notifier.domain.quiet_hours import QuietHours

PRODUCER = "notifier"


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
    quiet_hours: QuietHours = field(default_factory=QuietHours)
    # A send from the scheduler that failed is tried again after this, doubling each time (with jitter).
    retry_seconds: float = 30
    max_retry_seconds: float = 1800
    # A message sent through GOV.UK Notify: first asked about after this (receipts.py).
    receipt_seconds: float = 60
    # Someone who has not answered is reminded this many working days before their answer date.
    reminder_working_days: int = 3
    # "Not yet" to "Did you meet?" becomes a task for the team this many days later, unless they say they met.
    not_yet_days: int = 14


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
    # Set when this instance is shutting down: the scheduler finishes the message in hand and takes no new one.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    # Where a scheduled message goes after its last try; None (tests of the handlers alone): it is only reported.
    dead_letter: DeadLetterPort | None = None
    # Where files for people are written (text messages, letters, tasks): erasure removes theirs.
    folders: tuple[Path, ...] = ()

    def now(self) -> dt.datetime:
        return self.clock.now().astimezone(dt.UTC)


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


@overload
def as_utc(moment: dt.datetime) -> dt.datetime: ...
@overload
def as_utc(moment: None) -> None: ...
@overload
def as_utc(moment: dt.datetime | None) -> dt.datetime | None: ...


def as_utc(moment: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back times without a zone; they were stored as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.UTC)


def rows_changed(result: Result[Any]) -> int:
    """How many rows an update or delete changed (0: someone else got there first)."""
    return cast("CursorResult[Any]", result).rowcount
