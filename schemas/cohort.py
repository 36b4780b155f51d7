"""Cohort file version 1: the matcher's input and its result.

The same models travel inside events, so the offline command
(`pairing match COHORT.json`) and the matcher service solve exactly the same
problem. Unknown fields are refused: a typo must never drop a constraint.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

Role = Literal["patient_leader", "carer_leader", "clinical_leader", "managerial_leader"]
LIVED_EXPERIENCE_ROLES: frozenset[str] = frozenset({"patient_leader", "carer_leader"})
PROFESSIONAL_ROLES: frozenset[str] = frozenset({"clinical_leader", "managerial_leader"})

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MeetingMode = Literal["in_person", "video", "phone"]
AccessNeed = Literal[
    "step_free_access",
    "hearing_loop",
    "bsl_interpreter",
    "quiet_room",
    "regular_breaks",
    "support_worker",
    "large_print_papers",
    "easy_read_papers",
]
Experience = Literal["new", "some", "experienced"]


class NamesAPerson:
    """The mark on every value that names a leader: a field, each item of a list, each half of a pair, or
    a key. On a topic it holds the person's event reference; inside the registry, its own id. The
    registry's translation (services/registry/event_refs.py) must turn every marked value from one to the
    other: tests/unit/registry/test_event_ref_fields.py walks every event and fails on one it misses."""

    def __repr__(self) -> str:
        return "NAMES_A_PERSON"


NAMES_A_PERSON = NamesAPerson()
LeaderId = Annotated[str, NAMES_A_PERSON]


# A time of day, Europe/London local time, written "09:30" or "09:30:00" with no offset.
# JSON Schema's `format: time` requires an offset, so the contract gives the pattern instead.
def _no_offset(value: dt.time) -> dt.time:
    if value.tzinfo is not None:
        raise ValueError(
            "write the time without an offset such as Z or +01:00: it is Europe/London local time, for example 09:30"
        )
    return value


LocalTime = Annotated[
    dt.time,
    AfterValidator(_no_offset),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
            "description": "A time of day in Europe/London local time, HH:MM or HH:MM:SS, for example 09:30",
        }
    ),
]


# Distances are kept in kilometres everywhere and shown to people in miles, as people in England think of them.
KM_PER_MILE = 1.609344


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Location(Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Window(Strict):
    """A weekly recurring window, Europe/London local time."""

    day: Day
    start: LocalTime
    end: LocalTime

    @model_validator(mode="after")
    def _ends_after_start(self) -> Window:
        if self.end <= self.start:
            raise ValueError("end must be later than start (for example start 10:00, end 12:30)")
        return self


class Session(Strict):
    """A mandatory meeting of the round, on a fixed date."""

    date: dt.date
    start: LocalTime
    end: LocalTime
    # Added within v1: messages say where each session is, or how to join it.
    place: str | None = Field(
        default=None,
        max_length=300,
        description="Where it is, or how to join, as people should read it (for example: Room 2, Civic Centre, Leeds LS1 1UR)",
    )

    @model_validator(mode="after")
    def _ends_after_start(self) -> Session:
        if self.end <= self.start:
            raise ValueError("end must be later than start")
        return self


class DateRange(Strict):
    from_: dt.date = Field(alias="from")
    to: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.to < self.from_:
            raise ValueError("'to' must be on or after 'from'")
        return self


class FitWeights(Strict):
    """How much each part of a pair's fit score counts in this round; only the ratios matter."""

    topics: float = Field(default=4.0, ge=0, le=100, description="Shared topics: the pair works on a shared challenge")
    travel: float = Field(default=2.0, ge=0, le=100, description="A short journey to meet in person")
    experience: float = Field(default=2.0, ge=0, le=100, description="Someone new paired with someone experienced")
    organisation: float = Field(default=1.0, ge=0, le=100, description="Different organisations, so the two meet as equals")

    @model_validator(mode="after")
    def _one_counts(self) -> FitWeights:
        if self.topics + self.travel + self.experience + self.organisation <= 0:
            raise ValueError("at least one weight must be above 0")
        return self


class RoundSpec(Strict):
    id: str = Field(min_length=1, max_length=100)
    launch_date: dt.date
    sessions: list[Session] = Field(default_factory=list)
    school_holidays: list[DateRange] = Field(default_factory=list)
    min_shared_hours_per_week: float = Field(default=1.0, ge=0, le=168)
    allow_cross_system_remote: bool = True
    time_limit_seconds: float = Field(default=10, gt=0, le=3600)
    seed: int = Field(default=0, ge=0)
    weights: FitWeights = Field(default_factory=FitWeights, description="How much each part of the fit score counts")
    min_pairs_per_system: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict,
        description=(
            "Optional minimum number of pairs per integrated care system code. A pair counts for "
            "the area of each of its two leaders (once when they share it); locked pairs count."
        ),
    )


