"""Every message says how to answer without the internet, when and where the required sessions are,
and, for someone not paired, what to do next for their reason and when the next chance is."""

import datetime as dt

import pytest
from notifier_samples import CONTACTS, MATCHER_RULES, ME, PAIRED, PROGRAMME_CONTACT, UNMATCHED, one_pair_cohort

from schemas.cohort import Session
from schemas.events import Outcome, ProgrammeContact
from services.matcher.domain import explain
from services.notifier.compose import plan_message
from services.notifier.domain.wording import EASY_REASONS, plain_reason, reason_kind, said_time

pytestmark = pytest.mark.unit

NEXT_ROUND = dt.date(2027, 3, 2)  # a Tuesday
PROGRAMME = ProgrammeContact(
    team="the Tyneside patient leader team",
    person="Joe Bloggs",
    phone="0191 498 0000",
    postal_address="Tyneside Patient Leaders\nCivic Centre\nNewcastle upon Tyne\nNE1 8QH",
)
SESSIONS = [
    Session(date=dt.date(2027, 2, 9), start=dt.time(10), end=dt.time(14, 30), place="Room 2, Civic Centre, Newcastle"),
    Session(date=dt.date(2027, 3, 9), start=dt.time(13), end=dt.time(16)),
]


@pytest.mark.parametrize(("rule", "own", "kind"), MATCHER_RULES)
@pytest.mark.parametrize("side", [0, 1])
def test_every_reason_the_matcher_gives_is_recognised(rule, own, kind, side):
    cohort = one_pair_cohort()
    # Only the first person has a date they cannot do, so only they can miss a session themselves.
    person = cohort.leaders[0 if (own and rule == "sessions") else side]
    reason = explain._reason(rule, person, cohort.round, own)
    assert reason_kind(reason) == kind, reason
    assert " round" not in plain_reason(reason).lower(), "the team's word for a pairing is not the person's"


def test_a_round_that_could_not_be_solved_and_unknown_words_are_recognised_too():
    (first, _) = explain.round_not_solved(one_pair_cohort())
    assert reason_kind(first.reason) == "infeasible"
    assert reason_kind("Something new the matcher says.") == "other" and reason_kind(None) == "other"
    assert set(EASY_REASONS) == {kind for _, _, kind in MATCHER_RULES} | {"infeasible", "other"}


def unmatched(reason: str, **change) -> Outcome:
    return UNMATCHED.model_copy(update={"unmatched_reason": reason, **change})


RELEASE = explain._reason("release", one_pair_cohort().leaders[1], one_pair_cohort().round, True)


@pytest.mark.parametrize("style", ["standard", "large_print_24", "easy_read"])
def test_someone_whose_manager_has_not_confirmed_their_time_is_told_to_ask_them_and_by_when(style):
    outcome = unmatched(RELEASE, next_round_on=NEXT_ROUND)
    message = plan_message(outcome, ME.model_copy(update={"information_format": style}), CONTACTS, PROGRAMME_CONTACT)
    assert "You do not need to do anything" not in message.text
    assert "manager" in message.text and "Tuesday 23 February 2027" in message.text, "a week before the next pairing"
    assert "Tuesday 2 March 2027" in message.text, "when the next chance is"
    sms = plan_message(
        outcome, ME.model_copy(update={"contact_method": "sms", "phone": "07700 900123"}), CONTACTS, PROGRAMME_CONTACT
    ).sms
    assert "line manager" in sms and "Tue 23 Feb" in sms and "do not need to do anything" not in sms


def test_without_a_next_pairing_date_they_are_asked_to_act_as_soon_as_they_can():
    message = plan_message(unmatched(RELEASE), ME, CONTACTS, PROGRAMME_CONTACT)
    assert "as soon as you can" in message.text and "the next time we make pairs" in message.text


@pytest.mark.parametrize(
    ("rule", "own", "expected"),
    [
        ("availability", False, "If you can be free at other times each week"),
        ("meeting_mode", False, "If you could also meet by video call or by phone"),
        ("capacity", True, "If you can take on a partner next time"),
        ("sessions", True, "If you can now come to every required session"),
        ("outnumbered", False, "You do not need to do anything."),
    ],
)
def test_the_next_step_fits_the_reason(rule, own, expected):
    cohort = one_pair_cohort()
    reason = explain._reason(rule, cohort.leaders[0], cohort.round, own)
    message = plan_message(unmatched(reason, next_round_on=NEXT_ROUND), ME, CONTACTS, PROGRAMME_CONTACT)
    assert expected in message.text
    assert "this round" not in message.text


def test_easy_read_says_the_reason_in_easy_words_not_the_matchers():
    cohort = one_pair_cohort()
    reason = explain._reason("do_not_pair", cohort.leaders[0], cohort.round, False)
    easy = plan_message(unmatched(reason), ME.model_copy(update={"information_format": "easy_read"}), CONTACTS, PROGRAMME_CONTACT)
    assert EASY_REASONS["do_not_pair"].split(". ")[0] in easy.text and reason not in easy.text


def test_the_programme_contact_in_the_outcome_is_used_over_the_setting():
    outcome = PAIRED.model_copy(update={"programme": PROGRAMME})
    for change in ({}, {"information_format": "easy_read"}):
        text = plan_message(outcome, ME.model_copy(update=change), CONTACTS, PROGRAMME_CONTACT).text
        assert "Joe Bloggs" in text and "0191 498 0000" in text and "Civic Centre, Newcastle upon Tyne, NE1 8QH" in text
        assert "Priya Shah" not in text and "0113 496 0123" not in text


def test_a_paired_person_is_told_when_and_where_the_sessions_are():
    outcome = PAIRED.model_copy(update={"sessions": SESSIONS})
    standard = plan_message(outcome, ME, CONTACTS, PROGRAMME_CONTACT).text
    assert "- Tuesday 9 February 2027, 10:00 to 14:30: Room 2, Civic Centre, Newcastle" in standard
    assert "- Tuesday 9 March 2027, 13:00 to 16:00\n" in standard
    easy = plan_message(outcome, ME.model_copy(update={"information_format": "easy_read"}), CONTACTS, PROGRAMME_CONTACT).text
    assert "- 10 in the morning to half past 2 in the afternoon" in easy and "- Tuesday 9 February 2027" in easy


def test_every_kind_of_message_gives_a_phone_number_and_a_postal_address():
    cancelled = Outcome(round_id="r1", leader_id="pl-1", outcome="cancelled")
    for outcome in (PAIRED, UNMATCHED, cancelled):
        for style in ("standard", "easy_read"):
            text = plan_message(outcome, ME.model_copy(update={"information_format": style}), CONTACTS, PROGRAMME_CONTACT).text
            assert "0113 496 0123" in text and "1 Example Street" in text


@pytest.mark.parametrize(
    ("moment", "said"),
    [
        (dt.time(10), "10 in the morning"),
        (dt.time(14, 30), "half past 2 in the afternoon"),
        (dt.time(12), "12 noon"),
        (dt.time(9, 15), "quarter past 9 in the morning"),
        (dt.time(18, 45), "quarter to 7 in the evening"),
        (dt.time(11, 45), "quarter to 12 in the morning"),
        (dt.time(13, 10), "10 minutes past 1 in the afternoon"),
    ],
)
def test_times_are_written_as_people_say_them(moment, said):
    assert said_time(moment) == said
