"""Who may do what: managers sign in with an email address and a password.

Three roles, each able to do everything the one before it can:

- viewer: sees leaders (without access or communication needs, contact details
  or anything else that is special-category data), rounds and the queue;
- manager: also adds, imports and edits leaders, sees their full record (each
  read is written to the audit log), launches, reviews, approves and publishes rounds;
- admin: also adds other people who sign in.

Browsers sign in with a form and keep a session cookie (a random token; the
database keeps only its SHA-256 digest). Programs calling the JSON API send an
API token (`Authorization: Bearer ...`, made by an admin, scoped to a role, kept
only as its SHA-256 digest) or, for older scripts, the email address and password
with HTTP Basic authentication. The API never answers with a Basic challenge, so a
browser never keeps a Basic login that another site could make it send; a change
that carries the session cookie needs the form token too (the X-CSRF-Token header).

Every way of signing in shares one lockout: five wrong passwords lock the account,
and twenty from one client address lock that address, for 15 minutes. Passwords
are checked off the event loop, two at a time at most.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import HTTPException, Request
from sqlalchemy import delete, func, select

from services.common.store import utc_now
from services.registry.adapters.orm import ApiTokenRow, ManagerRow, ManagerSessionRow

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
MAX_FAILED_PER_ADDRESS = 20
LOCK_MINUTES = 15
CSRF_HEADER = "X-CSRF-Token"
TOKEN_PREFIX = "pairing_"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
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


# Argon2 is slow on purpose: checking runs in worker threads, two at a time, so the event loop keeps answering.
_hashing = threading.BoundedSemaphore(2)


def _verify_now(password_hash: str, password: str) -> bool:
    with _hashing:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


async def verify_password(password_hash: str, password: str) -> bool:
    return await asyncio.to_thread(_verify_now, password_hash, password)


@dataclass
class AddressThrottle:
    """Wrong passwords by client address, known email or not: too many within LOCK_MINUTES and
    that address is refused before any password is checked."""

    limit: int = MAX_FAILED_PER_ADDRESS
    failures: dict[str, list[float]] = field(default_factory=dict)

    def _recent(self, address: str) -> list[float]:
        since = time.monotonic() - LOCK_MINUTES * 60
        recent = [at for at in self.failures.get(address, []) if at > since]
        if recent:
            self.failures[address] = recent
        else:
            self.failures.pop(address, None)
        return recent

    def blocked(self, address: str | None) -> bool:
        return address is not None and len(self._recent(address)) >= self.limit

    def failed(self, address: str | None) -> None:
        if address is None:
            return
        if len(self.failures) > 10000:  # forget the oldest addresses rather than grow without end
            for old in list(self.failures)[:5000]:
                self.failures.pop(old, None)
        self.failures.setdefault(address, []).append(time.monotonic())


def throttle_of(registry) -> AddressThrottle:
    return registry.__dict__.setdefault("_sign_in_throttle", AddressThrottle())


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


LOCKED = (
    f"Your email address or password is not right, or there have been {MAX_FAILED_SIGN_INS} wrong "
    f"passwords in a row: wait {LOCK_MINUTES} minutes and try again"
)


def is_locked(row: ManagerRow) -> bool:
    locked_until = row.locked_until
    if locked_until is not None and locked_until.tzinfo is None:  # SQLite forgets the time zone
        locked_until = locked_until.replace(tzinfo=dt.timezone.utc)
    return locked_until is not None and locked_until > utc_now()


async def check_password(registry, email: str, password: str, address: str | None = None) -> Manager:
    """The manager with this email and password, or SignInProblem. The same check for the pages and for
    HTTP Basic: five wrong passwords lock the account, and twenty from one address lock the address, for 15 minutes."""
    await ensure_first_admin(registry)
    wrong = SignInProblem("Your email address or password is not right")
    throttle = throttle_of(registry)
    if throttle.blocked(address):
        raise SignInProblem(LOCKED)
    async with registry.store.unit_of_work() as uow:
        row = await uow.session.scalar(select(ManagerRow).where(ManagerRow.email == normalise_email(email)))
        if row is None or not row.active:
            await verify_password(_DUMMY_HASH, password)
            throttle.failed(address)
            raise wrong
        now = utc_now()
        if is_locked(row):
            raise SignInProblem(LOCKED)
        if not await verify_password(row.password_hash, password):
            throttle.failed(address)
            row.failed_sign_ins = (row.failed_sign_ins or 0) + 1
            if row.failed_sign_ins >= MAX_FAILED_SIGN_INS:
                row.locked_until = now + dt.timedelta(minutes=LOCK_MINUTES)
                row.failed_sign_ins = 0
            await uow.commit()
            raise wrong
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

_basic_cache: dict[str, tuple[float, Manager, str]] = {}
_BASIC_CACHE_SECONDS = 300


async def basic_manager(registry, header: str, address: str | None = None) -> Manager | None:
    """The manager named by an `Authorization: Basic ...` header; None if the header is not Basic."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        email, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise SignInProblem("The Authorization header is not valid Basic authentication") from None
    # Checking a password takes tens of milliseconds on purpose; programs that poll are spared it for a few
    # minutes, but the account is read every time, so a lock, a new password or a deactivation applies at once.
    key = hashlib.sha256(f"{normalise_email(email)}\0{password}".encode()).hexdigest()
    cached = _basic_cache.get(key)
    if cached and cached[0] > time.monotonic():
        async with registry.store.unit_of_work() as uow:
            row = await uow.session.get(ManagerRow, cached[1].id)
        if row is not None and row.active and not is_locked(row) and row.password_hash == cached[2]:
            return _manager(row)
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
        row = ApiTokenRow(name=name.strip(), digest=_digest(token), role=role, created_by=created_by, created_at=utc_now())
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
    token = token.strip()
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise SignInProblem("This API token is not right: ask an admin for a new one")
    async with registry.store.unit_of_work() as uow:
        row = await uow.session.scalar(select(ApiTokenRow).where(ApiTokenRow.digest == _digest(token)))
        if row is None or row.revoked_at is not None:
            raise SignInProblem("This API token is not right or has been revoked: ask an admin for a new one")
        now = utc_now()
        last = row.last_used_at
        if last is None or (last if last.tzinfo else last.replace(tzinfo=dt.timezone.utc)) < now - dt.timedelta(minutes=1):
            row.last_used_at = now
            await uow.commit()
        return Manager(id=-row.id, email=f"API token {row.id} ({row.name[:60]}) made by {row.created_by}"[:200],
                       name=f"{row.name} (API token)", role=row.role)


# ---- the dependency for the JSON API routes ----

CHALLENGE_FREE = (
    "Sign in first: send an API token (Authorization: Bearer ...), or your email address and password "
    "with HTTP Basic authentication"
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
            if request.method not in SAFE_METHODS and cookie is not None:
                if session is None or not csrf_matches(session.csrf_token, request.headers.get(CSRF_HEADER)):
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


def actor(request: Request, fallback: str = "unnamed caller") -> str:
    """Who is making this request, for the audit log: the signed-in manager's email address."""
    manager = getattr(request.state, "manager", None)
    return manager.email if manager else fallback


async def count_managers(registry) -> int:
    async with registry.store.unit_of_work() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(ManagerRow)) or 0)
