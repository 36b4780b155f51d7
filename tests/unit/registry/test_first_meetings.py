"""The suggested first meeting of each pair, planned by the registry when it publishes a round."""

import datetime as dt
import re

import pytest

from schemas.cohort import DateRange, Location, Session, Window
from services.registry.domain.meetings import (
    DEFAULT_CLOSURES,
    MeetingNeeds,
    MeetingRules,
    PairToMeet,
    earliest_first_meeting,
    nation_of,
    parse_closure,
    parse_closures,
    plan_first_meetings,
    session_warnings,
)

pytestmark = pytest.mark.unit

TUESDAYS = [Window(day="tue", start=dt.time(10), end=dt.time(12))]
PUBLISHED = dt.date(2026, 12, 1)  # a Tuesday
# These older rules are about notice and windows, so the programme's closure at Christmas is left out.
NO_NOTICE = MeetingRules(notice_days=0, closures=())


def plan(pairs, needs=None, rules=NO_NOTICE, respond_by=None):
    return plan_first_meetings(pairs, needs or {}, PUBLISHED, respond_by, rules)


def test_the_first_meeting_gives_notice_and_comes_after_the_reply_date():
    assert earliest_first_meeting(dt.date(2027, 3, 1), None, 14) == dt.date(2027, 3, 15)
    assert earliest_first_meeting(dt.date(2027, 3, 1), dt.date(2027, 3, 20), 14) == dt.date(2027, 3, 21)
    ((day, _, _),) = plan([PairToMeet("a", "b", TUESDAYS)], respond_by=dt.date(2026, 12, 10))
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


WEEK = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def one_pair_a_day(needs=None, rules=None, published=dt.date(2026, 12, 5), respond_by=None):
    """A pair for each day of the week, each free only that day: the day each is asked to meet."""
    pairs = [PairToMeet(f"pl-{day}", f"cl-{day}", [Window(day=day, start=dt.time(10), end=dt.time(12))]) for day in WEEK]
    slots = plan_first_meetings(pairs, needs or {}, published, respond_by, rules or MeetingRules())
    return {day: slot[0] for day, slot in zip(WEEK, slots, strict=True)}


def test_no_first_meeting_at_christmas_or_new_year_when_the_programme_keeps_its_usual_closure():
    # Published on Saturday 5 December 2026 with 14 days' notice and the answers due on 19 December.
    days = one_pair_a_day(respond_by=dt.date(2026, 12, 19))
    assert days == {
        "sun": dt.date(2026, 12, 20),
        "mon": dt.date(2026, 12, 21),
        "tue": dt.date(2026, 12, 22),
        "wed": dt.date(2026, 12, 23),
        "thu": dt.date(2027, 1, 7),
        "fri": dt.date(2027, 1, 8),
        "sat": dt.date(2027, 1, 2),
    }
    assert not any(dt.date(2026, 12, 24) <= day <= dt.date(2027, 1, 1) for day in days.values())
    assert MeetingRules().closures == DEFAULT_CLOSURES


def test_no_first_meeting_on_a_bank_holiday_even_when_the_programme_stays_open():
    days = one_pair_a_day(rules=MeetingRules(closures=()), respond_by=dt.date(2026, 12, 24))  # from Friday 25 December
    assert days["fri"] == dt.date(2027, 1, 8), "not Christmas Day, nor New Year's Day"
    assert days["sat"] == dt.date(2027, 1, 2), "not Boxing Day"
    assert days["mon"] == dt.date(2027, 1, 4), "not Monday 28 December, the day off for Boxing Day"
    assert days["tue"] == dt.date(2026, 12, 29), "an ordinary working day"


def test_the_bank_holidays_of_either_persons_nation_count():
    scot = MeetingNeeds(nation="scotland")
    rules = MeetingRules(closures=())
    # 2 January is a bank holiday in Scotland only, and in 2027 Monday 4 January is its day off.
    scottish = one_pair_a_day({"cl-sat": scot, "pl-mon": scot}, rules, respond_by=dt.date(2026, 12, 24))
    assert scottish["sat"] == dt.date(2027, 1, 9)
    assert scottish["mon"] == dt.date(2027, 1, 11)
    # St Patrick's Day, Wednesday 17 March 2027, in Northern Ireland.
    march = {"rules": MeetingRules(notice_days=0, closures=()), "published": dt.date(2027, 3, 16)}
    assert one_pair_a_day({"pl-wed": MeetingNeeds(nation="northern_ireland")}, **march)["wed"] == dt.date(2027, 3, 24)
    assert one_pair_a_day({}, **march)["wed"] == dt.date(2027, 3, 17)


