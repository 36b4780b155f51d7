"""`make bench-notifier`: how fast the notifier writes and delivers a round's messages.

1. Writing: every person's message planned and rendered (plain text, HTML,
   text message) and built into an email with its calendar invitation.
2. Sending: those emails through the notifier's email channel to a local SMTP
   server (aiosmtpd, as under `make run`).
3. Where the time goes: the notifier's batch path (services/notifier/batch.py)
   in this process on SQLite and the same kind of SMTP server, under cProfile
   (the worker threads that write the messages too), summarised.
4. The notifier as it runs: its own process on SQLite, the embedded broker and
   a local SMTP server. A 10,000-person round's outcomes are published at once,
   as the registry does when a manager publishes; measured from publishing to
   the last email saved, with the notifier's peak memory and CPU time.

The baseline is raw aiosmtplib in the same run: the same emails, already
built, sent one after another on one connection to the same server. It is what
the email server itself can take, with no rendering, database or broker. The
machine is shared, so for the round the baseline is measured on the round's own
email server just before and just after the round, and their mean is used.
"""

from __future__ import annotations

import asyncio
import cProfile
import datetime as dt
import os
import pstats
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from email import message_from_bytes
from pathlib import Path
from typing import Any

import aiosmtplib
from aiokafka import AIOKafkaProducer

from schemas.cohort import Window
from schemas.events import (
    LeaderContact,
    LeaderContactChanged,
    MeetingSlot,
    Outcome,
    OutcomePublished,
    Partner,
    ProgrammeContact,
)
from schemas.topics import LEADER_CONTACTS, OUTCOMES
from services.common.crypto import Cipher, new_key
from services.common.embedded import EmbeddedKafka, free_port, wait_for_port
from services.common.kafka import ensure_topics
from services.common.projection import Change, apply_changes
from services.common.settings import KafkaSettings
from services.common.store import Store, make_engine
from services.launcher import Stack
from services.notifier import batch_groups, handlers
from services.notifier.adapters.channels import SmtpChannel, flat_email
from services.notifier.adapters.orm import Base, Inbox, Outbox
from services.notifier.app import OUTCOME_BATCH
from services.notifier.compose import plan_message
from services.notifier.context import MessageRules, Notifier
from tests.bench.report import table, write_section

PEOPLE = int(os.environ.get("BENCH_NOTIFIER_PEOPLE", "10000"))
SAMPLE = int(os.environ.get("BENCH_NOTIFIER_SAMPLE", "2000"))  # messages for the in-process measures
PROFILED = 500  # messages through the batch path under the profiler, which slows it several times over
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
    """Each message planned and written as the bytes the notifier sends (flat_email); for the raw
    baseline each is then read back into the email package's message, as it sent them before."""
    started = time.perf_counter()
    written = []
    for outcome in rounds:
        me = people[outcome.leader_id]
        partners = {p.partner_id: people[p.partner_id] for p in outcome.partners}
        planned = plan_message(outcome, me, partners, PROGRAMME_CONTACT)
        written.append((planned, me, flat_email(planned, SENDER, me.email, f"bench:{outcome.leader_id}:email")))
    seconds = time.perf_counter() - started
    return seconds, [(planned, me, message_from_bytes(email)) for planned, me, email in written]


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


# ---- 3: where the time goes ----


async def profiled_batches(port: int, people: list[LeaderContact], events: list[OutcomePublished]) -> tuple[float, pstats.Stats]:
    """The notifier's batch path in this process, on SQLite, under cProfile: the event loop's thread, and
    each call that writes messages in a worker thread (a profiler sees one thread only).
    Each counts its own thread's CPU time, so waiting (for the database, the email server or another
    thread) is left out."""
    profiles: list[cProfile.Profile] = []

    def profiled(function: Any) -> Any:
        def run(*args: Any) -> Any:
            profile = cProfile.Profile(time.thread_time)
            profile.enable()
            try:
                return function(*args)
            finally:
                profile.disable()
                profiles.append(profile)

        return run

    with tempfile.TemporaryDirectory() as folder:
        cipher = Cipher(new_key())
        store = Store(make_engine(f"sqlite:///{folder}/notifier.db"), Outbox, Inbox, Base.metadata, cipher)
        await store.prepare("notifier")
        changes = [
            Change(p.leader_id, LeaderContactChanged(producer="bench", correlation_id=p.leader_id, data=p)) for p in people
        ]
        await apply_changes(
            store, "notifier.contacts", changes, handlers.apply_contact, None, cipher, preload=handlers.load_contacts
        )
        channel = SmtpChannel("127.0.0.1", port, 30, SENDER, connections=3)
        rules = MessageRules(programme=ProgrammeContact(team=PROGRAMME_CONTACT))
        notifier = Notifier(store, cipher, {"email": channel}, rules)
        # Writing runs in a worker thread, with its own profile; building the email on the event loop, in the main one.
        original_write = batch_groups.write
        batch_groups.write = profiled(batch_groups.write)
        main = cProfile.Profile(time.thread_time)
        started = time.perf_counter()
        try:
            main.enable()
            for start in range(0, len(events), OUTCOME_BATCH):
                await handlers.on_outcomes(notifier, events[start : start + OUTCOME_BATCH])
            main.disable()
        finally:
            batch_groups.write = original_write
        seconds = time.perf_counter() - started
        await channel.close()
        await store.engine.dispose()
    stats = pstats.Stats(main)
    for profile in profiles:
        stats.add(profile)
    return seconds, stats


