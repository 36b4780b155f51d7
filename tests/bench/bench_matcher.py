"""Matcher benchmark: rewrites the "matcher" section of docs/benchmarks.md.

    .venv/bin/python -m tests.bench.bench_matcher

On generated cohorts (services.matcher.domain.generate) of 200, 2,000 and 10,000
people a side, and 2,000 x 400 with capacity 5:

- the whole lexicographic solve (candidates, scores, three stages, reasons);
- stages 1 and 2 alone as an assignment problem on the same allowed pairs and scores:
  scipy's linear_sum_assignment (capacity expanded into copies of each professional)
  and min_weight_full_bipartite_matching as baselines, against the OR-Tools min-cost
  flow the solver uses, with the objectives compared;
- area minimums (the CP-SAT path), and re-matching after 5% of pairs are declined;
- the whole offline command (`pairing match COHORT.json -o RESULT.json`, from
  starting Python to the result file) at 10,000 a side, the issue 17 target, with a
  profile of where its time goes;
- the answers compared with those recorded before issue 17 sped the solver up
  (matcher_before_issue_17.json: a digest of the pairs and reasons per cohort, with the
  words for distances and the suggestions added by issue 16 left out: tests/matcher_answers.py),
  and with everything the solver answered on 2026-12-06, before the second round of speed-ups
  (matcher_answers_2026_12_06.json: pairs, reasons, suggestions, bounds and status).

Each case runs in a fresh process, so its peak memory is its own and one case's
allocations do not slow the next. Times are the best of a few runs: the machine may
be shared, and the best run is the one least disturbed.
"""

from __future__ import annotations

import cProfile
import hashlib
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

SIZES = [  # (label, lived-experience leaders, professionals, capacity)
    ("200 x 200", 200, 200, 1),
    ("2,000 x 2,000", 2000, 2000, 1),
    ("10,000 x 10,000", 10000, 10000, 1),
    ("2,000 x 400, capacity 5", 2000, 400, 5),
]
SEED = 1
QUOTA_TIME_LIMIT = 30.0
BEFORE = json.loads((Path(__file__).parent / "matcher_before_issue_17.json").read_text())
RECORDED = json.loads((Path(__file__).parent / "matcher_answers_2026_12_06.json").read_text())
PAIRING = Path(sys.executable).parent / "pairing"


def _cohort(n_lived: int, n_prof: int, capacity: int, **round_fields: Any):
    from services.matcher.domain.generate import generate_cohort

    cohort = generate_cohort(n_lived, n_prof, seed=SEED, capacity=capacity)
    if round_fields:
        cohort = cohort.model_copy(update={"round": cohort.round.model_copy(update=round_fields)})
    return cohort


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(runs: int, fn: Any) -> tuple[list[float], list[float], Any]:
    walls, cpus, value = [], [], None
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        value = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return walls, cpus, value


# ---- cases, each run in its own process ------------------------------------------


def case_solve(n_lived: int, n_prof: int, capacity: int, runs: int, fairness: bool = True) -> dict[str, Any]:
    from services.matcher.domain import Limits, solve

    cohort = _cohort(n_lived, n_prof, capacity)
    walls, cpus, result = _timed(runs, lambda: solve(cohort, Limits(fairness_stage=fairness)))
    stats = result.stats
    from tests.matcher_answers import full_digest

    return {
        "answers": _digest(result),
        "full_answers": full_digest(result),
        "walls": walls,
        "cpus": cpus,
        "status": stats.status,
        "gap": stats.gap,
        "pairs": len(result.pairs),
        "candidates": stats.counts["candidate_pairs"],
        "leaders": stats.counts["leaders"],
        "peak_mib": _peak_mib(),
    }


def _digest(result: Any) -> str:
    """Digest of the pairs and the unmatched with their reasons, as recorded before issue 17 (with the
    words for distances and the suggestions left out, as issue 16 changed those)."""
    from tests.matcher_answers import comparable

    return hashlib.sha256(json.dumps(comparable(result), sort_keys=True).encode()).hexdigest()


