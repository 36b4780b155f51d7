"""Leaders from a spreadsheet (CSV or Excel), row by row.

Valid rows become leaders; every invalid row is reported with its row number,
column and a plain-English reason. Nothing is dropped silently: an unknown
column stops the whole file, because its data would otherwise be lost.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import cast, get_args

from pydantic import ValidationError

from schemas.cohort import KM_PER_MILE, Location, Window
from services.common.errors import describe
from services.registry.domain.areas import Areas
from services.registry.domain.leaders import PROXY_CONSENT, ConsentPurpose, LeaderIn
from services.registry.domain.places import place_shown

# The consents column takes these; agreeing to messages through someone else has its own column.
CONSENT_PURPOSES: tuple[str, ...] = tuple(p for p in get_args(ConsentPurpose) if p != PROXY_CONSENT)

# Column -> what to write in it, for the template and the guide.
COLUMNS: dict[str, str] = {
    "id": "your reference for the person, kept the same between imports (letters, digits, dot, dash, underscore)",
    "name": "full name",
    "pronouns": "for example she/her",
    "role": "patient_leader, carer_leader, clinical_leader or managerial_leader",
    "status": "active, paused or withdrawn (active if empty)",
    "email": "email address",
    "phone": "phone number",
    "postal_address": "postal address, for letters",
    "contact_method": "email, letter, sms, telephone, text_relay or via_carer (email if empty)",
    "information_format": "standard, easy_read, large_print_20, large_print_24, large_print_28, braille, audio or email",
    "communication_professional": "for example a British Sign Language interpreter",
    "communication_support": "any other support with communication",
    "proxy_name": "with contact_method via_carer: the full name of the carer or other person who gets their messages",
    "proxy_relationship": "how that person knows them, for example daughter or carer",
    "proxy_email": "that person's email address",
    "proxy_phone": "that person's phone number",
    "proxy_postal_address": "that person's postal address",
    "proxy_consent_date": "the date they agreed we send their messages to that person, for example 10/01/2027. "
    "Leave it empty if they have not agreed: then we never use that person",
    "system": "their local health and care area: the name of their integrated care board, for example "
    "North East and North Cumbria, or its code, for example QHM",
    "organisation": "organisation, for professionals",
    "latitude": "where they are (older files; leave empty and give town instead)",
    "longitude": "where they are (older files; leave empty and give town instead)",
    "town": "where they live: a town or city, for example Leeds, or the first half of their postcode, for example LS6",
    "max_travel_miles": "how far they can travel, in miles",
    "max_travel_km": "how far they can travel, in kilometres (older files; give max_travel_miles instead)",
    "meeting_modes": "in_person, video, phone; separate several with ;",
    "availability": "weekly times, UK time, separated with ;, for example Tuesday 10:00 to 12:30; Thursday 09:00 to 11:00",
    "unavailable_dates": "dates they cannot do, day/month/year, separated with ;, for example 26/01/2027; 2/2/2027",
    "term_time_only": "yes or no",
    "min_notice_days": "days of notice they need",
    "quiet_hours_start": "no text messages or calls from this time, for example 21:00 (empty: 20:00 to 09:00)",
    "quiet_hours_end": "text messages and calls again from this time, for example 08:00",
    "hours_per_month": "hours per month they can give",
    "access_needs": "step_free_access, hearing_loop, bsl_interpreter, quiet_room, regular_breaks, support_worker, "
    "large_print_papers, easy_read_papers; separate several with ;",
    "topics": "topics they care about, separated with ;",
    "challenge": "the local challenge, in their words",
    "experience": "new, some or experienced",
    "capacity": "professionals: how many partners they can take",
    "release_confirmed": "professionals: yes if their manager has agreed the time",
    "do_not_pair_with": "ids of people they must not be paired with, separated with ;",
    "consents": "what they agreed to, each with the date, separated with ;, for example: pairing 01/11/2026; "
    "contact 01/11/2026. The purposes: pairing, sharing_details_with_partner, contact, health_and_access_data",
}
# proxy_name -> the proxy's name, and so on.
PROXY_COLUMNS = {f"proxy_{part}": part for part in ("name", "relationship", "email", "phone", "postal_address")}
LISTS = {"meeting_modes", "access_needs", "topics", "do_not_pair_with"}
YES = {"yes", "y", "true", "1"}
NO = {"no", "n", "false", "0"}
# "Tuesday 10:00 to 12:30", "tue 10:00-12:30", "Tues from 10.00 until 12.30"
WINDOW = re.compile(
    r"^(mon|tue|wed|thu|fri|sat|sun)[a-z]*\s*,?\s+(?:from\s+)?(\d{1,2}[:.]\d{2})\s*(?:-|–|to|until|till)\s*(\d{1,2}[:.]\d{2})$",
    re.I,
)
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


class FileProblem(ValueError):
    """The file as a whole cannot be read (not a row's fault)."""


@dataclass(frozen=True)
class RowProblem:
    row: int
    column: str
    message: str


def check_columns(header: Iterable[str]) -> list[str]:
    names = [str(h or "").strip().lower() for h in header]
    unknown = [n for n in names if n and n not in COLUMNS]
    if unknown:
        raise FileProblem(
            f"these columns are not ones we know: {', '.join(unknown)}. Use the template's column names, "
            "so that no information is lost."
        )
    if "name" not in names or "role" not in names:
        raise FileProblem("the file needs at least the columns name and role (download the template to see them all)")
    return names


def _text(value: object) -> str | None:
    if type(value) is str:  # every cell of a CSV file, and most of a workbook's: the common case first
        return value.strip() or None
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def _yes_no(column: str, text: str) -> bool:
    if text.lower() in YES:
        return True
    if text.lower() in NO:
        return False
    raise ValueError(f"{column}: write yes or no")


def _windows(text: str) -> list[dict[str, object]]:
    windows = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        match = WINDOW.match(part)
        if not match:
            raise ValueError(f"availability: {part!r} should look like 'Tuesday 10:00 to 12:30'")
        day, start, end = (g.replace(".", ":") for g in match.groups())
        windows.append({"day": day[:3].lower(), "start": start.zfill(5), "end": end.zfill(5)})
    return windows


@lru_cache(maxsize=1024)
def _checked_windows(text: str) -> tuple[Window, ...] | None:
    """The windows, read and checked once for each way of writing them (a file repeats a few many times).
    None when one is not a real window: LeaderIn then reports it, as for any other row, under its place
    in the list. Windows are frozen, so leaders can share them; a bad text is read again each time."""
    try:
        return tuple(Window.model_validate(window) for window in _windows(text))
    except ValidationError:
        return None


# What we show back of a town or postcode, worked out once for each way of writing it.
_place = lru_cache(maxsize=1024)(place_shown)


def read_date(text: str) -> dt.date:
    """26/01/2027, 26-1-2027, 26 January 2027, 26 Jan 2027 or 2027-01-26 (as older files have it)."""
    text = " ".join(text.split())
    if iso := re.match(r"^(\d{4})-(\d{1,2})-(\d{1,2})$", text[:10]):
        year, month, day = (int(g) for g in iso.groups())
    elif numbers := re.match(r"^(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})$", text):
        day, month, year = (int(g) for g in numbers.groups())
    elif words := re.match(r"^(\d{1,2})\s+([A-Za-z]{3,9})\s+(\d{4})$", text):
        month_name = words.group(2)[:3].lower()
        if month_name not in MONTHS:
            raise ValueError(text)
        day, month, year = int(words.group(1)), MONTHS.index(month_name) + 1, int(words.group(3))
    else:
        raise ValueError(text)
    return dt.date(year, month, day)


def _date(text: str, column: str) -> dt.date:
    try:
        return read_date(text)
    except ValueError:
        raise ValueError(f"{column}: {text!r} should be a real date written day/month/year, like 26/01/2027") from None


def _consent_time(text: str, column: str) -> dt.datetime:
    return dt.datetime.combine(_date(text, column), dt.time(), tzinfo=dt.UTC)


def read_miles(text: str) -> float:
    """'10', '10 miles' or '2.5' as kilometres."""
    try:
        miles = float(text.replace(",", "").removesuffix("miles").removesuffix("mi").strip())
    except ValueError:
        raise ValueError(f"max_travel_miles: {text!r} should be a number of miles, like 10") from None
    if not 0 <= miles <= 600:
        raise ValueError("max_travel_miles: must be from 0 to 600 miles")
    return round(miles * KM_PER_MILE, 3)


def _consents(text: str) -> list[dict[str, object]]:
    """'pairing 2026-11-01; contact 2026-11-01': each purpose they agreed to, and when."""
    found = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        purpose, _, day = part.partition(" ")
        if purpose not in CONSENT_PURPOSES:
            raise ValueError(f"consents: {purpose!r} is not a purpose we know; use one of {', '.join(CONSENT_PURPOSES)}")
        found.append({"purpose": purpose, "given": True, "at": _consent_time(day, "consents")})
    return found


@lru_cache(maxsize=1024)
def _items(text: str) -> tuple[str, ...]:
    """'in_person; video' -> its items, split once for each way of writing them."""
    return tuple(part for part in (p.strip() for p in text.split(";")) if part)


def forget_cells() -> None:
    """Forget the cells read (parse_rows, once a part is read; the form, once its one row is): they may
    hold a person's postcode or access needs, which stay in memory no longer than their request."""
    for remembered in (_checked_windows, _place, _items):
        remembered.cache_clear()


def _value(column: str, text: str) -> object:
    if column in LISTS:
        return list(_items(text))
    if column == "availability":
        windows = _checked_windows(text)
        return list(windows) if windows is not None else _windows(text)
    if column == "unavailable_dates":
        return [_date(p.strip(), column).isoformat() for p in text.split(";") if p.strip()]
    if column in ("term_time_only", "release_confirmed"):
        return _yes_no(column, text)
    return text


def _distance(cells: dict[str, str]) -> object:
    """How far they can travel, in kilometres, from miles or (older files) kilometres."""
    miles, km = cells.get("max_travel_miles"), cells.get("max_travel_km")
    if miles and km:
        raise ValueError("max_travel_miles: give miles or kilometres (max_travel_km), not both")
    return read_miles(miles) if miles else km


def _area(text: str, areas: Areas | None) -> str:
    if areas is None:
        return text
    try:
        return areas.read(text)
    except ValueError as problem:
        raise ValueError(f"system: {problem}") from None


SKIPPED = frozenset({"latitude", "longitude", "town", "max_travel_miles", "max_travel_km"})
# Columns whose text LeaderIn takes as it is (most of a row's): row_to_leader looks for them first.
# Each of the others is read in its own way there.
READ_APART = {
    "system",
    "proxy_consent_date",
    "consents",
    "availability",
    "unavailable_dates",
    "term_time_only",
    "release_confirmed",
}
AS_WRITTEN = frozenset(COLUMNS).difference(SKIPPED, LISTS, PROXY_COLUMNS, READ_APART)


def row_to_leader(
    cells: dict[str, object], locate_town: Callable[[str], Location], areas: Areas | None = None, *, texts: bool = False
) -> LeaderIn:
    """One row as a leader. `areas` turns an area's name into its code; without it the code is kept as written.
    With `texts`, every cell is already as _text gives it, and empty ones are left out (parse_rows): not read again."""
    if texts:
        read = cast("dict[str, str]", cells)
    else:
        read = {column: text for column, value in cells.items() if (text := _text(value)) is not None}
    data: dict[str, object] = {}
    proxy: dict[str, str] = {}
    consents: list[dict[str, object]] = []
    for column, text in read.items():
        if column in AS_WRITTEN:
            data[column] = text
        elif column in SKIPPED:
            continue
        elif column == "system":
            data[column] = _area(text, areas)
        elif column in PROXY_COLUMNS:
            proxy[PROXY_COLUMNS[column]] = text
        elif column == "proxy_consent_date":
            consents.append({"purpose": PROXY_CONSENT, "given": True, "at": _consent_time(text, column)})
        elif column == "consents":
            consents += _consents(text)
        else:
            data[column] = _value(column, text)
    if consents:
        data["consents"] = consents
    if proxy:
        data["proxy"] = proxy
    elif any(c["purpose"] == PROXY_CONSENT for c in consents):
        raise ValueError("proxy_consent_date: give proxy_name too, so we know who they agreed to")
    data.update(_where(read, locate_town))
    return LeaderIn.model_validate(data)


def _where(cells: dict[str, str], locate_town: Callable[[str], Location]) -> dict[str, object]:
    """Where they are: latitude and longitude as written (older files), else where the town or postcode
    district is; the place as we show it back; and how far they can travel (in kilometres)."""
    found: dict[str, object] = {}
    lat, lon, town = cells.get("latitude"), cells.get("longitude"), cells.get("town")
    if lat or lon:
        found["location"] = {"lat": lat, "lon": lon}
    elif town:
        found["location"] = locate_town(town)  # a Location: validated as it was made, so taken as it is
    if town:
        found["place"] = _place(town)
    if (distance := _distance(cells)) is not None:
        found["max_travel_km"] = distance
    return found


def column_of(field: str) -> str:
    """availability[0].end -> availability; location.lat -> latitude; proxy.email -> proxy_email."""
    head = re.split(r"[.\[]", field, maxsplit=1)[0]
    if head == "proxy" and "." in field:
        return "proxy_" + re.split(r"[.\[]", field)[1]
    if field.startswith("location.lat"):
        return "latitude"
    if field.startswith("location.lon"):
        return "longitude"
    return head


def parse_rows(
    header: list[str],
    rows: Iterable[tuple[int, list[object]]],
    locate_town: Callable[[str], Location],
    areas: Areas | None = None,
    seen: dict[str, int] | None = None,
) -> tuple[list[tuple[int, LeaderIn]], list[RowProblem]]:
    """Rows are (spreadsheet row number, cells). Returns the valid leaders and every problem.

    `seen` holds the ids of the file's earlier rows, by row number, when it is read in parts: an id
    already used there is reported here just as one used earlier in these rows."""
    try:
        return _parse(header, rows, locate_town, areas, seen)
    finally:
        forget_cells()


def _parse(
    header: list[str],
    rows: Iterable[tuple[int, list[object]]],
    locate_town: Callable[[str], Location],
    areas: Areas | None,
    seen: dict[str, int] | None,
) -> tuple[list[tuple[int, LeaderIn]], list[RowProblem]]:
    names = check_columns(header)
    valid: list[tuple[int, LeaderIn]] = []
    problems: list[RowProblem] = []
    seen = {} if seen is None else seen
    width = len(names)
    locate = _remembered(locate_town)
    for number, cells in rows:
        # Each named cell as text once (_text, with a CSV file's cells done in place); empty ones are left out.
        record: dict[str, object] = {
            name: text
            for name, cell in zip(names, cells, strict=False)
            if cell != "" and name and (text := cell.strip() if type(cell) is str else _text(cell))
        }
        # A short row leaves fields out, as does an empty cell. Only a row with nothing in its named cells,
        # or with more cells than the header, needs the rest of its cells read.
        if not record or len(cells) > width:
            texts = [_text(c) for c in cells]
            if not any(texts):
                continue  # a blank line is not a person
            if any(texts[width:]):
                problems.append(RowProblem(number, "", "this row has more cells than the header has columns"))
                continue
        try:
            leader = row_to_leader(record, locate, areas, texts=True)
        except ValidationError as exc:
            problems += [RowProblem(number, column_of(d["field"]), d["message"]) for d in describe(exc.errors())]
            continue
        except ValueError as exc:
            column, _, message = str(exc).partition(": ")
            if not message:
                column, message = "town", str(exc)
            problems.append(RowProblem(number, column, message))
            continue
        if not leader.id:
            problems.append(RowProblem(number, "id", "is needed, so that importing the same file again changes nothing"))
            continue
        if leader.id in seen:
            problems.append(
                RowProblem(number, "id", f"the same id is also on row {seen[leader.id]}; each person needs their own")
            )
            continue
        seen[leader.id] = number
        valid.append((number, leader))
    return valid, problems


def _remembered(locate_town: Callable[[str], Location]) -> Callable[[str], Location]:
    """locate_town, asked once for each town the rows name (a file names a few many times).
    A town it cannot find is asked again each time, so every row gets its own error."""
    known: dict[str, Location] = {}

    def locate(town: str) -> Location:
        if (where := known.get(town)) is None:
            where = known[town] = locate_town(town)
        return where

    return locate
