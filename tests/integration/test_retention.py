"""Retention, on the real broker and real databases (PostgreSQL and SQLite): topics are created
with how long they keep events, and each service's purge deletes what is past its period."""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from sqlalchemy import select

from schemas.topics import DEAD_LETTERS, LEADER_CONTACTS, LEADER_KEYS, OUTCOMES, Topic
from services.common.crypto import Cipher, new_key
from services.common.kafka import DAY_MS, ensure_topics
from services.common.store import make_engine
from services.notifier import retention as notifier_retention
from services.notifier.adapters.orm import DeliveryRow as NotifierDelivery
from services.registry import event_refs
from services.registry import retention as registry_retention
from services.registry.adapters import orm as registry_orm
from tests.integration.notifier_world import notifier

pytestmark = pytest.mark.integration

NOW = dt.datetime(2027, 3, 1, 12, tzinfo=dt.UTC)
LONG_AGO = NOW - dt.timedelta(days=401)
LATELY = NOW - dt.timedelta(days=10)


async def test_topics_are_created_with_their_retention_periods(kafka_settings):
    suffix = uuid.uuid4().hex[:6]
    events = Topic(f"{OUTCOMES.name}.{suffix}", key="leader_id")
    contacts = Topic(f"{LEADER_CONTACTS.name}.{suffix}", key="leader_id", compacted=True)
    letters = Topic(DEAD_LETTERS.name, key="k", partitions=1)
    settings = kafka_settings.model_copy(update={"retention_days": 7, "dead_letter_retention_days": 3})
    await ensure_topics(settings, (events, contacts))
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_settings.bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t.name) for t in (events, contacts)])
    finally:
        await admin.close()
    found = {}
    for response in described:
        for _code, _message, _type, name, entries in response.resources:
            found[name] = {entry[0]: entry[1] for entry in entries}
    assert found[events.name]["retention.ms"] == str(7 * DAY_MS)
    assert found[contacts.name]["cleanup.policy"] == "compact"
    assert found[contacts.name]["delete.retention.ms"] == str(DAY_MS), "a tombstone is kept one day"
    from services.common.kafka import topic_config

    assert topic_config(letters, settings)["retention.ms"] == str(3 * DAY_MS)


@pytest.fixture
async def registry_store(database_url):
    store = event_refs.registry_store(make_engine(database_url))
    await store.prepare("registry")
    yield store
    await store.engine.dispose()


def leader(cipher: Cipher, leader_id: str, status: str, keyed_by_id: bool = False) -> registry_orm.LeaderRow:
    sealed = {
        "name": f"Name {leader_id}",
        "email": f"{leader_id}@example.org",
        "phone": "07700 900123",
        "postal_address": "1 Example Street",
        "proxy": None,
        "access_needs": [],
    }
    token = cipher.seal(sealed)
    return registry_orm.LeaderRow(
        id=leader_id,
        role="patient_leader",
        system="leeds",
        status=status,
        version=1,
        public={"id": leader_id},
        sealed=token,
        digest_of_sealed=cipher.digest(Cipher.plain(sealed), token),
        keyed_by_id=keyed_by_id,
    )


def round_row(round_id: str, status: str, leader_ids: list[str]) -> registry_orm.RoundRow:
    return registry_orm.RoundRow(id=round_id, status=status, spec={}, leader_ids=leader_ids, locked_pairs=[], forbidden_pairs=[])


