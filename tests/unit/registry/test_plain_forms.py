"""The plain forms people write (issue 16): areas by name, places by town or the first half of a
postcode, free times, dates and miles, read the same from the form and a spreadsheet."""

from __future__ import annotations

import datetime as dt

import pytest

from schemas.cohort import Location
from services.registry.adapters.areas import areas
from services.registry.adapters.gazetteer import PlaceProblem, find_place, nearest_district
from services.registry.domain.areas import AreaProblem, Areas
from services.registry.domain.importing import read_date, read_miles, row_to_leader
from services.registry.domain.places import district_of, place_shown

pytestmark = pytest.mark.unit


def test_the_list_has_the_42_boards_and_reads_a_name_in_its_usual_spellings():
    board = areas()
    assert len(board.names) == 42 and len(set(board.names.values())) == 42
    assert board.name_of("QHM") == "North East and North Cumbria" and board.name_of("qwo") == "West Yorkshire"
    for written in (
        "North East and North Cumbria",
        "NHS North East and North Cumbria Integrated Care Board",
        "north east & north cumbria ICB",
        "QHM",
        " qhm ",
    ):
        assert board.read(written) == "QHM", written
    assert board.code_of("Shropshire, Telford and Wrekin") == "QOC"


def test_a_code_the_list_does_not_know_is_kept_and_shown_as_itself_but_a_wrong_name_is_refused():
    board = Areas.from_csv("# a comment\ncode,name\nQHM,North East and North Cumbria\n")
    assert board.read("S08000024") == "S08000024" and board.name_of("S08000024") == "S08000024"
    assert board.name_of(None) == "" and board.choices() == [("QHM", "North East and North Cumbria")]
    assert board.read("s08000024") == "S08000024", "a code the list does not know is kept in capitals"
    with pytest.raises(AreaProblem, match="like North East and North Cumbria, or its code, like QHM"):
        board.read("North East")
    for place in ("Kent", "Leeds"):  # one word and no digit: a place, never kept as an unknown code
        with pytest.raises(AreaProblem):
            board.read(place)


@pytest.mark.parametrize(
    ("written", "district"),
    [("ls6", "LS6"), ("LS6 2AB", "LS6"), ("ls62ab", "LS6"), ("SW1A 1AA", "SW1A"), ("M1 1AA", "M1"), ("m11", "M11")],
)
def test_the_first_half_of_a_postcode_is_read_from_a_district_or_a_whole_postcode(written, district):
    assert district_of(written) == district and place_shown(written) == district


def test_a_town_is_not_a_postcode_and_is_kept_as_written():
    assert district_of("Leeds") is None and place_shown("  Newcastle  upon Tyne ") == "Newcastle upon Tyne"


def test_places_are_found_offline_by_town_or_district_and_the_nearest_district_is_known():
    name, leeds = find_place("leeds")
    assert name == "Leeds" and abs(leeds.lat - 53.80) < 0.05 and abs(leeds.lon + 1.55) < 0.05
    district, ls6 = find_place("LS6 2AB")
    assert district == "LS6" and abs(ls6.lat - 53.82) < 0.02 and abs(ls6.lon + 1.57) < 0.02
    assert nearest_district(ls6) == "LS6"
    assert nearest_district(Location(lat=54.9733, lon=-1.6140)).startswith("NE")


@pytest.mark.parametrize("written", ["Nowhere-on-the-Map", "ZZ9", "Newport"])
def test_a_place_not_found_or_found_twice_says_what_to_write(written):
    with pytest.raises(PlaceProblem, match=r"first half of (a|their) postcode"):
        find_place(written)


@pytest.mark.parametrize(
    "written", ["26/01/2027", "26/1/2027", "26-1-2027", "26 January 2027", "26 Jan 2027", "2027-01-26", " 26 / 01 / 2027 "]
)
def test_dates_are_read_day_month_year_and_in_the_older_form(written):
    assert read_date(written) == dt.date(2027, 1, 26)


@pytest.mark.parametrize("written", ["31/02/2027", "01/26/2027", "26 Smarch 2027", "next Tuesday"])
def test_a_date_that_is_not_real_is_refused(written):
    with pytest.raises(ValueError):
        read_date(written)


def test_miles_become_kilometres_and_nonsense_is_refused():
    assert read_miles("10") == pytest.approx(16.093, abs=0.001) and read_miles("2.5 miles") == pytest.approx(4.023, abs=0.001)
    with pytest.raises(ValueError, match="max_travel_miles: 'far' should be a number of miles"):
        read_miles("far")
    with pytest.raises(ValueError, match="from 0 to 600"):
        read_miles("-3")


def where(text: str) -> Location:
    return {"leeds": Location(lat=53.7965, lon=-1.5478)}[text.lower()]


def test_a_row_in_plain_words_and_a_row_in_the_older_codes_read_the_same():
    base = {"name": "A", "role": "carer_leader", "meeting_modes": "video"}
    plain = row_to_leader(
        {
            **base,
            "system": "West Yorkshire",
            "town": "Leeds",
            "max_travel_miles": "10",
            "availability": "Tuesday 10:00 to 12:30; Thursday from 9.00 until 11.00",
            "unavailable_dates": "26/01/2027; 2 February 2027",
        },
        where,
        areas(),
    )
    older = row_to_leader(
        {
            **base,
            "system": "QWO",
            "latitude": "53.7965",
            "longitude": "-1.5478",
            "max_travel_km": "16.093",
            "availability": "tue 10:00-12:30; thu 09:00-11:00",
            "unavailable_dates": "2027-01-26; 2027-02-02",
        },
        where,
        areas(),
    )
    assert plain.place == "Leeds" and older.place is None
    assert plain.model_copy(update={"place": None}) == older


@pytest.mark.parametrize(
    ("cells", "column", "words"),
    [
        ({"availability": "Tuesday mornings"}, "availability", "should look like 'Tuesday 10:00 to 12:30'"),
        ({"unavailable_dates": "26/01/2027; 30/02/2027"}, "unavailable_dates", "like 26/01/2027"),
        ({"max_travel_miles": "5", "max_travel_km": "8"}, "max_travel_miles", "not both"),
        ({"system": "Atlantis Board"}, "system", "like QHM"),
    ],
)
def test_a_cell_that_cannot_be_read_names_its_column_and_how_to_write_it(cells, column, words):
    with pytest.raises(ValueError) as problem:
        row_to_leader({"name": "A", "role": "carer_leader", "meeting_modes": "video", "system": "QHM", **cells}, where, areas())
    said_column, _, message = str(problem.value).partition(": ")
    assert said_column == column and words in message


def test_each_list_of_areas_reads_a_name_by_itself_every_time():
    one = Areas.from_csv("code,name\nQHM,North East and North Cumbria\n")
    other = Areas.from_csv("code,name\nQOQ,North East and North Cumbria\n")
    for _ in range(2):
        assert one.read("North East and North Cumbria") == "QHM" and other.read("North East and North Cumbria") == "QOQ"
        with pytest.raises(AreaProblem):
            one.read("North East")
