"""What a person does with a round after it is solved: approve it, keep or rule out pairs,
solve it again, pair people again, close it or cancel it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from schemas.cohort import RoundSpec
from schemas.events import (
    Outcome,
    OutcomePublished,
    RoundCancelled,
    RoundRef,
)
from schemas.topics import OUTCOMES, ROUNDS
from services.common.store import UnitOfWork, utc_now
from services.registry.adapters.orm import (
    LeaderRow,
    PairRow,
    ResponseRow,
    RoundRow,
    UnmatchedRow,
)
from services.registry.domain.approval import ApprovalRefused, pairs_to_approve, still_to_approve
from services.registry.domain.commands import ApproveRound, PairChoice
from services.registry.domain.pair_endings import did_not_go_ahead
from services.registry.domain.pairing_again import NobodyToPairAgain, follow_up_id, follow_up_name, plan_pairing_again
from services.registry.domain.publication import told_about_a_partner
from services.registry.domain.rounds import RoundStatus
from services.registry.handlers.common import (
    ERASED,
    Conflict,
    audit,
    event,
    get_round,
    move_round,
)
from services.registry.handlers.pair_endings import ended_pairs
from services.registry.handlers.rounds import (
    carried_pairs,
    refuse_pairs_with_erased_people,
    request_solve,
)
from services.registry.handlers.store import Rounds, SqlRounds, round_in


async def approve_round(rounds: Rounds, round_id: str, command: ApproveRound) -> RoundRow:
    """A person checks the proposed pairs before anyone is told (no solely automated decision).
    It takes the rounds' store (handlers/store.py: SqlRounds(uow) in the services), not the unit of work."""
    row = await round_in(rounds, round_id)
    if row.relaxations and row.status == RoundStatus.proposed:
        raise Conflict(
            "This round cannot be solved as it is set up, so nobody would be paired: "
            + " ".join(row.relaxations)
            + " Cancel it and launch it again with these changes."
        )
    refuse_pairs_with_erased_people(
        await rounds.pairs(round_id), "Solve the round again first (the pairs you chose to keep stay)."
    )
    move_round(rounds, row, RoundStatus.approved, by=command.approved_by)
    row.approved_by = command.approved_by
    now = utc_now()
    for pair in await rounds.pairs(round_id):
        if not pair.approved_by:
            pair.approved_by, pair.approved_at = command.approved_by, now
    return row


async def approve_pairs(uow: UnitOfWork, round_id: str, pair_ids: list[int], by: str, actor: str) -> tuple[RoundRow, int, int]:
    """A person approves the pairs of one page they have checked (each pair records who and when);
    once every pair is approved, so is the round. Gives the round, how many pairs were approved
    now and how many are still to approve."""
    rounds = SqlRounds(uow)
    row = await round_in(rounds, round_id)
    pairs = {p.id: p for p in await rounds.pairs(round_id)}
    try:
        newly = pairs_to_approve(row.status, {i: bool(p.approved_by) for i, p in pairs.items()}, pair_ids)
    except ApprovalRefused as refused:
        raise Conflict(str(refused)) from None
    refuse_pairs_with_erased_people([pairs[i] for i in newly], "Solve the round again first (the pairs you chose to keep stay).")
    now = utc_now()
    for pair_id in newly:
        pairs[pair_id].approved_by, pairs[pair_id].approved_at = by, now
    audit(uow, actor, "approved pairs", None, f"{len(newly)} pairs of round {round_id}, after checking them")
    left = still_to_approve(bool(p.approved_by) for p in pairs.values())
    if left == 0:
        await approve_round(rounds, round_id, ApproveRound(approved_by=by))
    return row, len(newly), left


async def _proposed_round_with(uow: UnitOfWork, round_id: str, choice: PairChoice) -> RoundRow:
    row = await get_round(uow, round_id)
    if row.status != RoundStatus.proposed:
        raise Conflict(f"This round is {row.status}; pairs can be locked or ruled out only while it is proposed.")
    roles = dict(
        (
            await uow.session.execute(
                select(LeaderRow.id, LeaderRow.role).where(LeaderRow.id.in_([choice.lived_experience_id, choice.professional_id]))
            )
        ).all()
    )
    for field, leader_id, side in (
        ("lived_experience_id", choice.lived_experience_id, ("patient_leader", "carer_leader")),
        ("professional_id", choice.professional_id, ("clinical_leader", "managerial_leader")),
    ):
        if leader_id not in row.leader_ids:
            raise Conflict(f"{field}: {leader_id} is not in this round")
        if roles.get(leader_id) not in side:
            raise Conflict(f"{field}: {leader_id} is not a {' or '.join(r.replace('_', ' ') for r in side)}")
    return row


async def lock_pair(uow: UnitOfWork, round_id: str, choice: PairChoice) -> RoundRow:
    """Keep this pair in every re-solve, even if a rule would forbid it (a pre-formed pair)."""
    row = await _proposed_round_with(uow, round_id, choice)
    pair = [choice.lived_experience_id, choice.professional_id]
    row.forbidden_pairs = [p for p in row.forbidden_pairs if p != pair]
    if pair not in row.locked_pairs:
        row.locked_pairs = [*row.locked_pairs, pair]
    return row