def case_command(n_lived: int, n_prof: int, capacity: int, runs: int) -> dict[str, Any]:
    """The whole offline command, as a person runs it: Python starting, reading and
    checking the cohort file, solving, writing the result file."""
    with tempfile.TemporaryDirectory() as folder:
        cohort_path, result_path = Path(folder) / "cohort.json", Path(folder) / "result.json"
        cohort_path.write_text(_cohort(n_lived, n_prof, capacity).model_dump_json(by_alias=True), encoding="utf-8")
        command = [str(PAIRING), "match", str(cohort_path), "-o", str(result_path)]
        cpus = []  # each run's CPU (every thread), which other work on a shared machine inflates far less than wall time

        def run() -> None:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(command, check=True, capture_output=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)

        walls, _, _ = _timed(runs, run)
        result = json.loads(result_path.read_text(encoding="utf-8"))
    return {"walls": walls, "cpus": cpus, "status": result["stats"]["status"], "pairs": len(result["pairs"])}


# Steps of the offline command, by the function that does each (see case_profile).
PROFILE_STEPS = [
    ("read and check the cohort file", "offline.py", "load_cohort"),
    ("each person's rules, places and weekly times", "rules.py", "sides"),
    ("shared-time table for every pair of weekly patterns", "rules.py", "__init__"),
    ("the pair rules on every pair (compiled)", "kernels.py", "allowed_pairs"),
    ("fit scores of the allowed pairs (compiled)", "kernels.py", "fit_scores"),
    ("min-cost flow solves (OR-Tools)", "~", "<built-in method ortools.graph.python.min_cost_flow.solve_max_flow_with_min_cost>"),
    ("maximum flow solves for stage 3 (OR-Tools)", "~", "<built-in method ortools.graph.python.max_flow.solve>"),
    ("the flow's other work: parts, best pairs, pricing, stage 3", "flow.py", "match"),
    ("pairs with reasons, the unmatched with reasons", "solver.py", "_result"),
    ("suggestions for the people not paired", "suggest.py", "with_suggestions"),
    ("write the result file", "offline.py", "run_match"),
]


def case_profile(n_lived: int, n_prof: int, capacity: int) -> dict[str, Any]:
    """cProfile of run_match (the command without Python starting), by step."""
    from services.matcher.domain import solve
    from services.matcher.offline import run_match

    small = _cohort(20, 20, 1)
    loading = time.perf_counter()
    solve(small)  # loads numba and the compiled loops from its cache, as the first solve of a real run does
    loading = time.perf_counter() - loading
    with tempfile.TemporaryDirectory() as folder:
        cohort_path = Path(folder) / "cohort.json"
        cohort_path.write_text(_cohort(n_lived, n_prof, capacity).model_dump_json(by_alias=True), encoding="utf-8")
        profile = cProfile.Profile()
        profile.runcall(run_match, cohort_path, Path(folder) / "result.json")
    stats = pstats.Stats(profile).stats  # (file, line, name) -> (calls, primitive calls, own s, total s, callers)
    total = {(Path(f).name, name): t for (f, _, name), (_, _, _, t, _) in stats.items()}
    steps = {label: total.get((file, name), 0.0) for label, file, name in PROFILE_STEPS}
    flow_solves = steps["min-cost flow solves (OR-Tools)"] + steps["maximum flow solves for stage 3 (OR-Tools)"]
    steps["the flow's other work: parts, best pairs, pricing, stage 3"] -= flow_solves
    steps["pairs with reasons, the unmatched with reasons"] -= steps["suggestions for the people not paired"]
    run = steps.pop("write the result file")
    steps["write the result file"] = run - total.get(("offline.py", "load_cohort"), 0.0) - total.get(("solver.py", "solve"), 0.0)
    # The functions that take the most time of their own (not counting what they call).
    own = sorted(((o, calls, f"{Path(f).name}:{name}") for (f, _, name), (calls, _, o, _, _) in stats.items()), reverse=True)
    top = [(where, calls, seconds) for seconds, calls, where in own[:TOP_FUNCTIONS]]
    return {"steps": steps, "run_match": run, "loading": loading, "top": top}


