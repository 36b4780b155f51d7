"""A round at a glance: the review table of proposed pairs (searchable, filterable and paged with plain
GET forms, so it works without JavaScript) with the people not paired; the follow-up page after
publishing; and both as spreadsheets (XLSX, CSV), audited and cut to what the role may see."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from services.registry.adapters import exports
from services.registry.adapters.areas import area_name
from services.registry.domain.approval import approved_words
from services.registry.domain.pair_table import PER_PAGE, TableQuery, read_query
from services.registry.handlers import common, review
from services.registry.web import check_ins, forms, round_tables
from services.registry.web.deps import need, need_form, registry_of
from services.registry.web.pages import not_found, page, safe_next, with_message

EXPORTS = {"pairs": "Pairs", "not-paired": "Not paired", "follow-up": "Follow-up"}
# The table's columns a manager can sort by: the sort each one sets, and how each way round reads.
SORTABLE = {
    "lived_name": ("name", "A to Z", "Z to A"),
    "fit": ("fit", "lowest fit first", "highest fit first"),
    "modes": ("mode", "A to Z", "Z to A"),
    "first_meeting": ("first_meeting", "earliest first", "latest first"),
}


def pair_query(request: Request, manager) -> TableQuery:
    return read_query(request.query_params, manager.sees_special_category, forms.MODE_NAMES)


def follow_up_filters(request: Request) -> dict[str, str]:
    show = request.query_params.get("show") or ""
    return {
        "show": show if show in round_tables.FOLLOW_UP_FILTERS else "",
        "q": (request.query_params.get("q") or "").strip()[:100],
    }


router = APIRouter()


@router.get("/manage/rounds/{round_id}/pairs", response_class=HTMLResponse, include_in_schema=False)
async def review_page(round_id: str, request: Request) -> Response:
    manager = await need(request)
    registry = registry_of(request)
    async with registry.store.unit_of_work() as uow:
        row = await round_tables.round_row(uow, round_id)
    if row is None:
        return not_found(request, f"There is no round called {round_id}.")
    query = pair_query(request, manager)
    table = await round_tables.pairs_table(registry, round_id, manager, query)
    arranged = table.extra["arranged"]
    shown = replace(query, page=arranged.page)
    link = f"/manage/rounds/{quote(round_id)}/pairs?"
    return page(
        request,
        "round_pairs.html",
        {
            "title": f"Review the pairs: {row.name or row.id}",
            "section": "rounds",
            "round": row,
            "table": table,
            "arranged": arranged,
            "not_paired": await round_tables.not_paired_table(registry, round_id, manager),
            "query": shown,
            "filtered": bool(query.filters()),
            "page_link": lambda n: link + urlencode(shown.params(page=n)),
            "sort_link": lambda column: link + urlencode(shown.sort_params(column)),
            "here": link + urlencode(shown.params()),
            "export_query": ("?" + urlencode(shown.params(page=1))) if shown.params(page=1) else "",
            "may_act": manager.may("manager"),
            "mode_options": [("", "Any way"), *forms.MODE_NAMES.items()],
            "area_options": [("", "Any area"), *((a, area_name(a)) for a in table.extra["areas"])],
            "needs_options": [("", "With or without"), ("yes", "Has access needs"), ("no", "No access needs")],
            "approved_options": [("", "Approved or not"), ("yes", "Approved"), ("no", "Not approved yet")],
            "sortable": SORTABLE,
            "per_page": PER_PAGE,
            "done": request.query_params.get("done"),
        },
    )


@router.post("/manage/rounds/{round_id}/approve-pairs", response_class=HTMLResponse, include_in_schema=False)
async def approve_pairs(round_id: str, request: Request) -> Response:
    """A manager approves the pairs on the page they have checked (UK GDPR article 22)."""
    manager, form = await need_form(request, "manager")
    back = safe_next(str(form.get("back") or ""))
    if not back.startswith(f"/manage/rounds/{quote(round_id)}/pairs"):
        back = f"/manage/rounds/{quote(round_id)}/pairs"
    if form.get("checked") != "yes":
        return refused(
            request, "Nothing was approved. Tick the box to confirm you have checked every pair on the page.", back, 400
        )
    pair_ids = [int(i) for i in form.getlist("pair_id") if str(i).isascii() and str(i).isdigit()]
    by = f"{manager.name} ({manager.email})"
    async with registry_of(request).store.unit_of_work() as uow:
        try:
            _, newly, left = await review.approve_pairs(uow, round_id, pair_ids, by, manager.email)
        except (common.Conflict, common.NotFound) as problem:
            return refused(request, str(problem), back, 409)
        await uow.commit()
    return with_message(back, approved_words(left, newly))


def refused(request: Request, message: str, back: str, status: int) -> Response:
    return page(
        request, "problem.html", {"title": "That cannot be done now", "message": message, "back": back}, status_code=status
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
            "done": request.query_params.get("done"),  # "Ended: the pair of ...", after ending a pair
            "check_ins": await check_ins.answers_section(registry, round_id, manager),  # "Did you meet?" and check-ins
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
        purpose = f"export the pairs ({kind})"
        table = await round_tables.pairs_table(registry, round_id, manager, pair_query(request, manager), None, purpose)
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
