"""The registry's key store: one random data key per leader, which seals their contact record in events.

Each key is kept encrypted with the registry's own key (`REGISTRY_ENCRYPTION_KEYS`) and is shared
with the notifier on the compacted `leaders.keys.v1`, wrapped with the key the two share
(`REGISTRY_EVENT_KEYS`, the same as `NOTIFIER_EVENT_KEYS`). The matcher reads only coded
profiles and needs none. Erasure deletes the key here and puts a tombstone on the key topic,
so the person's contact records left anywhere can no longer be read (services/common/sealing.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from schemas.events import LeaderContact, LeaderKey, LeaderKeyShared, SealedContact
from schemas.topics import LEADER_KEYS
from services.common.crypto import Cipher
from services.common.sealing import new_data_key, seal_contact
from services.common.store import UnitOfWork
from services.registry import event_refs
from services.registry.adapters.orm import PersonKeyRow

# Keys read or made in this transaction, by leader (None: known to have none yet). Kept on the
# session, so an import of thousands reads them with one query and a repeated id makes one key.
CACHE = "person_keys"
# The leaders whose keys the work under way may need (PersonKeys.expect), not read yet.
EXPECTED = "person_keys: expected"


@dataclass(frozen=True)
class Sealed:
    """A key as the table keeps it, read but not yet decrypted."""

    key: bytes


@dataclass(frozen=True)
class PersonKeys:
    at_rest: Cipher  # the registry's own key: seals each data key in the table
    sharing: Cipher  # the key shared with the notifier: wraps each data key on the topic

    async def sealed_contact(self, uow: UnitOfWork, contact: LeaderContact) -> SealedContact:
        # Sealed with the person's event reference inside, as everything else in events names them.
        key = await self.key_of(uow, contact.leader_id)
        refs = await event_refs.refs_of(uow, [contact.leader_id])
        return seal_contact(contact.model_copy(update={"leader_id": refs[contact.leader_id]}), key)

    async def key_of(self, uow: UnitOfWork, leader_id: str) -> bytes:
        """The leader's data key; a new one is made, stored and shared the first time."""
        cache = uow.session.info.setdefault(CACHE, {})
        if leader_id not in cache:
            await self.read(uow, leader_id)
        if cache[leader_id] is None:
            cache[leader_id] = self.make_key(uow, leader_id)
        elif isinstance(cache[leader_id], Sealed):
            cache[leader_id] = self.at_rest.open_bytes(cache[leader_id].key)
        return cache[leader_id]

    def expect(self, uow: UnitOfWork, leader_ids: list[str]) -> None:
        """These leaders' keys may be needed next (an import's part): the first one needed reads them
        all with one query, and work that needs none (changes to what people are matched on alone,
        which send no contact record) reads none. Replaces the leaders expected before."""
        uow.session.info[EXPECTED] = leader_ids

    async def read(self, uow: UnitOfWork, leader_id: str) -> None:
        """The leader's key into the transaction's cache, with every key expected and not read yet."""
        await self.load(uow, [leader_id, *uow.session.info.pop(EXPECTED, [])])

    async def load(self, uow: UnitOfWork, leader_ids: list[str]) -> None:
        """Read these leaders' keys at once (for imports), into the transaction's cache. Each is
        decrypted only when it is used: a change that sends no contact record needs none."""
        cache = uow.session.info.setdefault(CACHE, {})
        wanted = [i for i in dict.fromkeys(leader_ids) if i not in cache]
        for start in range(0, len(wanted), 1000):
            chunk = wanted[start : start + 1000]
            rows = await uow.session.execute(
                select(PersonKeyRow.leader_id, PersonKeyRow.sealed_key).where(PersonKeyRow.leader_id.in_(chunk))
            )
            found = {leader_id: Sealed(sealed) for leader_id, sealed in rows.all()}
            cache.update({leader_id: found.get(leader_id) for leader_id in chunk})

    def make_key(self, uow: UnitOfWork, leader_id: str) -> bytes:
        key = new_data_key()
        uow.session.add(PersonKeyRow(leader_id=leader_id, sealed_key=self.at_rest.seal_bytes(key)))
        self.share(uow, leader_id, key)
        return key

    def share(self, uow: UnitOfWork, leader_id: str, key: bytes) -> None:
        shared = LeaderKey(leader_id=leader_id, wrapped_key=self.sharing.seal_text(key))
        # Published before the contact record it opens (the notifier copes with either order).
        uow.publish(LEADER_KEYS, leader_id, LeaderKeyShared(producer="registry", data=shared, correlation_id=leader_id))

    async def share_again(self, uow: UnitOfWork, leader_id: str) -> None:
        """Share the leader's key once more (under their event reference); made and shared if they have none."""
        cache = uow.session.info.setdefault(CACHE, {})
        if leader_id not in cache:
            await self.read(uow, leader_id)
        if cache[leader_id] is None:
            cache[leader_id] = self.make_key(uow, leader_id)
        else:
            self.share(uow, leader_id, await self.key_of(uow, leader_id))
