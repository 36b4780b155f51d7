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

People left out before (issue 18) come between the pairs and the fit: in the model's
weighted objective each is worth more than any total fit, and a pair more than all of
them together; the steering flows give them a bonus too.

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
    bound: dict[str, float]  # on the free pairs: paired_people, priority_paired (if any), total_fit, worst_pair_fit
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
    first: tuple[np.ndarray, np.ndarray] | None = None  # people left out before; None: the round has none

    def shortfall(self, chosen: np.ndarray) -> np.ndarray:
        return np.maximum(self.areas.need - self.areas.counts(self.arc_l[chosen], self.arc_p[chosen]), 0)

    @property
    def weight(self) -> int:
        """A person left out before, paired: worth more than any total fit."""
        return 100 * self.n_lived + 1

    @property
    def n_first(self) -> int:
        return 0 if self.first is None else int(self.first[0].sum()) + int(self.first[1].sum())

    def priority(self, chosen: np.ndarray) -> int:
        """How many people left out before the pairs chosen give a partner."""
        if self.first is None:
            return 0
        return int(self.first[0][self.arc_l[chosen]].sum()) + int(self.first[1][np.unique(self.arc_p[chosen])].sum())

    def lost(self, outcome: flow.Outcome, chosen: np.ndarray) -> int:
        """What the pairs chosen lose against the flow's pairing, as flow.Outcome.within counts it."""
        return outcome.weight * (outcome.priority - self.priority(chosen)) + outcome.total - int(self.score[chosen].sum())

    def stages(self, pairs: float, priority: float, fit: float) -> dict[str, float]:
        """Stages 1 to 3 as the stats name them; priority only in a round with people left out before."""
        first = {} if self.first is None else {"priority_paired": float(priority)}
        return {"paired_people": float(pairs), **first, "total_fit": float(fit)}


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
    first: tuple[np.ndarray, np.ndarray] | None = None,
) -> QuotaPlan:
    """The free pairs to take so that every area minimum is met (outcome: the flow's
    answer without minimums). fit_gap: good enough, as a share of the best total fit.
    first: the lived-experience leaders and professionals left out before (None: nobody)."""
    free = _Pairs(n_lived, spare, arc_l, arc_p, score, areas, first)
    flow_bound = free.stages(outcome.pairs, outcome.priority, outcome.total)
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
    lost = free.lost(outcome, chosen) if meets else None
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

    pairs, priority, total = len(chosen), free.priority(chosen), int(score[chosen].sum())
    found_stages = free.stages(pairs, priority, total)
    bound = _bounds(free, outcome, found.bound if found is not None and complete else None, (pairs, priority))
    if fairness:
        worst = int(score[chosen].min()) if pairs else 0
        # The flow's best worst pair bounds pairings that match its stages 1 and 2.
        at_flow = (pairs, priority, total) == (outcome.pairs, outcome.priority, outcome.total)
        bound["worst_pair_fit"] = float(outcome.worst) if at_flow else 100.0
        stages_12 = found_stages == {k: bound[k] for k in found_stages}
        if stages_12 and pairs == 1:  # one pair: its score is the total
            bound["worst_pair_fit"] = float(worst)
        if pairs >= 2 and worst < bound["worst_pair_fit"] and stages_12:
            # Stage 3 on every pair an equally good pairing could use, when few enough.
            modelled = model.pairs if complete and model else None
            arcs = outcome.within(free.lost(outcome, chosen)) if pairs == outcome.pairs else modelled
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
    objective = free.stages(pairs, priority, total) | (
        {"worst_pair_fit": float(score[chosen].min()) if pairs else 0.0} if fairness else {}
    )
    status = "optimal" if objective == bound else "feasible"
    return QuotaPlan(chosen, status, bound, {}, True, method, counts)


