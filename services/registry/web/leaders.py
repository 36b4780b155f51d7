"""The leaders' pages: list and search, add, see, change and erase a leader."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from services.registry.adapters.areas import areas
from services.registry.adapters.orm import LeaderRow
from services.registry.handlers import common, erasure
from services.registry.handlers import leaders as leaders_handlers
from services.registry.web import forms, leader_form
from services.registry.web.deps import need, need_form, registry_of
from services.registry.web.pages import (
    PER_PAGE,
    leader_names,
    not_found,
    page,
    with_message,
)

router = APIRouter()


@router.get("/manage/leaders", response_class=HTMLResponse, include_in_schema=False)
async def leaders(request: Request) -> Response:
    manager = await need(request)
    registry = registry_of(request)
    q = (request.query_params.get("q") or "").strip()[:100]
    role = request.query_params.get("role") or ""
    status = request.query_params.get("status") or ""
    system = (request.query_params.get("system") or "").strip()[:20]
    try:
        page_number = max(1, min(int(request.query_params.get("page") or 1), 100000))
    except ValueError:
        page_number = 1
    query = select(
        LeaderRow.id, LeaderRow.role, LeaderRow.system, LeaderRow.status, LeaderRow.public, LeaderRow.sealed, LeaderRow.event_ref
    )
    if role in forms.ROLE_NAMES:
        query = query.where(LeaderRow.role == role)
    if status in forms.STATUS_NAMES:
        query = query.where(LeaderRow.status == status)
    if system:
        query = query.where(LeaderRow.system == system.upper())
    async with registry.store.unit_of_work() as uow:
        rows = (await uow.session.execute(query.order_by(LeaderRow.id))).all()
        systems = sorted((await uow.session.scalars(select(LeaderRow.system).distinct())).all())
    found = []
    needle = q.lower()
    for leader_id, leader_role, leader_system, leader_status, public, sealed, event_ref in rows:
        # Names are encrypted, so the search reads them here; nothing else of the sealed record leaves this loop.
        name = registry.cipher.open(sealed).get("name", "")
        # Topics people care about may say something of their health: viewers neither see nor search them.
        topics = (public.get("topics") or []) if manager.sees_special_category else []
        # Their event reference too: a task the notifier wrote without their name quotes it as the record number.
        where = [leader_system, areas().name_of(leader_system)]
        words = [leader_id, event_ref, name, public.get("organisation") or "", *where, " ".join(topics)]
        haystack = " ".join(words).lower()
        if needle and needle not in haystack:
            continue
        found.append(
            {
                "id": leader_id,
                "name": name,
                "role": leader_role,
                "system": leader_system,
                "status": leader_status,
                "organisation": public.get("organisation") or "",
                "topics": topics,
            }
        )
    total = len(found)
    pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)
    page_number = min(page_number, pages)
    shown = found[(page_number - 1) * PER_PAGE : page_number * PER_PAGE]
    filters = {k: v for k, v in {"q": q, "role": role, "status": status, "system": system}.items() if v}
    return page(
        request,
        "leaders.html",
        {
            "title": "Leaders",
            "section": "leaders",
            "leaders": shown,
            "total": total,
            "q": q,
            "role": role,
            "status": status,
            "system": system,
            "systems": systems,
            "page_number": page_number,
            "pages": pages,
            "filters": filters,
            "page_link": lambda n: "/manage/leaders?" + urlencode({**filters, "page": n}),
            "done": request.query_params.get("done"),
            "may_edit": manager.may("manager"),
            "full": manager.sees_special_category,
        },
    )


async def leader_form_page(
    request: Request, values: dict, errors: dict[str, str], editing: str | None, status_code: int = 200
) -> Response:
    title = f"Change {values.get('name') or editing}'s details" if editing else "Add a leader"
    chosen = list(values.get("do_not_pair_with") or [])
    names = await leader_names(registry_of(request), chosen)
    people = [(who, names[who]["name"], True) for who in chosen]
    people += [(who, name, False) for who, name in values.get("never_found") or [] if who not in chosen]
    area_options = areas().choices()
    # Where scripts run the area is typed by name (see app.js): a name, or a code in any case, is chosen again.
    typed = ""
    if values.get("system") and values["system"] not in areas().names:
        known = areas().code_of(values["system"])
        if known:
            values["system"] = known
        else:
            typed = values["system"]
            area_options.append((values["system"], f"Area {values['system']}"))
    return page(
        request,
        "leader_form.html",
        {
            "title": title,
            "section": "leaders",
            "values": values,
            "editing": editing,
            "errors": forms.ordered(errors, forms.LEADER_FIELDS),
            "error_for": errors,
            "area_options": [("", "Choose an area"), *area_options],
            "area_typed": typed,
            "time_options": leader_form.time_options,
            "never_people": people,
            "searched": values.get("searched", False),
        },
        status_code=status_code,
    )


@router.get("/manage/leaders/new", response_class=HTMLResponse, include_in_schema=False)
async def new_leader_page(request: Request) -> Response:
    await need(request, "manager")
    return await leader_form_page(request, leader_form.blank_values(), {}, None)


async def find_people(request: Request, text: str, leaving_out: str | None) -> list[tuple[str, str]]:
    """Up to 20 leaders whose name has `text` in it (names are encrypted, so they are read here)."""
    registry, needle = registry_of(request), text.lower()
    async with registry.store.unit_of_work() as uow:
        rows = (await uow.session.execute(select(LeaderRow.id, LeaderRow.sealed).order_by(LeaderRow.id))).all()
    found = []
    for leader_id, sealed in rows:
        name = registry.cipher.open(sealed).get("name", "")
        if needle and needle in name.lower() and leader_id != leaving_out:
            found.append((leader_id, name))
    return sorted(found, key=lambda person: person[1].lower())[:20]


async def save_leader(request: Request, editing: str | None) -> Response:
    _, form = await need_form(request, "manager")
    values = leader_form.values_of(form)
    adding = form.get("add")
    if adding in ("time", "date"):
        leader_form.add_row(values, str(adding))
        return await leader_form_page(request, values, {}, editing)
    if adding == "search":
        if not values["never_q"]:
            errors = {"never_q": "Enter part of the name of the person they must never be paired with"}
            return await leader_form_page(request, values, errors, editing, 400)
        values["never_found"] = await find_people(request, values["never_q"], editing)
        values["searched"] = True
        return await leader_form_page(request, values, {}, editing)
    registry = registry_of(request)
    consents: list = []
    kept: dict = {}
    if editing is not None:
        # The form does not list every consent: the ones recorded are kept, and the answer about a proxy added.
        async with registry.store.unit_of_work() as uow:
            stored = await uow.session.get(LeaderRow, editing)
            consents = list((stored.public.get("consents") if stored is not None else None) or [])
            kept = dict(stored.public) if stored is not None else {}
    leader, errors = leader_form.leader_from_form(values, editing, consents, kept)
    if leader is None:
        return await leader_form_page(request, values, errors, editing, 400)
    async with registry.store.unit_of_work() as uow:
        if editing is None and leader.id and await uow.session.get(LeaderRow, leader.id) is not None:
            errors = {"id": f"Reference {leader.id} is already used by another leader; choose another"}
            return await leader_form_page(request, values, errors, editing, 400)
        try:
            row, outcome = await leaders_handlers.register_leader(uow, registry.cipher, leader, keys=registry.person_keys)
        except common.Conflict as problem:
            return await leader_form_page(request, values, {"contact_method": str(problem).capitalize()}, editing, 400)
        await uow.commit()
    words = {"created": "added", "updated": "saved", "unchanged": "unchanged: nothing was different"}[outcome]
    return with_message(f"/manage/leaders/{quote(row.id)}", f"{leader.name}'s details are {words}")


@router.post("/manage/leaders/new", response_class=HTMLResponse, include_in_schema=False)
async def add_leader(request: Request) -> Response:
    return await save_leader(request, None)


@router.get("/manage/leaders/{leader_id}", response_class=HTMLResponse, include_in_schema=False)
async def leader_page(leader_id: str, request: Request) -> Response:
    manager = await need(request)
    registry = registry_of(request)
    async with registry.store.unit_of_work() as uow:
        row = await uow.session.get(LeaderRow, leader_id)
        if row is None:
            return not_found(request, f"There is no leader with the reference {leader_id}.")
        if manager.sees_special_category:
            view = await leaders_handlers.read_leader(
                uow, registry.cipher, leader_id, manager.email, "viewing the leader's record in the web pages"
            )
            await uow.commit()
        else:
            # A viewer sees the record without contact details, communication or access needs, or topics.
            sealed = registry.cipher.open(row.sealed)
            public = {k: v for k, v in row.public.items() if k != "topics"}
            view = {
                **public,
                "name": sealed.get("name"),
                "pronouns": sealed.get("pronouns"),
                "id": row.id,
                "version": row.version,
            }
    return page(
        request,
        "leader.html",
        {
            "title": view["name"],
            "section": "leaders",
            "leader": view,
            "done": request.query_params.get("done"),
            "full": manager.sees_special_category,
            "may_edit": manager.may("manager"),
            "proxy_agreed": forms.proxy_agreed(view),
        },
    )


ERASE_REASONS = {
    "asked": "the person asked to be erased",
    "left": "the person left the programme and their details are no longer needed",
    "mistake": "the person was added by mistake",
}


async def erase_page(request: Request, leader_id: str, values: dict, errors: dict[str, str], status_code: int = 200) -> Response:
    registry = registry_of(request)
    async with registry.store.unit_of_work() as uow:
        row = await uow.session.get(LeaderRow, leader_id)
    if row is None:
        return not_found(request, f"There is no leader with the reference {leader_id}.")
    leader = {"id": row.id, "name": registry.cipher.open(row.sealed).get("name")}
    return page(
        request,
        "leader_erase.html",
        {
            "title": f"Erase {leader['name']}",
            "section": "leaders",
            "leader": leader,
            "values": values,
            "errors": list(errors.items()),
            "error_for": errors,
        },
        status_code=status_code,
    )


@router.get("/manage/leaders/{leader_id}/erase", response_class=HTMLResponse, include_in_schema=False)
async def erase_leader_page(leader_id: str, request: Request) -> Response:
    await need(request, "manager")
    return await erase_page(request, leader_id, {"why": ""}, {})


@router.post("/manage/leaders/{leader_id}/erase", response_class=HTMLResponse, include_in_schema=False)
async def erase_leader(leader_id: str, request: Request) -> Response:
    manager, form = await need_form(request, "manager")
    why = str(form.get("why") or "")
    if why not in ERASE_REASONS:
        return await erase_page(request, leader_id, {"why": why}, {"why": "Select why their details are being erased"}, 400)
    async with registry_of(request).store.unit_of_work() as uow:
        try:
            key = registry_of(request).settings.audit_digest_key
            await erasure.erase_leader(uow, leader_id, manager.email, ERASE_REASONS[why], key)
        except common.NotFound:
            return not_found(request, f"There is no leader with the reference {leader_id}.")
        await uow.commit()
    return with_message(
        "/manage/leaders",
        "Their details have been erased here, and will be from the matcher and the messages service in a few seconds.",
    )


@router.get("/manage/leaders/{leader_id}/edit", response_class=HTMLResponse, include_in_schema=False)
async def edit_leader_page(leader_id: str, request: Request) -> Response:
    manager = await need(request, "manager")
    registry = registry_of(request)
    async with registry.store.unit_of_work() as uow:
        try:
            view = await leaders_handlers.read_leader(
                uow, registry.cipher, leader_id, manager.email, "changing the leader's details in the web pages"
            )
        except common.NotFound:
            return not_found(request, f"There is no leader with the reference {leader_id}.")
        await uow.commit()
    return await leader_form_page(request, leader_form.values_from_leader(view), {}, leader_id)


@router.post("/manage/leaders/{leader_id}/edit", response_class=HTMLResponse, include_in_schema=False)
async def edit_leader(leader_id: str, request: Request) -> Response:
    return await save_leader(request, leader_id)
