"""What each person is told, how, and in which format.

Pure rules, no I/O and no clock: contact details, an outcome and the publish
date in; a route (channel and format), the facts to put in the message and a
suggested first meeting out. The wording lives in the templates
(services/notifier/compose.py fills them) and the sending in adapters/.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from schemas.cohort import DAYS
from schemas.events import LeaderContact, Outcome
from services.notifier.domain.wording import (
    EASY_REASONS,
    act_by,
    easy_pair_reason,
    full_date,
    plain_reason,
    reason_kind,
    said_span,
    session_words,
    short_date,
)

ROLE_PHRASES = {
    "patient_leader": "a patient leader: someone who brings their own experience of using health care",
    "carer_leader": "a carer leader: someone who brings their experience of caring for a family member or friend",
    "clinical_leader": "a clinical leader: a doctor, nurse, therapist or other health worker",
    "managerial_leader": "a manager who works in health and care",
}
EASY_ROLE_PHRASES = {
    "patient_leader": "a patient leader. This means they have used health services",
    "carer_leader": "a carer leader. This means they look after someone",
    "clinical_leader": "a health worker, like a doctor or nurse",
    "managerial_leader": "a manager in health and care",
}
SHORT_ROLE_PHRASES = {
    "patient_leader": "a patient leader",
    "carer_leader": "a carer leader",
    "clinical_leader": "a clinical leader",
    "managerial_leader": "a health and care manager",
}
DAY_NAMES = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}
MODE_PHRASES = {"in_person": "in person", "video": "by video call", "phone": "by phone"}
# What will be arranged for a pair's meetings. Never who needs it or why: that stays with the registry.
ARRANGEMENT_PHRASES = {
    "step_free_access": "a meeting place with step-free access, such as a ramp or a lift",
    "hearing_loop": "a room with a hearing loop",
    "bsl_interpreter": "a British Sign Language interpreter",
    "quiet_room": "a quiet room",
    "regular_breaks": "regular breaks",
    "support_worker": "room for a support worker to come too",
    "large_print_papers": "papers in large print",
    "easy_read_papers": "papers in easy read",
}
EASY_ARRANGEMENT_PHRASES = {
    "step_free_access": "A place with no steps, or with a ramp or lift.",
    "hearing_loop": "A room with a hearing loop.",
    "bsl_interpreter": "Someone to sign in British Sign Language.",
    "quiet_room": "A quiet room.",
    "regular_breaks": "Breaks during the meeting.",
    "support_worker": "Your support worker can come too.",
    "large_print_papers": "Papers in big writing.",
    "easy_read_papers": "Papers in easy read.",
}
LARGE_PRINT_POINTS = {"large_print_20": 20, "large_print_24": 24, "large_print_28": 28}
STANDARD_POINTS = 12
# Easy read guidance asks for at least 14 point; a little more is easier still.
EASY_READ_POINTS = 16
# Formats this service cannot produce itself: a person must arrange them.
NEEDS_A_PERSON_FORMATS = {"braille": "braille", "audio": "audio"}
# Contact methods only a person can use. "via_carer" is one, unless the contact record names
# the person who gets their messages (it does only with the leader's consent): see choose_route.
PERSON_CONTACT_METHODS = {
    "telephone": "asked to be phoned",
    "text_relay": "asked to be phoned through the text relay service",
    "via_carer": "asked to be contacted through a carer or another person, and no one is recorded, "
    "with their agreement, to get their messages",
}
# The channels tried, in order, for the person who gets someone's messages.
PROXY_CHANNELS = (("email", "email"), ("letter", "postal_address"), ("sms", "phone"))
# For the delivery report: where the message went, with no name or address.
TO_PROXY = "to the person they named to get their messages, with their agreement"
# The contact detail each written channel needs.
CHANNEL_ADDRESS = {"email": "email", "sms": "phone", "letter": "postal_address"}
MISSING_ADDRESS = {"email": "email address", "sms": "mobile phone number", "letter": "postal address"}


@dataclass(frozen=True)
class Route:
    """How one person is reached: the channel, and the format the words take."""

    channel: str  # "email", "sms", "letter", or "person" when someone must reach them another way
    style: str  # "standard", "large_print" or "easy_read": which templates and what size
    font_points: int
    why_a_person: str = ""
    # True when the message goes to the person the leader named to get their messages (contact.proxy).
    to_proxy: bool = False
    # For channel "person": the kind of task (domain/tasks.py), which sets what to do and how long it takes.
    task: str = "contact"


def choose_route(me: LeaderContact) -> Route:
    """Honour the recorded communication needs, or hand the message to a person; never downgrade."""
    style, points = "standard", STANDARD_POINTS
    if me.information_format in LARGE_PRINT_POINTS:
        style, points = "large_print", LARGE_PRINT_POINTS[me.information_format]
    elif me.information_format == "easy_read":
        style, points = "easy_read", EASY_READ_POINTS

    def person(why: str, task: str = "contact") -> Route:
        return Route("person", style, points, why, task=task)

    if unmet := NEEDS_A_PERSON_FORMATS.get(me.information_format):
        return person(f"needs the message in {unmet}", unmet)
    # The free text is not repeated here: it may be sensitive, and the registry holds it.
    if me.communication_professional:
        return person("needs a communication professional to share the message, as recorded", "interpreter")
    if me.communication_support:
        return person("needs communication support to read the message, as recorded", "support")
    if me.contact_method == "via_carer" and me.proxy is not None:
        # The registry sends the proxy only when the leader agreed to it.
        for channel, field in PROXY_CHANNELS:
            if getattr(me.proxy, field):
                return Route(channel, style, points, to_proxy=True)
        return person(
            "asked to be contacted through the person they named, and we have no email address, "
            "postal address or phone number for that person"
        )
    if why := PERSON_CONTACT_METHODS.get(me.contact_method):
        return person(why, "phone" if me.contact_method in ("telephone", "text_relay") else "contact")
    if not getattr(me, CHANNEL_ADDRESS[me.contact_method]):
        return person(f"has no {MISSING_ADDRESS[me.contact_method]} on record")
    return Route(me.contact_method, style, points)


def recipient(me: LeaderContact, route: Route) -> LeaderContact:
    """Whom the channel writes to: the leader, or (with `to_proxy`) the person they named, at that person's
    name and addresses. Everything else (the format, the leader's id) stays the leader's."""
    if not route.to_proxy or me.proxy is None:
        return me
    proxy = me.proxy
    return me.model_copy(
        update={"name": proxy.name, "email": proxy.email, "phone": proxy.phone, "postal_address": proxy.postal_address}
    )


@dataclass(frozen=True)
class ProposedMeeting:
    """A suggested first meeting: a date inside a weekly window both people share."""

    partner_id: str
    partner_name: str
    modes: str  # "by video call or in person"
    date: dt.date
    start: dt.time
    end: dt.time

    @property
    def wording(self) -> str:
        return f"{DAY_NAMES[DAYS[self.date.weekday()]]} {long_date(self.date)}, from {self.start:%H:%M} to {self.end:%H:%M}"

    @property
    def easy_wording(self) -> str:
        """As people say it: Tuesday 12 January 2027, from 10 in the morning to 11 in the morning."""
        return f"{full_date(self.date)}, from {said_span(self.start, self.end)}"


def one_line(text: str | None) -> str:
    """Names and reasons are put into line-based templates: a newline must not start a new block.
    Each run of white space becomes one space (str.split's white space is the same as the \\s of a
    regular expression, and splitting is several times quicker than substituting)."""
    return " ".join(text.split()) if text else ""


def join_words(items: list[str], last: str = "or") -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {last} " + items[-1]


def long_date(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def message_facts(
    outcome: Outcome, me: LeaderContact, contacts: dict[str, LeaderContact], route: Route
) -> tuple[dict[str, Any], list[ProposedMeeting]]:
    """Everything the templates need, already in plain words; and the suggested first meetings.

    `contacts` holds each partner's contact details, by leader id. The first meeting
    comes planned from the registry, which sees both people's dates and notice.
    """
    partners, meetings = [], []
    for p in outcome.partners:
        contact = contacts[p.partner_id]
        name = one_line(contact.name)
        modes = join_words([MODE_PHRASES[m] for m in p.meeting_modes])
        slot = p.first_meeting
        meeting = ProposedMeeting(p.partner_id, name, modes, slot.date, slot.start, slot.end) if slot else None
        if meeting:
            meetings.append(meeting)
        partners.append(
            {
                "name": name,
                "pronouns": one_line(contact.pronouns),
                "organisation": one_line(contact.organisation),
                "role": ROLE_PHRASES[contact.role],
                "easy_role": EASY_ROLE_PHRASES[contact.role],
                "short_role": SHORT_ROLE_PHRASES[contact.role],
                "reasons": [one_line(r) for r in p.reasons if one_line(r)],
                "easy_reasons": list(dict.fromkeys(easy_pair_reason(r) for r in p.reasons if one_line(r))),
                "windows": [f"{DAY_NAMES[w.day]}, {w.start:%H:%M} to {w.end:%H:%M}" for w in p.shared_windows],
                "modes": modes,
                "meeting": meeting.wording if meeting else "",
                "easy_meeting": meeting.easy_wording if meeting else "",
                "easy_windows": [f"{DAY_NAMES[w.day]}, {said_span(w.start, w.end)}" for w in p.shared_windows],
                "reference": one_line(p.reference),
                "sms_meeting": f"{short_date(slot.date)}, {slot.start:%H:%M}" if slot else "",
                "arrangements": [ARRANGEMENT_PHRASES[need] for need in p.access_arrangements],
                "easy_arrangements": [EASY_ARRANGEMENT_PHRASES[need] for need in p.access_arrangements],
                "accept_url": p.accept_url,
                "decline_url": p.decline_url,
            }
        )
    kind = reason_kind(outcome.unmatched_reason)
    deadline = act_by(outcome.next_round_on)
    facts = {
        "name": one_line(me.name),
        "outcome": outcome.outcome,
        "pairing_again": outcome.pairing_again,
        "partners": partners,
        "unmatched_reason": plain_reason(outcome.unmatched_reason) or "We could not find a partner who fits with you this time.",
        "reason_kind": kind,
        "easy_reason": EASY_REASONS[kind],
        "respond_by": full_date(outcome.respond_by) if outcome.respond_by else "",
        "sessions": [session_words(s, easy=route.style == "easy_read") for s in outcome.sessions],
        "respond_by_short": short_date(outcome.respond_by) if outcome.respond_by else "",
        "next_round": full_date(outcome.next_round_on) if outcome.next_round_on else "",
        "next_round_short": short_date(outcome.next_round_on) if outcome.next_round_on else "",
        "act_by": full_date(deadline) if deadline else "",
        "act_by_short": short_date(deadline) if deadline else "",
        "channel": route.channel,
        "style": route.style,
    }
    return facts, meetings


def declined_facts(
    me: LeaderContact, decliner: LeaderContact | None, route: Route, declined_on: dt.date, contact_within_days: int
) -> dict[str, Any]:
    """What a person is told when their proposed partner says no. The reason they gave is never here:
    it stays private with the programme manager. The decliner may be unknown here (erased): then unnamed."""
    return {
        "name": one_line(me.name),
        "partner_name": one_line(decliner.name) if decliner else "",
        "contact_by": full_date(declined_on + dt.timedelta(days=contact_within_days)),
        "contact_by_short": short_date(declined_on + dt.timedelta(days=contact_within_days)),
        "channel": route.channel,
        "style": route.style,
    }


# ---- the light markup the message templates are written in ----
#
# One block per line: "# " title, "## " heading, "### " sub-heading, "- " list
# item, "[words](address)" a link, anything else a paragraph. Each output
# (plain text, HTML, letter, task) is made from the same blocks, so they say
# the same thing. In easy read, "@name " at the start of a block's words puts a
# picture beside it (templates/easy_read/pictures/name.png); plain text has none.


@dataclass(frozen=True)
class Block:
    kind: str  # "h1", "h2", "h3", "p", "li" or "link"
    text: str
    url: str = ""
    picture: str = ""  # the name of a picture to show beside it (easy read)


_LINK = re.compile(r"^\[(?P<text>.+)\]\((?P<url>\S+)\)$")
_PICTURE = re.compile(r"^@(?P<name>[a-z][a-z-]*) +(?P<rest>.*)$")


def _with_picture(block: Block) -> Block:
    if block.text.startswith("@") and (found := _PICTURE.match(block.text)):
        return Block(block.kind, found["rest"], block.url, found["name"])
    return block


def parse_blocks(markup: str) -> list[Block]:
    blocks = []
    for raw in markup.splitlines():
        line = raw.strip()
        if not line:
            continue
        # Each pattern is tried only on a line that starts as it must.
        if line[0] == "[" and (link := _LINK.match(line)):
            blocks.append(Block("link", link["text"], link["url"]))
        elif line.startswith("### "):
            blocks.append(Block("h3", line[4:].strip()))
        elif line.startswith("## "):
            blocks.append(Block("h2", line[3:].strip()))
        elif line.startswith("# "):
            blocks.append(Block("h1", line[2:].strip()))
        elif line.startswith("- "):
            blocks.append(Block("li", line[2:].strip()))
        else:
            blocks.append(Block("p", line))
    return [_with_picture(b) for b in blocks]


def plain_text(blocks: list[Block]) -> str:
    """Plain text with no hard line wrapping, so it reflows at any text size (large print too)."""
    lines: list[str] = []
    for i, block in enumerate(blocks):
        previous = blocks[i - 1].kind if i else None
        # A blank line between paragraphs and before headings; list items stay together.
        if lines and not (block.kind == "li" and previous == "li"):
            lines.append("")
        if block.kind in ("h1", "h2", "h3"):
            lines.append(block.text)
        elif block.kind == "li":
            lines.append(f"- {block.text}")
        elif block.kind == "link":
            lines += [f"{block.text}:", block.url]
        else:
            lines.append(block.text)
    return "\n".join(lines) + "\n"


def html_nodes(blocks: list[Block]) -> list[dict[str, Any]]:
    """Blocks grouped for HTML: consecutive list items become one list."""
    nodes: list[dict[str, Any]] = []
    for block in blocks:
        if block.kind == "li" and block.picture:
            # A point with its own picture stands on its own line, picture beside it.
            nodes.append({"kind": "p", "text": block.text, "url": "", "picture": block.picture})
        elif block.kind == "li":
            if nodes and nodes[-1]["kind"] == "ul":
                nodes[-1]["items"].append(block.text)
            else:
                nodes.append({"kind": "ul", "items": [block.text], "picture": ""})
        else:
            nodes.append({"kind": block.kind, "text": block.text, "url": block.url, "picture": block.picture})
    return nodes


def pictures_in(blocks: tuple[Block, ...] | list[Block]) -> list[str]:
    """The pictures a message shows, each once, in order."""
    return list(dict.fromkeys(b.picture for b in blocks if b.picture))
