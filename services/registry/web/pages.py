"""The manager pages. Each route checks the signed-in person's role, checks the
form token on every POST, calls the registry's handlers in a unit of work, and
answers with a page (or a redirect after a change, so reloading never repeats it)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections import Counter
from pathlib import Path
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select

from services.registry import handlers, monitor
from services.registry.adapters import spreadsheets
from services.registry.adapters.gazetteer import locate_town
from services.registry.adapters.orm import CohortRow, DeliveryRow, LeaderRow, RoundRow, UnmatchedRow
from schemas.cohort import FitWeights
from services.registry.domain.commands import ApproveRound
from services.registry.domain.importing import COLUMNS, FileProblem, parse_rows
from services.registry.domain.rounds import IllegalTransition, progress_words
from services.registry.web import auth, forms
from services.registry.web.auth import Manager

PAGES = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")

STATUS_WORDS = {
    "draft": ("Draft", "grey"),
    "queued": ("Waiting for the matcher", "blue"),
    "solving": ("Being solved", "blue"),
    "proposed": ("Waiting for review", "yellow"),
    "approved": ("Approved, not yet published", "aqua-green"),
    "published": ("Published", "green"),
    "closed": ("Closed", "grey"),
    "cancelled": ("Cancelled", "grey"),
    "failed": ("Could not be solved", "red"),
}
DELIVERY_WORDS = {
    "sent": "Sent",
    "delivered": "Delivered",
    "scheduled": "Waiting to be sent (quiet hours or notice)",
    "failed": "Failed",
    "needs_a_person": "Needs a person to send it",
}
# Words that would reveal someone's access needs in a reason written by the matcher.
ACCESS_WORDS = ("sign language", "interpreter", "step-free", "hearing loop", "quiet room", "support worker", "large print", "easy read", "large-print", "easy-read", "braille")
LIVE_STATUSES = ("queued", "solving", "approved", "published")
PER_PAGE = 25

PAGES.env.globals.update(
    role_names=forms.ROLE_NAMES,
    status_names=forms.STATUS_NAMES,
    mode_names=forms.MODE_NAMES,
    experience_names=forms.EXPERIENCE_NAMES,
    contact_names=forms.CONTACT_NAMES,
    format_names=forms.FORMAT_NAMES,
    access_names=forms.ACCESS_NAMES,
    day_names=forms.DAY_NAMES,
    status_words=STATUS_WORDS,
    delivery_words=DELIVERY_WORDS,
    progress_words=progress_words,
    role_words=auth.ROLE_WORDS,
    say_window=forms.say_window,
    leader_fields=forms.LEADER_FIELDS,
    round_fields=forms.ROUND_FIELDS,
    import_columns=COLUMNS,
)


def say_date(value: Any) -> str:
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    return f"{value.day} {forms.MONTHS[value.month - 1].capitalize()} {value.year}"


PAGES.env.filters["say_date"] = say_date
PAGES.env.filters["named"] = lambda codes, names: ", ".join(names.get(c, c) for c in (codes or []))


# ---- who is asking ----


class SignInRequired(Exception):
    def __init__(self, path: str, idle: bool = False):
        self.path, self.idle = path, idle


class NotAllowed(Exception):
    def __init__(self, manager: Manager, needed: str):
        self.manager, self.needed = manager, needed


class FormExpired(Exception):
    """The form token is missing or wrong: the form came from another site, or the session changed."""


def registry_of(request: Request):
    return request.app.state.registry


async def signed_in(request: Request) -> Manager | None:
    if not hasattr(request.state, "web_manager"):
        found = await auth.read_session(registry_of(request), request.cookies.get(auth.SESSION_COOKIE))
        request.state.web_manager = found.manager if found.stage == auth.SIGNED_IN else None
        request.state.session_idle = found.idle
    return request.state.web_manager


async def need(request: Request, role: str = "viewer") -> Manager:
    manager = await signed_in(request)
    if manager is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(path, request.state.session_idle)
    if not manager.may(role):
        raise NotAllowed(manager, role)
    request.state.manager = manager
    return manager


async def need_form(request: Request, role: str) -> tuple[Manager, Any]:
    manager = await need(request, role)
    form = await request.form()
    if not auth.csrf_matches(manager.csrf_token, form.get("csrf_token")):
        raise FormExpired()
    return manager, form


def page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    manager = getattr(request.state, "web_manager", None)
    context = {"manager": manager, "csrf_token": manager.csrf_token if manager else "", "section": "", **context}
    errors = context.get("errors")
    # The browser tab says there is a problem; the heading on the page stays the same.
    context["page_title"] = ("Error: " if errors else "") + context["title"]
    return PAGES.TemplateResponse(request, name, context, status_code=status_code)


def not_found(request: Request, message: str) -> Response:
    return page(request, "problem.html", {"title": "Page not found", "message": message}, status_code=404)


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def with_message(url: str, message: str) -> RedirectResponse:
    joiner = "&" if "?" in url else "?"
    return see_other(f"{url}{joiner}{urlencode({'done': message})}")


def safe_next(path: str | None) -> str:
    if path and path.startswith("/manage") and not path.startswith("//") and "\\" not in path:
        return path
    return "/manage"


def is_https(request: Request) -> bool:
    return registry_of(request).settings.public_url.startswith("https://")


def session_cookie(request: Request, response: Response, token: str) -> Response:
    """Give the browser its session cookie (and forget the sign-in form's)."""
    response.set_cookie(
        auth.SESSION_COOKIE, token, httponly=True, samesite="lax", secure=is_https(request),
        max_age=auth.SESSION_HOURS * 3600, path="/",
    )
    response.delete_cookie(auth.SIGN_IN_COOKIE, path="/sign-in")
    return response


def for_role(reason: str, manager: Manager) -> str:
    if manager.sees_special_category or not any(word in reason.lower() for word in ACCESS_WORDS):
        return reason
    return "The reason involves this person's access needs, which your role cannot see."


ERASED_PERSON = {"name": "Someone who has been erased", "role": ""}


class Names(dict):
    """Each leader's name and role; anyone not registered (erased since) reads as an erased person."""

    def __missing__(self, leader_id: str) -> dict[str, str]:
        return ERASED_PERSON


async def leader_names(registry, ids: list[str]) -> dict[str, dict[str, str]]:
    """Name and role of each leader, for the pages that list people (names are not special-category data)."""
    found: dict[str, dict[str, str]] = Names()
    unique = sorted(set(ids))
    async with registry.store.unit_of_work() as uow:
        for start in range(0, len(unique), 500):
            rows = (await uow.session.execute(
                select(LeaderRow.id, LeaderRow.role, LeaderRow.sealed).where(LeaderRow.id.in_(unique[start:start + 500]))
            )).all()
            for leader_id, role, sealed in rows:
                found[leader_id] = {"name": registry.cipher.open(sealed).get("name", leader_id), "role": role}
    for leader_id in unique:
        found.setdefault(leader_id, ERASED_PERSON if leader_id == handlers.ERASED else {"name": leader_id, "role": ""})
    return found


def install_pages(app: FastAPI) -> None:  # noqa: C901 - one place that lists every page
    @app.exception_handler(SignInRequired)
    async def sign_in_first(_: Request, exc: SignInRequired) -> Response:
        return see_other(f"/sign-in?{urlencode({'next': exc.path, **({'idle': 1} if exc.idle else {})})}")

    @app.exception_handler(NotAllowed)
    async def not_allowed(request: Request, exc: NotAllowed) -> Response:
        return page(request, "problem.html", {
            "title": "You cannot do this",
            "message": f"Your role is {exc.manager.role}. This page needs the {exc.needed} role or above. "
            "Ask an admin if you need it.",
        }, status_code=403)

    @app.exception_handler(FormExpired)
    async def form_expired(request: Request, _: FormExpired) -> Response:
        return page(request, "problem.html", {
            "title": "The form has expired",
            "message": "For your security, forms only work in the browser session that opened them. "
            "Go back, reload the page and try again.",
        }, status_code=400)

    # ---- signing in and out ----

    @app.get("/", include_in_schema=False)
    async def home(request: Request) -> Response:
        return see_other("/manage" if await signed_in(request) else "/sign-in")

    @app.get("/sign-in", response_class=HTMLResponse, include_in_schema=False)
    async def sign_in_page(request: Request, next: str | None = None) -> Response:
        if await signed_in(request):
            return see_other(safe_next(next))
        return await sign_in_form(request, next, {}, "")

    async def sign_in_form(request: Request, next_path: str | None, errors: dict[str, str], email: str, status_code: int = 200) -> Response:
        token = secrets.token_urlsafe(32)
        registry = registry_of(request)
        await auth.ensure_first_admin(registry)
        nobody = await auth.count_managers(registry) == 0
        response = page(request, "sign_in.html", {
            "nobody_can_sign_in": nobody,
            "title": "Sign in",
            "next": safe_next(next_path),
            "errors": forms.ordered(errors, {"email": 0, "password": 1}),
            "error_for": errors,
            "email": email,
            "sign_in_token": token,
            "idle_minutes": int(auth.idle_limit(registry).total_seconds() // 60),
        }, status_code=status_code)
        response.set_cookie(auth.SIGN_IN_COOKIE, token, httponly=True, samesite="strict", path="/sign-in", secure=is_https(request))
        return response

    @app.post("/sign-in", response_class=HTMLResponse, include_in_schema=False)
    async def sign_in(request: Request) -> Response:
        form = await request.form()
        next_path = str(form.get("next") or "")
        if not auth.csrf_matches(request.cookies.get(auth.SIGN_IN_COOKIE, ""), form.get("csrf_token")):
            raise FormExpired()
        email, password = str(form.get("email") or "").strip(), str(form.get("password") or "")
        errors = {}
        if not email:
            errors["email"] = "Enter your email address"
        if not password:
            errors["password"] = "Enter your password"
        if errors:
            return await sign_in_form(request, next_path, errors, email, 400)
        try:
            manager = await auth.check_password(registry_of(request), email, password, auth.client_address(request))
        except auth.SignInProblem as problem:
            return await sign_in_form(request, next_path, {"email": str(problem)}, email, 400)
        if auth.needs_second_factor(registry_of(request), manager):
            # Half signed in: the next page asks for the code (or sets the second factor up), then a new session starts.
            stage = auth.NEEDS_CODE if await auth.has_second_factor(registry_of(request), manager.id) else auth.NEEDS_SET_UP
            token, _ = await auth.start_session(registry_of(request), manager, stage)
            step = "/sign-in/code" if stage == auth.NEEDS_CODE else "/sign-in/set-up"
            response = see_other(f"{step}?{urlencode({'next': safe_next(next_path)})}")
        else:
            token, _ = await auth.start_session(registry_of(request), manager)
            response = see_other(safe_next(next_path))
        return session_cookie(request, response, token)

    @app.post("/sign-out", include_in_schema=False)
    async def sign_out(request: Request) -> Response:
        await need_form(request, "viewer")
        await auth.end_session(registry_of(request), request.cookies.get(auth.SESSION_COOKIE))
        response = see_other("/sign-in?signed_out=1")
        response.delete_cookie(auth.SESSION_COOKIE, path="/")
        return response

    # ---- the queue monitor (the home page when signed in) ----

    @app.get("/manage", response_class=HTMLResponse, include_in_schema=False)
    async def queue(request: Request) -> Response:
        manager = await need(request)
        registry = registry_of(request)
        async with registry.store.unit_of_work() as uow:
            rounds = (await uow.session.scalars(select(RoundRow).order_by(RoundRow.created_at.desc()).limit(200))).all()
            by_status = Counter(r.status for r in rounds)
            deliveries = dict((await uow.session.execute(
                select(DeliveryRow.status, func.count()).group_by(DeliveryRow.status)
            )).all())
            for_a_person = (await uow.session.scalars(
                select(DeliveryRow).where(DeliveryRow.status.in_(["needs_a_person", "failed"])).order_by(DeliveryRow.updated_at.desc()).limit(100)
            )).all()
            recent = [r.id for r in rounds if r.status in ("proposed", "approved", "published")][:5]
            unmatched = (await uow.session.scalars(
                select(UnmatchedRow).where(UnmatchedRow.round_id.in_(recent)).order_by(UnmatchedRow.round_id, UnmatchedRow.id)
            )).all() if recent else []
            leaders_by_status = dict((await uow.session.execute(select(LeaderRow.status, func.count()).group_by(LeaderRow.status))).all())
        names = await leader_names(registry, [u.leader_id for u in unmatched] + [d.leader_id for d in for_a_person])
        active = [r for r in rounds if r.status in ("queued", "solving", "proposed", "approved", "failed")]
        services = await monitor.every_service(registry)
        dead_letters = await monitor.dead_letters(registry)
        return page(request, "queue.html", {
            "title": "Queue monitor",
            "section": "queue",
            "by_status": by_status,
            "active": active,
            "deliveries": deliveries,
            "for_a_person": [
                {"round_id": d.round_id, "leader_id": d.leader_id, "name": names[d.leader_id]["name"], "status": d.status,
                 "channel": d.channel, "why": for_role(d.detail or "", manager)}
                for d in for_a_person
            ],
            "unmatched": [
                {"round_id": u.round_id, "leader_id": u.leader_id, "name": names[u.leader_id]["name"],
                 "role": names[u.leader_id]["role"], "reason": for_role(u.reason, manager)}
                for u in unmatched
            ],
            "services": services,
            "dead_letters": dead_letters,
            "troubled": [s for s in services if not (s.answering and s.ready) or s.set_aside],
            "leaders_by_status": leaders_by_status,
            "now": dt.datetime.now().strftime("%H:%M:%S"),
            "done": request.query_params.get("done"),
        })

    # ---- leaders ----

    @app.get("/manage/leaders", response_class=HTMLResponse, include_in_schema=False)
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
        query = select(LeaderRow.id, LeaderRow.role, LeaderRow.system, LeaderRow.status, LeaderRow.public, LeaderRow.sealed)
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
        for leader_id, leader_role, leader_system, leader_status, public, sealed in rows:
            # Names are encrypted, so the search reads them here; nothing else of the sealed record leaves this loop.
            name = registry.cipher.open(sealed).get("name", "")
            # Topics people care about may say something of their health: viewers neither see nor search them.
            topics = (public.get("topics") or []) if manager.sees_special_category else []
            haystack = " ".join([leader_id, name, public.get("organisation") or "", leader_system, " ".join(topics)]).lower()
            if needle and needle not in haystack:
                continue
            found.append({"id": leader_id, "name": name, "role": leader_role, "system": leader_system, "status": leader_status,
                          "organisation": public.get("organisation") or "", "topics": topics})
        total = len(found)
        pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)
        page_number = min(page_number, pages)
        shown = found[(page_number - 1) * PER_PAGE: page_number * PER_PAGE]
        filters = {k: v for k, v in {"q": q, "role": role, "status": status, "system": system}.items() if v}
        return page(request, "leaders.html", {
            "title": "Leaders", "section": "leaders", "leaders": shown, "total": total, "q": q, "role": role,
            "status": status, "system": system, "systems": systems, "page_number": page_number, "pages": pages,
            "filters": filters, "page_link": lambda n: "/manage/leaders?" + urlencode({**filters, "page": n}),
            "done": request.query_params.get("done"), "may_edit": manager.may("manager"),
            "full": manager.sees_special_category,
        })

    def leader_form_page(request: Request, values: dict, errors: dict[str, str], editing: str | None, status_code: int = 200) -> Response:
        title = f"Change {values.get('name') or editing}'s details" if editing else "Add a leader"
        return page(request, "leader_form.html", {
            "title": title, "section": "leaders", "values": values, "editing": editing,
            "errors": forms.ordered(errors, forms.LEADER_FIELDS), "error_for": errors,
        }, status_code=status_code)

    @app.get("/manage/leaders/new", response_class=HTMLResponse, include_in_schema=False)
    async def new_leader_page(request: Request) -> Response:
        await need(request, "manager")
        values = {name: "" for name in forms.LEADER_FIELDS} | {"meeting_modes": [], "access_needs": [], "status": "active",
                                                             "contact_method": "email", "information_format": "standard",
                                                             "experience": "new", "term_time_only": "no", "capacity": "1"}
        return leader_form_page(request, values, {}, None)

    async def save_leader(request: Request, editing: str | None) -> Response:
        manager, form = await need_form(request, "manager")
        values = forms.leader_values(form)
        registry = registry_of(request)
        consents: list = []
        if editing is not None:
            # The form does not list every consent: the ones recorded are kept, and the answer about a proxy added.
            async with registry.store.unit_of_work() as uow:
                stored = await uow.session.get(LeaderRow, editing)
                consents = list((stored.public.get("consents") if stored is not None else None) or [])
        leader, errors = forms.leader_from_values(values, editing, consents)
        if leader is None:
            return leader_form_page(request, values, errors, editing, 400)
        async with registry.store.unit_of_work() as uow:
            if editing is None and leader.id and await uow.session.get(LeaderRow, leader.id) is not None:
                errors = {"id": f"Reference {leader.id} is already used by another leader; choose another"}
                return leader_form_page(request, values, errors, editing, 400)
            try:
                row, outcome = await handlers.register_leader(uow, registry.cipher, leader, keys=registry.person_keys)
            except handlers.Conflict as problem:
                return leader_form_page(request, values, {"contact_method": str(problem).capitalize()}, editing, 400)
            await uow.commit()
        words = {"created": "added", "updated": "saved", "unchanged": "unchanged: nothing was different"}[outcome]
        return with_message(f"/manage/leaders/{quote(row.id)}", f"{leader.name}'s details are {words}")

    @app.post("/manage/leaders/new", response_class=HTMLResponse, include_in_schema=False)
    async def add_leader(request: Request) -> Response:
        return await save_leader(request, None)

    @app.get("/manage/leaders/{leader_id}", response_class=HTMLResponse, include_in_schema=False)
    async def leader_page(leader_id: str, request: Request) -> Response:
        manager = await need(request)
        registry = registry_of(request)
        async with registry.store.unit_of_work() as uow:
            row = await uow.session.get(LeaderRow, leader_id)
            if row is None:
                return not_found(request, f"There is no leader with the reference {leader_id}.")
            if manager.sees_special_category:
                view = await handlers.read_leader(
                    uow, registry.cipher, leader_id, manager.email, "viewing the leader's record in the web pages"
                )
                await uow.commit()
            else:
                # A viewer sees the record without contact details, communication or access needs, or topics.
                sealed = registry.cipher.open(row.sealed)
                public = {k: v for k, v in row.public.items() if k != "topics"}
                view = {**public, "name": sealed.get("name"), "pronouns": sealed.get("pronouns"), "id": row.id, "version": row.version}
        return page(request, "leader.html", {
            "title": view["name"], "section": "leaders", "leader": view, "done": request.query_params.get("done"),
            "full": manager.sees_special_category, "may_edit": manager.may("manager"),
            "proxy_agreed": forms.proxy_agreed(view),
        })

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
        return page(request, "leader_erase.html", {
            "title": f"Erase {leader['name']}", "section": "leaders", "leader": leader, "values": values,
            "errors": list(errors.items()), "error_for": errors,
        }, status_code=status_code)

    @app.get("/manage/leaders/{leader_id}/erase", response_class=HTMLResponse, include_in_schema=False)
    async def erase_leader_page(leader_id: str, request: Request) -> Response:
        await need(request, "manager")
        return await erase_page(request, leader_id, {"why": ""}, {})

    @app.post("/manage/leaders/{leader_id}/erase", response_class=HTMLResponse, include_in_schema=False)
    async def erase_leader(leader_id: str, request: Request) -> Response:
        manager, form = await need_form(request, "manager")
        why = str(form.get("why") or "")
        if why not in ERASE_REASONS:
            return await erase_page(request, leader_id, {"why": why}, {"why": "Select why their details are being erased"}, 400)
        async with registry_of(request).store.unit_of_work() as uow:
            try:
                await handlers.erase_leader(uow, leader_id, manager.email, ERASE_REASONS[why])
            except handlers.NotFound:
                return not_found(request, f"There is no leader with the reference {leader_id}.")
            await uow.commit()
        return with_message("/manage/leaders", "Their details have been erased here, and will be from the matcher and the messages service in a few seconds.")

    @app.get("/manage/leaders/{leader_id}/edit", response_class=HTMLResponse, include_in_schema=False)
    async def edit_leader_page(leader_id: str, request: Request) -> Response:
        manager = await need(request, "manager")
        registry = registry_of(request)
        async with registry.store.unit_of_work() as uow:
            try:
                view = await handlers.read_leader(uow, registry.cipher, leader_id, manager.email, "changing the leader's details in the web pages")
            except handlers.NotFound:
                return not_found(request, f"There is no leader with the reference {leader_id}.")
            await uow.commit()
        return leader_form_page(request, forms.values_from_leader(view), {}, leader_id)

    @app.post("/manage/leaders/{leader_id}/edit", response_class=HTMLResponse, include_in_schema=False)
    async def edit_leader(leader_id: str, request: Request) -> Response:
        return await save_leader(request, leader_id)

    # ---- importing ----

    @app.get("/manage/import", response_class=HTMLResponse, include_in_schema=False)
    async def import_page(request: Request) -> Response:
        await need(request, "manager")
        return page(request, "import.html", {"title": "Import leaders from a spreadsheet", "section": "import", "errors": [], "error_for": {}})

    @app.get("/manage/import/template.csv", include_in_schema=False)
    async def template_csv(request: Request) -> Response:
        await need(request, "manager")
        return Response(spreadsheets.template_csv(), media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="leaders-template.csv"'})

    @app.get("/manage/import/template.xlsx", include_in_schema=False)
    async def template_xlsx(request: Request) -> Response:
        await need(request, "manager")
        return Response(spreadsheets.template_xlsx(),
                        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": 'attachment; filename="leaders-template.xlsx"'})

    @app.post("/manage/import", response_class=HTMLResponse, include_in_schema=False)
    async def import_file(request: Request) -> Response:
        await need_form(request, "manager")
        form = await request.form()
        upload = form.get("file")
        registry = registry_of(request)

        def problem_page(message: str) -> Response:
            return page(request, "import.html", {
                "title": "Import leaders from a spreadsheet", "section": "import",
                "errors": [("file", message)], "error_for": {"file": message},
            }, status_code=400)

        if upload is None or isinstance(upload, str) or not upload.filename:
            return problem_page("Select a CSV or Excel file to import")
        content = await upload.read()
        if not content:
            return problem_page(f"The selected file {upload.filename} is empty")
        try:
            header, rows = spreadsheets.read_rows(upload.filename, content)
            valid, problems = parse_rows(header, rows, locate_town)
        except FileProblem as problem:
            return problem_page(f"The file {upload.filename} cannot be imported: {problem}")
        async with registry.store.unit_of_work() as uow:
            counts, conflicts = await handlers.import_leaders(uow, registry.cipher, valid, keys=registry.person_keys)
            await uow.commit()
        problems = sorted(problems + conflicts, key=lambda p: (p.row, p.column))
        return page(request, "import_report.html", {
            "title": "Import report" if not problems else "Import report: some rows need changes",
            "section": "import", "filename": upload.filename, "counts": counts, "problems": problems,
            "rows_with_problems": len({p.row for p in problems}),
        })

    # ---- rounds ----

    @app.get("/manage/rounds", response_class=HTMLResponse, include_in_schema=False)
    async def rounds_page(request: Request) -> Response:
        manager = await need(request)
        async with registry_of(request).store.unit_of_work() as uow:
            rounds = (await uow.session.scalars(select(RoundRow).order_by(RoundRow.created_at.desc()).limit(500))).all()
        return page(request, "rounds.html", {
            "title": "Pairing rounds", "section": "rounds", "rounds": rounds, "may_launch": manager.may("manager"),
            "done": request.query_params.get("done"),
        })

    async def launch_choices(registry) -> dict[str, Any]:
        async with registry.store.unit_of_work() as uow:
            systems = sorted((await uow.session.scalars(select(LeaderRow.system).where(LeaderRow.status == "active").distinct())).all())
            cohorts = (await uow.session.scalars(select(CohortRow).order_by(CohortRow.name))).all()
            active = await uow.session.scalar(select(func.count()).select_from(LeaderRow).where(LeaderRow.status == "active"))
        return {"systems": systems, "cohorts": cohorts, "active_count": active or 0}

    def default_round_values() -> dict[str, str]:
        weights = FitWeights()
        return {"name": "", "round_id": "", "who": "all", "area": "", "cohort": "", "sessions": "", "school_holidays": "",
                "min_shared_hours_per_week": "1", "allow_cross_system_remote": "yes", "time_limit_seconds": "10",
                "min_pairs_per_area": "", **{f"weight_{part}": f"{getattr(weights, part):g}" for part in forms.WEIGHTS}}

    async def round_form_page(request: Request, values: dict, errors: dict[str, str], status_code: int = 200) -> Response:
        return page(request, "round_new.html", {
            "title": "Launch a pairing round", "section": "rounds", "values": values,
            "errors": forms.ordered(errors, forms.ROUND_FIELDS), "error_for": errors, **await launch_choices(registry_of(request)),
        }, status_code=status_code)

    @app.get("/manage/rounds/new", response_class=HTMLResponse, include_in_schema=False)
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
                leader_ids = list((await uow.session.scalars(
                    select(LeaderRow.id).where(LeaderRow.system == values["area"], LeaderRow.status == "active")
                )).all())
        command, errors = forms.round_command(values, leader_ids, cohort_supported=True)
        if command is None:
            return None, [], errors
        async with registry.store.unit_of_work() as uow:
            query = select(LeaderRow.id, LeaderRow.role).where(LeaderRow.status == "active")
            if command.leader_ids is not None:
                query = query.where(LeaderRow.id.in_(command.leader_ids))
            elif getattr(command, "cohort_id", None):
                from services.registry.adapters.orm import CohortMemberRow

                query = query.where(LeaderRow.id.in_(select(CohortMemberRow.leader_id).where(CohortMemberRow.cohort_id == command.cohort_id)))
            included = (await uow.session.execute(query)).all()
            if command.id and await uow.session.get(RoundRow, command.id) is not None:
                errors["round_id"] = f"A round called {command.id} already exists; choose another name"
        if not included:
            errors["who"] = "There are no active leaders in this choice; add or import leaders first"
        return (command if not errors else None), included, errors

    @app.post("/manage/rounds/new", response_class=HTMLResponse, include_in_schema=False)
    async def check_round(request: Request) -> Response:
        await need_form(request, "manager")
        form = await request.form()
        values = forms.round_values(form)
        if form.get("change"):
            return await round_form_page(request, values, {})
        command, included, errors = await checked_round(request, values)
        if command is None:
            return await round_form_page(request, values, errors, 400)
        roles = Counter(role for _, role in included)
        return page(request, "round_confirm.html", {
            "title": "Check the round before you launch it", "section": "rounds", "values": values, "command": command,
            "count": len(included), "roles": roles, **await launch_choices(registry_of(request)),
        })

    @app.post("/manage/rounds/launch", response_class=HTMLResponse, include_in_schema=False)
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
                row = await handlers.launch_round(uow, command, registry.today(), registry.settings.programme_defaults)
            except (handlers.Conflict, handlers.NotFound) as problem:
                return await round_form_page(request, values, {"who": str(problem).capitalize()}, 400)
            await uow.commit()
        return with_message(f"/manage/rounds/{quote(row.id)}", "The round has been sent to the matcher")

    async def round_context(request: Request, round_id: str, manager: Manager) -> dict[str, Any] | None:
        registry = registry_of(request)
        async with registry.store.unit_of_work() as uow:
            try:
                view = await handlers.round_view(uow, round_id, registry.settings.programme_defaults)
            except handlers.NotFound:
                return None
            row = await handlers.get_round(uow, round_id)
            locked = [tuple(p) for p in (row.locked_pairs or [])]
            forbidden = [tuple(p) for p in (row.forbidden_pairs or [])]
            leader_ids = list(row.leader_ids)
        names = await leader_names(registry, leader_ids + [p["lived_experience_id"] for p in view["pairs"]] + [p["professional_id"] for p in view["pairs"]])
        for number, pair in enumerate(view["pairs"], start=1):
            pair["number"] = number
            pair["key"] = f"{pair['lived_experience_id']}|{pair['professional_id']}"
            pair["reasons"] = [for_role(r, manager) for r in pair["reasons"]]
            pair["is_locked"] = pair["locked"] or (pair["lived_experience_id"], pair["professional_id"]) in locked
        for person in view["unmatched"]:
            person["reason"] = for_role(person["reason"], manager)
        for item in view["needs_a_person"]:
            item["why"] = for_role(item["why"] or "", manager)
        lived = sorted((i for i in leader_ids if names[i]["role"] in ("patient_leader", "carer_leader")), key=lambda i: names[i]["name"])
        professionals = sorted((i for i in leader_ids if names[i]["role"] in ("clinical_leader", "managerial_leader")), key=lambda i: names[i]["name"])
        answers = {(r["leader_id"], r["partner_id"]): r["answer"] for r in view["responses"]}
        return {
            "round": view, "names": names, "locked": locked, "forbidden": forbidden, "lived": lived,
            "professionals": professionals, "answers": answers,
            "delivered_total": sum(view["deliveries"].values()),
            "poll": view["status"] in LIVE_STATUSES,
        }

    @app.get("/manage/rounds/{round_id}", response_class=HTMLResponse, include_in_schema=False)
    async def round_page(round_id: str, request: Request) -> Response:
        manager = await need(request)
        context = await round_context(request, round_id, manager)
        if context is None:
            return not_found(request, f"There is no round called {round_id}.")
        words = STATUS_WORDS.get(context["round"]["status"], (context["round"]["status"], "grey"))[0]
        return page(request, "round.html", {
            "title": f"{context['round']['name']}: {words.lower()}", "section": "rounds", **context,
            "done": request.query_params.get("done"), "may_act": manager.may("manager"),
            "errors": [], "error_for": {}, "checked": set(),
        })

    @app.get("/manage/rounds/{round_id}/status", include_in_schema=False)
    async def round_status(round_id: str, request: Request) -> Response:
        """What the round page's script polls: small, and with no personal data."""
        await need(request)
        registry = registry_of(request)
        async with registry.store.unit_of_work() as uow:
            row = await uow.session.get(RoundRow, round_id)
            if row is None:
                return JSONResponse({"detail": "not found"}, status_code=404)
            deliveries = dict((await uow.session.execute(
                select(DeliveryRow.status, func.count()).where(DeliveryRow.round_id == round_id).group_by(DeliveryRow.status)
            )).all())
        words = STATUS_WORDS.get(row.status, (row.status, "grey"))[0]
        return JSONResponse({
            "status": row.status, "status_words": words, "deliveries": deliveries,
            "deliveries_words": "; ".join(f"{DELIVERY_WORDS.get(s, s)}: {n}" for s, n in sorted(deliveries.items())),
            "progress_words": progress_words(row.progress),
        }, headers={"Cache-Control": "no-store"})

    async def round_action(request: Request, round_id: str, action, success: str | Callable[[], str]) -> Response:
        """Run `action` in one transaction; then show the round with `success` (words, or what makes them)."""
        await need_form(request, "manager")
        async with registry_of(request).store.unit_of_work() as uow:
            try:
                shown = await action(uow) or round_id  # an action may lead to another round's page
            except (handlers.Conflict, handlers.NotFound, IllegalTransition) as problem:
                return page(request, "problem.html", {
                    "title": "That cannot be done now", "message": str(problem),
                    "back": f"/manage/rounds/{quote(round_id)}",
                }, status_code=409)
            await uow.commit()
        return with_message(f"/manage/rounds/{quote(shown)}", success() if callable(success) else success)

    @app.post("/manage/rounds/{round_id}/approve", response_class=HTMLResponse, include_in_schema=False)
    async def approve(round_id: str, request: Request) -> Response:
        manager, form = await need_form(request, "manager")
        checked = set(form.getlist("checked"))
        context = await round_context(request, round_id, manager)
        if context is None:
            return not_found(request, f"There is no round called {round_id}.")
        missing = [p for p in context["round"]["pairs"] if p["key"] not in checked]
        if missing:
            errors = {
                f"check-{p['number']}": f"Confirm you have checked pair {p['number']}: "
                f"{context['names'][p['lived_experience_id']]['name']} and {context['names'][p['professional_id']]['name']}"
                for p in missing
            }
            return page(request, "round.html", {
                "title": f"{context['round']['name']}: waiting for review", "section": "rounds", **context, "may_act": True,
                "errors": list(errors.items()), "error_for": errors, "checked": checked,
            }, status_code=400)

        async def act(uow):
            await handlers.approve_round(uow, round_id, ApproveRound(approved_by=f"{manager.name} ({manager.email})"))

        return await round_action(request, round_id, act, "You have approved every pair. Publish the round to tell people.")

    async def confirm_page(request: Request, round_id: str, template: str, title: str, **extra: Any) -> Response:
        """The page that asks a manager to confirm a step for the round, with the form that takes it."""
        manager = await need(request, "manager")
        context = await round_context(request, round_id, manager)
        if context is None:
            return not_found(request, f"There is no round called {round_id}.")
        return page(request, template, {"title": title, "section": "rounds", **context, **extra})

    @app.get("/manage/rounds/{round_id}/publish", response_class=HTMLResponse, include_in_schema=False)
    async def publish_page(round_id: str, request: Request) -> Response:
        return await confirm_page(
            request, round_id, "round_publish.html", "Publish the round and tell everyone",
            respond_days=registry_of(request).settings.response_days,
        )

    @app.post("/manage/rounds/{round_id}/publish", response_class=HTMLResponse, include_in_schema=False)
    async def publish(round_id: str, request: Request) -> Response:
        registry = registry_of(request)

        async def act(uow):
            await handlers.publish_round(uow, round_id, registry.publishing, registry.today(), auth.actor(request))

        return await round_action(request, round_id, act, "The round is published. Everyone will be told in the way they asked for.")

    async def pair_choice(form) -> tuple[str, str]:
        return str(form.get("lived_experience_id") or ""), str(form.get("professional_id") or "")

    @app.post("/manage/rounds/{round_id}/lock", response_class=HTMLResponse, include_in_schema=False)
    async def lock(round_id: str, request: Request) -> Response:
        return await choose_pair(round_id, request, "lock_pair", "This pair will be kept when the round is solved again.")

    @app.post("/manage/rounds/{round_id}/forbid", response_class=HTMLResponse, include_in_schema=False)
    async def forbid(round_id: str, request: Request) -> Response:
        return await choose_pair(round_id, request, "forbid_pair", "These two will not be paired when the round is solved again.")

    async def choose_pair(round_id: str, request: Request, name: str, success: str) -> Response:
        await need(request, "manager")
        form = await request.form()
        lived, professional = await pair_choice(form)
        handler = getattr(handlers, name)

        async def act(uow):
            from services.registry.domain.commands import PairChoice

            await handler(uow, round_id, PairChoice(lived_experience_id=lived, professional_id=professional))

        return await round_action(request, round_id, act, success + " Choose 'Solve again' when you are ready.")

    @app.post("/manage/rounds/{round_id}/resolve", response_class=HTMLResponse, include_in_schema=False)
    async def resolve(round_id: str, request: Request) -> Response:
        async def act(uow):
            await handlers.resolve_round(uow, round_id)

        return await round_action(request, round_id, act, "The round has been sent to the matcher again")

    @app.post("/manage/rounds/{round_id}/pair-again", response_class=HTMLResponse, include_in_schema=False)
    async def pair_again(round_id: str, request: Request) -> Response:
        registry = registry_of(request)

        async def act(uow):
            return (await handlers.pair_again(uow, round_id, registry.today())).id

        return await round_action(
            request, round_id, act,
            "The people whose partner said no are being paired again. Pairs nobody said no to are kept.",
        )

    @app.get("/manage/rounds/{round_id}/cancel", response_class=HTMLResponse, include_in_schema=False)
    async def cancel_page(round_id: str, request: Request) -> Response:
        return await confirm_page(request, round_id, "round_cancel.html", "Cancel this round?")

    @app.post("/manage/rounds/{round_id}/cancel", response_class=HTMLResponse, include_in_schema=False)
    async def cancel(round_id: str, request: Request) -> Response:
        was_published = []

        async def act(uow):
            was_published.append((await handlers.get_round(uow, round_id)).status == "published")
            await handlers.cancel_round(uow, round_id)

        return await round_action(request, round_id, act, lambda: (
            "The round is cancelled. Everyone in it will be told that it will not go ahead."
            if any(was_published) else "The round is cancelled. Nobody has been told anything."
        ))

    @app.get("/manage/rounds/{round_id}/close", response_class=HTMLResponse, include_in_schema=False)
    async def close_page(round_id: str, request: Request) -> Response:
        return await confirm_page(request, round_id, "round_close.html", "Close this round?")

    @app.post("/manage/rounds/{round_id}/close", response_class=HTMLResponse, include_in_schema=False)
    async def close(round_id: str, request: Request) -> Response:
        async def act(uow):
            await handlers.close_round(uow, round_id, f"{request.state.manager.name} ({request.state.manager.email})")

        return await round_action(request, round_id, act, "The round is closed. People can no longer answer from the links in their message.")

