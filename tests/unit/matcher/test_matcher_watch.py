"""Following a long solve and stopping it (a cancelled round): services/matcher/domain/watch.py."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from schemas.cohort import Cohort
from services.matcher.domain import Progress, SolveStopped, Watch, solve
from services.matcher.domain.generate import generate_cohort

pytestmark = pytest.mark.unit


def with_raised_minimums(n: int) -> Cohort:
    """A generated round whose two thinnest areas need more pairs than the best pairing gives them,
    so CP-SAT has to search."""
    plain = generate_cohort(n, n, seed=3)
    area = {p.id: p.system for p in plain.leaders}
    counts = Counter(a for p in solve(plain).pairs for a in {area[p.lived_experience_id], area[p.professional_id]})
    low = sorted(counts, key=lambda a: (counts[a], a))[:2]
    minimums = {low[0]: counts[low[0]] + 2, low[1]: counts[low[1]] + 1}
    return plain.model_copy(update={"round": plain.round.model_copy(update={"min_pairs_per_system": minimums})})


def test_a_solve_reports_each_stage_and_every_better_solution():
    seen: list[Progress] = []
    result = solve(with_raised_minimums(200), watch=Watch(seen.append))
    stages = [p.stage for p in seen]
    assert stages[:3] == ["checking who can be paired with whom", stages[1], "meeting the minimum pairs for each area"]
    assert stages[1].startswith("pairing: ") and stages[1].endswith(" possible pairs found")
    searched = [p for p in seen if p.stage == "meeting the area minimums"]
    assert searched, "CP-SAT's solutions are reported as it finds them"
    for p in searched:
        assert p.objective["paired_people"] <= p.bound["paired_people"] and 0 <= p.gap <= 1
    assert result.stats.status == "optimal" and searched[-1].objective["total_fit"] == result.stats.objective["total_fit"]


def test_a_watch_stopped_before_the_solve_stops_it_at_once():
    watch = Watch()
    watch.stop()
    with pytest.raises(SolveStopped):
        solve(generate_cohort(20, 20, seed=1), watch=watch)


def test_stopping_during_the_search_interrupts_cp_sat():
    watch = Watch()

    def stop_at_first_solution(progress: Progress) -> None:
        if progress.stage == "meeting the area minimums":
            watch.stop()

    watch = Watch(stop_at_first_solution)
    with pytest.raises(SolveStopped):
        solve(with_raised_minimums(200), watch=watch)


def test_stop_from_another_thread_reaches_the_running_search():
    stopped_search = threading.Event()
    watch = Watch()
    with pytest.raises(SolveStopped), watch.searching(stopped_search.set):
        other = threading.Thread(target=watch.stop)
        other.start()
        other.join()
        assert stopped_search.is_set()
    assert watch.stopped


def test_a_plain_solve_needs_no_watch():
    assert solve(generate_cohort(20, 20, seed=1)).stats.status == "optimal"
