"""Programmes and their cohorts."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.registry import queries
from services.registry.domain.commands import (
    CohortMembers,
    NewCohort,
    NewProgramme,
    ProgrammeChange,
)
from services.registry.handlers import programmes
from services.registry.web.deps import MANAGER, VIEWER, actor_of, registry_of

router = APIRouter()


@router.post("/programmes", status_code=201, tags=["programmes"], dependencies=[MANAGER])
async def create_programme(command: NewProgramme, request: Request) -> dict:
    """Add a programme with its team's contact details (every message gives them) and closure periods."""
    async with registry_of(request).store.unit_of_work() as uow:
        row = await programmes.create_programme(uow, command, actor_of(request))
        await uow.commit()
        return queries.programme_view(row)


@router.get("/programmes/{programme_id}", tags=["programmes"], dependencies=[VIEWER])
async def read_programme(programme_id: str, request: Request) -> dict:
    async with registry_of(request).store.unit_of_work() as uow:
        return queries.programme_view(await programmes.get_programme(uow, programme_id))


@router.put("/programmes/{programme_id}", tags=["programmes"], dependencies=[MANAGER])
async def change_programme(programme_id: str, change: ProgrammeChange, request: Request) -> dict:
    """Replace a programme's name, contact details, closure periods and next round date (audited)."""
    async with registry_of(request).store.unit_of_work() as uow:
        row = await programmes.change_programme(uow, programme_id, change, actor_of(request))
        await uow.commit()
        return queries.programme_view(row)


@router.post("/programmes/{programme_id}/cohorts", status_code=201, tags=["programmes"], dependencies=[MANAGER])
async def create_cohort(programme_id: str, command: NewCohort, request: Request) -> dict:
    async with registry_of(request).store.unit_of_work() as uow:
        row = await programmes.create_cohort(uow, programme_id, command)
        view = await queries.cohort_view(uow, row.id)
        await uow.commit()
    return view


@router.post("/cohorts/{cohort_id}/members", tags=["programmes"], dependencies=[MANAGER])
async def add_members(cohort_id: str, command: CohortMembers, request: Request) -> dict:
    async with registry_of(request).store.unit_of_work() as uow:
        added = await programmes.add_members(uow, cohort_id, command.leader_ids)
        view = await queries.cohort_view(uow, cohort_id)
        await uow.commit()
    return {**view, "added": added}


@router.get("/cohorts/{cohort_id}", tags=["programmes"], dependencies=[VIEWER])
async def read_cohort(cohort_id: str, request: Request) -> dict:
    async with registry_of(request).store.unit_of_work() as uow:
        return await queries.cohort_view(uow, cohort_id)
