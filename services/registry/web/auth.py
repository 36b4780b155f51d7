"""Who may do what: managers sign in with an email address and a password.

Three roles, each able to do everything the one before it can:

- viewer: sees leaders (without access or communication needs, contact details
  or anything else that is special-category data), rounds and the queue;
- manager: also adds, imports and edits leaders, sees their full record (each
  read is written to the audit log), launches, reviews, approves and publishes rounds;
- admin: also adds other people who sign in.

Browsers sign in with a form and keep a session cookie (a random token; the
database keeps only its SHA-256 digest). Programs calling the JSON API send the
same email address and password with HTTP Basic authentication.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import HTTPException, Request
from sqlalchemy import delete, func, select

from services.common.store import utc_now
from services.registry.adapters.orm import ManagerRow, ManagerSessionRow

ROLES = ("viewer", "manager", "admin")
ROLE_WORDS = {
    "viewer": "Viewer: can see leaders, rounds and the queue, but not access needs or contact details",
    "manager": "Manager: can also add and change leaders, and launch, approve and publish rounds",
    "admin": "Admin: can also add people who sign in",
}
SESSION_COOKIE = "pairing_session"
SIGN_IN_COOKIE = "pairing_sign_in"
SESSION_HOURS = 8
MAX_FAILED_SIGN_INS = 5
LOCK_MINUTES = 15
MIN_PASSWORD_LENGTH = 12

_hasher = PasswordHasher()
# A hash to verify against when the email is unknown, so both cases take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class SignInProblem(Exception):
    """Why signing in failed, in words that do not say whether the email address exists."""


@dataclass(frozen=True)
class Manager:
    id: int
    email: str
    name: str
    role: str
    csrf_token: str = ""

    def may(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    @property
    def sees_special_category(self) -> bool:
        return self.may("manager")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Password must be {MIN_PASSWORD_LENGTH} characters or more"
    if len(password) > 200:
        return "Password must be 200 characters or fewer"
    return None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _manager(row: ManagerRow, csrf: str = "") -> Manager:
    return Manager(id=row.id, email=row.email, name=row.name, role=row.role, csrf_token=csrf)


def normalise_email(email: str) -> str:
    return email.strip().lower()


# ---- the first admin, from settings ----


async def ensure_first_admin(registry) -> None:
    """Create the admin named by REGISTRY_ADMIN_EMAIL / REGISTRY_ADMIN_PASSWORD, once per process.

    If that person already exists and the password in settings no longer matches,
    the settings win: whoever runs the service can always get back in.
    """
    state = registry.__dict__.setdefault("_web_admin_state", {"done": False, "lock": asyncio.Lock()})
    if state["done"]:
        return
    async with state["lock"]:
        if state["done"]:
            return
        settings = registry.settings
        email = getattr(settings, "admin_email", None)
        secret = getattr(settings, "admin_password", None)
        if email and secret is not None:
            password = secret.get_secret_value()
            if problem := password_problem(password):
                raise RuntimeError(f"REGISTRY_ADMIN_PASSWORD: {problem}")
            async with registry.store.unit_of_work() as uow:
                row = await uow.session.scalar(select(ManagerRow).where(ManagerRow.email == normalise_email(email)))
                if row is None:
                    uow.session.add(
                        ManagerRow(
                            email=normalise_email(email),
                            name=getattr(settings, "admin_name", "Programme admin"),
                            role="admin",
                            password_hash=hash_password(password),
                            active=True,
                            failed_sign_ins=0,
                        )
                    )
                else:
                    try:
                        _hasher.verify(row.password_hash, password)
                    except (VerificationError, InvalidHashError):
                        row.password_hash = hash_password(password)
                    row.role, row.active, row.failed_sign_ins, row.locked_until = "admin", True, 0, None
                await uow.commit()
        state["done"] = True


# ---- checking a password ----


async def check_password(registry, email: str, password: str) -> Manager:
    """The manager with this email and password, or SignInProblem. Five wrong passwords lock the account for 15 minutes."""
    await ensure_first_admin(registry)
    wrong = SignInProblem("Your email address or password is not right")
    async with registry.store.unit_of_work() as uow:
        row = await uow.session.scalar(select(ManagerRow).where(ManagerRow.email == normalise_email(email)))
        if row is None or not row.active:
            try:
                _hasher.verify(_DUMMY_HASH, password)
            except VerificationError:
                pass
            raise wrong
        now = utc_now()
        locked_until = row.locked_until
        if locked_until is not None and locked_until.tzinfo is None:  # SQLite forgets the time zone
            locked_until = locked_until.replace(tzinfo=dt.timezone.utc)
        if locked_until is not None and locked_until > now:
            raise SignInProblem(
                f"Your email address or password is not right, or there have been {MAX_FAILED_SIGN_INS} wrong "
                f"passwords in a row: wait {LOCK_MINUTES} minutes and try again"
            )
        try:
            _hasher.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            row.failed_sign_ins = (row.failed_sign_ins or 0) + 1
            if row.failed_sign_ins >= MAX_FAILED_SIGN_INS:
                row.locked_until = now + dt.timedelta(minutes=LOCK_MINUTES)
                row.failed_sign_ins = 0
            await uow.commit()
            raise wrong from None
        if _hasher.check_needs_rehash(row.password_hash):
            row.password_hash = hash_password(password)
        row.failed_sign_ins, row.locked_until = 0, None
        manager = _manager(row)
        await uow.commit()
    return manager


# ---- browser sessions ----


async def start_session(registry, manager: Manager) -> tuple[str, Manager]:
    """A new session for a signed-in manager: the cookie token, and the manager with their form token."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = utc_now()
    async with registry.store.unit_of_work() as uow:
        # Tidy away expired sessions while we are here.
        await uow.session.execute(delete(ManagerSessionRow).where(ManagerSessionRow.expires_at < now))
        uow.session.add(
            ManagerSessionRow(
                id=_digest(token),
                manager_id=manager.id,
                csrf_token=csrf,
                created_at=now,
                expires_at=now + dt.timedelta(hours=SESSION_HOURS),
            )
        )
        await uow.commit()
    return token, Manager(manager.id, manager.email, manager.name, manager.role, csrf)


