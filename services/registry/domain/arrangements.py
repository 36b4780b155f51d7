"""Arrangements to book for a pair's first meeting, each with the date it must be booked by.

The notice each one needs is a named constant with the reason for it, so the programme team
can see (and change) why a date is what it is. The date to book by is the suggested first
meeting less that notice, moved back to a weekday, when the team is there to book it; before
the round is published there is no meeting yet, so the notice itself is given. Access needs are
special-category data: only a role that may see them is ever shown these (see round_tables.py).
Pure functions: no I/O and no clock (today is given).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from services.registry.domain.meetings import INTERPRETER_NOTICE_DAYS
from services.registry.domain.review import MONTHS

# A British Sign Language interpreter is booked four weeks ahead: there are few, and most are
# booked up weeks in advance (the matcher's rules use the same four weeks).
BSL_INTERPRETER_NOTICE_DAYS = INTERPRETER_NOTICE_DAYS
# Easy-read papers are written and checked by people who do it, often outside the team: three weeks.
EASY_READ_NOTICE_DAYS = 21
# A room with step-free access: fewer rooms have it and they are booked first; two weeks also leaves
# time to check the way in, the lift and an accessible toilet.
STEP_FREE_ROOM_NOTICE_DAYS = 14
# A hearing loop: a portable loop is borrowed and tested in the room before the day: two weeks.
HEARING_LOOP_NOTICE_DAYS = 14
# A support worker comes too: their time is agreed with them or their employer, and their costs approved.
SUPPORT_WORKER_NOTICE_DAYS = 14
# A quiet room nearby for a break: one week is usually enough to book a second room.
QUIET_ROOM_NOTICE_DAYS = 7
# Large-print papers are printed and posted in time to read before the meeting: one week.
LARGE_PRINT_NOTICE_DAYS = 7

# Need (as the leader's record codes it) -> what to book, and the notice it needs.
TO_BOOK: dict[str, tuple[str, int]] = {
    "bsl_interpreter": ("British Sign Language interpreter", BSL_INTERPRETER_NOTICE_DAYS),
    "easy_read_papers": ("Easy-read papers", EASY_READ_NOTICE_DAYS),
    "step_free_access": ("A room with step-free access", STEP_FREE_ROOM_NOTICE_DAYS),
    "hearing_loop": ("A hearing loop", HEARING_LOOP_NOTICE_DAYS),
    "support_worker": ("A place and costs for their support worker", SUPPORT_WORKER_NOTICE_DAYS),
    "quiet_room": ("A quiet room", QUIET_ROOM_NOTICE_DAYS),
    "large_print_papers": ("Large-print papers", LARGE_PRINT_NOTICE_DAYS),
}
# Needs with nothing to book ahead: planned into the meeting itself.
TO_PLAN = {"regular_breaks": "Regular breaks: plan them into the meeting"}


@dataclass(frozen=True)
class Arrangement:
    what: str
    notice_days: int
    book_by: dt.date | None  # None: no meeting planned yet


def booking_date(meeting: dt.date, notice_days: int) -> dt.date:
    """The meeting less the notice, moved back from a weekend to the Friday before."""
    day = meeting - dt.timedelta(days=notice_days)
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day


def to_book(needs: Iterable[str], meeting: dt.date | None) -> list[Arrangement]:
    """What the pair's needs ask to be booked, the soonest to book first."""
    found = []
    for need in set(needs):
        if need in TO_BOOK:
            what, notice = TO_BOOK[need]
            found.append(Arrangement(what, notice, booking_date(meeting, notice) if meeting else None))
    return sorted(found, key=lambda a: (-a.notice_days, a.what))


def say_notice(days: int) -> str:
    if days % 7 == 0:
        weeks = days // 7
        return f"{weeks} week{'s' if weeks != 1 else ''}"
    return f"{days} day{'s' if days != 1 else ''}"


def notice_of(days: int) -> str:
    """ "4 weeks' notice", "1 week's notice"."""
    words = say_notice(days)
    return f"{words}'s notice" if words.startswith("1 ") else f"{words}' notice"


def say_day(day: dt.date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def say_arrangement(item: Arrangement, today: dt.date) -> str:
    """ "British Sign Language interpreter: book by 5 January 2027"; before publishing, "... : book 4 weeks
    before the first meeting"; when that date has gone, "... : book now (4 weeks' notice is usual)"."""
    if item.book_by is None:
        return f"{item.what}: book {say_notice(item.notice_days)} before the first meeting"
    if item.book_by < today:
        return f"{item.what}: book now ({notice_of(item.notice_days)} is usual, so it was due {say_day(item.book_by)})"
    return f"{item.what}: book by {say_day(item.book_by)}"


def arrangements_words(needs: Iterable[str], meeting: dt.date | None, today: dt.date) -> list[str]:
    """Each arrangement in words, the soonest to book first, then what is planned into the meeting."""
    needs = set(needs)
    return [say_arrangement(a, today) for a in to_book(needs, meeting)] + [
        words for need, words in sorted(TO_PLAN.items()) if need in needs
    ]
