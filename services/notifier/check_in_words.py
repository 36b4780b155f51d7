"""The words of "Did you meet?" and of a check-in (domain/check_ins.py), in the person's format and
channel (templates/*/met_question.j2 and check_in.j2), and of the tasks for the programme team when
someone has not met yet or needs help.

Kept beside compose.py, which it uses, because it reads the template files.
"""

from __future__ import annotations

import re

from schemas.events import LeaderContact, Partner, ProgrammeContact
from services.notifier.compose import PlannedMessage, _written, programme_of, task_for_a_person
from services.notifier.domain.check_ins import CHECK_IN, MET_QUESTION, NEED_HELP, Question
from services.notifier.domain.messages import Block, Route, choose_route, message_facts, one_line
from services.notifier.domain.wording import contact_words, full_date
from services.notifier.follow_up_words import reach_lines

# A short answer link (services/registry/domain/answers.py): the pages after pairing hang off its code.
SHORT_LINK = re.compile(r"/a/[A-Za-z0-9]{6,}$")
# The page each question's link opens: the answer link's code, then this.
PAGE_OF = {MET_QUESTION: "met", CHECK_IN: "check-in"}


def partner_in(question: Question) -> Partner:
    assert question.outcome is not None  # a question always carries its outcome
    return next(p for p in question.outcome.partners if p.partner_id == question.partner_id)


def question_link(question: Question) -> str:
    """The short answer link the person already has, with the page for this question: /a/{code}/met.
    Empty for a long signed link from before links were short: then they answer by phone or post."""
    base = partner_in(question).accept_url.rstrip("/")
    if not SHORT_LINK.search(base):
        return ""
    page = PAGE_OF[question.kind]
    return f"{base}/{page}/{question.number}" if question.kind == CHECK_IN else f"{base}/{page}"


def plan_question(
    question: Question, me: LeaderContact, partner: LeaderContact, programme: ProgrammeContact | str, route: Route | None = None
) -> PlannedMessage:
    """One short question about one partner: did you meet, or how is it going; how to answer, and that help is there."""
    if question.kind in (MET_QUESTION, CHECK_IN):
        return plan_asking(question, me, partner, programme, route)
    return plan_task(question, me, partner, programme)


def plan_asking(
    question: Question, me: LeaderContact, partner: LeaderContact, programme: ProgrammeContact | str, route: Route | None = None
) -> PlannedMessage:
    route = route or choose_route(me)
    outcome = question.outcome
    assert outcome is not None  # a question always carries its outcome
    about = outcome.model_copy(update={"partners": [partner_in(question)]})
    facts, _ = message_facts(about, me, {partner.leader_id: partner}, route)
    # Only the person themselves can answer by replying: a reply from someone they named matches nobody.
    reply = route.channel == "sms" and not route.to_proxy
    facts |= {"partner": facts["partners"][0], "link": question_link(question), "number": question.number, "reply": reply}
    contact = contact_words(outcome.programme or programme_of(programme))
    return _written(question.kind, route, facts, contact, outcome.round_id, me.leader_id, [])


TASK_WORDS = {
    "not_yet": (
        "Not met yet",
        "told us they have not met {other} yet, and {days} later have not told us they have met.",
        "Please contact {name} and ask how we can help them meet {other}, or whether they need a new partner.",
    ),
    "need_help": (
        "Asked for help",
        "told us they need help with their pair with {other}.",
        "Please contact {name} soon and ask what help they need.",
    ),
}


def task_why(question: Question) -> str:
    """Why the team is asked, for the task and its report: no name, no address, no words they wrote."""
    reference = one_line(question.reference)
    quoted = f" (reference {reference})" if reference else ""
    which = "a check-in" if question.number else "our question about meeting their partner"
    said = "that they need help" if question.kind == NEED_HELP else "that they have not met their partner yet"
    on = full_date(question.answered_on) if question.answered_on else "a day we did not record"
    return f"answered {which}{quoted} on {on}, saying {said}"


def plan_task(question: Question, me: LeaderContact, partner: LeaderContact, programme: ProgrammeContact | str) -> PlannedMessage:
    """A task for the programme team: who, about which pair, and how to reach them. Never their own words:
    those are only in the managers' pages."""
    name, other = one_line(me.name), one_line(partner.name)
    title, what, ask = TASK_WORDS[question.kind]
    on = full_date(question.answered_on) if question.answered_on else "a day we did not record"
    days = f"{(question.due_on - question.answered_on).days} days" if question.answered_on else "some time"
    reference = one_line(question.reference)
    blocks = [
        Block("h1", f"{title}: {name}"),
        Block("p", f"On {on}, {name} " + what.format(other=other, days=days)),
        Block("h2", "What to do"),
        Block("p", ask.format(name=name, other=other)),
        Block("p", "Open the round's follow-up page in the managers' pages to see their answers, and any words they added."),
    ]
    if reference:
        blocks.append(Block("p", f"The pair's reference is {reference}."))
    blocks += [Block("h2", f"How to reach {name}"), *[Block("li", line) for line in reach_lines(me)]]
    contact = contact_words(programme_of(programme))
    why = task_why(question)
    return task_for_a_person(
        f"{title}: {name}", blocks, why, question.round_id, me.leader_id, task=question.kind, contact=contact
    )
