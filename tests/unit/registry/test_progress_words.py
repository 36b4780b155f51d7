import pytest

from services.registry.domain.rounds import progress_words

pytestmark = pytest.mark.unit


def report(**objective: float) -> dict:
    return {"stage": "meeting the area minimums", "objective": objective, "gap": 0.0, "elapsed_seconds": 3}


def test_progress_names_the_people_left_out_before_only_in_a_round_that_has_them():
    assert progress_words(report(paired_people=12, priority_paired=3, total_fit=640)) == (
        "Meeting the area minimums. Best so far: 12 pairs, giving 3 people left out before a partner, "
        "with a total fit score of 640. Nothing better is possible. 3 seconds so far."
    )
    assert "left out" not in progress_words(report(paired_people=12, total_fit=640))
