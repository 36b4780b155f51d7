"""The objective, in order: most pairs, best total fit, then the best worst pair."""

from __future__ import annotations

import numpy as np
import pytest
from matcher_builders import cohort, leader, pairs_of, prof

from schemas.cohort import FitWeights
from services.matcher.domain import Limits, Weights, flow, solve
from services.matcher.domain.generate import generate_cohort

pytestmark = pytest.mark.unit

TUESDAY = [{"day": "tue", "start": "10:00", "end": "12:30"}]
THURSDAY = [{"day": "thu", "start": "14:00", "end": "16:00"}]


def test_locked_pair_is_kept_even_when_a_rule_forbids_it_and_uses_capacity():
    result = solve(
        cohort(
            leader("pl-1", availability=THURSDAY),  # no shared time with cl-1
            leader("pl-2"),
            prof("cl-1"),
            locked_pairs=[["cl-1", "pl-1"]],
        )
    )
    assert pairs_of(result) == {("pl-1", "cl-1")}
    assert result.pairs[0].locked
    assert result.pairs[0].reasons[0] == "This pair was agreed in advance."
    # cl-1's only place went to the locked pair, so pl-2 is told everyone suitable is taken.
    assert [(u.id, u.rule) for u in result.unmatched] == [("pl-2", "capacity")]


def test_a_professional_can_take_as_many_partners_as_their_capacity():
    result = solve(cohort(leader("pl-1"), leader("pl-2"), leader("pl-3"), prof("cl-1", capacity=2)))
    assert len(result.pairs) == 2
    assert {p.professional_id for p in result.pairs} == {"cl-1"}
    assert [u.id for u in result.unmatched] == ["pl-3"]


def test_more_pairs_beat_a_higher_total_score():
    # pl-1 fits cl-1 best, but only cl-1 can meet pl-2: two pairs beat one better pair.
    result = solve(
        cohort(
            leader("pl-1", topics=["cardiac"], availability=TUESDAY + THURSDAY),
            leader("pl-2", topics=["stroke"], availability=TUESDAY),
            prof("cl-1", topics=["cardiac"], availability=TUESDAY),
            prof("cl-2", topics=["dementia"], availability=THURSDAY),
        )
    )
    assert pairs_of(result) == {("pl-1", "cl-2"), ("pl-2", "cl-1")}
    assert result.stats.objective["paired_people"] == 2


def test_with_equal_pairs_the_higher_total_score_wins():
    result = solve(
        cohort(
            leader("pl-1", topics=["cardiac"]),
            leader("pl-2", topics=["stroke"]),
            prof("cl-1", topics=["stroke"]),
            prof("cl-2", topics=["cardiac"]),
        )
    )
    assert pairs_of(result) == {("pl-1", "cl-2"), ("pl-2", "cl-1")}


def _match(scores: dict[tuple[int, int], int], n_lived: int, spare: list[int], fairness: bool):
    arcs = sorted(scores)
    return flow.match(
        n_lived,
        np.array(spare, dtype=np.int64),
        np.array([a for a, _ in arcs], dtype=np.int32),
        np.array([b for _, b in arcs], dtype=np.int32),
        np.array([scores[a] for a in arcs], dtype=np.int16),
        fairness,
    )


def test_fairness_stage_lifts_the_worst_pair_without_lowering_the_total():
    # Both pairings total 100; one has a worst pair of 10, the other of 40.
    scores = {(0, 0): 90, (1, 1): 10, (0, 1): 60, (1, 0): 40}
    fair = _match(scores, 2, [1, 1], fairness=True)
    assert (fair.pairs, fair.total, fair.worst) == (2, 100, 40)
    plain = _match(scores, 2, [1, 1], fairness=False)
    assert (plain.pairs, plain.total) == (2, 100)


def test_fairness_stage_never_trades_away_total_score():
    # 90 + 10 = 100 beats 45 + 45 = 90, however bad the worst pair is.
    fair = _match({(0, 0): 90, (1, 1): 10, (0, 1): 45, (1, 0): 45}, 2, [1, 1], fairness=True)
    assert (fair.total, fair.worst) == (100, 10)


