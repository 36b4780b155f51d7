"""Small cohort builders for the matcher's unit tests (a plain module: tests import it)."""

from __future__ import annotations

from typing import Any

from schemas.cohort import Cohort, CohortResult

LEEDS = {"lat": 53.80, "lon": -1.55}
# About 8 km east of LEEDS.
NEAR_LEEDS = {"lat": 53.80, "lon": -1.4286}


def leader(id: str, role: str = "patient_leader", **fields: Any) -> dict[str, Any]:
    """A leader who can be paired with the default leader of the other side."""
    professional = role in ("clinical_leader", "managerial_leader")
    base: dict[str, Any] = {
        "id": id,
        "role": role,
        "system": "QWO",
        "location": NEAR_LEEDS if professional else LEEDS,
        "max_travel_km": 20,
        "meeting_modes": ["in_person", "video"],
        "availability": [{"day": "tue", "start": "10:00", "end": "12:30"}],
        "topics": ["cardiac", "discharge"],
        "release_confirmed": True if professional else None,
    }
    return base | fields


def prof(id: str, **fields: Any) -> dict[str, Any]:
    return leader(id, "clinical_leader", **fields)


def cohort(*leaders: dict[str, Any], round: dict[str, Any] | None = None, **lists: Any) -> Cohort:
    spec = {
        "id": "test-round",
        "launch_date": "2026-12-01",
        "sessions": [{"date": "2027-01-12", "start": "10:00", "end": "15:00"}],
        "school_holidays": [{"from": "2027-02-15", "to": "2027-02-19"}],
        "min_shared_hours_per_week": 1.0,
        "allow_cross_system_remote": True,
    }
    return Cohort.model_validate({"round": spec | (round or {}), "leaders": list(leaders), **lists})


def pairs_of(result: CohortResult) -> set[tuple[str, str]]:
    """The pairs a solve made, as (lived-experience leader, professional) ids."""
    return {(p.lived_experience_id, p.professional_id) for p in result.pairs}
