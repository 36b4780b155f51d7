"""The email as sent is byte for byte what the email package itself makes, after the cheaper build.

`email_message` copies its parts' headers from parts made once, and `email_bytes` (adapters/mime.py)
turns the message into bytes with a cheaper generator. Here each message of the gallery (every kind
of message, in every format, for awkward names), and a few people of a round, is built both ways:
the email package's own (the classes and aiosmtplib's flatten_message, as the notifier sent it
before) and the notifier's; the bytes must be the same. Boundaries are random either way, so both
are drawn from the same seed."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import random
from email import message_from_bytes
from email.header import Header
from email.message import Message
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import default
from email.utils import formataddr, parseaddr

import pytest
from aiosmtplib.email import flatten_message
from notifier_samples import CONTACTS, ME, PAIRED, PROGRAMME_CONTACT, TWO_PARTNERS, UNMATCHED

from services.notifier import gallery
from services.notifier.adapters import channels
from services.notifier.adapters.calendar import invitation_ics
from services.notifier.adapters.mime import email_bytes
from services.notifier.compose import PICTURES, PlannedMessage, picture_cid, plan_message
from services.notifier.domain.messages import one_line, pictures_in

pytestmark = pytest.mark.unit

STAMP = dt.datetime(2027, 1, 12, 9, 30, tzinfo=dt.UTC)
SENDERS = ["Patient leader pairing <pairing@example.nhs.uk>", "Programme team – Tyneside <p@example.org>"]


def package_email(planned: PlannedMessage, sender: str, to: str, key: str) -> Message:
    """The message made with the email package's classes alone, as the notifier made it before."""
    body = MIMEMultipart("alternative")
    body.attach(MIMEText(planned.text, "plain", channels.UTF8))  # type: ignore[arg-type]
    html: Message = MIMEText(planned.html, "html", channels.UTF8)  # type: ignore[arg-type]
    if pictures := pictures_in(planned.blocks):
        related = MIMEMultipart("related")
        related.attach(html)
        for name in pictures:
            image = MIMEImage((PICTURES / f"{name}.png").read_bytes(), "png")
            image.add_header("Content-ID", f"<{picture_cid(name)}>")
            image.add_header("Content-Disposition", "inline", filename=f"{name}.png")
            related.attach(image)
        html = related
    body.attach(html)
    message: Message = body
    if planned.meetings:
        ics = invitation_ics(planned.meetings, planned.round_id, planned.leader_id, STAMP)
        invitation = MIMEText(ics.decode(), "calendar", channels.UTF8)  # type: ignore[arg-type]
        invitation.set_param("method", "PUBLISH")
        invitation.add_header("Content-Disposition", "attachment", filename="first-meeting.ics")
        message = MIMEMultipart("mixed")
        message.attach(body)
        message.attach(invitation)
    message["From"] = formataddr(parseaddr(sender))
    message["To"] = to
    message["Subject"] = planned.subject if planned.subject.isascii() else Header(planned.subject, "utf-8")  # type: ignore[assignment]
    message["Date"] = "Tue, 12 Jan 2027 09:30:00 -0000"
    message["Message-ID"] = channels.message_id(key)
    message["X-Pairing-Key"] = key
    return message


def both_ways(planned: PlannedMessage, sender: str, to: str, key: str, seed: int) -> tuple[bytes, bytes]:
    ours = channels.email_message(planned, sender, to, key, stamp=STAMP)
    ours.replace_header("Date", "Tue, 12 Jan 2027 09:30:00 -0000")
    random.seed(seed)
    theirs = flatten_message(package_email(planned, sender, to, key))
    random.seed(seed)
    return theirs, email_bytes(ours)


def gallery_messages() -> list[tuple[str, PlannedMessage]]:
    """Every kind of message, in every format that is sent as written words, as the gallery shows them."""
    made = []
    for kind, person, what in gallery._cases():
        for format_name, change in gallery.FORMATS.items():
            me = person.model_copy(update=gallery._through_proxy(person, change) if person.proxy else change)
            made.append((f"{kind}, {format_name}", gallery._plan(what, me)))
    return made


@pytest.mark.parametrize("sender", SENDERS)
def test_every_message_of_the_gallery_is_the_same_bytes_as_the_email_package_makes(sender):
    messages = gallery_messages()
    assert any(m.meetings for _, m in messages) and any(pictures_in(m.blocks) for _, m in messages)
    for seed, (name, planned) in enumerate(messages):
        theirs, ours = both_ways(planned, sender, "siobhan@example.org", f"e{seed}:pl-1:email", seed)
        assert ours == theirs, name


def test_people_of_a_round_get_the_same_bytes_and_read_the_same_words():
    people = [
        ME,
        ME.model_copy(update={"name": "Zoë Ó Briain-Ngata, who has a very long name indeed for a header"}),
        ME.model_copy(update={"information_format": "easy_read"}),
        ME.model_copy(update={"information_format": "large_print_20"}),
    ]
    subjects = []
    for seed, (me, outcome) in enumerate((m, o) for m in people for o in (PAIRED, TWO_PARTNERS, UNMATCHED)):
        planned = plan_message(outcome, me, CONTACTS, PROGRAMME_CONTACT)
        if seed % 2:  # as a message for someone's named person reads: their name in the subject
            planned = dataclasses.replace(planned, subject=f"A message for {one_line(me.name)}: {planned.subject}")
        theirs, ours = both_ways(planned, SENDERS[1], "amira@example.org", f"e{seed}:{me.leader_id}:email", seed)
        assert ours == theirs
        subjects.append(planned.subject)
        # Read back, the words are the planned ones.
        email = message_from_bytes(ours, policy=default)
        assert email["Subject"] == planned.subject
        assert email.get_body(("plain",)).get_content() == planned.text
        assert email.get_body(("html",)).get_content() == planned.html
    assert any(not subject.isascii() for subject in subjects), "a subject beyond plain ASCII is encoded the same way"


def test_a_part_of_one_message_is_its_own():
    planned = plan_message(PAIRED, ME.model_copy(update={"information_format": "easy_read"}), CONTACTS, PROGRAMME_CONTACT)
    first = channels.email_message(planned, SENDERS[0], "amira@example.org", "k1")
    second = channels.email_message(planned, SENDERS[0], "amira@example.org", "k2")
    for part in first.walk():
        part["X-Changed"] = "only here"
    assert all(part["X-Changed"] is None for part in second.walk())
    # And the bytes of one message do not depend on another having been turned into bytes first.
    random.seed(3)
    alone = email_bytes(copy.deepcopy(second))
    email_bytes(first)
    random.seed(3)
    assert email_bytes(second) == alone
