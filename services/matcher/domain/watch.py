"""How a caller follows a long solve and stops it.

The solver stays pure: it calls `report` with what it knows at each stage and asks
`check` whether to go on; the caller decides what to do with a report (publish it)
and when to stop (the round was cancelled). Stopping works from another thread,
including in the middle of a CP-SAT search.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


class SolveStopped(Exception):
    """The caller asked the solve to stop; there is no result."""


@dataclass(frozen=True)
class Progress:
    """What a solve knows so far. Objective and bound are in the round's own terms
    (paired_people, total_fit, worst_pair_fit) once the pairing stage is done."""

    stage: str  # plain English: what the solver is doing now
    objective: dict[str, float] = field(default_factory=dict)
    bound: dict[str, float] = field(default_factory=dict)
    gap: float | None = None  # share of the bound still unproven; None before there is a solution


class Watch:
    """Passed into solve(): receives progress, and can stop the solve from any thread."""

    def __init__(self, report: Callable[[Progress], None] | None = None) -> None:
        self._report = report or (lambda _progress: None)
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._stop_search: Callable[[], None] | None = None
        self._locked: dict[str, float] = {}

    def report(self, progress: Progress) -> None:
        if self._locked:
            objective, bound = _with(progress.objective, self._locked), _with(progress.bound, self._locked)
            gap = None if progress.gap is None else relative_gap(objective, bound)
            progress = dataclasses.replace(progress, objective=objective, bound=bound, gap=gap)
        self._report(progress)

    @contextmanager
    def counting(self, locked: dict[str, float]) -> Iterator[None]:
        """While a part of the solver works on the free pairs only, reports include the locked pairs too."""
        self._locked = locked
        try:
            yield
        finally:
            self._locked = {}

    def stop(self) -> None:
        with self._lock:
            self._stopped.set()
            if self._stop_search is not None:
                self._stop_search()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def check(self) -> None:
        """Between stages: give up if asked to."""
        if self._stopped.is_set():
            raise SolveStopped()

    @contextmanager
    def searching(self, stop_search: Callable[[], None]) -> Iterator[None]:
        """While a search runs, stop() interrupts it through stop_search."""
        with self._lock:
            self.check()
            self._stop_search = stop_search
        try:
            yield
        finally:
            with self._lock:
                self._stop_search = None
        self.check()


def _with(figures: dict[str, float], locked: dict[str, float]) -> dict[str, float]:
    """Figures for the free pairs, with the locked pairs added (the worst pair may be a locked one)."""
    out = {k: v + locked.get(k, 0.0) for k, v in figures.items() if k != "worst_pair_fit"}
    if "worst_pair_fit" in figures:
        out["worst_pair_fit"] = min(figures["worst_pair_fit"], locked.get("worst_pair_fit", 100.0))
    return out


def relative_gap(objective: dict[str, float], bound: dict[str, float]) -> float:
    """Relative gap of the first stage whose bound is above what was found (0 when none)."""
    for stage in ("paired_people", "priority_paired", "total_fit", "worst_pair_fit"):
        if bound.get(stage, 0) > objective.get(stage, 0):
            return round((bound[stage] - objective[stage]) / bound[stage], 6)
    return 0.0
