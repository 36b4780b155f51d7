import pytest

from services.registry.domain.left_out import PastRound, left_out_before
from services.registry.domain.pair_endings import REASONS, CannotEnd, PairState, check_can_end, did_not_go_ahead
from services.registry.domain.pairing_again import plan_pairing_again

pytestmark = pytest.mark.unit

GOING_AHEAD = PairState("published", is_a_pair=True, said_no=False, ended=False)


def test_a_pair_going_ahead_in_a_published_round_can_be_ended():
    check_can_end(GOING_AHEAD)  # no refusal


@pytest.mark.parametrize(
    ("state", "words"),
    [
        (PairState("closed", True, False, False), "This pairing is closed"),
        (PairState("published", False, False, False), "not a pair in this round"),
        (PairState("published", True, True, False), "one of them said no"),
        (PairState("published", True, False, True), "already been ended"),
    ],
)
def test_a_pair_that_cannot_be_ended_is_refused_in_plain_words(state, words):
    with pytest.raises(CannotEnd, match=words):
        check_can_end(state)


def test_the_reasons_are_the_short_list_people_choose_from():
    assert list(REASONS.values()) == ["It is not working for us", "My circumstances changed", "Other"]


def test_an_ended_pair_did_not_go_ahead_like_a_declined_one():
    said_no, ended = {frozenset(("amira", "ben"))}, {frozenset(("cara", "dev"))}
    assert did_not_go_ahead(said_no, ended) == said_no | ended


def test_people_whose_pair_ended_were_left_out_before():
    ended = did_not_go_ahead(set(), {frozenset(("cara", "dev"))})
    past = PastRound(pairs=[("amira", "ben"), ("cara", "dev")], unmatched=set(), did_not_go_ahead=ended)
    assert left_out_before(["amira", "ben", "cara", "dev"], [past]) == ["cara", "dev"]


def test_an_ended_pair_is_broken_and_never_proposed_when_pairing_again():
    ended = did_not_go_ahead(set(), {frozenset(("dev", "cara"))})
    plan = plan_pairing_again([("amira", "ben"), ("cara", "dev")], ended, set(), {"amira", "ben", "cara", "dev"})
    assert plan.kept == [("amira", "ben")]
    assert plan.never == [("cara", "dev")]
    assert {"cara", "dev"} <= set(plan.people)
