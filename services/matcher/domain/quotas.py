"""Minimum pairs per area (round.min_pairs_per_system), with CP-SAT.

A pair counts for the area of each of its two people (once when they share it), so
one pair can count for two areas. Such overlapping minimums no longer fit a flow,
which is why CP-SAT is used here; the flow still does most of the work:

1. The flow's pairing (most pairs, best total fit, best worst pair; no minimums) is
   a bound for every pairing that meets the minimums. When it meets them too, it is
   optimal and nothing else is needed.
2. Otherwise a few more flows steer it towards the areas still short: their pairs
   get a bonus that doubles each round until the minimums are met, so the first
   pairing that meets them gives up little fit. These flows run on a subset of the
   pairs (all of them in small rounds): the flow's, each person's best few, and each
   person's best few among those that count for a short area.
3. If the steered pairing is within `fit_gap` of the bound, it is the answer. If not,
   CP-SAT takes over, hinted with it. The flow's dual (flow.Outcome.within) names
   every pair that a better pairing could use; when those are few, CP-SAT's model
   holds exactly them, and its answer and bound are exact for the whole round.
   Otherwise it models the subset, and only the flow's bound is claimed. (Measured
   here: CP-SAT needed 14 s just to presolve a 63,000-pair subset at 10,000 a side,
   where the steered flows had come within 0.002% of the bound in under a second.)
4. Minimums are soft in the model: each area's shortfall costs more than all pairs
   together, so the model always has a solution and, when the minimums cannot all
   be met, its answer is the smallest total shortfall: the relaxation to suggest. It
   is proven when CP-SAT proves it on a complete model, or when each short area is
   lowered to the most pairs it allows on its own (a flow per area).
5. Status: optimal when the answer reaches a bound that holds for every pairing;
   otherwise feasible, with the gap to that bound. We never claim more than we prove.

Stage 3 (the best worst pair) is a second CP-SAT solve in the time left, on every
pair an equally good pairing could use, when those are few. CP-SAT runs several
search workers with the round's seed and time limit; with more than one worker its
search is only repeatable when it proves optimality (or reaches the gap) in time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from services.matcher.domain import flow
from services.matcher.domain.watch import Progress, Watch, relative_gap

# Rounds with at most this many allowed pairs are modelled whole.
FULL_MODEL_PAIRS = 20_000
# Otherwise: each person's best pairs, and their best that count for a short area.
MODEL_KEEP_PER_PERSON = 3
# Models of at most this many pairs are solved exactly (see plan()).
EXACT_MODEL_PAIRS = 20_000
# Steering flows: the bonus (in score points) of an area still short doubles each round.
_STEER_ROUNDS = 12


@dataclass(frozen=True)
class Areas:
    """Area (integrated care system) of each person, and the minimums still to meet."""

    names: Sequence[str]  # area code by index
    lived: np.ndarray  # area index of each lived-experience leader
    professionals: np.ndarray
    minimum: np.ndarray  # minimum pairs per area, as set for the round
    locked: np.ndarray  # pairs per area that locked pairs already give

    @property
    def need(self) -> np.ndarray:
        return np.maximum(self.minimum - self.locked, 0)

    def counts(self, arc_l: np.ndarray, arc_p: np.ndarray) -> np.ndarray:
        """Pairs per area among the pairs (arc_l[k], arc_p[k])."""
        return pairs_per_area(self.lived[arc_l], self.professionals[arc_p], len(self.names))


def pairs_per_area(area_l: np.ndarray, area_p: np.ndarray, n_areas: int) -> np.ndarray:
    """Pairs per area, for pairs whose two people are in areas area_l[k] and area_p[k]:
    a pair counts for both areas, or once when they share one."""
    return np.bincount(area_l, minlength=n_areas) + np.bincount(area_p[area_p != area_l], minlength=n_areas)


@dataclass(frozen=True)
class QuotaPlan:
    chosen: np.ndarray  # indices of the chosen free pairs
    status: str  # optimal, feasible or infeasible
    bound: dict[str, float]  # on the free pairs: paired_people, total_fit, worst_pair_fit
    shortfall: dict[str, int]  # area -> pairs below its minimum (infeasible only)
    proven: bool  # for infeasible: no smaller relaxation exists
    method: str
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Pairs:
    """The free pairs, and the areas and minimums they count for."""

    n_lived: int
    spare: np.ndarray
    arc_l: np.ndarray
    arc_p: np.ndarray
    score: np.ndarray
    areas: Areas

    def shortfall(self, chosen: np.ndarray) -> np.ndarray:
        return np.maximum(self.areas.need - self.areas.counts(self.arc_l[chosen], self.arc_p[chosen]), 0)


def _model_to_solve(
    free: _Pairs, subset: np.ndarray, whole: bool, outcome: flow.Outcome, lost: int | None, watch: Watch
) -> tuple[_Model, bool, str]:
    """The CP-SAT model, whether it holds every pair a better pairing could use, and how it was built."""
    near = outcome.within(lost) if lost is not None else None
    if near is not None and len(near) <= EXACT_MODEL_PAIRS:
        return (
            _Model.build(free, near, outcome, watch),
            True,
            f"; CP-SAT on the {len(near)} pairs that any better pairing could use",
        )
    return _Model.build(free, subset, outcome, watch), whole, "; CP-SAT on them"


def _shortfall(free: _Pairs, short: np.ndarray, proven: bool) -> tuple[dict[str, int], bool]:
    """The pairs each area is short of, and whether no pairing could do better: proven
    when CP-SAT proved the smallest shortfall on a model of every pair (`proven`), or
    when each short area is lowered to the most pairs it allows on its own."""
    areas = free.areas
    short_areas: list[int] = np.flatnonzero(short).tolist()
    alone = {a: _most_pairs_for_area(free, a) for a in short_areas}
    sure = proven or all(areas.need[a] - short[a] == most for a, most in alone.items())
    return {areas.names[a]: int(short[a]) for a in short_areas}, sure


def plan(
    n_lived: int,
    spare: np.ndarray,
    arc_l: np.ndarray,
    arc_p: np.ndarray,
    score: np.ndarray,
    areas: Areas,
    outcome: flow.Outcome,
    fairness: bool,
    time_limit: float,
    seed: int,
    workers: int,
    fit_gap: float = 1e-4,
    watch: Watch | None = None,
) -> QuotaPlan:
    """The free pairs to take so that every area minimum is met (outcome: the flow's
    answer without minimums). fit_gap: good enough, as a share of the best total fit."""
    free = _Pairs(n_lived, spare, arc_l, arc_p, score, areas)
    flow_bound = {"paired_people": float(outcome.pairs), "total_fit": float(outcome.total)}
    if fairness:
        flow_bound["worst_pair_fit"] = float(outcome.worst if outcome.pairs else 0)
    if not free.shortfall(outcome.chosen).any():
        return QuotaPlan(
            outcome.chosen, "optimal", flow_bound, {}, True, "the best pairing without the area minimums already meets them"
        )

    whole = len(arc_l) <= FULL_MODEL_PAIRS
    subset = np.arange(len(arc_l)) if whole else _subset(free, outcome)
    watch = watch or Watch()
    chosen = _steered(free, subset, outcome.chosen)
    watch.check()
    method = f"flows steered towards the short areas on {len(subset)} of the {len(arc_l)} allowed pairs"
    counts = {"model_pairs": 0}
    # A steered pairing that meets the minimums with the most pairs, `lost` points of
    # total fit below the flow's: every better pairing uses only pairs of reduced cost
    # at most `lost` (flow.Outcome.within), a model small enough to solve exactly.
    meets = not free.shortfall(chosen).any() and len(chosen) == outcome.pairs
    lost = outcome.total - int(score[chosen].sum()) if meets else None
    model, found, complete = None, None, False
    if lost is None or lost >= max(1.0, fit_gap * outcome.total):  # not yet close enough
        model, complete, how = _model_to_solve(free, subset, whole, outcome, lost, watch)
        method += how
    if model is not None:
        # Stop once closer than fit_gap of the best total fit (0 in small rounds: gaps are whole points).
        found = model.solve(chosen, time_limit, seed, workers, max(0.0, fit_gap * outcome.total - 0.5))
        chosen = found.chosen
        counts["model_pairs"] = len(model.pairs)
        method += (
            f", hinted with the steered pairing ({'proven optimal' if found.optimal else 'stopped at the time limit or gap'})"
        )

    short = free.shortfall(chosen)
    if short.any():
        proven = found is not None and found.optimal and complete
        shortfall, sure = _shortfall(free, short, proven)
        return QuotaPlan(
            chosen, "infeasible", flow_bound, shortfall, sure, method + "; the area minimums cannot all be met", counts
        )

    pairs, total = len(chosen), int(score[chosen].sum())
    bound = _bounds(outcome, found.bound if found is not None and complete else None, pairs)
    if fairness:
        worst = int(score[chosen].min()) if pairs else 0
        # The flow's best worst pair bounds pairings that match its stages 1 and 2.
        bound["worst_pair_fit"] = float(outcome.worst) if (pairs, total) == (outcome.pairs, outcome.total) else 100.0
        stages_12 = (pairs, total) == (bound["paired_people"], bound["total_fit"])
        if stages_12 and pairs == 1:  # one pair: its score is the total
            bound["worst_pair_fit"] = float(worst)
        if pairs >= 2 and worst < bound["worst_pair_fit"] and stages_12:
            # Stage 3 on every pair an equally good pairing could use, when few enough.
            modelled = model.pairs if complete and model else None
            arcs = outcome.within(outcome.total - total) if pairs == outcome.pairs else modelled
            if arcs is not None and len(arcs) <= EXACT_MODEL_PAIRS:
                stage3 = (
                    model
                    if model is not None and complete and np.isin(arcs, model.pairs).all()
                    else _Model.build(free, arcs, outcome, watch)
                )
                lifted = stage3.lift_worst(chosen, time_limit - (model.seconds if model else 0.0), seed, workers)
                if lifted is not None:
                    chosen, worst, proven = lifted
                    method += "; worst pair lifted by a second CP-SAT solve"
                    if proven:
                        bound["worst_pair_fit"] = float(worst)
        bound["worst_pair_fit"] = max(bound["worst_pair_fit"], float(worst)) if pairs else 0.0
    objective = [float(pairs), float(total)] + ([float(score[chosen].min()) if pairs else 0.0] if fairness else [])
    status = "optimal" if objective == list(bound.values()) else "feasible"
    return QuotaPlan(chosen, status, bound, {}, True, method, counts)


def _bounds(outcome: flow.Outcome, cp_bound: tuple[int, int] | None, pairs: int) -> dict[str, float]:
    """Bounds on (pairs, total fit) for every pairing meeting the minimums.

    The flow's optimum without minimums always bounds; CP-SAT's bound only when its
    model holds every allowed pair (cp_bound is None otherwise). Bounds are
    lexicographic: the total fit bound is for pairings with as many pairs as found.
    """
    most = outcome.pairs
    fit = outcome.total if outcome.pairs == pairs else 100 * pairs
    if cp_bound is not None:
        most = min(most, cp_bound[0])
        if cp_bound[0] == pairs:
            fit = min(fit, cp_bound[1])
    return {"paired_people": float(most), "total_fit": float(fit if most == pairs else 100 * most)}


def _subset(free: _Pairs, outcome: flow.Outcome) -> np.ndarray:
    """The pairs to steer on (and model, when no better set is known): the flow's,
    each person's best few, and their best few that count for an area still short."""
    arc_l, arc_p, score = free.arc_l, free.arc_p, free.score
    keep = flow.best_pairs(arc_l, arc_p, score, free.n_lived, free.spare, MODEL_KEEP_PER_PERSON)
    keep[outcome.chosen] = True
    short = np.flatnonzero(free.shortfall(outcome.chosen))
    helps = np.flatnonzero(np.isin(free.areas.lived[arc_l], short) | np.isin(free.areas.professionals[arc_p], short))
    keep[helps[flow.best_pairs(arc_l[helps], arc_p[helps], score[helps], free.n_lived, free.spare, MODEL_KEEP_PER_PERSON)]] = True
    return np.flatnonzero(keep)


