"""Chaos: a whole round runs while services are killed with no warning (kill -9)
and restarted. Afterwards every participant has exactly one outcome message (a
message whose sending was cut short by a kill may arrive again with the same
Message-ID, which mail programs show once; the report counts these), no pair
exists twice, every outbox row was published, every outcome event was
handled once by the notifier, and the round reached its final state.

CI runs it small; `make chaos` runs 1,000 people and at least 20 kills:
CHAOS_PEOPLE, CHAOS_KILLS and CHAOS_SEED set the size and the seed.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from services.common.embedded import free_port, read_maildir
from services.launcher import SERVICES, Stack
from services.registry.client import RegistryClient
from services.registry.sample import SAMPLE_ROUND, sample_leaders
from tests.chaos.helpers import patiently, rows, wait_for

pytestmark = pytest.mark.chaos

PEOPLE = int(os.environ.get("CHAOS_PEOPLE", "60"))
KILLS = int(os.environ.get("CHAOS_KILLS", "4"))
SEED = int(os.environ.get("CHAOS_SEED", "2026"))


class Chaos(threading.Thread):
    """Kills a random service at random moments, then restarts it, until told to stop."""

    def __init__(self, stack: Stack, kills: int, seed: int):
        super().__init__(daemon=True)
        self.stack, self.kills, self.random = stack, kills, random.Random(seed)
        self.done = threading.Event()
        self.log: list[str] = []

    def run(self) -> None:
        while len(self.log) < self.kills and not self.done.wait(self.random.uniform(0.5, 3.0)):
            service = self.random.choice(SERVICES)
            self.stack.kill_service(service)
            self.log.append(service)
            time.sleep(self.random.uniform(0.2, 1.5))
            self.stack.restart_service(service)


@pytest.mark.timeout(3600)
def test_a_round_survives_services_being_killed_at_random(new_broker, smtp_server, tmp_path: Path):
    smtp_port, maildir = smtp_server
    stack = Stack(
        data_dir=tmp_path / "stack",
        http_port=free_port(),
        kafka_bootstrap=new_broker(),
        smtp_port=smtp_port,
        start_smtp_sink=False,
        extra_env={
            "KAFKA_SESSION_TIMEOUT_MS": "2000",
            "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
            # A killed member holds up its group's rebalance this long on Tansu.
            "KAFKA_MAX_POLL_INTERVAL_MS": "15000",
            "MATCHER_MAX_POLL_INTERVAL_MS": "15000",
            "CONSUMER_MAX_ATTEMPTS": "20",
        },
        report=lambda _: None,
    )
    tag = f"chaos{SEED}-{os.getpid()}"
    people = [
        {
            **leader,
            "id": f"{leader['id']}-{tag}",
            "email": f"{leader['id']}-{tag}@example.org",
            "contact_method": "email",
            "information_format": "standard",
        }
        for leader in sample_leaders(seed=SEED, count=PEOPLE)
    ]
    round_id = f"round-{tag}"
    with stack:
        client = RegistryClient(stack.base_url, auth=stack.api_token, timeout=30)
        chaos = Chaos(stack, KILLS, SEED)
        chaos.start()
        try:
            for person in people:
                patiently(client.register_leader, person)
            patiently(client.launch_round, {**SAMPLE_ROUND, "id": round_id, "leader_ids": [p["id"] for p in people]})
            proposed = wait_for(
                lambda: (view := client.read_round(round_id))["status"] == "proposed" and view, 300, "the proposal"
            )
            patiently(client.approve, round_id, "Chaos manager")
            patiently(client.publish, round_id)
            final = wait_for(
                lambda: sum((view := client.read_round(round_id))["deliveries"].values()) >= PEOPLE and view,
                300,
                "a message to every person",
            )
            # Keep killing until the planned number of kills is reached, so the full run always has them.
            wait_for(lambda: len(chaos.log) >= KILLS, 120, "every planned kill")
        finally:
            chaos.done.set()
            chaos.join()
        for service in SERVICES:
            if stack.processes[service].poll() is not None:
                stack.restart_service(service)
        time.sleep(3)  # let the relays publish what the last restarts left
    data = stack.data_dir

    emails = {p["email"] for p in people}
    mail = [m for m in read_maildir(maildir) if m["To"] in emails]
    received = Counter(m["To"] for m in mail)
    # Different messages to one person would be a fault. The same message again (same Message-ID)
    # is what at-least-once sending does when the notifier is killed after the email server took a
    # message and before it recorded that: mail programs show such a resend once.
    messages = {to: {m["Message-ID"] for m in mail if m["To"] == to} for to in received}
    duplicates = {to: len(ids) for to, ids in messages.items() if len(ids) > 1}
    resent = {to: n for to, n in received.items() if n > 1 and to not in duplicates}
    interrupted = (data / "logs" / "notifier.log").read_text(errors="replace").count("stopped part way and may have sent already")
    missing = emails - set(received)

    pairs = [(p["lived_experience_id"], p["professional_id"]) for p in final["pairs"]]
    unpublished = {s: rows(data / f"{s}.db", "select count(*) from outbox where published_at is null")[0][0] for s in SERVICES}
    outcome_events = {r[0] for r in rows(data / "registry.db", "select event_id from outbox where topic = 'outcomes.v1'")}
    handled = {r[0] for r in rows(data / "notifier.db", "select event_id from inbox where consumer = 'notifier.outcomes'")}
    skipped = sum((data / "logs" / f"{s}.log").read_text(errors="replace").count("skipped a redelivered event") for s in SERVICES)
    print(
        f"\nChaos report: {PEOPLE} people, seed {SEED}; {len(chaos.log)} kills ({dict(Counter(chaos.log))}); "
        f"{skipped} redelivered events seen and skipped; {len(duplicates)} people with more than one message; "
        f"{len(missing)} with none; {len(resent)} messages sent again with the same Message-ID after a kill "
        f"part way through sending ({interrupted} interrupted sends logged); {len(pairs)} pairs; round {final['status']}."
    )
    assert len(chaos.log) >= KILLS
    assert final["status"] == "published"
    assert final["deliveries"] == {"sent": PEOPLE}
    assert not missing, f"{len(missing)} people heard nothing"
    assert not duplicates, f"{len(duplicates)} people got more than one message: {sorted(duplicates)[:5]}"
    assert sum(n - 1 for n in resent.values()) <= interrupted, "every resend follows a send the notifier knows was cut short"
    assert len(pairs) == len(set(pairs)), "a pair exists twice"
    assert proposed["pairs"] and len(final["pairs"]) == len(proposed["pairs"])
    assert unpublished == {s: 0 for s in SERVICES}, f"outbox rows never published: {unpublished}"
    assert outcome_events and outcome_events == handled, "every outcome event handled exactly once by the notifier"
