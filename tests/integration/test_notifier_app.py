"""The notifier as it runs: its consumers on the real broker, its scheduler
started and stopped with the app, a real SMTP server (or a closed port) and SQLite."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select

from schemas.events import (
    Outcome,
    OutcomePublished,
    PairAccepted,
    PairAnswer,
    PairDeclined,
)
from schemas.topics import OUTCOMES, RESPONSES
from services.common.crypto import new_key
from services.common.deadletters import read_dead_letters
from services.common.embedded import free_port
from services.common.settings import KafkaSettings, ReliabilitySettings
from services.common.store import Store, make_engine
from services.notifier.adapters.orm import Base, ContactRow, DeliveryRow, Inbox, Outbox
from services.notifier.app import create_app
from services.notifier.clock import Clock, FrozenClock, RunningClock
from services.notifier.config import NotifierSettings
from tests.conftest import FAST_SESSION
from tests.integration.helpers import MIDDAY, contact, mail_to, publish

pytestmark = pytest.mark.integration


@pytest.fixture
def clock(request) -> Clock:
    """Time runs, from midday; a test marked `frozen_clock` stops it, so only a wake-up can send a waiting message."""
    return FrozenClock(MIDDAY) if request.node.get_closest_marker("frozen_clock") else RunningClock(MIDDAY)


@pytest.fixture
async def running(kafka_settings, smtp_server, tmp_path, clock):
    port, maildir = smtp_server
    settings = NotifierSettings(
        encryption_keys=new_key(),
        event_keys=new_key(),
        database_url=f"sqlite:///{tmp_path / 'notifier.db'}",
        smtp_port=port,
        output_dir=tmp_path / "out",
        contact_wait_seconds=60,
        scheduler_poll_seconds=30,  # long: only a new contact can make the waiting outcome go soon
        kafka=kafka_settings,
    )
    app = create_app(settings, clock=clock)
    await app.start()
    try:
        yield maildir
    finally:
        await app.stop()


async def test_a_partner_is_told_when_the_other_says_no_and_not_when_they_say_yes(running, kafka_settings):
    maildir = running
    tag = uuid.uuid4().hex[:6]
    amira, ben, chloe = f"pl-{tag}", f"cl-{tag}", f"cr-{tag}"
    await contact(kafka_settings, amira, "Amira Ahmed", "patient_leader")
    await contact(kafka_settings, ben, "Ben Bell", "clinical_leader")
    await contact(kafka_settings, chloe, "Chloe Carter", "carer_leader")
    round_id = f"round-{tag}"
    accepted = PairAccepted(
        producer="test", correlation_id=round_id, data=PairAnswer(round_id=round_id, leader_id=chloe, partner_id=ben)
    )
    await publish(kafka_settings, RESPONSES, round_id, accepted)
    said_no = PairDeclined(
        producer="test", correlation_id=round_id, data=PairAnswer(round_id=round_id, leader_id=ben, partner_id=amira)
    )
    await publish(kafka_settings, RESPONSES, round_id, said_no)

    (message,) = await mail_to(maildir, f"{amira}@example.org")
    assert "Ben Bell has decided not to go ahead" in message.get_body(preferencelist=("plain",)).get_content()
    assert await mail_to(maildir, f"{ben}@example.org", seconds=1) == [], "the one who said no is not written to"
    assert await mail_to(maildir, f"{chloe}@example.org", seconds=1) == [], "a yes tells nobody anything"


@pytest.mark.frozen_clock
async def test_an_outcome_that_arrives_before_the_contact_details_is_sent_as_soon_as_they_come(running, kafka_settings):
    maildir = running
    tag = uuid.uuid4().hex[:6]
    amira = f"pl-{tag}"
    outcome = Outcome(
        round_id=f"round-{tag}", leader_id=amira, outcome="unmatched", unmatched_reason="Nobody nearby is free on Tuesdays."
    )
    await publish(
        kafka_settings, OUTCOMES, amira, OutcomePublished(producer="test", correlation_id=outcome.round_id, data=outcome)
    )
    await asyncio.sleep(1)
    assert await mail_to(maildir, f"{amira}@example.org", seconds=0.1) == []
    await contact(kafka_settings, amira, "Amira Ahmed", "patient_leader")
    # Far sooner than the 30 second poll: the new contact wakes the scheduler.
    (message,) = await mail_to(maildir, f"{amira}@example.org", seconds=15)
    assert "Nobody nearby is free on Tuesdays." in message.get_body(preferencelist=("plain",)).get_content()


async def test_a_mail_server_that_stays_down_is_retried_then_the_outcome_is_dead_lettered_and_reported_failed(
    new_broker, tmp_path
):
    kafka = KafkaSettings(bootstrap_servers=new_broker(), client_prefix=f"pairing-test-{uuid.uuid4().hex[:6]}", **FAST_SESSION)
    settings = NotifierSettings(
        encryption_keys=new_key(),
        event_keys=new_key(),
        database_url=f"sqlite:///{tmp_path / 'notifier.db'}",
        smtp_port=free_port(),  # nothing listens there
        output_dir=tmp_path / "out",
        kafka=kafka,
        reliability=ReliabilitySettings(max_attempts=3, first_backoff_seconds=0.01),
    )
    app = create_app(settings, clock=RunningClock(MIDDAY))
    await app.start()
    # A second connection to the notifier's database, to see what it has done.
    store = Store(make_engine(settings.database_url), Outbox, Inbox, Base.metadata)
    try:
        tag = uuid.uuid4().hex[:6]
        amira = f"pl-{tag}"
        await contact(kafka, amira, "Amira Ahmed", "patient_leader")
        for _ in range(100):  # the contact details first, so the outcome is sent by its consumer, not parked
            async with store.sessions() as session:
                if await session.get(ContactRow, amira):
                    break
            await asyncio.sleep(0.1)
        outcome = Outcome(
            round_id=f"round-{tag}", leader_id=amira, outcome="unmatched", unmatched_reason="Nobody nearby is free."
        )
        event = OutcomePublished(producer="test", correlation_id=outcome.round_id, data=outcome)
        await publish(kafka, OUTCOMES, amira, event)
        letters, rows = [], []
        for _ in range(100):
            letters = [letter for letter in await read_dead_letters(kafka, wait_ms=200) if letter.event_id == str(event.event_id)]
            async with store.sessions() as session:
                rows = (await session.scalars(select(DeliveryRow))).all()
            # The dead letter goes out just before the transaction that says "failed" commits.
            if letters and [row.status for row in rows] == ["failed"]:
                break
            await asyncio.sleep(0.1)
        (row,) = rows
    finally:
        await store.engine.dispose()
        await app.stop()

    (letter,) = letters
    assert (letter.consumer, letter.original_topic, letter.attempts, letter.source) == ("notifier", OUTCOMES.name, 3, "")
    assert letter.original_partition >= 0 and letter.original_offset >= 0, "its place on the topic, for a replay"
    assert "Error" in letter.error and letter.key == amira.encode()
    assert not letter.value, "no body: personal data stays out of dead letters; a replay reads the event from its place"
    assert (row.status, row.attempts) == ("failed", 3) and "a person should follow it up" in row.detail
