"""The one change that would let someone not paired be paired, for the programme team.

For each person left without a partner, one relaxation at a time is tried against a
partner who is still free (not paired, or a professional with a place left), with every
other hard rule checked as it stands: adding that pair to the round's pairing breaks
no rule, so the suggestion is true ("Would be paired if they could meet by video").
The first relaxation that works is given, in this order:

1. the person's own rule: their manager confirms their time, they can take a partner,
   or they can come to the required session that stops them;
2. they could meet by video, or by phone;
3. they could travel a few more miles (the fewest that reach a free partner);
4. a partner were free at their times (or they were free for long enough each week);
5. the round allowed partners from other areas (only when it keeps areas apart);
6. a possible partner's manager confirmed their time, or the partner could take one;
7. a possible partner who is already full could take one more partner.

Never suggested: setting aside "never pair them with" (a person's own wish), or anything
about access needs (a British Sign Language interpreter needs four weeks' notice, and
nothing the team can change shortens it). When nothing single works, there is no
suggestion. Bounded so large rounds stay fast: at most MAX_PEOPLE people are looked at,
each against the free people on the other side with numpy, never pair by pair.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from schemas.cohort import KM_PER_MILE, Cohort, MatchingProfile, UnmatchedResult
from services.matcher.domain import explain
from services.matcher.domain.rules import (
    EARTH_RADIUS_KM,
    IN_PERSON,
    PHONE,
    REMOTE,
    VIDEO,
    Candidates,
    Side,
    banned_pairs,
    session_problem,
)

MAX_PEOPLE = 1000  # people not paired who are looked at, in the order they are listed
_ANYWHERE = -2.0  # below any dot product of unit vectors: any distance is near
_PARTS_OF_DAY = ((12, "mornings"), (17, "afternoons"), (24, "evenings"))


@dataclass(frozen=True)
class _World:
    """What every look needs: both sides, who is still free, the rules' tables."""

    cohort: Cohort
    sides: tuple[Side, Side]  # lived-experience leaders, professionals
    free: tuple[np.ndarray, np.ndarray]  # may take a partner now
    full: np.ndarray  # professionals with no place left (and at least one place)
    blocked_by: tuple[np.ndarray, np.ndarray]  # the person rule ruling each out, "" for none
    banned: tuple[dict[int, set[int]], dict[int, set[int]]]  # each person's never-pair partners, by index
    shared: np.ndarray  # [lived pattern, professional pattern] -> enough shared time
    min_seconds: float
    # Professionals ruled out by release or capacity alone, whom lifting that one rule frees (as
    # _own_rule asks of a person's own rules): the same for everyone looked at, so found once.
    held: dict[str, np.ndarray]
    free_at: tuple[np.ndarray, np.ndarray]  # the indices of free (above), on each side
    full_at: np.ndarray  # the indices of full (above)
    # The values the pair rules read of the people in free_at, full_at and held, gathered once
    # (each array by its id, kept alive here): up to a thousand people are looked at against them.
    gathered: dict[int, tuple[np.ndarray, ...]]

    def columns(self, side: int, people: np.ndarray) -> tuple[np.ndarray, ...]:
        """xyz, modes, reach, system and weekly pattern of these people on one side."""
        known = self.gathered.get(id(people))
        if known is not None and known[0] is people:
            return known[1:]
        return _gather(self.sides[side], people)


def _gather(side: Side, people: np.ndarray) -> tuple[np.ndarray, ...]:
    return side.xyz[people], side.modes[people], side.reach[people], side.system[people], side.pattern[people]


def with_suggestions(
    cohort: Cohort, cands: Candidates, li: np.ndarray, pj: np.ndarray, unmatched: Sequence[UnmatchedResult]
) -> list[UnmatchedResult]:
    """The people not paired, each with the change that would let them be paired when one is found.
    li / pj: the round's pairs (lived-experience leader and professional indices), locked ones included."""
    if not unmatched:
        return list(unmatched)
    world = _world(cohort, cands, li, pj)
    out = []
    for n, person in enumerate(unmatched):
        found = None
        if n < MAX_PEOPLE:
            found = _suggest(world, person.id)
        out.append(person.model_copy(update={"suggestion": found}) if found else person)
    return out


