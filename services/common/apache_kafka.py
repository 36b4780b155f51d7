"""Apache Kafka on this machine: one node in KRaft mode (broker and controller in one process),
from the official artifacts on Maven Central, for the tests and `make run KAFKA=apache`.

The artifacts are pinned in deploy/apache-kafka/pom.xml and resolved once by Maven (checksums
checked) into ~/.cache/pairing-kafka/VERSION/libs (PAIRING_KAFKA_CACHE moves it). The node keeps
its data in the folder it is given, so `make run KAFKA=apache` finds its topics again after a restart.
"""

from __future__ import annotations

import atexit
import base64
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from services.common.apache_kafka_secure import SecureListeners
from services.common.embedded import free_port, port_is_open, stop_with_parent

POM = Path(__file__).resolve().parents[2] / "deploy" / "apache-kafka" / "pom.xml"
STARTED = "Kafka Server started"


class ApacheKafkaUnavailable(RuntimeError):
    """Java, Maven or the artifacts cannot be had on this machine."""


def version() -> str:
    found = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    assert found, f"{POM} names no kafka.version"
    return found.group(1)


def libs_dir() -> Path:
    cache = Path(os.environ.get("PAIRING_KAFKA_CACHE", Path.home() / ".cache" / "pairing-kafka"))
    return cache / version() / "libs"


