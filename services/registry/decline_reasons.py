"""The reason someone gives for saying no to a partner: free text that may mention their health.

It is sealed twice: with the person's own data key (services/registry/person_keys.py), then with
the registry's key like everything else at rest. Erasing them deletes their answers and destroys
their key, as does the end of a withdrawn person's last round, so a reason left in an old copy
of the database can no longer be read. Reasons are shown to managers and admins only, and go with
the answers when the registry's retention period ends (services/registry/retention.py).
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select

from services.common.crypto import Cipher
from services.common.store import UnitOfWork
from services.registry.adapters.orm import PersonKeyRow, ResponseRow

NO_LONGER_KEPT = "Given, but no longer kept"


async def keys_of(uow: UnitOfWork, cipher: Cipher, leader_ids: set[str]) -> dict[str, bytes]:
    """The data keys the registry still holds for these leaders (an erased person has none)."""
    found: dict[str, bytes] = {}
    wanted = sorted(leader_ids)
    for start in range(0, len(wanted), 1000):
        rows = await uow.session.execute(
            select(PersonKeyRow.leader_id, PersonKeyRow.sealed_key).where(
                PersonKeyRow.leader_id.in_(wanted[start : start + 1000])
            )
        )
        found.update({leader_id: cipher.open_bytes(sealed) for leader_id, sealed in rows.all()})
    return found


async def seal_reason(uow: UnitOfWork, cipher: Cipher, leader_id: str, reason: str | None) -> bytes | None:
    if not reason:
        return None
    key = (await keys_of(uow, cipher, {leader_id})).get(leader_id)
    if key is None:  # someone registered before people had keys of their own
        return cipher.seal({"reason": reason})
    return cipher.seal({"sealed": Fernet(key).encrypt(reason.encode()).decode()})


def open_reason(cipher: Cipher, sealed: bytes, key: bytes | None) -> str:
    """The reason in words, or NO_LONGER_KEPT when the key that sealed it has been destroyed."""
    inner = cipher.open(sealed)
    if "reason" in inner:
        return inner["reason"]
    if key is None:
        return NO_LONGER_KEPT
    try:
        return Fernet(key).decrypt(inner["sealed"].encode()).decode()
    except InvalidToken:  # a new key made after the old one was destroyed
        return NO_LONGER_KEPT


async def reasons_of(uow: UnitOfWork, cipher: Cipher, answers: list[ResponseRow]) -> dict[str, str]:
    """Each answer's reason by the answer's nonce, for the answers that have one."""
    given = [a for a in answers if a.sealed_reason]
    keys = await keys_of(uow, cipher, {a.leader_id for a in given})
    return {a.nonce: open_reason(cipher, sealed, keys.get(a.leader_id)) for a in given if (sealed := a.sealed_reason)}
