"""Free text as people type it, cleaned at the boundary: no control characters (NUL included) and no
bidirectional override or isolate characters, which can make a name read differently in an email
from what was typed. Pure functions and pydantic types; no I/O."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Annotated

from pydantic import BeforeValidator

# U+202A-U+202E (embeddings and overrides) and U+2066-U+2069 (isolates).
BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))


def clean_line(value: str) -> str:
    """One line of text (a name, say): every control character and bidirectional control taken out."""
    if value.isprintable():  # no control character (Cc) or format character (Cf, the bidi controls among them)
        return value.strip()
    return "".join(c for c in value if c not in BIDI_CONTROLS and unicodedata.category(c) != "Cc").strip()


def clean_text(value: str) -> str:
    """Text that may run over several lines (an address, a note): keeps line breaks and tabs only."""
    if value.isprintable():  # as in clean_line: nothing to take out (a line break is not printable)
        return value.strip()
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c for c in value if c in "\n\t" or (c not in BIDI_CONTROLS and unicodedata.category(c) != "Cc")).strip()


def _cleaned(clean: Callable[[str], str]) -> Callable[[object], object]:
    return lambda value: clean(value) if isinstance(value, str) else value


Line = Annotated[str, BeforeValidator(_cleaned(clean_line))]
Text = Annotated[str, BeforeValidator(_cleaned(clean_text))]