# Where the profiled time goes: (what, file, function); each function's time with what it calls.
PROFILE_PARTS = [
    ("writing each message: plan and render (worker thread)", "notifier/batch_groups.py", "write"),
    ("building each email and turning it into bytes", "notifier/adapters/channels.py", "flat_email"),
    ("talking to the email server (aiosmtplib)", "notifier/adapters/channels.py", "send_bytes"),
    ("database: one look at the batch", "notifier/batch.py", "look"),
    ("database: claiming, a few at a time", "notifier/batch_groups.py", "claim"),
    ("database: recording results, inbox marks and reports", "notifier/batch_groups.py", "record"),
    ("database: reminders and questions on the schedule", "notifier/batch.py", "schedule_follow_ups"),
]


def time_in(stats: pstats.Stats, file: str, function: str) -> float:
    table: dict = stats.stats  # type: ignore[attr-defined]  # pstats keeps its table here
    return sum(row[3] for (path, _line, name), row in table.items() if path.endswith(file) and name == function)


def profile_rows(stats: pstats.Stats, messages: int) -> list[list[str]]:
    total: float = stats.total_tt  # type: ignore[attr-defined]  # every thread's time, each function counted once
    rows = []
    for what, file, function in PROFILE_PARTS:
        seconds = time_in(stats, file, function)
        rows.append([what, f"{seconds:.2f} s", f"{seconds / messages * 1000:.1f} ms", f"{seconds / total:.0%}"])
    rest = total - sum(time_in(stats, file, function) for _what, file, function in PROFILE_PARTS)
    rows.append(
        [
            "everything else (the event loop, scheduling tasks, threads)",
            f"{rest:.2f} s",
            f"{rest / messages * 1000:.1f} ms",
            f"{rest / total:.0%}",
        ]
    )
    rows.append(["all of it", f"{total:.2f} s", f"{total / messages * 1000:.1f} ms", "100%"])
    return rows


def hot_functions(stats: pstats.Stats, count: int = 8) -> list[list[str]]:
    table: dict = stats.stats  # type: ignore[attr-defined]  # pstats keeps its table here
    own = sorted(table.items(), key=lambda item: item[1][2], reverse=True)[:count]
    return [[f"`{Path(path).name}:{line} {name}`", f"{row[2]:.2f} s", f"{row[1]:,}"] for (path, line, name), row in own]


# ---- 4: the notifier process ----


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


