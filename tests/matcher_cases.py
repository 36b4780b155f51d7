"""Seeded cohorts whose answers were recorded before the matcher was sped up further (issue 17):
tests/unit/matcher/test_matcher_equality.py checks the solver still gives them exactly.

Each case is a generated cohort (services.matcher.domain.generate) with a twist that takes the
solver down another path: the pricing path (over 200,000 allowed pairs), capacity above 1, areas
kept apart (one part per area), people left out before, pairing again with pairs locked and
declined ones forbidden, stage 3 left out, and area minimums (CP-SAT, one search worker).

    .venv/bin/python -m tests.matcher_cases   # records tests/unit/matcher/fixtures/answers_2026_12_06.json
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from schemas.cohort import Cohort
from services.matcher.domain import Limits, solve
from services.matcher.domain.generate import generate_cohort

FIXTURE = Path(__file__).parent / "unit" / "matcher" / "fixtures" / "answers_2026_12_06.json"


def _round(cohort: Cohort, **fields: Any) -> Cohort:
    return cohort.model_copy(update={"round": cohort.round.model_copy(update=fields)})


def _left_out_before(cohort: Cohort, every: int) -> Cohort:
    leaders = [p.model_copy(update={"left_out_before": i % every == 0}) for i, p in enumerate(cohort.leaders)]
    return cohort.model_copy(update={"leaders": leaders})


def _pair_again(cohort: Cohort) -> Cohort:
    """As the registry asks after declines: kept pairs locked, every 20th pair declined and forbidden."""
    first = solve(cohort)
    declined = [(p.lived_experience_id, p.professional_id) for i, p in enumerate(first.pairs) if i % 20 == 10 and not p.locked]
    kept = [(p.lived_experience_id, p.professional_id) for p in first.pairs]
    kept = [pair for pair in kept if pair not in set(declined)]
    return cohort.model_copy(update={"locked_pairs": kept, "forbidden_pairs": [*cohort.forbidden_pairs, *declined]})


def _minimums(cohort: Cohort) -> Cohort:
    return _round(cohort, min_pairs_per_system={"QHL": 50, "QHM": 57}, time_limit_seconds=30)


# name -> (cohort maker, limits)
CASES: dict[str, tuple[Callable[[], Cohort], Limits]] = {
    "1200 x 1200, seed 2 (pricing)": (lambda: generate_cohort(1200, 1200, seed=2), Limits()),
    "300 x 300, seed 3": (lambda: generate_cohort(300, 300, seed=3), Limits()),
    "900 x 250, capacity 4, seed 4, areas apart": (
        lambda: _round(generate_cohort(900, 250, seed=4, capacity=4), allow_cross_system_remote=False),
        Limits(),
    ),
    "700 x 700, seed 5, every 7th left out before": (lambda: _left_out_before(generate_cohort(700, 700, seed=5), 7), Limits()),
    "1000 x 300, capacity 3, seed 6, paired again": (
        lambda: _pair_again(generate_cohort(1000, 300, seed=6, capacity=3)),
        Limits(),
    ),
    "800 x 800, seed 7, no stage 3": (lambda: generate_cohort(800, 800, seed=7), Limits(fairness_stage=False)),
    "200 x 200, seed 1, area minimums": (lambda: _minimums(generate_cohort(200, 200, seed=1)), Limits(search_workers=1)),
}


def record() -> None:
    from tests.matcher_answers import full_digest

    out = {}
    for name, (make, limits) in CASES.items():
        result = solve(make(), limits)
        out[name] = {"sha256": full_digest(result), "pairs": len(result.pairs), "objective": result.stats.objective}
        print(name, out[name])
    FIXTURE.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    record()
