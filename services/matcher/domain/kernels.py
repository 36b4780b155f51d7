"""Compiled loops (numba) for the work done once per pair of people.

A national round checks 10^8 pairs and scores tens of millions; in numpy each check
is a pass over a large temporary array, here each pair is checked (or scored) once,
in one loop over rows shared between the cores. The loops do exactly what the numpy
code they replace did, in the same order of floating-point operations, so the
answers are bit for bit the same (tests/unit/matcher/test_matcher_kernels.py).

cache=True keeps the compiled code beside this file, so only the first run after an
install pays for compiling.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

_REMOTE = 6  # video | phone, as in rules.py

Array = np.ndarray
Arrays = tuple[np.ndarray, ...]  # one person's values per column, gathered (see _row_pairs)


@nb.njit(cache=True, inline="always")
def _row_modes(i: int, lived: Arrays, cols_side: Arrays, c: int) -> int:
    """Usable meeting modes of row i with column c: in person only within both travel limits."""
    modes_l, xyz_l, reach_l, _, _ = lived
    modes_p, x_p, y_p, z_p, reach_p, _, _ = cols_side
    dot = xyz_l[i, 0] * x_p[c] + xyz_l[i, 1] * y_p[c] + xyz_l[i, 2] * z_p[c]
    near = (dot >= reach_l[i]) & (dot >= reach_p[c])
    # near is 1, the in-person bit.
    modes: int = np.int64(modes_l[i]) & np.int64(modes_p[c]) & (_REMOTE | near)
    return modes


@nb.njit(cache=True, inline="always")
def _row_verdicts(i: int, lived: Arrays, cols_side: Arrays, avail_ok: Array, ok: Array, words: Array) -> int:
    """Check row i against every column, but for do-not-pair: the verdicts as bits in
    `words` (bit c % 64 of word c // 64), and how many columns pass.

    The columns' own values come gathered into contiguous arrays (cols_side), so the
    checks run as vector instructions into `ok`; the bits are packed in a second,
    short loop. No branch per pair: a quarter to a third pass, at random.
    """
    modes_l, xyz_l, reach_l, system_l, pattern_l = lived
    modes_p, x_p, y_p, z_p, reach_p, system_p, pattern_p = cols_side
    mode_i, x_i, y_i, z_i, reach_i, system_i = (
        np.int64(modes_l[i]),
        xyz_l[i, 0],
        xyz_l[i, 1],
        xyz_l[i, 2],
        reach_l[i],
        system_l[i],
    )
    avail_row = avail_ok[pattern_l[i]]
    n = len(modes_p)
    for c in range(n):
        dot = x_i * x_p[c] + y_i * y_p[c] + z_i * z_p[c]
        near = (dot >= reach_i) & (dot >= reach_p[c])
        # In person only when within both travel limits; near is 1, the in-person bit.
        modes = mode_i & np.int64(modes_p[c]) & (_REMOTE | near)
        ok[c] = (modes != 0) & ((system_i == system_p[c]) | ((modes & _REMOTE) != 0)) & avail_row[pattern_p[c]]
    found = 0
    for w in range(len(words)):
        word = np.uint64(0)
        for b in range(min(64, n - 64 * w)):
            word |= np.uint64(ok[64 * w + b]) << np.uint64(b)
        words[w] = word
        found += int(_popcount(word))
    return found


_ROW_BLOCKS = 64  # the rows are cut into this many blocks, checked in parallel, each with its own scratch


@nb.njit(cache=True, parallel=True)
def allowed_pairs(
    rows: Array,
    cols: Array,
    lived: Arrays,
    cols_side: Arrays,
    avail_ok: Array,
    banned_from: Array,
    banned_to: Array,
    banned_cols: Array,
) -> tuple[Array, Array, Array]:
    """Every pair of rows x cols (both sorted) that the pair rules allow, in row-major
    order: lived index, professional index, usable modes.

    cols_side: the professionals' values gathered for cols (see _row_verdicts).
    banned_cols[banned_from[r]:banned_to[r]] are the banned columns of rows[r], sorted.
    Two passes: the first checks every pair and keeps each verdict as one bit (a
    national round's 10^8 verdicts in 12 MB), counting each row's pairs; the second
    walks the bits and writes each row's allowed pairs into its own stretch of the
    output, working out the meeting modes again for those pairs alone. One bit per
    pair is far cheaper than a second copy of the output in fresh memory (page
    faults cost about 8 microseconds per 4 KiB on our machines).
    """
    n_rows, n_cols = len(rows), len(cols)
    n_words = (n_cols + 63) // 64
    scratch_ok = np.empty((_ROW_BLOCKS, n_cols), dtype=np.bool_)
    bits = np.empty((n_rows, n_words), dtype=np.uint64)
    counts = np.zeros(n_rows + 1, dtype=np.int64)
    for blk in nb.prange(_ROW_BLOCKS):
        for r in range(blk * n_rows // _ROW_BLOCKS, (blk + 1) * n_rows // _ROW_BLOCKS):
            found = _row_verdicts(rows[r], lived, cols_side, avail_ok, scratch_ok[blk], bits[r])
            banned = banned_cols[banned_from[r] : banned_to[r]]
            for k in range(len(banned)):  # take out the banned columns that passed every other rule
                c = np.searchsorted(cols, banned[k])
                if c < n_cols and cols[c] == banned[k]:
                    bit = np.uint64(1) << np.uint64(c % 64)
                    found -= (bits[r, c // 64] & bit) != 0
                    bits[r, c // 64] &= ~bit
            counts[r + 1] = found
    starts = np.cumsum(counts)
    out_l = np.empty(starts[-1], dtype=np.int32)
    out_p = np.empty(starts[-1], dtype=np.int32)
    out_m = np.empty(starts[-1], dtype=np.uint8)
    for blk in nb.prange(_ROW_BLOCKS):
        for r in range(blk * n_rows // _ROW_BLOCKS, (blk + 1) * n_rows // _ROW_BLOCKS):
            at = starts[r]
            i = rows[r]
            for w in range(n_words):
                word = bits[r, w]
                while word:
                    low = word & (~word + np.uint64(1))  # the lowest bit set
                    c = 64 * w + _trailing_zeros(low)
                    out_l[at] = i
                    out_p[at] = cols[c]
                    out_m[at] = _row_modes(i, lived, cols_side, c)
                    at += 1
                    word ^= low
    return out_l, out_p, out_m


@nb.njit(cache=True, inline="always")
def _trailing_zeros(low: np.uint64) -> int:
    """Position of the one bit set in low."""
    n = 0
    if low & np.uint64(0xFFFFFFFF00000000):
        n += 32
    if low & np.uint64(0xFFFF0000FFFF0000):
        n += 16
    if low & np.uint64(0xFF00FF00FF00FF00):
        n += 8
    if low & np.uint64(0xF0F0F0F0F0F0F0F0):
        n += 4
    if low & np.uint64(0xCCCCCCCCCCCCCCCC):
        n += 2
    if low & np.uint64(0xAAAAAAAAAAAAAAAA):
        n += 1
    return n


@nb.njit(cache=True, inline="always")
def _popcount(x: np.uint64) -> np.uint64:
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


@nb.njit(cache=True, inline="always")
def _topic_share(topics_l: Array, topics_p: Array, i: int, j: int) -> float:
    """Shared topics over all topics the two named (Jaccard), 0 when neither named any."""
    shared, either = np.uint64(0), np.uint64(0)
    for w in range(topics_l.shape[1]):
        shared += _popcount(topics_l[i, w] & topics_p[j, w])
        either += _popcount(topics_l[i, w] | topics_p[j, w])
    return shared / either if either > 0 else 0.0


@nb.njit(cache=True, inline="always")
def _travel(
    i: int, j: int, in_person: bool, xyz_l: Array, xyz_p: Array, travel_l: Array, travel_p: Array, earth_radius_km: float
) -> float:
    if not in_person:
        return 0.5
    limit: float = min(travel_l[i], travel_p[j])
    if not limit > 0:
        return 1.0
    # Summed in the order numpy's einsum sums, so the distance is the same to the last bit.
    dot = 0.0 + xyz_l[i, 0] * xyz_p[j, 0]
    dot = dot + xyz_l[i, 1] * xyz_p[j, 1]
    dot = dot + xyz_l[i, 2] * xyz_p[j, 2]
    km = earth_radius_km * math.acos(min(max(dot, -1.0), 1.0))
    return 1 - min(km / limit, 1.0)


@nb.njit(cache=True, parallel=True)
def fit_scores(
    li: Array,
    pj: Array,
    modes: Array,
    people_l: Arrays,
    people_p: Arrays,
    balance: Array,
    weights: tuple[float, ...],
    earth_radius_km: float,
) -> Array:
    """Fit scores 0 to 100 (scoring.py explains the parts) of the pairs (li[k], pj[k])."""
    topics_l, xyz_l, travel_l, level_l, org_l = people_l
    topics_p, xyz_p, travel_p, level_p, org_p = people_p
    w_topics, w_travel, w_experience, w_organisation, w_sum = weights
    out = np.empty(len(li), dtype=np.int16)
    for k in nb.prange(len(li)):
        i, j = li[k], pj[k]
        topics = _topic_share(topics_l, topics_p, i, j)
        travel = _travel(i, j, (modes[k] & 1) != 0, xyz_l, xyz_p, travel_l, travel_p, earth_radius_km)
        experience = balance[level_l[i], level_p[j]]
        organisation = 0.5 if org_l[i] < 0 or org_p[j] < 0 else (1.0 if org_l[i] != org_p[j] else 0.0)
        mean = (w_topics * topics + w_travel * travel + w_experience * experience + w_organisation * organisation) / w_sum
        # Round half up, the way people expect; the clip guards float error at the ends.
        out[k] = min(max(math.floor(100 * mean + 0.5), 0.0), 100.0)
    return out


# ---- the flow's passes over every allowed pair (flow.py) ------------------------------


@nb.njit(cache=True)
def _root(parent: Array, x: int) -> int:
    while parent[x] != x:
        parent[x] = parent[parent[x]]  # halve the path as we go
        x = parent[x]
    return x


@nb.njit(cache=True)
def smallest_in_part(n_lived: int, n_prof: int, arc_l: Array, arc_p: Array) -> tuple[Array, Array]:
    """Nodes: lived-experience leaders 0..n_lived-1, then professionals; edges: the
    pairs. Each node's smallest connected node, by union-find that always hangs the
    larger root under the smaller, so every root is the smallest node of its part;
    and which lived-experience leaders are in a pair (marked in the same pass)."""
    parent = np.arange(n_lived + n_prof)
    paired = np.zeros(n_lived, dtype=np.bool_)
    for k in range(len(arc_l)):
        paired[arc_l[k]] = True
        ra, rb = _root(parent, arc_l[k]), _root(parent, n_lived + arc_p[k])
        if ra < rb:
            parent[rb] = ra
        elif rb < ra:
            parent[ra] = rb
    for x in range(len(parent)):
        parent[x] = _root(parent, x)
    return parent, paired


@nb.njit(cache=True, inline="always")
def _cuts(count: Array, quota: Array) -> tuple[Array, Array]:
    """From count[g, s] (pairs of group g scoring s): the lowest score each group keeps
    (-1 keeps every pair), and how many pairs scoring exactly that to keep."""
    n = len(quota)
    cut = np.full(n, -1, dtype=np.int64)
    ties_left = np.zeros(n, dtype=np.int64)
    for g in range(n):
        above = 0
        for s in range(100, -1, -1):
            if above + count[g, s] >= quota[g]:
                cut[g], ties_left[g] = s, quota[g] - above
                break
            above += count[g, s]
    return cut, ties_left


@nb.njit(cache=True)
def top_per_group(group: Array, score: Array, quota: Array) -> Array:
    """Mask of the quota[g] best-scored pairs of each group g (scores 0 to 100); ties
    go to the earlier pair."""
    count = np.zeros((len(quota), 101), dtype=np.int64)
    for k in range(len(group)):
        count[group[k], score[k]] += 1
    cut, ties_left = _cuts(count, quota)
    keep = np.empty(len(group), dtype=np.bool_)
    for k in range(len(group)):
        g = group[k]
        keep[k] = score[k] > cut[g]
        if score[k] == cut[g] and ties_left[g] > 0:
            keep[k] = True
            ties_left[g] -= 1
    return keep


@nb.njit(cache=True)
def top_per_either(group_a: Array, group_b: Array, score: Array, quota_a: Array, quota_b: Array) -> Array:
    """top_per_group(group_a, score, quota_a) | top_per_group(group_b, score, quota_b),
    in one pass to count and one to mark instead of two each."""
    count_a = np.zeros((len(quota_a), 101), dtype=np.int64)
    count_b = np.zeros((len(quota_b), 101), dtype=np.int64)
    for k in range(len(score)):
        count_a[group_a[k], score[k]] += 1
        count_b[group_b[k], score[k]] += 1
    cut_a, ties_a = _cuts(count_a, quota_a)
    cut_b, ties_b = _cuts(count_b, quota_b)
    keep = np.empty(len(score), dtype=np.bool_)
    for k in range(len(score)):
        a, b, s = group_a[k], group_b[k], score[k]
        kept = (s > cut_a[a]) | (s > cut_b[b])
        if s == cut_a[a] and ties_a[a] > 0:
            kept = True
            ties_a[a] -= 1
        if s == cut_b[b] and ties_b[b] > 0:
            kept = True
            ties_b[b] -= 1
        keep[k] = kept
    return keep


@nb.njit(cache=True, parallel=True)
def reduced_below(u: Array, v: Array, score: Array, pot_l: Array, pot_p: Array, limit: int) -> Array:
    """Mask of the pairs with pot_l[u] - pot_p[v] - score < limit."""
    out = np.empty(len(u), dtype=np.bool_)
    for k in nb.prange(len(u)):
        out[k] = pot_l[u[k]] - pot_p[v[k]] - np.int64(score[k]) < limit
    return out


@nb.njit(cache=True)
def shortest_distances(n: int, tail: Array, head: Array, cost: Array) -> Array:
    """Distances in a graph with no negative cycle, from a start joined to every node
    at cost 0 (so all start at 0): Bellman-Ford, relaxing in place until nothing
    changes. The distances are unique, so they are the same in any order of arcs."""
    dist = np.zeros(n, dtype=np.int64)
    changed = True
    while changed:
        changed = False
        for k in range(len(tail)):
            d = dist[tail[k]] + cost[k]
            if d < dist[head[k]]:
                dist[head[k]] = d
                changed = True
    return dist


@nb.njit(cache=True)
def pairs_per_person(n: int, person: Array) -> Array:
    """How many pairs each of n people is in: np.bincount without its copy of every
    index to 64 bits (170 MB for a national round's pairs)."""
    count = np.zeros(n, dtype=np.int64)
    for k in range(len(person)):
        count[person[k]] += 1
    return count


@nb.njit(cache=True)
def open_first(pair_lived: Array, pair_prof: Array, pair_modes: Array, lived_open: Array, prof_open: Array) -> int:
    """Move the pairs whose two people are both still open (lived_open, prof_open: one
    flag per person) to the front, in place and in order, the others after them (also
    in order); return how many are open. In place, because a copy of a national
    round's pairs is fresh memory, slow to fault in (0.4 s for 190 MB on our machines)."""
    n = len(pair_lived)
    closed = 0
    for k in range(n):
        closed += not (lived_open[pair_lived[k]] and prof_open[pair_prof[k]])
    if closed == 0:
        return n
    held_l = np.empty(closed, dtype=pair_lived.dtype)
    held_p = np.empty(closed, dtype=pair_prof.dtype)
    held_m = np.empty(closed, dtype=pair_modes.dtype)
    kept, held = 0, 0
    for k in range(n):
        lived, prof, modes = pair_lived[k], pair_prof[k], pair_modes[k]
        if lived_open[lived] and prof_open[prof]:
            pair_lived[kept], pair_prof[kept], pair_modes[kept] = lived, prof, modes
            kept += 1
        else:
            held_l[held], held_p[held], held_m[held] = lived, prof, modes
            held += 1
    pair_lived[kept:], pair_prof[kept:], pair_modes[kept:] = held_l, held_p, held_m
    return kept


@nb.njit(cache=True, parallel=True)
def enough_shared_slots(bits_l: Array, bits_p: Array, slot_seconds: int, least_seconds: float) -> Array:
    """Table [i, j]: rows i of bits_l and j of bits_p (weekly time slots, one bit
    each) share at least least_seconds of free time."""
    out = np.empty((bits_l.shape[0], bits_p.shape[0]), dtype=np.bool_)
    for i in nb.prange(bits_l.shape[0]):
        for j in range(bits_p.shape[0]):
            shared = np.uint64(0)
            for w in range(bits_l.shape[1]):
                shared += _popcount(bits_l[i, w] & bits_p[j, w])
            out[i, j] = shared * slot_seconds >= least_seconds
    return out
