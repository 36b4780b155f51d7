"""Reading and writing the leader spreadsheet as CSV or Excel (XLSX)."""

from __future__ import annotations

import csv
import io
import itertools
import posixpath
import re
import zipfile
from collections.abc import Iterable, Iterator
from typing import cast
from xml.etree.ElementTree import ParseError, iterparse

from openpyxl import Workbook
from python_calamine import CalamineError, CalamineWorkbook

from services.registry.domain.importing import COLUMNS, FileProblem

EXAMPLE = {
    "id": "pl-0001",
    "name": "Amira Ahmed",
    "pronouns": "she/her",
    "role": "patient_leader",
    "email": "amira@example.org",
    "system": "North East and North Cumbria",
    "town": "Newcastle upon Tyne",
    "max_travel_miles": "12",
    "meeting_modes": "in_person; video",
    "availability": "Tuesday 10:00 to 12:30; Thursday 10:00 to 12:00",
    "unavailable_dates": "26/01/2027; 2/02/2027",
    "term_time_only": "yes",
    "min_notice_days": "14",
    "access_needs": "step_free_access",
    "topics": "cardiac; discharge",
    "experience": "new",
}

MAX_ROWS = 100_000
# Checked before a workbook is read: reading makes room for every cell from A1 to the last one used,
# so one cell far down and to the right would take hundreds of megabytes.
MAX_COLUMNS = 60
MAX_CELLS = 2_000_000
MAX_UNPACKED_BYTES = 200 * 1024 * 1024


def too_many_rows() -> str:
    return (
        f"the file has more than {MAX_ROWS:,} rows of people, the most one file can hold. Split it into files of "
        f"{MAX_ROWS:,} rows or fewer, each starting with the same header row, and import them one after the other"
    )


def read_rows(filename: str, content: bytes) -> tuple[list[str], list[tuple[int, list[object]]]]:
    """The header and the numbered rows (numbered as a spreadsheet shows them: the header is row 1)."""
    if filename.lower().endswith(".xlsx"):
        header, *data = _read_xlsx(content)
    elif filename.lower().endswith(".csv"):
        header, *data = _read_csv(content)
    else:
        raise FileProblem("the file must be a CSV file (.csv) or an Excel workbook (.xlsx)")
    return [str(h or "") for h in header], list(enumerate(data, start=2))


def _up_to_the_limit(rows: Iterable[list[object]]) -> list[list[object]]:
    """Every row; a file with more than MAX_ROWS people is refused whole, so nobody is left out unseen."""
    kept: list[list[object]] = []
    people = 0
    for cells in rows:
        kept.append(cells)
        if len(kept) > 1 and any(cell is not None and str(cell).strip() for cell in cells):
            people += 1
            if people > MAX_ROWS:
                raise FileProblem(too_many_rows())
    return kept


