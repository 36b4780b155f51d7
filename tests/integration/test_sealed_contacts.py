"""Contact records sealed with a key for each person (crypto-shredding), on the real broker: the
registry on PostgreSQL and SQLite, the notifier on SQLite with a real SMTP server.

The record on `leaders.contact.v1` names no one; the notifier opens it with the key from
`leaders.keys.v1` and writes to the person by name. Erasing them destroys the key in both
services, so their old record, still on the topic, opens with nothing either service holds."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select

from schemas.events import (
    LeaderContact,
    LeaderContactChanged,
    LeaderKey,
    LeaderKeyShared,
    Outcome,
    OutcomePublished,
    SealedContact,
)
from schemas.topics import LEADER_CONTACTS, LEADER_KEYS, OUTCOMES
from services.common.crypto import Cipher, EncryptionKeyError, new_key
from services.common.sealing import new_data_key, open_contact, seal_contact
from services.common.settings import KafkaSettings
from services.common.store import Store, make_engine
from services.notifier.adapters import orm as notifier_orm
from services.notifier.app import create_app
from services.notifier.config import NotifierSettings
from services.notifier.contacts import contact_of
from services.registry.adapters.orm import PersonKeyRow
from services.registry.sample import sample_leaders
from tests.conftest import FAST_SESSION
from tests.integration.conftest import event_refs_of, running_registry
from tests.integration.helpers import mail_to, publish
from tests.kafka_reading import read_topic

pytestmark = pytest.mark.integration

SHARED = new_key()  # REGISTRY_EVENT_KEYS and NOTIFIER_EVENT_KEYS
REGISTRY_KEY, NOTIFIER_KEY = new_key(), new_key()


@pytest.fixture
def kafka_settings(new_broker) -> KafkaSettings:
    """A broker of each test's own. The notifier here reads leaders.keys.v1 from its start (or from
    where the session's last notifier left it): on the session's broker every key that other tests'
    registries shared there, under other event keys, was first tried and set aside one by one, which
    took minutes in a whole run and could outlast the wait for this test's own."""
    return KafkaSettings(bootstrap_servers=new_broker(), client_prefix=f"pairing-test-{uuid.uuid4().hex[:6]}", **FAST_SESSION)


@pytest.fixture
async def notifier(kafka_settings, smtp_server, tmp_path):
    """The notifier app; yields its store (to look at its tables) and its mail folder."""
    port, maildir = smtp_server
    settings = NotifierSettings(
        encryption_keys=NOTIFIER_KEY,
        event_keys=SHARED,
        database_url=f"sqlite:///{tmp_path / 'notifier.db'}",
        smtp_port=port,
        output_dir=tmp_path / "out",
        kafka=kafka_settings,
    )
    app = create_app(settings)
    await app.start()
    store = Store(make_engine(settings.database_url), notifier_orm.Outbox, notifier_orm.Inbox, notifier_orm.Base.metadata)
    try:
        yield store, maildir
    finally:
        await app.stop()
        await store.engine.dispose()


def person(tag: str) -> dict:
    return {
        **sample_leaders()[0],
        "id": f"pl-sealed-{tag}",
        "name": f"Perpetua Sealwright {tag}",
        "email": f"perpetua-{tag}@example.org",
        "phone": "07700 900987",
        "postal_address": f"7 Cipher Lane {tag}, Hexham NE46 1AA",
    }


async def eventually(check, seconds: float = 30):  # an async callable
    """The check's answer once it is truthy, or its last answer when the time is up."""
    for _ in range(int(seconds * 10)):
        if answer := await check():
            return answer
        await asyncio.sleep(0.1)
    return await check()


async def keys_held(store: Store, cipher: Cipher, model) -> list[bytes]:  # a service's PersonKeyRow
    """Every data key a service still holds, opened with its own key."""
    async with store.sessions() as session:
        return [cipher.open_bytes(row.sealed_key) for row in (await session.scalars(select(model))).all()]


