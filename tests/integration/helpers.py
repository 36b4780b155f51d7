"""What the registry's integration tests share: a round published with two pairs and its outcomes
read back from the broker, answers on the broker, events handed to the notifier, and people signed
in to the pages with a role. (The notifier's own world is in tests/integration/notifier_world.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
import uuid
from collections.abc import AsyncIterator

import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from schemas.cohort import CohortResult, PairResult, SolveStats, UnmatchedResult, Window
from schemas.events import (
    Envelope,
    LeaderContact,
    LeaderContactChanged,
    OutcomePublished,
    ResponseEvent,
    RoundRequested,
    RoundSolved,
)
from schemas.topics import LEADER_CONTACTS, OUTCOMES, RESPONSES, ROUNDS, Topic
from services.common.embedded import read_maildir
from services.common.store import handle_once
from services.registry.adapters.orm import ManagerRow
from services.registry.event_refs import translated
from services.registry.handlers import rounds as round_handlers
from services.registry.sample import sample_leaders
from services.registry.web.auth import hash_password
from tests.integration.conftest import event_refs_of, unique, with_ids, with_references
from tests.kafka_reading import read_topic

# ---- a published round and its outcomes

TUESDAY_MORNING = [{"day": "tue", "start": "10:00", "end": "12:00"}]


async def outcomes_of(kafka_settings, round_id: str, kind: str, refs: dict[str, str]) -> dict[str, OutcomePublished]:
    """The round's outcomes of one kind on the broker, by leader (their event references read back as ids)."""
    found: dict[str, OutcomePublished] = {}
    for record in await read_topic(kafka_settings.bootstrap_servers, OUTCOMES, timeout_s=20):
        event = with_ids(OutcomePublished.model_validate_json(record.value), refs)
        if event.data.round_id == round_id and event.data.outcome == kind:
            found[event.data.leader_id] = event
    return found


def consent(given: bool) -> list[dict]:
    return [{"purpose": "sharing_details_with_partner", "given": given, "at": "2026-11-01T10:00:00Z"}]


async def publish_two_pairs(
    registry, not_paired: dict | None = None, suggestion: str | None = None
) -> tuple[str, dict, dict, dict]:
    """A round with one professional paired with two people (and `not_paired` left out, if given, with
    the matcher's `suggestion` of what would let them be paired), solved, approved and published."""
    base = {leader["role"]: leader for leader in reversed(sample_leaders())}
    common = {"availability": TUESDAY_MORNING, "meeting_modes": ["video"], "min_notice_days": 0, "unavailable_dates": []}
    professional = unique(
        {**base["clinical_leader"], **common, "capacity": 2, "access_needs": ["hearing_loop"], "consents": consent(True)}
    )
    signs = unique({**base["patient_leader"], **common, "access_needs": ["bsl_interpreter"], "consents": consent(False)})
    carer = unique({**base["carer_leader"], **common, "access_needs": [], "term_time_only": False, "min_notice_days": 21})
    for leader in (professional, signs, carer, *([not_paired] if not_paired else [])):
        answer = await registry.post("/leaders", json=leader)
        assert answer.status_code in (200, 201), answer.text
    round_id = f"r-{uuid.uuid4().hex[:6]}"
    people = [signs["id"], carer["id"], professional["id"], *([not_paired["id"]] if not_paired else [])]
    assert (await registry.post("/rounds", json={"id": round_id, "leader_ids": people})).status_code in (200, 201, 202)
    async with registry.store.engine.connect() as conn:
        request_id = (await conn.execute(text("select request_event_id from rounds where id = :id"), {"id": round_id})).scalar()
    windows = [Window.model_validate(w) for w in TUESDAY_MORNING]
    pairs = [
        PairResult(
            lived_experience_id=who,
            professional_id=professional["id"],
            score=50,
            meeting_modes=["video"],
            shared_windows=windows,
            reasons=["You are both free on Tuesday 10:00 to 12:00."],
        )
        for who in (signs["id"], carer["id"])
    ]
    solved = RoundSolved(
        producer="test",
        correlation_id=round_id,
        causation_id=request_id,
        data=CohortResult(
            round_id=round_id,
            pairs=pairs,
            stats=SolveStats(status="optimal"),
            unmatched=[
                UnmatchedResult(
                    id=not_paired["id"], reason="Nobody is free when you are.", rule="availability", suggestion=suggestion
                )
            ]
            if not_paired
            else [],
        ),
    )
    sent = with_references(solved, await event_refs_of(registry.store))  # as the matcher sends it
    await handle_once(registry.store, "test.matches", sent, translated(round_handlers.record_solution))
    await registry.post(f"/rounds/{round_id}/approve", json={"approved_by": "Test manager"})
    assert (await registry.post(f"/rounds/{round_id}/publish")).status_code == 200
    return round_id, professional, signs, carer


