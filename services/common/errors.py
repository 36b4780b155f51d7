"""Plain-English validation messages that name the field and say how to fix it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

HINTS = {
    "missing": "is required",
    "extra_forbidden": "is not a field we know; check the spelling (unknown fields are refused so nothing is silently ignored)",
    "literal_error": "must be one of: {expected}",
    "enum": "must be one of: {expected}",
    "time_parsing": "must be a time like 09:30",
    "time_type": "must be a time like 09:30",
    "date_from_datetime_parsing": "must be a date like 2027-01-12",
    "date_parsing": "must be a date like 2027-01-12",
    "date_type": "must be a date like 2027-01-12",
    "int_parsing": "must be a whole number",
    "float_parsing": "must be a number",
    "bool_parsing": "must be true or false",
    "string_too_short": "must be at least {min_length} character(s) long",
    "too_short": "needs at least {min_length} item(s)",
}


def field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    path = ""
    for part in parts:
        path += f"[{part}]" if part.isdigit() else (f".{part}" if path else part)
    return path or "request"


def explain_error(error: Mapping[str, Any]) -> str:
    hint = HINTS.get(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if error.get("type") == "string_too_short" and ctx.get("min_length") == 1:
        return "must not be empty"
    if hint:
        try:
            return hint.format(**ctx)
        except (KeyError, IndexError):
            return hint
    message = str(error.get("msg", "is not valid"))
    return message.removeprefix("Value error, ")


def describe(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    return [{"field": field_path(tuple(e.get("loc", ()))), "message": explain_error(e)} for e in errors]


def one_line(exc: ValidationError, prefix: str = "") -> str:
    return "; ".join(f"{prefix}{d['field']}: {d['message']}" for d in describe(exc.errors()))
