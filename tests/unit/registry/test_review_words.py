"""A round's default name, the matcher's reasons rewritten for the manager, and spreadsheet cells
that cannot run as formulas."""

import datetime as dt
import io

import openpyxl
import pytest

from schemas.cohort import PAIRED_FIRST_REASON, is_for_the_team_only
from services.registry.adapters.exports import as_csv, as_xlsx
from services.registry.domain.review import default_round_name, for_manager, safe_cell, say_miles

pytestmark = pytest.mark.unit

JANUARY = dt.date(2027, 1, 12)


@pytest.mark.parametrize(
    "given,expected",
    [
        ({"programme": "Tyneside", "cohort": "2027 cohort"}, "Tyneside 2027 cohort, January 2027"),
        ({"programme": "Tyneside", "cohort": "Tyneside 2027 cohort"}, "Tyneside 2027 cohort, January 2027"),
        ({"area": "QHM", "chosen": True}, "Area QHM, January 2027"),
        ({"chosen": True}, "Chosen leaders, January 2027"),
        ({}, "Everyone, January 2027"),
    ],
)
def test_a_round_is_named_from_who_is_in_it_and_the_month(given, expected):
    assert default_round_name(JANUARY, **given) == expected


@pytest.mark.parametrize(
    "to_leader,to_manager",
    [
        ("You both care about discharge.", "Both care about discharge."),
        ("You are both free on Tuesday 10:00 to 12:00.", "Both are free on Tuesday 10:00 to 12:00."),
        (
            "You can meet by video or in person (about 2 miles apart).",
            "They can meet by video or in person (about 2 miles apart).",
        ),
        (
            "One of you is new to this kind of work and the other has done it before.",
            "One of them is new to this kind of work and the other has done it before.",
        ),
        (
            "You come from different organisations, so you each bring a fresh view.",
            "They come from different organisations, so they each bring a fresh view.",
        ),
        (
            "You do not share a free time each week yet; the programme team will help you find one.",
            "They do not share a free time each week yet; the programme team will help them find one.",
        ),
        ("This pair was agreed in advance.", "This pair was agreed in advance."),
        (
            "We paired you first because one of you missed out on a partner in an earlier round.",
            "Paired first: one of them missed out on a partner in an earlier round.",
        ),
    ],
)
def test_reasons_are_written_about_the_pair_for_the_manager(to_leader, to_manager):
    assert for_manager(to_leader) == to_manager


def test_the_pair_is_never_told_that_one_of_them_was_left_out_before():
    """Only the programme team hears why a pair came first: the partner would learn it about the other."""
    paired_first = PAIRED_FIRST_REASON.format(who="one of you")
    assert is_for_the_team_only(paired_first)
    assert not is_for_the_team_only("You both care about discharge from hospital.")


@pytest.mark.parametrize(
    "value,expected",
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+44 113", "'+44 113"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("Amira Ahmed", "Amira Ahmed"),
        (42, 42),
        ("", ""),
    ],
)
def test_cells_that_would_run_as_formulas_are_shown_as_text(value, expected):
    assert safe_cell(value) == expected


def test_a_csv_export_has_the_page_columns_and_neutral_cells():
    text = as_csv([("name", "Person"), ("reasons", "Why")], [{"name": "=cmd", "reasons": ["Both care.", "Both free."]}]).decode()
    assert text == "\ufeffPerson,Why\r\n'=cmd,Both care. Both free.\r\n"


def test_an_xlsx_export_has_the_same_cells_written_with_lxml():
    columns = [("name", "Person"), ("reasons", "Why")]
    book = openpyxl.load_workbook(
        io.BytesIO(as_xlsx("Pairs", columns, [{"name": "=cmd", "reasons": ["Both care.", "Both free."]}]))
    )
    assert [[c.value for c in row] for row in book["Pairs"].iter_rows()] == [
        ["Person", "Why"],
        ["'=cmd", "Both care. Both free."],
    ]
    assert book["Pairs"]["A1"].font.bold, "the headings are bold"
    assert openpyxl.LXML, "lxml is installed: openpyxl writes a 2,000-pair download about a quarter faster with it"


def test_distances_are_shown_in_miles():
    assert say_miles(25) == "about 16 miles"
    assert say_miles(2) == "about 1 mile"
    assert say_miles(0.5) == "less than 1 mile"