def _world(cohort: Cohort, cands: Candidates, li: np.ndarray, pj: np.ndarray) -> _World:
    lived, profs = cands.lived, cands.professionals
    capacity = np.array([p.capacity for p in profs.people], dtype=np.int64)
    taken = np.bincount(pj, minlength=len(profs.people))
    free_l = (np.bincount(li, minlength=len(lived.people)) == 0) & lived.ok
    free_p = (taken < capacity) & profs.ok
    banned_l, banned_p = banned_pairs(cohort, lived, profs)
    by_lived: dict[int, set[int]] = {}
    by_prof: dict[int, set[int]] = {}
    for a, b in zip(banned_l.tolist(), banned_p.tolist(), strict=True):
        by_lived.setdefault(a, set()).add(b)
        by_prof.setdefault(b, set()).add(a)
    full = (taken >= capacity) & (capacity > 0) & profs.ok
    held = _held(cohort, profs)
    free_at, full_at = (np.flatnonzero(free_l), np.flatnonzero(free_p)), np.flatnonzero(full)
    gathered = {
        id(people): (people, *_gather((lived, profs)[side], people))
        for side, people in ((0, free_at[0]), (1, free_at[1]), (1, full_at), *((1, h) for h in held.values()))
    }
    return _World(
        cohort=cohort,
        sides=(lived, profs),
        free=(free_l, free_p),
        full=full,
        blocked_by=(np.array([b or "" for b in lived.blocked], dtype=str), np.array([b or "" for b in profs.blocked], dtype=str)),
        banned=(by_lived, by_prof),
        shared=cands.shared_time,
        min_seconds=cohort.round.min_shared_hours_per_week * 3600,
        held=held,
        free_at=free_at,
        full_at=full_at,
        gathered=gathered,
    )


def _held(cohort: Cohort, profs: Side) -> dict[str, np.ndarray]:
    """For release and capacity: the professionals that rule alone rules out."""
    held: dict[str, np.ndarray] = {}
    for rule in ("release", "capacity"):
        held[rule] = np.array(
            [
                j
                for j, blocked in enumerate(profs.blocked)
                if blocked == rule
                and session_problem(profs.people[j], cohort.round) is None
                and (rule == "capacity" or profs.people[j].capacity > 0)
            ],
            dtype=np.int64,
        )
    return held


@dataclass(frozen=True)
class _Look:
    """One person against some people on the other side: each rule's verdict, with and without a change."""

    world: _World
    side: int  # 0: the person is a lived-experience leader; 1: a professional
    i: int  # their index on their side

    @property
    def me(self) -> Side:
        return self.world.sides[self.side]

    @property
    def them(self) -> Side:
        return self.world.sides[1 - self.side]

    def allowed(
        self,
        others: np.ndarray,
        modes: int | None = None,
        reach: float | None = None,
        areas_apart: bool | None = None,
        time: bool = True,
    ) -> np.ndarray:
        """Which of `others` the pair rules allow, with the person's meeting modes, travel reach or the
        round's keeping areas apart changed when given (None: as they are); time False leaves out the
        rule of enough shared time each week."""
        me, i = self.me, self.i
        if areas_apart is None:
            areas_apart = not self.world.cohort.round.allow_cross_system_remote
        my_modes = int(me.modes[i]) if modes is None else modes
        my_reach = float(me.reach[i]) if reach is None else reach
        xyz, their_modes, their_reach, system, pattern = self.world.columns(1 - self.side, others)
        dot = xyz @ me.xyz[i]
        common = their_modes & my_modes
        near = (dot >= my_reach) & (dot >= their_reach)
        usable = np.where(near, common, common & REMOTE)
        same_area = system == me.system[i]
        area_ok = same_area if areas_apart else same_area | ((usable & REMOTE) != 0)
        ok: np.ndarray = area_ok & (usable != 0)
        never = self.world.banned[self.side].get(self.i)
        if never:
            ok &= self.not_banned(others)
        return ok & self._time_ok(pattern) if time else ok

    def not_banned(self, others: np.ndarray) -> np.ndarray:
        never = self.world.banned[self.side].get(self.i, set())
        return np.array([o not in never for o in others.tolist()], dtype=bool) if never else np.ones(len(others), dtype=bool)

    def _time_ok(self, theirs: np.ndarray) -> np.ndarray:
        mine = self.me.pattern[self.i]
        ok: np.ndarray = self.world.shared[mine, theirs] if self.side == 0 else self.world.shared[theirs, mine]
        return ok


def _suggest(world: _World, leader_id: str) -> str | None:
    side = 0 if leader_id in world.sides[0].index else 1
    look = _Look(world, side, world.sides[side].index[leader_id])
    person = look.me.people[look.i]
    free = world.free_at[1 - side]
    if world.blocked_by[side][look.i]:
        return _own_rule(look, person, free)
    for attempt in (_online, _travel, _times, _other_areas, _partner_rule, _one_more_place):
        found = attempt(look, person, free)
        if found:
            return found
    return None


