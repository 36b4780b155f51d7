"""The message gallery (`make messages`): every kind of message in every format, for made-up people
chosen to be awkward (long and accented names, a carer, British Sign Language, braille, no email),
written into one folder with an index.html to open in a browser, and a picture (PNG) of each letter page.

Nothing is sent: each message is planned exactly as the notifier plans it, then written to a file.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pypdfium2 as pdfium

from schemas.cohort import Session, Window
from schemas.events import (
    ContactProxy,
    LeaderContact,
    MeetingSlot,
    Outcome,
    OutcomePublished,
    PairAnswer,
    PairEnded,
    PairEnding,
    Partner,
    ProgrammeContact,
    RoundFeedback,
    RoundFeedbackShared,
)
from services.notifier.adapters.channels import task_text
from services.notifier.adapters.letters import letter_pdf
from services.notifier.check_in_words import plan_question
from services.notifier.compose import (
    PICTURES,
    PlannedMessage,
    email_html,
    plan_message,
    plan_missing_contact_task,
    plan_partner_declined,
)
from services.notifier.domain.check_ins import CHECK_IN, MET_QUESTION, Question, questions_for
from services.notifier.domain.follow_ups import NO_ANSWER, REMINDER, FollowUp, follow_ups
from services.notifier.domain.pair_endings import EndedNews, messages_for
from services.notifier.domain.round_feedback import FeedbackNews, feedback_messages
from services.notifier.domain.sms import segments
from services.notifier.domain.tasks import DEFAULT_TASK_DAYS
from services.notifier.follow_up_words import plan_follow_up
from services.notifier.pair_ended_words import plan_pair_ended
from services.notifier.round_feedback_words import plan_round_feedback

TODAY = dt.date(2027, 1, 12)  # a Tuesday: the day the gallery's messages are dated
PROGRAMME = ProgrammeContact(
    team="the Tyneside patient leader team",
    person="Priya Shah",
    phone="0191 498 0123",
    email="patient.leaders@example.nhs.uk",
    postal_address="Tyneside Patient Leader Programme\nCivic Centre, Room 2\nBarras Bridge\nNewcastle upon Tyne\nNE1 8QH",
)
SESSIONS = [
    Session(
        date=dt.date(2027, 2, 16),
        start=dt.time(10),
        end=dt.time(14, 30),
        place="Room 2, Civic Centre, Newcastle upon Tyne NE1 8QH",
    ),
    Session(
        date=dt.date(2027, 3, 16), start=dt.time(13), end=dt.time(15, 30), place="By video call: the link comes a week before"
    ),
]
RESPOND_BY = dt.date(2027, 1, 29)
NEXT_ROUND = dt.date(2027, 4, 13)

# Made-up people. Every name, address and number here is invented (phone numbers from Ofcom's drama ranges).
PARTNER = LeaderContact(
    leader_id="cl-1",
    version=1,
    name="Dr Oluwaseun Adebayo-Fitzgerald",
    pronouns="she/her",
    role="clinical_leader",
    organisation="Newcastle upon Tyne Hospitals",
)
SECOND = LeaderContact(leader_id="cr-2", version=1, name="Siobhán Ní Bhriain", role="carer_leader")
LONG = LeaderContact(
    leader_id="pl-1",
    version=1,
    name="Maximilian Alexander Featherstonehaugh-Wolstenholme",
    role="patient_leader",
    email="max@example.org",
    phone="07700 900123",
    postal_address="Flat 4, Greystoke House\n27 Westgate Road\nNewcastle upon Tyne\nNE1 1SA",
)
ACCENTED = SECOND.model_copy(
    update={
        "leader_id": "pl-2",
        "role": "patient_leader",
        "email": "siobhan@example.org",
        "phone": "07700 900456",
        "postal_address": "3 Rye Hill\nNewcastle upon Tyne\nNE4 6BB",
    }
)
SON = ContactProxy(name="Tomasz Kowalczyk", relationship="son", email="tomasz@example.org", phone="07700 900789")
CONTACTS = {"cl-1": PARTNER, "cr-2": SECOND, "pl-1": LONG, "pl-2": ACCENTED}
# The professional as they are written to, with every way of reaching them.
PROFESSIONAL = PARTNER.model_copy(
    update={
        "email": "o.adebayo@example.nhs.uk",
        "phone": "07700 900321",
        "postal_address": "RVI, Queen Victoria Road\nNewcastle upon Tyne\nNE1 4LP",
    }
)

REASONS = [
    "You both care about discharge from hospital and mental health.",
    "You are both free on Tuesday 10:00 to 12:30 and Thursday 14:00 to 16:00.",
    "You can meet by video or in person (about 4 miles apart).",
    "You can both attend every required session.",
    "One of you is new to this kind of work and the other has done it before.",
]
# One reason of each kind, worded as the matcher words them (services/matcher/domain/explain.py).
UNMATCHED_REASONS = {
    "manager has not confirmed their time": (
        "Your manager has not yet confirmed that you can have time for this programme, so we could not pair you this round."
    ),
    "cannot take a partner": "You told us you cannot take on a partner this round.",
    "cannot attend a session": (
        "You cannot attend every required session: 16 February 2027 is on a date you told us you cannot do."
    ),
    "nobody free at the same times": (
        "None of the professionals in your local health and care area who could meet you are free at the same "
        "times as you for at least 1 hour each week."
    ),
    "no way of meeting that suits": (
        "Most of the professionals in your local health and care area cannot meet in a way that suits you: "
        "you said you can meet in person, travelling up to about 3 miles."
    ),
    "different area": "You can only meet in person, and many professionals are in a different local health and care area.",
    "asked not to be paired": (
        "Many of the professionals who could have been your partner were ruled out because one of you asked "
        "not to be paired with the other, or because you were paired before."
    ),
    "everyone suitable was taken": "Every suitable professional already has as many partners as they can take.",
    "more people than places": (
        "There were more patient and carer leaders than places with professionals, so not everyone could be paired this time."
    ),
    "nobody in the area": "There were no professionals in your local health and care area in this round.",
    "could not be planned": (
        "The round could not be planned as it was set up, so nobody has been paired yet. The programme team "
        "will adjust it and pair you then."
    ),
}


def _partner(partner_id: str, code: str, start: dt.time = dt.time(10)) -> Partner:
    return Partner(
        partner_id=partner_id,
        reasons=REASONS,
        shared_windows=[
            Window(day="tue", start=dt.time(10), end=dt.time(12, 30)),
            Window(day="thu", start=dt.time(14), end=dt.time(16)),
        ],
        meeting_modes=["video", "in_person"],
        first_meeting=MeetingSlot(date=dt.date(2027, 2, 2), start=start, end=dt.time(start.hour + 1, start.minute)),
        access_arrangements=["step_free_access", "bsl_interpreter"],
        # Short links as the registry makes them (at most 45 characters).
        accept_url=f"https://pair.example.nhs.uk/a/{code}Yq7",
        decline_url=f"https://pair.example.nhs.uk/d/{code}Yq7",
        reference=f"{code[:3]}-{code[3:]}",
    )


def _outcome(leader_id: str, kind: str, **change) -> Outcome:
    base = {"round_id": "gallery", "leader_id": leader_id, "outcome": kind, "programme": PROGRAMME, "next_round_on": NEXT_ROUND}
    if kind == "paired":
        base |= {"partners": [_partner("cl-1", "K7P4QX")], "respond_by": RESPOND_BY, "sessions": SESSIONS}
    return Outcome(**(base | change))


FORMATS = {
    "standard email": {},
    "large print email": {"information_format": "large_print_24"},
    "easy read email": {"information_format": "easy_read"},
    "letter": {"contact_method": "letter"},
    "large print letter": {"contact_method": "letter", "information_format": "large_print_28"},
    "easy read letter": {"contact_method": "letter", "information_format": "easy_read"},
    "text message": {"contact_method": "sms"},
    "task: braille": {"information_format": "braille"},
    "task: British Sign Language": {"communication_professional": "British Sign Language interpreter"},
    "task: phone call": {"contact_method": "telephone"},
}


@dataclass
class Entry:
    kind: str
    person: str
    format: str
    files: list[tuple[str, str]] = field(default_factory=list)  # (label, file name)
    note: str = ""


def _slug(*parts: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", " ".join(parts).lower()).strip("-")


def _picture_data(name: str) -> str:
    """For viewing in a browser: the picture inside the page (an email carries it as an attachment)."""
    return "data:image/png;base64," + base64.b64encode((PICTURES / f"{name}.png").read_bytes()).decode()


def _write(folder: Path, entry: Entry, message: PlannedMessage, me: LeaderContact, stem: str) -> None:
    channel = message.channel
    if channel == "email":
        page = email_html(message.subject, message.blocks, message.route.font_points, _picture_data)
        (folder / f"{stem}.html").write_text(page)
        (folder / f"{stem}.txt").write_text(f"Subject: {message.subject}\n\n{message.text}")
        entry.files += [("email as seen", f"{stem}.html"), ("plain text part", f"{stem}.txt")]
    elif channel == "sms":
        (folder / f"{stem}.txt").write_text(message.sms)
        entry.files.append(("text message", f"{stem}.txt"))
        entry.note = f"{len(message.sms)} characters, {segments(message.sms)} part(s)"
    elif channel == "letter":
        pdf = letter_pdf(message, me, TODAY)
        (folder / f"{stem}.pdf").write_bytes(pdf)
        entry.files.append(("letter (PDF)", f"{stem}.pdf"))
        document = pdfium.PdfDocument(pdf)
        for number, page in enumerate(document, start=1):
            name = f"{stem}-page-{number}.png"
            page.render(scale=1.4).to_pil().save(folder / name)
            entry.files.append((f"page {number} of {len(document)}", name))
    else:
        (folder / f"{stem}.txt").write_text(task_text(message, me, DEFAULT_TASK_DAYS, TODAY))
        entry.files.append(("task for a person", f"{stem}.txt"))


# What happened, that a message tells someone about.
News = Outcome | PairAnswer | FollowUp | EndedNews | FeedbackNews | Question
# What a manager might write when closing a round, as plainly as the registry's check asks.
FEEDBACK = (
    "Because of your work, the hospital now books interpreters before the first visit. "
    "Carers now get a named contact on every ward.\n"
    "Two of your ideas are now part of how new staff are trained."
)


def _cases() -> list[tuple[str, LeaderContact, News]]:
    """(kind, person, what happened): each kind of message once, for an awkward person."""
    declined = PairAnswer(round_id="gallery", leader_id="cl-1", partner_id="pl-1")
    cases: list[tuple[str, LeaderContact, News]] = [
        ("paired", LONG, _outcome("pl-1", "paired")),
        ("paired again", ACCENTED, _outcome("pl-2", "paired", pairing_again=True)),
        (
            "paired, through their son",
            LONG.model_copy(update={"contact_method": "via_carer", "proxy": SON}),
            _outcome("pl-1", "paired"),
        ),
        (
            "professional with two partners",
            PROFESSIONAL,
            _outcome("cl-1", "paired", partners=[_partner("pl-1", "K7P4QX"), _partner("pl-2", "M3R8ZT", dt.time(11))]),
        ),
        ("partner said no", ACCENTED, declined),
        ("pairing cancelled", LONG, _outcome("pl-1", "cancelled")),
        ("reminder: no answer yet", LONG, _follow_up(REMINDER)),
        ("pair ended", LONG, _ended("pl-1")),
        ("pair ended, as they asked", PROFESSIONAL, _ended("cl-1")),
        ("what difference the pairs made, when a round closes", LONG, _feedback("pl-1")),
        ("did you meet?", LONG, _question(MET_QUESTION)),
        ("check-in", ACCENTED, _question(CHECK_IN)),
    ]
    for reason_name, reason in UNMATCHED_REASONS.items():
        cases.append((f"not paired: {reason_name}", ACCENTED, _outcome("pl-2", "unmatched", unmatched_reason=reason)))
    return cases


def _follow_up(kind: str) -> FollowUp:
    """A follow-up as the notifier schedules it from pl-1's paired outcome, asked a week before TODAY."""
    event = OutcomePublished(producer="gallery", correlation_id="gallery", data=_outcome("pl-1", "paired"))
    made = follow_ups(event, TODAY - dt.timedelta(days=7), 3)
    return next(d.follow_up.data for d in made if d.follow_up.data.kind == kind)


