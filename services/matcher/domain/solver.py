"""solve(cohort) -> result: the pairs, the unmatched with reasons, and how the solve went.

Objective, in this order (cohort-format.md, and issue 18 for stage 2):
1. most pairs (each lived-experience leader is in at most one, so most of them paired);
2. the most priority people paired among those: people left out before
   (MatchingProfile.left_out_before), each counted once however many pairs they are in;
3. the highest total fit score among those;
4. the highest score of the worst pair, keeping 1 to 3 at their best.
Stats name them paired_people, priority_paired (only in a round with priority
people, so other rounds' stats read as before), total_fit and worst_pair_fit.

Locked pairs are taken out first and use up capacity; locks that ask for more than a
person can take make the round infeasible, and the result says which to unlock.
The free pairs are then solved exactly by minimum-cost flow (flow.py): status
"optimal", gap 0, at any size, with no time limit or seed involved. Only when the
round sets area minimums (round.min_pairs_per_system) does CP-SAT take over
(quotas.py), with the round's time limit and seed, and the status says how close it
got.

Pairing people again after declines is a new round of the people affected, with
every kept pair locked and the declined pairs forbidden (the registry builds it).

Pure: no input/output and no clock, so stats.wall_seconds is left at 0 for the
caller to fill in.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from schemas.cohort import Cohort, CohortResult, MeetingMode, PairResult, SolveStats, Window
from services.matcher.domain import explain, flow, kernels, suggest
from services.matcher.domain.rules import (
    Candidates,
    Side,
    distance_km,
    find_candidates,
    session_problem,
    shared_spans,
    spans_to_windows,
    usable_modes,
)
from services.matcher.domain.scoring import FitScorer, Weights
from services.matcher.domain.watch import Progress, Watch, relative_gap

if TYPE_CHECKING:
    from services.matcher.domain import quotas

_MODE_NAMES: tuple[tuple[MeetingMode, int], ...] = (("in_person", 1), ("video", 2), ("phone", 4))


@dataclass(frozen=True)
class Limits:
    fairness_stage: bool = True  # stage 4: lift the worst pair
    weights: Weights | None = None  # None: the round's own weights (round.weights)
    # CP-SAT search workers, used only with area minimums: its portfolio of 8 beat the
    # default 2 by far in an earlier measurement (2,000 x 400, capacity 5), even on 2 cores.
    search_workers: int = 8
    # With area minimums, stop searching once the total fit is within this share of
    # the best possible (0.01%: a few points in a national round, none in a small one).
    fit_gap: float = 1e-4


@dataclass(frozen=True)
class Prepared:
    """A round ready to solve: its candidates, locked pairs, and the free pairs left."""

    cohort: Cohort
    cands: Candidates
    scorer: FitScorer
    locked_l: np.ndarray  # lived-experience leader of each locked pair
    locked_p: np.ndarray
    spare: np.ndarray  # places left per professional once locked pairs are taken out
    arc_l: np.ndarray  # the free pairs: lived-experience leader, professional, modes, score
    arc_p: np.ndarray
    arc_modes: np.ndarray
    arc_score: np.ndarray
    first: tuple[np.ndarray, np.ndarray]  # priority people still to pair: lived-experience leaders, professionals

    @property
    def n_lived(self) -> int:
        return len(self.cands.lived.people)

    @cached_property
    def has_priority(self) -> bool:  # asked several times a solve: 20,000 people each time in a national round
        return any(p.left_out_before for p in self.cohort.leaders)


def prepare(cohort: Cohort, limits: Limits | None = None) -> Prepared:
    limits = limits or Limits()
    cands = find_candidates(cohort)
    profs = cands.professionals
    scorer = FitScorer(cands, weights_for(cohort, limits))
    locked = sorted({_oriented(cands, a, b) for a, b in cohort.locked_pairs})
    locked_l = np.array([i for i, _ in locked], dtype=np.int32)
    locked_p = np.array([p for _, p in locked], dtype=np.int32)
    capacity = np.array(
        [p.capacity if b is None else 0 for p, b in zip(profs.people, profs.blocked, strict=True)], dtype=np.int64
    )
    spare = np.maximum(capacity - np.bincount(locked_p, minlength=len(profs.people)), 0)
    lived_open = np.ones(len(cands.lived.people), dtype=bool)
    lived_open[locked_l] = False
    # The free pairs: both people still open. Moved to the front of the candidates, so no copy is made;
    # when everyone with a pair is open (no locks, no professional full), every pair is free as it stands.
    everyone_open = ((cands.allowed_lived == 0) | lived_open).all() and ((cands.allowed_professionals == 0) | (spare > 0)).all()
    n_free = (
        len(cands.pair_lived)
        if everyone_open
        else kernels.open_first(cands.pair_lived, cands.pair_prof, cands.pair_modes, lived_open, spare > 0)
    )
    arc_l, arc_p, arc_modes = cands.pair_lived[:n_free], cands.pair_prof[:n_free], cands.pair_modes[:n_free]
    first_l = np.array([p.left_out_before for p in cands.lived.people], dtype=bool) & lived_open
    first_p = np.array([p.left_out_before for p in profs.people], dtype=bool)
    first_p[locked_p] = False  # a locked pair already pairs them
    score = scorer(arc_l, arc_p, arc_modes)
    return Prepared(cohort, cands, scorer, locked_l, locked_p, spare, arc_l, arc_p, arc_modes, score, (first_l, first_p))


def weights_for(cohort: Cohort, limits: Limits) -> Weights:
    """The weights given to the solver, or else the ones the round was launched with."""
    return limits.weights or Weights(**cohort.round.weights.model_dump())


def _oriented(cands: Candidates, a: str, b: str) -> tuple[int, int]:
    return (
        (cands.lived.index[a], cands.professionals.index[b])
        if a in cands.lived.index
        else (cands.lived.index[b], cands.professionals.index[a])
    )


def solve(cohort: Cohort, limits: Limits | None = None, watch: Watch | None = None) -> CohortResult:
    """watch: follow the solve's progress, or stop it (it then raises SolveStopped)."""
    limits, watch = limits or Limits(), watch or Watch()
    watch.report(Progress("checking who can be paired with whom"))
    prep = prepare(cohort, limits)
    watch.check()
    if conflicts := lock_conflicts(prep):
        return _infeasible(prep, conflicts, "locked pairs checked against capacity")
    watch.report(Progress(f"pairing: {len(prep.arc_l):,} possible pairs found"))
    outcome = flow.match(prep.n_lived, prep.spare, prep.arc_l, prep.arc_p, prep.arc_score, limits.fairness_stage, prep.first)
    watch.check()
    method = "min-cost flow per connected part (most pairs, then best total fit)"
    if prep.has_priority:
        method = "min-cost flow per connected part (most pairs, then most people left out before, then best total fit)"
    if limits.fairness_stage:
        method += "; worst pair lifted by a threshold search on the same flow"
    if outcome.priced:
        method += f"; {outcome.priced} large part(s) solved on each person's best pairs and proven optimal by pricing"
    counts = {"components": outcome.parts, "flow_pairs": outcome.flow_pairs, "flow_solves": outcome.solves}
    bound = _flow_bound(prep, outcome)
    if limits.fairness_stage:
        bound["worst_pair_fit"] = float(outcome.worst)
    chosen, status = outcome.chosen, "optimal"

    if cohort.round.min_pairs_per_system:
        # Loaded only here: CP-SAT (and pandas with it) takes 0.2 s to import.
        from services.matcher.domain import quotas

        # The best pairing without minimums bounds every pairing that meets them.
        best = _flow_bound(prep, outcome)
        areas = _areas(prep)
        with watch.counting(_locked_figures(prep)):
            watch.report(Progress("meeting the minimum pairs for each area", bound=best))
            plan = quotas.plan(
                prep.n_lived,
                prep.spare,
                prep.arc_l,
                prep.arc_p,
                prep.arc_score,
                areas,
                outcome,
                limits.fairness_stage,
                cohort.round.time_limit_seconds,
                cohort.round.seed,
                limits.search_workers,
                limits.fit_gap,
                watch,
                prep.first if prep.has_priority else None,
            )
        method = f"{method}; area minimums: {plan.method}"
        if plan.status == "infeasible":
            minimum = dict(zip(areas.names, areas.minimum.tolist(), strict=True))
            relax = [explain.lower_minimum(area, minimum[area], minimum[area] - short) for area, short in plan.shortfall.items()]
            if not plan.proven:
                relax.append(explain.UNPROVEN_RELAXATION)
            return _infeasible(prep, relax, method)
        chosen, status, bound = plan.chosen, plan.status, plan.bound
        counts |= plan.counts
    return _result(prep, chosen, status, bound, method, counts, outcome.part_l, outcome.part_p)


