"""`make bench-notifier`: how fast the notifier writes and delivers a round's messages.

1. Writing: every person's message planned and rendered (plain text, HTML,
   text message) and built into an email with its calendar invitation.
2. Sending: those emails through the notifier's email channel to a local SMTP
   server (aiosmtpd, as under `make run`).
3. The notifier as it runs: its own process on SQLite, the embedded broker and
   a local SMTP server. A 10,000-person round's outcomes are published at once,
   as the registry does when a manager publishes; measured from the first
   outcome on the broker to the last email saved.

The baseline is raw aiosmtplib in the same run: the same emails, already
built, sent one after another on one connection to the same server. It is what
the email server itself can take, with no rendering, database or broker.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiosmtplib
from aiokafka import AIOKafkaProducer

from schemas.cohort import Window
from schemas.events import LeaderContact, LeaderContactChanged, MeetingSlot, Outcome, OutcomePublished, Partner
from schemas.topics import LEADER_CONTACTS, OUTCOMES
from services.common.embedded import EmbeddedKafka, free_port, wait_for_port
from services.common.kafka import ensure_topics
from services.common.settings import KafkaSettings
from services.launcher import Stack
from services.notifier.adapters.channels import SmtpChannel, email_message
from services.notifier.compose import plan_message
from tests.bench.report import table, write_section

PEOPLE = int(os.environ.get("BENCH_NOTIFIER_PEOPLE", "10000"))
SAMPLE = int(os.environ.get("BENCH_NOTIFIER_SAMPLE", "2000"))  # messages for the in-process measures
PROGRAMME_CONTACT = "the programme team at pairing@example.nhs.uk"
SENDER = "Patient leader pairing <pairing@example.nhs.uk>"
FORMATS = ["standard"] * 7 + ["large_print_20", "large_print_24", "easy_read"]
REASONS = [
    "You both care about cardiac care and discharge from hospital.",
    "You are both free on Tuesday 10:00 to 12:30.",
    "You can meet by video call or in person (about 7 miles apart).",
    "You come from different organisations, so you each bring a fresh view.",
]


def contacts(count: int, tag: str) -> list[LeaderContact]:
    """Half patient or carer leaders, half professionals; some ask for large print or easy read."""
    chooser = random.Random(7)
    people = []
    for i in range(count):
        lived = i % 2 == 0
        people.append(
            LeaderContact(
                leader_id=f"{'pl' if lived else 'cl'}-{i}-{tag}",
                version=1,
                name=f"Person {i}",
                role="patient_leader" if lived else "clinical_leader",
                organisation=None if lived else "Newcastle Hospitals",
                email=f"person-{i}-{tag}@example.org",
                information_format=chooser.choice(FORMATS),
            )
        )
    return people


def outcomes(people: list[LeaderContact], round_id: str) -> list[Outcome]:
    """Everyone paired with their neighbour; one in fifty left unmatched, with the reason."""
    window = Window(day="tue", start=dt.time(10), end=dt.time(12, 30))
    result = []
    for i in range(0, len(people) - 1, 2):
        first, second = people[i], people[i + 1]
        if i % 100 == 0:
            for person in (first, second):
                result.append(
                    Outcome(
                        round_id=round_id,
                        leader_id=person.leader_id,
                        outcome="unmatched",
                        unmatched_reason="Nobody in your area who could meet you is free at the same times as you.",
                    )
                )
            continue
        for me, other in ((first, second), (second, first)):
            partner = Partner(
                partner_id=other.leader_id,
                reasons=REASONS,
                shared_windows=[window],
                meeting_modes=["video", "in_person"],
                # As the registry plans it, so every email carries its calendar invitation.
                first_meeting=MeetingSlot(date=dt.date(2027, 1, 12), start=dt.time(10), end=dt.time(11)),
                accept_url=f"http://127.0.0.1:8000/a/{me.leader_id[-12:]:a>12}",
                decline_url=f"http://127.0.0.1:8000/a/{me.leader_id[-12:]:n>12}",
            )
            result.append(
                Outcome(
                    round_id=round_id,
                    leader_id=me.leader_id,
                    outcome="paired",
                    partners=[partner],
                    respond_by=dt.date(2027, 1, 5),
                )
            )
    return result


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f} /s"


# ---- 1 and 2: in one process ----


def write_all(people: dict[str, LeaderContact], rounds: list[Outcome]) -> tuple[float, list]:
    started = time.perf_counter()
    emails = []
    for outcome in rounds:
        me = people[outcome.leader_id]
        partners = {p.partner_id: people[p.partner_id] for p in outcome.partners}
        planned = plan_message(outcome, me, partners, PROGRAMME_CONTACT)
        emails.append((planned, me, email_message(planned, SENDER, me.email, f"bench:{outcome.leader_id}:email")))
    return time.perf_counter() - started, emails


async def send_raw(port: int, emails: list) -> float:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
    await client.connect()
    started = time.perf_counter()
    for _planned, _me, email in emails:
        await client.send_message(email)
    seconds = time.perf_counter() - started
    await client.quit()
    return seconds


async def send_through_channel(port: int, emails: list) -> float:
    channel = SmtpChannel("127.0.0.1", port, 30, SENDER)
    started = time.perf_counter()
    for planned, me, _email in emails:
        await channel.send(planned, me, f"bench-channel:{me.leader_id}:email")
    seconds = time.perf_counter() - started
    await channel.close()
    return seconds


# ---- 3: the notifier process ----


async def publish(bootstrap: str, topic: str, events: list) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=256 * 1024)
    await producer.start()
    try:
        sent = [
            await producer.send(
                topic,
                e.model_dump_json().encode(),
                key=e.data.leader_id.encode(),
                headers=[("event_id", str(e.event_id).encode())],
            )
            for e in events
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def count_mail(maildir: Path) -> int:
    with os.scandir(maildir / "new") as entries:
        return sum(1 for _ in entries)


def wait_for_contacts(database: Path, count: int) -> float:
    """Seconds until the notifier has stored everyone's contact details."""
    started = time.perf_counter()
    while True:
        with sqlite3.connect(database) as db:
            if db.execute("select count(*) from contacts").fetchone()[0] >= count:
                return time.perf_counter() - started
        if time.perf_counter() - started > 1800:
            raise RuntimeError("the notifier did not store the contact details within half an hour")
        time.sleep(0.5)


