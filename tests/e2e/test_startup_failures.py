"""A service that cannot start says why in one plain line and exits non-zero."""

from __future__ import annotations

import socket

import pytest

from services.common.embedded import free_port
from tests.e2e.starting import assert_one_plain_line, serve

pytestmark = pytest.mark.e2e


def test_unreachable_broker(tmp_path):
    result = serve("matcher", tmp_path, KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{free_port()}")
    assert_one_plain_line(result, "Cannot reach the Kafka broker", "KAFKA_BOOTSTRAP_SERVERS")


def test_unreachable_database(tmp_path, kafka_bootstrap):
    result = serve(
        "notifier",
        tmp_path,
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        NOTIFIER_DATABASE_URL=f"postgresql://nobody@127.0.0.1:{free_port()}/nothing",
    )
    assert_one_plain_line(result, "Cannot open the database", "DATABASE_URL")


def test_bad_setting_names_the_setting(tmp_path):
    result = serve("notifier", tmp_path, NOTIFIER_SMTP_PORT="not-a-number")
    assert_one_plain_line(result, "A setting is wrong", "NOTIFIER_SMTP_PORT must be a whole number")


def test_missing_encryption_key_says_how_to_make_one(tmp_path):
    result = serve("registry", tmp_path, REGISTRY_ENCRYPTION_KEYS="")
    assert_one_plain_line(result, "REGISTRY_ENCRYPTION_KEYS must not be empty", "pairing new-key")


def test_port_in_use(tmp_path, kafka_bootstrap):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = serve("registry", tmp_path, KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, REGISTRY_HTTP_PORT=str(port))
    assert_one_plain_line(result, f"Port {port} is already in use")
