"""Contact records sealed with a key for each person: only that person's key opens them."""

import pytest

from schemas.events import LeaderContact, LeaderContactChanged, SealedContact
from services.common.crypto import EncryptionKeyError
from services.common.sealing import new_data_key, open_contact, seal_contact

pytestmark = pytest.mark.unit

AMIRA = LeaderContact(
    leader_id="pl-1",
    version=3,
    name="Amira Ahmed",
    role="patient_leader",
    email="amira@example.org",
    phone="07700 900123",
    postal_address="1 Example Street, Leeds LS1 1AA",
    communication_support="Short sentences, please",
)
PERSONAL = ["Amira Ahmed", "amira@example.org", "07700 900123", "Example Street", "Short sentences"]


def test_the_sealed_record_names_no_one_and_opens_with_the_persons_key():
    key = new_data_key()
    sealed = seal_contact(AMIRA, key)
    wire = LeaderContactChanged(producer="t", correlation_id="pl-1", data=sealed).model_dump_json()
    assert not [detail for detail in PERSONAL if detail in wire]
    assert (sealed.leader_id, sealed.version) == ("pl-1", 3)
    assert open_contact(sealed, key) == AMIRA


def test_any_other_key_cannot_open_it():
    sealed = seal_contact(AMIRA, new_data_key())
    with pytest.raises(EncryptionKeyError, match="cannot be opened"):
        open_contact(sealed, new_data_key())


def test_a_sealed_record_moved_to_another_leader_is_refused():
    key = new_data_key()
    moved = seal_contact(AMIRA, key).model_copy(update={"leader_id": "pl-2"})
    with pytest.raises(EncryptionKeyError, match="someone else"):
        open_contact(moved, key)


def test_the_event_reads_both_the_sealed_shape_and_the_older_plain_one():
    sealed = LeaderContactChanged(producer="t", correlation_id="pl-1", data=seal_contact(AMIRA, new_data_key()))
    plain = LeaderContactChanged(producer="t", correlation_id="pl-1", data=AMIRA)
    assert isinstance(LeaderContactChanged.model_validate_json(sealed.model_dump_json()).data, SealedContact)
    assert LeaderContactChanged.model_validate_json(plain.model_dump_json()).data == AMIRA