async def test_the_registry_purges_old_reports_and_answers_and_withdrawn_peoples_contact_details(registry_store):
    cipher = Cipher(new_key())
    async with registry_store.unit_of_work() as uow:
        uow.session.add_all(
            [
                # withdrawn; their only round is closed; registered before events carried event references
                leader(cipher, "pl-left", "withdrawn", keyed_by_id=True),
                leader(cipher, "pl-waiting", "withdrawn"),  # withdrawn; a round of theirs is still published
                leader(cipher, "pl-here", "active"),
                registry_orm.PersonKeyRow(leader_id="pl-left", sealed_key=cipher.seal_bytes(b"the key of pl-left")),
                registry_orm.PersonKeyRow(leader_id="pl-waiting", sealed_key=cipher.seal_bytes(b"the key of pl-waiting")),
                round_row("r-closed", "closed", ["pl-left", "pl-waiting"]),
                round_row("r-open", "published", ["pl-waiting", "pl-here"]),
                registry_orm.DeliveryRow(
                    round_id="r-closed", leader_id="pl-here", channel="email", status="sent", updated_at=LONG_AGO
                ),
                registry_orm.DeliveryRow(
                    round_id="r-open", leader_id="pl-here", channel="email", status="sent", updated_at=LATELY
                ),
                registry_orm.ResponseRow(
                    nonce="old",
                    round_id="r-closed",
                    leader_id="pl-here",
                    partner_id="pl-left",
                    answer="decline",
                    sealed_reason=cipher.seal({"reason": "x"}),
                    answered_at=LONG_AGO,
                ),
                registry_orm.EndedPairRow(
                    round_id="r-closed",
                    lived_experience_id="pl-here",
                    professional_id="pl-left",
                    asked_by="pl-here",
                    reason="other",
                    sealed_words=cipher.seal({"reason": "old words"}),
                    via="link",
                    ended_at=LONG_AGO,
                ),
                registry_orm.EndedPairRow(
                    round_id="r-open",
                    lived_experience_id="pl-here",
                    professional_id="pl-waiting",
                    asked_by="pl-here",
                    reason="other",
                    sealed_words=cipher.seal({"reason": "new words"}),
                    via="link",
                    ended_at=LATELY,
                ),
                registry_orm.ResponseRow(
                    nonce="new",
                    round_id="r-open",
                    leader_id="pl-here",
                    partner_id="pl-waiting",
                    answer="accept",
                    answered_at=LATELY,
                ),
                *[
                    registry_orm.FollowUpAnswerRow(
                        round_id=round_id,
                        leader_id="pl-here",
                        partner_id="pl-waiting",
                        question="check_in",
                        number=1,
                        answer="some_problems",
                        sealed_words=cipher.seal({"reason": "words"}),
                        given_by="leader",
                        via="link",
                        answered_at=at,
                    )
                    for round_id, at in (("r-closed", LONG_AGO), ("r-open", LATELY))
                ],
                *[
                    registry_orm.AuditRow(at=at, actor="a@example.org", action="read", leader_id="pl-here", purpose=why)
                    for at, why in ((NOW - dt.timedelta(days=2191), "seven years ago"), (LONG_AGO, "kept"))
                ],
            ]
        )
        await uow.commit()

    removed = await registry_retention.purge(registry_store, cipher, NOW, keep_days=400, audit_days=2190)
    assert removed == {
        "delivery reports": 1,
        "answers": 1,
        "words given when a pair ended": 1,
        "answers to did you meet and check-ins": 1,
        "withdrawn contact details": 1,
        "audit log entries": 1,
    }
    assert await registry_retention.purge(registry_store, cipher, NOW, keep_days=400, audit_days=2190) == {
        "delivery reports": 0,
        "answers": 0,
        "words given when a pair ended": 0,
        "answers to did you meet and check-ins": 0,
        "withdrawn contact details": 0,
        "audit log entries": 0,
    }, "once is enough"
    async with registry_store.sessions() as session:
        audited = (await session.scalars(select(registry_orm.AuditRow.purpose))).all()
    assert audited == ["kept"], "the audit log keeps six years"
    async with registry_store.sessions() as session:
        kept = (await session.scalars(select(registry_orm.FollowUpAnswerRow.round_id))).all()
    assert kept == ["r-open"], "only the recent answer after pairing stays"
    async with registry_store.sessions() as session:
        ended = {r.round_id: r.sealed_words for r in (await session.scalars(select(registry_orm.EndedPairRow))).all()}
    assert set(ended) == {"r-closed", "r-open"}, "ended pairs stay ended"
    assert ended["r-closed"] is None and cipher.open(ended["r-open"]) == {"reason": "new words"}

    async with registry_store.sessions() as session:
        deliveries = [(d.round_id, d.leader_id) for d in (await session.scalars(select(registry_orm.DeliveryRow))).all()]
        answers = [r.nonce for r in (await session.scalars(select(registry_orm.ResponseRow))).all()]
        rows = (await session.scalars(select(registry_orm.LeaderRow))).all()
        people = {row.id: cipher.open(row.sealed) for row in rows}
        refs = {row.id: row.event_ref for row in rows}
        digests = {row.id: row.digest_of_sealed for row in rows}
        outbox = (await session.scalars(select(registry_orm.Outbox))).all()
        keys = (await session.scalars(select(registry_orm.PersonKeyRow.leader_id))).all()
    assert deliveries == [("r-open", "pl-here")] and answers == ["new"]
    assert people["pl-left"]["name"] == "Name pl-left", "the name stays, so the history still reads"
    assert [people["pl-left"][f] for f in ("email", "phone", "postal_address")] == [None, None, None]
    assert people["pl-waiting"]["email"] == "pl-waiting@example.org", "their round is still open"
    assert digests["pl-left"] is None, "not even a keyed digest of the contact details removed is kept"
    assert digests["pl-waiting"] is not None
    assert people["pl-here"]["email"] == "pl-here@example.org"
    assert sorted((t.topic, t.key, t.value) for t in outbox) == sorted(
        [
            (LEADER_CONTACTS.name, refs["pl-left"], None),
            (LEADER_KEYS.name, refs["pl-left"], None),
            (LEADER_CONTACTS.name, "pl-left", None),
            (LEADER_KEYS.name, "pl-left", None),
        ]
    ), "tombstones for their contact record and the key that sealed it: by event reference, and by the id of before"
    assert keys == ["pl-waiting"], "their key is destroyed, so their records on the topic can no longer be read"


async def test_the_notifier_purges_old_message_records_and_files(store, channels, settings):
    n = notifier(store, channels)
    n.folders = (settings.sms_dir, settings.tasks_dir)
    now = n.now()
    async with store.unit_of_work() as uow:
        uow.session.add_all(
            [
                NotifierDelivery(
                    key="old",
                    round_id="r",
                    leader_id="pl-1",
                    channel="sms",
                    status="sent",
                    detail="",
                    updated_at=now - dt.timedelta(days=401),
                ),
                NotifierDelivery(
                    key="new",
                    round_id="r",
                    leader_id="pl-2",
                    channel="sms",
                    status="sent",
                    detail="",
                    updated_at=now - dt.timedelta(days=1),
                ),
            ]
        )
        await uow.commit()
    settings.sms_dir.mkdir(parents=True)
    old, recent = settings.sms_dir / "old.txt", settings.sms_dir / "recent.txt"
    old.write_text("To: 07700 900123")
    recent.write_text("To: 07700 900456")
    long_ago = (now - dt.timedelta(days=91)).timestamp()
    os.utime(old, (long_ago, long_ago))

    assert await notifier_retention.purge(n, keep_days=400, file_days=90) == {"message records": 1, "files": 1}
    async with store.sessions() as session:
        assert [row.key for row in (await session.scalars(select(NotifierDelivery))).all()] == ["new"]
    assert sorted(p.name for p in settings.sms_dir.iterdir()) == ["recent.txt"]
