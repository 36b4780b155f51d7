"""Compile the matcher's loops (services/matcher/domain/kernels.py) ahead of use.

`make` runs this once after installing: numba compiles each loop on first use and
keeps the result beside the source, so without this the first round a fresh
machine solves would wait about 10 to 20 s for compiling. Solving small generated
rounds of each kind (areas open or kept apart, capacity above 1, area minimums)
compiles every variant a real round uses.

    .venv/bin/python -m services.matcher.compile_kernels
"""

from __future__ import annotations

import sys
import time

from services.matcher.domain import Limits, solve
from services.matcher.domain.generate import generate_cohort


def compile_kernels() -> None:
    cohort = generate_cohort(60, 40, seed=1, capacity=2)
    solve(cohort)
    apart = cohort.model_copy(update={"round": cohort.round.model_copy(update={"allow_cross_system_remote": False})})
    solve(apart)
    minimums = {p.system: 1000 for p in cohort.leaders[:1]}  # too many to meet: every step of that path runs
    solve(
        apart.model_copy(
            update={"round": apart.round.model_copy(update={"min_pairs_per_system": minimums, "time_limit_seconds": 2})}
        ),
        Limits(search_workers=1),
    )


def main() -> None:
    started = time.perf_counter()
    compile_kernels()
    print(f"Matcher loops compiled in {time.perf_counter() - started:.0f} s.", file=sys.stderr)


if __name__ == "__main__":
    main()
