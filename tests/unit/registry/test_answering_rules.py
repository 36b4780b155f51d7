"""When an answer to a proposed partner is recorded, and the key that keeps it to one (domain/answering.py)."""

import pytest

from services.registry.domain.answering import Refusal, answer_key, refuse_answer

pytestmark = pytest.mark.unit

OPEN = {"answered_before": False, "round_status": "published", "pair_found": True, "pair_ended": False}


def test_an_answer_to_a_published_pair_still_open_is_recorded():
    assert refuse_answer(**OPEN) is None


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"answered_before": True}, Refusal.already_answered),
        ({"round_status": None}, Refusal.no_round),
        ({"round_status": "closed"}, Refusal.not_taking_answers),
        ({"round_status": "cancelled"}, Refusal.not_taking_answers),
        ({"pair_found": False}, Refusal.no_such_pair),
        ({"pair_ended": True}, Refusal.pair_ended),
    ],
)
def test_each_reason_an_answer_is_not_recorded(change, refusal):
    assert refuse_answer(**{**OPEN, **change}) is refusal


def test_an_earlier_answer_is_named_before_anything_else_wrong():
    everything_wrong = {"answered_before": True, "round_status": "closed", "pair_found": False, "pair_ended": True}
    assert refuse_answer(**everything_wrong) is Refusal.already_answered
    assert refuse_answer(**{**everything_wrong, "answered_before": False}) is Refusal.not_taking_answers


def test_every_answer_to_one_question_has_the_same_key_and_other_questions_another():
    assert answer_key("r-1", "pl-1", "cl-1") == answer_key("r-1", "pl-1", "cl-1")
    assert len({answer_key("r-1", "pl-1", "cl-1"), answer_key("r-1", "cl-1", "pl-1"), answer_key("r-2", "pl-1", "cl-1")}) == 3
