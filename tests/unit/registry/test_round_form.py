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
        "sessions": "",
        "school_holidays": "",
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