TOP_FUNCTIONS = 12


def case_assignment(n_lived: int, n_prof: int, capacity: int, runs: int) -> dict[str, Any]:
    """Stages 1 and 2 only, on the free pairs and scores the solver itself would use."""
    from services.matcher.domain import flow
    from services.matcher.domain.solver import prepare

    prep = prepare(_cohort(n_lived, n_prof, capacity))
    arc_l, arc_p, score, spare, n = prep.arc_l, prep.arc_p, prep.arc_score.astype(np.int64), prep.spare, prep.n_lived
    out: dict[str, Any] = {"free_pairs": len(arc_l), "places": int(spare.sum())}

    walls, _, outcome = _timed(runs, lambda: flow.match(n, spare, arc_l, arc_p, prep.arc_score, fairness=False))
    out["flow"] = (walls, (outcome.pairs, outcome.total))

    # Capacity as copies: each pair once per place of its professional, place k of
    # professional j being column first[j] + k. A pair is worth more than any total
    # score, so both baselines maximise pairs, then total fit.
    big = 100 * n + 1
    places = int(spare.sum())
    first = np.cumsum(spare) - spare
    per_pair = spare[arc_p]
    copies = np.repeat(np.arange(len(arc_l)), per_pair)
    place = np.arange(len(copies)) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair)
    column = first[arc_p[copies]] + place
    worth = big + score[copies]

    def dense() -> tuple[int, int]:
        from scipy.optimize import linear_sum_assignment

        matrix = np.zeros((n, places))
        matrix[arc_l[copies], column] = worth
        rows, cols = linear_sum_assignment(matrix, maximize=True)
        got = matrix[rows, cols]
        got = got[got > 0]
        return len(got), int((got - big).sum())

    def sparse() -> tuple[int, int]:
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import min_weight_full_bipartite_matching

        # A full matching must exist: one "unpaired" column per lived-experience leader, worth 1.
        rows = np.concatenate([arc_l[copies], np.arange(n)])
        cols = np.concatenate([column, places + np.arange(n)])
        values = np.concatenate([worth + 1, np.ones(n)]).astype(float)
        matrix = csr_matrix((values, (rows, cols)), shape=(n, places + n))
        r, c = min_weight_full_bipartite_matching(matrix, maximize=True)
        got = np.asarray(matrix[r, c]).ravel()
        got = got[got > 1]
        return len(got), int((got - big - 1).sum())

    dense_bytes = n * places * 8
    if dense_bytes < 4 * 2**30:
        walls, _, value = _timed(runs, dense)
        out["dense"] = (walls, value)
    else:
        out["dense"] = None
    walls, _, value = _timed(runs, sparse)
    out["sparse"] = (walls, value)
    out["dense_mib"] = dense_bytes / 2**20
    out["peak_mib"] = _peak_mib()
    return out


