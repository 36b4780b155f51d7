import datetime as dt

import pytest

from schemas.cohort import Location
from services.registry.adapters import spreadsheets
from services.registry.adapters.areas import areas
from services.registry.domain import importing
from services.registry.domain.importing import COLUMNS, FileProblem, parse_rows

pytestmark = pytest.mark.unit

HEADER = ["id", "name", "role", "email", "system", "meeting_modes", "availability", "term_time_only", "town"]


def town(name: str) -> Location:
    if name == "Newcastle upon Tyne":
        return Location(lat=54.97, lon=-1.61)
    raise ValueError(f"we cannot find a town or city called {name!r}; give latitude and longitude instead")


def good(i: int) -> list[object]:
    return [f"pl-{i}", f"Person {i}", "patient_leader", f"p{i}@example.org", "QHM", "video; phone", "tue 10:00-12:30", "yes", ""]


def test_valid_rows_become_leaders_with_lists_windows_and_yes_no():
    valid, problems = parse_rows(HEADER, [(2, good(1))], town)
    assert problems == []
    ((row, leader),) = valid
    assert row == 2
    assert leader.meeting_modes == ["video", "phone"]
    assert leader.availability[0].day == "tue" and leader.availability[0].end == dt.time(12, 30)
    assert leader.term_time_only is True


def test_every_bad_row_is_reported_with_row_column_and_reason_and_good_rows_still_count():
    bad_role = good(2)
    bad_role[2] = "nurse"
    bad_window = good(3)
    bad_window[6] = "tuesday mornings"
    bad_town = good(4)
    bad_town[8] = "Atlantis"
    no_id = good(5)
    no_id[0] = ""
    valid, problems = parse_rows(
        HEADER, [(2, good(1)), (3, bad_role), (4, bad_window), (5, bad_town), (6, no_id), (7, good(6))], town
    )
    assert [row for row, _ in valid] == [2, 7]
    by_row = {p.row: p for p in problems}
    assert by_row[3].column == "role" and "patient_leader" in by_row[3].message
    assert by_row[4].column == "availability" and "Tuesday 10:00 to 12:30" in by_row[4].message
    assert by_row[6].column == "id"


def test_a_town_is_resolved_offline_or_refused_never_guessed():
    row = good(1)
    row[8] = "Newcastle upon Tyne"
    ((_, leader),) = parse_rows(HEADER, [(2, row)], town)[0]
    assert leader.location == Location(lat=54.97, lon=-1.61)
    row[8] = "Atlantis"
    valid, problems = parse_rows(HEADER, [(2, row)], town)
    assert valid == [] and problems[0].column == "town" and "Atlantis" in problems[0].message


def test_unknown_columns_stop_the_file_so_nothing_is_lost():
    with pytest.raises(FileProblem, match="notes"):
        parse_rows([*HEADER, "notes"], [], town)


def test_blank_lines_are_skipped_and_duplicate_ids_refused():
    valid, problems = parse_rows(HEADER, [(2, good(1)), (3, [""] * len(HEADER)), (4, good(1))], town)
    assert len(valid) == 1
    assert problems[0].row == 4 and "also on row 2" in problems[0].message


def test_templates_list_every_column_and_read_back():
    header, rows = spreadsheets.read_rows("t.csv", spreadsheets.template_csv())
    assert header == list(COLUMNS)
    header, rows = spreadsheets.read_rows("t.xlsx", spreadsheets.template_xlsx())
    assert header == list(COLUMNS)
    valid, problems = parse_rows(header, rows, town, areas())
    assert problems == [] and valid[0][1].name == "Amira Ahmed"
    assert valid[0][1].system == "QHM" and valid[0][1].availability[0].day == "tue", "the example is in plain words"


def test_files_that_are_not_spreadsheets_get_a_plain_error():
    with pytest.raises(FileProblem, match="CSV file"):
        spreadsheets.read_rows("leaders.txt", b"x")
    with pytest.raises(FileProblem, match="cannot be opened"):
        spreadsheets.read_rows("leaders.xlsx", b"not a workbook")


def csv_bytes(rows: list[list[str]]) -> bytes:
    return "".join(",".join(cells) + "\n" for cells in rows).encode()


