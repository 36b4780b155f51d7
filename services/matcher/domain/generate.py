"""Realistic random cohorts for benchmarks and tests (invented people, never real data).

People live around a few English cities, one local health and care area each. Carers
have narrow weekly windows, some people meet only remotely or only in person, some
need an interpreter or cannot do a session date, a few professionals lack release.
The same arguments always give the same cohort.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from schemas.cohort import DAYS, Cohort

# Area code, centre (lat, lon): an approximate city centre for each area.
_AREAS = (
    ("QHM", 54.97, -1.61),  # Newcastle
    ("QWO", 53.80, -1.55),  # Leeds
    ("QOP", 53.48, -2.24),  # Manchester
    ("QHL", 52.49, -1.89),  # Birmingham
    ("QUY", 51.45, -2.59),  # Bristol
    ("QMJ", 51.55, -0.12),  # north London
    ("QMM", 52.63, 1.30),  # Norwich
    ("QJK", 50.72, -3.53),  # Exeter
    ("QT1", 52.95, -1.15),  # Nottingham
    ("QYG", 53.41, -2.98),  # Liverpool
)
_TOPICS = (
    "cardiac", "discharge", "mental health", "diabetes", "maternity", "dementia", "cancer",
    "stroke", "learning disability", "frailty", "primary care", "urgent care",
)  # fmt: skip
_ACCESS = (
    "step_free_access",
    "hearing_loop",
    "quiet_room",
    "regular_breaks",
    "support_worker",
    "large_print_papers",
    "easy_read_papers",
)
_LAUNCH = dt.date(2026, 12, 1)
_SESSIONS = (dt.date(2027, 1, 12), dt.date(2027, 3, 9))
_HALF_TERM = (dt.date(2027, 2, 15), dt.date(2027, 2, 19))


def _time(half_hours: int) -> str:
    return f"{half_hours // 2:02d}:{30 * (half_hours % 2):02d}"


def _windows(rng: random.Random, count: int, earliest: int, latest: int, shortest: int, longest: int) -> list[dict[str, str]]:
    """Weekday windows on the half hour, between earliest and latest (in half hours)."""
    out = []
    for day in rng.sample(DAYS[:5], count):
        length = rng.randint(shortest, longest)
        start = rng.randint(earliest, latest - length)
        out.append({"day": day, "start": _time(start), "end": _time(start + length)})
    return out


def _modes(rng: random.Random) -> list[str]:
    roll = rng.random()
    if roll < 0.15:
        return ["in_person"]
    if roll < 0.35:
        return rng.choice([["video"], ["phone"], ["video", "phone"]])
    return ["in_person", "video"] + (["phone"] if rng.random() < 0.3 else [])


def _person(rng: random.Random, pid: str, role: str, area: tuple[str, float, float], capacity: int) -> dict[str, Any]:
    code, lat, lon = area
    professional = role in ("clinical_leader", "managerial_leader")
    carer = role == "carer_leader"
    if carer:  # school hours, respite slots: one or two short windows
        availability = _windows(rng, rng.randint(1, 2), 19, 30, 2, 4)
    elif professional:
        availability = _windows(rng, rng.randint(2, 4), 16, 36, 3, 8)
    else:
        availability = _windows(rng, rng.randint(2, 3), 18, 40, 2, 6)
    known_place = rng.random() < 0.95
    needs = rng.sample(_ACCESS, rng.randint(1, 2)) if rng.random() < 0.15 else []
    if rng.random() < 0.02:
        needs.append("bsl_interpreter")
    return {
        "id": pid,
        "role": role,
        "system": code,
        "organisation": f"{code.lower()}-{rng.choice(['trust', 'council', 'board', 'practice'])}-{rng.randint(1, 3)}"
        if professional
        else None,
        "location": {"lat": round(lat + rng.gauss(0, 0.12), 4), "lon": round(lon + rng.gauss(0, 0.18), 4)}
        if known_place
        else None,
        "max_travel_km": rng.choice([5, 10, 15, 25, 40]) if known_place else None,
        "meeting_modes": _modes(rng),
        "availability": availability,
        "unavailable_dates": [
            str(rng.choice(_SESSIONS) if rng.random() < 0.04 else _LAUNCH + dt.timedelta(days=rng.randint(10, 120)))
        ]
        if rng.random() < 0.3
        else [],
        "term_time_only": carer and rng.random() < 0.4,
        "min_notice_days": rng.choice([0, 7, 14, 14, 21, 28]) if rng.random() > 0.02 else 60,
        "access_needs": needs,
        "topics": rng.sample(_TOPICS, rng.randint(1, 3)),
        "experience": rng.choice(["new", "new", "some", "experienced"]),
        "capacity": capacity if professional else 1,
        "release_confirmed": (rng.random() > 0.05) if professional else None,
        "do_not_pair_with": [],
    }


def generate_cohort(n_lived: int, n_prof: int, seed: int, capacity: int = 1, systems: int = 5) -> Cohort:
    rng = random.Random(seed)
    areas = _AREAS[: max(1, min(systems, len(_AREAS)))]
    lived = [
        _person(
            rng, f"{'cr' if carer else 'pl'}-{i:05d}", "carer_leader" if carer else "patient_leader", rng.choice(areas), capacity
        )
        for i, carer in enumerate(rng.random() < 0.4 for _ in range(n_lived))
    ]
    profs = [
        _person(
            rng,
            f"{'cl' if clinical else 'ml'}-{i:05d}",
            "clinical_leader" if clinical else "managerial_leader",
            rng.choice(areas),
            capacity,
        )
        for i, clinical in enumerate(rng.random() < 0.7 for _ in range(n_prof))
    ]
    if profs:
        for person in lived:  # e.g. a patient currently under that clinician's care
            if rng.random() < 0.02:
                person["do_not_pair_with"].append(rng.choice(profs)["id"])

    def some_pairs(count: int) -> list[tuple[str, str]]:
        if not lived or not profs:
            return []
        return [(rng.choice(lived)["id"], rng.choice(profs)["id"]) for _ in range(count)]

    # Locked pairs must not share a person, or they would overfill someone.
    locked: dict[str, str] = {}
    for a, b in some_pairs(n_lived // 200):
        if a not in locked and b not in locked.values():
            locked[a] = b
    return Cohort.model_validate(
        {
            "round": {
                "id": f"generated-{seed}",
                "launch_date": str(_LAUNCH),
                "sessions": [{"date": str(d), "start": "10:00", "end": "15:00"} for d in _SESSIONS],
                "school_holidays": [{"from": str(_HALF_TERM[0]), "to": str(_HALF_TERM[1])}],
                "min_shared_hours_per_week": 1.0,
                "allow_cross_system_remote": True,
                "time_limit_seconds": 10,
                "seed": seed,
            },
            "leaders": lived + profs,
            "locked_pairs": sorted(locked.items()),
            "forbidden_pairs": some_pairs(n_lived // 100),
            "previous_pairs": some_pairs(n_lived // 50),
        }
    )
