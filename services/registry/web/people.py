"""Managing the people who sign in: an admin changes someone's role, deactivates or reactivates
them (never leaving no active admin), removes a lost second factor, or makes a single-use link to
choose a new password; people change their own password. Each change is audited.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets

from sqlalchemy import delete, func, select, update

from services.common.store import utc_now
from services.registry.adapters.orm import AuditRow, ManagerRow, PasswordResetRow
from services.registry.web.passwords import LOCKED, check_password, hash_password, password_problem
from services.registry.web.roles import RESET_HOURS, ROLES, Manager, SignInProblem, aware, digest_of, normalise_email
from services.registry.web.sessions import end_all_sessions


class AccountProblem(Exception):
    """A change to a person who signs in that cannot be made, in words for the admin."""


def audit_account(uow, actor: str, action: str, purpose: str) -> None:
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
        stops_being_admin = row.role == "admin" and row.active and (new_role != "admin" or not new_active)
        if stops_being_admin and await _other_active_admins(uow, row.id) == 0:
            raise AccountProblem(
                f"{row.name} is the only active admin, so they must stay an active admin: someone must always be able "
                "to manage who signs in. Make someone else an admin first"
            )
        done = []
        if new_role != row.role:
            audit_account(uow, actor, "changed the role of a person who signs in", f"{row.email}: from {row.role} to {new_role}")
            done.append(f"{row.name} is now a{'n' if new_role == 'admin' else ''} {new_role}")
        if new_active != row.active:
            audit_account(
                uow, actor, "reactivated a person who signs in" if new_active else "deactivated a person who signs in", row.email
            )
            done.append(
                f"{row.name} can sign in again"
                if new_active
                else f"{row.name} can no longer sign in, and their API tokens no longer work"
            )
        if not done:
            return "Nothing changed"
        row.role, row.active = new_role, new_active
        row.failed_sign_ins, row.locked_until = 0, None
        await end_all_sessions(uow, row.id)
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
        await end_all_sessions(uow, row.id)
        audit_account(uow, actor, "removed the second factor of a person", row.email)
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
    await end_all_sessions(uow, row.id, keep_token)
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
        audit_account(uow, manager.email, "changed their own password", manager.email)
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
        uow.session.add(
            PasswordResetRow(
                digest=digest_of(code),
                manager_id=row.id,
                created_by=actor,
                created_at=now,
                expires_at=now + dt.timedelta(hours=RESET_HOURS),
            )
        )
        audit_account(uow, actor, "made a link to choose a new password", f"{row.email}, for {RESET_HOURS} hours")
        await uow.commit()
    return code, row


async def reset_link_person(registry, code: str) -> ManagerRow | None:
    """Whose link this is, while it is unused, unexpired and they can sign in."""
    if not code or len(code) > 100:
        return None
    async with registry.store.unit_of_work() as uow:
        reset = await uow.session.get(PasswordResetRow, digest_of(code))
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
            .where(
                PasswordResetRow.digest == digest_of(code), PasswordResetRow.used_at.is_(None), PasswordResetRow.expires_at > now
            )
            .values(used_at=now)
        )
        reset = await uow.session.get(PasswordResetRow, digest_of(code))
        row = await uow.session.get(ManagerRow, reset.manager_id) if reset else None
        if claimed.rowcount != 1 or row is None or not row.active:
            return False
        made_by = reset.created_by
        await _set_password(uow, row, password)
        audit_account(uow, row.email, "chose a new password with a link", f"link made by {made_by}")
        await uow.commit()
    return True


async def count_managers(registry) -> int:
    async with registry.store.unit_of_work() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(ManagerRow)) or 0)
