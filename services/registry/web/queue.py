"""The queue monitor: the home page when signed in."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select

from services.registry import monitor, queries
from services.registry.adapters.orm import DeliveryRow, LeaderRow, RoundRow, UnmatchedRow
from services.registry.web.deps import need, registry_of
from services.registry.web.pages import (
    for_role,
    leader_names,
    page,
)

router = APIRouter()


@router.get("/manage", response_class=HTMLResponse, include_in_schema=False)
async def queue(request: Request) -> Response:
    manager = await need(request)
    registry = registry_of(request)
    async with registry.store.unit_of_work() as uow:
        rounds = (await uow.session.scalars(select(RoundRow).order_by(RoundRow.created_at.desc()).limit(200))).all()
        by_status = Counter(r.status for r in rounds)
        deliveries = await queries.delivery_counts(uow)
        for_a_person = (
            await uow.session.scalars(
                select(DeliveryRow)
                .where(DeliveryRow.status.in_(["needs_a_person", "failed"]))
                .order_by(DeliveryRow.updated_at.desc())
                .limit(100)
            )
        ).all()
        recent = [r.id for r in rounds if r.status in ("proposed", "approved", "published")][:5]
        unmatched = (
            (
                await uow.session.scalars(
                    select(UnmatchedRow).where(UnmatchedRow.round_id.in_(recent)).order_by(UnmatchedRow.round_id, UnmatchedRow.id)
                )
            ).all()
            if recent
            else []
        )
        leaders_by_status = dict(
            (await uow.session.execute(select(LeaderRow.status, func.count()).group_by(LeaderRow.status))).all()
        )
    names = await leader_names(registry, [u.leader_id for u in unmatched] + [d.leader_id for d in for_a_person])
    active = [r for r in rounds if r.status in ("queued", "solving", "proposed", "approved", "failed")]
    services = await monitor.every_service(registry)
    dead_letters = await monitor.dead_letters(registry)
    return page(
        request,
        "queue.html",
        {
            "title": "Queue monitor",
            "section": "queue",
            "by_status": by_status,
            "active": active,
            "deliveries": deliveries,
            "for_a_person": [
                {
                    "round_id": d.round_id,
                    "leader_id": d.leader_id,
                    "name": names[d.leader_id]["name"],
                    "status": d.status,
                    "channel": d.channel,
                    "why": for_role(d.detail or "", manager),
                }
                for d in for_a_person
            ],
            "unmatched": [
                {
                    "round_id": u.round_id,
                    "leader_id": u.leader_id,
                    "name": names[u.leader_id]["name"],
                    "role": names[u.leader_id]["role"],
                    "reason": for_role(u.reason, manager),
                }
                for u in unmatched
            ],
            "services": services,
            "dead_letters": dead_letters,
            "troubled": [s for s in services if not (s.answering and s.ready) or s.set_aside],
            "leaders_by_status": leaders_by_status,
            "now": dt.datetime.now().strftime("%H:%M:%S"),
            "done": request.query_params.get("done"),
        },
    )
