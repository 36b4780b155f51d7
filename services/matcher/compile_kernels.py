"""Compile the matcher's loops (services/matcher/domain/kernels.py) ahead of use.

`make` runs this once after installing: numba compiles each loop on first use and
keeps the result beside the source, so without this the first round a fresh
machine solves would wait about 10 to 20 s for compiling. Solving small generated
rounds of each kind (areas open or kept apart, capacity above 1, locked pairs, area
minimums) compiles every variant a real round uses, and the best pairs of each person
(used only in rounds of over 200,000 allowed pairs) are marked once on a few pairs.

    .venv/bin/python -m services.matcher.compile_kernels
"""

from __future__ import annotations

import sys
import time

import numpy as np

from services.matcher.domain import Limits, flow, solve
from services.matcher.domain.generate import generate_cohort


def compile_kernels() -> None:
    cohort = generate_cohort(60, 40, seed=1, capacity=2)
    first = solve(cohort).pairs[0]
    # A locked pair: the free pairs are then moved to the front (kernels.open_first).
    solve(cohort.model_copy(update={"locked_pairs": [(first.lived_experience_id, first.professional_id)]}))
    apart = cohort.model_copy(update={"round": cohort.round.model_copy(update={"allow_cross_system_remote": False})})
    solve(apart)
    minimums = {p.system: 1000 for p in cohort.leaders[:1]}  # too many to meet: every step of that path runs
    solve(
        apart.model_copy(
            update={"round": apart.round.model_copy(update={"min_pairs_per_system": minimums, "time_limit_seconds": 2})}
        ),
        Limits(search_workers=1),
    )
    _compile_best_pairs()


def _compile_best_pairs() -> None:
    """flow.best_pairs, with the types a round's free pairs have (flow.match)."""
    pairs = np.array([0, 1], dtype=np.int32)
    flow.best_pairs(pairs, pairs, np.array([5, 7], dtype=np.int16), 2, np.ones(2, dtype=np.int64))


def main() -> None:
    started = time.perf_counter()
    compile_kernels()
    print(f"Matcher loops compiled in {time.perf_counter() - started:.0f} s.", file=sys.stderr)


if __name__ == "__main__":
    main()
