"""The leader form's plain fields, and turning them into what the spreadsheet reader takes:
the area by name, where they live by town or the first half of a postcode, weekly free times
as a day with start and end times from lists, dates they cannot do as day, month and year
boxes, distances in miles, and the people never to pair them with, chosen by name.

Every part works without JavaScript: "Add another time", "Add another date" and "Search"
post the form back and show it again with what was typed kept."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from schemas.cohort import KM_PER_MILE, Location
from services.registry.adapters.areas import areas
from services.registry.adapters.gazetteer import find_place, nearest_district
from services.registry.domain.importing import read_miles
from services.registry.web import date_boxes, forms

# Every half hour from 06:00 to 22:00, UK time.
TIMES = tuple(f"{hour:02d}:{minute:02d}" for hour in range(6, 23) for minute in (0, 30))[:-1]
TIME = re.compile(r"^\d{2}:\d{2}$")
MOST_ROWS = 20
# What the buttons that post the form back (without saving) ask for.
ADDING = ("time", "date", "search")


def _rows(form: Any, kind: str, parts: tuple[str, ...]) -> list[tuple[str, ...]]:
    try:
        count = max(1, min(int(form.get(f"{kind}_rows") or 1), MOST_ROWS))
    except ValueError:
        count = 1
    return [tuple((form.get(f"{kind}_{i}_{part}") or "").strip() for part in parts) for i in range(count)]


def values_of(form: Any) -> dict[str, Any]:
    """The form as it was sent: the plain fields as rows, the rest as forms.leader_values reads them."""
    values = forms.leader_values(form)
    values["times"] = _rows(form, "time", ("day", "from", "to"))
    values["dates"] = _rows(form, "date", ("day", "month", "year"))
    values["never_q"] = (form.get("never_q") or "").strip()[:100]
    values["place_was"] = (form.get("place_was") or "").strip()[:100]
    values["miles_was"] = (form.get("miles_was") or "").strip()[:20]
    values["never_found"] = []
    return values


def add_row(values: dict[str, Any], kind: str) -> None:
    rows = values["times" if kind == "time" else "dates"]
    if len(rows) < MOST_ROWS:
        rows.append(("", "", ""))


def _times_text(times: list[tuple[str, ...]], errors: dict[str, str]) -> str:
    """'Tuesday 10:00 to 12:30; ...' for the rows filled in; a row half filled in, or ending before it starts, is an error."""
    said = []
    for i, (day, start, end) in enumerate(times):
        if not (day or start or end):
            continue
        checks = (("day", day in forms.DAY_NAMES), ("from", bool(TIME.match(start))), ("to", bool(TIME.match(end))))
        if missing := next((name for name, good in checks if not good), None):
            errors[f"time_{i}_{missing}"] = f"Free time {i + 1}: select a day, a start time and an end time"
        elif end <= start:
            errors[f"time_{i}_to"] = f"Free time {i + 1}: the end time must be later than the start time"
        else:
            said.append(f"{forms.DAY_NAMES[day]} {start} to {end}")
    return "; ".join(said)


def _dates_text(dates: list[tuple[str, ...]], errors: dict[str, str]) -> str:
    """'26/1/2027; ...' for the dates filled in, with the GOV.UK date pattern's messages for the others."""
    said = []
    for i, parts in enumerate(dates):
        boxes = {f"date_{i}_{part}": value for part, value in zip(date_boxes.PARTS, parts, strict=True)}
        if date := date_boxes.read_date(boxes, f"date_{i}", f"date they cannot do {i + 1}", errors, required=False):
            said.append(f"{date.day}/{date.month}/{date.year}")
    return "; ".join(said)


