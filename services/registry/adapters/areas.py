"""The integrated care boards in England, read once from the data file shipped with the registry."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from services.registry.domain.areas import Areas

DATA = Path(__file__).resolve().parent.parent / "data" / "integrated_care_boards.csv"


@cache
def areas() -> Areas:
    return Areas.from_csv(DATA.read_text(encoding="utf-8"))


def area_name(code: str | None) -> str:
    """The name of the area with this code (the code itself when the list does not know it)."""
    return areas().name_of(code)