def _steered(free: _Pairs, subset: np.ndarray, start: np.ndarray) -> np.ndarray:
    """The flow's pairing, moved towards the areas still short by flows on the subset
    that give their pairs a bonus; the bonus of each area still short doubles each
    round, so the first pairing to meet the minimums gives up little total fit."""
    u, v, s = free.arc_l[subset], free.arc_p[subset], free.score[subset].astype(np.int64)
    area_u, area_v = free.areas.lived[u], free.areas.professionals[v]
    bonus = np.zeros(len(free.areas.names), dtype=np.int64)
    best, best_key, chosen = start, None, start
    for _ in range(_STEER_ROUNDS):
        short = free.shortfall(chosen)
        key = (int(short.sum()), -len(chosen), -int(free.score[chosen].sum()))
        if best_key is None or key < best_key:
            best, best_key = chosen, key
        if not short.any():
            break
        bonus[short > 0] = np.maximum(2 * bonus[short > 0], 1)
        worth = s + bonus[area_u] + np.where(area_v != area_u, bonus[area_v], 0)
        chosen = subset[flow.most_pairs_best_worth(free.n_lived, free.spare, u, v, worth)]
    return best


def _most_pairs_for_area(free: _Pairs, a: int) -> int:
    """The most pairs counting for area a that any pairing of the free pairs allows,
    ignoring every other minimum: exact, by flow with pricing."""
    counts = np.flatnonzero((free.areas.lived[free.arc_l] == a) | (free.areas.professionals[free.arc_p] == a))
    if not len(counts):
        return 0
    return flow.match(
        free.n_lived, free.spare, free.arc_l[counts], free.arc_p[counts], np.zeros(len(counts), dtype=np.int16), fairness=False
    ).pairs


