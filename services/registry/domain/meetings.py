"""The suggested first meeting of every pair in a round, and the arrangements it needs.

Planned when a round is published, in the registry, because only the registry
sees both people's dates, their notice and every pair a professional is in.
Pure rules: the people's needs, the pairs and the publish date in; one slot per
pair out (or none when nothing fits in the weeks looked at). No date is ever a
bank holiday where either person lives, or a day the programme is closed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

import holidays

from schemas.cohort import DAYS, DateRange, Location, Session, Window

INTERPRETER_NOTICE_DAYS = 28  # a British Sign Language interpreter is booked four weeks ahead

Slot = tuple[dt.date, dt.time, dt.time]

# The UK's three sets of bank holidays (Wales has England's).
Nation = Literal["england_and_wales", "scotland", "northern_ireland"]
NATION_WORDS = {"england_and_wales": "England and Wales", "scotland": "Scotland", "northern_ireland": "Northern Ireland"}
_HOLIDAY_AREA = {"england_and_wales": "ENG", "scotland": "SCT", "northern_ireland": "NIR"}


@cache
def _bank_holidays(nation: Nation) -> holidays.HolidayBase:
    return holidays.country_holidays("GB", subdiv=_HOLIDAY_AREA[nation])


def bank_holiday(day: dt.date, nation: Nation) -> str | None:
    """The name of the bank holiday on this day where the person lives, if it is one."""
    return _bank_holidays(nation).get(day)


@dataclass(frozen=True)
class Closure:
    """Days the programme is closed: the same dates every year (24 December to 1 January), or once."""

    first: dt.date
    last: dt.date
    yearly: bool

    def __contains__(self, day: dt.date) -> bool:
        if not self.yearly:
            return self.first <= day <= self.last
        start, end, today = (self.first.month, self.first.day), (self.last.month, self.last.day), (day.month, day.day)
        return start <= today <= end if start <= end else today >= start or today <= end

    def __str__(self) -> str:
        words = f"{_day_month(self.first)} to {_day_month(self.last)}"
        return (
            f"{words}, every year"
            if self.yearly
            else f"{_day_month(self.first)} {self.first.year} to {_day_month(self.last)} {self.last.year}"
        )

    def text(self) -> str:
        """As it is written in settings and stored: 12-24..01-01, or 2027-04-01..2027-04-05."""
        shape = "%m-%d" if self.yearly else "%Y-%m-%d"
        return f"{self.first.strftime(shape)}..{self.last.strftime(shape)}"


def _day_month(day: dt.date) -> str:
    return f"{day.day} {day.strftime('%B')}"


_YEARLY = re.compile(r"^(\d{2})-(\d{2})$")
CLOSURE_HELP = "write it as 12-24..01-01 (month-day, every year) or 2027-04-01..2027-04-05 (once)"


def parse_closure(text: str) -> Closure:
    """One closure period from its written form; a clear ValueError when it cannot be read."""
    first_text, dots, last_text = text.strip().partition("..")
    try:
        if not dots:
            raise ValueError
        if _YEARLY.match(first_text.strip()) and _YEARLY.match(last_text.strip()):
            # 2000 is a leap year, so 29 February can be written.
            first, last = (dt.date.fromisoformat(f"2000-{part.strip()}") for part in (first_text, last_text))
            return Closure(first, last, yearly=True)
        first, last = dt.date.fromisoformat(first_text.strip()), dt.date.fromisoformat(last_text.strip())
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a closure period: {CLOSURE_HELP}") from None
    if last < first:
        raise ValueError(f"{text.strip()!r} ends before it starts: {CLOSURE_HELP}")
    return Closure(first, last, yearly=False)


def parse_closures(text: str) -> tuple[Closure, ...]:
    """Closure periods separated by commas or new lines (an empty text means none)."""
    return tuple(parse_closure(part) for part in re.split(r"[,\n]+", text) if part.strip())


DEFAULT_CLOSURES: tuple[Closure, ...] = (parse_closure("12-24..01-01"),)


def closed_by(day: dt.date, closures: Iterable[Closure]) -> Closure | None:
    return next((c for c in closures if day in c), None)


def date_problem(day: dt.date, nations: Iterable[Nation], closures: Iterable[Closure]) -> str | None:
    """Why nobody should be asked to meet on this day, in plain words, or None when it is fine."""
    closure = closed_by(day, closures)
    if closure is not None:
        return f"the programme is closed then ({closure})"
    for nation in sorted(set(nations)):
        name = bank_holiday(day, nation)
        if name:
            return f"it is a bank holiday in {NATION_WORDS[nation]} ({name})"
    return None


def session_warnings(
    sessions: Iterable[Session], closures: Iterable[Closure], nations: Iterable[Nation] = ("england_and_wales",)
) -> list[str]:
    """A plain sentence for each required session on a bank holiday or while the programme is closed."""
    closures, nations = tuple(closures), tuple(nations)
    warnings = []
    for session in sessions:
        problem = date_problem(session.date, nations, closures)
        if problem:
            warnings.append(
                f"The required session on {session.date.strftime('%A')} {session.date.day} "
                f"{session.date.strftime('%B %Y')} falls on a day people may not be able to come: {problem}. "
                "Check the date before the pairs are published."
            )
    return warnings


# Postcode areas in Scotland (TD15, Berwick-upon-Tweed, is in England) and Northern Ireland.
_SCOTTISH_AREAS = frozenset(["AB", "DD", "DG", "EH", "FK", "G", "HS", "IV", "KA", "KW", "KY", "ML", "PA", "PH", "TD", "ZE"])
_POSTCODE = re.compile(r"\b([A-Z]{1,2})(\d{1,2})[A-Z]?\s*\d[A-Z]{2}\b")


def nation_of(postal_address: str | None = None, system: str | None = None, location: Location | None = None) -> Nation:
    """Where in the UK a person is, from what their record gives: the postcode of their address,
    an area code of Scotland (S...) or Northern Ireland (N...) from the Office for National Statistics,
    or roughly where they are. England and Wales when nothing says otherwise."""
    postcodes = _POSTCODE.findall((postal_address or "").upper())
    if postcodes:
        area, district = postcodes[-1]
        if area == "BT":
            return "northern_ireland"
        if area in _SCOTTISH_AREAS and (area, district) != ("TD", "15"):
            return "scotland"
        return "england_and_wales"
    code = (system or "").strip().upper()
    if re.fullmatch(r"S\d{8}", code):
        return "scotland"
    if re.fullmatch(r"N\d{8}", code):
        return "northern_ireland"
    return _nation_at(location) if location else "england_and_wales"


def _nation_at(where: Location) -> Nation:
    """Roughly: Northern Ireland is west of the North Channel; Scotland is north of a line from the
    Solway Firth to Berwick-upon-Tweed. Good enough for bank holidays, never used for anything else."""
    if -8.2 < where.lon < -5.45 and 54.0 < where.lat < 55.31:
        return "northern_ireland"
    if where.lat > 55.82:
        return "scotland"
    if where.lon < -3.07:  # west of the border's end: the Scottish shore of the Solway Firth
        return "scotland" if where.lat > (54.95 if where.lon > -3.7 else 54.6) else "england_and_wales"
    border = 54.98 + (where.lon + 3.07) * (55.8 - 54.98) / (3.07 - 2.03)
    return "scotland" if where.lon < -2.03 and where.lat > border else "england_and_wales"


@dataclass(frozen=True)
class MeetingNeeds:
    """What one person's record says about when they can first meet."""

    notice_days: int = 0
    cannot_meet_on: frozenset[dt.date] = frozenset()
    term_time_only: bool = False
    needs_interpreter: bool = False
    nation: Nation = "england_and_wales"  # whose bank holidays they have

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
    closures: Sequence[Closure] = DEFAULT_CLOSURES  # when the programme is closed


