"""The notifier as the integration tests drive it: its key and rules, the people and the outcome
they are told, and short ways to hand it events and read what it recorded. The fixtures that
build its store, settings and channels are in tests/integration/conftest.py."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from schemas.cohort import Window
from schemas.events import (
    LeaderContact,
    LeaderContactChanged,
    MeetingSlot,
    NotificationStatusChanged,
    Outcome,
    OutcomePublished,
    Partner,
    ProgrammeContact,
)
from schemas.topics import DELIVERIES
from services.common.crypto import Cipher, new_key
from services.common.store import Store, handle_once
from services.notifier import handlers
from services.notifier.adapters.orm import DeliveryRow, Outbox
from services.notifier.clock import FrozenClock
from services.notifier.context import MessageRules

KEY = new_key()
PROGRAMME = ProgrammeContact(
    team="the patient leader programme team",
    person="Priya Shah",
    phone="0113 496 0123",
    email="pairing@example.nhs.uk",
    postal_address="Patient Leader Programme, 1 Example Street, Leeds, LS1 1AA",
)
RULES = MessageRules(programme=PROGRAMME, max_attempts=3)
# A Tuesday morning in London: no quiet hours in the way unless a test asks for them.
DAYTIME = dt.datetime(2026, 12, 15, 11, tzinfo=dt.UTC)
PARTNER = LeaderContact(leader_id="cl-1", version=1, name="Ben Bell", role="clinical_leader", organisation="Newcastle Hospitals")


async def know(store: Store, *contacts: LeaderContact) -> None:
    for contact in contacts:
        changed = LeaderContactChanged(producer="test", correlation_id=contact.leader_id, data=contact)
        await handle_once(store, "notifier.contacts", changed, handlers.apply_contact, Cipher(KEY))


def published(leader_id: str = "pl-1", paired: bool = True) -> OutcomePublished:
    partners = [
        Partner(
            partner_id="cl-1",
            reasons=["You both care about cardiac care."],
            shared_windows=[Window(day="tue", start=dt.time(10), end=dt.time(12, 30))],
            meeting_modes=["video", "in_person"],
            first_meeting=MeetingSlot(date=dt.date(2027, 1, 12), start=dt.time(10), end=dt.time(11)),
            accept_url="http://127.0.0.1:8000/a/k7mp2qr9wxtd",
            decline_url="http://127.0.0.1:8000/a/n4bv8hs3jdfz",
        )
    ]
    outcome = Outcome(
        round_id="r1",
        leader_id=leader_id,
        outcome="paired" if paired else "unmatched",
        partners=partners if paired else [],
        unmatched_reason=None if paired else "Nobody in your area is free on Tuesday mornings.",
        respond_by=dt.date(2027, 1, 5),
    )
    return OutcomePublished(
        producer="registry", correlation_id="r1", data=outcome, occurred_at=dt.datetime(2026, 12, 15, 9, tzinfo=dt.UTC)
    )


def person(**change) -> LeaderContact:
    return LeaderContact(
        leader_id="pl-1", version=1, name="Amira Ahmed", role="patient_leader", email="amira@example.org"
    ).model_copy(update=change)


async def reports(store: Store) -> list[NotificationStatusChanged]:
    async with store.sessions() as session:
        rows = (await session.scalars(select(Outbox).where(Outbox.topic == DELIVERIES.name).order_by(Outbox.id))).all()
    return [NotificationStatusChanged.model_validate_json(row.value) for row in rows]


async def delivery_rows(store: Store) -> list[DeliveryRow]:
    async with store.sessions() as session:
        return list((await session.scalars(select(DeliveryRow))).all())


def notifier(store, channels, rules=RULES, clock=None) -> handlers.Notifier:
    return handlers.Notifier(store, Cipher(KEY), channels, rules, clock or FrozenClock(DAYTIME))


async def deliver(store, channels, event, rules=RULES, clock=None):
    await handlers.on_event(notifier(store, channels, rules, clock), event)
