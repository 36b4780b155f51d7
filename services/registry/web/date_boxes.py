"""Dates in the GOV.UK date pattern: a day, a month and a year box (`{name}_day`, `{name}_month`,
`{name}_year`), read with the pattern's error messages. Each problem is keyed by the box to fix,
so the error summary's link takes the keyboard to it and only that box is marked."""

from __future__ import annotations

import datetime as dt
from typing import Any

PARTS = ("day", "month", "year")
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100


def boxes(form: Any, name: str) -> dict[str, str]:
    """The three boxes as typed (spaces trimmed), keyed `{name}_day` and so on."""
    return {f"{name}_{part}": (form.get(f"{name}_{part}") or "").strip()[:10] for part in PARTS}


def boxes_of(date: dt.date | None, name: str) -> dict[str, str]:
    """A stored date as the boxes show it: 26, 1, 2027."""
    parts = (str(date.day), str(date.month), str(date.year)) if date else ("", "", "")
    return {f"{name}_{part}": value for part, value in zip(PARTS, parts, strict=True)}


def is_empty(values: dict[str, str], name: str) -> bool:
    return not any(values.get(f"{name}_{part}") for part in PARTS)


def _sentence(label: str) -> str:
    return label[:1].upper() + label[1:]


def read_date(values: dict[str, str], name: str, label: str, errors: dict[str, str], required: bool = True) -> dt.date | None:
    """The date in the boxes, or None with the problem in `errors` under the box to fix.
    `label` names the date in a sentence ("the date of session 1"); an empty date is a problem only
    when `required`."""
    day, month, year = (values.get(f"{name}_{part}", "") for part in PARTS)
    if not (day or month or year):
        if required:
            errors[f"{name}_day"] = f"Enter {label}"
        return None
    missing = [part for part, value in zip(PARTS, (day, month, year), strict=True) if not value]
    if missing:
        errors[f"{name}_{missing[0]}"] = f"{_sentence(label)} must include a {' and a '.join(missing)}"
        return None
    not_number = next(
        (part for part, value in zip(PARTS, (day, month, year), strict=True) if not (value.isascii() and value.isdigit())), None
    )
    if not_number:
        errors[f"{name}_{not_number}"] = f"{_sentence(label)} must be a real date: the {not_number} must be a number"
        return None
    if len(year) != 4 or not EARLIEST_YEAR <= int(year) <= LATEST_YEAR:
        errors[f"{name}_year"] = f"{_sentence(label)}: the year must have 4 numbers, like 2027"
        return None
    if not 1 <= int(month) <= 12:
        errors[f"{name}_month"] = f"{_sentence(label)} must be a real date: the month is a number from 1 to 12"
        return None
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        errors[f"{name}_day"] = f"{_sentence(label)} must be a real date: {month_name(int(month))} {year} has no day {day}"
        return None


def month_name(month: int) -> str:
    return dt.date(2000, month, 1).strftime("%B")


def box_error(errors: dict[str, str], name: str) -> tuple[str | None, str | None]:
    """The date's problem and the box it is in ("day", "month" or "year"), for the template."""
    for part in PARTS:
        if message := errors.get(f"{name}_{part}"):
            return message, part
    return None, None
