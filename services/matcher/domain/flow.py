"""Exact pairing by minimum-cost flow: most pairs, then most priority people paired,
then best total fit, then the best worst pair.

The allowed pairs form a bipartite graph; each connected part is solved on its own.
Stages 1 and 2 (most pairs, then the highest worth) are one maximum flow of minimum
cost (OR-Tools SimpleMinCostFlow). The worth is the total score plus, for each
priority person paired (people left out before), more than any total score: a
priority lived-experience leader's worth sits on their arc from the source, a
priority professional's on a first place of their own (capacity 1) to the sink, so
a professional with several places counts once. The flow is read as a single
weighted objective (a pair is worth more than any total worth) for the proofs below.

Stage 3 is exact too. The flow's node potentials are an optimal dual, so a pair
with positive reduced cost is in no pairing optimal for stages 1 and 2; among the
others, keeping only pairs scoring at least t, the best flow still reaches the
stage 1 and 2 optimum exactly when some optimal pairing has no pair below t, and a
binary search over t finds the best worst pair (a plain maximum flow first rules
out the levels that leave too few pairs). Every step is exact and deterministic:
no time limit, search workers or random seed. We chose this over CP-SAT for stage
3, which would need a time limit and a size cap and could leave large rounds
unproven.

Large parts (a national round can allow tens of millions of pairs) are solved on
each person's best-scored pairs only, then proven optimal by pricing: the
potentials certify that no left-out pair could improve the result; any pair that
could (and, to save rounds, any close to it) is added and the part solved again.

The passes over every allowed pair (components, each person's best pairs, pricing)
are compiled loops (kernels.py): no large temporary arrays, which on the virtual
machines we run on are slow to fault in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from ortools.graph.python.max_flow import SimpleMaxFlow
from ortools.graph.python.min_cost_flow import SimpleMinCostFlow

from services.matcher.domain import kernels

# A part with more allowed pairs than this is solved on its best-scored pairs plus pricing.
DIRECT_PAIRS = 200_000
# Best-scored pairs kept per lived-experience leader, and per professional place.
KEEP_PER_PERSON = 12
# Pricing adds the pairs whose reduced cost is below this, at most this many per person a round.
_NEAR_MARGIN = 10
_NEAR_PER_PERSON = 3


class _Part:
    """One connected part of the graph of allowed pairs, in local numbering.

    The flow solver sees only the core pairs; the others wait and join the core when
    pricing shows they could improve the result.
    """

    def __init__(
        self,
        n_lived: int,
        spare: np.ndarray,
        u: np.ndarray,
        v: np.ndarray,
        score: np.ndarray,
        core: np.ndarray,
        first: tuple[np.ndarray, np.ndarray],
    ) -> None:
        self.n_lived, self.spare = n_lived, spare
        self.u, self.v, self.score = u, v, score  # lived-experience leader, professional, score of each pair
        self.first_l, self.first_p = first  # priority people: paired first
        self.in_core = core  # a fresh mask, owned from here (pricing adds to it)
        self.core = np.flatnonzero(core)
        # Worth of a priority person paired: more than any total score; of one pair:
        # more than every priority person and total score together.
        self.weight = 100 * n_lived + 1
        self.big = self.weight * (int(self.first_l.sum()) + int(self.first_p.sum()) + 1)
        self.solves = 0

    def bonus(self) -> tuple[np.ndarray, np.ndarray]:
        """Each person's worth when paired: weight for a priority person, else 0."""
        return self.weight * self.first_l.astype(np.int64), self.weight * self.first_p.astype(np.int64)

    def priority_paired(self, picked: np.ndarray) -> int:
        """How many priority people the pairs picked give a partner."""
        return int(self.first_l[self.u[picked]].sum()) + int(self.first_p[np.unique(self.v[picked])].sum())

    def key(self, picked: np.ndarray) -> tuple[int, int, int]:
        """Stages 1 and 2 of the pairs picked: pairs, priority people paired, total score."""
        return len(picked), self.priority_paired(picked), int(self.score[picked].sum())

    @property
    def priced(self) -> bool:
        return len(self.core) < len(self.u)

    def reduced_cost(self, potential: np.ndarray, k: np.ndarray) -> np.ndarray:
        """potential[lived] - potential[professional] - (big + score) of the pairs k."""
        return potential[self.u[k]] - potential[self.n_lived + self.v[k]] - self.big - self.score[k]

    def reduced_below(self, potential: np.ndarray, bound: int) -> np.ndarray:
        """The pairs whose reduced cost is below bound, in order."""
        pot_l, pot_p = potential[: self.n_lived], potential[self.n_lived : self.n_lived + len(self.spare)]
        return np.flatnonzero(kernels.reduced_below(self.u, self.v, self.score, pot_l, pot_p, self.big + bound))