def _question(kind: str) -> Question:
    """'Did you meet?' or the first check-in, as the notifier schedules it from pl-1's paired outcome."""
    event = OutcomePublished(producer="gallery", correlation_id="gallery", data=_outcome("pl-1", "paired"))
    made = questions_for(event, TODAY - dt.timedelta(days=7))
    return next(d.job.data for d in made if d.job.data.kind == kind and d.job.data.number in (0, 1))


def _ended(told: str) -> EndedNews:
    """cl-1 asked to end their pair with pl-1: pl-1 is told kindly, cl-1 that it is done."""
    ending = PairEnding(round_id="gallery", leader_id="cl-1", partner_id="pl-1", ended_by="leader")
    event = PairEnded(producer="gallery", correlation_id="gallery", data=ending)
    return next(m.data for m in messages_for(event) if m.data.leader_id == told)


def _feedback(told: str) -> FeedbackNews:
    """The manager's words when the round closes, as the notifier makes one person's copy."""
    shared = RoundFeedbackShared(
        producer="gallery",
        correlation_id="gallery",
        data=RoundFeedback(round_id="gallery", leader_ids=[told], message=FEEDBACK, programme=PROGRAMME),
    )
    return feedback_messages(shared)[0].data


def _through_proxy(person: LeaderContact, change: dict) -> dict:
    """For a leader whose messages go to their son: the son's addresses pick the channel, the leader's format stays."""
    method = change.get("contact_method", "email")
    kept = {k: v for k, v in change.items() if k != "contact_method"}
    if method in ("letter", "sms"):
        address: dict[str, str | None] = (
            {"postal_address": "9 Example Road\nGateshead\nNE8 1AA"} if method == "letter" else {"phone": SON.phone}
        )
        kept["proxy"] = SON.model_copy(update={"email": None, "phone": None, **address})
    return kept


