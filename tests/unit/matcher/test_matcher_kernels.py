"""The compiled loops (kernels.py) give exactly what the plain numpy code gives.

Pair checks against the numpy rule checks rules.py still uses to explain who was
left without candidates; scores against FitScorer.reference, bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

from services.matcher.domain import kernels, rules
from services.matcher.domain.generate import generate_cohort
from services.matcher.domain.scoring import FitScorer, Weights

pytestmark = pytest.mark.unit


def cohort_of(n_lived: int, n_prof: int, areas_apart: bool, seed: int = 3):
    cohort = generate_cohort(n_lived, n_prof, seed=seed, capacity=2)
    # More do-not-pair wishes than the generator makes, so the banned walk is exercised.
    leaders = [
        p.model_copy(update={"do_not_pair_with": [f"cl-{(i * 7) % n_prof:05d}", f"cl-{(i * 3) % n_prof:05d}"]})
        if i % 5 == 0
        else p
        for i, p in enumerate(cohort.leaders)
    ]
    round_ = cohort.round.model_copy(update={"allow_cross_system_remote": not areas_apart})
    return cohort.model_copy(update={"leaders": leaders, "round": round_})


def numpy_allowed(cohort) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every allowed pair by the numpy rule checks, area by area when areas are kept apart, sorted by person."""
    lived, profs = rules.sides(cohort)
    check = rules._PairCheck(cohort, lived, profs)
    found = []
    for rows, cols in rules._groups(cohort, lived, profs):
        rows, cols = rows[lived.ok[rows]], cols[profs.ok[cols]]
        modes, checks = check(rows, cols)
        i, j = np.nonzero(np.logical_and.reduce([ok for _, ok in checks]))
        found.append((rows[i], cols[j], modes[i, j]))
    li, pj, modes = (np.concatenate(x) for x in zip(*found, strict=True))
    order = np.lexsort((pj, li))
    return li[order], pj[order], modes[order]


@pytest.mark.parametrize("areas_apart", [False, True])
def test_compiled_pair_checks_match_numpy(areas_apart):
    cohort = cohort_of(400, 300, areas_apart)
    cands = rules.find_candidates(cohort)
    li, pj, modes = numpy_allowed(cohort)
    assert len(li) > 1000
    np.testing.assert_array_equal(cands.pair_lived, li)
    np.testing.assert_array_equal(cands.pair_prof, pj)
    np.testing.assert_array_equal(cands.pair_modes, modes)


@pytest.mark.parametrize(
    "weights", [Weights(), Weights(topics=1, travel=3, experience=0.7, organisation=2.5), Weights(0, 1, 0, 0)]
)
def test_compiled_scores_match_numpy_bit_for_bit(weights):
    cands = rules.find_candidates(cohort_of(600, 500, areas_apart=False))
    scorer = FitScorer(cands, weights)
    compiled = scorer(cands.pair_lived, cands.pair_prof, cands.pair_modes)
    reference = scorer.reference(cands.pair_lived, cands.pair_prof, cands.pair_modes)
    assert compiled.dtype == reference.dtype == np.int16
    np.testing.assert_array_equal(compiled, reference)
    assert len(np.unique(reference)) > 20  # a spread of scores, not one value


def test_no_rows_or_no_pairs_gives_empty_arrays():
    cands = rules.find_candidates(cohort_of(5, 5, areas_apart=True))
    scorer = FitScorer(cands, Weights())
    empty = np.zeros(0, dtype=np.int32)
    assert scorer(empty, empty, np.zeros(0, dtype=np.uint8)).shape == (0,)


def test_best_pairs_per_group_keep_the_quota_with_ties_to_the_earlier_pair():
    rng = np.random.default_rng(5)
    group = rng.integers(0, 30, 5000).astype(np.int32)
    score = rng.integers(0, 101, 5000).astype(np.int16)
    quota = rng.integers(0, 12, 30)
    keep = kernels.top_per_group(group, score, quota)
    for g in range(30):
        members = np.flatnonzero(group == g)
        # Best first; among equal scores, the earlier pair first.
        ranked = sorted(members, key=lambda k: (-score[k], k))
        assert sorted(np.flatnonzero(keep & (group == g))) == sorted(ranked[: quota[g]])