def artifacts() -> Path:
    """The folder of jars, resolved by Maven the first time (about 45 jars, 43 MB)."""
    libs = libs_dir()
    if (libs / ".complete").exists():
        return libs
    if not shutil.which("java"):
        raise ApacheKafkaUnavailable("Java is not installed (Apache Kafka 4 needs Java 17 or newer)")
    if not shutil.which("mvn"):
        raise ApacheKafkaUnavailable(f"Maven (mvn) is not installed, and {libs} does not hold Apache Kafka yet")
    libs.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix="libs-", dir=libs.parent))
    command = ["mvn", "-q", "-B", "-C", "-f", str(POM), "dependency:copy-dependencies", f"-DoutputDirectory={partial}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise ApacheKafkaUnavailable(f"Maven could not fetch Apache Kafka {version()}: {(done.stdout + done.stderr)[-1500:]}")
    (partial / ".complete").write_text(version())
    shutil.rmtree(libs, ignore_errors=True)
    partial.rename(libs)
    return libs


def why_unavailable() -> str:
    """Why Apache Kafka cannot run here, fetching its artifacts first if need be; "" when it can."""
    try:
        artifacts()
    except (ApacheKafkaUnavailable, OSError, subprocess.SubprocessError) as exc:
        return str(exc) or type(exc).__name__
    return "" if shutil.which("java") else "Java is not installed (Apache Kafka 4 needs Java 17 or newer)"


def available() -> bool:
    return not why_unavailable()


def new_cluster_id() -> str:
    """What `kafka-storage random-uuid` prints: 16 random bytes, base64 for URLs, no padding, and
    (as Kafka's own ids) never starting with "-", which `kafka-storage format -t` would read as an option."""
    while (cluster_id := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"):
        pass
    return cluster_id


def server_properties(data_dir: Path, port: int, controller_port: int) -> str:
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir / "data"),
        # One node: every internal topic has one copy, and few partitions so it is made at once.
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "5",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "5",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # Consumers join at once, and the tests' short sessions (2 s) are allowed.
        "group.initial.rebalance.delay.ms": "0",
        "group.min.session.timeout.ms": "1000",
        "group.classic.min.session.timeout.ms": "1000",
        "num.partitions": "3",
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


LOG4J = """status=error
appender.out.type=Console
appender.out.name=out
appender.out.layout.type=PatternLayout
appender.out.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=WARN
rootLogger.appenderRef.out.ref=out
logger.started.name=kafka.server.KafkaRaftServer
logger.started.level=INFO
"""


def java(data_dir: Path, main: str, *arguments: str, heap: tuple[str, ...] = ()) -> list[str]:
    """The command running one of Apache Kafka's programs with the node's logging settings, and the
    Java options in PAIRING_KAFKA_JAVA_OPTIONS (the tests ask for quick starts: tests/conftest.py)."""
    logging = f"-Dlog4j2.configurationFile={data_dir / 'log4j2.properties'}"
    options = os.environ.get("PAIRING_KAFKA_JAVA_OPTIONS", "").split()
    return ["java", *heap, *options, logging, "-cp", f"{artifacts()}/*", main, *arguments]


def launch(data_dir: Path, log_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start a node on its folder's server.properties. Also returns where its log stood, so only
    this start's lines count (a kept folder's log has the last run's too)."""
    since = log_path.stat().st_size if log_path.exists() else 0
    heap = (*os.environ.get("PAIRING_KAFKA_HEAP", "-Xms128m -Xmx512m").split(), "-XX:+UseSerialGC")
    with open(log_path, "ab") as log:  # the child keeps its own copy of the file
        process = subprocess.Popen(
            java(data_dir, "kafka.Kafka", str(data_dir / "server.properties"), heap=heap),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # stopped by whoever started it, after the services
            # Linux ties this to the thread that starts the child: a node restarted from a short-lived
            # thread would otherwise stop when that thread ends.
            preexec_fn=stop_with_parent if threading.current_thread() is threading.main_thread() else None,
        )
    return process, since


# A plain node's freshly formatted storage, kept once per process: the next plain node starts from a
# copy instead of a second Java program formatting it (a second or so of processor time per node in
# the tests). Its controllers are in server.properties, not in the storage, so any port can use it.
_formatted_plain_storage: list[Path] = []


def format_storage(data_dir: Path, config: Path, secure: SecureListeners | None) -> None:
    storage = data_dir / "data"
    if not secure and _formatted_plain_storage:
        shutil.copytree(_formatted_plain_storage[0], storage, dirs_exist_ok=True)
        return
    users = secure.format_arguments() if secure else []  # SCRAM users are made with the storage
    formatted = subprocess.run(
        java(data_dir, "kafka.tools.StorageTool", "format", "-t", new_cluster_id(), "-c", str(config), *users),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if formatted.returncode != 0:
        raise RuntimeError(f"Apache Kafka could not format {data_dir}: {formatted.stdout + formatted.stderr}")
    if not secure:
        kept = Path(tempfile.mkdtemp(prefix="pairing-kafka-storage-")) / "data"
        shutil.copytree(storage, kept)
        atexit.register(shutil.rmtree, kept.parent, ignore_errors=True)
        _formatted_plain_storage.append(kept)


@dataclass
class ApacheKafka:
    """One Apache Kafka node (broker and controller) as a child process on loopback ports."""

    port: int
    process: subprocess.Popen
    data_dir: Path
    log_path: Path
    version: str
    temporary: bool = False  # a folder made by start(), removed by stop()

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @classmethod
    def start(
        cls,
        data_dir: Path | None = None,
        port: int | None = None,
        log_path: Path | None = None,
        secure: SecureListeners | None = None,
    ) -> ApacheKafka:
        """Start a node keeping its data in `data_dir` (a new temporary folder if none); its storage is
        formatted the first time. Waits until it serves clients. `secure` adds a TLS and a SASL_SSL
        listener beside the plain one (services/common/apache_kafka_secure.py)."""
        artifacts()
        temporary = data_dir is None
        data_dir = Path(data_dir or tempfile.mkdtemp(prefix="pairing-kafka-"))
        data_dir.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        if port_is_open("127.0.0.1", port):
            raise RuntimeError(f"port {port} is already in use; stop what uses it or choose another port")
        config = data_dir / "server.properties"
        properties = server_properties(data_dir, port, free_port())
        config.write_text(secure.extend(properties) if secure else properties)
        (data_dir / "log4j2.properties").write_text(LOG4J)
        if not (data_dir / "data" / "meta.properties").exists():
            format_storage(data_dir, config, secure)
        log_path = log_path or data_dir / "kafka.log"
        process, since = launch(data_dir, log_path)
        node = cls(port, process, data_dir, log_path, version(), temporary)
        node.wait_until_serving(60, since)
        return node

    def wait_until_serving(self, seconds: float, since: int = 0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Apache Kafka stopped while starting (exit code {self.process.returncode}); see {self.log_path}"
                )
            if port_is_open("127.0.0.1", self.port) and STARTED in self._log_since(since):
                return
            time.sleep(0.1)
        self.process.kill()  # its folder and log are kept, to see why
        raise RuntimeError(f"Apache Kafka did not start within {seconds:.0f} seconds; see {self.log_path}")

    def client_connections(self) -> int:
        """How many connections clients hold open to the node now (Linux: from /proc/net/tcp)."""
        established = "01"
        port = f":{self.port:04X}"
        tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
        fields = [line.split() for table in tables if table.exists() for line in table.read_text().splitlines()[1:]]
        # The clients' ends: their remote port is the node's.
        return sum(1 for f in fields if f[2].endswith(port) and f[3] == established)

    def _log_since(self, offset: int) -> str:
        with open(self.log_path, "rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            # A temporary node's folder goes with it, so nothing is gained by shutting down in order.
            (self.process.kill if self.temporary else self.process.terminate)()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.temporary:
            shutil.rmtree(self.data_dir, ignore_errors=True)
