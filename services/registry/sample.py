"""A built-in sample cohort for `make demo`: 40 made-up leaders in two areas,
with carers on narrow windows, people who can only meet remotely, access
needs and different ways of being contacted. Every name and address is invented."""

from __future__ import annotations

import random
from typing import Any

FIRST = [
    "Amira",
    "Ben",
    "Chloe",
    "Dev",
    "Elaine",
    "Femi",
    "Grace",
    "Harpreet",
    "Ian",
    "Joy",
    "Kofi",
    "Lena",
    "Mo",
    "Niamh",
    "Owen",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tariq",
]
LAST = [
    "Ahmed",
    "Bell",
    "Carter",
    "Davies",
    "Evans",
    "Farah",
    "Green",
    "Hughes",
    "Iqbal",
    "Jones",
    "Khan",
    "Lewis",
    "Morgan",
    "Nolan",
    "Owusu",
    "Patel",
    "Quayle",
    "Reid",
    "Shah",
    "Turner",
]
AREAS = {
    # code: (town centre latitude, longitude, organisations)
    "QHM": (54.97, -1.61, ["Newcastle Hospitals", "Northumbria Healthcare", "Gateshead Health"]),
    "QOQ": (53.96, -1.08, ["York and Scarborough Hospitals", "Humber Teaching", "Harrogate District"]),
}
TOPICS = ["cardiac", "discharge", "mental health", "maternity", "diabetes", "frailty", "cancer", "learning disability"]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def _window(day: str, start: str, end: str) -> dict:
    return {"day": day, "start": start, "end": end}


# Leaders in the sample who need something particular, by their number.
_PARTICULAR: dict[int, dict[str, Any]] = {
    12: {"access_needs": ["bsl_interpreter"]},
    6: {"information_format": "large_print_24"},
    8: {"information_format": "easy_read"},
    14: {"contact_method": "letter", "postal_address": "1 Example Street, Newcastle upon Tyne, NE1 1AA"},
    18: {"contact_method": "sms", "phone": "07700 900018"},  # a number reserved for drama and examples
    26: {"information_format": "braille"},
    # Their son reads their post for them, and they have agreed we write to him.
    20: {
        "contact_method": "via_carer",
        "proxy": {"name": "Sam Okafor", "relationship": "son", "email": "sam.okafor@example.org"},
        "consents": [{"purpose": "contact_via_proxy", "given": True, "at": "2026-11-02T10:00:00Z"}],
    },
    22: {"unavailable_dates": ["2027-01-26"]},
}


def sample_leaders(seed: int = 7, count: int = 40) -> list[dict[str, Any]]:
    """Leaders as the registry's API takes them (40 for the demo; more for tests and benchmarks)."""
    rng = random.Random(seed)
    return [_sample_leader(i, count, rng) for i in range(count)]


def _sample_leader(i: int, count: int, rng: random.Random) -> dict[str, Any]:
    professional = i % 2 == 1
    system = "QHM" if i % 4 < 2 else "QOQ"
    lat, lon, orgs = AREAS[system]
    first, last = FIRST[i % 20], LAST[(i * 7 + i // 20) % 20]
    if professional:
        role = "clinical_leader" if i % 3 else "managerial_leader"
    else:
        role = "carer_leader" if i % 6 == 0 else "patient_leader"
    number = f"{i:03d}" if count <= 1000 else f"{i:05d}"
    leader: dict[str, Any] = {
        "id": f"cl-{number}" if professional else f"pl-{number}",
        "name": f"{first} {last}",
        "role": role,
        "email": f"{first.lower()}.{last.lower()}@example.org",
        "system": system,
        "location": {"lat": round(lat + rng.uniform(-0.25, 0.25), 3), "lon": round(lon + rng.uniform(-0.35, 0.35), 3)},
        "max_travel_km": rng.choice([10, 20, 30, 50]),
        "meeting_modes": ["in_person", "video"],
        "topics": rng.sample(TOPICS, 2),
        "experience": rng.choice(["new", "some", "experienced"]),
        "min_notice_days": rng.choice([7, 14]),
    }
    if professional:
        leader["organisation"] = rng.choice(orgs)
        leader["capacity"] = 2 if i % 10 == 1 else 1
        leader["release_confirmed"] = i != 39  # one manager is still waiting for release from their line manager
        days = rng.sample(WEEKDAYS, 3)
        leader["availability"] = [_window(d, "09:00", "17:00") for d in sorted(days, key=WEEKDAYS.index)]
    else:
        days = rng.sample(WEEKDAYS, 2)
        leader["availability"] = [_window(d, "10:00", "14:30") for d in sorted(days, key=WEEKDAYS.index)]
    if role == "carer_leader":
        # School runs and respite: a short window, term time only.
        leader["availability"] = [_window(rng.choice(WEEKDAYS), "09:30", "11:30")]
        leader["term_time_only"] = True
    if i % 8 == 2:
        leader["meeting_modes"] = ["video", "phone"]  # can only meet remotely
        leader["max_travel_km"] = None
    if i % 10 == 4:
        leader["access_needs"] = ["step_free_access", "regular_breaks"]
    return leader | _PARTICULAR.get(i, {})


SAMPLE_ROUND: dict[str, Any] = {
    "id": "demo-round",
    "launch_date": "2026-12-01",
    "sessions": [
        {
            "date": "2027-01-12",
            "start": "10:00",
            "end": "15:00",
            "place": "Meeting Room 3, Example House, 1 Quayside, Newcastle upon Tyne NE1 3AA",
        },
        {
            "date": "2027-01-26",
            "start": "10:00",
            "end": "15:00",
            "place": "Online by video call: the link comes by email a week before",
        },
    ],
    "school_holidays": [{"from": "2027-02-15", "to": "2027-02-19"}],
    "min_shared_hours_per_week": 1.0,
    "allow_cross_system_remote": True,
    "time_limit_seconds": 10,
}
