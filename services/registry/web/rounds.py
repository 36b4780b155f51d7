"""The rounds' pages: the list, launching a round (check, then launch), and a round's page."""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import func, select

from schemas.cohort import FitWeights
from services.registry import queries
from services.registry.adapters.orm import CohortRow, LeaderRow, RoundRow
from services.registry.domain.rounds import progress_words
from services.registry.handlers import common
from services.registry.handlers import rounds as rounds_handlers
from services.registry.web import forms, round_dates, round_tables
from services.registry.web.auth import Manager
from services.registry.web.deps import need, need_form, registry_of
from services.registry.web.leader_form import time_options
from services.registry.web.pages import (
    DELIVERY_WORDS,
    LIVE_STATUSES,
    STATUS_WORDS,
    for_role,
    leader_names,
    not_found,
    page,
    with_message,
)

router = APIRouter()


@router.get("/manage/rounds", response_class=HTMLResponse, include_in_schema=False)
async def rounds_page(request: Request) -> Response:
    manager = await need(request)
    async with registry_of(request).store.unit_of_work() as uow:
        rounds = (await uow.session.scalars(select(RoundRow).order_by(RoundRow.created_at.desc()).limit(500))).all()
    return page(
        request,
        "rounds.html",
        {
            "title": "Pairing rounds",
            "section": "rounds",
            "rounds": rounds,
            "may_launch": manager.may("manager"),
            "done": request.query_params.get("done"),
        },
    )


async def launch_choices(registry) -> dict[str, Any]:
    async with registry.store.unit_of_work() as uow:
        systems = sorted(
            (await uow.session.scalars(select(LeaderRow.system).where(LeaderRow.status == "active").distinct())).all()
        )
        cohorts = (await uow.session.scalars(select(CohortRow).order_by(CohortRow.name))).all()
        active = await uow.session.scalar(select(func.count()).select_from(LeaderRow).where(LeaderRow.status == "active"))
    return {"systems": systems, "cohorts": cohorts, "active_count": active or 0}


def default_round_values() -> dict[str, str]:
    weights = FitWeights()
    return {
        "name": "",
        "round_id": "",
        "who": "all",
        "area": "",
        "cohort": "",
        "min_shared_hours_per_week": "1",
        "allow_cross_system_remote": "yes",
        "time_limit_seconds": "10",
        "min_pairs_per_area": "",
        **{f"weight_{part}": f"{getattr(weights, part):g}" for part in forms.WEIGHTS},
        **round_dates.blank(),
    }


async def round_form_page(request: Request, values: dict, errors: dict[str, str], status_code: int = 200) -> Response:
    return page(
        request,
        "round_new.html",
        {
            "title": "Launch a pairing round",
            "section": "rounds",
            "values": values,
            "errors": forms.ordered(errors, forms.round_error_order(values)),
            "error_for": errors,
            "session_rows": round_dates.rows(values, "session"),
            "holiday_rows": round_dates.rows(values, "holiday"),
            "time_options": time_options,
            **await launch_choices(registry_of(request)),
        },
        status_code=status_code,
    )


@router.get("/manage/rounds/new", response_class=HTMLResponse, include_in_schema=False)
async def new_round_page(request: Request) -> Response:
    await need(request, "manager")
    values = default_round_values()
    if cohort := request.query_params.get("cohort"):  # from a cohort's page
        values |= {"who": "cohort", "cohort": cohort}
    return await round_form_page(request, values, {})


async def checked_round(request: Request, values: dict[str, str]):
    """The command, the leaders it would include, and the problems."""
    registry = registry_of(request)
    leader_ids = None
    if values["who"] == "area" and values["area"]:
        async with registry.store.unit_of_work() as uow:
            leader_ids = list(
                (
                    await uow.session.scalars(
                        select(LeaderRow.id).where(LeaderRow.system == values["area"], LeaderRow.status == "active")
                    )
                ).all()
            )
    command, errors = forms.round_command(values, leader_ids, cohort_supported=True)
    if command is None:
        return None, [], errors
    async with registry.store.unit_of_work() as uow:
        included = [(r.id, r.role) for r in await rounds_handlers.round_leaders(uow, command) if r.status == "active"]
        if command.id and await uow.session.get(RoundRow, command.id) is not None:
            errors["round_id"] = f"A round called {command.id} already exists; choose another name"
    if not included:
        errors["who"] = "There are no active leaders in this choice; add or import leaders first"
    return (command if not errors else None), included, errors


@router.post("/manage/rounds/new", response_class=HTMLResponse, include_in_schema=False)
async def check_round(request: Request) -> Response:
    await need_form(request, "manager")
    form = await request.form()
    values = forms.round_values(form)
    if form.get("change"):
        return await round_form_page(request, values, {})
    if (adding := form.get("add")) in round_dates.KINDS:  # "Add another session" or "Add another holiday"
        round_dates.add_row(values, str(adding))
        return await round_form_page(request, values, {})
    command, included, errors = await checked_round(request, values)
    if command is None:
        return await round_form_page(request, values, errors, 400)
    roles = Counter(role for _, role in included)
    return page(
        request,
        "round_confirm.html",
        {
            "title": "Check the round before you launch it",
            "section": "rounds",
            "values": values,
            "command": command,
            "count": len(included),
            "roles": roles,
            **await launch_choices(registry_of(request)),
        },
    )


