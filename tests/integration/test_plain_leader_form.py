"""The leader form people can fill in (issue 16): the area by name, where they live by town or
the first half of a postcode, free times and dates from lists and boxes, miles, and people never
to pair them with chosen by name; and the spreadsheet import taking the same plain forms.
On a real database, through the real pages and API."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.integration.conftest import ADMIN

pytestmark = pytest.mark.integration


@pytest.fixture
async def pages(registry):
    """A signed-in browser on the registry's pages, and its form token."""
    transport = httpx.ASGITransport(app=registry._transport.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as browser:
        token = re.search(r'name="csrf_token" value="([^"]+)"', (await browser.get("/sign-in")).text).group(1)
        await browser.post("/sign-in", data={"csrf_token": token, "email": ADMIN[0], "password": ADMIN[1]})
        form = (await browser.get("/manage/leaders/new")).text
        yield browser, re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)


def plain_form(token: str, ident: str, **changes: str) -> dict[str, str]:
    form = {
        "csrf_token": token,
        "id": ident,
        "name": f"Pat Plain {ident}",
        "role": "patient_leader",
        "status": "active",
        "contact_method": "email",
        "email": f"{ident}@example.org",
        "information_format": "standard",
        "system": "QWO",
        "experience": "new",
        "town": "ls6",
        "max_travel_miles": "10",
        "meeting_modes": "in_person",
        "time_rows": "3",
        "time_0_day": "tue",
        "time_0_from": "10:00",
        "time_0_to": "12:30",
        "time_1_day": "thu",
        "time_1_from": "09:00",
        "time_1_to": "11:00",
        "date_rows": "1",
        "date_0_day": "26",
        "date_0_month": "1",
        "date_0_year": "2027",
        "term_time_only": "no",
        "capacity": "1",
    }
    return {**form, **changes}


async def test_a_leader_added_with_only_plain_fields_is_stored_in_codes_and_kilometres_and_shown_by_name(registry, pages):
    ident = f"plain-{uuid.uuid4().hex[:6]}"
    browser, token = pages
    form = (await browser.get("/manage/leaders/new")).text
    assert '<option value="QHM">North East and North Cumbria</option>' in form
    assert "latitude" not in form.lower() and "kilometres" not in form
    assert 'class="nhsuk-date-input"' in form and 'id="time_0_day"' in form

    added = await browser.post("/manage/leaders/new", data=plain_form(token, ident))
    assert added.status_code == 303, added.text
    stored = (await registry.get(f"/leaders/{ident}")).json()
    assert stored["system"] == "QWO" and stored["place"] == "LS6"
    assert stored["location"] == {"lat": 53.8201, "lon": -1.5708}, "the middle of the LS6 postcode district"
    assert abs(stored["max_travel_km"] - 16.093) < 0.001
    assert stored["availability"] == [
        {"day": "tue", "start": "10:00:00", "end": "12:30:00"},
        {"day": "thu", "start": "09:00:00", "end": "11:00:00"},
    ]
    assert stored["unavailable_dates"] == ["2027-01-26"]

    shown = (await browser.get(f"/manage/leaders/{ident}")).text
    assert "West Yorkshire" in shown and "LS6" in shown and "10 miles" in shown
    listed = (await browser.get("/manage/leaders", params={"q": ident})).text
    assert "West Yorkshire" in listed

    again = (await browser.get(f"/manage/leaders/{ident}/edit")).text
    assert 'value="LS6"' in again and 'value="10"' in again
    assert '<option value="QWO" selected>West Yorkshire</option>' in again
    assert re.search(r'id="date_0_day" name="date_0_day" type="text" inputmode="numeric" value="26"', again)


