"""Answers to "Did you meet?" and check-ins: which answer goes with which question, when a pair can
still be asked, and the date someone sets to meet."""

import datetime as dt

import pytest

from services.registry.domain.check_ins import (
    CannotAnswer,
    PairNow,
    check_answer,
    check_can_answer,
    check_meeting_date,
    read_meeting_date,
)

pytestmark = pytest.mark.unit

TODAY = dt.date(2027, 1, 13)


def test_each_question_takes_only_its_own_answers_and_a_check_in_has_a_number():
    check_answer("met", 0, "not_yet", None)
    check_answer("check_in", 2, "some_problems", "words")
    with pytest.raises(CannotAnswer, match=r"^answer: "):
        check_answer("met", 0, "going_well", None)
    with pytest.raises(CannotAnswer, match=r"^number: "):
        check_answer("check_in", 0, "going_well", None)
    with pytest.raises(CannotAnswer, match=r"^number: "):
        check_answer("met", 1, "met", None)
    with pytest.raises(CannotAnswer, match=r"^words: keep what you write to 2,000"):
        check_answer("met", 0, "met", "x" * 2001)


@pytest.mark.parametrize(
    ("pair", "why"),
    [
        (PairNow("published", is_a_pair=False, ended=False, said_no=False), "not a pair"),
        (PairNow("closed", is_a_pair=True, ended=False, said_no=False), "no longer taking answers"),
        (PairNow("published", is_a_pair=True, ended=True, said_no=False), "pair has ended"),
        (PairNow("published", is_a_pair=True, ended=False, said_no=True), "not going ahead"),
    ],
)
def test_a_pair_is_asked_only_while_it_stands(pair, why):
    with pytest.raises(CannotAnswer, match=why):
        check_can_answer(pair)


def test_a_pair_that_stands_can_answer():
    check_can_answer(PairNow("published", is_a_pair=True, ended=False, said_no=False))


@pytest.mark.parametrize("typed", ["2027-03-04", "4 3 2027", "4/3/2027", " 04-03-2027 "])
def test_a_date_to_meet_is_read_as_a_browser_sends_it_or_as_typed(typed):
    assert read_meeting_date(typed) == dt.date(2027, 3, 4)


def test_no_date_is_fine_and_a_wrong_one_says_how_to_fix_it():
    assert read_meeting_date("  ") is None
    with pytest.raises(CannotAnswer, match=r"^meeting_on: enter the date you plan to meet, for example"):
        read_meeting_date("next Tuesday")
    with pytest.raises(CannotAnswer, match=r"^meeting_on: "):
        read_meeting_date("31 2 2027")


def test_a_date_to_meet_goes_with_not_yet_from_today_to_a_year_ahead():
    check_meeting_date("not_yet", TODAY, TODAY)
    check_meeting_date("met", None, TODAY)
    with pytest.raises(CannotAnswer, match="only with the answer"):
        check_meeting_date("met", TODAY, TODAY)
    with pytest.raises(CannotAnswer, match="from today to a year from now"):
        check_meeting_date("not_yet", TODAY - dt.timedelta(days=1), TODAY)
    with pytest.raises(CannotAnswer, match="from today to a year from now"):
        check_meeting_date("not_yet", TODAY + dt.timedelta(days=366), TODAY)