@router.post("/manage/rounds/launch", response_class=HTMLResponse, include_in_schema=False)
async def launch(request: Request) -> Response:
    await need_form(request, "manager")
    form = await request.form()
    values = forms.round_values(form)
    command, _, errors = await checked_round(request, values)
    if command is None:
        return await round_form_page(request, values, errors, 400)
    registry = registry_of(request)
    async with registry.store.unit_of_work() as uow:
        try:
            row = await rounds_handlers.launch_round(uow, command, registry.today(), registry.settings.programme_defaults)
        except (common.Conflict, common.NotFound) as problem:
            return await round_form_page(request, values, {"who": str(problem).capitalize()}, 400)
        await uow.commit()
    return with_message(f"/manage/rounds/{quote(row.id)}", "The round has been sent to the matcher")


async def round_context(request: Request, round_id: str, manager: Manager) -> dict[str, Any] | None:
    registry = registry_of(request)
    async with registry.store.unit_of_work() as uow:
        try:
            view = await queries.round_view(uow, round_id, registry.settings.programme_defaults)
        except common.NotFound:
            return None
        row = await common.get_round(uow, round_id)
        locked = [tuple(p) for p in (row.locked_pairs or [])]
        forbidden = [tuple(p) for p in (row.forbidden_pairs or [])]
        leader_ids = list(row.leader_ids)
    names = await leader_names(
        registry, leader_ids + [p["lived_experience_id"] for p in view["pairs"]] + [p["professional_id"] for p in view["pairs"]]
    )
    for number, pair in enumerate(view["pairs"], start=1):
        pair["number"] = number
        pair["key"] = f"{pair['lived_experience_id']}|{pair['professional_id']}"
        pair["reasons"] = [for_role(r, manager) for r in pair["reasons"]]
        pair["is_locked"] = pair["locked"] or (pair["lived_experience_id"], pair["professional_id"]) in locked
    for person in view["unmatched"]:
        person["reason"] = for_role(person["reason"], manager)
        person["change"] = round_tables.change_words(person["rule"], person["suggestion"], manager)
    for item in view["needs_a_person"]:
        item["why"] = for_role(item["why"] or "", manager)
    lived = sorted(
        (i for i in leader_ids if names[i]["role"] in ("patient_leader", "carer_leader")), key=lambda i: names[i]["name"]
    )
    professionals = sorted(
        (i for i in leader_ids if names[i]["role"] in ("clinical_leader", "managerial_leader")), key=lambda i: names[i]["name"]
    )
    answers = {(r["leader_id"], r["partner_id"]): r["answer"] for r in view["responses"]}
    return {
        "round": view,
        "names": names,
        "locked": locked,
        "forbidden": forbidden,
        "lived": lived,
        "professionals": professionals,
        "answers": answers,
        "delivered_total": sum(view["deliveries"].values()),
        "poll": view["status"] in LIVE_STATUSES,
    }


@router.get("/manage/rounds/{round_id}", response_class=HTMLResponse, include_in_schema=False)
async def round_page(round_id: str, request: Request) -> Response:
    manager = await need(request)
    context = await round_context(request, round_id, manager)
    if context is None:
        return not_found(request, f"There is no round called {round_id}.")
    words = STATUS_WORDS.get(context["round"]["status"], (context["round"]["status"], "grey"))[0]
    return page(
        request,
        "round.html",
        {
            "title": f"{context['round']['name']}: {words.lower()}",
            "section": "rounds",
            **context,
            "done": request.query_params.get("done"),
            "may_act": manager.may("manager"),
            "errors": [],
            "error_for": {},
            "checked": set(),
        },
    )


@router.get("/manage/rounds/{round_id}/status", include_in_schema=False)
async def round_status(round_id: str, request: Request) -> Response:
    """What the round page's script polls: small, and with no personal data."""
    await need(request)
    registry = registry_of(request)
    async with registry.store.unit_of_work() as uow:
        row = await uow.session.get(RoundRow, round_id)
        if row is None:
            return JSONResponse({"detail": "not found"}, status_code=404)
        deliveries = await queries.delivery_counts(uow, round_id)
    words = STATUS_WORDS.get(row.status, (row.status, "grey"))[0]
    return JSONResponse(
        {
            "status": row.status,
            "status_words": words,
            "deliveries": deliveries,
            "deliveries_words": "; ".join(f"{DELIVERY_WORDS.get(s, s)}: {n}" for s, n in sorted(deliveries.items())),
            "progress_words": progress_words(row.progress),
        },
        headers={"Cache-Control": "no-store"},
    )
