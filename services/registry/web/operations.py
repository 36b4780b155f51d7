"""The operations page, for admins only: each service's state, the messages waiting for it on each topic
(consumer lag, read from the broker: services/common/observability.py), the changes it has still to
send, and the dead letters with the `pairing dlq` commands to see and replay them. Viewers and managers
are refused (403) with a plain message; their monitor is the queue monitor (web/queue.py)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from services.registry import monitor
from services.registry.web.deps import need, registry_of
from services.registry.web.pages import page
from services.registry.web.queue import fragment

router = APIRouter()


@router.get("/manage/operations", response_class=HTMLResponse, include_in_schema=False)
async def operations(request: Request) -> Response:
    await need(request, "admin")
    context = await operations_view(request)
    return page(request, "operations.html", {**context, "title": "Operations", "section": "operations"})


@router.get("/manage/operations/now", response_class=HTMLResponse, include_in_schema=False)
async def operations_now(request: Request) -> Response:
    """The operations view without the page around it, for static/monitor.js to put in place."""
    await need(request, "admin")
    return fragment(request, "operations_now.html", await operations_view(request))


async def operations_view(request: Request) -> dict:
    registry = registry_of(request)
    services = await monitor.every_service(registry)
    letters = await monitor.dead_letter_counts(registry)
    troubled = [s.name for s in services if s.troubled]
    dead = sum(letters.values()) if letters is not None else None
    return {
        "services": services,
        "dead_letters": letters,
        "summary": f"Services not working: {', '.join(troubled) or 'none'}. "
        f"Dead letters: {'not known' if dead is None else dead}.",
        "now": dt.datetime.now().strftime("%H:%M:%S"),
    }
