"""What every registry handler shares: the errors it raises, how it builds events,
how a round changes status, and the audit log."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Protocol

import pydantic_core
from sqlalchemy import insert

from schemas.events import (
    Envelope,
    RoundStatusChanged,
    StatusChange,
    utc_now,
)
from schemas.topics import ROUNDS, Topic
from services.common.kafka import PermanentError
from services.common.store import UnitOfWork
from services.registry.adapters.orm import (
    AuditRow,
    RoundRow,
)
from services.registry.domain.rounds import RoundStatus, transition

PRODUCER = "registry"


class Publisher(Protocol):
    """Where a handler's events go: the unit of work's outbox (or a fake in a unit test)."""

    def publish(self, topic: Topic, key: str, event: Envelope) -> None: ...


class NotFound(PermanentError):
    """Nothing with that id: answered 404 over HTTP; an event about it is dead-lettered without retrying."""


class Conflict(Exception):
    pass


def event(cls: Callable[..., Envelope], data: object, correlation_id: str, causation_id: str | None = None) -> Envelope:
    """One of the registry's events (each event class knows its own type)."""
    return cls(producer=PRODUCER, data=data, correlation_id=correlation_id, causation_id=causation_id)


def event_body(cls: type[Envelope], data: dict[str, Any], correlation_id: str) -> dict[str, Any]:
    """What `event(cls, data, correlation_id).model_dump(mode="json", by_alias=True)` gives, for data
    already in that form (for UnitOfWork.publish_body): an import sends thousands, and building each
    event's models to dump them at once cost more than the rest of its work. In the fields' order, as
    the model writes them (tests/unit/registry/test_event_bodies.py compares the two)."""
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": cls.model_fields["event_type"].default,
        "schema_version": 1,
        "occurred_at": pydantic_core.to_jsonable_python(utc_now()),
        "producer": PRODUCER,
        "correlation_id": correlation_id,
        "causation_id": None,
        "data": data,
    }


def move_round(uow: Publisher, row: RoundRow, target: RoundStatus, by: str | None = None) -> None:
    """Change a round's status if the lifecycle allows it; every change is itself an event."""
    before = row.status
    row.status = transition(before, target)
    change = StatusChange(round_id=row.id, from_status=before, to_status=target, by=by)
    uow.publish(ROUNDS, row.id, event(RoundStatusChanged, change, row.id))


def audit(uow: UnitOfWork, actor: str, action: str, leader_id: str | None, purpose: str) -> None:
    uow.session.add(AuditRow(actor=actor, action=action, leader_id=leader_id, purpose=purpose))


async def audit_many(uow: UnitOfWork, actor: str, action: str, leader_ids: list[str], purpose: str) -> None:
    """One audit row for each person, written in one statement: a big round's download reads thousands."""
    if leader_ids:
        rows = [{"actor": actor, "action": action, "leader_id": who, "purpose": purpose} for who in leader_ids]
        await uow.session.execute(insert(AuditRow), rows)


# Stands for an erased person in a round's history; the id pattern refuses brackets, so no leader has it.
ERASED = "(erased)"


async def get_round(uow: UnitOfWork, round_id: str) -> RoundRow:
    row = await uow.session.get(RoundRow, round_id)
    if row is None:
        raise NotFound(f"there is no round called {round_id}")
    return row