def test_best_pairs_of_either_person_are_those_of_each_side_together():
    rng = np.random.default_rng(6)
    side_a, side_b = rng.integers(0, 40, 8000).astype(np.int32), rng.integers(0, 25, 8000).astype(np.int32)
    score = rng.integers(0, 101, 8000).astype(np.int16)
    quota_a, quota_b = rng.integers(0, 12, 40), rng.integers(0, 30, 25)
    keep = kernels.top_per_either(side_a, side_b, score, quota_a, quota_b)
    expected = kernels.top_per_group(side_a, score, quota_a) | kernels.top_per_group(side_b, score, quota_b)
    assert keep.tolist() == expected.tolist()
    assert 0 < keep.sum() < len(keep)


def test_parts_are_labelled_by_their_smallest_person():
    # lived 0-1-prof 0 (node 4), lived 2 alone with prof 1 (node 5), prof 2 (node 6) without pairs
    label, paired = kernels.smallest_in_part(
        4, 3, np.array([1, 0, 2], dtype=np.int32), np.array([0, 0, 1], dtype=np.int32)
    )  # and lived 3 (node 3) without pairs
    assert label.tolist() == [0, 0, 2, 3, 0, 2, 6]
    assert paired.tolist() == [True, True, True, False]


@pytest.mark.parametrize("hours", [1.0, 0.3, 2.5, 0.0])
def test_shared_time_by_slots_matches_the_matrix_product(hours):
    cohort = cohort_of(500, 400, areas_apart=False)
    lived, profs = rules.sides(cohort)
    by_slots = rules._overlap_ok(lived, profs, hours * 3600)
    np.testing.assert_array_equal(by_slots, rules._overlap_ok_by_product(lived, profs, hours * 3600))
    assert 0 < by_slots.mean() <= 1


def test_odd_minutes_fall_back_to_the_matrix_product():
    cohort = cohort_of(40, 30, areas_apart=False)
    odd = [
        p.model_copy(update={"availability": [w.model_copy(update={"end": w.end.replace(second=7)}) for w in p.availability]})
        for p in cohort.leaders
    ]
    lived, profs = rules.sides(cohort.model_copy(update={"leaders": odd}))
    np.testing.assert_array_equal(rules._overlap_ok(lived, profs, 3600), rules._overlap_ok_by_product(lived, profs, 3600))


def test_pairs_below_a_reduced_cost_are_marked():
    rng = np.random.default_rng(7)
    u, v = rng.integers(0, 40, 3000).astype(np.int32), rng.integers(0, 30, 3000).astype(np.int32)
    score = rng.integers(0, 101, 3000).astype(np.int16)
    pot_l, pot_p = rng.integers(-50, 50, 40), rng.integers(-50, 50, 30)
    for limit in (-200, -20, 0, 7, 300):
        expected = pot_l[u] - pot_p[v] - score.astype(np.int64) < limit
        np.testing.assert_array_equal(kernels.reduced_below(u, v, score, pot_l, pot_p, limit), expected)
    assert 0 < kernels.reduced_below(u, v, score, pot_l, pot_p, 0).sum() < 3000  # some pairs on each side of the line


def test_open_pairs_move_to_the_front_in_order_and_the_others_follow_in_order():
    rng = np.random.default_rng(8)
    lived, prof = np.sort(rng.integers(0, 20, 500)).astype(np.int32), rng.integers(0, 15, 500).astype(np.int32)
    modes = rng.integers(1, 8, 500).astype(np.uint8)
    lived_open, prof_open = rng.random(20) < 0.8, rng.random(15) < 0.7
    is_open = lived_open[lived] & prof_open[prof]
    expected = [np.concatenate([a[is_open], a[~is_open]]) for a in (lived, prof, modes)]
    n_open = kernels.open_first(lived, prof, modes, lived_open, prof_open)
    assert n_open == is_open.sum() and 0 < n_open < 500
    for got, want in zip((lived, prof, modes), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    everyone = np.ones(20, dtype=bool), np.ones(15, dtype=bool)
    assert kernels.open_first(lived, prof, modes, *everyone) == 500
