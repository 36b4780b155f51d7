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


def test_a_date_to_meet_goes_with_not_yet_from_today_to_a_year_ahead():
    check_meeting_date("not_yet", TODAY, TODAY)
    check_meeting_date("met", None, TODAY)
    with pytest.raises(CannotAnswer, match="only with the answer"):
        check_meeting_date("met", TODAY, TODAY)
    with pytest.raises(CannotAnswer, match="from today to a year from now"):
        check_meeting_date("not_yet", TODAY - dt.timedelta(days=1), TODAY)
    with pytest.raises(CannotAnswer, match="from today to a year from now"):
        check_meeting_date("not_yet", TODAY + dt.timedelta(days=366), TODAY)
