"""Writes each person's message: the domain decides what to say and how to reach
them, the Jinja templates in templates/ put it into words.

Kept out of domain/ only because it reads the template files.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape
from markupsafe import Markup, escape

from schemas.events import LeaderContact, Outcome, OutcomePublished, PairAnswer, PairDeclined, ProgrammeContact
from services.notifier.domain.messages import (
    STANDARD_POINTS,
    Block,
    ProposedMeeting,
    Route,
    choose_route,
    declined_facts,
    html_nodes,
    message_facts,
    one_line,
    parse_blocks,
    pictures_in,
    plain_text,
)
from services.notifier.domain.sms import fits
from services.notifier.domain.wording import Contact, contact_words, full_date, plain_reason

TEMPLATES = Path(__file__).resolve().parent / "templates"
PICTURES = TEMPLATES / "easy_read" / "pictures"
# Shown at the foot of every message with pictures: OpenMoji's licence asks for it.
PICTURE_CREDIT = "Pictures by OpenMoji (openmoji.org), shared under the Creative Commons Attribution Share-Alike 4.0 licence."


def picture_cid(name: str) -> str:
    """The Content-ID of a picture attached to an email."""
    return f"{name}@pictures.pairing.local"


# Each block of the email's HTML part, as the page (templates/email.html.j2) shows it: its words
# escaped (names and reasons come from people), and with its picture beside it in easy read.
_PARAGRAPH = '<p style="margin: 0 0 1em;">'
_OPENING = {
    "h1": '<h1 style="font-size: 1.6em; line-height: 1.25; margin: 0 0 0.75em;">',
    "h2": '<h2 style="font-size: 1.35em; line-height: 1.3; margin: 1.5em 0 0.5em;">',
    "h3": '<h3 style="font-size: 1.15em; line-height: 1.3; margin: 1.25em 0 0.5em;">',
}
_CLOSING = {"h1": "</h1>", "h2": "</h2>", "h3": "</h3>"}
_LIST = '<ul style="margin: 0 0 1em; padding-left: 1.5em;">\n'
_LINK = '" style="color: #005eb8; text-decoration: underline; font-weight: bold;">'
_PICTURE = (
    '<table role="presentation" style="border-collapse: collapse;"><tr>\n'
    '<td style="vertical-align: middle; padding: 0 0.75em 0 0;"><img src="'
)
_BESIDE = '" alt="" width="56" height="56" style="display: block;"></td>\n<td style="vertical-align: middle;">'


def node_content(node: dict) -> str:
    """One node's element, escaped, and the line ending after it."""
    kind = node["kind"]
    if kind == "ul":
        return _LIST + "".join(f"<li>{escape(item)}</li>\n" for item in node["items"]) + "</ul>\n"
    text = escape(node["text"])
    if kind in _OPENING:
        return f"{_OPENING[kind]}{text}{_CLOSING[kind]}\n"
    if kind == "link":
        return f'{_PARAGRAPH}<a href="{escape(node["url"])}{_LINK}{text}</a></p>\n'
    return f"{_PARAGRAPH}{text}</p>\n"


def node_html(node: dict, picture_src: Callable[[str], str]) -> str:
    """One node as the page puts it: with a picture, the picture sits to its left."""
    if node["picture"]:
        return f"{_PICTURE}{escape(picture_src(node['picture']))}{_BESIDE}{node_content(node)}</td>\n</tr></table>\n"
    return f"{node_content(node)}\n"


def email_html(subject: str, blocks: list[Block] | tuple[Block, ...], font_points: int, picture_src=None) -> str:
    """The email's HTML part; pictures point at the images attached to the email unless told otherwise."""
    credit = PICTURE_CREDIT if pictures_in(blocks) else ""
    src = picture_src or (lambda name: f"cid:{picture_cid(name)}")
    body = Markup("".join([node_html(node, src) for node in html_nodes(list(blocks))]))  # each part escaped as written
    return render("email.html.j2", {"subject": subject, "body": body, "font_points": font_points, "credit": credit})