def _flow_bound(prep: Prepared, outcome: flow.Outcome) -> dict[str, float]:
    """Stages 1 to 3 of the flow's pairing (priority people only in a round that has them)."""
    bound = {"paired_people": float(outcome.pairs)}
    if prep.has_priority:
        bound["priority_paired"] = float(outcome.priority)
    return bound | {"total_fit": float(outcome.total)}


def _priority_paired(prep: Prepared, li: np.ndarray, pj: np.ndarray) -> int:
    """How many people left out before the pairs (li[k], pj[k]) give a partner."""
    lived, profs = prep.cands.lived.people, prep.cands.professionals.people
    people: list[int] = li.tolist()
    professionals: list[int] = pj.tolist()
    return sum(lived[i].left_out_before for i in set(people)) + sum(profs[p].left_out_before for p in set(professionals))


def _areas(prep: Prepared) -> quotas.Areas:
    """Areas of the round's people and minimums; an area nobody is from gets its own number."""
    from services.matcher.domain import quotas

    minimums = prep.cohort.round.min_pairs_per_system
    names = sorted({p.system for p in prep.cohort.leaders} | set(minimums))
    number = {name: i for i, name in enumerate(names)}
    lived = np.array([number[p.system] for p in prep.cands.lived.people], dtype=np.int64)
    profs = np.array([number[p.system] for p in prep.cands.professionals.people], dtype=np.int64)
    locked = quotas.pairs_per_area(lived[prep.locked_l], profs[prep.locked_p], len(names))
    return quotas.Areas(names, lived, profs, np.array([minimums.get(n, 0) for n in names], dtype=np.int64), locked)


