"""How programs and the JSON API sign in. Programs send an API token (`Authorization: Bearer ...`,
made by an admin, scoped to a role, kept only as its SHA-256 digest) or, for older scripts and a
viewer's account only, the email address and password with HTTP Basic authentication: a manager's
or admin's password alone would skip their second factor, so Basic refuses them and says to ask for
a token. The API never answers with a Basic challenge, so a browser never keeps a Basic login that
another site could make it send; a change that carries the session cookie needs the form token too
(the X-CSRF-Token header).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import secrets
import time
from dataclasses import dataclass

from fastapi import HTTPException, Request
from sqlalchemy import select

from services.common.store import utc_now
from services.registry.adapters.orm import ApiTokenRow, ManagerRow
from services.registry.web.passwords import check_password, ensure_first_admin, is_locked
from services.registry.web.roles import (
    CSRF_HEADER,
    ROLES,
    SAFE_METHODS,
    SESSION_COOKIE,
    TOKEN_PREFIX,
    Manager,
    SignInProblem,
    csrf_matches,
    digest_of,
    manager_from,
    normalise_email,
)
from services.registry.web.sessions import needs_second_factor, session_manager

# ---- HTTP Basic authentication for the JSON API ----

_basic_cache: dict[str, tuple[float, Manager, str]] = {}
_BASIC_CACHE_SECONDS = 300


BASIC_NEEDS_TOKEN = (
    "Managers and admins cannot use the API with a password alone (HTTP Basic authentication), because they "
    "sign in with a second factor too. Ask an admin for an API token on the API tokens page (/manage/tokens) "
    "and send it as Authorization: Bearer followed by the token"
)


async def basic_manager(registry, header: str, address: str | None = None) -> Manager | None:
    """The manager named by an `Authorization: Basic ...` header; None if the header is not Basic. The password
    is checked (and counts towards the lockout) first; then a role that needs a second factor is refused."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        email, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise SignInProblem("The Authorization header is not valid Basic authentication") from None
    manager = await _password_manager(registry, email, password, address)
    if needs_second_factor(registry, manager):
        raise SignInProblem(BASIC_NEEDS_TOKEN)
    return manager


async def _password_manager(registry, email: str, password: str, address: str | None) -> Manager:
    # Checking a password takes tens of milliseconds on purpose; programs that poll are spared it for a few
    # minutes, but the account is read every time, so a lock, a new password or a deactivation applies at once.
    key = hashlib.sha256(f"{normalise_email(email)}\0{password}".encode()).hexdigest()
    cached = _basic_cache.get(key)
    if cached and cached[0] > time.monotonic():
        async with registry.store.unit_of_work() as uow:
            row = await uow.session.get(ManagerRow, cached[1].id)
        if row is not None and row.active and not is_locked(row) and row.password_hash == cached[2]:
            return manager_from(row)
        _basic_cache.pop(key, None)
    manager = await check_password(registry, email, password, address)
    async with registry.store.unit_of_work() as uow:
        password_hash = (await uow.session.get(ManagerRow, manager.id)).password_hash
    if len(_basic_cache) > 1000:
        _basic_cache.clear()
    _basic_cache[key] = (time.monotonic() + _BASIC_CACHE_SECONDS, manager, password_hash)
    return manager


def forget_cached_passwords() -> None:
    _basic_cache.clear()


# ---- API tokens for programs ----


@dataclass(frozen=True)
class NewToken:
    id: int
    name: str
    role: str
    token: str  # shown once, never stored


def token_problem(name: str, role: str) -> dict[str, str]:
    problems = {}
    if not name.strip():
        problems["name"] = "Enter a name for the token, such as the program that will use it"
    elif len(name) > 100:
        problems["name"] = "The name must be 100 characters or fewer"
    if role not in ROLES:
        problems["role"] = f"Choose a role: {', '.join(ROLES)}"
    return problems


async def create_token(registry, name: str, role: str, created_by: str) -> NewToken:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with registry.store.unit_of_work() as uow:
        row = ApiTokenRow(name=name.strip(), digest=digest_of(token), role=role, created_by=created_by, created_at=utc_now())
        uow.session.add(row)
        await uow.session.flush()
        made = NewToken(row.id, row.name, row.role, token)
        await uow.commit()
    return made


async def list_tokens(registry) -> list[ApiTokenRow]:
    async with registry.store.unit_of_work() as uow:
        return list((await uow.session.scalars(select(ApiTokenRow).order_by(ApiTokenRow.id))).all())


