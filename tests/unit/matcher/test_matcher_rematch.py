"""Re-matching after declines: accepted pairs stay, only the affected people are solved again."""

from __future__ import annotations

import pytest
from matcher_builders import cohort, leader, prof

from services.matcher.domain import rematch, solve
from services.matcher.domain.generate import generate_cohort

pytestmark = pytest.mark.unit


def pairs_of(result) -> set[tuple[str, str]]:
    return {(p.lived_experience_id, p.professional_id) for p in result.pairs}


def round_of_three():
    # cl-3 fits nobody well, so the first solve leaves it without a partner.
    return cohort(
        leader("pl-1", topics=["cardiac"]),
        leader("pl-2", topics=["stroke"]),
        prof("cl-1", topics=["cardiac"]),
        prof("cl-2", topics=["stroke"]),
        prof("cl-3", topics=[], experience="new", meeting_modes=["video"]),
    )


def test_a_declined_pair_is_replaced_and_never_formed_again():
    c = round_of_three()
    first = solve(c)
    assert pairs_of(first) == {("pl-1", "cl-1"), ("pl-2", "cl-2")}
    result = rematch(c, accepted_pairs=[("pl-2", "cl-2")], affected_ids=["pl-1", "cl-1", "cl-3"], declined_pairs=[("pl-1", "cl-1")])
    assert pairs_of(result) == {("pl-2", "cl-2"), ("pl-1", "cl-3")}
    assert [u.id for u in result.unmatched] == ["cl-1"]
    assert result.stats.counts["accepted_pairs"] == 1 and result.stats.status == "optimal"


def test_accepted_pairs_use_up_capacity():
    c = cohort(leader("pl-1"), leader("pl-2"), leader("pl-3"), prof("cl-1", capacity=2))
    result = rematch(c, accepted_pairs=[("cl-1", "pl-1")], affected_ids=["pl-2", "pl-3", "cl-1"])
    assert len(result.pairs) == 2 and ("pl-1", "cl-1") in pairs_of(result)
    assert [u.id for u in result.unmatched] == [next(i for i in ("pl-2", "pl-3") if (i, "cl-1") not in pairs_of(result))]


def test_people_not_affected_are_left_alone():
    c = round_of_three()
    result = rematch(c, accepted_pairs=[("pl-2", "cl-2")], affected_ids=["pl-1"], declined_pairs=[("pl-1", "cl-1")])
    # cl-1 and cl-3 were not named as affected, so pl-1 has nobody to pair with.
    assert pairs_of(result) == {("pl-2", "cl-2")}
    assert [u.id for u in result.unmatched] == ["pl-1"]


def test_accepted_pairs_keep_their_reasons_and_locked_flag():
    c = cohort(leader("pl-1"), prof("cl-1"), leader("pl-2"), prof("cl-2"), locked_pairs=[["pl-1", "cl-1"]])
    first = solve(c)
    result = rematch(c, accepted_pairs=[("pl-1", "cl-1"), ("pl-2", "cl-2")], affected_ids=[])
    assert result.pairs == first.pairs


def test_with_everyone_affected_and_nothing_accepted_it_is_a_fresh_solve():
    c = generate_cohort(40, 30, seed=9, capacity=2)
    again = rematch(c, accepted_pairs=[], affected_ids=[p.id for p in c.leaders])
    fresh = solve(c)
    assert again.pairs == fresh.pairs and again.unmatched == fresh.unmatched


def test_unknown_people_are_refused():
    with pytest.raises(ValueError, match="pl-9"):
        rematch(round_of_three(), accepted_pairs=[], affected_ids=["pl-9"])


def test_accepted_pairs_count_towards_area_minimums():
    newcastle = {"lat": 54.97, "lon": -1.61}
    c = cohort(
        leader("pl-1"),
        leader("pl-2", system="QHM", location=newcastle, meeting_modes=["video"]),
        leader("pl-3", system="QHM", location=newcastle, meeting_modes=["video"]),
        prof("cl-1"),
        prof("cl-2"),
        round={"min_pairs_per_system": {"QHM": 1}},
    )
    # pl-2 with cl-1 already gives QHM its pair: cl-2 is free to take the better fit, pl-1.
    result = rematch(c, accepted_pairs=[("pl-2", "cl-1")], affected_ids=["pl-1", "pl-3", "cl-2"])
    assert pairs_of(result) == {("pl-2", "cl-1"), ("pl-1", "cl-2")}
    # Without it, the minimum makes cl-2 take pl-3.
    result = rematch(c, accepted_pairs=[], affected_ids=["pl-1", "pl-3", "cl-2"])
    assert pairs_of(result) == {("pl-3", "cl-2")}