def _raised_minimums(cohort, result, raise_by: int) -> dict[str, int]:
    """Minimums above what the best pairing gives: the two areas with fewest pairs get
    raise_by and raise_by // 2 more."""
    area = {p.id: p.system for p in cohort.leaders}
    counts = Counter(a for p in result.pairs for a in {area[p.lived_experience_id], area[p.professional_id]})
    low = sorted(counts, key=lambda a: (counts[a], a))[:2]
    return {low[0]: counts[low[0]] + raise_by, low[1]: counts[low[1]] + raise_by // 2}


def case_quotas(n_lived: int, n_prof: int, capacity: int, raise_by: int) -> dict[str, Any]:
    from services.matcher.domain import solve

    plain = _cohort(n_lived, n_prof, capacity)
    minimums = _raised_minimums(plain, solve(plain), raise_by)
    cohort = _cohort(n_lived, n_prof, capacity, min_pairs_per_system=minimums, time_limit_seconds=QUOTA_TIME_LIMIT)
    walls, _, result = _timed(1, lambda: solve(cohort))
    return {
        "minimums": minimums,
        "walls": walls,
        "status": result.stats.status,
        "gap": result.stats.gap,
        "method": result.stats.method.split("area minimums: ")[-1],
        "relaxations": result.relaxations,
        "peak_mib": _peak_mib(),
    }


def case_rematch(n_lived: int, n_prof: int, capacity: int, runs: int, share: float = 0.05) -> dict[str, Any]:
    """Pairing again after declines, as the registry asks for it: the same people, every kept
    pair locked and the declined pairs forbidden (services/registry/handlers pair_again)."""
    from services.matcher.domain import solve

    cohort = _cohort(n_lived, n_prof, capacity)
    first = solve(cohort)
    step = round(1 / share)
    declined = [
        (p.lived_experience_id, p.professional_id) for i, p in enumerate(first.pairs) if i % step == step // 2 and not p.locked
    ]
    accepted = [(p.lived_experience_id, p.professional_id) for p in first.pairs]
    accepted = [pair for pair in accepted if pair not in set(declined)]
    affected = {i for pair in declined for i in pair} | {u.id for u in first.unmatched}
    again = cohort.model_copy(update={"locked_pairs": accepted, "forbidden_pairs": [*cohort.forbidden_pairs, *declined]})
    walls, _, result = _timed(runs, lambda: solve(again))
    return {
        "declined": len(declined),
        "affected": len(affected),
        "walls": walls,
        "status": result.stats.status,
        "pairs_before": len(first.pairs),
        "pairs_after": len(result.pairs),
        "repaired": len(result.pairs) - len(accepted),
    }


# ---- the report --------------------------------------------------------------------


def _in_process(fn: Any, *args: Any) -> Any:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def _s(seconds: float) -> str:
    return f"{seconds:.3f}" if seconds < 1 else f"{seconds:.2f}"


def _best(walls: list[float]) -> str:
    text = _s(min(walls))
    return text if len(walls) == 1 else f"{text} (median {_s(statistics.median(walls))}, {len(walls)} runs)"


def _same_as_before(label: str, r: dict[str, Any]) -> str:
    if label not in BEFORE:
        return "not recorded"
    return "yes" if r["answers"] == BEFORE[label]["sha256"] else "NO"


def _same_as_recorded(label: str, r: dict[str, Any]) -> str:
    if label not in RECORDED:
        return "not recorded"
    return "yes" if r["full_answers"] == RECORDED[label] else "NO"


def _solve_row(label: str, r: dict[str, Any]) -> list[Any]:
    best_cpu = r["cpus"][r["walls"].index(min(r["walls"]))]
    return [
        label,
        f"{r['candidates']:,}",
        f"{r['pairs']:,}",
        r["status"],
        r["gap"],
        _best(r["walls"]),
        _s(r["walls"][0]),
        _s(best_cpu),
        f"{r['peak_mib']:,.0f} MiB",
        _same_as_before(label, r),
        _same_as_recorded(label, r),
    ]


def _runs(walls: list[float]) -> str:
    return f"{_s(min(walls))} s at best ({len(walls)} runs, median {_s(statistics.median(walls))} s)"


@dataclass
class Target:
    text: str
    measured: str
    met: bool
    note: str = ""


def main() -> None:
    from tests.bench.report import table, write_section

    started = time.perf_counter()
    load_before = os.getloadavg()
    runs = {200: 5, 2000: 3, 10000: 2}

    solves = {}
    for label, n_lived, n_prof, cap in SIZES:
        print(f"solve {label} ...", file=sys.stderr, flush=True)
        solves[label] = _in_process(case_solve, n_lived, n_prof, cap, runs[n_lived])
    big = SIZES[2]
    print("solve 10,000 x 10,000 without stage 3 ...", file=sys.stderr, flush=True)
    stages_12 = _in_process(case_solve, big[1], big[2], big[3], runs[10000], False)
    print("pairing match 10,000 x 10,000, the whole command ...", file=sys.stderr, flush=True)
    command = _in_process(case_command, big[1], big[2], big[3], 3)
    print("profile of the command at 10,000 x 10,000 ...", file=sys.stderr, flush=True)
    profile = _in_process(case_profile, big[1], big[2], big[3])

    assignment = {}
    for label, n_lived, n_prof, cap in SIZES:
        print(f"assignment {label} ...", file=sys.stderr, flush=True)
        assignment[label] = _in_process(case_assignment, n_lived, n_prof, cap, 1 if n_lived >= 10000 else 3)

    quota_cases = [
        ("200 x 200", 200, 200, 1, 2),
        ("2,000 x 400, capacity 5", 2000, 400, 5, 10),
        ("10,000 x 10,000", 10000, 10000, 1, 40),
    ]
    quotas = {}
    for label, n_lived, n_prof, cap, raise_by in quota_cases:
        print(f"area minimums {label} ...", file=sys.stderr, flush=True)
        quotas[label] = _in_process(case_quotas, n_lived, n_prof, cap, raise_by)
    print("re-match 2,000 x 400 ...", file=sys.stderr, flush=True)
    again = _in_process(case_rematch, 2000, 400, 5, 5)
    load_after = os.getloadavg()

    rows = []
    for label, *_ in SIZES:
        r = solves[label]
        rows.append(_solve_row(label, r))
    rows.append(_solve_row("10,000 x 10,000, stages 1 and 2 only", stages_12))
    solve_table = table(
        [
            "cohort",
            "allowed pairs",
            "pairs",
            "status",
            "gap",
            "wall s (best)",
            "first run s",
            "CPU s",
            "peak memory",
            "same pairs and reasons as before issue 17",
            "same answers, suggestions and bounds as on 2026-12-06",
        ],
        rows,
    )

    rows = []
    for label, *_ in SIZES:
        a = assignment[label]
        flow_s, flow_obj = min(a["flow"][0]), a["flow"][1]
        cells = [label, f"{a['free_pairs']:,}", f"{a['places']:,}", _s(flow_s)]
        same = []
        for key in ("dense", "sparse"):
            if a[key] is None:
                cells.append(f"skipped ({a['dense_mib']:,.0f} MiB matrix)")
                continue
            walls, obj = a[key]
            cells.append(f"{_s(min(walls))} ({min(walls) / flow_s:.1f}x)")
            same.append(obj == flow_obj)
        cells.append("yes" if all(same) else "NO")
        cells.append(f"{flow_obj[0]:,} / {flow_obj[1]:,}")
        rows.append(cells)
    assignment_table = table(
        [
            "cohort",
            "free pairs",
            "places",
            "OR-Tools flow s",
            "scipy linear_sum_assignment s (x flow)",
            "scipy min_weight_full_bipartite_matching s (x flow)",
            "same objective",
            "pairs / total fit",
        ],
        rows,
    )

    rows = []
    for label, *_ in quota_cases:
        q = quotas[label]
        minimums = ", ".join(f"{a} {m}" for a, m in q["minimums"].items())
        rows.append([label, minimums, q["status"], q["gap"], _s(q["walls"][0]), q["method"]])
    quota_table = table(["cohort", "minimums (raised above the flow's pairing)", "status", "gap", "wall s", "how"], rows)

    rematch_table = table(
        ["cohort", "declined pairs", "affected people", "re-match s", "status", "pairs before / after", "new pairs"],
        [
            [
                "2,000 x 400, capacity 5",
                again["declined"],
                again["affected"],
                _best(again["walls"]),
                again["status"],
                f"{again['pairs_before']:,} / {again['pairs_after']:,}",
                again["repaired"],
            ]
        ],
    )

    small, ten_k, ten_k_12 = solves["200 x 200"], solves["10,000 x 10,000"], stages_12
    whole, scipy_10k = (
        min(command["walls"]),
        min(assignment["10,000 x 10,000"]["dense"][0]) if assignment["10,000 x 10,000"]["dense"] else None,
    )
    versus_scipy = (
        f"; scipy's linear_sum_assignment on stages 1 and 2 alone: {_s(scipy_10k)} s, {scipy_10k / whole:.1f}x the whole command"
        if scipy_10k
        else ""
    )
    same_10k = _same_as_before("10,000 x 10,000", ten_k)
    if same_10k == "yes":
        same_10k = _same_as_recorded("10,000 x 10,000", ten_k)
    q2000, q10k = quotas["2,000 x 400, capacity 5"], quotas["10,000 x 10,000"]
    targets = [
        Target(
            "200 per side proven optimal < 0.5 s",
            f"{_s(min(small['walls']))} s, {small['status']}",
            small["status"] == "optimal" and min(small["walls"]) < 0.5,
        ),
        Target(
            "10,000 per side coverage- and fit-optimal < 5 s end to end (`pairing match`, answers unchanged)",
            f"{_runs(command['walls'])} for the whole command ({command['status']}; CPU {_s(min(command['cpus']))} s at best); "
            f"solve() alone {_s(min(ten_k['walls']))} s, "
            f"{_s(min(ten_k_12['walls']))} s without stage 3{versus_scipy}; same answers as before: {same_10k}",
            command["status"] == "optimal" and whole < 5 and same_10k == "yes",
            "see where the time goes below",
        ),
        Target(
            "with area minimums <= 1% gap within 30 s",
            f"2,000 x 400: gap {q2000['gap']:.3%} in {_s(q2000['walls'][0])} s; "
            f"10,000 x 10,000: gap {q10k['gap']:.3%} in {_s(q10k['walls'][0])} s",
            all(q["status"] != "infeasible" and q["gap"] <= 0.01 and q["walls"][0] <= 30 for q in (q2000, q10k)),
        ),
        Target("re-match after 5% declines at 2,000 x 400 < 1 s", f"{_s(min(again['walls']))} s", min(again["walls"]) < 1),
    ]
    target_table = table(
        ["target", "measured", "met"],
        [[t.text, t.measured, "met" if t.met else f"not met: {t.note}" if t.note else "not met"] for t in targets],
    )

    steps = profile["steps"]
    steps["everything else in run_match"] = profile["run_match"] - sum(steps.values())
    profile_table = table(
        ["step", "s", "share"],
        [[step, _s(t), f"{t / profile['run_match']:.0%}"] for step, t in steps.items()]
        + [["run_match in all", _s(profile["run_match"]), "100%"]],
    )
    top_table = table(
        ["function", "calls", "own s", "share of run_match"],
        [[f"`{where}`", f"{calls:,}", _s(t), f"{t / profile['run_match']:.0%}"] for where, calls, t in profile["top"]],
    )

    body = f"""
`make bench-matcher` (`.venv/bin/python -m tests.bench.bench_matcher`), {time.perf_counter() - started:.0f} s in all.
Generated cohorts (seed {SEED}); each case in a fresh process. Load average before / after:
{load_before[0]:.1f} / {load_after[0]:.1f} (on 2 cores, anything above 0 means other work shared the machine).

### Targets

{target_table}

### Lexicographic solve

The whole `solve()`: candidate pairs, scores, most pairs, best total fit, best worst
pair, reasons. Times are the best of the runs in one process (median alongside); the
first run of a process, as in `pairing match`, also pays for fresh memory. CPU counts
every thread (numpy's BLAS uses two).

{solve_table}

### The whole command at 10,000 a side, and where its time goes

`pairing match COHORT.json -o RESULT.json` on the 10,000 x 10,000 cohort, timed from
starting the process to its exit: {_runs(command["walls"])}; CPU of each run (every thread):
{", ".join(_s(c) for c in command["cpus"])} s (best {_s(min(command["cpus"]))} s). The profile below
(cProfile, one run of `run_match` in a process whose compiled loops are already
loaded) leaves out starting Python, importing and loading the compiled loops,
about {max(0.0, whole - profile["run_match"]):.1f} s of the command's time in this run (loading the loops from
numba's cache alone took {_s(profile["loading"])} s); cProfile slows Python-heavy steps (reading the
cohort, each person's rules, reasons) more than compiled ones.

{profile_table}

The {TOP_FUNCTIONS} functions with the most time of their own in that profile (compiled loops, OR-Tools and
pydantic count as one function each):

{top_table}

Three min-cost flow solves remain: pricing adds the pairs that could improve the
first solve's answer, and it is solved again until nothing could. Starting from a
larger or smaller set of each person's best pairs (16 or 8 instead of 12) still needs three
solves at 10,000 a side, and returns another of the many equally good pairings
(3,840 to 3,874 of the 9,030 pairs differ, for the same objective), so the
answers would change: we kept the solves. The pairs pricing adds depend only on the
optimal dual of each round's pairs, not on which optimal pairing OR-Tools returns, so
the first two solves could in principle be replaced by any exact method that is quicker
(a warm start from the previous round's answer, say); OR-Tools has none, and its other
ways of solving (fixed supplies, or one circulation with a cost for leaving someone
unpaired) took as long or longer on the first round's 170,000 pairs.

What the second round of speed-ups (2026-12-06) changed, with the answers checked against
those recorded before it: suggestions find the professionals held by one rule once per
round (they checked 300,000 sessions at 10,000 a side), the free pairs are moved to the
front of the candidates in place instead of copied (190 MB of fresh memory), and a few
passes over all 20,000 people or all allowed pairs are made once instead of several
times. (Listing pricing's pairs directly instead of marking every pair was tried and
was slower: it reads each pair's two potentials twice.)

The third round (2026-12-06, branch matcher5s), answers checked the same way, cut about
0.6 to 1 s of CPU from the whole command. Run alternately with the code before it on the same
busy machine (load average 4 to 18 on 2 cores), 5 runs each: CPU 4.60 s at best (median 6.13 s)
against 5.24 s (median 7.19 s), lower in every pair of runs; wall 6.04 s at best against 8.50 s,
mostly time spent waiting for a core at that load. With the machine at load average 4, 3 runs
each: 5.31 s at best against 5.56 s. The pair rules keep each of the 10^8 verdicts as one bit
instead of checking every pair twice (0.69 s of CPU down to 0.46 s); the command ends with
`os._exit` once the result file is written and the summary shown, skipping Python's teardown
of the round's million objects (about 0.3 s); it no longer imports asyncio or rich (0.1 s);
suggestions gather the free and full professionals' values once instead of for each person
looked at, shared times are found by one walk through both weeks, windows are said without
strftime (together about 0.15 s); and each person's best pairs and the parts of the graph
take fewer passes over all pairs. The three min-cost flow solves are unchanged (see above).

Fixed costs that remain, in CPU as measured on this shared machine: starting Python and importing numpy,
numba, OR-Tools and pydantic (about 0.45 s), loading numba's compiled loops (about 0.35 s
for the first loop of a process, whichever it is, 0.15 s of it scipy's linear algebra,
which numba imports to check for BLAS; a few hundredths of a second for the other eight), and
reading and checking the cohort file (pydantic, in `schemas/cohort.py`, about 0.25 s, of which
its Python checks of each weekly window are about 0.05 s). Where the rest goes, in the profile
above: OR-Tools' three min-cost flow solves are the largest step (about a quarter of
`run_match`, on one core, and fixed while the answers must stay the same), then the pair rules
and scores (compiled, on both cores), the flow's other passes over all 21 million pairs, and
the Python work per person and per pair (rules, reasons, suggestions).

### Stages 1 and 2 as an assignment problem

The same free pairs and scores; each professional's places as copies. The baselines
get a pair worth more than any total score, so all three maximise pairs, then total
fit. OR-Tools is `flow.match` without stage 3 (a flow on each person's best pairs,
proven optimal by pricing over all pairs); scipy's times include building its matrix.

{assignment_table}

### Area minimums

Minimums raised above what the best pairing without them gives, for the two areas
with fewest pairs; round time limit {QUOTA_TIME_LIMIT:.0f} s. The gap is to the best
pairing without minimums, a bound that holds for every pairing meeting them.

{quota_table}

### Re-match after declines

Every 20th pair declined; affected: both people of each declined pair, everyone left
unmatched, and professionals with places left. Accepted pairs are kept.

{rematch_table}
"""
    path = write_section("matcher", body)
    print(f"wrote the matcher section of {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
