"""Printable letters (PDF), standard, large print or easy read, for posting in a window envelope.

The layout follows GOV.UK Notify's letter specification (the rules its printers check):
the recipient's address inside the window area, 24.6 mm to 120 mm from the left and 39.5 mm to
66.3 mm from the top; the sender's (return) address in the top right, from 125 mm from the left,
above 95 mm; the letter's words from 95 mm down on the first page; nothing within 15 mm of the
sides or 5 mm of the top and bottom. Every page says "Page 1 of 2"; a letter that asks for an
answer ends with a reply slip to tick and post back.

Uses the Bitstream Vera fonts that ship inside reportlab, so letters look the same on every machine
and need no system fonts. A letter whose words hold a character those fonts cannot show is not
printed with gaps: it goes to a person.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import reportlab
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    Image,
    KeepTogether,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from schemas.events import LeaderContact
from services.notifier.compose import PICTURE_CREDIT, PICTURES, PlannedMessage
from services.notifier.domain.messages import pictures_in
from services.notifier.domain.wording import Contact, full_date

FONT_DIR = Path(reportlab.__file__).resolve().parent / "fonts"
REGULAR, BOLD = "PairingVera", "PairingVera-Bold"

# GOV.UK Notify's letter specification, in millimetres from the page's left or top edge.
ADDRESS_LEFT, ADDRESS_RIGHT = 24.6, 120.0
ADDRESS_TOP, ADDRESS_BOTTOM = 39.5, 66.3
RETURN_LEFT, RETURN_BOTTOM = 125.0, 95.0
BODY_TOP = 95.0
SIDE_BORDER, TOP_BORDER = 15.0, 5.0
# The words sit a little inside the printable area.
MARGIN = 20.0
ADDRESS_POINTS, ADDRESS_MAX_LINES = 10, 7
SLIP_MAX_POINTS = 22


class LetterCannotBeMade(Exception):
    """The letter cannot be printed faithfully; a person must send it."""


def _fonts() -> set[int]:
    """Registers the fonts once; returns the characters they can show."""
    if REGULAR not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(REGULAR, str(FONT_DIR / "Vera.ttf")))
        pdfmetrics.registerFont(TTFont(BOLD, str(FONT_DIR / "VeraBd.ttf")))
        pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=REGULAR, boldItalic=BOLD)
    regular = pdfmetrics.getFont(REGULAR).face.charToGlyph  # type: ignore[attr-defined]  # reportlab's stubs leave out a TrueType font's face
    bold = pdfmetrics.getFont(BOLD).face.charToGlyph  # type: ignore[attr-defined]  # reportlab's stubs leave out a TrueType font's face
    return set(regular) & set(bold)


def _styles(points: int) -> dict[str, ParagraphStyle]:
    # Left aligned, 1.5 line spacing, headings bold and larger: what large print guidance asks for.
    body = ParagraphStyle("p", fontName=REGULAR, fontSize=points, leading=points * 1.5, spaceAfter=points * 0.6)
    return {
        "p": body,
        "h1": ParagraphStyle("h1", parent=body, fontName=BOLD, fontSize=points * 1.5, leading=points * 1.9, spaceAfter=points),
        "h2": ParagraphStyle("h2", parent=body, fontName=BOLD, fontSize=points * 1.3, leading=points * 1.7, spaceBefore=points),
        "h3": ParagraphStyle(
            "h3", parent=body, fontName=BOLD, fontSize=points * 1.1, leading=points * 1.5, spaceBefore=points * 0.6
        ),
        "li": ParagraphStyle("li", parent=body, leftIndent=points * 1.5, bulletIndent=points * 0.3, spaceAfter=points * 0.3),
    }


def address_lines(contact: LeaderContact) -> list[str]:
    raw = (contact.postal_address or "").replace("\n", ",")
    return [contact.name] + [part.strip() for part in raw.split(",") if part.strip()]


def return_lines(contact: Contact | None) -> list[str]:
    """The programme's name and address, then how to call or email it."""
    if contact is None:
        return []
    lines = [*contact.postal_lines]
    if contact.phone:
        lines.append(f"Phone: {contact.phone}")
    if contact.email:
        lines.append(f"Email: {contact.email}")
    return lines


def references(message: PlannedMessage) -> str:
    return ", ".join(ref for _, ref in message.answers if ref)