async def forbid_pair(uow: UnitOfWork, round_id: str, choice: PairChoice) -> RoundRow:
    """Never propose this pair again in this round."""
    row = await _proposed_round_with(uow, round_id, choice)
    pair = [choice.lived_experience_id, choice.professional_id]
    row.locked_pairs = [p for p in row.locked_pairs if p != pair]
    if pair not in row.forbidden_pairs:
        row.forbidden_pairs = [*row.forbidden_pairs, pair]
    return row


async def resolve_round(uow: UnitOfWork, round_id: str) -> RoundRow:
    """Solve the round again with the manager's locks and exclusions."""
    row = await get_round(uow, round_id)
    move_round(uow, row, RoundStatus.queued)
    await request_solve(uow, row)
    return row


async def pair_again(uow: UnitOfWork, round_id: str, today: dt.date) -> RoundRow:
    """A follow-up round for the people whose partner said no or has left (and those not paired before).

    Every other pair is kept as a locked pair, so those people keep their partner
    and their places; the pairs that were declined are never proposed again. When
    the follow-up round is published, only the people with something new to hear
    are written to.
    """
    parent = await get_round(uow, round_id)
    if parent.status not in (RoundStatus.published, RoundStatus.closed):
        raise Conflict(f"This round is {parent.status}. People can be paired again only after the round is published.")
    pairs, said_no, unmatched, active = await what_happened_in(uow, round_id)
    try:
        plan = plan_pairing_again(pairs, said_no, unmatched, active, parent.forbidden_pairs)
    except NobodyToPairAgain as nobody:
        raise Conflict(str(nobody)) from None
    follow_ups = (
        await uow.session.scalar(select(func.count()).select_from(RoundRow).where(RoundRow.parent_round_id == round_id))
    ) or 0
    spec = RoundSpec.model_validate(parent.spec).model_copy(update={"launch_date": today})
    command_id = follow_up_id(round_id, follow_ups)
    row = RoundRow(
        id=command_id,
        name=follow_up_name(parent.name or parent.id, follow_ups),
        status=RoundStatus.draft,
        spec=spec.model_copy(update={"id": command_id}).model_dump(mode="json", by_alias=True),
        leader_ids=plan.people,
        cohort_id=parent.cohort_id,
        parent_round_id=round_id,
        locked_pairs=[list(pair) for pair in plan.kept],
        forbidden_pairs=[list(p) for p in plan.never],
    )
    uow.session.add(row)
    move_round(uow, row, RoundStatus.queued)
    await request_solve(uow, row)
    return row


async def what_happened_in(
    uow: UnitOfWork, round_id: str
) -> tuple[list[tuple[str, str]], set[frozenset[str]], set[str], set[str]]:
    """A published round's pairs, the pairs someone said no to, the people it could not pair, and who is still active."""
    pairs = [
        (p.lived_experience_id, p.professional_id)
        for p in (await uow.session.scalars(select(PairRow).where(PairRow.round_id == round_id))).all()
    ]
    said_no = {
        frozenset((r.leader_id, r.partner_id))
        for r in (
            await uow.session.scalars(
                select(ResponseRow).where(ResponseRow.round_id == round_id, ResponseRow.answer == "decline")
            )
        ).all()
    }
    said_no = did_not_go_ahead(said_no, (await ended_pairs(uow, [round_id]))[round_id])  # an ended pair is broken too
    unmatched = set((await uow.session.scalars(select(UnmatchedRow.leader_id).where(UnmatchedRow.round_id == round_id))).all())
    everyone = {who for pair in pairs for who in pair} | unmatched
    active = set(
        (await uow.session.scalars(select(LeaderRow.id).where(LeaderRow.id.in_(everyone), LeaderRow.status == "active"))).all()
    )
    return pairs, said_no, unmatched, active


async def close_round(uow: UnitOfWork, round_id: str, by: str | None = None) -> RoundRow:
    """Finish a published round: its answer links stop taking answers, and a person leaving
    no longer counts as saying no to a pair in it. Its pairs are still never proposed again,
    and the people whose partner said no can still be paired again."""
    row = await get_round(uow, round_id)
    move_round(uow, row, RoundStatus.closed, by=by)
    return row


async def cancel_round(uow: UnitOfWork, round_id: str) -> RoundRow:
    """Stop a round. Before publishing nobody has been told anything; after it, everyone who
    was told is told again that it will not go ahead (their answer links stop working too)."""
    row = await get_round(uow, round_id)
    was_published = row.status == RoundStatus.published
    move_round(uow, row, RoundStatus.cancelled)
    cancelled = event(RoundCancelled, RoundRef(round_id=round_id), round_id)
    uow.publish(ROUNDS, round_id, cancelled)
    if was_published:
        for leader_id in await people_paired(uow, row):
            outcome = Outcome(round_id=round_id, leader_id=leader_id, outcome="cancelled")
            uow.publish(OUTCOMES, leader_id, event(OutcomePublished, outcome, round_id, str(cancelled.event_id)))
    return row


async def people_paired(uow: UnitOfWork, row: RoundRow) -> list[str]:
    """Everyone a published round told about a partner (less those whose pair was carried over from
    an earlier round: that pair still stands). People it could not pair keep their news."""
    pairs = (await uow.session.scalars(select(PairRow).where(PairRow.round_id == row.id))).all()
    return told_about_a_partner([(p.lived_experience_id, p.professional_id) for p in pairs], carried_pairs(row), ERASED)
