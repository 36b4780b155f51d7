import dataclasses
import datetime as dt
import zoneinfo
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import icalendar
import pytest
from notifier_samples import CONTACTS, ME, PAIRED, PARTNER, PROGRAMME_CONTACT, TWO_PARTNERS, UNMATCHED
from reportlab.platypus import Paragraph

from services.notifier.adapters import mime
from services.notifier.adapters.calendar import invitation_ics, meeting_uid
from services.notifier.adapters.channels import (
    CannotUseChannel,
    FileSmsChannel,
    PersonTaskChannel,
    PrintQueueChannel,
    SmtpChannel,
    flat_email,
)
from services.notifier.adapters.letters import letter_story
from services.notifier.compose import plan_message

pytestmark = pytest.mark.unit

LETTER = {"contact_method": "letter", "postal_address": "1 Example Street\nNewcastle upon Tyne, NE1 1AA"}
PHONE = {"contact_method": "sms", "phone": "07700 900123"}


def plan(outcome=PAIRED, me=ME, **change):
    me = me.model_copy(update=change)
    return plan_message(outcome, me, CONTACTS, PROGRAMME_CONTACT), me


def received(email: bytes) -> EmailMessage:
    """The email as the server receives it: its bytes, read back."""
    return message_from_bytes(email, policy=default)


def test_an_email_has_plain_text_html_and_the_suggested_meeting_as_a_calendar_file():
    message, _ = plan()
    email = received(flat_email(message, "Programme <p@example.org>", "amira@example.org", "e1:pl-1:email"))
    types = [part.get_content_type() for part in email.walk()]
    assert types == ["multipart/mixed", "multipart/alternative", "text/plain", "text/html", "text/calendar"]
    assert email["Message-ID"] == "<e1.pl-1.email@pairing.local>", "the same message always has the same id"
    (attachment,) = email.iter_attachments()
    assert attachment.get_filename() == "first-meeting.ics"
    calendar = icalendar.Calendar.from_ical(attachment.get_content())
    assert str(calendar["method"]) == "PUBLISH"
    (event,) = calendar.walk("VEVENT")
    start = event.decoded("dtstart")
    assert start == dt.datetime(2027, 1, 12, 10, tzinfo=zoneinfo.ZoneInfo("Europe/London"))
    assert "TZID=Europe/London" in str(attachment.get_content())
    assert event.decoded("dtend") - start == dt.timedelta(hours=1)
    assert str(event["status"]) == "TENTATIVE" and "suggested" in str(event["summary"])
    assert calendar.walk("VTIMEZONE"), "calendar programs need the time zone rules"


def test_both_people_in_a_pair_get_the_same_calendar_entry_id():
    assert meeting_uid("r1", "pl-1", "cl-1") == meeting_uid("r1", "cl-1", "pl-1")


def test_two_partners_give_two_calendar_entries_and_no_meeting_gives_no_file():
    message, _ = plan(TWO_PARTNERS, PARTNER, email="ben@example.org")
    ics = invitation_ics(message.meetings, "r1", "cl-1", dt.datetime(2026, 12, 15, tzinfo=dt.UTC))
    assert len(icalendar.Calendar.from_ical(ics).walk("VEVENT")) == 2
    unmatched, _ = plan(UNMATCHED)
    email = received(flat_email(unmatched, "p@example.org", "amira@example.org", "e2:pl-1:email"))
    assert not list(email.iter_attachments())


async def test_a_text_message_is_written_to_one_file_and_a_second_try_replaces_it(tmp_path):
    message, me = plan(**PHONE)
    channel = FileSmsChannel(tmp_path / "sms")
    detail = await channel.send(message, me, "e1:pl-1:sms")
    await channel.send(message, me, "e1:pl-1:sms")
    (path,) = (tmp_path / "sms").iterdir()
    assert path.name == "e1_pl-1_sms.txt" and path.name in detail and "no SMS gateway" in detail
    body = path.read_text()
    assert body.startswith("To: 07700 900123\n\n") and "answer=accept" in body


async def test_a_letter_goes_to_the_print_queue_as_a_pdf(tmp_path):
    message, me = plan(**LETTER, information_format="large_print_28")
    detail = await PrintQueueChannel(tmp_path / "letters").send(message, me, "e1:pl-1:letter")
    (path,) = (tmp_path / "letters").iterdir()
    pdf = path.read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert pdf.count(b"/Type /Page\n") > 1, "28 point needs more than one page"
    assert "print queue" in detail and "printed and posted" in detail


