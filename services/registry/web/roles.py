"""Who may do what: the three roles, the signed-in person (Manager), and what every way of
signing in shares (services/registry/web/auth.py gives the whole picture).

Three roles, each able to do everything the one before it can:

- viewer: sees leaders (without access or communication needs, contact details
  or anything else that is special-category data), rounds and the queue;
- manager: also adds, imports and edits leaders, sees their full record (each
  read is written to the audit log), launches, reviews, approves and publishes rounds;
- admin: also adds other people who sign in, changes their role, deactivates them and
  makes a single-use link for them to choose a new password.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from typing import overload

from services.registry.adapters.orm import ManagerRow

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


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def manager_from(row: ManagerRow, csrf: str = "") -> Manager:
    return Manager(id=row.id, email=row.email, name=row.name, role=row.role, csrf_token=csrf)


@overload
def aware(moment: dt.datetime) -> dt.datetime: ...
@overload
def aware(moment: None) -> None: ...
def aware(moment: dt.datetime | None) -> dt.datetime | None:
    """SQLite forgets the time zone: every time stored is UTC."""
    return moment.replace(tzinfo=dt.UTC) if moment is not None and moment.tzinfo is None else moment


def normalise_email(email: str) -> str:
    return email.strip().lower()


def csrf_matches(expected: str, given: object) -> bool:
    """Whether `given` (a header or form field, so anything a client sent) is this session's token."""
    return bool(expected) and isinstance(given, str) and hmac.compare_digest(expected.encode(), given.encode())
