"""A table as a spreadsheet (XLSX with openpyxl, or CSV): the page's columns, in the page's words.
Every cell is written as text a spreadsheet shows and never runs (see domain/review.safe_cell)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.styles import Font

from services.registry.domain.review import safe_cell

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"


def cell_text(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        value = " ".join(str(v) for v in value)
    return safe_cell(value)


def lines(columns: Sequence[tuple[str, str]], rows: Iterable[dict[str, Any]]) -> Iterable[list[Any]]:
    yield [title for _, title in columns]
    for row in rows:
        yield [cell_text(row.get(key, "")) for key, _ in columns]


def as_csv(columns: Sequence[tuple[str, str]], rows: Iterable[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(lines(columns, rows))
    return ("\ufeff" + out.getvalue()).encode()  # the byte order mark makes Excel read it as UTF-8


def bold(sheet, text: str) -> Cell:
    cell = WriteOnlyCell(sheet, value=text)
    cell.font = Font(bold=True)
    return cell


def as_xlsx(title: str, columns: Sequence[tuple[str, str]], rows: Iterable[dict[str, Any]]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    for number, line in enumerate(lines(columns, rows)):
        sheet.append([bold(sheet, text) for text in line] if number == 0 else line)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
