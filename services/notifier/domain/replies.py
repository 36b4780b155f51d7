"""Replies to text messages: whose number it is, and whether the words are a clear yes or no.

Pure: no I/O. Nothing is guessed: only a few short replies count as yes or no, and anything
else is for a person to read (inbound.py makes it a task).
"""

from __future__ import annotations

import re
from typing import Literal

Answer = Literal["accept", "decline"]

YES = {"yes", "y", "yes please", "yes thank you", "yes thanks"}
NO = {"no", "n", "no thank you", "no thanks"}


def uk_number(raw: str | None) -> str | None:
    """A UK phone number in one form (07700900123) however it was written: 07700 900123,
    +44 7700 900123, 447700900123, 0044 (0)7700-900123. None for anything else, which then matches nobody."""
    if not raw:
        return None
    digits = re.sub(r"[\s().\-]", "", raw.replace("(0)", ""))
    if digits.startswith("+44"):
        digits = "0" + digits[3:]
    elif digits.startswith("0044"):
        digits = "0" + digits[4:]
    elif digits.startswith("44") and len(digits) == 12:
        digits = "0" + digits[2:]
    if not re.fullmatch(r"0\d{9,10}", digits):
        return None
    return digits


def read_reply(words: str) -> Answer | None:
    """ "accept" or "decline" for a clear YES or NO (any case, spaces or punctuation); None otherwise."""
    plain = " ".join(re.sub(r"[^a-z]+", " ", words.lower()).split())
    if plain in YES:
        return "accept"
    if plain in NO:
        return "decline"
    return None