def test_a_programmes_own_closure_periods_are_kept():
    rules = MeetingRules(notice_days=0, closures=parse_closures("2027-02-15..2027-02-19, 08-01..08-31"))
    days = one_pair_a_day(rules=rules, published=dt.date(2027, 2, 15))
    assert days["mon"] == dt.date(2027, 2, 22) and days["fri"] == dt.date(2027, 2, 26) and days["sat"] == dt.date(2027, 2, 20)
    august = one_pair_a_day(rules=rules, published=dt.date(2028, 7, 31))  # every August, any year
    assert august["mon"] == dt.date(2028, 7, 31) and august["tue"] == dt.date(2028, 9, 5)


def test_closure_periods_are_read_from_plain_text_and_bad_ones_explained():
    christmas = parse_closure("12-24..01-01")
    assert dt.date(2030, 12, 24) in christmas and dt.date(2031, 1, 1) in christmas and dt.date(2031, 1, 2) not in christmas
    assert str(christmas) == "24 December to 1 January, every year" and christmas.text() == "12-24..01-01"
    easter = parse_closure(" 2027-03-26..2027-03-29 ")
    assert dt.date(2028, 3, 27) not in easter and str(easter) == "26 March 2027 to 29 March 2027"
    assert parse_closures("") == ()
    for bad in ("24 Dec to 1 Jan", "12-24", "13-01..13-05", "2027-04-05..2027-04-01"):
        with pytest.raises(ValueError, match=re.escape("12-24..01-01")):
            parse_closure(bad)


def test_required_sessions_on_a_bank_holiday_or_while_the_programme_is_closed_are_flagged():
    sessions = [
        Session(date=dt.date(2026, 12, 29), start=dt.time(10), end=dt.time(15)),
        Session(date=dt.date(2027, 5, 3), start=dt.time(10), end=dt.time(15)),
        Session(date=dt.date(2027, 1, 12), start=dt.time(10), end=dt.time(15)),
    ]
    christmas, may_day = session_warnings(sessions, DEFAULT_CLOSURES)
    assert "Tuesday 29 December 2026" in christmas and "closed" in christmas and "24 December to 1 January" in christmas
    assert "Monday 3 May 2027" in may_day and "bank holiday in England and Wales" in may_day
    assert session_warnings(sessions[2:], DEFAULT_CLOSURES) == []
    assert session_warnings(sessions[:1], ()) == [], "29 December is an ordinary working day when the programme is open"


def test_where_someone_lives_comes_from_their_postcode_their_area_code_or_where_they_are():
    assert nation_of("4 Leith Walk, Edinburgh EH6 8RG") == "scotland"
    assert nation_of("1 Quay Street, Berwick-upon-Tweed TD15 1HE") == "england_and_wales"
    assert nation_of("9 Lisburn Road\nBelfast\nBT9 6AA") == "northern_ireland"
    assert nation_of("2 Queen Street, Cardiff CF10 2BU", system="S08000024") == "england_and_wales", "the address wins"
    assert nation_of(system="S08000024") == "scotland" and nation_of(system="N09000003") == "northern_ireland"
    assert nation_of(system="QHM") == "england_and_wales"
    assert nation_of(location=Location(lat=57.48, lon=-4.22)) == "scotland"  # Inverness
    assert nation_of(location=Location(lat=55.42, lon=-2.79)) == "scotland"  # Hawick
    assert nation_of(location=Location(lat=54.89, lon=-2.93)) == "england_and_wales"  # Carlisle
    assert nation_of(location=Location(lat=54.60, lon=-5.93)) == "northern_ireland"  # Belfast
    assert nation_of() == "england_and_wales"


def test_the_answer_date_is_a_weekday_when_the_team_is_there():
    from services.registry.domain.meetings import DEFAULT_CLOSURES, answer_date

    closures = DEFAULT_CLOSURES
    # 19 December 2026 is a Saturday: the Monday after.
    assert answer_date(dt.date(2026, 12, 19), ["england_and_wales"], closures) == dt.date(2026, 12, 21)
    # Christmas to New Year is closed, then the weekend: Monday 4 January 2027.
    assert answer_date(dt.date(2026, 12, 24), ["england_and_wales"], closures) == dt.date(2027, 1, 4)
    # Scotland's 4 January 2027 is a bank holiday (2 January falls on a Saturday): Tuesday.
    assert answer_date(dt.date(2026, 12, 24), ["england_and_wales", "scotland"], closures) == dt.date(2027, 1, 5)
    # An ordinary Wednesday stays.
    assert answer_date(dt.date(2027, 2, 10), ["england_and_wales"], closures) == dt.date(2027, 2, 10)
