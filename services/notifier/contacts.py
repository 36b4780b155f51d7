"""The notifier's copy of people's contact details, and its register of erased people.

Kept apart from the handlers and from erasure, which both use it, so that no two
modules import each other.
"""

from __future__ import annotations

import hashlib
from typing import Any, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.events import LeaderContact
from services.common.crypto import Cipher
from services.common.store import UnitOfWork
from services.notifier.adapters.orm import ContactRow, ErasedRow

# Rows a projection's batch found missing when it read its people's rows at once (handlers.load_contacts),
# by (class, key): looked up again, no query is sent for them (one each, for every new person) unless made since.
MISSING = "missing rows"
Row = TypeVar("Row")


def digest(leader_id: str) -> str:
    """What is kept of an erased person's id: enough to recognise news about them, never the id."""
    return hashlib.sha256(f"erased:{leader_id}".encode()).hexdigest()


async def erased_among(session: AsyncSession, leader_ids: list[str]) -> set[str]:
    """Which of these people have been erased."""
    digests = {digest(leader): leader for leader in leader_ids}
    found = await session.scalars(select(ErasedRow.digest).where(ErasedRow.digest.in_(list(digests))))
    return {digests[d] for d in found.all()}


def known_missing(session: AsyncSession, model: type[Any], key: str) -> bool:
    return (model, key) in session.info.get(MISSING, ())


async def stored(session: AsyncSession, model: type[Row], key: str) -> Row | None:
    """session.get, less its query for a row the batch's first read found missing."""
    if known_missing(session, model, key):
        return None
    return await session.get(model, key)


def made(session: AsyncSession, row: Any, key: str) -> None:
    """A new row, in the session: no longer missing."""
    session.add(row)
    session.info.get(MISSING, set()).discard((type(row), key))


async def project_contact(uow: UnitOfWork, data: LeaderContact, cipher: Cipher) -> None:
    """Keep the newest version of a person's contact details, sealed."""
    row = await stored(uow.session, ContactRow, data.leader_id)
    if row is not None and row.version >= data.version:
        return
    if row is None:
        # Back after their contact details were removed (withdrawn, or erased and registered again): hear them again.
        # Before the new row is added: the delete would flush it half made.
        if not known_missing(uow.session, ErasedRow, digest(data.leader_id)):
            await uow.session.execute(delete(ErasedRow).where(ErasedRow.digest == digest(data.leader_id)))
        row = ContactRow(leader_id=data.leader_id)
        made(uow.session, row, data.leader_id)
    row.version = data.version
    row.sealed = cipher.seal(data.model_dump(mode="json"))


async def contact_of(session: AsyncSession, cipher: Cipher, leader_id: str) -> LeaderContact | None:
    row = await session.get(ContactRow, leader_id)
    return LeaderContact.model_validate(cipher.open(row.sealed)) if row else None
