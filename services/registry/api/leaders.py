"""Leaders: register, replace, read (audited), erase and list them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from sqlalchemy import func, select

from services.registry.adapters.orm import LeaderRow
from services.registry.domain.leaders import LeaderIn
from services.registry.handlers import erasure, leaders
from services.registry.web.deps import MANAGER, VIEWER, actor_of, registry_of

router = APIRouter()


def leader_answer(row: LeaderRow, outcome: str) -> dict:
    return {"id": row.id, "version": row.version, "status": row.status, "outcome": outcome}


@router.post(
    "/leaders",
    status_code=201,
    tags=["leaders"],
    dependencies=[MANAGER],
    responses={200: {"description": "A leader with this id was already registered: their record was replaced (or was the same)"}},
)
async def register_leader(leader: LeaderIn, request: Request, response: Response) -> dict:
    """Add a leader (201), or replace the record of the leader with this id (200)."""
    registry = registry_of(request)
    async with registry.store.unit_of_work() as uow:
        row, outcome = await leaders.register_leader(uow, registry.cipher, leader, keys=registry.person_keys)
        await uow.commit()
    if outcome != "created":
        response.status_code = 200
    return leader_answer(row, outcome)


@router.put("/leaders/{leader_id}", tags=["leaders"], dependencies=[MANAGER])
async def replace_leader(leader_id: str, leader: LeaderIn, request: Request) -> dict:
    """Replace a registered leader's whole record; the id in the body may be left out."""
    if leader.id is not None and leader.id != leader_id:
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "id"),
                    "type": "value_error",
                    "msg": f"must be {leader_id}, the id at the end of the address, or be left out",
                }
            ]
        )
    registry = registry_of(request)
    async with registry.store.unit_of_work() as uow:
        row, outcome = await leaders.replace_leader(uow, registry.cipher, leader_id, leader, keys=registry.person_keys)
        await uow.commit()
    return leader_answer(row, outcome)


@router.get("/leaders/{leader_id}", tags=["leaders"], dependencies=[MANAGER])
async def read_leader(
    leader_id: str,
    request: Request,
    purpose: Annotated[str, Query(min_length=3, max_length=500)] = "viewing the leader's record",
) -> dict:
    """Includes access and communication needs, so every read is written to the audit log."""
    registry = registry_of(request)
    async with registry.store.unit_of_work() as uow:
        view = await leaders.read_leader(uow, registry.cipher, leader_id, actor_of(request), purpose)
        await uow.commit()
    return view


@router.delete("/leaders/{leader_id}", tags=["leaders"], dependencies=[MANAGER])
async def erase_leader(
    leader_id: str,
    request: Request,
    purpose: Annotated[str, Query(min_length=3, max_length=500)] = "the person asked to be erased",
) -> dict:
    """Erase the person here and, through tombstones, in the matcher and the notifier."""
    registry = registry_of(request)
    async with registry.store.unit_of_work() as uow:
        await erasure.erase_leader(uow, leader_id, actor_of(request), purpose, registry.settings.audit_digest_key)
        await uow.commit()
    return {"id": leader_id, "erased": True}


@router.get("/leaders", tags=["leaders"], dependencies=[VIEWER])
async def list_leaders(
    request: Request,
    role: Annotated[str | None, Query(max_length=30)] = None,
    system: Annotated[str | None, Query(max_length=20)] = None,
    status: Annotated[Literal["active", "paused", "withdrawn"] | None, Query()] = None,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict:
    query = select(LeaderRow)
    for column, value in ((LeaderRow.role, role), (LeaderRow.system, system), (LeaderRow.status, status)):
        if value is not None:
            query = query.where(column == value)
    async with registry_of(request).store.unit_of_work() as uow:
        total = await uow.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = (await uow.session.scalars(query.order_by(LeaderRow.id).offset((page - 1) * per_page).limit(per_page))).all()
    # The list shows no special-category data; open a leader to see it.
    return {
        "total": total,
        "page": page,
        "per_page": per_page,
        "items": [{"id": r.id, "role": r.role, "system": r.system, "status": r.status, "version": r.version} for r in rows],
    }
