"""Hard pairing rules (docs: /work/shared/cohort-format.md): who may be paired with whom.

People are checked one by one first (release, capacity, sessions); everyone left is
checked in pairs with numpy, a block of rows at a time, so 10,000 people a side never
means a Python loop over pairs. Weekly availability is compared per distinct pattern,
not per person, because many people share the same windows.

For people left with no candidate at all, every removed candidate is counted against
the first rule it fails, in the order of PERSON_RULES then PAIR_RULES, so they can be
told which rule removed most of their candidates. Only they need those counts (people
with candidates are told why those were taken), so pair rules are counted in a second
pass over their rows and columns alone, which keeps the main pass lean. When
cross-area pairing is not allowed, people in other areas are never candidates, so
they are not counted as removed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from schemas.cohort import DAYS, LIVED_EXPERIENCE_ROLES, Cohort, MatchingProfile, RoundSpec, Window
from services.matcher.domain import kernels

IN_PERSON, VIDEO, PHONE = 1, 2, 4
REMOTE = VIDEO | PHONE
MODE_BITS = {"in_person": IN_PERSON, "video": VIDEO, "phone": PHONE}
EARTH_RADIUS_KM = 6371.0088
BSL_NOTICE_DAYS = 28  # interpreters are booked four weeks ahead
DAY_SECONDS = 86_400

PERSON_RULES = ("release", "capacity", "sessions")
PAIR_RULES = ("system", "do_not_pair", "meeting_mode", "availability")
RULES = PERSON_RULES + PAIR_RULES

# Pairs checked per numpy block: keeps the temporaries to some tens of megabytes.
_BLOCK_PAIRS = 1 << 22
# cos() of the travel limit is compared with a dot product; this slack (about 10 m)
# keeps two people at the same spot with a limit of 0 km able to meet in person.
_NEAR_SLACK = 1e-12
_NEVER = 2.0  # above any dot product of unit vectors: in person never possible
# Weeks cut into at most this many equal slots compare availability as bits.
_MAX_SLOTS = 1024


@dataclass(frozen=True)
class SessionProblem:
    """Why a person cannot attend every mandatory session."""

    date: dt.date
    cause: str  # "unavailable_date", "school_holiday", "notice" or "bsl_notice"


def session_problem(person: MatchingProfile, round_: RoundSpec) -> SessionProblem | None:
    if not round_.sessions:
        return None
    launch = round_.launch_date
    first = min(s.date for s in round_.sessions)
    if "bsl_interpreter" in person.access_needs and (first - launch).days < BSL_NOTICE_DAYS:
        return SessionProblem(first, "bsl_notice")
    unavailable = set(person.unavailable_dates)
    for date in sorted({s.date for s in round_.sessions}):
        if date in unavailable:
            return SessionProblem(date, "unavailable_date")
        if person.term_time_only and any(h.from_ <= date <= h.to for h in round_.school_holidays):
            return SessionProblem(date, "school_holiday")
        if (date - launch).days < person.min_notice_days:
            return SessionProblem(date, "notice")
    return None


def person_rule(person: MatchingProfile, round_: RoundSpec) -> str | None:
    """The rule that stops this person being paired with anyone, if any."""
    if person.is_professional:
        if person.release_confirmed is False:
            return "release"
        if person.capacity == 0:
            return "capacity"
    if session_problem(person, round_) is not None:
        return "sessions"
    return None


_DAY_STARTS = {day: i * DAY_SECONDS for i, day in enumerate(DAYS)}


def weekly_spans(windows: Sequence[Window]) -> tuple[tuple[int, int], ...]:
    """Windows as merged (start, end) seconds from Monday 00:00, so overlaps are not counted twice."""
    spans = []
    for w in windows:  # written out, not in a helper: a national round has some 50,000 windows
        day, opens, closes = _DAY_STARTS[w.day], w.start, w.end
        spans.append(
            (
                day + opens.hour * 3600 + opens.minute * 60 + opens.second,
                day + closes.hour * 3600 + closes.minute * 60 + closes.second,
            )
        )
    spans.sort()
    merged: list[list[int]] = []
    for start, end in spans:
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((s, e) for s, e in merged)


def shared_spans(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The times in both a and b, in order. Both are merged spans (weekly_spans): in order and apart,
    so one walk through the two finds every overlap, already in order."""
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        (s1, e1), (s2, e2) = a[i], b[j]
        start, end = max(s1, s2), min(e1, e2)
        if start < end:
            out.append((start, end))
        if e1 <= e2:  # a[i] ends first: nothing later in b can meet it
            i += 1
        else:
            j += 1
    return out


