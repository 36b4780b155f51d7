"""Properties on small random cohorts, checked against independent simple code.

The rule checker below is written straight from cohort-format.md and shares no code
with rules.py; pair counts and totals come from scipy's matching and assignment.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from schemas.cohort import Cohort
from services.matcher.domain import flow, solve
from services.matcher.domain.rules import find_candidates
from services.matcher.domain.scoring import FitScorer, Weights

pytestmark = pytest.mark.unit

PLACES = [(53.80, -1.55), (53.80, -1.43), (53.48, -2.24), (54.97, -1.61)]
WINDOWS = [
    {"day": "tue", "start": "10:00", "end": "12:30"},
    {"day": "tue", "start": "11:30", "end": "13:00"},
    {"day": "wed", "start": "09:00", "end": "10:00"},
    {"day": "wed", "start": "09:30", "end": "11:00"},
    {"day": "thu", "start": "14:00", "end": "17:00"},
]
DATES = ["2027-01-12", "2027-02-16", "2027-03-02"]
MODE_SETS = [["in_person"], ["video"], ["phone"], ["in_person", "video"], ["video", "phone"], ["in_person", "video", "phone"]]


@st.composite
def cohorts(draw) -> Cohort:
    n_lived, n_prof = draw(st.integers(1, 7)), draw(st.integers(1, 5))
    ids = [f"pl-{i}" for i in range(n_lived)] + [f"cl-{i}" for i in range(n_prof)]

    def person(pid: str) -> dict:
        professional = pid.startswith("cl")
        place = draw(st.sampled_from([None, *PLACES]))
        return {
            "id": pid,
            "role": draw(
                st.sampled_from(["clinical_leader", "managerial_leader"] if professional else ["patient_leader", "carer_leader"])
            ),
            "system": draw(st.sampled_from(["QWO", "QHM"])),
            "organisation": draw(st.sampled_from([None, "org-a", "org-b"])),
            "location": None if place is None else {"lat": place[0], "lon": place[1]},
            "max_travel_km": draw(st.sampled_from([None, 0, 5, 10, 50, 300])),
            "meeting_modes": draw(st.sampled_from(MODE_SETS)),
            "availability": draw(st.lists(st.sampled_from(WINDOWS), min_size=1, max_size=3)),
            "unavailable_dates": draw(st.sampled_from([[], [], [], [], ["2027-04-01"], [DATES[0]]])),
            "term_time_only": draw(st.sampled_from([False] * 5 + [True])),
            "min_notice_days": draw(st.sampled_from([0, 0, 0, 0, 7, 50])),
            "access_needs": draw(st.sampled_from([[]] * 5 + [["bsl_interpreter"], ["quiet_room"]])),
            "topics": draw(st.lists(st.sampled_from(["cardiac", "stroke", "discharge"]), max_size=2, unique=True)),
            "experience": draw(st.sampled_from(["new", "some", "experienced"])),
            "capacity": draw(st.sampled_from([0, 1, 1, 2, 3])) if professional else 1,
            "release_confirmed": draw(st.sampled_from([True, True, True, False, None])) if professional else None,
            "do_not_pair_with": draw(st.sampled_from([[], [], []] + [[i] for i in ids])),
        }

    leaders = [person(pid) for pid in ids]
    pairs = (
        st.lists(st.tuples(st.sampled_from(ids[:n_lived]), st.sampled_from(ids[n_lived:])), max_size=2)
        if n_lived and n_prof
        else st.just([])
    )
    locked = {}
    for a, b in draw(pairs):  # at most one locked pair per person
        if a not in locked and b not in locked.values():
            locked[a] = b
    return Cohort.model_validate(
        {
            "round": {
                "id": "prop",
                "launch_date": draw(st.sampled_from(["2026-12-01", "2026-12-20"])),
                "sessions": [
                    {"date": d, "start": "10:00", "end": "15:00"}
                    for d in draw(st.lists(st.sampled_from(DATES), max_size=2, unique=True))
                ],
                "school_holidays": [{"from": "2027-02-15", "to": "2027-02-19"}],
                "min_shared_hours_per_week": draw(st.sampled_from([0.5, 1.0, 1.0, 2.0])),
                "allow_cross_system_remote": draw(st.booleans()),
            },
            "leaders": leaders,
            "locked_pairs": sorted(locked.items()),
            "forbidden_pairs": draw(pairs),
            "previous_pairs": draw(pairs),
        }
    )


# ---- an independent checker, straight from the format description ----------------


def can_attend(p, rnd) -> bool:
    if not rnd.sessions:
        return True
    first = min(s.date for s in rnd.sessions)
    if "bsl_interpreter" in p.access_needs and (first - rnd.launch_date).days < 28:
        return False
    for s in rnd.sessions:
        if s.date in p.unavailable_dates or (s.date - rnd.launch_date).days < p.min_notice_days:
            return False
        if p.term_time_only and any(h.from_ <= s.date <= h.to for h in rnd.school_holidays):
            return False
    return True


def weekly_minutes(p) -> set[int]:
    day = {d: i for i, d in enumerate(["mon", "tue", "wed", "thu", "fri", "sat", "sun"])}
    return {
        day[w.day] * 1440 + m
        for w in p.availability
        for m in range(w.start.hour * 60 + w.start.minute, w.end.hour * 60 + w.end.minute)
    }


def km_between(a, b) -> float:
    la1, lo1, la2, lo2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def allowed(c: Cohort, lived, pro) -> bool:
    rnd = c.round
    if pro.release_confirmed is False or pro.capacity == 0 or not can_attend(lived, rnd) or not can_attend(pro, rnd):
        return False
    if len(weekly_minutes(lived) & weekly_minutes(pro)) < rnd.min_shared_hours_per_week * 60:
        return False
    common = set(lived.meeting_modes) & set(pro.meeting_modes)
    in_person = (
        "in_person" in common
        and None not in (lived.location, pro.location, lived.max_travel_km, pro.max_travel_km)
        and km_between(lived.location, pro.location) <= min(lived.max_travel_km, pro.max_travel_km)
    )
    if not in_person and not common & {"video", "phone"}:
        return False
    if lived.system != pro.system and not (rnd.allow_cross_system_remote and common & {"video", "phone"}):
        return False
    never = {frozenset(p) for p in c.forbidden_pairs + c.previous_pairs}
    return not (pro.id in lived.do_not_pair_with or lived.id in pro.do_not_pair_with or frozenset((lived.id, pro.id)) in never)


def free_problem(c: Cohort):
    """The lived people, professional places and allowed edges left once locked pairs are taken out."""
    lived = sorted((p for p in c.leaders if not p.is_professional), key=lambda p: p.id)
    pros = sorted((p for p in c.leaders if p.is_professional), key=lambda p: p.id)
    locked = {frozenset(p) for p in c.locked_pairs}
    locked_ids = {i for p in c.locked_pairs for i in p}
    places = [(j, k) for j, p in enumerate(pros) for k in range(p.capacity - sum(p.id in pair for pair in locked))]
    edges = [
        (i, s)
        for i, lv in enumerate(lived)
        if lv.id not in locked_ids
        for s, (j, _) in enumerate(places)
        if allowed(c, lv, pros[j])
    ]
    return lived, pros, places, edges


def locks_fit(c: Cohort) -> bool:
    """No professional is in more locked pairs than their capacity (else the round is infeasible)."""
    return all(sum(p.id in pair for pair in c.locked_pairs) <= p.capacity for p in c.leaders if p.is_professional)


# ---- properties -------------------------------------------------------------------

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(cohorts())
def test_every_pair_obeys_every_hard_rule(c):
    result = solve(c)
    people = {p.id: p for p in c.leaders}
    locked = {tuple(sorted(p)) for p in c.locked_pairs}
    over = [pid for pid, p in people.items() if p.is_professional and sum(pid in pair for pair in c.locked_pairs) > p.capacity]
    if result.stats.status == "infeasible":  # only when locks ask more than someone can take
        assert over and result.pairs == [] and len(result.relaxations) == len(over)
        return
    assert not over and result.relaxations == []
    for pair in result.pairs:
        lived, pro = people[pair.lived_experience_id], people[pair.professional_id]
        assert not lived.is_professional and pro.is_professional
        assert pair.locked == (tuple(sorted((lived.id, pro.id))) in locked)
        assert pair.locked or allowed(c, lived, pro), pair
    lived_ids = [p.lived_experience_id for p in result.pairs]
    assert len(lived_ids) == len(set(lived_ids))
    for pro_id in {p.professional_id for p in result.pairs}:
        load = sum(p.professional_id == pro_id for p in result.pairs)
        assert load <= people[pro_id].capacity
    assert locked <= {tuple(sorted((p.lived_experience_id, p.professional_id))) for p in result.pairs}


@SETTINGS
@given(cohorts())
def test_pair_count_equals_an_independent_maximum_matching(c):
    assume(locks_fit(c))
    lived, _, places, edges = free_problem(c)
    graph = csr_matrix((np.ones(len(edges)), ([e[0] for e in edges], [e[1] for e in edges])), shape=(len(lived), len(places)))
    most = int((maximum_bipartite_matching(graph, perm_type="column") >= 0).sum()) if edges else 0
    result = solve(c)
    assert len([p for p in result.pairs if not p.locked]) == most


@SETTINGS
@given(cohorts())
def test_total_fit_and_worst_pair_are_optimal(c):
    assume(locks_fit(c))
    lived, pros, places, edges = free_problem(c)
    cands = find_candidates(c)
    scorer = FitScorer(cands, Weights())

    def score(i: int, j: int) -> int:
        li, pj = cands.lived.index[lived[i].id], cands.professionals.index[pros[j].id]
        k = np.flatnonzero((cands.pair_lived == li) & (cands.pair_prof == pj))
        return int(scorer(np.array([li]), np.array([pj]), cands.pair_modes[k])[0])

    def best(floor: int) -> tuple[int, int]:
        """(pairs, total) of the best pairing using pairs scoring floor or more."""
        big = 10_000
        worth = np.zeros((len(lived), len(places)))
        for i, s in edges:
            fit = score(i, places[s][0])
            if fit >= floor:
                worth[i, s] = big + fit
        rows, cols = linear_sum_assignment(worth, maximize=True)
        used = worth[rows, cols] > 0
        return int(used.sum()), int((worth[rows, cols][used] - big).sum())

    result = solve(c)
    free = [p for p in result.pairs if not p.locked]
    assert (len(free), sum(p.score for p in free)) == best(0)
    if free:
        # No optimal pairing avoids every pair at or below the chosen worst score.
        assert best(min(p.score for p in free) + 1) != best(0)


@settings(max_examples=30, deadline=None)
@given(cohorts())
def test_same_cohort_same_result(c):
    assert solve(c).model_dump() == solve(c).model_dump()


@st.composite
def graphs(draw) -> tuple[int, list[int], dict[tuple[int, int], int]]:
    n_lived, n_prof = draw(st.integers(1, 8)), draw(st.integers(1, 6))
    spare = draw(st.lists(st.integers(1, 3), min_size=n_prof, max_size=n_prof))
    cells = [(i, j) for i in range(n_lived) for j in range(n_prof)]
    chosen = draw(st.lists(st.sampled_from(cells), unique=True, max_size=len(cells)))
    return n_lived, spare, {cell: draw(st.sampled_from([0, 10, 40, 41, 60, 90, 100])) for cell in chosen}


def assignment_best(n_lived: int, spare: list[int], scores: dict[tuple[int, int], int], floor: int) -> tuple[int, int]:
    places = [j for j, s in enumerate(spare) for _ in range(s)]
    worth = np.zeros((n_lived, len(places)))
    for (i, j), fit in scores.items():
        if fit >= floor:
            worth[i, [k for k, p in enumerate(places) if p == j]] = 10_000 + fit
    rows, cols = linear_sum_assignment(worth, maximize=True)
    used = worth[rows, cols] > 0
    return int(used.sum()), int((worth[rows, cols][used] - 10_000).sum())


@SETTINGS
@given(graphs(), st.booleans())
def test_all_three_stages_are_optimal_with_and_without_pricing(graph, priced):
    n_lived, spare, scores = graph
    arcs = sorted(scores)
    args = (
        n_lived,
        np.array(spare, dtype=np.int64),
        np.array([a for a, _ in arcs], dtype=np.int32),
        np.array([b for _, b in arcs], dtype=np.int32),
        np.array([scores[a] for a in arcs], dtype=np.int16),
        True,
    )
    with pytest.MonkeyPatch.context() as m:
        if priced:
            m.setattr(flow, "DIRECT_PAIRS", 0)
            m.setattr(flow, "KEEP_PER_PERSON", 1)
        out = flow.match(*args)
    assert (out.pairs, out.total) == assignment_best(n_lived, spare, scores, 0)
    if out.pairs:
        assert assignment_best(n_lived, spare, scores, out.worst + 1) != (out.pairs, out.total)
        load = np.bincount(args[3][out.chosen], minlength=len(spare))
        assert (load <= spare).all() and len(set(args[2][out.chosen])) == out.pairs


@st.composite
def small_graphs(draw) -> tuple[int, list[int], dict[tuple[int, int], int]]:
    n_lived, n_prof = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    spare = draw(st.lists(st.integers(1, 2), min_size=n_prof, max_size=n_prof))
    cells = [(i, j) for i in range(n_lived) for j in range(n_prof)]
    chosen = draw(st.lists(st.sampled_from(cells), unique=True, max_size=len(cells)))
    return n_lived, spare, {cell: draw(st.integers(0, 100)) for cell in chosen}


@SETTINGS
@given(small_graphs(), st.integers(0, 40), st.booleans())
def test_pairings_close_to_the_best_use_only_pairs_within_the_gap(graph, gap, priced):
    """Outcome.within(gap): every pairing with the most pairs and a total fit at most gap
    below the best uses only those pairs (what makes the area-minimum model exact)."""
    n_lived, spare, scores = graph
    arcs = sorted(scores)
    with pytest.MonkeyPatch.context() as m:
        if priced:
            m.setattr(flow, "DIRECT_PAIRS", 0)
            m.setattr(flow, "KEEP_PER_PERSON", 1)
        out = flow.match(
            n_lived,
            np.array(spare, dtype=np.int64),
            np.array([a for a, _ in arcs], dtype=np.int32),
            np.array([b for _, b in arcs], dtype=np.int32),
            np.array([scores[a] for a in arcs], dtype=np.int16),
            False,
        )
        near = set(out.within(gap).tolist())
    for chosen in itertools.combinations(range(len(arcs)), out.pairs):
        lived = [arcs[k][0] for k in chosen]
        load = np.bincount([arcs[k][1] for k in chosen], minlength=len(spare))
        if len(set(lived)) == len(lived) and (load <= spare).all() and sum(scores[arcs[k]] for k in chosen) >= out.total - gap:
            assert set(chosen) <= near


# ---- people left out before come first (issue 18) -----------------------------------


@st.composite
def flagged_cohorts(draw) -> Cohort:
    """A cohort where some people were left out before (not paired, or their pair ended)."""
    c = draw(cohorts())
    flags = draw(st.lists(st.booleans(), min_size=len(c.leaders), max_size=len(c.leaders)))
    leaders = [p.model_copy(update={"left_out_before": flag}) for p, flag in zip(c.leaders, flags, strict=True)]
    return c.model_copy(update={"leaders": leaders})


def free_key(c: Cohort, pairs) -> tuple[int, int, int]:
    """(pairs, people left out before who get a partner, total fit) of the free pairs;
    a professional in a locked pair has a partner already."""
    people = {p.id: p for p in c.leaders}
    in_locks = {i for pair in c.locked_pairs for i in pair}
    free = [p for p in pairs if not p.locked]
    partnered = {p.lived_experience_id for p in free} | {p.professional_id for p in free}
    first = sum(people[i].left_out_before for i in partnered - in_locks)
    return len(free), first, sum(p.score for p in free)


@SETTINGS
@given(flagged_cohorts())
def test_people_left_out_before_come_after_most_pairs_and_before_fit(c):
    """An independent assignment: a pair is worth more than anything else, a person left
    out before (a professional once, on their first place) more than any total fit."""
    assume(locks_fit(c))
    lived, pros, places, edges = free_problem(c)
    in_locks = {i for pair in c.locked_pairs for i in pair}
    cands = find_candidates(c)
    scorer = FitScorer(cands, Weights())
    first_place = {s for s, (j, _) in enumerate(places) if s == min(t for t, (k, _) in enumerate(places) if k == j)}

    def score(i: int, j: int) -> int:
        li, pj = cands.lived.index[lived[i].id], cands.professionals.index[pros[j].id]
        k = np.flatnonzero((cands.pair_lived == li) & (cands.pair_prof == pj))
        return int(scorer(np.array([li]), np.array([pj]), cands.pair_modes[k])[0])

    def best(floor: int) -> tuple[int, int, int]:
        weight, big = 1_000, 100_000
        worth = np.zeros((len(lived), len(places)))
        first = np.zeros((len(lived), len(places)), dtype=int)
        for i, s in edges:
            j = places[s][0]
            fit = score(i, j)
            if fit >= floor:
                first_pro = pros[j].left_out_before and s in first_place and pros[j].id not in in_locks
                first[i, s] = lived[i].left_out_before + first_pro
                worth[i, s] = big + weight * first[i, s] + fit
        rows, cols = linear_sum_assignment(worth, maximize=True)
        used = worth[rows, cols] > 0
        return int(used.sum()), int(first[rows, cols][used].sum()), int((worth[rows, cols][used] % weight).sum())

    result = solve(c)
    free = [p for p in result.pairs if not p.locked]
    assert free_key(c, result.pairs) == best(0)
    if free:
        assert best(min(p.score for p in free) + 1) != best(0)
    if any(p.left_out_before for p in c.leaders):
        assert result.stats.objective["priority_paired"] == result.stats.best_bound["priority_paired"]


def brute_force(n_lived: int, spare: list[int], scores: dict, first_l: list[bool], first_p: list[bool]):
    """Every pairing with the most pairs, by trying each set of that many pairs."""
    arcs = sorted(scores)
    for size in range(min(n_lived, sum(spare)), -1, -1):
        found = []
        for chosen in itertools.combinations(arcs, size):
            lived = [i for i, _ in chosen]
            load = np.bincount([j for _, j in chosen], minlength=len(spare))
            if len(set(lived)) == len(lived) and (load <= spare).all():
                found.append(chosen)
        if found:
            return found
    return [()]


@SETTINGS
@given(small_graphs(), st.data(), st.booleans())
def test_no_pairing_with_as_many_pairs_gives_more_priority_people_a_partner(graph, data, priced):
    n_lived, spare, scores = graph
    first_l = data.draw(st.lists(st.booleans(), min_size=n_lived, max_size=n_lived))
    first_p = data.draw(st.lists(st.booleans(), min_size=len(spare), max_size=len(spare)))
    arcs = sorted(scores)
    with pytest.MonkeyPatch.context() as m:
        if priced:
            m.setattr(flow, "DIRECT_PAIRS", 0)
            m.setattr(flow, "KEEP_PER_PERSON", 1)
        out = flow.match(
            n_lived,
            np.array(spare, dtype=np.int64),
            np.array([a for a, _ in arcs], dtype=np.int32),
            np.array([b for _, b in arcs], dtype=np.int32),
            np.array([scores[a] for a in arcs], dtype=np.int16),
            True,
            (np.array(first_l, dtype=bool), np.array(first_p, dtype=bool)),
        )

    def key(chosen) -> tuple[int, int, int]:
        partnered = sum(first_l[i] for i, _ in chosen) + sum(first_p[j] for j in {j for _, j in chosen})
        return len(chosen), partnered, sum(scores[a] for a in chosen)

    every = brute_force(n_lived, spare, scores, first_l, first_p)
    best = max(key(chosen) for chosen in every)
    got = [arcs[k] for k in out.chosen]
    assert key(got) == best == (out.pairs, out.priority, out.total)
    if got:  # and among the best, the worst pair is as high as it can be
        assert out.worst == max(min(scores[a] for a in chosen) for chosen in every if key(chosen) == best)
