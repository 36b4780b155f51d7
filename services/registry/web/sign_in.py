"""Signing in (password, then the second factor when needed) and signing out."""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from services.registry.web import auth, forms
from services.registry.web.deps import FormExpired, need_form, registry_of, signed_in
from services.registry.web.pages import (
    is_https,
    page,
    safe_next,
    see_other,
    session_cookie,
)

router = APIRouter()


@router.get("/", include_in_schema=False)
async def home(request: Request) -> Response:
    return see_other("/manage" if await signed_in(request) else "/sign-in")


@router.get("/sign-in", response_class=HTMLResponse, include_in_schema=False)
async def sign_in_page(request: Request, next: str | None = None) -> Response:
    if await signed_in(request):
        return see_other(safe_next(next))
    return await sign_in_form(request, next, {}, "")


async def sign_in_form(
    request: Request, next_path: str | None, errors: dict[str, str], email: str, status_code: int = 200
) -> Response:
    token = secrets.token_urlsafe(32)
    registry = registry_of(request)
    await auth.ensure_first_admin(registry)
    nobody = await auth.count_managers(registry) == 0
    response = page(
        request,
        "sign_in.html",
        {
            "nobody_can_sign_in": nobody,
            "title": "Sign in",
            "next": safe_next(next_path),
            "errors": forms.ordered(errors, {"email": 0, "password": 1}),
            "error_for": errors,
            "email": email,
            "sign_in_token": token,
            "idle_minutes": int(auth.idle_limit(registry).total_seconds() // 60),
        },
        status_code=status_code,
    )
    response.set_cookie(auth.SIGN_IN_COOKIE, token, httponly=True, samesite="strict", path="/sign-in", secure=is_https(request))
    return response


@router.post("/sign-in", response_class=HTMLResponse, include_in_schema=False)
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


@router.post("/sign-out", include_in_schema=False)
async def sign_out(request: Request) -> Response:
    await need_form(request, "viewer")
    await auth.end_session(registry_of(request), request.cookies.get(auth.SESSION_COOKIE))
    response = see_other("/sign-in?signed_out=1")
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response
