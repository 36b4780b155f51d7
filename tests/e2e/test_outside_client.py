"""An outside client, written by others in another language, reads every topic of a demo-sized
round from Apache Kafka: Debian's `kcat` (C, librdkafka). Every record it reads obeys the
published contract; a malformed record it writes is dead-lettered, and a duplicate it writes is
skipped, so nobody hears twice."""

from __future__ import annotations

import json
import subprocess
import time
import uuid

import pytest

from schemas.topics import ALL_TOPICS, DEAD_LETTERS, OUTCOMES, ROUNDS
from services.common import apache_kafka
from services.common.embedded import free_port
from services.launcher import Stack
from services.registry.client import RegistryClient
from tests import kcat
from tests.contract_check import problems, run_a_round

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def kafka(kafka_kind, new_broker):
    """Apache Kafka: the session's, or one started here when the session runs on Tansu
    (which kcat cannot talk to)."""
    if kafka_kind != "tansu":
        yield new_broker()
        return
    try:
        node = apache_kafka.ApacheKafka.start()
    except (apache_kafka.ApacheKafkaUnavailable, RuntimeError) as exc:
        pytest.fail(f"the outside-client test needs Apache Kafka: {exc}", pytrace=False)
    yield node.bootstrap_servers
    node.stop()


@pytest.fixture(scope="module")
def kcat_path() -> str:
    try:
        return kcat.ensure()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def stack(kafka, tmp_path_factory):
    with Stack(
        data_dir=tmp_path_factory.mktemp("outside"),
        http_port=free_port(),
        kafka_bootstrap=kafka,
        extra_env={"KAFKA_SESSION_TIMEOUT_MS": "2000", "KAFKA_HEARTBEAT_INTERVAL_MS": "500", "KAFKA_ENABLE_IDEMPOTENCE": "true"},
        report=lambda _: None,
    ) as stack:
        yield stack


def read_with_kcat(kcat_path: str, bootstrap: str, topic: str) -> list[dict]:
    """Everything on the topic, read from the beginning to its end (-e), one JSON object a record."""
    done = subprocess.run(
        [kcat_path, "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-J"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def write_with_kcat(kcat_path: str, bootstrap: str, topic: str, key: str, value: str, headers: dict[str, str]) -> None:
    options = [option for name, text in headers.items() for option in ("-H", f"{name}={text}")]
    done = subprocess.run(
        [kcat_path, "-P", "-b", bootstrap, "-t", topic, "-k", key, *options],
        input=value,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def headers_of(record: dict) -> dict[str, str]:
    """kcat -J gives headers as one flat list: name, value, name, value."""
    flat = record.get("headers") or []
    return dict(zip(flat[::2], flat[1::2], strict=True))


def read_ours(kcat_path: str, bootstrap: str, topic: str, tag: str, refs: list[str]) -> list[dict]:
    """The round's records: rounds are keyed by round ids (which carry the tag), people by their event references."""
    return [r for r in read_with_kcat(kcat_path, bootstrap, topic) if tag in (key := r.get("key") or "") or key in refs]


def test_kcat_reads_every_record_of_a_round_and_each_obeys_the_contract(stack: Stack, kcat_path: str) -> None:
    tag = uuid.uuid4().hex[:6]
    proposed = run_a_round(stack, tag)
    bootstrap = stack.kafka_bootstrap

    refs = proposed["event_refs"]
    records = {topic.name: read_ours(kcat_path, bootstrap, topic.name, tag, refs) for topic in ALL_TOPICS}
    assert len(records[OUTCOMES.name]) == 40, "every person's outcome, read to the end of the topic"
    wrong = []
    for topic, found in records.items():
        if topic != DEAD_LETTERS.name:
            assert found, f"kcat read no record of this round on {topic}"
        for record in found:
            value = None if record["payload"] is None else record["payload"].encode()
            at = f"{topic}[{record['partition']}]@{record['offset']}"
            wrong += [f"{at}: {problem}" for problem in problems(topic, value, headers_of(record))]
    assert not wrong, f"{len(wrong)} problems:\n" + "\n".join(wrong[:40])

    # A malformed record from outside is set aside on the dead-letter topic with why.
    unreadable = f"unreadable-{tag}"
    write_with_kcat(kcat_path, bootstrap, ROUNDS.name, unreadable, "{not json", {})
    dead = wait_for(lambda: [r for r in read_with_kcat(kcat_path, bootstrap, DEAD_LETTERS.name) if r["key"] == unreadable])
    # One dead letter from each service that reads the topic and could not read it.
    consumers = [headers_of(letter)["consumer"] for letter in dead]
    assert dead and len(consumers) == len(set(consumers)), consumers
    for letter in dead:
        assert headers_of(letter)["original_topic"] == ROUNDS.name
        assert not problems(DEAD_LETTERS.name, (letter["payload"] or "").encode(), headers_of(letter))

    # The same outcome twice: its event id is known, so the person is not told again.
    client = RegistryClient(stack.base_url, auth=stack.api_token)
    round_id = proposed["id"]
    before = client.read_round(round_id)["deliveries"]
    again = records[OUTCOMES.name][0]
    write_with_kcat(kcat_path, bootstrap, OUTCOMES.name, again["key"], again["payload"], headers_of(again))
    time.sleep(5)  # time for the notifier to read it, were it to act on it
    assert client.read_round(round_id)["deliveries"] == before
    outcomes = read_ours(kcat_path, bootstrap, OUTCOMES.name, tag, refs)
    assert len(outcomes) == 41, "the duplicate is on the topic, and nobody was told twice"


def wait_for(found, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while not (result := found()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return result
