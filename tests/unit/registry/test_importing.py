import datetime as dt

import pytest

from schemas.cohort import Location
from services.registry.adapters import spreadsheets
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
    (row, leader), = valid
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
    assert by_row[4].column == "availability" and "tue 10:00-12:30" in by_row[4].message
    assert by_row[6].column == "id"


def test_a_town_is_resolved_offline_or_refused_never_guessed():
    row = good(1)
    row[8] = "Newcastle upon Tyne"
    (_, leader), = parse_rows(HEADER, [(2, row)], town)[0]
    assert leader.location == Location(lat=54.97, lon=-1.61)
    row[8] = "Atlantis"
    valid, problems = parse_rows(HEADER, [(2, row)], town)
    assert valid == [] and problems[0].column == "town" and "Atlantis" in problems[0].message


def test_unknown_columns_stop_the_file_so_nothing_is_lost():
    with pytest.raises(FileProblem, match="notes"):
        parse_rows(HEADER + ["notes"], [], town)


def test_blank_lines_are_skipped_and_duplicate_ids_refused():
    valid, problems = parse_rows(HEADER, [(2, good(1)), (3, [""] * len(HEADER)), (4, good(1))], town)
    assert len(valid) == 1
    assert problems[0].row == 4 and "also on row 2" in problems[0].message


def test_templates_list_every_column_and_read_back():
    header, rows = spreadsheets.read_rows("t.csv", spreadsheets.template_csv())
    assert header == list(COLUMNS)
    header, rows = spreadsheets.read_rows("t.xlsx", spreadsheets.template_xlsx())
    assert header == list(COLUMNS)
    valid, problems = parse_rows(header, rows, town)
    assert problems == [] and valid[0][1].name == "Amira Ahmed"


def test_files_that_are_not_spreadsheets_get_a_plain_error():
    with pytest.raises(FileProblem, match="CSV file"):
        spreadsheets.read_rows("leaders.txt", b"x")
    with pytest.raises(FileProblem, match="cannot be opened"):
        spreadsheets.read_rows("leaders.xlsx", b"not a workbook")
