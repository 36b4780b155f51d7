"""A leader as the registry holds them, and the two views it shares.

The matcher sees only the coded matching profile (no name, contact detail or
free text); the notifier sees only the contact view. Everything else stays in
the registry.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from schemas.cohort import (
    PROFESSIONAL_ROLES,
    AccessNeed,
    Experience,
    LeaderId,
    Location,
    MatchingProfile,
    MeetingMode,
    Role,
    Window,
)
from schemas.events import ContactMethod, ContactProxy, InformationFormat, LeaderContact
from services.registry.domain.text import Line, Text

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# contact_via_proxy: the leader agrees we send their messages to the person in `proxy` (a carer or someone else they name).
ConsentPurpose = Literal["pairing", "sharing_details_with_partner", "contact", "health_and_access_data", "contact_via_proxy"]
PROXY_CONSENT: ConsentPurpose = "contact_via_proxy"


class Consent(BaseModel):
    """What a person agreed to (or withdrew), for which purpose, and when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    purpose: ConsentPurpose
    given: bool
    at: dt.datetime


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def consent_given(consents: list[Consent], purpose: str) -> bool:
    """Whether the latest record for `purpose` says yes. No record means no."""
    records = sorted((c for c in consents if c.purpose == purpose), key=lambda c: _utc(c.at))
    return bool(records) and records[-1].given


def with_consent(consents: list[Consent], purpose: ConsentPurpose, given: bool, at: dt.datetime) -> list[Consent]:
    """The consents with this answer recorded; unchanged when it is already the current answer."""
    if consent_given(consents, purpose) == given and (given or any(c.purpose == purpose for c in consents)):
        return list(consents)
    return [*consents, Consent(purpose=purpose, given=given, at=at)]


def merged_consents(stored: list[Consent], incoming: list[Consent]) -> list[Consent]:
    """The consent history with what a spreadsheet says added: a record counts only when it is newer
    than the latest one kept for its purpose, so an old file never undoes a later change of mind,
    and a file with no consents never wipes them."""
    merged = list(stored)
    for record in sorted(incoming, key=lambda c: _utc(c.at)):
        latest = max((_utc(c.at) for c in merged if c.purpose == record.purpose), default=None)
        if latest is None or _utc(record.at) > latest:
            merged = with_consent(merged, record.purpose, record.given, record.at)
    return merged


def _check_email(value: str | None) -> str | None:
    if value is not None and not EMAIL.match(value):
        raise ValueError("must look like name@example.org")
    return value


