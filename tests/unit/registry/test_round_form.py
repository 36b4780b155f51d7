"""The launch-a-round form: what a manager types becomes a LaunchRound, or plain-English problems by field."""

from __future__ import annotations

import pytest

from services.registry.web import forms

pytestmark = pytest.mark.unit


def values(**changes: str) -> dict[str, str]:
    base = {
        "round_id": "",
        "who": "all",
        "area": "",
        "cohort": "",
        "min_shared_hours_per_week": "1",
        "allow_cross_system_remote": "yes",
        "time_limit_seconds": "10",
        "min_pairs_per_area": "",
        "weight_topics": "4",
        "weight_travel": "2",
        "weight_experience": "2",
        "weight_organisation": "1",
    }
    return {**base, **changes}


def test_weights_and_area_minimums_reach_the_round():
    command, errors = forms.round_command(
        values(min_pairs_per_area="QHM 3\nqwo: 1", weight_topics="1", weight_travel="0"), None, cohort_supported=True
    )
    assert errors == {}
    assert command.min_pairs_per_system == {"QHM": 3, "QWO": 1}
    by_name, errors = forms.round_command(
        values(min_pairs_per_area="North East and North Cumbria 3\nWest Yorkshire: 1", weight_topics="1", weight_travel="0"),
        None,
        cohort_supported=True,
    )
    assert errors == {} and by_name.min_pairs_per_system == {"QHM": 3, "QWO": 1}, "areas by name as well as by code"
    assert (command.weights.topics, command.weights.travel, command.weights.experience) == (1, 0, 2)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        (
            {"min_pairs_per_area": "QHM three"},
            "min_pairs_per_area",
            "should be an area's name or code and a number, like 'West Yorkshire 3'",
        ),
        ({"weight_travel": ""}, "weight_travel", "Enter how much a short journey counts"),
        ({"weight_topics": "-1"}, "weight_topics", ""),
        (
            {"weight_topics": "0", "weight_travel": "0", "weight_experience": "0", "weight_organisation": "0"},
            "weight_topics",
            "at least one weight must be above 0",
        ),
    ],
)
def test_a_bad_entry_is_named_and_explained(changes, field, words):
    command, errors = forms.round_command(values(**changes), None, cohort_supported=True)
    assert command is None and field in errors and words in errors[field]


def test_sessions_and_school_holidays_come_from_day_month_and_year_boxes():
    form = values(
        session_rows="2",
        session_0_day="2",
        session_0_month="3",
        session_0_year="2027",
        session_0_from="10:00",
        session_0_to="12:30",
        session_0_place="Room 2, Civic Centre, Leeds",
        holiday_rows="1",
        holiday_0_from_day="15",
        holiday_0_from_month="2",
        holiday_0_from_year="2027",
        holiday_0_to_day="19",
        holiday_0_to_month="02",
        holiday_0_to_year="2027",
    )
    command, errors = forms.round_command(forms.round_values(form), None, cohort_supported=True)
    assert errors == {}, "an empty second row of sessions is left out"
    assert [(s.date.isoformat(), s.start.strftime("%H:%M"), s.end.strftime("%H:%M"), s.place) for s in command.sessions] == [
        ("2027-03-02", "10:00", "12:30", "Room 2, Civic Centre, Leeds")
    ]
    assert [(h.from_.isoformat(), h.to.isoformat()) for h in command.school_holidays] == [("2027-02-15", "2027-02-19")]


@pytest.mark.parametrize(
    ("boxes", "box", "words"),
    [
        ({"session_0_day": "2", "session_0_year": "2027"}, "session_0_month", "The date of session 1 must include a month"),
        ({"session_0_month": "3"}, "session_0_day", "The date of session 1 must include a day and a year"),
        (
            {"session_0_day": "30", "session_0_month": "2", "session_0_year": "2027"},
            "session_0_day",
            "The date of session 1 must be a real date: February 2027 has no day 30",
        ),
        ({"session_0_day": "2", "session_0_month": "13", "session_0_year": "2027"}, "session_0_month", "month is a number"),
        ({"session_0_day": "2", "session_0_month": "3", "session_0_year": "27"}, "session_0_year", "4 numbers, like 2027"),
        ({"session_0_day": "two", "session_0_month": "3", "session_0_year": "2027"}, "session_0_day", "the day must be a number"),
        ({"session_0_from": "10:00", "session_0_to": "12:00"}, "session_0_day", "Enter the date of session 1"),
        (
            {"session_0_day": "2", "session_0_month": "3", "session_0_year": "2027", "session_0_to": ""},
            "session_0_to",
            "Session 1: select the time it ends",
        ),
        (
            {
                "session_0_day": "2",
                "session_0_month": "3",
                "session_0_year": "2027",
                "session_0_from": "10:00",
                "session_0_to": "09:00",
            },
            "session_0_to",
            "the end time must be later than the start time",
        ),
        (
            {"holiday_0_from_day": "19", "holiday_0_from_month": "2", "holiday_0_from_year": "2027"},
            "holiday_0_to_day",
            "Enter the last day of school holiday 1",
        ),
        (
            {
                **{f"holiday_0_from_{p}": v for p, v in (("day", "19"), ("month", "2"), ("year", "2027"))},
                **{f"holiday_0_to_{p}": v for p, v in (("day", "15"), ("month", "2"), ("year", "2027"))},
            },
            "holiday_0_to_day",
            "the last day must be the same as or after the first day",
        ),
    ],
)
def test_a_date_with_a_problem_names_the_box_to_fix(boxes, box, words):
    sent = forms.round_values(values(session_0_from="10:00", session_0_to="12:00") | boxes)
    command, errors = forms.round_command(sent, None, cohort_supported=True)
    assert command is None and words in errors[box], errors
    assert list(forms.round_error_order(sent)).index(box) < list(forms.round_error_order(sent)).index("min_shared_hours_per_week")