def xlsx_bytes(rows: list[list[object]], at: str = "A1") -> bytes:
    import io

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    start_row, start_column = sheet[at].row, sheet[at].column
    for r, cells in enumerate(rows):
        for c, value in enumerate(cells):
            if value != "":
                sheet.cell(row=start_row + r, column=start_column + c, value=value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_a_cell_too_long_to_read_is_a_plain_file_problem_naming_its_row():
    # An unclosed quote mark on row 3 runs the rest of the file into one enormous cell.
    content = csv_bytes([HEADER, good(1), ['"' + "x" * 140_000, *good(2)[1:]], good(3)])
    with pytest.raises(FileProblem) as problem:
        spreadsheets.read_rows("leaders.csv", content)
    message = str(problem.value)
    assert message.startswith("row 3 has a cell longer than 131,072 characters")
    assert "quote mark" in message and "import it again" in message


def test_files_saved_with_old_mac_line_ends_are_read_row_by_row():
    header, rows = spreadsheets.read_rows("leaders.csv", "\r".join([",".join(HEADER), ",".join(good(1)), ""]).encode())
    assert header == HEADER and rows == [(2, good(1))]


def people(count: int) -> list[list[str]]:
    return [[f"pl-{i}", f"Person {i}"] for i in range(count)]


def test_a_csv_with_more_people_than_the_limit_is_refused_whole_saying_how_to_split_it():
    over = csv_bytes([["id", "name"], *people(spreadsheets.MAX_ROWS + 1)])
    with pytest.raises(FileProblem) as problem:
        spreadsheets.read_rows("leaders.csv", over)
    assert str(problem.value) == (
        "the file has more than 100,000 rows of people, the most one file can hold. Split it into files of "
        "100,000 rows or fewer, each starting with the same header row, and import them one after the other"
    )


def test_a_csv_at_the_limit_is_read_to_its_last_row_and_blank_lines_do_not_count():
    exactly = csv_bytes([["id", "name"], *people(spreadsheets.MAX_ROWS), ["", ""], ["", ""]])
    _, rows = spreadsheets.read_rows("leaders.csv", exactly)
    assert rows[spreadsheets.MAX_ROWS - 1] == (
        spreadsheets.MAX_ROWS + 1,
        [f"pl-{spreadsheets.MAX_ROWS - 1}", f"Person {spreadsheets.MAX_ROWS - 1}"],
    )


def test_a_workbook_over_the_limit_is_refused_even_when_blank_rows_come_first(monkeypatch):
    # Writing 100,000 rows to a workbook takes a minute; the rule is the same at any limit.
    monkeypatch.setattr(spreadsheets, "MAX_ROWS", 3)
    blank_then_four = [["id", "name"], ["", ""], *people(2), ["", ""], *people(2)]
    with pytest.raises(FileProblem, match=r"more than 3 rows of people.*files of 3 rows or fewer"):
        spreadsheets.read_rows("leaders.xlsx", xlsx_bytes(blank_then_four))
    _, rows = spreadsheets.read_rows("leaders.xlsx", xlsx_bytes([["id", "name"], ["", ""], *people(3)]))
    assert [number for number, cells in rows if cells[0]] == [3, 4, 5], "every person is kept, with Excel's row numbers"


def test_a_workbook_with_an_empty_first_column_keeps_excels_rows_and_columns():
    content = xlsx_bytes([["id", "name"], ["", ""], ["pl-1", "Person 1"]], at="B1")
    header, rows = spreadsheets.read_rows("leaders.xlsx", content)
    assert header == ["", "id", "name"], "the empty first column is kept, so no column moves"
    assert rows == [(2, ["", "", ""]), (3, ["", "pl-1", "Person 1"])]


def test_rows_writing_the_same_windows_each_get_their_own_list_of_them():
    rows = [(n, good(n)) for n in (2, 3)]
    rows[1][1][6] = "Tuesday 10:00 to 12:30"  # the same window written another way
    (_, first), (_, second) = parse_rows(HEADER, rows, town)[0]
    ((_, alone),) = parse_rows(HEADER, [(2, good(2))], town)[0]
    assert first.availability == second.availability == alone.availability
    assert first.availability[0].start == dt.time(10) and first.availability[0].end == dt.time(12, 30)
    assert first.availability is not second.availability, "each leader has its own list"


@pytest.mark.parametrize(
    ("written", "words"),
    [("tue 12:30-10:00", "end must be later than start"), ("tuesday mornings", "should look like 'Tuesday 10:00 to 12:30'")],
)
def test_windows_that_cannot_be_read_are_refused_on_every_row_that_has_them(written, words):
    rows = []
    for n in (2, 3, 4, 5):
        row = good(n)
        row[6] = written if n != 4 else "tue 10:00-12:30"
        rows.append((n, row))
    valid, problems = parse_rows(HEADER, rows, town)
    assert [n for n, _ in valid] == [4]
    assert [(p.row, p.column) for p in problems] == [(2, "availability"), (3, "availability"), (5, "availability")]
    assert len({p.message for p in problems}) == 1 and words in problems[0].message


def test_a_town_named_on_many_rows_is_looked_up_once_and_one_not_found_is_refused_on_each():
    asked: list[str] = []

    def counting(name: str) -> Location:
        asked.append(name)
        return town(name)

    rows = []
    for n, place in enumerate(["Newcastle upon Tyne", "Atlantis", "Newcastle upon Tyne", "Atlantis"], start=2):
        row = good(n)
        row[8] = place
        rows.append((n, row))
    valid, problems = parse_rows(HEADER, rows, counting)
    assert [n for n, _ in valid] == [2, 4] and valid[0][1].location == valid[1][1].location == Location(lat=54.97, lon=-1.61)
    assert [(p.row, p.column) for p in problems] == [(3, "town"), (5, "town")] and "Atlantis" in problems[1].message
    assert asked == ["Newcastle upon Tyne", "Atlantis", "Atlantis"]


def test_the_cells_read_are_forgotten_once_the_rows_are_read():
    """What the import remembers of repeated cells (a postcode, access needs) lasts one part only (a review)."""
    rows = [(n, good(n)) for n in (2, 3)]
    parse_rows(HEADER, rows, town)
    remembered = (importing._checked_windows, importing._place, importing._items)
    assert [cached.cache_info().currsize for cached in remembered] == [0, 0, 0]