def _plan(what: News, me: LeaderContact) -> PlannedMessage:
    if isinstance(what, PairAnswer):
        return plan_partner_declined(what, me, PARTNER, PROGRAMME, TODAY)
    if isinstance(what, FollowUp):
        return plan_follow_up(what, me, CONTACTS[what.partner_id], PROGRAMME)
    if isinstance(what, EndedNews):
        return plan_pair_ended(what, me, CONTACTS[what.partner_id], PROGRAMME)
    if isinstance(what, FeedbackNews):
        return plan_round_feedback(what, me, PROGRAMME)
    if isinstance(what, Question):
        return plan_question(what, me, CONTACTS[what.partner_id], PROGRAMME)
    return plan_message(what, me, CONTACTS | {me.leader_id: me}, PROGRAMME)


def write_gallery(folder: Path) -> Path:
    """Writes every message into `folder` (emptied first) and returns its index.html."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    entries: list[Entry] = []
    for kind, person, what in _cases():
        for format_name, change in FORMATS.items():
            if (
                kind.startswith("not paired")
                and kind != "not paired: manager has not confirmed their time"
                and format_name not in ("easy read email", "text message", "standard email")
            ):
                continue  # every reason in the three commonest formats; one reason in all of them
            if person.proxy and format_name == "task: phone call":
                continue  # their messages go to their son, who is written to
            me = person.model_copy(update=_through_proxy(person, change) if person.proxy else change)
            message = _plan(what, me)
            proxy = me.proxy if message.route.to_proxy else None
            entry = Entry(kind, proxy.name + f" (for {me.name})" if proxy else me.name, format_name)
            to = (
                me.model_copy(
                    update={"name": me.proxy.name, "postal_address": me.proxy.postal_address or "1 Example Road, NE1 1AA"}
                )
                if message.route.to_proxy and me.proxy
                else me
            )
            _write(folder, entry, message, to, _slug(kind, format_name))
            entries.append(entry)
    # A task when contact details never arrived: no name to give.
    event = OutcomePublished(producer="gallery", correlation_id="gallery", data=_outcome("pl-9", "paired"))
    missing = plan_missing_contact_task(
        event, "pl-9", {"pl-9": None, "cl-1": PARTNER}, "we do not have their contact details yet", PROGRAMME
    )
    entry = Entry("paired, contact details missing", "someone whose details never arrived", "task")
    stand_in = LONG.model_copy(update={"leader_id": "pl-9", "name": "unknown"})
    _write(folder, entry, missing, stand_in, "paired-contact-details-missing-task")
    entries.append(entry)
    # The programme team's task when nobody answered: for staff, so one format.
    entry = Entry("no answer by the answer date", "the programme team, about " + LONG.name, "task")
    _write(folder, entry, plan_follow_up(_follow_up(NO_ANSWER), LONG, PARTNER, PROGRAMME), LONG, "no-answer-task")
    entries.append(entry)
    index = folder / "index.html"
    index.write_text(_index(entries))
    return index


def _index(entries: list[Entry]) -> str:
    rows = []
    for kind in dict.fromkeys(e.kind for e in entries):
        rows.append(f"<h2>{html.escape(kind)}</h2>\n<ul>")
        for e in (e for e in entries if e.kind == kind):
            links = ", ".join(f'<a href="{html.escape(name)}">{html.escape(label)}</a>' for label, name in e.files)
            note = f" ({html.escape(e.note)})" if e.note else ""
            rows.append(f"<li><strong>{html.escape(e.format)}</strong> to {html.escape(e.person)}{note}: {links}</li>")
        rows.append("</ul>")
    body = "\n".join(rows)
    return f"""<!DOCTYPE html>
<html lang="en-GB">
<head><meta charset="utf-8"><title>Every message the notifier writes</title>
<style>body {{ font-family: Arial, sans-serif; max-width: 60em; margin: 2em auto; line-height: 1.5; }}</style></head>
<body>
<h1>Every message the notifier writes</h1>
<p>Each kind of message in each format, for made-up people chosen to be awkward: very long and accented names,
a leader whose messages go to their son, British Sign Language, braille, a phone call, and someone whose details
never arrived. Nothing here was sent. Dated {TODAY:%A} {TODAY.day} {TODAY:%B %Y}.</p>
{body}
</body>
</html>
"""
