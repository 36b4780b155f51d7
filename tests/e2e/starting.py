"""Starting one service as its own process, as `pairing serve` does, and checking how it refuses to start."""

from __future__ import annotations

import os
import subprocess
import sys

from services.common.crypto import new_key


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
