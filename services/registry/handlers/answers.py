"""Leaders' answers to a proposed partner: reading their link or code, showing the question,
and recording the answer once."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from schemas.events import (
    Envelope,
    PairAccepted,
    PairAnswer,
    PairDeclined,
)
from schemas.topics import RESPONSES
from services.common.crypto import Cipher
from services.common.store import UnitOfWork
from services.registry import decline_reasons
from services.registry.adapters.orm import (
    AnswerCodeRow,
    LeaderRow,
    PairRow,
    ResponseRow,
    RoundRow,
)
from services.registry.domain import answers as answer_codes
from services.registry.domain.answering import Refusal, answer_key, refuse_answer
from services.registry.domain.leaders import Consent, consent_given
from services.registry.domain.rounds import RoundStatus
from services.registry.handlers.common import Conflict, NotFound, event
from services.registry.handlers.pair_endings import ended_pairs

NOT_TAKING_ANSWERS = "This round is no longer taking answers. Please contact the programme team."


LEFT_THE_PROGRAMME = (
    "This link no longer works because you have left the programme. "
    "If you want to take part again, please contact the programme team."
)


ALREADY_ANSWERED = (
    "An answer has already been recorded for this pair, so this link no longer works. "
    "If you want to change the answer, please contact the programme team."
)


PAIR_ENDED = (
    "This pair has ended, so this link no longer takes answers. We will offer you a new partner. "
    "If you have questions, please contact the programme team."
)


class LinkProblem(Exception):
    """A response link that cannot be used, with what to do instead."""


@dataclass(frozen=True)
class ResponseLink:
    """The question a link or a reference opens: one person, one proposed partner, in one round."""

    round_id: str
    leader_id: str
    partner_id: str
    answer: str | None = None  # the answer a short link was sent for, chosen already on its page


@dataclass(frozen=True)
class Answered:
    """Who gave an answer and how it reached the programme: from a link, or recorded by a manager."""

    given_by: str = "leader"
    via: str = "link"
    checked_with_leader: bool | None = None
    recorded_by: str | None = None
    received_on: dt.date | None = None


def read_link(signer: URLSafeTimedSerializer, token: str, max_age_days: int) -> ResponseLink:
    """A long signed link from a message sent before links were short: it works for its lifetime."""
    try:
        data = signer.loads(token, max_age=max_age_days * 86400)
        return ResponseLink(data["round"], data["leader"], data["partner"])
    except SignatureExpired as exc:
        raise LinkProblem("This link has expired. Please contact the programme team and they will help you.") from exc
    except (BadSignature, KeyError, TypeError) as exc:
        raise LinkProblem(
            "This link is not complete. Please copy the whole link from your message, or contact the programme team."
        ) from exc


async def read_code(uow: UnitOfWork, typed: str, now: dt.datetime) -> ResponseLink:
    """The question behind a short link's code, while the link lasts."""
    code = answer_codes.read_code(typed)
    row = await uow.session.get(AnswerCodeRow, answer_codes.code_digest(code)) if code else None
    if row is None:
        raise LinkProblem(
            "This link is not complete. Please copy the whole link from your message, or contact the programme team."
        )
    expires_at = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.UTC)
    if expires_at <= now:
        raise LinkProblem("This link has expired. Please contact the programme team and they will help you.")
    return ResponseLink(row.round_id, row.leader_id, row.partner_id, row.answer)


def named_person(leader: LeaderRow, sealed: dict) -> str | None:
    """The carer or other person who gets this leader's messages, when they asked for that and agreed."""
    consents = [Consent.model_validate(c) for c in leader.public.get("consents") or []]
    proxy = sealed.get("proxy")
    if proxy and sealed.get("contact_method") == "via_carer" and consent_given(consents, "contact_via_proxy"):
        return proxy.get("name")
    return None


async def earlier_answer(uow: UnitOfWork, link: ResponseLink) -> ResponseRow | None:
    return await uow.session.scalar(
        select(ResponseRow)
        .where(
            ResponseRow.round_id == link.round_id,
            ResponseRow.leader_id == link.leader_id,
            ResponseRow.partner_id == link.partner_id,
        )
        .limit(1)
    )


