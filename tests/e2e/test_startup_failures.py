"""A service that cannot start says why in one plain line and exits non-zero."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from services.common.crypto import new_key
from services.common.embedded import free_port

pytestmark = pytest.mark.e2e


def serve(service: str, tmp_path, **env: str) -> subprocess.CompletedProcess:
    key = new_key()
    base = {
        **os.environ,
        "REGISTRY_ENCRYPTION_KEYS": key,
        "REGISTRY_TOKEN_SECRET": key,
        "NOTIFIER_ENCRYPTION_KEYS": key,
        "REGISTRY_EVENT_KEYS": key,
        "NOTIFIER_EVENT_KEYS": key,
        "MATCHER_ENCRYPTION_KEYS": key,
        f"{service.upper()}_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
    }
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "serve", service],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_plain_line(result: subprocess.CompletedProcess, *phrases: str) -> None:
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for phrase in phrases:
        assert phrase in lines[0]


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