async def published_outcomes(registry, kafka_settings, round_id: str, kind: str, expected: int) -> dict[str, OutcomePublished]:
    outcomes: dict[str, OutcomePublished] = {}
    refs = await event_refs_of(registry.store)
    for _ in range(30):  # the relay publishes the outbox in the background
        outcomes = await outcomes_of(kafka_settings, round_id, kind, refs)
        if len(outcomes) >= expected:
            break
        await asyncio.sleep(0.5)
    return outcomes


# ---- answers

DEFAULT_ADDRESS = "http://127.0.0.1:8000"


async def answers_on_broker(registry, kafka_settings, round_id: str, expected: int) -> list:
    """The round's answers on the broker, their people's event references read back as registry ids."""
    from pydantic import TypeAdapter

    events = TypeAdapter(ResponseEvent)
    records = await read_topic(
        kafka_settings.bootstrap_servers, RESPONSES, keep=lambda r: round_id.encode() in r.value, expected=expected, timeout_s=20
    )
    refs = await event_refs_of(registry.store)
    return [with_ids(events.validate_json(r.value), refs) for r in records]


async def paired_outcomes(registry, kafka_settings):
    round_id, professional, signs, carer = await publish_two_pairs(registry)
    outcomes = await published_outcomes(registry, kafka_settings, round_id, "paired", 3)
    return round_id, professional, signs, carer, outcomes


def path_of(url: str) -> str:
    assert url.startswith(DEFAULT_ADDRESS), url
    return url.removeprefix(DEFAULT_ADDRESS)


async def request_of(registry, kafka_settings, round_id: str) -> RoundRequested:
    """The round's request on the broker, its people's event references read back as registry ids."""
    records = await read_topic(
        kafka_settings.bootstrap_servers,
        ROUNDS,
        keep=lambda r: r.key == round_id.encode() and b"RoundRequested" in r.value,
        expected=1,
        timeout_s=20,
    )
    assert len(records) == 1, "the round's request reached the broker"
    return with_ids(RoundRequested.model_validate_json(records[0].value), await event_refs_of(registry.store))


# ---- events handed to the notifier, and the mail it sends

MIDDAY = dt.datetime(2026, 12, 15, 12, tzinfo=dt.UTC)  # in London: no quiet hours in the way


async def publish(kafka_settings, topic: Topic, key: str, event: Envelope) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic.name, event.model_dump_json().encode(), key=key.encode(), headers=[("event_id", str(event.event_id).encode())]
        )
    finally:
        await producer.stop()


async def contact(kafka_settings, leader_id: str, name: str, role: str) -> None:
    data = LeaderContact(leader_id=leader_id, version=1, name=name, role=role, email=f"{leader_id}@example.org")
    await publish(
        kafka_settings, LEADER_CONTACTS, leader_id, LeaderContactChanged(producer="test", correlation_id=leader_id, data=data)
    )


async def contact_record(kafka_settings, leader: dict, information_format: str = "standard", ref: str | None = None) -> None:
    """The leader's contact record as the notifier reads it, keyed by their event reference (`ref`, for
    someone registered) or by `id` (for someone only the notifier hears of); the email is made from their id."""
    person = ref or leader["id"]
    data = LeaderContact(
        leader_id=person,
        version=1,
        name=leader["name"],
        role=leader["role"],
        email=f"{leader['id']}@example.org",
        information_format=information_format,
    )
    event = LeaderContactChanged(producer="test", correlation_id=person, data=data)
    await publish(kafka_settings, LEADER_CONTACTS, person, event)


async def mail_to(maildir, address: str, seconds: float = 60) -> list:
    for _ in range(int(seconds * 10)):
        found = [m for m in read_maildir(maildir) if m["To"] == address]
        if found:
            return found
        await asyncio.sleep(0.1)
    return []


# ---- people signed in to the pages


@contextlib.asynccontextmanager
async def pages_as(registry, email: str, password: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client signed in to the pages (a password is enough here: see running_registry)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=registry._transport.app), base_url="http://registry"
    ) as browser:
        token = re.search(r'name="csrf_token" value="([^"]+)"', (await browser.get("/sign-in")).text).group(1)
        signed = await browser.post("/sign-in", data={"csrf_token": token, "email": email, "password": password})
        assert signed.status_code == 303 and signed.headers["location"] == "/manage", signed.text
        yield browser


async def someone(registry, role: str) -> tuple[str, str]:
    """A person who signs in with this role (a password is enough here: see running_registry)."""
    email, password = f"{role}-{uuid.uuid4().hex[:6]}@test.example", f"a {role}'s long password"
    async with registry.store.unit_of_work() as uow:
        uow.session.add(
            ManagerRow(
                email=email, name=f"A {role}", role=role, password_hash=hash_password(password), active=True, failed_sign_ins=0
            )
        )
        await uow.commit()
    return email, password
