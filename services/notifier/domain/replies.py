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


# Replies to "Did you meet?" and to a check-in (issue 18): the words the text message offers, and a few more
# just as clear. A bare NO to "Did you meet?" means not yet; anything else is for a person to read.
FOLLOW_UP_REPLIES: dict[str, dict[str, str]] = {
    "met": {
        **dict.fromkeys(("yes", "y", "yes we met", "we met", "yes we have met", "we have met", "met"), "met"),
        **dict.fromkeys(("not yet", "no", "n", "no not yet"), "not_yet"),
        **dict.fromkeys(("help", "we need help", "need help"), "need_help"),
    },
    "check_in": {
        **dict.fromkeys(("well", "going well", "it is going well", "good", "fine"), "going_well"),
        **dict.fromkeys(("problems", "some problems", "problem"), "some_problems"),
        **dict.fromkeys(("help", "we need help", "need help"), "need_help"),
    },
}


def read_follow_up_reply(words: str, question: str) -> str | None:
    """The coded answer (as FollowUpAnswer.answer) for a clear reply to this question; None otherwise."""
    plain = " ".join(re.sub(r"[^a-z]+", " ", words.lower()).split())
    return FOLLOW_UP_REPLIES.get(question, {}).get(plain)


def read_reply(words: str) -> Answer | None:
    """ "accept" or "decline" for a clear YES or NO (any case, spaces or punctuation); None otherwise."""
    plain = " ".join(re.sub(r"[^a-z]+", " ", words.lower()).split())
    if plain in YES:
        return "accept"
    if plain in NO:
        return "decline"
    return None
