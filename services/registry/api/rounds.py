"""Pairing rounds: launch, read, review, approve, publish, pair again, close and cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.common.collector import collector_paused
from services.common.tracing import mark_correlation
from services.registry import queries
from services.registry.domain.commands import (
    ApproveRound,
    LaunchRound,
    PairChoice,
)
from services.registry.domain.rounds import RoundStatus
from services.registry.handlers import publishing, review, round_feedback, rounds
from services.registry.handlers.store import SqlRounds
from services.registry.web.deps import MANAGER, VIEWER, actor_of, registry_of

router = APIRouter()


@router.post("/rounds", status_code=202, tags=["rounds"], dependencies=[MANAGER])
async def launch_round(command: LaunchRound, request: Request) -> dict:
    registry = registry_of(request)
    async with registry.store.unit_of_work() as uow:
        row = await rounds.launch_round(uow, command, registry.today(), registry.settings.programme_defaults)
        mark_correlation(row.id)
        await uow.commit()
    # warnings: required sessions on a bank holiday or while the programme is closed, in plain words.
    return {"id": row.id, "status": row.status, "leader_count": len(row.leader_ids), "warnings": row.warnings or []}


@router.get("/rounds", tags=["rounds"], dependencies=[VIEWER])
async def list_rounds(
    request: Request,
    status: Annotated[RoundStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict:
    """Rounds newest first, with their status, pairs and how many people have been told."""
    async with registry_of(request).store.unit_of_work() as uow:
        return {"items": await queries.list_rounds(uow, status, limit)}


@router.get("/rounds/{round_id}", tags=["rounds"], dependencies=[MANAGER])
async def read_round(round_id: str, request: Request) -> dict:
    async with registry_of(request).store.unit_of_work() as uow:
        return await queries.round_view(uow, round_id, registry_of(request).settings.programme_defaults)


async def round_action(request: Request, action, *args) -> dict:
    async with registry_of(request).store.unit_of_work() as uow:
        row = await action(uow, *args)
        await uow.commit()
    return {"id": row.id, "status": row.status, "locked_pairs": row.locked_pairs, "forbidden_pairs": row.forbidden_pairs}


@router.post("/rounds/{round_id}/lock", tags=["rounds"], dependencies=[MANAGER])
async def lock_pair(round_id: str, choice: PairChoice, request: Request) -> dict:
    """Keep this pair in every re-solve (a pre-formed pair)."""
    return await round_action(request, review.lock_pair, round_id, choice)


@router.post("/rounds/{round_id}/forbid", tags=["rounds"], dependencies=[MANAGER])
async def forbid_pair(round_id: str, choice: PairChoice, request: Request) -> dict:
    """Never propose this pair again in this round."""
    return await round_action(request, review.forbid_pair, round_id, choice)


@router.post("/rounds/{round_id}/resolve", status_code=202, tags=["rounds"], dependencies=[MANAGER])
async def resolve_round(round_id: str, request: Request) -> dict:
    """Solve again, keeping locked pairs and leaving out forbidden ones."""
    return await round_action(request, review.resolve_round, round_id)


@router.post("/rounds/{round_id}/pair-again", status_code=202, tags=["rounds"], dependencies=[MANAGER])
async def pair_again(round_id: str, request: Request) -> dict:
    """Start a follow-up round for the people whose partner said no: kept pairs stay, declined pairs are never proposed again."""
    registry = registry_of(request)
    async with registry.store.unit_of_work() as uow:
        row = await review.pair_again(uow, round_id, registry.today())
        await uow.commit()
        return {"id": row.id, "status": row.status, "parent_round_id": row.parent_round_id, "leader_ids": row.leader_ids}


class CloseRound(BaseModel):
    feedback: str | None = Field(
        default=None,
        max_length=2000,
        description="What happened because of the pairs' work, in plain English: everyone in the round is told it "
        "in their own format. Refused (422) with what to change when it is not plain English",
    )


@router.post("/rounds/{round_id}/close", tags=["rounds"], dependencies=[MANAGER], response_model=None)
async def close_round(round_id: str, request: Request, command: CloseRound | None = None) -> dict | JSONResponse:
    """Finish a published round: its answer links stop taking answers. With `feedback`, everyone in it is told
    what difference the pairs made."""
    feedback = command.feedback if command else None
    registry = registry_of(request)
    try:
        return await round_action(
            request,
            round_feedback.close_with_feedback,
            round_id,
            request.state.manager.name,
            feedback,
            registry.settings.programme_defaults,
        )
    except round_feedback.NotPlainEnglish as problem:
        errors = [{"field": "feedback", "message": str(f)} for f in problem.findings]
        summary = "; ".join(f"feedback: {e['message']}" for e in errors[:5])
        return JSONResponse(status_code=422, content={"detail": f"Please check: {summary}", "errors": errors})


@router.post("/rounds/{round_id}/cancel", tags=["rounds"], dependencies=[MANAGER])
async def cancel_round(round_id: str, request: Request) -> dict:
    return await round_action(request, review.cancel_round, round_id)


@router.post("/rounds/{round_id}/approve", tags=["rounds"], dependencies=[MANAGER])
async def approve_round(round_id: str, command: ApproveRound, request: Request) -> dict:
    # The approval is recorded against the person signed in, whatever the body says.
    command = ApproveRound(approved_by=request.state.manager.name)
    with collector_paused():  # bulk work: services/common/collector.py
        async with registry_of(request).store.unit_of_work() as uow:
            row = await review.approve_round(SqlRounds(uow), round_id, command)
            await uow.commit()
    return {"id": row.id, "status": row.status}


@router.post("/rounds/{round_id}/publish", tags=["rounds"], dependencies=[MANAGER])
async def publish_round(round_id: str, request: Request) -> dict:
    registry = registry_of(request)
    # Bulk work (an outcome, links and an audit row for each person): services/common/collector.py.
    with collector_paused():
        async with registry.store.unit_of_work() as uow:
            row = await publishing.publish_round(
                SqlRounds(uow), round_id, registry.publishing, registry.today(), actor_of(request)
            )
            await uow.commit()
    return {"id": row.id, "status": row.status}