@pytest.mark.parametrize(
    ("format_", "points"), [("standard", 12), ("large_print_20", 20), ("large_print_28", 28), ("easy_read", 16)]
)
def test_a_letter_is_addressed_dated_and_set_in_the_size_asked_for(format_, points):
    message, me = plan(**LETTER, information_format=format_)
    story = [f for f in letter_story(message, me, dt.date(2026, 12, 15)) if isinstance(f, Paragraph)]
    texts = [p.getPlainText() for p in story]
    assert "found you a partner" in texts[0], "the address and date are drawn in their places on the page"
    body = [p for p in story if p.style.name == "p"]  # the reply slip is kept together as one piece, apart
    assert {p.style.fontSize for p in body} == {points}
    headings = [p for p in story if p.style.name in ("h1", "h2", "h3")]
    assert all(h.style.fontSize > points for h in headings)
    # On paper a link is typed, so the whole address is printed.
    assert any("https://pl.example.uk/r/cl1?answer=accept" in t for t in texts)


async def test_a_letter_the_font_cannot_show_goes_to_a_person_rather_than_print_with_gaps(tmp_path):
    message, me = plan(**LETTER, name="王芳")
    with pytest.raises(CannotUseChannel, match="cannot show"):
        await PrintQueueChannel(tmp_path).send(message, me, "e1:pl-1:letter")
    assert not list(tmp_path.glob("*.pdf"))


async def test_a_task_for_a_person_says_why_and_holds_the_words_to_use(tmp_path):
    message, me = plan(information_format="braille")
    detail = await PersonTaskChannel(tmp_path).send(message, me, "e1:pl-1:person")
    (path,) = tmp_path.iterdir()
    body = path.read_text()
    assert "needs the message in braille" in body and "needs the message in braille" in detail
    assert "Dear Amira Ahmed" in body


async def test_email_without_an_address_cannot_be_sent():
    message, me = plan(email=None)
    with pytest.raises(CannotUseChannel):
        await SmtpChannel("127.0.0.1", 1, 1).send(message, me, "k")


async def test_a_task_about_someone_whose_details_we_lack_quotes_no_name_or_format(tmp_path):
    from schemas.events import OutcomePublished
    from services.notifier.compose import plan_missing_contact_task

    event = OutcomePublished(producer="test", correlation_id="r1", data=PAIRED)
    message = plan_missing_contact_task(
        event, "pl-1", {"pl-1": None, "cl-1": PARTNER}, "we do not have their contact details yet", PROGRAMME_CONTACT
    )
    stand_in = ME.model_copy(update={"name": "leader pl-1"})
    detail = await PersonTaskChannel(tmp_path).send(message, stand_in, "e1:pl-1:person")
    body = next(tmp_path.iterdir()).read_text()
    assert body.startswith("Message to pass on\n\nWhat to do: please get the message below to the person it is for.")
    assert "Why a person is needed: we do not have their contact details yet." in body
    assert "Format they asked for" not in body and "We have found them a partner: Ben Bell." in body
    assert "leader pl-1" not in body and "cl-1" not in body and "registry" not in body and "http" not in body
    assert "they can call Priya Shah on 0113 496 0123, quoting reference K7P-CL1" in body
    assert detail.startswith("we do not have their contact details yet; task written to")


def test_an_email_reads_back_whole_with_names_beyond_plain_ascii():
    message, _ = plan()
    message = dataclasses.replace(message, subject="Zoë, we have found you a partner", text="Dear Zoë,\n" + "x " * 600)
    email = received(flat_email(message, "Programme team – Tyneside <p@example.org>", "zoe@example.org", "e3:pl-1:email"))
    assert email["Subject"] == "Zoë, we have found you a partner"
    assert email["From"].addresses[0].display_name == "Programme team – Tyneside"
    assert email.get_body(preferencelist=("plain",)).get_content() == message.text
    assert email.get_body(preferencelist=("html",)).get_content() == message.html


def test_an_emails_address_and_subject_are_not_kept_in_memory_after_it_is_written():
    """Folded header lines are kept for reuse (adapters/mime.py), but not a person's address or a subject
    that may name them: an erased person's details would stay in the process until pushed out."""
    message, _ = plan()
    flat_email(message, "p@example.org", "z@example.org", "k")  # the lines every email shares, kept first
    before = mime._folded.cache_info().currsize
    named = dataclasses.replace(message, subject="A message for Siobhan O'Brien-Example: " + "a partner " * 8)
    address = "siobhan.o'brien-" + "x" * 50 + "@example.nhs.uk"  # long, and quoted: folded, not written as it is
    flat_email(named, "p@example.org", address, "e3:pl-1:email")
    assert mime._folded.cache_info().currsize == before
    assert not hasattr(mime.utf8_header_line, "cache_info"), "a subject beyond plain ASCII (a name) is not kept either"
