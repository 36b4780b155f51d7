"""Programmes and their cohorts: adding and changing them, and the terms a round follows."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from services.common.store import UnitOfWork
from services.registry.adapters.orm import (
    AuditRow,
    CohortMemberRow,
    CohortRow,
    LeaderRow,
    ProgrammeRow,
)
from services.registry.domain.commands import NewCohort, NewProgramme, ProgrammeChange
from services.registry.domain.programmes import (
    ProgrammeDefaults,
    ProgrammeDetails,
    ProgrammeTerms,
    terms_of,
)
from services.registry.handlers.common import Conflict, NotFound


def _new_id(prefix: str, given: str | None) -> str:
    return given or f"{prefix}-{uuid.uuid4().hex[:8]}"


PROGRAMME_FIELDS = ("name", *ProgrammeDetails.model_fields)


async def create_programme(uow: UnitOfWork, command: NewProgramme, actor: str = "registry") -> ProgrammeRow:
    programme_id = _new_id("programme", command.id)
    if await uow.session.get(ProgrammeRow, programme_id) is not None:
        raise Conflict(f"a programme called {programme_id} already exists; choose another id")
    row = ProgrammeRow(id=programme_id, **command.model_dump(include=set(PROGRAMME_FIELDS)))
    uow.session.add(row)
    uow.session.add(AuditRow(actor=actor, action="added programme", leader_id=None, purpose=f"programme {programme_id}"))
    return row


async def get_programme(uow: UnitOfWork, programme_id: str) -> ProgrammeRow:
    row = await uow.session.get(ProgrammeRow, programme_id)
    if row is None:
        raise NotFound(f"there is no programme called {programme_id}")
    return row


async def change_programme(uow: UnitOfWork, programme_id: str, change: ProgrammeChange, actor: str) -> ProgrammeRow:
    """Replace a programme's name and details; the audit log says who changed which of them."""
    row = await get_programme(uow, programme_id)
    changed = [f for f in PROGRAMME_FIELDS if getattr(row, f) != getattr(change, f)]
    for field in changed:
        setattr(row, field, getattr(change, field))
    if changed:
        words = ", ".join(f.replace("_", " ") for f in changed)
        uow.session.add(
            AuditRow(actor=actor, action="changed programme", leader_id=None, purpose=f"programme {programme_id}: {words}")
        )
    return row


async def get_cohort(uow: UnitOfWork, cohort_id: str) -> CohortRow:
    row = await uow.session.get(CohortRow, cohort_id)
    if row is None:
        raise NotFound(f"there is no cohort called {cohort_id}")
    return row


async def create_cohort(uow: UnitOfWork, programme_id: str, command: NewCohort) -> CohortRow:
    if await uow.session.get(ProgrammeRow, programme_id) is None:
        raise NotFound(f"there is no programme called {programme_id}")
    cohort_id = _new_id("cohort", command.id)
    if await uow.session.get(CohortRow, cohort_id) is not None:
        raise Conflict(f"a cohort called {cohort_id} already exists; choose another id")
    row = CohortRow(id=cohort_id, programme_id=programme_id, name=command.name)
    uow.session.add(row)
    await uow.session.flush()
    if command.leader_ids:
        await add_members(uow, cohort_id, command.leader_ids)
    return row


async def add_members(uow: UnitOfWork, cohort_id: str, leader_ids: list[str]) -> int:
    await get_cohort(uow, cohort_id)
    known = set((await uow.session.scalars(select(LeaderRow.id).where(LeaderRow.id.in_(leader_ids)))).all())
    missing = sorted(set(leader_ids) - known)
    if missing:
        raise NotFound(f"leader_ids: these leaders are not registered: {', '.join(missing[:20])}")
    present = set(
        (await uow.session.scalars(select(CohortMemberRow.leader_id).where(CohortMemberRow.cohort_id == cohort_id))).all()
    )
    new = sorted(known - present)
    uow.session.add_all(CohortMemberRow(cohort_id=cohort_id, leader_id=lid) for lid in new)
    return len(new)


async def programme_terms(uow: UnitOfWork, cohort_id: str | None, defaults: ProgrammeDefaults) -> ProgrammeTerms:
    """The programme of the round's cohort, or the registry's own for a round for everyone or an area."""
    cohort = await uow.session.get(CohortRow, cohort_id) if cohort_id else None
    return terms_of(await uow.session.get(ProgrammeRow, cohort.programme_id) if cohort else None, defaults)
