"""Plain words for dates, times, the programme's contact details and why someone was not paired.

Pure: no I/O, no clock. compose.py puts these into the templates.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

from schemas.cohort import Session
from schemas.events import ProgrammeContact


def full_date(day: dt.date) -> str:
    """Tuesday 12 January 2027: the day of the week too, as people say a date."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def short_date(day: dt.date) -> str:
    """Tue 12 Jan: for text messages, where every character counts."""
    return f"{day:%a} {day.day} {day:%b}"


def clock_time(moment: dt.time) -> str:
    """10:00 or 14:30, for standard messages."""
    return f"{moment:%H:%M}"


def said_time(moment: dt.time) -> str:
    """A time as people say it: "10 in the morning", "half past 2 in the afternoon", "12 noon"."""
    hour, minute = moment.hour, moment.minute
    if (hour, minute) == (12, 0):
        return "12 noon"
    if (hour, minute) == (0, 0):
        return "12 midnight"
    shown = hour % 12 or 12
    if hour < 12:
        part = "in the morning"
    elif hour < 18:
        part = "in the afternoon"
    else:
        part = "in the evening"
    if minute == 0:
        clock = f"{shown}"
    elif minute == 15:
        clock = f"quarter past {shown}"
    elif minute == 30:
        clock = f"half past {shown}"
    elif minute == 45:
        clock = f"quarter to {(shown % 12) + 1}"
    else:
        clock = f"{minute} minutes past {shown}"
    return f"{clock} {part}"


def said_span(start: dt.time, end: dt.time) -> str:
    """10 to 11 in the morning; 10 in the morning to half past 2 in the afternoon."""
    first, last = said_time(start), said_time(end)
    for part in (" in the morning", " in the afternoon", " in the evening"):
        if first.endswith(part) and last.endswith(part):
            return f"{first.removesuffix(part)} to {last}"
    return f"{first} to {last}"


@dataclass(frozen=True)
class Contact:
    """The programme's contact details, ready to put into sentences."""

    team: str  # "the patient leader programme team"
    person: str  # "Priya Shah", or "" when no one is named
    phone: str
    email: str
    postal_lines: tuple[str, ...]

    @property
    def who(self) -> str:
        """Whom to contact: "Priya Shah in the patient leader programme team", or the team."""
        return f"{self.person} in {self.team}" if self.person else self.team

    @property
    def name(self) -> str:
        """Just the name to ask for: the person, or the team."""
        return self.person or self.team

    @property
    def postal(self) -> str:
        return ", ".join(self.postal_lines)


def _line(text: str | None) -> str:
    """On one line: each run of white space one space (as messages.one_line)."""
    return " ".join(text.split()) if text else ""


def contact_words(programme: ProgrammeContact) -> Contact:
    raw = (programme.postal_address or "").replace("\n", ",")
    lines = tuple(part.strip() for part in raw.split(",") if part.strip())
    return Contact(
        team=_line(programme.team),
        person=_line(programme.person),
        phone=_line(programme.phone),
        email=_line(programme.email),
        postal_lines=lines,
    )


def session_words(session: Session, easy: bool = False) -> dict[str, str]:
    """One required session: when, and where (or how to join)."""
    when = said_span(session.start, session.end) if easy else f"{clock_time(session.start)} to {clock_time(session.end)}"
    return {
        "date": full_date(session.date),
        "time": when,
        "place": _line(session.place),
        "short": f"{session.date:%a} {session.date.day} {session.date:%b} {clock_time(session.start)}",
    }


# ---- why someone was not paired --------------------------------------------------
#
# The matcher words each reason (services/matcher/domain/explain.py); the outcome carries
# only those words. Each is recognised here by the phrase that makes it what it is, so the
# message can say what to do next and, in easy read, say the reason in easy words. The
# unit test runs every reason the matcher can give through reason_kind.