def letter_story(message: PlannedMessage, to: LeaderContact, dated: dt.date) -> list[Flowable]:
    """The letter's words in order (the address, return address and date are drawn on the first page),
    then the reply slip when the letter asks for an answer."""
    _fonts()  # its styles name the fonts, so they must be registered before its first letter
    styles = _styles(message.route.font_points)
    story: list[Flowable] = [NextPageTemplate("later")]
    for block in message.blocks:
        if block.kind == "li" and not block.picture:
            words = Paragraph(escape(block.text), styles["li"], bulletText="\u2022")
        elif block.kind == "link":
            # On paper a link must be typed, so the address is printed in full.
            words = Paragraph(f"<b>{escape(block.text)}:</b><br/>{escape(block.url)}", styles["p"])
        else:
            words = Paragraph(escape(block.text), styles["p" if block.kind == "li" else block.kind])
        story.append(beside_picture(block.picture, words, styles["p"].fontSize) if block.picture else words)
    if pictures_in(message.blocks):
        story.append(
            Paragraph(
                escape(PICTURE_CREDIT), ParagraphStyle("credit", parent=styles["p"], fontSize=9, leading=12, spaceBefore=12)
            )
        )
    if message.answers:
        # The slip is one page to post back: at the largest print sizes it is set a little smaller to fit.
        story += [PageBreak(), *reply_slip(message, to, _styles(min(message.route.font_points, SLIP_MAX_POINTS)))]
    return story


def beside_picture(name: str, words: Flowable, points: float) -> Flowable:
    """Easy read: the picture on the left, the words on its right."""
    side = max(points * 2.6, 14 * mm)
    picture = Image(str(PICTURES / f"{name}.png"), width=side, height=side)
    table = Table([[picture, words]], colWidths=[side + points * 0.8, None], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), points * 0.4),
            ]
        )
    )
    return table


