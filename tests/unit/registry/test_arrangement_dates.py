"""Arrangements to book for a pair's first meeting, and the date each must be booked by
(domain/arrangements.py): the meeting less each one's notice, never on a weekend."""

from __future__ import annotations

import datetime as dt

import pytest

from services.registry.domain import arrangements
from services.registry.domain.arrangements import Arrangement, arrangements_words, booking_date, say_arrangement, to_book

pytestmark = pytest.mark.unit

MEETING = dt.date(2027, 2, 2)  # a Tuesday
TODAY = dt.date(2026, 12, 7)


def test_an_interpreter_is_booked_four_weeks_before_the_first_meeting():
    assert arrangements.BSL_INTERPRETER_NOTICE_DAYS == 28
    assert arrangements_words(["bsl_interpreter"], MEETING, TODAY) == [
        "British Sign Language interpreter: book by 5 January 2027"
    ]


def test_each_need_has_its_own_notice_and_the_soonest_to_book_comes_first():
    words = arrangements_words(["large_print_papers", "step_free_access", "bsl_interpreter", "hearing_loop"], MEETING, TODAY)
    assert words == [
        "British Sign Language interpreter: book by 5 January 2027",
        "A hearing loop: book by 19 January 2027",
        "A room with step-free access: book by 19 January 2027",
        "Large-print papers: book by 26 January 2027",
    ]


def test_a_date_to_book_by_on_a_weekend_moves_back_to_the_friday():
    sunday_meeting_less_notice = dt.date(2027, 2, 7)  # a Sunday; less 7 days is a Sunday too
    assert booking_date(sunday_meeting_less_notice, 7) == dt.date(2027, 1, 29)
    assert booking_date(dt.date(2027, 2, 6), 14) == dt.date(2027, 1, 22)  # Saturday to Friday
    assert booking_date(MEETING, 14).weekday() < 5


def test_before_publishing_there_is_no_meeting_so_the_notice_is_given():
    assert arrangements_words(["bsl_interpreter", "quiet_room"], None, TODAY) == [
        "British Sign Language interpreter: book 4 weeks before the first meeting",
        "A quiet room: book 1 week before the first meeting",
    ]


def test_a_date_already_gone_says_book_now():
    late = Arrangement("British Sign Language interpreter", 28, dt.date(2027, 1, 5))
    assert say_arrangement(late, dt.date(2027, 1, 11)) == (
        "British Sign Language interpreter: book now (4 weeks' notice is usual, so it was due 5 January 2027)"
    )
    week = Arrangement("A quiet room", 7, dt.date(2027, 1, 5))
    assert "(1 week's notice is usual" in say_arrangement(week, dt.date(2027, 1, 6))
    assert say_arrangement(late, dt.date(2027, 1, 5)).endswith("book by 5 January 2027"), "the day itself is still in time"


def test_breaks_are_planned_not_booked_and_needs_without_an_arrangement_are_left_out():
    assert arrangements_words(["regular_breaks"], MEETING, TODAY) == ["Regular breaks: plan them into the meeting"]
    assert arrangements_words([], MEETING, TODAY) == []
    assert to_book(["bsl_interpreter", "bsl_interpreter"], MEETING) == [
        Arrangement("British Sign Language interpreter", 28, dt.date(2027, 1, 5))
    ], "a need both people have is booked once"


def test_every_access_need_a_leader_can_have_is_booked_or_planned():
    from typing import get_args

    from schemas.cohort import AccessNeed

    assert set(get_args(AccessNeed)) == set(arrangements.TO_BOOK) | set(arrangements.TO_PLAN)
