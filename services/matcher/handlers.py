"""The matcher's handlers: keep the profile projection, solve requested rounds."""

from __future__ import annotations

from sqlalchemy import delete, select

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
from services.common.store import Store, UnitOfWork
from services.matcher.adapters.orm import ProfileRow
from services.matcher.domain import Progress

PRODUCER = "matcher"


async def apply_profile(uow: UnitOfWork, changed: LeaderProfileChanged, cipher: Cipher) -> None:
    """Keep the newest version only: the topic is ordered per leader, but a replay may repeat older ones."""
    data = changed.data
    row = await uow.session.get(ProfileRow, data.profile.id)
    if row is not None and row.version >= data.version:
        return
    if row is None:
        row = ProfileRow(leader_id=data.profile.id)
        uow.session.add(row)
    row.version, row.status = data.version, data.status
    row.sealed = cipher.seal(data.profile.model_dump(mode="json"))


async def load_profiles(uow: UnitOfWork, leader_ids: list[str]) -> None:
    """A batch's stored profiles, read at once (apply_profile then finds them in the session)."""
    await uow.session.scalars(select(ProfileRow).where(ProfileRow.leader_id.in_(leader_ids)))


async def forget_leader(uow: UnitOfWork, leader_id: str) -> None:
    """A tombstone: the leader was erased from the registry."""
    await uow.session.execute(delete(ProfileRow).where(ProfileRow.leader_id == leader_id))


async def missing_profiles(store: Store, request: RoundRequested) -> list[str]:
    """Leaders whose profile here is older than the version the round was launched with."""
    wanted = request.data.leader_versions
    async with store.unit_of_work() as uow:
        have = dict(
            (await uow.session.execute(select(ProfileRow.leader_id, ProfileRow.version).where(ProfileRow.leader_id.in_(wanted)))).all()
        )
    return sorted(lid for lid, version in wanted.items() if have.get(lid, 0) < version)


async def cohort_for(store: Store, cipher: Cipher, request: RoundRequested) -> Cohort:
    data = request.data
    async with store.unit_of_work() as uow:
        rows = (await uow.session.scalars(select(ProfileRow).where(ProfileRow.leader_id.in_(data.leader_versions)))).all()
    return Cohort(
        round=data.round,
        leaders=[MatchingProfile.model_validate(cipher.open(r.sealed)) for r in sorted(rows, key=lambda r: r.leader_id)],
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
        uow.publish(MATCHES, round_id, RoundProgress(producer=PRODUCER, data=data, correlation_id=round_id, causation_id=str(request.event_id)))
        await uow.commit()