def reply_slip(message: PlannedMessage, to: LeaderContact, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    """A page to tick and post back: yes or no for each partner, their name, the reference, where to send it."""
    points = styles["p"].fontSize
    rows: list[list[Any]] = []
    boxes: list[Any] = []  # reportlab's table commands: tuples of mixed kinds
    for i, (name, _) in enumerate(message.answers):
        rows += [
            [Paragraph(f"<b>{escape(name)}</b>", styles["p"]), "", "", "", ""],
            ["", "", Paragraph("Yes", styles["p"]), "", Paragraph("No", styles["p"])],
        ]
        # An empty box to tick before each answer.
        boxes += [
            ("SPAN", (0, 2 * i), (-1, 2 * i)),
            ("BOX", (1, 2 * i + 1), (1, 2 * i + 1), 1.5, colors.black),
            ("BOX", (3, 2 * i + 1), (3, 2 * i + 1), 1.5, colors.black),
        ]
    side = points * 1.4
    heights = [None, side] * len(message.answers)
    table = Table(rows, colWidths=[points, side, points * 4, side, points * 4], rowHeights=heights, hAlign="LEFT")
    table.setStyle(TableStyle([*boxes, ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    where = return_lines(message.contact)
    phone = message.contact.phone if message.contact else ""
    flow: list[Flowable] = [
        Paragraph("Reply slip", styles["h1"]),
        Paragraph("Please tick Yes or No for each person: do you want to work with them?", styles["p"]),
        table,
        Spacer(1, points),
        Paragraph(f"Your name: {escape(to.name)}", styles["p"]),
    ]
    if refs := references(message):
        flow.append(Paragraph(f"Your reference: <b>{escape(refs)}</b>", styles["p"]))
    if where:
        flow += [
            Paragraph("Please post this page to:", styles["p"]),
            Paragraph("<br/>".join(escape(x) for x in where if not x.startswith(("Phone", "Email"))), styles["p"]),
        ]
    # No freepost is set up, so the slip never says that no stamp is needed.
    if phone:
        flow.append(
            Paragraph(
                f"You will need a stamp. If you would rather not post it, call {escape(phone)} and say yes or no instead.",
                styles["p"],
            )
        )
    return [KeepTogether(flow)]


class _NumberedCanvas(Canvas):
    """Writes "Page 1 of 2" on every page: the total is known only once every page is laid out."""

    def __init__(self, *args, points: int = 12, **kwargs):  # reportlab's canvas arguments
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []
        self._points = points

    def showPage(self) -> None:  # noqa: N802 - reportlab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()  # type: ignore[attr-defined]  # reportlab's stubs leave out the canvas's own page start

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self.setFont(REGULAR, min(self._points, 16))
            self.drawRightString(A4[0] - MARGIN * mm, 10 * mm, f"Page {self._pageNumber} of {total}")  # type: ignore[attr-defined]  # reportlab's stubs leave out the page number
            super().showPage()
        super().save()


def _from_top(millimetres: float) -> float:
    return A4[1] - millimetres * mm


ADDRESS_MIN_POINTS = 7


def window_address(lines: list[str]) -> tuple[float, list[str]]:
    """The size and lines that keep an address inside the envelope's window: shrunk to fit a long
    name or many lines, and a line still too wide at the smallest size wrapped onto the next."""
    _fonts()
    width, height = (ADDRESS_RIGHT - ADDRESS_LEFT) * mm, (ADDRESS_BOTTOM - ADDRESS_TOP) * mm
    lines = lines[:ADDRESS_MAX_LINES]
    widest = max((pdfmetrics.stringWidth(line, REGULAR, 1) for line in lines), default=1) or 1
    points = max(ADDRESS_MIN_POINTS, min(ADDRESS_POINTS, height / (len(lines) * 1.15), width / widest))
    wrapped = [part for line in lines for part in simpleSplit(line, REGULAR, points, width) or [""]]
    points = max(ADDRESS_MIN_POINTS, min(points, height / (len(wrapped) * 1.15)))
    return points, wrapped


def _first_page(message: PlannedMessage, to: LeaderContact, dated: dt.date):  # reportlab callback
    def draw(canvas: Canvas, _doc: object) -> None:
        canvas.saveState()
        # Top left: who it is from.
        canvas.setFont(BOLD, 14)
        canvas.drawString(SIDE_BORDER * mm, _from_top(15), "Patient leader programme")
        # Top right: the return address, the date and the reference, above the body.
        size = 10
        y = _from_top(TOP_BORDER + 10)
        canvas.setFont(REGULAR, size)
        lines = [*return_lines(message.contact), "", full_date(dated)]
        if refs := references(message):
            lines.append(f"Your reference: {refs}")
        room = (A4[0] / mm - SIDE_BORDER - RETURN_LEFT) * mm
        for line in lines:
            for part in simpleSplit(line, REGULAR, size, room) or [""]:
                canvas.drawString(RETURN_LEFT * mm, y, part)
                y -= size * 1.3
        # The window: the recipient's address, never outside it.
        points, address = window_address(address_lines(to))
        canvas.setFont(REGULAR, points)
        y = _from_top(ADDRESS_TOP) - points
        for line in address:
            canvas.drawString(ADDRESS_LEFT * mm, y, line)
            y -= points * 1.15
        canvas.restoreState()

    return draw


def letter_pdf(message: PlannedMessage, to: LeaderContact, dated: dt.date) -> bytes:
    shown = _fonts()
    words = "".join(address_lines(to)) + "".join(b.text + b.url for b in message.blocks) + "".join(return_lines(message.contact))
    missing = sorted({ch for ch in words if not ch.isspace() and ord(ch) not in shown})
    if missing:
        raise LetterCannotBeMade(f"the letter font cannot show {len(missing)} of its characters")
    points = message.route.font_points
    width = A4[0] - 2 * MARGIN * mm
    bottom = 18 * mm  # room for the page number
    first = Frame(
        MARGIN * mm, bottom, width, _from_top(BODY_TOP) - bottom, id="first", leftPadding=0, rightPadding=0, topPadding=0
    )
    later = Frame(
        MARGIN * mm, bottom, width, A4[1] - MARGIN * mm - bottom, id="later", leftPadding=0, rightPadding=0, topPadding=0
    )
    buffer = io.BytesIO()
    document = BaseDocTemplate(
        buffer,
        pagesize=A4,
        title=message.subject,
        author="Patient leader programme",
        lang="en-GB",
        pageTemplates=[
            PageTemplate("first", [first], onPage=_first_page(message, to, dated)),
            PageTemplate("later", [later]),
        ],
    )
    document.build(letter_story(message, to, dated), canvasmaker=lambda *a, **k: _NumberedCanvas(*a, points=points, **k))
    return buffer.getvalue()
