"""Launching a round, asking the matcher to solve it, and recording what the matcher says."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Row, Select, delete, select

from schemas.cohort import RoundSpec
from schemas.events import (
    Envelope,
    RoundProgress,
    RoundRequest,
    RoundRequested,
    RoundSolved,
    RoundSolveFailed,
)
from schemas.topics import ROUNDS
from services.common.store import UnitOfWork
from services.registry.adapters.orm import (
    CohortMemberRow,
    LeaderRow,
    PairRow,
    ProgrammeRow,
    RoundRow,
    UnmatchedRow,
)
from services.registry.domain.commands import LaunchRound
from services.registry.domain.meetings import (
    session_warnings,
)
from services.registry.domain.programmes import (
    ProgrammeDefaults,
)
from services.registry.domain.review import default_round_name
from services.registry.domain.rounds import RoundStatus
from services.registry.handlers.common import (
    ERASED,
    Conflict,
    NotFound,
    event,
    get_round,
    move_round,
)
from services.registry.handlers.left_out import people_left_out_before
from services.registry.handlers.programmes import get_cohort, programme_terms

# For a round outside any programme, when the caller gives no settings of its own.
REGISTRY_DEFAULTS = ProgrammeDefaults()


async def launch_round(
    uow: UnitOfWork, command: LaunchRound, today: dt.date, defaults: ProgrammeDefaults = REGISTRY_DEFAULTS
) -> RoundRow:
    round_id = command.id or f"round-{today.isoformat()}-{uuid.uuid4().hex[:6]}"
    if await uow.session.get(RoundRow, round_id) is not None:
        raise Conflict(f"a round called {round_id} already exists; choose another id")
    if command.leader_ids is None and command.cohort_id is not None:
        await get_cohort(uow, command.cohort_id)
    rows = await round_leaders(uow, command)
    found = {r.id: (r.version, r.status) for r in rows}
    refuse_people_not_in_round(command, found)
    spec = round_spec(command, round_id, today)
    row = RoundRow(
        id=round_id,
        name=command.name or await round_name(uow, command, spec.launch_date, {r.system for r in rows}),
        status=RoundStatus.draft,
        spec=spec.model_dump(mode="json", by_alias=True),
        leader_ids=sorted(found),
        cohort_id=command.cohort_id,
        locked_pairs=[list(p) for p in command.locked_pairs],
        forbidden_pairs=[list(p) for p in command.forbidden_pairs],
        warnings=session_warnings(spec.sessions, (await programme_terms(uow, command.cohort_id, defaults)).closures),
    )
    uow.session.add(row)
    move_round(uow, row, RoundStatus.queued)
    await request_solve(uow, row)
    return row


def refuse_people_not_in_round(command: LaunchRound, found: dict[str, tuple[int, str]]) -> None:
    """Everyone listed must be registered and active, and every kept or ruled-out pair must be of people in the round."""
    if command.leader_ids is not None:
        missing = sorted(set(command.leader_ids) - set(found))
        if missing:
            raise NotFound(f"leader_ids: these leaders are not registered: {', '.join(missing[:20])}")
        inactive = sorted(lid for lid, (_, status) in found.items() if status != "active")
        if inactive:
            raise Conflict(f"leader_ids: these leaders are paused or withdrawn: {', '.join(inactive[:20])}")
    if not found:
        raise Conflict("there are no active leaders to pair; register leaders first")
    for field in ("locked_pairs", "forbidden_pairs"):
        for pair in getattr(command, field):
            unknown = [who for who in pair if who not in found]
            if unknown:
                raise Conflict(f"{field}: {', '.join(unknown)} is not in this round")


SPEC_FIELDS = {
    "sessions",
    "school_holidays",
    "min_shared_hours_per_week",
    "allow_cross_system_remote",
    "time_limit_seconds",
    "seed",
    "weights",
    "min_pairs_per_system",
}


def round_spec(command: LaunchRound, round_id: str, today: dt.date) -> RoundSpec:
    return RoundSpec(
        id=round_id, launch_date=command.launch_date or today, **command.model_dump(include=SPEC_FIELDS, by_alias=True)
    )


def round_leaders_query(command: LaunchRound) -> Select:
    """The leaders a round for this command takes (the launch page shows them first): the ones listed
    (whatever their status, so the caller can say who is paused or has left), or the active members of
    its cohort, or every active leader."""
    query = select(LeaderRow.id, LeaderRow.version, LeaderRow.status, LeaderRow.system, LeaderRow.role)
    if command.leader_ids is not None:
        return query.where(LeaderRow.id.in_(command.leader_ids))
    if command.cohort_id is not None:
        members = select(CohortMemberRow.leader_id).where(CohortMemberRow.cohort_id == command.cohort_id)
        return query.where(LeaderRow.id.in_(members), LeaderRow.status == "active")
    return query.where(LeaderRow.status == "active")


async def round_leaders(uow: UnitOfWork, command: LaunchRound) -> list[Row]:
    """Each leader a round for this command takes: id, version, status, system (area) and role."""
    return list((await uow.session.execute(round_leaders_query(command))).all())


async def round_name(uow: UnitOfWork, command: LaunchRound, launch_date: dt.date, systems: set[str]) -> str:
    """The default name: the programme and cohort, the one area of a list of people, or everyone; and the month."""
    if command.cohort_id is not None:
        cohort = await get_cohort(uow, command.cohort_id)
        programme = await uow.session.get(ProgrammeRow, cohort.programme_id)
        return default_round_name(launch_date, programme.name if programme else None, cohort.name)
    if command.leader_ids is not None:
        return default_round_name(launch_date, area=next(iter(systems)) if len(systems) == 1 else None, chosen=True)
    return default_round_name(launch_date)


async def request_solve(uow: UnitOfWork, row: RoundRow) -> None:
    """Ask the matcher to solve the round as it stands now, with the leaders' current versions."""
    leaders = (
        await uow.session.execute(
            select(LeaderRow.id, LeaderRow.version, LeaderRow.public).where(LeaderRow.id.in_(row.leader_ids))
        )
    ).all()
    versions = {leader_id: version for leader_id, version, _ in leaders}
    # "Never pair them with" travels in each profile, where someone named before they registered has no
    # event reference yet (services/registry/event_refs.py); the round names every such pair among its
    # people again, now that all of them have one.
    named = {
        (leader_id, other)
        for leader_id, _, public in leaders
        for other in (public or {}).get("do_not_pair_with") or []
        if other in versions
    }
    request = RoundRequest(
        round=RoundSpec.model_validate(row.spec),
        leader_versions=dict(sorted(versions.items())),
        locked_pairs=[tuple(p) for p in row.locked_pairs],
        forbidden_pairs=[*(tuple(p) for p in row.forbidden_pairs), *sorted(named)],
        previous_pairs=await previous_pairs(uow, set(versions)),
        left_out_before=await people_left_out_before(uow, row, set(versions)),
    )
    requested = event(RoundRequested, request, row.id)
    row.request_event_id = str(requested.event_id)
    row.progress = None  # a new solve reports afresh
    uow.publish(ROUNDS, row.id, requested)


