import pytest

from services.registry.domain.pairing_again import NobodyToPairAgain, follow_up_id, follow_up_name, plan_pairing_again

pytestmark = pytest.mark.unit

PAIRS = [("amira", "ben"), ("cara", "dev"), ("eli", "fay")]
EVERYONE = {"amira", "ben", "cara", "dev", "eli", "fay", "gus"}


def test_a_declined_pair_is_broken_and_never_proposed_again_while_the_others_are_kept():
    plan = plan_pairing_again(PAIRS, said_no={frozenset(("dev", "cara"))}, unmatched=set(), active=EVERYONE)
    assert plan.kept == [("amira", "ben"), ("eli", "fay")]
    assert plan.never == [("cara", "dev")]
    assert plan.people == ["amira", "ben", "cara", "dev", "eli", "fay"]


def test_someone_who_left_breaks_their_pair_and_is_not_paired_again():
    plan = plan_pairing_again(PAIRS, said_no=set(), unmatched=set(), active=EVERYONE - {"ben"})
    assert plan.kept == [("cara", "dev"), ("eli", "fay")]
    assert plan.never == []
    assert "amira" in plan.people and "ben" not in plan.people


def test_people_not_paired_before_join_the_people_paired_again():
    plan = plan_pairing_again(PAIRS, said_no={frozenset(("amira", "ben"))}, unmatched={"gus"}, active=EVERYONE)
    assert plan.people == ["amira", "ben", "cara", "dev", "eli", "fay", "gus"]


def test_pairs_ruled_out_in_the_round_before_stay_ruled_out():
    plan = plan_pairing_again(
        PAIRS, said_no={frozenset(("amira", "ben"))}, unmatched=set(), active=EVERYONE, ruled_out=[["cara", "fay"]]
    )
    assert plan.never == [("amira", "ben"), ("cara", "fay")]


def test_someone_in_a_kept_pair_is_not_also_paired_again():
    pairs = [("amira", "ben"), ("amira", "dev")]
    plan = plan_pairing_again(pairs, said_no={frozenset(("amira", "dev"))}, unmatched=set(), active=EVERYONE)
    assert plan.kept == [("amira", "ben")]
    assert plan.people == ["amira", "ben", "dev"]


def test_nobody_said_no_or_left_so_there_is_nobody_to_pair_again():
    with pytest.raises(NobodyToPairAgain, match="nobody to pair again"):
        plan_pairing_again(PAIRS, said_no=set(), unmatched={"gus"}, active=EVERYONE)


def test_everyone_whose_partner_said_no_has_since_left():
    with pytest.raises(NobodyToPairAgain, match="has since been paused or has left"):
        plan_pairing_again(PAIRS, said_no={frozenset(("amira", "ben"))}, unmatched=set(), active=EVERYONE - {"amira", "ben"})


def test_follow_up_rounds_are_numbered_from_the_second():
    assert follow_up_id("round-1", 0) == "round-1-again-1"
    assert follow_up_name("Spring round", 0) == "Spring round: pairing again"
    assert follow_up_name("Spring round", 1) == "Spring round: pairing again (2)"
    assert len(follow_up_name("x" * 300, 0)) == 200
    assert len(follow_up_id("r" * 120, 0)) == 90 + len("-again-1")
