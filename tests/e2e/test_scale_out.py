"""Two matchers and two notifiers share the work through consumer groups on the
real broker; stopping one instance mid-round hands its partitions to the other
without loss or double work. When the session is on Apache Kafka it runs again on
a three-node cluster (three copies of every topic, two needed to confirm a write)."""

from __future__ import annotations

import itertools
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from aiokafka.partitioner import DefaultPartitioner

from schemas.topics import ROUNDS
from services.common.embedded import free_port, read_maildir
from services.launcher import Stack
from services.registry.client import RegistryClient
from services.registry.sample import SAMPLE_ROUND, sample_leaders
from tests.conftest_cluster import CLUSTER_ENV

pytestmark = pytest.mark.e2e


def ids_on_every_partition(prefix: str, count: int) -> list[str]:
    """Round ids that the services' producer (aiokafka's default partitioner, keyed by round id) puts on
    each partition of rounds.v1 in turn, so both matchers have rounds: random ids all miss one
    partition about one time in ten."""
    partitions = list(range(ROUNDS.partitions))
    candidates = (f"{prefix}-{i}" for i in itertools.count())
    ids: list[str] = []
    while len(ids) < count:
        wanted = partitions[len(ids) % len(partitions)]
        ids.append(next(c for c in candidates if DefaultPartitioner()(c.encode(), partitions, partitions) == wanted))
    return ids


def solved_by(stack: Stack, instance: str) -> int:
    return (stack.log_dir / f"{instance}.log").read_text(errors="replace").count("solving round")


def sent_by(stack: Stack, instance: str) -> int:
    return (stack.log_dir / f"{instance}.log").read_text(errors="replace").count("Processed")


@pytest.fixture(params=["one node", pytest.param("three-node cluster", marks=pytest.mark.kafka_cluster(apache_session=True))])
def brokers(request: pytest.FixtureRequest) -> tuple[str, dict[str, str]]:
    """Where the stack's broker is, and the settings it needs: the session's kind of broker, and
    (when the session is on Apache Kafka) a three-node cluster with three copies of every topic."""
    if request.param == "one node":
        return request.getfixturevalue("new_broker")(), {}
    return request.getfixturevalue("new_kafka_cluster")().bootstrap_servers, CLUSTER_ENV


def test_two_instances_share_the_work_and_one_stopping_loses_nothing(brokers, postgres_database, smtp_server, tmp_path: Path):
    smtp_port, maildir = smtp_server
    stack = Stack(
        data_dir=tmp_path / "stack",
        http_port=free_port(),
        # Instances of a service share its database, on PostgreSQL as in production.
        database_urls={service: postgres_database(service) for service in ("registry", "matcher", "notifier")},
        kafka_bootstrap=brokers[0],
        smtp_port=smtp_port,
        start_smtp_sink=False,
        extra_env={"KAFKA_SESSION_TIMEOUT_MS": "2000", "KAFKA_HEARTBEAT_INTERVAL_MS": "500", **brokers[1]},
        report=lambda _: None,
    )
    with stack:
        stack.start_service("matcher", "matcher-2")
        stack.start_service("notifier", "notifier-2")
        time.sleep(4)  # both groups rebalance to two members
        client = RegistryClient(stack.base_url, auth=stack.api_token)
        tag = uuid.uuid4().hex[:6]
        people = [
            {
                **p,
                "id": f"{p['id']}-{tag}",
                "email": f"{p['id']}-{tag}@example.org",
                "contact_method": "email",
                "information_format": "standard",
            }
            for p in sample_leaders(seed=5, count=120)
        ]
        for person in people:
            client.register_leader(person)

        # Several rounds, keyed by round id, spread over the partitions and so over both matchers.
        rounds = ids_on_every_partition(f"scale-{tag}", 8)
        for i, round_id in enumerate(rounds):
            members = [p["id"] for p in people[i * 15 : (i + 1) * 15]]
            client.launch_round({**SAMPLE_ROUND, "id": round_id, "leader_ids": members})
        for round_id in rounds:
            assert client.wait_for_round(round_id, {"proposed"}, seconds=120)["status"] == "proposed"
        assert solved_by(stack, "matcher") > 0 and solved_by(stack, "matcher-2") > 0, "both matchers solved rounds"
        assert solved_by(stack, "matcher") + solved_by(stack, "matcher-2") == len(rounds), "no round solved twice"

        # Publish everything, then stop one notifier while the messages are going out.
        for round_id in rounds:
            client.approve(round_id, "Test manager")
            client.publish(round_id)
        stack.stop_service("notifier-2")
        for round_id in rounds:
            view = client.wait_for_deliveries(round_id, 15, seconds=120)
            assert sum(view["deliveries"].values()) == 15, round_id

    ours = {p["email"] for p in people}
    received = Counter(m["To"] for m in read_maildir(maildir) if m["To"] in ours)
    assert set(received) == ours, "nobody was left out"
    assert max(received.values()) == 1, "nobody was told twice"