class ProxyIn(BaseModel):
    """Someone the leader asked us to send their messages to: a carer, a relative, a friend.

    Used only when contact_method is via_carer and the leader's consent (contact_via_proxy) is recorded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Line = Field(min_length=1, max_length=200)
    relationship: Line | None = Field(
        default=None, max_length=100, description="How they know the leader, in a few words, for example: daughter"
    )
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    postal_address: Text | None = Field(default=None, max_length=500)

    _email_looks_right = field_validator("email")(_check_email)


LeaderStatus = Literal["active", "paused", "withdrawn"]

# A matching profile's fields in the order it writes them, and the values of those a leader's record lacks.
PROFILE_FIELDS = tuple(MatchingProfile.model_fields)
PROFILE_DEFAULTS = {"left_out_before": False}


class LeaderIn(BaseModel):
    """What a programme manager enters for one leader."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: LeaderId | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="Your own reference for this person (letters, digits, dot, dash, underscore). Made up if left out.",
    )
    name: Line = Field(min_length=1, max_length=200)
    pronouns: Line | None = Field(default=None, max_length=50)
    role: Role
    status: LeaderStatus = "active"
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    postal_address: Text | None = Field(default=None, max_length=500)
    contact_method: ContactMethod = "email"
    information_format: InformationFormat = "standard"
    communication_professional: Line | None = Field(default=None, max_length=200)
    communication_support: Text | None = Field(default=None, max_length=500)
    quiet_hours_start: dt.time | None = Field(
        default=None, description="No text messages or phone calls from this time (London time); give both ends or neither"
    )
    quiet_hours_end: dt.time | None = Field(
        default=None, validate_default=True, description="Text messages and phone calls again from this time"
    )
    proxy: ProxyIn | None = Field(
        default=None,
        description="With contact_method via_carer: the person who gets their messages. Used only when the consent "
        "contact_via_proxy is given",
    )

    system: str = Field(min_length=1, max_length=20, description="Code of the local health and care area")
    organisation: Line | None = Field(default=None, max_length=200)
    location: Location | None = None
    place: Line | None = Field(
        default=None,
        max_length=100,
        description="Where they live as people say it: a town or city, or the first half of a postcode (like LS6). "
        "Shown back; the matcher uses location",
    )
    max_travel_km: float | None = Field(default=None, ge=0, le=1000)
    meeting_modes: list[MeetingMode] = Field(min_length=1, max_length=10)
    availability: list[Window] = Field(default_factory=list, max_length=50)
    unavailable_dates: list[dt.date] = Field(default_factory=list, max_length=400)
    term_time_only: bool = False
    min_notice_days: int = Field(default=0, ge=0, le=365)
    hours_per_month: float | None = Field(default=None, ge=0, le=200)
    access_needs: list[AccessNeed] = Field(default_factory=list, max_length=30)
    topics: list[Annotated[Line, Field(max_length=60)]] = Field(default_factory=list, max_length=30)
    challenge: Text | None = Field(default=None, max_length=2000)
    experience: Experience = "new"
    capacity: int = Field(default=1, ge=0, le=100)
    release_confirmed: bool | None = None
    do_not_pair_with: list[Annotated[LeaderId, Field(max_length=100)]] = Field(default_factory=list, max_length=200)
    consents: list[Consent] = Field(
        default_factory=list, max_length=50, description="Consent per purpose, with when it was given"
    )

    @field_validator("email")
    @classmethod
    def _email_looks_right(cls, value: str | None) -> str | None:
        return _check_email(value)

    @field_validator("topics")
    @classmethod
    def _topics_are_tags(cls, value: list[str]) -> list[str]:
        return sorted({t.strip().lower() for t in value if t.strip()})

    @field_validator("quiet_hours_end")
    @classmethod
    def _quiet_hours_have_both_ends(cls, value: dt.time | None, info: ValidationInfo) -> dt.time | None:
        start = info.data.get("quiet_hours_start")
        if value is None and start is not None:
            raise ValueError("must be given too when quiet_hours_start is, for example 08:00")
        if value is not None and start is None and "quiet_hours_start" in info.data:
            raise ValueError("needs quiet_hours_start too, or leave both empty")
        return value

    def with_id(self) -> LeaderIn:
        return self if self.id else self.model_copy(update={"id": f"ldr-{uuid.uuid4().hex[:12]}"})

    def contact_problem(self) -> str | None:
        """The first missing detail that the chosen contact method needs, in plain words."""
        needs = {"email": "email", "sms": "phone", "telephone": "phone", "text_relay": "phone", "letter": "postal_address"}
        field = needs.get(self.contact_method)
        if field and not getattr(self, field):
            return f"contact_method is {self.contact_method}, so {field} is needed"
        return None

    def shared_proxy(self) -> ContactProxy | None:
        """The proxy, for the contact record: only when they asked to be contacted that way and agreed to it."""
        if self.proxy is None or self.contact_method != "via_carer" or not consent_given(self.consents, PROXY_CONSENT):
            return None
        return ContactProxy(**self.proxy.model_dump())

    def matching_profile(self) -> MatchingProfile:
        assert self.id
        return MatchingProfile(
            id=self.id,
            role=self.role,
            system=self.system,
            organisation=self.organisation,
            location=self.location,
            max_travel_km=self.max_travel_km,
            meeting_modes=self.meeting_modes,
            availability=self.availability,
            unavailable_dates=self.unavailable_dates,
            term_time_only=self.term_time_only,
            min_notice_days=self.min_notice_days,
            access_needs=self.access_needs,
            topics=self.topics,
            experience=self.experience,
            capacity=self.capacity if self.role in PROFESSIONAL_ROLES else 1,
            release_confirmed=self.release_confirmed,
            do_not_pair_with=self.do_not_pair_with,
        )

    def matching_profile_data(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """matching_profile() as it dumps to JSON, made from `record`, this leader dumped to JSON
        (model_dump(mode="json")): LeaderIn has checked every value already, and an import makes
        thousands, so the model is not built to check them again. Every field of a profile but
        left_out_before (the registry leaves it to the matcher) is a field of LeaderIn of the same type
        (tests/unit/registry/test_event_bodies.py compares this with matching_profile)."""
        data = {name: record[name] if name in record else PROFILE_DEFAULTS[name] for name in PROFILE_FIELDS}
        if self.role not in PROFESSIONAL_ROLES:
            data["capacity"] = 1
        return data

    def contact(self, version: int) -> LeaderContact:
        assert self.id
        return LeaderContact(
            leader_id=self.id,
            version=version,
            name=self.name,
            pronouns=self.pronouns,
            role=self.role,
            organisation=self.organisation,
            email=self.email,
            phone=self.phone,
            postal_address=self.postal_address,
            contact_method=self.contact_method,
            information_format=self.information_format,
            communication_professional=self.communication_professional,
            communication_support=self.communication_support,
            proxy=self.shared_proxy(),
            quiet_hours_start=self.quiet_hours_start,
            quiet_hours_end=self.quiet_hours_end,
        )
