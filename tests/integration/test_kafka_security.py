"""The services' Kafka clients over TLS and SASL/SCRAM, on a local Apache Kafka node with a TLS
listener (clients show a certificate) and a SASL_SSL listener whose SCRAM users are made when its
storage is formatted; the certificates come from a throwaway authority made here.

Each test uses the clients the services use: the FastStream broker with its dead-letter path
(create_broker), the admin client that makes the topics (ensure_topics) and the plain consumer and
producer of `pairing dlq` (read_dead_letters, replay). The embedded broker has no TLS or SASL, so
these tests always start their own Apache Kafka node; with PAIRING_TEST_BROKER=tansu they are left
out (tests/conftest.py says so at the end of the session).
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from schemas.events import RoundPublished, RoundRef
from schemas.topics import DEAD_LETTERS, Topic
from services.cli import explain_startup_failure
from services.common.deadletters import read_dead_letters, replay
from services.common.kafka import create_broker, ensure_topics, subscriber_options
from services.common.kafka_security import KafkaRefused
from services.common.settings import KafkaSettings, ReliabilitySettings
from tests.kafka_tls import SecuredKafka, make_certificates, secured_kafka

pytestmark = [pytest.mark.integration, pytest.mark.needs_apache_kafka]


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    """One node for every test here."""
    yield from secured_kafka(tmp_path_factory)


def scram(secured: SecuredKafka, mechanism: str = "SCRAM-SHA-512", password: str | None = None) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=f"127.0.0.1:{secured.listeners.sasl_port}",
        client_prefix=f"pairing-test-{uuid.uuid4().hex[:6]}",
        enable_idempotence=True,
        security_protocol="SASL_SSL",
        ssl_ca_file=secured.certificates.ca_file,
        sasl_mechanism=mechanism,
        sasl_username="pairing-services",
        sasl_password_file=secured.password_file(password) if password else secured.password_file(),
        session_timeout_ms=2000,
        heartbeat_interval_ms=500,
    )


def tls(secured: SecuredKafka, **changes) -> KafkaSettings:
    return KafkaSettings(
        **{
            "bootstrap_servers": f"127.0.0.1:{secured.listeners.tls_port}",
            "client_prefix": f"pairing-test-{uuid.uuid4().hex[:6]}",
            "enable_idempotence": True,
            "security_protocol": "SSL",
            "ssl_ca_file": secured.certificates.ca_file,
            "ssl_cert_file": secured.certificates.client_cert_file,
            "ssl_key_file": secured.certificates.client_key_file,
            "session_timeout_ms": 2000,
            "heartbeat_interval_ms": 500,
            **changes,
        }
    )


def event(round_id: str) -> bytes:
    return RoundPublished(producer="t", data=RoundRef(round_id=round_id), correlation_id=round_id).model_dump_json().encode()


async def round_trip(kafka: KafkaSettings) -> None:
    """What a service does with Kafka: make the topics, consume, dead-letter a bad event, then
    list the dead letters and replay them as `pairing dlq` does."""
    topic = Topic(f"test.secured.{uuid.uuid4().hex[:6]}", key="round_id", partitions=1)
    await ensure_topics(kafka, (topic, DEAD_LETTERS))
    broker = create_broker(kafka, "secured-test", ReliabilitySettings(max_attempts=1, first_backoff_seconds=0.01))
    handled: list[str] = []

    @broker.subscriber(topic.name, **subscriber_options("secured-test", topic, kafka))
    async def handle(received: RoundPublished) -> None:
        handled.append(received.data.round_id)

    await broker.start()
    try:
        await broker.publish(b"not an event", topic=topic.name, key=b"bad")
        await broker.publish(event("over-a-secured-connection"), topic=topic.name, key=b"good")
        for _ in range(300):
            if handled:
                break
            await asyncio.sleep(0.1)
    finally:
        await broker.stop()
    assert handled == ["over-a-secured-connection"]
    letters = [letter for letter in await read_dead_letters(kafka) if letter.original_topic == topic.name]
    assert [letter.key for letter in letters] == [b"bad"]
    assert await replay(kafka, letters) == 1


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256"])
async def test_a_service_works_over_sasl_ssl_with_a_scram_user(secured, mechanism):
    await round_trip(scram(secured, mechanism))


async def test_a_service_works_over_tls_showing_its_certificate(secured):
    await round_trip(tls(secured))


async def test_a_wrong_password_names_the_settings_to_check(secured):
    with pytest.raises(KafkaRefused) as refused:
        await ensure_topics(scram(secured, password="not the password"))
    line = explain_startup_failure(refused.value)
    assert "refused the user name or password (SCRAM-SHA-512)" in line
    assert "KAFKA_SASL_USERNAME" in line and "KAFKA_SASL_PASSWORD_FILE" in line
    assert "not the password" not in line


async def test_a_plain_client_cannot_use_the_tls_listener(secured):
    plain = KafkaSettings(bootstrap_servers=f"127.0.0.1:{secured.listeners.tls_port}")
    with pytest.raises(KafkaRefused, match="does not accept KAFKA_SECURITY_PROTOCOL=PLAINTEXT"):
        await ensure_topics(plain)


async def test_a_broker_certificate_from_another_authority_is_not_trusted(secured, tmp_path):
    stranger = make_certificates(tmp_path / "another-authority")
    with pytest.raises(KafkaRefused, match=r"certificate was not accepted .* Set KAFKA_SSL_CA_FILE"):
        await ensure_topics(tls(secured, ssl_ca_file=stranger.ca_file))


async def test_a_client_without_a_certificate_is_turned_away_where_one_is_required(secured):
    with pytest.raises(KafkaRefused, match="KAFKA_SSL_CERT_FILE"):
        await ensure_topics(tls(secured, ssl_cert_file=None, ssl_key_file=None))
