"""Registering a leader: the sealed part of their record, whether a record changes anything, and
when a change means they have left the programme (domain/registering.py)."""

import pytest

from schemas.events import LeaderContact
from services.registry.domain.leaders import LeaderIn
from services.registry.domain.registering import (
    CONTACT_SOURCES,
    SEALED_FIELDS,
    change_of,
    contact_changed,
    leaves_the_programme,
    split_record,
)

pytestmark = pytest.mark.unit


def a_record(**change) -> dict:
    return (
        {name: None for name in SEALED_FIELDS} | {"name": "Amira Ahmed", "access_needs": ["hearing_loop"], "id": "pl-1"} | change
    )


def test_who_they_are_how_to_reach_them_and_their_needs_are_sealed_the_rest_is_not():
    public, sealed = split_record(a_record(role="patient_leader", topics=["cancer"]))
    assert public == {"id": "pl-1", "role": "patient_leader", "topics": ["cancer"]}
    assert sealed["name"] == "Amira Ahmed" and sealed["access_needs"] == ["hearing_loop"]
    assert set(sealed) == set(SEALED_FIELDS)


def test_a_new_leader_is_created_and_a_record_like_the_stored_one_changes_nothing():
    public, sealed = split_record(a_record())
    assert change_of(None, public, sealed) == "created"
    assert change_of((dict(public), dict(sealed)), public, sealed) == "unchanged"


def test_a_change_to_either_part_is_an_update():
    public, sealed = split_record(a_record())
    assert change_of((public, sealed), {**public, "topics": ["stroke"]}, sealed) == "updated"
    assert change_of((public, sealed), public, {**sealed, "email": "amira@example.org"}) == "updated"


@pytest.mark.parametrize(
    ("before", "now", "left"),
    [("active", "withdrawn", True), (None, "withdrawn", False), ("withdrawn", "withdrawn", False), ("active", "active", False)],
)
def test_only_an_active_leader_marked_withdrawn_has_left(before, now, left):
    assert leaves_the_programme(before, now) is left


def test_only_a_change_to_what_the_contact_record_is_made_of_changes_it():
    public, sealed = split_record(a_record(role="patient_leader", topics=["cancer"]))
    stored = (dict(public), dict(sealed))
    assert contact_changed(None, public, sealed), "a new leader's contact record is new"
    assert not contact_changed(stored, *split_record(a_record(role="patient_leader", topics=["stroke"])))
    assert contact_changed(stored, *split_record(a_record(role="patient_leader", topics=["cancer"], email="a@example.org")))
    assert contact_changed(stored, *split_record(a_record(role="clinical_leader", topics=["cancer"])))
    consent = {"purpose": "contact_via_proxy", "given": True, "at": "2026-01-01T00:00:00Z"}
    assert contact_changed(stored, *split_record(a_record(role="patient_leader", topics=["cancer"], consents=[consent])))


def test_with_the_sealed_part_kept_as_it_was_a_change_to_a_public_contact_field_still_counts():
    """register_leader passes the new sealed part as the stored one when its digest says it is the same."""
    public, sealed = split_record(a_record(role="patient_leader", topics=["cancer"]))
    stored = (dict(public), sealed)
    assert not contact_changed(stored, {**public, "topics": ["stroke"]}, sealed)
    consent = {"purpose": "contact_via_proxy", "given": True, "at": "2026-01-01T00:00:00Z"}
    for change in ({"role": "clinical_leader"}, {"quiet_hours_start": "21:00"}, {"organisation": "NHS"}, {"consents": [consent]}):
        assert contact_changed(stored, {**public, **change}, sealed), change


def test_every_field_of_the_contact_record_comes_from_a_field_compared_for_a_change():
    made_of = set(LeaderContact.model_fields) - {"leader_id", "version"}
    assert made_of <= CONTACT_SOURCES, f"LeaderContact has fields not compared: {sorted(made_of - CONTACT_SOURCES)}"
    assert set(LeaderIn.model_fields) >= CONTACT_SOURCES, sorted(CONTACT_SOURCES - set(LeaderIn.model_fields))
