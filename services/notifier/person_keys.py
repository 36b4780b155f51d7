"""Each leader's data key, from `leaders.keys.v1`, to open their sealed contact records.

The registry seals every contact record with the leader's own data key and shares the key,
wrapped with the key the two services share (`NOTIFIER_EVENT_KEYS`). The notifier keeps each
key encrypted with its own key, opens the record when it projects it, and deletes the key when
the key's tombstone arrives (the person was erased): copies of their record left anywhere can
then no longer be read. The two topics are read apart, so a record that comes before its key
waits (encrypted) in `contacts_waiting` and is projected when the key arrives.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select

from schemas.events import LeaderContact, LeaderKeyShared, SealedContact
from services.common.crypto import Cipher, EncryptionKeyError
from services.common.sealing import open_contact
from services.common.store import UnitOfWork
from services.notifier.adapters.orm import PersonKeyRow, WaitingContactRow
from services.notifier.contacts import made, project_contact, stored
from services.notifier.erasure import forget_person

log = logging.getLogger("pairing.notifier.keys")


async def opened(uow: UnitOfWork, cipher: Cipher, sealed: SealedContact) -> LeaderContact | None:
    """The contact record inside, or None: its key has not come yet (it waits), or was destroyed."""
    row = await stored(uow.session, PersonKeyRow, sealed.leader_id)
    if row is None:
        await wait_for_key(uow, cipher, sealed)
        return None
    return readable(sealed, cipher.open_bytes(row.sealed_key))


def readable(sealed: SealedContact, key: bytes) -> LeaderContact | None:
    try:
        return open_contact(sealed, key)
    except EncryptionKeyError:
        # Sealed with a key since destroyed: the person was erased (and registered again under the same id).
        log.warning("a contact record that its leader's key does not open was skipped (version %d)", sealed.version)
        return None


async def wait_for_key(uow: UnitOfWork, cipher: Cipher, sealed: SealedContact) -> None:
    waiting = await stored(uow.session, WaitingContactRow, sealed.leader_id)
    if waiting is not None and waiting.version >= sealed.version:
        return
    if waiting is None:
        waiting = WaitingContactRow(leader_id=sealed.leader_id)
        made(uow.session, waiting, sealed.leader_id)
    waiting.version = sealed.version
    waiting.sealed_record = cipher.seal_bytes(sealed.model_dump_json().encode())


async def apply_key(uow: UnitOfWork, shared: LeaderKeyShared, cipher: Cipher, sharing: Cipher) -> None:
    """Keep the key (encrypted with the notifier's own key) and open a record that was waiting for it."""
    leader_id = shared.data.leader_id
    try:
        key = sharing.open_text(shared.data.wrapped_key)
    except EncryptionKeyError as exc:
        raise EncryptionKeyError(
            "a leader's key on leaders.keys.v1 cannot be opened: NOTIFIER_EVENT_KEYS must hold the key in REGISTRY_EVENT_KEYS"
        ) from exc
    row = await stored(uow.session, PersonKeyRow, leader_id)
    if row is None:
        row = PersonKeyRow(leader_id=leader_id)
        made(uow.session, row, leader_id)
    row.sealed_key = cipher.seal_bytes(key)
    waiting = await stored(uow.session, WaitingContactRow, leader_id)
    if waiting is None:
        return
    sealed = SealedContact.model_validate_json(cipher.open_bytes(waiting.sealed_record))
    await uow.session.delete(waiting)
    if (contact := readable(sealed, key)) is not None:
        await project_contact(uow, contact, cipher)


async def open_waiting(uow: UnitOfWork, cipher: Cipher, leader_ids: list[str]) -> bool:
    """Project any of these people's records still waiting for a key that has come since.

    A record and its key can be handled at the same moment (the two topics are read apart, maybe
    by two instances), each transaction not yet seeing the other's row: the record then waits
    though its key is here. Whoever needs the details opens it; True when one was opened."""
    waiting = (await uow.session.scalars(select(WaitingContactRow).where(WaitingContactRow.leader_id.in_(leader_ids)))).all()
    found = False
    for row in waiting:
        key = await uow.session.get(PersonKeyRow, row.leader_id)
        if key is None:
            continue
        sealed = SealedContact.model_validate_json(cipher.open_bytes(row.sealed_record))
        await uow.session.delete(row)
        if (contact := readable(sealed, cipher.open_bytes(key.sealed_key))) is not None:
            await project_contact(uow, contact, cipher)
        found = True
    return found


async def forget_key(uow: UnitOfWork, leader_id: str) -> None:
    """The key's tombstone: the person was erased. Their key goes, so no copy of their record opens again."""
    await uow.session.execute(delete(PersonKeyRow).where(PersonKeyRow.leader_id == leader_id))
    await forget_waiting(uow, leader_id)


async def forget_waiting(uow: UnitOfWork, leader_id: str) -> None:
    await uow.session.execute(delete(WaitingContactRow).where(WaitingContactRow.leader_id == leader_id))


async def forget_contact(notifier, uow: UnitOfWork, leader_id: str) -> None:
    """The contact topic's tombstone: a record still waiting for its key goes too, then everything else."""
    await forget_waiting(uow, leader_id)
    await forget_person(notifier, uow, leader_id)
