"""Answers a person gave by phone, letter, text or in person, recorded on their behalf by a manager.

They follow the same rules as answers from a link (only while the round is published, once for each
person and partner, the partner told at once about a no), and every one is written to the audit log.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import or_, select

from schemas.cohort import LeaderId
from services.common.crypto import Cipher
from services.common.store import UnitOfWork
from services.registry.adapters.orm import AnswerCodeRow, PairRow, ResponseRow
from services.registry.domain.answers import ReferenceProblem, read_reference
from services.registry.handlers import answers as answering
from services.registry.handlers import common

VIA_WORDS = {
    "phone": "on the phone",
    "letter": "by letter",
    "text": "by text message",
    "in_person": "in person",
    "email": "by email",
}
GIVER_WORDS = {"leader": "the leader", "named_person": "the person they named to get their messages"}


class AnswerOnBehalf(BaseModel):
    """An answer someone gave the programme team, as a manager records it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    leader_id: LeaderId | None = Field(default=None, description="Who the answer is from (or give the reference)")
    reference: str | None = Field(
        default=None, max_length=20, description="The reference on their letter or reply slip, like K7P-4QXM"
    )
    partner_id: LeaderId | None = Field(
        default=None, validate_default=True, description="Needed only when the person has more than one partner"
    )
    answer: Literal["accept", "decline"]
    via: Literal["phone", "letter", "text", "in_person", "email"]
    received_on: dt.date = Field(description="The day the answer reached the programme team")
    given_by: Literal["leader", "named_person"] = Field(
        default="leader", description="The leader, or the carer or other person they named to get their messages"
    )
    checked_with_leader: bool | None = Field(
        default=None,
        validate_default=True,
        description="When a named person gave the answer: they said they checked with the leader first",
    )
    reason: str | None = Field(default=None, max_length=2000, description="Why they said no, if they said")

    @field_validator("reference", mode="after")
    @classmethod
    def a_real_reference(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            return read_reference(value)
        except ReferenceProblem as problem:
            raise ValueError(str(problem)) from None

    @field_validator("partner_id", mode="after")
    @classmethod
    def someone_answered(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("leader_id") is None and info.data.get("reference") is None and "reference" in info.data:
            raise ValueError("give leader_id or reference, so we know whose answer this is")
        return value

    @field_validator("checked_with_leader", mode="after")
    @classmethod
    def named_person_checked(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        if info.data.get("given_by") == "named_person" and value is not True:
            raise ValueError(
                "must be true: ask the person who answered whether they checked with the leader; "
                "an answer from someone else is recorded only when they have"
            )
        return value

    @field_validator("received_on", mode="after")
    @classmethod
    def not_in_the_future(cls, value: dt.date) -> dt.date:
        if value > dt.date.today() + dt.timedelta(days=1):  # a day's leeway for time zones
            raise ValueError("cannot be in the future: give the day the answer reached you")
        return value


async def question_for(uow: UnitOfWork, round_id: str, command: AnswerOnBehalf) -> answering.ResponseLink:
    """The person and partner the answer is about, from the reference or the leader's id."""
    if command.reference is not None:
        row = await uow.session.scalar(
            select(AnswerCodeRow).where(AnswerCodeRow.round_id == round_id, AnswerCodeRow.reference == command.reference).limit(1)
        )
        if row is None:
            raise common.NotFound(f"reference: nobody in round {round_id} has the reference {command.reference}; check the round")
        if command.leader_id not in (None, row.leader_id):
            raise common.Conflict(f"reference: {command.reference} is the reference of {row.leader_id}, not {command.leader_id}")
        return answering.ResponseLink(round_id, row.leader_id, row.partner_id)
    leader_id = command.leader_id or ""
    pairs = (
        await uow.session.scalars(
            select(PairRow).where(
                PairRow.round_id == round_id, or_(PairRow.lived_experience_id == leader_id, PairRow.professional_id == leader_id)
            )
        )
    ).all()
    partners = sorted({p.professional_id if p.lived_experience_id == leader_id else p.lived_experience_id for p in pairs})
    if not partners:
        raise common.NotFound(f"leader_id: {leader_id} has no partner in round {round_id}")
    if command.partner_id is None and len(partners) > 1:
        raise common.Conflict(
            f"partner_id: {leader_id} has {len(partners)} partners in this round; give one of {', '.join(partners)}"
        )
    partner_id = command.partner_id or partners[0]
    if partner_id not in partners:
        raise common.Conflict(
            f"partner_id: {partner_id} is not paired with {leader_id} in this round; give one of {', '.join(partners)}"
        )
    return answering.ResponseLink(round_id, leader_id, partner_id)


async def record_on_behalf(
    uow: UnitOfWork, cipher: Cipher, round_id: str, command: AnswerOnBehalf, recorded_by: str, actor: str
) -> ResponseRow:
    """Record the answer as if given from the link, saying who gave it, how, when and who recorded it."""
    round_row = await common.get_round(uow, round_id)
    if round_row.status != "published":
        raise common.Conflict(
            f"This round is {round_row.status}, so it is no longer taking answers: "
            "answers are recorded only while a round is published."
        )
    question = await question_for(uow, round_id, command)
    if (earlier := await answering.earlier_answer(uow, question)) is not None:
        raise common.Conflict(
            f"An answer from {question.leader_id} about {question.partner_id} has already been recorded "
            f"({'yes' if earlier.answer == 'accept' else 'no'}, {VIA_WORDS.get(earlier.via, 'from the link')}); "
            "it cannot be recorded twice"
        )
    how = answering.Answered(
        given_by=command.given_by,
        via=command.via,
        checked_with_leader=True if command.given_by == "named_person" else None,
        recorded_by=recorded_by,
        received_on=command.received_on,
    )
    reason = (command.reason or "").strip() or None
    row = await answering.record_response(uow, cipher, question, command.answer, reason, how)
    words = "yes" if command.answer == "accept" else "no"
    common.audit(
        uow,
        actor,
        "recorded an answer",
        question.leader_id,
        f"{words} to {question.partner_id} in round {round_id}, given by {GIVER_WORDS[command.given_by]} "
        f"{VIA_WORDS[command.via]} on {command.received_on.isoformat()}",
    )
    return row


def answer_view(row: ResponseRow) -> dict:
    return {
        "round_id": row.round_id,
        "leader_id": row.leader_id,
        "partner_id": row.partner_id,
        "answer": row.answer,
        "given_by": row.given_by,
        "via": row.via,
        "checked_with_leader": row.checked_with_leader,
        "received_on": row.received_on.isoformat() if row.received_on else None,
        "recorded_by": row.recorded_by,
    }
