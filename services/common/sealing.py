"""Contact records sealed in the event with a key for each person (crypto-shredding).

The registry seals each `LeaderContact` with that leader's own data key (a Fernet
key) before it goes on `leaders.contact.v1`, and shares the key on
`leaders.keys.v1`, wrapped with a key only the registry and the notifier hold.
Erasing someone destroys their key, so every copy of their contact record, on a
topic, in a log or a dead letter, can no longer be read.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken
from pydantic import ValidationError

from schemas.events import LeaderContact, SealedContact
from services.common.crypto import EncryptionKeyError


def new_data_key() -> bytes:
    return Fernet.generate_key()


def seal_contact(contact: LeaderContact, key: bytes) -> SealedContact:
    token = Fernet(key).encrypt(contact.model_dump_json(by_alias=True).encode())
    return SealedContact(leader_id=contact.leader_id, version=contact.version, sealed=token.decode())


def open_contact(sealed: SealedContact, key: bytes) -> LeaderContact:
    """The contact record inside; refuses a key that is not this leader's, or a record moved from another leader."""
    try:
        contact = LeaderContact.model_validate_json(Fernet(key).decrypt(sealed.sealed.encode()))
    except (InvalidToken, ValidationError, ValueError) as exc:
        raise EncryptionKeyError(f"the contact record of {sealed.leader_id} cannot be opened with the key held for them") from exc
    if (contact.leader_id, contact.version) != (sealed.leader_id, sealed.version):
        raise EncryptionKeyError(f"the sealed contact record of {sealed.leader_id} holds someone else's details")
    return contact
