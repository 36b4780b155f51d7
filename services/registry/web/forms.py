"""Turning form fields into commands, and validation problems into messages
that name each field, for the NHS error summary."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from services.common.errors import describe
from services.registry.adapters.areas import areas
from services.registry.adapters.gazetteer import locate_town
from services.registry.domain.importing import column_of, forget_cells, row_to_leader
from services.registry.domain.leaders import PROXY_CONSENT, Consent, LeaderIn, consent_given, with_consent
from services.registry.web import round_dates

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
# The field that must be filled in for each way of being contacted.
CONTACT_FIELDS = {"email": "email", "sms": "phone", "telephone": "phone", "text_relay": "phone", "letter": "postal_address"}
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
    "system": ("Local health and care area", "Select their local health and care area"),
    "organisation": ("Organisation", ""),
    "town": ("Where they live", ""),
    "max_travel_miles": ("How far they can travel, in miles", ""),
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
LIST_FIELDS = ("meeting_modes", "access_needs", "do_not_pair_with")
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


def _cell(name: str, value: Any) -> object:
    """One form field as the spreadsheet column row_to_leader reads."""
    if name in LIST_FIELDS:
        return "; ".join(value)
    if name in ("availability", "unavailable_dates", "topics"):
        return _lines(value)
    if name == "release_confirmed" and value not in ("yes", "no"):
        return None
    return value


def _leader_cells(values: dict[str, Any], leader_id: str | None) -> dict[str, object]:
    # the answer about the person who gets their messages is a consent, recorded with its time; not a column
    cells = {name: _cell(name, value) for name, value in values.items() if name != "proxy_consent"}
    if leader_id:
        cells["id"] = leader_id
    return cells


def _invalid_leader(exc: ValidationError, errors: dict[str, str]) -> None:
    for detail in describe(exc.errors()):
        column = "town" if (column := column_of(detail["field"])) in ("location", "latitude", "longitude") else column
        errors.setdefault(column, message_for(column, detail["message"], LEADER_FIELDS))


def _unreadable_leader(exc: ValueError, errors: dict[str, str]) -> None:
    column, _, message = str(exc).partition(": ")
    if not message or column not in LEADER_FIELDS:
        errors["town"] = str(exc)[0].upper() + str(exc)[1:]
    else:
        errors[column] = message_for(column, message, LEADER_FIELDS)


def _read_leader(cells: dict[str, object], errors: dict[str, str]) -> LeaderIn | None:
    """The leader in the cells, or None with the problems added to `errors`."""
    try:
        return row_to_leader(cells, locate_town, areas())
    except ValidationError as exc:
        _invalid_leader(exc, errors)
    except ValueError as exc:
        _unreadable_leader(exc, errors)
    finally:
        forget_cells()
    return None


def _contact_errors(leader: LeaderIn) -> dict[str, str]:
    if not leader.contact_problem():
        return {}
    field, way = CONTACT_FIELDS[leader.contact_method], CONTACT_NAMES[leader.contact_method].lower()
    return {field: f"{LEADER_FIELDS[field][1]}, because they want to be contacted by {way}"}


def _proxy_errors(leader: LeaderIn, agreed: str) -> dict[str, str]:
    if agreed == "yes" and leader.proxy is None:
        return {"proxy_name": f"{LEADER_FIELDS['proxy_name'][1]}, because they agreed we send their messages to someone"}
    return {}


def _consents_after(consents: list[Any] | None, agreed: str, now: dt.datetime | None) -> list[Consent]:
    recorded = [c if isinstance(c, Consent) else Consent.model_validate(c) for c in consents or []]
    if agreed in ("yes", "no"):
        moment = now or dt.datetime.now(dt.UTC)
        recorded = with_consent(recorded, PROXY_CONSENT, agreed == "yes", moment)
    return recorded


def leader_from_values(
    values: dict[str, Any],
    leader_id: str | None = None,
    consents: list[Any] | None = None,
    now: dt.datetime | None = None,
) -> tuple[LeaderIn | None, dict[str, str]]:
    """The leader, or the problems by field. `consents` are the ones already recorded (when
    changing someone's details): kept, with the answer about the person who gets their messages added when it changed."""
    cells = _leader_cells(values, leader_id)
    errors: dict[str, str] = {}
    if not cells.get("meeting_modes"):
        errors["meeting_modes"] = LEADER_FIELDS["meeting_modes"][1]
    leader = _read_leader(cells, errors)
    if leader is None or errors:
        return None, errors
    agreed = values.get("proxy_consent") or ""
    if problems := _contact_errors(leader) or _proxy_errors(leader, agreed):
        return None, problems
    return leader.model_copy(update={"consents": _consents_after(consents, agreed, now)}), {}


def _form_value(name: str, value: Any) -> Any:
    """One stored value as the form shows it."""
    if name in LIST_FIELDS:
        return list(value)
    if name == "availability":
        return "\n".join(f"{w['day']} {w['start'][:5]}-{w['end'][:5]}" for w in value)
    if name == "unavailable_dates":
        return "\n".join(str(v) for v in value)
    if name == "topics":
        return "; ".join(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _proxy_values(view: dict[str, Any]) -> dict[str, str]:
    """The person who gets their messages, and whether the leader agreed, as form values."""
    proxy = view.get("proxy") or {}
    values = {f"proxy_{part}": proxy.get(part) or "" for part in ("name", "relationship", "email", "phone", "postal_address")}
    if any(c.get("purpose") == PROXY_CONSENT for c in view.get("consents") or []):
        values["proxy_consent"] = "yes" if proxy_agreed(view) else "no"
    return values


def values_from_leader(view: dict[str, Any]) -> dict[str, Any]:
    """A stored leader (as read_leader returns it) as form values."""
    values: dict[str, Any] = {name: "" for name in LEADER_FIELDS}
    for name in LEADER_FIELDS:
        if (value := view.get(name)) is not None:
            values[name] = _form_value(name, value)
    for name in LIST_FIELDS:
        values[name] = list(view.get(name) or [])
    values.update(_proxy_values(view))
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
MINIMUM_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9 ,&'-]{0,99}?)\s*[:=]?\s*(\d{1,6})$")
ROUND_TEXT_FIELDS = tuple(ROUND_FIELDS)


def round_values(form: Any) -> dict[str, str]:
    """The form as it was sent: its fields, and the rows of sessions and school holidays (flat)."""
    return {name: (form.get(name) or "").strip() for name in ROUND_TEXT_FIELDS} | round_dates.values_of(form)


def round_error_order(values: dict[str, str]) -> dict[str, str]:
    """The launch form's fields in the order they are on the page, for the error summary."""
    names = list(ROUND_FIELDS)
    at = names.index("cohort") + 1
    return dict.fromkeys([*names[:at], *round_dates.field_order(values), *names[at:]], "")


LINE_PROBLEMS = {
    "min_pairs_per_area": "Minimum pairs in an area: line {number} ({line!r}) should be an area's name or code and a number, "
    "like 'West Yorkshire 3' or 'QWO 3'",
}
# Where LaunchRound's fields are on the form.
ROUND_FORM_FIELDS = {
    "id": "round_id",
    "leader_ids": "who",
    "cohort_id": "cohort",
    "min_pairs_per_system": "min_pairs_per_area",
    "sessions": "session_0_day",
    "school_holidays": "holiday_0_from_day",
}
Line = TypeVar("Line")


def _minimum(line: str) -> tuple[str, int]:
    if not (match := MINIMUM_LINE.match(line)):
        raise ValueError(line)
    return areas().read(match.group(1)).upper(), int(match.group(2))


def _read_lines(values: dict[str, str], name: str, read: Callable[[str], Line], errors: dict[str, str]) -> list[Line]:
    """Each filled-in line of the field read, up to the first that cannot be (named in `errors`)."""
    found: list[Line] = []
    for number, line in enumerate(filter(None, (text.strip() for text in values[name].splitlines())), start=1):
        try:
            found.append(read(line))
        except ValueError:
            errors[name] = LINE_PROBLEMS[name].format(number=number, line=line)
            break
    return found


def _choice_errors(values: dict[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if values["who"] not in ("all", "area", "cohort"):
        errors["who"] = ROUND_FIELDS["who"][1]
    elif values["who"] == "area" and not values["area"]:
        errors["area"] = ROUND_FIELDS["area"][1]
    elif values["who"] == "cohort" and not values["cohort"]:
        errors["cohort"] = ROUND_FIELDS["cohort"][1]
    if values["allow_cross_system_remote"] not in ("yes", "no"):
        errors["allow_cross_system_remote"] = ROUND_FIELDS["allow_cross_system_remote"][1]
    return errors


def _required(values: dict[str, str], names: tuple[str, ...], errors: dict[str, str]) -> dict[str, str]:
    """The fields filled in; the ones that are not go in `errors`."""
    given: dict[str, str] = {}
    for name in names:
        if values[name]:
            given[name] = values[name]
        else:
            errors.setdefault(name, ROUND_FIELDS[name][1])
    return given


def _optional(values: dict[str, str], leader_ids: list[str] | None, cohort_supported: bool) -> dict[str, Any]:
    """The reference, name and who to pair, when given."""
    given: dict[str, Any] = {"id": values["round_id"]} if values["round_id"] else {}
    if values.get("name"):
        given["name"] = values["name"]
    if leader_ids is not None:
        given["leader_ids"] = leader_ids
    if values["who"] == "cohort" and cohort_supported:
        given["cohort_id"] = values["cohort"]
    return given


def _round_field(path: str) -> str:
    """The form field for a LaunchRound field, or for all the weights together (shown at the first)."""
    parts = path.split(".")
    field = parts[0].split("[")[0]
    if field == "weights":
        return f"weight_{parts[1]}" if len(parts) > 1 and parts[1] in WEIGHTS else "weight_topics"
    return ROUND_FORM_FIELDS.get(field, field)


def _invalid_round(exc: ValidationError, errors: dict[str, str]) -> None:
    for detail in describe(exc.errors()):
        field = _round_field(detail["field"])
        message = detail["message"]
        if field == "round_id" and ("pattern" in message.lower() or "should match" in message.lower()):
            message = "must use only letters, digits, dots, dashes and underscores"
        errors.setdefault(field, message_for(field, message, ROUND_FIELDS))


def round_command(values: dict[str, str], leader_ids: list[str] | None, cohort_supported: bool):
    """A LaunchRound for the form, or the problems by field."""
    from services.registry.domain.commands import LaunchRound

    errors: dict[str, str] = {}
    data: dict[str, Any] = {
        "sessions": round_dates.sessions(values, errors),
        "school_holidays": round_dates.holidays(values, errors),
    }
    errors.update(_choice_errors(values))
    data["allow_cross_system_remote"] = values["allow_cross_system_remote"] == "yes"
    data["min_pairs_per_system"] = dict(_read_lines(values, "min_pairs_per_area", _minimum, errors))
    weights = _required(values, tuple(f"weight_{part}" for part in WEIGHTS), errors)
    data["weights"] = {name.removeprefix("weight_"): value for name, value in weights.items()}
    data.update(_required(values, ("min_shared_hours_per_week", "time_limit_seconds"), errors))
    data.update(_optional(values, leader_ids, cohort_supported))
    try:
        command = LaunchRound.model_validate(data)
    except ValidationError as exc:
        _invalid_round(exc, errors)
        return None, errors
    if errors:
        return None, errors
    return command, {}