async def test_plain_fields_that_cannot_be_read_get_errors_naming_the_field(registry, pages):
    ident = f"plain-{uuid.uuid4().hex[:6]}"
    browser, token = pages
    bad = await browser.post(
        "/manage/leaders/new",
        data=plain_form(
            token,
            ident,
            town="Nowhere-on-the-Map",
            max_travel_miles="far",
            time_0_to="09:00",
            time_1_from="",
            date_0_month="13",
            system="",
        ),
    )
    assert bad.status_code == 400
    summary = bad.text.split('class="nhsuk-error-summary"')[1].split("</ul>")[0]
    assert "Enter a town in England, like Leeds, or the first half of a postcode, like LS6" in summary
    assert 'href="#town"' in summary and 'href="#system"' in summary
    assert "Select their local health and care area" in summary
    assert "Free time 1: the end time must be later than the start time" in summary and 'href="#time_0_to"' in summary
    assert "Free time 2: select a day, a start time and an end time" in summary and 'href="#time_1_from"' in summary
    assert (
        "Date they cannot do 1 must be a real date: the month is a number from 1 to 12" in summary
        and 'href="#date_0_month"' in summary
    )
    assert "should be a number of miles" in summary and 'href="#max_travel_miles"' in summary
    assert "nhsuk-date-input__input nhsuk-input--width-2 nhsuk-input--error" in bad.text
    assert (await registry.get(f"/leaders/{ident}")).status_code == 404


async def test_adding_rows_and_choosing_who_never_to_pair_them_with_work_by_posting_back(registry, pages):
    tag = uuid.uuid4().hex[:6]
    other = f"plain-other-{tag}"
    browser, token = pages
    made = await browser.post("/manage/leaders/new", data=plain_form(token, other, name=f"Quentin Zebedee {tag}"))
    assert made.status_code == 303, made.text

    more = await browser.post("/manage/leaders/new", data=plain_form(token, f"plain-{tag}", add="time"))
    assert more.status_code == 200 and 'id="time_3_day"' in more.text, "a fourth row of free times"
    assert '<option value="tue" selected>Tuesday</option>' in more.text, "what was chosen is kept"
    dates = await browser.post("/manage/leaders/new", data=plain_form(token, f"plain-{tag}", add="date"))
    assert 'id="date_1_day"' in dates.text

    found = await browser.post(
        "/manage/leaders/new", data=plain_form(token, f"plain-{tag}", add="search", never_q=f"zebedee {tag}")
    )
    assert found.status_code == 200
    assert f'value="{other}">' in found.text and f"Quentin Zebedee {tag}" in found.text
    nobody = await browser.post("/manage/leaders/new", data=plain_form(token, f"plain-{tag}", add="search", never_q="Xyzzy"))
    assert "Nobody&#39;s name has" in nobody.text or "Nobody's name has" in nobody.text

    saved = await browser.post("/manage/leaders/new", data={**plain_form(token, f"plain-{tag}"), "do_not_pair_with": other})
    assert saved.status_code == 303, saved.text
    assert (await registry.get(f"/leaders/plain-{tag}")).json()["do_not_pair_with"] == [other]
    edit = (await browser.get(f"/manage/leaders/plain-{tag}/edit")).text
    assert f'value="{other}" checked' in edit and f"Quentin Zebedee {tag}" in edit, "shown by name"


def csv_of(rows: list[dict[str, str]]) -> bytes:
    columns = sorted({c for row in rows for c in row})
    lines = [",".join(columns)] + [",".join(f'"{row.get(c, "")}"' for c in columns) for row in rows]
    return ("\n".join(lines) + "\n").encode()


