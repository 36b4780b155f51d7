"""The words when a round closes with the manager's message (domain/round_feedback.py), in each person's format
and channel (templates/*/round_feedback.j2), and the task for a person when their contact details never came.

The lines themselves come from services/common/round_feedback.py, which the registry's preview uses too.
Kept beside compose.py, which it uses, because it reads the template files.
"""

from __future__ import annotations

from schemas.events import LeaderContact, ProgrammeContact
from services.common import round_feedback as words
from services.notifier.compose import SMS_DETAIL, PlannedMessage, _written, pass_on_task, programme_of, render, tidy
from services.notifier.domain.messages import Block, Route, choose_route, one_line
from services.notifier.domain.round_feedback import ROUND_FEEDBACK, FeedbackNews
from services.notifier.domain.wording import Contact, contact_words


def feedback_contact(contact: Contact) -> words.FeedbackContact:
    return words.FeedbackContact(
        team=contact.team, person=contact.person or None, phone=contact.phone or None, email=contact.email or None
    )


def plan_round_feedback(
    news: FeedbackNews, me: LeaderContact, programme: ProgrammeContact | str, route: Route | None = None
) -> PlannedMessage:
    """The message to `me` (news.leader_id), in their format; the programme's details from the event when it has them."""
    route = route or choose_route(me)
    contact = contact_words(news.programme or programme_of(programme))
    reach = feedback_contact(contact)
    name = one_line(me.name)
    lines = (words.easy_read_lines if route.style == "easy_read" else words.standard_lines)(name, news.message, reach)
    sms: dict[int, str] = {}
    for detail in SMS_DETAIL:
        # The words to a named person go first: the manager's words leave room for them.
        before = tidy(render("sms/for_proxy.j2", {"name": name, "detail": detail})).strip() if route.to_proxy else ""
        sms[detail] = words.text_message(name, news.message, reach, reserve=len(before) + 1 if before else 0)
    facts = {"name": name, "lines": lines, "sms": sms, "channel": route.channel, "style": route.style}
    return _written(ROUND_FEEDBACK, route, facts, contact, news.round_id, me.leader_id, [])


def plan_round_feedback_task(
    news: FeedbackNews, contacts: dict[str, LeaderContact | None], why: str, programme: ProgrammeContact | str
) -> PlannedMessage:
    """A task for a person when contact details never came: the manager's words, to pass on in the way they need."""
    contact = contact_words(news.programme or programme_of(programme))
    news_blocks = [
        Block("p", "The round of pairs they were in has finished. Thank them for taking part."),
        Block("p", "Tell them what happened because of the work of the pairs:"),
        *[Block("p", paragraph) for paragraph in words.paragraphs(news.message)],
        Block("p", "They stay on the programme. We will write to them when we next make pairs."),
    ]
    return pass_on_task(why, contacts.get(news.leader_id), news.leader_id, news.round_id, news_blocks, contact)