def answer_date(earliest: dt.date, nations: Iterable[Nation], closures: Iterable[Closure]) -> dt.date:
    """The date people are asked to answer by: the first weekday from `earliest` that is no bank
    holiday where any of them lives and not while the programme is closed, so the team is there
    to take a phone call or a reply slip that day."""
    nations, closures = tuple(nations), tuple(closures)
    day = earliest
    while day.weekday() >= 5 or date_problem(day, nations, closures):
        day += dt.timedelta(days=1)
    return day


def earliest_first_meeting(published_on: dt.date, respond_by: dt.date | None, notice_days: int) -> dt.date:
    """Give people notice, and never suggest meeting before they have had the chance to answer."""
    earliest = published_on + dt.timedelta(days=notice_days)
    if respond_by is not None:
        earliest = max(earliest, respond_by + dt.timedelta(days=1))
    return earliest


def in_holidays(day: dt.date, holidays: Iterable[DateRange]) -> bool:
    return any(h.from_ <= day <= h.to for h in holidays)


def _suits_both(day: dt.date, both: Sequence[MeetingNeeds], rules: MeetingRules) -> bool:
    if any(day in n.cannot_meet_on for n in both):
        return False
    if date_problem(day, (n.nation for n in both), rules.closures):
        return False
    return not (any(n.term_time_only for n in both) and in_holidays(day, rules.school_holidays))


def plan_first_meetings(
    pairs: Sequence[PairToMeet],
    needs: dict[str, MeetingNeeds],
    published_on: dt.date,
    respond_by: dt.date | None,
    rules: MeetingRules,
) -> list[Slot | None]:
    """For each pair, the earliest slot inside a weekly window they share that suits both.

    Both people get the notice the longer of them needs, none of the dates either
    cannot do, no bank holiday where either lives, no day the programme is closed,
    no school holiday when either takes part in term time only, and nobody is
    asked to be in two places at once: a professional's slots never overlap.
    """
    not_before = earliest_first_meeting(published_on, respond_by, rules.notice_days)
    length = dt.timedelta(minutes=rules.minutes)
    taken: dict[str, list[tuple[dt.datetime, dt.datetime]]] = {}
    chosen: list[Slot | None] = []
    for pair in pairs:
        both = [needs.get(pair.first, MeetingNeeds()), needs.get(pair.second, MeetingNeeds())]
        start_from = max(not_before, published_on + dt.timedelta(days=max(n.days_of_notice for n in both)))
        busy = taken.get(pair.first, []) + taken.get(pair.second, [])
        best = None
        for week in range(rules.weeks):
            for window in pair.shared_windows:
                day = start_from + dt.timedelta(days=(DAYS.index(window.day) - start_from.weekday()) % 7 + 7 * week)
                if not _suits_both(day, both, rules):
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
