"""`pairing match COHORT.json -o RESULT.json`: solve one round from a file, no broker or database."""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from schemas.cohort import Cohort, CohortResult
from services.common.collector import collector_paused
from services.matcher.domain import Limits, Progress, Watch, solve

# What a field must hold, in words, for errors about its type or range.
_FIELD_NEEDS = {
    "min_notice_days": "a whole number of days, 0 or more",
    "capacity": "a whole number from 0 to 100",
    "max_travel_km": "a distance in kilometres, 0 or more",
    "lat": "a latitude between -90 and 90",
    "lon": "a longitude between -180 and 180",
    "min_shared_hours_per_week": "a number of hours from 0 to 168",
    "time_limit_seconds": "a number of seconds above 0 and at most 3600",
    "seed": "a whole number, 0 or more",
    "schema_version": "1",
    "launch_date": "a date written as YYYY-MM-DD, for example 2027-01-12",
    "date": "a date written as YYYY-MM-DD, for example 2027-01-12",
    "from": "a date written as YYYY-MM-DD, for example 2027-02-15",
    "to": "a date written as YYYY-MM-DD, for example 2027-02-19",
    "unavailable_dates": "a list of dates written as YYYY-MM-DD",
    "start": "a time written as HH:MM, for example 10:00",
    "end": "a time written as HH:MM, for example 12:30",
    "day": "one of mon, tue, wed, thu, fri, sat, sun",
    "term_time_only": "true or false",
    "release_confirmed": "true, false or null",
    "allow_cross_system_remote": "true or false",
    "min_pairs_per_system": "a whole number of pairs, 0 or more, for each area code",
}
_VALUE_ERRORS = ("_type", "_parsing", "greater_than", "less_than", "finite_number", "literal_error", "date_", "time_")


class CohortFileError(ValueError):
    """The cohort file cannot be used; `problems` says where and why, in plain English."""

    def __init__(self, path: str | Path, problems: list[str]) -> None:
        self.problems = problems
        heading = f"{path}: {len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__("\n".join([heading] + [f"- {p}" for p in problems]))


def _where(loc: tuple[Any, ...], raw: Any) -> tuple[str, str]:
    """('leaders', 3, 'availability', 0, 'end') -> ("leaders[3] (id pl-0004)", "availability[0].end")."""
    if len(loc) >= 2 and loc[0] == "leaders" and isinstance(loc[1], int):
        leader = raw.get("leaders", [])[loc[1]] if isinstance(raw, dict) else None
        lid = leader.get("id") if isinstance(leader, dict) else None
        place, rest = f"leaders[{loc[1]}] ({f'id {lid}' if isinstance(lid, str) else 'no id'})", loc[2:]
    else:
        place, rest = (str(loc[0]), loc[1:]) if loc else ("cohort", ())
        while rest and isinstance(rest[0], int):  # e.g. locked_pairs[2][1]
            place, rest = f"{place}[{rest[0]}]", rest[1:]
    path = ""
    for part in rest:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return place, path


def _plain(error: Mapping[str, Any]) -> str:
    kind, ctx = error["type"], error.get("ctx", {})
    # The last field we can describe: for min_pairs_per_system.QHM that is the dict, not the key.
    names = [p for p in error["loc"] if isinstance(p, str) and p in _FIELD_NEEDS]
    if kind == "extra_forbidden":
        return "is not a field we know; check the spelling"
    if kind == "missing":
        return "is required"
    if names and names[-1] in _FIELD_NEEDS and any(k in kind for k in _VALUE_ERRORS):
        return f"must be {_FIELD_NEEDS[names[-1]]}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return error["msg"][0].lower() + error["msg"][1:]


def load_cohort(path: str | Path) -> Cohort:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise CohortFileError(path, [f"cannot be read: {e.strerror or e}"]) from None
    # A good file is read and checked in one pass by pydantic's own JSON parser, with no dicts and lists
    # built in between. The cyclic garbage collector is paused meanwhile: the million objects a large
    # cohort makes hold no cycles, yet each pass of the collector would walk them all (it cost more than
    # the checks themselves). Only a file that fails goes the slower way below, so that its problems are
    # worded exactly as they always were (JSON errors with line and column; each leader named by id).
    with collector_paused():
        try:
            return Cohort.model_validate_json(text)
        except ValidationError:
            pass
    return _checked_slowly(path, text)


