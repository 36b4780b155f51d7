"""The matcher's handlers: keep the profile projection, solve requested rounds.

The convention of every service (docs/architecture.md): a handler receives a unit of work
(or the store, when it must commit in steps, as solving does) and the event; the caller
commits, through the inbox, so each event is handled once."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import cast

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from schemas.cohort import Cohort, CohortResult, MatchingProfile
from schemas.events import (
    LeaderProfileChanged,
    RoundFailure,
    RoundProgress,
    RoundRequested,
    RoundSolved,
    RoundSolveFailed,
    SolveProgress,
)
from schemas.topics import MATCHES
from services.common.crypto import Cipher
from services.common.observability import SOLVE_GAP, SOLVE_SECONDS
from services.common.store import Store, UnitOfWork, handle_once, was_handled
from services.matcher.adapters.orm import ProfileRow
from services.matcher.config import MatcherSettings
from services.matcher.domain import Limits, Progress, SolveStopped, Watch, solve

PRODUCER = "matcher"
BATCH = "matcher: the batch's profiles"  # session.info: versions known and profiles waiting (_batch)
log = logging.getLogger("pairing.matcher")


async def apply_profile(uow: UnitOfWork, changed: LeaderProfileChanged, cipher: Cipher) -> None:
    """Keep the newest version only: the topic is ordered per leader, but a replay may repeat older ones.

    The new profile waits in the transaction and is written with the batch's others, in one
    statement, just before the commit (save_profiles)."""
    data = changed.data
    leader_id = data.profile.id
    versions, pending = _batch(uow)
    if leader_id not in versions:  # not preloaded with its batch: read on its own
        versions[leader_id] = await uow.session.scalar(select(ProfileRow.version).where(ProfileRow.leader_id == leader_id))
    if (have := versions[leader_id]) is not None and have >= data.version:
        return
    versions[leader_id] = data.version
    # Pydantic writes the JSON itself, in one step (cohort_for reads it back with Cipher.open).
    sealed = cipher.seal_bytes(data.profile.model_dump_json().encode())
    pending[leader_id] = {"leader_id": leader_id, "version": data.version, "status": data.status, "sealed": sealed}


async def load_profiles(uow: UnitOfWork, leader_ids: list[str]) -> dict[str, int | None]:
    """The stored version of each of a batch's leaders, read at once, so apply_profile needs no query of
    its own (None: a leader new to the matcher)."""
    versions, _ = _batch(uow)
    for start in range(0, len(leader_ids), 1000):
        chunk = leader_ids[start : start + 1000]
        stored = await uow.session.execute(
            select(ProfileRow.leader_id, ProfileRow.version).where(ProfileRow.leader_id.in_(chunk))
        )
        versions.update(dict.fromkeys(chunk) | dict(stored.tuples().all()))
    return versions


async def forget_leader(uow: UnitOfWork, leader_id: str) -> None:
    """A tombstone: the leader was erased from the registry (and a change to them earlier in the batch with them)."""
    versions, pending = _batch(uow)
    pending.pop(leader_id, None)
    await uow.session.execute(delete(ProfileRow).where(ProfileRow.leader_id == leader_id))
    versions[leader_id] = None  # a later event in the same batch starts them afresh


def _batch(uow: UnitOfWork) -> tuple[dict[str, int | None], dict[str, dict]]:
    """This transaction's leaders' versions as known now, and the profiles waiting to be written."""
    info = uow.session.info
    if BATCH not in info:
        info[BATCH] = ({}, {})
        uow.before_commit(lambda: save_profiles(uow))
    batch: tuple[dict[str, int | None], dict[str, dict]] = info[BATCH]
    return batch


async def save_profiles(uow: UnitOfWork) -> None:
    """Every profile the batch changed, new or not, in one statement; a row already at that version or
    newer (written by another instance meanwhile) is left as it is."""
    _, pending = uow.session.info.pop(BATCH)
    if not pending:
        return
    table = cast(Table, ProfileRow.__table__)  # a declarative class's table is a Table
    upsert = postgresql_insert(table) if uow.store.is_postgres else sqlite_insert(table)
    await uow.session.execute(
        upsert.on_conflict_do_update(
            index_elements=[table.c.leader_id],
            set_={"version": upsert.excluded.version, "status": upsert.excluded.status, "sealed": upsert.excluded.sealed},
            where=table.c.version < upsert.excluded.version,
        ),
        list(pending.values()),
    )


async def missing_profiles(store: Store, request: RoundRequested) -> list[str]:
    """Leaders whose profile here is older than the version the round was launched with."""
    wanted = request.data.leader_versions
    async with store.unit_of_work() as uow:
        have = dict(
            (
                await uow.session.execute(
                    select(ProfileRow.leader_id, ProfileRow.version).where(ProfileRow.leader_id.in_(wanted))
                )
            ).all()
        )
    return sorted(lid for lid, version in wanted.items() if have.get(lid, 0) < version)


async def cohort_for(store: Store, cipher: Cipher, request: RoundRequested) -> Cohort:
    data = request.data
    async with store.unit_of_work() as uow:
        rows = (await uow.session.scalars(select(ProfileRow).where(ProfileRow.leader_id.in_(data.leader_versions)))).all()
    first = set(data.left_out_before)
    leaders = [MatchingProfile.model_validate(cipher.open(r.sealed)) for r in sorted(rows, key=lambda r: r.leader_id)]
    return Cohort(
        round=data.round,
        leaders=[p.model_copy(update={"left_out_before": True}) if p.id in first else p for p in leaders],
        locked_pairs=data.locked_pairs,
        forbidden_pairs=data.forbidden_pairs,
        previous_pairs=data.previous_pairs,
    )


async def publish_result(uow: UnitOfWork, request: RoundRequested, result: CohortResult) -> None:
    round_id = request.data.round.id
    solved = RoundSolved(producer=PRODUCER, data=result, correlation_id=round_id, causation_id=str(request.event_id))
    uow.publish(MATCHES, round_id, solved)


async def publish_failure(uow: UnitOfWork, request: RoundRequested, reason: str) -> None:
    round_id = request.data.round.id
    failed = RoundSolveFailed(
        producer=PRODUCER,
        data=RoundFailure(round_id=round_id, reason=reason),
        correlation_id=round_id,
        causation_id=str(request.event_id),
    )
    uow.publish(MATCHES, round_id, failed)


async def nothing(uow: UnitOfWork, request: RoundRequested) -> None:
    """A request with nothing to publish (its round was cancelled): only marked as handled."""


async def publish_progress(store: Store, request: RoundRequested, progress: Progress, elapsed: float) -> None:
    round_id = request.data.round.id
    data = SolveProgress(
        round_id=round_id,
        stage=progress.stage,
        objective=progress.objective,
        bound=progress.bound,
        gap=progress.gap,
        elapsed_seconds=round(elapsed, 1),
    )
    async with store.unit_of_work() as uow:
        uow.publish(
            MATCHES,
            round_id,
            RoundProgress(producer=PRODUCER, data=data, correlation_id=round_id, causation_id=str(request.event_id)),
        )
        await uow.commit()


# ---- solving a requested round ------------------------------------------------------


class Solves:
    """The solves running in this process, so a cancelled round's solve can be stopped."""

    def __init__(self) -> None:
        self.running: dict[str, Watch] = {}
        self.cancelled: set[str] = set()  # cancelled before their request came up

    def cancel(self, round_id: str) -> None:
        if watch := self.running.get(round_id):
            log.info("round %s was cancelled: stopping its solve", round_id)
            watch.stop()
        else:
            self.cancelled.add(round_id)


