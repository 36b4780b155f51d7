"""The registry's delivery reports (one for each message the notifier sends), applied a batch at a time
as its consumer does (services/registry/app.py): the rows written at commit with one statement, on
PostgreSQL and on SQLite."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from schemas.events import Delivery, NotificationStatusChanged
from services.common.projection import project
from services.registry.adapters.orm import DeliveryRow, LeaderRow, TaskRow
from services.registry.event_refs import ids_of, translated
from services.registry.handlers import publishing
from tests.integration.conftest import event_refs_of

pytestmark = pytest.mark.integration


def leader(leader_id: str) -> LeaderRow:
    return LeaderRow(id=leader_id, role="patient_leader", system="leeds", status="active", version=1, public={}, sealed=b"")


def report(ref: str, status: str, channel: str = "email", **extra) -> NotificationStatusChanged:
    data = Delivery(round_id="r1", leader_id=ref, outcome_event_id=uuid.uuid4(), channel=channel, status=status, **extra)
    return NotificationStatusChanged(producer="notifier", correlation_id="r1", data=data)


def records(*events: NotificationStatusChanged) -> list[SimpleNamespace]:
    """The events as the consumer gets them from the topic: keyed by the person's event reference."""
    return [SimpleNamespace(key=e.data.leader_id.encode(), value=e.model_dump_json().encode()) for e in events]


async def apply(store, *events: NotificationStatusChanged) -> None:
    await project(
        None,
        "registry",
        store,
        "registry.deliveries",
        records(*events),
        NotificationStatusChanged,
        translated(publishing.record_delivery),
        None,
        preload=ids_of,
    )


async def test_a_batch_of_reports_keeps_each_messages_latest_status_once_and_nothing_about_the_erased(registry_store):
    async with registry_store.unit_of_work() as uow:
        uow.session.add_all([leader("pl-a"), leader("pl-b")])
        await uow.commit()
    refs = await event_refs_of(registry_store)
    a, b = refs["pl-a"], refs["pl-b"]
    scheduled = report(a, "scheduled")
    await apply(
        registry_store,
        scheduled,
        report(a, "sent"),  # the same message, later: this one stays
        report(b, "needs_a_person", channel="person", task="braille", detail="Make it in braille"),
        report(b, "sent", about="partner_declined"),  # kept in the notifier's own log, not here
        report("p-" + "0" * 20, "sent"),  # someone erased before their report came: nothing is kept
    )
    await apply(registry_store, scheduled, report(b, "failed"))  # a redelivery never undoes what came after it

    async with registry_store.sessions() as session:
        rows = {(r.leader_id, r.channel): r.status for r in await session.scalars(select(DeliveryRow))}
        tasks = [(t.leader_id, t.kind, t.detail) for t in await session.scalars(select(TaskRow))]
    assert rows == {("pl-a", "email"): "sent", ("pl-b", "person"): "needs_a_person", ("pl-b", "email"): "failed"}
    assert tasks == [("pl-b", "braille", "Make it in braille")]

    await apply(registry_store, report(a, "failed", detail="The mailbox is full"))  # an existing row changes
    async with registry_store.sessions() as session:
        row = await session.get(DeliveryRow, ("r1", "pl-a", "email"))
        assert row is not None and (row.status, row.detail) == ("failed", "The mailbox is full")
