import pytest
from pydantic import ValidationError

from services.common.errors import describe, one_line
from services.registry.domain.leaders import LeaderIn

pytestmark = pytest.mark.unit

VALID = {"name": "Amira Ahmed", "role": "patient_leader", "system": "QHM", "meeting_modes": ["video"], "email": "a@example.org"}


def errors_for(**changes):
    with pytest.raises(ValidationError) as caught:
        LeaderIn(**{**VALID, **changes})
    return {d["field"]: d["message"] for d in describe(caught.value.errors())}


def test_a_valid_leader_is_accepted():
    assert LeaderIn(**VALID).name == "Amira Ahmed"


def test_unknown_fields_are_refused_by_name():
    assert "not a field we know" in errors_for(meeting_mode=["video"])["meeting_mode"]


def test_errors_name_the_field_inside_lists():
    found = errors_for(availability=[{"day": "tue", "start": "10:00", "end": "25:00"}])
    assert found == {"availability[0].end": "must be a time like 09:30"}


def test_windows_must_end_after_they_start():
    found = errors_for(availability=[{"day": "tue", "start": "12:00", "end": "10:00"}])
    assert "end must be later than start" in found["availability[0]"]


def test_choices_are_listed():
    assert "patient_leader" in errors_for(role="nurse")["role"]


def test_one_line_summary_names_every_field():
    with pytest.raises(ValidationError) as caught:
        LeaderIn(**{**VALID, "email": "not-an-address", "min_notice_days": -1})
    line = one_line(caught.value)
    assert "email: must look like name@example.org" in line and "min_notice_days" in line
