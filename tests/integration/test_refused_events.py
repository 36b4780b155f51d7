"""An event the broker refuses never blocks the events behind it, on the real broker with the real
registry and matcher: the oversized record is set aside (marked in the outbox, reported on the
dead-letter topic by id without its body, shown on the queue monitor) and the next round is still
requested and solved."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from sqlalchemy import select

from schemas.topics import DEAD_LETTERS, LEADER_PROFILES
from services.common.crypto import new_key
from services.common.settings import KafkaSettings
from services.matcher.app import create_app as create_matcher
from services.matcher.config import MatcherSettings
from services.registry.adapters.orm import Outbox
from services.registry.sample import sample_leaders
from tests.conftest import FAST_SESSION
from tests.integration.conftest import running_registry
from tests.kafka_reading import read_topic

pytestmark = pytest.mark.integration

SECRET = "a-marker-that-must-not-reach-the-dead-letter"


@pytest.fixture(params=["sqlite"])
def database_kind(request) -> str:
    return request.param  # the relay is the same on both databases; one keeps the test short


@pytest.fixture
async def stack(new_broker, database_url, tmp_path):
    kafka = KafkaSettings(bootstrap_servers=new_broker(), client_prefix=f"pairing-test-{uuid.uuid4().hex[:6]}", **FAST_SESSION)
    matcher = create_matcher(
        MatcherSettings(database_url=f"sqlite:///{tmp_path / 'matcher.db'}", encryption_keys=new_key(), kafka=kafka)
    )
    await matcher.start()
    try:
        async with running_registry(database_url, kafka) as registry:
            yield registry, kafka
    finally:
        await matcher.stop()


async def wait_for_status(registry, round_id: str, status: str, seconds: float = 90) -> dict:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        view = (await registry.get(f"/rounds/{round_id}")).json()
        if view["status"] == status or asyncio.get_running_loop().time() > deadline:
            return view
        await asyncio.sleep(0.3)


async def test_an_oversized_event_is_set_aside_and_the_next_round_is_solved(stack):
    registry, kafka = stack
    # Input limits stop such an event being made through the API, so it is written straight to the outbox:
    # 17 MiB, over the largest message the topics and the producer take (16 MiB, for big rounds' results).
    huge = json.dumps({"note": SECRET + "x" * (17 * 1024 * 1024)}).encode()
    event_id = str(uuid.uuid4())
    async with registry.store.unit_of_work() as uow:
        uow.session.add(Outbox(event_id=event_id, topic=LEADER_PROFILES.name, key="too-big", value=huge, headers={}))
        await uow.commit()

    people = [{**p, "id": f"{p['id']}-big{uuid.uuid4().hex[:4]}"} for p in sample_leaders()[:6]]
    for person in people:
        assert (await registry.post("/leaders", json=person)).status_code == 201
    round_id = f"after-the-big-one-{uuid.uuid4().hex[:6]}"
    launched = await registry.post("/rounds", json={"id": round_id, "leader_ids": [p["id"] for p in people]})
    assert launched.status_code == 202, launched.text
    assert (await wait_for_status(registry, round_id, "proposed"))["status"] == "proposed"

    for _ in range(50):  # and nothing is left waiting behind it
        async with registry.store.sessions() as session:
            unsent = (await session.scalars(select(Outbox.id).where(Outbox.published_at.is_(None)))).all()
            row = await session.scalar(select(Outbox).where(Outbox.event_id == event_id))
        if not unsent:
            break
        await asyncio.sleep(0.1)
    assert unsent == []
    assert row.published_at is not None and "set_aside" in row.headers and row.value is not None

    letters = await read_topic(kafka.bootstrap_servers, DEAD_LETTERS, lambda r: r.key == b"too-big", expected=1)
    assert len(letters) == 1
    headers = {k: v.decode() for k, v in letters[0].headers}
    assert headers["event_id"] == event_id and headers["source"] == "set_aside"
    assert headers["original_topic"] == LEADER_PROFILES.name and "refused" in headers["error"]
    assert SECRET.encode() not in letters[0].value and len(letters[0].value) < 2000

    services = (await registry.get("/operations/services")).json()["items"]
    own = next(s for s in services if s["name"] == "registry")
    assert own["set_aside"] == 1 and "could not be sent" in own["state"]