def cpu_seconds(pid: int) -> float:
    """A process's CPU time so far (user and system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mib(pid: int, field: str) -> float:
    """VmHWM (the most memory the process has held at once) or VmRSS (now), from /proc."""
    line = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith(f"{field}:"))
    return int(line.split()[1]) / 1024


def whole_round(count: int, emails: list) -> dict[str, float]:
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
            notifier, sink = stack.processes["notifier"].pid, stack.processes["email-sink"].pid
            raw_before = asyncio.run(send_raw(stack.smtp_port, emails))  # the baseline, on this very server
            before = count_mail(stack.mail_dir)
            memory_before = memory_mib(notifier, "VmRSS")
            cpu_before, sink_before = cpu_seconds(notifier), cpu_seconds(sink)
            started = time.perf_counter()
            asyncio.run(publish(kafka.bootstrap_servers, OUTCOMES.name, published))
            on_broker = time.perf_counter() - started
            first_seen = None
            while (saved := count_mail(stack.mail_dir) - before) < len(published):
                stack.check_alive()
                if saved and first_seen is None:
                    first_seen = time.perf_counter() - started
                if time.perf_counter() - started > 3600:
                    raise RuntimeError(f"only {saved} of {len(published)} messages after an hour")
                time.sleep(0.2)
            last = time.perf_counter() - started
            cpu, sink_cpu = cpu_seconds(notifier) - cpu_before, cpu_seconds(sink) - sink_before
            peak = memory_mib(notifier, "VmHWM")
            raw_after = asyncio.run(send_raw(stack.smtp_port, emails))
            return {
                "messages": len(published),
                "contacts": stored,
                "on_broker": on_broker,
                "first": first_seen or 0.0,
                "last": last,
                "raw_before": len(emails) / raw_before,
                "raw_after": len(emails) / raw_after,
                "memory_before": memory_before,
                "peak_memory": peak,
                "cpu": cpu,
                "sink_cpu": sink_cpu,
            }
        finally:
            stack.stop()
            kafka.stop()


def load() -> str:
    one, five, _fifteen = os.getloadavg()
    return f"{one:.1f} (1 minute), {five:.1f} (5 minutes)"


def main() -> None:
    load_at_start = load()
    sample = min(SAMPLE, PEOPLE)
    people = contacts(sample, "sample")
    by_id = {p.leader_id: p for p in people}
    writing, emails = write_all(by_id, outcomes(people, "bench-sample"))
    profiled_people = people[: min(PROFILED, sample)]
    profiled_events = [
        OutcomePublished(producer="bench", correlation_id=o.round_id, data=o) for o in outcomes(profiled_people, "bench-profile")
    ]
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
            profiled, stats = asyncio.run(profiled_batches(port, profiled_people, profiled_events))
        finally:
            sink.terminate()
            sink.wait()
    size = sum(len(bytes(e)) for _p, _m, e in emails) / len(emails)
    print(f"writing {rate(len(emails), writing)}, channel {rate(len(emails), channel)}, raw {rate(len(emails), raw)}")
    print(f"batch path under cProfile: {rate(len(profiled_events), profiled)}")

    run = whole_round(PEOPLE, emails)
    raw_rate = (run["raw_before"] + run["raw_after"]) / 2
    share = run["messages"] / run["last"] / raw_rate
    print(
        f"{PEOPLE} people: last message {run['last']:.1f} s after publishing, {share:.0%} of raw; "
        f"peak {run['peak_memory']:.0f} MiB"
    )
    body = "\n\n".join(
        [
            f"`make bench-notifier` (`.venv/bin/python -m tests.bench.bench_notifier`). Baseline: raw aiosmtplib "
            f"sending the same emails, already built (about {size / 1024:.0f} KiB each, with the calendar "
            "invitation), one after another on one connection to the same local SMTP server (aiosmtpd) in the same run. "
            f"The machine is shared: load average {load_at_start} at the start, {load()} at the end.",
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
            "arrive first, as they do when people are registered; then every outcome is published at once. The "
            f"notifier takes them {OUTCOME_BATCH} at a time (services/notifier/batch.py), and within a batch "
            f"{batch_groups.FEW} messages at a time, never two to one person in the same few: each few is written, claimed "
            "in the delivery log, sent, and recorded and reported (deliveries.v1) as soon as it is all sent, while "
            "the next few is claimed and sent; then the batch's reminders and questions are scheduled. Raw sending "
            "is measured on the round's own email server just before and just after the round; the share is against "
            "their mean. Target: at least 80%.",
            table(
                [
                    "messages",
                    "outcomes on the broker",
                    "first email saved",
                    "last email saved",
                    "messages per second",
                    "raw before / after",
                    "share of raw sending",
                ],
                [
                    [
                        f"{run['messages']:,}",
                        f"{run['on_broker']:.2f} s",
                        f"{run['first']:.2f} s",
                        f"{run['last']:.1f} s",
                        rate(run["messages"], run["last"]),
                        f"{run['raw_before']:,.0f} /s / {run['raw_after']:,.0f} /s",
                        f"{share:.0%} ({'met' if share >= 0.8 else 'missed'})",
                    ]
                ],
            ),
            f"Memory: the notifier held {run['memory_before']:.0f} MiB before the round and at most "
            f"{run['peak_memory']:.0f} MiB during it (VmHWM, the most it held at once). CPU time during the round: "
            f"the notifier {run['cpu'] / run['messages'] * 1000:.1f} ms a message, the email server "
            f"{run['sink_cpu'] / run['messages'] * 1000:.1f} ms a message (two cores for both, the broker and the "
            "rest of the machine).",
            f"Before the round, storing {PEOPLE:,} people's contact details from the broker took "
            f"{run['contacts']:.1f} s ({rate(PEOPLE, run['contacts'])}).",
            f"### Where the time goes ({len(profiled_events):,} messages, cProfile)",
            f"The batch path (`handlers.on_outcomes`) in this process on SQLite, sending to the same kind of email "
            f"server, {OUTCOME_BATCH} outcomes at a time, under cProfile: {profiled:.1f} s, "
            f"{rate(len(profiled_events), profiled)} (profiling slows it). CPU time in the notifier's threads (each "
            "thread's own, so no waiting), each part with what it calls; the database driver's own thread and the "
            "email server are not in it.",
            table(["part", "time", "per message", "share"], profile_rows(stats, len(profiled_events))),
            "The functions with the most time of their own:",
            table(["function", "own time", "calls"], hot_functions(stats)),
        ]
    )
    print(f"written to {write_section('notifier', body)}")


if __name__ == "__main__":
    main()
