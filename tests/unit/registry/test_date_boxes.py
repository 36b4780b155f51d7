"""Dates in day, month and year boxes: every problem is named under the box to fix, never a crash."""

from __future__ import annotations

import datetime as dt

import pytest

from services.registry.web.date_boxes import read_date

pytestmark = pytest.mark.unit


def boxes(day: str, month: str, year: str) -> dict[str, str]:
    return {"d_day": day, "d_month": month, "d_year": year}


def test_a_real_date_is_read():
    errors: dict[str, str] = {}
    assert read_date(boxes("29", "2", "2028"), "d", "the date", errors) == dt.date(2028, 2, 29) and errors == {}


@pytest.mark.parametrize(
    ("day", "month", "year", "box"),
    [
        ("1", "2", "202²", "d_year"),
        ("1", "²", "2027", "d_month"),
        ("٣", "2", "2027", "d_day"),
        ("1", "2", "\uff12\uff10\uff12\uff17", "d_year"),  # full-width 2027
    ],
)
def test_digits_from_other_scripts_are_named_not_a_crash(day, month, year, box):
    # str.isdigit() is true for "²" and Arabic-Indic digits, but int() refuses some of them: a 500 before.
    errors: dict[str, str] = {}
    assert read_date(boxes(day, month, year), "d", "the date", errors) is None
    assert errors == {box: f"The date must be a real date: the {box.removeprefix('d_')} must be a number"}
