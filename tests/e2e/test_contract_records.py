"""Every record of a demo-sized round, read off every topic, obeys the published contract
(schemas/asyncapi.yaml), checked by `jsonschema` with its format checker: the three services as
separate processes on the real broker, with answers, an erasure and a dead letter on the way."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from schemas.topics import ALL_TOPICS, LEADER_CONTACTS, LEADER_PROFILES, ROUNDS
from services.common.embedded import free_port
from services.launcher import Stack
from tests.contract_check import headers_of, problems, run_a_round
from tests.kafka_reading import read_topic

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(new_broker, tmp_path_factory):
    with Stack(
        data_dir=tmp_path_factory.mktemp("contract"),
        http_port=free_port(),
        kafka_bootstrap=new_broker(),
        extra_env={"KAFKA_SESSION_TIMEOUT_MS": "2000", "KAFKA_HEARTBEAT_INTERVAL_MS": "500"},
        report=lambda _: None,
    ) as stack:
        yield stack


async def send_unreadable_record(bootstrap: str, key: str) -> None:
    """A record no consumer can read: the matcher dead-letters it."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(ROUNDS.name, b"{not json", key=key.encode())
    finally:
        await producer.stop()


def test_every_record_of_a_round_obeys_the_published_contract(stack: Stack) -> None:
    tag = uuid.uuid4().hex[:6]
    refs = run_a_round(stack, tag)["event_refs"]
    unreadable = f"unreadable-{tag}"
    asyncio.run(send_unreadable_record(stack.kafka_bootstrap, unreadable))

    def about_us(key: str) -> bool:
        # People are keyed by their event references, rounds by round ids (which carry the tag).
        return tag in key or key in refs

    async def ours(topic, expected=None):
        # The broker may be shared with other tests: only records about this round's people and round.
        return await read_topic(
            stack.kafka_bootstrap, topic, keep=lambda r: about_us((r.key or b"").decode()), expected=expected, timeout_s=60
        )

    records = {topic: asyncio.run(ours(topic)) for topic in ALL_TOPICS if topic.name != "deadletter.v1"}
    dead = [r for r in asyncio.run(ours(ALL_TOPICS[-1], expected=1)) if r.key == unreadable.encode()]
    assert dead, "the unreadable record was not dead-lettered"
    assert ALL_TOPICS[-1].name == "deadletter.v1"

    wrong = []
    for topic, found in records.items():
        assert found, f"no record of this round on {topic.name}"
        for record in found:
            if record.key == unreadable.encode():
                # The one record that breaks the contract on purpose: the check must see it.
                assert problems(topic.name, record.value, headers_of(record)), "an unreadable record passed the check"
                continue
            wrong += [
                f"{topic.name}[{record.partition}]@{record.offset}: {p}"
                for p in problems(topic.name, record.value, headers_of(record))
            ]
    wrong += [f"deadletter.v1@{r.offset}: {p}" for r in dead for p in problems("deadletter.v1", r.value, headers_of(r))]
    tombstones = [r for topic in (LEADER_PROFILES, LEADER_CONTACTS) for r in records[topic] if r.value is None]
    assert len(tombstones) == 2, "the erasure should leave one tombstone on each compacted topic"
    checked = sum(len(found) for found in records.values()) + len(dead)
    assert not wrong, f"{len(wrong)} problems in {checked} records:\n" + "\n".join(wrong[:40])