async def previous_pairs(uow: UnitOfWork, leaders: set[str]) -> list[tuple[str, str]]:
    """Pairs from earlier published rounds: the same two people are not paired again."""
    rows = await uow.session.execute(
        select(PairRow.lived_experience_id, PairRow.professional_id)
        .join(RoundRow, RoundRow.id == PairRow.round_id)
        .where(RoundRow.status.in_([RoundStatus.published, RoundStatus.closed]))
    )
    return sorted({(a, b) for a, b in rows.all() if a in leaders and b in leaders})


WAITING_FOR_MATCHER = (RoundStatus.queued, RoundStatus.solving)


def is_stale(row: RoundRow, answer: Envelope) -> bool:
    """A result for an earlier request, or for a round no longer waiting for one (cancelled, or
    already proposed, approved or published: a repeated answer must not undo a person's review)."""
    return row.status not in WAITING_FOR_MATCHER or answer.causation_id != row.request_event_id


async def record_solution(uow: UnitOfWork, solved: RoundSolved) -> None:
    result = solved.data
    row = await get_round(uow, result.round_id)
    if is_stale(row, solved):
        return
    move_round(uow, row, RoundStatus.proposed)
    row.stats = result.stats.model_dump(mode="json")
    row.relaxations = list(result.relaxations)
    await uow.session.execute(delete(PairRow).where(PairRow.round_id == row.id))
    await uow.session.execute(delete(UnmatchedRow).where(UnmatchedRow.round_id == row.id))
    # Someone erased while the matcher worked is no longer in the round: their id is not kept, and a
    # pair with them cannot be approved until the round is solved again.
    present = set(row.leader_ids)

    def kept(leader_id: str) -> str:
        return leader_id if leader_id in present else ERASED

    for pair in result.pairs:
        uow.session.add(
            PairRow(
                round_id=row.id,
                lived_experience_id=kept(pair.lived_experience_id),
                professional_id=kept(pair.professional_id),
                score=pair.score,
                meeting_modes=list(pair.meeting_modes),
                shared_windows=[w.model_dump(mode="json") for w in pair.shared_windows],
                reasons=pair.reasons,
                locked=pair.locked,
            )
        )
    for person in (p for p in result.unmatched if p.id in present):
        uow.session.add(
            UnmatchedRow(
                round_id=row.id, leader_id=person.id, reason=person.reason, rule=person.rule, suggestion=person.suggestion
            )
        )


async def record_progress(uow: UnitOfWork, progress: RoundProgress) -> None:
    """The matcher is working on the round: show how far it has got."""
    row = await get_round(uow, progress.data.round_id)
    if is_stale(row, progress):
        return
    if row.status == RoundStatus.queued:
        move_round(uow, row, RoundStatus.solving)
    row.progress = progress.data.model_dump(mode="json")


async def record_failure(uow: UnitOfWork, failed: RoundSolveFailed) -> None:
    row = await get_round(uow, failed.data.round_id)
    if is_stale(row, failed):
        return
    move_round(uow, row, RoundStatus.failed)
    row.failure = failed.data.reason


def refuse_pairs_with_erased_people(pairs, what_to_do: str) -> None:
    """A pair with someone erased since the round was solved would tell their partner about nobody."""
    if any(ERASED in (p.lived_experience_id, p.professional_id) for p in pairs):
        raise Conflict(
            "Someone in a proposed pair has been erased since this round was solved, so their partner would be "
            f"told about nobody. {what_to_do}"
        )


def carried_pairs(row: RoundRow) -> set[frozenset[str]]:
    """A follow-up round's pairs kept from the round before: their people heard about them then."""
    return {frozenset(p) for p in row.locked_pairs} if row.parent_round_id else set()