@dataclass(frozen=True)
class Outcome:
    chosen: np.ndarray  # indices of the chosen pairs
    pairs: int
    total: int
    priority: int  # priority people paired
    weight: int  # a priority person's worth in within()'s gap: more than any total score
    worst: int  # lowest score among the chosen pairs
    part_l: np.ndarray  # part of each lived-experience leader, -1 when they have no pair allowed
    part_p: np.ndarray
    parts: int
    priced: int  # parts solved on a subset of their pairs
    flow_pairs: int
    solves: int
    # Each part's pairs (None: all, in order), and its optimal potentials (a dual).
    duals: tuple[tuple[np.ndarray | None, _Part, np.ndarray], ...] = field(default=(), repr=False, compare=False)

    def within(self, gap: int) -> np.ndarray:
        """The pairs whose reduced cost is at most gap, in order.

        Every pairing with as many pairs as the optimum that loses at most gap (weight
        per priority person fewer paired, plus the total score lost) uses only these
        pairs: a pairing loses at least the reduced cost of each of its pairs that the
        optimum does not use (linear programming duality), in each part, and each
        part's weight is at most `weight`. gap 0 gives the pairs of every optimal pairing.
        """
        found = [np.zeros(0, dtype=np.int64)]
        for idx, part, potential in self.duals:
            near = part.reduced_below(potential, gap + 1)
            found.append(near if idx is None else idx[near])
        return np.sort(np.concatenate(found))


def match(
    n_lived: int,
    spare: np.ndarray,
    arc_l: np.ndarray,
    arc_p: np.ndarray,
    score: np.ndarray,
    fairness: bool,
    first: tuple[np.ndarray, np.ndarray] | None = None,
) -> Outcome:
    """first: which lived-experience leaders and professionals to pair first (None: nobody)."""
    n = n_lived + len(spare)
    first = first or (np.zeros(n_lived, dtype=bool), np.zeros(len(spare), dtype=bool))
    core = best_pairs(arc_l, arc_p, score, n_lived, spare) if len(arc_l) > DIRECT_PAIRS else np.ones(len(arc_l), dtype=bool)
    label, paired = kernels.smallest_in_part(n_lived, len(spare), arc_l, arc_p)
    # Parts are numbered in the order of their smallest node; nodes without pairs get -1.
    roots = np.unique(label[np.flatnonzero(paired)])
    at = np.searchsorted(roots, label).clip(max=max(len(roots) - 1, 0))
    part_of_node = np.where(roots[at] == label, at, -1) if len(roots) else np.full(n, -1)

    chosen, duals, pairs, total, priority, worst, priced, flow_pairs, solves = [], [], 0, 0, 0, 100, 0, 0, 0
    for idx, part in _parts(part_of_node, len(roots), n_lived, spare, arc_l, arc_p, score, core, first):
        picked, potential = _solve_part(part, fairness)
        chosen.append(picked if idx is None else idx[picked])
        duals.append((idx, part, potential))
        pairs += len(picked)
        total += int(part.score[picked].sum())
        priority += part.priority_paired(picked)
        worst = min(worst, int(part.score[picked].min()))
        priced += part.priced
        flow_pairs += len(part.core)
        solves += part.solves
    return Outcome(
        chosen=np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64),
        pairs=pairs,
        total=total,
        priority=priority,
        weight=100 * n_lived + 1,
        worst=worst,
        part_l=part_of_node[:n_lived],
        part_p=part_of_node[n_lived:],
        parts=len(roots),
        priced=priced,
        flow_pairs=flow_pairs,
        solves=solves,
        duals=tuple(duals),
    )


def _parts(
    part_of_node: np.ndarray,
    n_parts: int,
    n_lived: int,
    spare: np.ndarray,
    arc_l: np.ndarray,
    arc_p: np.ndarray,
    score: np.ndarray,
    core: np.ndarray,
    first: tuple[np.ndarray, np.ndarray],
) -> Iterator[tuple[np.ndarray | None, _Part]]:
    """Each part in local numbering, with the indices of its pairs (None: all pairs, in order)."""
    if n_parts == 1:  # the usual case for a large round: no copies of its many pairs
        yield None, _Part(n_lived, spare, arc_l, arc_p, score, core, first)
        return
    lived_order, lived_bounds, local_l = _grouped(part_of_node[:n_lived], n_parts)
    prof_order, prof_bounds, local_p = _grouped(part_of_node[n_lived:], n_parts)
    arc_order, arc_bounds, _ = _grouped(part_of_node[arc_l], n_parts)
    for k in range(n_parts):
        idx = arc_order[arc_bounds[k] : arc_bounds[k + 1]]
        members_l = lived_order[lived_bounds[k] : lived_bounds[k + 1]]
        members_p = prof_order[prof_bounds[k] : prof_bounds[k + 1]]
        part_first = (first[0][members_l], first[1][members_p])
        yield (
            idx,
            _Part(len(members_l), spare[members_p], local_l[arc_l[idx]], local_p[arc_p[idx]], score[idx], core[idx], part_first),
        )


