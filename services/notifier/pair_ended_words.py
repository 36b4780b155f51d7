"""The words when a pair ends (domain/pair_endings.py): the kind message to the partner and the
confirmation to the person who asked, in their format and channel (templates/*/pair_ended*.j2),
and the task for a person when their contact details never came.

Kept beside compose.py, which it uses, because it reads the template files.
"""

from __future__ import annotations

from schemas.events import LeaderContact, ProgrammeContact
from services.notifier.compose import PlannedMessage, _written, pass_on_task, programme_of
from services.notifier.domain.messages import Block, Route, choose_route, one_line
from services.notifier.domain.pair_endings import CONFIRMED, EndedNews, ended_facts
from services.notifier.domain.wording import contact_words


def plan_pair_ended(
    news: EndedNews, me: LeaderContact, other: LeaderContact | None, programme: ProgrammeContact | str, route: Route | None = None
) -> PlannedMessage:
    """The message to `me` (news.leader_id); `other` may be unknown (erased since): then unnamed."""
    route = route or choose_route(me)
    contact = contact_words(programme_of(programme))
    return _written(news.kind, route, ended_facts(news, me, other, route), contact, news.round_id, me.leader_id, [])


def plan_pair_ended_task(
    news: EndedNews, contacts: dict[str, LeaderContact | None], why: str, programme: ProgrammeContact | str
) -> PlannedMessage:
    """A task for a person when contact details never came: the news in plain words, to pass on. Never the reason."""
    contact = contact_words(programme_of(programme))
    me, other = contacts.get(news.leader_id), contacts.get(news.partner_id)
    partner = one_line(other.name) if other else "the partner we suggested"
    if news.kind == CONFIRMED:
        news_lines = [f"Their pair with {partner} has ended, as they asked.", "We have told their partner kindly."]
    else:
        news_lines = [
            f"Their pair with {partner} has ended.",
            "This is not their fault. Do not pass on any reason: it stays private.",
        ]
    news_blocks = [
        *[Block("p", line) for line in news_lines],
        Block("p", "They stay on the programme. We will offer them a new partner when we next pair people."),
    ]
    return pass_on_task(why, me, news.leader_id, news.round_id, news_blocks, contact)
