"""Reads shared by the API and the managers' pages: lists and views built from the database.
They change nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from services.common.store import UnitOfWork
from services.registry.adapters.orm import (
    CohortMemberRow,
    DeliveryRow,
    PairRow,
    ProgrammeRow,
    ResponseRow,
    RoundRow,
    UnmatchedRow,
)
from services.registry.domain.programmes import (
    ProgrammeDefaults,
    ProgrammeTerms,
)
from services.registry.domain.rounds import RoundStatus
from services.registry.handlers.common import get_round
from services.registry.handlers.programmes import (
    PROGRAMME_FIELDS,
    get_cohort,
    programme_terms,
)
from services.registry.handlers.rounds import REGISTRY_DEFAULTS


async def delivery_counts(uow: UnitOfWork, round_id: str | None = None) -> dict[str, int]:
    """How many people's messages are in each delivery state: for one round, or for every round."""
    query = select(DeliveryRow.status, func.count()).group_by(DeliveryRow.status)
    if round_id is not None:
        query = query.where(DeliveryRow.round_id == round_id)
    return dict((await uow.session.execute(query)).all())


async def list_rounds(uow: UnitOfWork, status: str | None, limit: int) -> list[dict]:
    """Rounds, newest first, with how far each has got."""
    query = select(RoundRow).order_by(RoundRow.created_at.desc()).limit(limit)
    if status:
        query = query.where(RoundRow.status == status)
    rows = (await uow.session.scalars(query)).all()
    ids = [r.id for r in rows]
    pairs = dict(
        (
            await uow.session.execute(
                select(PairRow.round_id, func.count()).where(PairRow.round_id.in_(ids)).group_by(PairRow.round_id)
            )
        ).all()
    )
    told = dict(
        (
            await uow.session.execute(
                select(DeliveryRow.round_id, func.count()).where(DeliveryRow.round_id.in_(ids)).group_by(DeliveryRow.round_id)
            )
        ).all()
    )
    return [
        {
            "id": r.id,
            "name": r.name or r.id,
            "status": r.status,
            "leader_count": len(r.leader_ids),
            "pairs": pairs.get(r.id, 0),
            "people_told": told.get(r.id, 0),
            "created_at": r.created_at.isoformat() if r.created_at else None,
            "updated_at": r.updated_at.isoformat() if r.updated_at else None,
        }
        for r in rows
    ]


def before_publishing(row: RoundRow, terms: ProgrammeTerms) -> str | None:
    """A reminder, before a round is published, that its programme cannot yet be reached without the internet."""
    missing = [
        w for w, v in (("a phone number", terms.contact.phone), ("a postal address", terms.contact.postal_address)) if not v
    ]
    if not missing or row.status not in (RoundStatus.proposed, RoundStatus.approved):
        return None
    return (
        f"The programme's contact details have no {' and no '.join(m.removeprefix('a ') for m in missing)}. "
        "If anyone in this round gets a letter, a text message or a message a member of staff gives them, "
        f"the round cannot be published until you add {' and '.join(missing)} {terms.where_to_add}."
    )


async def round_view(uow: UnitOfWork, round_id: str, defaults: ProgrammeDefaults = REGISTRY_DEFAULTS) -> dict:
    row = await get_round(uow, round_id)
    terms = await programme_terms(uow, row.cohort_id, defaults)
    pairs = (await uow.session.scalars(select(PairRow).where(PairRow.round_id == round_id).order_by(PairRow.id))).all()
    unmatched = (
        await uow.session.scalars(select(UnmatchedRow).where(UnmatchedRow.round_id == round_id).order_by(UnmatchedRow.id))
    ).all()
    deliveries = await delivery_counts(uow, round_id)
    for_a_person = (
        await uow.session.scalars(
            select(DeliveryRow)
            .where(DeliveryRow.round_id == round_id, DeliveryRow.status == "needs_a_person")
            .order_by(DeliveryRow.leader_id)
        )
    ).all()
    return {
        "id": row.id,
        "name": row.name or row.id,
        "status": row.status,
        "spec": row.spec,
        "leader_count": len(row.leader_ids),
        "cohort_id": row.cohort_id,
        "parent_round_id": row.parent_round_id,
        "follow_up_rounds": list(
            (
                await uow.session.scalars(
                    select(RoundRow.id).where(RoundRow.parent_round_id == row.id).order_by(RoundRow.created_at)
                )
            ).all()
        ),
        "locked_pairs": row.locked_pairs,
        "forbidden_pairs": row.forbidden_pairs,
        "stats": row.stats,
        "relaxations": row.relaxations or [],
        "warnings": row.warnings or [],
        "before_publishing": before_publishing(row, terms),
        "progress": row.progress,
        "failure": row.failure,
        "approved_by": row.approved_by,
        "pairs": [
            {
                "lived_experience_id": p.lived_experience_id,
                "professional_id": p.professional_id,
                "score": p.score,
                "meeting_modes": p.meeting_modes,
                "shared_windows": p.shared_windows,
                "reasons": p.reasons,
                "locked": p.locked,
                "first_meeting": p.first_meeting,
                "approved_by": p.approved_by,
                "approved_at": p.approved_at.isoformat() if p.approved_at else None,
            }
            for p in pairs
        ],
        "unmatched": [{"id": u.leader_id, "reason": u.reason, "rule": u.rule, "suggestion": u.suggestion} for u in unmatched],
        "deliveries": deliveries,
        "needs_a_person": [{"leader_id": d.leader_id, "why": d.detail} for d in for_a_person],
        "responses": [
            {
                "leader_id": r.leader_id,
                "partner_id": r.partner_id,
                "answer": r.answer,
                "given_by": r.given_by,
                "via": r.via,
                "checked_with_leader": r.checked_with_leader,
                "recorded_by": r.recorded_by,
                "received_on": r.received_on.isoformat() if r.received_on else None,
            }
            for r in (
                await uow.session.scalars(
                    select(ResponseRow).where(ResponseRow.round_id == round_id).order_by(ResponseRow.answered_at)
                )
            ).all()
        ],
    }


def programme_view(row: ProgrammeRow) -> dict:
    return {"id": row.id, **{f: getattr(row, f) for f in PROGRAMME_FIELDS}}


async def cohort_view(uow: UnitOfWork, cohort_id: str) -> dict:
    row = await get_cohort(uow, cohort_id)
    members = (
        await uow.session.scalars(
            select(CohortMemberRow.leader_id).where(CohortMemberRow.cohort_id == cohort_id).order_by(CohortMemberRow.leader_id)
        )
    ).all()
    return {"id": row.id, "programme_id": row.programme_id, "name": row.name, "leader_ids": list(members)}
