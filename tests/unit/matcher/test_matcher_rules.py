"""Each hard rule: a feasible pair becomes infeasible when exactly that rule is broken."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from matcher_builders import LEEDS, cohort, leader, prof

from schemas.cohort import DAYS
from services.matcher.domain import solve

pytestmark = pytest.mark.unit

FAR_AWAY = {"lat": 51.45, "lon": -2.59}  # Bristol, about 270 km from Leeds


def pair_count(
    lived: dict[str, Any] | None = None,
    professional: dict[str, Any] | None = None,
    round: dict[str, Any] | None = None,
    **lists: Any,
) -> int:
    result = solve(cohort(leader("pl-1", **(lived or {})), prof("cl-1", **(professional or {})), round=round, **lists))
    return len(result.pairs)


def test_the_default_pair_is_feasible():
    assert pair_count() == 1


def test_two_leaders_on_the_same_side_are_never_paired():
    result = solve(cohort(leader("pl-1"), leader("cr-1", "carer_leader")))
    assert result.pairs == []
    assert {u.rule for u in result.unmatched} == {"no_candidates"}


BROKEN = {
    "release not confirmed": ({}, {"release_confirmed": False}, {}),
    "professional has no places": ({}, {"capacity": 0}, {}),
    "a session is on an unavailable date": ({"unavailable_dates": ["2027-01-12"]}, {}, {}),
    "a session is in the school holidays, term time only": (
        {"term_time_only": True},
        {},
        {"sessions": [{"date": "2027-02-16", "start": "10:00", "end": "15:00"}]},
    ),
    "not enough notice before a session": ({"min_notice_days": 60}, {}, {}),
    "interpreter needs four weeks before the first session": (
        {"access_needs": ["bsl_interpreter"]},
        {},
        {"launch_date": "2026-12-20"},
    ),
    "too little shared time each week": ({"availability": [{"day": "tue", "start": "12:00", "end": "14:00"}]}, {}, {}),
    "no meeting mode in common": ({"meeting_modes": ["phone"]}, {"meeting_modes": ["video"]}, {}),
    "in person only, beyond the travel limit": (
        {"meeting_modes": ["in_person"], "max_travel_km": 5},
        {"meeting_modes": ["in_person"]},
        {},
    ),
    "in person only, location unknown": (
        {"meeting_modes": ["in_person"], "location": None},
        {"meeting_modes": ["in_person"]},
        {},
    ),
    "in person only, travel limit unknown": (
        {"meeting_modes": ["in_person"]},
        {"meeting_modes": ["in_person"], "max_travel_km": None},
        {},
    ),
    "different areas, cross-area pairing not allowed": (
        {},
        {"system": "QHM", "location": FAR_AWAY},
        {"allow_cross_system_remote": False},
    ),
    "different areas, one cannot meet remotely": ({"meeting_modes": ["in_person"]}, {"system": "QHM"}, {}),
    "lived-experience leader asked not to be paired": ({"do_not_pair_with": ["cl-1"]}, {}, {}),
    "professional asked not to be paired": ({}, {"do_not_pair_with": ["pl-1"]}, {}),
}


@pytest.mark.parametrize("lived, professional, round", BROKEN.values(), ids=BROKEN.keys())
def test_breaking_one_rule_makes_the_pair_infeasible(lived, professional, round):
    assert pair_count(lived, professional, round) == 0


@pytest.mark.parametrize("field", ["forbidden_pairs", "previous_pairs"])
@pytest.mark.parametrize("order", [("pl-1", "cl-1"), ("cl-1", "pl-1")])
def test_forbidden_and_previous_pairs_are_never_repeated(field, order):
    assert pair_count(**{field: [order]}) == 0


RULE_KEPT = {
    "in person within both limits": ({"meeting_modes": ["in_person"]}, {"meeting_modes": ["in_person"]}, {}),
    "different areas, both by video": ({}, {"system": "QHM", "location": FAR_AWAY}, {}),
    "interpreter booked four weeks ahead": ({"access_needs": ["bsl_interpreter"]}, {}, {"launch_date": "2026-12-15"}),
    "term time only, sessions in term": ({"term_time_only": True}, {}, {}),
    "notice exactly met": ({"min_notice_days": 42}, {}, {}),
    "shared time exactly the minimum": ({"availability": [{"day": "tue", "start": "11:30", "end": "14:00"}]}, {}, {}),
    "no sessions at all": ({"unavailable_dates": ["2027-01-12"]}, {}, {"sessions": []}),
}


@pytest.mark.parametrize("lived, professional, round", RULE_KEPT.values(), ids=RULE_KEPT.keys())
def test_pairs_at_the_edge_of_a_rule_stay_feasible(lived, professional, round):
    assert pair_count(lived, professional, round) == 1


def test_overlapping_windows_of_one_person_are_not_counted_twice():
    # 10:00-11:00 twice is one hour, not two.
    twice = [{"day": "tue", "start": "10:00", "end": "11:00"}] * 2
    assert pair_count({"availability": twice}, round={"min_shared_hours_per_week": 1.5}) == 0
    assert pair_count({"availability": twice}, round={"min_shared_hours_per_week": 1.0}) == 1


def test_shared_time_adds_up_over_the_week():
    lived = {"availability": [{"day": "tue", "start": "10:00", "end": "11:00"}, {"day": "thu", "start": "09:00", "end": "10:00"}]}
    professional = {
        "availability": [{"day": "tue", "start": "10:00", "end": "11:00"}, {"day": "thu", "start": "09:00", "end": "10:00"}]
    }
    assert pair_count(lived, professional, round={"min_shared_hours_per_week": 2.0}) == 1


def test_people_in_the_same_spot_with_no_travel_can_meet_in_person():
    same = {"meeting_modes": ["in_person"], "location": LEEDS, "max_travel_km": 0}
    assert pair_count(same, same) == 1


def test_shared_times_are_every_overlap_of_two_weeks_in_order():
    """shared_spans walks the two weeks once; it must find what comparing every window with every other finds."""
    from services.matcher.domain.rules import Window, shared_spans, weekly_spans

    rng = random.Random(7)

    def week() -> tuple[tuple[int, int], ...]:
        windows = []
        for _ in range(rng.randint(0, 6)):
            start = rng.randint(6, 20)
            windows.append(
                Window(day=rng.choice(DAYS), start=dt.time(start, rng.choice((0, 30))), end=dt.time(start + rng.randint(1, 3)))
            )
        return weekly_spans(windows)

    for _ in range(2000):
        a, b = week(), week()
        every = sorted((max(s1, s2), min(e1, e2)) for s1, e1 in a for s2, e2 in b if max(s1, s2) < min(e1, e2))
        assert shared_spans(a, b) == every