REASON_KINDS: tuple[tuple[str, str], ...] = (
    ("release", r"^Your manager has not yet confirmed"),
    ("capacity", r"^You told us you cannot take on a partner"),
    ("sessions", r"^You cannot attend every required session"),
    ("infeasible", r"could not be planned as it was set up"),
    ("no_candidates", r"^There were no "),
    ("others_release", r"have not yet had their time for this programme confirmed"),
    ("others_capacity", r"^Many professionals cannot take on a partner"),
    ("others_sessions", r"cannot attend every required session"),
    ("system", r"different local health and care area"),
    ("do_not_pair", r"asked not to be paired"),
    ("meeting_mode", r"cannot meet in a way that suits you"),
    ("availability", r"are free at the same times as you"),
    ("capacity_taken", r"already been paired with someone else|already has as many partners"),
    ("outnumbered", r"^There were more "),
)

EASY_REASONS = {
    "release": "Your manager has not said you can have time for this yet.",
    "capacity": "You told us you cannot have a partner this time.",
    "sessions": "You cannot come to all the group meetings.",
    "infeasible": "We could not make the pairs yet.",
    "no_candidates": "There was nobody near you to be your partner this time.",
    "others_release": "Not enough health workers could get time for this.",
    "others_capacity": "Not enough health workers could take a partner this time.",
    "others_sessions": "Most people who could be your partner cannot come to all the group meetings.",
    "system": "Most people who could be your partner live in a different area.",
    "do_not_pair": "Some people could not be your partner. You asked not to work with them, or you worked together before.",
    "meeting_mode": "Most people cannot meet in the way you can meet.",
    "availability": "Nobody was free at the same times as you.",
    "capacity_taken": "Everyone who could be your partner already has a partner.",
    "outnumbered": "There were more people than partners this time.",
    "other": "We could not find a partner for you this time.",
}


def reason_kind(reason: str | None) -> str:
    """Which of the matcher's reasons this is; "other" for words it does not recognise."""
    for kind, pattern in REASON_KINDS:
        if reason and re.search(pattern, reason):
            return kind
    return "other"


def plain_reason(reason: str | None) -> str:
    """The matcher's reason, without the programme team's own word for a pairing ("round")."""
    text = _line(reason)
    text = re.sub(r"\b(?:in )?this round\b", "this time", text)
    text = re.sub(r"\bafter the round opened\b", "after we started making pairs", text)
    text = re.sub(r"\bThe round\b", "This pairing", text)
    return re.sub(r"\bthe round\b", "this pairing", text)


# The matcher's reasons for a pair (explain.py pair_reasons), in easy words. Topics stay as they are.
EASY_PAIR_REASONS: tuple[tuple[str, str], ...] = (
    (r"^This pair was agreed in advance", "We planned this pair before."),
    (r"^You are both free on ", "You are both free at the same times."),
    (r"^You do not share a free time", "You are not free at the same times yet. We will help you find a time."),
    (r"^You can meet ", "You can meet in a way that suits you both."),
    (r"^You do not yet have a way of meeting", "We will help you find a way to meet."),
    (r"^You can both attend every required session", "You can both come to the group meetings."),
    (r"^One of you is new", "One of you has done this before. The other is new to it."),
    (r"^You come from different organisations", "You work in different places. You can learn from each other."),
)


@lru_cache(maxsize=4096)
def easy_pair_reason(reason: str) -> str:
    """A reason for a pair in easy words; one we do not recognise stays as the matcher wrote it."""
    text = _line(reason)
    for pattern, easy in EASY_PAIR_REASONS:
        if re.search(pattern, text):
            return easy
    return text


# Someone who must do something before the next pairing is asked to do it this many days before.
DAYS_BEFORE_NEXT_PAIRING = 7


def act_by(next_round_on: dt.date | None) -> dt.date | None:
    """When someone not paired should act by: a week before the next pairing, when that is known."""
    return next_round_on - dt.timedelta(days=DAYS_BEFORE_NEXT_PAIRING) if next_round_on else None
