"""Printable letters (PDF), standard, large print or easy read, for posting.

Uses the Bitstream Vera fonts that ship inside reportlab, so letters look the
same on every machine and need no system fonts. A letter whose words hold a
character those fonts cannot show is not printed with gaps: it goes to a person.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from xml.sax.saxutils import escape

import reportlab
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer

from schemas.events import LeaderContact
from services.notifier.compose import PlannedMessage
from services.notifier.domain.messages import long_date

FONT_DIR = Path(reportlab.__file__).resolve().parent / "fonts"
REGULAR, BOLD = "PairingVera", "PairingVera-Bold"


class LetterCannotBeMade(Exception):
    """The letter cannot be printed faithfully; a person must send it."""


def _fonts() -> set[int]:
    """Registers the fonts once; returns the characters they can show."""
    if REGULAR not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(REGULAR, str(FONT_DIR / "Vera.ttf")))
        pdfmetrics.registerFont(TTFont(BOLD, str(FONT_DIR / "VeraBd.ttf")))
        pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=REGULAR, boldItalic=BOLD)
    regular = pdfmetrics.getFont(REGULAR).face.charToGlyph
    bold = pdfmetrics.getFont(BOLD).face.charToGlyph
    return set(regular) & set(bold)


def _styles(points: int) -> dict[str, ParagraphStyle]:
    # Left aligned, 1.5 line spacing, headings bold and larger: what large print guidance asks for.
    body = ParagraphStyle("p", fontName=REGULAR, fontSize=points, leading=points * 1.5, spaceAfter=points * 0.6)
    return {
        "p": body,
        "h1": ParagraphStyle("h1", parent=body, fontName=BOLD, fontSize=points * 1.5, leading=points * 1.9, spaceAfter=points),
        "h2": ParagraphStyle("h2", parent=body, fontName=BOLD, fontSize=points * 1.3, leading=points * 1.7, spaceBefore=points),
        "h3": ParagraphStyle("h3", parent=body, fontName=BOLD, fontSize=points * 1.1, leading=points * 1.5, spaceBefore=points * 0.6),
        "li": ParagraphStyle("li", parent=body, leftIndent=points * 1.5, bulletIndent=points * 0.3, spaceAfter=points * 0.3),
        "address": ParagraphStyle("address", parent=body, spaceAfter=0),
    }


def address_lines(contact: LeaderContact) -> list[str]:
    raw = (contact.postal_address or "").replace("\n", ",")
    return [contact.name] + [part.strip() for part in raw.split(",") if part.strip()]


def letter_story(message: PlannedMessage, to: LeaderContact, dated: dt.date) -> list[Flowable]:
    """What goes on the page, in order: the address, the date, then the message."""
    styles = _styles(message.route.font_points)
    story: list[Flowable] = [Paragraph(escape(line), styles["address"]) for line in address_lines(to)]
    story += [Spacer(1, styles["p"].fontSize * 1.5), Paragraph(long_date(dated), styles["p"]), Spacer(1, styles["p"].fontSize)]
    for block in message.blocks:
        if block.kind == "li":
            story.append(Paragraph(escape(block.text), styles["li"], bulletText="\u2022"))
        elif block.kind == "link":
            # On paper a link must be typed, so the address is printed in full.
            story.append(Paragraph(f"<b>{escape(block.text)}:</b><br/>{escape(block.url)}", styles["p"]))
        else:
            story.append(Paragraph(escape(block.text), styles[block.kind]))
    return story


def letter_pdf(message: PlannedMessage, to: LeaderContact, dated: dt.date) -> bytes:
    shown = _fonts()
    words = "".join(address_lines(to)) + "".join(b.text + b.url for b in message.blocks)
    missing = sorted({ch for ch in words if not ch.isspace() and ord(ch) not in shown})
    if missing:
        raise LetterCannotBeMade(f"the letter font cannot show {len(missing)} of its characters")
    points = message.route.font_points

    def page_number(canvas, doc) -> None:  # noqa: ANN001 - reportlab's callback
        canvas.saveState()
        canvas.setFont(REGULAR, min(points, 16))
        canvas.drawRightString(A4[0] - 20 * mm, 10 * mm, f"Page {doc.page}")
        canvas.restoreState()

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=message.subject,
        author="Patient leader programme",
        lang="en-GB",
    )
    document.build(letter_story(message, to, dated), onFirstPage=page_number, onLaterPages=page_number)
    return buffer.getvalue()
