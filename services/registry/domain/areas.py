"""Local health and care areas by name: the integrated care boards in England and their
organisation codes. The product stores the code (QHM); people see and may type the name
("North East and North Cumbria"). Pure: the list is given as the text of its data file
(services/registry/data/integrated_care_boards.csv, read by services.registry.adapters.areas)."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

# Letters and digits only, like QHM: a code this list may not know (a test area, or a board set up later) is kept as given.
# A code the list does not know, kept so older data still imports: letters and digits with at least one
# digit, like S08000024 (ONS) or 00L (an older ODS code). A single word, like Kent, is a place, not a code.
CODE = re.compile(r"^(?=.*[0-9])[A-Za-z0-9]{1,20}$")


class AreaProblem(ValueError):
    """A name that is not one of the areas, and does not look like a code either."""


def _key(text: str) -> str:
    """'NHS North East and North Cumbria Integrated Care Board' and 'north east & north cumbria icb' -> one key."""
    words = re.sub(r"[^a-z0-9]+", " ", text.lower().replace("&", " and ")).split()
    if words[:1] == ["nhs"]:
        words = words[1:]
    for tail in (["integrated", "care", "board"], ["integrated", "care", "system"], ["icb"], ["ics"]):
        if words[-len(tail) :] == tail:
            words = words[: -len(tail)]
            break
    return " ".join(words)


@dataclass(frozen=True)
class Areas:
    """The areas, in the data file's order (north to south), each code with its name."""

    names: dict[str, str]
    _codes: dict[str, str] = field(init=False, repr=False, compare=False)
    # read, remembered for each way of writing an area (a spreadsheet repeats a few, row after row)
    _read: Callable[[str], str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_codes", {_key(name): code for code, name in self.names.items()})
        object.__setattr__(self, "_read", lru_cache(maxsize=1024)(self._read_text))

    @classmethod
    def from_csv(cls, text: str) -> Areas:
        """The data file's text: comment lines starting with #, then a header `code,name`, then one area a row."""
        rows = list(csv.DictReader(line for line in text.splitlines() if line.strip() and not line.startswith("#")))
        return cls({row["code"].strip().upper(): row["name"].strip() for row in rows})

    def name_of(self, code: str | None) -> str:
        """The area's name, or the code itself when it is not one of the list (never empty for a code)."""
        if not code:
            return ""
        return self.names.get(code.strip().upper(), code)

    def code_of(self, text: str) -> str | None:
        """The code for a name (with or without 'NHS' and 'Integrated Care Board') or a code on the list, else None."""
        if not text.strip():
            return None
        if (code := text.strip().upper()) in self.names:
            return code
        return self._codes.get(_key(text))

    def read(self, text: str) -> str:
        """What someone wrote, as the code to store: a name or a code on the list, or a code the list
        does not know (kept, in capitals, so old spreadsheets still import). Anything else is refused
        (and read again the next time, so each row gets its own error)."""
        return self._read(text)

    def _read_text(self, text: str) -> str:
        if (code := self.code_of(text)) is not None:
            return code
        if CODE.match(text.strip()):
            return text.strip().upper()
        raise AreaProblem(
            f"we do not know a local health and care area called {text.strip()!r}; write the name of their "
            "integrated care board, like North East and North Cumbria, or its code, like QHM"
        )

    def choices(self) -> list[tuple[str, str]]:
        """(code, name) for a select, sorted by name."""
        return sorted(self.names.items(), key=lambda item: item[1])
