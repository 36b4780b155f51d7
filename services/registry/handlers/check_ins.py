"""Recording an answer to "Did you meet?" or a check-in: from the person's link, or given to the
programme team (by phone, letter, text, in person or email) and recorded on their behalf.

The answer is kept (any words sealed like a reason for saying no, see decline_reasons.py), an answer
recorded by staff is audited, and it is published as `FollowUpAnswered` on responses.v1 with a coded
answer only, so the notifier makes a task when one is needed. The rules are in domain/check_ins.py;
the caller commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from schemas.events import FollowUpAnswer, FollowUpAnswered
from schemas.topics import RESPONSES
from services.common.crypto import Cipher
from services.common.store import UnitOfWork, utc_now
from services.registry import decline_reasons
from services.registry.adapters.orm import AnswerCodeRow, FollowUpAnswerRow, ResponseRow
from services.registry.domain.check_ins import CannotAnswer, PairNow, check_answer, check_can_answer, check_meeting_date
from services.registry.handlers.common import Conflict, NotFound, audit, event, get_round
from services.registry.handlers.pair_endings import ended_pairs, find_pair


@dataclass(frozen=True)
class FollowUpGiven:
    """One answer: to which question (and which check-in), what, any words, and how it reached us."""

    question: str  # met or check_in
    answer: str
    number: int = 0
    words: str | None = None
    given_by: str = "leader"  # leader, named_person or programme_team
    via: str = "link"  # link, phone, letter, text, in_person or email
    recorded_by: str | None = None
    meeting_on: dt.date | None = None  # with not_yet: the date they now plan to meet


async def pair_now(uow: UnitOfWork, round_id: str, leader_id: str, partner_id: str) -> PairNow:
    row = await get_round(uow, round_id)
    pair = await find_pair(uow, round_id, leader_id, partner_id)
    if pair is None or leader_id == partner_id:
        return PairNow(row.status, is_a_pair=False, ended=False, said_no=False)
    people = [leader_id, partner_id]
    said_no = await uow.session.scalar(
        select(ResponseRow.nonce)
        .where(ResponseRow.round_id == round_id, ResponseRow.answer == "decline")
        .where(ResponseRow.leader_id.in_(people), ResponseRow.partner_id.in_(people))
        .limit(1)
    )
    ended = frozenset(people) in (await ended_pairs(uow, [round_id]))[round_id]
    return PairNow(row.status, is_a_pair=True, ended=ended, said_no=said_no is not None)


async def record(
    uow: UnitOfWork,
    cipher: Cipher,
    round_id: str,
    leader_id: str,
    partner_id: str,
    given: FollowUpGiven,
    actor: str,
    today: dt.date | None = None,
) -> FollowUpAnswerRow:
    """Keep the answer and tell the notifier; NotFound for a pair that is not one, Conflict when it cannot be asked."""
    words = (given.words or "").strip() or None
    try:
        check_answer(given.question, given.number, given.answer, words)
        check_meeting_date(given.answer, given.meeting_on, today or utc_now().date())
    except CannotAnswer as problem:
        raise Conflict(str(problem)) from None
    state = await pair_now(uow, round_id, leader_id, partner_id)
    try:
        check_can_answer(state)
    except CannotAnswer as problem:
        raise (NotFound if not state.is_a_pair else Conflict)(str(problem)) from None
    row = FollowUpAnswerRow(
        round_id=round_id,
        leader_id=leader_id,
        partner_id=partner_id,
        question=given.question,
        number=given.number,
        answer=given.answer,
        meeting_on=given.meeting_on,
        sealed_words=await decline_reasons.seal_reason(uow, cipher, leader_id, words),
        given_by=given.given_by,
        via=given.via,
        recorded_by=given.recorded_by,
    )
    uow.session.add(row)
    if given.via != "link":  # told to the team, or a reply to a text: audited like the answers to a pair
        which = "a check-in" if given.question == "check_in" else "the question about meeting"
        purpose = f"answer to {which} about {partner_id} in round {round_id} recorded, given by {given.via}: {given.answer}"
        audit(uow, actor, "recorded a follow-up answer", leader_id, purpose)
    reference = await uow.session.scalar(
        select(AnswerCodeRow.reference)
        .where(AnswerCodeRow.round_id == round_id, AnswerCodeRow.leader_id == leader_id, AnswerCodeRow.partner_id == partner_id)
        .limit(1)
    )
    data = FollowUpAnswer.model_validate(
        {
            "round_id": round_id,
            "leader_id": leader_id,
            "partner_id": partner_id,
            "question": given.question,
            "number": given.number,
            "answer": given.answer,
            "reference": reference,
            "given_by": given.given_by,
            "via": given.via,
            "recorded_by": given.recorded_by,
            "has_words": words is not None,
            "meeting_on": given.meeting_on,
        }
    )
    uow.publish(RESPONSES, round_id, event(FollowUpAnswered, data, round_id))
    return row


async def latest(uow: UnitOfWork, round_id: str) -> list[FollowUpAnswerRow]:
    """Every answer of the round, oldest first (so a later one replaces an earlier one when read in order)."""
    query = select(FollowUpAnswerRow).where(FollowUpAnswerRow.round_id == round_id).order_by(FollowUpAnswerRow.id)
    return list((await uow.session.scalars(query)).all())