async def link_view(uow: UnitOfWork, cipher: Cipher, link: ResponseLink) -> dict:
    """What the answer page shows: the partner's name and role, any earlier answer, and, when the
    leader's messages go to a person they named, the leader's name and that person's."""
    round_row = await uow.session.get(RoundRow, link.round_id)
    if round_row is None or round_row.status != RoundStatus.published:
        raise Conflict(NOT_TAKING_ANSWERS)
    partner = await uow.session.get(LeaderRow, link.partner_id)
    leader = await uow.session.get(LeaderRow, link.leader_id)
    if partner is None or leader is None:
        raise LinkProblem("We cannot find this pair any more. Please contact the programme team.")
    if leader.status == "withdrawn":
        raise Conflict(LEFT_THE_PROGRAMME)
    sealed = cipher.open(leader.sealed)
    earlier = await earlier_answer(uow, link)
    return {
        "partner_name": cipher.open(partner.sealed)["name"],
        "partner_role": partner.role,
        "already": earlier.answer if earlier else None,
        "leader_name": sealed.get("name"),
        "named_person": named_person(leader, sealed),
    }


async def record_response(
    uow: UnitOfWork, cipher: Cipher, link: ResponseLink, answer: str, reason: str | None, how: Answered = Answered()
) -> ResponseRow:
    """One answer per person and partner, only while the round is published; a no is told to the partner."""
    refusal = await answering_refusal(uow, link)
    if refusal is not None:
        raise refused(refusal, link)
    row = response_row(link, answer, await decline_reasons.seal_reason(uow, cipher, link.leader_id, reason), how)
    uow.session.add(row)
    uow.publish(RESPONSES, link.round_id, answer_event(link, answer, how))
    return row


async def answering_refusal(uow: UnitOfWork, link: ResponseLink) -> Refusal | None:
    """Loads what the rule needs (the earlier answer, the round, the pair and whether it ended) and applies it."""
    answered_before = await earlier_answer(uow, link) is not None
    round_row = await uow.session.get(RoundRow, link.round_id)
    pair = await uow.session.scalar(
        select(PairRow).where(
            PairRow.round_id == link.round_id,
            PairRow.lived_experience_id.in_([link.leader_id, link.partner_id]),
            PairRow.professional_id.in_([link.leader_id, link.partner_id]),
        )
    )
    ended = frozenset((link.leader_id, link.partner_id)) in (await ended_pairs(uow, [link.round_id]))[link.round_id]
    return refuse_answer(
        answered_before=answered_before,
        round_status=round_row.status if round_row is not None else None,
        pair_found=pair is not None,
        pair_ended=ended,
    )


def refused(refusal: Refusal, link: ResponseLink) -> Exception:
    """The error a refusal is answered with: a conflict with what to do, or a missing round or pair."""
    if refusal is Refusal.no_round:
        return NotFound(f"there is no round called {link.round_id}")
    if refusal is Refusal.no_such_pair:
        return LinkProblem("We cannot find this pair any more. Please contact the programme team.")
    words = {
        Refusal.already_answered: ALREADY_ANSWERED,
        Refusal.not_taking_answers: NOT_TAKING_ANSWERS,
        Refusal.pair_ended: PAIR_ENDED,
    }
    return Conflict(words[refusal])


def response_row(link: ResponseLink, answer: str, sealed_reason: bytes | None, how: Answered) -> ResponseRow:
    return ResponseRow(
        nonce=answer_key(link.round_id, link.leader_id, link.partner_id),
        round_id=link.round_id,
        leader_id=link.leader_id,
        partner_id=link.partner_id,
        answer=answer,
        sealed_reason=sealed_reason,
        given_by=how.given_by,
        via=how.via,
        checked_with_leader=how.checked_with_leader,
        recorded_by=how.recorded_by,
        received_on=how.received_on,
    )


def answer_event(link: ResponseLink, answer: str, how: Answered) -> Envelope:
    """PairAccepted or PairDeclined, which the partner's notifier tells them about when it is a no."""
    cls = PairAccepted if answer == "accept" else PairDeclined
    data = PairAnswer(
        round_id=link.round_id,
        leader_id=link.leader_id,
        partner_id=link.partner_id,
        given_by=how.given_by,
        via=how.via,
        checked_with_leader=how.checked_with_leader,
        recorded_by=how.recorded_by,
    )
    return event(cls, data, link.round_id)
