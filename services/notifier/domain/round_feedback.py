"""When a round closes with a message from the manager (`RoundFeedbackShared`): one message for each person.

Everyone in the round is told, paired or not, what difference the pairs' work made. Each person's message is
its own `RoundFeedbackMessage`, with an id made from the event's and the person's, so each person hears once
even if the event comes twice. They are never published; their delivery is reported with `about`
"round_feedback". Pure: no I/O and no clock.
"""

from __future__ import annotations

import uuid
from typing import Literal

from schemas.events import Envelope, Payload, ProgrammeContact, RoundFeedbackShared

ROUND_FEEDBACK = "round_feedback"


class FeedbackNews(Payload):
    """One person's copy of the manager's words."""

    round_id: str
    leader_id: str  # who is told
    message: str
    programme: ProgrammeContact | None = None


class RoundFeedbackMessage(Envelope):
    """Made by the notifier from a `RoundFeedbackShared`, kept (sealed) in the schedule table while it waits."""

    event_type: Literal["RoundFeedbackMessage"] = "RoundFeedbackMessage"
    data: FeedbackNews


def feedback_messages(event: RoundFeedbackShared) -> list[RoundFeedbackMessage]:
    """One message for each person in the round, each once."""
    shared = event.data
    return [
        RoundFeedbackMessage(
            event_id=uuid.uuid5(event.event_id, leader_id),
            occurred_at=event.occurred_at,
            producer="notifier",
            correlation_id=event.correlation_id,
            causation_id=str(event.event_id),
            data=FeedbackNews(round_id=shared.round_id, leader_id=leader_id, message=shared.message, programme=shared.programme),
        )
        for leader_id in dict.fromkeys(shared.leader_ids)
    ]
