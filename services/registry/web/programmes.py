"""Programmes and their cohorts: the groups of leaders a manager pairs within.

A cohort is filled either with everyone active in one area or with the leaders a
manager lists by reference (the ids from their spreadsheet), so it works the same
for twenty people and for ten thousand.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlalchemy import func, select

from services.common.errors import explain_error
from services.registry.adapters.areas import area_name
from services.registry.adapters.orm import CohortMemberRow, CohortRow, LeaderRow, ProgrammeRow
from services.registry.domain.commands import NewCohort, NewProgramme, ProgrammeChange
from services.registry.domain.programmes import DEFAULT_CLOSURE_TEXT, closures_of
from services.registry.handlers import common
from services.registry.handlers import programmes as programme_handlers
from services.registry.web import closure_rows, date_boxes
from services.registry.web.deps import need, need_form, registry_of
from services.registry.web.pages import leader_names, not_found, page, with_message

REFERENCE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


router = APIRouter()


@router.get("/manage/programmes", response_class=HTMLResponse, include_in_schema=False)
async def programmes(request: Request) -> Response:
    await need(request)
    return await programmes_page(request, {"name": ""}, {})


async def programmes_page(request: Request, values: dict, errors: dict[str, str], status_code: int = 200) -> Response:
    manager = await need(request)
    async with registry_of(request).store.unit_of_work() as uow:
        rows = (await uow.session.scalars(select(ProgrammeRow).order_by(ProgrammeRow.name))).all()
        cohorts = await cohorts_with_sizes(uow)
    by_programme: dict[str, list] = {}
    for cohort in cohorts:
        by_programme.setdefault(cohort["programme_id"], []).append(cohort)
    return page(
        request,
        "programmes.html",
        {
            "title": "Programmes and cohorts",
            "section": "programmes",
            "programmes": rows,
            "cohorts": by_programme,
            "values": values,
            "errors": list(errors.items()),
            "error_for": errors,
            "may_act": manager.may("manager"),
            "done": request.query_params.get("done"),
        },
        status_code=status_code,
    )


@router.post("/manage/programmes", response_class=HTMLResponse, include_in_schema=False)
async def add_programme(request: Request) -> Response:
    manager, form = await need_form(request, "manager")
    name = str(form.get("name") or "").strip()
    if not name or len(name) > 200:
        return await programmes_page(
            request, {"name": name}, {"name": "Enter a name for the programme, up to 200 characters"}, 400
        )
    async with registry_of(request).store.unit_of_work() as uow:
        row = await programme_handlers.create_programme(uow, NewProgramme(name=name), manager.email)
        await uow.commit()
    return with_message(
        f"/manage/programmes/{quote(row.id)}/details",
        f"The programme {name} has been added. Add how people reach its team, then its first cohort.",
    )


@router.get("/manage/programmes/{programme_id}/details", response_class=HTMLResponse, include_in_schema=False)
async def programme_details(programme_id: str, request: Request) -> Response:
    await need(request, "manager")
    async with registry_of(request).store.unit_of_work() as uow:
        row = await uow.session.get(ProgrammeRow, programme_id)
    if row is None:
        return not_found(request, f"There is no programme called {programme_id}.")
    return details_page(request, row, details_values(row), {})


def details_page(request: Request, row: ProgrammeRow, values: dict, errors: dict[str, str], status_code: int = 200) -> Response:
    return page(
        request,
        "programme_details.html",
        {
            "title": f"How people reach the {row.name} team",
            "section": "programmes",
            "programme": row,
            "values": values,
            "errors": ordered_errors(errors, values),
            "error_for": errors,
            "closure_rows": closure_rows.rows(values),
            "done": request.query_params.get("done"),
        },
        status_code=status_code,
    )


def ordered_errors(errors: dict[str, str], values: dict) -> list[tuple[str, str]]:
    """The problems in the order their fields are on the page."""
    order = [*DETAIL_FIELDS[:7], *closure_rows.field_order(values), *DETAIL_FIELDS[7:]]
    order[order.index("next_round_on") : order.index("next_round_on") + 1] = [f"next_round_on_{p}" for p in date_boxes.PARTS]
    return sorted(errors.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order))


@router.post("/manage/programmes/{programme_id}/details", response_class=HTMLResponse, include_in_schema=False)
async def change_details(programme_id: str, request: Request) -> Response:
    manager, form = await need_form(request, "manager")
    values = {key: str(form.get(key) or "").strip() for key in DETAIL_FIELDS} | date_boxes.boxes(form, "next_round_on")
    values |= closure_rows.values_of(form)
    date_errors: dict[str, str] = {}
    next_round = date_boxes.read_date(values, "next_round_on", "the date of the next round", date_errors, required=False)
    values["next_round_on"] = next_round.isoformat() if next_round else ""
    values["closure_periods"] = "\n".join(closure_rows.texts(values, date_errors))
    async with registry_of(request).store.unit_of_work() as uow:
        row = await uow.session.get(ProgrammeRow, programme_id)
        if row is None:
            return not_found(request, f"There is no programme called {programme_id}.")
        if form.get("add") == "closure":  # "Add another closure": the form again, nothing saved
            closure_rows.add_row(values)
            return details_page(request, row, values, {})
        try:
            change = details_from_form(values)
        except ValidationError as problem:
            return details_page(request, row, values, form_errors(problem) | date_errors, 400)
        if date_errors:
            return details_page(request, row, values, date_errors, 400)
        await programme_handlers.change_programme(uow, programme_id, change, manager.email)
        await uow.commit()
    return with_message(f"/manage/programmes/{quote(programme_id)}", "The programme's details have been saved.")


@router.get("/manage/programmes/{programme_id}", response_class=HTMLResponse, include_in_schema=False)
async def programme(programme_id: str, request: Request) -> Response:
    await need(request)
    return await programme_page(request, programme_id, {"name": "", "who": "area", "area": "", "references": ""}, {})


async def programme_page(
    request: Request, programme_id: str, values: dict, errors: dict[str, str], status_code: int = 200
) -> Response:
    manager = await need(request)
    async with registry_of(request).store.unit_of_work() as uow:
        row = await uow.session.get(ProgrammeRow, programme_id)
        if row is None:
            return not_found(request, f"There is no programme called {programme_id}.")
        cohorts = await cohorts_with_sizes(uow, programme_id)
        areas = (
            await uow.session.scalars(
                select(LeaderRow.system).where(LeaderRow.status == "active").distinct().order_by(LeaderRow.system)
            )
        ).all()
    return page(
        request,
        "programme.html",
        {
            "title": row.name,
            "section": "programmes",
            "programme": row,
            "closures": "; ".join(str(c) for c in closures_of(row.closure_periods, registry_of(request).settings.closure_periods))
            or "Never",
            "cohorts": cohorts,
            "areas": areas,
            "values": values,
            "errors": list(errors.items()),
            "error_for": errors,
            "may_act": manager.may("manager"),
            "done": request.query_params.get("done"),
        },
        status_code=status_code,
    )


@router.post("/manage/programmes/{programme_id}/cohorts", response_class=HTMLResponse, include_in_schema=False)
async def add_cohort(programme_id: str, request: Request) -> Response:
    _, form = await need_form(request, "manager")
    values = {key: str(form.get(key) or "").strip() for key in ("name", "who", "area", "references")}
    references = [r for r in re.split(r"[\s,;]+", values["references"]) if r]
    errors = _cohort_errors(values, references)
    async with registry_of(request).store.unit_of_work() as uow:
        if values["who"] == "area" and not errors:
            references = await _active_in(uow, values["area"])
            if not references:
                errors["area"] = f"Nobody active is registered in {area_name(values['area'])}"
        if not errors:
            errors = await _unknown_errors(uow, references)
        if errors:
            return await programme_page(request, programme_id, values, errors, 400)
        try:
            cohort = await programme_handlers.create_cohort(
                uow, programme_id, NewCohort(name=values["name"], leader_ids=sorted(set(references)))
            )
        except common.NotFound as problem:
            return not_found(request, str(problem))
        await uow.commit()
    return with_message(f"/manage/cohorts/{quote(cohort.id)}", f"The cohort {values['name']} has {len(set(references))} leaders.")


def _cohort_errors(values: dict[str, str], references: list[str]) -> dict[str, str]:
    """What is wrong with the cohort form by itself, by field."""
    errors: dict[str, str] = {}
    if not values["name"] or len(values["name"]) > 200:
        errors["name"] = "Enter a name for the cohort, up to 200 characters"
    if values["who"] not in ("area", "listed"):
        errors["who"] = "Select who is in the cohort"
    elif values["who"] == "area" and not values["area"]:
        errors["area"] = "Select the area whose active leaders are in the cohort"
    elif values["who"] == "listed":
        errors.update(_listed_errors(references))
    return errors


def _listed_errors(references: list[str]) -> dict[str, str]:
    if not references:
        return {"references": "Enter the reference of at least one leader, one on each line"}
    if bad := [r for r in references if not REFERENCE.match(r)]:
        return {"references": f"{bad[0]} is not a leader reference: use letters, numbers, dots, dashes and underscores"}
    return {}


async def _active_in(uow, area: str) -> list[str]:
    """The references of everyone active in the area."""
    query = select(LeaderRow.id).where(LeaderRow.system == area, LeaderRow.status == "active")
    return list((await uow.session.scalars(query)).all())


async def _unknown_errors(uow, references: list[str]) -> dict[str, str]:
    """A problem naming the first reference nobody is registered with, if any."""
    known = set((await uow.session.scalars(select(LeaderRow.id).where(LeaderRow.id.in_(references)))).all())
    if not (missing := [r for r in references if r not in known]):
        return {}
    more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
    return {"references": f"Nobody is registered with the reference {missing[0]}{more}"}


@router.get("/manage/cohorts/{cohort_id}", response_class=HTMLResponse, include_in_schema=False)
async def cohort(cohort_id: str, request: Request) -> Response:
    manager = await need(request)
    registry = registry_of(request)
    async with registry.store.unit_of_work() as uow:
        row = await uow.session.get(CohortRow, cohort_id)
        if row is None:
            return not_found(request, f"There is no cohort called {cohort_id}.")
        programme_row = await uow.session.get(ProgrammeRow, row.programme_id)
        members = (
            await uow.session.scalars(
                select(CohortMemberRow.leader_id)
                .where(CohortMemberRow.cohort_id == cohort_id)
                .order_by(CohortMemberRow.leader_id)
            )
        ).all()
    names = await leader_names(registry, list(members))
    people = sorted(({"id": m, **names[m]} for m in members), key=lambda p: p["name"])
    return page(
        request,
        "cohort.html",
        {
            "title": row.name,
            "section": "programmes",
            "cohort": row,
            "programme": programme_row,
            "people": people,
            "may_act": manager.may("manager"),
            "done": request.query_params.get("done"),
        },
    )


DETAIL_FIELDS = (
    "name",
    "team",
    "contact_person",
    "phone",
    "email",
    "postal_address",
    "closure_periods",
    "next_round_on",
    "check_in_first_days",
    "check_in_every_days",
)
DETAIL_LABELS = {
    "name": "Name of the programme",
    "team": "The team's name",
    "contact_person": "Named contact",
    "phone": "Phone number",
    "email": "Email address",
    "postal_address": "Postal address",
    "closure_periods": "When the programme is closed",
    "next_round_on": "Date of the next round",
    "check_in_first_days": "Days before the first check-in",
    "check_in_every_days": "Days between check-ins",
}


def details_values(row: ProgrammeRow) -> dict:
    """The form's fields as a manager reads them."""
    values = {key: getattr(row, key) or "" for key in DETAIL_FIELDS}
    values |= closure_rows.values_from_texts(row.closure_periods if row.closure_periods is not None else [DEFAULT_CLOSURE_TEXT])
    values |= date_boxes.boxes_of(row.next_round_on, "next_round_on")
    for key in ("check_in_first_days", "check_in_every_days"):
        values[key] = "" if getattr(row, key) is None else str(getattr(row, key))
    return values


