"""Events the registry builds as plain data (handlers/common.py's event_body, LeaderIn.matching_profile_data)
for bulk work: each must be exactly what building the models and dumping them gives, in the same order."""

import uuid

import pytest

from schemas.events import LeaderProfile, LeaderProfileChanged
from services.registry.domain.leaders import LeaderIn
from services.registry.handlers.common import event, event_body
from services.registry.sample import sample_leaders

pytestmark = pytest.mark.unit


def leaders() -> list[LeaderIn]:
    made = [LeaderIn.model_validate(p) for p in sample_leaders(seed=3, count=60)]
    odd = {
        "id": "odd-1",
        "name": "Sam Odd",
        "role": "patient_leader",
        "system": "QWE",
        "email": "sam@example.org",
        "meeting_modes": ["video"],
        "max_travel_km": 12,  # a whole number, which a profile writes as a float
        "capacity": 3,  # a patient leader is paired once, whatever they wrote
        "unavailable_dates": ["2027-01-04"],
        "availability": [{"day": "mon", "start": "09:00", "end": "10:30"}],
        "do_not_pair_with": ["someone-else"],
        "location": {"lat": 53.8, "lon": -1.55},
        "topics": ["Cancer ", "frailty"],
    }
    return [*made, LeaderIn.model_validate(odd), LeaderIn.model_validate(odd | {"role": "clinical_leader", "id": "odd-2"})]


def test_a_profile_made_from_the_dumped_record_is_the_profile_the_model_dumps():
    checked = leaders()
    assert {leader.role for leader in checked} >= {"patient_leader", "clinical_leader"}
    for leader in checked:
        model = leader.matching_profile().model_dump(mode="json")
        data = leader.matching_profile_data(leader.model_dump(mode="json"))
        assert list(data.items()) == list(model.items()), leader.id


def test_an_event_body_is_what_the_event_dumps_to_field_for_field_in_order():
    leader = leaders()[-1]
    profile = LeaderProfile(version=4, status="paused", profile=leader.matching_profile())
    model = event(LeaderProfileChanged, profile, "odd-2").model_dump(mode="json", by_alias=True)
    body = event_body(LeaderProfileChanged, profile.model_dump(mode="json", by_alias=True), "odd-2")
    assert list(body) == list(model)
    assert str(uuid.UUID(body["event_id"])) == body["event_id"], "an event id is a UUID, as text"
    assert {k: v for k, v in body.items() if k not in ("event_id", "occurred_at")} == {
        k: v for k, v in model.items() if k not in ("event_id", "occurred_at")
    }
    # The body reads back as the event it stands for, and dumps to itself again.
    assert LeaderProfileChanged.model_validate(body).model_dump(mode="json", by_alias=True) == body
