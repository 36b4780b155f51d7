"""Accounts: the people who sign in, and each person's own account.

An admin adds people, changes their role, deactivates and reactivates them, makes a
single-use link for them to choose a new password, and removes a lost second factor.
Everyone changes their own password. Managers and admins finish signing in with a code
from an authenticator app, setting it up the first time. Every change is audited.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

import segno
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from services.registry.adapters.orm import ManagerRow
from services.registry.web import auth, forms
from services.registry.web.deps import FormExpired, need, need_form, registry_of
from services.registry.web.pages import not_found, page, safe_next, see_other, session_cookie, with_message

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def qr_code(address: str) -> str:
    """The set-up address as a QR code, an SVG image in a data address (no script, no other file)."""
    return segno.make(address, error="m").svg_data_uri(scale=5, border=2)


def form_text(form, name: str) -> str:
    return str(form.get(name) or "")


router = APIRouter()


# ---- the second step of signing in ----


async def half_signed_in(request: Request, stage: str) -> auth.Manager | None:
    found = await auth.read_session(registry_of(request), request.cookies.get(auth.SESSION_COOKIE))
    return found.manager if found.stage == stage else None


async def finish_signing_in(request: Request, next_path: str) -> Response:
    registry = registry_of(request)
    found = await auth.read_session(registry, request.cookies.get(auth.SESSION_COOKIE))
    await auth.end_session(registry, request.cookies.get(auth.SESSION_COOKIE))
    if found.manager is None:  # the half-made session ended meanwhile (locked, or timed out)
        return see_other("/sign-in")
    token, _ = await auth.start_session(registry, found.manager)
    return session_cookie(request, see_other(safe_next(next_path)), token)


async def code_page(
    request: Request, manager: auth.Manager, next_path: str, errors: dict[str, str], status_code: int = 200
) -> Response:
    return page(
        request,
        "sign_in_code.html",
        {
            "title": "Enter the code from your authenticator app",
            "next": safe_next(next_path),
            "errors": list(errors.items()),
            "error_for": errors,
            "form_token": manager.csrf_token,
        },
        status_code=status_code,
    )


@router.get("/sign-in/code", response_class=HTMLResponse, include_in_schema=False)
async def ask_for_code(request: Request, next: str | None = None) -> Response:
    if (manager := await half_signed_in(request, auth.NEEDS_CODE)) is None:
        return see_other("/sign-in")
    return await code_page(request, manager, next or "", {})


CodePage = Callable[[Request, auth.Manager, str, dict[str, str], int], Awaitable[Response]]


async def check_posted_code(request: Request, stage: str, page_again: CodePage) -> Response:
    """A code from the authenticator app, to sign in or to finish setting it up: signed in, or
    `page_again` with what is wrong with the code."""
    manager = await half_signed_in(request, stage)
    if manager is None:
        return see_other("/sign-in")
    form = await request.form()
    if not auth.csrf_matches(manager.csrf_token, form.get("csrf_token")):
        raise FormExpired()
    code, next_path = form_text(form, "code").replace(" ", ""), form_text(form, "next")
    if problem := auth.code_problem(code):
        return await page_again(request, manager, next_path, {"code": problem}, 400)
    try:
        await auth.check_code(registry_of(request), manager.id, code, auth.client_address(request))
    except auth.SignInProblem as problem:
        return await page_again(request, manager, next_path, {"code": str(problem)}, 400)
    return await finish_signing_in(request, next_path)


@router.post("/sign-in/code", response_class=HTMLResponse, include_in_schema=False)
async def check_code(request: Request) -> Response:
    return await check_posted_code(request, auth.NEEDS_CODE, code_page)


async def set_up_page(
    request: Request, manager: auth.Manager, next_path: str, errors: dict[str, str], status_code: int = 200
) -> Response:
    secret = await auth.second_factor_secret(registry_of(request), manager.id)
    return page(
        request,
        "sign_in_set_up.html",
        {
            "title": "Set up your second factor",
            "next": safe_next(next_path),
            "form_token": manager.csrf_token,
            "secret": auth.grouped(secret),
            "qr_code": qr_code(auth.set_up_address(secret, manager.email)),
            "errors": list(errors.items()),
            "error_for": errors,
        },
        status_code=status_code,
    )


@router.get("/sign-in/set-up", response_class=HTMLResponse, include_in_schema=False)
async def set_up(request: Request, next: str | None = None) -> Response:
    if (manager := await half_signed_in(request, auth.NEEDS_SET_UP)) is None:
        return see_other("/sign-in")
    return await set_up_page(request, manager, next or "", {})


@router.post("/sign-in/set-up", response_class=HTMLResponse, include_in_schema=False)
async def confirm_set_up(request: Request) -> Response:
    return await check_posted_code(request, auth.NEEDS_SET_UP, set_up_page)


# ---- your own account ----


async def account_page(request: Request, errors: dict[str, str], status_code: int = 200) -> Response:
    manager = await need(request)
    return page(
        request,
        "account.html",
        {
            "title": "Your account",
            "section": "account",
            "errors": list(errors.items()),
            "error_for": errors,
            "has_second_factor": await auth.has_second_factor(registry_of(request), manager.id),
            "done": request.query_params.get("done"),
        },
        status_code=status_code,
    )


@router.get("/manage/account", response_class=HTMLResponse, include_in_schema=False)
async def account(request: Request) -> Response:
    return await account_page(request, {})


@router.post("/manage/account/password", response_class=HTMLResponse, include_in_schema=False)
async def change_password(request: Request) -> Response:
    manager, form = await need_form(request, "viewer")
    errors = await auth.change_own_password(
        registry_of(request),
        manager,
        form_text(form, "current_password"),
        form_text(form, "new_password"),
        form_text(form, "new_password_again"),
        request.cookies.get(auth.SESSION_COOKIE),
        auth.client_address(request),
    )
    if errors:
        return await account_page(request, errors, 400)
    return with_message("/manage/account", "Your password has been changed. You have been signed out everywhere else")


# ---- choosing a new password from a link an admin made ----


async def reset_page(request: Request, code: str, errors: dict[str, str], status_code: int = 200) -> Response:
    person = await auth.reset_link_person(registry_of(request), code)
    if person is None:
        return page(
            request,
            "problem.html",
            {
                "title": "This link no longer works",
                "message": (
                    "Links to choose a new password work once, for 24 hours. Ask an admin of your programme for a new link."
                ),
                "back": "/sign-in",
                "back_text": "Go to the sign-in page",
            },
            status_code=404,
        )
    return page(
        request,
        "reset_password.html",
        {
            "title": "Choose a new password",
            "person": person,
            "code": code,
            "errors": list(errors.items()),
            "error_for": errors,
        },
        status_code=status_code,
    )


@router.get("/reset-password/{code}", response_class=HTMLResponse, include_in_schema=False)
async def reset_password_page(code: str, request: Request) -> Response:
    return await reset_page(request, code, {})


@router.post("/reset-password/{code}", response_class=HTMLResponse, include_in_schema=False)
async def reset_password(code: str, request: Request) -> Response:
    registry = registry_of(request)
    person = await auth.reset_link_person(registry, code)
    if person is None:
        return await reset_page(request, code, {})
    form = await request.form()
    new = form_text(form, "new_password")
    if errors := auth.new_password_problems(person.email, new, form_text(form, "new_password_again")):
        return await reset_page(request, code, errors, 400)
    if not await auth.use_reset_link(registry, code, new):
        return await reset_page(request, code, {})
    return see_other(f"/sign-in?{urlencode({'password_chosen': 1})}")


# ---- the people who sign in (admins only) ----


async def users_form(request: Request, values: dict, errors: dict[str, str], status_code: int = 200) -> Response:
    return page(
        request,
        "users.html",
        {
            "title": "People who can sign in",
            "section": "users",
            "people": await auth.people(registry_of(request)),
            "values": values,
            "errors": forms.ordered(errors, {"name": 0, "email": 1, "role": 2, "password": 3}),
            "error_for": errors,
            "roles": auth.ROLES,
            "done": request.query_params.get("done"),
        },
        status_code=status_code,
    )


@router.get("/manage/users", response_class=HTMLResponse, include_in_schema=False)
async def users_page(request: Request) -> Response:
    await need(request, "admin")
    return await users_form(request, {"name": "", "email": "", "role": "viewer"}, {})


@router.post("/manage/users", response_class=HTMLResponse, include_in_schema=False)
async def add_user(request: Request) -> Response:
    manager, form = await need_form(request, "admin")
    values = {
        "name": form_text(form, "name").strip(),
        "email": auth.normalise_email(form_text(form, "email")),
        "role": form_text(form, "role"),
    }
    password = form_text(form, "password")
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = "Enter their full name"
    elif len(values["name"]) > 200:
        errors["name"] = "The name must be 200 characters or fewer"
    if not EMAIL.match(values["email"]) or len(values["email"]) > 320:
        errors["email"] = "Enter an email address in the right format, like name@example.org"
    if values["role"] not in auth.ROLES:
        errors["role"] = "Select a role"
    if problem := auth.password_problem(password):
        errors["password"] = problem
    registry = registry_of(request)
    async with registry.store.unit_of_work() as uow:
        if not errors and await uow.session.scalar(select(ManagerRow).where(ManagerRow.email == values["email"])):
            errors["email"] = "Someone with this email address can already sign in"
        if errors:
            return await users_form(request, values, errors, 400)
        uow.session.add(
            ManagerRow(
                email=values["email"],
                name=values["name"],
                role=values["role"],
                password_hash=auth.hash_password(password),
                active=True,
                failed_sign_ins=0,
            )
        )
        auth.audit_account(uow, manager.email, "added a person who signs in", f"{values['email']} as {values['role']}")
        await uow.commit()
    return with_message("/manage/users", f"{values['name']} can now sign in as a {values['role']}")


async def person_page(
    request: Request, person_id: int, errors: dict[str, str], link: str = "", status_code: int = 200
) -> Response:
    row = await auth.person(registry_of(request), person_id)
    if row is None:
        return not_found(request, "There is no such person. They may have been added in another window: go back to the list.")
    return page(
        request,
        "person.html",
        {
            "title": row.name,
            "section": "users",
            "person": row,
            "roles": auth.ROLES,
            "link": link,
            "errors": list(errors.items()),
            "error_for": errors,
            "done": request.query_params.get("done"),
            "locked": auth.is_locked(row),
            "reset_hours": auth.RESET_HOURS,
        },
        status_code=status_code,
    )


@router.get("/manage/users/{person_id}", response_class=HTMLResponse, include_in_schema=False)
async def person(person_id: int, request: Request) -> Response:
    await need(request, "admin")
    return await person_page(request, person_id, {})


async def change(request: Request, person_id: int, field: str, **what) -> Response:
    manager, _ = await need_form(request, "admin")
    try:
        done = await auth.change_person(registry_of(request), manager.email, person_id, **what)
    except auth.AccountProblem as problem:
        return await person_page(request, person_id, {field: str(problem)}, status_code=400)
    if manager.id == person_id:  # your own sessions ended with the change
        return see_other("/sign-in")
    return with_message(f"/manage/users/{person_id}", done)


@router.post("/manage/users/{person_id}/role", response_class=HTMLResponse, include_in_schema=False)
async def change_role(person_id: int, request: Request) -> Response:
    _, form = await need_form(request, "admin")
    role = form_text(form, "role")
    if role not in auth.ROLES:
        return await person_page(request, person_id, {"role": "Select a role"}, status_code=400)
    return await change(request, person_id, "role", role=role)


@router.post("/manage/users/{person_id}/deactivate", response_class=HTMLResponse, include_in_schema=False)
async def deactivate(person_id: int, request: Request) -> Response:
    return await change(request, person_id, "deactivate", active=False)


@router.post("/manage/users/{person_id}/reactivate", response_class=HTMLResponse, include_in_schema=False)
async def reactivate(person_id: int, request: Request) -> Response:
    return await change(request, person_id, "reactivate", active=True)


@router.post("/manage/users/{person_id}/reset-link", response_class=HTMLResponse, include_in_schema=False)
async def reset_link(person_id: int, request: Request) -> Response:
    manager, _ = await need_form(request, "admin")
    registry = registry_of(request)
    try:
        code, _ = await auth.make_reset_link(registry, manager.email, person_id)
    except auth.AccountProblem as problem:
        return await person_page(request, person_id, {"reset": str(problem)}, status_code=400)
    link = f"{registry.settings.public_url.rstrip('/')}/reset-password/{code}"
    return await person_page(request, person_id, {}, link=link)


@router.post("/manage/users/{person_id}/remove-second-factor", response_class=HTMLResponse, include_in_schema=False)
async def remove_second_factor(person_id: int, request: Request) -> Response:
    manager, _ = await need_form(request, "admin")
    try:
        done = await auth.remove_second_factor(registry_of(request), manager.email, person_id)
    except auth.AccountProblem as problem:
        return await person_page(request, person_id, {"second_factor": str(problem)}, status_code=400)
    if manager.id == person_id:
        return see_other("/sign-in")
    return with_message(f"/manage/users/{person_id}", done)