def details_from_form(values: dict) -> ProgrammeChange:
    return ProgrammeChange.model_validate(
        {
            **{key: values[key] or None for key in DETAIL_FIELDS},
            "name": values["name"],
            "closure_periods": [line for line in re.split(r"[\n,]+", values["closure_periods"]) if line.strip()],
        }
    )


def form_errors(problem: ValidationError) -> dict[str, str]:
    """Each field's first problem, as a sentence that names the field."""
    errors: dict[str, str] = {}
    for error in problem.errors():
        field = str(error["loc"][0]) if error["loc"] else "name"
        errors.setdefault(field, f"{DETAIL_LABELS.get(field, field)}: {explain_error(error)}")
    return errors


async def cohorts_with_sizes(uow, programme_id: str | None = None) -> list[dict]:
    """Cohorts by name (of one programme, or all), each with how many leaders it holds."""
    query = (
        select(CohortRow.id, CohortRow.name, CohortRow.programme_id, func.count(CohortMemberRow.leader_id))
        .outerjoin(CohortMemberRow, CohortMemberRow.cohort_id == CohortRow.id)
        .group_by(CohortRow.id, CohortRow.name, CohortRow.programme_id)
        .order_by(CohortRow.name)
    )
    if programme_id is not None:
        query = query.where(CohortRow.programme_id == programme_id)
    rows = (await uow.session.execute(query)).all()
    return [{"id": i, "name": name, "programme_id": programme, "size": size} for i, name, programme, size in rows]
