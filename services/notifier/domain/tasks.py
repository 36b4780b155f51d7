"""Tasks for a person: what to do for each format, and by when.

A message in braille or audio, a phone call, or one an interpreter shares, takes time to
make and deliver; its deadline is the date the person must answer by, less the working days
that format takes. Pure: no I/O and no clock (today comes in).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import holidays

# Working days each format takes, by default (settings can change each).
DEFAULT_TASK_DAYS = {
    "braille": 10,
    "audio": 5,
    "phone": 2,
    "interpreter": 5,
    "support": 5,
    "contact": 2,
    "no_answer": 2,
    "not_yet": 2,
    "need_help": 1,
}

# What the person doing the task does, in a sentence after "Please".
TASK_ACTIONS = {
    "braille": "have the message below put into braille, and post it to {name}",
    "audio": "have the message below recorded as audio, and send the recording to {name}",
    "phone": "phone {name} and read them the message below",
    "interpreter": (
        "book the communication professional {name} needs (recorded on their page) and share the message below with them"
    ),
    "support": "share the message below with {name}, with the communication support they need (recorded on their page)",
    "contact": "get the message below to {name} in the way they need",
    "no_answer": "contact {name} about the answer we are waiting for, as the message below says",
    "not_yet": "contact {name} about meeting their partner, as the message below says",
    "need_help": "contact {name} soon about the help they asked for, as the message below says",
}
TASK_TITLES = {
    "braille": "Braille message",
    "audio": "Audio message",
    "phone": "Phone call",
    "interpreter": "Message to share with a communication professional",
    "support": "Message to share with communication support",
    "contact": "Message to pass on",
    "no_answer": "No answer yet",
    "not_yet": "Not met yet",
    "need_help": "Asked for help",
}


@lru_cache(maxsize=16)
def _bank_holidays(year: int) -> frozenset[dt.date]:
    # England and Wales: where the programme team works. Computed offline by the holidays package.
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def add_working_days(day: dt.date, count: int) -> dt.date:
    """`count` working days after `day` (before it when negative)."""
    step = 1 if count >= 0 else -1
    left = abs(count)
    while left:
        day += dt.timedelta(days=step)
        if is_working_day(day):
            left -= 1
    return day


@dataclass(frozen=True)
class Deadline:
    date: dt.date
    late: bool  # True when there are fewer working days left than the format takes


def task_deadline(answer_by: dt.date | None, today: dt.date, working_days: int) -> Deadline:
    """When the task must be done: the answer date less the time the format takes, never before
    today; with no answer date, the format's time from today."""
    if answer_by is None:
        return Deadline(add_working_days(today, working_days), late=False)
    due = add_working_days(answer_by, -working_days)
    if due < today:
        return Deadline(today, late=True)
    return Deadline(due, late=False)
