"""How many parts (segments) a text message is sent as, counted as phone networks count them.

GSM 03.38: text using only the GSM 7-bit alphabet goes 160 characters in one part, or 153 a
part when it needs more than one; a character from the extension table ({ } [ ] ~ | ^ \\ and
the euro sign) takes two places, and the two are never split between parts. Any other
character (a curly quote, an "á") sends the whole message as Unicode: 70 characters in one
part, 67 a part beyond that. Pure: no I/O.
"""

from __future__ import annotations

import math

GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = set("^{}\\[~]|€\f")
GSM_ALL = frozenset(GSM_BASIC | GSM_EXTENSION)
GSM_SINGLE, GSM_PART = 160, 153
UNICODE_SINGLE, UNICODE_PART = 70, 67
MAX_SEGMENTS = 2


def is_gsm(text: str) -> bool:
    """True when every character is in the GSM 7-bit alphabet or its extension table."""
    return GSM_ALL.issuperset(text)


def _units(text: str, gsm: bool) -> list[int]:
    """The width of each character in its encoding: GSM places, or UTF-16 code units."""
    if gsm:
        return [2 if ch in GSM_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def segments(text: str) -> int:
    """How many parts `text` is sent as (0 for no text)."""
    gsm = is_gsm(text)
    # Most characters take one place: only the extension table's (GSM) or those beyond 16 bits (Unicode) take two.
    wide = sum(text.count(ch) for ch in GSM_EXTENSION) if gsm else sum(1 for ch in text if ord(ch) > 0xFFFF)
    total = len(text) + wide
    if total == 0:
        return 0
    single, part = (GSM_SINGLE, GSM_PART) if gsm else (UNICODE_SINGLE, UNICODE_PART)
    if total <= single:
        return 1
    if not wide:  # every character one place: the parts simply fill up
        return math.ceil(total / part)
    # Several parts: fill each in turn; a two-place character never straddles two parts.
    count, used = 1, 0
    for width in _units(text, gsm):
        if used + width > part:
            count, used = count + 1, 0
        used += width
    return max(count, math.ceil(total / part))


def fits(text: str, max_segments: int = MAX_SEGMENTS) -> bool:
    return segments(text) <= max_segments