async def test_the_contact_record_names_no_one_the_message_does_and_erasure_leaves_it_unreadable(
    database_url, kafka_settings, notifier
):
    notifier_store, maildir = notifier
    tag = uuid.uuid4().hex[:6]
    leader = person(tag)
    personal = [leader["name"], leader["email"], leader["phone"], leader["postal_address"]]
    bootstrap = kafka_settings.bootstrap_servers

    def mine(record) -> bool:
        return record.key == ref.encode()

    async with running_registry(database_url, kafka_settings, encryption_keys=REGISTRY_KEY, event_keys=SHARED) as registry:
        assert (await registry.post("/leaders", json=leader)).status_code == 201
        ref = (await event_refs_of(registry.store))[leader["id"]]  # events know them only by it
        (record,) = await read_topic(bootstrap, LEADER_CONTACTS, mine, expected=1, timeout_s=30)
        assert [detail for detail in personal if detail.encode() in record.value] == [], "sealed: no detail in plain text"
        sealed = LeaderContactChanged.model_validate_json(record.value).data
        assert isinstance(sealed, SealedContact)
        (shared,) = await read_topic(bootstrap, LEADER_KEYS, mine, expected=1, timeout_s=30)
        key = Cipher(SHARED).open_text(LeaderKeyShared.model_validate_json(shared.value).data.wrapped_key)
        opened = open_contact(sealed, key)
        assert opened.name == leader["name"], "the key shared on leaders.keys.v1 opens it"
        assert opened.leader_id == sealed.leader_id == ref, "named inside and out by their event reference"

        # The notifier opens it too, and writes to them by name.
        async def projected() -> LeaderContact | None:
            async with notifier_store.sessions() as session:
                return await contact_of(session, Cipher(NOTIFIER_KEY), ref)

        assert (await eventually(projected)).email == leader["email"]
        outcome = Outcome(
            round_id=f"round-{tag}",
            leader_id=ref,
            outcome="unmatched",
            unmatched_reason="Nobody nearby is free on Fridays.",
        )
        await publish(
            kafka_settings,
            OUTCOMES,
            ref,
            OutcomePublished(producer="test", correlation_id=outcome.round_id, data=outcome),
        )
        (message,) = await mail_to(maildir, leader["email"], seconds=30)
        assert f"Dear {leader['name']}" in message.get_body(preferencelist=("plain",)).get_content()

        assert (await registry.delete(f"/leaders/{leader['id']}")).status_code == 200
        records = await read_topic(bootstrap, LEADER_KEYS, mine, expected=2, timeout_s=30)
        assert len(records) == 2 and records[-1].value is None, "the key topic ends with a tombstone for them"

        async def notifier_forgot() -> bool:
            async with notifier_store.sessions() as session:
                return await session.get(notifier_orm.PersonKeyRow, ref) is None

        assert await eventually(notifier_forgot), "the notifier deleted its copy of the key"
        held = await keys_held(registry.store, Cipher(REGISTRY_KEY), PersonKeyRow)
        held += await keys_held(notifier_store, Cipher(NOTIFIER_KEY), notifier_orm.PersonKeyRow)

    # Their old record is still on the topic, and nothing either service holds opens it.
    (old, tombstone) = await read_topic(bootstrap, LEADER_CONTACTS, mine, expected=2, timeout_s=30)
    assert tombstone.value is None and old.value == record.value
    assert key not in held
    for candidate in [*held, REGISTRY_KEY.encode(), NOTIFIER_KEY.encode(), SHARED.encode()]:
        with pytest.raises(EncryptionKeyError):
            open_contact(sealed, candidate)


async def test_a_sealed_record_that_comes_before_its_key_waits_for_it(kafka_settings, notifier):
    notifier_store, _ = notifier
    leader_id = f"pl-early-{uuid.uuid4().hex[:6]}"
    contact = LeaderContact(
        leader_id=leader_id, version=1, name="Wilhelmina Early", role="patient_leader", email=f"{leader_id}@example.org"
    )
    key = new_data_key()
    changed = LeaderContactChanged(producer="test", correlation_id=leader_id, data=seal_contact(contact, key))
    await publish(kafka_settings, LEADER_CONTACTS, leader_id, changed)

    async def row(model):
        async with notifier_store.sessions() as session:
            return await session.get(model, leader_id)

    assert await eventually(lambda: row(notifier_orm.WaitingContactRow)), "it waits for its key"
    assert await row(notifier_orm.ContactRow) is None
    wrapped = LeaderKey(leader_id=leader_id, wrapped_key=Cipher(SHARED).seal_text(key))
    await publish(
        kafka_settings, LEADER_KEYS, leader_id, LeaderKeyShared(producer="test", correlation_id=leader_id, data=wrapped)
    )

    assert await eventually(lambda: row(notifier_orm.ContactRow)), "projected once its key came"
    async with notifier_store.sessions() as session:
        assert await contact_of(session, Cipher(NOTIFIER_KEY), leader_id) == contact
    assert await row(notifier_orm.WaitingContactRow) is None
