"""The change that would let someone not paired be paired (domain/suggest.py): one relaxation at a
time, checked against every other hard rule, and true: making the change pairs them."""

from __future__ import annotations

import pytest

from services.matcher.domain import solve, suggest
from services.matcher.domain.generate import generate_cohort
from tests.unit.matcher.matcher_builders import LEEDS, cohort, leader, pairs_of, prof

pytestmark = pytest.mark.unit

MONDAY_MORNING = [{"day": "mon", "start": "09:00", "end": "11:00"}]
# About 30 km east of Leeds (a degree of longitude is about 65.8 km there).
THIRTY_KM_AWAY = {"lat": 53.80, "lon": -1.55 + 30 / 65.8}


def suggestion_for(result, leader_id: str) -> str | None:
    return next(u.suggestion for u in result.unmatched if u.id == leader_id)


def test_someone_who_only_meets_in_person_would_be_paired_if_they_could_meet_by_video():
    result = solve(cohort(leader("pl-1", meeting_modes=["in_person"]), prof("cl-1", meeting_modes=["video"])))
    assert suggestion_for(result, "pl-1") == "Would be paired if they could meet by video."
    eased = solve(cohort(leader("pl-1", meeting_modes=["in_person", "video"]), prof("cl-1", meeting_modes=["video"])))
    assert pairs_of(eased) == {("pl-1", "cl-1")}


def test_travel_names_the_fewest_more_miles_and_that_many_is_enough():
    far = prof("cl-1", meeting_modes=["in_person"], location=THIRTY_KM_AWAY, max_travel_km=100)
    result = solve(cohort(leader("pl-1", meeting_modes=["in_person"], max_travel_km=20), far))
    # 30 km is 10 km (6.2 miles) more than their 20 km (12.4 miles): 7 more miles reach it, 6 do not.
    assert suggestion_for(result, "pl-1") == "Would be paired if they could travel 7 more miles (up to about 19 miles)."
    assert not pairs_of(solve(cohort(leader("pl-1", meeting_modes=["in_person"], max_travel_km=20 + 6 * 1.609344), far)))
    assert pairs_of(solve(cohort(leader("pl-1", meeting_modes=["in_person"], max_travel_km=20 + 7 * 1.609344), far)))


def test_someone_who_never_said_how_far_they_travel_is_told_how_far_would_do():
    far = prof("cl-1", meeting_modes=["in_person"], location=THIRTY_KM_AWAY, max_travel_km=100)
    result = solve(cohort(leader("pl-1", meeting_modes=["in_person"], max_travel_km=None), far))
    assert suggestion_for(result, "pl-1") == "Would be paired if they could travel up to 19 miles to meet."


def test_no_shared_time_names_the_times_they_are_free():
    result = solve(cohort(leader("pl-1", availability=MONDAY_MORNING), prof("cl-1")))
    assert suggestion_for(result, "pl-1") == "Would be paired if a partner were free on Monday mornings."
    assert suggestion_for(result, "cl-1") == "Would be paired if a partner were free on Tuesday mornings."
    assert pairs_of(solve(cohort(leader("pl-1", availability=MONDAY_MORNING), prof("cl-1", availability=MONDAY_MORNING))))


def test_too_little_free_time_says_how_much_is_needed():
    short = [{"day": "tue", "start": "10:00", "end": "10:30"}]
    result = solve(cohort(leader("pl-1", availability=short), prof("cl-1")))
    assert suggestion_for(result, "pl-1") == "Would be paired if they were free for at least 1 hour each week."


def test_release_not_confirmed_is_the_change_for_both_of_them():
    result = solve(cohort(leader("pl-1"), prof("cl-1", release_confirmed=False)))
    assert suggestion_for(result, "cl-1") == "Would be paired if their manager confirmed they have time for this programme."
    assert suggestion_for(result, "pl-1") == (
        "Would be paired if the manager of a professional who could be their partner confirmed that professional's time."
    )


def test_confirming_a_professionals_time_is_not_suggested_when_they_could_take_no_partner_anyway():
    result = solve(cohort(leader("pl-1"), prof("cl-1", release_confirmed=False, capacity=0)))
    assert suggestion_for(result, "pl-1") is None, "lifting one rule would not be enough"


def test_a_full_professional_taking_one_more_partner_would_pair_the_one_left_over():
    result = solve(cohort(leader("pl-1"), leader("pl-2"), prof("cl-1", capacity=1)))
    (left,) = [u.id for u in result.unmatched]
    assert (
        suggestion_for(result, left)
        == "Would be paired if a professional who could be their partner could take one more partner."
    )


def test_areas_kept_apart_suggest_allowing_other_areas():
    result = solve(cohort(leader("pl-1"), prof("cl-1", system="QHM"), round={"allow_cross_system_remote": False}))
    assert suggestion_for(result, "pl-1") == (
        "Would be paired if the round allowed partners from other areas to meet by video or phone."
    )


def test_a_required_session_they_cannot_come_to_is_named():
    result = solve(cohort(leader("pl-1", unavailable_dates=["2027-01-12"]), prof("cl-1")))
    assert suggestion_for(result, "pl-1") == "Would be paired if they could come to the required session on 12 January 2027."


def test_too_little_notice_says_how_much_notice_would_do():
    # The round opens on 1 December 2026; the session on 12 January 2027 is 42 days later.
    result = solve(cohort(leader("pl-1", min_notice_days=60), prof("cl-1")))
    assert suggestion_for(result, "pl-1") == (
        "Would be paired if 42 days' notice were enough for them to come to the required session on 12 January 2027."
    )
    assert pairs_of(solve(cohort(leader("pl-1", min_notice_days=42), prof("cl-1"))))


def test_never_pair_them_with_and_interpreter_notice_are_never_suggested_away():
    never = solve(cohort(leader("pl-1", do_not_pair_with=["cl-1"]), prof("cl-1")))
    assert suggestion_for(never, "pl-1") is None and suggestion_for(never, "cl-1") is None
    interpreter = solve(
        cohort(leader("pl-1", access_needs=["bsl_interpreter"]), prof("cl-1"), round={"launch_date": "2027-01-01"})
    )
    assert suggestion_for(interpreter, "pl-1") is None


def test_nothing_is_suggested_when_no_single_change_is_enough():
    # In person only, far apart, no shared time: two changes at least.
    far = prof("cl-1", meeting_modes=["in_person"], location=THIRTY_KM_AWAY, availability=MONDAY_MORNING)
    result = solve(cohort(leader("pl-1", meeting_modes=["in_person"], location=LEEDS), far))
    assert suggestion_for(result, "pl-1") is None


def test_only_the_first_people_are_looked_at(monkeypatch):
    monkeypatch.setattr(suggest, "MAX_PEOPLE", 1)
    result = solve(cohort(leader("pl-1", availability=MONDAY_MORNING), leader("pl-2", availability=MONDAY_MORNING), prof("cl-9")))
    assert [u.suggestion is not None for u in result.unmatched] == [True, False, False]


def test_every_suggestion_in_a_generated_round_is_plain_words_for_the_team():
    result = solve(generate_cohort(300, 200, seed=3))
    suggested = [u.suggestion for u in result.unmatched if u.suggestion]
    assert suggested, "a generated round has people a single change would pair"
    assert all(s.startswith("Would be paired if ") and s.endswith(".") and " km" not in s for s in suggested)
