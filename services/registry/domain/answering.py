"""Whether a person's answer to a proposed partner can be recorded now, and the key that keeps it
to one answer per question. Pure: no input or output."""

from __future__ import annotations

import hashlib
from enum import StrEnum

from services.registry.domain.rounds import RoundStatus


class Refusal(StrEnum):
    """Why an answer is not recorded, in the order the reasons are checked."""

    already_answered = "already_answered"
    no_round = "no_round"
    not_taking_answers = "not_taking_answers"
    no_such_pair = "no_such_pair"
    pair_ended = "pair_ended"


def refuse_answer(*, answered_before: bool, round_status: str | None, pair_found: bool, pair_ended: bool) -> Refusal | None:
    """One answer per person and partner, only while their round is published, for a pair that
    is still the round's and has not ended; None when the answer can be recorded."""
    if answered_before:
        return Refusal.already_answered
    if round_status is None:
        return Refusal.no_round
    if round_status != RoundStatus.published:
        return Refusal.not_taking_answers
    if not pair_found:
        return Refusal.no_such_pair
    if pair_ended:
        return Refusal.pair_ended
    return None


def answer_key(round_id: str, leader_id: str, partner_id: str) -> str:
    """The same key for every answer to one question, so two sent at once cannot both be stored."""
    return hashlib.sha256(f"{round_id}\0{leader_id}\0{partner_id}".encode()).hexdigest()
