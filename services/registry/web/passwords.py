"""Passwords and the one lockout every way of signing in shares: five wrong passwords lock the
account, and twenty from one client address lock that address, for 15 minutes. Passwords are
checked with Argon2 off the event loop, two at a time at most. Also the first admin, from settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import secrets
import threading
import time
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update

from services.common.store import utc_now
from services.registry.adapters.orm import ApiTokenRow, ManagerRow
from services.registry.web.roles import (
    LOCK_MINUTES,
    MAX_FAILED_PER_ADDRESS,
    MAX_FAILED_SIGN_INS,
    MIN_PASSWORD_LENGTH,
    TOKEN_PREFIX,
    Manager,
    SignInProblem,
    digest_of,
    manager_from,
    normalise_email,
)

_hasher = PasswordHasher()


# A hash to check against when the email is unknown, so both cases take the same time: made at the
# first such sign-in rather than at every start (argon2 is slow on purpose).
_dummy_hash: str | None = None


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


def _check_unknown(password: str) -> None:
    global _dummy_hash
    with _hashing:
        if _dummy_hash is None:  # the first time: making the hash is one argon2 run, as long as checking one
            _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
        else:
            with contextlib.suppress(VerificationError, InvalidHashError):
                _hasher.verify(_dummy_hash, password)


async def verify_unknown(password: str) -> None:
    """The work of checking a password, for an email nobody has (the answer is always no): one argon2
    run, as for someone known, two at a time with the others."""
    await asyncio.to_thread(_check_unknown, password)


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


# ---- the first admin, from settings ----


async def ensure_first_admin(registry) -> None:
    """Create the admin named by REGISTRY_ADMIN_EMAIL / REGISTRY_ADMIN_PASSWORD, once per process.

    When the password in settings is changed, the settings win: that person is an active admin
    again, with that password and no second factor (they set one up again), so whoever runs the
    service can always get back in. While the setting stays the same, the person's own changes
    (a new password, being deactivated) stand across restarts.
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
                    password_hash = hash_password(password)
                    uow.session.add(
                        ManagerRow(
                            email=normalise_email(email),
                            name=getattr(settings, "admin_name", "Programme admin"),
                            role="admin",
                            password_hash=password_hash,
                            settings_password_hash=password_hash,
                            active=True,
                            failed_sign_ins=0,
                        )
                    )
                elif not (row.settings_password_hash and _verify_now(row.settings_password_hash, password)):
                    if not _verify_now(row.password_hash, password):
                        row.password_hash = hash_password(password)
                        row.sealed_second_factor, row.second_factor_step = None, None
                    row.settings_password_hash = row.password_hash
                    row.role, row.active, row.failed_sign_ins, row.locked_until = "admin", True, 0, None
                if token := getattr(settings, "admin_api_token", None):
                    await _settings_token(uow, normalise_email(email), token.get_secret_value())
                await uow.commit()
        state["done"] = True


SETTINGS_TOKEN = "The first admin's token, from REGISTRY_ADMIN_API_TOKEN"


async def _settings_token(uow, email: str, token: str) -> None:
    """The first admin's API token from the settings (`make run` makes one, so its own commands need no
    password): kept as a digest like any other. A token set before and since changed stops working;
    one an admin revoked stays revoked."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise RuntimeError(
            f"REGISTRY_ADMIN_API_TOKEN: must start with {TOKEN_PREFIX}: "
            f"use {TOKEN_PREFIX} followed by what `pairing new-key` prints"
        )
    digest = digest_of(token)
    await uow.session.execute(
        update(ApiTokenRow)
        .where(ApiTokenRow.name == SETTINGS_TOKEN, ApiTokenRow.digest != digest, ApiTokenRow.revoked_at.is_(None))
        .values(revoked_at=utc_now())
    )
    if await uow.session.scalar(select(ApiTokenRow.id).where(ApiTokenRow.digest == digest)) is None:
        uow.session.add(ApiTokenRow(name=SETTINGS_TOKEN, digest=digest, role="admin", created_by=email, created_at=utc_now()))


# ---- checking a password ----


LOCKED = (
    f"Your email address or password is not right, or there have been {MAX_FAILED_SIGN_INS} wrong "
    f"passwords in a row: wait {LOCK_MINUTES} minutes and try again"
)


def is_locked(row: ManagerRow) -> bool:
    locked_until = row.locked_until
    if locked_until is not None and locked_until.tzinfo is None:  # SQLite forgets the time zone
        locked_until = locked_until.replace(tzinfo=dt.UTC)
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
            await verify_unknown(password)
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
        manager = manager_from(row)
        await uow.commit()
    return manager
