"""Reading where someone lives as people write it: a town or city, or the first half of a
postcode (the postcode district, like LS6). A whole postcode is cut to its first half: we
never need to know more than roughly where someone is. Pure: the look-up is an adapter's."""

from __future__ import annotations

import re

HOW_TO_SAY_WHERE = "Enter a town in England, like Leeds, or the first half of a postcode, like LS6"
# A district (LS6, SW1A, M1) alone, or a whole postcode (LS6 2AB, ls62ab), whose first half we keep.
DISTRICT = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)(?:\s*[0-9][A-Z]{2})?$")


def district_of(text: str) -> str | None:
    """'ls6' -> 'LS6'; 'LS6 2AB' -> 'LS6'; 'Leeds' -> None (a town, not a postcode)."""
    match = DISTRICT.match(" ".join(text.upper().split()))
    return match.group(1) if match else None


def place_shown(text: str) -> str:
    """What we keep and show back of what someone wrote: the district of a postcode, else the words as written."""
    return district_of(text) or " ".join(text.split())
