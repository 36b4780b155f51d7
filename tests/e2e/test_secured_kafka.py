"""The three services as separate processes on a Kafka that wants TLS and a SCRAM user
(tests/kafka_tls.py): a round runs through, the password is in no log, and a service given the
wrong password stops with one line naming the settings to check."""

from __future__ import annotations

import uuid

import pytest

from services.common.embedded import free_port
from services.launcher import Stack
from services.registry.client import RegistryClient
from services.registry.sample import SAMPLE_ROUND, sample_leaders
from tests.e2e.starting import assert_one_plain_line, serve
from tests.kafka_tls import SCRAM_USERS, SecuredKafka, secured_kafka

pytestmark = [pytest.mark.e2e, pytest.mark.needs_apache_kafka]


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    yield from secured_kafka(tmp_path_factory)


def sasl_ssl_env(secured: SecuredKafka, password: str = SCRAM_USERS["pairing-services"]) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{secured.listeners.sasl_port}",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SSL_CA_FILE": str(secured.certificates.ca_file),
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "pairing-services",
        "KAFKA_SASL_PASSWORD_FILE": str(secured.password_file(password)),
    }


def test_a_round_runs_through_services_signed_in_over_tls(secured: SecuredKafka, tmp_path_factory) -> None:
    env = sasl_ssl_env(secured)
    with Stack(
        data_dir=tmp_path_factory.mktemp("secured-stack"),
        http_port=free_port(),
        kafka_bootstrap=env.pop("KAFKA_BOOTSTRAP_SERVERS"),
        extra_env={
            **env,
            "KAFKA_ENABLE_IDEMPOTENCE": "true",
            "KAFKA_SESSION_TIMEOUT_MS": "2000",
            "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
        },
        report=lambda _: None,
    ) as stack:
        client = RegistryClient(stack.base_url, auth=stack.api_token)
        tag = uuid.uuid4().hex[:6]
        by_email = [leader for leader in sample_leaders() if leader.get("contact_method", "email") == "email"]
        leaders = [{**leader, "id": f"{leader['id']}-{tag}"} for leader in by_email[:12]]
        for leader in leaders:
            client.register_leader(leader)
        round_id = f"secured-{tag}"
        client.launch_round({**SAMPLE_ROUND, "id": round_id, "leader_ids": [leader["id"] for leader in leaders]})
        proposed = client.wait_for_round(round_id, {"proposed", "failed"}, seconds=120)
        assert proposed["status"] == "proposed", proposed.get("failure")
        client.approve(round_id, "Secured Kafka test")
        client.publish(round_id)
        told = client.wait_for_deliveries(round_id, len(leaders), seconds=120)
        assert sum(told["deliveries"].values()) == len(leaders), told["deliveries"]
        logs = "".join(path.read_text(errors="replace") for path in stack.log_dir.glob("*"))
    assert logs, "the services wrote logs"
    assert SCRAM_USERS["pairing-services"] not in logs


def test_a_wrong_password_stops_a_service_naming_the_settings(secured: SecuredKafka, tmp_path) -> None:
    result = serve("matcher", tmp_path, **sasl_ssl_env(secured, password="not the password"))
    assert_one_plain_line(result, "refused the user name or password", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD_FILE")
    assert "not the password" not in result.stderr + result.stdout
