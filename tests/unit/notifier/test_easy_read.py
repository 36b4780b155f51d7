"""Easy read is easy read: a picture beside each point (OpenMoji, credited), in the email itself and in
letters, at least 16 point, times as people say them, dates in full, reasons in easy words."""

import datetime as dt
from email import message_from_bytes
from email.policy import default

import pypdfium2 as pdfium
import pytest
from notifier_samples import CONTACTS, ME, PAIRED, PROGRAMME_CONTACT, UNMATCHED

from services.notifier.adapters.channels import flat_email
from services.notifier.adapters.letters import letter_pdf
from services.notifier.compose import PICTURES, plan_message
from services.notifier.domain.messages import pictures_in
from services.notifier.domain.wording import easy_pair_reason

pytestmark = pytest.mark.unit

EASY = ME.model_copy(update={"information_format": "easy_read"})


def test_every_picture_the_templates_use_is_in_the_folder_with_its_licence():
    used = set()
    for outcome in (PAIRED, UNMATCHED):
        for channel in ({}, {"contact_method": "letter", "postal_address": "1 Street, Leeds"}):
            used |= set(pictures_in(plan_message(outcome, EASY.model_copy(update=channel), CONTACTS, PROGRAMME_CONTACT).blocks))
    assert len(used) >= 10
    assert all((PICTURES / f"{name}.png").read_bytes().startswith(b"\x89PNG") for name in used)
    licence = (PICTURES / "LICENCE.md").read_text()
    assert "OpenMoji" in licence and "CC BY-SA 4.0" in licence


def test_each_section_of_an_easy_read_message_has_a_picture():
    blocks = plan_message(PAIRED, EASY, CONTACTS, PROGRAMME_CONTACT).blocks
    headings = [b for b in blocks if b.kind in ("h2", "h3") and not b.text.startswith(("Your partner", "Partner"))]
    assert headings and all(b.picture for b in headings)


def test_the_pictures_travel_inside_the_email_and_the_licence_is_credited():
    message = plan_message(PAIRED, EASY, CONTACTS, PROGRAMME_CONTACT)
    email = message_from_bytes(flat_email(message, "p@example.org", "a@example.org", "k"), policy=default)
    types = [part.get_content_type() for part in email.walk()]
    assert "multipart/related" in types and types.count("image/png") == len(pictures_in(message.blocks))
    html = email.get_body(preferencelist=("html",)).get_content()
    for part in email.walk():
        if part.get_content_type() == "image/png":
            assert f'src="cid:{part["Content-ID"].strip("<>")}"' in html, "each picture is shown by its Content-ID"
    assert "OpenMoji" in html and "Creative Commons" in html and "font-size: 16pt" in html


def test_a_standard_email_has_no_pictures():
    message = plan_message(PAIRED, ME, CONTACTS, PROGRAMME_CONTACT)
    assert not pictures_in(message.blocks) and "OpenMoji" not in message.html


def test_an_easy_read_letter_shows_the_pictures_and_credits_them():
    me = EASY.model_copy(update={"contact_method": "letter", "postal_address": "1 Street, Leeds, LS1 1AA"})
    message = plan_message(PAIRED, me, CONTACTS, PROGRAMME_CONTACT)
    document = pdfium.PdfDocument(letter_pdf(message, me, dt.date(2026, 12, 15)))
    images = sum(1 for page in document for obj in page.get_objects() if obj.type == pdfium.raw.FPDF_PAGEOBJ_IMAGE)
    assert images >= len([b for b in message.blocks if b.picture])
    words = "".join(page.get_textpage().get_text_range() for page in document)
    assert "OpenMoji" in words


def test_easy_read_says_times_as_people_say_them_and_dates_in_full():
    text = plan_message(PAIRED, EASY, CONTACTS, PROGRAMME_CONTACT).text
    assert "Tuesday, 10 in the morning to half past 12 in the afternoon" in text
    assert "Tuesday 12 January 2027, from 10 to 11 in the morning" in text
    assert "by Tuesday 5 January 2027" in text
    assert "calendar file" not in text


@pytest.mark.parametrize(
    ("reason", "easy"),
    [
        (
            "One of you is new to this kind of work and the other has done it before.",
            "One of you has done this before. The other is new to it.",
        ),
        ("You are both free on Tuesday 10:00 to 12:30.", "You are both free at the same times."),
        ("You can meet by video or in person (about 5 miles apart).", "You can meet in a way that suits you both."),
        ("You can both attend every required session.", "You can both come to the group meetings."),
        ("You both care about cardiac and discharge.", "You both care about cardiac and discharge."),
    ],
)
def test_the_reasons_for_a_pair_are_in_easy_words(reason, easy):
    assert easy_pair_reason(reason) == easy