def _grouped(keys: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For keys in -1..n_groups-1: indices sorted by key (ties in index order), where
    each key 0..n_groups-1 starts, and each index's rank within its key."""
    small = keys.astype(np.int16 if n_groups < 2**15 else np.int64)  # 16-bit keys get numpy's radix sort
    order = np.argsort(small, kind="stable")
    first = np.searchsorted(small[order], np.arange(-1, n_groups + 1))  # where keys -1..n_groups start
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys)) - first[small[order] + 1]
    return order, first[1:], rank


def _solve_part(part: _Part, fairness: bool) -> tuple[np.ndarray, np.ndarray]:
    """The chosen pairs, and node potentials proving stages 1 and 2 optimal."""
    best, potential = _lexmax(part)
    if not fairness or len(best) < 2:
        return best, potential
    # Stage 3. The potentials are an optimal dual, so by complementary slackness a pair
    # with positive reduced cost is in no pairing that is optimal for stages 1 and 2:
    # search only the others (usually few more than the chosen pairs).
    usable = part.reduced_below(potential, 1)
    target = part.key(best)
    worst = int(part.score[best].min())
    levels = np.unique(part.score[usable])
    levels = levels[levels > worst]
    # The highest t such that pairs scoring t or more still reach the target. A plain
    # maximum flow (far quicker) first rules out the levels where too few pairs remain.
    while len(levels):
        t = int(levels[len(levels) // 2])
        active = usable[part.score[usable] >= t]
        picked = (
            _flow(part, active) if most_pairs(part.n_lived, part.spare, part.u[active], part.v[active]) == target[0] else None
        )
        if picked is not None and part.key(picked) == target:
            best, worst = picked, int(part.score[picked].min())
            levels = levels[levels > worst]
        else:
            levels = levels[levels < t]
    return best, potential


def _lexmax(part: _Part) -> tuple[np.ndarray, np.ndarray]:
    """Most pairs, then the most priority people paired, then the highest total score:
    the chosen pairs, and node potentials proving it."""
    while True:
        picked = _flow(part, part.core)
        potential = _potentials(part, part.core, picked)
        # A waiting pair with a negative reduced cost could improve the result; those
        # close to it often would in the next round, so they join now too.
        near = part.reduced_below(potential, _NEAR_MARGIN)
        near = near[~part.in_core[near]]
        reduced = part.reduced_cost(potential, near)
        if not (reduced < 0).any():
            return picked, potential
        near = near[_first_per_person(part, near, reduced)]
        part.in_core[near] = True
        part.core = np.sort(np.concatenate([part.core, near]))


def _first_per_person(part: _Part, pairs: np.ndarray, reduced: np.ndarray) -> np.ndarray:
    """Mask of the pairs among the _NEAR_PER_PERSON lowest reduced costs of either of their people."""
    order = np.lexsort((pairs, reduced))
    keep = np.zeros(len(pairs), dtype=bool)
    for person in (part.u[pairs], part.v[pairs]):
        ranked = person[order]
        by_person = np.argsort(ranked, kind="stable")
        rank = np.empty(len(pairs), dtype=np.int64)
        rank[by_person] = np.arange(len(pairs)) - np.searchsorted(ranked[by_person], ranked[by_person])
        keep[order[rank < _NEAR_PER_PERSON]] = True
    return keep


def _network(
    n_lived: int, spare: np.ndarray, u: np.ndarray, v: np.ndarray
) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray]:
    """source -> each lived-experience leader -> professional -> sink: source, sink, and
    the tails, heads and capacities of the arcs; the pair arcs are numbered from n_lived."""
    n_p = len(spare)
    source, sink = n_lived + n_p, n_lived + n_p + 1
    tails = np.concatenate([np.full(n_lived, source), u, n_lived + np.arange(n_p)])
    heads = np.concatenate([np.arange(n_lived), n_lived + v, np.full(n_p, sink)])
    capacities = np.concatenate([np.ones(n_lived + len(u), dtype=np.int64), spare])
    return source, sink, tails, heads, capacities


def most_pairs(n_lived: int, spare: np.ndarray, u: np.ndarray, v: np.ndarray) -> int:
    """The most pairs that the pairs (u[k], v[k]) allow."""
    source, sink, tails, heads, capacities = _network(n_lived, spare, u, v)
    flow = SimpleMaxFlow()
    flow.add_arcs_with_capacity(tails, heads, capacities)
    if flow.solve(source, sink) != SimpleMaxFlow.OPTIMAL:
        raise RuntimeError("maximum flow failed")
    return int(flow.optimal_flow())


def most_pairs_best_worth(
    n_lived: int,
    spare: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    worth: np.ndarray,
    bonus: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Mask of the pairs chosen to make the most pairs, then the highest total worth:
    each pair's worth, plus bonus[0][i] when lived-experience leader i is paired and
    bonus[1][p] (once) when professional p is."""
    source, sink, tails, heads, capacities = _network(n_lived, spare, u, v)
    bonus_l, bonus_p = bonus or (np.zeros(n_lived, dtype=np.int64), np.zeros(len(spare), dtype=np.int64))
    firsts = np.flatnonzero((bonus_p > 0) & (spare > 0))
    capacities[n_lived + len(u) + firsts] -= 1  # a professional's first place is an arc of its own, worth their bonus
    tails = np.concatenate([tails, n_lived + firsts])
    heads = np.concatenate([heads, np.full(len(firsts), sink)])
    capacities = np.concatenate([capacities, np.ones(len(firsts), dtype=np.int64)])
    pieces = (-bonus_l, -worth, np.zeros(len(spare)), -bonus_p[firsts])
    costs = np.concatenate([piece.astype(np.int64) for piece in pieces])
    flow = SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(tails, heads, capacities, costs)
    flow.set_node_supply(source, n_lived)
    flow.set_node_supply(sink, -n_lived)
    status = flow.solve_max_flow_with_min_cost()
    if status != SimpleMinCostFlow.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed with status {status}")
    return flow.flows(np.arange(n_lived, n_lived + len(u))) > 0


def _flow(part: _Part, active: np.ndarray) -> np.ndarray:
    part.solves += 1
    return active[
        most_pairs_best_worth(part.n_lived, part.spare, part.u[active], part.v[active], part.score[active], part.bonus())
    ]


def _potentials(part: _Part, active: np.ndarray, picked: np.ndarray) -> np.ndarray:
    """Shortest-path distances in the residual graph of the current solution.

    The solution is read as a circulation (source -> lived -> professional -> sink
    -> source) where a pair costs -(big + score) and a priority person paired
    -weight: most pairs first, then priority people, then total score. It is optimal,
    so the residual graph has no negative cycle and Bellman-Ford (compiled,
    kernels.py) converges. A priority professional's two arcs to the sink (the first
    place, worth weight, and the others) appear as the cheaper of each direction.
    """
    n_l, n_p = part.n_lived, len(part.spare)
    source, sink = n_l + n_p, n_l + n_p + 1
    unused = active[~np.isin(active, picked, assume_unique=True)]
    matched = np.zeros(n_l, dtype=bool)
    matched[part.u[picked]] = True
    load = np.bincount(part.v[picked], minlength=n_p)
    lived, profs = np.arange(n_l), n_l + np.arange(n_p)
    bonus_l, bonus_p = part.bonus()
    residual = [  # (tail, head, cost)
        (np.where(matched, lived, source), np.where(matched, source, lived), np.where(matched, bonus_l, -bonus_l)),
        (part.u[unused], n_l + part.v[unused], -(part.big + part.score[unused].astype(np.int64))),
        (n_l + part.v[picked], part.u[picked], part.big + part.score[picked].astype(np.int64)),  # undoing a chosen pair
        (profs[load < part.spare], sink, np.where(load == 0, -bonus_p, 0)[load < part.spare]),
        (sink, profs[load > 0], np.where(load == 1, bonus_p, 0)[load > 0]),
        (sink, source, 0),
        (source, sink, 0),  # only real when something flows, and harmless otherwise: sink then leads only back to source
    ]
    tail, head, cost = (
        np.concatenate(x).astype(np.int64)
        for x in zip(*(map(np.atleast_1d, np.broadcast_arrays(*arc)) for arc in residual), strict=True)
    )
    return kernels.shortest_distances(n_l + n_p + 2, tail, head, cost)


def best_pairs(
    arc_l: np.ndarray, arc_p: np.ndarray, score: np.ndarray, n_lived: int, spare: np.ndarray, keep_per_person: int | None = None
) -> np.ndarray:
    """Mask of each person's best-scored pairs: keep_per_person (default KEEP_PER_PERSON)
    per lived-experience leader and per professional place."""
    k = KEEP_PER_PERSON if keep_per_person is None else keep_per_person
    return kernels.top_per_either(arc_l, arc_p, score, np.full(n_lived, k), k * spare)
