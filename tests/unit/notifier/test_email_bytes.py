"""The email as sent is byte for byte what the email package itself makes.

`flat_email` writes each email as bytes directly (adapters/mime.py), with no message objects. Here
each message of the gallery (every kind of message, in every format, for awkward names), and a few
people of a round, is made both ways: the email package's own (its classes and aiosmtplib's
flatten_message, as the notifier sent it before) and the notifier's; the bytes must be the same.
Boundaries are random either way, so both are drawn from the same seed. The pieces it is written
with (quoted-printable text, headers) are compared with the email package's for awkward input too."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import uuid
from email import message_from_bytes
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import Compat32, default
from email.utils import formataddr, parseaddr

import pytest
from aiosmtplib.email import flatten_message
from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings
from notifier_samples import CONTACTS, ME, PAIRED, PROGRAMME_CONTACT, TWO_PARTNERS, UNMATCHED

from services.notifier import gallery
from services.notifier.adapters import channels
from services.notifier.adapters.calendar import invitation_ics
from services.notifier.adapters.mime import header_line, quoted_printable, text_part
from services.notifier.compose import PICTURES, PlannedMessage, picture_cid, plan_message
from services.notifier.domain.messages import one_line, pictures_in

pytestmark = pytest.mark.unit

STAMP = dt.datetime(2027, 1, 12, 9, 30, tzinfo=dt.UTC)
SENDERS = ["Patient leader pairing <pairing@example.nhs.uk>", "Programme team – Tyneside <p@example.org>"]


# Quoted-printable UTF-8, as the notifier's text parts always were.
UTF8 = Charset("utf-8")
UTF8.body_encoding = QP


def package_text(text: str, subtype: str) -> MIMEText:
    part = MIMEText(text, subtype, UTF8)  # type: ignore[arg-type]  # typeshed allows only a name; the email package takes a Charset too
    if subtype == "calendar":
        part.set_param("method", "PUBLISH")
        part.add_header("Content-Disposition", "attachment", filename="first-meeting.ics")
    return part


def package_email(planned: PlannedMessage, sender: str, to: str, key: str) -> Message:
    """The message made with the email package's classes alone, as the notifier made it before."""
    body = MIMEMultipart("alternative")
    body.attach(package_text(planned.text, "plain"))
    html: Message = package_text(planned.html, "html")
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
        message = MIMEMultipart("mixed")
        message.attach(body)
        message.attach(package_text(ics.decode(), "calendar"))
    message["From"] = formataddr(parseaddr(sender))
    message["To"] = to
    message["Subject"] = planned.subject if planned.subject.isascii() else Header(planned.subject, "utf-8")  # type: ignore[assignment]
    message["Date"] = "Tue, 12 Jan 2027 09:30:00 -0000"
    message["Message-ID"] = channels.message_id(key)
    message["X-Pairing-Key"] = key
    return message


def both_ways(planned: PlannedMessage, sender: str, to: str, key: str, seed: int) -> tuple[bytes, bytes]:
    random.seed(seed)
    theirs = flatten_message(package_email(planned, sender, to, key))
    random.seed(seed)
    return theirs, channels.flat_email(planned, sender, to, key, stamp=STAMP)


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


def test_a_message_does_not_depend_on_the_messages_written_before_it():
    planned = plan_message(PAIRED, ME.model_copy(update={"information_format": "easy_read"}), CONTACTS, PROGRAMME_CONTACT)
    random.seed(3)
    alone = channels.flat_email(planned, SENDERS[0], "amira@example.org", "k2", stamp=STAMP)
    channels.flat_email(planned, SENDERS[1], "other@example.org", "k1", stamp=STAMP)
    random.seed(3)
    assert channels.flat_email(planned, SENDERS[0], "amira@example.org", "k2", stamp=STAMP) == alone