def spans_to_windows(spans: Sequence[tuple[int, int]]) -> list[Window]:
    def clock(seconds: int) -> dt.time:
        return dt.time(seconds // 3600, seconds // 60 % 60, seconds % 60)

    windows = []
    for start, end in spans:
        day = start // DAY_SECONDS
        midnight = day * DAY_SECONDS
        # Built from merged spans, so always valid: no need to validate again.
        windows.append(Window.model_construct(day=DAYS[day], start=clock(start - midnight), end=clock(end - midnight)))
    return windows


@dataclass(frozen=True)
class Side:
    """One side of the cohort, sorted by id, with the per-person arrays the pair checks use."""

    people: tuple[MatchingProfile, ...]
    index: dict[str, int]
    blocked: tuple[str | None, ...]  # person rule that rules them out
    system: np.ndarray  # area codes, shared numbering across both sides
    modes: np.ndarray  # meeting mode bits
    xyz: np.ndarray  # unit vectors on the Earth; zeros when the location is unknown
    reach: np.ndarray  # cos of the travel limit as an angle; _NEVER when in person is impossible
    spans: tuple[tuple[tuple[int, int], ...], ...]  # each person's merged weekly availability
    patterns: tuple[tuple[tuple[int, int], ...], ...]  # the distinct ones: people often share windows
    pattern: np.ndarray  # index of each person's availability in patterns

    @property
    def ok(self) -> np.ndarray:
        return np.array([b is None for b in self.blocked], dtype=bool)


def _unit_vector(lat: float, lon: float) -> tuple[float, float, float]:
    la, lo = math.radians(lat), math.radians(lon)
    return math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)


def _side(people: list[MatchingProfile], round_: RoundSpec, systems: dict[str, int]) -> Side:
    people = sorted(people, key=lambda p: p.id)
    # Filled as lists and made arrays once: setting 20,000 rows of an array one by one is slower.
    xyz_rows: list[tuple[float, float, float]] = []
    reach_list: list[float] = []
    for person in people:
        if person.location is None:
            xyz_rows.append((0.0, 0.0, 0.0))
            reach_list.append(_NEVER)
            continue
        xyz_rows.append(_unit_vector(person.location.lat, person.location.lon))
        if person.max_travel_km is not None and "in_person" in person.meeting_modes:
            reach_list.append(math.cos(min(person.max_travel_km / EARTH_RADIUS_KM, math.pi)) - _NEAR_SLACK)
        else:
            reach_list.append(_NEVER)
    xyz = np.array(xyz_rows, dtype=np.float64).reshape(len(people), 3)
    reach = np.array(reach_list, dtype=np.float64)
    spans = tuple(weekly_spans(p.availability) for p in people)
    distinct: dict[tuple[tuple[int, int], ...], int] = {}
    return Side(
        people=tuple(people),
        index={p.id: i for i, p in enumerate(people)},
        blocked=tuple(person_rule(p, round_) for p in people),
        system=np.array([systems[p.system] for p in people], dtype=np.int32),
        modes=np.array([sum(MODE_BITS[m] for m in set(p.meeting_modes)) for p in people], dtype=np.uint8),
        xyz=xyz,
        reach=reach,
        spans=spans,
        pattern=np.array([distinct.setdefault(s, len(distinct)) for s in spans], dtype=np.int32),
        patterns=tuple(distinct),
    )


def _overlap_ok(lived: Side, professionals: Side, min_seconds: float) -> np.ndarray:
    """Table [lived pattern, professional pattern] -> enough shared hours each week.

    Windows usually start and end on the half hour: then the week is cut into equal
    slots and shared time is a count of shared bits (compiled, kernels.py), several
    times quicker than the matrix product needed for odd times.
    """
    edges = np.array([t for pattern in lived.patterns + professionals.patterns for span in pattern for t in span], dtype=np.int64)
    if len(edges):
        origin = int(edges.min())
        step = int(np.gcd.reduce(edges - origin)) or 1
        if (int(edges.max()) - origin) // step <= _MAX_SLOTS:
            return _overlap_ok_by_slots(lived, professionals, min_seconds, origin, step)
    return _overlap_ok_by_product(lived, professionals, min_seconds)


