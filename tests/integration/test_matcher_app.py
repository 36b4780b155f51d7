"""The matcher as it runs, on its own broker: it reports how a solve is going, and a
cancelled round's solve stops without a result."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import insert, select

from schemas.events import (
    Envelope,
    RoundCancelled,
    RoundProgress,
    RoundRef,
    RoundRequest,
    RoundRequested,
    RoundSolved,
    match_events,
)
from schemas.topics import MATCHES, ROUNDS
from services.common.crypto import Cipher, new_key
from services.common.settings import KafkaSettings
from services.common.store import Store, make_engine
from services.matcher.adapters.orm import Base, Inbox, Outbox, ProfileRow
from services.matcher.app import create_app
from services.matcher.config import MatcherSettings
from services.matcher.domain.generate import generate_cohort
from tests.conftest import FAST_SESSION

pytestmark = pytest.mark.integration

KEY = new_key()


@pytest.fixture
async def matcher(new_broker, tmp_path):
    kafka = KafkaSettings(bootstrap_servers=new_broker(), client_prefix=f"pairing-test-{uuid.uuid4().hex[:6]}", **FAST_SESSION)
    settings = MatcherSettings(
        database_url=f"sqlite:///{tmp_path / 'matcher.db'}", encryption_keys=KEY, progress_seconds=0.05, kafka=kafka
    )
    app = create_app(settings)
    await app.start()
    # A second connection to the matcher's database, to seed its copy of the profiles and read its inbox.
    store = Store(make_engine(settings.database_url), Outbox, Inbox, Base.metadata)
    try:
        yield store, kafka
    finally:
        await store.engine.dispose()
        await app.stop()


async def seed_projection(store: Store, n: int) -> RoundRequest:
    """Put a generated cohort straight into the matcher's copy of the profiles (as if it had
    consumed them) and return the request that names it."""
    cohort = generate_cohort(n, n, seed=5)
    round_spec = cohort.round.model_copy(update={"id": f"round-{uuid.uuid4().hex[:6]}"})
    cipher = Cipher(KEY)
    rows = [
        {"leader_id": p.id, "version": 1, "status": "active", "sealed": cipher.seal(p.model_dump(mode="json"))}
        for p in cohort.leaders
    ]
    async with store.unit_of_work() as uow:
        await uow.session.execute(insert(ProfileRow), rows)
        await uow.commit()
    return RoundRequest(round=round_spec, leader_versions={p.id: 1 for p in cohort.leaders})


async def publish(kafka: KafkaSettings, key: str, event: Envelope) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            ROUNDS.name, event.model_dump_json().encode(), key=key.encode(), headers=[("event_id", str(event.event_id).encode())]
        )
    finally:
        await producer.stop()


class Results:
    """Everything the matcher publishes about one round, as it arrives."""

    def __init__(self, kafka: KafkaSettings, round_id: str):
        self.round_id = round_id
        self.consumer = AIOKafkaConsumer(MATCHES.name, bootstrap_servers=kafka.bootstrap_servers, auto_offset_reset="earliest")
        self.seen: list = []

    async def __aenter__(self) -> Results:
        await self.consumer.start()
        return self

    async def __aexit__(self, *_exc) -> None:
        await self.consumer.stop()

    async def until(self, wanted: type, seconds: float = 60) -> list:
        """Read on until an event of type `wanted` arrives; everything seen so far."""
        deadline = asyncio.get_running_loop().time() + seconds
        while not any(isinstance(e, wanted) for e in self.seen):
            assert asyncio.get_running_loop().time() < deadline, f"no {wanted.__name__} within {seconds} s: saw {self.seen}"
            await self.read(0.2)
        return self.seen

    async def read(self, seconds: float) -> None:
        """Everything that arrives in the next `seconds`."""
        deadline = asyncio.get_running_loop().time() + seconds
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            batch = await self.consumer.getmany(timeout_ms=max(1, int(left * 1000)))
            for records in batch.values():
                self.seen += [match_events.validate_json(r.value) for r in records if r.key.decode() == self.round_id]


async def handled(store: Store, event_id: str, seconds: float = 60) -> None:
    for _ in range(int(seconds * 10)):
        async with store.sessions() as session:
            if await session.scalar(select(Inbox).where(Inbox.event_id == event_id)):
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the request {event_id} was not handled within {seconds} s")


async def test_a_solve_reports_how_it_is_going_before_its_result(matcher):
    store, kafka = matcher
    request = await seed_projection(store, 1500)
    requested = RoundRequested(producer="test", correlation_id=request.round.id, data=request)
    async with Results(kafka, request.round.id) as results:
        await publish(kafka, request.round.id, requested)
        seen = await results.until(RoundSolved)
    progress = [e for e in seen if isinstance(e, RoundProgress)]
    assert progress, "at least one progress report while solving"
    assert isinstance(seen[-1], RoundSolved) and all(isinstance(e, RoundProgress) for e in seen[:-1]), "progress comes first"
    assert progress[0].data.stage == "checking who can be paired with whom"
    assert all(e.causation_id == str(requested.event_id) for e in seen), "each answers this request"
    elapsed = [p.data.elapsed_seconds for p in progress]
    assert elapsed == sorted(elapsed)


async def test_cancelling_a_round_stops_its_running_solve_without_a_result(matcher):
    store, kafka = matcher
    request = await seed_projection(store, 6000)  # about 3 s to solve here: long enough to cancel part way
    requested = RoundRequested(producer="test", correlation_id=request.round.id, data=request)
    async with Results(kafka, request.round.id) as results:
        await publish(kafka, request.round.id, requested)
        await results.until(RoundProgress)  # the solve has begun
        cancelled = RoundCancelled(producer="test", correlation_id=request.round.id, data=RoundRef(round_id=request.round.id))
        await publish(kafka, request.round.id, cancelled)
        await handled(store, str(requested.event_id))
        await results.read(3)  # time enough for the outbox to publish a result, were there one
    assert not [e for e in results.seen if isinstance(e, RoundSolved)], "a stopped solve publishes no result"


@pytest.fixture
def outage_database(postgres_database) -> str:
    return postgres_database("outage")


async def test_a_database_outage_is_waited_out_and_no_event_is_lost(new_broker, outage_database, tmp_path):
    from sqlalchemy.engine import make_url

    from schemas.events import LeaderProfile, LeaderProfileChanged
    from schemas.topics import DEAD_LETTERS, LEADER_PROFILES
    from tests.cuttable import CuttableLink

    real = make_url(outage_database)
    link = await CuttableLink(real.host or "127.0.0.1", real.port or 5432).start()
    kafka = KafkaSettings(bootstrap_servers=new_broker(), client_prefix=f"pairing-test-{uuid.uuid4().hex[:6]}", **FAST_SESSION)
    settings = MatcherSettings(
        database_url=real.set(port=link.listen_port).render_as_string(hide_password=False),
        encryption_keys=KEY,
        kafka=kafka,
    )
    app = create_app(settings)
    await app.start()
    try:
        cohort = generate_cohort(10, 10, seed=2)
        round_spec = cohort.round.model_copy(update={"id": f"round-{uuid.uuid4().hex[:6]}"})
        link.cut()
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
        await producer.start()
        try:
            for person in cohort.leaders:
                changed = LeaderProfileChanged(
                    producer="test", correlation_id=person.id, data=LeaderProfile(version=1, status="active", profile=person)
                )
                await producer.send_and_wait(
                    LEADER_PROFILES.name,
                    changed.model_dump_json().encode(),
                    key=person.id.encode(),
                    headers=[("event_id", str(changed.event_id).encode())],
                )
        finally:
            await producer.stop()
        # Longer than all the retries an ordinary failure gets before its event is dead-lettered.
        await asyncio.sleep(8)
        # What the queue monitor reads: not ready while the database is away.
        import httpx

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://matcher") as ops:
            assert (await ops.get("/health")).status_code == 503
            link.restore()
            assert (await ops.get("/health")).status_code == 200

        request = RoundRequest(round=round_spec, leader_versions={p.id: 1 for p in cohort.leaders})
        requested = RoundRequested(producer="test", correlation_id=round_spec.id, data=request)
        async with Results(kafka, round_spec.id) as results:
            await publish(kafka, round_spec.id, requested)
            seen = await results.until(RoundSolved)
        solved = seen[-1]
        assert solved.data.stats.counts["leaders"] == 20, "every profile sent during the outage reached the matcher"

        dead = AIOKafkaConsumer(DEAD_LETTERS.name, bootstrap_servers=kafka.bootstrap_servers, auto_offset_reset="earliest")
        await dead.start()
        try:
            letters = await dead.getmany(timeout_ms=2000)
        finally:
            await dead.stop()
        assert not [r for records in letters.values() for r in records], "an outage dead-letters nothing"
    finally:
        await app.stop()
        await link.close()


async def test_a_broker_outage_is_waited_out_without_a_restart(tmp_path):
    from services.common.embedded import EmbeddedKafka
    from tests.cuttable import CuttableLink

    # Clients are told to reach the broker through the link, so cutting it takes the broker away from everyone.
    link = await CuttableLink("127.0.0.1", 0).start()
    broker = EmbeddedKafka.start(advertised_port=link.listen_port)
    link.port = broker.port
    # Tansu has no idempotent producer, whichever broker the rest of the session uses.
    kafka = KafkaSettings(
        bootstrap_servers=f"127.0.0.1:{link.listen_port}",
        client_prefix=f"pairing-test-{uuid.uuid4().hex[:6]}",
        enable_idempotence=False,
        **FAST_SESSION,
    )
    settings = MatcherSettings(database_url=f"sqlite:///{tmp_path / 'matcher.db'}", encryption_keys=KEY, kafka=kafka)
    app = create_app(settings)
    await app.start()
    store = Store(make_engine(settings.database_url), Outbox, Inbox, Base.metadata)
    try:
        request = await seed_projection(store, 40)
        link.cut()
        await asyncio.sleep(8)  # well past the consumers' session timeout: they lose their groups
        link.restore()
        requested = RoundRequested(producer="test", correlation_id=request.round.id, data=request)
        async with Results(kafka, request.round.id) as results:
            await publish(kafka, request.round.id, requested)
            seen = await results.until(RoundSolved, seconds=90)
        assert seen[-1].data.stats.counts["leaders"] == 80
    finally:
        await store.engine.dispose()
        await app.stop()
        await link.close()
        broker.stop()
