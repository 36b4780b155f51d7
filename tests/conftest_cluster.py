"""The three-node Apache Kafka cluster for the reliability tests (imported by tests/conftest.py).

A test marked `kafka_cluster` gets a cluster of its own from `new_kafka_cluster`
(services/common/apache_kafka_cluster.py): every stack reads its topics from the beginning,
so two stacks on one cluster would see each other's rounds. When Java or the artifacts cannot
be had, the test fails saying so. Such tests are left out, with the reason printed at the end
of the session, only when PAIRING_TEST_BROKER=tansu asks for the embedded broker alone, and,
for those marked `kafka_cluster(apache_session=True)`, when the session is on another broker.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from services.common.apache_kafka import ApacheKafkaUnavailable
from services.common.apache_kafka_cluster import ApacheKafkaCluster

# What the services need on the cluster: every write confirmed by two of the three copies, once only.
CLUSTER_ENV = {"KAFKA_ENABLE_IDEMPOTENCE": "true", "KAFKA_ACKS": "all", "KAFKA_REPLICATION_FACTOR": "3"}


@pytest.fixture(scope="session")
def new_kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], ApacheKafkaCluster]]:
    """Starts a three-node cluster for one test; the one before is stopped first (tests take turns)."""
    from tests.conftest import say

    started: list[ApacheKafkaCluster] = []
    announced: list[str] = []

    def make() -> ApacheKafkaCluster:
        while started:
            started.pop().stop()
        try:
            cluster = ApacheKafkaCluster.start(tmp_path_factory.mktemp("kafka-cluster"))
        except (ApacheKafkaUnavailable, RuntimeError) as exc:
            message = f"The three-node Apache Kafka cluster could not start: {exc} (PAIRING_TEST_BROKER=tansu leaves it out)."
            pytest.fail(message, pytrace=False)
        if not announced:
            announced.append(cluster.version)
            say(f"Reliability tests: Apache Kafka {cluster.version} cluster (KRaft, three nodes, three copies, two in sync)")
        started.append(cluster)
        return cluster

    yield make
    for cluster in started:
        cluster.stop()


def cluster_left_out_because(marker: pytest.Mark, session_broker: Callable[[], str]) -> str | None:
    if os.environ.get("PAIRING_TEST_BROKER", "").lower() == "tansu":
        return "PAIRING_TEST_BROKER=tansu asks for the embedded broker alone"
    if marker.kwargs.get("apache_session") and (kind := session_broker()) != "apache":
        return f"this variant runs when the session is on Apache Kafka, and it is on {kind}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from tests.conftest import broker_kind, say

    kinds: list[str] = []

    def session_broker() -> str:  # asked once, and only when a test needs it
        kinds[:] = kinds or [broker_kind()]
        return kinds[0]

    left_out = {}
    for item in items:
        marker = item.get_closest_marker("kafka_cluster")
        reason = marker and cluster_left_out_because(marker, session_broker)
        if reason:
            left_out[item] = reason
    if left_out:
        config.hook.pytest_deselected(items=list(left_out))
        items[:] = [item for item in items if item not in left_out]
        for item, reason in left_out.items():
            say(f"Left out {item.nodeid} (needs the three-node Apache Kafka cluster): {reason}")
