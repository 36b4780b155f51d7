"""What went wrong with an event, said so it can go in a dead letter or a log: the error's class and a
plain-English reason, never the error's own text.

An error's text can quote what it was given. A database error quotes the statement's values (a name,
an id: SQLAlchemy's "[parameters: ...]", PostgreSQL's "DETAIL: Key (id)=(pl-018) already exists"),
a failed lookup names the id it looked for. A dead letter is kept for weeks and a log for longer, and
both must name no one (an erased person's id must be found in neither). So the text is never kept:
the class says what kind of failure it was, the reason says it in words, and for a database error the
names of the table, column and rule it broke (the schema's words, never a value) say where.
"""

from __future__ import annotations

import json
import traceback

from pydantic import ValidationError
from sqlalchemy import exc as db

from services.common.crypto import EncryptionKeyError

# Most particular first: the first class an error is an instance of gives its reason.
DATABASE_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (db.IntegrityError, "the database refused the change: it would break one of its rules (a duplicate, or a link to nothing)"),
    (db.DataError, "the database refused a value that does not fit its column (too long, or the wrong kind)"),
    (db.ProgrammingError, "the database's tables do not match what the service expects (a migration may be missing)"),
    (db.OperationalError, "the database could not carry out the work (it may be down, busy or out of space)"),
    (db.InterfaceError, "the connection to the database failed"),
    (db.DBAPIError, "the database reported an error"),
    (db.NoResultFound, "a row the service needed was not in the database"),
    (db.MultipleResultsFound, "the database held more than one row where the service expected one"),
)
DATABASE_REASON = "the service could not save or read its data"

OTHER_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (json.JSONDecodeError, "the event is not valid JSON"),
    (UnicodeDecodeError, "the event is not text in UTF-8"),
    (EncryptionKeyError, "a sealed value could not be opened with the keys this service holds"),
    (TimeoutError, "something the service waited for took too long"),
    (ConnectionError, "a connection the service needed failed"),
    (KeyError, "something the event names is not known here"),
)
OTHER_REASON = "the service could not handle it; its log shows where in the code it failed"


def describe_failure(exc: BaseException, permanent_reason: str | None = None) -> str:
    """The error's class and why, in words: "IntegrityError (UniqueViolationError, constraint
    uq_leaders_email): the database refused ...". A validation error names its fields and what was
    wrong with each (never the values). `permanent_reason` is the reason to give for an error the
    caller knows can never succeed (a lookup of something not there), whose text may name it."""
    name = exc.__class__.__name__
    if isinstance(exc, ValidationError):
        fields = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['type']}" for e in exc.errors()[:20])
        return f"ValidationError: {fields}"
    if isinstance(exc, db.SQLAlchemyError):
        where = ", ".join(database_details(exc))
        reason = next((words for cls, words in DATABASE_REASONS if isinstance(exc, cls)), DATABASE_REASON)
        return f"{name} ({where}): {reason}" if where else f"{name}: {reason}"
    if permanent_reason is not None:
        return f"{name}: {permanent_reason}"
    reason = next((words for cls, words in OTHER_REASONS if isinstance(exc, cls)), OTHER_REASON)
    return f"{name}: {reason}"


def database_details(exc: db.SQLAlchemyError) -> list[str]:
    """The driver's error class, the SQL state, and the table, column and rule it names: no values."""
    orig = getattr(exc, "orig", None)
    if orig is None:
        return []
    driver = orig.__cause__ or orig  # asyncpg's own error, behind SQLAlchemy's adapter for it
    details = [driver.__class__.__name__]
    state = getattr(orig, "sqlstate", None) or getattr(driver, "sqlstate", None)
    if isinstance(state, str) and state.isalnum():
        details.append(f"SQL state {state}")
    for what in ("table", "column", "constraint"):
        value = getattr(driver, f"{what}_name", None)
        if isinstance(value, str) and value:
            details.append(f"{what} {value}")
    return details


def where_it_failed(exc: BaseException) -> str:
    """The code the error went through (files, lines, functions and their source lines), without its text:
    for the log, in place of a traceback ending in the error's own words."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    return f"{frames}{exc.__class__.__module__}.{exc.__class__.__qualname__}"
