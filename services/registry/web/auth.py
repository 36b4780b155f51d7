"""Who may do what: managers sign in with an email address and a password.

This module is the one name callers use; the work is done in five modules beside it: roles
(the roles and the signed-in person), passwords (Argon2 and the one lockout, the first admin),
sessions (browser sessions and the second factor), people (managing who signs in) and
api_auth (API tokens, HTTP Basic and the dependency the JSON API routes use).

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

from services.registry.web.api_auth import (  # noqa: F401 - re-exported
    BASIC_NEEDS_TOKEN,
    CHALLENGE_FREE,
    COOKIE_WITHOUT_TOKEN,
    NewToken,
    actor,
    basic_manager,
    bearer_manager,
    client_address,
    create_token,
    forget_cached_passwords,
    list_tokens,
    person_of,
    require_role,
    revoke_token,
    token_problem,
)
from services.registry.web.passwords import (  # noqa: F401 - re-exported
    LOCKED,
    SETTINGS_TOKEN,
    AddressThrottle,
    check_password,
    ensure_first_admin,
    hash_password,
    is_locked,
    password_problem,
    throttle_of,
    verify_password,
)
from services.registry.web.people import (  # noqa: F401 - re-exported
    AccountProblem,
    audit_account,
    change_own_password,
    change_person,
    count_managers,
    make_reset_link,
    new_password_problems,
    people,
    person,
    remove_second_factor,
    reset_link_person,
    use_reset_link,
)
from services.registry.web.roles import (  # noqa: F401 - re-exported
    CSRF_HEADER,
    HALF_SIGNED_IN_MINUTES,
    ISSUER,
    LOCK_MINUTES,
    MAX_FAILED_PER_ADDRESS,
    MAX_FAILED_SIGN_INS,
    MIN_PASSWORD_LENGTH,
    NEEDS_CODE,
    NEEDS_SET_UP,
    RESET_HOURS,
    ROLE_WORDS,
    ROLES,
    SAFE_METHODS,
    SESSION_COOKIE,
    SESSION_HOURS,
    SIGN_IN_COOKIE,
    SIGNED_IN,
    TOKEN_PREFIX,
    Manager,
    SignInProblem,
    aware,
    csrf_matches,
    digest_of,
    manager_from,
    normalise_email,
)
from services.registry.web.sessions import (  # noqa: F401 - re-exported
    WRONG_CODE,
    Session,
    check_code,
    code_problem,
    end_all_sessions,
    end_session,
    grouped,
    has_second_factor,
    idle_limit,
    needs_second_factor,
    read_session,
    second_factor_secret,
    session_manager,
    set_up_address,
    start_session,
)
