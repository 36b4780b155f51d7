"""A programme's own details: how people reach its team without the internet, and when it is closed.

Every message gives the team's named contact, phone number, email address and
postal address, so someone who gets a letter can phone or write back. A round
launched for everyone, or for an area, uses the registry's default programme.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.cohort import Session
from schemas.events import CheckInPlan, ProgrammeContact
from services.registry.domain.leaders import _check_email
from services.registry.domain.meetings import Closure, parse_closure, parse_closures

DEFAULT_TEAM = "the patient leader programme team"
DEFAULT_CLOSURE_TEXT = "12-24..01-01"
PHONE_HELP = "must be a UK phone number, for example 0113 496 0000 or +44 113 496 0000"


def check_uk_phone(value: str | None) -> str | None:
    """A UK number as people write it (spaces, dashes, brackets, +44): 10 or 11 digits from the 0."""
    if value is None or not value.strip():
        return None
    digits = re.sub(r"[\s()-]", "", value.strip())
    digits = re.sub(r"^(?:\+|00)44(?:0)?", "0", digits)
    if not re.fullmatch(r"0[1235789]\d{8,9}", digits):
        raise ValueError(PHONE_HELP)
    return value.strip()


def _blank_is_none(value: str | None) -> str | None:
    return value.replace("\r\n", "\n").strip() or None if isinstance(value, str) else value


class ProgrammeDetails(BaseModel):
    """What a manager records about a programme besides its name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    team: str | None = Field(
        default=None,
        max_length=200,
        description=f"The team's name as it reads in a sentence, for example: {DEFAULT_TEAM}",
    )
    contact_person: str | None = Field(default=None, max_length=200, description="The named person people can contact")
    phone: str | None = Field(default=None, max_length=40, description="A UK phone number people can call")
    email: str | None = Field(default=None, max_length=320)
    postal_address: str | None = Field(
        default=None, max_length=500, description="Where letters and reply slips go, one line per line"
    )
    closure_periods: list[str] = Field(
        default_factory=lambda: [DEFAULT_CLOSURE_TEXT],
        max_length=50,
        description="When the programme is closed, so no date is proposed then: 12-24..01-01 (month-day, "
        "every year) or 2027-04-01..2027-04-05 (once)",
    )
    next_round_on: dt.date | None = Field(default=None, description="When the programme next makes pairs, when set")
    # Issue 18: when people in a pair are asked how it is going; none means the default (30, then every 60 days).
    check_in_first_days: int | None = Field(
        default=None, ge=1, le=365, description="Days after publishing before the first check-in (default 30)"
    )
    check_in_every_days: int | None = Field(
        default=None, ge=1, le=365, description="Days between check-ins after the first, until the round closes (default 60)"
    )

    _blanks = field_validator("team", "contact_person", "phone", "email", "postal_address", mode="before")(_blank_is_none)
    _phone_is_uk = field_validator("phone")(check_uk_phone)
    _email_looks_right = field_validator("email")(_check_email)

    @field_validator("closure_periods")
    @classmethod
    def _closures_read(cls, value: list[str]) -> list[str]:
        return [parse_closure(text).text() for text in value if text.strip()]

    def closures(self) -> tuple[Closure, ...]:
        return tuple(parse_closure(text) for text in self.closure_periods)


def contact_of(
    team: str | None, person: str | None, phone: str | None, email: str | None, postal_address: str | None
) -> ProgrammeContact:
    return ProgrammeContact(team=team or DEFAULT_TEAM, person=person, phone=phone, email=email, postal_address=postal_address)


def closures_of(texts: list[str] | None, default: str = DEFAULT_CLOSURE_TEXT) -> tuple[Closure, ...]:
    """A programme's stored closure periods; the default when it never set any."""
    return tuple(parse_closure(t) for t in texts) if texts is not None else parse_closures(default)


@dataclass(frozen=True)
class ProgrammeDefaults:
    """The registry's own programme, from its settings: for rounds launched for everyone or an area."""

    contact: ProgrammeContact = field(default_factory=lambda: contact_of(None, None, None, "pairing@example.nhs.uk", None))
    closure_periods: str = DEFAULT_CLOSURE_TEXT


@dataclass(frozen=True)
class ProgrammeTerms:
    """What a round's messages and dates take from its programme."""

    contact: ProgrammeContact
    closures: tuple[Closure, ...]
    next_round_on: dt.date | None
    where_to_add: str  # where a manager adds a missing contact detail, in plain words
    check_ins: CheckInPlan | None = None  # None: the notifier's default (30 days, then every 60)

    def outcome_fields(self, sessions: list[Session]) -> dict[str, Any]:
        fields = {"programme": self.contact, "sessions": sessions, "next_round_on": self.next_round_on}
        return fields | ({"check_ins": self.check_ins} if self.check_ins else {})


def check_in_plan(first_days: int | None, every_days: int | None) -> CheckInPlan | None:
    """A programme's check-in schedule; None when it kept the default for both."""
    if first_days is None and every_days is None:
        return None
    defaults = CheckInPlan()
    return CheckInPlan(first_days=first_days or defaults.first_days, every_days=every_days or defaults.every_days)


def terms_of(programme: Any | None, defaults: ProgrammeDefaults) -> ProgrammeTerms:
    """A programme's terms (a stored programme, or None for a round for everyone or an area)."""
    if programme is None:
        return ProgrammeTerms(
            defaults.contact,
            parse_closures(defaults.closure_periods),
            None,
            "to the registry's settings (REGISTRY_PROGRAMME_PHONE and REGISTRY_PROGRAMME_POSTAL_ADDRESS) and restart "
            "the registry, or launch the round for a cohort whose programme has them",
        )
    contact = contact_of(
        programme.team or defaults.contact.team,
        programme.contact_person,
        programme.phone,
        programme.email,
        programme.postal_address,
    )
    return ProgrammeTerms(
        contact,
        closures_of(programme.closure_periods, defaults.closure_periods),
        programme.next_round_on,
        f"on the programme's page (Programmes, then {programme.name}, then Change these details)",
        check_in_plan(getattr(programme, "check_in_first_days", None), getattr(programme, "check_in_every_days", None)),
    )


# People whose messages go on paper, by text or through a member of staff cannot follow a web link.
OFFLINE_METHODS = frozenset({"letter", "sms", "telephone", "text_relay", "via_carer"})
OFFLINE_FORMATS = frozenset({"braille", "audio"})


def answers_without_internet(contact: dict[str, Any]) -> bool:
    """Whether this person's message needs a phone number and a postal address to answer by."""
    return (
        contact.get("contact_method") in OFFLINE_METHODS
        or contact.get("information_format") in OFFLINE_FORMATS
        or bool(contact.get("communication_support") or contact.get("communication_professional"))
    )


def offline_contact_problem(terms: ProgrammeTerms, people_offline: int) -> str | None:
    """Why the round cannot be published yet, and exactly what to add where; None when it can."""
    missing = missing_for_offline_contact(terms.contact)
    if not missing or not people_offline:
        return None
    who = "1 person" if people_offline == 1 else f"{people_offline} people"
    return (
        f"This round cannot be published yet. {who} in it will get a letter, a text message or a message that a member "
        "of staff gives them, and it must tell them how to answer without the internet. "
        f"Add {' and '.join(missing)} {terms.where_to_add}, then publish again."
    )


def missing_for_offline_contact(contact: ProgrammeContact) -> list[str]:
    """What a programme must add before it can write to people who get letters, texts or a task for a person."""
    return [
        words for words, value in (("a phone number", contact.phone), ("a postal address", contact.postal_address)) if not value
    ]
