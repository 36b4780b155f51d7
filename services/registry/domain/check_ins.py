"""Answers to "Did you meet?" and to check-ins: which answers each question takes, in words a person
reads, and whether a pair can still be asked. Pure: no input or output.

A pair is asked while its round is published and it stands: not ended, and nobody in it said no.
The words a person adds are for the programme team only (sealed, like a reason for saying no).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

Question = Literal["met", "check_in"]
QUESTIONS: tuple[Question, ...] = ("met", "check_in")

# Each question's answers, in the order a page offers them, as the person reads them.
ANSWERS: dict[str, dict[str, str]] = {
    "met": {"met": "Yes, we have met", "not_yet": "Not yet", "need_help": "We need help"},
    "check_in": {"going_well": "It is going well", "some_problems": "There are some problems", "need_help": "We need help"},
}
# As the team reads them on the follow-up page.
TEAM_WORDS = {
    "met": "Met",
    "not_yet": "Not met yet",
    "need_help": "Asked for help",
    "going_well": "Going well",
    "some_problems": "Some problems",
}
MAX_WORDS = 2000
# The furthest ahead a date set to meet may be.
MEETING_HORIZON = dt.timedelta(days=365)


class CannotAnswer(Exception):
    """Why this answer cannot be taken, in words a person can act on."""


@dataclass(frozen=True)
class PairNow:
    """What the rules need to know about the pair, now."""

    round_status: str
    is_a_pair: bool
    ended: bool
    said_no: bool


def check_can_answer(pair: PairNow) -> None:
    if not pair.is_a_pair:
        raise CannotAnswer("These two people are not a pair in this round.")
    if pair.round_status != "published":
        raise CannotAnswer("This round is no longer taking answers. Please contact the programme team.")
    if pair.ended:
        raise CannotAnswer("This pair has ended, so we are not asking about it any more. Thank you.")
    if pair.said_no:
        raise CannotAnswer("This pair is not going ahead, so we are not asking about it. Thank you.")


def check_answer(question: str, number: int, answer: str, words: str | None) -> None:
    """The answer must be one the question offers; a check-in has a number, the meeting question none."""
    if question not in ANSWERS:
        raise CannotAnswer("question: choose met or check_in")
    if answer not in ANSWERS[question]:
        offered = ", ".join(ANSWERS[question])
        raise CannotAnswer(f"answer: choose one of the answers offered ({offered})")
    if (question == "check_in") != (number > 0):
        raise CannotAnswer("number: a check-in is numbered from 1; the question about meeting has no number")
    if words is not None and len(words) > MAX_WORDS:
        raise CannotAnswer(f"words: keep what you write to {MAX_WORDS:,} characters or fewer")


def check_meeting_date(answer: str, meeting_on: dt.date | None, today: dt.date) -> None:
    """A date set to meet goes only with "not yet", and is today or later, within a year."""
    if meeting_on is None:
        return
    if answer != "not_yet":
        raise CannotAnswer('meeting_on: give a date to meet only with the answer "Not yet"')
    if not today <= meeting_on <= today + MEETING_HORIZON:
        raise CannotAnswer("meeting_on: enter a date from today to a year from now")
