"""Plain-English reasons: why a pair fits, and why someone was not paired.

Written to the person themselves ("you"), with no acronyms or jargon: an integrated
care system is "your local health and care area". Each unmatched person gets one
reason and a rule code for reports. The reason names the rule that removed most of
their candidates (rules.py counts each removed candidate against the first rule it
fails); people who still had candidates were left out because every suitable partner
was taken, or because their side outnumbered the other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

from schemas.cohort import KM_PER_MILE, PAIRED_FIRST_REASON, Cohort, MatchingProfile, RoundSpec, UnmatchedResult, Window
from services.matcher.domain.rules import PAIR_RULES, PERSON_RULES, Candidates, session_problem
from services.matcher.domain.scoring import topic_key

_DAY_NAMES = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}
_MONTHS = (
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
_MODE_WORDS = {"video": "by video", "phone": "by phone", "in_person": "in person"}
_SHOWN_WINDOWS = 3


def join_words(words: Sequence[str], last: str = "and") -> str:
    words = list(words)
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {last} {words[-1]}"


def say_date(date: dt.date) -> str:
    return f"{date.day} {_MONTHS[date.month - 1]} {date.year}"


def say_hours(hours: float) -> str:
    whole, minutes = divmod(round(hours * 60), 60)
    parts = ([f"{whole} hour" + ("s" if whole != 1 else "")] if whole else []) + ([f"{minutes} minutes"] if minutes else [])
    return " ".join(parts) or "0 minutes"


def day_name(day: str) -> str:
    return _DAY_NAMES[day]


def say_distance(km: float) -> str:
    """A distance in miles, as people in England think of one: "about 9 miles", "less than 1 mile"."""
    miles = round(km / KM_PER_MILE)
    if miles < 1:
        return "less than 1 mile"
    return "about 1 mile" if miles == 1 else f"about {miles} miles"


def say_window(w: Window) -> str:
    # The same as formatting with %H:%M, without strftime: a national round says some 10,000 windows.
    start, end = w.start, w.end
    return f"{_DAY_NAMES[w.day]} {start.hour:02d}:{start.minute:02d} to {end.hour:02d}:{end.minute:02d}"


# ---- pairs ----------------------------------------------------------------------


def pair_reasons(
    round_: RoundSpec,
    lived: MatchingProfile,
    prof: MatchingProfile,
    modes: Sequence[str],
    windows: Sequence[Window],
    km: float | None,
    locked: bool,
    both_attend: bool,
) -> list[str]:
    reasons = ["This pair was agreed in advance."] if locked else paired_first(lived, prof)
    shared = sorted({topic_key(t) for t in lived.topics} & {topic_key(t) for t in prof.topics})
    if shared:
        reasons.append(f"You both care about {join_words(shared)}.")
    if windows:
        shown = [say_window(w) for w in windows[:_SHOWN_WINDOWS]]
        more = ", and at other times" if len(windows) > _SHOWN_WINDOWS else ""
        reasons.append(f"You are both free on {join_words(shown)}{more}.")
    else:
        reasons.append("You do not share a free time each week yet; the programme team will help you find one.")
    if modes:
        # Video and phone first: they need no travel.
        ordered = [_MODE_WORDS[m] for m in ("video", "phone", "in_person") if m in modes]
        distance = f" ({say_distance(km)} apart)" if km is not None else ""
        reasons.append(f"You can meet {join_words(ordered, 'or')}{distance}.")
    else:
        reasons.append("You do not yet have a way of meeting that suits you both; the programme team will help.")
    if round_.sessions and both_attend:
        reasons.append("You can both attend every required session.")
    if (lived.experience == "new") != (prof.experience == "new"):
        reasons.append("One of you is new to this kind of work and the other has done it before.")
    if lived.organisation and prof.organisation and lived.organisation != prof.organisation:
        reasons.append("You come from different organisations, so you each bring a fresh view.")
    return reasons


def paired_first(lived: MatchingProfile, prof: MatchingProfile) -> list[str]:
    """Why the pair came first, when one of them or both were left out before; it does not say which one."""
    who = {1: "one of you", 2: "both of you"}.get(int(lived.left_out_before) + int(prof.left_out_before))
    if who is None:
        return []
    return [PAIRED_FIRST_REASON.format(who=who)]


# ---- unmatched ------------------------------------------------------------------


def _session_text(person: MatchingProfile, round_: RoundSpec) -> str:
    problem = session_problem(person, round_)
    assert problem is not None
    when = say_date(problem.date)
    days = (problem.date - round_.launch_date).days
    if problem.cause == "unavailable_date":
        why = f"{when} is on a date you told us you cannot do"
    elif problem.cause == "school_holiday":
        why = f"{when} is in the school holidays, and you take part in term time only"
    elif problem.cause == "notice":
        why = f"{when} is only {days} days after the round opened, and you need {person.min_notice_days} days' notice"
    else:
        why = (
            "a British Sign Language interpreter has to be booked at least 4 weeks ahead, and the first session, "
            f"on {when}, is only {days} days after the round opened"
        )
    return f"You cannot attend every required session: {why}."


def _ways_to_meet(person: MatchingProfile) -> str:
    ways = [_MODE_WORDS[m] for m in ("video", "phone", "in_person") if m in person.meeting_modes]
    text = f"you said you can meet {join_words(ways, 'or')}"
    if "in_person" in person.meeting_modes:
        if person.location is None or person.max_travel_km is None:
            text += (
                ", but we do not know roughly where you are and how far you can travel, so we could not plan meeting in person"
            )
        else:
            text += f", travelling up to {say_distance(person.max_travel_km)}"
    return text


# Reasons about the others that read the same for everyone
_FEW_FREE = {
    "release": "Many professionals have not yet had their time for this programme confirmed by their manager.",
    "capacity": "Many professionals cannot take on a partner this round.",
}


def _own_reason(rule: str, person: MatchingProfile, round_: RoundSpec) -> str:
    if rule == "release":
        return (
            "Your manager has not yet confirmed that you can have time for this programme, so we could not pair you this round."
        )
    if rule == "capacity":
        return "You told us you cannot take on a partner this round."
    return _session_text(person, round_)


def _other_area(person: MatchingProfile, others: str) -> str:
    if any(m in person.meeting_modes for m in ("video", "phone")):
        return f"Many {others} are in a different local health and care area, and you cannot meet them by video or phone."
    return f"You can only meet in person, and many {others} are in a different local health and care area."


def _all_taken(rule: str, professional: bool) -> str:
    """Suitable partners there were, but others took them (capacity_taken), or there were too few (outnumbered)."""
    if rule == "capacity_taken":
        if professional:
            return "Every suitable patient or carer leader has already been paired with someone else."
        return "Every suitable professional already has as many partners as they can take."
    if professional:  # outnumbered
        return (
            "There were more places with professionals than patient and carer leaders to fill them, "
            "so not every professional could be paired this time."
        )
    return "There were more patient and carer leaders than places with professionals, so not everyone could be paired this time."


def _reason(rule: str, person: MatchingProfile, round_: RoundSpec, own: bool) -> str:
    if own:
        return _own_reason(rule, person, round_)
    if rule in _FEW_FREE:
        return _FEW_FREE[rule]
    others = "patient and carer leaders" if person.is_professional else "professionals"
    area = "" if round_.allow_cross_system_remote else " in your local health and care area"
    if rule == "no_candidates":
        return f"There were no {others}{area} in this round."
    if rule == "sessions":
        return f"Many of the {others}{area} cannot attend every required session."
    if rule == "system":
        return _other_area(person, others)
    if rule == "do_not_pair":
        return (
            f"Many of the {others} who could have been your partner were ruled out because one of you asked "
            "not to be paired with the other, or because you were paired before."
        )
    if rule == "meeting_mode":
        return f"Most of the {others}{area} cannot meet in a way that suits you: {_ways_to_meet(person)}."
    if rule == "availability":
        return (
            f"None of the {others}{area} who could meet you are free at the same times as you "
            f"for at least {say_hours(round_.min_shared_hours_per_week)} each week."
        )
    return _all_taken(rule, person.is_professional)


def unmatched(
    cohort: Cohort,
    cands: Candidates,
    lived_unpaired: np.ndarray,
    prof_unpaired: np.ndarray,
    part_l: np.ndarray,
    part_p: np.ndarray,
    spare: np.ndarray,
) -> list[UnmatchedResult]:
    """One reason for each person with no pair, lived-experience leaders first, by id.

    part_l / part_p: each person's connected part of the free pairs (-1: none), and
    spare: places left per professional after locked pairs.
    """
    n_parts = int(max(part_l.max(initial=-1), part_p.max(initial=-1))) + 1
    lived_in_part = np.bincount(part_l[part_l >= 0], minlength=n_parts)
    places_in_part = np.bincount(part_p[part_p >= 0], weights=spare[part_p >= 0], minlength=n_parts)
    out = []
    for side, unpaired, removed, allowed, part in (
        (
            cands.lived,
            lived_unpaired,
            cands.removed_lived,
            cands.allowed_lived,
            part_l,
        ),
        (
            cands.professionals,
            prof_unpaired,
            cands.removed_professionals,
            cands.allowed_professionals,
            part_p,
        ),
    ):
        for i in np.flatnonzero(unpaired):
            person = side.people[i]
            blocked = side.blocked[i]
            if blocked is not None:
                rule, own = blocked, True
            elif allowed[i]:
                # Still had candidates: with an optimal pairing, they were all taken.
                k = part[i]
                short = k >= 0 and (
                    places_in_part[k] > lived_in_part[k] if person.is_professional else lived_in_part[k] > places_in_part[k]
                )
                rule, own = ("outnumbered" if short else "capacity_taken"), False
            else:
                counts = {r: int(removed[r][i]) for r in PERSON_RULES + PAIR_RULES}
                top = max(counts, key=lambda r: counts[r])  # first rule wins a tie
                rule, own = (top if counts[top] else "no_candidates"), False
            code = "capacity" if rule == "capacity_taken" else rule
            out.append(UnmatchedResult(id=person.id, reason=_reason(rule, person, cohort.round, own), rule=code))
    return out


# ---- a round that cannot be solved as set up (for the programme team) -------------

UNPROVEN_RELAXATION = (
    "These changes are the smallest found within the round's time limit; with a longer time limit "
    "smaller changes might be found to be enough."
)


def unlock(person_id: str, capacity: int, locked: Sequence[str], professional: bool) -> str:
    """Locked pairs that ask more of one person than they can take: what to unlock."""
    extra = len(locked) - capacity
    if extra == len(locked):
        which = "the locked pair" if extra == 1 else "all of these locked pairs:"
    else:
        which = f"{'one' if extra == 1 else extra} of these locked pairs:"
    can = "cannot take a partner" if capacity == 0 else f"can take {capacity} partner{'s' if capacity != 1 else ''}"
    text = f"Unlock {which} {', '.join(locked)} ({person_id} {can} but is in {len(locked)})"
    if professional:
        text += f", or raise {person_id}'s capacity to {len(locked)}"
    return text + "."


def lower_minimum(area: str, minimum: int, reachable: int) -> str:
    return f"Lower the minimum for area {area} from {minimum} to {reachable} pair{'s' if reachable != 1 else ''}."


def round_not_solved(cohort: Cohort) -> list[UnmatchedResult]:
    """Everyone hears the same when the round's settings cannot all be met."""
    reason = (
        "The round could not be planned as it was set up, so nobody has been paired yet. "
        "The programme team will adjust it and pair you then."
    )
    return [
        UnmatchedResult(id=p.id, reason=reason, rule="round_infeasible")
        for p in sorted(cohort.leaders, key=lambda p: (p.is_professional, p.id))
    ]
