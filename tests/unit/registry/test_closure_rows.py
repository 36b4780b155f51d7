"""A programme's closure periods as rows of day, month and year boxes: read into the written form the
API takes (12-24..01-01 every year, 2027-04-01..2027-04-05 once), and shown back from it."""

from __future__ import annotations

import pytest

from services.registry.web import closure_rows

pytestmark = pytest.mark.unit


def row(i: int, first: tuple[str, str, str], last: tuple[str, str, str], yearly: bool = False) -> dict[str, str]:
    values = {f"closure_{i}_yearly": "yes" if yearly else ""}
    for end, parts in (("from", first), ("to", last)):
        values |= {f"closure_{i}_{end}_{part}": value for part, value in zip(("day", "month", "year"), parts, strict=True)}
    return values


def test_rows_are_written_as_the_api_takes_them_and_empty_rows_are_left_out():
    form = {"closure_rows": "3"}
    form |= row(0, ("24", "12", ""), ("1", "1", ""), yearly=True)
    form |= row(1, ("1", "4", "2027"), ("5", "4", "2027"))
    errors: dict[str, str] = {}
    assert closure_rows.texts(closure_rows.values_of(form), errors) == ["12-24..01-01", "2027-04-01..2027-04-05"]
    assert errors == {}


def test_every_year_ignores_the_years_and_allows_29_february():
    form = {"closure_rows": "1", **row(0, ("29", "2", "2031"), ("1", "3", "nonsense"), yearly=True)}
    errors: dict[str, str] = {}
    assert closure_rows.texts(closure_rows.values_of(form), errors) == ["02-29..03-01"]
    assert errors == {}


def test_each_problem_names_the_box_to_fix():
    form = {"closure_rows": "2"}
    form |= row(0, ("24", "12", ""), ("1", "1", ""))  # not every year, so the years are needed
    form |= row(1, ("5", "4", "2027"), ("1", "4", "2027"))
    errors: dict[str, str] = {}
    assert closure_rows.texts(closure_rows.values_of(form), errors) == []
    assert errors == {
        "closure_0_from_year": "The first day of closure 1 must include a year",
        "closure_0_to_year": "The last day of closure 1 must include a year",
        "closure_1_to_day": "Closure 2: the last day must be the same as or after the first day",
    }


def test_stored_closures_are_shown_as_rows_and_read_back_the_same():
    stored = ["12-24..01-01", "2027-08-30..2027-09-03"]
    values = closure_rows.values_from_texts(stored)
    assert closure_rows.rows(values) == [0, 1]
    assert (values["closure_0_from_day"], values["closure_0_from_month"], values["closure_0_from_year"]) == ("24", "12", "")
    assert values["closure_0_yearly"] == "yes" and values["closure_1_yearly"] == ""
    assert closure_rows.texts(values, {}) == stored
    assert closure_rows.rows(closure_rows.values_from_texts([])) == [0], "one empty row when the programme never closes"


def test_add_another_closure_adds_one_empty_row_up_to_a_limit():
    values = closure_rows.values_of({"closure_rows": "1"})
    closure_rows.add_row(values)
    assert closure_rows.rows(values) == [0, 1]
    full = closure_rows.values_of({"closure_rows": str(closure_rows.MOST_ROWS)})
    closure_rows.add_row(full)
    assert len(closure_rows.rows(full)) == closure_rows.MOST_ROWS