def _read_csv(content: bytes) -> list[list[object]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("cp1252")  # what older Excel versions save as "CSV"
        except UnicodeDecodeError as exc:
            raise FileProblem("the CSV file's text cannot be read; save it as 'CSV UTF-8' and try again") from exc
    # newline="" lets the reader find the line ends itself, so files with old Mac line ends (\r) read too.
    reader = csv.reader(io.StringIO(text, newline=""))

    def numbered() -> Iterator[list[object]]:
        for number in itertools.count(1):  # row 1 is the header, as a spreadsheet shows it
            try:
                yield cast("list[object]", next(reader))  # the cells, as the rows of any file type are typed
            except StopIteration:
                return
            except csv.Error as exc:
                raise FileProblem(_unreadable_row(number, exc)) from exc

    rows = _up_to_the_limit(numbered())
    if not rows:
        raise FileProblem("the file is empty")
    return rows


def _unreadable_row(number: int, exc: csv.Error) -> str:
    if "field limit" in str(exc):
        return (
            f"row {number} has a cell longer than {csv.field_size_limit():,} characters, far more than any column needs. "
            f'This usually means a quote mark (") in row {number} is not closed, so the rest of the file runs into one cell. '
            "Close the quote mark or shorten the cell, save the file and import it again"
        )
    return f"row {number} cannot be read; save the file again as 'CSV UTF-8' from your spreadsheet program and import it again"


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


_CELL = re.compile(r"^([A-Z]{1,3})([0-9]{1,7})$")


def _first_sheet(book: zipfile.ZipFile) -> str:
    """The path, inside the workbook, of its first sheet (the one that is imported)."""
    sheet_id = None
    for _, element in iterparse(book.open("xl/workbook.xml")):
        if element.tag.endswith("}sheet"):
            sheet_id = next((v for k, v in element.attrib.items() if k.endswith("}id")), None)
            break
    for _, element in iterparse(book.open("xl/_rels/workbook.xml.rels")):
        if element.tag.endswith("}Relationship") and element.get("Id") == sheet_id:
            target = element.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
    raise FileProblem("the workbook has no sheet to import")


def check_xlsx_size(content: bytes) -> None:
    """Refuse, before reading it, a workbook whose first sheet reaches further than MAX_COLUMNS columns or
    MAX_CELLS cells: every cell's place is read from the sheet's XML as it streams past, nothing is kept."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as book:
            if sum(item.file_size for item in book.infolist()) > MAX_UNPACKED_BYTES:
                raise FileProblem("the workbook is too big to import; save the leaders' sheet on its own and try again")
            last_row = last_column = 0
            for _, element in iterparse(book.open(_first_sheet(book))):
                if element.tag.endswith("}c"):
                    place = _CELL.match(element.get("r", ""))
                    column = _column_number(place.group(1)) if place else last_column + 1
                    row = int(place.group(2)) if place else max(last_row, 1)
                    last_row, last_column = max(last_row, row), max(last_column, column)
                    if last_column > MAX_COLUMNS or last_row * last_column > MAX_CELLS:
                        raise FileProblem(_too_wide(row, column))
                elif element.tag.endswith("}row") and (row_attribute := element.get("r", "")).isdigit():
                    last_row = max(last_row, int(row_attribute))
                element.clear()
    except (zipfile.BadZipFile, KeyError, ParseError) as exc:
        raise FileProblem("the Excel file cannot be opened; save it again as an .xlsx workbook") from exc


def _too_wide(row: int, column: int) -> str:
    return (
        f"the first sheet has something in row {row:,}, column {column:,}, further than a leaders' sheet can reach "
        f"(at most {MAX_COLUMNS} columns and {MAX_CELLS:,} cells). Delete what is in the cells beyond the leaders' "
        "columns and rows, or copy the leaders into a new sheet, and import it again"
    )


def _read_xlsx(content: bytes) -> list[list[object]]:
    check_xlsx_size(content)
    # calamine (Rust) reads a 10,000-row workbook ten times faster than openpyxl, which still writes the template.
    try:
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0)
        # Empty rows and columns at the top left are kept, so row numbers and columns match what Excel shows
        # (iter_rows keeps the empty rows but starts at the first column used).
        pad = [""] * (sheet.start[1] if sheet.start else 0)
        rows = _up_to_the_limit(pad + list(cells) for cells in sheet.iter_rows())
    except FileProblem:
        raise
    except (CalamineError, IndexError, ValueError) as exc:
        raise FileProblem("the Excel file cannot be opened; save it again as an .xlsx workbook") from exc
    if not rows:
        raise FileProblem("the first sheet of the workbook is empty")
    return rows


def template_csv() -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    writer.writerow([EXAMPLE.get(c, "") for c in COLUMNS])
    return buffer.getvalue().encode("utf-8-sig")


def template_xlsx() -> bytes:
    book = Workbook()
    sheet = book.worksheets[0]  # a new workbook has one sheet
    sheet.title = "Leaders"
    sheet.append(list(COLUMNS))
    sheet.append([EXAMPLE.get(c, "") for c in COLUMNS])
    guide = book.create_sheet("How to fill it in")
    guide.append(["Column", "What to write"])
    for column, meaning in COLUMNS.items():
        guide.append([column, meaning])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
