"""A clock that runs ahead of the real one by a number of seconds kept in a file, read each time it is asked.

Only `make demo-journey` names such a file (REGISTRY_DEMO_CLOCK_FILE and NOTIFIER_DEMO_CLOCK_FILE), to move
the running services on through simulated months: answer dates, reminders and the schedule then fall due as
they would weeks later. `make run` and production never set it; with no file named, the clock is the real one.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path


def ahead(path: Path | None) -> dt.timedelta:
    """How far the clock runs ahead: the file's number of seconds, or nothing without a file."""
    if path is None:
        return dt.timedelta(0)
    try:
        return dt.timedelta(seconds=float(path.read_text().strip() or 0))
    except (FileNotFoundError, ValueError):
        return dt.timedelta(0)


def move_to(path: Path, moment: dt.datetime) -> None:
    """Make the clocks reading `path` show `moment` now (and run on from there)."""
    seconds = (moment - dt.datetime.now(dt.UTC)).total_seconds()
    temporary = path.with_suffix(".tmp")
    temporary.write_text(f"{seconds:.3f}\n")
    temporary.replace(path)  # every reader sees the old number or the new one, never half of one


class ShiftedClock:
    """The notifier's clock (services/notifier/clock.py) moved on by the file's number of seconds."""

    def __init__(self, path: Path):
        self.path = path

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + ahead(self.path)
