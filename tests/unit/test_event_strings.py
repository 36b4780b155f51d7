"""Reading an event keeps none of its strings afterwards.

pydantic keeps short strings it reads from JSON in a process-wide cache of 16,384 unless told to keep
field names only; events bring new ids and names all the time, so that cache made each service's memory
grow over its first rounds (issue 17). A string kept there comes back as the same object when the same
JSON is read again, which is what these look for."""

import json

import pytest

from schemas.events import LeaderContact, RoundCancelled, match_events, round_events

pytestmark = pytest.mark.unit

CANCELLED = json.dumps(
    {"event_type": "RoundCancelled", "producer": "registry", "correlation_id": "round-s", "data": {"round_id": "round-s"}}
)


def test_an_event_read_twice_shares_no_string():
    first, second = (RoundCancelled.model_validate_json(CANCELLED) for _ in range(2))
    assert first.data.round_id == second.data.round_id
    assert first.data.round_id is not second.data.round_id
    assert first.correlation_id is not second.correlation_id


def test_events_read_through_the_unions_share_no_string():
    first, second = (round_events.validate_json(CANCELLED) for _ in range(2))
    assert first.data.round_id is not second.data.round_id
    data = {"round_id": "round-f", "reason": "no solution"}
    failed = json.dumps({"event_type": "RoundSolveFailed", "producer": "matcher", "correlation_id": "round-f", "data": data})
    first, second = (match_events.validate_json(failed) for _ in range(2))
    assert first.data.reason is not second.data.reason


def test_a_contact_record_read_twice_shares_no_string():
    record = json.dumps(
        {
            "leader_id": "ref-strings",
            "version": 1,
            "name": "Ada Lovelace",
            "role": "patient_leader",
            "email": "ada@example.org",
            "contact_method": "email",
            "information_format": "standard",
        }
    )
    first, second = (LeaderContact.model_validate_json(record) for _ in range(2))
    assert first.name is not second.name
