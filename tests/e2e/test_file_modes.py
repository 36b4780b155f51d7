"""Every file the services write (databases, logs, traces, letters, texts, tasks for a person) is
readable by its owner only: the three services run as processes, on the real broker, and a round
is published so the notifier writes its files too."""

from __future__ import annotations

import stat
import time
import uuid
from pathlib import Path

import pytest

from services.common.embedded import free_port
from services.launcher import Stack
from services.registry.client import RegistryClient
from services.registry.sample import sample_leaders

pytestmark = pytest.mark.e2e


def open_to_others(folder: Path) -> list[str]:
    return [f"{p.relative_to(folder)} {stat.filemode(p.stat().st_mode)}" for p in folder.rglob("*") if p.stat().st_mode & 0o077]


def test_files_the_services_write_are_the_owners_only(new_broker, smtp_server, tmp_path: Path):
    smtp_port, _ = smtp_server
    stack = Stack(
        data_dir=tmp_path / "stack",
        http_port=free_port(),
        kafka_bootstrap=new_broker(),
        smtp_port=smtp_port,
        start_smtp_sink=False,
        report=lambda _: None,
        extra_env={
            "KAFKA_SESSION_TIMEOUT_MS": "2000",
            "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
            "NOTIFIER_QUIET_HOURS_START": "00:00",
            "NOTIFIER_QUIET_HOURS_END": "00:00",
        },
    )
    tag = uuid.uuid4().hex[:6]
    people = [{**p, "id": f"{p['id']}-{tag}"} for p in sample_leaders()]
    with stack:
        client = RegistryClient(stack.base_url, auth=stack.api_token, timeout=30)
        for person in people:
            client.register_leader(person)
        round_id = client.launch_round({"id": f"modes-{tag}", "leader_ids": [p["id"] for p in people]})["id"]
        client.wait_for_round(round_id, {"proposed"}, seconds=120)
        client.approve(round_id, "A tester")
        client.publish(round_id)

        def written() -> list[Path]:
            return [p for p in stack.data_dir.rglob("*") if p.is_file() and p.parent.name in ("letters", "sms", "for_a_person")]

        deadline = time.monotonic() + 90
        while len({p.parent.name for p in written()}) < 3 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert {p.parent.name for p in written()} == {"letters", "sms", "for_a_person"}
        kinds = {p.suffix for p in stack.data_dir.rglob("*") if p.is_file()}
        assert {".db", ".log", ".jsonl"} <= kinds, kinds
        assert open_to_others(stack.data_dir) == []
