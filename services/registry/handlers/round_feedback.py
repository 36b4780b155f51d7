"""Closing a round and telling everyone in it what difference the pairs made (issue 18).

The manager's words are checked for plain English (domain/plain_english.py) and refused with what to change;
then the round is closed (review.close_round) and, in the same transaction, `RoundFeedbackShared` goes on
rounds.v1 naming everyone in the round, paired or not. The notifier sends each of them the message in their
own format. The caller commits.
"""

from __future__ import annotations

from sqlalchemy import select

from schemas.events import RoundFeedback, RoundFeedbackShared
from schemas.topics import ROUNDS
from services.common.store import UnitOfWork
from services.registry.adapters.orm import LeaderRow, RoundRow
from services.registry.domain.plain_english import Finding, check
from services.registry.domain.programmes import ProgrammeDefaults
from services.registry.handlers import review
from services.registry.handlers.common import ERASED, audit, event, get_round
from services.registry.handlers.programmes import programme_terms


class NotPlainEnglish(ValueError):
    """The words need changing before they are sent: each finding says what to change."""

    def __init__(self, findings: list[Finding]):
        self.findings = findings
        super().__init__(" ".join(str(f) for f in findings))


async def everyone_in(uow: UnitOfWork, row: RoundRow) -> list[str]:
    """Everyone the round was for, paired or not; people erased or withdrawn since are not written to
    (someone who left the programme asked not to hear from it)."""
    people = [leader_id for leader_id in dict.fromkeys(row.leader_ids) if leader_id != ERASED]
    gone = set(
        (await uow.session.scalars(select(LeaderRow.id).where(LeaderRow.id.in_(people), LeaderRow.status == "withdrawn"))).all()
    )
    return [leader_id for leader_id in people if leader_id not in gone]


async def close_with_feedback(
    uow: UnitOfWork, round_id: str, by: str, feedback: str | None, defaults: ProgrammeDefaults
) -> RoundRow:
    """Close the round; with words, tell everyone in it what difference the pairs made."""
    words = (feedback or "").strip()
    if words and (findings := check(words)):
        raise NotPlainEnglish(findings)
    row = await review.close_round(uow, round_id, by)
    if not words:
        return row
    row = await get_round(uow, round_id)
    terms = await programme_terms(uow, row.cohort_id, defaults)
    told = await everyone_in(uow, row)
    shared = RoundFeedback(round_id=round_id, leader_ids=told, message=words, programme=terms.contact, shared_by=by)
    uow.publish(ROUNDS, round_id, event(RoundFeedbackShared, shared, round_id))
    audit(uow, by, "shared what difference the pairs made", None, f"round {round_id}: a message to {len(told)} people")
    return row