def _checked_slowly(path: str | Path, text: str) -> Cohort:
    """Parse, then check, the file as separate steps: the errors of each name the place in words."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise CohortFileError(path, [f"is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}"]) from None
    try:
        return Cohort.model_validate(raw)
    except ValidationError as e:
        problems = []
        for error in e.errors():
            place, field = _where(error["loc"], raw)
            problems.append(f"{place}: field '{field}': {_plain(error)}" if field else f"{place}: {_plain(error)}")
        raise CohortFileError(path, problems) from None


@contextmanager
def _kept_while_solving(path: str | Path) -> Iterator[Cohort]:
    """The cohort, kept out of the collector's passes while it is in use: it lives until the solve ends,
    and each pass during the solve would otherwise walk its million objects again."""
    with collector_paused():
        cohort = load_cohort(path)
        gc.freeze()  # everything made so far, the cohort included, moves out of the collector's sight
    try:
        yield cohort
    finally:
        gc.unfreeze()


SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "cohort.schema.json"


def run_match(
    cohort_path: str | Path, output_path: str | Path, limits: Limits | None = None, progress: bool = False
) -> CohortResult:
    """Solve the cohort file and write the result file; progress: show a spinner with
    the elapsed time on a terminal (large rounds take seconds)."""
    with _spinner(f"Solving {Path(cohort_path).name}", progress) as say, _kept_while_solving(cohort_path) as cohort:
        started = time.perf_counter()
        result = solve(cohort, limits, Watch(lambda p: say(f"Solving {Path(cohort_path).name}: {_stage(p)}")))
        # The solver core reads no clock, so the wall time is measured here.
        stats = result.stats.model_copy(update={"wall_seconds": round(time.perf_counter() - started, 3)})
        result = result.model_copy(update={"stats": stats})
        Path(output_path).write_text(result.model_dump_json(by_alias=True, indent=2) + "\n", encoding="utf-8")
    return result


def _stage(progress: Progress) -> str:
    """What the solver is doing, and how close it is, in a few words."""
    if progress.gap is None:
        return progress.stage
    return (
        f"{progress.stage} (best possible at most {progress.gap:.2%} better)"
        if progress.gap
        else f"{progress.stage} (best possible)"
    )


@contextmanager
def _spinner(text: str, enabled: bool) -> Iterator[Callable[[str], None]]:
    """A spinner with the elapsed time on a terminal; yields a way to change its words."""
    if not enabled or not _may_be_terminal():
        yield lambda _text: None
        return
    # Loaded only here: rich takes as long to import as reading a small cohort.
    from rich.console import Console
    from rich.progress import Progress as RichProgress
    from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda _text: None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with RichProgress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(text, total=None)
        yield lambda words: bar.update(task, description=words)


def _may_be_terminal() -> bool:
    """False when rich would surely not call standard error a terminal (see rich's Console.is_terminal):
    not a terminal, and not forced to be one by TTY_COMPATIBLE=1 or FORCE_COLOR."""
    if os.environ.get("TTY_COMPATIBLE") == "1" or os.environ.get("FORCE_COLOR") is not None:
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # no standard error, or it is closed
        return False


def summary(cohort_path: str | Path, output_path: str | Path, result: CohortResult) -> str:
    """A few plain lines about the result, for the person who ran the command."""
    stats = result.stats
    counts = stats.counts
    lines = [
        f"Round {result.round_id}: {_many(counts.get('leaders', 0), 'leader')} "
        f"({_many(counts.get('lived_experience', 0), 'patient or carer leader', 'patient and carer leaders')}, "
        f"{_many(counts.get('professionals', 0), 'professional')})."
    ]
    if stats.status == "infeasible":
        lines.append(
            "The round cannot be solved as it is set up, so no pairs were made. The smallest changes that would allow it:"
        )
        lines += [f"- {change}" for change in result.relaxations]
    else:
        lines.append(f"{_many(len(result.pairs), 'pair')}; {_many(len(result.unmatched), 'person', 'people')} not paired.")
        if result.unmatched:
            rules = Counter(u.rule for u in result.unmatched).most_common(3)
            lines.append(
                "Most common reasons for not being paired: "
                + ", ".join(f"{_RULE_WORDS.get(r, r)} ({n:,})" for r, n in rules)
                + "."
            )
        quality = "proven best" if stats.status == "optimal" else f"within {100 * stats.gap:.3g}% of the best possible"
        lines.append(f"Status: {stats.status} ({quality}); solved in {stats.wall_seconds:.1f} s.")
    lines.append(f"Result written to {output_path}")
    return "\n".join(lines)


def _many(n: int, one: str, more: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else more or one + 's'}"


_RULE_WORDS = {
    "capacity": "every suitable partner taken",
    "outnumbered": "more people than places",
    "availability": "no shared free time",
    "meeting_mode": "no way of meeting",
    "sessions": "cannot attend every session",
    "release": "release not confirmed",
    "system": "different area",
    "do_not_pair": "asked not to be paired",
    "no_candidates": "nobody on the other side",
}


def write_json_schema(path: str | Path = SCHEMA_PATH) -> Path:
    Path(path).write_text(json_schema_text(), encoding="utf-8")
    return Path(path)


def json_schema_text() -> str:
    """The JSON Schema of the cohort file, as shipped in schemas/cohort.schema.json."""
    schema = Cohort.model_json_schema(by_alias=True)
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "cohort.schema.json", **schema}
    return json.dumps(schema, indent=2) + "\n"