class MatchingProfile(Strict):
    """What the matcher may know about a leader: coded, pseudonymous, no contact details."""

    id: LeaderId = Field(min_length=1, max_length=100)
    role: Role
    system: str = Field(min_length=1, max_length=20, description="Integrated care system code")
    organisation: str | None = None
    location: Location | None = None
    max_travel_km: float | None = Field(default=None, ge=0)
    meeting_modes: list[MeetingMode] = Field(min_length=1)
    availability: list[Window] = Field(default_factory=list)
    unavailable_dates: list[dt.date] = Field(default_factory=list)
    term_time_only: bool = False
    min_notice_days: int = Field(default=0, ge=0, le=365)
    access_needs: list[AccessNeed] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list)
    experience: Experience = "new"
    capacity: int = Field(default=1, ge=0, le=100)
    release_confirmed: bool | None = None
    do_not_pair_with: list[LeaderId] = Field(default_factory=list)
    # Added within v1 (issue 18): people left out before are paired first.
    left_out_before: bool = Field(
        default=False,
        description=(
            "True when, in this programme's earlier rounds, the leader was not paired or their pair ended or was "
            "declined: after the most pairs, the matcher pairs as many of these people as it can"
        ),
    )

    @property
    def is_professional(self) -> bool:
        return self.role in PROFESSIONAL_ROLES


Pair = tuple[LeaderId, LeaderId]


class Cohort(Strict):
    schema_version: Literal[1] = 1
    round: RoundSpec
    leaders: list[MatchingProfile]
    locked_pairs: list[Pair] = Field(default_factory=list)
    forbidden_pairs: list[Pair] = Field(default_factory=list)
    previous_pairs: list[Pair] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references_are_known(self) -> Cohort:
        roles = {leader.id: leader.role for leader in self.leaders}
        if len(roles) < len(self.leaders):  # some id is used twice: name the first one repeated
            seen: set[str] = set()
            for leader in self.leaders:
                if leader.id in seen:
                    raise ValueError(f"leader {leader.id}: id appears more than once; each leader needs its own id")
                seen.add(leader.id)
        for field in ("locked_pairs", "forbidden_pairs", "previous_pairs"):
            for a, b in getattr(self, field):
                for who in (a, b):
                    if who not in roles:
                        raise ValueError(f"{field}: leader {who} is not in the cohort's leaders")
                if field == "locked_pairs" and (roles[a] in PROFESSIONAL_ROLES) == (roles[b] in PROFESSIONAL_ROLES):
                    raise ValueError(
                        f"locked_pairs: {a} and {b} are on the same side; a pair needs one lived-experience "
                        "leader and one professional"
                    )
        return self


# ---- result -----------------------------------------------------------------

SolveStatus = Literal["optimal", "feasible", "infeasible", "cancelled"]

# Why a pair came first when someone in it was left out before. It is for the programme team only:
# told to the pair, it would tell one person something about the other.
PAIRED_FIRST_REASON = "We paired you first because {who} missed out on a partner in an earlier round."


def is_for_the_team_only(reason: str) -> bool:
    return reason.startswith(PAIRED_FIRST_REASON.split("{", 1)[0])


class PairResult(Strict):
    lived_experience_id: LeaderId
    professional_id: LeaderId
    score: int
    meeting_modes: list[MeetingMode]
    shared_windows: list[Window]
    reasons: list[str]
    locked: bool = False


class UnmatchedResult(Strict):
    id: LeaderId
    reason: str
    rule: str = Field(description="Code of the rule that removed most candidates, for reports")
    # Added within v1 (issue 16): for the programme team, never sent to the person.
    suggestion: str | None = Field(
        default=None,
        max_length=300,
        description=(
            "For the programme team: the one change that would let this person be paired, when the matcher found "
            "one that breaks no other rule (for example: Would be paired if they could meet by video)"
        ),
    )


class SolveStats(Strict):
    status: SolveStatus
    objective: dict[str, float] = Field(default_factory=dict)
    best_bound: dict[str, float] = Field(default_factory=dict)
    gap: float = 0.0
    wall_seconds: float = 0.0
    counts: dict[str, int] = Field(default_factory=dict)
    method: str = ""


class CohortResult(Strict):
    schema_version: Literal[1] = 1
    round_id: str
    pairs: list[PairResult]
    unmatched: list[UnmatchedResult]
    stats: SolveStats
    relaxations: list[str] = Field(
        default_factory=list,
        description=(
            "When the round cannot be solved as set up (status infeasible): "
            "the smallest changes that would allow it, in plain English"
        ),
    )