def test_large_parts_solved_by_pricing_match_the_direct_solve(monkeypatch):
    rng = np.random.default_rng(7)
    priced_parts = 0
    for _ in range(20):
        n_l, n_p = rng.integers(5, 25), rng.integers(3, 15)
        mask = rng.random((n_l, n_p)) < 0.3
        scores = {(int(a), int(b)): int(rng.integers(0, 101)) for a, b in zip(*np.nonzero(mask), strict=True)}
        spare = rng.integers(1, 4, n_p).tolist()
        direct = _match(scores, n_l, spare, fairness=True)
        with monkeypatch.context() as m:
            m.setattr(flow, "DIRECT_PAIRS", 0)
            m.setattr(flow, "KEEP_PER_PERSON", 1)
            priced = _match(scores, n_l, spare, fairness=True)
        assert (priced.pairs, priced.total, priced.worst) == (direct.pairs, direct.total, direct.worst)
        priced_parts += priced.priced
    assert priced_parts > 0  # the pricing path really ran


def test_stats_report_optimal_stages_and_counts():
    stats = solve(generate_cohort(40, 30, seed=3)).stats
    assert stats.status == "optimal" and stats.gap == 0
    assert stats.best_bound == stats.objective
    assert set(stats.objective) == {"paired_people", "total_fit", "worst_pair_fit"}
    counts = stats.counts
    assert counts["lived_experience"] == 40 and counts["professionals"] == 30 and counts["leaders"] == 70
    assert counts["pairs"] == stats.objective["paired_people"]
    assert counts["candidate_pairs"] >= counts["pairs"] > 0


def test_same_input_gives_the_same_result():
    c = generate_cohort(120, 90, seed=11, capacity=2)
    assert solve(c).model_dump() == solve(c).model_dump()


def test_leader_order_in_the_file_does_not_change_the_result():
    c = generate_cohort(60, 50, seed=5)
    shuffled = c.model_copy(update={"leaders": list(reversed(c.leaders))})
    assert solve(c).model_dump() == solve(shuffled).model_dump()


def test_weights_change_the_scores():
    c = cohort(leader("pl-1", topics=["cardiac"]), prof("cl-1", topics=["stroke"]))
    topics_only = solve(c, Limits(weights=Weights(topics=1, travel=0, experience=0, organisation=0)))
    assert topics_only.pairs[0].score == 0
    with pytest.raises(ValueError):
        Weights(topics=-1)


def test_a_round_sets_its_own_weights():
    c = cohort(leader("pl-1", topics=["cardiac"]), prof("cl-1", topics=["stroke"]))
    assert solve(c).pairs[0].score > 0
    topics_only = c.model_copy(
        update={"round": c.round.model_copy(update={"weights": FitWeights(topics=1, travel=0, experience=0, organisation=0)})}
    )
    assert solve(topics_only).pairs[0].score == 0
    with pytest.raises(ValueError, match="at least one weight must be above 0"):
        FitWeights(topics=0, travel=0, experience=0, organisation=0)


def test_generated_cohorts_are_reproducible_and_valid():
    a, b = generate_cohort(50, 40, seed=2, capacity=3, systems=3), generate_cohort(50, 40, seed=2, capacity=3, systems=3)
    assert a == b
    assert len({p.system for p in a.leaders}) <= 3
    assert all(p.capacity == 3 for p in a.leaders if p.is_professional)


def test_people_left_out_before_are_paired_before_a_better_fit():
    # pl-1 shares cl-1's topics, pl-2 shares none but was left out before; pl-3, also
    # left out before, meets only by phone, as only cl-2 does.
    result = solve(
        cohort(
            leader("pl-1"),
            leader("pl-2", topics=["stroke"], left_out_before=True),
            leader("pl-3", left_out_before=True, meeting_modes=["phone"]),
            prof("cl-1"),
            prof("cl-2", meeting_modes=["phone"], capacity=1),
        )
    )
    pairs = {(p.lived_experience_id, p.professional_id) for p in result.pairs}
    assert pairs == {("pl-2", "cl-1"), ("pl-3", "cl-2")}
    assert result.stats.objective["priority_paired"] == 2 == result.stats.best_bound["priority_paired"]
    assert list(result.stats.objective) == ["paired_people", "priority_paired", "total_fit", "worst_pair_fit"]


def test_a_professional_left_out_before_counts_once_however_many_places_they_have():
    result = solve(
        cohort(
            leader("pl-1"),
            leader("pl-2"),
            prof("cl-1", capacity=2, left_out_before=True),
            prof("cl-2", topics=["stroke"], left_out_before=True),
        )
    )
    # Two pairs either way; one each gives both professionals a partner.
    assert sorted(p.professional_id for p in result.pairs) == ["cl-1", "cl-2"]
    assert result.stats.objective["priority_paired"] == 2
