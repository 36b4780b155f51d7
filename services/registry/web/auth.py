"""Who may do what: managers sign in with an email address and a password.

Three roles, each able to do everything the one before it can:

- viewer: sees leaders (without access or communication needs, contact details
  or anything else that is special-category data), rounds and the queue;
- manager: also adds, imports and edits leaders, sees their full record (each
  read is written to the audit log), launches, reviews, approves and publishes rounds;
- admin: also adds other people who sign in, changes their role, deactivates them and
  makes a single-use link for them to choose a new password.

Managers and admins sign in to the pages with a second factor too: a six-digit code from
an authenticator app (time-based one-time codes, RFC 6238), each code used once. Its
secret is kept encrypted with the registry's keys. A session ends after 8 hours, or after
REGISTRY_SESSION_IDLE_MINUTES (30) unused.

Browsers sign in with a form and keep a session cookie (a random token; the
database keeps only its SHA-256 digest). Programs calling the JSON API send an
API token (`Authorization: Bearer ...`, made by an admin, scoped to a role, kept
only as its SHA-256 digest) or, for older scripts and a viewer's account only, the
email address and password with HTTP Basic authentication: a manager's or admin's
password alone would skip their second factor, so Basic refuses them and says to ask
for a token. The API never answers with a Basic challenge, so a browser never keeps
a Basic login that another site could make it send; a change that carries the
session cookie needs the form token too (the X-CSRF-Token header).

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
import pyotp
from sqlalchemy import delete, func, select, update

from services.common.store import utc_now
from services.registry.adapters.orm import ApiTokenRow, AuditRow, ManagerRow, ManagerSessionRow, PasswordResetRow

ROLES = ("viewer", "manager", "admin")
ROLE_WORDS = {
    "viewer": "Viewer: can see leaders, rounds and the queue, but not access needs or contact details",
    "manager": "Manager: can also add and change leaders, and launch, approve and publish rounds",
    "admin": "Admin: can also add people who sign in, change their role and stop them signing in",
}
SESSION_COOKIE = "pairing_session"
SIGN_IN_COOKIE = "pairing_sign_in"
SESSION_HOURS = 8
HALF_SIGNED_IN_MINUTES = 10  # time to type the second factor's code after the password
RESET_HOURS = 24
SIGNED_IN, NEEDS_CODE, NEEDS_SET_UP = "signed_in", "needs_code", "needs_set_up"
ISSUER = "Patient leader pairing"
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
    made_by: str = ""  # for an API token: the email address of the person who made it

    @property
    def person(self) -> str:
        """The email address of the person answerable: for an API token, whoever made it."""
        return self.made_by or self.email

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


def aware(moment: dt.datetime | None) -> dt.datetime | None:
    """SQLite forgets the time zone: every time stored is UTC."""
    return moment.replace(tzinfo=dt.timezone.utc) if moment is not None and moment.tzinfo is None else moment


def normalise_email(email: str) -> str:
    return email.strip().lower()


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
        raise RuntimeError(f"REGISTRY_ADMIN_API_TOKEN: must start with {TOKEN_PREFIX}: use {TOKEN_PREFIX} followed by what `pairing new-key` prints")
    digest = _digest(token)
    await uow.session.execute(
        update(ApiTokenRow).where(ApiTokenRow.name == SETTINGS_TOKEN, ApiTokenRow.digest != digest, ApiTokenRow.revoked_at.is_(None))
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
                id=_digest(token),
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
        await uow.session.execute(delete(ManagerSessionRow).where(ManagerSessionRow.id == _digest(token)))
        await uow.commit()


def _end_sessions(uow, manager_id: int, keep_token: str | None = None):
    """Every session of this person (but the one they are using, if kept) ends."""
    query = delete(ManagerSessionRow).where(ManagerSessionRow.manager_id == manager_id)
    if keep_token:
        query = query.where(ManagerSessionRow.id != _digest(keep_token))
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
                .where(ManagerSessionRow.id == _digest(token))
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
        return Session(_manager(row, session.csrf_token), session.stage)


async def session_manager(registry, token: str | None) -> Manager | None:
    """The person a session cookie signs in, once they are all the way signed in."""
    found = await read_session(registry, token)
    return found.manager if found.stage == SIGNED_IN else None


# ---- the second factor: time-based one-time codes ----

WRONG_CODE = "The code is not right, or it has been used already: enter the newest 6-digit code your authenticator app shows"


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to read out and to type."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


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
        now_step = totp.timecode(dt.datetime.now(dt.timezone.utc))
        last = row.second_factor_step if row.second_factor_step is not None else -1
        for step in (now_step - 1, now_step, now_step + 1):
            if step > last and hmac.compare_digest(totp.generate_otp(step), code):
                unused = (ManagerRow.second_factor_step.is_(None)) | (ManagerRow.second_factor_step < step)
                claimed = await uow.session.execute(
                    update(ManagerRow).where(ManagerRow.id == manager_id, unused)
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


# ---- managing people who sign in ----


class AccountProblem(Exception):
    """A change to a person who signs in that cannot be made, in words for the admin."""


def _audit(uow, actor: str, action: str, purpose: str) -> None:
    uow.session.add(AuditRow(actor=actor[:200], action=action[:50], leader_id=None, purpose=purpose[:500]))


async def people(registry) -> list[ManagerRow]:
    async with registry.store.unit_of_work() as uow:
        return list((await uow.session.scalars(select(ManagerRow).order_by(ManagerRow.email))).all())


async def person(registry, person_id: int) -> ManagerRow | None:
    async with registry.store.unit_of_work() as uow:
        return await uow.session.get(ManagerRow, person_id)


async def _other_active_admins(uow, person_id: int) -> int:
    query = select(ManagerRow.id).where(ManagerRow.role == "admin", ManagerRow.active.is_(True), ManagerRow.id != person_id)
    return len((await uow.session.scalars(query.with_for_update())).all())


async def change_person(registry, actor: str, person_id: int, role: str | None = None, active: bool | None = None) -> str:
    """Change someone's role, or deactivate or reactivate them; returns what was done, in words. Their
    sessions end at once either way (their password and API tokens stop working while deactivated).
    The last active admin can be neither demoted nor deactivated."""
    if role is not None and role not in ROLES:
        raise AccountProblem(f"Choose a role: {', '.join(ROLES)}")
    async with registry.store.unit_of_work() as uow:
        row = await uow.session.get(ManagerRow, person_id)
        if row is None:
            raise AccountProblem("There is no such person")
        new_role = role or row.role
        new_active = row.active if active is None else active
        if row.role == "admin" and row.active and (new_role != "admin" or not new_active):
            if await _other_active_admins(uow, row.id) == 0:
                raise AccountProblem(
                    f"{row.name} is the only active admin, so they must stay an active admin: someone must always be able "
                    "to manage who signs in. Make someone else an admin first"
                )
        done = []
        if new_role != row.role:
            _audit(uow, actor, "changed the role of a person who signs in", f"{row.email}: from {row.role} to {new_role}")
            done.append(f"{row.name} is now a{'n' if new_role == 'admin' else ''} {new_role}")
        if new_active != row.active:
            _audit(uow, actor, "reactivated a person who signs in" if new_active else "deactivated a person who signs in", row.email)
            done.append(f"{row.name} can sign in again" if new_active else f"{row.name} can no longer sign in, and their API tokens no longer work")
        if not done:
            return "Nothing changed"
        row.role, row.active = new_role, new_active
        row.failed_sign_ins, row.locked_until = 0, None
        await _end_sessions(uow, row.id)
        await uow.session.execute(delete(PasswordResetRow).where(PasswordResetRow.manager_id == row.id))
        await uow.commit()
    return ". ".join(done)


async def remove_second_factor(registry, actor: str, person_id: int) -> str:
    """For someone who lost their phone: they set up a second factor again when they next sign in."""
    async with registry.store.unit_of_work() as uow:
        row = await uow.session.get(ManagerRow, person_id)
        if row is None:
            raise AccountProblem("There is no such person")
        row.sealed_second_factor, row.second_factor_step = None, None
        await _end_sessions(uow, row.id)
        _audit(uow, actor, "removed the second factor of a person", row.email)
        await uow.commit()
    return f"{row.name} will set up a new second factor when they next sign in"


# ---- passwords: changing your own, and links to choose a new one ----


def new_password_problems(email: str, password: str, again: str, field: str = "new_password") -> dict[str, str]:
    if problem := password_problem(password):
        return {field: problem}
    if normalise_email(password) == normalise_email(email) or normalise_email(email).split("@")[0] == password.lower():
        return {field: "Your password must not be your email address"}
    if password != again:
        return {f"{field}_again": "The two new passwords are not the same: type the same password twice"}
    return {}


async def _set_password(uow, row: ManagerRow, password: str, keep_token: str | None = None) -> None:
    row.password_hash = await asyncio.to_thread(hash_password, password)
    row.failed_sign_ins, row.locked_until = 0, None
    await _end_sessions(uow, row.id, keep_token)
    await uow.session.execute(delete(PasswordResetRow).where(PasswordResetRow.manager_id == row.id))


async def change_own_password(
    registry, manager: Manager, current: str, new: str, again: str, keep_token: str | None, address: str | None = None
) -> dict[str, str]:
    """Problems with the form, or none once the password is changed: every other session of theirs has ended."""
    errors = {} if current else {"current_password": "Enter your current password"}
    errors |= new_password_problems(manager.email, new, again)
    if errors:
        return errors
    try:
        await check_password(registry, manager.email, current, address)
    except SignInProblem as problem:
        return {"current_password": "Your current password is not right" if str(problem) != LOCKED else LOCKED}
    async with registry.store.unit_of_work() as uow:
        row = await uow.session.get(ManagerRow, manager.id)
        await _set_password(uow, row, new, keep_token)
        _audit(uow, manager.email, "changed their own password", manager.email)
        await uow.commit()
    return {}


async def make_reset_link(registry, actor: str, person_id: int) -> tuple[str, ManagerRow]:
    """A single-use code for a link to choose a new password, valid for 24 hours; any earlier one stops working.
    Only its digest is kept: the admin sees the code once."""
    code = secrets.token_urlsafe(32)
    now = utc_now()
    async with registry.store.unit_of_work() as uow:
        row = await uow.session.get(ManagerRow, person_id)
        if row is None or not row.active:
            raise AccountProblem("This person cannot sign in: reactivate them first")
        await uow.session.execute(delete(PasswordResetRow).where(PasswordResetRow.manager_id == row.id))
        uow.session.add(PasswordResetRow(digest=_digest(code), manager_id=row.id, created_by=actor, created_at=now,
                                         expires_at=now + dt.timedelta(hours=RESET_HOURS)))
        _audit(uow, actor, "made a link to choose a new password", f"{row.email}, for {RESET_HOURS} hours")
        await uow.commit()
    return code, row


async def reset_link_person(registry, code: str) -> ManagerRow | None:
    """Whose link this is, while it is unused, unexpired and they can sign in."""
    if not code or len(code) > 100:
        return None
    async with registry.store.unit_of_work() as uow:
        reset = await uow.session.get(PasswordResetRow, _digest(code))
        if reset is None or reset.used_at is not None or aware(reset.expires_at) < utc_now():
            return None
        row = await uow.session.get(ManagerRow, reset.manager_id)
        return row if row is not None and row.active else None


async def use_reset_link(registry, code: str, password: str) -> bool:
    """Set the new password, once: False if the link was used meanwhile or has expired."""
    now = utc_now()
    async with registry.store.unit_of_work() as uow:
        claimed = await uow.session.execute(
            update(PasswordResetRow)
            .where(PasswordResetRow.digest == _digest(code), PasswordResetRow.used_at.is_(None), PasswordResetRow.expires_at > now)
            .values(used_at=now)
        )
        reset = await uow.session.get(PasswordResetRow, _digest(code))
        row = await uow.session.get(ManagerRow, reset.manager_id) if reset else None
        if claimed.rowcount != 1 or row is None or not row.active:
            return False
        made_by = reset.created_by
        await _set_password(uow, row, password)
        _audit(uow, row.email, "chose a new password with a link", f"link made by {made_by}")
        await uow.commit()
    return True


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(expected) and given is not None and hmac.compare_digest(expected.encode(), given.encode())


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
    await ensure_first_admin(registry)  # the first admin's token may come from the settings
    token = token.strip()
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise SignInProblem("This API token is not right: ask an admin for a new one")
    async with registry.store.unit_of_work() as uow:
        row = await uow.session.scalar(select(ApiTokenRow).where(ApiTokenRow.digest == _digest(token)))
        if row is None or row.revoked_at is not None:
            raise SignInProblem("This API token is not right or has been revoked: ask an admin for a new one")
        maker = await uow.session.scalar(select(ManagerRow).where(ManagerRow.email == row.created_by))
        if maker is None or not maker.active:
            raise SignInProblem("The person who made this API token can no longer sign in, so it no longer works: ask an admin for a new one")
        now = utc_now()
        last = row.last_used_at
        if last is None or (last if last.tzinfo else last.replace(tzinfo=dt.timezone.utc)) < now - dt.timedelta(minutes=1):
            row.last_used_at = now
            await uow.commit()
        # A token never does more than the person who made it may do now.
        role = min(row.role, maker.role, key=ROLES.index)
        return Manager(id=-row.id, email=f"API token {row.id} ({row.name[:60]}) made by {row.created_by}"[:200],
                       name=f"{row.name} (API token)", role=role, made_by=row.created_by)


# ---- the dependency for the JSON API routes ----

CHALLENGE_FREE = (
    "Sign in first: send an API token (Authorization: Bearer ...), which an admin makes on the API tokens "
    "page (/manage/tokens)"
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


def person_of(request: Request) -> str:
    """The email address of the person answerable for this request: for an API token, whoever made it."""
    return request.state.manager.person


def actor(request: Request, fallback: str = "unnamed caller") -> str:
    """Who is making this request, for the audit log: the signed-in manager's email address."""
    manager = getattr(request.state, "manager", None)
    return manager.email if manager else fallback


async def count_managers(registry) -> int:
    async with registry.store.unit_of_work() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(ManagerRow)) or 0)
