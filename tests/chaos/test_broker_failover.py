"""Chaos on the broker: a whole round runs on a three-node Apache Kafka cluster (three copies of
every topic, two needed to confirm a write) with the idempotent producer and acks=all, and the
node leading the busiest partitions is killed with no warning (kill -9) and started again, once
while people are being registered and once while the outcomes go out. Afterwards everyone has
heard exactly once, every pair proposed is the pair published, once, every outbox row was
published, every outcome event was handled once by the notifier, the restarted node has caught
up, and the broker's own files show every outcome was written by an idempotent producer.

CI runs it with 200 people; `make chaos` with 1,000 (CHAOS_PEOPLE, CHAOS_SEED).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from schemas.topics import ALL_TOPICS, DELIVERIES, LEADER_CONTACTS, LEADER_KEYS, LEADER_PROFILES, OUTCOMES
from services.common.apache_kafka import java
from services.common.apache_kafka_cluster import ApacheKafkaCluster
from services.common.embedded import free_port, read_maildir
from services.launcher import SERVICES, Stack
from services.registry.client import RegistryClient
from services.registry.sample import SAMPLE_ROUND, sample_leaders
from tests.chaos.helpers import patiently, rows, wait_for
from tests.conftest_cluster import CLUSTER_ENV

pytestmark = [pytest.mark.chaos, pytest.mark.kafka_cluster]

PEOPLE = int(os.environ.get("CHAOS_PEOPLE", "200"))
SEED = int(os.environ.get("CHAOS_SEED", "2026"))
# Longer than the cluster takes to notice a node has gone (3 seconds), so its partitions move.
DOWN_SECONDS = 6


class BrokerKiller:
    """Kills the node leading the busiest partitions of some topics, and starts it again, in the background."""

    def __init__(self, cluster: ApacheKafkaCluster):
        self.cluster = cluster
        self.log: list[tuple[str, int]] = []
        self.threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def strike(self, moment: str, topics: list[str]) -> None:
        def kill_and_restart() -> None:
            try:
                node = self.cluster.busiest_leader(topics)
                self.cluster.kill(node)
                self.log.append((moment, node))
                time.sleep(DOWN_SECONDS)
                self.cluster.restart(node)
            except Exception as exc:  # noqa: BLE001 - the test says what went wrong, not the thread
                self.errors.append(exc)

        self.threads.append(threading.Thread(target=kill_and_restart, daemon=True))
        self.threads[-1].start()

    def wait(self) -> None:
        for thread in self.threads:
            thread.join(180)
        if self.errors:
            raise self.errors[0]


def fully_replicated(cluster: ApacheKafkaCluster) -> bool:
    """Every partition of every topic has three copies, all in sync (so a restarted node has caught up)."""
    described = [asyncio.run(cluster.describe(topic.name)) for topic in ALL_TOPICS]
    return all(len(p["replicas"]) == 3 and len(p["isr"]) == 3 for d in described for p in d["partitions"])


def producer_ids(cluster: ApacheKafkaCluster, node: int, topic: str) -> list[int]:
    """The producer id of every batch the node holds for the topic, read from its files by Apache
    Kafka's own DumpLogSegments: -1 is a producer that is not idempotent."""
    data_dir = cluster.nodes[node].data_dir
    segments = sorted(str(s) for s in (data_dir / "data").glob(f"{topic}-*/*.log"))
    dumped = subprocess.run(
        java(data_dir, "kafka.tools.DumpLogSegments", "--files", ",".join(segments)), capture_output=True, text=True, timeout=120
    )
    assert dumped.returncode == 0, dumped.stderr
    return [int(found) for found in re.findall(r"producerId: (-?\d+)", dumped.stdout)]


