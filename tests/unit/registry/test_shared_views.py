"""What the registry shares about a leader: the matcher's coded profile holds nothing that names or
reaches the person, and every field a manager enters is kept."""

import datetime as dt

import pytest

from schemas.events import LeaderProfile
from services.registry.domain.leaders import LeaderIn

pytestmark = pytest.mark.unit

EVERYTHING = {
    "id": "pl-1",
    "name": "Amira Ahmed",
    "pronouns": "she/her",
    "role": "carer_leader",
    "email": "amira@example.org",
    "phone": "07700 900123",
    "postal_address": "1 Example Street, Newcastle upon Tyne, NE1 1AA",
    "contact_method": "letter",
    "information_format": "large_print_24",
    "communication_professional": "British Sign Language interpreter",
    "communication_support": "Please read the letter aloud to me",
    "system": "QHM",
    "organisation": "Carers Northumberland",
    "location": {"lat": 54.97, "lon": -1.61},
    "max_travel_km": 20,
    "meeting_modes": ["video", "in_person"],
    "availability": [{"day": "tue", "start": "10:00", "end": "12:00"}],
    "unavailable_dates": ["2027-01-12"],
    "term_time_only": True,
    "min_notice_days": 14,
    "hours_per_month": 6,
    "access_needs": ["bsl_interpreter", "quiet_room"],
    "topics": ["Dementia", "carers"],
    "challenge": "Getting help at night for the person I care for, who has dementia",
    "experience": "some",
    "do_not_pair_with": ["cl-9"],
    "consents": [{"purpose": "pairing", "given": True, "at": "2026-11-01T10:00:00Z"}],
}
# Nothing that names or reaches the person, and no free text (it may hold a diagnosis).
NEVER_IN_THE_PROFILE = (
    "Amira",
    "she/her",
    "amira@example.org",
    "07700",
    "Example Street",
    "letter",
    "large_print_24",
    "Sign Language",
    "aloud",
    "at night",
    "hours_per_month",
    "consents",
    "challenge",
)


def test_the_matching_profile_is_coded_and_names_nobody():
    leader = LeaderIn(**EVERYTHING)
    event = LeaderProfile(version=1, status="active", profile=leader.matching_profile()).model_dump_json()
    for private in NEVER_IN_THE_PROFILE:
        assert private not in event, private
    profile = leader.matching_profile()
    # What the matcher needs is there, coded.
    assert profile.access_needs == ["bsl_interpreter", "quiet_room"] and profile.term_time_only
    assert profile.unavailable_dates == [dt.date(2027, 1, 12)] and profile.do_not_pair_with == ["cl-9"]


def test_every_field_a_manager_enters_is_kept():
    leader = LeaderIn(**EVERYTHING)
    kept = leader.model_dump(mode="json", exclude_unset=True)
    for field, value in EVERYTHING.items():
        if field == "topics":
            assert kept[field] == ["carers", "dementia"], "topics are tags: trimmed, lower case, sorted"
        elif field == "consents":
            assert kept[field][0]["purpose"] == "pairing" and kept[field][0]["given"] is True
        elif field in ("availability", "location"):
            assert kept[field] is not None
        else:
            assert kept[field] == value, field


def test_a_professionals_capacity_and_line_manager_release_reach_the_matcher():
    professional = LeaderIn(**{**EVERYTHING, "role": "clinical_leader", "capacity": 3, "release_confirmed": True})
    profile = professional.matching_profile()
    assert (profile.capacity, profile.release_confirmed) == (3, True)
    # A lived-experience leader is in one pair at most, whatever was typed.
    assert LeaderIn(**{**EVERYTHING, "capacity": 3}).matching_profile().capacity == 1


def test_a_persons_own_quiet_hours_reach_the_notifier_and_need_both_ends():
    from pydantic import ValidationError

    from services.common.errors import describe

    contact = LeaderIn(**EVERYTHING, quiet_hours_start="21:30", quiet_hours_end="08:00").contact(1)
    assert (contact.quiet_hours_start, contact.quiet_hours_end) == (dt.time(21, 30), dt.time(8))
    assert LeaderIn(**EVERYTHING).contact(1).quiet_hours_start is None, "none given: the programme's quiet hours"
    with pytest.raises(ValidationError) as refused:
        LeaderIn(**EVERYTHING, quiet_hours_start="21:30")
    assert describe(refused.value.errors()) == [
        {"field": "quiet_hours_end", "message": "must be given too when quiet_hours_start is, for example 08:00"}
    ]


def test_quiet_hours_come_in_from_a_spreadsheet_row():
    from services.registry.domain.importing import parse_rows

    header = ["id", "name", "role", "system", "meeting_modes", "email", "quiet_hours_start", "quiet_hours_end"]
    rows = [
        (2, ["cr-1", "Amira Ahmed", "carer_leader", "QHM", "video", "a@example.org", "21:00", "07:30"]),
        (3, ["cr-2", "Ben Bell", "carer_leader", "QHM", "video", "b@example.org", "21:00", ""]),
    ]
    valid, problems = parse_rows(header, rows, locate_town=lambda town: None)
    assert [(n, leader.quiet_hours_start, leader.quiet_hours_end) for n, leader in valid] == [(2, dt.time(21), dt.time(7, 30))]
    assert [(p.row, p.column) for p in problems] == [(3, "quiet_hours_end")]


def test_consents_come_in_from_a_spreadsheet_each_with_its_date():
    from services.registry.domain.importing import parse_rows

    header = ["id", "name", "role", "system", "meeting_modes", "email", "consents"]
    rows = [
        (2, ["cr-1", "Amira Ahmed", "carer_leader", "QHM", "video", "a@example.org", "pairing 2026-11-01; contact 2026-11-02"]),
        (3, ["cr-2", "Ben Bell", "carer_leader", "QHM", "video", "b@example.org", "marketing 2026-11-01"]),
        (4, ["cr-3", "Chloe Carter", "carer_leader", "QHM", "video", "c@example.org", "pairing yesterday"]),
    ]
    valid, problems = parse_rows(header, rows, locate_town=lambda town: None)
    ((_, leader),) = valid
    assert [(c.purpose, c.given, c.at.date()) for c in leader.consents] == [
        ("pairing", True, dt.date(2026, 11, 1)),
        ("contact", True, dt.date(2026, 11, 2)),
    ]
    assert [(p.row, p.column) for p in problems] == [(3, "consents"), (4, "consents")]
    assert "is not a purpose we know; use one of pairing" in problems[0].message
    assert "should be a real date written day/month/year, like 26/01/2027" in problems[1].message


def test_an_imported_file_adds_to_the_consent_history_and_never_undoes_a_later_change_of_mind():
    from services.registry.domain.leaders import Consent, consent_given, merged_consents

    def consent(purpose, given, day):
        return Consent(purpose=purpose, given=given, at=dt.datetime(2026, 11, day, 10, tzinfo=dt.UTC))

    stored = [consent("sharing_details_with_partner", True, 1), consent("sharing_details_with_partner", False, 20)]
    old_file = [consent("sharing_details_with_partner", True, 1), consent("pairing", True, 1)]
    merged = merged_consents(stored, old_file)
    assert not consent_given(merged, "sharing_details_with_partner"), "withdrawn on the 20th, still withdrawn"
    assert consent_given(merged, "pairing"), "what is new is added"
    assert merged_consents(stored, []) == stored, "a file without consents wipes nothing"
    assert merged_consents(merged, old_file) == merged, "importing the same file again changes nothing"
    newer = merged_consents(stored, [consent("sharing_details_with_partner", True, 25)])
    assert consent_given(newer, "sharing_details_with_partner")
