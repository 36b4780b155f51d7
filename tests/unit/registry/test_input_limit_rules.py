"""Limits on what people send: free text cleaned of control and bidirectional characters, lengths
named by field, and spreadsheets that reach too far refused before they are read."""

import io
import sys
import unicodedata
import zipfile

import pytest
from openpyxl import Workbook
from pydantic import ValidationError

from services.common.errors import describe
from services.registry.adapters import spreadsheets
from services.registry.domain.commands import NewCohort
from services.registry.domain.importing import FileProblem
from services.registry.domain.leaders import LeaderIn
from services.registry.domain.text import BIDI_CONTROLS, clean_line, clean_text
from services.registry.sample import sample_leaders

pytestmark = pytest.mark.unit


def workbook(*cells: tuple[int, int, str]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["id", "name"])
    for row, column, value in cells:
        sheet.cell(row=row, column=column, value=value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_names_lose_control_and_direction_characters():
    assert clean_line("Amira\x00 \u202eAhmed\u202c\u2066\u2069\x1b") == "Amira Ahmed"
    assert clean_text("1 High Street\r\nLeeds\x00\u202d") == "1 High Street\nLeeds"
    leader = LeaderIn(**{**sample_leaders()[0], "name": "\u202eAmira\x00 Ahmed", "topics": ["cardiac\u202e"]})
    assert leader.name == "Amira Ahmed" and leader.topics == ["cardiac"]
    assert NewCohort(name="North\x00 East\u2067").name == "North East"


def test_printable_text_is_only_trimmed_because_no_printable_character_is_ever_taken_out():
    # clean_line and clean_text return printable text trimmed without looking at each character.
    taken_out = [c for c in map(chr, range(sys.maxunicode + 1)) if c in BIDI_CONTROLS or unicodedata.category(c) == "Cc"]
    assert taken_out and not any(c.isprintable() for c in taken_out)
    assert clean_line("  Amira Ahmed ") == clean_text(" Amira Ahmed  ") == "Amira Ahmed"


def test_a_name_of_only_control_characters_is_refused_by_its_field():
    with pytest.raises(ValidationError) as refused:
        LeaderIn(**{**sample_leaders()[0], "name": "\x00\u202e"})
    assert [e["field"] for e in describe(refused.value.errors())] == ["name"]


@pytest.mark.parametrize(
    "field,value",
    [
        ("topics", ["t"] * 31),
        ("topics", ["x" * 61]),
        ("challenge", "x" * 2001),
        ("availability", [{"day": "mon", "start": "10:00", "end": "11:00"}] * 51),
        ("do_not_pair_with", ["x" * 101]),
    ],
)
def test_every_free_text_and_list_has_a_length_limit_named_by_field(field, value):
    with pytest.raises(ValidationError) as refused:
        LeaderIn(**{**sample_leaders()[0], field: value})
    assert describe(refused.value.errors())[0]["field"].startswith(field)


def test_a_small_workbook_with_a_cell_far_away_is_refused_before_it_is_read(monkeypatch):
    content = workbook((2, 1, "pl-1"), (2, 2, "A person"), (20_000, 520, "x"))
    assert len(content) < 10_000
    monkeypatch.setattr(spreadsheets, "CalamineWorkbook", None)  # reading the sheet would fail the test
    with pytest.raises(FileProblem, match="row 20,000, column 520"):
        spreadsheets.read_rows("leaders.xlsx", content)


def test_too_many_cells_down_the_sheet_are_refused_too():
    with pytest.raises(FileProblem, match="2,000,000 cells"):
        spreadsheets.check_xlsx_size(workbook((spreadsheets.MAX_CELLS // 40 + 1, 40, "x")))


def test_a_workbook_that_unpacks_to_far_more_than_it_is_is_refused(monkeypatch):
    monkeypatch.setattr(spreadsheets, "MAX_UNPACKED_BYTES", 1000)
    with pytest.raises(FileProblem, match="too big"):
        spreadsheets.check_xlsx_size(workbook((2, 1, "x" * 2000)))


def test_an_ordinary_workbook_still_reads():
    header, rows = spreadsheets.read_rows("leaders.xlsx", spreadsheets.template_xlsx())
    assert header[:2] == ["id", "name"] and rows[0][1][0] == "pl-0001"
    broken = io.BytesIO()
    with zipfile.ZipFile(broken, "w") as book:
        book.writestr("xl/workbook.xml", "<workbook")
    with pytest.raises(FileProblem, match="cannot be opened"):
        spreadsheets.read_rows("leaders.xlsx", broken.getvalue())
