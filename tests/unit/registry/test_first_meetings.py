"""The suggested first meeting of each pair, planned by the registry when it publishes a round."""

import datetime as dt

import pytest

from schemas.cohort import DateRange, Window
from services.registry.domain.meetings import MeetingNeeds, MeetingRules, PairToMeet, earliest_first_meeting, plan_first_meetings

pytestmark = pytest.mark.unit

TUESDAYS = [Window(day="tue", start=dt.time(10), end=dt.time(12))]
PUBLISHED = dt.date(2026, 12, 1)  # a Tuesday
NO_NOTICE = MeetingRules(notice_days=0)


def plan(pairs, needs=None, rules=NO_NOTICE, respond_by=None):
    return plan_first_meetings(pairs, needs or {}, PUBLISHED, respond_by, rules)


def test_the_first_meeting_gives_notice_and_comes_after_the_reply_date():
    assert earliest_first_meeting(dt.date(2027, 3, 1), None, 14) == dt.date(2027, 3, 15)
    assert earliest_first_meeting(dt.date(2027, 3, 1), dt.date(2027, 3, 20), 14) == dt.date(2027, 3, 21)
    (day, _, _), = plan([PairToMeet("a", "b", TUESDAYS)], respond_by=dt.date(2026, 12, 10))
    assert day == dt.date(2026, 12, 15), "the first Tuesday after the reply date"


def test_the_earliest_slot_inside_a_shared_window_and_never_longer_than_the_window():
    windows = [Window(day="fri", start=dt.time(9, 30), end=dt.time(10)), Window(day="thu", start=dt.time(14), end=dt.time(16))]
    # 3 December 2026 is a Thursday: that beats the Friday.
    assert plan([PairToMeet("a", "b", windows)]) == [(dt.date(2026, 12, 3), dt.time(14), dt.time(15))]
    # A window shorter than a meeting gives a shorter meeting, never one that runs over.
    assert plan([PairToMeet("a", "b", windows[:1])]) == [(dt.date(2026, 12, 4), dt.time(9, 30), dt.time(10))]
    assert plan([PairToMeet("a", "b", [])]) == [None]


def test_both_peoples_notice_an_interpreters_four_weeks_and_their_dates_are_kept():
    pair = [PairToMeet("pl", "cl", TUESDAYS)]
    assert plan(pair)[0][0] == PUBLISHED
    assert plan(pair, {"cl": MeetingNeeds(notice_days=10)})[0][0] == dt.date(2026, 12, 15)
    # The interpreter needs four weeks (29 December), and the professional cannot do that day.
    needs = {"pl": MeetingNeeds(needs_interpreter=True), "cl": MeetingNeeds(cannot_meet_on=frozenset({dt.date(2026, 12, 29)}))}
    assert plan(pair, needs) == [(dt.date(2027, 1, 5), dt.time(10), dt.time(11))]


def test_someone_who_takes_part_in_term_time_only_is_not_asked_to_meet_in_the_school_holidays():
    holidays = (DateRange.model_validate({"from": "2026-12-18", "to": "2027-01-04"}),)
    rules = MeetingRules(notice_days=21, school_holidays=holidays)  # 22 December at the earliest
    pair = [PairToMeet("cr", "cl", TUESDAYS)]
    assert plan(pair, {"cr": MeetingNeeds(term_time_only=True)}, rules)[0][0] == dt.date(2027, 1, 5)
    assert plan(pair, {}, rules)[0][0] == dt.date(2026, 12, 22), "holidays do not matter to anyone else"


def test_a_professional_with_two_partners_is_never_asked_to_be_in_two_meetings_at_once():
    first, second = plan([PairToMeet("pl-1", "cl", TUESDAYS), PairToMeet("pl-2", "cl", TUESDAYS)])
    assert first == (PUBLISHED, dt.time(10), dt.time(11))
    assert second == (PUBLISHED, dt.time(11), dt.time(12))
    # A meeting is never cut short to fit the end of a window that had room for a whole one.
    half_past_ten = [Window(day="tue", start=dt.time(9), end=dt.time(10, 30))]
    first, second = plan([PairToMeet("pl-1", "cl", half_past_ten), PairToMeet("pl-2", "cl", half_past_ten)])
    assert first == (PUBLISHED, dt.time(9), dt.time(10))
    assert second == (PUBLISHED + dt.timedelta(days=7), dt.time(9), dt.time(10))
    # Different people at the same time is fine.
    assert plan([PairToMeet("pl-1", "cl-1", TUESDAYS), PairToMeet("pl-2", "cl-2", TUESDAYS)])[1][1] == dt.time(10)


def test_nothing_is_suggested_when_no_shared_time_fits_in_the_weeks_looked_at():
    every_tuesday = frozenset(PUBLISHED + dt.timedelta(days=7 * week) for week in range(10))
    assert plan([PairToMeet("a", "b", TUESDAYS)], {"a": MeetingNeeds(cannot_meet_on=every_tuesday)}) == [None]
