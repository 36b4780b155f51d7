"""Letters fit a window envelope (GOV.UK Notify's letter specification), carry the return address,
the date, the reference and page numbers, and end with a reply slip when they ask for an answer.
Checked on the PDF itself, read back with pypdfium2."""

import datetime as dt

import pypdfium2 as pdfium
import pytest
from notifier_samples import CONTACTS, ME, PAIRED, PARTNER, PROGRAMME_CONTACT, TWO_PARTNERS, UNMATCHED
from reportlab.lib.units import mm

from services.notifier.adapters import letters
from services.notifier.adapters.letters import letter_pdf
from services.notifier.compose import plan_message

pytestmark = pytest.mark.unit

A4_HEIGHT = 297 * mm
ADDRESS = "Flat 3, 12 Long Road Name\nSome Village\nNewcastle upon Tyne\nNE1 1AA"
DATED = dt.date(2026, 12, 15)


def pdf_of(outcome=PAIRED, me=ME, **change):
    me = me.model_copy(update={"contact_method": "letter", "postal_address": ADDRESS, **change})
    return pdfium.PdfDocument(letter_pdf(plan_message(outcome, me, CONTACTS, PROGRAMME_CONTACT), me, DATED))


def text_in(page, left_mm, top_mm, right_mm, bottom_mm) -> str:
    """The words inside a box given in millimetres from the page's left and top edges."""
    return page.get_textpage().get_text_bounded(left_mm * mm, A4_HEIGHT - bottom_mm * mm, right_mm * mm, A4_HEIGHT - top_mm * mm)


def test_the_recipients_address_is_in_the_envelope_window_and_nothing_else_is():
    first = pdf_of()[0]
    window = text_in(first, letters.ADDRESS_LEFT, letters.ADDRESS_TOP, letters.ADDRESS_RIGHT, letters.ADDRESS_BOTTOM)
    assert window.split() == [
        "Amira",
        "Ahmed",
        "Flat",
        "3",
        "12",
        "Long",
        "Road",
        "Name",
        "Some",
        "Village",
        "Newcastle",
        "upon",
        "Tyne",
        "NE1",
        "1AA",
    ]


def test_a_long_name_and_address_stay_inside_the_window():
    long_name = "Maximilian Alexander Featherstonehaugh-Wolstenholme"
    address = "Flat 4, Greystoke House\n27 Westgate Road Business and Innovation Quarter East\nNewcastle upon Tyne\nNE1 1SA"
    first = pdf_of(name=long_name, postal_address=address)[0]
    window = text_in(first, letters.ADDRESS_LEFT, letters.ADDRESS_TOP, letters.ADDRESS_RIGHT, letters.ADDRESS_BOTTOM)
    outside_right = text_in(first, letters.ADDRESS_RIGHT, letters.ADDRESS_TOP, letters.RETURN_LEFT - 1, letters.ADDRESS_BOTTOM)
    assert "".join(window.split()).startswith("".join(long_name.split()))
    assert "Business and Innovation Quarter East".replace(" ", "") in "".join(window.split())
    assert outside_right.strip() == ""


def test_the_return_address_date_and_reference_are_top_right_above_the_body():
    first = pdf_of()[0]
    corner = text_in(first, letters.RETURN_LEFT, letters.TOP_BORDER, 210 - letters.SIDE_BORDER, letters.RETURN_BOTTOM)
    for expected in ("1 Example Street", "LS1 1AA", "0113 496 0123", "Tuesday 15 December 2026", "Your reference: K7P-CL1"):
        assert expected in corner
    above_body = text_in(first, 0, 0, 210, letters.BODY_TOP)
    assert "Dear Amira Ahmed" not in above_body, "the letter's words start below 95 mm"


@pytest.mark.parametrize("format_", ["standard", "large_print_28", "easy_read"])
def test_every_page_says_which_page_of_how_many_and_nothing_is_printed_in_the_borders(format_):
    document = pdf_of(TWO_PARTNERS, PARTNER, information_format=format_)
    total = len(document)
    for number, page in enumerate(document, start=1):
        assert f"Page {number} of {total}" in page.get_textpage().get_text_range()
        assert text_in(page, 0, 0, letters.SIDE_BORDER, 297).strip() == "", "nothing in the left border"
        assert text_in(page, 210 - letters.SIDE_BORDER, 0, 210, 297).strip() == "", "nothing in the right border"


def test_a_letter_that_asks_for_an_answer_ends_with_a_reply_slip_on_one_page():
    document = pdf_of(TWO_PARTNERS, PARTNER, information_format="large_print_28")
    last = document[len(document) - 1].get_textpage().get_text_range()
    for expected in (
        "Reply slip",
        "Amira Ahmed",
        "Chloe Carter",
        "Yes",
        "No",
        "Your name: Ben Bell",
        "K7P-PL1, K7P-CR2",
        "1 Example Street",
    ):
        assert expected in last
    assert "freepost" not in last.lower() and "no stamp" not in last.lower()
    assert "You will need a stamp" in last, "no freepost is set up, so it never says no stamp is needed"


def test_a_letter_with_no_answer_to_give_has_no_reply_slip():
    document = pdf_of(UNMATCHED)
    assert all("Reply slip" not in page.get_textpage().get_text_range() for page in document)


def test_a_large_print_letter_body_is_set_at_the_recorded_size():
    standard, large = len(pdf_of()), len(pdf_of(information_format="large_print_28"))
    assert large > 2 * standard