def _overlap_ok_by_slots(lived: Side, professionals: Side, min_seconds: float, origin: int, step: int) -> np.ndarray:
    n_slots = (max(t for p in lived.patterns + professionals.patterns for span in p for t in span) - origin) // step
    # The product compares float32 sums with the limit rounded to float32: the same here,
    # so both ways always agree (shared seconds are whole and exact in float32).
    least = float(np.float32(min_seconds))
    return kernels.enough_shared_slots(
        _slot_bits(lived.patterns, origin, step, n_slots), _slot_bits(professionals.patterns, origin, step, n_slots), step, least
    )


def _slot_bits(patterns: tuple[tuple[tuple[int, int], ...], ...], origin: int, step: int, n_slots: int) -> np.ndarray:
    """Each pattern as one bit per slot of the week (free or not), in 64-bit words."""
    owner = np.array([i for i, pattern in enumerate(patterns) for _ in pattern], dtype=np.intp)
    starts = (np.array([start for pattern in patterns for start, _ in pattern], dtype=np.int64) - origin) // step
    ends = (np.array([end for pattern in patterns for _, end in pattern], dtype=np.int64) - origin) // step
    edges = np.zeros((len(patterns), n_slots + 1), dtype=np.int8)  # +1 where a span starts, -1 where it ends
    np.add.at(edges, (owner, starts), 1)
    np.add.at(edges, (owner, ends), -1)
    packed = np.packbits(np.cumsum(edges, axis=1)[:, :-1] > 0, axis=1, bitorder="little")
    words = np.zeros((len(patterns), 8 * -(-n_slots // 64)), dtype=np.uint8)
    words[:, : packed.shape[1]] = packed
    return words.view(np.uint64)


def _overlap_ok_by_product(lived: Side, professionals: Side, min_seconds: float) -> np.ndarray:
    """_overlap_ok for any times. The week is cut at every window edge; each pattern becomes a 0/1 row over the
    pieces, so shared time is one matrix product (exact in float32: a week has fewer
    than 2**24 seconds), taken a block of rows at a time to keep the products small.
    """
    cuts = np.unique(
        [t for pattern in lived.patterns + professionals.patterns for span in pattern for t in span] + [0, 7 * DAY_SECONDS]
    )

    def rows(patterns: tuple[tuple[tuple[int, int], ...], ...]) -> np.ndarray:
        # +1 where a span starts, -1 where it ends, then a running sum along the week.
        owner = np.array([i for i, pattern in enumerate(patterns) for _ in pattern], dtype=np.intp)
        starts = np.searchsorted(cuts, np.array([start for pattern in patterns for start, _ in pattern], dtype=np.int64))
        ends = np.searchsorted(cuts, np.array([end for pattern in patterns for _, end in pattern], dtype=np.int64))
        edges = np.zeros((len(patterns), len(cuts)), dtype=np.int8)
        np.add.at(edges, (owner, starts), 1)
        np.add.at(edges, (owner, ends), -1)
        return np.cumsum(edges, axis=1, dtype=np.int8)[:, :-1].astype(np.float32)

    weighted = rows(lived.patterns) * np.diff(cuts).astype(np.float32)
    other = rows(professionals.patterns).T
    ok = np.empty((len(lived.patterns), len(professionals.patterns)), dtype=bool)
    step = max(1, _BLOCK_PAIRS // max(1, len(professionals.patterns)))
    for start in range(0, len(weighted), step):
        ok[start : start + step] = weighted[start : start + step] @ other >= min_seconds
    return ok


def usable_modes(lived: Side, professionals: Side, li: np.ndarray, pj: np.ndarray, dot: np.ndarray | None = None) -> np.ndarray:
    """Meeting mode bits both can use; in person only when within both travel limits."""
    common = lived.modes[li] & professionals.modes[pj]
    if dot is None:
        dot = np.einsum("...k,...k->...", lived.xyz[li], professionals.xyz[pj])
    near = (dot >= lived.reach[li]) & (dot >= professionals.reach[pj])
    return np.where(near, common, common & REMOTE).astype(np.uint8)


def distance_km(lived: Side, professionals: Side, li: np.ndarray, pj: np.ndarray) -> np.ndarray:
    """Great-circle distance; only meaningful when both locations are known."""
    dot = np.einsum("...k,...k->...", lived.xyz[li], professionals.xyz[pj])
    return EARTH_RADIUS_KM * np.arccos(np.clip(dot, -1.0, 1.0))


@dataclass(frozen=True)
class Candidates:
    """Every allowed (lived experience, professional) pair, and what removed the others."""

    lived: Side
    professionals: Side
    # int32 index into lived.people, one entry per allowed pair, sorted (solver.prepare then
    # moves the free pairs to the front, in order; only the counts below are read after that)
    pair_lived: np.ndarray
    pair_prof: np.ndarray  # int32 index into professionals.people
    pair_modes: np.ndarray  # uint8 usable meeting modes
    # rule -> candidates it removed, per lived-experience leader. Only explanations read
    # these, and only for people left with no allowed pair, so pair rules are counted
    # for those people alone (a second, small pass); person rules for everyone.
    removed_lived: dict[str, np.ndarray]
    removed_professionals: dict[str, np.ndarray]
    # [lived pattern, professional pattern] -> enough shared time each week (for suggestions)
    shared_time: np.ndarray
    # allowed pairs per lived-experience leader and per professional
    allowed_lived: np.ndarray
    allowed_professionals: np.ndarray


def sides(cohort: Cohort) -> tuple[Side, Side]:
    """The lived-experience side and the professional side of a cohort."""
    systems = {code: i for i, code in enumerate(sorted({p.system for p in cohort.leaders}))}
    lived = [p for p in cohort.leaders if p.role in LIVED_EXPERIENCE_ROLES]
    professionals = [p for p in cohort.leaders if p.role not in LIVED_EXPERIENCE_ROLES]
    return _side(lived, cohort.round, systems), _side(professionals, cohort.round, systems)


def banned_pairs(cohort: Cohort, lived: Side, professionals: Side) -> tuple[np.ndarray, np.ndarray]:
    """(lived, professional) index pairs that must never be paired, in either direction."""
    pairs: set[tuple[int, int]] = set()
    named = [(p.id, other) for p in cohort.leaders for other in p.do_not_pair_with]
    for a, b in named + list(cohort.forbidden_pairs) + list(cohort.previous_pairs):
        for x, y in ((a, b), (b, a)):
            if x in lived.index and y in professionals.index:
                pairs.add((lived.index[x], professionals.index[y]))
    ordered = sorted(pairs)
    return np.array([p[0] for p in ordered], dtype=np.int64), np.array([p[1] for p in ordered], dtype=np.int64)


def _groups(cohort: Cohort, lived: Side, professionals: Side) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Sets of people who may be considered for each other: everyone, or one area at a time."""
    if cohort.round.allow_cross_system_remote:
        yield np.arange(len(lived.people)), np.arange(len(professionals.people))
        return
    for code in np.unique(np.concatenate([lived.system, professionals.system])):
        yield np.flatnonzero(lived.system == code), np.flatnonzero(professionals.system == code)


class _PairCheck:
    """The pair rules, in order, on a block of lived-experience rows and professional columns."""

    def __init__(self, cohort: Cohort, lived: Side, professionals: Side) -> None:
        self.lived, self.professionals = lived, professionals
        self.avail_ok = _overlap_ok(lived, professionals, cohort.round.min_shared_hours_per_week * 3600)
        self.banned_l, self.banned_p = banned_pairs(cohort, lived, professionals)

    def allowed(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The pairs rows x cols (both sorted) that every rule allows, in row-major order:
        lived-experience leader, professional, usable meeting modes (compiled: kernels.py)."""
        lived, profs = self.lived, self.professionals
        xyz = np.ascontiguousarray(profs.xyz[cols].T)
        cols_side = (profs.modes[cols], xyz[0], xyz[1], xyz[2], profs.reach[cols], profs.system[cols], profs.pattern[cols])
        banned_from = np.searchsorted(self.banned_l, rows, side="left")
        banned_to = np.searchsorted(self.banned_l, rows, side="right")
        lived_side = (lived.modes, lived.xyz, lived.reach, lived.system, lived.pattern)
        return kernels.allowed_pairs(rows, cols, lived_side, cols_side, self.avail_ok, banned_from, banned_to, self.banned_p)

    def __call__(self, r: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, list[tuple[str, np.ndarray]]]:
        """Usable meeting modes and each rule's verdict, for the pairs r x cols (both sorted)."""
        lived, professionals = self.lived, self.professionals
        li, pj = r[:, None], cols[None, :]
        modes = usable_modes(lived, professionals, li, pj, dot=lived.xyz[r] @ professionals.xyz[cols].T)
        banned = np.zeros((len(r), len(cols)), dtype=bool)
        if len(self.banned_l):
            at_r = np.searchsorted(r, self.banned_l).clip(max=len(r) - 1)
            at_c = np.searchsorted(cols, self.banned_p).clip(max=len(cols) - 1)
            hit = (r[at_r] == self.banned_l) & (cols[at_c] == self.banned_p)
            banned[at_r[hit], at_c[hit]] = True
        return modes, [
            ("system", (lived.system[li] == professionals.system[pj]) | ((modes & REMOTE) != 0)),
            ("do_not_pair", ~banned),
            ("meeting_mode", modes != 0),
            ("availability", self.avail_ok[lived.pattern[li], professionals.pattern[pj]]),
        ]


def _blocks(rows: np.ndarray, n_cols: int) -> Iterator[np.ndarray]:
    step = max(1, _BLOCK_PAIRS // max(1, n_cols))
    for start in range(0, len(rows), step):
        yield rows[start : start + step]


def find_candidates(cohort: Cohort) -> Candidates:
    lived, professionals = sides(cohort)
    check = _PairCheck(cohort, lived, professionals)
    removed_l = {rule: np.zeros(len(lived.people), dtype=np.int64) for rule in RULES}
    removed_p = {rule: np.zeros(len(professionals.people), dtype=np.int64) for rule in RULES}
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    l_ok, p_ok = lived.ok, professionals.ok
    groups = []
    for rows_all, cols_all in _groups(cohort, lived, professionals):
        _count_person_rules(lived, rows_all, professionals, cols_all, removed_l)
        _count_person_rules(professionals, cols_all, lived, rows_all, removed_p)
        rows, cols = rows_all[l_ok[rows_all]], cols_all[p_ok[cols_all]]
        if len(rows) and len(cols):
            groups.append((rows, cols))
            found.append(check.allowed(rows, cols))

    def joined(k: int, dtype: type) -> np.ndarray:
        # No copy for a single group: a copy of a national round's pairs is fresh memory, slow to fault in.
        if len(found) == 1:
            return found[0][k]
        return np.concatenate([f[k] for f in found]) if found else np.zeros(0, dtype=dtype)

    pair_lived, pair_prof, pair_modes = joined(0, np.int32), joined(1, np.int32), joined(2, np.uint8)
    if not cohort.round.allow_cross_system_remote:  # one block list per area: sort by person
        order = np.lexsort((pair_prof, pair_lived))
        pair_lived, pair_prof, pair_modes = pair_lived[order], pair_prof[order], pair_modes[order]

    # Second pass, for explanations: which rule removed the candidates of people left with none.
    allowed_l = kernels.pairs_per_person(len(lived.people), pair_lived)
    allowed_p = kernels.pairs_per_person(len(professionals.people), pair_prof)
    none_l, none_p = allowed_l == 0, allowed_p == 0
    for rows, cols in groups:
        lonely_r, lonely_c = rows[none_l[rows]], cols[none_p[cols]]
        if len(lonely_r):
            for r in _blocks(lonely_r, len(cols)):
                _count_pair_rules(check(r, cols)[1], removed_l, r, axis=1)
        if len(lonely_c):
            for r in _blocks(rows, len(lonely_c)):
                _count_pair_rules(check(r, lonely_c)[1], removed_p, lonely_c, axis=0)
    return Candidates(
        lived, professionals, pair_lived, pair_prof, pair_modes, removed_l, removed_p, check.avail_ok, allowed_l, allowed_p
    )


def _count_pair_rules(checks: list[tuple[str, np.ndarray]], removed: dict[str, np.ndarray], who: np.ndarray, axis: int) -> None:
    """Count each removed candidate against the first rule it fails."""
    alive = np.ones_like(checks[0][1])
    for rule, ok in checks:
        removed[rule][who] += (alive & ~ok).sum(axis=axis)
        alive &= ok


def _count_person_rules(side: Side, members: np.ndarray, other: Side, others: np.ndarray, removed: dict[str, np.ndarray]) -> None:
    """Candidates removed before any pair is checked: a ruled-out person loses all of
    their candidates to their own rule; everyone else loses each ruled-out other person."""
    own = [side.blocked[i] for i in members]
    for i, rule in zip(members, own, strict=True):
        if rule is not None:
            removed[rule][i] += len(others)
    eligible = members[[rule is None for rule in own]] if len(members) else members
    theirs = Counter(other.blocked[j] for j in others.tolist())
    for rule in PERSON_RULES:
        if theirs[rule]:
            removed[rule][eligible] += theirs[rule]
