"""The launch form's dated rows: sessions everyone must attend (a date in day, month and year boxes,
start and end times from lists, and where it is) and school holidays (a first and a last date in
boxes). "Add another session" and "Add another holiday" post the form back, so it works without
JavaScript. The rows travel as flat fields (`session_0_day`, ...) with a count of rows, which lets the
confirmation page carry them as hidden inputs."""

from __future__ import annotations

import re
from typing import Any

from services.registry.web import date_boxes

MOST_ROWS = 20
TIME = re.compile(r"^\d{2}:\d{2}$")
SESSION_PARTS = ("from", "to", "place")
KINDS = {"session": "session_rows", "holiday": "holiday_rows"}


def _count(form: Any, kind: str) -> int:
    try:
        return max(1, min(int(form.get(KINDS[kind]) or 1), MOST_ROWS))
    except ValueError:
        return 1


def values_of(form: Any) -> dict[str, str]:
    """The dated rows as they were sent, flat."""
    values: dict[str, str] = {}
    sessions, holidays = _count(form, "session"), _count(form, "holiday")
    values["session_rows"], values["holiday_rows"] = str(sessions), str(holidays)
    for i in range(sessions):
        values |= date_boxes.boxes(form, f"session_{i}")
        for part in SESSION_PARTS:
            values[f"session_{i}_{part}"] = (form.get(f"session_{i}_{part}") or "").strip()[:300]
    for i in range(holidays):
        values |= date_boxes.boxes(form, f"holiday_{i}_from") | date_boxes.boxes(form, f"holiday_{i}_to")
    return values


def blank() -> dict[str, str]:
    return values_of({})


def add_row(values: dict[str, str], kind: str) -> None:
    """One more empty row of sessions or holidays (up to MOST_ROWS)."""
    key = KINDS[kind]
    values[key] = str(min(int(values[key]) + 1, MOST_ROWS))


def rows(values: dict[str, str], kind: str) -> list[int]:
    return list(range(int(values.get(KINDS[kind]) or 1)))


def _filled(values: dict[str, str], prefix: str) -> bool:
    return any(v for k, v in values.items() if k.startswith(prefix))


def sessions(values: dict[str, str], errors: dict[str, str]) -> list[dict[str, str]]:
    """The sessions filled in, as LaunchRound takes them; a row with a problem is named in `errors`."""
    found = []
    for i in rows(values, "session"):
        name = f"session_{i}"
        if not _filled(values, f"{name}_"):
            continue
        date = date_boxes.read_date(values, name, f"the date of session {i + 1}", errors)
        start, end = values[f"{name}_from"], values[f"{name}_to"]
        if not TIME.match(start):
            errors[f"{name}_from"] = f"Session {i + 1}: select the time it starts"
        elif not TIME.match(end):
            errors[f"{name}_to"] = f"Session {i + 1}: select the time it ends"
        elif end <= start:
            errors[f"{name}_to"] = f"Session {i + 1}: the end time must be later than the start time"
        elif date is not None:
            place = {"place": values[f"{name}_place"]} if values[f"{name}_place"] else {}
            found.append({"date": date.isoformat(), "start": start, "end": end, **place})
    return found


def holidays(values: dict[str, str], errors: dict[str, str]) -> list[dict[str, str]]:
    """The school holidays filled in, as LaunchRound takes them."""
    found = []
    for i in rows(values, "holiday"):
        name = f"holiday_{i}"
        if not _filled(values, f"{name}_"):
            continue
        first = date_boxes.read_date(values, f"{name}_from", f"the first day of school holiday {i + 1}", errors)
        last = date_boxes.read_date(values, f"{name}_to", f"the last day of school holiday {i + 1}", errors)
        if first and last and last < first:
            errors[f"{name}_to_day"] = f"School holiday {i + 1}: the last day must be the same as or after the first day"
        elif first and last:
            found.append({"from": first.isoformat(), "to": last.isoformat()})
    return found


def field_order(values: dict[str, str]) -> list[str]:
    """The rows' fields in the order they are on the page, for the error summary."""
    order: list[str] = []
    for i in rows(values, "session"):
        order += [f"session_{i}_{part}" for part in (*date_boxes.PARTS, "from", "to")]
    for i in rows(values, "holiday"):
        order += [f"holiday_{i}_{end}_{part}" for end in ("from", "to") for part in date_boxes.PARTS]
    return order