async def solve_round(store: Store, cipher: Cipher, request: RoundRequested, settings: MatcherSettings, solves: Solves) -> None:
    consumer = f"{PRODUCER}.rounds"
    if await was_handled(store, consumer, str(request.event_id)):
        return
    round_id = request.data.round.id
    if round_id in solves.cancelled:
        solves.cancelled.discard(round_id)
        log.info("round %s was cancelled before its solve began", round_id)
        await handle_once(store, consumer, request, nothing)
        return
    # Solve only on a projection at least as fresh as the registry was at launch.
    if reason := await wait_for_profiles(store, request, settings):
        await handle_once(store, consumer, request, publish_failure, reason)
        return
    cohort = await cohort_for(store, cipher, request)
    log.info("solving round %s with %d leaders", round_id, len(cohort.leaders))
    latest = Latest()
    watch = solves.running[round_id] = Watch(latest.put)
    started = time.perf_counter()
    try:
        # Solving in a thread keeps the event loop, and so the consumer's heartbeats, going: the flow
        # solver holds the interpreter lock for at most a fraction of a second at a time.
        solving = asyncio.create_task(asyncio.to_thread(solve, cohort, Limits(), watch))
        while not solving.done():
            await asyncio.wait({solving}, timeout=settings.progress_seconds)
            if (progress := latest.take()) is not None and not solving.done():
                await publish_progress(store, request, progress, time.perf_counter() - started)
        result = solving.result()
    except SolveStopped:
        log.info("round %s: solve stopped because the round was cancelled", round_id)
        await handle_once(store, consumer, request, nothing)
        return
    finally:
        solves.running.pop(round_id, None)
    elapsed = time.perf_counter() - started
    SOLVE_SECONDS.observe(elapsed)
    SOLVE_GAP.set(result.stats.gap)
    stats = result.stats.model_copy(update={"wall_seconds": round(elapsed, 3)})
    result = result.model_copy(update={"stats": stats})
    log.info("round %s: %d pairs, %d unmatched, %s", round_id, len(result.pairs), len(result.unmatched), result.stats.status)
    await handle_once(store, consumer, request, publish_result, result)


async def wait_for_profiles(store: Store, request: RoundRequested, settings: MatcherSettings) -> str | None:
    """Wait while the profiles the round names are still arriving; the reason to give up, if it comes to that.

    A large import can take a while to reach us, so the wait ends only when no new
    profile has arrived for freshness_wait_seconds, not after a fixed time.
    """
    missing = await missing_profiles(store, request)
    stalled_since = time.monotonic()
    while missing:
        await asyncio.sleep(0.2)
        still = await missing_profiles(store, request)
        if len(still) < len(missing):
            stalled_since = time.monotonic()
        elif time.monotonic() - stalled_since > settings.freshness_wait_seconds:
            return f"{len(still)} leaders' details had not reached the matcher in time; launch the round again"
        missing = still
    return None


class Latest:
    """The newest progress report from the solver's thread, taken by the event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._progress: Progress | None = None

    def put(self, progress: Progress) -> None:
        with self._lock:
            self._progress = progress

    def take(self) -> Progress | None:
        with self._lock:
            progress, self._progress = self._progress, None
            return progress
