"""The person who gets a leader's messages, in the registry on a real database (PostgreSQL and SQLite):
sealed at rest like every contact detail, and in the contact event only while the leader agrees."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from schemas.events import LeaderContact, LeaderContactChanged
from schemas.topics import LEADER_CONTACTS
from services.common.crypto import Cipher, new_key
from services.common.sealing import open_contact
from services.common.store import Store
from services.registry.domain.leaders import Consent, LeaderIn
from services.registry.handlers import leaders as leader_handlers
from services.registry.person_keys import PersonKeys

pytestmark = pytest.mark.integration

CIPHER = Cipher(new_key())
KEYS = PersonKeys(CIPHER, Cipher(new_key()))
AGREED = Consent(purpose="contact_via_proxy", given=True, at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
WITHDRAWN = Consent(purpose="contact_via_proxy", given=False, at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
LEADER = LeaderIn(
    id="pl-proxy",
    name="Amira Ahmed",
    role="patient_leader",
    contact_method="via_carer",
    system="QHM",
    meeting_modes=["video"],
    proxy={"name": "Samuel Proxyson", "relationship": "son", "email": "samuel.proxyson@example.org", "phone": "07700 900456"},
    consents=[AGREED],
)


async def register(store: Store, leader: LeaderIn) -> list[LeaderContact]:
    """Registers the leader; returns the contact records it published, opened with the leader's key."""
    contacts: list[LeaderContactChanged] = []
    async with store.unit_of_work() as uow:
        publish = uow.publish

        def keep(topic, key, event):
            if topic == LEADER_CONTACTS:
                contacts.append(event)
            publish(topic, key, event)

        uow.publish = keep
        await leader_handlers.register_leader(uow, CIPHER, leader, keys=KEYS)
        await uow.commit()
    async with store.unit_of_work() as uow:
        # The records name them by their event reference; the key store knows them by their id.
        return [open_contact(c.data, await KEYS.key_of(uow, leader.id)) for c in contacts]


async def test_the_contact_event_carries_the_proxy_while_consent_is_given_and_drops_it_when_withdrawn(registry_store):
    (first,) = await register(registry_store, LEADER)
    assert first.proxy is not None
    assert (first.proxy.name, first.proxy.email) == ("Samuel Proxyson", "samuel.proxyson@example.org")

    (second,) = await register(registry_store, LEADER.model_copy(update={"consents": [AGREED, WITHDRAWN]}))
    assert second.version == 2 and second.proxy is None

    async with registry_store.unit_of_work() as uow:
        kept = await leader_handlers.read_leader(uow, CIPHER, "pl-proxy", "test", "checking the proxy is kept")
    assert kept["proxy"]["name"] == "Samuel Proxyson", "still recorded, only no longer shared"


async def test_a_proxy_recorded_without_consent_is_never_in_a_contact_event(registry_store):
    (only,) = await register(registry_store, LEADER.model_copy(update={"consents": []}))
    assert only.proxy is None and only.contact_method == "via_carer"


async def test_the_proxys_details_are_sealed_at_rest(registry_store):
    await register(registry_store, LEADER)
    async with registry_store.engine.connect() as conn:
        stored = repr((await conn.execute(text("select * from leaders"))).all())
    for detail in ("Samuel Proxyson", "samuel.proxyson@example.org", "07700 900456"):
        assert detail not in stored
