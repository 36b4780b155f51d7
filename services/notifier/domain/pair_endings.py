"""When a pair ends (`PairEnded`): who is told what.

The partner is told kindly that it is not their fault and what happens next; the person who asked
to end it gets a short confirmation. When the programme team ended the pair, both are told as
partners: nobody is told the other asked. Each message is its own `PairEndedMessage`, with an id
made from the event's and the person's, so each person hears once even if the event comes twice.
They are never published; their delivery is reported with `about` "pair_ended" or
"pair_ended_confirmed". Pure: no I/O and no clock.
"""

from __future__ import annotations

import uuid
from typing import Literal

from schemas.events import Envelope, LeaderContact, PairEnded, PairEnding, Payload
from services.notifier.domain.messages import Route, one_line

EndedKind = Literal["pair_ended", "pair_ended_confirmed"]
PAIR_ENDED: EndedKind = "pair_ended"
CONFIRMED: EndedKind = "pair_ended_confirmed"


class EndedNews(Payload):
    """One person's news about a pair that ended."""

    kind: EndedKind
    round_id: str
    leader_id: str  # who is told
    partner_id: str  # the other person in the pair
    by_team: bool  # the programme team ended it (nobody asked)
    ended: PairEnding


class PairEndedMessage(Envelope):
    """Made by the notifier from a `PairEnded`, kept (sealed) in the schedule table while it waits."""

    event_type: Literal["PairEndedMessage"] = "PairEndedMessage"
    data: EndedNews


def messages_for(event: PairEnded) -> list[PairEndedMessage]:
    """The partner's news and the confirmation to the person who asked; both as partners when the team ended it."""
    ended = event.data
    by_team = ended.ended_by == "programme_team"
    told: list[tuple[EndedKind, str, str]] = [
        (PAIR_ENDED, ended.partner_id, ended.leader_id),
        (PAIR_ENDED if by_team else CONFIRMED, ended.leader_id, ended.partner_id),
    ]
    return [
        PairEndedMessage(
            event_id=uuid.uuid5(event.event_id, leader_id),
            occurred_at=event.occurred_at,
            producer="notifier",
            correlation_id=event.correlation_id,
            causation_id=str(event.event_id),
            data=EndedNews(
                kind=kind, round_id=ended.round_id, leader_id=leader_id, partner_id=other, by_team=by_team, ended=ended
            ),
        )
        for kind, leader_id, other in told
    ]


def ended_facts(news: EndedNews, me: LeaderContact, other: LeaderContact | None, route: Route) -> dict[str, object]:
    """What the templates need. Never why the pair ended: that stays with the programme team."""
    return {
        "name": one_line(me.name),
        "partner_name": one_line(other.name) if other else "",
        "by_team": news.by_team,
        "channel": route.channel,
        "style": route.style,
    }
