"""What a manager reads when reviewing and following a round: the round's default name, the
matcher's reasons rewritten for the manager, and spreadsheet cells that cannot run as formulas.
Pure functions: no I/O."""

from __future__ import annotations

import datetime as dt
import re

from schemas.cohort import KM_PER_MILE

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

# The matcher writes to the leaders ("You both care about ..."); a manager reads about the pair.
_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), words)
    for pattern, words in (
        (r"^You both ", "Both "),
        (r"^You are both ", "Both are "),
        (r"^You can both ", "Both can "),
        (r"^You can meet ", "They can meet "),
        (r"^You do not share ", "They do not share "),
        (r"^You do not yet have ", "They do not yet have "),
        (r"^You come from ", "They come from "),
        (r"^One of you is ", "One of them is "),
        (r"^We paired you first because one of you missed out ", "Paired first: one of them missed out "),
        (r"^We paired you first because both of you missed out ", "Paired first: both of them missed out "),
        (r"\byou each\b", "they each"),
        (r"\bsuits you both\b", "suits them both"),
        (r"\bwill help you\b", "will help them"),
    )
)


def say_miles(km: float) -> str:
    """ "about 12 miles", "about 1 mile", "less than 1 mile" (the matcher's reasons say it the same way)."""
    miles = round(km / KM_PER_MILE)
    if miles < 1:
        return "less than 1 mile"
    return "about 1 mile" if miles == 1 else f"about {miles} miles"


# A spreadsheet program treats a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def default_round_name(
    launch_date: dt.date, programme: str | None = None, cohort: str | None = None, area: str | None = None, chosen: bool = False
) -> str:
    """ "Tyneside 2027 cohort, January 2027", "Area QHM, January 2027", "Chosen leaders, January 2027"
    (a list of people from several areas) or "Everyone, January 2027"."""
    month = f"{MONTHS[launch_date.month - 1]} {launch_date.year}"
    if cohort:
        who = cohort if not programme or programme.lower() in cohort.lower() else f"{programme} {cohort}"
    elif area:
        who = f"Area {area}"
    elif chosen:
        who = "Chosen leaders"
    else:
        who = "Everyone"
    return f"{who}, {month}"


def for_manager(reason: str) -> str:
    """A reason the matcher wrote to a leader, written about the pair for the manager."""
    for pattern, words in _REWRITES:
        reason = pattern.sub(words, reason)
    return reason


def safe_cell(value: object) -> object:
    """A cell value a spreadsheet will show as text, never run: text starting like a formula gets an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
