"""A programme's closure periods on its details page: one row each, a first and a last day in day,
month and year boxes, and a box to tick when it is the same days every year (then the years are left
empty). "Add another closure" posts the form back, so it works without JavaScript. The rows travel
as flat fields (`closure_0_from_day`, ..., `closure_0_yearly`) with a count of rows; they become the
written form the API and the settings take (`12-24..01-01` every year, `2027-04-01..2027-04-05` once)."""

from __future__ import annotations

from typing import Any

from services.registry.domain.meetings import parse_closure
from services.registry.web import date_boxes

MOST_ROWS = 50  # as many as the API takes (ProgrammeChange.closure_periods), so a save never drops one
ENDS = ("from", "to")
ANY_YEAR = "2000"  # a leap year, so 29 February can be a yearly closure's day


def _count(form: Any) -> int:
    try:
        return max(1, min(int(form.get("closure_rows") or 1), MOST_ROWS))
    except ValueError:
        return 1


def values_of(form: Any) -> dict[str, str]:
    """The rows as they were sent, flat."""
    values = {"closure_rows": str(_count(form))}
    for i in range(_count(form)):
        for end in ENDS:
            values |= date_boxes.boxes(form, f"closure_{i}_{end}")
        values[f"closure_{i}_yearly"] = "yes" if form.get(f"closure_{i}_yearly") == "yes" else ""
    return values


def values_from_texts(texts: list[str]) -> dict[str, str]:
    """Stored closure periods as the rows show them (one empty row when there are none)."""
    values = values_of({})
    for i, text in enumerate(texts[:MOST_ROWS]):
        closure = parse_closure(text)
        for end, day in zip(ENDS, (closure.first, closure.last), strict=True):
            values |= date_boxes.boxes_of(day, f"closure_{i}_{end}")
            if closure.yearly:
                values[f"closure_{i}_{end}_year"] = ""
        values[f"closure_{i}_yearly"] = "yes" if closure.yearly else ""
    values["closure_rows"] = str(max(1, min(len(texts), MOST_ROWS)))
    return values


def add_row(values: dict[str, str]) -> None:
    """One more empty row (up to MOST_ROWS)."""
    values["closure_rows"] = str(min(int(values["closure_rows"]) + 1, MOST_ROWS))


def rows(values: dict[str, str]) -> list[int]:
    return list(range(int(values.get("closure_rows") or 1)))


def _filled(values: dict[str, str], i: int) -> bool:
    return any(values.get(f"closure_{i}_{end}_{part}") for end in ENDS for part in date_boxes.PARTS)


def texts(values: dict[str, str], errors: dict[str, str]) -> list[str]:
    """The closures filled in, written as the API takes them; a row with a problem is named in `errors`.
    An empty row is left out, so emptying a row's boxes removes that closure."""
    found = []
    for i in rows(values):
        if not _filled(values, i):
            continue
        yearly = values.get(f"closure_{i}_yearly") == "yes"
        # Every year: the years typed are not needed, so they are not read.
        seen = {**values, **{f"closure_{i}_{end}_year": ANY_YEAR for end in ENDS}} if yearly else values
        first = date_boxes.read_date(seen, f"closure_{i}_from", f"the first day of closure {i + 1}", errors)
        last = date_boxes.read_date(seen, f"closure_{i}_to", f"the last day of closure {i + 1}", errors)
        if first is None or last is None:
            continue
        if yearly:  # a yearly closure may run over the new year, like 24 December to 1 January
            found.append(f"{first:%m-%d}..{last:%m-%d}")
        elif last < first:
            errors[f"closure_{i}_to_day"] = f"Closure {i + 1}: the last day must be the same as or after the first day"
        else:
            found.append(f"{first:%Y-%m-%d}..{last:%Y-%m-%d}")
    return found


def field_order(values: dict[str, str]) -> list[str]:
    """The rows' boxes in the order they are on the page, for the error summary."""
    return [f"closure_{i}_{end}_{part}" for i in rows(values) for end in ENDS for part in date_boxes.PARTS]