def whole_round(count: int) -> dict[str, float]:
    """The notifier process: contacts first (as the registry sends them on registering), then the outcomes."""
    tag = "round"
    people = contacts(count, tag)
    published = [OutcomePublished(producer="bench", correlation_id=o.round_id, data=o) for o in outcomes(people, f"bench-{tag}")]
    with tempfile.TemporaryDirectory() as folder:
        kafka = EmbeddedKafka.start(log_path=Path(folder) / "broker.log")
        stack = Stack(Path(folder), http_port=free_port(), kafka_bootstrap=kafka.bootstrap_servers, report=lambda _: None)
        stack.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            stack.smtp_port = free_port()
            stack._spawn("email-sink", ["smtp-sink", "--port", str(stack.smtp_port), "--maildir", str(stack.mail_dir)])
            wait_for_port("127.0.0.1", stack.smtp_port, 20, "The email sink", stack.processes["email-sink"])
            asyncio.run(ensure_topics(KafkaSettings(bootstrap_servers=kafka.bootstrap_servers)))
            stack.start_service("notifier")
            if not stack._answers("notifier", 60):
                raise RuntimeError(f"the notifier did not start: {stack.last_log_line('notifier')}")
            changed = [LeaderContactChanged(producer="bench", correlation_id=p.leader_id, data=p) for p in people]
            asyncio.run(publish(kafka.bootstrap_servers, LEADER_CONTACTS.name, changed))
            stored = wait_for_contacts(Path(folder) / "notifier.db", count)  # before the round, as in real life
            started = time.perf_counter()
            asyncio.run(publish(kafka.bootstrap_servers, OUTCOMES.name, published))
            on_broker = time.perf_counter() - started
            first_seen = None
            while (saved := count_mail(stack.mail_dir)) < len(published):
                stack.check_alive()
                if saved and first_seen is None:
                    first_seen = time.perf_counter() - started
                if time.perf_counter() - started > 3600:
                    raise RuntimeError(f"only {saved} of {len(published)} messages after an hour")
                time.sleep(0.2)
            return {
                "messages": len(published),
                "contacts": stored,
                "on_broker": on_broker,
                "first": first_seen or 0.0,
                "last": time.perf_counter() - started,
            }
        finally:
            stack.stop()
            kafka.stop()


