"""The words of a follow-up (domain/follow_ups.py): the reminder to the person, in their format and
channel (templates/*/reminder.j2), and the task for the programme team when they have not answered.

Kept beside compose.py, which it uses, because it reads the template files.
"""

from __future__ import annotations

import dataclasses

from schemas.events import LeaderContact, Partner, ProgrammeContact
from services.notifier.compose import PlannedMessage, _written, programme_of, task_for_a_person
from services.notifier.domain.follow_ups import REMINDER, FollowUp
from services.notifier.domain.messages import (
    SHORT_ROLE_PHRASES,
    Block,
    Route,
    choose_route,
    message_facts,
    one_line,
)
from services.notifier.domain.wording import contact_words, full_date

# How a person asked to be contacted, after "They asked to be contacted".
CONTACT_METHOD_WORDS = {
    "email": "by email",
    "letter": "by letter",
    "sms": "by text message",
    "telephone": "by phone",
    "text_relay": "by phone, through the text relay service",
    "via_carer": "through a carer or another person they named",
}
# Said in every task about a missing answer, and in its report: the rule it must never break.
NEVER_DECLINE = "Do not record a no for them: nobody is declined automatically"


def partner_in(follow_up: FollowUp) -> Partner:
    return next(p for p in follow_up.outcome.partners if p.partner_id == follow_up.partner_id)


def plan_follow_up(
    follow_up: FollowUp, me: LeaderContact, partner: LeaderContact, programme: ProgrammeContact | str, route: Route | None = None
) -> PlannedMessage:
    if follow_up.kind == REMINDER:
        return plan_reminder(follow_up, me, partner, programme, route)
    return plan_no_answer_task(follow_up, me, partner, programme)


def plan_reminder(
    follow_up: FollowUp, me: LeaderContact, partner: LeaderContact, programme: ProgrammeContact | str, route: Route | None = None
) -> PlannedMessage:
    """One short, kind reminder about one partner: what we asked, by when, how to answer, and that no is fine."""
    route = route or choose_route(me)
    outcome = follow_up.outcome
    about = outcome.model_copy(update={"partners": [partner_in(follow_up)]})
    facts, _ = message_facts(about, me, {partner.leader_id: partner}, route)
    facts |= {
        "partner": facts["partners"][0],
        "asked_on": full_date(follow_up.asked_on),
        # A reply of YES or NO to a text can only be read when they were asked about one partner.
        "one_question": len(outcome.partners) == 1,
    }
    contact = contact_words(outcome.programme or programme_of(programme))
    planned = _written("reminder", route, facts, contact, outcome.round_id, me.leader_id, [])
    slip = ((facts["partner"]["name"], facts["partner"]["reference"]),)
    return dataclasses.replace(planned, answer_by=outcome.respond_by, answers=slip)


def no_answer_why(follow_up: FollowUp) -> str:
    """Why the team is asked, for the task and its report: no name, no address, no internal id."""
    reference = one_line(partner_in(follow_up).reference)
    quoted = f" (reference {reference})" if reference else ""
    day = full_date(follow_up.outcome.respond_by) if follow_up.outcome.respond_by else "the date we gave"
    return f"has not said yes or no to the partner we suggested{quoted}, and was asked to answer by {day}. {NEVER_DECLINE}"


def reach_lines(me: LeaderContact) -> list[str]:
    """How to reach them, from their contact record."""
    name = one_line(me.name)
    lines = [f"They asked to be contacted {CONTACT_METHOD_WORDS[me.contact_method]}."]
    for label, value in (("Phone", me.phone), ("Email", me.email), ("Post", me.postal_address)):
        if value:
            lines.append(f"{label}: {one_line(value)}")
    if me.proxy is not None:
        proxy = me.proxy
        who = one_line(proxy.name) + (f", their {one_line(proxy.relationship)}" if proxy.relationship else "")
        ways = [one_line(v) for v in (proxy.phone, proxy.email, proxy.postal_address) if v]
        lines.append(f"They agreed that we send their messages to {who}" + (f": {', '.join(ways)}." if ways else "."))
    lines.append(f"More is on their page in the managers' pages: open Leaders and search for {name}.")
    return lines


def plan_no_answer_task(
    follow_up: FollowUp, me: LeaderContact, partner: LeaderContact, programme: ProgrammeContact | str
) -> PlannedMessage:
    """A task for the programme team: who has not answered about whom, by when, and how to reach them.
    Never a web address or an internal id, and never a no recorded for them."""
    outcome = follow_up.outcome
    name, other = one_line(me.name), one_line(partner.name)
    reference = one_line(partner_in(follow_up).reference)
    contact = contact_words(outcome.programme or programme_of(programme))
    quote = f", and quote the reference {reference}" if reference else ""
    blocks = [
        Block("h1", f"No answer yet from {name}"),
        Block(
            "p",
            f"On {full_date(follow_up.asked_on)} we asked {name} if they want to work with {other}, "
            f"{SHORT_ROLE_PHRASES[partner.role]}.",
        ),
        Block(
            "p",
            f"We asked them to answer by {full_date(outcome.respond_by)}. We have not had their answer."
            if outcome.respond_by
            else "We have not had their answer.",
        ),
        Block("h2", "What to do"),
        Block("p", f"Please contact {name} in the way they asked, and ask if they want to work with {other}."),
        Block("p", f"When they tell you, open the pairing in the managers' pages, choose Record an answer{quote}."),
        Block("p", "If they need more time, or you cannot reach them, tell the programme manager."),
        Block("p", f"{NEVER_DECLINE}."),
        Block("h2", f"How to reach {name}"),
        *[Block("li", line) for line in reach_lines(me)],
    ]
    why = no_answer_why(follow_up)
    return task_for_a_person(
        f"No answer yet from {name}", blocks, why, outcome.round_id, me.leader_id, task="no_answer", contact=contact
    )
