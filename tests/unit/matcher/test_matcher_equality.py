"""The solver's answers are the same as before it was sped up (issue 17).

fixtures/before_issue_17.json.gz holds the pairs (with scores, ways to meet, shared
times and reasons), the unmatched people with their reasons, and the objective, as
the solver at commit e8793be gave them for two generated cohorts: one with every
area open to remote pairs, and one with capacity 5 and areas kept apart (each area
solved on its own). The benchmark checks the large cohorts the same way
(tests/bench/matcher_before_issue_17.json). Since issue 16 the words for distances (now in
miles) and the suggestions for people not paired are left out of the comparison
(tests/matcher_answers.py).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from services.matcher.domain import solve
from services.matcher.domain.generate import generate_cohort
from tests.matcher_answers import comparable, comparable_answers, full_digest
from tests.matcher_cases import CASES

pytestmark = pytest.mark.unit

BEFORE = json.loads(gzip.decompress((Path(__file__).parent / "fixtures" / "before_issue_17.json.gz").read_bytes()))


def answers(result) -> dict:
    return {**comparable(result), "objective": result.stats.objective}


@pytest.mark.parametrize(
    ("label", "n_lived", "n_prof", "capacity", "areas_apart"),
    [("1000 x 1000", 1000, 1000, 1, False), ("1000 x 200, capacity 5, areas apart", 1000, 200, 5, True)],
)
def test_same_pairs_and_reasons_as_before(label, n_lived, n_prof, capacity, areas_apart):
    cohort = generate_cohort(n_lived, n_prof, seed=1, capacity=capacity)
    if areas_apart:
        cohort = cohort.model_copy(update={"round": cohort.round.model_copy(update={"allow_cross_system_remote": False})})
    now, before = answers(solve(cohort)), BEFORE[label]
    assert now["objective"] == before["objective"]
    assert now["pairs"] == comparable_answers(before["pairs"], "reasons")
    assert now["unmatched"] == comparable_answers(before["unmatched"], "reason")
    assert len(before["pairs"]) > 100 and len(before["unmatched"]) > 10  # the fixture holds real answers


# Answers recorded on 2026-12-06, before the matcher was sped up further (tests/matcher_cases.py):
# every pair, reason, suggestion, bound and status, on cohorts that take the solver down each of its paths.
TODAY = json.loads((Path(__file__).parent / "fixtures" / "answers_2026_12_06.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_answers_as_recorded_before_the_speed_up(name):
    make, limits = CASES[name]
    result = solve(make(), limits)
    assert result.stats.objective == TODAY[name]["objective"]
    assert len(result.pairs) == TODAY[name]["pairs"]
    assert full_digest(result) == TODAY[name]["sha256"]
