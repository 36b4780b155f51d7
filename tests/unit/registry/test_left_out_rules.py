import pytest

from services.registry.domain.left_out import PastRound, left_out_before

pytestmark = pytest.mark.unit

FIRST = PastRound(pairs=[("amira", "ben"), ("cara", "dev")], unmatched={"gus"}, did_not_go_ahead={frozenset(("dev", "cara"))})


def test_people_not_paired_or_whose_pair_did_not_go_ahead_were_left_out():
    assert left_out_before(["amira", "ben", "cara", "dev", "gus"], [FIRST]) == ["cara", "dev", "gus"]


def test_only_the_people_in_the_new_round_are_named():
    assert left_out_before(["gus", "hana"], [FIRST]) == ["gus"]


def test_nobody_is_left_out_without_an_earlier_round():
    assert left_out_before(["amira", "gus"], []) == []


def test_the_latest_round_someone_was_in_decides():
    again = PastRound(pairs=[("gus", "dev")], unmatched={"cara"}, did_not_go_ahead=set())
    later = PastRound(pairs=[("amira", "ben")], unmatched=set(), did_not_go_ahead={frozenset(("amira", "ben"))})
    people = ["amira", "ben", "cara", "dev", "gus"]
    # gus and dev were paired since; cara was not; amira and ben's later pair did not go ahead.
    assert left_out_before(people, [FIRST, again, later]) == ["amira", "ben", "cara"]


def test_a_professional_with_one_pair_still_going_ahead_has_a_partner():
    past = PastRound(pairs=[("amira", "ben"), ("cara", "ben")], unmatched=set(), did_not_go_ahead={frozenset(("amira", "ben"))})
    assert left_out_before(["amira", "ben", "cara"], [past]) == ["amira"]