def _locked_figures(prep: Prepared) -> dict[str, float]:
    """What the locked pairs add to the round's objective."""
    if not len(prep.locked_l):
        return {}
    score = prep.scorer(
        prep.locked_l, prep.locked_p, usable_modes(prep.cands.lived, prep.cands.professionals, prep.locked_l, prep.locked_p)
    )
    figures = {"paired_people": float(len(score)), "total_fit": float(score.sum()), "worst_pair_fit": float(score.min())}
    if prep.has_priority:
        figures["priority_paired"] = float(_priority_paired(prep, prep.locked_l, prep.locked_p))
    return figures


def lock_conflicts(prep: Prepared) -> list[str]:
    """The smallest changes to the locked pairs that fit everyone's capacity, in plain English."""
    lived, profs = prep.cands.lived.people, prep.cands.professionals.people
    pairs = list(zip(prep.locked_l.tolist(), prep.locked_p.tolist(), strict=True))
    out = []
    for person, count in sorted(Counter(i for i, _ in pairs).items()):
        if count > 1:
            names = [f"{lived[i].id} with {profs[p].id}" for i, p in pairs if i == person]
            out.append(explain.unlock(lived[person].id, 1, names, professional=False))
    for person, count in sorted(Counter(p for _, p in pairs).items()):
        if count > profs[person].capacity:
            names = [f"{lived[i].id} with {profs[p].id}" for i, p in pairs if p == person]
            out.append(explain.unlock(profs[person].id, profs[person].capacity, names, professional=True))
    return out


def _infeasible(prep: Prepared, relaxations: list[str], method: str) -> CohortResult:
    cohort = prep.cohort
    stats = SolveStats(
        status="infeasible", method=method, counts={"leaders": len(cohort.leaders), "pairs": 0, "unmatched": len(cohort.leaders)}
    )
    return CohortResult(
        round_id=cohort.round.id, pairs=[], unmatched=explain.round_not_solved(cohort), stats=stats, relaxations=relaxations
    )


