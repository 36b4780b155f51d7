"""A round at a glance: the review table of proposed pairs (searchable, filterable and paged with plain
GET forms, so it works without JavaScript) with the people not paired; the follow-up page after
publishing; and both as spreadsheets (XLSX, CSV), audited and cut to what the role may see."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from services.registry.adapters import exports
from services.registry.handlers import common
from services.registry.web import forms, round_tables
from services.registry.web.deps import need, registry_of
from services.registry.web.pages import not_found, page

EXPORTS = {"pairs": "Pairs", "not-paired": "Not paired", "follow-up": "Follow-up"}


def whole_number(text: str | None, lowest: int, highest: int) -> int | None:
    try:
        return max(lowest, min(int(text or ""), highest))
    except ValueError:
        return None


def pair_filters(request: Request) -> dict[str, str]:
    params = request.query_params
    mode = params.get("mode") or ""
    below = whole_number(params.get("below"), 1, 101)
    return {
        "q": (params.get("q") or "").strip()[:100],
        "mode": mode if mode in forms.MODE_NAMES else "",
        "below": str(below) if below is not None else "",
    }


def follow_up_filters(request: Request) -> dict[str, str]:
    show = request.query_params.get("show") or ""
    return {
        "show": show if show in round_tables.FOLLOW_UP_FILTERS else "",
        "q": (request.query_params.get("q") or "").strip()[:100],
    }


async def pairs_for(request: Request, round_id: str, manager, filters: dict[str, str], page_number: int | None, purpose: str):
    return await round_tables.pairs_table(
        registry_of(request),
        round_id,
        manager,
        filters["q"],
        filters["mode"],
        int(filters["below"]) if filters["below"] else None,
        page_number,
        purpose,
    )


router = APIRouter()


@router.get("/manage/rounds/{round_id}/pairs", response_class=HTMLResponse, include_in_schema=False)
async def review_page(round_id: str, request: Request) -> Response:
    manager = await need(request)
    registry = registry_of(request)
    async with registry.store.unit_of_work() as uow:
        row = await round_tables.round_row(uow, round_id)
    if row is None:
        return not_found(request, f"There is no round called {round_id}.")
    filters = pair_filters(request)
    page_number = whole_number(request.query_params.get("page"), 1, 100_000) or 1
    table = await pairs_for(request, round_id, manager, filters, page_number, "review the pairs")
    pages = max(1, -(-table.total // round_tables.PER_PAGE))
    if page_number > pages:
        page_number = pages
        table = await pairs_for(request, round_id, manager, filters, page_number, "review the pairs")
    chosen = {k: v for k, v in filters.items() if v}
    base = f"/manage/rounds/{quote(round_id)}"
    return page(
        request,
        "round_pairs.html",
        {
            "title": f"Review the pairs: {row.name or row.id}",
            "section": "rounds",
            "round": row,
            "table": table,
            "not_paired": await round_tables.not_paired_table(registry, round_id, manager),
            "filters": filters,
            "filtered": bool(chosen),
            "page_number": page_number,
            "pages": pages,
            "page_link": lambda n: f"{base}/pairs?" + urlencode({**chosen, "page": n}),
            "export_query": ("?" + urlencode(chosen)) if chosen else "",
            "may_act": manager.may("manager"),
            "mode_options": [("", "Any way"), *forms.MODE_NAMES.items()],
        },
    )


@router.get("/manage/rounds/{round_id}/follow-up", response_class=HTMLResponse, include_in_schema=False)
async def follow_up_page(round_id: str, request: Request) -> Response:
    manager = await need(request)
    registry = registry_of(request)
    async with registry.store.unit_of_work() as uow:
        row = await round_tables.round_row(uow, round_id)
    if row is None:
        return not_found(request, f"There is no round called {round_id}.")
    filters = follow_up_filters(request)
    table = await round_tables.follow_up_table(registry, round_id, manager, filters["show"], filters["q"])
    chosen = {k: v for k, v in filters.items() if v}
    return page(
        request,
        "round_follow_up.html",
        {
            "title": f"Follow up: {row.name or row.id}",
            "section": "rounds",
            "round": row,
            "table": table,
            "filters": filters,
            "filter_words": round_tables.FOLLOW_UP_FILTERS,
            "export_query": ("?" + urlencode(chosen)) if chosen else "",
        },
    )


@router.get("/manage/rounds/{round_id}/export/{filename}", include_in_schema=False)
async def export(round_id: str, filename: str, request: Request) -> Response:
    manager = await need(request)
    what, _, kind = filename.rpartition(".")
    if what not in EXPORTS or kind not in ("csv", "xlsx"):
        return not_found(request, "There is no such download. Choose one from the round's pages.")
    registry = registry_of(request)
    async with registry.store.unit_of_work() as uow:
        row = await round_tables.round_row(uow, round_id)
    if row is None:
        return not_found(request, f"There is no round called {round_id}.")
    if what == "pairs":
        table = await pairs_for(request, round_id, manager, pair_filters(request), None, f"export the pairs ({kind})")
    elif what == "not-paired":
        table = await round_tables.not_paired_table(registry, round_id, manager)
    else:
        filters = follow_up_filters(request)
        table = await round_tables.follow_up_table(
            registry, round_id, manager, filters["show"], filters["q"], f"export the follow-up ({kind})"
        )
    async with registry.store.unit_of_work() as uow:
        common.audit(
            uow,
            manager.email,
            "exported a round",
            None,
            f"{EXPORTS[what].lower()} of round {round_id} as {kind.upper()}, {len(table.rows)} rows",
        )
        await uow.commit()
    name = f"{round_id}-{what}.{kind}"
    body = (
        exports.as_csv(table.columns, table.rows) if kind == "csv" else exports.as_xlsx(EXPORTS[what], table.columns, table.rows)
    )
    return Response(
        body,
        media_type=exports.CSV_TYPE if kind == "csv" else exports.XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