def _check_each(plain: dict[str, Any], errors: dict[str, str]) -> None:
    """The fields the spreadsheet reader would stop at, checked one by one so that every problem is
    shown at once; a field with a problem is left out of what the reader gets."""
    checks = (("town", find_place), ("max_travel_miles", read_miles), ("system", areas().read))
    for name, check in checks:
        if plain.get(name) and not (name == "town" and plain.get("latitude")):
            try:
                check(plain[name])
            except ValueError as problem:
                message = str(problem).partition(": ")[2] if name == "max_travel_miles" else str(problem)
                errors[name] = forms.message_for(name, message, forms.LEADER_FIELDS) if name != "town" else _capital(message)
                plain[name] = ""
    if not plain.get("system"):
        errors.setdefault("system", forms.LEADER_FIELDS["system"][1])


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _keep(plain: dict[str, Any], values: dict[str, Any], stored: dict[str, Any]) -> None:
    """A leader being changed keeps where they are and how far they travel, exactly as stored, while the
    place and the miles shown for them (rounded) are left as they were shown."""
    if (where := stored.get("location")) and plain.get("town") and plain["town"] == values.get("place_was"):
        plain["latitude"], plain["longitude"] = str(where["lat"]), str(where["lon"])
    km = stored.get("max_travel_km")
    if km is not None and plain.get("max_travel_miles") and plain["max_travel_miles"] == values.get("miles_was"):
        plain["max_travel_miles"], plain["max_travel_km"] = "", str(km)


def leader_from_form(
    values: dict[str, Any], leader_id: str | None, consents: list[Any] | None, stored: dict[str, Any] | None = None
):
    """The leader, or the problems by field (the fields' ids, so the error summary links to them).
    `stored` is the record of a leader being changed (see _keep)."""
    errors: dict[str, str] = {}
    plain = {name: values[name] for name in forms.LEADER_FIELDS if name in values}
    _keep(plain, values, stored or {})
    _check_each(plain, errors)
    plain["availability"] = _times_text(values["times"], errors)
    plain["unavailable_dates"] = _dates_text(values["dates"], errors)
    leader, problems = forms.leader_from_values(plain, leader_id, consents)
    errors = {**problems, **errors}
    return (None, errors) if errors else (leader, {})


def miles(km: Any) -> str:
    """Kilometres as miles, to one decimal place (10 for 16.09 km)."""
    if km in (None, ""):
        return ""
    miles = round(float(km) / KM_PER_MILE, 1)
    return str(int(miles)) if miles.is_integer() else str(miles)


def _place(view: dict[str, Any]) -> str:
    if view.get("place"):
        return str(view["place"])
    location = view.get("location")
    return nearest_district(Location.model_validate(location)) if location else ""


def values_from_leader(view: dict[str, Any]) -> dict[str, Any]:
    """A stored leader (as read_leader returns it) as the form's values."""
    values = forms.values_from_leader(view)
    values["times"] = [(w["day"], w["start"][:5], w["end"][:5]) for w in view.get("availability") or []]
    values["times"].append(("", "", ""))
    dates = [dt.date.fromisoformat(str(d)) for d in view.get("unavailable_dates") or []]
    values["dates"] = [(str(d.day), str(d.month), str(d.year)) for d in dates] + [("", "", "")]
    values["max_travel_miles"] = values["miles_was"] = miles(view.get("max_travel_km"))
    values["town"] = values["place_was"] = _place(view)
    values["do_not_pair_with"] = list(view.get("do_not_pair_with") or [])
    values["never_q"], values["never_found"] = "", []
    return values


def blank_values() -> dict[str, Any]:
    values: dict[str, Any] = {name: "" for name in forms.LEADER_FIELDS}
    values.update(
        meeting_modes=[],
        access_needs=[],
        do_not_pair_with=[],
        status="active",
        contact_method="email",
        information_format="standard",
        experience="new",
        term_time_only="no",
        capacity="1",
        times=[("", "", "")] * 3,
        dates=[("", "", "")],
        never_q="",
        never_found=[],
        place_was="",
        miles_was="",
    )
    return values


def time_options(chosen: str) -> list[tuple[str, str]]:
    """The times to choose from; a time kept from before that is not on the list stays chosen."""
    times = list(TIMES) if not chosen or chosen in TIMES else sorted({*TIMES, chosen})
    return [("", "Choose a time"), *((t, t) for t in times)]