async def revoke_token(registry, token_id: int) -> bool:
    """Revoke a token; False if there is no such token or it was already revoked."""
    async with registry.store.unit_of_work() as uow:
        row = await uow.session.get(ApiTokenRow, token_id)
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = utc_now()
        await uow.commit()
    return True


async def bearer_manager(registry, header: str) -> Manager | None:
    """Who an `Authorization: Bearer ...` header signs in as; None if the header is not Bearer."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    await ensure_first_admin(registry)  # the first admin's token may come from the settings
    token = token.strip()
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise SignInProblem("This API token is not right: ask an admin for a new one")
    async with registry.store.unit_of_work() as uow:
        row = await uow.session.scalar(select(ApiTokenRow).where(ApiTokenRow.digest == digest_of(token)))
        if row is None or row.revoked_at is not None:
            raise SignInProblem("This API token is not right or has been revoked: ask an admin for a new one")
        maker = await uow.session.scalar(select(ManagerRow).where(ManagerRow.email == row.created_by))
        if maker is None or not maker.active:
            raise SignInProblem(
                "The person who made this API token can no longer sign in, so it no longer works: ask an admin for a new one"
            )
        now = utc_now()
        last = row.last_used_at
        if last is None or (last if last.tzinfo else last.replace(tzinfo=dt.UTC)) < now - dt.timedelta(minutes=1):
            row.last_used_at = now
            await uow.commit()
        # A token never does more than the person who made it may do now.
        role = min(row.role, maker.role, key=ROLES.index)
        return Manager(
            id=-row.id,
            email=f"API token {row.id} ({row.name[:60]}) made by {row.created_by}"[:200],
            name=f"{row.name} (API token)",
            role=role,
            made_by=row.created_by,
        )


# ---- the dependency for the JSON API routes ----

CHALLENGE_FREE = (
    "Sign in first: send an API token (Authorization: Bearer ...), which an admin makes on the API tokens page (/manage/tokens)"
)
COOKIE_WITHOUT_TOKEN = (
    f"This change came with the web pages' sign-in cookie but without their form token (the {CSRF_HEADER} "
    "header), so it was refused: another website may have sent it. Programs should not send the cookie"
)


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def require_role(role: str):
    """A FastAPI dependency: the caller must be signed in with at least `role`.

    Accepts an API token (Bearer) or HTTP Basic authentication on every method, and the
    browser's session cookie on every method too, but a change (anything but GET and HEAD)
    that carries the cookie needs the session's form token in the X-CSRF-Token header,
    whatever else it carries. Sets request.state.manager for the audit.
    Use it as `dependencies=[Depends(require_role("manager"))]` or as a parameter.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")

    async def dependency(request: Request) -> Manager:
        registry = request.app.state.registry
        header = request.headers.get("authorization")
        cookie = request.cookies.get(SESSION_COOKIE)
        try:
            session = await session_manager(registry, cookie) if cookie else None
            unsafe_with_cookie = request.method not in SAFE_METHODS and cookie is not None
            if unsafe_with_cookie and (session is None or not csrf_matches(session.csrf_token, request.headers.get(CSRF_HEADER))):
                raise HTTPException(403, COOKIE_WITHOUT_TOKEN)
            manager = session
            if header:
                manager = await bearer_manager(registry, header) or await basic_manager(registry, header, client_address(request))
                if manager is None:
                    raise SignInProblem("The Authorization header must be Bearer (an API token) or Basic")
        except SignInProblem as problem:
            # Never a WWW-Authenticate challenge: a browser would keep the login and send it for other sites' forms.
            raise HTTPException(401, str(problem)) from None
        if manager is None:
            raise HTTPException(401, CHALLENGE_FREE)
        if not manager.may(role):
            raise HTTPException(403, f"Your role ({manager.role}) cannot do this; it needs {role} or above")
        request.state.manager = manager
        return manager

    dependency.__name__ = f"require_{role}"
    return dependency


def person_of(request: Request) -> str:
    """The email address of the person answerable for this request: for an API token, whoever made it."""
    return request.state.manager.person


def actor(request: Request, fallback: str = "unnamed caller") -> str:
    """Who is making this request, for the audit log: the signed-in manager's email address."""
    manager = getattr(request.state, "manager", None)
    return manager.email if manager else fallback