def _result(
    prep: Prepared,
    chosen: np.ndarray,
    status: str,
    free_bound: dict[str, float],
    method: str,
    counts: dict[str, int],
    part_l: np.ndarray,
    part_p: np.ndarray,
) -> CohortResult:
    cohort, cands = prep.cohort, prep.cands
    lived, profs = cands.lived, cands.professionals
    locked_modes = usable_modes(lived, profs, prep.locked_l, prep.locked_p)
    locked_score = prep.scorer(prep.locked_l, prep.locked_p, locked_modes)
    li = np.concatenate([prep.locked_l, prep.arc_l[chosen]]).astype(np.int64)
    pj = np.concatenate([prep.locked_p, prep.arc_p[chosen]]).astype(np.int64)
    modes = np.concatenate([locked_modes, prep.arc_modes[chosen]])
    score = np.concatenate([locked_score, prep.arc_score[chosen]]).astype(np.int64)
    is_locked = np.arange(len(li)) < len(prep.locked_l)
    order = np.lexsort((pj, li))
    pairs = pair_results(cohort, lived, profs, li[order], pj[order], modes[order], score[order], is_locked[order])

    unmatched = explain.unmatched(
        cohort,
        cands,
        np.bincount(li, minlength=len(lived.people)) == 0,
        np.bincount(pj, minlength=len(profs.people)) == 0,
        part_l,
        part_p,
        prep.spare,
    )
    unmatched = suggest.with_suggestions(cohort, cands, li, pj, unmatched)
    objective = {"paired_people": float(len(pairs))}
    if prep.has_priority:
        objective["priority_paired"] = float(_priority_paired(prep, li, pj))
    objective |= {"total_fit": float(score.sum()), "worst_pair_fit": float(score.min()) if len(score) else 0.0}
    # Locked pairs are fixed, so the bounds are the free pairs' bounds plus them.
    bound = {"paired_people": len(locked_score) + free_bound["paired_people"]}
    if "priority_paired" in free_bound:
        bound["priority_paired"] = _priority_paired(prep, prep.locked_l, prep.locked_p) + free_bound["priority_paired"]
    bound["total_fit"] = float(locked_score.sum()) + free_bound["total_fit"]
    if "worst_pair_fit" in free_bound:
        free_worst = [free_bound["worst_pair_fit"]] if len(chosen) else []
        bound["worst_pair_fit"] = float(min(locked_score.tolist() + free_worst, default=0))
    stats = SolveStats(
        status=status,
        objective=objective,
        best_bound=bound,
        gap=relative_gap(objective, bound),
        counts={
            "leaders": len(cohort.leaders),
            "lived_experience": len(lived.people),
            "professionals": len(profs.people),
            "candidate_pairs": len(cands.pair_lived),
            **counts,
            "pairs": len(pairs),
            "unmatched": len(unmatched),
        },
        method=method,
    )
    return CohortResult(round_id=cohort.round.id, pairs=pairs, unmatched=unmatched, stats=stats)


def pair_results(
    cohort: Cohort,
    lived: Side,
    profs: Side,
    li: np.ndarray,
    pj: np.ndarray,
    modes: np.ndarray,
    score: np.ndarray,
    locked: np.ndarray,
) -> list[PairResult]:
    km = distance_km(lived, profs, li, pj)
    out = []
    columns = (li.tolist(), pj.tolist(), modes.tolist(), score.tolist(), km.tolist(), locked.tolist())
    made: dict[tuple[int, int], Window] = {}  # each window made once: many pairs share the same times

    def window(span: tuple[int, int]) -> Window:
        if span not in made:
            made[span] = spans_to_windows([span])[0]
        return made[span]

    for i, p, m, s, k, is_locked in zip(*columns, strict=True):
        person, prof = lived.people[i], profs.people[p]
        windows = [window(span) for span in shared_spans(lived.spans[i], profs.spans[p])]
        mode_names = [name for name, bit in _MODE_NAMES if m & bit]
        # People no rule rules out can attend every session; only the others need checking.
        attend = (lived.blocked[i] is None and profs.blocked[p] is None) or (
            session_problem(person, cohort.round) is None and session_problem(prof, cohort.round) is None
        )
        out.append(
            PairResult.model_construct(
                lived_experience_id=person.id,
                professional_id=prof.id,
                score=s,
                meeting_modes=mode_names,
                shared_windows=windows,
                reasons=explain.pair_reasons(
                    cohort.round, person, prof, mode_names, windows, k if m & 1 else None, is_locked, attend
                ),
                locked=is_locked,
            )
        )
    return out
