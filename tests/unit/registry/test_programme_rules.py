"""A programme's contact details: checked as people write them, and needed before people who
cannot use the internet are written to."""

import datetime as dt
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from services.registry.domain.programmes import (
    ProgrammeDefaults,
    ProgrammeDetails,
    answers_without_internet,
    check_uk_phone,
    contact_of,
    offline_contact_problem,
    terms_of,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "number", ["0113 496 0123", "+44 113 496 0123", "+44 (0)300 123 4567", "(020) 7946 0958", "07700-900123", "0044 1632 960001"]
)
def test_uk_phone_numbers_are_taken_as_people_write_them(number):
    assert check_uk_phone(f" {number} ") == number


@pytest.mark.parametrize("number", ["12345", "0113 496", "+1 212 555 0100", "0400 123 4567", "phone us", "0113 496 01234 5"])
def test_anything_else_is_refused_with_an_example(number):
    with pytest.raises(ValueError, match="must be a UK phone number, for example 0113 496 0000"):
        check_uk_phone(number)


def test_blank_details_are_left_out_and_closures_are_read():
    details = ProgrammeDetails(
        phone="  ", email="", postal_address="1 Park Row\r\nLeeds LS1 5AB ", closure_periods=[" 12-24..01-01", ""]
    )
    assert details.phone is None and details.email is None
    assert details.postal_address == "1 Park Row\nLeeds LS1 5AB"
    assert details.closure_periods == ["12-24..01-01"]
    assert dt.date(2027, 12, 31) in details.closures()[0]
    with pytest.raises(ValidationError) as problem:
        ProgrammeDetails(email="team at nhs", closure_periods=["Christmas"])
    assert {e["loc"][0] for e in problem.value.errors()} == {"email", "closure_periods"}


def test_who_needs_a_phone_number_and_an_address_to_answer():
    assert not answers_without_internet({"contact_method": "email", "information_format": "easy_read"})
    for contact in (
        {"contact_method": "letter"},
        {"contact_method": "sms"},
        {"contact_method": "telephone"},
        {"contact_method": "text_relay"},
        {"contact_method": "via_carer"},
        {"contact_method": "email", "information_format": "braille"},
        {"information_format": "audio"},
        {"contact_method": "email", "communication_support": "reads with a support worker"},
        {"contact_method": "email", "communication_professional": "British Sign Language interpreter"},
    ):
        assert answers_without_internet(contact), contact


def test_publishing_waits_for_what_is_missing_and_says_where_to_add_it():
    programme = SimpleNamespace(
        name="West Yorkshire",
        team=None,
        contact_person="Priya Shah",
        phone="0113 496 0123",
        email=None,
        postal_address=None,
        closure_periods=None,
        next_round_on=dt.date(2027, 9, 6),
    )
    defaults = ProgrammeDefaults(contact_of("the Leeds team", None, None, None, None), "08-01..08-31")
    terms = terms_of(programme, defaults)
    assert terms.contact.team == "the Leeds team", "the registry's team name when the programme gives none"
    assert dt.date(2027, 8, 10) in terms.closures[0], "the registry's closure periods when the programme never set any"
    assert offline_contact_problem(terms, 0) is None, "nobody in the round needs them"
    problem = offline_contact_problem(terms, 2)
    assert problem.startswith("This round cannot be published yet. 2 people in it will get a letter")
    assert "Add a postal address on the programme's page (Programmes, then West Yorkshire, then Change these details)" in problem
    everyone = terms_of(None, defaults)
    assert "Add a phone number and a postal address to the registry's settings" in offline_contact_problem(everyone, 1)
    assert everyone.next_round_on is None and terms.outcome_fields([])["next_round_on"] == dt.date(2027, 9, 6)