def _own_rule(look: _Look, person: MatchingProfile, free: np.ndarray) -> str | None:
    """Someone a rule of their own rules out: only lifting it would do, if a free partner suits them."""
    if not look.allowed(free).any():
        return None
    rule = look.world.blocked_by[look.side][look.i]
    round_ = look.world.cohort.round
    problem = session_problem(person, round_)
    if rule == "release":
        if person.capacity == 0 or problem is not None:
            return None  # lifting one rule is not enough
        return "Would be paired if their manager confirmed they have time for this programme."
    if rule == "capacity":
        return None if problem is not None else "Would be paired if they could take on a partner this round."
    if problem is None or problem.cause == "bsl_notice":
        return None
    days = (problem.date - round_.launch_date).days
    changes: dict[str, dict[str, object]] = {
        "unavailable_date": {"unavailable_dates": [d for d in person.unavailable_dates if d != problem.date]},
        "school_holiday": {"term_time_only": False},
        "notice": {"min_notice_days": days},
    }
    eased = changes[problem.cause]
    if session_problem(person.model_copy(update=eased), round_) is not None:
        return None  # another session stops them too: no single change is enough
    when = explain.say_date(problem.date)
    if problem.cause == "notice":
        return f"Would be paired if {days} days' notice were enough for them to come to the required session on {when}."
    return f"Would be paired if they could come to the required session on {when}."


def _online(look: _Look, person: MatchingProfile, free: np.ndarray) -> str | None:
    modes = int(look.me.modes[look.i])
    for bit, words in ((VIDEO, "by video"), (PHONE, "by phone")):
        if not modes & bit and look.allowed(free, modes=modes | bit).any():
            return f"Would be paired if they could meet {words}."
    return None


def _travel(look: _Look, person: MatchingProfile, free: np.ndarray) -> str | None:
    """The fewest more miles that reach a free partner who can meet in person and would come that far."""
    me, them, i = look.me, look.them, look.i
    if not int(me.modes[i]) & IN_PERSON or person.location is None or not len(free):
        return None
    reachable = free[(them.modes[free] & IN_PERSON) != 0]
    dot = them.xyz[reachable] @ me.xyz[i]
    further = reachable[(dot < me.reach[i]) & (dot >= them.reach[reachable])]
    if not len(further):
        return None
    # Allowed if they could travel as far as it takes: then the nearest of those says how far.
    suits = further[look.allowed(further, reach=_ANYWHERE)]
    if not len(suits):
        return None
    km = float((EARTH_RADIUS_KM * np.arccos(np.clip(them.xyz[suits] @ me.xyz[i], -1.0, 1.0))).min())
    limit = person.max_travel_km or 0.0
    miles = max(1, math.ceil((km - limit) / KM_PER_MILE - 1e-9))
    total = round(limit / KM_PER_MILE + miles)
    if not limit:
        return f"Would be paired if they could travel up to {total} {_miles(total)} to meet."
    return f"Would be paired if they could travel {miles} more {_miles(miles)} (up to about {total} {_miles(total)})."


def _miles(n: int) -> str:
    return "mile" if n == 1 else "miles"


def _times(look: _Look, person: MatchingProfile, free: np.ndarray) -> str | None:
    """A free partner allowed by every rule but shared time: either side's times would do it."""
    if not look.allowed(free, time=False).any():
        return None
    spans = look.me.spans[look.i]
    if sum(end - start for start, end in spans) < look.world.min_seconds:
        hours = explain.say_hours(look.world.cohort.round.min_shared_hours_per_week)
        return f"Would be paired if they were free for at least {hours} each week."
    return f"Would be paired if a partner were free on {_their_times(person)}."


def _their_times(person: MatchingProfile) -> str:
    """ "Tuesday mornings or Thursday afternoons": the parts of the week they are free, at most three."""
    parts: list[str] = []
    for window in person.availability:
        part = next(words for hour, words in _PARTS_OF_DAY if window.start.hour < hour)
        words = f"{explain.day_name(window.day)} {part}"
        if words not in parts:
            parts.append(words)
    shown = parts[:3]
    return explain.join_words(shown, "or") + (", or at their other times" if len(parts) > 3 else "")


def _other_areas(look: _Look, person: MatchingProfile, free: np.ndarray) -> str | None:
    if look.world.cohort.round.allow_cross_system_remote:
        return None
    elsewhere = free[look.them.system[free] != look.me.system[look.i]]
    if len(elsewhere) and look.allowed(elsewhere, areas_apart=False).any():
        return "Would be paired if the round allowed partners from other areas to meet by video or phone."
    return None


def _partner_rule(look: _Look, person: MatchingProfile, free: np.ndarray) -> str | None:
    """A professional ruled out by their own release or capacity, who would otherwise suit them."""
    if look.side != 0:
        return None
    for rule, words in (
        ("release", "the manager of a professional who could be their partner confirmed that professional's time"),
        ("capacity", "a professional who could be their partner could take on a partner this round"),
    ):
        held = look.world.held[rule]
        if len(held) and look.allowed(held).any():
            return f"Would be paired if {words}."
    return None


def _one_more_place(look: _Look, person: MatchingProfile, free: np.ndarray) -> str | None:
    """Every professional who could be their partner is full: one more place for any of them would do."""
    if look.side != 0:
        return None
    full = look.world.full_at
    if len(full) and look.allowed(full).any():
        return "Would be paired if a professional who could be their partner could take one more partner."
    return None