LONDON = ZoneInfo("Europe/London")

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    # "email.html.j2" must be escaped: names and reasons come from people.
    autoescape=select_autoescape(["html.j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    # The templates ship with the service and never change while it runs: each is compiled once,
    # and not checked against its file again for every message (a file system call per render).
    auto_reload=False,
)


class Later:
    """A field of a message given as its words, or as a function that writes them when first asked:
    a form the route does not use (the text message of an email) is then never written at all.
    (A descriptor as a dataclass field: the dataclass sets and reads it through __set__ and __get__.)"""

    def __set_name__(self, owner: type, name: str) -> None:
        self.kept = f"_{name}"

    def __get__(self, message: object, owner: type | None = None) -> str:
        if message is None:
            return ""  # the default, for a message without this form
        words = message.__dict__[self.kept]
        if callable(words):
            words = words()
            message.__dict__[self.kept] = words
        return words

    def __set__(self, message: object, words: str | Callable[[], str]) -> None:
        message.__dict__[self.kept] = words


@dataclass(frozen=True)
class PlannedMessage:
    """One person's message in every form a channel may need; the route says which to use."""

    route: Route
    subject: str
    blocks: tuple[Block, ...]
    text: str  # plain text: the email's text part, and the words a person uses for a task
    meetings: tuple[ProposedMeeting, ...]
    round_id: str
    leader_id: str
    # False for a task about someone whose contact details we do not have: no name, no format to quote.
    contact_known: bool = True
    # The date the person must answer by, if they must: a task for a person is due before it.
    answer_by: dt.date | None = None
    # The programme's contact details (a letter's return address) and, for a reply slip, each
    # partner to answer about: (their name, the reference to quote).
    contact: Contact | None = None
    answers: tuple[tuple[str, str], ...] = ()
    html: Later = Later()  # the email's HTML part
    sms: Later = Later()  # the short text message

    @property
    def channel(self) -> str:
        return self.route.channel

    @property
    def why_a_person(self) -> str:
        return self.route.why_a_person


def london_date(moment: dt.datetime) -> dt.date:
    """The date people in England see; an event time without a zone is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(LONDON).date()


@cache
def template(name: str) -> Template:
    """Each template compiled once and kept here: asking the environment each time takes its cache's lock."""
    return _env.get_template(name)


def render(name: str, context: dict) -> str:
    return template(name).render(context)


def tidy(text: str) -> str:
    """At most one blank line in a row: the SMS templates are sent as they render."""
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def programme_of(programme: ProgrammeContact | str) -> ProgrammeContact:
    """The programme's contact details; a bare string is the team's name as it reads in a sentence."""
    return ProgrammeContact(team=programme) if isinstance(programme, str) else programme


def outcome_programme(event: OutcomePublished | PairDeclined) -> ProgrammeContact | None:
    return event.data.programme if isinstance(event, OutcomePublished) else None


def plan_message(
    outcome: Outcome,
    me: LeaderContact,
    contacts: dict[str, LeaderContact],
    programme: ProgrammeContact | str,
    route: Route | None = None,
) -> PlannedMessage:
    """`contacts` holds each partner's contact details, by leader id. `programme` is the notifier's own
    setting, used when the outcome does not carry the programme's contact details (older events).
    `route` overrides the usual choice, for a message that has to go to a person after all."""
    route = route or choose_route(me)
    facts, meetings = message_facts(outcome, me, contacts, route)
    name = outcome.outcome
    contact = contact_words(outcome.programme or programme_of(programme))
    paired = outcome.outcome == "paired"
    answers = tuple((p["name"], p["reference"]) for p in facts["partners"]) if paired else ()
    answer_by = outcome.respond_by if paired else None
    return _written(name, route, facts, contact, outcome.round_id, outcome.leader_id, meetings, answer_by, answers)


def plan_partner_declined(
    declined: PairAnswer,
    me: LeaderContact,
    decliner: LeaderContact | None,
    programme: ProgrammeContact | str,
    declined_on: dt.date,
    contact_within_days: int = 14,
    route: Route | None = None,
) -> PlannedMessage:
    """The message to `me` (declined.partner_id) when their proposed partner (declined.leader_id) says no."""
    route = route or choose_route(me)
    facts = declined_facts(me, decliner, route, declined_on, contact_within_days)
    contact = contact_words(programme_of(programme))
    return _written("partner_declined", route, facts, contact, declined.round_id, me.leader_id, [])


def _written(
    name: str,
    route: Route,
    facts: dict,
    contact: Contact,
    round_id: str,
    leader_id: str,
    meetings: list[ProposedMeeting],
    answer_by: dt.date | None = None,
    answers: tuple[tuple[str, str], ...] = (),
) -> PlannedMessage:
    """Every form of the message; the forms its route does not send are written only if asked for."""
    context = {**facts, "contact": contact}
    folder = "easy_read" if route.style == "easy_read" else "standard"
    blocks = parse_blocks(render(f"{folder}/{name}.j2", context))
    title = blocks[0].text
    subject = title if "programme" in title else f"{title} for the patient leader programme"
    if route.to_proxy:
        # For the person the leader named to get their messages: first, who it is for and why it came to them.
        blocks = parse_blocks(render(f"{folder}/for_proxy.j2", context)) + blocks
        subject = f"A message for {facts['name']}: {subject}"

    def html() -> str:
        return email_html(subject, blocks, route.font_points)

    def sms() -> str:
        return text_message(name, context, route.to_proxy)

    return PlannedMessage(
        route=route,
        subject=subject,
        blocks=tuple(blocks),
        text=plain_text(blocks),
        # Written now when the route sends it, so a message that cannot be written fails here, as it always did.
        html=html() if route.channel == "email" else html,
        sms=sms() if route.channel == "sms" else sms,
        meetings=tuple(meetings),
        round_id=round_id,
        leader_id=leader_id,
        contact=contact,
        answer_by=answer_by,
        answers=answers,
    )


# The text message templates say less at each level down, until the message fits (sms/paired.j2).
SMS_DETAIL = (3, 2, 1, 0, -1, -2)


def text_message(name: str, context: dict, to_proxy: bool = False) -> str:
    """The text message with the most detail that fits in 2 parts; the essentials when nothing more fits."""
    for detail in SMS_DETAIL:
        words = {**context, "detail": detail}
        text = tidy(render(f"sms/{name}.j2", words))
        if to_proxy:
            text = tidy(render("sms/for_proxy.j2", words).strip() + "\n" + text)
        text = text.strip()  # sent as it is: no newline at the end to pay for
        if fits(text):
            return text
    return text


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def task_for_a_person(
    subject: str,
    blocks: list[Block],
    why: str,
    round_id: str,
    leader_id: str,
    *,
    task: str = "contact",
    contact_known: bool = True,
    answer_by: dt.date | None = None,
    contact: Contact | None = None,
) -> PlannedMessage:
    """A message for someone on the programme team to act on (pass news on, or follow someone up): by
    email, in standard print. `why` says why a person must do it; the rest as in PlannedMessage."""
    return PlannedMessage(
        route=Route("person", "standard", STANDARD_POINTS, why, task=task),
        subject=subject,
        blocks=tuple(blocks),
        text=plain_text(blocks),
        html=email_html(subject, blocks, STANDARD_POINTS),
        sms="",
        meetings=(),
        round_id=round_id,
        leader_id=leader_id,
        contact_known=contact_known,
        answer_by=answer_by,
        contact=contact,
    )


def pass_on_task(
    why: str,
    me: LeaderContact | None,
    leader_id: str,
    round_id: str,
    news: list[Block],
    contact: Contact,
    *,
    answer_by: dt.date | None = None,
) -> PlannedMessage:
    """A task for a person when contact details never came (`me` is what we have of them, if anything):
    why we could not send the message, where to find them, the `news` to pass on and whom to ask.
    Never silence (Always Event 1): someone must tell them, even though we cannot write to them ourselves."""
    if me is not None:
        whom = one_line(me.name)
        where = (
            f"{whom}'s address, phone number and needs are on their page in the managers' pages: "
            f"open Leaders and search for {whom}."
        )
    else:
        # No name here: the record number is the only way to find them on the Leaders page.
        whom = "this person"
        where = f"We do not have their name here. In the managers' pages, open Leaders and search for record number {leader_id}."
    phone = f" on {contact.phone}" if contact.phone else ""
    blocks = [
        Block("h1", "Please pass on this message"),
        Block("p", f"We could not send this message ourselves: {why}."),
        Block("p", where),
        Block("p", "Tell them the news below, in the way they need."),
        Block("h2", f"The news for {whom}"),
        *news,
        Block("p", f"If you have questions, contact {contact.who}{phone}."),
    ]
    subject = "Please pass on a message for the patient leader programme"
    return task_for_a_person(subject, blocks, why, round_id, leader_id, contact_known=me is not None, answer_by=answer_by)


def plan_missing_contact_task(
    event: OutcomePublished | PairDeclined,
    leader_id: str,
    contacts: dict[str, LeaderContact | None],
    why: str,
    programme: ProgrammeContact | str,
    contact_within_days: int = 14,
) -> PlannedMessage:
    """A task for a person when contact details never arrived: the news in plain words, so they can pass it on."""
    contact = contact_words(outcome_programme(event) or programme_of(programme))

    def who(leader: str) -> str:
        """Their name; never an internal id."""
        known = contacts.get(leader)
        return one_line(known.name) if known else "the person we suggested"

    by_phone = f"call {contact.name} on {contact.phone}" if contact.phone else f"write to {contact.name} at {contact.postal}"
    news_blocks: list[Block] = []
    if isinstance(event, PairDeclined):
        date = full_date(london_date(event.occurred_at) + dt.timedelta(days=contact_within_days))
        news_blocks += [
            Block("p", f"{capital(who(event.data.leader_id))} has decided not to go ahead as their partner."),
            Block("p", "This is not about them. Do not pass on any reason: it stays private."),
            Block("p", f"We will try to find them someone else, and will be in touch by {date}."),
        ]
    elif event.data.outcome == "paired":
        outcome = event.data
        for p in outcome.partners:
            news_blocks.append(Block("p", f"We have found them a partner: {who(p.partner_id)}."))
            reasons = [Block("li", one_line(r)) for r in p.reasons if one_line(r)]
            if reasons:
                news_blocks += [Block("p", "Why we chose this pair, as we would tell them:"), *reasons]
            quote = f", quoting reference {p.reference}" if p.reference else ""
            news_blocks.append(Block("p", f"To say yes or no, they can {by_phone}{quote}."))
        if outcome.respond_by:
            news_blocks.append(Block("p", f"Please ask them to answer by {full_date(outcome.respond_by)}."))
    elif event.data.outcome == "cancelled":
        news_blocks += [
            Block("p", "The pairing we told them about has been stopped, so their pair will not go ahead."),
            Block("p", "This is not because of anything they did. We will still pay travel and carer costs they have had."),
            Block("p", "We will keep their details and write again when we next make pairs."),
        ]
    else:
        news_blocks += [
            Block("p", "We could not find them a partner this time."),
            Block("p", plain_reason(event.data.unmatched_reason) or "Nobody fitted with them this time."),
            Block("p", "We will keep their details and try again next time."),
        ]
    answer_by = event.data.respond_by if isinstance(event, OutcomePublished) and event.data.outcome == "paired" else None
    return pass_on_task(why, contacts.get(leader_id), leader_id, event.data.round_id, news_blocks, contact, answer_by=answer_by)
