"""Three Apache Kafka nodes on this machine, for the reliability tests: each is a broker and a
controller (a KRaft quorum of three voters), every topic has three copies and a write is only
confirmed once two of them hold it (`min.insync.replicas=2`), as on a production cluster.

Built on the single node of services/common/apache_kafka.py (same artifacts, same settings
otherwise). A node can be killed with no warning (kill -9) and started again on its own data.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.common.apache_kafka import (
    LOG4J,
    ApacheKafka,
    artifacts,
    java,
    launch,
    new_cluster_id,
    server_properties,
    version,
)
from services.common.embedded import free_port

CONFIG = "server.properties"
PORT_TAKEN = "Address already in use"

# What differs from one node: three copies of everything, two of them needed to confirm a write.
REPLICATED = {
    "default.replication.factor": "3",
    "min.insync.replicas": "2",
    "offsets.topic.replication.factor": "3",
    "transaction.state.log.replication.factor": "3",
    "transaction.state.log.min.isr": "2",
    "share.coordinator.state.topic.replication.factor": "3",
    "share.coordinator.state.topic.min.isr": "2",
    # A killed node is noticed, and its partitions led by another, in 3 seconds (default 9).
    "broker.session.timeout.ms": "3000",
    "broker.heartbeat.interval.ms": "500",
    # A node started again gets back the partitions it prefers to lead within 10 seconds (default 300).
    "leader.imbalance.check.interval.seconds": "10",
}


def node_properties(data_dir: Path, node_id: int, port: int, controller_port: int, voters: str) -> str:
    """The single node's settings, made one of three."""
    lines = server_properties(data_dir, port, controller_port).splitlines()
    settings = dict(line.split("=", 1) for line in lines if "=" in line)
    settings.update(REPLICATED, **{"node.id": str(node_id), "controller.quorum.voters": voters})
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def format_storage(folders: list[Path], cluster_id: str) -> None:
    """Give each node's folder its storage, the first time only, all at once: every node of a cluster has the same id."""
    running = {
        folder: subprocess.Popen(
            java(folder, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(folder / CONFIG)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for folder in folders
        if not (folder / "data" / "meta.properties").exists()
    }
    for folder, process in running.items():
        output, _ = process.communicate(timeout=120)
        if process.returncode != 0:
            raise RuntimeError(f"Apache Kafka could not format {folder}: {output}")


@dataclass
class ApacheKafkaCluster:
    """Nodes 1, 2 and 3, each a broker and a controller, on loopback ports."""

    folder: Path
    nodes: dict[int, ApacheKafka] = field(default_factory=dict)  # the running nodes, by node id
    ports: dict[int, int] = field(default_factory=dict)  # each node's port for clients
    temporary: bool = False  # a folder made by start(), removed by stop()

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.bootstrap_servers for node in self.nodes.values())

    @property
    def version(self) -> str:
        return version()

    def node_folder(self, node_id: int) -> Path:
        return self.folder / f"node-{node_id}"

    @classmethod
    def start(cls, folder: Path | None = None, nodes: int = 3) -> ApacheKafkaCluster:
        """Start `nodes` nodes keeping their data in folder/node-N (a new temporary folder if none).
        Waits until every node serves clients; none can before most of the quorum is up."""
        artifacts()
        cluster = cls(Path(folder or tempfile.mkdtemp(prefix="pairing-kafka-cluster-")), temporary=folder is None)
        for n in range(1, nodes + 1):
            cluster.node_folder(n).mkdir(parents=True, exist_ok=True)
            (cluster.node_folder(n) / "log4j2.properties").write_text(LOG4J)
        try:
            cluster.configure(nodes)
            format_storage([cluster.node_folder(n) for n in cluster.ports], new_cluster_id())
            cluster.launch_all(tries=3)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def configure(self, nodes: int) -> None:
        """Give every node free ports and write its settings (the quorum's voters name each node's)."""
        ports = {n: (free_port(), free_port()) for n in range(1, nodes + 1)}
        voters = ",".join(f"{n}@127.0.0.1:{controller}" for n, (_, controller) in ports.items())
        for n, (port, controller) in ports.items():
            self.ports[n] = port
            (self.node_folder(n) / CONFIG).write_text(node_properties(self.node_folder(n), n, port, controller, voters))

    def launch(self, node_id: int) -> int:
        """Start one node on its folder; returns where its log stood before."""
        folder = self.node_folder(node_id)
        process, since = launch(folder, folder / "kafka.log")
        self.nodes[node_id] = ApacheKafka(self.ports[node_id], process, folder, folder / "kafka.log", version())
        return since

    def launch_all(self, tries: int) -> None:
        """Start every node and wait for them all. A port taken by another program between choosing
        it and starting (this machine is shared) is a new try on other ports."""
        for attempt in range(1, tries + 1):
            started = {n: self.launch(n) for n in self.ports}
            try:
                for n, since in started.items():
                    self.nodes[n].wait_until_serving(120, since)
                return
            except RuntimeError:
                self.stop_nodes()
                if attempt == tries or not any(PORT_TAKEN in self.nodes[n]._log_since(since) for n, since in started.items()):
                    raise
                self.configure(len(self.ports))

    def kill(self, node_id: int) -> None:
        """Stop a node with no warning at all (kill -9), as a crash or a power cut would."""
        process = self.nodes[node_id].process
        process.send_signal(signal.SIGKILL)
        process.wait()

    def restart(self, node_id: int) -> None:
        """Start a stopped node again on the data it had, and wait until it serves clients."""
        since = self.launch(node_id)
        self.nodes[node_id].wait_until_serving(120, since)

    def busiest_leader(self, topics: list[str]) -> int:
        """The node leading the busiest partitions of these topics now: those holding the most records
        (then the most partitions, when the topics are still empty)."""
        led = asyncio.run(self.records_led(topics))
        return max(led, key=lambda node: (led[node][0], led[node][1]))

    async def records_led(self, topics: list[str]) -> dict[int, tuple[int, int]]:
        """For each node leading a partition of these topics: the records and the partitions it leads."""
        described = [await self.describe(topic) for topic in topics]
        leaders = {TopicPartition(d["topic"], p["partition"]): p["leader"] for d in described for p in d["partitions"]}
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap_servers, client_id="pairing-cluster-check")
        await consumer.start()
        try:
            ends = await consumer.end_offsets(list(leaders))
        finally:
            await consumer.stop()
        return {
            node: (sum(ends[tp] for tp in leaders if leaders[tp] == node), Counter(leaders.values())[node])
            for node in set(leaders.values())
        }

    async def describe(self, topic: str) -> dict:
        """The topic's partitions from the cluster's metadata: each with its leader, replicas and in-sync replicas."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers, client_id="pairing-cluster-check")
        await admin.start()
        try:
            [described] = await admin.describe_topics([topic])
        finally:
            await admin.close()
        if described["error_code"]:
            raise RuntimeError(f"the cluster could not describe {topic} (Kafka error {described['error_code']})")
        return described

    def stop_nodes(self) -> None:
        """Stop every node at once: one by one, the last would wait for a quorum that has gone."""
        running = [node.process for node in self.nodes.values() if node.process.poll() is None]
        for process in running:
            process.terminate()
        for process in running:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stop(self) -> None:
        self.stop_nodes()
        if self.temporary:
            shutil.rmtree(self.folder, ignore_errors=True)