@pytest.mark.timeout(3600)
def test_a_round_survives_the_busiest_broker_being_killed(new_kafka_cluster, smtp_server, tmp_path: Path):
    smtp_port, maildir = smtp_server
    cluster = new_kafka_cluster()
    stack = Stack(
        data_dir=tmp_path / "stack",
        http_port=free_port(),
        kafka_bootstrap=cluster.bootstrap_servers,
        smtp_port=smtp_port,
        start_smtp_sink=False,
        extra_env={**CLUSTER_ENV, "KAFKA_SESSION_TIMEOUT_MS": "6000", "KAFKA_HEARTBEAT_INTERVAL_MS": "1000"},
        report=lambda _: None,
    )
    tag = f"failover{SEED}-{os.getpid()}"
    people = [
        {
            **leader,
            "id": f"{leader['id']}-{tag}",
            "email": f"{leader['id']}-{tag}@example.org",
            "contact_method": "email",
            "information_format": "standard",
        }
        for leader in sample_leaders(seed=SEED, count=PEOPLE)
    ]
    round_id = f"round-{tag}"
    killer = BrokerKiller(cluster)
    with stack:
        client = RegistryClient(stack.base_url, auth=stack.api_token, timeout=30)
        for number, person in enumerate(people):
            if number == PEOPLE // 2:
                killer.strike("registering", [LEADER_PROFILES.name, LEADER_CONTACTS.name, LEADER_KEYS.name])
            patiently(client.register_leader, person)
        patiently(client.launch_round, {**SAMPLE_ROUND, "id": round_id, "leader_ids": [p["id"] for p in people]})
        proposed = wait_for(lambda: (view := client.read_round(round_id))["status"] == "proposed" and view, 600, "the proposal")
        killer.wait()
        client.approve(round_id, "Chaos manager")
        client.publish(round_id)
        killer.strike("sending the outcomes", [OUTCOMES.name, DELIVERIES.name])
        final = wait_for(
            lambda: sum((view := client.read_round(round_id))["deliveries"].values()) >= PEOPLE and view,
            600,
            "a message to every person",
        )
        killer.wait()
        wait_for(lambda: fully_replicated(cluster), 120, "the restarted node catching up")
        stack.check_alive()
        time.sleep(3)  # let the relays publish what is left
    data = stack.data_dir

    emails = {p["email"] for p in people}
    received = Counter(m["To"] for m in read_maildir(maildir) if m["To"] in emails)
    pairs = [(p["lived_experience_id"], p["professional_id"]) for p in final["pairs"]]
    proposed_pairs = {(p["lived_experience_id"], p["professional_id"]) for p in proposed["pairs"]}
    accounted = {i for pair in pairs for i in pair} | {u["id"] for u in final["unmatched"]}
    unpublished = {s: rows(data / f"{s}.db", "select count(*) from outbox where published_at is null")[0][0] for s in SERVICES}
    outcome_events = {r[0] for r in rows(data / "registry.db", "select event_id from outbox where topic = 'outcomes.v1'")}
    handled = {r[0] for r in rows(data / "notifier.db", "select event_id from inbox where consumer = 'notifier.outcomes'")}
    outcome_producers = producer_ids(cluster, killer.log[-1][1], OUTCOMES.name)
    print(
        f"\nBroker chaos report: {PEOPLE} people, seed {SEED}; killed {killer.log}; {len(pairs)} pairs; "
        f"{sum(received.values())} messages to {len(received)} people; round {final['status']}; "
        f"outcome batches on the restarted node {len(outcome_producers)}, producer ids {sorted(set(outcome_producers))}."
    )
    assert [moment for moment, _ in killer.log] == ["registering", "sending the outcomes"]
    assert final["status"] == "published"
    assert final["deliveries"] == {"sent": PEOPLE}
    assert received == Counter({email: 1 for email in emails}), "everyone hears exactly once"
    assert accounted == {p["id"] for p in people}, "every person is paired or told why not"
    assert len(pairs) == len(set(pairs)), "a pair exists twice"
    assert proposed_pairs and set(pairs) == proposed_pairs, "the pairs published are the pairs proposed"
    assert unpublished == {s: 0 for s in SERVICES}, f"outbox rows never published: {unpublished}"
    assert outcome_events and outcome_events == handled, "every outcome event handled exactly once by the notifier"
    assert outcome_producers and min(outcome_producers) >= 0, "every outcome was written by an idempotent producer"
