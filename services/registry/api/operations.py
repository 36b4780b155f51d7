"""Whether the registry and the other services are working, and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from services.registry import monitor
from services.registry.adapters.orm import AuditRow
from services.registry.domain.erased import erased_marker
from services.registry.web.deps import ADMIN, VIEWER, registry_of

router = APIRouter()


@router.get("/live", tags=["operations"])
async def live() -> dict[str, str]:
    """Alive, without touching the database: a database outage should not restart the registry."""
    return {"status": "alive"}


@router.get("/health", tags=["operations"])
async def health(request: Request) -> dict[str, str]:
    await registry_of(request).store.check()
    return {"status": "ok"}


@router.get("/operations/services", tags=["operations"], dependencies=[VIEWER])
async def services_state(request: Request) -> dict:
    """Each service: answering, able to reach its database and the broker, and the work waiting for it."""
    registry = registry_of(request)
    states = await monitor.every_service(registry)
    return {
        "dead_letters": await monitor.dead_letters(registry),
        "items": [
            {
                "name": s.name,
                "answering": s.answering,
                "ready": s.ready,
                "state": s.words,
                "waiting": s.waiting,
                "unsent": s.unsent,
                "set_aside": s.set_aside,
            }
            for s in states
        ],
    }


@router.get("/audit", tags=["operations"], dependencies=[ADMIN])
async def audit_log(request: Request, leader_id: Annotated[str | None, Query(max_length=100)] = None) -> dict:
    """The newest 500 entries, or those about one person. An erased person's entries name them by a
    digest of their id ("(erased 1f0c...)"); asking with their id still finds them."""
    registry = registry_of(request)
    query = select(AuditRow).order_by(AuditRow.id.desc()).limit(500)
    if leader_id:
        query = query.where(AuditRow.leader_id.in_([leader_id, erased_marker(registry.settings.audit_digest_key, leader_id)]))
    async with registry.store.unit_of_work() as uow:
        rows = (await uow.session.scalars(query)).all()
    return {
        "items": [
            {"at": r.at.isoformat(), "actor": r.actor, "action": r.action, "leader_id": r.leader_id, "purpose": r.purpose}
            for r in rows
        ]
    }
