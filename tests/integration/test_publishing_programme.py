"""Publishing tells everyone how to reach the programme team, when and where the sessions are and
when the next round is; it is refused while people who cannot use the internet would have no phone
number or address to answer by; a launch warns of sessions on bank holidays. Real database and broker."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import text

from schemas.cohort import CohortResult, PairResult, SolveStats, UnmatchedResult, Window
from schemas.events import RoundSolved
from services.common.store import handle_once
from services.registry.handlers import rounds as round_handlers
from services.registry.sample import sample_leaders
from tests.integration.conftest import unique
from tests.integration.helpers import TUESDAY_MORNING, published_outcomes

pytestmark = pytest.mark.integration

SESSIONS = [
    {"date": "2027-05-03", "start": "10:00", "end": "15:00", "place": "Room 2, Civic Centre, Leeds LS1 1UR"},  # a bank holiday
    {"date": "2027-05-11", "start": "10:00", "end": "12:00", "place": "Online: the link comes by email a week before"},
]
PROGRAMME = {
    "team": "the West Yorkshire patient leader team",
    "contact_person": "Priya Shah",
    "phone": "0113 496 0123",
    "email": "wy.pairing@example.nhs.uk",
    "postal_address": "Patient Leader Programme\n10 Park Row\nLeeds\nLS1 5AB",
    "next_round_on": "2027-09-06",
}


def people(letter: bool = False) -> tuple[dict, dict, dict]:
    """A patient leader and a professional to pair, and someone who will not be paired."""
    base = {leader["role"]: leader for leader in reversed(sample_leaders())}
    common = {"availability": TUESDAY_MORNING, "meeting_modes": ["video"], "min_notice_days": 0, "unavailable_dates": []}
    patient = unique({**base["patient_leader"], **common})
    if letter:
        patient = {**patient, "contact_method": "letter", "postal_address": "1 Example Street, Newcastle upon Tyne, NE1 1AA"}
    return patient, unique({**base["clinical_leader"], **common}), unique({**base["carer_leader"], **common})


async def launch(registry, leaders: tuple[dict, ...], programme: dict | None) -> tuple[str, dict]:
    """Register the people and launch a round: for a cohort of a new programme, or for them alone."""
    for leader in leaders:
        assert (await registry.post("/leaders", json=leader)).status_code in (200, 201)
    round_id = f"r-{uuid.uuid4().hex[:6]}"
    body = {"id": round_id, "sessions": SESSIONS}
    if programme is None:
        body["leader_ids"] = [leader["id"] for leader in leaders]
    else:
        made = await registry.post("/programmes", json={"name": f"WY {round_id}", **programme})
        assert made.status_code == 201, made.text
        cohort = await registry.post(
            f"/programmes/{made.json()['id']}/cohorts", json={"name": "2027", "leader_ids": [leader["id"] for leader in leaders]}
        )
        body["cohort_id"] = cohort.json()["id"]
    launched = await registry.post("/rounds", json=body)
    assert launched.status_code == 202, launched.text
    return round_id, launched.json()


async def solve_and_approve(registry, round_id: str, patient: dict, professional: dict, alone: dict) -> None:
    async with registry.store.engine.connect() as conn:
        request_id = (await conn.execute(text("select request_event_id from rounds where id = :id"), {"id": round_id})).scalar()
    pair = PairResult(
        lived_experience_id=patient["id"],
        professional_id=professional["id"],
        score=50,
        meeting_modes=["video"],
        shared_windows=[Window.model_validate(w) for w in TUESDAY_MORNING],
        reasons=["You are both free on Tuesday mornings."],
    )
    result = CohortResult(
        round_id=round_id,
        pairs=[pair],
        stats=SolveStats(status="optimal"),
        unmatched=[UnmatchedResult(id=alone["id"], reason="Nobody is free when you are.", rule="availability")],
    )
    solved = RoundSolved(producer="test", correlation_id=round_id, causation_id=request_id, data=result)
    await handle_once(registry.store, "test.matches", solved, round_handlers.record_solution)
    assert (await registry.post(f"/rounds/{round_id}/approve", json={"approved_by": "Test manager"})).status_code == 200


async def test_every_outcome_carries_the_programme_contact_the_sessions_and_the_next_round(registry, kafka_settings):
    patient, professional, alone = people()
    round_id, launched = await launch(registry, (patient, professional, alone), PROGRAMME)
    (warning,) = launched["warnings"]
    assert "Monday 3 May 2027" in warning and "bank holiday in England and Wales" in warning
    assert (await registry.get(f"/rounds/{round_id}")).json()["warnings"] == [warning], "the round keeps the warning"

    await solve_and_approve(registry, round_id, patient, professional, alone)
    assert (await registry.post(f"/rounds/{round_id}/publish")).status_code == 200
    paired = await published_outcomes(registry, kafka_settings, round_id, "paired", 2)
    unmatched = await published_outcomes(registry, kafka_settings, round_id, "unmatched", 1)
    assert set(paired) == {patient["id"], professional["id"]} and set(unmatched) == {alone["id"]}
    for outcome in [*paired.values(), *unmatched.values()]:
        data = outcome.data
        assert data.programme.model_dump() == {
            "team": "the West Yorkshire patient leader team",
            "person": "Priya Shah",
            "phone": "0113 496 0123",
            "email": "wy.pairing@example.nhs.uk",
            "postal_address": "Patient Leader Programme\n10 Park Row\nLeeds\nLS1 5AB",
        }
        assert [(s.date.isoformat(), s.place) for s in data.sessions] == [(s["date"], s["place"]) for s in SESSIONS]
        assert data.next_round_on == dt.date(2027, 9, 6)


async def test_a_round_for_everyone_uses_the_registrys_own_programme_contact(registry, kafka_settings):
    patient, professional, alone = people()
    round_id, launched = await launch(registry, (patient, professional, alone), None)
    assert len(launched["warnings"]) == 1
    await solve_and_approve(registry, round_id, patient, professional, alone)
    assert (await registry.post(f"/rounds/{round_id}/publish")).status_code == 200
    (outcome,) = (await published_outcomes(registry, kafka_settings, round_id, "unmatched", 1)).values()
    assert outcome.data.programme.team == "the patient leader programme team"
    assert outcome.data.programme.email == "pairing@example.nhs.uk" and outcome.data.next_round_on is None


async def test_no_publishing_to_someone_who_gets_letters_until_the_programme_has_a_phone_number_and_address(registry):
    patient, professional, alone = people(letter=True)
    without = {k: v for k, v in PROGRAMME.items() if k not in ("phone", "postal_address")}
    round_id, _ = await launch(registry, (patient, professional, alone), without)
    await solve_and_approve(registry, round_id, patient, professional, alone)
    view = (await registry.get(f"/rounds/{round_id}")).json()
    assert "no phone number and no postal address" in view["before_publishing"], "the round page says so before publishing"

    refused = await registry.post(f"/rounds/{round_id}/publish")
    assert refused.status_code == 409
    message = refused.json()["detail"]
    assert "1 person in it will get a letter" in message
    assert "Add a phone number and a postal address on the programme's page (Programmes, then WY " in message
    assert (await registry.get(f"/rounds/{round_id}")).json()["status"] == "approved", "nothing changed"

    cohort = (await registry.get(f"/rounds/{round_id}")).json()["cohort_id"]
    programme_id = (await registry.get(f"/cohorts/{cohort}")).json()["programme_id"]
    name = (await registry.get(f"/programmes/{programme_id}")).json()["name"]
    assert (await registry.put(f"/programmes/{programme_id}", json={**PROGRAMME, "name": name})).status_code == 200
    assert (await registry.get(f"/rounds/{round_id}")).json()["before_publishing"] is None
    assert (await registry.post(f"/rounds/{round_id}/publish")).status_code == 200


async def test_a_round_for_everyone_says_which_settings_to_add(registry):
    patient, professional, alone = people(letter=True)
    round_id, _ = await launch(registry, (patient, professional, alone), None)
    await solve_and_approve(registry, round_id, patient, professional, alone)
    refused = await registry.post(f"/rounds/{round_id}/publish")
    assert refused.status_code == 409
    assert "REGISTRY_PROGRAMME_PHONE and REGISTRY_PROGRAMME_POSTAL_ADDRESS" in refused.json()["detail"]
