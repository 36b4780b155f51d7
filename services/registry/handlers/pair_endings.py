"""Ending a pair: by the person from their link, by the programme team on their behalf, or by a manager.

The ending is recorded (the words a person adds sealed like a reason for saying no, see
decline_reasons.py), written to the audit log, and published as `PairEnded` on responses.v1, so the
notifier tells the partner kindly and confirms to the person who asked. The rules are in
domain/pair_endings.py; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from schemas.events import PairEnded, PairEnding
from schemas.topics import RESPONSES
from services.common.crypto import Cipher
from services.common.store import UnitOfWork
from services.registry import decline_reasons
from services.registry.adapters.orm import EndedPairRow, PairRow, ResponseRow
from services.registry.domain.pair_endings import REASONS, VIA_WORDS, CannotEnd, EndReason, PairState, check_can_end
from services.registry.handlers.common import Conflict, NotFound, audit, event, get_round


@dataclass(frozen=True)
class Ending:
    """Why and how a pair is ended. `asked_by` is the person who asked, None when the programme team decided."""

    reason: EndReason
    words: str | None = None
    asked_by: str | None = None
    via: str = "link"  # link, a way it reached the team (VIA_WORDS), or programme_team
    recorded_by: str | None = None


async def find_pair(uow: UnitOfWork, round_id: str, one: str, other: str) -> PairRow | None:
    return await uow.session.scalar(
        select(PairRow).where(
            PairRow.round_id == round_id,
            PairRow.lived_experience_id.in_([one, other]),
            PairRow.professional_id.in_([one, other]),
        )
    )


async def ended_pairs(uow: UnitOfWork, round_ids: list[str]) -> dict[str, set[frozenset[str]]]:
    """The pairs that ended in each of these rounds."""
    found: dict[str, set[frozenset[str]]] = {r: set() for r in round_ids}
    rows = await uow.session.execute(
        select(EndedPairRow.round_id, EndedPairRow.lived_experience_id, EndedPairRow.professional_id).where(
            EndedPairRow.round_id.in_(round_ids)
        )
    )
    for round_id, lived, prof in rows.all():
        found[round_id].add(frozenset((lived, prof)))
    return found


async def state_of(uow: UnitOfWork, round_id: str, pair: PairRow | None, status: str) -> PairState:
    if pair is None:
        return PairState(status, is_a_pair=False, said_no=False, ended=False)
    people = [pair.lived_experience_id, pair.professional_id]
    said_no = await uow.session.scalar(
        select(ResponseRow.nonce)
        .where(ResponseRow.round_id == round_id, ResponseRow.answer == "decline", ResponseRow.leader_id.in_(people))
        .where(ResponseRow.partner_id.in_(people))
        .limit(1)
    )
    ended = frozenset(people) in (await ended_pairs(uow, [round_id]))[round_id]
    return PairState(status, is_a_pair=True, said_no=said_no is not None, ended=ended)


async def end_pair(
    uow: UnitOfWork, cipher: Cipher, round_id: str, pair_of: tuple[str, str], ending: Ending, actor: str
) -> EndedPairRow:
    """End the pair of the two people in `pair_of` (the one asking first, when one of them asked)."""
    row = await get_round(uow, round_id)
    pair = await find_pair(uow, round_id, *pair_of)
    try:
        check_can_end(await state_of(uow, round_id, pair, row.status))
    except CannotEnd as problem:
        if pair is None:
            raise NotFound(str(problem)) from None
        raise Conflict(str(problem)) from None
    assert pair is not None  # checked above
    lived, prof = pair.lived_experience_id, pair.professional_id
    sealer = ending.asked_by or lived
    ended = EndedPairRow(
        round_id=round_id,
        lived_experience_id=lived,
        professional_id=prof,
        asked_by=ending.asked_by,
        reason=ending.reason,
        sealed_words=await decline_reasons.seal_reason(uow, cipher, sealer, (ending.words or "").strip() or None),
        via=ending.via,
        recorded_by=ending.recorded_by,
    )
    uow.session.add(ended)
    leader = ending.asked_by or lived  # when the team ended it, the lived experience leader
    partner = prof if leader == lived else lived
    audit(uow, actor, "ended a pair", leader, purpose(round_id, partner, ending))
    data = PairEnding(
        round_id=round_id,
        leader_id=leader,
        partner_id=partner,
        ended_by="leader" if ending.asked_by else "programme_team",
        via=ending.via,
        recorded_by=ending.recorded_by,
    )
    uow.publish(RESPONSES, round_id, event(PairEnded, data, round_id))
    return ended


def purpose(round_id: str, partner: str, ending: Ending) -> str:
    """The audit entry's words: no sealed words, only the coded reason and how it came."""
    who = "asked for by the leader" if ending.asked_by else "decided by the programme team"
    how = "from their link" if ending.via == "link" else VIA_WORDS.get(ending.via, "")
    return f"pair with {partner} in round {round_id} ended, {who} {how}; reason: {REASONS[ending.reason]}".replace("  ", " ")


def ended_view(row: EndedPairRow) -> dict:
    """An ended pair as the API answers it: never the sealed words."""
    return {
        "round_id": row.round_id,
        "lived_experience_id": row.lived_experience_id,
        "professional_id": row.professional_id,
        "asked_by": row.asked_by,
        "reason": row.reason,
        "via": row.via,
        "recorded_by": row.recorded_by,
    }
