"""The notifier's clock, behind a port so tests can stop time (quiet hours, waiting, schedules)."""

from __future__ import annotations

import datetime as dt
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current moment, time-zone aware."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FrozenClock:
    """Stands still until moved: for tests, and for replaying what would happen at a given time."""

    def __init__(self, moment: dt.datetime):
        if moment.tzinfo is None:
            raise ValueError("a frozen clock needs a time zone")
        self.moment = moment

    def now(self) -> dt.datetime:
        return self.moment

    def set(self, moment: dt.datetime) -> None:
        self.moment = moment

    def advance(self, **delta: float) -> None:
        self.moment += dt.timedelta(**delta)


class RunningClock:
    """Starts at a chosen moment and then keeps time: for running tests at midday whatever the real hour."""

    def __init__(self, start: dt.datetime):
        if start.tzinfo is None:
            raise ValueError("a running clock needs a time zone")
        self.offset = start - dt.datetime.now(dt.UTC)

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset
