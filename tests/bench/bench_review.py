"""A 2,000-pair round's review page and exports, timed for `make bench-registry` (issue 16: each
under 1 s), against the plain list of leaders on the same registry as the baseline.

The registry app runs in this process on PostgreSQL (httpx's ASGI transport, so no network is
timed) with a manager signed in to the pages. The round's solution is recorded as the matcher's
would be: 2,000 pairs with reasons and shared times, one person in ten with an access need, and
100 people not paired, each with a reason and what would let them be paired.

    .venv/bin/python -m tests.bench.bench_review   # prints the table alone
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

import httpx
from sqlalchemy import func, select

from schemas.cohort import CohortResult, PairResult, SolveStats, UnmatchedResult, Window
from schemas.events import RoundSolved
from services.common.crypto import new_key
from services.common.settings import KafkaSettings
from services.common.store import handle_once
from services.registry.adapters.orm import Outbox, RoundRow
from services.registry.app import create_app
from services.registry.config import RegistrySettings
from services.registry.handlers import rounds as round_handlers

PAIRS = 2000
NOT_PAIRED = 100
RUNS = 5
TARGET_SECONDS = 1.0
ADMIN = ("bench@pairing.example", "a long benchmark password")
LOAD = ["?", "?"]  # the load average before and after the measurements


def people_csv(pairs: int, not_paired: int) -> bytes:
    """One patient leader per pair and per person not paired, and one professional per pair."""
    lines = ["id,name,role,email,system,meeting_modes,availability,access_needs,topics,capacity,release_confirmed"]
    for n in range(pairs + not_paired):
        needs = "bsl_interpreter; step_free_access" if n % 10 == 0 else ""
        lines.append(
            f"bl-{n:05d},Lived Person {n},patient_leader,lived{n}@example.org,Q{n % 40:02d},video,"
            f"tue 10:00-12:30,{needs},discharge,,"
        )
    for n in range(pairs):
        needs = "hearing_loop" if n % 10 == 5 else ""
        lines.append(
            f"bp-{n:05d},Professional {n},clinical_leader,prof{n}@example.org,Q{n % 40:02d},video,"
            f"tue 10:00-12:30,{needs},discharge,1,yes"
        )
    return ("\n".join(lines) + "\n").encode()


def solution(round_id: str, pairs: int, not_paired: int) -> CohortResult:
    windows = [Window.model_validate({"day": "tue", "start": "10:00", "end": "12:30"})]
    return CohortResult(
        round_id=round_id,
        pairs=[
            PairResult(
                lived_experience_id=f"bl-{n:05d}",
                professional_id=f"bp-{n:05d}",
                score=30 + n % 70,
                meeting_modes=["video"],
                shared_windows=windows,
                reasons=["You both care about discharge.", "You are both free on Tuesday 10:00 to 12:30."],
            )
            for n in range(pairs)
        ],
        unmatched=[
            UnmatchedResult(
                id=f"bl-{n:05d}",
                reason="Every suitable professional already has as many partners as they can take.",
                rule="capacity",
                suggestion="Would be paired if a professional who could be their partner could take one more partner.",
            )
            for n in range(pairs, pairs + not_paired)
        ],
        stats=SolveStats(status="optimal"),
    )


async def outbox_drained(store) -> None:
    """Wait until the import's events are sent, so the relay sending them in the background is not timed."""
    for _ in range(600):
        async with store.unit_of_work() as uow:
            waiting = await uow.session.scalar(select(func.count()).select_from(Outbox).where(Outbox.published_at.is_(None)))
        if not waiting:
            return
        await asyncio.sleep(0.5)
    raise TimeoutError("the outbox was not sent within 5 minutes")


async def timed(
    get: Callable[[], Awaitable[httpx.Response]], check: Callable[[httpx.Response], bool]
) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds (this process: the registry's own work) for each of RUNS requests, after
    one to warm up; every answer is checked."""
    walls, cpus = [], []
    for run in range(RUNS + 1):
        started, cpu = time.perf_counter(), time.process_time()
        answer = await get()
        took, used = time.perf_counter() - started, time.process_time() - cpu
        assert answer.status_code == 200 and check(answer), (answer.status_code, answer.text[:300])
        if run:
            walls.append(took)
            cpus.append(used)
    return walls, cpus


async def measure(database_url: str, kafka: KafkaSettings) -> list[list[object]]:
    key = new_key()
    settings = RegistrySettings(
        database_url=database_url,
        encryption_keys=key,
        event_keys=new_key(),
        token_secret=key,
        kafka=kafka,
        admin_email=ADMIN[0],
        admin_password=ADMIN[1],
        require_second_factor=False,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry", auth=ADMIN, timeout=120) as api:
            imported = await api.post("/leaders/import", files={"file": ("people.csv", people_csv(PAIRS, NOT_PAIRED))})
            assert imported.status_code == 200, imported.text[:500]
            round_id = f"bench-{uuid.uuid4().hex[:6]}"
            ids = [f"bl-{n:05d}" for n in range(PAIRS + NOT_PAIRED)] + [f"bp-{n:05d}" for n in range(PAIRS)]
            made = await api.post("/rounds", json={"id": round_id, "name": "Benchmark round", "leader_ids": ids})
            assert made.status_code == 202, made.text[:500]
        store = app.state.registry.store
        async with store.unit_of_work() as uow:
            request_id = (await uow.session.get(RoundRow, round_id)).request_event_id
        solved = RoundSolved(
            producer="bench", correlation_id=round_id, causation_id=request_id, data=solution(round_id, PAIRS, NOT_PAIRED)
        )
        await handle_once(store, "bench.matches", solved, round_handlers.record_solution)
        await outbox_drained(store)

        async with httpx.AsyncClient(transport=transport, base_url="http://registry", timeout=120) as pages:
            sign_in = (await pages.get("/sign-in")).text
            token = re.search(r'name="csrf_token" value="([^"]+)"', sign_in).group(1)  # type: ignore[union-attr]
            signed = await pages.post("/sign-in", data={"csrf_token": token, "email": ADMIN[0], "password": ADMIN[1]})
            assert signed.status_code == 303, signed.text[:300]
            base = f"/manage/rounds/{round_id}"
            LOAD[0] = f"{os.getloadavg()[0]:.1f}"
            baseline, _ = await timed(lambda: pages.get("/manage/leaders"), lambda r: "Lived Person" in r.text)
            cases = [
                (
                    "review page, first 50 pairs",
                    lambda: pages.get(f"{base}/pairs"),
                    lambda r: f"Showing {PAIRS} of {PAIRS} pairs" in r.text and "book 4 weeks" in r.text,
                ),
                (
                    "export of every pair, XLSX",
                    lambda: pages.get(f"{base}/export/pairs.xlsx"),
                    lambda r: r.content[:2] == b"PK" and len(r.content) > 50_000,
                ),
                (
                    "export of every pair, CSV",
                    lambda: pages.get(f"{base}/export/pairs.csv"),
                    lambda r: r.text.count("\n") == PAIRS + 1 and "book 4 weeks" in r.text,
                ),
            ]
            rows = []
            for label, get, check in cases:
                walls, cpus = await timed(get, check)
                best = min(walls)
                rows.append(
                    [
                        label,
                        f"{best:.2f} s (median {statistics.median(walls):.2f} s)",
                        f"{statistics.median(cpus):.2f} s",
                        f"{min(baseline):.2f} s (median {statistics.median(baseline):.2f} s)",
                        f"{best / min(baseline):.1f}x",
                        "met" if best < TARGET_SECONDS else f"missed by {best - TARGET_SECONDS:.2f} s",
                    ]
                )
    LOAD[1] = f"{os.getloadavg()[0]:.1f}"
    return rows


HEADINGS = ["request", "wall, best", "registry CPU (median)", "list of leaders, best", "best / list", "target under 1 s"]


def section_text(rows: list[list[object]]) -> str:
    from tests.bench.report import table

    return (
        f"### A round of {PAIRS:,} pairs: the review page and its exports (target under 1 s each)\n\n"
        f"Baseline: the plain list of leaders (`/manage/leaders`, its first page of {PAIRS * 2 + NOT_PAIRED:,} leaders) "
        f"on the same registry. The registry runs in the benchmark's process on PostgreSQL, an admin signed in; "
        f"{RUNS} requests each after one to warm up. The round has {PAIRS:,} pairs (one person in ten with access "
        f"needs, so arrangements and the dates to book them by are read) and {NOT_PAIRED} people not paired. "
        "As in the matcher's section, the best run is the one least disturbed on a shared machine, and it is the "
        "one held to the target; the registry's CPU time (in this process; PostgreSQL's is not counted) shows "
        f"the work itself. Load average before / after: {LOAD[0]} / {LOAD[1]} on {os.cpu_count()} cores.\n\n"
        + table(HEADINGS, rows)
    )


def main() -> None:
    from services.common.embedded import EmbeddedKafka
    from tests.bench.bench_registry import drop_databases, postgres_database
    from tests.postgres_server import postgres_for_tests

    broker = EmbeddedKafka.start()
    made: list[str] = []
    try:
        with postgres_for_tests() as admin_url:
            try:
                url = asyncio.run(postgres_database(admin_url, made))
                rows = asyncio.run(measure(url, KafkaSettings(bootstrap_servers=broker.bootstrap_servers)))
            finally:
                asyncio.run(drop_databases(admin_url, made))
    finally:
        broker.stop()
    print(section_text(rows))


if __name__ == "__main__":
    main()
