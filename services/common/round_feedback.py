"""The words of the message that tells everyone in a closed round what difference the pairs made (issue 18).

Shared by the registry, which shows the manager a preview in every format before anything is sent, and the
notifier, which sends it: so the preview is the message. Each format is a list of lines, each a kind (h1, h2,
p or li, as the notifier's message blocks) and its words; easy read lines may start with a picture (`@tick`).
The text message says as much of the manager's words as fits in 2 parts. Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

Line = tuple[str, str]

# Curly quotes and long dashes would send a text message as Unicode (70 characters a part, not 160).
PLAIN_PUNCTUATION = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


@dataclass(frozen=True)
class FeedbackContact:
    """How people reach the programme team, as the message gives it."""

    team: str
    person: str | None = None
    phone: str | None = None
    email: str | None = None


def tidy(message: str) -> str:
    return message.translate(PLAIN_PUNCTUATION).strip()


def paragraphs(message: str) -> list[str]:
    """The manager's paragraphs: each non-empty line, with runs of spaces made one. A line never starts with
    the marks the notifier reads as a heading or a picture (# and @)."""
    lines = (" ".join(line.split()).lstrip("#@ ") for line in tidy(message).splitlines())
    return [line for line in lines if line]


def sentences(message: str) -> list[str]:
    """Each sentence on its own, for easy read (one idea on each line) and the text message."""
    found: list[str] = []
    for paragraph in paragraphs(message):
        found += [s.strip() for s in _SENTENCE_END.split(paragraph) if s.strip()]
    return found


def _who(contact: FeedbackContact) -> str:
    return contact.person or contact.team


def standard_lines(name: str, message: str, contact: FeedbackContact) -> list[Line]:
    """Email, large print and letters: the same words, at each person's size."""
    return [
        ("h1", "What difference your pairing made"),
        ("p", f"Dear {name},"),
        ("p", "Thank you for taking part in the patient leader programme. This set of pairs has now come to an end."),
        (
            "p",
            "We promised to tell you what difference your time and experience made. "
            "Here is what happened because of the work of the pairs:",
        ),
        *[("p", paragraph) for paragraph in paragraphs(message)],
        ("h2", "What happens next"),
        ("p", "You stay on the programme. We will write to you when we next make pairs."),
        ("p", f"If you would like to tell us what you think, contact {_who(contact)}. We would like to hear from you."),
    ]


def easy_read_lines(name: str, message: str, contact: FeedbackContact) -> list[Line]:
    """Easy read: one idea on each line, with a picture beside the headings."""
    return [
        ("h1", "@good-news Thank you from the programme"),
        ("p", f"Dear {name},"),
        ("p", "Thank you for being part of the programme."),
        ("p", "This set of pairs has ended."),
        ("h2", "@people What your work did"),
        *[("p", sentence) for sentence in sentences(message)],
        ("h2", "@tick What happens next"),
        ("p", "You stay on the programme."),
        ("p", "We will write to you when we make new pairs."),
        ("p", f"Tell {_who(contact)} what you think."),
    ]


SUBJECT = "What difference your pairing made, from the patient leader programme"


def text_message(name: str, message: str, contact: FeedbackContact, reserve: int = 0) -> str:
    """The whole sentences of the manager's words that fit in 2 parts, and how to hear the rest. `reserve`
    characters are kept free for words put before it (to the person a leader named to get their messages)."""
    how = f"call {contact.phone}" if contact.phone else f"email {contact.email}" if contact.email else f"ask {contact.team}"
    said = sentences(message)
    for hello in (f"Patient leader programme: {name}, thank you", "Patient leader programme: thank you", "Thank you"):
        for count in range(len(said), -1, -1):
            kept = said[:count]
            what = " ".join(kept)
            rest = " To hear more" if count < len(said) else " Questions"
            body = (
                f"{hello} for taking part. Your pairing has ended. What your work made happen: {what}"
                if kept
                else (f"{hello} for taking part. Your pairing has ended and we want to tell you what your work made happen.")
            )
            text = f"{body}{rest}: {how}."
            if sms_parts("x" * reserve + text) <= 2:
                return text
    return f"Thank you for taking part. To hear what your work made happen, {how}."


# GSM 03.38, as the notifier counts it (services/notifier/domain/sms.py): the registry's preview must agree.
GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = set("^{}\\[~]|€\f")


def sms_parts(text: str) -> int:
    """How many parts a text message is sent as (160 or 153 a part in GSM, 70 or 67 in Unicode)."""
    gsm = all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text)
    units = [2 if ch in GSM_EXTENSION else 1 for ch in text] if gsm else [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    total = sum(units)
    if total == 0:
        return 0
    single, part = (160, 153) if gsm else (70, 67)
    if total <= single:
        return 1
    count, used = 1, 0
    for width in units:
        if used + width > part:
            count, used = count + 1, 0
        used += width
    return max(count, math.ceil(total / part))
