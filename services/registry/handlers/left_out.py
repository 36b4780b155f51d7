"""Reading who was left out in a programme's earlier rounds, for the matcher to pair them first.

The rule is domain/left_out.py; this gathers what it needs: the programme's earlier
published (or closed) rounds, oldest first, with their pairs, the people they could
not pair, and the pairs someone said no to or that ended later. Rounds launched outside any programme
(for everyone, an area or a list of people) count as one programme of their own.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from services.common.store import UnitOfWork
from services.registry.adapters.orm import CohortRow, PairRow, ResponseRow, RoundRow, UnmatchedRow
from services.registry.domain.left_out import PastRound, left_out_before
from services.registry.domain.pair_endings import did_not_go_ahead
from services.registry.domain.rounds import RoundStatus
from services.registry.handlers.pair_endings import ended_pairs


async def people_left_out_before(uow: UnitOfWork, row: RoundRow, people: set[str]) -> list[str]:
    """The people of the round `row` left out in the latest earlier round of its programme they were in."""
    earlier = await _earlier_rounds(uow, row)
    if not earlier:
        return []
    pairs, unmatched, said_no = defaultdict(list), defaultdict(set), defaultdict(set)
    for round_id, lived, prof in (
        await uow.session.execute(
            select(PairRow.round_id, PairRow.lived_experience_id, PairRow.professional_id).where(PairRow.round_id.in_(earlier))
        )
    ).all():
        pairs[round_id].append((lived, prof))
    for round_id, leader_id in (
        await uow.session.execute(select(UnmatchedRow.round_id, UnmatchedRow.leader_id).where(UnmatchedRow.round_id.in_(earlier)))
    ).all():
        unmatched[round_id].add(leader_id)
    declines = select(ResponseRow.round_id, ResponseRow.leader_id, ResponseRow.partner_id).where(
        ResponseRow.round_id.in_(earlier), ResponseRow.answer == "decline"
    )
    for round_id, me, partner in (await uow.session.execute(declines)).all():
        said_no[round_id].add(frozenset((me, partner)))
    ended = await ended_pairs(uow, earlier)
    past = [PastRound(pairs[r], unmatched[r], did_not_go_ahead(said_no[r], ended[r])) for r in earlier]
    return left_out_before(people, past)


async def _earlier_rounds(uow: UnitOfWork, row: RoundRow) -> list[str]:
    """Ids of the published or closed rounds of the same programme, other than `row`, oldest first."""
    query = select(RoundRow.id).where(RoundRow.status.in_([RoundStatus.published, RoundStatus.closed]), RoundRow.id != row.id)
    programme = (
        await uow.session.scalar(select(CohortRow.programme_id).where(CohortRow.id == row.cohort_id)) if row.cohort_id else None
    )
    if programme is None:
        query = query.where(RoundRow.cohort_id.is_(None))
    else:
        query = query.where(RoundRow.cohort_id.in_(select(CohortRow.id).where(CohortRow.programme_id == programme)))
    return list((await uow.session.scalars(query.order_by(RoundRow.created_at, RoundRow.id))).all())