def main() -> None:
    sample = min(SAMPLE, PEOPLE)
    people = contacts(sample, "sample")
    by_id = {p.leader_id: p for p in people}
    writing, emails = write_all(by_id, outcomes(people, "bench-sample"))
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        # Its own process, as under `make run`, so the server does not share this process's time.
        sink = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "smtp-sink", "--port", str(port), "--maildir", f"{folder}/mail"]
        )
        try:
            wait_for_port("127.0.0.1", port, 20, "The email sink", sink)
            raw = asyncio.run(send_raw(port, emails))
            channel = asyncio.run(send_through_channel(port, emails))
        finally:
            sink.terminate()
            sink.wait()
    size = sum(len(bytes(e)) for _p, _m, e in emails) / len(emails)
    print(f"writing {rate(len(emails), writing)}, channel {rate(len(emails), channel)}, raw {rate(len(emails), raw)}")

    run = whole_round(PEOPLE)
    print(f"{PEOPLE} people: last message {run['last']:.1f} s after publishing")
    raw_rate = len(emails) / raw
    body = "\n\n".join(
        [
            f"`make bench-notifier` (`.venv/bin/python -m tests.bench.bench_notifier`). Baseline: raw aiosmtplib "
            f"sending the same emails, already built (about {size / 1024:.0f} KiB each, with the calendar "
            "invitation), one after another on one connection to the same local SMTP server (aiosmtpd) in the same run.",
            f"### Writing and sending, in one process ({len(emails):,} messages)",
            table(
                ["step", "time", "messages per second", "share of raw sending"],
                [
                    [
                        "writing: plan and render every format, build the email",
                        f"{writing:.2f} s",
                        rate(len(emails), writing),
                        f"{raw / writing:.0%}",
                    ],
                    [
                        "sending through the notifier's email channel",
                        f"{channel:.2f} s",
                        rate(len(emails), channel),
                        f"{raw / channel:.0%}",
                    ],
                    ["raw aiosmtplib (baseline)", f"{raw:.2f} s", rate(len(emails), raw), "100%"],
                ],
            ),
            f"### The notifier as it runs: a {PEOPLE:,}-person round",
            "Its own process on SQLite, the embedded broker, a local SMTP server. Every person's contact details "
            "arrive first, as they do when people are registered; then every outcome is published at once. Each "
            "message is written, claimed in the delivery log, sent, recorded and reported (deliveries.v1).",
            table(
                [
                    "messages",
                    "outcomes on the broker",
                    "first email saved",
                    "last email saved",
                    "messages per second",
                    "share of raw sending",
                ],
                [
                    [
                        f"{run['messages']:,}",
                        f"{run['on_broker']:.2f} s",
                        f"{run['first']:.2f} s",
                        f"{run['last']:.1f} s",
                        rate(run["messages"], run["last"]),
                        f"{run['messages'] / run['last'] / raw_rate:.0%}",
                    ]
                ],
            ),
            f"Before the round, storing {PEOPLE:,} people's contact details from the broker took "
            f"{run['contacts']:.1f} s ({rate(PEOPLE, run['contacts'])}).",
        ]
    )
    print(f"written to {write_section('notifier', body)}")


if __name__ == "__main__":
    main()
