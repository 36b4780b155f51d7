"""Commands a programme manager gives the registry."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from schemas.cohort import DateRange, FitWeights, LeaderId, Pair, Session
from services.registry.domain.programmes import ProgrammeDetails
from services.registry.domain.text import Line


class LaunchRound(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")
    name: Line | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="What people call the round; defaults to the programme, cohort (or area) and month, "
        "like 'Tyneside 2027 cohort, January 2027' or 'Everyone, January 2027'",
    )
    launch_date: dt.date | None = Field(default=None, description="Defaults to today")
    sessions: list[Session] = Field(default_factory=list, max_length=500)
    school_holidays: list[DateRange] = Field(default_factory=list, max_length=100)
    min_shared_hours_per_week: float = Field(default=1.0, ge=0, le=168)
    allow_cross_system_remote: bool = True
    time_limit_seconds: float = Field(default=10, gt=0, le=3600)
    seed: int = Field(default=0, ge=0)
    weights: FitWeights = Field(default_factory=FitWeights, description="How much each part of the fit score counts")
    min_pairs_per_system: dict[Annotated[str, Field(max_length=20)], Annotated[int, Field(ge=0, le=100_000)]] = Field(
        default_factory=dict,
        max_length=500,
        description="At least this many pairs in each named area (integrated care system code)",
    )
    leader_ids: list[Annotated[LeaderId, Field(max_length=100)]] | None = Field(
        default=None, description="Defaults to the cohort's active members, or else every active leader"
    )
    cohort_id: str | None = Field(default=None, max_length=100)
    locked_pairs: list[Pair] = Field(default_factory=list)
    forbidden_pairs: list[Pair] = Field(default_factory=list)


class ApproveRound(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    approved_by: Line = Field(min_length=1, max_length=200, description="The person who checked the pairs")


class ProgrammeChange(ProgrammeDetails):
    """A programme's name and details, as a manager sets them (a change replaces them all)."""

    name: Line = Field(min_length=1, max_length=200)


class NewProgramme(ProgrammeChange):
    id: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")


class NewCohort(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")
    name: Line = Field(min_length=1, max_length=200)
    leader_ids: list[LeaderId] = Field(default_factory=list)


class CohortMembers(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    leader_ids: list[LeaderId] = Field(min_length=1)


class PairChoice(BaseModel):
    """A pair the manager locks in or rules out while reviewing a round."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lived_experience_id: LeaderId
    professional_id: LeaderId