def _bounds(free: _Pairs, outcome: flow.Outcome, cp: tuple[int, int, int] | None, found: tuple[int, int]) -> dict[str, float]:
    """Bounds on (pairs, people left out before paired, total fit) for every pairing meeting the minimums.

    The flow's optimum without minimums always bounds; CP-SAT's bound only when its
    model holds every allowed pair (cp is None otherwise). Bounds are
    lexicographic: each stage's bound is for pairings equal to what was found on the
    stages before it.
    """
    pairs, priority = found
    most = outcome.pairs
    top = outcome.priority if outcome.pairs == pairs else free.n_first
    fit = outcome.total if (outcome.pairs, outcome.priority) == found else 100 * pairs
    if cp is not None:
        most = min(most, cp[0])
        if cp[0] == pairs:
            top = min(top, cp[1])
            if cp[1] == priority:
                fit = min(fit, cp[2])
    if most != pairs:
        top, fit = free.n_first, 100 * most
    elif top != priority:
        fit = 100 * pairs
    return free.stages(most, top, fit)


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
    # People left out before: worth more than one pair's fit, until the areas' bonuses outgrow it.
    first = None if free.first is None else (101 * free.first[0].astype(np.int64), 101 * free.first[1].astype(np.int64))
    best, best_key, chosen = start, None, start
    for _ in range(_STEER_ROUNDS):
        short = free.shortfall(chosen)
        key = (int(short.sum()), -len(chosen), -free.priority(chosen), -int(free.score[chosen].sum()))
        if best_key is None or key < best_key:
            best, best_key = chosen, key
        if not short.any():
            break
        bonus[short > 0] = np.maximum(2 * bonus[short > 0], 1)
        worth = s + bonus[area_u] + np.where(area_v != area_u, bonus[area_v], 0)
        chosen = subset[flow.most_pairs_best_worth(free.n_lived, free.spare, u, v, worth, first)]
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
    bound: tuple[int, int, int]  # (pairs, people left out before paired, total fit) no pairing of the model can beat


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
    first: dict[int, cp_model.IntVar]  # professional left out before -> paired in the model (exactly)
    first_lived: np.ndarray  # mask of the modelled pairs whose lived-experience leader was left out before
    seconds: float = 0.0  # CP-SAT's own wall time so far

    def read(self, value: int) -> tuple[int, int, int]:
        """The weighted objective (with no shortfall) as (pairs, people left out before paired, total fit)."""
        pairs, rest = divmod(value, self.big)
        return (pairs, *divmod(rest, self.free.weight))

    def priority(self, model: cp_model.CpModel, x: list[cp_model.IntVar]) -> cp_model.LinearExprT:
        """People left out before paired, in a clone of the model (x: its pair variables)."""
        lived = [x[k] for k in np.flatnonzero(self.first_lived).tolist()]
        profs = [model.get_bool_var_from_proto_index(var.index) for var in self.first.values()]
        return cp_model.LinearExpr.sum(lived + profs)

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
        first = _first_professionals(free, model, x, v)
        lived_first = np.zeros(len(pairs), dtype=bool) if free.first is None else free.first[0][u]
        # A person left out before, paired, is worth more than any total fit; a pair more
        # than all of them and the fit together; a pair missing from an area's minimum
        # costs more than all pairs together.
        weight = free.weight
        big = weight * (len(np.unique(u[lived_first])) + len(first) + 1)
        heavy = big * (free.n_lived + 1)
        worth = big + s + weight * lived_first
        objective = cp_model.LinearExpr.weighted_sum(x, worth.tolist()) + weight * sum(first.values())
        objective -= heavy * sum(short.values())
        # The flow's optimum without minimums bounds it: a proof CP-SAT would find hard.
        ceiling = big * outcome.pairs + weight * outcome.priority + outcome.total
        model.add(objective <= ceiling)
        model.maximize(objective)
        return _Model(pairs, model, x, short, s, big, free, watch, ceiling, first, lived_first)

    def _hint(self, model: cp_model.CpModel, x: list[cp_model.IntVar], chosen: np.ndarray) -> None:
        model.clear_hints()
        for var, value in zip(x, np.isin(self.pairs, chosen).tolist(), strict=True):
            model.add_hint(var, value)
        paired = set(self.free.arc_p[chosen].tolist())
        for person, var in self.first.items():
            model.add_hint(model.get_bool_var_from_proto_index(var.index), person in paired)

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
            return _Found(hint, False, (self.free.n_lived, self.free.n_first, 100 * self.free.n_lived))
        chosen = self.pairs[_chosen(solver, self.x)]
        # CP-SAT's bound on the weighted objective, read back as (pairs, total fit). It
        # says OPTIMAL also when stopped by the gap: proven only when the bound is reached.
        # The objective is whole points, so its bound is too; a bound a hair under a whole
        # number (66.9999999) is float noise and means 67, never 66.
        bound = math.floor(solver.best_objective_bound + 1e-6)
        proven = status == cp_model.OPTIMAL and bound <= round(solver.objective_value)
        return _Found(chosen, proven, self.read(bound))

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
        model.add(self.priority(model, x) == self.free.priority(self.pairs[on]))
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


def _first_professionals(
    free: _Pairs, model: cp_model.CpModel, x: list[cp_model.IntVar], v: np.ndarray
) -> dict[int, cp_model.IntVar]:
    """For each professional left out before with a modelled pair: a variable that is 1
    exactly when they are paired (they count once, however many places they have)."""
    first: dict[int, cp_model.IntVar] = {}
    for person in [] if free.first is None else np.unique(v[free.first[1][v]]).tolist():
        first[person] = model.new_bool_var(f"first_{person}")
        model.add_max_equality(first[person], [x[k] for k in np.flatnonzero(v == person).tolist()])
    return first


def _chosen(solver: cp_model.CpSolver, x: list[cp_model.IntVar]) -> np.ndarray:
    return np.fromiter((solver.boolean_value(var) for var in x), dtype=bool, count=len(x))


class _Reporter(cp_model.CpSolverSolutionCallback):
    """Tells the watch about each better solution CP-SAT finds, in the round's terms."""

    def __init__(self, model: _Model, stage: str, weighted: bool) -> None:
        super().__init__()
        self.model, self.stage, self.weighted = model, stage, weighted

    def on_solution_callback(self) -> None:
        found, bound = round(self.objective_value), int(self.best_objective_bound)
        if self.weighted:  # stages 1 and 2: pairs, people left out before, total fit, read back from the weighted sum
            model = self.model
            heavy = model.big * (model.free.n_lived + 1)
            objective = model.free.stages(*model.read(found + heavy * sum(self.value(v) for v in model.short.values())))
            bounds = model.free.stages(*model.read(min(max(bound, 0), model.ceiling)))
        else:  # stage 3: the lowest score of a chosen pair
            objective, bounds = {"worst_pair_fit": float(found)}, {"worst_pair_fit": float(bound)}
        self.model.watch.report(Progress(self.stage, objective, bounds, relative_gap(objective, bounds)))
