import datetime as dt

import pytest

from services.registry.domain.publication import (
    News,
    access_arrangements,
    both_ways,
    let_down_by,
    meeting_record,
    partners_of,
    told_about_a_partner,
    who_is_told,
)

pytestmark = pytest.mark.unit

PAIRS = [("amira", "ben"), ("cara", "dev"), ("amira", "eli")]


def test_each_person_hears_of_their_partners_in_the_order_of_the_pairs():
    assert partners_of(PAIRS) == {"amira": ["ben", "eli"], "ben": ["amira"], "cara": ["dev"], "dev": ["cara"], "eli": ["amira"]}


def test_a_first_round_tells_everyone_in_a_pair():
    told = who_is_told(PAIRS, carried=set(), let_down=set())
    assert told == [
        News("amira", ("ben", "eli")),
        News("ben", ("amira",)),
        News("cara", ("dev",)),
        News("dev", ("cara",)),
        News("eli", ("amira",)),
    ]


def test_a_follow_up_round_tells_nobody_about_a_pair_carried_over():
    told = who_is_told(PAIRS, carried={frozenset(("cara", "dev")), frozenset(("amira", "ben"))}, let_down={"amira", "eli"})
    assert told == [News("amira", ("eli",), pairing_again=True), News("eli", ("amira",), pairing_again=True)]


def test_people_whose_partner_said_no_are_told_this_is_pairing_again():
    told = {news.leader_id: news.pairing_again for news in who_is_told(PAIRS, set(), let_down={"cara"})}
    assert told == {"amira": False, "ben": False, "cara": True, "dev": False, "eli": False}


def test_a_cancelled_round_tells_everyone_it_paired_but_not_carried_pairs_or_the_erased():
    pairs = [("amira", "ben"), ("cara", "(erased)"), ("fay", "gus")]
    assert told_about_a_partner(pairs, {frozenset(("fay", "gus"))}, "(erased)") == ["amira", "ben", "cara"]


def test_a_partners_access_needs_are_told_only_when_they_agreed_to_share_them():
    access = {"amira": ["step_free", "bsl_interpreter"], "ben": ["quiet_room"]}
    assert access_arrangements("ben", "amira", access, {"amira": True}) == ["bsl_interpreter", "quiet_room", "step_free"]
    assert access_arrangements("ben", "amira", access, {"amira": False}) == ["quiet_room"]
    assert access_arrangements("ben", "amira", access, {}) == ["quiet_room"]


def test_someone_with_no_needs_of_their_own_hears_only_what_was_shared():
    assert access_arrangements("eli", "amira", {"amira": ["step_free"]}, {"amira": True}) == ["step_free"]
    assert access_arrangements("eli", "amira", {"amira": ["step_free"]}, {"amira": False}) == []


def test_both_people_of_a_pair_someone_said_no_to_are_let_down():
    assert let_down_by([("amira", "ben"), ("cara", "ben")]) == {"amira", "ben", "cara"}
    assert let_down_by([]) == set()


def test_each_person_of_a_pair_hears_about_the_other():
    assert both_ways("amira", "ben") == (("amira", "ben"), ("ben", "amira"))


def test_a_first_meeting_is_kept_as_its_date_and_24_hour_times():
    slot = (dt.date(2027, 1, 12), dt.time(9, 5), dt.time(14))
    assert meeting_record(slot) == {"date": "2027-01-12", "start": "09:05", "end": "14:00"}
    assert meeting_record(None) is None
