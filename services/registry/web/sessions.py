"""Browser sessions and the second factor. Managers and admins sign in to the pages with a
six-digit code from an authenticator app too (time-based one-time codes, RFC 6238), each code
used once; its secret is kept encrypted with the registry's keys. A session ends after 8 hours,
or after REGISTRY_SESSION_IDLE_MINUTES (30) unused. The cookie is a random token; the database
keeps only its SHA-256 digest.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass

import pyotp
from sqlalchemy import delete, select, update

from services.common.store import utc_now
from services.registry.adapters.orm import ManagerRow, ManagerSessionRow
from services.registry.web.passwords import LOCKED, is_locked, throttle_of
from services.registry.web.roles import (
    HALF_SIGNED_IN_MINUTES,
    ISSUER,
    LOCK_MINUTES,
    MAX_FAILED_SIGN_INS,
    SESSION_HOURS,
    SIGNED_IN,
    Manager,
    SignInProblem,
    aware,
    digest_of,
    manager_from,
)


def idle_limit(registry) -> dt.timedelta:
    return dt.timedelta(minutes=getattr(registry.settings, "session_idle_minutes", 30))


def needs_second_factor(registry, manager: Manager) -> bool:
    """Managers and admins sign in to the pages with a code as well as their password."""
    return manager.may("manager") and getattr(registry.settings, "require_second_factor", True)


async def start_session(registry, manager: Manager, stage: str = SIGNED_IN) -> tuple[str, Manager]:
    """A new session: the cookie token, and the manager with their form token. A session half-way
    through signing in (waiting for the second factor) lasts a few minutes and opens no page but that one."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = utc_now()
    lasts = dt.timedelta(hours=SESSION_HOURS) if stage == SIGNED_IN else dt.timedelta(minutes=HALF_SIGNED_IN_MINUTES)
    async with registry.store.unit_of_work() as uow:
        # Tidy away expired sessions while we are here.
        await uow.session.execute(delete(ManagerSessionRow).where(ManagerSessionRow.expires_at < now))
        uow.session.add(
            ManagerSessionRow(
                id=digest_of(token),
                manager_id=manager.id,
                csrf_token=csrf,
                created_at=now,
                expires_at=now + lasts,
                last_used_at=now,
                stage=stage,
            )
        )
        await uow.commit()
    return token, Manager(manager.id, manager.email, manager.name, manager.role, csrf)


async def end_session(registry, token: str | None) -> None:
    if not token:
        return
    async with registry.store.unit_of_work() as uow:
        await uow.session.execute(delete(ManagerSessionRow).where(ManagerSessionRow.id == digest_of(token)))
        await uow.commit()


def end_all_sessions(uow, manager_id: int, keep_token: str | None = None):
    """Every session of this person (but the one they are using, if kept) ends."""
    query = delete(ManagerSessionRow).where(ManagerSessionRow.manager_id == manager_id)
    if keep_token:
        query = query.where(ManagerSessionRow.id != digest_of(keep_token))
    return uow.session.execute(query)


@dataclass(frozen=True)
class Session:
    manager: Manager | None
    stage: str = ""
    idle: bool = False  # it has just ended because it was not used for too long


async def read_session(registry, token: str | None) -> Session:
    """Who a session cookie belongs to and how far they are through signing in. A session unused for
    longer than the idle limit ends here; use is written down at most every minute."""
    if not token or len(token) > 200:
        return Session(None)
    now = utc_now()
    async with registry.store.unit_of_work() as uow:
        found = (
            await uow.session.execute(
                select(ManagerRow, ManagerSessionRow)
                .join(ManagerSessionRow, ManagerSessionRow.manager_id == ManagerRow.id)
                .where(ManagerSessionRow.id == digest_of(token))
            )
        ).first()
        if found is None:
            return Session(None)
        row, session = found
        if not row.active or aware(session.expires_at) < now:
            return Session(None)
        last_used = aware(session.last_used_at or session.created_at)
        if session.stage == SIGNED_IN and last_used < now - idle_limit(registry):
            await uow.session.delete(session)
            await uow.commit()
            return Session(None, idle=True)
        if last_used < now - min(dt.timedelta(minutes=1), idle_limit(registry) / 10):
            session.last_used_at = now
            await uow.commit()
        return Session(manager_from(row, session.csrf_token), session.stage)


async def session_manager(registry, token: str | None) -> Manager | None:
    """The person a session cookie signs in, once they are all the way signed in."""
    found = await read_session(registry, token)
    return found.manager if found.stage == SIGNED_IN else None


# ---- the second factor: time-based one-time codes ----

WRONG_CODE = "The code is not right, or it has been used already: enter the newest 6-digit code your authenticator app shows"


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to read out and to type."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def code_problem(code: str) -> str | None:
    if not code:
        return "Enter the 6-digit code from your authenticator app"
    if not (len(code) == 6 and all(c in "0123456789" for c in code)):
        return "The code must be 6 digits, like 123456"
    return None


async def second_factor_secret(registry, manager_id: int) -> str:
    """The secret someone is setting up: made (and kept, encrypted) the first time it is asked for, the
    same one after that until they have used it once."""
    async with registry.store.unit_of_work() as uow:
        row = await uow.session.get(ManagerRow, manager_id)
        if row.sealed_second_factor is None:
            row.sealed_second_factor = registry.cipher.seal({"secret": pyotp.random_base32()})
            row.second_factor_step = None
            await uow.commit()
        return registry.cipher.open(row.sealed_second_factor)["secret"]


def set_up_address(secret: str, email: str) -> str:
    """What the QR code holds: the otpauth address authenticator apps read."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


async def check_code(registry, manager_id: int, code: str, address: str | None = None) -> None:
    """Accept a code for now (or 30 seconds either side, for a slow clock), once: a code's time step must be
    later than the last one used. Wrong codes count towards the same lockout as wrong passwords."""
    code = code.replace(" ", "")
    throttle = throttle_of(registry)
    if throttle.blocked(address):
        raise SignInProblem(LOCKED)
    async with registry.store.unit_of_work() as uow:
        row = await uow.session.get(ManagerRow, manager_id)
        if row is None or not row.active or row.sealed_second_factor is None or is_locked(row):
            raise SignInProblem(LOCKED)
        totp = pyotp.TOTP(registry.cipher.open(row.sealed_second_factor)["secret"])
        now_step = totp.timecode(dt.datetime.now(dt.UTC))
        last = row.second_factor_step if row.second_factor_step is not None else -1
        for step in (now_step - 1, now_step, now_step + 1):
            if step > last and hmac.compare_digest(totp.generate_otp(step), code):
                unused = (ManagerRow.second_factor_step.is_(None)) | (ManagerRow.second_factor_step < step)
                claimed = await uow.session.execute(
                    update(ManagerRow)
                    .where(ManagerRow.id == manager_id, unused)
                    .values(second_factor_step=step, failed_sign_ins=0, locked_until=None)
                )
                if claimed.rowcount == 1:
                    await uow.commit()
                    return
        throttle.failed(address)
        row.failed_sign_ins = (row.failed_sign_ins or 0) + 1
        if row.failed_sign_ins >= MAX_FAILED_SIGN_INS:
            row.locked_until, row.failed_sign_ins = utc_now() + dt.timedelta(minutes=LOCK_MINUTES), 0
        await uow.commit()
    raise SignInProblem(WRONG_CODE)


async def has_second_factor(registry, manager_id: int) -> bool:
    async with registry.store.unit_of_work() as uow:
        row = await uow.session.get(ManagerRow, manager_id)
        return row is not None and row.second_factor_step is not None
