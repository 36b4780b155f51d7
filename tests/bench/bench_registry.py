"""`make bench-registry`: import speed, outbox relay throughput, API latency.

Each figure has a baseline measured in the same run:
- import of 10,000 leaders (CSV and Excel) against reading the same file with
  the csv module and inserting the same rows with one plain INSERT;
- the outbox relay's events per second against raw aiokafka sends of the same
  number and size of messages;
- API latency for list and read under concurrent load from a second process,
  against the /health route under the same load;
- a 2,000-pair round's review page and its XLSX and CSV exports, against the plain
  list of leaders (tests/bench/bench_review.py).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from openpyxl import Workbook

from services.common.crypto import Cipher, new_key
from services.common.embedded import EmbeddedKafka, free_port
from services.common.kafka import ensure_topics, make_producer
from services.common.relay import OutboxRelay
from services.common.settings import KafkaSettings
from services.common.store import Store, make_engine
from services.registry.adapters import spreadsheets
from services.registry.adapters.gazetteer import locate_town
from services.registry.adapters.orm import Outbox
from services.registry.domain.importing import COLUMNS, parse_rows
from services.registry.event_refs import registry_store
from services.registry.handlers import leaders as leader_handlers
from services.registry.person_keys import PersonKeys
from tests.bench import bench_review
from tests.bench.report import table, write_section
from tests.postgres_server import postgres_for_tests

N = int(os.environ.get("BENCH_LEADERS", "10000"))
TOPICS = ["cardiac", "discharge", "mental health", "maternity", "diabetes", "frailty"]


def leader_rows(n: int) -> list[dict[str, str]]:
    rows = []
    for i in range(n):
        professional = i % 2 == 1
        rows.append(
            {
                "id": f"bench-{i:05d}",
                "name": f"Person {i}",
                "role": "clinical_leader" if professional else ("carer_leader" if i % 6 == 0 else "patient_leader"),
                "email": f"person{i}@example.org",
                "system": f"Q{i % 40:02d}",
                "latitude": f"{50 + (i % 500) / 100:.2f}",
                "longitude": f"{-3 + (i % 300) / 100:.2f}",
                "max_travel_km": "25",
                "meeting_modes": "in_person; video",
                "availability": "tue 10:00-12:30; thu 09:00-11:00",
                "access_needs": "step_free_access" if i % 10 == 0 else "",
                "topics": f"{TOPICS[i % 6]}; {TOPICS[(i + 2) % 6]}",
                "capacity": "2" if professional else "",
                "release_confirmed": "yes" if professional else "",
            }
        )
    return rows


def as_csv(rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def as_xlsx(rows: list[dict[str, str]]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(list(COLUMNS))
    for row in rows:
        sheet.append([row.get(c, "") for c in COLUMNS])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def fresh_store(url: str) -> Store:
    store = registry_store(make_engine(url))  # events with event references, as the registry writes them
    await store.prepare("registry")
    return store


async def import_file(store: Store, cipher: Cipher, name: str, content: bytes) -> tuple[float, dict]:
    started = time.perf_counter()
    header, rows = spreadsheets.read_rows(name, content)
    valid, problems = parse_rows(header, rows, locate_town)
    async with store.unit_of_work() as uow:
        counts, conflicts = await leader_handlers.import_leaders(uow, cipher, valid, keys=PersonKeys(cipher, Cipher(new_key())))
        await uow.commit()
    assert not problems and not conflicts, (problems[:3], conflicts[:3])
    return time.perf_counter() - started, counts


async def baseline_import(store: Store, content: bytes) -> float:
    """Read the CSV with the csv module and insert the rows as they are, with no checks or encryption."""
    started = time.perf_counter()
    rows = list(csv.DictReader(io.StringIO(content.decode())))
    async with store.engine.begin() as conn:
        await conn.exec_driver_sql("create table if not exists baseline_rows (id text primary key, body text)")
        await conn.exec_driver_sql(
            "insert into baseline_rows (id, body) values ($1, $2)"
            if store.is_postgres
            else "insert into baseline_rows (id, body) values (?, ?)",
            [(r["id"], json.dumps(r)) for r in rows],
        )
    return time.perf_counter() - started


async def bench_import(new_url, label: str, rows: list[dict[str, str]]) -> list[list[object]]:
    """`new_url()` gives a fresh, empty database for each measurement."""
    cipher = Cipher(new_key())
    csv_content, xlsx_content = as_csv(rows), as_xlsx(rows)
    results = []
    for name, content in (("leaders.csv", csv_content), ("leaders.xlsx", xlsx_content)):
        store = await fresh_store(await new_url())
        baseline = await baseline_import(store, csv_content)
        seconds, _counts = await import_file(store, cipher, name, content)
        again, counts_again = await import_file(store, cipher, name, content)
        await store.engine.dispose()
        results.append(
            [
                f"{label}, {name.split('.')[1].upper()}",
                f"{seconds:.2f} s",
                f"{again:.2f} s ({counts_again['unchanged']} unchanged)",
                f"{baseline:.2f} s",
                f"{seconds / baseline:.1f}x",
                "met" if seconds < 10 else f"missed by {seconds - 10:.1f} s",
            ]
        )
    return results


async def bench_relay(url: str, kafka: KafkaSettings, events: int) -> list[list[object]]:
    await ensure_topics(kafka)
    store = await fresh_store(url)
    producer = make_producer(kafka, "bench")
    await producer.start()
    try:
        payload = b"x" * 700  # about the size of a leader profile event
        started = time.perf_counter()
        futures = [await producer.send("leaders.profile.v1", payload, key=f"k{i}".encode()) for i in range(events)]
        await asyncio.gather(*futures)
        raw = events / (time.perf_counter() - started)

        async with store.unit_of_work() as uow:
            for i in range(events):
                uow.session.add(
                    Outbox(event_id=str(uuid.uuid4()), topic="leaders.profile.v1", key=f"k{i}", value=payload, headers={})
                )
            await uow.commit()
        relay = OutboxRelay(store, producer)
        started = time.perf_counter()
        while await relay.publish_pending():
            pass
        relayed = events / (time.perf_counter() - started)
    finally:
        await producer.stop()
        await store.engine.dispose()
    return [[f"{events:,} events", f"{relayed:,.0f} /s", f"{raw:,.0f} /s", f"{relayed / raw:.0%}"]]


LOAD_SCRIPT = """
import asyncio, json, sys, time, httpx
async def main(base, path, seconds, concurrency, token):
    latencies = []
    async with httpx.AsyncClient(base_url=base, timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
        end = time.perf_counter() + seconds
        async def worker():
            while time.perf_counter() < end:
                t = time.perf_counter()
                r = await client.get(path)
                r.raise_for_status()
                latencies.append(time.perf_counter() - t)
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    print(json.dumps(latencies))
asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]))
"""


def load(base: str, path: str, token: str, seconds: float = 5, concurrency: int = 16) -> tuple[float, float, int]:
    """Latency p50 and p95 in milliseconds, measured from a second process."""
    out = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT, base, path, str(seconds), str(concurrency), token],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    latencies = sorted(json.loads(out))
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    return statistics.median(latencies) * 1000, p95 * 1000, len(latencies)


def bench_api(kafka: KafkaSettings, data_dir: Path) -> list[list[object]]:
    from services.launcher import Stack

    rows = []
    with Stack(data_dir=data_dir, http_port=free_port(), kafka_bootstrap=kafka.bootstrap_servers, report=lambda _: None) as stack:
        import httpx

        with httpx.Client(base_url=stack.base_url, timeout=30, headers={"Authorization": f"Bearer {stack.api_token}"}) as client:
            content = as_csv(leader_rows(2000))
            assert client.post("/leaders/import", files={"file": ("l.csv", content)}).status_code == 200
        health = load(stack.base_url, "/health", stack.api_token)
        for label, path in (("list 50 leaders", "/leaders?per_page=50&page=3"), ("read one leader", "/leaders/bench-00042")):
            p50, p95, count = load(stack.base_url, path, stack.api_token)
            rows.append([label, f"{p50:.1f} ms", f"{p95:.1f} ms", count, f"{health[0]:.1f} ms", f"{p50 / health[0]:.1f}x"])
    return rows


async def postgres_database(admin_url: str, made: list[str]) -> str:
    """A fresh database on the PostgreSQL server for one measurement."""
    import asyncpg

    name = f"pairing_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_url, timeout=5)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    made.append(name)
    return admin_url.rsplit("/", 1)[0] + "/" + name


async def drop_databases(admin_url: str, names: list[str]) -> None:
    import asyncpg

    if not names:
        return
    conn = await asyncpg.connect(admin_url, timeout=5)
    for name in names:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


def main() -> None:
    rows = leader_rows(N)
    broker = EmbeddedKafka.start()
    kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers)
    try:
        with tempfile.TemporaryDirectory() as folder:

            async def sqlite() -> str:
                return f"sqlite:///{folder}/bench-{uuid.uuid4().hex[:8]}.db"

            imports = asyncio.run(bench_import(sqlite, "SQLite", rows))
            made: list[str] = []
            with postgres_for_tests() as admin_url:  # DATABASE_URL's server, or one started for the run
                try:
                    imports += asyncio.run(bench_import(lambda: postgres_database(admin_url, made), "PostgreSQL", rows))
                    review = asyncio.run(bench_review.measure(asyncio.run(postgres_database(admin_url, made)), kafka))
                finally:
                    asyncio.run(drop_databases(admin_url, made))
            relay = asyncio.run(bench_relay(asyncio.run(sqlite()), kafka, 20_000))
            api = bench_api(kafka, Path(folder) / "stack")
    finally:
        broker.stop()

    body = "\n\n".join(
        [
            f"### Import of {N:,} leaders (target under 10 s)\n\nBaseline: the same CSV read with the csv module and "
            "inserted as plain rows, with no checks, encryption or events.\n\n"
            + table(["file", "import", "same file again", "baseline", "import / baseline", "target"], imports),
            "### Outbox relay to the embedded broker\n\nBaseline: raw aiokafka sends of the same number of "
            "700-byte messages in the same run.\n\n" + table(["batch", "relay", "raw aiokafka", "relay / raw"], relay),
            "### API latency under load from a second process (16 concurrent clients, 5 s each)\n\nBaseline: "
            "the /health route under the same load.\n\n"
            + table(["request", "p50", "p95", "requests", "health p50", "p50 / health"], api),
            bench_review.section_text(review),
        ]
    )
    path = write_section("registry", body)
    print(f"wrote the registry section of {path}")


if __name__ == "__main__":
    main()