@dataclass(frozen=True)
class _Found:
    chosen: np.ndarray  # indices of the chosen free pairs
    optimal: bool  # CP-SAT proved it optimal on its model
    bound: tuple[int, int]  # (pairs, total fit) that no pairing of the model can beat


@dataclass
class _Model:
    """CP-SAT model: one yes/no per modelled pair, soft area minimums."""

    pairs: np.ndarray  # indices of the modelled pairs among the free pairs
    model: cp_model.CpModel
    x: list[cp_model.IntVar]
    short: dict[int, cp_model.IntVar]  # area -> its shortfall
    score: np.ndarray
    big: int
    free: _Pairs
    watch: Watch
    ceiling: int  # the flow's optimum without minimums, weighted as the objective is: a bound
    seconds: float = 0.0  # CP-SAT's own wall time so far

    @staticmethod
    def build(free: _Pairs, pairs: np.ndarray, outcome: flow.Outcome, watch: Watch) -> _Model:
        u, v, s = free.arc_l[pairs], free.arc_p[pairs], free.score[pairs].astype(np.int64)
        model = cp_model.CpModel()
        x = [model.new_bool_var(f"pair_{k}") for k in pairs]
        for group, limit in ((u, np.ones(free.n_lived, dtype=np.int64)), (v, free.spare)):
            order = np.argsort(group, kind="stable")
            starts = np.searchsorted(group[order], np.arange(len(limit) + 1))
            for person in np.flatnonzero(np.diff(starts) > limit):
                model.add(
                    cp_model.LinearExpr.sum([x[k] for k in order[starts[person] : starts[person + 1]]]) <= int(limit[person])
                )
        need = free.areas.need
        area_u, area_v = free.areas.lived[u], free.areas.professionals[v]
        short: dict[int, cp_model.IntVar] = {}
        for a in np.flatnonzero(need > 0).tolist():
            short[a] = model.new_int_var(0, int(need[a]), f"short_{free.areas.names[a]}")
            counted = [x[k] for k in np.flatnonzero((area_u == a) | (area_v == a))]
            model.add(cp_model.LinearExpr.sum(counted) + short[a] >= int(need[a]))
        # A pair is worth more than any total fit; a pair missing from an area's minimum
        # costs more than all pairs together.
        big = 100 * free.n_lived + 1
        heavy = big * (free.n_lived + 1)
        objective = cp_model.LinearExpr.weighted_sum(x, (big + s).tolist()) - heavy * sum(short.values())
        # The flow's optimum without minimums bounds it: a proof CP-SAT would find hard.
        ceiling = big * outcome.pairs + outcome.total
        model.add(objective <= ceiling)
        model.maximize(objective)
        return _Model(pairs, model, x, short, s, big, free, watch, ceiling)

    def _hint(self, model: cp_model.CpModel, x: list[cp_model.IntVar], chosen: np.ndarray) -> None:
        model.clear_hints()
        for var, value in zip(x, np.isin(self.pairs, chosen).tolist(), strict=True):
            model.add_hint(var, value)

    def _run(
        self, model: cp_model.CpModel, stage: str, time_limit: float, seed: int, workers: int, gap: float = 0.0
    ) -> tuple[cp_model.CpSolver, cp_model.CpSolverStatus]:
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(time_limit, 0.1)
        solver.parameters.random_seed = seed
        solver.parameters.num_workers = workers
        solver.parameters.absolute_gap_limit = gap
        with self.watch.searching(solver.stop_search):
            status = solver.solve(model, _Reporter(self, stage, weighted=model is self.model))
        self.seconds += solver.wall_time
        return solver, status

    def solve(self, hint: np.ndarray, time_limit: float, seed: int, workers: int, fit_gap: float) -> _Found:
        """Stages 1 and 2 with the minimums soft, hinted with the free pairs `hint`;
        stop once within fit_gap points of total fit of the bound."""
        self._hint(self.model, self.x, hint)
        for a, missing in zip(self.short, self.free.shortfall(hint)[list(self.short)].tolist(), strict=True):
            self.model.add_hint(self.short[a], missing)
        solver, status = self._run(self.model, "meeting the area minimums", time_limit, seed, workers, fit_gap)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):  # nothing in time: keep the hint
            return _Found(hint, False, (self.free.n_lived, 100 * self.free.n_lived))
        chosen = self.pairs[_chosen(solver, self.x)]
        # CP-SAT's bound on the weighted objective, read back as (pairs, total fit). It
        # says OPTIMAL also when stopped by the gap: proven only when the bound is reached.
        # The objective is whole points, so its bound is too; a bound a hair under a whole
        # number (66.9999999) is float noise and means 67, never 66.
        bound = math.floor(solver.best_objective_bound + 1e-6)
        proven = status == cp_model.OPTIMAL and bound <= round(solver.objective_value)
        return _Found(chosen, proven, (bound // self.big, bound % self.big))

    def lift_worst(self, chosen: np.ndarray, time_limit: float, seed: int, workers: int) -> tuple[np.ndarray, int, bool] | None:
        """Stage 3: keep the minimums met and the pairs and total fit found; raise the
        lowest score. The pairs chosen, the lowest score, and whether it is proven best."""
        if time_limit < 0.1:
            return None
        model = self.model.clone()
        x = [model.get_bool_var_from_proto_index(var.index) for var in self.x]
        for var in self.short.values():
            model.add(model.get_int_var_from_proto_index(var.index) == 0)
        on = np.isin(self.pairs, chosen)
        model.add(cp_model.LinearExpr.sum(x) == int(on.sum()))
        model.add(cp_model.LinearExpr.weighted_sum(x, self.score.tolist()) == int(self.score[on].sum()))
        worst = model.new_int_var(0, 100, "worst_pair")
        for var, s in zip(x, self.score.tolist(), strict=True):
            model.add(worst <= s + 100 - 100 * var)  # binds only when the pair is chosen
        model.clear_objective()
        model.maximize(worst)
        self._hint(model, x, chosen)
        model.add_hint(worst, int(self.score[on].min()))
        solver, status = self._run(model, "lifting the lowest-scored pair", time_limit, seed, workers)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return None
        return self.pairs[_chosen(solver, x)], int(solver.value(worst)), status == cp_model.OPTIMAL


def _chosen(solver: cp_model.CpSolver, x: list[cp_model.IntVar]) -> np.ndarray:
    return np.fromiter((solver.boolean_value(var) for var in x), dtype=bool, count=len(x))


class _Reporter(cp_model.CpSolverSolutionCallback):
    """Tells the watch about each better solution CP-SAT finds, in the round's terms."""

    def __init__(self, model: _Model, stage: str, weighted: bool) -> None:
        super().__init__()
        self.model, self.stage, self.weighted = model, stage, weighted

    def on_solution_callback(self) -> None:
        found, bound = round(self.objective_value), int(self.best_objective_bound)
        if self.weighted:  # stages 1 and 2: pairs and total fit, read back from the weighted sum
            heavy = self.model.big * (self.model.free.n_lived + 1)
            pairs, fit = divmod(found + heavy * sum(self.value(v) for v in self.model.short.values()), self.model.big)
            top_pairs, top_fit = divmod(min(max(bound, 0), self.model.ceiling), self.model.big)
            objective = {"paired_people": float(pairs), "total_fit": float(fit)}
            bounds = {"paired_people": float(top_pairs), "total_fit": float(top_fit)}
        else:  # stage 3: the lowest score of a chosen pair
            objective, bounds = {"worst_pair_fit": float(found)}, {"worst_pair_fit": float(bound)}
        self.model.watch.report(Progress(self.stage, objective, bounds, relative_gap(objective, bounds)))