async def test_the_import_takes_the_plain_forms_and_the_older_ones_and_names_each_bad_cell(registry):
    tag = uuid.uuid4().hex[:6]
    base = {"role": "carer_leader", "meeting_modes": "video"}
    rows = [
        {
            **base,
            "id": f"pi-{tag}-1",
            "name": "Plain Words",
            "email": f"pi-{tag}-1@example.org",
            "system": "NHS Cheshire and Merseyside Integrated Care Board",
            "town": "Leeds",
            "max_travel_miles": "5",
            "availability": "Tuesday 10:00 to 12:30; Friday 14:00 to 15:30",
            "unavailable_dates": "26/01/2027; 2 February 2027",
        },
        {
            **base,
            "id": f"pi-{tag}-2",
            "name": "Old Style",
            "email": f"pi-{tag}-2@example.org",
            "system": "QHM",
            "latitude": "54.97",
            "longitude": "-1.61",
            "max_travel_km": "20",
            "availability": "tue 10:00-12:30",
            "unavailable_dates": "2027-01-26",
        },
        {**base, "id": f"pi-{tag}-3", "name": "Bad Area", "email": "a@example.org", "system": "Atlantis Board"},
        {
            **base,
            "id": f"pi-{tag}-4",
            "name": "Bad Date",
            "email": "b@example.org",
            "system": "QHM",
            "unavailable_dates": "31/02/2027",
        },
        {**base, "id": f"pi-{tag}-5", "name": "Bad Place", "email": "c@example.org", "system": "QHM", "town": "ZZ9"},
    ]
    result = (await registry.post("/leaders/import", files={"file": ("plain.csv", csv_of(rows), "text/csv")})).json()
    assert result["created"] == 2, result
    problems = {(p["row"], p["column"]): p["message"] for p in result["problems"]}
    assert set(problems) == {(4, "system"), (5, "unavailable_dates"), (6, "town")}
    assert "like North East and North Cumbria, or its code, like QHM" in problems[(4, "system")]
    assert "like 26/01/2027" in problems[(5, "unavailable_dates")]
    assert "first half of a postcode, like LS6" in problems[(6, "town")]

    plain = (await registry.get(f"/leaders/pi-{tag}-1")).json()
    assert plain["system"] == "QYG" and plain["place"] == "Leeds" and abs(plain["max_travel_km"] - 8.047) < 0.001
    assert [w["day"] for w in plain["availability"]] == ["tue", "fri"]
    assert plain["unavailable_dates"] == ["2027-01-26", "2027-02-02"]
    old = (await registry.get(f"/leaders/pi-{tag}-2")).json()
    assert old["system"] == "QHM" and old["max_travel_km"] == 20 and old["location"] == {"lat": 54.97, "lon": -1.61}

    template = (await registry.get("/leaders/import/template.csv")).text
    assert "North East and North Cumbria" in template and "Tuesday 10:00 to 12:30" in template


async def test_a_record_with_only_coordinates_shows_a_place_and_keeps_where_it_is_until_the_place_is_changed(registry, pages):
    ident = f"plain-old-{uuid.uuid4().hex[:6]}"
    browser, token = pages
    older = {
        "id": ident,
        "name": "Olive Older",
        "role": "carer_leader",
        "email": f"{ident}@example.org",
        "system": "QHM",
        "location": {"lat": 54.97, "lon": -1.61},
        "max_travel_km": 20,
        "meeting_modes": ["video"],
    }
    assert (await registry.post("/leaders", json=older)).status_code == 201
    edit = (await browser.get(f"/manage/leaders/{ident}/edit")).text
    shown = re.search(r'id="town" name="town" type="text" value="([^"]*)"', edit).group(1)
    assert re.fullmatch(r"NE\d+", shown), "the postcode district nearest to where they are"
    assert 'name="place_was" value="' + shown + '"' in edit
    assert 'value="12.4"' in edit, "20 km in miles"

    form = plain_form(
        token, ident, name="Olive Older", system="QHM", town=shown, place_was=shown, max_travel_miles="12.4", miles_was="12.4"
    )
    kept = await browser.post(f"/manage/leaders/{ident}/edit", data=form)
    assert kept.status_code == 303, kept.text
    stored = (await registry.get(f"/leaders/{ident}")).json()
    assert stored["location"] == {"lat": 54.97, "lon": -1.61} and stored["place"] == shown, "not moved by saving"
    assert stored["max_travel_km"] == 20, "not changed by rounding to miles and back"

    moved = await browser.post(f"/manage/leaders/{ident}/edit", data={**form, "town": "York", "max_travel_miles": "5"})
    assert moved.status_code == 303, moved.text
    stored = (await registry.get(f"/leaders/{ident}")).json()
    assert stored["place"] == "York" and abs(stored["location"]["lat"] - 53.96) < 0.05
    assert abs(stored["max_travel_km"] - 8.047) < 0.001