AWKWARD_TEXT = [
    "",
    "\n",
    "plain",
    "a=b\n=\n==",
    "x" * 74 + "=" + "y" * 10,  # an "=3D" where a line must break
    "x" * 73 + "=" + "y" * 10,
    "x" * 75 + "é" + "y" * 10,
    "ends in a space \nand a tab\t\n" + "z" * 74 + " \n" + "z" * 75 + " \n" + "z" * 76 + "\t",
    "From the start\nFrom here on\n From not here",
    "Zoë Ó Briain-Ngata 李小龍 🙂 – “quotes” \x00\x07\x0b\x0c\x1b\x7f\u0085\u2028 end",
    "windows\r\nline\rendings\r\n",
    "plain ASCII with control characters: \x00 \x07 \x0b \x0c \x1b \x7f=",
]


def test_text_is_quoted_printable_as_the_email_package_writes_it():
    chooser = random.Random(5)
    alphabets = ("ab =\t\né李🙂\r\x85", "ab =\t\n\x00\x1b\x7f")  # beyond ASCII, and plain ASCII with control characters
    texts = AWKWARD_TEXT + ["".join(chooser.choice(alphabets[n % 2]) for _ in range(n)) for n in range(1, 400, 3)]
    for text in texts:
        assert quoted_printable(text) == (UTF8.body_encode(text.encode("utf-8")) if text else ""), repr(text)
        for subtype in ("plain", "html", "calendar"):
            assert text_part(text, subtype) == flatten_message(package_text(text, subtype)), (subtype, repr(text))


def test_headers_are_folded_as_the_email_package_folds_them():
    chooser = random.Random(9)
    values = [
        "a@example.org",
        "zoë@example.org",
        "Zoë <z@example.org>",
        "",
        " leading",
        "trailing ",
        "two  spaces",
        "tab\there",
        "x" * 74,
        "x" * 75,
        "x" * 200,
    ]
    values += [" ".join("y" * chooser.randint(1, 12) for _ in range(chooser.randint(1, 12))) for _ in range(300)]
    # Long single words, as a Message-ID is; some with a character compat32 may fold at (";", "," or a space).
    word = "abcXYZ019.-<>@_:=/+;, ?"
    values += [
        "".join(chooser.choice(word[: chooser.choice((-4, -3, len(word)))]) for _ in range(chooser.randint(1, 200)))
        for _ in range(600)
    ]
    values += [channels.message_id(f"{uuid.UUID(int=chooser.getrandbits(128))}:pl-{n}-abcdef:email") for n in range(100)]
    for value in values:
        for name in ("To", "Subject", "X-Pairing-Key", "Message-ID"):
            for kept in (True, False):
                assert header_line(name, value, kept) == Compat32().fold_binary(name, value), (name, value)


def test_a_message_s_size_is_counted_as_aiosmtplib_counts_it():
    planned = plan_message(PAIRED, ME, CONTACTS, PROGRAMME_CONTACT)
    email = channels.flat_email(planned, SENDERS[0], "amira@example.org", "k1", stamp=STAMP)
    assert b"\r" not in email, "the notifier's own emails have only line feeds: counted directly"
    for data in (email, email[:-1], b"", b"a", b"\n", b"a\r\nb\rc\n", email + b"\r", email.replace(b"\n", b"\r\n")):
        assert channels.sent_size(data) == len(normalize_message_line_endings(data)), data[-20:]


def test_a_message_is_sent_in_data_as_aiosmtplib_sends_it():
    """send_data's own bytes for DATA (no carriage return in the message) are aiosmtplib's execute_data_command's."""
    planned = plan_message(PAIRED, ME, CONTACTS, PROGRAMME_CONTACT)
    email = channels.flat_email(planned, SENDERS[0], "amira@example.org", "k1", stamp=STAMP)
    chooser = random.Random(5)
    made = ["".join(chooser.choice(".\na ") for _ in range(chooser.randint(0, 30))).encode() for _ in range(2000)]
    for data in (email, email[:-1], b"", b".", b"\n", b".a\n.b\n..c\n.", email + b".\n.", b"." + email, *made):
        theirs = PERIOD_REGEX.sub(b"..", normalize_message_line_endings(data)) + b".\r\n"
        assert channels.data_payload(data) == theirs, data[-20:]
