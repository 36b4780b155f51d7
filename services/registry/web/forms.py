"""Turning form fields into commands, and validation problems into messages
that name each field, for the NHS error summary."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from services.common.errors import describe
from services.registry.adapters.gazetteer import locate_town
from services.registry.domain.importing import column_of, row_to_leader
from services.registry.domain.leaders import PROXY_CONSENT, Consent, LeaderIn, consent_given, with_consent

# ---- words for coded values ----

ROLE_NAMES = {
    "patient_leader": "Patient leader",
    "carer_leader": "Carer leader",
    "clinical_leader": "Clinical leader",
    "managerial_leader": "Manager in health and care",
}
STATUS_NAMES = {"active": "Active", "paused": "Paused", "withdrawn": "Withdrawn"}
MODE_NAMES = {"in_person": "In person", "video": "By video", "phone": "By phone"}
EXPERIENCE_NAMES = {"new": "New to this work", "some": "Some experience", "experienced": "Experienced"}
CONTACT_NAMES = {
    "email": "Email",
    "letter": "Letter",
    "sms": "Text message (SMS)",
    "telephone": "Telephone call",
    "text_relay": "Text relay (for people who are deaf or have a speech difficulty)",
    "via_carer": "Through their carer or another person they name",
}
FORMAT_NAMES = {
    "standard": "Standard print",
    "easy_read": "Easy read",
    "large_print_20": "Large print, 20 point",
    "large_print_24": "Large print, 24 point",
    "large_print_28": "Large print, 28 point",
    "braille": "Braille",
    "audio": "Audio",
    "email": "Email (to read with their own software)",
}
ACCESS_NAMES = {
    "step_free_access": "Step-free access",
    "hearing_loop": "Hearing loop",
    "bsl_interpreter": "British Sign Language interpreter (booked 4 weeks ahead)",
    "quiet_room": "Quiet room",
    "regular_breaks": "Regular breaks",
    "support_worker": "A support worker comes too",
    "large_print_papers": "Large-print papers",
    "easy_read_papers": "Easy-read papers",
}
DAY_NAMES = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)

# Field name -> (label, what to say when it is missing). The order is the form's order, used by the error summary.
LEADER_FIELDS: dict[str, tuple[str, str]] = {
    "id": ("Reference", "Enter a reference"),
    "name": ("Full name", "Enter the person's full name"),
    "pronouns": ("Pronouns", ""),
    "role": ("Role", "Select the person's role"),
    "status": ("Status", "Select a status"),
    "contact_method": ("How they want to be contacted", "Select how they want to be contacted"),
    "email": ("Email address", "Enter an email address"),
    "phone": ("Phone number", "Enter a phone number"),
    "postal_address": ("Postal address", "Enter a postal address"),
    "information_format": ("Format for information", "Select a format"),
    "communication_professional": ("Communication professional", ""),
    "communication_support": ("Other communication support", ""),
    "proxy_name": ("Name of the person who gets their messages", "Enter the name of the person who gets their messages"),
    "proxy_relationship": ("How they know the person who gets their messages", ""),
    "proxy_email": ("Email address of the person who gets their messages", ""),
    "proxy_phone": ("Phone number of the person who gets their messages", ""),
    "proxy_postal_address": ("Postal address of the person who gets their messages", ""),
    "proxy_consent": (
        "Agreed we send their messages to this person",
        "Select whether they agreed we send their messages to this person",
    ),
    "system": ("Local health and care area code", "Enter the code of their local health and care area, for example QHM"),
    "organisation": ("Organisation", ""),
    "town": ("Town or city", "Enter a town or city"),
    "latitude": ("Latitude", "Enter a latitude"),
    "longitude": ("Longitude", "Enter a longitude"),
    "max_travel_km": ("How far they can travel", ""),
    "meeting_modes": ("Ways they can meet", "Select at least one way they can meet"),
    "availability": ("Weekly free times", ""),
    "unavailable_dates": ("Dates they cannot do", ""),
    "term_time_only": ("Term time only", ""),
    "min_notice_days": ("Days of notice they need", ""),
    "quiet_hours_start": ("No texts or calls from", ""),
    "quiet_hours_end": ("Texts and calls again from", ""),
    "hours_per_month": ("Hours a month they can give", ""),
    "access_needs": ("Access needs", ""),
    "topics": ("Topics they care about", ""),
    "challenge": ("Their local challenge", ""),
    "experience": ("Experience", "Select their experience"),
    "capacity": ("How many partners they can take", ""),
    "release_confirmed": ("Manager has agreed the time", ""),
    "do_not_pair_with": ("Never pair them with", ""),
}
LIST_FIELDS = ("meeting_modes", "access_needs")
SPECIAL_CATEGORY_FIELDS = (
    "access_needs",
    "contact_method",
    "information_format",
    "communication_professional",
    "communication_support",
    "challenge",
    "email",
    "phone",
    "postal_address",
)


def message_for(field: str, message: str, fields: Mapping[str, tuple[str, str]]) -> str:
    label, missing = fields.get(field, (field.replace("_", " ").capitalize(), ""))
    for pattern, words in (
        (r"greater than or equal to (\S+)", "must be {} or more"),
        (r"less than or equal to (\S+)", "must be {} or less"),
        (r"greater than (\S+)", "must be more than {}"),
        (r"less than (\S+)", "must be less than {}"),
        (r"at most (\d+) characters", "must be {} characters or fewer"),
    ):
        if found := re.search(pattern, message):
            message = words.format(found.group(1))
            break
    if message in ("is required", "must not be empty") or message.startswith("needs at least"):
        return missing or f"Enter {label.lower()}"
    if message.startswith(("must", "is ", "needs", "should")):
        return f"{label} {message}"
    return f"{label}: {message}"


def ordered(errors: dict[str, str], fields: Mapping[str, Any]) -> list[tuple[str, str]]:
    order = list(fields)
    return sorted(errors.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order))


# ---- leaders ----


def leader_values(form: Any) -> dict[str, Any]:
    """The form as it was sent, to show again with the errors."""
    values: dict[str, Any] = {name: (form.get(name) or "").strip() for name in LEADER_FIELDS if name not in LIST_FIELDS}
    for name in LIST_FIELDS:
        values[name] = [v for v in form.getlist(name) if v]
    return values


def _lines(text: str) -> str:
    return "; ".join(p.strip() for p in re.split(r"[\n;,]+", text or "") if p.strip())


def leader_from_values(
    values: dict[str, Any],
    leader_id: str | None = None,
    consents: list[Any] | None = None,
    now: dt.datetime | None = None,
) -> tuple[LeaderIn | None, dict[str, str]]:
    """The leader, or the problems by field. `consents` are the ones already recorded (when
    changing someone's details): kept, with the answer about the person who gets their messages added when it changed."""
    cells: dict[str, object] = {}
    for name, value in values.items():
        if name == "proxy_consent":
            continue  # a consent, recorded with its time below; not a column
        if name in LIST_FIELDS:
            cells[name] = "; ".join(value)
        elif name in ("availability", "unavailable_dates", "topics", "do_not_pair_with"):
            cells[name] = _lines(value)
        elif name == "release_confirmed" and value not in ("yes", "no"):
            cells[name] = None
        else:
            cells[name] = value
    if leader_id:
        cells["id"] = leader_id
    errors: dict[str, str] = {}
    if not cells.get("meeting_modes"):
        errors["meeting_modes"] = LEADER_FIELDS["meeting_modes"][1]
    try:
        leader = row_to_leader(cells, locate_town)
    except ValidationError as exc:
        for detail in describe(exc.errors()):
            column = column_of(detail["field"])
            if column == "location":
                column = "latitude"
            errors.setdefault(column, message_for(column, detail["message"], LEADER_FIELDS))
        return None, errors
    except ValueError as exc:
        column, _, message = str(exc).partition(": ")
        if not message or column not in LEADER_FIELDS:
            column, message = "town", str(exc)
            message = message[0].upper() + message[1:]
            errors[column] = message
        else:
            errors[column] = message_for(column, message, LEADER_FIELDS)
        return None, errors
    if errors:
        return None, errors
    if leader.contact_problem():
        field = {"email": "email", "sms": "phone", "telephone": "phone", "text_relay": "phone", "letter": "postal_address"}[
            leader.contact_method
        ]
        errors[field] = (
            f"{LEADER_FIELDS[field][1]}, because they want to be contacted by {CONTACT_NAMES[leader.contact_method].lower()}"
        )
        return None, errors
    agreed = values.get("proxy_consent") or ""
    if agreed == "yes" and leader.proxy is None:
        errors["proxy_name"] = f"{LEADER_FIELDS['proxy_name'][1]}, because they agreed we send their messages to someone"
        return None, errors
    recorded = [c if isinstance(c, Consent) else Consent.model_validate(c) for c in consents or []]
    if agreed in ("yes", "no"):
        moment = now or dt.datetime.now(dt.UTC)
        recorded = with_consent(recorded, PROXY_CONSENT, agreed == "yes", moment)
    return leader.model_copy(update={"consents": recorded}), {}


def values_from_leader(view: dict[str, Any]) -> dict[str, Any]:
    """A stored leader (as read_leader returns it) as form values."""
    values: dict[str, Any] = {name: "" for name in LEADER_FIELDS}
    for name in LEADER_FIELDS:
        value = view.get(name)
        if value is None:
            continue
        if name in LIST_FIELDS:
            values[name] = list(value)
        elif name == "availability":
            values[name] = "\n".join(f"{w['day']} {w['start'][:5]}-{w['end'][:5]}" for w in value)
        elif name == "unavailable_dates":
            values[name] = "\n".join(str(v) for v in value)
        elif name == "do_not_pair_with" or name == "topics":
            values[name] = "; ".join(value)
        elif isinstance(value, bool):
            values[name] = "yes" if value else "no"
        elif isinstance(value, float) and value.is_integer():
            values[name] = str(int(value))
        else:
            values[name] = str(value)
    for name in LIST_FIELDS:
        values[name] = list(view.get(name) or [])
    proxy = view.get("proxy") or {}
    for part in ("name", "relationship", "email", "phone", "postal_address"):
        values[f"proxy_{part}"] = proxy.get(part) or ""
    if any(c.get("purpose") == PROXY_CONSENT for c in view.get("consents") or []):
        values["proxy_consent"] = "yes" if proxy_agreed(view) else "no"
    location = view.get("location") or {}
    if location:
        values["latitude"], values["longitude"] = str(location.get("lat", "")), str(location.get("lon", ""))
    return values


def proxy_agreed(view: dict[str, Any]) -> bool:
    """Whether the leader's latest answer is yes to sending their messages to the person they named."""
    return consent_given([Consent.model_validate(c) for c in view.get("consents") or []], PROXY_CONSENT)


def say_window(window: dict[str, str]) -> str:
    return f"{DAY_NAMES.get(window['day'], window['day'])} {window['start'][:5]} to {window['end'][:5]}"


# ---- rounds ----

ROUND_FIELDS: dict[str, tuple[str, str]] = {
    "name": ("Name of the round", ""),
    "round_id": ("Reference for the round", ""),
    "who": ("Who to pair", "Select who to pair"),
    "area": ("Local health and care area", "Select a local health and care area"),
    "cohort": ("Cohort", "Select a cohort"),
    "sessions": ("Required sessions", ""),
    "school_holidays": ("School holidays", ""),
    "min_shared_hours_per_week": ("Shared free time each week", "Enter the hours of shared free time each week"),
    "allow_cross_system_remote": ("Pairs across local areas", "Select whether people in different areas can be paired"),
    "time_limit_seconds": ("Time limit for the matcher", "Enter a time limit in seconds"),
    "min_pairs_per_area": ("Minimum pairs in an area", ""),
    "weight_topics": ("How much shared topics count", "Enter how much shared topics count, from 0 to 100"),
    "weight_travel": ("How much a short journey counts", "Enter how much a short journey counts, from 0 to 100"),
    "weight_experience": (
        "How much experience to learn from counts",
        "Enter how much experience to learn from counts, from 0 to 100",
    ),
    "weight_organisation": (
        "How much different organisations count",
        "Enter how much different organisations count, from 0 to 100",
    ),
}
WEIGHTS = ("topics", "travel", "experience", "organisation")
MINIMUM_LINE = re.compile(r"^([A-Za-z0-9]{1,20})\s*[:=]?\s*(\d{1,6})$")
ROUND_TEXT_FIELDS = tuple(ROUND_FIELDS)

_DATE = r"(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}\s+[A-Za-z]+\s+\d{4})"
_TIME = r"(\d{1,2}[:.]\d{2})"
# Where the session is, or how to join, may follow the times: "... 10:00 to 12:00 at Room 2, Civic Centre, Leeds".
SESSION_LINE = re.compile(
    rf"^{_DATE}\s*,?\s+(?:from\s+)?{_TIME}\s*(?:-|to)\s*{_TIME}(?:(?:\s*[,;]\s*|\s+)(?:at\s+)?(.+))?$", re.I
)
HOLIDAY_LINE = re.compile(rf"^{_DATE}\s*(?:-|to)\s*{_DATE}$", re.I)


def parse_date(text: str) -> dt.date:
    text = text.strip()
    if re.match(r"^\d{4}-", text):
        return dt.date.fromisoformat("-".join(part.zfill(2) for part in text.split("-")))
    day, month, year = text.split()
    name = month.lower()
    found = [i for i, m in enumerate(MONTHS, start=1) if m.startswith(name[:3])]
    if len(name) < 3 or not found:
        raise ValueError(month)
    return dt.date(int(year), found[0], int(day))


def _time(text: str) -> str:
    hours, minutes = re.split(r"[:.]", text)
    return f"{int(hours):02d}:{minutes}"


def round_values(form: Any) -> dict[str, str]:
    return {name: (form.get(name) or "").strip() for name in ROUND_TEXT_FIELDS}


def round_command(values: dict[str, str], leader_ids: list[str] | None, cohort_supported: bool):
    """A LaunchRound for the form, or the problems by field."""
    from services.registry.domain.commands import LaunchRound

    errors: dict[str, str] = {}
    sessions: list[dict[str, str]] = []
    for number, line in enumerate(filter(None, (text.strip() for text in values["sessions"].splitlines())), start=1):
        match = SESSION_LINE.match(line)
        try:
            if not match:
                raise ValueError(line)
            date = parse_date(match.group(1))
            place = {"place": match.group(4).strip()} if match.group(4) else {}
            sessions.append({"date": date.isoformat(), "start": _time(match.group(2)), "end": _time(match.group(3)), **place})
        except ValueError:
            errors["sessions"] = (
                f"Required sessions: line {number} ({line!r}) should look like '2027-03-02 10:00 to 12:00' "
                "or '2 March 2027 10:00 to 12:00 at Room 2, Civic Centre, Leeds'"
            )
            break
    holidays: list[dict[str, str]] = []
    for number, line in enumerate(filter(None, (text.strip() for text in values["school_holidays"].splitlines())), start=1):
        match = HOLIDAY_LINE.match(line)
        try:
            if not match:
                raise ValueError(line)
            holidays.append({"from": parse_date(match.group(1)).isoformat(), "to": parse_date(match.group(2)).isoformat()})
        except ValueError:
            errors["school_holidays"] = f"School holidays: line {number} ({line!r}) should look like '2027-02-15 to 2027-02-19'"
            break
    if values["who"] not in ("all", "area", "cohort"):
        errors["who"] = ROUND_FIELDS["who"][1]
    elif values["who"] == "area" and not values["area"]:
        errors["area"] = ROUND_FIELDS["area"][1]
    elif values["who"] == "cohort" and not values["cohort"]:
        errors["cohort"] = ROUND_FIELDS["cohort"][1]
    if values["allow_cross_system_remote"] not in ("yes", "no"):
        errors["allow_cross_system_remote"] = ROUND_FIELDS["allow_cross_system_remote"][1]
    minimums: dict[str, int] = {}
    for number, line in enumerate(filter(None, (text.strip() for text in values["min_pairs_per_area"].splitlines())), start=1):
        if not (match := MINIMUM_LINE.match(line)):
            errors["min_pairs_per_area"] = (
                f"Minimum pairs in an area: line {number} ({line!r}) should be an area code and a number, like 'QHM 3'"
            )
            break
        minimums[match.group(1).upper()] = int(match.group(2))
    data: dict[str, Any] = {
        "sessions": sessions,
        "school_holidays": holidays,
        "allow_cross_system_remote": values["allow_cross_system_remote"] == "yes",
        "min_pairs_per_system": minimums,
        "weights": {},
    }
    for part in WEIGHTS:
        if values[f"weight_{part}"]:
            data["weights"][part] = values[f"weight_{part}"]
        else:
            errors.setdefault(f"weight_{part}", ROUND_FIELDS[f"weight_{part}"][1])
    if values["round_id"]:
        data["id"] = values["round_id"]
    if values.get("name"):
        data["name"] = values["name"]
    for name in ("min_shared_hours_per_week", "time_limit_seconds"):
        if values[name]:
            data[name] = values[name]
        else:
            errors.setdefault(name, ROUND_FIELDS[name][1])
    if leader_ids is not None:
        data["leader_ids"] = leader_ids
    if values["who"] == "cohort" and cohort_supported:
        data["cohort_id"] = values["cohort"]
    try:
        command = LaunchRound.model_validate(data)
    except ValidationError as exc:
        for detail in describe(exc.errors()):
            parts = detail["field"].split(".")
            field = parts[0].split("[")[0]
            if field == "weights":  # one weight, or all of them together (then shown at the first)
                field = f"weight_{parts[1]}" if len(parts) > 1 and parts[1] in WEIGHTS else "weight_topics"
            field = {
                "id": "round_id",
                "leader_ids": "who",
                "cohort_id": "cohort",
                "min_pairs_per_system": "min_pairs_per_area",
            }.get(field, field)
            message = detail["message"]
            if field == "round_id" and ("pattern" in message.lower() or "should match" in message.lower()):
                message = "must use only letters, digits, dots, dashes and underscores"
            errors.setdefault(field, message_for(field, message, ROUND_FIELDS))
        return None, errors
    if errors:
        return None, errors
    return command, {}
