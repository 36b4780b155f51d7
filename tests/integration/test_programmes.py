"""A programme's contact details and closure periods: set through the API and the pages,
checked, changed later and audited, on a real database."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from sqlalchemy import select

from services.registry.adapters.orm import AuditRow
from tests.integration.conftest import ADMIN

pytestmark = pytest.mark.integration

LEEDS = {
    "name": "West Yorkshire 2027",
    "team": "the West Yorkshire patient leader team",
    "contact_person": "Priya Shah",
    "phone": "0113 496 0123",
    "email": "wy.pairing@example.nhs.uk",
    "postal_address": "Patient Leader Programme\n10 Park Row\nLeeds\nLS1 5AB",
}


async def test_a_programme_keeps_its_contact_details_and_a_manager_changes_them_later(registry):
    ident = f"p-{uuid.uuid4().hex[:6]}"
    made = await registry.post("/programmes", json={"id": ident, **LEEDS})
    assert made.status_code == 201, made.text
    assert made.json()["closure_periods"] == ["12-24..01-01"], "closed from 24 December to 1 January unless told otherwise"
    assert made.json()["phone"] == "0113 496 0123" and made.json()["next_round_on"] is None

    change = {
        **LEEDS,
        "phone": "+44 (0)300 123 4567",
        "closure_periods": ["12-22..01-03", "2027-04-01..2027-04-05"],
        "next_round_on": "2027-04-12",
    }
    changed = await registry.put(f"/programmes/{ident}", json=change)
    assert changed.status_code == 200, changed.text
    read = (await registry.get(f"/programmes/{ident}")).json()
    assert read["phone"] == "+44 (0)300 123 4567" and read["next_round_on"] == "2027-04-12"
    assert read["closure_periods"] == ["12-22..01-03", "2027-04-01..2027-04-05"]

    async with registry.store.unit_of_work() as uow:
        rows = (await uow.session.scalars(select(AuditRow).where(AuditRow.purpose.like(f"programme {ident}%")))).all()
    assert [(r.action, r.actor) for r in rows] == [("added programme", ADMIN[0]), ("changed programme", ADMIN[0])]
    assert rows[1].purpose == f"programme {ident}: phone, closure periods, next round on"
    assert "0300" not in rows[1].purpose, "the audit says what changed, not the new values"


async def test_bad_contact_details_are_refused_with_the_field_and_how_to_fix_it(registry):
    bad = await registry.post(
        "/programmes", json={**LEEDS, "phone": "12345", "email": "team at nhs", "closure_periods": ["Christmas"]}
    )
    assert bad.status_code == 422
    problems = {e["field"]: e["message"] for e in bad.json()["errors"]}
    assert problems["phone"] == "must be a UK phone number, for example 0113 496 0000 or +44 113 496 0000"
    assert problems["email"] == "must look like name@example.org"
    assert "12-24..01-01" in problems["closure_periods"]
    assert (await registry.put("/programmes/nobody-has-this", json=LEEDS)).status_code == 404


async def test_a_manager_changes_the_details_on_the_programmes_page(registry):
    app = registry._transport.app
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://registry") as browser:
        token = re.search(r'name="csrf_token" value="([^"]+)"', (await browser.get("/sign-in")).text).group(1)
        await browser.post("/sign-in", data={"csrf_token": token, "email": ADMIN[0], "password": ADMIN[1]})
        form = (await browser.get("/manage/programmes")).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        added = await browser.post("/manage/programmes", data={"csrf_token": token, "name": "North East 2027"})
        assert added.status_code == 303 and "/details" in added.headers["location"]
        details_page = added.headers["location"].split("?")[0]
        shown = await browser.get(details_page)
        # The usual closure, 24 December to 1 January every year, is filled in as a row of date boxes.
        assert 'name="closure_0_from_day" type="text" inputmode="numeric" value="24"' in shown.text
        assert 'name="closure_0_to_month" type="text" inputmode="numeric" value="1"' in shown.text
        assert 'name="closure_0_from_year" type="text" inputmode="numeric" value=""' in shown.text
        assert 'id="closure_0_yearly" name="closure_0_yearly" type="checkbox" value="yes" checked' in shown.text
        assert 'type="date"' not in shown.text and "12-24..01-01" not in shown.text
        yearly = {"closure_0_from_day": "24", "closure_0_from_month": "12", "closure_0_to_day": "1", "closure_0_to_month": "1"}
        yearly |= {"closure_0_yearly": "yes"}

        # "Add another closure" brings the form back with one more row, keeping what was typed; nothing is saved.
        more = await browser.post(
            details_page, data={"csrf_token": token, "name": "North East 2027", "closure_rows": "1", "add": "closure", **yearly}
        )
        assert (
            more.status_code == 200 and 'name="closure_1_from_day"' in more.text and 'name="closure_2_from_day"' not in more.text
        )
        assert 'name="closure_0_from_day" type="text" inputmode="numeric" value="24"' in more.text

        bad = await browser.post(
            details_page, data={"csrf_token": token, "name": "North East 2027", "phone": "999", "closure_rows": "1", **yearly}
        )
        assert bad.status_code == 400
        assert "Phone number: must be a UK phone number" in bad.text and 'href="#phone"' in bad.text
        bad_date = await browser.post(
            details_page,
            data={"csrf_token": token, "name": "North East 2027", "next_round_on_day": "4", "next_round_on_year": "2027"},
        )
        assert bad_date.status_code == 400
        assert "The date of the next round must include a month" in bad_date.text
        assert 'href="#next_round_on_month"' in bad_date.text and 'value="4"' in bad_date.text, "what was typed is kept"
        bad_closures = await browser.post(
            details_page,
            data={
                "csrf_token": token,
                "name": "North East 2027",
                "closure_rows": "2",
                **{"closure_0_from_day": "24", "closure_0_from_month": "12", "closure_0_to_day": "1"},
                **{"closure_1_from_day": "5", "closure_1_from_month": "4", "closure_1_from_year": "2027"},
                **{"closure_1_to_day": "1", "closure_1_to_month": "4", "closure_1_to_year": "2027"},
            },
        )
        assert bad_closures.status_code == 400
        assert "The first day of closure 1 must include a year" in bad_closures.text, "not every year: the years are needed"
        assert 'href="#closure_0_from_year"' in bad_closures.text
        assert "Closure 2: the last day must be the same as or after the first day" in bad_closures.text
        assert 'href="#closure_1_to_day"' in bad_closures.text
        assert 'name="closure_1_from_day" type="text" inputmode="numeric" value="5"' in bad_closures.text

        good = await browser.post(
            details_page,
            data={
                "csrf_token": token,
                "name": "North East 2027",
                "team": "the North East patient leader team",
                "contact_person": "Tom Reid",
                "phone": "0191 498 0456",
                "email": "ne.pairing@example.nhs.uk",
                "postal_address": "Patient Leader Programme\r\n1 Example Quay\r\nNewcastle upon Tyne\r\nNE1 3AA",
                "closure_rows": "3",
                **yearly,
                **{"closure_1_from_day": "30", "closure_1_from_month": "8", "closure_1_from_year": "2027"},
                **{"closure_1_to_day": "3", "closure_1_to_month": "9", "closure_1_to_year": "2027"},
                "next_round_on_day": "4",
                "next_round_on_month": "5",
                "next_round_on_year": "2027",
            },
        )
        assert good.status_code == 303, good.text
        programme = await browser.get(good.headers["location"])
    assert "0191 498 0456" in programme.text and "Tom Reid" in programme.text
    assert "24 December to 1 January, every year; 30 August 2027 to 3 September 2027" in programme.text
    assert "4 May 2027" in programme.text
