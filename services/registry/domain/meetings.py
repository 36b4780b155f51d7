"""The suggested first meeting of every pair in a round, and the arrangements it needs.

Planned when a round is published, in the registry, because only the registry
sees both people's dates, their notice and every pair a professional is in.
Pure rules: the people's needs, the pairs and the publish date in; one slot per
pair out (or none when nothing fits in the weeks looked at).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from schemas.cohort import DAYS, DateRange, Window

INTERPRETER_NOTICE_DAYS = 28  # a British Sign Language interpreter is booked four weeks ahead

Slot = tuple[dt.date, dt.time, dt.time]


@dataclass(frozen=True)
class MeetingNeeds:
    """What one person's record says about when they can first meet."""

    notice_days: int = 0
    cannot_meet_on: frozenset[dt.date] = frozenset()
    term_time_only: bool = False
    needs_interpreter: bool = False

    @property
    def days_of_notice(self) -> int:
        return max(self.notice_days, INTERPRETER_NOTICE_DAYS if self.needs_interpreter else 0)


@dataclass(frozen=True)
class PairToMeet:
    first: str
    second: str
    shared_windows: Sequence[Window]


@dataclass(frozen=True)
class MeetingRules:
    """The programme's own rules for a first meeting."""

    notice_days: int = 14  # nobody is asked to meet sooner than this after publishing
    minutes: int = 60
    weeks: int = 8  # how far ahead to look
    school_holidays: Sequence[DateRange] = field(default_factory=tuple)


def earliest_first_meeting(published_on: dt.date, respond_by: dt.date | None, notice_days: int) -> dt.date:
    """Give people notice, and never suggest meeting before they have had the chance to answer."""
    earliest = published_on + dt.timedelta(days=notice_days)
    if respond_by is not None:
        earliest = max(earliest, respond_by + dt.timedelta(days=1))
    return earliest


def in_holidays(day: dt.date, holidays: Iterable[DateRange]) -> bool:
    return any(h.from_ <= day <= h.to for h in holidays)


def plan_first_meetings(
    pairs: Sequence[PairToMeet],
    needs: dict[str, MeetingNeeds],
    published_on: dt.date,
    respond_by: dt.date | None,
    rules: MeetingRules,
) -> list[Slot | None]:
    """For each pair, the earliest slot inside a weekly window they share that suits both.

    Both people get the notice the longer of them needs, none of the dates either
    cannot do, no school holiday when either takes part in term time only, and
    nobody is asked to be in two places at once: a professional's slots never overlap.
    """
    not_before = earliest_first_meeting(published_on, respond_by, rules.notice_days)
    length = dt.timedelta(minutes=rules.minutes)
    taken: dict[str, list[tuple[dt.datetime, dt.datetime]]] = {}
    chosen: list[Slot | None] = []
    for pair in pairs:
        both = [needs.get(pair.first, MeetingNeeds()), needs.get(pair.second, MeetingNeeds())]
        start_from = max(not_before, published_on + dt.timedelta(days=max(n.days_of_notice for n in both)))
        busy = taken.get(pair.first, []) + taken.get(pair.second, [])

        def suits(day: dt.date) -> bool:
            if any(day in n.cannot_meet_on for n in both):
                return False
            return not (any(n.term_time_only for n in both) and in_holidays(day, rules.school_holidays))

        best = None
        for week in range(rules.weeks):
            for window in pair.shared_windows:
                day = start_from + dt.timedelta(days=(DAYS.index(window.day) - start_from.weekday()) % 7 + 7 * week)
                if not suits(day):
                    continue
                start, window_end = dt.datetime.combine(day, window.start), dt.datetime.combine(day, window.end)
                # A window shorter than a meeting gives one meeting as long as the window; a longer
                # window only ever gives whole meetings.
                meeting = min(length, window_end - start)
                while start + meeting <= window_end:
                    end = start + meeting
                    if not any(start < b_end and b_start < end for b_start, b_end in busy):
                        best = min(best, (start, end)) if best else (start, end)
                        break
                    start += meeting
        if best is None:
            chosen.append(None)
            continue
        for person in (pair.first, pair.second):
            taken.setdefault(person, []).append(best)
        chosen.append((best[0].date(), best[0].time(), best[1].time()))
    return chosen
