"""A leaders' spreadsheet made in a test: the import's columns (COLUMNS), one valid row per leader."""

from __future__ import annotations

import csv
import io

from services.registry.domain.importing import COLUMNS


def spreadsheet(rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def a_row(ident: str, **changes: str) -> dict[str, str]:
    row = {
        "id": ident,
        "name": "Grace Green",
        "role": "carer_leader",
        "email": f"{ident}@example.org",
        "system": "QHM",
        "town": "York",
        "meeting_modes": "video; phone",
        "availability": "mon 09:30-11:30",
        "topics": "mental health",
    }
    return {**row, **changes}
