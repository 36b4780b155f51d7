"""Reading and writing the leader spreadsheet as CSV or Excel (XLSX)."""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook
from python_calamine import CalamineError, CalamineWorkbook

from services.registry.domain.importing import COLUMNS, FileProblem

EXAMPLE = {
    "id": "pl-0001",
    "name": "Amira Ahmed",
    "pronouns": "she/her",
    "role": "patient_leader",
    "email": "amira@example.org",
    "system": "QHM",
    "town": "Newcastle upon Tyne",
    "max_travel_km": "20",
    "meeting_modes": "in_person; video",
    "availability": "tue 10:00-12:30; thu 10:00-12:00",
    "term_time_only": "yes",
    "min_notice_days": "14",
    "access_needs": "step_free_access",
    "topics": "cardiac; discharge",
    "experience": "new",
}

MAX_ROWS = 100_000


def read_rows(filename: str, content: bytes) -> tuple[list[str], list[tuple[int, list[object]]]]:
    """The header and the numbered rows (numbered as a spreadsheet shows them: the header is row 1)."""
    if filename.lower().endswith(".xlsx"):
        return _read_xlsx(content)
    if filename.lower().endswith(".csv"):
        return _read_csv(content)
    raise FileProblem("the file must be a CSV file (.csv) or an Excel workbook (.xlsx)")


def _read_csv(content: bytes) -> tuple[list[str], list[tuple[int, list[object]]]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("cp1252")  # what older Excel versions save as "CSV"
        except UnicodeDecodeError as exc:
            raise FileProblem("the CSV file's text cannot be read; save it as 'CSV UTF-8' and try again") from exc
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise FileProblem("the file is empty")
    return rows[0], [(number, list(cells)) for number, cells in enumerate(rows[1:], start=2)][:MAX_ROWS]


def _read_xlsx(content: bytes) -> tuple[list[str], list[tuple[int, list[object]]]]:
    # calamine (Rust) reads a 10,000-row workbook ten times faster than openpyxl, which still writes the template.
    try:
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0)
        # Empty rows and columns at the top left are kept, so row numbers match what Excel shows.
        rows = sheet.to_python(skip_empty_area=False, nrows=MAX_ROWS + 1)
    except (CalamineError, IndexError, ValueError) as exc:
        raise FileProblem("the Excel file cannot be opened; save it again as an .xlsx workbook") from exc
    if not rows:
        raise FileProblem("the first sheet of the workbook is empty")
    header, *data = rows
    return [str(h or "") for h in header], [(number, list(cells)) for number, cells in enumerate(data, start=2)]


def template_csv() -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    writer.writerow([EXAMPLE.get(c, "") for c in COLUMNS])
    return buffer.getvalue().encode("utf-8-sig")


def template_xlsx() -> bytes:
    book = Workbook()
    sheet = book.active
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