async def end_session(registry, token: str | None) -> None:
    if not token:
        return
    async with registry.store.unit_of_work() as uow:
        await uow.session.execute(delete(ManagerSessionRow).where(ManagerSessionRow.id == _digest(token)))
        await uow.commit()


async def session_manager(registry, token: str | None) -> Manager | None:
    if not token or len(token) > 200:
        return None
    async with registry.store.unit_of_work() as uow:
        found = (
            await uow.session.execute(
                select(ManagerRow, ManagerSessionRow)
                .join(ManagerSessionRow, ManagerSessionRow.manager_id == ManagerRow.id)
                .where(ManagerSessionRow.id == _digest(token))
            )
        ).first()
    if found is None:
        return None
    row, session = found
    expires = session.expires_at if session.expires_at.tzinfo else session.expires_at.replace(tzinfo=dt.timezone.utc)
    if not row.active or expires < utc_now():
        return None
    return _manager(row, session.csrf_token)


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(expected) and given is not None and hmac.compare_digest(expected.encode(), given.encode())


# ---- HTTP Basic authentication for the JSON API ----

_basic_cache: dict[str, tuple[float, Manager]] = {}
_BASIC_CACHE_SECONDS = 300


async def basic_manager(registry, header: str) -> Manager | None:
    """The manager named by an `Authorization: Basic ...` header; None if the header is not Basic."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        email, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise SignInProblem("The Authorization header is not valid Basic authentication") from None
    # Checking a password takes tens of milliseconds on purpose; programs that poll are spared it for a few minutes.
    key = hashlib.sha256(f"{normalise_email(email)}\0{password}".encode()).hexdigest()
    cached = _basic_cache.get(key)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    manager = await check_password(registry, email, password)
    if len(_basic_cache) > 1000:
        _basic_cache.clear()
    _basic_cache[key] = (time.monotonic() + _BASIC_CACHE_SECONDS, manager)
    return manager


def forget_cached_passwords() -> None:
    _basic_cache.clear()


# ---- the dependency for the JSON API routes ----


def require_role(role: str):
    """A FastAPI dependency: the caller must be signed in with at least `role`.

    Accepts HTTP Basic authentication (email and password) on every method, and the
    browser's session cookie on GET and HEAD only (so another site cannot make a
    signed-in browser change anything). Sets request.state.manager for the audit.
    Use it as `dependencies=[Depends(require_role("manager"))]` or as a parameter.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")

    async def dependency(request: Request) -> Manager:
        registry = request.app.state.registry
        manager: Manager | None = None
        header = request.headers.get("authorization")
        try:
            if header:
                manager = await basic_manager(registry, header)
            elif request.method in ("GET", "HEAD"):
                manager = await session_manager(registry, request.cookies.get(SESSION_COOKIE))
        except SignInProblem as problem:
            raise HTTPException(401, str(problem), headers={"WWW-Authenticate": 'Basic realm="pairing registry"'}) from None
        if manager is None:
            raise HTTPException(
                401,
                "Sign in first: send your email address and password with HTTP Basic authentication",
                headers={"WWW-Authenticate": 'Basic realm="pairing registry"'},
            )
        if not manager.may(role):
            raise HTTPException(403, f"Your role ({manager.role}) cannot do this; it needs {role} or above")
        request.state.manager = manager
        return manager

    dependency.__name__ = f"require_{role}"
    return dependency


def actor(request: Request, fallback: str = "unnamed caller") -> str:
    """Who is making this request, for the audit log: the signed-in manager's email address."""
    manager = getattr(request.state, "manager", None)
    return manager.email if manager else fallback


async def count_managers(registry) -> int:
    async with registry.store.unit_of_work() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(ManagerRow)) or 0)
